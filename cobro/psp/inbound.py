"""What every PSP's webhook parser hands to the receiver."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from cobro.domain.payment import PspEvent


class MalformedWebhook(Exception):
    """The body is authentic but not an event we can read (answered 400)."""


@dataclass(frozen=True)
class InboundEvent:
    event: PspEvent
    event_type: str
    # The payment id the PSP echoes back from our metadata, when it supports metadata.
    payment_id_hint: str | None


class NotConfirmedYet(Exception):
    """The PSP has not confirmed the event (or could not be asked): ask again later."""


class ConfirmationDenied(Exception):
    """The PSP's own record contradicts the event: it is never forwarded."""


class Confirmer(Protocol):
    """For PSPs whose notifications are not signed (STP) or carry no state (Mercado Pago): the
    event the workflow may receive, built from the PSP's own answer to a query, never from the
    notification's word."""

    async def confirm(self, raw_body: bytes) -> PspEvent: ...


class SignatureError(Exception):
    """A signed webhook whose signature is missing, malformed, stale or does not match (every
    PSP's verifier raises this one class; the receiver answers 401)."""


class VerifierUnavailable(Exception):
    """The verifier cannot check signatures yet (its key is not available): answered 503."""


class WebhookVerifier(Protocol):
    """Checks one PSP's signed webhook and reads its event (POST /webhooks/{psp}): raises
    SignatureError (401), MalformedWebhook (400) or VerifierUnavailable (503). `headers` have
    lower-case names; `query` is the URL's query string (Mercado Pago signs `data.id`)."""

    async def verify(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> InboundEvent: ...

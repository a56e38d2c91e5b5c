"""What every PSP's webhook parser hands to the receiver."""

from dataclasses import dataclass

from cobro.domain.payment import PspEvent


class MalformedWebhook(Exception):
    """The body is authentic but not an event we can read (answered 400)."""


@dataclass(frozen=True)
class InboundEvent:
    event: PspEvent
    event_type: str
    # The payment id the PSP echoes back from our metadata, when it supports metadata.
    payment_id_hint: str | None

"""Authenticate and read STP's deposit notification ("abono", SendAbono).

STP does not sign these (no implementation found checks a signature; notes/psp-wire.md §3),
so cobro authenticates the channel instead: HTTP Basic auth with a shared secret and an
allowlist of source addresses. Neither proves a deposit happened: the receiver confirms each
one with STP's order query before anything is credited.
"""

import base64
import binascii
import ipaddress
import secrets
from dataclasses import dataclass

from cobro.domain import money
from cobro.psp.inbound import InboundEvent, MalformedWebhook
from cobro.psp.stp import mapping


class ChannelRejected(Exception):
    """The notification did not come through the authenticated channel (401 or 403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StpChannel:
    user: str
    password: str
    allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    empresa: str


def parse_allowlist(
    spec: str,
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """ "127.0.0.1, 10.0.0.0/8" -> networks; raises ValueError naming a bad entry."""
    networks = []
    for entry in (e.strip() for e in spec.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"STP_ALLOWED_IPS: {entry!r} is not an address or network"
                ) from None
    return tuple(networks)


def authenticate(channel: StpChannel, client_host: str | None, authorization: str | None) -> None:
    """The source must be allowlisted (else 403) and Basic auth must match (else 401)."""
    try:
        source = ipaddress.ip_address(client_host or "")
    except ValueError:
        source = None
    if source is None or not any(source in network for network in channel.allowed):
        raise ChannelRejected(403, f"source address {client_host} is not allowed for STP")
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise ChannelRejected(401, "missing Basic credentials")
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ChannelRejected(401, "malformed Basic credentials") from None
    user_ok = secrets.compare_digest(user.encode(), channel.user.encode())
    password_ok = secrets.compare_digest(password.encode(), channel.password.encode())
    if not (sep and user_ok and password_ok):
        raise ChannelRejected(401, "wrong Basic credentials")


def parse(body: bytes, empresa: str) -> tuple[InboundEvent, mapping.Abono]:
    """The abono and the event it becomes; MalformedWebhook (400) when it cannot be read.

    The event's `amount_received` is this deposit alone, unconfirmed; the receiver replaces it
    with the total STP confirms for the CLABE before signalling the workflow."""
    try:
        abono = mapping.abono_from(money.loads(body))
    except ValueError as exc:  # includes JSON errors
        raise MalformedWebhook(f"not an STP abono: {exc}") from exc
    if abono.empresa != empresa:
        raise MalformedWebhook(f"abono for empresa {abono.empresa!r}; this is {empresa!r}")
    event = mapping.deposits_event(
        abono.cuenta_beneficiario, f"stp:{abono.id}", abono.centavos, "abono", abono.settled_at
    )
    return InboundEvent(event=event, event_type="abono", payment_id_hint=None), abono

"""Stripe's webhook signature scheme: what the receiver accepts (401 otherwise) and what the
simulator sends. The expected values are computed here independently, per Stripe's docs:
HMAC-SHA256, hex, of "{t}.{raw body}", keyed by the whole `whsec_...` string."""

import hashlib
import hmac
import time

import pytest

from cobro.psp.inbound import SignatureError
from cobro.psp.stripe import signature
from cobro.psp.stripe.signature import sign, verify

SECRET = "whsec_test_5f2b9c0e7d"
BODY = b'{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}'
T = 1_700_000_000


def stripe_v1(body: bytes, secret: str, t: int) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_sign_then_verify_roundtrip_with_the_current_time() -> None:
    verify(BODY, sign(BODY, SECRET), SECRET)


def test_sign_produces_stripes_header_for_a_known_vector() -> None:
    expected = stripe_v1(BODY, SECRET, T)
    assert sign(BODY, SECRET, T) == f"t={T},v1={expected}"
    # A header built by hand the way Stripe sends it is accepted.
    verify(BODY, f"t={T},v1={expected}", SECRET, now=T)


def test_the_whole_whsec_string_is_the_key() -> None:
    without_prefix = stripe_v1(BODY, SECRET.removeprefix("whsec_"), T)
    with pytest.raises(SignatureError):
        verify(BODY, f"t={T},v1={without_prefix}", SECRET, now=T)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        verify(BODY, sign(BODY, "whsec_someone_else", T), SECRET, now=T)


def test_tampered_body_is_rejected() -> None:
    header = sign(BODY, SECRET, T)
    tampered = BODY.replace(b"succeeded", b"canceled")
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        verify(tampered, header, SECRET, now=T)


def test_tampered_timestamp_is_rejected() -> None:
    v1 = stripe_v1(BODY, SECRET, T)
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        verify(BODY, f"t={T + 1},v1={v1}", SECRET, now=T)


@pytest.mark.parametrize("age_s", [0, 299, 300, -300])
def test_timestamp_within_300_s_is_accepted(age_s: int) -> None:
    verify(BODY, sign(BODY, SECRET, T), SECRET, now=T + age_s)


@pytest.mark.parametrize(
    "age_s",
    [301, 3600, -301, -3600],
    ids=["301s-old", "1h-old", "301s-in-future", "1h-in-future"],
)
def test_timestamp_beyond_300_s_either_way_is_rejected(age_s: int) -> None:
    # Correctly signed: only the timestamp is wrong.
    header = sign(BODY, SECRET, T)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(BODY, header, SECRET, now=T + age_s)


def test_default_tolerance_is_300_s_against_the_clock() -> None:
    assert signature.DEFAULT_TOLERANCE_S == 300
    stale = int(time.time()) - 400
    with pytest.raises(SignatureError, match="tolerance"):
        verify(BODY, sign(BODY, SECRET, stale), SECRET)


def test_several_v1_entries_any_matching_one_is_accepted() -> None:
    # While a secret rotates Stripe signs with both; here only the second one matches.
    old = stripe_v1(BODY, "whsec_old_secret", T)
    new = stripe_v1(BODY, SECRET, T)
    verify(BODY, f"t={T},v1={old},v1={new}", SECRET, now=T)
    with pytest.raises(SignatureError):
        verify(BODY, f"t={T},v1={old},v1={old}", SECRET, now=T)


def test_only_v1_counts_not_v0() -> None:
    v0 = stripe_v1(BODY, SECRET, T)  # a valid HMAC, but under a scheme Stripe does not use
    with pytest.raises(SignatureError):
        verify(BODY, f"t={T},v0={v0}", SECRET, now=T)


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header_is_rejected(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify(BODY, header, SECRET, now=T)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"v1={stripe_v1(BODY, SECRET, T)}",  # no t=
        f"t={T}",  # no v1=
        f"t=yesterday,v1={stripe_v1(BODY, SECRET, T)}",
        f"t={T};v1={stripe_v1(BODY, SECRET, T)}",
        "t=,v1=",
    ],
    ids=["garbage", "no-t", "no-v1", "t-not-a-number", "wrong-separator", "empty-values"],
)
def test_malformed_header_is_rejected(header: str) -> None:
    with pytest.raises(SignatureError):
        verify(BODY, header, SECRET, now=T)

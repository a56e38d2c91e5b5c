"""MoonPay's `Moonpay-Signature-V2` header: what the receiver accepts (401 otherwise) and what
the simulator sends. Expected values are computed here independently, per dev.moonpay.com:
`t=<unix>,s=<hex>`, `s` the lowercase hex HMAC-SHA256 of "{t}.{raw body}" keyed with the
webhook API key."""

import hashlib
import hmac
import time

import pytest

from cobro.psp.inbound import SignatureError
from cobro.psp.moonpay import signature
from cobro.psp.moonpay.signature import sign, verify

KEY = "wk_test_5f2b9c0e7d"
BODY = b'{"id":"evt_1","type":"transaction_updated","data":{"id":"tr_1","status":"completed"}}'
T = 1_700_000_000


def moonpay_s(body: bytes, key: str, t: int) -> str:
    return hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_a_header_made_as_moonpay_documents_it_verifies() -> None:
    expected = moonpay_s(BODY, KEY, T)
    assert expected == expected.lower() and len(expected) == 64
    assert sign(BODY, KEY, T) == f"t={T},s={expected}"
    verify(BODY, f"t={T},s={expected}", KEY, now=T)
    verify(BODY, f"s={expected}, t={T}", KEY, now=T)  # order and spaces do not matter


def test_sign_then_verify_with_the_current_time() -> None:
    verify(BODY, sign(BODY, KEY), KEY)


def test_forged_with_another_key_is_rejected() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(BODY, sign(BODY, "wk_test_someone_else", T), KEY, now=T)


def test_a_tampered_body_or_timestamp_is_rejected() -> None:
    header = sign(BODY, KEY, T)
    with pytest.raises(SignatureError, match="does not match"):
        verify(BODY.replace(b"completed", b"failed"), header, KEY, now=T)
    with pytest.raises(SignatureError, match="does not match"):
        verify(BODY, f"t={T + 1},s={moonpay_s(BODY, KEY, T)}", KEY, now=T)


def test_the_raw_body_counts_not_its_json_meaning() -> None:
    reserialised = b'{"id": "evt_1", "type": "transaction_updated", "data": {"id": "tr_1", '
    reserialised += b'"status": "completed"}}'
    with pytest.raises(SignatureError):
        verify(reserialised, sign(BODY, KEY, T), KEY, now=T)


@pytest.mark.parametrize("age_s", [0, 299, 300, -300])
def test_within_300_s_is_accepted(age_s: int) -> None:
    verify(BODY, sign(BODY, KEY, T), KEY, now=T + age_s)


@pytest.mark.parametrize("age_s", [301, 3600, -301, -3600])
def test_stale_or_future_timestamps_are_rejected(age_s: int) -> None:
    with pytest.raises(SignatureError, match="tolerance"):
        verify(BODY, sign(BODY, KEY, T), KEY, now=T + age_s)


def test_default_tolerance_is_300_s_against_the_clock() -> None:
    assert signature.DEFAULT_TOLERANCE_S == 300
    with pytest.raises(SignatureError, match="tolerance"):
        verify(BODY, sign(BODY, KEY, int(time.time()) - 400), KEY)


def test_after_re_keying_only_the_new_key_verifies() -> None:
    new_key = "wk_test_rotated_a81c"
    old_header, new_header = sign(BODY, KEY, T), sign(BODY, new_key, T)
    verify(BODY, new_header, new_key, now=T)
    with pytest.raises(SignatureError):
        verify(BODY, old_header, new_key, now=T)  # signed with the old key
    with pytest.raises(SignatureError):
        verify(BODY, new_header, KEY, now=T)  # a receiver still on the old key


def test_the_legacy_header_scheme_name_is_not_v2() -> None:
    # `v1=` (Stripe's name) is not MoonPay's `s=`, even with a valid HMAC.
    with pytest.raises(SignatureError, match="needs t= and s="):
        verify(BODY, f"t={T},v1={moonpay_s(BODY, KEY, T)}", KEY, now=T)


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_header_is_rejected(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify(BODY, header, KEY, now=T)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"s={moonpay_s(BODY, KEY, T)}",
        f"t={T}",
        f"t=yesterday,s={moonpay_s(BODY, KEY, T)}",
        f"t={T};s={moonpay_s(BODY, KEY, T)}",
        "t=,s=",
        f"t={T},s={moonpay_s(BODY, KEY, T).upper()}",
        f"t={T},s=é{moonpay_s(BODY, KEY, T)[1:]}",
    ],
    ids=["garbage", "no-t", "no-s", "t-not-a-number", "wrong-separator", "empty", "upper", "utf8"],
)
def test_malformed_headers_are_rejected(header: str) -> None:
    with pytest.raises(SignatureError):
        verify(BODY, header, KEY, now=T)

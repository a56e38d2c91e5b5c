"""The payload codec (cobro/payload_codec.py) through the data converter every cobro process uses:
what it writes is ciphertext that names its key, it opens only with that key and unaltered, a
newer key takes over encryption while older payloads still open, and payloads written before
encryption pass through unchanged."""

import base64
import json

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from cobro.data_converter import converter_for
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import Customer, PaymentInput, Timings
from cobro.payload_codec import ENCODING, KEY_ID, EncryptionCodec, PayloadDecryptError
from cobro.payload_keys import KeyRing, parse_keys

K1 = bytes(range(32))
K2 = bytes(range(32, 64))
RING1 = KeyRing((("k1", K1),))
RING12 = RING1.with_key("k2", K2)

CUSTOMER = Customer(name="Ana López", email="ana@example.mx")


def payment() -> PaymentInput:
    return PaymentInput(
        payment_id="pay_codec",
        merchant_id="mer_codec",
        amount=25_000,
        currency="MXN",
        method=PaymentMethod.OXXO,
        psps=["stripe"],
        customer=CUSTOMER,
        expires_in=86_400,
        timings=Timings(),
        late_payment_policy="refund",
        history_version=2,
    )


def assert_no_customer(payload: Payload) -> None:
    raw = payload.SerializeToString()
    for secret in ("Ana", "ana@example.mx", "L\u00f3pez"):
        assert secret.encode() not in raw
        assert secret.encode() not in base64.b64decode(base64.b64encode(raw))


async def test_a_payment_input_round_trips_and_is_ciphertext_naming_its_key() -> None:
    converter = converter_for(RING1)
    [encoded] = await converter.encode([payment()])
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata[KEY_ID] == b"k1"
    assert set(encoded.metadata) == {"encoding", KEY_ID}  # the inner "json/plain" is hidden
    assert_no_customer(encoded)
    [decoded] = await converter.decode([encoded], [PaymentInput])
    assert decoded == payment()


async def test_the_same_value_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec(RING1)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')
    first, second = await codec.encode([plain, plain])
    assert first.data != second.data  # a fresh nonce per payload
    assert first.data[:12] != second.data[:12]


async def test_an_altered_payload_is_refused() -> None:
    codec = EncryptionCodec(RING1)
    [encoded] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    for position in (0, 12, len(encoded.data) - 1):  # nonce, ciphertext, tag
        tampered = Payload()
        tampered.CopyFrom(encoded)
        flipped = bytearray(encoded.data)
        flipped[position] ^= 0x01
        tampered.data = bytes(flipped)
        with pytest.raises(PayloadDecryptError, match="does not authenticate"):
            await codec.decode([tampered])
    truncated = Payload()
    truncated.CopyFrom(encoded)
    truncated.data = encoded.data[:10]
    with pytest.raises(PayloadDecryptError):
        await codec.decode([truncated])


async def test_a_wrong_or_unknown_key_is_refused_by_name() -> None:
    [encoded] = await EncryptionCodec(RING1).encode([Payload(data=b"1")])
    same_id_other_key = EncryptionCodec(KeyRing((("k1", K2),)))
    with pytest.raises(PayloadDecryptError, match="'k1' does not authenticate"):
        await same_id_other_key.decode([encoded])
    only_k2 = EncryptionCodec(KeyRing((("k2", K2),)))
    with pytest.raises(PayloadDecryptError, match=r"key 'k1', which .* holds \['k2'\]"):
        await only_k2.decode([encoded])
    # Relabeling the ciphertext with another key id that exists does not open it either.
    relabeled = Payload()
    relabeled.CopyFrom(encoded)
    relabeled.metadata[KEY_ID] = b"k2"
    with pytest.raises(PayloadDecryptError):
        await EncryptionCodec(RING12).decode([relabeled])


async def test_plain_payloads_pass_through_unchanged() -> None:
    """Recorded histories (tests/histories) and payments started before encryption."""
    plain = converter_for(RING1).payload_converter.to_payloads([payment()])[0]
    [decoded] = await EncryptionCodec(RING1).decode([plain])
    assert decoded == plain
    [value] = await converter_for(RING1).decode([plain], [PaymentInput])
    assert value == payment()


async def test_a_newer_key_encrypts_and_older_payloads_still_open() -> None:
    [old] = await converter_for(RING1).encode([payment()])
    rotated = converter_for(RING12)
    [new] = await rotated.encode([payment()])
    assert (old.metadata[KEY_ID], new.metadata[KEY_ID]) == (b"k1", b"k2")
    assert await rotated.decode([old, new], [PaymentInput, PaymentInput]) == [payment()] * 2
    # Without k1 the old payload stays closed: the ring really is what opens it.
    with pytest.raises(PayloadDecryptError):
        await converter_for(KeyRing((("k2", K2),))).decode([old], [PaymentInput])


async def test_failure_messages_are_encrypted_too() -> None:
    """A PSP's error text may quote the customer; the failure's message travels encrypted."""
    converter = converter_for(RING1)
    failure = Failure()
    error = ApplicationError("invalid email ana@example.mx", type="PspValidation")
    await converter.encode_failure(error, failure)
    assert b"ana@example.mx" not in failure.SerializeToString()
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    restored = await converter.decode_failure(failure)
    assert "ana@example.mx" in str(restored)


def test_a_ring_prints_no_key() -> None:
    ring = parse_keys(f"k1:{base64.b64encode(K1).decode()}")
    assert base64.b64encode(K1).decode() not in repr(ring) + str(ring)
    assert json.dumps(ring.ids) == '["k1"]'

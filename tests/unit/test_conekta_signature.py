"""Conekta's DIGEST header: RSA-SHA256 (PKCS#1 v1.5) of the raw body, base64."""

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cobro.psp.conekta.signature import sign, verify
from cobro.psp.inbound import SignatureError

BODY = b'{"id":"5f0c","type":"order.paid","data":{"object":{"id":"ord_1"}}}'


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


KEY = _key()


def test_a_signature_made_as_conekta_documents_it_verifies() -> None:
    # Computed here with the primitives, independently of cobro's sign().
    digest = base64.b64encode(KEY.sign(BODY, padding.PKCS1v15(), hashes.SHA256())).decode()
    verify(BODY, digest, _public_pem(KEY))
    assert sign(BODY, KEY) == digest  # PKCS#1 v1.5 is deterministic


@pytest.mark.parametrize(
    ("body", "digest", "why"),
    [
        (BODY + b" ", sign(BODY, KEY), "does not match"),
        (BODY, sign(BODY, _key()), "does not match"),  # forged with another key
        (BODY, None, "missing"),
        (BODY, "", "missing"),
        (BODY, "not base64!", "base64"),
    ],
)
def test_bad_digests_are_rejected(body: bytes, digest: str | None, why: str) -> None:
    with pytest.raises(SignatureError, match=why):
        verify(body, digest, _public_pem(KEY))


def test_after_re_keying_the_old_public_key_no_longer_verifies() -> None:
    new_key = _key()
    digest = sign(BODY, new_key)
    verify(BODY, digest, _public_pem(new_key))
    with pytest.raises(SignatureError):
        verify(BODY, digest, _public_pem(KEY))

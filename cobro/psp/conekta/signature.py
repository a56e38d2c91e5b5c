"""Conekta's webhook signature: the `DIGEST` header is Conekta's RSA signature (PKCS#1 v1.5,
SHA-256) of the raw body, base64-encoded, checked with the public key from POST /webhook_keys
(developers.conekta.com "Verificar firmas"). The simulator signs with the private key."""

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cobro.psp.inbound import SignatureError as SignatureError  # the one shared class


def sign(body: bytes, private_key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(body: bytes, digest: str | None, public_key_pem: str) -> None:
    if not digest:
        raise SignatureError("missing DIGEST header")
    try:
        signature = base64.b64decode(digest, validate=True)
    except binascii.Error:
        raise SignatureError("DIGEST is not base64") from None
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("the configured Conekta webhook key is not an RSA public key")
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureError("DIGEST does not match the body") from None

"""STP's `firma`: RSA-SHA256 (PKCS#1 v1.5), base64, over a pipe-delimited "cadena original".

STP checks it on every request of its SPEI services with the certificate the company registered,
and refuses the request without it (`{"resultado": {"id": 0, "descripcionError": "Error
validando la firma"}}`). Each service signs its own fields in STP's fixed order, empty where a
field is not sent, wrapped in `||...||` (stpmex.zendesk.com "Firmas Electrónicas", as the
reference client stpmex-python builds them; tests/unit/test_stp_firma.py holds our firmas to
byte-equality with that client's):

- registraOrden: the 34 ORDEN_FIELDS below; a number with decimals (`monto`, `iva`) is written
  with exactly 2 of them.
- consultaOrden (efws): `||empresa|claveRastreo|tipoOrden|fechaOperacion||`.
- conciliacion (efws V2): `||empresa|tipoOrden|fechaOperacion||` (the page is not signed).
"""

import base64
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ORDEN_FIELDS = (
    "institucionContraparte",
    "empresa",
    "fechaOperacion",
    "folioOrigen",
    "claveRastreo",
    "institucionOperante",
    "monto",
    "tipoPago",
    "tipoCuentaOrdenante",
    "nombreOrdenante",
    "cuentaOrdenante",
    "rfcCurpOrdenante",
    "tipoCuentaBeneficiario",
    "nombreBeneficiario",
    "cuentaBeneficiario",
    "rfcCurpBeneficiario",
    "emailBeneficiario",
    "tipoCuentaBeneficiario2",
    "nombreBeneficiario2",
    "cuentaBeneficiario2",
    "rfcCurpBeneficiario2",
    "conceptoPago",
    "conceptoPago2",
    "claveCatUsuario1",
    "claveCatUsuario2",
    "clavePago",
    "referenciaCobranza",
    "referenciaNumerica",
    "tipoOperacion",
    "topologia",
    "usuario",
    "medioEntrega",
    "prioridad",
    "iva",
)


class KeyUnusable(ValueError):
    """The private key cannot be loaded (wrong passphrase, not a PEM RSA key)."""


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float | Decimal):
        return f"{value:.2f}"
    return str(value)


def cadena_orden(orden: dict[str, Any]) -> str:
    """registraOrden's cadena original, from the fields as sent (JSON numbers as read)."""
    return "||" + "|".join(_text(orden.get(name)) for name in ORDEN_FIELDS) + "||"


def cadena_consulta_orden(consulta: dict[str, Any]) -> str:
    fields = ("empresa", "claveRastreo", "tipoOrden", "fechaOperacion")
    return "||" + "|".join(_text(consulta.get(name)) for name in fields) + "||"


def cadena_conciliacion(consulta: dict[str, Any]) -> str:
    fields = ("empresa", "tipoOrden", "fechaOperacion")
    return "||" + "|".join(_text(consulta.get(name)) for name in fields) + "||"


class Signer:
    """Signs cadenas with the company's private key, loaded once."""

    def __init__(self, private_key_pem: bytes, passphrase: str) -> None:
        try:
            key = serialization.load_pem_private_key(
                private_key_pem, passphrase.encode() if passphrase else None
            )
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyUnusable(f"STP private key cannot be loaded: {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyUnusable("STP private key must be an RSA key")
        self._key = key

    def sign(self, cadena: str) -> str:
        signature = self._key.sign(cadena.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")


def load_signer(pem: str, path: Path | None, passphrase: str) -> Signer:
    """The signer for the PEM file at STP_PRIVATE_KEY_PATH, else STP_PRIVATE_KEY (PEM text)."""
    data = path.read_bytes() if path is not None else pem.encode()
    if not data:
        raise KeyUnusable("no STP private key configured")
    return Signer(data, passphrase)


def dev_signer() -> Signer:
    """The simulator's development key (cobro/psp/stp/config.py)."""
    from cobro.psp.stp import config

    return Signer(config.SIMULATOR_STP_PRIVATE_KEY.encode(), config.SIMULATOR_STP_KEY_PASSPHRASE)


def verify(public_key_pem: str, cadena: str, firma: object) -> bool:
    """Whether `firma` is the key's signature of `cadena` (what STP checks)."""
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, rsa.RSAPublicKey) or not isinstance(firma, str) or not firma:
        return False
    try:
        signature = base64.b64decode(firma, validate=True)
        key.verify(signature, cadena.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True

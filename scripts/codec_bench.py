"""What the payload codec costs per payload: a typical PaymentInput through the data converter
with and without encryption, and the codec's encrypt/decrypt alone. One process, one core.

    .venv/bin/python -m scripts.codec_bench [--n 20000]
"""

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from temporalio.contrib.pydantic import pydantic_data_converter

from cobro.data_converter import converter_for
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import Customer, PaymentInput, Timings
from cobro.payload_codec import EncryptionCodec
from cobro.payload_keys import new_key_entry, parse_keys


def typical_payment() -> PaymentInput:
    """An OXXO payment as the API starts it, with a customer, description and metadata."""
    return PaymentInput(
        payment_id="pay_0123456789abcdef01234567",
        merchant_id="mer_0123456789abcdef01234567",
        amount=25_000,
        currency="MXN",
        method=PaymentMethod.OXXO,
        psps=["stripe", "conekta"],
        customer=Customer(name="Ana López Hernández", email="ana.lopez@example.mx"),
        description="Order 1042",
        metadata={"order_id": "1042", "channel": "web"},
        expires_in=259_200,
        timings=Timings(),
        late_payment_policy="refund",
        history_version=2,
    )


async def per_op_us(n: int, op: Callable[[], Awaitable[object]]) -> float:
    for _ in range(min(n, 500)):  # warm-up
        await op()
    started = time.perf_counter()
    for _ in range(n):
        await op()
    return (time.perf_counter() - started) / n * 1e6


async def main(n: int) -> dict[str, float]:
    ring = parse_keys(new_key_entry("bench"))
    plain, encrypted = pydantic_data_converter, converter_for(ring)
    codec = EncryptionCodec(ring)
    value = typical_payment()
    [plain_payload] = await plain.encode([value])
    [sealed_payload] = await encrypted.encode([value])

    results = {
        "payload_bytes_plain": float(plain_payload.ByteSize()),
        "payload_bytes_encrypted": float(sealed_payload.ByteSize()),
        "encode_us_plain": await per_op_us(n, lambda: plain.encode([value])),
        "encode_us_encrypted": await per_op_us(n, lambda: encrypted.encode([value])),
        "decode_us_plain": await per_op_us(
            n, lambda: plain.decode([plain_payload], [PaymentInput])
        ),
        "decode_us_encrypted": await per_op_us(
            n, lambda: encrypted.decode([sealed_payload], [PaymentInput])
        ),
        "codec_encrypt_us": await per_op_us(n, lambda: codec.encode([plain_payload])),
        "codec_decrypt_us": await per_op_us(n, lambda: codec.decode([sealed_payload])),
    }
    return {name: round(v, 2) for name, v in results.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    print(json.dumps(asyncio.run(main(parser.parse_args().n)), indent=2))

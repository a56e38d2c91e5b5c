"""COBRO_PAYLOAD_KEYS: its format, its errors (which never echo key material), the dev key and
codec token kept in the data dir, and live mode refusing to start without keys."""

import base64
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cobro.data_converter import payload_key_ring
from cobro.payload_keys import (
    KEYS_FILE,
    codec_token,
    key_ring,
    new_key_entry,
    parse_keys,
    read_or_create,
)
from cobro.settings import Settings

K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.urlsafe_b64encode(b"\xfb" * 32).decode()  # URL-safe alphabet ("-", "_") accepted


def test_the_last_key_encrypts_and_the_format_round_trips() -> None:
    ring = parse_keys(f" k1:{K1} , k2:{K2} ")
    assert ring.ids == ["k1", "k2"] and ring.encrypting_id == "k2"
    assert dict(ring.keys) == {"k1": b"1" * 32, "k2": b"\xfb" * 32}
    assert parse_keys(ring.format()) == ring
    assert parse_keys(new_key_entry("fresh")).ids == ["fresh"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "holds no key"),
        (K1, "entry 1 is not `id:base64key`"),
        (f"k1:{K1},bad id:{K1}", "entry 2 is not"),
        (f"k1:{base64.b64encode(b'short').decode()}", "'k1' is 5 bytes; AES-256 needs 32"),
        ("k1:not*base64!", "'k1' is not valid base64"),
        (f"k1:{K1},k1:{K2}", "unique"),
    ],
)
def test_a_malformed_value_is_refused_without_echoing_keys(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error) as refused:
        parse_keys(text)
    assert K1 not in str(refused.value) and K2 not in str(refused.value)


def test_settings_refuse_a_malformed_value_at_startup() -> None:
    with pytest.raises(ValueError, match="'k1' is 5 bytes") as refused:
        Settings(cobro_payload_keys=f"k1:{base64.b64encode(b'short').decode()}")
    assert base64.b64encode(b"short").decode() not in str(refused.value)


def test_live_mode_refuses_to_start_without_payload_keys() -> None:
    live = {"COBRO_PSP_MODE": "live", "COBRO_PSPS": "stripe", "COBRO_SECRET_KEY": "k"}
    live |= {"STRIPE_API_KEY": "a", "STRIPE_WEBHOOK_SECRET": "b"}
    with pytest.raises(ValueError, match="COBRO_PSP_MODE=live needs COBRO_PAYLOAD_KEYS"):
        Settings.model_validate(live)
    settings = Settings.model_validate({**live, "COBRO_PAYLOAD_KEYS": f"k1:{K1}"})
    assert payload_key_ring(settings).ids == ["k1"]
    with pytest.raises(ValueError, match="COBRO_CODEC_TOKEN"):
        codec_token("", Path("/nonexistent"), live=True)


def test_the_dev_key_is_made_once_and_reused(tmp_path: Path) -> None:
    settings = Settings(cobro_data_dir=tmp_path)
    first = payload_key_ring(settings)
    assert first.ids == ["dev1"]
    assert payload_key_ring(Settings(cobro_data_dir=tmp_path)) == first
    path = tmp_path / KEYS_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert parse_keys(path.read_text()) == first
    # COBRO_PAYLOAD_KEYS replaces it.
    assert key_ring(f"k9:{K1}", tmp_path, live=False).ids == ["k9"]
    token = codec_token("", tmp_path, live=False)
    assert len(token) >= 40 and codec_token("", tmp_path, live=False) == token
    assert codec_token("given", tmp_path, live=False) == "given"


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "data" / KEYS_FILE
    with ThreadPoolExecutor(8) as pool:
        seen = set(pool.map(lambda i: read_or_create(path, f"candidate-{i}"), range(32)))
    assert len(seen) == 1
    assert [p.name for p in path.parent.iterdir()] == [KEYS_FILE]  # no temporary left

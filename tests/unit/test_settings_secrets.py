"""Secrets in Settings are pydantic SecretStr: read from the same environment names as before,
read back with .get_secret_value(), and never shown by repr() or str() of the settings
(a traceback, a log line or a debugger printing them shows `**********`)."""

import base64
from typing import Any

import pytest
from pydantic import SecretStr

from cobro.settings import Settings

# Env name -> field, for every secret Settings holds.
SECRETS = {
    "STRIPE_API_KEY": "stripe_api_key",
    "STRIPE_WEBHOOK_SECRET": "stripe_webhook_secret",
    "CONEKTA_API_KEY": "conekta_api_key",
    "STP_WEBHOOK_PASSWORD": "stp_webhook_password",
    "STP_PRIVATE_KEY": "stp_private_key",  # the PEM text of the key STP's firma is made with
    "STP_KEY_PASSPHRASE": "stp_key_passphrase",
    "MOONPAY_API_KEY": "moonpay_api_key",
    "MOONPAY_WEBHOOK_KEY": "moonpay_webhook_key",
    "MERCADOPAGO_ACCESS_TOKEN": "mercadopago_access_token",
    "MERCADOPAGO_WEBHOOK_SECRET": "mercadopago_webhook_secret",
    "COBRO_SECRET_KEY": "cobro_secret_key",
    "COBRO_DEMO_API_KEY": "cobro_demo_api_key",
    "DATABASE_URL": "database_url",  # may carry the database password
    "COBRO_PAYLOAD_KEYS": "cobro_payload_keys",
    "COBRO_CODEC_TOKEN": "cobro_codec_token",
}
# What live mode needs besides the secrets.
LIVE_NON_SECRETS: dict[str, Any] = {
    "conekta_webhook_public_key": "pem",
    "stp_empresa": "COBRO",
    "stp_clabe_prefix": "1234",
    "stp_webhook_user": "stp",
    "stp_allowed_ips": "10.0.0.1",
    "moonpay_publishable_key": "pk_live_x",  # the widget URL's apiKey: public by design
}


def _value(field: str) -> str:
    if field == "database_url":
        return "postgresql+asyncpg://cobro:db-password-do-not-print@db/cobro"
    if field == "cobro_payload_keys":  # must parse: `id:base64 of 32 bytes`
        return "do-not-print:" + base64.b64encode(b"k" * 32).decode()
    return f"{field}-do-not-print"


def test_every_secret_field_is_a_secret_str_and_no_other_is() -> None:
    secret_fields = {
        name for name, info in Settings.model_fields.items() if info.annotation is SecretStr
    }
    assert secret_fields == set(SECRETS.values())


@pytest.mark.parametrize("mode", ["simulator", "live"])
def test_repr_and_str_show_no_secret(mode: str) -> None:
    values: dict[str, Any] = {field: _value(field) for field in SECRETS.values()}
    settings = Settings(cobro_psp_mode=mode, **LIVE_NON_SECRETS, **values)
    shown = repr(settings) + str(settings)
    assert "do-not-print" not in shown
    for field, value in values.items():
        assert getattr(settings, field).get_secret_value() == value
        assert value not in shown, f"{field} shows in repr(settings)"
        assert f"{field}=SecretStr('**********')" in repr(settings)


def test_simulator_defaults_are_hidden_too() -> None:
    settings = Settings(cobro_psp_mode="simulator")
    shown = repr(settings)
    for field in SECRETS.values():
        value = getattr(settings, field).get_secret_value()
        if value:  # database_url is empty unless set (the embedded server)
            assert value not in shown, f"{field} shows in repr(settings)"


@pytest.mark.parametrize(("env", "field"), sorted(SECRETS.items()))
def test_each_secret_is_read_from_its_environment_name(
    env: str, field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env, _value(field))
    assert getattr(Settings(), field).get_secret_value() == _value(field)


def test_live_mode_still_requires_the_secrets_of_each_psp() -> None:
    with pytest.raises(ValueError, match="STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET"):
        Settings(cobro_psp_mode="live", cobro_psps="stripe", cobro_secret_key="k")
    with pytest.raises(ValueError, match="COBRO_SECRET_KEY"):
        Settings(
            cobro_psp_mode="live",
            cobro_psps="stripe",
            stripe_api_key="a",
            stripe_webhook_secret="b",
        )


def test_a_settings_error_shows_no_secret() -> None:
    with pytest.raises(ValueError, match="COBRO_SECRET_KEY") as error:
        Settings(cobro_psp_mode="live", cobro_psps="moonpay", moonpay_api_key="sk_live_secret")
    assert "sk_live_secret" not in str(error.value)


def test_live_stp_needs_its_signing_key_and_passphrase(tmp_path: Any) -> None:
    values: dict[str, Any] = {field: _value(field) for field in SECRETS.values()}
    del values["stp_private_key"], values["stp_key_passphrase"]
    with pytest.raises(ValueError, match="needs STP_KEY_PASSPHRASE"):
        Settings(cobro_psp_mode="live", **LIVE_NON_SECRETS, **values)
    with pytest.raises(ValueError, match="needs STP_PRIVATE_KEY or STP_PRIVATE_KEY_PATH"):
        Settings(cobro_psp_mode="live", **LIVE_NON_SECRETS, **values, stp_key_passphrase="p")
    # Without STP among the PSPs, its key is not needed.
    Settings(cobro_psp_mode="live", cobro_psps="stripe", **LIVE_NON_SECRETS, **values)
    pem = tmp_path / "stp.pem"
    pem.write_text("a PEM file")
    settings = Settings(
        cobro_psp_mode="live",
        **LIVE_NON_SECRETS,
        **values,
        stp_private_key_path=pem,
        stp_key_passphrase="passphrase",
    )
    assert settings.stp_private_key_path == pem and not settings.stp_private_key
    # Simulator mode signs with the development key the simulator knows.
    simulated = Settings(cobro_psp_mode="simulator")
    assert "BEGIN ENCRYPTED PRIVATE KEY" in simulated.stp_private_key.get_secret_value()

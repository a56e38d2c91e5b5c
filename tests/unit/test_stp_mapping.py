"""STP's formats in cobro's terms: pesos -> exact centavos, the CLABE cobro issues per payment,
the 7-digit numeric reference, and the abono fields STP posts."""

import json
from decimal import Decimal

import pytest
from clabe import validate_clabe

from cobro.psp.inbound import MalformedWebhook
from cobro.psp.stp import mapping, webhooks
from cobro.psp.stp.adapter import clave_rastreo_for

PREFIX = "4321"


@pytest.mark.parametrize(
    ("monto", "centavos"),
    [
        (Decimal("0.29"), 29),  # float: 0.29 * 100 = 28.999999999999996
        (Decimal("0.1"), 10),
        (Decimal("1.10"), 110),
        (Decimal("250"), 25_000),
        (Decimal("250.00"), 25_000),
        (Decimal("1234567.89"), 123_456_789),
        (Decimal("100.100"), 10_010),  # trailing zeros are still whole centavos
        (250, 25_000),
        ("19.99", 1_999),
    ],
)
def test_monto_in_pesos_is_exact_centavos(monto: object, centavos: int) -> None:
    assert mapping.monto_to_centavos(monto) == centavos


@pytest.mark.parametrize(
    "monto",
    [Decimal("0.001"), Decimal("10.255"), 0, Decimal("-1"), True, None, 0.29, "abc", "NaN"],
)
def test_anything_but_whole_centavos_is_refused(monto: object) -> None:
    with pytest.raises(ValueError):
        mapping.monto_to_centavos(monto)


def test_monto_read_from_json_never_goes_through_float() -> None:
    body = b'{"monto": 0.29}'
    assert mapping.monto_to_centavos(json.loads(body, parse_float=Decimal)["monto"]) == 29
    # ...and what cobro writes is read back exactly.
    for centavos in (1, 29, 110, 25_000, 123_456_789, 9_999_999_999):
        wire = json.dumps({"monto": mapping.centavos_to_monto(centavos)})
        assert mapping.monto_to_centavos(json.loads(wire, parse_float=Decimal)["monto"]) == (
            centavos
        )


def test_the_clabe_is_stps_valid_and_deterministic_per_payment() -> None:
    clabe = mapping.clabe_for(PREFIX, "pay_0123456789abcdef01234567")
    assert len(clabe) == 18 and clabe.isdigit()
    assert clabe.startswith("646180" + PREFIX)  # STP bank 646, plaza 180, company prefix
    assert validate_clabe(clabe)
    # A retried create derives the very same CLABE.
    assert mapping.clabe_for(PREFIX, "pay_0123456789abcdef01234567") == clabe


def test_clabes_differ_per_payment_and_per_candidate() -> None:
    ids = [f"pay_{i:024x}" for i in range(2_000)]
    clabes = [mapping.clabe_for(PREFIX, payment_id) for payment_id in ids]
    assert len(set(clabes)) == len(clabes)
    assert all(validate_clabe(c) for c in clabes)
    # On a collision the adapter moves to the next candidate: all distinct and valid too.
    candidates = [mapping.clabe_for(PREFIX, ids[0], attempt) for attempt in range(20)]
    assert len(set(candidates)) == 20 and all(validate_clabe(c) for c in candidates)


def test_the_prefix_must_be_4_digits() -> None:
    for prefix in ("123", "12345", "12a4"):
        with pytest.raises(ValueError):
            mapping.clabe_for(prefix, "pay_x")


def test_referencia_numerica_has_7_digits() -> None:
    for i in range(1_000):
        ref = mapping.referencia_numerica(f"pay_{i:024x}")
        assert 1_000_000 <= ref <= 9_999_999 and len(str(ref)) == 7
    assert mapping.referencia_numerica("pay_a") == mapping.referencia_numerica("pay_a")


def test_a_refund_clave_rastreo_is_alphanumeric_and_short() -> None:
    clave = clave_rastreo_for("re_0123456789abcdef01234567")
    assert clave == "RE0123456789ABCDEF01234567" and clave.isalnum() and len(clave) <= 30


ABONO = {
    "id": 7717041,
    "fechaOperacion": 20240617,
    "institucionOrdenante": 40012,
    "institucionBeneficiaria": 90646,
    "claveRastreo": "MBAN01002406170000123456",
    "monto": 1234.56,
    "nombreOrdenante": "Ana López",
    "tipoCuentaOrdenante": 40,
    "cuentaOrdenante": "012180015555555557",
    "rfcCurpOrdenante": "ND",
    "nombreBeneficiario": "Cobro Pagos SA de CV",
    "tipoCuentaBeneficiario": 40,
    "cuentaBeneficiario": "646180432100000003",
    "conceptoPago": "Pago pedido 1042",
    "referenciaNumerica": 1234567,
    "empresa": "COBRO",
    "tipoPago": 1,
    "tsLiquidacion": "1718640000123",
}


def test_an_abono_in_stps_field_format_becomes_a_deposits_event() -> None:
    inbound, abono = webhooks.parse(json.dumps(ABONO).encode(), "COBRO")
    assert abono.centavos == 123_456 and abono.cuenta_ordenante == "012180015555555557"
    event = inbound.event
    assert (event.psp, event.event_id, event.kind) == ("stp", "stp:7717041", "deposits")
    assert event.psp_reference == "646180432100000003" and event.amount_received == 123_456
    assert event.occurred_at.timestamp() == 1718640000.123


@pytest.mark.parametrize(
    "change",
    [
        {"monto": 10.255},
        {"monto": "diez"},
        {"monto": -5},
        {"id": "abc"},
        {"cuentaBeneficiario": None},
        {"tsLiquidacion": "yesterday"},
        {"empresa": "OTRA"},
    ],
)
def test_a_bad_abono_is_malformed(change: dict[str, object]) -> None:
    with pytest.raises(MalformedWebhook):
        webhooks.parse(json.dumps({**ABONO, **change}).encode(), "COBRO")
    with pytest.raises(MalformedWebhook):
        webhooks.parse(b"{not json", "COBRO")


def test_the_channel_needs_an_allowed_source_and_the_basic_credentials() -> None:
    channel = webhooks.StpChannel(
        "stp", "secret", webhooks.parse_allowlist("127.0.0.1, 10.0.0.0/8"), "COBRO"
    )
    good = "Basic c3RwOnNlY3JldA=="  # stp:secret
    webhooks.authenticate(channel, "127.0.0.1", good)
    webhooks.authenticate(channel, "10.20.30.40", good)
    for host, auth, status in [
        ("192.168.1.1", good, 403),
        (None, good, 403),
        ("127.0.0.1", None, 401),
        ("127.0.0.1", "Basic c3RwOndyb25n", 401),  # stp:wrong
        ("127.0.0.1", "Bearer c3RwOnNlY3JldA==", 401),
        ("127.0.0.1", "Basic ###", 401),
    ]:
        with pytest.raises(webhooks.ChannelRejected) as caught:
            webhooks.authenticate(channel, host, auth)
        assert caught.value.status == status


def test_stp_settings_default_in_simulator_mode_and_are_required_live() -> None:
    from cobro.settings import Settings

    simulated = Settings.model_validate({"COBRO_PSP_MODE": "simulator"})
    assert "stp" in simulated.enabled_psps
    assert simulated.stp_webhook_user and simulated.stp_webhook_password
    assert simulated.stp_allowed_ips == "127.0.0.1" and simulated.stp_unmatched_rule == "hold"
    with pytest.raises(ValueError, match="STP_WEBHOOK_PASSWORD"):
        Settings.model_validate(
            {"COBRO_PSP_MODE": "live", "COBRO_PSPS": "stp", "COBRO_SECRET_KEY": "k"}
        )
    with pytest.raises(ValueError, match="STP_CLABE_PREFIX must be 4 digits"):
        Settings.model_validate({"STP_CLABE_PREFIX": "12345"})
    with pytest.raises(ValueError, match="STP_ALLOWED_IPS"):
        Settings.model_validate({"STP_ALLOWED_IPS": "127.0.0.1,not-an-ip"})

"""One connector folder per PSP, registered once (issue 15): everything outside
cobro/psp/<name>/ takes its PSPs from the registry (cobro/psp/connectors.py), so a new PSP needs
its folder, its simulator, its tests and one registry line."""

import ast
from pathlib import Path

import httpx
import pytest

from api.metrics import WEBHOOK_PSPS
from api.routes.webhooks import RECEIVERS
from cobro.domain.methods import PaymentMethod as M
from cobro.domain.payment import Customer
from cobro.domain.routing import CAPABILITIES, DEFAULT_ROUTES
from cobro.psp.connector import Connector
from cobro.psp.connectors import BY_NAME, CONNECTORS
from cobro.psp.registry import build_adapters, build_confirmers, build_deposit_claimers
from cobro.psp.settings_section import PspSection
from cobro.psp.wiring import Wiring
from cobro.reconciliation.matching import LATE_REFUNDS_ON_REFERENCE
from cobro.reconciliation.readers import report_readers
from cobro.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PSP_DIR = ROOT / "cobro" / "psp"
NAMES = [c.name for c in CONNECTORS]
# Where a PSP's name may still appear as a string outside its folder, and why. (Tests, the
# simulator and bench are not scanned: they drive particular PSPs on purpose.)
ALLOWED = {
    # STP's unsigned deposit notifications answer in STP's own format at their own route;
    # signed webhooks of any other PSP go through /webhooks/{psp} with no code here.
    "api/routes/stp_webhooks.py",
}


def test_every_connector_folder_is_registered_once_under_its_own_name() -> None:
    folders = sorted(p.parent.name for p in PSP_DIR.glob("*/__init__.py"))
    assert sorted(NAMES) == folders
    assert len(set(NAMES)) == len(NAMES)
    for connector in CONNECTORS:
        assert isinstance(connector, Connector)
        assert type(connector).__module__ == "cobro.psp.connector"
        assert issubclass(connector.settings, PspSection)
        assert connector.settings.__module__ == f"cobro.psp.{connector.name}.config"
        assert isinstance(connector.wiring(), Wiring)  # its I/O half loads


# The default routes before there were connectors: registering keeps them (a PSP added later
# comes after these).
ROUTES_BEFORE = {
    M.OXXO: ["stripe", "conekta"],
    M.SPEI: ["stripe", "conekta", "stp"],
    M.CRYPTO: ["moonpay"],
}


def test_default_routes_follow_the_registration_order() -> None:
    assert list(CAPABILITIES) == NAMES
    assert DEFAULT_ROUTES == {
        method: takers
        for method in M
        if (takers := [c.name for c in CONNECTORS if method in c.capability.limits])
    }
    first = {"stripe", "conekta", "stp", "moonpay"}
    assert {m: [n for n in names if n in first] for m, names in DEFAULT_ROUTES.items()} == (
        ROUTES_BEFORE
    )


def test_the_wiring_takes_its_psps_from_the_registry() -> None:
    with_verifier = {c.name for c in CONNECTORS if c.wiring().webhook_verifier is not None}
    assert set(RECEIVERS) == with_verifier
    assert frozenset(NAMES) == WEBHOOK_PSPS
    assert {c.name for c in CONNECTORS if c.capability.late_refunds_on_reference} == (
        LATE_REFUNDS_ON_REFERENCE
    )
    settings = Settings(cobro_psp_mode="simulator")
    assert settings.enabled_psps == frozenset(NAMES)  # COBRO_PSPS defaults to every connector
    http = httpx.AsyncClient()
    assert list(build_adapters(settings, http)) == NAMES
    assert list(report_readers(settings, http)) == NAMES
    assert set(build_confirmers(settings, http)) == {
        c.name for c in CONNECTORS if c.wiring().confirmer is not None
    }
    assert set(build_deposit_claimers(settings, http)) == {
        c.name for c in CONNECTORS if c.capability.accepts_deposit_claims
    }
    one = Settings(cobro_psp_mode="simulator", cobro_psps=NAMES[-1])
    assert list(build_adapters(one, http)) == list(report_readers(one, http)) == [NAMES[-1]]


def test_settings_take_each_connectors_section() -> None:
    for connector in CONNECTORS:
        assert issubclass(Settings, connector.settings)
        for field in connector.settings.SIMULATOR_DEFAULTS:
            assert field in connector.settings.model_fields
        for env in connector.settings.LIVE_REQUIRED:
            assert env.lower() in connector.settings.model_fields
    with pytest.raises(ValueError, match="unknown PSPs"):
        Settings(cobro_psps="nopsp")


def _psp_strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in BY_NAME
    ]


def test_no_psp_name_is_spelled_outside_its_connector_folder() -> None:
    found = []
    for top in ("api", "activities", "cobro", "worker", "workflows"):
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative.parts[:2] == ("cobro", "psp") and relative.parts[2] in BY_NAME:
                continue  # the connector's own folder
            if relative.as_posix() not in ALLOWED:
                found += _psp_strings(path)
    assert found == [], "branch on the connector's capability or wiring instead"


def test_the_scan_finds_a_psp_name() -> None:
    assert _psp_strings(ROOT / "api" / "routes" / "stp_webhooks.py")


def test_what_a_connector_needs_of_a_customer_is_a_customer_field() -> None:
    """Routing reads `needs_customer` as Customer attributes: a misspelt one would skip the
    PSP for every payment (or crash routing), so each must be a field of the model."""
    for connector in CONNECTORS:
        assert connector.capability.needs_customer <= set(Customer.model_fields), connector.name
    assert BY_NAME["conekta"].capability.needs_customer == {"email", "phone"}

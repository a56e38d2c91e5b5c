"""`make screenshots`: PNGs of the Temporal Web UI for README.md's ops runbook.

Starts its own stack the way the tests do (tests/stack.py, free 127.0.0.1 ports, a temporary
folder), creates a merchant whose late money is held for ops and a few payments (one waiting at
OXXO, one succeeded, two SPEI payments paid after they expired: late money held), then drives
Debian's headless Chromium (tests/e2e/browser.py) and writes docs/screenshots/:

- late-money-held.png: the workflow list filtered by `PaymentFlags = 'late_payment_held'`,
  saved as the view "Late money held";
- payment-summary.png: one of those payments, User Metadata tab: summary and current details;
- send-update.png: its "Send an Update" dialog filled in with `ops_resolve_late_payment`
  (then submitted, and the refund checked through the API).

    .venv/bin/python -m scripts.screenshots [--out docs/screenshots]
"""

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
from playwright.async_api import Page, expect
from temporalio.client import Client

from cobro.db import merchants_repo
from cobro.db.session import make_engine, make_sessionmaker
from cobro.domain.ids import workflow_id
from cobro.settings import Settings
from cobro.temporal_client import connect
from tests.e2e.browser import (
    CURRENT_DETAILS_FRAME,
    ROW,
    SUMMARY_FRAME,
    chromium,
    new_page,
    workflow_url,
    workflows_url,
)
from tests.stack import CobroProcesses, Servers

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
LATE_QUERY = "PaymentFlags = 'late_payment_held'"
CUSTOMER = {"name": "Ana López", "email": "ana@example.mx", "phone": "5512345678"}
RESOLVE = {
    "operator": "lucia@ops",
    "reason": "customer asked for the money back",
    "action": "refund",
}


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


async def new_merchant(settings: Settings) -> tuple[str, str]:
    engine = make_engine(settings)
    api_key = merchants_repo.new_api_key()
    try:
        async with make_sessionmaker(engine).begin() as session:
            merchant_id = await merchants_repo.create_merchant(
                session, "Tacos Doña Mary", api_key, late_payment_policy="hold"
            )
    finally:
        await engine.dispose()
    return merchant_id, api_key


async def create(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(
        "/v1/payments",
        json={"currency": "MXN", "customer": CUSTOMER, "metadata": {}, **body},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    response.raise_for_status()
    payment: dict[str, Any] = response.json()
    return payment


async def wait_for(check: Any, what: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.3)
    raise TimeoutError(f"{what} did not happen within {timeout_s} s")


async def field_of(api: httpx.AsyncClient, payment_id: str, name: str) -> object:
    payment: dict[str, object] = (await api.get(f"/v1/payments/{payment_id}")).json()
    return payment[name]


async def late_payment(api: httpx.AsyncClient, sim: httpx.AsyncClient, amount: int) -> str:
    """A SPEI payment that expires, then is paid: the late money is held for ops."""
    payment = await create(
        api, {"amount": amount, "method": "spei", "description": "Pedido 2207", "expires_in": 1}
    )

    async def expired() -> bool:
        return await field_of(api, payment["id"], "status") == "expired"

    await wait_for(expired, f"{payment['id']} expired")
    (
        await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    ).raise_for_status()
    return str(payment["id"])


async def make_payments(cobro: CobroProcesses, api_key: str, client: Client) -> list[str]:
    """The payments in the screenshots; the ids of those with late money held."""
    headers = {"Authorization": f"Bearer {api_key}"}
    async with (
        httpx.AsyncClient(base_url=cobro.api_url, headers=headers, timeout=30) as api,
        httpx.AsyncClient(base_url=cobro.sim_url, timeout=30) as sim,
    ):
        await create(api, {"amount": 25_000, "method": "oxxo", "description": "Pedido 2201"})
        paid = await create(api, {"amount": 48_900, "method": "oxxo", "description": "Pedido 2204"})
        await sim.post("/_sim/pay", json={"psp_reference": paid["psp_reference"]})
        late = list(
            await asyncio.gather(late_payment(api, sim, 125_050), late_payment(api, sim, 32_000))
        )

    async def all_held() -> bool:
        return (await client.count_workflows(LATE_QUERY)).count == len(late)

    await wait_for(all_held, "late money held on every late payment")
    return late


async def list_of_late_money(page: Page, ui_url: str, path: Path, late: list[str]) -> None:
    await page.goto(workflows_url(ui_url, LATE_QUERY))
    for payment_id in late:
        await expect(page.locator(ROW).filter(has_text=workflow_id(payment_id))).to_be_visible()
    await expect(page.locator(ROW)).to_have_count(len(late))
    # Saved as a named view, as ops would keep it.
    await page.get_by_test_id("create-view-button").click()
    await page.get_by_test_id("workflow-save-view-modal-input").fill("Late money held")
    await page.locator("#workflow-save-view-modal").get_by_role("button", name="Save").click()
    await expect(page.get_by_test_id("saved-views-bar")).to_contain_text("Late money held")
    await page.mouse.move(0, 0)
    await page.screenshot(path=path)


async def payment_summary(page: Page, ui_url: str, path: Path, payment_id: str) -> None:
    await page.goto(workflow_url(ui_url, workflow_id(payment_id)))
    await page.get_by_test_id("user-metadata-tab").click()
    await expect(page.frame_locator(SUMMARY_FRAME).get_by_text("1,250.50 MXN")).to_be_visible()
    current_details = page.frame_locator(CURRENT_DETAILS_FRAME)
    await expect(current_details.get_by_text("open for late payments")).to_be_visible()
    await page.screenshot(path=path)


async def send_update(page: Page, ui_url: str, path: Path, payment_id: str) -> None:
    """The dialog filled in, screenshotted, then submitted: the held money is refunded."""
    await page.goto(workflow_url(ui_url, workflow_id(payment_id)))
    await page.get_by_role("button", name="More Actions").click()
    await page.get_by_role("menuitem", name="Send an Update").click()
    # The page holds two copies of its dialogs (one per layout): take the open one.
    dialog = page.locator('dialog[open][data-testid="update-confirmation-modal"]')
    await dialog.get_by_test_id("update-select-button").click()
    await dialog.get_by_role("option", name="ops_resolve_late_payment").click()
    editor = dialog.get_by_role("textbox", name="Data")
    await editor.click()
    # One insert, as a paste would be (typing key by key, the editor closes brackets itself).
    await page.keyboard.insert_text(json.dumps(RESOLVE, indent=2))
    submit = dialog.get_by_test_id("confirm-modal-button")
    await expect(submit).to_be_enabled()
    await page.screenshot(path=path)
    await submit.click()
    await expect(dialog).to_be_hidden()


async def shoot(servers: Servers, cobro: CobroProcesses, out: Path) -> None:
    settings = Settings(
        database_url=servers.database_url,
        temporal_address=servers.temporal_address,
        cobro_data_dir=servers.root / "data",
    )
    merchant_id, api_key = await new_merchant(settings)
    client = await connect(settings)
    say("creating payments: waiting, succeeded, and two paid after expiry (late money held)")
    late = await make_payments(cobro, api_key, client)
    say(f"taking screenshots with headless Chromium into {out}")
    async with chromium() as browser, new_page(browser) as page:
        await list_of_late_money(page, servers.temporal_ui_url, out / "late-money-held.png", late)
        await payment_summary(page, servers.temporal_ui_url, out / "payment-summary.png", late[0])
        await send_update(page, servers.temporal_ui_url, out / "send-update.png", late[0])

    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=cobro.api_url, headers=headers) as api:

        async def refunded() -> bool:
            return await field_of(api, late[0], "amount_refunded") == 125_050

        await wait_for(refunded, "the refund sent from the Web UI")
    say(f"the update sent from the Web UI refunded {late[0]} (merchant {merchant_id})")


def reap_children() -> None:
    """Stop any child of this process still running (e.g. PostgreSQL when Servers.start failed
    after starting it): only processes this script started, each by its pid."""
    children = psutil.Process().children()
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=15)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="scripts.screenshots", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs")
    parser.add_argument("--keep", action="store_true", help="keep the stack's folder and logs")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="cobro-screenshots-"))
    servers: Servers | None = None
    cobro: CobroProcesses | None = None
    try:
        say("starting PostgreSQL, the Temporal dev server and cobro's processes")
        servers = Servers.start(root)
        cobro = CobroProcesses.start(servers)
        args.out.mkdir(parents=True, exist_ok=True)
        asyncio.run(shoot(servers, cobro, args.out))
    finally:
        if cobro is not None:
            cobro.stop()
        if servers is not None:
            servers.stop()
        reap_children()
        if args.keep:
            say(f"stack folder and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    for png in sorted(args.out.glob("*.png")):
        print(f"{png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}")


if __name__ == "__main__":
    main()

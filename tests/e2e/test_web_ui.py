"""Ops in the Temporal Web UI (README "Ops runbook"): a real headless Chromium against the dev
server's UI finds a payment with a `PaymentStatus` search and reads its summary."""

import re

import httpx
from playwright.async_api import Page, expect
from temporalio.client import Client

from cobro.domain.ids import workflow_id
from tests.e2e.browser import ROW, SUMMARY_FRAME, chromium, new_page, workflow_url, workflows_url
from tests.e2e.helpers import OXXO_BODY, create, wait_for_status, wait_until
from tests.stack import Servers


async def _visible_to(client: Client, query: str) -> None:
    """Visibility is eventually consistent: wait until the server's search agrees, so what the
    UI shows (or must not show) is settled."""

    async def counted() -> bool:
        return (await client.count_workflows(query)).count == 1

    await wait_until(counted, f"visibility of {query}", timeout_s=20)


async def _rows(page: Page) -> list[str]:
    """Workflow ids in the list, from the link in each row's Workflow ID column."""
    links = page.locator(ROW).get_by_role("link", name=re.compile(r"^payment-"))
    ids = await links.all_inner_texts()
    return sorted({text.strip() for text in ids})


async def test_ops_find_a_payment_by_status_and_read_its_summary(
    servers: Servers,
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    merchant: tuple[str, str],
    temporal_client: Client,
) -> None:
    merchant_id = merchant[0]
    waiting = (await create(api, OXXO_BODY)).json()
    paid = (await create(api, {**OXXO_BODY, "amount": 12_345})).json()
    await sim.post("/_sim/pay", json={"psp_reference": paid["psp_reference"]})
    await wait_for_status(api, paid["id"], "succeeded")
    waiting_wf, paid_wf = workflow_id(waiting["id"]), workflow_id(paid["id"])
    await _visible_to(
        temporal_client, f"WorkflowId = '{waiting_wf}' AND PaymentStatus = 'awaiting_payment'"
    )
    await _visible_to(temporal_client, f"WorkflowId = '{paid_wf}' AND PaymentStatus = 'succeeded'")

    async with chromium() as browser, new_page(browser) as page:
        # The runbook's "one merchant's open payments" search, as a bookmarkable URL.
        query = f"MerchantId = '{merchant_id}' AND PaymentStatus = 'awaiting_payment'"
        await page.goto(workflows_url(servers.temporal_ui_url, query))
        row = page.locator(ROW).filter(has_text=waiting_wf)
        await expect(row).to_be_visible()
        await expect(row.get_by_test_id("execution-status")).to_have_text("Running")
        assert await _rows(page) == [waiting_wf]  # the succeeded payment is not listed

        # Its own status finds the other one (so the filter above really filtered).
        await page.goto(
            workflows_url(servers.temporal_ui_url, query.replace("awaiting_payment", "succeeded"))
        )
        await expect(page.locator(ROW).filter(has_text=paid_wf)).to_be_visible()
        assert await _rows(page) == [paid_wf]

        # Click through from the list to the payment, as ops would.
        await page.goto(workflows_url(servers.temporal_ui_url, query))
        await page.locator(ROW).get_by_role("link", name=waiting_wf).first.click()
        await expect(page.get_by_test_id("workflow-id-heading")).to_contain_text(waiting_wf)
        await page.get_by_test_id("user-metadata-tab").click()
        summary = f"250.00 MXN by oxxo via stripe for {merchant_id}"
        await expect(page.frame_locator(SUMMARY_FRAME).get_by_text(summary)).to_be_visible()

        # Straight to the other payment by its id: its own summary, not the first one's.
        await page.goto(workflow_url(servers.temporal_ui_url, paid_wf))
        await page.get_by_test_id("user-metadata-tab").click()
        frame = page.frame_locator(SUMMARY_FRAME)
        await expect(
            frame.get_by_text(f"123.45 MXN by oxxo via stripe for {merchant_id}")
        ).to_be_visible()
        await expect(frame.get_by_text(summary)).to_have_count(0)

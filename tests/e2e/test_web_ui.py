"""Ops in the Temporal Web UI (README "Ops runbook"): a real headless Chromium against the dev
server's UI finds a payment with a `PaymentStatus` search and reads its summary."""

import base64
import json
import re
import uuid
from collections.abc import Awaitable, Callable

import httpx
from playwright.async_api import Page, expect
from temporalio.client import Client

from cobro.domain.ids import workflow_id
from tests.e2e.browser import ROW, SUMMARY_FRAME, chromium, new_page, workflow_url, workflows_url
from tests.e2e.helpers import OXXO_BODY, create, wait_for_status, wait_until
from tests.stack import CobroProcesses, Servers


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


async def test_ops_read_a_payment_decoded_through_the_codec_server(
    servers: Servers, cobro: CobroProcesses, api: httpx.AsyncClient, temporal_client: Client
) -> None:
    """The dev server's UI was started with `--ui-codec-endpoint` (tests/stack.py, as `make
    run` does): it decodes the encrypted history through `cobro codec-server`. Pointed at the
    same server with a wrong token, the UI gets 401s and shows no customer."""
    name = f"Renata Codec {uuid.uuid4().hex[:6]}"
    body = {**OXXO_BODY, "customer": {"name": name, "email": "renata@example.mx"}}
    payment = (await create(api, body)).json()
    handle = temporal_client.get_workflow_handle(workflow_id(payment["id"]))
    started = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes
    ciphertext = base64.b64encode(started.input.payloads[0].data).decode()[:40]
    url = workflow_url(servers.temporal_ui_url, handle.id)
    wrong = {
        "endpoint": json.dumps(f"{cobro.codec_url}/token/not-the-token"),
        "overrideRemoteCodecConfiguration": "true",  # the UI's own codec settings, per browser
    }

    async with chromium() as browser:
        async with new_page(browser) as page:
            answers = _codec_answers(page, cobro.codec_url)
            await page.goto(url)
            await expect(page.get_by_text(name).first).to_be_visible()
            assert answers and set(answers) == {200}, answers

        async with new_page(browser, local_storage=wrong) as page:
            answers = _codec_answers(page, cobro.codec_url)
            await page.goto(url)
            # The input is shown as it is stored: ciphertext, and no name anywhere.
            await expect(page.get_by_text(ciphertext).first).to_be_visible()
            await wait_until(_async(lambda: 401 in answers), "the codec server's 401")
            await expect(page.get_by_text(name)).to_have_count(0)
            assert set(answers) == {401}, answers


def _codec_answers(page: Page, codec_url: str) -> list[int]:
    """Status of every answer the page gets from the codec server, as they arrive."""
    answers: list[int] = []
    page.on(
        "response",
        lambda r: (
            answers.append(r.status)
            if r.url.startswith(codec_url) and r.request.method == "POST"
            else None
        ),
    )
    return answers


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return check()

    return run

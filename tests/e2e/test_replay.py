"""Long-lived payment workflows must stay replay-safe: histories recorded from earlier versions
(tests/histories/*.json) and fresh ones from this run replay without nondeterminism.

Record a new one after a change to PaymentWorkflow that is meant to be compatible: the
payment's `fetch_history().to_json()` with every payload decrypted by the payload codec alone
(`data_converter(settings).payload_codec`), so that it replays under any key. Not through the
codec server (`temporal workflow show --codec-endpoint`): it also opens the sealed customer
details, which then no longer parse as `PaymentInput.private`.
"""

from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from cobro.data_converter import converter_for, data_converter
from cobro.payload_keys import new_key_entry, parse_keys
from cobro.settings import Settings
from tests.e2e.helpers import OXXO_BODY, SPEI_BODY, create, wait_for_status
from workflows.payment import PaymentWorkflow

HISTORIES = {
    p.stem: p.read_text()
    for p in sorted((Path(__file__).parent.parent / "histories").glob("*.json"))
}


def _replayer(converter: DataConverter) -> Replayer:
    return Replayer(workflows=[PaymentWorkflow], data_converter=converter)


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_recorded_histories_replay(name: str) -> None:
    # Recorded before payloads were encrypted: the codec passes plain payloads through, with
    # whatever keys it holds.
    converter = converter_for(parse_keys(new_key_entry()))
    await _replayer(converter).replay_workflow(WorkflowHistory.from_json(name, HISTORIES[name]))


async def test_fresh_histories_replay(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, temporal_client: Client, settings: Settings
) -> None:
    paid = (await create(api, SPEI_BODY)).json()
    await sim.post("/_sim/pay", json={"psp_reference": paid["psp_reference"], "amount": 10_000})
    await sim.post("/_sim/pay", json={"psp_reference": paid["psp_reference"]})
    await wait_for_status(api, paid["id"], "succeeded")
    await api.post(
        f"/v1/payments/{paid['id']}/refunds",
        json={"amount": 1_000},
        headers={"Idempotency-Key": "replay-refund"},
    )
    canceled = (await create(api, OXXO_BODY)).json()
    await api.post(f"/v1/payments/{canceled['id']}/cancel")

    for payment_id in (paid["id"], canceled["id"]):
        handle = temporal_client.get_workflow_handle(f"payment-{payment_id}")
        history = await handle.fetch_history()
        await _replayer(data_converter(settings)).replay_workflow(history)

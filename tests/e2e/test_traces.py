"""Traces: one payment is one connected trace, from the API request through update-with-start,
the workflow, its local activity and the PSP's HTTP call; the PSP's webhook is its own trace
(the PSP starts it), through the signal, linked from the workflow's handling of that signal to
the decision it recorded. Spans reach a local OTLP receiver (tests/otlp.py) as they would a
collector: protobuf over HTTP, from the API and worker processes."""

from collections import Counter

import httpx

from tests.e2e.helpers import OXXO_BODY, create, wait_for_status, wait_until
from tests.otlp import Receiver, Span


def _of_trace(receiver: Receiver, trace_id: str) -> list[Span]:
    return [s for s in receiver.snapshot() if s.trace_id == trace_id]


def _one(spans: list[Span], name: str) -> Span:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, Counter(s.name for s in spans))
    return found[0]


def _assert_connected(spans: list[Span]) -> None:
    """One root; every other span's parent is in the trace."""
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if not s.parent_id]
    assert len(roots) == 1, [(s.service, s.name) for s in roots]
    orphans = [(s.service, s.name) for s in spans if s.parent_id and s.parent_id not in ids]
    assert orphans == [], orphans


async def test_a_payment_is_one_connected_trace(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, otlp: Receiver
) -> None:
    response = await create(api, OXXO_BODY)
    assert response.status_code == 201, response.text
    payment = response.json()
    workflow_id = f"payment-{payment['id']}"

    def create_request() -> Span | None:
        return next(
            (
                s
                for s in otlp.snapshot()
                if s.name == "StartUpdateWithStartWorkflow:PaymentWorkflow"
                and s.attributes.get("temporalWorkflowID") == workflow_id
            ),
            None,
        )

    async def found_create() -> Span | None:
        return create_request()

    start = await wait_until(found_create, "the API's update-with-start span", 10)
    trace_id = start.trace_id

    async def psp_called() -> list[Span] | None:
        spans = _of_trace(otlp, trace_id)
        names = {s.name for s in spans}
        return spans if {"RunActivity:create_charge", "POST"} <= names else None

    spans = await wait_until(psp_called, "the worker's spans of the charge creation", 10)
    by_name = {s.name: s for s in spans}
    request = _one(spans, "POST /v1/payments")
    assert request.service == "cobro-api" and not request.parent_id  # the trace's root
    assert start.service == "cobro-api" and start.parent_id == request.span_id
    run = _one(spans, "RunWorkflow:PaymentWorkflow")
    assert run.service == "cobro-worker" and run.parent_id == start.span_id
    assert run.attributes["temporalWorkflowID"] == workflow_id
    assert by_name["HandleUpdate:create"].parent_id == start.span_id
    local = [s for s in spans if s.name == "StartActivity:create_charge"]
    assert local and all(s.parent_id == start.span_id for s in local)
    activity = _one(spans, "RunActivity:create_charge")
    assert activity.service == "cobro-worker"
    assert activity.parent_id in {s.span_id for s in local}
    psp_call = _one(spans, "POST")  # httpx: the PSP's HTTP call, made by the activity
    assert psp_call.service == "cobro-worker" and psp_call.parent_id == activity.span_id
    assert "/stripe/v1/payment_intents" in psp_call.attributes.get("url.full", "") + (
        psp_call.attributes.get("http.url", "")
    )

    # The customer pays: the simulator (as Stripe) sends its webhook, a trace of its own.
    paid = await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    assert paid.status_code == 200, paid.text
    await wait_for_status(api, payment["id"], "succeeded")

    async def decision_recorded() -> list[Span] | None:
        spans = _of_trace(otlp, trace_id)
        handled = [s for s in spans if s.name == "HandleSignal:psp_event"]
        recorded = [s for s in spans if s.name == "RunActivity:record_transitions"]
        return spans if handled and len(recorded) >= 2 else None

    spans = await wait_until(decision_recorded, "the workflow's spans of the webhook", 10)
    handled = _one(spans, "HandleSignal:psp_event")
    assert handled.parent_id == start.span_id
    (link_trace, link_span), *_ = handled.links

    async def webhook_exported() -> list[Span] | None:  # the API exports on its own schedule
        spans = _of_trace(otlp, link_trace)
        names = {s.name for s in spans}
        return spans if {"POST /webhooks/{psp}", "SignalWorkflow:psp_event"} <= names else None

    webhook = await wait_until(webhook_exported, "the API's spans of the webhook", 10)
    signal = next(s for s in webhook if s.span_id == link_span)
    assert signal.name == "SignalWorkflow:psp_event" and signal.service == "cobro-api"
    assert signal.attributes["temporalWorkflowID"] == workflow_id
    receive = _one(webhook, "POST /webhooks/{psp}")
    assert signal.parent_id == receive.span_id and not receive.parent_id
    _assert_connected(webhook)

    # The whole payment, creation to success, is one trace with every parent in it.
    _assert_connected(spans)
    assert {s.service for s in spans} == {"cobro-api", "cobro-worker"}
    print("\npayment trace:", sorted(Counter(s.name for s in spans).items()))
    print("webhook trace:", sorted(Counter(s.name for s in webhook).items()))

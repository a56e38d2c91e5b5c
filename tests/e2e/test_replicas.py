"""Two API processes and two workers on the same task queues serve one stack (one Temporal, one
PostgreSQL, one PSP simulator), and lose one of each to a kill -9 in the middle of a steady load.

The test is the merchant: it creates payments on both APIs in turn, and a request the killed API
cannot answer is sent again, with its Idempotency-Key, to the surviving one (tests/e2e/
failover.py). The customers pay through the simulator, whose signed webhooks reach the APIs
through a load balancer, as a PSP's would. Then every payment is checked against the simulator's
ledger (`GET /_sim/charges`) with bench/chaos_check.py: each ends in the status its plan says,
with exactly one PSP charge; none lost, none doubled.

What N replicas share and must stay safe with: the webhook inbox (one API sweeps at a time; a
webhook stored by the killed API is forwarded by the survivor's sweep), API keys and rate limits
(checked in PostgreSQL on every request: a new merchant's key works on both at once), the
reconciliation schedule (each worker ensures it at start: one schedule)."""

import asyncio
import json
import signal
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from bench.chaos_check import Order, OrderSpec, Tally, create_until_ok, make_orders, pay, settle
from cobro.settings import Settings
from cobro.temporal_client import connect
from tests.e2e.failover import Balancer, Failover
from tests.e2e.helpers import run_cli
from tests.stack import CobroProcesses, Servers
from workflows.reconciliation import SCHEDULE_ID

REPLICAS = 2
RATE = 5.0  # payments created per second, steadily
LOAD_S = 14.0
KILL_AT_S = 5.0
SHORT = 8  # seconds: the SPEI payments left to expire, on timers that outlive the killed worker
MIX = (
    OrderSpec("oxxo", None, "pay", 3 * 86_400),  # Stripe
    OrderSpec("spei", None, "pay", 3_600),  # Stripe
    OrderSpec("oxxo", "conekta", "pay", 3 * 86_400),
    OrderSpec("spei", "stp", "pay", 3_600),  # the API's forwarder asks STP to confirm
    OrderSpec("spei", None, "expire", SHORT),
)


@pytest.fixture(scope="module")
def own_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Its own Temporal and PostgreSQL: the shared test stack's worker must not take this test's
    tasks (it would call another simulator)."""
    started = Servers.start(tmp_path_factory.mktemp("replicas"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
async def balancer() -> AsyncIterator[Balancer]:
    lb = Balancer()
    yield lb
    await lb.stop()


@pytest.fixture(scope="module")
async def replicas(own_servers: Servers, balancer: Balancer) -> AsyncIterator[CobroProcesses]:
    webhooks_url = await balancer.start()
    stack = CobroProcesses.start(
        own_servers,
        {"COBRO_WEBHOOK_BASE_URL": webhooks_url},
        apis=REPLICAS,
        workers=REPLICAS,
    )
    balancer.backends = [httpx.URL(url).port or 80 for url in stack.api_urls]
    yield stack
    stack.stop()


async def _steady_load(
    stack: CobroProcesses,
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    orders: list[Order],
    balancer: Balancer,
) -> tuple[Tally, float, int]:
    """Create (and pay) one order every 1/RATE s; kill -9 one API and one worker at KILL_AT_S.
    Returns the API's answers, when the kill happened (seconds into the load) and how many PSP
    webhook connections the kill cut (open to the killed API through the load balancer)."""
    tally = Tally()
    killed_at = -1.0
    cut = 0

    async def one(order: Order) -> None:
        if await create_until_ok(api, order, tally, give_up_s=45):
            await pay(api, sim, order)

    started = time.monotonic()
    running = []
    for i, order in enumerate(orders):
        await asyncio.sleep(max(0.0, started + i / RATE - time.monotonic()))
        if killed_at < 0 and time.monotonic() - started >= KILL_AT_S:
            cut = balancer.open[httpx.URL(stack.api_urls[0]).port or 80]
            stack.kill("api")
            stack.kill("worker")
            killed_at = time.monotonic() - started
        running.append(asyncio.create_task(one(order)))
    await asyncio.gather(*running)
    return tally, killed_at, cut


async def test_two_apis_and_two_workers_lose_one_of_each_and_nothing_is_lost_or_doubled(
    replicas: CobroProcesses, balancer: Balancer, own_servers: Servers
) -> None:
    started = time.monotonic()
    merchant = json.loads((await run_cli(replicas.env, "merchant", "create", "Replica shop"))[0])
    failover = Failover(replicas.api_urls)
    orders = make_orders(int(LOAD_S * RATE), MIX)
    async with (
        httpx.AsyncClient(
            base_url="http://apis",
            transport=failover,
            headers={"Authorization": f"Bearer {merchant['api_key']}"},
            timeout=30,
        ) as api,
        httpx.AsyncClient(base_url=replicas.sim_url, timeout=30) as sim,
    ):
        tally, killed_at, cut = await _steady_load(replicas, api, sim, orders, balancer)
        report = await settle(api, sim, orders, deadline_s=45, fresh_stack=True)
        ledger = (await sim.get("/_sim/charges")).json()["data"]

    # Both kills were real: the API and the worker died of SIGKILL mid-load, the others lived.
    exits = {name: proc.poll() for name, proc in replicas.procs.items()}
    assert exits == {
        "worker": -signal.SIGKILL,
        "worker-2": None,
        "simulator": None,
        "api": -signal.SIGKILL,
        "api-2": None,
        "codec-server": None,
    }, exits
    assert 0 < killed_at < LOAD_S
    assert failover.retried, "no request to the killed API was sent on to the surviving one"
    # The PSP keeps its webhook connections open (keep-alive), so the kill either cuts the ones
    # open to the killed API or refuses new ones at the load balancer; either way it met them.
    assert cut or balancer.refused, "no webhook met the killed API at the load balancer"

    assert not report.no_id, report.describe()
    assert (report.count("lost"), report.count("doubled"), report.count("wrong")) == (0, 0, 0), (
        report.describe()
    )
    planned = Counter("expired" if o.spec.plan == "expire" else "succeeded" for o in orders)
    assert report.statuses == planned, (report.statuses, report.describe())
    assert not [o.errors for o in orders if o.errors], [o.errors for o in orders if o.errors]
    charges: defaultdict[str, list[str]] = defaultdict(list)
    for charge in ledger:
        charges[charge.get("idempotency_key") or ""].append(charge["id"])
    per_payment = Counter(len(charges[f"cobro-payment-{o.payment_id}"]) for o in orders)
    assert per_payment == {1: len(orders)}, f"PSP charges per payment: {per_payment}"

    # Each worker ensured the reconciliation schedule at start: one schedule, both workers up.
    client = await connect(Settings(temporal_address=own_servers.temporal_address))
    schedule = await client.get_schedule_handle(SCHEDULE_ID).describe()
    assert schedule.id == SCHEDULE_ID

    elapsed = time.monotonic() - started
    summary = (
        f"{len(orders)} payments ({dict(report.statuses)}), kill -9 of api and worker at "
        f"{killed_at:.1f} s, lost {report.count('lost')}, doubled {report.count('doubled')}, "
        f"wrong {report.count('wrong')}; requests sent on to the surviving API "
        f"{sum(failover.retried.values())}, webhooks the balancer sent past the dead API "
        f"{sum(balancer.refused.values())}; API answers {dict(tally.responses)}; {elapsed:.0f} s"
    )
    print(summary)  # shown with -s: the figures the README quotes

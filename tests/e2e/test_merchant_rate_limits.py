"""Per-merchant rate limits across two API processes (tests/e2e/api_pair.py: every merchant may
create 3 at once then one every 20 s, and read 30 at once then 2 a second): the merchant's
requests alternate between the processes, and the limit holds for their sum; past it, 429
problem+json with Retry-After, and nothing is created. Another merchant is unaffected; a
merchant's own limits, set with `cobro merchant limits`, apply from its next request."""

import asyncio
import json
import time
import uuid

import httpx

from tests.e2e.api_pair import api_pair
from tests.e2e.helpers import OXXO_BODY, run_cli
from tests.e2e.test_api_errors import assert_problem
from tests.stack import CobroProcesses

__all__ = ["api_pair"]  # the fixture, imported for this module's tests


def _clients(pair: CobroProcesses, key: str) -> list[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {key}"}
    return [httpx.AsyncClient(base_url=url, headers=headers, timeout=30) for url in pair.api_urls]


async def _create(api: httpx.AsyncClient) -> httpx.Response:
    return await api.post(
        "/v1/payments", json=OXXO_BODY, headers={"Idempotency-Key": str(uuid.uuid4())}
    )


def _assert_limited(response: httpx.Response, kind: str, at_most_s: int) -> int:
    assert_problem(response, 429, kind, "retry in")
    assert response.json()["type"] == "urn:cobro:problem:rate-limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= at_most_s, retry_after
    return retry_after


async def test_creates_past_the_burst_are_429_on_both_processes_and_others_go_on(
    api_pair: CobroProcesses, merchant: tuple[str, str], other_merchant: tuple[str, str]
) -> None:
    first, second = _clients(api_pair, merchant[1])
    theirs = _clients(api_pair, other_merchant[1])
    async with first, second, theirs[0], theirs[1]:
        made = [await _create(api) for api in (first, second, first)]  # the burst: 3
        assert [r.status_code for r in made] == [201, 201, 201], [r.text for r in made]
        for api in (second, first):  # both processes refuse the 4th and 5th
            _assert_limited(await _create(api), "create", 20)
        # Reads have their own bucket: the merchant still sees its three payments.
        listed = await second.get("/v1/payments?limit=10")
        assert listed.status_code == 200
        assert {p["id"] for p in listed.json()["data"]} == {r.json()["id"] for r in made}
        # Another merchant on the same processes is not limited by this one.
        assert (await _create(theirs[1])).status_code == 201


async def test_reads_past_the_burst_are_429_until_a_token_is_back(
    api_pair: CobroProcesses, merchant: tuple[str, str]
) -> None:
    first, second = _clients(api_pair, merchant[1])
    async with first, second:
        started = time.monotonic()
        answers = await asyncio.gather(
            *((first, second)[i % 2].get("/v1/payments/pay_nobody") for i in range(50))
        )
        elapsed = time.monotonic() - started
        codes = [a.status_code for a in answers]
        # The burst of 30, plus what 2 tokens a second refilled while the 50 were answered.
        assert 30 <= codes.count(404) <= 30 + int(2 * elapsed), (codes, elapsed)
        assert codes.count(404) + codes.count(429) == 50, codes
        retry_after = _assert_limited(next(a for a in answers if a.status_code == 429), "read", 1)
        await asyncio.sleep(retry_after)
        assert (await second.get("/v1/payments/pay_nobody")).status_code == 404


async def _limits(pair: CobroProcesses, merchant_id: str, *args: str) -> dict[str, object]:
    line = await run_cli(pair.env, "merchant", "limits", "--merchant", merchant_id, *args)
    shown: dict[str, object] = json.loads(line[0])
    return shown


async def test_a_merchants_own_limits_set_with_the_cli_apply_at_once(
    api_pair: CobroProcesses, merchant: tuple[str, str], other_merchant: tuple[str, str]
) -> None:
    merchant_id, key = merchant
    shown = await _limits(api_pair, merchant_id, "--read-rate", "0.01", "--read-burst", "4")
    assert shown == {
        "merchant_id": merchant_id,
        "create": {"rate_per_s": 0.05, "burst": 3, "own": False},
        "read": {"rate_per_s": 0.01, "burst": 4, "own": True},
    }
    first, second = _clients(api_pair, key)
    theirs = _clients(api_pair, other_merchant[1])
    async with first, second, theirs[0], theirs[1]:
        codes = [(await (first, second)[i % 2].get("/v1/api_keys")).status_code for i in range(5)]
        assert codes == [200, 200, 200, 200, 429]
        _assert_limited(await first.get("/v1/api_keys"), "read", 100)
        others = [(await theirs[i % 2].get("/v1/api_keys")).status_code for i in range(8)]
        assert others == [200] * 8  # the defaults: 30 at once

        # Raised: the very next requests pass (at 0.01 a second, hardly one would).
        await _limits(api_pair, merchant_id, "--read-rate", "1000", "--read-burst", "1000")
        raised = await asyncio.gather(*(first.get("/v1/api_keys") for _ in range(20)))
        assert [r.status_code for r in raised] == [200] * 20

    reset = await _limits(api_pair, merchant_id, "--default", "read")
    assert reset["read"] == {"rate_per_s": 2.0, "burst": 30, "own": False}

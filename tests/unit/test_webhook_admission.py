"""api/webhook_admission.py: per-PSP turns, a bounded wait, 503 with Retry-After past it; and
cobro/domain/rate_limits.py's Retry-After arithmetic."""

import asyncio

import pytest

from api.problems import Problem
from api.webhook_admission import RETRY_AFTER_S, WebhookAdmission
from cobro.domain.rate_limits import Limit, retry_after_s


async def _hold(admission: WebhookAdmission, psp: str, release: asyncio.Event) -> None:
    async with admission.turn(psp):
        await release.wait()


async def test_a_psp_past_its_turns_and_queue_is_refused_while_another_goes_in() -> None:
    admission = WebhookAdmission(concurrency=2, queue=1, wait_s=5)
    release = asyncio.Event()
    holders = [asyncio.create_task(_hold(admission, "stripe", release)) for _ in range(3)]
    await asyncio.sleep(0.01)  # two hold a turn, one waits

    with pytest.raises(Problem) as refused:
        async with admission.turn("stripe"):
            pass
    assert refused.value.status == 503 and refused.value.slug == "webhooks-busy"
    assert refused.value.headers == {"Retry-After": str(RETRY_AFTER_S)}

    async with admission.turn("conekta"):  # its own turns: not behind Stripe's
        pass
    release.set()
    await asyncio.gather(*holders)  # the waiting one got its turn
    async with admission.turn("stripe"):  # all turns given back
        pass


async def test_a_wait_past_wait_s_is_refused() -> None:
    admission = WebhookAdmission(concurrency=1, queue=5, wait_s=0.05)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(admission, "stp", release))
    await asyncio.sleep(0.01)
    with pytest.raises(Problem) as refused:
        async with admission.turn("stp"):
            pass
    assert refused.value.status == 503
    release.set()
    await holder
    async with admission.turn("stp"):
        pass


def test_retry_after_is_the_whole_seconds_until_a_token() -> None:
    assert retry_after_s(0.0, 0.2) == 5
    assert retry_after_s(0.9, 0.2) == 1
    assert retry_after_s(0.99, 100) == 1  # never 0
    assert retry_after_s(1.2, 1) == 1  # a stale reading never says 0 or less
    with pytest.raises(ValueError):
        Limit(0, 10)
    with pytest.raises(ValueError):
        Limit(1, 0)

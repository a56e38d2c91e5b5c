"""A 429 is the PSP asking us to slow down, not an outage: every client raises PspRateLimited
(with Retry-After when sent), the activity surfaces it as a retryable "PspRateLimited" failure
that waits that long, and the simulator answers 429 in each PSP's format past its limit."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from activities.psp import _rejections_are_final
from cobro.psp.conekta.client import ConektaClient
from cobro.psp.errors import PspRateLimited, PspUnavailable
from cobro.psp.moonpay.client import MoonpayClient
from cobro.psp.stp.client import StpClient
from cobro.psp.stp.firma import dev_signer
from cobro.psp.stripe.client import StripeClient
from cobro.settings import Settings
from simulator import conekta_api, moonpay_common, stp_api, stripe_errors
from simulator.rate_limits import Limits, RateLimiter
from workflows.activity_options import rate_limit_delay

Call = Callable[[httpx.AsyncClient], Awaitable[Any]]

CALLS: dict[str, Call] = {
    "stripe": lambda http: StripeClient("http://psp", "sk", http).retrieve_payment_intent("pi_1"),
    "conekta": lambda http: ConektaClient("http://psp", "key", http).get_order("ord_1"),
    "moonpay": lambda http: MoonpayClient("http://psp", "key", http).get_transaction("tx_1"),
    "stp": lambda http: StpClient(
        "http://psp", "http://efws", "EMP", http, signer=dev_signer()
    ).consulta_orden("RASTREO1", "R"),
}


def _simulator_429(psp: str) -> httpx.Response:
    """What the simulated PSP answers past its rate limit (its own error format)."""
    if psp == "stripe":
        r = stripe_errors.error_response(
            stripe_errors.StripeError(429, "invalid_request_error", "Too many", code="rate_limit")
        )
    elif psp == "conekta":
        r = conekta_api.error_response(conekta_api.ConektaError(429, "too_many", "Demasiadas"))
    elif psp == "moonpay":
        r = moonpay_common.error_response(moonpay_common.MoonpayError(429, "4_SYS", "Too many"))
    else:
        r = stp_api.error_response(stp_api.StpError(429, {"resultado": {"id": 0}}))
    return httpx.Response(r.status_code, content=bytes(r.body))


async def _raised(psp: str, response: httpx.Response) -> BaseException:
    transport = httpx.MockTransport(lambda _: response)
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(PspUnavailable) as caught:
            await CALLS[psp](http)
    return caught.value


@pytest.mark.parametrize("psp", sorted(CALLS))
async def test_each_client_maps_a_429_to_rate_limited(psp: str) -> None:
    err = await _raised(psp, _simulator_429(psp))
    assert isinstance(err, PspRateLimited) and err.retry_after is None
    assert "429" in str(err)


@pytest.mark.parametrize("psp", sorted(CALLS))
async def test_each_client_honours_retry_after(psp: str) -> None:
    response = _simulator_429(psp)
    response.headers["Retry-After"] = "7"
    err = await _raised(psp, response)
    assert isinstance(err, PspRateLimited) and err.retry_after == 7


async def test_retry_after_as_an_http_date() -> None:
    response = httpx.Response(
        429,
        headers={
            "Retry-After": "Wed, 21 Oct 2026 07:28:03 GMT",
            "Date": "Wed, 21 Oct 2026 07:28:00 GMT",
        },
    )
    err = await _raised("stripe", response)
    assert isinstance(err, PspRateLimited) and err.retry_after == 3


@pytest.mark.parametrize("psp", sorted(CALLS))
async def test_a_5xx_is_still_an_outage(psp: str) -> None:
    err = await _raised(psp, httpx.Response(503, json={}))
    assert not isinstance(err, PspRateLimited)


async def _raise(exc: Exception) -> None:
    raise exc


async def test_the_activity_surfaces_a_retryable_rate_limited_failure() -> None:
    with pytest.raises(ApplicationError) as caught:
        await _rejections_are_final(_raise(PspRateLimited("stripe: HTTP 429", retry_after=2.5)))
    err = caught.value
    assert err.type == "PspRateLimited" and not err.non_retryable
    assert err.next_retry_delay == timedelta(seconds=2.5)
    with pytest.raises(ApplicationError) as caught:
        await _rejections_are_final(_raise(PspRateLimited("stripe: HTTP 429")))
    assert caught.value.next_retry_delay is None


def test_the_workflow_reads_a_rate_limit_as_slow_down_not_failure() -> None:
    limited = ApplicationError("429", type="PspRateLimited", next_retry_delay=timedelta(seconds=3))
    wrapped = ActivityError(
        "activity failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="w",
        activity_type="create_charge",
        activity_id="1",
        retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED,
    )
    wrapped.__cause__ = limited
    assert rate_limit_delay(wrapped) == timedelta(seconds=3)
    assert rate_limit_delay(ApplicationError("429", type="PspRateLimited")) == timedelta(0)
    assert rate_limit_delay(ApplicationError("503")) is None
    assert rate_limit_delay(ApplicationError("no", type="PspRejected")) is None


def test_the_simulator_limits_each_psp_over_a_sliding_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr("simulator.rate_limits.time.monotonic", lambda: clock[0])
    limiter = RateLimiter(limits=Limits(stripe=2))
    assert limiter.allow("stripe") and limiter.allow("stripe")
    assert not limiter.allow("stripe")  # a third within the same second
    assert all(limiter.allow("conekta") for _ in range(10))  # not limited
    clock[0] = 100.5
    assert not limiter.allow("stripe")
    clock[0] = 101.01  # the first two left the window
    assert limiter.allow("stripe") and limiter.allow("stripe") and not limiter.allow("stripe")
    assert limiter.report()["rejected_429"] == {
        "stripe": 3,
        "conekta": 0,
        "stp": 0,
        "moonpay": 0,
        "mercadopago": 0,
    }


def test_a_limit_of_zero_refuses_everything_and_every_call_is_counted_per_second() -> None:
    limiter = RateLimiter(limits=Limits(stripe=0))
    assert [limiter.allow("stripe") for _ in range(3)] == [False, False, False]
    assert limiter.allow("conekta")  # not limited, still counted
    assert sum(limiter.calls["stripe"].values()) == 3
    assert sum(limiter.rejections["stripe"].values()) == 3
    assert sum(limiter.calls["conekta"].values()) == 1
    assert limiter.report()["rejected_429"]["stripe"] == 3


def test_psp_rate_limits_settings_are_parsed_and_checked() -> None:
    assert Settings(cobro_psp_rate_limits="stripe=80, conekta=12.5").psp_rate_limits == {
        "stripe": 80.0,
        "conekta": 12.5,
    }
    assert Settings(cobro_psp_rate_limits="").psp_rate_limits == {}
    bad_values = ("stripe", "stripe=0", "paypal=5", "stripe=fast", "stripe=nan", "stripe=inf")
    for bad in (*bad_values, "stripe=80,stripe=1"):
        with pytest.raises(ValueError, match="COBRO_PSP_RATE_LIMITS"):
            Settings(cobro_psp_rate_limits=bad)

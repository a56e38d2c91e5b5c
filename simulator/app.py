"""`cobro simulator`: the PSPs' APIs under /{psp}, plus the /_sim control API."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cobro.settings import Settings
from simulator import (
    conekta_api,
    control,
    mercadopago_api,
    mercadopago_report,
    moonpay_api,
    rate_limits,
    refund_control,
    stp_api,
    stripe_api,
    stripe_errors,
    stripe_money,
    stripe_refunds,
)
from simulator.delivery import WebhookSender
from simulator.ledger import Ledger
from simulator.state import SimState


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.cobro_data_dir.mkdir(parents=True, exist_ok=True)
        ledger = Ledger.load(settings.cobro_data_dir / "simulator-ledger.json")
        async with httpx.AsyncClient(timeout=10) as http:
            app.state.sim = SimState(settings, ledger, WebhookSender(http))
            yield
            app.state.sim.sender.cancel_all()
            ledger.flush()

    app = FastAPI(title="cobro PSP simulator", lifespan=lifespan)
    app.include_router(stripe_api.router)
    app.include_router(stripe_money.router)
    app.include_router(stripe_refunds.router)
    app.include_router(conekta_api.router)
    app.include_router(stp_api.router)
    app.include_router(moonpay_api.router)
    app.include_router(mercadopago_report.router)
    app.include_router(mercadopago_api.router)
    app.include_router(moonpay_api.control)
    app.include_router(control.router)
    app.include_router(refund_control.router)
    app.include_router(rate_limits.router)

    @app.exception_handler(stripe_errors.StripeError)
    async def _stripe_error(_: Request, exc: stripe_errors.StripeError) -> JSONResponse:
        return stripe_errors.error_response(exc)

    @app.exception_handler(conekta_api.ConektaError)
    async def _conekta_error(_: Request, exc: conekta_api.ConektaError) -> JSONResponse:
        return conekta_api.error_response(exc)

    @app.exception_handler(stp_api.StpError)
    async def _stp_error(_: Request, exc: stp_api.StpError) -> JSONResponse:
        return stp_api.error_response(exc)

    @app.exception_handler(moonpay_api.MoonpayError)
    async def _moonpay_error(_: Request, exc: moonpay_api.MoonpayError) -> JSONResponse:
        return moonpay_api.error_response(exc)

    @app.exception_handler(mercadopago_api.MercadopagoError)
    async def _mercadopago_error(_: Request, exc: mercadopago_api.MercadopagoError) -> JSONResponse:
        return mercadopago_api.error_response(exc)

    return app

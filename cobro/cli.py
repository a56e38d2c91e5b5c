"""The `cobro` console script: one subcommand per process, plus admin commands."""

import argparse
import asyncio
import logging
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from cobro import cli_merchants
from cobro.cli_common import in_session as _in_session
from cobro.cli_common import print_json as _print_json
from cobro.domain.timestamps import rfc3339_utc
from cobro.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncSession
    from starlette.applications import Starlette

    from cobro.db.models import WebhookInbox


def _serve(app: "FastAPI | Starlette", port: int, settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=settings.cobro_bind_host,
        port=port,
        forwarded_allow_ips=settings.cobro_trusted_proxies,
        log_level="info",
        access_log=False,
        log_config=None,  # uvicorn's loggers go to the root logger: JSON lines (cobro/logs.py)
    )


def cmd_api(settings: Settings) -> None:
    from api.app import create_app
    from cobro.temporal_config import stop_if_refused

    # An unreachable Temporal is tolerated: the API stores webhooks and says so on /healthz.
    stop_if_refused("api", settings, tolerate_unreachable=True)
    _serve(create_app(settings), settings.cobro_api_port, settings)


def cmd_codec_server(settings: Settings) -> None:
    from cobro.codec_reveal import sealed_details_revealer
    from cobro.codec_server import create_app
    from cobro.data_converter import payload_key_ring
    from cobro.db.session import make_engine, make_sessionmaker
    from cobro.payload_codec import EncryptionCodec
    from cobro.payload_keys import codec_token
    from cobro.secret_box import SecretBox

    live = settings.cobro_psp_mode == "live"
    try:
        token = codec_token(
            settings.cobro_codec_token.get_secret_value(), settings.cobro_data_dir, live
        )
    except ValueError as exc:
        sys.exit(f"cobro codec-server: {exc}")
    codec = EncryptionCodec(payload_key_ring(settings))
    # Opens the customer details sealed under each payment's key, kept in PostgreSQL (a small
    # pool: one query per payment shown).
    sessions = make_sessionmaker(make_engine(settings.model_copy(update={"db_pool_size": 2})))
    box = SecretBox(settings.cobro_secret_key.get_secret_value())
    reveal = sealed_details_revealer(sessions, box)
    app = create_app(codec, token, settings.codec_cors_origins, reveal)
    _serve(app, settings.cobro_codec_port, settings)


def cmd_simulator(settings: Settings) -> None:
    from simulator.app import create_app

    _serve(create_app(settings), settings.cobro_sim_port, settings)


def cmd_worker(settings: Settings) -> None:
    from cobro.temporal_config import stop_if_refused
    from worker.main import run

    stop_if_refused("worker", settings, tolerate_unreachable=False)
    asyncio.run(run(settings))


def cmd_temporal_setup(settings: Settings) -> None:
    from cobro.temporal_setup import command

    command(settings)


def cmd_migrate(settings: Settings) -> None:
    from cobro.db.migrate import upgrade

    upgrade(settings.db_url)
    logging.getLogger("cobro.migrate").info("migrations: database is at head")


def _routes(parser: argparse.ArgumentParser, specs: list[str]) -> dict[str, list[str]]:
    from cobro.domain.methods import PaymentMethod
    from cobro.domain.routing import CAPABILITIES

    routes: dict[str, list[str]] = {}
    for spec in specs:
        method, _, psps = spec.partition("=")
        names = [p.strip() for p in psps.split(",") if p.strip()]
        if method not in {m.value for m in PaymentMethod} or not names:
            parser.error(f"--route {spec!r}: use METHOD=PSP[,PSP...], e.g. oxxo=conekta,stripe")
        unknown = [n for n in names if n not in CAPABILITIES]
        if unknown:
            parser.error(f"--route {spec!r}: unknown PSP {unknown}; known: {sorted(CAPABILITIES)}")
        routes[method] = names
    return routes


def cmd_merchant_create(
    settings: Settings, name: str, late_payments: str, routes: dict[str, list[str]]
) -> None:
    from cobro.db import merchants_repo

    api_key = merchants_repo.new_api_key()

    async def create(session: "AsyncSession") -> str:
        return await merchants_repo.create_merchant(session, name, api_key, late_payments, routes)

    _print_json({"merchant_id": _in_session(settings, create), "api_key": api_key})


def cmd_ops_unmatched(settings: Settings, limit: int) -> None:
    """One JSON line per PSP event that matched no payment, newest first."""
    from cobro.db import inbox_repo

    for row in _in_session(settings, lambda session: inbox_repo.unmatched(session, limit)):
        _print_json(
            {
                "received_at": rfc3339_utc(row.received_at),
                "psp": row.psp,
                "event_id": row.event_id,
                "type": row.event_type,
                "psp_reference": row.psp_reference,
                **_amount(row),
            }
        )


def _amount(row: "WebhookInbox") -> dict[str, object]:
    """A verified event's amount; for a deposit no payment claimed, what the notification says
    (its PSP confirms it when ops attach it: STP)."""
    if row.event is not None:
        return {"amount": row.event.get("amount_received")}
    from cobro.psp.connectors import BY_NAME

    connector = BY_NAME.get(row.psp)
    notified = connector.wiring().notified_amount if connector else None
    if notified is None:
        return {"amount": None}
    return {"amount": None, "amount_notified": notified(row.raw_body)}


def cmd_privacy_erase(settings: Settings, email: str, operator: str, reason: str) -> None:
    """Erase a customer's personal data from every merchant's payments (LFPDPPP cancelation);
    prints the erasure's record, which names who and why, never what."""
    from cobro.db import privacy_repo

    async def erase(session: "AsyncSession") -> dict[str, object]:
        try:
            erasure = await privacy_repo.erase_customer(session, email, operator, reason)
        except privacy_repo.ErasureRefused as exc:
            sys.exit(f"cobro privacy erase: not erased: {exc}")
        await session.flush()
        return {"erasure_id": erasure.id, "payments": erasure.payments, "by": operator}

    _print_json(_in_session(settings, erase))


def cmd_ops_psp_health(settings: Settings, hours: int) -> None:
    """One JSON line per PSP that payments failed over away from in the last `hours`."""
    from cobro.db import payments_repo

    since = datetime.now(UTC) - timedelta(hours=hours)
    rows = _in_session(settings, lambda session: payments_repo.psp_failovers(session, since))
    if not rows:
        _print_json({"healthy": True, "since": rfc3339_utc(since)})
    for row in rows:
        _print_json(
            {
                "psp": row["psp"],
                "failovers": row["failovers"],
                "failing_since": rfc3339_utc(row["first_at"]),
                "last_failover": rfc3339_utc(row["last_at"]),
            }
        )


def cmd_recon(settings: Settings, action: str, day: date) -> None:
    """`run`: reconcile DAY now (as the schedule does) and print the summary; `show`: one JSON
    line per reconciliation line of DAY (all merchants)."""
    from cobro import reconciliation

    if action == "show":
        for i in _in_session(settings, lambda session: reconciliation.items_for(session, day)):
            _print_json(
                {
                    "day": str(i.day),
                    "psp": i.psp,
                    "result": i.result,
                    "type": i.line_type,
                    "psp_reference": i.psp_reference,
                    "payment_id": i.payment_id,
                    "merchant_id": i.merchant_id,
                    "cobro_amount": i.cobro_amount,
                    "psp_amount": i.psp_amount,
                }
            )
        return

    from cobro.task_queues import PAYMENTS
    from cobro.temporal_client import connect
    from cobro.temporal_config import exit_process
    from workflows.reconciliation import DailyReconciliation

    async def run() -> None:
        client = await connect(settings)
        summary = await client.execute_workflow(
            DailyReconciliation.run,
            day,
            id=f"reconciliation-{day}-{uuid.uuid4().hex[:8]}",
            task_queue=PAYMENTS,
        )
        print(summary.model_dump_json(), flush=True)

    asyncio.run(run())
    exit_process(0)


def cmd_dev(settings: Settings) -> None:
    from cobro.dev import run_dev_stack

    sys.exit(run_dev_stack(settings))


def _count(value: str) -> int:
    count = int(value)
    if not 1 <= count <= 16:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and 16")
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cobro", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in [
        ("api", "merchant API + PSP webhook receiver on COBRO_API_PORT"),
        ("worker", "Temporal worker for payment workflows and activities"),
        ("simulator", "PSP simulator on COBRO_SIM_PORT"),
        ("migrate", "apply database migrations (run before api/worker)"),
        (
            "temporal-setup",
            "create the Temporal namespace (30-day retention) and cobro's search attributes "
            "where missing (self-hosted Temporal; run before api/worker)",
        ),
        ("dev", "the whole local stack with a demo merchant (what `make run` runs)"),
        ("codec-server", "Temporal remote codec (/encode, /decode) on COBRO_CODEC_PORT"),
    ]:
        sub.add_parser(name, help=help_)
    dev = sub.choices["dev"]
    dev.add_argument(
        "--apis", type=_count, metavar="N", help="API processes (default COBRO_DEV_APIS or 1)"
    )
    dev.add_argument(
        "--workers", type=_count, metavar="N", help="workers (default COBRO_DEV_WORKERS or 1)"
    )
    merchant = sub.add_parser("merchant", help="manage merchants")
    merchant_sub = merchant.add_subparsers(dest="action", required=True)
    create = merchant_sub.add_parser("create", help="create a merchant; prints its API key once")
    create.add_argument("name")
    create.add_argument(
        "--route",
        action="append",
        default=[],
        metavar="METHOD=PSP[,PSP...]",
        help="PSPs to use for a method, in order (e.g. oxxo=conekta,stripe); repeatable",
    )
    create.add_argument(
        "--late-payments",
        choices=["refund", "hold"],
        default="refund",
        help="money that arrives after a payment expired or was canceled: refund it "
        "automatically where the method allows (default), or hold it for ops",
    )
    cli_merchants.add_parsers(sub, merchant_sub)
    ops = sub.add_parser("ops", help="operator tools")
    ops_sub = ops.add_subparsers(dest="action", required=True)
    unmatched = ops_sub.add_parser("unmatched", help="PSP webhooks that matched no payment")
    unmatched.add_argument("--limit", type=int, default=100)
    health = ops_sub.add_parser("psp-health", help="PSPs payments failed over away from")
    health.add_argument("--hours", type=int, default=24)
    privacy = sub.add_parser("privacy", help="customer data protection")
    privacy_sub = privacy.add_subparsers(dest="action", required=True)
    erase = privacy_sub.add_parser(
        "erase", help="erase a customer's personal data (payments stay for accounting)"
    )
    erase.add_argument("--email", required=True, help="the customer's email")
    erase.add_argument("--operator", required=True, help="who asks (recorded)")
    erase.add_argument("--reason", required=True, help="why, e.g. the LFPDPPP request (recorded)")
    recon = sub.add_parser("recon", help="daily reconciliation by Mexico City business day")
    recon.add_argument("action", choices=["run", "show"])
    recon.add_argument("day", type=date.fromisoformat, help="YYYY-MM-DD (Mexico City day)")
    args = parser.parse_args(argv)

    try:
        settings = Settings()
    except ValueError as exc:
        sys.exit(f"cobro: invalid configuration: {exc}")
    if args.command not in ("merchant", "keys", "ops", "recon", "privacy"):
        from cobro.logs import configure_logging

        configure_logging(args.command)
    if args.command in ("api", "worker"):
        from cobro.telemetry import configure_tracing

        configure_tracing(f"cobro-{args.command}")
    commands = {
        "api": cmd_api,
        "worker": cmd_worker,
        "simulator": cmd_simulator,
        "migrate": cmd_migrate,
        "temporal-setup": cmd_temporal_setup,
        "dev": cmd_dev,
        "codec-server": cmd_codec_server,
    }
    if args.command == "dev":
        settings.cobro_dev_apis = args.apis or settings.cobro_dev_apis
        settings.cobro_dev_workers = args.workers or settings.cobro_dev_workers
    if args.command == "keys" or (args.command == "merchant" and args.action == "limits"):
        cli_merchants.run(settings, args)
    elif args.command == "merchant":
        cmd_merchant_create(settings, args.name, args.late_payments, _routes(parser, args.route))
    elif args.command == "recon":
        cmd_recon(settings, args.action, args.day)
    elif args.command == "privacy":
        cmd_privacy_erase(settings, args.email, args.operator, args.reason)
    elif args.command == "ops":
        if args.action == "unmatched":
            cmd_ops_unmatched(settings, args.limit)
        else:
            cmd_ops_psp_health(settings, args.hours)
    else:
        commands[args.command](settings)


if __name__ == "__main__":
    main()

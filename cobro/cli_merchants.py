"""`cobro keys create|list|revoke --merchant ID` and `cobro merchant limits --merchant ID`: what
a merchant can do through the API, for ops. Each prints JSON lines; a refusal exits non-zero
saying why."""

import argparse
import sys
from typing import TYPE_CHECKING

from cobro.cli_common import in_session, print_json
from cobro.domain.rate_limits import KINDS, Kind, Limit
from cobro.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from cobro.db.models import ApiKey


def add_parsers(
    sub: "argparse._SubParsersAction[argparse.ArgumentParser]",
    merchant_sub: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    keys = sub.add_parser("keys", help="a merchant's API keys")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create", help="a new key; prints it once (only its hash is kept)")
    create.add_argument("--name", help="a label, e.g. the server that will use it")
    keys_sub.add_parser("list", help="one line per key: id, prefix, last use (never the key)")
    revoke = keys_sub.add_parser("revoke", help="refused by every API process at once")
    revoke.add_argument("key_id", help="key_...")
    for parser in keys_sub.choices.values():
        parser.add_argument("--merchant", required=True, help="mer_...")

    limits = merchant_sub.add_parser(
        "limits",
        help="show or set a merchant's API rate limits (unset: COBRO_CREATE_*/COBRO_READ_*)",
    )
    limits.add_argument("--merchant", required=True, help="mer_...")
    for kind in KINDS:
        what = "payments and refunds created" if kind == "create" else "every other request"
        limits.add_argument(
            f"--{kind}-rate", type=float, metavar="PER_S", help=f"{what}, per second"
        )
        limits.add_argument(
            f"--{kind}-burst", type=int, metavar="N", help=f"{what}, at most at once"
        )
    limits.add_argument(
        "--default", choices=KINDS, action="append", default=[], help="back to the defaults"
    )


def run(settings: Settings, args: argparse.Namespace) -> None:
    if args.command == "keys":
        {"create": _create, "list": _list, "revoke": _revoke}[args.action](settings, args)
    else:
        _limits(settings, args)


def _key_line(key: "ApiKey") -> dict[str, object]:
    from cobro.domain.timestamps import rfc3339_utc

    return {
        "id": key.public_id,
        "merchant_id": key.merchant_id,
        "prefix": key.key_prefix,
        "name": key.name,
        "created_at": rfc3339_utc(key.created_at),
        "last_used_at": rfc3339_utc(key.last_used_at) if key.last_used_at else None,
        "revoked_at": rfc3339_utc(key.revoked_at) if key.revoked_at else None,
    }


def _create(settings: Settings, args: argparse.Namespace) -> None:
    from cobro.db import api_keys_repo

    async def create(session: "AsyncSession") -> dict[str, object] | None:
        created = await api_keys_repo.create(session, args.merchant, args.name)
        return None if created is None else {**_key_line(created.key), "api_key": created.secret}

    line = in_session(settings, create)
    if line is None:
        sys.exit(f"cobro keys create: no merchant {args.merchant!r}")
    print_json(line)


def _list(settings: Settings, args: argparse.Namespace) -> None:
    from cobro.db import api_keys_repo

    async def lines(session: "AsyncSession") -> list[dict[str, object]]:
        return [_key_line(k) for k in await api_keys_repo.keys_of(session, args.merchant)]

    for line in in_session(settings, lines):
        print_json(line)


def _revoke(settings: Settings, args: argparse.Namespace) -> None:
    from cobro.db import api_keys_repo

    async def revoke(session: "AsyncSession") -> dict[str, object] | str:
        try:
            key = await api_keys_repo.revoke(session, args.merchant, args.key_id)
        except api_keys_repo.LastKey as exc:
            return str(exc)
        if key is None:
            return f"merchant {args.merchant!r} has no key {args.key_id!r}"
        return _key_line(key)

    line = in_session(settings, revoke)
    if isinstance(line, str):
        sys.exit(f"cobro keys revoke: not revoked: {line}")
    print_json(line)


def _limits(settings: Settings, args: argparse.Namespace) -> None:
    from cobro.db import merchants_repo

    async def apply(session: "AsyncSession") -> dict[str, object] | None:
        own = await merchants_repo.own_limits(session, args.merchant)
        if own is None:
            return None
        for kind in KINDS:
            rate, burst = getattr(args, f"{kind}_rate"), getattr(args, f"{kind}_burst")
            if kind in args.default:
                own[kind] = None
            elif rate is not None or burst is not None:
                current = own[kind] or settings.rate_limit(kind)
                own[kind] = Limit(
                    current.rate_per_s if rate is None else rate,
                    current.burst if burst is None else burst,
                )
            await merchants_repo.set_limit(session, args.merchant, kind, own[kind])
        return {"merchant_id": args.merchant, **{k: _shown(settings, k, own[k]) for k in KINDS}}

    try:
        line = in_session(settings, apply)
    except ValueError as exc:  # Limit refuses rate <= 0 or burst < 1
        sys.exit(f"cobro merchant limits: {exc}")
    if line is None:
        sys.exit(f"cobro merchant limits: no merchant {args.merchant!r}")
    print_json(line)


def _shown(settings: Settings, kind: Kind, own: Limit | None) -> dict[str, object]:
    limit = own or settings.rate_limit(kind)
    return {"rate_per_s": limit.rate_per_s, "burst": limit.burst, "own": own is not None}

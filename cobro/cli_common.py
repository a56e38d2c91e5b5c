"""What the admin commands (cobro/cli.py, cobro/cli_merchants.py) share: one transaction on a
short-lived engine, and JSON lines out."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from cobro.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


def in_session(settings: Settings, work: Callable[["AsyncSession"], Awaitable[T]]) -> T:
    """Run `work` in one transaction on a short-lived engine (the admin commands)."""
    from cobro.db.session import make_engine, make_sessionmaker

    async def run() -> T:
        engine = make_engine(settings)
        try:
            async with make_sessionmaker(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def print_json(value: object) -> None:
    print(json.dumps(value), flush=True)

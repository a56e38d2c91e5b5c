"""With several API processes, one sweeps the webhook inbox at a time (api/forwarder.py): the turn
is a PostgreSQL advisory lock held by the sweeper's transaction, free again when that
transaction ends or its connection dies."""

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from cobro.db import inbox_repo
from cobro.db.session import make_sessionmaker


async def test_one_process_sweeps_at_a_time(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as first:
        assert await inbox_repo.take_sweep_turn(first)
        async with sessions.begin() as second:  # another API process, meanwhile
            assert not await inbox_repo.take_sweep_turn(second)
    async with sessions.begin() as later:  # the first sweep is over: the turn is free
        assert await inbox_repo.take_sweep_turn(later)


async def test_a_sweeper_whose_connection_dies_gives_the_turn_up(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with engine.connect() as dying:
        await dying.begin()
        async with sessions(bind=dying) as held:
            assert await inbox_repo.take_sweep_turn(held)
        await dying.invalidate()  # as when a kill -9 closes the process's connection
    for _ in range(50):  # PostgreSQL ends the backend as soon as it sees the socket close
        async with sessions.begin() as survivor:
            if await inbox_repo.take_sweep_turn(survivor):
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the turn was not given up 5 s after its connection closed")

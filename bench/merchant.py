"""A merchant of its own for each bench or chaos run, created straight in cobro's database."""

from cobro.db import merchants_repo
from cobro.db.session import make_engine, make_sessionmaker
from cobro.settings import Settings


async def new_merchant(settings: Settings, name: str) -> str:
    """Create merchant `name` in `settings`' database and return its API key."""
    engine = make_engine(settings)
    api_key = merchants_repo.new_api_key()
    try:
        async with make_sessionmaker(engine).begin() as session:
            await merchants_repo.create_merchant(session, name, api_key)
    finally:
        await engine.dispose()
    return api_key

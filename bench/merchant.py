"""A merchant of its own for each bench or chaos run, created straight in cobro's database."""

from cobro.db import merchants_repo
from cobro.db.session import make_engine, make_sessionmaker
from cobro.domain.rate_limits import KINDS, Limit
from cobro.settings import Settings

# The runs measure cobro, not a merchant's rate limit: this merchant's are out of reach, as a
# high-volume merchant's would be raised (`cobro merchant limits`).
UNLIMITED = Limit(1_000_000, 1_000_000)


async def new_merchant(settings: Settings, name: str) -> str:
    """Create merchant `name` in `settings`' database and return its API key."""
    engine = make_engine(settings)
    api_key = merchants_repo.new_api_key()
    try:
        async with make_sessionmaker(engine).begin() as session:
            merchant_id = await merchants_repo.create_merchant(session, name, api_key)
            for kind in KINDS:
                await merchants_repo.set_limit(session, merchant_id, kind, UNLIMITED)
    finally:
        await engine.dispose()
    return api_key

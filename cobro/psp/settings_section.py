"""The base of each connector's settings section (cobro/psp/<name>/config.py).

A section declares its env vars as pydantic fields (the env var is the field name, upper
case), and as class variables what cobro.settings.Settings does with them: the values
simulator mode fills in when unset, and the env vars live mode requires when the PSP is in
COBRO_PSPS. Settings inherits every registered section, so `settings.stripe_api_key` works.
"""

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic_settings import BaseSettings, SettingsConfigDict


class PspSection(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", hide_input_in_errors=True
    )

    # field name -> value used in simulator mode when the env var is unset (or empty)
    SIMULATOR_DEFAULTS: ClassVar[Mapping[str, Any]] = {}
    # env var names live mode needs when this PSP is enabled (field = name.lower())
    LIVE_REQUIRED: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def check(cls, settings: Any) -> None:
        """Further validation, once defaults are filled in; raise ValueError to refuse."""

    def psp_url(self, live_url: str, simulator_path: str) -> str:
        """`live_url` in live mode, else the simulator's `/<simulator_path>` (Settings)."""
        raise NotImplementedError

"""Fault injection (PUT /_sim/chaos): what real PSPs and networks do to webhooks and API calls."""

import asyncio
import random

from pydantic import BaseModel, ConfigDict, Field


class Chaos(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duplicate_rate: float = Field(default=0, ge=0, le=1, description="webhooks sent twice")
    reorder: bool = Field(default=False, description="random extra delay, so events overtake")
    webhook_delay_ms: int = Field(default=0, ge=0, le=600_000)
    drop_rate: float = Field(default=0, ge=0, le=1, description="webhooks never sent")
    api_error_rate: float = Field(default=0, ge=0, le=1, description="API calls that fail")
    api_latency_ms: int = Field(default=0, ge=0, le=60_000)
    psp_down: list[str] = Field(default_factory=list, description="PSPs answering 503 to all")
    lose_responses_from: list[str] = Field(
        default_factory=list, description="PSPs that do every write but lose every answer"
    )

    def webhook_delays(self) -> list[float]:
        """Seconds to wait before each copy of one webhook; empty when it is dropped."""
        if random.random() < self.drop_rate:
            return []
        copies = 2 if random.random() < self.duplicate_rate else 1
        base = self.webhook_delay_ms / 1000
        spread = max(base, 0.5) if self.reorder else 0
        return [base + random.uniform(0, spread) for _ in range(copies)]

    async def before_api_call(self, psp: str) -> bool:
        """Wait the latency; True when the call should fail before doing anything."""
        if self.api_latency_ms:
            await asyncio.sleep(self.api_latency_ms / 1000)
        return psp in self.psp_down or random.random() < self.api_error_rate / 2

    def lose_response(self, psp: str) -> bool:
        """True when the call did its work but the answer is lost (the client sees a 5xx):
        the outcome is unknown to the client, as after a timeout."""
        return psp in self.lose_responses_from or random.random() < self.api_error_rate / 2

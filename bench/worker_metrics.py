"""What the Temporal SDK in a cobro worker reports about its workflow tasks (its Prometheus
endpoint), to tell why a herd is slow: tasks waiting in Temporal's queue (schedule-to-start),
runs missing from the sticky cache (replayed from their first event), tasks that failed."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

# Totals over every label set; a histogram as its _count and _sum.
WATCHED = (
    "temporal_sticky_cache_hit_total",
    "temporal_sticky_cache_miss_total",
    "temporal_sticky_cache_total_forced_eviction_total",
    "temporal_workflow_task_execution_failed_total",
    "temporal_workflow_task_schedule_to_start_latency_seconds_count",
    "temporal_workflow_task_schedule_to_start_latency_seconds_sum",
    "temporal_workflow_task_execution_latency_seconds_count",
    "temporal_workflow_task_execution_latency_seconds_sum",
    "temporal_activity_schedule_to_start_latency_seconds_count",
    "temporal_activity_schedule_to_start_latency_seconds_sum",
)


async def scrape(urls: list[str]) -> dict[str, float]:
    """The WATCHED totals summed over the workers at `urls`."""
    totals = dict.fromkeys(WATCHED, 0.0)
    async with httpx.AsyncClient(timeout=10) as http:
        for url in urls:
            text = (await http.get(url)).text
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name in totals:
                        totals[sample.name] += sample.value
    return totals


def summary(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What happened between the two scrapes, with the mean latencies in ms."""
    d = {name: after[name] - before[name] for name in WATCHED}

    def mean_ms(what: str) -> float:
        prefix = f"temporal_{what}_latency_seconds"
        count = d[f"{prefix}_count"]
        return round(d[f"{prefix}_sum"] / count * 1000, 1) if count else 0.0

    return {
        "workflow_tasks": d["temporal_workflow_task_execution_latency_seconds_count"],
        "workflow_task_execution_mean_ms": mean_ms("workflow_task_execution"),
        "workflow_task_schedule_to_start_mean_ms": mean_ms("workflow_task_schedule_to_start"),
        "activity_schedule_to_start_mean_ms": mean_ms("activity_schedule_to_start"),
        "sticky_cache_hits": d["temporal_sticky_cache_hit_total"],
        "sticky_cache_misses": d["temporal_sticky_cache_miss_total"],
        "forced_evictions": d["temporal_sticky_cache_total_forced_eviction_total"],
        "workflow_task_failures": d["temporal_workflow_task_execution_failed_total"],
    }

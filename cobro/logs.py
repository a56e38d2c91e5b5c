"""Logs: one JSON object per line, with the payment, its workflow and the trace where known.

Every cobro process (API, worker, simulator, migrate) logs through the root logger with
JsonFormatter; uvicorn's, Temporal's (the SDK's Python loggers and, forwarded, its Rust core)
and Python warnings go the same way. The ids come from, in order: the record itself
(`extra={"payment_id": ...}`), the Temporal SDK's workflow and activity loggers (their
`temporal_workflow` / `temporal_activity` extras), and the ids bound to the current task with
`bind_ids` (an activity's, the forwarder's); a payment's `payment_id` and `workflow_id` are
derived from each other, and `trace_id`/`span_id` come from the current OpenTelemetry span.

Customer data (name, email, phone, wallet address, description, metadata) is never logged:
log ids, statuses and amounts only. tests/e2e/test_logs.py checks every process's output.
"""

import contextlib
import contextvars
import json
import logging
import sys
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from opentelemetry import trace

from cobro.domain.ids import workflow_id as payment_workflow_id

_WORKFLOW_PREFIX = payment_workflow_id("")
_ids: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("cobro_log_ids", default={})  # noqa: B039 (never mutated: bind_ids replaces it)


@contextlib.contextmanager
def bind_ids(**ids: str | None) -> Iterator[None]:
    """Add these ids to every log line written by the current task inside the block."""
    token = _ids.set({**_ids.get(), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _ids.reset(token)


def payment_id_of(workflow_id: str | None) -> str | None:
    if workflow_id and workflow_id.startswith(_WORKFLOW_PREFIX):
        return workflow_id[len(_WORKFLOW_PREFIX) :]
    return None


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(self._ids(record))
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(line, default=str, ensure_ascii=False)

    @staticmethod
    def _ids(record: logging.LogRecord) -> dict[str, str]:
        ids = dict(_ids.get())
        temporal = getattr(record, "temporal_workflow", None) or getattr(
            record, "temporal_activity", None
        )
        if isinstance(temporal, dict) and temporal.get("workflow_id"):
            ids["workflow_id"] = str(temporal["workflow_id"])
        for key in ("payment_id", "workflow_id"):
            if value := getattr(record, key, None):
                ids[key] = str(value)
        if "payment_id" not in ids and (derived := payment_id_of(ids.get("workflow_id"))):
            ids["payment_id"] = derived
        elif "workflow_id" not in ids and "payment_id" in ids:
            ids["workflow_id"] = payment_workflow_id(ids["payment_id"])
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            ids["trace_id"] = format(context.trace_id, "032x")
            ids["span_id"] = format(context.span_id, "016x")
        return ids


def configure_logging(service: str, level: int = logging.INFO) -> None:
    """JSON lines on stderr for the whole process: every logger, warnings, uncaught errors."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)

    def log_uncaught(
        kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        logging.getLogger("cobro").critical("uncaught error", exc_info=(kind, error, tb))

    sys.excepthook = log_uncaught

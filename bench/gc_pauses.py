"""The load generator must not pause while it times: its own garbage collector's full
collections stopped it for up to 234 ms at a time in `make bench` (gc.callbacks, 3 in one run),
and a stalled generator reads as cobro's latency."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def none_while_timing() -> Iterator[None]:
    """No collection in this process for one timed phase: what exists is collected and frozen,
    and the collector is off until the phase ends (reference counting still frees nearly all
    of what the phase makes; the rest is collected after it)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()

"""What the bench scripts tell the person running them, on stderr: a line, a timed step, a
progress bar."""

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(label: str) -> Iterator[None]:
    say(f"==> {label} ...")
    started = time.monotonic()
    yield
    say(f"    {label}: done in {time.monotonic() - started:.1f} s")


class Progress:
    """A one-line progress bar on stderr (a line per 25 % when stderr is not a terminal)."""

    WIDTH = 30

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.errors = label, total, 0, 0
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()
        self._last_quarter = -1
        self._draw()

    def advance(self, ok: bool = True) -> None:
        self.done += 1
        self.errors += 0 if ok else 1
        self._draw()

    def _draw(self) -> None:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        filled = self.WIDTH * self.done // max(self.total, 1)
        line = (
            f"    {self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{self.done}/{self.total}  {rate:6.1f}/s  {elapsed:5.1f} s"
            + (f"  {self.errors} errors" if self.errors else "")
        )
        if self.tty:
            sys.stderr.write("\r" + line)
            sys.stderr.flush()
        else:
            quarter = 4 * self.done // max(self.total, 1)
            if quarter != self._last_quarter:
                self._last_quarter = quarter
                say(line)

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()

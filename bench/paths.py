"""Where the bench scripts write: the repository's root and bench/results."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

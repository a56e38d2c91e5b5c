"""No Python file under workflows/, bench/, simulator/ or cobro/ reaches 400 lines (issue 12):
small files with one job."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("workflows", "bench", "simulator", "cobro")
LIMIT = 400


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def python_files() -> list[Path]:
    return sorted(path for top in CHECKED for path in (ROOT / top).rglob("*.py"))


def test_no_python_file_reaches_the_limit() -> None:
    files = python_files()
    assert len(files) > 50  # the folders are really read
    too_long = {
        str(path.relative_to(ROOT)): lines for path in files if (lines := line_count(path)) >= LIMIT
    }
    assert not too_long, f"files of {LIMIT} lines or more (split them): {too_long}"

"""Summarize py-spy collapsed stacks (`bench.run --profile DIR` writes DIR/worker.txt, api.txt).

    .venv/bin/python -m bench.stacks DIR/api.txt [--top 25]

Prints where the samples are: by library (of the innermost frame, i.e. where the CPU was),
then the functions with the most samples on the stack (inclusive) and innermost (self).
"""

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Substrings of a frame's file, first match wins: the library the CPU time belongs to.
LIBRARIES = [
    ("temporalio/worker/workflow_sandbox", "temporalio sandbox"),
    ("temporalio/bridge", "temporalio bridge (Rust core)"),
    ("temporalio/converter", "temporalio converter"),
    ("temporalio/contrib/pydantic", "temporalio converter"),
    ("temporalio", "temporalio other"),
    ("pydantic", "pydantic"),
    ("sqlalchemy", "sqlalchemy"),
    ("asyncpg", "asyncpg"),
    ("httpx", "httpx/httpcore"),
    ("httpcore", "httpx/httpcore"),
    ("h11", "h11"),
    ("starlette", "fastapi/starlette"),
    ("fastapi", "fastapi/starlette"),
    ("uvicorn", "uvicorn"),
    ("anyio", "anyio"),
    ("google/protobuf", "protobuf"),
    ("/asyncio/", "asyncio"),
    ("/json/", "json"),
    ("/logging/", "logging"),
    ("/work/", "cobro code"),
]


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def function(frame: str) -> str:
    match = FRAME.match(frame)
    if match is None:
        return frame
    file = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match['func']} ({file})"


def library(frame: str) -> str:
    match = FRAME.match(frame)
    file = match["file"] if match else frame
    for marker, name in LIBRARIES:
        if marker in file:
            return name
    return "python stdlib/other"


def summarize(path: Path, top: int) -> str:
    stacks = parse(path)
    total = sum(count for _, count in stacks)
    libraries: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        libraries[library(frames[-1])] += count
        own[function(frames[-1])] += count
        for name in {function(f) for f in frames}:
            inclusive[name] += count
    out = [f"{path}: {total} samples"]
    for title, counter in (
        ("by library (innermost frame)", libraries),
        ("inclusive (on the stack)", inclusive),
        ("self (innermost frame)", own),
    ):
        out.append(f"\n{title}")
        for name, count in counter.most_common(top):
            out.append(f"  {100 * count / max(total, 1):5.1f}%  {name}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.stacks", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    for path in args.files:
        print(summarize(path, args.top))
        print()


if __name__ == "__main__":
    main()

"""The shape of the code (issue 12): no import cycle; workflow modules import nothing but the
pure domain, the activities' interface and the Temporal SDK, so they run in the sandbox; the API
imports no activity code; every activity a workflow can schedule is implemented."""

import ast
import inspect
import subprocess
import sys
from pathlib import Path

from temporalio import activity

from cobro import activity_api

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "activities", "bench", "cobro", "scripts", "simulator", "worker", "workflows")
# What workflow code may pass through the sandbox: pure data and decisions, and names.
PASSED_THROUGH = ("cobro.domain", "cobro.activity_api", "cobro.search_attributes")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path for top in PACKAGES for path in sorted((ROOT / top).rglob("*.py"))
}


def imported(path: Path) -> list[tuple[str, bool]]:
    """(module, inside a `workflow.unsafe.imports_passed_through()` block) for every import,
    at any depth (a function-level import makes a cycle as surely as a top-level one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    passed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and "imports_passed_through" in ast.unparse(node.items[0]):
            passed |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in passed) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from cobro import activity_api` imports a module
                name = f"{node.module}.{alias.name}"
                found.append((name if name in MODULES else node.module, id(node) in passed))
    return found


def first_party_graph() -> dict[str, set[str]]:
    return {
        name: {m for m, _ in imported(path) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_there_is_no_import_cycle() -> None:
    graph = first_party_graph()
    assert len(graph) > 100 and graph["workflows.payment"]  # the code is really read
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_workflow_modules_import_only_what_the_sandbox_allows() -> None:
    wrong: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        if not name.startswith("workflows"):
            continue
        for module, passed in imported(path):
            top = module.split(".")[0]
            ok = (
                module.startswith(PASSED_THROUGH)
                if passed
                else top in ("temporalio", "workflows") or top in sys.stdlib_module_names
            )
            if not ok:
                wrong.setdefault(name, []).append(module)
    assert wrong == {}


# What the passed-through domain may load (the PSPs' capabilities and settings sections, read
# from the connector registry): pure modules, no I/O.
PURE_PSP = ("connector", "connectors", "settings_section", "capability", "config")
IO_LIBRARIES = ("httpx", "sqlalchemy", "asyncpg", "fastapi", "starlette", "cryptography")


def test_the_domain_loads_only_pure_modules() -> None:
    domain = sorted(name for name in MODULES if name.startswith("cobro.domain"))
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; [__import__(m) for m in {domain!r}]; print(sorted(sys.modules))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    modules = ast.literal_eval(loaded.stdout.strip())
    assert [m for m in modules if m.split(".")[0] in IO_LIBRARIES] == []
    first_party = [m for m in modules if m in MODULES and not m.startswith("cobro.domain")]
    impure = [
        m
        for m in first_party
        if m not in ("cobro", "cobro.psp")
        and not (m.startswith("cobro.psp.") and m.split(".")[-1] in PURE_PSP)
        and not (m.count(".") == 2 and m.startswith("cobro.psp."))  # a connector's __init__
    ]
    assert "cobro.psp.connectors" in first_party  # the check really sees the registry
    assert impure == []


def test_the_api_loads_no_activity_code() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, api.app; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('activities', 'worker')))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


def test_every_activity_interface_has_an_implementation() -> None:
    def names(functions: list[object]) -> set[str]:
        found = set()
        for fn in functions:
            definition = activity._Definition.from_callable(fn)  # type: ignore[arg-type]
            if definition is not None and definition.name:
                found.add(definition.name)
        return found

    interfaces = names([fn for _, fn in inspect.getmembers(activity_api, inspect.isfunction)])
    implemented: set[str] = set()
    for name in MODULES:
        if name.startswith("activities."):
            module = __import__(name, fromlist=["_"])
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == name:
                    implemented |= names(
                        [m for _, m in inspect.getmembers(cls, inspect.isfunction)]
                    )
    assert len(interfaces) >= 14
    assert interfaces == implemented

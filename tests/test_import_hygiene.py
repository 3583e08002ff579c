"""The core never imports the UI: domain/, store/, services/ and pdfgen/ load without textual."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import bcl_console

CORE = ("domain", "store", "services", "pdfgen")


def core_modules() -> list[str]:
    found = []
    for info in pkgutil.walk_packages(bcl_console.__path__, "bcl_console."):
        if info.name.split(".")[1] in CORE:
            found.append(info.name)
    return found


def test_core_never_imports_textual() -> None:
    modules = core_modules()
    assert "bcl_console.services.platform.runtime" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')"
        " or m.startswith('bcl_console.screens') or m == 'bcl_console.app')\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_domain_imports_nothing_of_ours_but_domain_and_does_no_io() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import bcl_console.domain as d\n"
        "for info in pkgutil.walk_packages(d.__path__, 'bcl_console.domain.'):\n"
        "    importlib.import_module(info.name)\n"
        "ours = sorted(m for m in sys.modules if m.startswith('bcl_console.') and not m.startswith('bcl_console.domain'))\n"
        "io = sorted(m for m in ('sqlite3', 'aiosqlite', 'aiohttp', 'asyncio') if m in sys.modules)\n"
        "print(','.join(ours) + '|' + ','.join(io))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "|"


def test_importing_creates_nothing(tmp_path: object) -> None:
    code = (
        "import os, importlib, pkgutil, bcl_console\n"
        "os.environ['BCL_DATA_DIR'] = '/nonexistent/bcl-import-test'\n"
        "for info in pkgutil.walk_packages(bcl_console.__path__, 'bcl_console.'):\n"
        "    if info.name != 'bcl_console.__main__':\n"
        "        importlib.import_module(info.name)\n"
        "print(os.path.exists('/nonexistent/bcl-import-test'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the house's rooms (issue #15) -----------------------------------------------------

#: Database engines: only store/ imports one. (The demo data set's bulk maker, demo/,
#: writes through the SQLite store's own functions on its connection, runtime.db: the
#: one room besides store/ that knows SQLite is the engine, without importing it.)
ENGINES = ("sqlite3", "aiosqlite", "sqlalchemy", "asyncpg")
OUTER = ("http", "cli", "screens", "clients", "app", "demo")


def _imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (inside functions and TYPE_CHECKING too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _files(room: str) -> list[Path]:
    root = Path(bcl_console.__file__).parent
    target = root / room
    return sorted(target.rglob("*.py")) if target.is_dir() else [root / f"{room}.py"]


def _room_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "bcl_console" else ""


def test_only_the_store_knows_a_database_engine() -> None:
    offenders = []
    for room in ("domain", "pdfgen", "services", "http", "cli", "screens", "clients", "app", "demo"):
        for path in _files(room):
            bad = sorted(m for m in _imports_of(path) if m.split(".")[0] in ENGINES)
            if bad:
                offenders.append(f"{path.name}: {', '.join(bad)}")
    assert offenders == []


def test_services_reach_the_database_only_through_the_store_protocol() -> None:
    """Services, HTTP and screens import from store/ only its boundary (store.api: the
    protocols and records) and its errors (the package itself); the runtime alone makes
    the store implementations (SQLite, PostgreSQL), the scheduler an earlier version's
    job store file (read once, at the upgrade), and `database copy` the copy between them."""
    allowed = {"bcl_console.store", "bcl_console.store.api", "bcl_console.store.StorageFull",
               "bcl_console.store.StoreError", "bcl_console.store.StoreBusy", "bcl_console.store.disk_full",
               "bcl_console.store.StoreUnavailable", "bcl_console.store.StoreCannotOpen",
               "bcl_console.store.StoreStandby"}
    exceptions = {("runtime.py", "bcl_console.store.sqlite"), ("runtime.py", "bcl_console.store.pg.store"),
                  ("scheduler.py", "bcl_console.store.jobs"), ("database.py", "bcl_console.store.copy"),
                  ("database.py", "bcl_console.store.pg.db")}
    offenders = []
    for room in ("services", "http", "screens", "clients", "app", "cli"):
        for path in _files(room):
            for module in _imports_of(path):
                if _room_of(module) != "store" or module in allowed or module.startswith("bcl_console.store.api."):
                    continue
                if not any(path.name == f and (module == m or module.startswith(m + ".")) for f, m in exceptions):
                    offenders.append(f"{path.relative_to(path.parents[2])}: {module}")
    assert sorted(set(offenders)) == []


def test_the_core_never_imports_the_outer_rooms_and_clients_no_store() -> None:
    offenders = []
    for room in ("domain", "store", "pdfgen", "services"):
        for path in _files(room):
            offenders += [f"{path.name}: {m}" for m in _imports_of(path) if _room_of(m) in OUTER]
    for path in _files("clients"):
        offenders += [f"{path.name}: {m}" for m in _imports_of(path) if _room_of(m) == "store"]
    assert offenders == []


def test_the_import_contracts_hold() -> None:
    """import-linter's contracts (pyproject.toml), run as CI runs them."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint)], capture_output=True, text=True, cwd=Path(bcl_console.__file__).parents[1])
    assert out.returncode == 0, out.stdout[-3000:]


def test_no_import_cycle_in_the_package() -> None:
    """Not even through imports made only for type checking or inside functions."""
    graph: dict[str, set[str]] = {}
    root = Path(bcl_console.__file__).parent
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        graph[name] = set()
        for module in _imports_of(path):
            while module and module not in graph and module.count(".") >= 1:
                if _module_exists(module):
                    break
                module = module.rsplit(".", 1)[0]
            if module.startswith("bcl_console.") and module != name:
                graph[name].add(module)
    cycles = _cycles({k: {v for v in vs if v in graph or _module_exists(v)} for k, vs in graph.items()})
    # a package's __init__ re-exporting its own modules is not a cycle between rooms
    cycles = [c for c in cycles if not all(m.startswith(min(c, key=len)) for m in c)]
    assert cycles == []


def _module_exists(module: str) -> bool:
    root = Path(bcl_console.__file__).parents[1]
    base = root.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found

"""The core never imports the UI: domain/, store/, services/ and pdfgen/ load without textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

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

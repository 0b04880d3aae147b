"""The Numba cache folder is keyed on the kernels' sources, and only on them."""

from __future__ import annotations

import re
from pathlib import Path

import scslab
from scslab._kernel_cache import kernel_sources

ROOT = Path(scslab.__file__).resolve().parent


def _names(files: list[Path]) -> set[str]:
    return {f.relative_to(ROOT).as_posix() for f in files}


def test_every_numba_module_and_what_it_imports_is_hashed():
    names = _names(kernel_sources(ROOT))
    numba_modules = {p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py")
                     if "numba" in p.read_text(encoding="utf-8")}
    assert numba_modules <= names
    # constants the kernels read at compile time, and stages imported as submodules
    assert {"params.py", "events.py", "stages/listing.py", "stages/metrics.py"} <= names
    # every scslab module a hashed module imports is hashed too
    for name in names:
        text = (ROOT / name).read_text(encoding="utf-8")
        for mod in re.findall(r"^\s*from (scslab(?:\.\w+)+) import", text, re.M):
            rel = mod.split(".", 1)[1].replace(".", "/")
            assert f"{rel}.py" in names or f"{rel}/__init__.py" in names, (name, mod)


def test_report_dashboard_and_cli_are_not_hashed():
    """Editing them must not throw the compiled kernels away."""
    names = _names(kernel_sources(ROOT))
    front = ("report/", "describe/", "sweep/", "commands/", "dashboard", "cli.py",
             "formatting.py", "comparison.py", "sensitivity")
    hashed = sorted(n for n in names if n.startswith(front))
    assert not hashed
    # the presentation modules exist under these names, so the check checks something
    assert all(any(p.relative_to(ROOT).as_posix().startswith(f) for p in ROOT.rglob("*.py"))
               for f in ("report/", "describe/", "cli.py", "formatting.py", "dashboard"))


def test_imports_are_followed_in_a_small_package(tmp_path):
    pkg = tmp_path / "scslab"
    (pkg / "stages").mkdir(parents=True)
    (pkg / "params.py").write_text("X = 1\n")
    (pkg / "stages" / "__init__.py").write_text("")
    (pkg / "stages" / "a.py").write_text("from numba import njit\nfrom scslab.params import X\n")
    (pkg / "report.py").write_text("Y = 2\n")
    assert _rel(kernel_sources(pkg), pkg) == {"params.py", "stages/a.py"}


def _rel(files: list[Path], root: Path) -> set[str]:
    return {f.relative_to(root).as_posix() for f in files}

"""Every third-party library the package imports is declared in pyproject.toml.

A fresh install (``pip install .``) brings only the core dependencies; the test
extras bring many more, so a missing declaration hides in a test environment (it
did: click). This reads the imports of every module of ``src/scslab`` and checks:

- each third-party import comes from a distribution declared directly, as a core
  dependency or in an extra (not only through another package's requirements);
- what the ``scslab`` command and ``import scslab`` load at start-up (module-level
  imports, followed through the package's own modules) is a core dependency;
- each optional library is imported lazily and, when it is missing, its command says
  which ``pip install 'scslab[EXTRA]'`` brings it.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PKG = "scslab"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _req_name(spec: str) -> str:
    return _norm(re.split(r"[\s\[<>=!~;(]", spec.strip(), maxsplit=1)[0])


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    cfg = _project()
    core = {_req_name(d) for d in cfg["dependencies"]}
    extras = {k: {_req_name(d) for d in v} for k, v in cfg["optional-dependencies"].items()}
    return core, extras


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted((SRC / PKG).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(module: str, text: str | None = None) -> list[tuple[str, bool, int]]:
    """(imported module, eager?, line) for each import in ``module`` (or in ``text`` as
    if it were that module); eager imports are those that run when the module is
    imported (module level, also inside a module-level ``if``/``try``, but not under
    ``if TYPE_CHECKING``)."""
    if text is None:
        text = MODULES[module].read_text(encoding="utf-8")
    tree = ast.parse(text)
    eager: set[int] = set()

    def mark(body):
        for node in body:
            if isinstance(node, ast.If) and _is_type_checking(node):
                continue
            eager.add(id(node))
            if isinstance(node, ast.If | ast.Try):
                for sub in (node.body, node.orelse, getattr(node, "finalbody", []),
                            *[h.body for h in getattr(node, "handlers", [])]):
                    mark(sub)

    mark(tree.body)
    is_pkg = MODULES[module].name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [prefix] + [f"{prefix}.{a.name}" for a in node.names]
        else:
            continue
        out += [(n, id(node) in eager, node.lineno) for n in names]
    return out


def _own(name: str) -> str | None:
    """The package module ``name`` refers to, if it is one of ours."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _third_party(name: str) -> str | None:
    top = name.split(".")[0]
    if top == PKG or top in sys.stdlib_module_names or top == "__future__":
        return None
    return top


def _startup_modules() -> set[str]:
    """Package modules loaded by ``import scslab`` and by the ``scslab`` command."""
    scripts = _project().get("scripts", {})
    todo = [PKG] + [v.split(":")[0] for v in scripts.values()] + [f"{PKG}.cli"]
    seen: set[str] = set()
    while todo:
        m = _own(todo.pop())
        if m is None or m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages
        todo += [n for n, eager, _ in _imports(m) if eager]
    return seen


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    # scans every installed distribution's file list: once per session, not once per import
    return md.packages_distributions()


def _distributions(top: str) -> set[str]:
    return {_norm(d) for d in _packages_distributions().get(top, [])}


def test_every_third_party_import_is_declared_directly():
    core, extras = _declared()
    declared = core | set().union(*extras.values())
    problems = []
    for module in MODULES:
        for name, _, line in _imports(module):
            top = _third_party(name)
            if top is None:
                continue
            dists = _distributions(top)
            if not dists:
                problems.append(f"{module}:{line} imports {top}, which no installed "
                                "distribution provides")
            elif not dists & declared:
                problems.append(f"{module}:{line} imports {top} ({', '.join(sorted(dists))}), "
                                "declared neither as a dependency nor in an extra")
    assert not problems, "\n".join(problems)


def test_what_starts_up_is_a_core_dependency():
    core, _ = _declared()
    startup = _startup_modules()
    assert {PKG, f"{PKG}.cli", f"{PKG}.__main__"} <= startup
    problems = []
    for module in sorted(startup):
        for name, eager, line in _imports(module):
            top = _third_party(name)
            if top is None or not eager:
                continue
            if not _distributions(top) & core:
                problems.append(f"{module}:{line} imports {top} at start-up, but it is not a "
                                "core dependency in pyproject.toml")
    assert not problems, "\n".join(problems)


def test_the_checker_tells_eager_from_lazy_imports():
    """The checks above can fail: they see an eager import of an extra-only library and
    leave alone one made inside a function or under TYPE_CHECKING."""
    text = ("from typing import TYPE_CHECKING\n"
            "import streamlit\n"
            "try:\n    import distributed\nexcept ImportError:\n    pass\n"
            "if TYPE_CHECKING:\n    import SALib\n"
            "def f():\n    import mesa\n")
    got = {n: eager for n, eager, _ in _imports(f"{PKG}.cli", text)}
    assert got == {"typing": True, "typing.TYPE_CHECKING": True, "streamlit": True,
                   "distributed": True, "SALib": False, "mesa": False}
    core, _ = _declared()
    assert not _distributions("streamlit") & core


def test_import_scslab_is_light():
    """``import scslab`` loads none of the heavy libraries; the API loads them on use."""
    code = ("import sys, scslab\n"
            "heavy = [m for m in ('numba', 'numpy', 'pandas', 'pyarrow', 'duckdb', 'plotly')"
            " if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert callable(scslab.run) and 'numba' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


OPTIONAL = [
    ("streamlit", ["serve", "--port", "8765"], "scslab[dashboard]"),
    ("SALib", ["sensitivity", "rm1", "--param", "sensors.cameras.false_match_rate=0.001:0.01",
               "--samples", "4", "--agents", "500", "--days", "2", "--no-catalog",
               "--outcome", "listed:last"],
     "scslab[dask]"),
    ("distributed", ["sweep", "rm1", "--grid", "governance.appeals.enabled=true,false", "--agents", "500", "--days", "2",
                     "--workers", "1", "--no-catalog"], "scslab[dask]"),
    ("mesa", ["bench", "--quick"], "scslab[bench]"),
]


@pytest.mark.parametrize(("module", "argv", "extra"), OPTIONAL, ids=[o[0] for o in OPTIONAL])
def test_a_missing_optional_library_names_its_extra(tmp_path, module, argv, extra):
    code = ("import sys\n"
            f"sys.modules[{module!r}] = None  # as if it were not installed\n"
            "from scslab.cli import main\n"
            f"main({argv!r})\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    err = done.stderr.strip()
    assert done.returncode == 2, (done.returncode, err[-2000:])
    assert "\n" not in err and f"pip install '{extra}'" in err, err


def test_every_optional_library_belongs_to_an_extra():
    from scslab.extras import EXTRAS

    _, extras = _declared()
    for module, (extra, _, _) in EXTRAS.items():
        assert extra in extras, extra
        assert _distributions(module) & extras[extra], (module, extra)

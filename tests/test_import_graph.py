"""The package's import graph has no cycle and keeps its layers (docs/architecture.md).

The graph is read from the source, not from ``sys.modules``: every ``import`` and
``from … import`` of every file under ``src/scslab``, at module level or inside a
function, with relative imports resolved and ``from pkg import submodule`` counted
as an import of the submodule. Importing ``a.b.c`` from outside the package
``a.b`` also runs ``a/b/__init__.py``, so that is an edge too. Imports under
``if TYPE_CHECKING:`` never run and are left out, as are imports by name at run
time (``importlib.import_module``), which the AST cannot follow.

A cycle means some module can only be imported after itself: it works today because
one side imports inside a function, and breaks as soon as someone moves that import
to the top. Break one by moving what both sides share down a layer.
"""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = "scslab"

Graph = dict[str, dict[str, int]]  # module -> {imported module: first line}


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST):
    """Every Import/ImportFrom below ``node`` except those under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:  # the ``else:`` branch does run
                yield from _import_nodes_of(other)
            continue
        yield from _import_nodes_of(child)


def _import_nodes_of(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from _import_nodes(node)


def _named(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement may load (a submodule or a package)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [target] + [f"{target}.{a.name}" for a in node.names]


def build_graph(src: Path, package: str = PKG) -> Graph:
    """The import graph of every module of ``package`` under ``src``."""
    files = {_module_name(p, src): p for p in sorted((src / package).rglob("*.py"))}

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: Graph = {m: {} for m in files}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in _import_nodes(tree):
            for name in _named(node, module, is_package):
                if name.split(".")[0] != package:
                    continue
                target = resolve(name)
                if target is None or target == module:
                    continue
                graph[module].setdefault(target, node.lineno)
                parts = target.split(".")
                for i in range(1, len(parts)):  # the packages the import runs first
                    parent = ".".join(parts[:i])
                    if parent in files and not (module == parent
                                                or module.startswith(parent + ".")):
                        graph[module].setdefault(parent, node.lineno)
    return graph


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if root in state:
            continue
        path = [root]
        todo = [iter(sorted(graph[root]))]
        state[root] = 1
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                todo.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                todo.append(iter(sorted(graph.get(nxt, {}))))
    return None


def describe_cycle(graph: Graph, cycle: list[str]) -> str:
    steps = [cycle[0]] + [f"{b} (line {graph[a][b]} of {a})"
                          for a, b in zip(cycle, cycle[1:], strict=False)]
    return "import cycle: " + " -> ".join(steps)


# -- the layers ------------------------------------------------------------------------

#: The layers, lowest first (fnmatch patterns): a module imports only modules of its own
#: layer or of layers below it. Every module is in one layer; a new module must be placed
#: here and in docs/architecture.md.
LAYERS: dict[str, list[str]] = {
    "base": ["scslab", "scslab.errors", "scslab.inputs", "scslab.fileio", "scslab.extras"],
    "scenario": ["scslab.scenario", "scslab.scenario.*"],
    "core": ["scslab._kernel_cache", "scslab._chunk_jit", "scslab.rng", "scslab.params", "scslab.state",
             "scslab.population", "scslab.events", "scslab.eventlog", "scslab.plan",
             "scslab.fairness",
             "scslab.stages", "scslab.stages.*", "scslab.engine"],
    "records": ["scslab.results", "scslab.rundir", "scslab.checkpoint", "scslab.catalog",
                "scslab.explanation", "scslab.provenance"],
    "pipeline": ["scslab.pipeline", "scslab.targets", "scslab.resources", "scslab.outcomes"],
    "reports": ["scslab.formatting", "scslab.report", "scslab.report.*", "scslab.describe",
                "scslab.describe.*", "scslab.audit", "scslab.audit.*"],
    "analyses": ["scslab.comparison", "scslab.sweep", "scslab.sweep.*", "scslab.sensitivity",
                 "scslab.sensitivity.*", "scslab.calibrate"],
    "front": ["scslab.api", "scslab.cli", "scslab.__main__", "scslab.commands",
              "scslab.commands.*", "scslab.dashboard", "scslab.dashboard_knobs"],
}
ORDER = list(LAYERS)

#: What the simulation core must never reach: anything that presents or repeats runs.
PRESENTATION = ["scslab.formatting", "scslab.report", "scslab.report.*", "scslab.describe",
                "scslab.describe.*", "scslab.dashboard", "scslab.dashboard_knobs", "scslab.cli",
                "scslab.commands", "scslab.commands.*", "scslab.sweep", "scslab.sweep.*",
                "scslab.comparison", "scslab.calibrate", "scslab.sensitivity",
                "scslab.sensitivity.*"]

#: Known exceptions, each with its reason (none at present).
ALLOWED: set[tuple[str, str]] = set()


def layer_of(module: str) -> str | None:
    for name, patterns in LAYERS.items():
        if _in(module, patterns):
            return name
    return None


def _in(module: str, patterns: list[str]) -> bool:
    return any(fnmatch(module, p) for p in patterns)


def _edges(graph: Graph):
    for a, targets in sorted(graph.items()):
        for b, line in sorted(targets.items()):
            if (a, b) not in ALLOWED:
                yield a, b, line


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(SRC)


def test_no_import_cycle(graph: Graph) -> None:
    cycle = find_cycle(graph)
    assert cycle is None, describe_cycle(graph, cycle)


def test_every_module_has_a_layer(graph: Graph) -> None:
    unplaced = sorted(m for m in graph if layer_of(m) is None)
    assert not unplaced, (f"place these modules in a layer of LAYERS (and in "
                          f"docs/architecture.md): {unplaced}")


def test_imports_go_down_the_layers(graph: Graph) -> None:
    up = [f"{a} ({layer_of(a)}) imports {b} ({layer_of(b)}), line {line}"
          for a, b, line in _edges(graph)
          if ORDER.index(layer_of(b) or "front") > ORDER.index(layer_of(a) or "front")]
    assert not up, ("a module imports a higher layer (" + " < ".join(ORDER) + "):\n  "
                    + "\n  ".join(up))


def test_core_never_imports_presentation(graph: Graph) -> None:
    core = LAYERS["scenario"] + LAYERS["core"]
    bad = [f"{a} imports {b} (line {line})" for a, b, line in _edges(graph)
           if _in(a, core) and _in(b, PRESENTATION)]
    assert not bad, ("the simulation must run without the report, the CLI or the "
                     "analyses:\n  " + "\n  ".join(bad))


def test_scenario_package_is_self_contained(graph: Graph) -> None:
    """A scenario is data: its whole schema, the data flows included, lives in scenario/."""
    allowed = LAYERS["scenario"] + LAYERS["base"]
    bad = [f"{a} imports {b} (line {line})" for a, b, line in _edges(graph)
           if _in(a, LAYERS["scenario"]) and not _in(b, allowed)]
    assert not bad, "scenario/ imports outside itself:\n  " + "\n  ".join(bad)


def test_allowed_exceptions_are_still_needed(graph: Graph) -> None:
    stale = sorted((a, b) for a, b in ALLOWED if b not in graph.get(a, {}))
    assert not stale, f"remove these from ALLOWED, the imports are gone: {stale}"


# -- the checker itself ------------------------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def test_checker_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    src = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "def f():\n    from pkg import b\n    return b\n",
        "pkg/b.py": "from . import a\n",
    })
    g = build_graph(src, "pkg")
    assert g["pkg.a"] == {"pkg": 2, "pkg.b": 2}  # ``from pkg import b`` loads both
    assert g["pkg.b"] == {"pkg": 1, "pkg.a": 1}
    cycle = find_cycle(g)
    assert cycle == ["pkg.a", "pkg.b", "pkg.a"]
    assert describe_cycle(g, cycle) == ("import cycle: pkg.a -> pkg.b (line 2 of pkg.a) "
                                        "-> pkg.a (line 1 of pkg.b)")


def test_checker_skips_type_checking_and_follows_packages(tmp_path: Path) -> None:
    src = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.b import B\n"
                    "else:\n    import json\n",
        "pkg/b.py": "from pkg.sub.c import C\n",
        "pkg/sub/__init__.py": "from .c import C\nfrom ..a import x\n",
        "pkg/sub/c.py": "from pkg import sub\n",
    })
    g = build_graph(src, "pkg")
    assert g["pkg.a"] == {}
    assert g["pkg.b"] == {"pkg.sub.c": 1, "pkg.sub": 1}  # pkg/sub/__init__ runs first
    assert g["pkg.sub"] == {"pkg.sub.c": 1, "pkg.a": 2}
    assert g["pkg.sub.c"] == {"pkg": 1, "pkg.sub": 1}
    assert find_cycle(g) == ["pkg.sub", "pkg.sub.c", "pkg.sub"]

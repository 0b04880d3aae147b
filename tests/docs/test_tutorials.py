"""The tutorials in docs/tutorials are executed: every ```python block, in order.

Each tutorial runs in one namespace, in a fresh working directory, and must end
by saving a figure (the file named in its last ``write_html``/``savefig`` call).
Blocks fenced as ```py are shown in the docs but not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[2] / "docs" / "tutorials"
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
FIGURE = re.compile(r"""(?:write_html|write_image|savefig)\(\s*["']([^"']+)["']""")


def python_blocks(path: Path) -> list[str]:
    """The ```python blocks of a Markdown file, in order."""
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def _tutorials() -> list[Path]:
    return sorted(p for p in TUTORIALS.glob("[0-9]*.md"))


#: A preset named in a tutorial's code: the first argument of a call that takes a scenario
#: (a name, or a list of names) and a YAML ``base:``.
PRESET_CALL = re.compile(
    r"""\b(?:run|compare|sweep|resolve|load_scenario|odd_markdown|describe)\(\s*"""
    r"""(\[[^\]]*\]|["'][^"']*["'])""")
PRESET_BASE = re.compile(r"^\s*base:\s*([A-Za-z0-9_-]+)\s*$", re.M)
QUOTED = re.compile(r"""["']([^"']*)["']""")


def presets_named(path: Path) -> set[str]:
    """The presets a tutorial's python blocks run, compare, sweep or start from."""
    names: set[str] = set()
    for code in python_blocks(path):
        for arg in PRESET_CALL.findall(code):
            names.update(n for n in QUOTED.findall(arg) if not n.endswith((".yaml", ".yml")))
        names.update(PRESET_BASE.findall(code))
    return names


def test_tutorials_exist() -> None:
    tutorials = _tutorials()
    assert len(tutorials) >= 5, tutorials
    for t in tutorials:
        blocks = python_blocks(t)
        assert blocks, f"{t.name} has no python block"
        assert FIGURE.search(blocks[-1]), f"{t.name}: the last python block must save a figure"


def test_tutorials_name_only_shipped_presets() -> None:
    """A preset that a tutorial uses and the package no longer ships is a failure (the
    tutorial would break for every reader), never a reason to skip the tutorial."""
    from scslab import preset_names

    shipped = set(preset_names())
    named = {t.name: presets_named(t) for t in _tutorials()}
    # the scan finds what the tutorials use (else the check below would be vacuous)
    assert {"national", "transparent", "court-blacklist"} <= set().union(*named.values()), named
    for name, presets in named.items():
        assert presets <= shipped, f"{name} uses presets that are not shipped: " \
            f"{sorted(presets - shipped)} (shipped: {sorted(shipped)})"


@pytest.mark.parametrize("path", _tutorials(), ids=lambda p: p.stem)
def test_tutorial_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    blocks = python_blocks(path)
    namespace: dict = {"__name__": f"tutorial_{path.stem.replace('-', '_')}"}
    for k, code in enumerate(blocks, 1):
        try:
            exec(compile(code, f"{path.name} (python block {k})", "exec"), namespace)  # noqa: S102
        except Exception as e:  # noqa: BLE001 - report which block failed
            raise AssertionError(f"{path.name}, python block {k} failed: "
                                 f"{type(e).__name__}: {e}\n---\n{code}") from e
    figure = FIGURE.findall(blocks[-1])[-1]
    out = tmp_path / figure
    assert out.exists(), f"{path.name} did not write its figure {figure}"
    assert out.stat().st_size > 1000, f"{figure} is (nearly) empty"

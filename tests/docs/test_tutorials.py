"""The tutorials in docs/tutorials are executed: every ```python block, in order.

Each tutorial runs in one namespace, in a fresh working directory, and must end
by saving a figure (the file named in its last ``write_html``/``savefig`` call).
Blocks fenced as ```py are shown in the docs but not run.
"""

from __future__ import annotations

import importlib
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


def _requirements(path: Path) -> str | None:
    """Why a tutorial cannot run here (a module or preset it needs is missing), or None."""
    text = path.read_text(encoding="utf-8")
    if "scslab.sweep" in text:
        try:
            importlib.import_module("scslab.sweep")
        except ImportError as e:
            return f"scslab.sweep is not importable yet ({e})"
    for preset in re.findall(r"""scslab\.run\(\s*["']([a-z0-9-]+)["']""", text):
        from scslab import preset_names

        if preset not in preset_names():
            return f"preset {preset!r} does not exist"
    return None


def test_tutorials_exist() -> None:
    tutorials = _tutorials()
    assert len(tutorials) >= 5, tutorials
    for t in tutorials:
        blocks = python_blocks(t)
        assert blocks, f"{t.name} has no python block"
        assert FIGURE.search(blocks[-1]), f"{t.name}: the last python block must save a figure"


@pytest.mark.parametrize("path", _tutorials(), ids=lambda p: p.stem)
def test_tutorial_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    why = _requirements(path)
    if why:
        pytest.skip(f"{path.name}: {why}")
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

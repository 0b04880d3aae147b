"""describe reads the model's declarations, and the declarations match the code.

The ODD's schedule, streams and bit tables come from ``scslab.plan``, ``state.BITS``,
the stages' ``SPEC``s and the dataclass field docs (``describe/model.py``). These tests
check the other direction: every stream the code draws from, every bit constant and
every state array is declared, so the description cannot silently miss one.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from scslab import plan, state
from scslab.describe import model
from scslab.population import World

SRC = Path(__file__).resolve().parents[2] / "src" / "scslab"


def _streams_in_code() -> set[str]:
    """Stream names passed to ``rng.stream_key`` / ``rng.day_key`` anywhere in the package."""
    found: set[str] = set()
    for p in SRC.rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        for m in re.finditer(r"\b(?:stream_key|day_key)\(\s*[\w.]+\s*,\s*(f?)\"([^\"]+)\"", text):
            name = m.group(2)
            if m.group(1):  # the abroad streams: f"{f.stream}:visits" with stream "abroad:<name>"
                name = re.sub(r"\{[^}]*stream\}", "abroad:<flow>", name)
            found.add(name)
        if re.search(r"\bstream\s*=\s*f\"abroad:\{", text):
            found.add("abroad:<flow>")
        if re.search(r"day_key\(\s*seed\s*,\s*stream\s*,", text):  # the engine's day keys
            found.update(plan_day_streams())
    return found


def plan_day_streams() -> set[str]:
    from scslab.stages.common import DAY_STREAMS

    return set(DAY_STREAMS)


def test_every_stream_the_code_draws_from_is_declared() -> None:
    declared = set(model.declared_streams())
    used = _streams_in_code()
    assert used, "the scan found no stream at all: the regular expression is stale"
    assert used <= declared, f"streams used but not declared: {sorted(used - declared)}"
    assert "eventlog" in used and "population" in used and "abroad:<flow>:visits" in used


def test_every_declared_stream_is_documented_and_nothing_else() -> None:
    assert set(model.STREAM_USES) == set(model.declared_streams())
    for name, _id, keyed, drives in model.random_streams():
        assert keyed in ("seed", "seed, day", "seed; seed, day") and drives, name


def test_every_bit_constant_is_declared_once_with_its_value() -> None:
    consts = {k: v for k, v in vars(state).items()
              if re.fullmatch(r"[FXBO]_[A-Z_]+", k) and isinstance(v, int)}
    composite = {"F_LISTED", "F_TLISTED"}
    declared = {b.name: b for b in state.BITS}
    assert len(declared) == len(state.BITS)
    assert set(declared) == set(consts) - composite
    for b in state.BITS:
        assert b.value == consts[b.name] and b.value & (b.value - 1) == 0, b  # one bit each
        assert b.meaning
    layouts = dict(model.flag_layouts())
    assert set(layouts) == {"flags", "exposure", "own_flags", "b_flags"}
    for bits in layouts.values():
        values = [v for _, v, _ in bits]
        assert values == sorted(values) and len(set(values)) == len(values)


def test_every_state_and_world_array_has_a_doc() -> None:
    for cls in (state.State, World):
        docs = model.field_docs(cls)
        arrays = [f.name for f in dataclasses.fields(cls) if f.type in ("np.ndarray", np.ndarray)]
        assert arrays and set(arrays) <= set(docs), (cls.__name__, set(arrays) - set(docs))


def test_the_schedule_is_the_plan() -> None:
    steps = model.schedule()
    assert [s.function for s in steps] == [c.name for c in plan.SCHEDULE]
    assert [s.stage for s in steps] == [c.stage for c in plan.SCHEDULE]
    assert {s.timer for s in steps} <= set(plan.STAGES) | {plan.SETTLE.name}
    assert all(s.doc for s in steps)


def test_describe_parses_no_source() -> None:
    for p in (SRC / "describe").glob("*.py"):
        text = p.read_text(encoding="utf-8")
        assert "getsource" not in text and not re.search(r"^import ast\b", text, re.M), p.name

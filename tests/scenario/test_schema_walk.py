"""Every field acts: perturb each leaf of a preset and see some output change.

For ``national`` (the preset with every mechanism on), one baseline run (3000 agents,
40 days, a fixed seed, the ``lively`` overlay that makes listing, exits, false matches
and businesses happen within that horizon) and one run per leaf field of the resolved
scenario, with that leaf moved to another valid value. A field passes when the daily
table or the event log (hashed in memory) differ from the baseline, or when
``scslab.scenario.inert.INERT`` says why it does nothing there (the reason is listed
for users in docs/scenarios.md); a field INERT declares inert must in turn not act.
``rm1``, the benchmark reference model, is not walked: it is deliberately minimal (one
group, one region, no ties, employers or chilling), so most of its fields wait on
mechanisms it leaves out, and ``national`` already exercises every gate.

A new field that fails here (the message names it): wire it into the simulation
(params.py → the kernel) so that it acts, or add an ``Inert(pattern, reason, when=...)``
entry to ``src/scslab/scenario/inert.py`` and to the table in docs/scenarios.md. When
the automatic perturbation is too small to show within the short horizon, give the
field a value in ``PERTURB`` (or a function in ``PERTURB_SCENARIO`` when other settings
must move with it), or make its mechanism happen in ``lively``.

Runs take one thread and about 0.1 s each once the kernels are compiled (cached on
disk); the walk is ~300 runs.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import re
import typing
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from scslab.errors import ScenarioError
from scslab.scenario import Scenario, load_scenario
from scslab.scenario.inert import INERT, inert_reason
from scslab.scenario.loader import validate_raw

ROOT = Path(__file__).resolve().parents[2]

#: preset → (agents, days): small and short, yet long enough for lists to fill. Only
#: ``national``, the preset that switches every mechanism on: ``rm1``, the benchmark
#: reference model, is deliberately minimal (one group, one region, no ties, employers,
#: sanctions or chilling), so most of its fields are inert by construction and walking it
#: would only re-check the gates ``national`` already checks.
PRESETS = {"national": (3000, 40)}

#: Values for leaves whose automatic perturbation would not show within the horizon
#: (pattern → value, or a function of the current value).
PERTURB: dict[str, Any] = {
    "days": lambda v: v - 5,
    "seed": lambda v: v + 1,
    "start_date": "2019-06-01",
    "population.represents": 1_000_000_000,
    "policy.lists.court.term_days": 3,
    "policy.lists.court.trigger": "fraud",
    "policy.lists.court.initial_share": lambda v: 0.5 if v < 0.25 else 0.05,
    "policy.lists.court.fulfil_rate": 0.5,
    "policy.lists.blacklist.min_days": lambda v: 20 if v < 20 else 0,
    "policy.scoring.max_daily_loss": 5.0,
    "policy.scoring.max_daily_gain": 0.5,
    "governance.expiry.days": 3,
    "responses.chilling.behaviour": "smoking",
    "output.event_log.full_below": 0,
    "output.event_log.sample_agents": 10,
    "population.groups.*.name": lambda v: v + "x",
    "population.regions.*.name": lambda v: v + "x",
    "policy.grades.*.name": lambda v: v + "x",
    "population.reference_group": "minority",
    # scores stay near the base within the horizon: a floor just under it binds
    "policy.scoring.minimum": lambda v: 990.0,
}


# --------------------------------------------------------------------------- walking


def _inner(ann: Any) -> Any:
    """The model class (or None) inside an annotation such as ``dict[str, Behaviour]``."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        found = _inner(arg)
        if found is not None:
            return found
    return None


def leaves(model: type[BaseModel], data: dict, prefix: tuple = ()) -> list[tuple[tuple, Any]]:
    """(path, field annotation) of every leaf of ``data``, a dump of ``model``."""
    out: list[tuple[tuple, Any]] = []
    for name, f in model.model_fields.items():
        value = data[name]
        path = (*prefix, name)
        sub = _inner(f.annotation)
        if isinstance(value, dict) and sub is not None and typing.get_origin(
                f.annotation) is not dict:
            out += leaves(sub, value, path)
        elif isinstance(value, dict) and sub is not None:  # a mapping of named blocks
            for k, v in value.items():
                out += leaves(sub, v, (*path, k))
        elif isinstance(value, list) and sub is not None:  # a list of blocks
            for i, v in enumerate(value):
                out += leaves(sub, v, (*path, i))
        elif isinstance(value, dict):  # a mapping of names to values: each entry a leaf
            out += [((*path, k), None) for k in value]
        else:
            out.append((path, f.annotation))
    return out


def dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def get(data: Any, path: tuple) -> Any:
    for p in path:
        data = data[p]
    return data


def put(data: Any, path: tuple, value: Any) -> Any:
    out = copy.deepcopy(data)
    node = out
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return out


def _choices(ann: Any) -> list[Any]:
    """The allowed values of a Literal or Enum annotation (also inside Optional)."""
    if typing.get_origin(ann) is typing.Literal:
        return list(typing.get_args(ann))
    if isinstance(ann, type) and issubclass(ann, Enum):
        return list(ann)
    for arg in typing.get_args(ann):
        if (found := _choices(arg)):
            return found
    return []


def candidates(path: tuple, ann: Any, value: Any) -> list[Any]:
    """Other values to try for a leaf, most telling first."""
    key = dotted(path)
    for pattern, new in PERTURB.items():
        if fnmatch.fnmatchcase(key, pattern) and len(pattern.split(".")) == len(path):
            new = new(value) if callable(new) else new
            return [new] if new != value else []
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, list):
        if not value:
            return []
        alts = [value[1:], value[:1], list(reversed(value))]
        lit = _choices(typing.get_args(ann)[0]) if typing.get_args(ann) else []
        alts += [[c] for c in lit]
        return [a for a in alts if a != value]
    if (choices := _choices(ann)):
        return [c for c in choices if c != value]
    if isinstance(value, int | float):
        cast = int if isinstance(value, int) else float
        if value == 0:
            return [cast(1), cast(0.5), cast(0.05), cast(-1)]
        # big moves first: a short run shows them
        return [cast(value * 10), cast(value / 10), cast(value * 2), cast(value / 2),
                cast(0), cast(1), cast(-value)]
    if isinstance(value, str):
        return [value + "x"]
    return []


# --------------------------------------------------------------------------- runs


def signature(sc: Scenario) -> str:
    """A hash of what a run produces: its daily rows and its event log, in memory.

    One thread: the output is the same on any number (counter-based randomness), and a
    run this small is quickest without the threads' start-up and contention.
    """
    from scslab.engine import Simulation

    sim = Simulation(sc, threads=1).build()
    sim.run(None)
    h = hashlib.sha256(json.dumps(sim.rows, sort_keys=True, default=str).encode())
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    table = sim.log.table()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    h.update(sink.getvalue().to_pybytes())
    return h.hexdigest()


def _shares(block: str):
    """Move 0.01 of share from this entry to the next (shares must still sum to 1)."""
    def move(raw: dict, path: tuple) -> dict:
        out = copy.deepcopy(raw)
        items = out["population"][block]
        i = path[2]
        j = (i + 1) % len(items)
        if i == j:
            return out
        d = min(0.01, items[j]["share"] / 2)
        items[i]["share"] += d
        items[j]["share"] -= d
        return out
    return move


def _rename_group(raw: dict, path: tuple) -> dict:
    """Rename a group together with the settings that name it (sensors' multipliers,
    oversampling, the reference group), which must name an existing group."""
    out = copy.deepcopy(raw)
    pop = out["population"]
    old = pop["groups"][path[2]]["name"]
    new = old + "x"
    pop["groups"][path[2]]["name"] = new
    for mapping in [pop["oversample"]] + [s.get("group_multipliers", {}) for s in
                                          out["sensors"].values()]:
        if old in mapping:
            mapping[new] = mapping.pop(old)
    if pop["reference_group"] == old:
        pop["reference_group"] = new
    return out


def _grade_band(raw: dict, path: tuple) -> list[dict]:
    """Move a grade's lower bound within its neighbours' (the list stays ordered), to
    scores agents hold within the horizon: the base, and just inside either neighbour."""
    grades = raw["policy"]["grades"]
    i = path[2]
    hi = grades[i - 1]["min_score"] if i > 0 else float("inf")
    lo = grades[i + 1]["min_score"] if i + 1 < len(grades) else -1e6
    base = raw["policy"]["scoring"]["base"]
    values = [min(max(v, lo + 1.0), hi - 1.0) for v in (base, base - 10, lo + 1.0, hi - 1.0)]
    return [put(raw, path, v) for v in dict.fromkeys(values) if lo < v < hi]


#: Leaves whose perturbation must change other settings too (pattern → function of the
#: scenario and the leaf's path, returning the perturbed scenario or a list to try).
PERTURB_SCENARIO = {
    "population.groups.*.share": _shares("groups"),
    "population.regions.*.share": _shares("regions"),
    "population.groups.*.name": _rename_group,
    "policy.grades.*.min_score": _grade_band,
}


def _as_list(x: dict | list[dict]) -> list[dict]:
    return x if isinstance(x, list) else [x]


def lively(raw: dict) -> dict:
    """The preset with its mechanisms at work within a short horizon.

    A few thousand agents over weeks list nobody under the real thresholds, so settings
    downstream of listing would look inert. The overlay makes each mechanism happen often
    enough to see, keeping every switch (``enabled``, ``transparency``...) as the preset
    has it:

    - the blacklist is entered and left near the base score, after a few days, and
      scores return to the base faster (decay 0.1), so agents leave the lists;
    - the court list starts filled (initial_share); redlisting is near the base and
      redlisted agents are rewarded often;
    - the grade bands sit where scores are within weeks (around the base);
    - regions have even shares, and every act happens at least at 5e-4 a day (court
      defaults: ~1 act in 3000 agents × 40 days at the preset's rate), so each regional
      rule meets acts; every sensor names the wrong person often, so that false-match
      targeting (scope, same-group preference, classification) has cases to act on;
    - a business is listed and recovers within weeks (thresholds near the base, faster
      decay, a bigger fall per day of a listed representative), so both its thresholds
      are reached, and the listed attempt sanctioned acts often (attempt_rate ≥ 0.1):
      a representative who has left the list while the business is still on it meets
      the representative sanctions;
    - the event log samples when the population exceeds ``full_below``;
    - settings gated off by the preset (expiry's days) get values that would show once
      their switch is flipped (they are inert in the baseline).
    """
    out = copy.deepcopy(raw)
    base = out["policy"]["scoring"]["base"]
    lists = out["policy"]["lists"]
    out["policy"]["scoring"]["decay"] = max(out["policy"]["scoring"]["decay"], 0.1)
    bl = lists["blacklist"]
    bl.update(enter_below=base - 20, exit_at_or_above=base - 10,
              min_days=min(bl["min_days"], 3))
    lists["court"]["initial_share"] = max(lists["court"]["initial_share"], 0.05)
    lists["redlist"]["min_score"] = base + 4
    out["policy"]["rewards"]["rate"] = max(out["policy"]["rewards"]["rate"], 0.3)
    grades = out["policy"]["grades"]
    for k, g in enumerate(grades[:-1]):
        g["min_score"] = base + 6 - 4 * k
    for beh in out["behaviours"].values():
        beh["rate"] = max(beh["rate"], 5e-4)
    regions = out["population"]["regions"]
    for reg in regions:  # even shares: a pilot city of 2% holds 60 agents
        reg["share"] = 1.0 / len(regions)
    for sensor in out["sensors"].values():
        # vehicle recognition errs by misreading plates (and by the owner not driving)
        rate = "false_match_rate" if "false_match_rate" in sensor else "plate_misread_rate"
        sensor[rate] = max(sensor[rate], 0.2)
    emp = out["policy"]["spillover"]["employer"]
    emp.update(business_enter_below=base - 50, business_exit_at_or_above=base - 30,
               business_decay=max(emp["business_decay"], 0.3),
               representative_listed_points=max(emp["representative_listed_points"], 50.0))
    for sanction in out["policy"]["sanctions"].values():
        sanction["attempt_rate"] = max(sanction["attempt_rate"], 0.1)
    log = out["output"]["event_log"]
    log["sample_agents"] = min(log["sample_agents"], out["population"]["agents"] // 10)
    out["governance"]["expiry"]["days"] = min(out["governance"]["expiry"]["days"], 10)
    return out


def _small(name: str) -> dict:
    agents, days = PRESETS[name]
    raw = load_scenario(name).model_dump(mode="python")
    raw["population"]["agents"] = agents
    raw["days"] = days
    return lively(raw)


def acts(base: dict, path: tuple, ann: Any, name: str, reference: str) -> bool | None:
    """Whether moving leaf ``path`` of ``base`` changes the run (None: no valid value)."""
    key = dotted(path)
    whole = [fn for pattern, fn in PERTURB_SCENARIO.items()
             if fnmatch.fnmatchcase(key, pattern) and len(pattern.split(".")) == len(path)]
    tries = ([t for fn in whole for t in _as_list(fn(base, path))] if whole else
             [put(base, path, new) for new in candidates(path, ann, get(base, path))])
    tried = False
    for raw in tries:
        try:
            sc = validate_raw(raw, name)
        except ScenarioError:
            continue
        tried = True
        if signature(sc) != reference:
            return True
    return False if tried else None


FIX = ("Wire it into the simulation (params.py → the kernel), give it a telling value in "
       "PERTURB / PERTURB_SCENARIO or the lively() overlay (tests/scenario/"
       "test_schema_walk.py), or declare it inert with a reason: Inert(pattern, reason, "
       "when=...) in src/scslab/scenario/inert.py and the table in docs/scenarios.md")


@pytest.fixture
def one_thread():
    """The runs use one Numba thread (``signature``); give the rest of the suite back all."""
    import numba

    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_field_acts_or_is_declared_inert(name, one_thread):
    """Each leaf acts, or INERT says why not; and a leaf INERT calls inert does not act."""
    base = _small(name)
    reference = signature(validate_raw(base, name))
    problems: list[str] = []
    for path, ann in leaves(Scenario, base):
        key = dotted(path)
        if path == ("population", "agents"):
            continue  # set by this test; the population size acts on every count
        reason = inert_reason(key, base)
        value = get(base, path)
        moved = acts(base, path, ann, name, reference)
        if reason is None and moved is None:
            problems.append(f"{key} = {value!r}: no valid other value found; give one in "
                            "PERTURB (tests/scenario/test_schema_walk.py)")
        elif reason is None and not moved:
            problems.append(f"{key} = {value!r}: changing it changes no output of {name}. "
                            + FIX)
        elif reason is not None and moved:
            problems.append(f"{key} = {value!r}: declared inert ({reason}) but changing it "
                            f"changes the output of {name}: remove or narrow its entry in "
                            "src/scslab/scenario/inert.py and docs/scenarios.md")
    assert not problems, f"{len(problems)} field(s) of {name}:\n" + "\n".join(problems)


def test_inert_table_is_listed_in_the_docs():
    """Users see every entry: docs/scenarios.md lists each pattern of the table."""
    text = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    missing = [e.pattern for e in INERT if f"`{e.pattern}`" not in text]
    assert not missing, f"docs/scenarios.md does not list: {missing}"


def test_inert_reason_matches_gates():
    data = load_scenario("national").model_dump(mode="python")
    assert inert_reason("governance.appeals.review_delay_days", data)
    assert inert_reason("governance.appeals.enabled", data) is None  # the gate itself acts
    assert inert_reason("name", data)
    assert inert_reason("sensors.cameras.detection", data) is None
    off = put(data, ("sensors", "cameras", "enabled"), False)
    assert inert_reason("sensors.cameras.detection", off)
    assert inert_reason("sensors.tax_records.detection", off) is None
    assert not re.search(r"\s$", inert_reason("name", data))
    # the lowest grade only: the others bound their band
    last = len(data["policy"]["grades"]) - 1
    assert inert_reason(f"policy.grades.{last}.min_score", data)
    assert inert_reason(f"policy.grades.{last - 1}.min_score", data) is None
    # awareness: the one that transparency does not choose waits
    assert inert_reason("responses.deterrence.awareness_published", data)
    assert inert_reason("responses.deterrence.awareness_secret", data) is None
    published = put(data, ("governance", "transparency"), "published")
    assert inert_reason("responses.deterrence.awareness_published", published) is None
    assert inert_reason("responses.deterrence.awareness_secret", published)

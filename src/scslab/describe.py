"""``scslab describe``: an ODD description of a scenario, generated from the model itself.

The ODD protocol (Overview, Design concepts, Details; Grimm et al. 2006, second
update Grimm et al. 2020, JASSS 23(2):7) is the standard way to describe an
agent-based model. This module writes one for any scenario, from what the code
declares rather than from a copy of it:

* entities and state variables from the arrays that ``population.build_world``
  and ``state.State.initial`` actually allocate (dtype, bytes per agent);
* the schedule from the engine's own day (``engine.Simulation.step`` parsed for
  the order of its stage calls, ``engine.STAGES`` and each stage module's
  docstring);
* random streams from the stream names the engine and the population builder use;
* every parameter's value, unit and source by walking the pydantic scenario;
* submodels as rules and formulas with the scenario's numbers substituted,
  read from the compiled tables the kernels run on (``params.compile_params``):
  edit ``policy.rules.fraud`` and the rule table here changes.

Markdown by default; HTML through the ``markdown`` package when it is installed,
otherwise through a small converter in this module.
"""

from __future__ import annotations

import ast
import html
import importlib
import inspect
import math
import pkgutil
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from scslab.params import N_HIST
from scslab.reference import (
    container_of,
    field_meta,
    fmt_number,
    fmt_value,
    is_model,
    md_cell,
    md_code,
)
from scslab.scenario.schema import Cameras, Scenario

__all__ = [
    "DESIGN_CONCEPTS",
    "ODD_SECTIONS",
    "Parameter",
    "ScheduleStep",
    "StateVariable",
    "describe",
    "input_parameters",
    "markdown_to_html",
    "odd_markdown",
    "random_streams",
    "schedule",
    "state_variables",
    "write_description",
]

ODD_SECTIONS: tuple[str, ...] = (
    "Purpose and patterns",
    "Entities, state variables and scales",
    "Process overview and scheduling",
    "Design concepts",
    "Initialisation",
    "Input data",
    "Submodels",
)
DESIGN_CONCEPTS: tuple[str, ...] = (
    "Basic principles", "Emergence", "Adaptation", "Objectives", "Learning", "Prediction",
    "Sensing", "Interaction", "Stochasticity", "Collectives", "Observation",
)
SAMPLE_AGENTS = 20_000  # size of the sample population built to read arrays and realised shares

#: What each named random stream drives (names are read from the code; see ``random_streams``).
STREAM_USES: dict[str, str] = {
    "population": "the population build: household sizes, each household's group, each "
                  "agent's sex, age class, disposition and employment",
    "ties": "the number of social ties each agent starts and where they land",
    "businesses": "the sizes of businesses (log-normal weights)",
    "awareness": "whether an agent knows the rules — a fixed trait, one draw per agent for "
                 "the whole run",
    "behaviour": "each agent's acts of the day (one uniform per agent, behaviour and day)",
    "sensing": "which sensor observes an act, false matches, the classified sex and age, the "
               "wrongly matched agent, evidence review",
    "listing": "early fulfilment of a court obligation",
    "sanctions": "attempts to fly, travel, buy, borrow, claim a service or enrol a child; "
                 "reward claims",
    "due_process": "appeal filing and decisions, credit-repair acts",
    "eventlog": "which agents are in the event-log sample (fixed for the run)",
    "abroad:<flow>": "per data flow abroad: each foreign resident's fixed traits (person of "
                     "interest, home tie) and the day's captures and identifications",
    "abroad:<flow>:visits": "which foreign residents visit the site abroad that day",
    "abroad:<flow>:count": "the rounding of the number of new visitors when the resident "
                           "population is unknown",
}

#: Descriptions for arrays whose declaration carries no comment.
ARRAY_NOTES: dict[str, str] = {
    "region": "Region index of the agent",
    "hh_size": "Size of the agent's household",
    "tie_ptr": "CSR offsets into tie_idx (length n+1, or 1 when there are no ties)",
}


# --------------------------------------------------------------------------- small helpers


def _n(x: Any) -> str:
    """A number for prose: thousands separators for large integers."""
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer) or (isinstance(x, float | np.floating)
                                           and float(x).is_integer() and abs(float(x)) < 1e15):
        v = int(x)
        return f"{v:,}" if abs(v) >= 1000 else str(v)
    return fmt_number(float(x))


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f} %"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def _first_sentence(doc: str | None) -> str:
    if not doc:
        return ""
    text = " ".join(doc.strip().split())
    m = re.match(r"(.+?\.)(\s|$)", text)
    return m.group(1) if m else text


def _doc_text(doc: str | None) -> str:
    """A docstring's first paragraph on one line."""
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def _plural(k: int, word: str) -> str:
    return f"{_n(k)} {word}{'' if k == 1 else 's'}"


# --------------------------------------------------------------------------- state variables


@dataclass(frozen=True)
class StateVariable:
    """One array of the model's state, as allocated."""

    owner: str  # "World" (fixed attributes) or "State" (changes during a run)
    name: str
    entity: str  # agent, tie, business, region
    dtype: str
    itemsize: int
    bytes_per_agent: float  # measured: array bytes / agents (0 for per-region tables)
    description: str


def _field_comments(cls: type) -> dict[str, str]:
    """``name: np.ndarray  # comment`` lines of a dataclass, read from its source."""
    try:
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for m in re.finditer(r"^\s+(\w+):\s*np\.ndarray\s*#\s*(.*)$", src, re.M):
        out[m.group(1)] = m.group(2).strip()
    return out


def _strip_dtype(comment: str, dtype: str) -> str:
    c = re.sub(rf"^{re.escape(dtype)}\b[:,]?\s*", "", comment)
    return c[:1].upper() + c[1:] if c else c


def state_variables(world: Any, state: Any) -> list[StateVariable]:
    """Every array of ``world`` and ``state`` with its dtype and measured bytes per agent."""
    from dataclasses import fields as dc_fields

    n = max(int(world.n), 1)
    out: list[StateVariable] = []
    for owner, obj in (("World", world), ("State", state)):
        notes = _field_comments(type(obj))
        for f in dc_fields(obj):
            arr = getattr(obj, f.name)
            if not isinstance(arr, np.ndarray):
                continue
            name = f.name
            if name == "tie_ptr":
                entity = "agent (tie offsets)"
            elif name.startswith("tie_"):
                entity = "tie"
            elif name.startswith(("b_", "biz_")):
                entity = "business"
            elif name.startswith("region_"):
                entity = "region"
            elif arr.shape[:1] == (world.n,):
                entity = "agent"
            else:
                entity = "other"
            per_agent = 0.0 if entity in ("region", "other") else arr.nbytes / n
            note = _strip_dtype(notes.get(name, ""), str(arr.dtype)) or ARRAY_NOTES.get(name, "")
            out.append(StateVariable(owner, name, entity, str(arr.dtype), int(arr.itemsize),
                                     per_agent, note))
    return out


def _bit_layouts() -> list[tuple[str, list[tuple[str, int, str]]]]:
    """(array, [(constant, value, meaning)]) for the packed flag arrays, read from params."""
    from scslab import state as P

    comments = {}
    try:
        for m in re.finditer(r"^(F_\w+) = (\d+)\s*#\s*(.*)$", inspect.getsource(P), re.M):
            comments[m.group(1)] = m.group(3).strip()
    except (OSError, TypeError):
        pass
    flags = [(k, int(getattr(P, k)), comments.get(k, "")) for k in dir(P)
             if re.fullmatch(r"F_[A-Z_]+", k) and k in comments]
    x_meaning = {"HH": "a household member is listed", "TIE": "at least one tie is listed",
                 "EMP": "the agent's employer (a business) is listed",
                 "REP": "the agent is the legal representative of a listed business"}
    exposure = []
    for k in dir(P):
        xm = re.fullmatch(r"X_(T?)(HH|TIE|EMP|REP)", k)
        if xm:
            twin = xm.group(1) == "T" and xm.group(2) != "TIE" or k == "X_TTIE"
            exposure.append((k, int(getattr(P, k)), x_meaning[xm.group(2)]
                             + (" (twin ledger)" if twin else " (recorded ledger)")))
    biz = [(k, int(getattr(P, k)), "business listed" + (" (twin ledger)" if k.startswith("B_T")
                                                        else " (recorded ledger)"))
           for k in dir(P) if re.fullmatch(r"B_T?LISTED", k)]
    return [(name, sorted(bits, key=lambda b: b[1])) for name, bits in
            (("flags", flags), ("exposure", exposure), ("b_flags", biz)) if bits]


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class ScheduleStep:
    """One call of the engine's day, in order."""

    timer: str  # the stage timer the engine charges it to (``Simulation.stage_seconds``)
    function: str  # the function called ("settle_kernel › score_agent" inside a fused pass)
    stage: str  # the stage module that defines the rule (behaviour, sensing, …)
    module: str  # that module's full name
    doc: str  # first sentence of its docstring
    conditional: bool  # runs only when a condition holds (e.g. the scenario has ties)


_HELPER_MODULES = ("scslab.stages.common",)


def _functions(modules: list[str]) -> dict[str, tuple[str, Any]]:
    """Name → (module, function) for functions defined in ``modules``."""
    out: dict[str, tuple[str, Any]] = {}
    for modname in modules:
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        for name, obj in vars(mod).items():
            py = getattr(obj, "py_func", obj)
            if callable(obj) and getattr(py, "__module__", "") == mod.__name__:
                out.setdefault(name, (mod.__name__, obj))
    return out


def _stage_modules() -> list[str]:
    import scslab.stages as stages_pkg

    return [f"scslab.stages.{m.name}" for m in pkgutil.iter_modules(stages_pkg.__path__)
            if f"scslab.stages.{m.name}" not in _HELPER_MODULES]


def _call_name(node: ast.Call) -> str | None:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        if f.attr == "step" and isinstance(f.value, ast.Attribute) and isinstance(
                f.value.value, ast.Name) and f.value.value.id == "self":
            return f"self.{f.value.attr}.step"
        return f.attr
    return None


def _ordered_calls(tree: ast.AST) -> list[tuple[ast.Call, tuple[tuple[int, str, str], ...]]]:
    """Every call in source order, with its ``if`` ancestors as (node id, branch, test)."""
    found: list[tuple[int, int, ast.Call, tuple]] = []

    def visit(node: ast.AST, anc: tuple) -> None:
        if isinstance(node, ast.If | ast.IfExp):
            test = ast.unparse(node.test)
            visit(node.test, anc)
            body = node.body if isinstance(node.body, list) else [node.body]
            orelse = node.orelse if isinstance(node.orelse, list) else [node.orelse]
            for child in body:
                visit(child, (*anc, (id(node), "body", test)))
            for child in orelse:
                visit(child, (*anc, (id(node), "else", test)))
            return
        if isinstance(node, ast.Call):
            found.append((node.lineno, node.col_offset, node, anc))
        for sub in ast.iter_child_nodes(node):
            visit(sub, anc)

    visit(tree, ())
    found.sort(key=lambda t: (t[0], t[1]))
    return [(c, a) for _, _, c, a in found]


def _parse(fn: Any) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(getattr(fn, "py_func", fn))))
    except (OSError, TypeError, SyntaxError):
        return None


def _substeps(fn: Any, modname: str, stage_fns: dict[str, tuple[str, Any]],
              _seen: frozenset[str] = frozenset()) -> list[tuple[str, str, str, str]]:
    """(function, stage, module, doc) of the stage functions a fused kernel calls, in order.

    The stage of each call is the stage module that defines the function, or the
    ``PLAN`` entry of the ``stages & ST_X`` test that guards it. Calls to other
    functions of the kernel's own module (a per-chunk body) are followed.
    """
    tree = _parse(fn)
    if tree is None:
        return []
    mod = importlib.import_module(modname)
    plan = {int(bit): name for name, bit in getattr(mod, "PLAN", ())}
    out = []
    for call, anc in _ordered_calls(tree):
        name = _call_name(call)
        own = getattr(mod, name, None) if name else None
        if name and name not in stage_fns and own is not None and name not in _seen \
                and getattr(getattr(own, "py_func", own), "__module__", None) == modname:
            out += _substeps(own, modname, stage_fns, _seen | {name})
            continue
        if name not in stage_fns:
            continue
        smod, obj = stage_fns[name]
        stage = smod.rsplit(".", 1)[-1]
        for _, _, test in reversed(anc):
            m = re.search(r"\bST_\w+", test)
            if m and isinstance(getattr(mod, m.group(0), None), int):
                stage = plan.get(int(getattr(mod, m.group(0))), stage)
                break
        doc = getattr(getattr(obj, "py_func", obj), "__doc__", None)
        out.append((name, stage, smod, _first_sentence(doc)))
    return out


def schedule() -> list[ScheduleStep]:
    """The calls of one simulated day in the order ``engine.Simulation.step`` makes them.

    Read from the engine's source: each ``self._lap("timer", …)`` closes a timed
    segment, and the stage-module functions called before it (directly or through
    ``run_chunked``) are its steps. A fused kernel outside the stage modules (the
    settle pass) is opened up into the stage functions it calls, in order. A call
    is *conditional* when an ``if`` guards it and the other branch does not make
    the same call. Falls back to ``engine.STAGES`` if the source cannot be read.
    """
    from scslab import engine

    stage_fns = _functions(_stage_modules())
    other_fns = _functions(["scslab.stages.settle"])
    tree = _parse(engine.Simulation.step)
    steps: list[ScheduleStep] = []
    if tree is not None:
        calls = _ordered_calls(tree)
        # which functions each if-branch calls, to tell real conditions from A/B variants
        branch_calls: dict[tuple[int, str], set[str]] = {}
        named: list[tuple[str | None, ast.Call, tuple]] = []
        for call, anc in calls:
            name = _call_name(call)
            if name == "run_chunked" and call.args:
                inner = call.args[0]
                name = inner.id if isinstance(inner, ast.Name) else getattr(inner, "attr", name)
            named.append((name, call, anc))
            for node_id, branch, _ in anc:
                branch_calls.setdefault((node_id, branch), set()).add(name or "")
        pending: list[tuple[str, str, str, str, bool]] = []
        seen_in_segment: set[str] = set()
        for name, call, anc in named:
            if name == "_lap":
                if call.args and isinstance(call.args[0], ast.Constant):
                    timer = str(call.args[0].value)
                    steps += [ScheduleStep(timer, *x) for x in pending]
                    pending, seen_in_segment = [], set()
                continue
            if not name or name in seen_in_segment:
                continue
            cond = any(name not in branch_calls.get((nid, "else" if br == "body" else "body"),
                                                    set()) for nid, br, _ in anc)
            if name.startswith("self.") and name.endswith(".step"):
                attr = name.split(".")[1]
                modname = f"scslab.stages.{attr}"
                try:
                    doc = _first_sentence(importlib.import_module(modname).__doc__)
                except ImportError:
                    modname, doc = "scslab.engine", ""
                pending.append((f"{attr}.step", attr, modname, doc, cond))
            elif name in stage_fns:
                modname, obj = stage_fns[name]
                fn_doc = getattr(getattr(obj, "py_func", obj), "__doc__", None) or importlib \
                    .import_module(modname).__doc__
                pending.append((name, modname.rsplit(".", 1)[-1], modname,
                                _first_sentence(fn_doc), cond))
            elif name in other_fns:
                modname, obj = other_fns[name]
                for sub, stage, smod, doc in _substeps(obj, modname, stage_fns):
                    pending.append((f"{name} › {sub}", stage, smod, doc, cond))
            else:
                continue
            seen_in_segment.add(name)
    if not steps:
        for stage in engine.STAGES:
            modname = f"scslab.stages.{stage}"
            try:
                doc = _first_sentence(importlib.import_module(modname).__doc__)
            except ImportError:
                doc = ""
            steps.append(ScheduleStep(stage, stage, stage, modname, doc, False))
    return steps


# --------------------------------------------------------------------------- random streams


def random_streams() -> list[tuple[str, int, str, str]]:
    """(stream, 32-bit stream id, keyed by, what it drives) for every named stream.

    The names are read from the calls to ``rng.day_key``/``rng.stream_key`` (and the
    engine's ``_key``) in the engine, the population builder and the stage modules.
    """
    import scslab.stages as stages_pkg
    from scslab import engine, population, rng

    mods: list[Any] = [engine, population]
    for info in pkgutil.iter_modules(stages_pkg.__path__):
        mods.append(importlib.import_module(f"scslab.stages.{info.name}"))
    found: dict[str, set[str]] = {}
    for mod in mods:
        try:
            src = inspect.getsource(mod)
        except (OSError, TypeError):
            continue
        assigned = re.findall(r"\bstream\s*=\s*f?\"([^\"]+)\"", src)

        def norm(name: str, assigned: list[str] = assigned) -> str:
            if assigned:
                name = re.sub(r"\{[^}]*\bstream\}", assigned[0], name)
            return re.sub(r"\{(?:[\w]+\.)*?(\w+?)(?:\.name)?\}", r"<\1>", name)

        keyed = re.finditer(r"\b(_key|day_key|stream_key)\(\s*(?:[\w.]+\s*,\s*)?"
                            r"(f?)\"([^\"]+)\"", src)
        for m in keyed:
            kind = "seed, day" if m.group(1) in ("_key", "day_key") else "seed"
            name = norm(m.group(3)) if m.group(2) else m.group(3)
            found.setdefault(name, set()).add(kind)
        for m in re.finditer(r"\b(day_key|stream_key)\(\s*[\w.]+\s*,\s*[\w.]*\bstream\s*[,)]",
                             src):
            for a in assigned:
                found.setdefault(norm(a), set()).add("seed, day" if m.group(1) == "day_key"
                                                     else "seed")
    order = list(STREAM_USES)
    names = sorted(found, key=lambda s: (order.index(s) if s in order else len(order), s))
    return [(s, rng.stream_id(s) if "<" not in s else -1, "; ".join(sorted(found[s])),
             STREAM_USES.get(s, "(not documented)")) for s in names]


# --------------------------------------------------------------------------- input data


@dataclass(frozen=True)
class Parameter:
    """One parameter value of a scenario, at its ``--set`` path."""

    path: str
    value: Any
    unit: str
    source: str
    description: str
    default: Any = field(default=None)
    has_default: bool = False

    @property
    def is_default(self) -> bool:
        """Whether the value is the schema's default at this path."""
        return self.has_default and _same(self.value, self.default)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, BaseModel):
        a = a.model_dump(mode="json")
    if isinstance(b, BaseModel):
        b = b.model_dump(mode="json")
    if hasattr(a, "value") and not isinstance(a, int | float | str):
        a = a.value
    if hasattr(b, "value") and not isinstance(b, int | float | str):
        b = b.value
    if isinstance(a, tuple):
        a = list(a)
    if isinstance(b, tuple):
        b = list(b)
    return a == b


def _walk_instance(model: type[BaseModel], inst: BaseModel, prefix: str) -> list[Parameter]:
    out: list[Parameter] = []
    for name, info in type(inst).model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        v = getattr(inst, name)
        unit, source = field_meta(info)
        desc = info.description or ""
        kind, item = container_of(info.annotation)
        if isinstance(v, BaseModel):
            out += _walk_instance(type(v), v, path)
        elif kind == "list" and is_model(item) and v:
            for i, x in enumerate(v):
                out += _walk_instance(type(x), x, f"{path}.{i}")
        elif kind == "dict" and v and (is_model(item) or not isinstance(
                next(iter(v.values())), dict)):
            for k, x in v.items():
                if isinstance(x, BaseModel):
                    out += _walk_instance(type(x), x, f"{path}.{k}")
                else:
                    out.append(Parameter(f"{path}.{k}", x, unit, source, desc))
        else:
            out.append(Parameter(path, v, unit, source, desc))
    return out


def input_parameters(sc: Scenario) -> list[Parameter]:
    """Every parameter value of ``sc`` (leaves of the scenario), with unit, source and default.

    Paths are ``--set`` paths (``population.regions.3.rules.criticism``). The
    default is the value at the same path in a scenario with no settings at all;
    mappings and lists that are empty in ``sc`` appear once, as ``{}`` or ``[]``.
    """
    defaults = {p.path: p.value for p in _walk_instance(Scenario, Scenario(), "")}
    out = []
    for p in _walk_instance(Scenario, sc, ""):
        has = p.path in defaults
        out.append(Parameter(p.path, p.value, p.unit, p.source, p.description,
                             defaults.get(p.path), has))
    return out


# --------------------------------------------------------------------------- context


@dataclass
class _Ctx:
    sc: Scenario
    origin: str
    p: Any  # params.Params
    world: Any
    state: Any
    n_sample: int
    params: list[Parameter]
    sim: Any  # engine.Simulation built on the sample population (not run)

    @property
    def N(self) -> int:  # noqa: N802 - the population size, as in the text
        return int(self.sc.population.agents)


def _context(sc: Scenario, origin: str) -> _Ctx:
    """Compile the scenario and build a sample of its population, as a run would.

    ``Simulation.build`` calls ``population.build_world`` and ``State.initial``
    (and sets up the optional stages the scenario needs); nothing is run.
    """
    from scslab.engine import Simulation
    from scslab.params import compile_params
    from scslab.scenario.loader import load_scenario

    n_sample = min(int(sc.population.agents), SAMPLE_AGENTS)
    small = load_scenario(sc, {"population.agents": n_sample})
    sim = Simulation(small).build()
    p = compile_params(sc, int(sc.population.agents))
    return _Ctx(sc, origin, p, sim.world, sim.state, n_sample, input_parameters(sc), sim)


def _active(c: _Ctx, step: ScheduleStep) -> bool:
    """Whether an optional stage object (``self.<x>.step``) is set up for this scenario."""
    if step.function.endswith(".step"):
        return getattr(c.sim, step.function.split(".")[0], None) is not None
    return True


def _rst_to_md(text: str) -> str:
    """Docstring markup (reST roles, double backticks) as Markdown."""
    text = re.sub(r":(?:func|meth|data|class|attr|mod):`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


# --------------------------------------------------------------------------- sections


def _purpose(c: _Ctx) -> str:
    sc = c.sc
    sourced = [x for x in c.params if x.is_default and not x.source.startswith("assumption")]
    set_by_file = [x for x in c.params if not x.is_default]
    assumed = [x for x in c.params if x.is_default and x.source.startswith("assumption")]
    cites = sorted({x.source for x in c.params if not x.source.startswith("assumption")})
    desc = " ".join(sc.description.split()) or "(the scenario has no description)"
    lines = [
        "**Purpose.** scslab simulates a social credit system over a synthetic population in "
        "order to show how such a system works — data sources, rules, lists, sanctions and "
        "their spread to relatives and employers — and to put numbers on what it does to "
        "people: wrongful listings caused by identity errors, collateral punishment, unequal "
        "error rates between groups, chilling of speech, and what published rules and due "
        "process would change. It is a laboratory for comparing policies, not a forecast of "
        "any real person or place, and it never uses real people's data.",
        "",
        f"**This scenario** (`{sc.name}`): {desc}",
        "",
        "**Patterns.** The model is built to produce, and to let users compare across "
        "scenarios, these patterns (each is a daily column, see 4.11 Observation):",
        "",
        "- the size of the lists over time (`listed`, `listed_blacklist`, `listed_court`), "
        "its inflow and outflow (`list_entries`, `list_exits`);",
        "- harms that the real system does not measure: wrongful listings against the twin "
        "ledger (`wrongful_listed`), denials suffered by the wrongfully listed "
        "(`denied_wrongful`), collateral sanctions through relatives and employers "
        "(`collateral_sanctioned`, `collateral_denials`);",
        "- unequal treatment: per-group wrongful-listing rates and their ratio "
        "(`wrongful_rate__<group>`, `disparate_impact`);",
        "- deterrence and chilling: acts per behaviour (`acts_<behaviour>`), and with "
        "`--chilling` the share of speech suppressed by monitoring (`chilling_effect`);",
        "- the effect of due process when enabled (`appeals_filed`, `appeals_succeeded`, "
        "`expired`, `credit_repairs`).",
        "",
        "Published figures that such outputs can be set against (from the calibration sheet, "
        "`reference/calibration.md`) include the growth of the court list of dishonest "
        "judgment debtors (87,079 people in March 2014, 9.59 million at the end of 2017, "
        "about 0.68 % of 1.4 billion), blocked flight and train purchases (17.5 million and "
        "5.5 million in 2018) and awareness of local pilots (about 11 % of residents). These "
        "are reference points for comparison, not targets the model has been fitted to.",
        "",
        f"**Where the numbers come from.** Of the {len(c.params)} parameter values in 6 Input "
        f"data, {len(set_by_file)} are set by the scenario file, {len(sourced)} keep a "
        f"default with a published source and {len(assumed)} keep a default that is an "
        "assumption. Sources cited by the schema: "
        + ("; ".join(md_cell(s) for s in cites) if cites else "none") + ".",
    ]
    return "\n".join(lines)


def _entities(c: _Ctx) -> str:
    sc, N = c.sc, c.N
    pop = sc.population
    svs = state_variables(c.world, c.state)
    per_agent_state = sum(v.bytes_per_agent for v in svs if v.owner == "State"
                          and v.entity == "agent")
    per_agent_attr = sum(v.bytes_per_agent for v in svs if v.owner == "World"
                         and v.entity == "agent")
    per_agent_ties = sum(v.bytes_per_agent for v in svs if v.name.startswith("tie_"))
    per_agent_biz = sum(v.bytes_per_agent for v in svs if v.entity == "business")
    total = per_agent_state + per_agent_attr + per_agent_ties + per_agent_biz
    adults = 1 - pop.age.child_share - pop.age.elderly_share
    n_biz_est = _businesses_estimate(sc)
    lines = [
        "**Entities.**",
        "",
        f"- *Agents* — {_n(N)} synthetic persons, numbered 0 … {_n(N - 1)}. Fixed attributes: "
        "sex, age class (child, adult, elderly), demographic group, region, household, "
        "employer, a latent disposition to break rules. Changing state: the recorded score, "
        "the twin-ledger score (the score the agent would have with no identity errors), "
        "list memberships on both ledgers, exposure to spillover, list dates, a pending "
        "appeal, the number of listed ties.",
        f"- *Households* — contiguous ranges of agent ids inside a region (mean size "
        f"{_n(round(_mean_household(sc), 2))}); they carry no state of their own.",
        (f"- *Businesses* — about {_n(n_biz_est)} employers (mean size "
         f"{_n(pop.employers.mean_size)} employees); each has a legal representative (its "
         "first employee), a score on both ledgers and a listed flag." if n_biz_est else
         "- *Businesses* — none (`population.employers.employed_share` is 0)."),
        (f"- *Social ties* — a symmetric network, mean degree {_n(pop.ties.mean_degree)}, "
         f"{_pct(pop.ties.within_region, 0)} inside the agent's region."
         if pop.ties.mean_degree > 0 else
         "- *Social ties* — none (`population.ties.mean_degree` is 0)."),
        f"- *Regions* ({len(pop.regions)}) and *groups* ({len(pop.groups)}) — categories "
        "that set camera density, local rules and false-match rates; no state.",
        "- *Sensors* and *lists* — the system's side: sensors are parameters (coverage, "
        "detection, error rates), lists are the agents' flags.",
        "",
        "**State variables.** The arrays a run allocates, read from a "
        f"{_n(c.n_sample)}-agent build of this scenario (`World` is fixed for the run, "
        "`State` changes every day). Bytes per agent are measured: the array's bytes divided "
        "by the number of agents.",
        "",
    ]
    rows = []
    for v in svs:
        bpa = f"{v.bytes_per_agent:.2f}" if v.bytes_per_agent else "–"
        rows.append([md_code(f"{v.owner}.{v.name}"), v.entity, md_code(v.dtype),
                     str(v.itemsize), bpa, md_cell(v.description)])
    lines.append(_table(["array", "one per", "dtype", "bytes per item", "bytes per agent",
                         "meaning"], rows))
    lines += [
        "",
        f"Memory per agent: {per_agent_state:.1f} B of changing state + {per_agent_attr:.1f} B "
        f"of fixed attributes + {per_agent_ties:.1f} B of ties (8 B of offsets + 4 B per tie "
        f"end; the network is symmetric) + {per_agent_biz:.2f} B of businesses = "
        f"**{total:.1f} B per agent**, about {_bytes(total * N)} for {_n(N)} agents.",
        "",
        "Packed arrays (bits, from `scslab.params`): `World.attr` holds sex in bit 0, the age "
        "class in bits 1–2 and the group in bits 3–7 (at most 32 groups).",
        "",
    ]
    for name, bits in _bit_layouts():
        lines.append(f"- `{name}`: " + "; ".join(
            f"{val} = `{k}` ({md_cell(desc)})" for k, val, desc in bits) + ".")
    lines += [
        "",
        "**Scales.**",
        "",
        f"- Time: one step is one day; {_n(sc.days)} days"
        + (f" from {sc.start_date}" if sc.start_date else "") + f" (about "
        f"{sc.days / 365.25:.1f} years).",
        f"- Population: {_n(N)} agents; a run can be scaled with `--agents` (counts of rare "
        "events such as false matches and spillover through ties do not scale exactly).",
        f"- Space: not explicit. Agents live in {_plural(len(pop.regions), 'region')} "
        "(contiguous blocks of agent ids) that differ in camera density and local rules; ties "
        "and false matches reach within or across regions as set below. Groups: "
        f"{len(pop.groups)}; adults are {_pct(adults, 0)} of agents.",
        "",
    ]
    rrows = []
    for reg in pop.regions:
        rrows.append([md_code(reg.name), fmt_number(reg.share), _n(round(reg.share * N)),
                      fmt_number(reg.cameras_per_1000),
                      ", ".join(f"{md_code(k)} {fmt_number(v)}" for k, v in reg.rules.items())
                      or "–"])
    lines.append(_table(["region", "share", "agents (≈)", "cameras per 1,000",
                         "local rules (points per act)"], rrows))
    lines.append("")
    grows = [[md_code(g.name), fmt_number(g.share), _n(round(g.share * N))]
             for g in pop.groups]
    lines.append(_table(["group", "share of households", "agents (≈)"], grows))
    return "\n".join(lines)


def _bytes(b: float) -> str:
    for unit, k in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= k:
            return f"{b / k:,.1f} {unit}"
    return f"{b:.0f} B"


def _mean_household(sc: Scenario) -> float:
    items = sc.population.households.size_shares
    tot = sum(items.values())
    return sum(s * w for s, w in items.items()) / tot if tot else 1.0


def _businesses_estimate(sc: Scenario) -> int:
    pop = sc.population
    emp = pop.employers
    if emp.employed_share <= 0:
        return 0
    adults = 1 - pop.age.child_share - pop.age.elderly_share
    total = 0
    for reg in pop.regions:
        workers = reg.share * pop.agents * adults * emp.employed_share
        total += math.ceil(workers / emp.mean_size)
    return total


def _process(c: _Ctx) -> str:
    from scslab import engine

    steps = schedule()
    lines = [
        "Each day the engine (`scslab.engine.Simulation.step`) makes the calls below, in this "
        "order. The table is read from the engine's own code: the stage functions it calls, "
        "the stage module that holds each rule, and the timer the engine charges it to "
        "(`engine.STAGES` = " + ", ".join(f"`{s}`" for s in engine.STAGES) + "). "
        "*Conditional* calls run only when there is something to do (e.g. the scenario has "
        "ties or businesses).",
        "",
    ]
    rows = []
    for k, s in enumerate(steps, 1):
        note = ""
        if not _active(c, s):
            note = " (not set up for this scenario)"
        elif s.conditional:
            note = " (conditional)"
        rows.append([str(k), md_code(s.timer), md_code(s.function) + note, md_code(s.stage),
                     md_cell(_rst_to_md(s.doc))])
    lines.append(_table(["#", "timer", "call", "stage", "what it does"], rows))
    fused = sorted({s.function.split(" › ")[0] for s in steps if " › " in s.function})
    for name in fused:
        try:
            kmod = importlib.import_module("scslab.stages.settle")
            kdoc = _rst_to_md(_doc_text(kmod.__doc__))
        except ImportError:
            kdoc = ""
        lines += ["", f"Rows `{name} › …` are the per-agent rules that the fused kernel "
                  f"`{name}` applies in one pass over each household, in the order shown, "
                  f"agent by agent. {md_cell(kdoc)}"]
    lines += ["", "What each stage does (its module's docstring):", ""]
    seen: list[str] = []
    for stage in [*engine.STAGES, *[x.stage for x in steps]]:
        if stage in seen:
            continue
        seen.append(stage)
        try:
            mod = importlib.import_module(f"scslab.stages.{stage}")
        except ImportError:
            continue
        lines.append(f"- **{stage}** — {md_cell(_rst_to_md(_doc_text(mod.__doc__)))}")
    chunk = getattr(engine, "CHUNK_TARGET", None)
    lines += [
        "",
        "**Scheduling and update order.** Time is discrete (one day per step). Agents are "
        "processed in parallel in chunks of whole households"
        + (f" (about {_n(chunk)} agents each, fewer in small populations, cut at "
           "household starts)" if chunk else "")
        + "; the chunks depend on the population only, never on the number of threads. "
        "Every random draw is a pure function of (seed, stream, day, agent), so the order in "
        "which agents are visited does not matter. Effects on other agents — an act recorded "
        "on a wrongly matched agent, a change in a tie's listed count — are applied "
        "sequentially in chunk order, so results are bit-identical for any number of "
        "threads. Spillover exposure is computed from the lists as they stand at the start "
        "of the day (before today's listing); listed-tie counts change after the day's "
        "listing and due process, for the next day.",
    ]
    return "\n".join(lines)


def _design(c: _Ctx) -> str:
    sc, p = c.sc, c.p
    from scslab.params import P_AWARE

    det = sc.responses.deterrence
    ch = sc.responses.chilling
    sp = sc.policy.spillover
    gov = sc.governance
    published = gov.transparency.value == "published"
    aware = float(p.prm[P_AWARE])
    active_sensors = [n for n, s in sc.sensors.items() if s.enabled and s.observes]
    streams = random_streams()
    subs: dict[str, str] = {}
    subs["Basic principles"] = (
        "A social credit system is modelled as a pipeline: agents act; sensors observe a share "
        "of the acts and attribute each to a person, sometimes the wrong one (false matches, "
        "with error rates that differ by group — NIST FRVT differentials); rules turn "
        "attributed acts into points; thresholds and court orders put people on lists; lists "
        "turn everyday attempts (flights, trains, property, schools) into denials, for the "
        "listed and — by joint punishment — for their relatives, contacts and employers. "
        "Behaviour follows deterrence theory in its simplest form: a listed agent, or one who "
        "knows the rules, commits fewer penalised acts by a fixed factor; speech is chilled by "
        "perceived risk. A *twin ledger* — the same rules applied with every observed act "
        "credited to its actor — makes harms measurable: an agent listed on the recorded "
        "score but not on the twin is wrongfully listed.")
    subs["Emergence"] = (
        "List sizes, wrongful listings, collateral sanctions and group disparities are not "
        "imposed: they arise from individual acts, detection, identity errors and the "
        "thresholds. In particular the disparate impact across groups emerges from "
        "group-specific false-match rates combined with the preference of a false match for a "
        "look-alike of the same group; collateral harm emerges from household, tie and "
        "employer structure; the chilling effect emerges from monitoring and from the number "
        "of listed contacts.")
    subs["Adaptation"] = (
        f"Agents adapt in fixed, rule-based ways. While listed, the probability of each "
        f"penalised act is multiplied by {fmt_number(det.listed_multiplier)}; agents who know "
        f"the rules ({_pct(aware)} of agents, because the rules are "
        f"{'published' if published else 'secret'}) multiply it by "
        f"{fmt_number(det.known_rules_multiplier)}. Speech (`{ch.behaviour}`) falls with "
        "perceived surveillance, with the share of listed ties and with one's own listing "
        f"(strength {fmt_number(ch.strength)}; see 7.1). "
        + ("Listed agents file appeals, more often when they know why they were listed. "
           if gov.appeals.enabled else "")
        + ("Listed agents do credit-repair acts. " if gov.credit_repair.enabled else ""))
    subs["Objectives"] = (
        "Agents have no explicit objective and do not optimise; their responses are the "
        "fixed rate multipliers above. The system's stated objective (to raise "
        "'trustworthiness') is not modelled as a goal either: it is the set of rules.")
    subs["Learning"] = (
        "None. Whether an agent knows the rules is a fixed trait drawn once; rates do not "
        "change with experience of denials or penalties.")
    subs["Prediction"] = (
        "None explicit. The chilling response uses a perceived risk equal to the actual "
        "probability that speech is observed times its penalty (agents estimate surveillance "
        "correctly on average); agents do not forecast their score.")
    subs["Sensing"] = (
        "Agents sense their own listing status, the number of their ties who are listed, the "
        "monitoring of speech in their region, and — for the "
        f"{_pct(aware)} who know the rules — the rules themselves. The system senses agents "
        f"through {_plural(len(active_sensors), 'active sensor')} ("
        + ", ".join(f"`{n}`" for n in active_sensors) + "), each with coverage, detection and "
        "identity-error rates (7.2); what the sensors miss stays missed, on both ledgers.")
    subs["Interaction"] = (
        "Indirect, through the system: a false match records one agent's act on another "
        "agent. Direct, through joint punishment"
        + (f": a listed household member costs each other member "
           f"{fmt_number(sp.household.penalty)} points a day; at least one listed tie costs "
           f"{fmt_number(sp.ties.penalty)} points a day; a listed representative costs the "
           f"business {fmt_number(sp.employer.representative_listed_points)} points a day, and "
           f"a listed business costs each employee {fmt_number(sp.employer.employee_penalty)} "
           "points a day; sanctions extend to household members ("
           + (", ".join(f"`{k}`" for k in sp.household.sanctions) or "none")
           + ") and to representatives of listed businesses ("
           + (", ".join(f"`{k}`" for k in sp.employer.representative_sanctions) or "none")
           + "). Listed ties also chill speech." if sp.enabled else
           " — disabled in this scenario (`policy.spillover.enabled: false`); listed ties "
           "still chill speech."))
    stream_rows = [[md_code(s), md_code(f"0x{sid:08x}") if sid >= 0 else "per flow", k,
                    md_cell(use)] for s, sid, k, use in streams]
    subs["Stochasticity"] = (
        "Acts, detection, identity errors, attempts, fulfilment of court obligations, appeals "
        "and the population itself are random. All randomness is counter-based: each draw is "
        "`SplitMix64(key(seed, stream, day) ⊕ agent × φ + k × c)`, a pure function of the "
        f"seed ({sc.seed}), a named stream, the day, the agent id and a draw index — no "
        "generator state is carried between days, agents or threads. Two scenarios run with "
        "the same seed therefore share their random numbers (common random numbers: a "
        "comparison measures the policy, not the noise), and one stream's draws never move "
        "another's. Replicates use seeds spawned from the scenario seed with NumPy's "
        "`SeedSequence`. The named streams (read from the code):\n\n"
        + _table(["stream", "id (CRC-32)", "keyed by", "drives"], stream_rows))
    subs["Collectives"] = (
        f"Households ({len(sc.population.households.size_shares)} size classes), "
        f"businesses, demographic groups ({len(sc.population.groups)}) and regions "
        f"({len(sc.population.regions)}) are fixed collectives: they shape who is exposed to "
        "whom and at what error rates. The lists (blacklist, court list, redlist and the "
        "business list) are the collectives the system creates; membership changes daily.")
    subs["Observation"] = (
        "One row per day of aggregate measures (the daily table, described in the daily "
        "columns reference), measured against the twin ledger for harms; a summary per run "
        "(`summary.json`, with provenance); and a sparse per-agent event log "
        + ("(all agents while the population is at most "
           f"{_n(sc.output.event_log.full_below)}, otherwise a fixed hash-based sample of "
           f"about {_n(sc.output.event_log.sample_agents)} agents) "
           if sc.output.event_log.enabled else "(disabled in this scenario) ")
        + "that `scslab explain` reads. Nothing is recorded per agent per day.")
    out = []
    for k, name in enumerate(DESIGN_CONCEPTS, 1):
        out += [f"### 4.{k} {name}", "", subs[name], ""]
    return "\n".join(out).rstrip()


def _initialisation(c: _Ctx) -> str:
    sc, w = c.sc, c.world
    pop = sc.population
    sizes = sorted(pop.households.size_shares.items())
    tot = sum(s for _, s in sizes)
    mean_size = _mean_household(sc)
    child, eld = pop.age.child_share, pop.age.elderly_share
    rest = max((mean_size - 1) / mean_size, 1e-9)
    p_child_rest = min(child / rest, 1.0)
    p_eld_first = eld / max(1 - child, 1e-9)
    p_eld_rest = (1 - p_child_rest) * p_eld_first
    half = pop.ties.mean_degree / 2
    disp = pop.ties.dispersion
    emp = pop.employers
    lines = [
        f"A run starts from a population built from `population` with seed {sc.seed} "
        "(streams `population`, `ties`, `businesses`); the same seed always builds the same "
        "population, whatever the number of threads. The build rules, with this scenario's "
        "numbers:",
        "",
        "1. **Regions.** Agents 0 … N−1 are split into contiguous blocks in proportion to the "
        "region shares (" + ", ".join(f"`{r.name}` {fmt_number(r.share)}" for r in pop.regions)
        + ").",
        "2. **Households.** Households are filled one after another; each draws a size from "
        "the size shares (" + ", ".join(f"{s}: {fmt_number(v / tot)}" for s, v in sizes)
        + f"; mean {mean_size:.2f}), cut short at a region boundary.",
        f"3. **Age.** The first member of a household is an adult or, with probability "
        f"{fmt_number(round(p_eld_first, 4))}, elderly (never a child); every other member "
        f"is a child with probability {fmt_number(round(p_child_rest, 4))}, elderly with "
        f"probability {fmt_number(round(p_eld_rest, 4))}, otherwise an adult — which gives "
        f"about {_pct(child, 0)} children and {_pct(eld, 0)} elderly.",
        "4. **Group** is drawn once per household from the group shares ("
        + ", ".join(f"`{g.name}` {fmt_number(g.share)}" for g in pop.groups) + "); "
        f"**sex** per agent (female with probability {fmt_number(pop.female_share)}).",
        f"5. **Disposition** d ~ log-normal(0, σ = {fmt_number(pop.disposition.sigma)}) per "
        "agent (a latent propensity to break rules; mean of log d is 0).",
        f"6. **Employers.** Each region gets ⌈adults × {fmt_number(emp.employed_share)} / "
        f"{fmt_number(emp.mean_size)}⌉ businesses with log-normal(0, "
        f"{fmt_number(emp.size_sigma)}) size weights; each adult is employed with probability "
        f"{fmt_number(emp.employed_share)} by a business of the region chosen in proportion "
        "to its weight. A business's first employee is its legal representative.",
        (f"7. **Ties.** Each agent starts k ties, k ≈ {_stubs_text(half, disp)} rounded at "
         "random; each tie lands "
         f"inside the agent's region with probability {fmt_number(pop.ties.within_region)}, "
         "else anywhere; self-ties are dropped and every tie is stored in both directions "
         f"(mean degree ≈ {fmt_number(pop.ties.mean_degree)})."
         if pop.ties.mean_degree > 0 else "7. **Ties.** None (`population.ties.mean_degree: 0`)."),
        "",
        f"Initial state: every agent's recorded and twin score is {_n(sc.policy.scoring.base)} "
        "(`policy.scoring.base`), as is every business's; no one is on any list; no appeal is "
        "pending; no one is exposed to spillover. Whether an agent knows the rules is fixed "
        "from the start (stream `awareness`).",
        "",
        f"Realised in a {_n(c.n_sample)}-agent build of this scenario (same rules, same seed):",
        "",
    ]
    n = w.n
    age = (w.attr >> 1) & 3
    grp = w.attr >> 3
    rows = [
        ["children", _pct(child), _pct(float((age == 0).mean()))],
        ["elderly", _pct(eld), _pct(float((age == 2).mean()))],
        ["female", _pct(pop.female_share), _pct(float((w.attr & 1).mean()))],
        ["mean household size", f"{mean_size:.2f}",
         f"{n / max(int((w.hh_off == 0).sum()), 1):.2f}"],
    ]
    for g, gr in enumerate(pop.groups):
        rows.append([f"group `{gr.name}`", _pct(gr.share), _pct(float((grp == g).mean()))])
    adults = age == 1
    if adults.any():
        rows.append(["adults employed", _pct(emp.employed_share),
                     _pct(float((w.employer[adults] >= 0).mean()))])
    rows.append(["mean degree (ties)", fmt_number(pop.ties.mean_degree),
                 f"{w.tie_idx.size / max(n, 1):.2f}"])
    if w.n_business:
        rows.append(["mean business size", fmt_number(emp.mean_size),
                     f"{float(w.biz_size.mean()):.1f}"])
    lines.append(_table(["quantity", "target", "realised"], rows))
    return "\n".join(lines)


def _stubs_text(half: float, disp: float) -> str:
    if disp == 0:
        return fmt_number(half)
    if disp == 1:
        return f"{fmt_number(half)} × Exp(1)"
    return f"{fmt_number(half)} × ({fmt_number(1 - disp)} + {fmt_number(disp)} × Exp(1))"


def _input_data(c: _Ctx) -> str:
    lines = [
        "scslab reads no external data while it runs: no time series, maps or registers of "
        "real people (by design it has no loaders for them). Its only input is the scenario. "
        "Every parameter value of this scenario follows, with its unit and the source of its "
        "default (`json_schema_extra['source']` in the schema, or *assumption*). *Default* "
        "shows the value of a scenario with no settings at the same path when it differs "
        "(= when it is the same, – when that path does not exist by default). Paths are "
        "`--set` paths.",
        "",
    ]
    blocks: dict[str, list[Parameter]] = {}
    for prm in c.params:
        head = prm.path.split(".")[0]
        blocks.setdefault(head if "." in prm.path or isinstance(prm.value, dict | list)
                          else "run", []).append(prm)
    for k, (block, prms) in enumerate(blocks.items(), 1):
        title = "Run (top-level settings)" if block == "run" else f"`{block}`"
        lines += [f"### 6.{k} {title}", ""]
        rows = []
        for prm in prms:
            if prm.is_default:
                d = "="
            elif prm.has_default:
                d = md_code(fmt_value(prm.default, 60))
            else:
                d = "–"
            rows.append([md_code(prm.path), md_code(fmt_value(prm.value)), md_cell(prm.unit),
                         d, md_cell(prm.source), md_cell(prm.description)])
        lines.append(_table(["path", "value", "unit", "default", "source", "description"],
                            rows))
        lines.append("")
    return "\n".join(lines).rstrip()


# --------------------------------------------------------------------------- submodels


def _expected_factor(e: float, sigma: float) -> float:
    """E[d^e] for d ~ log-normal(0, sigma)."""
    return math.exp(0.5 * (e * sigma) ** 2)


def _sub_behaviour(c: _Ctx) -> str:
    sc, p = c.sc, c.p
    from scslab.params import P_AWARE

    det = sc.responses.deterrence
    ch = sc.responses.chilling
    aware = float(p.prm[P_AWARE])
    sigma = sc.population.disposition.sigma
    age = sc.population.age
    shares = (age.child_share, 1 - age.child_share - age.elderly_share, age.elderly_share)
    rows = []
    for b, name in enumerate(p.behaviour_names):
        rate = float(p.beh_rate[b])
        e = float(p.beh_dexp[b])
        a = p.beh_age[b]
        per_day = c.N * rate * _expected_factor(e, sigma) * sum(
            s * float(f) for s, f in zip(shares, a, strict=True))
        rows.append([md_code(name), fmt_number(rate), fmt_number(float(a[0])),
                     fmt_number(float(a[1])), fmt_number(float(a[2])), fmt_number(e),
                     "yes" if p.beh_penalised[b] else "no",
                     "yes" if name == ch.behaviour and ch.strength > 0 else "no",
                     _n(round(per_day, 1))])
    dl, dk = fmt_number(det.listed_multiplier), fmt_number(det.known_rules_multiplier)
    lines = [
        "Each day, each agent i does each behaviour b with probability",
        "",
        "```text",
        "p(i, b) = rate_b × age_b[age class of i] × d_i^e_b × D_i (penalised acts) "
        "× C_i (chilled act)",
        f"D_i = ({dl} if i is listed, else 1) × ({dk} if i knows the rules, else 1)",
        f"C_i = 1 / (1 + {fmt_number(ch.strength)} × risk_i)",
        f"risk_i = risk_region + {fmt_number(ch.tie_weight)} × (listed ties of i / ties of i)"
        f" + {fmt_number(ch.self_weight)} × [i is listed]",
        "```",
        "",
        "decided by one uniform draw per agent, behaviour and day (stream `behaviour`); an "
        "agent can do several different acts in a day but each at most once. d_i is the "
        "agent's disposition (log-normal, σ = " + fmt_number(sigma) + "). A behaviour is "
        "*penalised* — deterrence applies — when the national rule or any regional rule "
        f"takes points away for it. {_pct(aware)} of agents know the rules "
        f"(`responses.deterrence.awareness_{sc.governance.transparency.value}`, because the "
        f"rules are {sc.governance.transparency.value}).",
        "",
        _table(["behaviour", "rate per day", "child", "adult", "elderly", "exponent e",
                "penalised", "chilled", f"expected acts per day (N = {_n(c.N)}, before "
                "deterrence)"], rows),
        "",
    ]
    if ch.strength > 0 and ch.behaviour in sc.behaviours:
        lines += [
            f"Chilling of `{ch.behaviour}`: risk_region = {fmt_number(ch.surveillance_weight)} "
            "× P(the act is observed in the region) × max(0, −points) / 100, from the sensor "
            "and rule tables below. For an unlisted agent with no listed ties:",
            "",
            _table(["region", "risk_region", "C (multiplier on speech)", "speech suppressed"],
                   [[md_code(r), f"{float(x):.3f}", f"{1 / (1 + ch.strength * float(x)):.3f}",
                     _pct(1 - 1 / (1 + ch.strength * float(x)))]
                    for r, x in zip(p.region_names, p.chill_risk, strict=True)]),
        ]
    else:
        lines.append("Chilling is off in this scenario (`responses.chilling.strength` is 0 or "
                     "the behaviour does not exist).")
    return "\n".join(lines)


def _sub_sensing(c: _Ctx) -> str:
    sc, p = c.sc, c.p
    rows = []
    for name, s in sc.sensors.items():
        cls = s.classification
        cov = ("1 − exp(−cameras per 1,000 / " + fmt_number(s.saturation_per_1000) + ")"
               if isinstance(s, Cameras) and s.density_coverage else fmt_number(s.coverage))
        rows.append([md_code(name), "yes" if s.enabled else "no",
                     ", ".join(md_code(b) for b in s.observes) or "–", cov,
                     fmt_number(s.detection), fmt_number(s.false_match_rate),
                     ", ".join(f"{md_code(g)} ×{fmt_number(m)}"
                               for g, m in s.group_multipliers.items()) or "–",
                     s.scope, fmt_number(s.same_group_preference),
                     (f"sex {fmt_number(cls.sex_accuracy)}, age {fmt_number(cls.age_accuracy)}"
                      if cls.enabled else "off")])
    lines = [
        "Sensors try, in this order, to observe each act; the first that detects it claims "
        "it. A sensor observes act b of an agent in region r with probability coverage × "
        "detection (camera coverage follows camera density when `density_coverage` is on). "
        "A detected act is then attributed: with the false-match rate of the actor's group "
        "it lands on someone else — a look-alike: with probability *same group* of the "
        "actor's group, with the sex and age class the sensor *classified* (a "
        "misclassification moves the error across those lines), inside the actor's region "
        "or anywhere (*scope*); otherwise on the actor. Stream `sensing`.",
        "",
        _table(["sensor", "enabled", "observes", "coverage", "detection", "false-match rate",
                "group multipliers", "scope", "same group", "classification accuracy"], rows),
        "",
    ]
    if len(p.sensor_names):
        obs = 1 - np.prod(1 - p.sens_prob, axis=0)  # (R, B)
        brows = []
        for b, name in enumerate(p.behaviour_names):
            brows.append([md_code(name)] + [f"{float(obs[r, b]):.3f}"
                                             for r in range(len(p.region_names))])
        lines += [
            "Resulting probability that an act is observed by some sensor, per region "
            "(1 − ∏ over sensors of (1 − coverage × detection)):",
            "",
            _table(["behaviour"] + [md_code(r) for r in p.region_names], brows),
            "",
            "False-match rate per sensor and actor group (rate × group multiplier, at most 1):",
            "",
            _table(["sensor"] + [md_code(g) for g in p.group_names],
                   [[md_code(s)] + [fmt_number(float(x)) for x in p.sens_fmr[k]]
                    for k, s in enumerate(p.sensor_names)]),
            "",
        ]
    else:
        lines += ["No sensor is active: no act is ever recorded.", ""]
    ev = sc.governance.evidence_review
    lines.append(
        f"Evidence review: a misattributed act is caught and reversed before it counts with "
        f"probability {fmt_number(ev.reversal_probability)}." if ev.enabled else
        "Evidence review is off: every false match counts.")
    return "\n".join(lines)


def _acts_to_list(base: float, enter: float, pts: float) -> str:
    if pts >= 0:
        return "–"
    k = math.floor((base - enter) / -pts) + 1
    return str(max(k, 1))


def _sub_scoring(c: _Ctx) -> str:
    sc, p = c.sc, c.p
    s = sc.policy.scoring
    bl = sc.policy.lists.blacklist
    regions = p.region_names
    rows = []
    for b, name in enumerate(p.behaviour_names):
        nat = sc.policy.rules.get(name)
        cells = []
        for r in range(len(regions)):
            v = float(p.points[r, b])
            local = name in sc.population.regions[r].rules
            cells.append(fmt_number(v) + (" (local)" if local else ""))
        worst = min(float(x) for x in p.points[:, b])
        rows.append([md_code(name), fmt_number(nat) if nat is not None else "0 (no rule)",
                     *cells, _acts_to_list(s.base, bl.enter_below, worst)
                     if bl.enabled else "–"])
    if s.max_daily_loss is None and s.max_daily_gain is None:
        cap = "Δ' = Δ                                       (no daily cap)"
    else:
        lo = "−∞" if s.max_daily_loss is None else f"−{fmt_number(s.max_daily_loss)}"
        hi = "∞" if s.max_daily_gain is None else fmt_number(s.max_daily_gain)
        cap = f"Δ' = min(max(Δ, {lo}), {hi})                (daily caps)"
    half_life = math.log(2) / -math.log(1 - s.decay) if 0 < s.decay < 1 else math.inf
    lines = [
        "**Rule table** — points per recorded act, by region (`policy.rules`, overridden by "
        "`population.regions[…].rules` for a local pilot):",
        "",
        _table(["behaviour", "national rule"] + [md_code(r) for r in regions]
               + [f"acts to fall below {fmt_number(bl.enter_below)} from "
                  f"{fmt_number(s.base)} in one day"], rows),
        "",
        "Each day, for each agent, on both ledgers:",
        "",
        "```text",
        "Δ  = sum of the points of the acts recorded on the agent today",
        cap,
        "s1 = s + Δ' − spillover penalty            (7.4)",
        f"s2 = s1 + {fmt_number(s.decay)} × ({fmt_number(s.base)} − s1)      (decay toward the base)",
        f"s' = min(max(s2, {fmt_number(s.minimum)}), {fmt_number(s.maximum)})",
        "```",
        "",
        f"The decay halves any distance to the base score in {half_life:.0f} days. The "
        "*recorded* ledger credits each act to the agent the sensor identified (possibly the "
        "wrong one); the *twin* ledger credits every observed act to its actor. An act of "
        f"`{sc.policy.lists.court.trigger}` recorded on an agent is also a court order (7.5).",
        "",
        "**Grades** (highest first; an agent is in the first grade whose minimum its score "
        "reaches):",
        "",
        _table(["grade", "minimum score"], [[md_code(g.name), fmt_number(g.min_score)]
                                            for g in sc.policy.grades]),
    ]
    return "\n".join(lines)


def _business_days(e: Any, base: float) -> str:
    """How soon a business whose representative stays listed is itself listed."""
    s = base
    for day in range(1, 100_000):
        s -= e.representative_listed_points
        s += e.business_decay * (base - s)
        if s < e.business_enter_below:
            return f"is listed after {day} days"
    return "is never listed (the penalty cannot bring it below the threshold)"


def _sub_spillover(c: _Ctx) -> str:
    sc = c.sc
    sp = sc.policy.spillover
    e = sp.employer
    if not sp.enabled:
        return ("Disabled (`policy.spillover.enabled: false`): no penalties or sanctions reach "
                "relatives, contacts or employers.")
    lines = [
        "Exposure is set from the lists as they stand at the start of the day, separately for "
        "the recorded and the twin ledger. Penalties are subtracted in the score update "
        "(7.3):",
        "",
        _table(["channel", "who is exposed", "points lost per day", "sanctions extended"], [
            ["household", "every other member of a household with a listed member",
             fmt_number(sp.household.penalty),
             ", ".join(md_code(k) for k in sp.household.sanctions) or "–"],
            ["ties", "an agent with at least one listed tie",
             fmt_number(sp.ties.penalty), "–"],
            ["employer", "each employee of a listed business",
             fmt_number(e.employee_penalty), "–"],
            ["representative", "the legal representative of a listed business", "0",
             ", ".join(md_code(k) for k in e.representative_sanctions) or "–"],
        ]),
        "",
        f"Businesses: while its legal representative is listed a business loses "
        f"{fmt_number(e.representative_listed_points)} points a day; its score decays toward "
        f"{fmt_number(sc.policy.scoring.base)} at {fmt_number(e.business_decay)} a day; it is "
        f"listed below {fmt_number(e.business_enter_below)} and delisted at or above "
        f"{fmt_number(e.business_exit_at_or_above)}. From the base score, a business whose "
        f"representative stays listed {_business_days(e, sc.policy.scoring.base)}. "
        "Listed-tie counts are updated "
        "after the day's listing and due process, for the next day.",
    ]
    return "\n".join(lines)


def _sub_listing(c: _Ctx) -> str:
    sc = c.sc
    L = sc.policy.lists
    bl, ct, red = L.blacklist, L.court, L.redlist
    out = ["Applied to the recorded and the twin ledger by the same rules (stream `listing` "
           "for early fulfilment).", ""]
    if bl.enabled:
        out.append(f"- **Blacklist**: an agent enters when its score falls below "
                   f"{fmt_number(bl.enter_below)}; it leaves when the score is at or above "
                   f"{fmt_number(bl.exit_at_or_above)} and it has been listed at least "
                   f"{_n(bl.min_days)} days (hysteresis).")
    else:
        out.append("- **Blacklist**: disabled — a low score lists no one.")
    if ct.enabled:
        f = ct.fulfil_rate
        T = ct.term_days
        stay = (1 - (1 - f) ** T) / f if f > 0 else float(T)
        out.append(f"- **Court list**: a recorded act of `{ct.trigger}` is a court order: the "
                   f"agent is listed for {_n(T)} days (a new order restarts the term); each "
                   f"day it fulfils the obligation and leaves early with probability "
                   f"{fmt_number(f)}. Expected stay: {stay:.0f} days.")
    else:
        out.append("- **Court list**: disabled.")
    if red.enabled:
        out.append(f"- **Redlist**: an agent whose score is at or above "
                   f"{fmt_number(red.min_score)} is redlisted (rewards, 7.6).")
    else:
        out.append("- **Redlist**: disabled.")
    out += ["", "An agent is *listed* when it is on the blacklist or the court list; it is "
            "*wrongfully listed* when it is listed on the recorded ledger but on neither list "
            "on the twin ledger."]
    return "\n".join(out)


def _sub_sanctions(c: _Ctx) -> str:
    sc, p = c.sc, c.p
    sp = sc.policy.spillover
    who_text = {0: "everyone", 1: "adults", 2: "children (through their parents)"}
    rows = []
    for k, name in enumerate(p.sanction_names):
        s = getattr(sc.policy.sanctions, name)
        rate = float(p.sanc_rate[k])
        binds = sp.enabled and name in sp.employer.representative_sanctions
        rep = "no"
        if binds:
            rep = ("yes (no effect: representatives are adults)" if int(p.sanc_who[k]) == 2
                   else "yes")
        rows.append([md_code(name), fmt_number(rate), f"{365 * rate:.2f}",
                     ", ".join(s.lists) or "nobody", who_text.get(int(p.sanc_who[k]), "?"),
                     "yes" if sp.enabled and name in sp.household.sanctions else "no", rep])
    rw = sc.policy.rewards
    lines = [
        "Each day each agent who could be sanctioned draws, for each kind, whether it "
        "attempts it (stream `sanctions`); an attempt by a sanctioned agent becomes a denial. "
        "An agent is sanctioned for a kind when it is on one of the kind's lists (direct), "
        "or, by joint punishment, when a household member is listed and the kind extends to "
        "households, or when it represents a listed business and the kind binds "
        "representatives (collateral). Attempts by agents under no sanction are not counted.",
        "",
        _table(["kind", "attempt rate per day", "attempts per year", "denied to members of",
                "who attempts", "extends to household", "binds representatives"], rows),
        "",
        (f"Rewards: each redlisted agent claims a reward with probability {fmt_number(rw.rate)} "
         "a day." if rw.enabled and sc.policy.lists.redlist.enabled else
         "Rewards: none in this scenario."),
    ]
    return "\n".join(lines)


def _sub_due_process(c: _Ctx) -> str:
    sc = c.sc
    g = sc.governance
    a, ex, cr = g.appeals, g.expiry, g.credit_repair
    items = []
    if a.enabled:
        items.append(
            f"- **Appeals**: a listed agent with no pending appeal files one with probability "
            f"{fmt_number(a.filing_probability_known)} a day if it knows the rules, else "
            f"{fmt_number(a.filing_probability_unknown)}; the decision comes "
            f"{_n(a.review_delay_days)} days later. If the record is wrong (listed only "
            "because of identity errors, or a score below its twin) the appeal succeeds with "
            f"probability {fmt_number(a.success_if_wrong)}, else with probability "
            f"{fmt_number(a.success_if_right)}. A successful appeal restores the score to at "
            "least the twin score and removes the wrongful entries (a right record: the score "
            "is raised to the exit threshold and the agent delisted).")
    else:
        items.append("- **Appeals**: none — a listed agent cannot contest its record.")
    items.append(
        f"- **Expiry**: a blacklist entry expires after {_n(ex.days)} days and the score is "
        "restored to the exit threshold." if ex.enabled else
        "- **Expiry**: none — blacklist entries do not expire.")
    items.append(
        f"- **Credit repair**: a listed agent does a credit-repair act with probability "
        f"{fmt_number(cr.rate)} a day, restoring {fmt_number(cr.points)} points."
        if cr.enabled else "- **Credit repair**: none.")
    items.append(
        "- **Evidence review** of identity matches happens at sensing (7.2): "
        + (f"reversal probability {fmt_number(g.evidence_review.reversal_probability)}."
           if g.evidence_review.enabled else "off."))
    head = f"Rules are {g.transparency.value}"
    if a.enabled and g.transparency.value == "secret":
        head += (" — agents rarely know why they are listed, so few of them appeal "
                 f"({fmt_number(a.filing_probability_unknown)} a day).")
    else:
        head += "."
    return head + " Stream `due_process`.\n\n" + "\n".join(items)


def _sub_metrics(c: _Ctx) -> str:
    n_cols = len(c.sim.metric_registry())
    return (f"After the last stage the engine reduces per-chunk counts, in chunk order, to one "
            f"row of {n_cols} columns: stocks at the end of the day (list sizes, scores, "
            "grades, exposure) and flows during the day (acts, observations, misattributions, "
            f"denials, appeals). Score percentiles come from a {N_HIST}-bin histogram between the "
            "score bounds. Per-group columns are named `<metric>__<group>`. See the daily "
            "columns reference for the meaning of every column.")


def _sub_data_flows(c: _Ctx) -> str:
    flows = c.sc.data_flows
    rows = [[md_code(f.name), md_cell(f.site.name), f.site.jurisdiction, f.destination,
             str(f.cameras_total), fmt_number(f.site.visitors.daily_visitors),
             "yes" if f.cross_border else "no"] for f in flows]
    return ("Data flows from sites abroad are descriptions audited against privacy laws by "
            "`scslab audit`:\n\n"
            + _table(["flow", "site", "site jurisdiction", "destination", "cameras",
                      "visitors per day", "cross-border"], rows))


def _submodels(c: _Ctx) -> str:
    from scslab import engine

    writers = {
        "behaviour": ("Behaviour", _sub_behaviour),
        "sensing": ("Sensing", _sub_sensing),
        "scoring": ("Scoring", _sub_scoring),
        "spillover": ("Spillover (joint punishment)", _sub_spillover),
        "listing": ("Listing", _sub_listing),
        "sanctions": ("Sanctions and rewards", _sub_sanctions),
        "due_process": ("Due process", _sub_due_process),
        "metrics": ("Metrics", _sub_metrics),
    }
    order = list(engine.STAGES) + [s for s in writers if s not in engine.STAGES]
    steps = schedule()
    extra = sorted({s.stage for s in steps} - set(order))
    out = []
    k = 0
    for stage in order + extra:
        if stage in writers:
            title, fn = writers[stage]
            body = fn(c)
        else:
            try:
                mod = importlib.import_module(f"scslab.stages.{stage}")
            except ImportError:
                continue
            title = stage.replace("_", " ").capitalize()
            own = [s for s in steps if s.module == mod.__name__]
            if own and not any(_active(c, s) for s in own):
                body = ("Not active in this scenario: the engine does not set this stage up "
                        f"for it. When active: {md_cell(_first_sentence(mod.__doc__))}")
            else:
                body = _rst_to_md(inspect.cleandoc(mod.__doc__ or "")) or "(no description)"
                if stage == "abroad" and c.sc.data_flows:
                    body += "\n\n" + _sub_data_flows(c)
        k += 1
        out += [f"### 7.{k} {title}", "", body, ""]
    if c.sc.data_flows and "abroad" not in extra:
        k += 1
        out += [f"### 7.{k} Data flows abroad", "", _sub_data_flows(c), ""]
    return "\n".join(out).rstrip()


# --------------------------------------------------------------------------- document


def odd_markdown(scenario: Any, *, set: list[str] | dict | None = None,  # noqa: A002
                 origin: str | None = None) -> str:
    """The ODD description of a scenario (preset name, YAML path, mapping or Scenario)."""
    from scslab import __version__
    from scslab.pipeline import resolve
    from scslab.scenario.loader import scenario_hash

    sc = resolve(scenario, set=set)
    origin = origin or (scenario if isinstance(scenario, str) else sc.name)
    c = _context(sc, str(origin))
    sets = ""
    if set:
        items = set.items() if isinstance(set, dict) else (s.partition("=")[::2] for s in set)
        sets = " with " + ", ".join(f"`{k}={v}`" for k, v in items)
    header = [
        f"# ODD description: {sc.name}",
        "",
        f"Generated by `scslab describe` from scenario `{md_cell(origin)}`{sets} "
        f"(scenario hash `{scenario_hash(sc)}`, scslab {__version__}, schema version "
        f"{sc.schema_version}). It follows the ODD protocol (Overview, Design concepts, "
        "Details: Grimm et al. 2006; second update, Grimm et al. 2020, *JASSS* 23(2) 7). "
        "Everything below is read from the code and the scenario; edit the scenario and "
        "regenerate rather than editing this text.",
        "",
    ]
    bodies = [_purpose(c), _entities(c), _process(c), _design(c), _initialisation(c),
              _input_data(c), _submodels(c)]
    parts = header
    for k, (title, body) in enumerate(zip(ODD_SECTIONS, bodies, strict=True), 1):
        parts += [f"## {k}. {title}", "", body.rstrip(), ""]
    return "\n".join(parts).rstrip() + "\n"


def describe(scenario: Any, *, set: list[str] | dict | None = None,  # noqa: A002
             fmt: str = "md", origin: str | None = None) -> str:
    """The ODD description as Markdown (``fmt="md"``) or a standalone HTML page."""
    md = odd_markdown(scenario, set=set, origin=origin)
    if fmt == "md":
        return md
    if fmt == "html":
        title = md.splitlines()[0].lstrip("# ").strip()
        return markdown_to_html(md, title=title)
    from scslab.errors import ScslabError

    raise ScslabError(f"unknown format {fmt!r}: use md or html")


def write_description(scenario: Any, out: str | Path, *,
                      set: list[str] | dict | None = None,  # noqa: A002
                      fmt: str | None = None, origin: str | None = None) -> Path:
    """Write the ODD description to ``out`` atomically.

    The format follows the suffix by default: ``.html``/``.htm`` gives HTML, anything
    else Markdown.
    """
    from scslab.fileio import atomic_write_text

    out = Path(out)
    if fmt is None:
        fmt = "html" if out.suffix.lower() in (".html", ".htm") else "md"
    atomic_write_text(out, describe(scenario, set=set, fmt=fmt, origin=origin))
    return out


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b}
main{max-width:70rem;margin:0 auto;padding:1rem 2rem 4rem}
h1,h2,h3{line-height:1.25}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:13px;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left}
th{background:#f3f3f3}code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;
background:#f5f5f5;padding:0 .2em;border-radius:3px}
pre{background:#f5f5f5;padding:.8em;overflow-x:auto}pre code{padding:0}
blockquote{border-left:3px solid #ccc;margin-left:0;padding-left:1em;color:#444}
"""


def markdown_to_html(md: str, title: str = "", *, use_package: bool | None = None) -> str:
    """A standalone HTML page (no external resources) from Markdown.

    Uses the ``markdown`` package (tables, fenced code, heading ids) when it is
    installed, otherwise this module's small converter; ``use_package`` forces one.
    """
    body = None
    if use_package is not False:
        try:
            import markdown as _markdown
        except ImportError:
            if use_package:
                raise
        else:
            body = _markdown.markdown(md, extensions=["tables", "fenced_code", "toc",
                                                      "sane_lists"], output_format="html")
    if body is None:
        body = mini_markdown(md)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")


_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def _esc(text: str) -> str:
    """Escape HTML, keeping entities that are already written (``&lt;``)."""
    out = []
    pos = 0
    for m in _ENTITY.finditer(text):
        out.append(html.escape(text[pos:m.start()], quote=False))
        out.append(m.group(0))
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def _inline(text: str) -> str:
    """Inline Markdown: code spans, backslash escapes, links, strong and emphasis."""
    out: list[str] = []
    parts = re.split(r"(``.+?``|`[^`]*`)", text)
    for k, part in enumerate(parts):
        if k % 2 == 1:
            code = part.strip("`")
            if part.startswith("``"):
                code = code.strip()
            out.append(f"<code>{html.escape(code, quote=False)}</code>")
            continue
        escaped: dict[str, str] = {}

        def hold(m: re.Match, escaped: dict[str, str] = escaped) -> str:
            key = f"\x00{len(escaped)}\x00"
            escaped[key] = html.escape(m.group(1), quote=False)
            return key

        s = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|<>&])", hold, part)
        s = _esc(s)
        s = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)",
                   lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', s)
        s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
        s = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", s)
        for key, val in escaped.items():
            s = s.replace(key, val)
        out.append(s)
    return "".join(out)


def _slug(text: str) -> str:
    s = re.sub(r"<[^>]+>", "", text).lower()
    s = re.sub(r"[^\w\s-]", "", s)
    return re.sub(r"[\s]+", "-", s.strip())


def _split_row(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells, cur, k, in_code = [], "", 0, False
    while k < len(s):
        ch = s[k]
        if ch == "\\" and k + 1 < len(s) and s[k + 1] == "|":
            cur += "|" if in_code else "\\|"
            k += 2
            continue
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
        k += 1
    cells.append(cur.strip())
    return cells


def mini_markdown(md: str) -> str:
    """A small Markdown to HTML converter: the subset this project's documents use.

    Headings, paragraphs, bullet and numbered lists, pipe tables, fenced code,
    block quotes, horizontal rules; inline code, emphasis, strong, links.
    """
    lines = md.splitlines()
    out: list[str] = []
    para: list[str] = []
    k = 0

    def flush() -> None:
        if para:
            out.append(f"<p>{_inline(' '.join(x.strip() for x in para))}</p>")
            para.clear()

    while k < len(lines):
        line = lines[k]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            lang = stripped[3:].strip()
            code = []
            k += 1
            while k < len(lines) and not lines[k].strip().startswith("```"):
                code.append(lines[k])
                k += 1
            k += 1
            cls = f' class="language-{html.escape(lang)}"' if lang else ""
            out.append(f"<pre><code{cls}>{html.escape(chr(10).join(code))}</code></pre>")
            continue
        if not stripped:
            flush()
            k += 1
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            flush()
            level = len(m.group(1))
            inner = _inline(m.group(2))
            out.append(f'<h{level} id="{_slug(inner)}">{inner}</h{level}>')
            k += 1
            continue
        if re.match(r"^\s*(-{3,}|\*{3,}|_{3,})\s*$", line):
            flush()
            out.append("<hr>")
            k += 1
            continue
        if stripped.startswith("|") and k + 1 < len(lines) and re.match(
                r"^\s*\|?\s*:?-{3,}", lines[k + 1]):
            flush()
            head = _split_row(line)
            k += 2
            rows = []
            while k < len(lines) and lines[k].strip().startswith("|"):
                rows.append(_split_row(lines[k]))
                k += 1
            t = ["<table>", "<thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head)
                 + "</tr></thead>", "<tbody>"]
            for r in rows:
                t.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>")
            t.append("</tbody></table>")
            out.append("\n".join(t))
            continue
        if stripped.startswith(">"):
            flush()
            quote = []
            while k < len(lines) and lines[k].strip().startswith(">"):
                quote.append(lines[k].strip()[1:].lstrip())
                k += 1
            out.append(f"<blockquote>{mini_markdown(chr(10).join(quote))}</blockquote>")
            continue
        lm = re.match(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$", line)
        if lm:
            flush()
            ordered = lm.group(2)[0].isdigit()
            tag = "ol" if ordered else "ul"
            items: list[str] = []
            while k < len(lines):
                im = re.match(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$", lines[k])
                if im and (im.group(2)[0].isdigit()) == ordered:
                    items.append(im.group(3).strip())
                elif lines[k].strip() and lines[k].startswith((" ", "\t")) and items:
                    items[-1] += " " + lines[k].strip()
                else:
                    break
                k += 1
            out.append(f"<{tag}>" + "".join(f"<li>{_inline(i)}</li>" for i in items)
                       + f"</{tag}>")
            continue
        para.append(line)
        k += 1
    flush()
    return "\n".join(out)

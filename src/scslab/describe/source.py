"""What describe reads from the model's source code, behind a narrow interface.

The day's schedule (the order of the engine's stage calls, their timers and
docstrings), the named random streams and the packed flag bits are recovered here
by parsing source (``inspect.getsource``, ``ast`` and regular expressions over the
engine, the population builder, the stage modules and ``params``). Nothing else in
``scslab.describe`` parses code or imports the engine's modules for their text: the
sections ask this module, which returns plain data —

* ``schedule()`` → the ordered ``ScheduleStep`` rows (timer, call, stage, module, doc);
* ``stage_names()``, ``stage_module(stage)``, ``fused_kernel_doc(name)``,
  ``chunk_target()`` → the stages and their docstrings;
* ``random_streams()`` → (stream, id, keyed by, what it drives) rows;
* ``flag_layouts()``, ``FLAGS_MODULE`` → the bits of the packed flag arrays;
* ``array_comments(cls)`` → the comments on a state dataclass's array fields —

so that it can be swapped for the engine's declared plan when there is one.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from scslab.formatting import first_sentence

__all__ = ["FLAGS_MODULE", "STREAM_USES", "ScheduleStep", "array_comments", "chunk_target",
           "flag_layouts", "fused_kernel_doc", "random_streams", "schedule", "stage_module",
           "stage_names"]

#: The module whose ``F_*``, ``X_*`` and ``B_*`` constants are the packed flag bits.
FLAGS_MODULE = "scslab.state"

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



# --------------------------------------------------------------------------- stages


def stage_names() -> list[str]:
    """The engine's stage timers, in the order of the day (``engine.STAGES``)."""
    from scslab import engine

    return list(engine.STAGES)


def stage_module(stage: str) -> tuple[str, str] | None:
    """(module name, docstring) of the stage module ``stage``, or None when there is none."""
    try:
        mod = importlib.import_module(f"scslab.stages.{stage}")
    except ImportError:
        return None
    return mod.__name__, mod.__doc__ or ""


def fused_kernel_doc(name: str) -> str:
    """The docstring of the module that defines the fused kernel ``name`` ('' if unknown)."""
    for modname in _KERNEL_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        if hasattr(mod, name):
            return mod.__doc__ or ""
    return ""


def chunk_target() -> int | None:
    """About how many agents one parallel chunk holds (``engine.CHUNK_TARGET``), if set."""
    from scslab import engine

    chunk = getattr(engine, "CHUNK_TARGET", None)
    return int(chunk) if chunk else None


# --------------------------------------------------------------------------- state arrays


def array_comments(cls: type) -> dict[str, str]:
    """``name: np.ndarray  # comment`` lines of a dataclass, read from its source."""
    try:
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for m in re.finditer(r"^\s+(\w+):\s*np\.ndarray\s*#\s*(.*)$", src, re.M):
        out[m.group(1)] = m.group(2).strip()
    return out


def flag_layouts() -> list[tuple[str, list[tuple[str, int, str]]]]:
    """(array, [(constant, value, meaning)]) for the packed flag arrays, read from the code."""
    P = importlib.import_module(FLAGS_MODULE)  # noqa: N806 - the module's usual alias

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
_KERNEL_MODULES = ("scslab.stages.settle",)


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
        out.append((name, stage, smod, first_sentence(doc)))
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
    other_fns = _functions(list(_KERNEL_MODULES))
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
                    doc = first_sentence(importlib.import_module(modname).__doc__)
                except ImportError:
                    modname, doc = "scslab.engine", ""
                pending.append((f"{attr}.step", attr, modname, doc, cond))
            elif name in stage_fns:
                modname, obj = stage_fns[name]
                fn_doc = getattr(getattr(obj, "py_func", obj), "__doc__", None) or importlib \
                    .import_module(modname).__doc__
                pending.append((name, modname.rsplit(".", 1)[-1], modname,
                                first_sentence(fn_doc), cond))
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
                doc = first_sentence(importlib.import_module(modname).__doc__)
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


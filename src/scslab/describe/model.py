"""What describe reads from the model's declarations, behind a narrow interface.

Nothing here parses source code. The day's schedule is the engine's declared plan
(``scslab.plan.SCHEDULE``: each call, the stage it belongs to, the function it runs);
the stages are ``scslab.plan.PLAN`` (each ``StageSpec`` with its doc, random streams
and the state bits it reads and writes); the packed bits are ``scslab.state.BITS``;
what each array of ``World`` and ``State`` holds is its dataclass field's ``doc``
metadata; the random streams are those the stages, the population build
(``population.STREAMS``) and the event log (``eventlog.STREAM``) declare. The sections
ask this module, which returns plain data:

* ``schedule()`` → the ordered ``ScheduleStep`` rows (timer, call, stage, module, doc);
* ``stage_names()``, ``stage_module(stage)``, ``fused_kernel_doc(name)``,
  ``chunk_target()`` → the stages and their docstrings;
* ``random_streams()`` → (stream, id, keyed by, what it drives) rows;
* ``flag_layouts()``, ``FLAGS_MODULE`` → the bits of the packed flag arrays;
* ``field_docs(cls)`` → what each array field of a state dataclass holds.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass

from scslab.formatting import first_sentence

__all__ = ["FLAGS_MODULE", "STREAM_USES", "ScheduleStep", "chunk_target", "declared_streams",
           "field_docs", "flag_layouts", "fused_kernel_doc", "random_streams", "schedule",
           "stage_module", "stage_names"]

#: The module that declares the packed flag bits (``BITS``).
FLAGS_MODULE = "scslab.state"

#: How each declared random stream is keyed and what it drives (``random_streams`` lists
#: the streams the code declares; a test checks this table covers exactly those).
STREAM_USES: dict[str, tuple[str, str]] = {
    "population": ("seed", "the population build: household sizes, each household's group, "
                           "each agent's sex, age class, disposition and employment"),
    "ties": ("seed", "the number of social ties each agent starts and where they land"),
    "businesses": ("seed", "the sizes of businesses (log-normal weights)"),
    "awareness": ("seed", "whether an agent knows the rules — a fixed trait, one draw per "
                          "agent for the whole run"),
    "behaviour": ("seed, day", "each agent's acts of the day (one uniform per agent, "
                               "behaviour and day)"),
    "sensing": ("seed, day", "which sensor observes an act, false matches, the classified sex "
                             "and age, the wrongly matched agent, evidence review"),
    "listing": ("seed, day", "early fulfilment of a court obligation"),
    "sanctions": ("seed, day", "attempts to fly, travel, buy, borrow, claim a service or enrol "
                               "a child; reward claims"),
    "due_process": ("seed, day", "appeal filing and decisions, credit-repair acts"),
    "vehicles": ("seed", "the registered owner of the vehicle each agent drives (the agent or "
                         "another adult of its household) — a fixed trait for the run"),
    "eventlog": ("seed", "which agents are in the event-log sample (fixed for the run)"),
    "initial_state": ("seed", "who starts the run on the court list, and for how long"),
    "abroad:<flow>": ("seed; seed, day", "per data flow abroad: each foreign resident's fixed "
                                         "traits (person of interest, home tie) and the day's "
                                         "captures, identifications, false matches and the "
                                         "home agents they land on"),
    "abroad:<flow>:visits": ("seed, day", "which foreign residents visit the site abroad that "
                                          "day"),
    "abroad:<flow>:count": ("seed, day", "the rounding of the number of new visitors when the "
                                         "resident population is unknown"),
    "abroad:<flow>:review": ("seed, day", "which false matches abroad recorded at home "
                                          "evidence review reverses"),
}


# --------------------------------------------------------------------------- stages


def stage_names() -> list[str]:
    """The stages in the order of the day (``scslab.plan.STAGES``, the engine's timers)."""
    from scslab import plan

    return list(plan.STAGES)


def stage_module(stage: str) -> tuple[str, str] | None:
    """(module name, docstring) of the stage module ``stage``, or None when there is none."""
    try:
        mod = importlib.import_module(f"scslab.stages.{stage}")
    except ImportError:
        return None
    return mod.__name__, mod.__doc__ or ""


def fused_kernel_doc(name: str) -> str:
    """The docstring of the module of the settle pass kernel ``name`` ('' if unknown)."""
    from scslab import plan

    for k in plan.SETTLE.kernels:
        if getattr(k, "__name__", None) == name:
            return importlib.import_module(k.__module__).__doc__ or ""
    return ""


def chunk_target() -> int | None:
    """About how many agents one parallel chunk holds (``engine.CHUNK_TARGET``), if set."""
    from scslab import engine

    chunk = getattr(engine, "CHUNK_TARGET", None)
    return int(chunk) if chunk else None


# --------------------------------------------------------------------------- state


def field_docs(cls: type) -> dict[str, str]:
    """What each field of the dataclass ``cls`` holds (its ``doc`` field metadata)."""
    if not dataclasses.is_dataclass(cls):
        return {}
    return {f.name: f.metadata["doc"] for f in dataclasses.fields(cls) if "doc" in f.metadata}


def flag_layouts() -> list[tuple[str, list[tuple[str, int, str]]]]:
    """(array, [(constant, value, meaning)]) for each packed flag array, from ``state.BITS``."""
    state = importlib.import_module(FLAGS_MODULE)
    out: dict[str, list[tuple[str, int, str]]] = {}
    for b in state.BITS:
        out.setdefault(b.array, []).append((b.name, b.value, b.meaning))
    return [(array, sorted(bits, key=lambda b: b[1])) for array, bits in out.items()]


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class ScheduleStep:
    """One call of the day, in order."""

    timer: str  # the timer the engine charges it to (``Simulation.stage_seconds``)
    function: str  # the function called ("settle_kernel › score_agent" inside the fused pass)
    stage: str  # the stage it belongs to (behaviour, sensing, …)
    module: str  # the module that defines the function
    doc: str  # first sentence of its docstring


def schedule() -> list[ScheduleStep]:
    """The calls of one simulated day in order, from the plan (``scslab.plan.SCHEDULE``).

    A part of the fused settle pass is shown as ``settle_kernel › <per-agent rule>`` and is
    timed with the pass (``settle``) unless the run profiles each stage.
    """
    from scslab import plan

    steps = []
    for call in plan.SCHEDULE:
        fn = call.run if call.run is not None else call.agent
        obj = getattr(fn, "py_func", fn)
        modname = getattr(obj, "__module__", "scslab.engine")
        doc = getattr(obj, "__doc__", None) or importlib.import_module(modname).__doc__
        timer = plan.SETTLE.name if call.settle else call.stage
        steps.append(ScheduleStep(timer, call.name, call.stage, modname, first_sentence(doc)))
    return steps


# --------------------------------------------------------------------------- random streams


def declared_streams() -> list[str]:
    """Every random stream the code declares: the population build, the stages, the event log."""
    from scslab import eventlog, plan, population

    names = [*population.STREAMS, *(s for spec in plan.PLAN for s in spec.streams),
             eventlog.STREAM]
    return list(dict.fromkeys(names))


def random_streams() -> list[tuple[str, int, str, str]]:
    """(stream, 32-bit stream id, keyed by, what it drives) for every declared stream.

    In the order of :data:`STREAM_USES`; a per-flow stream (``abroad:<flow>``) has no
    single id (-1).
    """
    from scslab import rng

    order = list(STREAM_USES)
    names = sorted(declared_streams(),
                   key=lambda s: (order.index(s) if s in order else len(order), s))
    rows = []
    for s in names:
        keyed, drives = STREAM_USES.get(s, ("?", "(not documented)"))
        rows.append((s, rng.stream_id(s) if "<" not in s else -1, keyed, drives))
    return rows

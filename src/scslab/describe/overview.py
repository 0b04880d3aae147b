"""ODD sections 1–3 (Overview).

Purpose and patterns; entities, state variables and scales; process overview and
scheduling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from scslab.describe.context import _active, _businesses_estimate, _Ctx, _mean_household
from scslab.describe.model import (
    FLAGS_MODULE,
    chunk_target,
    field_docs,
    flag_layouts,
    fused_kernel_doc,
    schedule,
    stage_module,
    stage_names,
)
from scslab.formatting import (
    doc_paragraph,
    fmt_exact,
    fmt_number,
    md_cell,
    md_code,
    md_table,
    pct_spaced,
    plural,
    rst_to_md,
)

__all__ = ["StateVariable", "state_variables"]

#: Descriptions for arrays whose declaration carries no comment.
ARRAY_NOTES: dict[str, str] = {
    "region": "Region index of the agent",
    "hh_size": "Size of the agent's household",
    "tie_ptr": "CSR offsets into tie_idx (length n+1, or 1 when there are no ties)",
}


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


def _strip_dtype(comment: str, dtype: str) -> str:
    c = re.sub(rf"^{re.escape(dtype)}\b[:,]?\s*", "", comment)
    return c[:1].upper() + c[1:] if c else c


def state_variables(world: Any, state: Any) -> list[StateVariable]:
    """Every array of ``world`` and ``state`` with its dtype and measured bytes per agent."""
    from dataclasses import fields as dc_fields

    n = max(int(world.n), 1)
    out: list[StateVariable] = []
    for owner, obj in (("World", world), ("State", state)):
        notes = field_docs(type(obj))
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
            elif name.startswith("group_"):
                entity = "group index"  # read-only lookup of a group's members (sensing)
            elif arr.shape[:1] == (world.n,):
                entity = "agent"
            else:
                entity = "other"
            per_agent = 0.0 if entity in ("region", "other") else arr.nbytes / n
            note = _strip_dtype(notes.get(name, ""), str(arr.dtype)) or ARRAY_NOTES.get(name, "")
            out.append(StateVariable(owner, name, entity, str(arr.dtype), int(arr.itemsize),
                                     per_agent, note))
    return out


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
        f"- *Agents* — {fmt_exact(N)} synthetic persons, numbered 0 … {fmt_exact(N - 1)}. Fixed attributes: "
        "sex, age class (child, adult, elderly), demographic group, region, household, "
        "employer, a latent disposition to break rules. Changing state: the recorded score, "
        "the twin-ledger score (the score the agent would have with no identity errors), "
        "list memberships on both ledgers, exposure to spillover, list dates, a pending "
        "appeal, the number of listed ties.",
        f"- *Households* — contiguous ranges of agent ids inside a region (mean size "
        f"{fmt_exact(round(_mean_household(sc), 2))}); they carry no state of their own.",
        (f"- *Businesses* — about {fmt_exact(n_biz_est)} employers (mean size "
         f"{fmt_exact(pop.employers.mean_size)} employees); each has a legal representative (its "
         "first employee), a score on both ledgers and a listed flag." if n_biz_est else
         "- *Businesses* — none (`population.employers.employed_share` is 0)."),
        (f"- *Social ties* — a symmetric network, mean degree {fmt_exact(pop.ties.mean_degree)}, "
         f"{pct_spaced(pop.ties.within_region, 0)} inside the agent's region."
         if pop.ties.mean_degree > 0 else
         "- *Social ties* — none (`population.ties.mean_degree` is 0)."),
        f"- *Regions* ({len(pop.regions)}) and *groups* ({len(pop.groups)}) — categories "
        "that set camera density, local rules and false-match rates; no state.",
        "- *Sensors* and *lists* — the system's side: sensors are parameters (coverage, "
        "detection, error rates), lists are the agents' flags.",
        "",
        "**State variables.** The arrays a run allocates, read from a "
        f"{fmt_exact(c.n_sample)}-agent build of this scenario (`World` is fixed for the run, "
        "`State` changes every day). Bytes per agent are measured: the array's bytes divided "
        "by the number of agents.",
        "",
    ]
    rows = []
    for v in svs:
        bpa = f"{v.bytes_per_agent:.2f}" if v.bytes_per_agent else "–"
        rows.append([md_code(f"{v.owner}.{v.name}"), v.entity, md_code(v.dtype),
                     str(v.itemsize), bpa, md_cell(v.description)])
    lines.append(md_table(["array", "one per", "dtype", "bytes per item", "bytes per agent",
                         "meaning"], rows))
    lines += [
        "",
        f"Memory per agent: {per_agent_state:.1f} B of changing state + {per_agent_attr:.1f} B "
        f"of fixed attributes + {per_agent_ties:.1f} B of ties (8 B of offsets + 4 B per tie "
        f"end; the network is symmetric) + {per_agent_biz:.2f} B of businesses = "
        f"**{total:.1f} B per agent**, about {_bytes(total * N)} for {fmt_exact(N)} agents.",
        "",
        f"Packed arrays (bits, from `{FLAGS_MODULE}`): `World.attr` holds sex in bit 0, the age "
        "class in bits 1–2 and the group in bits 3–7 (at most 32 groups).",
        "",
    ]
    for name, bits in flag_layouts():
        lines.append(f"- `{name}`: " + "; ".join(
            f"{val} = `{k}` ({md_cell(desc)})" for k, val, desc in bits) + ".")
    lines += [
        "",
        "**Scales.**",
        "",
        f"- Time: one step is one day; {fmt_exact(sc.days)} days"
        + (f" from {sc.start_date}" if sc.start_date else "") + f" (about "
        f"{sc.days / 365.25:.1f} years).",
        f"- Population: {fmt_exact(N)} agents; a run can be scaled with `--agents` (counts of rare "
        "events such as false matches and spillover through ties do not scale exactly).",
        f"- Space: not explicit. Agents live in {plural(len(pop.regions), 'region', 'regions')} "
        "(contiguous blocks of agent ids) that differ in camera density and local rules; ties "
        "and false matches reach within or across regions as set below. Groups: "
        f"{len(pop.groups)}; adults are {pct_spaced(adults, 0)} of agents.",
        "",
    ]
    rrows = []
    for reg in pop.regions:
        rrows.append([md_code(reg.name), fmt_number(reg.share), fmt_exact(round(reg.share * N)),
                      fmt_number(reg.cameras_per_1000),
                      ", ".join(f"{md_code(k)} {fmt_number(v)}" for k, v in reg.rules.items())
                      or "–"])
    lines.append(md_table(["region", "share", "agents (≈)", "cameras per 1,000",
                         "local rules (points per act)"], rrows))
    lines.append("")
    grows = [[md_code(g.name), fmt_number(g.share), fmt_exact(round(g.share * N))]
             for g in pop.groups]
    lines.append(md_table(["group", "share of agents", "agents (≈)"], grows))
    return "\n".join(lines)


def _bytes(b: float) -> str:
    for unit, k in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= k:
            return f"{b / k:,.1f} {unit}"
    return f"{b:.0f} B"


def _process(c: _Ctx) -> str:
    steps = schedule()
    stages = stage_names()
    lines = [
        "Each day the engine (`scslab.engine.Simulation.step`) makes the calls below, in this "
        "order. The table is the engine's declared plan (`scslab.plan.SCHEDULE`): each call, "
        "the stage it belongs to and the timer the engine charges it to (the stages, in day "
        "order: " + ", ".join(f"`{s}`" for s in stages) + "). Consecutive calls "
        "`settle_kernel › …` are one fused pass, timed as `settle` (or one pass per stage, "
        "timed per stage, with `--profile`). A call with nothing to do returns at once "
        "(e.g. `spread` when the scenario has no ties or businesses).",
        "",
    ]
    rows = []
    for k, s in enumerate(steps, 1):
        note = ""
        if not _active(c, s):
            note = " (not set up for this scenario)"
        rows.append([str(k), md_code(s.timer), md_code(s.function) + note, md_code(s.stage),
                     md_cell(rst_to_md(s.doc))])
    lines.append(md_table(["#", "timer", "call", "stage", "what it does"], rows))
    fused = sorted({s.function.split(" › ")[0] for s in steps if " › " in s.function})
    for name in fused:
        kdoc = rst_to_md(doc_paragraph(fused_kernel_doc(name)))
        lines += ["", f"Rows `{name} › …` are the per-agent rules that the fused kernel "
                  f"`{name}` applies in one pass over each household, in the order shown, "
                  f"agent by agent. {md_cell(kdoc)}"]
    lines += ["", "What each stage does (its module's docstring):", ""]
    seen: list[str] = []
    for stage in [*stages, *[x.stage for x in steps]]:
        if stage in seen:
            continue
        seen.append(stage)
        found = stage_module(stage)
        if found is None:
            continue
        lines.append(f"- **{stage}** — {md_cell(rst_to_md(doc_paragraph(found[1])))}")
    chunk = chunk_target()
    lines += [
        "",
        "**Scheduling and update order.** Time is discrete (one day per step). Agents are "
        "processed in parallel in chunks of whole households"
        + (f" (about {fmt_exact(chunk)} agents each, fewer in small populations, cut at "
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


"""ODD sections 5 and 6 (Details): initialisation and input data."""

from __future__ import annotations

from scslab.describe.context import _Ctx, _mean_household
from scslab.describe.parameters import Parameter
from scslab.formatting import (
    fmt_exact,
    fmt_number,
    fmt_value,
    md_cell,
    md_code,
    md_table,
    pct_spaced,
)


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
        f"about {pct_spaced(child, 0)} children and {pct_spaced(eld, 0)} elderly.",
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
        f"Initial state: every agent's recorded and twin score is {fmt_exact(sc.policy.scoring.base)} "
        "(`policy.scoring.base`), as is every business's; no one is on any list; no appeal is "
        "pending; no one is exposed to spillover. Whether an agent knows the rules is fixed "
        "from the start (stream `awareness`).",
        "",
        f"Realised in a {fmt_exact(c.n_sample)}-agent build of this scenario (same rules, same seed):",
        "",
    ]
    n = w.n
    age = (w.attr >> 1) & 3
    grp = w.attr >> 3
    rows = [
        ["children", pct_spaced(child), pct_spaced(float((age == 0).mean()))],
        ["elderly", pct_spaced(eld), pct_spaced(float((age == 2).mean()))],
        ["female", pct_spaced(pop.female_share), pct_spaced(float((w.attr & 1).mean()))],
        ["mean household size", f"{mean_size:.2f}",
         f"{n / max(int((w.hh_off == 0).sum()), 1):.2f}"],
    ]
    for g, gr in enumerate(pop.groups):
        rows.append([f"group `{gr.name}`", pct_spaced(gr.share), pct_spaced(float((grp == g).mean()))])
    adults = age == 1
    if adults.any():
        rows.append(["adults employed", pct_spaced(emp.employed_share),
                     pct_spaced(float((w.employer[adults] >= 0).mean()))])
    rows.append(["mean degree (ties)", fmt_number(pop.ties.mean_degree),
                 f"{w.tie_idx.size / max(n, 1):.2f}"])
    if w.n_business:
        rows.append(["mean business size", fmt_number(emp.mean_size),
                     f"{float(w.biz_size.mean()):.1f}"])
    lines.append(md_table(["quantity", "target", "realised"], rows))
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
        lines.append(md_table(["path", "value", "unit", "default", "source", "description"],
                            rows))
        lines.append("")
    return "\n".join(lines).rstrip()


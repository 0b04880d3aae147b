"""ODD section 7 (Submodels): each stage's rules and formulas, with the scenario's numbers.

Read from the compiled tables the kernels run on (``params.compile_params``): edit
``policy.rules.fraud`` and the rule table here changes.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from scslab.describe.context import _active, _Ctx
from scslab.describe.model import schedule, stage_module, stage_names
from scslab.formatting import (
    first_sentence,
    fmt_exact,
    fmt_number,
    md_cell,
    md_code,
    md_table,
    pct_spaced,
    rst_to_md,
)
from scslab.params import N_HIST
from scslab.scenario.schema import Cameras

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
                     fmt_exact(round(per_day, 1))])
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
        f"takes points away for it. {pct_spaced(aware)} of agents know the rules "
        f"(`responses.deterrence.awareness_{sc.governance.transparency.value}`, because the "
        f"rules are {sc.governance.transparency.value}).",
        "",
        md_table(["behaviour", "rate per day", "child", "adult", "elderly", "exponent e",
                "penalised", "chilled", f"expected acts per day (N = {fmt_exact(c.N)}, before "
                "deterrence)"], rows),
        "",
    ]
    if ch.strength > 0 and ch.behaviour in sc.behaviours:
        lines += [
            f"Chilling of `{ch.behaviour}`: risk_region = {fmt_number(ch.surveillance_weight)} "
            "× P(the act is observed in the region) × max(0, −points) / 100, from the sensor "
            "and rule tables below. For an unlisted agent with no listed ties:",
            "",
            md_table(["region", "risk_region", "C (multiplier on speech)", "speech suppressed"],
                   [[md_code(r), f"{float(x):.3f}", f"{1 / (1 + ch.strength * float(x)):.3f}",
                     pct_spaced(1 - 1 / (1 + ch.strength * float(x)))]
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
        md_table(["sensor", "enabled", "observes", "coverage", "detection", "false-match rate",
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
            md_table(["behaviour"] + [md_code(r) for r in p.region_names], brows),
            "",
            "False-match rate per sensor and actor group (rate × group multiplier, at most 1):",
            "",
            md_table(["sensor"] + [md_code(g) for g in p.group_names],
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
        md_table(["behaviour", "national rule"] + [md_code(r) for r in regions]
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
        md_table(["grade", "minimum score"], [[md_code(g.name), fmt_number(g.min_score)]
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
        md_table(["channel", "who is exposed", "points lost per day", "sanctions extended"], [
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
                   f"{fmt_exact(bl.min_days)} days (hysteresis).")
    else:
        out.append("- **Blacklist**: disabled — a low score lists no one.")
    if ct.enabled:
        f = ct.fulfil_rate
        T = ct.term_days
        stay = (1 - (1 - f) ** T) / f if f > 0 else float(T)
        out.append(f"- **Court list**: a recorded act of `{ct.trigger}` is a court order: the "
                   f"agent is listed for {fmt_exact(T)} days (a new order restarts the term); each "
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
        md_table(["kind", "attempt rate per day", "attempts per year", "denied to members of",
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
            f"{fmt_exact(a.review_delay_days)} days later. If the record is wrong (listed only "
            "because of identity errors, or a score below its twin) the appeal succeeds with "
            f"probability {fmt_number(a.success_if_wrong)}, else with probability "
            f"{fmt_number(a.success_if_right)}. A successful appeal restores the score to at "
            "least the twin score and removes the wrongful entries (a right record: the score "
            "is raised to the exit threshold and the agent delisted).")
    else:
        items.append("- **Appeals**: none — a listed agent cannot contest its record.")
    items.append(
        f"- **Expiry**: a blacklist entry expires after {fmt_exact(ex.days)} days and the score is "
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
            + md_table(["flow", "site", "site jurisdiction", "destination", "cameras",
                      "visitors per day", "cross-border"], rows))


def _submodels(c: _Ctx) -> str:
    stages = stage_names()
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
    order = stages + [s for s in writers if s not in stages]
    steps = schedule()
    extra = sorted({s.stage for s in steps} - set(order))
    out = []
    k = 0
    for stage in order + extra:
        if stage in writers:
            title, fn = writers[stage]
            body = fn(c)
        else:
            found = stage_module(stage)
            if found is None:
                continue
            modname, doc = found
            title = stage.replace("_", " ").capitalize()
            own = [s for s in steps if s.module == modname]
            if own and not any(_active(c, s) for s in own):
                body = ("Not active in this scenario: the engine does not set this stage up "
                        f"for it. When active: {md_cell(first_sentence(doc))}")
            else:
                body = rst_to_md(inspect.cleandoc(doc)) or "(no description)"
                if stage == "abroad" and c.sc.data_flows:
                    body += "\n\n" + _sub_data_flows(c)
        k += 1
        out += [f"### 7.{k} {title}", "", body, ""]
    if c.sc.data_flows and "abroad" not in extra:
        k += 1
        out += [f"### 7.{k} Data flows abroad", "", _sub_data_flows(c), ""]
    return "\n".join(out).rstrip()


"""The report's tables: refusals, harms by group, governance, scenario settings, provenance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from scslab.formatting import fmt, human, pct, value_text
from scslab.report.common import _denial_kinds, _groups, _has, _last, _total
from scslab.report.elements import Table
from scslab.results import Result

if TYPE_CHECKING:
    from scslab.scenario.schema import Scenario


def denials_table(daily: pd.DataFrame) -> Table:
    """Refusals per sanction type over the run."""
    rows = [[human(k), fmt(_total(daily, f"denied_{k}")), fmt(_last(daily, f"denied_{k}"))]
            for k in _denial_kinds(daily)]
    if _has(daily, "denied_wrongful"):
        rows.append(["of which to wrongly listed people", fmt(_total(daily, "denied_wrongful")),
                     fmt(_last(daily, "denied_wrongful"))])
    if _has(daily, "collateral_denials"):
        rows.append(["to people punished through others",
                     fmt(_total(daily, "collateral_denials")),
                     fmt(_last(daily, "collateral_denials"))])
    return Table("Refusals by type", ["sanction", "total over the run", "last day"], rows)


def group_table(result: Result) -> Table:
    """Per-group harms: listed, wrongly listed, listed through others, rates, misattribution."""
    daily, sc = result.daily, result.scenario
    shares = {g.name: g.share for g in sc.population.groups} if sc is not None else {}
    mult = dict(sc.sensors.cameras.group_multipliers) if sc is not None else {}
    rows = []
    for g in _groups(daily):
        rate = daily[f"wrongful_rate__{g}"]
        last_rate = _last(daily, f"wrongful_rate__{g}")
        rows.append([
            g, pct(shares.get(g)) if g in shares else "–",
            fmt(mult.get(g, 1.0)) + "×",
            fmt(_last(daily, f"listed__{g}")), fmt(_last(daily, f"wrongful_listed__{g}")),
            fmt(_last(daily, f"listed_through_others__{g}")),
            fmt(None if last_rate is None else last_rate * 1e4),
            fmt(float(pd.to_numeric(rate).mean()) * 1e4 if len(rate) else None),
            fmt(_total(daily, f"misattributed__{g}")),
        ])
    return Table("Harms by group",
                 ["group", "share of agents", "camera false-match multiplier",
                  "listed (last day)", "wrongly listed (last day)",
                  "listed through others (last day)",
                  "wrongly listed per 10,000 (last day)", "per 10,000 (run average)",
                  "misattributed acts landing on the group"], rows,
                 "Each group's rates against the reference group, with intervals, are in the "
                 "fairness table.")


def fairness_table(result: Result) -> Table | None:
    """Each group against the reference: rate ratios per person-day, 95 % exact intervals.

    A ratio below the enough-events rule reads "not enough events" with the number of
    agents that would resolve it (see :mod:`scslab.fairness`). None without a ``fairness``
    block (runs from before it) or with one group.
    """
    from scslab import fairness

    fair = (result.summary or {}).get("fairness")
    if not isinstance(fair, dict) or len(fair.get("groups") or {}) < 2:
        return None
    rows, attrs = [], []
    for r in fairness.rows(fair):
        rate = r.get("rate")
        ep = ""
        if r.get("episode_ratio") is not None:
            hi = r.get("episode_hi")
            ep = (f"{r['episode_ratio']:.3g}× [{r['episode_lo']:.3g}, "
                  f"{'∞' if hi is None else f'{hi:.3g}'}]")
        rows.append([r["group"], r["label"], r["text"],
                     fmt(r.get("rule_events")), fmt(r.get("reference_rule_events")),
                     fmt(r["events"]), fmt(None if rate is None else rate * 1e4),
                     ep or "–"])
        attrs.append({"status": "short" if r.get("ratio") is None else "ok"})
    ref = fair["reference"]
    return Table(f"Fairness: each group against {ref}",
                 ["group", "measure", f"rate ratio vs {ref} [95% interval]",
                  "events (group)", f"events ({ref})", "agent-days or acts (group)",
                  "per 10,000 person-days", "episode-rate ratio [95% interval]"], rows,
                 f"Rates are per person-day (agent-days wrongly listed, or misattributed acts "
                 f"recorded on members, over group size × days), divided by {ref}'s; 95% exact "
                 "conditional-binomial (Clopper–Pearson) intervals. Events for the rule are "
                 "wrongful-listing episodes (an agent going onto the wrongful list) or "
                 f"misattributed acts; a ratio needs at least {fair['min_events']} in the group "
                 f"and in {ref}, else it reads “not enough events” with the agents that would "
                 "resolve it (or oversample the group). Days of one listing are not independent, "
                 "so the person-day interval is too narrow; the episode-rate interval is the "
                 "honest width. See docs/fairness.md.", id="fairness-table", numeric_from=3,
                 row_attrs=attrs)


def governance_rows(sc: Scenario) -> list[list[str]]:
    """Governance settings as [setting, value, what it means] rows."""
    g = sc.governance
    d = sc.responses.deterrence
    secret = value_text(g.transparency) == "secret"
    rows = [["Rules", "secret" if secret else "published",
             (f"Only {pct(d.awareness_secret, 0)} of people know the rules; the listed rarely "
              "know why." if secret else
              f"{pct(d.awareness_published, 0)} of people know the rules and why they were "
              "listed.")]]
    a = g.appeals
    rows.append(["Appeals", "on" if a.enabled else "off",
                 (f"Decided after {a.review_delay_days} days; a wrong record is overturned with "
                  f"probability {pct(a.success_if_wrong, 0)}, a right one with "
                  f"{pct(a.success_if_right, 0)}." if a.enabled else
                  "No way to contest a listing.")])
    e = g.evidence_review
    rows.append(["Evidence review", "on" if e.enabled else "off",
                 (f"{pct(e.reversal_probability, 0)} of wrong identity matches are caught before "
                  "they count." if e.enabled else "Automated matches count as they are.")])
    x = g.expiry
    rows.append(["Expiry of list entries", f"after {x.days} days" if x.enabled else "off",
                 "Entries are removed after a fixed time." if x.enabled else
                 "A blacklist entry lasts until the score recovers."])
    c = g.credit_repair
    rows.append(["Credit repair", "on" if c.enabled else "off",
                 (f"Listed people do repair acts ({pct(c.rate)} a day, +{fmt(c.points)} points "
                  "each)." if c.enabled else "No way to earn one's way back.")])
    return rows


def scenario_tables(sc: Scenario) -> list[Table]:
    """The key parameters of a scenario, as small tables."""
    from scslab.scenario.schema import Cameras

    p, pol = sc.population, sc.policy
    pop = Table("Population", ["setting", "value"], [
        ["synthetic people", fmt(p.agents)],
        ["groups (share of agents)", ", ".join(f"{g.name} {pct(g.share)}" for g in p.groups)],
        ["regions (share, cameras per 1,000)",
         "; ".join(f"{r.name} {pct(r.share, 0)}, {fmt(r.cameras_per_1000)}" for r in p.regions)],
        ["friends and associates per person", fmt(p.ties.mean_degree)],
        ["adults employed by a business", pct(p.employers.employed_share, 0)],
    ])
    local = {r.name: r.rules for r in p.regions if r.rules}
    rule_rows = []
    for b, pts in pol.rules.items():
        extra = "; ".join(f"{reg}: {fmt(rr[b])}" for reg, rr in local.items() if b in rr)
        rule_rows.append([human(b), ("+" if pts > 0 else "") + fmt(pts), extra or "–"])
    rules = Table("Points per recorded act", ["act", "points", "local pilot rules"], rule_rows,
                  f"Everyone starts at {fmt(pol.scoring.base)} points (range "
                  f"{fmt(pol.scoring.minimum)}–{fmt(pol.scoring.maximum)}); scores drift back "
                  f"toward the start by {pct(pol.scoring.decay)} of the gap a day.")
    bl, ct, rl = pol.lists.blacklist, pol.lists.court, pol.lists.redlist
    lists = Table("Lists", ["list", "rule"], [
        ["blacklist", (f"enter below {fmt(bl.enter_below)}, leave at {fmt(bl.exit_at_or_above)}"
                       f" (at least {bl.min_days} days)") if bl.enabled else "off"],
        ["court list", (f"a recorded {human(ct.trigger)} lists for {ct.term_days} days")
         if ct.enabled else "off"],
        ["redlist", f"score ≥ {fmt(rl.min_score)}" if rl.enabled else "off"],
        ["grades", ", ".join(f"{g.name} ≥ {fmt(g.min_score)}" if g.min_score > -1e5 else
                             f"{g.name} below" for g in pol.grades)],
    ])
    sens_rows = []
    for name, s in sc.sensors.items():
        if not s.enabled:
            sens_rows.append([human(name), "off", "–", "–", "–", "–"])
            continue
        cov = pct(s.coverage, 0)
        if isinstance(s, Cameras) and s.density_coverage:
            cov = f"from camera density (63% at {fmt(s.saturation_per_1000)} per 1,000)"
        sens_rows.append([human(name), value_text([human(o) for o in s.observes]), cov,
                          pct(s.detection, 0), pct(s.false_match_rate, 3),
                          value_text({k: f"{fmt(v)}×" for k, v in s.group_multipliers.items()})])
    sensors = Table("Sensors", ["sensor", "observes", "coverage", "detection",
                                "false-match rate", "group multipliers"], sens_rows,
                    "A false match records the act on someone else, usually a look-alike of the "
                    "same group.")
    sanc = Table("Sanctions", ["sanction", "attempts per person-day", "denied to"], [
        [human(k), pct(s.attempt_rate, 2), value_text(list(s.lists))]
        for k, s in pol.sanctions.items()])
    sp = pol.spillover
    spill = Table("Joint punishment", ["setting", "value"], [
        ["spillover", "on" if sp.enabled else "off"],
        ["household members of a listed person", f"−{fmt(sp.household.penalty)} points a day; "
         f"sanctions: {value_text([human(x) for x in sp.household.sanctions])}"],
        ["friends of a listed person", f"−{fmt(sp.ties.penalty)} points a day"],
        ["business with a listed representative",
         f"−{fmt(sp.employer.representative_listed_points)} points a day"],
        ["employees of a listed business", f"−{fmt(sp.employer.employee_penalty)} points a day"],
    ])
    return [pop, rules, lists, sensors, sanc, spill]


def provenance_rows(summary: dict) -> list[list[str]]:
    """Where the numbers come from: versions, hashes, timings."""
    prov = summary.get("provenance") or {}
    rows = [["run id", str(summary.get("run_id") or "–")],
            ["scslab", str(prov.get("scslab", "–"))],
            ["git commit", str(prov.get("git_commit") or "unknown")],
            ["Python", str(prov.get("python", "–"))],
            ["platform", str(prov.get("platform", "–"))]]
    pk = prov.get("packages") or {}
    if pk:
        rows.append(["packages", ", ".join(f"{k} {v}" for k, v in pk.items())])
    rows += [["scenario hash", str(prov.get("scenario_hash", "–"))],
             ["threads / device", f"{prov.get('threads', '–')} / {prov.get('device', '–')}"]]
    if summary.get("elapsed_seconds") is not None:
        rate = summary.get("agent_days_per_second")
        rows.append(["time", f"build {fmt(summary.get('build_seconds'))} s, day loop "
                     f"{fmt(summary.get('elapsed_seconds'))} s"
                     + (f" ({fmt(float(rate))} agent-days/s)" if rate else "")])
    if summary.get("peak_memory_bytes"):
        rows.append(["peak memory", f"{summary['peak_memory_bytes'] / 2**20:,.0f} MiB"])
    ev = summary.get("event_log") or {}
    if ev:
        rows.append(["event log", f"{ev.get('scope', '–')} ({fmt(ev.get('rows'))} rows)"
                     if ev.get("enabled") else "off"])
    return rows


def _glossary(daily: pd.DataFrame, sc: Scenario | None) -> list[list[str]]:
    """Every daily column with its meaning, from the metric registry."""
    try:
        from scslab.scenario.schema import SANCTION_KINDS
        from scslab.stages.abroad import abroad_metrics
        from scslab.stages.metrics import registry

        if sc is None:
            return []
        reg = registry(list(sc.behaviours), list(SANCTION_KINDS), [g.name for g in
                                                                   sc.policy.grades],
                       [g.name for g in sc.population.groups])
        reg += abroad_metrics(sc.data_flows)
    except Exception:  # noqa: BLE001 - a glossary is a nicety; never fail a report for it
        return []
    return [[m.name, m.description, m.unit, m.kind] for m in reg if m.name in daily.columns]

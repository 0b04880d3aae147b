"""ODD section 4: the eleven design concepts, with the scenario's numbers."""

from __future__ import annotations

from scslab.describe.context import _Ctx
from scslab.describe.model import random_streams
from scslab.formatting import fmt_exact, fmt_number, md_cell, md_code, md_table, pct_spaced, plural

__all__ = ["DESIGN_CONCEPTS"]

DESIGN_CONCEPTS: tuple[str, ...] = (
    "Basic principles", "Emergence", "Adaptation", "Objectives", "Learning", "Prediction",
    "Sensing", "Interaction", "Stochasticity", "Collectives", "Observation",
)


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
        f"the rules ({pct_spaced(aware)} of agents, because the rules are "
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
        f"{pct_spaced(aware)} who know the rules — the rules themselves. The system senses agents "
        f"through {plural(len(active_sensors), 'active sensor', 'active sensors')} ("
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
        "`SeedSequence`. The named streams (as the code declares them):\n\n"
        + md_table(["stream", "id (CRC-32)", "keyed by", "drives"], stream_rows))
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
           f"{fmt_exact(sc.output.event_log.full_below)}, otherwise a fixed hash-based sample of "
           f"about {fmt_exact(sc.output.event_log.sample_agents)} agents) "
           if sc.output.event_log.enabled else "(disabled in this scenario) ")
        + "that `scslab explain` reads. Nothing is recorded per agent per day.")
    out = []
    for k, name in enumerate(DESIGN_CONCEPTS, 1):
        out += [f"### 4.{k} {name}", "", subs[name], ""]
    return "\n".join(out).rstrip()


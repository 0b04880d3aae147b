"""``scslab explain``: the audit trail of one synthetic agent, read from the event log."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from pathlib import Path

from scslab.errors import RunDirError, ScslabError
from scslab.eventlog import (
    CHANNEL_CODES,
    DENIAL_REASON_CODES,
    LEDGER_DOCS,
    LIST_CODES,
    LIST_REASON_DOCS,
    logged_mask,
)
from scslab.events import CHANNEL_NAMES, LIST_NAMES, REASON_NAMES
from scslab.results import EVENTS_FILE, load_run, read_events
from scslab.rng import stream_key

#: The three ledgers (DESIGN.md §4), as the event log's ``ledger`` column names them.
LEDGERS = tuple(LEDGER_DOCS)
LEDGER_WORDS = {"recorded": "recorded score",
                "twin": "true ledger (no identity errors)",
                "own": "own-conduct ledger (own acts only, no spillover)"}
#: The event log's strings in words (keys: the documented values of ``scslab.eventlog``).
LIST_WORDS = {name: LIST_NAMES[c] for c, name in LIST_CODES.items()}
CHANNEL_WORDS = {name: CHANNEL_NAMES[c] for c, name in CHANNEL_CODES.items()}
DENIAL_WORDS = {name: REASON_NAMES[c] for c, name in DENIAL_REASON_CODES.items()}
LIST_REASON_WORDS = {"score_threshold": "the score crossed the threshold",
                     "court_order": "a court order",
                     "term_ended": "the order's term ended",
                     "obligation_fulfilled": "the obligation was fulfilled",
                     "expiry": "the entry expired",
                     "appeal_corrected": "appeal upheld, the record corrected",
                     "appeal_leniency": "appeal upheld on a right record (leniency)"}
assert set(LIST_REASON_WORDS) == set(LIST_REASON_DOCS)
_LIST_KINDS = ("list_enter", "list_exit", "court_fulfilled", "expired")


@dataclass
class Explanation:
    """One agent's events in order, and a plain-words account of its listings."""

    agent: int
    scenario: str
    events: list[dict] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    sample_note: str = ""


def _describe(ev: dict) -> tuple[str, str, str]:
    """(event, detail, flag) in words for one row of the event log (text columns)."""
    k, code, other, value = ev["kind"], ev["code"], ev["other"], ev["value"]
    me = ev["agent"]
    act = (code or "act").replace("_", " ")
    sensor = (ev["sensor"] or "a sensor").replace("_", " ")
    if k == "act":
        if other != me:
            return ("act recorded", f"{act} by agent {other}, recorded on this agent by {sensor} "
                    f"({value:+g} points)", "MISATTRIBUTED")
        return ("act recorded", f"{act} seen by {sensor} ({value:+g} points)", "")
    if k == "act_elsewhere":
        return ("own act recorded elsewhere", f"{act} by this agent, recorded on agent {other} "
                f"by {sensor} ({value:+g} points)", "false match")
    if k == "reversed":
        return ("misattribution reversed", f"{act} by agent {other} wrongly matched to this "
                "agent; evidence review reversed it", "")
    if k in _LIST_KINDS:
        ledger = ev.get("ledger") or "recorded"
        lst = LIST_WORDS.get(code, code or "list")
        verb = {"list_enter": "enters", "list_exit": "leaves",
                "court_fulfilled": "fulfils the obligation and leaves",
                "expired": "entry expires on"}[k]
        why = LIST_REASON_WORDS.get(ev.get("reason") or "")
        why = f" — {why}" if why and k in ("list_enter", "list_exit") else ""
        return (f"list {'entry' if k == 'list_enter' else 'exit'}",
                f"{verb} the {lst} on the {LEDGER_WORDS.get(ledger, ledger)} "
                f"(score {value:.1f}){why}", "" if ledger == "recorded" else ledger)
    if k == "denial":
        reason = ev.get("reason") or ""
        return ("denial", f"{act} denied: {DENIAL_WORDS.get(reason, reason)}",
                "collateral" if reason and reason != "own_listing" else "")
    if k in ("exposure_start", "exposure_end"):
        ch = CHANNEL_WORDS.get(code, code or "?")
        src = f" (agent {other})" if code == "household" and other >= 0 else (
            f" (business {other})" if code in ("employer", "legal_representative")
            and other >= 0 else "")
        return ("spillover " + ("starts" if k == "exposure_start" else "ends"),
                f"through {ch}{src}", "")
    if k == "tie_listed":
        return ("tie listed" if value > 0 else "tie delisted",
                f"agent {other}, a tie, {'went onto' if value > 0 else 'left'} a list", "")
    if k == "appeal_filed":
        return ("appeal filed", f"decision due on day {int(value)}", "")
    if k == "appeal_decided":
        return ("appeal decided", ("upheld" if value > 0 else "rejected") +
                (" (the record was wrong)" if code == "record_wrong"
                 else " (the record was right)"), "")
    if k == "credit_repair":
        return ("credit repair", f"{value:+g} points", "")
    if k == "reward":
        return ("reward", "a redlist reward was granted", "")
    return ("event", f"kind {k}", "")


def explain_agent(run_dir: str | Path, agent: int) -> Explanation:
    """Read one agent's events; exit-2 errors for ids outside the population or sample."""
    run_dir = Path(run_dir)
    if isinstance(agent, bool) or not isinstance(agent, numbers.Integral):
        raise ScslabError(f"agent {agent!r}: an agent id is a whole number from 0 to N-1 "
                          "(N agents in the run)")
    agent = int(agent)
    res = load_run(run_dir)
    n = int(res.summary["agents"])  # read_summary checked: an integer >= 1
    if not 0 <= agent < n:
        raise ScslabError(f"agent {agent}: agent ids run from 0 to {n - 1} in this run "
                          f"({n:,} agents)")
    info = res.summary.get("event_log") or {}
    path = run_dir / EVENTS_FILE
    if not info.get("enabled") or not path.exists():
        raise RunDirError(f"{run_dir} has no event log; re-run with "
                          "--set output.event_log.enabled=true")
    frac = float(info.get("fraction", 1.0))
    note = "all agents are logged"
    if frac < 1.0:
        key = stream_key(res.scenario.seed, "eventlog")
        import numpy as np

        if not logged_mask(key, frac, np.array([agent], np.int64))[0]:
            ids = np.flatnonzero(logged_mask(key, frac, np.arange(min(n, 5000), dtype=np.int64)))
            raise RunDirError(f"agent {agent} is not in the logged sample (about {frac:.2%} of "
                              f"agents are logged); try agent {', '.join(map(str, ids[:5]))} "
                              "or raise output.event_log.full_below")
        note = f"this agent is in the logged sample ({frac:.2%} of agents)"
    rows = read_events(run_dir, agent).to_pylist()
    ex = Explanation(agent=agent, scenario=res.scenario.name, sample_note=note)
    cols = ("kind", "code", "other", "sensor", "value", "ledger", "reason")
    for ev in rows:
        what, detail, flag = _describe(ev)
        ex.events.append({"day": ev["day"], "event": what, "detail": detail, "flag": flag,
                          **{k: ev[k] for k in cols}})
    ex.findings = _findings(ex.events, agent)
    ex.findings += ledger_findings(ex.events, _penalties(res.scenario))
    return ex


def _penalties(sc) -> dict[str, float]:
    """Points lost per day through each spillover channel (the event log's channel names)."""
    sp = sc.policy.spillover
    if not sp.enabled:
        return {}
    return {"household": sp.household.penalty, "ties": sp.ties.penalty,
            "employer": sp.employer.employee_penalty}


def _lists_at_end(events: list[dict]) -> dict[str, dict[str, int]]:
    """Per ledger, the lists the agent is on after its last event, with the day it went on."""
    on: dict[str, dict[str, int]] = {name: {} for name in LEDGERS}
    for ev in events:
        k, lst = ev["kind"], ev["code"]
        if k not in _LIST_KINDS or lst == "redlist":
            continue  # the redlist is not a sanction list
        ledger = ev.get("ledger") or "recorded"
        if k == "list_enter":
            on[ledger][lst] = ev["day"]
        else:
            on[ledger].pop(lst, None)
    # the own-conduct court list is the twin's (a court order is the agent's own act)
    if "court_list" in on["twin"]:
        on["own"]["court_list"] = on["twin"]["court_list"]
    return on


def ledger_findings(events: list[dict], penalties: dict[str, float]) -> list[str]:
    """Plain words: which ledger lists the agent at the end of its log, and why.

    "Wrongfully listed" (recorded list, not the twin's), "listed through others" (recorded
    and twin list, not the own-conduct list: the points lost through listed relatives, ties or
    an employer), or "listed by its own conduct".
    """
    on = _lists_at_end(events)
    rec = on["recorded"]
    if not rec:
        return []
    lists = " and ".join(LIST_WORDS.get(x, x) for x in sorted(rec))
    since = min(rec.values())
    if not on["twin"]:
        return [f"Wrongfully listed: on the {lists} since day {since} by the recorded score, "
                "but the true ledger (every act credited to its real author) does not list "
                "this agent — identity errors put it there."]
    if on["own"]:
        return [f"Listed by its own conduct: on the {lists} since day {since}; its own acts "
                "alone list it."]
    open_exposure: dict[str, dict] = {}
    for ev in events:
        if ev["kind"] == "exposure_start":
            open_exposure[ev["code"]] = ev
        elif ev["kind"] == "exposure_end":
            open_exposure.pop(ev["code"], None)
    causes = []
    order = list(CHANNEL_CODES.values())
    for ch, ev in sorted(open_exposure.items(), key=lambda x: order.index(x[0])
                         if x[0] in order else len(order)):
        who = {"household": "household member", "ties": "tie", "employer": "employer",
               "legal_representative": "business it represents"}.get(ch, ch)
        business = ch in ("employer", "legal_representative")
        other = f" {ev['other']}" if ev["other"] >= 0 and ch != "ties" else ""
        pts = penalties.get(ch)
        cost = f", −{pts:g} points a day" if pts else ""
        noun = "business" if business else "agent"
        causes.append(f"{who} ({noun}{other}) listed since day {ev['day']}{cost}")
    why = "; ".join(causes) if causes else ("points lost earlier through listed relatives, "
                                            "ties or an employer")
    return [f"Listed through others: on the {lists} since day {since}, while its own acts "
            f"alone would not list it — {why}."]


def _findings(events: list[dict], agent: int) -> list[str]:
    """Plain words: which misattributed acts and spillover preceded each recorded listing."""
    out = []
    mis: list[dict] = []
    exposed: dict[str, dict] = {}
    for ev in events:
        if ev["kind"] == "act" and ev["other"] != agent:
            mis.append(ev)
        if ev["kind"] == "exposure_start":
            exposed[ev["code"]] = ev
        elif ev["kind"] == "exposure_end":
            exposed.pop(ev["code"], None)
        if (ev["kind"] == "list_enter" and (ev.get("ledger") or "recorded") == "recorded"
                and ev["code"] != "redlist"):
            lst = LIST_WORDS.get(ev["code"], ev["code"])
            if mis:
                acts = "; ".join(f"day {m['day']}: {m['detail']}" for m in mis[-3:])
                out.append(f"Day {ev['day']}: put on the {lst} after {len(mis)} misattributed "
                           f"act(s) — {acts}")
            else:
                out.append(f"Day {ev['day']}: put on the {lst}; no misattributed act preceded "
                           "it")
            for e in exposed.values():
                out.append(f"  while losing points to spillover since day {e['day']} "
                           f"({e['detail']})")
    if not events:
        out.append("No events were recorded for this agent.")
    return out


def render_explanation(ex: Explanation, console) -> None:
    """Print an agent's audit trail (or why there is none) to a Rich console."""
    from rich.table import Table

    console.print(f"agent {ex.agent} in {ex.scenario} — {ex.sample_note}")
    if not ex.events:
        console.print("no events recorded for this agent: nothing was observed, listed or "
                      "denied")
        return
    t = Table("day", "event", "detail", "", box=None)
    for e in ex.events:
        t.add_row(str(e["day"]), e["event"], e["detail"], e["flag"])
    console.print(t)
    for f in ex.findings:
        console.print(f"• {f}")

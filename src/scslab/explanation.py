"""``scslab explain``: the audit trail of one synthetic agent, read from the event log."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scslab.errors import RunDirError, ScslabError
from scslab.eventlog import logged_mask
from scslab.events import (
    CHANNEL_NAMES,
    EV_ACT,
    EV_ACT_ELSEWHERE,
    EV_APPEAL_DECIDED,
    EV_APPEAL_FILED,
    EV_COURT_FULFILLED,
    EV_CREDIT_REPAIR,
    EV_DENIAL,
    EV_EXPIRED,
    EV_EXPOSURE_END,
    EV_EXPOSURE_START,
    EV_LIST_ENTER,
    EV_LIST_EXIT,
    EV_REVERSED,
    EV_REWARD,
    EV_TIE_LISTED,
    LIST_NAMES,
    REASON_NAMES,
)
from scslab.results import EVENTS_FILE, check_events_schema, load_run, run_file
from scslab.rng import stream_key

#: The three ledgers, by ``list code // 8`` of a list event (DESIGN.md §4).
LEDGERS = ("recorded", "twin", "own")
LEDGER_WORDS = {"recorded": "recorded score",
                "twin": "true ledger (no identity errors)",
                "own": "own-conduct ledger (own acts only, no spillover)"}


def _ledger(list_code: int) -> str:
    """The ledger of a list event's code (``TWIN`` and ``OWN`` are added to the list's code)."""
    return LEDGERS[min(list_code // 8, 2)]


@dataclass
class Explanation:
    """One agent's events in order, and a plain-words account of its listings."""

    agent: int
    scenario: str
    events: list[dict] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    sample_note: str = ""


def _describe(ev: dict, behaviours: list[str], sensors: list[str], sanctions: list[str]) -> tuple:
    k, code, other, sensor, value = ev["kind"], ev["code"], ev["other"], ev["sensor"], ev["value"]
    me = ev["agent"]

    def b():
        return behaviours[code] if code < len(behaviours) else f"act {code}"

    def s():
        return sensors[sensor] if 0 <= sensor < len(sensors) else "sensor"

    if k == EV_ACT:
        if other != me:
            return ("act recorded", f"{b()} by agent {other}, recorded on this agent by {s()} "
                    f"({value:+g} points)", "MISATTRIBUTED")
        return ("act recorded", f"{b()} seen by {s()} ({value:+g} points)", "")
    if k == EV_ACT_ELSEWHERE:
        return ("own act recorded elsewhere", f"{b()} by this agent, recorded on agent {other} "
                f"by {s()} ({value:+g} points)", "false match")
    if k == EV_REVERSED:
        return ("misattribution reversed", f"{b()} by agent {other} wrongly matched to this "
                "agent; evidence review reversed it", "")
    if k in (EV_LIST_ENTER, EV_LIST_EXIT, EV_COURT_FULFILLED, EV_EXPIRED):
        ledger = _ledger(code)
        lst = LIST_NAMES.get(code % 8, "list")
        verb = {EV_LIST_ENTER: "enters", EV_LIST_EXIT: "leaves",
                EV_COURT_FULFILLED: "fulfils the obligation and leaves",
                EV_EXPIRED: "entry expires on"}[k]
        return (f"list {'entry' if k == EV_LIST_ENTER else 'exit'}",
                f"{verb} the {lst} on the {LEDGER_WORDS[ledger]} (score {value:.1f})",
                "" if ledger == "recorded" else ledger)
    if k == EV_DENIAL:
        kind = sanctions[code] if code < len(sanctions) else f"kind {code}"
        return ("denial", f"{kind.replace('_', ' ')} denied: {REASON_NAMES.get(sensor, '')}",
                "collateral" if sensor else "")
    if k in (EV_EXPOSURE_START, EV_EXPOSURE_END):
        ch = CHANNEL_NAMES.get(code, "?")
        src = f" (agent {other})" if code == 0 and other >= 0 else (
            f" (business {other})" if code >= 2 and other >= 0 else "")
        return ("spillover " + ("starts" if k == EV_EXPOSURE_START else "ends"),
                f"through {ch}{src}", "")
    if k == EV_TIE_LISTED:
        return ("tie listed" if value > 0 else "tie delisted",
                f"agent {other}, a tie, {'went onto' if value > 0 else 'left'} a list", "")
    if k == EV_APPEAL_FILED:
        return ("appeal filed", f"decision due on day {int(value)}", "")
    if k == EV_APPEAL_DECIDED:
        return ("appeal decided", ("upheld" if value > 0 else "rejected") +
                (" (the record was wrong)" if code else " (the record was right)"), "")
    if k == EV_CREDIT_REPAIR:
        return ("credit repair", f"{value:+g} points", "")
    if k == EV_REWARD:
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
    path = run_file(run_dir, EVENTS_FILE)
    try:
        check_events_schema(pq.read_schema(path), path)
    except (pa.ArrowException, OSError) as e:
        raise RunDirError(f"{path}: unreadable ({str(e).splitlines()[0]}); re-run the "
                          "scenario") from None
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
    try:
        table = pq.read_table(path, filters=[("agent", "=", agent)])
    except Exception as e:  # noqa: BLE001 - pyarrow raises many kinds
        raise RunDirError(f"{path}: unreadable ({str(e).splitlines()[0]}); re-run the "
                          "scenario") from None
    table = table.filter(pc.equal(table["agent"], agent))
    rows = table.to_pylist()
    from scslab.params import compile_params

    p = compile_params(res.scenario, n)
    ex = Explanation(agent=agent, scenario=res.scenario.name, sample_note=note)
    for ev in rows:
        what, detail, flag = _describe(ev, p.behaviour_names, p.sensor_names, p.sanction_names)
        ex.events.append({"day": ev["day"], "event": what, "detail": detail, "flag": flag,
                          **{k: ev[k] for k in ("kind", "code", "other", "sensor", "value")}})
    ex.findings = _findings(ex.events, agent)
    ex.findings += ledger_findings(ex.events, _penalties(res.scenario))
    return ex


def _penalties(sc) -> dict[int, float]:
    """Points lost per day through each spillover channel (``CHANNEL_NAMES`` codes)."""
    sp = sc.policy.spillover
    if not sp.enabled:
        return {}
    return {0: sp.household.penalty, 1: sp.ties.penalty, 2: sp.employer.employee_penalty}


def _lists_at_end(events: list[dict]) -> dict[str, dict[int, int]]:
    """Per ledger, the lists (code % 8) the agent is on after its last event, with the day."""
    on: dict[str, dict[int, int]] = {name: {} for name in LEDGERS}
    for ev in events:
        k, code = ev["kind"], ev["code"]
        if k not in (EV_LIST_ENTER, EV_LIST_EXIT, EV_COURT_FULFILLED, EV_EXPIRED):
            continue
        ledger, lst = _ledger(code), code % 8
        if lst == 2:
            continue  # the redlist is not a sanction list
        if k == EV_LIST_ENTER:
            on[ledger][lst] = ev["day"]
        else:
            on[ledger].pop(lst, None)
    # the own-conduct court list is the twin's (a court order is the agent's own act)
    if 1 in on["twin"]:
        on["own"][1] = on["twin"][1]
    return on


def ledger_findings(events: list[dict], penalties: dict[int, float]) -> list[str]:
    """Plain words: which ledger lists the agent at the end of its log, and why.

    "Wrongfully listed" (recorded list, not the twin's), "listed through others" (recorded
    and twin list, not the own-conduct list: the points lost through listed relatives, ties or
    an employer), or "listed by its own conduct".
    """
    on = _lists_at_end(events)
    rec = on["recorded"]
    if not rec:
        return []
    lists = " and ".join(LIST_NAMES[x] for x in sorted(rec))
    since = min(rec.values())
    if not on["twin"]:
        return [f"Wrongfully listed: on the {lists} since day {since} by the recorded score, "
                "but the true ledger (every act credited to its real author) does not list "
                "this agent — identity errors put it there."]
    if on["own"]:
        return [f"Listed by its own conduct: on the {lists} since day {since}; its own acts "
                "alone list it."]
    open_exposure: dict[int, dict] = {}
    for ev in events:
        if ev["kind"] == EV_EXPOSURE_START:
            open_exposure[ev["code"]] = ev
        elif ev["kind"] == EV_EXPOSURE_END:
            open_exposure.pop(ev["code"], None)
    causes = []
    for ch, ev in sorted(open_exposure.items()):
        who = {0: "household member", 1: "tie", 2: "employer", 3: "business it represents"}[ch]
        other = f" {ev['other']}" if ev["other"] >= 0 and ch in (0, 2, 3) else ""
        pts = penalties.get(ch)
        cost = f", −{pts:g} points a day" if pts else ""
        noun = "business" if ch >= 2 else "agent"
        causes.append(f"{who} ({noun}{other}) listed since day {ev['day']}{cost}")
    why = "; ".join(causes) if causes else ("points lost earlier through listed relatives, "
                                            "ties or an employer")
    return [f"Listed through others: on the {lists} since day {since}, while its own acts "
            f"alone would not list it — {why}."]


def _findings(events: list[dict], agent: int) -> list[str]:
    """Plain words: which misattributed acts and spillover preceded each recorded listing."""
    out = []
    mis: list[dict] = []
    exposed: dict[int, dict] = {}
    for ev in events:
        if ev["kind"] == EV_ACT and ev["other"] != agent:
            mis.append(ev)
        if ev["kind"] == EV_EXPOSURE_START:
            exposed[ev["code"]] = ev
        elif ev["kind"] == EV_EXPOSURE_END:
            exposed.pop(ev["code"], None)
        if ev["kind"] == EV_LIST_ENTER and ev["code"] < 8 and ev["code"] != 2:
            lst = LIST_NAMES.get(ev["code"], "list")
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

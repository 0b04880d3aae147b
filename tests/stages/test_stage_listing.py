"""Listing: blacklist thresholds with hysteresis and a minimum stay, the court list's
fixed term and early fulfilment, the redlist."""

from __future__ import annotations

import numpy as np
import pytest

from scslab.engine import Simulation
from scslab.events import EV_ACT, EV_COURT_FULFILLED, EV_LIST_ENTER, EV_LIST_EXIT
from scslab.scenario import load_scenario
from scslab.stages.listing import LIST_BLACK, LIST_COURT, blacklist_rule
from scslab.state import F_BL, F_CT

ENTER, EXIT = 850.0, 900.0


@pytest.mark.parametrize("listed,score,since,day,min_days,want", [
    (False, 849.9, 0, 5, 0, 1),     # below enter: on
    (False, 850.0, 0, 5, 0, 0),     # at enter: stays off
    (False, 880.0, 0, 5, 0, 0),     # in the band: stays off
    (True, 880.0, 1, 5, 0, 0),      # in the band: stays on (hysteresis)
    (True, 899.99, 1, 5, 0, 0),
    (True, 900.0, 1, 5, 0, -1),     # at exit: off
    (True, 950.0, 4, 5, 3, 0),      # min stay not served
    (True, 950.0, 2, 5, 3, -1),     # served exactly
    (True, 700.0, 0, 100, 0, 0),    # still low: stays
])
def test_blacklist_rule(listed, score, since, day, min_days, want):
    assert blacklist_rule(listed, score, since, day, ENTER, EXIT, min_days) == want


def _events_by_agent(ev):
    return {a: g for a, g in ev.groupby("agent")}


def test_court_list_fixed_term(tk):
    """Entry on the day of a recorded court order; exit exactly term_days after the last one."""
    term = 3
    sim = tk.simulate("national", {"population.agents": 4000, "days": 20, "seed": 5,
                                   "behaviours.court_default.rate": 0.01,
                                   "policy.lists.blacklist.enabled": False,
                                   "policy.lists.court.term_days": term,
                                   "policy.lists.court.fulfil_rate": 0.0,
                                   "output.event_log.enabled": True})
    ev = tk.events(sim)
    court_b = sim.params.behaviour_names.index("court_default")
    orders = ev[(ev.kind == EV_ACT) & (ev.code == court_b)]
    enters = ev[(ev.kind == EV_LIST_ENTER) & (ev.code == LIST_COURT)]
    exits = ev[(ev.kind == EV_LIST_EXIT) & (ev.code == LIST_COURT)]
    assert len(enters) > 50 and len(exits) > 20
    assert not (ev.kind == EV_COURT_FULFILLED).any()
    order_days = orders.groupby("agent")["day"].apply(sorted).to_dict()
    for a, d in zip(enters.agent, enters.day, strict=True):
        assert d in order_days[a]
    for a, d in zip(exits.agent, exits.day, strict=True):
        last = max(x for x in order_days[a] if x < d)
        assert d == last + term, (a, d, order_days[a])
    # still listed at the end: ordered within the last term
    ct = (sim.state.flags & F_CT) != 0
    for a in np.flatnonzero(ct):
        assert sim.day - max(order_days[a]) < term


def test_court_fulfilment_rate(tk):
    """Court-listed agents not ordered again leave early with probability fulfil_rate a day."""
    fulfil = 0.1
    sc = load_scenario("national", {"population.agents": 6000, "days": 25, "seed": 6,
                                    "behaviours.court_default.rate": 0.01,
                                    "policy.lists.blacklist.enabled": False,
                                    "policy.lists.court.term_days": 1000,
                                    "policy.lists.court.fulfil_rate": fulfil,
                                    "output.event_log.enabled": True})
    sim = Simulation(sc).build()
    court_b = sim.params.behaviour_names.index("court_default")
    eligible = 0
    for _ in range(sc.days):
        before = (sim.state.flags & F_CT) != 0
        sim.step()
        ev = sim.log.table().to_pandas()
        today = ev[ev.day == sim.day]
        ordered = today[(today.kind == EV_ACT) & (today.code == court_b)].agent.unique()
        mask = before.copy()
        mask[ordered] = False
        eligible += int(mask.sum())
    ev = tk.events(sim)
    fulfilled = int(((ev.kind == EV_COURT_FULFILLED) & (ev.code == LIST_COURT)).sum())
    assert eligible > 1000
    tk.close(fulfilled, fulfil * eligible, tk.binom_sd(eligible, fulfil), "fulfilled")


def test_blacklist_minimum_stay(tk):
    min_days = 4
    sim = tk.simulate("national", {"population.agents": 4000, "days": 25, "seed": 9,
                                   "sensors.cameras.false_match_rate": 0.2,
                                   "policy.lists.blacklist.enter_below": 995,
                                   "policy.lists.blacklist.exit_at_or_above": 996,
                                   "policy.lists.blacklist.min_days": min_days,
                                   "policy.scoring.decay": 0.2,
                                   "policy.spillover.enabled": False,
                                   "output.event_log.enabled": True})
    ev = tk.events(sim)
    bl = ev[ev.kind.isin([EV_LIST_ENTER, EV_LIST_EXIT]) & (ev.code == LIST_BLACK)]
    stays = 0
    for _, g in bl.groupby("agent"):
        entered = None
        for kind, day in zip(g.kind, g.day, strict=True):
            if kind == EV_LIST_ENTER:
                assert entered is None
                entered = day
            else:
                assert entered is not None
                assert day - entered >= min_days
                stays += 1
                entered = None
    assert stays > 20
    # the log replays to the final state
    on = bl.groupby("agent").kind.last() == EV_LIST_ENTER
    final = set(on[on].index)
    assert final == set(np.flatnonzero((sim.state.flags & F_BL) != 0))


def test_list_entries_and_exits_columns(tk):
    sim = tk.simulate("national", {"population.agents": 4000, "days": 15, "seed": 9,
                                   "sensors.cameras.false_match_rate": 0.2,
                                   "policy.lists.blacklist.enter_below": 995,
                                   "policy.lists.blacklist.exit_at_or_above": 996,
                                   "policy.lists.blacklist.min_days": 0,
                                   "policy.scoring.decay": 0.2})
    prev = 0
    for r in sim.rows:
        assert r["listed"] == prev + r["list_entries"] - r["list_exits"]
        prev = r["listed"]
    assert tk.total(sim, "list_exits") > 0


def test_redlist_by_score(tk):
    sim = tk.simulate("national", {"population.agents": 4000, "days": 15, "seed": 2,
                                   "policy.rules.community_service": 200,
                                   "policy.lists.redlist.min_score": 1050})
    assert sim.rows[-1]["redlisted"] > 0
    assert sim.rows[-1]["redlisted"] == int((sim.state.score >= 1050).sum())
    assert tk.total(sim, "rewards_granted") > 0

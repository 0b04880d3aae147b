"""Due process: appeals (filing, delay, success on wrong and right records), expiry of
blacklist entries and credit repair — with binomial tolerances on the rates."""

from __future__ import annotations

import numpy as np
import pytest

from scslab.engine import Simulation
from scslab.events import EV_APPEAL_DECIDED, EV_APPEAL_FILED, EV_EXPIRED
from scslab.scenario import load_scenario
from scslab.stages.due_process import record_is_wrong
from scslab.state import F_APPEAL, F_BL, F_CT, F_TBL

LISTING = {"population.agents": 6000, "seed": 44,
           "sensors.cameras.false_match_rate": 0.3,
           "policy.lists.blacklist.enter_below": 995,
           "policy.lists.blacklist.exit_at_or_above": 999,
           "output.event_log.enabled": True}


@pytest.mark.parametrize("flags,score,twin,want", [
    (F_BL, 900.0, 980.0, True),           # listed by the record, not by the truth
    (F_BL | F_TBL, 900.0, 900.0, False),  # listed on both ledgers, same score
    (F_BL | F_TBL, 900.0, 910.0, True),   # listed on both, but identity errors cost points
    (F_CT, 990.0, 990.0, True),           # court list only on the record
    (0, 990.0, 990.0, False),
    (F_BL | F_TBL, 900.0, 900.0005, False),  # within the tolerance
])
def test_record_is_wrong(flags, score, twin, want):
    assert record_is_wrong(np.uint8(flags), np.float32(score), np.float32(twin)) == want


def test_appeals_are_decided_after_the_review_delay(tk):
    delay = 3
    sim = tk.simulate("national", {**LISTING, "days": 20,
                                   "governance.appeals.enabled": True,
                                   "governance.appeals.filing_probability_known": 0.3,
                                   "governance.appeals.filing_probability_unknown": 0.3,
                                   "governance.appeals.review_delay_days": delay})
    ev = tk.events(sim)
    filed = ev[ev.kind == EV_APPEAL_FILED]
    decided = ev[ev.kind == EV_APPEAL_DECIDED]
    assert len(filed) == tk.total(sim, "appeals_filed") > 50
    assert len(decided) > 20 and len(decided) <= len(filed)
    assert (filed.value == filed.day + delay).all()
    due = set(zip(filed.agent, filed.value.astype(int), strict=True))
    for a, d in zip(decided.agent, decided.day, strict=True):
        assert (a, d) in due
    assert int((decided.value > 0).sum()) == tk.total(sim, "appeals_succeeded")


def test_appeal_success_rates_on_wrong_and_right_records(tk):
    p_wrong, p_right = 0.6, 0.2
    sim = tk.simulate("national", {**LISTING, "days": 20, "population.agents": 12_000,
                                   "governance.appeals.enabled": True,
                                   "governance.appeals.filing_probability_known": 0.5,
                                   "governance.appeals.filing_probability_unknown": 0.5,
                                   "governance.appeals.review_delay_days": 0,
                                   "governance.appeals.success_if_wrong": p_wrong,
                                   "governance.appeals.success_if_right": p_right})
    ev = tk.events(sim)
    decided = ev[ev.kind == EV_APPEAL_DECIDED]
    for code, p in ((1, p_wrong), (0, p_right)):
        d = decided[decided.code == code]
        n = len(d)
        assert n > 100, code
        tk.close(int((d.value > 0).sum()), p * n, tk.binom_sd(n, p), f"success, code {code}")


def test_filing_rate(tk):
    """With no delay and no success, every listed agent files with the filing probability."""
    p = 0.3
    sim = tk.simulate("national", {**LISTING, "days": 15,
                                   "governance.appeals.enabled": True,
                                   "governance.appeals.filing_probability_known": p,
                                   "governance.appeals.filing_probability_unknown": p,
                                   "governance.appeals.review_delay_days": 0,
                                   "governance.appeals.success_if_wrong": 0.0,
                                   "governance.appeals.success_if_right": 0.0})
    listed_days = tk.total(sim, "listed")
    assert listed_days > 500
    assert not ((sim.state.flags & F_APPEAL) != 0).any()
    tk.close(tk.total(sim, "appeals_filed"), p * listed_days, tk.binom_sd(listed_days, p),
             "appeals filed")
    assert tk.total(sim, "appeals_succeeded") == 0


def test_expiry(tk):
    days_on = 3
    sc = load_scenario("national", {**LISTING, "days": 15, "policy.lists.blacklist.min_days": 0,
                                    "governance.expiry.enabled": True,
                                    "governance.expiry.days": days_on})
    sim = Simulation(sc).build()
    exit_at = sc.policy.lists.blacklist.exit_at_or_above
    for _ in range(sc.days):
        sim.step()
        s = sim.state
        bl = (s.flags & F_BL) != 0
        assert np.all(sim.day - s.bl_since[bl].astype(int) < days_on)
        tbl = (s.flags & F_TBL) != 0
        assert np.all(sim.day - s.tbl_since[tbl].astype(int) < days_on)
    ev = tk.events(sim)
    expired = ev[(ev.kind == EV_EXPIRED) & (ev.code < 8)]  # the recorded ledger's entries
    assert len(expired) == tk.total(sim, "expired") > 20
    assert (expired.value >= exit_at).all()  # the score is restored to the exit threshold


def test_credit_repair_rate(tk):
    rate = 0.2
    sim = tk.simulate("national", {**LISTING, "days": 15,
                                   "governance.credit_repair.enabled": True,
                                   "governance.credit_repair.rate": rate,
                                   "governance.credit_repair.points": 0.0})
    # zero points: repairs never change who is listed, so the listed count is the exposure
    listed_days = tk.total(sim, "listed")
    assert listed_days > 500
    tk.close(tk.total(sim, "credit_repairs"), rate * listed_days,
             tk.binom_sd(listed_days, rate), "credit repairs")


def test_instant_appeals_clear_every_wrongful_listing(tk):
    sim = tk.simulate("national", {**LISTING, "days": 12, **tk.INSTANT_APPEALS})
    # acts are misattributed and people listed; the appeals clear the wrong records
    assert tk.total(sim, "misattributed_events") > 0 and sim.rows[-1]["listed"] > 100
    assert tk.total(sim, "appeals_succeeded") > 0
    assert all(r["wrongful_listed"] == 0 for r in sim.rows)

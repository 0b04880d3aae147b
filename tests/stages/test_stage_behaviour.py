"""Behaviour: per-agent rates and the day's act counts against their expected values.

Act counts are sums of independent Bernoulli draws; each check allows five
standard deviations of that sum, computed from the realised population (or, where
stated, over the population's sampling distribution too).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scslab.events import EV_ACT
from scslab.stages.behaviour import chilling_factor, disposition_factor

N, DAYS = 30_000, 10
RM1_NO_LISTS = {"population.agents": N, "days": DAYS, "policy.lists.blacklist.enabled": False,
                "seed": 2024}


@pytest.fixture(scope="module")
def rm1(tk):
    return tk.simulate("rm1", RM1_NO_LISTS)


# --------------------------------------------------------------------------- scalar rules


@pytest.mark.parametrize("e", [0.0, 1.0, -1.0, 0.5, 2.0, -0.3, 1.7])
@pytest.mark.parametrize("d", [0.2, 1.0, 3.5])
def test_disposition_factor_is_a_power(d, e):
    assert math.isclose(disposition_factor(d, e), d**e, rel_tol=1e-12)


def test_chilling_factor():
    assert chilling_factor(0.0, 1.0, 1.0, 1.0, 0, 0, False) == 1.0
    assert chilling_factor(0.5, 0.0, 1.0, 1.0, 3, 4, True) == 1.0  # no strength: no chilling
    assert math.isclose(chilling_factor(0.18, 1.0, 1.0, 1.0, 0, 8, False), 1 / 1.18)
    # listed ties add tie_weight × share of ties listed; being listed adds self_weight
    assert math.isclose(chilling_factor(0.2, 2.0, 1.0, 0.5, 2, 8, True),
                        1 / (1 + 2.0 * (0.2 + 0.25 + 0.5)))
    # more perceived risk, less speech
    assert (chilling_factor(0.1, 1, 1, 1, 0, 4, False) > chilling_factor(0.1, 1, 1, 1, 1, 4, False)
            > chilling_factor(0.1, 1, 1, 1, 1, 4, True))


# --------------------------------------------------------------------------- RM1 counts


def test_rm1_community_service_per_day(rm1, tk):
    for row in rm1.rows:
        tk.close(row["acts_community_service"], N * 0.01, tk.binom_sd(N, 0.01),
                 f"community service, day {row['day']}")
    tk.close(tk.total(rm1, "acts_community_service"), N * DAYS * 0.01,
             tk.binom_sd(N * DAYS, 0.01), "community service, total")


@pytest.mark.parametrize("act,rate", [("smoking", 0.005), ("fraud", 0.0005)])
def test_rm1_rates_scale_with_the_realised_disposition(rm1, tk, act, rate):
    m = rm1.world.disposition.astype(np.float64)
    p = np.clip(rate * m, 0, 1)
    tk.close(tk.total(rm1, f"acts_{act}"), DAYS * p.sum(), math.sqrt(DAYS * (p * (1 - p)).sum()),
             act)


@pytest.mark.parametrize("act,rate", [("smoking", 0.005), ("fraud", 0.0005)])
def test_rm1_rates_against_the_lognormal_mean(rm1, tk, act, rate):
    """E[m] = exp(σ²/2); the variance includes the sampling of m (law of total variance)."""
    s2 = 0.5**2
    em, em2 = math.exp(s2 / 2), math.exp(2 * s2)
    var_m = (math.exp(s2) - 1) * math.exp(s2)
    mean = N * DAYS * rate * em
    var = N * (DAYS * rate * em - DAYS * rate**2 * em2 + DAYS**2 * rate**2 * var_m)
    tk.close(tk.total(rm1, f"acts_{act}"), mean, math.sqrt(var), act)


def test_rm1_observed_is_sixty_percent_of_acts(rm1, tk):
    acts = sum(tk.total(rm1, f"acts_{b}") for b in ("community_service", "smoking", "fraud"))
    tk.close(tk.total(rm1, "observed_events"), 0.6 * acts, tk.binom_sd(acts, 0.6), "observed")
    for row in rm1.rows:
        a = row["acts_community_service"] + row["acts_smoking"] + row["acts_fraud"]
        tk.close(row["observed_events"], 0.6 * a, tk.binom_sd(a, 0.6), f"day {row['day']}")


def test_rm1_misattributed_is_one_percent_of_observed(rm1, tk):
    obs = tk.total(rm1, "observed_events")
    tk.close(tk.total(rm1, "misattributed_events"), 0.01 * obs, tk.binom_sd(obs, 0.01),
             "misattributed")
    assert tk.total(rm1, "reversed_events") == 0


def test_rm1_listing_halves_penalised_acts(tk):
    """d_i = 0.5 while listed: list everyone on day 1, then count days 2…"""
    sim = tk.simulate("rm1", {**RM1_NO_LISTS, "policy.lists.blacklist.enabled": True,
                              "policy.lists.blacklist.enter_below": 1e6,
                              "policy.lists.blacklist.exit_at_or_above": 1e6})
    assert all(r["listed"] == N for r in sim.rows)
    m = sim.world.disposition.astype(np.float64)
    for act, rate in (("smoking", 0.005), ("fraud", 0.0005)):
        p = rate * m * 0.5
        later = sum(r[f"acts_{act}"] for r in sim.rows[1:])
        tk.close(later, (DAYS - 1) * p.sum(), math.sqrt((DAYS - 1) * (p * (1 - p)).sum()), act)
    # community service is not penalised: not deterred
    later = sum(r["acts_community_service"] for r in sim.rows[1:])
    n = N * (DAYS - 1)
    tk.close(later, n * 0.01, tk.binom_sd(n, 0.01), "community service while listed")


# --------------------------------------------------------------------------- the full rule


def _chill_risk(sc, region_index: int) -> float:
    ch = sc.responses.chilling
    b = ch.behaviour
    unseen = 1.0
    for _, s in sc.sensors.items():
        if s.enabled and b in s.observes:
            unseen *= 1 - s.coverage * s.detection
    reg = sc.population.regions[region_index]
    pts = reg.rules.get(b, sc.policy.rules.get(b, 0.0))
    return ch.surveillance_weight * (1 - unseen) * max(0.0, -pts) / 100


def test_national_act_counts_follow_the_rule(tk):
    """rate × age factor × disposition^exponent × deterrence (who knows the rules) ×
    chilling (speech), for every behaviour, with nobody listed."""
    n, days = 20_000, 8
    sim = tk.simulate("national", {"population.agents": n, "days": days, "seed": 77,
                                   "policy.lists.blacklist.enabled": False,
                                   "policy.lists.court.enabled": False})
    sc = sim.scenario
    w = sim.world
    age = (w.attr >> 1) & 3
    d = w.disposition.astype(np.float64)
    det = sc.responses.deterrence
    a = det.awareness_secret
    ek = 1 - a * (1 - det.known_rules_multiplier)  # E[deterrence] over who knows the rules
    var_k = a * (1 - a) * (1 - det.known_rules_multiplier) ** 2
    chill = np.array([1 / (1 + sc.responses.chilling.strength * _chill_risk(sc, r))
                      for r in range(len(sc.population.regions))])[w.region]
    penalised = {b for b, pts in sc.policy.rules.items() if pts < 0}
    penalised |= {b for r in sc.population.regions for b, pts in r.rules.items() if pts < 0}
    for name, beh in sc.behaviours.items():
        factors = np.array([beh.age.child, beh.age.adult, beh.age.elderly])[age]
        p = np.clip(beh.rate * factors * d**beh.disposition_exponent, 0, 1)
        if name == sc.responses.chilling.behaviour:
            p = p * chill
        if name in penalised:
            q = p * ek
            var = days * (q * (1 - q)).sum() + days**2 * (p**2).sum() * var_k
        else:
            q = p
            var = days * (q * (1 - q)).sum()
        tk.close(tk.total(sim, f"acts_{name}"), days * q.sum(), math.sqrt(var), name)


def test_age_factor_zero_means_no_acts(tk):
    """Children with a zero factor never smoke: every act is observed and logged here."""
    sim = tk.simulate("rm1", {"population.agents": 6000, "days": 10,
                              "population.age.child_share": 0.3,
                              "behaviours.smoking.age.child": 0.0,
                              "behaviours.smoking.rate": 0.05,
                              "sensors.cameras.detection": 1.0,
                              "sensors.cameras.false_match_rate": 0.0,
                              "output.event_log.enabled": True})
    ev = tk.events(sim)
    acts = ev[ev.kind == EV_ACT]
    assert len(acts) == sum(tk.total(sim, f"acts_{b}") for b in sim.params.behaviour_names)
    assert (acts.agent == acts.other).all()
    smoking = sim.params.behaviour_names.index("smoking")
    actors = acts.loc[acts.code == smoking, "other"].to_numpy()
    age = (sim.world.attr >> 1) & 3
    assert actors.size > 100 and np.all(age[actors] != 0)
    assert (age == 0).sum() > 1000
    # each agent does each act at most once a day
    assert not acts.duplicated(["day", "other", "code"]).any()


def test_zero_rates_mean_no_acts(tk):
    over = {f"behaviours.{b}.rate": 0.0 for b in ("community_service", "smoking", "fraud")}
    sim = tk.simulate("rm1", {"population.agents": 3000, "days": 5, **over})
    assert all(r["observed_events"] == 0 for r in sim.rows)
    assert all(r[f"acts_{b}"] == 0 for r in sim.rows for b in sim.params.behaviour_names)
    assert all(r["mean_score"] == 1000 for r in sim.rows)


def test_rate_one_means_every_agent_acts(tk):
    sim = tk.simulate("rm1", {"population.agents": 3000, "days": 3,
                              "behaviours.community_service.rate": 1.0,
                              "policy.lists.blacklist.enabled": False})
    assert all(r["acts_community_service"] == 3000 for r in sim.rows)


# --------------------------------------------------------------------------- the act screen


def _acts_with_bound(sim, ub):
    """Run the behaviour kernel for day 1 with screening bounds ``ub``; the acts and counts.

    A tiny buffer makes chunks stop and resume, so that path is exercised too."""
    from scslab.events import EventBuffer, run_chunked
    from scslab.stages.behaviour import GROUPS, behaviour_kernel
    from scslab.stages.common import pick

    ctx = sim.ctx
    buf = EventBuffer(sim.n_chunks, 8)
    work = ctx.work._replace(cnt=np.zeros_like(ctx.work.cnt))
    tables = ctx.tables._replace(screen_ub=ub)
    groups = tuple(pick(g, tables, ctx.people, ctx.agents, work) for g in GROUPS)
    run_chunked(behaviour_kernel, (sim._day(1), *groups), sim.starts, sim.ends, buf)
    cnt = work.cnt
    f = buf.flat()
    return f["agent"], f["code"], cnt


_behaviour = st.fixed_dictionaries({
    "rate": st.floats(0.0, 1.0),
    "disposition_exponent": st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0, -0.3, 4.0, -4.0]),
    "age": st.fixed_dictionaries({"child": st.floats(0, 3), "adult": st.floats(0, 3),
                                  "elderly": st.floats(0, 3)}),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extra=st.lists(_behaviour, max_size=18), listed_mult=st.floats(0, 3),
       known_mult=st.floats(0, 3), chill=st.floats(0, 5), listed_share=st.floats(0, 1),
       sigma=st.floats(0, 2), seed=st.integers(0, 2**31 - 1))
def test_the_act_screen_never_drops_an_act(extra, listed_mult, known_mult, chill, listed_share,
                                           sigma, seed):
    """Screening agents by a bound of their rates gives exactly the acts of drawing every
    agent exactly (bound +inf), whatever the rates, exponents (common or not), age
    factors, deterrence multipliers above 1, chilling, listing and the number of
    behaviours (beyond 15 the screen's marks are shared)."""
    from scslab.engine import Simulation
    from scslab.scenario import load_scenario
    from scslab.state import F_BL

    behaviours = {f"act_{k}": b for k, b in enumerate(extra)}
    chilled = {"chilling": {"behaviour": "act_0", "strength": chill}} if extra else {}
    raw = {"base": "rm1", "seed": seed, "days": 1,
           "population": {"agents": 900, "disposition": {"sigma": sigma},
                          "age": {"child_share": 0.2, "elderly_share": 0.2}},
           "behaviours": behaviours,
           "responses": {"deterrence": {"listed_multiplier": listed_mult,
                                        "known_rules_multiplier": known_mult}, **chilled}}
    sim = Simulation(load_scenario(raw)).build()
    u = np.random.default_rng(seed).random(sim.world.n)
    sim.state.flags[u < listed_share] |= F_BL
    agents, codes, cnt = _acts_with_bound(sim, sim.ctx.tables.screen_ub)
    ub = sim.ctx.tables.screen_ub
    agents_x, codes_x, cnt_x = _acts_with_bound(sim, np.full_like(ub, np.inf))
    np.testing.assert_array_equal(agents, agents_x)
    np.testing.assert_array_equal(codes, codes_x)
    np.testing.assert_array_equal(cnt, cnt_x)


def test_the_act_screen_skips_most_agents():
    """The screen is worth having: in RM1 it passes on a few agents in a hundred."""
    from scslab.engine import Simulation
    from scslab.scenario import load_scenario
    from scslab.stages.behaviour import SCREEN_BLOCK, screen_block

    sim = Simulation(load_scenario("rm1", {"population.agents": 20_000})).build()
    n = sim.world.n
    hashes = np.empty(SCREEN_BLOCK, np.uint64)
    cand = np.empty(SCREEN_BLOCK, np.uint16)
    marked = 0
    for i0 in range(0, n, SCREEN_BLOCK):
        i1 = min(n, i0 + SCREEN_BLOCK)
        screen_block(np.uint64(12345), i0, i1, sim.ctx.tables.screen_ub, sim.params.beh_dexp,
                     sim.world.disposition, hashes, cand)
        marked += int(np.count_nonzero(cand[:i1 - i0]))
    # each agent is marked for behaviour b with probability ~ bound_b (rate x disposition)
    d = sim.world.disposition.astype(float)
    expected = np.mean(1 - (1 - 0.01) * (1 - np.minimum(1, 0.005 * d)) * (1 - np.minimum(1, 0.0005 * d)))
    assert abs(marked / n - expected) < 5 * math.sqrt(expected / n)

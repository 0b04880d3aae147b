"""The abroad stage: cross-border data flows feeding the home system's records."""

from __future__ import annotations

import math
import os
from types import SimpleNamespace
from typing import Any

import numba
import numpy as np
import pytest

from scslab.api import resolve
from scslab.audit import DataFlow, Site, SiteSensor
from scslab.audit.examples import au_headquarters, vancouver_restaurant
from scslab.engine import Simulation
from scslab.errors import ScslabError
from scslab.scenario.schema import Scenario
from scslab.stages import abroad as A
from scslab.stages.abroad import (
    AbroadStage,
    abroad_metrics,
    capture_probability,
    foreign_false_match_rate,
)

FLOW_NAMES = [m[0] for m in A.FLOW_METRICS]


def _flow(name: str, visitors: float, population: int, poi: float = 0.05,
          base: DataFlow | None = None) -> dict[str, Any]:
    """A flow like the Vancouver one with other visitor numbers, as a YAML-style mapping."""
    data = (base or vancouver_restaurant()).model_dump(mode="json")
    data["name"] = name
    data["site"]["visitors"] = {"daily_visitors": visitors,
                                "foreign_resident_population": population,
                                "persons_of_interest_share": poi}
    return data


def _scenario(flows: list[dict[str, Any]], agents: int = 3000, days: int = 30,
              **over: Any) -> Scenario:
    return resolve("national", agents=agents, days=days,
                   set={"data_flows": flows, "output.event_log.enabled": False, **over})


def _abroad_columns(sc: Scenario, threads: int | None = None) -> list[dict[str, Any]]:
    sim = Simulation(sc, threads=threads).build()
    if threads is not None:
        assert sim.threads == numba.get_num_threads() == threads
    sim.run()
    return [{k: v for k, v in row.items() if k.startswith("abroad_")} for row in sim.rows]


def _stage(sc: Scenario, **kw: Any) -> tuple[AbroadStage, SimpleNamespace]:
    """The stage alone, over a home population of ``sc.population.agents`` agents."""
    world = SimpleNamespace(n=sc.population.agents)
    state = SimpleNamespace(delta_rec=np.zeros(world.n, np.float32))
    return AbroadStage(sc, world, None, **kw), state  # type: ignore[arg-type]


EXAMPLES = [vancouver_restaurant().model_dump(mode="json"),
            au_headquarters().model_dump(mode="json")]


# --------------------------------------------------------------------------- assumptions


def test_capture_probability_per_sensor_kind() -> None:
    assert capture_probability(vancouver_restaurant().site) == pytest.approx(0.99)
    assert capture_probability(au_headquarters().site) == pytest.approx(1 - 0.2 * 0.5)
    assert capture_probability(Site(name="s", jurisdiction="CA-BC")) == 0.0
    one = SiteSensor(kind="camera", count=1, captures=("faces",))
    assert capture_probability(Site(name="s", jurisdiction="CA", sensors=(one,))) == \
        pytest.approx(0.3)
    audio = SiteSensor(kind="camera", count=5, captures=("audio",))
    assert capture_probability(Site(name="s", jurisdiction="CA", sensors=(audio,))) == 0.0
    servers = SiteSensor(kind="network_server", count=3, captures=("device_ids",))
    assert capture_probability(Site(name="s", jurisdiction="CA", sensors=(servers,))) == \
        pytest.approx(0.8)  # mirrored servers do not compound


def test_foreign_false_match_rate_uses_the_foreign_multiplier() -> None:
    sc = _scenario(EXAMPLES)
    cams = sc.sensors.cameras
    assert foreign_false_match_rate(sc) == pytest.approx(
        cams.false_match_rate * cams.group_multipliers["foreign"])
    no_foreign = resolve("rm1", set={"data_flows": EXAMPLES})
    assert foreign_false_match_rate(no_foreign) == no_foreign.sensors.cameras.false_match_rate


# --------------------------------------------------------------------------- contract


def test_no_flows_no_abroad_columns() -> None:
    sim = Simulation(_scenario([], days=3)).build()
    sim.run()
    assert sim.abroad is None
    assert not [k for k in sim.rows[-1] if k.startswith("abroad")]
    assert not [m for m in sim.metric_registry() if m.name.startswith("abroad")]


def test_columns_match_rows_and_registry() -> None:
    sim = Simulation(_scenario(EXAMPLES, days=2)).build()
    row = sim.step()
    cols = sim.abroad.columns()
    names = [m.name for m in cols]
    assert names == [k for k in row if k.startswith("abroad_")]
    assert len(set(names)) == len(names)
    for flow in ("vancouver_restaurant", "au_headquarters"):
        for metric in FLOW_NAMES:
            assert f"abroad_{metric}__{flow}" in names
    kinds = {m.name: m.kind for m in cols}
    assert kinds["abroad_visitors"] == "flow" and kinds["abroad_recorded_total"] == "stock"
    assert {m.name for m in cols} <= {m.name for m in sim.metric_registry()}
    assert all(isinstance(row[n], int) for n in names)
    assert cols == abroad_metrics(sim.scenario.data_flows)  # no simulation needed
    assert abroad_metrics([]) == []


def test_duplicate_flow_names_are_rejected() -> None:
    with pytest.raises(ScslabError, match="unique"):
        _stage(_scenario([EXAMPLES[0], EXAMPLES[0]], days=1))


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_columns_other_seed_other_columns() -> None:
    sc = _scenario(EXAMPLES, days=15)
    first = _abroad_columns(sc)
    assert first == _abroad_columns(sc)
    other = _abroad_columns(_scenario(EXAMPLES, days=15, seed=sc.seed + 1))
    assert other != first


NUMBA_THREADS = numba.config.NUMBA_NUM_THREADS


@pytest.mark.skipif(NUMBA_THREADS < 2, reason=(
    f"Numba has {NUMBA_THREADS} thread(s) here (NUMBA_NUM_THREADS; os.cpu_count() = "
    f"{os.cpu_count()}): a 1-thread and a 2-thread run would be the same run"))
def test_same_columns_whatever_the_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # a city flow big enough for the parallel kernel (more expected visitors a day than
    # SERIAL_BELOW) over several chunks of residents, beside the two example flows
    sc = _scenario([*EXAMPLES, _flow("city", 30_000, 4 * A.CHUNK)], days=5)
    parallel_calls = []
    kernel = A.abroad_kernel

    def counting_kernel(*args: Any) -> Any:
        parallel_calls.append(args[0])
        return kernel(*args)

    monkeypatch.setattr(A, "abroad_kernel", counting_kernel)
    before = numba.get_num_threads()
    try:
        two = _abroad_columns(sc, threads=2)
        one = _abroad_columns(sc, threads=1)
    finally:
        numba.set_num_threads(before)
    assert one == two
    assert parallel_calls, "the parallel kernel never ran: the test would prove nothing"
    assert all(r["abroad_visitors__city"] > A.SERIAL_BELOW / 2 for r in one)


# --------------------------------------------------------------------------- consistency


def _check_run(rows: list[dict[str, Any]], flows: list[str], fmr: float) -> None:
    for flow in [*[f"__{f}" for f in flows], ""]:
        def col(metric: str, flow: str = flow) -> np.ndarray:
            return np.array([r[f"abroad_{metric}{flow}"] for r in rows], dtype=np.int64)

        vis, cap, ide, fm = col("visitors"), col("captured"), col("identified"), \
            col("false_matches")
        assert (cap <= vis).all() and (ide <= cap).all() and (ide + fm <= cap).all()
        rec, new = col("recorded_total"), col("recorded_new")
        assert (np.diff(rec) >= 0).all()
        assert (rec == np.cumsum(new)).all()
        assert (new <= ide).all()
        assert (col("persons_of_interest_recorded") <= rec).all()
        assert (col("home_ties_linked") <= rec).all()
        for stock in ("persons_of_interest_recorded", "home_ties_linked"):
            assert (np.diff(col(stock)) >= 0).all()
        c, f = int(cap.sum()), int(fm.sum())
        assert c > 0
        assert abs(f - c * fmr) <= 5 * math.sqrt(c * fmr * (1 - fmr)) + 1e-9
    for metric in FLOW_NAMES:
        for r in rows:
            assert r[f"abroad_{metric}"] == sum(r[f"abroad_{metric}__{f}"] for f in flows)
    linked = np.array([r["abroad_home_agents_linked"] for r in rows])
    mis = np.array([r["abroad_home_agents_misrecorded"] for r in rows])
    assert (np.diff(linked) >= 0).all() and (np.diff(mis) >= 0).all()
    assert (linked <= np.array([r["abroad_home_ties_linked"] for r in rows])).all()
    assert (mis <= np.cumsum([r["abroad_false_matches"] for r in rows])).all()


def test_counts_are_consistent_over_a_run() -> None:
    sc = _scenario(EXAMPLES, days=40)
    rows = _abroad_columns(sc)
    _check_run(rows, ["vancouver_restaurant", "au_headquarters"], foreign_false_match_rate(sc))
    vis = sum(r["abroad_visitors__vancouver_restaurant"] for r in rows)
    assert abs(vis - 360 * 40) <= 5 * math.sqrt(360 * 40)
    # a small, busy population: most visitors come back, so most get identified in the end
    au = rows[-1]
    assert au["abroad_recorded_total__au_headquarters"] > 0.5 * 10_000


def test_false_matches_are_exactly_zero_without_false_match_rate() -> None:
    sc = _scenario(EXAMPLES, days=20, **{"sensors.cameras.false_match_rate": 0.0})
    assert foreign_false_match_rate(sc) == 0.0
    rows = _abroad_columns(sc)
    assert all(r[k] == 0 for r in rows for k in r if k.startswith("abroad_false_matches"))
    assert all(r["abroad_home_agents_misrecorded"] == 0 for r in rows)
    assert rows[-1]["abroad_recorded_total"] > 0


def test_every_visit_new_when_population_unknown() -> None:
    sc = _scenario([_flow("walk_in", 250.5, 0)], days=1)
    stage, state = _stage(sc)
    rows = [stage.step(d, state) for d in range(1, 31)]
    vis = [r["abroad_visitors"] for r in rows]
    assert set(vis) <= {250, 251} and 250 in vis and 251 in vis
    # no one comes back: every identification is a first one (a new record)
    assert all(r["abroad_identified"] == r["abroad_recorded_new"] for r in rows)
    _check_run(rows, ["walk_in"], stage.fmr)
    assert stage.scale("walk_in") == 1.0


def test_large_population_is_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(A, "MAX_DENSE_RESIDENTS", 50_000)
    sc = _scenario([_flow("city", 20_000, 5_000_000)], days=1)
    stage, state = _stage(sc)
    assert stage.scale("city") == pytest.approx(100.0)
    assert stage.flows[0].status.size == 50_000
    assert "sample of 50,000" in stage.columns()[-1].description
    rows = [stage.step(d, state) for d in range(1, 21)]
    vis = sum(r["abroad_visitors"] for r in rows)
    assert abs(vis - 200 * 20) <= 5 * math.sqrt(200 * 20)  # the sample's share of visits
    _check_run(rows, ["city"], stage.fmr)


def test_everyone_visits_when_visitors_exceed_population() -> None:
    sc = _scenario([_flow("club", 500, 300)], days=1)
    stage, state = _stage(sc)
    rows = [stage.step(d, state) for d in range(1, 6)]
    assert all(r["abroad_visitors"] == 300 for r in rows)


def test_flow_dates_gate_the_days() -> None:
    sc = resolve("au-headquarters", agents=2000, days=190,
                 set={"output.event_log.enabled": False})
    stage, state = _stage(sc)
    rows = [stage.step(d, state) for d in range(1, 191)]
    # start 2016-08-01 is day 1; the flow ends 2017-01-31, day 184
    assert all(r["abroad_visitors"] > 0 for r in rows[:184])
    assert all(r["abroad_visitors"] == 0 for r in rows[184:])
    assert rows[-1]["abroad_recorded_total"] == rows[183]["abroad_recorded_total"] > 0


def test_false_matches_add_no_points_by_default_and_optional_points() -> None:
    sc = _scenario([_flow("busy", 2000, 100_000)], days=1)
    stage, state = _stage(sc)
    rows = [stage.step(d, state) for d in range(1, 6)]
    assert sum(r["abroad_false_matches"] for r in rows) > 0
    assert not state.delta_rec.any()
    stage, state = _stage(sc, false_match_points=-5.0)
    rows = [stage.step(d, state) for d in range(1, 6)]
    n_fm = sum(r["abroad_false_matches"] for r in rows)
    assert float(state.delta_rec.sum()) == pytest.approx(-5.0 * n_fm)
    marked = stage.misrecorded_home_agents()
    assert marked.sum() == rows[-1]["abroad_home_agents_misrecorded"]
    assert ((state.delta_rec != 0) == marked).all()


def test_home_ties_link_home_agents() -> None:
    sc = _scenario([_flow("ties", 2000, 20_000)], days=1)
    stage, state = _stage(sc, home_tie_share=0.5)
    rows = [stage.step(d, state) for d in range(1, 11)]
    last = rows[-1]
    assert last["abroad_home_ties_linked"] > 0
    assert stage.linked_home_agents().sum() == last["abroad_home_agents_linked"] > 0
    with pytest.raises(ValueError):
        _stage(sc, home_tie_share=1.5)


# --------------------------------------------------------------------------- presets


@pytest.mark.parametrize("preset", ["vancouver-restaurant", "au-headquarters"])
def test_presets_validate_run_and_audit(preset: str, tmp_path, capsys) -> None:
    from scslab.api import run
    from scslab.cli import main

    sc = resolve(preset)
    assert sc.name == preset and len(sc.data_flows) == 1
    expected = vancouver_restaurant() if preset.startswith("vancouver") else au_headquarters()
    assert sc.data_flows[0] == expected
    res = run(preset, agents=2000, days=10, out=tmp_path / "run", report=False)
    cols = [c for c in res.daily.columns if c.startswith("abroad_")]
    assert f"abroad_visitors__{expected.name}" in cols
    assert (res.daily["abroad_visitors"] > 0).all()
    for argv, code in ((["validate", preset], 0), (["audit", preset], 0),
                       (["audit", preset, "--strict"], 1)):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == code, argv
    capsys.readouterr()

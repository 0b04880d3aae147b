"""events.parquet is self-describing: dictionary-encoded strings, documented in one place.

A small run with every due-process mechanism on is written once; its event log is read
back with plain pyarrow and checked against the documented value sets
(``scslab.eventlog.KIND_DOCS`` and the value tables) and, count for count, against the
daily table (the log holds every agent at this size, so no tolerance is needed: each
daily count must equal the number of matching events exactly). A log in the format of
older versions (numeric codes) is decoded on read into the same table.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import scslab
from scslab import eventlog as L
from scslab import events as E
from scslab.errors import RunDirError
from scslab.explanation import explain_agent
from scslab.results import EVENTS_FILE, check_events_schema, read_events
from scslab.scenario.schema import SANCTION_KINDS

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("kind", "code", "sensor", "ledger", "reason")
LIST_KINDS = ("list_enter", "list_exit", "expired", "court_fulfilled")
ACT_KINDS = ("act", "act_elsewhere", "reversed")


@pytest.fixture(scope="module")
def busy(tmp_path_factory, tk):
    """National, 3,000 agents, 30 days: frequent false matches, a blacklist that churns,
    evidence review, appeals (some decided on right records), expiry and credit repair."""
    sets = {**tk.HIGH_FMR,
            "governance.evidence_review.enabled": True,
            "governance.evidence_review.reversal_probability": 0.3,
            "governance.appeals.enabled": True,
            "governance.appeals.filing_probability_known": 0.2,
            "governance.appeals.filing_probability_unknown": 0.2,
            "governance.appeals.review_delay_days": 2,
            "governance.appeals.success_if_wrong": 0.8,
            "governance.appeals.success_if_right": 0.3,
            "governance.expiry.enabled": True,
            "governance.expiry.days": 6,
            "governance.credit_repair.enabled": True,
            "governance.credit_repair.rate": 0.2}
    out = tmp_path_factory.mktemp("eventlog") / "run"
    res = scslab.run("national", agents=3000, days=30, seed=3, set=sets, out=out)
    assert res.summary["event_log"]["fraction"] == 1.0  # every agent is logged
    return res


@pytest.fixture(scope="module")
def table(busy) -> pa.Table:
    return pq.read_table(busy.run_dir / EVENTS_FILE)


@pytest.fixture(scope="module")
def ev(table):
    return table.to_pandas()


def test_text_columns_are_dictionary_encoded_strings(table):
    assert table.schema.names == list(L.COLUMN_DOCS)
    assert table.schema.equals(L.FILE_SCHEMA)
    for col in TEXT:
        t = table.schema.field(col).type
        assert pa.types.is_dictionary(t) and pa.types.is_string(t.value_type), (col, t)
    for col in ("agent", "other"):
        assert pa.types.is_int64(table.schema.field(col).type)


def test_every_value_is_documented(busy, ev):
    sc = busy.scenario
    behaviours = set(sc.behaviours)
    sensors = {name for name, s in sc.sensors.items() if s.enabled}
    sanctions = set(SANCTION_KINDS)
    assert set(ev.kind.unique()) <= set(L.KIND_DOCS)
    by_kind = {k: g for k, g in ev.groupby("kind", observed=True)}
    allowed_code = {**dict.fromkeys(ACT_KINDS, behaviours), "denial": sanctions,
                    **dict.fromkeys(LIST_KINDS, set(L.LIST_CODES.values())),
                    "exposure_start": set(L.CHANNEL_CODES.values()),
                    "exposure_end": set(L.CHANNEL_CODES.values()),
                    "appeal_decided": set(L.APPEAL_CODES.values())}
    for kind, g in by_kind.items():
        doc = L.KIND_DOCS[kind]
        if kind in allowed_code:
            assert g.code.notna().all() and set(g.code.unique()) <= allowed_code[kind], kind
        else:
            assert g.code.isna().all(), kind
        assert g.sensor.notna().all() == doc.sensor and g.sensor.isna().all() != doc.sensor
        if doc.sensor:
            assert set(g.sensor.unique()) <= sensors, kind
        assert g.ledger.notna().all() == doc.ledger and g.ledger.isna().all() != doc.ledger
        if doc.ledger:
            assert set(g.ledger.unique()) <= set(L.LEDGER_DOCS), kind
        # a run of this version records a reason for every denial and list event
        assert g.reason.notna().all() == doc.reason and g.reason.isna().all() != doc.reason
    assert set(by_kind["denial"].reason.unique()) <= set(L.DENIAL_REASON_DOCS)
    for kind in LIST_KINDS:
        if kind in by_kind:
            assert set(by_kind[kind].reason.unique()) <= set(L.LIST_REASON_DOCS), kind
    # the mechanisms switched on all left their trace
    for kind in ("act", "act_elsewhere", "reversed", "list_enter", "list_exit", "denial",
                 "appeal_filed", "appeal_decided", "expired", "credit_repair"):
        assert kind in by_kind, f"no {kind} event in a run made to have them"
    assert {"score_threshold", "appeal_corrected", "appeal_leniency"} <= set(
        by_kind["list_exit"].reason.unique())
    assert set(by_kind["expired"].reason.unique()) == {"expiry"}
    assert set(by_kind["expired"].code.unique()) == {"blacklist"}
    enter = by_kind["list_enter"]
    assert ((enter.code == "court_list") == (enter.reason == "court_order")).all()
    # the own-conduct blacklist (list code 16) is decoded as the own ledger's blacklist
    own = ev[ev.ledger == "own"]
    assert len(own) and set(own.code.unique()) == {"blacklist"}


def _per_day(ev, mask, days: int) -> np.ndarray:
    return np.bincount(ev.day[mask].to_numpy(), minlength=days + 1)[1:]


def test_counts_match_the_daily_table(busy, ev):
    """``agent``/``other`` of acts mean what the docs say: the misattributions per day."""
    d = busy.daily
    days = len(d)
    wrong = (ev.kind == "act") & (ev.agent != ev.other)
    assert wrong.sum() > 0
    assert (_per_day(ev, wrong, days) == d.misattributed_events).all()
    assert (_per_day(ev, ev.kind == "act_elsewhere", days) == d.misattributed_events).all()
    assert (_per_day(ev, ev.kind == "reversed", days) == d.reversed_events).all()
    den = ev.kind == "denial"
    for kind in SANCTION_KINDS:
        assert (_per_day(ev, den & (ev.code == kind), days) == d[f"denied_{kind}"]).all(), kind
    assert (_per_day(ev, den & (ev.reason != "own_listing"), days)
            == d.collateral_denials).all()
    assert (_per_day(ev, den & (ev.reason == "own_listing_through_others"), days)
            == d.denied_through_others).all()
    assert (_per_day(ev, ev.kind == "appeal_filed", days) == d.appeals_filed).all()
    upheld = (ev.kind == "appeal_decided") & (ev.value == 1)
    assert (_per_day(ev, upheld, days) == d.appeals_succeeded).all()
    assert (_per_day(ev, (ev.kind == "expired") & (ev.ledger == "recorded"), days)
            == d.expired).all()
    assert (_per_day(ev, ev.kind == "credit_repair", days) == d.credit_repairs).all()


def test_false_match_pairs(ev):
    """Each misattributed ``act`` (on the target, other = actor) has its ``act_elsewhere``
    (on the actor, other = target): same day, behaviour and sensor."""
    cols = ["day", "actor", "target", "code", "sensor"]
    a = ev[(ev.kind == "act") & (ev.agent != ev.other)].rename(
        columns={"agent": "target", "other": "actor"})[cols].astype({"code": str,
                                                                      "sensor": str})
    b = ev[ev.kind == "act_elsewhere"].rename(
        columns={"agent": "actor", "other": "target"})[cols].astype({"code": str,
                                                                     "sensor": str})
    a = a.sort_values(cols).reset_index(drop=True)
    b = b.sort_values(cols).reset_index(drop=True)
    assert len(a) > 0 and a.equals(b)


def test_result_events_reads_strings(busy, ev):
    df = busy.events()
    assert str(df.kind.dtype) == "category" and len(df) == len(ev)
    assert (df.kind.astype(str) == ev.kind.astype(str)).all()


# --------------------------------------------------------------------------- older logs


def _old_format_copy(run_dir: Path, dest: Path, tk) -> Path:
    """``run_dir`` as an older scslab wrote it: the kernels' numeric events, and no
    list-exit reason (the ``sensor`` of list events was -1)."""
    shutil.copytree(run_dir, dest)
    sim = tk.simulate(run_dir / "scenario.yaml")
    raw = sim.log.table()
    assert raw.schema.equals(L.EVENT_SCHEMA)
    kind = raw["kind"].to_numpy()
    lists = np.isin(kind, [E.EV_LIST_ENTER, E.EV_LIST_EXIT, E.EV_EXPIRED,
                           E.EV_COURT_FULFILLED])
    sensor = np.where(lists, -1, raw["sensor"].to_numpy()).astype(np.int8)
    raw = raw.set_column(raw.schema.get_field_index("sensor"), "sensor", pa.array(sensor))
    pq.write_table(raw, dest / EVENTS_FILE)
    return dest


@pytest.fixture(scope="module")
def old_dir(busy, tmp_path_factory, tk):
    return _old_format_copy(busy.run_dir, tmp_path_factory.mktemp("old") / "run", tk)


def test_old_numeric_log_is_decoded_on_read(busy, old_dir):
    assert pa.types.is_integer(pq.read_schema(old_dir / EVENTS_FILE).field("kind").type)
    new = read_events(busy.run_dir)
    old = read_events(old_dir)
    assert old.schema.equals(L.FILE_SCHEMA)
    exits = pc.equal(new["kind"].cast(pa.string()), "list_exit")
    assert pc.sum(exits).as_py() > 0
    # identical, except that the older log did not record why an agent left a list
    expected = new.set_column(new.schema.get_field_index("reason"), "reason",
                              pc.if_else(exits, pa.scalar(None, pa.string()),
                                         new["reason"].cast(pa.string())))
    assert old.drop_columns(["reason"]).to_pylist() == new.drop_columns(["reason"]).to_pylist()
    assert old["reason"].cast(pa.string()).to_pylist() == \
        expected["reason"].cast(pa.string()).to_pylist()
    one = int(new["agent"][0].as_py())
    assert read_events(old_dir, one).to_pylist() == [
        r for r in old.to_pylist() if r["agent"] == one]
    assert len(scslab.load_run(old_dir).events()) == new.num_rows


def test_explain_reads_old_and_new_logs_alike(busy, old_dir, ev):
    listed = ev[(ev.kind == "list_enter") & (ev.ledger == "recorded")].agent.unique()
    appealed = ev[ev.kind == "appeal_decided"].agent.unique()
    some = [int(a) for a in np.union1d(listed[:5], appealed[:5])]
    assert some
    for agent in some:
        a = explain_agent(busy.run_dir, agent)
        b = explain_agent(old_dir, agent)
        assert a.findings == b.findings
        assert [(e["day"], e["kind"], e["code"], e["other"]) for e in a.events] == \
            [(e["day"], e["kind"], e["code"], e["other"]) for e in b.events]
        assert all(isinstance(e["kind"], str) for e in a.events)


def test_explain_names_why_an_agent_left_a_list(busy, ev):
    row = ev[(ev.kind == "list_exit") & (ev.reason == "appeal_corrected")].iloc[0]
    ex = explain_agent(busy.run_dir, int(row.agent))
    exits = [e for e in ex.events if e["kind"] == "list_exit" and e["day"] == row.day]
    assert any("record corrected" in e["detail"] for e in exits)


# --------------------------------------------------------------------------- decoding


def _raw(rows: list[tuple]) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 7
    return pa.table({f.name: pa.array(list(c), f.type) for f, c in
                     zip(L.EVENT_SCHEMA, cols, strict=True)}, schema=L.EVENT_SCHEMA)


NAMES = L.EventNames(("smoking", "fraud"), ("cameras",), ("flight", "train"))


def test_decode_each_kind():
    t = L.decode_events(_raw([
        (1, 5, E.EV_ACT, 1, 7, 0, -50.0),
        (1, 7, E.EV_ACT_ELSEWHERE, 1, 5, 0, -50.0),
        (2, 5, E.EV_LIST_ENTER, 0 + 16, -1, -1, 400.0),
        (2, 5, E.EV_LIST_EXIT, 1 + 8, -1, E.EXIT_TERM, 400.0),
        (3, 5, E.EV_DENIAL, 1, -1, 3, 1.0),
        (3, 6, E.EV_EXPOSURE_START, 3, 12, -1, 0.0),
        (4, 6, E.EV_APPEAL_DECIDED, 1, -1, -1, 1.0),
        (4, 6, E.EV_EXPIRED, 0, -1, -1, 600.0),
        (4, 6, E.EV_TIE_LISTED, 0, 9, -1, 1.0),
    ]), NAMES).to_pylist()
    got = [(r["kind"], r["code"], r["sensor"], r["ledger"], r["reason"]) for r in t]
    assert got == [
        ("act", "fraud", "cameras", None, None),
        ("act_elsewhere", "fraud", "cameras", None, None),
        ("list_enter", "blacklist", None, "own", "score_threshold"),
        ("list_exit", "court_list", None, "twin", "term_ended"),
        ("denial", "train", None, None, "own_listing_through_others"),
        ("exposure_start", "legal_representative", None, None, None),
        ("appeal_decided", "record_wrong", None, None, None),
        ("expired", "blacklist", None, "recorded", "expiry"),
        ("tie_listed", None, None, None, None),
    ]
    assert [(r["agent"], r["other"]) for r in t[:2]] == [(5, 7), (7, 5)]


def test_decode_is_deterministic_and_names_unknown_codes():
    rows = [(1, 0, E.EV_ACT, 9, 0, 4, -1.0), (1, 0, E.EV_DENIAL, 0, -1, 0, 1.0)]
    a = L.decode_events(_raw(rows), NAMES)
    assert a.equals(L.decode_events(_raw(rows), NAMES))
    assert a["code"].to_pylist() == ["behaviour_9", "flight"]
    assert a["sensor"].to_pylist() == ["sensor_4", None]
    # the dictionary is the documented set, in its documented order
    assert a["kind"].chunk(0).dictionary.to_pylist() == list(L.KIND_DOCS)


def test_decode_empty_and_decoded_tables():
    empty = L.decode_events(L.EVENT_SCHEMA.empty_table(), NAMES)
    assert empty.num_rows == 0 and empty.schema.equals(L.FILE_SCHEMA)
    done = L.decode_events(_raw([(1, 0, E.EV_REWARD, 0, -1, -1, 1.0)]), NAMES)
    assert L.decode_events(done, NAMES) is done


def test_every_event_constant_has_a_documented_string():
    consts = {v for k, v in vars(E).items() if k.startswith("EV_")}
    assert consts == set(L.KIND_CODES)
    assert all(L.KIND_CODES[getattr(E, "EV_" + k.upper())] == k for k in L.KIND_DOCS)
    assert set(L.EXIT_REASON_CODES.values()) <= set(L.LIST_REASON_DOCS)
    from scslab import explanation as X

    assert set(X.LIST_WORDS) == set(L.LIST_CODES.values())
    assert set(X.CHANNEL_WORDS) == set(L.CHANNEL_CODES.values())
    assert set(X.DENIAL_WORDS) == set(L.DENIAL_REASON_DOCS)


@pytest.mark.parametrize(("col", "values", "msg"), [
    ("kind", pa.array([1.5]), "column 'kind' holds double, expected text"),
    ("reason", pa.array([3], pa.int8()), "column 'reason' holds int8, expected text"),
])
def test_wrong_column_types_are_refused(tmp_path, col, values, msg):
    t = L.decode_events(_raw([(1, 0, E.EV_DENIAL, 0, -1, 0, 1.0)]), NAMES)
    t = t.set_column(t.schema.get_field_index(col), col, values)
    with pytest.raises(RunDirError, match=msg):
        check_events_schema(t.schema, tmp_path / EVENTS_FILE)


# --------------------------------------------------------------------------- README


def test_readme_event_columns_section_is_current():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_reference as gen
    finally:
        sys.path.pop(0)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert gen.has_markers(text, "EVENT COLUMNS")
    section = gen.readme_sections()["EVENT COLUMNS"]
    assert gen.replace_between(text, "EVENT COLUMNS", section) == text, (
        "README.md's event log columns are stale: run python scripts/gen_reference.py")
    for name in [*L.COLUMN_DOCS, *L.KIND_DOCS, *L.LEDGER_DOCS, *L.REASON_DOCS]:
        assert f"`{name}`" in section, name

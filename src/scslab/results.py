"""Run directories: what a run writes, and how to read it back (DESIGN.md §6).

A run directory holds ``scenario.yaml`` (resolved; re-running it reproduces the
run), ``daily.parquet`` (one row per day), ``summary.json`` and, when enabled,
``events.parquet`` (the audit trail) and ``agents.parquet`` (final state).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scslab.errors import RunDirError
from scslab.fileio import atomic_write, atomic_write_json, atomic_write_text
from scslab.inputs import NotRegularFile, not_regular, read_regular
from scslab.scenario.loader import load_scenario, scenario_to_yaml
from scslab.scenario.schema import Scenario

SCENARIO_FILE = "scenario.yaml"
DAILY_FILE = "daily.parquet"
SUMMARY_FILE = "summary.json"
EVENTS_FILE = "events.parquet"
AGENTS_FILE = "agents.parquet"


def clean_json(value):
    """NaN and infinities become null; NumPy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return value.isoformat()
    return value


def daily_frame(rows: list[dict], columns: list[str], start_date: str | None = None
                ) -> pd.DataFrame:
    """The daily table; with a ``start_date`` a ``date`` column follows ``day``."""
    df = pd.DataFrame(rows, columns=columns)
    if df.empty:
        return df
    df["day"] = df["day"].astype("int32")
    if start_date is not None:
        start = pd.Timestamp(start_date)
        df.insert(1, "date", (start + pd.to_timedelta(df["day"] - 1, unit="D")).dt.date)
    return df


@dataclass
class Result:
    """The outcome of one run: its daily table, summary and (optionally) directory."""

    scenario: Scenario
    daily: pd.DataFrame
    summary: dict
    run_dir: Path | None = None
    run_id: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        """Whether the run simulated every day (False when stopped early)."""
        return bool(self.summary.get("completed"))

    def events(self) -> pd.DataFrame:
        """The event log as a DataFrame (needs a run directory with events.parquet).

        ``kind``, ``code``, ``sensor``, ``ledger`` and ``reason`` are categoricals of
        strings (see the README's "Event log columns"), also for logs of older versions.
        """
        if self.run_dir is None or not (self.run_dir / EVENTS_FILE).exists():
            raise RunDirError("this run has no event log (run with an output directory and "
                              "output.event_log.enabled: true)")
        return read_events(self.run_dir).to_pandas()

    def __repr__(self) -> str:
        """A one-line summary: scenario, size, a few metrics and the run directory."""
        m = self.summary.get("metrics", {})
        return (f"Result({self.scenario.name!r}, agents={self.summary.get('agents')}, "
                f"days={len(self.daily)}, mean_score={m.get('mean_score')}, "
                f"listed={m.get('listed')}, run_dir={str(self.run_dir) if self.run_dir else None})")


def write_daily(path: Path, df: pd.DataFrame) -> None:
    """Write the daily table to ``path`` as Parquet, atomically."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    atomic_write(path, lambda p: pq.write_table(table, p))


def write_run_dir(run_dir: Path, scenario: Scenario, daily: pd.DataFrame, summary: dict,
                  events: pa.Table | None = None, agents: pa.Table | None = None) -> None:
    """Write every file of a run directory atomically (scenario first, summary last)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / SCENARIO_FILE, scenario_to_yaml(scenario))
    write_daily(run_dir / DAILY_FILE, daily)
    if events is not None:
        from scslab.eventlog import file_table

        table = file_table(events, scenario)  # the kernels' codes become strings
        atomic_write(run_dir / EVENTS_FILE, lambda p: pq.write_table(table, p))
    if agents is not None:
        atomic_write(run_dir / AGENTS_FILE, lambda p: pq.write_table(agents, p))
    atomic_write_json(run_dir / SUMMARY_FILE, clean_json(summary))


#: summary.json is a few kB; anything this big is not one
MAX_SUMMARY_BYTES = 64 * 2**20
#: daily.parquet columns every run writes and the report reads
REQUIRED_DAILY_COLUMNS = ("day", "mean_score", "listed")
#: events.parquet columns ``scslab explain`` reads, and their kinds ("i" integer, "f" float,
#: "s" text, or integers in a log written before the text columns)
EVENT_COLUMNS = {"day": "i", "agent": "i", "kind": "s", "code": "s", "other": "i",
                 "sensor": "s", "value": "f"}


def _rerun(path: Path, what: str) -> RunDirError:
    return RunDirError(f"{path}: {what}; re-run the scenario")


def run_file(run_dir: str | Path, name: str) -> Path:
    """``run_dir/name``, which must be a regular file.

    A pipe, device or folder is refused with one line naming it, before anything tries
    to read it.
    """
    path = Path(run_dir) / name
    kind = not_regular(path)
    if kind is not None:
        raise RunDirError(f"{path} is not a regular file ({kind}); re-run the scenario")
    if not path.exists():
        raise RunDirError(f"{run_dir}: no {name}; is this a scslab run directory?")
    return path


def _show(value) -> str:
    """A value as it reads in the JSON file (strings quoted), on one short line."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:39] + "…"


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_finite(v) -> bool:
    return _is_num(v) and math.isfinite(v)


_KINDS = {
    "an integer": _is_int,
    "a number": _is_finite,
    "a number or null": lambda v: v is None or _is_num(v),
    "true or false": lambda v: isinstance(v, bool),
    "true, false or null": lambda v: v is None or isinstance(v, bool),
    "text": lambda v: isinstance(v, str),
    "text or null": lambda v: v is None or isinstance(v, str),
    "an integer or null": lambda v: v is None or _is_int(v),
    "an object": lambda v: isinstance(v, dict),
    "a list": lambda v: isinstance(v, list),
}

#: field → (kind, lowest, highest); agents and days must be there
_SUMMARY_FIELDS: dict[str, tuple[str, float | None, float | None]] = {
    "agents": ("an integer", 1, 2_000_000_000),
    "days": ("an integer", 0, 30_000),
    "days_planned": ("an integer", 0, 30_000),
    "seed": ("an integer", 0, 2**63 - 1),
    "completed": ("true or false", None, None),
    "started": ("true or false", None, None),
    "run_id": ("text or null", None, None),
    "scenario": ("text or null", None, None),
    "build_seconds": ("a number or null", None, None),
    "elapsed_seconds": ("a number or null", None, None),
    "agent_days_per_second": ("a number or null", None, None),
    "peak_memory_bytes": ("a number or null", None, None),
    "chilling_effect": ("a number or null", None, None),
    "metrics": ("an object", None, None),
    "totals": ("an object", None, None),
    "stage_seconds": ("an object", None, None),
    "bytes_per_agent": ("an object", None, None),
    "group_weights": ("an object", None, None),
    "event_log": ("an object", None, None),
    "provenance": ("an object", None, None),
    "run_options": ("an object", None, None),
    "chilling": ("an object", None, None),
    "scale": ("an object", None, None),
    "targets": ("a list", None, None),
    "fairness": ("an object", None, None),
}
_REQUIRED_SUMMARY = ("agents", "days")
_EVENT_LOG_FIELDS = {"enabled": ("true or false", None, None), "fraction": ("a number", 0, 1),
                     "rows": ("an integer", 0, None), "scope": ("text", None, None)}
_SCALE_FIELDS = {"represents": ("an integer", 1, None), "factor": ("a number", 0, None),
                 "note": ("text", None, None), "metrics": ("an object", None, None),
                 "totals": ("an object", None, None), "not_scaled": ("a list", None, None)}
_CHILLING_FIELDS = {"behaviour": ("text", None, None),
                    "acts_with_monitoring": ("a number", 0, None),
                    "acts_without_monitoring": ("a number", 0, None)}
_TARGET_FIELDS = {"target": ("text", None, None), "source": ("text or null", None, None),
                  "column": ("text", None, None), "agg": ("text or null", None, None),
                  "day": ("an integer or null", None, None),
                  "published": ("a number or null", None, None),
                  "achieved": ("a number or null", None, None),
                  "relative_error": ("a number or null", None, None),
                  "within_10_percent": ("true, false or null", None, None)}


def _check_fields(path: Path, where: str, data: dict, spec: dict, required=()) -> None:
    for key in required:
        if key not in data:
            raise _rerun(path, f"no {where}{key}")
    for key, (kind, lo, hi) in spec.items():
        if key not in data:
            continue
        v = data[key]
        if kind in ("an object", "a list") and v is None and key not in required:
            continue  # an absent block may be written as null
        if not _KINDS[kind](v):
            raise _rerun(path, f"{where}{key} is {_show(v)}, expected {kind}")
        if _is_num(v) and ((lo is not None and v < lo) or (hi is not None and v > hi)):
            rng = (f"from {lo:,} to {hi:,}" if lo is not None and hi is not None else
                   f"at least {lo:,}" if lo is not None else f"at most {hi:,}")
            raise _rerun(path, f"{where}{key} is {_show(v)}, expected {rng}")


def _check_values(path: Path, where: str, block: dict, allowed: str) -> None:
    for k, v in block.items():
        if not _KINDS[allowed](v) and not (allowed == "a number or null" and isinstance(v, str)
                                           and k == "date"):
            raise _rerun(path, f"{where}.{k} is {_show(v)}, expected {allowed}")


def check_summary(data, path: Path) -> dict:
    """Raise RunDirError naming the file and field of a summary.json value of the wrong kind.

    Only the fields a reader (report, explain, catalog, resume) uses are checked.
    """
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", type(None): "null"}.get(type(data),
                                                                          _show(data))
        raise _rerun(path, f"the top level is {kind}, expected a JSON object (a run summary)")
    _check_fields(path, "", data, _SUMMARY_FIELDS, _REQUIRED_SUMMARY)
    for block in ("metrics", "totals", "stage_seconds", "bytes_per_agent"):
        if isinstance(data.get(block), dict):
            _check_values(path, block, data[block], "a number or null")
    if isinstance(data.get("event_log"), dict):
        _check_fields(path, "event_log.", data["event_log"], _EVENT_LOG_FIELDS)
    if isinstance(data.get("chilling"), dict):
        _check_fields(path, "chilling.", data["chilling"], _CHILLING_FIELDS)
    scale = data.get("scale")
    if isinstance(scale, dict) and scale:
        _check_fields(path, "scale.", scale, _SCALE_FIELDS, ("represents", "factor"))
        for block in ("metrics", "totals"):
            if isinstance(scale.get(block), dict):
                _check_values(path, f"scale.{block}", scale[block], "a number or null")
        if not all(isinstance(c, str) for c in scale.get("not_scaled") or ()):
            raise _rerun(path, "scale.not_scaled must list column names")
    prov = data.get("provenance")
    if isinstance(prov, dict) and prov.get("packages") is not None and not isinstance(
            prov["packages"], dict):
        raise _rerun(path, f"provenance.packages is {_show(prov['packages'])}, expected an "
                           "object")
    for i, t in enumerate(data.get("targets") or ()):
        if not isinstance(t, dict):
            raise _rerun(path, f"targets[{i}] is {_show(t)}, expected an object")
        _check_fields(path, f"targets[{i}].", t, _TARGET_FIELDS, ("target",))
    return data


def read_summary(run_dir: Path) -> dict:
    """summary.json of a run directory, checked (see ``check_summary``)."""
    path = run_file(run_dir, SUMMARY_FILE)
    try:
        raw = read_regular(path, MAX_SUMMARY_BYTES)
    except NotRegularFile as e:
        raise RunDirError(f"{path} is not a regular file ({e.kind}); re-run the "
                          "scenario") from None
    except OSError as e:
        raise RunDirError(f"{path}: cannot read it ({e.strerror or e})") from None
    if len(raw) > MAX_SUMMARY_BYTES:
        raise _rerun(path, f"larger than {MAX_SUMMARY_BYTES:,} bytes, so not a run summary")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirError(f"{path}: corrupt JSON ({e}); re-run the scenario") from None
    except RecursionError:
        raise RunDirError(f"{path}: corrupt JSON (nested too deeply); re-run the "
                          "scenario") from None
    return check_summary(data, path)


def _arrow_kind(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return "s" if _arrow_kind(t.value_type) == "s" else "?"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "s"
    if pa.types.is_integer(t):
        return "i"
    if pa.types.is_floating(t):
        return "f"
    if pa.types.is_boolean(t) or pa.types.is_null(t):
        return "b"
    return "?"


def check_daily_schema(schema: pa.Schema, path: Path) -> None:
    """Raise RunDirError when daily.parquet lacks a required column or holds non-numbers.

    Every run writes the required columns; only ``date`` may hold something other than
    numbers.
    """
    names = schema.names
    for col in REQUIRED_DAILY_COLUMNS:
        if col not in names:
            raise _rerun(path, f"no {col!r} column (every run writes one)")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise _rerun(path, f"column {dup[0]!r} appears twice")
    for f in schema:
        kind = _arrow_kind(f.type)
        if f.name == "date":
            continue
        if f.name == "day" and kind != "i":
            raise _rerun(path, f"column 'day' holds {f.type}, expected integers")
        if kind not in ("i", "f", "b"):
            raise _rerun(path, f"column {f.name!r} holds {f.type}, expected numbers")


def read_daily(run_dir: Path) -> pd.DataFrame:
    """daily.parquet of a run directory, checked (see ``check_daily_schema``)."""
    path = run_file(run_dir, DAILY_FILE)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise RunDirError(f"{path}: unreadable Parquet ({str(e).splitlines()[0]}); re-run "
                          "the scenario") from None
    check_daily_schema(table.schema, path)
    try:
        return table.to_pandas()
    except (pa.ArrowException, ValueError, TypeError) as e:
        raise RunDirError(f"{path}: unreadable Parquet ({str(e).splitlines()[0]}); re-run "
                          "the scenario") from None


def check_events_schema(schema: pa.Schema, path: Path) -> None:
    """Raise RunDirError when events.parquet cannot be read by ``explain``.

    That is when it lacks a column ``explain`` reads, or holds the wrong kind of values
    there.
    """
    from scslab.eventlog import is_encoded

    old = is_encoded(schema)  # numeric codes: written by an older scslab, decoded on read
    for col, want in EVENT_COLUMNS.items():
        if col not in schema.names:
            raise _rerun(path, f"no {col!r} column (every event log has one)")
        t = schema.field(col).type
        if want == "s" and old:
            want = "i"
        if _arrow_kind(t) != want and not (want == "f" and _arrow_kind(t) == "i"):
            expected = {"i": "integers", "f": "numbers", "s": "text"}[want]
            raise _rerun(path, f"column {col!r} holds {t}, expected {expected}")
    for col in ("ledger", "reason"):
        if not old and col in schema.names and _arrow_kind(schema.field(col).type) != "s":
            raise _rerun(path, f"column {col!r} holds {schema.field(col).type}, expected text")


def read_events(run_dir: str | Path, agent: int | None = None) -> pa.Table:
    """events.parquet of a run directory (all agents, or one), with text columns.

    A log written before the text columns (numeric ``kind``/``code``/``sensor``) is decoded
    with the run's scenario.yaml, so old run directories read like new ones
    (``scslab.eventlog.FILE_SCHEMA``). Raises RunDirError when it is missing or unreadable.
    """
    from scslab.eventlog import file_table, is_encoded

    run_dir = Path(run_dir)
    path = run_file(run_dir, EVENTS_FILE)
    try:
        check_events_schema(pq.read_schema(path), path)
        table = pq.read_table(path, filters=None if agent is None else
                              [("agent", "=", int(agent))])
    except (pa.ArrowException, OSError) as e:
        raise RunDirError(f"{path}: unreadable ({str(e).splitlines()[0]}); re-run the "
                          "scenario") from None
    if agent is not None:  # row-group filters may keep neighbours
        table = table.filter(pc.equal(table["agent"], int(agent)))
    if not is_encoded(table.schema):
        return table
    return file_table(table, load_scenario(run_file(run_dir, SCENARIO_FILE)))


def load_run(run_dir: str | Path) -> Result:
    """Read a run directory back into a Result."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: not a directory")
    summary = read_summary(run_dir)
    daily = read_daily(run_dir)
    sc_path = run_file(run_dir, SCENARIO_FILE)
    scenario = load_scenario(sc_path)
    return Result(scenario=scenario, daily=daily, summary=summary, run_dir=run_dir,
                  run_id=summary.get("run_id"))

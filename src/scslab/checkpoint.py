"""Checkpoints: the engine's full state saved every K days, atomically.

Randomness needs no state (DESIGN.md §4) and the world is rebuilt from the
scenario, so a checkpoint holds only the mutable arrays, the day, the daily rows
so far and the event log so far (flushed as numbered part files). A checkpoint
is a directory ``checkpoint-DDDDDD/`` made complete before ``checkpoint.json``
(written by atomic rename) points to it; older ones are then removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scslab.errors import RunDirError
from scslab.fileio import atomic_write, atomic_write_json, fsync_dir, remove_stale_temps

POINTER = "checkpoint.json"
PARTS = "events.parts"
VERSION = 2  # 2: the own-conduct ledger (State.own, own_flags, obl_since)
_CHECKPOINT_NAME = re.compile(r"checkpoint-\d{6}(-[0-9a-f]{6})?")
_PART_NAME = re.compile(r"part-\d{6}\.parquet")


def flush_events(sim, run_dir: Path) -> list[str]:
    """Write the events collected since the last flush as a part file; list all parts."""
    parts_dir = run_dir / PARTS
    parts_dir.mkdir(parents=True, exist_ok=True)
    existing = sorted(p.name for p in parts_dir.glob("part-*.parquet"))
    if sim.log.enabled and sim.log.parts:
        table = sim.log.drain()
        name = f"part-{sim.day:06d}.parquet"
        atomic_write(parts_dir / name, lambda p: pq.write_table(table, p))
        existing.append(name)
    return existing


def save(sim, run_dir: Path, scenario_hash: str) -> Path:
    """Save a checkpoint of ``sim`` at its current day into ``run_dir``."""
    run_dir = Path(run_dir)
    parts = flush_events(sim, run_dir)
    final = run_dir / f"checkpoint-{sim.day:06d}"
    if final.exists():
        # Saved again on the same day (stopped right after a periodic checkpoint): never
        # remove the checkpoint the pointer may name; write a new one beside it.
        final = run_dir / f"checkpoint-{sim.day:06d}-{uuid.uuid4().hex[:6]}"
    tmp = run_dir / f".checkpoint-{sim.day:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    arrays = {f"state.{k}": v for k, v in sim.state.arrays().items()}
    if sim.abroad is not None and hasattr(sim.abroad, "get_state"):
        arrays.update({f"abroad.{k}": v for k, v in sim.abroad.get_state().items()})
    with open(tmp / "state.npz", "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    rows = pa.Table.from_pylist(sim.rows) if sim.rows else pa.table({})
    atomic_write(tmp / "daily.parquet", lambda p: pq.write_table(rows, p))
    atomic_write_json(tmp / "meta.json", {"version": VERSION, "day": sim.day,
                                          "agents": sim.world.n,
                                          "scenario_hash": scenario_hash, "event_parts": parts,
                                          "event_rows": sim.log.rows})
    fsync_dir(tmp)
    os.replace(tmp, final)
    fsync_dir(run_dir)
    atomic_write_json(run_dir / POINTER, {"checkpoint": final.name, "day": sim.day})
    for old in run_dir.glob("checkpoint-*"):
        if old.is_dir() and old.name != final.name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_pointer(run_dir: Path) -> dict | None:
    """The checkpoint pointer of ``run_dir`` if one was saved (not validated)."""
    from scslab.inputs import NotRegularFile, read_regular

    try:
        return json.loads(read_regular(Path(run_dir) / POINTER, 1 << 20))
    except (OSError, ValueError, NotRegularFile):
        return None


def load(run_dir: Path) -> dict | None:
    """The latest checkpoint's contents, or None when the run has none.

    Raises RunDirError (exit 2) when a checkpoint exists but is corrupt.
    """
    run_dir = Path(run_dir)
    ptr = run_dir / POINTER
    if not ptr.exists():
        return None
    hint = (f"; delete {ptr} and the checkpoint-* folders to restart the run from day 0")
    parts_dir = run_dir / PARTS
    from scslab.inputs import check_regular, read_regular

    try:
        pointer = json.loads(read_regular(ptr, 1 << 20))
        name = pointer["checkpoint"]
        if not isinstance(name, str) or not _CHECKPOINT_NAME.fullmatch(name):
            raise ValueError(f"{POINTER} names {str(name)[:60]!r}, not a checkpoint folder")
        cdir = run_dir / name
        meta = json.loads(read_regular(cdir / "meta.json", 1 << 24))
        for f in (cdir / "state.npz", cdir / "daily.parquet"):
            check_regular(f)
        if not isinstance(meta, dict):
            raise ValueError("meta.json is not an object")
        day = int(meta["day"])
        pointer_day = int(pointer.get("day", day))
        event_parts = list(meta["event_parts"])
        if not all(isinstance(n, str) and _PART_NAME.fullmatch(n) for n in event_parts):
            raise ValueError("meta.json lists event parts with bad names")
        with np.load(cdir / "state.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        rows = pq.read_table(cdir / "daily.parquet").to_pylist()
        for n in event_parts:  # every part must be a readable Parquet file
            if (parts_dir / n).exists():
                check_regular(parts_dir / n)
                pq.read_metadata(parts_dir / n)
    except Exception as e:  # noqa: BLE001 - a damaged file fails in many ways (BadZipFile…)
        raise RunDirError(f"{run_dir}: the checkpoint is corrupt or truncated "
                          f"({type(e).__name__}: {_first_line(e)}){hint}") from None
    if meta.get("version") != VERSION:
        raise RunDirError(f"{run_dir}: the checkpoint was written by another version of scslab "
                          f"(format {meta.get('version')}, this one reads {VERSION}){hint}")
    if day != len(rows) or pointer_day != day:
        raise RunDirError(f"{run_dir}: the checkpoint is inconsistent (day {meta.get('day')} "
                          f"but {len(rows)} daily rows){hint}")
    for name in event_parts:
        if not (parts_dir / name).exists():
            raise RunDirError(f"{run_dir}: event log part {name} is missing{hint}")
    # parts written after the checkpoint (the run died before the next one) are redone
    for p in parts_dir.glob("part-*.parquet") if parts_dir.exists() else []:
        if p.name not in event_parts:
            p.unlink()
    meta["event_parts"] = event_parts
    return {"meta": meta, "arrays": arrays, "rows": rows}


def _first_line(e: Exception) -> str:
    lines = str(e).splitlines()
    return lines[0][:200] if lines else ""


def restore(sim, ck: dict) -> None:
    """Put a loaded checkpoint into a freshly built simulation."""
    meta = ck["meta"]
    if int(meta["agents"]) != sim.world.n:
        raise RunDirError(f"checkpoint has {meta['agents']} agents but the scenario has "
                          f"{sim.world.n}")
    for name, arr in sim.state.arrays().items():
        src = ck["arrays"].get(f"state.{name}")
        if src is None or src.shape != arr.shape or src.dtype != arr.dtype:
            raise RunDirError(f"checkpoint array {name} does not match the scenario; delete "
                              "checkpoint.json and the checkpoint-* folders to restart the "
                              "run from day 0")
        arr[...] = src
    if sim.abroad is not None and hasattr(sim.abroad, "set_state"):
        sim.abroad.set_state({k[len("abroad."):]: v for k, v in ck["arrays"].items()
                              if k.startswith("abroad.")})
    sim.day = int(meta["day"])
    sim.rows = [dict(r) for r in ck["rows"]]
    sim.log.rows = int(meta.get("event_rows", 0))


def event_table(run_dir: Path, sim) -> pa.Table | None:
    """All events: the flushed parts followed by what is still in memory."""
    if not sim.log.enabled:
        return None
    parts_dir = Path(run_dir) / PARTS
    tables = [pq.read_table(p) for p in sorted(parts_dir.glob("part-*.parquet"))] \
        if parts_dir.exists() else []
    tables.append(sim.log.drain())
    return pa.concat_tables(tables).combine_chunks()


def clear(run_dir: Path) -> None:
    """Remove checkpoints, event parts and stale temporary files from ``run_dir``.

    Called once the run directory is final, or when a resume starts again from day 0.
    """
    run_dir = Path(run_dir)
    remove_stale_temps(run_dir)
    (run_dir / POINTER).unlink(missing_ok=True)
    for p in run_dir.glob("checkpoint-*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in run_dir.glob(".checkpoint-*"):
        shutil.rmtree(p, ignore_errors=True)
    shutil.rmtree(run_dir / PARTS, ignore_errors=True)

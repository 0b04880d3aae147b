"""The catalog: every run in a DuckDB file, queryable with SQL (DESIGN.md §6).

Tables: ``runs`` (one row per run), ``daily`` (run id + daily columns; columns
are added as new scenarios bring new ones) and ``sweep_runs``. A file locked by
another process is retried for a bounded time (``SCSLAB_CATALOG_LOCK_TIMEOUT``
seconds, default 60), then the command exits 2 with one line; a run directory
written before that stays complete and can be added later (``scslab catalog add``).

A new catalog is created atomically (``_create``): never a 0-byte or half-written file.
A full disk, a file-size limit or denied access is reported as such (exit 2), never as
a corrupt catalog. ``query`` (``scslab catalog query``) runs exactly one read-only
statement on a sandboxed connection: no files, no attached databases, no settings.
"""

from __future__ import annotations

import errno
import json
import math
import os
import random
import secrets
import time
from pathlib import Path

import pandas as pd

from scslab.errors import ScslabError
from scslab.fileio import fsync_dir

DEFAULT_DB = "scslab.duckdb"
LOCK_TIMEOUT_S = 60.0
LOCK_TIMEOUT_ENV = "SCSLAB_CATALOG_LOCK_TIMEOUT"

RUNS_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    run_dir VARCHAR,
    scenario_name VARCHAR,
    scenario_hash VARCHAR,
    created_at TIMESTAMP,
    agents BIGINT,
    days INTEGER,
    seed BIGINT,
    completed BOOLEAN,
    build_seconds DOUBLE,
    elapsed_seconds DOUBLE,
    agent_days_per_second DOUBLE,
    peak_memory_bytes BIGINT,
    sweep_id VARCHAR,
    provenance JSON,
    summary JSON
)"""
SWEEP_DDL = """
CREATE TABLE IF NOT EXISTS sweep_runs (
    sweep_id VARCHAR, run_id VARCHAR, replicate INTEGER, seed BIGINT, grid JSON
)"""


def lock_timeout() -> float:
    """Seconds to wait for another process's lock: ``SCSLAB_CATALOG_LOCK_TIMEOUT`` or 60."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return LOCK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ScslabError(f"{LOCK_TIMEOUT_ENV}={raw!r}: expected a number of seconds >= 0")
    return value


#: DuckDB settings of the connection ``catalog query`` runs on: no file, network or
#: extension access beyond the catalog itself (then the configuration is locked).
QUERY_CONFIG = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
}
#: statement types ``catalog query`` runs. DuckDB classifies DESCRIBE, SHOW, SUMMARIZE,
#: VALUES, FROM-first queries, WITH … SELECT and PIVOT with an explicit IN list as SELECT.
QUERY_TYPES = ("SELECT", "EXPLAIN")
READ_ONLY_RULE = ("`catalog query` is read-only: one SELECT statement (or DESCRIBE, SHOW, "
                  "SUMMARIZE, EXPLAIN), no files, no attached databases, no settings")

_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_ACCESS_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)
_NO_HARD_LINKS = {errno.EPERM, errno.EMLINK, errno.ENOSYS, errno.EXDEV,
                  getattr(errno, "ENOTSUP", errno.EOPNOTSUPP), errno.EOPNOTSUPP}


def _wal(db: Path) -> Path:
    return db.with_name(db.name + ".wal")


def _first_line(e: BaseException) -> str:
    return ((str(e).splitlines() or [""])[0] or type(e).__name__)[:300]


def _errno_of(e: BaseException) -> int | None:
    """The errno behind ``e``: an OSError's, or the one DuckDB's message spells out."""
    if isinstance(e, OSError) and e.errno:
        return e.errno
    text = str(e)
    for n in _SPACE_ERRNOS + _ACCESS_ERRNOS:
        if os.strerror(n) in text:
            return n
    return None


def _io_error(db, e: BaseException, writing: bool = True) -> ScslabError | None:
    """The exit-2 error for a full disk, a file-size limit or denied access; else None."""
    n = _errno_of(e)
    if n in (errno.ENOSPC, errno.EDQUOT):
        quota = f" ({os.strerror(n)})" if n == errno.EDQUOT else ""
        return ScslabError(f"no space left on device writing catalog {db}{quota}; free space, "
                           "or pass another --db")
    if n == errno.EFBIG:
        return ScslabError(f"no space left writing catalog {db}: the file-size limit "
                           "(`ulimit -f`) was reached (File too large); raise the limit or "
                           "free space, or pass another --db")
    if n == errno.EROFS:
        return ScslabError(f"catalog {db} is on a read-only file system; pass another --db")
    if n in (errno.EACCES, errno.EPERM):
        if not writing:
            return ScslabError(f"permission denied reading catalog {db}; make it readable, "
                               "or pass another --db")
        return ScslabError(f"permission denied writing catalog {db}; make it and its "
                           "directory writable, or pass another --db")
    return None


def _open_error(db: Path, e: BaseException, read_only: bool) -> ScslabError:
    """The exit-2 error for a catalog DuckDB would not open (other than a held lock)."""
    import duckdb

    io = _io_error(db, e, writing=not read_only)
    if io is not None:
        return io
    msg = _first_line(e)
    try:
        empty = db.is_file() and db.stat().st_size == 0
    except OSError:
        empty = False
    if empty:
        wal = _wal(db)
        return ScslabError(f"catalog {db} is an empty file (left by an interrupted creation); "
                           f"delete it{f' and {wal}' if wal.exists() else ''}, or pass "
                           "another --db")
    if isinstance(e, duckdb.ConnectionException) and "different configuration" in msg:
        return ScslabError(f"catalog {db} is already open in this process with other "
                           f"settings ({msg}); close that connection first")
    if "not a valid DuckDB database" in msg or isinstance(e, duckdb.SerializationException):
        return ScslabError(f"catalog {db} is not a DuckDB database or is corrupt ({msg}); "
                           "move it aside or pass another --db")
    return ScslabError(f"catalog {db} cannot be opened: {msg}; move it aside or pass "
                       "another --db")


def _create(db: Path) -> None:
    """Create the catalog ``db`` (absent) with its tables, atomically.

    It is written under a temporary name in the same directory, closed (no WAL left),
    then hard-linked into place: a catalog another process created meanwhile is kept
    (``os.link`` never replaces a file) and used instead. Where the file system has no
    hard links it is renamed into place if the name is still free. A failure (full
    disk, file-size limit, read-only directory) leaves no file behind: never a 0-byte
    or half-written ``db`` that every later command would trip on.
    """
    import duckdb

    wal = _wal(db)
    if os.path.lexists(wal):
        raise ScslabError(f"catalog {db} does not exist but its write-ahead log {wal} does "
                          "(left by a catalog that was deleted or moved); move "
                          f"{wal.name} aside, or pass another --db")
    if not db.parent.is_dir():
        raise ScslabError(f"catalog {db}: the directory {db.parent} does not exist; create it "
                          "or pass another --db")
    tmp = db.with_name(f".{db.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute(RUNS_DDL)
            con.execute(SWEEP_DDL)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, db)
        except FileExistsError:
            pass  # another process created it meanwhile: theirs is used
        except OSError as e:
            if e.errno not in _NO_HARD_LINKS:
                raise
            if not os.path.lexists(db):
                os.replace(tmp, db)
        fsync_dir(db.parent)
    except (duckdb.Error, OSError) as e:
        why = _first_line(e).replace(str(tmp), str(db))
        raise (_io_error(db, e) or ScslabError(
            f"catalog {db} cannot be created ({why}); pass another --db")) from None
    finally:
        for p in (tmp, _wal(tmp)):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
            except OSError:  # noqa: S110 - a leftover temporary file is harmless
                pass


def connect(db: str | Path, read_only: bool = False, timeout: float | None = None,
            config: dict | None = None):
    """Open the catalog, retrying while another process holds its lock.

    ``timeout`` (seconds) defaults to ``SCSLAB_CATALOG_LOCK_TIMEOUT`` or 60. A writer
    creates a missing catalog first (atomically, see ``_create``). ``config`` is passed
    to DuckDB (``QUERY_CONFIG`` for ``catalog query``).
    """
    import duckdb

    if timeout is None:
        timeout = lock_timeout()
    db = Path(db)
    if db.is_dir():
        raise ScslabError(f"catalog {db} is a directory; pass a file with --db")
    if not read_only and not os.path.lexists(db):
        _create(db)
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(db), read_only=read_only, config=config or {})
            break
        except duckdb.IOException as e:
            msg = str(e)
            if "lock" not in msg.lower() or _io_error(db, e) is not None:
                raise _open_error(db, e, read_only) from None
            if time.monotonic() > deadline:
                raise ScslabError(
                    f"catalog {db} is locked by another process for more than "
                    f"{timeout:g} s (the bounded wait, {LOCK_TIMEOUT_ENV}); try again "
                    "when that process is done") from None
            time.sleep(min(delay * (0.5 + random.random()),
                           max(deadline - time.monotonic(), 0.0) + 0.01))
            delay = min(delay * 2, 1.0)
        except (duckdb.Error, OSError) as e:
            raise _open_error(db, e, read_only) from None
    if not read_only:
        try:
            con.execute(RUNS_DDL)
            con.execute(SWEEP_DDL)
        except duckdb.Error as e:
            _close_quietly(con)
            raise _unusable(db, e) from None
    return con


def _close_quietly(con) -> None:
    """Close ``con``; an error closing it (a full disk again) must not hide the first one."""
    try:
        con.close()
    except Exception:  # noqa: BLE001, S110
        pass


def _unusable(db, e: BaseException) -> ScslabError:
    """The exit-2 error for a catalog that opens but cannot be used.

    A full disk, a file-size limit or denied access says so; anything else means the
    file is not a scslab catalog (corrupt, or an old schema).
    """
    io = _io_error(db, e)
    if io is not None:
        return io
    return ScslabError(f"catalog {db} is corrupt or not a scslab catalog ({_first_line(e)[:200]}); "
                       "move it aside or pass another --db")


def _add_later(e: ScslabError, db, run_dir: Path | None) -> ScslabError:
    """``e`` plus how to add the (complete) run directory once the catalog is usable."""
    if run_dir is None:
        return e
    return ScslabError(f"{e}; the run directory {run_dir} is complete: add it later with "
                       f"`scslab catalog add {run_dir} --db {db}`")


def _ensure_daily(con, df: pd.DataFrame) -> None:
    exists = con.execute("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'daily'").fetchone()[0]
    if not exists:
        con.execute("CREATE TABLE daily AS SELECT * FROM df LIMIT 0")
        return
    have = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = 'daily'").fetchall()}
    for col in df.columns:
        if col not in have:
            kind = "DOUBLE" if pd.api.types.is_float_dtype(df[col]) else (
                "BIGINT" if pd.api.types.is_integer_dtype(df[col]) else "VARCHAR")
            con.execute(f'ALTER TABLE daily ADD COLUMN "{col}" {kind}')


def record_run(db: str | Path, run_id: str, run_dir: Path | None, scenario_name: str,
               summary: dict, daily: pd.DataFrame, sweep: dict | None = None,
               replaces: str | None = None, add_later_hint: bool = True) -> None:
    """Insert (or replace) one run, its daily rows and its sweep row in one transaction.

    ``replaces``: the id of a run this one overwrote (``--overwrite``); its rows go in
    the same transaction. ``add_later_hint``: errors say how to add ``run_dir`` later
    (for a run directory that is already complete).

    Raises ScslabError (exit 2) when the catalog stays locked past the bounded retry or
    is corrupt; the message says how to add the (complete) run directory later.
    """
    import duckdb

    from scslab.results import clean_json

    summary = clean_json(summary)
    try:
        con = connect(db)
    except ScslabError as e:
        raise _add_later(e, db, run_dir if add_later_hint else None) from None
    try:
        con.execute("BEGIN TRANSACTION")
        gone = [run_id] if replaces in (None, run_id) else [run_id, replaces]
        for rid in gone:
            con.execute("DELETE FROM runs WHERE run_id = ?", [rid])
        con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, str(run_dir) if run_dir else None, scenario_name,
             summary.get("provenance", {}).get("scenario_hash"), summary.get("agents"),
             summary.get("days"), summary.get("seed"), bool(summary.get("completed")),
             summary.get("build_seconds"), summary.get("elapsed_seconds"),
             summary.get("agent_days_per_second"), summary.get("peak_memory_bytes"),
             sweep.get("sweep_id") if sweep else None,
             json.dumps(summary.get("provenance", {})), json.dumps(summary)])
        df = daily.copy()
        df.insert(0, "run_id", run_id)
        _ensure_daily(con, df)
        for rid in gone:
            con.execute("DELETE FROM daily WHERE run_id = ?", [rid])
        if replaces not in (None, run_id):
            con.execute("DELETE FROM sweep_runs WHERE run_id = ?", [replaces])
        con.execute("INSERT INTO daily BY NAME SELECT * FROM df")
        if sweep:
            con.execute("DELETE FROM sweep_runs WHERE run_id = ?", [run_id])
            _ensure_sweep_columns(con, sweep.get("grid", {}))
            cols = ["sweep_id", "run_id", "replicate", "seed", "grid"] + [
                _grid_col(k) for k in sweep.get("grid", {})]
            vals = [sweep["sweep_id"], run_id, sweep.get("replicate"), sweep.get("seed"),
                    json.dumps(sweep.get("grid", {}))] + [
                json.dumps(v) if not isinstance(v, str) else v for v in sweep["grid"].values()]
            q = ", ".join(f'"{c}"' for c in cols)
            con.execute(f"INSERT INTO sweep_runs ({q}) VALUES ({', '.join('?' * len(cols))})",
                        vals)
        con.execute("COMMIT")
    except BaseException as e:
        try:
            con.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - the original error matters more
            pass
        if isinstance(e, (duckdb.Error, OSError)):
            raise _add_later(_unusable(db, e), db,
                             run_dir if add_later_hint else None) from None
        raise
    finally:
        _close_quietly(con)


def _grid_col(path: str) -> str:
    return path.replace(".", "__")


def _ensure_sweep_columns(con, grid: dict) -> None:
    have = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = 'sweep_runs'").fetchall()}
    for k in grid:
        col = _grid_col(k)
        if col not in have:
            con.execute(f'ALTER TABLE sweep_runs ADD COLUMN "{col}" VARCHAR')


def _one_query(sql: str):
    """The one statement of ``sql``, if it is a query (``QUERY_TYPES``); else ScslabError."""
    import duckdb

    if not sql.strip():
        raise ScslabError("empty query; give one SELECT statement")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise ScslabError(f"SQL error: {_first_line(e)}") from None
    if not statements:
        raise ScslabError("empty query (only comments); give one SELECT statement")
    if len(statements) > 1:
        raise ScslabError(f"refused: {len(statements)} statements, give exactly one; "
                          f"{READ_ONLY_RULE}")
    stmt = statements[0]
    kind = stmt.type.name
    if kind not in QUERY_TYPES:
        hint = " (a PIVOT needs an explicit IN list here)" if kind == "MULTI" else ""
        raise ScslabError(f"refused: a statement of type {kind}{hint}; {READ_ONLY_RULE}")
    return stmt


def query_connection(db: str | Path):
    """A read-only connection to ``db`` with ``QUERY_CONFIG`` and a locked configuration."""
    import duckdb

    db = Path(db)
    if not db.exists():
        raise ScslabError(f"catalog {db} does not exist yet; run a scenario first")
    con = connect(db, read_only=True, config=QUERY_CONFIG)
    try:
        con.execute("SET lock_configuration = true")
    except duckdb.Error as e:
        _close_quietly(con)
        raise ScslabError(f"catalog {db}: cannot lock the query connection's settings "
                          f"({_first_line(e)})") from None
    return con


def query(db: str | Path, sql: str) -> pd.DataFrame:
    """Run one read-only query on the catalog (``scslab catalog query``).

    Exactly one statement of a type in ``QUERY_TYPES`` is run, on a read-only
    connection with ``QUERY_CONFIG`` (no file, network or extension access: no COPY,
    ATTACH, INSTALL/LOAD, read_csv, glob…) and a locked configuration (no SET, RESET,
    or PRAGMA that sets). Anything else, and any SQL error, raises ScslabError (exit 2).
    An EXPLAIN ANALYZE runs its statement under the same restrictions.
    """
    import duckdb

    stmt = _one_query(sql)
    con = query_connection(db)
    try:
        try:
            return con.execute(stmt).fetchdf()
        except duckdb.PermissionException as e:
            raise ScslabError(f"refused: {_first_line(e)}; {READ_ONLY_RULE}") from None
        except duckdb.InvalidInputException as e:
            if "configuration has been locked" in str(e):
                raise ScslabError(f"refused: {_first_line(e)}; {READ_ONLY_RULE}") from None
            raise ScslabError(f"SQL error: {_first_line(e)}") from None
        except duckdb.Error as e:
            raise ScslabError(f"SQL error: {_first_line(e)}") from None
    finally:
        _close_quietly(con)

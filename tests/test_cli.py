"""The command line (DESIGN.md §6): bad input exits 2 with one line naming the field,
``scslab run`` writes a complete run directory, Ctrl-C leaves it consistent (exit 130)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import duckdb
import pyarrow.parquet as pq
import pytest

import scslab
from scslab.cli import main

SUMMARY_KEYS = {"agents", "days", "seed", "build_seconds", "elapsed_seconds",
                "agent_days_per_second", "peak_memory_bytes", "completed", "provenance",
                "metrics", "totals"}


def cli(capsys, *args) -> tuple[int, str, str]:
    """``scslab ARGS`` in this process: (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return e.value.code, out, err


def one_line_error(code: int, out: str, err: str, *needles: str) -> str:
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture
def bad_files(tmp_path):
    files = {
        "misspelt": "base: national\npolicy:\n  rulez: {fraud: -80}\n",
        "negative": "base: national\nsensors:\n  cameras:\n    false_match_rate: -0.1\n",
        "text": "base: national\npopulation:\n  agents: many\n",
    }
    out = {}
    for k, v in files.items():
        p = tmp_path / f"{k}.yaml"
        p.write_text(v, encoding="utf-8")
        out[k] = p
    return out


# --------------------------------------------------------------------------- validate


def test_validate_misspelt_key_subprocess(bad_files, tk):
    """End to end, as a user sees it."""
    proc = tk.cli("validate", bad_files["misspelt"])
    tk.bad_input(proc, "policy.rulez", "did you mean 'rules'")


@pytest.mark.parametrize("which,needles", [
    ("misspelt", ["policy.rulez", "unknown key", "did you mean 'rules'"]),
    ("negative", ["sensors.cameras.false_match_rate", "-0.1"]),
    ("text", ["population.agents", "many"]),
])
def test_validate_bad_files(capsys, bad_files, which, needles):
    one_line_error(*cli(capsys, "validate", bad_files[which]), *needles)


@pytest.mark.parametrize("args,needles", [
    (["validate", "no_such_file.yaml"], ["not found"]),
    (["validate", "natinal"], ["did you mean 'national'"]),
    (["validate", "national", "--set", "policy.rulez.fraud=1"], ["policy.rulez", "rules"]),
    (["validate", "national", "--set", "days=-3"], ["days"]),
    (["validate", "national", "--set", "days"], ["PATH=VALUE"]),
    (["run", "national", "--agents", "10", "--days", "1", "--no-catalog",
      "--set", "sensors.cameras.false_match_rate=2"], ["sensors.cameras.false_match_rate"]),
    (["run"], ["SCENARIO"]),
    (["explain"], []),
    (["validate", "national", "--no-such-option"], ["no-such-option"]),
])
def test_bad_input_exits_2(capsys, args, needles):
    one_line_error(*cli(capsys, *args), *needles)


def test_missing_file_and_unknown_preset_subprocess(tk):
    tk.bad_input(tk.cli("validate", "missing/scenario.yaml"), "not found")
    tk.bad_input(tk.cli("run", "natinal", "--no-catalog"), "did you mean 'national'")


def test_very_long_scenario_name_is_bad_input(capsys):
    one_line_error(*cli(capsys, "validate", "x" * 300))


def test_validate_ok(capsys):
    code, out, err = cli(capsys, "validate", "national", "--agents", "1000")
    assert code == 0 and "valid" in out and err == ""


def test_presets(capsys):
    code, out, _ = cli(capsys, "presets")
    assert code == 0
    for name in scslab.preset_names():
        assert name in out


# --------------------------------------------------------------------------- run


def test_run_writes_the_run_directory(national_cli_run):
    d = national_cli_run["dir"]
    for f in ("scenario.yaml", "daily.parquet", "summary.json"):
        assert (d / f).is_file(), f
    s = json.loads((d / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(s)
    assert s["completed"] is True
    assert (s["agents"], s["days"], s["seed"]) == (3000, 20, 11)
    text = (d / "scenario.yaml").read_text()
    assert re.search(r"^days: 20$", text, re.M) and re.search(r"^seed: 11$", text, re.M)
    assert "run directory" in national_cli_run["proc"].stdout


def test_daily_has_each_day_once(national_cli_run):
    d = pq.read_table(national_cli_run["dir"] / "daily.parquet").to_pandas()
    assert d["day"].tolist() == list(range(1, 21))
    for col in ("mean_score", "listed", "misattributed_events", "wrongful_listed",
                "collateral_sanctioned", "denied_flight"):
        assert col in d.columns


def test_rerunning_written_scenario_reproduces_daily(national_cli_run, tmp_path):
    d = national_cli_run["dir"]
    scslab.run(d / "scenario.yaml", out=tmp_path / "again")
    assert (tmp_path / "again" / "daily.parquet").read_bytes() == (
        d / "daily.parquet").read_bytes()


def test_run_is_in_the_catalog(national_cli_run):
    con = duckdb.connect(str(national_cli_run["db"]), read_only=True)
    try:
        runs = con.execute("SELECT run_id, run_dir, scenario_name, agents, days, seed, "
                           "completed FROM runs").fetchall()
        assert len(runs) == 1
        run_id, run_dir, name, agents, days, seed, completed = runs[0]
        assert (name, agents, days, seed, completed) == ("national", 3000, 20, 11, True)
        assert os.path.samefile(run_dir, national_cli_run["dir"])
        days_in_db = [r[0] for r in con.execute(
            "SELECT day FROM daily WHERE run_id = ? ORDER BY day", [run_id]).fetchall()]
        assert days_in_db == list(range(1, 21))
    finally:
        con.close()


# --------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_leaves_a_consistent_run_directory(tmp_path, tk):
    """Start a long run, send SIGINT after its first progress, expect exit 130 and a run
    directory (and catalog row) marked completed: false with the days done."""
    out, db = tmp_path / "run", tmp_path / "c.duckdb"
    try:  # a pseudo-terminal, so the progress bar is drawn and tells us the loop is running
        master, slave = pty.openpty()
    except OSError as e:  # pragma: no cover - no pty on this system
        pytest.skip(f"no pseudo-terminal: {e}")
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "scslab.cli", "run", "national", "--agents", "200000", "--days",
         "365", "--out", str(out), "--db", str(db)],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave,
        env=tk.cli_env({"TERM": "xterm-256color"}))
    os.close(slave)
    seen = bytearray()
    progressed = threading.Event()

    def drain():
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)
            if re.search(rb"\b([1-9]\d*)/365\b", bytes(seen)):
                progressed.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert progressed.wait(180), f"no progress shown: {bytes(seen)[-2000:]!r}"
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        time.sleep(0.1)
        os.close(master)
    assert code == 130, bytes(seen)[-2000:]
    assert b"Traceback" not in bytes(seen)
    s = json.loads((out / "summary.json").read_text())
    assert s["completed"] is False
    daily = pq.read_table(out / "daily.parquet").to_pandas()
    k = len(daily)
    assert 1 <= k < 365
    assert s["days"] == k and daily["day"].tolist() == list(range(1, k + 1))
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT completed, days, run_id FROM runs").fetchall()
        assert len(row) == 1 and row[0][0] is False and row[0][1] == k
        n = con.execute("SELECT count(*) FROM daily WHERE run_id = ?", [row[0][2]]).fetchone()
        assert n[0] == k
    finally:
        con.close()

"""The scslab dashboard: a Streamlit app over the Python API (``scslab serve``).

Pick a preset, turn the main knobs, run with a progress bar, read the same
charts as the HTML report, compare two settings on common random numbers and
download the results. It calls ``scslab.api`` / ``scslab.comparison`` only (no
simulation logic here), shows daily aggregates (never agent arrays) and reads
and writes files only under its runs directory (``--runs-dir``, default
``./runs``). ``scslab serve`` binds it to 127.0.0.1.

Run by hand: ``streamlit run src/scslab/dashboard.py -- --runs-dir runs``.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st

from scslab import report
from scslab.dashboard_knobs import (
    CAMERA_SCALE,
    CAMERA_SECTION,
    DEFAULT_AGENTS,
    DEFAULT_DAYS,
    SECTIONS,
    Knob,
    Knobs,
    build_scenario,
    density_on,
    describe_changes,
    knobs_for,
    preset_knobs,
    preset_scenario,
)
from scslab.errors import ScslabError
from scslab.results import Result, load_run
from scslab.scenario.loader import preset_description, preset_names

RUNS_ENV = "SCSLAB_RUNS_DIR"
MAX_AGENTS = 2_000_000
MAX_DAYS = 3650
MAX_SEED = 2**53 - 1  # the largest integer a browser number widget holds exactly
# Widget keys whose defaults come from the preset: reset when the preset changes (the
# knobs' keys are their scenario paths).
PRESET_KEYS = ("seed", "camera_scale")
KNOB_ROOTS = tuple(sorted({p.split(".")[0] + "." for _, paths in SECTIONS for p in paths}))


# --------------------------------------------------------------------------- paths (pure)


def runs_dir_from(argv: list[str] | None = None, env: Mapping[str, str] | None = None
                  ) -> Path:
    """The runs directory: ``--runs-dir`` after ``--``, else $SCSLAB_RUNS_DIR, else ./runs."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--runs-dir", default=None)
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    environ = os.environ if env is None else env
    return Path(args.runs_dir or environ.get(RUNS_ENV) or "runs").expanduser().resolve()


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` lies under ``root`` (after resolving links)."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def list_runs(root: Path) -> list[Path]:
    """Run and comparison directories directly under ``root``, newest first.

    Runs still in progress (in ``<out>.partial``) and hidden folders are not listed.
    """
    from scslab.rundir import PARTIAL_SUFFIX

    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and inside(p, root)
             and not p.name.startswith(".") and not p.name.endswith(PARTIAL_SUFFIX) and (
                 (p / "summary.json").is_file() or report.is_comparison_dir(p))]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def new_dir(root: Path, stem: str) -> Path:
    """A fresh directory name under ``root``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{stem}-{stamp}-{uuid.uuid4().hex[:6]}"


# --------------------------------------------------------------------------- widgets


def _reset_preset_knobs() -> None:
    """On a new preset, forget the knobs it sets so they show the new preset's values."""
    for key in list(st.session_state.keys()):
        if key in PRESET_KEYS or str(key).startswith(KNOB_ROOTS):
            del st.session_state[key]


def knob_widget(kn: Knob, value: Any, disabled: bool = False) -> Any:
    """The sidebar widget of one knob, starting at ``value``; returns its value."""
    sb = st.sidebar
    if kn.widget == "toggle":
        return sb.toggle(kn.label, value=bool(value), key=kn.key, help=kn.help,
                         disabled=disabled)
    if kn.widget == "choice":
        return sb.radio(kn.label, list(kn.choices), index=kn.choices.index(value),
                        horizontal=True, key=kn.key, help=kn.help, disabled=disabled)
    widget: Any = sb.slider if kn.widget == "slider" else sb.number_input
    return widget(kn.label, kn.lo, kn.hi, value, kn.step, format=kn.format, key=kn.key,
                  help=kn.help, disabled=disabled)


def sidebar() -> tuple[Knobs, bool]:
    """The knobs in the sidebar; returns the current settings and whether Run was pressed."""
    sb = st.sidebar
    sb.title("scslab")
    sb.caption("A social credit system, simulated on synthetic people.")
    presets = preset_names()
    default = presets.index("national") if "national" in presets else 0
    preset = sb.selectbox("Scenario preset", presets, index=default, key="preset",
                          on_change=_reset_preset_knobs,
                          help="A starting point; the knobs below adjust it.")
    sb.caption(preset_description(preset))
    run_top = sb.container()
    base = preset_knobs(preset)
    sc = preset_scenario(preset)

    sb.subheader("Population and time")
    agents = sb.number_input("Synthetic people", min_value=100, max_value=MAX_AGENTS,
                             value=DEFAULT_AGENTS, step=1000, key="agents",
                             help="More people take longer; 20,000 runs in seconds.")
    days = sb.number_input("Days", min_value=1, max_value=MAX_DAYS, value=DEFAULT_DAYS,
                           step=10, key="days")
    seed = sb.number_input("Seed", min_value=0, max_value=MAX_SEED,
                           value=min(base.seed, MAX_SEED), step=1,
                           key="seed", help="Same seed, same results.")
    camera_scale = base.camera_scale
    values: dict[str, Any] = {}
    for title, section in knobs_for(sc):
        sb.subheader(title)
        if title == CAMERA_SECTION and density_on(sc):
            label, text, lo, hi, step = CAMERA_SCALE
            camera_scale = sb.slider(label, lo, hi, base.camera_scale, step, key="camera_scale",
                                     help=text)
        for kn in section:
            off = any(values.get(flag) is False for flag in kn.switches)
            values[kn.path] = kn.cast(knob_widget(kn, base.values[kn.path], disabled=off))
    chilling = sb.checkbox("Measure the chilling effect (runs twice)", value=False,
                           key="chilling")
    clicked = run_top.button("Run simulation", type="primary", key="run", width="stretch")
    clicked = sb.button("Run simulation", type="primary", key="run_bottom",
                        width="stretch") or clicked
    knobs = Knobs(preset=preset, agents=int(agents), days=int(days), seed=int(seed),
                  camera_scale=float(camera_scale), values=values, chilling=bool(chilling))
    return knobs, clicked


# --------------------------------------------------------------------------- display


def _error(e: BaseException) -> None:
    """Show an error: one line for bad input, the traceback for a bug."""
    from pydantic import ValidationError

    if isinstance(e, ScslabError):
        st.error(str(e))
    elif isinstance(e, ValidationError):
        from scslab.scenario.loader import format_validation_error

        st.error(format_validation_error(e, "settings"))
    else:
        st.exception(e)


def _read(path: Path, root: Path) -> bytes:
    """A file's bytes, refusing anything outside the runs directory."""
    if not inside(path, root):
        raise ScslabError(f"{path} is outside the runs directory")
    return path.read_bytes()


def show_figures(figures: list[report.ReportFigure], prefix: str) -> None:
    """Draw report figures with their captions."""
    for f in figures:
        st.markdown(f"**{f.title}**")
        st.plotly_chart(f.figure, key=f"{prefix}-{f.id}", config=report.PLOTLY_CONFIG)
        st.caption(f.caption)


def show_table(t: report.Table, key: str) -> None:
    """A report table as a Streamlit dataframe with its note."""
    st.markdown(f"**{t.title}**")
    st.dataframe(t.to_frame(), hide_index=True, key=key)
    if t.note:
        st.caption(t.note)


def headline_metrics(result: Result) -> list[tuple[str, str, str]]:
    """(label, value, note) of each headline card of the run's report.

    The cards are the card outcomes of :mod:`scslab.outcomes`, as ``report.headlines``
    builds them: a count of a scaled run is shown for the population represented, with
    the sample's own figure in the note.
    """
    return [(h.label, h.text,
             f"{h.note}; {h.sample_text} in the sample" if h.sample_text else h.note)
            for h in report.headlines(result)]


def show_result(result: Result, root: Path, prefix: str = "run") -> None:
    """The report of one run, drawn with Streamlit (same figures as the HTML report)."""
    sc, s = result.scenario, result.summary
    st.subheader(f"{sc.name}: {report.fmt(s.get('agents'))} synthetic people × "
                 f"{report.fmt(s.get('days'))} days")
    if not s.get("completed", True):
        st.warning("This run stopped early; the days done are shown.")
    heads = headline_metrics(result)
    for row in range(0, len(heads), 4):
        cols = st.columns(4)
        for col, (label, text, note) in zip(cols, heads[row:row + 4], strict=False):
            col.metric(label, text, help=note)
    if result.run_dir is not None:
        downloads(result, root, prefix)
    for sec in report.run_sections(result):
        st.header(sec.title)
        st.caption(sec.intro)
        show_figures(sec.figures, f"{prefix}-{sec.id}")
        for i, t in enumerate(sec.tables):
            show_table(t, f"{prefix}-{sec.id}-t{i}")
    st.header("Governance")
    st.dataframe(report.Table("Governance", ["setting", "value", "what it means"],
                              report.governance_rows(sc)).to_frame(), hide_index=True,
                 key=f"{prefix}-gov")
    with st.expander("Key parameters"):
        for i, t in enumerate(report.scenario_tables(sc)):
            show_table(t, f"{prefix}-param-{i}")


def _file_button(col, label: str, d: Path, name: str, mime: str, key: str, root: Path) -> None:
    """A download button for ``d/name``, if that file exists (read only when clicked)."""
    path = d / name
    if path.is_file():
        col.download_button(label, lambda: _read(path, root), file_name=f"{d.name}-{name}",
                            mime=mime, key=key, on_click="ignore")


def downloads(result: Result, root: Path, prefix: str) -> None:
    """Download buttons for a run directory's files."""
    assert result.run_dir is not None, "only a run with a directory has files to download"
    d = Path(result.run_dir)
    cols = st.columns(5)
    cols[0].download_button("Daily table (CSV)", result.daily.to_csv(index=False),
                            file_name=f"{d.name}-daily.csv", mime="text/csv",
                            key=f"{prefix}-dl-csv", on_click="ignore")
    _file_button(cols[1], "Daily table (Parquet)", d, "daily.parquet",
                 "application/octet-stream", f"{prefix}-dl-pq", root)

    def html() -> bytes:
        path = d / report.REPORT_FILE
        if not path.is_file():
            report.write_report(result)
        return _read(path, root)

    cols[2].download_button("Report (HTML)", html, file_name=f"{d.name}-report.html",
                            mime="text/html", key=f"{prefix}-dl-html", on_click="ignore")
    _file_button(cols[3], "Summary (JSON)", d, "summary.json", "application/json",
                 f"{prefix}-dl-summary", root)
    _file_button(cols[4], "Scenario (YAML)", d, "scenario.yaml", "text/yaml",
                 f"{prefix}-dl-yaml", root)
    st.caption(f"Saved in `{d}`.")


def show_comparison(data: report.ComparisonData, root: Path, prefix: str = "cmp") -> None:
    """A comparison, drawn with Streamlit (same table and figures as the HTML report)."""
    st.subheader(" vs ".join(data.labels))
    show_table(report.comparison_rows(data), f"{prefix}-table")
    show_figures(report.comparison_figures(data), prefix)
    show_table(report.scenario_differences(data), f"{prefix}-diff")
    show_table(report.governance_side_by_side(data), f"{prefix}-gov")
    if data.out_dir is not None:
        d = Path(data.out_dir)
        cols = st.columns(3)

        def html() -> bytes:
            path = d / report.REPORT_FILE
            if not path.is_file():
                report.write_comparison_report(data)
            return _read(path, root)

        cols[0].download_button("Comparison report (HTML)", html,
                                file_name=f"{d.name}-report.html", mime="text/html",
                                key=f"{prefix}-dl-html", on_click="ignore")
        _file_button(cols[1], "Outcome table (CSV)", d, "comparison.csv", "text/csv",
                     f"{prefix}-dl-csv", root)
        _file_button(cols[2], "Per-run outcomes (CSV)", d, "runs.csv", "text/csv",
                     f"{prefix}-dl-runs", root)
        st.caption(f"Saved in `{d}`.")


# --------------------------------------------------------------------------- actions


def do_run(k: Knobs, root: Path) -> Result | None:
    """Run the knobs' scenario with a progress bar; the run directory goes under ``root``."""
    from scslab import api
    from scslab.resources import check_fits

    try:
        sc = build_scenario(k)
        check_fits(sc, root)
    except Exception as e:  # noqa: BLE001 - shown to the user, not raised
        _error(e)
        return None
    out = root / api.new_run_id(sc)
    bar = st.progress(0.0, text="Building the synthetic population…")
    last = [-1]

    def progress(day: int, days: int, row: dict) -> None:
        step = int(100 * day / max(days, 1))
        if step != last[0]:
            last[0] = step
            listed = int(row.get("listed", 0) or 0)
            text = f"Day {day} of {days} — {listed:,} people listed"
            if day >= days and k.chilling:
                text = ("Simulating the same people again with speech unwatched, to measure "
                        "the chilling effect…")
            bar.progress(min(day / max(days, 1), 1.0), text=text)

    try:
        result = api.run(sc, out=out, chilling=k.chilling, progress=progress, report=True)
    except Exception as e:  # noqa: BLE001 - shown to the user, not raised
        bar.empty()
        _error(e)
        return None
    bar.progress(1.0, text=f"Done: {len(result.daily)} days")
    return result


def do_compare(a: Knobs, b: Knobs, replicates: int, root: Path) -> report.ComparisonData | None:
    """Compare settings A and B (same people, days and seeds) with a progress bar."""
    from scslab.comparison import compare

    try:
        sa = build_scenario(replace(a, agents=b.agents, days=b.days, seed=b.seed),
                            name=f"A-{a.preset}")
        sb = build_scenario(b, name=f"B-{b.preset}")
    except Exception as e:  # noqa: BLE001 - shown to the user, not raised
        _error(e)
        return None
    out = new_dir(root, "compare")
    bar = st.progress(0.0, text="Starting…")

    def progress(done: int, total: int, label: str) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{done} of {total} runs: {label}")

    try:
        cmp = compare([sa, sb], replicates=int(replicates), seed=b.seed, out=out,
                      progress=progress)
        data = report.comparison_data(cmp)
        report.write_comparison_report(data)
    except Exception as e:  # noqa: BLE001 - shown to the user, not raised
        bar.empty()
        _error(e)
        return None
    bar.progress(1.0, text="Done")
    return data


# --------------------------------------------------------------------------- tabs


def results_tab(k: Knobs, root: Path, run_clicked: bool) -> None:
    """Run when asked, then show the latest run of this session."""
    if run_clicked:
        result = do_run(k, root)
        if result is not None:
            st.session_state["result"] = result
    result = st.session_state.get("result")
    if result is None:
        st.info("Choose a preset, adjust the knobs in the sidebar, then press **Run "
                "simulation**. A run of 20,000 people over 120 days takes a few seconds.")
        changes = describe_changes(k)
        if changes:
            st.caption("Your changes to the preset: " + "; ".join(changes))
        return
    show_result(result, root, "run")


def compare_tab(k: Knobs, root: Path) -> None:
    """Pin settings A, compare them with the sidebar's settings B."""
    st.markdown("Compare two settings on the **same synthetic people and random draws** "
                "(common random numbers), so differences come from the policy, not luck. "
                "**B** is what the sidebar shows now; **A** is the settings you pinned, or the "
                "preset as shipped.")
    pinned = st.session_state.get("pinned")
    c1, c2 = st.columns(2)
    if c1.button("Pin the current settings as A", key="pin"):
        st.session_state["pinned"] = asdict(k)
        pinned = st.session_state["pinned"]
    if pinned and c2.button("Unpin A", key="unpin"):
        st.session_state.pop("pinned", None)
        pinned = None
    a = Knobs(**pinned) if pinned else preset_knobs(k.preset, k.agents, k.days)
    st.markdown(f"**A**: {a.preset}" + (" — " + "; ".join(describe_changes(a))
                                        if describe_changes(a) else " as shipped"))
    st.markdown(f"**B**: {k.preset}" + (" — " + "; ".join(describe_changes(k))
                                        if describe_changes(k) else " as shipped"))
    same = asdict(replace(a, agents=k.agents, days=k.days, seed=k.seed, chilling=False)) == \
        asdict(replace(k, chilling=False))
    if same:
        st.caption("A and B are the same: change a knob (or pin, then change) to compare.")
    reps = st.slider("Replicates (more: narrower intervals, longer wait)", 1, 10, 3,
                     key="replicates")
    st.caption(f"Each side is run {reps} time(s) plus its counterfactual without the penalty "
               f"on speech (for the chilling effect): {4 * reps} runs of {k.agents:,} people × "
               f"{k.days} days.")
    if st.button("Run comparison", type="primary", key="compare"):
        data = do_compare(a, k, reps, root)
        if data is not None:
            st.session_state["comparison"] = data
    data = st.session_state.get("comparison")
    if data is not None:
        show_comparison(data, root, "cmp")


def past_tab(root: Path) -> None:
    """Browse the runs and comparisons saved under the runs directory."""
    runs = list_runs(root)
    if not runs:
        st.info(f"No runs yet in `{root}`.")
        return
    names = [p.name for p in runs]
    choice = st.selectbox("Run or comparison", names, index=None, key="past_run",
                          placeholder="Choose a run…",
                          help=f"Directories under {root}, newest first.")
    if choice is None:
        st.caption(f"{len(names)} saved under `{root}`.")
        return
    path = root / choice
    if not inside(path, root):
        st.error("That directory is outside the runs directory.")
        return
    try:
        if report.is_comparison_dir(path):
            show_comparison(report.load_comparison(path), root, "past-cmp")
        else:
            show_result(load_run(path), root, "past-run")
    except Exception as e:  # noqa: BLE001 - shown to the user, not raised
        _error(e)


def about_tab(root: Path) -> None:
    """What the dashboard is, in a few lines."""
    st.markdown(
        "scslab simulates a social credit system on **synthetic people** and measures what it "
        "does to them: wrongful listings from face-recognition errors, punishment that spreads "
        "to families and employers, unequal treatment of groups and self-censorship. No real "
        "person's data is used, and nothing here can act on anyone.\n\n"
        "Every chart has a *Download* option in its toolbar; the **Report (HTML)** button gives "
        "a single file with all charts that opens offline.\n\n"
        f"Runs are saved under `{root}`. Reproduce any run from the command line with "
        "`scslab run <run directory>/scenario.yaml`.")


def main() -> None:
    """The Streamlit script."""
    st.set_page_config(page_title="scslab dashboard", layout="wide")
    root = runs_dir_from()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        st.error(f"Cannot use the runs directory {root}: {e.strerror}")
        return
    k, run_clicked = sidebar()
    st.title("What does a social credit system do to people?")
    tabs = st.tabs(["Results", "Compare two settings", "Past runs", "About"])
    with tabs[0]:
        results_tab(k, root, run_clicked)
    with tabs[1]:
        compare_tab(k, root)
    with tabs[2]:
        past_tab(root)
    with tabs[3]:
        about_tab(root)


if __name__ == "__main__":
    main()

"""The scslab benchmark: RM1 against Mesa, memory bandwidth, and `national` at scale.

Run it with ``scslab bench`` (or ``python benchmarks/run.py``). It first times a
first run on an empty kernel cache (cold compile, then the warm build; ``--no-cold``
skips it), then the rest. It writes
``benchmarks/results/<date>-<host>.json`` and regenerates the table in
``BENCHMARKS.md`` (``--quick`` only prints it, so a trial run never replaces the
full figures; ``--markdown PATH`` writes it elsewhere). Throughput is agent-days per second (agents × days / seconds of
the day loop; the population build is timed separately); memory is bytes per agent.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

def rm1_bytes_per_agent_day(sim) -> dict:
    """The bytes the RM1 day streams through per agent, array by array, in the common
    case (the agent's household block is quiet and the agent did nothing): the act
    screen reads the disposition; the settle pass reads flags, exposure, both scores
    and both daily point sums, and writes both scores (the point sums are cleared only
    where points arrived; household offsets are read once per block of ~128 agents). Acts, sensing and listing touch
    a few more bytes for the ~1.6 % of agents who act on a day; those are not counted.
    """
    w, st = sim.world, sim.state
    items = [("behaviour", "disposition", w.disposition.itemsize, 0),
             ("settle", "flags", st.flags.itemsize, 0),
             ("settle", "exposure", st.exposure.itemsize, 0),
             ("settle", "score", st.score.itemsize, st.score.itemsize),
             ("settle", "twin", st.twin.itemsize, st.twin.itemsize),
             ("settle", "delta_rec", st.delta_rec.itemsize, 0),
             ("settle", "delta_twin", st.delta_twin.itemsize, 0)]
    if w.has_ties:
        items += [("settle", "listed_ties", st.listed_ties.itemsize, 0),
                  ("settle", "listed_ties_twin", st.listed_ties_twin.itemsize, 0)]
    total = sum(r + wr for _, _, r, wr in items)
    return {"total": total,
            "items": [{"stage": a, "array": b, "read": r, "written": wr}
                      for a, b, r, wr in items]}


def _rss() -> int:
    from scslab.api import _peak_rss

    return _peak_rss()


def machine() -> dict:
    import numba

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"host": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "numba_threads": numba.get_num_threads(),
            "platform": platform.platform()}


def scslab_run(name: str, agents: int, days: int, seed: int, threads: int | None = None,
               profile: bool = False, overrides: dict | None = None) -> dict:
    """Build and run a preset in this process; return timings and outcomes."""
    from scslab.api import resolve
    from scslab.engine import Simulation

    over = {"output.event_log.enabled": False}
    over.update(overrides or {})
    sc = resolve(name, agents=agents, days=days, seed=seed, set=over)
    sim = Simulation(sc, threads=threads, profile=profile)
    t0 = time.perf_counter()
    sim.build()
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run()
    elapsed = time.perf_counter() - t0
    last = sim.rows[-1]
    bpa = sim.bytes_per_agent()
    return {"agents": agents, "days": days, "seed": seed, "threads": sim.threads,
            "build_seconds": build, "elapsed_seconds": elapsed,
            "agent_days_per_second": agents * days / elapsed,
            "final_mean_score": last["mean_score"], "final_listed_fraction": last["listed"] / agents,
            "bytes_per_agent": bpa, "state_bytes_per_agent": bpa["state"] + bpa["attributes"],
            "stage_seconds": {k: v for k, v in sim.stage_seconds.items() if v},
            "bytes_per_agent_day": rm1_bytes_per_agent_day(sim) if name == "rm1" else None,
            "quiet_share": sim.quiet_agent_days / (agents * days),
            "peak_rss_bytes": _rss()}


def numba_threads() -> int:
    import numba

    return numba.get_num_threads()


def warm_up() -> None:
    """Compile (or load from cache) every kernel before anything is timed."""
    scslab_run("rm1", 3000, 3, 1)
    scslab_run("national", 3000, 3, 1)
    scslab_run("national", 3000, 3, 1, profile=True)


def in_subprocess(func: str, **kwargs) -> dict:
    """Run ``func(**kwargs)`` of this module in a fresh process (for honest peak memory)."""
    code = (f"import sys, json; sys.path.insert(0, {str(HERE)!r}); import run; "
            f"print(json.dumps(run.{func}(**{kwargs!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli_run(name: str, agents: int, days: int, threads: int | None) -> dict:
    """``scslab run NAME --agents N --days D [--threads T]`` as a user types it, in a
    fresh process; returns what its summary.json reports."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        argv = ["run", name, "--agents", str(agents), "--days", str(days), "--out",
                str(Path(tmp) / "run"), "--seed", "1"]
        if threads:
            argv += ["--threads", str(threads)]
        code = f"from scslab.cli import main; main({argv!r})"
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    shown = ["RUN_DIR" if a.startswith(tmp) else a for a in argv]
    return {"command": "scslab " + " ".join(shown),
            "agents": agents, "days": days, "threads": threads,
            "agent_days_per_second": summary["agent_days_per_second"],
            "elapsed_seconds": summary["elapsed_seconds"]}


def cold_compile(name: str = "national", agents: int = 20_000, days: int = 5) -> dict:
    """The first run on a fresh machine: ``scslab run NAME --agents N --days D
    --no-catalog`` in a fresh process with ``NUMBA_CACHE_DIR`` set to a new, empty
    folder, so that every kernel is compiled ("cold compile"); then the same command
    again with that (now warm) cache ("warm build"). Returns both runs' build seconds
    (``build_seconds`` of summary.json: population, kernels, warm-up) and wall seconds
    of the whole process."""
    import tempfile

    out: dict = {"agents": agents, "days": days}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(tmp) / "numba")}
        argv = ["run", name, "--agents", str(agents), "--days", str(days), "--no-catalog"]
        out["command"] = "NUMBA_CACHE_DIR=$(mktemp -d) scslab " + " ".join(argv)
        for label in ("cold", "warm"):
            run_dir = Path(tmp) / label
            code = f"from scslab.cli import main; main({argv + ['--out', str(run_dir)]!r})"
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env=env)
            wall = time.perf_counter() - t0
            summary = json.loads((run_dir / "summary.json").read_text())
            out[f"{label}_build_seconds"] = summary["build_seconds"]
            out[f"{label}_wall_seconds"] = wall
    return out


def agreement(n: int, days: int, seeds: list[int]) -> dict:
    """RM1 in scslab and in Mesa over replicate seeds: do final outcomes agree?"""
    from mesa_rm1 import run_mesa_rm1

    def stats(xs):
        x = np.asarray(xs, dtype=float)
        return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))

    ours = [scslab_run("rm1", n, days, s) for s in seeds]
    theirs = [run_mesa_rm1(n, days, s) for s in seeds]
    out = {"agents": n, "days": days, "seeds": seeds}
    ok = True
    for key in ("final_mean_score", "final_listed_fraction"):
        m1, se1 = stats([r[key] for r in ours])
        m2, se2 = stats([r[key] for r in theirs])
        se = math.sqrt(se1**2 + se2**2)
        z = (m1 - m2) / se if se > 0 else 0.0
        agree = abs(z) < 3.0
        ok &= agree
        out[key] = {"scslab": m1, "scslab_se": se1, "mesa": m2, "mesa_se": se2, "z": z,
                    "agree_within_3_se": agree}
    out["agree"] = ok
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes (a minute or two)")
    ap.add_argument("--national-sizes", type=int, nargs="*",
                    default=[1_000_000, 10_000_000, 100_000_000])
    ap.add_argument("--national-days", type=int, default=365)
    ap.add_argument("--big-days", type=int, default=20,
                    help="days for national at 10^8 (throughput is per day)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-cold", action="store_true",
                    help="skip the cold-compile measurement (about a minute)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--markdown", type=Path, default=None,
                    help="where to write the table (default: BENCHMARKS.md after a full run; "
                         "a --quick run only prints it)")
    args = ap.parse_args(argv)
    import scslab
    from bandwidth import measure_bandwidth
    from mesa_rm1 import run_mesa_rm1

    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
    quick = args.quick
    res: dict = {"scslab": scslab.__version__, "date": datetime.now().isoformat(timespec="seconds"),
                 "machine": machine(), "quick": quick}
    if not args.no_cold:
        # first, while nothing else has run: a fresh process with an empty kernel cache
        print("cold compile: national at 20,000 agents × 5 days with an empty cache…",
              flush=True)
        res["cold_compile"] = cold_compile()
    print("warming up (compiling kernels)…", flush=True)
    warm_up()

    print("memory bandwidth (STREAM-like triad)…", flush=True)
    bw = measure_bandwidth(n_elements=2**24 if quick else 2**26, repeats=5)
    res["bandwidth"] = bw
    gbs = bw["numba"]["gb_per_s"]

    n_mesa, d_mesa = (20_000, 20) if quick else (100_000, 30)
    print(f"RM1 at {n_mesa:,} agents × {d_mesa} days: scslab and Mesa…", flush=True)
    ours = scslab_run("rm1", n_mesa, d_mesa, 1)
    ours_long = scslab_run("rm1", n_mesa, 365, 1)
    mesa = run_mesa_rm1(n_mesa, d_mesa, 1)
    res["rm1_vs_mesa"] = {"agents": n_mesa, "days": d_mesa, "scslab": ours,
                          "scslab_365_days": ours_long, "mesa": mesa,
                          "ratio": ours["agent_days_per_second"] / mesa["agent_days_per_second"],
                          "ratio_365_days": ours_long["agent_days_per_second"]
                          / mesa["agent_days_per_second"]}
    cli_threads = args.threads or numba_threads()
    print(f"RM1 through the CLI (scslab run rm1 --threads {cli_threads})…", flush=True)
    cli_small = cli_run("rm1", n_mesa, 365, cli_threads)
    res["rm1_vs_mesa"]["cli"] = cli_small
    res["rm1_vs_mesa"]["ratio_cli"] = (cli_small["agent_days_per_second"]
                                      / mesa["agent_days_per_second"])
    print("agreement over replicate seeds…", flush=True)
    res["agreement"] = agreement(5_000 if quick else 10_000, 120 if quick else 365,
                                 [11, 12, 13, 14, 15] if quick else list(range(11, 21)))

    n_big = 1_000_000 if quick else 10_000_000
    print(f"RM1 at {n_big:,} agents (bandwidth bound)…", flush=True)
    # a fresh process, as a user's run: not one whose heap holds twenty earlier runs
    big = in_subprocess("scslab_run", name="rm1", agents=n_big, days=30 if quick else 60,
                        seed=1, threads=args.threads)
    per_day = big["bytes_per_agent_day"]["total"]
    bound = gbs * 1e9 / per_day
    res["rm1_bandwidth"] = {"run": big, "bytes_per_agent_day": per_day,
                            "bytes_itemized": big["bytes_per_agent_day"]["items"],
                            "bandwidth_gb_per_s": gbs, "bound_agent_days_per_second": bound,
                            "fraction_of_bound": big["agent_days_per_second"] / bound}
    cli_big = cli_run("rm1", n_big, 30 if quick else 60, cli_threads)
    res["rm1_bandwidth"]["cli"] = cli_big
    res["rm1_bandwidth"]["fraction_of_bound_cli"] = cli_big["agent_days_per_second"] / bound

    sizes = [100_000, 1_000_000] if quick else args.national_sizes
    res["national"] = []
    for n in sizes:
        days = 30 if quick else (args.big_days if n >= 50_000_000 else args.national_days)
        print(f"national at {n:,} agents × {days} days…", flush=True)
        t0 = time.perf_counter()
        r = in_subprocess("scslab_run", name="national", agents=n, days=days, seed=1,
                          threads=args.threads)
        r["wall_seconds_including_build"] = time.perf_counter() - t0
        prof_n = min(n, 10_000_000)
        prof_days = 10 if quick or prof_n > 1_000_000 else 30
        r["profile"] = scslab_run("national", prof_n, prof_days, 1, profile=True)
        res["national"].append(r)

    args.out.mkdir(parents=True, exist_ok=True)
    name = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{socket.gethostname()}.json"
    path = args.out / name
    path.write_text(json.dumps(res, indent=2) + "\n")
    md = render_markdown(res)
    target = args.markdown or (None if quick else HERE.parent / "BENCHMARKS.md")
    if target is not None:
        target.write_text(md)
    print(md)
    print(f"results: {path}")
    return res


def _f(x: float) -> str:
    return f"{x:,.3g}" if x < 1000 else f"{x:,.0f}"


def _cold_compile_lines(cc: dict) -> list[str]:
    return [
        "## First run: compiling the kernels",
        "",
        f"`{cc['command']}` in a fresh process: with an empty kernel cache every kernel "
        "is compiled (cold compile); the same command again loads them from that cache "
        "(warm build). Build seconds are summary.json's `build_seconds` (population, "
        "kernels, warm-up); wall seconds are the whole process.",
        "",
        "| kernel cache | build s | wall s |",
        "|---|---:|---:|",
        f"| cold (empty) | {cc['cold_build_seconds']:.1f} | {cc['cold_wall_seconds']:.1f} |",
        f"| warm | {cc['warm_build_seconds']:.2f} | {cc['warm_wall_seconds']:.1f} |",
        "",
    ]


def render_markdown(res: dict) -> str:
    m = res["machine"]
    rv = res["rm1_vs_mesa"]
    ag = res["agreement"]
    bw = res["rm1_bandwidth"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `scslab bench` (`benchmarks/run.py`); raw results in `benchmarks/results/`.",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_bytes'] / 2**30:.0f} GiB; "
        f"Python {m['python']}, NumPy {m['numpy']}, Numba {m['numba']} "
        f"({m['numba_threads']} threads). Date: {res['date']}."
        + (" **Quick mode** (small sizes)." if res.get("quick") else ""),
        "",
        "Throughput is agent-days per second of the day loop (population build timed "
        "separately); memory is bytes per agent.",
        "",
        "## RM1: scslab against Mesa (same N, days and seed, one invocation)",
        "",
        "| implementation | agents | days | agent-days/s | build s | peak RSS |",
        "|---|---:|---:|---:|---:|---:|",
        f"| scslab | {rv['agents']:,} | {rv['days']} | {_f(rv['scslab']['agent_days_per_second'])}"
        f" | {rv['scslab']['build_seconds']:.2f} | {rv['scslab']['peak_rss_bytes'] / 2**20:,.0f} MiB |",
        f"| scslab | {rv['agents']:,} | 365 | {_f(rv['scslab_365_days']['agent_days_per_second'])}"
        f" | {rv['scslab_365_days']['build_seconds']:.2f} | – |",
        f"| Mesa 3 (`benchmarks/mesa_rm1.py`) | {rv['agents']:,} | {rv['days']} | "
        f"{_f(rv['mesa']['agent_days_per_second'])} | {rv['mesa']['build_seconds']:.2f} | "
        f"{rv['mesa']['peak_memory_bytes'] / 2**20:,.0f} MiB (growth) |",
        "",
        f"**Ratio: scslab is {rv['ratio']:,.0f}× Mesa** ({rv['ratio_365_days']:,.0f}× over a "
        "365-day run, where fixed per-run costs weigh less). Target: ≥ 300×.",
        "",
        *([f"A plain `{rv['cli']['command']}` reports "
           f"{_f(rv['cli']['agent_days_per_second'])} agent-days/s for its day loop "
           f"(progress bar included): **{rv['ratio_cli']:,.0f}× Mesa**.", ""]
          if "cli" in rv else []),
        f"{rv['scslab_365_days']['quiet_share']:.1%} of RM1's agent-days were settled on "
        "the fused pass's quiet-block path. "
        "Where scslab's time goes (RM1, "
        f"{rv['scslab_365_days']['agents']:,} agents × 365 days, seconds of the day loop): "
        + ", ".join(f"{k} {v:.3f}" for k, v in rv["scslab_365_days"]["stage_seconds"].items())
        + ".",
        "",
        f"Agreement over {len(ag['seeds'])} replicate seeds ({ag['agents']:,} agents × "
        f"{ag['days']} days): "
        + "; ".join(f"{k.replace('_', ' ')} scslab {v['scslab']:.4g} ± {v['scslab_se']:.2g}, "
                    f"Mesa {v['mesa']:.4g} ± {v['mesa_se']:.2g} (z = {v['z']:+.2f})"
                    for k, v in ag.items() if isinstance(v, dict))
        + f" → **{'agree' if ag['agree'] else 'DISAGREE'}** within 3 standard errors.",
        "",
        *(_cold_compile_lines(res["cold_compile"]) if "cold_compile" in res else []),
        "## Memory bandwidth and the RM1 bound",
        "",
        f"STREAM-like triad: {res['bandwidth']['numba']['gb_per_s']:.1f} GB/s (Numba, "
        f"{res['bandwidth']['threads']} threads; 24 bytes per element counted; median of "
        f"{res['bandwidth'].get('rounds', 1)} rounds' bests: "
        + ", ".join(f"{x:.1f}" for x in res["bandwidth"].get("numba_round_gb_per_s", []))
        + " GB/s). "
        f"RM1 touches {bw['bytes_per_agent_day']} bytes per agent-day (below), so the bound is "
        f"{_f(bw['bound_agent_days_per_second'])} agent-days/s. scslab's RM1 at "
        f"{bw['run']['agents']:,} agents runs {_f(bw['run']['agent_days_per_second'])} "
        f"agent-days/s: **{bw['fraction_of_bound']:.1%} of the bound** (target ≥ 25 %).",
        *([f"Through the CLI (`{bw['cli']['command']}`): "
           f"{_f(bw['cli']['agent_days_per_second'])} agent-days/s, "
           f"**{bw['fraction_of_bound_cli']:.1%} of the bound**."] if "cli" in bw else []),
        "",
        *(["| stage | array | bytes read | bytes written |", "|---|---|---:|---:|",
           *[f"| {it['stage']} | `{it['array']}` | {it['read']} | {it['written']} |"
             for it in bw["bytes_itemized"]],
           f"| | **total** | | **{bw['bytes_per_agent_day']}** |",
           "",
           "These are the arrays an agent's day streams through when its household block "
           "is quiet (nobody listed or exposed) and it did nothing; acts, sensing and "
           "listing touch a few more bytes for the agents who act (about 1.6 % a day), "
           "which are not counted.",
           ""] if "bytes_itemized" in bw else []),
        "## national at scale",
        "",
        "| agents | days | agent-days/s | build s | wall s (incl. build) | state B/agent "
        "| ties B/agent | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["national"]:
        lines.append(f"| {r['agents']:,} | {r['days']} | {_f(r['agent_days_per_second'])} | "
                     f"{r['build_seconds']:.1f} | {r['wall_seconds_including_build']:.1f} | "
                     f"{r['state_bytes_per_agent']:.0f} | {r['bytes_per_agent']['ties']:.0f} | "
                     f"{r['peak_rss_bytes'] / 2**30:.2f} GiB |")
    lines += ["", "Time per stage (profile mode: one pass per stage; the fused run is "
              "faster than the sum):", "",
              "| agents | " + " | ".join(
                  k for k in res["national"][0]["profile"]["stage_seconds"]) + " |",
              "|---:|" + "---:|" * len(res["national"][0]["profile"]["stage_seconds"])]
    seen = set()
    for r in res["national"]:
        p = r["profile"]
        if (p["agents"], p["days"]) in seen:
            continue
        seen.add((p["agents"], p["days"]))
        lines.append(f"| {p['agents']:,} × {p['days']} d | " + " | ".join(
            f"{v:.2f} s" for v in p["stage_seconds"].values()) + " |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

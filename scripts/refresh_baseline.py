"""Regenerate tests/baseline.json: the summaries of small default runs (STYLE.md "Results").

The regression test (tests/test_api.py::test_regression_baseline) runs the same
scenarios again and compares their summaries with this file exactly. Refresh it only
when a change of results is intended (a new model rule, a new random-number layout),
and say so in the CHANGELOG:

    python scripts/refresh_baseline.py
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

BASELINE = Path(__file__).resolve().parents[1] / "tests" / "baseline.json"

#: The runs: the national preset as shipped, and the transparent variant with thresholds
#: that keep the lists, spillover and due process busy (so they are pinned too).
SPECS: list[dict] = [
    {"label": "national", "scenario": "national", "agents": 5000, "days": 30,
     "seed": 20180101, "set": {}},
    {"label": "transparent-busy", "scenario": "transparent", "agents": 5000, "days": 30,
     "seed": 7, "set": {"sensors.cameras.false_match_rate": 0.2,
                        "policy.lists.blacklist.enter_below": 995,
                        "policy.lists.blacklist.exit_at_or_above": 999,
                        "policy.lists.blacklist.min_days": 3,
                        "governance.expiry.days": 10}},
]


def clean(value):
    """JSON-safe and exact: NaN and infinities become null, NumPy scalars Python numbers."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_of(spec: dict) -> dict:
    """The fields of one run's summary that do not depend on the machine."""
    import scslab
    from scslab.scenario.loader import scenario_hash

    r = scslab.run(spec["scenario"], agents=spec["agents"], days=spec["days"],
                   seed=spec["seed"], set=dict(spec["set"]) or None)
    s = r.summary
    return {
        "scenario_hash": scenario_hash(r.scenario),
        "agents": s["agents"],
        "days": s["days"],
        "seed": s["seed"],
        "completed": s["completed"],
        "metrics": clean(s["metrics"]),
        "totals": clean(s["totals"]),
    }


def main() -> int:
    data = {"runs": [{"spec": spec, "summary": summary_of(spec)} for spec in SPECS]}
    BASELINE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {BASELINE} ({len(SPECS)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

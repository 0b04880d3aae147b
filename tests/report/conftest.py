"""Fixtures for the HTML report tests: one small run and one small comparison per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_helpers import ReportPage, parse

import scslab

#: Frequent identity errors and a hair-trigger blacklist, so that the harms are not all zero;
#: children's school places are often sought, so household spillover denies some (collateral
#: denials) and the wrongly listed are refused.
HARMFUL = {
    "population.groups": [{"name": "majority", "share": 0.5}, {"name": "minority", "share": 0.5}],
    "sensors.cameras.group_multipliers": {"minority": 5},
    "sensors.cameras.false_match_rate": 0.2,
    "policy.lists.blacklist.enter_below": 990,
    "policy.lists.blacklist.exit_at_or_above": 995,
    "policy.lists.blacklist.min_days": 0,
    "policy.sanctions.private_school.attempt_rate": 0.3,
}


@pytest.fixture(scope="session")
def run_result(tmp_path_factory):
    """A small national run with frequent identity errors and the chilling counterfactual."""
    out = tmp_path_factory.mktemp("report") / "r"
    return scslab.run("national", agents=3000, days=20, out=out, set=dict(HARMFUL),
                      chilling=True)


@pytest.fixture(scope="session")
def run_page(run_result) -> ReportPage:
    return parse(run_result.run_dir / "report.html")


@pytest.fixture(scope="session")
def compare_dir(tmp_path_factory) -> Path:
    """A `compare` output directory: national vs transparent, two replicates, and its report."""
    from scslab.comparison import compare
    from scslab.report import build_report

    out = tmp_path_factory.mktemp("compare") / "c"
    compare(["national", "transparent"], agents=1500, days=12, replicates=2, out=out,
            set=dict(HARMFUL))
    build_report(out)
    return out


@pytest.fixture(scope="session")
def compare_page(compare_dir) -> ReportPage:
    return parse(compare_dir / "report.html")

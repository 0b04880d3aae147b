"""Global sensitivity analysis (Sobol, Morris) of run outcomes to scenario settings.

Samples come from SALib; each sample is a run of the scenario with those
settings, executed by the sweep machinery (in-process or on Dask, resumable),
all on the same seed (common random numbers) unless ``replicates`` > 1, in
which case each sample's outcome is the mean over the replicate seeds.
Integer settings (``population.agents``, ``*_days``) are sampled on
``[lo - 0.5, hi + 0.5]`` and rounded, so every integer in ``[lo, hi]`` is
equally likely.

The evaluation is injectable: ``sensitivity(None, {...}, evaluate=f)`` analyses
``f(X)`` instead of simulation runs (used to test the estimators on models whose
indices are known).

>>> res = sensitivity("national", {"sensors.cameras.false_match_rate": (1e-4, 1e-2)},
...                   method="morris", samples=8, outcomes=["wrongful_listed:last"],
...                   agents=5_000, days=60)                       # doctest: +SKIP
>>> res.indices                                                   # doctest: +SKIP

The package: ``problem`` (parameters, outcomes, SALib sampling, the sweep plan),
``analysis`` (the indices) and ``render`` (tables, HTML).
"""

from __future__ import annotations

from scslab.sensitivity.analysis import (
    SensitivityResult,
    analyze,
    outcomes_from_sweep,
    run_sensitivity_plan,
    sensitivity,
)
from scslab.sensitivity.problem import (
    AGGREGATIONS,
    METHODS,
    SUMMARY_SCALARS,
    Evaluator,
    Outcome,
    Param,
    SensitivityPlan,
    metric_columns,
    parse_outcome,
    parse_param,
    plan_sensitivity,
    resolve_params,
)
from scslab.sensitivity.render import print_sensitivity, render_html

__all__ = ["AGGREGATIONS", "METHODS", "SUMMARY_SCALARS", "Evaluator", "Outcome", "Param",
           "SensitivityPlan", "SensitivityResult", "analyze", "metric_columns",
           "outcomes_from_sweep", "parse_outcome", "parse_param", "plan_sensitivity",
           "print_sensitivity", "render_html", "resolve_params", "run_sensitivity_plan",
           "sensitivity"]

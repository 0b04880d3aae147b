"""scslab — an open laboratory for social credit systems.

Simulates, over synthetic populations, the social credit system that public
reporting describes, and measures what it does to people. It never touches real
people's data.

>>> import scslab
>>> result = scslab.run("national", agents=10_000, days=30)  # doctest: +SKIP
>>> result.daily[["day", "mean_score", "listed"]]  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from scslab import _kernel_cache

_kernel_cache.configure()

from scslab.api import Result, compare, explain, load_run, run  # noqa: E402
from scslab.scenario import Scenario, load_scenario, preset_names  # noqa: E402

__all__ = ["Result", "Scenario", "__version__", "compare", "explain", "load_run",
           "load_scenario", "preset_names", "run"]

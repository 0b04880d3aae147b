"""scslab — an open laboratory for social credit systems.

Simulates, over synthetic populations, the social credit system that public
reporting describes, and measures what it does to people. It never touches real
people's data.

>>> import scslab
>>> result = scslab.run("national", agents=10_000, days=30)  # doctest: +SKIP
>>> result.daily[["day", "mean_score", "listed"]]  # doctest: +SKIP

Importing the package is cheap: the API (and NumPy, Numba, pandas behind it) is
loaded on first use of one of the names below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Result": "scslab.api", "compare": "scslab.api", "explain": "scslab.api",
    "load_run": "scslab.api", "run": "scslab.api",
    "Scenario": "scslab.scenario", "load_scenario": "scslab.scenario",
    "preset_names": "scslab.scenario",
}

__all__ = ["Result", "Scenario", "__version__", "compare", "explain", "load_run",
           "load_scenario", "preset_names", "run"]

if TYPE_CHECKING:  # pragma: no cover
    from scslab.api import Result, compare, explain, load_run, run
    from scslab.scenario import Scenario, load_scenario, preset_names


def __getattr__(name: str) -> Any:
    """Load the API on first use (PEP 562), so ``import scslab`` stays light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scslab' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

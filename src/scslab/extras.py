"""Optional features and the extra that installs each (``pip install 'scslab[EXTRA]'``).

The core package runs scenarios, reports and the catalog; a few commands need more.
Each imports its library through ``require`` inside the command, so the core installs
and starts without them and a missing one is one line naming the extra.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from scslab.errors import ScslabError

EXTRAS = {
    "streamlit": ("dashboard", "Streamlit", "the dashboard (scslab serve)"),
    "distributed": ("dask", "Dask distributed", "runs on a Dask cluster (--workers, --scheduler)"),
    "SALib": ("dask", "SALib", "sensitivity analysis (scslab sensitivity)"),
    "mesa": ("bench", "Mesa", "the benchmark against Mesa (scslab bench)"),
}
"""Importable module → (extra, library, what needs it)."""


def missing(module: str) -> ScslabError:
    """The one-line error for a missing optional library."""
    extra, lib, what = EXTRAS[module]
    return ScslabError(f"{what} needs {lib}, which is not installed: "
                       f"pip install 'scslab[{extra}]'")


def require(module: str) -> ModuleType:
    """Import an optional library, or raise the error that names its extra (exit 2)."""
    if module not in EXTRAS:
        raise KeyError(f"{module} is not an optional library of scslab")
    try:
        return importlib.import_module(module)
    except ImportError:
        raise missing(module) from None


def available(module: str) -> bool:
    """Whether an optional library can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False

"""Sub-commands that live beside their feature (report, dashboard, sweeps, …).

Each module here defines ``register(app: typer.Typer) -> None`` and adds its
commands; heavy libraries are imported inside the command functions so that
``scslab --help`` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil


def register_all(app) -> None:
    """Add the commands of every module of this package to ``app``, in name order."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(mod, "register", None)
        if register is not None:
            register(app)

"""Every ``scslab`` command, one module per command (or group of commands).

Each module here defines ``register(app: typer.Typer) -> None`` and adds its
commands; heavy libraries are imported inside the command functions so that
``scslab --help`` stays fast. Shared pieces live in ``options`` (options),
``common`` (consoles, the run summary) and ``progress`` (progress bar, Ctrl-C).
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

#: The modules whose commands ``scslab --help`` lists first, in this order; the others
#: follow in name order.
FIRST = ("presets", "validate", "run", "explain", "compare", "audit", "catalog")


def register_all(app: typer.Typer) -> None:
    """Add the commands of every module of this package to ``app`` (``FIRST`` first)."""
    names = [m.name for m in pkgutil.iter_modules(__path__)]
    rest = sorted(n for n in names if n not in FIRST)
    for name in [*(n for n in FIRST if n in names), *rest]:
        mod = importlib.import_module(f"{__name__}.{name}")
        register = getattr(mod, "register", None)
        if register is not None:
            register(app)

"""The ``scslab`` command line: a thin layer over the Python API.

This module assembles the Typer app from ``scslab.commands`` (one module per command)
and maps errors to exit statuses.

Bad input exits 2 with one line saying what is wrong; an internal error exits 1
with a hint to report it; Ctrl-C during a run exits 130 after writing the days
done (``completed: false``).
"""

from __future__ import annotations

import sys

import typer

# typer >= 0.26 ships its own copy of click (and no longer depends on click)
from typer._click import exceptions as _click_exc

from scslab.commands import register_all
from scslab.errors import ScslabError

_USAGE = (_click_exc.UsageError,)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="scslab — an open laboratory for social credit systems (synthetic "
                       "populations only).")
register_all(app)


def _err(message: str) -> None:
    """One line on stderr, however long (no wrapping, no markup)."""
    sys.stderr.write(" ".join(str(message).split()) + "\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> None:
    """Entry point: map errors to exit statuses (0 ok, 1 internal, 2 bad input, 130 Ctrl-C)."""
    try:
        code = _main(argv)
    except KeyboardInterrupt:  # also while an error below is being reported
        _err("interrupted")
        code = 130
    sys.exit(code)


def _main(argv: list[str] | None) -> int:
    try:
        rv = app(args=argv, standalone_mode=False)
        if rv == 130:  # typer turns a KeyboardInterrupt in a command into a silent 130
            _err("interrupted")
        return rv if isinstance(rv, int) else 0
    except typer.Exit as e:
        return e.exit_code
    except _USAGE as e:
        cmd = e.ctx.command_path if e.ctx else "scslab"
        _err(f"error: {e.format_message()} (see `{cmd} --help`)")
        return 2
    except typer.Abort:
        _err("interrupted")
        return 130
    except ScslabError as e:
        _err(f"{'' if getattr(e, 'exit_code', 2) == 130 else 'error: '}{e}")
        return getattr(e, "exit_code", 2)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except MemoryError:
        _err("error: out of memory: this run needs more memory than is free; use fewer "
             "--agents (`scslab validate` estimates the memory a run needs)")
        return 2
    except Exception as e:  # noqa: BLE001 - last resort: no traceback for users
        from pydantic import ValidationError

        from scslab.fileio import describe_os_error

        if isinstance(e, ValidationError):
            from scslab.scenario.loader import format_validation_error

            _err(f"error: {format_validation_error(e, 'input')}")
            return 2
        if isinstance(e, OSError) and describe_os_error(e) is not None:
            _err(f"error: {describe_os_error(e)}")
            return 2
        import os
        import traceback

        if os.environ.get("SCSLAB_DEBUG"):
            traceback.print_exc()
        _err(f"internal error: {type(e).__name__}: {e}. This is a bug in scslab; please report "
             "it with the command you ran (set SCSLAB_DEBUG=1 for the traceback).")
        return 1


if __name__ == "__main__":
    main()

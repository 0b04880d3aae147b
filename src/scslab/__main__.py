"""The ``scslab`` command (and ``python -m scslab``).

A thin wrapper that imports the CLI inside the exit-status handling, so that Ctrl-C
while the libraries load exits 130 quietly instead of printing a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command line; see ``scslab.cli.main``."""
    try:
        from scslab.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    cli_main()


if __name__ == "__main__":
    main()

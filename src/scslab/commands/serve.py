"""``scslab serve``: the Streamlit dashboard, on this machine only (127.0.0.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_PORT = 8501
DASHBOARD = Path(__file__).resolve().parents[1] / "dashboard.py"


def dashboard_command(port: int, runs_dir: Path, python: str | None = None) -> list[str]:
    """The command line that starts the dashboard on loopback."""
    import sys

    return [python or sys.executable, "-m", "streamlit", "run", str(DASHBOARD),
            "--server.address", "127.0.0.1", "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--global.developmentMode", "false", "--client.toolbarMode", "minimal",
            "--", "--runs-dir", str(runs_dir)]


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""

    @app.command("serve")
    def serve(port: Annotated[int, typer.Option("--port", min=1, max=65535,
                                                help="Port on 127.0.0.1.")] = DEFAULT_PORT,
              runs_dir: Annotated[Path, typer.Option(
                  "--runs-dir", help="Where the dashboard writes and reads runs.")] = Path("runs"),
              ) -> None:
        """Open the dashboard: pick a preset, turn the knobs, run, compare, download."""
        import os
        import signal
        import subprocess

        from rich.console import Console

        from scslab.errors import ScslabError
        from scslab.extras import available, missing

        if not available("streamlit"):
            raise missing("streamlit")
        if not port_free(port):
            raise ScslabError(f"port {port} on 127.0.0.1 is in use; pick another with --port")
        runs_dir = runs_dir.expanduser().resolve()
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ScslabError(f"cannot create --runs-dir {runs_dir}: {e.strerror}") from None
        Console(stderr=True).print(f"scslab dashboard on http://127.0.0.1:{port} (runs in "
                                   f"{runs_dir}); Ctrl-C to stop", highlight=False)
        env = dict(os.environ, SCSLAB_RUNS_DIR=str(runs_dir),
                   STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
        proc = subprocess.Popen(dashboard_command(port, runs_dir), env=env)

        def stop_child(signum: int, frame: object) -> None:
            proc.send_signal(signum)  # Streamlit shuts down cleanly on SIGTERM/SIGHUP

        old = {sig: signal.signal(sig, stop_child) for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            code = 130
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if code:
            raise typer.Exit(130 if code == 130 else code if code > 0 else 128 - code)

"""The progress bar and Ctrl-C handling of the commands that run a scenario."""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from scslab.commands.common import err_console


class Stop:
    """Ctrl-C in the day loop: finish the current day, commit the days done, exit 130.

    Outside the day loop (building, writing the outputs), or at a second Ctrl-C, it
    interrupts at once (KeyboardInterrupt): nothing is committed, and the message says
    how to continue.
    """

    def __init__(self) -> None:
        """Not yet installed: use it as a context manager around the run."""
        self.requested = False
        self.abort = False
        self.in_loop = False
        self._old: Callable[[int, FrameType | None], Any] | int | None = None
        self.on_request: Callable[[], None] | None = None

    def __enter__(self) -> Stop:
        """Install the SIGINT handler."""

        def handler(signum, frame):
            if self.requested or not self.in_loop:
                # a library may swallow the exception (Numba's cache callbacks do): the
                # flag makes the next phase change raise it again
                self.abort = True
                raise KeyboardInterrupt
            self.requested = True
            if self.on_request is not None:
                self.on_request()

        self._old = signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc) -> None:
        """Restore the previous SIGINT handler."""
        signal.signal(signal.SIGINT, self._old)

    def __call__(self) -> bool:
        """Whether a stop after the current day was asked for (the engine polls this)."""
        return self.requested


def progress_bar(unit: str = "days", extra: str = "rate") -> Progress:
    """A progress bar on stderr (shown on a terminal or with SCSLAB_PROGRESS=1).

    Counts ``unit`` (days of a run, runs of a sweep) and shows the task's field ``extra``
    (the day loop's speed, the sweep's last run).
    """
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn(unit), TextColumn(f"{{task.fields[{extra}]}}"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err_console, transient=False,
                    disable=not err_console.is_terminal and not _force_progress())


def _force_progress() -> bool:
    import os

    return os.environ.get("SCSLAB_PROGRESS") == "1"


PHASES = {
    "building": "loading the kernels",
    "compiling kernels — first run only": "compiling kernels — first run only (about half a "
                                          "minute; cached afterwards)",
    "building population": "building the population",
    "writing": "writing the outputs",
}
"""What the progress bar says in each phase (``api.run``'s and the engine's names)."""


def day_progress(prog: Progress, stop: Stop, label: str, days: int, n: int
                 ) -> tuple[Callable[[int, int, dict], None], Callable[[str], None]]:
    """The day-loop progress callback and the phase callback for one run."""
    import time

    task = prog.add_task(label, total=days or None, rate="")
    t0 = [0.0, -1]

    def progress(day: int, total: int, row: dict) -> None:
        if t0[1] < 0:
            t0[0], t0[1] = time.perf_counter(), day
            rate = ""
        else:
            dt = time.perf_counter() - t0[0]
            rate = f"{n * (day - t0[1]) / dt:,.0f} agent-days/s" if dt > 0 and n else ""
        prog.update(task, completed=day, total=total, rate=rate)

    def on_phase(phase: str) -> None:
        if stop.abort:
            raise KeyboardInterrupt
        stop.in_loop = phase == "running"
        text = PHASES.get(phase)
        prog.update(task, description=f"{label}: {text}" if text else label)

    def on_request() -> None:
        prog.update(task, description=f"{label}: stopping after this day (Ctrl-C again to "
                                      "stop at once)")

    stop.on_request = on_request
    return progress, on_phase

"""Run directories commit like a database (DESIGN.md §6).

A run works in ``<out>.partial`` (checkpoints included) and is moved into place
at ``<out>`` only when every file and the catalog row are written. One
directory has one writer: a lock file ``.<out>.lock`` beside it is held with
``flock`` for as long as the run works, so it dies with its process.

States of ``<out>`` (``classify``):

- ``absent`` or ``empty`` (an empty directory): a new run may go there;
- ``run``: a committed run (it has ``summary.json`` or ``scenario.yaml``);
  ``--overwrite`` replaces it, keeping it intact until the new run is complete;
- ``other``: a non-empty directory that is not a run: always refused;
- ``file``: a file, or a path under one: always refused.

Replacing a run: rename the old one aside (``.<out>.old-XXXXXX``), rename the
new one in, delete the old. A kill between the two renames leaves the new run
complete in ``<out>.partial``; the next writer finishes the move (``recover``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from scslab.errors import RunDirError
from scslab.fileio import fsync_dir

PARTIAL_SUFFIX = ".partial"
RUN_MARKERS = ("summary.json", "scenario.yaml")


def partial_path(out: Path) -> Path:
    """The in-progress directory of ``out``: ``<out>.partial``."""
    return out.with_name(out.name + PARTIAL_SUFFIX)


def lock_path(out: Path) -> Path:
    """The lock file of ``out``: ``.<out>.lock`` beside it."""
    return out.with_name(f".{out.name}.lock")


def _old_dirs(out: Path) -> list[Path]:
    parent = out.parent
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.glob(f".{out.name}.old-*") if p.is_dir())


def normalise(out: str | Path) -> Path:
    """``out`` as given by the user, with a trailing ``.partial`` taken off.

    So ``--resume X.partial`` means ``--resume X``.
    """
    out = Path(out)
    if out.name.endswith(PARTIAL_SUFFIX) and len(out.name) > len(PARTIAL_SUFFIX):
        out = out.with_name(out.name[: -len(PARTIAL_SUFFIX)])
    if out.name in ("", ".", ".."):
        raise RunDirError(f"{out}: give a directory name for the run (e.g. runs/demo)")
    return out


def is_run(path: Path) -> bool:
    """Whether ``path`` holds a run: it has a summary or a scenario (``RUN_MARKERS``)."""
    return path.is_dir() and any((path / m).is_file() for m in RUN_MARKERS)


def started(partial: Path) -> bool:
    """An unfinished run got as far as its scenario.yaml (so ``--resume`` can go on)."""
    return (partial / "scenario.yaml").is_file()


def classify(out: Path) -> str:
    """``absent``, ``empty``, ``run``, ``other`` or ``file`` (see the module doc)."""
    for anc in [out, *out.parents]:
        if anc.exists() or anc.is_symlink():
            if anc != out and not anc.is_dir():
                return "file"
            break
    if not (out.exists() or out.is_symlink()):
        return "absent"
    if not out.is_dir():
        return "file"
    if is_run(out):
        return "run"
    try:
        next(out.iterdir())
    except StopIteration:
        return "empty"
    return "other"


def _refuse_file(out: Path) -> RunDirError:
    for anc in [out, *out.parents]:
        if anc.exists() and not anc.is_dir():
            return RunDirError(f"{anc} is a file, not a directory; choose another --out for "
                               "the run directory")
    return RunDirError(f"{out} is not a directory; choose another --out")


class RunLock:
    """An exclusive, non-blocking ``flock`` on ``.<out>.lock``.

    It is released (and the file removed) on ``release``, or when the process dies.
    """

    def __init__(self, out: Path) -> None:
        """A lock for the run directory ``out``, not yet acquired."""
        self.out = out
        self.path = lock_path(out)
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock, or raise RunDirError at once if another process holds it.

        The lock file then holds this process's id, for the error message of the next.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise RunDirError(
                        f"{self.out} is in use by another scslab process{self._holder()}; "
                        "wait for it to finish, or choose another --out") from None
                raise
            # the holder before us may have removed the file after we opened it
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def _holder(self) -> str:
        try:
            pid = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return ""
        return f" (pid {pid})" if pid.isdigit() else ""

    def release(self) -> None:
        """Remove the lock file and let go of the lock (nothing if not held)."""
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> RunLock:
        """Acquire the lock (see ``acquire``)."""
        return self.acquire()

    def __exit__(self, *exc) -> None:
        """Release the lock."""
        self.release()


def recover(out: Path) -> None:
    """Finish or undo a replacement that a kill interrupted (call under the lock).

    - ``<out>`` present: the ``.old-*`` copies are leftovers of a finished move; delete.
    - ``<out>`` absent, ``<out>.partial`` present: the partial is newer; leave it (its
      writer or ``--resume`` commits it), but keep the old run until then.
    - ``<out>`` absent, no partial, an old copy: the move never happened; put it back.
    """
    olds = _old_dirs(out)
    if not olds:
        return
    if out.exists():
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)
    elif not partial_path(out).exists():
        os.rename(olds[-1], out)
        for old in olds[:-1]:
            shutil.rmtree(old, ignore_errors=True)


@dataclass
class Writer:
    """A run's hold on ``out``: the lock, the partial directory, and how to commit."""

    out: Path
    lock: RunLock
    replace: bool = False
    """``out`` holds a run that the commit replaces (``--overwrite``)."""
    created: bool = False
    """The partial directory was made by this writer (so it may be removed if nothing
    ran)."""
    committed: bool = field(default=False, init=False)

    @property
    def partial(self) -> Path:
        """The directory the run works in: ``<out>.partial``."""
        return partial_path(self.out)

    def old_run_id(self) -> str | None:
        """The run id of the run at ``out`` that the commit replaces, if any."""
        if not self.replace:
            return None
        from scslab.results import read_summary

        try:
            return read_summary(self.out).get("run_id")
        except RunDirError:
            return None

    def commit(self) -> None:
        """Move the partial directory into place (replacing a run if ``replace``)."""
        out, partial = self.out, self.partial
        state = classify(out)
        if state == "run" and not self.replace:
            raise RunDirError(f"{out} already holds a run; the finished run is kept in "
                              f"{partial}; move it yourself, or resume with --overwrite")
        if state in ("other", "file"):
            raise RunDirError(f"{out} is no longer empty; the finished run is kept in "
                              f"{partial}: move it into place yourself")
        old = None
        if state == "run":
            old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:6]}")
            os.rename(out, old)
        elif state == "empty":
            os.rmdir(out)
        os.rename(partial, out)
        fsync_dir(out.parent)
        self.committed = True
        for leftover in _old_dirs(out):
            shutil.rmtree(leftover, ignore_errors=True)

    def discard(self) -> None:
        """Remove the partial directory (only one this writer made before any day ran)."""
        if self.created and not self.committed:
            shutil.rmtree(self.partial, ignore_errors=True)

    def release(self) -> None:
        """Release the lock on ``out`` (the partial directory stays)."""
        self.lock.release()


def _busy_hint(out: Path) -> str:
    return (f"{partial_path(out)} holds an unfinished run (killed or interrupted): "
            f"continue it with `scslab run --resume {out}`, or start again with --overwrite")


def open_new(out: str | Path, *, overwrite: bool = False) -> Writer:
    """Take ``out`` for a new run: lock it, check it, make ``<out>.partial``.

    Raises RunDirError (exit 2) for a directory in use, one that holds a run (without
    ``overwrite``), a non-empty directory that is not a run, a file, or an unfinished
    run in ``<out>.partial`` (without ``overwrite``).
    """
    out = normalise(out)
    if classify(out) == "file":
        raise _refuse_file(out)
    lock = RunLock(out).acquire()
    made = False
    try:
        recover(out)
        state = classify(out)
        if state == "file":
            raise _refuse_file(out)
        if state == "other":
            raise RunDirError(f"{out} is a non-empty directory that is not a scslab run; "
                              "choose a new or empty --out (--overwrite replaces only a run)")
        if state == "run" and not overwrite:
            raise RunDirError(f"{out} already holds a run; choose another --out, pass "
                              f"--overwrite to replace it, or `scslab run --resume {out}` "
                              "if it was stopped early")
        partial = partial_path(out)
        if partial.is_dir() and not partial.is_symlink() and not started(partial):
            shutil.rmtree(partial)  # died before it wrote anything: nothing to resume
        if partial.exists() or partial.is_symlink():
            if not overwrite:
                raise RunDirError(_busy_hint(out))
            if partial.is_dir() and not partial.is_symlink():
                shutil.rmtree(partial)
            else:
                partial.unlink()
        partial.mkdir(parents=True)
        made = True
        return Writer(out=out, lock=lock, replace=state == "run", created=True)
    except BaseException:
        if made:
            shutil.rmtree(partial_path(out), ignore_errors=True)
        lock.release()
        raise


def open_resume(out: str | Path) -> tuple[Writer, str]:
    """Take ``out`` to continue a run; returns the writer and what was found.

    - ``partial``: ``<out>.partial`` holds an unfinished run (killed, or interrupted
      while writing its outputs);
    - ``stopped``: ``<out>`` holds a run stopped early (Ctrl-C: committed with
      ``completed: false``; or killed by a scslab older than this protocol); it is
      copied (hard links) into ``<out>.partial`` and replaced when the resumed run
      commits;
    - ``finished``: ``<out>`` holds a finished run: nothing to do.
    """
    out = normalise(out)
    if classify(out) == "file":
        raise _refuse_file(out)
    lock = RunLock(out).acquire()
    try:
        recover(out)
        partial = partial_path(out)
        state = classify(out)
        if partial.is_dir():
            if not started(partial):
                raise RunDirError(f"{partial} has no scenario.yaml: the run died before it "
                                  f"started; start it again with `scslab run SCENARIO --out "
                                  f"{out} --overwrite`")
            return Writer(out=out, lock=lock, replace=state == "run"), "partial"
        if state != "run":
            what = {"absent": "does not exist", "empty": "is an empty directory",
                    "other": "is not a scslab run directory"}.get(state, "is not a run")
            raise RunDirError(f"{out} {what}, and there is no {partial.name} to resume; "
                              "give the --out of a run that was stopped or killed")
        from scslab.results import read_summary

        try:
            summary = read_summary(out)
        except RunDirError:
            summary = {}  # killed before its summary (written by an older scslab)
        if summary.get("completed"):
            return Writer(out=out, lock=lock), "finished"
        _link_copy(out, partial)
        return Writer(out=out, lock=lock, replace=True, created=True), "stopped"
    except BaseException:
        lock.release()
        raise


def _link_copy(src: Path, dst: Path) -> None:
    """Copy a run directory by hard links, falling back to copies across file systems.

    Hard links are safe because files in a run directory are only ever replaced, never
    modified in place.
    """
    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, copy_function=link, symlinks=False)
    os.rename(tmp, dst)

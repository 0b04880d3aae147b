"""Atomic writes: write a temporary file beside the target, fsync, rename."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _file_mode() -> int:
    """The mode an ordinary new file gets (0o666 less the umask); mkstemp uses 0o600."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _file_mode()


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, writer: Callable[[Path], object]) -> None:
    """Call ``writer(tmp_path)``, fsync it, then atomically replace ``path`` with it.

    A reader (or a run resumed after SIGKILL) sees the old file or the new one, never a
    partial one; the temporary file is removed if ``writer`` fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
    tmp_path = Path(tmp)
    try:
        writer(tmp_path)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, _MODE)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (see ``atomic_write``)."""
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: Path, data) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (NumPy values and paths too)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default)
                      + "\n")


def _json_default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def remove_stale_temps(folder: Path) -> list[str]:
    """Remove the temporary files an interrupted ``atomic_write`` left in ``folder``.

    They are named ``.<target>.<random>.tmp``; a process killed between creating one
    and renaming it leaves it behind. Only call this on a folder no other process is
    writing to (a run directory being resumed or finished).
    """
    removed = []
    for p in Path(folder).glob(".*.tmp"):
        if p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


_ENV_ERRNOS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file size limit reached (ulimit -f)",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EISDIR: "is a directory",
    errno.EEXIST: "already exists",
    errno.ENOENT: "no such file or directory",
    errno.ENAMETOOLONG: "file name too long",
    errno.EMFILE: "too many open files",
    errno.ENFILE: "too many open files in the system",
    errno.EIO: "input/output error",
}
_FIXES = {
    errno.ENOSPC: "free some space, or write elsewhere (--out, --db)",
    errno.EDQUOT: "free some space, or write elsewhere (--out, --db)",
    errno.EFBIG: "raise the limit (ulimit -f unlimited), or write smaller outputs",
    errno.EROFS: "write elsewhere (--out, --db)",
    errno.EACCES: "fix the permissions, or write elsewhere (--out, --db)",
    errno.EPERM: "fix the permissions, or write elsewhere (--out, --db)",
    errno.ENOTDIR: "choose a path whose folders are directories",
    errno.EISDIR: "give a file, not a directory",
    errno.EEXIST: "choose another path",
    errno.ENOENT: "check the path",
    errno.ENAMETOOLONG: "choose a shorter path",
    errno.EMFILE: "raise the limit (ulimit -n)",
    errno.ENFILE: "close other programs",
    errno.EIO: "check the disk",
}


def describe_os_error(e: OSError) -> str | None:
    """One line naming the path, what went wrong and the fix; None if ``e`` is a bug.

    Only errors of the user's environment get a line (full disk, file-size limit,
    read-only or missing folder …); other OS errors are bugs and are left to raise.
    """
    code = e.errno or -1
    what = _ENV_ERRNOS.get(code)
    if what is None:
        return None
    path = e.filename if e.filename is not None else None
    where = f"{path}: " if path is not None else ""
    if e.filename2 is not None:
        where = f"{e.filename} → {e.filename2}: "
    return f"{where}{what}; {_FIXES[code]}"

"""Where Numba caches compiled kernels: a folder per version of scslab's source.

Numba invalidates a cached kernel only when the kernel's own file changes, not
when a function it inlines from another module does. Keying the cache folder on
a hash of every source file of the package means a changed stage can never run
with a stale kernel (after an upgrade or while developing).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def configure() -> None:
    """Point Numba's cache at ``~/.cache/scslab/numba/<source hash>`` unless the user chose."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    import numba

    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(here.rglob("*.py")):
        h.update(p.relative_to(here).as_posix().encode())
        h.update(p.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "scslab" / "numba" / h.hexdigest()[:16]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # not writable: Numba falls back to its default locations
    numba.config.CACHE_DIR = str(folder)

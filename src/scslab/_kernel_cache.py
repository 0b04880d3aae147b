"""Where Numba caches compiled kernels: a folder per version of the kernels' source.

Numba invalidates a cached kernel only when the kernel's own file changes, not
when a function it inlines (or a constant it reads) from another module does.
Keying the cache folder on a hash of every module that uses Numba and of every
scslab module those import means a changed stage can never run with a stale
kernel (after an upgrade or while developing), while editing the report, the
dashboard or the CLI does not throw the compiled kernels away.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+(scslab(?:\.\w+)*)[ \t]+import[ \t]+"
                     rb"(\([^)]*\)|[^\n]*)|import[ \t]+(scslab(?:\.\w+)*))", re.M)


def kernel_sources(root: Path) -> list[Path]:
    """The package's modules that use Numba and every scslab module they import, sorted.

    Imports are followed transitively: a kernel inlines functions and reads constants
    from the modules it imports, so those are part of its source.
    """
    text = {p: p.read_bytes() for p in root.rglob("*.py")}
    files = {p for p, t in text.items() if b"numba" in t}
    todo = list(files)
    while todo:
        for m in _IMPORT.finditer(text[todo.pop()]):
            if m.group(3):
                mods = [m.group(3).decode()]
            else:
                base = m.group(1).decode()
                names = re.findall(r"\w+", m.group(2).decode().split("#")[0])
                mods = [base] + [f"{base}.{n}" for n in names if n != "as"]
            for mod in mods:
                rel = Path(*mod.split(".")[1:])
                if not rel.parts:
                    continue
                for cand in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
                    if cand in text and cand not in files:
                        files.add(cand)
                        todo.append(cand)
    return sorted(files)


def configure() -> None:
    """Point Numba's cache at ``~/.cache/scslab/numba/<source hash>`` unless the user chose."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    import numba

    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in kernel_sources(here):
        h.update(p.relative_to(here).as_posix().encode())
        h.update(p.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "scslab" / "numba" / h.hexdigest()[:16]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # not writable: Numba falls back to its default locations
    # numba.config makes its attributes at import time, so its types do not declare them
    numba.config.CACHE_DIR = str(folder)  # type: ignore[attr-defined]

"""``chunk_njit``: how the per-chunk bodies of the parallel kernels are compiled.

A parallel kernel (``@njit(parallel=True)``) whose ``prange`` body inlines every
stage is slow to compile: Numba's parallel passes copy and re-analyse the whole
body, several times. So the kernels' loop bodies are plain functions of one chunk
(``behaviour_chunk``, ``settle_chunk``) that the parallel loop calls; the parallel
compiler then sees a one-line body.

Numba compiles a ``prange`` body as a function of its own, with the NumPy error
model, its array arguments marked as not aliasing one another, and borrowed (not
reference-counted) arrays. ``chunk_njit`` compiles the chunk functions the same
way, so their code is as fast as when it was the loop body:

- ``error_model="numpy"`` (no ``ZeroDivisionError`` checks), as in the loop body;
- ``_nrt=False``: no reference counting. The functions allocate nothing; counting
  references to the arrays they hand their inlined helpers costs atomic operations
  per agent and made the settle pass several times slower;
- ``no_cpython_wrapper=True``: the chunk functions are called only from the parallel
  kernels, so Numba need not build (and optimize) the code that unboxes their
  arguments from Python objects — with grouped arguments (``stages.common``) that
  wrapper was a third of the chunk functions' compile time;
- ``noalias`` on the array arguments (``NoAliasCompiler``), which lets the compiler
  keep values in registers and vectorize without run-time overlap checks. As for
  any Numba kernel, no two array arguments may be views of the same memory (the
  engine passes distinct arrays).
"""

from __future__ import annotations

import functools

from numba import njit
from numba.core.compiler import Compiler


class NoAliasCompiler(Compiler):
    """Numba's default pipeline, with the arrays' data pointers marked ``noalias``.

    The chunk kernels never pass one array twice, so LLVM may assume no aliasing.
    """

    def __init__(self, typingctx, targetctx, library, args, return_type, flags, locals):
        flags = flags.copy()
        flags.noalias = True
        super().__init__(typingctx, targetctx, library, args, return_type, flags, locals)


chunk_njit = functools.partial(njit, cache=True, _nrt=False, error_model="numpy",
                               no_cpython_wrapper=True, pipeline_class=NoAliasCompiler)
"""``@chunk_njit``: compile a per-chunk body as Numba compiles a ``prange`` body."""

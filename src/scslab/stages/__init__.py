"""The stages of one simulated day (DESIGN.md §3), in the order of ``scslab.plan.PLAN``.

behaviour → sensing → scoring → abroad (data flows) → spillover → listing →
sanctions → due process → metrics. Each module holds its per-agent rules as small
Numba functions, its kernels, the drivers the plan calls, and a ``SPEC``
(``common.StageSpec``) that declares it; ``settle`` is the fused per-agent pass.
"""

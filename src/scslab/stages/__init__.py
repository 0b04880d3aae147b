"""The stages of one simulated day, in the order the engine runs them (DESIGN.md §3).

behaviour → sensing → scoring (with spillover penalties) → listing → sanctions →
due process → metrics. Each module holds its per-agent rules as small Numba
functions and one kernel per pass over the population.
"""

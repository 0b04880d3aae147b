"""Small helpers shared by the stage kernels."""

from __future__ import annotations

from numba import njit

from scslab.rng import agent_hash, u_hi


@njit(inline="always", cache=True)
def is_logged(log_key, log_frac, i) -> bool:
    """Whether agent ``i`` is in the event-log sample (a fixed, hash-based sample)."""
    if log_frac >= 1.0:
        return True
    if log_frac <= 0.0:
        return False
    return u_hi(agent_hash(log_key, i, 0)) < log_frac


@njit(inline="always", cache=True)
def knows_rules(aware_key, aware_share, i) -> bool:
    """Whether agent ``i`` knows the rules (a fixed trait drawn once per agent)."""
    return u_hi(agent_hash(aware_key, i, 0)) < aware_share


@njit(inline="always", cache=True)
def emit(c, agent, other, kind, code, sensor, value,
         ev_agent, ev_other, ev_kind, ev_code, ev_sensor, ev_value, ev_count) -> None:
    """Append one event to chunk ``c``'s row (the caller checked the room)."""
    j = ev_count[c]
    ev_agent[c, j] = agent
    ev_other[c, j] = other
    ev_kind[c, j] = kind
    ev_code[c, j] = code
    ev_sensor[c, j] = sensor
    ev_value[c, j] = value
    ev_count[c] = j + 1

"""The Numba kernels of the data flows abroad (``scslab.stages.abroad``).

Resident statuses, home-agent marks and per-chunk counters, and the kernels that
simulate one day of visits, captures and identifications chunk by chunk, then apply
the false matches and links to home agents in chunk order (so results never depend
on the number of threads).
"""

from __future__ import annotations

import math

import numpy as np
from numba import int64, njit, prange, uint64

from scslab.rng import agent_hash, below, u_hi, u_lo

#: Residents per chunk: the unit of parallel work, fixed so results never depend on threads.
CHUNK = 1 << 16

# Resident status bits.
S_OBSERVED = 1  # captured at least once (in the gallery from the next visit)
S_RECORDED = 2  # identified at least once: has a record at the destination
S_POI = 4  # person of interest (in the gallery)
S_TIE = 8  # has a tie at home (in the gallery)
S_NEW_TODAY = 16  # got a record today and has a tie: a link to write (scratch)
S_GALLERY = S_OBSERVED | S_POI | S_TIE

# Home-agent marks.
H_LINKED = 1  # tie of an identified resident abroad
H_MISRECORDED = 2  # has a record from a false match abroad

# Event kinds handed from the parallel kernel to the serial step.
EV_NONE, EV_FALSE, EV_LINK = 0, 1, 2

# Per-chunk counters.
(C_VISITORS, C_CAPTURED, C_IDENTIFIED, C_FALSE, C_REC_NEW, C_POI_NEW, C_TIES_NEW,
 C_EVENTS, C_N) = range(9)




@njit(inline="always", cache=True)
def _u53(h: np.uint64) -> float:
    """Uniform in [0, 1) with 53 random bits."""
    return float(h >> uint64(11)) * 1.1102230246251565e-16


@njit(inline="always", cache=True)
def _static_bits(skey: np.uint64, i: int, poi_share: float, tie_share: float) -> int:
    """Fixed status bits of resident ``i``: person of interest, tie at home."""
    h = agent_hash(skey, i, 0)
    b = 0
    if u_hi(h) < poi_share:
        b |= S_POI
    if u_lo(h) < tie_share:
        b |= S_TIE
    return b


@njit(parallel=True, cache=True)
def init_status(skey, poi_share, tie_share, status):
    """Fill the fixed bits of every simulated resident."""
    n = status.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            status[i] = _static_bits(skey, i, poi_share, tie_share)


@njit(inline="always", cache=True)
def _visit(counts, c, st, h, p_capture, fmr) -> int:
    """Count one visit in row ``c``; return the resident's status after it."""
    counts[c, C_VISITORS] += 1
    if u_hi(h) >= p_capture:
        return st
    counts[c, C_CAPTURED] += 1
    known = (st & S_GALLERY) != 0
    st |= S_OBSERVED
    if u_lo(h) < fmr:
        counts[c, C_FALSE] += 1
        counts[c, C_EVENTS] += 1
    elif known:
        counts[c, C_IDENTIFIED] += 1
        if (st & S_RECORDED) == 0:
            st |= S_RECORDED
            counts[c, C_REC_NEW] += 1
            if st & S_POI:
                counts[c, C_POI_NEW] += 1
            if st & S_TIE:
                counts[c, C_TIES_NEW] += 1
                counts[c, C_EVENTS] += 1
                st |= S_NEW_TODAY
    return st


@njit(cache=True)
def _chunk(c, phase, dense, first, n_ids, p_visit, log_q, vkey, dkey, skey, poi_share,
           tie_share, p_capture, fmr, n_home, status, counts, ev_off, ev_target, ev_kind):
    """One chunk of one flow's day (see :func:`abroad_kernel`)."""
    if phase == 1 and counts[c, C_EVENTS] == 0:
        return
    scratch = np.zeros((1, C_N), np.int64)
    lo = c * CHUNK
    hi = min(n_ids, lo + CHUNK)
    pos = lo - 1
    k = 0
    w = ev_off[c]
    w_end = w + counts[c, C_EVENTS]
    while True:
        if dense and p_visit < 1.0:
            g = math.log1p(-_u53(agent_hash(vkey, c, k))) / log_q
            k += 1
            if g >= hi - pos - 1:
                break
            pos += 1 + int64(g)
        else:
            pos += 1
            if pos >= hi:
                break
        i = first + pos
        h = agent_hash(dkey, i, 0)
        if dense:
            st = int64(status[pos])
        else:
            st = _static_bits(skey, i, poi_share, tie_share)
        if phase == 0:
            st = _visit(counts, c, st, h, p_capture, fmr)
            if dense:
                status[pos] = st
            continue
        if not dense:
            st = _visit(scratch, 0, st, h, p_capture, fmr)
        if u_hi(h) >= p_capture:
            continue
        if u_lo(h) < fmr:
            ev_target[w] = below(agent_hash(dkey, i, 1), n_home)
            ev_kind[w] = EV_FALSE
        elif st & S_NEW_TODAY:
            if dense:
                status[pos] = st & (255 - S_NEW_TODAY)
            ev_target[w] = below(agent_hash(skey, i, 1), n_home)
            ev_kind[w] = EV_LINK
        else:
            continue
        w += 1
        if w >= w_end:
            break


@njit(parallel=True, cache=True)
def abroad_kernel(phase, dense, n_chunks, first, n_ids, p_visit, log_q, vkey, dkey, skey,
                  poi_share, tie_share, p_capture, fmr, n_home, status, counts, ev_off,
                  ev_target, ev_kind):
    """One flow's day, chunk by chunk, in parallel.

    ``dense``: residents ``0..n_ids-1`` with status bytes; visitors drawn by
    geometric skips of probability ``p_visit`` (``log_q = log(1 − p_visit)``).
    Otherwise every id ``first..first+n_ids-1`` visits once (no status).
    Phase 0 counts and updates status; phase 1 replays the same visits and
    writes the chunk's home events (false-match targets, tie links) from
    ``ev_off[c]``, in visitor order. Chunks touch disjoint data: the result
    does not depend on the threads.
    """
    for c in prange(n_chunks):
        # int64(c): the parallel lowering retypes the loop index as uint64, and _chunk must
        # be compiled for one signature only (the serial kernel calls it with an int64)
        _chunk(int64(c), phase, dense, first, n_ids, p_visit, log_q, vkey, dkey, skey, poi_share,
               tie_share, p_capture, fmr, n_home, status, counts, ev_off, ev_target, ev_kind)


@njit(cache=True)
def abroad_kernel_serial(phase, dense, n_chunks, first, n_ids, p_visit, log_q, vkey, dkey,
                         skey, poi_share, tie_share, p_capture, fmr, n_home, status, counts,
                         ev_off, ev_target, ev_kind):
    """:func:`abroad_kernel` on one thread: for small days, where starting threads costs more."""
    for c in range(n_chunks):
        _chunk(c, phase, dense, first, n_ids, p_visit, log_q, vkey, dkey, skey, poi_share,
               tie_share, p_capture, fmr, n_home, status, counts, ev_off, ev_target, ev_kind)


@njit(cache=True)
def apply_home_events(ev_target, ev_kind, n_events, marks, delta_rec, points):
    """Mark home agents (in event order) and add ``points`` per false match.

    Returns (new home agents linked, new home agents misrecorded).
    """
    new_linked = 0
    new_mis = 0
    for j in range(n_events):
        t = ev_target[j]
        if ev_kind[j] == EV_FALSE:
            if (marks[t] & H_MISRECORDED) == 0:
                marks[t] |= H_MISRECORDED
                new_mis += 1
            if points != 0.0:
                delta_rec[t] += points
        elif ev_kind[j] == EV_LINK:
            if (marks[t] & H_LINKED) == 0:
                marks[t] |= H_LINKED
                new_linked += 1
    return new_linked, new_mis

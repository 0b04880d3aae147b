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

from scslab.population import attr_group
from scslab.rng import agent_hash, below, u_hi, u_lo
from scslab.stages.sensing import classify, pick_target
from scslab.state import F_CT_ORDER

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
(C_VISITORS, C_CAPTURED, C_IDENTIFIED, C_FALSE, C_HOME_FALSE, C_REC_NEW, C_POI_NEW,
 C_TIES_NEW, C_EVENTS, C_N) = range(10)




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


#: Most capture channels of a flow (faces, documents, device_ids).
MAX_CH = 3


@njit(inline="always", cache=True)
def _visit(counts, c, st, dkey, i, n_ch, ch_p, ch_fmr, represents) -> int:
    """Count one visit of resident ``i`` in row ``c``; return its status after it.

    Each capture channel ``k`` captures with ``ch_p[k]`` and, once captured, matches
    the wrong person with ``ch_fmr[k]``; a false match lands on a simulated home agent
    with probability ``represents`` (a home event). A visit is captured when some
    channel captures it, identified when some channel matched it correctly and the
    resident is in the gallery.
    """
    counts[c, C_VISITORS] += 1
    captured = False
    right = False
    for k in range(n_ch):
        h = agent_hash(dkey, i, 8 + k)
        if u_hi(h) >= ch_p[k]:
            continue
        captured = True
        if u_lo(h) < ch_fmr[k]:
            counts[c, C_FALSE] += 1
            if u_hi(agent_hash(dkey, i, 16 + k)) < represents:
                counts[c, C_HOME_FALSE] += 1
                counts[c, C_EVENTS] += 1
        else:
            right = True
    if not captured:
        return st
    counts[c, C_CAPTURED] += 1
    known = (st & S_GALLERY) != 0
    st |= S_OBSERVED
    if right and known:
        counts[c, C_IDENTIFIED] += 1
        if (st & S_RECORDED) == 0:
            st |= S_RECORDED
            counts[c, C_REC_NEW] += 1
            if st & S_POI:
                counts[c, C_POI_NEW] += 1
            if st & S_TIE:
                counts[c, C_TIES_NEW] += 1
                # the tie is one of the people the home population stands for: a
                # simulated agent with probability ``represents``
                if u_hi(agent_hash(dkey, i, 24)) < represents:
                    counts[c, C_EVENTS] += 1
                    st |= S_NEW_TODAY
    return st


@njit(cache=True)
def _chunk(c, phase, dense, first, n_ids, p_visit, log_q, vkey, dkey, skey, poi_share,
           tie_share, n_ch, ch_p, ch_fmr, ch_face, represents, n_home, attr, pick,
           status, counts, ev_off, ev_target, ev_kind):
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
        if dense:
            st = int64(status[pos])
        else:
            st = _static_bits(skey, i, poi_share, tie_share)
        if phase == 0:
            st = _visit(counts, c, st, dkey, i, n_ch, ch_p, ch_fmr, represents)
            if dense:
                status[pos] = st
            continue
        if not dense:
            st = _visit(scratch, 0, st, dkey, i, n_ch, ch_p, ch_fmr, represents)
        for ch in range(n_ch):
            h = agent_hash(dkey, i, 8 + ch)
            if u_hi(h) >= ch_p[ch] or u_lo(h) >= ch_fmr[ch]:
                continue
            hr = agent_hash(dkey, i, 16 + ch)
            if u_hi(hr) >= represents:
                continue
            ev_target[w] = home_target(hr, i, ch_face[ch] > 0, n_home, attr, pick)
            ev_kind[w] = EV_FALSE
            w += 1
        if st & S_NEW_TODAY:
            if dense:
                status[pos] = st & (255 - S_NEW_TODAY)
            ev_target[w] = below(agent_hash(skey, i, 1), n_home)
            ev_kind[w] = EV_LINK
            w += 1
        if w >= w_end:
            break


@njit(cache=True)
def home_target(key, i, face, n_home, attr, pick) -> int:
    """The home agent a false match of resident ``i`` lands on, like a home camera's.

    ``pick``: [foreign group index (-1: none), same-group preference, classification
    on (faces only), sex accuracy, age accuracy, female share]. The resident's sex is
    drawn with the female share, its age class is adult (visitors to restaurants and
    offices); a face is classified with the home cameras' accuracies, and the target is
    a look-alike of the classified sex and age, of the foreign group with the
    preference (``sensing.pick_target``). Documents and device identifiers carry no
    look: any home agent, with the same group preference.
    """
    if n_home < 2:
        return 0
    h = agent_hash(key, i, 1)
    sex = 1 if u_hi(h) < pick[5] else 0
    grp = int64(pick[0])
    same = grp >= 0 and u_lo(h) < pick[1]
    use_attrs = face and pick[2] > 0
    want_sex, want_age = classify(agent_hash(key, i, 2), sex, 1, pick[3], pick[4])
    return pick_target(key, n_home, 0, attr, 0, n_home, want_sex, want_age, grp, use_attrs,
                       same)


@njit(parallel=True, cache=True)
def abroad_kernel(phase, dense, n_chunks, first, n_ids, p_visit, log_q, vkey, dkey, skey,
                  poi_share, tie_share, n_ch, ch_p, ch_fmr, ch_face, represents, n_home, attr,
                  pick, status, counts, ev_off, ev_target, ev_kind):
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
               tie_share, n_ch, ch_p, ch_fmr, ch_face, represents, n_home, attr, pick, status,
               counts, ev_off, ev_target, ev_kind)


@njit(cache=True)
def abroad_kernel_serial(phase, dense, n_chunks, first, n_ids, p_visit, log_q, vkey, dkey,
                         skey, poi_share, tie_share, n_ch, ch_p, ch_fmr, ch_face, represents,
                         n_home, attr, pick, status, counts, ev_off, ev_target, ev_kind):
    """:func:`abroad_kernel` on one thread: for small days, where starting threads costs more."""
    for c in range(n_chunks):
        _chunk(c, phase, dense, first, n_ids, p_visit, log_q, vkey, dkey, skey, poi_share,
               tie_share, n_ch, ch_p, ch_fmr, ch_face, represents, n_home, attr, pick, status,
               counts, ev_off, ev_target, ev_kind)


@njit(cache=True)
def apply_home_events(ev_target, ev_kind, n_events, marks, delta_rec, flags, region, attr,
                      points, fixed, use_fixed, court, review_p, rkey, out):
    """Mark home agents (in event order) and record each false match at home.

    A false match is an act recorded on the target's recorded ledger only (the twin
    and own-conduct ledgers have no identity errors): ``points[region]`` of the
    ``records_as`` behaviour (or ``fixed`` when ``use_fixed``), a court order when
    that behaviour is the court trigger (``court``), unless evidence review reverses it
    (probability ``review_p``, like a home false match). ``out`` (int64, 3 + groups):
    new linked, new misrecorded, reversed, then misattributed per target group.
    """
    for j in range(n_events):
        t = ev_target[j]
        if ev_kind[j] == EV_FALSE:
            if (marks[t] & H_MISRECORDED) == 0:
                marks[t] |= H_MISRECORDED
                out[1] += 1
            if review_p > 0.0 and u_hi(agent_hash(rkey, j, 0)) < review_p:
                out[2] += 1
                continue
            delta_rec[t] += fixed if use_fixed else points[region[t]]
            if court:
                flags[t] |= F_CT_ORDER
            out[3 + attr_group(attr[t])] += 1
        elif ev_kind[j] == EV_LINK:
            if (marks[t] & H_LINKED) == 0:
                marks[t] |= H_LINKED
                out[0] += 1

"""The synthetic population: a structure of arrays built from the scenario.

Agents are numbered 0..N-1. Regions are contiguous id ranges, households are
contiguous id ranges inside a region (children live with adults: a household's
first member is an adult or elderly person), social ties are a symmetric CSR
graph (mostly within the region), and employers are businesses of log-normal
size inside the region, each with a legal representative (its first employee).
Every draw is counter-based (``rng``), so the build is reproducible and does
not depend on the number of threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
from numba import njit, prange

from scslab.rng import agent_hash, below, stream_key, u_hi, u_lo
from scslab.scenario.schema import Scenario

AGE_CHILD, AGE_ADULT, AGE_ELDERLY = 0, 1, 2
AGE_CLASSES = ("child", "adult", "elderly")

#: The random streams the population build draws from (keyed by the seed only).
#: ``vehicles``: whose name each agent's vehicle is registered in (drawn on the fly).
STREAMS = ("population", "ties", "businesses", "vehicles")


def pack_attr(sex, age, group):
    """One attribute byte: sex in bit 0, age class in bits 1-2, group in bits 3-7."""
    return (sex & 1) | ((age & 3) << 1) | ((group & 31) << 3)


@njit(inline="always", cache=True)
def attr_sex(a) -> int:
    """Sex bit of a packed attribute byte (see ``pack_attr``)."""
    return a & 1


@njit(inline="always", cache=True)
def attr_age(a) -> int:
    """Age class (0 child, 1 adult, 2 elderly) of a packed attribute byte."""
    return (a >> 1) & 3


@njit(inline="always", cache=True)
def attr_group(a) -> int:
    """Group index of a packed attribute byte."""
    return a >> 3


@dataclass
class World:
    """Fixed attributes of the population (they do not change during a run)."""

    n: int
    attr: np.ndarray = field(
        metadata={"doc": "uint8: sex bit 0, age class bits 1-2, group bits 3-7"})
    region: np.ndarray = field(metadata={"doc": "uint8"})
    hh_off: np.ndarray = field(metadata={"doc": "uint8: position in household"})
    hh_size: np.ndarray = field(metadata={"doc": "uint8"})
    employer: np.ndarray = field(metadata={"doc": "int32, -1 when not employed"})
    disposition: np.ndarray = field(metadata={"doc": "float32, log-normal, mean of log 0"})
    tie_ptr: np.ndarray = field(
        metadata={"doc": "int64 CSR offsets (length n+1, or 1 when no ties)"})
    tie_idx: np.ndarray = field(metadata={"doc": "uint32 CSR neighbours"})
    region_start: np.ndarray = field(metadata={"doc": "int64, per region (first id), length R+1"})
    biz_rep: np.ndarray = field(
        metadata={"doc": "int64, legal representative of each business (-1 none)"})
    biz_size: np.ndarray = field(metadata={"doc": "int32 employees per business"})
    n_groups: int
    n_regions: int
    strata_start: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64), metadata={
        "doc": "int64, first id of each (region, group) stratum, region-major, length R*G+1"})
    group_weight: np.ndarray = field(default_factory=lambda: np.ones(1), metadata={
        "doc": "float64 design weight of each group (all ones without oversampling)"})
    group_members: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32), metadata={
        "doc": "int32 agent ids sorted by (group, region, sex, age), then id; empty when no "
               "sensor prefers same-group false matches (see ``group_index``)"})
    group_cells: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64), metadata={
        "doc": "int64 start of each (group, region, sex, age) cell in ``group_members``, "
               "length G·R·6 + 1 (``cell_of``)"})
    vehicle_key: np.uint64 = np.uint64(0)
    """Key of the ``vehicles`` stream: the registered owner of the vehicle each agent drives."""

    def nbytes_group_index(self) -> int:
        """Bytes of the per-group index (read-only, ~4 B per agent when built)."""
        return self.group_members.nbytes + self.group_cells.nbytes

    def nbytes_agents(self) -> int:
        """Bytes of per-agent fixed attributes (ties excluded)."""
        return sum(getattr(self, f.name).nbytes for f in fields(self)
                   if f.name in ("attr", "region", "hh_off", "hh_size", "employer",
                                 "disposition"))

    def nbytes_ties(self) -> int:
        """Bytes of the tie network (CSR offsets and neighbours)."""
        return self.tie_ptr.nbytes + self.tie_idx.nbytes

    @property
    def has_ties(self) -> bool:
        """Whether the population has any ties (none when ``ties.mean_degree`` is 0)."""
        return self.tie_idx.size > 0

    @property
    def n_business(self) -> int:
        """The number of businesses."""
        return int(self.biz_rep.size)

    def household_starts(self) -> np.ndarray:
        """The id of each household's first member (households are contiguous)."""
        return np.flatnonzero(self.hh_off == 0)


# --------------------------------------------------------------------------- kernels


@njit(inline="always", cache=True)
def cell_of(group, region, sex, age, n_regions) -> int:
    """The (group, region, sex, age) cell of the group index.

    Group-major, so that a group's members in a region, and a group's members anywhere, are
    each one contiguous range.
    """
    return ((group * n_regions + region) * 2 + sex) * 3 + age


@njit(cache=True)
def _group_index(attr, region, n_groups, n_regions):
    """Counting sort of the agents by cell (``cell_of``); ids stay in order inside a cell."""
    n_cells = n_groups * n_regions * 6
    cells = np.zeros(n_cells + 1, np.int64)
    for i in range(attr.size):
        a = attr[i]
        cells[cell_of(attr_group(a), region[i], attr_sex(a), attr_age(a), n_regions) + 1] += 1
    for k in range(n_cells):
        cells[k + 1] += cells[k]
    pos = cells[:-1].copy()
    members = np.empty(attr.size, np.int32)
    for i in range(attr.size):
        a = attr[i]
        k = cell_of(attr_group(a), region[i], attr_sex(a), attr_age(a), n_regions)
        members[pos[k]] = i
        pos[k] += 1
    return members, cells


def needs_group_index(sc: Scenario) -> bool:
    """Whether some sensor in use sends false matches to the actor's own group."""
    return any(x.enabled and x.observes and x.same_group_preference > 0
               and x.false_match_rate * max([1.0, *x.group_multipliers.values()]) > 0
               for _, x in sc.sensors.items())


@njit(cache=True)
def _households(n, key, size_cum, sizes, region_bounds, stratum_region, region, hh_off, hh_size):
    """Fill households sequentially; a household never crosses into the next stratum.

    ``region_bounds`` are the strata's first ids (length S+1) and ``stratum_region`` the
    region of each stratum.
    """
    i = 0
    h = 0
    r = 0
    n_regions = region_bounds.size - 1
    while i < n:
        hh = agent_hash(key, h, 0)
        u = u_hi(hh)
        k = 0
        while k < size_cum.size - 1 and u >= size_cum[k]:
            k += 1
        s = sizes[k]
        while r < n_regions - 1 and i >= region_bounds[r + 1]:
            r += 1
        end = region_bounds[r + 1] if r < n_regions - 1 else n
        if i + s > end:
            s = end - i
        for m in range(s):
            region[i + m] = stratum_region[r]
            hh_off[i + m] = m
            hh_size[i + m] = s
        i += s
        h += 1
    return h


@njit(parallel=True, cache=True)
def _attributes(n, key, hh_off, hh_size, group, female_share, p_elderly_first,
                p_child_rest, p_elderly_rest, sigma, attr, disposition):
    for i in prange(n):
        g = group[i]  # the stratum's group (households never cross strata)
        h = agent_hash(key, i, 2)
        sex = 1 if u_hi(h) < female_share else 0
        ua = u_lo(h)
        if hh_off[i] == 0:
            age = 2 if ua < p_elderly_first else 1
        else:
            if ua < p_child_rest:
                age = 0
            elif ua < p_child_rest + p_elderly_rest:
                age = 2
            else:
                age = 1
        attr[i] = (sex & 1) | ((age & 3) << 1) | ((g & 31) << 3)
        h2 = agent_hash(key, i, 3)
        u1 = max(u_hi(h2), 1e-12)
        u2 = u_lo(h2)
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        disposition[i] = math.exp(sigma * z)


@njit(cache=True)
def _employers(n, key, attr, region, employed_share, biz_region_start, biz_cum, employer):
    for i in range(n):
        employer[i] = -1
        if attr_age(attr[i]) != 1:
            continue
        h = agent_hash(key, i, 4)
        if u_hi(h) >= employed_share:
            continue
        r = region[i]
        b0 = biz_region_start[r]
        b1 = biz_region_start[r + 1]
        if b1 <= b0:
            continue
        lo_w = biz_cum[b0 - 1] if b0 > 0 else 0.0
        hi_w = biz_cum[b1 - 1]
        target = lo_w + u_lo(h) * (hi_w - lo_w)
        lo, hi = b0, b1 - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if biz_cum[mid] <= target:
                lo = mid + 1
            else:
                hi = mid
        employer[i] = lo


@njit(cache=True)
def _representatives(employer, n_biz):
    rep = np.full(n_biz, -1, np.int64)
    size = np.zeros(n_biz, np.int32)
    for i in range(employer.size):
        b = employer[i]
        if b >= 0:
            if rep[b] < 0:
                rep[b] = i
            size[b] += 1
    return rep, size


@njit(inline="always", cache=True)
def _stubs(key, i, half_mean, dispersion):
    h = agent_hash(key, i, 5)
    g = 1.0 - dispersion + dispersion * (-math.log(max(u_hi(h), 1e-12)))
    x = half_mean * g
    s = int(x)
    if u_lo(h) < x - s:
        s += 1
    return s


@njit(inline="always", cache=True)
def _tie_target(key, i, j, n, region, region_start, within):
    h = agent_hash(key, i, 100 + j)
    if u_lo(h) < within:
        r = region[i]
        a = region_start[r]
        m = region_start[r + 1] - a
        v = a + below(h, m)
    else:
        v = below(h, n)
    return v


@njit(cache=True)
def _ties(n, key, half_mean, dispersion, within, region, region_start):
    deg = np.zeros(n + 1, np.int64)
    for i in range(n):
        s = _stubs(key, i, half_mean, dispersion)
        for j in range(s):
            v = _tie_target(key, i, j, n, region, region_start, within)
            if v != i:
                deg[i + 1] += 1
                deg[v + 1] += 1
    for i in range(n):
        deg[i + 1] += deg[i]
    idx = np.empty(deg[n], np.uint32)
    pos = deg[:-1].copy()
    for i in range(n):
        s = _stubs(key, i, half_mean, dispersion)
        for j in range(s):
            v = _tie_target(key, i, j, n, region, region_start, within)
            if v != i:
                idx[pos[i]] = v
                pos[i] += 1
                idx[pos[v]] = i
                pos[v] += 1
    return deg, idx


# --------------------------------------------------------------------------- build


def _cum(shares) -> np.ndarray:
    c = np.cumsum(np.asarray(shares, dtype=np.float64))
    c /= c[-1]
    c[-1] = 1.0 + 1e-12
    return c


def group_design(pop) -> tuple[np.ndarray, np.ndarray]:
    """Design weight and sampling share of each group under ``pop.oversample``.

    A group with factor f is sampled with share s*f / sum(s*f) instead of its true share s,
    and each of its agents carries the weight s / sampling share = sum(s*f) / f: the weights
    of the expected sample add up to ``agents``, and they are all exactly 1 without
    oversampling (docs/weights.md).
    """
    s = np.array([g.share for g in pop.groups], dtype=np.float64)
    s = s / s.sum()
    f = np.array([float(pop.oversample.get(g.name, 1.0)) for g in pop.groups])
    sampling = s * f / float((s * f).sum())
    if not pop.oversample:
        return np.ones(s.size), s
    return float((s * f).sum()) / f, sampling


def build_world(sc: Scenario) -> World:
    """Build the population described by ``sc.population`` with ``sc.seed``."""
    pop = sc.population
    n = int(pop.agents)
    key = stream_key(sc.seed, "population")

    shares = np.array([r.share for r in pop.regions], dtype=np.float64)
    bounds = np.zeros(len(shares) + 1, dtype=np.int64)
    bounds[1:] = np.round(np.cumsum(shares) / shares.sum() * n).astype(np.int64)
    bounds[-1] = n
    sizes_items = sorted(pop.households.size_shares.items())
    sizes = np.array([s for s, _ in sizes_items], dtype=np.int64)
    size_cum = _cum([w for _, w in sizes_items])

    # Strata: each region is cut into one contiguous block per group, sized by the groups'
    # sampling shares (stratified allocation), so that every chunk of the engine belongs to
    # one region and one group and the daily counts can be attributed and weighted exactly.
    weight, sampling = group_design(pop)
    n_groups = len(pop.groups)
    strata = np.zeros(len(shares) * n_groups + 1, dtype=np.int64)
    cum_g = np.concatenate([[0.0], np.cumsum(sampling)])
    cum_g[-1] = 1.0
    for r in range(len(shares)):
        a, b = int(bounds[r]), int(bounds[r + 1])
        strata[r * n_groups:(r + 1) * n_groups + 1] = a + np.round(cum_g * (b - a)).astype(
            np.int64)
    stratum_region = np.repeat(np.arange(len(shares), dtype=np.int64), n_groups)
    region = np.empty(n, np.uint8)
    hh_off = np.empty(n, np.uint8)
    hh_size = np.empty(n, np.uint8)
    _households(n, key, size_cum, sizes, strata, stratum_region, region, hh_off, hh_size)
    group = np.repeat(np.tile(np.arange(n_groups, dtype=np.uint8), len(shares)),
                      np.diff(strata))
    region_start = np.searchsorted(region, np.arange(len(shares) + 1), side="left").astype(
        np.int64)

    # Age: first member adult/elderly; the others carry the children.
    mean_size = float((sizes * np.diff(np.concatenate([[0.0], size_cum]))).sum())
    child = pop.age.child_share
    eld = pop.age.elderly_share
    rest_frac = max((mean_size - 1.0) / mean_size, 1e-9)
    p_child_rest = min(child / rest_frac, 1.0)
    p_elderly_first = eld / max(1.0 - child, 1e-9)
    p_elderly_rest = (1.0 - p_child_rest) * p_elderly_first
    attr = np.empty(n, np.uint8)
    disposition = np.empty(n, np.float32)
    _attributes(n, key, hh_off, hh_size, group, pop.female_share,
                p_elderly_first, p_child_rest, p_elderly_rest, pop.disposition.sigma, attr,
                disposition)

    # Employers: businesses per region in proportion to employed adults.
    emp = pop.employers
    employer = np.full(n, -1, np.int32)
    biz_rep = np.empty(0, np.int64)
    biz_size = np.empty(0, np.int32)
    expected_workers = (region_start[1:] - region_start[:-1]) * (1 - child - eld) * \
        emp.employed_share
    n_biz_r = np.ceil(expected_workers / emp.mean_size).astype(np.int64)
    if n_biz_r.sum() > 0 and emp.employed_share > 0:
        biz_region_start = np.concatenate([[0], np.cumsum(n_biz_r)]).astype(np.int64)
        nb = int(biz_region_start[-1])
        wkey = stream_key(sc.seed, "businesses")
        u1 = np.maximum(_uniform_vec(wkey, nb, 0), 1e-12)
        u2 = _uniform_vec(wkey, nb, 1)
        z = np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)
        weights = np.exp(emp.size_sigma * z)
        biz_cum = np.cumsum(weights)
        _employers(n, key, attr, region, emp.employed_share, biz_region_start, biz_cum, employer)
        biz_rep, biz_size = _representatives(employer, nb)

    if pop.ties.mean_degree > 0 and n > 1:
        tie_ptr, tie_idx = _ties(n, stream_key(sc.seed, "ties"), pop.ties.mean_degree / 2.0,
                                 pop.ties.dispersion, pop.ties.within_region, region,
                                 region_start)
    else:
        tie_ptr = np.zeros(1, np.int64)
        tie_idx = np.empty(0, np.uint32)

    world = World(n=n, attr=attr, region=region, hh_off=hh_off, hh_size=hh_size,
                  employer=employer, disposition=disposition, tie_ptr=tie_ptr, tie_idx=tie_idx,
                  region_start=region_start, biz_rep=biz_rep, biz_size=biz_size,
                  n_groups=n_groups, n_regions=len(pop.regions), strata_start=strata,
                  group_weight=weight, vehicle_key=stream_key(sc.seed, "vehicles"))
    if needs_group_index(sc):
        world.group_members, world.group_cells = _group_index(attr, region, world.n_groups,
                                                              world.n_regions)
    return world


@njit(parallel=True, cache=True)
def _uniform_vec(key, n, k):
    out = np.empty(n, np.float64)
    for i in prange(n):
        out[i] = u_hi(agent_hash(key, i, k))
    return out

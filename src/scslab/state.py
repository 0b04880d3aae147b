"""Mutable per-agent state: a structure of arrays with narrow dtypes."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
from numba import njit

from scslab.population import World

# Per-agent flag bits (``State.flags``); their meanings are declared in ``BITS``.
F_BL = 1
F_CT = 2
F_RED = 4
F_TBL = 8
F_TCT = 16
F_CT_ORDER = 32
F_TCT_ORDER = 64
F_APPEAL = 128
F_LISTED = F_BL | F_CT
F_TLISTED = F_TBL | F_TCT

# Exposure bits (``State.exposure``), from start-of-day lists.
X_HH, X_TIE, X_EMP, X_REP = 1, 2, 4, 8
X_THH, X_TTIE, X_TEMP, X_TREP = 16, 32, 64, 128

# Business flag bits (``State.b_flags``).
B_LISTED, B_TLISTED = 1, 2

# Own-conduct ledger bits (``State.own_flags``). The own-conduct court list is the twin's
# (court orders are the agent's own acts, and nothing else enters or leaves it), so only the
# blacklist needs a bit of its own.
O_BL = 1


@njit(inline="always", cache=True)
def own_listed(flags, own_flags):
    """Whether the own-conduct ledger lists an agent: its own blacklist or the (twin's) court list.

    Bitwise, so it takes one agent's flag bytes in a kernel or whole arrays in NumPy
    (``own_listed.py_func``).
    """
    return ((own_flags & O_BL) != 0) | ((flags & F_TCT) != 0)


@dataclass(frozen=True)
class Bit:
    """One bit of a packed flag array: where it lives, its constant, what it means."""

    array: str
    name: str
    value: int
    meaning: str


#: Every bit of the packed flag arrays, in bit order per array (the ODD's bit tables).
BITS: tuple[Bit, ...] = (
    Bit("flags", "F_BL", F_BL, "on the blacklist (recorded ledger)"),
    Bit("flags", "F_CT", F_CT, "on the court list (recorded)"),
    Bit("flags", "F_RED", F_RED, "on the redlist (recorded)"),
    Bit("flags", "F_TBL", F_TBL, "blacklist, twin ledger"),
    Bit("flags", "F_TCT", F_TCT, "court list, twin ledger"),
    Bit("flags", "F_CT_ORDER", F_CT_ORDER, "a court order was recorded today (recorded ledger)"),
    Bit("flags", "F_TCT_ORDER", F_TCT_ORDER, "a court order by this agent today (twin ledger)"),
    Bit("flags", "F_APPEAL", F_APPEAL, "an appeal is pending"),
    Bit("exposure", "X_HH", X_HH, "a household member is listed (recorded ledger)"),
    Bit("exposure", "X_TIE", X_TIE, "at least one tie is listed (recorded ledger)"),
    Bit("exposure", "X_EMP", X_EMP, "the agent's employer (a business) is listed (recorded ledger)"),
    Bit("exposure", "X_REP", X_REP,
        "the agent is the legal representative of a listed business (recorded ledger)"),
    Bit("exposure", "X_THH", X_THH, "a household member is listed (twin ledger)"),
    Bit("exposure", "X_TTIE", X_TTIE, "at least one tie is listed (twin ledger)"),
    Bit("exposure", "X_TEMP", X_TEMP, "the agent's employer (a business) is listed (twin ledger)"),
    Bit("exposure", "X_TREP", X_TREP,
        "the agent is the legal representative of a listed business (twin ledger)"),
    Bit("own_flags", "O_BL", O_BL,
        "blacklist, own-conduct ledger (own acts only: no identity errors, no spillover)"),
    Bit("b_flags", "B_LISTED", B_LISTED, "business listed (recorded ledger)"),
    Bit("b_flags", "B_TLISTED", B_TLISTED, "business listed (twin ledger)"),
)


@dataclass
class State:
    """Everything that changes during a run (``World`` holds what does not)."""

    score: np.ndarray = field(metadata={"doc": "float32 recorded score"})
    twin: np.ndarray = field(metadata={"doc": "float32 twin-ledger score (no identity errors)"})
    own: np.ndarray = field(metadata={
        "doc": "float32 own-conduct score: the twin without spillover penalties"})
    delta_rec: np.ndarray = field(
        metadata={"doc": "float32 points recorded today (scratch, zeroed by scoring)"})
    delta_twin: np.ndarray = field(
        metadata={"doc": "float32 points the twin ledger gets today (scratch)"})
    flags: np.ndarray = field(metadata={"doc": "uint8, see F_*"})
    exposure: np.ndarray = field(metadata={"doc": "uint8, see X_*"})
    own_flags: np.ndarray = field(metadata={"doc": "uint8 own-conduct ledger flags, see O_*"})
    bl_since: np.ndarray = field(metadata={"doc": "int16 day of blacklist entry (recorded)"})
    tbl_since: np.ndarray = field(metadata={"doc": "int16 day of blacklist entry (twin)"})
    obl_since: np.ndarray = field(
        metadata={"doc": "int16 day of blacklist entry (own-conduct ledger)"})
    ct_until: np.ndarray = field(
        metadata={"doc": "int16 last day of the court-list term (recorded)"})
    tct_until: np.ndarray = field(metadata={"doc": "int16 (twin)"})
    appeal_day: np.ndarray = field(metadata={"doc": "int16 decision day of a pending appeal"})
    listed_ties: np.ndarray = field(metadata={"doc": "uint16 number of ties on a list (recorded)"})
    listed_ties_twin: np.ndarray = field(metadata={"doc": "uint16 (twin)"})
    b_score: np.ndarray = field(
        metadata={"doc": "float32 business score (recorded), one per business"})
    b_twin: np.ndarray = field(metadata={"doc": "float32 business score (twin)"})
    b_flags: np.ndarray = field(metadata={"doc": "uint8 business flags, see B_*"})

    AGENT_FIELDS = ("score", "twin", "own", "delta_rec", "delta_twin", "flags", "exposure",
                    "own_flags", "bl_since", "tbl_since", "obl_since", "ct_until", "tct_until",
                    "appeal_day", "listed_ties", "listed_ties_twin")

    @classmethod
    def initial(cls, world: World, base: float) -> State:
        """The state on day 0: every score at ``base``, no flags, lists or appeals."""
        n, nb = world.n, world.n_business
        return cls(
            score=np.full(n, base, np.float32), twin=np.full(n, base, np.float32),
            own=np.full(n, base, np.float32), delta_rec=np.zeros(n, np.float32),
            delta_twin=np.zeros(n, np.float32),
            flags=np.zeros(n, np.uint8), exposure=np.zeros(n, np.uint8),
            own_flags=np.zeros(n, np.uint8), bl_since=np.zeros(n, np.int16),
            tbl_since=np.zeros(n, np.int16), obl_since=np.zeros(n, np.int16),
            ct_until=np.zeros(n, np.int16), tct_until=np.zeros(n, np.int16),
            appeal_day=np.zeros(n, np.int16), listed_ties=np.zeros(n, np.uint16),
            listed_ties_twin=np.zeros(n, np.uint16),
            b_score=np.full(nb, base, np.float32), b_twin=np.full(nb, base, np.float32),
            b_flags=np.zeros(nb, np.uint8))

    def nbytes_agents(self) -> int:
        """Bytes of per-agent state (the business arrays excluded)."""
        return sum(getattr(self, f).nbytes for f in self.AGENT_FIELDS)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by field name (what a checkpoint saves)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

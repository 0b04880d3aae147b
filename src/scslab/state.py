"""Mutable per-agent state: a structure of arrays with narrow dtypes."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from scslab.population import World

# Per-agent flag bits (``State.flags``).
F_BL = 1  # on the blacklist (recorded ledger)
F_CT = 2  # on the court list (recorded)
F_RED = 4  # on the redlist (recorded)
F_TBL = 8  # blacklist, twin ledger
F_TCT = 16  # court list, twin ledger
F_CT_ORDER = 32  # a court order was recorded today (recorded ledger)
F_TCT_ORDER = 64  # a court order by this agent today (twin ledger)
F_APPEAL = 128  # an appeal is pending
F_LISTED = F_BL | F_CT
F_TLISTED = F_TBL | F_TCT

# Exposure bits (``State.exposure``), from start-of-day lists.
X_HH, X_TIE, X_EMP, X_REP = 1, 2, 4, 8
X_THH, X_TTIE, X_TEMP, X_TREP = 16, 32, 64, 128

# Business flag bits.
B_LISTED, B_TLISTED = 1, 2


@dataclass
class State:
    """Everything that changes during a run (``World`` holds what does not)."""

    score: np.ndarray  # float32 recorded score
    twin: np.ndarray  # float32 twin-ledger score (no identity errors)
    delta_rec: np.ndarray  # float32 points recorded today (scratch, zeroed by scoring)
    delta_twin: np.ndarray  # float32 points the twin ledger gets today (scratch)
    flags: np.ndarray  # uint8, see F_*
    exposure: np.ndarray  # uint8, see X_*
    bl_since: np.ndarray  # int16 day of blacklist entry (recorded)
    tbl_since: np.ndarray  # int16 day of blacklist entry (twin)
    ct_until: np.ndarray  # int16 last day of the court-list term (recorded)
    tct_until: np.ndarray  # int16 (twin)
    appeal_day: np.ndarray  # int16 decision day of a pending appeal
    listed_ties: np.ndarray  # uint16 number of ties on a list (recorded)
    listed_ties_twin: np.ndarray  # uint16 (twin)
    b_score: np.ndarray  # float32 business score (recorded), one per business
    b_twin: np.ndarray  # float32 business score (twin)
    b_flags: np.ndarray  # uint8 business flags, see B_*

    AGENT_FIELDS = ("score", "twin", "delta_rec", "delta_twin", "flags", "exposure", "bl_since",
                    "tbl_since", "ct_until", "tct_until", "appeal_day", "listed_ties",
                    "listed_ties_twin")

    @classmethod
    def initial(cls, world: World, base: float) -> State:
        """The state on day 0: every score at ``base``, no flags, lists or appeals."""
        n, nb = world.n, world.n_business
        return cls(
            score=np.full(n, base, np.float32), twin=np.full(n, base, np.float32),
            delta_rec=np.zeros(n, np.float32), delta_twin=np.zeros(n, np.float32),
            flags=np.zeros(n, np.uint8), exposure=np.zeros(n, np.uint8),
            bl_since=np.zeros(n, np.int16), tbl_since=np.zeros(n, np.int16),
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

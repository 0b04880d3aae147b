"""The settle pass: after the day's acts are credited, one pass over each
household applies the stages that only touch an agent's own state — spillover
exposure, scoring, listing, sanctions, due process and metrics — by calling the
stages' per-agent functions in order.

``stages`` selects which of them run: the engine runs them all in one fused pass
(each agent's state is read once a day), or one stage per pass to time each stage
separately (``Simulation(profile=True)``). Both give identical results: apart
from household spillover, which reads start-of-day counts taken before any
member is updated, no stage reads another agent's state.
"""

from __future__ import annotations

from numba import njit, prange

from scslab.params import N_HIST, P_HIST_HI, P_HIST_LO, P_SPILL_ON
from scslab.stages import due_process as DP
from scslab.stages import listing as LS
from scslab.stages import sanctions as SA
from scslab.stages import spillover as SP
from scslab.stages.metrics import accumulate
from scslab.stages.scoring import score_agent

ST_EXPOSURE, ST_SCORING, ST_LISTING, ST_SANCTIONS, ST_DUE_PROCESS, ST_METRICS = (
    1, 2, 4, 8, 16, 32)
ST_ALL = 63
PLAN = (("spillover", ST_EXPOSURE), ("scoring", ST_SCORING), ("listing", ST_LISTING),
        ("sanctions", ST_SANCTIONS), ("due_process", ST_DUE_PROCESS), ("metrics", ST_METRICS))
MAX_EVENTS = SP.MAX_EVENTS + LS.MAX_EVENTS + 2 + SA.MAX_EVENTS + DP.MAX_EVENTS + 2


@njit(parallel=True, cache=True)
def settle_kernel(stages, day, key_list, key_sanc, key_due, aware_key, aware_share, log_key,
                  log_frac, prm, sanc_rate, sanc_lists, sanc_who, hh_mask, rep_mask, grade_min,
                  attr, hh_size, employer, biz_rep, score, twin, delta_rec, delta_twin, flags,
                  exposure, bl_since, tbl_since, ct_until, tct_until, appeal_day, listed_ties,
                  listed_ties_twin, b_flags, cnt, off, fsum,
                  pos, ends, ev_agent, ev_other, ev_kind, ev_code, ev_sensor, ev_value,
                  ev_count):
    """Run the selected per-agent stages over every household, chunk by chunk."""
    spill_on = prm[P_SPILL_ON] > 0
    smin = prm[P_HIST_LO]
    smax = prm[P_HIST_HI]
    inv_width = N_HIST / (smax - smin) if smax > smin else 1.0
    cap = ev_agent.shape[1]
    for c in prange(pos.size):
        s = pos[c]
        end = ends[c]
        while s < end:
            size = hh_size[s]
            if ev_count[c] + MAX_EVENTS * size > cap:
                break
            n_rec = 0
            n_twin = 0
            first = -1
            if stages & ST_EXPOSURE:
                n_rec, n_twin, first = SP.household_listed(s, size, flags)
            for i in range(s, s + size):
                if stages & ST_EXPOSURE:
                    SP.update_exposure(c, i, s, size, n_rec, n_twin, first, spill_on, log_key,
                                       log_frac, flags, listed_ties, listed_ties_twin, employer,
                                       biz_rep, b_flags, exposure, cnt, ev_agent, ev_other,
                                       ev_kind, ev_code, ev_sensor, ev_value, ev_count)
                if stages & ST_SCORING:
                    score_agent(c, i, prm, score, twin, delta_rec, delta_twin, exposure, cnt)
                if stages & ST_LISTING:
                    f0 = flags[i]
                    LS.list_agent(c, i, key_list, day, prm, log_key, log_frac, score, twin, flags,
                                  bl_since, tbl_since, ct_until, tct_until, ev_agent, ev_other,
                                  ev_kind, ev_code, ev_sensor, ev_value, ev_count)
                    LS.emit_union(c, i, f0, flags[i], cnt, ev_agent, ev_other, ev_kind,
                                  ev_code, ev_sensor, ev_value, ev_count)
                if stages & ST_SANCTIONS:
                    SA.sanction_agent(c, i, key_sanc, prm, log_key, log_frac, sanc_rate,
                                      sanc_lists, sanc_who, hh_mask, rep_mask, attr, flags,
                                      exposure, cnt, off, ev_agent, ev_other, ev_kind, ev_code,
                                      ev_sensor, ev_value, ev_count)
                if stages & ST_DUE_PROCESS:
                    f0 = flags[i]
                    DP.due_process_agent(c, i, key_due, aware_key, aware_share, day, prm,
                                         log_key, log_frac, score, twin, flags, bl_since,
                                         tbl_since, ct_until, tct_until, appeal_day, cnt,
                                         ev_agent, ev_other, ev_kind, ev_code, ev_sensor,
                                         ev_value, ev_count)
                    LS.emit_union(c, i, f0, flags[i], cnt, ev_agent, ev_other, ev_kind,
                                  ev_code, ev_sensor, ev_value, ev_count)
                if stages & ST_METRICS:
                    accumulate(c, i, smin, inv_width, grade_min, attr, score, twin, flags, cnt, off,
                               fsum)
            s += size
        pos[c] = s

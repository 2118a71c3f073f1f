"""Exposure and the event log: which vacancies a resume sees, and its responses, replies and invites.

Exposure (like search results): resume u gets N_u ~ Poisson(views_per_resume · g_u) views,
g_u ~ Gamma(2, 1/2) its activity; each view is a vacancy of u's role (restricted to u's area
with probability `area_filter`), of a near role, or uniform over the market, with
probabilities share_same_role / share_near_role / rest; repeated pairs are dropped. Then

    P(response | view)     = σ(response_scale · (U − response_offset))
    P(reply | response)    = employer_reply
    P(invite | reply)      = σ(invite_scale · (U − invite_offset))   (otherwise reject)

Views without a response are explicit negatives. Timestamps: vacancies are posted over the
`weeks`-long window, views fall between posting and the window's end, responses follow
views by Exp(6 h), replies follow responses by Exp(2 days), so a time split works.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from dssm import schema

from pipelines.data.synth.config import OTHER_ROLE, SynthConfig
from pipelines.data.synth.profiles import NEAR, Profiles
from pipelines.data.synth.utility import MarketUtility


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _groups(keys: np.ndarray) -> tuple[dict[Any, int], np.ndarray, np.ndarray, np.ndarray]:
    """Stable grouping: key -> group id, order (positions sorted by group), group start, group count."""
    uniq, inv = np.unique(keys.astype(str), return_inverse=True)
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv, minlength=len(uniq))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return {k: i for i, k in enumerate(uniq)}, order, starts, counts


def _pick(rng: np.random.Generator, group: np.ndarray, order: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """For each entry of `group` (ids of non-empty groups) one uniform member position."""
    return order[starts[group] + np.floor(rng.random(len(group)) * counts[group]).astype(np.int64)]


def simulate_views(rng: np.random.Generator, vac: Profiles, res: Profiles, cfg: SynthConfig) -> tuple[np.ndarray, np.ndarray]:
    """(ri, vi) of the distinct shown pairs drawn by the exposure model (module docstring)."""
    nv, nr = len(vac.ids), len(res.ids)
    activity = rng.gamma(2.0, 0.5, size=nr)
    n_views = rng.poisson(cfg.views_per_resume * activity)  # (NR,)
    ri = np.repeat(np.arange(nr), n_views)  # (P,)
    source = rng.choice(3, size=len(ri), p=[cfg.share_same_role, cfg.share_near_role, 1.0 - cfg.share_same_role - cfg.share_near_role])
    vi = rng.integers(0, nv, size=len(ri))  # uniform views; overwritten below for the search-like ones

    role_id, r_order, r_starts, r_counts = _groups(vac.role)
    res_role = np.array([role_id.get(str(r), -1) for r in res.role])
    same = (source == 0) & (res_role[ri] >= 0)
    area_key = np.array([f"{r}\x00{a}" for r, a in zip(vac.role, vac.area)], dtype=object)
    ra_id, ra_order, ra_starts, ra_counts = _groups(area_key)
    res_ra = np.array([ra_id.get(f"{r}\x00{a}", -1) for r, a in zip(res.role, res.area)])
    by_area = same & (rng.random(len(ri)) < cfg.area_filter) & (res_ra[ri] >= 0)
    vi[by_area] = _pick(rng, res_ra[ri[by_area]], ra_order, ra_starts, ra_counts)
    by_role = same & ~by_area
    vi[by_role] = _pick(rng, res_role[ri[by_role]], r_order, r_starts, r_counts)

    near_lists = {k: sorted(role_id[b] for (a, b) in NEAR if a == k and b in role_id) for k in role_id}
    near_lists[OTHER_ROLE] = near_lists.get(OTHER_ROLE, [])
    near_idx = np.flatnonzero(source == 1)
    choices = [near_lists.get(str(res.role[r]), []) for r in ri[near_idx]]
    has = np.fromiter((len(c) > 0 for c in choices), dtype=bool, count=len(choices))
    u = rng.random(len(near_idx))
    target = np.array([c[int(x * len(c))] if c else -1 for c, x in zip(choices, u)], dtype=np.int64)
    sel = near_idx[has]
    vi[sel] = _pick(rng, target[has], r_order, r_starts, r_counts)

    pair = ri.astype(np.int64) * nv + vi
    _, first = np.unique(pair, return_index=True)
    first.sort()
    return ri[first], vi[first]


def simulate_interactions(rng: np.random.Generator, vac: Profiles, res: Profiles, posted: np.ndarray, cfg: SynthConfig,
                          utility: MarketUtility) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Event log (resume_id, vacancy_id, event, ts; sorted by ts) and the shown pairs' utility table."""
    ri, vi = simulate_views(rng, vac, res, cfg)
    u = utility.at(ri, vi)  # (P,)
    p_resp = _sigmoid(cfg.response_scale * (u - cfg.response_offset))
    responded = rng.random(len(u)) < p_resp
    replied = responded & (rng.random(len(u)) < cfg.employer_reply)
    invited = replied & (rng.random(len(u)) < _sigmoid(cfg.invite_scale * (u - cfg.invite_offset)))
    rejected = replied & ~invited

    start = pd.Timestamp(cfg.start).value // 1000  # microseconds
    end = start + int(cfg.weeks) * 7 * 86400 * 10**6
    t0 = np.maximum(posted[vi], start)
    t_view = t0 + (rng.random(len(u)) * (end - t0)).astype(np.int64)
    t_resp = t_view + (rng.exponential(6 * 3600, size=len(u)) * 1e6).astype(np.int64)
    t_reply = t_resp + (rng.exponential(2 * 86400, size=len(u)) * 1e6).astype(np.int64)

    parts = [(np.ones(len(u), bool), "view", t_view), (responded, "response", t_resp), (invited, "invite", t_reply), (rejected, "reject", t_reply)]
    r_ids = np.concatenate([ri[m] for m, _, _ in parts])
    v_ids = np.concatenate([vi[m] for m, _, _ in parts])
    events = np.concatenate([np.full(int(m.sum()), e, dtype=object) for m, e, _ in parts])
    ts = np.concatenate([t[m] for m, _, t in parts])
    order = np.lexsort((np.concatenate([np.full(int(m.sum()), k) for k, (m, _, _) in enumerate(parts)]), ts))
    log = pd.DataFrame(
        {
            schema.RESUME_ID: res.ids[r_ids[order]].astype(str),
            schema.VACANCY_ID: vac.ids[v_ids[order]].astype(str),
            schema.EVENT: events[order].astype(str),
            schema.TS: pd.to_datetime(ts[order], unit="us"),
        }
    )
    n_unshown = int(round(cfg.unshown_pairs * len(u)))
    ur = rng.integers(0, len(res.ids), size=n_unshown)
    uv = rng.integers(0, len(vac.ids), size=n_unshown)
    shown_keys = set((ri.astype(np.int64) * len(vac.ids) + vi).tolist())
    keep = np.fromiter((int(a) * len(vac.ids) + int(b) not in shown_keys for a, b in zip(ur, uv)), dtype=bool, count=n_unshown)
    ur, uv = ur[keep], uv[keep]
    _, first = np.unique(ur.astype(np.int64) * len(vac.ids) + uv, return_index=True)
    ur, uv = ur[np.sort(first)], uv[np.sort(first)]
    all_r, all_v = np.concatenate([ri, ur]), np.concatenate([vi, uv])
    comp = utility.components(all_r, all_v)
    util = pd.DataFrame(
        {
            schema.RESUME_ID: res.ids[all_r].astype(str),
            schema.VACANCY_ID: vac.ids[all_v].astype(str),
            "utility": np.concatenate([u, utility.at(ur, uv)]),
            "shown": np.concatenate([np.ones(len(ri), bool), np.zeros(len(ur), bool)]),
            "p_response": np.concatenate([p_resp, _sigmoid(cfg.response_scale * (utility.at(ur, uv) - cfg.response_offset))]),
            "same_role": comp["role"].astype(bool),
            "skill_overlap": comp["skill_overlap"],
        }
    )
    return log, util

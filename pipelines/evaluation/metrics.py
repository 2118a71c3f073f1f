"""Offline ranking metrics, AUC/GAUC, bootstrap intervals and exact top-k ranking (numpy, vectorised).

Conventions shared by every ranking metric:

- `ranked` is a (U, K) integer array of item indices, best first; `-1` pads a row that
  has fewer than K allowed items and never counts as a hit.
- `relevant[u]` is the set (or array) of relevant item indices of user u; duplicates are
  ignored. A user with no relevant item gets NaN for recall/nDCG (0/0) and 0 for MRR.
- Items are assumed unique within a row of `ranked` (as every ranker here produces).

>>> ranked = np.array([[3, 1, 2], [0, 4, 5]])
>>> recall_at_k(ranked, [{1, 9}, {5}], 2).tolist()
[0.5, 0.0]
>>> mrr(ranked, [{1, 9}, {5}]).tolist()
[0.5, 0.3333333333333333]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_RANK_CHUNK_CELLS = 8_000_000
"""rank_all scores at most this many (query, item) pairs at a time (about 32 MB of float32)."""


def _hits(ranked: np.ndarray, relevant: Sequence[set | np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(U, K) boolean hit matrix and (U,) number of distinct relevant items per user."""
    ranked = np.asarray(ranked)
    if ranked.ndim != 2:
        raise ValueError(f"ranked must be 2-D (users, k), got shape {ranked.shape}")
    if len(relevant) != len(ranked):
        raise ValueError(f"ranked has {len(ranked)} rows but relevant has {len(relevant)} users")
    rel = [np.unique(np.fromiter(r, dtype=np.int64) if isinstance(r, (set, frozenset)) else np.asarray(r, dtype=np.int64)) for r in relevant]
    n_rel = np.array([len(r) for r in rel], dtype=np.int64)
    ranked = ranked.astype(np.int64)
    n_items = int(max(ranked.max(initial=-1), max((r.max() for r in rel if len(r)), default=-1))) + 1
    rel_codes = np.concatenate([u * n_items + r for u, r in enumerate(rel)]) if n_rel.sum() else np.empty(0, np.int64)  # (sum |rel|,)
    codes = np.arange(len(ranked), dtype=np.int64)[:, None] * n_items + ranked  # (U, K)
    hits = np.isin(codes, rel_codes) & (ranked >= 0)  # (U, K)
    return hits, n_rel


def recall_at_k(ranked: np.ndarray, relevant: Sequence[set | np.ndarray], k: int) -> np.ndarray:
    """Per-user Recall@k = |rel ∩ top-k| / |rel| (NaN for a user with no relevant item)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    hits, n_rel = _hits(ranked, relevant)
    found = hits[:, :k].sum(axis=1).astype(np.float64)  # (U,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, found / np.maximum(n_rel, 1), np.nan)


def ndcg_at_k(ranked: np.ndarray, relevant: Sequence[set | np.ndarray], k: int) -> np.ndarray:
    """Per-user nDCG@k with binary gains: DCG = Σ_{j<k} hit_j / log2(j+2), IDCG = Σ_{j<min(k,|rel|)} 1/log2(j+2)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    hits, n_rel = _hits(ranked, relevant)
    hits = hits[:, :k]
    discount = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))  # (k,)
    dcg = hits @ discount[: hits.shape[1]]  # (U,)
    ideal_cum = np.concatenate([[0.0], np.cumsum(discount)])  # (k+1,)
    idcg = ideal_cum[np.minimum(n_rel, k)]  # (U,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, dcg / np.where(idcg > 0, idcg, 1.0), np.nan)


def mrr(ranked: np.ndarray, relevant: Sequence[set | np.ndarray]) -> np.ndarray:
    """Per-user reciprocal rank 1/(j+1) of the first relevant item in the row (0 when none is ranked)."""
    hits, _ = _hits(ranked, relevant)
    any_hit = hits.any(axis=1)
    first = hits.argmax(axis=1)  # (U,) index of the first True (0 when none)
    return np.where(any_hit, 1.0 / (first + 1.0), 0.0)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC = P(score of a random positive > score of a random negative), ties counted 1/2.

    Computed from average ranks (Mann–Whitney U / (n_pos · n_neg)); NaN when either class is absent.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    if len(s) != len(y):
        raise ValueError(f"scores ({len(s)}) and labels ({len(y)}) differ in length")
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata  # imported where used (see `pipelines.evaluation.stats`)

    r = rankdata(s)  # average ranks for ties
    u = r[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def gauc(scores_by_user: Sequence[np.ndarray], labels_by_user: Sequence[np.ndarray]) -> float:
    """Impression-weighted mean of per-user AUC: Σ_u n_u AUC_u / Σ_u n_u over users with both classes.

    n_u is the user's number of impressions (scored items). NaN when no user has both classes.
    """
    if len(scores_by_user) != len(labels_by_user):
        raise ValueError("scores_by_user and labels_by_user differ in length")
    num = den = 0.0
    for s, y in zip(scores_by_user, labels_by_user):
        a = auc(s, y)
        if np.isfinite(a):
            num += len(y) * a
            den += len(y)
    return float(num / den) if den else float("nan")


def rank_all(query_emb: np.ndarray, item_emb: np.ndarray, k: int, exclude: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Exact top-k items per query by dot product, best first; (Q, k) int64, -1 where fewer than k are allowed.

    Queries are scored in blocks of about `_RANK_CHUNK_CELLS` pairs, so 5k × 5k (or larger)
    never materialises a full score matrix at once. `exclude[q]` lists item indices query q
    must not get (e.g. its training positives). Within a row, equal scores are ordered by item index.
    """
    q = np.ascontiguousarray(query_emb, dtype=np.float32)  # (Q, D)
    it = np.ascontiguousarray(item_emb, dtype=np.float32)  # (N, D)
    if q.ndim != 2 or it.ndim != 2 or q.shape[1] != it.shape[1]:
        raise ValueError(f"need (Q, D) and (N, D) embeddings, got {q.shape} and {it.shape}")
    if exclude is not None and len(exclude) != len(q):
        raise ValueError(f"exclude has {len(exclude)} rows for {len(q)} queries")
    n_items = len(it)
    k_eff = min(k, n_items)
    out = np.full((len(q), k), -1, dtype=np.int64)
    if k_eff <= 0 or len(q) == 0:
        return out
    block = max(1, _RANK_CHUNK_CELLS // n_items)
    for start in range(0, len(q), block):
        stop = min(len(q), start + block)
        s = q[start:stop] @ it.T  # (b, N)
        if exclude is not None:
            for row, ex in enumerate(exclude[start:stop]):
                ex = np.asarray(ex, dtype=np.int64)
                if len(ex):
                    s[row, ex] = -np.inf
        if k_eff < n_items:
            cand = np.argpartition(-s, k_eff - 1, axis=1)[:, :k_eff]  # (b, k) unordered
        else:
            cand = np.broadcast_to(np.arange(n_items), s.shape).copy()  # (b, N)
        cand_s = np.take_along_axis(s, cand, axis=1)  # (b, k)
        order = np.lexsort((cand, -cand_s), axis=1)  # score desc, then item index asc
        top = np.take_along_axis(cand, order, axis=1)  # (b, k)
        top_s = np.take_along_axis(cand_s, order, axis=1)  # (b, k)
        out[start:stop, :k_eff] = np.where(np.isneginf(top_s), -1, top)
    return out

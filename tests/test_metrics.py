"""Ranking metrics against brute-force definitions, AUC against sklearn, bootstrap coverage, exact top-k."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from pipelines.evaluation import metrics as M
from pipelines.evaluation import stats as S


def _brute(ranked, relevant, k):
    rec, nd, rr = [], [], []
    for row, rel in zip(ranked, relevant):
        rel = set(int(x) for x in rel)
        top = [int(x) for x in row[:k] if x >= 0]
        rec.append(len(rel & set(top)) / len(rel))
        dcg = sum(1 / math.log2(i + 2) for i, x in enumerate(row[:k]) if x in rel)
        nd.append(dcg / sum(1 / math.log2(i + 2) for i in range(min(k, len(rel)))))
        rr.append(next((1 / (i + 1) for i, x in enumerate(row) if x >= 0 and x in rel), 0.0))
    return np.array(rec), np.array(nd), np.array(rr)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8))
def test_ranking_metrics_match_brute_force(seed, k):
    rng = np.random.default_rng(seed)
    n_items, users = 20, 7
    ranked = np.stack([rng.permutation(n_items)[:10] for _ in range(users)])
    ranked[0, -3:] = -1  # padding never counts
    relevant = [set(rng.choice(n_items, size=rng.integers(1, 6), replace=False).tolist()) for _ in range(users)]
    relevant[1] = np.array(sorted(relevant[1]) * 2)  # arrays with duplicates count once
    rec, nd, rr = _brute(ranked, [set(np.asarray(list(r)).tolist()) for r in relevant], k)
    np.testing.assert_allclose(M.recall_at_k(ranked, relevant, k), rec)
    np.testing.assert_allclose(M.ndcg_at_k(ranked, relevant, k), nd)
    np.testing.assert_allclose(M.mrr(ranked, relevant), rr)


def test_known_answers_and_empty_relevance():
    ranked = np.array([[3, 1, 2], [0, 4, 5], [7, 8, 9]])
    rel = [{1, 9}, {5}, set()]
    np.testing.assert_allclose(M.recall_at_k(ranked, rel, 2), [0.5, 0.0, np.nan])
    np.testing.assert_allclose(M.ndcg_at_k(ranked, rel, 3)[:2], [(1 / math.log2(3)) / (1 + 1 / math.log2(3)), 0.5])
    np.testing.assert_allclose(M.mrr(ranked, rel), [0.5, 1 / 3, 0.0])
    assert M.ndcg_at_k(np.array([[1, 0]]), [{0, 1}], 2)[0] == pytest.approx(1.0)


def test_auc_and_gauc_match_sklearn_with_ties():
    rng = np.random.default_rng(1)
    s = rng.integers(0, 5, 200).astype(float)  # many ties
    y = rng.integers(0, 2, 200)
    assert M.auc(s, y) == pytest.approx(roc_auc_score(y, s))
    assert math.isnan(M.auc([0.1, 0.2], [1, 1]))
    users_s = [s[:50], s[50:60], np.array([0.3, 0.1])]
    users_y = [y[:50], y[50:60], np.array([1, 1])]  # last user has one class: skipped
    a0, a1 = roc_auc_score(users_y[0], users_s[0]), roc_auc_score(users_y[1], users_s[1])
    assert M.gauc(users_s, users_y) == pytest.approx((50 * a0 + 10 * a1) / 60)


def test_bootstrap_ci_covers_and_paired_bootstrap():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 1.0, 400)
    lo, hi = S.bootstrap_ci(x, n_boot=1000, seed=3)
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert lo < x.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert S.bootstrap_ci(x, n_boot=500, seed=3) == S.bootstrap_ci(x, n_boot=500, seed=3)
    a = rng.normal(0.5, 1.0, 300)
    b = a + 0.2 + rng.normal(0, 0.1, 300)  # paired: the per-user noise cancels
    r = S.paired_bootstrap(a, b, n_boot=1000, seed=0)
    assert r["diff"] == pytest.approx(b.mean() - a.mean())
    sd = (b - a).std(ddof=1) / math.sqrt(300)
    assert r["ci_low"] < r["diff"] < r["ci_high"]
    assert r["ci_high"] - r["ci_low"] == pytest.approx(2 * 1.96 * sd, rel=0.15)
    assert abs(r["diff"] - 0.2) < 4 * sd
    assert r["p_value"] < 0.01
    null = S.paired_bootstrap(a, a + rng.normal(0, 0.1, 300), n_boot=1000, seed=0)
    assert null["p_value"] > 0.01
    with pytest.raises(ValueError, match="length"):
        S.paired_bootstrap(a, b[:-1])


def test_rank_all_exact_with_exclusions_and_blocks(monkeypatch):
    rng = np.random.default_rng(0)
    q, it = rng.normal(size=(37, 8)), rng.normal(size=(50, 8))
    monkeypatch.setattr(M, "_RANK_CHUNK_CELLS", 500)  # forces 10 query blocks
    exclude = [rng.choice(50, size=rng.integers(0, 5), replace=False) for _ in range(37)]
    exclude[0] = np.arange(47)  # only 3 allowed: the rest pads with -1
    got = M.rank_all(q, it, 5, exclude=exclude)
    s = (q.astype(np.float32) @ it.astype(np.float32).T).astype(np.float64)
    for u in range(37):
        s[u, exclude[u]] = -np.inf
    want = np.argsort(-s, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(got[1:], want[1:])
    np.testing.assert_array_equal(got[0, :3], want[0, :3])
    assert (got[0, 3:] == -1).all()
    assert M.rank_all(q, it, 60).shape == (37, 60) and (M.rank_all(q, it, 60)[:, 50:] == -1).all()

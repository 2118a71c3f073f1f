"""Baseline sentence scorers with the LR's interface: scores (S,) for `summarizer.summarize.select`.

* lead: score = -position, so `select` keeps exactly the first `budget` tokens.
* random: a seeded permutation.
* TextRank (Mihalcea & Tarau 2004) over sentence vectors: x_i = tf-idf of BPE
  tokens (idf within the document: log(1 + S / df_v)), edge weights the cosine
  similarities w_ij (i != j, no self loops), and PageRank
  p = (1 - d)/S + d * W_norm^T p with d = 0.85, W_norm row-normalised
  (a sentence with no edges spreads uniformly), by power iteration.

>>> lead_scores([[1], [2, 3], []]).tolist()
[0.0, -1.0, -2.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp


def lead_scores(doc: Sequence[Sequence[int]]) -> np.ndarray:
    """-position (S,): earlier sentences first."""
    return 0.0 - np.arange(len(doc), dtype=np.float64)


def random_scores(doc: Sequence[Sequence[int]], seed: int = 0) -> np.ndarray:
    """Uniform random scores (S,), deterministic by seed."""
    return np.random.default_rng(seed).random(len(doc))


def textrank_scores(doc: Sequence[Sequence[int]], vocab_size: int, damping: float = 0.85, iters: int = 50, tol: float = 1e-8) -> np.ndarray:
    """PageRank scores (S,) of sentences on the cosine-similarity graph of their tf-idf BPE vectors."""
    s = len(doc)
    if s == 0:
        return np.zeros(0)
    lengths = np.fromiter((len(x) for x in doc), dtype=np.int64, count=s)
    ids = np.fromiter((t for x in doc for t in x), dtype=np.int64, count=int(lengths.sum()))  # (T,)
    rows = np.repeat(np.arange(s), lengths)  # (T,)
    ids = np.clip(ids, 0, max(int(vocab_size) - 1, 0))
    tf = sp.csr_matrix((np.ones(ids.size), (rows, ids)), shape=(s, int(vocab_size)))  # (S, V) counts
    df = np.asarray((tf > 0).sum(axis=0)).ravel()  # (V,)
    idf = np.log1p(s / np.maximum(df, 1))
    x = tf.multiply(idf).tocsr()  # (S, V)
    norm = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norm[norm == 0] = 1.0
    x = sp.diags(1.0 / norm) @ x
    w = (x @ x.T).toarray()  # (S, S) cosine similarities
    np.fill_diagonal(w, 0.0)
    out = w.sum(axis=1)
    p = np.where(out[:, None] > 0, w / np.where(out > 0, out, 1.0)[:, None], 1.0 / s)  # (S, S) row-stochastic
    r = np.full(s, 1.0 / s)
    for _ in range(iters):
        nxt = (1.0 - damping) / s + damping * (p.T @ r)
        if np.abs(nxt - r).sum() < tol:
            r = nxt
            break
        r = nxt
    return r

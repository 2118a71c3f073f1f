"""Sentence labels from teacher attention: per-sentence mass vs its fair share, binarised by a `LabelRule`.

For a document of T read tokens with attention a_t (sum ~1) and sentence index
s(t): m_s = sum_{t: s(t)=s} a_t, n_s = #{t: s(t)=s}, M = sum_s m_s, and the
ratio r_s = m_s / (M * n_s / T), i.e. the sentence's mean token attention over
the document's mean. r_s = 1 is exactly the share a uniform reader would give.

>>> mass, n = sentence_mass(np.array([0.1, 0.1, 0.6, 0.2]), np.array([0, 0, 1, 2]), 4)
>>> mass.round(2).tolist(), n.tolist()
([0.2, 0.6, 0.2, 0.0], [2, 1, 1, 0])
>>> fair_share_ratio(mass, n).round(2).tolist()
[0.4, 2.4, 0.8, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dssm.errors import JobmatchError
from summarizer.config import LabelRule

LABEL_COLUMNS = ("doc_id", "kind", "sent_idx", "n_tokens", "attention_mass", "share_ratio", "is_summary")
"""Columns of labels.parquet (`share_ratio` = r_s, added to the design's list)."""

__all__ = ["LABEL_COLUMNS", "LabelRule", "binarise", "fair_share_ratio", "label_documents", "sentence_mass"]


def sentence_mass(attn: np.ndarray, sent_idx: np.ndarray, n_sentences: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sentence attention mass m_s (float64 (S,)) and read-token count n_s (int64 (S,)).

    `attn` (T,) and `sent_idx` (T,) come from the teacher; sentences with no read
    tokens (empty, or past the teacher's max_len) get mass 0 and count 0.
    """
    attn = np.asarray(attn, dtype=np.float64)
    sent_idx = np.asarray(sent_idx, dtype=np.int64)
    if attn.shape != sent_idx.shape or attn.ndim != 1:
        raise JobmatchError(f"attention {attn.shape} and sentence index {sent_idx.shape} must be equal 1-d shapes")
    if sent_idx.size and (sent_idx.min() < 0 or sent_idx.max() >= n_sentences):
        raise JobmatchError(f"sentence index out of range [0, {n_sentences}): {int(sent_idx.min())}..{int(sent_idx.max())}")
    mass = np.bincount(sent_idx, weights=attn, minlength=n_sentences)  # (S,)
    count = np.bincount(sent_idx, minlength=n_sentences).astype(np.int64)  # (S,)
    return mass, count


def fair_share_ratio(mass: np.ndarray, n_tokens: np.ndarray) -> np.ndarray:
    """r_s = m_s / (M n_s / T); 0 for sentences without read tokens (and for all when M = 0)."""
    mass, n_tokens = np.asarray(mass, np.float64), np.asarray(n_tokens, np.float64)
    total_mass, total_tokens = mass.sum(), n_tokens.sum()
    out = np.zeros_like(mass)
    ok = n_tokens > 0
    if total_mass > 0 and total_tokens > 0:
        out[ok] = mass[ok] * total_tokens / (total_mass * n_tokens[ok])
    return out


def binarise(ratio: np.ndarray, n_tokens: np.ndarray, rule: LabelRule) -> np.ndarray:
    """is_summary (bool (S,)) from ratios r_s and read-token counts by `rule` (see `LabelRule`)."""
    ratio, n_tokens = np.asarray(ratio, np.float64), np.asarray(n_tokens, np.int64)
    read = n_tokens > 0
    if rule.method == "fair_share":
        return (ratio > rule.threshold * (1 + 1e-9)) & read  # a tolerance so float noise in uniform attention is not "above"
    out = np.zeros(ratio.shape, dtype=bool)
    if not read.any():
        return out
    order = np.lexsort((np.arange(ratio.size), -ratio))  # by descending ratio, ties by position
    order = order[read[order]]
    cum = np.cumsum(n_tokens[order])  # tokens held by the top-k sentences
    k = max(1, int(np.searchsorted(cum, rule.top_share * n_tokens.sum(), side="right")))
    out[order[:k]] = True
    return out


def label_documents(
    doc_ids: Sequence[str],
    kind: str,
    attn: Sequence[np.ndarray],
    sent_idx: Sequence[np.ndarray],
    n_sentences: Sequence[int],
    rule: LabelRule,
) -> pd.DataFrame:
    """One row per (document, sentence): the labels.parquet columns `LABEL_COLUMNS`, in document then sentence order.

    `n_sentences[i]` is the number of sentences of document i (sentence 0 = title),
    so sentences the teacher never read still get a row (n_tokens 0, never summary).
    """
    if not len(doc_ids) == len(attn) == len(sent_idx) == len(n_sentences):
        raise JobmatchError(f"{kind}: {len(doc_ids)} ids, {len(attn)} attention arrays, {len(sent_idx)} index arrays, {len(n_sentences)} sentence counts")
    cols: dict[str, list[np.ndarray]] = {c: [] for c in LABEL_COLUMNS if c not in ("doc_id", "kind")}
    ids: list[np.ndarray] = []
    for doc_id, a, s, n in zip(doc_ids, attn, sent_idx, n_sentences):
        mass, count = sentence_mass(a, s, int(n))
        ratio = fair_share_ratio(mass, count)
        cols["sent_idx"].append(np.arange(int(n), dtype=np.int64))
        cols["n_tokens"].append(count)
        cols["attention_mass"].append(mass)
        cols["share_ratio"].append(ratio)
        cols["is_summary"].append(binarise(ratio, count, rule))
        ids.append(np.full(int(n), str(doc_id), dtype=object))
    data = {c: (np.concatenate(v) if v else np.zeros(0)) for c, v in cols.items()}
    out = pd.DataFrame({"doc_id": pd.array(np.concatenate(ids) if ids else [], dtype="str"), "kind": kind, **data})
    return out.astype({"sent_idx": "int64", "n_tokens": "int64", "attention_mass": "float64", "share_ratio": "float64", "is_summary": "bool"})[list(LABEL_COLUMNS)]


INFORMATIVE_SECTIONS = {"vacancies": ("duties", "requirements", "skills"), "resumes": ("experience", "skills")}
"""kind -> ground-truth sections a good summary keeps (the issue's requirements/skills/duties for vacancies)."""


def threshold_table(labels: pd.DataFrame, truth: pd.DataFrame, thresholds: Sequence[float], kind: str = "vacancies") -> pd.DataFrame:
    """Agreement of `share_ratio > threshold` with informative ground-truth sections of `kind`, one row per threshold.

    Over read, non-title sentences: share labelled, precision, recall, F1 and
    accuracy of the label as a predictor of "sentence is informative".
    """
    m = labels[labels["kind"] == kind].merge(truth[["doc_id", "kind", "sent_idx", "section"]], on=["doc_id", "kind", "sent_idx"], how="inner")
    m = m[(m["n_tokens"] > 0) & (m["section"] != "title")]
    if m.empty:
        raise JobmatchError(f"{kind}: labels and truth/sentences.parquet share no sentences (different datasets?)")
    gold = m["section"].isin(list(INFORMATIVE_SECTIONS.get(kind, ()))).to_numpy()
    ratio = m["share_ratio"].to_numpy()
    rows = []
    for th in thresholds:
        pred = ratio > th * (1 + 1e-9)
        tp = int((pred & gold).sum())
        p = tp / pred.sum() if pred.any() else 0.0
        r = tp / gold.sum() if gold.any() else 0.0
        rows.append({"threshold": float(th), "labelled": float(pred.mean()), "precision": p, "recall": r,
                     "f1": 2 * p * r / (p + r) if p + r else 0.0, "accuracy": float((pred == gold).mean())})
    return pd.DataFrame(rows)

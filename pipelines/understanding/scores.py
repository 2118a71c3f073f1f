"""Scores of the understanding models: exact-span entity P / R / F1 and unseen-span recall; section-classification accuracy and macro P / R / F1.

Exact match, the seqeval convention: a predicted span counts only when its type and both
boundaries equal a gold span's. Per type t: P = |pred_t ∩ gold_t| / |pred_t|, R = |pred_t ∩ gold_t| /
|gold_t|, F1 = 2PR / (P + R) (0 when a denominator is 0); micro sums the counts over types.

`paired_f1_difference` gives two systems' micro-F1 difference on the same rows a paired percentile
bootstrap CI (scipy.stats.bootstrap, rows resampled jointly; micro-F1 = 2 TP / (|pred| + |gold|) of the
resampled rows' summed counts); `paired_unseen_recall_difference` does the same for unseen-span recall.

Unseen-span recall: recall on gold spans whose normalised text (`normalise_span`) never occurs
among the training labels. A dictionary of training spans scores 0 there by construction.

>>> gold = [[(0, 2, "ORG"), (3, 4, "LOC")]]
>>> pred = [[(0, 2, "ORG"), (3, 5, "LOC")]]
>>> s = span_scores(gold, pred)
>>> s["micro"]["precision"], s["micro"]["recall"], s["per_type"]["LOC"]["f1"]
(0.5, 0.5, 0.0)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

Span = tuple[int, int, str]


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "support": n_gold}


def span_scores(gold: Sequence[Iterable[Span]], pred: Sequence[Iterable[Span]]) -> dict:
    """gold[i], pred[i]: the spans of row i -> {"micro": {precision, recall, f1, support}, "per_type": {type: ...}}."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold rows but {len(pred)} predicted rows")
    tp, n_pred, n_gold = Counter(), Counter(), Counter()
    for g, p in zip(gold, pred):
        g, p = set(g), set(p)
        for s in g:
            n_gold[s[2]] += 1
        for s in p:
            n_pred[s[2]] += 1
        for s in g & p:
            tp[s[2]] += 1
    types = sorted(set(n_gold) | set(n_pred))
    per_type = {t: _prf(tp[t], n_pred[t], n_gold[t]) for t in types}
    micro = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return {"micro": micro, "per_type": per_type}


_SPACE = re.compile(r"\s+")


def row_counts(gold: Sequence[Iterable[Span]], pred: Sequence[Iterable[Span]]) -> np.ndarray:
    """Per row (true positives, predicted spans, gold spans): int64 (R, 3)."""
    return np.array([(len(set(g) & set(p)), len(set(p)), len(set(g))) for g, p in zip(gold, pred)], dtype=np.int64).reshape(-1, 3)


def paired_ratio_difference(num_a: np.ndarray, den_a: np.ndarray, num_b: np.ndarray, den_b: np.ndarray,
                            n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Σnum_b / Σden_b − Σnum_a / Σden_a over the same rows (a ratio of sums, 0 where a denominator sums to 0), with a paired
    percentile bootstrap 95% CI over rows (scipy.stats.bootstrap, rows resampled jointly; NaN with fewer than 2 rows)."""
    from scipy.stats import bootstrap

    def diff(na, da, nb, db, axis=-1):
        ratio = lambda n, d: np.where(d.sum(axis) > 0, n.sum(axis) / np.maximum(d.sum(axis), 1e-12), 0.0)  # noqa: E731
        return ratio(nb, db) - ratio(na, da)

    cols = tuple(np.asarray(c, dtype=np.float64) for c in (num_a, den_a, num_b, den_b))
    point = float(diff(*cols))
    if len(cols[0]) < 2:
        return {"diff": point, "ci_low": float("nan"), "ci_high": float("nan"), "rows": int(len(cols[0]))}
    res = bootstrap(cols, diff, paired=True, vectorized=True, n_resamples=n_boot, method="percentile", random_state=seed)
    return {"diff": point, "ci_low": float(res.confidence_interval.low), "ci_high": float(res.confidence_interval.high), "rows": int(len(cols[0]))}


def paired_f1_difference(gold: Sequence[Iterable[Span]], pred_a: Sequence[Iterable[Span]], pred_b: Sequence[Iterable[Span]],
                         n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """micro-F1(b) − micro-F1(a) on the same rows (micro-F1 = 2 TP / (|pred| + |gold|) of the summed counts), with a paired
    percentile bootstrap 95% CI over rows."""
    a, b = row_counts(gold, pred_a), row_counts(gold, pred_b)  # (R, 3)
    return paired_ratio_difference(2 * a[:, 0], a[:, 1] + a[:, 2], 2 * b[:, 0], b[:, 1] + b[:, 2], n_boot, seed)


def normalise_span(tokens: Sequence[str]) -> str:
    """A span's text for 'seen in training' checks: tokens joined by one space, casefolded, whitespace runs collapsed.

    >>> normalise_span(["Java", " Script"])
    'java script'
    """
    return _SPACE.sub(" ", " ".join(str(t) for t in tokens)).strip().casefold()


def unseen_row_counts(gold: Sequence[Iterable[Span]], pred: Sequence[Iterable[Span]], tokens: Sequence[Sequence[str]],
                      seen: set[str]) -> np.ndarray:
    """Per row (unseen gold spans predicted exactly, unseen gold spans): int64 (R, 2); unseen = normalised text not in `seen`."""
    out = []
    for g, p, toks in zip(gold, pred, tokens):
        p = set(p)
        unseen = [s for s in set(g) if normalise_span(toks[s[0] : s[1]]) not in seen]
        out.append((sum(s in p for s in unseen), len(unseen)))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def unseen_recall(
    gold: Sequence[Iterable[Span]], pred: Sequence[Iterable[Span]], tokens: Sequence[Sequence[str]], seen: set[str]
) -> dict[str, float]:
    """Recall over gold spans whose normalised text is not in `seen` -> {"recall", "support"} (recall None when there are none)."""
    hit, total = (int(x) for x in unseen_row_counts(gold, pred, tokens, seen).sum(0))
    return {"recall": hit / total if total else None, "support": total}


def paired_unseen_recall_difference(gold: Sequence[Iterable[Span]], pred_a: Sequence[Iterable[Span]], pred_b: Sequence[Iterable[Span]],
                                    tokens: Sequence[Sequence[str]], seen: set[str], n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Unseen-span recall of b minus a's on the same rows, with a paired percentile bootstrap 95% CI over rows."""
    a, b = unseen_row_counts(gold, pred_a, tokens, seen), unseen_row_counts(gold, pred_b, tokens, seen)  # (R, 2)
    return paired_ratio_difference(a[:, 0], a[:, 1], b[:, 0], b[:, 1], n_boot, seed)


def classification_scores(gold: list[str], pred: list[str], classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro P/R/F1, per-class P/R/F1/support and the confusion matrix (rows gold, columns predicted)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=classes, zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(gold, pred, labels=classes, average="macro", zero_division=0)
    return {
        "accuracy": float(accuracy_score(gold, pred)), "macro_precision": float(mp), "macro_recall": float(mr), "macro_f1": float(mf),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])} for i, c in enumerate(classes)},
        "confusion": {"labels": classes, "matrix": confusion_matrix(gold, pred, labels=classes).tolist()},
    }

"""Summary quality against known answers: precision/recall of informative sentences, label AUC, key-skill coverage.

* Sections (synthetic market, `DIR/truth/sentences.parquet`): a sentence is
  informative when its generating section is one of `INFORMATIVE_SECTIONS`.
  Over all documents (micro average, the always-kept title excluded):
  precision = |selected ∩ informative| / |selected|, recall = |selected ∩ informative| / |informative|.
  A cut sentence counts as selected.
* Label AUC: ROC AUC of the summarizer's sentence scores against `is_summary`
  on the given (held-out) documents.
* Key-skill coverage (real hh.ru vacancies): for each vacancy with key skills,
  the share of its skills found (case-insensitive substring) in the model input
  (title + summary); averaged over vacancies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dssm.errors import DataError, JobmatchError
from summarizer.model import Summarizer, training_rows
from summarizer.summarize import select_documents, selection_texts

INFORMATIVE_SECTIONS = {"vacancies": ("duties", "requirements", "skills"), "resumes": ("experience", "skills")}
"""kind -> ground-truth sections a good summary keeps (the issue's requirements/skills/duties for vacancies)."""


def section_precision_recall(doc_ids: Sequence[str], selections: Sequence[Sequence[tuple[int, int]]], truth: pd.DataFrame, kind: str,
                             informative: Sequence[str] | None = None) -> dict[str, float]:
    """Micro precision/recall/F1 of selected sentences vs informative ground-truth sections (title excluded).

    informative: defaults to INFORMATIVE_SECTIONS[kind].
    """
    informative = INFORMATIVE_SECTIONS.get(kind, ()) if informative is None else informative
    need = {"doc_id", "kind", "sent_idx", "section"}
    if missing := sorted(need - set(truth.columns)):
        raise DataError("truth/sentences.parquet", missing[0], "missing column")
    t = truth[(truth["kind"] == kind) & (truth["section"] != "title")]
    inf = t[t["section"].isin(list(informative))]
    truth_sets = inf.groupby(inf["doc_id"].astype("str"))["sent_idx"].apply(lambda s: set(s.astype(int))).to_dict()
    titles = truth[(truth["kind"] == kind) & (truth["section"] == "title")]
    title_sets = titles.groupby(titles["doc_id"].astype("str"))["sent_idx"].apply(lambda s: set(s.astype(int))).to_dict()
    tp = n_sel = n_inf = 0
    for doc_id, kept in zip(map(str, doc_ids), selections):
        sel = {i for i, _ in kept} - title_sets.get(doc_id, set())
        gold = truth_sets.get(doc_id, set())
        tp += len(sel & gold)
        n_sel += len(sel)
        n_inf += len(gold)
    p = tp / n_sel if n_sel else 0.0
    r = tp / n_inf if n_inf else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "selected": n_sel, "informative": n_inf}


def label_auc(summarizer: Summarizer, docs: list[list[list[int]]], doc_ids: Sequence[str], labels: pd.DataFrame, kind: str) -> float:
    """ROC AUC of `summarizer.score` against `is_summary` over the labelled, read sentences of `docs`."""
    from sklearn.metrics import roc_auc_score

    rows, y = training_rows(docs, list(doc_ids), labels, kind)
    if y.all() or not y.any():
        raise JobmatchError(f"{kind}: AUC needs both classes among the held-out labels")
    scores = np.concatenate([summarizer.score(d, kind) for d in docs]) if docs else np.zeros(0)
    return float(roc_auc_score(y, scores[rows]))


def skill_coverage(inputs: Sequence[str], skills: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean share of each document's skills found in its input text (documents without skills skipped)."""
    shares = []
    for text, sk in zip(inputs, skills):
        sk = [s.strip().lower() for s in (list(sk) if sk is not None else []) if isinstance(s, str) and s.strip()]
        if not sk:
            continue
        low = text.lower()
        shares.append(sum(s in low for s in sk) / len(sk))
    return {"coverage": float(np.mean(shares)) if shares else float("nan"), "documents": len(shares)}


def compare_methods(sentences: list[list[str]], docs: list[list[list[int]]], has_title: Sequence[bool], kind: str, methods: Sequence[str],
                    summarizer: Summarizer | None, tokenizer, budget: int = 300, seed: int = 0) -> dict[str, tuple[list[list[tuple[int, int]]], list[str]]]:
    """method -> (selections, model input texts "title + summary" joined by newlines), same documents for all."""
    out = {}
    for m in methods:
        sel = select_documents(docs, has_title, kind, m, summarizer, int(tokenizer.vocab_size), budget, seed)
        texts, _ = selection_texts(sentences, docs, sel, tokenizer)
        out[m] = (sel, ["\n".join(t) for t in texts])
    return out


def holdout_mask(doc_ids: Sequence[str], share: float) -> np.ndarray:
    """Deterministic held-out documents: crc32(doc_id) % 1000 < share * 1000 (stable across runs and machines)."""
    import zlib

    return np.fromiter((zlib.crc32(str(d).encode("utf-8")) % 1000 < share * 1000 for d in doc_ids), dtype=bool, count=len(doc_ids))


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

"""Stage `label`: the teacher reads every document whole; its attention, summed per sentence, labels sentences `is_summary`.

The rule (`summarizer.config.LabelRule`: fair share or top share) is in `summarizer.labels`;
this stage runs the teacher over a dataset and writes labels.parquet atomically. On a
synthetic market (DIR/truth/sentences.parquet present) it also reports how well each
threshold of the ratio agrees with the ground-truth informative sections.

>>> result = label(LabelRule(), "runs/demo/teacher", "runs/demo/market", "runs/demo/labels.parquet")  # doctest: +SKIP
>>> result.kinds["vacancies"]["summary_share"]  # doctest: +SKIP
0.46
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dssm.errors import DataError
from dssm.io import config_to_dict, write_parquet
from dssm.schema import TABLES
from pipelines.artifacts import load_encoder
from pipelines.data.dataset import load_dataset, read_truth_sentences
from summarizer.config import LabelRule

THRESHOLDS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)
"""Ratios whose agreement with the truth sections `label` reports on a synthetic market."""


@dataclass
class LabelResult:
    """What `label` wrote: per kind documents, sentences, read sentences and the summary-worthy share."""

    out: str
    rule: dict[str, Any]
    kinds: dict[str, dict[str, Any]]
    seconds: float
    threshold_vs_truth: dict[str, list[dict[str, float]]] = field(default_factory=dict)


def label(rule: LabelRule, teacher: str | Path, data: str | Path, out: str | Path, batch_size: int = 64) -> LabelResult:
    """Label every sentence of `data` with the `teacher`'s attention under `rule`; write `out` (labels.parquet)."""
    from dssm.text import frame_documents
    from summarizer.labels import label_documents, threshold_table

    ds = load_dataset(data)
    enc = load_encoder(teacher)
    t0, parts, kinds = time.perf_counter(), [], {}
    for kind, df in ds.documents.items():
        if df.empty:
            continue
        _, attn, sent = enc.embed_with_attention(df, kind, batch_size=batch_size)
        n_sent = [len(d) for d in frame_documents(df, kind)]
        lab = label_documents(df[TABLES[kind][3]].astype(str).tolist(), kind, attn, sent, n_sent, rule)
        parts.append(lab)
        read = lab["n_tokens"] > 0
        kinds[kind] = {"documents": len(df), "sentences": int(len(lab)), "read": int(read.sum()), "summary_share": float(lab.loc[read, "is_summary"].mean())}
    if not parts:
        raise DataError(str(data), None, "no documents to label")
    labels = pd.concat(parts, ignore_index=True)
    write_parquet(out, labels)
    result = LabelResult(str(out), config_to_dict(rule), kinds, round(time.perf_counter() - t0, 2))
    truth = read_truth_sentences(data)
    if truth is not None:
        result.threshold_vs_truth = {k: threshold_table(labels, truth, THRESHOLDS, k).to_dict("records") for k in kinds if (truth["kind"] == k).any()}
    return result

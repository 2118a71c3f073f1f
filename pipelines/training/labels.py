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

import numpy as np
import pandas as pd

from dssm.errors import DataError
from dssm.io import check_output, config_to_dict, write_parquet
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
    """Per kind: documents, sentences, read sentences, summary-worthy share, documents longer than the teacher reads."""
    seconds: float
    threshold_vs_truth: dict[str, list[dict[str, float]]] = field(default_factory=dict)


def label(rule: LabelRule, teacher: str | Path, data: str | Path, out: str | Path, batch_size: int = 64, force: bool = False,
          allow_truncation: bool = False, runtime: str = "torch") -> LabelResult:
    """Label every sentence of `data` with the `teacher`'s attention under `rule`; write `out` (labels.parquet).

    A teacher must read each document whole: one whose `max_len` is shorter than the longest
    document is refused (its labels would call every unread sentence not summary-worthy, e.g. a
    300-token production model passed as teacher) unless `allow_truncation`; the result then
    counts the documents that were cut. `runtime="onnx"` runs the teacher on ONNX Runtime (faster on
    long documents; attention equal within `dssm.onnx_export.ONNX_TOLERANCE`).
    """
    from summarizer.labels import label_documents, threshold_table

    check_output(out, [teacher, data], force)
    ds = load_dataset(data)
    enc = load_encoder(teacher, runtime)
    t0, parts, kinds, docs = time.perf_counter(), [], {}, {}
    for kind, df in ds.documents.items():
        if df.empty:
            continue
        docs[kind] = enc.tokenize(df, kind)
        lengths = np.array([sum(len(s) for s in d) for d in docs[kind]])
        max_len = enc.model.tower(kind).cfg.max_len
        cut = lengths > max_len
        if cut.any() and not allow_truncation:
            raise DataError(str(Path(data) / TABLES[kind][0]), None,
                            f"{int(cut.sum())} of {len(df)} {kind} are longer than the {max_len} tokens the teacher {teacher} reads (longest {int(lengths.max())}): "
                            "their tails would be labelled unread; use a long-context teacher or pass --allow-truncation", np.flatnonzero(cut))
        kinds[kind] = {"documents": len(df), "cut_documents": int(cut.sum()), "teacher_max_len": int(max_len)}
    for kind, df in ds.documents.items():
        if df.empty:
            continue
        _, attn, sent = enc.embed_with_attention(df, kind, batch_size=batch_size, docs=docs[kind])
        lab = label_documents(df[TABLES[kind][3]].astype(str).tolist(), kind, attn, sent, [len(d) for d in docs[kind]], rule)
        parts.append(lab)
        read = lab["n_tokens"] > 0
        kinds[kind].update(sentences=int(len(lab)), read=int(read.sum()), summary_share=float(lab.loc[read, "is_summary"].mean()))
    if not parts:
        raise DataError(str(data), None, "no documents to label")
    labels = pd.concat(parts, ignore_index=True)
    write_parquet(out, labels)
    result = LabelResult(str(out), config_to_dict(rule), kinds, round(time.perf_counter() - t0, 2))
    truth = read_truth_sentences(data)
    if truth is not None:
        result.threshold_vs_truth = {k: threshold_table(labels, truth, THRESHOLDS, k).to_dict("records") for k in kinds if (truth["kind"] == k).any()}
    return result

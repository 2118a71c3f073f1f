"""Stages `summarizer train` and `summarize`: the LR summarizer learns the teacher's labels, then cuts every document.

`train_summarizer` fits one logistic regression per document kind on the labelled sentences
of the documents outside a hash-chosen held-out share, reports its AUC against the labels on
the held-out ones, and saves the model with its tokenizer (the budget is `SummarizerConfig.budget`).
`summarize` writes a dataset in the contract whose texts are budgeted extractive summaries,
plus DIR/preprocess.json: method, budget, summarizer and tokenizer hashes and the preprocess id
(`pipelines.artifacts.preprocess_id`), which the models trained on it record.

>>> train_summarizer(SummarizerConfig(), "RUN/labels.parquet", "RUN/market", "RUN/tokenizer", "RUN/summarizer")  # doctest: +SKIP
>>> summarize(SummarizeConfig(), "RUN/market", "RUN/summaries", summarizer_dir="RUN/summarizer")  # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from dssm.errors import DataError, JobmatchError
from dssm.io import atomic_path, check_output, write_json
from dssm.schema import TABLES
from dssm.checks import at_least, check_numbers
from pipelines.artifacts import folder_hash, load_summarizer, load_tokenizer, preprocess_id, read_labels
from pipelines.data.dataset import PREPROCESS_FILE, load_dataset, read_truth_profiles, read_truth_sentences, write_dataset
from pipelines.data.split import holdout_mask
from summarizer.config import SummarizerConfig


def kind_documents(frames: dict[str, pd.DataFrame], tokenizer: Any, kinds: list[str]) -> dict[str, tuple[list[str], list[list[str]], list[list[list[int]]]]]:
    """kind -> (doc ids, sentences per document, BPE ids per sentence) for each kind of `frames`."""
    from dssm.text import frame_documents

    out = {}
    for kind in kinds:
        df = frames[kind]
        sents = frame_documents(df, kind)
        out[kind] = (df[TABLES[kind][3]].astype(str).tolist(), sents, tokenizer.encode_documents(sents))
    return out


@dataclass
class SummarizerTrainResult:
    """What `train_summarizer` wrote: the kinds it learned and each one's AUC vs the labels on held-out documents."""

    out: str
    kinds: dict[str, Any]
    holdout: float
    auc_held_out: dict[str, float | None]
    seconds: float


def train_summarizer(cfg: SummarizerConfig, labels: str | Path, data: str | Path, tokenizer: str | Path, out: str | Path,
                     holdout: float = 0.2, force: bool = False, sections: str | Path | None = None) -> SummarizerTrainResult:
    """Fit the LR summarizer on `labels` (of `data`, tokenised with `tokenizer`), holding out `holdout` of the documents by id hash.
    `sections`: a section classifier folder whose probabilities become sentence features (copied into `out`)."""
    from summarizer.model import Summarizer, label_auc

    check_output(out, [labels, data, tokenizer, sections], force)
    if not 0.0 <= holdout < 1.0:
        raise JobmatchError(f"holdout must be in [0, 1), got {holdout}")
    lab = read_labels(labels)
    tok = load_tokenizer(tokenizer)
    ds = load_dataset(data)
    frames = ds.documents
    kinds = [k for k in ("vacancies", "resumes") if k in set(lab["kind"]) and not frames[k].empty]
    if not kinds:
        raise DataError(str(labels), "kind", "no labelled kind matches a non-empty table of the dataset")
    t0 = time.perf_counter()
    train_docs, train_ids, train_sents, held = {}, {}, {}, {}
    for kind, (ids, sents, docs) in kind_documents(frames, tok, kinds).items():
        mask = holdout_mask(ids, holdout)
        train_docs[kind] = [d for d, m in zip(docs, mask) if not m]
        train_ids[kind] = [i for i, m in zip(ids, mask) if not m]
        train_sents[kind] = [s for s, m in zip(sents, mask) if not m]
        held[kind] = ([i for i, m in zip(ids, mask) if m], [d for d, m in zip(docs, mask) if m], [s for s, m in zip(sents, mask) if m])
    model = Summarizer.fit(train_docs, lab, cfg, doc_ids=train_ids, tokenizer=tok, section_dir=sections, sentences=train_sents)
    aucs: dict[str, float | None] = {}
    for kind, (ids, docs, sents) in held.items():
        if ids:
            try:
                aucs[kind] = label_auc(model, docs, ids, lab, kind, sents)
            except JobmatchError:
                aucs[kind] = None
    model.meta.update({"labels": str(labels), "data": str(data), "holdout": holdout, "auc_held_out": aucs})
    model.save(out, tokenizer_dir=tokenizer)
    return SummarizerTrainResult(str(out), model.meta["kinds"], holdout, aucs, round(time.perf_counter() - t0, 2))


ORACLE = "oracle"
"""The summarize method that reads the market's ground truth (an upper bound, not a summarizer)."""


def oracle_scorer(data: Path, kind: str, df: pd.DataFrame) -> Callable[[list[list[str]]], list[np.ndarray]]:
    """Ground-truth sentence scores for the documents of `df` (rows of `kind` in `data`), by `summarizer.oracle`'s rules:
    informative sections where DATA/truth/sentences.parquet covers the kind, else the hidden profiles' skills."""
    from summarizer.labels import INFORMATIVE_SECTIONS
    from summarizer.oracle import section_scores, skill_scores

    id_col = TABLES[kind][3]
    ids = df[id_col].astype(str).tolist()
    truth = read_truth_sentences(data)
    if truth is not None and (truth["kind"] == kind).any():
        t = truth[(truth["kind"] == kind) & truth["section"].isin(list(INFORMATIVE_SECTIONS[kind]))]
        informative = t.groupby(t["doc_id"].astype(str))["sent_idx"].apply(lambda s: set(s.astype(int))).to_dict()
        return lambda sentences: [section_scores(len(s), informative.get(i, set())) for i, s in zip(ids, sentences)]
    profiles = read_truth_profiles(data, kind)
    if profiles is None:
        raise JobmatchError(f"{data}: no ground truth for the oracle (truth/sentences.parquet or the {kind} profiles); "
                            "the oracle runs on markets written by `jobmatch synth`")
    skills = dict(zip(profiles[id_col].astype(str), profiles["skills"]))
    return lambda sentences: [skill_scores(s, list(skills.get(i, ()))) for i, s in zip(ids, sentences)]


@dataclass
class SummarizeConfig:
    """How `summarize` cuts each document."""

    method: Literal["lr", "lead", "textrank", "random", "oracle"] = "lr"
    """Sentence scorer: the LR summarizer, the first sentences, TextRank, random, or the ground-truth oracle of a
    synthetic market (`summarizer.oracle`: informative sections, or the hidden profile's skills on real texts)."""
    budget: int | None = None
    """Tokens per document, title included; None = the budget saved with the summarizer (300 without one)."""
    seed: int = 0
    """Seed of the random baseline."""

    def __post_init__(self) -> None:
        from summarizer.summarize import METHODS

        check_numbers(self)
        at_least(self, 0, "seed")
        if self.method not in (*METHODS, ORACLE):
            raise ValueError(f"method must be one of {(*METHODS, ORACLE)}, got {self.method!r}")
        if self.budget is not None and int(self.budget) < 1:
            raise ValueError(f"budget must be >= 1, got {self.budget}")


@dataclass
class SummarizeResult:
    """What `summarize` wrote: per kind documents and mean/max summary tokens, and the preprocessing record."""

    out: str
    method: str
    budget: int
    kinds: dict[str, dict[str, float]]
    preprocess: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def summarize(cfg: SummarizeConfig, data: str | Path, out: str | Path, summarizer_dir: str | Path | None = None,
              tokenizer_dir: str | Path | None = None, force: bool = False) -> SummarizeResult:
    """Write `data` with each document's text cut to a budgeted extractive summary into `out` (same contract).

    `out` is never `data` nor inside or around it (the source texts must survive), and an existing
    `out` is replaced, whole and only once the new folder is complete, only with `force`.
    """
    from summarizer.summarize import summarize_frame

    check_output(out, [data, summarizer_dir, tokenizer_dir], force)
    model = load_summarizer(summarizer_dir) if summarizer_dir is not None else None
    if cfg.method == "lr" and model is None:
        raise JobmatchError("method lr needs a summarizer (--summarizer)")
    if tokenizer_dir is not None:
        tok = load_tokenizer(tokenizer_dir)
    elif model is not None:
        tok = model.load_tokenizer()
    else:
        raise JobmatchError("give --tokenizer (or --summarizer, whose tokenizer is used)")
    budget = int(cfg.budget) if cfg.budget is not None else (model.cfg.budget if model is not None else SummarizerConfig().budget)
    ds = load_dataset(data)
    t0, texts, stats = time.perf_counter(), {}, {}
    for kind, df in ds.documents.items():
        if df.empty or (cfg.method == "lr" and kind not in model.kinds):
            texts[kind] = df
            continue
        scorer = oracle_scorer(Path(data), kind, df) if cfg.method == ORACLE else None
        texts[kind] = summarize_frame(df, kind, model, tok, budget, cfg.method, cfg.seed, scorer)
        n = texts[kind]["n_summary_tokens"]
        stats[kind] = {"documents": len(df), "mean_tokens": float(n.mean()), "max_tokens": int(n.max())}
    summ_hash = folder_hash(summarizer_dir) if cfg.method == "lr" else cfg.method
    record = {"method": cfg.method, "budget": budget, "summarizer_dir": str(Path(summarizer_dir).resolve()) if summarizer_dir else None,
              "tokenizer_hash": tok.model_hash, "preprocess_id": preprocess_id(summ_hash, budget, tok.model_hash), "source": str(data)}
    with atomic_path(out) as tmp:
        write_dataset(tmp, texts["vacancies"], texts["resumes"], ds.interactions)
        write_json(tmp / PREPROCESS_FILE, record)
    return SummarizeResult(str(out), cfg.method, budget, stats, record, round(time.perf_counter() - t0, 2))

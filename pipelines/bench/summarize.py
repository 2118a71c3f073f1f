"""`jobmatch bench summarize`: the whole summarize path vs bare sentence splitting on the same real hh.ru vacancies.

Measured in one run over the same documents (best of `repeats`, one process):

* split (baseline): `dssm.text.document_sentences` (HTML -> lines -> razdel), the
  sentence split every summary needs anyway;
* summarize: split + BPE (`Tokenizer.encode_documents`, one batched yttm call)
  + LR sentence scores (`Summarizer.score_batch`) + `select` (title pinned) for a 300-token budget.

Goal: summarize costs at most 2x the bare split (ratio <= 2).

The summarizer: the one given with --summarizer (and its tokenizer), otherwise a
stand-in trained here and labelled as such in the report: a BPE tokenizer on
the documents and an LR on a simple rule, "a sentence is summary-worthy when it
mentions one of the vacancy's key skills" (speed does not depend on the label
source). With the stand-in, the report also gives key-skill coverage of the
300-token model input (title + summary) on held-out vacancies for lead-300,
TextRank-300, random-300 and that LR; since the LR's labels come from key skills
too, its coverage is a supervised reference, not the attention-distilled claim.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dssm.errors import DataError
from dssm.io import write_json
from pipelines.bench.machine import machine, ratio

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "hh_vacancies_ru" / "vacancies.parquet"
GOAL_RATIO = 2.0
"""Goal: the whole summarize path costs at most this many times the bare split."""
QUICK = {"n": 20, "repeats": 1, "vocab_size": 300, "n_train": 120}
"""`bench all --quick`: a smoke test in a few seconds (stand-in trained on the first 120 vacancies)."""
STAGES = {"bpe": "BPE alone (one batched yttm call)", "lr_score": "LR sentence scores alone", "select": "select alone (title pinned)"}
"""Stage names in `stages_docs_per_s` -> their row in the Markdown table."""


def read_vacancies(path: Path, n: int | None = None) -> pd.DataFrame:
    """title, body (HTML where present, else text), skills of the real hh.ru set, first `n` rows by id order."""
    if not Path(path).exists():
        raise DataError(str(path), None, "hh.ru vacancies not found (put ../shared/data beside the checkout or pass --data)")
    df = pd.read_parquet(path, columns=["id", "title", "text", "description_html", "skills"])
    body = df["description_html"].where(df["description_html"].notna() & (df["description_html"].str.len() > 0), df["text"])
    out = pd.DataFrame({"id": df["id"].astype(str), "title": df["title"], "body": body, "skills": df["skills"]})
    out = out[out["body"].notna()].sort_values("id", kind="stable").reset_index(drop=True)
    return out if n is None else out.iloc[:n].reset_index(drop=True)


def skill_labels(docs_text: list[list[str]], skills: list) -> list[np.ndarray]:
    """Stand-in labels: sentence mentions one of its vacancy's key skills (case-insensitive, word-bounded)."""
    out = []
    for sents, sk in zip(docs_text, skills):
        sk = [s.strip().lower() for s in (list(sk) if sk is not None else []) if isinstance(s, str) and s.strip()]
        pat = re.compile("|".join(rf"(?<!\w){re.escape(s)}(?!\w)" for s in sk)) if sk else None
        out.append(np.array([bool(pat and pat.search(s.lower())) for s in sents], dtype=bool))
    return out


def stand_in(df: pd.DataFrame, workdir: Path, vocab_size: int):
    """Tokenizer + LR trained on the skill-mention rule over the non-held-out documents (see module docstring)."""
    from dssm.text import document_sentences
    from dssm.tokenizer import Tokenizer
    from pipelines.data.split import holdout_mask
    from summarizer.config import SummarizerConfig
    from summarizer.model import Summarizer

    sents = [document_sentences(t, b) for t, b in zip(df["title"], df["body"])]
    held = holdout_mask(df["id"].tolist(), 0.2)
    tok = Tokenizer.train([" ".join(s) for s, h in zip(sents, held) if not h], workdir / "tokenizer", vocab_size=vocab_size, max_texts=1500)
    docs = tok.encode_documents(sents)
    lab = skill_labels(sents, df["skills"].tolist())
    ids = df["id"].tolist()
    rows = [{"doc_id": i, "kind": "vacancies", "sent_idx": j, "n_tokens": len(d[j]), "is_summary": bool(y[j])}
            for i, d, y, h in zip(ids, docs, lab, held) if not h for j in range(len(d))]
    labels = pd.DataFrame(rows)
    train = [k for k, h in enumerate(held) if not h]
    model = Summarizer.fit({"vacancies": [docs[k] for k in train]}, labels, SummarizerConfig(), doc_ids={"vacancies": [ids[k] for k in train]}, tokenizer=tok)
    return model, tok, sents, docs, held


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(data: Path = DEFAULT_DATA, summarizer: Path | None = None, n: int = 1000, budget: int = 300, repeats: int = 3, vocab_size: int = 8000,
        n_train: int | None = None) -> dict[str, Any]:
    """The report dict; `n_train` caps the documents the stand-in is trained and its coverage measured on (None = all)."""
    from dssm.text import document_sentences
    from pipelines.evaluation.summaries import compare_methods, skill_coverage
    from summarizer.model import Summarizer
    from summarizer.summarize import select

    all_df = read_vacancies(data)
    report: dict[str, Any] = {"machine": machine(), "cpu_count": os.cpu_count(), "data": str(data), "budget": budget, "goal_ratio": GOAL_RATIO}
    with tempfile.TemporaryDirectory(prefix="bench-summarize-") as tmp:
        if summarizer is not None:
            model = Summarizer.load(summarizer)
            tok = model.load_tokenizer()
            report["summarizer"] = {"source": str(summarizer), "labels": model.meta.get("labels", "unknown")}
        else:
            model, tok, sents, docs, held = stand_in(all_df if n_train is None else all_df.iloc[:n_train], Path(tmp), vocab_size)
            report["summarizer"] = {"source": "STAND-IN trained by this benchmark (not the attention-distilled model)",
                                    "labels": "rule: sentence mentions one of the vacancy's key skills", "meta": model.meta}
            idx = np.flatnonzero(held)
            has_title = [bool(str(all_df["title"].iloc[k]).split()) for k in idx]
            res = compare_methods([sents[k] for k in idx], [docs[k] for k in idx], has_title, "vacancies", ["lead", "textrank", "random", "lr"], model, tok, budget)
            skills = [all_df["skills"].iloc[k] for k in idx]  # idx < n_train: stand_in saw the first rows only
            report["key_skill_coverage_held_out"] = {m: skill_coverage(texts, skills) for m, (_, texts) in res.items()}
            report["key_skill_coverage_note"] = "share of each held-out vacancy's key skills found in title + summary; 'lr' is trained on key-skill labels (supervised reference)"
        df = all_df.iloc[:n]
        titles, bodies = df["title"].tolist(), df["body"].tolist()
        kind = "vacancies" if "vacancies" in model.kinds else model.kinds[0]

        def split():
            return [document_sentences(t, b) for t, b in zip(titles, bodies)]

        def full():
            s = split()
            d = tok.encode_documents(s)
            out = []
            for doc, sc in zip(d, model.score_batch(d, kind, s)):
                if len(doc):
                    sc[0] = np.inf
                out.append(select(sc, [len(x) for x in doc], budget))
            return out

        stage: dict[str, float] = {}
        sents_n = split()
        stage["bpe_s"] = _best(lambda: tok.encode_documents(sents_n), repeats)
        docs_n = tok.encode_documents(sents_n)
        stage["lr_score_s"] = _best(lambda: model.score_batch(docs_n, kind, sents_n), repeats)
        scores_n = model.score_batch(docs_n, kind, sents_n)
        stage["select_s"] = _best(lambda: [select(s, [len(x) for x in d], budget) for s, d in zip(scores_n, docs_n)], repeats)
        t_split = _best(split, repeats)
        t_full = _best(full, repeats)
    report.update({
        "documents": len(df),
        "sentences": int(sum(len(s) for s in sents_n)),
        "tokens": int(sum(len(x) for d in docs_n for x in d)),
        "split_docs_per_s": len(df) / t_split,
        "summarize_docs_per_s": len(df) / t_full,
        "ratio_summarize_over_split": t_full / t_split,
        "stages_docs_per_s": {k[:-2]: len(df) / v for k, v in stage.items()},
        "meets_goal": bool(t_full / t_split <= GOAL_RATIO),
    })
    return report


def run_default(out_dir: Path, quick: bool = False) -> dict[str, Any]:
    """Default run for `jobmatch bench all` (`quick`: `QUICK`); writes out_dir/summarize.json."""
    report = run(**(QUICK if quick else {}))
    write_json(Path(out_dir) / "summarize.json", report)
    return report


def table(report: dict[str, Any]) -> str:
    """Markdown: docs/s of the split baseline, the whole path and each later stage alone; ×split = split docs/s over the row's
    (its time per document over the split's); then key-skill coverage when the stand-in was measured."""
    split = report["split_docs_per_s"]
    rows = [("split: HTML -> lines -> razdel (baseline)", split), ("summarize: split + BPE + LR + select", report["summarize_docs_per_s"]),
            *((STAGES.get(k, k), v) for k, v in report["stages_docs_per_s"].items())]
    lines = [f"{report['documents']} real hh.ru vacancies, {report['sentences']} sentences, {report['tokens']} BPE tokens, budget {report['budget']} tokens; "
             f"summarizer: {report['summarizer']['source']}", "",
             "| path | docs/s | time ×split |", "|---|---|---|",
             *(f"| {name} | {v:.1f} | {ratio(split / v)} |" for name, v in rows)]
    cov = report.get("key_skill_coverage_held_out")
    if cov:
        lines += ["", f"Key-skill coverage of the {report['budget']}-token model input (title + summary), held-out vacancies "
                      "(lr is trained on key-skill labels: a supervised reference):", "",
                  "| method | coverage | documents |", "|---|---|---|",
                  *(f"| {m} | {v['coverage']:.3f} | {v['documents']} |" for m, v in cov.items())]
    return "\n".join(lines)


def reading(report: dict[str, Any]) -> str:
    """The whole path's cost as a ratio to the bare split, against the goal."""
    r = report["split_docs_per_s"] / report["summarize_docs_per_s"]
    return (f"The whole summarize path runs {report['summarize_docs_per_s']:.1f} docs/s vs {report['split_docs_per_s']:.1f} for the razdel split alone: "
            f"{ratio(r)} its time (goal <= {GOAL_RATIO:g}: {'met' if report['meets_goal'] else 'NOT met'}).")



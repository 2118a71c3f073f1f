"""Candidates for a vacancy, evaluated from the vacancy side on held-out interactions (`jobmatch evaluate --candidates`).

Protocol. The candidate pool is the resumes the model never trained on (its `split.json`); a vacancy is
evaluated when at least one of them responded to it or was invited (a positive event). For each such
vacancy v, every pool resume is ranked and Recall@k(v) = |top-k ∩ positives(v)| / |positives(v)|;
the figure is the mean over vacancies, with paired bootstrap CIs of each arm minus popularity.

Arms:
- `model`: the served resume index (`index build --side resumes`): the vacancy is encoded by the
  index's own model (and summarizer) and scored against the stored embeddings of the pool resumes;
- `popularity`: the vacancy side's popularity, the most active job seekers first: a resume's count of
  positive events on *other* vacancies among the held-out interactions (leave-one-vacancy-out, so the
  pair being predicted is never counted), ties by resume id. It knows each seeker's activity, which the
  model does not, so it is a strong floor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dssm import schema
from dssm.errors import JobmatchError
from dssm.io import check_output, versions, write_json
from pipelines.artifacts import read_split
from pipelines.evaluation.stats import paired_bootstrap
from pipelines.retrieval.recommend import lookup_documents


def recall_at(ranked: np.ndarray, relevant: list[np.ndarray], k: int) -> np.ndarray:
    """(V,) Recall@k of each row of `ranked` (V, >=k) against its relevant item indices."""
    return np.array([np.isin(rel, row[:k]).mean() for row, rel in zip(ranked, relevant)], dtype=np.float64)


def evaluate_candidates(data: str | Path, resume_index: str | Path, model_dir: str | Path | None = None, ks: tuple[int, ...] = (10, 100),
                        n_boot: int = 2000, seed: int = 0, out: str | Path | None = None) -> dict[str, Any]:
    """Stage `evaluate candidates`: Recall@k of each vacancy's held-out responders, model vs popularity (module docstring)."""
    from pipelines.data.dataset import load_dataset
    from pipelines.retrieval.service import serving_state

    if out is not None:
        check_output(out, [data, resume_index, model_dir], force=True)  # a report, rewritten freely
    rec = serving_state(resume_index, model_dir, side="resumes").current()
    model = Path(model_dir or rec.index.manifest.get("model_dir", ""))
    held = sorted(set(read_split(model)))
    ds = load_dataset(data)
    if ds.interactions is None or len(ds.interactions) == 0:
        raise JobmatchError(f"{data}: no interactions.parquet; the vacancy-side evaluation needs held-out responses")
    pos_in_index = pd.Index(rec.index.ids).get_indexer(held)
    pool = np.array(held, dtype=object)[pos_in_index >= 0]
    if len(pool) < max(ks):
        raise JobmatchError(f"only {len(pool)} held-out resumes are in the index {resume_index}; need at least {max(ks)} for Recall@{max(ks)}")
    pool_emb = np.asarray(rec.index.emb[pos_in_index[pos_in_index >= 0]], dtype=np.float32)  # (P, D)
    inter = ds.interactions
    positive = inter[inter[schema.EVENT].isin(schema.POSITIVE_EVENTS)]
    pool_idx = pd.Index(pool)
    p_row = pool_idx.get_indexer(positive[schema.RESUME_ID].astype(str))
    pairs = pd.DataFrame({"r": p_row, "v": positive[schema.VACANCY_ID].astype(str).to_numpy()})[p_row >= 0].drop_duplicates()
    if pairs.empty:
        raise JobmatchError(f"{data}: no held-out resume has a positive event; nothing to evaluate from the vacancy side")
    vacancy_ids = np.array(sorted(set(pairs["v"])), dtype=object)
    relevant = [g["r"].to_numpy(np.int64) for _, g in pairs.groupby("v", sort=True)]
    queries = lookup_documents(ds.vacancies, list(vacancy_ids), "vacancies")
    kmax = max(ks)
    q_emb = rec.embed(queries)  # (V, D)
    scores = q_emb @ pool_emb.T  # (V, P)
    ranked = {"model": np.argsort(-scores, axis=1, kind="stable")[:, :kmax]}
    activity = np.bincount(pairs["r"].to_numpy(), minlength=len(pool)).astype(np.float64)  # (P,) positives per pool resume
    pop = np.empty((len(vacancy_ids), kmax), dtype=np.int64)
    for i, rel in enumerate(relevant):
        s = activity.copy()
        s[rel] -= 1  # leave the predicted vacancy out
        pop[i] = np.lexsort((np.arange(len(pool)), -s))[:kmax]
    ranked["popularity"] = pop
    table = {arm: {f"recall@{k}": recall_at(r, relevant, k) for k in ks} for arm, r in ranked.items()}
    result: dict[str, Any] = {
        "protocol": "vacancy side: rank the model's held-out resumes for each vacancy they responded to; Recall@k of its responders",
        "vacancies": int(len(vacancy_ids)), "pool_resumes": int(len(pool)), "positive_pairs": int(len(pairs)),
        "index_version": rec.index.version, "model_hash": rec.index.model_hash,
        "arms": {arm: {m: float(v.mean()) for m, v in vals.items()} for arm, vals in table.items()},
        "vs_popularity": {f"recall@{k}": paired_bootstrap(table["popularity"][f"recall@{k}"], table["model"][f"recall@{k}"], n_boot, seed) for k in ks},
        "versions": versions(),
    }
    if out is not None:
        write_json(out, result)
    return result


def format_candidates(r: dict[str, Any]) -> str:
    lines = [f"candidates for {r['vacancies']} vacancies from {r['pool_resumes']} held-out resumes ({r['positive_pairs']} responder pairs)"]
    for metric, d in r["vs_popularity"].items():
        lines.append(f"  {metric}: model {r['arms']['model'][metric]:.4f}, popularity {r['arms']['popularity'][metric]:.4f}, "
                     f"model - popularity {d['diff']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]")
    return "\n".join(lines)

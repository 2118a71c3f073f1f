"""How right the explanations are, on a synthetic market whose true skills are known.

For `n_pairs` (resume, vacancy) pairs drawn (seeded) from the market's responses and invites, the
truly shared skills are the normalised names (`dssm.understanding.skills.normalise_skill`) both
hidden profiles hold (DATA/truth/{vacancy,resume}_profiles.parquet); the explainer's
`matched_skills` are normalised the same way. Micro-averaged over the pairs:

    precision = |matched ∩ shared| / |matched|      (matched skills that truly are shared)
    recall    = |matched ∩ shared| / |shared|       (truly shared skills that were found)

`vacancy_ids` restricts the draw, e.g. to the vacancies a silver tagger never trained on.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from dssm import schema
from dssm.errors import JobmatchError
from dssm.understanding.skills import normalise_skill


def _norms(skills: Any) -> set[str]:
    return {n for s in (skills if skills is not None else ()) if (n := normalise_skill(s))}


def explanation_check(explainer: Any, data: str | Path, n_pairs: int = 200, seed: int = 0, vacancy_ids: Collection[str] | None = None) -> dict[str, Any]:
    """Precision and recall of `explainer`'s matched skills against the true shared skills (module docstring)."""
    from pipelines.data.dataset import load_dataset, read_truth_profiles

    vac_p, res_p = read_truth_profiles(data, "vacancies"), read_truth_profiles(data, "resumes")
    if vac_p is None or res_p is None:
        raise JobmatchError(f"{data}: no hidden profiles (truth/); the check needs a market written by `jobmatch synth`")
    ds = load_dataset(data)
    pos = ds.interactions[ds.interactions[schema.EVENT].isin(schema.POSITIVE_EVENTS)][[schema.RESUME_ID, schema.VACANCY_ID]].drop_duplicates()
    if vacancy_ids is not None:
        pos = pos[pos[schema.VACANCY_ID].astype(str).isin(set(map(str, vacancy_ids)))]
    if len(pos) == 0:
        raise JobmatchError(f"{data}: no response or invite pairs to check")
    pick = pos.iloc[np.sort(np.random.default_rng(seed).choice(len(pos), size=min(n_pairs, len(pos)), replace=False))]
    vac_true = dict(zip(vac_p[schema.VACANCY_ID].astype(str), map(_norms, vac_p["skills"])))
    res_true = dict(zip(res_p[schema.RESUME_ID].astype(str), map(_norms, res_p["skills"])))
    resumes = ds.resumes.set_index(ds.resumes[schema.RESUME_ID].astype(str))
    rids = pick[schema.RESUME_ID].astype(str).tolist()
    unique = list(dict.fromkeys(rids))
    found = dict(zip(unique, explainer.resume_skills(resumes.loc[unique].reset_index(drop=True))))
    tp = n_matched = n_shared = 0
    for r, v in zip(rids, pick[schema.VACANCY_ID].astype(str)):
        matched = _norms(explainer.explain(found[r], [v])[0]["matched_skills"])
        shared = vac_true.get(v, set()) & res_true.get(r, set())
        tp += len(matched & shared)
        n_matched += len(matched)
        n_shared += len(shared)
    return {"pairs": len(pick), "matched": n_matched, "shared": n_shared, "true_positives": tp,
            "precision": tp / n_matched if n_matched else None, "recall": tp / n_shared if n_shared else None}

"""Pooling evaluations over training seeds: the same held-out resumes, every model trained once per seed.

Each seed's evaluation wrote `per_user.parquet` (resume_id, arm, one column per metric). With the
split seed fixed the seeds hold out the same resumes, so a resume's value under an arm is averaged
over the seeds first; the pooled figure of an arm is the mean of those averages, and its
difference to the control gets a paired bootstrap CI resampling resumes (`stats.paired_bootstrap`,
the draw the single-seed evaluation uses). The seed-to-seed spread is the per-seed list beside it.

>>> frame = lambda c, t: pd.DataFrame({"resume_id": ["r1", "r2"] * 2, "arm": ["control"] * 2 + ["treatment"] * 2, "recall@10": [*c, *t]})
>>> r = pool_seeds({0: frame([0.0, 0.5], [0.5, 0.5]), 1: frame([0.5, 0.5], [0.5, 1.0])}, ["recall@10"], n_boot=200)
>>> r["arms"]["treatment"]["vs_control"]["recall@10"]["diff"], r["arms"]["treatment"]["vs_control"]["recall@10"]["per_seed"]
(0.25, [0.25, 0.25])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dssm import schema
from dssm.errors import JobmatchError
from pipelines.evaluation.evaluate import EvalConfig, gap_recovered
from pipelines.evaluation.stats import bootstrap_ci, paired_bootstrap


def _matrix(frames: Mapping[int, pd.DataFrame], arm: str, metric: str, users: pd.Index) -> np.ndarray:
    """(seeds, users) values of `metric` under `arm`, users in the order of `users`."""
    rows = []
    for seed, f in frames.items():
        part = f[f["arm"] == arm].set_index(schema.RESUME_ID)[metric]
        rows.append(part.reindex(users).to_numpy(np.float64))
    return np.vstack(rows)


def pool_seeds(frames: Mapping[int, pd.DataFrame], metrics: Sequence[str], control: str = "control", treatment: str = "treatment",
               teacher: str = "teacher", n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> dict[str, Any]:
    """Pooled figures of every arm over `frames` (seed -> that seed's per_user.parquet); see the module docstring."""
    if len(frames) < 1:
        raise JobmatchError("pooling needs at least one seed's evaluation")
    user_sets = {s: set(f[schema.RESUME_ID].astype(str)) for s, f in frames.items()}
    first = next(iter(user_sets.values()))
    if any(u != first for u in user_sets.values()):
        sizes = {s: len(u) for s, u in user_sets.items()}
        raise JobmatchError(f"the seeds' evaluations rank different held-out resumes ({sizes}); train every seed with the same split seed")
    users = pd.Index(sorted(first))
    arm_lists = [list(dict.fromkeys(f["arm"])) for f in frames.values()]
    arms = [a for a in arm_lists[0] if all(a in lst for lst in arm_lists)]
    if control not in arms:
        raise JobmatchError(f"no {control!r} arm in every seed's evaluation; arms: {arms}")
    frames = {s: f.assign(**{schema.RESUME_ID: f[schema.RESUME_ID].astype(str)}) for s, f in frames.items()}
    values = {a: {m: _matrix(frames, a, m, users) for m in metrics} for a in arms}
    out: dict[str, Any] = {"seeds": [int(s) for s in frames], "n_users": len(users), "metrics": list(metrics), "arms": {}}
    for a in arms:
        row: dict[str, Any] = {"metrics": {}, "vs_control": {}}
        for m in metrics:
            v = values[a][m].mean(axis=0)
            lo, hi = bootstrap_ci(v, n_boot, seed, alpha)
            row["metrics"][m] = {"mean": float(v.mean()), "ci_low": lo, "ci_high": hi, "per_seed": [float(x) for x in values[a][m].mean(axis=1)]}
            if a != control:
                c = values[control][m]
                r = paired_bootstrap(c.mean(axis=0), v, n_boot=n_boot, seed=seed, alpha=alpha)
                row["vs_control"][m] = {**{k: float(x) for k, x in r.items()}, "per_seed": [float(x) for x in (values[a][m] - c).mean(axis=1)]}
        out["arms"][a] = row
    cfg = EvalConfig(n_boot=n_boot, seed=seed, alpha=alpha, control=control, treatment=treatment, teacher=teacher)
    out["gap_recovered"] = {m: g for m in metrics if (g := gap_recovered({a: values[a][m].mean(axis=0) for a in arms}, cfg)) is not None}
    return out

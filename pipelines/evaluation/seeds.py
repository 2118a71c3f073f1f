"""Pooling evaluations over training seeds: the same held-out resumes, every model trained once per seed.

`pool_reports` pools report folders (`jobmatch evaluate --out`, one per seed): what the demo's `pool` stage and
`jobmatch pool` run.

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
from pathlib import Path
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


def pool_reports(reports: Sequence[str | Path], n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> dict[str, Any]:
    """`pool_seeds` over evaluation report folders (each a seed's `per_user.parquet` + `eval.json`), their control,
    treatment and teacher as the first report names them; -> the pooled figures with the dataset, catalogue size and
    each arm's per-seed GAUC (GAUC is impression-weighted per seed, so it is listed, not pooled per resume)."""
    import json

    from pipelines.evaluation.report import SUMMARY_METRICS

    dirs = [Path(r) for r in reports]
    for d in dirs:
        for name in ("per_user.parquet", "eval.json"):
            if not (d / name).is_file():
                raise JobmatchError(f"{d / name}: not found (pool report folders of `jobmatch evaluate --out`)")
    frames = {i: pd.read_parquet(d / "per_user.parquet") for i, d in enumerate(dirs)}
    evals = [json.loads((d / "eval.json").read_text(encoding="utf-8")) for d in dirs]
    first = evals[0]
    metrics = [m for m in SUMMARY_METRICS if m in frames[0].columns]
    roles = {k: first[k] for k in ("control", "treatment", "teacher") if first.get(k)}
    pooled = pool_seeds(frames, metrics, n_boot=n_boot, seed=seed, alpha=alpha, **roles)
    pooled.update(reports=[str(d) for d in dirs], dataset=first["dataset"], n_vacancies=first["n_vacancies"],
                  gauc={a: [e["arms"][a]["metrics"]["gauc"]["mean"] for e in evals] for a in pooled["arms"] if "gauc" in first["arms"][a]["metrics"]})
    return pooled


def format_pooled(pooled: Mapping[str, Any]) -> str:
    """The pooled figures as a text table: each arm's means over seeds, its pooled difference to the control in the
    headline metric (the largest-k Recall, as in `evaluate`'s table) with the paired CI, and that difference per seed."""
    from pipelines.evaluation.report import fixed_width, headline_metric, metric_label

    metrics = list(pooled["metrics"])
    head = headline_metric(metrics)
    control = next(a for a, r in pooled["arms"].items() if not r["vs_control"])
    rows = []
    for arm, r in pooled["arms"].items():
        d = r["vs_control"].get(head)
        diff = "(control)" if d is None else f"{d['diff']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"
        per_seed = "" if d is None else " ".join(f"{x:+.4f}" for x in d["per_seed"])
        rows.append([arm, *(f"{r['metrics'][m]['mean']:.4f}" for m in metrics), diff, per_seed])
    header = ["arm", *(metric_label(m) for m in metrics), f"{metric_label(head)} − {control} [95% CI]", "per seed"]
    lines = [f"pooled over {len(pooled['reports'])} evaluations: {pooled['n_users']} resumes, {pooled['n_vacancies']} vacancies ({pooled['dataset']})",
             *fixed_width(header, rows)]
    for m, g in pooled.get("gap_recovered", {}).items():
        if g.get("fraction") is not None:
            lines.append(f"gap recovered ({metric_label(m)}): {g['fraction']:.1%} [{g['ci_low']:.3f}, {g['ci_high']:.3f}]")
    return "\n".join(lines)

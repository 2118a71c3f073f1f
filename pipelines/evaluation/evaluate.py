"""Offline evaluation of ranking arms on held-out resumes, and the Talent Match outcome check.

Two modes share one arm abstraction (`ArmSpec` -> `Scorer`):

* **ranking** (interaction logs, e.g. the synthetic market): for every held-out resume
  rank ALL vacancies and compare the top `curve_k` with the resume's positive vacancies
  (response / invite) in the held-out interactions:

      Recall@k = |rel ∩ top_k| / |rel|,   nDCG@k = Σ_{i≤k, item_i∈rel} 1/log2(i+1) / IDCG@k,
      MRR      = 1 / rank of the first relevant item (0 when none is in the top `curve_k`).

  GAUC on logged impressions: per user, the vacancies they saw (any event) are scored,
  label 1 = a positive event on the pair, 0 = a view without action; the per-user AUC is
  averaged over users with both classes, weighted by their number of impressions.
  Every arm ranks the same users, so differences vs the control arm get a *paired*
  bootstrap 95% CI (users resampled with replacement, the same draw for both arms);
  the GAUC difference resamples users and recomputes the impression-weighted means.
  The fraction of the control→teacher gap recovered by the treatment,
  (m_treat − m_ctrl) / (m_teacher − m_ctrl), gets a CI from the same paired draws.

* **outcomes** (Talent Match: `invite`/`reject` events with a `label` column, no views):
  no ranking, no training on these labels; every labelled (resume, vacancy) pair is
  scored by each arm and, per vacancy, AUC(confirmed vs failed) is computed. The summary
  is the mean over vacancies with both classes weighted by n_pos·n_neg (= the pooled
  within-vacancy pair ordering accuracy); CIs resample vacancies. A TF-IDF arm is always
  added as the baseline the others are compared with.

"Rank all vacancies through the index": when an arm names a built FAISS index
(`ArmSpec.index_dir`) its search answers the top-k; otherwise exact `rank_all` by inner
product is used — identical to a flat (exact) index, which is what the index module builds
for catalogues of this size.

>>> arms = {"control": ArmSpec("dssm", model_dir="run/control"), "tfidf": ArmSpec("tfidf")}  # doctest: +SKIP
>>> result = evaluate(load_dataset("data"), arms, held_out_resume_ids=read_split("run/control"))  # doctest: +SKIP
>>> print(format_table(result))  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from dssm import schema
from dssm.errors import DataError, JobmatchError
from dssm.io import check_output, progress, versions, write_parquet
from dssm.pairs import split_resumes
from dssm.checks import at_least, check_numbers
from pipelines.evaluation import metrics as M
from pipelines.data.split import COLD_TEST_FILE, read_cold_split
from pipelines.evaluation.arms import BASELINES, ArmSpec, Scorer, build_scorer, cold_users, held_out_from_arms
from pipelines.evaluation.stats import bootstrap_ci, bootstrap_p_value, paired_bootstrap, percentile_interval, weighted_bootstrap


@dataclass
class EvalConfig:
    """How arms are evaluated."""

    ks: tuple[int, ...] = (10, 100)
    """Cut-offs for Recall@k and nDCG@k."""
    curve_k: int = 100
    """Length of each ranked list: recall@k curves run k = 1..curve_k, MRR is truncated here, rankings keep this many rows per user."""
    n_boot: int = 2000
    """Bootstrap resamples for every CI."""
    seed: int = 0
    """Seed of the bootstrap draws (and of the fallback user split)."""
    alpha: float = 0.05
    """CIs are (1 − alpha) percentile intervals."""
    control: str = "control"
    """Arm every other arm is compared with (ranking mode)."""
    treatment: str = "treatment"
    """Arm whose share of the control→teacher gap is reported."""
    teacher: str = "teacher"
    """Upper-bound arm (full-length teacher)."""
    baseline: str = "tfidf"
    """Arm the others are compared with in outcomes mode (added automatically when absent)."""
    split: Literal["user", "time"] = "user"
    """Fallback split when no held-out resume ids are given: 'user' (seeded resume hold-out) or 'time' (last interactions)."""
    test_fraction: float = 0.2
    """Share of resumes (user split) or of interactions by time (time split) held out."""
    mode: Literal["auto", "ranking", "outcomes"] = "auto"
    """'ranking', 'outcomes' or 'auto' (outcomes when interactions carry `label` and no views)."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 0, "seed")
        self.ks = tuple(self.ks)
        if not self.ks or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in self.ks):
            raise ValueError(f"ks must be positive integers, got {self.ks}")
        if self.curve_k < max(self.ks):
            raise ValueError(f"curve_k={self.curve_k} must be >= max(ks)={max(self.ks)}")
        if self.n_boot < 100:
            raise ValueError(f"n_boot must be >= 100, got {self.n_boot}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.split not in ("user", "time"):
            raise ValueError(f"split must be 'user' or 'time', got {self.split!r}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.mode not in ("auto", "ranking", "outcomes"):
            raise ValueError(f"mode must be auto, ranking or outcomes, got {self.mode!r}")


# ----------------------------------------------------------------------------- splits and data


def split_interactions(interactions: pd.DataFrame, how: str = "user", test_fraction: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) interactions.

    'user': a seeded `test_fraction` of the resumes that have a positive event is held out with
    all its interactions (`dssm.pairs.split_resumes`, the split `jobmatch train` holds users out by).
    'time': interactions at or after the (1 − test_fraction) quantile of `ts` are the test part
    (rows without ts stay in train).
    """
    if how == "user":
        pos = interactions[interactions[schema.EVENT].isin(schema.POSITIVE_EVENTS)]
        held = set(split_resumes(pos[schema.RESUME_ID].astype(str).unique(), test_fraction, seed))
        mask = interactions[schema.RESUME_ID].astype(str).isin(held)
    elif how == "time":
        if schema.TS not in interactions.columns or interactions[schema.TS].isna().all():
            raise DataError(schema.INTERACTIONS_FILE, schema.TS, "a time split needs timestamps, but the column is missing or empty")
        cutoff = interactions[schema.TS].quantile(1 - test_fraction)
        mask = (interactions[schema.TS] >= cutoff).fillna(False).to_numpy(bool)
    else:
        raise JobmatchError(f"unknown split {how!r}; expected 'user' or 'time'")
    return interactions[~mask].reset_index(drop=True), interactions[mask].reset_index(drop=True)


# ----------------------------------------------------------------------------- statistics


def _weighted_summary(values: Mapping[str, np.ndarray], weights: np.ndarray, reference: str | None, cfg: EvalConfig) -> tuple[dict, dict]:
    """Per-arm weighted mean + CI and per-arm difference vs `reference` with paired CI and p."""
    w = np.asarray(weights, dtype=np.float64)
    draws = weighted_bootstrap(values, w, cfg.n_boot, cfg.seed)
    per_arm, diffs = {}, {}
    for arm, x in values.items():
        mean = float(np.sum(w * x) / np.sum(w)) if np.sum(w) > 0 else float("nan")
        lo, hi = percentile_interval(draws[arm], cfg.alpha)
        per_arm[arm] = {"mean": mean, "ci_low": lo, "ci_high": hi, "n": int(len(x))}
    if reference in values:
        for arm in values:
            if arm == reference:
                continue
            d = draws[arm] - draws[reference]
            lo, hi = percentile_interval(d, cfg.alpha)
            diffs[arm] = {
                "mean_a": per_arm[reference]["mean"],
                "mean_b": per_arm[arm]["mean"],
                "diff": per_arm[arm]["mean"] - per_arm[reference]["mean"],
                "ci_low": lo,
                "ci_high": hi,
                "p_value": bootstrap_p_value(d),
            }
    return per_arm, diffs


# ----------------------------------------------------------------------------- ranking mode


def _positions(ids: pd.Series, index: pd.Index, file: str, column: str) -> np.ndarray:
    rows = index.get_indexer(ids.astype(str))
    bad = np.flatnonzero(rows < 0)
    if len(bad):
        raise DataError(file, column, f"{len(bad)} interactions point at unknown ids", rows=bad.tolist())
    return rows


def recall_curve(ranked: np.ndarray, relevant: Sequence[np.ndarray]) -> np.ndarray:
    """(K,) mean over users of Recall@k for k = 1..K from a (U, K) ranking (users need ≥ 1 relevant)."""
    hits = np.stack([np.isin(row, rel) & (row >= 0) for row, rel in zip(ranked, relevant)]) if len(ranked) else np.zeros((0, ranked.shape[1]), bool)
    n_rel = np.array([len(r) for r in relevant], dtype=np.float64)
    return (np.cumsum(hits, axis=1) / n_rel[:, None]).mean(axis=0)  # (K,)


def _user_aucs(scores: np.ndarray, labels: np.ndarray, user_of_pair: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-user AUC (NaN without both classes) and number of impressions."""
    aucs = np.full(n_users, np.nan)
    sizes = np.bincount(user_of_pair, minlength=n_users)
    order = np.argsort(user_of_pair, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    for u in range(n_users):
        sel = order[bounds[u] : bounds[u + 1]]
        y = labels[sel]
        if 0 < y.sum() < len(y):
            aucs[u] = M.auc(scores[sel], y)
    return aucs, sizes


def gap_recovered(values: Mapping[str, np.ndarray], cfg: EvalConfig) -> dict[str, Any] | None:
    """Fraction of the control→teacher gap the treatment recovers, with a paired bootstrap CI (users resampled)."""
    c, t, T = (values.get(a) for a in (cfg.control, cfg.treatment, cfg.teacher))
    if c is None or t is None or T is None:
        return None
    gap = float(np.mean(T) - np.mean(c))
    out = {"control": float(np.mean(c)), "treatment": float(np.mean(t)), "teacher": float(np.mean(T)), "gap": gap}
    if gap <= 0:
        out.update(fraction=None, ci_low=None, ci_high=None, note="teacher does not beat control on this metric; fraction undefined")
        return out
    draws = weighted_bootstrap({"c": c, "t": t, "T": T}, np.ones(len(c)), cfg.n_boot, cfg.seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (draws["t"] - draws["c"]) / (draws["T"] - draws["c"])
    frac[(draws["T"] - draws["c"]) <= 0] = np.nan
    lo, hi = percentile_interval(frac, cfg.alpha)
    out.update(fraction=(float(np.mean(t)) - float(np.mean(c))) / gap, ci_low=lo, ci_high=hi)
    return out


def evaluate(
    dataset: Any,
    arms: Mapping[str, ArmSpec],
    held_out_resume_ids: Sequence[str] | None = None,
    cfg: EvalConfig | None = None,
    out_dir: str | Path | None = None,
    scorers: Mapping[str, Scorer] | None = None,
) -> dict[str, Any]:
    """Evaluate every arm; dispatches to `evaluate_outcomes` for labelled outcome data.

    dataset: a `pipelines.data.dataset.Dataset` (vacancies, resumes, interactions).
    arms: name -> ArmSpec; `scorers` may supply ready scorers by name instead (built over the
    held-out resumes in sorted-id order, see `held_out_resumes`), e.g. in tests.
    held_out_resume_ids: the resumes the models did not train on (`read_split(model_dir)`);
    when None, `cfg.split` splits the interactions.
    out_dir: when given, writes `rankings/<arm>.parquet` (resume_id, vacancy_id, rank, score;
    top `curve_k` per held-out resume, rank 1 = best) and `per_user.parquet`.
    Returns a JSON-serialisable dict (see `pipelines.evaluation.report.write_report`).
    """
    cfg = cfg or EvalConfig()
    inter = dataset.interactions
    if inter is None or len(inter) == 0:
        raise JobmatchError(f"{dataset.root}: no interactions.parquet; evaluation needs held-out interactions")
    if is_outcome_data(inter, cfg):
        return evaluate_outcomes(dataset, arms, cfg, out_dir=out_dir, scorers=scorers)
    names = list(dict.fromkeys([*arms, *(scorers or {})]))
    if cfg.control not in names:
        raise JobmatchError(f"no arm named {cfg.control!r} (the control every arm is compared with); arms: {names}")
    t_start = time.perf_counter()
    vac_index = pd.Index(dataset.vacancies[schema.VACANCY_ID].astype(str))
    res_index = pd.Index(dataset.resumes[schema.RESUME_ID].astype(str))

    if held_out_resume_ids is not None:
        held = set(map(str, held_out_resume_ids))
        test_mask = inter[schema.RESUME_ID].astype(str).isin(held)
        train, test = inter[~test_mask], inter[test_mask]
        split = {"kind": "given", "n_held_out_ids": len(held)}
    else:
        train, test = split_interactions(inter, cfg.split, cfg.test_fraction, cfg.seed)
        held = set(test[schema.RESUME_ID].astype(str))
        split = {"kind": cfg.split, "test_fraction": cfg.test_fraction, "seed": cfg.seed}
    unknown = sorted(held - set(res_index))
    users = np.array(sorted(held & set(res_index)), dtype=object)
    if not len(users):
        raise JobmatchError("none of the held-out resume ids is in resumes.parquet")
    u_index = pd.Index(users)
    t_u = u_index.get_indexer(test[schema.RESUME_ID].astype(str))
    t_v = _positions(test[schema.VACANCY_ID], vac_index, schema.INTERACTIONS_FILE, schema.VACANCY_ID)
    positive = test[schema.EVENT].isin(schema.POSITIVE_EVENTS).to_numpy()
    keep = t_u >= 0
    pairs = pd.DataFrame({"u": t_u[keep], "v": t_v[keep], "pos": positive[keep]}).groupby(["u", "v"], sort=True)["pos"].max().reset_index()
    relevant = [np.empty(0, np.int64)] * len(users)
    for u, grp in pairs[pairs["pos"]].groupby("u"):
        relevant[int(u)] = grp["v"].to_numpy(np.int64)
    exclude = None
    if split["kind"] == "time":
        tr_u = u_index.get_indexer(train[schema.RESUME_ID].astype(str))
        tr_v = vac_index.get_indexer(train[schema.VACANCY_ID].astype(str))
        tr_pos = train[schema.EVENT].isin(schema.POSITIVE_EVENTS).to_numpy() & (tr_u >= 0) & (tr_v >= 0)
        seen = pd.DataFrame({"u": tr_u[tr_pos], "v": tr_v[tr_pos]}).drop_duplicates()
        exclude = [np.empty(0, np.int64)] * len(users)
        for u, grp in seen.groupby("u"):
            exclude[int(u)] = grp["v"].to_numpy(np.int64)
        relevant = [np.setdiff1d(rel, ex) for rel, ex in zip(relevant, exclude)]  # already-seen positives are not new relevance

    with_pos = np.array([len(r) > 0 for r in relevant])
    if not with_pos.any():
        raise JobmatchError("no held-out resume has a positive (response/invite) interaction; nothing to rank against")
    imp_u, imp_v, imp_y = pairs["u"].to_numpy(), pairs["v"].to_numpy(), pairs["pos"].to_numpy(np.int64)
    users_res = dataset.resumes.set_index(dataset.resumes[schema.RESUME_ID].astype(str)).loc[users].reset_index(drop=True)
    rel_sub = [relevant[i] for i in np.flatnonzero(with_pos)]
    metric_names = [*(f"recall@{k}" for k in cfg.ks), *(f"ndcg@{k}" for k in cfg.ks), "mrr"]
    per_user: dict[str, dict[str, np.ndarray]] = {}
    gauc_vals: dict[str, np.ndarray] = {}
    arms_out: dict[str, Any] = {}
    rankings: dict[str, pd.DataFrame] = {}
    gauc_sizes = None
    for name in progress(names, desc="arms", unit="arm"):
        t0 = time.perf_counter()
        scorer = (scorers or {}).get(name) or build_scorer(arms[name], dataset.vacancies, users_res, train, dataset.root)
        ranked, scores = scorer.top_k(cfg.curve_k, exclude)
        ranked_pos = ranked[with_pos]
        vals = {}
        for k in cfg.ks:
            vals[f"recall@{k}"] = np.asarray(M.recall_at_k(ranked_pos, rel_sub, k), dtype=np.float64)
            vals[f"ndcg@{k}"] = np.asarray(M.ndcg_at_k(ranked_pos, rel_sub, k), dtype=np.float64)
        vals["mrr"] = np.asarray(M.mrr(ranked_pos, rel_sub), dtype=np.float64)
        per_user[name] = vals
        aucs, sizes = _user_aucs(np.asarray(scorer.pair_scores(imp_u, imp_v), dtype=np.float64), imp_y, imp_u, len(users))
        gauc_vals[name], gauc_sizes = aucs, sizes
        curve = recall_curve(ranked_pos, rel_sub)
        metrics_out = {}
        for m, x in vals.items():
            lo, hi = bootstrap_ci(x, n_boot=cfg.n_boot, seed=cfg.seed, alpha=cfg.alpha)
            metrics_out[m] = {"mean": float(np.mean(x)), "ci_low": float(lo), "ci_high": float(hi), "n": int(len(x))}
        arms_out[name] = {
            "spec": arms[name].describe() if name in arms else {"kind": "given scorer"},
            "metrics": metrics_out,
            "recall_curve": [float(r) for r in curve],
            "seconds": time.perf_counter() - t0,
        }
        k_eff = ranked.shape[1]
        ok = ranked >= 0
        rankings[name] = pd.DataFrame(
            {
                schema.RESUME_ID: np.repeat(users, k_eff)[ok.ravel()],
                schema.VACANCY_ID: vac_index.to_numpy()[np.where(ok, ranked, 0)].ravel()[ok.ravel()],
                "rank": np.tile(np.arange(1, k_eff + 1, dtype=np.int32), len(users))[ok.ravel()],
                "score": scores.ravel()[ok.ravel()].astype(np.float32),
            }
        )

    both = np.isfinite(gauc_vals[names[0]])
    gauc_per_arm, gauc_diffs = _weighted_summary({a: v[both] for a, v in gauc_vals.items()}, gauc_sizes[both], cfg.control, cfg)
    for name in names:
        gauc_per_arm[name] |= {"n": int(both.sum())}
        arms_out[name]["metrics"]["gauc"] = gauc_per_arm[name]
    vs_control: dict[str, dict[str, Any]] = {}
    for name in names:
        if name == cfg.control:
            continue
        vs_control[name] = {}
        for m in metric_names:
            r = paired_bootstrap(per_user[cfg.control][m], per_user[name][m], n_boot=cfg.n_boot, seed=cfg.seed, alpha=cfg.alpha)
            vs_control[name][m] = {k: float(v) for k, v in r.items()}
        if name in gauc_diffs:
            vs_control[name]["gauc"] = gauc_diffs[name]
    gap = {m: g for m in metric_names if (g := gap_recovered({a: per_user[a][m] for a in names}, cfg)) is not None}

    notes = []
    if unknown:
        notes.append(f"{len(unknown)} held-out resume ids are not in resumes.parquet and were skipped")
    if (~with_pos).any():
        notes.append(f"{int((~with_pos).sum())} held-out resumes have no positive event: ranked (rankings) but not in the ranking metrics")
    if split["kind"] == "time":
        notes.append("time split: each resume's training positives are excluded from its ranking")
    result = {
        "mode": "ranking",
        "dataset": str(dataset.root),
        "split": split,
        "control": cfg.control,
        "treatment": cfg.treatment,
        "teacher": cfg.teacher,
        "n_vacancies": int(len(vac_index)),
        "n_users": int(len(users)),
        "n_users_with_positives": int(with_pos.sum()),
        "n_users_gauc": int(both.sum()),
        "metric_names": [*metric_names, "gauc"],
        "arms": arms_out,
        "vs_control": vs_control,
        "gap_recovered": gap,
        "notes": notes,
        "config": _cfg_dict(cfg),
        "versions": versions(),
        "seconds": time.perf_counter() - t_start,
    }
    if out_dir is not None:
        out = Path(out_dir)
        for name, frame in rankings.items():
            write_parquet(out / "rankings" / f"{name}.parquet", frame)
        rows = []
        for name in names:
            frame = pd.DataFrame({schema.RESUME_ID: users[with_pos], "arm": name, **per_user[name]})
            frame["gauc_auc"] = gauc_vals[name][with_pos]
            rows.append(frame)
        write_parquet(out / "per_user.parquet", pd.concat(rows, ignore_index=True))
        result["rankings"] = {name: str(out / "rankings" / f"{name}.parquet") for name in rankings}
    return result


# ----------------------------------------------------------------------------- outcomes mode (Talent Match)


def is_outcome_data(inter: pd.DataFrame | None, cfg: EvalConfig) -> bool:
    """Outcomes mode: forced by cfg.mode, or (auto) interactions carry `label` and contain no views."""
    if cfg.mode != "auto":
        return cfg.mode == "outcomes"
    return inter is not None and "label" in inter.columns and not (inter[schema.EVENT] == "view").any()


def evaluate_outcomes(
    dataset: Any,
    arms: Mapping[str, ArmSpec],
    cfg: EvalConfig | None = None,
    out_dir: str | Path | None = None,
    scorers: Mapping[str, Scorer] | None = None,
) -> dict[str, Any]:
    """Within-vacancy AUC of confirmed (label 1) vs failed (label 0) resumes, per arm, with CIs.

    Per vacancy g with both classes: AUC_g = P(score(confirmed) > score(failed)) (ties ½),
    weight w_g = n_pos·n_neg; the summary Σ w_g AUC_g / Σ w_g is the share of correctly
    ordered within-vacancy (confirmed, failed) pairs. CIs resample vacancies; differences
    vs `cfg.baseline` (TF-IDF, added when absent) are paired over the same vacancies. No
    arm is trained here. `scorers` (name -> Scorer over ALL dataset resumes in row order)
    may replace building from specs. `out_dir` gets `outcome_scores.parquet`.
    """
    cfg = cfg or EvalConfig()
    inter = dataset.interactions
    file = schema.INTERACTIONS_FILE
    if inter is None or "label" not in inter.columns:
        raise DataError(file, "label", "outcome evaluation needs a 0/1 label column (import with `jobmatch import talentmatch_ru`)")
    lab = pd.to_numeric(inter["label"], errors="coerce")
    bad = np.flatnonzero(~lab.isin([0, 1]).to_numpy())
    if len(bad):
        raise DataError(file, "label", "labels must be 0 or 1", rows=bad.tolist())
    arms = dict(arms)
    if cfg.baseline not in arms and cfg.baseline not in (scorers or {}):
        if cfg.baseline not in BASELINES:
            raise JobmatchError(f"baseline arm {cfg.baseline!r} is neither given nor a known baseline {list(BASELINES)}")
        arms[cfg.baseline] = ArmSpec(cfg.baseline)
    names = list(dict.fromkeys([*arms, *(scorers or {})]))
    t_start = time.perf_counter()
    vac_index = pd.Index(dataset.vacancies[schema.VACANCY_ID].astype(str))
    res_index = pd.Index(dataset.resumes[schema.RESUME_ID].astype(str))
    r = _positions(inter[schema.RESUME_ID], res_index, file, schema.RESUME_ID)
    v = _positions(inter[schema.VACANCY_ID], vac_index, file, schema.VACANCY_ID)
    y = lab.to_numpy(np.int64)
    groups = np.unique(v)
    per_vac: dict[str, np.ndarray] = {}
    pos_n = np.array([int(y[v == g].sum()) for g in groups])
    neg_n = np.array([int((v == g).sum()) for g in groups]) - pos_n
    usable = (pos_n > 0) & (neg_n > 0)
    if not usable.any():
        raise JobmatchError("no vacancy has both a confirmed and a failed resume; within-vacancy AUC is undefined")
    frames = []
    arms_out = {}
    for name in progress(names, desc="arms", unit="arm"):
        t0 = time.perf_counter()
        scorer = (scorers or {}).get(name) or build_scorer(arms[name], dataset.vacancies, dataset.resumes, None)
        s = np.asarray(scorer.pair_scores(r, v), dtype=np.float64)
        per_vac[name] = np.array([M.auc(s[v == g], y[v == g]) if ok else np.nan for g, ok in zip(groups, usable)])
        frames.append(pd.DataFrame({schema.RESUME_ID: res_index[r], schema.VACANCY_ID: vac_index[v], "label": y, "arm": name, "score": s}))
        arms_out[name] = {"spec": arms[name].describe() if name in arms else {"kind": "given scorer"}, "seconds": time.perf_counter() - t0}
    weights = (pos_n * neg_n)[usable].astype(np.float64)
    summary, diffs = _weighted_summary({a: x[usable] for a, x in per_vac.items()}, weights, cfg.baseline, cfg)
    for name in names:
        arms_out[name]["metrics"] = {"within_vacancy_auc": summary[name]}
        arms_out[name]["per_vacancy_auc"] = {str(vac_index[g]): (None if np.isnan(a) else float(a)) for g, a in zip(groups, per_vac[name])}
    titles = dataset.vacancies.set_index(dataset.vacancies[schema.VACANCY_ID].astype(str))["title"]
    result = {
        "mode": "outcomes",
        "dataset": str(dataset.root),
        "baseline": cfg.baseline,
        "n_pairs": int(len(y)),
        "n_positive": int(y.sum()),
        "n_vacancies": int(len(groups)),
        "n_vacancies_used": int(usable.sum()),
        "vacancies": [
            {"vacancy_id": str(vac_index[g]), "title": str(titles.get(vac_index[g], "")), "n_confirmed": int(p), "n_failed": int(n)}
            for g, p, n in zip(groups, pos_n, neg_n)
        ],
        "metric_names": ["within_vacancy_auc"],
        "arms": arms_out,
        "vs_baseline": {a: {"within_vacancy_auc": d} for a, d in diffs.items()},
        "notes": [
            "no arm was trained on these labels",
            f"{int((~usable).sum())} vacancies lack one of the classes and are left out" if (~usable).any() else "every vacancy has both classes",
        ],
        "config": _cfg_dict(cfg),
        "versions": versions(),
        "seconds": time.perf_counter() - t_start,
    }
    if out_dir is not None:
        write_parquet(Path(out_dir) / "outcome_scores.parquet", pd.concat(frames, ignore_index=True))
    return result


def _cfg_dict(cfg: EvalConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d["ks"] = list(d["ks"])
    return d


def run_evaluation(cfg: EvalConfig, data: str | Path, arms: Mapping[str, ArmSpec] | None = None, run: str | Path | None = None,
                   index: Mapping[str, str | Path] | None = None, out: str | Path | None = None,
                   parsed: str | Path | None = None) -> tuple[dict[str, Any], Path]:
    """Stage `evaluate`: score `arms` (default: those found in the layout of `run`) on `data`, write the report; -> (result, report dir).

    index: arm -> index root whose served version ranks that arm (its model's embeddings through FAISS).
    parsed: a parse folder of `data` (by the tagger the skills models were trained with) their skill bags are read from.
    The report goes to `out`, else RUN/reports (RUN/reports/outcomes_<data name> for labelled outcomes).
    """
    from pipelines.data.dataset import load_dataset
    from pipelines.evaluation.arms import default_arms
    from pipelines.evaluation.report import write_report

    data = Path(data)
    ds = load_dataset(data)
    outcomes = is_outcome_data(ds.interactions, cfg)
    notes: list[str] = []
    if arms:
        arms = dict(arms)
    elif run is not None:
        arms, notes = default_arms(Path(run), outcomes)
    else:
        raise JobmatchError("give --arms or --run (whose layout names the arms)")
    for name, path in (index or {}).items():
        if name not in arms or arms[name].kind != "dssm" or not path:
            raise JobmatchError(f"--index {name}={path}: expected ARM=DIR for a model arm; arms: {sorted(arms)}")
        arms[name] = replace(arms[name], index_dir=Path(path))
    if parsed is not None:
        arms = {name: replace(a, parsed=Path(parsed)) if a.kind == "dssm" else a for name, a in arms.items()}
    if not outcomes and cfg.control not in arms:
        raise JobmatchError(f"no {cfg.control!r} arm (first-300 model in RUN/control, or --arms control=...); arms: {sorted(arms)}")
    if out is None and run is None:
        raise JobmatchError("give --out or --run")
    report_dir = Path(out) if out is not None else Path(run) / "reports" / (f"outcomes_{data.resolve().name}" if outcomes else "")
    arm_dirs = [p for a in arms.values() for p in (a.model_dir, a.corpus_dir, a.index_dir, a.parsed)]
    check_output(report_dir, [data, *arm_dirs], force=True)  # a report folder is rewritten on every run
    cold = None if outcomes else read_cold_split(data)
    if cold is not None:
        held, cold_notes = cold_users(arms, ds)
        notes += [f"cold vacancies ({COLD_TEST_FILE}: {cold['cold_vacancies']:.0%} of {cold['source']}): every resume ranks "
                  f"the {len(ds.vacancies)} vacancies no arm trained on", *cold_notes]
    else:
        held = None if outcomes else held_out_from_arms(arms)
    result = evaluate(ds, arms, held_out_resume_ids=held, cfg=cfg, out_dir=report_dir)
    if cold is not None:
        result["split"] = {**result["split"], "kind": "cold_vacancies", "cold_vacancies": cold["cold_vacancies"], "source": cold["source"]}
    result["notes"] = notes + result["notes"]
    write_report(result, report_dir)
    return result, report_dir

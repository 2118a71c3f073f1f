"""Offline replay of an online A/B test between two rankings, with a known true effect.

Each user (resume) present in both arms' rankings is assigned to treatment with probability
`treatment_share` (seeded) and shown that arm's top-k list. The behaviour model, per shown
vacancy v at 0-based position j for user u with activity a_u ∈ (0, 1]:

    P(view)               = a_u · view_top · view_decay^j
    P(response | view)    = σ(response_scale · (utility(u, v) − response_offset))
    P(invite | response)  = σ(invite_scale · (utility(u, v) − invite_offset))

with σ the logistic function and `utility` the synthetic market's ground truth. Because the
model is explicit, each user's expected views / responses / invites under *both* arms are
computed exactly (sums of the products above), so the true average treatment effect
ATE_m = mean_u(E[m | treatment, u] − E[m | control, u]) is known and written to truth.json
beside the sampled per-user log (events.parquet) that `pipelines.ab.analyze` reads.

Activity and the pre-period covariate: with a pre-period interaction log (the user's training
weeks) pre_views / pre_responses are that log's counts and a_u = 0.2 + 0.8 · (percentile rank
of the user's pre-period events); without one, a_u ~ Beta(activity_a, activity_b) and the
pre-period is simulated from the same model under the control ranking (both arms saw control
before the test), so pre_responses correlates with responses as a real pre-period would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd

from dssm import schema
from dssm.errors import DataError, JobmatchError
from dssm.io import atomic_path, check_output, config_to_dict, versions, write_json, write_parquet
from dssm.checks import at_least, check_numbers, in_range

UtilityFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""utility(resume_ids, vacancy_ids) -> (P,) utilities of the aligned pairs."""
Utility = Union[pd.DataFrame, UtilityFn]

METRICS = ("views", "responses", "invites")
EVENTS_FILE = "events.parquet"
TRUTH_FILE = "truth.json"


@dataclass
class SimConfig:
    """Behaviour model and assignment of the replayed test."""

    k: int = 10
    """Length of the list each user is shown (the top-k of the arm's ranking)."""
    seed: int = 0
    """Seed of the assignment and of every simulated event."""
    treatment_share: float = 0.5
    """Probability a user is assigned to treatment."""
    view_top: float = 0.9
    """Probability the first shown vacancy is viewed by a user of activity 1."""
    view_decay: float = 0.85
    """Multiplicative view-probability decay per position down the list."""
    response_scale: float = 1.0
    """Slope of the response probability in the utility (utility read as a logit when 1)."""
    response_offset: float = 0.0
    """Utility at which a viewed vacancy gets a response with probability 1/2."""
    invite_scale: float = 1.0
    """Slope of the invite-given-response probability in the utility."""
    invite_offset: float = 0.0
    """Utility at which a response is answered by an invite with probability 1/2."""
    activity_a: float = 2.0
    """Beta(a, b) prior of user activity when no pre-period log is given: parameter a."""
    activity_b: float = 2.0
    """Beta(a, b) prior of user activity: parameter b."""
    missing_utility: float | None = None
    """Utility of a shown pair absent from the utility table; None makes a missing pair an error."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 0, "seed")
        for name in ("response_scale", "invite_scale"):
            in_range(self, name, 0, None, low_open=True)
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if not 0 < self.treatment_share < 1:
            raise ValueError(f"treatment_share must be in (0, 1), got {self.treatment_share}")
        if not 0 < self.view_top <= 1 or not 0 < self.view_decay <= 1:
            raise ValueError(f"view_top and view_decay must be in (0, 1], got {self.view_top}, {self.view_decay}")
        if self.activity_a <= 0 or self.activity_b <= 0:
            raise ValueError("activity_a and activity_b must be positive")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def event_probabilities(cfg: SimConfig, activity: np.ndarray, pos: np.ndarray, util: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The behaviour model of the module docstring for shown pairs -> (P(view), P(response | view), P(invite | response))."""
    p_view = activity * cfg.view_top * cfg.view_decay ** np.asarray(pos)
    return p_view, _sigmoid(cfg.response_scale * (util - cfg.response_offset)), _sigmoid(cfg.invite_scale * (util - cfg.invite_offset))


def sample_events(p_view: np.ndarray, p_resp: np.ndarray, p_inv: np.ndarray, u_view: np.ndarray, u_resp: np.ndarray,
                  u_inv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The behaviour model's chain for shown pairs, from uniform draws u: (viewed, responded, invited) booleans;
    a response needs a view, an invite a response."""
    viewed = u_view < p_view
    responded = viewed & (u_resp < p_resp)
    return viewed, responded, responded & (u_inv < p_inv)


def _lists(ranking: pd.DataFrame, k: int, source: str) -> pd.DataFrame:
    """Validated (resume_id, vacancy_id, pos) rows: each user's top-k by rank, pos = 0..k-1."""
    for col in (schema.RESUME_ID, schema.VACANCY_ID, "rank"):
        if col not in ranking.columns:
            raise DataError(source, col, f"missing column; a ranking needs resume_id, vacancy_id, rank (has {list(map(str, ranking.columns))})")
    if len(ranking) == 0:
        raise DataError(source, None, "the ranking has no rows")
    rank = pd.to_numeric(ranking["rank"], errors="coerce")
    bad = np.flatnonzero(rank.isna().to_numpy())
    if len(bad):
        raise DataError(source, "rank", "missing or non-numeric ranks", rows=bad.tolist())
    df = pd.DataFrame(
        {schema.RESUME_ID: ranking[schema.RESUME_ID].astype(str).to_numpy(), schema.VACANCY_ID: ranking[schema.VACANCY_ID].astype(str).to_numpy(), "rank": rank.to_numpy()}
    )
    dup = np.flatnonzero(df.duplicated([schema.RESUME_ID, schema.VACANCY_ID]).to_numpy())
    if len(dup):
        raise DataError(source, schema.VACANCY_ID, "a vacancy is ranked twice for the same resume", rows=dup.tolist())
    df = df.sort_values([schema.RESUME_ID, "rank", schema.VACANCY_ID], kind="stable")
    df["pos"] = df.groupby(schema.RESUME_ID).cumcount()
    return df[df["pos"] < k].reset_index(drop=True)


def _utilities(pairs: pd.DataFrame, utility: Utility, missing: float | None, source: str) -> np.ndarray:
    """(P,) utility of each (resume_id, vacancy_id) row of `pairs`."""
    if callable(utility):
        u = np.asarray(utility(pairs[schema.RESUME_ID].to_numpy(), pairs[schema.VACANCY_ID].to_numpy()), dtype=np.float64)
        if u.shape != (len(pairs),):
            raise JobmatchError(f"utility function returned shape {u.shape} for {len(pairs)} pairs")
        return u
    for col in (schema.RESUME_ID, schema.VACANCY_ID, "utility"):
        if col not in utility.columns:
            raise DataError(source, col, f"missing column; the utility table needs resume_id, vacancy_id, utility (has {list(map(str, utility.columns))})")
    table = pd.DataFrame(
        {
            schema.RESUME_ID: utility[schema.RESUME_ID].astype(str).to_numpy(),
            schema.VACANCY_ID: utility[schema.VACANCY_ID].astype(str).to_numpy(),
            "utility": pd.to_numeric(utility["utility"], errors="coerce").to_numpy(np.float64),
        }
    ).drop_duplicates([schema.RESUME_ID, schema.VACANCY_ID])
    merged = pairs[[schema.RESUME_ID, schema.VACANCY_ID]].merge(table, how="left", on=[schema.RESUME_ID, schema.VACANCY_ID])
    u = merged["utility"].to_numpy(np.float64)
    absent = np.flatnonzero(np.isnan(u))
    if len(absent):
        if missing is None:
            ex = merged.iloc[absent[0]]
            raise DataError(
                source,
                "utility",
                f"{len(absent)} shown (resume, vacancy) pairs have no utility (e.g. {ex[schema.RESUME_ID]!r}, {ex[schema.VACANCY_ID]!r}); "
                "give a table covering every ranked pair or set missing_utility",
            )
        u[absent] = missing
    return u


def _pre_period_counts(pre: pd.DataFrame, users: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(pre_views, pre_responses) per user from an interaction log (events view / response)."""
    for col in (schema.RESUME_ID, schema.EVENT):
        if col not in pre.columns:
            raise DataError(source, col, "missing column in the pre-period interaction log")
    idx = pd.Index(users).get_indexer(pre[schema.RESUME_ID].astype(str))
    ev = pre[schema.EVENT].astype(str).to_numpy()
    ok = idx >= 0
    views = np.bincount(idx[ok & (ev == "view")], minlength=len(users)).astype(np.int64)
    resp = np.bincount(idx[ok & (ev == "response")], minlength=len(users)).astype(np.int64)
    return views, resp


def simulate(
    control: pd.DataFrame,
    treatment: pd.DataFrame,
    utility: Utility,
    cfg: SimConfig | None = None,
    pre_period: pd.DataFrame | None = None,
    sources: tuple[str, str, str] = ("control", "treatment", "utility"),
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Replay the test; returns (per-user events frame, truth dict). See the module docstring for the model.

    events columns: user_id, arm, views, responses, invites, pre_views, pre_responses.
    truth: per metric the expected per-user mean under each arm over all users and the ATE,
    plus the ratio responses/views per arm (Σ expectations) and its true difference.
    """
    cfg = cfg or SimConfig()
    lists = {"control": _lists(control, cfg.k, sources[0]), "treatment": _lists(treatment, cfg.k, sources[1])}
    users_c = set(lists["control"][schema.RESUME_ID])
    users_t = set(lists["treatment"][schema.RESUME_ID])
    users = np.array(sorted(users_c & users_t))
    if len(users) < 4:
        raise JobmatchError(f"only {len(users)} resumes are ranked by both arms; need at least 4 for a test")
    n = len(users)
    rng = np.random.default_rng(cfg.seed)
    is_t = rng.random(n) < cfg.treatment_share  # (n,) assignment
    u_index = pd.Index(users)

    if pre_period is not None:
        pre_views, pre_resp = _pre_period_counts(pre_period, users, "pre-period")
        activity = 0.2 + 0.8 * pd.Series(pre_views + pre_resp).rank(pct=True, method="average").to_numpy()
    else:
        activity = rng.beta(cfg.activity_a, cfg.activity_b, n)

    expected: dict[str, np.ndarray] = {}  # (arm) -> (n, 3) expected views, responses, invites per user
    probs: dict[str, tuple[np.ndarray, ...]] = {}
    for arm, df in lists.items():
        df = df[df[schema.RESUME_ID].isin(u_index)]
        row = u_index.get_indexer(df[schema.RESUME_ID])  # (P,)
        util = _utilities(df, utility, cfg.missing_utility, sources[2])  # (P,)
        p_view, p_resp, p_inv = event_probabilities(cfg, activity[row], df["pos"].to_numpy(), util)  # (P,) each
        per_pair = np.stack([p_view, p_view * p_resp, p_view * p_resp * p_inv], axis=1)  # (P, 3)
        expected[arm] = np.stack([np.bincount(row, weights=per_pair[:, m], minlength=n) for m in range(3)], axis=1)  # (n, 3)
        probs[arm] = (row, p_view, p_resp, p_inv)

    def draw(arm: str, keep: np.ndarray) -> np.ndarray:
        """(n, 3) sampled counts for users with keep=True shown `arm`'s lists."""
        row, p_view, p_resp, p_inv = probs[arm]
        sel = keep[row]
        row, p_view, p_resp, p_inv = row[sel], p_view[sel], p_resp[sel], p_inv[sel]
        viewed, responded, invited = sample_events(p_view, p_resp, p_inv, rng.random(len(row)), rng.random(len(row)), rng.random(len(row)))
        return np.stack([np.bincount(row, weights=e.astype(np.float64), minlength=n) for e in (viewed, responded, invited)], axis=1)

    counts = draw("control", ~is_t) + draw("treatment", is_t)  # (n, 3)
    if pre_period is None:
        pre = draw("control", np.ones(n, dtype=bool))
        pre_views, pre_resp = pre[:, 0].astype(np.int64), pre[:, 1].astype(np.int64)

    events = pd.DataFrame(
        {
            "user_id": users,
            "arm": np.where(is_t, "treatment", "control"),
            **{m: counts[:, i].astype(np.int64) for i, m in enumerate(METRICS)},
            "pre_views": pre_views,
            "pre_responses": pre_resp,
        }
    )
    e_c, e_t = expected["control"], expected["treatment"]
    truth_metrics = {
        m: {
            "control": float(e_c[:, i].mean()),
            "treatment": float(e_t[:, i].mean()),
            "ate": float((e_t[:, i] - e_c[:, i]).mean()),
            "rel": float((e_t[:, i] - e_c[:, i]).mean() / e_c[:, i].mean()) if e_c[:, i].mean() > 0 else None,
        }
        for i, m in enumerate(METRICS)
    }
    r_c, r_t = e_c[:, 1].sum() / e_c[:, 0].sum(), e_t[:, 1].sum() / e_t[:, 0].sum()
    truth_metrics["responses/views"] = {"control": float(r_c), "treatment": float(r_t), "ate": float(r_t - r_c), "rel": float((r_t - r_c) / r_c)}
    truth = {
        "estimand": "average over all simulated users of E[metric | treatment] - E[metric | control], exact under the behaviour model",
        "n_users": int(n),
        "n_control": int((~is_t).sum()),
        "n_treatment": int(is_t.sum()),
        "users_dropped": {"only_control": len(users_c) - n, "only_treatment": len(users_t) - n},
        "pre_period": "log" if pre_period is not None else "simulated under control",
        "metrics": truth_metrics,
        "config": config_to_dict(cfg),
        "versions": versions(),
    }
    return events, truth


def read_table(path: str | Path, what: str) -> pd.DataFrame:
    """Read a Parquet table, or a one-line error naming the file."""
    path = Path(path)
    if not path.exists():
        raise JobmatchError(f"{path}: {what} not found")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise JobmatchError(f"{path}: cannot read {what}: {e}") from e


def write_simulation(out_dir: str | Path, events: pd.DataFrame, truth: dict[str, Any]) -> dict[str, Path]:
    """Write the folder `out_dir` with events.parquet and truth.json, replacing it whole once both are complete."""
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        write_parquet(tmp / EVENTS_FILE, events)
        write_json(tmp / TRUTH_FILE, truth)
    return {"events": out_dir / EVENTS_FILE, "truth": out_dir / TRUTH_FILE}


def compare_with_truth(result: dict[str, Any], truth: dict[str, Any]) -> pd.DataFrame:
    """An analysis of a simulated log (`pipelines.ab.analyze`) next to the simulation's known effect.

    One row per metric present in both (mean metrics and ratios such as responses/views):
    true_effect = truth ATE (exact under the behaviour model); estimate, ci_low, ci_high from
    the analysis's primary test (`test`: CUPED when a covariate was given, Welch for other
    mean metrics, the delta method for ratios); covered = ci_low <= true_effect <= ci_high
    (a (1 − alpha) interval misses the truth in about alpha of replays); true_rel and
    estimate_rel are relative to control; p_holm and significant as in the analysis.

    >>> result = {"metrics": {"y": {"diff": 0.3, "rel_diff": 0.1, "primary_test": "welch", "welch": {"ci_low": 0.1, "ci_high": 0.5},
    ...                             "cuped": None, "p_holm": 0.01, "significant": True}}}
    >>> truth = {"metrics": {"y": {"ate": 0.25, "rel": 0.08}}}
    >>> compare_with_truth(result, truth)[["metric", "true_effect", "estimate", "covered"]].to_dict("records")
    [{'metric': 'y', 'true_effect': 0.25, 'estimate': 0.3, 'covered': True}]
    """
    rows = []
    known = truth.get("metrics", {})
    for name, r in result.get("metrics", {}).items():
        if name not in known:
            continue
        test = r["primary_test"]
        if test == "cuped":
            est, ci, rel = r["cuped"]["diff"], r["cuped"], r["cuped"]["rel_diff"]
        else:
            est, ci, rel = r["diff"], r["delta" if test == "delta" else "welch"], r["rel_diff"]
        true = float(known[name]["ate"])
        rows.append({
            "metric": name, "true_effect": true, "estimate": float(est), "ci_low": float(ci["ci_low"]), "ci_high": float(ci["ci_high"]),
            "covered": bool(ci["ci_low"] <= true <= ci["ci_high"]), "test": test,
            "true_rel": known[name].get("rel"), "estimate_rel": float(rel), "p_holm": float(r["p_holm"]), "significant": bool(r["significant"]),
        })
    if not rows:
        raise JobmatchError(f"no metric is both analysed ({sorted(result.get('metrics', {}))}) and in the truth ({sorted(known)})")
    return pd.DataFrame(rows)


def replay(cfg: SimConfig, data: str | Path, control: str | Path, treatment: str | Path, out: str | Path,
           utility: str | Path | None = None, pre_period: str | Path | None = None, force: bool = False) -> tuple[dict[str, Any], dict[str, Path]]:
    """Stage `ab simulate`: show the held-out users of `data` the two rankings, simulate their events; write events + truth into `out`.

    utility: a (resume_id, vacancy_id, utility) table; default the market's hidden utility of any pair (DATA/truth).
    `out` lies outside every input, and an existing one is replaced only with `force`.
    """
    from pipelines.data.synth.utility import MarketUtility

    check_output(out, [data, control, treatment, utility, pre_period], force)
    data = Path(data)
    ctrl, treat = read_table(control, "control ranking"), read_table(treatment, "treatment ranking")
    if utility is not None:
        utility_path, util = str(utility), read_table(utility, "utility table")
    else:
        utility_path, util = f"{data}/truth (market profiles)", MarketUtility.load(data)
    pre = read_table(pre_period, "pre-period interactions") if pre_period else None
    events, truth = simulate(ctrl, treat, util, cfg, pre, sources=(str(control), str(treatment), utility_path))
    truth["inputs"] = {"control": str(control), "treatment": str(treatment), "utility": utility_path, "pre_period": str(pre_period) if pre_period else None}
    return truth, write_simulation(out, events, truth)

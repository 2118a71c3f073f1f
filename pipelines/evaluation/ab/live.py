"""Analysis of the service's live log (`jobmatch serve --log-dir`): per-user metrics of an A/B test, and the
team-draft interleaving test.

A/B (`mode: ab`): the randomisation unit is the user. Each assigned user (a request with a user id)
gets one row: arm, requests (lists shown), and views / responses / invites (distinct events on shown
items). That table goes through the existing analysis (`pipelines.evaluation.ab.analysis.analyze`: SRM,
Welch, delta method, bootstrap, Holm), with the SRM's expected split taken from the experiment's shares.

Interleaving (`mode: interleave`): every event on a shown item is credited to the item's team (the arm
that contributed it). Per user u, Δ_u = credit_treatment(u) − credit_control(u), summed over the
user's requests, for the credit event (responses by default). The test is a one-sample t-test of
mean Δ = 0 over users (users without credited events count as Δ = 0), with its (1 − alpha) CI, and the
sign test (exact binomial) over users who preferred one arm (Chapelle, Joachims, Radlinski and Yue,
"Large-scale validation and analysis of interleaved search evaluation", TOIS 2012, per-user aggregation).

Users needed at 80% power for the observed effect, both designs, normal approximation, two-sided alpha:
A/B n = 2·(z_{1−α/2} + z_{0.8})²·(s_c² + s_t²)/Δ² users in total (two equal arms); interleaving
n = (z_{1−α/2} + z_{0.8})²·s_Δ²/mean(Δ)² users, and the same for the per-user preference sign(Δ_u).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dssm.errors import JobmatchError
from dssm.io import check_output, versions, write_json, write_text
from pipelines.evaluation.stats import users_needed, users_needed_one_sample
from pipelines.retrieval.servedlog import EVENTS, SEGMENT_DIR, events, impressions, read_experiments, read_records

POWER = 0.8


def is_service_log(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / SEGMENT_DIR).is_dir()


def _experiment(records: pd.DataFrame, root: Path, name: str | None) -> dict[str, Any]:
    known = read_experiments(root)
    present = sorted(set(records["experiment"].dropna()))
    if name is None:
        if len(present) != 1:
            raise JobmatchError(f"{root}: the log holds {len(present)} experiments {present}; choose one with --experiment NAME"
                                if present else f"{root}: no experiment in the log (was the service started with --experiment?)")
        name = present[0]
    if name not in known:
        raise JobmatchError(f"{root}: no experiment {name!r} (known: {sorted(known)})")
    return known[name]


def _users(n: float) -> float | None:
    """A users-needed figure for JSON: None where no finite positive number answers (no effect, or no variance)."""
    return float(n) if np.isfinite(n) and n > 0 else None


def assigned_records(root: str | Path, experiment: str | None, mode: str, records: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The log records of an experiment's assigned users (user id present), and the experiment; it must be in `mode`.
    `records`: the log's records when already read (`read_records(root)`)."""
    root = Path(root)
    records = read_records(root) if records is None else records
    exp = _experiment(records, root, experiment)
    if exp["mode"] != mode:
        other = "the interleaving test" if mode == "ab" else "the A/B analysis"
        raise JobmatchError(f"{root}: experiment {exp['name']!r} is {exp['mode']!r}, not {mode} (its analysis is {other})")
    return records[(records["experiment"] == exp["name"]) & records["user_id"].notna()], exp


def ab_users(root: str | Path, experiment: str | None = None, records: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-user table of an A/B experiment in a service log -> (user_id, arm, requests, views, responses, invites), experiment."""
    mine, exp = assigned_records(root, experiment, "ab", records)
    imp = mine[mine["kind"] == "impression"]
    arms = imp.groupby("user_id")["arm"].agg(lambda a: sorted(set(a)))
    mixed = arms[arms.map(len) > 1]
    if len(mixed):
        raise JobmatchError(f"{root}: {len(mixed)} users were served by several arms of {exp['name']!r} (e.g. {mixed.index[0]!r}: {mixed.iloc[0]}); "
                            "was the salt or the split changed during the experiment?")
    users = pd.DataFrame({"user_id": arms.index, "arm": arms.map(lambda a: a[0]).to_numpy()})
    return user_counts(mine, users), exp


def user_counts(records: pd.DataFrame, users: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
    """`users` (a user_id column) with each one's lists shown (`requests`) and distinct views / responses / invites in `records`."""
    out = users.copy()
    out[f"{prefix}requests"] = out["user_id"].map(records[records["kind"] == "impression"].groupby("user_id").size()).fillna(0).astype(np.int64)
    ev = events(records)
    for e in EVENTS:
        out[f"{prefix}{e}s"] = out["user_id"].map(ev[ev["event"] == e].groupby("user_id").size()).fillna(0).astype(np.int64)
    return out


def pre_period_counts(root: str | Path, users: pd.Series) -> pd.DataFrame:
    """pre_requests, pre_views, pre_responses, pre_invites of each user in another service log (a pre-period, for CUPED)."""
    records = read_records(root)
    return user_counts(records[records["user_id"].notna()], pd.DataFrame({"user_id": users.to_numpy()}), prefix="pre_")


def interleaving_users(root: str | Path, experiment: str | None = None, records: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-user credits of an interleaving experiment -> (user_id, requests, <event>_<arm> for each event and arm), experiment."""
    mine, exp = assigned_records(root, experiment, "interleave", records)
    mine = mine[mine["arm"] == "interleave"]
    shown = impressions(mine)
    ev = events(mine).merge(shown[["request_id", "vacancy_id", "team"]], on=["request_id", "vacancy_id"], how="left")
    users = pd.DataFrame({"user_id": sorted(set(shown["user_id"]))})
    users["requests"] = users["user_id"].map(shown.groupby("user_id")["request_id"].nunique()).astype(np.int64)
    for e in EVENTS:
        for arm in (a["name"] for a in exp["arms"]):
            counts = ev[(ev["event"] == e) & (ev["team"] == arm)].groupby("user_id").size()
            users[f"{e}_{arm}"] = users["user_id"].map(counts).fillna(0).astype(np.int64)
    return users, exp


def interleaving_test(users: pd.DataFrame, control: str, treatment: str, event: str = "response", alpha: float = 0.05) -> dict[str, Any]:
    """The per-user interleaving test of the module docstring on an `interleaving_users` table."""
    from scipy import stats

    if event not in EVENTS:
        raise JobmatchError(f"credit event must be one of {EVENTS}, got {event!r}")
    if len(users) < 2:
        raise JobmatchError(f"the interleaving test needs at least 2 users, the log has {len(users)}")
    delta = (users[f"{event}_{treatment}"] - users[f"{event}_{control}"]).to_numpy(np.float64)  # (n,)
    n, mean, sd = len(delta), float(delta.mean()), float(delta.std(ddof=1))
    se = sd / np.sqrt(n)
    half = float(stats.t.ppf(1 - alpha / 2, n - 1) * se) if se > 0 else 0.0
    p = float(stats.ttest_1samp(delta, 0.0).pvalue) if se > 0 else (1.0 if mean == 0 else 0.0)
    wins, losses = int((delta > 0).sum()), int((delta < 0).sum())
    sign_p = float(stats.binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else 1.0
    return {
        "event": event, "users": n, "control": control, "treatment": treatment,
        "credit_control": float(users[f"{event}_{control}"].sum()), "credit_treatment": float(users[f"{event}_{treatment}"].sum()),
        "mean_delta": mean, "sd_delta": sd, "ci_low": mean - half, "ci_high": mean + half, "p_value": p, "significant": bool(p < alpha),
        "users_preferring_treatment": wins, "users_preferring_control": losses,
        "preference_treatment": wins / (wins + losses) if wins + losses else None, "sign_test_p": sign_p,
        "users_needed_80": _users(users_needed_one_sample(sd, mean, alpha, POWER)),
        "users_needed_80_preference": _users(users_needed_one_sample(float(np.sign(delta).std(ddof=1)), float(np.sign(delta).mean()), alpha, POWER)),
    }


def format_interleaving(r: dict[str, Any], exp: dict[str, Any]) -> str:
    t, c = r["treatment"], r["control"]
    need = f"{r['users_needed_80']:,.0f}" if r["users_needed_80"] else "n/a (no effect)"
    pref = f"{r['users_needed_80_preference']:,.0f}" if r["users_needed_80_preference"] else "n/a"
    return "\n".join([
        f"interleaving {exp['name']!r}: {r['users']} users, credit = {r['event']}s on each arm's items",
        f"  credits: {t} {r['credit_treatment']:.0f}, {c} {r['credit_control']:.0f}",
        f"  mean per-user delta ({t} - {c}): {r['mean_delta']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]  p={r['p_value']:.3g}"
        + ("  significant" if r["significant"] else ""),
        f"  users preferring {t}: {r['users_preferring_treatment']}, {c}: {r['users_preferring_control']}  (sign test p={r['sign_test_p']:.3g})",
        f"  users needed at 80% power for this effect: {need} (per-user credit difference), {pref} (per-user preference, +1/0/-1)",
    ])


def ab_users_needed(users: pd.DataFrame, metrics: Sequence[str], control: str, treatment: str, alpha: float) -> dict[str, float | None]:
    """A/B users (both arms together) needed at 80% power for each metric's observed difference."""
    out = {}
    for m in metrics:
        if m not in users.columns:
            continue
        c, t = users.loc[users["arm"] == control, m].to_numpy(float), users.loc[users["arm"] == treatment, m].to_numpy(float)
        if len(c) < 2 or len(t) < 2:
            out[m] = None
            continue
        out[m] = _users(users_needed(float(c.std(ddof=1)), float(t.std(ddof=1)), float(t.mean() - c.mean()), alpha, POWER))
    return out


def analyze_service_log(cfg: Any, log_dir: str | Path, metrics: Sequence[str], ratios: Sequence[str] = (), experiment: str | None = None,
                        out: str | Path | None = None, credit_event: str = "response", given: dict[str, Any] | None = None,
                        covariates: dict[str, str] | None = None, pre_log: str | Path | None = None) -> tuple[dict[str, Any], dict[str, Path]]:
    """Stage `ab analyze --log DIR` on a service log: per-user metrics, then the A/B analysis or the interleaving test.

    `cfg` is an `ABConfig`; its control / treatment labels and expected split come from the experiment
    (control = the first arm, treatment = the second) unless `given` (the flags the user set) names them.
    `pre_log`: a service log of the same users before the test; its per-user counts (pre_views, pre_responses,
    ...) are the CUPED covariates `covariates` may name (e.g. responses=pre_responses)."""
    import dataclasses

    from pipelines.evaluation.ab.analysis import analyze, write_report

    log_dir = Path(log_dir)
    out = check_output(out if out is not None else log_dir / "ab_report", [log_dir / SEGMENT_DIR, log_dir / "wal", pre_log], force=True)
    given = given or {}
    records = read_records(log_dir)
    records_exp = _experiment(records, log_dir, experiment)
    names = [a["name"] for a in records_exp["arms"]]
    control = given.get("control", names[0])
    treatment = given.get("treatment", names[1])
    for label in (control, treatment):
        if label not in names:
            raise JobmatchError(f"{log_dir}: experiment {records_exp['name']!r} has no arm {label!r} (arms: {names})")
    if records_exp["mode"] == "interleave":
        users, exp = interleaving_users(log_dir, records_exp["name"], records)
        result = {"kind": "interleaving", "source": str(log_dir), "experiment": exp,
                  "tests": {e: interleaving_test(users, control, treatment, e, cfg.alpha) for e in EVENTS}, "primary": credit_event,
                  "versions": versions()}
        result["primary_test"] = result["tests"][credit_event]
        out.mkdir(parents=True, exist_ok=True)
        files = {"json": out / "result.json", "md": out / "report.md", "users": out / "users.csv"}
        write_json(files["json"], result)
        write_text(files["md"], "```\n" + format_interleaving(result["primary_test"], exp) + "\n```\n")
        write_text(files["users"], users.to_csv(index=False))
        return result, files
    users, exp = ab_users(log_dir, records_exp["name"], records)
    shares = {a["name"]: a.get("share") for a in exp["arms"]}
    ratio = given.get("expected_ratio", shares[treatment] / (shares[control] + shares[treatment]))
    cfg = dataclasses.replace(cfg, control=control, treatment=treatment, expected_ratio=ratio)
    users = users[users["arm"].isin([control, treatment])]
    if covariates and pre_log is None:
        raise JobmatchError("a service log has no pre-period columns: give --pre-log DIR (a log of the same users before the test) for --covariate")
    if pre_log is not None:
        users = users.merge(pre_period_counts(pre_log, users["user_id"]), on="user_id", how="left")
    result = analyze(users, list(metrics), list(ratios), dict(covariates or {}), cfg, source=str(log_dir))
    result["experiment"] = exp
    result["users_needed_80"] = ab_users_needed(users, list(metrics), control, treatment, cfg.alpha)
    files = write_report(result, out)
    write_text(out / "users.csv", users.to_csv(index=False))
    return result, files

"""Stage `ab power`: how many users a test needs, and the smallest effect it can see, per metric, from a log.

Give it a pre-period log (one row per user or per event; no arm needed): per user, each metric
is summed; its standard deviation σ feeds the two-sided z-test power of `pipelines.evaluation.stats`
(`users_needed`, `minimum_detectable_effect`) with both arms assumed to share σ. With a CUPED
covariate X the variance is the one left after adjustment, σ²(1 − ρ²), ρ = corr(Y, X).

>>> report = power_report(log, ["responses"], PowerConfig(), effects=(0.05,))  # doctest: +SKIP
>>> report["metrics"]["responses"]["needed"][0]["users"]  # doctest: +SKIP
41210
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dssm.checks import check_numbers, in_range
from dssm.errors import DataError
from pipelines.evaluation.ab.analysis import metric_column
from pipelines.evaluation.stats import minimum_detectable_effect, users_needed


@dataclass
class PowerConfig:
    """The test being planned."""

    alpha: float = 0.05
    """Two-sided significance level."""
    power: float = 0.8
    """Probability of detecting the effect when it is there."""
    share: float = 0.5
    """Share of users in treatment."""
    user_col: str = "user_id"
    """Column holding the randomisation unit."""
    event_col: str = "event"
    """In a long per-event log, the column naming each event; a metric absent as a column counts its rows."""

    def __post_init__(self) -> None:
        check_numbers(self)
        for name in ("alpha", "power", "share"):
            in_range(self, name, 0, 1, low_open=True, high_open=True)


def user_metrics(log: pd.DataFrame, metrics: Sequence[str], covariates: Sequence[str], cfg: PowerConfig, source: str) -> pd.DataFrame:
    """One row per user: each metric summed over the user's rows, each covariate taken once."""
    if cfg.user_col not in log.columns:
        raise DataError(source, cfg.user_col, f"missing column; the log has columns {list(map(str, log.columns))}")
    data = {cfg.user_col: log[cfg.user_col].astype(str).to_numpy()}
    for col in [*metrics, *covariates]:
        if col in log.columns:
            data[col] = metric_column(log, col, source).to_numpy()
        elif col in metrics and cfg.event_col in log.columns:
            data[col] = (log[cfg.event_col].astype(str) == col).to_numpy(np.float64)
        else:
            raise DataError(source, col, f"missing column; the log has columns {list(map(str, log.columns))}")
    frame = pd.DataFrame(data).groupby(cfg.user_col, sort=True)
    out = frame[list(metrics)].sum()
    if covariates:
        out = out.join(frame[list(covariates)].first())
    return out


def power_report(log: pd.DataFrame, metrics: Sequence[str], cfg: PowerConfig, effects: Sequence[float] = (0.01, 0.02, 0.05, 0.1),
                 users: int | None = None, covariates: Mapping[str, str] | None = None, source: str = "log") -> dict[str, Any]:
    """Per metric: mean, σ (CUPED-adjusted with a covariate), users needed for each relative effect, and the MDE
    at `users` (default: as many users as the log has)."""
    covariates = dict(covariates or {})
    table = user_metrics(log, metrics, sorted(set(covariates.values())), cfg, source)
    if len(table) < 2:
        raise DataError(source, cfg.user_col, f"{len(table)} user(s): too few to estimate a variance")
    n = int(users) if users is not None else len(table)
    out: dict[str, Any] = {"config": {"alpha": cfg.alpha, "power": cfg.power, "share": cfg.share}, "log_users": len(table), "users": n, "metrics": {}}
    for m in metrics:
        y = table[m].to_numpy(np.float64)
        mean, sd = float(y.mean()), float(y.std(ddof=1))
        row: dict[str, Any] = {"mean": mean, "sd": sd}
        if m in covariates:
            x = table[covariates[m]].to_numpy(np.float64)
            rho = float(np.corrcoef(y, x)[0, 1]) if y.std() > 0 and x.std() > 0 else 0.0
            sd = sd * float(np.sqrt(1 - rho**2))
            row.update(covariate=covariates[m], rho=rho, sd_cuped=sd)
        row["needed"] = [{"relative_effect": float(e), "effect": float(e * mean),
                          "users": float(np.ceil(users_needed(sd, sd, e * mean, cfg.alpha, cfg.power, cfg.share)))} for e in effects]
        mde = minimum_detectable_effect(sd, sd, n, cfg.alpha, cfg.power, cfg.share)
        row["mde"] = {"users": n, "effect": mde, "relative_effect": mde / mean if mean else float("nan")}
        out["metrics"][m] = row
    return out


def format_power(result: dict[str, Any]) -> str:
    c = result["config"]
    lines = [f"power of a two-sided z-test at alpha {c['alpha']}, power {c['power']}, treatment share {c['share']} "
             f"(sigma from {result['log_users']} users of the log)"]
    for m, r in result["metrics"].items():
        cuped = f", CUPED on {r['covariate']} (rho {r['rho']:.3f}) leaves sd {r['sd_cuped']:.4f}" if "covariate" in r else ""
        lines.append(f"  {m}: mean {r['mean']:.4f}, sd {r['sd']:.4f}{cuped}")
        lines += [f"    {e['relative_effect']:+.1%} ({e['effect']:+.4f}): {e['users']:,.0f} users in total" for e in r["needed"]]
        lines.append(f"    with {r['mde']['users']:,} users the smallest detectable effect is {r['mde']['effect']:.4f} ({r['mde']['relative_effect']:.1%})")
    return "\n".join(lines)

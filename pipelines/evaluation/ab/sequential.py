"""Stage `ab sequential`: monitor a running test look by look without inflating false positives.

A fixed-horizon test checked every day and stopped at the first p < α rejects a true null far
more often than α. Here each look k (each distinct day of `time_col`, or each distinct value of a
numeric column) analyses the events seen so far (per user, as `ab analyze` does); per mean metric
the Welch estimate d_k and its variance V_k give the mixture SPRT's always-valid p-value and
confidence sequence (`pipelines.evaluation.stats.always_valid_p`, `confidence_sequence`; Johari
et al., 2022). Stopping at the first look with p_k <= α keeps the error rate <= α however often one
looks (tests/test_sequential.py measures it by simulation). The mixing scale is τ = tau_sd · the
metric's pooled standard deviation at the last look: the effect size the test is most sensitive to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dssm.errors import DataError
from pipelines.evaluation.ab.analysis import ABConfig, per_user_table
from pipelines.evaluation.stats import always_valid_p, confidence_sequence, welch


def look_values(log: pd.DataFrame, time_col: str, source: str) -> pd.Series:
    """The look each row belongs to: its calendar day (UTC) for timestamps, the value itself for numbers."""
    if time_col not in log.columns:
        raise DataError(source, time_col, f"missing time column; the log has columns {list(map(str, log.columns))}")
    t = log[time_col]
    if pd.api.types.is_numeric_dtype(t.dtype) and not pd.api.types.is_bool_dtype(t.dtype):
        looks = t.astype(np.float64)
    else:
        looks = pd.to_datetime(t, errors="coerce", utc=True).dt.floor("D")
    bad = np.flatnonzero(looks.isna().to_numpy())
    if len(bad):
        raise DataError(source, time_col, "missing or unreadable times", bad)
    return looks


def sequential(log: pd.DataFrame, metrics: Sequence[str], cfg: ABConfig | None = None, time_col: str = "ts", tau_sd: float = 0.1,
               source: str = "log") -> dict[str, Any]:
    """Every look's estimate, fixed-horizon Welch p, always-valid p and confidence sequence per metric; the first
    look at which each metric may be stopped (always-valid p <= alpha), or None."""
    cfg = cfg or ABConfig()
    if not tau_sd > 0:
        raise DataError(source, None, f"tau_sd must be > 0, got {tau_sd}")
    looks = look_values(log, time_col, source)
    if cfg.event_col in log.columns:  # an event-named metric counts 0 at looks before its first event
        events = log[cfg.event_col].astype(str)
        log = log.assign(**{m: (events == m).astype(np.float64) for m in metrics if m not in log.columns and (events == m).any()})
    rows: list[dict[str, Any]] = []
    for look in sorted(looks.unique()):
        seen = log.loc[(looks <= look).to_numpy()]
        arms = seen[cfg.arm_col].astype(str)
        if (arms == cfg.control).sum() < 2 or (arms == cfg.treatment).sum() < 2:
            continue  # both arms need two rows before a variance exists
        table, _ = per_user_table(seen, list(metrics), (), cfg, source)
        is_t = (table[cfg.arm_col] == cfg.treatment).to_numpy()
        if is_t.sum() < 2 or (~is_t).sum() < 2:
            continue
        row = {"look": str(look.date()) if isinstance(look, pd.Timestamp) else float(look), "n_control": int((~is_t).sum()), "n_treatment": int(is_t.sum())}
        for m in metrics:
            y = table[m].to_numpy(np.float64)
            w = welch(y[~is_t], y[is_t], cfg.alpha)
            row[m] = {"diff": w["diff"], "var": w["se"] ** 2, "p_fixed": w["p_value"], "sd": float(y.std(ddof=1))}
        rows.append(row)
    if not rows:
        raise DataError(source, cfg.arm_col, f"no look has two users in each of {cfg.control!r} and {cfg.treatment!r}")
    out: dict[str, Any] = {"time_col": time_col, "looks": [r["look"] for r in rows], "alpha": cfg.alpha, "tau_sd": tau_sd, "metrics": {}}
    for m in metrics:
        diff = np.array([r[m]["diff"] for r in rows])
        var = np.array([r[m]["var"] for r in rows])
        tau = tau_sd * rows[-1][m]["sd"]
        if not tau > 0:
            raise DataError(source, m, "the metric does not vary: nothing to test")
        p = always_valid_p(diff, var, tau**2)
        low, high = confidence_sequence(diff, var, tau**2, cfg.alpha)
        stop = next((rows[i]["look"] for i in range(len(rows)) if p[i] <= cfg.alpha), None)
        out["metrics"][m] = {
            "tau": float(tau),
            "stopped_at": stop,
            "rows": [{"look": r["look"], "n_control": r["n_control"], "n_treatment": r["n_treatment"], "diff": float(d), "p_fixed": float(r[m]["p_fixed"]),
                      "p_always_valid": float(pv), "cs_low": float(lo), "cs_high": float(hi)} for r, d, pv, lo, hi in zip(rows, diff, p, low, high)],
        }
    return out


def format_sequential(result: dict[str, Any]) -> str:
    lines = [f"{len(result['looks'])} looks by {result['time_col']}, alpha {result['alpha']}, mixture scale tau = {result['tau_sd']} sd"]
    for m, r in result["metrics"].items():
        stop = f"may stop at look {r['stopped_at']}" if r["stopped_at"] is not None else "no look crosses the bound: keep running"
        lines.append(f"  {m} (tau {r['tau']:.4f}): {stop}")
        for x in r["rows"]:
            lines.append(f"    {x['look']}: n {x['n_control']}/{x['n_treatment']}, diff {x['diff']:+.4f}, always-valid p {x['p_always_valid']:.3f} "
                         f"(fixed-horizon p {x['p_fixed']:.3f}), CS [{x['cs_low']:+.4f}, {x['cs_high']:+.4f}]")
    return "\n".join(lines)

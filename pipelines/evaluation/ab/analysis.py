"""A/B analysis of a two-arm online test: SRM check, Welch t-test, bootstrap, delta method, CUPED, Holm.

Input is a log with one row per user (user id, arm, metric columns) or one row per
event (the same columns repeated per event, or a long `event` column naming the event);
a per-event log is first summed to one row per user. Every statistic is over users,
the randomisation unit.

For a mean metric Y (per-user value) with arms c (control) and t (treatment):

- diff = Ȳ_t − Ȳ_c, rel_diff = diff / Ȳ_c;
- Welch: se = sqrt(s_t²/n_t + s_c²/n_c), t = diff/se, df by Welch–Satterthwaite,
  two-sided p from Student t(df), CI = diff ± t_{1−α/2, df}·se (agrees with
  `scipy.stats.ttest_ind(equal_var=False)`);
- bootstrap: users resampled with replacement within each arm, percentile CI of diff;
- CUPED (with a pre-period covariate X): θ = cov(Y, X)/var(X) pooled over both arms,
  Y' = Y − θ(X − X̄), then Welch on Y' (same expectation of diff, smaller variance).

For a ratio metric R = ΣY/ΣX (e.g. responses per view) the per-arm estimate is Ȳ/X̄ and its
variance by the delta method on per-user sums (Deng et al., 2018):
Var(R) ≈ (1/n)·(s_Y²/X̄² − 2·Ȳ·s_XY/X̄³ + Ȳ²·s_X²/X̄⁴); the difference is z-tested.

The SRM check is a chi-square goodness-of-fit of user counts per arm against the
expected split; Holm's step-down adjustment runs over all primary metrics (mean and
ratio), each one's primary p being CUPED's when a covariate is given, else Welch's
(delta method for ratios).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dssm.errors import DataError, JobmatchError
from dssm.io import check_output, config_to_dict, versions, write_bytes, write_json, write_text
from dssm.checks import at_least, check_numbers
from pipelines.evaluation.stats import bootstrap_diff, cuped_theta, delta_test, holm, srm_test, welch


@dataclass
class ABConfig:
    """How to read the log and which tests to run."""

    arm_col: str = "arm"
    """Column holding each row's arm label."""
    user_col: str = "user_id"
    """Column holding the randomisation unit (a user / resume id)."""
    control: str = "control"
    """Label of the control arm in `arm_col`."""
    treatment: str = "treatment"
    """Label of the treatment arm in `arm_col`."""
    expected_ratio: float = 0.5
    """Designed share of users in the treatment arm (for the SRM check)."""
    alpha: float = 0.05
    """Significance level; intervals are (1 − alpha) two-sided."""
    n_boot: int = 2000
    """Bootstrap resamples for the percentile intervals."""
    seed: int = 0
    """Seed of the bootstrap resampling."""
    srm_alpha: float = 0.001
    """An SRM is flagged when the chi-square p-value is below this."""
    event_col: str = "event"
    """In a long per-event log, the column naming each event; a metric absent as a column counts its rows."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 0, "seed")
        for name in ("arm_col", "user_col", "control", "treatment", "event_col"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")
        if self.control == self.treatment:
            raise ValueError(f"control and treatment labels must differ, both are {self.control!r}")
        if not 0 < self.expected_ratio < 1:
            raise ValueError(f"expected_ratio must be in (0, 1), got {self.expected_ratio}")
        for name in ("alpha", "srm_alpha"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be in (0, 1), got {getattr(self, name)}")
        if self.n_boot < 10:
            raise ValueError(f"n_boot must be >= 10, got {self.n_boot}")


# ----------------------------------------------------------------------------- input checks and aggregation


def _arm_error(arms: list[str], cfg: ABConfig, source: str) -> DataError | None:
    expected = [cfg.control, cfg.treatment]
    if len(arms) > 2:
        return DataError(source, cfg.arm_col, f"found {len(arms)} arms {arms}; expected exactly two: control {cfg.control!r} and treatment {cfg.treatment!r}")
    missing = [a for a in expected if a not in arms]
    if not missing:
        return None
    if len(arms) <= 1:
        return DataError(source, cfg.arm_col, f"only one arm {arms} in the log; arm {missing[0]!r} has no users")
    return DataError(source, cfg.arm_col, f"arm {missing[0]!r} has no users (arms present: {arms}); set the control/treatment labels")


def metric_column(log: pd.DataFrame, col: str, source: str) -> pd.Series:
    """`log[col]` as float64, or a DataError naming the first non-numeric / missing rows."""
    s = log[col]
    if pd.api.types.is_bool_dtype(s):
        s = s.astype(np.float64)
    if not pd.api.types.is_numeric_dtype(s):
        conv = pd.to_numeric(s, errors="coerce")
        bad = np.flatnonzero(conv.isna().to_numpy() & s.notna().to_numpy())
        if len(bad):
            example = s.iloc[bad[0]]
            raise DataError(source, col, f"non-numeric values (e.g. {example!r}); a metric must be a number per row", rows=bad.tolist())
        s = conv
    s = s.astype(np.float64)
    missing = np.flatnonzero(s.isna().to_numpy())
    if len(missing):
        raise DataError(source, col, "missing values in a metric column", rows=missing.tolist())
    inf = np.flatnonzero(~np.isfinite(s.to_numpy()))
    if len(inf):
        raise DataError(source, col, "infinite values in a metric column", rows=inf.tolist())
    return s


def per_user_table(
    log: pd.DataFrame, columns: Sequence[str], covariate_cols: Sequence[str] = (), cfg: ABConfig | None = None, source: str = "log"
) -> tuple[pd.DataFrame, str]:
    """Validate the log and return (one row per user: user, arm, columns..., covariates..., kind).

    kind is 'per-user' when every user has one row, else 'per-event' (metric columns summed per
    user; a metric absent as a column but present as a value of `event_col` counts those rows;
    covariates must be constant within a user and are taken once).
    """
    cfg = cfg or ABConfig()
    if not isinstance(log, pd.DataFrame):
        raise JobmatchError(f"{source}: expected a table, got {type(log).__name__}")
    for col in (cfg.user_col, cfg.arm_col):
        if col not in log.columns:
            raise DataError(source, col, f"missing column; the log has columns {list(map(str, log.columns))}")
    if len(log) == 0:
        raise DataError(source, None, "the log has no rows")
    for col in (cfg.user_col, cfg.arm_col):
        nulls = np.flatnonzero(log[col].isna().to_numpy())
        if len(nulls):
            raise DataError(source, col, "missing values", rows=nulls.tolist())
    arm = log[cfg.arm_col].astype(str)
    arms = sorted(arm.unique().tolist())
    err = _arm_error(arms, cfg, source)
    if err is not None:
        raise err
    user = log[cfg.user_col].astype(str)
    data = {cfg.user_col: user.to_numpy(), cfg.arm_col: arm.to_numpy()}
    for col in columns:
        if col in log.columns:
            data[col] = metric_column(log, col, source).to_numpy()
        elif cfg.event_col in log.columns and (log[cfg.event_col].astype(str) == col).any():
            data[col] = (log[cfg.event_col].astype(str) == col).to_numpy(np.float64)
        else:
            events = f"; {cfg.event_col!r} values: {sorted(log[cfg.event_col].astype(str).unique().tolist())[:10]}" if cfg.event_col in log.columns else ""
            raise DataError(source, col, f"missing metric column; the log has columns {list(map(str, log.columns))}{events}")
    for col in covariate_cols:
        if col not in log.columns:
            raise DataError(source, col, f"missing covariate column; the log has columns {list(map(str, log.columns))}")
        data[col] = metric_column(log, col, source).to_numpy()
    frame = pd.DataFrame(data)
    if not frame[cfg.user_col].duplicated().any():
        return frame.reset_index(drop=True), "per-user"
    g = frame.groupby(cfg.user_col, sort=True)
    arms_per_user = g[cfg.arm_col].nunique()
    if (arms_per_user > 1).any():
        bad_users = set(arms_per_user.index[arms_per_user > 1])
        rows = np.flatnonzero(frame[cfg.user_col].isin(bad_users).to_numpy())
        raise DataError(source, cfg.arm_col, f"{len(bad_users)} user(s) appear in both arms (e.g. {sorted(bad_users)[0]!r})", rows=rows.tolist())
    for col in covariate_cols:
        varying = g[col].nunique()
        if (varying > 1).any():
            bad_users = set(varying.index[varying > 1])
            rows = np.flatnonzero(frame[cfg.user_col].isin(bad_users).to_numpy())
            raise DataError(source, col, "a pre-period covariate must be constant within a user in a per-event log", rows=rows.tolist())
    out = g[cfg.arm_col].first().to_frame()
    if columns:
        out = out.join(g[list(dict.fromkeys(columns))].sum())
    if covariate_cols:
        out = out.join(g[list(dict.fromkeys(covariate_cols))].first())
    return out.reset_index(), "per-event"


# ----------------------------------------------------------------------------- analysis


def _arm_summary(x: np.ndarray) -> dict[str, float]:
    return {"n": int(len(x)), "mean": float(x.mean()), "std": float(x.std(ddof=1)) if len(x) > 1 else float("nan")}


def _rel(diff: float, base: float) -> float:
    return float(diff / base) if base != 0 else float("nan")


def _parse_ratio(spec: tuple[str, str] | str) -> tuple[str, str]:
    if isinstance(spec, str):
        num, sep, den = spec.partition("/")
        if not sep or not num or not den:
            raise JobmatchError(f"ratio metric {spec!r} must look like numerator/denominator, e.g. responses/views")
        return num, den
    num, den = spec
    return str(num), str(den)


def analyze(
    log: pd.DataFrame,
    metrics: Sequence[str],
    ratio_metrics: Sequence[tuple[str, str] | str] = (),
    covariates: Mapping[str, str] | None = None,
    cfg: ABConfig | None = None,
    source: str = "log",
) -> dict[str, Any]:
    """Analyse a two-arm test; returns a JSON-serialisable dict (see the module docstring for the maths).

    `metrics`: per-user mean metrics (column names, or event names in a long log);
    `ratio_metrics`: (numerator, denominator) pairs or 'num/den' strings;
    `covariates`: metric -> pre-period covariate column for CUPED.

    >>> log = pd.DataFrame({"user_id": list("abcdef"), "arm": ["control", "treatment"] * 3, "y": [1, 2, 1, 3, 2, 2]})
    >>> r = analyze(log, ["y"], cfg=ABConfig(n_boot=100))
    >>> round(r["metrics"]["y"]["diff"], 3)
    1.0
    """
    cfg = cfg or ABConfig()
    metrics = list(dict.fromkeys(metrics))
    ratios = [_parse_ratio(r) for r in ratio_metrics]
    covariates = dict(covariates or {})
    if not metrics and not ratios:
        raise JobmatchError("no metrics to analyse: give at least one metric or ratio metric")
    unknown_cov = sorted(set(covariates) - set(metrics))
    if unknown_cov:
        raise JobmatchError(f"covariate(s) given for {unknown_cov}, which are not mean metrics being analysed {metrics}")
    needed = list(dict.fromkeys([*metrics, *(c for pair in ratios for c in pair)]))
    users, kind = per_user_table(log, needed, list(dict.fromkeys(covariates.values())), cfg, source)
    is_t = (users[cfg.arm_col] == cfg.treatment).to_numpy()
    n_c, n_t = int((~is_t).sum()), int(is_t.sum())
    for label, n in ((cfg.control, n_c), (cfg.treatment, n_t)):
        if n < 2:
            raise DataError(source, cfg.arm_col, f"arm {label!r} has {n} user(s); at least 2 per arm are needed for a variance")

    srm = srm_test(n_c, n_t, cfg.expected_ratio) | {"alpha": cfg.srm_alpha}
    srm["mismatch"] = bool(srm["p_value"] < cfg.srm_alpha)
    warnings = []
    if srm["mismatch"]:
        warnings.append(
            f"sample ratio mismatch: {n_t}/{n_c + n_t} = {srm['observed_ratio']:.4f} in treatment vs expected "
            f"{cfg.expected_ratio} (chi-square p = {srm['p_value']:.2e}); the assignment is suspect and effects may be biased"
        )

    out_metrics: dict[str, dict[str, Any]] = {}
    for i, m in enumerate(metrics):
        y = users[m].to_numpy(np.float64)
        yc, yt = y[~is_t], y[is_t]
        w = welch(yc, yt, cfg.alpha)
        res: dict[str, Any] = {
            "kind": "mean",
            "control": _arm_summary(yc),
            "treatment": _arm_summary(yt),
            "diff": w["diff"],
            "rel_diff": _rel(w["diff"], float(yc.mean())),
            "welch": {k: w[k] for k in ("se", "t", "df", "p_value", "ci_low", "ci_high")},
            "bootstrap": bootstrap_diff(yc, yt, cfg.n_boot, cfg.seed + i, cfg.alpha),
            "cuped": None,
            "primary_test": "welch",
            "p_value": w["p_value"],
        }
        if m in covariates:
            cov = covariates[m]
            x = users[cov].to_numpy(np.float64)
            if x.var() == 0:
                raise DataError(source, cov, "the CUPED covariate is constant across users; it cannot reduce variance")
            theta = cuped_theta(y, x)
            y_adj = y - theta * (x - x.mean())
            wc = welch(y_adj[~is_t], y_adj[is_t], cfg.alpha)
            var_y, var_adj = y.var(ddof=1), y_adj.var(ddof=1)
            res["cuped"] = {
                "covariate": cov,
                "theta": theta,
                "diff": wc["diff"],
                "rel_diff": _rel(wc["diff"], float(yc.mean())),
                "se": wc["se"],
                "t": wc["t"],
                "df": wc["df"],
                "p_value": wc["p_value"],
                "ci_low": wc["ci_low"],
                "ci_high": wc["ci_high"],
                "variance_reduction": float(1 - var_adj / var_y) if var_y > 0 else 0.0,
                "bootstrap": bootstrap_diff(y_adj[~is_t], y_adj[is_t], cfg.n_boot, cfg.seed + i, cfg.alpha),
            }
            res["primary_test"], res["p_value"] = "cuped", wc["p_value"]
        out_metrics[m] = res

    for j, (num, den) in enumerate(ratios):
        name = f"{num}/{den}"
        yn, yd = users[num].to_numpy(np.float64), users[den].to_numpy(np.float64)
        for label, sel in ((cfg.control, ~is_t), (cfg.treatment, is_t)):
            if yd[sel].sum() == 0:
                raise DataError(source, den, f"ratio {name}: the denominator sums to 0 in arm {label!r}")
        d = delta_test(yn[~is_t], yd[~is_t], yn[is_t], yd[is_t], cfg.alpha)
        out_metrics[name] = {
            "kind": "ratio",
            "numerator": num,
            "denominator": den,
            "control": {"n": n_c, "mean": d["control"], "sum_num": float(yn[~is_t].sum()), "sum_den": float(yd[~is_t].sum())},
            "treatment": {"n": n_t, "mean": d["treatment"], "sum_num": float(yn[is_t].sum()), "sum_den": float(yd[is_t].sum())},
            "diff": d["diff"],
            "rel_diff": _rel(d["diff"], d["control"]),
            "delta": {k: d[k] for k in ("se", "z", "p_value", "ci_low", "ci_high")},
            "bootstrap": bootstrap_diff(
                np.stack([yn[~is_t], yd[~is_t]], 1), np.stack([yn[is_t], yd[is_t]], 1), cfg.n_boot, cfg.seed + len(metrics) + j, cfg.alpha, ratio=True
            ),
            "cuped": None,
            "primary_test": "delta",
            "p_value": d["p_value"],
        }

    names = list(out_metrics)
    adj = holm([out_metrics[n]["p_value"] for n in names])
    for n, p in zip(names, adj):
        out_metrics[n]["p_holm"] = float(p)
        out_metrics[n]["significant"] = bool(p < cfg.alpha)
    return {
        "source": str(source),
        "log_kind": kind,
        "n_rows": int(len(log)),
        "n_users": int(len(users)),
        "config": config_to_dict(cfg),
        "versions": versions(),
        "srm": srm,
        "metrics": out_metrics,
        "warnings": warnings,
    }


def read_log(path: str | Path) -> pd.DataFrame:
    """Read a Parquet (or CSV) log; a missing or unreadable file is a one-line error."""
    path = Path(path)
    if not path.exists():
        raise JobmatchError(f"{path}: log file not found")
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise JobmatchError(f"{path}: cannot read the log: {e}") from e


# ----------------------------------------------------------------------------- report


def _f(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{round(float(x), digits) + 0.0:.{digits}g}" if abs(float(x)) >= 1e4 else f"{round(float(x), digits) + 0.0:.{digits}f}"


def _p(x: float) -> str:
    return "n/a" if not math.isfinite(x) else (f"{x:.2e}" if x < 1e-4 else f"{x:.4f}")


def table_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the per-metric table shared by the text, Markdown and HTML outputs."""
    alpha = result["config"]["alpha"]
    level = f"{100 * (1 - alpha):g}%"
    header = ["metric", "control", "treatment", "diff", "rel", f"{level} CI", f"bootstrap {level} CI", "CUPED diff [CI]", "p", "p (Holm)"]
    rows = []
    for name, r in result["metrics"].items():
        test = r["delta"] if r["kind"] == "ratio" else r["welch"]
        cup = r["cuped"]
        rows.append(
            [
                name,
                _f(r["control"]["mean"]),
                _f(r["treatment"]["mean"]),
                f"{round(r['diff'], 4) + 0.0:+.4f}",
                "n/a" if not math.isfinite(r["rel_diff"]) else f"{100 * r['rel_diff']:+.2f}%",
                f"[{_f(test['ci_low'])}, {_f(test['ci_high'])}]",
                f"[{_f(r['bootstrap']['ci_low'])}, {_f(r['bootstrap']['ci_high'])}]",
                f"{cup['diff']:+.4f} [{_f(cup['ci_low'])}, {_f(cup['ci_high'])}]" if cup else "",
                _p(r["p_value"]) + f" ({r['primary_test']})",
                _p(r["p_holm"]) + (" *" if r["significant"] else ""),
            ]
        )
    return header, rows


def _srm_line(result: dict[str, Any]) -> str:
    s = result["srm"]
    verdict = "MISMATCH" if s["mismatch"] else "ok"
    return (
        f"SRM {verdict}: control {s['n_control']}, treatment {s['n_treatment']} (treatment share {s['observed_ratio']:.4f}, "
        f"expected {s['expected_ratio']}), chi-square {s['chi2']:.3f}, p = {_p(s['p_value'])}"
    )


def format_table(result: dict[str, Any]) -> str:
    """Plain-text summary: the SRM line, then one row per metric, then warnings."""
    header, rows = table_rows(result)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [_srm_line(result), "  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines += [f"warning: {w}" for w in result["warnings"]]
    return "\n".join(lines)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def plot_effects(result: dict[str, Any]) -> bytes:
    """Forest plot: each metric's relative difference with its test CI, bootstrap CI and CUPED CI (as % of control)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["metrics"])
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.7 * len(names)))
    for i, name in enumerate(names):
        r = result["metrics"][name]
        base = r["control"]["mean"] or float("nan")
        test = r["delta"] if r["kind"] == "ratio" else r["welch"]
        rows = [("test", test, r["diff"], "C0"), ("bootstrap", r["bootstrap"], r["diff"], "C1")]
        if r["cuped"]:
            rows.append(("CUPED", r["cuped"], r["cuped"]["diff"], "C2"))
        for j, (label, ci, point, color) in enumerate(rows):
            y = i + 0.2 * (j - 1)
            lo, hi = 100 * ci["ci_low"] / base, 100 * ci["ci_high"] / base
            ax.errorbar([100 * point / base], [y], xerr=[[100 * point / base - lo], [hi - 100 * point / base]], fmt="o", color=color, capsize=3, label=label if i == 0 else None)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel(f"treatment − control, % of control ({100 * (1 - result['config']['alpha']):g}% CI)")
    ax.legend(loc="best", fontsize=8)
    data = _png(fig)
    plt.close(fig)
    return data


def plot_arms(result: dict[str, Any]) -> bytes:
    """Per-metric mean of each arm (one panel per metric)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["metrics"])
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.8), squeeze=False)
    cfg = result["config"]
    for ax, name in zip(axes[0], names):
        r = result["metrics"][name]
        ax.bar([cfg["control"], cfg["treatment"]], [r["control"]["mean"], r["treatment"]["mean"]], color=["C7", "C0"])
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    data = _png(fig)
    plt.close(fig)
    return data


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    esc = [[c.replace("|", "\\|") for c in r] for r in [header, *rows]]
    return "\n".join(["| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in esc[1:])])


def _notes(result: dict[str, Any]) -> list[str]:
    cfg = result["config"]
    return [
        f"Source: `{result['source']}` ({result['log_kind']} log, {result['n_rows']} rows, {result['n_users']} users).",
        f"Arms: control `{cfg['control']}`, treatment `{cfg['treatment']}`; alpha {cfg['alpha']}, {cfg['n_boot']} bootstrap resamples, seed {cfg['seed']}.",
        "Mean metrics: Welch t-test; ratio metrics: delta method (z-test); CUPED with θ pooled across arms when a covariate is given; "
        "Holm adjustment across all metrics of the table (* = significant after Holm).",
    ]


def render_markdown(result: dict[str, Any], images: Mapping[str, str]) -> str:
    header, rows = table_rows(result)
    parts = ["# A/B analysis", "", *_notes(result), "", f"**{_srm_line(result)}**", "", _md_table(header, rows), ""]
    parts += [f"> warning: {w}" for w in result["warnings"]]
    parts += ["", *(f"![{name}]({file})" for name, file in images.items()), ""]
    return "\n".join(parts)


def render_html(result: dict[str, Any], images: Mapping[str, bytes]) -> str:
    header, rows = table_rows(result)
    table = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    table += "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>"
    imgs = "".join(f'<p><img alt="{html.escape(n)}" src="data:image/png;base64,{base64.b64encode(b).decode()}"></p>' for n, b in images.items())
    notes = "".join(f"<p>{html.escape(n).replace('`', '')}</p>" for n in _notes(result))
    warn = "".join(f'<p class="warn">warning: {html.escape(w)}</p>' for w in result["warnings"])
    style = "body{font-family:sans-serif;max-width:1100px;margin:2em auto}td,th{border:1px solid #ccc;padding:3px 6px}table{border-collapse:collapse}.warn{color:#b00}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>A/B analysis</title><style>{style}</style></head><body>"
        f"<h1>A/B analysis</h1>{notes}<p><b>{html.escape(_srm_line(result))}</b></p>{table}{warn}{imgs}</body></html>\n"
    )


def write_report(result: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write result.json, report.md, report.html, effects.png and arms.png into `out_dir`, each atomically."""
    out_dir = Path(out_dir)
    pngs = {"effects": plot_effects(result), "arms": plot_arms(result)}
    files = {name: out_dir / f"{name}.png" for name in pngs}
    for name, data in pngs.items():
        write_bytes(files[name], data)
    files["md"], files["html"], files["json"] = out_dir / "report.md", out_dir / "report.html", out_dir / "result.json"
    write_text(files["md"], render_markdown(result, {n: f"{n}.png" for n in pngs}))
    write_text(files["html"], render_html(result, pngs))
    write_json(files["json"], result)
    return files


def analyze_log(cfg: ABConfig, log_path: str | Path, metrics: Sequence[str], ratios: Sequence[str] = (), covariates: Mapping[str, str] | None = None,
                out: str | Path | None = None) -> tuple[dict[str, Any], dict[str, Path]]:
    """Stage `ab analyze`: read the log, analyse it (`analyze`), write the report to `out` (default: LOG folder/ab_report)."""
    log_path = Path(log_path)
    out = check_output(out if out is not None else log_path.parent / "ab_report", [log_path], force=True)  # a report, rewritten freely
    result = analyze(read_log(log_path), list(metrics), list(ratios), dict(covariates or {}), cfg, source=str(log_path))
    return result, write_report(result, out)

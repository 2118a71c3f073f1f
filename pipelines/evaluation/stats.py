"""Every statistic of the project in one place: bootstrap intervals and p-values, and the tests of an A/B analysis.

Bootstrap (users, or groups, resampled with replacement; `resample_means` draws in
memory-bounded blocks, one seeded generator per call):

- CI: the percentile interval, quantiles alpha/2 and 1 - alpha/2 of the resampled statistic.
- p-value of "difference = 0" (`bootstrap_p_value`), the one definition every module reports
  under the key `p_value`: p = min(1, 2 * min(P*(d <= 0), P*(d >= 0))) over the resampled
  differences d — the smallest alpha at which the percentile CI would exclude 0.

Tests of a two-arm experiment (users are the randomisation unit): SRM chi-square
(`scipy.stats.chisquare`), Welch's t-test (agrees with `scipy.stats.ttest_ind(equal_var=False)`),
the delta method for ratio metrics (Deng et al., 2018), the CUPED coefficient and Holm's
step-down adjustment; for monitoring a running test, the mixture SPRT's always-valid p-values
and confidence sequence (Johari et al., 2022), and the power of a z-test (users needed, MDE).

>>> r = paired_bootstrap(np.zeros(50), np.ones(50), n_boot=200)
>>> (r["diff"], r["ci_low"], r["ci_high"], r["p_value"])
(1.0, 1.0, 1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

BOOT_CHUNK_CELLS = 4_000_000
"""Bootstrap resamples are drawn in blocks of at most this many indices (about 32 MB of int64)."""


def resample_means(cols: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Column means of `cols` over `n_boot` resamples of its rows with replacement: (n_boot,) for (n,), (n_boot, m) for (n, m)."""
    cols = np.asarray(cols, dtype=np.float64)
    flat = cols.ndim == 1
    x = cols.reshape(len(cols), -1)  # (n, m)
    n, width = x.shape
    block = max(1, BOOT_CHUNK_CELLS // max(n * width, 1))
    out = np.empty((n_boot, width))
    for start in range(0, n_boot, block):
        stop = min(n_boot, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))  # (b, n)
        out[start:stop] = x[idx].mean(axis=1)  # (b, m)
    return out[:, 0] if flat else out


def percentile_interval(draws: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Quantiles alpha/2 and 1 - alpha/2 of the finite draws; (nan, nan) when none is finite."""
    draws = np.asarray(draws, dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return float("nan"), float("nan")
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_p_value(draws: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "difference = 0": min(1, 2 * min(P(d <= 0), P(d >= 0))) over the finite draws."""
    draws = np.asarray(draws, dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return float("nan")
    return float(min(1.0, 2 * min(np.mean(draws <= 0), np.mean(draws >= 0))))


def check_values(x: np.ndarray, n_boot: int, alpha: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    if len(x) == 0:
        raise ValueError("bootstrap needs at least one value")
    if not np.isfinite(x).all():
        raise ValueError(f"bootstrap values must be finite; {int((~np.isfinite(x)).sum())} are NaN/inf")
    if n_boot < 1 or not 0 < alpha < 1:
        raise ValueError(f"need n_boot >= 1 and 0 < alpha < 1, got n_boot={n_boot}, alpha={alpha}")
    return x


def bootstrap_ci(x: np.ndarray, n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap (1-alpha) CI of mean(x): quantiles alpha/2, 1-alpha/2 of resampled means."""
    x = check_values(x, n_boot, alpha)
    return percentile_interval(resample_means(x, n_boot, np.random.default_rng(seed)), alpha)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> dict[str, float]:
    """Paired bootstrap of mean(b) - mean(a) over users (a[i], b[i] are the same user under two arms).

    Users are resampled with replacement; d* = mean(b* - a*). CI: `percentile_interval` of d*;
    p-value: `bootstrap_p_value` of d* (the module's one definition).
    """
    a = check_values(a, n_boot, alpha)
    b = check_values(b, n_boot, alpha)
    if len(a) != len(b):
        raise ValueError(f"paired arrays differ in length: {len(a)} vs {len(b)}")
    d = b - a
    diff = float(d.mean())
    boot = resample_means(d, n_boot, np.random.default_rng(seed))
    lo, hi = percentile_interval(boot, alpha)
    return {
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "diff": diff,
        "ci_low": lo,
        "ci_high": hi,
        "p_value": bootstrap_p_value(boot),
    }


def weighted_bootstrap(values: Mapping[str, np.ndarray], weights: np.ndarray, n_boot: int, seed: int) -> dict[str, np.ndarray]:
    """Bootstrap distribution of weighted means Σ w_g x_g / Σ w_g, one shared draw of groups for all arms.

    values: arm -> (G,) per-group values (NaN groups must already be removed); weights (G,).
    Returns arm -> (n_boot,) resampled weighted means (paired: the same groups in every arm).
    """
    w = np.asarray(weights, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(w), size=(n_boot, len(w)))  # (B, G)
    counts = np.apply_along_axis(np.bincount, 1, idx, minlength=len(w)).astype(np.float64)  # (B, G)
    denom = counts @ w  # (B,)
    denom[denom == 0] = np.nan
    return {arm: (counts @ (w * np.asarray(x, dtype=np.float64))) / denom for arm, x in values.items()}


def bootstrap_diff(
    cols_c: np.ndarray, cols_t: np.ndarray, n_boot: int, seed: int, alpha: float, ratio: bool = False
) -> dict[str, float]:
    """Percentile bootstrap CI of the treatment − control difference, users resampled within each arm.

    `cols_*` is (n,) for a mean metric or (n, 2) = (numerator, denominator) for a ratio metric
    (`ratio=True`: statistic mean(num)/mean(den) per resample).
    """
    rng = np.random.default_rng(seed)
    stats_arm = []
    for cols in (np.asarray(cols_c, dtype=np.float64), np.asarray(cols_t, dtype=np.float64)):
        means = resample_means(cols.reshape(len(cols), -1), n_boot, rng)  # (B, m)
        stats_arm.append(means[:, 0] / means[:, 1] if ratio else means[:, 0])
    d = stats_arm[1] - stats_arm[0]
    lo, hi = percentile_interval(d, alpha)
    return {"ci_low": lo, "ci_high": hi, "n_boot": int(np.isfinite(d).sum())}


def srm_test(n_control: int, n_treatment: int, expected_ratio: float = 0.5) -> dict[str, float]:
    """Chi-square goodness of fit of (n_control, n_treatment) to the split (1 − r, r); r = expected treatment share."""
    from scipy import stats  # imported where used: scipy.stats costs ~0.6 s, every `jobmatch` start would pay it

    n = n_control + n_treatment
    expected = np.array([n * (1 - expected_ratio), n * expected_ratio])
    chi2, p = stats.chisquare([n_control, n_treatment], f_exp=expected)
    return {
        "n_control": int(n_control),
        "n_treatment": int(n_treatment),
        "expected_ratio": float(expected_ratio),
        "observed_ratio": float(n_treatment / n) if n else float("nan"),
        "chi2": float(chi2),
        "p_value": float(p),
    }


def welch(y_c: np.ndarray, y_t: np.ndarray, alpha: float = 0.05) -> dict[str, np.ndarray | float]:
    """Welch's unequal-variance t-test of mean(y_t) − mean(y_c) along the last axis (batched over leading axes).

    Returns diff, se, t, df, p_value, ci_low, ci_high (floats for 1-D input, arrays otherwise).
    A zero standard error gives p = 1 when diff = 0 and p = 0 otherwise, with a zero-width CI.
    """
    from scipy import stats  # imported where used: scipy.stats costs ~0.6 s, every `jobmatch` start would pay it

    y_c, y_t = np.asarray(y_c, dtype=np.float64), np.asarray(y_t, dtype=np.float64)
    n_c, n_t = y_c.shape[-1], y_t.shape[-1]
    v_c, v_t = y_c.var(axis=-1, ddof=1) / n_c, y_t.var(axis=-1, ddof=1) / n_t
    diff = y_t.mean(axis=-1) - y_c.mean(axis=-1)
    se = np.sqrt(v_c + v_t)
    ok = se > 0
    safe_se = np.where(ok, se, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(ok, (v_c + v_t) ** 2 / (v_c**2 / (n_c - 1) + v_t**2 / (n_t - 1)), np.inf)
    t = np.where(ok, diff / safe_se, 0.0)
    p = np.where(ok, 2 * stats.t.sf(np.abs(t), df), np.where(diff == 0, 1.0, 0.0))
    half = np.where(ok, stats.t.ppf(1 - alpha / 2, df) * se, 0.0)
    out = {"diff": diff, "se": se, "t": t, "df": df, "p_value": p, "ci_low": diff - half, "ci_high": diff + half}
    return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in out.items()}


def delta_ratio(num: np.ndarray, den: np.ndarray) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Ratio ΣY/ΣX over users and its delta-method variance, along the last axis.

    Var ≈ (1/n)(s_Y²/X̄² − 2·Ȳ·s_XY/X̄³ + Ȳ²·s_X²/X̄⁴) with sample (co)variances (ddof=1).
    """
    y, x = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    n = y.shape[-1]
    my, mx = y.mean(axis=-1), x.mean(axis=-1)
    vy, vx = y.var(axis=-1, ddof=1), x.var(axis=-1, ddof=1)
    cxy = ((y - my[..., None]) * (x - mx[..., None])).sum(axis=-1) / (n - 1)
    ratio = my / mx
    var = (vy / mx**2 - 2 * my * cxy / mx**3 + my**2 * vx / mx**4) / n
    return (float(ratio), float(var)) if np.ndim(ratio) == 0 else (ratio, var)


def delta_test(num_c: np.ndarray, den_c: np.ndarray, num_t: np.ndarray, den_t: np.ndarray, alpha: float = 0.05) -> dict[str, Any]:
    """z-test of R_t − R_c with delta-method variances; batched along the last axis like `welch`."""
    from scipy import stats  # imported where used: scipy.stats costs ~0.6 s, every `jobmatch` start would pay it

    r_c, var_c = delta_ratio(num_c, den_c)
    r_t, var_t = delta_ratio(num_t, den_t)
    diff = np.asarray(r_t) - np.asarray(r_c)
    se = np.sqrt(np.asarray(var_c) + np.asarray(var_t))
    ok = se > 0
    z = np.where(ok, diff / np.where(ok, se, 1.0), 0.0)
    p = np.where(ok, 2 * stats.norm.sf(np.abs(z)), np.where(diff == 0, 1.0, 0.0))
    half = stats.norm.ppf(1 - alpha / 2) * se
    out = {"control": r_c, "treatment": r_t, "diff": diff, "se": se, "z": z, "p_value": p, "ci_low": diff - half, "ci_high": diff + half}
    return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in out.items()}


def cuped_theta(y: np.ndarray, x: np.ndarray) -> np.ndarray | float:
    """θ = cov(Y, X) / var(X) over all users of both arms (pooled), along the last axis."""
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    xc = x - x.mean(axis=-1, keepdims=True)
    theta = ((y - y.mean(axis=-1, keepdims=True)) * xc).sum(axis=-1) / (xc**2).sum(axis=-1)
    return float(theta) if np.ndim(theta) == 0 else theta


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values: p̃_(i) = max_{j≤i} min(1, (m − j + 1)·p_(j)) in ascending order."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adj = np.empty(m)
    adj[order] = np.maximum.accumulate(scaled)
    return adj


# ----------------------------------------------------------------------------- sequential tests and power


def msprt_log_lr(diff: np.ndarray, var: np.ndarray, tau2: float) -> np.ndarray:
    """log Λ_k of the normal-mixture SPRT at each look k (Johari, Koomen, Pekelis & Walsh, "Always valid
    inference", Operations Research 2022; the mixing distribution of the effect is N(0, tau2)):

        Λ_k = sqrt(V_k / (V_k + τ²)) · exp(τ² · d_k² / (2 · V_k · (V_k + τ²)))

    with d_k the estimated effect and V_k its variance (Welch se²) on the data seen by look k.
    Under "effect = 0", Λ is a nonnegative martingale, so P(sup_k Λ_k >= 1/α) <= α (Ville).
    """
    diff, var = np.asarray(diff, dtype=np.float64), np.asarray(var, dtype=np.float64)
    if not tau2 > 0:
        raise ValueError(f"tau2 must be > 0, got {tau2}")
    var = np.where(var > 0, var, np.nan)
    return 0.5 * np.log(var / (var + tau2)) + tau2 * diff**2 / (2 * var * (var + tau2))


def always_valid_p(diff: np.ndarray, var: np.ndarray, tau2: float) -> np.ndarray:
    """Always-valid p-values p_k = min(1, min_{j<=k} 1/Λ_j) (`msprt_log_lr`): stopping at the first look with
    p_k <= α, however often one looks, keeps the false-positive rate <= α. A look without variance keeps p."""
    log_lr = np.nan_to_num(msprt_log_lr(diff, var, tau2), nan=-np.inf)
    return np.minimum(1.0, np.exp(-np.maximum.accumulate(log_lr, axis=-1)))


def confidence_sequence(diff: np.ndarray, var: np.ndarray, tau2: float, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """The (1 − α) confidence sequence dual to the mSPRT: {θ : Λ_k(θ) < 1/α}, i.e.
    d_k ± sqrt(V_k (V_k + τ²) / τ² · (2 log(1/α) + log((V_k + τ²) / V_k))), intersected over looks so far;
    it covers the true effect at every look at once with probability >= 1 − α."""
    diff, var = np.asarray(diff, dtype=np.float64), np.asarray(var, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = np.sqrt(var * (var + tau2) / tau2 * (2 * np.log(1 / alpha) + np.log((var + tau2) / var)))
    low, high = np.where(var > 0, diff - half, -np.inf), np.where(var > 0, diff + half, np.inf)
    return np.maximum.accumulate(low, axis=-1), np.minimum.accumulate(high, axis=-1)


def users_needed(sd_control: float, sd_treatment: float, effect: float, alpha: float = 0.05, power: float = 0.8, share: float = 0.5) -> float:
    """Users in total for a two-sided z-test at level α to detect `effect` (difference of means) with `power`,
    a `share` of them in treatment: n = (z_{1−α/2} + z_{power})² · (σ_c²/(1 − share) + σ_t²/share) / effect²."""
    if not effect:
        return float("inf")
    return float(_z_sum(alpha, power) ** 2 * (sd_control**2 / (1 - share) + sd_treatment**2 / share) / effect**2)


def users_needed_one_sample(sd: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Users for a two-sided one-sample z-test of a per-user mean `effect` (a within-user difference, as in
    interleaving) with `power`: n = (z_{1−α/2} + z_{power})² · σ² / effect²."""
    if not effect:
        return float("inf")
    return float(_z_sum(alpha, power) ** 2 * sd**2 / effect**2)


def _z_sum(alpha: float, power: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def minimum_detectable_effect(sd_control: float, sd_treatment: float, n_users: float, alpha: float = 0.05, power: float = 0.8,
                              share: float = 0.5) -> float:
    """The smallest difference of means that `n_users` in total detect (the inverse of `users_needed`)."""
    return float(_z_sum(alpha, power) * np.sqrt(sd_control**2 / ((1 - share) * n_users) + sd_treatment**2 / (share * n_users)))

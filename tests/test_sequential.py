"""Monitoring a running test: the mixture SPRT keeps its false-positive rate under alpha however often one looks
(measured by simulation against naive daily peeking), its confidence sequence covers the truth at every look,
and the power formulas agree with statsmodels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines import cli
from pipelines.evaluation.ab.analysis import ABConfig
from pipelines.evaluation.ab.power import PowerConfig, power_report
from pipelines.evaluation.ab.sequential import sequential
from pipelines.evaluation.stats import always_valid_p, confidence_sequence, minimum_detectable_effect, users_needed

N_SIM, LOOKS, PER_LOOK, ALPHA = 600, 30, 40, 0.05
"""Simulated experiments, daily looks, new users per arm per look."""


def _looks(effect: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N_SIM, LOOKS) running difference of means and its variance, unit-variance users arriving each look."""
    rng = np.random.default_rng(seed)
    c = rng.normal(0.0, 1.0, (N_SIM, LOOKS, PER_LOOK))
    t = rng.normal(effect, 1.0, (N_SIM, LOOKS, PER_LOOK))
    n = PER_LOOK * np.arange(1, LOOKS + 1)

    def running(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, s2 = np.cumsum(x.sum(-1), axis=1), np.cumsum((x**2).sum(-1), axis=1)
        mean = s / n
        return mean, (s2 - n * mean**2) / (n - 1) / n

    (mc, vc), (mt, vt) = running(c), running(t)
    return mt - mc, vc + vt


def test_always_valid_p_keeps_alpha_under_daily_peeking_where_the_fixed_test_does_not():
    from scipy import stats

    diff, var = _looks(0.0, seed=1)
    tau2 = 0.1**2
    p = always_valid_p(diff, var, tau2)
    assert np.all(np.diff(p, axis=1) <= 0)  # a running minimum: once small, it stays small
    sequential_fp = float((p <= ALPHA).any(axis=1).mean())
    naive_fp = float((2 * stats.norm.sf(np.abs(diff / np.sqrt(var))) <= ALPHA).any(axis=1).mean())
    se = np.sqrt(ALPHA * (1 - ALPHA) / N_SIM)
    assert sequential_fp <= ALPHA + 2 * se, sequential_fp
    assert naive_fp > 3 * ALPHA, naive_fp  # peeking at a fixed-horizon test: ~0.3 over 30 looks


def test_always_valid_p_detects_a_real_effect_and_the_confidence_sequence_covers_it():
    diff, var = _looks(0.2, seed=2)
    p = always_valid_p(diff, var, 0.1**2)
    assert float((p <= ALPHA).any(axis=1).mean()) >= 0.8  # power of 2 x 1200 users for 0.2 sd
    low, high = confidence_sequence(diff, var, 0.1**2, ALPHA)
    covered_throughout = ((low <= 0.2) & (0.2 <= high)).all(axis=1).mean()
    assert covered_throughout >= 1 - ALPHA - 2 * np.sqrt(ALPHA * (1 - ALPHA) / N_SIM)
    assert np.all(high[:, 1:] - low[:, 1:] <= high[:, :-1] - low[:, :-1] + 1e-12)  # intersected: never widens


def test_power_formulas_agree_with_statsmodels():
    from statsmodels.stats.power import NormalIndPower

    sd, effect = 2.0, 0.25
    n = users_needed(sd, sd, effect, alpha=0.05, power=0.8, share=0.5)
    per_arm = NormalIndPower().solve_power(effect_size=effect / sd, alpha=0.05, power=0.8, ratio=1.0)
    assert n == pytest.approx(2 * per_arm, rel=1e-3)
    assert minimum_detectable_effect(sd, sd, n) == pytest.approx(effect, rel=1e-6)
    assert users_needed(sd, sd, effect, share=0.2) > n  # an unequal split needs more users


def _event_log(effect: float, days: int = 14, users_per_day: int = 80, seed: int = 0) -> pd.DataFrame:
    """A per-event log: users arrive daily, half per arm, and respond with probability 0.3 (+ effect in treatment)."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(days):
        for u in range(users_per_day):
            arm = "treatment" if u % 2 else "control"
            user = f"u{day}-{u}"
            rows.append((user, arm, "views", pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day, hours=10)))
            if rng.random() < 0.3 + (effect if arm == "treatment" else 0.0):
                rows.append((user, arm, "responses", pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day, hours=12)))
    return pd.DataFrame(rows, columns=["user_id", "arm", "event", "ts"])


def test_sequential_on_a_live_style_log_stops_on_a_planted_effect_and_not_on_none():
    planted = sequential(_event_log(0.15), ["responses"], ABConfig(), "ts")
    r = planted["metrics"]["responses"]
    assert len(planted["looks"]) == 14 and r["stopped_at"] is not None
    assert r["rows"][-1]["cs_low"] > 0 and r["rows"][-1]["n_control"] == r["rows"][-1]["n_treatment"] == 560
    null = sequential(_event_log(0.0, seed=3), ["responses"], ABConfig(), "ts")["metrics"]["responses"]
    assert null["stopped_at"] is None and null["rows"][-1]["cs_low"] < 0 < null["rows"][-1]["cs_high"]


def test_power_and_sequential_commands(tmp_path, capsys):
    log = _event_log(0.15)
    log.to_parquet(tmp_path / "events.parquet")
    assert cli.main(["ab", "power", "--log", str(tmp_path / "events.parquet"), "--metrics", "responses", "--effect", "0.1", "--json"]) == 0
    power = json.loads(capsys.readouterr().out)["metrics"]["responses"]
    expected = power_report(log, ["responses"], PowerConfig(), (0.1,))["metrics"]["responses"]
    assert power["needed"][0]["users"] == expected["needed"][0]["users"] > 1000
    assert cli.main(["ab", "sequential", "--log", str(tmp_path / "events.parquet"), "--metrics", "responses"]) == 0
    assert "may stop at look 2026-01-" in capsys.readouterr().out
    assert cli.main(["ab", "sequential", "--log", str(tmp_path / "events.parquet"), "--metrics", "responses", "--time-col", "when"]) == 2
    assert "column when: missing time column" in capsys.readouterr().err
    assert cli.main(["ab", "power", "--log", str(tmp_path / "events.parquet"), "--alpha", "1.5"]) == 2
    assert "alpha must be in (0, 1)" in capsys.readouterr().err

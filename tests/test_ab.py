"""A/B analysis: agreement with scipy/statsmodels, delta method vs brute force, CUPED, SRM,
null false-positive rate, known effect recovered through the simulator, clear errors, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from dssm.errors import DataError, JobmatchError
from pipelines.evaluation.ab import analysis as ab
from pipelines.evaluation.ab import simulate as sim
from pipelines.evaluation import stats as S
from pipelines.cli import main

CFG = ab.ABConfig(n_boot=400)


def user_log(n=600, effect=0.3, seed=0, share=0.5):
    """Per-user log: views ~ Poisson, responses ~ Binomial(views, p + effect shift), pre-period covariate."""
    rng = np.random.default_rng(seed)
    t = rng.random(n) < share
    pre = rng.gamma(2.0, 2.0, n)
    views = rng.poisson(2 + pre)
    y = 0.5 * pre + rng.normal(0, 1, n) + effect * t
    return pd.DataFrame(
        {"user_id": [f"u{i}" for i in range(n)], "arm": np.where(t, "treatment", "control"), "views": views,
         "responses": rng.binomial(views, 0.2 + 0.1 * t), "y": y, "pre": pre}
    )


def test_welch_and_bootstrap_agree_with_scipy_and_statsmodels():
    log = user_log()
    r = ab.analyze(log, ["y", "views"], cfg=CFG)["metrics"]["y"]
    yc, yt = log.y[log.arm == "control"].to_numpy(), log.y[log.arm == "treatment"].to_numpy()
    ref = stats.ttest_ind(yt, yc, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert r["welch"]["t"] == pytest.approx(ref.statistic, rel=1e-10)
    assert r["welch"]["p_value"] == pytest.approx(ref.pvalue, rel=1e-8)
    assert r["welch"]["df"] == pytest.approx(ref.df, rel=1e-10)
    assert (r["welch"]["ci_low"], r["welch"]["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-8)
    cm = CompareMeans(DescrStatsW(yt), DescrStatsW(yc))
    assert (r["welch"]["ci_low"], r["welch"]["ci_high"]) == pytest.approx(cm.tconfint_diff(usevar="unequal"), rel=1e-8)
    assert r["diff"] == pytest.approx(yt.mean() - yc.mean())
    assert r["rel_diff"] == pytest.approx((yt.mean() - yc.mean()) / yc.mean())
    width_t = r["welch"]["ci_high"] - r["welch"]["ci_low"]
    width_b = r["bootstrap"]["ci_high"] - r["bootstrap"]["ci_low"]
    assert width_b == pytest.approx(width_t, rel=0.2)
    assert r["bootstrap"]["ci_low"] < r["diff"] < r["bootstrap"]["ci_high"]


def test_holm_matches_statsmodels():
    p = np.random.default_rng(0).uniform(0, 0.1, 9)
    np.testing.assert_allclose(S.holm(p), multipletests(p, method="holm")[1])
    res = ab.analyze(user_log(), ["y", "views", "responses"], ["responses/views"], {"y": "pre"}, cfg=CFG)["metrics"]
    raw = [m["p_value"] for m in res.values()]
    np.testing.assert_allclose([m["p_holm"] for m in res.values()], multipletests(raw, method="holm")[1])
    assert res["y"]["primary_test"] == "cuped" and res["responses/views"]["primary_test"] == "delta"


def test_srm_matches_chisquare_and_planted_mismatch_is_detected():
    balanced = ab.analyze(user_log(n=2000, seed=1), ["y"], cfg=CFG)
    s = balanced["srm"]
    ref = stats.chisquare([s["n_control"], s["n_treatment"]])
    assert s["chi2"] == pytest.approx(ref.statistic) and s["p_value"] == pytest.approx(ref.pvalue)
    assert not s["mismatch"] and balanced["warnings"] == []
    planted = ab.analyze(user_log(n=2000, seed=1, share=0.56), ["y"], cfg=CFG)  # 56/44 instead of 50/50
    assert planted["srm"]["mismatch"] and planted["srm"]["p_value"] < 1e-3
    assert "sample ratio mismatch" in planted["warnings"][0]
    uneven = ab.analyze(user_log(n=2000, seed=1, share=0.56), ["y"], cfg=ab.ABConfig(n_boot=100, expected_ratio=0.56))
    assert not uneven["srm"]["mismatch"]  # the same split is fine when it was designed that way


def test_delta_method_variance_matches_brute_force_simulation():
    rng = np.random.default_rng(0)
    reps, n = 4000, 300
    views = rng.poisson(rng.gamma(2.0, 3.0, (reps, n))) + 1  # (reps, n) heavy-tailed activity
    responses = rng.binomial(views, rng.beta(2, 8, (reps, n)))
    ratio, var = S.delta_ratio(responses, views)  # (reps,), (reps,)
    assert np.var(ratio, ddof=1) == pytest.approx(np.mean(var), rel=0.08)
    # per-user mean of ratios is a different (biased) estimand; the delta ratio is sum/sum
    assert ratio[0] == pytest.approx(responses[0].sum() / views[0].sum())


def test_cuped_theta_adjusted_test_and_variance_reduction():
    log = user_log(n=1000, effect=0.2, seed=2)
    r = ab.analyze(log, ["y"], covariates={"y": "pre"}, cfg=CFG)["metrics"]["y"]
    theta = np.cov(log.y, log.pre)[0, 1] / np.var(log.pre, ddof=1)
    assert r["cuped"]["theta"] == pytest.approx(theta)
    adj = log.y - theta * (log.pre - log.pre.mean())
    ref = stats.ttest_ind(adj[log.arm == "treatment"], adj[log.arm == "control"], equal_var=False)
    assert r["cuped"]["p_value"] == pytest.approx(ref.pvalue, rel=1e-8)
    assert r["cuped"]["variance_reduction"] > 0.5
    assert r["cuped"]["ci_high"] - r["cuped"]["ci_low"] < 0.75 * (r["welch"]["ci_high"] - r["welch"]["ci_low"])
    assert r["cuped"]["ci_low"] < 0.2 < r["cuped"]["ci_high"]


def test_null_false_positive_rate_and_known_effect_coverage_over_400_seeds():
    rng = np.random.default_rng(123)
    seeds, n = 400, 400
    t = rng.random((seeds, n)) < 0.5
    order = np.argsort(~t, axis=1, kind="stable")  # treatment users first in each row
    n_t = t.sum(axis=1)
    pre = rng.gamma(2.0, 2.0, (seeds, n))
    views = rng.poisson(2 + pre) + 1
    responses = rng.binomial(views, 0.25)
    y = 0.5 * pre + rng.exponential(1.0, (seeds, n))  # skewed outcome
    fp = {"welch": 0, "cuped": 0, "delta": 0}
    covered = 0
    for s in range(seeds):
        ti, ci = order[s, : n_t[s]], order[s, n_t[s]:]
        fp["welch"] += S.welch(y[s, ci], y[s, ti])["p_value"] < 0.05
        theta = S.cuped_theta(y[s], pre[s])
        adj = y[s] - theta * (pre[s] - pre[s].mean())
        fp["cuped"] += S.welch(adj[ci], adj[ti])["p_value"] < 0.05
        fp["delta"] += S.delta_test(responses[s, ci], views[s, ci], responses[s, ti], views[s, ti])["p_value"] < 0.05
        w = S.welch(y[s, ci], y[s, ti] + 0.3)  # known effect 0.3
        covered += w["ci_low"] <= 0.3 <= w["ci_high"]
    for name, count in fp.items():
        assert 0.025 <= count / seeds <= 0.08, (name, count / seeds)
    assert 0.92 <= covered / seeds <= 0.975


def toy_market(n_users=400, n_vac=60, seed=0):
    """Utility = <user factor, vacancy factor> (a logit); control ranks at random, treatment by true utility."""
    rng = np.random.default_rng(seed)
    fu, fv = rng.normal(size=(n_users, 4)), rng.normal(size=(n_vac, 4))
    util = fu @ fv.T / 2 - 1.0  # (U, V)
    users, vacs = [f"r{i}" for i in range(n_users)], [f"v{j}" for j in range(n_vac)]
    utility = pd.DataFrame({"resume_id": np.repeat(users, n_vac), "vacancy_id": np.tile(vacs, n_users), "utility": util.ravel()})
    orders = {"control": np.stack([rng.permutation(n_vac)[:20] for _ in range(n_users)]), "treatment": np.argsort(-util, axis=1)[:, :20]}

    def ranking(order):
        k = order.shape[1]
        return pd.DataFrame({"resume_id": np.repeat(users, k), "vacancy_id": np.asarray(vacs)[order].ravel(), "rank": np.tile(np.arange(1, k + 1), n_users)})

    return ranking(orders["control"]), ranking(orders["treatment"]), utility, (util, orders)


def test_simulator_truth_is_exact_and_analysis_recovers_it():
    control, treatment, utility, (util, orders) = toy_market()
    cfg = sim.SimConfig(k=10, seed=0, activity_a=0.5, activity_b=0.5)
    events, truth = sim.simulate(control.sample(frac=1.0, random_state=0), treatment, utility, cfg)  # row order is irrelevant
    assert list(events.columns) == ["user_id", "arm", "views", "responses", "invites", "pre_views", "pre_responses"]
    # the true effect by hand: same seed stream (assignment, then activity), users sorted by id
    n = len(util)
    ids = np.array([f"r{i}" for i in range(n)])
    perm = np.argsort(ids)
    rng = np.random.default_rng(0)
    rng.random(n)
    activity = np.empty(n)
    activity[perm] = rng.beta(0.5, 0.5, n)
    pv = activity[:, None] * 0.9 * 0.85 ** np.arange(10)  # (U, 10)
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    exp_resp = {arm: (pv * sig(np.take_along_axis(util, o[:, :10], 1))).sum(1) for arm, o in orders.items()}
    assert truth["metrics"]["responses"]["ate"] == pytest.approx((exp_resp["treatment"] - exp_resp["control"]).mean(), rel=1e-9)
    assert truth["metrics"]["views"]["ate"] == pytest.approx(0.0, abs=1e-12)  # same exposure model in both arms
    assert truth["metrics"]["responses"]["ate"] > 0.1  # ranking by true utility helps
    _, same = sim.simulate(treatment, treatment, lambda r, v: utility.set_index(["resume_id", "vacancy_id"]).loc[list(zip(r, v)), "utility"].to_numpy(), cfg)
    assert same["metrics"]["responses"]["ate"] == 0.0  # an A/A test has no effect; a utility function works too
    res = ab.analyze(events, ["responses", "views", "invites"], ["responses/views"], {"responses": "pre_responses"}, cfg=CFG)
    assert not res["srm"]["mismatch"]
    for m in ("responses", "invites", "responses/views"):
        r, true = res["metrics"][m], truth["metrics"][m]["ate"]
        ci = r["delta"] if r["kind"] == "ratio" else r["welch"]
        assert ci["ci_low"] <= true <= ci["ci_high"], (m, true, ci)
        assert r["significant"]
    cup = res["metrics"]["responses"]["cuped"]
    assert cup["variance_reduction"] > 0.03
    assert cup["ci_low"] <= truth["metrics"]["responses"]["ate"] <= cup["ci_high"]


def test_simulated_true_effect_coverage_and_aa_false_positives():
    control, treatment, utility, _ = toy_market(n_users=200, n_vac=40, seed=1)
    cover = fp = 0
    seeds = 40
    for s in range(seeds):
        cfg = sim.SimConfig(k=10, seed=s)
        ev, truth = sim.simulate(control, treatment, utility, cfg)
        w = S.welch(ev.responses[ev.arm == "control"], ev.responses[ev.arm == "treatment"])
        cover += w["ci_low"] <= truth["metrics"]["responses"]["ate"] <= w["ci_high"]
        aa, _ = sim.simulate(control, control, utility, cfg)
        fp += S.welch(aa.responses[aa.arm == "control"], aa.responses[aa.arm == "treatment"])["p_value"] < 0.05
    assert cover / seeds >= 0.85
    assert fp / seeds <= 0.12


def test_per_event_and_long_logs_aggregate_to_the_per_user_result():
    log = user_log(n=200, seed=3)
    per_user = ab.analyze(log, ["views", "responses"], ["responses/views"], {"views": "pre"}, cfg=CFG)
    rows = []
    for r in log.itertuples():
        rows += [{"user_id": r.user_id, "arm": r.arm, "event": "view", "pre": r.pre}] * int(r.views)
        rows += [{"user_id": r.user_id, "arm": r.arm, "event": "response", "pre": r.pre}] * int(r.responses)
        rows += [{"user_id": r.user_id, "arm": r.arm, "event": "visit", "pre": r.pre}]  # every user has a row
    long = pd.DataFrame(rows)
    res = ab.analyze(long.rename(columns={}), ["view", "response"], ["response/view"], {"view": "pre"}, cfg=CFG)
    assert res["log_kind"] == "per-event"
    assert res["metrics"]["view"]["welch"] == pytest.approx(per_user["metrics"]["views"]["welch"])
    assert res["metrics"]["view"]["cuped"]["p_value"] == pytest.approx(per_user["metrics"]["views"]["cuped"]["p_value"])
    assert res["metrics"]["response/view"]["delta"] == pytest.approx(per_user["metrics"]["responses/views"]["delta"])


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.drop(columns="arm"), r"column arm: missing column"),
        (lambda d: d.drop(columns="user_id"), r"column user_id: missing column"),
        (lambda d: d[d.arm == "control"], r"only one arm \['control'\].*'treatment' has no users"),
        (lambda d: d.assign(arm=np.where(d.index % 3 == 0, "other", d.arm)), r"found 3 arms \['control', 'other', 'treatment'\]"),
        (lambda d: d.assign(arm=d.arm.replace({"treatment": "B"})), r"arm 'treatment' has no users \(arms present: \['B', 'control'\]\)"),
        (lambda d: d.assign(y=d.y.astype(str).where(d.index != 7, "n/a")), r"column y: non-numeric values \(e.g. 'n/a'\).*\(rows 7\)"),
        (lambda d: d.assign(y=d.y.where(d.index != 4)), r"column y: missing values in a metric column \(rows 4\)"),
        (lambda d: d.drop(columns="y"), r"column y: missing metric column"),
        (lambda d: pd.concat([d, d.iloc[:1].assign(arm="treatment" if d.arm.iloc[0] == "control" else "control")]), r"appear in both arms"),
    ],
)
def test_bad_inputs_give_one_line_errors(mutate, match):
    with pytest.raises(DataError, match=match) as e:
        ab.analyze(mutate(user_log(n=60)), ["y"], cfg=CFG, source="events.parquet")
    assert str(e.value).startswith("events.parquet: ") and "\n" not in str(e.value)


def test_other_bad_inputs():
    log = user_log(n=60)
    with pytest.raises(JobmatchError, match="not mean metrics"):
        ab.analyze(log, ["y"], covariates={"views": "pre"}, cfg=CFG)
    with pytest.raises(JobmatchError, match="numerator/denominator"):
        ab.analyze(log, ["y"], ["responses"], cfg=CFG)
    with pytest.raises(DataError, match="has 1 user"):
        ab.analyze(pd.concat([log[log.arm == "control"], log[log.arm == "treatment"].iloc[:1]]), ["y"], cfg=CFG)
    with pytest.raises(DataError, match="denominator sums to 0"):
        ab.analyze(log.assign(views=0), ["y"], ["responses/views"], cfg=CFG)
    with pytest.raises(ValueError, match="expected_ratio"):
        ab.ABConfig(expected_ratio=1.5)
    with pytest.raises(DataError, match="no utility"):
        control, treatment, utility, _ = toy_market(n_users=20, n_vac=30)
        sim.simulate(control, treatment, utility.iloc[5:], sim.SimConfig())


def test_report_and_cli_end_to_end(tmp_path, capsys):
    control, treatment, utility, _ = toy_market(n_users=200, n_vac=40)
    data = tmp_path / "data"
    (data / "truth").mkdir(parents=True)
    utility.to_parquet(data / "truth" / "utility.parquet")
    control.to_parquet(tmp_path / "c.parquet")
    treatment.to_parquet(tmp_path / "t.parquet")
    assert main(["ab", "simulate", "--data", str(data), "--control", str(tmp_path / "c.parquet"), "--treatment", str(tmp_path / "t.parquet"),
                 "--utility", str(data / "truth" / "utility.parquet"), "--out", str(tmp_path / "ab"), "--json"]) == 0
    truth = json.loads(capsys.readouterr().out)
    assert truth["metrics"]["responses"]["ate"] > 0 and (tmp_path / "ab" / "events.parquet").exists()
    out = tmp_path / "rep"
    argv = ["ab", "analyze", "--log", str(tmp_path / "ab" / "events.parquet"), "--metrics", "responses,views,invites",
            "--ratio", "responses/views", "--covariate", "responses=pre_responses", "--n-boot", "200", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "SRM ok" in text and "responses/views" in text
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metrics"]["responses"]["cuped"]["covariate"] == "pre_responses"
    assert {p.name for p in out.iterdir()} >= {"report.md", "report.html", "result.json", "effects.png", "arms.png"}
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert json.loads((out / "result.json").read_text())["srm"] == result["srm"]
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"user_id": ["a", "b"], "group": ["control", "treatment"], "responses": [1, 2]}).to_parquet(bad)
    assert main(["ab", "analyze", "--log", str(bad), "--metrics", "responses"]) == 2
    assert "column arm: missing column" in capsys.readouterr().err


def test_simulate_on_market_uses_its_hidden_utility(tiny_market, tmp_path):
    """Without --utility, `ab simulate` scores any shown pair by the market's own utility (DATA/truth)."""
    from pipelines.data.synth.utility import MarketUtility

    U = MarketUtility.load(tiny_market)
    res = pd.read_parquet(tiny_market / "resumes.parquet")["resume_id"].to_numpy()[:150]
    vac = pd.read_parquet(tiny_market / "vacancies.parquet")["vacancy_id"].to_numpy()
    rng = np.random.default_rng(0)
    rows_c, rows_t = [], []
    for r in res:
        u = U(np.repeat(r, len(vac)), vac)
        best = vac[np.argsort(-u)[:10]]
        rand = rng.choice(vac, 10, replace=False)
        rows_t += [(r, v, i) for i, v in enumerate(best)]
        rows_c += [(r, v, i) for i, v in enumerate(rand)]
    cols = ["resume_id", "vacancy_id", "rank"]
    pd.DataFrame(rows_c, columns=cols).to_parquet(tmp_path / "c.parquet")
    pd.DataFrame(rows_t, columns=cols).to_parquet(tmp_path / "t.parquet")
    out = tmp_path / "ab"
    assert main(["ab", "simulate", "--data", str(tiny_market), "--control", str(tmp_path / "c.parquet"),
                 "--treatment", str(tmp_path / "t.parquet"), "--out", str(out)]) == 0
    truth = json.loads((out / "truth.json").read_text())
    assert truth["inputs"]["utility"].endswith("(market profiles)")
    assert truth["metrics"]["responses"]["ate"] > 0


def test_compare_with_truth_puts_each_estimate_beside_its_known_effect():
    control, treatment, utility, _ = toy_market(n_users=300, n_vac=40, seed=2)
    events, truth = sim.simulate(control, treatment, utility, sim.SimConfig(k=10, seed=0))
    res = ab.analyze(events, ["responses", "views"], ["responses/views"], {"responses": "pre_responses"}, cfg=CFG)
    table = sim.compare_with_truth(res, truth)
    assert table["metric"].tolist() == ["responses", "views", "responses/views"]
    assert table["test"].tolist() == ["cuped", "welch", "delta"]
    row = table.set_index("metric")
    assert row.loc["responses", "estimate"] == pytest.approx(res["metrics"]["responses"]["cuped"]["diff"])
    assert row.loc["views", "ci_high"] == pytest.approx(res["metrics"]["views"]["welch"]["ci_high"])
    assert row.loc["responses/views", "true_effect"] == pytest.approx(truth["metrics"]["responses/views"]["ate"])
    lo, hi, true = row["ci_low"].to_numpy(), row["ci_high"].to_numpy(), row["true_effect"].to_numpy()
    assert (row["covered"].to_numpy() == ((lo <= true) & (true <= hi))).all()
    with pytest.raises(JobmatchError, match="both analysed"):
        sim.compare_with_truth(res, {"metrics": {"invites": {"ate": 0.0}}})

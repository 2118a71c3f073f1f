"""Offline evaluation: known answers on toy rankings, paired CIs, gap recovered, Talent Match outcomes, reports, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dssm.errors import DataError, JobmatchError


from pipelines.evaluation import arms as A
from pipelines.evaluation import evaluate as E
from pipelines.evaluation.report import format_table, write_report
from pipelines.evaluation.stats import weighted_bootstrap


class Dataset:
    """Stand-in with the fields of `pipelines.data.dataset.Dataset`."""

    def __init__(self, root, vacancies, resumes, interactions):
        self.root, self.vacancies, self.resumes, self.interactions = Path(root), vacancies, resumes, interactions


def toy_market(n_vac: int = 40, n_res: int = 60, seed: int = 0):
    """Vacancies and resumes in 4 clusters; each resume views 8 vacancies and responds to those of its own cluster."""
    rng = np.random.default_rng(seed)
    vac = pd.DataFrame({"vacancy_id": [f"v{i}" for i in range(n_vac)], "title": "t", "description": "d"})
    res = pd.DataFrame({"resume_id": [f"r{i}" for i in range(n_res)], "title": "t", "text": "x"})
    vc, rc = np.arange(n_vac) % 4, np.arange(n_res) % 4
    rows = []
    for r in range(n_res):
        own = np.flatnonzero(vc == rc[r])
        other = np.flatnonzero(vc != rc[r])
        seen = np.concatenate([rng.choice(own, 3, replace=False), rng.choice(other, 5, replace=False)])
        for v in seen:
            rows.append((f"r{r}", f"v{v}", "view"))
            if vc[v] == rc[r]:
                rows.append((f"r{r}", f"v{v}", "response"))
    inter = pd.DataFrame(rows, columns=["resume_id", "vacancy_id", "event"])
    inter["ts"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.permutation(len(inter)), unit="min")
    return Dataset("toy", vac, res, inter), vc, rc


def cluster_emb(clusters: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """Unit vectors near the one-hot of each row's cluster (noise 0 = exactly on it)."""
    rng = np.random.default_rng(seed)
    x = np.eye(4)[clusters] + noise * rng.normal(size=(len(clusters), 4))
    x += 1e-3 * rng.normal(size=x.shape)  # breaks exact ties deterministically
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def toy_scorers(vc, rc, held):
    rows = np.array([int(h[1:]) for h in sorted(held)])
    make = lambda noise, seed: A.EmbeddingScorer(cluster_emb(rc[rows], noise, seed), cluster_emb(vc, noise, seed + 1))  # noqa: E731
    return {"control": make(3.0, 1), "treatment": make(0.7, 3), "teacher": make(0.0, 5)}


CFG = E.EvalConfig(ks=(5, 10), curve_k=20, n_boot=300)


def test_known_answer_single_user():
    ds = Dataset(
        "one",
        pd.DataFrame({"vacancy_id": ["a", "b", "c", "d"], "title": "t", "description": "d"}),
        pd.DataFrame({"resume_id": ["r"], "title": "t", "text": "x"}),
        pd.DataFrame({"resume_id": ["r"] * 3, "vacancy_id": ["a", "c", "c"], "event": ["view", "view", "response"]}),
    )
    # scores a > b > c > d: the only relevant item (c) is at rank 3; impressions a (0) and c (1) are ordered wrongly.
    scorer = A.EmbeddingScorer(np.array([[1.0, 0.0]]), np.array([[1.0, 0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]]))
    cfg = E.EvalConfig(ks=(1, 3), curve_k=4, n_boot=100)
    r = E.evaluate(ds, {}, held_out_resume_ids=["r"], cfg=cfg, scorers={"control": scorer})
    m = r["arms"]["control"]["metrics"]
    assert m["recall@1"]["mean"] == 0 and m["recall@3"]["mean"] == 1
    assert m["mrr"]["mean"] == pytest.approx(1 / 3)
    assert m["ndcg@3"]["mean"] == pytest.approx(1 / math.log2(4))
    assert m["gauc"]["mean"] == 0.0
    assert r["arms"]["control"]["recall_curve"] == [0.0, 0.0, 1.0, 1.0]


def test_arms_ranked_paired_ci_and_gap(tmp_path):
    ds, vc, rc = toy_market()
    held = [f"r{i}" for i in range(0, 60, 2)]
    r = E.evaluate(ds, {}, held_out_resume_ids=held, cfg=CFG, out_dir=tmp_path, scorers=toy_scorers(vc, rc, held))
    a = r["arms"]
    assert r["n_users"] == r["n_users_with_positives"] == 30 and r["n_vacancies"] == 40
    # the teacher knows the clusters exactly: every relevant vacancy (10 per cluster) is in its top 10, all impressions ordered
    assert a["teacher"]["metrics"]["recall@10"]["mean"] == pytest.approx(1.0)
    assert a["teacher"]["metrics"]["gauc"]["mean"] == pytest.approx(1.0)
    assert a["control"]["metrics"]["recall@10"]["mean"] < a["treatment"]["metrics"]["recall@10"]["mean"] < 1.0
    d = r["vs_control"]["teacher"]["recall@10"]
    assert d["diff"] == pytest.approx(a["teacher"]["metrics"]["recall@10"]["mean"] - a["control"]["metrics"]["recall@10"]["mean"])
    assert 0 < d["ci_low"] <= d["diff"] <= d["ci_high"]
    g = r["vs_control"]["teacher"]["gauc"]
    assert g["ci_low"] <= g["diff"] <= g["ci_high"] and g["ci_low"] > 0
    gap = r["gap_recovered"]["recall@10"]
    expect = (gap["treatment"] - gap["control"]) / (gap["teacher"] - gap["control"])
    assert gap["fraction"] == pytest.approx(expect) and 0 < gap["fraction"] < 1
    assert gap["ci_low"] <= gap["fraction"] <= gap["ci_high"]
    # the recall curve agrees with Recall@k from the metrics module
    for arm in a:
        assert a[arm]["recall_curve"][9] == pytest.approx(a[arm]["metrics"]["recall@10"]["mean"])
        assert np.all(np.diff(a[arm]["recall_curve"]) >= -1e-12)
    rk = pd.read_parquet(tmp_path / "rankings" / "treatment.parquet")
    assert list(rk.columns) == ["resume_id", "vacancy_id", "rank", "score"]
    assert len(rk) == 30 * 20 and set(rk["resume_id"]) == set(held)
    one = rk[rk["resume_id"] == "r0"].sort_values("rank")
    assert one["rank"].tolist() == list(range(1, 21)) and one["score"].is_monotonic_decreasing
    pu = pd.read_parquet(tmp_path / "per_user.parquet")
    assert set(pu["arm"]) == {"control", "treatment", "teacher"} and len(pu) == 90
    json.dumps(r)  # JSON-serialisable


def test_deterministic_by_seed():
    ds, vc, rc = toy_market()
    held = [f"r{i}" for i in range(30)]
    r1 = E.evaluate(ds, {}, held, CFG, scorers=toy_scorers(vc, rc, held))
    r2 = E.evaluate(ds, {}, held, CFG, scorers=toy_scorers(vc, rc, held))
    assert r1["vs_control"] == r2["vs_control"] and r1["gap_recovered"] == r2["gap_recovered"]


def test_time_split_excludes_training_positives(tmp_path):
    ds, vc, rc = toy_market()
    train, test = E.split_interactions(ds.interactions, "time", 0.3)
    assert train["ts"].max() < test["ts"].min() and len(test) == pytest.approx(0.3 * len(ds.interactions), abs=2)
    held = sorted(set(test["resume_id"]))
    cfg = E.EvalConfig(ks=(5, 10), curve_k=20, n_boot=200, split="time", test_fraction=0.3)
    r = E.evaluate(ds, {}, None, cfg, out_dir=tmp_path, scorers=toy_scorers(vc, rc, held))
    assert r["split"]["kind"] == "time" and r["n_users"] == len(held)
    assert any("excluded" in n for n in r["notes"])
    seen = train[train["event"] == "response"].merge(pd.DataFrame({"resume_id": held}))[["resume_id", "vacancy_id"]]
    assert len(seen) > 0
    rk = pd.read_parquet(tmp_path / "rankings" / "teacher.parquet")
    assert rk.merge(seen).empty  # no training positive is recommended again


def test_user_split_is_seeded_and_disjoint():
    ds, _, _ = toy_market()
    tr1, te1 = E.split_interactions(ds.interactions, "user", 0.25, seed=3)
    tr2, te2 = E.split_interactions(ds.interactions, "user", 0.25, seed=3)
    assert te1.equals(te2) and not set(tr1["resume_id"]) & set(te1["resume_id"])
    assert te1["resume_id"].nunique() == 15


def test_weighted_bootstrap_matches_brute_force():
    rng = np.random.default_rng(1)
    x, w = rng.random(50), rng.integers(1, 9, 50).astype(float)
    draws = weighted_bootstrap({"a": x}, w, n_boot=300, seed=7)["a"]
    idx = np.random.default_rng(7).integers(0, 50, size=(300, 50))
    brute = np.array([np.average(x[i], weights=w[i]) for i in idx])
    np.testing.assert_allclose(draws, brute, rtol=1e-12)
    assert np.mean(draws) == pytest.approx(np.average(x, weights=w), abs=0.01)


def outcome_dataset():
    vac = pd.DataFrame({"vacancy_id": ["A", "B", "C"], "title": ["Java", "QA", "Go"], "description": "d"})
    res = pd.DataFrame({"resume_id": [f"r{i}" for i in range(7)], "title": "t", "text": "x"})
    inter = pd.DataFrame(
        {
            "resume_id": [f"r{i}" for i in range(7)],
            "vacancy_id": ["A", "A", "A", "B", "B", "C", "C"],
            "event": ["invite", "reject", "reject", "invite", "reject", "invite", "invite"],
            "label": [1, 0, 0, 1, 0, 1, 1],
        }
    )
    return Dataset("tm", vac, res, inter)


class PairScores:
    """Scores = a fixed value per resume row (pairs are scored only within their vacancy)."""

    def __init__(self, per_resume):
        self.s = np.asarray(per_resume, float)

    def top_k(self, k, exclude=None):
        raise AssertionError("outcomes mode never ranks")

    def pair_scores(self, resume_rows, vacancy_rows):
        return self.s[resume_rows]


def test_outcomes_within_vacancy_auc(tmp_path):
    ds = outcome_dataset()
    # model: A ordered right (AUC 1, weight 1·2), B wrong (AUC 0, weight 1·1) -> 2/3; C has no failed resume
    model = PairScores([3, 1, 2, 0, 5, 1, 1])
    tfidf = PairScores([1, 1, 1, 1, 1, 1, 1])  # all ties -> 0.5
    r = E.evaluate(ds, {}, cfg=CFG, out_dir=tmp_path, scorers={"control": model, "tfidf": tfidf})
    assert r["mode"] == "outcomes" and r["n_vacancies_used"] == 2
    assert r["arms"]["control"]["metrics"]["within_vacancy_auc"]["mean"] == pytest.approx(2 / 3)
    assert r["arms"]["tfidf"]["metrics"]["within_vacancy_auc"]["mean"] == pytest.approx(0.5)
    assert r["arms"]["control"]["per_vacancy_auc"] == {"A": 1.0, "B": 0.0, "C": None}
    d = r["vs_baseline"]["control"]["within_vacancy_auc"]
    assert d["diff"] == pytest.approx(2 / 3 - 0.5) and d["ci_low"] <= d["diff"] <= d["ci_high"]
    assert any("left out" in n for n in r["notes"])
    assert len(pd.read_parquet(tmp_path / "outcome_scores.parquet")) == 14
    paths = write_report(r, tmp_path / "rep")
    assert "within-vacancy AUC" in (tmp_path / "rep" / "eval.md").read_text()
    assert paths["metric_by_arm.png"].read_bytes()[:4] == b"\x89PNG"
    table = format_table(r)
    assert "control" in table and "(baseline)" in table


def test_bad_inputs_give_clear_errors():
    ds, vc, rc = toy_market()
    held = [f"r{i}" for i in range(10)]
    with pytest.raises(JobmatchError, match="no arm named 'control'"):
        E.evaluate(ds, {}, held, CFG, scorers={"treatment": toy_scorers(vc, rc, held)["treatment"]})
    bad = outcome_dataset()
    bad.interactions.loc[2, "label"] = 3
    with pytest.raises(DataError, match=r"column label: labels must be 0 or 1 \(rows 2\)"):
        E.evaluate(bad, {}, cfg=CFG, scorers={"tfidf": PairScores(np.zeros(7))})
    dangling = outcome_dataset()
    dangling.interactions.loc[1, "vacancy_id"] = "Z"
    with pytest.raises(DataError, match=r"interactions.parquet: column vacancy_id: 1 interactions point at unknown ids \(rows 1\)"):
        E.evaluate(dangling, {}, cfg=CFG, scorers={"tfidf": PairScores(np.zeros(7))})
    with pytest.raises(JobmatchError, match="dssm arm needs model_dir"):
        A.ArmSpec("dssm")
    with pytest.raises(JobmatchError, match="unknown"):
        A.ArmSpec("bert")
    with pytest.raises(ValueError, match="curve_k"):
        E.EvalConfig(ks=(10, 100), curve_k=50)
    with pytest.raises(ValueError, match="split"):
        E.EvalConfig(split="random")


def test_config_from_yaml(tmp_path):
    from dssm.io import load_config

    (tmp_path / "e.yaml").write_text("ks: [5, 20]\ncurve_k: 20\nn_boot: 500\n")
    cfg = load_config(E.EvalConfig, tmp_path / "e.yaml")
    assert cfg.ks == (5, 20) and cfg.n_boot == 500
    (tmp_path / "bad.yaml").write_text("n_boot: 5\n")
    with pytest.raises(JobmatchError, match="n_boot"):
        load_config(E.EvalConfig, tmp_path / "bad.yaml")


def test_split_files_must_agree(tmp_path):
    for name, ids in (("control", ["r1", "r2"]), ("teacher", ["r1", "r2", "r3"]), ("leaky", ["r1"])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "split.json").write_text(json.dumps({"kind": "user", "val_resume_ids": ids}))
    arm = lambda n: A.ArmSpec("dssm", model_dir=tmp_path / n)  # noqa: E731
    assert A.held_out_from_arms({"control": arm("control"), "teacher": arm("teacher"), "tfidf": A.ArmSpec("tfidf")}) == ["r1", "r2"]
    with pytest.raises(JobmatchError, match="arm leaky .* trained on 1 resumes that control held out"):
        A.held_out_from_arms({"control": arm("control"), "leaky": arm("leaky")})
    assert A.held_out_from_arms({"tfidf": A.ArmSpec("tfidf")}) is None


def test_report_files_and_table(tmp_path):
    ds, vc, rc = toy_market()
    held = [f"r{i}" for i in range(0, 60, 2)]
    r = E.evaluate(ds, {}, held, CFG, scorers=toy_scorers(vc, rc, held))
    paths = write_report(r, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"eval.json", "eval.md", "eval.html", "metric_by_arm.png", "recall_curve.png"}
    assert set(paths) == {"eval.json", "eval.md", "eval.html", "metric_by_arm.png", "recall_curve.png"}
    html = (tmp_path / "eval.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "src='http" not in html
    assert json.loads((tmp_path / "eval.json").read_text())["vs_control"]["teacher"]["recall@10"]["diff"] > 0
    table = format_table(r)
    lines = table.splitlines()
    assert lines[0].split()[:5] == ["arm", "Recall@10", "nDCG@10", "MRR", "GAUC"]
    assert [ln.split()[0] for ln in lines[2:5]] == ["control", "treatment", "teacher"]
    assert "gap recovered" in lines[-1] and "%" in lines[-1]


def write_toy(root: Path, ds) -> None:
    from pipelines.data.dataset import write_dataset

    write_dataset(root, ds.vacancies, ds.resumes, ds.interactions)


def test_cli_popularity_end_to_end(tmp_path, capsys):
    from pipelines.cli import main

    ds, _, _ = toy_market()
    write_toy(tmp_path / "data", ds)
    rc = main(["evaluate", "--data", str(tmp_path / "data"), "--arms", "control=popularity", "--out", str(tmp_path / "rep"), "--n-boot", "200", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"]["kind"] == "user" and out["n_users"] == 12  # 20% of 60 resumes
    assert (tmp_path / "rep" / "eval.html").exists() and (tmp_path / "rep" / "rankings" / "control.parquet").exists()
    assert main(["evaluate", "--data", str(tmp_path / "data"), "--arms", "control=nowhere/model", "--out", str(tmp_path / "x")]) == 2
    assert "neither a baseline" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(tmp_path / "data"), "--arms", "treatment=popularity", "--out", str(tmp_path / "x")]) == 2
    assert "no 'control' arm" in capsys.readouterr().err


def test_default_arms_follow_run_layout(tmp_path):
    from pipelines.evaluation.arms import default_arms, parse_arms

    for d in ("control", "production", "summaries"):
        (tmp_path / d).mkdir()
    for d in ("control", "production"):
        (tmp_path / d / "config.yaml").write_text("{}")
        (tmp_path / d / "weights.safetensors").write_bytes(b"")
    arms, notes = default_arms(tmp_path, outcomes=False)
    assert list(arms) == ["control", "treatment", "tfidf", "popularity"]
    assert arms["treatment"].corpus_dir == tmp_path / "summaries"
    assert any("teacher skipped" in n for n in notes) and any("textrank skipped" in n for n in notes)
    assert "popularity" not in default_arms(tmp_path, outcomes=True)[0]
    parsed = parse_arms(f"control={tmp_path / 'control'},treatment={tmp_path / 'production'}@{tmp_path / 'summaries'},tfidf")
    assert parsed["tfidf"].kind == "tfidf" and parsed["treatment"].corpus_dir == tmp_path / "summaries"
    with pytest.raises(JobmatchError, match="given twice"):
        parse_arms("tfidf,tfidf")


def test_talentmatch_outcomes_on_real_data(shared_data, tmp_path):
    """Wiring on the real import: every one of the 29 vacancies has both classes; an oracle scorer gets AUC 1, its negation 0."""
    from pipelines.data.dataset import load_dataset
    from pipelines.data.importers import import_datasets

    import_datasets(["talentmatch_ru"], None, tmp_path / "tm", src=shared_data / "talentmatch_ru")
    ds = load_dataset(tmp_path / "tm")
    assert E.is_outcome_data(ds.interactions, E.EvalConfig())
    rows = pd.Index(ds.resumes["resume_id"]).get_indexer(ds.interactions["resume_id"])
    label_of_resume = np.zeros(len(ds.resumes))
    label_of_resume[rows] = ds.interactions["label"].to_numpy()
    r = E.evaluate(ds, {}, cfg=CFG, scorers={"oracle": PairScores(label_of_resume), "tfidf": PairScores(-label_of_resume)})
    assert r["n_vacancies"] == r["n_vacancies_used"] == 29 and r["n_pairs"] == len(ds.interactions)
    assert r["arms"]["oracle"]["metrics"]["within_vacancy_auc"]["mean"] == 1.0
    assert r["arms"]["tfidf"]["metrics"]["within_vacancy_auc"]["mean"] == 0.0
    assert r["vs_baseline"]["oracle"]["within_vacancy_auc"]["diff"] == 1.0


def test_index_arm_maps_rows_and_refuses_an_index_of_other_vacancies(tmp_path):
    from test_index import HashEncoder, market

    from pipelines.evaluation.arms import index_search
    from pipelines.retrieval.refresh import refresh

    vac, res = market(40, 3)
    enc = HashEncoder()
    refresh(vac, tmp_path / "index", enc, queries=res)
    catalogue = vac["vacancy_id"].to_numpy()[::-1].copy()  # the dataset's row order differs from the index's
    _, rows = index_search(tmp_path / "index", enc.model_hash, catalogue)(enc.embed(vac.iloc[[5]], "vacancies"), 1)
    assert catalogue[rows[0, 0]] == vac["vacancy_id"][5]
    with pytest.raises(JobmatchError, match=r"only in the index: none, only in the dataset: \['vextra'\]"):
        index_search(tmp_path / "index", enc.model_hash, np.append(catalogue, "vextra"))
    with pytest.raises(JobmatchError, match=r"only in the index: \['v0000'\], only in the dataset: none"):
        index_search(tmp_path / "index", enc.model_hash, catalogue[:-1])
    with pytest.raises(JobmatchError, match="not this arm's model"):
        index_search(tmp_path / "index", HashEncoder(seed=1).model_hash, catalogue)

"""The known-utility arm: the market's utility over the skills a corpus names, compared across corpora."""

from __future__ import annotations

import doctest
import shutil

import numpy as np
import pandas as pd
import pytest

from dssm.errors import JobmatchError
from pipelines import cli
from pipelines.data.dataset import load_dataset
from pipelines.data.synth.config import config_with
from pipelines.data.synth.utility import MarketUtility
from pipelines.evaluation.arms import ArmSpec, build_scorer, parse_arms
from pipelines.evaluation.evaluate import EvalConfig, evaluate
from pipelines.evaluation import utility_arm
from pipelines.evaluation.utility_arm import UtilityScorer, visible


def test_visible_skills_are_whole_words_in_the_order_given():
    assert doctest.testmod(utility_arm).failed == 0
    assert visible(["SQL", "Python", "Go"], "Python,  sql; Google") == ["SQL", "Python"]
    assert visible([], "anything") == []


def test_over_full_synthetic_texts_it_is_the_market_utility_without_noise(tiny_market):
    ds = load_dataset(tiny_market)
    scorer = UtilityScorer(tiny_market, ds.vacancies, ds.resumes.iloc[:20])
    truth = MarketUtility.load(tiny_market)
    exact = MarketUtility(truth.v, truth.r, config_with(truth.cfg, noise=0.0))
    u, v = np.repeat(np.arange(20), 50), np.tile(np.arange(50), 20)
    ri, vi = exact.indices(ds.resumes.resume_id.iloc[u].to_numpy(), ds.vacancies.vacancy_id.iloc[v].to_numpy())
    assert np.allclose(scorer.pair_scores(u, v), exact.at(ri, vi))  # every hidden skill is named in a synthetic text
    first = scorer.top_k(1)[0][:, 0]
    ranked, scores = scorer.top_k(5, exclude=[np.array([f]) for f in first])
    assert ranked.shape == (20, 5) and all(first[i] not in ranked[i] for i in range(20))
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_texts_without_their_skills_rank_worse(tiny_market, tmp_path):
    """Known answer: the same utility over titles alone loses the skills term and must rank the held-out positives worse."""
    titles = tmp_path / "titles"
    titles.mkdir()
    for name, column in (("vacancies", "description"), ("resumes", "text")):
        df = pd.read_parquet(tiny_market / f"{name}.parquet")
        df[column] = ""
        df.to_parquet(titles / f"{name}.parquet")
    ds = load_dataset(tiny_market)
    held = sorted(ds.resumes.resume_id.astype(str))  # no arm trains: every resume can be a query
    arms = parse_arms(f"control=utility,titles=utility@{titles},tfidf")
    assert arms["titles"] == ArmSpec("utility", corpus_dir=titles)
    out = evaluate(ds, arms, held_out_resume_ids=held, cfg=EvalConfig(n_boot=200))
    recall = {name: out["arms"][name]["metrics"]["recall@10"]["mean"] for name in ("control", "titles", "tfidf")}
    assert recall["control"] > recall["titles"] + 0.02 and recall["control"] > recall["tfidf"]
    assert out["vs_control"]["titles"]["recall@10"]["ci_high"] < 0


def test_a_dataset_that_is_not_the_market_is_refused_in_one_line(tiny_market, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(tiny_market, other)
    for name in ("vacancies", "interactions"):
        df = pd.read_parquet(other / f"{name}.parquet")
        df["vacancy_id"] = df["vacancy_id"].replace(first_vacancy(tiny_market), "stranger")
        df.to_parquet(other / f"{name}.parquet")
    code = cli.main(["evaluate", "--data", str(other), "--arms", "control=utility", "--out", str(tmp_path / "report")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "arm/s" not in line]  # the arms' progress bar shows when CI is unset
    assert code == 2 and len(err) == 1 and "1 vacancy ids have no hidden profile (e.g. 'stranger')" in err[0]
    ds = load_dataset(tiny_market)
    with pytest.raises(JobmatchError, match="needs the market folder"):
        build_scorer(ArmSpec("utility"), ds.vacancies, ds.resumes, None)


def first_vacancy(root) -> str:
    return str(pd.read_parquet(root / "vacancies.parquet").vacancy_id.iloc[0])

"""`jobmatch split --cold-vacancies`: an item cold-start split whose test vacancies no trained model has seen."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.data.dataset import load_dataset, read_truth_profiles


@pytest.fixture(scope="module")
def cold_split(tiny_market, tmp_path_factory):
    out = tmp_path_factory.mktemp("cold") / "split"
    assert main(["split", "--data", str(tiny_market), "--cold-vacancies", "0.3", "--out", str(out)]) == 0
    return out


def test_the_split_partitions_vacancies_and_their_events(tiny_market, cold_split):
    whole, train, test = (load_dataset(p) for p in (tiny_market, cold_split / "train", cold_split / "test"))
    tr, te = set(train.vacancies["vacancy_id"]), set(test.vacancies["vacancy_id"])
    assert not tr & te and tr | te == set(whole.vacancies["vacancy_id"])
    assert 0.2 < len(te) / len(whole.vacancies) < 0.4
    assert set(train.interactions["vacancy_id"]) <= tr and set(test.interactions["vacancy_id"]) <= te
    assert len(train.interactions) + len(test.interactions) == len(whole.interactions)
    for part in (train, test):
        pd.testing.assert_frame_equal(part.resumes, whole.resumes)
    assert set(read_truth_profiles(cold_split / "test", "vacancies")["vacancy_id"]) == te
    manifest = json.loads((cold_split / "split.json").read_text())
    assert manifest["test"]["vacancies"] == len(te) and manifest["cold_vacancies"] == 0.3


def test_the_split_is_deterministic_and_keeps_what_exists(tiny_market, cold_split, tmp_path, capsys):
    again = tmp_path / "again"
    assert main(["split", "--data", str(tiny_market), "--cold-vacancies", "0.3", "--out", str(again)]) == 0
    for part in ("train", "test"):
        assert (again / part / "interactions.parquet").read_bytes() == (cold_split / part / "interactions.parquet").read_bytes()
    before = (again / "split.json").read_bytes()
    assert main(["split", "--data", str(tiny_market), "--cold-vacancies", "0.5", "--out", str(again)]) == 2
    assert "already exists" in capsys.readouterr().err and (again / "split.json").read_bytes() == before
    assert main(["split", "--data", str(tiny_market), "--cold-vacancies", "1.5", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--cold-vacancies must be in (0, 1)" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
    assert main(["split", "--data", str(tiny_market), "--cold-vacancies", "0.3", "--out", str(tiny_market / "inside")]) == 2
    assert "lies inside the input" in capsys.readouterr().err


def test_a_model_trained_on_train_ranks_only_cold_vacancies_in_test(cold_split, tiny_run, tmp_path, capsys):
    """The evaluation protocol: train on OUT/train, evaluate on OUT/test (every resume; summaries matched by id);
    a model trained on the whole market is refused there."""
    from dataclasses import replace

    from dssm.config import load_model_config
    from pipelines.training.dssm import train

    cfg = load_model_config("tiny")
    train(cold_split / "train", replace(cfg, train=replace(cfg.train, max_epochs=1)), tmp_path / "control", tokenizer_dir=tiny_run["tokenizer"])
    arms = f"control=popularity,dssm={tmp_path / 'control'},summaries={tmp_path / 'control'}@{tiny_run['summaries']}"
    assert main(["evaluate", "--data", str(cold_split / "test"), "--arms", arms, "--control", "dssm", "--out", str(tmp_path / "rep"), "--n-boot", "100", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cold = set(load_dataset(cold_split / "test").vacancies["vacancy_id"])
    ranked = pd.read_parquet(tmp_path / "rep" / "rankings" / "dssm.parquet")
    assert set(ranked["vacancy_id"]) <= cold and report["split"]["kind"] == "cold_vacancies"
    with_positives = load_dataset(cold_split / "test").interactions.query("event in ['response', 'invite']")["resume_id"].nunique()
    assert report["n_users_with_positives"] == with_positives  # every resume with a positive on a cold vacancy, not only held-out ones
    assert main(["pool", str(tmp_path / "rep"), str(tmp_path / "rep"), "--n-boot", "100", "--json", "--out", str(tmp_path / "pooled.json")]) == 0
    pooled = json.loads(capsys.readouterr().out)
    for arm in ("dssm", "summaries"):
        assert pooled["arms"][arm]["metrics"]["recall@100"]["mean"] == pytest.approx(report["arms"][arm]["metrics"]["recall@100"]["mean"])
    assert pooled["arms"]["summaries"]["vs_control"]["recall@100"]["per_seed"] == [pytest.approx(report["vs_control"]["summaries"]["recall@100"]["diff"])] * 2
    assert json.loads((tmp_path / "pooled.json").read_text())["n_users"] == with_positives
    assert main(["pool", str(tmp_path / "rep"), str(tmp_path / "nowhere")]) == 2 and "per_user.parquet: not found" in capsys.readouterr().err
    rc = main(["evaluate", "--data", str(cold_split / "test"), "--arms", f"control={tiny_run['production']}@{tiny_run['summaries']}", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "of the cold vacancies" in err and len(err.strip().splitlines()) == 1

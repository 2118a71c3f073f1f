"""Candidates for a vacancy: a resume index (same versioning, checks and refresh), CLI and HTTP agree, filters, evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_index import HashEncoder, market

from dssm.errors import JobmatchError
from pipelines import cli
from pipelines.data.dataset import write_dataset
from pipelines.retrieval import index as ix
from pipelines.retrieval import recommend as rc
from pipelines.retrieval.index import EmbeddingIndex, Filters
from pipelines.retrieval.recommend import Recommender
from pipelines.retrieval.refresh import refresh
from pipelines.retrieval.service import ServingState, create_app

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")


@pytest.fixture()
def setup(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    vac, res = market(60, 150)
    res["experience_years"] = np.arange(len(res)) % 12 * 1.0
    res.loc[::7, "salary"] = np.nan
    write_dataset(tmp_path / "data", vac, res)
    refresh(vac, tmp_path / "index", HashEncoder(), queries=res, extra={"model_dir": str(tmp_path / "model")})
    refresh(res, tmp_path / "resume_index", HashEncoder(), queries=vac, extra={"model_dir": str(tmp_path / "model")}, side="resumes")
    monkeypatch.setattr(rc, "load_encoder", lambda path: HashEncoder())
    vacancies = ServingState(tmp_path / "index", lambda m: HashEncoder(), res)
    resumes = ServingState(tmp_path / "resume_index", lambda m: HashEncoder(), vac)
    return tmp_path, vac, res, TestClient(create_app(vacancies, candidates=resumes))


def test_cli_and_http_return_the_same_candidates(setup, capsys):
    root, vac, res, client = setup
    for vid in ("v0000", "v0007"):
        for filters, flags in (({}, []), ({"salary_max": 120000, "experience_min": 3}, ["--salary-max", "120000", "--experience-min", "3"])):
            r = client.post("/candidates", json={"vacancy_id": vid, "k": 8, "filters": filters})
            assert r.status_code == 200
            http = r.json()["items"]
            assert cli.main(["recommend", "--index", str(root / "resume_index"), "--data", str(root / "data"), "--vacancy-id", vid, "--k", "8", *flags, "--json"]) == 0
            out = json.loads(capsys.readouterr().out)["results"][0]["items"]
            assert [i["resume_id"] for i in http] == [i["resume_id"] for i in out] and len(out) == 8
            assert [i["score"] for i in http] == pytest.approx([i["score"] for i in out])
            kept = res.set_index("resume_id").loc[[i["resume_id"] for i in http]]
            if filters:
                assert (kept["experience_years"] >= 3).all() and not (kept["salary"] > 120000).any()
    pasted = client.post("/candidates", json={"vacancy": {"title": "java специалист", "description": "java javaskill"}, "k": 5}).json()["items"]
    assert all("java" in i["title"] for i in pasted)


def test_candidate_errors_are_one_line(setup, capsys):
    root, vac, res, client = setup
    cases = [({"vacancy_id": "nope"}, 404, "unknown vacancy id"), ({"vacancy_id": "v0001", "vacancy": {"description": "x"}}, 422, "exactly one of vacancy_id or vacancy"),
             ({"vacancy": {"description": " "}}, 422, "description"), ({"vacancy_id": "v0001", "filters": {"salary_min": 1}}, 422, "salary_min"),
             ({"vacancy_id": "v0001", "filters": {"experience_min": -1}}, 422, "experience_min")]
    for body, status, detail in cases:
        r = client.post("/candidates", json=body)
        assert r.status_code == status and detail in r.json()["detail"] and "\n" not in r.json()["detail"], (body, r.text)
    assert cli.main(["recommend", "--index", str(root / "index"), "--data", str(root / "data"), "--vacancy-id", "v0001"]) == 2
    assert "index of vacancies: queries of vacancies need a resume index" in capsys.readouterr().err
    from pipelines.retrieval.service import serving_state

    for index, side in (("resume_index", "vacancies"), ("index", "resumes")):  # serve --index, --resume-index and every experiment arm
        with pytest.raises(JobmatchError, match=f"is an index of {'resumes' if side == 'vacancies' else 'vacancies'}, not of {side}"):
            serving_state(root / index, side=side)
    rec = Recommender(EmbeddingIndex.load(root / "resume_index"), HashEncoder())
    with pytest.raises(JobmatchError, match="salary_min does not apply"):
        rec.recommend(vac.iloc[:1], 5, Filters(salary_min=10))


def test_resume_index_refreshes_incrementally_and_refuses_the_other_side(setup):
    root, vac, res, _ = setup
    edited = res.copy()
    edited.loc[3, "text"] = "совсем другой текст"
    edited = edited.drop(index=[5]).reset_index(drop=True)
    rep = refresh(edited, root / "resume_index", HashEncoder(), queries=vac, side="resumes")
    assert rep.action == "refreshed" and (rep.changed, rep.removed, rep.embedded) == (1, 1, 1)
    assert ix.read_manifest(root / "resume_index", rep.version)["side"] == "resumes"
    with pytest.raises(JobmatchError, match="index of resumes; refusing to put vacancies"):
        refresh(vac, root / "resume_index", HashEncoder())


@pytest.mark.slow
def test_vacancy_side_evaluation_of_a_trained_run(tiny_run, tiny_resume_index, tmp_path, capsys):
    from pipelines.evaluation.candidates import evaluate_candidates

    r = evaluate_candidates(tiny_run["data"], tiny_resume_index, ks=(5, 10), n_boot=200, out=tmp_path / "candidates.json")
    assert r["vacancies"] > 10 and r["pool_resumes"] >= 10 and set(r["arms"]) == {"model", "popularity"}
    d = r["vs_popularity"]["recall@10"]
    assert d["ci_low"] <= d["diff"] <= d["ci_high"] and 0 <= r["arms"]["model"]["recall@10"] <= 1
    assert json.loads((tmp_path / "candidates.json").read_text())["index_version"] == r["index_version"]
    assert cli.main(["evaluate", "--data", str(tiny_run["data"]), "--candidates", str(tiny_resume_index), "--ks", "5", "10", "--curve-k", "10",
                     "--n-boot", "200"]) == 0
    assert "model - popularity" in capsys.readouterr().out
    with pytest.raises(JobmatchError, match="index of vacancies"):
        evaluate_candidates(tiny_run["data"], tiny_run["index"], ks=(5,), n_boot=200)

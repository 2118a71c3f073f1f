"""The hostile fixtures (`tests/hostile`) against the commands that read them: validate and summarize (datasets),
import (sources), recommend --resume-file and POST /recommend (resumes). Each refusal is one line naming
the file and column (or the field); nothing is written on a refusal; inputs that are hostile but valid run."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hostile import DATASETS, RESUMES, SOURCES

from pipelines import cli


def _refused(rc: int, err: str, expect: str) -> None:
    err = err.strip()
    assert rc == 2, err
    assert expect in err and len(err.splitlines()) == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("name", DATASETS)
def test_validate_names_file_column_and_rows(name, tiny_market, tmp_path, capsys):
    case, data = DATASETS[name], tmp_path / "data"
    case.build(tiny_market, data)
    rc = cli.main(["validate", str(data)])
    if case.expect is None:
        assert rc == 0, capsys.readouterr().err
    else:
        _refused(rc, capsys.readouterr().err, case.expect)


@pytest.mark.parametrize("name", DATASETS)
def test_summarize_refuses_the_same_and_cuts_a_huge_text_to_its_budget(name, tiny_market, tiny_run, tmp_path, capsys):
    case, data, out = DATASETS[name], tmp_path / "data", tmp_path / "summaries"
    case.build(tiny_market, data)
    rc = cli.main(["summarize", "--summarizer", str(tiny_run["summarizer"]), "--data", str(data), "--out", str(out), "--budget", "120"])
    if case.expect is None:
        assert rc == 0, capsys.readouterr().err
        assert pd.read_parquet(out / "vacancies.parquet")["n_summary_tokens"].max() <= 120
    else:
        _refused(rc, capsys.readouterr().err, case.expect)
        assert not out.exists()


@pytest.mark.parametrize("name", SOURCES)
def test_import_refuses_broken_sources(name, tmp_path, capsys):
    case, src, out = SOURCES[name], tmp_path / "src", tmp_path / "out"
    case.build(tmp_path, src)
    rc = cli.main(["import", "hh_vacancies_ru", "--src", str(src), "--out", str(out), "--json"])
    if case.expect is None:
        assert rc == 0, capsys.readouterr().err
        manifest = json.loads(capsys.readouterr().out)
        assert manifest["rows"]["vacancies"] >= 1 and cli.main(["validate", str(out)]) == 0
    else:
        _refused(rc, capsys.readouterr().err, case.expect)
        assert not out.exists()


def test_duplicated_source_ids_are_dropped_and_reported(tmp_path, capsys):
    SOURCES["duplicate_ids"].build(tmp_path, tmp_path / "src")
    assert cli.main(["import", "hh_vacancies_ru", "--src", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["rows"]["vacancies"] == 2 and manifest["datasets"][0]["dropped"] == {"vacancies: duplicate vacancy_id (first kept)": 2}


@pytest.mark.parametrize("name", RESUMES)
def test_recommend_refuses_hostile_resume_files(name, tiny_run, tmp_path, capsys):
    path = tmp_path / "resume.json"
    path.write_bytes(RESUMES[name].body)
    out = tmp_path / "recs.parquet"
    rc = cli.main(["recommend", "--index", str(tiny_run["index"]), "--resume-file", str(path), "--out", str(out)])
    _refused(rc, capsys.readouterr().err, RESUMES[name].cli)
    assert not out.exists()


@pytest.fixture(scope="module")
def client(tiny_run):
    from fastapi.testclient import TestClient

    from pipelines.data.dataset import load_dataset
    from pipelines.retrieval.index import served_manifest
    from pipelines.retrieval.recommend import encoder_for_manifest, preprocess_for_manifest
    from pipelines.retrieval.service import ServingState, create_app

    preprocess, pid = preprocess_for_manifest(None, served_manifest(tiny_run["index"]))
    state = ServingState(tiny_run["index"], encoder_for_manifest(None), load_dataset(tiny_run["data"]).resumes, preprocess, pid)
    return TestClient(create_app(state))


@pytest.mark.filterwarnings("ignore:Using `httpx`")
def test_a_valid_resume_is_answered_by_the_cli_and_the_service_alike(client, tiny_run, tmp_path, capsys):
    body = {"title": "Python developer", "text": "Python, SQL, Django, PostgreSQL; 5 years of backend work.", "salary": 200000, "experience_years": 5}
    (tmp_path / "r.json").write_text(json.dumps(body))
    assert cli.main(["recommend", "--index", str(tiny_run["index"]), "--resume-file", str(tmp_path / "r.json"), "--k", "5", "--json"]) == 0
    cli_items = json.loads(capsys.readouterr().out)["results"][0]["items"]
    r = client.post("/recommend", json={"resume": body, "k": 5})
    assert r.status_code == 200
    assert [i["vacancy_id"] for i in r.json()["items"]] == [i["vacancy_id"] for i in cli_items]


@pytest.mark.filterwarnings("ignore:Using `httpx`")
@pytest.mark.parametrize("name", RESUMES)
def test_service_refuses_hostile_resume_bodies(name, client):
    case = RESUMES[name]
    r = client.post("/recommend", content=b'{"resume": ' + case.body + b"}", headers={"content-type": "application/json"})
    assert r.status_code == case.status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and case.http in detail and "\n" not in detail, detail


@pytest.mark.parametrize("case", ["encode_with_a_tokenizer", "index_with_a_summarizer", "summarize_with_a_tokenizer", "binary_config", "folder_config"])
def test_an_artifact_of_the_wrong_kind_is_named(case, tiny_run, tmp_path, capsys):
    r, m = {k: str(v) for k, v in tiny_run.items()}, str(tiny_run["data"])
    argv, expect = {
        "encode_with_a_tokenizer": (["encode", "--model", r["tokenizer"], "--data", m, "--out", str(tmp_path / "e.parquet")], "not a model dir"),
        "index_with_a_summarizer": (["index", "build", "--model", r["summarizer"], "--data", m, "--out", str(tmp_path / "i")], "not a model dir"),
        "summarize_with_a_tokenizer": (["summarize", "--summarizer", r["tokenizer"], "--data", m, "--out", str(tmp_path / "s")], "not a summarizer dir"),
        "binary_config": (["train", "--data", m, "--config", f"{m}/vacancies.parquet", "--out", str(tmp_path / "t")], "not a text file"),
        "folder_config": (["train", "--data", m, "--config", m, "--out", str(tmp_path / "t")], "a folder, not a YAML config"),
    }[case]
    _refused(cli.main(argv), capsys.readouterr().err, expect)
    assert not any(tmp_path.iterdir())

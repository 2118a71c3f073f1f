"""Explained recommendations: matched/missing skills and best sentences, the same from the CLI and over HTTP,
consistent with the parse and the resume's tagged skills, absent without a tagger; a parse by another tagger is refused."""

from __future__ import annotations

import doctest
import json
import shutil

import pytest
from fastapi.testclient import TestClient

import pipelines.retrieval.explain
from dssm.errors import JobmatchError
from pipelines.cli import main
from pipelines.data.dataset import load_dataset
from pipelines.retrieval.explain import Explainer
from pipelines.retrieval.service import create_app, serving_state

FIELDS = {"matched_skills", "missing_skills", "best_sentences"}
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")


def test_doctests():
    assert doctest.testmod(pipelines.retrieval.explain).failed == 0


def _cli(tiny_run, rid, *extra, capsys):
    argv = ["recommend", "--index", str(tiny_run["index"]), "--data", str(tiny_run["data"]), "--resume-id", rid, "--k", "5", "--json", *extra]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)["results"][0]["items"]


def test_cli_and_http_explain_alike_and_only_with_a_tagger(tiny_run, skill_tagger, tiny_parsed, capsys):
    ds = load_dataset(tiny_run["data"])
    explainer = Explainer(skill_tagger, tiny_parsed, ds.vacancies)
    state = serving_state(tiny_run["index"], None, None, None, ds.resumes, 0.0)
    with_why, plain = TestClient(create_app(state, explainer=explainer)), TestClient(create_app(state))
    flags = ["--tagger", str(skill_tagger), "--parsed", str(tiny_parsed)]
    n_matched = 0
    for rid in ds.resumes["resume_id"].iloc[:6]:
        cli_items = _cli(tiny_run, rid, *flags, capsys=capsys)
        http_items = with_why.post("/recommend", json={"resume_id": rid, "k": 5}).json()["items"]
        assert [{k: i[k] for k in ("vacancy_id", *sorted(FIELDS))} for i in http_items] == [{k: i[k] for k in ("vacancy_id", *sorted(FIELDS))} for i in cli_items]
        skills = explainer.resume_skills(ds.resumes[ds.resumes["resume_id"] == rid])[0]
        for item in cli_items:
            vac = explainer.skills.get(item["vacancy_id"], {})
            assert set(item["matched_skills"]).isdisjoint(item["missing_skills"])
            assert sorted(item["matched_skills"] + item["missing_skills"]) == sorted(vac.values())
            assert all(n in skills for n, shown in vac.items() if shown in item["matched_skills"])
            assert all(s in explainer.sentences[item["vacancy_id"]] for s in item["best_sentences"])
            n_matched += len(item["matched_skills"])
        assert not FIELDS & set(_cli(tiny_run, rid, capsys=capsys)[0])
        assert not FIELDS & set(plain.post("/recommend", json={"resume_id": rid, "k": 5}).json()["items"][0])
        assert "team" in plain.post("/recommend", json={"resume_id": rid, "k": 5}).json()["items"][0]
    assert n_matched > 0
    assert main(["recommend", "--index", str(tiny_run["index"]), "--data", str(tiny_run["data"]), "--resume-id", "r000001", "--tagger", str(skill_tagger)]) == 2
    assert "both --tagger and --parsed" in capsys.readouterr().err


def test_a_parse_by_another_tagger_is_refused(tiny_run, skill_tagger, tiny_parsed, tmp_path):
    other = tmp_path / "parsed"
    shutil.copytree(tiny_parsed, other)
    meta = json.loads((other / "parse.json").read_text())
    meta["models"]["tagger"] = "0" * 64
    (other / "parse.json").write_text(json.dumps(meta))
    with pytest.raises(JobmatchError, match="another tagger"):
        Explainer(skill_tagger, other, load_dataset(tiny_run["data"]).vacancies)
    with pytest.raises(JobmatchError, match="not a parse folder"):
        Explainer(skill_tagger, tmp_path, load_dataset(tiny_run["data"]).vacancies)


def test_explanation_check_against_the_true_shared_skills(tiny_run, skill_tagger, tiny_parsed, capsys):
    """On the tiny market the silver tagger's matched skills are mostly truly shared; a tagger-free 'explainer' that matches
    every vacancy skill has a lower precision, which the check must see."""
    from pipelines.evaluation.explanations import explanation_check

    argv = ["evaluate", "--explanations", "--data", str(tiny_run["data"]), "--tagger", str(skill_tagger), "--parsed", str(tiny_parsed),
            "--pairs", "60", "--json"]
    assert main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["pairs"] == 60 and r["matched"] > 0 and r["precision"] >= 0.6 and 0 < r["recall"] <= 1
    explainer = Explainer(skill_tagger, tiny_parsed, load_dataset(tiny_run["data"]).vacancies)

    class Everything:
        resume_skills = explainer.resume_skills

        def explain(self, skills, ids):
            return [{"matched_skills": list(explainer.skills.get(v, {}).values())} for v in ids]

    loose = explanation_check(Everything(), tiny_run["data"], 60)
    assert loose["recall"] >= r["recall"] and loose["precision"] < r["precision"]


def test_explain_page_marks_the_shared_skills_in_both_documents(tiny_run, skill_tagger, tmp_path, capsys):
    import re

    ds = load_dataset(tiny_run["data"])
    pos = ds.interactions[ds.interactions["event"] == "response"].iloc[0]
    out = tmp_path / "pair.html"
    argv = ["explain", "--tagger", str(skill_tagger), "--data", str(tiny_run["data"]), "--resume-id", pos["resume_id"], "--vacancy-id", pos["vacancy_id"],
            "--summarizer", str(tiny_run["summarizer"]), "--teacher", str(tiny_run["teacher"]), "--out", str(out)]
    assert main(argv) == 0 and str(out) in capsys.readouterr().out
    page = out.read_text()
    vacancy, resume = page.split('<div class="cols">')[1].split("<h3>resume ")
    matched = re.findall(r'<mark class="match">(.*?)</mark>', vacancy)
    legend = re.search(r"Matched: (.*?)\. Missing", page).group(1)
    assert matched and {m.lower() for m in matched} & {m.lower() for m in re.findall(r'<mark class="match">(.*?)</mark>', resume)}
    from dssm.understanding.skills import normalise_skill

    assert {normalise_skill(m) for m in matched} <= {normalise_skill(x) for x in legend.split(", ")}
    assert 'class="s sel"' in vacancy and 'class="bar"' in vacancy and "<script" not in page
    assert main([*argv[:8], "nope", *argv[9:]]) == 2

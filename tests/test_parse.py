"""`jobmatch parse`: a silver skill tagger over the tiny market's documents -> entities.parquet (normalised skills, scores),
incremental reruns (only changed documents parsed, removed ones dropped), one document as JSON, bad input."""

from __future__ import annotations

import json
import shutil

import pandas as pd

from pipelines.cli import main
from pipelines.data.dataset import load_dataset, write_dataset
from pipelines.understanding.corpus import ENTITY_COLUMNS, parse_corpus


def test_parse_writes_entities_and_reruns_incrementally(skill_tagger, tiny_market, tmp_path):
    ds = load_dataset(tiny_market)
    data = tmp_path / "data"
    write_dataset(data, ds.vacancies, ds.resumes, ds.interactions)
    out = tmp_path / "parsed"
    first = parse_corpus(skill_tagger, data, out)
    assert first.documents == len(ds.vacancies) + len(ds.resumes) and first.parsed == first.documents and first.sections is None
    ent = pd.read_parquet(out / "entities.parquet")
    assert list(ent.columns) == ENTITY_COLUMNS and len(ent) == first.entities > 100 and not (out / "sections.parquet").exists()
    assert ent["score"].between(0, 1).all() and (ent["end"] > ent["start"]).all()
    vac = ds.vacancies.set_index("vacancy_id")
    row = ent[ent["kind"] == "vacancies"].iloc[0]
    from dssm.text import frame_documents

    sentence = frame_documents(vac.loc[[row["doc_id"]]].reset_index(), "vacancies")[0][row["sent_idx"]]
    assert sentence[row["start"]:row["end"]] == row["text"]
    # the planted key skills are what the tagger finds: most vacancies' normalised entities include one of their own skills
    own = {v: {str(s).lower() for s in skills} for v, skills in vac["skills"].items()}
    found = ent[ent["kind"] == "vacancies"].groupby("doc_id")["norm"].apply(set)
    assert sum(bool(own[d] & f) for d, f in found.items()) / len(vac) > 0.5

    # one vacancy edited, one resume removed: a rerun parses one document, keeps the others' rows, drops the removed one's
    edited = ds.vacancies.copy()
    edited.loc[0, "description"] = edited.loc[0, "description"] + "<p>Опыт с Kubernetes и Docker.</p>"
    gone = ds.resumes["resume_id"].iloc[0]
    write_dataset(data, edited, ds.resumes.iloc[1:], ds.interactions[ds.interactions["resume_id"] != gone])
    second = parse_corpus(skill_tagger, data, out)
    assert (second.parsed, second.removed, second.reused) == (1, 1, first.documents - 2)
    ent2 = pd.read_parquet(out / "entities.parquet")
    assert gone not in set(ent2["doc_id"])
    others = lambda e: e[~e["doc_id"].isin([edited.loc[0, "vacancy_id"], gone])].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(others(ent), others(ent2))
    assert parse_corpus(skill_tagger, data, out).parsed == 0


def test_parse_cli_file_and_bad_input(skill_tagger, tiny_market, tmp_path, capsys):
    doc = tmp_path / "resume.json"
    doc.write_text(json.dumps({"resume_id": "x1", "title": "Python-разработчик", "text": "Пишу на Python и PostgreSQL. Docker, Kubernetes."}))
    assert main(["parse", "--tagger", str(skill_tagger), "--file", str(doc)]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["sentences"][0] == "Python-разработчик" and "sections" not in parsed
    for e in parsed["entities"]:
        assert parsed["sentences"][e["sent_idx"]][e["start"]:e["end"]] == e["text"]
    assert main(["parse", "--tagger", str(skill_tagger), "--data", str(tiny_market), "--out", str(tiny_market / "parsed")]) == 2
    assert "lies inside the input" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    assert main(["parse", "--tagger", str(skill_tagger), "--data", str(tiny_market), "--out", str(other)]) == 2
    assert "already exists" in capsys.readouterr().err
    shutil.rmtree(other)
    assert main(["parse", "--tagger", str(tiny_market), "--file", str(doc)]) == 2
    assert "tagger" in capsys.readouterr().err


def test_parse_with_a_section_classifier_writes_every_class_probability(skill_tagger, tiny_market, tmp_path, capsys):
    assert main(["classifier", "train", "--system", "tfidf", "--data", str(tiny_market), "--out", str(tmp_path / "sections"), "--json"]) == 0
    capsys.readouterr()
    data = tmp_path / "data"
    ds = load_dataset(tiny_market)
    write_dataset(data, ds.vacancies.iloc[:40], ds.resumes.iloc[:10], None)
    first = parse_corpus(skill_tagger, data, tmp_path / "parsed", classifier_dir=tmp_path / "sections")
    sec = pd.read_parquet(tmp_path / "parsed" / "sections.parquet")
    probs = sec[[c for c in sec.columns if c.startswith("prob_")]]
    assert len(sec) == first.sections > 0 and probs.shape[1] >= 3 and (probs.sum(axis=1) - 1).abs().max() < 1e-5
    assert (probs.max(axis=1) == sec["probability"]).all() and (probs.idxmax(axis=1).str[5:] == sec["section"]).all()
    again = parse_corpus(skill_tagger, data, tmp_path / "parsed", classifier_dir=tmp_path / "sections")
    assert again.parsed == 0 and pd.read_parquet(tmp_path / "parsed" / "sections.parquet").equals(sec)

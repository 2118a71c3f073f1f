"""The skill bag as a tower feature: parsed, normalised skills -> ids after the categorical codes -> EmbeddingBag.

Trained with `--parsed`, saved with the model (vocabulary in features.json, its sha256 in the weights), read the
same way by every encoder; a vocabulary the weights were not trained with, a parse by another tagger and a
skills config without a parse are refused in one line.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from dssm.config import load_model_config
from dssm.errors import JobmatchError
from dssm.features import FeatureSpace
from dssm.model_io import load_model
from pipelines.artifacts import load_encoder
from pipelines.data.dataset import load_dataset
from pipelines.training.dssm import train
from pipelines.artifacts import SkillSource


@pytest.fixture(scope="module")
def skills_model(tiny_run, tiny_parsed, tmp_path_factory):
    out = tmp_path_factory.mktemp("skills") / "skills"
    train(tiny_run["data"], load_model_config("tiny_skills"), out, tokenizer_dir=tiny_run["tokenizer"], parsed=tiny_parsed)
    return out


def test_feature_space_bags_skills_after_the_codes():
    train_df = pd.DataFrame({"area": ["a", "b", "a"], "parsed_skills": [["python", "sql"], ["python"], ["go", "python"]]})
    fs = FeatureSpace.fit(train_df, ("area",), (), max_skills=3, skill_min_count=2)
    assert fs.skills == ["python"] and fs.skill_rows == 3  # sql and go are named by one document only
    cat, _ = fs.transform(pd.DataFrame({"area": ["b", "a"], "parsed_skills": [["sql", "python", "python"], []]}))
    assert cat.tolist() == [[3, 1, 2, 0], [2, 0, 0, 0]]  # area code, then unknown, python, padding
    with pytest.raises(JobmatchError, match=r"column 'parsed_skills', row 1: expected a list"):
        fs.transform(pd.DataFrame({"area": ["a", "a"], "parsed_skills": [["python"], "python"]}))
    with pytest.raises(JobmatchError, match="no 'parsed_skills' column"):
        fs.transform(pd.DataFrame({"area": ["a"]}))
    assert FeatureSpace.from_dict(fs.to_dict()).skills_sha == fs.skills_sha


def test_skills_model_saves_its_vocabulary_and_reads_the_same_bags(skills_model, tiny_run, tiny_parsed):
    features = json.loads((skills_model / "features.json").read_text())
    vocab = features["vacancies"]["skills"]["vocabulary"]
    assert len(vocab) > 5 and features["resumes"]["skills"]["max_skills"] == 32
    enc = load_encoder(skills_model)  # the parse folder comes from the model's config
    assert enc.skills is not None and enc.skills.parsed.resolve() == tiny_parsed.resolve()
    vac = load_dataset(tiny_run["data"]).vacancies.head(40)
    emb = enc.embed(vac, "vacancies")
    bags = SkillSource(tiny_parsed)(vac, "vacancies")["parsed_skills"]
    blank = enc.embed(vac.assign(parsed_skills=[[] for _ in range(len(vac))]), "vacancies")
    assert bags.map(len).gt(0).mean() > 0.8 and np.abs(emb - blank).max() > 1e-3  # the bag changes the embedding
    changed = vac.head(3).assign(description=lambda d: d["description"] + " Нужен опыт Python и PostgreSQL.")
    with pytest.raises(JobmatchError, match=r"3 vacancies not in the parse or changed since"):
        enc.embed(changed, "vacancies")


def test_a_vocabulary_the_weights_were_not_trained_with_is_refused(skills_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(skills_model, copy)
    features = json.loads((copy / "features.json").read_text())
    vocab = features["vacancies"]["skills"]["vocabulary"]
    vocab[0], vocab[1] = vocab[1], vocab[0]  # same size, so every tensor shape still fits
    (copy / "features.json").write_text(json.dumps(features, ensure_ascii=False))
    with pytest.raises(JobmatchError, match="skill vocabulary differs from the one weights.safetensors was trained with"):
        load_model(copy)
    features["vacancies"]["skills"]["vocabulary"] = vocab + ["новый навык"]
    (copy / "features.json").write_text(json.dumps(features, ensure_ascii=False))
    with pytest.raises(JobmatchError, match="skill vocabulary differs"):
        load_model(copy)


def test_parse_by_another_tagger_and_missing_parse_are_refused(skills_model, tiny_run, tiny_parsed, tmp_path):
    with pytest.raises(JobmatchError, match="parsed by tagger .* but the model's skills came from tagger"):
        SkillSource(tiny_parsed, expect_tagger="0" * 64)
    with pytest.raises(JobmatchError, match="not a parse folder"):
        load_encoder(skills_model, parsed=tmp_path)
    with pytest.raises(JobmatchError, match="a parse folder is required"):
        train(tiny_run["data"], load_model_config("tiny_skills"), tmp_path / "m1", tokenizer_dir=tiny_run["tokenizer"])
    with pytest.raises(JobmatchError, match="a parse folder is not used"):
        train(tiny_run["data"], load_model_config("tiny"), tmp_path / "m2", tokenizer_dir=tiny_run["tokenizer"], parsed=tiny_parsed)


def test_skills_model_on_onnx_runtime_gives_the_torch_embeddings(skills_model, tiny_run):
    pytest.importorskip("onnxruntime", reason="ONNX Runtime is a dev dependency (make install)")
    from dssm.onnx_export import ONNX_TOLERANCE

    vac = load_dataset(tiny_run["data"]).vacancies.head(50)
    torch_emb = load_encoder(skills_model).embed(vac, "vacancies")
    onnx_emb = load_encoder(skills_model, runtime="onnx").embed(vac, "vacancies")
    assert np.abs(torch_emb - onnx_emb).max() <= ONNX_TOLERANCE


def test_evaluate_reads_skill_bags_from_the_parse_it_is_given(skills_model, tiny_run, skill_tagger, tmp_path, capsys, monkeypatch):
    from pipelines.cli import main

    monkeypatch.setenv("CI", "true")  # no progress bar on stderr: the refusal is the one line there
    from pipelines.data.dataset import write_dataset
    from pipelines.understanding.corpus import parse_corpus

    ds = load_dataset(tiny_run["data"])
    data = tmp_path / "data"
    write_dataset(data, ds.vacancies.assign(description=ds.vacancies["description"] + "<p>Нужен опыт с Python.</p>"), ds.resumes, ds.interactions)
    argv = ["evaluate", "--data", str(data), "--arms", f"control={skills_model},tfidf", "--out", str(tmp_path / "report")]
    assert main(argv) == 2  # every vacancy changed: the model's own parse no longer holds them
    err = capsys.readouterr().err.strip()
    assert "not in the parse or changed since" in err and len(err.splitlines()) == 1
    parse_corpus(skill_tagger, data, tmp_path / "parsed")
    assert main([*argv, "--parsed", str(tmp_path / "parsed")]) == 0


def test_a_model_with_both_match_channels_trains_encodes_and_exports(tiny_run, tiny_parsed, tmp_path):
    """`tiny` with the lexical and the skill match channel (no skill embedding): trained with --parsed, every embedding is
    a unit vector of out_dim + both widths, the skill channel moves it, and ONNX Runtime gives the torch embeddings."""
    from dataclasses import replace

    pytest.importorskip("onnxruntime", reason="ONNX Runtime is a dev dependency (make install)")
    from dssm.onnx_export import ONNX_TOLERANCE

    base = load_model_config("tiny")
    channels = {"lexical_dim": 16, "skill_match_dim": 24, "skill_min_count": 1}
    cfg = replace(base, vacancy=replace(base.vacancy, **channels), resume=replace(base.resume, **channels))
    train(tiny_run["data"], cfg, tmp_path / "m", tokenizer_dir=tiny_run["tokenizer"], parsed=tiny_parsed)
    vac = load_dataset(tiny_run["data"]).vacancies.head(40)
    enc = load_encoder(tmp_path / "m")
    emb = enc.embed(vac, "vacancies")
    assert emb.shape == (40, base.vacancy.out_dim + 16 + 24) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    blank = enc.embed(vac.assign(parsed_skills=[[] for _ in range(len(vac))]), "vacancies")
    assert np.abs(emb[:, -24:] - blank[:, -24:]).max() > 1e-3 and np.abs(blank[:, -24:]).max() == 0  # no skills: an empty channel
    assert np.abs(load_encoder(tmp_path / "m", runtime="onnx").embed(vac, "vacancies") - emb).max() <= ONNX_TOLERANCE

"""The oracle summaries: ground-truth sentence scores (sections on the synthetic market, hidden-profile skills on the
semi-synthetic one) through the same budgeted selection; a dataset without truth is refused."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import summarizer.oracle
from dssm.errors import JobmatchError
from dssm.text import frame_documents
from pipelines.artifacts import load_tokenizer
from pipelines.data.dataset import load_dataset, read_truth_profiles, read_truth_sentences, write_dataset
from pipelines.data.synth.build import synthesize
from pipelines.data.synth.config import SynthConfig
from pipelines.evaluation.summaries import section_precision_recall
from pipelines.training.summarizer import SummarizeConfig, oracle_scorer, summarize
from summarizer.labels import INFORMATIVE_SECTIONS
from summarizer.oracle import skill_scores
from summarizer.summarize import select_documents


def test_doctests():
    assert doctest.testmod(summarizer.oracle).failed == 0


def _selections(df, kind, tok, budget, method="lead", given=None):
    sentences = frame_documents(df, kind)
    docs = tok.encode_documents(sentences)
    return sentences, select_documents(docs, [True] * len(docs), kind, method, None, int(tok.vocab_size), budget, 0, given)


def test_section_oracle_scores_are_the_truth_and_beat_lead(tiny_run):
    data, tok = tiny_run["data"], load_tokenizer(tiny_run["tokenizer"])
    df = load_dataset(data).vacancies
    truth = read_truth_sentences(data)
    sentences = frame_documents(df, "vacancies")
    scores = oracle_scorer(data, "vacancies", df)(sentences)
    t = truth[truth["kind"] == "vacancies"].set_index(["doc_id", "sent_idx"])["section"]
    for doc_id, s in list(zip(df["vacancy_id"], scores))[:50]:
        expected = [float(t.get((doc_id, j)) in INFORMATIVE_SECTIONS["vacancies"]) for j in range(len(s))]
        assert s.tolist() == expected
    ids = df["vacancy_id"].tolist()
    _, oracle = _selections(df, "vacancies", tok, 60, given=scores)
    _, lead = _selections(df, "vacancies", tok, 60)
    p_oracle = section_precision_recall(ids, oracle, truth, "vacancies")["precision"]
    p_lead = section_precision_recall(ids, lead, truth, "vacancies")["precision"]
    assert p_oracle >= 0.95 and p_oracle > p_lead + 0.2


def test_summarize_oracle_writes_a_dataset_and_records_the_method(tiny_run, tmp_path):
    out = tmp_path / "oracle"
    result = summarize(SummarizeConfig(method="oracle", budget=80), tiny_run["data"], out, tokenizer_dir=tiny_run["tokenizer"])
    assert result.preprocess["method"] == "oracle" and result.preprocess["preprocess_id"].startswith("summarizer:oracle/budget:80/")
    summ = load_dataset(out).vacancies
    assert len(summ) == 300 and summ["n_summary_tokens"].max() <= 80
    with pytest.raises(JobmatchError, match="no ground truth for the oracle"):
        summarize(SummarizeConfig(method="oracle"), out, tmp_path / "again", tokenizer_dir=tiny_run["tokenizer"])


def test_skill_oracle_on_a_semi_synthetic_market(tiny_run, tmp_path):
    ds = load_dataset(tiny_run["data"])
    real = tmp_path / "real"
    write_dataset(real, ds.vacancies, ds.resumes)
    semi = tmp_path / "semi"
    synthesize(SynthConfig(n_resumes=120, seed=1), semi, vacancies_from=real)
    assert read_truth_sentences(semi) is not None and not (read_truth_sentences(semi)["kind"] == "vacancies").any()
    df = load_dataset(semi).vacancies
    profiles = read_truth_profiles(semi, "vacancies").set_index("vacancy_id")["skills"]
    sentences = frame_documents(df, "vacancies")
    scores = oracle_scorer(semi, "vacancies", df)(sentences)
    for doc_id, sents, s in list(zip(df["vacancy_id"], sentences, scores))[:50]:
        np.testing.assert_array_equal(s, skill_scores(sents, list(profiles[doc_id])))
    named = lambda selections: np.mean([sum(scores[d][i] for i, _ in kept) for d, kept in enumerate(selections)])  # noqa: E731
    tok = load_tokenizer(tiny_run["tokenizer"])
    assert named(_selections(df, "vacancies", tok, 40, given=scores)[1]) > 1.3 * named(_selections(df, "vacancies", tok, 40)[1])


def test_skill_scores_count_distinct_whole_word_names():
    assert skill_scores(["Go, Golang и go", "PostgreSQL; SQL", "C++"], ["Go", "SQL", "c++"]).tolist() == [1.0, 1.0, 1.0]
    assert skill_scores(["anything"], []).tolist() == [0.0]
    assert skill_scores([], ["x"]).shape == (0,)

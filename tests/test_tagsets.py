"""Entity-set readers: span sets with `spans` or `entities_json`, the seeded dev split, pretraining text without dev."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dssm.errors import DataError
from pipelines.understanding.tagsets import corpus_documents, load_set

TEXTS = [f"Resume {i}. Worked at Acme{i} as a Python developer in Pune." for i in range(20)]


def spans_of(text: str) -> list[dict]:
    """The company and the skill of one toy resume, as character spans (end exclusive)."""
    company = text.split()[4]
    return [
        {"label": "Companies", "start": text.index(company), "end": text.index(company) + len(company)},
        {"label": "Skills", "start": text.index("Python"), "end": text.index("Python") + len("Python")},
    ]


def test_entities_json_reads_as_the_same_spans_and_keeps_dev_text_out_of_pretraining(tmp_path):
    (tmp_path / "spans").mkdir()
    (tmp_path / "json").mkdir()
    pd.DataFrame({"doc_id": [str(i) for i in range(20)], "text": TEXTS, "spans": [spans_of(t) for t in TEXTS]}).to_parquet(tmp_path / "spans" / "resumes.parquet")
    pd.DataFrame({"doc_id": [str(i) for i in range(20)], "text": TEXTS,
                  "entities_json": [json.dumps([{**s, "text": t[s["start"]:s["end"]]} for s in spans_of(t)]) for t in TEXTS]}).to_parquet(tmp_path / "json" / "resumes.parquet")

    a_train, a_dev = load_set(tmp_path / "spans")
    b_train, b_dev = load_set(tmp_path / "json")
    assert b_train.tags == a_train.tags and b_dev.tags == a_dev.tags
    assert b_train.tokens == a_train.tokens and 0 < len(b_dev.tokens) < 20
    first = b_train.tags["tags"][0]
    assert first.count("B-Companies") == 1 and first.count("B-Skills") == 1

    _, docs = corpus_documents(tmp_path / "json")
    words = {w for d in docs for s in d for w in s}
    dev_companies = {f"Acme{i}" for i in b_dev.frame["doc_id"].astype(int)}
    train_companies = {f"Acme{i}" for i in b_train.frame["doc_id"].astype(int)}
    assert len(docs) == len(b_train.tokens) and train_companies <= words and not dev_companies & words


def test_a_broken_entities_json_row_is_named(tmp_path):
    rows = [json.dumps(spans_of(t)) for t in TEXTS]
    rows[7] = "[{not json"
    pd.DataFrame({"text": TEXTS, "entities_json": rows}).to_parquet(tmp_path / "resumes.parquet")
    with pytest.raises(DataError) as e:
        load_set(tmp_path)
    assert "entities_json" in str(e.value) and "7" in str(e.value) and "resumes.parquet" in str(e.value)

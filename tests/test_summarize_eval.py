"""Teacher attention per ground-truth section: known answers, uniform attention, the corpus summary, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dssm.errors import DataError, JobmatchError
from pipelines.evaluation.summaries import section_attention, section_attention_summary
from summarizer.config import LabelRule
from summarizer.labels import label_documents

SECTIONS = ["title", "heading", "boilerplate", "boilerplate", "heading", "skills", "boilerplate", "conditions"]
SIZES = [2, 1, 5, 4, 1, 3, 2, 0]  # the last sentence was not read (past the teacher's max_len)


def frames(attn: np.ndarray, sizes=SIZES, sections=SECTIONS, doc_id="v1", rule=LabelRule(method="fair_share")):
    sent = np.repeat(np.arange(len(sizes)), sizes)
    labels = label_documents([doc_id], "vacancies", [attn], [sent], [len(sizes)], rule)
    truth = pd.DataFrame({"doc_id": doc_id, "kind": "vacancies", "sent_idx": np.arange(len(sizes)), "section": sections})
    return labels, truth


def test_section_spans_masses_and_ratios_by_hand():
    attn = np.full(18, 0.4 / 15)
    attn[13:16] = 0.2  # the skills sentence (read tokens 13..15) holds 0.6
    labels, truth = frames(attn)
    out = section_attention(labels, truth)
    assert out["section"].tolist() == ["title", "heading", "boilerplate", "skills", "conditions"]
    row = out.set_index("section")
    assert row.loc["heading", ["sentences", "n_tokens", "first_token", "end_token"]].tolist() == [2, 2, 2, 13]  # parts at 2 and 12
    assert row.loc["boilerplate", ["sentences", "n_tokens", "first_token", "end_token"]].tolist() == [3, 11, 3, 18]
    assert row.loc["skills", ["first_token", "end_token"]].tolist() == [13, 16]
    assert row.loc["skills", "mass_share"] == pytest.approx(0.6)
    assert row.loc["skills", "token_share"] == pytest.approx(3 / 18)
    assert row.loc["skills", "ratio"] == pytest.approx(0.6 / (3 / 18))
    assert row.loc["conditions", ["n_tokens", "first_token", "end_token", "token_share"]].tolist() == [0, -1, -1, 0.0]
    assert np.isnan(row.loc["conditions", "ratio"])
    assert out["mass_share"].sum() == pytest.approx(1.0) and out["token_share"].sum() == pytest.approx(1.0)


def test_uniform_attention_gives_ratio_one_in_every_read_section():
    labels, truth = frames(np.full(18, 1 / 18))
    out = section_attention(labels, truth)
    np.testing.assert_allclose(out["ratio"].dropna().to_numpy(), 1.0)


def test_summary_orders_sections_by_position_and_counts_starts_beyond_the_cut():
    parts = []
    for i, sizes in enumerate(([2, 1, 5, 4, 1, 3, 2, 0], [2, 1, 1, 1, 1, 3, 2, 2])):
        labels, truth = frames(np.full(sum(sizes), 1 / sum(sizes)), sizes=sizes, doc_id=f"v{i}")
        parts.append((labels, truth))
    labels = pd.concat([p[0] for p in parts], ignore_index=True)
    truth = pd.concat([p[1] for p in parts], ignore_index=True)
    per = section_attention(labels, truth)
    assert per["doc_id"].unique().tolist() == ["v0", "v1"]
    summary = section_attention_summary(per, cut=10).set_index("section")
    assert summary.index.tolist()[:3] == ["title", "heading", "boilerplate"] and summary.index[-1] == "conditions"
    assert summary.loc["skills", "beyond_cut"] == pytest.approx(0.5)  # starts at 13 in v0, at 6 in v1
    assert summary.loc["title", "beyond_cut"] == 0.0 and summary.loc["title", "documents"] == 2
    assert summary.loc["conditions", "beyond_cut"] == 1.0  # read in v1 only (starts at 15)
    np.testing.assert_allclose(summary["ratio"].to_numpy(), 1.0)


def test_section_attention_errors_name_the_problem():
    labels, truth = frames(np.full(18, 1 / 18))
    with pytest.raises(DataError, match="truth/sentences.parquet: column section"):
        section_attention(labels, truth.drop(columns="section"))
    with pytest.raises(DataError, match="labels.parquet: column attention_mass"):
        section_attention(labels.drop(columns="attention_mass"), truth)
    with pytest.raises(JobmatchError, match="share no sentences"):
        section_attention(labels, truth.assign(doc_id="other"))


def test_attention_on_skill_sentences_known_answers():
    from pipelines.evaluation.summaries import attention_on_skill_sentences

    sents = [["Разработчик", "Знание Python обязательно", "Наша миссия — менять мир", "Опыт с SQL", "Дружный коллектив"]]
    labels = pd.DataFrame({"doc_id": ["a"] * 5, "kind": "vacancies", "sent_idx": range(5), "n_tokens": 4,
                           "share_ratio": [5.0, 2.0, 0.5, 1.5, 0.2], "is_summary": [True, True, False, True, False]})
    got = attention_on_skill_sentences(labels, ["a"], sents, [["Python", "sql"]])
    assert got["auc_share_ratio"] == 1.0 and got["auc_is_summary"] == 1.0 and got["sentences"] == 4 and got["naming_skills"] == 0.5
    flipped = labels.assign(share_ratio=-labels["share_ratio"], is_summary=~labels["is_summary"])
    assert attention_on_skill_sentences(flipped, ["a"], sents, [["Python", "sql"]])["auc_share_ratio"] == 0.0
    assert attention_on_skill_sentences(labels, ["a"], sents, [None]) == {}

"""Sentence labels from attention: masses, fair-share ratios, both rules, shipped YAML."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dssm.errors import JobmatchError
from dssm.io import load_config
from summarizer.config import CONFIG_DIR, LabelRule, SummarizerConfig
from summarizer.labels import LABEL_COLUMNS, binarise, fair_share_ratio, label_documents, sentence_mass


def test_sentence_mass_sums_per_sentence_and_counts_unread():
    mass, n = sentence_mass(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 0, 2, 2]), 4)
    assert mass.tolist() == pytest.approx([0.3, 0.0, 0.7, 0.0])
    assert n.tolist() == [2, 0, 2, 0]


def test_sentence_mass_refuses_bad_index():
    with pytest.raises(JobmatchError, match="out of range"):
        sentence_mass(np.array([1.0]), np.array([3]), 2)
    with pytest.raises(JobmatchError, match="shapes"):
        sentence_mass(np.array([1.0, 0.0]), np.array([0]), 2)


def test_uniform_attention_gives_ratio_one_whatever_the_sizes():
    sent = np.array([0, 1, 1, 1, 2, 2, 2, 2, 2, 2])
    mass, n = sentence_mass(np.full(10, 0.1), sent, 3)
    np.testing.assert_allclose(fair_share_ratio(mass, n), [1.0, 1.0, 1.0])
    assert not binarise(fair_share_ratio(mass, n), n, LabelRule(method="fair_share", threshold=1.0)).any()


def test_fair_share_is_size_normalised():
    # a long sentence with more total mass but less per token is NOT summary-worthy; the short dense one is
    attn = np.array([0.05] * 10 + [0.25, 0.25])
    sent = np.array([0] * 10 + [1, 1])
    mass, n = sentence_mass(attn, sent, 2)
    assert mass[0] == pytest.approx(0.5) and mass[1] == pytest.approx(0.5)
    ratio = fair_share_ratio(mass, n)
    assert ratio.tolist() == pytest.approx([0.6, 3.0])
    assert binarise(ratio, n, LabelRule(method="fair_share")).tolist() == [False, True]


def test_top_share_marks_highest_ratio_sentences_up_to_the_token_share():
    ratio = np.array([0.5, 3.0, 2.0, 1.0, 0.0])
    n = np.array([4, 2, 2, 2, 0])
    assert binarise(ratio, n, LabelRule(method="top_share", top_share=0.4)).tolist() == [False, True, True, False, False]
    # at least one sentence even if it alone exceeds the share
    assert binarise(ratio, n, LabelRule(method="top_share", top_share=0.01)).tolist() == [False, True, False, False, False]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=8), st.integers(0, 2**31 - 1))
def test_ratio_weighted_by_tokens_averages_to_one(sizes, seed):
    rng = np.random.default_rng(seed)
    sent = np.repeat(np.arange(len(sizes)), sizes)
    attn = rng.random(sent.size)
    attn = attn / attn.sum() if attn.size else attn
    mass, n = sentence_mass(attn, sent, len(sizes))
    ratio = fair_share_ratio(mass, n)
    if n.sum():
        assert float((ratio * n).sum() / n.sum()) == pytest.approx(1.0)
    assert (ratio[n == 0] == 0).all()
    labels = binarise(ratio, n, LabelRule(method="top_share", top_share=0.5))
    assert not labels[n == 0].any()


def test_label_documents_columns_and_rows():
    df = label_documents(
        ["v1", "v2"], "vacancies",
        [np.array([0.1, 0.1, 0.8]), np.zeros(0)],
        [np.array([0, 1, 1]), np.zeros(0, np.int64)],
        [3, 1], LabelRule(method="fair_share"),
    )
    assert tuple(df.columns) == LABEL_COLUMNS
    assert df["doc_id"].tolist() == ["v1", "v1", "v1", "v2"]
    assert df["sent_idx"].tolist() == [0, 1, 2, 0]
    assert df["is_summary"].tolist() == [False, True, False, False]
    assert df["n_tokens"].tolist() == [1, 2, 0, 0]
    with pytest.raises(JobmatchError):
        label_documents(["v1"], "vacancies", [], [], [], LabelRule())


def test_rule_validation():
    for bad in ({"method": "median"}, {"threshold": 0}, {"top_share": 1.5}):
        with pytest.raises(ValueError):
            LabelRule(**bad)


def test_shipped_yaml_parse():
    assert load_config(LabelRule, CONFIG_DIR / "labels.yaml") == LabelRule()
    cfg = load_config(SummarizerConfig, CONFIG_DIR / "default.yaml")
    assert cfg == SummarizerConfig()
    assert sorted(p.name for p in CONFIG_DIR.glob("*.yaml")) == ["default.yaml", "labels.yaml"]

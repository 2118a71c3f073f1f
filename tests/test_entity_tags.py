"""Tag maths: BIO/BMES decoding (seqeval's lenient convention), exact-span scores, windows and their merge."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dssm.understanding.batching import make_windows, merge_rows
from dssm.understanding.dictionary import SpanDictionary
from dssm.understanding.tags import char_to_word_spans, owner_window, scheme_of, spans_to_tags, tags_to_spans, word_offsets, word_to_char_spans, windows
from pipelines.understanding.scores import span_scores, unseen_recall


@st.composite
def spans_over(draw, scheme_types=("ORG", "LOC")):
    """Non-overlapping typed spans over n tokens."""
    n = draw(st.integers(0, 40))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=12, unique=True)))
    spans = []
    for s, e in zip(cuts[::2], cuts[1::2]):
        if e > s:
            spans.append((s, e, draw(st.sampled_from(scheme_types))))
    return n, spans


@given(spans_over(), st.sampled_from(["BIO", "BMES"]))
def test_spans_survive_a_round_trip_through_tags(case, scheme):
    n, spans = case
    tags = spans_to_tags(spans, n, scheme)
    assert len(tags) == n
    # adjacent spans of one type in BIO stay apart because each opens with B
    assert tags_to_spans(tags) == spans
    if spans:
        assert scheme_of(tags) in (scheme, "BIO")


def test_lenient_decoding_matches_seqeval_conventions():
    # seqeval (default mode): a stray I- opens a chunk; a type change closes one
    assert tags_to_spans(["O", "I-PER", "I-PER", "B-LOC", "I-ORG"]) == [(1, 3, "PER"), (3, 4, "LOC"), (4, 5, "ORG")]
    assert tags_to_spans(["B", "I", "O", "I"]) == [(0, 2, ""), (3, 4, "")]
    assert tags_to_spans(["M-ORG", "E-ORG", "S-LOC", "B-NAME", "E-NAME"]) == [(0, 2, "ORG"), (2, 3, "LOC"), (3, 5, "NAME")]
    with pytest.raises(ValueError, match="unknown prefix"):
        scheme_of(["B-X", "X-Y"])


def test_span_scores_count_exact_matches_only():
    gold = [[(0, 2, "ORG"), (3, 4, "LOC")], [(1, 2, "ORG")]]
    pred = [[(0, 2, "ORG"), (3, 5, "LOC")], [(1, 2, "LOC")]]
    s = span_scores(gold, pred)
    assert s["micro"]["precision"] == pytest.approx(1 / 3) and s["micro"]["recall"] == pytest.approx(1 / 3)
    assert s["per_type"]["ORG"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert s["per_type"]["LOC"]["f1"] == 0.0
    tokens = [["Acme", "Corp", "in", "Oslo"], ["at", "Acme"]]
    u = unseen_recall(gold, pred, tokens, seen={"acme corp"})
    assert u == {"recall": 0.0, "support": 2}  # "oslo" and "acme" are unseen; neither found exactly


def test_dictionary_finds_only_what_it_saw():
    d = SpanDictionary.fit([["use", "Java", "Script"]], [[(1, 3, "SKILL")]])
    assert d.predict([["java", "script", "and", "rust"]]) == [[(0, 2, "SKILL")]]


def test_character_spans_map_to_words_and_back():
    text = "Skills: C++, Python 3"
    off = word_offsets(text)
    words = [text[a:b] for a, b in off]
    assert words == ["Skills", ":", "C", "+", "+", ",", "Python", "3"]
    spans = char_to_word_spans(off, [(8, 11, "Tool"), (13, 19, "Tool")])
    assert spans == [(2, 5, "Tool"), (6, 7, "Tool")]
    assert word_to_char_spans(off, spans) == [(8, 11, "Tool"), (13, 19, "Tool")]


@settings(max_examples=200)
@given(st.lists(st.integers(1, 5), min_size=0, max_size=60), st.integers(6, 20), st.integers(0, 2))
def test_windows_cover_every_word_in_order_within_the_budget(counts, max_pieces, overlap):
    wins = windows(counts, max_pieces, overlap)
    covered = set()
    for (s, e), nxt in zip(wins, wins[1:] + [None]):
        assert s < e or not counts
        assert sum(counts[s:e]) <= max_pieces or e - s == 1
        covered.update(range(s, e))
        if nxt is not None:
            assert s < nxt[0] <= e  # progress, no gap
    assert covered == set(range(len(counts)))
    owners = owner_window(wins, len(counts))
    assert all(wins[o][0] <= i < wins[o][1] for i, o in enumerate(owners))


@settings(max_examples=100)
@given(spans_over(("SKILL",)), st.integers(3, 9), st.integers(0, 4))
def test_a_span_crossing_window_edges_comes_out_whole(case, window, overlap):
    """Windows tagged correctly merge into the gold tags of the whole row, whatever the window and stride."""
    n, spans = case
    gold = spans_to_tags(spans, n, "BIO")
    names = ["O", "B-SKILL", "I-SKILL"]
    rows = [[[7 + i % 3] * (1 + i % 2) for i in range(n)]]  # 1 or 2 pieces per word
    items = make_windows(rows, window, overlap, None, None)  # make_windows caps the overlap below half the window
    preds = [{"tags": np.array([names.index(gold[w]) for w in range(it.start, it.end)])} for it in items]
    merged = merge_rows(items, preds, [n])[0]["tags"]
    assert tags_to_spans([names[i] for i in merged]) == spans

"""Extractive selection under a token budget, shared by the LR summarizer and every baseline.

`select(scores, lengths, budget)`: visit sentences by descending score (ties:
earlier first), take each whole while it fits; the first one that does not fit
is cut to the remaining budget and selection stops. Empty sentences are never
taken. The kept sentences are returned in original order, so sum(kept) <= budget
always, and lead scores (-position) give exactly the first `budget` tokens.

The title (sentence 0) always stays: `summarize_frame` pins it with score +inf,
so it is taken first and counts against the budget.

>>> select(np.array([0.1, 0.9, 0.5]), [4, 3, 5], budget=6)
[(1, 3), (2, 3)]
>>> summarize([[1, 2], [3], [4, 5, 6]], np.array([0.0, 1.0, 0.5]), budget=3)
[[3], [4, 5]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dssm.errors import JobmatchError
from dssm.schema import TEXT_COLUMNS

if TYPE_CHECKING:
    from summarizer.model import Summarizer

METHODS = ("lr", "lead", "textrank", "random")
"""Sentence scorers `summarize_frame` accepts: the LR summarizer and the baselines."""


def select(scores: np.ndarray, lengths: Sequence[int], budget: int = 300) -> list[tuple[int, int]]:
    """(sent_idx, n_tokens_kept) of the selected sentences in original order; sum of kept <= budget."""
    scores = np.asarray(scores, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if scores.shape != lengths.shape:
        raise JobmatchError(f"{scores.shape[0]} scores for {lengths.shape[0]} sentences")
    if budget < 0:
        raise JobmatchError(f"budget must be >= 0, got {budget}")
    order = np.lexsort((np.arange(scores.size), -np.nan_to_num(scores, nan=-np.inf)))  # descending score, ties by position
    left, out = int(budget), []
    for i in order:
        n = int(lengths[i])
        if n == 0:
            continue
        if left <= 0:
            break
        keep = min(n, left)
        out.append((int(i), keep))
        left -= keep
        if keep < n:
            break
    return sorted(out)


def summarize(doc: Sequence[Sequence[int]], scores: np.ndarray, budget: int = 300) -> list[list[int]]:
    """The kept sentences of `doc` (ids; a cut one truncated), original order, total tokens <= budget."""
    return [list(doc[i][:k]) for i, k in select(scores, [len(s) for s in doc], budget)]


def method_scores(doc: Sequence[Sequence[int]], kind: str, method: str, summarizer: Summarizer | None, vocab_size: int, seed: int = 0) -> np.ndarray:
    """Per-sentence scores of `method` (one of METHODS) for one document."""
    from summarizer import baselines

    if method == "lr":
        if summarizer is None:
            raise JobmatchError("method 'lr' needs a trained summarizer")
        return summarizer.score(doc, kind)
    if method == "lead":
        return baselines.lead_scores(doc)
    if method == "textrank":
        return baselines.textrank_scores(doc, vocab_size)
    if method == "random":
        return baselines.random_scores(doc, seed)
    raise JobmatchError(f"unknown summarization method {method!r}; expected one of {METHODS}")


def _cut_text(words: list[str], word_tokens: list[int], keep: int) -> str:
    """Longest word prefix whose BPE tokens fit in `keep` (BPE is word-local, so counts add up)."""
    cum = np.cumsum(word_tokens) if word_tokens else np.zeros(0, np.int64)
    return " ".join(words[: int(np.searchsorted(cum, keep, side="right"))])


def select_documents(docs: list[list[list[int]]], has_title: Sequence[bool], kind: str, method: str, summarizer: Summarizer | None,
                     vocab_size: int, budget: int = 300, seed: int = 0, given: Sequence[np.ndarray] | None = None,
                     sentences: Sequence[Sequence[str]] | None = None) -> list[list[tuple[int, int]]]:
    """`select` for every document by `method` (or by the `given` per-sentence scores), the title (when present) pinned first.
    Random uses seed + document index; `sentences` (the documents' texts) feed a summarizer's section features."""
    out = []
    if given is not None:
        if len(given) != len(docs) or any(len(g) != len(doc) for g, doc in zip(given, docs)):
            raise JobmatchError(f"{kind}: given scores do not match the documents' sentences")
        batch = [np.asarray(g, dtype=np.float64).copy() for g in given]
    else:
        batch = summarizer.score_batch(docs, kind, sentences) if method == "lr" and summarizer is not None else None
    for d, doc in enumerate(docs):
        scores = batch[d] if batch is not None else method_scores(doc, kind, method, summarizer, vocab_size, seed + d).astype(np.float64)
        if has_title[d] and len(doc):
            scores[0] = np.inf
        out.append(select(scores, [len(s) for s in doc], budget))
    return out


def selection_tokens(sentences: list[list[str]], docs: list[list[list[int]]], selections: list[list[tuple[int, int]]],
                     tokenizer) -> tuple[list[list[str]], list[list[list[int]]]]:
    """Selected sentence texts per document and their BPE ids, sentence by sentence.

    A cut sentence keeps its longest word prefix that fits (BPE is word-local, so
    re-tokenising the summary never exceeds the budget, and its ids are the kept words' ids);
    an empty prefix is dropped.
    """
    texts_out, tokens_out = [], []
    for sents, doc, kept in zip(sentences, docs, selections):
        texts, tokens = [], []
        for i, k in kept:
            if k == len(doc[i]):
                texts.append(sents[i])
                tokens.append(list(doc[i]))
                continue
            words = sents[i].split()
            word_ids = tokenizer.encode_sentences(words)
            text = _cut_text(words, [len(w) for w in word_ids], k)
            if text:
                texts.append(text)
                tokens.append([t for w in word_ids[: len(text.split())] for t in w])
        texts_out.append(texts)
        tokens_out.append(tokens)
    return texts_out, tokens_out


def summarize_frame(df: pd.DataFrame, kind: str, summarizer: Summarizer | None, tokenizer, budget: int = 300, method: str = "lr", seed: int = 0,
                    scorer: Callable[[list[list[str]]], Sequence[np.ndarray]] | None = None) -> pd.DataFrame:
    """`df` (vacancies/resumes contract) with its text column replaced by the summary, title kept; adds `n_summary_tokens`.

    The summary text is the kept body sentences joined by "\\n" in original order;
    the title is sentence 0 and counts against `budget`. `scorer` (sentences per document ->
    scores per document) replaces `method`, e.g. the ground-truth oracle.
    """
    return summarize_frame_tokens(df, kind, summarizer, tokenizer, budget, method, seed, scorer)[0]


def summarize_frame_tokens(df: pd.DataFrame, kind: str, summarizer: Summarizer | None, tokenizer, budget: int = 300, method: str = "lr",
                           seed: int = 0, scorer: Callable[[list[list[str]]], Sequence[np.ndarray]] | None = None
                           ) -> tuple[pd.DataFrame, list[list[list[int]]]]:
    """`summarize_frame` and each summary's BPE ids, sentence by sentence (title first): what an encoder on the same
    tokenizer reads from the summarized frame (`Encoder.tokenize`), without splitting and tokenizing it again. That is
    the whole title, as the frame keeps it, even where a title longer than the budget was counted cut."""
    from dssm.text import frame_documents

    if kind not in TEXT_COLUMNS:
        raise JobmatchError(f"unknown document kind {kind!r}; expected one of {sorted(TEXT_COLUMNS)}")
    title_col, body_col = TEXT_COLUMNS[kind]
    sentences = frame_documents(df, kind)
    docs = tokenizer.encode_documents(sentences)
    titles = df[title_col].to_numpy(dtype=object)
    has_title = [isinstance(t, str) and bool(" ".join(t.split())) for t in titles]
    given = scorer(sentences) if scorer is not None else None
    selections = select_documents(docs, has_title, kind, method, summarizer, int(tokenizer.vocab_size), budget, seed, given, sentences)
    texts, tokens = selection_tokens(sentences, docs, selections, tokenizer)
    out = df.copy()
    out[body_col] = ["\n".join(t[1:] if h else t) for t, h in zip(texts, has_title)]
    out["n_summary_tokens"] = np.asarray([sum(len(t) for t in doc) for doc in tokens], dtype=np.int64)
    # the title column is kept whole, so an encoder reads the whole title even where the budget cut it
    read = [[list(doc[0])] + ids[1:] if h and doc else ids for doc, ids, h in zip(docs, tokens, has_title)]
    return out, read

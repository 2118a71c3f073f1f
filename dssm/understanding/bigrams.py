"""Word-bigram features for the entity tagger: the pairs each word forms with its left and right neighbours.

A Chinese token set reads one character per word, and a character alone is ambiguous (所 in
研究所 "institute" and in 所有 "all"); the standard remedy for character-based Chinese NER (Zhang &
Yang 2018, the char + bichar LSTM-CRF baseline of the Lattice LSTM paper) embeds the two bigrams
each character forms with its neighbours beside the character:

    b_w = [E(word_{w-1} word_w) ; E(word_w word_{w+1})]     (<s> before the first word, </s> after the last)

`BigramVocab` numbers the bigrams seen at least `min_count` times in the training rows, most
frequent first (id 0: padding, 1: any other bigram), lowercased so that a word pairs the same
way whatever its case. The tagger concatenates b_w to the word's vector before its BiLSTM.

>>> v = BigramVocab.fit([["a", "b", "c"], ["A", "b"]], min_count=2)
>>> v.pairs
['<s> a', 'a b']
>>> v.ids([["a", "b", "x"]])[0].tolist()
[[2, 3], [3, 1], [1, 1]]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np

PAD, UNKNOWN = 0, 1
START, END = "<s>", "</s>"


def row_pairs(words: Sequence[str]) -> Iterator[str]:
    """The len(words) + 1 bigrams of a row, left to right: '<s> w0', 'w0 w1', ..., 'w_last </s>'."""
    seq = [START, *(w.lower() for w in words), END]
    for a, b in zip(seq, seq[1:]):
        yield f"{a} {b}"


class BigramVocab:
    """Bigram -> id (2 + its rank); see the module docstring."""

    def __init__(self, pairs: Sequence[str]):
        self.pairs = list(pairs)
        self.index = {p: i + 2 for i, p in enumerate(self.pairs)}

    @classmethod
    def fit(cls, rows: Sequence[Sequence[str]], min_count: int) -> BigramVocab:
        counts = Counter(p for row in rows for p in row_pairs(row))
        return cls([p for p, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count])

    def __len__(self) -> int:
        """Embedding rows needed: the pairs plus padding and the unknown bucket."""
        return len(self.pairs) + 2

    def ids(self, rows: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Rows of words -> per row an int64 array (words, 2): each word's left and right bigram ids."""
        out = []
        for row in rows:
            ids = np.array([self.index.get(p, UNKNOWN) for p in row_pairs(row)], dtype=np.int64)  # (W + 1,)
            out.append(np.stack([ids[:-1], ids[1:]], axis=1) if len(row) else np.zeros((0, 2), dtype=np.int64))
        return out

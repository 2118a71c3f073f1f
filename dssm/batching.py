"""Tokenised documents held once per run as flat arrays, padded batches, length-sorted batching.

A `TokenStore` keeps every document's first `max_len` BPE ids (sentences
concatenated in order) and each token's sentence index, so a run tokenises
once. Batches are padded only to their own longest document; the towers run
the GRU over length-sorted chunks of a batch (`dssm.tower.rnn_chunks`), and
inference sorts documents by length, so little padding is ever read.

>>> s = TokenStore.from_flat([(np.array([5, 6, 7]), np.array([0, 0, 1])), (np.array([9]), np.array([0]))])
>>> ids, mask = s.batch(np.array([1, 0]))
>>> ids.tolist(), mask.sum(1).tolist()
([[9, 0, 0], [5, 6, 7]], [1, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dssm.tower import PAD_ID


def flatten_document(doc: Sequence[Sequence[int]], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Sentences of ids -> (ids (T,), sent_idx (T,)) int64, the first `max_len` tokens in reading order.

    Uses `dssm.tokenizer.flatten` (the tokenizer owns the layout of a document).
    """
    from dssm.tokenizer import flatten

    ids, sent = flatten(doc, max_len)
    return np.asarray(ids, dtype=np.int64), np.asarray(sent, dtype=np.int64)


@dataclass
class TokenStore:
    """N documents as one flat id array with offsets: doc i is ids[offsets[i]:offsets[i+1]]."""

    ids: np.ndarray
    """All documents' token ids, concatenated (int32)."""
    sent: np.ndarray
    """Sentence index of every token (int32), aligned with ids."""
    offsets: np.ndarray
    """(N + 1,) int64 start offsets."""

    @classmethod
    def from_flat(cls, docs: Sequence[tuple[np.ndarray, np.ndarray]]) -> TokenStore:
        """From per-document (ids (T_i,), sent_idx (T_i,)) pairs."""
        lengths = np.array([len(d[0]) for d in docs], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = np.concatenate([np.asarray(d[0], dtype=np.int32) for d in docs]) if docs else np.zeros(0, np.int32)
        sent = np.concatenate([np.asarray(d[1], dtype=np.int32) for d in docs]) if docs else np.zeros(0, np.int32)
        return cls(ids, sent, offsets)

    @classmethod
    def from_documents(cls, docs: Sequence[Sequence[Sequence[int]]], max_len: int) -> TokenStore:
        """From tokenised documents (a list of sentences of ids each), cut to `max_len` tokens."""
        return cls.from_flat([flatten_document(d, max_len) for d in docs])

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def doc(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.ids[a:b], self.sent[a:b]

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Documents `rows` -> ids (B, T) int64 padded with PAD_ID, mask (B, T) bool; T = longest (>= 1)."""
        lengths = self.lengths[rows]
        T = max(int(lengths.max(initial=0)), 1)
        ids = np.full((len(rows), T), PAD_ID, dtype=np.int64)
        for j, r in enumerate(rows):
            a, b = self.offsets[r], self.offsets[r + 1]
            ids[j, : b - a] = self.ids[a:b]
        mask = np.arange(T)[None, :] < lengths[:, None]
        return torch.from_numpy(ids), torch.from_numpy(mask)


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Row indices grouped into batches of similar length (longest first), for padding-free inference."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

"""Rows of words -> encoder windows -> padded batches, and window predictions -> one tag per word of each row.

A row's words are encoded into pieces once; `tags.windows` cuts the row into windows of whole
words (<= `window` pieces, ~`overlap` shared); each word is predicted by its owner window
(`tags.owner_window`: the window where it is furthest from an edge), so long documents are
read whole, never cut, and spans crossing a window edge come out whole.

>>> w = make_windows([[[7], [8, 9], [10], [11, 12]]], window=4, overlap=1, cls_id=2, sep_id=3)
>>> [(x.start, x.end, x.ids) for x in w]
[(0, 3, [2, 7, 8, 9, 10, 3]), (2, 4, [2, 10, 11, 12, 3])]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from dssm.understanding.tags import owner_window, windows


@dataclass
class Window:
    """Words [start, end) of row `row`: their piece ids (with [CLS]/[SEP] when the encoder uses them) and each piece's word (-1: special)."""

    row: int
    start: int
    end: int
    ids: list[int]
    word_of_piece: list[int]
    features: np.ndarray | None = None
    """Per word of the window, its integer features (words, F), e.g. bigram ids; None when the model reads none."""


def make_windows(rows: Sequence[Sequence[Sequence[int]]], window: int, overlap: int, cls_id: int | None, sep_id: int | None,
                 features: Sequence[np.ndarray] | None = None) -> list[Window]:
    """rows[r][w] = the pieces of word w of row r -> windows in row order (an empty row gives one empty window).

    `features[r]` (words of row r, F), when given, is sliced into each window beside its pieces.

    `window` counts pieces without [CLS]/[SEP]; a word longer than a window keeps its first `window` pieces.
    `overlap` is capped below half the window (a longer one would make consecutive windows mostly the same).
    """
    overlap = min(overlap, window // 2 - 1)
    out: list[Window] = []
    for r, words in enumerate(rows):
        counts = [min(len(p), window) for p in words]
        for s, e in windows(counts, window, overlap):
            ids, wop = [], []
            for w in range(s, e):
                piece = list(words[w])[:window]
                ids += piece
                wop += [w - s] * len(piece)
            if cls_id is not None:
                ids, wop = [cls_id, *ids, sep_id], [-1, *wop, -1]
            out.append(Window(r, s, e, ids, wop, None if features is None else features[r][s:e]))
    return out


def collate(items: Sequence[Window], pad_id: int, tags: dict[str, Sequence[Sequence[int]]] | None = None) -> dict[str, Tensor]:
    """Windows -> ids, mask, word_of_piece (B, P); n_words; `features` (B, W, F) with 0 padding when the windows carry them;
    and, given `tags` (layer -> row -> tag ids), labels_<layer> (B, W) with -100 padding."""
    p = max(1, max(len(w.ids) for w in items))
    n_words = max(1, max(w.end - w.start for w in items))
    ids = torch.full((len(items), p), pad_id, dtype=torch.long)  # (B, P)
    wop = torch.full((len(items), p), -1, dtype=torch.long)  # (B, P)
    mask = torch.zeros((len(items), p), dtype=torch.bool)  # (B, P)
    for i, w in enumerate(items):
        ids[i, : len(w.ids)] = torch.tensor(w.ids, dtype=torch.long)
        wop[i, : len(w.word_of_piece)] = torch.tensor(w.word_of_piece, dtype=torch.long)
        mask[i, : len(w.ids)] = True
    batch = {"ids": ids, "mask": mask, "word_of_piece": wop, "n_words": n_words}
    if items[0].features is not None:
        feats = torch.zeros((len(items), n_words, items[0].features.shape[1]), dtype=torch.long)  # (B, W, F)
        for i, w in enumerate(items):
            feats[i, : len(w.features)] = torch.from_numpy(w.features)
        batch["features"] = feats
    for layer, rows in (tags or {}).items():
        lab = torch.full((len(items), n_words), -100, dtype=torch.long)  # (B, W)
        for i, w in enumerate(items):
            seg = rows[w.row][w.start : w.end]
            if len(seg):
                lab[i, : len(seg)] = torch.as_tensor(np.asarray(seg, dtype=np.int64))
        batch[f"labels_{layer}"] = lab
    return batch


def drop_words(batch: dict[str, Tensor], p: float, mask_id: int, generator: torch.Generator) -> dict[str, Tensor]:
    """Word dropout on a collated training batch: each word of each window is hidden with probability `p`, every
    piece of it replaced by `mask_id` (specials and padding untouched); -> the batch with new `ids`.

    >>> b = collate(make_windows([[[7], [8, 9], [10]]], window=8, overlap=1, cls_id=2, sep_id=3), pad_id=0)
    >>> drop_words(b, 0.0, 99, torch.Generator())["ids"].tolist(), drop_words(b, 0.999, 99, torch.Generator())["ids"].tolist()
    ([[2, 7, 8, 9, 10, 3]], [[2, 99, 99, 99, 99, 3]])
    """
    if p <= 0:
        return batch
    wop = batch["word_of_piece"]  # (B, P)
    hide = torch.rand((wop.shape[0], batch["n_words"]), generator=generator) < p  # (B, W)
    pieces = hide.gather(1, wop.clamp(min=0)) & (wop >= 0)  # (B, P)
    return {**batch, "ids": batch["ids"].masked_fill(pieces, mask_id)}


def merge_rows(items: Sequence[Window], preds: Sequence[dict[str, np.ndarray]], n_words: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """Per-window predictions (layer -> tag id, or any per-word value, per window word) -> per-row arrays, each word taken
    from its owner window."""
    by_row: dict[int, list[int]] = {}
    for k, w in enumerate(items):
        by_row.setdefault(w.row, []).append(k)
    layers = list(preds[0]) if preds else []
    out = []
    for r, n in enumerate(n_words):
        ks = by_row.get(r, [])
        row = {layer: np.zeros(n, dtype=preds[0][layer].dtype) for layer in layers}
        owners = owner_window([(items[k].start, items[k].end) for k in ks], n)
        for word, o in enumerate(owners):
            k = ks[o]
            for layer in layers:
                row[layer][word] = preds[k][layer][word - items[k].start]
        out.append(row)
    return out

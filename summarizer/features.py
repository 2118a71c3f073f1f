"""Sentence features for the LR summarizer, computed from BPE ids only.

For sentence i of a document with S sentences (sentence 0 = title) and V = vocab size:

* bag   [0, V):   1 if BPE token v occurs in sentence i (binary bag of tokens);
* cue   [V, 2V):  the bag of the nearest preceding section header h(i) < i
                  (a non-title sentence of <= `header_max_tokens` tokens ending in a
                  colon token, e.g. "Требования:"), zeros when there is none;
* dense (last):   relative position i/(S-1); i == 0; i == 1; log(1 + n_i)/5;
                  n_i <= header_max_tokens; then, when the summarizer has a section
                  classifier, p(section c | sentence i) for each of its K classes
                  (`section:<c>`; computed from the sentence texts by the caller and passed
                  in as a (S, K) array per document).

Blocks are switched by `FeatureConfig`. The LR's logit is then
  b + sum_{v in bag(i)} w_v + sum_{v in bag(h(i))} u_v + d_i . c,
which `SentenceFeaturizer.logits` evaluates without building the matrix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain

import numpy as np
import scipy.sparse as sp

from dssm.errors import JobmatchError
from summarizer.config import FeatureConfig

DENSE_NAMES = ("rel_position", "is_title", "is_first_body", "log_length", "is_short")


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """Sorted unique values by sort + neighbour diff (numpy 2's hash-based np.unique is ~10x slower here)."""
    x = np.sort(x)
    return x[np.concatenate([[True], x[1:] != x[:-1]])] if x.size else x


def _flat(nested) -> Iterator[int]:
    return chain.from_iterable(nested)


class SentenceFeaturizer:
    """Sparse sentence features of tokenised documents (see the module docstring for the layout)."""

    def __init__(self, vocab_size: int, cfg: FeatureConfig, colon_ids: Sequence[int] | None = None, section_classes: Sequence[str] = ()):
        self.vocab_size, self.cfg = int(vocab_size), cfg
        self.section_classes = tuple(str(c) for c in section_classes)
        """Classes of the section probabilities in the dense block (empty: no section features)."""
        self.colon_ids = None if colon_ids is None else np.asarray(sorted(set(int(i) for i in colon_ids)), dtype=np.int64)
        """Token ids whose subword ends with ':' (header detection); None = length rule only."""
        self._is_colon = np.zeros(self.vocab_size, dtype=bool)
        if self.colon_ids is not None:
            self._is_colon[self.colon_ids[self.colon_ids < self.vocab_size]] = True
        self.dense_names = self._dense_names()

    def _dense_names(self) -> tuple[str, ...]:
        names = []
        if self.cfg.position:
            names += list(DENSE_NAMES[:3])
        if self.cfg.length:
            names += list(DENSE_NAMES[3:])
        return tuple(names + [f"section:{c}" for c in self.section_classes])

    def _check_sections(self, sections: Sequence[np.ndarray] | None, sizes: Sequence[int]) -> None:
        """JobmatchError unless `sections` holds one (S, K) array per document of `sizes` sentences (nothing to check without classes)."""
        k = len(self.section_classes)
        if not k:
            return
        if sections is None:
            raise JobmatchError(f"this summarizer reads section probabilities ({', '.join(self.section_classes)}); pass the sentence texts")
        if len(sections) != len(sizes) or any(np.shape(p) != (n, k) for p, n in zip(sections, sizes)):
            raise JobmatchError(f"section probabilities do not match the documents: need one ({k} classes) row per sentence")

    def _section_block(self, sections: Sequence[np.ndarray] | None, sizes: Sequence[int]) -> np.ndarray:
        """The documents' section probabilities stacked (sum S, K); (sum S, 0) without section features."""
        self._check_sections(sections, sizes)
        k = len(self.section_classes)
        if not k:
            return np.zeros((int(sum(sizes)), 0))
        return np.concatenate([np.asarray(p, dtype=np.float64).reshape(n, k) for p, n in zip(sections, sizes)]) if len(sizes) else np.zeros((0, k))

    @property
    def n_features(self) -> int:
        return self.vocab_size * (2 if self.cfg.section_cue else 1) + len(self.dense_names)

    def header_index(self, doc: Sequence[Sequence[int]]) -> np.ndarray:
        """h(i) (int64 (S,)): index of the nearest preceding section header, -1 if none."""
        out = np.full(len(doc), -1, dtype=np.int64)
        last = -1
        for i, sent in enumerate(doc):
            out[i] = last
            if i > 0 and 0 < len(sent) <= self.cfg.header_max_tokens and (self.colon_ids is None or self._is_colon[sent[-1]]):
                last = i
        return out

    def dense(self, doc: Sequence[Sequence[int]], sections: np.ndarray | None = None) -> np.ndarray:
        """Dense features (S, len(dense_names)) float64; `sections` (S, K): the section probabilities, when the featurizer has classes."""
        s = len(doc)
        idx = np.arange(s, dtype=np.float64)
        n = np.fromiter((len(x) for x in doc), dtype=np.float64, count=s)
        cols = []
        if self.cfg.position:
            cols += [idx / max(s - 1, 1), (idx == 0).astype(np.float64), (idx == 1).astype(np.float64)]
        if self.cfg.length:
            cols += [np.log1p(n) / 5.0, ((n > 0) & (n <= self.cfg.header_max_tokens)).astype(np.float64)]
        own = np.stack(cols, axis=1) if cols else np.zeros((s, 0))
        return np.hstack([own, self._section_block(None if sections is None else [sections], [s])])

    def _pairs(self, doc: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Unique (sentence, token) pairs of a document: (sent (P,), token (P,)); JobmatchError on ids outside the vocabulary."""
        lengths = np.fromiter((len(x) for x in doc), dtype=np.int64, count=len(doc))
        ids = np.fromiter(_flat(doc), dtype=np.int64, count=int(lengths.sum()))  # (T,)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise JobmatchError(f"token id {int(ids.max() if ids.max() >= self.vocab_size else ids.min())} outside the summarizer's vocabulary "
                                f"[0, {self.vocab_size}): the documents were tokenised with another tokenizer")
        sent = np.repeat(np.arange(len(doc), dtype=np.int64), lengths)[: ids.size]  # (T,)
        key = _sorted_unique(sent * self.vocab_size + ids)  # (P,)
        return key // self.vocab_size, key % self.vocab_size

    def matrix(self, docs: Sequence[Sequence[Sequence[int]]], sections: Sequence[np.ndarray] | None = None) -> sp.csr_matrix:
        """All sentences of `docs`, stacked in document then sentence order: CSR (sum S, n_features); `sections`: one (S, K) per document."""
        self._check_sections(sections, [len(d) for d in docs])
        rows, cols, dense, offset = [], [], [], 0
        for d, doc in enumerate(docs):
            sent, tok = self._pairs(doc)
            rows.append(sent + offset)
            cols.append(tok)
            if self.cfg.section_cue:
                h = self.header_index(doc)
                # cue block: for each sentence i with header h(i) >= 0, the tokens of h(i) shifted by V
                starts = np.searchsorted(sent, np.arange(len(doc)), side="left")
                ends = np.searchsorted(sent, np.arange(len(doc)), side="right")
                for i in np.flatnonzero(h >= 0):
                    t = tok[starts[h[i]] : ends[h[i]]]
                    rows.append(np.full(t.size, i + offset, dtype=np.int64))
                    cols.append(t + self.vocab_size)
            dense.append(self.dense(doc, sections[d] if self.section_classes else None))
            offset += len(doc)
        n_sparse = self.vocab_size * (2 if self.cfg.section_cue else 1)
        r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        bag = sp.csr_matrix((np.ones(r.size), (r, c)), shape=(offset, n_sparse))
        d = sp.csr_matrix(np.concatenate(dense) if dense else np.zeros((0, len(self.dense_names))))
        return sp.hstack([bag, d], format="csr")

    def logits(self, doc: Sequence[Sequence[int]], coef: np.ndarray, intercept: float, sections: np.ndarray | None = None) -> np.ndarray:
        """LR logits (S,) of one document for weights `coef` (n_features,): equals matrix([doc], [sections]) @ coef + intercept."""
        s = len(doc)
        if s == 0:
            return np.zeros(0)
        sent, tok = self._pairs(doc)  # validates ids before header_index reads them
        v = self.vocab_size
        own = np.bincount(sent, weights=coef[tok], minlength=s)  # (S,)
        out = own + intercept
        if self.cfg.section_cue:
            h = self.header_index(doc)
            cue = np.bincount(sent, weights=coef[tok + v], minlength=s)  # (S,) cue weight of each sentence as a header
            has = h >= 0
            out[has] += cue[h[has]]
        if self.dense_names:
            n_sparse = v * (2 if self.cfg.section_cue else 1)
            out += self.dense(doc, sections) @ coef[n_sparse:]
        return out

    def logits_batch(self, docs: Sequence[Sequence[Sequence[int]]], coef: np.ndarray, intercept: float,
                     sections: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
        """`logits` for many documents in one vectorised pass (same values): list of (S_d,) arrays."""
        v = self.vocab_size
        if not len(docs):
            return []
        sizes = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))  # (D,)
        section_block = self._section_block(sections, sizes.tolist())  # (N, K)
        n_sent = int(sizes.sum())
        lengths = np.fromiter(map(len, _flat(docs)), dtype=np.int64, count=n_sent)  # (N,) tokens per sentence
        ids = np.fromiter(_flat(_flat(docs)), dtype=np.int64, count=int(lengths.sum()))  # (T,)
        if ids.size and (ids.min() < 0 or ids.max() >= v):
            raise JobmatchError(f"token ids outside the summarizer's vocabulary [0, {v}): the documents were tokenised with another tokenizer")
        sent = np.repeat(np.arange(n_sent, dtype=np.int64), lengths)  # (T,) global sentence index
        key = _sorted_unique(sent * v + ids)  # (P,) unique (sentence, token) pairs
        us, ut = key // v, key % v
        out = np.bincount(us, weights=coef[ut], minlength=n_sent) + intercept  # (N,)
        start = np.repeat(np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)  # (N,) first sentence of each sentence's document
        local = np.arange(n_sent) - start  # (N,) index within the document
        if self.cfg.section_cue and n_sent:
            last_tok = np.full(n_sent, -1, dtype=np.int64)
            ends = np.cumsum(lengths) - 1
            has = lengths > 0
            last_tok[has] = ids[ends[has]]
            header = (local > 0) & has & (lengths <= self.cfg.header_max_tokens)
            if self.colon_ids is not None:
                header &= self._is_colon[np.maximum(last_tok, 0)]
            marks = np.where(header, np.arange(n_sent), -1)
            prev = np.maximum.accumulate(np.concatenate([[-1], marks[:-1]]))  # (N,) latest header strictly before i
            h = np.where(prev >= start, prev, -1)
            cue = np.bincount(us, weights=coef[ut + v], minlength=n_sent)  # (N,)
            ok = h >= 0
            out[ok] += cue[h[ok]]
        if self.dense_names and n_sent:
            n_sparse = v * (2 if self.cfg.section_cue else 1)
            cols = []
            s_of = np.repeat(sizes, sizes).astype(np.float64)
            if self.cfg.position:
                cols += [local / np.maximum(s_of - 1, 1), (local == 0).astype(np.float64), (local == 1).astype(np.float64)]
            if self.cfg.length:
                n = lengths.astype(np.float64)
                cols += [np.log1p(n) / 5.0, ((n > 0) & (n <= self.cfg.header_max_tokens)).astype(np.float64)]
            own = np.stack(cols, axis=1) if cols else np.zeros((n_sent, 0))
            out += np.hstack([own, section_block]) @ coef[n_sparse:]
        return np.split(out, np.cumsum(sizes)[:-1])

    def feature_names(self, subwords: Sequence[str] | None = None) -> list[str]:
        """Human-readable name of every feature: token subword (or id), 'cue:' + token, then the dense names."""
        tok = list(subwords) if subwords is not None else [str(i) for i in range(self.vocab_size)]
        names = list(tok)
        if self.cfg.section_cue:
            names += [f"cue:{t}" for t in tok]
        return names + list(self.dense_names)

"""The DSSM towers: BPE ids -> GRU -> linear attention pooling (+ side features) -> MLP -> unit vector.

For a document with real tokens x_1..x_L (L <= T, the rest padding):

    e_t = E[x_t]                                   token embedding
    h_t = GRU(e_1..e_L)_t                          (bi)directional outputs, width H
    s_t = w . h_t + b                              one score per token (w . e_t + b with attention_on: embedding,
                                                   u[x_t] with attention_on: token, u a zero-initialised table)
    a_t = exp(s_t) / sum_{u<=L} exp(s_u), a_t = 0 for t > L     masked softmax
    p   = sum_t a_t h_t                            attention pooling
    z   = MLP([p ; C_1[c_1] ; ... ; C_m[c_m] ; S(skills) ; num])   S(skills): mean embedding of the skill bag
                                                   (with skill_dim > 0; its ids follow the codes in `cat`)
    y   = z / ||z||_2                              the embedding; relevance = <y_resume, y_vacancy>

Match channels: bags of codes that both towers share, so a score can count what two documents have in common
before any pair has been seen. Each entry x of a channel's vocabulary has a fixed random code c_x (Gaussian /
sqrt(dim); distinct codes are nearly orthogonal) and a learned weight w[x] (a zero-initialised table: training
starts from plain counts and learns which entries' overlap matters). A document's bag and the embedding are

    l   = sum_x exp(w[x]) c_x over the document's entries,  l = l / ||l||_2   (an empty bag reads as zeros)
    y   = [y ; g_1 l_1 ; g_2 l_2] / ||.||_2        g_k = exp(m_k / 2), m_k a learned scalar

so <y_resume, y_vacancy> gains g_r g_v <l_resume, l_vacancy> / (norms): close to the weighted overlap of the two
bags. With one channel this is [sqrt(1 - b) y ; sqrt(b) l], b = sigmoid(m) its share (starts at `MATCH_SHARE`).

* lexical (`lexical_dim` > 0): the document's BPE tokens, codes drawn from `LEXICAL_SEED` over the vocabulary
  (the same tokenizer on both sides gives the same codes);
* skill match (`skill_match_dim` > 0): the skill bag's names (the ids after the categorical codes in `cat`), each
  name's code drawn from a seed hashed from the name (`skill_codes`), so a skill named on both sides has one code
  although each tower has its own skill vocabulary; unknown names and padding read as nothing.

What a model reads then reaches the score entry by entry, not only through the GRU's pooled state.

The bidirectional GRU runs as two unidirectional GRUs over the padded batch: the
forward one reads x_1..x_T as stored (real tokens first, so an output at t <= L has
seen only real tokens); the backward one reads each row reversed *within its length*
(x_L..x_1, then the padding) and its outputs are put back in place. Padding therefore
never changes an embedding, and the batch stays one dense (B, T, E) tensor: on CPU the
backward pass of a dense GRU is ~40x faster than over a `PackedSequence` (measured:
0.5 s vs 22 s for 256 x 300 tokens, one thread). Inside a batch the rows are sorted by
length and run in chunks (`rnn_chunks`), each padded only to its own longest row, so one
long document does not make the whole batch read thousands of padding steps.
The mask must be a prefix mask (real tokens first).
A row without real tokens is read as one token at position 0.

>>> import torch
>>> from dssm.config import TowerConfig
>>> t = Tower(TowerConfig(vocab_size=50, emb_dim=8, hidden=8, out_dim=4, mlp_hidden=8, categorical=("area",), numeric=()), [5]).eval()
>>> ids = torch.tensor([[5, 6, 7, 0], [9, 0, 0, 0]]); mask = ids != 0
>>> emb, attn = t.encode(ids, mask, torch.tensor([[2], [3]]), torch.zeros(2, 0))
>>> emb.shape, attn.shape, attn[1, 1:].abs().sum().item()
(torch.Size([2, 4]), torch.Size([2, 4]), 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dssm.config import TowerConfig
from dssm.features import UNKNOWN

PAD_ID = 0
"""Token id of padding (youtokentome's <PAD>)."""
LEXICAL_SEED = 20261207
"""Seed of the lexical channel's random token codes: one seed, so the vacancy and the resume tower draw the same codes."""
MATCH_SHARE = 0.2
"""Initial share b of a match channel in the embedding's squared norm (alone with the head's embedding)."""
MATCH_LOGIT = float(torch.logit(torch.tensor(MATCH_SHARE)))
RNN_STEP_OVERHEAD_ROWS = 256
"""Fixed cost of one GRU time step, in rows: sets how finely `rnn_chunks` splits a batch (training pairs/s on 2 CPU
cores, demo towers: 64 -> 190, 256 -> 211, 1024 -> 173; one 64-row chunk per call: 108)."""


def rnn_chunks(sorted_lengths: Sequence[int], step: int = 32, overhead: int = RNN_STEP_OVERHEAD_ROWS) -> list[int]:
    """Split rows sorted by length into consecutive chunks (their sizes) minimising the GRU cost.

    A chunk of n rows whose longest row has L tokens costs L * (n + overhead): every row
    runs L steps, and each step has a fixed cost worth `overhead` rows. Boundaries are
    searched every `step` rows by dynamic programming, so one long document gets a small
    chunk of its own while rows of similar length share one large, efficient GRU call.

    >>> rnn_chunks([10] * 100 + [1000] * 4)
    [96, 8]
    """
    n = len(sorted_lengths)
    cuts = sorted({*range(0, n, step), n})
    best, prev = {0: 0.0}, {0: 0}
    for j in cuts[1:]:
        best[j], prev[j] = min((best[i] + sorted_lengths[j - 1] * (j - i + overhead), i) for i in cuts if i < j)
    sizes, j = [], n
    while j > 0:
        sizes.append(j - prev[j])
        j = prev[j]
    return sizes[::-1]


def skill_codes(names: Sequence[str], dim: int) -> Tensor:
    """The skill-match codes of a tower's skill vocabulary: (len(names) + 2, dim), rows 0 and 1 (padding, unknown) zero,
    row i + 2 Gaussian / sqrt(dim) from a seed hashed from names[i] (sha256), the same in every tower and model."""
    import hashlib

    import numpy as np

    codes = np.zeros((len(names) + 2, dim), dtype=np.float32)
    for i, name in enumerate(names):
        seed = int.from_bytes(hashlib.sha256(str(name).encode("utf-8")).digest()[:8], "little")
        codes[i + 2] = np.random.default_rng(seed).standard_normal(dim) / dim**0.5
    return torch.from_numpy(codes)


def lexical_codes(vocab_size: int, dim: int) -> Tensor:
    """The lexical channel's fixed token codes (vocab_size, dim): Gaussian / sqrt(dim) from `LEXICAL_SEED`, padding zero."""
    g = torch.Generator().manual_seed(LEXICAL_SEED)
    codes = torch.randn(vocab_size, dim, generator=g) / dim**0.5
    codes[PAD_ID] = 0.0
    return codes


class Tower(nn.Module):
    """One side of the DSSM. `cardinalities[i]` is the table size of `cfg.categorical[i]`; `skill_rows` that of the
    skill vocabulary (+ padding and unknown; required when `cfg.skill_dim > 0` or `cfg.skill_match_dim > 0`)."""

    def __init__(self, cfg: TowerConfig, cardinalities: Sequence[int], skill_rows: int = 0):
        super().__init__()
        if len(cardinalities) != len(cfg.categorical):
            raise ValueError(f"{len(cfg.categorical)} categorical columns {list(cfg.categorical)} but {len(cardinalities)} cardinalities")
        self.cfg = cfg
        self.cardinalities = [int(c) for c in cardinalities]
        self.tok = nn.Embedding(cfg.vocab_size, cfg.emb_dim, padding_idx=PAD_ID)
        self.drop = nn.Dropout(cfg.dropout)
        self.rnn = nn.GRU(cfg.emb_dim, cfg.hidden, batch_first=True)
        self.rnn_reverse = nn.GRU(cfg.emb_dim, cfg.hidden, batch_first=True) if cfg.bidirectional else None
        if cfg.attention_on == "token":
            self.score = nn.Embedding(cfg.vocab_size, 1, padding_idx=PAD_ID)
            nn.init.zeros_(self.score.weight)
        else:
            self.score = nn.Linear(cfg.rnn_out if cfg.attention_on == "rnn" else cfg.emb_dim, 1)
        self.cats = nn.ModuleList(nn.Embedding(c, cfg.cat_dim) for c in self.cardinalities)
        if cfg.skill_dim and skill_rows < 2:
            raise ValueError(f"skill_dim {cfg.skill_dim} needs a skill vocabulary (skill_rows >= 2, got {skill_rows})")
        # an EmbeddingBag's mean over the non-padding ids, written out: ONNX export refuses embedding_bag with padding_idx
        self.skills = nn.Embedding(skill_rows, cfg.skill_dim, padding_idx=PAD_ID) if cfg.skill_dim else None
        in_dim = cfg.rnn_out + len(self.cardinalities) * cfg.cat_dim + cfg.skill_dim + cfg.num_dim
        if cfg.lexical_dim:
            self.register_buffer("lexical_codes", lexical_codes(cfg.vocab_size, cfg.lexical_dim))
            self.lexical_weight = nn.Embedding(cfg.vocab_size, 1, padding_idx=PAD_ID)
            nn.init.zeros_(self.lexical_weight.weight)
            self.lexical_mix = nn.Parameter(torch.tensor(MATCH_LOGIT))
        if cfg.skill_match_dim:
            if skill_rows < 2:
                raise ValueError(f"skill_match_dim {cfg.skill_match_dim} needs a skill vocabulary (skill_rows >= 2, got {skill_rows})")
            self.register_buffer("skill_codes", torch.zeros(skill_rows, cfg.skill_match_dim))  # `set_skill_codes` fills it
            self.skill_weight = nn.Embedding(skill_rows, 1, padding_idx=PAD_ID)
            nn.init.zeros_(self.skill_weight.weight)
            self.skill_mix = nn.Parameter(torch.tensor(MATCH_LOGIT))
        self.head = nn.Sequential(
            nn.Linear(in_dim, cfg.mlp_hidden),
            nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.mlp_hidden, cfg.out_dim),
        )

    def pool(self, ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Attention-pooled GRU states. ids/mask (B, T) -> pooled (B, H), attn (B, T)."""
        B, T = ids.shape
        mask = mask.bool()
        lengths = mask.sum(1).clamp(min=1)  # (B,)
        x = self.drop(self.tok(ids))  # (B, T, E)
        if B == 0:
            return x.new_zeros(0, self.cfg.rnn_out), x.new_zeros(0, T)
        valid = torch.arange(T, device=ids.device)[None, :] < lengths[:, None]  # (B, T)
        order = torch.argsort(lengths)  # rows by length: each chunk is padded only to its own longest row
        sizes = rnn_chunks(lengths[order].tolist())
        chunks = [self._rnn(x[rows, : int(lengths[rows].max())], lengths[rows]) for rows in order.split(sizes)]
        h = torch.cat([F.pad(c, (0, 0, 0, T - c.shape[1])) for c in chunks])[torch.argsort(order)]  # (B, T, H)
        return self._attend(ids, x, h, valid)

    def _attend(self, ids: Tensor, x: Tensor, h: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """Masked attention pooling of GRU states h (B, T, H) -> pooled (B, H), attn (B, T)."""
        s = self.score({"rnn": h, "embedding": x, "token": ids}[self.cfg.attention_on]).squeeze(-1).masked_fill(~valid, float("-inf"))  # (B, T)
        attn = torch.softmax(s, dim=1)  # (B, T), exactly 0 on padding
        pooled = torch.bmm(attn.unsqueeze(1), h).squeeze(1)  # (B, H)
        return pooled, attn

    def dense_encode(self, ids: Tensor, mask: Tensor, cat: Tensor, num: Tensor) -> tuple[Tensor, Tensor]:
        """`encode` with one GRU call over the whole padded batch instead of length chunks: the same maths
        (padding never reaches an embedding) without data-dependent Python, so it traces (`dssm.onnx_export`)."""
        lengths = mask.bool().sum(1).clamp(min=1)  # (B,)
        x = self.tok(ids)  # (B, T, E)
        valid = torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]  # (B, T)
        pooled, attn = self._attend(ids, x, self._rnn(x, lengths), valid)  # (B, H), (B, T)
        return self._mix(self._head(pooled, cat, num), ids, mask, cat), attn

    def dense_forward(self, ids: Tensor, mask: Tensor, cat: Tensor, num: Tensor) -> Tensor:
        """The embedding of `dense_encode`: (B, D)."""
        return self.dense_encode(ids, mask, cat, num)[0]

    def _rnn(self, x: Tensor, lengths: Tensor) -> Tensor:
        """GRU outputs of prefix-padded rows: x (b, t, E), lengths (b,) -> (b, t, H); outputs past a row's length are unused."""
        t = x.shape[1]
        pos = torch.arange(t, device=x.device)[None, :]  # (1, t)
        h, _ = self.rnn(x)  # (b, t, h)
        if self.rnn_reverse is None:
            return h
        flip = torch.where(pos < lengths[:, None], lengths[:, None] - 1 - pos, pos)  # (b, t): reverses each row's real tokens, an involution
        h_rev, _ = self.rnn_reverse(x.gather(1, flip[:, :, None].expand_as(x)))  # (b, t, h)
        return torch.cat([h, h_rev.gather(1, flip[:, :, None].expand_as(h_rev))], dim=2)  # (b, t, H)

    def encode(self, ids: Tensor, mask: Tensor, cat: Tensor, num: Tensor) -> tuple[Tensor, Tensor]:
        """ids/mask (B, T), cat (B, C) long, num (B, K) float -> emb (B, D) unit norm, attn (B, T)."""
        pooled, attn = self.pool(ids, mask)  # (B, H), (B, T)
        return self._mix(self._head(pooled, cat, num), ids, mask, cat), attn

    @property
    def cat_width(self) -> int:
        """Columns of `cat`: the categorical codes, then the skill bag's ids."""
        return len(self.cardinalities) + self.cfg.bag_width

    def _head(self, pooled: Tensor, cat: Tensor, num: Tensor) -> Tensor:
        """Pooled text (B, H) + side features -> unit embedding (B, D)."""
        parts = [pooled] + [table(cat[:, i]) for i, table in enumerate(self.cats)]  # (B, H), (B, cat_dim)...
        if self.skills is not None:
            bag = cat[:, len(self.cats) :]  # (B, S) skill ids, 0 = padding
            n = (bag != PAD_ID).sum(1, keepdim=True).clamp(min=1).to(pooled.dtype)  # (B, 1)
            parts.append(self.skills(bag).sum(1) / n)  # (B, skill_dim) mean embedding; an empty bag reads as zeros
        if self.cfg.num_dim:
            parts.append(num.to(pooled.dtype))  # (B, K)
        return F.normalize(self.head(torch.cat(parts, dim=1)), dim=1)  # (B, D)

    def set_skill_codes(self, names: Sequence[str]) -> None:
        """Fill the skill-match codes for this tower's skill vocabulary `names` (`skill_codes`); a new model's step."""
        codes = skill_codes(names, self.cfg.skill_match_dim)
        if codes.shape != self.skill_codes.shape:
            raise ValueError(f"{len(names)} skill names for a table of {self.skill_codes.shape[0] - 2}")
        self.skill_codes.copy_(codes)

    def _mix(self, y: Tensor, ids: Tensor, mask: Tensor, cat: Tensor) -> Tensor:
        """The head's unit embedding y (B, D) joined with the match channels (module docstring): (B, embedding_dim), unit rows."""
        parts = [y]
        if self.cfg.lexical_dim:
            parts.append(self._bag(self.lexical_weight, self.lexical_codes, ids, mask.bool() & (ids != PAD_ID), self.lexical_mix, y.dtype))
        if self.cfg.skill_match_dim:
            bag = cat[:, len(self.cats) :]  # (B, S) skill ids
            parts.append(self._bag(self.skill_weight, self.skill_codes, bag, bag > UNKNOWN, self.skill_mix, y.dtype))
        return y if len(parts) == 1 else F.normalize(torch.cat(parts, dim=1), dim=1)

    @staticmethod
    def _bag(weight: nn.Embedding, codes: Tensor, ids: Tensor, keep: Tensor, mix: Tensor, dtype: torch.dtype) -> Tensor:
        """exp(m / 2) * the unit weighted sum of the codes of `ids` where `keep` (B, n) -> (B, dim); zeros for an empty bag."""
        w = torch.exp(weight(ids).squeeze(-1)) * keep.to(dtype)  # (B, n)
        bag = F.normalize(torch.bmm(w.unsqueeze(1), codes[ids].to(dtype)).squeeze(1), dim=1)  # (B, dim)
        return torch.exp(mix / 2) * bag

    def forward(self, ids: Tensor, mask: Tensor, cat: Tensor, num: Tensor) -> Tensor:
        """The embedding only: (B, D), unit rows."""
        return self.encode(ids, mask, cat, num)[0]


class TwoTower(nn.Module):
    """A vacancy tower and a resume tower whose embeddings are compared by dot product."""

    def __init__(self, vacancy: Tower, resume: Tower):
        super().__init__()
        if vacancy.cfg.out_dim != resume.cfg.out_dim:
            raise ValueError("towers must share out_dim")
        self.vacancy = vacancy
        self.resume = resume

    def tower(self, kind: str) -> Tower:
        """The tower for a document kind: "vacancies" or "resumes"."""
        if kind not in ("vacancies", "resumes"):
            raise ValueError(f"kind must be 'vacancies' or 'resumes', got {kind!r}")
        return self.vacancy if kind == "vacancies" else self.resume

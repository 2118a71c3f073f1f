"""Entity tagger: encoder (ALBERT, or piece embeddings trained from scratch) -> word vectors -> BiLSTM (or nothing) -> one linear tag head per layer.

A window of one row holds P pieces ([CLS] w1-pieces ... wW-pieces [SEP] for ALBERT) and
`word_of_piece[p]` in 0..W-1 (-1 for specials and padding). A word's vector is the mean of
its pieces' vectors:

    x_w = Σ_p [word_of_piece_p = w] h_p / |{p : word_of_piece_p = w}|

then, with the BiLSTM head, h'_w = [LSTM→(x)_w ; LSTM←(x)_w] (packed: padding never enters
the recurrence), and logits_l = W_l h'_w + b_l per tag layer l (SkillSpan has two layers,
skill and knowledge, over one shared encoder). Training minimises the mean over real words of
the cross-entropy summed over layers. Tags are read per word by argmax and decoded into spans
by `tags.tags_to_spans`.

With `crf`, each layer's logits are the emissions of a linear-chain CRF (`pytorch-crf`: a learned
C x C transition matrix plus start and end scores), trained by the negative log-likelihood of
the gold tag sequence of each window's words (summed over layers, mean over windows) and read
by Viterbi decoding (`Tagger.decode`): an I- after O costs what the transitions learned.

With `layer_mix` the encoder's output is not its last layer but a learned scalar mix of all its layers (Peters et al.
2018; Tenney et al. 2019 read it to see which layers a task uses): with h^(0) the projected embeddings and h^(l) the
output of the l-th application of the shared layer,

    h_p = γ Σ_{l=0..L} softmax(s)_l h^(l)_p

where s (L + 1 weights, 0 at the start: the plain mean) and γ (1 at the start) train with the head.

With `bigram_dim` > 0 each word's vector also gets the embeddings of the two bigrams it forms
with its neighbours (`dssm.understanding.bigrams`, the char + bichar input of Chinese NER):
x_w <- [x_w ; E_b(w_{w-1} w_w) ; E_b(w_w w_{w+1})], over a `BigramVocab` the model carries.

>>> import torch
>>> cfg = TaggerConfig(encoder="scratch", embedding_dim=8, lstm_hidden=4)
>>> m = Tagger(cfg, {"tags": 3}, vocab_size=20)
>>> ids = torch.tensor([[5, 6, 7, 0]]); wop = torch.tensor([[0, 0, 1, -1]])
>>> {k: tuple(v.shape) for k, v in m(ids, ids != 0, wop, n_words=2).items()}
{'tags': (1, 2, 3)}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from dssm.checks import at_least, check_numbers, in_range
from dssm.understanding.bigrams import BigramVocab


@dataclass
class TaggerConfig:
    """How a tagger is built and trained."""

    encoder: Literal["albert", "scratch"] = "albert"
    """albert: the pretrained encoder given with --albert, fine-tuned; scratch: piece embeddings learned from the training set only."""
    head: Literal["bilstm", "linear"] = "bilstm"
    """bilstm: a bidirectional LSTM over word vectors, then the tag heads; linear: the tag heads straight on the word vectors."""
    embedding_dim: int = 128
    """Width of the from-scratch piece embeddings (encoder scratch)."""
    scratch_vocab_size: int = 8000
    """BPE vocabulary trained on the training tokens for the scratch encoder."""
    lstm_hidden: int = 128
    """BiLSTM width per direction."""
    lstm_layers: int = 1
    """Stacked BiLSTM layers."""
    dropout: float = 0.2
    """Dropout on word vectors and BiLSTM outputs (0.5 is better on ResumeNER, 0.932 vs 0.920 dev micro-F1, and worse on
    SkillSpan, 0.297 vs 0.362: see the README)."""
    bigram_dim: int = 0
    """Width of each of a word's two bigram embeddings (with its left and right neighbour), 0 = no bigram features
    (off by default: +0.003 [-0.010, +0.015] dev micro-F1 on ResumeNER at 50 wide, not resolved)."""
    bigram_min_count: int = 2
    """Training occurrences a bigram needs for its own embedding (rarer ones share the unknown row)."""
    word_dropout: float = 0.0
    """Training only: the share of words hidden from the encoder, every piece of a hidden word replaced by [MASK] (for the
    scratch encoder an embedding row no word uses), so the tagger learns to find a span from its context as well as its
    name (`batching.drop_words`; Lample et al. 2016 replace rare words by UNK for this). Bigram features are not hidden."""
    layer_mix: bool = False
    """Encoder albert only: read a learned scalar mix of all the encoder's layers (the projected embeddings and each application
    of the shared layer) instead of its last layer."""
    crf: bool = True
    """A linear-chain CRF over each layer's tags (trained by sequence likelihood, decoded by Viterbi) instead of per-word argmax
    (on by default: +0.041 / +0.080 / +0.012 dev micro-F1 over the BiLSTM on ResumeNER / SkillSpan / silver hh.ru skills)."""
    lr: float = 0.002
    """AdamW learning rate of the head (and of scratch embeddings)."""
    encoder_lr: float = 0.0003
    """AdamW learning rate of the ALBERT encoder while fine-tuning."""
    batch_size: int = 32
    """Windows per step."""
    max_epochs: int = 20
    """Epochs at most; the best dev micro-F1 epoch is kept."""
    patience: int = 4
    """Stop after this many epochs without a better dev micro-F1."""
    window: int = 256
    """Pieces per window for the scratch encoder (ALBERT windows are its max_len)."""
    overlap: int = 32
    """Pieces shared by consecutive windows of a long row."""
    dev_share: float = 0.2
    """Share of training documents held out as dev when the set has no dev.parquet."""
    seed: int = 0
    """Seed of weights, batch order and dropout."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 1, "embedding_dim", "lstm_hidden", "lstm_layers", "batch_size", "max_epochs", "patience", "scratch_vocab_size")
        at_least(self, 8, "window")
        at_least(self, 0, "overlap", "seed", "bigram_dim")
        at_least(self, 1, "bigram_min_count")
        in_range(self, "dropout", 0.0, 1.0, high_open=True)
        in_range(self, "word_dropout", 0.0, 1.0, high_open=True)
        in_range(self, "lr", 0.0, None, low_open=True)
        in_range(self, "encoder_lr", 0.0, None, low_open=True)
        in_range(self, "dev_share", 0.0, 1.0, low_open=True, high_open=True)
        if self.layer_mix and self.encoder != "albert":
            raise ValueError(f"layer_mix mixes the layers of a pretrained encoder: encoder {self.encoder!r} has none")
        if self.overlap * 2 >= self.window:
            raise ValueError(f"overlap {self.overlap} must be less than half the window {self.window}")


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}
"""Inference precisions of the encoder (`Tagger.set_precision`): bf16 runs ALBERT's matrix products in bfloat16
under autocast (the rest of the tagger, the BiLSTM, heads and CRF, stays fp32); fast only where the CPU has
bfloat16 instructions (AVX512-BF16 / AMX) or on a GPU."""


def word_means(h: Tensor, word_of_piece: Tensor, n_words: int) -> Tensor:
    """h (B, P, D), word_of_piece (B, P) (-1: no word) -> (B, W, D) mean piece vector per word (0 for absent words)."""
    valid = word_of_piece >= 0  # (B, P)
    onehot = nn.functional.one_hot(word_of_piece.clamp(min=0), n_words).to(h.dtype) * valid.unsqueeze(-1)  # (B, P, W)
    sums = onehot.transpose(1, 2) @ h  # (B, W, D)
    counts = onehot.sum(1).unsqueeze(-1)  # (B, W, 1)
    return sums / counts.clamp(min=1)


class Tagger(nn.Module):
    """encoder -> word means -> [BiLSTM] -> per-layer linear heads (see the module docstring).

    `encoder`: a transformers encoder (AlbertModel) whose `last_hidden_state` is read, or None
    for from-scratch piece embeddings of `vocab_size` rows. `bigrams`: the bigram vocabulary,
    required when `cfg.bigram_dim` > 0 (kept on the model: `bigrams.ids(words)` makes its input).
    """

    def __init__(self, cfg: TaggerConfig, n_tags: dict[str, int], vocab_size: int, encoder: nn.Module | None = None,
                 bigrams: BigramVocab | None = None):
        super().__init__()
        if (cfg.bigram_dim > 0) != (bigrams is not None):
            raise ValueError(f"bigram_dim {cfg.bigram_dim} needs a bigram vocabulary exactly when it is above 0")
        self.cfg = cfg
        self.encoder = encoder
        self.encoder_dtype: torch.dtype | None = None
        """Inference only: the encoder's matrix products run in this dtype under autocast (`set_precision`); None = fp32."""
        if encoder is None:
            self.embed = nn.Embedding(vocab_size, cfg.embedding_dim, padding_idx=0)
            dim = cfg.embedding_dim
        else:
            self.embed = None
            dim = int(encoder.config.hidden_size)
        if cfg.layer_mix:
            if encoder is None:
                raise ValueError("layer_mix needs an encoder whose layers it mixes")
            self.mix_weights = nn.Parameter(torch.zeros(int(encoder.config.num_hidden_layers) + 1))
            self.mix_gamma = nn.Parameter(torch.ones(()))
        self.bigrams = bigrams
        if bigrams is not None:
            self.bigram_embed = nn.Embedding(len(bigrams), cfg.bigram_dim, padding_idx=0)
            dim += 2 * cfg.bigram_dim
        else:
            self.bigram_embed = None
        self.drop = nn.Dropout(cfg.dropout)
        if cfg.head == "bilstm":
            self.lstm = nn.LSTM(dim, cfg.lstm_hidden, num_layers=cfg.lstm_layers, batch_first=True, bidirectional=True,
                                dropout=cfg.dropout if cfg.lstm_layers > 1 else 0.0)
            dim = 2 * cfg.lstm_hidden
        else:
            self.lstm = None
        self.heads = nn.ModuleDict({k: nn.Linear(dim, n) for k, n in n_tags.items()})
        if cfg.crf:
            from torchcrf import CRF

            self.crfs = nn.ModuleDict({k: CRF(n, batch_first=True) for k, n in n_tags.items()})
        else:
            self.crfs = None

    def forward(self, ids: Tensor, mask: Tensor, word_of_piece: Tensor, n_words: int, features: Tensor | None = None) -> dict[str, Tensor]:
        """ids, mask, word_of_piece (B, P); features (B, W, 2) bigram ids when the model reads them -> {layer: logits (B, W, C_layer)}."""
        if self.encoder is not None:
            low = self.encoder_dtype is not None and not self.training
            with torch.autocast(ids.device.type, dtype=self.encoder_dtype, enabled=low):
                out = self.encoder(input_ids=ids, attention_mask=mask.long(), output_hidden_states=self.cfg.layer_mix)
            if self.cfg.layer_mix:
                layers = torch.stack([x.float() for x in out.hidden_states])  # (L + 1, B, P, H)
                h = self.mix_gamma * torch.einsum("l,lbph->bph", self.mix_weights.softmax(0), layers)
            else:
                h = out.last_hidden_state.float()  # (B, P, H)
        else:
            h = self.embed(ids)  # (B, P, E)
        x = word_means(h, word_of_piece, n_words)  # (B, W, D)
        if self.bigram_embed is not None:
            if features is None:
                raise ValueError("this tagger reads bigram features: pass features (B, W, 2) of bigrams.ids(words)")
            x = torch.cat([x, self.bigram_embed(features).flatten(2)], dim=-1)  # (B, W, D + 2 Db)
        x = self.drop(x)
        if self.lstm is not None:
            lengths = (word_of_piece.max(1).values + 1).clamp(min=1).cpu()  # (B,)
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(packed)
            x, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=n_words)  # (B, W, 2H)
            x = self.drop(x)
        return {k: head(x) for k, head in self.heads.items()}  # (B, W, C)

    def layer_weights(self) -> dict[str, Any] | None:
        """With `layer_mix`: {"weights": softmax(s) over h^(0..L), "gamma": γ}, what the tagger learned to read; else None."""
        if not self.cfg.layer_mix:
            return None
        return {"weights": [round(float(w), 4) for w in self.mix_weights.detach().softmax(0)], "gamma": round(float(self.mix_gamma.detach()), 4)}

    def set_precision(self, precision: str) -> "Tagger":
        """Encoder precision at inference, one of PRECISIONS (training always runs fp32); -> self."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: expected one of {sorted(PRECISIONS)}")
        self.encoder_dtype = PRECISIONS[precision]
        return self

    def crf_loss(self, logits: dict[str, Tensor], labels: dict[str, Tensor]) -> Tensor:
        """Σ over layers of the mean over windows of −log p(gold tags | emissions); labels (B, W) with -100 after each window's words."""
        total = 0.0
        for k, lg in logits.items():
            y = labels[k]
            mask = y != -100  # (B, W): a prefix per window
            keep = mask[:, 0]  # windows with at least one word
            if keep.any():
                total = total - self.crfs[k](lg[keep], y[keep].clamp(min=0), mask[keep], reduction="mean")
        return total

    def decode(self, logits: dict[str, Tensor], word_of_piece: Tensor) -> dict[str, Tensor]:
        """{layer: tag id (B, W)}: Viterbi over each window's words with a CRF, else per-word argmax (padding words get 0)."""
        if self.crfs is None:
            return {k: lg.argmax(-1) for k, lg in logits.items()}
        words = (word_of_piece.max(1).values + 1).clamp(min=1)  # (B,)
        return {k: viterbi(lg, words, self.crfs[k].start_transitions, self.crfs[k].transitions, self.crfs[k].end_transitions)
                for k, lg in logits.items()}


def viterbi(emissions: Tensor, lengths: Tensor, start: Tensor, transitions: Tensor, end: Tensor) -> Tensor:
    """The best tag sequence of each row under a linear-chain CRF, batched: emissions (B, W, C), lengths (B,) >= 1,
    start / end (C,), transitions (C, C) from -> to  ->  tag ids (B, W), 0 after each row's length.

    The forward pass is pytorch-crf's (`CRF.decode`); the backtrace runs over the batch at once instead of one
    row at a time in Python (×1.6 faster for 64 windows × 126 words × 17 tags; end to end the CRF still costs
    ~12% of tagging time in `bench understanding`, mostly this forward pass):

        s_0 = start + e_0,   s_t = max_i (s_{t-1, i} + T_{i, .}) + e_t  (frozen after a row's end),
        y_last = argmax (s + end),   y_{t-1} = argmax_i (s_{t-1, i} + T_{i, y_t})
    """
    n, w, _ = emissions.shape
    score = start + emissions[:, 0]  # (B, C)
    back = []
    for t in range(1, w):
        best, idx = (score.unsqueeze(2) + transitions + emissions[:, t].unsqueeze(1)).max(dim=1)  # (B, C)
        score = torch.where((t < lengths).unsqueeze(1), best, score)
        back.append(idx)
    cur = (score + end).argmax(-1)  # (B,): each row's last tag
    out = torch.zeros((n, w), dtype=torch.long)
    for t in range(w - 1, -1, -1):
        active = t < lengths  # (B,)
        out[:, t] = torch.where(active, cur, 0)
        if t:
            cur = torch.where(active, back[t - 1].gather(1, cur.unsqueeze(1)).squeeze(1), cur)
    return out



class TaggerEnsemble(nn.Module):
    """Several taggers of one tag space read as one tagger (a product of experts; e.g. the same recipe at three seeds).

    Each layer's logits are the members' mean, and with CRFs the tags are the Viterbi path under the members' mean
    start, transition and end scores. That path maximises the members' summed sequence scores,

        y* = argmax_y Σ_m [ start_m(y_1) + Σ_t e_m,t(y_t) + Σ_t T_m(y_{t-1}, y_t) + end_m(y_W) ],

    i.e. the geometric mean of the members' sequence probabilities (their normalisers do not depend on y). The members
    must read one window geometry: the same encoder positions (or scratch window), overlap and bigram vocabulary, and all
    or none of them a CRF. The caller checks that they share a vocabulary and tag space (`tagging.TagSpace`).

    >>> cfg = TaggerConfig(encoder="scratch", embedding_dim=8, lstm_hidden=4)
    >>> a, b = Tagger(cfg, {"tags": 3}, vocab_size=20), Tagger(cfg, {"tags": 3}, vocab_size=20)
    >>> ens = TaggerEnsemble([a, b]).eval()
    >>> ids = torch.tensor([[5, 6, 7, 0]]); wop = torch.tensor([[0, 0, 1, -1]])
    >>> mean = (a(ids, ids != 0, wop, 2)["tags"] + b(ids, ids != 0, wop, 2)["tags"]) / 2
    >>> torch.allclose(ens(ids, ids != 0, wop, 2)["tags"], mean)
    True
    """

    def __init__(self, members: list[Tagger]):
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two taggers, got {len(members)}")
        first = members[0]
        shape = {k: h.out_features for k, h in first.heads.items()}
        for i, m in enumerate(members[1:], 1):
            if (mine := {k: h.out_features for k, h in m.heads.items()}) != shape:
                raise ValueError(f"member {i} predicts tag layers {mine}, member 0 {shape}")
            if (m.crfs is None) != (first.crfs is None):
                raise ValueError(f"member {i} {'has no' if m.crfs is None else 'has a'} CRF and member 0 does not: all or none")
            if geometry(m) != geometry(first):
                raise ValueError(f"member {i} reads windows {geometry(m)}, member 0 {geometry(first)}")
            if (m.bigrams is None) != (first.bigrams is None) or (m.bigrams is not None and m.bigrams.pairs != first.bigrams.pairs):
                raise ValueError(f"member {i} reads other bigram features than member 0")
        self.members = nn.ModuleList(members)
        self.cfg = first.cfg

    @property
    def encoder(self) -> nn.Module | None:
        """Member 0's encoder (window geometry and specials are the same for every member)."""
        return self.members[0].encoder

    @property
    def bigrams(self) -> BigramVocab | None:
        return self.members[0].bigrams

    def forward(self, ids: Tensor, mask: Tensor, word_of_piece: Tensor, n_words: int, features: Tensor | None = None) -> dict[str, Tensor]:
        """The members' mean logits per layer (B, W, C)."""
        outs = [m(ids, mask, word_of_piece, n_words, features) for m in self.members]
        return {k: torch.stack([o[k] for o in outs]).mean(0) for k in outs[0]}

    def decode(self, logits: dict[str, Tensor], word_of_piece: Tensor) -> dict[str, Tensor]:
        """Viterbi under the members' mean CRF scores (see the class docstring), else per-word argmax."""
        if self.members[0].crfs is None:
            return {k: lg.argmax(-1) for k, lg in logits.items()}
        words = (word_of_piece.max(1).values + 1).clamp(min=1)
        out = {}
        for k, lg in logits.items():
            crfs = [m.crfs[k] for m in self.members]
            parts = ("start_transitions", "transitions", "end_transitions")
            out[k] = viterbi(lg, words, *(torch.stack([getattr(c, part) for c in crfs]).mean(0) for part in parts))
        return out

    def set_precision(self, precision: str) -> "TaggerEnsemble":
        for m in self.members:
            m.set_precision(precision)
        return self


def window_pieces(model: Tagger | TaggerEnsemble) -> int:
    """Pieces of words per window: the encoder's positions minus [CLS]/[SEP], or the scratch window."""
    if model.encoder is not None:
        return int(model.encoder.config.max_position_embeddings) - 2
    return model.cfg.window


def geometry(model: Tagger) -> tuple[int, int]:
    """(pieces of words per window, overlap) a tagger cuts rows into."""
    return window_pieces(model), model.cfg.overlap

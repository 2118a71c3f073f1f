"""A small ALBERT encoder from `transformers`, its word-piece vocabulary, MLM + SOP batches, and its artifact.

ALBERT (Lan et al., 2020) is BERT with (1) a factorised embedding: ids -> E-dim vectors ->
a linear map to the hidden size H (V·E + E·H parameters instead of V·H), (2) one transformer
layer whose weights are shared by all L layers, and (3) sentence-order prediction (SOP) beside
the masked language model (MLM). We use `transformers.AlbertModel` / `AlbertForPreTraining`;
this file only configures, feeds and stores them.

Vocabulary. The project's own BPE (`dssm.tokenizer`, deterministic) trained on the pretraining
corpus with `coverage` 1.0, so every character seen — all Chinese characters included — has an
id and nothing becomes UNK. Input text is split into words first (token sets give their tokens;
a Chinese set gives one character per token), each word encodes as its own BPE pieces ("▁" +
word), so pretraining and tagging see the same segmentation. Specials: PAD 0, UNK 1, [CLS] =
BPE's BOS 2, [SEP] = EOS 3, and [MASK] = one id appended after the BPE vocabulary.

MLM (BERT's rule): 15% of the non-special pieces are chosen; of those 80% -> [MASK], 10% -> a
random piece, 10% unchanged; the loss is cross-entropy on the chosen positions only (label -100
elsewhere). SOP: two consecutive segments A, B of one document, `[CLS] A [SEP] B [SEP]` with
label 0, or swapped `[CLS] B [SEP] A [SEP]` with label 1 (probability 0.5).

>>> enc = EncoderConfig(embedding_size=16, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_len=32)
>>> hf_config(enc, vocab_size=100).num_hidden_layers
2
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dssm.checks import at_least, check_numbers, in_range
from dssm.errors import JobmatchError
from dssm.io import quiet
from dssm.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer

ENCODER_FILE = "albert.yaml"
TOKENIZER_DIR = "tokenizer"
PRESETS = ("albert_tiny", "albert")
"""Shipped pretraining presets under dssm/configs: `albert_tiny` for tests, `albert` for all the real text (<= 60 min on 2 cores)."""


@dataclass
class EncoderConfig:
    """Shape of the ALBERT encoder."""

    embedding_size: int = 128
    """E: width of the factorised token embedding (projected to hidden_size)."""
    hidden_size: int = 256
    """H: width of the shared transformer layer."""
    num_layers: int = 4
    """L: how many times the one shared layer is applied."""
    num_heads: int = 4
    """Attention heads; must divide hidden_size."""
    intermediate_size: int = 1024
    """Width of the feed-forward sublayer."""
    max_len: int = 128
    """Pieces per window, [CLS]/[SEP] included (position embeddings are this long)."""
    dropout: float = 0.1
    """Dropout on hidden states and attention probabilities."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 1, "embedding_size", "hidden_size", "num_layers", "num_heads", "intermediate_size")
        at_least(self, 8, "max_len")
        in_range(self, "dropout", 0.0, 1.0, high_open=True)
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")


@dataclass
class PretrainConfig:
    """How `jobmatch albert pretrain` trains an encoder."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """Encoder shape (set in the preset YAML)."""
    vocab_size: int = 16000
    """BPE vocabulary trained on the corpus ([MASK] is appended after it)."""
    coverage: float = 1.0
    """Share of character occurrences the BPE alphabet keeps (1.0: every character, Chinese included)."""
    batch_size: int = 32
    """Segment pairs per step."""
    lr: float = 1e-3
    """Peak AdamW learning rate (linear warm-up, then linear decay to 0 at max_steps)."""
    warmup_steps: int = 200
    """Steps of linear warm-up."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    max_steps: int = 4000
    """Optimiser steps."""
    max_minutes: float | None = None
    """Stop after this much training time even before max_steps (None: no limit)."""
    mlm_probability: float = 0.15
    """Share of pieces chosen for the MLM loss."""
    seed: int = 0
    """Seed of the segment pairs, swaps, masks and initial weights."""
    max_docs: int | None = None
    """Read at most this many documents (a seeded sample; None: all)."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 1, "batch_size", "max_steps")
        at_least(self, 8, "vocab_size")
        at_least(self, 0, "warmup_steps", "seed", "weight_decay")
        in_range(self, "lr", 0.0, None, low_open=True)
        in_range(self, "mlm_probability", 0.0, 1.0, low_open=True, high_open=True)
        in_range(self, "coverage", 0.0, 1.0, low_open=True)
        if self.max_minutes is not None and float(self.max_minutes) <= 0:
            raise ValueError(f"max_minutes must be > 0 or None, got {self.max_minutes}")
        if self.max_docs is not None and int(self.max_docs) < 1:
            raise ValueError(f"max_docs must be >= 1 or None, got {self.max_docs}")


def load_pretrain_config(path_or_name: str | Path) -> PretrainConfig:
    """A PretrainConfig from a YAML path or a shipped preset name ('albert', 'albert_tiny', or 'tiny')."""
    from importlib import resources

    from dssm.io import load_config

    name = {"tiny": "albert_tiny"}.get(str(path_or_name), str(path_or_name))
    if name in PRESETS:
        path_or_name = Path(str(resources.files("dssm") / "configs" / f"{name}.yaml"))
    return load_config(PretrainConfig, path_or_name)


def hf_config(enc: EncoderConfig, vocab_size: int):
    """EncoderConfig + vocabulary size -> transformers.AlbertConfig (pad 0, [CLS] 2, [SEP] 3)."""
    from transformers import AlbertConfig

    return AlbertConfig(
        vocab_size=int(vocab_size), embedding_size=enc.embedding_size, hidden_size=enc.hidden_size,
        num_hidden_layers=enc.num_layers, num_hidden_groups=1, num_attention_heads=enc.num_heads,
        intermediate_size=enc.intermediate_size, max_position_embeddings=enc.max_len,
        hidden_dropout_prob=enc.dropout, attention_probs_dropout_prob=enc.dropout, classifier_dropout_prob=enc.dropout,
        type_vocab_size=2, pad_token_id=PAD_ID, bos_token_id=BOS_ID, eos_token_id=EOS_ID,
    )


class WordPieces:
    """Words -> piece ids for an encoder: the project's BPE (`Tokenizer`) or a local Hugging Face tokenizer.

    `pad_id`, `cls_id`, `sep_id`, `mask_id`, `vocab_size` are what the encoder's embedding expects.
    Every word gets at least one piece (an empty one reads as UNK).
    """

    def __init__(self, bpe: Tokenizer | None = None, hf: Any = None):
        if (bpe is None) == (hf is None):
            raise ValueError("WordPieces needs exactly one of bpe, hf")
        self.bpe, self.hf = bpe, hf
        if bpe is not None:
            self.pad_id, self.unk_id, self.cls_id, self.sep_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID
            self.mask_id = bpe.vocab_size
            self.vocab_size = bpe.vocab_size + 1
            self.fingerprint = f"bpe:{bpe.model_hash}"
        else:
            self.pad_id, self.unk_id = hf.pad_token_id, hf.unk_token_id
            self.cls_id, self.sep_id, self.mask_id = hf.cls_token_id, hf.sep_token_id, hf.mask_token_id
            self.vocab_size = len(hf)
            self.fingerprint = f"hf:{len(hf)}:{hf.__class__.__name__}"
            if None in (self.pad_id, self.cls_id, self.sep_id, self.mask_id):
                raise JobmatchError(f"{hf.name_or_path}: the tokenizer lacks a pad, cls, sep or mask token")

    def __call__(self, words: Sequence[str]) -> list[list[int]]:
        if not words:
            return []
        if self.bpe is not None:
            ids = self.bpe.encode_sentences([str(w) for w in words])
        else:
            ids = [self.hf.encode(str(w), add_special_tokens=False) for w in words]
        return [list(p) if len(p) else [self.unk_id] for p in ids]

    def rows(self, rows: Sequence[Sequence[str]]) -> list[list[list[int]]]:
        """Rows of words -> rows of per-word piece lists, in one batched tokenizer call over all words."""
        flat = self([w for row in rows for w in row])
        out, k = [], 0
        for row in rows:
            out.append(flat[k : k + len(row)])
            k += len(row)
        return out


def mask_tokens(ids: Tensor, special: Tensor, pieces: WordPieces, prob: float, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """BERT's MLM corruption. ids (B, T) int64, special (B, T) bool (pad/cls/sep: never chosen) -> (inputs, labels).

    labels = ids at chosen positions, -100 elsewhere; inputs: chosen -> [MASK] (80%), random id (10%), kept (10%).
    """
    u = torch.rand(ids.shape, generator=gen)  # (B, T)
    chosen = (u < prob) & ~special  # (B, T)
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))  # (B, T)
    v = torch.rand(ids.shape, generator=gen)  # (B, T)
    random_ids = torch.randint(5, pieces.vocab_size, ids.shape, generator=gen)  # (B, T)
    inputs = torch.where(chosen & (v < 0.8), torch.full_like(ids, pieces.mask_id), ids)
    inputs = torch.where(chosen & (v >= 0.8) & (v < 0.9), random_ids, inputs)
    return inputs, labels


def sop_pairs(docs: Sequence[Sequence[Sequence[int]]], max_len: int, seed: int) -> list[tuple[list[int], list[int], int]]:
    """Documents (sentences of piece ids) -> SOP examples (segment A, segment B, label); deterministic by seed.

    Each document is walked in chunks of consecutive sentences of at most max_len - 3 pieces;
    a chunk splits at a sentence boundary chosen at random into A and B (a one-sentence chunk
    splits inside the sentence); label 1 = swapped (probability 0.5). Chunks of < 2 pieces are skipped.
    """
    rng = random.Random(seed)
    budget = max_len - 3
    out: list[tuple[list[int], list[int], int]] = []
    for doc in docs:
        sents = [list(s[:budget]) for s in doc if len(s)]
        i = 0
        while i < len(sents):
            chunk, used = [], 0
            while i < len(sents) and (used + len(sents[i]) <= budget or not chunk):
                chunk.append(sents[i])
                used += len(sents[i])
                i += 1
            if used < 2:
                continue
            if len(chunk) >= 2:
                cut = rng.randint(1, len(chunk) - 1)
                a = [t for s in chunk[:cut] for t in s]
                b = [t for s in chunk[cut:] for t in s]
            else:
                flat = chunk[0]
                cut = rng.randint(1, len(flat) - 1)
                a, b = flat[:cut], flat[cut:]
            swap = rng.random() < 0.5
            out.append((b, a, 1) if swap else (a, b, 0))
    return out


def pair_batch(examples: Sequence[tuple[list[int], list[int], int]], pieces: WordPieces) -> dict[str, Tensor]:
    """SOP examples -> padded tensors: input_ids, attention_mask, token_type_ids, special (B, T), sentence_order_label (B,)."""
    seqs = [[pieces.cls_id, *a, pieces.sep_id, *b, pieces.sep_id] for a, b, _ in examples]
    types = [[0] * (len(a) + 2) + [1] * (len(b) + 1) for a, b, _ in examples]
    t = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), t), pieces.pad_id, dtype=torch.long)  # (B, T)
    tt = torch.zeros((len(seqs), t), dtype=torch.long)  # (B, T)
    for i, (s, ty) in enumerate(zip(seqs, types)):
        ids[i, : len(s)] = torch.tensor(s)
        tt[i, : len(ty)] = torch.tensor(ty)
    mask = (ids != pieces.pad_id).long()  # (B, T)
    special = (ids == pieces.pad_id) | (ids == pieces.cls_id) | (ids == pieces.sep_id)  # (B, T)
    labels = torch.tensor([y for _, _, y in examples], dtype=torch.long)  # (B,)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt, "special": special, "sentence_order_label": labels}


# ----------------------------------------------------------------------------- artifact


@contextmanager
def transformers_output() -> Iterator[None]:
    """transformers' warnings only (no info lines); its progress bars off when `quiet()`."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    if quiet():
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        hf_logging.enable_progress_bar()



def save_encoder(out: Path, model, pieces: WordPieces, meta: dict[str, Any]) -> None:
    """Write an encoder folder: Hugging Face `config.json` + `model.safetensors` (AlbertModel/BertModel weights),
    `albert.yaml` (our config, corpus and versions) and `tokenizer/` (the BPE, or the Hugging Face tokenizer files)."""
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    kind = save_pieces(pieces, out / TOKENIZER_DIR)
    info = {"kind": "encoder", "tokenizer": kind, "mask_id": int(pieces.mask_id), "vocab_size": int(pieces.vocab_size), **meta}
    (out / ENCODER_FILE).write_text(yaml.safe_dump(info, allow_unicode=True, sort_keys=False), encoding="utf-8")


def save_pieces(pieces: WordPieces, folder: Path) -> str:
    """Write the vocabulary into `folder`; -> its kind ('bpe' or 'hf')."""
    if pieces.bpe is not None:
        import shutil

        shutil.copytree(pieces.bpe.path, folder)
        return "bpe"
    pieces.hf.save_pretrained(folder)
    return "hf"


def load_pieces(tokenizer_dir: Path, kind: str) -> WordPieces:
    """The word-piece vocabulary stored in an artifact's tokenizer folder."""
    if kind == "bpe":
        return WordPieces(bpe=Tokenizer.load(tokenizer_dir))
    from transformers import AutoTokenizer

    try:
        with transformers_output():
            return WordPieces(hf=AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True))
    except (OSError, ValueError) as e:
        raise JobmatchError(f"{tokenizer_dir}: cannot load the tokenizer: {' '.join(str(e).split())[:200]}") from e


def read_encoder_info(path: Path) -> dict[str, Any]:
    """albert.yaml of an encoder folder; JobmatchError naming the folder when it is not one."""
    import yaml

    f = Path(path) / ENCODER_FILE
    if not f.is_file():
        raise JobmatchError(f"{path}: not an ALBERT encoder folder ({ENCODER_FILE} missing; make one with `jobmatch albert pretrain`)")
    info = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
    if info.get("kind") != "encoder":
        raise JobmatchError(f"{f}: kind {info.get('kind')!r}, expected 'encoder'")
    return info


def load_encoder(path: str | Path):
    """Encoder folder -> (transformers encoder model in eval mode, WordPieces, info). No Lightning, no pickles."""
    from transformers import AutoConfig, AutoModel

    path = Path(path)
    info = read_encoder_info(path)
    pieces = load_pieces(path / TOKENIZER_DIR, info.get("tokenizer", "bpe"))
    try:
        with transformers_output():
            config = AutoConfig.from_pretrained(str(path), local_files_only=True)
            model = AutoModel.from_pretrained(str(path), config=config, local_files_only=True)
    except (OSError, ValueError) as e:
        raise JobmatchError(f"{path}: cannot load the encoder weights: {' '.join(str(e).split())[:200]}") from e
    if model.config.vocab_size != pieces.vocab_size:
        raise JobmatchError(f"{path}: the encoder has {model.config.vocab_size} ids but its tokenizer {pieces.vocab_size}: the folder is mixed up")
    return model.eval(), pieces, info


def hf_config_dict(model) -> dict[str, Any]:
    """A transformers model's config as a JSON-able dict (stored inside tagger artifacts)."""
    return json.loads(model.config.to_json_string())

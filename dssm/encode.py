"""Inference without Lightning: load a model dir, embed documents, read per-token attention.

`Encoder.load(dir)` reads weights.safetensors + config.yaml + features.json and
the tokenizer the config points at. Documents are framed into sentences
(`dssm.text.frame_documents`), tokenised, cut to the tower's `max_len`, sorted
by length and run in batches (nearly padding-free; padding never changes an embedding).

>>> enc = Encoder.load("runs/demo/production")  # doctest: +SKIP
>>> enc.embed(vacancies_df, "vacancies").shape  # doctest: +SKIP
(5000, 256)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from dssm.batching import TokenStore, length_sorted_batches
from dssm.errors import JobmatchError
from dssm.features import SKILLS
from dssm.io import file_sha256
from dssm.model_io import WEIGHTS, load_model, resolve_tokenizer_dir


RUNTIMES = ("torch", "onnx")


class Encoder:
    """Embeds vacancies and resumes with a trained TwoTower (eval mode, no gradients)."""

    def __init__(self, model: Any, cfg: Any, features: dict, tokenizer: Any, model_hash: str, runtime: str = "torch"):
        if runtime not in RUNTIMES:
            raise JobmatchError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        self.model, self.cfg, self.features, self.tokenizer = model.eval(), cfg, features, tokenizer
        self.runtime = runtime
        """"torch", or "onnx": the towers exported (`dssm.onnx_export`, on first use) and run on ONNX Runtime."""
        self._onnx: dict[str, Any] = {}
        self.model_hash = model_hash
        """sha256 of weights.safetensors (index manifests store it)."""
        self.tokenizer_hash = getattr(tokenizer, "model_hash", None)
        """sha256 of the tokenizer's bpe.model (the summaries of the query path must be counted in it)."""
        self.dim = int(cfg.vacancy.embedding_dim)
        """Embedding size D."""
        self.max_len = int(cfg.vacancy.max_len)
        """Tokens read per vacancy (resumes: `cfg.resume.max_len`)."""
        self.skills: Any = None
        """(frame, kind) -> the frame with its skill bags (column `parsed_skills`), for a model with the skill feature:
        applied to every frame that lacks the column (`pipelines.artifacts.load_encoder` sets it from `cfg.parsed`)."""

    @classmethod
    def load(cls, model_dir: str | Path, runtime: str = "torch") -> Encoder:
        """Load a model dir; JobmatchError on missing/corrupt files or a tokenizer of another vocabulary."""
        from dssm.tokenizer import Tokenizer

        model_dir = Path(model_dir)
        model, cfg, features = load_model(model_dir)
        tok_dir = resolve_tokenizer_dir(model_dir, cfg)
        if not tok_dir.exists():
            raise JobmatchError(f"{model_dir}: tokenizer {tok_dir} (config tokenizer: {cfg.tokenizer}) not found")
        tok = Tokenizer.load(tok_dir)
        if int(tok.vocab_size) != cfg.vacancy.vocab_size:
            raise JobmatchError(f"{tok_dir}: tokenizer vocab_size {tok.vocab_size} != model vocab_size {cfg.vacancy.vocab_size}")
        return cls(model, cfg, features, tok, file_sha256(model_dir / WEIGHTS), runtime)

    def _call(self, kind: str) -> Any:
        """The tower of `kind` as a function (ids, mask, cat, num) -> (emb (B, D), attn (B, T)) numpy arrays."""
        tower = self.model.tower(kind)
        if self.runtime == "torch":
            return lambda *b: tuple(t.numpy() for t in tower.encode(*b))
        if kind not in self._onnx:
            import tempfile

            from dssm.onnx_export import OnnxTower, export_tower

            with tempfile.TemporaryDirectory() as tmp:  # the session holds the graph in memory once built
                self._onnx[kind] = OnnxTower(export_tower(tower, Path(tmp) / f"{kind}.onnx"), threads=torch.get_num_threads())
        return self._onnx[kind].encode

    def _tower_cfg(self, kind: str):
        return self.model.tower(kind).cfg

    def tokenize(self, df: pd.DataFrame, kind: str) -> list[list[list[int]]]:
        """Documents of `df` as sentences of BPE ids (sentence 0 = title)."""
        from dssm.text import frame_documents

        return self.tokenizer.encode_documents(frame_documents(df, kind))

    @torch.inference_mode()
    def _run(self, store: TokenStore, df: pd.DataFrame, kind: str, batch_size: int, attention: bool):
        call = self._call(kind)
        if len(store) != len(df):
            raise JobmatchError(f"{kind}: {len(store)} documents but {len(df)} feature rows")
        if self.features[kind].skills is not None and SKILLS not in df.columns and self.skills is not None:
            df = self.skills(df, kind)
        cat, num = self.features[kind].transform(df)
        emb = np.zeros((len(store), self.dim), dtype=np.float32)
        attn: list[np.ndarray] = [np.zeros(0, np.float32)] * len(store)
        for rows in length_sorted_batches(store.lengths, batch_size):
            ids, mask = store.batch(rows)
            e, a = call(ids, mask, torch.from_numpy(cat[rows]), torch.from_numpy(num[rows]))  # (B, D), (B, T)
            emb[rows] = e
            if attention:
                lengths = store.lengths[rows]
                for j, r in enumerate(rows):
                    attn[r] = a[j, : lengths[j]].astype(np.float32)
        return emb, attn

    def embed_documents(self, docs: list[list[list[int]]], df: pd.DataFrame, kind: str, batch_size: int = 64) -> np.ndarray:
        """Pre-tokenised documents (sentences of ids, e.g. summaries) + their feature rows -> (N, D) float32 unit rows."""
        store = TokenStore.from_documents(docs, self._tower_cfg(kind).max_len)
        return self._run(store, df, kind, batch_size, attention=False)[0]

    def embed(self, df: pd.DataFrame, kind: str, batch_size: int = 64) -> np.ndarray:
        """Raw documents of `kind` ("vacancies"/"resumes") -> (N, D) float32 unit rows, in df order."""
        return self.embed_documents(self.tokenize(df, kind), df, kind, batch_size)

    def embed_with_attention(self, df: pd.DataFrame, kind: str, batch_size: int = 64,
                             docs: list[list[list[int]]] | None = None) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """-> emb (N, D), per-doc attention (T_i,) summing to 1, per-doc sentence index (T_i,) of each token.

        `docs`: the documents of `df` already tokenised (`tokenize`), to skip doing it again."""
        store = TokenStore.from_documents(self.tokenize(df, kind) if docs is None else docs, self._tower_cfg(kind).max_len)
        emb, attn = self._run(store, df, kind, batch_size, attention=True)
        sent = [store.doc(i)[1].astype(np.int64) for i in range(len(store))]
        return emb, attn, sent

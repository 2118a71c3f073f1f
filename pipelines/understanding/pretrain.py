"""Stage `albert pretrain`: MLM + SOP pretraining of a small ALBERT on real text, written as an encoder folder.

    jobmatch albert pretrain --data runs/real ../shared/data/resumener_zh --out runs/understanding/albert

Corpus: every folder of `--data` read by `tagsets.corpus_documents` (dataset folders in the
contract; entity sets' train parts only). Vocabulary: a BPE trained here on that corpus
(coverage 1.0), or the tokenizer of the `--init` folder: a local Hugging Face checkpoint, or an
encoder this command wrote, which continues its pretraining on new text (domain- or task-adaptive
pretraining, Gururangan et al. 2020: its encoder weights and BPE are kept, the MLM transform and SOP
heads start afresh). The run builds in
`staging_dir(out)` (checkpoints every `CKPT_EVERY` steps; `--resume` continues a killed run)
and the finished encoder is swapped in whole.
"""

from __future__ import annotations

import random
import shutil
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from dssm.errors import JobmatchError
from dssm.io import atomic_path, check_output, config_to_dict, quiet, staging_dir, versions
from dssm.understanding.albert import (
    ENCODER_FILE, TOKENIZER_DIR, EncoderConfig, PretrainConfig, WordPieces, hf_config, load_pieces, pair_batch, read_encoder_info,
    save_encoder, sop_pairs, transformers_output,
)

CKPT_EVERY = 200
VAL_PAIRS = 512


@dataclass
class PretrainResult:
    """What `pretrain` wrote and measured."""

    out: str
    documents: int
    sentences: int
    pieces: int
    pairs: int
    steps: int
    tokens_per_s: float
    seconds: float
    val: dict[str, float]


def read_corpus(folders: list[Path], cfg: PretrainConfig) -> tuple[list[list[list[str]]], list[dict[str, Any]]]:
    """Documents (sentences of words) of every folder, a seeded sample when `max_docs` caps them; -> (docs, per-folder counts)."""
    from pipelines.understanding.tagsets import corpus_documents

    docs, sources = [], []
    for f in folders:
        what, d = corpus_documents(f)
        d = [doc for doc in d if any(doc)]
        sources.append({"path": str(f), "kind": what, "documents": len(d)})
        docs += d
    if not docs:
        raise JobmatchError(f"albert pretrain: no text in {[str(f) for f in folders]}")
    if cfg.max_docs is not None and len(docs) > cfg.max_docs:
        docs = [docs[i] for i in sorted(random.Random(cfg.seed).sample(range(len(docs)), int(cfg.max_docs)))]
    return docs, sources


def encode_corpus(docs: list[list[list[str]]], pieces: WordPieces) -> list[list[list[int]]]:
    """Documents of word lists -> documents of piece-id sentences (a sentence's pieces = its words' pieces in order)."""
    if pieces.bpe is not None:  # the BPE splits on spaces and merges within words: a sentence encodes as its words do
        return pieces.bpe.encode_documents([[" ".join(w) for w in d] for d in docs])
    return [[[p for wp in sent for p in wp] for sent in pieces.rows(d)] for d in docs]


def _initial_model(cfg: PretrainConfig, pieces: WordPieces, init: Path | None):
    import torch
    from transformers import AlbertForPreTraining, AutoModelForPreTraining

    torch.manual_seed(cfg.seed)
    if init is None:
        return AlbertForPreTraining(hf_config(cfg.encoder, pieces.vocab_size))
    try:
        with transformers_output():
            model = AutoModelForPreTraining.from_pretrained(str(init), local_files_only=True).train()
    except (OSError, ValueError) as e:
        raise JobmatchError(f"--init {init}: not a local Hugging Face ALBERT/BERT checkpoint: {' '.join(str(e).split())[:200]}") from e
    if model.config.model_type not in ("albert", "bert"):
        raise JobmatchError(f"--init {init}: model type {model.config.model_type!r}; an ALBERT or BERT checkpoint is needed")
    if model.config.vocab_size < pieces.vocab_size:
        raise JobmatchError(f"--init {init}: {model.config.vocab_size} embedding rows but its tokenizer has {pieces.vocab_size} ids")
    return model


def _init_encoder_info(init: Path | None) -> dict[str, Any] | None:
    """albert.yaml of an `--init` folder this command wrote (continued pretraining); None for a Hugging Face checkpoint or no init."""
    return read_encoder_info(init) if init is not None and (init / ENCODER_FILE).is_file() else None


def _init_pieces(init: Path, start: dict[str, Any] | None) -> WordPieces:
    """The vocabulary of an `--init` folder: a jobmatch encoder's own tokenizer (`start`: its albert.yaml), or a Hugging Face
    checkpoint's."""
    if start is not None:
        return load_pieces(init / TOKENIZER_DIR, start.get("tokenizer", "bpe"))
    for folder in (init, init / TOKENIZER_DIR):
        if any((folder / f).is_file() for f in ("tokenizer.json", "vocab.txt", "spiece.model", "tokenizer_config.json")):
            return load_pieces(folder, "hf")
    raise JobmatchError(f"--init {init}: no tokenizer files (tokenizer.json, vocab.txt or spiece.model) in it or in {TOKENIZER_DIR}/")


def _init_summary(start: dict[str, Any] | None) -> dict[str, Any] | None:
    """Where a continued encoder came from: the `--init` encoder's config, corpus and training (None for other starts)."""
    if start is None:
        return None
    return {"config": start.get("config"), "corpus": start.get("corpus"),
            "trained": {k: v for k, v in (start.get("trained") or {}).items() if k != "history"}, "init_encoder": start.get("init_encoder")}


def pretrain(
    cfg: PretrainConfig,
    data: list[str | Path],
    out: str | Path,
    init: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
) -> PretrainResult:
    """Pretrain an ALBERT encoder on the text of `data` folders into `out` (see the module docstring)."""
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint
    from torch.utils.data import DataLoader

    from dssm.tokenizer import Tokenizer
    from dssm.understanding.pretrain_module import PretrainModule, heads
    from dssm.trainer import lightning_output, progress_bar

    folders = [Path(d) for d in data]
    out = check_output(out, [*folders, init], force or resume)
    init = Path(init) if init is not None else None
    start = _init_encoder_info(init)
    if start is not None:  # a continued encoder keeps its shape and BPE: record those
        kept = start["config"]
        cfg = replace(cfg, encoder=EncoderConfig(**kept["encoder"]), vocab_size=kept["vocab_size"], coverage=kept["coverage"])
    stage = staging_dir(out)
    if not resume:
        shutil.rmtree(stage, ignore_errors=True)
    elif not (stage / "last.ckpt").is_file():
        raise JobmatchError(f"--resume: no checkpoint {stage}/last.ckpt to continue (run without --resume)")
    stage.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    docs, sources = read_corpus(folders, cfg)
    if init is not None:
        pieces = _init_pieces(init, start)
    else:
        tok_dir = stage / TOKENIZER_DIR
        tok = Tokenizer.load(tok_dir) if resume and tok_dir.is_dir() else Tokenizer.train(
            [" ".join(w) for d in docs for w in d], tok_dir, vocab_size=cfg.vocab_size, seed=cfg.seed, coverage=cfg.coverage)
        pieces = WordPieces(bpe=tok)
    model = _initial_model(cfg, pieces, init)
    max_len = cfg.encoder.max_len if init is None else min(cfg.encoder.max_len, int(model.config.max_position_embeddings))
    encoded = encode_corpus(docs, pieces)
    pairs = sop_pairs(encoded, max_len, cfg.seed)
    if len(pairs) < 2:
        raise JobmatchError(f"albert pretrain: the corpus gives {len(pairs)} segment pairs; it needs more text")
    random.Random(cfg.seed).shuffle(pairs)
    n_val = min(VAL_PAIRS, max(1, len(pairs) // 50))
    val, train = pairs[:n_val], pairs[n_val:]
    module = PretrainModule(model, pieces, cfg)

    def collate(batch):
        return pair_batch(batch, pieces)

    loader = DataLoader(train, batch_size=cfg.batch_size, shuffle=True, collate_fn=collate,
                        generator=torch.Generator().manual_seed(cfg.seed))
    val_loader = DataLoader(val, batch_size=cfg.batch_size, collate_fn=collate)
    ckpt = ModelCheckpoint(dirpath=stage, filename="last", every_n_train_steps=CKPT_EVERY, save_last=False, enable_version_counter=False)
    L.seed_everything(cfg.seed, verbose=False)
    val_every = max(1, min(cfg.max_steps, 500, len(loader)))
    t_fit = time.perf_counter()
    with lightning_output(), transformers_output():
        trainer = L.Trainer(
            max_steps=cfg.max_steps, max_epochs=-1, accelerator="cpu", devices=1, logger=False,
            max_time=timedelta(minutes=float(cfg.max_minutes)) if cfg.max_minutes else None,
            callbacks=[ckpt, *progress_bar()], enable_progress_bar=not quiet(), enable_model_summary=False, num_sanity_val_steps=0,
            val_check_interval=val_every, check_val_every_n_epoch=None, gradient_clip_val=1.0,
        )
        trainer.fit(module, train_dataloaders=loader, val_dataloaders=val_loader,
                    ckpt_path=str(stage / "last.ckpt") if resume else None)
        final = trainer.validate(module, dataloaders=val_loader, verbose=False)[0]
    fit_s = time.perf_counter() - t_fit
    encoder = heads(model)[0].eval()
    val_metrics = {k: round(float(v), 4) for k, v in final.items()}
    n_sent = sum(len(d) for d in encoded)
    n_pieces = sum(len(s) for d in encoded for s in d)
    meta = {
        "config": config_to_dict(cfg),
        "init": str(init) if init is not None else None,
        "init_encoder": _init_summary(start),
        "corpus": {"sources": sources, "documents": len(docs), "sentences": n_sent, "pieces": n_pieces, "pairs": len(pairs)},
        "trained": {"steps": int(trainer.global_step), "tokens": module.tokens_seen, "fit_seconds": round(fit_s, 1),
                    "tokens_per_s": round(module.tokens_seen / max(fit_s, 1e-9), 1), "val": val_metrics, "history": module.history},
        "versions": versions(),
    }
    with atomic_path(out) as tmp, transformers_output():
        save_encoder(tmp, encoder, pieces, meta)
    shutil.rmtree(stage, ignore_errors=True)
    return PretrainResult(str(out), len(docs), n_sent, n_pieces, len(pairs), int(trainer.global_step),
                          meta["trained"]["tokens_per_s"], round(time.perf_counter() - t0, 1), val_metrics)

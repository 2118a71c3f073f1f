"""Stages `tagger train | predict | eval | compare`: the entity tagger on token and span sets.

    jobmatch tagger train --data ../shared/data/resumener_zh --albert runs/understanding/albert --out runs/understanding/tagger_zh
    jobmatch tagger predict --model runs/understanding/tagger_zh --input sentences.parquet --out tagged.parquet
    jobmatch tagger compare --data ../shared/data/skillspan_en --albert runs/understanding/albert --out runs/understanding/compare_skillspan

Predict contract: the input is a token set (one row per sentence, a `tokens` list column,
other columns passed through) or a span set (`text`); the output has the same rows in the
same order plus `pred_<layer>` per tag layer the model was trained on (`pred_tags`,
`pred_tags_skill`, ...), one tag per token in the training scheme, or, for a span set,
`pred_spans` (list of {start, end, label}, character offsets, end exclusive).

Tagger folder: `tagger.yaml` (config, layers with their tag lists and scheme, the encoder's
Hugging Face config, the bigram vocabulary when the tagger reads bigrams, dev scores, versions), `model.safetensors` (all weights), `tokenizer/`.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dssm.errors import DataError, JobmatchError
from dssm.io import atomic_path, check_output, config_from_dict, config_to_dict, quiet, versions, write_json, write_parquet, write_text
from dssm.understanding.albert import TOKENIZER_DIR, WordPieces, hf_config_dict, load_encoder, transformers_output
from dssm.understanding.artifact import WEIGHTS, encoder_from_config, read_model_folder, write_model_folder
from dssm.understanding.batching import collate, drop_words, make_windows, merge_rows
from dssm.understanding.bigrams import BigramVocab
from dssm.understanding.dictionary import SpanDictionary
from dssm.understanding.tagger import Tagger, TaggerConfig, TaggerEnsemble, window_pieces
from dssm.understanding.tags import scheme_of, tags_to_spans, word_to_char_spans
from pipelines.understanding.scores import (
    normalise_span, paired_f1_difference, paired_ratio_difference, paired_unseen_recall_difference, row_counts, span_scores, unseen_recall,
    unseen_row_counts,
)
from pipelines.understanding.tagsets import TagTable, load_set, read_table

TAGGER_FILE = "tagger.yaml"
PREDICT_BATCH = 64


def pred_column(layer: str) -> str:
    """Output column of a tag layer: tags -> pred_tags, tags_skill -> pred_tags_skill."""
    return f"pred_{layer}"


def layer_label(layer: str) -> str:
    """Span type for a layer's untyped tags (B/I): tags_skill -> skill, tags -> entity."""
    return layer[len("tags_"):] if layer.startswith("tags_") else "entity"


def row_spans(tags: list[str], layer: str, n_layers: int) -> list[tuple[int, int, str]]:
    """Spans of one row's tags, typed (untyped tags take the layer's label; with several layers typed ones are prefixed)."""
    out = []
    for s, e, kind in tags_to_spans(tags):
        if not kind:
            kind = layer_label(layer)
        elif n_layers > 1:
            kind = f"{layer_label(layer)}:{kind}"
        out.append((s, e, kind))
    return out


def all_spans(tags: dict[str, list[list[str]]]) -> list[list[tuple[int, int, str]]]:
    """layer -> rows of tags -> rows of spans over every layer."""
    layers = list(tags)
    n = len(next(iter(tags.values()))) if tags else 0
    return [[s for layer in layers for s in row_spans(tags[layer][i], layer, len(layers))] for i in range(n)]


# ----------------------------------------------------------------------------- model building


@dataclass
class TagSpace:
    """The tags of each layer a tagger predicts, and their scheme (from the training data)."""

    tags: dict[str, list[str]]
    scheme: dict[str, str]

    @classmethod
    def fit(cls, table: TagTable) -> TagSpace:
        tags, scheme = {}, {}
        for layer, rows in table.tags.items():
            found = sorted({t for r in rows for t in r} - {"O"})
            tags[layer] = ["O", *found]
            scheme[layer] = scheme_of(tags[layer])
        return cls(tags, scheme)

    def ids(self, table: TagTable) -> dict[str, list[np.ndarray]]:
        """layer -> rows of tag ids (training labels)."""
        out = {}
        for layer, rows in table.tags.items():
            index = {t: i for i, t in enumerate(self.tags[layer])}
            out[layer] = [np.array([index[t] for t in r], dtype=np.int64) for r in rows]
        return out

    def check(self, table: TagTable) -> None:
        """Refuse gold tags a model cannot produce: an unknown layer, scheme or tag (one line naming file and column)."""
        for layer, rows in table.tags.items():
            if layer not in self.tags:
                raise DataError(str(table.path), layer, f"a tag layer the model was not trained on (its layers: {list(self.tags)})")
            found = {t for r in rows for t in r}
            unknown = sorted(found - set(self.tags[layer]))
            if unknown:
                raise DataError(str(table.path), layer, f"tags the model was not trained on: {unknown[:5]} (scheme {self.scheme[layer]}, model tags: {self.tags[layer][:8]})")


def scratch_pieces(train: TagTable, cfg: TaggerConfig, folder: Path) -> WordPieces:
    """A BPE trained on the training rows' words only (the from-scratch encoder's vocabulary)."""
    from dssm.tokenizer import Tokenizer

    texts = [" ".join(t) for t in train.tokens if t]
    return WordPieces(bpe=Tokenizer.train(texts, folder, vocab_size=cfg.scratch_vocab_size, seed=cfg.seed, coverage=1.0))


def row_windows(model: Tagger, cfg: TaggerConfig, rows: list[list[list[int]]], cls_id: int, sep_id: int,
                words: list[list[str]] | None = None):
    """Rows of per-word pieces -> the model's windows ([CLS]/[SEP] around each only when it has a pretrained encoder);
    a model with bigram features also needs the rows' `words` (their bigram ids ride in the windows)."""
    special = model.encoder is not None
    features = None
    if model.bigrams is not None:
        if words is None:
            raise ValueError("this tagger reads bigram features: pass the rows' words")
        features = model.bigrams.ids(words)
    return make_windows(rows, window_pieces(model), cfg.overlap, cls_id if special else None, sep_id if special else None, features)


CONFIDENCE = "#confidence"
"""Suffix of the per-word confidence arrays `tag_rows(confidence=True)` adds beside each layer's tag ids."""


def tag_rows(model: Tagger, cfg: TaggerConfig, rows: list[list[list[int]]], pad_id: int, cls_id: int, sep_id: int,
             confidence: bool = False, words: list[list[str]] | None = None) -> list[dict[str, np.ndarray]]:
    """Rows of per-word pieces -> per row, layer -> tag id per word: windows, length-sorted batches, argmax, merge by owner window.
    With `confidence`, also layer + CONFIDENCE -> the softmax probability (of the emissions, with a CRF) of each word's predicted tag.
    `words`: the rows' words, needed by a tagger with bigram features."""
    import torch

    from dssm.batching import length_sorted_batches

    items = row_windows(model, cfg, rows, cls_id, sep_id, words)
    preds: list[dict[str, np.ndarray] | None] = [None] * len(items)
    model.eval()
    with torch.inference_mode():
        for ks in length_sorted_batches(np.array([len(w.ids) for w in items]), PREDICT_BATCH):
            batch = collate([items[k] for k in ks], pad_id)
            logits = model(batch["ids"], batch["mask"], batch["word_of_piece"], batch["n_words"], batch.get("features"))
            best = {layer: t.numpy() for layer, t in model.decode(logits, batch["word_of_piece"]).items()}  # (B, W)
            if confidence:
                best |= {layer + CONFIDENCE: lg.softmax(-1).gather(-1, torch.as_tensor(best[layer]).unsqueeze(-1)).squeeze(-1).float().numpy()
                         for layer, lg in logits.items()}
            for j, k in enumerate(ks):
                preds[k] = {layer: best[layer][j] for layer in best}
    return merge_rows(items, preds, [len(r) for r in rows])


def predict_tags(model: Tagger, cfg: TaggerConfig, pieces: WordPieces, space: TagSpace, tokens: list[list[str]]) -> dict[str, list[list[str]]]:
    """Rows of words -> layer -> rows of predicted tags (one per word; see the module docstring of batching)."""
    rows = tag_rows(model, cfg, pieces.rows(tokens), pieces.pad_id, pieces.cls_id, pieces.sep_id, words=tokens)
    return {layer: [[space.tags[layer][i] for i in r[layer]] for r in rows] for layer in space.tags}


def build_model(cfg: TaggerConfig, space: TagSpace, vocab_size: int, encoder=None, bigrams: BigramVocab | None = None) -> Tagger:
    import torch

    torch.manual_seed(cfg.seed)
    return Tagger(cfg, {layer: len(t) for layer, t in space.tags.items()}, vocab_size, encoder, bigrams)


def tagger_loss(model: Tagger, batch: dict) -> Any:
    """Σ over tag layers of the mean cross-entropy over real words (padding words are labelled -100); with a CRF, its sequence NLL."""
    import torch.nn.functional as F

    logits = model(batch["ids"], batch["mask"], batch["word_of_piece"], batch["n_words"], batch.get("features"))
    if model.crfs is not None:
        return model.crf_loss(logits, {k: batch[f"labels_{k}"] for k in logits})
    return sum(F.cross_entropy(lg.reshape(-1, lg.shape[-1]), batch[f"labels_{k}"].reshape(-1), ignore_index=-100) for k, lg in logits.items())


def fit(cfg: TaggerConfig, train: TagTable, dev: TagTable, albert: Path | None, work: Path) -> tuple[Tagger, WordPieces, TagSpace, dict, list]:
    """Train one tagger (encoder per `cfg.encoder`); -> (model with the best dev epoch's weights, pieces, tag space, info,
    that epoch's dev spans per row)."""
    import lightning as L
    import torch
    from torch.utils.data import DataLoader

    from dssm.understanding.finetune import FinetuneModule
    from dssm.trainer import lightning_output, progress_bar

    space = TagSpace.fit(train)
    if not any(len(t) > 1 for t in space.tags.values()):
        raise JobmatchError(f"{train.path}: the training tags hold no entity (every tag is O)")
    space.check(dev)
    if cfg.encoder == "albert":
        if albert is None:
            raise JobmatchError("encoder 'albert' needs --albert RUN/albert (or --encoder scratch)")
        with transformers_output():
            encoder, pieces, _ = load_encoder(albert)
        encoder.train()
    else:
        encoder, pieces = None, scratch_pieces(train, cfg, work / TOKENIZER_DIR)
    bigrams = BigramVocab.fit(train.tokens, cfg.bigram_min_count) if cfg.bigram_dim else None
    model = build_model(cfg, space, pieces.vocab_size, encoder, bigrams)
    labels = space.ids(train)
    items = row_windows(model, cfg, pieces.rows(train.tokens), pieces.cls_id, pieces.sep_id, train.tokens)
    gold_dev = all_spans(dev.tags)

    def evaluate() -> tuple[float, tuple[list, float]]:
        t = time.perf_counter()
        pred = all_spans(predict_tags(model, cfg, pieces, space, dev.tokens))
        return span_scores(gold_dev, pred)["micro"]["f1"], (pred, round(time.perf_counter() - t, 2))

    module = FinetuneModule(model, tagger_loss, evaluate, cfg.lr, cfg.encoder_lr, cfg.patience)
    hiding = torch.Generator().manual_seed(cfg.seed + 1)
    loader = DataLoader(items, batch_size=cfg.batch_size, shuffle=True, generator=torch.Generator().manual_seed(cfg.seed),
                        collate_fn=lambda b: drop_words(collate(b, pieces.pad_id, labels), cfg.word_dropout, pieces.mask_id, hiding))
    L.seed_everything(cfg.seed, verbose=False)
    t0 = time.perf_counter()
    with lightning_output(), transformers_output():
        trainer = L.Trainer(max_epochs=cfg.max_epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                            enable_progress_bar=not quiet(), callbacks=progress_bar(), enable_model_summary=False, num_sanity_val_steps=0, gradient_clip_val=1.0)
        trainer.fit(module, train_dataloaders=loader)
    model.load_state_dict(module.best_state)
    dev_spans, predict_s = module.best_predictions
    info = {"train_seconds": round(time.perf_counter() - t0, 1), "epochs_run": int(trainer.current_epoch),
            "best_epoch": module.best_epoch, "best_dev_micro_f1": round(module.best_score, 4), "history": module.history,
            "train_rows": len(train.tokens), "train_windows": len(items), "dev_predict_seconds": predict_s}
    if cfg.layer_mix:
        info["layer_mix"] = model.layer_weights()
    return model.eval(), pieces, space, info, dev_spans


# ----------------------------------------------------------------------------- artifact


def save_tagger(out: Path, model: Tagger, pieces: WordPieces, space: TagSpace, set_kind: str, meta: dict[str, Any]) -> None:
    """Write a tagger folder atomically (`dssm.understanding.artifact`)."""
    write_model_folder(out, model, pieces, TAGGER_FILE, {
        "kind": "tagger", "config": config_to_dict(model.cfg), "layers": space.tags, "scheme": space.scheme, "set_kind": set_kind,
        "encoder_config": hf_config_dict(model.encoder) if model.encoder is not None else None,
        "bigrams": model.bigrams.pairs if model.bigrams is not None else None, **meta})


def saved_split(model: Tagger | TaggerEnsemble, data: str | Path) -> tuple[TagTable, TagTable]:
    """An entity set's (train, dev) as the tagger's training drew them; an ensemble's members must have held out the same dev rows."""
    cfgs = [m.cfg for m in model.members] if isinstance(model, TaggerEnsemble) else [model.cfg]
    parts = [load_set(data, share, seed) for share, seed in sorted({(c.dev_share, c.seed) for c in cfgs})]
    if any(dev.tokens != parts[0][1].tokens for _, dev in parts[1:]):
        raise JobmatchError(f"{data}: no dev.parquet, and the ensemble's members held out different dev rows (seeds "
                            f"{sorted({c.seed for c in cfgs})}): no dev part is unseen by all of them")
    return parts[0]


def load_tagger(path: str | Path, precision: str = "fp32") -> tuple[Tagger | TaggerEnsemble, WordPieces, TagSpace, dict[str, Any]]:
    """A tagger folder (one tagger, or an ensemble `ensemble_taggers` wrote) -> (model in eval mode, pieces, tag space, info);
    no pickles. Refuses other artifacts and mismatched parts. `precision`: the encoder's at inference (`Tagger.set_precision`)."""
    from dssm.model_io import check_state_shapes

    info, pieces, state = read_model_folder(path, TAGGER_FILE, "tagger", "train one with `jobmatch tagger train`")
    where = str(Path(path) / TAGGER_FILE)
    space = TagSpace(info["layers"], info["scheme"])
    if "ensemble" in info:
        try:
            model = TaggerEnsemble([saved_model(member, space, pieces, where) for member in info["ensemble"]])
        except ValueError as e:
            raise JobmatchError(f"{where}: {e}") from e
    else:
        model = saved_model(info, space, pieces, where)
    check_state_shapes(model.state_dict(), state, str(Path(path) / WEIGHTS))
    model.load_state_dict(state)
    return model.eval().set_precision(precision), pieces, space, info


def saved_model(info: dict[str, Any], space: TagSpace, pieces: WordPieces, where: str) -> Tagger:
    """An untrained tagger built from a saved tagger's (or ensemble member's) config, encoder config and bigram vocabulary."""
    saved = {"crf": False, **info["config"]}  # folders written before the CRF existed hold no `crf`: they have none
    cfg = config_from_dict(TaggerConfig, saved, where)
    encoder = encoder_from_config(info["encoder_config"]) if info.get("encoder_config") else None
    bigrams = None
    if cfg.bigram_dim:
        if not isinstance(info.get("bigrams"), list):
            raise JobmatchError(f"{where}: bigram_dim {cfg.bigram_dim} but no `bigrams` vocabulary list")
        bigrams = BigramVocab(info["bigrams"])
    return build_model(cfg, space, pieces.vocab_size, encoder, bigrams)


def ensemble_taggers(models: list[str | Path], out: str | Path, force: bool = False) -> dict[str, Any]:
    """Join saved taggers of one vocabulary and tag space (e.g. one recipe trained at several seeds) into one tagger folder
    whose predictions are theirs combined (`TaggerEnsemble`); -> the members' dev scores as trained."""
    if len(models) < 2:
        raise JobmatchError(f"--models: an ensemble needs at least two tagger folders, got {len(models)}")
    out = check_output(out, list(models), force)
    loaded = [load_tagger(m) for m in models]
    _, pieces, space, first = loaded[0]
    for path, (_, p, s, info) in zip(models, loaded):
        if "ensemble" in info:
            raise JobmatchError(f"{path}: already an ensemble; list its members' folders instead")
        if p.fingerprint != pieces.fingerprint:
            raise JobmatchError(f"{path}: reads vocabulary {p.fingerprint[:24]}, {models[0]} {pieces.fingerprint[:24]}: members "
                                "must share one (taggers of one --albert encoder do; scratch taggers each learn their own)")
        if s.tags != space.tags:
            raise JobmatchError(f"{path}: tag layers {s.tags} differ from {models[0]}'s {space.tags}")
    try:
        model = TaggerEnsemble([m for m, *_ in loaded])
    except ValueError as e:
        raise JobmatchError(f"--models: {e}") from e
    members = [{"from": str(path), **{k: info.get(k) for k in ("config", "encoder_config", "bigrams", "trained_on", "albert", "dev")}}
               for path, (*_, info) in zip(models, loaded)]
    save_tagger(out, model, pieces, space, first["set_kind"], {"trained_on": first.get("trained_on"), "ensemble": members})
    return {"out": str(out), "members": [{"from": m["from"], "dev_micro_f1": (m["dev"] or {}).get("micro", {}).get("f1")} for m in members]}


# ----------------------------------------------------------------------------- stages


def score(gold: dict[str, list[list[str]]], pred_spans: list[list[tuple[int, int, str]]], tokens: list[list[str]], seen: set[str]) -> dict:
    """Exact-span scores and unseen-span recall of predicted spans against gold tags."""
    g = all_spans(gold)
    s = span_scores(g, pred_spans)
    s["unseen"] = unseen_recall(g, pred_spans, tokens, seen)
    return s


def seen_spans(train: TagTable) -> set[str]:
    """Normalised texts of every training span (all layers)."""
    return {normalise_span(t[s:e]) for t, row in zip(train.tokens, all_spans(train.tags)) for s, e, _ in row}


@dataclass
class TrainResult:
    out: str
    layers: dict[str, int]
    dev: dict
    train_seconds: float


def train_tagger(cfg: TaggerConfig, data: str | Path, out: str | Path, albert: str | Path | None = None,
                 layers: list[str] | None = None, force: bool = False) -> TrainResult:
    """Train a tagger on an entity set (train part; dev: dev.parquet or a seeded share) into `out`; -> dev scores."""
    out = check_output(out, [data, albert], force)
    if albert is None and cfg.layer_mix:
        raise JobmatchError("--layer-mix mixes the layers of a pretrained encoder: give --albert RUN/albert")
    if albert is None and cfg.encoder == "albert":
        cfg = replace(cfg, encoder="scratch")
    train, dev = load_set(data, cfg.dev_share, cfg.seed)
    if layers:
        unknown = [x for x in layers if x not in train.tags]
        if unknown:
            raise JobmatchError(f"--layers {unknown}: not tag layers of {train.path} (its layers: {list(train.tags)})")
        train = replace(train, tags={k: train.tags[k] for k in layers})
        dev = replace(dev, tags={k: dev.tags[k] for k in layers})
    with tempfile.TemporaryDirectory() as work:
        model, pieces, space, info, dev_spans = fit(cfg, train, dev, Path(albert) if albert else None, Path(work))
        dev_scores = score(dev.tags, dev_spans, dev.tokens, seen_spans(train))
        save_tagger(out, model, pieces, space, train.kind, {"trained_on": str(data), "albert": str(albert) if albert else None,
                                                           "train": info, "dev": dev_scores})
    return TrainResult(str(out), {k: len(v) for k, v in space.tags.items()}, dev_scores, info["train_seconds"])


def predict_file(model_dir: str | Path, input: str | Path, out: str | Path, force: bool = False, precision: str = "fp32") -> dict[str, Any]:
    """Tag every row of `input` with a tagger and write `out` (the predict contract in the module docstring);
    `precision`: the encoder's (`Tagger.set_precision`)."""
    import pandas as pd

    out = check_output(out, [input, model_dir], force)
    model, pieces, space, info = load_tagger(model_dir, precision)
    table = read_table(Path(input), with_tags=False)
    t0 = time.perf_counter()
    pred = predict_tags(model, model.cfg, pieces, space, table.tokens)
    seconds = time.perf_counter() - t0
    frame = table.frame.copy()
    if table.kind == "spans":
        layer = next(iter(space.tags))
        frame["pred_spans"] = pd.Series([
            [{"start": int(s), "end": int(e), "label": kind} for s, e, kind in word_to_char_spans(off, row_spans(tags, layer, 1))]
            for tags, off in zip(pred[layer], table.offsets)], dtype=object)
    else:
        for layer, rows in pred.items():
            frame[pred_column(layer)] = pd.Series(rows, dtype=object)
    write_parquet(out, frame)
    return {"out": str(out), "rows": len(frame), "words": sum(len(t) for t in table.tokens), "seconds": round(seconds, 3)}


def evaluate_tagger(model_dir: str | Path, data: str | Path, precision: str = "fp32", reference: str | Path | None = None) -> dict:
    """Dev scores of a saved tagger on an entity set's dev part (the same split its training used), its encoder
    run at `precision`. With `reference` (another tagger of the same tag layers and dev rows), also its scores and the paired
    differences model − reference in micro-F1 and unseen-span recall (bootstrap CIs over dev rows, as in `compare`)."""
    model, pieces, space, info = load_tagger(model_dir, precision)
    train, dev = saved_split(model, data)
    dev = replace(dev, tags={k: v for k, v in dev.tags.items() if k in space.tags})
    space.check(dev)
    seen = seen_spans(train)
    pred = all_spans(predict_tags(model, model.cfg, pieces, space, dev.tokens))
    scores = score(dev.tags, pred, dev.tokens, seen)
    if reference is None:
        return scores
    ref, ref_pieces, ref_space, _ = load_tagger(reference, precision)
    if ref_space.tags != space.tags:
        raise JobmatchError(f"{reference}: tag layers {ref_space.tags} differ from {model_dir}'s {space.tags}: nothing to pair")
    if saved_split(ref, data)[1].tokens != dev.tokens:
        raise JobmatchError(f"{reference}: held out other dev rows of {data} than {model_dir} (another --seed or --dev-share)")
    ref_pred = all_spans(predict_tags(ref, ref.cfg, ref_pieces, ref_space, dev.tokens))
    gold = all_spans(dev.tags)
    scores["reference"] = {"model": str(reference), **score(dev.tags, ref_pred, dev.tokens, seen)}
    scores["f1_vs_reference"] = paired_f1_difference(gold, ref_pred, pred)
    scores["unseen_vs_reference"] = paired_unseen_recall_difference(gold, ref_pred, pred, dev.tokens, seen)
    return scores


SYSTEMS = ("dictionary", "bilstm", "albert_linear", "albert_bilstm")
"""The four systems `compare` trains by default: the floor, BiLSTM on scratch embeddings, ALBERT + linear head, ALBERT -> BiLSTM."""
KNOWN_SYSTEMS = (*SYSTEMS, "bilstm_crf", "albert_bilstm_crf", "bilstm_crf_bigrams", "bilstm_crf_worddrop", "albert_bilstm_crf_worddrop",
                 "albert_bilstm_crf_mix", "albert_bilstm_crf_mix_worddrop")
"""Also known: the BiLSTM systems with a CRF over their tags (`TaggerConfig.crf`), the scratch one with bigram features
(`TaggerConfig.bigram_dim`; BIGRAM_DIM when the config has none), the CRF systems trained with word dropout
(`TaggerConfig.word_dropout`; WORD_DROPOUT when the config has none; the other systems train without it), and the ALBERT
CRF systems reading a scalar mix of the encoder's layers (`_mix`, `TaggerConfig.layer_mix`)."""
BIGRAM_DIM = 50
"""Bigram embedding width of the `_bigrams` systems when --bigram-dim is not given (the char + bichar baseline's 50)."""
WORD_DROPOUT = 0.25
"""Word dropout of the `_worddrop` systems when --word-dropout is not given."""


def system_config(cfg: TaggerConfig, system: str) -> TaggerConfig:
    """The tagger config of a neural `compare` system: encoder, head, CRF, bigram features, layer mix and word dropout from its
    name, the rest from `cfg` (`cfg.layer_mix` mixes the layers of every ALBERT system)."""
    name, worddrop = system.removesuffix("_worddrop"), system.endswith("_worddrop")
    name, mix = name.removesuffix("_mix"), name.endswith("_mix")
    name, bigrams = name.removesuffix("_bigrams"), name.endswith("_bigrams")
    base, crf = name.removesuffix("_crf"), name.endswith("_crf")
    encoder, head = ("scratch", "bilstm") if base == "bilstm" else ("albert", base.split("_")[1])
    return replace(cfg, encoder=encoder, head=head, crf=crf, bigram_dim=(cfg.bigram_dim or BIGRAM_DIM) if bigrams else cfg.bigram_dim,
                   layer_mix=encoder == "albert" and (mix or cfg.layer_mix), word_dropout=(cfg.word_dropout or WORD_DROPOUT) if worddrop else 0.0)


def compare(cfg: TaggerConfig, data: str | Path, albert: str | Path | None, out: str | Path, systems: tuple[str, ...] = SYSTEMS,
            force: bool = False, reference: str | None = None) -> dict:
    """Train and score the systems on one entity set's dev part; writes out/report.json and out/report.md; -> the report.
    Every system but `reference` (default: bilstm when it runs, else the first system) gets its paired micro-F1
    difference to the reference."""
    out = check_output(out, [data, albert], force)
    unknown = [s for s in systems if s not in KNOWN_SYSTEMS]
    if unknown:
        raise JobmatchError(f"--systems {unknown}: known systems are {list(KNOWN_SYSTEMS)}")
    reference = reference or ("bilstm" if "bilstm" in systems else systems[0])
    if reference not in systems:
        raise JobmatchError(f"--reference {reference}: not one of --systems {list(systems)}")
    if albert is None and any(s.startswith("albert") for s in systems):
        raise JobmatchError(f"--systems {[s for s in systems if s.startswith('albert')]} need --albert RUN/albert")
    train, dev = load_set(data, cfg.dev_share, cfg.seed)
    seen = seen_spans(train)
    rows: dict[str, dict] = {}
    predictions: dict[str, list] = {}
    for system in systems:
        t0 = time.perf_counter()
        if system == "dictionary":
            train_spans = {layer: [row_spans(r, layer, len(train.tags)) for r in rows_] for layer, rows_ in train.tags.items()}
            preds = [[] for _ in dev.tokens]
            for layer, spans in train_spans.items():
                for i, row in enumerate(SpanDictionary.fit(train.tokens, spans).predict(dev.tokens)):
                    preds[i] += row
            info = {"train_seconds": round(time.perf_counter() - t0, 1)}
        else:
            with tempfile.TemporaryDirectory() as work:
                *_, info, preds = fit(system_config(cfg, system), train, dev, None if albert is None else Path(albert), Path(work))
        rows[system] = {**score(dev.tags, preds, dev.tokens, seen), **{k: v for k, v in info.items() if k != "history"}}
        predictions[system] = preds
    gold = all_spans(dev.tags)
    for system in systems:
        if system != reference:
            rows[system]["f1_vs_reference"] = {"reference": reference, **paired_f1_difference(gold, predictions[reference], predictions[system])}
            rows[system]["unseen_vs_reference"] = {"reference": reference, **paired_unseen_recall_difference(
                gold, predictions[reference], predictions[system], dev.tokens, seen)}
    report = {"data": str(data), "albert": None if albert is None else str(albert), "config": config_to_dict(cfg), "train_rows": len(train.tokens),
              "dev_rows": len(dev.tokens), "systems": rows, "versions": versions()}
    with atomic_path(out) as tmp:
        tmp.mkdir()
        write_json(tmp / "report.json", report)
        write_text(tmp / "report.md", report_markdown(report))
        write_parquet(tmp / ROW_COUNTS, dev_row_counts(gold, predictions, dev.tokens, seen))
    return report


ROW_COUNTS = "rows.parquet"
"""compare's per dev row and system counts (tp, pred, gold, unseen_hit, unseen): what `pool` resamples."""
COUNT_COLUMNS = ("tp", "pred", "gold", "unseen_hit", "unseen")


def dev_row_counts(gold: list, predictions: dict[str, list], tokens: list[list[str]], seen: set[str]) -> pd.DataFrame:
    """One row per (system, dev row): exact-span counts and unseen-span counts."""
    import pandas as pd

    frames = []
    for system, preds in predictions.items():
        c = np.hstack([row_counts(gold, preds), unseen_row_counts(gold, preds, tokens, seen)])
        frames.append(pd.DataFrame({"system": system, "row": np.arange(len(c)), **dict(zip(COUNT_COLUMNS, c.T))}))
    return pd.concat(frames, ignore_index=True)


def pool(runs: list[str | Path], system: str, reference: str) -> dict:
    """`system` minus `reference` over several compare runs on one set (e.g. training seeds): per run, and pooled, the
    micro-F1 and unseen-span recall of all runs' predictions together, with a paired bootstrap 95% CI over dev rows (each
    resampled row carries its counts from every run)."""
    import json

    import pandas as pd

    if len(runs) < 2:
        raise JobmatchError("pool needs at least two compare runs (e.g. the same systems at --seed 0, 1, 2)")
    sums: dict[str, np.ndarray] = {}
    per_run: list[dict] = []
    gold0: np.ndarray | None = None
    for run in runs:
        path = Path(run) / ROW_COUNTS
        if not path.is_file():
            raise JobmatchError(f"{path}: no per-row counts; pool reads `jobmatch tagger compare` runs made since it writes {ROW_COUNTS}")
        report = json.loads((Path(run) / "report.json").read_text(encoding="utf-8"))
        table = pd.read_parquet(path)
        for name in (system, reference):
            if name not in report["systems"]:
                raise JobmatchError(f"{Path(run) / 'report.json'}: no system {name!r} (it has {list(report['systems'])})")
            counts = table[table["system"] == name].sort_values("row")[list(COUNT_COLUMNS)].to_numpy(np.int64)
            gold0 = counts[:, [2, 4]] if gold0 is None else gold0
            if not np.array_equal(counts[:, [2, 4]], gold0):
                raise JobmatchError(f"{path}: its gold spans per dev row differ from those of {runs[0]}: not the same dev set")
            sums[name] = sums.get(name, 0) + counts
        mine = report["systems"][system]
        per_run.append({"run": str(run), "f1": {reference: report["systems"][reference]["micro"]["f1"], system: mine["micro"]["f1"]},
                        **{k: mine[k] for k in ("f1_vs_reference", "unseen_vs_reference") if mine.get(k, {}).get("reference") == reference}})
    a, b = sums[reference], sums[system]
    return {"system": system, "reference": reference, "runs": per_run, "dev_rows": int(len(a)),
            "f1": {reference: pooled_f1(a), system: pooled_f1(b)},
            "f1_diff": paired_ratio_difference(2 * a[:, 0], a[:, 1] + a[:, 2], 2 * b[:, 0], b[:, 1] + b[:, 2]),
            "unseen_diff": paired_ratio_difference(a[:, 3], a[:, 4], b[:, 3], b[:, 4])}


def pooled_f1(counts: np.ndarray) -> float:
    """micro-F1 of summed (tp, pred, gold, ...) counts: 2 TP / (|pred| + |gold|)."""
    tp, pred, gold = (int(x) for x in counts[:, :3].sum(0))
    return 2 * tp / (pred + gold) if pred + gold else 0.0


def pool_markdown(pooled: dict) -> str:
    """`pool`'s result: one line per run, then the pooled figures."""
    sys_, ref = pooled["system"], pooled["reference"]
    ci = lambda d: f"{d['diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"  # noqa: E731
    lines = [f"{sys_} − {ref}, micro-F1 (paired bootstrap 95% CI over dev rows):"]
    for r in pooled["runs"]:
        paired = f": {ci(r['f1_vs_reference'])}" if "f1_vs_reference" in r else ""
        lines.append(f"- {r['run']}: {r['f1'][ref]:.3f} → {r['f1'][sys_]:.3f}{paired}")
    f1 = pooled["f1"]
    lines.append(f"- pooled over {len(pooled['runs'])} runs ({pooled['dev_rows']} dev rows): {f1[ref]:.3f} → {f1[sys_]:.3f}: "
                 f"{ci(pooled['f1_diff'])}; unseen-span recall {ci(pooled['unseen_diff'])}")
    return "\n".join(lines) + "\n"


def report_markdown(report: dict) -> str:
    """The compare report as a Markdown table: micro P/R/F1, unseen-span recall, per-type F1."""
    systems = report["systems"]
    types = sorted({t for r in systems.values() for t in r["per_type"]})
    head = "| system | P | R | F1 | unseen R (n) | " + " | ".join(f"F1 {t}" for t in types) + " |"
    lines = [f"Dev part of {report['data']} ({report['dev_rows']} rows; trained on {report['train_rows']}); encoder {report['albert']}", "",
             head, "|" + "---|" * (5 + len(types))]
    for name, r in systems.items():
        m, u = r["micro"], r["unseen"]
        ur = "—" if u["recall"] is None else f"{u['recall']:.3f}"
        per = " | ".join(f"{r['per_type'][t]['f1']:.3f}" if t in r["per_type"] else "—" for t in types)
        lines.append(f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {ur} ({u['support']}) | {per} |")
    for key, what in (("f1_vs_reference", "micro-F1"), ("unseen_vs_reference", "unseen-span recall")):
        pairs = [(name, r[key]) for name, r in systems.items() if key in r]
        if pairs:
            lines += ["", f"{what} minus the reference system's on the same dev rows (paired bootstrap 95% CI over rows):"]
            lines += [f"- {name} − {d['reference']}: {d['diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] ({d['rows']} rows)" for name, d in pairs]
    mixes = [(name, r["layer_mix"]) for name, r in systems.items() if r.get("layer_mix")]
    if mixes:
        lines += ["", "Learned layer mix (softmax weights of the projected embeddings, then each encoder layer; scale γ):"]
        lines += [f"- {name}: {' '.join(f'{w:.3f}' for w in m['weights'])}; γ {m['gamma']:.3f}" for name, m in mixes]
    return "\n".join(lines) + "\n"


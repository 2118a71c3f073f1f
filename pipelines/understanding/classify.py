"""Stages `classifier train | predict | eval`: the ALBERT sentence classifier of document sections, next to TF-IDF + LR.

    jobmatch classifier train --data runs/real --albert runs/understanding/albert --out runs/understanding/sections
    jobmatch classifier train --data runs/real --system tfidf --out runs/understanding/sections_tfidf
    jobmatch classifier predict --model runs/understanding/sections --input sentences.parquet --out labelled.parquet

Data. `--kind vacancies` (default): the sentences under the section headers of a dataset
folder's vacancy descriptions (`sections.labelled_sentences`: real hh.ru headers mapped to five
classes). `--kind resumes`: a synthetic market's resume sentences with their section truth
(`truth/sentences.parquet`), or, in a folder of real resumes, the sentences of their section fields
(`resume_sections`: hh.ru's «О себе», experience and education blocks, the experience and education
entries of SuperJob and Talent Match; classes about, experience, education). The split is by document (`pipelines.data.split.seeded_dev_mask`): no vacancy has
sentences on both sides. Train and report on the same split, in the same run: the ALBERT
classifier and a TF-IDF (word 1-2-grams + char 2-4-grams) + logistic-regression baseline;
accuracy, macro precision / recall / F1, per-class scores and the confusion matrix on dev.
`--system tfidf` fits and saves the TF-IDF + LR system alone (seconds, no encoder); predict,
eval, `jobmatch parse --classifier` and the summarizer's section features read either folder.

Predict contract: a Parquet file with a `text` column (one sentence per row, other columns
passed through) -> the same rows plus `pred_section` and `prob_<class>` per class.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dssm.errors import DataError, JobmatchError
from dssm.io import check_output, config_from_dict, config_to_dict, quiet, write_parquet
from dssm.understanding.albert import WordPieces, hf_config_dict, load_encoder, transformers_output
from dssm.understanding.artifact import write_model_folder
from dssm.understanding.batching import collate
from dssm.understanding.classifier import (CLASSIFIER_FILE, ClassifierConfig, SentenceClassifier, load_section_model, predict_proba,
                                           sentence_windows)
from dssm.understanding.tfidf_classifier import TfidfClassifier
from pipelines.understanding.scores import classification_scores
from pipelines.data.split import seeded_dev_mask
from pipelines.understanding.sections import labelled_sentences

SYSTEMS = ("albert", "tfidf")
"""What `classifier train --system` fits: the ALBERT classifier (with TF-IDF + LR scored beside it) or TF-IDF + LR alone, saved."""


def section_table(data: str | Path, kind: str, dev_share: float, seed: int) -> pd.DataFrame:
    """doc_id, sent_idx, text, section, part ('train'/'dev') for every labelled sentence of `data` (see the module docstring)."""
    from dssm.schema import RESUME_ID, VACANCY_ID
    from pipelines.understanding.resume_sections import STRUCTURE_COLUMNS, resume_sections
    from pipelines.understanding.tagsets import read_parquet

    data = Path(data)
    if kind == "vacancies":
        path = data / "vacancies.parquet"
        df = read_parquet(path)
        for col in (VACANCY_ID, "description"):
            if col not in df.columns:
                raise DataError(str(path), col, "missing (a dataset folder in the contract is needed)")
        rows = [(str(v), i, s, c) for v, d in zip(df[VACANCY_ID], df["description"]) for i, (s, c, _) in enumerate(labelled_sentences(d))]
    elif kind == "resumes" and (data / "truth" / "sentences.parquet").is_file():
        path = data / "truth" / "sentences.parquet"
        df = read_parquet(path)
        df = df[df["kind"] == "resumes"] if "kind" in df.columns else df
        rows = [(str(d), int(i), str(t), str(c)) for d, i, t, c in zip(df["doc_id"], df["sent_idx"], df["text"], df["section"]) if str(t).strip()]
    elif kind == "resumes":
        path = data / "resumes.parquet"
        df = read_parquet(path)
        if RESUME_ID not in df.columns or not any(c in df.columns for c in STRUCTURE_COLUMNS):
            raise DataError(str(path), None, f"neither a synthetic market (no truth/sentences.parquet beside it) nor real resumes with "
                                             f"{RESUME_ID} and section fields ({', '.join(STRUCTURE_COLUMNS)})")
        rows = [(str(r), i, s, c) for r, row in zip(df[RESUME_ID], df.to_dict("records")) for i, (s, c) in enumerate(resume_sections(row))]
    else:
        raise JobmatchError(f"--kind {kind!r}: vacancies or resumes")
    table = pd.DataFrame(rows, columns=["doc_id", "sent_idx", "text", "section"])
    if table.empty:
        raise DataError(str(path), None, "no labelled sentences (no mapped section headers)" if kind == "vacancies" else "no resume sentences")
    table["part"] = np.where(seeded_dev_mask(table["doc_id"].tolist(), dev_share, seed), "dev", "train")
    if table["part"].nunique() < 2:
        raise JobmatchError(f"{data}: a dev share of {dev_share} leaves one side of the split empty ({table['doc_id'].nunique()} documents)")
    return table


def training_split(cfg: ClassifierConfig, data: str | Path, kind: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    """-> (table, train sentences (seeded sample of at most `max_train_sentences`), dev sentences, classes): both systems' split."""
    table = section_table(data, kind, cfg.dev_share, cfg.seed)
    train, dev = table[table["part"] == "train"], table[table["part"] == "dev"]
    if cfg.max_train_sentences is not None and len(train) > cfg.max_train_sentences:
        train = train.iloc[sorted(random.Random(cfg.seed).sample(range(len(train)), int(cfg.max_train_sentences)))]
    return table, train, dev, sorted(table["section"].unique())


def split_record(table: pd.DataFrame, train: pd.DataFrame, dev: pd.DataFrame) -> dict[str, Any]:
    return {"train_sentences": len(train), "dev_sentences": len(dev), "train_documents": int(train["doc_id"].nunique()),
            "dev_documents": int(dev["doc_id"].nunique()), "labelled_sentences": len(table), "per_class": table["section"].value_counts().to_dict()}


def tfidf_baseline(train: pd.DataFrame, dev: pd.DataFrame, classes: list[str], seed: int) -> tuple[TfidfClassifier, dict[str, Any]]:
    """TF-IDF + LR (`dssm.understanding.tfidf_classifier`) fitted on the train sentences -> (model, its dev scores with train seconds)."""
    t0 = time.perf_counter()
    model = TfidfClassifier.fit(train["text"].tolist(), train["section"].tolist(), seed=seed)
    seconds = round(time.perf_counter() - t0, 1)
    pred = [model.classes[i] for i in model.predict_proba(dev["text"].tolist()).argmax(1)]
    return model, {**classification_scores(dev["section"].tolist(), pred, classes), "train_seconds": seconds}


@dataclass
class ClassifierResult:
    out: str
    classes: list[str]
    train_sentences: int
    dev_sentences: int
    albert: dict | None
    tfidf: dict
    train_seconds: float


def train_classifier(cfg: ClassifierConfig, data: str | Path, albert: str | Path, out: str | Path, kind: str = "vacancies",
                     force: bool = False) -> ClassifierResult:
    """Fine-tune the ALBERT sentence classifier on `data`'s train documents; score it and TF-IDF + LR on dev; write `out`."""
    import lightning as L
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from dssm.understanding.finetune import FinetuneModule
    from dssm.trainer import lightning_output, progress_bar

    out = check_output(out, [data, albert], force)
    table, train, dev, classes = training_split(cfg, data, kind)
    with transformers_output():
        encoder, pieces, _ = load_encoder(albert)
    torch.manual_seed(cfg.seed)
    model = SentenceClassifier(encoder.train(), len(classes), cfg.dropout)
    items = sentence_windows(encoder, pieces, train["text"].tolist(), cfg.overlap)
    y = torch.tensor([classes.index(c) for c in train["section"]], dtype=torch.long)
    dev_texts, dev_gold = dev["text"].tolist(), dev["section"].tolist()

    def loss(m: SentenceClassifier, batch: dict) -> Any:
        return F.cross_entropy(m(batch["ids"], batch["mask"]), batch["y"])

    def evaluate() -> tuple[float, tuple[dict, float]]:
        t = time.perf_counter()
        pred = [classes[i] for i in predict_proba(model, pieces, dev_texts, cfg.overlap).argmax(1)]
        scores = classification_scores(dev_gold, pred, classes)
        return scores["macro_f1"], (scores, round(time.perf_counter() - t, 1))

    def batch_of(ws):
        b = collate(ws, pieces.pad_id)
        b["y"] = y[torch.tensor([w.row for w in ws])]
        return b

    module = FinetuneModule(model, loss, evaluate, cfg.lr, cfg.encoder_lr, cfg.patience)
    loader = DataLoader(items, batch_size=cfg.batch_size, shuffle=True, collate_fn=batch_of, generator=torch.Generator().manual_seed(cfg.seed))
    L.seed_everything(cfg.seed, verbose=False)
    t0 = time.perf_counter()
    with lightning_output(), transformers_output():
        trainer = L.Trainer(max_epochs=cfg.max_epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                            enable_progress_bar=not quiet(), callbacks=progress_bar(), enable_model_summary=False, num_sanity_val_steps=0, gradient_clip_val=1.0)
        trainer.fit(module, train_dataloaders=loader)
    train_s = round(time.perf_counter() - t0, 1)
    model.load_state_dict(module.best_state)
    model.eval()
    best_scores, predict_s = module.best_predictions
    albert_scores = {**best_scores, "dev_predict_seconds": predict_s}
    _, tfidf_scores = tfidf_baseline(train, dev, classes, cfg.seed)
    meta = {
        "kind": "classifier", "config": config_to_dict(cfg), "classes": classes, "documents": kind, "trained_on": str(data),
        "albert": str(albert), "encoder_config": hf_config_dict(encoder),
        "split": split_record(table, train, dev),
        "train": {"seconds": train_s, "epochs_run": int(trainer.current_epoch), "best_epoch": module.best_epoch, "history": module.history},
        "dev": {"albert": albert_scores, "tfidf_lr": tfidf_scores},
    }
    save_classifier(out, model, pieces, meta)
    return ClassifierResult(str(out), classes, len(train), len(dev), albert_scores, tfidf_scores, train_s)


def train_tfidf_classifier(cfg: ClassifierConfig, data: str | Path, out: str | Path, kind: str = "vacancies", force: bool = False) -> ClassifierResult:
    """`--system tfidf`: TF-IDF + LR on the same split and sample the ALBERT classifier uses, scored on dev and saved to `out`."""
    out = check_output(out, [data], force)
    table, train, dev, classes = training_split(cfg, data, kind)
    model, scores = tfidf_baseline(train, dev, classes, cfg.seed)
    model.save(out, {"kind": "tfidf_classifier", "config": config_to_dict(cfg), "classes": classes, "documents": kind, "trained_on": str(data),
                     "split": split_record(table, train, dev), "dev": {"tfidf_lr": scores}})
    return ClassifierResult(str(out), classes, len(train), len(dev), None, scores, scores["train_seconds"])


def save_classifier(out: Path, model: SentenceClassifier, pieces: WordPieces, meta: dict[str, Any]) -> None:
    """Write a classifier folder atomically (`dssm.understanding.artifact`)."""
    write_model_folder(out, model, pieces, CLASSIFIER_FILE, meta)


def predict_file(model_dir: str | Path, input: str | Path, out: str | Path, force: bool = False) -> dict[str, Any]:
    """Label every sentence of `input` (a `text` column) with a section (the predict contract in the module docstring)."""
    from pipelines.understanding.tagsets import read_parquet

    out = check_output(out, [input, model_dir], force)
    model = load_section_model(model_dir)
    df = read_parquet(Path(input))
    if "text" not in df.columns:
        raise DataError(str(input), "text", f"missing: one sentence per row is needed (columns: {list(df.columns)[:8]})")
    bad = [i for i, t in enumerate(df["text"].tolist()) if t is not None and not isinstance(t, str)]
    if bad:
        raise DataError(str(input), "text", "not a string", rows=bad)
    texts = [t or "" for t in df["text"].tolist()]
    t0 = time.perf_counter()
    proba = model.predict_proba(texts)
    frame = df.copy()
    frame["pred_section"] = [model.classes[i] for i in proba.argmax(1)]
    for j, c in enumerate(model.classes):
        frame[f"prob_{c}"] = proba[:, j]
    write_parquet(out, frame)
    return {"out": str(out), "rows": len(frame), "seconds": round(time.perf_counter() - t0, 3)}


def evaluate_classifier(model_dir: str | Path, data: str | Path) -> dict[str, Any]:
    """Dev scores of a saved classifier on `data` with the split it was trained with."""
    model = load_section_model(model_dir)
    cfg = config_from_dict(ClassifierConfig, model.info["config"], str(model_dir))
    table = section_table(data, model.info["documents"], cfg.dev_share, cfg.seed)
    dev = table[table["part"] == "dev"]
    unknown = sorted(set(dev["section"]) - set(model.classes))
    if unknown:
        raise JobmatchError(f"{data}: sections the classifier was not trained on: {unknown}")
    pred = [model.classes[i] for i in model.predict_proba(dev["text"].tolist()).argmax(1)]
    return classification_scores(dev["section"].tolist(), pred, model.classes)

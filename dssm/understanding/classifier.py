"""Sentence classifier: ALBERT -> pooled [CLS] vector -> dropout -> linear -> softmax over sections.

p(c | sentence) = softmax(W · pool(ALBERT([CLS] pieces [SEP])) + b)_c, where pool is ALBERT's
pooler (tanh of a linear map of the [CLS] state). A sentence longer than the encoder window is
read in overlapping windows (`batching.make_windows`) and its logits are the mean over its
windows (`mean_by_row`): nothing is cut. Trained with cross-entropy.

`load_section_model` opens either section classifier `jobmatch classifier train` writes (this one,
or the TF-IDF + LR system of `dssm.understanding.tfidf_classifier`) behind one interface:
`classes` and `predict_proba(texts) -> (N, C)`; `jobmatch parse` and the summarizer read them so.

>>> import torch
>>> mean_by_row(torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]]), torch.tensor([0, 0, 1]), 2).tolist()
[[2.0, 1.0], [5.0, 5.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from dssm.checks import at_least, check_numbers, in_range


class SentenceClassifier(nn.Module):
    """`encoder` (a transformers AlbertModel/BertModel with a pooler) + a linear head over `n_classes`."""

    def __init__(self, encoder: nn.Module, n_classes: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(int(encoder.config.hidden_size), n_classes)

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        """ids, mask (B, P) -> logits (B, C)."""
        pooled = self.encoder(input_ids=ids, attention_mask=mask.long()).pooler_output  # (B, H)
        return self.head(self.drop(pooled))  # (B, C)


def mean_by_row(logits: Tensor, row: Tensor, n_rows: int) -> Tensor:
    """Window logits (N, C) and each window's row (N,) -> (n_rows, C) mean over each row's windows."""
    sums = torch.zeros((n_rows, logits.shape[1]), dtype=logits.dtype).index_add_(0, row, logits)  # (R, C)
    counts = torch.zeros(n_rows, dtype=logits.dtype).index_add_(0, row, torch.ones_like(row, dtype=logits.dtype))  # (R,)
    return sums / counts.clamp(min=1).unsqueeze(1)


@dataclass
class ClassifierConfig:
    """How `jobmatch classifier train` fine-tunes the sentence classifier."""

    lr: float = 0.001
    """AdamW learning rate of the linear head."""
    encoder_lr: float = 0.0003
    """AdamW learning rate of the ALBERT encoder."""
    batch_size: int = 32
    """Sentence windows per step."""
    max_epochs: int = 3
    """Epochs at most; the best dev macro-F1 epoch is kept."""
    patience: int = 1
    """Stop after this many epochs without a better dev macro-F1."""
    dropout: float = 0.1
    """Dropout on the pooled vector."""
    max_train_sentences: int | None = 20000
    """Train on at most this many sentences (a seeded sample of the train part; None: all)."""
    dev_share: float = 0.2
    """Share of documents (vacancies or resumes) held out as dev; the split is by document."""
    overlap: int = 16
    """Pieces shared by consecutive windows of a sentence longer than the encoder window."""
    seed: int = 0
    """Seed of the split, the sample, the weights and the batch order."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 1, "batch_size", "max_epochs", "patience")
        at_least(self, 0, "overlap", "seed")
        in_range(self, "lr", 0.0, None, low_open=True)
        in_range(self, "encoder_lr", 0.0, None, low_open=True)
        in_range(self, "dropout", 0.0, 1.0, high_open=True)
        in_range(self, "dev_share", 0.0, 1.0, low_open=True, high_open=True)
        if self.max_train_sentences is not None and int(self.max_train_sentences) < 1:
            raise ValueError(f"max_train_sentences must be >= 1 or None, got {self.max_train_sentences}")


CLASSIFIER_FILE = "classifier.yaml"
PREDICT_BATCH = 128


def sentence_windows(encoder, pieces, texts: list[str], overlap: int) -> list:
    """Sentences (words split on whitespace) -> [CLS] pieces [SEP] windows of the encoder's length."""
    from dssm.understanding.batching import make_windows

    window = int(encoder.config.max_position_embeddings) - 2
    return make_windows(pieces.rows([str(t).split() for t in texts]), window, overlap, pieces.cls_id, pieces.sep_id)


def predict_proba(model: SentenceClassifier, pieces, texts: list[str], overlap: int) -> np.ndarray:
    """Sentences -> (N, C) numpy class probabilities (window logits averaged per sentence, then softmax)."""
    from dssm.batching import length_sorted_batches
    from dssm.understanding.batching import collate

    items = sentence_windows(model.encoder, pieces, texts, overlap)
    logits = torch.zeros((len(items), model.head.out_features))
    model.eval()
    with torch.inference_mode():
        for ks in length_sorted_batches(np.array([len(w.ids) for w in items]), PREDICT_BATCH):
            batch = collate([items[k] for k in ks], pieces.pad_id)
            logits[torch.as_tensor(ks)] = model(batch["ids"], batch["mask"])
    rows = torch.tensor([w.row for w in items], dtype=torch.long)
    return torch.softmax(mean_by_row(logits, rows, len(texts)), dim=1).numpy()


def load_classifier(path: str | Path) -> tuple:
    """An ALBERT classifier folder -> (model in eval mode, pieces, info); refuses other artifacts and mismatched vocabularies."""
    from dssm.io import config_from_dict
    from dssm.model_io import check_state_shapes
    from dssm.understanding.artifact import WEIGHTS, encoder_from_config, read_model_folder

    info, pieces, state = read_model_folder(path, CLASSIFIER_FILE, "classifier", "train one with `jobmatch classifier train`")
    cfg = config_from_dict(ClassifierConfig, info["config"], str(Path(path) / CLASSIFIER_FILE))
    model = SentenceClassifier(encoder_from_config(info["encoder_config"]), len(info["classes"]), cfg.dropout)
    check_state_shapes(model.state_dict(), state, str(Path(path) / WEIGHTS))
    model.load_state_dict(state)
    return model.eval(), pieces, info


class AlbertSections:
    """A loaded ALBERT classifier folder behind the interface both section classifiers share: `classes`, `predict_proba(texts)`."""

    def __init__(self, path: str | Path):
        self.model, self.pieces, self.info = load_classifier(path)
        self.classes = [str(c) for c in self.info["classes"]]

    def predict_proba(self, texts) -> np.ndarray:
        """(N, C) class probabilities of `texts`, classes in `self.classes` order."""
        if not len(texts):
            return np.zeros((0, len(self.classes)))
        return predict_proba(self.model, self.pieces, [str(t) for t in texts], int(self.info["config"]["overlap"]))


def load_section_model(path: str | Path):
    """Either section classifier `jobmatch classifier train` writes (ALBERT, or `--system tfidf`) -> `classes`, `predict_proba(texts)`."""
    from dssm.understanding.tfidf_classifier import TfidfClassifier, is_tfidf_folder

    return TfidfClassifier.load(path) if is_tfidf_folder(path) else AlbertSections(path)

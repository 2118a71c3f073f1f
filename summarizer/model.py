"""The LR summarizer: one sklearn LogisticRegression per document kind over `SentenceFeaturizer` features.

p(summary | sentence i) = sigmoid(b + x_i . w), trained on labels.parquet
(teacher attention labels). Saved as JSON config + npz coefficients + the
vocabulary (subword strings) when a tokenizer was given, so loading needs no
pickles; scoring reimplements the linear model in numpy (`SentenceFeaturizer.logits`),
identical to sklearn's predict_proba.

>>> s = Summarizer.fit({"vacancies": docs}, labels, SummarizerConfig())  # doctest: +SKIP
>>> s.score(docs[0], "vacancies")  # doctest: +SKIP
array([0.91, 0.12, 0.77])
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dssm.errors import JobmatchError
from dssm.io import atomic_path, config_from_dict, config_to_dict, versions
from summarizer.config import KINDS, SummarizerConfig
from summarizer.features import SentenceFeaturizer

CONFIG_FILE = "summarizer.json"
WEIGHTS_FILE = "weights.npz"
TOKENIZER_DIR = "tokenizer"


def colon_token_ids(tokenizer) -> list[int]:
    """Ids whose subword ends with ':' (section-header cue)."""
    subwords = tokenizer.subwords(range(tokenizer.vocab_size))
    return [i for i, s in enumerate(subwords) if s.endswith(":")]


def training_rows(docs: Sequence[Sequence[Sequence[int]]], doc_ids: Sequence[str], labels: pd.DataFrame, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Align labels with the stacked sentences of `docs`: -> (row index into the stack (R,), y (R,)).

    Only labelled sentences the teacher read (n_tokens > 0) are training rows.
    JobmatchError if a labelled sentence index is outside its document.
    """
    lab = labels[(labels["kind"] == kind) & (labels["n_tokens"] > 0)]
    sizes = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    offset = pd.Series(np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(docs) else [], index=pd.Index(list(map(str, doc_ids)), dtype="str"), dtype="int64")
    n_sent = pd.Series(sizes, index=offset.index)
    lab = lab[lab["doc_id"].astype("str").isin(offset.index)]
    ids = lab["doc_id"].astype("str")
    sent = lab["sent_idx"].to_numpy(np.int64)
    bad = sent >= n_sent.reindex(ids).to_numpy()
    if bad.any():
        raise JobmatchError(f"labels ({kind}): sentence index beyond its document for doc {ids.iloc[int(np.argmax(bad))]!r}; labels and data do not match (re-run `jobmatch label`)")
    return offset.reindex(ids).to_numpy() + sent, lab["is_summary"].to_numpy(bool)


class Summarizer:
    """One LR per kind; `score(doc, kind)` -> per-sentence probability of being summary-worthy."""

    def __init__(self, cfg: SummarizerConfig, vocab_size: int, weights: dict[str, tuple[np.ndarray, float]], colon_ids: Sequence[int] | None = None,
                 vocab: list[str] | None = None, meta: dict | None = None, tokenizer_dir: Path | None = None):
        self.cfg, self.vocab_size, self.weights = cfg, int(vocab_size), weights
        self.featurizer = SentenceFeaturizer(self.vocab_size, cfg.features, colon_ids)
        self.vocab = vocab
        """Subword string of every id (from the tokenizer at fit time), or None."""
        self.meta = meta or {}
        """Training facts: rows, positives, label source, versions."""
        self.tokenizer_dir = tokenizer_dir
        for kind, (coef, _) in weights.items():
            if coef.shape != (self.featurizer.n_features,):
                raise JobmatchError(f"summarizer {kind}: {coef.shape[0]} coefficients, features need {self.featurizer.n_features}")

    @property
    def kinds(self) -> list[str]:
        return sorted(self.weights)

    @classmethod
    def fit(cls, docs: dict[str, list[list[list[int]]]], labels: pd.DataFrame, cfg: SummarizerConfig | None = None,
            doc_ids: dict[str, Sequence[str]] | None = None, vocab_size: int | None = None, tokenizer=None) -> Summarizer:
        """Fit one LR per kind in `docs`.

        docs: kind -> tokenised documents (sentences of ids). doc_ids: kind -> their ids;
        when omitted, docs[kind] must be in the order in which doc ids first appear in
        labels for that kind. vocab_size defaults to the tokenizer's (or max id + 1);
        a tokenizer also gives the colon ids (header cue) and the vocabulary for `explain`.
        """
        from sklearn.linear_model import LogisticRegression

        cfg = cfg or SummarizerConfig()
        if tokenizer is not None:
            vocab_size = int(tokenizer.vocab_size)
        if vocab_size is None:
            vocab_size = 1 + max((t for d in docs.values() for doc in d for s in doc for t in s), default=0)
        colon = colon_token_ids(tokenizer) if tokenizer is not None else None
        feat = SentenceFeaturizer(vocab_size, cfg.features, colon)
        weights, meta = {}, {"kinds": {}}
        for kind, kdocs in docs.items():
            if kind not in KINDS:
                raise JobmatchError(f"unknown document kind {kind!r}; expected one of {KINDS}")
            ids = list(doc_ids[kind]) if doc_ids and kind in doc_ids else list(dict.fromkeys(labels.loc[labels["kind"] == kind, "doc_id"].astype("str")))
            if len(ids) != len(kdocs):
                raise JobmatchError(f"{kind}: {len(kdocs)} documents but {len(ids)} doc ids")
            rows, y = training_rows(kdocs, ids, labels, kind)
            if rows.size == 0 or y.all() or not y.any():
                raise JobmatchError(f"{kind}: need both summary and non-summary sentences to train (rows {rows.size}, positives {int(y.sum())})")
            x = feat.matrix(kdocs)[rows]
            df = np.asarray((x[:, : vocab_size * (2 if cfg.features.section_cue else 1)] > 0).sum(axis=0)).ravel()
            keep = np.concatenate([np.flatnonzero(df >= cfg.min_df), np.arange(x.shape[1] - len(feat.dense_names), x.shape[1])])
            lr = LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, max_iter=cfg.max_iter, solver="liblinear", random_state=cfg.seed)
            lr.fit(x[:, keep], y)
            coef = np.zeros(feat.n_features, dtype=np.float64)
            coef[keep] = lr.coef_.ravel()
            weights[kind] = (coef, float(lr.intercept_[0]))
            meta["kinds"][kind] = {"documents": len(kdocs), "rows": int(rows.size), "positives": int(y.sum()), "features_used": int(keep.size)}
        vocab = tokenizer.subwords(range(vocab_size)) if tokenizer is not None else None
        tok_dir = Path(tokenizer.path) if tokenizer is not None else None
        return cls(cfg, vocab_size, weights, colon, vocab, meta, tok_dir)

    def logits(self, doc: Sequence[Sequence[int]], kind: str) -> np.ndarray:
        if kind not in self.weights:
            raise JobmatchError(f"summarizer has no model for {kind!r} (has {self.kinds})")
        coef, b = self.weights[kind]
        return self.featurizer.logits(doc, coef, b)

    def score(self, doc: Sequence[Sequence[int]], kind: str) -> np.ndarray:
        """Per-sentence probability (S,) that sentence i is summary-worthy; [] for an empty document."""
        return 1.0 / (1.0 + np.exp(-self.logits(doc, kind)))

    def score_batch(self, docs: Sequence[Sequence[Sequence[int]]], kind: str) -> list[np.ndarray]:
        """`score` for many documents in one vectorised pass (identical values, several times faster per document)."""
        if kind not in self.weights:
            raise JobmatchError(f"summarizer has no model for {kind!r} (has {self.kinds})")
        coef, b = self.weights[kind]
        return [1.0 / (1.0 + np.exp(-z)) for z in self.featurizer.logits_batch(docs, coef, b)]

    def save(self, out_dir: str | Path, tokenizer_dir: str | Path | None = None) -> None:
        """Write summarizer.json (config, vocab_size, colon ids, vocabulary, meta, versions) + weights.npz atomically.

        The tokenizer dir (given, or the one used at fit) is copied into out_dir/tokenizer,
        so `summarize` needs only this folder.
        """
        tok = Path(tokenizer_dir) if tokenizer_dir is not None else self.tokenizer_dir
        with atomic_path(out_dir) as tmp:
            tmp.mkdir()
            arrays = {}
            for kind, (coef, b) in self.weights.items():
                arrays[f"{kind}_coef"], arrays[f"{kind}_intercept"] = coef, np.array([b])
            np.savez(tmp / WEIGHTS_FILE, **arrays)
            colon = None if self.featurizer.colon_ids is None else self.featurizer.colon_ids.tolist()
            doc = {"config": config_to_dict(self.cfg), "vocab_size": self.vocab_size, "kinds": self.kinds, "colon_ids": colon,
                   "vocab": self.vocab, "meta": self.meta, "versions": versions()}
            (tmp / CONFIG_FILE).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
            if tok is not None and tok.is_dir():
                shutil.copytree(tok, tmp / TOKENIZER_DIR)

    @classmethod
    def load(cls, out_dir: str | Path) -> Summarizer:
        """Load a folder written by `save` (no pickles); JobmatchError when files are missing or inconsistent."""
        out_dir = Path(out_dir)
        cfg_path, w_path = out_dir / CONFIG_FILE, out_dir / WEIGHTS_FILE
        for p in (cfg_path, w_path):
            if not p.is_file():
                raise JobmatchError(f"{out_dir}: not a summarizer dir ({p.name} missing; train one with `jobmatch summarizer train`)")
        try:
            doc = json.loads(cfg_path.read_text(encoding="utf-8"))
            with np.load(w_path, allow_pickle=False) as z:
                weights = {k: (z[f"{k}_coef"].astype(np.float64), float(z[f"{k}_intercept"][0])) for k in doc["kinds"]}
        except (ValueError, KeyError, OSError) as e:
            raise JobmatchError(f"{out_dir}: corrupt summarizer ({type(e).__name__}: {e})") from e
        cfg = config_from_dict(SummarizerConfig, doc["config"], str(cfg_path))
        tok = out_dir / TOKENIZER_DIR
        return cls(cfg, doc["vocab_size"], weights, doc.get("colon_ids"), doc.get("vocab"), doc.get("meta"), tok if tok.is_dir() else None)

    def load_tokenizer(self):
        """The tokenizer copied beside the weights; JobmatchError if there is none."""
        from dssm.tokenizer import Tokenizer

        if self.tokenizer_dir is None:
            raise JobmatchError("this summarizer was saved without its tokenizer; pass --tokenizer")
        tok = Tokenizer.load(self.tokenizer_dir)
        if tok.vocab_size != self.vocab_size:
            raise JobmatchError(f"{self.tokenizer_dir}: tokenizer vocab_size {tok.vocab_size} != summarizer vocab_size {self.vocab_size}")
        return tok


def label_auc(summarizer: Summarizer, docs: list[list[list[int]]], doc_ids: Sequence[str], labels: pd.DataFrame, kind: str) -> float:
    """ROC AUC of `summarizer.score` against `is_summary` over the labelled, read sentences of `docs`."""
    from sklearn.metrics import roc_auc_score

    rows, y = training_rows(docs, list(doc_ids), labels, kind)
    if y.all() or not y.any():
        raise JobmatchError(f"{kind}: AUC needs both classes among the held-out labels")
    scores = np.concatenate([summarizer.score(d, kind) for d in docs]) if docs else np.zeros(0)
    return float(roc_auc_score(y, scores[rows]))

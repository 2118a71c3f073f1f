"""The LR summarizer: one sklearn LogisticRegression per document kind over `SentenceFeaturizer` features.

p(summary | sentence i) = sigmoid(b + x_i . w), trained on labels.parquet
(teacher attention labels). Saved as JSON config + npz coefficients + the
vocabulary (subword strings) when a tokenizer was given, so loading needs no
pickles; scoring reimplements the linear model in numpy (`SentenceFeaturizer.logits`),
identical to sklearn's predict_proba.

With a section classifier (`fit(..., section_dir=...)`: either folder `jobmatch classifier train`
writes) each sentence also gets the classifier's section probabilities as dense features; the
classifier folder is copied into the summarizer's (`sections/`), and every scoring call takes the
documents' sentence texts beside their ids (`sentences=`) to compute them.

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
SECTIONS_DIR = "sections"


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


def section_probabilities(section_model, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """Per document (its sentence texts) the section model's probabilities (S, K), one batched call for all documents."""
    sizes = [len(s) for s in sentences]
    proba = section_model.predict_proba([t for s in sentences for t in s])  # (sum S, K)
    return np.split(proba, np.cumsum(sizes)[:-1]) if sizes else []


class Summarizer:
    """One LR per kind; `score(doc, kind)` -> per-sentence probability of being summary-worthy."""

    def __init__(self, cfg: SummarizerConfig, vocab_size: int, weights: dict[str, tuple[np.ndarray, float]], colon_ids: Sequence[int] | None = None,
                 vocab: list[str] | None = None, meta: dict | None = None, tokenizer_dir: Path | None = None,
                 section_classes: Sequence[str] = (), section_dir: Path | None = None, section_model=None):
        self.cfg, self.vocab_size, self.weights = cfg, int(vocab_size), weights
        self.featurizer = SentenceFeaturizer(self.vocab_size, cfg.features, colon_ids, section_classes)
        self.section_dir, self._section_model = section_dir, section_model
        """The section classifier folder (copied beside the weights by `save`) and the model, loaded on first use."""
        if section_classes and section_dir is None and section_model is None:
            raise JobmatchError(f"summarizer reads section probabilities ({', '.join(section_classes)}) but its section classifier ({SECTIONS_DIR}/) is missing")
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

    @property
    def uses_sections(self) -> bool:
        return bool(self.featurizer.section_classes)

    def section_features(self, sentences: Sequence[Sequence[str]] | None) -> list[np.ndarray] | None:
        """Per document (sentence texts) its section probabilities (S, K), classes in the recorded order; None without a classifier."""
        if not self.uses_sections:
            return None
        if sentences is None:
            raise JobmatchError(f"this summarizer reads section probabilities ({', '.join(self.featurizer.section_classes)}); "
                                "its caller must pass the documents' sentence texts")
        if self._section_model is None:
            from dssm.understanding.classifier import load_section_model

            self._section_model = load_section_model(self.section_dir)
            if tuple(self._section_model.classes) != self.featurizer.section_classes:
                raise JobmatchError(f"{self.section_dir}: classes {self._section_model.classes}, the summarizer was trained with "
                                    f"{list(self.featurizer.section_classes)}")
        return section_probabilities(self._section_model, sentences)

    @classmethod
    def fit(cls, docs: dict[str, list[list[list[int]]]], labels: pd.DataFrame, cfg: SummarizerConfig | None = None,
            doc_ids: dict[str, Sequence[str]] | None = None, vocab_size: int | None = None, tokenizer=None,
            section_dir: str | Path | None = None, sentences: dict[str, list[list[str]]] | None = None) -> Summarizer:
        """Fit one LR per kind in `docs`.

        docs: kind -> tokenised documents (sentences of ids). doc_ids: kind -> their ids;
        when omitted, docs[kind] must be in the order in which doc ids first appear in
        labels for that kind. vocab_size defaults to the tokenizer's (or max id + 1);
        a tokenizer also gives the colon ids (header cue) and the vocabulary for `explain`.
        section_dir: a section classifier folder whose probabilities become features; then
        `sentences` (kind -> the documents' sentence texts, aligned with `docs`) is needed.
        """
        from sklearn.linear_model import LogisticRegression

        cfg = cfg or SummarizerConfig()
        section_model = None
        if section_dir is not None:
            from dssm.understanding.classifier import load_section_model  # torch and the classifier only when asked for

            section_model = load_section_model(section_dir)
        section_classes = tuple(section_model.classes) if section_model is not None else ()
        if tokenizer is not None:
            vocab_size = int(tokenizer.vocab_size)
        if vocab_size is None:
            vocab_size = 1 + max((t for d in docs.values() for doc in d for s in doc for t in s), default=0)
        colon = colon_token_ids(tokenizer) if tokenizer is not None else None
        feat = SentenceFeaturizer(vocab_size, cfg.features, colon, section_classes)
        if section_model is not None and (sentences is None or set(docs) - set(sentences)):
            raise JobmatchError("section features need the documents' sentence texts (sentences=) for every kind")
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
            x = feat.matrix(kdocs, section_probabilities(section_model, sentences[kind]) if section_model is not None else None)[rows]
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
        if section_dir is not None:
            meta["sections_from"] = str(Path(section_dir).resolve())
        return cls(cfg, vocab_size, weights, colon, vocab, meta, tok_dir, section_classes, None if section_dir is None else Path(section_dir), section_model)

    def logits(self, doc: Sequence[Sequence[int]], kind: str, sentences: Sequence[str] | None = None) -> np.ndarray:
        """LR logits (S,) of one document (`sentences`: its sentence texts, needed when the summarizer reads sections)."""
        if kind not in self.weights:
            raise JobmatchError(f"summarizer has no model for {kind!r} (has {self.kinds})")
        coef, b = self.weights[kind]
        sections = self.section_features(None if sentences is None else [sentences])
        return self.featurizer.logits(doc, coef, b, None if sections is None else sections[0])

    def score(self, doc: Sequence[Sequence[int]], kind: str, sentences: Sequence[str] | None = None) -> np.ndarray:
        """Per-sentence probability (S,) that sentence i is summary-worthy; [] for an empty document."""
        return 1.0 / (1.0 + np.exp(-self.logits(doc, kind, sentences)))

    def score_batch(self, docs: Sequence[Sequence[Sequence[int]]], kind: str, sentences: Sequence[Sequence[str]] | None = None) -> list[np.ndarray]:
        """`score` for many documents in one vectorised pass (identical values, several times faster per document)."""
        if kind not in self.weights:
            raise JobmatchError(f"summarizer has no model for {kind!r} (has {self.kinds})")
        coef, b = self.weights[kind]
        return [1.0 / (1.0 + np.exp(-z)) for z in self.featurizer.logits_batch(docs, coef, b, self.section_features(sentences))]

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
                   "section_classes": list(self.featurizer.section_classes), "vocab": self.vocab, "meta": self.meta, "versions": versions()}
            (tmp / CONFIG_FILE).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
            if tok is not None and tok.is_dir():
                shutil.copytree(tok, tmp / TOKENIZER_DIR)
            if self.uses_sections:
                shutil.copytree(self.section_dir, tmp / SECTIONS_DIR)

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
        tok, sec = out_dir / TOKENIZER_DIR, out_dir / SECTIONS_DIR
        return cls(cfg, doc["vocab_size"], weights, doc.get("colon_ids"), doc.get("vocab"), doc.get("meta"), tok if tok.is_dir() else None,
                   doc.get("section_classes") or (), sec if sec.is_dir() else None)

    def load_tokenizer(self):
        """The tokenizer copied beside the weights; JobmatchError if there is none."""
        from dssm.tokenizer import Tokenizer

        if self.tokenizer_dir is None:
            raise JobmatchError("this summarizer was saved without its tokenizer; pass --tokenizer")
        tok = Tokenizer.load(self.tokenizer_dir)
        if tok.vocab_size != self.vocab_size:
            raise JobmatchError(f"{self.tokenizer_dir}: tokenizer vocab_size {tok.vocab_size} != summarizer vocab_size {self.vocab_size}")
        return tok


def label_auc(summarizer: Summarizer, docs: list[list[list[int]]], doc_ids: Sequence[str], labels: pd.DataFrame, kind: str,
              sentences: Sequence[Sequence[str]] | None = None) -> float:
    """ROC AUC of `summarizer.score` against `is_summary` over the labelled, read sentences of `docs` (`sentences`: their texts)."""
    from sklearn.metrics import roc_auc_score

    rows, y = training_rows(docs, list(doc_ids), labels, kind)
    if y.all() or not y.any():
        raise JobmatchError(f"{kind}: AUC needs both classes among the held-out labels")
    scores = np.concatenate(summarizer.score_batch(docs, kind, sentences)) if docs else np.zeros(0)
    return float(roc_auc_score(y, scores[rows]))

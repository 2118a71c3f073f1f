"""A TF-IDF + logistic-regression sentence classifier, stored without pickles.

Features: TF-IDF of word 1-2-grams (min_df 2) and of character 2-4-grams inside word
boundaries (min_df 3), both with sublinear tf, side by side; then a multinomial logistic
regression (L2, C = 4). p(c | sentence) = softmax(W x + b)_c. sklearn fits it; the folder holds
the two vocabularies and idf vectors (JSON + npz), from which sklearn's vectorizers are rebuilt
exactly, and W, b, which are applied in numpy:

    tfidf_classifier.json   classes, vocabularies, meta (scores, versions)
    tfidf_classifier.npz    idf of each vectorizer, coef (C, F), intercept (C,)

>>> m = TfidfClassifier.fit(["Писать код.", "ДМС и офис.", "Ревьюить код.", "Офис у метро."], ["duties", "offer", "duties", "offer"], min_df=1)
>>> m.classes, m.predict_proba(["Писать и ревьюить код."]).argmax(1).tolist()
(['duties', 'offer'], [0])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dssm.errors import JobmatchError
from dssm.io import atomic_path, versions

TFIDF_FILE = "tfidf_classifier.json"
TFIDF_ARRAYS = "tfidf_classifier.npz"
VIEWS = (("word", {"ngram_range": (1, 2)}, 2), ("char", {"analyzer": "char_wb", "ngram_range": (2, 4)}, 3))
"""(name, TfidfVectorizer arguments, default min_df) of the two feature views."""


def _vectorizer(name: str, **kw):
    from sklearn.feature_extraction.text import TfidfVectorizer

    args = next(a for n, a, _ in VIEWS if n == name)
    return TfidfVectorizer(sublinear_tf=True, **args, **kw)


class TfidfClassifier:
    """Sentence texts -> class probabilities (the module docstring)."""

    def __init__(self, classes: Sequence[str], vectorizers: dict[str, Any], coef: np.ndarray, intercept: np.ndarray, meta: dict | None = None):
        self.classes = [str(c) for c in classes]
        self.vectorizers = vectorizers
        self.coef, self.intercept = np.asarray(coef, dtype=np.float64), np.asarray(intercept, dtype=np.float64)  # (C', F), (C',)
        self.info = meta or {}
        width = sum(len(v.vocabulary_) for v in vectorizers.values())
        if self.coef.shape[1] != width or self.coef.shape[0] != (1 if len(self.classes) == 2 else len(self.classes)):
            raise JobmatchError(f"TF-IDF classifier: coefficients {self.coef.shape} do not fit {len(self.classes)} classes and {width} features")

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], seed: int = 0, C: float = 4.0, min_df: int | None = None) -> TfidfClassifier:
        """Fit both vectorizers and the LR on `texts` with `labels` (min_df overrides both views' defaults)."""
        import scipy.sparse as sp
        from sklearn.linear_model import LogisticRegression

        texts = [str(t) for t in texts]
        vecs = {name: _vectorizer(name, min_df=min_df if min_df is not None else df).fit(texts) for name, _, df in VIEWS}
        x = sp.hstack([v.transform(texts) for v in vecs.values()], format="csr")
        lr = LogisticRegression(max_iter=2000, C=C, random_state=seed).fit(x, list(labels))
        return cls(list(lr.classes_), vecs, lr.coef_, lr.intercept_)

    def features(self, texts: Sequence[str]):
        import scipy.sparse as sp

        return sp.hstack([v.transform([str(t) for t in texts]) for v in self.vectorizers.values()], format="csr")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(N, C) class probabilities, classes in `self.classes` order."""
        if not len(texts):
            return np.zeros((0, len(self.classes)))
        z = np.asarray(self.features(texts) @ self.coef.T) + self.intercept  # (N, C')
        if z.shape[1] == 1:
            z = np.hstack([np.zeros_like(z), z])
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, out: str | Path, meta: dict | None = None) -> None:
        """Write the folder atomically (the module docstring)."""
        meta = {**self.info, **(meta or {})}
        with atomic_path(out) as tmp:
            tmp.mkdir()
            vocab = {n: [t for t, _ in sorted(v.vocabulary_.items(), key=lambda kv: kv[1])] for n, v in self.vectorizers.items()}
            doc = {"kind": "tfidf_classifier", "classes": self.classes, "views": list(self.vectorizers), "vocabulary": vocab,
                   "meta": meta, "versions": versions()}
            (tmp / TFIDF_FILE).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
            np.savez(tmp / TFIDF_ARRAYS, coef=self.coef, intercept=self.intercept, **{f"idf_{n}": v.idf_ for n, v in self.vectorizers.items()})

    @classmethod
    def load(cls, path: str | Path) -> TfidfClassifier:
        """A folder written by `save`; JobmatchError when it is not one or its parts disagree."""
        path = Path(path)
        try:
            doc = json.loads((path / TFIDF_FILE).read_text(encoding="utf-8"))
            with np.load(path / TFIDF_ARRAYS, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            vecs = {}
            for name in doc["views"]:
                v = _vectorizer(name, vocabulary={t: i for i, t in enumerate(doc["vocabulary"][name])})
                v.idf_ = arrays[f"idf_{name}"]
                vecs[name] = v
            return cls(doc["classes"], vecs, arrays["coef"], arrays["intercept"], doc.get("meta"))
        except (OSError, ValueError, KeyError, StopIteration) as e:
            raise JobmatchError(f"{path}: not a readable TF-IDF classifier ({type(e).__name__}: {e})") from e


def is_tfidf_folder(path: str | Path) -> bool:
    return (Path(path) / TFIDF_FILE).is_file()

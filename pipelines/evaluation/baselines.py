"""Non-neural baselines for the offline evaluation: popularity and TF-IDF / BM25 text matching.

- `PopularityRanker`: every user gets the same list, vacancies ordered by their number of
  positive training events (response, invite), ties by views, then by catalogue order.
- `TfidfRanker`: a resume's text (title + text + skills) against a vacancy's (title +
  HTML-stripped description + skills).
  method 'tfidf': cosine of sublinear TF-IDF vectors, word (1–2)-grams and char_wb (3–5)-grams
  each L2-normalised and concatenated with weight 1/√2, so score = (cos_word + cos_char) / 2.
  method 'bm25': Okapi BM25 with the resume's distinct words as the query,
  score(q, d) = Σ_{t ∈ q} idf(t) · tf(t,d)(k1+1) / (tf(t,d) + k1(1 − b + b·|d|/avgdl)),
  idf(t) = ln(1 + (N − df(t) + 0.5)/(df(t) + 0.5)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from dssm import schema
from dssm.errors import DataError, JobmatchError

try:
    from dssm.text import html_to_text
except ImportError:  # dssm.text not present in this checkout: strip tags with BeautifulSoup
    from bs4 import BeautifulSoup

    def html_to_text(html_or_text: str | None) -> str:
        """HTML or plain text -> plain text with line breaks between blocks."""
        if not html_or_text:
            return ""
        return BeautifulSoup(str(html_or_text), "lxml").get_text("\n").strip()


_TOKEN = r"(?u)\b\w[\w+#.-]*\w\b|\b\w\b"
"""Word tokens keep inner + # . - so 'c++', 'c#', 'node.js' and 'ci-cd' survive."""
_SCORE_CHUNK_CELLS = 8_000_000
"""rank() scores at most this many (resume, vacancy) pairs at a time."""


def _skills(value: object) -> str:
    if value is None or isinstance(value, float):
        return ""
    if isinstance(value, str):
        return value
    return " ".join(str(s) for s in value)


def vacancy_texts(vacancies: pd.DataFrame) -> list[str]:
    """title + HTML-stripped description (+ skills) per vacancy."""
    if "description" not in vacancies.columns and "title" not in vacancies.columns:
        raise DataError("vacancies", "description", "missing column: a vacancy needs a title or a description")
    titles = vacancies["title"] if "title" in vacancies.columns else pd.Series([""] * len(vacancies))
    desc = vacancies["description"] if "description" in vacancies.columns else pd.Series([""] * len(vacancies))
    skills = vacancies["skills"] if "skills" in vacancies.columns else pd.Series([None] * len(vacancies))
    return [
        "\n".join(p for p in (str(t) if isinstance(t, str) else "", html_to_text(d if isinstance(d, str) else None), _skills(s)) if p)
        for t, d, s in zip(titles, desc, skills)
    ]


def resume_texts(resumes: pd.DataFrame) -> list[str]:
    """title + text (+ skills) per resume."""
    cols = [c for c in ("title", "text") if c in resumes.columns]
    if not cols:
        raise DataError("resumes", "text", "missing column: a resume needs a title or a text")
    skills = resumes["skills"] if "skills" in resumes.columns else pd.Series([None] * len(resumes))
    parts = [resumes[c].tolist() for c in cols]
    return ["\n".join(str(p) for p in row if isinstance(p, str) and p) + ("\n" + _skills(s) if _skills(s) else "") for *row, s in zip(*parts, skills)]


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(b, k) column indices of the k largest scores per row, best first, ties by index."""
    k = min(k, scores.shape[1])
    if k < scores.shape[1]:
        cand = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (b, k)
    else:
        cand = np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    cand_s = np.take_along_axis(scores, cand, axis=1)
    order = np.lexsort((cand, -cand_s), axis=1)
    return np.take_along_axis(cand, order, axis=1)


class PopularityRanker:
    """Same top-k for everyone: vacancies by positive training events, then views, then catalogue order.

    >>> r = PopularityRanker().fit(pd.DataFrame({"resume_id": ["a", "b"], "vacancy_id": ["v2", "v2"], "event": ["response", "view"]}), ["v1", "v2"])
    >>> r.rank(2, 1).tolist()
    [[1], [1]]
    """

    def __init__(self) -> None:
        self.vacancy_ids: np.ndarray | None = None
        self.positives: np.ndarray | None = None
        self.views: np.ndarray | None = None
        self.order: np.ndarray | None = None

    def fit(self, interactions: pd.DataFrame, vacancy_ids: Sequence[str]) -> PopularityRanker:
        for col in (schema.VACANCY_ID, schema.EVENT):
            if col not in interactions.columns:
                raise DataError("interactions", col, "missing column")
        self.vacancy_ids = np.asarray([str(v) for v in vacancy_ids])
        if len(self.vacancy_ids) == 0:
            raise JobmatchError("popularity baseline: the vacancy catalogue is empty")
        rows = pd.Index(self.vacancy_ids).get_indexer(interactions[schema.VACANCY_ID].astype(str))
        ev = interactions[schema.EVENT].astype(str).to_numpy()
        known = rows >= 0
        pos = known & np.isin(ev, schema.POSITIVE_EVENTS)
        self.positives = np.bincount(rows[pos], minlength=len(self.vacancy_ids)).astype(np.int64)
        self.views = np.bincount(rows[known & (ev == "view")], minlength=len(self.vacancy_ids)).astype(np.int64)
        self.order = np.lexsort((np.arange(len(self.vacancy_ids)), -self.views, -self.positives))
        return self

    def scores(self) -> np.ndarray:
        """(V,) popularity score per catalogue row: positives + views / (1 + max views) (positives dominate)."""
        self._check()
        return self.positives + self.views / (1.0 + self.views.max())

    def rank(self, n_users: int, k: int) -> np.ndarray:
        """(n_users, k) catalogue rows, the same for every user; -1 pads when k exceeds the catalogue."""
        self._check()
        top = np.full(k, -1, dtype=np.int64)
        top[: min(k, len(self.order))] = self.order[:k]
        return np.tile(top, (n_users, 1))

    def _check(self) -> None:
        if self.order is None:
            raise JobmatchError("PopularityRanker is not fitted; call fit(interactions, vacancy_ids) first")


class TfidfRanker:
    """Text-matching baseline: TF-IDF (word + char n-grams, cosine) or BM25 between resumes and vacancies.

    `fit(vacancies)` learns the vocabulary and document statistics from the vacancy texts;
    `rank(resumes, k)` returns (n, k) vacancy rows best first; `scores(resumes, rows)` scores
    the aligned pairs (resumes row i, vacancy row rows[i]).
    """

    def __init__(self, method: str = "tfidf", k1: float = 1.2, b: float = 0.75, max_features: int | None = 200_000):
        if method not in ("tfidf", "bm25"):
            raise JobmatchError(f"TfidfRanker method {method!r} unknown; expected 'tfidf' or 'bm25'")
        if k1 < 0 or not 0 <= b <= 1:
            raise JobmatchError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.method, self.k1, self.b, self.max_features = method, k1, b, max_features
        self.doc_matrix: sparse.csr_matrix | None = None

    def fit(self, vacancies: pd.DataFrame) -> TfidfRanker:
        texts = vacancy_texts(vacancies)
        if not texts:
            raise JobmatchError("text baseline: no vacancies to fit on")
        try:
            if self.method == "tfidf":
                self.word = TfidfVectorizer(token_pattern=_TOKEN, ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=self.max_features)
                self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1, max_features=self.max_features)
                self.doc_matrix = self._tfidf(texts, fit=True)
            else:
                self.counter = CountVectorizer(token_pattern=_TOKEN, max_features=self.max_features)
                tf = self.counter.fit_transform(texts).tocsr().astype(np.float64)  # (V, F)
                n_docs = tf.shape[0]
                df = np.bincount(tf.indices, minlength=tf.shape[1])  # (F,)
                self.idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))  # (F,)
                dl = np.asarray(tf.sum(axis=1)).ravel()  # (V,)
                norm = self.k1 * (1 - self.b + self.b * dl / max(dl.mean(), 1e-12))  # (V,)
                rows = np.repeat(np.arange(n_docs), np.diff(tf.indptr))
                w = tf.data * (self.k1 + 1) / (tf.data + norm[rows]) * self.idf[tf.indices]
                self.doc_matrix = sparse.csr_matrix((w, tf.indices, tf.indptr), shape=tf.shape)
        except ValueError as e:  # sklearn: empty vocabulary
            raise JobmatchError(f"text baseline: cannot build a vocabulary from the vacancy texts ({e})") from e
        return self

    def _tfidf(self, texts: list[str], fit: bool = False) -> sparse.csr_matrix:
        w = self.word.fit_transform(texts) if fit else self.word.transform(texts)
        c = self.char.fit_transform(texts) if fit else self.char.transform(texts)
        return sparse.hstack([w, c], format="csr") / np.sqrt(2.0)

    def query_matrix(self, resumes: pd.DataFrame) -> sparse.csr_matrix:
        """(n, F) query vectors of the resumes: vectorise once, then score many pairs with `pair_scores`."""
        if self.doc_matrix is None:
            raise JobmatchError("TfidfRanker is not fitted; call fit(vacancies) first")
        texts = resume_texts(resumes)
        if self.method == "tfidf":
            return self._tfidf(texts)
        q = self.counter.transform(texts).tocsr()
        q.data[:] = 1.0  # distinct query terms
        return q

    def rank(self, resumes: pd.DataFrame, k: int) -> np.ndarray:
        """(n, k) vacancy rows best first (ties by row); -1 pads when k exceeds the catalogue."""
        q = self.query_matrix(resumes)  # (n, F)
        n, n_vac = q.shape[0], self.doc_matrix.shape[0]
        out = np.full((n, k), -1, dtype=np.int64)
        block = max(1, _SCORE_CHUNK_CELLS // n_vac)
        dt = self.doc_matrix.T.tocsc()  # (F, V)
        for start in range(0, n, block):
            s = (q[start : start + block] @ dt).toarray()  # (b, V)
            top = _top_k(s, k)
            out[start : start + block, : top.shape[1]] = top
        return out

    def scores(self, resumes: pd.DataFrame, vacancy_rows: np.ndarray) -> np.ndarray:
        """(n,) scores of the aligned pairs (resumes row i, vacancy row vacancy_rows[i])."""
        vacancy_rows = np.asarray(vacancy_rows, dtype=np.int64)
        if len(vacancy_rows) != len(resumes):
            raise JobmatchError(f"scores: {len(resumes)} resumes but {len(vacancy_rows)} vacancy rows")
        return self.pair_scores(self.query_matrix(resumes), np.arange(len(resumes)), vacancy_rows)

    def pair_scores(self, queries: sparse.csr_matrix, query_rows: np.ndarray, vacancy_rows: np.ndarray) -> np.ndarray:
        """(P,) scores of the pairs (queries row query_rows[p], vacancy row vacancy_rows[p]).

        In blocks of pairs whose gathered vacancy rows hold about `_SCORE_CHUNK_CELLS` non-zeros: gathering 100k
        impressions of long vacancies at once overflows scipy's 32-bit index arithmetic (and takes gigabytes)."""
        query_rows, vacancy_rows = np.asarray(query_rows, dtype=np.int64), np.asarray(vacancy_rows, dtype=np.int64)
        mean_nnz = max(1.0, self.doc_matrix.nnz / max(1, self.doc_matrix.shape[0]))
        block = max(1, int(_SCORE_CHUNK_CELLS // mean_nnz))
        out = np.zeros(len(query_rows), dtype=np.float64)
        for start in range(0, len(query_rows), block):
            q = queries[query_rows[start : start + block]]  # (b, F)
            d = self.doc_matrix[vacancy_rows[start : start + block]]  # (b, F)
            out[start : start + block] = np.asarray(q.multiply(d).sum(axis=1)).ravel()
        return out
"""Recommend vacancies for resumes: preprocess (summarize) -> encode with the index's model -> filtered top-k.

The resume must be encoded by the very model whose vacancy embeddings are in the index: a
`Recommender` refuses an encoder whose `model_hash` differs from the index manifest's, and a
preprocessing (summarizer) whose id differs from the one the index was built with.

>>> rec = Recommender(EmbeddingIndex.load("runs/demo/index"), Encoder.load("runs/demo/production"))  # doctest: +SKIP
>>> rec.recommend(resumes_df.iloc[:1], k=10)[0]  # doctest: +SKIP
   rank vacancy_id     score                 title
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import pandas as pd

from dssm import schema
from dssm.errors import DataError, JobmatchError
from dssm.io import write_parquet
from pipelines.artifacts import Preprocess, load_encoder, load_preprocess, parse_preprocess_id, preprocess_differences
from pipelines.retrieval.index import Filters, EmbeddingIndex


class EncoderLike(Protocol):
    """What retrieval needs from `dssm.encode.Encoder`."""

    model_hash: str
    dim: int

    def embed(self, df: pd.DataFrame, kind: str) -> np.ndarray: ...


def check_compatible(index: EmbeddingIndex, encoder: EncoderLike, preprocess_id: str | None = None) -> None:
    """Raise JobmatchError unless `encoder` and the query preprocessing are what `index` was built with.

    The model (weights hash and dim), then each part of the preprocessing identity
    (`pipelines.artifacts.preprocess_id`: summarizer, budget, tokenizer) must agree; the
    tokenizer the summaries are counted in must also be the encoder's own.
    """
    m = index.manifest
    if encoder.model_hash != m["model_hash"]:
        raise JobmatchError(
            f"query model {encoder.model_hash[:12]} differs from the model the index {index.version} was built with "
            f"({str(m['model_hash'])[:12]}, {m.get('model_dir', '?')}); rebuild the index or pass that model"
        )
    if int(encoder.dim) != int(m["dim"]):
        raise JobmatchError(f"query model dim {encoder.dim} != index dim {m['dim']}")
    if parts := preprocess_differences(preprocess_id, m.get("preprocess_id"), "query", "index"):
        raise JobmatchError(f"query preprocessing differs from the one index {index.version} was built with: {'; '.join(parts)} (summarizer mismatch)")
    query = parse_preprocess_id(preprocess_id)
    encoder_tok = getattr(encoder, "tokenizer_hash", None)
    if "tokenizer" in query and encoder_tok and not encoder_tok.startswith(query["tokenizer"]):
        raise JobmatchError(f"the summarizer counts tokens in tokenizer {query['tokenizer']}, the encoder reads tokenizer {encoder_tok[:16]}: "
                            "train both on the same tokenizer")


MAX_K = 1000
"""Longest list a query may ask for (CLI and HTTP)."""
MAX_TEXT_CHARS = 100_000
"""Longest resume text (characters) a query may carry, from a file or over HTTP (~25x a long real resume):
a longer one is refused, not cut."""


def checked_embeddings(emb: np.ndarray, df: pd.DataFrame, kind: str, dim: int) -> np.ndarray:
    """An encoder's output for the documents of `df` as (N, D) float32, or a JobmatchError: the wrong shape, or a
    non-finite row (named by its id), which would rank with NaN scores."""
    emb = np.asarray(emb, dtype=np.float32)  # (N, D)
    if emb.shape != (len(df), int(dim)):
        raise JobmatchError(f"encoder returned {emb.shape} for {len(df)} {kind}")
    bad = np.flatnonzero(~np.isfinite(emb).all(axis=1))
    if len(bad):
        raise DataError(kind, None, "the encoder produced a non-finite embedding (check the numeric fields); nothing ranked or indexed",
                        df[schema.TABLES[kind][3]].astype(str).iloc[bad].tolist())
    return emb


def embed_preprocessed(encoder: EncoderLike, df: pd.DataFrame, kind: str, preprocess: Preprocess | None = None) -> np.ndarray:
    """`encoder.embed(preprocess(df, kind), kind)`, unchecked. When the preprocessing hands over its summaries' ids
    (`pipelines.artifacts.SummaryPreprocess.tokens`) in the encoder's own tokenizer, the encoder embeds those ids instead
    of splitting and tokenizing the summary text again: the same ids (a summary is whole sentences, or a cut one's word
    prefix, and BPE is word-local; tests/test_recommend.py checks it), so the same embedding, for less work."""
    if preprocess is None:
        return encoder.embed(df, kind)
    tokens = getattr(preprocess, "tokens", None)
    own = getattr(encoder, "tokenizer_hash", None)
    if tokens is None or not hasattr(encoder, "embed_documents") or own is None or own != getattr(preprocess, "tokenizer_hash", None):
        return encoder.embed(preprocess(df, kind), kind)
    summaries, docs = tokens(df, kind)
    return encoder.embed_documents(docs, summaries, kind)


EMBED_CHUNK = 20_000
"""Documents summarized and encoded at a time: the token lists of a million documents at once would take
gigabytes of Python objects; chunks keep memory flat (the embeddings agree up to float rounding)."""


def embed_documents(encoder: EncoderLike, docs: pd.DataFrame, preprocess: Preprocess | None = None, kind: str = "vacancies") -> np.ndarray:
    """(Summarized) vacancies or resumes (`kind`) -> (N, D) float32 unit rows, `EMBED_CHUNK` documents at a time."""
    out = np.zeros((len(docs), int(encoder.dim)), np.float32)
    for start in range(0, len(docs), EMBED_CHUNK):
        part = docs.iloc[start : start + EMBED_CHUNK]
        out[start : start + len(part)] = checked_embeddings(embed_preprocessed(encoder, part, kind, preprocess), part, kind, encoder.dim)
    return out


def documents_from_records(records: Sequence[dict[str, Any]], kind: str = "resumes", source: str = "resume") -> pd.DataFrame:
    """Resume (or, kind="vacancies", vacancy) dicts with contract fields, the id optional -> a validated frame.

    The contract's rules hold (types, amounts finite and >= 0, non-empty text), plus: distinct
    ids, and texts of at most `MAX_TEXT_CHARS` characters."""
    from pipelines.data.contract import check_frame_types, is_empty_text

    _, table_schema, _, id_col = schema.TABLES[kind]
    text_col = schema.TEXT_COLUMNS[kind][1]
    noun = schema.SINGULAR[kind]
    if not isinstance(records, (list, tuple)) or not all(isinstance(r, dict) for r in records):
        raise DataError(source, None, f"expected a JSON object (or a list of objects) with {noun} fields")
    known = set(table_schema.names)
    rows = []
    for i, r in enumerate(records):
        unknown = sorted(set(r) - known)
        if unknown:
            raise DataError(source, unknown[0], f"unknown {noun} field(s) {unknown}; known: {sorted(known)}", [i])
        rows.append({id_col: f"query-{i}", **r})
    df = pd.DataFrame(rows)
    if "updated_at" in df.columns:
        df["updated_at"] = pd.to_datetime(df["updated_at"], errors="coerce")
    check_frame_types(kind, df, source)
    empty = np.flatnonzero(is_empty_text(df[text_col]))
    if len(empty):
        raise DataError(source, text_col, f"empty {noun} {text_col}", empty)
    long = np.flatnonzero(df[text_col].str.len().to_numpy() > MAX_TEXT_CHARS)
    if len(long):
        raise DataError(source, text_col, f"{noun} {text_col} over {MAX_TEXT_CHARS:,} characters (refused, not cut)", long)
    dup = np.flatnonzero(df[id_col].duplicated(keep=False).to_numpy())
    if len(dup):
        raise DataError(source, id_col, f"duplicate {noun} ids", dup)
    return df


def resumes_from_records(records: Sequence[dict[str, Any]], source: str = "resume") -> pd.DataFrame:
    """`documents_from_records` for resumes."""
    return documents_from_records(records, "resumes", source)


def load_document_file(path: str | Path, kind: str = "resumes") -> pd.DataFrame:
    """A JSON file holding one resume (or vacancy) object or a list of them -> validated frame (strict JSON: UTF-8, no NaN/Infinity)."""
    import json

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not a JSON number")

    path = Path(path)
    try:
        obj = json.loads(path.read_bytes().decode("utf-8"), parse_constant=refuse)
    except FileNotFoundError as e:
        raise JobmatchError(f"{path}: file not found") from e
    except IsADirectoryError as e:
        raise JobmatchError(f"{path}: a folder, not a JSON file") from e
    except UnicodeDecodeError as e:
        raise DataError(str(path), None, f"not UTF-8 text (byte {e.start}: {e.reason})") from e
    except ValueError as e:  # json.JSONDecodeError included
        raise DataError(str(path), None, f"not valid JSON: {e}") from e
    return documents_from_records(obj if isinstance(obj, list) else [obj], kind, str(path))


class Ranked(NamedTuple):
    """One query's ranked list as arrays, best first: what the service answers from (a frame per request costs ~0.15 ms)."""

    ids: np.ndarray
    """Result ids (vacancy_id, or resume_id for a resume index), object strings."""
    scores: np.ndarray
    """Inner products, float32."""
    titles: np.ndarray
    """Result titles (None where there is none), objects."""

    def rows(self) -> list[tuple[str, float, str | None]]:
        """(id, score, title) per result as plain Python values, best first."""
        return list(zip(self.ids.tolist(), self.scores.tolist(), self.titles.tolist()))

    def frame(self, id_col: str) -> pd.DataFrame:
        """rank (1..), `id_col`, score, title."""
        return pd.DataFrame({"rank": np.arange(1, len(self.ids) + 1), id_col: self.ids, "score": self.scores, "title": self.titles})


class Recommender:
    """Ranks the documents of one index version (vacancies, or resumes for a resume index) for queries of the
    other side, with the index's own encoder."""

    def __init__(self, index: EmbeddingIndex, encoder: EncoderLike, preprocess: Preprocess | None = None, preprocess_id: str | None = None):
        check_compatible(index, encoder, preprocess_id)
        self.index, self.encoder, self.preprocess = index, encoder, preprocess
        self.query_kind = index.side.query_kind

    def embed(self, queries: pd.DataFrame) -> np.ndarray:
        """Resumes (vacancies for a resume index) -> (N, D) unit query rows (after preprocessing)."""
        emb = embed_preprocessed(self.encoder, queries, self.query_kind, self.preprocess)
        return checked_embeddings(emb, queries, self.query_kind, self.index.manifest["dim"])

    def recommend(self, queries: pd.DataFrame, k: int = 10, filters: Filters | None = None) -> list[pd.DataFrame]:
        """One frame per query: rank (1..), the result id (vacancy_id or resume_id), score (inner product), title; best first."""
        return [r.frame(self.index.side.id_col) for r in self.recommend_arrays(queries, k, filters)]

    def recommend_arrays(self, queries: pd.DataFrame, k: int = 10, filters: Filters | None = None) -> list[Ranked]:
        """`recommend` as arrays (`Ranked`), one per query."""
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise JobmatchError(f"k must be an integer in [1, {MAX_K}], got {k!r}")
        if len(queries) == 0:
            return []
        return self.rank_arrays(self.embed(queries), k, filters)

    def rank(self, emb: np.ndarray, k: int = 10, filters: Filters | None = None) -> list[pd.DataFrame]:
        """`recommend` for query rows already embedded (`embed`): one frame per row."""
        return [r.frame(self.index.side.id_col) for r in self.rank_arrays(emb, k, filters)]

    def rank_arrays(self, emb: np.ndarray, k: int = 10, filters: Filters | None = None) -> list[Ranked]:
        """`rank` as arrays (`Ranked`), one per row."""
        scores, rows = self.index.search(emb, k, filters)  # (N, k'), (N, k')
        out = []
        for s, r in zip(scores, rows):
            keep = r >= 0
            r = r[keep]
            out.append(Ranked(self.index.ids[r], s[keep].astype(np.float32), self.index.titles[r]))
        return out

    def recommend_batch(self, queries: pd.DataFrame, k: int = 10, filters: Filters | None = None, batch_size: int = 256, progress: bool = True) -> pd.DataFrame:
        """Long frame for many queries: query id, rank, result id, score, title (query order, then rank)."""
        from dssm.io import progress as bar

        qid, rid = schema.TABLES[self.query_kind][3], self.index.side.id_col
        parts = []
        starts = range(0, len(queries), batch_size)
        for start in bar(starts, desc="recommend", unit="batch") if progress and len(starts) > 1 else starts:
            chunk = queries.iloc[start : start + batch_size]
            for q, df in zip(chunk[qid].astype(str), self.recommend(chunk, k, filters)):
                parts.append(df.assign(**{qid: q})[[qid, "rank", rid, "score", "title"]])
        if not parts:
            return pd.DataFrame({qid: [], "rank": [], rid: [], "score": [], "title": []})
        return pd.concat(parts, ignore_index=True)


def lookup_documents(docs: pd.DataFrame, ids: Sequence[str], kind: str = "resumes", source: str | None = None) -> pd.DataFrame:
    """Rows of `docs` (resumes, or vacancies) for `ids`, in that order; DataError naming the unknown ids."""
    file, _, _, id_col = schema.TABLES[kind]
    index = pd.Index(docs[id_col].astype(str))
    pos = index.get_indexer([str(i) for i in ids])
    missing = [i for i, p in zip(ids, pos) if p < 0]
    if missing:
        raise DataError(source or file, id_col, f"unknown {schema.SINGULAR[kind]} id(s): {', '.join(map(str, missing[:5]))}")
    return docs.iloc[pos].reset_index(drop=True)


def lookup_resumes(resumes: pd.DataFrame, ids: Sequence[str], source: str = "resumes.parquet") -> pd.DataFrame:
    """Rows of `resumes` for `ids`, in that order; DataError naming the unknown ids."""
    return lookup_documents(resumes, ids, "resumes", source)


def write_recommendations(path: str | Path, frame: pd.DataFrame) -> None:
    """Atomic Parquet of a `recommend_batch` frame."""
    write_parquet(path, frame)


def filters_from(area: str | None, salary_min: float | None = None, salary_max: float | None = None, experience_min: float | None = None) -> Filters:
    for name, v in (("salary floor", salary_min), ("salary ceiling", salary_max), ("minimum experience", experience_min)):
        if v is not None and (not math.isfinite(v) or v < 0):
            raise JobmatchError(f"{name} must be a non-negative number, got {v}")
    return Filters(area=area, salary_min=salary_min, salary_max=salary_max, experience_min=experience_min)


def preprocess_for_manifest(summarizer_dir: str | Path | None, manifest: dict[str, Any], budget: int | None = None) -> tuple[Preprocess | None, str | None]:
    """The query preprocessing of an index version: `summarizer_dir` when given, else the summarizer the manifest
    records; the budget is `budget` when given, else the one the index was built with (its preprocess id)."""
    wanted = manifest.get("preprocess_id")
    if budget is None and parse_preprocess_id(wanted).get("budget"):
        budget = int(parse_preprocess_id(wanted)["budget"])
    if summarizer_dir is not None:
        return load_preprocess(summarizer_dir, budget)
    if not wanted:
        return None, None
    recorded = manifest.get("summarizer_dir")
    if not recorded or not Path(recorded).is_dir():
        where = f"at {recorded}, which is not there" if recorded else "but records no summarizer_dir"
        raise JobmatchError(f"index {manifest.get('version')} was built with summarized vacancies ({wanted}) {where}; pass --summarizer DIR")
    return load_preprocess(recorded, budget)


def encoder_for_manifest(model_dir: str | Path | None = None) -> Callable[[dict[str, Any]], EncoderLike]:
    """Encoder factory for an index manifest: `model_dir` when given, else the manifest's own model_dir."""

    def load(manifest: dict[str, Any]) -> EncoderLike:
        path = model_dir or manifest.get("model_dir")
        if not path:
            raise JobmatchError(f"index {manifest.get('version')} records no model_dir; pass --model")
        return load_encoder(path)

    return load

"""The arms of an offline evaluation and the scorers behind them: a trained DSSM (optionally reading another corpus,
optionally ranked through a built FAISS index), TF-IDF, BM25, popularity, and on a generated market the known
utility over the skills a corpus names (`pipelines.evaluation.utility_arm`).

`parse_arms("control=RUN/control,treatment=RUN/production@RUN/summaries,tfidf")` reads arms from
the command line; `default_arms(RUN)` finds them in a run directory's layout; every arm's model
must hold out the same resumes (`held_out_from_arms`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from dssm import schema
from dssm.errors import DataError, JobmatchError
from pipelines.artifacts import load_encoder, model_meta, read_split
from pipelines.evaluation import metrics as M
from pipelines.retrieval.index import EmbeddingIndex

BASELINES = ("tfidf", "bm25", "popularity")
"""Arms that need no trained model."""
UTILITY = "utility"
"""The known-utility arm of a generated market: `utility` (its own texts) or `utility@CORPUS`."""
KINDS = ("dssm", *BASELINES, UTILITY)


@dataclass(frozen=True)
class ArmSpec:
    """How one arm scores (resume, vacancy) pairs.

    kind 'dssm': embeddings from the model in `model_dir` (`dssm.encode.Encoder`), texts read
    from `corpus_dir` (a folder with vacancies.parquet / resumes.parquet holding e.g. the
    summarized texts; same ids as the dataset) or the dataset itself, optionally passed
    through `preprocess(df, kind)` (e.g. TextRank-300 summaries); top-k through the FAISS
    index in `index_dir` when given. kinds 'tfidf' / 'bm25' / 'popularity': the baselines
    of `pipelines.evaluation.baselines`, fitted on the dataset's vacancies (popularity: on the
    training interactions).
    """

    kind: str
    model_dir: Path | None = None
    corpus_dir: Path | None = None
    index_dir: Path | None = None
    parsed: Path | None = None
    """Parse folder the skill bags of a skills model are read from (default: the one it was trained with)."""
    preprocess: Callable[[pd.DataFrame, str], pd.DataFrame] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise JobmatchError(f"arm kind {self.kind!r} unknown; expected one of {list(KINDS)}")
        if self.kind == "dssm" and self.model_dir is None:
            raise JobmatchError("a dssm arm needs model_dir")
        if self.kind != "dssm" and (self.model_dir or self.index_dir):
            raise JobmatchError(f"a {self.kind} arm takes no model_dir/index_dir")
        for name in ("model_dir", "corpus_dir", "index_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description stored with the results."""
        out = {k: (str(v) if v is not None else None) for k, v in asdict(self).items() if k != "preprocess"}
        out["preprocess"] = getattr(self.preprocess, "__name__", None) if self.preprocess else None
        return out


class Scorer(Protocol):
    """Scores for a fixed set of query resumes (rows 0..U-1) against the vacancy catalogue."""

    def top_k(self, k: int, exclude: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(U, k) vacancy rows best first and their scores; -1 / -inf pad when fewer than k are allowed."""

    def pair_scores(self, resume_rows: np.ndarray, vacancy_rows: np.ndarray) -> np.ndarray:
        """(P,) scores of the aligned pairs (resume_rows[i], vacancy_rows[i])."""


class EmbeddingScorer:
    """Inner-product scorer over unit embeddings: score(r, v) = <e_r, e_v>.

    `search(queries, k) -> (scores, rows)` (e.g. a FAISS index) answers top-k when given,
    else exact `pipelines.evaluation.metrics.rank_all`.
    """

    def __init__(self, resume_emb: np.ndarray, vacancy_emb: np.ndarray, search: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]] | None = None):
        self.resume_emb = np.ascontiguousarray(resume_emb, dtype=np.float32)  # (U, D)
        self.vacancy_emb = np.ascontiguousarray(vacancy_emb, dtype=np.float32)  # (V, D)
        if self.resume_emb.shape[1] != self.vacancy_emb.shape[1]:
            raise JobmatchError(f"embedding dims differ: resumes {self.resume_emb.shape[1]}, vacancies {self.vacancy_emb.shape[1]}")
        self.search = search

    def top_k(self, k: int, exclude: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self.vacancy_emb))
        if self.search is not None and not (exclude is not None and any(len(e) for e in exclude)):
            _, ranked = self.search(self.resume_emb, k)
            ranked = np.asarray(ranked, dtype=np.int64)  # (U, k)
        else:
            ranked = np.asarray(M.rank_all(self.resume_emb, self.vacancy_emb, k, exclude=exclude), dtype=np.int64)  # (U, k)
        safe = np.where(ranked >= 0, ranked, 0)
        scores = np.einsum("ud,ukd->uk", self.resume_emb, self.vacancy_emb[safe])  # (U, k)
        return ranked, np.where(ranked >= 0, scores, -np.inf).astype(np.float32)

    def pair_scores(self, resume_rows: np.ndarray, vacancy_rows: np.ndarray) -> np.ndarray:
        return np.einsum("pd,pd->p", self.resume_emb[resume_rows], self.vacancy_emb[vacancy_rows])  # (P,)


class RankerScorer:
    """Adapter for `pipelines.evaluation.baselines.TfidfRanker` (tfidf / bm25): scores through the fitted ranker."""

    def __init__(self, ranker: Any, resumes: pd.DataFrame, vacancies: pd.DataFrame):
        self.ranker, self.resumes, self.vacancies = ranker, resumes.reset_index(drop=True), vacancies.reset_index(drop=True)
        self._queries = None

    def top_k(self, k: int, exclude: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self.vacancies))
        extra = max((len(e) for e in exclude), default=0) if exclude is not None else 0
        ranked = np.asarray(self.ranker.rank(self.resumes, min(k + extra, len(self.vacancies))), dtype=np.int64)
        ranked = drop_excluded(ranked, exclude, k)
        safe = np.where(ranked >= 0, ranked, 0)
        rows = np.repeat(np.arange(len(ranked)), ranked.shape[1])
        scores = self.pair_scores(rows, safe.ravel()).reshape(ranked.shape)
        return ranked, np.where(ranked >= 0, scores, -np.inf).astype(np.float32)

    def pair_scores(self, resume_rows: np.ndarray, vacancy_rows: np.ndarray) -> np.ndarray:
        if self._queries is None:
            self._queries = self.ranker.query_matrix(self.resumes)  # every resume vectorised once
        return np.asarray(self.ranker.pair_scores(self._queries, resume_rows, vacancy_rows), dtype=np.float64)


class PopularityScorer:
    """Same ranking for every user, from `baselines.PopularityRanker` (positive training events, then views, then catalogue order)."""

    def __init__(self, ranker: Any, n_users: int):
        self.ranker, self.n_users = ranker, n_users
        self.counts = np.asarray(ranker.scores(), dtype=np.float64)  # (V,)

    def top_k(self, k: int, exclude: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self.counts))
        extra = max((len(e) for e in exclude), default=0) if exclude is not None else 0
        ranked = drop_excluded(self.ranker.rank(self.n_users, min(k + extra, len(self.counts))), exclude, k)
        scores = np.where(ranked >= 0, self.counts[np.where(ranked >= 0, ranked, 0)], -np.inf)
        return ranked, scores.astype(np.float32)

    def pair_scores(self, resume_rows: np.ndarray, vacancy_rows: np.ndarray) -> np.ndarray:
        return self.counts[vacancy_rows]


def drop_excluded(ranked: np.ndarray, exclude: Sequence[np.ndarray] | None, k: int) -> np.ndarray:
    """Remove each row's excluded items from an over-fetched ranking, keep the first k (pad with -1)."""
    if exclude is None or not any(len(e) for e in exclude):
        return ranked[:, :k]
    out = np.full((len(ranked), k), -1, dtype=np.int64)
    for u, row in enumerate(ranked):
        kept = row[~np.isin(row, exclude[u])][:k]
        out[u, : len(kept)] = kept
    return out


def held_out_from_arms(arms: Mapping[str, ArmSpec], control: str = "control") -> list[str] | None:
    """Held-out resume ids for evaluation, from the model arms' split.json files.

    The control's split (else the first model arm's) is used; every other model arm must
    also have held out all of these resumes, or it would be scored on resumes it trained
    on (JobmatchError). None when no arm is a trained model (the caller then splits).
    """
    models = {n: s for n, s in arms.items() if s.kind == "dssm"}
    if not models:
        return None
    ref = control if control in models else next(iter(models))
    held = read_split(models[ref].model_dir)
    for name, spec in models.items():
        if name == ref:
            continue
        leaked = sorted(set(held) - set(read_split(spec.model_dir)))
        if leaked:
            raise JobmatchError(
                f"arm {name} ({spec.model_dir}) trained on {len(leaked)} resumes that {ref} held out "
                f"(e.g. {', '.join(leaked[:3])}); train every arm with the same split (same seed and val_fraction)"
            )
    return held


def cold_users(arms: Mapping[str, ArmSpec], dataset: Any) -> tuple[list[str], list[str]]:
    """Users of a cold-vacancy test folder (`jobmatch split`): every resume, since none of its events was trained on.

    Each model arm's training data (the `data` its config records) must hold none of these vacancies, or the arm
    would rank vacancies it trained on (JobmatchError); -> (resume ids, notes for an arm whose data is not found)."""
    cold = set(dataset.vacancies[schema.VACANCY_ID].astype(str))
    notes = []
    for name, spec in arms.items():
        if spec.kind != "dssm":
            continue
        trained_on = model_meta(spec.model_dir).get("data")
        table = Path(str(trained_on)) / schema.VACANCIES_FILE
        if not table.is_file():
            notes.append(f"arm {name}: its training data {trained_on} is not found here, so it is not checked against the cold vacancies")
            continue
        seen = cold & set(pd.read_parquet(table, columns=[schema.VACANCY_ID])[schema.VACANCY_ID].astype(str))
        if seen:
            raise JobmatchError(f"arm {name} ({spec.model_dir}) trained on {trained_on}, which holds {len(seen)} of the cold vacancies "
                                f"(e.g. {', '.join(sorted(seen)[:3])}); train the arms on the split's train folder")
    return sorted(dataset.resumes[schema.RESUME_ID].astype(str)), notes


def corpus_frame(base: pd.DataFrame, corpus_dir: Path | None, kind: str) -> pd.DataFrame:
    """`base` with its text columns replaced by those of CORPUS/<kind>.parquet (matched by id)."""
    if corpus_dir is None:
        return base
    file, _, _, id_col = schema.TABLES[kind]
    path = corpus_dir / file
    if not path.exists():
        raise JobmatchError(f"{path}: corpus file not found")
    corpus = pd.read_parquet(path)
    cols = [c for c in schema.TEXT_COLUMNS[kind] if c in corpus.columns]
    if id_col not in corpus.columns or not cols:
        raise DataError(str(path), id_col if id_col not in corpus.columns else schema.TEXT_COLUMNS[kind][-1], "missing column")
    corpus = corpus.assign(**{id_col: corpus[id_col].astype(str)}).drop_duplicates(id_col).set_index(id_col)
    ids = base[id_col].astype(str)
    missing = ids[~ids.isin(corpus.index)]
    if len(missing):
        raise DataError(str(path), id_col, f"{len(missing)} ids of the dataset have no text here", rows=missing.tolist())
    out = base.copy()
    for c in cols:
        out[c] = corpus.loc[ids.to_numpy(), c].to_numpy()
    return out


def index_search(index_dir: Path, model_hash: str, vacancy_ids: np.ndarray) -> Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]:
    """Top-k search through the served version of a built index (`pipelines.retrieval.index`), answering catalogue rows.

    The index must hold exactly this arm's model (manifest model hash) and the catalogue's
    vacancies; its rows are mapped to the catalogue's row order.
    """
    loaded = EmbeddingIndex.load(index_dir)
    if loaded.model_hash != model_hash:
        raise JobmatchError(f"{index_dir}: index {loaded.version} was built with model {loaded.model_hash}, not this arm's model {model_hash}")
    to_catalogue = pd.Index(pd.Series(vacancy_ids).astype(str)).get_indexer(loaded.ids)
    if (to_catalogue < 0).any() or len(loaded.ids) != len(vacancy_ids):
        only_index = loaded.ids[to_catalogue < 0][:3].tolist()
        only_data = sorted(set(map(str, vacancy_ids)) - set(map(str, loaded.ids)))[:3]
        raise JobmatchError(f"{index_dir}: index {loaded.version} holds {loaded.n} vacancies, the dataset {len(vacancy_ids)}; "
                            f"only in the index: {only_index or 'none'}, only in the dataset: {only_data or 'none'}: rebuild the index")

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, rows = loaded.search(queries, k)
        return scores, np.where(rows >= 0, to_catalogue[np.maximum(rows, 0)], -1)

    return search


def build_scorer(spec: ArmSpec, vacancies: pd.DataFrame, resumes: pd.DataFrame, train_interactions: pd.DataFrame | None,
                 market: Path | None = None) -> Scorer:
    """A `Scorer` for `resumes` (the query rows) against `vacancies` (the catalogue, in row order); `market`: the
    dataset folder, whose truth/ a utility arm reads."""
    from pipelines.evaluation import baselines  # scikit-learn: imported when an arm is scored, not at every `jobmatch` start

    if spec.kind == UTILITY:
        from pipelines.evaluation.utility_arm import UtilityScorer

        if market is None:
            raise JobmatchError("the utility arm needs the market folder (its truth/) the dataset was generated into")
        return UtilityScorer(market, corpus_frame(vacancies, spec.corpus_dir, "vacancies"), corpus_frame(resumes, spec.corpus_dir, "resumes"))

    if spec.kind == "dssm":
        enc = load_encoder(spec.model_dir, parsed=spec.parsed)
        vac = corpus_frame(vacancies, spec.corpus_dir, "vacancies")
        res = corpus_frame(resumes, spec.corpus_dir, "resumes")
        if spec.preprocess is not None:
            vac, res = spec.preprocess(vac, "vacancies"), spec.preprocess(res, "resumes")
        vac_emb = enc.embed(vac, "vacancies")  # (V, D)
        res_emb = enc.embed(res, "resumes")  # (U, D)
        search = None
        if spec.index_dir is not None:
            search = index_search(spec.index_dir, enc.model_hash, vacancies[schema.VACANCY_ID].to_numpy())
        return EmbeddingScorer(res_emb, vac_emb, search)
    if spec.kind in ("tfidf", "bm25"):
        ranker = baselines.TfidfRanker(method=spec.kind) if spec.kind == "bm25" else baselines.TfidfRanker()
        ranker.fit(vacancies)
        return RankerScorer(ranker, resumes, vacancies)
    ranker = baselines.PopularityRanker().fit(train_interactions if train_interactions is not None else pd.DataFrame({schema.VACANCY_ID: [], schema.EVENT: []}),
                                              vacancies[schema.VACANCY_ID].astype(str).tolist())
    return PopularityScorer(ranker, len(resumes))


def parse_arms(text: str) -> dict:
    """'control=RUN/control,treatment=RUN/production@RUN/summaries,tfidf,lead=utility@RUN/summaries_lead' -> name -> ArmSpec."""
    arms = {}
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        name, eq, value = item.partition("=")
        name, value = name.strip(), (value.strip() if eq else name.strip())
        if not name or not value:
            raise JobmatchError(f"--arms: cannot read {item!r}; expected NAME=VALUE")
        if name in arms:
            raise JobmatchError(f"--arms: arm {name!r} given twice")
        if value in BASELINES:
            arms[name] = ArmSpec(value)
            continue
        model, _, corpus = value.partition("@")
        if model == UTILITY:
            if corpus and not Path(corpus).is_dir():
                raise JobmatchError(f"--arms: {name}: corpus folder {corpus} not found")
            arms[name] = ArmSpec(UTILITY, corpus_dir=Path(corpus) if corpus else None)
            continue
        if not Path(model).is_dir():
            raise JobmatchError(f"--arms: {name}: {model} is neither a baseline ({', '.join(BASELINES)}), {UTILITY}[@CORPUS] nor a model folder")
        if corpus and not Path(corpus).is_dir():
            raise JobmatchError(f"--arms: {name}: corpus folder {corpus} not found")
        arms[name] = ArmSpec("dssm", model_dir=Path(model), corpus_dir=Path(corpus) if corpus else None)
    if not arms:
        raise JobmatchError("--arms: no arm given")
    return arms


def _is_model(path: Path) -> bool:
    return (path / "config.yaml").is_file() and (path / "weights.safetensors").is_file()


def default_arms(run: Path, outcomes: bool) -> tuple[dict, list[str]]:
    """Arms present in a run directory, and a note for each one skipped.

    control = RUN/control (first-300 model on the full texts); treatment = RUN/production on
    RUN/summaries; teacher = RUN/teacher on the full texts; textrank = RUN/textrank (or
    RUN/production) on RUN/summaries_textrank; tfidf always; popularity in ranking mode.
    """
    arms, notes = {}, []
    layout = [
        ("control", run / "control", None),
        ("treatment", run / "production", run / "summaries"),
        ("teacher", run / "teacher", None),
        ("textrank", run / "textrank" if _is_model(run / "textrank") else run / "production", run / "summaries_textrank"),
    ]
    for name, model, corpus in layout:
        if not _is_model(model):
            notes.append(f"arm {name} skipped: no trained model in {model}")
        elif corpus is not None and not corpus.is_dir():
            notes.append(f"arm {name} skipped: no corpus folder {corpus}")
        else:
            arms[name] = ArmSpec("dssm", model_dir=model, corpus_dir=corpus)
    arms["tfidf"] = ArmSpec("tfidf")
    if not outcomes:
        arms["popularity"] = ArmSpec("popularity")
    return arms, notes

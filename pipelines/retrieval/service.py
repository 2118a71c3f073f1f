"""HTTP service (FastAPI): `POST /recommend`, `GET /health`, hot swap to a new CURRENT index version.

    POST /recommend  {"resume_id": "r1" | "resume": {title, text, ...}, "k": 10,
                      "filters": {"area": "Москва", "salary_min": 150000}}
                 ->  {"items": [{"vacancy_id", "score", "title"}], "model_hash", "index_version"}
    GET  /health     {"status": "ok", "index_version", "n", "model_hash"}

Input errors are 4xx with a one-line `detail`: 404 unknown resume id, 422 bad body / k / filters.
Every request reads the served `Recommender` once (a plain attribute read), so it keeps that object
to its end. At most every `reload_interval_s` a request stats root/CURRENT; when it names a new
version, that version is loaded (under a lock, by one request) and the reference is replaced. A
version that fails to load is logged and the old one keeps serving.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from dssm.errors import JobmatchError
from dssm.schema import RESUME_ID
from pipelines.retrieval.index import CURRENT, Filters, VacancyIndex, current_version
from pipelines.retrieval.recommend import EncoderLike, Preprocess, Recommender, resumes_from_records

log = logging.getLogger("jobmatch.service")
MAX_K = 1000


class FiltersBody(BaseModel):
    """`filters` of a request: area equality and salary floor (vacancies without salary fail a floor)."""

    model_config = ConfigDict(extra="forbid")
    area: str | None = None
    salary_min: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class RecommendBody(BaseModel):
    """Body of POST /recommend: exactly one of resume_id / resume."""

    model_config = ConfigDict(extra="forbid")
    resume_id: str | None = None
    resume: dict[str, Any] | None = None
    k: int = Field(default=10, ge=1, le=MAX_K)
    filters: FiltersBody | None = None


class ServingState:
    """The served Recommender and the logic that swaps it when CURRENT changes."""

    def __init__(
        self,
        root: str | os.PathLike,
        encoder_for: Callable[[dict[str, Any]], EncoderLike],
        resumes: pd.DataFrame | None = None,
        preprocess: Preprocess | None = None,
        preprocess_id: str | None = None,
        reload_interval_s: float = 1.0,
    ):
        self.root, self.encoder_for, self.preprocess, self.preprocess_id = Path(root), encoder_for, preprocess, preprocess_id
        self.reload_interval_s = reload_interval_s
        self.resumes = None if resumes is None else resumes.set_index(resumes[RESUME_ID].astype(str), drop=False)
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stat: tuple[int, int] | None = None
        self.recommender = self._load(current_version(self.root))
        self._stat = self._current_stat()

    def _current_stat(self) -> tuple[int, int] | None:
        try:
            st = (self.root / CURRENT).stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_ino

    def _load(self, version: str | None) -> Recommender:
        index = VacancyIndex.load(self.root, version)
        old = getattr(self, "recommender", None)
        encoder = old.encoder if old is not None and old.encoder.model_hash == index.model_hash else self.encoder_for(index.manifest)
        return Recommender(index, encoder, self.preprocess, self.preprocess_id)

    def current(self) -> Recommender:
        """The Recommender to use for one request (reloads first if CURRENT moved)."""
        now = time.monotonic()
        if now - self._checked >= self.reload_interval_s and self._lock.acquire(blocking=False):
            try:
                self._checked = now
                stat = self._current_stat()
                if stat != self._stat:
                    version = current_version(self.root)
                    if version and version != self.recommender.index.version:
                        try:
                            self.recommender = self._load(version)
                            log.info("now serving index %s", version)
                        except JobmatchError as e:
                            log.error("cannot load index %s, still serving %s: %s", version, self.recommender.index.version, e)
                    self._stat = stat
            finally:
                self._lock.release()
        return self.recommender


def create_app(state: ServingState) -> FastAPI:
    """FastAPI app over `state` (see module docstring for the endpoints)."""
    app = FastAPI(title="jobmatch", description="Vacancies for a resume from the served FAISS index.")

    @app.get("/health")
    def health() -> dict[str, Any]:
        rec = state.current()
        return {"status": "ok", "index_version": rec.index.version, "n": rec.index.n, "model_hash": rec.index.model_hash}

    @app.post("/recommend")
    def recommend(body: RecommendBody) -> dict[str, Any]:
        rec = state.current()
        if (body.resume_id is None) == (body.resume is None):
            raise HTTPException(422, "give exactly one of resume_id or resume")
        if body.resume_id is not None:
            if state.resumes is None:
                raise HTTPException(422, "this service has no resume dataset; send the resume body instead")
            if body.resume_id not in state.resumes.index:
                raise HTTPException(404, f"unknown resume id {body.resume_id!r}")
            df = state.resumes.loc[[body.resume_id]].reset_index(drop=True)
        else:
            try:
                df = resumes_from_records([body.resume], "resume")
            except JobmatchError as e:
                raise HTTPException(422, str(e)) from e
        f = body.filters
        try:
            items = rec.recommend(df, body.k, Filters(area=f.area, salary_min=f.salary_min) if f else None)[0]
        except JobmatchError as e:
            raise HTTPException(422, str(e)) from e
        return {
            "items": [{"vacancy_id": v, "score": float(s), "title": t} for v, s, t in zip(items["vacancy_id"], items["score"], items["title"])],
            "model_hash": rec.index.model_hash,
            "index_version": rec.index.version,
        }

    return app

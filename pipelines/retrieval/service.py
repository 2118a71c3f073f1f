"""HTTP service (FastAPI): `POST /recommend`, `GET /health`, hot swap to a new CURRENT index version.

    POST /recommend  {"resume_id": "r1" | "resume": {title, text, ...}, "k": 10,
                      "filters": {"area": "Москва", "salary_min": 150000}}
                 ->  {"items": [{"vacancy_id", "score", "title"}], "model_hash", "index_version"}
    GET  /health     {"status": "ok", "index_version", "n", "model_hash"}

Input errors are 4xx with a one-line `detail` (`{"detail": "..."}`, also for malformed JSON):
400 a body that is not UTF-8; 404 unknown resume id; 413 a body over `max_body_bytes` (default
1 MiB, `jobmatch serve --max-body-bytes`); 422 a bad body / k / filters, including a resume text over
`MAX_TEXT_CHARS` characters (refused, not cut: a longer text is not a resume), a salary or
experience that is negative, infinite or NaN, an unknown field. A score is never NaN: a
non-finite query embedding is refused (422) instead of ranked. With dynamic batching on (`jobmatch serve
--batch-max`, `pipelines.retrieval.batching`), a full batch queue is answered 503.

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
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from dssm.errors import JobmatchError
from dssm.schema import RESUME_ID
from pipelines.retrieval.batching import MicroBatcher, Overloaded
from pipelines.retrieval.index import CURRENT, Filters, VacancyIndex, current_version
from pipelines.retrieval.recommend import MAX_K, MAX_TEXT_CHARS, EncoderLike, Preprocess, Recommender, resumes_from_records

log = logging.getLogger("jobmatch.service")
MAX_BODY_BYTES = 1 << 20
"""Default request body limit (bytes); a larger body is answered 413 before it is parsed."""
MAX_FIELD_CHARS = 1_000
"""Longest title, area, currency, id or skill."""
MAX_SKILLS = 500
"""Most skills in one resume."""


class ErrorBody(BaseModel):
    """Every 4xx answer: one line naming what is wrong."""

    detail: str


class ResumeFields(BaseModel):
    """A resume sent in the request (the contract's resume columns; `text` required, amounts finite and >= 0)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    resume_id: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    title: str = Field(default="", max_length=MAX_FIELD_CHARS)
    text: str = Field(max_length=MAX_TEXT_CHARS, pattern=r"\S", description="Resume body (plain text or HTML); must contain a non-space character, "
                      "and a text that is only HTML tags is refused (422) too.")
    skills: list[str] | None = Field(default=None, max_length=MAX_SKILLS)
    area: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    salary: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    currency: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    experience_years: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    updated_at: Annotated[datetime, Strict(False)] | None = None

    @field_validator("updated_at", mode="before")
    @classmethod
    def iso_string(cls, value: Any) -> Any:
        """A date-time is an ISO 8601 string in JSON (not a number of seconds)."""
        if value is not None and not isinstance(value, str):
            raise ValueError("expected an ISO 8601 date-time string")
        return value


class FiltersBody(BaseModel):
    """`filters` of a request: area equality and salary floor (vacancies without salary fail a floor)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    area: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    salary_min: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class Query(BaseModel):
    """What every POST /recommend body shares: list length and filters. Types are strict (no "10" for 10, no
    true for 1), and `k` is an integer as JSON Schema means it (10 and 10.0)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    k: int = Field(default=10, ge=1, le=MAX_K)
    filters: FiltersBody | None = None

    @field_validator("k", mode="before")
    @classmethod
    def integral(cls, value: Any) -> Any:
        return int(value) if isinstance(value, float) and value.is_integer() else value


class ByResumeId(Query):
    """Recommend for a resume of the service's dataset (`jobmatch serve --data`)."""

    resume_id: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)


class ByResume(Query):
    """Recommend for a resume sent in the request."""

    resume: ResumeFields


RecommendBody = ByResumeId | ByResume
"""Body of POST /recommend: exactly one of resume_id / resume (an object with both, or neither, matches neither)."""


class Item(BaseModel):
    vacancy_id: str
    score: float
    title: str | None


class RecommendAnswer(BaseModel):
    items: list[Item]
    model_hash: str
    index_version: str


class HealthAnswer(BaseModel):
    status: str
    index_version: str
    n: int
    model_hash: str


BRANCHES = {"resume_id": ByResumeId.__name__, "resume": ByResume.__name__}
"""The key of a POST /recommend body that selects each branch of `RecommendBody`."""


def validation_detail(exc: RequestValidationError) -> str:
    """Pydantic's list of errors -> one line: where (body.resume.salary) and what, for the first few.

    A body that is an object is judged by the branch its key selects; with both keys or neither the
    line says so instead of listing both branches' complaints."""
    errors, body = list(exc.errors()), getattr(exc, "body", None)
    if isinstance(body, dict) and any(len(e.get("loc", ())) > 1 and e["loc"][1] in BRANCHES.values() for e in errors):
        keys = set(BRANCHES) & set(body)
        if len(keys) != 1:
            return "give exactly one of resume_id or resume"
        branch = BRANCHES[keys.pop()]
        errors = [e for e in errors if len(e["loc"]) > 1 and e["loc"][1] == branch]

    def name(part: Any) -> str:  # a client's key is quoted when it is not a plain name, so the line stays one line
        return str(part) if isinstance(part, int) or str(part).isidentifier() else repr(str(part))

    parts = [".".join(name(p) for p in e.get("loc", ()) if p not in BRANCHES.values()) + f": {e.get('msg', 'invalid')}" for e in errors[:3]]
    return "; ".join(parts) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")


class BodyLimit:
    """ASGI middleware: answer 413 to a body over `limit` bytes (declared by Content-Length or streamed), unread."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, int(limit)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen, started = 0, False

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def watch(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watch)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Callable) -> None:
        body = ('{"detail": "request body over %d bytes"}' % self.limit).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


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


def create_app(state: ServingState, max_body_bytes: int = MAX_BODY_BYTES, batcher: MicroBatcher | None = None) -> FastAPI:
    """FastAPI app over `state` (see module docstring for the endpoints); bodies over `max_body_bytes` get 413.

    With a `batcher` (`pipelines.retrieval.batching`) concurrent requests are embedded and searched together;
    a full batch queue is answered 503."""
    app = FastAPI(title="jobmatch", description="Vacancies for a resume from the served FAISS index.")
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    errors = {status: {"model": ErrorBody} for status in (400, 404, 413, 422, 503)}

    @app.exception_handler(RequestValidationError)
    async def one_line(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_detail(exc)}, status_code=422)

    @app.get("/health", response_model=HealthAnswer)
    def health() -> dict[str, Any]:
        rec = state.current()
        return {"status": "ok", "index_version": rec.index.version, "n": rec.index.n, "model_hash": rec.index.model_hash}

    @app.post("/recommend", response_model=RecommendAnswer, responses=errors)
    def recommend(body: RecommendBody) -> dict[str, Any]:
        rec = state.current()
        if isinstance(body, ByResumeId):
            if state.resumes is None:
                raise HTTPException(422, "this service has no resume dataset; send the resume body instead")
            if body.resume_id not in state.resumes.index:
                raise HTTPException(404, f"unknown resume id {body.resume_id!r}")
            df = state.resumes.loc[[body.resume_id]].reset_index(drop=True)
        else:
            try:
                df = resumes_from_records([body.resume.model_dump(exclude_none=True)], "resume")
            except JobmatchError as e:
                raise HTTPException(422, str(e)) from e
        f = body.filters
        filters = Filters(area=f.area, salary_min=f.salary_min) if f else None
        try:
            items = batcher.submit(rec, df, body.k, filters).result(timeout=60) if batcher else rec.recommend(df, body.k, filters)[0]
        except Overloaded as e:
            raise HTTPException(503, str(e)) from e
        except JobmatchError as e:
            raise HTTPException(422, str(e)) from e
        return {
            "items": [{"vacancy_id": v, "score": float(s), "title": t} for v, s, t in zip(items["vacancy_id"], items["score"], items["title"])],
            "model_hash": rec.index.model_hash,
            "index_version": rec.index.version,
        }

    return app

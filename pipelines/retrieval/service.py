"""HTTP service (FastAPI): recommendations, candidates, experiments and their log, a page; hot swap to a new CURRENT.

    POST /recommend   {"resume_id": "r1" | "resume": {title, text, ...}, "k": 10, "user_id": "u1",
                       "filters": {"area": "Москва", "salary_min": 150000}}
                  ->  {"items": [{"vacancy_id", "score", "title", "team"}], "model_hash", "index_version",
                       "request_id", "arm", "experiment"}
    POST /candidates  {"vacancy_id": "v1" | "vacancy": {title, description, ...}, "k": 10,
                       "filters": {"area", "salary_max", "experience_min"}}      (with --resume-index)
                  ->  {"items": [{"resume_id", "score", "title"}], "model_hash", "index_version", "request_id"}
    POST /events      {"request_id", "vacancy_id", "event": "view" | "response" | "invite"}   (with --log-dir)
                  ->  {"status": "logged" | "duplicate"}
    GET  /health      {"status": "ok", "index_version", "n", "model_hash", "pid"}
    GET  /            the page: vacancies for a resume, candidates for a vacancy (`page.html`, no build step)

With an experiment (`pipelines.retrieval.experiment`) a request's user id picks its arm (or, interleaving,
both arms' lists are merged and each item names its team); without a user id the control arm answers
and the list is logged unassigned (user_id null). With a log (`pipelines.retrieval.servedlog`) every
served list is written before it is answered; an event names a list by its request_id and an item
shown in it (unknown request 404, item not shown 422), and the same event on the same item of the same
list is counted once.

Input errors are 4xx with a one-line `detail` (`{"detail": "..."}`, also for malformed JSON):
400 a body that is not UTF-8; 404 unknown resume / vacancy / request id; 413 a body over `max_body_bytes` (default
1 MiB, `jobmatch serve --max-body-bytes`); 422 a bad body / k / filters, including a resume text over
`MAX_TEXT_CHARS` characters (refused, not cut: a longer text is not a resume), a salary or
experience that is negative, infinite or NaN, an unknown field. A score is never NaN: a
non-finite query embedding is refused (422) instead of ranked. With dynamic batching on (`jobmatch serve
--batch-max`, `pipelines.retrieval.batching`), a full batch queue is answered 503.

Every request reads the served `Recommender` once (a plain attribute read), so it keeps that object
to its end. At most every `reload_interval_s` a request stats root/CURRENT; when it names a new
version, that version is loaded (under a lock, by one request, on the thread pool) and the reference is
replaced. A version that fails to load is logged and the old one keeps serving.

POST /recommend and /candidates are coroutines: with batching on, a request awaits its batch's result on the
event loop (no thread of its own blocks on it); without, the model runs on the thread pool, as do a reload
and the explainer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from dssm.errors import JobmatchError
from dssm import schema
from pipelines.retrieval.batching import MicroBatcher, Overloaded
from pipelines.retrieval.experiment import INTERLEAVED, ExperimentConfig, team_draft
from pipelines.retrieval.explain import Explainer
from pipelines.retrieval.index import CURRENT, EmbeddingIndex, Filters, current_version, read_manifest, served_manifest
from pipelines.retrieval.recommend import MAX_K, MAX_TEXT_CHARS, EncoderLike, Preprocess, Ranked, Recommender, documents_from_records
from pipelines.retrieval.servedlog import ServedLog, read_records

log = logging.getLogger("jobmatch.service")
MAX_BODY_BYTES = 1 << 20
"""Default request body limit (bytes); a larger body is answered 413 before it is parsed."""
MAX_FIELD_CHARS = 1_000
"""Longest title, area, currency, id or skill."""
MAX_SKILLS = 500
"""Most skills in one resume."""
NON_SPACE = r"[^\s\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
"""A character that is not white space to any of the regex engines that read the schema (ECMA-262 for clients,
Rust for pydantic) nor to Python's `str.strip`, which the data contract's empty-text rule uses."""


class ErrorBody(BaseModel):
    """Every 4xx answer: one line naming what is wrong."""

    detail: str


class ResumeFields(BaseModel):
    """A resume sent in the request (the contract's resume columns; `text` required, amounts finite and >= 0)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    resume_id: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    title: str = Field(default="", max_length=MAX_FIELD_CHARS)
    text: str = Field(max_length=MAX_TEXT_CHARS, pattern=NON_SPACE, description="Resume body (plain text or HTML); must contain a non-space character, "
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


class ListQuery(BaseModel):
    """What every list request shares: its length. Types are strict (no "10" for 10, no true for 1), and `k` is an
    integer as JSON Schema means it (10 and 10.0)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    k: int = Field(default=10, ge=1, le=MAX_K)

    @field_validator("k", mode="before")
    @classmethod
    def integral(cls, value: Any) -> Any:
        return int(value) if isinstance(value, float) and value.is_integer() else value


class Query(ListQuery):
    """What every POST /recommend body shares: list length, filters and the user."""

    filters: FiltersBody | None = None
    user_id: str | None = Field(default=None, min_length=1, max_length=MAX_FIELD_CHARS,
                                description="The user, for experiment assignment; without one the control arm answers and the request is logged unassigned.")


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
    team: str | None = Field(default=None, description="interleaving: the arm that contributed the item")
    matched_skills: list[str] | None = Field(default=None, description="with --tagger/--parsed only: the vacancy's skills the resume names")
    missing_skills: list[str] | None = Field(default=None, description="with --tagger/--parsed only: the vacancy's skills the resume lacks")
    best_sentences: list[str] | None = Field(default=None, description="with --tagger/--parsed only: the vacancy's sentences naming them")


class RecommendAnswer(BaseModel):
    items: list[Item]
    model_hash: str
    index_version: str
    request_id: str = Field(description="names this list in POST /events")
    arm: str | None = Field(default=None, description="the experiment arm that answered ('interleave' for a merged list); null without an experiment")
    experiment: str | None = None


class EventBody(BaseModel):
    """POST /events: a user's event on a vacancy of a list the service showed."""

    model_config = ConfigDict(extra="forbid", strict=True)
    request_id: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)
    vacancy_id: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)
    event: Literal["view", "response", "invite"]


class EventAnswer(BaseModel):
    status: Literal["logged", "duplicate"] = Field(description="duplicate: the same event on the same item of the same request was logged before (counted once)")


class HealthAnswer(BaseModel):
    status: str
    index_version: str
    n: int
    model_hash: str
    pid: int = Field(description="the server process that answered (`jobmatch serve --workers N` runs N of them)")


class VacancyFields(BaseModel):
    """A vacancy sent in a POST /candidates request (the contract's vacancy columns; `description` required, amounts finite and >= 0)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    vacancy_id: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    title: str = Field(default="", max_length=MAX_FIELD_CHARS)
    description: str = Field(max_length=MAX_TEXT_CHARS, pattern=NON_SPACE, description="Vacancy body (plain text or HTML)")
    skills: list[str] | None = Field(default=None, max_length=MAX_SKILLS)
    area: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    professional_role: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    experience: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    employment: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    schedule: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    salary_from: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    salary_to: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    currency: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)


class CandidateFilters(BaseModel):
    """`filters` of POST /candidates: area equality, salary ceiling (resumes naming no salary pass), minimum experience."""

    model_config = ConfigDict(extra="forbid", strict=True)
    area: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    salary_max: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    experience_min: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)


class CandidatesQuery(ListQuery):
    """What every POST /candidates body shares: list length and filters."""

    filters: CandidateFilters | None = None


class ByVacancyId(CandidatesQuery):
    """Candidates for a vacancy of the service's dataset (`jobmatch serve --data`)."""

    vacancy_id: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)


class ByVacancy(CandidatesQuery):
    """Candidates for a vacancy sent in the request."""

    vacancy: VacancyFields


CandidatesBody = ByVacancyId | ByVacancy


class Candidate(BaseModel):
    resume_id: str
    score: float
    title: str | None


class CandidatesAnswer(BaseModel):
    items: list[Candidate]
    model_hash: str
    index_version: str
    request_id: str


BRANCHES = {ByResumeId.__name__: "resume_id", ByResume.__name__: "resume", ByVacancyId.__name__: "vacancy_id", ByVacancy.__name__: "vacancy"}
"""Each branch of `RecommendBody` and `CandidatesBody` -> the body key that selects it."""
PAIRS = {ByResumeId.__name__: ("resume_id", "resume"), ByResume.__name__: ("resume_id", "resume"),
         ByVacancyId.__name__: ("vacancy_id", "vacancy"), ByVacancy.__name__: ("vacancy_id", "vacancy")}


def validation_detail(exc: RequestValidationError) -> str:
    """Pydantic's list of errors -> one line: where (body.resume.salary) and what, for the first few.

    A body that is an object is judged by the branch its key selects; with both keys or neither the
    line says so instead of listing both branches' complaints."""
    errors, body = list(exc.errors()), getattr(exc, "body", None)
    branches = [e["loc"][1] for e in errors if len(e.get("loc", ())) > 1 and e["loc"][1] in BRANCHES]
    if isinstance(body, dict) and branches:
        pair = PAIRS[branches[0]]
        keys = set(pair) & set(body)
        if len(keys) != 1:
            return f"give exactly one of {pair[0]} or {pair[1]}"
        key = keys.pop()
        branch = next(b for b, k in BRANCHES.items() if k == key)
        errors = [e for e in errors if len(e["loc"]) > 1 and e["loc"][1] == branch]

    def name(part: Any) -> str:  # a client's key is quoted when it is not a plain name, so the line stays one line
        return str(part) if isinstance(part, int) or str(part).isidentifier() else repr(str(part))

    parts = [".".join(name(p) for p in e.get("loc", ()) if p not in BRANCHES) + f": {e.get('msg', 'invalid')}" for e in errors[:3]]
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
    """The served Recommender of one index root and the logic that swaps it when CURRENT changes."""

    def __init__(
        self,
        root: str | os.PathLike,
        encoder_for: Callable[[dict[str, Any]], EncoderLike],
        queries: pd.DataFrame | None = None,
        preprocess: Preprocess | None = None,
        preprocess_id: str | None = None,
        reload_interval_s: float = 1.0,
        version: str | None = None,
    ):
        self.root, self.encoder_for, self.preprocess, self.preprocess_id = Path(root), encoder_for, preprocess, preprocess_id
        self.reload_interval_s, self.pinned = reload_interval_s, version
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stat: tuple[int, int] | None = None
        self.recommender = self._load(version or current_version(self.root))
        self._stat = self._current_stat()
        id_col = schema.TABLES[self.recommender.query_kind][3]
        self.queries = None if queries is None else queries.set_index(queries[id_col].astype(str), drop=False).astype(
            {c: object for c in queries.columns if pd.api.types.is_string_dtype(queries[c])})
        """The documents a request may name by id (resumes for a vacancy index, vacancies for a resume index), text
        columns as plain objects: a row taken by position from Arrow-backed strings cost ~1.7× as much, by label ~3×."""
        self._position = {} if self.queries is None else {doc_id: i for i, doc_id in enumerate(self.queries.index)}

    def query_row(self, doc_id: str) -> pd.DataFrame | None:
        """The one-row frame of the document named `doc_id` (a slice by position, index 0), None when there is none."""
        i = self._position.get(doc_id)
        if i is None:
            return None
        row = self.queries.iloc[i : i + 1]  # a slice: the request path never writes into it (summarizing copies the frame)
        row.index = pd.RangeIndex(1)  # 21 µs, against 165 µs for iloc[[i]].reset_index()
        return row

    def _current_stat(self) -> tuple[int, int] | None:
        try:
            st = (self.root / CURRENT).stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_ino

    def _load(self, version: str | None) -> Recommender:
        index = EmbeddingIndex.load(self.root, version)
        old = getattr(self, "recommender", None)
        encoder = old.encoder if old is not None and old.encoder.model_hash == index.model_hash else self.encoder_for(index.manifest)
        return Recommender(index, encoder, self.preprocess, self.preprocess_id)

    def current(self) -> Recommender:
        """The Recommender to use for one request (reloads first if CURRENT moved, unless a version is pinned)."""
        now = time.monotonic()
        if self.pinned is None and now - self._checked >= self.reload_interval_s and self._lock.acquire(blocking=False):
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

    async def current_async(self) -> Recommender:
        """`current()` for a coroutine: the served Recommender read in place, or, when a reload check is due (it may
        load a version), `current()` on the thread pool so the event loop never waits for a load."""
        if self.pinned is None and time.monotonic() - self._checked >= self.reload_interval_s:
            return await run_in_threadpool(self.current)
        return self.recommender


class RequestBook:
    """The served lists POST /events may name (the newest `capacity` requests) and the events each already got.

    Rebuilt from the log folder when the service starts, so events for lists served before a restart are
    still accepted and still counted once."""

    def __init__(self, capacity: int = 1_000_000):
        self.capacity = capacity
        self._lists: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, request_id: str, experiment: str | None, user_id: str | None, arm: str | None, teams: dict[str, str | None]) -> None:
        with self._lock:
            self._lists[request_id] = {"experiment": experiment, "user_id": user_id, "arm": arm, "teams": teams, "seen": set()}
            while len(self._lists) > self.capacity:
                self._lists.popitem(last=False)

    def event(self, request_id: str, vacancy_id: str, event: str) -> dict[str, Any] | None:
        """The log record of a new event, None for a duplicate; HTTPException for an unknown request or item."""
        with self._lock:
            shown = self._lists.get(request_id)
            if shown is None:
                raise HTTPException(404, f"unknown request id {request_id!r} (not served by this log, or older than its newest {self.capacity:,} lists)")
            if vacancy_id not in shown["teams"]:
                raise HTTPException(422, f"vacancy {vacancy_id!r} was not shown in request {request_id!r}")
            key = (vacancy_id, event)
            if key in shown["seen"]:
                return None
            shown["seen"].add(key)
            return {"kind": "event", "request_id": request_id, "ts": time.time(), "experiment": shown["experiment"], "user_id": shown["user_id"],
                    "arm": shown["arm"], "vacancy_id": vacancy_id, "event": event}

    def recover(self, root: str | os.PathLike) -> int:
        """Load the lists and events of an existing log folder; -> lists loaded."""
        records = read_records(root)
        for r in records[records["kind"] == "impression"].itertuples(index=False):
            items = r.items if r.items is not None else ()
            self.add(r.request_id, r.experiment, r.user_id, r.arm, {it["vacancy_id"]: it["team"] for it in items})
        for r in records[records["kind"] == "event"].itertuples(index=False):
            if r.request_id in self._lists:
                self._lists[r.request_id]["seen"].add((r.vacancy_id, r.event))
        return int((records["kind"] == "impression").sum())


class Experiment:
    """A running experiment: its config and one ServingState per arm (the first arm is the control)."""

    def __init__(self, cfg: ExperimentConfig, arms: dict[str, ServingState]):
        if list(arms) != [a.name for a in cfg.arms]:
            raise JobmatchError(f"experiment {cfg.name}: arms {list(arms)} do not match the config's {[a.name for a in cfg.arms]}")
        self.cfg, self.arms = cfg, arms


def serving_state(index: str | os.PathLike, model: str | os.PathLike | None = None, summarizer: str | os.PathLike | None = None,
                  version: str | None = None, queries: pd.DataFrame | None = None, reload_interval_s: float = 1.0,
                  side: str = "vacancies") -> ServingState:
    """A ServingState of one index root (its CURRENT, or the pinned `version`), with the model and summarizer its
    manifest records unless given; the index must hold `side` ("vacancies", or "resumes" for candidates)."""
    from pipelines.retrieval.recommend import encoder_for_manifest, preprocess_for_manifest

    manifest = read_manifest(index, version) if version else served_manifest(index)
    if (held := manifest.get("side", "vacancies")) != side:
        raise JobmatchError(f"{index} is an index of {held}, not of {side} (build one with `jobmatch index build --side {side}`)")
    preprocess, preprocess_id = preprocess_for_manifest(summarizer, manifest)
    return ServingState(index, encoder_for_manifest(model), queries, preprocess, preprocess_id, reload_interval_s, version)


def experiment_states(cfg: ExperimentConfig, resumes: pd.DataFrame | None = None, reload_interval_s: float = 1.0, source: str = "experiment") -> Experiment:
    """Load every arm of `cfg` (the control's state holds `resumes`); a failing arm is named in the error."""
    arms = {}
    for i, arm in enumerate(cfg.arms):
        try:
            arms[arm.name] = serving_state(arm.index, arm.model, arm.summarizer, arm.version, resumes if i == 0 else None, reload_interval_s)
        except JobmatchError as e:
            raise JobmatchError(f"{source}: arm {arm.name!r}: {e}") from e
    return Experiment(cfg, arms)


def create_app(state: ServingState, max_body_bytes: int = MAX_BODY_BYTES, batcher: MicroBatcher | None = None,
               experiment: Experiment | None = None, served_log: ServedLog | None = None, candidates: ServingState | None = None,
               explainer: Explainer | None = None) -> FastAPI:
    """FastAPI app over `state` (see module docstring for the endpoints); bodies over `max_body_bytes` get 413.

    With a `batcher` (`pipelines.retrieval.batching`) concurrent requests are embedded and searched together;
    a full batch queue is answered 503. With an `experiment` each user's list comes from their arm (or, when
    interleaving, from both: `pipelines.retrieval.experiment`), and `state` is the control arm's (it holds the
    resumes). With a `served_log` every served list is logged before it is answered, and POST /events logs a
    user's events on it (`pipelines.retrieval.servedlog`). With `candidates` (the state of a resume index, holding
    the vacancies) POST /candidates answers top-k resumes for a vacancy. With an `explainer`
    (`pipelines.retrieval.explain`) every recommended item carries matched_skills, missing_skills and best_sentences;
    without one those fields are absent."""
    app = FastAPI(title="jobmatch", description="Vacancies for a resume from the served FAISS index.")
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    errors = {status: {"model": ErrorBody} for status in (400, 404, 413, 422, 503)}
    book = RequestBook()
    if served_log is not None:
        book.recover(served_log.root)
        if experiment is not None:
            served_log.record_experiment(experiment.cfg.describe())

    @app.exception_handler(RequestValidationError)
    async def one_line(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_detail(exc)}, status_code=422)

    page = (Path(__file__).with_name("page.html")).read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index_page() -> str:
        """One self-contained page: vacancies for a resume (id or pasted), candidates for a vacancy."""
        return page

    @app.get("/health", response_model=HealthAnswer)
    def health() -> dict[str, Any]:
        rec = state.current()
        return {"status": "ok", "index_version": rec.index.version, "n": rec.index.n, "model_hash": rec.index.model_hash, "pid": os.getpid()}

    def query_frame(served: ServingState, doc_id: str | None, fields: BaseModel | None, kind: str) -> pd.DataFrame:
        """A request's one query document (a resume, or a vacancy for candidates): looked up by id in the served
        dataset, or built from the fields sent."""
        noun = schema.SINGULAR[kind]
        if doc_id is not None:
            if served.queries is None:
                raise HTTPException(422, f"this service has no {noun} dataset; send the {noun} body instead")
            row = served.query_row(doc_id)
            if row is None:
                raise HTTPException(404, f"unknown {noun} id {doc_id!r}")
            return row
        try:
            return documents_from_records([fields.model_dump(exclude_none=True)], kind, noun)
        except JobmatchError as e:
            raise HTTPException(422, str(e)) from e

    async def ranked(rec: Recommender, df: pd.DataFrame, k: int, filters: Filters | None) -> Ranked:
        """One query's ranked list: awaited on the batcher's worker when batching (no thread of its own waits), else
        computed on the thread pool."""
        try:
            if batcher is None:
                return (await run_in_threadpool(rec.recommend_arrays, df, k, filters))[0]
            return await asyncio.wait_for(asyncio.wrap_future(batcher.submit(rec, df, k, filters)), timeout=60)
        except Overloaded as e:
            raise HTTPException(503, str(e)) from e
        except JobmatchError as e:
            raise HTTPException(422, str(e)) from e

    def explain(df: pd.DataFrame, vacancy_ids: list[str]) -> list[dict[str, Any]]:
        return explainer.explain(explainer.resume_skills(df)[0], vacancy_ids)

    @app.post("/recommend", response_model=RecommendAnswer, responses=errors, response_model_exclude_unset=True)
    async def recommend(body: RecommendBody) -> dict[str, Any]:
        by_id = isinstance(body, ByResumeId)
        df = query_frame(state, body.resume_id if by_id else None, None if by_id else body.resume, "resumes")
        f = body.filters
        filters = Filters(area=f.area, salary_min=f.salary_min) if f else None
        request_id, user = uuid.uuid4().hex, body.user_id
        cfg = experiment.cfg if experiment else None
        if cfg is None:
            arm, rec = None, await state.current_async()
        elif user is None or cfg.mode == "ab":
            arm = cfg.assign(user) if user is not None else cfg.control
            rec = await experiment.arms[arm].current_async()
        else:
            arm, recs = INTERLEAVED, {name: await s.current_async() for name, s in experiment.arms.items()}
        if arm == INTERLEAVED:
            lists = {name: await ranked(r, df, body.k, filters) for name, r in recs.items()}
            merged = team_draft({name: items.ids.tolist() for name, items in lists.items()}, body.k, cfg.salt, request_id)
            rows = {name: {v: (sc, t) for v, sc, t in items.rows()} for name, items in lists.items()}
            shown = [(v, *rows[team][v], team) for v, team in merged]
            versions = {name: r.index.version for name, r in recs.items()}
            rec = recs[cfg.control]
        else:
            items = await ranked(rec, df, body.k, filters)
            shown = [(v, sc, t, None) for v, sc, t in items.rows()]
            versions = {arm or "served": rec.index.version}
        if served_log is not None:
            served_log.append({
                "kind": "impression", "request_id": request_id, "ts": time.time(), "experiment": cfg.name if cfg else None,
                "mode": cfg.mode if cfg else None, "user_id": user, "arm": arm, "versions": versions,
                "items": [{"vacancy_id": v, "position": i, "score": sc, "team": team} for i, (v, sc, _, team) in enumerate(shown)],
            })
            book.add(request_id, cfg.name if cfg else None, user, arm, {v: team for v, _, _, team in shown})
        why = await run_in_threadpool(explain, df, [v for v, _, _, _ in shown]) if explainer is not None else [{}] * len(shown)
        return {
            "items": [{"vacancy_id": v, "score": sc, "title": t, "team": team, **w} for (v, sc, t, team), w in zip(shown, why)],
            "model_hash": rec.index.model_hash, "index_version": rec.index.version,
            "request_id": request_id, "arm": arm, "experiment": cfg.name if cfg else None,
        }

    @app.post("/candidates", response_model=CandidatesAnswer, responses=errors)
    async def post_candidates(body: CandidatesBody) -> dict[str, Any]:
        if candidates is None:
            raise HTTPException(404, "this service serves no resume index (start it with --resume-index ROOT)")
        rec = await candidates.current_async()
        by_id = isinstance(body, ByVacancyId)
        df = query_frame(candidates, body.vacancy_id if by_id else None, None if by_id else body.vacancy, "vacancies")
        f = body.filters
        filters = Filters(area=f.area, salary_max=f.salary_max, experience_min=f.experience_min) if f else None
        items = await ranked(rec, df, body.k, filters)
        return {"items": [{"resume_id": r, "score": sc, "title": t} for r, sc, t in items.rows()],
                "model_hash": rec.index.model_hash, "index_version": rec.index.version, "request_id": uuid.uuid4().hex}

    @app.post("/events", response_model=EventAnswer, responses=errors)
    def post_event(body: EventBody) -> dict[str, Any]:
        if served_log is None:
            raise HTTPException(404, "this service keeps no log (start it with --log-dir DIR)")
        record = book.event(body.request_id, body.vacancy_id, body.event)
        if record is None:
            return {"status": "duplicate"}
        served_log.append(record)
        return {"status": "logged"}

    return app

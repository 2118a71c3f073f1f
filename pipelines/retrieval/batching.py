"""Dynamic batching for the service: concurrent requests share one preprocess + encode call and one FAISS search.

A request's job waits at most `max_wait_ms` for others to join it (up to `max_batch` jobs; with 0, the
served default, only the jobs already queued join: while one batch runs the next one gathers); one worker
thread then embeds the whole batch with `Recommender.embed` (preprocessing included) and ranks it with
`Recommender.rank`, one search per distinct (k, filters). Jobs are grouped by the Recommender they were
given (a hot swap mid-batch keeps each request on the version it started with) and by their set of
columns (a resume sent with a salary and one without are never mixed into one frame). A batch that
fails is rerun job by job, so an error reaches only the request that caused it.

Answers are the ones a request gets alone up to the float rounding of batched matrix products
(tests/test_batching.py: same vacancies in the same order, scores within 1e-5). The queue holds at
most `max_queue` jobs; a request beyond that is refused (`Overloaded`, HTTP 503) instead of waiting.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dssm.errors import JobmatchError
from pipelines.retrieval.index import Filters
from pipelines.retrieval.recommend import Ranked, Recommender


class Overloaded(JobmatchError):
    """The batch queue is full."""


@dataclass
class Job:
    rec: Recommender
    df: pd.DataFrame
    """One resume (a validated one-row frame)."""
    k: int
    filters: Filters | None
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """Runs submitted recommend jobs in batches on one worker thread (see the module docstring)."""

    def __init__(self, max_batch: int = 32, max_wait_ms: float = 0.0, max_queue: int = 1024):
        if max_batch < 1 or max_wait_ms < 0 or max_queue < 1:
            raise JobmatchError(f"batching needs max_batch >= 1, max_wait_ms >= 0, max_queue >= 1; got {max_batch}, {max_wait_ms}, {max_queue}")
        self.max_batch, self.max_wait = int(max_batch), float(max_wait_ms) / 1000
        self.queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self.batches = 0
        """Batches run so far (with `jobs`: the mean batch size)."""
        self.jobs = 0
        self._worker = threading.Thread(target=self._loop, name="jobmatch-batcher", daemon=True)
        self._worker.start()

    def submit(self, rec: Recommender, df: pd.DataFrame, k: int, filters: Filters | None = None) -> Future:
        """Queue one resume; the future's result is its ranked list (`Ranked`, as `Recommender.recommend_arrays(...)[0]`)."""
        job = Job(rec, df, k, filters)
        try:
            self.queue.put_nowait(job)
        except queue.Full as e:
            raise Overloaded(f"the service is overloaded ({self.queue.maxsize} requests waiting); retry later") from e
        return job.future

    def close(self) -> None:
        self.queue.put(None)
        self._worker.join(timeout=10)

    def _loop(self) -> None:
        while (job := self.queue.get()) is not None:
            batch, deadline = [job], time.monotonic() + self.max_wait
            while len(batch) < self.max_batch:
                try:
                    nxt = self.queue.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    break
                if nxt is None:
                    self._run(batch)
                    return
                batch.append(nxt)
            self._run(batch)

    def _run(self, batch: list[Job]) -> None:
        self.batches, self.jobs = self.batches + 1, self.jobs + len(batch)
        groups: dict[tuple, list[Job]] = defaultdict(list)
        for job in batch:
            groups[(id(job.rec), tuple(job.df.columns))].append(job)
        for jobs in groups.values():
            try:
                self._run_group(jobs)
            except Exception:  # noqa: BLE001 - rerun alone so each request gets its own error
                for job in jobs:
                    self._alone(job)

    @staticmethod
    def _run_group(jobs: list[Job]) -> None:
        rec = jobs[0].rec
        emb = rec.embed(pd.concat([j.df for j in jobs], ignore_index=True))  # (B, D)
        searches: dict[tuple, list[int]] = defaultdict(list)
        for i, j in enumerate(jobs):
            searches[(j.k, None if j.filters is None else (j.filters.area, j.filters.salary_min))].append(i)
        results: dict[int, Ranked] = {}
        for rows in searches.values():
            first = jobs[rows[0]]
            for i, ranked in zip(rows, rec.rank_arrays(emb[np.array(rows)], first.k, first.filters)):
                results[i] = ranked
        for i, j in enumerate(jobs):
            j.future.set_result(results[i])

    @staticmethod
    def _alone(job: Job) -> None:
        if job.future.done():
            return
        try:
            job.future.set_result(job.rec.recommend_arrays(job.df, job.k, job.filters)[0])
        except Exception as e:  # noqa: BLE001 - delivered to the request that caused it
            job.future.set_exception(e)

"""Dynamic batching (`pipelines.retrieval.batching`): concurrent requests get the answers they get alone, errors reach
only the request that caused them, a hot swap mid-batch keeps each request on its version, a full queue refuses."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from test_index import HashEncoder, market

from pipelines.retrieval.batching import MicroBatcher, Overloaded
from pipelines.retrieval.index import Filters, EmbeddingIndex
from pipelines.retrieval.recommend import Recommender, encoder_for_manifest, preprocess_for_manifest
from pipelines.retrieval.refresh import refresh


@pytest.fixture(scope="module")
def real(tiny_run):
    """The tiny run's recommender: summarizer, GRU towers, FAISS, as served."""
    index = EmbeddingIndex.load(tiny_run["index"])
    preprocess, pid = preprocess_for_manifest(None, index.manifest)
    rec = Recommender(index, encoder_for_manifest(None)(index.manifest), preprocess, pid)
    resumes = pd.read_parquet(tiny_run["data"] / "resumes.parquet")
    return rec, resumes


def test_concurrent_requests_get_their_answers_alone(real):
    rec, resumes = real
    rows = [resumes.iloc[[i]].reset_index(drop=True) for i in range(40)]
    filters = [None, Filters(area=str(resumes["area"].iloc[0])), Filters(salary_min=100000.0)]
    alone = [rec.recommend(df, 10, filters[i % 3])[0] for i, df in enumerate(rows)]
    batcher = MicroBatcher(max_batch=16, max_wait_ms=20)
    with ThreadPoolExecutor(8) as pool:
        batched = list(pool.map(lambda i: batcher.submit(rec, rows[i], 10, filters[i % 3]).result(timeout=60), range(len(rows))))
    batcher.close()
    assert batcher.jobs == 40 and batcher.batches < 40, "requests were batched"
    for a, b in zip(alone, batched):
        assert a["vacancy_id"].tolist() == b.ids.tolist() and a["title"].tolist() == b.titles.tolist()
        np.testing.assert_allclose(a["score"].to_numpy(), b.scores, atol=1e-5)
        pd.testing.assert_frame_equal(b.frame("vacancy_id").drop(columns="score"), a.drop(columns="score"))


class FailingEncoder(HashEncoder):
    """HashEncoder that refuses any batch holding the word "boom", and can be slowed down."""

    delay = 0.0

    def embed(self, df: pd.DataFrame, kind: str) -> np.ndarray:
        time.sleep(self.delay)
        if kind == "resumes" and df["text"].str.contains("boom").any():
            raise ValueError("boom")
        return super().embed(df, kind)


def _toy(tmp_path, encoder):
    vac, res = market(60, 12)
    refresh(vac, tmp_path / "index", encoder)
    return Recommender(EmbeddingIndex.load(tmp_path / "index"), encoder), res


def test_an_error_reaches_only_the_request_that_caused_it(tmp_path):
    rec, res = _toy(tmp_path, FailingEncoder())
    batcher = MicroBatcher(max_batch=8, max_wait_ms=50)
    jobs = [res.iloc[[i]].reset_index(drop=True) for i in range(6)]
    jobs[2] = jobs[2].assign(text="boom")
    futures = [batcher.submit(rec, df, 5) for df in jobs]
    for i, f in enumerate(futures):
        if i == 2:
            with pytest.raises(ValueError, match="boom"):
                f.result(timeout=30)
        else:
            assert f.result(timeout=30).ids.tolist() == rec.recommend(jobs[i], 5)[0]["vacancy_id"].tolist()
    batcher.close()


def test_each_request_keeps_the_recommender_it_was_given_and_a_full_queue_refuses(tmp_path):
    enc = FailingEncoder()
    old, res = _toy(tmp_path / "a", enc)
    new, _ = _toy(tmp_path / "b", HashEncoder(seed=5))
    batcher = MicroBatcher(max_batch=8, max_wait_ms=50)
    df = res.iloc[[0]].reset_index(drop=True)
    a, b = batcher.submit(old, df, 5), batcher.submit(new, df, 5)
    assert a.result(timeout=30).ids.tolist() == old.recommend(df, 5)[0]["vacancy_id"].tolist()
    assert b.result(timeout=30).ids.tolist() == new.recommend(df, 5)[0]["vacancy_id"].tolist()
    batcher.close()

    enc.delay = 0.5
    small = MicroBatcher(max_batch=1, max_wait_ms=0, max_queue=1)
    first = small.submit(old, df, 5)  # taken by the worker, which then sleeps in embed
    time.sleep(0.1)
    small.submit(old, df, 5)  # waits in the queue
    with pytest.raises(Overloaded, match="overloaded"):
        small.submit(old, df, 5)
    first.result(timeout=30)
    small.close()


@pytest.mark.filterwarnings("ignore:Using `httpx`")
def test_the_service_with_batching_answers_as_without(tiny_run):
    from fastapi.testclient import TestClient

    from pipelines.data.dataset import load_dataset
    from pipelines.retrieval.service import ServingState, create_app

    index = EmbeddingIndex.load(tiny_run["index"])
    preprocess, pid = preprocess_for_manifest(None, index.manifest)
    state = ServingState(tiny_run["index"], encoder_for_manifest(None), load_dataset(tiny_run["data"]).resumes, preprocess, pid)
    plain, batched = TestClient(create_app(state)), TestClient(create_app(state, batcher=MicroBatcher(8, 5)))
    ids = state.queries.index[:12].tolist()
    answers: dict[str, list] = {}
    lock = threading.Lock()

    def ask(rid: str) -> None:
        r = batched.post("/recommend", json={"resume_id": rid, "k": 7})
        with lock:
            answers[rid] = r.json()["items"]

    threads = [threading.Thread(target=ask, args=(rid,)) for rid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rid in ids:
        alone = plain.post("/recommend", json={"resume_id": rid, "k": 7}).json()["items"]
        assert [i["vacancy_id"] for i in answers[rid]] == [i["vacancy_id"] for i in alone]
        assert [i["score"] for i in answers[rid]] == pytest.approx([i["score"] for i in alone], abs=1e-5)

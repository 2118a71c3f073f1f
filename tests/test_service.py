"""HTTP service: same top-k as the CLI, 4xx on bad input, live swap to a new CURRENT without errors, bounded load test."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest
from test_index import HashEncoder, market

from pipelines import cli
from pipelines.retrieval import index as ix
from pipelines.retrieval import recommend as rc
from pipelines.data.dataset import write_dataset
from dssm.errors import JobmatchError
from pipelines.retrieval.loadtest import free_port, run_loadtest, serve_argv, start_server
from pipelines.retrieval.refresh import refresh
from pipelines.retrieval.service import ServingState, create_app

TESTS = Path(__file__).resolve().parent
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")


@pytest.fixture()
def setup(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    vac, res = market(200, 10)
    write_dataset(tmp_path / "data", vac, res)
    refresh(vac, tmp_path / "index", HashEncoder(), queries=res, extra={"model_dir": str(tmp_path / "model")})
    monkeypatch.setattr(rc, "load_encoder", lambda path: HashEncoder())
    state = ServingState(tmp_path / "index", lambda manifest: HashEncoder(), res, reload_interval_s=0.0)
    return tmp_path, vac, res, state, TestClient(create_app(state))


def test_http_and_cli_return_the_same_top_k(setup, capsys):
    root, _, _, _, client = setup
    for rid in ("r000", "r004", "r009"):
        r = client.post("/recommend", json={"resume_id": rid, "k": 7, "filters": {"area": "Москва"}})
        assert r.status_code == 200
        body = r.json()
        assert cli.main(["recommend", "--index", str(root / "index"), "--data", str(root / "data"), "--resume-id", rid, "--k", "7", "--area", "Москва", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)["results"][0]["items"]
        assert [i["vacancy_id"] for i in body["items"]] == [i["vacancy_id"] for i in out] and len(out) == 7
        assert [i["score"] for i in body["items"]] == pytest.approx([i["score"] for i in out])
        assert body["index_version"] == ix.current_version(root / "index") and body["model_hash"] == HashEncoder().model_hash
    health = client.get("/health").json()
    assert health == {"status": "ok", "index_version": ix.current_version(root / "index"), "n": 200, "model_hash": HashEncoder().model_hash, "pid": os.getpid()}


def test_resume_body_and_input_errors(setup):
    *_, client = setup
    r = client.post("/recommend", json={"resume": {"title": "java", "text": "java javaskill"}, "k": 3, "filters": {"salary_min": 100000}})
    assert r.status_code == 200 and len(r.json()["items"]) == 3 and all("java" in i["title"] for i in r.json()["items"])
    cases = [
        ({"resume_id": "nobody"}, 404, "unknown resume id"),
        ({"resume_id": "r001", "k": 0}, 422, None),
        ({"resume_id": "r001", "k": "ten"}, 422, None),
        ({"resume_id": "r001", "resume": {"title": "a", "text": "b"}}, 422, "exactly one"),
        ({}, 422, "exactly one"),
        ({"resume": {"title": "a", "text": ""}}, 422, "body.resume.text"),
        ({"resume": {"title": "a", "text": " <p> </p> "}}, 422, "empty resume text"),
        ({"resume": {"title": "a", "text": "b", "age": 3}}, 422, "body.resume.age: Extra inputs are not permitted"),
        ({"resume_id": "r001", "filters": {"salary_min": -5}}, 422, None),
        ({"resume_id": "r001", "colour": "red"}, 422, None),
    ]
    for body, status, text in cases:
        r = client.post("/recommend", json=body)
        assert r.status_code == status, body
        if text:
            assert text in r.json()["detail"]
    r = client.post("/recommend", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and isinstance(r.json()["detail"], str) and "\n" not in r.json()["detail"]


@pytest.mark.parametrize("field,value,where", [
    ("salary", "1e400", "body.resume.salary"),  # JSON 1e400 is an infinite float: once answered 200 with a null score for every item
    ("salary", "-5", "body.resume.salary"),
    ("experience_years", "-3", "body.resume.experience_years"),  # once accepted
    ("salary", "NaN", "body.resume.salary"),
])
def test_non_finite_or_negative_amounts_are_refused(setup, field, value, where):
    *_, client = setup
    raw = '{"resume": {"title": "Python", "text": "x", "%s": %s}}' % (field, value)
    r = client.post("/recommend", content=raw.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith(where), r.text


def test_large_bodies_and_texts_are_refused(tmp_path, monkeypatch):
    """A 10 MB resume once took 10.4 s of CPU and was answered: the body limit answers 413 unread; a text over MAX_TEXT_CHARS is 422."""
    from fastapi.testclient import TestClient

    from pipelines.retrieval.service import MAX_TEXT_CHARS

    vac, res = market(50, 5)
    refresh(vac, tmp_path / "index", HashEncoder(), queries=res)
    client = TestClient(create_app(ServingState(tmp_path / "index", lambda m: HashEncoder()), max_body_bytes=200_000))
    big = json.dumps({"resume": {"title": "a", "text": "слово " * 2_000_000}})
    r = client.post("/recommend", content=big.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "over 200000 bytes" in r.json()["detail"]
    long_text = {"resume": {"title": "a", "text": "a" * (MAX_TEXT_CHARS + 1)}}
    r = TestClient(create_app(ServingState(tmp_path / "index", lambda m: HashEncoder()))).post("/recommend", json=long_text)
    assert r.status_code == 422 and r.json()["detail"].startswith("body.resume.text")


def test_new_current_is_picked_up_without_dropping_requests(setup):
    root, vac, res, state, client = setup
    old = ix.current_version(root / "index")
    held = state.current()  # a request in flight holds this object
    errors, versions_seen = [], set()
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            r = client.post("/recommend", json={"resume_id": "r002", "k": 5})
            if r.status_code != 200:
                errors.append(r.text)
            else:
                versions_seen.add(r.json()["index_version"])

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        edited = vac.assign(description=vac.description.where(vac.index % 10 != 0, "<p>driver driverskill</p>"))
        new = refresh(edited, root / "index", HashEncoder()).version
        assert new is not None and ix.current_version(root / "index") == new
        assert ix.rollback(root / "index") == old
        ix.switch(root / "index", new)
        for _ in range(1000):
            if client.get("/health").json()["index_version"] == new:
                break
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == [] and new in versions_seen
    assert held.index.version == old and held.recommend(res.iloc[:1], 3)[0].shape[0] == 3
    assert client.post("/recommend", json={"resume_id": "r002"}).json()["index_version"] == new


SERVER = """
import sys, uvicorn
sys.path.insert(0, {tests!r})
from test_index import HashEncoder, market
from pipelines.retrieval.service import ServingState, create_app
state = ServingState({root!r}, lambda m: HashEncoder(), market(200, 10)[1])
uvicorn.run(create_app(state), host="127.0.0.1", port={port}, log_level="warning")
"""


def test_a_named_document_is_its_row_of_the_served_dataset(setup):
    _, _, res, state, _ = setup
    row = state.query_row(str(res.resume_id.iloc[3]))
    assert len(row) == 1 and row.columns.tolist() == res.columns.tolist()
    assert [row[c].iloc[0] for c in ("resume_id", "title", "text")] == [res[c].iloc[3] for c in ("resume_id", "title", "text")]
    assert row.index.tolist() == [0]
    row["text"] = "changed"
    assert state.queries["text"].iloc[3] == res["text"].iloc[3]
    assert state.query_row("nobody") is None


def test_bounded_loadtest_against_a_server_process(setup):
    root, *_ = setup
    port = free_port()
    proc = start_server([sys.executable, "-c", SERVER.format(tests=str(TESTS), root=str(root / "index"), port=port)], port)
    try:
        bodies = [{"resume_id": f"r{i:03d}", "k": 10} for i in range(10)]
        out = run_loadtest(f"http://127.0.0.1:{port}", bodies, n_requests=300, concurrency=2, deadline_s=2.0, server_pid=proc.pid)
        bad = run_loadtest(f"http://127.0.0.1:{port}", [{"resume_id": "nobody"}], n_requests=5, concurrency=1, deadline_s=2.0)
        health = run_loadtest(f"http://127.0.0.1:{port}", [{"resume_id": "nobody"}], n_requests=50, concurrency=2, deadline_s=2.0, endpoint="health")
        with pytest.raises(JobmatchError, match="endpoint must be one of recommend, health, got 'candidates'"):
            run_loadtest(f"http://127.0.0.1:{port}", bodies, endpoint="candidates")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert out["errors"] == 0 and 0 < out["requests"] <= 300 and out["seconds"] < 4.0
    assert out["p50_ms"] <= out["p90_ms"] <= out["p99_ms"] and out["rps"] > 0
    assert out["client_cpu_ms_per_request"] > 0 and (out["server_cpu_ms_per_request"] > 0 or not Path("/proc").is_dir())
    assert bad["server_cpu_ms_per_request"] is None  # no server pid given
    assert bad["errors"] == 5 and "HTTP 404" in bad["first_errors"][0]
    assert health["endpoint"] == "health" and health["errors"] == 0 and health["requests"] == 50  # GET /health: the body is not sent


def test_served_answers_do_not_depend_on_the_http_parser_event_loop_or_workers(tiny_run):
    """`serve --http h11 --loop asyncio` (pure Python), the default (httptools, uvloop) and `--workers 2` answer the same
    lists; with two workers both processes answer, and the load test's server CPU counts them."""
    import httpx

    from pipelines.retrieval.loadtest import cpu_seconds

    answers = []
    for http, loop, workers in (("h11", "asyncio", 1), ("auto", "auto", 1), ("auto", "auto", 2)):
        port = free_port()
        proc = start_server(serve_argv(str(tiny_run["index"]), str(tiny_run["data"]), port, http=http, loop=loop, workers=workers), port,
                            timeout_s=120, workers=workers)
        try:
            url = f"http://127.0.0.1:{port}"
            answers.append([httpx.post(f"{url}/recommend", json={"resume_id": rid, "k": 5}).json()["items"] for rid in ("r000000", "r000003")])
            out = run_loadtest(url, [{"resume_id": "r000001", "k": 5}], n_requests=40, concurrency=4, deadline_s=10.0, server_pid=proc.pid)
            pids = {httpx.get(f"{url}/health").json()["pid"] for _ in range(40)}
            if Path("/proc").is_dir():
                assert cpu_seconds(proc.pid) >= sum(cpu_seconds(p) for p in pids) > 0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        assert out["errors"] == 0 and out["requests"] == 40
        assert len(pids) == workers and (workers > 1 or pids == {proc.pid})
    assert answers[0] == answers[1] == answers[2] and len(answers[0][0]) == 5


def test_serve_refuses_bad_worker_counts_and_workers_with_a_log(tmp_path, capsys):
    assert cli.main(["serve", "--index", str(tmp_path / "none"), "--workers", "0"]) != 0
    assert cli.main(["serve", "--index", str(tmp_path / "none"), "--workers", "2", "--log-dir", str(tmp_path / "log")]) != 0
    assert cli.main(["serve", "--index", str(tmp_path / "none"), "--workers", "2"]) != 0  # checked and loaded once before any worker starts
    err = capsys.readouterr().err.strip().splitlines()
    assert err[:2] == ["jobmatch serve: error: --workers must be >= 1, got 0",
                       "jobmatch serve: error: --log-dir needs --workers 1: POST /events must reach the process that served the list it names"]
    assert len(err) == 3 and err[2].startswith("jobmatch serve: error: ") and "none" in err[2]
    assert not (tmp_path / "log").exists()


def test_serve_refuses_a_parser_or_loop_that_is_not_installed(monkeypatch, tmp_path, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a))
    assert cli.main(["serve", "--index", str(tmp_path / "none"), "--loop", "uvloop"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["jobmatch serve: error: --loop uvloop: the package uvloop is not installed (pip install uvloop, or --loop auto)"]

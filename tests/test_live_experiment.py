"""Experiments end to end through real `jobmatch serve` processes over loopback: simulated users (`ab traffic`) with a
planted difference between the arms, `ab analyze --log` recovering it, SRM, interleaving, and `kill -9` of a logging service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines import cli
from pipelines.evaluation.ab.analysis import ABConfig
from pipelines.evaluation.ab.live import analyze_service_log
from pipelines.evaluation.ab.simulate import SimConfig
from pipelines.evaluation.ab.traffic import TrafficConfig, run_traffic
from pipelines.retrieval.loadtest import free_port, start_server
from pipelines.retrieval.servedlog import SEGMENT_DIR, ServedLog, read_records

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Using `httpx`")]
BEHAVIOUR = SimConfig(response_scale=2.0, response_offset=3.0)
"""A choosy user: a response needs a clearly good match (P(response | view) ~ 0.03 at the market's median top-10 utility)."""


@pytest.fixture(scope="module")
def arms(tiny_run, tmp_path_factory):
    """Control: an untrained tower (lr 1e-9, one epoch) and its index; treatment: the tiny run's production model and index."""
    from dataclasses import replace

    from dssm.config import load_model_config
    from pipelines.retrieval.index import IndexConfig
    from pipelines.retrieval.refresh import build_embedding_index
    from pipelines.training.dssm import train

    root = tmp_path_factory.mktemp("arms")
    cfg = load_model_config("tiny")
    cfg = replace(cfg, train=replace(cfg.train, lr=1e-9, max_epochs=1))
    train(tiny_run["data"], cfg, root / "untrained", tokenizer_dir=tiny_run["tokenizer"])
    build_embedding_index(IndexConfig(), root / "untrained", tiny_run["data"], root / "untrained_index")
    return root, {"control": root / "untrained_index", "treatment": tiny_run["index"]}


def experiment(path: Path, mode: str, indexes: dict[str, Path], shares=(0.5, 0.5)) -> Path:
    lines = [f"name: planted-{mode}-{shares[0]}", "salt: test", f"mode: {mode}", "arms:"]
    for (name, index), share in zip(indexes.items(), shares):
        lines.append(f"  - {{name: {name}, index: {index}" + (f", share: {share}}}" if mode == "ab" else "}"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def serve(exp: Path, log_dir: Path, data: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    argv = [sys.executable, "-m", "pipelines.cli", "serve", "--experiment", str(exp), "--log-dir", str(log_dir), "--data", str(data),
            "--port", str(port), "--log-rotate-s", "2"]
    return start_server(argv, port, timeout_s=120), f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def test_ab_through_the_service_recovers_the_planted_effect(arms, tiny_run, tmp_path, capsys):
    root, indexes = arms
    exp = experiment(tmp_path / "ab.yaml", "ab", indexes)
    proc, url = serve(exp, tmp_path / "log", tiny_run["data"])
    try:
        out = run_traffic(TrafficConfig(users=800, seed=1), BEHAVIOUR, url, tiny_run["data"], tmp_path / "traffic", exp)
    finally:
        stop(proc)
    t = out["traffic"]
    assert t["errors"] == 0 and t["lists"] == 800 and t["responses"] > 0
    true = out["truth"]["metrics"]["responses"]["ate_treatment"]
    assert true > 0  # the trained tower's lists hold better matches: the planted effect
    result, _ = analyze_service_log(ABConfig(n_boot=500), tmp_path / "log", ["responses", "invites"])
    m = result["metrics"]["responses"]
    with capsys.disabled():
        print(f"\nA/B through the service: true {true:+.4f}, measured {m['diff']:+.4f} [{m['welch']['ci_low']:+.4f}, {m['welch']['ci_high']:+.4f}]")
    assert m["welch"]["ci_low"] <= true <= m["welch"]["ci_high"], (true, m["welch"])
    assert not result["srm"]["mismatch"] and result["srm"]["n_control"] + result["srm"]["n_treatment"] == 800
    assert cli.main(["ab", "analyze", "--log", str(tmp_path / "log"), "--metrics", "responses"]) == 0
    printed = capsys.readouterr().out
    assert "SRM ok" in printed and "users needed at 80% power" in printed


def test_a_45_55_split_is_flagged_against_a_50_50_design(arms, tiny_run, tmp_path):
    root, indexes = arms
    exp = experiment(tmp_path / "skew.yaml", "ab", indexes, shares=(0.45, 0.55))
    proc, url = serve(exp, tmp_path / "log", tiny_run["data"])
    try:
        out = run_traffic(TrafficConfig(users=2500, seed=2, concurrency=8), SimConfig(view_top=0.001), url, tiny_run["data"])
    finally:
        stop(proc)
    assert out["traffic"]["errors"] == 0
    design, _ = analyze_service_log(ABConfig(n_boot=100), tmp_path / "log", ["requests"])
    assert not design["srm"]["mismatch"]  # served as its own 45/55 design
    planted, _ = analyze_service_log(ABConfig(n_boot=100), tmp_path / "log", ["requests"], given={"expected_ratio": 0.5})
    assert planted["srm"]["mismatch"] and planted["srm"]["p_value"] < 1e-3


def test_interleaving_through_the_service_prefers_the_better_arm(arms, tiny_run, tmp_path):
    """1,200 users: with 600 one full-suite run read delta +0.038, p 0.023 (the delta moves between runs, +0.038 to +0.080, for a
    reason not found), which the p < 0.01 bar does not resolve."""
    root, indexes = arms
    exp = experiment(tmp_path / "il.yaml", "interleave", indexes)
    proc, url = serve(exp, tmp_path / "log", tiny_run["data"])
    try:
        out = run_traffic(TrafficConfig(users=1200, seed=3), BEHAVIOUR, url, tiny_run["data"])
    finally:
        stop(proc)
    assert out["traffic"]["errors"] == 0
    result, files = analyze_service_log(ABConfig(n_boot=100), tmp_path / "log", [], credit_event="response")
    r = result["primary_test"]
    print(f"\ninterleaving through the service: delta {r['mean_delta']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}], p {r['p_value']:.2e}")
    assert result["kind"] == "interleaving" and r["users"] == 1200
    assert r["mean_delta"] > 0 and r["p_value"] < 0.01 and r["users_preferring_treatment"] > r["users_preferring_control"]
    assert files["md"].exists()


def test_kill_minus_nine_loses_no_answered_list(arms, tiny_run, tmp_path):
    """Clients hammer a logging service; it is killed with SIGKILL mid-traffic. Every segment still reads, and every list
    a client got an answer for is in the log; the only extra lines are requests in flight at the kill."""
    import httpx

    root, indexes = arms
    exp = experiment(tmp_path / "ab.yaml", "ab", indexes)
    proc, url = serve(exp, tmp_path / "log", tiny_run["data"])
    import pandas as pd

    rid = pd.read_parquet(tiny_run["data"] / "resumes.parquet")["resume_id"].astype(str).tolist()
    answered: list[str] = []
    lock, stop_at = threading.Lock(), time.monotonic() + 60

    def client(c: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            i = 0
            while time.monotonic() < stop_at:
                try:
                    r = http.post("/recommend", json={"resume_id": rid[(c * 97 + i) % len(rid)], "k": 5, "user_id": f"k{c}-{i}"})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    with lock:
                        answered.append(r.json()["request_id"])
                i += 1

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(4)]
    for t in threads:
        t.start()
    time.sleep(4.0)  # more than one rotation (--log-rotate-s 2): sealed segments and an open WAL at the kill
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    for t in threads:
        t.join(timeout=30)
    assert len(answered) > 50
    for seg in (tmp_path / "log" / SEGMENT_DIR).glob("*.parquet"):
        pq.read_table(seg)  # every segment reads
    ServedLog(tmp_path / "log").close()  # the next start seals the WAL the killed process left
    logged = set(read_records(tmp_path / "log").query("kind == 'impression'")["request_id"])
    print(f"\nkill -9: {len(answered)} lists answered, {len(logged)} logged, {len(set(answered) - logged)} answered but not logged, "
          f"{len(logged - set(answered))} logged but unanswered (in flight at the kill), {len(list((tmp_path / 'log' / SEGMENT_DIR).glob('*.parquet')))} segments")
    assert set(answered) <= logged
    assert len(logged - set(answered)) <= 4  # at most one in-flight request per client

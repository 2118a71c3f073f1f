"""Experiments in the service: assignment, team-draft interleaving, the crash-safe log, POST /events, analysis of the log."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_index import HashEncoder, market

from dssm.errors import JobmatchError
from pipelines.data.dataset import write_dataset
from pipelines.evaluation.ab.analysis import ABConfig
from pipelines.evaluation.ab.live import ab_users, analyze_service_log, interleaving_test, interleaving_users
from pipelines.retrieval.experiment import ArmConfig, ExperimentConfig, load_experiment, team_draft, unit_hash
from pipelines.retrieval.refresh import refresh
from pipelines.retrieval.servedlog import SEGMENT_DIR, WAL_DIR, ServedLog, impressions, read_records
from pipelines.retrieval.service import Experiment, ServingState, create_app

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")


def two_arms(mode: str = "ab", shares=(0.5, 0.5)) -> ExperimentConfig:
    arms = [ArmConfig("control", "c", share=shares[0] if mode == "ab" else None), ArmConfig("treatment", "t", share=shares[1] if mode == "ab" else None)]
    return ExperimentConfig("exp", "salt", mode, arms)


def test_assignment_is_deterministic_and_follows_the_shares():
    cfg = two_arms(shares=(0.3, 0.7))
    users = [f"u{i}" for i in range(20_000)]
    arms = [cfg.assign(u) for u in users]
    assert arms == [cfg.assign(u) for u in users]
    share = np.mean([a == "treatment" for a in arms])
    assert abs(share - 0.7) < 4 * np.sqrt(0.21 / len(users))
    other = ExperimentConfig("exp", "another salt", "ab", cfg.arms)
    assert np.mean([other.assign(u) != a for u, a in zip(users, arms)]) > 0.3  # a new salt re-randomises
    assert 0 <= unit_hash("s", "x") < 1


@given(st.lists(st.integers(0, 30), max_size=15, unique=True), st.lists(st.integers(0, 30), max_size=15, unique=True),
       st.integers(1, 12), st.text(max_size=8))
@settings(max_examples=200, deadline=None)
def test_team_draft_properties(a, b, k, request_id):
    ra, rb = [f"x{i}" for i in a], [f"x{i}" for i in b]
    shown = team_draft({"A": ra, "B": rb}, k, "salt", request_id)
    items = [v for v, _ in shown]
    assert len(items) == len(set(items)) == min(k, len(set(ra) | set(rb)))
    for team, ranking in (("A", ra), ("B", rb)):
        picked = [v for v, t in shown if t == team]
        assert all(v in ranking for v in picked)
        assert [ranking.index(v) for v in picked] == sorted(ranking.index(v) for v in picked)  # each arm drafts in its own order
    n_a, n_b = sum(t == "A" for _, t in shown), sum(t == "B" for _, t in shown)
    if len(set(ra) | set(rb)) >= k + 2 and len(ra) >= k and len(rb) >= k:
        assert abs(n_a - n_b) <= 1  # both arms had enough: the teams stay balanced
    assert shown == team_draft({"A": ra, "B": rb}, k, "salt", request_id)


def test_experiment_file_errors_are_one_line(tmp_path):
    path = tmp_path / "exp.yaml"
    cases = {
        "name: e\nsalt: s\nmode: ab\narms:\n  - {name: a, index: x, share: 0.5}\n  - {name: b, index: y, share: 0.4}\n": "sum to 1",
        "name: e\nsalt: s\nmode: ab\narms:\n  - {name: a, index: x, share: 0.5}\n": "at least two arms",
        "name: e\nsalt: s\nmode: interleave\narms:\n  - {name: a, index: x, share: 0.5}\n  - {name: b, index: y, share: 0.5}\n": "leave out share",
        "name: e\nsalt: s\nmode: maybe\narms:\n  - {name: a, index: x, share: 0.5}\n  - {name: b, index: y, share: 0.5}\n": "mode must be",
        "name: e\nsalt: s\narms:\n  - {name: a, index: x, share: 0.5, colour: red}\n  - {name: b, index: y, share: 0.5}\n": "arms\\[0\\]: unknown key",
        "name: e\nsalt: s\narms: 3\n": "arms must be a list",
        "[1, 2": "not valid YAML",
    }
    for text, expected in cases.items():
        path.write_text(text, encoding="utf-8")
        with pytest.raises(JobmatchError, match=expected) as e:
            load_experiment(path)
        assert str(path) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(JobmatchError, match="not found"):
        load_experiment(tmp_path / "none.yaml")


def test_log_survives_a_crash_and_never_shows_a_partial_segment(tmp_path):
    log = ServedLog(tmp_path / "log", rotate_bytes=600, fsync_s=0.05)
    for i in range(40):
        log.append({"kind": "impression", "request_id": f"q{i}", "ts": 1.0 + i, "user_id": "u", "arm": "a",
                    "items": [{"vacancy_id": "v1", "position": 0, "score": 0.5, "team": None}]})
    log.rotate()
    assert list((tmp_path / "log" / SEGMENT_DIR).glob("*.parquet"))
    log.append({"kind": "event", "request_id": "q1", "ts": 99.0, "vacancy_id": "v1", "event": "view"})
    assert len(read_records(tmp_path / "log")) == 41  # readers see the open WAL's complete lines too
    # a crash: the process dies with lines in the WAL and a torn last line; nothing closes the log
    wal = next((tmp_path / "log" / WAL_DIR).glob("*.jsonl"))
    with open(wal, "ab") as f:
        f.write(b'{"kind": "impression", "request_id": "torn", "ts"')
    os.close(log._fd)
    log._stop.set()
    log._lock_file.close()
    again = ServedLog(tmp_path / "log")
    assert again.recovered == {"segments": 1, "lines": 1, "torn_lines": 1}
    records = read_records(tmp_path / "log")
    assert len(records) == 41 and "torn" not in set(records["request_id"])
    assert records["request_id"].is_unique or records.duplicated(["kind", "request_id", "vacancy_id", "event"]).sum() == 0
    with pytest.raises(JobmatchError, match="another service is writing"):
        ServedLog(tmp_path / "log")
    again.close()
    assert not list((tmp_path / "log" / WAL_DIR).glob("*.jsonl")) and len(read_records(tmp_path / "log")) == 41


@pytest.fixture()
def service(tmp_path, monkeypatch):
    """Two arms (HashEncoder seeds 0 and 3) over the same market, served in-process with a log."""
    from fastapi.testclient import TestClient

    vac, res = market(200, 40)
    write_dataset(tmp_path / "data", vac, res)
    for name, seed in (("c", 0), ("t", 3)):
        refresh(vac, tmp_path / name, HashEncoder(seed=seed), queries=res)

    def make(mode: str):
        cfg = ExperimentConfig("exp-" + mode, "salt", mode, [ArmConfig("control", str(tmp_path / "c"), share=0.5 if mode == "ab" else None),
                                                             ArmConfig("treatment", str(tmp_path / "t"), share=0.5 if mode == "ab" else None)])
        arms = {"control": ServingState(tmp_path / "c", lambda m: HashEncoder(seed=0), res), "treatment": ServingState(tmp_path / "t", lambda m: HashEncoder(seed=3))}
        log = ServedLog(tmp_path / f"log-{mode}")
        return TestClient(create_app(arms["control"], experiment=Experiment(cfg, arms), served_log=log)), log, arms

    return tmp_path, res, make


def test_ab_service_assigns_logs_and_counts_events_once(service):
    root, res, make = service
    client, log, arms = make("ab")
    seen = {}
    for i in range(30):
        rid = res["resume_id"].iloc[i % len(res)]
        body = client.post("/recommend", json={"resume_id": rid, "k": 5, "user_id": f"user{i % 12}"}).json()
        assert body["experiment"] == "exp-ab" and body["arm"] in ("control", "treatment") and body["request_id"]
        assert seen.setdefault(f"user{i % 12}", body["arm"]) == body["arm"]  # a user keeps the arm
        alone = arms[body["arm"]].current().recommend(res[res["resume_id"] == rid], 5)[0]
        assert [it["vacancy_id"] for it in body["items"]] == list(alone["vacancy_id"])  # exactly that arm's list
    unassigned = client.post("/recommend", json={"resume_id": res["resume_id"].iloc[0], "k": 3}).json()
    assert unassigned["arm"] == "control"
    first = client.post("/recommend", json={"resume_id": res["resume_id"].iloc[0], "k": 3, "user_id": "user0"}).json()
    v = first["items"][0]["vacancy_id"]
    event = {"request_id": first["request_id"], "vacancy_id": v, "event": "response"}
    assert client.post("/events", json=event).json() == {"status": "logged"}
    assert client.post("/events", json=event).json() == {"status": "duplicate"}
    cases = [({**event, "request_id": "nope"}, 404, "unknown request id"), ({**event, "vacancy_id": "v9999"}, 422, "was not shown"),
             ({**event, "event": "click"}, 422, "body.event"), ({**event, "extra": 1}, 422, "extra")]
    for body, status, detail in cases:
        r = client.post("/events", json=body)
        assert r.status_code == status and detail in r.json()["detail"] and "\n" not in r.json()["detail"]
    records = read_records(root / "log-ab")
    assert (records["kind"] == "impression").sum() == 32 and (records["kind"] == "event").sum() == 1
    assert records.loc[records["request_id"] == unassigned["request_id"], "user_id"].isna().all()
    users, _ = ab_users(root / "log-ab")
    assert set(users["user_id"]) == {f"user{i}" for i in range(12)}  # the unassigned request is not a user
    assert users.loc[users["user_id"] == "user0", "responses"].item() == 1 and users["requests"].sum() == 31
    log.close()
    client2, log2, _ = make("ab")  # a restarted service still knows the lists and the events they got
    assert client2.post("/events", json=event).json() == {"status": "duplicate"}
    assert client2.post("/events", json={**event, "event": "invite"}).json() == {"status": "logged"}
    log2.close()


def test_interleaved_lists_merge_both_arms_and_credit_their_teams(service):
    root, res, make = service
    client, log, arms = make("interleave")
    for i in range(20):
        rid = res["resume_id"].iloc[i]
        body = client.post("/recommend", json={"resume_id": rid, "k": 6, "user_id": f"u{i}"}).json()
        assert body["arm"] == "interleave"
        own = {name: list(s.current().recommend(res[res["resume_id"] == rid], 6)[0]["vacancy_id"]) for name, s in arms.items()}
        assert [(it["vacancy_id"], it["team"]) for it in body["items"]] == team_draft(own, 6, "salt", body["request_id"])
        treat = next(it for it in body["items"] if it["team"] == "treatment")
        assert client.post("/events", json={"request_id": body["request_id"], "vacancy_id": treat["vacancy_id"], "event": "response"}).status_code == 200
    log.close()
    users, exp = interleaving_users(root / "log-interleave")
    assert exp["mode"] == "interleave" and len(users) == 20
    assert users["response_treatment"].sum() == 20 and users["response_control"].sum() == 0
    r = interleaving_test(users, "control", "treatment", "response")
    assert r["mean_delta"] == 1.0 and r["users_preferring_treatment"] == 20 and r["significant"]
    shown = impressions(read_records(root / "log-interleave"))
    assert set(shown["team"]) == {"control", "treatment"}


def test_ab_analysis_of_a_log_recovers_a_planted_effect_and_flags_srm(tmp_path):
    """Synthetic log written through ServedLog: treatment users respond with p 0.3, control 0.2."""
    rng = np.random.default_rng(0)

    def write(folder, shares, n=3000):
        cfg = ExperimentConfig("e", "s", "ab", [ArmConfig("control", "c", share=shares[0]), ArmConfig("treatment", "t", share=shares[1])])
        log = ServedLog(folder)
        log.record_experiment(cfg.describe())
        for i in range(n):
            arm = cfg.assign(f"u{i}")
            log.append({"kind": "impression", "request_id": f"q{i}", "ts": float(i), "experiment": "e", "mode": "ab", "user_id": f"u{i}", "arm": arm,
                        "items": [{"vacancy_id": "v1", "position": 0, "score": 1.0, "team": None}]})
            if rng.random() < (0.3 if arm == "treatment" else 0.2):
                log.append({"kind": "event", "request_id": f"q{i}", "ts": float(i), "experiment": "e", "user_id": f"u{i}", "arm": arm, "vacancy_id": "v1", "event": "response"})
        log.close()

    write(tmp_path / "fair", (0.5, 0.5))
    result, files = analyze_service_log(ABConfig(n_boot=200), tmp_path / "fair", ["responses"])
    m = result["metrics"]["responses"]
    assert m["welch"]["ci_low"] <= 0.1 <= m["welch"]["ci_high"] and m["significant"] and not result["srm"]["mismatch"]
    assert files["html"].exists() and result["users_needed_80"]["responses"] > 100
    write(tmp_path / "skewed", (0.45, 0.55))
    assert not analyze_service_log(ABConfig(n_boot=200), tmp_path / "skewed", ["responses"])[0]["srm"]["mismatch"]  # its own design
    flagged, _ = analyze_service_log(ABConfig(n_boot=200), tmp_path / "skewed", ["responses"], given={"expected_ratio": 0.5})
    assert flagged["srm"]["mismatch"]
    with pytest.raises(JobmatchError, match="no arm 'x'"):
        analyze_service_log(ABConfig(n_boot=200), tmp_path / "fair", ["responses"], given={"treatment": "x"})
    with pytest.raises(JobmatchError, match="no experiment 'other'"):
        analyze_service_log(ABConfig(n_boot=200), tmp_path / "fair", ["responses"], experiment="other")
    assert json.loads(files["json"].read_text())["experiment"]["name"] == "e"
    assert isinstance(pd.read_csv(tmp_path / "fair" / "ab_report" / "users.csv"), pd.DataFrame)


def test_cuped_from_a_pre_period_log_shrinks_the_interval(tmp_path):
    """Users differ in propensity; a pre-period service log of the same users makes CUPED's CI narrower than Welch's."""
    rng = np.random.default_rng(1)
    cfg = ExperimentConfig("e", "s", "ab", [ArmConfig("control", "c", share=0.5), ArmConfig("treatment", "t", share=0.5)])
    propensity = rng.gamma(0.5, 3.0, 2000)

    def write(folder, experiment):
        log = ServedLog(folder)
        if experiment:
            log.record_experiment(cfg.describe())
        for i, lam in enumerate(propensity):
            arm = cfg.assign(f"u{i}")
            log.append({"kind": "impression", "request_id": f"{folder.name}{i}", "ts": float(i), "experiment": "e" if experiment else None,
                        "mode": "ab" if experiment else None, "user_id": f"u{i}", "arm": arm if experiment else None,
                        "items": [{"vacancy_id": f"v{j}", "position": j, "score": 1.0, "team": None} for j in range(10)]})
            n = min(10, rng.poisson(lam * (1.2 if experiment and arm == "treatment" else 1.0)))
            for j in range(n):
                log.append({"kind": "event", "request_id": f"{folder.name}{i}", "ts": float(i), "experiment": "e" if experiment else None,
                            "user_id": f"u{i}", "vacancy_id": f"v{j}", "event": "response"})
        log.close()

    write(tmp_path / "pre", False)
    write(tmp_path / "test", True)
    result, _ = analyze_service_log(ABConfig(n_boot=200), tmp_path / "test", ["responses"], covariates={"responses": "pre_responses"}, pre_log=tmp_path / "pre")
    m = result["metrics"]["responses"]
    assert m["primary_test"] == "cuped"
    assert m["cuped"]["ci_high"] - m["cuped"]["ci_low"] < 0.8 * (m["welch"]["ci_high"] - m["welch"]["ci_low"])
    with pytest.raises(JobmatchError, match="--pre-log"):
        analyze_service_log(ABConfig(n_boot=200), tmp_path / "test", ["responses"], covariates={"responses": "pre_responses"})

"""`jobmatch demo` end to end on a tiny synthetic market with tiny models: every stage, the results table, reuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.demo import DemoConfig, format_summary, plan

TINY = ["--vacancies", "300", "--resumes", "200", "--production-config", "tiny", "--teacher-config", "tiny_teacher", "--n-boot", "200"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("demo") / "run"


def test_demo_runs_every_stage_and_prints_the_table(demo_run, capsys):
    assert main(["demo", "--out", str(demo_run), *TINY, "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    names = [s.name for s in plan(DemoConfig(out=demo_run))]
    assert [s["stage"] for s in result["stages"]] == names and not any(s["reused"] for s in result["stages"])
    assert f"[1/{len(names)}] synth" in captured.err and f"[{len(names)}/{len(names)}] ab_analyze: done" in captured.err
    s = result["summary"]
    assert set(s["arms"]) == {"control", "treatment", "teacher", "textrank", "tfidf", "popularity"}
    for arm in s["arms"].values():
        lo, hi = arm["recall@100"]["ci"]
        assert 0.0 <= lo <= arm["recall@100"]["mean"] <= hi <= 1.0
    d = s["arms"]["treatment"]["vs_control"]["recall@100"]
    assert d["ci"][0] <= d["diff"] <= d["ci"][1]
    assert set(s["ab"]["metrics"]) == {"responses", "views", "invites", "responses/views"}
    assert all(r["true"] is not None for r in s["ab"]["metrics"].values())
    for report in s["reports"].values():
        assert Path(report).is_file()
    text = format_summary(s)
    assert "treatment" in text and "A/B replay" in text and "true" in text
    assert json.loads((demo_run / "demo.json").read_text())["summary"] == s


def test_rerun_reuses_finished_stages_and_force_reruns_downstream(demo_run, capsys):
    assert main(["demo", "--out", str(demo_run), *TINY]) == 0
    out = capsys.readouterr()
    assert "14 reused" in out.out and "offline evaluation" in out.out
    # a changed evaluation setting reruns evaluate and everything after it, nothing before
    assert main(["demo", "--out", str(demo_run), *TINY[:-1], "300", "--json"]) == 0
    stages = {s["stage"]: s["reused"] for s in json.loads(capsys.readouterr().out)["stages"]}
    assert stages["control"] and stages["index"] and not stages["evaluate"] and not stages["ab_analyze"]


def test_bad_inputs_are_clear_errors(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "r"), "--data", str(tmp_path / "nothing")]) == 2
    assert "no vacancies.parquet" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path / "r"), "--vacancies", "3"]) == 2
    assert "at least 10 vacancies" in capsys.readouterr().err

"""`jobmatch demo` end to end on a tiny synthetic market with tiny models: every stage, the results table, reuse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from dssm.errors import JobmatchError
from pipelines.cli import main
from pipelines.demo import DemoConfig, format_summary, plan, pool_run, summary

TINY = ["--vacancies", "300", "--resumes", "200", "--production-config", "tiny", "--teacher-config", "tiny_teacher", "--labeller-config", "tiny_labeller",
        "--textrank", "--oracle", "--n-boot", "200"]
ARMS = dict(textrank=True, oracle=True)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("demo") / "run"


def test_demo_runs_every_stage_and_prints_the_table(demo_run, capsys):
    assert main(["demo", "--out", str(demo_run), *TINY, "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    names = [s.name for s in plan(DemoConfig(out=demo_run, **ARMS))]
    assert [s["stage"] for s in result["stages"]] == names and not any(s["reused"] for s in result["stages"])
    assert f"[1/{len(names)}] synth" in captured.err and f"[{len(names)}/{len(names)}] ab_analyze: done" in captured.err
    s = result["summary"]
    assert set(s["arms"]) == {"control", "treatment", "teacher", "textrank", "oracle", "tfidf", "popularity"}
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
    n = len(plan(DemoConfig(out=demo_run, **ARMS)))
    assert f"{n} reused" in out.out and "offline evaluation" in out.out
    # a changed evaluation setting reruns evaluate and everything after it, nothing before
    assert main(["demo", "--out", str(demo_run), *TINY[:-1], "300", "--json"]) == 0
    stages = {s["stage"]: s["reused"] for s in json.loads(capsys.readouterr().out)["stages"]}
    assert stages["control"] and stages["index"] and not stages["evaluate"] and not stages["ab_analyze"]


def test_seeds_pool_paired_over_the_same_resumes(demo_run, tmp_path):
    """Two seeds whose evaluations are copies of the tiny run's: the pooled figures equal that run's, each seed's difference is listed."""
    run = tmp_path / "run"
    for d in (run, run / "seed7"):
        shutil.copytree(demo_run / "reports", d / "reports", ignore=shutil.ignore_patterns("rankings", "*.html"))
    cfg = DemoConfig(out=run, seeds=(0, 7), **ARMS)
    assert [st.name for st in plan(cfg)][-1] == "pool" and "seed7.production" in [st.name for st in plan(cfg)]
    pool_run(run, (0, 7), n_boot=200)
    one = json.loads((demo_run / "reports" / "eval.json").read_text())
    s = summary(cfg)
    assert s["seeds"] == [0, 7] and s["n_held_out_resumes"] == one["n_users_with_positives"]
    d, ref = s["arms"]["treatment"]["vs_control"]["recall@100"], one["vs_control"]["treatment"]["recall@100"]
    assert d["diff"] == pytest.approx(ref["diff"]) and d["per_seed"] == pytest.approx([ref["diff"]] * 2)
    assert s["arms"]["oracle"]["recall@100"]["mean"] == pytest.approx(one["arms"]["oracle"]["metrics"]["recall@100"]["mean"])
    text = format_summary(s)
    assert "2 training seeds pooled" in text and "diff per seed (0 / 7)" in text
    (run / "seed7" / "reports" / "per_user.parquet").unlink()
    frame = pd.read_parquet(demo_run / "reports" / "per_user.parquet")
    frame[frame["resume_id"] != frame["resume_id"].iloc[0]].to_parquet(run / "seed7" / "reports" / "per_user.parquet")
    with pytest.raises(JobmatchError, match="different held-out resumes"):
        pool_run(run, (0, 7), n_boot=200)


def test_bad_inputs_are_clear_errors(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "r"), "--data", str(tmp_path / "nothing")]) == 2
    assert "no vacancies.parquet" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path / "r"), "--vacancies", "3"]) == 2
    assert "at least 10 vacancies" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path / "r"), "--seeds", "1", "1"]) == 2
    assert "seeds must be distinct" in capsys.readouterr().err

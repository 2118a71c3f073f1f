"""Kill matrix: every writing stage is `kill -9`-ed at seeded random moments while it replaces an artifact.

For each stage (train, label, summarizer train, summarize, index build, refresh, refresh on a local Ray) on a private copy
of the tiny run: one complete run (its wall time D sets the kill window), then `JOBMATCH_KILL_TRIALS`
runs (default 2) killed after a seeded uniform delay in [0.2 D, 1.05 D], each followed by the checks

- the artifact at the final name loads, and is either the previous one byte for byte or a complete new one;
- nothing new and visible (no partial file) sits beside it: leftovers are hidden temporaries only;
- for an index: the previously served version is unchanged and every listed version loads;

and finally a rerun completes. What each trial hit is printed (`pytest -s`): killed before the swap
(previous kept), or finished (new complete).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.retrieval.index import current_version, list_versions

TRIALS = int(os.environ.get("JOBMATCH_KILL_TRIALS", "2"))
"""Killed runs per stage."""
ROOT = Path(__file__).resolve().parents[1]


def snapshot(path: Path) -> dict[str, str]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path)) if p != path else "": hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def visible(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


def loads_model(path: Path) -> None:
    from pipelines.artifacts import load_encoder

    load_encoder(path)


def loads_labels(path: Path) -> None:
    from pipelines.artifacts import read_labels

    assert len(read_labels(path))


def loads_summarizer(path: Path) -> None:
    from pipelines.artifacts import load_summarizer

    load_summarizer(path)


def loads_dataset(path: Path) -> None:
    from pipelines.data.dataset import load_dataset, read_preprocess

    load_dataset(path)
    assert read_preprocess(path) is not None


def loads_index(root: Path) -> None:
    from pipelines.retrieval.index import EmbeddingIndex, list_versions

    EmbeddingIndex.load(root)
    for version in list_versions(root):
        EmbeddingIndex.load(root, version)
    assert not [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in list_versions(root)], "a partial version dir"


@dataclass
class Stage:
    name: str
    argv: Callable[[Path, Path], list[str]]
    """(work dir, market) -> the command's argv."""
    out: str
    """The artifact it replaces, relative to the work dir."""
    loads: Callable[[Path], None]


STAGES = [
    Stage("train", lambda w, m: ["train", "--data", f"{w}/summaries", "--config", "tiny", "--out", f"{w}/production", "--tokenizer", f"{w}/tokenizer", "--force"],
          "production", loads_model),
    Stage("label", lambda w, m: ["label", "--teacher", f"{w}/teacher", "--data", str(m), "--out", f"{w}/labels.parquet", "--force"], "labels.parquet", loads_labels),
    Stage("summarizer train", lambda w, m: ["summarizer", "train", "--labels", f"{w}/labels.parquet", "--data", str(m), "--tokenizer", f"{w}/tokenizer",
                                            "--out", f"{w}/summarizer", "--force"], "summarizer", loads_summarizer),
    Stage("summarize", lambda w, m: ["summarize", "--summarizer", f"{w}/summarizer", "--data", str(m), "--out", f"{w}/summaries", "--force"], "summaries", loads_dataset),
    Stage("index build", lambda w, m: ["index", "build", "--model", f"{w}/production", "--data", str(m), "--summarizer", f"{w}/summarizer", "--out", f"{w}/index"],
          "index", loads_index),
    Stage("refresh", lambda w, m: ["refresh", "--data", str(m), "--run", str(w), "--full"], "index", loads_index),
    Stage("refresh on ray", lambda w, m: ["refresh", "--data", str(m), "--run", str(w), "--full", "--engine", "ray"], "index", loads_index),
]


def cli(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *argv]


ENV = {**os.environ, "CI": "true"}


@pytest.mark.parametrize("stage", STAGES, ids=[s.name for s in STAGES])
def test_kill_minus_nine_never_loses_or_half_writes_an_artifact(stage, tiny_run, tmp_path):
    work = Path(shutil.copytree(tiny_run["run"], tmp_path / "run", symlinks=True))
    argv, out = stage.argv(work, tiny_run["data"]), work / stage.out
    rng = random.Random(f"kill-matrix/{stage.name}")
    t0 = time.perf_counter()
    done = subprocess.run(cli(argv), capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    duration = time.perf_counter() - t0
    stage.loads(out)
    before, beside = snapshot(out), visible(out.parent)
    served = None
    if stage.out == "index":
        served = current_version(out)
        served_files = snapshot(out / served)
    outcomes = []
    for _ in range(TRIALS):
        proc = subprocess.Popen(cli(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, cwd=ROOT)
        time.sleep(rng.uniform(0.2, 1.05) * duration)
        proc.kill()
        proc.wait(timeout=60)
        stage.loads(out)
        assert visible(out.parent) <= beside | {out.name}, f"partial output beside {out}: {visible(out.parent) - beside}"
        if served is not None:
            assert snapshot(out / served) == served_files, "the previously served version changed"
            assert visible(out) - {"CURRENT", "history.json", "refresh_log.jsonl"} <= set(list_versions(out))
        outcomes.append("finished" if proc.returncode == 0 else ("killed, previous kept" if snapshot(out) == before else "killed after the swap, new complete"))
        before = snapshot(out)
    again = subprocess.run(cli(argv), capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=600)
    assert again.returncode == 0, again.stderr
    stage.loads(out)
    print(f"\nkill matrix {stage.name}: full run {duration:.1f} s; {TRIALS} kills: {', '.join(outcomes)}; rerun ok")

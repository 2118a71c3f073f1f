"""Nightly refresh: only new/changed rows re-embedded, idempotent, checks gate the switch, SIGKILL leaves the old version served."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_index import HashEncoder, market

from dssm.errors import JobmatchError
from pipelines.retrieval import index as ix
from pipelines.retrieval import refresh as refresh_module
from pipelines.retrieval.refresh import index_lock, refresh

TESTS = Path(__file__).resolve().parent


def change_one_percent(vac: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Edit 1% of descriptions (bumping updated_at), drop one row, add one row."""
    vac = vac.copy()
    rows = np.arange(0, len(vac), 100)
    vac.loc[rows, "description"] = [f"<p>nurse nurseskill новая редакция {i}</p>" for i in rows]
    vac.loc[rows, "updated_at"] = pd.Timestamp("2026-01-01")
    new = vac.iloc[[5]].assign(vacancy_id="v-new", description="<p>cook cookskill свежая</p>")
    return pd.concat([vac.drop(index=[7]), new], ignore_index=True), vac.vacancy_id[rows].tolist()


def test_refresh_reembeds_only_changed_and_is_idempotent(tmp_path):
    vac, res = market(600, 10)
    enc = HashEncoder()
    first = refresh(vac, tmp_path, enc, queries=res)
    assert first.action == "built" and first.embedded == 600 and ix.current_version(tmp_path) == first.version
    again = refresh(vac, tmp_path, enc, queries=res)
    assert again.action == "up_to_date" and again.version is None and enc.calls == [600, 10]

    changed_vac, changed_ids = change_one_percent(vac)
    enc.calls.clear()
    rep = refresh(changed_vac, tmp_path, enc, queries=res)
    assert (rep.action, rep.changed, rep.new, rep.removed, rep.embedded, rep.reused) == ("refreshed", 6, 1, 1, 7, 593)
    assert enc.calls[0] == 7 and rep.checks["ok"] and rep.current_version == rep.version != first.version
    idx = ix.EmbeddingIndex.load(tmp_path)
    assert idx.n == 600 and "v0007" not in set(idx.ids) and "v-new" in set(idx.ids)
    full = HashEncoder().embed(changed_vac, "vacancies")
    np.testing.assert_allclose(np.asarray(idx.emb), full, atol=1e-6)  # reused + re-embedded rows == a full re-embed
    _, rows = idx.search(full[changed_vac.vacancy_id.isin(changed_ids).to_numpy()], 1)
    assert set(idx.ids[rows[:, 0]]) == set(changed_ids)
    assert refresh(changed_vac, tmp_path, enc).action == "up_to_date"
    log = [json.loads(line) for line in (tmp_path / "refresh_log.jsonl").read_text().splitlines()]
    assert [entry["action"] for entry in log] == ["built", "up_to_date", "refreshed", "up_to_date"]
    touched = changed_vac.assign(updated_at=changed_vac.updated_at + pd.Timedelta("1h"))
    enc.calls.clear()
    rep = refresh(touched, tmp_path, enc)
    assert rep.touched == 600 and rep.embedded == 0 and enc.calls == []


def test_new_model_reembeds_everything_and_failed_checks_keep_current(tmp_path, monkeypatch):
    vac, _ = market(200)
    refresh(vac, tmp_path, HashEncoder())
    served = ix.current_version(tmp_path)
    rep = refresh(vac, tmp_path, HashEncoder(seed=3))
    assert rep.action == "built" and rep.embedded == 200 and "model changed" in rep.reason
    served = ix.current_version(tmp_path)

    bad = vac.assign(description=vac.description + " правка")
    real_check = refresh_module.check_version

    def failing_check(*args, **kwargs):  # the real checks, then a recall below the bar
        return {**real_check(*args, **kwargs), "recall@10": 0.0, "ok": False}

    monkeypatch.setattr(refresh_module, "check_version", failing_check)
    rep = refresh(bad, tmp_path, HashEncoder(seed=3))
    assert rep.action == "rejected" and not rep.checks["ok"] and ix.current_version(tmp_path) == served
    assert rep.version in ix.list_versions(tmp_path)  # built and kept for inspection, not served


def test_lock_refuses_a_second_refresh(tmp_path):
    with index_lock(tmp_path):
        with pytest.raises(JobmatchError, match="another index build"):
            refresh(market(10)[0], tmp_path, HashEncoder())


CHILD = """
import sys, time, pandas as pd
sys.path.insert(0, {tests!r})
from test_index import HashEncoder
from pipelines.retrieval.refresh import refresh
from pathlib import Path
def stage(name):
    if name == {stage!r}:
        Path({marker!r}).write_text(name)
        time.sleep(60)
refresh(pd.read_parquet({data!r}), {root!r}, HashEncoder(), on_stage=stage)
"""


@pytest.mark.parametrize("stage", ["embedded", "built"])
def test_sigkill_midway_leaves_old_version_served(tmp_path, stage):
    from fastapi.testclient import TestClient

    from pipelines.retrieval.service import ServingState, create_app

    vac, res = market(300, 5)
    root = tmp_path / "index"
    old = refresh(vac, root, HashEncoder()).version
    client = TestClient(create_app(ServingState(root, lambda m: HashEncoder(), res, reload_interval_s=0.0)))
    changed, _ = change_one_percent(vac)
    changed.to_parquet(tmp_path / "vac.parquet")
    marker = tmp_path / "marker"
    code = CHILD.format(tests=str(TESTS), stage=stage, marker=str(marker), data=str(tmp_path / "vac.parquet"), root=str(root))
    child = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "CI": "true"})
    deadline = time.time() + 60
    while not marker.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "child never reached the stage"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert ix.current_version(root) == old
    health = client.get("/health").json()
    assert health["index_version"] == old and health["n"] == 300
    r = client.post("/recommend", json={"resume_id": "r001", "k": 3})
    assert r.status_code == 200 and r.json()["index_version"] == old
    assert ix.EmbeddingIndex.load(root).n == 300
    rep = refresh(changed, root, HashEncoder())  # the next run cleans up and succeeds
    assert rep.action == "refreshed" and rep.embedded == 4  # 3 edited + 1 new
    assert not list(root.glob(".*.tmp"))
    assert client.get("/health").json()["index_version"] == rep.version

"""The Ray engine of encode, index build and refresh: the local engine's embeddings (max abs difference <= 1e-6)
from a local Ray with two CPUs, the same incremental refresh, and one-line errors for bad engine flags.

One Ray session serves the module (`ray_session` uses an initialised Ray as it is); the kill test for a Ray
refresh is in tests/test_kill.py (a subprocess with its own Ray).
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from dssm.errors import JobmatchError
from pipelines.data.dataset import load_dataset, write_dataset
from pipelines.retrieval.encode import encode
from pipelines.retrieval.index import EmbeddingIndex, IndexConfig
from pipelines.retrieval.refresh import Engine, build_embedding_index, refresh_index

ray = pytest.importorskip("ray", reason="the Ray engine needs ray[data] (installed by make install)")
RAY = Engine("ray")
TOLERANCE = 1e-6


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def embeddings(root) -> tuple[np.ndarray, np.ndarray]:
    idx = EmbeddingIndex.load(root)
    return idx.ids, np.asarray(idx.emb)


def test_encode_on_ray_equals_local(tiny_run, tmp_path):
    local, shards = tmp_path / "local.parquet", tmp_path / "ray"
    encode(tiny_run["production"], tiny_run["data"], "resumes", local)
    summary = encode(tiny_run["production"], tiny_run["data"], "resumes", shards, engine=RAY)
    a, b = pd.read_parquet(local), pd.read_parquet(shards)
    assert shards.is_dir() and len(list(shards.glob("*.parquet"))) >= 1 and summary["n"] == len(a) == 200
    assert a["resume_id"].tolist() == b["resume_id"].tolist()  # the dataset's row order
    assert np.abs(np.stack(a["embedding"]) - np.stack(b["embedding"])).max() <= TOLERANCE
    with pytest.raises(JobmatchError, match="local engine only"):
        encode(tiny_run["production"], tiny_run["data"], "resumes", tmp_path / "attn", attention=True, engine=RAY)


def test_index_build_and_incremental_refresh_on_ray_equal_local(tiny_run, tmp_path):
    run = tiny_run
    roots = {name: tmp_path / name for name in ("local", "ray")}
    for name, root in roots.items():
        build_embedding_index(IndexConfig(), run["production"], run["data"], root, summarizer_dir=run["summarizer"], engine=RAY if name == "ray" else None)
    (ids_a, a), (ids_b, b) = embeddings(roots["local"]), embeddings(roots["ray"])
    assert (ids_a == ids_b).all() and np.abs(a - b).max() <= TOLERANCE

    data = tmp_path / "today"
    shutil.copytree(run["data"], data)
    ds = load_dataset(data)
    vac = ds.vacancies.copy()
    vac.loc[[0, 1, 2], "description"] = ["<p>Новая редакция: требуется опыт Kubernetes и Go.</p>"] * 3
    vac = pd.concat([vac.drop(index=[3]), vac.iloc[[4]].assign(vacancy_id="v-new")], ignore_index=True)
    inter = ds.interactions[ds.interactions["vacancy_id"].isin(vac["vacancy_id"])]
    write_dataset(data, vac, ds.resumes, inter)
    reports = {name: refresh_index(IndexConfig(), data, run["run"], index_root=root, engine=RAY if name == "ray" else None) for name, root in roots.items()}
    got = {name: (r.action, r.new, r.changed, r.removed, r.embedded) for name, r in reports.items()}
    assert got["ray"] == got["local"] == ("refreshed", 1, 3, 1, 4)
    (ids_a, a), (ids_b, b) = embeddings(roots["local"]), embeddings(roots["ray"])
    assert (ids_a == ids_b).all() and np.abs(a - b).max() <= TOLERANCE
    assert not list(roots["ray"].glob(".*.tmp"))  # the shards' scratch folder is gone


@pytest.mark.parametrize("engine, message", [(dict(name="spark"), "--engine must be one of"), (dict(name="local", address="10.0.0.1:6379"), "go with --engine ray"),
                                             (dict(name="ray", actors=0), "--actors must be >= 1")])
def test_bad_engine_flags(engine, message):
    with pytest.raises(JobmatchError, match=message):
        Engine(**engine)

"""Vacancy index: exact/IVF/HNSW build, manifest, versions, CURRENT switch and rollback, filtered search.

`HashEncoder` (defined here, imported by the other retrieval tests) stands in for
`dssm.encode.Encoder`: hashed bag of words -> fixed random projection -> L2 norm. It is
deterministic, so known answers hold: a resume made of a vacancy's words ranks that vacancy first.
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest

from dssm.errors import JobmatchError
from pipelines.retrieval import index as ix

ROLES = ["python", "java", "sales", "driver", "nurse", "cook", "teacher", "lawyer"]
AREAS = ["Москва", "Санкт-Петербург", "Казань"]


class HashEncoder:
    """Stand-in encoder: words hashed into 512 buckets, projected to `dim`, L2-normalised."""

    def __init__(self, dim: int = 32, seed: int = 0):
        self.dim = dim
        self.proj = np.random.default_rng(seed).normal(size=(512, dim)).astype(np.float32)
        self.model_hash = hashlib.sha256(self.proj.tobytes()).hexdigest()
        self.calls: list[int] = []

    def embed(self, df: pd.DataFrame, kind: str) -> np.ndarray:
        self.calls.append(len(df))
        body = "description" if kind == "vacancies" else "text"
        x = np.zeros((len(df), 512), np.float32)
        for i, (t, b) in enumerate(zip(df["title"].fillna(""), df[body].fillna(""))):
            for w in re.findall(r"\w+", f"{t} {b}".lower()):
                x[i, int(hashlib.md5(w.encode()).hexdigest()[:6], 16) % 512] += 1.0
        e = x @ self.proj  # (N, D)
        return (e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9)).astype(np.float32)


def market(n_vac: int = 120, n_res: int = 20, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tiny hh-like market: each vacancy has a role word set plus a unique token; salaries partly missing."""
    rng = np.random.default_rng(seed)
    roles = rng.integers(0, len(ROLES), n_vac)
    sal = rng.integers(30, 300, n_vac).astype(float) * 1000
    sal[rng.random(n_vac) < 0.2] = np.nan
    vac = pd.DataFrame({
        "vacancy_id": [f"v{i:04d}" for i in range(n_vac)],
        "title": [f"{ROLES[r]} специалист" for r in roles],
        "description": [f"<p>Ищем {ROLES[r]} {ROLES[r]}skill опыт uniq{i}x</p>" for i, r in enumerate(roles)],
        "area": rng.choice(AREAS, n_vac),
        "salary_from": sal,
        "salary_to": sal * 1.3,
        "updated_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 1000, n_vac), unit="h"),
    })
    rroles = rng.integers(0, len(ROLES), n_res)
    res = pd.DataFrame({
        "resume_id": [f"r{i:03d}" for i in range(n_res)],
        "title": [ROLES[r] for r in rroles],
        "text": [f"опыт {ROLES[r]} {ROLES[r]}skill" for r in rroles],
        "area": rng.choice(AREAS, n_res),
        "salary": rng.integers(30, 200, n_res).astype(float) * 1000,
    })
    return vac, res


def test_exact_index_known_answer_manifest_and_files(tmp_path):
    vac, _ = market()
    enc = HashEncoder()
    emb = enc.embed(vac, "vacancies")
    v = ix.build_index(tmp_path, vac, emb, enc.model_hash, extra={"model_dir": "x"})
    assert ix.list_versions(tmp_path) == [v] and ix.current_version(tmp_path) is None
    m = json.loads((tmp_path / v / "manifest.json").read_text())
    assert m["index_type"] == "flat" and m["n"] == 120 and m["dim"] == 32 and m["metric"] == "inner_product"
    assert m["recall_at_10"] == 1.0 and m["model_hash"] == enc.model_hash and "faiss" in m["versions"]
    idx = ix.EmbeddingIndex.load(tmp_path, v)
    scores, rows = idx.search(emb[[7, 50]], 3)
    assert list(idx.ids[rows[:, 0]]) == ["v0007", "v0050"]
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    with pytest.raises(JobmatchError, match="no CURRENT"):
        ix.EmbeddingIndex.load(tmp_path)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_ann_index_recall_against_exact(tmp_path, kind):
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(20, 16))
    x = centers[rng.integers(0, 20, 3000)] + 0.3 * rng.normal(size=(3000, 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    vac = pd.DataFrame({"vacancy_id": [f"v{i}" for i in range(3000)], "title": "t", "description": "d"})
    cfg = ix.IndexConfig(index_type=kind, nprobe=8, recall_sample=100)
    v = ix.build_index(tmp_path, vac, x, "h", cfg)
    m = ix.read_manifest(tmp_path, v)
    assert m["index_type"] == kind and m["recall_at_10"] >= 0.9
    if kind == "ivf":
        assert m["params"]["nlist"] == ix.default_nlist(3000) and m["params"]["trained_on_gpu"] is False


def test_auto_type_by_size():
    cfg = ix.IndexConfig(flat_max=100)
    assert ix.choose_index_type(100, cfg) == "flat" and ix.choose_index_type(101, cfg) == "ivf"
    assert ix.choose_index_type(10, ix.IndexConfig(index_type="hnsw")) == "hnsw"
    with pytest.raises(ValueError):
        ix.IndexConfig(index_type="lsh")


def test_switch_rollback_and_partial_dirs_ignored(tmp_path):
    vac, _ = market(40)
    enc = HashEncoder()
    emb = enc.embed(vac, "vacancies")
    a = ix.build_index(tmp_path, vac, emb, enc.model_hash)
    b = ix.build_index(tmp_path, vac.iloc[:30], emb[:30], enc.model_hash)
    assert a < b
    (tmp_path / ".20990101T000000000000Z-deadbeef.x.tmp").mkdir()
    (tmp_path / "20990101T000000000000Z-deadbeef").mkdir()  # no manifest: incomplete
    assert ix.list_versions(tmp_path) == [a, b]
    assert ix.switch(tmp_path, a) is None
    assert ix.switch(tmp_path, b) == a
    assert ix.EmbeddingIndex.load(tmp_path).n == 30
    assert ix.rollback(tmp_path) == a and ix.current_version(tmp_path) == a
    with pytest.raises(JobmatchError, match="nothing to roll back"):
        ix.rollback(tmp_path)
    with pytest.raises(JobmatchError, match="no complete version"):
        ix.switch(tmp_path, "20990101T000000000000Z-deadbeef")


def test_filters_area_and_salary_floor_exact_and_ann(tmp_path):
    vac, _ = market(400)
    enc = HashEncoder()
    emb = enc.embed(vac, "vacancies")
    for cfg in (ix.IndexConfig(index_type="flat"), ix.IndexConfig(index_type="hnsw", exact_filter_max=0)):
        v = ix.build_index(tmp_path / cfg.index_type, vac, emb, enc.model_hash, cfg)
        idx = ix.EmbeddingIndex.load(tmp_path / cfg.index_type, v)
        f = ix.Filters(area="Казань", salary_min=150_000)
        best = np.fmax(vac["salary_from"], vac["salary_to"])
        ok = (vac["area"] == "Казань") & (best >= 150_000)
        scores, rows = idx.search(emb[:5], 10, f)
        assert rows.shape == (5, 10) and ok.to_numpy()[rows].all()
        truth = np.argsort(-(emb[:5] @ emb[ok.to_numpy()].T), axis=1)[:, :10]
        assert ix.recall_at_k(rows, np.flatnonzero(ok.to_numpy())[truth]) >= 0.9
        assert idx.search(emb[:2], 5, ix.Filters(area="Марс"))[1].shape == (2, 0)
        few = ix.Filters(salary_min=float(best.max()))
        assert idx.search(emb[:1], 10, few)[1].shape[1] == int((best >= best.max()).sum())


def test_build_refuses_bad_input(tmp_path):
    vac, _ = market(10)
    with pytest.raises(JobmatchError, match="do not match"):
        ix.build_index(tmp_path, vac, np.zeros((9, 4), np.float32), "h")
    bad = np.ones((10, 4), np.float32)
    bad[0, 0] = np.nan
    with pytest.raises(JobmatchError, match="NaN"):
        ix.build_index(tmp_path, vac, bad, "h")
    with pytest.raises(JobmatchError, match="salary_min"):
        ix.Filters(salary_min=float("nan"))


def test_content_hash_sees_content_not_updated_at():
    vac, _ = market(5)
    h = ix.content_hashes(vac)
    moved = vac.assign(updated_at=vac["updated_at"] + pd.Timedelta("1D"))
    edited = vac.copy()
    edited.loc[2, "description"] = "<p>другое</p>"
    assert (ix.content_hashes(moved) == h).all()
    assert list(ix.content_hashes(edited) != h) == [False, False, True, False, False]


def test_bench_index_small_run_has_exact_baseline_and_ann_rows(tmp_path):
    from pipelines.bench import index as bench

    out = bench.run(3000, dim=32, n_queries=40, threads=1, clusters=50, nprobes=(4, 16), efs=(16, 64), hnsw_m=16, ef_construction=40)
    kinds = [(r["index"], r["setting"]) for r in out["rows"]]
    assert kinds[0] == ("flat", "exact") and len(kinds) == 5 and out["rows"][0]["recall_at_10"] == 1.0
    ivf = [r["recall_at_10"] for r in out["rows"] if r["index"] == "ivf"]
    assert ivf[0] <= ivf[1] and max(r["recall_at_10"] for r in out["rows"] if r["index"] == "hnsw") >= 0.9
    assert all(r["index_bytes"] > 3000 * 32 * 4 for r in out["rows"]) and "SYNTHETIC" in out["vectors"]["source"]
    assert "| flat | exact |" in bench.table(out)
    base = bench.mixture_on_sphere(10, 8, 2, 0.5, 0)
    grown = bench.replicate(base, 35, 0.1, 0)
    np.testing.assert_array_equal(grown[:10], base)
    assert np.allclose(np.linalg.norm(grown, axis=1), 1, atol=1e-5) and (np.einsum("nd,nd->n", grown[10:], base[np.arange(10, 35) % 10]) > 0.9).all()

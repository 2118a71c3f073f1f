"""Versioned FAISS index of document embeddings: build, manifest, CURRENT switch/rollback, load, filtered search.

An index holds one side of the market (`SIDES`): vacancies (the default: "vacancies for a resume",
`RUN/index`) or resumes (`jobmatch index build --side resumes`: "candidates for a vacancy",
`RUN/resume_index`). Layout of an index root::

    <version>/index.faiss      the FAISS index (inner product over unit rows = cosine)
    <version>/ids.parquet      row i of the index: the id (vacancy_id or resume_id), title, the filter
                               columns of its side, content_hash, updated_at (filters, titles and refresh read it)
    <version>/embeddings.npy   (N, D) float32 rows in index order (refresh reuses unchanged rows)
    <version>/manifest.json    model_hash, dim, metric, index type + params, n, build seconds,
                               recall@10 vs exact search on a query sample, preprocess id, versions()
    CURRENT                    one line: the served version (replaced atomically with os.replace)
    history.json               versions in the order they were switched to (rollback reads it)

A version name is `YYYYmmddTHHMMSSffffffZ-<8 hex of the content>`, so names sort by build time.
A version directory is written beside its final name and renamed into place only when complete;
CURRENT is switched after that, so a crash at any point leaves the served version intact.

Index type (`IndexConfig.index_type="auto"`): exact `IndexFlatIP` up to `flat_max` rows, IVF
(`IndexIVFFlat`, inner product, nprobe 32) above; HNSW (`IndexHNSWFlat`) on request. `jobmatch bench
index` at 1M x 256 on 2 cores chose this: IVF4096/nprobe 32 gave recall@10 1.0 at single-query p99
< 1.3 ms and built in 49-136 s, while HNSW M=32 needed efSearch 256 for 0.95 and 232-292 s to build. With faiss-gpu and a GPU
present the IVF coarse quantizer is trained on the GPU; the saved index is always a CPU index.

Filters: `area` keeps documents whose area equals it. Vacancy side: `salary_min` keeps vacancies whose best
offered salary max(salary_from, salary_to) is >= the floor; a vacancy without any salary does
NOT pass a salary floor (the user asked for a guaranteed minimum). Resume side: `salary_max` keeps
resumes asking at most that salary (a resume that names none passes: it is not known to exceed the
budget); `experience_min` keeps resumes with at least that many years (unknown experience does not pass). Filtered search runs the ANN
index restricted to the allowed ids (faiss IDSelector); when few rows are allowed, or the ANN
returns fewer than k, it falls back to exact scoring of the allowed rows, so a filter never loses
results that exist.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from dssm.errors import JobmatchError
from dssm.io import atomic_path, config_to_dict, versions, write_json, write_parquet, write_text
from dssm.schema import RESUME_ID, VACANCY_ID
from dssm.checks import at_least, check_numbers, in_range

log = logging.getLogger("jobmatch.index")

CURRENT = "CURRENT"
HISTORY = "history.json"
MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.parquet"
EMBEDDINGS_FILE = "embeddings.npy"
METRIC = "inner_product"
INDEX_TYPES = ("auto", "flat", "ivf", "hnsw")
VERSION_RE = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{8}$")
CONTENT_COLUMNS = (
    "title", "description", "skills", "area", "professional_role", "experience", "employment",
    "schedule", "salary_from", "salary_to", "currency",
)
"""Vacancy columns whose change changes the embedding or what is served (updated_at is not one)."""
META_COLUMNS = ("title", "area", "salary_from", "salary_to")
"""Vacancy columns copied into ids.parquet for titles and filters."""
RESUME_CONTENT_COLUMNS = ("title", "text", "skills", "area", "salary", "currency", "experience_years")
"""Resume columns whose change changes the embedding or what is served."""
RESUME_META_COLUMNS = ("title", "area", "salary", "experience_years")
"""Resume columns copied into ids.parquet for titles and filters."""


@dataclass(frozen=True)
class Side:
    """What an index of one side of the market stores: its documents' kind, id column, content and metadata columns."""

    kind: str
    """'vacancies' or 'resumes' (the contract's table); queries come from the other side."""
    id_col: str
    content: tuple[str, ...]
    meta: tuple[str, ...]

    @property
    def query_kind(self) -> str:
        return "resumes" if self.kind == "vacancies" else "vacancies"


SIDES = {"vacancies": Side("vacancies", VACANCY_ID, CONTENT_COLUMNS, META_COLUMNS), "resumes": Side("resumes", RESUME_ID, RESUME_CONTENT_COLUMNS, RESUME_META_COLUMNS)}


def side_of(name: str) -> Side:
    if name not in SIDES:
        raise JobmatchError(f"index side must be one of {sorted(SIDES)}, got {name!r}")
    return SIDES[name]


@dataclass
class IndexConfig:
    """How a vacancy index is built and searched."""

    index_type: Literal["auto", "flat", "ivf", "hnsw"] = "auto"
    """auto (flat up to flat_max rows, else ivf), flat (exact), ivf or hnsw."""
    flat_max: int = 50_000
    """auto: largest row count served by exact search."""
    nlist: int = 0
    """IVF lists; 0 = 4*sqrt(n) rounded to a power of two (at most n/39)."""
    nprobe: int = 32
    """IVF lists visited per query."""
    hnsw_m: int = 32
    """HNSW neighbours per node."""
    ef_construction: int = 80
    """HNSW candidate list while building."""
    ef_search: int = 128
    """HNSW candidate list per query (raised to k when k is larger)."""
    recall_sample: int = 200
    """Queries used to measure recall@10 against exact search at build time."""
    exact_filter_max: int = 20_000
    """A filter allowing at most this many rows is answered by exact scoring of those rows."""
    seed: int = 0
    """Seed for IVF training sample and the recall query sample."""
    min_recall: float = 0.9
    """A new version whose recall@10 against exact search is below this is built but not switched to."""
    gpu: bool = True
    """Search on the first GPU when faiss has GPU support and sees one (`pip install ".[gpu]"`): flat and IVF
    indexes, unfiltered queries, k <= 2048 (faiss's GPU limit); HNSW and filtered searches stay on the CPU."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 0, "seed")
        in_range(self, "min_recall", 0, 1)
        if self.index_type not in INDEX_TYPES:
            raise ValueError(f"index_type must be one of {INDEX_TYPES}, got {self.index_type!r}")
        at_least(self, 1, "flat_max", "nprobe", "hnsw_m", "ef_construction", "ef_search", "recall_sample")
        if self.nlist < 0 or self.exact_filter_max < 0:
            raise ValueError("nlist and exact_filter_max must be >= 0")


@dataclass
class Filters:
    """Optional restrictions of a recommendation."""

    area: str | None = None
    """Keep vacancies in exactly this area."""
    salary_min: float | None = None
    """Vacancies: keep those with max(salary_from, salary_to) >= this; vacancies without salary are dropped."""
    salary_max: float | None = None
    """Resumes: keep those asking at most this salary (a resume without a salary passes)."""
    experience_min: float | None = None
    """Resumes: keep those with at least this many years of experience (unknown experience is dropped)."""

    def __post_init__(self) -> None:
        for name in ("salary_min", "salary_max", "experience_min"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0):
                raise JobmatchError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.area is not None and not isinstance(self.area, str):
            raise JobmatchError(f"area must be a string, got {self.area!r}")

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.area, self.salary_min, self.salary_max, self.experience_min))


# ----------------------------------------------------------------------------- hashing


def content_hashes(docs: pd.DataFrame, side: str = "vacancies") -> np.ndarray:
    """sha256 (first 16 hex) per row over the side's content columns present; equal content -> equal hash."""
    cols = [c for c in side_of(side).content if c in docs.columns]
    out = np.empty(len(docs), dtype=object)
    for start in range(0, len(docs), HASH_CHUNK):  # a million rows as Python objects at once would take gigabytes
        out[start : start + HASH_CHUNK] = _hashes(docs[cols].iloc[start : start + HASH_CHUNK].astype(object), cols)
    return out


HASH_CHUNK = 50_000


def _hashes(frame: pd.DataFrame, cols: list[str]) -> np.ndarray:
    out = np.empty(len(frame), dtype=object)
    for i, row in enumerate(frame.itertuples(index=False, name=None)):
        parts = []
        for c, v in zip(cols, row):
            if isinstance(v, (list, tuple, np.ndarray)):
                v = [str(x) for x in v]
            elif v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
                v = None
            elif isinstance(v, (float, np.floating)):
                v = float(v)
            else:
                v = str(v)
            parts.append((c, v))
        out[i] = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:16]
    return out


def _version_name(ids: np.ndarray, emb: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update("\n".join(map(str, ids)).encode())
    h.update(np.ascontiguousarray(emb).tobytes())
    now = datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + h.hexdigest()[:8]


# ----------------------------------------------------------------------------- faiss


def gpu_available() -> bool:
    """True when faiss was built with GPU support and sees a GPU."""
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


GPU_MAX_K = 2048
"""The largest k faiss searches on a GPU."""


def _gpu_copy(index: Any, manifest: dict) -> Any:
    """A GPU copy of a flat or IVF index (IVF with the version's nprobe); its resources live as long as it does."""
    import faiss

    res = faiss.StandardGpuResources()
    gpu_index = faiss.index_cpu_to_gpu(res, 0, index)
    gpu_index.jobmatch_resources = res
    if manifest["index_type"] == "ivf":
        faiss.GpuParameterSpace().set_index_parameter(gpu_index, "nprobe", int(manifest["params"]["nprobe"]))
    return gpu_index


def choose_index_type(n: int, cfg: IndexConfig) -> str:
    """`cfg.index_type`, or for auto: flat when n <= flat_max, else ivf."""
    if cfg.index_type != "auto":
        return cfg.index_type
    return "flat" if n <= cfg.flat_max else "ivf"


def default_nlist(n: int) -> int:
    """4*sqrt(n) rounded to a power of two, keeping >= 39 training points per list."""
    nlist = 2 ** int(round(math.log2(max(1.0, 4 * math.sqrt(n)))))
    return int(max(1, min(nlist, n // 39)))


def make_faiss_index(emb: np.ndarray, index_type: str, cfg: IndexConfig) -> tuple[Any, dict[str, Any]]:
    """Build a CPU faiss index over unit rows `emb` (N, D) with inner product -> (index, params)."""
    import faiss

    emb = np.ascontiguousarray(emb, dtype=np.float32)
    n, d = emb.shape
    if index_type == "flat":
        index = faiss.IndexFlatIP(d)
        index.add(emb)
        return index, {"type": "flat"}
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(d, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = cfg.ef_construction
        index.hnsw.efSearch = cfg.ef_search
        index.add(emb)
        return index, {"type": "hnsw", "M": cfg.hnsw_m, "efConstruction": cfg.ef_construction, "efSearch": cfg.ef_search}
    if index_type == "ivf":
        nlist = cfg.nlist or default_nlist(n)
        if nlist > n:
            raise JobmatchError(f"IVF needs nlist <= n; got nlist={nlist} for {n} vectors")
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(cfg.seed)
        train = emb[rng.choice(n, 64 * nlist, replace=False)] if n > 64 * nlist else emb  # 64 points per centroid
        on_gpu = gpu_available()
        if on_gpu:
            res = faiss.StandardGpuResources()
            gpu_index = faiss.index_cpu_to_gpu(res, 0, index)
            gpu_index.train(train)
            gpu_index.add(emb)
            index = faiss.index_gpu_to_cpu(gpu_index)
        else:
            index.train(train)
            index.add(emb)
        index.nprobe = min(cfg.nprobe, nlist)
        return index, {"type": "ivf", "nlist": nlist, "nprobe": index.nprobe, "trained_on_gpu": on_gpu}
    raise JobmatchError(f"unknown index type {index_type!r}; choose one of flat, ivf, hnsw")


def exact_topk(emb: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the k largest inner products per query (exact; ties by row number) -> (Q, k)."""
    import faiss

    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(np.ascontiguousarray(emb, dtype=np.float32))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, len(emb)))[1]


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over queries of |found_q ∩ truth_q| / |truth_q| (rows of -1 are misses)."""
    hits = [len(set(f[f >= 0].tolist()) & set(t[t >= 0].tolist())) / max(1, int((t >= 0).sum())) for f, t in zip(found, truth)]
    return float(np.mean(hits)) if hits else 1.0


def sample_queries(emb: np.ndarray, m: int, seed: int, noise: float = 0.05) -> np.ndarray:
    """`m` stored rows plus gaussian noise, renormalised: queries near the data but not in it."""
    rng = np.random.default_rng(seed)
    q = emb[rng.choice(len(emb), min(m, len(emb)), replace=False)].astype(np.float32)
    q = q + rng.normal(0.0, noise / math.sqrt(emb.shape[1]), q.shape).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


# ----------------------------------------------------------------------------- build & versions


def build_index(
    root: str | os.PathLike,
    docs: pd.DataFrame,
    emb: np.ndarray,
    model_hash: str,
    cfg: IndexConfig | None = None,
    queries: np.ndarray | None = None,
    extra: dict[str, Any] | None = None,
    hashes: np.ndarray | None = None,
    side: str = "vacancies",
) -> str:
    """Write a new version under `root` (not yet served) and return its name.

    `docs` (vacancies, or resumes with side="resumes") rows align with `emb` (N, D) unit rows. Recall@10
    vs exact search is measured on up to `cfg.recall_sample` of `queries` (embeddings of the other side)
    or, when None, on noisy copies of stored rows. `extra` goes into the manifest (model_dir, preprocess id, ...).
    """
    cfg = cfg or IndexConfig()
    root = Path(root)
    sd = side_of(side)
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    if emb.ndim != 2 or len(emb) != len(docs):
        raise JobmatchError(f"embeddings {emb.shape} do not match {len(docs)} {sd.kind}")
    if len(emb) == 0:
        raise JobmatchError(f"no {sd.kind} to index")
    if not np.isfinite(emb).all():
        raise JobmatchError("embeddings contain NaN or inf")
    ids = docs[sd.id_col].astype(str).to_numpy()
    if len(set(ids)) != len(ids):
        raise JobmatchError(f"duplicate {sd.id_col} in the rows to index")
    index_type = choose_index_type(len(emb), cfg)
    t0 = time.perf_counter()
    index, params = make_faiss_index(emb, index_type, cfg)
    build_s = time.perf_counter() - t0
    if queries is None or len(queries) == 0:
        queries = sample_queries(emb, cfg.recall_sample, cfg.seed)
    queries = np.ascontiguousarray(queries[: cfg.recall_sample], dtype=np.float32)
    k = min(10, len(emb))
    recall = recall_at_k(index.search(queries, k)[1], exact_topk(emb, queries, k))
    meta = pd.DataFrame({sd.id_col: ids})
    for c in sd.meta:
        meta[c] = docs[c].to_numpy() if c in docs.columns else None
        meta[c] = meta[c].astype(object) if c in ("title", "area") else pd.to_numeric(meta[c]).astype("float64")
    meta["content_hash"] = content_hashes(docs, side) if hashes is None else hashes
    meta["updated_at"] = pd.to_datetime(docs["updated_at"]).to_numpy() if "updated_at" in docs.columns else pd.NaT
    version = _version_name(ids, emb)
    manifest = {
        "version": version,
        "side": side,
        "model_hash": model_hash,
        "dim": int(emb.shape[1]),
        "metric": METRIC,
        "index_type": index_type,
        "params": params,
        "config": config_to_dict(cfg),
        "n": int(len(emb)),
        "build_seconds": round(build_s, 4),
        "recall_at_10": recall,
        "recall_queries": int(len(queries)),
        "built_at": datetime.now(timezone.utc).isoformat(),
        "versions": versions(),
        **(extra or {}),
    }
    import faiss

    with atomic_path(root / version) as tmp:
        tmp.mkdir()
        faiss.write_index(index, str(tmp / INDEX_FILE))
        write_parquet(tmp / IDS_FILE, meta)
        np.save(tmp / EMBEDDINGS_FILE, emb, allow_pickle=False)
        write_json(tmp / MANIFEST, manifest)
    log.info("built index %s: %s n=%d recall@10=%.4f in %.2fs", version, index_type, len(emb), recall, build_s)
    return version


def list_versions(root: str | os.PathLike) -> list[str]:
    """Complete versions under `root`, oldest first (temporary and partial directories are skipped)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and VERSION_RE.match(p.name) and (p / MANIFEST).exists())


def read_manifest(root: str | os.PathLike, version: str) -> dict[str, Any]:
    path = Path(root) / version / MANIFEST
    if not path.exists():
        raise JobmatchError(f"{Path(root)}: version {version} not found (no {MANIFEST})")
    return json.loads(path.read_text(encoding="utf-8"))


def current_version(root: str | os.PathLike) -> str | None:
    """The version named by root/CURRENT, or None when nothing is served yet."""
    path = Path(root) / CURRENT
    if not path.exists():
        return None
    name = path.read_text(encoding="utf-8").strip()
    return name or None


def served_manifest(root: str | os.PathLike) -> dict[str, Any]:
    """The manifest of the version CURRENT names, or {} when nothing is served yet."""
    version = current_version(root)
    return read_manifest(root, version) if version else {}


def _history(root: Path) -> list[str]:
    path = root / HISTORY
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def switch(root: str | os.PathLike, version: str) -> str | None:
    """Serve `version`: replace CURRENT atomically, then append to history; returns the previous version."""
    root = Path(root)
    if version not in list_versions(root):
        raise JobmatchError(f"{root}: no complete version {version!r}; have {list_versions(root)[-5:]}")
    previous = current_version(root)
    write_text(root / CURRENT, version + "\n")
    history = _history(root)
    if previous and (not history or history[-1] != previous):
        history.append(previous)
    if not history or history[-1] != version:
        history.append(version)
    write_json(root / HISTORY, history)
    log.info("CURRENT %s -> %s", previous, version)
    return previous


def rollback(root: str | os.PathLike) -> str:
    """Serve the version that was served before the current one; returns it."""
    root = Path(root)
    current = current_version(root)
    history = _history(root)
    while history and history[-1] == current:
        history.pop()
    available = set(list_versions(root))
    while history and history[-1] not in available:
        history.pop()
    if not history:
        raise JobmatchError(f"{root}: nothing to roll back to (current {current})")
    target = history[-1]
    write_text(root / CURRENT, target + "\n")
    write_json(root / HISTORY, history)
    log.info("rolled back CURRENT %s -> %s", current, target)
    return target


def prune(root: str | os.PathLike, keep: int = 5) -> list[str]:
    """Remove old versions beyond the newest `keep`, never CURRENT or the rollback target; -> removed names."""
    root = Path(root)
    names = list_versions(root)
    protect = {current_version(root), *(_history(root)[-2:])}
    removed = [v for v in names[:-keep] if v not in protect] if keep > 0 else []
    for v in removed:
        shutil.rmtree(root / v, ignore_errors=True)
    return removed


# ----------------------------------------------------------------------------- load & search


class EmbeddingIndex:
    """One loaded version: faiss index + row metadata + embeddings (memory-mapped). Read-only, thread-safe search."""

    def __init__(self, root: Path, version: str, index: Any, meta: pd.DataFrame, emb: np.ndarray, manifest: dict, cfg: IndexConfig):
        self.root, self.version, self.index, self.meta, self.emb, self.manifest, self.cfg = root, version, index, meta, emb, manifest, cfg
        self.gpu_index = _gpu_copy(index, manifest) if cfg.gpu and manifest["index_type"] in ("flat", "ivf") and gpu_available() else None
        self.side = side_of(manifest.get("side", "vacancies"))
        self.ids = meta[self.side.id_col].astype(str).to_numpy(dtype=object)
        self.titles = meta["title"].astype(object).where(meta["title"].notna(), None).to_numpy(dtype=object)
        area = meta["area"].astype(object).where(meta["area"].notna(), None).to_numpy(dtype=object)
        self._area_codes: dict[str, int] = {}
        self.area_code = np.array([self._area_codes.setdefault(a, len(self._area_codes)) if a is not None else -1 for a in area], dtype=np.int64)
        if self.side.kind == "vacancies":
            self.salary_best = np.fmax(meta["salary_from"].to_numpy(dtype=np.float64), meta["salary_to"].to_numpy(dtype=np.float64))
        else:
            self.salary_asked = meta["salary"].to_numpy(dtype=np.float64)
            self.experience = meta["experience_years"].to_numpy(dtype=np.float64)

    @property
    def model_hash(self) -> str:
        return str(self.manifest["model_hash"])

    @property
    def n(self) -> int:
        return len(self.ids)

    @classmethod
    def load(cls, root: str | os.PathLike, version: str | None = None, cfg: IndexConfig | None = None) -> EmbeddingIndex:
        """Load `version` (default: CURRENT) of the index under `root`."""
        import faiss

        root = Path(root)
        version = version or current_version(root)
        if version is None:
            raise JobmatchError(f"{root}: no CURRENT index version (build one with `jobmatch index build`)")
        manifest = read_manifest(root, version)
        d = root / version
        try:
            index = faiss.read_index(str(d / INDEX_FILE))
            meta = pd.read_parquet(d / IDS_FILE)
            emb = np.load(d / EMBEDDINGS_FILE, mmap_mode="r", allow_pickle=False)
        except (OSError, RuntimeError, ValueError) as e:
            raise JobmatchError(f"{d}: index files unreadable: {e}") from e
        if index.ntotal != len(meta) or emb.shape != (len(meta), manifest["dim"]):
            raise JobmatchError(f"{d}: index has {index.ntotal} rows, ids {len(meta)}, embeddings {emb.shape}: inconsistent")
        saved = manifest.get("config") or {}
        cfg = cfg or IndexConfig(**{k: v for k, v in saved.items() if k in {f.name for f in dataclasses.fields(IndexConfig)}})
        return cls(root, version, index, meta, emb, manifest, cfg)

    def allowed(self, filters: Filters | None) -> np.ndarray | None:
        """Row numbers passing `filters`, or None when every row passes."""
        if filters is None or not filters.active:
            return None
        wrong = [n for n in (("salary_max", "experience_min") if self.side.kind == "vacancies" else ("salary_min",)) if getattr(filters, n) is not None]
        if wrong:
            raise JobmatchError(f"filter {wrong[0]} does not apply to an index of {self.side.kind}")
        mask = np.ones(self.n, dtype=bool)
        if filters.area is not None:
            mask &= self.area_code == self._area_codes.get(filters.area, -2)
        with np.errstate(invalid="ignore"):
            if filters.salary_min is not None:
                mask &= self.salary_best >= float(filters.salary_min)
            if filters.salary_max is not None:
                mask &= ~(self.salary_asked > float(filters.salary_max))  # NaN (no salary named) passes
            if filters.experience_min is not None:
                mask &= self.experience >= float(filters.experience_min)
        return np.flatnonzero(mask)

    def _search_params(self, k: int, selector: Any = None) -> Any:
        import faiss

        t = self.manifest["index_type"]
        if t == "hnsw":
            return faiss.SearchParametersHNSW(efSearch=max(self.cfg.ef_search, k), sel=selector)
        if t == "ivf":
            return faiss.SearchParametersIVF(nprobe=self.manifest["params"]["nprobe"], sel=selector)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def _exact_subset(self, queries: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = queries @ np.asarray(self.emb[rows]).T  # (Q, |rows|)
        k = min(k, len(rows))
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # (Q, k)
        return np.take_along_axis(scores, top, axis=1), rows[top]

    def search(self, queries: np.ndarray, k: int, filters: Filters | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows per query -> (scores (Q, k'), rows (Q, k')), k' = min(k, allowed rows); best first."""
        import faiss

        if k < 1:
            raise JobmatchError(f"k must be >= 1, got {k}")
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.manifest["dim"]:
            raise JobmatchError(f"query embeddings {queries.shape} do not match index dim {self.manifest['dim']}")
        rows = self.allowed(filters)
        if rows is None:
            k = min(k, self.n)
            if self.gpu_index is not None and k <= GPU_MAX_K:
                scores, found = self.gpu_index.search(queries, k)
            else:
                scores, found = self.index.search(queries, k, params=self._search_params(k))
            if (found >= 0).all():
                return scores, found
            rows = np.arange(self.n)
        elif len(rows) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        elif len(rows) > self.cfg.exact_filter_max:
            k = min(k, len(rows))
            sel = faiss.IDSelectorBatch(rows.astype(np.int64))
            scores, found = self.index.search(queries, k, params=self._search_params(k, sel))
            if (found >= 0).all():
                return scores, found
        return self._exact_subset(queries, rows, k)

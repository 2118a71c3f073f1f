"""Index builds and the nightly refresh: re-embed only new/changed vacancies, check, then switch CURRENT.

`refresh` compares the dataset's vacancies with the served version's `ids.parquet`:

- new      = ids not in the served version,
- removed  = served ids no longer in the dataset,
- changed  = same id, different content hash (`pipelines.retrieval.index.content_hashes`; `updated_at`
             alone does not trigger re-embedding, it is only logged as `touched`),
- the rest reuse their stored embedding rows.

A different model hash or preprocessing id means every row is re-embedded. With no changes it
returns without encoding anything or writing a version (idempotent). Otherwise it builds a new
version, reloads it from disk and checks it (row count equals the dataset, model hash equals the
encoder's, recall@10 vs exact >= `min_recall`, every re-embedded row finds itself or an identical duplicate first), and only
then switches CURRENT. Killing it at any point leaves the served version untouched: the new
version is renamed into place only when complete, and CURRENT is replaced atomically last.
One refresh runs at a time per index root (an exclusive lock on `root/.lock`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dssm.errors import JobmatchError
from dssm.io import check_output
from pipelines.artifacts import load_encoder, load_preprocess, parse_preprocess_id, preprocess_differences, trained_on
from pipelines.data.dataset import load_dataset
from pipelines.retrieval.index import (
    IndexConfig,
    EmbeddingIndex,
    build_index,
    content_hashes,
    current_version,
    side_of,
    list_versions,
    read_manifest,
    served_manifest,
    switch,
)
from pipelines.retrieval.recommend import EncoderLike, Preprocess, checked_embeddings, embed_documents, embed_preprocessed, preprocess_for_manifest

log = logging.getLogger("jobmatch.refresh")
LOG_FILE = "refresh_log.jsonl"


@dataclass
class RefreshReport:
    """What one build/refresh did."""

    action: str
    """built (first/full build), refreshed, up_to_date, or rejected (checks failed, CURRENT kept)."""
    previous_version: str | None
    """Version served before."""
    version: str | None
    """Version built (None when up to date)."""
    current_version: str | None
    """Version served after."""
    n: int = 0
    """Documents (vacancies, or resumes for a resume index) in the dataset."""
    new: int = 0
    changed: int = 0
    removed: int = 0
    touched: int = 0
    """Rows whose updated_at moved without a content change (not re-embedded)."""
    reused: int = 0
    """Rows whose stored embedding was kept."""
    embedded: int = 0
    """Rows encoded in this run."""
    reason: str = ""
    checks: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


Embedder = Callable[[pd.DataFrame, str, Path], np.ndarray]
"""(documents, kind, scratch folder) -> (N, D) embeddings in row order: an engine other than the local one."""


def _embed_rows(docs: pd.DataFrame, kind: str, encoder: EncoderLike, preprocess: Preprocess | None, embedder: Embedder | None, root: Path) -> np.ndarray:
    """The embeddings of the rows a build re-embeds: in this process, or by `embedder` in a scratch folder
    `root/.embed-PID.tmp` (a killed run's is removed by the next one's `clean_partial`)."""
    if embedder is None:
        return embed_documents(encoder, docs, preprocess, kind)
    scratch = root / f".embed-{os.getpid()}.tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        return checked_embeddings(embedder(docs, kind, scratch), docs, kind, encoder.dim)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def index_lock(root: Path) -> Iterator[None]:
    """Exclusive, non-blocking lock on root/.lock; JobmatchError if another build holds it."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise JobmatchError(f"{root}: another index build/refresh is running (lock {root / '.lock'})") from e
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def clean_partial(root: Path) -> list[str]:
    """Remove temporary directories left by a killed build (safe under the lock)."""
    removed = []
    for p in root.glob(".*.tmp"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    for p in root.glob(".*.old.*"):
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p.name)
    return removed


def check_version(root: Path, version: str, n: int, model_hash: str, min_recall: float, probe: np.ndarray, probe_ids: np.ndarray) -> dict[str, Any]:
    """Reload `version` from disk and check it; returns the checks with `ok`."""
    idx = EmbeddingIndex.load(root, version)
    m = idx.manifest
    checks: dict[str, Any] = {
        "count": idx.n == n and int(m["n"]) == n,
        "model_hash": m["model_hash"] == model_hash,
        "recall_at_10": float(m["recall_at_10"]),
        "recall_ok": float(m["recall_at_10"]) >= min_recall,
    }
    if len(probe):
        scores, rows = idx.search(probe, 1)  # (P, 1)
        own = np.einsum("pd,pd->p", probe, probe)  # (P,) a row's score against itself
        found = (idx.ids[rows[:, 0]] == probe_ids) | (scores[:, 0] >= own - 1e-5)  # itself or an exact duplicate
        checks["self_found"] = float(np.mean(found))
        checks["self_ok"] = bool(checks["self_found"] >= min_recall)
    else:
        checks["self_ok"] = True
    checks["ok"] = bool(checks["count"] and checks["model_hash"] and checks["recall_ok"] and checks["self_ok"])
    return checks


def _append_log(root: Path, report: RefreshReport) -> None:
    line = json.dumps({"at": datetime.now(timezone.utc).isoformat(), **asdict(report)}, default=str)
    with open(root / LOG_FILE, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _query_sample(encoder: EncoderLike, queries: pd.DataFrame | None, preprocess: Preprocess | None, m: int, seed: int, kind: str) -> np.ndarray | None:
    if queries is None or len(queries) == 0:
        return None
    sample = queries.sample(n=min(m, len(queries)), random_state=seed) if len(queries) > m else queries
    return np.asarray(embed_preprocessed(encoder, sample, kind, preprocess), dtype=np.float32)


def refresh(
    docs: pd.DataFrame,
    root: str | os.PathLike,
    encoder: EncoderLike,
    cfg: IndexConfig | None = None,
    preprocess: Preprocess | None = None,
    preprocess_id: str | None = None,
    queries: pd.DataFrame | None = None,
    extra: dict[str, Any] | None = None,
    full: bool = False,
    on_stage: Callable[[str], None] | None = None,
    switch_current: bool = True,
    side: str = "vacancies",
    embedder: Embedder | None = None,
) -> RefreshReport:
    """Bring the index under `root` up to date with `docs` (see module docstring); returns what it did.

    `side`: what `docs` are, "vacancies" (default) or "resumes" (`pipelines.retrieval.index.SIDES`); an
    existing index of the other side is refused. `queries` (optional) are documents of the other side,
    realistic queries for the recall check. `full` re-embeds every row.
    `on_stage(name)` is called after "embedded", "built" and "checked" (progress logging).
    With `switch_current=False` the checked version is written but CURRENT is left alone.
    `embedder` replaces the in-process embedding of the rows to re-embed (the Ray engine,
    `pipelines.retrieval.ray_engine.RayEmbedder`); everything else is the same.
    """
    cfg = cfg or IndexConfig()
    root = Path(root)
    t0 = time.perf_counter()
    stage = on_stage or (lambda name: None)
    with index_lock(root):
        leftovers = clean_partial(root)
        if leftovers:
            log.info("removed partial build directories %s", leftovers)
        previous = current_version(root)
        sd = side_of(side)
        if previous is not None and (served := read_manifest(root, previous).get("side", "vacancies")) != side:
            raise JobmatchError(f"{root} is an index of {served}; refusing to put {side} into it (choose another --out)")
        ids = docs[sd.id_col].astype(str).to_numpy()
        hashes = content_hashes(docs, side)
        emb = np.zeros((len(docs), int(encoder.dim)), np.float32)
        todo = np.ones(len(docs), dtype=bool)
        counts = {"new": len(docs), "changed": 0, "removed": 0, "touched": 0}
        reason = "no served version" if previous is None else ("full rebuild requested" if full else "")
        if previous is not None and not full:
            old_m = read_manifest(root, previous)
            if old_m["model_hash"] != encoder.model_hash:
                reason = f"model changed {str(old_m['model_hash'])[:12]} -> {encoder.model_hash[:12]}"
            elif old_m.get("preprocess_id") != preprocess_id:
                reason = f"preprocessing changed {old_m.get('preprocess_id')} -> {preprocess_id}"
            else:
                old = EmbeddingIndex.load(root, previous)
                pos = pd.Index(old.ids).get_indexer(ids)
                known = pos >= 0
                same = known.copy()
                same[known] = old.meta["content_hash"].to_numpy(dtype=object)[pos[known]] == hashes[known]
                emb[same] = np.asarray(old.emb[pos[same]])
                todo = ~same
                old_upd = pd.to_datetime(old.meta["updated_at"]).to_numpy()
                new_upd = pd.to_datetime(docs["updated_at"]).to_numpy() if "updated_at" in docs.columns else None
                touched = 0
                if new_upd is not None:
                    a, b = old_upd[pos[same]], new_upd[same]
                    touched = int(np.sum(~((a == b) | (pd.isna(a) & pd.isna(b)))))
                counts = {
                    "new": int((~known).sum()),
                    "changed": int((known & ~same).sum()),
                    "removed": int(len(set(old.ids) - set(ids))),
                    "touched": touched,
                }
                if not todo.any() and counts["removed"] == 0 and touched == 0:
                    report = RefreshReport("up_to_date", previous, None, previous, n=len(ids), reused=len(ids), reason=f"no new, changed or removed {sd.kind}", seconds=round(time.perf_counter() - t0, 3))
                    log.info("index %s is up to date (%d %s)", previous, len(ids), sd.kind)
                    _append_log(root, report)
                    return report
        rows = np.flatnonzero(todo)
        log.info("embedding %d of %d %s (%s)", len(rows), len(ids), sd.kind, reason or "incremental")
        if len(rows):
            emb[rows] = _embed_rows(docs.iloc[rows], sd.kind, encoder, preprocess, embedder, root)
        stage("embedded")
        query_emb = _query_sample(encoder, queries, preprocess, cfg.recall_sample, cfg.seed, sd.query_kind)
        meta = {"preprocess_id": preprocess_id, "built_from": previous, "embedded_rows": int(len(rows)), **(extra or {})}
        version = build_index(root, docs, emb, encoder.model_hash, cfg, query_emb, meta, hashes, side)
        stage("built")
        rng = np.random.default_rng(cfg.seed)
        probe_rows = rng.choice(rows, min(50, len(rows)), replace=False) if len(rows) else rows
        checks = check_version(root, version, len(ids), encoder.model_hash, cfg.min_recall, emb[probe_rows], ids[probe_rows])
        stage("checked")
        common = dict(n=len(ids), reused=int(len(ids) - len(rows)), embedded=int(len(rows)), reason=reason, checks=checks, **counts)
        if not checks["ok"]:
            report = RefreshReport("rejected", previous, version, previous, **common, seconds=round(time.perf_counter() - t0, 3))
            log.warning("new version %s failed its checks %s; CURRENT stays %s", version, checks, previous)
            _append_log(root, report)
            return report
        if switch_current:
            switch(root, version)
        action = "built" if previous is None or full or reason else "refreshed"
        report = RefreshReport(action, previous, version, version if switch_current else previous, **common, seconds=round(time.perf_counter() - t0, 3))
        log.info("%s %s: new=%d changed=%d removed=%d embedded=%d reused=%d", action, version, counts["new"], counts["changed"], counts["removed"], len(rows), len(ids) - len(rows))
        _append_log(root, report)
        return report


def versions_table(root: str | os.PathLike) -> list[dict[str, Any]]:
    """One summary dict per complete version (oldest first), with `current`."""
    root = Path(root)
    cur = current_version(root)
    out = []
    for v in list_versions(root):
        m = read_manifest(root, v)
        out.append({"version": v, "current": v == cur, "n": m["n"], "index_type": m["index_type"], "recall_at_10": m["recall_at_10"], "model_hash": str(m["model_hash"])[:12], "built_at": m["built_at"]})
    return out


def _provenance(model_dir: str | Path, data: str | Path, summarizer_dir: str | Path | None) -> dict[str, str | None]:
    """What a version's manifest records of where it came from (absolute paths; recommend and refresh reopen them)."""
    return {"model_dir": str(Path(model_dir).resolve()), "data_dir": str(Path(data).resolve()),
            "summarizer_dir": str(Path(summarizer_dir).resolve()) if summarizer_dir else None}


def build_embedding_index(cfg: IndexConfig, model_dir: str | Path, data: str | Path, out: str | Path, summarizer_dir: str | Path | None = None,
                          budget: int | None = None, switch: bool = True, side: str = "vacancies", engine: Engine | None = None) -> RefreshReport:
    """Stage `index build`: embed every vacancy (or, with side="resumes", every resume) of `data` (summarized when
    `summarizer_dir` is given) into a new checked version under `out`.

    The summary budget is `budget`, else the one of the summaries the model was trained on, else
    the summarizer's own. A model trained on LR summaries is refused without that summarizer, or
    with another summarizer, budget or tokenizer: the vacancies must be cut the way its training data was.
    """
    model_dir, data = Path(model_dir), Path(data)
    check_output(out, [model_dir, data, summarizer_dir], force=True)  # versions are added beside the served one, never over it
    record = trained_on(model_dir)
    learned = record.get("preprocess_id") if record and record.get("method") == "lr" else None
    if learned and summarizer_dir is None:
        raise JobmatchError(f"{model_dir} was trained on LR summaries ({learned}); pass --summarizer (the index must cut vacancies the same way)")
    if budget is None and learned:
        budget = int(parse_preprocess_id(learned)["budget"])
    encoder = load_encoder(model_dir)
    preprocess, pid = load_preprocess(summarizer_dir, budget)
    if learned and (parts := preprocess_differences(pid, learned, "index", "model")):
        raise JobmatchError(f"{model_dir} was trained on other summaries than --summarizer {summarizer_dir} makes: {'; '.join(parts)}")
    ds = load_dataset(data)
    docs, queries = (ds.vacancies, ds.resumes) if side_of(side).kind == "vacancies" else (ds.resumes, ds.vacancies)
    with _engine(engine, model_dir, summarizer_dir, pid) as embedder:
        return refresh(docs, out, encoder, cfg, preprocess, pid, queries, _provenance(model_dir, data, summarizer_dir), full=True, switch_current=switch, side=side,
                       embedder=embedder)


def refresh_index(cfg: IndexConfig, data: str | Path, run: str | Path, index_root: str | Path | None = None, model_dir: str | Path | None = None,
                  summarizer_dir: str | Path | None = None, full: bool = False, engine: Engine | None = None) -> RefreshReport:
    """Stage `refresh`: bring RUN/index (or `index_root`) up to date with today's vacancies of `data`, with the served
    version's summarizer and budget unless `summarizer_dir` is given."""
    run = Path(run)
    root = Path(index_root) if index_root is not None else run / "index"
    model = Path(model_dir) if model_dir is not None else run / "production"
    check_output(root, [model, data, summarizer_dir], force=True)
    encoder = load_encoder(model)
    manifest = served_manifest(root)
    preprocess, pid = preprocess_for_manifest(summarizer_dir, manifest)
    summarizer = summarizer_dir or (manifest.get("summarizer_dir") if pid else None)
    ds = load_dataset(data)
    side = manifest.get("side", "vacancies")
    docs, queries = (ds.vacancies, ds.resumes) if side == "vacancies" else (ds.resumes, ds.vacancies)
    with _engine(engine, model, summarizer, pid) as embedder:
        return refresh(docs, root, encoder, cfg, preprocess, pid, queries, _provenance(model, data, summarizer), full=full, side=side, embedder=embedder)


@dataclass(frozen=True)
class Engine:
    """Where documents are embedded: "local" (this process, the default) or "ray" (`pipelines.retrieval.ray_engine`)."""

    name: str = "local"
    address: str | None = None
    """Ray cluster address (None = a local Ray on this machine's cores)."""
    actors: int | None = None
    """Ray actors holding the model (None = one per CPU of the cluster)."""

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise JobmatchError(f"--engine must be one of {ENGINES}, got {self.name!r}")
        if self.name == "local" and (self.address or self.actors):
            raise JobmatchError("--address and --actors go with --engine ray")
        if self.actors is not None and self.actors < 1:
            raise JobmatchError(f"--actors must be >= 1, got {self.actors}")


ENGINES = ("local", "ray")


@contextlib.contextmanager
def _engine(engine: Engine | None, model_dir: Path, summarizer_dir: str | Path | None, pid: str | None) -> Iterator[Embedder | None]:
    """None for the local engine; for Ray, a `RayEmbedder` inside a Ray session."""
    if engine is None or engine.name == "local":
        yield None
        return
    from pipelines.retrieval.ray_engine import EmbedSpec, RayEmbedder, ray_session

    budget = int(parse_preprocess_id(pid)["budget"]) if pid else None
    spec = EmbedSpec(str(Path(model_dir).resolve()), str(Path(summarizer_dir).resolve()) if summarizer_dir else None, budget, pid)
    with ray_session(engine.address):
        yield RayEmbedder(spec, engine.actors)

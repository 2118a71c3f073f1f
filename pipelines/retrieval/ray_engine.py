"""The Ray engine of `encode` and `refresh` (`--engine ray [--address ADDR]`).

Ray Data reads the documents (the dataset's Parquet for `encode`; the rows a refresh must re-embed,
in blocks, for `refresh`), actors that hold the model summarize and encode them in `map_batches`
with `embed_documents`, the call the local engine makes, and the embeddings are written as Parquet
shards (id + embedding). `refresh` then reads its shards back, builds and checks the index version
exactly as the local engine does; only the embedding step moved.

Without `address` a local Ray is started for the call on this machine's cores and stopped after it;
with one (`ray start --head` on the head node prints it, e.g. `10.0.0.5:6379`) the job runs on that
cluster, whose workers must reach the model, summarizer, data and output paths (a shared file system).
An actor takes one CPU and runs torch on one thread; `actors` defaults to the cluster's CPUs.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dssm.errors import JobmatchError
from dssm.io import quiet
from dssm.schema import TABLES

BATCH_SIZE = 256
"""Documents per `map_batches` call (each actor embeds them with `Encoder.embed`, 64 per forward pass)."""


@dataclass(frozen=True)
class EmbedSpec:
    """What an actor loads to embed documents the way the driver would: a model dir and the summaries' recipe."""

    model_dir: str
    summarizer_dir: str | None = None
    """Summarizer applied before encoding (None = the documents as they are)."""
    budget: int | None = None
    """Summary token budget (None = the summarizer's own)."""
    preprocess_id: str | None = None
    """The preprocess id the driver expects: an actor whose summarizer gives another one refuses to run."""


class EmbedActor:
    """A Ray actor: loads the encoder (and summarizer) once, then embeds pandas batches -> id + embedding."""

    def __init__(self, spec: EmbedSpec, kind: str):
        import torch

        from pipelines.artifacts import load_encoder, load_preprocess

        torch.set_num_threads(1)
        self.encoder = load_encoder(spec.model_dir)
        self.preprocess, pid = load_preprocess(spec.summarizer_dir, spec.budget)
        if pid != spec.preprocess_id:
            raise JobmatchError(f"a Ray worker's summarizer {spec.summarizer_dir} gives {pid}, the driver expects {spec.preprocess_id}: do the workers see the same files?")
        self.kind, self.id_col = kind, TABLES[kind][3]

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from pipelines.data.dataset import normalise_frame
        from pipelines.retrieval.recommend import embed_documents

        emb = embed_documents(self.encoder, normalise_frame(batch.reset_index(drop=True)), self.preprocess, self.kind)  # (B, D)
        return pd.DataFrame({self.id_col: batch[self.id_col].astype(str).to_numpy(), "embedding": list(emb)})


@contextlib.contextmanager
def ray_session(address: str | None = None) -> Iterator[None]:
    """Ray for the block: the cluster at `address`, else a local one on this machine's cores (stopped after).
    An already initialised Ray (a caller's session) is used as it is, with Ray Data told to keep row order."""
    try:
        import ray
    except ImportError as e:
        raise JobmatchError('--engine ray needs Ray: pip install "jobmatch[ray]" (or "ray[data]")') from e
    if ray.is_initialized():
        ray.data.DataContext.get_current().execution_options.preserve_order = True
        yield
        return
    if quiet():
        os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")  # Ray Data reads it when it configures its logger
    try:
        ray.init(address=address, num_cpus=None if address else os.cpu_count(), include_dashboard=False, log_to_driver=not quiet(),
                 logging_level=logging.ERROR if quiet() else logging.WARNING)
    except ConnectionError as e:
        raise JobmatchError(f"--address {address}: no Ray cluster answers there ({e})") from e
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = not quiet()
    ctx.execution_options.preserve_order = True  # shards in the input's order, reads and splits included
    try:
        yield
    finally:
        ray.shutdown()


def embed_to_shards(ds, spec: EmbedSpec, kind: str, out_dir: Path, actors: int | None = None) -> None:
    """Embed Ray Dataset `ds` (documents of `kind`) with `EmbedActor`s into Parquet shards under `out_dir`, input order kept."""
    import ray

    pool = ray.data.ActorPoolStrategy(size=actors or cluster_cpus())
    embedded = ds.map_batches(EmbedActor, fn_constructor_args=(spec, kind), batch_size=BATCH_SIZE, batch_format="pandas", compute=pool, num_cpus=1)
    embedded.write_parquet(str(out_dir), ray_remote_args=WRITE_TASK)


WRITE_TASK = {"num_cpus": 0}
"""Writing a shard reserves no CPU: the actors hold every CPU, and a write task that waited for one would wait
for ever (Ray Data does not take a slot back from an actor pool). Readers run before the actors start."""


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def block_count(rows: int, actors: int | None) -> int:
    """Blocks to cut `rows` documents into: 4 per actor (every actor gets work) or more, so that none holds over
    `BATCH_SIZE` rows; never more blocks than rows.

    >>> block_count(10_000, 2), block_count(200, 2), block_count(3, 2), block_count(0, 2)
    (40, 8, 3, 1)
    """
    return max(1, min(rows, max(4 * (actors or cluster_cpus()), -(-rows // BATCH_SIZE))))


def read_shards(out_dir: Path, ids: np.ndarray, kind: str) -> np.ndarray:
    """The shards' embeddings in the order of `ids` -> (N, D) float32; every id must be there exactly once."""
    id_col = TABLES[kind][3]
    table = pd.read_parquet(out_dir) if any(Path(out_dir).glob("*.parquet")) else pd.DataFrame({id_col: [], "embedding": []})
    pos = pd.Index(table[id_col].astype(str)).get_indexer(pd.Index(ids.astype(str)))
    if len(table) != len(ids) or (pos < 0).any():
        raise JobmatchError(f"{out_dir}: the Ray workers wrote {len(table)} embeddings for {len(ids)} {kind}")
    return np.stack(table["embedding"].to_numpy()[pos]).astype(np.float32)


class RayEmbedder:
    """`refresh`'s embedding step on Ray: rows -> shards in the refresh's scratch folder -> (N, D) in row order."""

    def __init__(self, spec: EmbedSpec, actors: int | None = None):
        self.spec, self.actors = spec, actors

    def __call__(self, docs: pd.DataFrame, kind: str, scratch: Path) -> np.ndarray:
        import ray

        docs = docs.reset_index(drop=True)
        size = -(-len(docs) // block_count(len(docs), self.actors))
        blocks = [docs.iloc[i : i + size] for i in range(0, len(docs), size)]  # split here: no repartition task
        embed_to_shards(ray.data.from_pandas(blocks), self.spec, kind, scratch, self.actors)
        return read_shards(scratch, docs[TABLES[kind][3]].astype(str).to_numpy(), kind)

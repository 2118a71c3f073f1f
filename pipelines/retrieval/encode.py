"""Stage `encode`: the embeddings (and optionally the per-token attention) of a dataset's vacancies or resumes, as Parquet.

>>> encode("runs/demo/production", "runs/demo/market", "vacancies", "runs/demo/vacancies.parquet")  # doctest: +SKIP
{'out': 'runs/demo/vacancies.parquet', 'n': 5000, 'dim': 256, ...}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd

from dssm.errors import JobmatchError
from dssm.io import atomic_path, check_output, write_parquet
from dssm.schema import RESUME_ID, TABLES, VACANCY_ID
from pipelines.artifacts import load_encoder
from pipelines.data.dataset import dataset_table, load_dataset
from pipelines.retrieval.refresh import Engine


def encode(model: str | Path, data: str | Path, kind: Literal["vacancies", "resumes"], out: str | Path, attention: bool = False,
           batch_size: int = 64, force: bool = False, engine: Engine | None = None) -> dict[str, Any]:
    """Write `out`: one row per document of `kind`, id + embedding (+ attention and sentence index per token).

    With the Ray engine `out` is a folder of Parquet shards (id + embedding, the dataset's row order;
    `pandas.read_parquet(out)` reads it as one table), built beside `out` and swapped in whole."""
    check_output(out, [model, data], force)
    if engine is not None and engine.name == "ray":
        if attention:
            raise JobmatchError("--attention is written by the local engine only (drop --engine ray)")
        return _encode_on_ray(Path(model), Path(data), kind, Path(out), engine)
    enc = load_encoder(model)
    ds = load_dataset(data)
    df = ds.vacancies if kind == "vacancies" else ds.resumes
    id_col = VACANCY_ID if kind == "vacancies" else RESUME_ID
    frame = pd.DataFrame({id_col: df[id_col].astype(str).to_numpy()})
    if attention:
        emb, attn, sent = enc.embed_with_attention(df, kind, batch_size=batch_size)
        frame["attention"] = [a.tolist() for a in attn]
        frame["sent_idx"] = [s.tolist() for s in sent]
    else:
        emb = enc.embed(df, kind, batch_size=batch_size)
    frame.insert(1, "embedding", list(emb))
    write_parquet(out, frame)
    return {"out": str(out), "n": len(frame), "dim": enc.dim, "model_hash": enc.model_hash, "attention": bool(attention)}


def _encode_on_ray(model: Path, data: Path, kind: str, out: Path, engine: Engine) -> dict[str, Any]:
    import ray

    import pyarrow.parquet as pq

    from pipelines.retrieval.ray_engine import EmbedSpec, block_count, embed_to_shards, ray_session

    source = dataset_table(data, kind)
    enc = load_encoder(model)  # the driver checks the model dir before any worker starts
    with ray_session(engine.address), atomic_path(out) as tmp:
        blocks = block_count(pq.ParquetFile(source).metadata.num_rows, engine.actors)
        docs = ray.data.read_parquet(str(source.resolve())).repartition(blocks).materialize()  # read (and split row groups) before the actors take every CPU
        embed_to_shards(docs, EmbedSpec(str(model.resolve())), kind, tmp, engine.actors)
        n = len(pd.read_parquet(tmp, columns=[TABLES[kind][3]]))
    return {"out": str(out), "n": n, "dim": enc.dim, "model_hash": enc.model_hash, "attention": False, "engine": "ray"}

"""Stage `encode`: the embeddings (and optionally the per-token attention) of a dataset's vacancies or resumes, as Parquet.

>>> encode("runs/demo/production", "runs/demo/market", "vacancies", "runs/demo/vacancies.parquet")  # doctest: +SKIP
{'out': 'runs/demo/vacancies.parquet', 'n': 5000, 'dim': 256, ...}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd

from dssm.io import check_output, write_parquet
from dssm.schema import RESUME_ID, VACANCY_ID
from pipelines.artifacts import load_encoder
from pipelines.data.dataset import load_dataset


def encode(model: str | Path, data: str | Path, kind: Literal["vacancies", "resumes"], out: str | Path, attention: bool = False,
           batch_size: int = 64, force: bool = False) -> dict[str, Any]:
    """Write `out`: one row per document of `kind`, id + embedding (+ attention and sentence index per token)."""
    check_output(out, [model, data], force)
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

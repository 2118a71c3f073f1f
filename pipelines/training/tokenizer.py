"""Stage `tokenizer`: learn the BPE vocabulary on every vacancy and resume document of a dataset folder.

>>> result = train_tokenizer(TokenizerConfig(vocab_size=8000), "runs/demo/market", "runs/demo/tokenizer")  # doctest: +SKIP
>>> result.vocab_size  # doctest: +SKIP
8000
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from dssm.errors import DataError
from dssm.schema import TABLES, TEXT_COLUMNS
from dssm.tokenizer import TokenizerConfig


@dataclass
class TokenizerResult:
    """What `train_tokenizer` wrote."""

    out: str
    vocab_size: int
    model_hash: str
    documents: dict[str, int]
    seconds: float


def read_documents(data: str | Path) -> dict[str, list[list[str]]]:
    """kind -> documents (sentences) for each of vacancies.parquet / resumes.parquet present in `data`.

    DataError naming the file when neither exists, one is unreadable, or a text column is missing.
    """
    import pyarrow.parquet as pq

    from dssm.text import frame_documents

    out: dict[str, list[list[str]]] = {}
    for kind in ("vacancies", "resumes"):
        path = Path(data) / TABLES[kind][0]
        if not path.exists():
            continue
        try:
            names = pq.read_schema(path).names
        except Exception as e:  # noqa: BLE001 - any pyarrow failure means the file is not readable Parquet
            raise DataError(str(path), None, f"not a readable Parquet file ({e})") from e
        missing = [c for c in TEXT_COLUMNS[kind] if c not in names]
        if missing:
            raise DataError(str(path), missing[0], f"missing text column (columns: {names})")
        df = pq.read_table(path, columns=list(TEXT_COLUMNS[kind])).to_pandas()
        out[kind] = frame_documents(df, kind)
    if not out:
        raise DataError(str(Path(data) / TABLES["vacancies"][0]), None, f"neither {TABLES['vacancies'][0]} nor {TABLES['resumes'][0]} found in {data}")
    return out


def train_tokenizer(cfg: TokenizerConfig, data: str | Path, out: str | Path, force: bool = False) -> TokenizerResult:
    """Train BPE on all vacancy and resume texts of `data` into `out` (deterministic by seed; an existing `out` only with `force`)."""
    from dssm.io import check_output
    from dssm.tokenizer import Tokenizer

    check_output(out, [data], force)
    t0 = time.perf_counter()
    docs = read_documents(data)
    texts = [" ".join(d) for kind in ("vacancies", "resumes") for d in docs.get(kind, [])]
    tok = Tokenizer.train(texts, out, vocab_size=cfg.vocab_size, seed=cfg.seed, coverage=cfg.coverage, max_texts=cfg.max_texts)
    return TokenizerResult(str(out), int(tok.vocab_size), tok.model_hash, {k: len(v) for k, v in docs.items()}, round(time.perf_counter() - t0, 3))

"""`jobmatch tokenizer train`: learn the BPE vocabulary on every vacancy and resume document of a dataset folder."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dssm.errors import DataError
from dssm.schema import TABLES, TEXT_COLUMNS
from pipelines.cli import add_parser


def read_documents(data: Path) -> dict[str, list[list[str]]]:
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


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "tokenizer", "BPE tokenizer: train on a dataset.")
    tsub = p.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)
    t = add_parser(tsub, "train", "Train BPE on all vacancy and resume texts of a dataset folder (deterministic).")
    t.add_argument("--data", type=Path, required=True, help="dataset folder with vacancies.parquet and/or resumes.parquet")
    t.add_argument("--out", type=Path, required=True, help="tokenizer dir to write (bpe.model + config.yaml), e.g. RUN/tokenizer")
    t.add_argument("--vocab-size", type=int, default=16000, help="vocabulary size (specials + alphabet + merges)")
    t.add_argument("--seed", type=int, default=0, help="seed of the corpus sample when --max-texts caps it")
    t.add_argument("--coverage", type=float, default=0.9999, help="share of character occurrences kept in the alphabet")
    t.add_argument("--max-texts", type=int, default=None, help="train on a seeded sample of at most this many documents")
    t.add_argument("--json", action="store_true", help="print a JSON summary")
    t.set_defaults(func=train_cmd)


def train_cmd(args: argparse.Namespace) -> int:
    from dssm.tokenizer import Tokenizer

    t0 = time.perf_counter()
    docs = read_documents(args.data)
    texts = [" ".join(d) for kind in ("vacancies", "resumes") for d in docs.get(kind, [])]
    tok = Tokenizer.train(texts, args.out, vocab_size=args.vocab_size, seed=args.seed, coverage=args.coverage, max_texts=args.max_texts)
    summary = {
        "out": str(args.out),
        "vocab_size": tok.vocab_size,
        "model_hash": tok.model_hash,
        "documents": {k: len(v) for k, v in docs.items()},
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        n = ", ".join(f"{v} {k}" for k, v in summary["documents"].items())
        print(f"tokenizer: {tok.vocab_size} tokens from {n} -> {args.out} (sha256 {tok.model_hash[:12]}, {summary['seconds']} s)")
    return 0


"""`jobmatch tokenizer train`: learn the BPE vocabulary on every vacancy and resume document of a dataset folder.

    jobmatch tokenizer train --data runs/demo/market --out runs/demo/tokenizer --vocab-size 16000
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from dssm.tokenizer import TokenizerConfig
from pipelines.commands.flags import add_config_flags, add_force_flag, add_parser, config_from_args
from pipelines.training.tokenizer import train_tokenizer


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "tokenizer", "BPE tokenizer: train on a dataset.")
    tsub = p.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)
    t = add_parser(tsub, "train", "Train BPE on all vacancy and resume texts of a dataset folder (deterministic).")
    t.add_argument("--data", type=Path, required=True, help="dataset folder with vacancies.parquet and/or resumes.parquet")
    t.add_argument("--out", type=Path, required=True, help="tokenizer dir to write (bpe.model + config.yaml), e.g. RUN/tokenizer")
    add_config_flags(t, TokenizerConfig)
    add_force_flag(t)
    t.add_argument("--json", action="store_true", help="print a JSON summary")
    t.set_defaults(func=train_cmd)


def train_cmd(args: argparse.Namespace) -> int:
    result = train_tokenizer(config_from_args(TokenizerConfig, args), args.data, args.out, force=args.force)
    if args.json:
        print(json.dumps(asdict(result), ensure_ascii=False))
    else:
        n = ", ".join(f"{v} {k}" for k, v in result.documents.items())
        print(f"tokenizer: {result.vocab_size} tokens from {n} -> {args.out} (sha256 {result.model_hash[:12]}, {result.seconds} s)")
    return 0

"""`jobmatch refresh`: nightly update of RUN/index from the dataset, re-embedding only new/changed vacancies.

    jobmatch refresh --data runs/demo/market --run runs/demo
    jobmatch refresh --data runs/demo/market --run runs/demo --engine ray --address HEAD:6379
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipelines.commands.flags import add_engine_flags, add_parser, engine_from_args
from pipelines.commands.index import add_index_config_args, index_config, print_report
from pipelines.retrieval.refresh import refresh_index


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "refresh", "Re-embed new/changed vacancies, build and check a new index version, switch CURRENT if it passes.")
    p.add_argument("--data", type=Path, required=True, help="dataset folder with today's vacancies")
    p.add_argument("--run", type=Path, required=True, help="run directory (index at RUN/index, model at RUN/production)")
    p.add_argument("--index", type=Path, default=None, help="index root (default RUN/index)")
    p.add_argument("--model", type=Path, default=None, help="model dir (default RUN/production)")
    p.add_argument("--summarizer", type=Path, default=None, help="summarizer dir; default: the one the served index was built with (a different one needs --full)")
    p.add_argument("--full", action="store_true", help="re-embed every vacancy")
    add_index_config_args(p)
    add_engine_flags(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_refresh)


def run_refresh(args: argparse.Namespace) -> int:
    from dssm.io import quiet

    if not quiet():
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("faiss").setLevel(logging.WARNING)
    report = refresh_index(index_config(args), args.data, args.run, args.index, args.model, args.summarizer, full=args.full, engine=engine_from_args(args))
    print_report(report, args.json)
    return 0 if report.action != "rejected" else 1

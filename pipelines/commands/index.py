"""`jobmatch index build|list|switch|rollback`: versioned vacancy indexes under RUN/index.

    jobmatch index build --model runs/demo/production --data runs/demo/market --summarizer runs/demo/summarizer --out runs/demo/index
    jobmatch index list --index runs/demo/index
    jobmatch index switch --index runs/demo/index 20250101T000000000000Z-1a2b3c4d
    jobmatch index rollback --index runs/demo/index

The build and refresh flags are `pipelines.retrieval.index.IndexConfig`'s fields (`--config FILE` first).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from dssm.io import load_config
from pipelines.commands.flags import add_config_flags, add_engine_flags, add_parser, config_from_args, engine_from_args
from pipelines.retrieval.index import IndexConfig, rollback, switch
from pipelines.retrieval.refresh import RefreshReport, build_embedding_index, versions_table


def add_index_config_args(p: argparse.ArgumentParser) -> None:
    """`--config FILE` and one flag per `IndexConfig` field (shared by build and refresh)."""
    p.add_argument("--config", type=Path, default=None, help="IndexConfig YAML (the flags below override it)")
    add_config_flags(p, IndexConfig)


def index_config(args: argparse.Namespace) -> IndexConfig:
    return config_from_args(IndexConfig, args, base=load_config(IndexConfig, args.config) if args.config else None)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "index", "Build, list, switch and roll back versioned FAISS vacancy indexes.")
    isub = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)

    b = add_parser(isub, "build", "Embed every vacancy (or resume, --side resumes; summarized with --summarizer) and serve a new index version.")
    b.add_argument("--side", choices=("vacancies", "resumes"), default="vacancies",
                   help="what to index: vacancies (vacancies for a resume) or resumes (candidates for a vacancy, e.g. --out RUN/resume_index)")
    b.add_argument("--model", type=Path, required=True, help="production model directory")
    b.add_argument("--data", type=Path, required=True, help="dataset folder (the side's documents; the other side's give recall queries)")
    b.add_argument("--out", type=Path, required=True, help="index root, e.g. RUN/index")
    b.add_argument("--summarizer", type=Path, default=None, help="summarizer directory: embed summaries instead of full texts")
    b.add_argument("--budget", type=int, default=None, help="summary tokens (default: the budget of the summaries the model was trained on, else the summarizer's)")
    b.add_argument("--no-switch", action="store_true", help="build and check but leave CURRENT as it is")
    add_index_config_args(b)
    add_engine_flags(b)
    b.add_argument("--json", action="store_true", help="print the report as JSON")
    b.set_defaults(func=run_build)

    ls = add_parser(isub, "list", "List index versions (CURRENT marked).")
    ls.add_argument("--index", type=Path, required=True, help="index root")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)

    s = add_parser(isub, "switch", "Serve VERSION (atomic replace of CURRENT).")
    s.add_argument("--index", type=Path, required=True, help="index root")
    s.add_argument("version", help="version directory name")
    s.set_defaults(func=run_switch)

    r = add_parser(isub, "rollback", "Serve the version that was served before the current one.")
    r.add_argument("--index", type=Path, required=True, help="index root")
    r.set_defaults(func=run_rollback)


def run_build(args: argparse.Namespace) -> int:
    report = build_embedding_index(index_config(args), args.model, args.data, args.out, args.summarizer, args.budget, switch=not args.no_switch, side=args.side,
                                  engine=engine_from_args(args))
    print_report(report, args.json)
    return 0 if report.action != "rejected" else 1


def print_report(report: RefreshReport, as_json: bool) -> None:
    d = asdict(report)
    if as_json:
        print(json.dumps(d, ensure_ascii=False, default=str))
        return
    print(f"{d['action']}: version {d['version'] or '-'} serving {d['current_version']} | n={d['n']} new={d['new']} changed={d['changed']} removed={d['removed']} "
          f"embedded={d['embedded']} reused={d['reused']} | {d['reason'] or 'incremental'} | {d['seconds']:.2f}s")
    if d["checks"]:
        print("checks: " + ", ".join(f"{k}={v}" for k, v in d["checks"].items()))


def run_list(args: argparse.Namespace) -> int:
    rows = versions_table(args.index)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for r in rows:
            print(f"{'*' if r['current'] else ' '} {r['version']}  n={r['n']}  {r['index_type']}  recall@10={r['recall_at_10']:.4f}  model={r['model_hash']}  {r['built_at']}")
    return 0


def run_switch(args: argparse.Namespace) -> int:
    previous = switch(args.index, args.version)
    print(f"CURRENT {previous} -> {args.version}")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    print(f"CURRENT -> {rollback(args.index)}")
    return 0

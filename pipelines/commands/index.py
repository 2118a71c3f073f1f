"""`jobmatch index build|list|switch|rollback`: versioned vacancy indexes under RUN/index.

    jobmatch index build --model runs/demo/production --data runs/demo/market --out runs/demo/index
    jobmatch index list --index runs/demo/index
    jobmatch index switch --index runs/demo/index 20250101T000000000000Z-1a2b3c4d
    jobmatch index rollback --index runs/demo/index
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from pipelines.cli import add_parser


def add_index_config_args(p: argparse.ArgumentParser) -> None:
    """Flags of `pipelines.index.IndexConfig` (shared by build and refresh)."""
    p.add_argument("--index-type", choices=("auto", "flat", "ivf", "hnsw"), default="auto", help="auto: flat up to --flat-max rows, else ivf")
    p.add_argument("--flat-max", type=int, default=50_000, help="auto: largest count served by exact search")
    p.add_argument("--nlist", type=int, default=0, help="IVF lists (0 = 4*sqrt(n))")
    p.add_argument("--nprobe", type=int, default=32, help="IVF lists probed per query")
    p.add_argument("--hnsw-m", type=int, default=32, help="HNSW neighbours per node")
    p.add_argument("--ef-construction", type=int, default=80, help="HNSW build candidate list")
    p.add_argument("--ef-search", type=int, default=128, help="HNSW query candidate list")
    p.add_argument("--min-recall", type=float, default=0.9, help="a new version with lower recall@10 vs exact is not switched to")


def index_config(args: argparse.Namespace):
    from dssm.errors import JobmatchError
    from pipelines.index import IndexConfig

    try:
        return IndexConfig(index_type=args.index_type, flat_max=args.flat_max, nlist=args.nlist, nprobe=args.nprobe, hnsw_m=args.hnsw_m, ef_construction=args.ef_construction, ef_search=args.ef_search)
    except ValueError as e:
        raise JobmatchError(str(e)) from e


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "index", "Build, list, switch and roll back versioned FAISS vacancy indexes.")
    isub = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)

    b = add_parser(isub, "build", "Embed every vacancy (summarized with --summarizer) and serve a new index version.")
    b.add_argument("--model", type=Path, required=True, help="production model directory")
    b.add_argument("--data", type=Path, required=True, help="dataset folder (vacancies.parquet; resumes give recall queries)")
    b.add_argument("--out", type=Path, required=True, help="index root, e.g. RUN/index")
    b.add_argument("--summarizer", type=Path, default=None, help="summarizer directory: embed summaries instead of full texts")
    b.add_argument("--no-switch", action="store_true", help="build and check but leave CURRENT as it is")
    add_index_config_args(b)
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
    from pipelines.dataset import load_dataset
    from pipelines.recommend import load_encoder, load_preprocess
    from pipelines.refresh import refresh

    cfg = index_config(args)
    encoder = load_encoder(args.model)
    preprocess, preprocess_id = load_preprocess(args.summarizer)
    ds = load_dataset(args.data)
    extra = {"model_dir": str(args.model.resolve()), "data_dir": str(args.data.resolve()), "summarizer_dir": str(args.summarizer.resolve()) if args.summarizer else None}
    report = refresh(ds.vacancies, args.out, encoder, cfg, preprocess, preprocess_id, ds.resumes, extra, full=True, min_recall=args.min_recall, switch_current=not args.no_switch)
    print_report(report, args.json)
    return 0 if report.action != "rejected" else 1


def print_report(report, as_json: bool) -> None:
    d = asdict(report)
    if as_json:
        print(json.dumps(d, ensure_ascii=False, default=str))
        return
    print(f"{d['action']}: version {d['version'] or '-'} serving {d['current_version']} | n={d['n']} new={d['new']} changed={d['changed']} removed={d['removed']} "
          f"embedded={d['embedded']} reused={d['reused']} | {d['reason'] or 'incremental'} | {d['seconds']:.2f}s")
    if d["checks"]:
        print("checks: " + ", ".join(f"{k}={v}" for k, v in d["checks"].items()))


def run_list(args: argparse.Namespace) -> int:
    from pipelines.refresh import versions_table

    rows = versions_table(args.index)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for r in rows:
            print(f"{'*' if r['current'] else ' '} {r['version']}  n={r['n']}  {r['index_type']}  recall@10={r['recall_at_10']:.4f}  model={r['model_hash']}  {r['built_at']}")
    return 0


def run_switch(args: argparse.Namespace) -> int:
    from pipelines.index import switch

    previous = switch(args.index, args.version)
    print(f"CURRENT {previous} -> {args.version}")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    from pipelines.index import rollback

    print(f"CURRENT -> {rollback(args.index)}")
    return 0

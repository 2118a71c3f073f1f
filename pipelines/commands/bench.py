"""`jobmatch bench ...`: speed and memory benchmarks, each a ratio against a baseline measured in the same run.

Every module in `pipelines/bench/` is discovered and registers its own `jobmatch bench NAME`;
`bench all` runs each one's `run_default(out_dir, quick)` and writes OUT/bench.json (date,
machine, each benchmark's result) and OUT/bench.md (the same as Markdown tables, see
`pipelines.bench.markdown`).
"""

from __future__ import annotations

import argparse
import importlib
import json
from datetime import datetime, timezone
from pathlib import Path

from dssm.io import write_json, write_text
from pipelines.bench import benchmark_modules, machine, markdown
from pipelines.cli import add_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "bench", "Speed/memory benchmarks against same-run baselines.")
    bench_sub = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    for module in benchmark_modules().values():
        importlib.import_module(module).register(bench_sub)
    a = add_parser(bench_sub, "all", "Run every benchmark; write bench.json and bench.md (tables, the machine); print the Markdown.")
    a.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for bench.json, bench.md and each benchmark's JSON")
    a.add_argument("--quick", action="store_true", help="tiny sizes, one thread (a smoke test: the figures say nothing about speed)")
    a.add_argument("--json", action="store_true", help="print the JSON report instead of the Markdown")
    a.set_defaults(func=run_all)


def run_all(args: argparse.Namespace) -> int:
    report = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "quick": args.quick, "machine": machine(), "benchmarks": {}}
    for name, module in benchmark_modules().items():
        report["benchmarks"][name] = importlib.import_module(module).run_default(args.out, quick=args.quick)
    md = markdown(report)
    write_json(args.out / "bench.json", report)
    write_text(args.out / "bench.md", md)
    print(json.dumps(report, ensure_ascii=False, indent=2, default=str) if args.json else md)
    return 0

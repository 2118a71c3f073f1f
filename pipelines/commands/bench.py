"""`jobmatch bench ...`: speed and memory benchmarks, each a ratio against a baseline measured in the same run.

Every module in `pipelines/bench/` is discovered and exposes `register(bench_subparsers)`;
`bench all` runs each one's `run_default(out_dir) -> dict` and writes one JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
from pathlib import Path

from dssm.io import versions, write_json
from pipelines.cli import add_parser



def benchmark_modules() -> dict[str, str]:
    """benchmark name -> module path, for every module in `pipelines.bench`."""
    import pipelines.bench as pkg

    return {m.name: f"{pkg.__name__}.{m.name}" for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name)}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "bench", "Speed/memory benchmarks against same-run baselines.")
    bench_sub = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    for module in benchmark_modules().values():
        importlib.import_module(module).register(bench_sub)
    a = add_parser(bench_sub, "all", "Run every benchmark and write one JSON report.")
    a.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for bench.json")
    a.set_defaults(func=run_all)


def run_all(args: argparse.Namespace) -> int:
    results = {"machine": versions()}
    for name, module in benchmark_modules().items():
        results[name] = importlib.import_module(module).run_default(args.out)
    write_json(args.out / "bench.json", results)
    print(json.dumps(results, ensure_ascii=False, indent=2, default=str))
    return 0

"""`jobmatch bench encode|index|summarize|understanding|train|all`: speed and memory benchmarks, each a ratio against a baseline measured in the same run.

`bench all` runs each benchmark's `run_default(out_dir, quick)` (`pipelines.bench.run_all`) and
writes OUT/bench.json (date, machine, each benchmark's result) and OUT/bench.md (the same as
Markdown tables, `pipelines.bench.markdown`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dssm.errors import JobmatchError
from dssm.io import write_json, write_text
from pipelines.bench import encode, index, markdown, refresh, run_all, summarize, train, understanding
from pipelines.commands.flags import add_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "bench", "Speed/memory benchmarks against same-run baselines.")
    bench_sub = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    register_encode(bench_sub)
    register_index(bench_sub)
    register_summarize(bench_sub)
    register_understanding(bench_sub)
    register_train(bench_sub)
    register_refresh(bench_sub)
    a = add_parser(bench_sub, "all", "Run every benchmark; write bench.json and bench.md (tables, the machine); print the Markdown.")
    a.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for bench.json, bench.md and each benchmark's JSON")
    a.add_argument("--quick", action="store_true", help="tiny sizes, one thread (a smoke test: the figures say nothing about speed)")
    a.add_argument("--json", action="store_true", help="print the JSON report instead of the Markdown")
    a.set_defaults(func=run_bench_all)


def run_bench_all(args: argparse.Namespace) -> int:
    report = run_all(args.out, quick=args.quick)
    md = markdown(report)
    write_json(args.out / "bench.json", report)
    write_text(args.out / "bench.md", md)
    print(json.dumps(report, ensure_ascii=False, indent=2, default=str) if args.json else md)
    return 0


def register_encode(bench_sub: argparse._SubParsersAction) -> None:
    p = add_parser(bench_sub, "encode", "Encoder throughput (production 300 / teacher 3000 tokens) vs an unbatched GRU baseline.")
    p.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for encode.json")
    p.add_argument("--n-production", type=int, default=2048, help="documents for the 300-token encoder")
    p.add_argument("--n-teacher", type=int, default=128, help="documents for the 3,000-token encoder")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads of the main measurements")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.set_defaults(func=run_encode)


def run_encode(args: argparse.Namespace) -> int:
    report = encode.run(args.n_production, args.n_teacher, args.threads)
    write_json(args.out / "encode.json", report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        for name in ("production", "teacher"):
            for r in report[name]["variants"]:
                print(f"{name:10s} {r['variant']:34s} {r['docs_per_s']:9.1f} docs/s {r['ms_per_doc']:8.2f} ms/doc  x{r['speedup_vs_naive']:.1f}  peak {r['peak_rss_mb']:.0f} MB")
        print(f"torch.compile: {report['torch_compile']}")
        print(f"goals met: production {report['production_meets_goal']}, teacher {report['teacher_meets_goal']}")
    return 0


def register_index(bench_sub: argparse._SubParsersAction) -> None:
    p = add_parser(bench_sub, "index", "FAISS exact vs IVF vs HNSW: build time, memory, recall@10, QPS, single-query latency.")
    p.add_argument("--n", type=int, default=200_000, help="indexed vectors (1000000 for the issue's goal)")
    p.add_argument("--dim", type=int, default=256, help="dimension of the synthetic vectors")
    p.add_argument("--queries", type=int, default=200, help="queries for recall and latency")
    p.add_argument("--threads", type=int, default=2, help="faiss OpenMP threads")
    p.add_argument("--model", type=Path, default=None, help="trained model dir: benchmark its real embeddings")
    p.add_argument("--data", type=Path, default=None, help="dataset folder embedded with --model")
    p.add_argument("--clusters", type=int, default=2000, help="synthetic: mixture components")
    p.add_argument("--spread", type=float, default=1.0, help="synthetic: within-component noise norm (larger = harder)")
    p.add_argument("--noise", type=float, default=0.5, help="replication noise (norm of the added gaussian before renormalising)")
    p.add_argument("--nlist", type=int, default=0, help="IVF lists (0 = 4*sqrt(n))")
    p.add_argument("--hnsw-m", type=int, default=32, help="HNSW M")
    p.add_argument("--ef-construction", type=int, default=80, help="HNSW efConstruction")
    p.add_argument("--types", nargs="+", choices=("flat", "ivf", "hnsw"), default=["flat", "ivf", "hnsw"], help="index types to run")
    p.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for index.json")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.set_defaults(func=run_index)


def run_index(args: argparse.Namespace) -> int:
    if (args.model is None) != (args.data is None):
        raise JobmatchError("--model and --data go together")
    result = index.run(args.n, args.dim, args.queries, args.threads, args.model, args.data, clusters=args.clusters, spread=args.spread, noise=args.noise, nlist=args.nlist,
                 hnsw_m=args.hnsw_m, ef_construction=args.ef_construction, types=tuple(args.types))
    write_json(args.out / "index.json", result)
    print(json.dumps(result, default=str) if args.json else index.table(result))
    return 0


def register_summarize(bench_sub: argparse._SubParsersAction) -> None:
    p = add_parser(bench_sub, "summarize", "Summarize path (split+BPE+LR+select) docs/s vs razdel sentence split alone, real hh.ru vacancies.")
    p.add_argument("--data", type=Path, default=summarize.DEFAULT_DATA, help="hh.ru vacancies.parquet (description_html or text, title, skills)")
    p.add_argument("--summarizer", type=Path, default=None, help="trained summarizer dir; default: a stand-in trained here (labelled)")
    p.add_argument("--n", type=int, default=1000, help="documents timed")
    p.add_argument("--budget", type=int, default=300, help="summary token budget")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (best kept)")
    p.add_argument("--vocab-size", type=int, default=8000, help="stand-in tokenizer vocabulary")
    p.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for summarize.json")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.set_defaults(func=run_summarize)


def run_summarize(args: argparse.Namespace) -> int:
    report = summarize.run(args.data, args.summarizer, args.n, args.budget, args.repeats, args.vocab_size)
    write_json(args.out / "summarize.json", report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        return 0
    print(f"summarizer: {report['summarizer']['source']} (labels: {report['summarizer']['labels']})")
    print(f"{report['documents']} real hh.ru vacancies, {report['sentences']} sentences, {report['tokens']} BPE tokens, {report['cpu_count']} CPUs")
    print(f"  split (html+razdel)        {report['split_docs_per_s']:8.1f} docs/s")
    print(f"  summarize (split+BPE+LR+select) {report['summarize_docs_per_s']:8.1f} docs/s")
    print("  stages alone: " + ", ".join(f"{k} {v:.0f} docs/s" for k, v in report["stages_docs_per_s"].items()))
    print(f"  ratio {report['ratio_summarize_over_split']:.2f}x (goal <= {summarize.GOAL_RATIO}x): {'met' if report['meets_goal'] else 'NOT met'}")
    if "key_skill_coverage_held_out" in report:
        cov = report["key_skill_coverage_held_out"]
        print(f"  key-skill coverage of the {report['budget']}-token input, held-out vacancies: " + ", ".join(f"{m} {v['coverage']:.3f}" for m, v in cov.items())
              + f" (n={next(iter(cov.values()))['documents']}; lr = supervised reference)")
    return 0


def register_understanding(bench_sub: argparse._SubParsersAction) -> None:
    p = add_parser(bench_sub, "understanding", "Tagging docs/s at 300 and 3,000 tokens (ALBERT -> BiLSTM vs BiLSTM alone) and pretraining pieces/s.")
    p.add_argument("--n-short", type=int, default=512, help="300-token documents timed")
    p.add_argument("--n-long", type=int, default=32, help="3,000-token documents timed")
    p.add_argument("--pretrain-steps", type=int, default=5, help="timed pretraining steps per variant (median kept)")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads")
    p.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for understanding.json")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.set_defaults(func=run_understanding)


def run_understanding(args: argparse.Namespace) -> int:
    result = understanding.run(args.n_short, args.n_long, args.pretrain_steps, args.threads)
    write_json(args.out / "understanding.json", result)
    print(json.dumps(result, default=str, indent=2) if args.json else understanding.reading(result) + "\n\n" + understanding.table(result))
    return 0


def register_train(bench_sub: argparse._SubParsersAction) -> None:
    p = add_parser(bench_sub, "train", "Training pairs/s: one process vs DDP over CPU processes (and a GPU when present), same global batch.")
    p.add_argument("--vacancies", type=int, default=5000, help="vacancies of the synthetic market trained on")
    p.add_argument("--resumes", type=int, default=3000, help="resumes of the synthetic market")
    p.add_argument("--config", default="production", help="model preset or YAML")
    p.add_argument("--epochs", type=int, default=1, help="epochs per arm")
    p.add_argument("--ddp-devices", type=int, default=2, help="processes of the DDP arm (1 = no DDP arm)")
    p.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for train.json")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    result = train.run(args.vacancies, args.resumes, args.config, args.epochs, args.ddp_devices)
    write_json(args.out / "train.json", result)
    print(json.dumps(result, default=str, indent=2) if args.json else train.reading(result) + "\n\n" + train.table(result))
    return 0


def register_refresh(bench_sub: argparse._SubParsersAction) -> None:
    p = add_parser(bench_sub, "refresh", "Index build over a catalogue grown to --n vacancies, then a refresh after --change of them changed: wall time, peak RSS, documents embedded.")
    p.add_argument("--n", type=int, default=1_000_000, help="vacancies in the grown catalogue")
    p.add_argument("--model", type=Path, required=True, help="production model dir (e.g. runs/demo/production)")
    p.add_argument("--data", type=Path, required=True, help="dataset folder whose vacancies are grown (e.g. runs/demo/market)")
    p.add_argument("--change", type=float, default=0.01, help="share of the catalogue changed before the refresh")
    p.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for refresh.json")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.set_defaults(func=run_refresh)


def run_refresh(args: argparse.Namespace) -> int:
    if args.n < 3 or not 0 < args.change < 1:
        raise JobmatchError(f"--n must be >= 3 and --change in (0, 1), got {args.n}, {args.change}")
    result = refresh.run(args.n, args.model, args.data, args.change)
    write_json(args.out / "refresh.json", result)
    print(json.dumps(result, default=str, indent=2) if args.json else refresh.reading(result) + "\n\n" + refresh.table(result))
    return 0

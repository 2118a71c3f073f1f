"""`jobmatch demo`: the whole pipeline on the synthetic market (or any dataset in the contract), then the results table.

    jobmatch demo                                   # synthetic market into runs/demo
    jobmatch demo --data runs/semi --out runs/semi_demo --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dssm.errors import JobmatchError
from pipelines.cli import add_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(
        sub,
        "demo",
        "Run every stage (synth, tokenizer, teacher, labels, summarizer, summaries, production + control DSSM, index, "
        "evaluate, A/B replay + analysis) and print the results table; finished stages are reused on a rerun.",
    )
    p.add_argument("--data", type=Path, default=None, help="dataset folder in the contract (default: generate the synthetic market into OUT/market)")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="run directory")
    p.add_argument("--vacancies", type=int, default=5000, help="synthetic vacancies (without --data)")
    p.add_argument("--resumes", type=int, default=3000, help="synthetic resumes (without --data)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic market")
    p.add_argument("--production-config", default="demo", help="DSSM preset or YAML of the production and control models")
    p.add_argument("--teacher-config", default="demo_teacher", help="DSSM preset or YAML of the teacher")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the evaluation CIs")
    p.add_argument("--force", action="store_true", help="rerun every stage instead of reusing finished ones")
    p.add_argument("--json", action="store_true", help="print the results as JSON (stage output goes to stderr)")
    p.set_defaults(func=run_demo_cmd)


def run_demo_cmd(args: argparse.Namespace) -> int:
    from pipelines.demo import DemoConfig, format_summary, run_demo

    try:
        cfg = DemoConfig(
            out=args.out,
            data=args.data,
            vacancies=args.vacancies,
            resumes=args.resumes,
            seed=args.seed,
            production=args.production_config,
            teacher=args.teacher_config,
            n_boot=args.n_boot,
            force=args.force,
        )
    except ValueError as e:
        raise JobmatchError(f"invalid option: {e}") from e
    result = run_demo(cfg, stage_stdout=sys.stderr if args.json else None)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return 0
    ran = sum(not s["reused"] for s in result["stages"])
    print(f"\njobmatch demo: {ran} stages run, {len(result['stages']) - ran} reused, {result['seconds']:.0f} s; results in {args.out / 'demo.json'}\n")
    print(format_summary(result["summary"]))
    return 0

"""`jobmatch demo`: the whole pipeline on the synthetic market (or any dataset in the contract), then the results table.

    jobmatch demo                                   # synthetic market into runs/demo
    jobmatch demo --data runs/semi --out runs/semi_demo --json
    jobmatch demo --data runs/semi12/market --out runs/semi12 --seeds 0 1 2 --val-fraction 0.18   # pooled over 3 seeds

The flags are `pipelines.demo.DemoConfig`'s fields.
"""

from __future__ import annotations

import argparse
import json
import sys

from pipelines.commands.flags import add_config_flags, add_parser, config_from_args
from pipelines.demo import DemoConfig, format_summary, run_demo


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(
        sub,
        "demo",
        "Run every stage (synth, tokenizer; per training seed: matched teacher, labeller, labels, summarizer, summaries, "
        "production + control DSSMs (+ TextRank and oracle arms with --textrank / --oracle), index, evaluate; A/B replay + "
        "analysis; pooling over seeds) and print the results table; finished stages are reused on a rerun.",
    )
    add_config_flags(p, DemoConfig, rename={"production": "production-config", "teacher": "teacher-config", "labeller": "labeller-config"})
    p.add_argument("--json", action="store_true", help="print the results as JSON (stage output goes to stderr)")
    p.set_defaults(func=run_demo_cmd)


def run_demo_cmd(args: argparse.Namespace) -> int:
    cfg = config_from_args(DemoConfig, args)
    result = run_demo(cfg, stage_stdout=sys.stderr if args.json else None)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return 0
    ran = sum(not s["reused"] for s in result["stages"])
    print(f"\njobmatch demo: {ran} stages run, {len(result['stages']) - ran} reused, {result['seconds']:.0f} s; results in {cfg.out / 'demo.json'}\n")
    print(format_summary(result["summary"]))
    return 0

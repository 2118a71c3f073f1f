"""`jobmatch train` (fit a two-tower DSSM into a model dir) and `jobmatch encode` (embed documents with one).

    jobmatch train --data runs/demo/market --config production --out runs/demo/production
    jobmatch train --data runs/demo/market --config teacher --out runs/demo/teacher --max-epochs 2
    jobmatch train --data runs/demo/market --config demo_skills --parsed runs/demo/parsed --out runs/demo/skills
    jobmatch encode --model runs/demo/production --data runs/demo/market --kind vacancies --out runs/demo/vac.parquet
    jobmatch encode --model runs/demo/production --data runs/demo/market --out runs/demo/vac_shards --engine ray

The towers come from `--config` (a preset or YAML); the flags after it are the fields of its
`train` section (`dssm.config.TrainConfig`) and override the preset's values.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from dssm.config import SHIPPED, TrainConfig, load_model_config
from pipelines.commands.flags import add_config_flags, add_engine_flags, add_force_flag, add_parser, config_from_args, engine_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "train", "Train a two-tower DSSM (production or teacher preset) into a model directory.")
    p.add_argument("--data", type=Path, required=True, help="dataset folder (vacancies/resumes/interactions.parquet)")
    p.add_argument("--config", default="production", help="YAML path or preset: " + ", ".join(SHIPPED))
    p.add_argument("--out", type=Path, required=True, help="model directory, e.g. RUN/production or RUN/teacher")
    p.add_argument("--tokenizer", type=Path, default=None, help="tokenizer dir; default OUT/../tokenizer, trained there if absent")
    p.add_argument("--resume", action="store_true", help="continue a killed run (.OUT.partial/last.ckpt) or a finished one (OUT/last.ckpt)")
    p.add_argument("--parsed", type=Path, default=None, help="parse folder of DATA (`jobmatch parse`): the skill bags of a config with skill_dim > 0, e.g. demo_skills")
    add_config_flags(p, TrainConfig)
    add_force_flag(p)
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run_train)

    e = add_parser(sub, "encode", "Embed vacancies or resumes with a trained model dir (Parquet: id + embedding).")
    e.add_argument("--model", type=Path, required=True, help="model directory written by `jobmatch train`")
    e.add_argument("--data", type=Path, required=True, help="dataset folder")
    e.add_argument("--kind", choices=("vacancies", "resumes"), default="vacancies", help="which table to embed")
    e.add_argument("--out", type=Path, required=True, help="output Parquet (id, embedding[, attention, sent_idx])")
    e.add_argument("--attention", action="store_true", help="also write per-token attention weights and sentence indices")
    e.add_argument("--batch-size", type=int, default=64, help="documents per forward pass")
    add_engine_flags(e)
    add_force_flag(e)
    e.add_argument("--json", action="store_true", help="print a JSON summary")
    e.set_defaults(func=run_encode)


def run_train(args: argparse.Namespace) -> int:
    from pipelines.training.dssm import train

    cfg = load_model_config(args.config)
    cfg = replace(cfg, train=config_from_args(TrainConfig, args, base=cfg.train))
    metrics = train(args.data, cfg, args.out, tokenizer_dir=args.tokenizer, resume=args.resume, force=args.force, parsed=args.parsed)
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False, default=str))
    else:
        k = [key for key in metrics if key.startswith("best_val_recall")][0]
        print(f"{args.out}: {k}={metrics[k]:.4f} epochs={metrics['epochs_run']} pairs/s={metrics['pairs_per_s']:.0f} fit={metrics['fit_seconds']:.0f}s")
    return 0


def run_encode(args: argparse.Namespace) -> int:
    from pipelines.retrieval.encode import encode

    summary = encode(args.model, args.data, args.kind, args.out, attention=args.attention, batch_size=args.batch_size, force=args.force,
                     engine=engine_from_args(args))
    print(json.dumps(summary) if args.json else f"{args.out}: {summary['n']} {args.kind} x {summary['dim']}")
    return 0

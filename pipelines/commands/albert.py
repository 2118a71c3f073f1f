"""`jobmatch albert pretrain`: MLM + SOP pretraining of the ALBERT encoder on real text.

    jobmatch import --src-root ../shared/data --out runs/real hh_vacancies_ru superjob_it_ru ...
    jobmatch albert pretrain --data runs/real ../shared/data/resumener_zh --out runs/understanding/albert
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from dssm.understanding.albert import PretrainConfig
from pipelines.commands.flags import add_config_flags, add_force_flag, add_parser, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "albert", "ALBERT encoder: pretrain on real text (MLM + sentence-order prediction).")
    asub = p.add_subparsers(dest="albert_command", metavar="ACTION", required=True)
    t = add_parser(asub, "pretrain", "Pretrain an ALBERT encoder (transformers) on the text of dataset folders and entity sets.")
    t.add_argument("--data", type=Path, nargs="+", required=True,
                   help="dataset folders in the contract (vacancies/resumes.parquet) and/or entity sets (token or span sets; their train part only)")
    t.add_argument("--out", type=Path, required=True, help="encoder folder to write (config.json + model.safetensors + albert.yaml + tokenizer/)")
    t.add_argument("--config", default="albert", help="preset name (albert, albert_tiny) or a YAML file of PretrainConfig")
    t.add_argument("--init", type=Path, default=None,
                   help="start from a local Hugging Face ALBERT/BERT checkpoint folder (its weights and tokenizer) instead of random weights, "
                        "or continue an encoder folder this command wrote on new text (its weights and BPE); no network")
    t.add_argument("--resume", action="store_true", help="continue a killed run from its last checkpoint")
    add_config_flags(t, PretrainConfig)
    add_force_flag(t)
    t.add_argument("--json", action="store_true", help="print a JSON summary")
    t.set_defaults(func=pretrain_cmd)


def pretrain_cmd(args: argparse.Namespace) -> int:
    from dssm.understanding.albert import load_pretrain_config
    from pipelines.understanding.pretrain import pretrain

    cfg = config_from_args(PretrainConfig, args, load_pretrain_config(args.config))
    result = pretrain(cfg, args.data, args.out, init=args.init, resume=args.resume, force=args.force)
    if args.json:
        print(json.dumps(asdict(result), ensure_ascii=False))
    else:
        v = result.val
        print(f"albert: {result.steps} steps over {result.pairs} pairs ({result.documents} documents, {result.pieces} pieces), "
              f"{result.tokens_per_s:.0f} pieces/s; held-out MLM acc {v.get('val_mlm_acc', float('nan')):.3f}, "
              f"SOP acc {v.get('val_sop_acc', float('nan')):.3f} -> {result.out} ({result.seconds} s)")
    return 0

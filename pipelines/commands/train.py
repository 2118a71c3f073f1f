"""`jobmatch train` (fit a two-tower DSSM into a model dir) and `jobmatch encode` (embed documents with one).

    jobmatch train --data runs/demo/market --config production --out runs/demo/production
    jobmatch train --data runs/demo/market --config teacher --out runs/demo/teacher --max-epochs 2
    jobmatch encode --model runs/demo/production --data runs/demo/market --kind vacancies --out runs/demo/vac.parquet
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dssm.config import SHIPPED
from pipelines.cli import add_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "train", "Train a two-tower DSSM (production or teacher preset) into a model directory.")
    p.add_argument("--data", type=Path, required=True, help="dataset folder (vacancies/resumes/interactions.parquet)")
    p.add_argument("--config", default="production", help="YAML path or preset: " + ", ".join(SHIPPED))
    p.add_argument("--out", type=Path, required=True, help="model directory, e.g. RUN/production or RUN/teacher")
    p.add_argument("--tokenizer", type=Path, default=None, help="tokenizer dir; default OUT/../tokenizer, trained there if absent")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")
    p.add_argument("--max-epochs", type=int, default=None, help="override train.max_epochs")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run_train)

    e = add_parser(sub, "encode", "Embed vacancies or resumes with a trained model dir (Parquet: id + embedding).")
    e.add_argument("--model", type=Path, required=True, help="model directory written by `jobmatch train`")
    e.add_argument("--data", type=Path, required=True, help="dataset folder")
    e.add_argument("--kind", choices=("vacancies", "resumes"), default="vacancies", help="which table to embed")
    e.add_argument("--out", type=Path, required=True, help="output Parquet (id, embedding[, attention, sent_idx])")
    e.add_argument("--attention", action="store_true", help="also write per-token attention weights and sentence indices")
    e.add_argument("--batch-size", type=int, default=64, help="documents per forward pass")
    e.add_argument("--json", action="store_true", help="print a JSON summary")
    e.set_defaults(func=run_encode)


def run_train(args: argparse.Namespace) -> int:
    from pipelines.train import train

    metrics = train(args.data, args.config, args.out, tokenizer_dir=args.tokenizer, resume=args.resume, max_epochs=args.max_epochs)
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False, default=str))
    else:
        k = [key for key in metrics if key.startswith("best_val_recall")][0]
        print(f"{args.out}: {k}={metrics[k]:.4f} epochs={metrics['epochs_run']} pairs/s={metrics['pairs_per_s']:.0f} fit={metrics['fit_seconds']:.0f}s")
    return 0


def run_encode(args: argparse.Namespace) -> int:
    import pandas as pd

    from dssm.encode import Encoder
    from dssm.io import write_parquet
    from dssm.schema import RESUME_ID, VACANCY_ID
    from pipelines.dataset import load_dataset

    enc = Encoder.load(args.model)
    ds = load_dataset(args.data)
    df = ds.vacancies if args.kind == "vacancies" else ds.resumes
    id_col = VACANCY_ID if args.kind == "vacancies" else RESUME_ID
    out = pd.DataFrame({id_col: df[id_col].astype(str).to_numpy()})
    if args.attention:
        emb, attn, sent = enc.embed_with_attention(df, args.kind)
        out["attention"] = [a.tolist() for a in attn]
        out["sent_idx"] = [s.tolist() for s in sent]
    else:
        emb = enc.embed(df, args.kind, batch_size=args.batch_size)
    out.insert(1, "embedding", list(emb))
    write_parquet(args.out, out)
    summary = {"out": str(args.out), "n": len(out), "dim": enc.dim, "model_hash": enc.model_hash, "attention": bool(args.attention)}
    print(json.dumps(summary) if args.json else f"{args.out}: {len(out)} {args.kind} x {enc.dim}")
    return 0

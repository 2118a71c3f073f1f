"""`jobmatch serve`: the recommendation HTTP service (FastAPI under uvicorn); picks up a new CURRENT live.

    jobmatch serve --index runs/demo/index --data runs/demo/market --port 8080
    curl -s localhost:8080/recommend -d '{"resume_id": "r00042", "k": 5}' -H 'content-type: application/json'
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dssm.errors import JobmatchError
from pipelines.commands.flags import add_parser
from pipelines.commands.recommend import add_serving_args


MAX_BODY_BYTES = 1 << 20
"""Default of --max-body-bytes (`pipelines.retrieval.service.MAX_BODY_BYTES`; not imported, to keep FastAPI off `jobmatch --help`)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "serve", "Serve POST /recommend and GET /health over HTTP.")
    add_serving_args(p)
    p.add_argument("--data", type=Path, default=None, help="dataset folder; lets requests name a resume_id")
    p.add_argument("--host", default="127.0.0.1", help="address to bind")
    p.add_argument("--port", type=int, default=8080, help="port to bind")
    p.add_argument("--reload-interval", type=float, default=1.0, help="seconds between checks of CURRENT")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES, help="larger request bodies are answered 413 unread")
    p.add_argument("--batch-max", type=int, default=32, help="dynamic batching: embed and search up to this many concurrent requests together (0 = off)")
    p.add_argument("--batch-wait-ms", type=float, default=0.0,
                   help="dynamic batching: how long a request waits for others to join its batch (0: only those already waiting join)")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch intra-op threads (default: 1 with batching, so the other cores parse requests; torch's default without)")
    p.set_defaults(func=run_serve)


def build_state(args: argparse.Namespace):
    from pipelines.data.dataset import load_dataset
    from pipelines.retrieval.index import served_manifest
    from pipelines.retrieval.recommend import encoder_for_manifest, preprocess_for_manifest
    from pipelines.retrieval.service import ServingState

    preprocess, preprocess_id = preprocess_for_manifest(args.summarizer, served_manifest(args.index))
    resumes = load_dataset(args.data).resumes if args.data is not None else None
    return ServingState(args.index, encoder_for_manifest(args.model), resumes, preprocess, preprocess_id, args.reload_interval)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pipelines.retrieval.service import create_app

    if not 1 <= args.port <= 65535:
        raise JobmatchError(f"--port must be in [1, 65535], got {args.port}")
    if args.max_body_bytes < 1:
        raise JobmatchError(f"--max-body-bytes must be >= 1, got {args.max_body_bytes}")
    batcher = None
    threads = args.torch_threads if args.torch_threads is not None else (1 if args.batch_max else None)
    if threads is not None:
        if threads < 1:
            raise JobmatchError(f"--torch-threads must be >= 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    if args.batch_max:
        from pipelines.retrieval.batching import MicroBatcher

        batcher = MicroBatcher(args.batch_max, args.batch_wait_ms)
    app = create_app(build_state(args), max_body_bytes=args.max_body_bytes, batcher=batcher)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0

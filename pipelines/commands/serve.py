"""`jobmatch serve`: the recommendation HTTP service (FastAPI under uvicorn); picks up a new CURRENT live.

    jobmatch serve --index runs/demo/index --data runs/demo/market --port 8080
    curl -s localhost:8080/recommend -d '{"resume_id": "r00042", "k": 5}' -H 'content-type: application/json'

    jobmatch serve --experiment exp.yaml --log-dir runs/live --data runs/demo/market   # arms from the file, every list logged
    jobmatch serve --index runs/demo/index --data runs/demo/market --workers 2          # two processes share the port

One process runs its Python (HTTP parsing, validation, preprocessing, batching) under one GIL, so it uses about
one core however many there are; `--workers N` starts N processes on one listening socket (uvicorn's supervisor,
which restarts a worker that dies), each loading the index and model and batching its own requests. The options
are checked and everything loaded once in the supervisor first, so a bad flag or file is one line, not N workers'
failures. Not with `--log-dir`: an event must reach the process that served its list.
"""

from __future__ import annotations

import argparse
import base64
import os
import pickle
from pathlib import Path

from dssm.errors import JobmatchError
from pipelines.commands.flags import add_parser
from pipelines.commands.recommend import add_explain_args, add_serving_args, make_explainer


MAX_BODY_BYTES = 1 << 20
"""Default of --max-body-bytes (`pipelines.retrieval.service.MAX_BODY_BYTES`; not imported, to keep FastAPI off `jobmatch --help`)."""
HTTP_PARSERS = ("auto", "httptools", "h11")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")
WORKER_ARGS = "JOBMATCH_SERVE_ARGS"
"""Environment variable through which `--workers` hands the parsed options to each worker process (`worker_app`)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "serve", "Serve a page (GET /), POST /recommend, POST /candidates, POST /events and GET /health over HTTP, optionally as an experiment.")
    add_serving_args(p, index_required=False)
    p.add_argument("--experiment", type=Path, default=None,
                   help="experiment YAML (name, salt, mode ab|interleave, arms with index and share; `pipelines.retrieval.experiment`): "
                        "the arms replace --index/--model/--summarizer")
    p.add_argument("--resume-index", type=Path, default=None,
                   help="a resume index root (`index build --side resumes`): serve POST /candidates (vacancy ids are looked up in --data)")
    p.add_argument("--log-dir", type=Path, default=None, help="log every served list and POST /events here (append-only Parquet segments)")
    p.add_argument("--log-rotate-mb", type=float, default=8.0, help="close a log segment at this size")
    p.add_argument("--log-rotate-s", type=float, default=60.0, help="close a log segment after this many seconds")
    p.add_argument("--data", type=Path, default=None, help="dataset folder; lets requests name a resume_id")
    add_explain_args(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind")
    p.add_argument("--port", type=int, default=8080, help="port to bind")
    p.add_argument("--reload-interval", type=float, default=1.0, help="seconds between checks of CURRENT")
    p.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES, help="larger request bodies are answered 413 unread")
    p.add_argument("--batch-max", type=int, default=32, help="dynamic batching: embed and search up to this many concurrent requests together (0 = off)")
    p.add_argument("--batch-wait-ms", type=float, default=0.0,
                   help="dynamic batching: how long a request waits for others to join its batch (0: only those already waiting join)")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch intra-op threads (default: 1 with batching, so the other cores parse requests; torch's default without)")
    p.add_argument("--http", choices=HTTP_PARSERS, default="auto",
                   help="uvicorn's HTTP parser: httptools (C, installed with jobmatch; what auto picks) or h11 (pure Python)")
    p.add_argument("--loop", choices=EVENT_LOOPS, default="auto", help="uvicorn's event loop: uvloop (what auto picks where installed) or asyncio")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes sharing the port, each with its own model, index and batching: one process's Python uses "
                        "about one core (its GIL), so more cores need more workers (not with --log-dir)")
    p.set_defaults(func=run_serve)


def build_state(args: argparse.Namespace, resumes):
    """The served state (the control arm's with an experiment) and the Experiment, or None; `resumes`: the ones
    requests may name by id."""
    from pipelines.retrieval.experiment import load_experiment
    from pipelines.retrieval.service import experiment_states, serving_state

    if args.experiment is None:
        if args.index is None:
            raise JobmatchError("serve needs --index (or --experiment with the arms' indexes)")
        return serving_state(args.index, args.model, args.summarizer, None, resumes, args.reload_interval), None
    if args.index is not None or args.model is not None or args.summarizer is not None:
        raise JobmatchError("with --experiment the arms name their index, model and summarizer: leave out --index/--model/--summarizer")
    experiment = experiment_states(load_experiment(args.experiment), resumes, args.reload_interval, str(args.experiment))
    return experiment.arms[experiment.cfg.control], experiment


def check_args(args: argparse.Namespace) -> None:
    """One-line errors for serve's flags, before anything is loaded."""
    import importlib.util

    if not 1 <= args.port <= 65535:
        raise JobmatchError(f"--port must be in [1, 65535], got {args.port}")
    if args.max_body_bytes < 1:
        raise JobmatchError(f"--max-body-bytes must be >= 1, got {args.max_body_bytes}")
    for flag, choice in (("--http", args.http), ("--loop", args.loop)):
        if choice in ("httptools", "uvloop") and importlib.util.find_spec(choice) is None:
            raise JobmatchError(f"{flag} {choice}: the package {choice} is not installed (pip install {choice}, or {flag} auto)")
    if args.workers < 1:
        raise JobmatchError(f"--workers must be >= 1, got {args.workers}")
    if args.workers > 1 and args.log_dir is not None:
        raise JobmatchError("--log-dir needs --workers 1: POST /events must reach the process that served the list it names")
    if args.torch_threads is not None and args.torch_threads < 1:
        raise JobmatchError(f"--torch-threads must be >= 1, got {args.torch_threads}")
    if args.log_dir is not None and args.log_rotate_mb <= 0:
        raise JobmatchError(f"--log-rotate-mb must be > 0, got {args.log_rotate_mb}")


def build_app(args: argparse.Namespace):
    """The app of serve's options (state, experiment, batcher, log, explainer) and a function that closes what it opened."""
    from pipelines.data.dataset import load_dataset
    from pipelines.retrieval.service import create_app, serving_state

    threads = args.torch_threads if args.torch_threads is not None else (1 if args.batch_max else None)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    dataset = load_dataset(args.data) if args.data is not None else None
    state, experiment = build_state(args, dataset.resumes if dataset else None)
    candidates = None
    if args.resume_index is not None:
        candidates = serving_state(args.resume_index, None, None, None, dataset.vacancies if dataset else None, args.reload_interval, side="resumes")
    explainer = make_explainer(args, dataset.vacancies if dataset else None)
    batcher, served_log = None, None
    if args.batch_max:
        from pipelines.retrieval.batching import MicroBatcher

        batcher = MicroBatcher(args.batch_max, args.batch_wait_ms)
    try:
        if args.log_dir is not None:
            from pipelines.retrieval.servedlog import ServedLog

            served_log = ServedLog(args.log_dir, rotate_bytes=max(1, int(args.log_rotate_mb * (1 << 20))), rotate_s=args.log_rotate_s)
        app = create_app(state, max_body_bytes=args.max_body_bytes, batcher=batcher, experiment=experiment, served_log=served_log, candidates=candidates,
                         explainer=explainer)
    except BaseException:
        close(batcher, served_log)
        raise
    return app, lambda: close(batcher, served_log)


def close(batcher, served_log) -> None:
    """Stop the batching thread and close the log, where there are ones."""
    if batcher is not None:
        batcher.close()
    if served_log is not None:
        served_log.close()


def worker_app():
    """The app of one `--workers` process (a uvicorn factory): the options the supervisor checked, from `WORKER_ARGS`."""
    args = pickle.loads(base64.b64decode(os.environ[WORKER_ARGS]))
    return build_app(args)[0]


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    check_args(args)
    server = dict(host=args.host, port=args.port, log_level="warning", access_log=False, http=args.http, loop=args.loop)
    if args.workers > 1:
        build_app(args)[1]()  # loaded once here, so a bad index, model or dataset fails in one line; each worker loads its own
        os.environ[WORKER_ARGS] = base64.b64encode(pickle.dumps(args)).decode()
        uvicorn.run(f"{__name__}:worker_app", factory=True, workers=args.workers, **server)
        return 0
    app, stop = build_app(args)
    try:
        uvicorn.run(app, **server)
    finally:
        stop()
    return 0

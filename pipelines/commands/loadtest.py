"""`jobmatch loadtest`: bounded load test of the HTTP service from this (separate) process over loopback.

    jobmatch loadtest --index runs/demo/index --data runs/demo/market --requests 2000 --concurrency 4 --deadline 30
    jobmatch loadtest --url http://127.0.0.1:8080 --data runs/demo/market --json
    jobmatch loadtest --index runs/demo/index --data runs/demo/market --compare-logging   # the same load, log off then on
    jobmatch loadtest --index runs/demo/index --data runs/demo/market --endpoint health   # the HTTP stack's ceiling: GET /health
    jobmatch loadtest --index runs/demo/index --data runs/demo/market --concurrency 8 --workers 2   # two server processes
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipelines.commands.flags import add_parser
from pipelines.commands.serve import EVENT_LOOPS, HTTP_PARSERS
from pipelines.retrieval.loadtest import ENDPOINTS


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "loadtest", "Load-test POST /recommend: throughput, latency percentiles, errors.")
    p.add_argument("--url", default=None, help="a running service; without it `jobmatch serve` is started on 127.0.0.1")
    p.add_argument("--index", type=Path, default=None, help="index root for the started server")
    p.add_argument("--model", type=Path, default=None, help="model dir for the started server (default: manifest's)")
    p.add_argument("--data", type=Path, default=None, help="dataset folder: requests cycle over its resume ids")
    p.add_argument("--resume-file", type=Path, default=None, help="JSON resume body(ies) to send instead of ids")
    p.add_argument("--requests", type=int, default=2000, help="at most this many requests")
    p.add_argument("--concurrency", type=int, default=4, help="client threads")
    p.add_argument("--deadline", type=float, default=30.0, help="stop after this many seconds")
    p.add_argument("--k", type=int, default=10, help="k of each request")
    p.add_argument("--batch-max", type=int, default=32, help="the started server's dynamic batching (`serve --batch-max`; 0 = off)")
    p.add_argument("--batch-wait-ms", type=float, default=0.0, help="the started server's `serve --batch-wait-ms`")
    p.add_argument("--torch-threads", type=int, default=None, help="the started server's `serve --torch-threads`")
    p.add_argument("--endpoint", choices=ENDPOINTS, default="recommend",
                   help="recommend: POST /recommend; health: GET /health, no model work — the ceiling client and HTTP stack set")
    p.add_argument("--http", choices=HTTP_PARSERS, default="auto", help="the started server's `serve --http` (uvicorn's HTTP parser)")
    p.add_argument("--loop", choices=EVENT_LOOPS, default="auto", help="the started server's `serve --loop` (uvicorn's event loop)")
    p.add_argument("--workers", type=int, default=1, help="the started server's `serve --workers` (server processes)")
    p.add_argument("--log-dir", type=Path, default=None, help="the started server logs every list there (`serve --log-dir`)")
    p.add_argument("--compare-logging", action="store_true",
                   help="run the load twice against started servers, without and with a log (in a temporary folder), and print both")
    p.add_argument("--out", type=Path, default=None, help="write the result JSON here")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_loadtest_cmd)


def request_bodies(data: Path | None, resume_file: Path | None, k: int, limit: int = 1000) -> list[dict]:
    from dssm.errors import JobmatchError

    if resume_file is not None:
        obj = json.loads(resume_file.read_text(encoding="utf-8"))
        return [{"resume": r, "k": k} for r in (obj if isinstance(obj, list) else [obj])]
    if data is None:
        raise JobmatchError("give --data (resume ids to request) or --resume-file")
    from pipelines.data.dataset import load_dataset

    ids = load_dataset(data).resumes["resume_id"].astype(str).tolist()[:limit]
    if not ids:
        raise JobmatchError(f"{data}: no resumes to request")
    return [{"resume_id": rid, "k": k} for rid in ids]


def run_loadtest_cmd(args: argparse.Namespace) -> int:
    from dssm.errors import JobmatchError
    from dssm.io import check_output, write_json
    from pipelines.retrieval.loadtest import free_port, run_loadtest, serve_argv, start_server

    if args.out is not None:
        check_output(args.out, [args.index, args.data, args.resume_file, args.model], force=True)  # a result, rewritten freely
    bodies = request_bodies(args.data, args.resume_file, args.k)
    if args.url is not None and (args.log_dir is not None or args.compare_logging or args.http != "auto" or args.loop != "auto" or args.workers != 1):
        raise JobmatchError("--log-dir, --compare-logging, --http, --loop and --workers start their own servers: leave out --url")
    if args.workers < 1:
        raise JobmatchError(f"--workers must be >= 1, got {args.workers}")
    if args.workers > 1 and (args.log_dir is not None or args.compare_logging):
        raise JobmatchError("--log-dir and --compare-logging need --workers 1 (`serve --log-dir` serves from one process)")
    if args.url is None and args.index is None:
        raise JobmatchError("give --url of a running service or --index to start one")

    def against(log_dir: Path | None) -> dict:
        proc, url = None, args.url
        if url is None:
            port = free_port()
            argv = serve_argv(args.index, args.data, port, args.model, args.batch_max, args.batch_wait_ms, args.torch_threads, log_dir,
                              args.http, args.loop, args.workers)
            proc = start_server(argv, port, workers=args.workers)
            url = f"http://127.0.0.1:{port}"
        try:
            return {**run_loadtest(url, bodies, args.requests, args.concurrency, args.deadline, args.endpoint,
                                 proc.pid if proc is not None else None), "logging": log_dir is not None,
                    "workers": args.workers if args.url is None else None}
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)

    if args.compare_logging:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="jobmatch-loadtest-log-") as tmp:
            runs = [against(None), against(Path(tmp) / "log")]
        result = {"runs": runs, "rps_ratio_logging_on_off": round(runs[1]["rps"] / runs[0]["rps"], 3) if runs[0]["rps"] else None}
        if args.out is not None:
            write_json(args.out, result)
        if args.json:
            print(json.dumps(result))
        else:
            for r in runs:
                print(f"logging {'on ' if r['logging'] else 'off'}: {r['requests']} requests in {r['seconds']:.1f}s = {r['rps']:.1f} req/s, "
                      f"concurrency {r['concurrency']}, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']}")
            print(f"req/s with logging / without: {result['rps_ratio_logging_on_off']}")
        return 0 if all(r["errors"] == 0 for r in runs) else 1
    result = against(args.log_dir)
    if args.out is not None:
        write_json(args.out, result)
    if args.json:
        print(json.dumps(result))
    else:
        workers = f", {result['workers']} server processes" if (result["workers"] or 1) > 1 else ""
        print(f"{result['endpoint']}: {result['requests']} requests in {result['seconds']:.1f}s = {result['rps']:.1f} req/s, concurrency {result['concurrency']}{workers}, "
              f"p50 {result['p50_ms']} ms, p90 {result['p90_ms']} ms, p99 {result['p99_ms']} ms, errors {result['errors']}; CPU per request: "
              f"client {result['client_cpu_ms_per_request']} ms, server {result['server_cpu_ms_per_request']} ms")
    return 0 if result["errors"] == 0 else 1

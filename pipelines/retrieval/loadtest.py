"""Bounded HTTP load test of the recommendation service from a separate client process.

`run_loadtest` sends at most `n_requests` POST /recommend requests with `concurrency` worker
threads (one keep-alive connection each) and stops at `deadline_s`, whichever comes first. A
request counts as an error on a non-2xx status or a transport failure. Latency is wall time per
request on the client; throughput = completed requests / elapsed seconds. With `endpoint="health"`
the same client sends GET /health instead, which does no model work: the ceiling the HTTP stack
(client and server sharing the machine) sets on any endpoint.

`start_server` launches `jobmatch serve` (or any argv) as a child process bound to 127.0.0.1 and
waits for GET /health (with `workers` > 1, until that many server processes have answered it); the load
test thus measures the service across a real loopback socket. Server CPU is that of the started process
and all its descendants (the workers of `serve --workers`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dssm.errors import JobmatchError


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout_s: float = 60.0, proc: subprocess.Popen | None = None, workers: int = 1) -> dict[str, Any]:
    """Poll GET url/health until 200 from `workers` distinct server processes (each on a new connection); JobmatchError on
    timeout or if `proc` exits first."""
    import httpx

    deadline, seen = time.monotonic() + timeout_s, set()
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise JobmatchError(f"server exited with status {proc.returncode} before becoming healthy")
        try:
            r = httpx.get(f"{url}/health", timeout=2.0)
            if r.status_code == 200:
                seen.add(r.json().get("pid"))
                if len(seen) >= workers:
                    return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise JobmatchError(f"{url}/health not healthy after {timeout_s:.0f}s" + (f" ({len(seen)} of {workers} workers answered)" if workers > 1 else ""))


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), None where there is none."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process (all its threads) and its live descendants have used so far, from /proc; None
    where there is no /proc."""
    if _stat(pid) is None:
        return None
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))  # ppid (field 4 of proc(5))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        if (fields := _stat(p)) is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of proc(5))
        todo += children.get(p, [])
    return total / os.sysconf("SC_CLK_TCK")


def start_server(argv: Sequence[str], port: int, timeout_s: float = 60.0, workers: int = 1) -> subprocess.Popen:
    """Start `argv` (a server listening on 127.0.0.1:port) and wait until /health answers (from `workers` processes)."""
    proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", timeout_s, proc, workers)
    except JobmatchError as e:
        proc.kill()
        err = proc.communicate(timeout=10)[1].decode(errors="replace")[-2000:]
        raise JobmatchError(f"{e}: {err.strip()}") from e
    return proc


def serve_argv(index: str, data: str | None, port: int, model: str | None = None, batch_max: int = 32, batch_wait_ms: float = 0.0,
               torch_threads: int | None = None, log_dir: str | None = None, http: str = "auto", loop: str = "auto", workers: int = 1) -> list[str]:
    """argv of `jobmatch serve` on 127.0.0.1:port with this Python (`batch_max` > 0: dynamic batching on; `log_dir`: every list
    logged; `http`, `loop`: uvicorn's parser and event loop; `workers`: server processes)."""
    argv = [sys.executable, "-m", "pipelines.cli", "serve", "--index", str(index), "--port", str(port), "--host", "127.0.0.1",
            "--batch-max", str(batch_max), "--batch-wait-ms", str(batch_wait_ms), "--http", http, "--loop", loop, "--workers", str(workers)]
    if torch_threads is not None:
        argv += ["--torch-threads", str(torch_threads)]
    if data:
        argv += ["--data", str(data)]
    if model:
        argv += ["--model", str(model)]
    if log_dir:
        argv += ["--log-dir", str(log_dir)]
    return argv


ENDPOINTS = ("recommend", "health")
"""What a load test requests: POST /recommend, or GET /health (no model work)."""


def run_loadtest(url: str, bodies: Sequence[dict[str, Any]], n_requests: int = 1000, concurrency: int = 4, deadline_s: float = 30.0,
                 endpoint: str = "recommend", server_pid: int | None = None) -> dict[str, Any]:
    """POST bodies (cycled) to url/recommend, or GET url/health (`endpoint="health"`, bodies unused); -> requests, errors,
    seconds, rps, latency percentiles in ms, and the CPU milliseconds per request of this client and (given its
    `server_pid`, on Linux) of the server: on a machine they share, cores / (client + server CPU per request) bounds rps."""
    import httpx
    import numpy as np

    if endpoint not in ENDPOINTS:
        raise JobmatchError(f"load test endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
    if n_requests < 1 or concurrency < 1 or deadline_s <= 0 or not bodies:
        raise JobmatchError("load test needs n_requests >= 1, concurrency >= 1, deadline_s > 0 and at least one body")
    lock = threading.Lock()
    issued = 0
    latencies: list[float] = []
    errors: list[str] = []
    t_end = time.monotonic() + deadline_s

    def worker() -> None:
        nonlocal issued
        with httpx.Client(base_url=url, timeout=max(1.0, deadline_s)) as client:
            while True:
                with lock:
                    if issued >= n_requests or time.monotonic() >= t_end:
                        return
                    i = issued
                    issued += 1
                t0 = time.perf_counter()
                try:
                    r = client.post("/recommend", json=bodies[i % len(bodies)]) if endpoint == "recommend" else client.get("/health")
                    ok = 200 <= r.status_code < 300
                    problem = f"HTTP {r.status_code}: {r.text[:200]}"
                except httpx.HTTPError as e:
                    ok, problem = False, f"{type(e).__name__}: {e}"
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if not ok:
                        errors.append(problem)

    server_cpu0, client_cpu0 = cpu_seconds(server_pid) if server_pid else None, time.process_time()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    client_cpu = time.process_time() - client_cpu0
    server_cpu1 = cpu_seconds(server_pid) if server_cpu0 is not None else None
    per_request = lambda cpu: round(1000.0 * cpu / len(latencies), 3) if cpu is not None and latencies else None  # noqa: E731
    lat = np.array(latencies) * 1000.0
    pct = {f"p{q}_ms": round(float(np.percentile(lat, q)), 3) if len(lat) else None for q in (50, 90, 99)}
    return {
        "url": url,
        "endpoint": endpoint,
        "requests": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 2) if elapsed > 0 else 0.0,
        **pct,
        "max_ms": round(float(lat.max()), 3) if len(lat) else None,
        "client_cpu_ms_per_request": per_request(client_cpu),
        "server_cpu_ms_per_request": per_request(server_cpu1 - server_cpu0 if server_cpu1 is not None else None),
    }

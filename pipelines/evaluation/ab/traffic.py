"""Simulated users driving the real service over HTTP (`jobmatch ab traffic`), with the effect they should show.

User i (of `users`) is resume perm[i mod R] of the market (a seeded permutation of its R resumes),
with user id "u<seed>-<i>" and activity a_i ~ Beta(activity_a, activity_b). Each of the user's
`sessions` asks POST /recommend {resume_id, k, user_id}, then behaves on the returned list as the
replay's behaviour model says (`pipelines.evaluation.ab.simulate`: view by position and activity,
response and invite by the market's hidden utility) and posts each event to POST /events. Every
random draw comes from the user's own generator (seed, i), so a rerun against the same service makes
the same events whatever the thread timing. The client is bounded: `concurrency` connections, at
most `max_requests` HTTP calls, `timeout_s` per call.

The truth (`truth.json`, with `--experiment` naming the served experiment file): each user's expected
views, responses and invites under every arm's list (loaded here from the arms' indexes and models,
ranked exactly as the service ranks), and their mean difference treatment − control: the exact
average treatment effect over these users, which `ab analyze --log` should cover.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dssm import schema
from dssm.checks import at_least, check_numbers
from dssm.errors import JobmatchError
from dssm.io import atomic_path, check_output, config_to_dict, progress, versions, write_json, write_parquet
from pipelines.evaluation.ab.simulate import METRICS, SimConfig, event_probabilities, sample_events
from pipelines.retrieval.servedlog import EVENTS


@dataclass
class TrafficConfig:
    """How many simulated users, and how hard they hit the service."""

    users: int = 200
    """Simulated users (more than the market's resumes: resumes are reused by new users)."""
    sessions: int = 1
    """Lists each user asks for."""
    k: int = 10
    """Vacancies per list."""
    seed: int = 0
    """Seed of the users' resumes, activities and events."""
    concurrency: int = 4
    """Parallel connections."""
    max_requests: int = 1_000_000
    """Bound on HTTP calls (lists and events together); the client stops there."""
    timeout_s: float = 30.0
    """Per-call timeout."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 0, "seed")
        at_least(self, 1, "users", "sessions", "k", "concurrency", "max_requests")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")


def simulated_users(cfg: TrafficConfig, behaviour: SimConfig, resume_ids: np.ndarray) -> pd.DataFrame:
    """user_id, resume_id, activity of each simulated user."""
    if len(resume_ids) == 0:
        raise JobmatchError("the market has no resumes to simulate users from")
    perm = np.random.default_rng(cfg.seed).permutation(len(resume_ids))
    activity = [np.random.default_rng([cfg.seed, i]).beta(behaviour.activity_a, behaviour.activity_b) for i in range(cfg.users)]
    return pd.DataFrame({"user_id": [f"u{cfg.seed}-{i}" for i in range(cfg.users)],
                         schema.RESUME_ID: resume_ids[perm[np.arange(cfg.users) % len(resume_ids)]].astype(str), "activity": activity})


def drive(url: str, users: pd.DataFrame, utility: Any, cfg: TrafficConfig, behaviour: SimConfig) -> dict[str, Any]:
    """Run the users against `url`; -> counts of lists, events (by kind), errors, duplicates, seconds."""
    import httpx

    lock = threading.Lock()
    counts = {"lists": 0, "duplicates": 0, "errors": 0, **{f"{e}s": 0 for e in EVENTS}}
    errors: list[str] = []
    calls = 0
    todo = iter(range(len(users)))
    bar = progress(range(len(users)), desc="traffic", unit="user")
    bar_lock = threading.Lock()

    def call(client: Any, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        nonlocal calls
        with lock:
            if calls >= cfg.max_requests:
                return None
            calls += 1
        try:
            r = client.post(path, json=body)
        except httpx.HTTPError as e:
            problem = f"{path}: {type(e).__name__}: {e}"
        else:
            if r.status_code == 200:
                return r.json()
            problem = f"{path}: HTTP {r.status_code}: {r.text[:200]}"
        with lock:
            counts["errors"] += 1
            errors.append(problem)
        return None

    def user(i: int, client: Any) -> None:
        uid, rid, activity = users.iloc[i]["user_id"], users.iloc[i][schema.RESUME_ID], float(users.iloc[i]["activity"])
        rng = np.random.default_rng([cfg.seed, i, 1])
        for _ in range(cfg.sessions):
            answer = call(client, "/recommend", {"resume_id": rid, "k": cfg.k, "user_id": uid})
            draws = rng.random((cfg.k, 3))  # drawn whatever the answer, so later sessions do not depend on it
            if answer is None:
                continue
            with lock:
                counts["lists"] += 1
            vids = np.array([it["vacancy_id"] for it in answer["items"]], dtype=object)
            if len(vids) == 0:
                continue
            util = np.asarray(utility(np.full(len(vids), rid, dtype=object), vids), dtype=np.float64)
            p_view, p_resp, p_inv = event_probabilities(behaviour, np.full(len(vids), activity), np.arange(len(vids)), util)
            d = draws[: len(vids)]
            happened = sample_events(p_view, p_resp, p_inv, d[:, 0], d[:, 1], d[:, 2])  # (viewed, responded, invited)
            for j, v in enumerate(vids):
                for event, done in zip(EVENTS, happened):
                    if not done[j]:
                        continue
                    got = call(client, "/events", {"request_id": answer["request_id"], "vacancy_id": v, "event": event})
                    if got is not None:
                        with lock:
                            counts[f"{event}s"] += 1
                            counts["duplicates"] += got.get("status") == "duplicate"

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=cfg.timeout_s) as client:
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                user(i, client)
                with bar_lock:
                    next(bar, None)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(cfg.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    return {**counts, "calls": calls, "seconds": round(seconds, 3), "calls_per_s": round(calls / seconds, 1) if seconds > 0 else None,
            "first_errors": errors[:3], "bounded": calls >= cfg.max_requests}


def expected_effect(users: pd.DataFrame, experiment_file: str | Path, data: str | Path, utility: Any, cfg: TrafficConfig, behaviour: SimConfig) -> dict[str, Any]:
    """The exact per-user expected metrics under each arm's list, and the treatment − control effect (module docstring)."""
    from pipelines.data.dataset import load_dataset
    from pipelines.retrieval.experiment import load_experiment
    from pipelines.retrieval.recommend import lookup_resumes
    from pipelines.retrieval.service import experiment_states

    exp = experiment_states(load_experiment(experiment_file), source=str(experiment_file))
    resumes = load_dataset(data).resumes
    unique = users[schema.RESUME_ID].drop_duplicates().to_numpy()
    per_arm = {}
    for name, state in exp.arms.items():
        lists = state.current().recommend_batch(lookup_resumes(resumes, list(unique)), cfg.k, progress=False)
        lists["pos"] = lists["rank"] - 1
        util = np.asarray(utility(lists[schema.RESUME_ID].to_numpy(), lists[schema.VACANCY_ID].to_numpy()), dtype=np.float64)
        p_view, p_resp, p_inv = event_probabilities(behaviour, np.ones(len(lists)), lists["pos"].to_numpy(), util)
        lists = lists.assign(views=p_view, responses=p_view * p_resp, invites=p_view * p_resp * p_inv)
        per_resume = lists.groupby(schema.RESUME_ID)[list(METRICS)].sum()  # at activity 1; a user scales it by a_i
        at_one = per_resume.reindex(users[schema.RESUME_ID]).fillna(0.0).to_numpy()  # (users, 3)
        per_arm[name] = at_one * users["activity"].to_numpy()[:, None] * cfg.sessions
    names = list(exp.arms)
    control = per_arm[names[0]]
    metrics = {}
    for i, m in enumerate(METRICS):
        metrics[m] = {name: float(per_arm[name][:, i].mean()) for name in names}
        for name in names[1:]:
            metrics[m][f"ate_{name}"] = float((per_arm[name][:, i] - control[:, i]).mean())
    return {"estimand": "mean over the simulated users of E[metric | arm] - E[metric | control], exact under the behaviour model",
            "experiment": exp.cfg.describe(), "users": int(len(users)), "sessions": cfg.sessions, "metrics": metrics}


def run_traffic(cfg: TrafficConfig, behaviour: SimConfig, url: str, data: str | Path, out: str | Path | None = None,
                experiment_file: str | Path | None = None, force: bool = False) -> dict[str, Any]:
    """Stage `ab traffic`: drive the service at `url` with simulated users of the market `data`; write traffic.json,
    users.parquet (and truth.json with `experiment_file`) into `out`."""
    from pipelines.data.dataset import load_dataset
    from pipelines.data.synth.utility import MarketUtility

    if out is not None:
        check_output(out, [data, experiment_file], force)
    utility = MarketUtility.load(data)
    users = simulated_users(cfg, behaviour, load_dataset(data).resumes[schema.RESUME_ID].astype(str).to_numpy())
    truth = expected_effect(users, experiment_file, data, utility, cfg, behaviour) if experiment_file else None
    report = {"url": url, "data": str(data), **drive(url, users, utility, cfg, behaviour),
              "config": config_to_dict(cfg), "behaviour": config_to_dict(behaviour), "versions": versions()}
    if out is not None:
        with atomic_path(out) as tmp:
            tmp.mkdir()
            write_json(tmp / "traffic.json", report)
            write_parquet(tmp / "users.parquet", users)
            if truth is not None:
                write_json(tmp / "truth.json", truth)
    return {"traffic": report, "truth": truth}

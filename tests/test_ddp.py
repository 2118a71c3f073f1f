"""Distributed training: two gloo processes with gathered candidates give one process's loss and gradients.

The global batch of 8 positive pairs is split 4 + 4 across two ranks. It holds a vacancy that is a
positive on both ranks (it must count once in every denominator) and a resume whose other positive
sits on the other rank (an accidental hit only the gathered hit mask can see). Each rank's loss uses
`dssm.losses.global_candidates` over real `torch.distributed` all-gathers; DDP's gradient averaging is
reproduced by an all-reduce of the parameters' gradients divided by the world size.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from dssm.losses import global_candidates, in_batch_softmax_loss, repeats
from dssm.pairs import PairData

N_RES, N_VAC, DIM, TAU = 6, 7, 5, 0.1
POSITIVES = [(0, 0), (1, 1), (2, 2), (3, 0), (4, 3), (5, 4), (0, 5), (2, 6)]
"""(resume, vacancy) rows; the first four go to rank 0, the rest to rank 1 (vacancy 0 on both: (0, 0), (3, 0)...
and resume 0's second positive (0, 5) and resume 2's (2, 6) on rank 1)."""
GLOBAL = [(0, 0), (1, 1), (2, 2), (3, 0), (4, 0), (5, 4), (0, 5), (2, 6)]
"""The global batch: (4, 0) is a second use of vacancy 0 on rank 1 (not a training positive of resume 4:
an in-batch positive only), so vacancy 0 is a candidate on both ranks."""


def _pairs() -> PairData:
    inter = pd.DataFrame({"r": [r for r, _ in POSITIVES + GLOBAL], "v": [v for _, v in POSITIVES + GLOBAL], "positive": True})
    return PairData.build(inter, N_RES, N_VAC, np.ones(N_RES, dtype=bool))


def _parameters() -> tuple[torch.nn.Parameter, torch.nn.Parameter]:
    g = torch.Generator().manual_seed(0)
    return torch.nn.Parameter(torch.randn(N_RES, DIM, generator=g)), torch.nn.Parameter(torch.randn(N_VAC, DIM, generator=g))


def _local(pairs: PairData, part: list[tuple[int, int]], res: torch.Tensor, vac: torch.Tensor):
    """What `PairCollator` + `DSSMModule.training_step` hold for a batch `part`: queries, candidates, log Q, ..."""
    r = np.array([p[0] for p in part])
    v = np.array([p[1] for p in part])
    cand, target = np.unique(v, return_inverse=True)
    extra_rows = (r + 3) % N_VAC  # one explicit negative per query, fixed
    return (
        F.normalize(res[torch.from_numpy(r)], dim=1),
        F.normalize(vac[torch.from_numpy(cand)], dim=1),
        torch.from_numpy(cand),
        torch.from_numpy(pairs.log_q[cand]),
        torch.from_numpy(target.reshape(-1)),
        torch.from_numpy(r),
        torch.from_numpy(pairs.is_positive(r[:, None], cand[None, :])),
        F.normalize(vac[torch.from_numpy(extra_rows)], dim=1)[:, None, :],
    )


def _loss(q, cand, log_q, target, hit, extra) -> torch.Tensor:
    return in_batch_softmax_loss(q, cand, target, TAU, log_q=log_q, hit_mask=hit, extra=extra, extra_mask=torch.ones(extra.shape[:2], dtype=torch.bool))


def _one_process() -> tuple[float, torch.Tensor, torch.Tensor]:
    res, vac = _parameters()
    q, cand, _, log_q, target, _, hit, extra = _local(_pairs(), GLOBAL, res, vac)
    loss = _loss(q, cand, log_q, target, hit, extra)
    loss.backward()
    return float(loss.detach()), res.grad, vac.grad


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist
    import torch.distributed.nn.functional as dist_nn

    warnings.filterwarnings("ignore", message=r"torch.distributed.nn.functional.all_gather is deprecated")
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)

    def gather(t: torch.Tensor, grads: bool) -> torch.Tensor:
        if grads:
            return torch.stack(dist_nn.all_gather(t))
        parts = [torch.zeros_like(t) for _ in range(world)]
        dist.all_gather(parts, t)
        return torch.stack(parts)

    pairs = _pairs()
    res, vac = _parameters()
    part = GLOBAL[rank * 4 : (rank + 1) * 4]
    q, cand, cand_rows, log_q, target, res_rows, hit, extra = _local(pairs, part, res, vac)
    local_only = _loss(q, cand, log_q, target, hit, extra).detach()
    cand, log_q, target, hit = global_candidates(cand, cand_rows, log_q, target, res_rows, pairs.is_positive, gather, rank)
    loss = _loss(q, cand, log_q, target, hit, extra)
    loss.backward()
    stats = torch.stack([loss.detach(), local_only])
    for t in (stats, res.grad, vac.grad):
        dist.all_reduce(t)
        t /= world
    if rank == 0:
        torch.save({"loss": float(stats[0]), "local_only": float(stats[1]), "res_grad": res.grad, "vac_grad": vac.grad}, out)
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_match_one_process_with_the_global_batch(tmp_path):
    out = tmp_path / "ddp.pt"
    torch.multiprocessing.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    got = torch.load(out, weights_only=True)
    loss, res_grad, vac_grad = _one_process()
    assert abs(got["loss"] - loss) < 1e-5
    assert torch.allclose(got["res_grad"], res_grad, atol=1e-6)
    assert torch.allclose(got["vac_grad"], vac_grad, atol=1e-6)
    assert abs(got["local_only"] - loss) > 1e-2  # without the gather the ranks train on another objective


def test_one_rank_is_the_local_batch():
    pairs = _pairs()
    res, vac = _parameters()
    q, cand, cand_rows, log_q, target, res_rows, hit, extra = _local(pairs, GLOBAL, res, vac)
    wide = global_candidates(cand, cand_rows, log_q, target, res_rows, pairs.is_positive, lambda t, grads: t[None], 0)
    assert torch.equal(wide[0], cand) and torch.equal(wide[2], target) and torch.equal(wide[3], hit)


def test_repeats_and_padding_are_dropped():
    assert repeats(np.array([4, -1, 4, 2, 2])).tolist() == [False, True, True, False, True]


def test_train_with_two_processes(tiny_market, tmp_path):
    """`jobmatch train --devices 2 --strategy ddp` on the CPU: a complete model dir, the metrics of both ranks."""
    from dssm.model_io import load_model

    out = tmp_path / "run" / "model"
    env = {**os.environ, "CI": "true"}
    cmd = [sys.executable, "-m", "pipelines.cli", "train", "--data", str(tiny_market), "--config", "tiny", "--out", str(out), "--devices", "2", "--strategy", "ddp", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1], timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "GLOBAL_RANK" not in done.stdout + done.stderr  # the workers are as quiet as the parent under CI=true
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["epochs_run"] == 2 and [e["epoch"] for e in metrics["epochs"]] == [0, 1]
    assert all(e["pairs"] > 0 and 0.0 <= e["val_recall"] <= 1.0 for e in metrics["epochs"])
    assert metrics["best_val_recall@10"] == max(e["val_recall"] for e in metrics["epochs"])
    model, cfg, _ = load_model(out)
    assert cfg.train.devices == 2 and cfg.train.strategy == "ddp"
    assert (out / "split.json").is_file() and (out / "logs" / "metrics.csv").is_file()


@pytest.mark.parametrize("flags, message", [(["--devices", "2"], "needs strategy ddp"), (["--strategy", "fsdp"], "strategy one of")])
def test_bad_distributed_flags(tiny_market, tmp_path, flags, message):
    cmd = [sys.executable, "-m", "pipelines.cli", "train", "--data", str(tiny_market), "--config", "tiny", "--out", str(tmp_path / "m"), *flags]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "CI": "true"}, cwd=Path(__file__).parents[1], timeout=120)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "m").exists()

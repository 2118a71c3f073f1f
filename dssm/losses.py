"""In-batch sampled softmax with temperature, logQ correction, accidental-hit masking and explicit negatives.

For resume i with embedding q_i and its positive vacancy d_{t(i)} among the N
distinct in-batch candidates d_1..d_N (the batch's positive vacancies):

    l_ij = <q_i, d_j> / tau - [logq] log Q_j        Q_j: probability that d_j is sampled as an in-batch
                                                    candidate (its share of training positives)
    l_ij = -inf  if hit[i, j] and j != t(i)         accidental hits: the resume's other positives
    x_im = <q_i, n_im> / tau                        explicit negatives (views without action, or random),
                                                    -inf where extra_mask[i, m] is False
    loss = mean_i [ -l_{i t(i)} + log( sum_j exp l_ij + sum_m exp x_im ) ]

Embeddings are unit vectors, so <.,.> is cosine similarity and tau sets the
sharpness (tau = 0.05 maps cosines to logits in [-20, 20]). The logQ term
(Yi et al., 2019) removes the popularity bias that in-batch sampling adds;
explicit negatives are not sampled by popularity and get no correction.

>>> import torch
>>> q = torch.eye(2); d = torch.eye(2)
>>> round(in_batch_softmax_loss(q, d, torch.tensor([0, 1]), temperature=1.0).item(), 4)
0.3133
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def in_batch_softmax_loss(
    q: Tensor,
    cand: Tensor,
    target: Tensor,
    temperature: float,
    log_q: Tensor | None = None,
    hit_mask: Tensor | None = None,
    extra: Tensor | None = None,
    extra_mask: Tensor | None = None,
) -> Tensor:
    """Mean cross-entropy of each query's target among candidates and its own explicit negatives.

    q (B, D) queries; cand (N, D) candidates; target (B,) long index into cand;
    log_q (N,) log sampling probability of each candidate (None = no correction);
    hit_mask (B, N) bool, True where cand j is a positive of query i (the target itself may be True);
    extra (B, M, D) explicit negatives per query; extra_mask (B, M) bool, True where real.
    """
    B = q.shape[0]
    logits = q @ cand.T / temperature  # (B, N)
    if log_q is not None:
        logits = logits - log_q[None, :]  # (B, N)
    if hit_mask is not None:
        others = hit_mask.clone()
        others[torch.arange(B, device=q.device), target] = False
        logits = logits.masked_fill(others, float("-inf"))  # (B, N)
    if extra is not None and extra.shape[1] > 0:
        x = torch.einsum("bd,bmd->bm", q, extra) / temperature  # (B, M)
        if extra_mask is not None:
            x = x.masked_fill(~extra_mask, float("-inf"))  # (B, M)
        logits = torch.cat([logits, x], dim=1)  # (B, N + M)
    return F.cross_entropy(logits, target)


def global_candidates(
    cand: Tensor,
    cand_rows: Tensor,
    log_q: Tensor,
    target: Tensor,
    res_rows: Tensor,
    is_positive: Callable[[np.ndarray, np.ndarray], np.ndarray],
    gather: Callable[[Tensor, bool], Tensor],
    rank: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One rank's in-batch candidates widened to every rank's: -> (cand, log_q, target, hit_mask) for the loss.

    cand (N, D) this rank's distinct candidate embeddings, cand_rows (N,) their vacancy rows, log_q (N,),
    target (B,) into cand, res_rows (B,) this rank's resume rows; `is_positive(r, v)` is the training-positive
    lookup (`PairData.is_positive`); `gather(t, grads)` stacks every rank's `t` -> (W, ...), keeping the
    gradient path back to each rank when `grads`. Ranks hold different N, so each pads to the largest.

    The result counts each distinct vacancy of the global batch once: padding and a vacancy already met on
    an earlier rank go into hit_mask (the loss sets those logits to -inf) unless the column is the query's
    own target, and the query's positives elsewhere are accidental hits as in one process. So W ranks of B
    queries give the loss of one process on the W * B queries (mean of the ranks' means), and under DDP's
    gradient averaging its gradients too (tests/test_ddp.py checks both with two gloo processes).
    """
    n_max = int(gather(torch.tensor([cand.shape[0]], device=cand.device), False).max())
    pad = n_max - cand.shape[0]
    world_cand = gather(F.pad(cand, (0, 0, 0, pad)), True)  # (W, n_max, D)
    world_rows = gather(F.pad(cand_rows, (0, pad), value=-1), False).reshape(-1)  # (W * n_max,)
    world_log_q = gather(F.pad(log_q, (0, pad)), False).reshape(-1)  # (W * n_max,)
    rows = world_rows.cpu().numpy()
    drop = repeats(rows)  # (W * n_max,)
    hit = is_positive(res_rows.cpu().numpy()[:, None], np.maximum(rows, 0)[None, :]) & (rows >= 0)[None, :]  # (B, W * n_max)
    hit_mask = torch.from_numpy(hit | drop[None, :]).to(cand.device)
    return world_cand.reshape(-1, cand.shape[1]), world_log_q, target + rank * n_max, hit_mask


def repeats(rows: np.ndarray) -> np.ndarray:
    """True where rows[i] is padding (< 0) or equals an earlier entry.

    >>> repeats(np.array([3, 1, 3, -1, 1, 2])).tolist()
    [False, False, True, True, True, False]
    """
    first = np.zeros(len(rows), dtype=bool)
    first[np.unique(rows, return_index=True)[1]] = True
    return ~first | (rows < 0)

"""The in-batch softmax loss against a direct formula; masking and logQ behave as documented."""

from __future__ import annotations

import math

import torch

from dssm.losses import in_batch_softmax_loss


def _direct(q, cand, target, tau, log_q, hit, extra, extra_mask):
    total = 0.0
    for i in range(q.shape[0]):
        logits = []
        for j in range(cand.shape[0]):
            if hit[i, j] and j != target[i]:
                continue
            logits.append(float(q[i] @ cand[j]) / tau - float(log_q[j]))
        tgt = float(q[i] @ cand[target[i]]) / tau - float(log_q[target[i]])
        for m in range(extra.shape[1]):
            if extra_mask[i, m]:
                logits.append(float(q[i] @ extra[i, m]) / tau)
        total += -tgt + math.log(sum(math.exp(x) for x in logits))
    return total / q.shape[0]


def test_matches_direct_formula():
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(4, 5, generator=g), dim=1)
    cand = torch.nn.functional.normalize(torch.randn(3, 5, generator=g), dim=1)
    extra = torch.nn.functional.normalize(torch.randn(4, 2, 5, generator=g), dim=-1)
    target = torch.tensor([0, 1, 2, 1])
    log_q = torch.log(torch.tensor([0.5, 0.3, 0.2]))
    hit = torch.tensor([[1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=torch.bool)
    extra_mask = torch.tensor([[1, 1], [1, 0], [0, 0], [1, 1]], dtype=torch.bool)
    got = in_batch_softmax_loss(q, cand, target, 0.1, log_q, hit, extra, extra_mask)
    assert abs(got.item() - _direct(q, cand, target, 0.1, log_q, hit, extra, extra_mask)) < 1e-4


def test_accidental_hit_is_not_a_negative():
    q = torch.tensor([[1.0, 0.0]])
    cand = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # the second is an equally good other positive
    t = torch.tensor([0])
    plain = in_batch_softmax_loss(q, cand, t, 1.0)
    masked = in_batch_softmax_loss(q, cand, t, 1.0, hit_mask=torch.tensor([[True, True]]))
    assert abs(plain.item() - math.log(2)) < 1e-6 and abs(masked.item()) < 1e-6


def test_logq_lowers_popular_candidates():
    q = torch.tensor([[1.0, 0.0]])
    cand = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = torch.tensor([0])
    popular_negative = torch.log(torch.tensor([0.01, 0.99]))
    rare_negative = torch.log(torch.tensor([0.99, 0.01]))
    assert in_batch_softmax_loss(q, cand, t, 0.5, popular_negative) < in_batch_softmax_loss(q, cand, t, 0.5, rare_negative)


def test_gradient_flows_to_both_sides():
    q = torch.randn(3, 4, requires_grad=True)
    d = torch.randn(3, 4, requires_grad=True)
    in_batch_softmax_loss(q, d, torch.arange(3), 0.05).backward()
    assert q.grad.abs().sum() > 0 and d.grad.abs().sum() > 0

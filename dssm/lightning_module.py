"""LightningModule wrapping a `TwoTower` for training; serving never imports this file.

Training step: resumes q (B, D) and the batch's distinct vacancies (U, D) are
encoded once; the loss is `dssm.losses.in_batch_softmax_loss` over the in-batch
candidates (logQ-corrected, accidental hits masked) plus each row's explicit
negatives. Validation encodes every vacancy and the held-out resumes and logs
`val_recall` = mean over held-out resumes of |top-k ∩ positives| / |positives|
(ranking all vacancies), which drives checkpointing and early stopping.

Under DDP (`TrainConfig.devices` > 1) each rank encodes its share of the global batch and the
in-batch candidates are gathered across ranks with their gradients (`dssm.losses.global_candidates`):
every query sees the whole global batch's vacancies, as one process with the global batch would.
"""

from __future__ import annotations

import time

import lightning as L
import numpy as np
import torch
from torch import Tensor

from dssm.config import TrainConfig
from dssm.losses import global_candidates, in_batch_softmax_loss
from dssm.tower import TwoTower

EPOCH_STATS = "jobmatch_epoch_stats"
"""Checkpoint key of `DSSMModule.epoch_stats` (epoch -> train seconds, pairs, pairs/s, val_recall)."""


def recall_at_k(scores: Tensor, positives: list[np.ndarray], k: int) -> Tensor:
    """scores (R, N) over all N candidates; positives[i] the relevant columns of row i -> (R,) Recall@k.

    Recall@k_i = |topk_i ∩ P_i| / |P_i| (rows with empty P_i give 0).

    >>> recall_at_k(torch.tensor([[0.9, 0.1, 0.5], [0.0, 1.0, 0.2]]), [np.array([2]), np.array([0, 2])], k=2).tolist()
    [1.0, 0.5]
    """
    top = scores.topk(min(k, scores.shape[1]), dim=1).indices  # (R, k)
    rel = torch.zeros_like(scores, dtype=torch.bool)  # (R, N)
    for i, p in enumerate(positives):
        rel[i, torch.as_tensor(p, dtype=torch.long, device=scores.device)] = True
    hits = rel.gather(1, top).sum(1).float()  # (R,)
    n_pos = rel.sum(1).float()  # (R,)
    return torch.where(n_pos > 0, hits / n_pos.clamp(min=1), torch.zeros_like(hits))


def _tower_args(batch: dict[str, Tensor], prefix: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return batch[f"{prefix}_ids"], batch[f"{prefix}_mask"], batch[f"{prefix}_cat"], batch[f"{prefix}_num"]


class DSSMModule(L.LightningModule):
    """Trains `model` with `cfg`; `meta` (plain JSON-able dict: vocab size, feature sets) goes into checkpoints."""

    def __init__(self, model: TwoTower, cfg: TrainConfig, meta: dict | None = None):
        super().__init__()
        self.model, self.cfg = model, cfg
        self.save_hyperparameters({"meta": meta or {}}, logger=False)
        self.epoch_stats: dict[int, dict] = {}
        self._t_last = 0.0
        self._val_scores: list[Tensor] = []
        self._val_rows: list[Tensor] = []
        self._vac_emb: Tensor | None = None

    def configure_optimizers(self):
        if not self.cfg.attention_lr:
            return torch.optim.AdamW(self.model.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        scorers = [p for tower in (self.model.vacancy, self.model.resume) for p in tower.score.parameters()]
        ids = {id(p) for p in scorers}
        rest = [p for p in self.model.parameters() if id(p) not in ids]
        groups = [{"params": rest}, {"params": scorers, "lr": self.cfg.attention_lr}]
        return torch.optim.AdamW(groups, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        q = self.model.resume(*_tower_args(batch, "res"))  # (B, D)
        vac = self.model.vacancy(*_tower_args(batch, "vac"))  # (U, D)
        cand, log_q, target, hit_mask = vac[batch["cand_idx"]], batch["log_q"], batch["target"], batch["hit_mask"]  # (N, D) ...
        if self.trainer.world_size > 1:
            cand, log_q, target, hit_mask = global_candidates(
                cand, batch["cand_rows"], log_q, target, batch["res_rows"], self.trainer.datamodule.pairs.is_positive,
                lambda t, grads: self.all_gather(t, sync_grads=grads), self.trainer.global_rank,
            )  # (W * N_max, D) ...
        loss = in_batch_softmax_loss(
            q,
            cand,
            target,
            self.cfg.temperature,
            log_q=log_q if self.cfg.logq else None,
            hit_mask=hit_mask,
            extra=vac[batch["neg_idx"]],  # (B, M, D)
            extra_mask=batch["neg_mask"],
        )
        self.log("train_loss", loss, prog_bar=True, batch_size=q.shape[0], on_step=True, on_epoch=True, sync_dist=self.trainer.world_size > 1)
        return loss

    def _stats(self) -> dict:
        return self.epoch_stats.setdefault(int(self.current_epoch), {"epoch": int(self.current_epoch), "train_seconds": 0.0, "pairs": 0})

    def on_train_epoch_start(self) -> None:
        self._t_last = time.perf_counter()

    def on_train_batch_end(self, outputs, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Training speed: wall time of batches (loading included, validation excluded) and pairs seen."""
        now = time.perf_counter()
        st = self._stats()
        st["train_seconds"] += now - self._t_last
        st["pairs"] += int(batch["target"].shape[0]) * self.trainer.world_size  # ranks step together
        st["pairs_per_s"] = st["pairs"] / max(st["train_seconds"], 1e-9)
        self._t_last = now

    @torch.no_grad()
    def on_validation_epoch_start(self) -> None:
        dm = self.trainer.datamodule
        emb = torch.zeros(len(dm.vacancies), self.model.vacancy.cfg.embedding_dim, device=self.device)
        for rows, b in dm.vacancy_batches():
            b = {k: v.to(self.device) for k, v in b.items()}
            emb[torch.from_numpy(rows).to(self.device)] = self.model.vacancy(b["ids"], b["mask"], b["cat"], b["num"])  # (B, D)
        self._vac_emb = emb
        self._val_scores, self._val_rows = [], []

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        q = self.model.resume(*_tower_args(batch, "res"))  # (B, D)
        self._val_scores.append(q @ self._vac_emb.T)  # (B, N)
        self._val_rows.append(batch["rows"])

    def on_validation_epoch_end(self) -> None:
        """val_recall over all held-out resumes (under DDP each rank scored its share: sums are gathered)."""
        dm = self.trainer.datamodule
        where = {int(r): i for i, r in enumerate(dm.val_rows)}
        rows = torch.cat(self._val_rows).tolist() if self._val_rows else []
        scores = torch.cat(self._val_scores) if self._val_scores else torch.zeros(0, len(dm.vacancies), device=self.device)  # (R, N)
        rec = recall_at_k(scores, [dm.val_positives[where[r]] for r in rows], self.cfg.recall_k)
        total = torch.stack([rec.sum(), torch.tensor(float(len(rec)), device=rec.device)])  # (2,)
        if self.trainer.world_size > 1:
            total = self.all_gather(total).sum(0)
        value = float(total[0] / total[1]) if total[1] > 0 else 0.0
        self.log("val_recall", value, prog_bar=True, sync_dist=self.trainer.world_size > 1)  # equal on every rank
        if not self.trainer.sanity_checking:
            self._stats()["val_recall"] = value
        self._val_scores, self._val_rows, self._vac_emb = [], [], None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Per-epoch statistics travel in the checkpoint: a resumed run keeps them, and so does a DDP run's parent."""
        checkpoint[EPOCH_STATS] = self.epoch_stats

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.epoch_stats = {int(k): v for k, v in checkpoint.get(EPOCH_STATS, {}).items()}

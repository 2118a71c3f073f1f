"""LightningModule wrapping a `TwoTower` for training; serving never imports this file.

Training step: resumes q (B, D) and the batch's distinct vacancies (U, D) are
encoded once; the loss is `dssm.losses.in_batch_softmax_loss` over the in-batch
candidates (logQ-corrected, accidental hits masked) plus each row's explicit
negatives. Validation encodes every vacancy and the held-out resumes and logs
`val_recall` = mean over held-out resumes of |top-k ∩ positives| / |positives|
(ranking all vacancies), which drives checkpointing and early stopping.
"""

from __future__ import annotations

import time

import lightning as L
import numpy as np
import torch
from torch import Tensor

from dssm.config import TrainConfig
from dssm.losses import in_batch_softmax_loss
from dssm.tower import TwoTower


def recall_at_k(scores: Tensor, positives: list[np.ndarray], k: int) -> Tensor:
    """scores (R, N) over all N candidates; positives[i] the relevant columns of row i -> (R,) Recall@k.

    Recall@k_i = |topk_i ∩ P_i| / |P_i| (rows with empty P_i give 0).

    >>> recall_at_k(torch.tensor([[0.9, 0.1, 0.5], [0.0, 1.0, 0.2]]), [np.array([2]), np.array([0, 2])], k=2).tolist()
    [1.0, 0.5]
    """
    top = scores.topk(min(k, scores.shape[1]), dim=1).indices  # (R, k)
    rel = torch.zeros_like(scores, dtype=torch.bool)  # (R, N)
    for i, p in enumerate(positives):
        rel[i, torch.as_tensor(p, dtype=torch.long)] = True
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
        cand = vac[batch["cand_idx"]]  # (N, D)
        extra = vac[batch["neg_idx"]]  # (B, M, D)
        loss = in_batch_softmax_loss(
            q,
            cand,
            batch["target"],
            self.cfg.temperature,
            log_q=batch["log_q"] if self.cfg.logq else None,
            hit_mask=batch["hit_mask"],
            extra=extra,
            extra_mask=batch["neg_mask"],
        )
        self.log("train_loss", loss, prog_bar=True, batch_size=q.shape[0], on_step=True, on_epoch=True)
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
        st["pairs"] += int(batch["target"].shape[0])
        st["pairs_per_s"] = st["pairs"] / max(st["train_seconds"], 1e-9)
        self._t_last = now

    @torch.no_grad()
    def on_validation_epoch_start(self) -> None:
        dm = self.trainer.datamodule
        emb = torch.zeros(len(dm.vacancies), self.model.vacancy.cfg.out_dim)
        for rows, b in dm.vacancy_batches():
            emb[torch.from_numpy(rows)] = self.model.vacancy(b["ids"], b["mask"], b["cat"], b["num"])  # (B, D)
        self._vac_emb = emb
        self._val_scores, self._val_rows = [], []

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        q = self.model.resume(*_tower_args(batch, "res"))  # (B, D)
        self._val_scores.append(q @ self._vac_emb.T)  # (B, N)
        self._val_rows.append(batch["rows"])

    def on_validation_epoch_end(self) -> None:
        dm = self.trainer.datamodule
        where = {int(r): i for i, r in enumerate(dm.val_rows)}
        rows = torch.cat(self._val_rows).tolist()
        scores = torch.cat(self._val_scores)  # (R, N)
        rec = recall_at_k(scores, [dm.val_positives[where[r]] for r in rows], self.cfg.recall_k)
        value = float(rec.mean()) if len(rec) else 0.0
        self.log("val_recall", value, prog_bar=True)
        if not self.trainer.sanity_checking:
            self._stats()["val_recall"] = value
        self._val_scores, self._val_rows, self._vac_emb = [], [], None

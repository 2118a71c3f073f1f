"""LightningModule for fine-tuning the understanding models (tagger, sentence classifier): a loss, a dev score after every epoch, the best epoch kept.

`loss(model, batch) -> Tensor` is the model's training loss (the tagger's summed per-layer
cross-entropy, the classifier's cross-entropy). After each training epoch `evaluate()` (a
callable from the stage that predicts the dev part through the same code as `predict` and
scores it: micro span-F1 for the tagger, macro-F1 for the classifier) returns (dev score,
predictions); the weights and the dev predictions of the best epoch are kept in memory
(`best_state`, `best_predictions`: the stage scores those, it does not predict dev again) and
training stops after `patience` epochs without improvement. Epochs are numbered from 1 in `history` and
`best_epoch` (best_epoch == epochs run: the last epoch was the best). Two AdamW groups: the pretrained encoder at `encoder_lr`, the rest at `lr`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn


class FinetuneModule(L.LightningModule):
    def __init__(self, model: nn.Module, loss: Callable[[nn.Module, dict], Tensor], evaluate: Callable[[], tuple[float, Any]],
                 lr: float, encoder_lr: float, patience: int):
        super().__init__()
        self.model, self.loss_fn, self.evaluate = model, loss, evaluate
        self.lr, self.encoder_lr, self.patience = lr, encoder_lr, patience
        self.best_score, self.best_epoch, self.best_state, self.best_predictions = -1.0, 0, None, None
        self.history: list[dict] = []

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss = self.loss_fn(self.model, batch)
        self.log("loss", loss, prog_bar=True, on_step=True, on_epoch=False, batch_size=len(batch["ids"]))
        return loss

    def on_train_epoch_end(self) -> None:
        self.model.eval()
        score, predictions = self.evaluate()
        score = float(score)
        self.model.train()
        epoch = int(self.current_epoch) + 1
        self.history.append({"epoch": epoch, "dev_score": round(score, 4)})
        if score > self.best_score:
            self.best_score, self.best_epoch = score, epoch
            self.best_state, self.best_predictions = copy.deepcopy(self.model.state_dict()), predictions
        elif epoch - self.best_epoch >= self.patience:
            self.trainer.should_stop = True

    def configure_optimizers(self):
        enc = [p for n, p in self.model.named_parameters() if n.startswith("encoder.")]
        rest = [p for n, p in self.model.named_parameters() if not n.startswith("encoder.")]
        groups = [{"params": rest, "lr": self.lr}]
        if enc:
            groups.append({"params": enc, "lr": self.encoder_lr})
        return torch.optim.AdamW(groups, weight_decay=0.01)

"""LightningModule for ALBERT pretraining (MLM + SOP); the model is a `transformers` *ForPreTraining.

Loss = CE(MLM logits at the chosen positions, original ids) + CE(order logits, SOP label).
The MLM head runs only on the chosen positions (≈15% of pieces): the same loss as
`AlbertForPreTraining(labels=...)`, about 7× cheaper on its 16k-way output layer.
For a BERT checkpoint given with `--init`, the next-sentence head learns the order label.
Schedule: AdamW, linear warm-up to `lr`, then linear decay to 0 at `max_steps`.
"""

from __future__ import annotations

import time

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from dssm.understanding.albert import PretrainConfig, WordPieces, mask_tokens


def heads(model) -> tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module]:
    """(encoder, MLM head, order head) of an AlbertForPreTraining or BertForPreTraining."""
    if hasattr(model, "albert"):
        return model.albert, model.predictions, model.sop_classifier
    return model.bert, model.cls.predictions, model.cls.seq_relationship


class PretrainModule(L.LightningModule):
    """Trains `model` (a *ForPreTraining) on SOP pair batches from `dssm.understanding.albert.pair_batch`."""

    def __init__(self, model, pieces: WordPieces, cfg: PretrainConfig):
        super().__init__()
        self.model, self.pieces, self.cfg = model, pieces, cfg
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.tokens_seen = 0
        self._t0 = time.perf_counter()
        self.history: list[dict] = []

    def losses(self, batch: dict[str, Tensor], gen: torch.Generator) -> dict[str, Tensor]:
        encoder, mlm_head, order_head = heads(self.model)
        inputs, labels = mask_tokens(batch["input_ids"], batch["special"], self.pieces, self.cfg.mlm_probability, gen)
        out = encoder(input_ids=inputs, attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"])
        chosen = labels != -100  # (B, T)
        logits = mlm_head(out.last_hidden_state[chosen])  # (N, V)
        order = order_head(out.pooler_output)  # (B, 2)
        mlm = F.cross_entropy(logits, labels[chosen]) if chosen.any() else logits.sum() * 0.0
        sop = F.cross_entropy(order, batch["sentence_order_label"])
        return {"loss": mlm + sop, "mlm": mlm, "sop": sop,
                "mlm_acc": (logits.argmax(-1) == labels[chosen]).float().mean() if chosen.any() else torch.tensor(0.0),
                "sop_acc": (order.argmax(-1) == batch["sentence_order_label"]).float().mean()}

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        out = self.losses(batch, self.gen)
        self.tokens_seen += int(batch["attention_mask"].sum())
        self.log_dict({"loss": out["loss"], "mlm": out["mlm"], "sop": out["sop"]}, prog_bar=True, on_step=True, on_epoch=False)
        return out["loss"]

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        gen = torch.Generator().manual_seed(self.cfg.seed + 1 + batch_idx)  # the same masks at every validation
        out = self.losses(batch, gen)
        self.log_dict({f"val_{k}": v for k, v in out.items()}, on_step=False, on_epoch=True, batch_size=len(batch["input_ids"]))

    def on_validation_epoch_end(self) -> None:
        row = {k: float(v) for k, v in self.trainer.callback_metrics.items() if k.startswith("val_")}
        row["step"] = int(self.global_step)
        if not self.history or self.history[-1]["step"] != row["step"]:  # the final validate repeats the last step
            self.history.append(row)

    def configure_optimizers(self):
        cfg = self.cfg
        decay = [p for n, p in self.model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in self.model.named_parameters() if p.ndim < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)

        def factor(step: int) -> float:
            if step < cfg.warmup_steps:
                return (step + 1) / max(1, cfg.warmup_steps)
            return max(0.0, (cfg.max_steps - step) / max(1, cfg.max_steps - cfg.warmup_steps))

        return {"optimizer": opt, "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.LambdaLR(opt, factor), "interval": "step"}}

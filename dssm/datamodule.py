"""Lightning datamodule: batches of positive pairs with explicit negatives, and held-out resumes for validation.

A training batch of B positives (r_i, v_i) encodes each distinct vacancy once:
the batch's distinct positive vacancies are the in-batch candidates (with
log Q and the accidental-hit mask of `dssm.losses`), and each row also gets
its own explicit negatives (views without action and/or random vacancies).
Tokenised documents live in `TokenStore`s built once per run.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from dssm.batching import TokenStore, length_sorted_batches
from dssm.config import TrainConfig
from dssm.pairs import PairData


@dataclass
class TowerInputs:
    """Everything one tower reads for a table of documents: tokens, categorical and numeric features."""

    tokens: TokenStore
    """Tokenised documents (already cut to the tower's max_len)."""
    cat: np.ndarray
    """(N, C) int64 categorical codes."""
    num: np.ndarray
    """(N, K) float32 numeric features."""

    def __post_init__(self) -> None:
        if not len(self.tokens) == len(self.cat) == len(self.num):
            raise ValueError(f"row counts differ: tokens {len(self.tokens)}, cat {len(self.cat)}, num {len(self.num)}")

    def __len__(self) -> int:
        return len(self.tokens)

    def batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """-> {"ids" (B, T), "mask" (B, T), "cat" (B, C), "num" (B, K)} for documents `rows`."""
        ids, mask = self.tokens.batch(rows)
        return {"ids": ids, "mask": mask, "cat": torch.from_numpy(self.cat[rows]), "num": torch.from_numpy(self.num[rows])}


def _prefixed(prefix: str, d: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}_{k}": v for k, v in d.items()}


class PairCollator:
    """Turns a list of positive-pair indices into one training batch (see module docstring)."""

    def __init__(self, vacancies: TowerInputs, resumes: TowerInputs, pairs: PairData, cfg: TrainConfig, rank: int = 0):
        self.vacancies, self.resumes, self.pairs, self.cfg = vacancies, resumes, pairs, cfg
        self.rng = np.random.default_rng(cfg.seed + 1 + rank)

    def __call__(self, idx: list[int]) -> dict[str, torch.Tensor]:
        pos = self.pairs.pos[np.asarray(idx, dtype=np.int64)]
        r, v = pos[:, 0], pos[:, 1]
        negs = [self.pairs.hard_negatives(self.rng, r, self.cfg.hard_negatives), self.pairs.random_negatives(self.rng, r, self.cfg.random_negatives)]
        neg = np.concatenate(negs, axis=1)  # (B, M), -1 = none
        cand, target = np.unique(v, return_inverse=True)  # (N,), (B,)
        uniq, inv = np.unique(np.concatenate([cand, neg[neg >= 0]]), return_inverse=True)  # vacancies to encode
        cand_idx = inv[: len(cand)]
        neg_idx = np.zeros(neg.shape, dtype=np.int64)
        neg_idx[neg >= 0] = inv[len(cand) :]
        out = {
            **_prefixed("res", self.resumes.batch(r)),
            **_prefixed("vac", self.vacancies.batch(uniq)),
            "cand_idx": torch.from_numpy(cand_idx.astype(np.int64)),
            "target": torch.from_numpy(target.astype(np.int64).reshape(-1)),
            "log_q": torch.from_numpy(self.pairs.log_q[cand]),
            "hit_mask": torch.from_numpy(self.pairs.is_positive(r[:, None], cand[None, :])),
            "neg_idx": torch.from_numpy(neg_idx),
            "neg_mask": torch.from_numpy(neg >= 0),
            "res_rows": torch.from_numpy(r.astype(np.int64)),
            "cand_rows": torch.from_numpy(cand.astype(np.int64)),
        }
        return out


class ResumeCollator:
    """Held-out resume rows -> a resume batch with their row ids (for validation Recall@k)."""

    def __init__(self, resumes: TowerInputs):
        self.resumes = resumes

    def __call__(self, rows: list[np.ndarray]) -> dict[str, torch.Tensor]:
        rows_arr = np.asarray(rows[0], dtype=np.int64)
        return {**_prefixed("res", self.resumes.batch(rows_arr)), "rows": torch.from_numpy(rows_arr)}


class PairDataModule(L.LightningDataModule):
    """Training pairs of the train resumes; validation = held-out resumes ranked against all vacancies.

    `val_positives[i]` are the vacancy rows that held-out resume `val_rows[i]` responded to / was invited to.
    """

    def __init__(
        self,
        vacancies: TowerInputs,
        resumes: TowerInputs,
        pairs: PairData,
        val_rows: np.ndarray,
        val_positives: list[np.ndarray],
        cfg: TrainConfig,
        eval_batch_size: int = 256,
    ):
        super().__init__()
        if len(pairs.pos) == 0:
            raise ValueError("no training positives (response/invite events of training resumes)")
        self.vacancies, self.resumes, self.pairs, self.cfg = vacancies, resumes, pairs, cfg
        self.val_rows = np.asarray(val_rows, dtype=np.int64)
        self.val_positives = val_positives
        self.eval_batch_size = eval_batch_size
        n = len(pairs.pos)
        rng = np.random.default_rng(cfg.seed)
        self.train_index = np.sort(rng.choice(n, cfg.max_train_pairs, replace=False)) if 0 < cfg.max_train_pairs < n else np.arange(n)

    @property
    def n_train_pairs(self) -> int:
        return len(self.train_index)

    def _ranks(self) -> tuple[int, int]:
        """(rank, world size) of this process: (0, 1) outside distributed training."""
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        """Shuffled positive pairs; under DDP each rank gets its own `batch_size` share of every step."""
        rank, world = self._ranks()
        collate = PairCollator(self.vacancies, self.resumes, self.pairs, self.cfg, rank)
        index = self.train_index.tolist()
        drop_last = len(self.train_index) > self.cfg.batch_size * world
        if world > 1:
            sampler = DistributedSampler(index, num_replicas=world, rank=rank, shuffle=True, seed=self.cfg.seed, drop_last=True)
            return DataLoader(index, batch_size=self.cfg.batch_size, sampler=sampler, drop_last=drop_last, collate_fn=collate, num_workers=self.cfg.num_workers)
        g = torch.Generator().manual_seed(self.cfg.seed)
        return DataLoader(index, batch_size=self.cfg.batch_size, shuffle=True, generator=g, drop_last=drop_last, collate_fn=collate, num_workers=self.cfg.num_workers)

    def val_dataloader(self) -> DataLoader:
        """Length-sorted batches of held-out resumes; under DDP every rank takes every W-th resume (none repeated)."""
        rank, world = self._ranks()
        rows = self.val_rows[rank::world]
        batches = [rows[b] for b in length_sorted_batches(self.resumes.tokens.lengths[rows], self.eval_batch_size)]
        return DataLoader(batches, batch_size=1, shuffle=False, collate_fn=ResumeCollator(self.resumes))

    def vacancy_batches(self):
        """(rows, batch) over all vacancies, length-sorted: for encoding the full candidate set."""
        for rows in length_sorted_batches(self.vacancies.tokens.lengths, self.eval_batch_size):
            yield rows, self.vacancies.batch(rows)

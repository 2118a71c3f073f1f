"""Training pairs from the interaction log: positives, views without action, the held-out resume split.

A positive is a distinct (resume, vacancy) pair with a response or invite.
A hard negative of a resume is a vacancy it viewed with no positive action on
that pair. Random negatives are vacancies drawn uniformly, excluding the
resume's positives. The validation split holds out whole resumes (user-based):
a seeded draw among resumes with at least one positive, so the same data and
seed always give the same held-out ids.

Q_v, the probability that vacancy v shows up as an in-batch candidate, is its
share of training positives (add-one smoothed); `log_q` feeds the logQ correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dssm.errors import DataError
from dssm.schema import EVENT, INTERACTIONS_FILE, POSITIVE_EVENTS, RESUME_ID, VACANCY_ID


def _rows(ids: pd.Series, index: pd.Index, column: str) -> np.ndarray:
    rows = index.get_indexer(ids.astype(str))
    bad = np.flatnonzero(rows < 0)
    if bad.size:
        raise DataError(INTERACTIONS_FILE, column, "points at an unknown document", rows=ids.index[bad].tolist())
    return rows.astype(np.int64)


def interaction_rows(interactions: pd.DataFrame, vacancy_ids: pd.Index, resume_ids: pd.Index) -> pd.DataFrame:
    """Interactions with integer `r` (resume row) and `v` (vacancy row) columns and a boolean `positive`."""
    out = pd.DataFrame(
        {
            "r": _rows(interactions[RESUME_ID], resume_ids, RESUME_ID),
            "v": _rows(interactions[VACANCY_ID], vacancy_ids, VACANCY_ID),
            "positive": interactions[EVENT].astype(str).isin(POSITIVE_EVENTS).to_numpy(),
        }
    )
    return out


def split_resumes(positive_resume_ids: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """Held-out resume ids (sorted str): a seeded `val_fraction` draw among resumes that have positives."""
    eligible = np.array(sorted(set(map(str, positive_resume_ids))), dtype=object)
    n_val = int(round(val_fraction * len(eligible)))
    n_val = min(max(n_val, 1), max(len(eligible) - 1, 0)) if len(eligible) > 1 else 0
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(eligible, size=n_val, replace=False)) if n_val else eligible[:0]


@dataclass
class PairData:
    """Positives and negative pools over row indices of the vacancy and resume tables."""

    pos: np.ndarray
    """(P, 2) int64 distinct training positives [resume_row, vacancy_row]."""
    n_vacancies: int
    """Number of vacancy rows (the candidate universe)."""
    pos_keys: np.ndarray
    """Sorted r * n_vacancies + v keys of every training positive (accidental-hit lookup)."""
    view_offsets: np.ndarray
    """(n_resumes + 1,) offsets into `view_items`: resume r viewed view_items[o[r]:o[r+1]] without action."""
    view_items: np.ndarray
    """Vacancy rows of views without action, grouped by resume."""
    log_q: np.ndarray
    """(n_vacancies,) float32 log share of training positives per vacancy (add-one smoothed)."""

    @classmethod
    def build(cls, inter: pd.DataFrame, n_resumes: int, n_vacancies: int, train_resume_mask: np.ndarray) -> PairData:
        """From `interaction_rows` output, keeping only resumes where `train_resume_mask[r]` is True."""
        keep = inter[train_resume_mask[inter["r"].to_numpy()]]
        posdf = keep[keep["positive"]][["r", "v"]].drop_duplicates().sort_values(["r", "v"])
        pos = posdf.to_numpy(dtype=np.int64)
        keys = np.unique(pos[:, 0] * n_vacancies + pos[:, 1]) if len(pos) else np.zeros(0, np.int64)
        views = keep[~keep["positive"]][["r", "v"]].drop_duplicates()
        vkeys = views["r"].to_numpy(np.int64) * n_vacancies + views["v"].to_numpy(np.int64)
        views = views[~np.isin(vkeys, keys)].sort_values(["r", "v"])
        counts = np.bincount(views["r"].to_numpy(np.int64), minlength=n_resumes)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        pop = np.bincount(pos[:, 1], minlength=n_vacancies).astype(np.float64) + 1.0
        log_q = np.log(pop / pop.sum()).astype(np.float32)
        return cls(pos, n_vacancies, keys, offsets, views["v"].to_numpy(np.int64), log_q)

    def is_positive(self, r: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Elementwise: is (r, v) a training positive? Broadcasts r against v."""
        k = np.asarray(r, dtype=np.int64) * self.n_vacancies + np.asarray(v, dtype=np.int64)
        return np.isin(k, self.pos_keys)

    def hard_negatives(self, rng: np.random.Generator, r: np.ndarray, m: int) -> np.ndarray:
        """(B, m) vacancy rows each resume viewed without action, drawn with replacement; -1 where it has none."""
        out = np.full((len(r), m), -1, dtype=np.int64)
        if m == 0:
            return out
        lo, hi = self.view_offsets[r], self.view_offsets[r + 1]
        has = hi > lo
        pick = lo[:, None] + (rng.random((len(r), m)) * (hi - lo)[:, None]).astype(np.int64)  # (B, m)
        out[has] = self.view_items[np.minimum(pick[has], len(self.view_items) - 1)]
        return out

    def random_negatives(self, rng: np.random.Generator, r: np.ndarray, m: int) -> np.ndarray:
        """(B, m) uniform vacancy rows that are not the resume's positives (-1 where a draw hit one)."""
        out = rng.integers(0, self.n_vacancies, size=(len(r), m))
        return np.where(self.is_positive(r[:, None], out), -1, out)

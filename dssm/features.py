"""Categorical and numeric side features of a tower: fitted on training documents, stored as JSON.

Categorical column c with training vocabulary V_c maps a value to
    0 if missing (None / NaN / empty), 1 if unseen in training, 2 + rank in V_c otherwise,
so the embedding table has |V_c| + 2 rows (missing and unknown are their own buckets).

Numeric column x becomes two inputs: z = (log1p(max(x, 0)) - mu) / sigma (0 when missing)
and a missing flag m in {0, 1}; mu, sigma are the training mean/std of log1p(x).
A column absent from the frame is treated as missing everywhere, so the towers run without it.

>>> import pandas as pd
>>> fs = FeatureSpace.fit(pd.DataFrame({"area": ["a", "b", None], "salary": [1e5, None, 2e5]}), ("area",), ("salary",))
>>> cat, num = fs.transform(pd.DataFrame({"area": ["b", "zzz"], "salary": [None, 1e5]}))
>>> cat.ravel().tolist(), num.shape
([3, 1], (2, 2))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dssm.errors import JobmatchError

MISSING, UNKNOWN = 0, 1
"""Reserved categorical buckets."""


def _missing(values: pd.Series) -> np.ndarray:
    s = values.astype(object)
    return (s.isna() | s.map(lambda v: isinstance(v, str) and not v.strip())).to_numpy(bool)


@dataclass
class FeatureSpace:
    """The fitted feature encoders of one tower (one document kind)."""

    categorical: dict[str, list[str]] = field(default_factory=dict)
    """column -> training vocabulary (value i has index i + 2)."""
    numeric: dict[str, tuple[float, float]] = field(default_factory=dict)
    """column -> (mean, std) of log1p(value) over training rows."""

    @classmethod
    def fit(cls, df: pd.DataFrame, categorical: Sequence[str], numeric: Sequence[str]) -> FeatureSpace:
        """Learn vocabularies (sorted by frequency, then value) and numeric scaling from `df`."""
        cats: dict[str, list[str]] = {}
        for col in categorical:
            if col not in df.columns:
                cats[col] = []
                continue
            s = df[col].astype(object)
            s = s[~_missing(s)].map(str)
            counts = s.value_counts()
            cats[col] = sorted(counts.index.tolist(), key=lambda v: (-int(counts[v]), v))
        nums: dict[str, tuple[float, float]] = {}
        for col in numeric:
            v = cls._log_values(df, col)
            v = v[~np.isnan(v)]
            mu = float(v.mean()) if v.size else 0.0
            sd = float(v.std()) if v.size > 1 else 1.0
            nums[col] = (mu, sd if sd > 1e-6 else 1.0)
        return cls(cats, nums)

    @staticmethod
    def _log_values(df: pd.DataFrame, col: str) -> np.ndarray:
        if col not in df.columns:
            return np.full(len(df), np.nan)
        x = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return np.log1p(np.clip(x, 0.0, None))

    @property
    def cardinalities(self) -> list[int]:
        """Embedding-table sizes, one per categorical column (vocabulary + missing + unknown)."""
        return [len(v) + 2 for v in self.categorical.values()]

    @property
    def num_dim(self) -> int:
        return 2 * len(self.numeric)

    def transform(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """-> cat (N, C) int64, num (N, 2K) float32 laid out [z_1, m_1, z_2, m_2, ...]."""
        n = len(df)
        cat = np.zeros((n, len(self.categorical)), dtype=np.int64)
        for j, (col, vocab) in enumerate(self.categorical.items()):
            if col not in df.columns:
                continue
            index = {v: i + 2 for i, v in enumerate(vocab)}
            s = df[col].astype(object)
            miss = _missing(s)
            cat[:, j] = [MISSING if m else index.get(str(v), UNKNOWN) for v, m in zip(s.tolist(), miss)]
        num = np.zeros((n, self.num_dim), dtype=np.float32)
        for j, (col, (mu, sd)) in enumerate(self.numeric.items()):
            v = self._log_values(df, col)
            miss = np.isnan(v)
            num[:, 2 * j] = np.where(miss, 0.0, (v - mu) / sd)
            num[:, 2 * j + 1] = miss
        return cat, num

    def to_dict(self) -> dict[str, Any]:
        return {"categorical": self.categorical, "numeric": {k: list(v) for k, v in self.numeric.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "features.json") -> FeatureSpace:
        try:
            cats = {str(k): [str(x) for x in v] for k, v in data["categorical"].items()}
            nums = {str(k): (float(v[0]), float(v[1])) for k, v in data["numeric"].items()}
        except (KeyError, TypeError, IndexError, ValueError, AttributeError) as e:
            raise JobmatchError(f"{source}: malformed feature space ({e!r})") from e
        return cls(cats, nums)

    def check_matches(self, categorical: Sequence[str], numeric: Sequence[str], source: str = "features.json") -> None:
        """Raise JobmatchError unless this space encodes exactly these columns, in this order."""
        if list(self.categorical) != list(categorical) or list(self.numeric) != list(numeric):
            raise JobmatchError(
                f"{source}: feature set mismatch: stored categorical={list(self.categorical)} numeric={list(self.numeric)}, "
                f"config expects categorical={list(categorical)} numeric={list(numeric)}"
            )

"""Categorical and numeric side features of a tower: fitted on training documents, stored as JSON.

Categorical column c with training vocabulary V_c maps a value to
    0 if missing (None / NaN / empty), 1 if unseen in training, 2 + rank in V_c otherwise,
so the embedding table has |V_c| + 2 rows (missing and unknown are their own buckets).

Numeric column x becomes two inputs: z = (log1p(max(x, 0)) - mu) / sigma (0 when missing)
and a missing flag m in {0, 1}; mu, sigma are the training mean/std of log1p(x).
A column absent from the frame is treated as missing everywhere, so the towers run without it.

Skill bag (optional, `TowerConfig.skill_dim > 0` or `skill_match_dim > 0`): column `parsed_skills` holds each document's parsed,
normalised skill names (`pipelines.artifacts.SkillSource`); the vocabulary is the names seen
in at least `skill_min_count` training documents, and a document becomes `max_skills` ids appended
after its categorical codes: 0 padding, 1 a name outside the vocabulary, 2 + rank otherwise (first
mentions first; more names are cut). The tower averages their embeddings (an EmbeddingBag's mean). The
vocabulary's sha256 is written into the weights, so a model refuses a vocabulary it was not trained with.

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
"""Reserved categorical buckets (and skill-bag ids: 0 padding, 1 unknown skill)."""
SKILLS = "parsed_skills"
"""Document column of the skill bag: a list of normalised skill names found by the tagger (the contract's own
`skills` column, the names the employer or candidate listed, is another thing and is not read here)."""


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
    skills: list[str] | None = None
    """Skill vocabulary (skill i has id i + 2), None = no skill bag."""
    max_skills: int = 0
    """Skill ids per document (the bag's width after the categorical codes)."""
    skills_from: str | None = None
    """Folder hash of the tagger whose parse the skills came from (a parse by another tagger is refused)."""

    @classmethod
    def fit(cls, df: pd.DataFrame, categorical: Sequence[str], numeric: Sequence[str], max_skills: int = 0,
            skill_min_count: int = 1, skills_from: str | None = None) -> FeatureSpace:
        """Learn vocabularies (sorted by frequency, then value) and numeric scaling from `df`; `max_skills > 0`
        also learns the skill vocabulary from column `parsed_skills` (names in at least `skill_min_count` documents)."""
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
        if max_skills <= 0:
            return cls(cats, nums)
        counts = pd.Series([n for bag in _skill_bags(df) for n in set(bag)], dtype=object).value_counts()
        vocab = sorted((n for n, c in counts.items() if c >= skill_min_count), key=lambda n: (-int(counts[n]), n))
        return cls(cats, nums, vocab, int(max_skills), skills_from)

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

    @property
    def skill_rows(self) -> int:
        """Rows of the skill embedding table (vocabulary + padding + unknown; 0 without a skill bag)."""
        return 0 if self.skills is None else len(self.skills) + 2

    @property
    def skills_sha(self) -> str | None:
        """sha256 of the skill vocabulary (None without one): stored in the weights' metadata."""
        import hashlib
        import json

        return None if self.skills is None else hashlib.sha256(json.dumps(self.skills, ensure_ascii=False).encode()).hexdigest()

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
        if self.skills is None:
            return cat, num
        index = {n: i + 2 for i, n in enumerate(self.skills)}
        bag = np.zeros((n, self.max_skills), dtype=np.int64)
        for i, names in enumerate(_skill_bags(df)):
            ids = [index.get(x, UNKNOWN) for x in dict.fromkeys(names)][: self.max_skills]
            bag[i, : len(ids)] = ids
        return np.concatenate([cat, bag], axis=1), num

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"categorical": self.categorical, "numeric": {k: list(v) for k, v in self.numeric.items()}}
        if self.skills is not None:
            out["skills"] = {"vocabulary": self.skills, "max_skills": self.max_skills, "from_tagger": self.skills_from}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "features.json") -> FeatureSpace:
        try:
            cats = {str(k): [str(x) for x in v] for k, v in data["categorical"].items()}
            nums = {str(k): (float(v[0]), float(v[1])) for k, v in data["numeric"].items()}
            sk = data.get("skills")
            skills = None if sk is None else ([str(x) for x in sk["vocabulary"]], int(sk["max_skills"]), sk.get("from_tagger"))
        except (KeyError, TypeError, IndexError, ValueError, AttributeError) as e:
            raise JobmatchError(f"{source}: malformed feature space ({e!r})") from e
        return cls(cats, nums) if skills is None else cls(cats, nums, *skills)

    def check_matches(self, categorical: Sequence[str], numeric: Sequence[str], source: str = "features.json", max_skills: int = 0) -> None:
        """Raise JobmatchError unless this space encodes exactly these columns, in this order (and a skill bag of this width)."""
        if self.max_skills != max_skills or (self.skills is None) != (max_skills == 0):
            raise JobmatchError(f"{source}: skill bag mismatch: stored {self.max_skills if self.skills is not None else 'none'}, config expects {max_skills or 'none'} skill ids per document")
        if list(self.categorical) != list(categorical) or list(self.numeric) != list(numeric):
            raise JobmatchError(
                f"{source}: feature set mismatch: stored categorical={list(self.categorical)} numeric={list(self.numeric)}, "
                f"config expects categorical={list(categorical)} numeric={list(numeric)}"
            )


def _skill_bags(df: pd.DataFrame) -> list[list[str]]:
    """Column `skills` as lists of names; JobmatchError when the column is absent or a value is not a list of strings."""
    if SKILLS not in df.columns:
        raise JobmatchError(f"the model reads a skill bag but the documents have no {SKILLS!r} column: parse them (`jobmatch parse`) and pass --parsed")
    out = []
    for i, v in enumerate(df[SKILLS].tolist()):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append([])
        elif isinstance(v, (list, tuple, np.ndarray)) and all(isinstance(x, str) for x in v):
            out.append([str(x) for x in v])
        else:
            raise JobmatchError(f"column {SKILLS!r}, row {i}: expected a list of skill names, got {type(v).__name__}")
    return out

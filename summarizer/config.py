"""Typed configs of the summarizer: the labelling rule and the LR model/features.

Both load from YAML with `dssm.io.load_config`; the shipped defaults are
`summarizer/configs/default.yaml` (model + features) and
`summarizer/configs/labels.yaml` (the labelling rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dssm.checks import at_least, check_numbers

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

LABEL_METHODS = ("fair_share", "top_share")
KINDS = ("vacancies", "resumes")


@dataclass
class LabelRule:
    """How per-sentence teacher attention becomes a binary `is_summary` label.

    Let a document have T tokens read by the teacher, sentence s hold n_s of them
    and attention mass m_s = sum of its tokens' weights (sum_s m_s = M, ~1). Its
    fair share is M * n_s / T (what uniform attention would give), and its ratio
    r_s = m_s / (M * n_s / T) is its mean token attention over the document's.

    * `fair_share`: is_summary = r_s > threshold.
    * `top_share`: sentences by descending r_s are marked until they hold
      `top_share` of the document's tokens (the first is always marked).
    Sentences with no read tokens are never summary-worthy.
    """

    method: Literal["fair_share", "top_share"] = "top_share"
    """"fair_share" (ratio above `threshold`) or "top_share" (highest ratios up to a token share)."""
    threshold: float = 1.0
    """Ratio of a sentence's attention mass to its fair share above which it is summary-worthy (fair_share)."""
    top_share: float = 0.1
    """Share of a document's tokens marked, highest-ratio sentences first (top_share)."""

    def __post_init__(self) -> None:
        check_numbers(self)
        if self.method not in LABEL_METHODS:
            raise ValueError(f"method must be one of {LABEL_METHODS}, got {self.method!r}")
        if not float(self.threshold) > 0:
            raise ValueError(f"threshold must be > 0, got {self.threshold}")
        if not 0.0 < float(self.top_share) <= 1.0:
            raise ValueError(f"top_share must be in (0, 1], got {self.top_share}")
        self.threshold, self.top_share = float(self.threshold), float(self.top_share)


@dataclass
class FeatureConfig:
    """Which sentence features the LR sees (see `summarizer.features`)."""

    position: bool = True
    """Add relative position i/(n-1) and first-body-sentence flags."""
    length: bool = True
    """Add log(1 + tokens) and a short-sentence flag."""
    section_cue: bool = True
    """Add the bag of tokens of the nearest preceding short sentence (a section header such as "Требования:")."""
    header_max_tokens: int = 8
    """A section header is a non-title sentence of at most this many tokens that ends in a colon token
    (when the tokenizer is known at fit time; otherwise any such short sentence)."""

    def __post_init__(self) -> None:
        check_numbers(self)
        if int(self.header_max_tokens) < 1:
            raise ValueError(f"header_max_tokens must be >= 1, got {self.header_max_tokens}")


@dataclass
class SummarizerConfig:
    """One logistic regression per document kind over sentence features."""

    C: float = 0.003
    """Inverse L2 regularisation strength of sklearn's LogisticRegression (0.003: chosen on the dev key-skill coverage of
    real hh.ru vacancies, README "Section probabilities as summarizer features"; 1.0 before 2026-12-03)."""
    class_weight: str | None = "balanced"
    """"balanced" reweights classes inversely to their frequency; None = unweighted."""
    min_df: int = 2
    """A BPE token becomes a feature only if it occurs in at least this many training sentences."""
    max_iter: int = 1000
    """Solver iterations (liblinear)."""
    seed: int = 0
    """Seed of the solver's coordinate order."""
    budget: int = 300
    """Default token budget of a summary (title included)."""
    features: FeatureConfig = field(default_factory=FeatureConfig)
    """Sentence features."""

    def __post_init__(self) -> None:
        if isinstance(self.features, dict):
            self.features = FeatureConfig(**self.features)
        check_numbers(self)
        at_least(self, 0, "seed")
        if not float(self.C) > 0:
            raise ValueError(f"C must be > 0, got {self.C}")
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be 'balanced' or null, got {self.class_weight!r}")
        if int(self.min_df) < 1 or int(self.max_iter) < 1 or int(self.budget) < 1:
            raise ValueError("min_df, max_iter and budget must be >= 1")
        self.C, self.min_df, self.max_iter, self.budget = float(self.C), int(self.min_df), int(self.max_iter), int(self.budget)

"""Held-out documents chosen by id hash: the one document split (summarizer training and evaluation, the semi-synthetic
market's left-out real vacancies). Users are split for training and evaluation by `dssm.pairs.split_resumes`.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence

import numpy as np


def holdout_mask(doc_ids: Sequence[str], share: float, salt: str = "") -> np.ndarray:
    """Deterministic held-out documents: crc32(salt + doc_id) % 1000 < share * 1000 (stable across runs and machines).

    `summarizer train/eval --holdout` use the unsalted split; `synth --vacancies-from ... --holdout`
    salts it (`MARKET_HOLDOUT_SALT`) so that the summarizer's own held-out documents are not the
    very vacancies the market already left out.
    """
    return np.fromiter((zlib.crc32(f"{salt}{d}".encode("utf-8")) % 1000 < share * 1000 for d in doc_ids), dtype=bool, count=len(doc_ids))


def seeded_dev_mask(doc_ids: Sequence[str], share: float, seed: int) -> np.ndarray:
    """Dev documents of the understanding sets (entity sets without a dev part, vacancy sections, silver skills):
    sha256(f"{seed}:{doc_id}")'s first 8 hex digits / 16^8 < share. Seeded, unlike `holdout_mask`.

    >>> seeded_dev_mask(["a", "b", "c", "d"], 0.5, 0).tolist()
    [False, False, False, True]
    """
    return np.fromiter((int(hashlib.sha256(f"{seed}:{d}".encode()).hexdigest()[:8], 16) / 16**8 < share for d in doc_ids),
                       dtype=bool, count=len(doc_ids))


MARKET_HOLDOUT_SALT = "market:"
"""Salt of the real vacancies `synth --vacancies-from --holdout` leaves out of a semi-synthetic market."""

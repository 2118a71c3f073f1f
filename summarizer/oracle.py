"""Oracle sentence scores: what a 300-token selection could keep if it knew the ground truth.

The oracle bounds every summarizer: its summaries go through the same budgeted `select` (title
pinned, best scores first, original order) and the same production training. Two rules, by what
a market's truth holds:

* sections (`jobmatch synth`): score 1 for a sentence generated from an informative section
  (`summarizer.labels.INFORMATIVE_SECTIONS`), 0 otherwise;
* skills (the semi-synthetic market over real texts, whose vacancies have hidden profiles but
  no section truth): score = how many of the document's hidden-profile skills the sentence names
  (case-insensitive, whole words, the rule the market derives the profiles with).

Ties keep the earlier sentence, so a budget left over after the truth sentences is filled from
the top of the document, as lead-300 would.

>>> section_scores(4, {1, 3})
array([0., 1., 0., 1.])
>>> skill_scores(["Опыт с Python и SQL", "Дружный коллектив", "Знание python 3"], ["Python", "SQL"])
array([2., 0., 1.])
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np


def section_scores(n_sentences: int, informative: Collection[int]) -> np.ndarray:
    """1.0 for the sentence indices in `informative`, 0.0 for the others."""
    out = np.zeros(int(n_sentences), dtype=np.float64)
    idx = [i for i in informative if 0 <= i < n_sentences]
    out[idx] = 1.0
    return out


def skill_pattern(skills: Sequence[str]) -> re.Pattern | None:
    """One regex finding any of `skills` as whole words (longest first), None for no skills."""
    names = sorted({" ".join(str(s).lower().split()) for s in skills if str(s).strip()}, key=lambda x: (-len(x), x))
    if not names:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in names) + r")(?!\w)")


def skill_scores(sentences: Sequence[str], skills: Sequence[str]) -> np.ndarray:
    """Per sentence, the number of distinct `skills` it names."""
    pattern = skill_pattern(skills)
    if pattern is None:
        return np.zeros(len(sentences), dtype=np.float64)
    return np.array([len({m.group(1) for m in pattern.finditer(" ".join(s.lower().split()))}) for s in sentences], dtype=np.float64)

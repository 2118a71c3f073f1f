"""The synthetic market's typed config (`SynthConfig`), its presets, section names and truth/ file names."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd
from dssm.errors import JobmatchError
from dssm.checks import at_least, check_numbers, in_range

SECTIONS_VACANCY = ("title", "heading", "boilerplate", "duties", "requirements", "skills", "conditions")
"""Generating sections of vacancy sentences (truth/sentences.parquet `section`)."""
SECTIONS_RESUME = ("title", "heading", "about", "experience", "skills", "education")
"""Generating sections of resume sentences."""
INFORMATIVE_SECTIONS = ("requirements", "skills")
"""Vacancy sections that name the stack; a good summary keeps them."""

BOILERPLATE_PRESETS = {"default": (1.0, 0), "java": (3.0, 300)}
"""--boilerplate NAME -> (multiplier, min_intro_words). "java": the hh.ru Java-developer case:
at least 300 words (hence >= 300 BPE tokens for any tokenizer) precede the first skill."""

OTHER_ROLE = "other"
"""Role bucket of real vacancies no keyword rule recognises (semi-synthetic mode)."""


@dataclass
class SynthConfig:
    """All generator parameters (stored in truth/config.yaml with the seed and versions)."""

    n_vacancies: int = 5000
    """Number of vacancies generated (ignored with --vacancies-from: the real ones are used)."""
    n_resumes: int = 3000
    """Number of resumes generated."""
    seed: int = 0
    """Seed of the single numpy Generator every draw comes from."""
    boilerplate: float = 1.0
    """Multiplier of the employer boilerplate before the informative sections (1.0 = calibrated to real hh.ru)."""
    min_intro_words: int = 0
    """Boilerplate continues until the text before the duties has at least this many words (java preset: 300)."""
    intro_sentences: float = 5.0
    """Mean number of boilerplate sentences at multiplier 1.0: Poisson(intro_sentences · boilerplate · z_intro)."""
    intro_sigma: float = 0.4
    """Log-sd of the per-vacancy intro factor z_intro ~ lognormal(0, intro_sigma)."""
    length_sigma: float = 0.9
    """Log-sd of the per-vacancy verbosity z ~ lognormal(0, length_sigma) scaling duties, extra requirements and benefits."""
    duties_mean: float = 4.5
    """Duties: 2 + Poisson(duties_mean · z) items (role duties first, then generic ones)."""
    requirements_mean: float = 4.5
    """Requirements: one item per stack skill (or pair) + Poisson(requirements_mean · z) generic items."""
    conditions_mean: float = 12.0
    """Benefits: 1 + Poisson(conditions_mean · z) items."""
    conditions_first: float = 0.08
    """Probability that the benefits block comes before the duties."""
    stack_line: float = 0.5
    """Probability of a separate stack/key-skills line (a second mention of every stack skill)."""
    stack_line_last: float = 0.5
    """Probability that the stack line closes the vacancy instead of following the requirements."""
    terse: float = 0.12
    """Share of terse vacancies: no boilerplate, no stack line, at most two benefits, no generic requirements."""
    start: str = "2024-01-08"
    """First day of the interaction window (UTC)."""
    weeks: int = 8
    """Length of the interaction window in weeks."""
    views_per_resume: float = 28.5
    """Mean views per resume (before dropping repeated pairs)."""
    share_same_role: float = 0.55
    """Share of views of the resume's own role (search results)."""
    share_near_role: float = 0.2
    """Share of views of a near role; the rest are uniform over the market."""
    area_filter: float = 0.6
    """Probability a same-role view is restricted to the resume's area (when that area has such vacancies)."""
    w_role: float = 1.5
    """Utility weight of the same role."""
    w_near: float = 0.5
    """Utility weight of a near role (lexicon.Role.near)."""
    w_skills: float = 4.0
    """Utility weight of the share of the vacancy's stack the resume has (the dominant within-role term)."""
    w_seniority: float = 0.6
    """Utility weight of seniority closeness 1 − |l_u − l_v| / 3."""
    w_area: float = 0.6
    """Utility weight of the same area (or a remote vacancy)."""
    w_salary: float = 0.8
    """Utility penalty weight of an expected salary above the offer (relative excess, capped at 1)."""
    noise: float = 0.25
    """Standard deviation of the per-pair noise term."""
    response_scale: float = 2.0
    """Slope of P(response | view) in the utility."""
    response_offset: float = 4.8
    """Utility at which P(response | view) = 1/2."""
    employer_reply: float = 0.85
    """Probability that the employer answers a response (invite or reject)."""
    invite_scale: float = 2.0
    """Slope of P(invite | reply) in the utility."""
    invite_offset: float = 4.5
    """Utility at which P(invite | reply) = 1/2."""
    salary_published: float = 0.5
    """Share of vacancies that publish their salary."""
    unshown_pairs: float = 0.5
    """Random never-shown pairs written to truth/utility.parquet, as a share of the shown pairs."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 0, "seed", "w_role", "w_near", "w_skills", "w_seniority", "w_area", "w_salary")
        for name in ("response_scale", "invite_scale"):
            in_range(self, name, 0, None, low_open=True)
        at_least(self, 1, "n_vacancies", "n_resumes")
        if not 0 < float(self.boilerplate) <= 50:
            raise ValueError(f"boilerplate must be in (0, 50], got {self.boilerplate}")
        for name in ("conditions_first", "stack_line", "stack_line_last", "terse", "share_same_role", "share_near_role", "area_filter", "employer_reply", "salary_published"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.share_same_role + self.share_near_role > 1.0:
            raise ValueError("share_same_role + share_near_role must be <= 1")
        at_least(self, 0, "views_per_resume", "noise", "intro_sentences", "intro_sigma", "length_sigma", "duties_mean", "requirements_mean",
                 "conditions_mean", "unshown_pairs", "min_intro_words")
        at_least(self, 1, "weeks")
        try:
            pd.Timestamp(self.start)
        except ValueError as e:
            raise ValueError(f"start must be a date, got {self.start!r}") from e


def boilerplate_preset(value: str) -> tuple[float, int]:
    """'--boilerplate' value -> (multiplier, min_intro_words): a preset name or a positive float."""
    if value in BOILERPLATE_PRESETS:
        return BOILERPLATE_PRESETS[value]
    try:
        x = float(value)
    except ValueError:
        raise JobmatchError(f"--boilerplate: expected a number or one of {sorted(BOILERPLATE_PRESETS)}, got {value!r}") from None
    if not 0 < x <= 50:
        raise JobmatchError(f"--boilerplate: must be in (0, 50], got {x}")
    return x, 0


TRUTH_DIR = "truth"
VACANCY_PROFILES = "vacancy_profiles.parquet"
RESUME_PROFILES = "resume_profiles.parquet"
SENTENCES_FILE = "sentences.parquet"
UTILITY_FILE = "utility.parquet"
CONFIG_FILE = "config.yaml"


def config_with(cfg: SynthConfig, **changes: Any) -> SynthConfig:
    """A copy of `cfg` with `changes`, validated."""
    return dataclasses.replace(cfg, **changes)

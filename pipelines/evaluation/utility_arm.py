"""The known-utility arm: the market's own utility, with only the skills a text names — what a corpus's skills are worth.

A synthetic or semi-synthetic market (`jobmatch synth`) knows every pair's utility
(`pipelines.data.synth.utility`): role, nearby role, skill overlap, seniority, area and salary terms plus a
pair noise. Of these only the skill overlap is read from the text here; the other terms are taken as known
(the categorical and numeric fields every arm sees carry seniority, area and salary; the role is generous:
on the calibrated market titles do not give it away), alike for every corpus. The arm `utility@CORPUS` ranks
vacancies by that utility without the noise, each document's hidden skills cut down to those its text in CORPUS names
(whole words, case-insensitive: `summarizer.oracle.skill_pattern`, the rule the semi-synthetic market derives
its profiles with). Its level is not a ceiling for trained models: the positives are responses to what each
resume was shown (`pipelines.data.synth.exposure`: mostly its own role and area), which this ranking ignores
and a trained model learns. What it measures is the difference between corpora on the same held-out resumes —
how much better the same known utility ranks with the skills of the whole texts than with those of the first
300 tokens, or of a summary: the information a corpus holds for this market, the headroom a distillation
comparison has.

>>> visible(["Python", "SQL", "Kafka"], "Опыт с python и sql")
['Python', 'SQL']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dssm import schema
from dssm.errors import JobmatchError
from dssm.text import frame_documents
from pipelines.data.synth.profiles import Profiles
from summarizer.oracle import skill_pattern

USERS_PER_BLOCK = 64
"""Query resumes whose utilities against the whole catalogue are computed at once."""


def visible(skills: Sequence[str], text: str) -> list[str]:
    """The `skills` that `text` names (whole words, case-insensitive), in the order given."""
    pattern = skill_pattern(skills)
    if pattern is None:
        return []
    found = {m.group(1) for m in pattern.finditer(" ".join(text.lower().split()))}
    return [s for s in skills if " ".join(str(s).lower().split()) in found]


def visible_skills(profile_skills: Sequence[Sequence[str]], frame: pd.DataFrame, kind: str) -> list[list[str]]:
    """Per row of `frame` (aligned with `profile_skills`), the hidden skills its title and body name."""
    return [visible(list(s), " ".join(doc)) for s, doc in zip(profile_skills, frame_documents(frame, kind))]


def subset(profiles: Profiles, rows: np.ndarray, skills: list[list[str]]) -> Profiles:
    """The profiles at `rows`, in that order, with `skills` in place of their own."""
    remote = profiles.remote[rows] if len(profiles.remote) == len(profiles.ids) else profiles.remote
    return Profiles(profiles.ids[rows], profiles.role[rows], skills, profiles.seniority[rows], profiles.area[rows], profiles.salary[rows], remote)


class UtilityScorer:
    """Scores = the market utility without its pair noise, over the skills the given texts name (module docstring)."""

    def __init__(self, market: str | Path, vacancies: pd.DataFrame, resumes: pd.DataFrame):
        from pipelines.data.synth.config import config_with
        from pipelines.data.synth.utility import MarketUtility

        truth = MarketUtility.load(market)
        v_rows = self._rows(truth.v_pos, vacancies[schema.VACANCY_ID], market, "vacancy")
        r_rows = self._rows(truth.r_pos, resumes[schema.RESUME_ID], market, "resume")
        vac = subset(truth.v, v_rows, visible_skills([truth.v.skills[i] for i in v_rows], vacancies, "vacancies"))
        res = subset(truth.r, r_rows, visible_skills([truth.r.skills[i] for i in r_rows], resumes, "resumes"))
        self.utility = MarketUtility(vac, res, config_with(truth.cfg, noise=0.0))
        self.n_vacancies, self.n_users = len(v_rows), len(r_rows)

    @staticmethod
    def _rows(positions: dict[str, int], ids: pd.Series, market: str | Path, noun: str) -> np.ndarray:
        missing = [i for i in ids.astype(str) if i not in positions]
        if missing:
            raise JobmatchError(f"{Path(market) / 'truth'}: {len(missing)} {noun} ids have no hidden profile (e.g. {missing[0]!r}); "
                                f"the utility arm needs the market the data were generated as")
        return np.fromiter((positions[i] for i in ids.astype(str)), dtype=np.int64, count=len(ids))

    def pair_scores(self, resume_rows: np.ndarray, vacancy_rows: np.ndarray) -> np.ndarray:
        return self.utility.at(np.asarray(resume_rows, dtype=np.int64), np.asarray(vacancy_rows, dtype=np.int64))

    def top_k(self, k: int, exclude: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.n_vacancies)
        ranked = np.empty((self.n_users, k), dtype=np.int64)
        scores = np.empty((self.n_users, k), dtype=np.float32)
        for start in range(0, self.n_users, USERS_PER_BLOCK):
            users = np.arange(start, min(start + USERS_PER_BLOCK, self.n_users))
            block = self.pair_scores(np.repeat(users, self.n_vacancies), np.tile(np.arange(self.n_vacancies), len(users)))
            block = block.reshape(len(users), self.n_vacancies)  # (B, V)
            if exclude is not None:
                for b, u in enumerate(users):
                    block[b, np.asarray(exclude[u], dtype=np.int64)] = -np.inf
            order = np.argsort(-block, axis=1, kind="stable")[:, :k]  # ties: catalogue order
            ranked[users] = order
            scores[users] = np.take_along_axis(block, order, axis=1)
        ranked[~np.isfinite(scores)] = -1
        return ranked, scores

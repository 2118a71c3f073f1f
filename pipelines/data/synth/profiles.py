"""Hidden profiles of the synthetic market's vacancies and resumes.

Profiles. Every vacancy v has a role r_v (one of `lexicon.ROLES`), a stack S_v (3-6 skills of
its role, popular ones likelier, plus 0-2 cross-role skills), a seniority level l_v in 0..3
(`dssm.schema.EXPERIENCE_LEVELS`), an area a_v, a remote flag and a true monthly salary
offer s_v (published in `salary_from/salary_to` for only part of the vacancies). Every
resume u has a role, a skill set S_u (drawn the same way, sometimes with skills of a near
role), a level, an area and an expected salary e_u.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.data.synth import lexicon as lx


@dataclass
class Profiles:
    """Hidden profiles of one side of the market (vacancies or resumes), aligned with its ids."""

    ids: np.ndarray
    """(N,) str ids."""
    role: np.ndarray
    """(N,) str role keys (lexicon.Role.key or OTHER_ROLE)."""
    skills: list[list[str]]
    """Skills of each document (display form; compared case-insensitively)."""
    seniority: np.ndarray
    """(N,) int levels 0..3."""
    area: np.ndarray
    """(N,) str areas."""
    salary: np.ndarray
    """(N,) float64 true offer (vacancies) / expectation (resumes), roubles per month."""
    remote: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    """(N,) bool, vacancies only: remote work (area does not matter)."""

    def frame(self, id_column: str) -> pd.DataFrame:
        df = pd.DataFrame(
            {
                id_column: self.ids.astype(str),
                "role": self.role.astype(str),
                "skills": [list(s) for s in self.skills],
                "seniority": self.seniority.astype(np.int64),
                "area": self.area.astype(str),
                "salary": self.salary.astype(np.float64),
            }
        )
        if len(self.remote) == len(self.ids):
            df["remote"] = self.remote.astype(bool)
        return df

    @classmethod
    def from_frame(cls, df: pd.DataFrame, id_column: str) -> Profiles:
        return cls(
            ids=df[id_column].astype(str).to_numpy(dtype=object),
            role=df["role"].astype(str).to_numpy(dtype=object),
            skills=[list(s) if s is not None else [] for s in df["skills"].to_numpy(dtype=object)],
            seniority=df["seniority"].to_numpy(np.int64),
            area=df["area"].astype(str).to_numpy(dtype=object),
            salary=df["salary"].to_numpy(np.float64),
            remote=df["remote"].to_numpy(bool) if "remote" in df.columns else np.zeros(len(df), bool),
        )


def skill_key(skill: str) -> str:
    """Case- and space-insensitive comparison key of a skill."""
    return " ".join(str(skill).lower().split())


def popularity(n: int) -> np.ndarray:
    """Within-role skill popularity: p_k ∝ (k + 1)^-0.7 over the role's pool order."""
    w = (np.arange(n) + 1.0) ** -0.7
    return w / w.sum()


def draw_skills(rng: np.random.Generator, pool: tuple[str, ...] | list[str], k: int, p: np.ndarray | None = None) -> list[str]:
    """k distinct skills from `pool`, popular ones likelier (probabilities `p`, default `popularity`)."""
    k = max(0, min(k, len(pool)))
    if k == 0:
        return []
    p = popularity(len(pool)) if p is None else p
    return [pool[i] for i in rng.choice(len(pool), size=k, replace=False, p=p)]


def _near_pairs() -> set[tuple[str, str]]:
    out = set()
    for r in lx.ROLES:
        for n in r.near:
            out.add((r.key, n))
            out.add((n, r.key))
    return out


NEAR = _near_pairs()
"""Symmetric near-role relation of the lexicon."""


def _role_salary(role: str) -> float:
    i = lx.ROLE_INDEX.get(role)
    return lx.ROLES[i].salary if i is not None else 90000.0


def _area_factor(area: str) -> float:
    return lx.AREA_SALARY[lx.AREAS.index(area)] if area in lx.AREAS else 0.75


def expected_salaries(rng: np.random.Generator, role: np.ndarray, seniority: np.ndarray, area: np.ndarray, spread: float = 0.2) -> np.ndarray:
    """Role median × seniority factor × area factor × lognormal(0, spread), rounded to 1000 roubles."""
    base = np.array([_role_salary(r) * lx.SENIORITY_SALARY[int(s)] * _area_factor(a) for r, s, a in zip(role, seniority, area)])
    return np.round(base * rng.lognormal(0.0, spread, size=len(base)), -3)


def draw_resume_profiles(rng: np.random.Generator, n: int, role_keys: np.ndarray, role_p: np.ndarray, pools: dict[str, list[str]],
                         pool_p: dict[str, np.ndarray], areas: np.ndarray, area_p: np.ndarray) -> Profiles:
    """Resumes: role ~ role_p, level ~ (0.2, 0.4, 0.3, 0.1), skills from the role's pool (more when senior),
    sometimes 1-2 of a near role, plus 0-2 cross-role skills; area ~ area_p."""
    roles = role_keys[rng.choice(len(role_keys), size=n, p=role_p)]
    level = rng.choice(4, size=n, p=[0.2, 0.4, 0.3, 0.1])
    area = areas[rng.choice(len(areas), size=n, p=area_p)]
    skills = []
    for r, lv in zip(roles, level):
        pool = pools[r]
        k = int(rng.integers(3, 6)) + int(lv) + int(rng.integers(0, 2))
        s = draw_skills(rng, pool, k, pool_p[r])
        near = [b for (a, b) in NEAR if a == r]
        if near and rng.random() < 0.15:
            other = sorted(near)[int(rng.integers(len(near)))]
            s += [x for x in draw_skills(rng, pools.get(other, []), int(rng.integers(1, 3)), pool_p.get(other)) if skill_key(x) not in {skill_key(y) for y in s}]
        s += [x for x in draw_skills(rng, lx.CROSS_SKILLS, int(rng.integers(0, 3)), None) if skill_key(x) not in {skill_key(y) for y in s}]
        skills.append(s)
    salary = expected_salaries(rng, roles, level, area)
    ids = np.array([f"r{i:06d}" for i in range(n)], dtype=object)
    return Profiles(ids, roles.astype(object), skills, level.astype(np.int64), area.astype(object), salary, np.zeros(n, bool))


def draw_vacancy_profiles(rng: np.random.Generator, n: int) -> Profiles:
    """Vacancies: role ~ Dirichlet(5)-weighted, level ~ (0.15, 0.45, 0.3, 0.1), a stack of 3-6 role
    skills plus 0-2 cross-role skills, area ~ lexicon.AREA_WEIGHTS, remote (IT 30 %, other 5 %)."""
    role_p = rng.dirichlet(np.full(len(lx.ROLES), 5.0))
    role_idx = rng.choice(len(lx.ROLES), size=n, p=role_p)
    level = rng.choice(4, size=n, p=[0.15, 0.45, 0.3, 0.1])
    area = np.array(lx.AREAS, dtype=object)[rng.choice(len(lx.AREAS), size=n, p=np.array(lx.AREA_WEIGHTS) / sum(lx.AREA_WEIGHTS))]
    skills = []
    for i in role_idx:
        s = draw_skills(rng, lx.ROLES[i].skills, int(rng.integers(3, 7)))
        s += draw_skills(rng, lx.CROSS_SKILLS, int(rng.choice(3, p=[0.5, 0.35, 0.15])), None)
        skills.append(s)
    remote = rng.random(n) < np.where([lx.ROLES[i].it for i in role_idx], 0.3, 0.05)
    roles = np.array([lx.ROLES[i].key for i in role_idx], dtype=object)
    salary = expected_salaries(rng, roles, level, area)
    ids = np.array([f"v{i:06d}" for i in range(n)], dtype=object)
    return Profiles(ids, roles, skills, level.astype(np.int64), area, salary, remote)

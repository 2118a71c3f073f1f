"""The synthetic market: hidden profiles -> Russian hh.ru-like documents -> utility -> exposure -> event log.

Profiles. Every vacancy v has a role r_v (one of `lexicon.ROLES`), a stack S_v (3-6 skills of
its role, popular ones likelier, plus 0-2 cross-role skills), a seniority level l_v in 0..3
(`dssm.schema.EXPERIENCE_LEVELS`), an area a_v, a remote flag and a true monthly salary
offer s_v (published in `salary_from/salary_to` for only part of the vacancies). Every
resume u has a role, a skill set S_u (drawn the same way, sometimes with skills of a near
role), a level, an area and an expected salary e_u.

Utility of a pair (u, v), the hidden ground truth:

    U(u, v) = w_role·[r_u = r_v] + w_near·[r_u ~ r_v] + w_skills·|S_u ∩ S_v| / |S_v|
              + w_seniority·(1 − |l_u − l_v| / 3) + w_area·[a_u = a_v or v remote]
              − w_salary·min(1, max(0, e_u / s_v − 1)) + σ·ε(u, v)

with ε(u, v) ~ N(0, 1) a deterministic function of (seed, resume id, vacancy id), so
`MarketUtility` gives the same value for any pair later (e.g. pairs a ranking shows in an
A/B replay). Within a role the skills term dominates: titles are shared across roles and
carry no stack, so a model must read the requirements to rank well.

Exposure (like search results): resume u gets N_u ~ Poisson(views_per_resume · g_u) views,
g_u ~ Gamma(2, 1/2) its activity; each view is a vacancy of u's role (restricted to u's area
with probability `area_filter`), of a near role, or uniform over the market, with
probabilities share_same_role / share_near_role / rest; repeated pairs are dropped. Then

    P(response | view)     = σ(response_scale · (U − response_offset))
    P(reply | response)    = employer_reply
    P(invite | reply)      = σ(invite_scale · (U − invite_offset))   (otherwise reject)

Views without a response are explicit negatives. Timestamps: vacancies are posted over the
`weeks`-long window, views fall between posting and the window's end, responses follow
views by Exp(6 h), replies follow responses by Exp(2 days), so a time split works.

Documents. A vacancy's description is HTML with one sentence per block: title (sentence 0),
employer boilerplate ("О компании", ~Poisson(intro_sentences · boilerplate) sentences), duties
(no skills), requirements (each stack skill named at least once), an optional stack line
(after the requirements or closing the vacancy), conditions (benefits) and a closing line; a
share `terse` of vacancies has no boilerplate and few benefits; with probability `conditions_first` the benefits
come before the duties, as in many hh.ru vacancies. Every block is exactly one sentence of
`dssm.text.document_sentences`, so truth/sentences.parquet indexes them exactly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dssm import schema
from dssm.errors import JobmatchError
from dssm.io import progress
from pipelines.synth import lexicon as lx

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
        for name in ("n_vacancies", "n_resumes"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < float(self.boilerplate) <= 50:
            raise ValueError(f"boilerplate must be in (0, 50], got {self.boilerplate}")
        for name in ("conditions_first", "stack_line", "stack_line_last", "terse", "share_same_role", "share_near_role", "area_filter", "employer_reply", "salary_published"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.share_same_role + self.share_near_role > 1.0:
            raise ValueError("share_same_role + share_near_role must be <= 1")
        for name in ("views_per_resume", "noise", "intro_sentences", "intro_sigma", "length_sigma", "duties_mean", "requirements_mean",
                     "conditions_mean", "unshown_pairs", "min_intro_words", "weeks"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if int(self.weeks) < 1:
            raise ValueError(f"weeks must be >= 1, got {self.weeks}")
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


# ----------------------------------------------------------------------------- profiles


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


def _popularity(n: int) -> np.ndarray:
    """Within-role skill popularity: p_k ∝ (k + 1)^-0.7 over the role's pool order."""
    w = (np.arange(n) + 1.0) ** -0.7
    return w / w.sum()


def draw_skills(rng: np.random.Generator, pool: tuple[str, ...] | list[str], k: int, p: np.ndarray | None = None) -> list[str]:
    """k distinct skills from `pool`, popular ones likelier (probabilities `p`, default `_popularity`)."""
    k = max(0, min(k, len(pool)))
    if k == 0:
        return []
    p = _popularity(len(pool)) if p is None else p
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


# ----------------------------------------------------------------------------- utility


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on uint64 arrays (a fixed bijection, for per-pair noise)."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)).astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _id_hash(ids: np.ndarray) -> np.ndarray:
    """Stable uint64 hash of string ids (FNV-1a over UTF-8), independent of Python's hash seed."""
    out = np.empty(len(ids), dtype=np.uint64)
    for k, s in enumerate(ids):
        h = 0xCBF29CE484222325
        for b in str(s).encode("utf-8"):
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        out[k] = h
    return out


def pair_noise(seed: int, resume_hash: np.ndarray, vacancy_hash: np.ndarray) -> np.ndarray:
    """(P,) standard normal ε(u, v), a deterministic function of (seed, resume id, vacancy id) (Box-Muller)."""
    with np.errstate(over="ignore"):
        a = _splitmix(resume_hash ^ _splitmix(np.full(len(resume_hash), seed, dtype=np.uint64)))
        b = _splitmix(a ^ vacancy_hash)
        c = _splitmix(b)
    u1 = ((b >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    u2 = ((c >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


class MarketUtility:
    """The hidden utility U(u, v) of the module docstring for any (resume_id, vacancy_id) pairs.

    >>> U = MarketUtility.load("runs/market")  # doctest: +SKIP
    >>> U(np.array(["r000001"]), np.array(["v000042"]))  # doctest: +SKIP
    array([3.1])
    """

    def __init__(self, vacancies: Profiles, resumes: Profiles, cfg: SynthConfig):
        self.cfg = cfg
        self.v, self.r = vacancies, resumes
        self.v_pos = {s: i for i, s in enumerate(vacancies.ids)}
        self.r_pos = {s: i for i, s in enumerate(resumes.ids)}
        vocab: dict[str, int] = {}
        self.V = self._matrix(vacancies.skills, vocab)  # (NV, S) 0/1
        self.R = self._matrix(resumes.skills, vocab)  # (NR, S) 0/1
        cols = len(vocab)
        self.V.resize((self.V.shape[0], cols))
        self.R.resize((self.R.shape[0], cols))
        self.v_size = np.maximum(np.asarray(self.V.sum(axis=1)).ravel(), 1.0)  # (NV,)
        self.v_hash = _id_hash(vacancies.ids)
        self.r_hash = _id_hash(resumes.ids)

    @staticmethod
    def _matrix(skills: list[list[str]], vocab: dict[str, int]) -> sp.csr_matrix:
        rows, cols = [], []
        for i, s in enumerate(skills):
            for k in {skill_key(x) for x in s}:
                rows.append(i)
                cols.append(vocab.setdefault(k, len(vocab)))
        return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(skills), max(len(vocab), 1)))

    def indices(self, resume_ids: np.ndarray, vacancy_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ids -> positions; JobmatchError naming the first unknown id."""
        try:
            ri = np.fromiter((self.r_pos[str(x)] for x in resume_ids), dtype=np.int64, count=len(resume_ids))
            vi = np.fromiter((self.v_pos[str(x)] for x in vacancy_ids), dtype=np.int64, count=len(vacancy_ids))
        except KeyError as e:
            raise JobmatchError(f"utility: unknown id {e.args[0]!r} (not in this market's profiles)") from None
        return ri, vi

    def components(self, ri: np.ndarray, vi: np.ndarray) -> dict[str, np.ndarray]:
        """(P,) arrays of each utility term's raw value for aligned positions ri, vi."""
        rr, vr = self.r.role[ri], self.v.role[vi]
        same = (rr == vr) & (vr != OTHER_ROLE)
        near = np.fromiter(((a, b) in NEAR for a, b in zip(rr, vr)), dtype=bool, count=len(ri)) | ((rr == vr) & (vr == OTHER_ROLE))
        overlap = np.asarray(self.R[ri].multiply(self.V[vi]).sum(axis=1)).ravel() / self.v_size[vi]  # (P,)
        seniority = 1.0 - np.abs(self.r.seniority[ri] - self.v.seniority[vi]) / 3.0
        area = (self.r.area[ri] == self.v.area[vi]) | self.v.remote[vi]
        excess = np.clip(self.r.salary[ri] / np.maximum(self.v.salary[vi], 1.0) - 1.0, 0.0, 1.0)
        noise = pair_noise(int(self.cfg.seed), self.r_hash[ri], self.v_hash[vi])
        return {"role": same.astype(float), "near": near.astype(float), "skill_overlap": overlap, "seniority": seniority,
                "area": area.astype(float), "salary_excess": excess, "noise": noise}

    def at(self, ri: np.ndarray, vi: np.ndarray) -> np.ndarray:
        """(P,) utilities of aligned positions."""
        c, w = self.components(ri, vi), self.cfg
        return (w.w_role * c["role"] + w.w_near * c["near"] + w.w_skills * c["skill_overlap"] + w.w_seniority * c["seniority"]
                + w.w_area * c["area"] - w.w_salary * c["salary_excess"] + w.noise * c["noise"])

    def __call__(self, resume_ids: np.ndarray, vacancy_ids: np.ndarray) -> np.ndarray:
        """(P,) utilities of aligned id arrays (the `UtilityFn` contract of `pipelines.ab_simulate`)."""
        return self.at(*self.indices(np.asarray(resume_ids), np.asarray(vacancy_ids)))

    @classmethod
    def load(cls, root: str | Path) -> MarketUtility:
        """From a market folder's truth/ (profiles + config.yaml)."""
        from dssm.io import load_config

        truth = Path(root) / TRUTH_DIR
        for name in (VACANCY_PROFILES, RESUME_PROFILES, CONFIG_FILE):
            if not (truth / name).is_file():
                raise JobmatchError(f"{truth / name}: missing; not a market written by `jobmatch synth`")
        cfg = load_config(SynthConfig, truth / CONFIG_FILE)
        v = Profiles.from_frame(pd.read_parquet(truth / VACANCY_PROFILES), schema.VACANCY_ID)
        r = Profiles.from_frame(pd.read_parquet(truth / RESUME_PROFILES), schema.RESUME_ID)
        return cls(v, r, cfg)


TRUTH_DIR = "truth"
VACANCY_PROFILES = "vacancy_profiles.parquet"
RESUME_PROFILES = "resume_profiles.parquet"
SENTENCES_FILE = "sentences.parquet"
UTILITY_FILE = "utility.parquet"
CONFIG_FILE = "config.yaml"


# ----------------------------------------------------------------------------- exposure


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _groups(keys: np.ndarray) -> tuple[dict[Any, int], np.ndarray, np.ndarray, np.ndarray]:
    """Stable grouping: key -> group id, order (positions sorted by group), group start, group count."""
    uniq, inv = np.unique(keys.astype(str), return_inverse=True)
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv, minlength=len(uniq))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return {k: i for i, k in enumerate(uniq)}, order, starts, counts


def _pick(rng: np.random.Generator, group: np.ndarray, order: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """For each entry of `group` (ids of non-empty groups) one uniform member position."""
    return order[starts[group] + np.floor(rng.random(len(group)) * counts[group]).astype(np.int64)]


def simulate_views(rng: np.random.Generator, vac: Profiles, res: Profiles, cfg: SynthConfig) -> tuple[np.ndarray, np.ndarray]:
    """(ri, vi) of the distinct shown pairs drawn by the exposure model (module docstring)."""
    nv, nr = len(vac.ids), len(res.ids)
    activity = rng.gamma(2.0, 0.5, size=nr)
    n_views = rng.poisson(cfg.views_per_resume * activity)  # (NR,)
    ri = np.repeat(np.arange(nr), n_views)  # (P,)
    source = rng.choice(3, size=len(ri), p=[cfg.share_same_role, cfg.share_near_role, 1.0 - cfg.share_same_role - cfg.share_near_role])
    vi = rng.integers(0, nv, size=len(ri))  # uniform views; overwritten below for the search-like ones

    role_id, r_order, r_starts, r_counts = _groups(vac.role)
    res_role = np.array([role_id.get(str(r), -1) for r in res.role])
    same = (source == 0) & (res_role[ri] >= 0)
    area_key = np.array([f"{r}\x00{a}" for r, a in zip(vac.role, vac.area)], dtype=object)
    ra_id, ra_order, ra_starts, ra_counts = _groups(area_key)
    res_ra = np.array([ra_id.get(f"{r}\x00{a}", -1) for r, a in zip(res.role, res.area)])
    by_area = same & (rng.random(len(ri)) < cfg.area_filter) & (res_ra[ri] >= 0)
    vi[by_area] = _pick(rng, res_ra[ri[by_area]], ra_order, ra_starts, ra_counts)
    by_role = same & ~by_area
    vi[by_role] = _pick(rng, res_role[ri[by_role]], r_order, r_starts, r_counts)

    near_lists = {k: sorted(role_id[b] for (a, b) in NEAR if a == k and b in role_id) for k in role_id}
    near_lists[OTHER_ROLE] = near_lists.get(OTHER_ROLE, [])
    near_idx = np.flatnonzero(source == 1)
    choices = [near_lists.get(str(res.role[r]), []) for r in ri[near_idx]]
    has = np.fromiter((len(c) > 0 for c in choices), dtype=bool, count=len(choices))
    u = rng.random(len(near_idx))
    target = np.array([c[int(x * len(c))] if c else -1 for c, x in zip(choices, u)], dtype=np.int64)
    sel = near_idx[has]
    vi[sel] = _pick(rng, target[has], r_order, r_starts, r_counts)

    pair = ri.astype(np.int64) * nv + vi
    _, first = np.unique(pair, return_index=True)
    first.sort()
    return ri[first], vi[first]


def simulate_interactions(rng: np.random.Generator, vac: Profiles, res: Profiles, posted: np.ndarray, cfg: SynthConfig,
                          utility: MarketUtility) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Event log (resume_id, vacancy_id, event, ts; sorted by ts) and the shown pairs' utility table."""
    ri, vi = simulate_views(rng, vac, res, cfg)
    u = utility.at(ri, vi)  # (P,)
    p_resp = _sigmoid(cfg.response_scale * (u - cfg.response_offset))
    responded = rng.random(len(u)) < p_resp
    replied = responded & (rng.random(len(u)) < cfg.employer_reply)
    invited = replied & (rng.random(len(u)) < _sigmoid(cfg.invite_scale * (u - cfg.invite_offset)))
    rejected = replied & ~invited

    start = pd.Timestamp(cfg.start).value // 1000  # microseconds
    end = start + int(cfg.weeks) * 7 * 86400 * 10**6
    t0 = np.maximum(posted[vi], start)
    t_view = t0 + (rng.random(len(u)) * (end - t0)).astype(np.int64)
    t_resp = t_view + (rng.exponential(6 * 3600, size=len(u)) * 1e6).astype(np.int64)
    t_reply = t_resp + (rng.exponential(2 * 86400, size=len(u)) * 1e6).astype(np.int64)

    parts = [(np.ones(len(u), bool), "view", t_view), (responded, "response", t_resp), (invited, "invite", t_reply), (rejected, "reject", t_reply)]
    r_ids = np.concatenate([ri[m] for m, _, _ in parts])
    v_ids = np.concatenate([vi[m] for m, _, _ in parts])
    events = np.concatenate([np.full(int(m.sum()), e, dtype=object) for m, e, _ in parts])
    ts = np.concatenate([t[m] for m, _, t in parts])
    order = np.lexsort((np.concatenate([np.full(int(m.sum()), k) for k, (m, _, _) in enumerate(parts)]), ts))
    log = pd.DataFrame(
        {
            schema.RESUME_ID: res.ids[r_ids[order]].astype(str),
            schema.VACANCY_ID: vac.ids[v_ids[order]].astype(str),
            schema.EVENT: events[order].astype(str),
            schema.TS: pd.to_datetime(ts[order], unit="us"),
        }
    )
    n_unshown = int(round(cfg.unshown_pairs * len(u)))
    ur = rng.integers(0, len(res.ids), size=n_unshown)
    uv = rng.integers(0, len(vac.ids), size=n_unshown)
    shown_keys = set((ri.astype(np.int64) * len(vac.ids) + vi).tolist())
    keep = np.fromiter((int(a) * len(vac.ids) + int(b) not in shown_keys for a, b in zip(ur, uv)), dtype=bool, count=n_unshown)
    ur, uv = ur[keep], uv[keep]
    _, first = np.unique(ur.astype(np.int64) * len(vac.ids) + uv, return_index=True)
    ur, uv = ur[np.sort(first)], uv[np.sort(first)]
    all_r, all_v = np.concatenate([ri, ur]), np.concatenate([vi, uv])
    comp = utility.components(all_r, all_v)
    util = pd.DataFrame(
        {
            schema.RESUME_ID: res.ids[all_r].astype(str),
            schema.VACANCY_ID: vac.ids[all_v].astype(str),
            "utility": np.concatenate([u, utility.at(ur, uv)]),
            "shown": np.concatenate([np.ones(len(ri), bool), np.zeros(len(ur), bool)]),
            "p_response": np.concatenate([p_resp, _sigmoid(cfg.response_scale * (utility.at(ur, uv) - cfg.response_offset))]),
            "same_role": comp["role"].astype(bool),
            "skill_overlap": comp["skill_overlap"],
        }
    )
    return log, util


# ----------------------------------------------------------------------------- documents


class Doc:
    """A document under construction: HTML blocks and the truth (section, sentence) list, in reading order.

    Every block holds exactly one sentence; `html_to_text` renders a list item as "- item",
    so the truth text of a list item carries that prefix.
    """

    def __init__(self, title: str):
        self.html: list[str] = []
        self.sentences: list[tuple[str, str]] = [("title", title)]
        self.words = len(title.split())

    def p(self, section: str, text: str) -> None:
        self.html.append(f"<p>{_esc(text)}</p>")
        self.sentences.append((section, text))
        self.words += len(text.split())

    def heading(self, text: str, tail: str = "", section: str = "heading") -> None:
        self.html.append(f"<p><strong>{_esc(text)}</strong>{' ' + _esc(tail) if tail else ''}</p>")
        self.sentences.append((section, f"{text} {tail}" if tail else text))
        self.words += len(text.split()) + len(tail.split())

    def ul(self, section: str, items: list[str]) -> None:
        self.html.append("<ul>" + "".join(f"<li>{_esc(t)}</li>" for t in items) + "</ul>")
        self.sentences.extend((section, f"- {t}") for t in items)
        self.words += sum(len(t.split()) for t in items)


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _choice(rng: np.random.Generator, seq: tuple | list) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _sample(rng: np.random.Generator, seq: tuple | list, k: int) -> list:
    k = max(0, min(k, len(seq)))
    return [seq[i] for i in rng.choice(len(seq), size=k, replace=False)] if k else []


def _fill(rng: np.random.Generator, template: str, company: str, industry: str) -> str:
    return template.format(company=company, industry=industry, years=int(rng.integers(5, 31)), people=int(rng.integers(2, 60)) * 100,
                           cities=int(rng.integers(5, 80)), year=int(rng.integers(2015, 2024)))


def vacancy_title(rng: np.random.Generator, role: lx.Role, level: int) -> str:
    """A (deliberately ambiguous) title: one of the role's titles, often shared, with a seniority prefix sometimes."""
    title = _choice(rng, role.titles)
    prefix = _choice(rng, lx.SENIORITY_PREFIX[level]) if rng.random() < 0.5 else ""
    return with_prefix(prefix, title)


def with_prefix(prefix: str, title: str) -> str:
    """'Ведущий' + 'Бухгалтер' -> 'Ведущий бухгалтер'; 'Senior' + 'Java-разработчик' -> 'Senior Java-разработчик'."""
    if not prefix:
        return title
    if len(title) > 1 and "А" <= title[0] <= "Я" and title[1].islower():
        title = title[0].lower() + title[1:]
    return f"{prefix} {title}"


def vacancy_document(rng: np.random.Generator, role: lx.Role, level: int, stack: list[str], cfg: SynthConfig) -> tuple[str, str, list[tuple[str, str]]]:
    """(title, HTML description, [(section, sentence)]) of one vacancy (layout in the module docstring)."""
    title = vacancy_title(rng, role, level)
    company = f"{_choice(rng, lx.COMPANY_PREFIX)} «{_choice(rng, lx.COMPANY_STEMS)}»"
    industry = _choice(rng, lx.INDUSTRIES)
    doc = Doc(title)
    z = rng.lognormal(0.0, cfg.length_sigma)
    n_intro = rng.poisson(cfg.intro_sentences * cfg.boilerplate * rng.lognormal(0.0, cfg.intro_sigma))
    terse = rng.random() < cfg.terse
    n_conditions = int(rng.integers(0, 3)) if terse else 1 + int(rng.poisson(cfg.conditions_mean * z))
    conditions = _sample(rng, lx.CONDITIONS, n_conditions)
    if terse:
        n_intro, z = 0, min(z, 1.0)
    if n_intro or cfg.min_intro_words:
        doc.heading(_choice(rng, lx.BOILERPLATE_HEADINGS))
        pool = list(rng.permutation(len(lx.BOILERPLATE)))
        k = 0
        while k < n_intro or doc.words < cfg.min_intro_words:
            if not pool:
                pool = list(rng.permutation(len(lx.BOILERPLATE)))
            doc.p("boilerplate", _fill(rng, lx.BOILERPLATE[pool.pop()], company, industry))
            k += 1
    first = rng.random() < cfg.conditions_first and bool(conditions)
    if first:
        doc.heading(_choice(rng, lx.CONDITIONS_HEADINGS), section="conditions")
        doc.ul("conditions", conditions)
    doc.heading(_choice(rng, lx.DUTIES_HEADINGS))
    n_duties = 2 + int(rng.poisson(cfg.duties_mean * z))
    duties = [d + ";" for d in _sample(rng, role.duties, n_duties)]
    doc.ul("duties", duties + _sample(rng, lx.GENERIC_DUTIES, n_duties - len(duties)))
    doc.heading(_choice(rng, lx.REQUIREMENTS_HEADINGS))
    reqs, todo = [], list(stack)
    while todo:
        t = _choice(rng, lx.REQUIREMENT_SKILL)
        s1 = todo.pop(0)
        s2 = todo.pop(0) if "{skill2}" in t and todo else None
        if "{skill2}" in t and s2 is None:
            t = lx.REQUIREMENT_SKILL[0]
        reqs.append(t.format(skill=s1, skill2=s2, years=int(rng.integers(1, 4)) + level))
    reqs += [t.format(years=level + 1) for t in _sample(rng, lx.REQUIREMENT_GENERIC, 0 if terse else int(rng.poisson(cfg.requirements_mean * z)))]
    doc.ul("requirements", [reqs[i] for i in rng.permutation(len(reqs))])
    stack_line = not terse and rng.random() < cfg.stack_line
    last = rng.random() < cfg.stack_line_last
    if stack_line and not last:
        doc.heading(_choice(rng, lx.SKILLS_HEADINGS), ", ".join(stack) + ".", section="skills")
    if not first and conditions:
        doc.heading(_choice(rng, lx.CONDITIONS_HEADINGS), section="conditions")
        doc.ul("conditions", conditions)
    if not terse and rng.random() < 0.5:
        doc.p("boilerplate", _choice(rng, lx.CLOSING))
    if stack_line and last:
        doc.heading(_choice(rng, lx.SKILLS_HEADINGS), ", ".join(stack) + ".", section="skills")
    return title, "".join(doc.html), doc.sentences


def resume_document(rng: np.random.Generator, title: str, duties: tuple[str, ...], level: int, years: float, skills: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """(plain text, [(section, sentence)]) of one resume: about, experience entries (duties, skill lines,
    achievements), key skills line, education. One sentence per line."""
    lines: list[tuple[str, str]] = [("about", s) for s in _sample(rng, lx.RESUME_ABOUT, int(rng.integers(1, 3)))]
    n_jobs = 1 + min(3, int(years // 3)) if years >= 0.5 else 0
    end_year = 2024
    mentioned = list(skills)
    rng.shuffle(mentioned)
    per_job = [mentioned[i::max(n_jobs, 1)] for i in range(max(n_jobs, 1))]
    for j in range(n_jobs):
        span = max(1, int(round(years / n_jobs)))
        lines.append(("heading", f"Опыт работы: {_choice(rng, lx.COMPANY_PREFIX)} «{_choice(rng, lx.COMPANY_STEMS)}», {title}, {end_year - span}–{end_year} годы."))
        end_year -= span
        for d in _sample(rng, duties, int(rng.integers(2, 4))):
            lines.append(("experience", f"{_choice(rng, lx.RESUME_DUTY_PREFIX)} {d}."))
        js = list(per_job[j])
        while js:
            t = _choice(rng, lx.RESUME_SKILL_LINES)
            need = t.count("{skill")
            take, js = js[:need], js[need:]
            if len(take) < need:
                t = lx.RESUME_SKILL_LINES[1]
                take = take[:1]
            lines.append(("experience", t.format(**{k: v for k, v in zip(("skill", "skill2", "skill3"), take)})))
        if rng.random() < 0.6:
            lines.append(("experience", _choice(rng, lx.RESUME_ACHIEVEMENTS).format(pct=int(rng.integers(10, 60)), people=int(rng.integers(2, 12)))))
    if n_jobs == 0 and skills:
        lines.append(("experience", f"Изучал самостоятельно: {', '.join(skills)}."))
    if skills:
        lines.append(("skills", f"Ключевые навыки: {', '.join(skills)}."))
    lines.append(("education", f"Образование: {_choice(rng, lx.UNIVERSITIES)}, {_choice(rng, lx.FACULTIES)}, выпуск {int(rng.integers(2000, 2024))} года."))
    return "\n".join(t for _, t in lines), lines


def resume_title(rng: np.random.Generator, role_key: str, level: int, fallback_titles: dict[str, list[str]] | None = None) -> str:
    """Desired position: the role's name or one of its titles, sometimes with a seniority prefix."""
    i = lx.ROLE_INDEX.get(role_key)
    if i is None:
        titles = (fallback_titles or {}).get(role_key) or ["Специалист"]
        return _choice(rng, titles)
    role = lx.ROLES[i]
    base = role.name if rng.random() < 0.6 else _choice(rng, role.titles)
    prefix = _choice(rng, lx.SENIORITY_PREFIX[level]) if rng.random() < 0.3 else ""
    return with_prefix(prefix, base)


def resume_frames(rng: np.random.Generator, res: Profiles, cfg: SynthConfig, fallback_titles: dict[str, list[str]] | None = None,
                  fallback_duties: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[tuple[str, int, str, str]]]:
    """Resumes frame in the contract + truth sentence rows (doc_id, sent_idx, section, text)."""
    start = pd.Timestamp(cfg.start).value // 1000
    rows, truth = [], []
    for k in progress(range(len(res.ids)), desc="resumes", unit="doc"):
        lv = int(res.seniority[k])
        lo, hi = lx.SENIORITY_YEARS[lv]
        years = float(np.round(rng.uniform(lo, hi), 1))
        role_key = str(res.role[k])
        i = lx.ROLE_INDEX.get(role_key)
        duties = lx.ROLES[i].duties if i is not None else (fallback_duties or lx.ROLES[lx.ROLE_INDEX["support"]].duties)
        title = resume_title(rng, role_key, lv, fallback_titles)
        text, sents = resume_document(rng, title, duties, lv, years, res.skills[k])
        rows.append((res.ids[k], title, text, list(res.skills[k]), res.area[k], float(res.salary[k]), "RUR", years,
                     start - int(rng.integers(0, 28 * 86400)) * 10**6))
        truth.extend((res.ids[k], j, sec, s) for j, (sec, s) in enumerate([("title", title), *sents]))
    df = pd.DataFrame(rows, columns=[schema.RESUME_ID, "title", "text", "skills", "area", "salary", "currency", "experience_years", "updated_at"])
    df["updated_at"] = pd.to_datetime(df["updated_at"], unit="us")
    return df, truth


# ----------------------------------------------------------------------------- the whole market


@dataclass
class Market:
    """A generated market: contract tables plus ground truth."""

    vacancies: pd.DataFrame
    resumes: pd.DataFrame
    interactions: pd.DataFrame
    sentences: pd.DataFrame
    """doc_id, kind (vacancies/resumes), sent_idx, section, text."""
    utility: pd.DataFrame
    """resume_id, vacancy_id, utility, shown, p_response, same_role, skill_overlap."""
    vacancy_profiles: pd.DataFrame
    resume_profiles: pd.DataFrame
    config: SynthConfig
    meta: dict[str, Any] = field(default_factory=dict)


def sentence_frame(rows: list[tuple[str, int, str, str]], kind: str) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["doc_id", "sent_idx", "section", "text"])
    df.insert(1, "kind", kind)
    df["sent_idx"] = df["sent_idx"].astype(np.int64)
    return df


def generate_market(cfg: SynthConfig) -> Market:
    """A fully synthetic market (module docstring), deterministic in `cfg`."""
    rng = np.random.default_rng(int(cfg.seed))
    vac = draw_vacancy_profiles(rng, int(cfg.n_vacancies))
    start = pd.Timestamp(cfg.start).value // 1000
    span = int(cfg.weeks) * 7 * 86400 * 10**6
    posted = start - 7 * 86400 * 10**6 + (rng.random(len(vac.ids)) * span).astype(np.int64)
    rows, truth = [], []
    for k in progress(range(len(vac.ids)), desc="vacancies", unit="doc"):
        role = lx.ROLES[lx.ROLE_INDEX[vac.role[k]]]
        lv = int(vac.seniority[k])
        title, html, sents = vacancy_document(rng, role, lv, vac.skills[k], cfg)
        published = rng.random() < cfg.salary_published
        s = float(vac.salary[k])
        lo, hi = (np.round(s * 0.85, -3), np.round(s * 1.15, -3)) if published else (np.nan, np.nan)
        if published and rng.random() < 0.3:
            hi = np.nan
        schedule = "remote" if vac.remote[k] else _choice(rng, ("fullDay", "fullDay", "flexible", "shift"))
        rows.append((vac.ids[k], title, html, list(vac.skills[k]), vac.area[k], role.name, schema.EXPERIENCE_LEVELS[lv],
                     "full" if rng.random() < 0.9 else "part", schedule, lo, hi, "RUR" if published else None, int(posted[k])))
        truth.extend((vac.ids[k], j, sec, t) for j, (sec, t) in enumerate(sents))
    vacancies = pd.DataFrame(rows, columns=[schema.VACANCY_ID, "title", "description", "skills", "area", "professional_role", "experience",
                                            "employment", "schedule", "salary_from", "salary_to", "currency", "updated_at"])
    vacancies["updated_at"] = pd.to_datetime(vacancies["updated_at"], unit="us")
    vacancies["salary_from"] = vacancies["salary_from"].astype("float64")
    vacancies["salary_to"] = vacancies["salary_to"].astype("float64")

    role_keys = np.array([r.key for r in lx.ROLES], dtype=object)
    counts = pd.Series(vac.role).value_counts()
    role_p = np.array([counts.get(k, 0) for k in role_keys], dtype=float) + 1.0
    pools = {r.key: list(r.skills) for r in lx.ROLES}
    pool_p = {r.key: _popularity(len(r.skills)) for r in lx.ROLES}
    area_p = np.array(lx.AREA_WEIGHTS) / sum(lx.AREA_WEIGHTS)
    res = draw_resume_profiles(rng, int(cfg.n_resumes), role_keys, role_p / role_p.sum(), pools, pool_p, np.array(lx.AREAS, dtype=object), area_p)
    resumes, rtruth = resume_frames(rng, res, cfg)
    utility = MarketUtility(vac, res, cfg)
    log, util = simulate_interactions(rng, vac, res, posted, cfg, utility)
    sentences = pd.concat([sentence_frame(truth, "vacancies"), sentence_frame(rtruth, "resumes")], ignore_index=True)
    return Market(vacancies, resumes, log, sentences, util, vac.frame(schema.VACANCY_ID), res.frame(schema.RESUME_ID), cfg)


def market_summary(m: Market) -> dict[str, Any]:
    """Counts and rates of a market: documents, events by type, positive share, mean utility of positives vs other views."""
    ev = m.interactions[schema.EVENT].value_counts()
    n = len(m.interactions)
    pos = int(ev.get("response", 0) + ev.get("invite", 0))
    shown = m.utility[m.utility["shown"]]
    responded = m.interactions.loc[m.interactions[schema.EVENT] == "response", [schema.RESUME_ID, schema.VACANCY_ID]]
    key = shown[schema.RESUME_ID] + "\x00" + shown[schema.VACANCY_ID]
    is_pos = key.isin(set(responded[schema.RESUME_ID] + "\x00" + responded[schema.VACANCY_ID]))
    return {
        "vacancies": len(m.vacancies),
        "resumes": len(m.resumes),
        "events": n,
        "by_event": {k: int(ev.get(k, 0)) for k in schema.EVENTS},
        "positive_share": pos / n if n else math.nan,
        "response_rate": float(is_pos.mean()) if len(is_pos) else math.nan,
        "utility_responded": float(shown.loc[is_pos.to_numpy(), "utility"].mean()) if is_pos.any() else math.nan,
        "utility_not_responded": float(shown.loc[~is_pos.to_numpy(), "utility"].mean()) if (~is_pos).any() else math.nan,
        "skill_overlap_responded": float(shown.loc[is_pos.to_numpy(), "skill_overlap"].mean()) if is_pos.any() else math.nan,
        "skill_overlap_unshown": float(m.utility.loc[~m.utility["shown"], "skill_overlap"].mean()) if (~m.utility["shown"]).any() else math.nan,
        "sentences": len(m.sentences),
        **m.meta,
    }


def write_market(root: str | Path, m: Market) -> dict[str, Any]:
    """Validate and write the contract tables (pipelines.dataset.write_dataset) and truth/ atomically; returns the summary."""
    from dssm.io import save_config, write_parquet
    from pipelines.dataset import write_dataset

    root = Path(root)
    write_dataset(root, m.vacancies, m.resumes, m.interactions)
    truth = root / TRUTH_DIR
    write_parquet(truth / SENTENCES_FILE, m.sentences)
    write_parquet(truth / UTILITY_FILE, m.utility)
    write_parquet(truth / VACANCY_PROFILES, m.vacancy_profiles)
    write_parquet(truth / RESUME_PROFILES, m.resume_profiles)
    summary = market_summary(m)
    save_config(m.config, truth / CONFIG_FILE, extra={"summary": summary})
    return summary


def config_with(cfg: SynthConfig, **changes: Any) -> SynthConfig:
    """A copy of `cfg` with `changes`, validated."""
    return dataclasses.replace(cfg, **changes)

"""The hidden utility of a (resume, vacancy) pair: the market's ground truth.

Utility of a pair (u, v), the hidden ground truth:

    U(u, v) = w_role·[r_u = r_v] + w_near·[r_u ~ r_v] + w_skills·|S_u ∩ S_v| / |S_v|
              + w_seniority·(1 − |l_u − l_v| / 3) + w_area·[a_u = a_v or v remote]
              − w_salary·min(1, max(0, e_u / s_v − 1)) + σ·ε(u, v)

with ε(u, v) ~ N(0, 1) a deterministic function of (seed, resume id, vacancy id), so
`MarketUtility` gives the same value for any pair later (e.g. pairs a ranking shows in an
A/B replay). Within a role the skills term dominates: titles are shared across roles and
carry no stack, so a model must read the requirements to rank well.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from dssm import schema
from dssm.errors import JobmatchError

from pipelines.data.synth.config import (
    CONFIG_FILE,
    OTHER_ROLE,
    RESUME_PROFILES,
    TRUTH_DIR,
    VACANCY_PROFILES,
    SynthConfig,
)
from pipelines.data.synth.profiles import NEAR, Profiles, skill_key


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
        """(P,) utilities of aligned id arrays (the `UtilityFn` contract of `pipelines.evaluation.ab.simulate`)."""
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

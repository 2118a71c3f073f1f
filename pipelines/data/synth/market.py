"""The whole synthetic market: hidden profiles -> Russian hh.ru-like documents -> utility -> exposure -> event log.

Its parts, along the generation order: `config` (SynthConfig, presets), `profiles` (who is
who), `text` (the documents), `utility` (the hidden U(u, v)), `exposure` (views, then
responses, replies and invites). This module draws them together (`generate_market`) and
writes the contract tables plus their ground truth (`write_market`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dssm import schema
from dssm.io import progress

from pipelines.data.synth import lexicon as lx
from pipelines.data.synth.config import (
    CONFIG_FILE,
    RESUME_PROFILES,
    SENTENCES_FILE,
    TRUTH_DIR,
    UTILITY_FILE,
    VACANCY_PROFILES,
    SynthConfig,
)
from pipelines.data.synth.exposure import simulate_interactions
from pipelines.data.synth.profiles import (
    draw_resume_profiles,
    draw_vacancy_profiles,
    popularity,
)
from pipelines.data.synth.text import choice, resume_frames, vacancy_document
from pipelines.data.synth.utility import MarketUtility


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
        schedule = "remote" if vac.remote[k] else choice(rng, ("fullDay", "fullDay", "flexible", "shift"))
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
    pool_p = {r.key: popularity(len(r.skills)) for r in lx.ROLES}
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
    """Validate and write the contract tables (pipelines.data.dataset.write_dataset) and truth/ atomically; returns the summary."""
    from dssm.io import atomic_path, save_config, write_parquet

    from pipelines.data.dataset import write_dataset

    summary = market_summary(m)
    with atomic_path(root) as tmp:
        write_dataset(tmp, m.vacancies, m.resumes, m.interactions)
        truth = tmp / TRUTH_DIR
        write_parquet(truth / SENTENCES_FILE, m.sentences)
        write_parquet(truth / UTILITY_FILE, m.utility)
        write_parquet(truth / VACANCY_PROFILES, m.vacancy_profiles)
        write_parquet(truth / RESUME_PROFILES, m.resume_profiles)
        save_config(m.config, truth / CONFIG_FILE, extra={"summary": summary})
    return summary

"""Semi-synthetic market: real vacancies kept verbatim, hidden profiles derived from them, resumes and
interactions simulated against those profiles with the same utility and exposure model.

Derived vacancy profile (documented rule, no learning):

* role: the first keyword rule of `ROLE_RULES` matching the lowercased title (then the
  `professional_role`); nothing matches -> "other";
* skills: the vacancy's `skills` column ∪ every lexicon skill (`lexicon.ROLES` pools and
  `CROSS_SKILLS`) found in its title or description (case-insensitive, not inside a longer word);
* seniority: index of `experience` in `dssm.schema.EXPERIENCE_LEVELS` (unknown -> 1);
* area: `area` (unknown -> "unknown"); remote: `schedule == "remote"`;
* salary: mean of the published bounds converted to roubles (`RATES`), else the role's median
  × seniority factor × area factor.

Resumes take roles in the proportions of the real vacancies' roles, and skills from the skills
seen in real vacancies of their role (frequency-weighted), so the utility's skill term links
resumes to the real vacancies' content.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from dssm import schema
from dssm.errors import DataError
from dssm.text import html_to_text

from pipelines.data.synth import lexicon as lx
from pipelines.data.synth.config import OTHER_ROLE, SynthConfig
from pipelines.data.synth.exposure import simulate_interactions
from pipelines.data.synth.market import Market, sentence_frame
from pipelines.data.synth.profiles import Profiles, draw_resume_profiles, expected_salaries, skill_key
from pipelines.data.synth.text import resume_frames
from pipelines.data.synth.utility import MarketUtility
from summarizer.oracle import skill_pattern

ROLE_RULES: tuple[tuple[str, str], ...] = (
    (r"1с|1c", "onec"),
    (r"java(?!script)|kotlin.*backend", "java"),
    (r"python|django|питон", "python"),
    (r"golang|\bgo\b|go-", "go"),
    (r"php|битрикс|bitrix", "php"),
    (r"c#|\.net|дотнет", "csharp"),
    (r"android", "kotlin_android"),
    (r"ios|swift|мобильн", "mobile"),
    (r"front|фронт|react|vue|angular|javascript|верстальщик|веб-разработчик", "frontend"),
    (r"data scien|machine learning|ml|машинн|нейросет|cv-|nlp", "data_scientist"),
    (r"data engineer|инженер данных|etl|dwh|хранилищ|big data", "data_engineer"),
    (r"devops|sre|kubernetes|девопс|cloud", "devops"),
    (r"безопасност|security|защит|пентест", "infosec"),
    (r"тестиров|qa\b|qa |test", "qa"),
    (r"аналитик данных|data analyst|bi-|bi |продуктовый аналитик|аналитик dwh", "data_analyst"),
    (r"системн\w* аналитик|бизнес-аналитик|бизнес аналитик|business analyst|system analyst", "business_analyst"),
    (r"администратор|сетев|инженер по сетям|системный инженер|техническ\w* поддерж|helpdesk|support", "sysadmin"),
    (r"product|продукт|проект|project|scrum|delivery", "product"),
    (r"дизайн|design|ux|ui", "designer"),
    (r"бухгалтер|accountant", "accountant"),
    (r"экономист|финанс", "economist"),
    (r"продаж|sales|торгов|клиент", "sales"),
    (r"маркетолог|маркетинг|smm|seo|marketing", "marketer"),
    (r"hr|рекрут|персонал|кадр", "hr"),
    (r"юрист|юрисконсульт|правов|lawyer", "lawyer"),
    (r"конструктор|проектировщик|технолог|инженер|механик|электрик|энергетик", "engineer"),
    (r"логист|склад|закуп|водител|экспедитор", "logistics"),
    (r"оператор|call|колл|контакт-центр", "support"),
    (r"разработчик|программист|developer|engineer", "python"),
    (r"аналитик|analyst", "data_analyst"),
)
"""(regex on the lowercased title / professional_role, role key), first match wins; else "other"."""
_RULES = [(re.compile(p), k) for p, k in ROLE_RULES]

RATES = {"RUR": 1.0, "BYR": 28.0, "USD": 90.0, "EUR": 98.0, "KZT": 0.19, "UAH": 2.3}
"""Roubles per unit of each contract currency (approximate 2023 rates) for the salary fit."""


def role_of(title: object, professional_role: object = None) -> str:
    """Role key of a real vacancy by `ROLE_RULES` (title first, then professional_role), else "other"."""
    for text in (title, professional_role):
        if not isinstance(text, str) or not text.strip():
            continue
        low = text.lower()
        for pat, key in _RULES:
            if pat.search(low):
                return key
    return OTHER_ROLE


def _lexicon_pattern() -> tuple[dict[str, str], re.Pattern]:
    skills = sorted({s for r in lx.ROLES for s in r.skills} | set(lx.CROSS_SKILLS), key=lambda x: (-len(x), x))
    return {s.lower(): s for s in skills}, skill_pattern(skills)


LEXICON_DISPLAY, LEXICON_PATTERN = _lexicon_pattern()


def find_skills(text: str) -> list[str]:
    """Lexicon skills named in `text` (case-insensitive, whole words; one scan, longest name first,
    so "Spring Boot" is found as itself, not also as "Spring"), sorted."""
    return sorted({LEXICON_DISPLAY[m.group(1)] for m in LEXICON_PATTERN.finditer(text.lower())})


def _merge(a: list[str], b: list[str]) -> list[str]:
    seen, out = set(), []
    for s in [*a, *b]:
        k = skill_key(s)
        if k and k not in seen:
            seen.add(k)
            out.append(" ".join(str(s).split()))
    return out


def vacancy_profiles(v: pd.DataFrame) -> Profiles:
    """Hidden profiles of real vacancies (module docstring)."""
    n = len(v)
    col = lambda c: v[c].to_numpy(dtype=object) if c in v.columns else np.full(n, None, dtype=object)  # noqa: E731
    titles, roles_col, desc, skills_col = col("title"), col("professional_role"), col("description"), col("skills")
    roles = np.array([role_of(t, p) for t, p in zip(titles, roles_col)], dtype=object)
    skills = []
    for t, d, s in zip(titles, desc, skills_col):
        given = [str(x) for x in s] if isinstance(s, (list, tuple, np.ndarray)) else []
        skills.append(_merge(given, find_skills(f"{t or ''}\n{html_to_text(d) if isinstance(d, str) else ''}")))
    level = np.array([schema.EXPERIENCE_LEVELS.index(e) if e in schema.EXPERIENCE_LEVELS else 1 for e in col("experience")], dtype=np.int64)
    area = np.array([a if isinstance(a, str) and a.strip() else "unknown" for a in col("area")], dtype=object)
    remote = np.array([s == "remote" for s in col("schedule")], dtype=bool)
    lo = pd.to_numeric(pd.Series(col("salary_from")), errors="coerce").to_numpy(np.float64)
    hi = pd.to_numeric(pd.Series(col("salary_to")), errors="coerce").to_numpy(np.float64)
    rate = np.array([RATES.get(c, np.nan) if isinstance(c, str) else (1.0 if not np.isnan(a) or not np.isnan(b) else np.nan)
                     for c, a, b in zip(col("currency"), lo, hi)])
    both = np.vstack([lo, hi])  # (2, N)
    known = np.isfinite(both).sum(axis=0)
    published = np.where(known > 0, np.nansum(both, axis=0) / np.maximum(known, 1), np.nan)
    salary = published * rate
    fallback = expected_salaries(np.random.default_rng(0), roles, level, area, spread=0.0)
    salary = np.where(np.isfinite(salary) & (salary > 0), salary, fallback)
    return Profiles(v[schema.VACANCY_ID].astype(str).to_numpy(dtype=object), roles, skills, level, area, salary, remote)


def semi_synthetic_market(vacancies: pd.DataFrame, cfg: SynthConfig, source: str = "vacancies") -> Market:
    """Real `vacancies` verbatim + simulated resumes and interactions (deterministic in cfg.seed)."""
    if len(vacancies) == 0:
        raise DataError(source, None, "no vacancies to build a market on")
    rng = np.random.default_rng(int(cfg.seed))
    vac = vacancy_profiles(vacancies)
    start = pd.Timestamp(cfg.start).value // 1000
    span = int(cfg.weeks) * 7 * 86400 * 10**6
    posted = start - 7 * 86400 * 10**6 + (rng.random(len(vac.ids)) * span).astype(np.int64)

    counts = Counter(vac.role.tolist())
    role_keys = np.array(sorted(counts), dtype=object)
    role_p = np.array([counts[k] for k in role_keys], dtype=float)
    pools, pool_p = {}, {}
    for k in role_keys:
        freq = Counter()
        display = {}
        for r, s in zip(vac.role, vac.skills):
            if r == k:
                for x in s:
                    freq[skill_key(x)] += 1
                    display.setdefault(skill_key(x), x)
        top = [key for key, _ in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[:40]]
        pools[k] = [display[key] for key in top]
        w = np.array([freq[key] for key in top], dtype=float)
        pool_p[k] = w / w.sum() if len(w) else w
    area_counts = Counter(vac.area.tolist())
    areas = np.array(sorted(area_counts), dtype=object)
    area_p = np.array([area_counts[a] for a in areas], dtype=float)
    res = draw_resume_profiles(rng, int(cfg.n_resumes), role_keys, role_p / role_p.sum(), pools, pool_p, areas, area_p / area_p.sum())
    other_titles = {OTHER_ROLE: sorted({str(t) for t, r in zip(vacancies["title"], vac.role) if r == OTHER_ROLE and isinstance(t, str)})[:200]}
    resumes, rtruth = resume_frames(rng, res, cfg, fallback_titles=other_titles, fallback_duties=tuple(d.rstrip(";") for d in lx.GENERIC_DUTIES))
    utility = MarketUtility(vac, res, cfg)
    log, util = simulate_interactions(rng, vac, res, posted, cfg, utility)
    meta = {"vacancies_from": source, "roles": {k: int(v) for k, v in sorted(counts.items())},
            "vacancies_with_skills": int(sum(1 for s in vac.skills if s))}
    return Market(vacancies, resumes, log, sentence_frame(rtruth, "resumes"), util, vac.frame(schema.VACANCY_ID), res.frame(schema.RESUME_ID), cfg, meta)


def load_real_vacancies(root: str | Path, holdout: float = 0.0) -> pd.DataFrame:
    """Vacancies of a contract folder (validated by `pipelines.data.dataset.load_dataset`), less the
    `holdout` share by salted id hash (`pipelines.data.dataset.holdout_mask`): kept unseen for evaluation
    (`summarizer eval --exclude MARKET` then scores exactly those)."""
    from pipelines.data.dataset import load_dataset
    from pipelines.data.split import MARKET_HOLDOUT_SALT, holdout_mask

    vacancies = load_dataset(root).vacancies
    if holdout:
        held = holdout_mask(vacancies[schema.VACANCY_ID].astype(str).tolist(), holdout, MARKET_HOLDOUT_SALT)
        vacancies = vacancies[~held].reset_index(drop=True)
    if len(vacancies) == 0:
        raise DataError(str(Path(root) / schema.VACANCIES_FILE), None, "no vacancies to build a market on")
    return vacancies

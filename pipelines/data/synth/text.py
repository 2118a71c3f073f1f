"""Russian hh.ru-like document text of the synthetic market's vacancies and resumes.

Documents. A vacancy's description is HTML with one sentence per block: title (sentence 0),
employer boilerplate ("О компании", ~Poisson(intro_sentences · boilerplate) sentences), duties
(no skills), requirements (each stack skill named at least once), an optional stack line
(after the requirements or closing the vacancy), conditions (benefits) and a closing line; a
share `terse` of vacancies has no boilerplate and few benefits; with probability `conditions_first` the benefits
come before the duties, as in many hh.ru vacancies. Every block is exactly one sentence of
`dssm.text.document_sentences`, so truth/sentences.parquet indexes them exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from dssm import schema
from dssm.io import progress

from pipelines.data.synth import lexicon as lx
from pipelines.data.synth.config import SynthConfig
from pipelines.data.synth.profiles import Profiles


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


def choice(rng: np.random.Generator, seq: tuple | list) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _sample(rng: np.random.Generator, seq: tuple | list, k: int) -> list:
    k = max(0, min(k, len(seq)))
    return [seq[i] for i in rng.choice(len(seq), size=k, replace=False)] if k else []


def _fill(rng: np.random.Generator, template: str, company: str, industry: str) -> str:
    return template.format(company=company, industry=industry, years=int(rng.integers(5, 31)), people=int(rng.integers(2, 60)) * 100,
                           cities=int(rng.integers(5, 80)), year=int(rng.integers(2015, 2024)))


def vacancy_title(rng: np.random.Generator, role: lx.Role, level: int) -> str:
    """A (deliberately ambiguous) title: one of the role's titles, often shared, with a seniority prefix sometimes."""
    title = choice(rng, role.titles)
    prefix = choice(rng, lx.SENIORITY_PREFIX[level]) if rng.random() < 0.5 else ""
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
    company = f"{choice(rng, lx.COMPANY_PREFIX)} «{choice(rng, lx.COMPANY_STEMS)}»"
    industry = choice(rng, lx.INDUSTRIES)
    doc = Doc(title)
    z = rng.lognormal(0.0, cfg.length_sigma)
    n_intro = rng.poisson(cfg.intro_sentences * cfg.boilerplate * rng.lognormal(0.0, cfg.intro_sigma))
    terse = rng.random() < cfg.terse
    n_conditions = int(rng.integers(0, 3)) if terse else 1 + int(rng.poisson(cfg.conditions_mean * z))
    conditions = _sample(rng, lx.CONDITIONS, n_conditions)
    if terse:
        n_intro, z = 0, min(z, 1.0)
    if n_intro or cfg.min_intro_words:
        doc.heading(choice(rng, lx.BOILERPLATE_HEADINGS))
        pool = list(rng.permutation(len(lx.BOILERPLATE)))
        k = 0
        while k < n_intro or doc.words < cfg.min_intro_words:
            if not pool:
                pool = list(rng.permutation(len(lx.BOILERPLATE)))
            doc.p("boilerplate", _fill(rng, lx.BOILERPLATE[pool.pop()], company, industry))
            k += 1
    first = rng.random() < cfg.conditions_first and bool(conditions)
    if first:
        doc.heading(choice(rng, lx.CONDITIONS_HEADINGS), section="conditions")
        doc.ul("conditions", conditions)
    doc.heading(choice(rng, lx.DUTIES_HEADINGS))
    n_duties = 2 + int(rng.poisson(cfg.duties_mean * z))
    duties = [d + ";" for d in _sample(rng, role.duties, n_duties)]
    doc.ul("duties", duties + _sample(rng, lx.GENERIC_DUTIES, n_duties - len(duties)))
    doc.heading(choice(rng, lx.REQUIREMENTS_HEADINGS))
    reqs, todo = [], list(stack)
    while todo:
        t = choice(rng, lx.REQUIREMENT_SKILL)
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
        doc.heading(choice(rng, lx.SKILLS_HEADINGS), ", ".join(stack) + ".", section="skills")
    if not first and conditions:
        doc.heading(choice(rng, lx.CONDITIONS_HEADINGS), section="conditions")
        doc.ul("conditions", conditions)
    if not terse and rng.random() < 0.5:
        doc.p("boilerplate", choice(rng, lx.CLOSING))
    if stack_line and last:
        doc.heading(choice(rng, lx.SKILLS_HEADINGS), ", ".join(stack) + ".", section="skills")
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
        lines.append(("heading", f"Опыт работы: {choice(rng, lx.COMPANY_PREFIX)} «{choice(rng, lx.COMPANY_STEMS)}», {title}, {end_year - span}–{end_year} годы."))
        end_year -= span
        for d in _sample(rng, duties, int(rng.integers(2, 4))):
            lines.append(("experience", f"{choice(rng, lx.RESUME_DUTY_PREFIX)} {d}."))
        js = list(per_job[j])
        while js:
            t = choice(rng, lx.RESUME_SKILL_LINES)
            need = t.count("{skill")
            take, js = js[:need], js[need:]
            if len(take) < need:
                t = lx.RESUME_SKILL_LINES[1]
                take = take[:1]
            lines.append(("experience", t.format(**{k: v for k, v in zip(("skill", "skill2", "skill3"), take)})))
        if rng.random() < 0.6:
            lines.append(("experience", choice(rng, lx.RESUME_ACHIEVEMENTS).format(pct=int(rng.integers(10, 60)), people=int(rng.integers(2, 12)))))
    if n_jobs == 0 and skills:
        lines.append(("experience", f"Изучал самостоятельно: {', '.join(skills)}."))
    if skills:
        lines.append(("skills", f"Ключевые навыки: {', '.join(skills)}."))
    lines.append(("education", f"Образование: {choice(rng, lx.UNIVERSITIES)}, {choice(rng, lx.FACULTIES)}, выпуск {int(rng.integers(2000, 2024))} года."))
    return "\n".join(t for _, t in lines), lines


def resume_title(rng: np.random.Generator, role_key: str, level: int, fallback_titles: dict[str, list[str]] | None = None) -> str:
    """Desired position: the role's name or one of its titles, sometimes with a seniority prefix."""
    i = lx.ROLE_INDEX.get(role_key)
    if i is None:
        titles = (fallback_titles or {}).get(role_key) or ["Специалист"]
        return choice(rng, titles)
    role = lx.ROLES[i]
    base = role.name if rng.random() < 0.6 else choice(rng, role.titles)
    prefix = choice(rng, lx.SENIORITY_PREFIX[level]) if rng.random() < 0.3 else ""
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

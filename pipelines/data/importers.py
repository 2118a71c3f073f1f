"""Importers: map the real public sets in ../shared/data (see its README) into the data contract.

Each `import_<name>(src) -> dict[str, DataFrame]` reads one shared folder and returns
"vacancies", "resumes" (either may be empty, never missing), "interactions" (absent when the
set has none) and any extra tables. Rows that cannot be mapped (e.g. empty text) are dropped
and counted in each frame's `attrs["dropped"]` ({reason: count}), never silently.

Normalisations shared by all sets: currency codes `RUB` -> `RUR` (hh.ru's code), experience
wordings -> `dssm.schema.EXPERIENCE_LEVELS`, employment/schedule wordings -> hh API ids
(the raw wording is kept in `*_raw`), `published_at` -> `updated_at` (naive UTC).
What is observed and what is derived is listed per column in data/README.md.

>>> tables = import_hh_vacancies_ru(Path("../shared/data/hh_vacancies_ru"))  # doctest: +SKIP
>>> import_datasets(["hh_vacancies_ru", "superjob_it_ru"], Path("../shared/data"), Path("runs/data"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from dssm import schema
from dssm.errors import DataError, JobmatchError
from dssm.io import atomic_path, check_output, versions, write_json
from pipelines.data.dataset import write_dataset
from pipelines.data.contract import is_empty_text, non_number_rows, unreadable_parquet

# ----------------------------------------------------------------------------- vocabularies

CURRENCIES = {"RUR": "RUR", "RUB": "RUR", "₽": "RUR", "BYR": "BYR", "BYN": "BYR", "USD": "USD", "$": "USD", "EUR": "EUR", "KZT": "KZT", "UAH": "UAH"}
"""Source currency code -> contract code (hh.ru's codes: RUR for roubles, BYR for Belarusian roubles)."""

_EXPERIENCE_PATTERNS = (
    (re.compile(r"нет опыта|не требуется|без опыта|no experience"), "noExperience"),
    (re.compile(r"более 6|от 6|6\+|moreThan6"), "moreThan6"),
    (re.compile(r"от 3 до 6|3\s*[–-]\s*6|от 3 лет"), "between3And6"),
    (re.compile(r"от 1 года до 3|1\s*[–-]\s*3|от 1 года"), "between1And3"),
)
_EMPLOYMENT_PATTERNS = (
    (re.compile(r"полная занятость"), "full"),
    (re.compile(r"частичная занятость|неполный рабочий день|неполная занятость"), "part"),
    (re.compile(r"проектная|временная"), "project"),
    (re.compile(r"стажировка"), "probation"),
    (re.compile(r"волонт"), "volunteer"),
)
_SCHEDULE_PATTERNS = (
    (re.compile(r"полный день"), "fullDay"),
    (re.compile(r"сменный"), "shift"),
    (re.compile(r"гибкий"), "flexible"),
    (re.compile(r"удал[её]нн"), "remote"),
    (re.compile(r"вахт"), "flyInFlyOut"),
)


def _match(value: object, patterns) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return next((label for rx, label in patterns if rx.search(text)), None)


def normalise_experience(value: object) -> str | None:
    """Map hh API ("От 1 года до 3 лет"), hh page ("1–3 года") and SuperJob ("опыт работы от 1 года")
    wordings to `EXPERIENCE_LEVELS`; None when unknown. SuperJob's "от 1 года" (at least one year)
    maps to between1And3 and "от 3 лет" to between3And6: the nearest hh bucket.

    >>> [normalise_experience(x) for x in ["От 1 года до 3 лет", "1–3 года", "не требуется", "Более 6 лет"]]
    ['between1And3', 'between1And3', 'noExperience', 'moreThan6']
    """
    return _match(value, _EXPERIENCE_PATTERNS)


def normalise_employment(value: object) -> str | None:
    """hh/SuperJob employment wording -> `dssm.schema.EMPLOYMENT_TYPES`; None when unknown."""
    return _match(value, _EMPLOYMENT_PATTERNS)


def normalise_schedule(value: object) -> str | None:
    """hh/SuperJob schedule wording -> `dssm.schema.SCHEDULES`; None for free text ("5/2 с 9 до 18")."""
    return _match(value, _SCHEDULE_PATTERNS)


def normalise_currency(value: object) -> str | None:
    """Source currency code -> contract code (RUB and RUR -> RUR); unknown codes are kept upper-cased."""
    if not isinstance(value, str) or not value.strip():
        return None
    code = value.strip().upper()
    return CURRENCIES.get(code, code)


_YEARS = re.compile(r"(\d+)\s*(?:год|года|лет|year)")
_MONTHS = re.compile(r"(\d+)\s*(?:месяц|месяца|месяцев|month)")


def parse_years(value: object) -> float | None:
    """Total experience in years from hh/SuperJob wording ("Опыт работы 7 лет 10 месяцев" -> 7.83).

    >>> parse_years("14 лет и 4 месяца")
    14.333333333333334
    """
    if not isinstance(value, str):
        return None
    years, months = _YEARS.search(value), _MONTHS.search(value)
    if not years and not months:
        return None
    return (int(years.group(1)) if years else 0) + (int(months.group(1)) / 12 if months else 0)


def to_utc(s: pd.Series) -> pd.Series:
    """Parse dates/times (ISO, with or without offset) as naive UTC; unparseable -> NaT."""
    ts = pd.to_datetime(s, errors="coerce", utc=True, format="mixed")
    return ts.dt.tz_localize(None).astype("datetime64[us]")


def _first(v: object) -> str | None:
    if isinstance(v, (list, tuple, np.ndarray)) and len(v):
        return str(v[0])
    return None


def _str_list(v: object) -> list[str] | None:
    if isinstance(v, (list, tuple, np.ndarray)):
        return [str(x).strip() for x in v if isinstance(x, str) and x.strip()]
    return None


def _or_null_if_empty(v: list[str] | None) -> list[str] | None:
    return v if v else None


class SourceTable:
    """A source Parquet file as the importers read it: `table["column"]` (a Series; a missing column is a
    DataError naming the file and column), `len(table)` and `table.index`."""

    def __init__(self, path: Path, frame: pd.DataFrame):
        self.path, self.frame = path, frame

    def __getitem__(self, column: str) -> pd.Series:
        if column not in self.frame.columns:
            raise DataError(str(self.path), column, f"source column missing (found: {', '.join(map(str, self.frame.columns)) or 'none'}); "
                            "is --src the shared dataset folder of this importer?")
        return self.frame[column]

    def number(self, column: str) -> pd.Series:
        """The column as float64; values that are not numbers are a DataError naming their rows."""
        raw = self[column]
        bad = non_number_rows(raw)
        if len(bad):
            raise DataError(str(self.path), column, f"{len(bad)} values are not numbers", bad)
        return pd.to_numeric(raw, errors="coerce").astype("float64")

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def index(self) -> pd.Index:
        return self.frame.index


def _read(src: Path, name: str) -> SourceTable:
    path = Path(src) / name
    if not path.exists():
        raise DataError(str(path), None, "source file not found (is --src the shared dataset folder?)")
    try:
        return SourceTable(path, pd.read_parquet(path))
    except (OSError, ValueError, pa.ArrowException) as e:
        raise unreadable_parquet(str(path), e) from e


def _drop_empty(df: pd.DataFrame, body: str, dropped: dict[str, int], kind: str) -> pd.DataFrame:
    empty = is_empty_text(df[body])
    if empty.any():
        dropped[f"{kind}: empty {body}"] = int(empty.sum())
    return df.loc[~empty].reset_index(drop=True)


def _drop_duplicate_ids(df: pd.DataFrame, column: str, dropped: dict[str, int], kind: str) -> pd.DataFrame:
    dup = df[column].duplicated(keep="first")
    if dup.any():
        dropped[f"{kind}: duplicate {column} (first kept)"] = int(dup.sum())
    return df.loc[~dup].reset_index(drop=True)


def empty_resumes() -> pd.DataFrame:
    """A resumes table with the full contract schema and no rows."""
    return _empty(schema.RESUMES_SCHEMA)


def empty_vacancies() -> pd.DataFrame:
    """A vacancies table with the full contract schema and no rows."""
    return _empty(schema.VACANCIES_SCHEMA)


def _empty(sch) -> pd.DataFrame:
    return sch.empty_table().to_pandas()


def _finish(tables: dict[str, pd.DataFrame], dropped: dict[str, int], source: str) -> dict[str, pd.DataFrame]:
    for name, df in tables.items():
        if name in ("vacancies", "resumes") and len(df):
            df["source"] = source
        df.attrs["dropped"] = dict(dropped)
    return tables


# ----------------------------------------------------------------------------- Russian sets


def import_hh_vacancies_ru(src: Path) -> dict[str, pd.DataFrame]:
    """hh.ru vacancies: `description` keeps the raw HTML (plain `text` where the source has no HTML,
    i.e. the page-scrape rows), `text` is the plain text; resumes table empty."""
    raw = _read(src, "vacancies.parquet")
    dropped: dict[str, int] = {}
    html_ok = ~is_empty_text(raw["description_html"])
    v = pd.DataFrame(
        {
            schema.VACANCY_ID: raw["id"].astype(str),
            "title": raw["title"],
            "description": raw["description_html"].where(html_ok, raw["text"]),
            "skills": [_str_list(x) for x in raw["skills"]],
            "area": raw["area"],
            "professional_role": [_first(x) for x in raw["professional_roles"]],
            "experience": raw["experience"].map(normalise_experience),
            "employment": raw["employment"].map(normalise_employment),
            "schedule": raw["schedule"].map(normalise_schedule),
            "salary_from": raw.number("salary_from"),
            "salary_to": raw.number("salary_to"),
            "currency": raw["salary_currency"].map(normalise_currency),
            "updated_at": to_utc(raw["published_at"]),
            "text": raw["text"],
            "description_is_html": html_ok,
            "professional_roles": [_str_list(x) for x in raw["professional_roles"]],
            "specialization": [_first(x) for x in raw["specializations"]],
            "experience_raw": raw["experience"],
            "employment_raw": raw["employment"],
            "schedule_raw": raw["schedule"],
            "salary_gross": raw["salary_gross"].astype("boolean"),
            "employer_name": raw["employer_name"],
            "url": raw["url"],
            "source_format": raw["source_format"],
        }
    )
    v = _drop_duplicate_ids(_drop_empty(v, "description", dropped, "vacancies"), schema.VACANCY_ID, dropped, "vacancies")
    return _finish({"vacancies": v, "resumes": empty_resumes()}, dropped, "hh_vacancies_ru")


_CITY_NOISE = re.compile(r"\d|\.|обл|р-н|край|респ|район|^УР$|проезд|улица|шоссе|проспект|бульвар|пер\b", re.I)
_FEDERAL_CITIES = ("Москва", "Санкт-Петербург", "Севастополь")


def superjob_area(address: object) -> str | None:
    """The city of a SuperJob address ("Крылатское, Москва, Осенний бульвар, 12к1" -> "Москва"):
    a federal city named anywhere, else the first part without digits, dots or region words.

    >>> superjob_area("Воронеж, ул. Революции 1905 года, д. 31г")
    'Воронеж'
    """
    if not isinstance(address, str):
        return None
    parts = [p.strip() for p in address.split(",") if p.strip()]
    for city in _FEDERAL_CITIES:
        if city in parts:
            return city
    return next((p for p in parts if not _CITY_NOISE.search(p)), None)


def import_superjob_it_ru(src: Path) -> dict[str, pd.DataFrame]:
    """SuperJob vacancies and resumes (2018). The source's `experience`/`employment` columns are
    misaligned, so both are read and each wording goes to the field it names; no timestamps, no key skills."""
    raw = _read(src, "vacancies.parquet")
    dropped: dict[str, int] = {}
    both = raw["experience"].fillna("") + " | " + raw["employment"].fillna("")
    v = pd.DataFrame(
        {
            schema.VACANCY_ID: raw["id"].astype(str),
            "title": raw["title"],
            "description": raw["text"],
            "skills": [None] * len(raw),
            "area": raw["address"].map(superjob_area),
            "professional_role": raw["categories"],
            "experience": both.map(normalise_experience),
            "employment": both.map(normalise_employment),
            "schedule": both.map(normalise_schedule),
            "salary_from": raw.number("salary_from").where(raw["salary_from"] > 0),
            "salary_to": raw.number("salary_to").where(raw["salary_to"] > 0),
            "currency": raw["salary_currency"].map(normalise_currency),
            "updated_at": pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]"),
            "text": raw["text"],
            "address": raw["address"],
            "experience_raw": raw["experience"],
            "employment_raw": raw["employment"],
            "salary_raw": raw["salary"],
            "url": raw["url"],
        }
    )
    v = _drop_duplicate_ids(_drop_empty(v, "description", dropped, "vacancies"), schema.VACANCY_ID, dropped, "vacancies")
    raw = _read(src, "resumes.parquet")
    r = pd.DataFrame(
        {
            schema.RESUME_ID: raw["id"].astype(str),
            "title": raw["title"],
            "text": raw["text"],
            "skills": [_or_null_if_empty(_str_list(x)) for x in raw["skills_list"]],
            "area": raw["area"],
            "salary": raw.number("salary_amount").where(raw["salary_amount"] > 0),
            "currency": raw["salary_currency"].map(normalise_currency),
            "experience_years": raw["experience_length"].map(parse_years).astype("float64"),
            "updated_at": pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]"),
            "categories": raw["categories"],
            "experience_json": raw["experience_json"],
            "education_json": raw["education_json"],
            "age": raw.number("age"),
            "url": raw["url"],
        }
    )
    r = _drop_duplicate_ids(_drop_empty(r, "text", dropped, "resumes"), schema.RESUME_ID, dropped, "resumes")
    return _finish({"vacancies": v, "resumes": r}, dropped, "superjob_it_ru")


def import_hh_resumes_frontend_ru(src: Path) -> dict[str, pd.DataFrame]:
    """hh.ru frontend resumes (2025): `skills` is null (the scraper did not capture key skills);
    `experience_years` parsed from "Опыт работы 7 лет 10 месяцев"; no vacancies."""
    raw = _read(src, "resumes.parquet")
    dropped: dict[str, int] = {}
    r = pd.DataFrame(
        {
            schema.RESUME_ID: raw["id"].astype(str),
            "title": raw["title"],
            "text": raw["text"],
            "skills": [_or_null_if_empty(_str_list(x)) for x in raw["skills"]],
            "area": raw["area"],
            "salary": raw.number("salary_amount"),
            "currency": raw["salary_currency"].map(normalise_currency),
            "experience_years": raw["total_experience"].map(parse_years).astype("float64"),
            "updated_at": pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]"),
            "about": raw["about"],
            "work_experience": raw["work_experience"],
            "education": raw["education"],
            "age_years": raw.number("age_years"),
            "salary_raw": raw["salary_raw"],
        }
    )
    r = _drop_duplicate_ids(_drop_empty(r, "text", dropped, "resumes"), schema.RESUME_ID, dropped, "resumes")
    return _finish({"vacancies": empty_vacancies(), "resumes": r}, dropped, "hh_resumes_frontend_ru")


TALENTMATCH_REFERENCE_DATE = pd.Timestamp("2024-02-01")
"""The hackathon's date: an experience entry with no end date is counted up to it."""


def experience_years_from_entries(entries_json: object, reference: pd.Timestamp = TALENTMATCH_REFERENCE_DATE) -> float | None:
    """Sum of entry durations (`starts`..`ends`, open entries end at `reference`) in years; derived.

    >>> experience_years_from_entries('[{"starts": "2020-02-01", "ends": "2022-02-01"}]')
    2.0
    """
    if not isinstance(entries_json, str):
        return None
    try:
        entries = json.loads(entries_json)
    except json.JSONDecodeError:
        return None
    days = 0.0
    seen = False
    for e in entries if isinstance(entries, list) else []:
        start = pd.to_datetime(e.get("starts"), errors="coerce") if isinstance(e, dict) else pd.NaT
        if pd.isna(start):
            continue
        end = pd.to_datetime(e.get("ends"), errors="coerce") if e.get("ends") else reference
        end = reference if pd.isna(end) else end
        days += max((end - start).days, 0)
        seen = True
    return round(days / 365.25 * 4) / 4 if seen else None


def import_talentmatch_ru(src: Path) -> dict[str, pd.DataFrame]:
    """ML Talent Match (labelled part): 29 vacancies, their resumes, and `labelled_pairs` as
    interactions: confirmed -> invite, failed -> reject, `label` 1/0, no timestamps (ts null)."""
    dropped: dict[str, int] = {}
    raw = _read(src, "labelled_vacancies.parquet")
    v = pd.DataFrame(
        {
            schema.VACANCY_ID: raw["id"].astype(str),
            "title": raw["title"],
            "description": raw["text"],
            "skills": [_or_null_if_empty(_str_list(x)) for x in raw["skills"]],
            "updated_at": pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]"),
            "salary_note": raw["comment"],
            "n_confirmed": raw["n_confirmed"],
            "n_failed": raw["n_failed"],
        }
    )
    v = _drop_duplicate_ids(_drop_empty(v, "description", dropped, "vacancies"), schema.VACANCY_ID, dropped, "vacancies")
    raw = _read(src, "labelled_resumes.parquet")
    r = pd.DataFrame(
        {
            schema.RESUME_ID: raw["id"].astype(str),
            "title": raw["title"],
            "text": raw["text"],
            "skills": [_or_null_if_empty(_str_list(x)) for x in raw["skills"]],
            "area": raw["area"],
            "experience_years": raw["experience_json"].map(experience_years_from_entries).astype("float64"),
            "updated_at": pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]"),
            "country": raw["country"],
            "birth_year": raw.number("birth_year"),
            "experience_json": raw["experience_json"],
            "education_json": raw["education_json"],
        }
    )
    r = _drop_duplicate_ids(_drop_empty(r, "text", dropped, "resumes"), schema.RESUME_ID, dropped, "resumes")
    raw = _read(src, "labelled_pairs.parquet")
    event = raw["event_type"].map({"confirmed": "invite", "failed": "reject"})
    unknown = event.isna()
    if unknown.any():
        dropped["interactions: unknown event_type"] = int(unknown.sum())
    i = pd.DataFrame(
        {
            schema.RESUME_ID: raw["resume_id"].astype(str),
            schema.VACANCY_ID: raw["vacancy_id"].astype(str),
            schema.EVENT: event,
            schema.TS: pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]"),
            "label": raw["label"].astype("int8"),
        }
    ).loc[~unknown]
    known = i[schema.RESUME_ID].isin(r[schema.RESUME_ID]) & i[schema.VACANCY_ID].isin(v[schema.VACANCY_ID])
    if not known.all():
        dropped["interactions: document dropped or missing"] = int((~known).sum())
    i = i.loc[known].reset_index(drop=True)
    return _finish({"vacancies": v, "resumes": r, "interactions": i}, dropped, "talentmatch_ru")


# ----------------------------------------------------------------------------- English sets


def import_glassdoor_ds_jobs_en(src: Path) -> dict[str, pd.DataFrame]:
    """Glassdoor data-science postings: yearly USD salary estimates go to salary_from/to
    (hourly ones stay only in `salary_estimate`); no resumes."""
    raw = _read(src, "jobs.parquet")
    dropped: dict[str, int] = {}
    yearly = raw["salary_period"].eq("year").fillna(False).astype(bool)
    hourly = int((raw["salary_period"].eq("hour").fillna(False)).sum())
    v = pd.DataFrame(
        {
            schema.VACANCY_ID: raw["id"].astype(str),
            "title": raw["title"],
            "description": raw["text"],
            "area": raw["location"],
            "salary_from": raw["salary_from"].where(yearly),
            "salary_to": raw["salary_to"].where(yearly),
            "currency": raw["salary_currency"].where(yearly).map(normalise_currency),
            "company": raw["company"],
            "industry": raw["industry"],
            "sector": raw["sector"],
            "salary_estimate": raw["salary_estimate"],
            "salary_period": raw["salary_period"],
        }
    )
    if hourly:
        dropped["vacancies: hourly salary not mapped to salary_from/to (rows kept)"] = hourly
    v = _drop_duplicate_ids(_drop_empty(v, "description", dropped, "vacancies"), schema.VACANCY_ID, dropped, "vacancies")
    return _finish({"vacancies": v, "resumes": empty_resumes()}, dropped, "glassdoor_ds_jobs_en")


def import_livecareer_resumes_en(src: Path) -> dict[str, pd.DataFrame]:
    """LiveCareer resumes (PDF text): `title` is the headline line, `category` kept; no vacancies."""
    raw = _read(src, "resumes.parquet")
    dropped: dict[str, int] = {}
    r = pd.DataFrame(
        {
            schema.RESUME_ID: raw["id"].astype(str),
            "title": raw["title"],
            "text": raw["text"],
            "category": raw["category"],
        }
    )
    r = _drop_duplicate_ids(_drop_empty(r, "text", dropped, "resumes"), schema.RESUME_ID, dropped, "resumes")
    return _finish({"vacancies": empty_vacancies(), "resumes": r}, dropped, "livecareer_resumes_en")


_LETTERS = re.compile(r"[A-Za-zА-Яа-я]{3,}")


def headline(text: object, limit: int = 120) -> str | None:
    """The first line with a word of three letters or more (a CV's headline); derived, not observed."""
    if not isinstance(text, str):
        return None
    for line in text.splitlines():
        line = line.strip()
        if _LETTERS.search(line):
            return line[:limit]
    return None


def import_vanetik_cv_vacancy_ranking_en(src: Path) -> dict[str, pd.DataFrame]:
    """5 vacancies (id = the 1-5 index the rankings use) and CVs as resumes (title = headline line,
    derived). The human rankings are kept as the extra table `rankings` (not as interactions: the
    source leaves open whether array position i is the rank of vacancy i or the vacancy at place i)."""
    dropped: dict[str, int] = {}
    raw = _read(src, "vacancies.parquet")
    v = pd.DataFrame(
        {
            schema.VACANCY_ID: raw["vacancy_index"].astype(str),
            "title": raw["title"],
            "description": raw["text"],
            "source_id": raw["id"].astype(str),
        }
    )
    v = _drop_empty(v, "description", dropped, "vacancies")
    raw = _read(src, "cvs.parquet")
    r = pd.DataFrame({schema.RESUME_ID: raw["cv_id"].astype(str), "title": raw["text"].map(headline), "text": raw["text"]})
    r = _drop_duplicate_ids(_drop_empty(r, "text", dropped, "resumes"), schema.RESUME_ID, dropped, "resumes")
    raw = _read(src, "rankings.parquet")
    rankings = pd.DataFrame(
        {
            schema.RESUME_ID: raw["cv_id"].astype(str),
            "annotator": raw["annotator"].astype("int64"),
            "ranking": [[int(x) for x in a] for a in raw["ranking"]],
            "is_permutation": raw["is_permutation"].astype(bool),
        }
    )
    return _finish({"vacancies": v, "resumes": r, "rankings": rankings}, dropped, "vanetik_cv_vacancy_ranking_en")


# ----------------------------------------------------------------------------- registry, merge, write

IMPORTERS: dict[str, tuple[Callable[[Path], dict[str, pd.DataFrame]], str]] = {
    "hh_vacancies_ru": (import_hh_vacancies_ru, "hh"),
    "superjob_it_ru": (import_superjob_it_ru, "sj"),
    "hh_resumes_frontend_ru": (import_hh_resumes_frontend_ru, "hhr"),
    "talentmatch_ru": (import_talentmatch_ru, "tm"),
    "glassdoor_ds_jobs_en": (import_glassdoor_ds_jobs_en, "gd"),
    "livecareer_resumes_en": (import_livecareer_resumes_en, "lc"),
    "vanetik_cv_vacancy_ranking_en": (import_vanetik_cv_vacancy_ranking_en, "vn"),
}
"""dataset name -> (importer, id prefix used when several sets are merged into one folder)."""


def _prefixed(tables: dict[str, pd.DataFrame], prefix: str) -> dict[str, pd.DataFrame]:
    out = {}
    for name, df in tables.items():
        df = df.copy()
        for column in (schema.VACANCY_ID, schema.RESUME_ID):
            if column in df.columns and len(df):
                df[column] = prefix + ":" + df[column].astype(str)
        out[name] = df
    return out


def merge_imports(parts: dict[str, dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Merge several importers' tables; with more than one set, ids get the set's prefix (`hh:123`)."""
    if len(parts) == 1:
        return next(iter(parts.values()))
    merged: dict[str, list[pd.DataFrame]] = {}
    for name, tables in parts.items():
        for table, df in _prefixed(tables, IMPORTERS[name][1]).items():
            key = table if table in schema.TABLES else f"{name}_{table}"
            merged.setdefault(key, []).append(df)
    out = {}
    for key, frames in merged.items():
        nonempty = [f for f in frames if len(f)] or frames[:1]
        out[key] = pd.concat(nonempty, ignore_index=True) if len(nonempty) > 1 else nonempty[0].reset_index(drop=True)
    return out


def _source_manifest(src: Path) -> dict:
    path = src / "_manifest.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: data[k] for k in ("dataset", "licence", "sources") if k in data}


def import_datasets(names: list[str], src_root: Path | None, out: Path, src: Path | None = None, force: bool = False) -> dict:
    """Run the named importers, merge, write the folder via `write_dataset` (validated) and
    `import_manifest.json` (sources, row counts, drops with reasons). Returns the manifest.

    `src` is the dataset folder when one name is given; otherwise each set is read from `src_root/NAME`.
    """
    unknown = [n for n in names if n not in IMPORTERS]
    if unknown:
        raise JobmatchError(f"unknown dataset(s) {unknown}; known: {sorted(IMPORTERS)}")
    if len(set(names)) != len(names):
        raise JobmatchError(f"dataset named twice: {names}")
    if src is not None and len(names) != 1:
        raise JobmatchError("--src takes one dataset folder; use --src-root for several datasets")
    if src is None and src_root is None:
        raise JobmatchError("give --src DIR (one dataset) or --src-root DIR (the folder holding the datasets)")
    folders = [Path(src) if src is not None else Path(src_root) / name for name in names]
    check_output(out, folders, force)
    parts, datasets = {}, []
    for name, folder in zip(names, folders):
        if not folder.is_dir():
            raise JobmatchError(f"{folder}: source folder not found")
        tables = IMPORTERS[name][0](folder)
        parts[name] = tables
        dropped = next((df.attrs.get("dropped", {}) for df in tables.values()), {})
        datasets.append(
            {
                "name": name,
                "src": str(folder),
                "id_prefix": IMPORTERS[name][1] + ":" if len(names) > 1 else "",
                "source": _source_manifest(folder),
                "rows": {t: len(df) for t, df in tables.items()},
                "dropped": dropped,
            }
        )
    tables = merge_imports(parts)
    vacancies, resumes = tables.pop("vacancies"), tables.pop("resumes")
    interactions = tables.pop("interactions", None)
    manifest = {
        "datasets": datasets,
        "rows": {"vacancies": len(vacancies), "resumes": len(resumes), "interactions": None if interactions is None else len(interactions)}
        | {t: len(df) for t, df in tables.items()},
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
    }
    with atomic_path(out) as tmp:
        write_dataset(tmp, vacancies, resumes, interactions, extra=tables)
        write_json(tmp / "import_manifest.json", manifest)
    return manifest

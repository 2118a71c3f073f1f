"""Hostile inputs, reused by the validate, import, recommend and service tests (`tests/test_hostile.py`).

Each case is built on the fly (huge and broken files are never committed) and names what the
one-line refusal must say. Three families:

- `DATASETS`: a contract folder broken one way (`build(valid_market, folder)`): broken Parquet,
  wrong dtypes, non-UTF-8 bytes, empty and huge texts, bad amounts, duplicated and dangling ids.
- `SOURCES`: an hh.ru source folder for `jobmatch import hh_vacancies_ru`, broken one way.
- `RESUMES`: the bytes of one resume as JSON (a `recommend --resume-file` file; inside `{"resume": ...}`
  a POST /recommend body), with what the CLI says and what HTTP answers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class Case:
    build: Callable[[Path, Path], None]
    """(valid input, folder to create) -> writes the hostile input into the folder."""
    expect: str | None
    """A fragment of the one-line error; None: the input must be accepted."""


def _edit(table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path, Path], None]:
    def build(market: Path, out: Path) -> None:
        shutil.copytree(market, out)
        path = out / f"{table}.parquet"
        change(pd.read_parquet(path)).to_parquet(path, index=False)

    return build


def _raw(table: str, write: Callable[[Path], None]) -> Callable[[Path, Path], None]:
    def build(market: Path, out: Path) -> None:
        shutil.copytree(market, out)
        write(out / f"{table}.parquet")

    return build


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _binary_titles(path: Path) -> None:
    t = pq.read_table(path)
    bad = pa.array([b"\xff\xfe\xfd not utf-8"] * t.num_rows, pa.binary())
    pq.write_table(t.set_column(t.schema.get_field_index("title"), "title", bad), path)


def _set(column: str, value: object, rows: slice = slice(0, 3)) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Set `rows` of `column` to `value`; a text into a numeric or list column turns the whole column into text."""
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        if isinstance(value, str) and not df[column].map(lambda v: isinstance(v, str)).all():
            df[column] = df[column].map(lambda v: ", ".join(v) if isinstance(v, (list, np.ndarray)) else "" if v is None or v != v else str(v))
        df.loc[df.index[rows], column] = value
        return df

    return change


def _huge_text(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df.loc[0, "description"] = "<p>" + "Требуется опыт работы с Python и SQL. " * 130_000 + "</p>"  # ~5 MB
    return df


DATASETS: dict[str, Case] = {
    "truncated_parquet": Case(_raw("vacancies", _truncate), "vacancies.parquet: unreadable Parquet file"),
    "not_parquet": Case(_raw("resumes", lambda p: p.write_text("resume_id,title,text\nr1,a,b\n")), "resumes.parquet: unreadable Parquet file"),
    "empty_file": Case(_raw("interactions", lambda p: p.write_bytes(b"")), "interactions.parquet: unreadable Parquet file"),
    "non_utf8_titles": Case(_raw("vacancies", _binary_titles), "column title"),
    "salary_as_text": Case(_edit("vacancies", _set("salary_from", "сто тысяч")), "column salary_from: wrong type: expected numbers"),
    "skills_as_text": Case(_edit("resumes", _set("skills", "python, sql")), "column skills: wrong type: expected list (list<item: string>)"),
    "negative_salary": Case(_edit("resumes", _set("salary", -5.0)), "column salary: 3 negative (amounts are >= 0) values (rows 0, 1, 2: -5.0"),
    "infinite_experience": Case(_edit("resumes", _set("experience_years", np.inf)), "column experience_years: 3 infinite values"),
    "empty_texts": Case(_edit("vacancies", _set("description", "  <p>&nbsp;</p> ")), "column description: 3 rows with empty text"),
    "missing_text_column": Case(_edit("resumes", lambda df: df.drop(columns=["text"])), "resumes.parquet: column text: required column missing"),
    "duplicate_ids": Case(_edit("vacancies", _set("vacancy_id", "v-dup")), "column vacancy_id: 3 duplicate ids"),
    "dangling_ids": Case(_edit("interactions", _set("vacancy_id", "no-such-vacancy", slice(0, 2))), "2 interactions point to ids not in vacancies.parquet"),
    "unknown_event": Case(_edit("interactions", _set("event", "like", slice(0, 1))), "column event: 1 unknown event types"),
    "huge_text": Case(_edit("vacancies", _huge_text), None),
}


HH_COLUMNS = ("id", "title", "text", "description_html", "skills", "professional_roles", "specializations", "area", "salary_from", "salary_to",
              "salary_currency", "salary_gross", "experience", "employment", "schedule", "employer_name", "employer_id", "published_at", "url",
              "source_format", "source_repo", "source_path")


def hh_source(n: int = 4) -> pd.DataFrame:
    """A valid hh_vacancies_ru source table (the columns of ../shared/data/hh_vacancies_ru, made-up rows)."""
    return pd.DataFrame({
        "id": [str(100 + i) for i in range(n)], "title": [f"Python developer {i}" for i in range(n)],
        "text": ["Пишем сервисы на Python."] * n, "description_html": ["<p>Пишем сервисы на <b>Python</b>.</p>"] * n,
        "skills": [["Python", "SQL"]] * n, "professional_roles": [["Программист, разработчик"]] * n, "specializations": [["IT"]] * n,
        "area": ["Москва"] * n, "salary_from": [150000.0] * n, "salary_to": [250000.0] * n, "salary_currency": ["RUR"] * n,
        "salary_gross": [True] * n, "experience": ["От 1 года до 3 лет"] * n, "employment": ["Полная занятость"] * n,
        "schedule": ["Полный день"] * n, "employer_name": ["ООО Ромашка"] * n, "employer_id": ["1"] * n,
        "published_at": ["2024-03-01T10:00:00+0300"] * n, "url": ["https://hh.ru/vacancy/1"] * n, "source_format": ["api"] * n,
        "source_repo": ["x"] * n, "source_path": ["y"] * n,
    })


def _source(change: Callable[[pd.DataFrame], pd.DataFrame] | None = None, raw: Callable[[Path], None] | None = None) -> Callable[[Path, Path], None]:
    def build(_: Path, out: Path) -> None:
        out.mkdir(parents=True)
        path = out / "vacancies.parquet"
        (change or (lambda df: df))(hh_source()).to_parquet(path, index=False)
        if raw is not None:
            raw(path)

    return build


SOURCES: dict[str, Case] = {
    "valid": Case(_source(), None),
    "truncated_parquet": Case(_source(raw=_truncate), "vacancies.parquet: unreadable Parquet file"),
    "missing_file": Case(lambda _, out: out.mkdir(parents=True), "vacancies.parquet: source file not found"),
    "missing_column": Case(_source(lambda df: df.drop(columns=["description_html"])), "column description_html: source column missing"),
    "salary_as_text": Case(_source(_set("salary_from", "сто тысяч", slice(0, 2))), "column salary_from: 2 values are not numbers (rows 0, 1)"),
    "negative_salary": Case(_source(_set("salary_to", -1.0, slice(0, 1))), "column salary_to: 1 negative (amounts are >= 0) values"),
    "non_utf8_titles": Case(_source(raw=_binary_titles), "vacancies.parquet: unreadable Parquet file (ArrowInvalid: Invalid UTF8 payload)"),
    "duplicate_ids": Case(_source(_set("id", "100")), None),  # dropped (first kept) and reported, not an error
}


@dataclass(frozen=True)
class ResumeCase:
    body: bytes
    """The resume as JSON bytes."""
    cli: str
    """Fragment of `recommend --resume-file`'s one-line error."""
    status: int
    """Status of POST /recommend with {"resume": body}."""
    http: str
    """Fragment of that answer's `detail`."""


RESUMES: dict[str, ResumeCase] = {
    "not_utf8": ResumeCase(b'{"title": "\xff\xfe", "text": "python"}', "not UTF-8 text", 400, "error parsing the body"),
    "nan_salary": ResumeCase(b'{"title": "a", "text": "python", "salary": NaN}', "NaN is not a JSON number", 422, "body.resume.salary"),
    "infinite_salary": ResumeCase(b'{"title": "a", "text": "python", "salary": 1e400}', "column salary: 1 infinite values", 422, "body.resume.salary"),
    "negative_experience": ResumeCase(b'{"title": "a", "text": "python", "experience_years": -3}', "column experience_years: 1 negative", 422,
                                      "body.resume.experience_years"),
    "salary_as_text": ResumeCase('{"title": "a", "text": "python", "salary": "много"}'.encode(), "column salary: wrong type", 422, "body.resume.salary"),
    "empty_text": ResumeCase(b'{"title": "a", "text": ""}', "empty resume text", 422, "body.resume.text"),
    "html_only_text": ResumeCase(b'{"title": "a", "text": "<p> </p>&nbsp;"}', "empty resume text", 422, "empty resume text"),
    "huge_text": ResumeCase(b'{"title": "a", "text": "' + b"python " * 20_000 + b'"}', "over 100,000 characters", 422, "body.resume.text"),
    "unknown_field": ResumeCase(b'{"title": "a", "text": "python", "age": 30}', "unknown resume field(s) ['age']", 422, "body.resume.age"),
    "not_an_object": ResumeCase(b'"python"', "expected a JSON object", 422, "body.resume"),
    "duplicate_ids": ResumeCase(b'[{"resume_id": "a", "title": "a", "text": "python"}, {"resume_id": "a", "title": "b", "text": "sql"}]', "duplicate resume ids", 422, "body.resume"),
    "truncated_json": ResumeCase(b'{"title": "a", "te', "not valid JSON", 422, "JSON decode error"),
}

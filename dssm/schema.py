"""The data contract: column names and pyarrow schemas for vacancies, resumes and interactions.

Defined once here (the base package) and checked at every stage boundary by
`pipelines.data.contract`. Extra columns are allowed and carried along untouched;
optional columns may be absent (the towers then run without that feature).
"""

from __future__ import annotations

import pyarrow as pa

VACANCIES_FILE = "vacancies.parquet"
RESUMES_FILE = "resumes.parquet"
INTERACTIONS_FILE = "interactions.parquet"

VACANCY_ID = "vacancy_id"
RESUME_ID = "resume_id"
EVENT = "event"
TS = "ts"

VACANCIES_SCHEMA = pa.schema(
    [
        pa.field(VACANCY_ID, pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("description", pa.string()),  # HTML or plain text
        pa.field("skills", pa.list_(pa.string())),
        pa.field("area", pa.string()),
        pa.field("professional_role", pa.string()),
        pa.field("experience", pa.string()),
        pa.field("employment", pa.string()),
        pa.field("schedule", pa.string()),
        pa.field("salary_from", pa.float64()),
        pa.field("salary_to", pa.float64()),
        pa.field("currency", pa.string()),
        pa.field("updated_at", pa.timestamp("us")),
    ]
)
VACANCIES_REQUIRED = (VACANCY_ID, "title", "description")

RESUMES_SCHEMA = pa.schema(
    [
        pa.field(RESUME_ID, pa.string(), nullable=False),
        pa.field("title", pa.string()),  # desired position
        pa.field("text", pa.string()),  # experience, about, education
        pa.field("skills", pa.list_(pa.string())),
        pa.field("area", pa.string()),
        pa.field("salary", pa.float64()),
        pa.field("currency", pa.string()),  # of `salary`; RUR for roubles
        pa.field("experience_years", pa.float64()),
        pa.field("updated_at", pa.timestamp("us")),
    ]
)
RESUMES_REQUIRED = (RESUME_ID, "title", "text")

INTERACTIONS_SCHEMA = pa.schema(
    [
        pa.field(RESUME_ID, pa.string(), nullable=False),
        pa.field(VACANCY_ID, pa.string(), nullable=False),
        pa.field(EVENT, pa.string(), nullable=False),
        pa.field(TS, pa.timestamp("us")),
    ]
)
INTERACTIONS_REQUIRED = (RESUME_ID, VACANCY_ID, EVENT)

EXPERIENCE_LEVELS = ("noExperience", "between1And3", "between3And6", "moreThan6")
"""Vocabulary of `vacancies.experience` (hh.ru API ids): required experience, in years."""
EMPLOYMENT_TYPES = ("full", "part", "project", "probation", "volunteer")
"""Vocabulary of `vacancies.employment` (hh.ru API ids) used by the importers."""
SCHEDULES = ("fullDay", "shift", "flexible", "remote", "flyInFlyOut")
"""Vocabulary of `vacancies.schedule` (hh.ru API ids) used by the importers."""

EVENTS = ("view", "response", "invite", "reject")
"""Known event types. A view is an impression; response/invite are positives; reject is an employer's no."""
POSITIVE_EVENTS = ("response", "invite")
"""Events that make a (resume, vacancy) pair a positive for training."""

VACANCY_CATEGORICAL = ("area", "professional_role", "experience", "employment", "schedule")
RESUME_CATEGORICAL = ("area",)
VACANCY_NUMERIC = ("salary_from", "salary_to")
RESUME_NUMERIC = ("salary", "experience_years")

TABLES = {
    "vacancies": (VACANCIES_FILE, VACANCIES_SCHEMA, VACANCIES_REQUIRED, VACANCY_ID),
    "resumes": (RESUMES_FILE, RESUMES_SCHEMA, RESUMES_REQUIRED, RESUME_ID),
    "interactions": (INTERACTIONS_FILE, INTERACTIONS_SCHEMA, INTERACTIONS_REQUIRED, None),
}
"""table name -> (file name, schema, required columns, unique id column)."""

SINGULAR = {"vacancies": "vacancy", "resumes": "resume", "interactions": "interaction"}
"""A table's name for one of its rows, in messages."""

TEXT_COLUMNS = {"vacancies": ("title", "description"), "resumes": ("title", "text")}
"""The columns a document's text is made of, in reading order."""
BODY_COLUMNS = {"vacancies": "description", "resumes": "text"}
"""The column that must be non-empty (after stripping HTML tags and spaces) in every row; titles may be empty."""

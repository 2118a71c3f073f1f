"""Validation of the data contract (`dssm.schema`): one-line errors naming file, column and first offending rows.

Rules, checked in this order (the first violation raises `DataError`):

1. files: `vacancies.parquet` and `resumes.parquet` must exist (either may have zero rows);
   `interactions.parquet` is optional. An unreadable or corrupt file is an error naming it.
2. required columns (`*_REQUIRED`) must be present; optional contract columns may be absent;
   extra columns are allowed and carried along.
3. types, per contract column present: strings (string / large_string / pandas `str` / object of str),
   numbers (any int or float; a string column names its first rows that are not numbers),
   timestamps (any unit, any time zone), `skills` as list<string>. An all-null column passes.
   Numbers are amounts (salaries, years of experience): finite and >= 0; null means missing (a NaN stored
   in a file is refused; in a frame, where pandas cannot tell them apart, NaN is read as missing).
4. ids: no null ids, no duplicate `vacancy_id` / `resume_id` (rows are 0-based positions).
5. text: every vacancy needs a non-empty `description`, every resume a non-empty `text`
   (after removing HTML tags and whitespace). Titles may be empty: the towers and the
   summarizer read the body, and a title alone has no sentences to summarize.
6. interactions: non-null ids and event, `event` in `dssm.schema.EVENTS`, every `resume_id` /
   `vacancy_id` present in the document tables. Repeated (resume, vacancy, event) rows are allowed.

>>> validate_dir("data/sample")  # doctest: +SKIP
{'vacancies': 120, 'resumes': 300, 'interactions': 4100, 'events': {'view': 3500, ...}}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dssm import schema
from dssm.errors import DataError

MAX_SHOWN = 5
"""Offending rows named in one message."""

_TAG = re.compile(r"<[^>]*>")
_ENTITY = re.compile(r"&(nbsp|#160|#xa0);", re.I)


def fail(file: str, column: str | None, problem: str, rows: Sequence[int] = (), values: Sequence[object] | None = None) -> DataError:
    """A `DataError` whose one-line message lists the first rows and, if given, their values.

    >>> str(fail("v.parquet", "vacancy_id", "2 duplicate ids", [3, 7], ["v12", "v12"]))
    "v.parquet: column vacancy_id: 2 duplicate ids (rows 3, 7: 'v12', 'v12')"
    """
    rows = [int(r) for r in rows]
    if rows:
        shown = ", ".join(str(r) for r in rows[:MAX_SHOWN])
        if values is not None:
            shown += ": " + ", ".join(_short(v) for v in list(values)[:MAX_SHOWN])
        more = f" and {len(rows) - MAX_SHOWN} more" if len(rows) > MAX_SHOWN else ""
        problem = f"{problem} (rows {shown}{more})"
    err = DataError(file, column, problem)
    err.rows = rows
    return err


def _short(v: object, limit: int = 40) -> str:
    text = repr(v.item() if isinstance(v, np.generic) else v).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------- types


def type_kind(t: pa.DataType) -> str:
    """The contract's kind of an arrow type: string, number, timestamp, list."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list"
    return str(t)


def _arrow_ok(expected: pa.DataType, got: pa.DataType) -> bool:
    if pa.types.is_null(got):
        return True
    if pa.types.is_dictionary(got):  # pandas categoricals
        got = got.value_type
    if hasattr(pa.types, "is_string_view") and pa.types.is_string_view(got):
        got = pa.string()
    kind = type_kind(expected)
    if kind != type_kind(got):
        return False
    if kind == "list":
        inner = got.value_type
        return pa.types.is_null(inner) or type_kind(inner) == "string" or (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(inner))
    return True


def check_arrow_schema(table: str, got: pa.Schema, file: str, read_column=None) -> None:
    """Check a Parquet file's arrow schema against the contract: required columns present, compatible types.

    `read_column(name) -> pd.Series` is used to name the rows of a string column that should be numbers.
    """
    _, contract, required, _ = schema.TABLES[table]
    missing = [c for c in required if c not in got.names]
    if missing:
        raise fail(file, missing[0], f"required column missing (found: {', '.join(got.names) or 'none'})")
    for field in contract:
        if field.name not in got.names:
            continue
        t = got.field(field.name).type
        if _arrow_ok(field.type, t):
            continue
        if type_kind(field.type) == "number" and type_kind(t) == "string" and read_column is not None:
            _raise_not_numbers(file, field.name, read_column(field.name), t)
        raise fail(file, field.name, f"wrong type: expected {type_kind(field.type)} ({field.type}), got {t}")


def non_number_rows(s: pd.Series) -> np.ndarray:
    """Positions of the non-null values of `s` that are not numbers (nor text that reads as one)."""
    return np.flatnonzero(s.notna().to_numpy() & pd.to_numeric(s, errors="coerce").isna().to_numpy())


def unreadable_parquet(file: str, error: Exception) -> DataError:
    """The one-line error for a Parquet file that cannot be opened or read."""
    detail = str(error).splitlines()[0] if str(error) else "no detail"
    return DataError(file, None, f"unreadable Parquet file ({type(error).__name__}: {detail})")


def _raise_not_numbers(file: str, column: str, s: pd.Series, got: object) -> None:
    bad = non_number_rows(s)
    if len(bad):
        raise fail(file, column, f"wrong type: expected numbers, got {got}; {len(bad)} values are not numbers", bad, s.iloc[bad].tolist())
    raise fail(file, column, f"wrong type: expected numbers, got {got} (numbers stored as text)")


def _is_str(v: object) -> bool:
    return isinstance(v, str)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _is_str_list(v: object) -> bool:
    return isinstance(v, (list, tuple, np.ndarray)) and all(isinstance(x, str) for x in v)


def _bad_rows(s: pd.Series, ok) -> np.ndarray:
    """Positions of non-null values for which `ok(value)` is false."""
    values = s.to_numpy(dtype=object)
    return np.array([i for i, v in enumerate(values) if not _isnull(v) and not ok(v)], dtype=np.int64)


def _isnull(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, (list, tuple, np.ndarray)):
        return False
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _check_amounts(file: str, column: str, s: pd.Series) -> None:
    """Every numeric contract column (salaries, years of experience) is a finite amount >= 0; missing (null/NaN) is allowed."""
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    for bad, what in ((np.isinf(x), "infinite"), (x < 0, "negative (amounts are >= 0)")):
        rows = np.flatnonzero(bad)
        if len(rows):
            raise fail(file, column, f"{len(rows)} {what} values", rows, s.iloc[rows].tolist())


def check_frame_types(table: str, df: pd.DataFrame, file: str) -> None:
    """Check the pandas dtypes (or, for object columns, the values) of every contract column present."""
    _, contract, required, _ = schema.TABLES[table]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise fail(file, missing[0], f"required column missing (found: {', '.join(map(str, df.columns)) or 'none'})")
    for field in contract:
        if field.name not in df.columns:
            continue
        s = df[field.name]
        if len(s) and s.isna().all():
            continue
        kind = type_kind(field.type)
        if kind == "number":
            if pd.api.types.is_bool_dtype(s.dtype):
                raise fail(file, field.name, f"wrong type: expected numbers, got {s.dtype}")
            if not pd.api.types.is_numeric_dtype(s.dtype):
                bad = _bad_rows(s, _is_number)
                if len(bad):
                    raise fail(file, field.name, f"wrong type: expected numbers, got {s.dtype}; {len(bad)} values are not numbers", bad, s.iloc[bad].tolist())
            _check_amounts(file, field.name, s)
        elif kind == "string":
            if pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_object_dtype(s.dtype):
                continue
            bad = _bad_rows(s, _is_str)
            if len(bad):
                raise fail(file, field.name, f"wrong type: expected strings, got {len(bad)} non-string values", bad, s.iloc[bad].tolist())
        elif kind == "timestamp":
            if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
                continue
            bad = _bad_rows(s, lambda v: isinstance(v, (pd.Timestamp, np.datetime64)))
            if len(bad):
                raise fail(file, field.name, f"wrong type: expected timestamps, got {s.dtype}; {len(bad)} values are not timestamps", bad, s.iloc[bad].tolist())
        elif kind == "list":
            bad = _bad_rows(s, _is_str_list)
            if len(bad):
                raise fail(file, field.name, f"wrong type: expected lists of strings, got {len(bad)} other values", bad, s.iloc[bad].tolist())


# ----------------------------------------------------------------------------- frames


def is_empty_text(s: pd.Series) -> np.ndarray:
    """Boolean mask: null, or empty after removing HTML tags, `&nbsp;` and whitespace."""
    values = s.to_numpy(dtype=object)
    return np.array([_isnull(v) or not isinstance(v, str) or not _ENTITY.sub(" ", _TAG.sub(" ", v)).strip() for v in values], dtype=bool)


def _check_ids(df: pd.DataFrame, column: str, file: str) -> None:
    ids = df[column]
    null = np.flatnonzero(ids.isna().to_numpy() | (ids.astype(object).map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)))
    if len(null):
        raise fail(file, column, f"{len(null)} null or empty ids", null)
    dup = np.flatnonzero(ids.duplicated(keep=False).to_numpy())
    if len(dup):
        raise fail(file, column, f"{len(dup)} duplicate ids", dup, ids.iloc[dup].tolist())


def validate_frames(
    vacancies: pd.DataFrame,
    resumes: pd.DataFrame,
    interactions: pd.DataFrame | None,
    names: dict[str, str] | None = None,
) -> None:
    """Check three frames against the contract (rules 2-6 of the module docstring); raise `DataError` on the first violation.

    `names` maps table name ("vacancies", "resumes", "interactions") to the file name used
    in messages; defaults to the contract's file names.
    """
    files = {t: spec[0] for t, spec in schema.TABLES.items()} | dict(names or {})
    docs = {"vacancies": vacancies, "resumes": resumes}
    for table, df in docs.items():
        if not isinstance(df, pd.DataFrame):
            raise DataError(files[table], None, f"expected a table, got {type(df).__name__}")
        check_frame_types(table, df, files[table])
        _check_ids(df, schema.TABLES[table][3], files[table])
        body = schema.BODY_COLUMNS[table]
        empty = np.flatnonzero(is_empty_text(df[body]))
        if len(empty):
            ids = df[schema.TABLES[table][3]].iloc[empty].tolist()
            raise fail(files[table], body, f"{len(empty)} rows with empty text", empty, ids)
    if interactions is None:
        return
    file = files["interactions"]
    check_frame_types("interactions", interactions, file)
    for column in schema.INTERACTIONS_REQUIRED:
        null = np.flatnonzero(interactions[column].isna().to_numpy())
        if len(null):
            raise fail(file, column, f"{len(null)} null values", null)
    events = interactions[schema.EVENT]
    unknown = np.flatnonzero(~events.isin(schema.EVENTS).to_numpy())
    if len(unknown):
        raise fail(file, schema.EVENT, f"{len(unknown)} unknown event types (known: {', '.join(schema.EVENTS)})", unknown, events.iloc[unknown].tolist())
    for column, df in ((schema.RESUME_ID, resumes), (schema.VACANCY_ID, vacancies)):
        ref = interactions[column]
        dangling = np.flatnonzero(~ref.isin(df[column]).to_numpy())
        if len(dangling):
            table = "resumes" if column == schema.RESUME_ID else "vacancies"
            raise fail(file, column, f"{len(dangling)} interactions point to ids not in {files[table]}", dangling, ref.iloc[dangling].tolist())


# ----------------------------------------------------------------------------- folders


def read_table(path: Path, table: str) -> pd.DataFrame:
    """Read one contract file, checking its arrow schema first; errors name the file."""
    try:
        pf = pq.ParquetFile(path)
        got = pf.schema_arrow
    except (OSError, pa.ArrowException, ValueError) as e:
        raise unreadable_parquet(path.name, e) from e
    check_arrow_schema(table, got, path.name, read_column=lambda c: pf.read(columns=[c]).column(c).to_pandas())
    try:
        data = pf.read()
    except (OSError, pa.ArrowException, ValueError) as e:
        raise unreadable_parquet(path.name, e) from e
    _check_nan(table, data, path.name)
    return data.to_pandas()


def _check_nan(table: str, data: pa.Table, file: str) -> None:
    """A stored NaN in a numeric contract column is refused: a missing amount is null (pandas reads both as NaN, so
    only the file can tell them apart)."""
    import pyarrow.compute as pc

    for field in schema.TABLES[table][1]:
        if field.name in data.column_names and pa.types.is_floating(data.schema.field(field.name).type):
            nan = pc.fill_null(pc.is_nan(data.column(field.name)), False).to_numpy(zero_copy_only=False)
            rows = np.flatnonzero(nan)
            if len(rows):
                raise fail(file, field.name, f"{len(rows)} NaN values (write a missing amount as null)", rows)


def read_dir(root: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Read vacancies, resumes and (if present) interactions from a dataset folder, checking file schemas."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(str(root), None, "dataset folder not found")
    frames: dict[str, pd.DataFrame | None] = {}
    for table, (name, *_rest) in schema.TABLES.items():
        path = root / name
        if not path.exists():
            if table == "interactions":
                frames[table] = None
                continue
            raise DataError(str(path), None, f"required file missing (a dataset folder holds {schema.VACANCIES_FILE} and {schema.RESUMES_FILE})")
        frames[table] = read_table(path, table)
    return frames["vacancies"], frames["resumes"], frames["interactions"]  # type: ignore[return-value]


def summarize(vacancies: pd.DataFrame, resumes: pd.DataFrame, interactions: pd.DataFrame | None) -> dict:
    """Counts per table and the event histogram."""
    out: dict = {"vacancies": len(vacancies), "resumes": len(resumes), "interactions": None if interactions is None else len(interactions)}
    if interactions is not None:
        out["events"] = {str(k): int(v) for k, v in interactions[schema.EVENT].value_counts().sort_index().items()}
    out["optional_columns_absent"] = {
        t: [f.name for f in schema.TABLES[t][1] if f.name not in df.columns]
        for t, df in (("vacancies", vacancies), ("resumes", resumes), ("interactions", interactions))
        if df is not None
    }
    return out


def validate_dir(root: str | Path) -> dict:
    """Validate a dataset folder (all rules); return a summary or raise `DataError`."""
    vacancies, resumes, interactions = read_dir(root)
    validate_frames(vacancies, resumes, interactions)
    return summarize(vacancies, resumes, interactions)

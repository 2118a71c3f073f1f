"""A dataset folder in the contract (`dssm.schema`): load it validated, write it validated-then-atomically.

A folder holds `vacancies.parquet`, `resumes.parquet` (either may be empty) and optionally
`interactions.parquet`, plus any extra tables (e.g. `labelled_rankings.parquet`). On load,
`skills` cells are Python lists of str (or None where unknown) and timestamps are naive UTC.

>>> write_dataset("d", vacancies, resumes, interactions)  # doctest: +SKIP
>>> ds = load_dataset("d"); len(ds.vacancies)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dssm import schema
from dssm.errors import DataError
from dssm.io import write_parquet
from pipelines.data.contract import type_kind, read_dir, validate_frames


PREPROCESS_FILE = "preprocess.json"
"""Beside the tables of a summarized dataset: how its texts were cut (method, budget, summarizer and tokenizer hashes)."""


def read_preprocess(root: str | Path) -> dict | None:
    """The preprocessing record of a dataset folder (`PREPROCESS_FILE`), None for a folder of original texts."""
    import json

    path = Path(root) / PREPROCESS_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise DataError(str(path), None, f"not valid JSON ({e})") from e
    if not isinstance(record, dict):
        raise DataError(str(path), None, "expected a JSON object")
    return record


def read_truth_sentences(root: str | Path) -> pd.DataFrame | None:
    """A synthetic market's ground-truth sentence sections (DIR/truth/sentences.parquet), None for any other dataset."""
    from pipelines.data.synth.config import SENTENCES_FILE, TRUTH_DIR

    path = Path(root) / TRUTH_DIR / SENTENCES_FILE
    return pd.read_parquet(path) if path.is_file() else None


def read_truth_profiles(root: str | Path, kind: str) -> pd.DataFrame | None:
    """A synthetic market's hidden profiles of `kind` ("vacancies" or "resumes": id, role, skills, ...), None for any other dataset."""
    from pipelines.data.synth.config import RESUME_PROFILES, TRUTH_DIR, VACANCY_PROFILES

    path = Path(root) / TRUTH_DIR / {"vacancies": VACANCY_PROFILES, "resumes": RESUME_PROFILES}[kind]
    return pd.read_parquet(path) if path.is_file() else None


@dataclass
class Dataset:
    """The three contract tables of one folder."""

    root: Path
    """The folder the tables were read from."""
    vacancies: pd.DataFrame
    """One row per vacancy, `vacancy_id` unique."""
    resumes: pd.DataFrame
    """One row per resume, `resume_id` unique."""
    interactions: pd.DataFrame | None
    """One row per event; None when the folder has no interactions.parquet."""

    @property
    def documents(self) -> dict[str, pd.DataFrame]:
        """kind -> its table, for the two document kinds: {"vacancies": ..., "resumes": ...}."""
        return {"vacancies": self.vacancies, "resumes": self.resumes}


def load_dataset(root: str | Path, validate: bool = True) -> Dataset:
    """Read a dataset folder; with `validate` (default) raise `DataError` on any contract violation."""
    root = Path(root)
    if validate:
        vacancies, resumes, interactions = read_dir(root)
        validate_frames(vacancies, resumes, interactions)
    else:
        paths = {t: root / spec[0] for t, spec in schema.TABLES.items()}
        vacancies, resumes = (pq.read_table(paths[t]).to_pandas() for t in ("vacancies", "resumes"))
        interactions = pq.read_table(paths["interactions"]).to_pandas() if paths["interactions"].exists() else None
    return Dataset(root, normalise_frame(vacancies), normalise_frame(resumes), None if interactions is None else normalise_frame(interactions))


def dataset_table(root: str | Path, kind: str) -> Path:
    """The Parquet file of table `kind` in dataset folder `root`, its schema checked (columns and types; not the rows),
    for engines that read the file themselves (`encode --engine ray`)."""
    from pipelines.data.contract import check_arrow_schema, unreadable_parquet

    root = Path(root)
    if not root.is_dir():
        raise DataError(str(root), None, "dataset folder not found")
    path = root / schema.TABLES[kind][0]
    if not path.exists():
        raise DataError(str(path), None, "required file missing")
    try:
        got = pq.read_schema(path)
    except Exception as e:  # pyarrow raises several kinds for a damaged file
        raise unreadable_parquet(str(path), e) from e
    check_arrow_schema(kind, got, str(path))
    return path


def normalise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Lists as Python lists, time-zone-aware timestamps as naive UTC (what `load_dataset` gives every table)."""
    df = df.copy()
    for column in df.columns:
        s = df[column]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            df[column] = s.dt.tz_convert("UTC").dt.tz_localize(None)
        elif column == "skills":
            df[column] = [list(v) if isinstance(v, (list, tuple, np.ndarray)) else None for v in s.to_numpy(dtype=object)]
    return df


def _column_to_arrow(s: pd.Series, t: pa.DataType) -> pa.Array:
    kind = type_kind(t)
    values = s.to_numpy(dtype=object)
    if kind == "string":
        return pa.array([None if _null(v) else v for v in values], type=t)
    if kind == "number":
        return pa.array(pd.to_numeric(s).astype("float64").to_numpy(), type=t, from_pandas=True)
    if kind == "timestamp":
        ts = pd.to_datetime(s)
        if isinstance(ts.dtype, pd.DatetimeTZDtype):
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
        return pa.array(ts.astype("datetime64[us]").to_numpy(), type=t, from_pandas=True)
    if kind == "list":
        return pa.array([None if _null(v) else [str(x) for x in v] for v in values], type=t)
    raise AssertionError(f"no arrow conversion for contract type {t}")


def _null(v: object) -> bool:
    if v is None or isinstance(v, (list, tuple, np.ndarray)):
        return v is None
    return bool(pd.isna(v))


def to_arrow(table: str, df: pd.DataFrame, file: str) -> pa.Table:
    """Cast a (validated) frame to the contract: contract columns first in schema order, extra columns after."""
    contract = schema.TABLES[table][1]
    fields, arrays = [], []
    for field in contract:
        if field.name in df.columns:
            fields.append(field)
            arrays.append(_column_to_arrow(df[field.name], field.type))
    for column in df.columns:
        if column in contract.names:
            continue
        try:
            arr = pa.array(df[column], from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError) as e:
            raise DataError(file, str(column), f"extra column cannot be stored in Parquet ({type(e).__name__}: {e})") from e
        fields.append(pa.field(str(column), arr.type))
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_dataset(
    root: str | Path,
    vacancies: pd.DataFrame,
    resumes: pd.DataFrame,
    interactions: pd.DataFrame | None = None,
    extra: dict[str, pd.DataFrame] | None = None,
) -> None:
    """Validate, cast to the contract schema, then write each table atomically.

    Nothing is written when validation or casting fails. `extra` maps a file stem to another
    table written beside the contract files (e.g. {"rankings": df} -> rankings.parquet).
    When `interactions` is None a stale interactions.parquet in `root` is removed, so the
    folder never pairs new documents with old events.
    """
    root = Path(root)
    validate_frames(vacancies, resumes, interactions)
    tables = {
        schema.VACANCIES_FILE: to_arrow("vacancies", vacancies, schema.VACANCIES_FILE),
        schema.RESUMES_FILE: to_arrow("resumes", resumes, schema.RESUMES_FILE),
    }
    if interactions is not None:
        tables[schema.INTERACTIONS_FILE] = to_arrow("interactions", interactions, schema.INTERACTIONS_FILE)
    for stem, df in (extra or {}).items():
        name = f"{stem}.parquet"
        if name in tables or name == schema.INTERACTIONS_FILE:
            raise DataError(name, None, "extra table would overwrite a contract table")
        try:
            tables[name] = pa.Table.from_pandas(df, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as e:
            raise DataError(name, None, f"extra table cannot be stored in Parquet ({type(e).__name__}: {e})") from e
    root.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        write_parquet(root / name, table)
    if interactions is None:
        (root / schema.INTERACTIONS_FILE).unlink(missing_ok=True)

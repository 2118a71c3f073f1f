"""The data contract: a tiny hand-made dataset passes; each hand-broken copy fails with one precise line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dssm.errors import DataError
from pipelines.cli import main
from pipelines.data.dataset import Dataset, load_dataset, write_dataset
from pipelines.data.contract import validate_dir, validate_frames


def _vacancies() -> pa.Table:
    return pa.table(
        {
            "vacancy_id": ["v0", "v1", "v2", "v3"],
            "title": ["Java разработчик", "Аналитик", None, "DevOps"],
            "description": ["<p>Пишем на Java.</p>", "SQL, отчёты.", "Склад, смены.", "<ul><li>Kubernetes</li></ul>"],
            "skills": pa.array([["Java"], [], None, ["k8s", "Linux"]], type=pa.list_(pa.string())),
            "area": ["Москва", "Минск", None, "Москва"],
            "salary_from": pa.array([100000, None, 50000, None], type=pa.int64()),
            "updated_at": pa.array([1_600_000_000_000, None, 1_600_000_100_000, 1_600_000_200_000], type=pa.timestamp("ms", tz="Europe/Moscow")),
            "source": ["hh", "hh", "sj", "sj"],
        }
    )


def _resumes() -> pa.Table:
    return pa.table(
        {
            "resume_id": ["r0", "r1", "r2"],
            "title": ["Java developer", None, "Кладовщик"],
            "text": ["Java, Spring, 5 лет.", "Аналитик данных, SQL.", "Работал на складе."],
            "salary": [200000.0, None, 40000.0],
        }
    )


def _interactions() -> pa.Table:
    return pa.table(
        {
            "resume_id": ["r0", "r0", "r1", "r2", "r2"],
            "vacancy_id": ["v0", "v3", "v1", "v2", "v2"],
            "event": ["view", "response", "invite", "view", "reject"],
            "ts": pa.array([1, 2, 3, 4, None], type=pa.timestamp("us")),
        }
    )


def _write(root: Path, vacancies: pa.Table, resumes: pa.Table, interactions: pa.Table | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(vacancies, root / "vacancies.parquet")
    pq.write_table(resumes, root / "resumes.parquet")
    if interactions is not None:
        pq.write_table(interactions, root / "interactions.parquet")
    return root


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return _write(tmp_path / "good", _vacancies(), _resumes(), _interactions())


def _set(table: pa.Table, column: str, values, type=None) -> pa.Table:
    i = table.schema.get_field_index(column)
    return table.set_column(i, column, pa.array(values, type=type))


def _error(root: Path) -> str:
    with pytest.raises(DataError) as e:
        validate_dir(root)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_good_dataset_passes_with_summary(good):
    summary = validate_dir(good)
    assert summary["vacancies"] == 4 and summary["resumes"] == 3 and summary["interactions"] == 5
    assert summary["events"] == {"invite": 1, "reject": 1, "response": 1, "view": 2}
    assert "professional_role" in summary["optional_columns_absent"]["vacancies"]


def test_categorical_and_int_columns_pass(tmp_path):
    v = _vacancies().to_pandas()
    v["area"] = v["area"].astype("category")
    root = tmp_path / "d"
    root.mkdir()
    v.to_parquet(root / "vacancies.parquet")
    pq.write_table(_resumes(), root / "resumes.parquet")
    assert validate_dir(root)["vacancies"] == 4
    assert load_dataset(root).vacancies["area"].tolist()[:2] == ["Москва", "Минск"]


def test_int_id_is_wrong_type(tmp_path):
    root = _write(tmp_path / "d", _set(_vacancies(), "vacancy_id", [1, 2, 3, 4]), _resumes(), None)
    assert _error(root) == "vacancies.parquet: column vacancy_id: wrong type: expected string (string), got int64"


def test_interactions_are_optional_and_tables_may_be_empty(tmp_path):
    root = _write(tmp_path / "d", _vacancies(), _resumes().slice(0, 0), None)
    assert validate_dir(root) == {**validate_dir(root), "resumes": 0, "interactions": None}


def test_dropped_required_column(tmp_path):
    root = _write(tmp_path / "d", _vacancies().drop_columns(["description"]), _resumes(), _interactions())
    assert _error(root) == (
        "vacancies.parquet: column description: required column missing "
        "(found: vacancy_id, title, skills, area, salary_from, updated_at, source)"
    )


def test_duplicate_id(tmp_path):
    v = _set(_vacancies(), "vacancy_id", ["v0", "v1", "v0", "v3"])
    root = _write(tmp_path / "d", v, _resumes(), None)
    assert _error(root) == "vacancies.parquet: column vacancy_id: 2 duplicate ids (rows 0, 2: 'v0', 'v0')"
    err = pytest.raises(DataError, validate_dir, root).value
    assert (err.file, err.column, err.rows) == ("vacancies.parquet", "vacancy_id", [0, 2])


def test_null_id(tmp_path):
    r = _set(_resumes(), "resume_id", ["r0", None, "r2"])
    root = _write(tmp_path / "d", _vacancies(), r, None)
    assert _error(root) == "resumes.parquet: column resume_id: 1 null or empty ids (rows 1)"


def test_dangling_interaction(tmp_path):
    i = _set(_interactions(), "vacancy_id", ["v0", "v3", "v9", "v2", "v8"])
    root = _write(tmp_path / "d", _vacancies(), _resumes(), i)
    assert _error(root) == (
        "interactions.parquet: column vacancy_id: 2 interactions point to ids not in vacancies.parquet (rows 2, 4: 'v9', 'v8')"
    )
    i = _set(_interactions(), "resume_id", ["r0", "r7", "r1", "r2", "r2"])
    root = _write(tmp_path / "e", _vacancies(), _resumes(), i)
    assert _error(root) == "interactions.parquet: column resume_id: 1 interactions point to ids not in resumes.parquet (rows 1: 'r7')"


def test_unknown_event(tmp_path):
    i = _set(_interactions(), "event", ["view", "click", "invite", "view", "reject"])
    root = _write(tmp_path / "d", _vacancies(), _resumes(), i)
    assert _error(root) == (
        "interactions.parquet: column event: 1 unknown event types (known: view, response, invite, reject) (rows 1: 'click')"
    )


def test_empty_text(tmp_path):
    v = _set(_vacancies(), "description", ["<p>Java</p>", "  ", "<p> &nbsp; </p>", None])
    root = _write(tmp_path / "d", v, _resumes(), None)
    assert _error(root) == "vacancies.parquet: column description: 3 rows with empty text (rows 1, 2, 3: 'v1', 'v2', 'v3')"


def test_wrong_type_string_instead_of_number(tmp_path):
    v = _set(_vacancies(), "salary_from", ["100000", "от 50 000", None, "n/a"])
    root = _write(tmp_path / "d", v, _resumes(), None)
    assert _error(root) == (
        "vacancies.parquet: column salary_from: wrong type: expected numbers, got string; 2 values are not numbers (rows 1, 3: 'от 50 000', 'n/a')"
    )


def test_wrong_type_other(tmp_path):
    v = _set(_vacancies(), "skills", ["Java", "SQL", None, "k8s"])
    root = _write(tmp_path / "d", v, _resumes(), None)
    assert _error(root) == "vacancies.parquet: column skills: wrong type: expected list (list<item: string>), got string"
    v = _set(_vacancies(), "updated_at", ["2021-01-01", None, None, None])
    root = _write(tmp_path / "e", v, _resumes(), None)
    assert _error(root) == "vacancies.parquet: column updated_at: wrong type: expected timestamp (timestamp[us]), got string"


def test_missing_and_corrupt_files(tmp_path, good):
    (good / "resumes.parquet").unlink()
    assert _error(good).endswith("resumes.parquet: required file missing (a dataset folder holds vacancies.parquet and resumes.parquet)")
    bad = _write(tmp_path / "c", _vacancies(), _resumes(), None)
    (bad / "vacancies.parquet").write_bytes(b"PAR1 not really parquet")
    assert _error(bad).startswith("vacancies.parquet: unreadable Parquet file (")
    assert _error(tmp_path / "nowhere").endswith("nowhere: dataset folder not found")


def _frames(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return (pq.read_table(root / f).to_pandas() for f in ("vacancies.parquet", "resumes.parquet", "interactions.parquet"))  # type: ignore[return-value]


def test_write_dataset_round_trip(tmp_path, good):
    v, r, i = _frames(good)
    out = tmp_path / "out"
    write_dataset(out, v, r, i, extra={"rankings": pd.DataFrame({"resume_id": ["r0"], "ranking": [[2, 1]]})})
    ds = load_dataset(out)
    assert isinstance(ds, Dataset) and ds.root == out
    assert ds.vacancies["vacancy_id"].tolist() == ["v0", "v1", "v2", "v3"]
    assert ds.vacancies["skills"].tolist() == [["Java"], [], None, ["k8s", "Linux"]]
    assert ds.vacancies["salary_from"].dtype == "float64"
    assert str(ds.vacancies["updated_at"].dtype) == "datetime64[us]"  # naive UTC
    assert ds.vacancies["updated_at"].iloc[0] == pd.Timestamp("2020-09-13 12:26:40")
    assert list(ds.vacancies.columns)[-1] == "source"  # extra columns kept, after the contract's
    assert pq.read_schema(out / "vacancies.parquet").field("salary_from").type == pa.float64()
    assert (out / "rankings.parquet").exists()
    write_dataset(out, v, r, None)
    assert load_dataset(out).interactions is None  # a stale interactions file is removed


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("drop", "vacancies.parquet: column title: required column missing"),
        ("dup", "resumes.parquet: column resume_id: 2 duplicate ids (rows 0, 1: 'r0', 'r0')"),
        ("dangling", "interactions.parquet: column resume_id: 1 interactions point to ids not in resumes.parquet (rows 0: 'ghost')"),
    ],
)
def test_write_dataset_writes_nothing_on_bad_frames(tmp_path, good, breakage, message):
    v, r, i = _frames(good)
    if breakage == "drop":
        v = v.drop(columns=["title"])
    elif breakage == "dup":
        r.loc[1, "resume_id"] = "r0"
    else:
        i.loc[0, "resume_id"] = "ghost"
    out = tmp_path / "out"
    with pytest.raises(DataError) as e:
        write_dataset(out, v, r, i)
    assert str(e.value).startswith(message)
    assert not out.exists()
    shutil.copytree(good, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(DataError):
        write_dataset(out, v, r, i)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_validate_frames_types_and_names():
    v = pd.DataFrame({"vacancy_id": ["a", "b"], "title": ["x", "y"], "description": ["d", "e"], "salary_to": [1.0, "много"]})
    r = pd.DataFrame({"resume_id": pd.Series([], dtype=str), "title": pd.Series([], dtype=str), "text": pd.Series([], dtype=str)})
    with pytest.raises(DataError) as e:
        validate_frames(v, r, None, names={"vacancies": "in/v.parquet"})
    assert str(e.value) == "in/v.parquet: column salary_to: wrong type: expected numbers, got object; 1 values are not numbers (rows 1: 'много')"
    v["salary_to"] = [1.0, None]
    v["vacancy_id"] = ["a", 7]
    with pytest.raises(DataError, match=r"column vacancy_id: wrong type: expected strings, got 1 non-string values \(rows 1: 7\)"):
        validate_frames(v, r, None)


def test_cli_validate_exit_codes(good, tmp_path, capsys):
    assert main(["validate", str(good)]) == 0
    assert "OK: 4 vacancies, 3 resumes, 5 interactions" in capsys.readouterr().out
    assert main(["validate", str(good), "--json"]) == 0
    assert '"vacancies": 4' in capsys.readouterr().out
    broken = _write(tmp_path / "b", _set(_vacancies(), "vacancy_id", ["v0", "v0", "v2", "v3"]), _resumes(), None)
    assert main(["validate", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err == "jobmatch validate: error: vacancies.parquet: column vacancy_id: 2 duplicate ids (rows 0, 1: 'v0', 'v0')\n"

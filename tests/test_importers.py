"""Importers map the real public sets into the contract; every import validates."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dssm import schema
from dssm.errors import JobmatchError
from pipelines.cli import main
from pipelines.data.dataset import load_dataset
from pipelines.data.importers import (
    IMPORTERS,
    experience_years_from_entries,
    headline,
    import_datasets,
    normalise_currency,
    normalise_employment,
    normalise_experience,
    normalise_schedule,
    parse_years,
    superjob_area,
)
from pipelines.data.contract import validate_dir


def test_vocabularies():
    assert [normalise_experience(x) for x in ["От 1 года до 3 лет", "1–3 года", "опыт работы от 1 года"]] == ["between1And3"] * 3
    assert [normalise_experience(x) for x in ["От 3 до 6 лет", "3–6 лет", "опыт работы от 3 лет"]] == ["between3And6"] * 3
    assert [normalise_experience(x) for x in ["Нет опыта", "не требуется", "опыт работы не требуется"]] == ["noExperience"] * 3
    assert [normalise_experience(x) for x in ["Более 6 лет", "более 6 лет", "опыт работы от 6 лет", "полная занятость", None]] == [
        "moreThan6", "moreThan6", "moreThan6", None, None,
    ]
    assert normalise_employment("Частичная занятость") == "part" and normalise_employment("сменный график работы") is None
    assert normalise_schedule("Удаленная работа") == "remote" and normalise_schedule("5/2 с 9:00 до 18:00") is None
    assert [normalise_currency(x) for x in ["RUB", "rur", "BYR", "USD", None, ""]] == ["RUR", "RUR", "BYR", "USD", None, None]
    assert parse_years("Опыт работы 7 лет 10 месяцев") == pytest.approx(7 + 10 / 12)
    assert parse_years("6 месяцев") == 0.5 and parse_years("нет") is None
    assert experience_years_from_entries('[{"starts": "2023-02-01", "ends": null}]') == 1.0
    assert superjob_area("Крылатское, Москва, Осенний бульвар, 12к1") == "Москва"
    assert superjob_area("Московская обл., Ногинский р-н, тер Ногинск-Технопарк") == "тер Ногинск-Технопарк"
    assert headline("****\n\nJava full stack developer\n...") == "Java full stack developer"


def _import(shared_data: Path, name: str, out: Path) -> dict:
    manifest = import_datasets([name], None, out, src=shared_data / name)
    summary = validate_dir(out)
    assert manifest["rows"]["vacancies"] == summary["vacancies"] and manifest["rows"]["resumes"] == summary["resumes"]
    saved = json.loads((out / "import_manifest.json").read_text(encoding="utf-8"))
    assert saved["datasets"][0]["name"] == name and saved["datasets"][0]["source"]["sources"]
    return summary


def test_hh_vacancies_ru(shared_data, tmp_path):
    summary = _import(shared_data, "hh_vacancies_ru", tmp_path / "hh")
    assert summary["vacancies"] > 3000 and summary["resumes"] == 0 and summary["interactions"] is None
    v = load_dataset(tmp_path / "hh").vacancies
    assert v["description"].str.startswith("<").sum() > 3000  # raw HTML kept
    assert v["text"].str.contains("<p>").sum() == 0  # plain text beside it
    assert set(v["currency"].dropna()) <= {"RUR", "BYR", "USD", "EUR"}
    assert set(v["experience"].dropna()) <= set(schema.EXPERIENCE_LEVELS) and v["experience"].notna().all()
    assert set(v["employment"].dropna()) <= set(schema.EMPLOYMENT_TYPES)
    assert v["updated_at"].notna().all() and v["updated_at"].min() >= pd.Timestamp("2020-01-01")
    assert v["professional_role"].notna().sum() > 2000
    assert "Тестировщик" in set(v["professional_role"])


def test_superjob_and_merge_with_prefixed_ids(shared_data, tmp_path):
    summary = _import(shared_data, "superjob_it_ru", tmp_path / "sj")
    assert summary["vacancies"] > 400 and summary["resumes"] > 200
    ds = load_dataset(tmp_path / "sj")
    assert ds.vacancies["experience"].notna().mean() > 0.7 and ds.vacancies["area"].notna().mean() > 0.9
    assert ds.resumes["experience_years"].notna().mean() > 0.8
    out = tmp_path / "market"
    assert main(["import", "hh_vacancies_ru", "superjob_it_ru", "--src-root", str(shared_data), "--out", str(out)]) == 0
    merged = load_dataset(out)
    prefixes = merged.vacancies["vacancy_id"].str.split(":").str[0].value_counts()
    assert prefixes["hh"] > 3000 and prefixes["sj"] > 400
    assert len(merged.vacancies) == prefixes.sum() and merged.resumes["resume_id"].str.startswith("sj:").all()
    assert set(merged.vacancies["source"]) == {"hh_vacancies_ru", "superjob_it_ru"}


def test_talentmatch_outcomes_as_interactions(shared_data, tmp_path):
    summary = _import(shared_data, "talentmatch_ru", tmp_path / "tm")
    assert summary["vacancies"] == 29
    ds = load_dataset(tmp_path / "tm")
    i = ds.interactions
    assert i is not None and len(i) == 517  # 518 pairs; one resume has no text and is dropped (in the manifest)
    assert set(i["event"]) == {"invite", "reject"} and i["ts"].isna().all()
    assert (i["label"] == (i["event"] == "invite")).all()
    assert 0.25 < i["label"].mean() < 0.35
    assert i.groupby("vacancy_id")["label"].agg(["min", "max"]).eq([0, 1]).all().all()  # every vacancy has both outcomes
    manifest = json.loads((tmp_path / "tm" / "import_manifest.json").read_text(encoding="utf-8"))
    assert manifest["datasets"][0]["dropped"] == {"resumes: empty text": 1, "interactions: document dropped or missing": 1}


@pytest.mark.parametrize(
    "name, n_vacancies, n_resumes",
    [("hh_resumes_frontend_ru", 0, 150), ("glassdoor_ds_jobs_en", 800, 0), ("livecareer_resumes_en", 0, 1900), ("vanetik_cv_vacancy_ranking_en", 5, 50)],
)
def test_other_sets_validate(shared_data, tmp_path, name, n_vacancies, n_resumes):
    summary = _import(shared_data, name, tmp_path / name)
    assert summary["vacancies"] >= n_vacancies and summary["resumes"] >= n_resumes
    assert (summary["vacancies"] == 0) == (n_vacancies == 0) and (summary["resumes"] == 0) == (n_resumes == 0)


def test_import_cli_errors(tmp_path, capsys):
    assert main(["import", "hh_vacancies_ru", "--src", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "missing: source folder not found" in capsys.readouterr().err
    with pytest.raises(JobmatchError, match="--src takes one dataset folder"):
        import_datasets(["hh_vacancies_ru", "superjob_it_ru"], None, tmp_path / "o", src=tmp_path)
    assert not (tmp_path / "o").exists()
    assert set(IMPORTERS) >= {"hh_vacancies_ru", "superjob_it_ru", "hh_resumes_frontend_ru", "talentmatch_ru"}

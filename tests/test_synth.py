"""The synthetic market: contract, sentence truth, determinism, utility, signal, boilerplate presets,
calibration statistics, semi-synthetic mode on real hh.ru vacancies."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from dssm import schema
from dssm.text import document_sentences
from pipelines.cli import main
from pipelines.data.synth import lexicon as lx
from pipelines.data.synth.calibrate import document_stats, format_table
from pipelines.data.synth.config import INFORMATIVE_SECTIONS, SynthConfig, boilerplate_preset
from pipelines.data.synth.market import generate_market
from pipelines.data.synth.utility import MarketUtility


def test_synth_then_validate_passes(tiny_market, capsys):
    assert main(["validate", str(tiny_market), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["vacancies"] == 300 and summary["resumes"] == 200 and summary["interactions"] > 2000
    for name in ("sentences", "utility", "vacancy_profiles", "resume_profiles"):
        assert (tiny_market / "truth" / f"{name}.parquet").is_file()
    cfg = (tiny_market / "truth" / "config.yaml").read_text(encoding="utf-8")
    assert "seed: 0" in cfg and "versions:" in cfg


def _broken_copy(src, dst, table: str, breakage):
    import shutil

    shutil.copytree(src, dst)
    frame = pd.read_parquet(dst / f"{table}.parquet")
    breakage(frame).to_parquet(dst / f"{table}.parquet", index=False)
    return dst


@pytest.mark.parametrize(
    "table, breakage, expected",
    [
        ("vacancies", lambda f: f.drop(columns=["description"]), r"^vacancies\.parquet: column description: required column missing"),
        ("resumes", lambda f: pd.concat([f, f.iloc[[3]]], ignore_index=True), r"^resumes\.parquet: column resume_id: 2 duplicate ids \(rows 3, 200: "),
        ("interactions", lambda f: f.assign(vacancy_id=f["vacancy_id"].where(f.index != 5, "v_gone")),
         r"^interactions\.parquet: column vacancy_id: 1 interactions point to ids not in vacancies\.parquet \(rows 5: 'v_gone'\)"),
    ],
    ids=["dropped_column", "duplicate_id", "dangling_interaction"],
)
def test_hand_broken_synth_output_fails_validate_with_one_line(tiny_market, tmp_path, capsys, table, breakage, expected):
    broken = _broken_copy(tiny_market, tmp_path / "broken", table, breakage)
    before = {p.name: p.read_bytes() for p in broken.glob("*.parquet")}
    assert main(["validate", str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and re.search(expected, err.removeprefix("jobmatch validate: error: ")), err
    assert {p.name: p.read_bytes() for p in broken.glob("*.parquet")} == before


def test_frames_match_the_contract_types(tiny_market):
    import pyarrow.parquet as pq

    for table, (file, contract, _, _) in schema.TABLES.items():
        got = pq.read_schema(tiny_market / file)
        for f in contract:
            assert got.field(f.name).type == f.type, (table, f.name)


def test_truth_sentences_are_the_project_splitter_output(tiny_market):
    sents = pd.read_parquet(tiny_market / "truth" / "sentences.parquet")
    by_doc = {k: d.sort_values("sent_idx") for k, d in sents.groupby("doc_id")}
    for kind, (title_col, body_col) in schema.TEXT_COLUMNS.items():
        df = pd.read_parquet(tiny_market / schema.TABLES[kind][0])
        id_col = schema.TABLES[kind][3]
        for doc_id, title, body in zip(df[id_col], df[title_col], df[body_col]):
            truth = by_doc[doc_id]
            assert truth["sent_idx"].tolist() == list(range(len(truth)))
            assert document_sentences(title, body) == truth["text"].tolist(), doc_id
    v = sents[sents["kind"] == "vacancies"]
    assert set(v["section"]) >= {"title", "boilerplate", "duties", "requirements", "conditions"}


def test_every_stack_skill_is_named_in_an_informative_section(tiny_market):
    v = pd.read_parquet(tiny_market / schema.VACANCIES_FILE)
    s = pd.read_parquet(tiny_market / "truth" / "sentences.parquet")
    info = s[s["section"].isin(INFORMATIVE_SECTIONS)].groupby("doc_id")["text"].apply(" ".join)
    other = s[~s["section"].isin(INFORMATIVE_SECTIONS) & (s["section"] != "title")].groupby("doc_id")["text"].apply(" ".join)
    for vid, skills in zip(v[schema.VACANCY_ID], v["skills"]):
        for skill in skills:
            assert skill in info[vid], (vid, skill)
            assert not re.search(r"(?<!\w)" + re.escape(skill) + r"(?!\w)", other.get(vid, "")), (vid, skill)


def test_deterministic_by_seed():
    a = generate_market(SynthConfig(n_vacancies=40, n_resumes=30, seed=3))
    b = generate_market(SynthConfig(n_vacancies=40, n_resumes=30, seed=3))
    c = generate_market(SynthConfig(n_vacancies=40, n_resumes=30, seed=4))
    for name in ("vacancies", "resumes", "interactions", "sentences", "utility"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not a.vacancies["description"].equals(c.vacancies["description"])


def test_event_log_is_causal_and_spread_over_the_window(tiny_market):
    log = pd.read_parquet(tiny_market / schema.INTERACTIONS_FILE)
    assert log[schema.TS].is_monotonic_increasing
    assert not log.duplicated([schema.RESUME_ID, schema.VACANCY_ID, schema.EVENT]).any()
    first = log.groupby([schema.RESUME_ID, schema.VACANCY_ID, schema.EVENT])[schema.TS].min().unstack()
    resp = first.dropna(subset=["response"])
    assert (resp["view"] <= resp["response"]).all()
    for ev in ("invite", "reject"):
        got = first.dropna(subset=[ev])
        assert got["response"].notna().all() and (got["response"] <= got[ev]).all()
    assert not (first["invite"].notna() & first["reject"].notna()).any()
    weeks = (log[schema.TS] - log[schema.TS].min()).dt.days // 7
    assert weeks.nunique() >= 7
    pos = log[schema.EVENT].isin(schema.POSITIVE_EVENTS).mean()
    assert 0.12 < pos < 0.3


def test_utility_is_recomputable_and_drives_responses(tiny_market):
    util = pd.read_parquet(tiny_market / "truth" / "utility.parquet")
    U = MarketUtility.load(tiny_market)
    np.testing.assert_allclose(U(util[schema.RESUME_ID].to_numpy(), util[schema.VACANCY_ID].to_numpy()), util["utility"].to_numpy(), rtol=1e-12)
    log = pd.read_parquet(tiny_market / schema.INTERACTIONS_FILE)
    responded = set(zip(*log.loc[log[schema.EVENT] == "response", [schema.RESUME_ID, schema.VACANCY_ID]].T.to_numpy()))
    shown = util[util["shown"]].copy()
    shown["pos"] = [p in responded for p in zip(shown[schema.RESUME_ID], shown[schema.VACANCY_ID])]
    assert shown["pos"].sum() > 100
    assert shown.loc[shown["pos"], "utility"].mean() > shown.loc[~shown["pos"], "utility"].mean() + 1.5
    # within a role, the stack overlap separates positives from viewed negatives (a model must read the body)
    same = shown[shown["same_role"]]
    assert same.loc[same["pos"], "skill_overlap"].mean() > same.loc[~same["pos"], "skill_overlap"].mean() + 0.15
    unshown = util[~util["shown"]]
    assert len(unshown) > 0 and unshown["skill_overlap"].mean() < 0.15


def test_titles_are_shared_between_roles(tiny_market):
    prof = pd.read_parquet(tiny_market / "truth" / "vacancy_profiles.parquet")
    v = pd.read_parquet(tiny_market / schema.VACANCIES_FILE).merge(prof[[schema.VACANCY_ID, "role"]], on=schema.VACANCY_ID)
    roles_per_title = v.groupby("title")["role"].nunique()
    ambiguous = v["title"].map(roles_per_title) > 1
    assert ambiguous.mean() > 0.3


def test_boilerplate_presets_and_errors():
    from dssm.errors import JobmatchError

    assert boilerplate_preset("1.0") == (1.0, 0)
    assert boilerplate_preset("2.5") == (2.5, 0)
    assert boilerplate_preset("java")[1] >= 300
    for bad in ("nope", "0", "-1"):
        with pytest.raises(JobmatchError):
            boilerplate_preset(bad)
    with pytest.raises(ValueError):
        SynthConfig(n_vacancies=0)
    with pytest.raises(ValueError):
        SynthConfig(share_same_role=0.9, share_near_role=0.2)


def test_cli_refuses_bad_boilerplate(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "m"), "--vacancies", "5", "--resumes", "5", "--boilerplate", "lots"]) == 2
    assert "--boilerplate" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


class WordTokenizer:
    """One id per whitespace-separated word: token positions are word positions."""

    def encode_sentences(self, sentences):
        return [[5] * len(s.split()) for s in sentences]

    def encode_documents(self, docs):
        return [self.encode_sentences(d) for d in docs]


def test_calibration_statistics_known_answer():
    body = "<p>" + " ".join(["слово"] * 9) + "</p><ul><li>знание Python;</li></ul><p>SQL и Python.</p>"
    v = pd.DataFrame({"title": ["Разработчик Python", "Аналитик"], "description": [body, "<p>Excel</p>"], "skills": [["Python", "SQL"], ["Excel", "Tableau"]]})
    s = document_stats(v, WordTokenizer(), cut=12)
    # doc 0: title 2 words, 9 words, "- знание Python;" (3 tokens) at 11, "SQL и Python." at 14: mentions at 13, 14, 16 (title skipped)
    assert s["length_percentiles"]["p50"] == pytest.approx((17 + 2) / 2)
    assert s["n_skill_mentions"] == 4 and s["share_mentions_beyond_cut"] == pytest.approx(3 / 4)
    assert s["share_skill_entries_found"] == pytest.approx(3 / 4)
    assert s["share_longer_than_cut"] == pytest.approx(0.5)
    assert s["share_documents_all_mentions_beyond_cut"] == pytest.approx(0.5)
    assert "mentions beyond cut" in format_table({"a": s, "b": s})


def test_java_preset_puts_every_skill_beyond_300_tokens():
    m = generate_market(SynthConfig(n_vacancies=40, n_resumes=10, seed=1, boilerplate=boilerplate_preset("java")[0], min_intro_words=boilerplate_preset("java")[1]))
    s = document_stats(m.vacancies, WordTokenizer(), cut=300)  # a BPE tokenizer gives >= 1 token per word
    assert s["share_documents_all_mentions_beyond_cut"] == 1.0
    d = document_stats(generate_market(SynthConfig(n_vacancies=40, n_resumes=10, seed=1)).vacancies, WordTokenizer(), cut=300)
    assert d["share_mentions_beyond_cut"] < 0.5


def test_calibrate_cli_side_by_side(tiny_market, tmp_path, capsys):
    from dssm.tokenizer import Tokenizer
    from dssm.text import frame_documents

    v = pd.read_parquet(tiny_market / schema.VACANCIES_FILE)
    tok = Tokenizer.train([" ".join(d) for d in frame_documents(v.head(60), "vacancies")], tmp_path / "tok", vocab_size=400)
    assert main(["calibrate", "--real", str(tiny_market), "--synth", str(tiny_market), "--tokenizer", str(tok.path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["real"] == out["synthetic"] and out["real"]["n_documents"] == 300


def test_semi_synthetic_holdout_leaves_out_the_evaluation_split(tiny_market, tmp_path, capsys):
    from pipelines.data.split import MARKET_HOLDOUT_SALT, holdout_mask

    ids = pd.read_parquet(tiny_market / schema.VACANCIES_FILE)[schema.VACANCY_ID].astype(str)
    held = set(ids[holdout_mask(ids.tolist(), 0.25, MARKET_HOLDOUT_SALT)])
    assert 40 < len(held) < 110
    assert len(held & set(ids[holdout_mask(ids.tolist(), 0.25)])) < 0.5 * len(held)  # not the summarizer's own held-out split
    out = tmp_path / "semi"
    assert main(["synth", "--vacancies-from", str(tiny_market), "--holdout", "0.25", "--out", str(out), "--resumes", "100"]) == 0
    kept = set(pd.read_parquet(out / schema.VACANCIES_FILE)[schema.VACANCY_ID].astype(str))
    assert kept == set(ids) - held
    assert not held & set(pd.read_parquet(out / schema.INTERACTIONS_FILE)[schema.VACANCY_ID].astype(str))
    assert main(["synth", "--holdout", "0.25", "--out", str(tmp_path / "x")]) == 2
    assert "needs --vacancies-from" in capsys.readouterr().err
    assert main(["synth", "--vacancies-from", str(tiny_market), "--holdout", "1.5", "--out", str(tmp_path / "y")]) == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


@pytest.mark.shared_data
def test_semi_synthetic_on_real_hh_vacancies(shared_data, tmp_path, capsys):
    from pipelines.data.dataset import write_dataset
    from pipelines.data.importers import empty_resumes, import_hh_vacancies_ru

    real = import_hh_vacancies_ru(shared_data / "hh_vacancies_ru")["vacancies"]
    real = real[real["skills"].map(lambda s: s is not None and len(s) > 0)].head(300)
    write_dataset(tmp_path / "real", real, empty_resumes())
    assert main(["synth", "--vacancies-from", str(tmp_path / "real"), "--out", str(tmp_path / "semi"), "--resumes", "200", "--seed", "0"]) == 0
    assert main(["validate", str(tmp_path / "semi")]) == 0
    capsys.readouterr()
    out = pd.read_parquet(tmp_path / "semi" / schema.VACANCIES_FILE)
    assert out[schema.VACANCY_ID].tolist() == real[schema.VACANCY_ID].tolist()
    assert out["description"].tolist() == real["description"].tolist()
    util = pd.read_parquet(tmp_path / "semi" / "truth" / "utility.parquet")
    log = pd.read_parquet(tmp_path / "semi" / schema.INTERACTIONS_FILE)
    pos = log[log[schema.EVENT] == "response"].merge(util, on=[schema.RESUME_ID, schema.VACANCY_ID])
    assert len(pos) > 50
    # interactions depend on the real vacancies' content: responders share far more of the vacancy's skills
    assert pos["skill_overlap"].mean() > 3 * util.loc[~util["shown"], "skill_overlap"].mean()
    # and the derived roles come from the real titles
    prof = pd.read_parquet(tmp_path / "semi" / "truth" / "vacancy_profiles.parquet")
    assert (prof["role"] != "other").mean() > 0.8
    assert set(lx.ROLE_INDEX) >= set(prof["role"]) - {"other"}


def test_lexicon_non_informative_phrases_name_no_skill():
    skills = {s for r in lx.ROLES for s in r.skills} | set(lx.CROSS_SKILLS)
    phrases = [d for r in lx.ROLES for d in r.duties] + [*lx.GENERIC_DUTIES, *lx.BOILERPLATE, *lx.CONDITIONS, *lx.CLOSING, *lx.REQUIREMENT_GENERIC]
    for p in phrases:
        for s in skills:
            assert not re.search(r"(?<!\w)" + re.escape(s.lower()) + r"(?!\w)", p.lower()), (s, p)
    for r in lx.ROLES:
        assert set(r.near) <= set(lx.ROLE_INDEX) and len(set(r.skills)) == len(r.skills) >= 10

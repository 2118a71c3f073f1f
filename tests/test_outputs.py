"""No command destroys what it reads: an output that is, contains or lies inside an input is refused before
anything is written; an existing output is replaced only with --force, and then whole.

Regression: `jobmatch summarize --data M --out M` once overwrote the market with its own summaries
(mean description 2,132 -> 1,569 characters, no warning).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipelines import cli


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `root` (or of `root` itself when it is a file)."""
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root) if p != root else p.name): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture()
def market(tiny_market, tmp_path) -> Path:
    """A private copy of the tiny market (the commands below are pointed at it as input)."""
    return Path(shutil.copytree(tiny_market, tmp_path / "market"))


def test_summarize_into_its_own_input_is_refused_and_the_texts_survive(tiny_run, market, capsys):
    before = snapshot(market)
    summ = str(tiny_run["summarizer"])
    for out in (market, market / "summaries", market.parent):
        assert cli.main(["summarize", "--summarizer", summ, "--data", str(market), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert "the input" in err and "nothing was written" in err and len(err.splitlines()) == 1
    assert snapshot(market) == before


def test_an_existing_output_needs_force_and_is_replaced_whole(tiny_run, market, tmp_path, capsys):
    summ, out = str(tiny_run["summarizer"]), tmp_path / "summaries"
    argv = ["summarize", "--summarizer", summ, "--data", str(market), "--out", str(out)]
    assert cli.main(argv) == 0
    first = snapshot(out)
    (out / "stale.txt").write_text("from an older run")
    assert cli.main([*argv, "--budget", "100"]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert snapshot(out) == {**first, "stale.txt": snapshot(out)["stale.txt"]}
    assert cli.main([*argv, "--budget", "100", "--force"]) == 0
    assert not (out / "stale.txt").exists(), "the old folder is replaced whole, not merged into"
    assert pd.read_parquet(out / "vacancies.parquet")["n_summary_tokens"].max() <= 100
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary folder is left behind"


def _argv(case: str, run: dict[str, Path], market: Path, tmp: Path) -> list[str]:
    """One writing command whose output lies in (or is) `market`, its input."""
    r = {k: str(v) for k, v in run.items()}
    m = str(market)
    return {
        "synth": ["synth", "--vacancies-from", m, "--out", m, "--resumes", "20"],
        "import": ["import", "hh_vacancies_ru", "--src", m, "--out", f"{m}/imported"],
        "tokenizer": ["tokenizer", "train", "--data", m, "--out", f"{m}/tokenizer"],
        "train": ["train", "--data", m, "--config", "tiny", "--out", m],
        "label": ["label", "--teacher", r["teacher"], "--data", m, "--out", f"{m}/labels.parquet"],
        "summarizer": ["summarizer", "train", "--labels", r["labels"], "--data", m, "--tokenizer", r["tokenizer"], "--out", f"{m}/summarizer"],
        "encode": ["encode", "--model", r["production"], "--data", m, "--out", f"{m}/vacancies.parquet"],
        "index": ["index", "build", "--model", r["production"], "--data", m, "--summarizer", r["summarizer"], "--out", f"{m}/index"],
        "recommend": ["recommend", "--index", r["index"], "--data", m, "--all-resumes", "--out", f"{m}/recs.parquet"],
        "ab simulate": ["ab", "simulate", "--data", m, "--control", f"{m}/interactions.parquet", "--treatment", f"{m}/interactions.parquet", "--out", m],
        "evaluate": ["evaluate", "--data", m, "--arms", f"control={r['production']}", "--out", f"{m}/reports"],
    }[case]


CASES = ["synth", "import", "tokenizer", "train", "label", "summarizer", "encode", "index", "recommend", "ab simulate", "evaluate"]


@pytest.mark.parametrize("case", CASES)
def test_no_writing_command_writes_into_its_input(case, tiny_run, market, tmp_path, capsys):
    before = snapshot(market)
    assert cli.main(_argv(case, tiny_run, market, tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert "the input" in err and len(err.splitlines()) == 1, err
    assert snapshot(market) == before


def test_label_refuses_a_teacher_that_reads_less_than_the_documents(tiny_run, tmp_path, capsys):
    """Regression: `label --teacher RUN/production` (a 64-token model here) once labelled without a word."""
    argv = ["label", "--teacher", str(tiny_run["production"]), "--data", str(tiny_run["data"]), "--out", str(tmp_path / "labels.parquet")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "longer than the 64 tokens the teacher" in err and "--allow-truncation" in err and not (tmp_path / "labels.parquet").exists()
    assert cli.main([*argv, "--allow-truncation", "--json"]) == 0
    assert '"cut_documents": ' in capsys.readouterr().out


def test_a_folder_is_never_replaced_by_a_file(tiny_run, tmp_path, capsys):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "a.txt").write_text("mine")
    argv = ["label", "--teacher", str(tiny_run["teacher"]), "--data", str(tiny_run["data"]), "--out", str(keep), "--force"]
    assert cli.main(argv) == 2
    assert "is a folder; it is not replaced by a file" in capsys.readouterr().err and (keep / "a.txt").read_text() == "mine"


def test_check_output_relations(tmp_path):
    from dssm.errors import JobmatchError
    from dssm.io import check_output

    (tmp_path / "a" / "b").mkdir(parents=True)
    for out, relation in ((tmp_path / "a", "is"), (tmp_path / "a" / "b" / "c", "lies inside"), (tmp_path, "contains")):
        with pytest.raises(JobmatchError, match=relation):
            check_output(out, [tmp_path / "a"], force=True)
    assert check_output(tmp_path / "ab", [tmp_path / "a"]) == tmp_path / "ab"  # a name prefix is not containment
    with pytest.raises(JobmatchError, match="already exists"):
        check_output(tmp_path / "a", [])
    assert check_output(tmp_path / "a", [None], force=True) == tmp_path / "a"


def test_demo_refuses_data_that_one_of_its_stages_would_clear(tiny_run, capsys):
    """`jobmatch demo --data RUN/summaries --out RUN` would delete its own input when the summarize stage reruns."""
    run = tiny_run["run"]
    before = snapshot(run / "summaries")
    assert cli.main(["demo", "--data", str(run / "summaries"), "--out", str(run)]) == 2
    assert "is the input" in capsys.readouterr().err and snapshot(run / "summaries") == before


def test_a_nan_stored_in_a_file_is_refused_null_is_missing(tiny_market, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = Path(shutil.copytree(tiny_market, tmp_path / "data"))
    t = pq.read_table(data / "resumes.parquet")
    salary = t.column("salary").to_pylist()
    salary[:2] = [float("nan"), None]
    pq.write_table(t.set_column(t.schema.get_field_index("salary"), "salary", pa.array(salary, pa.float64(), from_pandas=False)), data / "resumes.parquet")
    assert cli.main(["validate", str(data)]) == 2
    assert "resumes.parquet: column salary: 1 NaN values (write a missing amount as null) (rows 0)" in capsys.readouterr().err

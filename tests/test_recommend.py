"""Recommend: known answers with the stand-in encoder, model/summarizer mismatch refused, CLI single and batch."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_index import HashEncoder, market

from dssm.errors import DataError, JobmatchError
from pipelines import cli
from pipelines.retrieval import recommend as rc
from pipelines.data.dataset import write_dataset
from pipelines.retrieval.index import Filters, EmbeddingIndex
from pipelines.retrieval.refresh import refresh


@pytest.fixture()
def served(tmp_path, monkeypatch):
    """A dataset folder and an index root whose CURRENT was built with HashEncoder (CLI loads it via monkeypatch)."""
    vac, res = market(150, 12)
    write_dataset(tmp_path / "data", vac, res)
    enc = HashEncoder()
    refresh(vac, tmp_path / "index", enc, queries=res, extra={"model_dir": str(tmp_path / "model")})
    monkeypatch.setattr(rc, "load_encoder", lambda path: HashEncoder())
    return tmp_path, vac, res, enc


def test_resume_of_a_vacancys_words_ranks_it_first(served):
    root, vac, _, enc = served
    rec = rc.Recommender(EmbeddingIndex.load(root / "index"), enc)
    query = pd.DataFrame({"resume_id": ["q"], "title": [vac.title[17]], "text": [vac.description[17]]})
    top = rec.recommend(query, k=5)[0]
    assert list(top["rank"]) == [1, 2, 3, 4, 5] and top["vacancy_id"][0] == "v0017"
    assert top["score"][0] == pytest.approx(1.0, abs=1e-5) and top["title"][0] == vac.title[17]
    f = rec.recommend(query, k=5, filters=Filters(area="Казань" if vac.area[17] != "Казань" else "Москва"))[0]
    assert "v0017" not in set(f["vacancy_id"])


def test_mismatched_model_or_summarizer_is_refused(served):
    root, *_ = served
    idx = EmbeddingIndex.load(root / "index")
    with pytest.raises(JobmatchError, match="differs from the model the index"):
        rc.Recommender(idx, HashEncoder(seed=1))
    with pytest.raises(JobmatchError, match="summarizer mismatch"):
        rc.Recommender(idx, HashEncoder(), preprocess=lambda df, kind: df, preprocess_id="summarizer:abc")


def test_cli_defaults_to_the_summarizer_the_index_was_built_with(tmp_path, monkeypatch, capsys):
    vac, res = market(60, 4)
    write_dataset(tmp_path / "data", vac, res)
    upper = lambda df, kind: df.assign(title=df["title"].str.upper())  # noqa: E731  (a stand-in summarizer)
    refresh(vac, tmp_path / "index", HashEncoder(), preprocess=upper, preprocess_id="summarizer:up",
            extra={"model_dir": str(tmp_path / "model"), "summarizer_dir": str(tmp_path / "summ")})
    monkeypatch.setattr(rc, "load_encoder", lambda path: HashEncoder())
    loaded = []
    monkeypatch.setattr(rc, "load_preprocess", lambda d, budget=None: (loaded.append(str(d)), (upper, "summarizer:up"))[1])
    args = ["recommend", "--index", str(tmp_path / "index"), "--data", str(tmp_path / "data"), "--resume-id", "r001", "--json"]
    assert cli.main(args) == 2
    assert "pass --summarizer DIR" in capsys.readouterr().err and not loaded
    (tmp_path / "summ").mkdir()
    assert cli.main(args) == 0
    assert loaded == [str(tmp_path / "summ")] and json.loads(capsys.readouterr().out)["results"][0]["items"]


def test_resume_body_validation_and_lookup():
    df = rc.resumes_from_records([{"title": "python", "text": "опыт python"}])
    assert df.resume_id[0] == "query-0"
    with pytest.raises(DataError, match="unknown resume field"):
        rc.resumes_from_records([{"title": "a", "text": "b", "colour": 1}])
    with pytest.raises(DataError, match="empty resume text"):
        rc.resumes_from_records([{"title": "a", "text": "<p> </p>"}])
    with pytest.raises(DataError, match="salary"):
        rc.resumes_from_records([{"title": "a", "text": "b", "salary": "много"}])
    with pytest.raises(DataError, match="unknown resume id"):
        rc.lookup_resumes(pd.DataFrame({"resume_id": ["a"]}), ["a", "zz"])


def test_cli_single_json_batch_parquet_and_errors(served, capsys):
    root, _, res, enc = served
    args = ["recommend", "--index", str(root / "index"), "--data", str(root / "data")]
    assert cli.main([*args, "--resume-id", "r003", "--k", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rec = rc.Recommender(EmbeddingIndex.load(root / "index"), enc)
    expect = rec.recommend(res.iloc[[3]], 4)[0]
    assert [i["vacancy_id"] for i in out["results"][0]["items"]] == list(expect["vacancy_id"])
    assert out["model_hash"] == enc.model_hash
    assert cli.main([*args, "--all-resumes", "--k", "3", "--out", str(root / "recs.parquet"), "--area", "Москва", "--salary-min", "100000"]) == 0
    recs = pd.read_parquet(root / "recs.parquet")
    assert set(recs.resume_id) <= set(res.resume_id) and recs.groupby("resume_id").size().max() <= 3
    meta = EmbeddingIndex.load(root / "index").meta.set_index("vacancy_id")
    got = meta.loc[recs.vacancy_id]
    assert (got.area == "Москва").all() and (np.fmax(got.salary_from, got.salary_to) >= 100000).all()
    (root / "r.json").write_text(json.dumps({"title": "java", "text": "java javaskill"}), encoding="utf-8")
    assert cli.main(["recommend", "--index", str(root / "index"), "--resume-file", str(root / "r.json"), "--k", "2"]) == 0
    assert "resume query-0" in capsys.readouterr().out
    assert cli.main([*args, "--resume-id", "nobody"]) == 2
    assert "unknown resume id(s): nobody" in capsys.readouterr().err
    assert cli.main([*args, "--resume-id", "r001", "--summarizer", str(root / "missing")]) == 2


def test_a_non_finite_embedding_is_refused_for_queries_and_for_index_builds(tmp_path):
    """Scores are never NaN: an encoder row that is not finite is named by id instead of ranked or indexed."""
    from pipelines.retrieval.recommend import embed_documents

    class NaNEncoder(HashEncoder):
        def embed(self, df, kind):
            emb = super().embed(df, kind)
            emb[1] = np.nan
            return emb

    vac, res = market(40, 4)
    refresh(vac, tmp_path / "index", HashEncoder())
    rec = rc.Recommender(EmbeddingIndex.load(tmp_path / "index"), HashEncoder())
    rec.encoder = NaNEncoder()
    with pytest.raises(DataError, match=f"resumes: the encoder produced a non-finite embedding.*rows {res.resume_id.iloc[1]}"):
        rec.recommend(res, 5)
    with pytest.raises(DataError, match=f"vacancies: the encoder produced a non-finite embedding.*rows {vac.vacancy_id.iloc[1]}"):
        embed_documents(NaNEncoder(), vac)


def test_serve_flag_default_matches_the_service_limit():
    from pipelines.commands import serve
    from pipelines.retrieval import service

    assert serve.MAX_BODY_BYTES == service.MAX_BODY_BYTES


@pytest.mark.parametrize("budget", [None, 12])
def test_a_summarizer_hands_the_encoder_the_ids_it_would_read_from_the_summary_text(tiny_run, budget):
    """The summaries' ids (`SummaryPreprocess.tokens`) are what the encoder gets by splitting and tokenizing the summary text,
    so embedding them directly gives the same embeddings; a budget of 12 tokens cuts sentences to word prefixes."""
    from pipelines.artifacts import load_encoder, load_preprocess
    from pipelines.data.dataset import load_dataset

    enc = load_encoder(tiny_run["production"])
    pre, _ = load_preprocess(tiny_run["summarizer"], budget)
    data = load_dataset(tiny_run["data"])
    tricky = data.resumes.iloc[:3].assign(text=["<p>Знание C++ &amp; SQL.</p><ul><li>-</li><li>Docker,   Kubernetes!</li></ul>",
                                                "Опыт 5 лет... Т.е. с 2019 г. работаю в ООО «Ромашка». Go, Python?",
                                                "one line only"], resume_id=["x1", "x2", "x3"])
    for kind, df in (("vacancies", data.vacancies.iloc[:60]), ("resumes", pd.concat([data.resumes.iloc[:60], tricky], ignore_index=True))):
        summaries, ids = pre.tokens(df, kind)
        pd.testing.assert_frame_equal(summaries, pre(df, kind))
        assert ids == enc.tokenize(summaries, kind)
        if budget:
            assert max(summaries["n_summary_tokens"]) <= budget
        np.testing.assert_array_equal(rc.embed_preprocessed(enc, df, kind, pre), enc.embed(summaries, kind))


def test_summary_ids_are_not_handed_to_an_encoder_of_another_tokenizer(tiny_run):
    from pipelines.artifacts import load_preprocess
    from pipelines.data.dataset import load_dataset

    pre, _ = load_preprocess(tiny_run["summarizer"])
    df = load_dataset(tiny_run["data"]).resumes.iloc[:5]

    class OtherTokenizer(HashEncoder):
        tokenizer_hash = "another"

        def embed_documents(self, docs, df, kind):
            raise AssertionError("ids of another tokenizer were handed over")

    enc = OtherTokenizer()
    np.testing.assert_array_equal(rc.embed_preprocessed(enc, df, "resumes", pre), enc.embed(pre(df, "resumes"), "resumes"))

"""Every stage is one typed function the CLI and the demo both call: the whole chain without the CLI on the tiny market,
and the summary budget as an artifact property (an index built on 200-token summaries is served with 200-token summaries;
any other budget, summarizer or tokenizer on the query path is refused, naming both sides)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dssm.config import load_model_config
from dssm.errors import JobmatchError
from dssm.tokenizer import TokenizerConfig
from pipelines.artifacts import load_encoder, load_preprocess, parse_preprocess_id, trained_on
from pipelines.data.contract import validate_dir
from pipelines.data.dataset import PREPROCESS_FILE, load_dataset
from pipelines.evaluation.ab.analysis import ABConfig, analyze_log
from pipelines.evaluation.ab.simulate import SimConfig, replay
from pipelines.evaluation.arms import ArmSpec
from pipelines.evaluation.evaluate import EvalConfig, run_evaluation
from pipelines.retrieval.encode import encode
from pipelines.retrieval.index import IndexConfig, EmbeddingIndex
from pipelines.retrieval.recommend import Recommender, preprocess_for_manifest
from pipelines.retrieval.refresh import build_embedding_index, refresh_index
from pipelines.training.dssm import train
from pipelines.training.labels import label
from pipelines.training.summarizer import SummarizeConfig, summarize, train_summarizer
from pipelines.training.tokenizer import train_tokenizer
from summarizer.config import LabelRule, SummarizerConfig


@pytest.fixture(scope="module")
def chain(tiny_market, tmp_path_factory) -> dict[str, Path]:
    """tokenizer -> teacher -> labels -> summarizer -> 200-token summaries -> production on them -> index, all by function."""
    run = tmp_path_factory.mktemp("stages")
    assert validate_dir(tiny_market)["vacancies"] == 300
    tok = train_tokenizer(TokenizerConfig(vocab_size=1000), tiny_market, run / "tokenizer")
    assert tok.vocab_size <= 1000 and (run / "tokenizer" / "bpe.model").is_file()
    train(tiny_market, load_model_config("tiny_teacher"), run / "teacher", tokenizer_dir=run / "tokenizer")
    lab = label(LabelRule(), run / "teacher", tiny_market, run / "labels.parquet")
    assert set(lab.kinds) == {"vacancies", "resumes"} and lab.threshold_vs_truth  # the tiny market has truth sections
    summ = train_summarizer(SummarizerConfig(), run / "labels.parquet", tiny_market, run / "tokenizer", run / "summarizer")
    assert set(summ.auc_held_out) == {"vacancies", "resumes"}
    cut = summarize(SummarizeConfig(budget=200), tiny_market, run / "summaries200", summarizer_dir=run / "summarizer")
    assert cut.budget == 200 and all(k["max_tokens"] <= 200 for k in cut.kinds.values())
    train(run / "summaries200", load_model_config("tiny"), run / "production", tokenizer_dir=run / "tokenizer")
    report = build_embedding_index(IndexConfig(), run / "production", tiny_market, run / "index", summarizer_dir=run / "summarizer")
    assert report.action in ("built", "switched") and report.current_version == report.version
    return {"run": run, "data": tiny_market}


def test_summaries_record_their_budget_and_the_model_trained_on_them_keeps_it(chain):
    run = chain["run"]
    record = json.loads((run / "summaries200" / PREPROCESS_FILE).read_text())
    assert record["method"] == "lr" and record["budget"] == 200
    assert parse_preprocess_id(record["preprocess_id"])["budget"] == "200"
    assert trained_on(run / "production")["preprocess_id"] == record["preprocess_id"]
    assert trained_on(run / "teacher") is None  # trained on the original texts


def test_index_built_on_budget_200_summaries_serves_budget_200_resume_summaries(chain):
    run, data = chain["run"], chain["data"]
    index = EmbeddingIndex.load(run / "index")
    assert parse_preprocess_id(index.manifest["preprocess_id"])["budget"] == "200"  # taken from the model, not a literal
    preprocess, pid = preprocess_for_manifest(None, index.manifest)
    assert pid == index.manifest["preprocess_id"]
    resumes = load_dataset(data).resumes.iloc[:20]
    served = preprocess(resumes, "resumes")
    assert served["n_summary_tokens"].max() <= 200
    rec = Recommender(index, load_encoder(run / "production"), preprocess, pid)
    assert len(rec.recommend(resumes.iloc[:2], k=5)[0]) == 5


def test_a_query_path_with_another_budget_summarizer_or_tokenizer_is_refused(chain):
    run = chain["run"]
    index = EmbeddingIndex.load(run / "index")
    enc = load_encoder(run / "production")
    pre300, pid300 = load_preprocess(run / "summarizer", 300)
    with pytest.raises(JobmatchError, match=r"budget 300 \(query\) vs 200 \(index\)"):
        Recommender(index, enc, pre300, pid300)
    with pytest.raises(JobmatchError, match=r"budget 300 \(query\) vs 200 \(index\)"):
        Recommender(index, enc, *preprocess_for_manifest(None, index.manifest, budget=300))
    _, pid = load_preprocess(run / "summarizer", 200)
    other_tok = pid.replace(parse_preprocess_id(pid)["tokenizer"], "0" * 16)
    with pytest.raises(JobmatchError, match=r"tokenizer 0{16} \(query\) vs"):
        Recommender(index, enc, pre300, other_tok)
    with pytest.raises(JobmatchError, match=r"budget 300 \(index\) vs 200 \(model\)"):
        build_embedding_index(IndexConfig(), run / "production", chain["data"], run / "index_bad", summarizer_dir=run / "summarizer", budget=300)
    with pytest.raises(JobmatchError, match="trained on LR summaries"):
        build_embedding_index(IndexConfig(), run / "production", chain["data"], run / "index_bad")
    assert not (run / "index_bad").exists()


def test_evaluation_ab_encode_and_refresh_stages_run_without_the_cli(chain):
    run, data = chain["run"], chain["data"]
    arms = {"control": ArmSpec("dssm", model_dir=run / "teacher"), "treatment": ArmSpec("dssm", model_dir=run / "production", corpus_dir=run / "summaries200"),
            "tfidf": ArmSpec("tfidf"), "popularity": ArmSpec("popularity")}
    result, out = run_evaluation(EvalConfig(n_boot=200), data, arms, index={"treatment": run / "index"}, out=run / "reports")
    assert set(result["arms"]) == set(arms) and (out / "eval.json").is_file()
    truth, files = replay(SimConfig(), data, out / "rankings" / "control.parquet", out / "rankings" / "treatment.parquet", out=run / "ab")
    assert truth["n_users"] > 0 and files["events"].is_file()
    ab, _ = analyze_log(ABConfig(n_boot=200), files["events"], ["responses", "views"], ["responses/views"], {"responses": "pre_responses"}, run / "ab" / "report")
    assert set(ab["metrics"]) == {"responses", "views", "responses/views"}
    emb = encode(run / "production", data, "vacancies", run / "vacancies.parquet")
    assert emb["n"] == 300 and emb["dim"] == 32
    again = refresh_index(IndexConfig(), data, run, model_dir=run / "production")
    assert again.action == "up_to_date" and again.embedded == 0

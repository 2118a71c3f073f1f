"""LR summarizer, selection and baselines on hand-made documents and a tiny market with known sections.

The attention used here is a stand-in derived from the ground-truth sections
(informative tokens weigh more, with noise); it exists only in these tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dssm.errors import JobmatchError
from dssm.text import document_sentences
from pipelines.evaluation.summaries import compare_methods, section_precision_recall, skill_coverage
from summarizer.model import label_auc
from summarizer.baselines import lead_scores, random_scores, textrank_scores
from summarizer.config import FeatureConfig, LabelRule, SummarizerConfig
from summarizer.features import SentenceFeaturizer
from summarizer.labels import label_documents
from summarizer.model import Summarizer
from summarizer.summarize import select, summarize, summarize_frame

# ----------------------------------------------------------------------------- selection


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=12), st.integers(0, 120), st.integers(0, 2**31 - 1))
def test_select_never_exceeds_budget_keeps_order_and_is_deterministic(lengths, budget, seed):
    scores = np.random.default_rng(seed).normal(size=len(lengths))
    kept = select(scores, lengths, budget)
    assert sum(k for _, k in kept) <= budget
    idx = [i for i, _ in kept]
    assert idx == sorted(idx) and len(set(idx)) == len(idx)
    assert all(0 < k <= lengths[i] for i, k in kept)
    assert kept == select(scores, lengths, budget)
    cut = [i for i, k in kept if k < lengths[i]]
    assert len(cut) <= 1
    # the best non-empty sentence is never dropped while budget remains
    nonempty = [i for i, n in enumerate(lengths) if n > 0]
    if nonempty and budget > 0:
        best = max(nonempty, key=lambda i: (scores[i], -i))
        assert best in idx
    # fills the budget unless everything fits
    assert sum(k for _, k in kept) == min(budget, sum(lengths))


def test_select_cuts_a_too_long_top_sentence_instead_of_dropping_it():
    assert select(np.array([0.2, 0.9]), [3, 500], budget=300) == [(1, 300)]
    assert summarize([[1] * 3, list(range(500))], np.array([0.2, 0.9]), budget=5) == [[0, 1, 2, 3, 4]]


def test_select_empty_and_one_sentence_documents():
    assert select(np.zeros(0), [], 300) == []
    assert summarize([], np.zeros(0)) == []
    assert summarize([[7, 8]], np.array([0.1])) == [[7, 8]]
    assert summarize([[]], np.array([0.1])) == []
    with pytest.raises(JobmatchError):
        select(np.zeros(2), [1], 10)


def test_lead_is_exactly_the_first_budget_tokens():
    doc = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]]
    flat = [t for s in summarize(doc, lead_scores(doc), budget=7) for t in s]
    assert flat == [1, 2, 3, 4, 5, 6, 7]


def test_baselines_shapes_and_determinism():
    doc = [[5, 6, 7], [5, 6], [9], []]
    tr = textrank_scores(doc, 12)
    assert tr.shape == (4,) and tr.sum() == pytest.approx(1.0)
    assert tr[0] > tr[2] and tr[1] > tr[2]  # the two overlapping sentences are central
    assert textrank_scores([], 12).shape == (0,)
    np.testing.assert_array_equal(random_scores(doc, 3), random_scores(doc, 3))
    assert not np.array_equal(random_scores(doc, 3), random_scores(doc, 4))


def test_fast_logits_equal_the_feature_matrix():
    f = SentenceFeaturizer(20, FeatureConfig(), colon_ids=[7])
    doc = [[5, 6], [8, 7], [9, 9, 10], [], [11, 12, 5, 6, 7, 8, 9, 10, 11, 12], [3, 19]]
    c = np.random.default_rng(0).normal(size=f.n_features)
    np.testing.assert_allclose(f.logits(doc, c, 0.3), f.matrix([doc]) @ c + 0.3)
    assert f.header_index(doc).tolist() == [-1, -1, 1, 1, 1, 1]
    with pytest.raises(JobmatchError, match="another tokenizer"):
        f.logits([[3, 20]], c, 0.0)
    many = [doc, [], [[7]], [[4, 7], [1]], doc[::-1]]
    for got, d in zip(f.logits_batch(many, c, 0.3), many):
        np.testing.assert_allclose(got, f.logits(d, c, 0.3))


# ----------------------------------------------------------------------------- a tiny market with known sections

BOILER = [
    "Наша миссия делать мир лучше каждый день вместе с клиентами.",
    "Компания позволяет сотрудникам расти и развиваться в дружной команде.",
    "Мы являемся лидером рынка уже более десяти лет и гордимся своей историей.",
    "Наши ценности открытость честность и забота о людях.",
    "Группа компаний позволяет реализовать амбициозные проекты федерального масштаба.",
]
DUTIES = ["разработка сервисов на {s}", "поддержка и развитие системы на {s}", "проектирование архитектуры решений {s}", "написание тестов для {s}"]
REQS = ["опыт работы с {s} от {n} лет", "знание {s} и {t}", "уверенное знание {s}", "опыт коммерческой разработки на {s}"]
COND = ["офис в центре города", "гибкий график работы", "ДМС после испытательного срока", "белая зарплата два раза в месяц"]
SKILLS = ["Python", "Java", "SQL", "Docker", "Kubernetes", "Linux", "Git", "PostgreSQL", "Kafka", "Spark"]
TITLES = ["Разработчик", "Инженер", "Программист", "Аналитик"]


def make_market(n: int, seed: int = 0):
    """Vacancies (HTML) with boilerplate first, then duties/requirements/conditions; and their truth table."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for d in range(n):
        sk = list(rng.choice(SKILLS, size=3, replace=False))
        parts = [("title", f"{rng.choice(TITLES)} {sk[0]}")]
        parts += [("boilerplate", b) for b in rng.choice(BOILER, size=int(rng.integers(2, 5)), replace=False)]
        parts += [("header", "Обязанности:")] + [("duties", t.format(s=rng.choice(sk))) for t in rng.choice(DUTIES, size=2, replace=False)]
        parts += [("header", "Требования:")] + [("requirements", t.format(s=sk[i % 3], t=sk[(i + 1) % 3], n=int(rng.integers(1, 6))))
                                                for i, t in enumerate(rng.choice(REQS, size=2, replace=False))]
        parts += [("header", "Условия:")] + [("conditions", c) for c in rng.choice(COND, size=2, replace=False)]
        html = "".join(f"<p>{t}</p>" if s in ("boilerplate", "header") else f"<ul><li>{t}</li></ul>" for s, t in parts[1:])
        vid = f"v{d}"
        rows.append({"vacancy_id": vid, "title": parts[0][1], "description": html, "skills": sk})
        sents = document_sentences(parts[0][1], html)
        assert len(sents) == len(parts), (sents, parts)
        truth += [{"doc_id": vid, "kind": "vacancies", "sent_idx": i, "section": s, "text": t} for i, (s, _), t in zip(range(len(parts)), parts, sents)]
    return pd.DataFrame(rows), pd.DataFrame(truth)


def stand_in_attention(docs, truth: pd.DataFrame, seed: int = 0):
    """Per-token attention: 4x weight on informative-section tokens, lognormal noise, normalised (tests only)."""
    rng = np.random.default_rng(seed)
    sec = truth.groupby("doc_id")["section"].apply(list)
    attn, sent = [], []
    for i, doc in enumerate(docs):
        s = np.repeat(np.arange(len(doc)), [len(x) for x in doc])
        w = np.array([4.0 if sec[f"v{i}"][j] in ("duties", "requirements") else 1.0 for j in s]) * rng.lognormal(0, 0.3, s.size)
        attn.append(w / w.sum())
        sent.append(s)
    return attn, sent


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    from dssm.text import frame_documents
    from dssm.tokenizer import Tokenizer

    df, truth = make_market(160)
    sentences = frame_documents(df, "vacancies")
    tok = Tokenizer.train([s for d in sentences for s in d], tmp_path_factory.mktemp("tok"), vocab_size=400)
    docs = tok.encode_documents(sentences)
    attn, sent = stand_in_attention(docs, truth)
    labels = label_documents(df["vacancy_id"].tolist(), "vacancies", attn, sent, [len(d) for d in docs], LabelRule(method="fair_share"))
    train, test = slice(0, 120), slice(120, 160)
    model = Summarizer.fit({"vacancies": docs[train]}, labels, SummarizerConfig(), doc_ids={"vacancies": df["vacancy_id"][train].tolist()}, tokenizer=tok)
    return {"df": df, "truth": truth, "tok": tok, "docs": docs, "sentences": sentences, "labels": labels, "model": model, "test": test}


def test_labels_from_stand_in_attention_recover_informative_sections(market):
    lab = market["labels"].merge(market["truth"], on=["doc_id", "kind", "sent_idx"])
    informative = lab["section"].isin(["duties", "requirements"])
    assert (lab["is_summary"] == informative).mean() > 0.9


def test_lr_auc_on_held_out_documents(market):
    t = market["test"]
    auc = label_auc(market["model"], market["docs"][t], market["df"]["vacancy_id"][t].tolist(), market["labels"], "vacancies")
    assert auc >= 0.8


def test_lr_keeps_informative_sentences_lead_does_not(market):
    t = market["test"]
    has_title = [True] * 40
    res = compare_methods(market["sentences"][t], market["docs"][t], has_title, "vacancies", ["lr", "lead", "textrank", "random"],
                          market["model"], market["tok"], budget=40)
    ids = market["df"]["vacancy_id"][t].tolist()
    pr = {m: section_precision_recall(ids, sel, market["truth"], "vacancies", ("duties", "requirements")) for m, (sel, _) in res.items()}
    assert pr["lr"]["recall"] > pr["lead"]["recall"] + 0.3
    assert pr["lr"]["precision"] > 0.8 > pr["lead"]["precision"]
    cov = {m: skill_coverage(texts, market["df"]["skills"][t]) for m, (_, texts) in res.items()}
    assert cov["lr"]["coverage"] > cov["lead"]["coverage"]


def test_save_load_round_trip_without_pickles(market, tmp_path):
    model = market["model"]
    model.save(tmp_path / "s")
    again = Summarizer.load(tmp_path / "s")
    doc = market["docs"][130]
    np.testing.assert_allclose(again.score(doc, "vacancies"), model.score(doc, "vacancies"))
    batch = again.score_batch(market["docs"][120:140], "vacancies")
    for got, d in zip(batch, market["docs"][120:140]):
        np.testing.assert_allclose(got, model.score(d, "vacancies"))
    assert again.vocab == model.vocab and again.load_tokenizer().vocab_size == market["tok"].vocab_size
    with np.load(tmp_path / "s" / "weights.npz", allow_pickle=False) as z:
        assert set(z.files) == {"vacancies_coef", "vacancies_intercept"}
    with pytest.raises(JobmatchError, match="not a summarizer dir"):
        Summarizer.load(tmp_path)
    with pytest.raises(JobmatchError, match="no model for"):
        again.score(doc, "resumes")


def test_fit_is_deterministic_and_refuses_one_class(market):
    t = slice(0, 40)
    ids = {"vacancies": market["df"]["vacancy_id"][t].tolist()}
    a = Summarizer.fit({"vacancies": market["docs"][t]}, market["labels"], doc_ids=ids, tokenizer=market["tok"])
    b = Summarizer.fit({"vacancies": market["docs"][t]}, market["labels"], doc_ids=ids, tokenizer=market["tok"])
    np.testing.assert_array_equal(a.weights["vacancies"][0], b.weights["vacancies"][0])
    one = market["labels"].assign(is_summary=False)
    with pytest.raises(JobmatchError, match="both summary and non-summary"):
        Summarizer.fit({"vacancies": market["docs"][t]}, one, doc_ids=ids, tokenizer=market["tok"])


def test_summarize_frame_keeps_title_and_budget(market):
    from dssm.text import frame_documents

    df = market["df"].iloc[120:140].copy()
    df.loc[df.index[0], "description"] = "<p>" + " ".join(["очень длинное предложение про опыт работы"] * 30) + "</p>"
    out = summarize_frame(df, "vacancies", market["model"], market["tok"], budget=25)
    assert out["title"].tolist() == df["title"].tolist()
    assert (out["n_summary_tokens"] <= 25).all() and (out["n_summary_tokens"] > 0).all()
    re_tok = market["tok"].encode_documents(frame_documents(out, "vacancies"))
    assert max(sum(len(s) for s in d) for d in re_tok) <= 25
    assert out["description"].iloc[0]  # the one over-long sentence is cut, not dropped
    again = summarize_frame(df, "vacancies", market["model"], market["tok"], budget=25)
    pd.testing.assert_frame_equal(out, again)
    lead = summarize_frame(df, "vacancies", None, market["tok"], budget=25, method="lead")
    assert lead["description"].iloc[1] in df["description"].iloc[1].replace("<p>", "").replace("</p>", "\n")


# ----------------------------------------------------------------------------- the CLI chain on a (random-weight) tiny teacher


def test_cli_label_train_explain_eval_summarize_highlight(market, tmp_path, capsys):
    import json
    from dataclasses import replace

    from dssm.config import load_model_config
    from dssm.features import FeatureSpace
    from dssm.model_io import build_model, save_model
    from pipelines.cli import main
    from pipelines.data.dataset import load_dataset, write_dataset

    data, run = tmp_path / "data", tmp_path / "run"
    vac = market["df"].iloc[:80]
    res = pd.DataFrame({"resume_id": ["r0", "r1"], "title": ["Разработчик", "Инженер"], "text": ["Опыт работы пять лет.", "Знаю Linux. Люблю Docker."]})
    write_dataset(data, vac, res, None)
    (data / "truth").mkdir()
    market["truth"].to_parquet(data / "truth" / "sentences.parquet")
    tok = market["tok"]
    cfg = load_model_config("tiny_teacher")
    cfg = replace(cfg, vacancy=replace(cfg.vacancy, vocab_size=tok.vocab_size), resume=replace(cfg.resume, vocab_size=tok.vocab_size), tokenizer=str(tok.path))
    ds = load_dataset(data)
    feats = {"vacancies": FeatureSpace.fit(ds.vacancies, cfg.vacancy.categorical, cfg.vacancy.numeric),
             "resumes": FeatureSpace.fit(ds.resumes, cfg.resume.categorical, cfg.resume.numeric)}
    import torch

    torch.manual_seed(0)
    save_model(run / "teacher", build_model(cfg, feats).eval(), cfg, feats)

    assert main(["label", "--teacher", str(run / "teacher"), "--data", str(data), "--out", str(run / "labels.parquet"), "--json"]) == 0
    labels = pd.read_parquet(run / "labels.parquet")
    assert {"doc_id", "kind", "sent_idx", "n_tokens", "attention_mass", "is_summary"} <= set(labels.columns)
    mass = labels.groupby("doc_id")["attention_mass"].sum()
    np.testing.assert_allclose(mass.to_numpy(), 1.0, atol=1e-4)  # teacher attention sums to 1 per document
    assert main(["summarizer", "train", "--labels", str(run / "labels.parquet"), "--data", str(data), "--tokenizer", str(tok.path),
                 "--out", str(run / "summarizer")]) == 0
    assert main(["summarizer", "explain", "--summarizer", str(run / "summarizer"), "--json"]) == 0
    capsys.readouterr()
    assert main(["summarizer", "eval", "--summarizer", str(run / "summarizer"), "--data", str(data), "--budget", "30", "--labels", str(run / "labels.parquet"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)["kinds"]["vacancies"]
    assert 0 <= rep["teacher_on_skill_sentences"]["auc_share_ratio"] <= 1 and rep["teacher_on_skill_sentences"]["sentences"] > 0
    whole = rep["skill_coverage_whole_document"]
    assert whole["documents"] > 0 and set(rep["skill_coverage"]) == {"lr", "lead", "textrank", "random"}
    assert all(0 <= c["coverage"] <= whole["coverage"] and c["documents"] == whole["documents"] for c in rep["skill_coverage"].values())
    assert rep["skill_coverage"]["lead"]["coverage"] < whole["coverage"]  # a 30-token cut loses skills
    vs = rep["skill_coverage_vs_lead"]
    assert set(vs) == {"lr", "textrank", "random"}
    for m, d in vs.items():
        assert d["ci_low"] <= d["diff"] <= d["ci_high"]
        assert d["diff"] == pytest.approx(rep["skill_coverage"][m]["coverage"] - rep["skill_coverage"]["lead"]["coverage"])
    over = rep["skill_coverage_over_budget"]
    assert 0 < over["whole"]["documents"] <= whole["documents"] and over["lead"]["coverage"] < over["whole"]["coverage"]
    write_dataset(tmp_path / "seen", vac.iloc[:50], res, None)
    assert main(["summarizer", "eval", "--summarizer", str(run / "summarizer"), "--data", str(data), "--exclude", str(tmp_path / "seen"),
                 "--holdout", "0", "--methods", "lead", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kinds"]["vacancies"]["documents"] == 30
    write_dataset(tmp_path / "all", vac, res, None)
    assert main(["summarizer", "eval", "--summarizer", str(run / "summarizer"), "--data", str(data), "--exclude", str(tmp_path / "all"), "--holdout", "0"]) == 2
    assert "no documents left to evaluate" in capsys.readouterr().err
    assert main(["summarize", "--summarizer", str(run / "summarizer"), "--data", str(data), "--out", str(run / "summaries"), "--budget", "30"]) == 0
    out = load_dataset(run / "summaries")
    assert out.vacancies["vacancy_id"].tolist() == vac["vacancy_id"].tolist()
    assert (out.vacancies["n_summary_tokens"] <= 30).all()
    assert main(["summarizer", "highlight", "--teacher", str(run / "teacher"), "--summarizer", str(run / "summarizer"), "--data", str(data),
                 "--doc-id", "v3", "--out", str(run / "v3.html"), "--budget", "30"]) == 0
    page = (run / "v3.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Legend" in page and "rgba(220,20,20," in page and "<script" not in page and "http" not in page
    assert main(["summarizer", "highlight", "--teacher", str(run / "teacher"), "--summarizer", str(run / "summarizer"), "--data", str(data),
                 "--doc-id", "nope", "--out", str(run / "x.html")]) == 2
    assert main(["summarize", "--data", str(data), "--out", str(run / "x")]) == 2
    json.loads((run / "summarizer" / "summarizer.json").read_text(encoding="utf-8"))


def test_explain_reads_the_market_model(market):
    from summarizer.explain import explain_text, top_tokens

    top = top_tokens(market["model"], "vacancies", k=40)
    up = {t for t, _ in top["positive"]}
    down = {t for t, _ in top["negative"]}
    assert {"опыт", "знание"} & up
    assert {"миссия", "позволяет", "компания", "компаний"} & down
    assert all(w > 0 for _, w in top["positive"]) and all(w < 0 for _, w in top["negative"])
    assert "== vacancies ==" in explain_text(market["model"], 5)


def test_section_features_match_the_matrix_and_refuse_missing_probabilities():
    f = SentenceFeaturizer(20, FeatureConfig(), colon_ids=[7], section_classes=["duties", "offer"])
    assert f.dense_names[-2:] == ("section:duties", "section:offer")
    docs = [[[5, 6], [8, 7], [9, 9, 10]], [], [[3, 19]]]
    probs = [np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]), np.zeros((0, 2)), np.array([[0.3, 0.7]])]
    c = np.random.default_rng(1).normal(size=f.n_features)
    whole = np.asarray(f.matrix(docs, probs) @ c + 0.3)
    np.testing.assert_allclose(np.concatenate(f.logits_batch(docs, c, 0.3, probs)), whole)
    np.testing.assert_allclose(f.logits(docs[0], c, 0.3, probs[0]), whole[:3])
    with pytest.raises(JobmatchError, match="reads section probabilities"):
        f.logits_batch(docs, c, 0.3)
    with pytest.raises(JobmatchError, match="do not match the documents"):
        f.logits_batch(docs, c, 0.3, [p[:, :1] for p in probs])


@pytest.fixture(scope="module")
def sectioned(market, tmp_path_factory):
    """A TF-IDF section classifier trained on the market's true sections, and a summarizer reading its probabilities."""
    from dssm.understanding.tfidf_classifier import TfidfClassifier

    root = tmp_path_factory.mktemp("sectioned")
    truth = market["truth"][market["truth"]["doc_id"].isin(market["df"]["vacancy_id"][:120])]
    TfidfClassifier.fit(truth["text"].tolist(), truth["section"].tolist(), min_df=1).save(root / "sections")
    train = slice(0, 120)
    model = Summarizer.fit({"vacancies": market["docs"][train]}, market["labels"], SummarizerConfig(),
                           doc_ids={"vacancies": market["df"]["vacancy_id"][train].tolist()}, tokenizer=market["tok"],
                           section_dir=root / "sections", sentences={"vacancies": market["sentences"][train]})
    return root, model


def test_section_probabilities_are_features_saved_with_the_summarizer(market, sectioned, tmp_path):
    from summarizer.explain import dense_weights, explain_text

    root, model = sectioned
    assert model.uses_sections and model.featurizer.section_classes == ("boilerplate", "conditions", "duties", "header", "requirements", "title")
    w = dense_weights(model, "vacancies")
    # the stand-in attention weighs duties and requirements 4x: the LR reads the classifier's probabilities that way
    assert min(w["section:duties"], w["section:requirements"]) > max(w["section:boilerplate"], w["section:conditions"])
    assert "section probabilities: boilerplate" in explain_text(model, 5)
    model.save(tmp_path / "s")
    assert (tmp_path / "s" / "sections" / "tfidf_classifier.json").is_file()
    again = Summarizer.load(tmp_path / "s")
    docs, sents = market["docs"][120:140], market["sentences"][120:140]
    for got, d, s in zip(again.score_batch(docs, "vacancies", sents), docs, sents):
        np.testing.assert_allclose(got, model.score(d, "vacancies", s))
    with pytest.raises(JobmatchError, match="reads section probabilities"):
        again.score_batch(docs, "vacancies")
    out = summarize_frame(market["df"].iloc[120:140], "vacancies", again, market["tok"], budget=25)
    assert (out["n_summary_tokens"] <= 25).all()
    held = label_auc(again, docs, market["df"]["vacancy_id"][120:140].tolist(), market["labels"], "vacancies", sents)
    assert held > 0.9, held


def test_cli_trains_with_sections_and_eval_compares_two_summarizers(market, sectioned, tmp_path, capsys):
    import json

    from pipelines.cli import main
    from pipelines.data.dataset import write_dataset

    root, _ = sectioned
    data = tmp_path / "data"
    write_dataset(data, market["df"], pd.DataFrame({"resume_id": ["r0"], "title": ["Инженер"], "text": ["Опыт работы."]}), None)
    market["labels"].to_parquet(tmp_path / "labels.parquet")
    common = ["summarizer", "train", "--labels", str(tmp_path / "labels.parquet"), "--data", str(data), "--tokenizer", str(market["tok"].path)]
    assert main([*common, "--out", str(tmp_path / "plain")]) == 0
    assert main([*common, "--out", str(tmp_path / "sect"), "--sections", str(root / "sections")]) == 0
    assert main([*common, "--out", str(tmp_path / "bad"), "--sections", str(tmp_path / "plain")]) == 2
    assert "not a classifier folder" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert main(["summarizer", "eval", "--summarizer", str(tmp_path / "sect"), "--against", str(tmp_path / "plain"), "--data", str(data),
                 "--budget", "30", "--methods", "lead,lr", "--labels", str(tmp_path / "labels.parquet"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)["kinds"]["vacancies"]
    assert rep["auc_vs_labels"] > 0.8
    pair = rep["skill_coverage_pairs"]["lr - against"]
    assert pair["diff"] == pytest.approx(rep["skill_coverage"]["lr"]["coverage"] - rep["skill_coverage"]["against"]["coverage"])
    assert pair["ci_low"] <= pair["diff"] <= pair["ci_high"] and set(rep["skill_coverage"]) == {"lead", "lr", "against"}
    assert main(["summarizer", "eval", "--summarizer", str(tmp_path / "sect"), "--against", str(tmp_path / "plain"), "--data", str(data),
                 "--budget", "30", "--methods", "lead,lr"]) == 0
    printed = capsys.readouterr().out
    assert "  against " in printed and f"lr - against: key-skill coverage {pair['diff']:+.3f}" in printed
    assert main(["summarizer", "explain", "--summarizer", str(tmp_path / "sect")]) == 0
    assert "section probabilities:" in capsys.readouterr().out


def test_highlight_html_shades_tokens_and_marks_selected():
    from summarizer.highlight import highlight_html

    page = highlight_html([["▁Повар"], ["▁Готовить", "."], ["▁Мыть", "▁посуду", "<x>"]], np.array([0.5, 0.25, 0.25, 0.0]), [(0, 1), (2, 1)], title="Повар")
    assert page.count('class="t') == 6 and page.count("s sel") == 2
    assert "rgba(220,20,20,1.000)" in page and 'title="not read"' in page and "&lt;x&gt;" in page and "✂" in page
    with pytest.raises(JobmatchError):
        highlight_html([["▁a"]], np.array([0.5, 0.5]), [])


def test_skill_labels_and_bench_on_real_vacancies(shared_data):
    from pipelines.bench.summarize import read_vacancies, run, skill_labels

    lab = skill_labels([["Знание SQL обязательно", "Мы дружная команда", "Опыт с PostgreSQL"]], [["SQL", "Git"]])
    assert lab[0].tolist() == [True, False, False]  # word-bounded: "PostgreSQL" is not "SQL"
    path = shared_data / "hh_vacancies_ru" / "vacancies.parquet"
    assert len(read_vacancies(path, 5)) == 5
    rep = run(path, n=20, repeats=1, vocab_size=300, n_train=120)
    assert "STAND-IN" in rep["summarizer"]["source"]
    assert rep["documents"] == 20 and rep["split_docs_per_s"] > 0 and rep["ratio_summarize_over_split"] > 1.0
    cov = rep["key_skill_coverage_held_out"]
    assert set(cov) == {"lead", "textrank", "random", "lr"} and all(0 <= v["coverage"] <= 1 for v in cov.values())

"""Sentence classifier: section labels from vacancy headers, train/predict/eval on the tiny market, the TF-IDF baseline beside it."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines import cli
from dssm.understanding.classifier import ClassifierConfig, load_classifier, load_section_model
from dssm.understanding.tfidf_classifier import TfidfClassifier
from pipelines.understanding.classify import evaluate_classifier, section_table, train_classifier, training_split
from pipelines.understanding.sections import labelled_sentences

HTML = ("<p>Мы — банк.</p><p><strong>Обязанности:</strong></p><ul><li>писать сервисы на Go;</li><li>ревьюить код.</li></ul>"
        "<p><strong>Наш стек:</strong></p><p>Go, Postgres.</p><p><b>Будет плюсом</b></p><ul><li>опыт с Kafka</li></ul>"
        "<p><strong>Мы предлагаем:</strong></p><ul><li>ДМС</li></ul>")


def test_headers_label_the_sentences_under_them_and_are_never_inputs():
    got = [(s, c) for s, c, _ in labelled_sentences(HTML)]
    assert got == [("- писать сервисы на Go;", "duties"), ("- ревьюить код.", "duties"), ("- опыт с Kafka", "plus"), ("- ДМС", "offer")]
    assert all("Обязанности" not in s for s, _ in got)  # the header itself, and the unmapped «Наш стек» section, are not inputs


@pytest.fixture(scope="module")
def tiny_classifier(tiny_market, tiny_albert, tmp_path_factory):
    out = tmp_path_factory.mktemp("classifier") / "sections"
    result = train_classifier(ClassifierConfig(max_epochs=2, lr=0.003, encoder_lr=0.001), tiny_market, tiny_albert, out)
    return out, result


def test_split_is_by_document_and_both_systems_are_scored_on_it(tiny_classifier, tiny_market):
    out, result = tiny_classifier
    table = section_table(tiny_market, "vacancies", 0.2, 0)
    assert not set(table[table.part == "train"].doc_id) & set(table[table.part == "dev"].doc_id)
    assert result.dev_sentences == int((table.part == "dev").sum())
    classes = result.classes
    assert set(classes) <= {"duties", "requirements", "plus", "offer", "company"} and len(classes) >= 3
    majority = table[table.part == "dev"].section.value_counts(normalize=True).iloc[0]
    assert result.tfidf["accuracy"] > 0.9  # the synthetic sections are lexically distinct
    assert result.albert["accuracy"] > majority, (result.albert["accuracy"], majority)
    m = result.albert["confusion"]["matrix"]
    assert sum(map(sum, m)) == result.dev_sentences
    assert evaluate_classifier(out, tiny_market)["accuracy"] == pytest.approx(result.albert["accuracy"])


def test_predict_contract_keeps_rows_and_adds_probabilities(tiny_classifier, tmp_path):
    out, result = tiny_classifier
    texts = ["Опыт работы с Python от 3 лет.", "", "ДМС и гибкий график. " * 40]  # empty, and longer than a window
    pd.DataFrame({"text": texts, "id": [1, 2, 3]}).to_parquet(tmp_path / "in.parquet")
    assert cli.main(["classifier", "predict", "--model", str(out), "--input", str(tmp_path / "in.parquet"), "--out", str(tmp_path / "o.parquet")]) == 0
    df = pd.read_parquet(tmp_path / "o.parquet")
    assert df["id"].tolist() == [1, 2, 3] and set(df["pred_section"]) <= set(result.classes)
    probs = df[[f"prob_{c}" for c in result.classes]].to_numpy()
    assert probs.shape == (3, len(result.classes)) and abs(probs.sum(1) - 1).max() < 1e-5
    assert abs(load_section_model(out).predict_proba(texts) - probs).max() < 1e-6  # the interface parse and the summarizer read
    model, _, info = load_classifier(out)
    assert info["classes"] == result.classes and sorted(p.name for p in out.iterdir()) == ["classifier.yaml", "model.safetensors", "tokenizer"]


def test_tfidf_system_is_saved_without_pickles_and_reads_back_exactly(tiny_market, tmp_path, capsys):
    out = tmp_path / "sections_tfidf"
    assert cli.main(["classifier", "train", "--system", "tfidf", "--data", str(tiny_market), "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["tfidf_classifier.json", "tfidf_classifier.npz"]
    loaded = load_section_model(out)
    _, train, dev, classes = training_split(ClassifierConfig(), tiny_market, "vacancies")
    fitted = TfidfClassifier.fit(train["text"].tolist(), train["section"].tolist())
    texts = dev["text"].tolist()
    assert loaded.classes == classes == fitted.classes
    assert abs(loaded.predict_proba(texts) - fitted.predict_proba(texts)).max() < 1e-12  # vocabularies and idf rebuilt exactly
    accuracy = evaluate_classifier(out, tiny_market)["accuracy"]
    assert accuracy == pytest.approx(loaded.info["dev"]["tfidf_lr"]["accuracy"]) and accuracy > 0.9
    assert cli.main(["classifier", "train", "--data", str(tiny_market), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--system albert needs --albert" in err and len(err.splitlines()) == 1 and not (tmp_path / "x").exists()


def test_resume_sections_from_the_synthetic_truth(tiny_market):
    table = section_table(tiny_market, "resumes", 0.2, 0)
    assert {"experience", "education"} <= set(table.section) and table.part.nunique() == 2


def test_resume_sections_from_real_section_fields_skip_headers_and_split_by_resume(tmp_path):
    hh = {"about": "Делаю SPA на React. Люблю тесты.", "education": "Высшее образование\n2015\nКубГТУ, Краснодар",
          "work_experience": "Опыт работы 3 года 8 месяцев\nФевраль 2022 — по настоящее время\nUdemy\nОбязанности:\n- верстка; - ревью. Показать еще"}
    entries = {"experience_json": '[{"description": "Писал API на Spring. Покрыл тестами."}, {"duties": "Поддержка 1С."}]',
               "education_json": '[{"education_level": "Высшее", "organization": "НовГУ", "faculty": "ИТ"}]'}
    rows = [{"resume_id": f"r{i}", **(hh if i % 2 else entries)} for i in range(20)]
    pd.DataFrame(rows).to_parquet(tmp_path / "resumes.parquet")
    table = section_table(tmp_path, "resumes", 0.3, 0)
    assert set(table.section) == {"about", "experience", "education"} and table.part.nunique() == 2
    assert not set(table[table.part == "train"].doc_id) & set(table[table.part == "dev"].doc_id)
    one = table[table.doc_id == "r1"]
    assert list(zip(one.text, one.section))[:3] == [("Делаю SPA на React.", "about"), ("Люблю тесты.", "about"), ("Февраль 2022 — по настоящее время", "experience")]
    assert not table.text.str.contains("Опыт работы|Обязанности|Показать еще").any()  # headers and page artefacts are never inputs
    assert table[table.doc_id == "r0"].text.tolist() == ["Писал API на Spring.", "Покрыл тестами.", "Поддержка 1С.", "Высшее, НовГУ, ИТ"]


def test_resume_sections_of_real_resumes(shared_data, tmp_path):
    from pipelines.data.importers import import_datasets

    import_datasets(["hh_resumes_frontend_ru", "talentmatch_ru"], shared_data, tmp_path / "real")
    table = section_table(tmp_path / "real", "resumes", 0.2, 0)
    counts = table.section.value_counts()
    assert set(counts.index) == {"about", "experience", "education"} and counts["experience"] > counts["education"] > 500, counts.to_dict()
    assert table.doc_id.nunique() > 500 and not table.text.str.match(r"Опыт работы \d").any()


def test_bad_input_is_one_line(tiny_classifier, tiny_albert, tmp_path, capsys):
    out, _ = tiny_classifier
    pd.DataFrame({"sentence": ["x"]}).to_parquet(tmp_path / "bad.parquet")
    (tmp_path / "empty").mkdir()
    (tmp_path / "flat").mkdir()
    pd.DataFrame({"resume_id": ["a"], "text": ["Python"]}).to_parquet(tmp_path / "flat" / "resumes.parquet")
    for argv, needle in [
        (["classifier", "predict", "--model", str(out), "--input", str(tmp_path / "bad.parquet"), "--out", str(tmp_path / "o.parquet")], "column text: missing"),
        (["classifier", "predict", "--model", str(tiny_albert), "--input", str(tmp_path / "bad.parquet"), "--out", str(tmp_path / "o.parquet")], "an ALBERT encoder, not a fine-tuned model"),
        (["classifier", "train", "--data", str(tmp_path / "empty"), "--albert", str(tiny_albert), "--out", str(tmp_path / "c")], "vacancies.parquet: file not found"),
        (["classifier", "train", "--kind", "resumes", "--data", str(tmp_path / "flat"), "--system", "tfidf", "--out", str(tmp_path / "c")],
         "resumes.parquet: neither a synthetic market"),
    ]:
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o.parquet").exists() and not (tmp_path / "c").exists()

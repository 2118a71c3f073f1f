"""Text pipeline: HTML -> lines -> sentences; unit cases, hypothesis properties, real hh.ru vacancies."""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dssm.errors import DataError
from dssm.text import document_sentences, frame_documents, html_to_text, split_sentences


def nonspace(s: str) -> str:
    return re.sub(r"\s", "", s)


# ----------------------------------------------------------------------------- html_to_text


def test_paragraphs_lists_br_and_entities():
    html = (
        "<p>Компания &laquo;Рога&raquo; &amp; сыновья.</p>"
        "<p><strong>Требования:</strong></p><ul><li>Python 3&nbsp;лет</li><li> SQL </li><li></li></ul>"
        "строка<br>вторая<br/>третья<h2>Условия</h2><ol><li>ДМС</li></ol>"
    )
    assert html_to_text(html).split("\n") == [
        "Компания «Рога» & сыновья.",
        "Требования:",
        "- Python 3 лет",
        "- SQL",
        "строка",
        "вторая",
        "третья",
        "Условия",
        "- ДМС",
    ]


def test_html_source_newlines_are_spaces_and_scripts_comments_dropped():
    html = "<div>один\n   два</div><script>var a = '<p>x</p>';</script><!-- <p>скрыто</p> --><style>p{}</style><span>три</span>"
    assert html_to_text(html) == "один два\nтри"


def test_inline_tags_do_not_split_words_and_attributes_with_gt_are_tags():
    assert html_to_text('<p>Py<b>th</b>on <a href="x?a>b" title=\'1>0\'>link</a></p>') == "Python link"


def test_table_cells_are_lines():
    assert html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>") == "a\nb\nc"


def test_plain_text_passes_through_with_whitespace_normalised():
    text = "Первая строка  с   пробелами\r\n\n\n  вторая\tстрока &amp; 3 < 5 > 4\u2028третья"
    assert html_to_text(text) == "Первая строка с пробелами\nвторая строка &amp; 3 < 5 > 4\nтретья"


@pytest.mark.parametrize("empty", [None, "", "   ", "\n\n", "<p></p>", "<div> <br/> </div>", "<ul><li> </li></ul>"])
def test_empty_inputs(empty):
    assert html_to_text(empty) == ""
    assert split_sentences(html_to_text(empty)) == []
    assert document_sentences(None, empty) == []


def test_english_mixed_and_emoji():
    text = "<p>We use Python 🐍 and Go. Опыт от 3 лет! Salary: $5,000–7,000 😀.</p><p>中文 text.</p>"
    assert html_to_text(text) == "We use Python 🐍 and Go. Опыт от 3 лет! Salary: $5,000–7,000 😀.\n中文 text."
    assert split_sentences(html_to_text(text)) == ["We use Python 🐍 and Go.", "Опыт от 3 лет!", "Salary: $5,000–7,000 😀.", "中文 text."]


def test_huge_document_one_megabyte():
    para = "<p>Разрабатывать сервисы на Python. Писать тесты и документацию!</p><ul><li>Знание SQL</li></ul>"
    html = para * (1_000_000 // len(para) + 1)
    assert len(html) >= 1_000_000
    t0 = time.perf_counter()
    sents = document_sentences("Разработчик", html)
    assert time.perf_counter() - t0 < 30  # generous: a linear pass, ~1 s on one busy core
    n = len(html) // len(para)
    assert len(sents) == 1 + 3 * n
    assert sents[1:4] == ["Разрабатывать сервисы на Python.", "Писать тесты и документацию!", "- Знание SQL"]
    one_line = "слово " * 200_000  # 1.2 MB with no punctuation: one sentence
    assert split_sentences(one_line) == [one_line.strip()]


# ----------------------------------------------------------------------------- sentences and documents


def test_split_sentences_line_breaks_are_hard_boundaries():
    assert split_sentences("Первое предложение без точки\nВторое. Третье?\n\n- пункт списка") == [
        "Первое предложение без точки",
        "Второе.",
        "Третье?",
        "- пункт списка",
    ]


def test_razdel_keeps_abbreviations_together():
    assert split_sentences("Опыт от 3 лет, т.е. не меньше. Оплата 100 тыс. руб. в месяц. Звоните!") == [
        "Опыт от 3 лет, т.е. не меньше.",
        "Оплата 100 тыс. руб. в месяц.",
        "Звоните!",
    ]


def test_document_sentences_title_first():
    assert document_sentences("  Повар \n горячего цеха ", "<p>Готовить. Мыть посуду!</p>") == ["Повар горячего цеха", "Готовить.", "Мыть посуду!"]
    assert document_sentences("", "Текст") == ["Текст"]
    assert document_sentences(float("nan"), None) == []


def test_frame_documents_uses_schema_columns_and_nulls():
    v = pd.DataFrame({"vacancy_id": ["1", "2"], "title": ["Повар", None], "description": ["<p>Варить суп.</p>", None]})
    r = pd.DataFrame({"resume_id": ["a"], "title": ["Кассир"], "text": ["Работал кассиром. Знаю 1С."]})
    assert frame_documents(v, "vacancies") == [["Повар", "Варить суп."], []]
    assert frame_documents(r, "resumes") == [["Кассир", "Работал кассиром.", "Знаю 1С."]]
    with pytest.raises(DataError, match="column text"):
        frame_documents(v, "resumes")
    with pytest.raises(DataError, match="unknown document kind"):
        frame_documents(v, "jobs")


# ----------------------------------------------------------------------------- properties

_ALPHABET = st.sampled_from(list("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДabcXYZ0123456789.,!?;:-—–()«»\"' \n\t\u00a0😀中"))
_texts = st.text(alphabet=_ALPHABET, max_size=300)


@settings(max_examples=150, deadline=None)
@given(_texts)
def test_split_sentences_keeps_every_nonspace_character_in_order(text):
    sents = split_sentences(text)
    assert "".join(nonspace(s) for s in sents) == nonspace(text)
    assert all(s and s == s.strip() and "\n" not in s for s in sents)


@settings(max_examples=150, deadline=None)
@given(_texts)
def test_html_to_text_of_plain_text_keeps_characters_and_is_idempotent(text):
    out = html_to_text(text)
    assert nonspace(out) == nonspace(text)
    assert html_to_text(out) == out
    assert all(line and line == line.strip() and "  " not in line for line in out.split("\n")) or out == ""


_words = st.text(alphabet=st.sampled_from(list("абвгдежзabcxyz019.,!?😀")), min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["p", "li", "div", "br", "span", "b"]), st.lists(_words, max_size=5)), max_size=12))
def test_html_keeps_text_in_order_and_every_block_on_its_own_line(blocks):
    html = "".join(f"<{t}>" + " ".join(ws) + (f"</{t}>" if t != "br" else "") for t, ws in blocks)
    out = html_to_text(html)
    assert nonspace(out).replace("-", "") == "".join(nonspace(" ".join(ws)) for _, ws in blocks).replace("-", "")
    for tag, ws in blocks:
        if tag in ("p", "div", "li") and nonspace(" ".join(ws)):
            line = ("- " if tag == "li" else "") + " ".join(ws)
            assert line in out.split("\n")


# ----------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def hh_vacancies(shared_data):
    path = shared_data / "hh_vacancies_ru" / "vacancies.parquet"
    df = pd.read_parquet(path, columns=["id", "title", "text", "description_html"])
    return df[df["description_html"].notna()].head(400).reset_index(drop=True)


def test_real_vacancies_html_matches_the_published_plain_text(hh_vacancies):
    """Our HTML conversion keeps exactly the characters of the dataset's own plain-text column (modulo whitespace and list marks)."""
    mismatched = []
    for i, (html, text) in enumerate(zip(hh_vacancies["description_html"], hh_vacancies["text"])):
        ours = nonspace(html_to_text(html)).replace("-", "").replace("•", "")
        theirs = nonspace(text).replace("-", "").replace("•", "")
        if ours != theirs:
            mismatched.append(i)
    assert not mismatched, mismatched[:10]


def test_real_vacancies_sentences_cover_the_text(hh_vacancies):
    for title, html in zip(hh_vacancies["title"], hh_vacancies["description_html"]):
        body = html_to_text(html)
        sents = document_sentences(title, html)
        assert sents[0] == " ".join(title.split())
        assert "".join(nonspace(s) for s in sents[1:]) == nonspace(body)
        assert all(s.strip() == s and s for s in sents)
    n = sum(len(document_sentences(t, h)) for t, h in zip(hh_vacancies["title"], hh_vacancies["description_html"]))
    assert n > 5 * len(hh_vacancies)  # real descriptions are many sentences long


def test_html_to_text_is_fast_on_real_vacancies(hh_vacancies):
    docs = hh_vacancies["description_html"].tolist()
    t0 = time.perf_counter()
    for html in docs:
        html_to_text(html)
    rate = len(docs) / (time.perf_counter() - t0)
    assert rate > 300, f"{rate:.0f} docs/s"  # measured ~5000 docs/s on one core; floor leaves room for a busy CI box

"""Section labels for vacancy sentences, read from the headers real hh.ru descriptions already carry.

A vacancy description (HTML or text) is laid out in lines (`dssm.text.html_to_text`). A line
is a **header** when it is short (<= `MAX_HEADER_WORDS` words) and either ends with ':' or
is nothing but a known header phrase; its text is normalised (lower case, ё -> е, dashes and
punctuation dropped) and mapped to a class by the first matching rule of `SECTION_RULES`.
Every sentence of the lines under a mapped header, up to the next header, gets that class;
the header itself is never an input, and sentences before the first header or under an
unmapped header ("Стек:", "Адрес:") are not labelled.

Classes and the header variants each covers (most frequent first, on the 3,190 hh.ru API
vacancies of ../shared/data: see `jobmatch classifier sections --data` for the counts):

* duties — Обязанности, Чем предстоит заниматься, Задачи, Что нужно делать, Вам предстоит, Responsibilities
* requirements — Требования, Наши ожидания, Мы ожидаем, Что для нас важно, Кого мы ищем, Requirements
* plus — Будет плюсом, Плюсом будет, Будет преимуществом, Желательно, Приветствуется, Nice to have
* offer — Условия, Мы предлагаем, Что мы предлагаем, Условия работы, Компания предлагает, Наши преимущества, We offer
* company — О компании, О нас, Кто мы, О проекте, About us

>>> section_of_header("Что мы предлагаем:")
'offer'
>>> section_of_header("Будет преимуществом")
'plus'
>>> section_of_header("Стек технологий:") is None
True
>>> [(s, c) for s, c, _ in labelled_sentences("Мы банк.\\nОбязанности:\\nПисать код. Ревьюить.\\nБудет плюсом\\nОпыт с Kafka\\nУсловия:\\nДМС")]
[('Писать код.', 'duties'), ('Ревьюить.', 'duties'), ('Опыт с Kafka', 'plus'), ('ДМС', 'offer')]
"""

from __future__ import annotations

import re

SECTIONS = ("duties", "requirements", "plus", "offer", "company")
"""The classes, in report order."""

SECTION_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("offer", re.compile(r"наши преимущества|предлага|предложить|услови|гарантир|получите|почему мы|работа у нас|у нас есть|we offer|benefits|conditions")),
    ("plus", re.compile(r"плюс|преимуществ|желательн|приветству|nice to have|bonus")),
    ("company", re.compile(r"^о компании|^о нас$|^кто мы|^о проекте|^о продукте|^about( us| the company)?$|^о команде")),
    ("duties", re.compile(r"обязанност|задач|предстоит|заниматься|делать|функционал|responsibilit|будешь|будете|ответственност|what you will do")),
    ("requirements", re.compile(r"требовани|ожида|ждем|важн|ищем|навык|requirement|обязательн|качеств|qualification|знани|опыт|пожелани|кандидат|требуется|необходимо|потребуется")),
)
"""Normalised header -> class: the first rule whose pattern is found wins (so "Наши преимущества" is offer, "Будет преимуществом" plus)."""

MAX_HEADER_WORDS = 8
BARE_HEADERS = frozenset({
    "обязанности", "требования", "условия", "задачи", "мы предлагаем", "что мы предлагаем", "будет плюсом", "плюсом будет",
    "будет преимуществом", "желательно", "о компании", "о нас", "кто мы", "чем предстоит заниматься", "наши ожидания",
    "responsibilities", "requirements", "we offer", "nice to have", "about us",
})
"""Headers recognised without a trailing colon (only exactly these, so a short item such as «Опыт с Kafka» is content)."""
_PUNCT = re.compile(r"[^\w\s]+")


def normalise_header(line: str) -> str:
    """'- Что мы ПРЕДЛАГАЕМ:' -> 'что мы предлагаем'."""
    return " ".join(_PUNCT.sub(" ", line.lower().replace("ё", "е")).split())


def section_of_header(line: str) -> str | None:
    """The class a header line maps to, or None (not a known header)."""
    norm = normalise_header(line)
    for name, pattern in SECTION_RULES:
        if pattern.search(norm):
            return name
    return None


def is_header(line: str) -> bool:
    """A short line (not a list item) ending with ':', or exactly one of `BARE_HEADERS`."""
    text = line.strip()
    norm = normalise_header(text)
    if not norm or len(norm.split()) > MAX_HEADER_WORDS or text[:1] in "-•*–—" or text[:1].isdigit():
        return False
    return text.endswith(":") or norm in BARE_HEADERS


def labelled_sentences(description: str | None) -> list[tuple[str, str, str]]:
    """A description -> [(sentence, class, header line)] for the sentences under mapped headers, in order."""
    from dssm.text import html_to_text, split_sentences

    out: list[tuple[str, str, str]] = []
    current, header = None, ""
    for line in html_to_text(description or "").split("\n"):
        if not line.strip():
            continue
        if is_header(line):
            current, header = section_of_header(line), line.strip()
            continue
        if current is not None:
            out.extend((s, current, header) for s in split_sentences(line))
    return out


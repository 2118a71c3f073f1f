"""Section labels for real resume sentences, from the structured fields the importers keep beside `text`.

Real resumes in the contract carry their sections as fields: hh.ru's page blocks `about`, `work_experience`
and `education` (hh_resumes_frontend_ru), and the entry lists `experience_json` / `education_json`
(superjob_it_ru, talentmatch_ru). Every sentence of a field gets that field's class:

* about — `about` (hh.ru's «О себе»)
* experience — `work_experience` (hh.ru's block: dates, employer, position, duties), and each
  `experience_json` entry's free text (`description`, `duties`, `achievments` [sic, SuperJob's key])
* education — `education` (hh.ru's block), and each `education_json` entry's level, organisation,
  faculty and specialty as one line

Header lines are never inputs: hh.ru's «Опыт работы 7 лет 10 месяцев» that heads its experience block, and
the headers inside a block («Обязанности:», «Ключевые навыки:»: `sections.is_header`, the vacancy rule);
the page's «Показать еще» ("show more") is cut. A resume without any of these fields gives
no sentence; a synthetic market's resumes carry their section truth in `truth/sentences.parquet` instead.

>>> row = {"about": "Люблю React. Учусь быстро.", "work_experience": "Опыт работы 2 года\\nАвито\\nОбязанности:\\nПисал фронтенд... Показать еще",
...        "experience_json": '[{"description": "Делал API."}]', "education_json": '[{"education_level": "Высшее", "organization": "МГУ"}]'}
>>> resume_sections(row)
[('Люблю React.', 'about'), ('Учусь быстро.', 'about'), ('Авито', 'experience'), ('Писал фронтенд...', 'experience'), ('Делал API.', 'experience'), ('Высшее, МГУ', 'education')]
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

TEXT_FIELDS = (("about", "about"), ("work_experience", "experience"), ("education", "education"))
"""Plain-text section fields (hh.ru's page blocks) and their classes, in reading order."""
EXPERIENCE_TEXT_KEYS = ("description", "duties", "achievments", "achievements")
"""Free-text keys of an `experience_json` entry (talentmatch: description; SuperJob: duties, achievments)."""
EDUCATION_KEYS = ("education_level", "kind", "organization", "university", "faculty", "specialty")
"""Keys of an `education_json` entry joined into its one line, in this order (talentmatch and SuperJob names)."""
STRUCTURE_COLUMNS = (*(f for f, _ in TEXT_FIELDS), "experience_json", "education_json")
"""Resume columns that carry sections; a resumes table needs at least one of them."""

_BLOCK_HEADER = re.compile(r"^(опыт работы|образование)(\s+\d.*)?$", re.IGNORECASE)
_SHOW_MORE = re.compile(r"\s*Показать еще\s*$")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _entries(value: Any) -> list[dict]:
    """A JSON list of objects (as the importers store them) -> its dicts; anything else -> []."""
    if not isinstance(value, str) or not value.strip():
        return []
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return []
    return [e for e in parsed if isinstance(e, dict)] if isinstance(parsed, list) else []


def _block_sentences(block: str) -> list[str]:
    from dssm.text import split_sentences

    from pipelines.understanding.sections import is_header

    lines = [_SHOW_MORE.sub("", line).strip() for line in block.split("\n")]
    return split_sentences("\n".join(line for line in lines if line and not _BLOCK_HEADER.match(line) and not is_header(line)))


def resume_sections(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """One resume's fields -> [(sentence, class)]: the text blocks in `TEXT_FIELDS` order, then the JSON entries."""
    from dssm.text import split_sentences

    out = [(s, cls) for field, cls in TEXT_FIELDS for s in _block_sentences(_text(row.get(field)))]
    for entry in _entries(row.get("experience_json")):
        out += [(s, "experience") for k in EXPERIENCE_TEXT_KEYS for s in split_sentences(_text(entry.get(k)))]
    for entry in _entries(row.get("education_json")):
        line = ", ".join(v for k in EDUCATION_KEYS if (v := _text(entry.get(k))))
        if line:
            out.append((line, "education"))
    return out

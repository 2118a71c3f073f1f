"""One document -> its sentences, entities and sections, with a loaded tagger (and optionally a sentence classifier).

The document (plain text or HTML) is cut into sentences (`dssm.text.split_sentences` over
`html_to_text` lines), each sentence into words (`tags.word_offsets`); the tagger tags each
sentence (long ones in windows), the classifier gives each sentence its section and
probability. Entity offsets are characters within their sentence.

>>> parsed = {"sentences": ["Python и SQL."], "entities": [{"sent_idx": 0, "start": 0, "end": 6, "type": "SKILL", "text": "Python"}],
...           "sections": [{"sent_idx": 0, "section": "requirements", "probability": 0.9}]}
>>> "<mark" in highlight_html(parsed)
True
"""

from __future__ import annotations

import hashlib
import html
from typing import Any


def parse_text(text: str, tagger: tuple, classifier=None) -> dict[str, Any]:
    """text -> {"sentences": [str], "entities": [{sent_idx, start, end, type, text, norm, score}], "sections": [{sent_idx, section, probability, prob_<class>...}]}.

    `tagger` is what `tagging.load_tagger` returns; `classifier` what `dssm.understanding.classifier.load_section_model` returns.
    """
    from dssm.text import html_to_text, split_sentences
    from pipelines.understanding.corpus import parse_sentences

    sentences = [s for line in html_to_text(text or "").split("\n") if line.strip() for s in split_sentences(line)]
    return parse_sentences(sentences, tagger, classifier)


def _colour(kind: str) -> str:
    h = int(hashlib.sha256(kind.encode()).hexdigest()[:2], 16) * 360 // 256
    return f"hsl({h},70%,80%)"


def highlight_html(parsed: dict[str, Any]) -> str:
    """A self-contained HTML fragment: one line per sentence, its section (and probability) first, entities marked by type."""
    by_sent: dict[int, list[dict]] = {}
    for e in parsed["entities"]:
        by_sent.setdefault(e["sent_idx"], []).append(e)
    sections = {s["sent_idx"]: s for s in parsed.get("sections", [])}
    types = sorted({e["type"] for e in parsed["entities"]})
    legend = " ".join(f'<mark style="background:{_colour(t)}">{html.escape(t)}</mark>' for t in types)
    rows = []
    for i, sentence in enumerate(parsed["sentences"]):
        pos, parts = 0, []
        for e in sorted(by_sent.get(i, []), key=lambda x: x["start"]):
            if e["start"] < pos:
                continue
            parts.append(html.escape(sentence[pos : e["start"]]))
            parts.append(f'<mark style="background:{_colour(e["type"])}" title="{html.escape(e["type"])}">{html.escape(sentence[e["start"]:e["end"]])}</mark>')
            pos = e["end"]
        parts.append(html.escape(sentence[pos:]))
        sec = sections.get(i)
        badge = f'<td style="color:#555;white-space:nowrap">{html.escape(sec["section"])} {sec["probability"]:.2f}</td>' if sec else "<td></td>"
        rows.append(f"<tr>{badge}<td>{''.join(parts)}</td></tr>")
    return (f'<div style="font-family:sans-serif"><p>entities: {legend or "none"}</p>'
            f'<table style="border-collapse:collapse">{"".join(rows)}</table></div>')

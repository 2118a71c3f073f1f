"""Side-by-side calibration of a synthetic market against real vacancies, in BPE tokens.

For every vacancy the document is `dssm.text.document_sentences(title, description)`
(title = sentence 0) tokenised sentence by sentence; its length L is the total number
of BPE ids. A *skill mention* is an occurrence of one of the vacancy's own `skills`
entries in one of its body sentences (the title is left out: "Java-разработчик" names the
language but not the stack; case-insensitive, not inside a longer word); its
position is the token offset of its sentence plus the number of tokens of the
sentence's text before it. Reported per set:

* length percentiles (p10 ... p99) and the share of documents with L > cut;
* share of skill mentions at position >= cut (beyond what a first-`cut` model reads);
* share of vacancies with mentions whose mentions *all* lie beyond the cut (the hh.ru
  Java-developer case), and the share of `skills` entries found in the text at all.

>>> stats = document_stats(vacancies, tokenizer)  # doctest: +SKIP
>>> print(format_table({"real": real_stats, "synthetic": stats}))  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from dssm.errors import DataError
from dssm.text import document_sentences

PERCENTILES = (10, 25, 50, 75, 90, 99)
"""Length percentiles reported."""


def _skill_list(v: object) -> list[str]:
    if v is None or isinstance(v, float):
        return []
    out, seen = [], set()
    for s in v:
        s = " ".join(str(s).split())
        if s and s.lower() not in seen:
            seen.add(s.lower())
            out.append(s)
    return out


def _has_title(title: object) -> bool:
    return isinstance(title, str) and bool(title.split())


def _pattern(skill: str) -> re.Pattern:
    return re.compile(r"(?<!\w)" + re.escape(skill.lower()) + r"(?!\w)")


def skill_mentions(sentences: Sequence[str], skills: Sequence[str]) -> list[tuple[int, int, str]]:
    """Every occurrence of a skill in the sentences: (sentence index, character offset, skill)."""
    out = []
    lowered = [s.lower() for s in sentences]
    for skill in skills:
        pat = _pattern(skill)
        for i, s in enumerate(lowered):
            out.extend((i, m.start(), skill) for m in pat.finditer(s))
    return out


def document_stats(vacancies: pd.DataFrame, tokenizer: Any, cut: int = 300) -> dict[str, Any]:
    """Length and skill-position statistics of a vacancies frame (see the module docstring).

    `tokenizer` needs `encode_documents(list[list[str]]) -> list[list[list[int]]]` and
    `encode_sentences(list[str]) -> list[list[int]]` (`dssm.tokenizer.Tokenizer`).
    """
    for col in ("title", "description"):
        if col not in vacancies.columns:
            raise DataError("vacancies.parquet", col, "missing column; calibration needs title, description and skills")
    docs = [
        document_sentences(t if isinstance(t, str) else None, d if isinstance(d, str) else None)
        for t, d in zip(vacancies["title"].to_numpy(dtype=object), vacancies["description"].to_numpy(dtype=object))
    ]
    titles = vacancies["title"].to_numpy(dtype=object)
    ids = tokenizer.encode_documents(docs)
    sent_lens = [np.fromiter((len(s) for s in d), dtype=np.int64, count=len(d)) for d in ids]
    lengths = np.array([int(s.sum()) for s in sent_lens], dtype=np.int64)
    skills = vacancies["skills"].to_numpy(dtype=object) if "skills" in vacancies.columns else np.full(len(docs), None, dtype=object)

    owners, sent_starts, prefixes = [], [], []
    n_entries = n_found = 0
    for k, (doc, sk) in enumerate(zip(docs, skills)):
        entries = _skill_list(sk)
        if not entries:
            continue
        first_body = 1 if doc and _has_title(titles[k]) else 0
        mentions = [m for m in skill_mentions(doc, entries) if m[0] >= first_body]
        n_entries += len(entries)
        n_found += len({m[2] for m in mentions})
        starts = np.concatenate([[0], np.cumsum(sent_lens[k])[:-1]]) if len(doc) else np.zeros(0, dtype=np.int64)
        for i, off, _ in mentions:
            owners.append(k)
            sent_starts.append(int(starts[i]))
            prefixes.append(doc[i][:off])
    prefix_tokens = np.array([len(p) for p in tokenizer.encode_sentences(prefixes)], dtype=np.int64) if prefixes else np.zeros(0, np.int64)
    pos = np.asarray(sent_starts, dtype=np.int64) + prefix_tokens  # (M,) token position of each mention
    owners_arr = np.asarray(owners, dtype=np.int64)
    beyond = pos >= cut
    docs_with = np.unique(owners_arr)
    all_beyond = 0
    if len(docs_with):
        first = np.full(len(docs), np.iinfo(np.int64).max)
        np.minimum.at(first, owners_arr, pos)
        all_beyond = int((first[docs_with] >= cut).sum())
    n = len(lengths)
    return {
        "n_documents": n,
        "cut": int(cut),
        "length_mean": float(lengths.mean()) if n else float("nan"),
        "length_percentiles": {f"p{q}": float(np.percentile(lengths, q)) if n else float("nan") for q in PERCENTILES},
        "share_longer_than_cut": float((lengths > cut).mean()) if n else float("nan"),
        "n_documents_with_skills": int(sum(1 for s in skills if _skill_list(s))),
        "share_skill_entries_found": n_found / n_entries if n_entries else float("nan"),
        "n_skill_mentions": int(len(pos)),
        "share_mentions_beyond_cut": float(beyond.mean()) if len(pos) else float("nan"),
        "share_documents_all_mentions_beyond_cut": all_beyond / len(docs_with) if len(docs_with) else float("nan"),
    }


ROWS = (
    ("documents", lambda s: f"{s['n_documents']}"),
    *((f"length p{q}", (lambda q: lambda s: f"{s['length_percentiles'][f'p{q}']:.0f}")(q)) for q in PERCENTILES),
    ("length mean", lambda s: f"{s['length_mean']:.0f}"),
    ("share longer than cut", lambda s: f"{s['share_longer_than_cut']:.1%}"),
    ("documents with skills", lambda s: f"{s['n_documents_with_skills']}"),
    ("skills entries found in text", lambda s: f"{s['share_skill_entries_found']:.1%}"),
    ("skill mentions", lambda s: f"{s['n_skill_mentions']}"),
    ("mentions beyond cut", lambda s: f"{s['share_mentions_beyond_cut']:.1%}"),
    ("docs with all mentions beyond cut", lambda s: f"{s['share_documents_all_mentions_beyond_cut']:.1%}"),
)


def format_table(columns: dict[str, dict[str, Any]]) -> str:
    """Plain-text table: one row per statistic, one column per set (e.g. real, synthetic)."""
    names = list(columns)
    cut = next(iter(columns.values()))["cut"] if columns else 300
    header = [f"(BPE tokens, cut {cut})", *names]
    body = [[label, *(fmt(columns[n]) for n in names)] for label, fmt in ROWS]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in [header, *body]]
    return "\n".join(lines)

"""Silver SKILL spans: a vacancy's own key skills found in its own text, as a token set for the tagger.

    jobmatch tagger silver --data runs/real --out runs/understanding/silver_ru

For each vacancy with key skills (`skills` in the contract: hh.ru's key_skills, or a synthetic
market's known skills) every sentence of its title and description is split into words
(`tags.word_offsets`) and every occurrence of one of its skills (casefolded word sequence, ё =
е; longest first, no overlaps) is tagged B-SKILL / I-SKILL. Vacancies are split into train and
dev by `pipelines.data.split.seeded_dev_mask` (by document, seeded): a skill is only ever labelled from the
vacancy that lists it, and dev spans are as silver as train spans (a skill the employer did
not list is untagged in both) — dev figures on silver sets measure agreement with the key
skills, not true recall.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dssm.errors import DataError, JobmatchError
from dssm.io import atomic_path, check_output
from dssm.understanding.tags import spans_to_tags, word_offsets
from pipelines.data.split import seeded_dev_mask


def _key(words: list[str]) -> tuple[str, ...]:
    return tuple(w.casefold().replace("ё", "е") for w in words)


def skill_spans(words: list[str], skills: list[tuple[str, ...]]) -> list[tuple[int, int, str]]:
    """Occurrences of the skills (keys) in a word list, longest first, left to right, no overlaps.

    >>> skill_spans(["Знание", "Spring", "Framework", "и", "spring"], [("spring", "framework"), ("spring",)])
    [(1, 3, 'SKILL'), (4, 5, 'SKILL')]
    """
    keys = _key(words)
    lengths = sorted({len(s) for s in skills if s}, reverse=True)
    wanted = set(skills)
    spans, i = [], 0
    while i < len(keys):
        for n in lengths:
            if i + n <= len(keys) and keys[i : i + n] in wanted:
                spans.append((i, i + n, "SKILL"))
                i += n
                break
        else:
            i += 1
    return spans


def silver_rows(vacancies: pd.DataFrame) -> list[dict]:
    """One row per sentence of every vacancy with key skills: doc_id, sent_idx, tokens, tags."""
    from dssm.text import document_sentences

    rows = []
    for vid, title, desc, skills in zip(vacancies["vacancy_id"], vacancies["title"], vacancies["description"], vacancies["skills"]):
        keys = sorted({_key([str(s)[a:b] for a, b in word_offsets(str(s))]) for s in (skills if skills is not None else [])} - {()})
        if not keys:
            continue
        for k, sentence in enumerate(document_sentences(title, desc)):
            words = [sentence[a:b] for a, b in word_offsets(sentence)]
            if words:
                rows.append({"doc_id": str(vid), "sent_idx": k, "tokens": words, "tags": spans_to_tags(skill_spans(words, keys), len(words), "BIO")})
    return rows


def build_silver(data: str | Path, out: str | Path, dev_share: float = 0.2, seed: int = 0, force: bool = False) -> dict:
    """Write out/train.parquet and out/dev.parquet (split by vacancy); -> counts."""
    from pipelines.understanding.tagsets import read_parquet

    path = Path(data) / "vacancies.parquet"
    out = check_output(out, [data], force)
    df = read_parquet(path)
    for col in ("vacancy_id", "title", "description", "skills"):
        if col not in df.columns:
            raise DataError(str(path), col, "missing (silver skill spans need the contract's vacancy columns)")
    rows = silver_rows(df)
    if not rows:
        raise JobmatchError(f"{path}: no vacancy has key skills: nothing to label")
    table = pd.DataFrame(rows)
    dev = seeded_dev_mask(table["doc_id"].tolist(), dev_share, seed)
    counts = {}
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for name in ("train", "dev"):
            sub = table[dev if name == "dev" else ~dev].reset_index(drop=True)
            sub.to_parquet(tmp / f"{name}.parquet", index=False)
            counts[name] = {"vacancies": int(sub["doc_id"].nunique()), "sentences": len(sub),
                            "spans": int(sum(t.count("B-SKILL") for t in sub["tags"]))}
    return {"out": str(out), **counts}

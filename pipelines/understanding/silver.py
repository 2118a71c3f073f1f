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

`train_labels="all"` (`--train-labels all`) makes the train labels consistent in context: every
occurrence in a train vacancy of any skill that some train vacancy lists is tagged, not only the
vacancy's own (a name a vacancy did not list is otherwise O there and a skill next door). Dev labels
stay each vacancy's own key skills, so dev figures keep their meaning.
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


TRAIN_LABELS = ("own", "all")
"""What a train vacancy's sentences are tagged with: its own key skills, or those of every train vacancy (module docstring)."""


def skill_keys(skills) -> set[tuple[str, ...]]:
    """A vacancy's key skills (a list or None) -> their keys (casefolded word sequences)."""
    return {_key([str(s)[a:b] for a, b in word_offsets(str(s))]) for s in (skills if skills is not None else [])} - {()}


def silver_rows(vacancies: pd.DataFrame, shared: set[tuple[str, ...]] = frozenset(), dev_ids: set[str] = frozenset()) -> list[dict]:
    """One row per sentence of every vacancy with key skills: doc_id, sent_idx, tokens, tags. `shared` keys are tagged
    too in every vacancy not in `dev_ids`.

    >>> v = pd.DataFrame({"vacancy_id": ["a", "b"], "title": ["Python", "SQL"], "description": ["Python, SQL.", "SQL, Python."],
    ...                   "skills": [["Python"], ["SQL"]]})
    >>> [r["tags"] for r in silver_rows(v, shared={("python",), ("sql",)}, dev_ids={"b"})]
    [['B-SKILL'], ['B-SKILL', 'O', 'B-SKILL', 'O'], ['B-SKILL'], ['B-SKILL', 'O', 'O', 'O']]
    """
    from dssm.text import document_sentences

    rows = []
    for vid, title, desc, skills in zip(vacancies["vacancy_id"], vacancies["title"], vacancies["description"], vacancies["skills"]):
        own = skill_keys(skills)
        if not own:
            continue
        keys = sorted(own if str(vid) in dev_ids else own | set(shared))
        for k, sentence in enumerate(document_sentences(title, desc)):
            words = [sentence[a:b] for a, b in word_offsets(sentence)]
            if words:
                rows.append({"doc_id": str(vid), "sent_idx": k, "tokens": words, "tags": spans_to_tags(skill_spans(words, keys), len(words), "BIO")})
    return rows


def build_silver(data: str | Path, out: str | Path, dev_share: float = 0.2, seed: int = 0, force: bool = False,
                 train_labels: str = "own") -> dict:
    """Write out/train.parquet and out/dev.parquet (split by vacancy; train tagged per `train_labels`); -> counts."""
    from pipelines.understanding.tagsets import read_parquet

    path = Path(data) / "vacancies.parquet"
    out = check_output(out, [data], force)
    df = read_parquet(path)
    for col in ("vacancy_id", "title", "description", "skills"):
        if col not in df.columns:
            raise DataError(str(path), col, "missing (silver skill spans need the contract's vacancy columns)")
    if train_labels not in TRAIN_LABELS:
        raise JobmatchError(f"--train-labels {train_labels!r}: one of {list(TRAIN_LABELS)}")
    ids = [str(v) for v in df["vacancy_id"]]
    dev_ids = {v for v, d in zip(ids, seeded_dev_mask(ids, dev_share, seed)) if d}
    shared = set().union(*(skill_keys(s) for v, s in zip(ids, df["skills"]) if v not in dev_ids)) if train_labels == "all" else set()
    rows = silver_rows(df, shared, dev_ids)
    if not rows:
        raise JobmatchError(f"{path}: no vacancy has key skills: nothing to label")
    table = pd.DataFrame(rows)
    dev = table["doc_id"].isin(dev_ids).to_numpy()
    counts = {}
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for name in ("train", "dev"):
            sub = table[dev if name == "dev" else ~dev].reset_index(drop=True)
            sub.to_parquet(tmp / f"{name}.parquet", index=False)
            counts[name] = {"vacancies": int(sub["doc_id"].nunique()), "sentences": len(sub),
                            "spans": int(sum(t.count("B-SKILL") for t in sub["tags"]))}
    return {"out": str(out), **counts}

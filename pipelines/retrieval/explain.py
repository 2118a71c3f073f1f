"""Why a vacancy was recommended: the skills it shares with the resume, the ones the resume lacks, and its sentences naming them.

The catalogue's skills come from a parse folder (`jobmatch parse`, `pipelines.understanding.corpus`), the
resume's from the same tagger at query time; both sides are compared by their normalised names
(`dssm.understanding.skills.normalise_skill`). Skill entities are those whose type names a skill
(SKILL, Skill, KNOWLEDGE, ...); a tagger with no such type has all its entity types used.

For one (resume, vacancy) pair:
  matched_skills   the vacancy's skills (its own spelling, first mention first) the resume names too
  missing_skills   the vacancy's skills the resume does not name
  best_sentences   up to `MAX_SENTENCES` vacancy sentences naming the most matched skills (ties: earlier first),
                   in document order (without a match: the sentences naming the most missing skills)

A parse folder made by another tagger than the one given is refused, so both sides are read alike.

>>> explanation({"python": "Python", "sql": "SQL", "docker": "Docker"}, {"python", "docker", "git"},
...             {"python": {1}, "sql": {2}, "docker": {1, 3}}, ["T", "Python и Docker", "SQL", "Docker"])
{'matched_skills': ['Python', 'Docker'], 'missing_skills': ['SQL'], 'best_sentences': ['Python и Docker', 'Docker']}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dssm.errors import JobmatchError

MAX_SENTENCES = 3
"""Best-matching vacancy sentences per item."""
SKILL_TYPE = re.compile(r"skill|knowledge", re.IGNORECASE)


def explanation(vacancy_skills: Mapping[str, str], resume_skills: set[str], skill_sentences: Mapping[str, set[int]],
                sentences: Sequence[str]) -> dict[str, list[str]]:
    """The three fields for one pair (module docstring): `vacancy_skills` normalised -> displayed name, in first-mention order."""
    matched = [n for n in vacancy_skills if n in resume_skills]
    missing = [n for n in vacancy_skills if n not in resume_skills]
    basis = matched or missing
    count: dict[int, int] = {}
    for n in basis:
        for j in skill_sentences.get(n, ()):
            count[j] = count.get(j, 0) + 1
    best = sorted(sorted(count, key=lambda j: (-count[j], j))[:MAX_SENTENCES])
    return {"matched_skills": [vacancy_skills[n] for n in matched], "missing_skills": [vacancy_skills[n] for n in missing],
            "best_sentences": [sentences[j] for j in best if j < len(sentences)]}


def skill_rows(entities: pd.DataFrame) -> pd.DataFrame:
    """The entities that are skills (module docstring), with a normalised name."""
    types = entities["type"].astype(str)
    skill = types.str.contains(SKILL_TYPE)
    rows = entities[skill] if skill.any() else entities
    return rows[rows["norm"].notna()]


class Explainer:
    """Explanations for vacancies of a parsed catalogue and resumes tagged on the fly."""

    def __init__(self, tagger_dir: str | Path, parsed_dir: str | Path, vacancies: pd.DataFrame):
        from dssm.text import frame_documents
        from pipelines.artifacts import folder_hash
        from pipelines.understanding.corpus import ENTITIES_FILE, PARSE_FILE
        from pipelines.understanding.tagging import load_tagger

        parsed_dir = Path(parsed_dir)
        try:
            meta = json.loads((parsed_dir / PARSE_FILE).read_text())
        except (OSError, ValueError) as e:
            raise JobmatchError(f"{parsed_dir}: not a parse folder (no readable {PARSE_FILE}; make one with `jobmatch parse`)") from e
        if meta.get("models", {}).get("tagger") != folder_hash(tagger_dir):
            raise JobmatchError(f"{parsed_dir} was parsed with another tagger ({meta.get('tagger')}) than {tagger_dir}: parse the catalogue again with it")
        self.tagger = load_tagger(tagger_dir)
        ent = skill_rows(pd.read_parquet(parsed_dir / ENTITIES_FILE).query("kind == 'vacancies'"))
        self.skills: dict[str, dict[str, str]] = {}
        self.where: dict[str, dict[str, set[int]]] = {}
        for d, j, text, norm in ent[["doc_id", "sent_idx", "text", "norm"]].itertuples(index=False):
            self.skills.setdefault(d, {}).setdefault(norm, text)
            self.where.setdefault(d, {}).setdefault(norm, set()).add(int(j))
        ids = vacancies["vacancy_id"].astype(str).tolist()
        self.sentences = dict(zip(ids, frame_documents(vacancies, "vacancies")))

    def resume_skills(self, resumes: pd.DataFrame) -> list[set[str]]:
        """Per resume, the normalised names of the skills the tagger finds in it."""
        from dssm.text import frame_documents
        from pipelines.understanding.corpus import tag_sentences

        docs = frame_documents(resumes, "resumes")
        flat = [s for d in docs for s in d]
        found = tag_sentences(self.tagger, flat)
        out, i = [], 0
        for d in docs:
            rows = pd.DataFrame([e for f in found[i:i + len(d)] for e in f], columns=["type", "norm"])
            out.append(set(skill_rows(rows)["norm"]) if len(rows) else set())
            i += len(d)
        return out

    def explain(self, resume_skills: set[str], vacancy_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The explanation of each vacancy for one resume's skills."""
        return [explanation(self.skills.get(v, {}), resume_skills, self.where.get(v, {}), self.sentences.get(v, [])) for v in map(str, vacancy_ids)]

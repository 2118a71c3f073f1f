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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dssm.errors import JobmatchError
from dssm.understanding.skills import skill_rows

MAX_SENTENCES = 3
"""Best-matching vacancy sentences per item."""


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


PAGE_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;line-height:1.7;color:#111}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:2em}
.s{display:block;margin:.15em 0;padding:.1em .4em;border:2px solid transparent;border-radius:4px}
.sel{border-color:#1a7f37;background:#f3fbf5}
.att{display:inline-block;width:3.2em;font-size:.75em;color:#555}
.bar{display:inline-block;height:.6em;background:rgb(220,20,20);vertical-align:middle;margin-right:.3em}
mark.match{background:#b7f0c0}
mark.miss{background:#ffd7a8}
.legend{font-size:.9em;border:1px solid #ccc;padding:.6em 1em;margin-bottom:1.2em;border-radius:4px}
"""


def _marked(sentence: str, spans: list[tuple[int, int, str]]) -> str:
    """`sentence` as HTML with each (start, end, css class) span wrapped in <mark>; overlapping spans keep the first."""
    import html

    out, at = [], 0
    for s, e, cls in sorted(spans):
        if s < at:
            continue
        out += [html.escape(sentence[at:s]), f'<mark class="{cls}">{html.escape(sentence[s:e])}</mark>']
        at = e
    return "".join(out) + html.escape(sentence[at:])


def document_html(sentences: list[str], spans: dict[int, list[tuple[int, int, str]]], selected: set[int] | None = None,
                  ratios: Sequence[float] | None = None) -> str:
    """One document's sentences: marked spans, summary sentences outlined, the teacher's attention per sentence as a bar
    (its density over the document's mean: 1 = what uniform attention gives)."""
    peak = max(ratios) if ratios is not None and len(ratios) and max(ratios) > 0 else 1.0
    rows = []
    for j, sent in enumerate(sentences):
        cls = "s sel" if selected is not None and j in selected else "s"
        bar = ""
        if ratios is not None:
            r = float(ratios[j]) if j < len(ratios) else 0.0
            bar = f'<span class="att" title="attention density {r:.2f}"><span class="bar" style="width:{2.5 * r / peak:.2f}em"></span>{r:.1f}</span>'
        rows.append(f'<span class="{cls}">{bar}{_marked(sent, spans.get(j, []))}</span>')
    return "\n".join(rows)


def pair_page(resume: pd.DataFrame, vacancy: pd.DataFrame, tagger: tuple, teacher: str | Path | None = None,
              summarizer_dir: str | Path | None = None) -> str:
    """Self-contained HTML of one resume-vacancy pair (`tagger`: what `load_tagger` returns): both documents with the matched
    skills marked (green) in each and the
    vacancy's missing skills (orange); with `summarizer_dir` the vacancy's summary sentences outlined, with `teacher` its
    attention per sentence."""
    import html

    from dssm.text import frame_documents
    from pipelines.understanding.corpus import tag_sentences

    vid = str(vacancy["vacancy_id"].iloc[0])
    r_sents, v_sents = frame_documents(resume, "resumes")[0], frame_documents(vacancy, "vacancies")[0]
    r_found, v_found = tag_sentences(tagger, r_sents), tag_sentences(tagger, v_sents)
    r_skills = {e["norm"] for f in r_found for e in f if e["norm"]}
    v_skills = {e["norm"]: e["text"] for f in v_found for e in f if e["norm"]}
    why = explanation(v_skills, r_skills, {}, v_sents)
    matched = {n for n in v_skills if n in r_skills}
    v_marks = {j: [(e["start"], e["end"], "match" if e["norm"] in matched else "miss") for e in f if e["norm"]] for j, f in enumerate(v_found)}
    r_marks = {j: [(e["start"], e["end"], "match") for e in f if e["norm"] in matched] for j, f in enumerate(r_found)}
    selected, ratios, note = None, None, []
    if summarizer_dir is not None:
        from pipelines.artifacts import load_summarizer
        from summarizer.summarize import select

        model = load_summarizer(summarizer_dir)
        tok = model.load_tokenizer()
        doc = tok.encode_documents([v_sents])[0]
        scores = model.score(doc, "vacancies", v_sents)
        if len(doc) and v_sents and v_sents[0].strip():
            scores[0] = np.inf
        selected = {i for i, _ in select(scores, [len(s) for s in doc], model.cfg.budget)}
        note.append(f"outlined: the {model.cfg.budget}-token summary")
    if teacher is not None:
        from pipelines.artifacts import load_encoder
        from summarizer.labels import fair_share_ratio, sentence_mass

        enc = load_encoder(teacher)
        _, attn, sent = enc.embed_with_attention(vacancy, "vacancies", batch_size=1)
        ratios = fair_share_ratio(*sentence_mass(attn[0], sent[0], len(v_sents))).tolist()
        note.append("bars: the teacher's attention density per sentence")
    legend = ('<div class="legend"><mark class="match">matched skill</mark> in both documents; <mark class="miss">missing</mark>: the vacancy '
              f'asks, the resume does not name. Matched: {html.escape(", ".join(why["matched_skills"]) or "-")}. '
              f'Missing: {html.escape(", ".join(why["missing_skills"]) or "-")}. {html.escape("; ".join(note))}</div>')
    rid = str(resume["resume_id"].iloc[0]) if "resume_id" in resume.columns else "resume"
    return (f'<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8"><title>{html.escape(rid)} - {html.escape(vid)}</title>'
            f"<style>{PAGE_CSS}</style></head><body>{legend}<div class=\"cols\"><div><h3>vacancy {html.escape(vid)}</h3>\n"
            f"{document_html(v_sents, v_marks, selected, ratios)}</div><div><h3>resume {html.escape(rid)}</h3>\n"
            f"{document_html(r_sents, r_marks)}</div></div></body></html>\n")

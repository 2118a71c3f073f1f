"""Stage `parse`: every document of a dataset -> its entities (and, with a classifier, its sentence sections).

OUT holds
  entities.parquet   doc_id, kind, sent_idx, start, end, type, text, norm, score
  sections.parquet   doc_id, kind, sent_idx, section, probability,       (only with a classifier)
                     prob_<class> for every class of the classifier
  documents.parquet  doc_id, kind, hash                                   (what each row was parsed from)
  parse.json         the tagger's and classifier's folder hashes, counts, versions

Sentences are the summarizer's (`dssm.text.frame_documents`: the title is sentence 0), so `sent_idx`
lines up with the labels and summaries; `start`/`end` are character offsets in that sentence.
`norm` is `dssm.understanding.skills.normalise_skill(text)`; `score` the mean, over the span's
words, of the tagger's probability for its predicted tag.

Incremental like refresh: a rerun into an existing parse folder made by the same tagger and
classifier parses again only the documents whose sentences changed (sha256 of the sentences),
keeps the rows of the others, drops the rows of documents no longer in the data, and replaces
the folder whole once the new one is complete. Another tagger or classifier parses everything.

>>> parse_corpus("RUN/tagger", "RUN/market", "RUN/parsed", classifier_dir="RUN/classifier")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dssm.io import atomic_path, check_output, versions, write_json, write_parquet
from dssm.schema import TABLES
from dssm.text import document_hash
from dssm.understanding.skills import normalise_skill
from pipelines.artifacts import DOCUMENTS_FILE, ENTITIES_FILE, PARSE_FILE, SECTIONS_FILE

ENTITY_COLUMNS = ["doc_id", "kind", "sent_idx", "start", "end", "type", "text", "norm", "score"]


def tag_sentences(tagger: tuple, sentences: list[str]) -> list[list[dict[str, Any]]]:
    """Per sentence its entities: start, end (characters), type, text, norm, score."""
    from dssm.understanding.tags import word_offsets, word_to_char_spans
    from pipelines.understanding.tagging import CONFIDENCE, row_spans, tag_rows

    model, pieces, space, _ = tagger
    offsets = [word_offsets(s) for s in sentences]
    words = [[s[a:b] for a, b in off] for s, off in zip(sentences, offsets)]
    rows = tag_rows(model, model.cfg, pieces.rows(words), pieces.pad_id, pieces.cls_id, pieces.sep_id, confidence=True, words=words)
    out: list[list[dict[str, Any]]] = []
    for sent, off, row in zip(sentences, offsets, rows):
        found = []
        for layer in space.tags:
            tags = [space.tags[layer][i] for i in row[layer]]
            spans = row_spans(tags, layer, len(space.tags))
            for (s, e, kind), (a, b, _) in zip(word_to_char_spans(off, spans), spans):
                text = sent[s:e]
                found.append({"start": s, "end": e, "type": kind, "text": text, "norm": normalise_skill(text),
                              "score": float(np.mean(row[layer + CONFIDENCE][a:b]))})
        out.append(sorted(found, key=lambda x: (x["start"], x["type"])))
    return out


def classify_sentences(classifier, sentences: list[str]) -> list[dict[str, Any]]:
    """Per sentence (a section model of `dssm.understanding.classifier.load_section_model`) its most probable section,
    that probability and every class's: {section, probability, prob_<class>...}."""
    proba = classifier.predict_proba(sentences)  # (N, C)
    return [{"section": classifier.classes[int(p.argmax())], "probability": float(p.max()),
             **{f"prob_{c}": float(x) for c, x in zip(classifier.classes, p)}} for p in proba]


def section_columns(classifier) -> list[str]:
    return ["doc_id", "kind", "sent_idx", "section", "probability", *(f"prob_{c}" for c in classifier.classes)]


def parse_sentences(sentences: list[str], tagger: tuple, classifier=None) -> dict[str, Any]:
    """One document's sentences -> {"sentences", "entities": [{sent_idx, ...}], "sections": [{sent_idx, section, probability, prob_<class>...}]}."""
    entities = [{"sent_idx": i, **e} for i, found in enumerate(tag_sentences(tagger, sentences)) for e in found]
    sections = [] if classifier is None else [{"sent_idx": i, **c} for i, c in enumerate(classify_sentences(classifier, sentences))]
    return {"sentences": sentences, "entities": entities, "sections": sections}


@dataclass
class ParseResult:
    """What `parse_corpus` wrote."""

    out: str
    documents: int
    parsed: int
    reused: int
    removed: int
    entities: int
    sections: int | None
    seconds: float


def _previous(out: Path, models: dict[str, str | None]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None] | None:
    """The rows of an earlier parse into `out` by the same models, else None."""
    try:
        meta = json.loads((out / PARSE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if meta.get("models") != models:
        return None
    sections = pd.read_parquet(out / SECTIONS_FILE) if (out / SECTIONS_FILE).is_file() else None
    return pd.read_parquet(out / DOCUMENTS_FILE), pd.read_parquet(out / ENTITIES_FILE), sections


def parse_corpus(tagger_dir: str | Path, data: str | Path, out: str | Path, classifier_dir: str | Path | None = None, force: bool = False) -> ParseResult:
    """Parse every vacancy and resume of `data` into `out` (module docstring); -> what was parsed and reused.

    `out` is never `data` (nor inside or around it); an existing `out` that is not a parse folder is replaced only with `force`.
    """
    from dssm.text import frame_documents
    from pipelines.artifacts import folder_hash
    from pipelines.data.dataset import load_dataset
    from dssm.understanding.classifier import load_section_model
    from pipelines.understanding.tagging import load_tagger

    out = Path(out)
    check_output(out, [data, tagger_dir, classifier_dir], force or (out / PARSE_FILE).is_file())
    t0 = time.perf_counter()
    tagger = load_tagger(tagger_dir)
    classifier = load_section_model(classifier_dir) if classifier_dir is not None else None
    models = {"tagger": folder_hash(tagger_dir), "classifier": folder_hash(classifier_dir) if classifier_dir is not None else None}
    prev = _previous(out, models) if out.exists() else None
    prev_hash = {} if prev is None else {(k, d): h for d, k, h in prev[0][["doc_id", "kind", "hash"]].itertuples(index=False)}
    ds = load_dataset(data)
    docs, keep, new_ent, new_sec = [], set(), [], []
    for kind, df in ds.documents.items():
        ids = df[TABLES[kind][3]].astype(str).tolist()
        sentences = frame_documents(df, kind)
        hashes = [document_hash(s) for s in sentences]
        docs.append(pd.DataFrame({"doc_id": ids, "kind": kind, "hash": hashes}))
        todo = [i for i, (d, h) in enumerate(zip(ids, hashes)) if prev_hash.get((kind, d)) != h]
        keep |= {(kind, d) for d in ids} - {(kind, ids[i]) for i in todo}
        flat = [(ids[i], j, s) for i in todo for j, s in enumerate(sentences[i])]
        texts = [s for _, _, s in flat]
        for (d, j, _), found in zip(flat, tag_sentences(tagger, texts)):
            new_ent += [{"doc_id": d, "kind": kind, "sent_idx": j, **e} for e in found]
        if classifier is not None:
            new_sec += [{"doc_id": d, "kind": kind, "sent_idx": j, **c} for (d, j, _), c in zip(flat, classify_sentences(classifier, texts))]
    documents = pd.concat(docs, ignore_index=True)
    parsed = int(len(documents) - len(keep))

    def merged(old: pd.DataFrame | None, rows: list[dict], columns: list[str]) -> pd.DataFrame:
        fresh = pd.DataFrame(rows, columns=columns)
        if old is not None and len(old):
            kept = old[[(k, d) in keep for k, d in zip(old["kind"], old["doc_id"])]]
            fresh = pd.concat([kept[columns], fresh], ignore_index=True)
        return fresh.sort_values(["kind", "doc_id", "sent_idx", *(["start"] if "start" in columns else [])], kind="stable").reset_index(drop=True)

    entities = merged(None if prev is None else prev[1], new_ent, ENTITY_COLUMNS).astype({"sent_idx": "int64", "start": "int64", "end": "int64", "score": "float32"})
    sections = None
    if classifier is not None:
        columns = section_columns(classifier)
        sections = merged(None if prev is None else prev[2], new_sec, columns).astype({c: "float32" for c in columns[4:]} | {"sent_idx": "int64"})
    removed = 0 if prev is None else int(len(set(prev_hash) - set(zip(documents["kind"], documents["doc_id"]))))
    result = ParseResult(str(out), int(len(documents)), parsed, int(len(keep)), removed, int(len(entities)), None if sections is None else int(len(sections)),
                         round(time.perf_counter() - t0, 2))
    with atomic_path(out) as tmp:
        write_parquet(tmp / ENTITIES_FILE, entities)
        if sections is not None:
            write_parquet(tmp / SECTIONS_FILE, sections)
        write_parquet(tmp / DOCUMENTS_FILE, documents)
        write_json(tmp / PARSE_FILE, {"models": models, "tagger": str(Path(tagger_dir).resolve()), "classifier": str(Path(classifier_dir).resolve()) if classifier_dir else None,
                                      "data": str(Path(data).resolve()), "result": asdict(result), "versions": versions()})
    return result

"""Reading entity sets and pretraining text: token sets, span sets and dataset folders, checked at the boundary.

Token set (the `../shared/data` format): one row per sentence, `doc_id`, `sent_idx`, `tokens`
(list of str) and one or more tag columns (`tags`, or `tags_<layer>` per layer) aligned with
the tokens. Span set: one row per document, `text` and `spans` (list of {start, end, label},
character offsets, end exclusive; or `entities_json`, the same list as a JSON string, as
`dataturks_resume_ner_en` stores it). A set folder holds `train.parquet` and `dev.parquet`; without
a dev part a seeded share of the train documents is held out (`split_dev`).

Every problem is one line naming the file, the column and the first rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dssm.errors import DataError, JobmatchError
from dssm.understanding.tags import char_to_word_spans, scheme_of, spans_to_tags, word_offsets

TOKENS = "tokens"
TEXT = "text"
SPANS = "spans"
ENTITIES_JSON = "entities_json"
"""A span set's spans as one JSON string per row (list of {label, start, end[, text]})."""
DOC_ID = "doc_id"
SENT_IDX = "sent_idx"
SPAN_LAYER = "tags"
"""The one tag layer a span set becomes (its `pred_spans` are decoded from it)."""


def read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as a DataFrame; DataError naming the file when it is missing or unreadable."""
    import pyarrow.parquet as pq

    if not Path(path).is_file():
        raise DataError(str(path), None, "file not found")
    try:
        return pq.read_table(path).to_pandas()
    except Exception as e:  # noqa: BLE001 - any pyarrow failure means the file is not readable Parquet
        raise DataError(str(path), None, f"not a readable Parquet file ({' '.join(str(e).split())[:160]})") from e


def is_tag_column(name: str) -> bool:
    """`tags` or a `tags_<layer>` column."""
    return name == "tags" or name.startswith("tags_")


def tag_layers(df: pd.DataFrame) -> list[str]:
    """The tag columns of a token set: `tags` and every `tags_<layer>`, in column order."""
    return [c for c in df.columns if is_tag_column(c)]


def set_kind(df: pd.DataFrame, path: Path) -> str:
    """'tokens' for a token set, 'spans' for a span/text set; DataError otherwise."""
    if TOKENS in df.columns:
        return "tokens"
    if TEXT in df.columns:
        return "spans"
    raise DataError(str(path), TOKENS, f"missing: a token set needs a '{TOKENS}' list column (a span set '{TEXT}' and '{SPANS}'); columns: {list(df.columns)[:8]}")


def check_tokens(df: pd.DataFrame, path: Path) -> list[list[str]]:
    """The `tokens` column as lists of str; DataError naming rows that are not lists of strings."""
    bad, out = [], []
    for i, v in enumerate(df[TOKENS].tolist()):
        try:
            toks = [] if v is None else list(v)
        except TypeError:
            bad.append(i)
            out.append([])
            continue
        if not all(isinstance(t, str) for t in toks):
            bad.append(i)
        out.append([str(t) for t in toks])
    if bad:
        raise DataError(str(path), TOKENS, "not a list of strings", rows=bad)
    return out


def check_tags(df: pd.DataFrame, path: Path, tokens: list[list[str]], layer: str) -> list[list[str]]:
    """A tag column aligned with the tokens; DataError naming misaligned rows or unknown tags."""
    tags = [[] if v is None else [str(t) for t in v] for v in df[layer].tolist()]
    bad = [i for i, (t, g) in enumerate(zip(tokens, tags)) if len(t) != len(g)]
    if bad:
        raise DataError(str(path), layer, "tag list length differs from the tokens", rows=bad)
    try:
        scheme_of([t for g in tags for t in g])
    except ValueError as e:
        raise DataError(str(path), layer, str(e)) from None
    return tags


@dataclass
class TagTable:
    """One part (train or dev) of an entity set, as word tokens with one tag list per layer."""

    path: Path
    frame: pd.DataFrame
    """The rows as read (passed through by predict)."""
    tokens: list[list[str]]
    tags: dict[str, list[list[str]]]
    """layer -> tags per row (absent in a file to predict)."""
    kind: str
    """'tokens' or 'spans'."""
    offsets: list[list[tuple[int, int]]] | None = None
    """Span sets: each word's character offsets in `text`."""


def span_rows(df: pd.DataFrame, path: Path, with_spans: bool) -> tuple[list[list[str]], list[list[tuple[int, int]]], list[list[str]] | None]:
    """A span set's texts -> (words, offsets, BIO tags or None); DataError for non-text rows or bad spans."""
    texts = df[TEXT].tolist()
    bad = [i for i, t in enumerate(texts) if t is not None and not isinstance(t, str)]
    if bad:
        raise DataError(str(path), TEXT, "not a string", rows=bad)
    offsets = [word_offsets(t or "") for t in texts]
    words = [[(t or "")[a:b] for a, b in off] for t, off in zip(texts, offsets)]
    if not with_spans:
        return words, offsets, None
    column = SPANS if SPANS in df.columns else ENTITIES_JSON if ENTITIES_JSON in df.columns else None
    if column is None:
        raise DataError(str(path), SPANS, f"missing: a span set needs '{SPANS}' (list of {{start, end, label}}) or '{ENTITIES_JSON}' beside '{TEXT}'")
    tags, bad = [], []
    for i, (t, off, spans) in enumerate(zip(texts, offsets, df[column].tolist())):
        try:
            if column == ENTITIES_JSON:
                spans = json.loads(spans) if spans is not None else []
            triples = [(int(s["start"]), int(s["end"]), str(s["label"])) for s in (spans if spans is not None else [])]
        except (TypeError, KeyError, ValueError):
            bad.append(i)
            tags.append(["O"] * len(off))
            continue
        if any(not 0 <= s < e <= len(t or "") for s, e, _ in triples):
            bad.append(i)
        word_spans = sorted(char_to_word_spans(off, triples), key=lambda s: (s[0], -s[1]))
        kept, last = [], -1
        for s in word_spans:  # overlapping spans: the earlier (then longer) one wins
            if s[0] >= last:
                kept.append(s)
                last = s[1]
        tags.append(spans_to_tags(kept, len(off), "BIO"))
    if bad:
        raise DataError(str(path), column, "not a list of {start, end, label} inside the text", rows=bad)
    return words, offsets, tags


def read_table(path: Path, with_tags: bool = True, layers: list[str] | None = None) -> TagTable:
    """Read one part of a token or span set (`with_tags` False: a file to predict, tags not needed)."""
    df = read_parquet(path)
    kind = set_kind(df, path)
    if kind == "spans":
        words, offsets, tags = span_rows(df, path, with_spans=with_tags)
        return TagTable(path, df, words, {SPAN_LAYER: tags} if tags is not None else {}, kind, offsets)
    tokens = check_tokens(df, path)
    found = tag_layers(df)
    wanted = layers if layers is not None else found
    if with_tags:
        missing = [c for c in wanted if c not in df.columns]
        if missing or not wanted:
            raise DataError(str(path), (missing or ["tags"])[0], f"missing tag column (tag columns here: {found})")
    tags = {c: check_tags(df, path, tokens, c) for c in wanted if c in df.columns} if with_tags else {}
    return TagTable(path, df, tokens, tags, kind)


def doc_of_rows(df: pd.DataFrame) -> list[str]:
    """The document each row belongs to (`doc_id`, else the row itself)."""
    if DOC_ID in df.columns:
        return [str(d) for d in df[DOC_ID].tolist()]
    return [str(i) for i in range(len(df))]


def split_dev(table: TagTable, share: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split of a set without a dev part, by document: -> (train rows, dev rows).

    Dev documents: `pipelines.data.split.seeded_dev_mask`.
    """
    from pipelines.data.split import seeded_dev_mask

    dev = seeded_dev_mask(doc_of_rows(table.frame), share, seed)
    train_rows = [i for i, d in enumerate(dev) if not d]
    dev_rows = [i for i, d in enumerate(dev) if d]
    if not train_rows or not dev_rows:
        raise JobmatchError(f"{table.path}: a dev share of {share} leaves {len(train_rows)} train and {len(dev_rows)} dev rows; give a dev.parquet")
    return train_rows, dev_rows


def subset(table: TagTable, rows: list[int]) -> TagTable:
    """The rows `rows` of a table."""
    return TagTable(
        table.path, table.frame.iloc[rows].reset_index(drop=True), [table.tokens[i] for i in rows],
        {k: [v[i] for i in rows] for k, v in table.tags.items()}, table.kind,
        [table.offsets[i] for i in rows] if table.offsets is not None else None,
    )


def train_candidates(folder: Path) -> list[Path]:
    """A set folder's Parquet files other than its dev and test parts, sorted."""
    return sorted(p for p in folder.glob("*.parquet") if p.stem not in ("dev", "test"))


def load_set(folder: str | Path, dev_share: float = 0.2, seed: int = 0) -> tuple[TagTable, TagTable]:
    """An entity-set folder -> (train, dev). Train is `train.parquet` (or the only Parquet file); dev is
    `dev.parquet`, else a seeded share of the train documents."""
    folder = Path(folder)
    if folder.is_file():
        train_path, dev_path = folder, None
    else:
        if not folder.is_dir():
            raise JobmatchError(f"{folder}: no such entity set (a folder with train.parquet [and dev.parquet])")
        train_path = folder / "train.parquet"
        if not train_path.is_file():
            files = train_candidates(folder)
            if len(files) != 1:
                raise JobmatchError(f"{folder}: no train.parquet (Parquet files here: {[p.name for p in folder.glob('*.parquet')]})")
            train_path = files[0]
        dev_path = folder / "dev.parquet" if (folder / "dev.parquet").is_file() else None
    train = read_table(train_path)
    if dev_path is None:
        tr, dv = split_dev(train, dev_share, seed)
        return subset(train, tr), subset(train, dv)
    dev = read_table(dev_path, layers=list(train.tags))
    return train, dev


# ----------------------------------------------------------------------------- pretraining text


def is_dataset_folder(folder: Path) -> bool:
    """True when `folder` holds a vacancies.parquet or resumes.parquet with the contract's text columns."""
    import pyarrow.parquet as pq

    from dssm.schema import TABLES, TEXT_COLUMNS

    for kind in ("vacancies", "resumes"):
        path = folder / TABLES[kind][0]
        if path.is_file():
            try:
                names = pq.read_schema(path).names
            except Exception:  # noqa: BLE001 - unreadable: not a dataset; the text reader names the file
                return False
            if all(c in names for c in TEXT_COLUMNS[kind]):
                return True
    return False


def is_labelled(path: Path) -> bool:
    """True when a Parquet file is an entity set with its labels: spans (`spans`, `entities_json`) or tag columns."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception:  # noqa: BLE001 - unreadable: the reader that follows names the file
        return False
    return SPANS in names or ENTITIES_JSON in names or any(is_tag_column(n) for n in names)


def corpus_documents(folder: str | Path) -> tuple[str, list[list[list[str]]]]:
    """Pretraining text of one folder -> (what it was, documents as sentences of words).

    A dataset folder in the contract (vacancies.parquet / resumes.parquet): every document's
    sentences, split into words on whitespace. An entity set: its train part only (dev and test
    text never feed pretraining), a token set's rows grouped into documents by doc_id in
    sent_idx order, a span set's texts split into sentences (razdel) and words.
    """
    from dssm.text import split_sentences

    folder = Path(folder)
    if is_dataset_folder(folder):
        from pipelines.training.tokenizer import read_documents

        docs = [[s.split() for s in d] for kind_docs in read_documents(folder).values() for d in kind_docs]
        return "dataset", docs
    files = train_candidates(folder)
    if (folder / "train.parquet").is_file() or (folder / "dev.parquet").is_file() or (len(files) == 1 and is_labelled(files[0])):
        train, _ = load_set(folder)  # without a dev part, its seeded dev documents stay out too
    else:
        if not files:
            raise JobmatchError(f"{folder}: neither a dataset folder (vacancies/resumes.parquet) nor an entity set (train.parquet)")
        train = read_table(files[0], with_tags=False)
    if train.kind == "tokens":
        docs: dict[str, list[tuple[int, list[str]]]] = {}
        sent = train.frame[SENT_IDX].tolist() if SENT_IDX in train.frame.columns else list(range(len(train.frame)))
        for d, s, toks in zip(doc_of_rows(train.frame), sent, train.tokens):
            docs.setdefault(d, []).append((int(s), toks))
        return "token set", [[t for _, t in sorted(v, key=lambda x: x[0])] for v in docs.values()]
    texts = [t or "" for t in train.frame[TEXT].tolist()]
    return "span set", [[[s[a:b] for a, b in word_offsets(s)] for s in split_sentences(text)] for text in texts]

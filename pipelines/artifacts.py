"""Every artifact a stage reads, loaded one way: the folder must be there, its package's own loader reads it,
and what goes wrong is one line naming the folder.

- `load_encoder(MODEL)`: a trained DSSM (`dssm.encode.Encoder`), the one path every stage uses.
- `load_summarizer(DIR)` / `load_tokenizer(DIR)`: the LR summarizer and a BPE tokenizer.
- `read_labels(PATH)`: labels.parquet from `jobmatch label`.
- `read_split(MODEL)` / `trained_on(MODEL)`: the resumes a model held out, and the preprocessing of the texts it was trained on.
- `load_preprocess(DIR, budget)`: the summarizer as the query path runs it, and its identity.

Preprocessing identity. What the encoder of an index reads is "summary of `budget` tokens by
this summarizer, counted in this tokenizer": `preprocess_id` writes it as
`summarizer:<sha256 of its files, 16 hex>/budget:<B>/tokenizer:<sha256 of bpe.model, 16 hex>`.
The index manifest stores it, the production model records the one of the summaries it was
trained on, and `pipelines.retrieval.recommend.check_compatible` refuses any query path whose
id differs, part by part.

>>> preprocess_id("0123456789abcdef0000", 200, "fedcba98765432100000")
'summarizer:0123456789abcdef/budget:200/tokenizer:fedcba9876543210'
>>> parse_preprocess_id("summarizer:ab/budget:200/tokenizer:cd")
{'summarizer': 'ab', 'budget': '200', 'tokenizer': 'cd'}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from dssm.errors import DataError, JobmatchError

SPLIT_FILE = "split.json"
"""In a model dir: the resumes `jobmatch train` held out (`val_resume_ids`), so every evaluation holds out the same ones."""

Preprocess = Callable[[pd.DataFrame, str], pd.DataFrame]
"""(frame, kind) -> the frame with its text replaced (e.g. by a budgeted summary); same rows and columns."""


class SummaryPreprocess:
    """The preprocessing of `load_preprocess`: (frame, kind) -> the frame with each text replaced by its budgeted summary.

    `tokens` also gives the summaries' BPE ids, sentence by sentence, in the summarizer's tokenizer (`tokenizer_hash`):
    an encoder reading that tokenizer embeds them directly (`pipelines.retrieval.recommend.embed_preprocessed`) instead of
    splitting and tokenizing the summary text again (15% of the service's Python time under load)."""

    def __init__(self, summarizer: Any, tokenizer: Any, budget: int):
        self.summarizer, self.tokenizer, self.budget = summarizer, tokenizer, int(budget)
        self.tokenizer_hash = tokenizer.model_hash

    def __call__(self, df: pd.DataFrame, kind: str) -> pd.DataFrame:
        return self.tokens(df, kind)[0]

    def tokens(self, df: pd.DataFrame, kind: str) -> tuple[pd.DataFrame, list[list[list[int]]]]:
        """The summarized frame and each summary's ids (title first), as `Encoder.tokenize` reads the summary text."""
        from summarizer.summarize import summarize_frame_tokens

        return summarize_frame_tokens(df, kind, self.summarizer, self.tokenizer, budget=self.budget)


def _folder(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise JobmatchError(f"{path}: {what} directory not found")
    return path


def load_encoder(model_dir: str | Path, runtime: str = "torch", parsed: str | Path | None = None) -> Any:
    """`dssm.encode.Encoder.load(model_dir, runtime)` after checking the folder (torch is imported here, lazily).

    A model with the skill feature reads skill bags from `parsed` (default: the parse folder it was trained with,
    `cfg.parsed`), through `SkillSource`; a parse by another tagger is refused."""
    from dssm.encode import Encoder
    from dssm.model_io import resolve_model_path

    enc = Encoder.load(_folder(model_dir, "model"), runtime)
    if enc.cfg.uses_skills:
        if parsed is None and enc.cfg.parsed is None:
            raise JobmatchError(f"{model_dir}: the model reads skill bags but names no parse folder (config `parsed`)")
        folder = Path(parsed) if parsed is not None else resolve_model_path(model_dir, enc.cfg.parsed)
        enc.skills = SkillSource(folder, next(f.skills_from for f in enc.features.values() if f.skills is not None))
    return enc



def load_summarizer(summarizer_dir: str | Path) -> Any:
    """`summarizer.model.Summarizer.load(summarizer_dir)`."""
    from summarizer.model import Summarizer

    return Summarizer.load(_folder(summarizer_dir, "summarizer"))


def load_tokenizer(tokenizer_dir: str | Path) -> Any:
    """`dssm.tokenizer.Tokenizer.load(tokenizer_dir)`."""
    from dssm.tokenizer import Tokenizer

    return Tokenizer.load(_folder(tokenizer_dir, "tokenizer"))


def read_labels(path: str | Path) -> pd.DataFrame:
    """labels.parquet of `jobmatch label`, doc ids as strings; one-line errors for a missing file or column."""
    from summarizer.labels import LABEL_COLUMNS

    path = Path(path)
    if not path.is_file():
        raise JobmatchError(f"{path}: labels not found (make them with `jobmatch label`)")
    labels = pd.read_parquet(path)
    if missing := [c for c in LABEL_COLUMNS if c not in labels.columns]:
        raise DataError(str(path), missing[0], "missing column (not a labels.parquet from `jobmatch label`)")
    labels["doc_id"] = labels["doc_id"].astype("str")
    return labels


def read_split(model_dir: str | Path) -> list[str]:
    """Held-out resume ids recorded by `jobmatch train` in MODEL/split.json (`val_resume_ids`)."""
    path = Path(model_dir) / SPLIT_FILE
    if not path.exists():
        raise JobmatchError(f"{path}: not found (train the model with `jobmatch train`, which records its held-out resumes)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ids = data["val_resume_ids"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise JobmatchError(f"{path}: expected JSON with a 'val_resume_ids' list ({e})") from e
    return [str(x) for x in ids]


def model_meta(model_dir: str | Path) -> dict[str, Any]:
    """The `_meta` block of a model's config.yaml (versions, the data and tokenizer it was trained on, ...); {} without one."""
    import yaml

    from dssm.model_io import CONFIG

    path = Path(model_dir) / CONFIG
    if not path.is_file():
        return {}
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("_meta") or {}


def trained_on(model_dir: str | Path) -> dict[str, Any] | None:
    """The preprocessing record of the summaries a model was trained on (`jobmatch train` keeps it), None for original texts."""
    return model_meta(model_dir).get("preprocess")


def folder_hash(folder: str | Path) -> str:
    """sha256 over the names and bytes of every file below `folder`, in sorted order."""
    h = hashlib.sha256()
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def preprocess_id(summarizer_hash: str, budget: int, tokenizer_hash: str) -> str:
    """The identity of "summary of `budget` tokens by this summarizer in this tokenizer" (module docstring)."""
    return f"summarizer:{summarizer_hash[:16]}/budget:{int(budget)}/tokenizer:{tokenizer_hash[:16]}"


def parse_preprocess_id(pid: str | None) -> dict[str, str]:
    """A preprocess id split into its parts ({} for None: original texts)."""
    if not pid:
        return {}
    return dict(part.partition(":")[::2] for part in str(pid).split("/"))


def preprocess_differences(a: str | None, b: str | None, a_side: str, b_side: str) -> list[str]:
    """The parts in which two preprocess ids differ, each as "budget 300 (query) vs 200 (index)"; [] when they agree.

    >>> preprocess_differences("summarizer:ab/budget:300/tokenizer:cd", "summarizer:ab/budget:200/tokenizer:cd", "query", "index")
    ['budget 300 (query) vs 200 (index)']
    """
    pa, pb = parse_preprocess_id(a), parse_preprocess_id(b)
    if pa == pb:
        return []
    parts = [f"{k} {pa.get(k, 'none')} ({a_side}) vs {pb.get(k, 'none')} ({b_side})" for k in ("summarizer", "budget", "tokenizer") if pa.get(k) != pb.get(k)]
    return parts or [f"{a!r} ({a_side}) vs {b!r} ({b_side})"]


def load_preprocess(summarizer_dir: str | Path | None, budget: int | None = None) -> tuple[Preprocess | None, str | None]:
    """`--summarizer DIR` -> (preprocess, its preprocess id); (None, None) without one.

    budget: tokens per summary; None = the budget saved with the summarizer (`SummarizerConfig.budget`).
    """
    if summarizer_dir is None:
        return None, None
    summ = load_summarizer(summarizer_dir)
    tokenizer = summ.load_tokenizer()
    budget = summ.cfg.budget if budget is None else int(budget)
    if budget < 1:
        raise JobmatchError(f"summary budget must be >= 1, got {budget}")
    return SummaryPreprocess(summ, tokenizer, budget), preprocess_id(folder_hash(summarizer_dir), budget, tokenizer.model_hash)


ENTITIES_FILE, SECTIONS_FILE, DOCUMENTS_FILE, PARSE_FILE = "entities.parquet", "sections.parquet", "documents.parquet", "parse.json"
"""The files of a parse folder (`pipelines.understanding.corpus` writes them, `SkillSource` reads them)."""


class SkillSource:
    """Each document's skill bag (column `parsed_skills`: its normalised skill names, first mention first) for the towers.

    Read from a parse folder (`jobmatch parse`, incremental): a document the parse lacks, or whose sentences changed
    since (document hash), is refused, so training, encoding, refresh and serving read skills alike. `expect_tagger`
    (a folder hash, as a model's features record it) refuses a parse made by another tagger. Skill entities are
    `dssm.understanding.skills.skill_rows`.

    >>> SkillSource("RUN/parsed")(vacancies, "vacancies")["parsed_skills"].iloc[0]  # doctest: +SKIP
    ['python', 'postgresql', 'docker']
    """

    def __init__(self, parsed: str | Path, expect_tagger: str | None = None):
        from dssm.understanding.skills import skill_rows

        self.parsed = Path(parsed)
        try:
            meta = json.loads((self.parsed / PARSE_FILE).read_text())
            entities = pd.read_parquet(self.parsed / ENTITIES_FILE, columns=["doc_id", "kind", "sent_idx", "start", "type", "norm"])
            documents = pd.read_parquet(self.parsed / DOCUMENTS_FILE)
        except (OSError, ValueError, KeyError) as e:
            raise JobmatchError(f"{self.parsed}: not a parse folder (`jobmatch parse` writes {PARSE_FILE}, {ENTITIES_FILE}, {DOCUMENTS_FILE}): {e}") from e
        self.tagger_hash = meta["models"]["tagger"]
        """Folder hash of the tagger the parse was made with."""
        if expect_tagger is not None and expect_tagger != self.tagger_hash:
            raise JobmatchError(f"{self.parsed}: parsed by tagger {self.tagger_hash[:12]}, but the model's skills came from tagger {expect_tagger[:12]}")
        rows = skill_rows(entities).sort_values(["kind", "doc_id", "sent_idx", "start"], kind="stable")
        self.bags = {key: list(dict.fromkeys(g["norm"])) for key, g in rows.groupby(["kind", "doc_id"], sort=False)}
        self.hashes = {(k, d): h for d, k, h in documents[["doc_id", "kind", "hash"]].itertuples(index=False)}

    def __call__(self, df: pd.DataFrame, kind: str) -> pd.DataFrame:
        """`df` (documents of `kind`) with column `parsed_skills` added; the input frame is not changed."""
        from dssm.schema import TABLES
        from dssm.text import document_hash, frame_documents

        ids = df[TABLES[kind][3]].astype(str).tolist()
        stale = [d for d, s in zip(ids, frame_documents(df, kind)) if self.hashes.get((kind, d)) != document_hash(s)]
        if stale:
            raise JobmatchError(f"{self.parsed}: {len(stale)} {kind} not in the parse or changed since (first {stale[:3]}): "
                                f"parse them with the same tagger (`jobmatch parse --data ... --out {self.parsed}`, incremental)")
        return df.assign(parsed_skills=[self.bags.get((kind, d), []) for d in ids])

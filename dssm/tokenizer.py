"""BPE tokenizer: a deterministic trainer that writes a youtokentome model, and yttm for fast batched encoding.

Layout of a tokenised document: a list of sentences, each a list of BPE ids;
`flatten` lays a document out as one id sequence plus each token's sentence
index, so per-token attention can be summed per sentence.

Training. youtokentome 1.0.6's own trainer breaks ties between merges of equal
count by thread timing (its deterministic queue is a compile-time flag), so two
trainings on the same corpus give different models even with n_threads=1. We
therefore learn the merges here with the same rules yttm uses and write its
model format, which yttm then loads and encodes with:

* text is split into words on whitespace; every word starts with the space
  symbol "▁" (id 4 after pad 0, unk 1, bos 2, eos 3);
* alphabet: the rarest characters are dropped while the kept share of
  character occurrences stays >= `coverage`; a dropped character encodes as
  UNK (a run of them as one UNK); the rest get ids by descending frequency
  (ties: smaller code point first);
* merges: repeatedly merge the adjacent pair (x, y) with the largest count
  sum over words of freq(word) * occurrences, ties broken by the smallest
  (x, y); the new token gets the next id. yttm encodes by applying merges in
  that order (left to right within a word), i.e. exactly the learned order.

Deterministic by construction (no randomness, no hash-order dependence); `seed`
only picks the sample when `max_texts` caps the corpus.

>>> import tempfile
>>> tok = Tokenizer.train(["мама мыла раму", "мама мыла окно"], tempfile.mkdtemp(), vocab_size=30)
>>> tok.decode(tok.encode_sentences(["мама мыла"])[0])
'мама мыла'
>>> flatten([[5, 6], [], [7]])
(array([5, 6, 7]), array([0, 0, 2]))
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import os
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from dssm.errors import JobmatchError
from dssm.io import atomic_path, config_to_dict, file_sha256, progress, versions
from dssm.checks import at_least, check_numbers

PAD_ID = 0
UNK_ID = 1
BOS_ID = 2
EOS_ID = 3
N_SPECIAL = 4
SPACE_ID = 4
SPACE_CHAR = "\u2581"
MODEL_FILE = "bpe.model"
CONFIG_FILE = "config.yaml"

_WS = re.compile(r"[\s\u2581]+")


def normalise(text: str) -> str:
    """What the tokenizer sees: every whitespace run (and yttm's space symbol) -> one space, stripped."""
    return _WS.sub(" ", text).strip()


@dataclass
class TokenizerConfig:
    """How a BPE model was trained."""

    vocab_size: int = 16000
    """Requested vocabulary size: 4 specials + alphabet + merges (fewer if the corpus runs out of pairs)."""
    coverage: float = 0.9999
    """Share of character occurrences the alphabet must cover; rarer characters become UNK."""
    seed: int = 0
    """Seed of the corpus sample when `max_texts` caps it (training itself draws no random numbers)."""
    max_texts: int | None = None
    """Train on at most this many texts (a seeded sample); None = all."""

    def __post_init__(self) -> None:
        check_numbers(self)
        at_least(self, 0, "seed")
        if int(self.vocab_size) < N_SPECIAL + 2:
            raise ValueError(f"vocab_size must be >= {N_SPECIAL + 2}, got {self.vocab_size}")
        if not 0.0 < float(self.coverage) <= 1.0:
            raise ValueError(f"coverage must be in (0, 1], got {self.coverage}")
        if self.max_texts is not None and int(self.max_texts) < 1:
            raise ValueError(f"max_texts must be >= 1 or None, got {self.max_texts}")


def _alphabet(char_count: Counter, coverage: float) -> dict[str, int]:
    """char -> id for the kept characters (see the module docstring)."""
    total = sum(char_count.values())
    ascending = sorted(char_count.items(), key=lambda kv: (kv[1], -ord(kv[0])))
    removed, cut = 0, 0
    while cut < len(ascending) and total - removed - ascending[cut][1] >= total * coverage:
        removed += ascending[cut][1]
        cut += 1
    kept = sorted(ascending[cut:], key=lambda kv: (-kv[1], ord(kv[0])))
    return {ch: N_SPECIAL + 1 + i for i, (ch, _) in enumerate(kept)}


def _merge_word(word: tuple[int, ...], x: int, y: int, z: int) -> tuple[int, ...]:
    out: list[int] = []
    i, n = 0, len(word)
    while i < n:
        if i + 1 < n and word[i] == x and word[i + 1] == y:
            out.append(z)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def learn_bpe(texts: Iterable[str], vocab_size: int, coverage: float) -> tuple[dict[str, int], list[tuple[int, int, int]]]:
    """Learn (alphabet char -> id, merge rules [(x, y, z)]) from texts; deterministic. See the module docstring."""
    word_freq: Counter = Counter()
    for t in texts:
        word_freq.update(normalise(t).split(" "))
    word_freq.pop("", None)
    char_count: Counter = Counter()
    for w, f in word_freq.items():
        for ch in w:
            char_count[ch] += f
    if not char_count:
        raise JobmatchError("tokenizer: the training corpus has no characters (all texts empty)")
    char2id = _alphabet(char_count, coverage)
    if N_SPECIAL + 1 + len(char2id) > vocab_size:
        raise JobmatchError(
            f"tokenizer: vocab_size {vocab_size} is smaller than specials + alphabet ({N_SPECIAL + 1 + len(char2id)}); "
            "raise --vocab-size or lower coverage"
        )
    merged: Counter = Counter()
    for w, f in word_freq.items():
        merged[(SPACE_ID, *(char2id[c] for c in w if c in char2id))] += f
    words = [w for w in sorted(merged) if len(w) > 1]
    freqs = [merged[w] for w in words]

    pair_count: dict[tuple[int, int], int] = {}
    where: dict[tuple[int, int], set[int]] = {}
    for i, w in enumerate(words):
        for p in zip(w, w[1:]):
            pair_count[p] = pair_count.get(p, 0) + freqs[i]
            where.setdefault(p, set()).add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)

    rules: list[tuple[int, int, int]] = []
    next_id = N_SPECIAL + 1 + len(char2id)
    n_merges = vocab_size - next_id
    bar = progress(range(n_merges), desc="BPE merges", unit="merge")
    for _ in bar:
        while heap and (pair_count.get(heap[0][1], 0) != -heap[0][0] or heap[0][0] == 0):
            heapq.heappop(heap)
        if not heap:
            break
        _, (x, y) = heapq.heappop(heap)
        z = next_id
        next_id += 1
        rules.append((x, y, z))
        changed: dict[tuple[int, int], int] = {}
        for i in sorted(where.pop((x, y), ())):
            w, f = words[i], freqs[i]
            new = _merge_word(w, x, y, z)
            if new == w:
                continue
            delta = Counter(zip(new, new[1:]))
            delta.subtract(zip(w, w[1:]))
            for p, d in delta.items():
                if d:
                    changed[p] = pair_count[p] = pair_count.get(p, 0) + d * f
                    if d > 0:
                        where.setdefault(p, set()).add(i)
            words[i] = new
        pair_count.pop((x, y), None)
        for p, c in changed.items():
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                pair_count.pop(p, None)
    return char2id, rules


def write_yttm_model(path: Path, char2id: dict[str, int], rules: list[tuple[int, int, int]]) -> None:
    """youtokentome's model format: 'n_chars n_rules', 'codepoint id' lines (space symbol first), 'x y z' lines, 'unk pad bos eos'."""
    lines = [f"{len(char2id) + 1} {len(rules)}", f"{ord(SPACE_CHAR)} {SPACE_ID}"]
    lines += [f"{ord(ch)} {i}" for ch, i in sorted(char2id.items(), key=lambda kv: kv[1])]
    lines += [f"{x} {y} {z}" for x, y, z in rules]
    lines.append(f"{UNK_ID} {PAD_ID} {BOS_ID} {EOS_ID}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextlib.contextmanager
def _silence_fds() -> Iterator[None]:
    """Silence C-level stdout/stderr (yttm prints on model load errors) so `--json` output stays clean."""
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "wb") as null:
        try:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


class Tokenizer:
    """A trained BPE model in `path` (bpe.model + config.yaml); encodes sentences in batched yttm calls."""

    def __init__(self, path: str | Path, bpe, config: TokenizerConfig, model_hash: str):
        self.path = Path(path)
        self.bpe = bpe
        self.config = config
        self.model_hash = model_hash
        self.vocab_size = int(bpe.vocab_size())

    def __repr__(self) -> str:
        return f"Tokenizer(path={str(self.path)!r}, vocab_size={self.vocab_size}, model_hash={self.model_hash[:12]!r})"

    def __getstate__(self) -> dict:
        return {"path": str(self.path)}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(Tokenizer.load(state["path"]).__dict__)

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        out_dir: str | Path,
        vocab_size: int = 16000,
        seed: int = 0,
        coverage: float = 0.9999,
        max_texts: int | None = None,
    ) -> Tokenizer:
        """Learn BPE on `texts` and write out_dir/bpe.model + out_dir/config.yaml atomically (the whole dir).

        config.yaml records vocab_size, coverage, seed, max_texts and, under
        `_meta`: n_texts, corpus_sha256 (of the normalised corpus, one text a
        line), model_sha256, the real vocab size and `versions()`.
        """
        try:
            cfg = TokenizerConfig(vocab_size=int(vocab_size), coverage=float(coverage), seed=int(seed), max_texts=max_texts)
        except ValueError as e:
            raise JobmatchError(f"tokenizer: {e}") from e
        corpus = [n for t in texts if t and (n := normalise(str(t)))]
        if cfg.max_texts is not None and len(corpus) > cfg.max_texts:
            corpus = [corpus[i] for i in sorted(random.Random(cfg.seed).sample(range(len(corpus)), cfg.max_texts))]
        corpus_sha = hashlib.sha256("\n".join(corpus).encode("utf-8")).hexdigest()
        char2id, rules = learn_bpe(corpus, cfg.vocab_size, cfg.coverage)
        out_dir = Path(out_dir)
        with atomic_path(out_dir) as tmp:
            tmp.mkdir()
            write_yttm_model(tmp / MODEL_FILE, char2id, rules)
            meta = {
                "n_texts": len(corpus),
                "corpus_sha256": corpus_sha,
                "model_sha256": file_sha256(tmp / MODEL_FILE),
                "real_vocab_size": N_SPECIAL + 1 + len(char2id) + len(rules),
                "alphabet_size": len(char2id) + 1,
                "n_merges": len(rules),
                "versions": versions(),
            }
            (tmp / CONFIG_FILE).write_text(
                yaml.safe_dump({**config_to_dict(cfg), "_meta": meta}, allow_unicode=True, sort_keys=False), encoding="utf-8"
            )
        return cls.load(out_dir)

    @classmethod
    def load(cls, out_dir: str | Path) -> Tokenizer:
        """Load a tokenizer dir; JobmatchError if bpe.model/config.yaml is missing, or the model does not match its recorded hash."""
        import youtokentome as yttm

        from dssm.io import config_from_dict

        out_dir = Path(out_dir)
        model, config = out_dir / MODEL_FILE, out_dir / CONFIG_FILE
        for p in (model, config):
            if not p.is_file():
                raise JobmatchError(f"{out_dir}: not a tokenizer dir ({p.name} missing; train one with `jobmatch tokenizer train`)")
        try:
            data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise JobmatchError(f"{config}: not valid YAML: {e}") from e
        if not isinstance(data, dict):
            raise JobmatchError(f"{config}: expected a mapping")
        meta = data.pop("_meta", None) or {}
        cfg = config_from_dict(TokenizerConfig, data, str(config))
        model_hash = file_sha256(model)
        if meta.get("model_sha256") not in (None, model_hash):
            raise JobmatchError(f"{model}: corrupt (sha256 {model_hash[:12]} != recorded {str(meta['model_sha256'])[:12]}); retrain the tokenizer")
        try:
            with _silence_fds():
                bpe = yttm.BPE(model=str(model))
        except Exception as e:  # noqa: BLE001 - yttm raises bare ValueError/RuntimeError on unreadable models
            raise JobmatchError(f"{model}: cannot load BPE model: {e}") from e
        return cls(out_dir, bpe, cfg, model_hash)

    def encode_sentences(self, sentences: list[str]) -> list[list[int]]:
        """Sentences -> BPE ids each, in one batched yttm call (no BOS/EOS). Empty sentence -> []."""
        import youtokentome as yttm

        if not sentences:
            return []
        return self.bpe.encode([normalise(s) for s in sentences], output_type=yttm.OutputType.ID)

    def encode_documents(self, docs: list[list[str]]) -> list[list[list[int]]]:
        """Documents (lists of sentences) -> lists of sentences of ids, in one batched call over all sentences."""
        ids = self.encode_sentences([s for d in docs for s in d])
        out, k = [], 0
        for d in docs:
            out.append(ids[k : k + len(d)])
            k += len(d)
        return out

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> text, words separated by single spaces; PAD/BOS/EOS are skipped, UNK reads '<UNK>'."""
        ids = [int(i) for i in ids]
        if not ids:
            return ""
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise JobmatchError(f"{self.path}: ids out of range [0, {self.vocab_size}): {bad[:5]}")
        return self.bpe.decode(ids, ignore_ids=[PAD_ID, BOS_ID, EOS_ID])[0]

    def subwords(self, ids: Sequence[int]) -> list[str]:
        """Ids -> subword strings ('▁' marks a word start; specials as '<PAD>', '<UNK>', ...)."""
        return [self.bpe.id_to_subword(int(i)) for i in ids]


def flatten(doc: Sequence[Sequence[int]], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Document (sentences of ids) -> (ids int64 (T,), sent_idx int64 (T,)), tokens in reading order.

    sent_idx[t] is the index of the sentence token t came from (empty sentences
    keep their index, they just contribute no tokens); T = min(total, max_len).
    """
    lengths = np.fromiter((len(s) for s in doc), dtype=np.int64, count=len(doc))
    total = int(lengths.sum())
    t = total if max_len is None else max(0, min(total, int(max_len)))
    sent_idx = np.repeat(np.arange(len(doc), dtype=np.int64), lengths)[:t]  # (T,)
    ids = np.fromiter((i for s in doc for i in s), dtype=np.int64, count=total)[:t]  # (T,)
    return ids, sent_idx

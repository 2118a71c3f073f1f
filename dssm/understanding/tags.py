"""Tag schemes, spans and windows: the maths between a tag sequence and the entities it names.

A span is `(start, end, type)` over token positions, `end` exclusive. Two schemes:

* **BIO** — `B-X` opens a span of type X, `I-X` continues it, `O` is outside. Decoding
  follows seqeval's default (lenient) convention: an `I-X` that does not continue an
  open X span opens a new one.
* **BMES** — `B-X` begin, `M-X` middle, `E-X` end, `S-X` a single-token span. Lenient the
  same way: `M-X`/`E-X` without an open X span open one; `E-X` and `S-X` close it.

Tags without a type (`B`, `I`: SkillSpan's layers) decode with type "" and are reported under
the layer's name.

>>> tags_to_spans(["B-ORG", "I-ORG", "O", "I-LOC", "B-LOC"])
[(0, 2, 'ORG'), (3, 4, 'LOC'), (4, 5, 'LOC')]
>>> tags_to_spans(["B-NAME", "M-NAME", "E-NAME", "S-ORG", "O"])
[(0, 3, 'NAME'), (3, 4, 'ORG')]
>>> spans_to_tags([(0, 3, "NAME"), (3, 4, "ORG")], 5, "BMES")
['B-NAME', 'M-NAME', 'E-NAME', 'S-ORG', 'O']

Windows. A document longer than the encoder window is read in overlapping windows of whole
words (`windows`); each word takes its tags from the window in which it sits furthest from an
edge (`owner_window`), so a span crossing a window boundary is decoded whole from the merged
sequence, and nothing is cut.

>>> windows([1] * 10, max_pieces=4, overlap=2)
[(0, 4), (2, 6), (4, 8), (6, 10)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Span = tuple[int, int, str]
SCHEMES = ("BIO", "BMES")


def split_tag(tag: str) -> tuple[str, str]:
    """'B-ORG' -> ('B', 'ORG'); 'B' -> ('B', ''); 'O' -> ('O', '')."""
    prefix, _, kind = str(tag).partition("-")
    return prefix, kind


def scheme_of(tags: Sequence[str]) -> str:
    """'BMES' when any tag uses M/E/S prefixes, else 'BIO'; ValueError naming an unknown prefix."""
    prefixes = {split_tag(t)[0] for t in tags}
    unknown = prefixes - {"B", "I", "O", "M", "E", "S"}
    if unknown:
        raise ValueError(f"tags with unknown prefix {sorted(unknown)[:3]} (a tag is O or B/I/M/E/S, optionally '-TYPE')")
    if prefixes & {"M", "E", "S"}:
        if "I" in prefixes:
            raise ValueError("tags mix BIO's I with BMES's M/E/S")
        return "BMES"
    return "BIO"


def tags_to_spans(tags: Sequence[str]) -> list[Span]:
    """Decode BIO or BMES tags into spans (lenient, see the module docstring), in order."""
    spans: list[Span] = []
    start, kind = None, ""

    def close(end: int) -> None:
        nonlocal start
        if start is not None:
            spans.append((start, end, kind))
        start = None

    for i, tag in enumerate(tags):
        prefix, k = split_tag(tag)
        if prefix in ("O", ""):
            close(i)
        elif prefix in ("B", "S"):
            close(i)
            start, kind = i, k
            if prefix == "S":
                close(i + 1)
        elif prefix in ("I", "M", "E"):
            if start is None or k != kind:
                close(i)
                start, kind = i, k
            if prefix == "E":
                close(i + 1)
    close(len(tags))
    return spans


def spans_to_tags(spans: Sequence[Span], n: int, scheme: str) -> list[str]:
    """Spans over n tokens -> tags in `scheme` (later spans overwrite earlier ones where they overlap)."""
    tags = ["O"] * n
    for start, end, kind in spans:
        suffix = f"-{kind}" if kind else ""
        if scheme == "BMES" and end - start == 1:
            tags[start] = "S" + suffix
            continue
        for i in range(start, end):
            if i == start:
                p = "B"
            elif scheme == "BMES":
                p = "E" if i == end - 1 else "M"
            else:
                p = "I"
            tags[i] = p + suffix
    return tags


_WORD = re.compile(r"\w+|[^\w\s]")


def word_offsets(text: str) -> list[tuple[int, int]]:
    """Character offsets of the words of raw text: runs of word characters, and each other non-space character alone.

    >>> word_offsets("C++, Java")
    [(0, 1), (1, 2), (2, 3), (3, 4), (5, 9)]
    """
    return [m.span() for m in _WORD.finditer(text)]


def char_to_word_spans(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int, str]]) -> list[Span]:
    """Character spans -> word spans: every word that overlaps the characters belongs to it (spans with no word dropped)."""
    out: list[Span] = []
    for s, e, kind in spans:
        idx = [i for i, (a, b) in enumerate(offsets) if a < e and b > s]
        if idx:
            out.append((idx[0], idx[-1] + 1, kind))
    return out


def word_to_char_spans(offsets: Sequence[tuple[int, int]], spans: Sequence[Span]) -> list[tuple[int, int, str]]:
    """Word spans -> character spans from the first word's start to the last word's end."""
    return [(offsets[s][0], offsets[e - 1][1], kind) for s, e, kind in spans]


def windows(piece_counts: Sequence[int], max_pieces: int, overlap: int) -> list[tuple[int, int]]:
    """Cover words 0..n-1 with windows of whole words, each <= max_pieces pieces, consecutive ones sharing
    about `overlap` pieces; -> [(first word, end word)]. A single word longer than a window is a window alone
    (the encoder reads its first max_pieces pieces)."""
    n = len(piece_counts)
    if n == 0:
        return [(0, 0)]
    out: list[tuple[int, int]] = []
    start = 0
    while True:
        end, used = start, 0
        while end < n and (used + piece_counts[end] <= max_pieces or end == start):
            used += piece_counts[end]
            end += 1
        out.append((start, end))
        if end >= n:
            return out
        back, shared = end, 0
        while back - 1 > start and shared + piece_counts[back - 1] <= overlap:
            back -= 1
            shared += piece_counts[back]
        start = back


def owner_window(wins: Sequence[tuple[int, int]], n_words: int) -> list[int]:
    """For each word, the window in which it is furthest from either edge (ties: the earlier window)."""
    owner = [0] * n_words
    best = [-1] * n_words
    for w, (s, e) in enumerate(wins):
        for i in range(s, e):
            depth = min(i - s, e - 1 - i)
            if depth > best[i]:
                best[i], owner[i] = depth, w
    return owner

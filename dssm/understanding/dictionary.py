"""The floor of entity extraction: a dictionary of every training span, matched longest-first.

Training collects, per tag layer, each gold span's normalised token sequence (casefolded) and
its most frequent type. Prediction scans a row left to right; at each position it takes the
longest dictionary entry that matches there (up to the longest training span), emits it and
jumps past it. It can only find spans it has seen: its unseen-span recall is 0 by construction.

>>> d = SpanDictionary.fit([["I", "know", "Java", "Script"]], [[(2, 4, "SKILL")]])
>>> d.predict([["java", "script", "and", "Java"]])
[[(0, 2, 'SKILL')]]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

Span = tuple[int, int, str]


def _key(tokens: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(t).casefold() for t in tokens)


class SpanDictionary:
    """Exact-match dictionary tagger for one tag layer."""

    def __init__(self, entries: dict[tuple[str, ...], str]):
        self.entries = entries
        self.max_len = max((len(k) for k in entries), default=0)

    @classmethod
    def fit(cls, tokens: Sequence[Sequence[str]], spans: Sequence[Sequence[Span]]) -> SpanDictionary:
        counts: dict[tuple[str, ...], Counter] = {}
        for toks, row in zip(tokens, spans):
            for s, e, kind in row:
                counts.setdefault(_key(toks[s:e]), Counter())[kind] += 1
        return cls({k: max(c.items(), key=lambda kv: (kv[1], kv[0]))[0] for k, c in counts.items() if k})

    def predict(self, tokens: Sequence[Sequence[str]]) -> list[list[Span]]:
        out = []
        for toks in tokens:
            keys = _key(toks)
            row, i = [], 0
            while i < len(keys):
                for n in range(min(self.max_len, len(keys) - i), 0, -1):
                    kind = self.entries.get(keys[i : i + n])
                    if kind is not None:
                        row.append((i, i + n, kind))
                        i += n
                        break
                else:
                    i += 1
            out.append(row)
        return out

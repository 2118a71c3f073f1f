"""Reading the LR: the tokens whose presence raises or lowers a sentence's summary score most, per kind.

A token's weight w_v is its LR coefficient in the bag block: the change in the
sentence's log-odds when the token is present. `cue:` weights are the same for
the tokens of the section header the sentence sits under; dense weights belong
to position/length features and, with a section classifier, to each section's
probability (`section:<class>`: the change in log-odds per unit of p(class | sentence)).
"""

from __future__ import annotations

import numpy as np

from dssm.errors import JobmatchError
from summarizer.model import Summarizer

SPACE = "\u2581"


def token_label(subword: str) -> str:
    """'▁опыт' -> 'опыт', '▁' (a bare word start) -> '▁', 'ний' -> '-ний' (a word-inner piece)."""
    if subword == SPACE:
        return subword
    return subword[1:] if subword.startswith(SPACE) else "-" + subword


def top_tokens(summarizer: Summarizer, kind: str, k: int = 20, block: str = "bag") -> dict[str, list[tuple[str, float]]]:
    """{"positive": [(token, weight)] descending, "negative": [(token, weight)] ascending} of one feature block.

    block: "bag" (the sentence's own tokens) or "cue" (its section header's tokens).
    Tokens with weight 0 (below min_df) are never listed.
    """
    if kind not in summarizer.weights:
        raise JobmatchError(f"summarizer has no model for {kind!r} (has {summarizer.kinds})")
    if block not in ("bag", "cue") or (block == "cue" and not summarizer.cfg.features.section_cue):
        raise JobmatchError(f"no feature block {block!r} in this summarizer")
    v = summarizer.vocab_size
    coef = summarizer.weights[kind][0][:v] if block == "bag" else summarizer.weights[kind][0][v : 2 * v]
    vocab = summarizer.vocab or [str(i) for i in range(v)]
    order = np.argsort(-coef, kind="stable")
    pos = [(token_label(vocab[i]), float(coef[i])) for i in order[:k] if coef[i] > 0]
    neg = [(token_label(vocab[i]), float(coef[i])) for i in order[::-1][:k] if coef[i] < 0]
    return {"positive": pos, "negative": neg}


def dense_weights(summarizer: Summarizer, kind: str) -> dict[str, float]:
    """Weights of the dense features (position, length, section probabilities) and the intercept."""
    coef, b = summarizer.weights[kind]
    names = summarizer.featurizer.dense_names
    out = {n: float(w) for n, w in zip(names, coef[len(coef) - len(names) :])}
    return {**out, "intercept": float(b)}


def explain_text(summarizer: Summarizer, k: int = 20) -> str:
    """A plain-text report of `top_tokens` (bag and cue) and `dense_weights` for every kind."""
    lines = []
    for kind in summarizer.kinds:
        lines.append(f"== {kind} ==")
        blocks = ["bag"] + (["cue"] if summarizer.cfg.features.section_cue else [])
        for block in blocks:
            t = top_tokens(summarizer, kind, k, block)
            title = "sentence tokens" if block == "bag" else "section-header tokens"
            lines.append(f"  {title}, up:   " + ", ".join(f"{w} {c:+.2f}" for w, c in t["positive"]))
            lines.append(f"  {title}, down: " + ", ".join(f"{w} {c:+.2f}" for w, c in t["negative"]))
        dense = dense_weights(summarizer, kind)
        lines.append("  dense: " + ", ".join(f"{n} {c:+.2f}" for n, c in dense.items() if not n.startswith("section:")))
        if summarizer.uses_sections:
            lines.append("  section probabilities: " + ", ".join(f"{n.split(':', 1)[1]} {c:+.2f}" for n, c in dense.items() if n.startswith("section:")))
    return "\n".join(lines)

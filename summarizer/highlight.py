"""Self-contained HTML of one document: tokens shaded red by teacher attention, selected sentences marked.

Each BPE token is a <span> whose background is rgba(220, 20, 20, alpha) with
alpha = a_t / max_t a_t (the document's most attended token is fully red);
tokens the teacher did not read (past its max_len) are left white. A sentence
the summary keeps is outlined and marked ✔ (a cut one ✂ with its kept tokens
underlined). Inline CSS only: the file opens in any browser offline.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from dssm.errors import JobmatchError

SPACE = "\u2581"

CSS = """
body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;line-height:1.9;color:#111}
.s{display:block;margin:.15em 0;padding:.1em .4em;border:2px solid transparent;border-radius:4px}
.sel{border-color:#1a7f37;background:#f3fbf5}
.mark{display:inline-block;width:1.6em;color:#1a7f37;font-weight:bold}
.t{border-radius:2px}
.cut{text-decoration:underline}
.legend{font-size:.9em;border:1px solid #ccc;padding:.6em 1em;margin-bottom:1.2em;border-radius:4px}
.sw{display:inline-block;width:1.4em;height:1em;vertical-align:middle;border:1px solid #aaa}
"""


def highlight_html(
    subwords: Sequence[Sequence[str]],
    attention: np.ndarray,
    selected: Sequence[tuple[int, int]],
    title: str = "",
    note: str = "",
) -> str:
    """HTML page for one document.

    subwords: per sentence, its BPE pieces ('▁' = word start); attention: (T_read,)
    per-token weights in reading order (T_read <= total tokens); selected: the
    `select` result (sent_idx, n_tokens_kept).
    """
    total = sum(len(s) for s in subwords)
    attention = np.asarray(attention, dtype=np.float64)
    if attention.ndim != 1 or attention.size > total:
        raise JobmatchError(f"attention has {attention.size} weights for a document of {total} tokens")
    peak = float(attention.max()) if attention.size and attention.max() > 0 else 1.0
    kept = dict(selected)
    out, t = [], 0
    for i, sent in enumerate(subwords):
        k = kept.get(i)
        cls = "s sel" if k is not None else "s"
        mark = "" if k is None else ("✂" if k < len(sent) else "✔")
        spans = []
        for j, piece in enumerate(sent):
            a = attention[t] / peak if t < attention.size else 0.0
            text = (" " + piece[1:]) if piece.startswith(SPACE) else piece
            under = " cut" if k is not None and k < len(sent) and j < k else ""
            tip = f"{attention[t]:.4f}" if t < attention.size else "not read"
            spans.append(f'<span class="t{under}" style="background:rgba(220,20,20,{a:.3f})" title="{tip}">{html.escape(text)}</span>')
            t += 1
        out.append(f'<span class="{cls}"><span class="mark">{mark}</span>{"".join(spans)}</span>')
    legend = (
        '<div class="legend"><b>Legend.</b> Token shading: teacher attention, '
        '<span class="sw" style="background:rgba(220,20,20,0.05)"></span> low … '
        '<span class="sw" style="background:rgba(220,20,20,1)"></span> the most attended token. '
        '<span class="sw" style="border:2px solid #1a7f37;background:#f3fbf5"></span> ✔ a sentence in the summary; '
        '✂ cut to fit the budget (kept tokens underlined). Hover a token for its weight.'
        + (f"<br>{html.escape(note)}" if note else "")
        + "</div>"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h2>{html.escape(title)}</h2>{legend}\n" + "\n".join(out) + "\n</body></html>\n"
    )

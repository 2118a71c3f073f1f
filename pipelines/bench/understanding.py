"""`jobmatch bench understanding`: tagging docs/s and ms/doc at 300 and 3,000 tokens, and pretraining pieces/s.

Models have the shipped shapes (`dssm/configs/albert.yaml`'s encoder, `TaggerConfig`'s
defaults) and random weights (speed does not depend on them). A token here is one encoder
piece: a 300-token resume is 300 pieces, read in windows of max_len - 2 pieces with the
configured overlap, by the code `tagger predict` runs (`tagging.tag_rows`: windows ->
length-sorted batches of 64 -> the CRF's Viterbi (or per-word argmax) -> merge by owner window). Baselines in the same run:

* tagging: ALBERT -> BiLSTM -> CRF (shipped) against the BiLSTM on from-scratch embeddings alone, against the
  same ALBERT -> BiLSTM read by per-word argmax (what the CRF's decoding costs), and against itself with the
  encoder in bf16 (`tagger predict --precision bf16`; with the share of tags equal to fp32's on the same documents —
  random weights, so a check of the arithmetic, not of a trained model's F1);
* pretraining: the shipped step (MLM head on the masked ~15% only) against the same model's
  `AlbertForPreTraining(labels=...)` step (MLM head on every position).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dssm.io import write_json
from pipelines.bench.machine import machine, ratio

GOAL_DOCS_PER_S = 100.0
"""Resumes per second at 300 tokens on 2 cores for the shipped tagger (issue 14)."""
QUICK = {"n_short": 8, "n_long": 1, "pretrain_steps": 2, "threads": 1}
VARIANTS = (("albert_bilstm", True, True, "fp32"), ("bilstm", False, True, "fp32"), ("albert_bilstm_argmax", True, False, "fp32"),
            ("albert_bilstm_bf16", True, True, "bf16"))
"""(name, ALBERT encoder?, CRF?, encoder precision) of each timed tagger; the first is the shipped one."""


def _tagger(encoder: bool, vocab: int, crf: bool = True):
    from dssm.understanding.albert import hf_config, load_pretrain_config
    from dssm.understanding.tagger import Tagger, TaggerConfig

    torch.manual_seed(0)
    cfg = TaggerConfig(encoder="albert" if encoder else "scratch", crf=crf)
    enc = None
    if encoder:
        from transformers import AlbertModel

        enc = AlbertModel(hf_config(load_pretrain_config("albert").encoder, vocab))
    return Tagger(cfg, {"tags": 17}, vocab, enc).eval(), cfg


def _docs(n_docs: int, length: int, vocab: int, seed: int) -> list[list[list[int]]]:
    rng = np.random.default_rng(seed)
    return [[[int(i)] for i in rng.integers(5, vocab, length)] for _ in range(n_docs)]


def _tags(model, cfg, rows: list[list[list[int]]]) -> list[dict[str, np.ndarray]]:
    from dssm.tokenizer import BOS_ID, EOS_ID, PAD_ID
    from pipelines.understanding.tagging import tag_rows

    return tag_rows(model, cfg, rows, PAD_ID, BOS_ID, EOS_ID)


def tag_docs_per_s(model, cfg, n_docs: int, length: int, vocab: int, seed: int = 0) -> dict[str, float]:
    """Time tagging `n_docs` documents of `length` pieces with `tag_rows`, the path of `tagger predict` after the tokenizer."""
    from dssm.tokenizer import BOS_ID, EOS_ID
    from pipelines.understanding.tagging import row_windows

    rows = _docs(n_docs, length, vocab, seed)
    t0 = time.perf_counter()
    _tags(model, cfg, rows)
    s = time.perf_counter() - t0
    return {"docs_per_s": n_docs / s, "ms_per_doc": 1000 * s / n_docs, "windows": len(row_windows(model, cfg, rows, BOS_ID, EOS_ID)), "seconds": s}


def tag_agreement(model, cfg, precision: str, n_docs: int, length: int, vocab: int, seed: int = 1) -> float:
    """Share of word tags equal between the model's encoder at fp32 and at `precision`, on the same documents."""
    rows = _docs(n_docs, length, vocab, seed)
    ref = _tags(model.set_precision("fp32"), cfg, rows)
    got = _tags(model.set_precision(precision), cfg, rows)
    model.set_precision("fp32")
    return float(np.mean(np.concatenate([a[k] == b[k] for a, b in zip(ref, got) for k in a])))


def pretrain_pieces_per_s(steps: int, vocab: int, restricted: bool) -> float:
    """Pieces/s of full optimiser steps (batch 32 x 128 pieces, 15% masked) of the shipped ALBERT shape."""
    import torch.nn.functional as F
    from transformers import AlbertForPreTraining

    from dssm.understanding.albert import hf_config, load_pretrain_config

    cfg = load_pretrain_config("albert")
    torch.manual_seed(0)
    model = AlbertForPreTraining(hf_config(cfg.encoder, vocab))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(5, vocab, (cfg.batch_size, cfg.encoder.max_len))
    labels = torch.where(torch.rand(ids.shape) < cfg.mlm_probability, ids, torch.full_like(ids, -100))
    order = torch.zeros(cfg.batch_size, dtype=torch.long)
    mask, types = torch.ones_like(ids), torch.zeros_like(ids)
    times = []
    for step in range(steps + 1):
        t0 = time.perf_counter()
        if restricted:
            out = model.albert(input_ids=ids, attention_mask=mask, token_type_ids=types)
            chosen = labels != -100
            loss = F.cross_entropy(model.predictions(out.last_hidden_state[chosen]), labels[chosen]) + F.cross_entropy(model.sop_classifier(out.pooler_output), order)
        else:
            loss = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels, sentence_order_label=order).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        if step:  # the first step warms up
            times.append(time.perf_counter() - t0)
    return ids.numel() / float(np.median(times))


def run(n_short: int = 512, n_long: int = 32, pretrain_steps: int = 5, threads: int = 2, vocab: int = 16001) -> dict[str, Any]:
    """Both tagging variants at 300 and 3,000 pieces, and both pretraining steps; ratios against the baselines."""
    torch.set_num_threads(int(threads))
    result: dict[str, Any] = {"machine": machine(), "threads": int(threads), "vocab": vocab, "tagging": {}, "pretraining": {}}
    t = result["tagging"]
    for name, enc, crf, precision in VARIANTS:
        model, cfg = _tagger(enc, vocab, crf)
        model.set_precision(precision)
        tag_docs_per_s(model, cfg, 4, 300, vocab)  # warm-up
        t[name] = {"300": tag_docs_per_s(model, cfg, n_short, 300, vocab), "3000": tag_docs_per_s(model, cfg, n_long, 3000, vocab)}
        if precision != "fp32":
            t[name]["tags_equal_to_fp32"] = tag_agreement(model, cfg, precision, max(n_short // 4, 1), 300, vocab)
    for length in ("300", "3000"):
        a = t["albert_bilstm"][length]["docs_per_s"]
        t[f"ratio_{length}"] = a / t["bilstm"][length]["docs_per_s"]
        t[f"crf_ratio_{length}"] = a / t["albert_bilstm_argmax"][length]["docs_per_s"]
        t[f"bf16_ratio_{length}"] = t["albert_bilstm_bf16"][length]["docs_per_s"] / a
    result["meets_goal"] = t["albert_bilstm"]["300"]["docs_per_s"] >= GOAL_DOCS_PER_S
    result["meets_goal_bf16"] = t["albert_bilstm_bf16"]["300"]["docs_per_s"] >= GOAL_DOCS_PER_S
    shipped = pretrain_pieces_per_s(pretrain_steps, vocab, restricted=True)
    full = pretrain_pieces_per_s(pretrain_steps, vocab, restricted=False)
    result["pretraining"] = {"masked_only_pieces_per_s": shipped, "all_positions_pieces_per_s": full, "ratio": shipped / full}
    return result


def run_default(out_dir: Path, quick: bool = False) -> dict[str, Any]:
    result = run(**QUICK) if quick else run()
    write_json(Path(out_dir) / "understanding.json", result)
    return result


def table(result: dict[str, Any]) -> str:
    t = result["tagging"]
    lines = ["| tagger | docs/s @300 | ms/doc @300 | docs/s @3000 | ms/doc @3000 |", "|---|---|---|---|---|"]
    for name, *_ in VARIANTS:
        a, b = t[name]["300"], t[name]["3000"]
        lines.append(f"| {name} | {a['docs_per_s']:.1f} | {a['ms_per_doc']:.2f} | {b['docs_per_s']:.1f} | {b['ms_per_doc']:.1f} |")
    lines.append(f"| ALBERT -> BiLSTM vs BiLSTM alone | {ratio(t['ratio_300'])} | | {ratio(t['ratio_3000'])} | |")
    lines.append(f"| CRF (Viterbi) vs per-word argmax | {ratio(t['crf_ratio_300'])} | | {ratio(t['crf_ratio_3000'])} | |")
    lines.append(f"| bf16 encoder vs fp32 (tags equal to fp32: {t['albert_bilstm_bf16']['tags_equal_to_fp32']:.1%}) | "
                 f"{ratio(t['bf16_ratio_300'])} | | {ratio(t['bf16_ratio_3000'])} | |")
    p = result["pretraining"]
    lines += ["", "| pretraining step | pieces/s |", "|---|---|",
              f"| MLM head on masked pieces only (shipped) | {p['masked_only_pieces_per_s']:.0f} |",
              f"| MLM head on every position (transformers' default) | {p['all_positions_pieces_per_s']:.0f} |",
              f"| shipped vs default | {ratio(p['ratio'])} |"]
    return "\n".join(lines)


def reading(result: dict[str, Any]) -> str:
    a = result["tagging"]["albert_bilstm"]["300"]["docs_per_s"]
    b = result["tagging"]["albert_bilstm_bf16"]["300"]["docs_per_s"]
    return (f"ALBERT -> BiLSTM tags {a:.0f} resumes/s at 300 tokens ({ratio(result['tagging']['ratio_300'])} of the BiLSTM alone), "
            f"{b:.0f} with its encoder in bf16; goal >= {GOAL_DOCS_PER_S:.0f}: {'met' if result['meets_goal'] else 'NOT met'} "
            f"(bf16: {'met' if result['meets_goal_bf16'] else 'NOT met'}). Pretraining's masked-only MLM head: "
            f"{ratio(result['pretraining']['ratio'])} the pieces/s of the all-positions head.")

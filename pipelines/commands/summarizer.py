"""`jobmatch label | summarizer train|explain|highlight|eval | summarize`: the attention-distilled summarizer stages.

    jobmatch label --teacher RUN/teacher --data DIR --out RUN/labels.parquet
    jobmatch summarizer train --labels RUN/labels.parquet --data DIR --tokenizer RUN/tokenizer --out RUN/summarizer
    jobmatch summarizer explain --summarizer RUN/summarizer
    jobmatch summarizer highlight --teacher RUN/teacher --summarizer RUN/summarizer --data DIR --doc-id v1 --out doc.html
    jobmatch summarizer eval --summarizer RUN/summarizer --data DIR [--labels RUN/labels.parquet]
    jobmatch summarize --summarizer RUN/summarizer --data DIR --out RUN/summaries
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dssm.errors import DataError, JobmatchError
from dssm.schema import TABLES, TEXT_COLUMNS
from pipelines.cli import add_parser

KIND_IDS = {kind: TABLES[kind][3] for kind in ("vacancies", "resumes")}
THRESHOLDS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)


def register(sub: argparse._SubParsersAction) -> None:
    from summarizer.config import CONFIG_DIR
    from summarizer.summarize import METHODS

    p = add_parser(sub, "label", "Label sentences is_summary from teacher attention (mass vs fair share).")
    p.add_argument("--teacher", type=Path, required=True, help="teacher model dir (RUN/teacher)")
    p.add_argument("--data", type=Path, required=True, help="dataset folder")
    p.add_argument("--out", type=Path, required=True, help="labels.parquet to write")
    p.add_argument("--rule", type=Path, default=CONFIG_DIR / "labels.yaml", help="LabelRule YAML")
    p.add_argument("--method", choices=("fair_share", "top_share"), default=None, help="override the rule's method")
    p.add_argument("--threshold", type=float, default=None, help="override the rule's threshold")
    p.add_argument("--top-share", type=float, default=None, help="override the rule's top_share")
    p.add_argument("--batch-size", type=int, default=64, help="teacher batch size")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=label_cmd)

    s = add_parser(sub, "summarizer", "LR summarizer: train, explain, highlight, eval.")
    ssub = s.add_subparsers(dest="summarizer_command", metavar="ACTION", required=True)
    t = add_parser(ssub, "train", "Train one LR per kind on labels.parquet; reports AUC on held-out documents.")
    t.add_argument("--labels", type=Path, required=True, help="labels.parquet from `jobmatch label`")
    t.add_argument("--data", type=Path, required=True, help="the dataset the labels were made on")
    t.add_argument("--tokenizer", type=Path, required=True, help="tokenizer dir (the teacher's)")
    t.add_argument("--out", type=Path, required=True, help="summarizer dir to write")
    t.add_argument("--config", type=Path, default=CONFIG_DIR / "default.yaml", help="SummarizerConfig YAML")
    t.add_argument("--holdout", type=float, default=0.2, help="share of documents held out (by id hash) for the AUC; not trained on")
    t.add_argument("--json", action="store_true", help="print a JSON summary")
    t.set_defaults(func=train_cmd)

    e = add_parser(ssub, "explain", "Top positive/negative tokens of each kind's LR.")
    e.add_argument("--summarizer", type=Path, required=True, help="summarizer dir")
    e.add_argument("--top", type=int, default=20, help="tokens per list")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.set_defaults(func=explain_cmd)

    h = add_parser(ssub, "highlight", "HTML of one document: tokens shaded by teacher attention, summary sentences marked.")
    h.add_argument("--teacher", type=Path, required=True, help="teacher model dir")
    h.add_argument("--summarizer", type=Path, required=True, help="summarizer dir")
    h.add_argument("--data", type=Path, required=True, help="dataset folder")
    h.add_argument("--doc-id", required=True, help="vacancy_id or resume_id")
    h.add_argument("--out", type=Path, required=True, help="HTML file to write")
    h.add_argument("--budget", type=int, default=300, help="summary token budget")
    h.set_defaults(func=highlight_cmd)

    v = add_parser(ssub, "eval", "Compare LR/lead/TextRank/random: precision/recall vs truth sections, key-skill coverage, label AUC.")
    v.add_argument("--summarizer", type=Path, required=True, help="summarizer dir")
    v.add_argument("--data", type=Path, required=True, help="dataset folder (truth/sentences.parquet used when present)")
    v.add_argument("--labels", type=Path, default=None, help="labels.parquet: adds the AUC on held-out documents")
    v.add_argument("--holdout", type=float, default=0.2, help="held-out share used at training (for the AUC and the section metrics); 0: all documents")
    v.add_argument("--exclude", type=Path, default=None,
                   help="dataset folder whose documents are skipped, e.g. the market the teacher and summarizer were trained on (use with --holdout 0)")
    v.add_argument("--budget", type=int, default=300, help="summary token budget")
    v.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=eval_cmd)

    m = add_parser(sub, "summarize", "Write the dataset with each document's text cut to a budgeted extractive summary.")
    m.add_argument("--summarizer", type=Path, default=None, help="summarizer dir (needed for --method lr)")
    m.add_argument("--tokenizer", type=Path, default=None, help="tokenizer dir (default: the one saved with the summarizer)")
    m.add_argument("--data", type=Path, required=True, help="dataset folder")
    m.add_argument("--out", type=Path, required=True, help="output dataset folder (same contract)")
    m.add_argument("--budget", type=int, default=300, help="tokens per document, title included")
    m.add_argument("--method", choices=METHODS, default="lr", help="sentence scorer")
    m.add_argument("--seed", type=int, default=0, help="seed of the random baseline")
    m.add_argument("--json", action="store_true", help="print a JSON summary")
    m.set_defaults(func=summarize_cmd)


def _load(data: Path):
    from pipelines.dataset import load_dataset

    ds = load_dataset(data)
    return {"vacancies": ds.vacancies, "resumes": ds.resumes}, ds


def _truth(data: Path) -> pd.DataFrame | None:
    path = Path(data) / "truth" / "sentences.parquet"
    return pd.read_parquet(path) if path.exists() else None


def _print(obj: dict, as_json: bool, text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str) if as_json else text)


# ----------------------------------------------------------------------------- label


def label_cmd(args: argparse.Namespace) -> int:
    from dssm.encode import Encoder
    from dssm.io import config_from_dict, config_to_dict, load_config, write_parquet
    from dssm.text import frame_documents
    from pipelines.summarize_eval import threshold_table
    from summarizer.config import LabelRule
    from summarizer.labels import label_documents

    rule = load_config(LabelRule, args.rule)
    over = {k: v for k, v in (("method", args.method), ("threshold", args.threshold), ("top_share", args.top_share)) if v is not None}
    rule = config_from_dict(LabelRule, {**config_to_dict(rule), **over}, "flags")
    frames, _ = _load(args.data)
    enc = Encoder.load(args.teacher)
    t0, parts, summary = time.perf_counter(), [], {"rule": config_to_dict(rule), "kinds": {}}
    for kind, df in frames.items():
        if df.empty:
            continue
        _, attn, sent = enc.embed_with_attention(df, kind, batch_size=args.batch_size)
        n_sent = [len(d) for d in frame_documents(df, kind)]
        lab = label_documents(df[KIND_IDS[kind]].astype(str).tolist(), kind, attn, sent, n_sent, rule)
        parts.append(lab)
        read = lab["n_tokens"] > 0
        summary["kinds"][kind] = {"documents": len(df), "sentences": int(len(lab)), "read": int(read.sum()), "summary_share": float(lab.loc[read, "is_summary"].mean())}
    if not parts:
        raise DataError(str(args.data), None, "no documents to label")
    labels = pd.concat(parts, ignore_index=True)
    write_parquet(args.out, labels)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    truth = _truth(args.data)
    if truth is not None:
        kinds = [k for k in summary["kinds"] if (truth["kind"] == k).any()]
        summary["threshold_vs_truth"] = {k: threshold_table(labels, truth, THRESHOLDS, k).to_dict("records") for k in kinds}
    text = [f"labels: {len(labels)} sentences -> {args.out} ({summary['seconds']} s)"]
    text += [f"  {k}: {v['documents']} docs, {v['summary_share']:.1%} of read sentences summary-worthy" for k, v in summary["kinds"].items()]
    for k, rows in summary.get("threshold_vs_truth", {}).items():
        text.append(f"  {k}: agreement of share_ratio > threshold with informative truth sections:\n" + pd.DataFrame(rows).round(3).to_string(index=False))
    _print(summary, args.json, "\n".join(text))
    return 0


# ----------------------------------------------------------------------------- train / explain / eval


def _kind_docs(frames: dict[str, pd.DataFrame], tokenizer, kinds) -> dict[str, tuple[list[str], list[list[str]], list[list[list[int]]]]]:
    from dssm.text import frame_documents

    out = {}
    for kind in kinds:
        df = frames[kind]
        sents = frame_documents(df, kind)
        out[kind] = (df[KIND_IDS[kind]].astype(str).tolist(), sents, tokenizer.encode_documents(sents))
    return out


def _read_labels(path: Path) -> pd.DataFrame:
    from summarizer.labels import LABEL_COLUMNS

    if not Path(path).exists():
        raise JobmatchError(f"{path}: labels not found (make them with `jobmatch label`)")
    labels = pd.read_parquet(path)
    if missing := [c for c in LABEL_COLUMNS if c not in labels.columns]:
        raise DataError(str(path), missing[0], "missing column (not a labels.parquet from `jobmatch label`)")
    labels["doc_id"] = labels["doc_id"].astype("str")
    return labels


def train_cmd(args: argparse.Namespace) -> int:
    from dssm.io import load_config
    from dssm.tokenizer import Tokenizer
    from pipelines.dataset import holdout_mask
    from pipelines.summarize_eval import label_auc
    from summarizer.config import SummarizerConfig
    from summarizer.model import Summarizer

    if not 0.0 <= args.holdout < 1.0:
        raise JobmatchError(f"--holdout must be in [0, 1), got {args.holdout}")
    cfg = load_config(SummarizerConfig, args.config)
    labels = _read_labels(args.labels)
    tok = Tokenizer.load(args.tokenizer)
    frames, _ = _load(args.data)
    kinds = [k for k in ("vacancies", "resumes") if k in set(labels["kind"]) and not frames[k].empty]
    if not kinds:
        raise DataError(str(args.labels), "kind", "no labelled kind matches a non-empty table of the dataset")
    t0 = time.perf_counter()
    data = _kind_docs(frames, tok, kinds)
    train_docs, train_ids, held = {}, {}, {}
    for kind, (ids, _, docs) in data.items():
        mask = holdout_mask(ids, args.holdout)
        train_docs[kind] = [d for d, m in zip(docs, mask) if not m]
        train_ids[kind] = [i for i, m in zip(ids, mask) if not m]
        held[kind] = ([i for i, m in zip(ids, mask) if m], [d for d, m in zip(docs, mask) if m])
    model = Summarizer.fit(train_docs, labels, cfg, doc_ids=train_ids, tokenizer=tok)
    summary = {"out": str(args.out), "kinds": model.meta["kinds"], "holdout": args.holdout, "auc_held_out": {}}
    for kind, (ids, docs) in held.items():
        if ids:
            try:
                summary["auc_held_out"][kind] = label_auc(model, docs, ids, labels, kind)
            except JobmatchError:
                summary["auc_held_out"][kind] = None
    model.meta.update({"labels": str(args.labels), "data": str(args.data), "holdout": args.holdout, "auc_held_out": summary["auc_held_out"]})
    model.save(args.out, tokenizer_dir=args.tokenizer)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    aucs = ", ".join(f"{k} AUC {v:.3f}" if v is not None else f"{k} AUC n/a" for k, v in summary["auc_held_out"].items())
    _print(summary, args.json, f"summarizer: {', '.join(kinds)} -> {args.out} (held-out {aucs}; {summary['seconds']} s)")
    return 0


def explain_cmd(args: argparse.Namespace) -> int:
    from summarizer.explain import dense_weights, explain_text, top_tokens
    from summarizer.model import Summarizer

    model = Summarizer.load(args.summarizer)
    if args.json:
        blocks = ["bag"] + (["cue"] if model.cfg.features.section_cue else [])
        out = {k: {**{b: top_tokens(model, k, args.top, b) for b in blocks}, "dense": dense_weights(model, k)} for k in model.kinds}
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(explain_text(model, args.top))
    return 0


def eval_cmd(args: argparse.Namespace) -> int:
    from pipelines.dataset import holdout_mask
    from pipelines.summarize_eval import attention_on_skill_sentences, compare_methods, coverage_report, label_auc, section_precision_recall
    from summarizer.model import Summarizer

    model = Summarizer.load(args.summarizer)
    tok = model.load_tokenizer()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    frames, _ = _load(args.data)
    excluded = _load(args.exclude)[0] if args.exclude is not None else None
    truth = _truth(args.data)
    labels = _read_labels(args.labels) if args.labels else None
    out: dict = {"budget": args.budget, "holdout": args.holdout, "exclude": str(args.exclude) if args.exclude else None, "kinds": {}}
    for kind in model.kinds:
        df = frames[kind]
        if df.empty:
            continue
        ids, sents, docs = _kind_docs(frames, tok, [kind])[kind]
        mask = holdout_mask(ids, args.holdout) if args.holdout > 0 else np.ones(len(ids), bool)
        if excluded is not None:
            mask &= ~np.isin(np.asarray(ids, dtype=str), excluded[kind][KIND_IDS[kind]].astype(str).to_numpy())
        if not mask.any():
            continue
        sel_ids = [i for i, m in zip(ids, mask) if m]
        sel_docs = [d for d, m in zip(docs, mask) if m]
        sel_sents = [s for s, m in zip(sents, mask) if m]
        titles = df[TEXT_COLUMNS[kind][0]].to_numpy(dtype=object)[mask]
        has_title = [isinstance(t, str) and bool(t.split()) for t in titles]
        res = compare_methods(sel_sents, sel_docs, has_title, kind, methods, model, tok, args.budget)
        rep: dict = {"documents": len(sel_ids)}
        if truth is not None and (truth["kind"] == kind).any():
            rep["sections"] = {m: section_precision_recall(sel_ids, sel, truth, kind) for m, (sel, _) in res.items()}
        if "skills" in df.columns:
            skills = df["skills"].to_numpy(dtype=object)[mask]
            rep.update(coverage_report({m: texts for m, (_, texts) in res.items()}, ["\n".join(s) for s in sel_sents],
                                       [sum(len(x) for x in d) for d in sel_docs], skills, args.budget))
            if labels is not None and "share_ratio" in labels.columns:
                rep["teacher_on_skill_sentences"] = attention_on_skill_sentences(labels, sel_ids, sel_sents, skills, kind)
        if labels is not None:
            rep["auc_vs_labels"] = label_auc(model, sel_docs, sel_ids, labels, kind)
        out["kinds"][kind] = rep
    if not out["kinds"]:
        raise JobmatchError(f"{args.data}: no documents left to evaluate (--holdout {args.holdout}" + (f", --exclude {args.exclude})" if excluded is not None else ")"))
    scope = f"held-out documents ({args.holdout:.0%} by id hash)" if args.holdout > 0 else "all documents"
    if excluded is not None:
        scope += f" not in {args.exclude}"
    lines = [f"summaries of {args.budget} tokens on {scope}"]
    for kind, rep in out["kinds"].items():
        lines.append(f"== {kind} ({rep['documents']} documents)" + (f", LR AUC vs labels {rep['auc_vs_labels']:.3f}" if "auc_vs_labels" in rep else ""))
        for m in methods:
            row = f"  {m:9s}"
            if "sections" in rep:
                s = rep["sections"][m]
                row += f" precision {s['precision']:.3f} recall {s['recall']:.3f} F1 {s['f1']:.3f}"
            if "skill_coverage" in rep:
                row += f"  key-skill coverage {rep['skill_coverage'][m]['coverage']:.3f}"
                if rep["skill_coverage_over_budget"][m]["documents"]:
                    row += f", on documents over the budget {rep['skill_coverage_over_budget'][m]['coverage']:.3f}"
                if m in rep.get("skill_coverage_vs_lead", {}):
                    d = rep["skill_coverage_vs_lead"][m]
                    row += f", vs lead {d['diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
            lines.append(row)
        if "skill_coverage" in rep:
            whole, over = rep["skill_coverage_whole_document"], rep["skill_coverage_over_budget"]["whole"]
            on_over = f", on documents over the budget {over['coverage']:.3f}" if over["documents"] else ""
            lines.append(f"  whole document (no cut): key-skill coverage {whole['coverage']:.3f}{on_over} "
                         f"({whole['documents']} documents with key skills, {over['documents']} of them over {args.budget} tokens)")
        if rep.get("teacher_on_skill_sentences"):
            t = rep["teacher_on_skill_sentences"]
            lines.append(f"  teacher attention on body sentences naming a key skill ({t['naming_skills']:.1%} of {t['sentences']}): "
                         f"AUC of share_ratio {t['auc_share_ratio']:.3f}, of is_summary {t['auc_is_summary']:.3f} (0.5 = unrelated)")
    _print(out, args.json, "\n".join(lines))
    return 0


# ----------------------------------------------------------------------------- highlight / summarize


def highlight_cmd(args: argparse.Namespace) -> int:
    from dssm.encode import Encoder
    from dssm.io import write_text
    from summarizer.highlight import highlight_html
    from summarizer.model import Summarizer
    from summarizer.summarize import select

    frames, _ = _load(args.data)
    found = [(k, df[df[KIND_IDS[k]].astype(str) == str(args.doc_id)]) for k, df in frames.items()]
    found = [(k, row) for k, row in found if len(row)]
    if not found:
        raise DataError(str(args.data), "vacancy_id/resume_id", f"no document with id {args.doc_id!r}")
    kind, row = found[0]
    enc = Encoder.load(args.teacher)
    model = Summarizer.load(args.summarizer)
    tok = model.load_tokenizer()
    if tok.model_hash != enc.tokenizer.model_hash:
        raise JobmatchError(f"{args.summarizer} and {args.teacher} use different tokenizers")
    _, attn, _ = enc.embed_with_attention(row, kind, batch_size=1)
    doc = enc.tokenize(row, kind)[0]
    scores = model.score(doc, kind)
    title = row[TEXT_COLUMNS[kind][0]].iloc[0]
    if isinstance(title, str) and title.split() and len(doc):
        scores[0] = np.inf
    kept = select(scores, [len(s) for s in doc], args.budget)
    note = f"{kind} {args.doc_id}: {sum(len(s) for s in doc)} tokens, teacher read {attn[0].size}; summary {sum(k for _, k in kept)} of {args.budget} tokens."
    write_text(args.out, highlight_html([tok.subwords(s) for s in doc], attn[0], kept, title=str(title), note=note))
    print(f"highlight: {note} -> {args.out}")
    return 0


def summarize_cmd(args: argparse.Namespace) -> int:
    from dssm.tokenizer import Tokenizer
    from pipelines.dataset import write_dataset
    from summarizer.model import Summarizer
    from summarizer.summarize import summarize_frame

    if args.budget < 1:
        raise JobmatchError(f"--budget must be >= 1, got {args.budget}")
    model = Summarizer.load(args.summarizer) if args.summarizer else None
    if args.method == "lr" and model is None:
        raise JobmatchError("--method lr needs --summarizer")
    if args.tokenizer:
        tok = Tokenizer.load(args.tokenizer)
    elif model is not None:
        tok = model.load_tokenizer()
    else:
        raise JobmatchError("give --tokenizer (or --summarizer, whose tokenizer is used)")
    frames, ds = _load(args.data)
    t0, out, stats = time.perf_counter(), {}, {}
    for kind, df in frames.items():
        if df.empty or (args.method == "lr" and kind not in model.kinds):
            out[kind] = df
            continue
        out[kind] = summarize_frame(df, kind, model, tok, args.budget, args.method, args.seed)
        n = out[kind]["n_summary_tokens"]
        stats[kind] = {"documents": len(df), "mean_tokens": float(n.mean()), "max_tokens": int(n.max())}
    write_dataset(args.out, out["vacancies"], out["resumes"], ds.interactions)
    summary = {"out": str(args.out), "method": args.method, "budget": args.budget, "kinds": stats, "seconds": round(time.perf_counter() - t0, 2)}
    per = "; ".join(f"{k}: {v['documents']} docs, mean {v['mean_tokens']:.0f} tokens" for k, v in stats.items())
    _print(summary, args.json, f"summarize ({args.method}, {args.budget} tokens): {per} -> {args.out} ({summary['seconds']} s)")
    return 0

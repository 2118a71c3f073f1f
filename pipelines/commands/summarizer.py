"""`jobmatch label | summarizer train|explain|highlight|eval | summarize`: the attention-distilled summarizer stages.

    jobmatch label --teacher RUN/teacher --data DIR --out RUN/labels.parquet [--method top_share --top-share 0.1]
    jobmatch summarizer train --labels RUN/labels.parquet --data DIR --tokenizer RUN/tokenizer --out RUN/summarizer [--budget 300]
    jobmatch summarizer explain --summarizer RUN/summarizer
    jobmatch summarizer highlight --teacher RUN/teacher --summarizer RUN/summarizer --data DIR --doc-id v1 --out doc.html
    jobmatch summarizer eval --summarizer RUN/summarizer --data DIR [--labels RUN/labels.parquet]
    jobmatch summarize --summarizer RUN/summarizer --data DIR --out RUN/summaries

Each parses its flags into the stage's typed config (`LabelRule`, `SummarizerConfig`,
`SummarizeConfig`; `--config FILE` first, then the flags given) and calls the stage function
(`pipelines.training.labels.label`, `pipelines.training.summarizer.train_summarizer` / `summarize`,
`pipelines.evaluation.summaries.evaluate_summaries` / `highlight_document`).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from dssm.io import load_config
from pipelines.commands.flags import add_config_flags, add_force_flag, add_parser, config_from_args
from pipelines.evaluation.summaries import AGAINST, evaluate_summaries, highlight_document
from pipelines.training.labels import label
from pipelines.training.summarizer import SummarizeConfig, summarize, train_summarizer
from summarizer.config import CONFIG_DIR, LabelRule, SummarizerConfig
from summarizer.summarize import METHODS


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "label", "Label sentences is_summary from teacher attention (mass vs fair share, or top share).")
    p.add_argument("--teacher", type=Path, required=True, help="teacher model dir (RUN/teacher)")
    p.add_argument("--data", type=Path, required=True, help="dataset folder")
    p.add_argument("--out", type=Path, required=True, help="labels.parquet to write")
    p.add_argument("--rule", type=Path, default=CONFIG_DIR / "labels.yaml", help="LabelRule YAML (the flags below override it)")
    add_config_flags(p, LabelRule)
    p.add_argument("--batch-size", type=int, default=64, help="teacher batch size")
    p.add_argument("--runtime", choices=("torch", "onnx"), default="torch",
                   help="run the teacher in torch or on ONNX Runtime (the tower exported on the fly; faster on 3,000-token documents, README Benchmarks)")
    p.add_argument("--allow-truncation", action="store_true",
                   help="label with a teacher that reads fewer tokens than the longest document (their tails count as unread); refused otherwise")
    add_force_flag(p)
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=label_cmd)

    s = add_parser(sub, "summarizer", "LR summarizer: train, explain, highlight, eval.")
    ssub = s.add_subparsers(dest="summarizer_command", metavar="ACTION", required=True)
    t = add_parser(ssub, "train", "Train one LR per kind on labels.parquet; reports AUC on held-out documents.")
    t.add_argument("--labels", type=Path, required=True, help="labels.parquet from `jobmatch label`")
    t.add_argument("--data", type=Path, required=True, help="the dataset the labels were made on")
    t.add_argument("--tokenizer", type=Path, required=True, help="tokenizer dir (the teacher's)")
    t.add_argument("--out", type=Path, required=True, help="summarizer dir to write")
    t.add_argument("--sections", type=Path, default=None,
                   help="section classifier folder (`jobmatch classifier train`, ALBERT or --system tfidf): its per-sentence section "
                        "probabilities become LR features; copied into the summarizer")
    t.add_argument("--config", type=Path, default=CONFIG_DIR / "default.yaml", help="SummarizerConfig YAML (the flags below override it)")
    add_config_flags(t, SummarizerConfig)
    t.add_argument("--holdout", type=float, default=0.2, help="share of documents held out (by id hash) for the AUC; not trained on")
    add_force_flag(t)
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
    h.add_argument("--budget", type=int, default=None, help="summary token budget (default: the summarizer's)")
    h.set_defaults(func=highlight_cmd)

    v = add_parser(ssub, "eval", "Compare LR/lead/TextRank/random: precision/recall vs truth sections, key-skill coverage, label AUC.")
    v.add_argument("--summarizer", type=Path, required=True, help="summarizer dir")
    v.add_argument("--data", type=Path, required=True, help="dataset folder (truth/sentences.parquet used when present)")
    v.add_argument("--labels", type=Path, default=None, help="labels.parquet: adds the AUC on held-out documents")
    v.add_argument("--holdout", type=float, default=0.2, help="held-out share used at training (for the AUC and the section metrics); 0: all documents")
    v.add_argument("--exclude", type=Path, default=None,
                   help="dataset folder whose documents are skipped, e.g. the market the teacher and summarizer were trained on (use with --holdout 0)")
    v.add_argument("--budget", type=int, default=None, help="summary token budget (default: the summarizer's)")
    v.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    v.add_argument("--against", type=Path, default=None,
                   help="a second summarizer dir (same tokenizer): scored on the same documents, with lr minus it and a paired bootstrap CI")
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=eval_cmd)

    m = add_parser(sub, "summarize", "Write the dataset with each document's text cut to a budgeted extractive summary (+ preprocess.json).")
    m.add_argument("--summarizer", type=Path, default=None, help="summarizer dir (needed for --method lr)")
    m.add_argument("--tokenizer", type=Path, default=None, help="tokenizer dir (default: the one saved with the summarizer)")
    m.add_argument("--data", type=Path, required=True, help="dataset folder")
    m.add_argument("--out", type=Path, required=True, help="output dataset folder (same contract)")
    add_config_flags(m, SummarizeConfig)
    add_force_flag(m)
    m.add_argument("--json", action="store_true", help="print a JSON summary")
    m.set_defaults(func=summarize_cmd)


def _print(obj: dict, as_json: bool, text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str) if as_json else text)


def label_cmd(args: argparse.Namespace) -> int:
    rule = config_from_args(LabelRule, args, base=load_config(LabelRule, args.rule))
    r = label(rule, args.teacher, args.data, args.out, batch_size=args.batch_size, force=args.force, allow_truncation=args.allow_truncation,
              runtime=args.runtime)
    text = [f"labels: {sum(v['sentences'] for v in r.kinds.values())} sentences -> {r.out} ({r.seconds} s)"]
    text += [f"  {k}: {v['documents']} docs, {v['summary_share']:.1%} of read sentences summary-worthy"
             + (f"; {v['cut_documents']} longer than the teacher's {v['teacher_max_len']} tokens (tails unread)" if v["cut_documents"] else "")
             for k, v in r.kinds.items()]
    for k, rows in r.threshold_vs_truth.items():
        text.append(f"  {k}: agreement of share_ratio > threshold with informative truth sections:\n" + pd.DataFrame(rows).round(3).to_string(index=False))
    _print(asdict(r), args.json, "\n".join(text))
    return 0


def train_cmd(args: argparse.Namespace) -> int:
    cfg = config_from_args(SummarizerConfig, args, base=load_config(SummarizerConfig, args.config))
    r = train_summarizer(cfg, args.labels, args.data, args.tokenizer, args.out, holdout=args.holdout, force=args.force, sections=args.sections)
    aucs = ", ".join(f"{k} AUC {v:.3f}" if v is not None else f"{k} AUC n/a" for k, v in r.auc_held_out.items())
    _print(asdict(r), args.json, f"summarizer: {', '.join(r.kinds)} -> {r.out} (held-out {aucs}; {r.seconds} s)")
    return 0


def explain_cmd(args: argparse.Namespace) -> int:
    from pipelines.artifacts import load_summarizer
    from summarizer.explain import dense_weights, explain_text, top_tokens

    model = load_summarizer(args.summarizer)
    if args.json:
        blocks = ["bag"] + (["cue"] if model.cfg.features.section_cue else [])
        out = {k: {**{b: top_tokens(model, k, args.top, b) for b in blocks}, "dense": dense_weights(model, k)} for k in model.kinds}
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(explain_text(model, args.top))
    return 0


def eval_cmd(args: argparse.Namespace) -> int:
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    out = evaluate_summaries(args.summarizer, args.data, methods, args.budget, args.holdout, args.exclude, args.labels, args.against)
    scope = f"held-out documents ({args.holdout:.0%} by id hash)" if args.holdout > 0 else "all documents"
    if args.exclude is not None:
        scope += f" not in {args.exclude}"
    lines = [f"summaries of {out['budget']} tokens on {scope}"]
    for kind, rep in out["kinds"].items():
        lines.append(f"== {kind} ({rep['documents']} documents)" + (f", LR AUC vs labels {rep['auc_vs_labels']:.3f}" if "auc_vs_labels" in rep else ""))
        for m in [*methods, *([AGAINST] if args.against is not None and AGAINST in rep.get("skill_coverage", rep.get("sections", {})) else [])]:
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
        for name, d in rep.get("skill_coverage_pairs", {}).items():
            lines.append(f"  {name}: key-skill coverage {d['diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] (paired bootstrap over {d['documents']} documents)")
        if "skill_coverage" in rep:
            whole, over = rep["skill_coverage_whole_document"], rep["skill_coverage_over_budget"]["whole"]
            on_over = f", on documents over the budget {over['coverage']:.3f}" if over["documents"] else ""
            lines.append(f"  whole document (no cut): key-skill coverage {whole['coverage']:.3f}{on_over} "
                         f"({whole['documents']} documents with key skills, {over['documents']} of them over {out['budget']} tokens)")
        if rep.get("teacher_on_skill_sentences"):
            t = rep["teacher_on_skill_sentences"]
            lines.append(f"  teacher attention on body sentences naming a key skill ({t['naming_skills']:.1%} of {t['sentences']}): "
                         f"AUC of share_ratio {t['auc_share_ratio']:.3f}, of is_summary {t['auc_is_summary']:.3f} (0.5 = unrelated)")
    _print(out, args.json, "\n".join(lines))
    return 0


def highlight_cmd(args: argparse.Namespace) -> int:
    note = highlight_document(args.teacher, args.summarizer, args.data, args.doc_id, args.out, args.budget)
    print(f"highlight: {note} -> {args.out}")
    return 0


def summarize_cmd(args: argparse.Namespace) -> int:
    r = summarize(config_from_args(SummarizeConfig, args), args.data, args.out, args.summarizer, args.tokenizer, force=args.force)
    per = "; ".join(f"{k}: {v['documents']} docs, mean {v['mean_tokens']:.0f} tokens" for k, v in r.kinds.items())
    _print(asdict(r), args.json, f"summarize ({r.method}, {r.budget} tokens): {per} -> {r.out} ({r.seconds} s)")
    return 0

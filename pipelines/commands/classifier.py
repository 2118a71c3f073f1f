"""`jobmatch classifier train | predict | eval`: the sentence classifier of document sections (ALBERT, or TF-IDF + LR).

    jobmatch classifier train --data runs/real --albert runs/understanding/albert --out runs/understanding/sections
    jobmatch classifier train --data runs/real --system tfidf --out runs/understanding/sections_tfidf
    jobmatch classifier predict --model runs/understanding/sections --input sentences.parquet --out labelled.parquet
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from dssm.understanding.classifier import ClassifierConfig
from pipelines.commands.flags import add_config_flags, add_force_flag, add_parser, config_from_args

DATA_HELP = ("dataset folder: --kind vacancies reads vacancies.parquet and labels the sentences under section headers; "
             "--kind resumes reads a synthetic market's truth/sentences.parquet, or else resumes.parquet's section fields "
             "(real resumes: about, work_experience, education, experience_json, education_json)")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "classifier", "Sentence classifier of document sections (ALBERT), with a TF-IDF + LR baseline.")
    csub = p.add_subparsers(dest="classifier_command", metavar="ACTION", required=True)
    t = add_parser(csub, "train", "Fine-tune on the train documents; print dev accuracy / macro P R F1 next to TF-IDF + LR.")
    t.add_argument("--data", type=Path, required=True, help=DATA_HELP)
    t.add_argument("--kind", choices=["vacancies", "resumes"], default="vacancies", help="which documents' sections")
    t.add_argument("--system", choices=["albert", "tfidf"], default="albert",
                   help="albert: fine-tune the encoder (TF-IDF + LR scored beside it); tfidf: fit and save TF-IDF + LR alone (no encoder)")
    t.add_argument("--albert", type=Path, default=None, help="pretrained encoder folder (`jobmatch albert pretrain`); needed by --system albert")
    t.add_argument("--out", type=Path, required=True, help="classifier folder to write")
    add_config_flags(t, ClassifierConfig)
    add_force_flag(t)
    t.add_argument("--json", action="store_true", help="print a JSON summary")
    t.set_defaults(func=train_cmd)

    pr = add_parser(csub, "predict", "Add pred_section and prob_<class> to a Parquet file of sentences (a text column).")
    pr.add_argument("--model", type=Path, required=True, help="classifier folder")
    pr.add_argument("--input", type=Path, required=True, help="Parquet file with a text column, one sentence per row")
    pr.add_argument("--out", type=Path, required=True, help="Parquet file to write")
    add_force_flag(pr)
    pr.set_defaults(func=predict_cmd)

    e = add_parser(csub, "eval", "Dev accuracy, macro P/R/F1 and the confusion matrix of a classifier on its split of a dataset.")
    e.add_argument("--model", type=Path, required=True, help="classifier folder")
    e.add_argument("--data", type=Path, required=True, help=DATA_HELP)
    e.add_argument("--json", action="store_true", help="print the scores as JSON")
    e.set_defaults(func=eval_cmd)


def table(name_scores: dict[str, dict]) -> str:
    """Systems' dev scores as a Markdown table (accuracy, macro P/R/F1, per-class F1)."""
    classes = next(iter(name_scores.values()))["confusion"]["labels"]
    lines = ["| system | accuracy | macro P | macro R | macro F1 | " + " | ".join(f"F1 {c}" for c in classes) + " |",
             "|" + "---|" * (5 + len(classes))]
    for name, s in name_scores.items():
        per = " | ".join(f"{s['per_class'][c]['f1']:.3f}" for c in classes)
        lines.append(f"| {name} | {s['accuracy']:.3f} | {s['macro_precision']:.3f} | {s['macro_recall']:.3f} | {s['macro_f1']:.3f} | {per} |")
    return "\n".join(lines)


def confusion(s: dict) -> str:
    labels, m = s["confusion"]["labels"], s["confusion"]["matrix"]
    lines = ["| gold \\ predicted | " + " | ".join(labels) + " |", "|" + "---|" * (1 + len(labels))]
    lines += [f"| {g} | " + " | ".join(str(x) for x in row) + " |" for g, row in zip(labels, m)]
    return "\n".join(lines)


def train_cmd(args: argparse.Namespace) -> int:
    from dssm.errors import JobmatchError
    from pipelines.understanding.classify import train_classifier, train_tfidf_classifier

    cfg = config_from_args(ClassifierConfig, args)
    if args.system == "albert" and args.albert is None:
        raise JobmatchError("--system albert needs --albert RUN/albert (or use --system tfidf, which needs no encoder)")
    if args.system == "tfidf" and args.albert is not None:
        raise JobmatchError("--albert is read only by --system albert")
    if args.system == "albert":
        r = train_classifier(cfg, args.data, args.albert, args.out, kind=args.kind, force=args.force)
    else:
        r = train_tfidf_classifier(cfg, args.data, args.out, kind=args.kind, force=args.force)
    if args.json:
        print(json.dumps(asdict(r), ensure_ascii=False))
        return 0
    print(f"classifier: {r.train_sentences} train / {r.dev_sentences} dev sentences ({args.kind}), {r.train_seconds} s -> {r.out}")
    print(table({"tfidf_lr": r.tfidf} if r.albert is None else {"albert": r.albert, "tfidf_lr": r.tfidf}))
    shown, name = (r.tfidf, "TF-IDF + LR") if r.albert is None else (r.albert, "ALBERT")
    print(f"\n{name} confusion matrix (dev):\n" + confusion(shown))
    return 0


def predict_cmd(args: argparse.Namespace) -> int:
    from pipelines.understanding.classify import predict_file

    r = predict_file(args.model, args.input, args.out, force=args.force)
    print(f"classifier: {r['rows']} sentences labelled -> {r['out']} ({r['seconds']} s)")
    return 0


def eval_cmd(args: argparse.Namespace) -> int:
    from pipelines.understanding.classify import evaluate_classifier

    s = evaluate_classifier(args.model, args.data)
    print(json.dumps(s, ensure_ascii=False) if args.json else table({str(args.model): s}) + "\n\n" + confusion(s))
    return 0

"""`jobmatch tagger train | predict | eval | ensemble | compare | pool`: the entity tagger (ALBERT -> BiLSTM -> tag heads).

    jobmatch tagger train --data ../shared/data/resumener_zh --albert runs/understanding/albert --out runs/understanding/tagger_zh
    jobmatch tagger predict --model runs/understanding/tagger_zh --input sentences.parquet --out tagged.parquet
    jobmatch tagger compare --data ../shared/data/skillspan_en --albert runs/understanding/albert --out runs/understanding/skillspan
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from dssm.understanding.tagger import PRECISIONS, TaggerConfig
from pipelines.commands.flags import add_config_flags, add_force_flag, add_parser, config_from_args
from pipelines.understanding.silver import TRAIN_LABELS

SET_HELP = "entity set: a folder with train.parquet [and dev.parquet] (token set: tokens + tags/tags_<layer>; span set: text + spans or entities_json); without train.parquet, its one labelled Parquet file"


def add_precision_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="fp32",
                        help="the encoder's precision: bf16 runs ALBERT's matrix products in bfloat16 (fast on CPUs with "
                             "AVX512-BF16 or AMX; README: speed and agreement with fp32); the BiLSTM, heads and CRF stay fp32")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "tagger", "Entity tagger: train, predict, evaluate, compare with baselines.")
    tsub = p.add_subparsers(dest="tagger_command", metavar="ACTION", required=True)

    t = add_parser(tsub, "train", "Train a tagger on an entity set; prints dev exact-span P/R/F1 and unseen-span recall.")
    t.add_argument("--data", type=Path, required=True, help=SET_HELP)
    t.add_argument("--out", type=Path, required=True, help="tagger folder to write")
    t.add_argument("--albert", type=Path, default=None,
                   help="pretrained encoder folder (`jobmatch albert pretrain`), fine-tuned under the head; without it the "
                        "encoder is piece embeddings trained from scratch on this set (a BPE learned on its training words)")
    t.add_argument("--layers", nargs="+", default=None, help="tag layers to learn (default: every tags/tags_<layer> column)")
    add_config_flags(t, TaggerConfig, skip=("encoder",))
    add_force_flag(t)
    t.add_argument("--json", action="store_true", help="print a JSON summary")
    t.set_defaults(func=train_cmd)

    pr = add_parser(tsub, "predict", "Tag a token set (adds pred_<layer>) or a span set (adds pred_spans); rows kept in order.")
    pr.add_argument("--model", type=Path, required=True, help="tagger folder")
    pr.add_argument("--input", type=Path, required=True, help="Parquet file: a token set (tokens column) or a span set (text column)")
    pr.add_argument("--out", type=Path, required=True, help="Parquet file to write")
    add_precision_flag(pr)
    add_force_flag(pr)
    pr.add_argument("--json", action="store_true", help="print a JSON summary")
    pr.set_defaults(func=predict_cmd)

    e = add_parser(tsub, "eval", "Score a tagger on an entity set's dev part (exact spans, per type, unseen-span recall).")
    e.add_argument("--model", type=Path, required=True, help="tagger folder")
    e.add_argument("--data", type=Path, required=True, help=SET_HELP)
    e.add_argument("--reference", type=Path, default=None,
                   help="another tagger folder (same tag layers, same dev rows): also its scores, and model − reference in "
                        "micro-F1 and unseen-span recall with paired bootstrap 95%% CIs over dev rows")
    add_precision_flag(e)
    e.add_argument("--json", action="store_true", help="print the scores as JSON")
    e.set_defaults(func=eval_cmd)

    n = add_parser(tsub, "ensemble", "Join taggers of one vocabulary and tag space (e.g. one recipe at several seeds) into one tagger.")
    n.add_argument("--models", type=Path, nargs="+", required=True,
                   help="tagger folders (at least two; e.g. taggers of one --albert encoder trained with --seed 0, 1, 2)")
    n.add_argument("--out", type=Path, required=True,
                   help="tagger folder to write: every member's weights; predict, eval, parse and serve read it like one tagger, "
                        "tagging with the members' mean emissions and mean CRF scores (as slow as the members together)")
    add_force_flag(n)
    n.set_defaults(func=ensemble_cmd)

    s = add_parser(tsub, "silver", "Build a silver SKILL token set from a dataset's vacancies: their own key skills found in their own text.")
    s.add_argument("--data", type=Path, required=True, help="dataset folder with vacancies.parquet (title, description, skills)")
    s.add_argument("--out", type=Path, required=True, help="entity-set folder to write (train.parquet, dev.parquet; split by vacancy)")
    s.add_argument("--dev-share", type=float, default=0.2, help="share of vacancies in dev")
    s.add_argument("--seed", type=int, default=0, help="seed of the split")
    s.add_argument("--train-labels", choices=TRAIN_LABELS, default=TRAIN_LABELS[0],
                   help="own: a train vacancy's own key skills are tagged; all: every key skill of any train vacancy, wherever it "
                        "occurs in a train vacancy's text (labels consistent in context; dev always keeps each vacancy's own)")
    add_force_flag(s)
    s.set_defaults(func=silver_cmd)

    c = add_parser(tsub, "compare", "Train dictionary, BiLSTM, ALBERT + linear and ALBERT -> BiLSTM on one set; a dev table.")
    c.add_argument("--data", type=Path, required=True, help=SET_HELP)
    c.add_argument("--albert", type=Path, default=None, help="pretrained encoder folder (needed by the albert_* systems)")
    c.add_argument("--out", type=Path, required=True, help="report folder to write (report.json, report.md)")
    c.add_argument("--systems", nargs="+", default=None,
                   help="subset of: dictionary bilstm bilstm_crf bilstm_crf_bigrams bilstm_crf_worddrop albert_linear albert_bilstm "
                        "albert_bilstm_crf albert_bilstm_crf_worddrop albert_bilstm_crf_mix albert_bilstm_crf_mix_worddrop (default: "
                        "dictionary bilstm albert_linear albert_bilstm; _bigrams adds bigram features, --bigram-dim or 50 wide; --bigram-dim "
                        "gives them to every neural system; _mix reads a learned scalar mix of the encoder's layers, --layer-mix gives it "
                        "to every ALBERT system; _worddrop trains with word dropout, --word-dropout or 0.25; the other systems train without it)")
    c.add_argument("--reference", default=None,
                   help="the system every other one is paired against (micro-F1 difference, bootstrap CI over dev rows); "
                        "default: bilstm when it runs, else the first of --systems")
    add_config_flags(c, TaggerConfig, skip=("encoder", "head", "crf"))
    add_force_flag(c)
    c.set_defaults(func=compare_cmd)

    o = add_parser(tsub, "pool", "Pool one system's difference to a reference over several compare runs (e.g. seeds): one CI over dev rows.")
    o.add_argument("runs", nargs="+", type=Path, help="compare report folders on the same set (each with rows.parquet)")
    o.add_argument("--system", required=True, help="the system to pool, e.g. albert_bilstm_crf_mix_worddrop")
    o.add_argument("--reference", required=True, help="the system it is paired against, e.g. albert_bilstm_crf_worddrop")
    o.set_defaults(func=pool_cmd)


def _line(scores: dict) -> str:
    m, u = scores["micro"], scores["unseen"]
    ur = "n/a" if u["recall"] is None else f"{u['recall']:.3f}"
    return f"P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f} ({m['support']} spans); unseen-span recall {ur} ({u['support']})"


def train_cmd(args: argparse.Namespace) -> int:
    from pipelines.understanding.tagging import train_tagger

    cfg = config_from_args(TaggerConfig, args)
    result = train_tagger(cfg, args.data, args.out, albert=args.albert, layers=args.layers, force=args.force)
    if args.json:
        print(json.dumps(asdict(result), ensure_ascii=False))
    else:
        print(f"tagger: dev {_line(result.dev)} -> {result.out} ({result.train_seconds} s)")
    return 0


def predict_cmd(args: argparse.Namespace) -> int:
    from pipelines.understanding.tagging import predict_file

    result = predict_file(args.model, args.input, args.out, force=args.force, precision=args.precision)
    print(json.dumps(result) if args.json else f"tagger: {result['rows']} rows ({result['words']} tokens) tagged -> {result['out']} ({result['seconds']} s)")
    return 0


def eval_cmd(args: argparse.Namespace) -> int:
    from pipelines.understanding.tagging import evaluate_tagger

    scores = evaluate_tagger(args.model, args.data, args.precision, args.reference)
    if args.json:
        print(json.dumps(scores, ensure_ascii=False))
        return 0
    print(f"dev: {_line(scores)}")
    for t, s in scores["per_type"].items():
        print(f"  {t:<24} P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f} ({s['support']})")
    if args.reference is not None:
        f, u = scores["f1_vs_reference"], scores["unseen_vs_reference"]
        print(f"reference {args.reference}: {_line(scores['reference'])}")
        print(f"model − reference: micro-F1 {_ci(f)}; unseen-span recall {_ci(u)} ({f['rows']} dev rows, paired bootstrap 95% CI)")
    return 0


def _ci(d: dict) -> str:
    return f"{d['diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"


def ensemble_cmd(args: argparse.Namespace) -> int:
    from pipelines.understanding.tagging import ensemble_taggers

    r = ensemble_taggers(args.models, args.out, force=args.force)
    f1 = ", ".join("n/a" if m["dev_micro_f1"] is None else f"{m['dev_micro_f1']:.3f}" for m in r["members"])
    print(f"tagger ensemble of {len(r['members'])} (dev micro-F1 as trained: {f1}) -> {r['out']}")
    return 0


def silver_cmd(args: argparse.Namespace) -> int:
    from pipelines.understanding.silver import build_silver

    r = build_silver(args.data, args.out, args.dev_share, args.seed, force=args.force, train_labels=args.train_labels)
    print(f"silver SKILL spans -> {r['out']}: " + "; ".join(f"{k} {v['vacancies']} vacancies, {v['sentences']} sentences, {v['spans']} spans"
                                                         for k, v in r.items() if k != "out"))
    return 0


def pool_cmd(args: argparse.Namespace) -> int:
    from pipelines.understanding.tagging import pool, pool_markdown

    print(pool_markdown(pool(args.runs, args.system, args.reference)), end="")
    return 0


def compare_cmd(args: argparse.Namespace) -> int:
    from pipelines.understanding.tagging import SYSTEMS, compare, report_markdown

    cfg = config_from_args(TaggerConfig, args)
    report = compare(cfg, args.data, args.albert, args.out, tuple(args.systems or SYSTEMS), force=args.force, reference=args.reference)
    print(report_markdown(report), end="")
    return 0

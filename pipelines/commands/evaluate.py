"""`jobmatch evaluate`: offline evaluation of arms (ranking metrics + paired bootstrap CIs) or the Talent Match outcome check.

Arms are `NAME=VALUE` items separated by commas, VALUE being a baseline (`tfidf`, `bm25`,
`popularity`) or a trained model dir, optionally `MODEL_DIR@CORPUS_DIR` to read the texts
(e.g. the summaries) from CORPUS_DIR/{vacancies,resumes}.parquet; a bare baseline name is
its own arm name. Without `--arms`, the run directory's layout decides (`default_arms`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dssm.errors import JobmatchError
from pipelines.cli import add_parser

BASELINE_NAMES = ("tfidf", "bm25", "popularity")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(
        sub,
        "evaluate",
        "Evaluate arms on held-out resumes (Recall/nDCG/MRR/GAUC, paired bootstrap CIs vs control) "
        "or, on labelled outcomes (Talent Match), within-vacancy AUC per arm next to TF-IDF.",
    )
    p.add_argument("--data", type=Path, required=True, help="dataset folder in the contract")
    p.add_argument("--run", type=Path, default=None, help="run directory: default arms and output folder come from its layout")
    p.add_argument(
        "--arms",
        default=None,
        help="comma-separated NAME=VALUE (VALUE: tfidf|bm25|popularity|MODEL_DIR[@CORPUS_DIR]); default: arms present in --run",
    )
    p.add_argument("--index", action="append", default=[], metavar="ARM=DIR", help="rank ARM through the served (CURRENT) version of the index root DIR built from its model (repeatable)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default RUN/reports, or RUN/reports/outcomes_<data name> for outcomes)")
    p.add_argument("--mode", choices=("auto", "ranking", "outcomes"), default="auto", help="outcomes = labelled pairs (auto: label column and no views)")
    p.add_argument("--split", choices=("user", "time"), default="user", help="split used when no model records its held-out resumes")
    p.add_argument("--config", type=Path, default=None, help="EvalConfig YAML (flags below override it)")
    p.add_argument("--n-boot", type=int, default=None, help="bootstrap resamples (default from EvalConfig: 2000)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (default from EvalConfig: 0)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=evaluate_cmd)


def parse_arms(text: str) -> dict:
    """'control=RUN/control,treatment=RUN/production@RUN/summaries,tfidf' -> name -> ArmSpec."""
    from pipelines.evaluate import ArmSpec

    arms = {}
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        name, eq, value = item.partition("=")
        name, value = name.strip(), (value.strip() if eq else name.strip())
        if not name or not value:
            raise JobmatchError(f"--arms: cannot read {item!r}; expected NAME=VALUE")
        if name in arms:
            raise JobmatchError(f"--arms: arm {name!r} given twice")
        if value in BASELINE_NAMES:
            arms[name] = ArmSpec(value)
            continue
        model, _, corpus = value.partition("@")
        if not Path(model).is_dir():
            raise JobmatchError(f"--arms: {name}: {model} is neither a baseline ({', '.join(BASELINE_NAMES)}) nor a model folder")
        if corpus and not Path(corpus).is_dir():
            raise JobmatchError(f"--arms: {name}: corpus folder {corpus} not found")
        arms[name] = ArmSpec("dssm", model_dir=Path(model), corpus_dir=Path(corpus) if corpus else None)
    if not arms:
        raise JobmatchError("--arms: no arm given")
    return arms


def _is_model(path: Path) -> bool:
    return (path / "config.yaml").is_file() and (path / "weights.safetensors").is_file()


def default_arms(run: Path, outcomes: bool) -> tuple[dict, list[str]]:
    """Arms present in a run directory, and a note for each one skipped.

    control = RUN/control (first-300 model on the full texts); treatment = RUN/production on
    RUN/summaries; teacher = RUN/teacher on the full texts; textrank = RUN/textrank (or
    RUN/production) on RUN/summaries_textrank; tfidf always; popularity in ranking mode.
    """
    from pipelines.evaluate import ArmSpec

    arms, notes = {}, []
    layout = [
        ("control", run / "control", None),
        ("treatment", run / "production", run / "summaries"),
        ("teacher", run / "teacher", None),
        ("textrank", run / "textrank" if _is_model(run / "textrank") else run / "production", run / "summaries_textrank"),
    ]
    for name, model, corpus in layout:
        if not _is_model(model):
            notes.append(f"arm {name} skipped: no trained model in {model}")
        elif corpus is not None and not corpus.is_dir():
            notes.append(f"arm {name} skipped: no corpus folder {corpus}")
        else:
            arms[name] = ArmSpec("dssm", model_dir=model, corpus_dir=corpus)
    arms["tfidf"] = ArmSpec("tfidf")
    if not outcomes:
        arms["popularity"] = ArmSpec("popularity")
    return arms, notes


def evaluate_cmd(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from dssm.io import load_config
    from pipelines.dataset import load_dataset
    from pipelines.evaluate import ArmSpec, EvalConfig, evaluate, held_out_from_arms, is_outcome_data
    from pipelines.report import format_table, write_report

    cfg = load_config(EvalConfig, args.config) if args.config else EvalConfig()
    overrides = {k: v for k, v in {"n_boot": args.n_boot, "seed": args.seed}.items() if v is not None}
    try:
        cfg = replace(cfg, mode=args.mode, split=args.split, **overrides)
    except ValueError as e:
        raise JobmatchError(f"invalid option: {e}") from e
    ds = load_dataset(args.data)
    outcomes = is_outcome_data(ds.interactions, cfg)
    notes: list[str] = []
    if args.arms:
        arms = parse_arms(args.arms)
    elif args.run:
        arms, notes = default_arms(args.run, outcomes)
    else:
        raise JobmatchError("give --arms or --run (whose layout names the arms)")
    for item in args.index:
        name, _, path = item.partition("=")
        if name not in arms or arms[name].kind != "dssm" or not path:
            raise JobmatchError(f"--index {item}: expected ARM=DIR for a model arm; arms: {sorted(arms)}")
        arms[name] = ArmSpec("dssm", model_dir=arms[name].model_dir, corpus_dir=arms[name].corpus_dir, index_dir=Path(path))
    if not outcomes and cfg.control not in arms:
        raise JobmatchError(f"no {cfg.control!r} arm (first-300 model in RUN/control, or --arms control=...); arms: {sorted(arms)}")
    if args.out is not None:
        out = args.out
    elif args.run is not None:
        out = args.run / "reports" / (f"outcomes_{args.data.resolve().name}" if outcomes else "")
    else:
        raise JobmatchError("give --out or --run")
    held = None if outcomes else held_out_from_arms(arms)
    result = evaluate(ds, arms, held_out_resume_ids=held, cfg=cfg, out_dir=out)
    result["notes"] = notes + result["notes"]
    write_report(result, out)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return 0
    print(format_table(result))
    for n in result["notes"]:
        print(f"note: {n}")
    print(f"report: {out / 'eval.html'}")
    return 0

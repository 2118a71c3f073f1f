"""`jobmatch synth` (the synthetic market, or semi-synthetic on real vacancies) and `jobmatch calibrate`
(its length / skill-position statistics beside a real set's, in BPE tokens)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from pipelines.commands.flags import add_force_flag, add_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(
        sub,
        "synth",
        "Generate a synthetic hh.ru-like market (vacancies, resumes, interactions + truth/) deterministic by seed.",
        description="Generate a synthetic hh.ru-like market in the data contract, with its ground truth in OUT/truth/\n"
        "(sentence sections, true utilities, hidden profiles, config.yaml). With --vacancies-from, real\n"
        "vacancies are kept verbatim and resumes/interactions are simulated against profiles derived from them.",
    )
    p.add_argument("--out", type=Path, required=True, help="output dataset folder")
    p.add_argument("--vacancies", type=int, default=5000, help="number of generated vacancies (ignored with --vacancies-from)")
    p.add_argument("--resumes", type=int, default=3000, help="number of generated resumes")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--boilerplate", default="1.0", help="employer boilerplate multiplier (1.0 = calibrated to real hh.ru) or a preset: java (all skills beyond token 300)")
    p.add_argument("--views-per-resume", type=float, default=None, help="mean views per resume (default: the config's 28.5, ~100k events for 3000 resumes)")
    p.add_argument("--vacancies-from", type=Path, default=None, help="semi-synthetic: a contract folder of real vacancies (e.g. an `jobmatch import` output)")
    p.add_argument("--holdout", type=float, default=0.0,
                   help="with --vacancies-from: leave out this share of the real vacancies (by id hash) for evaluation, e.g. `summarizer eval --exclude OUT`")
    add_force_flag(p)
    p.add_argument("--json", action="store_true", help="print the market summary as JSON")
    p.set_defaults(func=synth_cmd)

    c = add_parser(sub, "calibrate", "Compare vacancy length and skill positions (BPE tokens) of a real and a synthetic dataset side by side.")
    c.add_argument("--real", type=Path, required=True, help="real dataset folder (e.g. `jobmatch import hh_vacancies_ru` output)")
    c.add_argument("--synth", type=Path, required=True, help="synthetic dataset folder (`jobmatch synth` output)")
    c.add_argument("--tokenizer", type=Path, default=None, help="tokenizer dir; default: train one on the real vacancies (deterministic, ~20 s for hh_vacancies_ru)")
    c.add_argument("--vocab-size", type=int, default=16000, help="vocabulary of the tokenizer trained when --tokenizer is not given")
    c.add_argument("--cut", type=int, default=300, help="the production model's token budget")
    c.add_argument("--json", action="store_true", help="print both columns as JSON")
    c.set_defaults(func=calibrate_cmd)


def synth_cmd(args: argparse.Namespace) -> int:
    from dssm.errors import JobmatchError
    from pipelines.data.synth.build import synthesize
    from pipelines.data.synth.config import SynthConfig, boilerplate_preset

    multiplier, min_words = boilerplate_preset(str(args.boilerplate))
    kwargs = {"n_vacancies": args.vacancies, "n_resumes": args.resumes, "seed": args.seed, "boilerplate": multiplier, "min_intro_words": min_words}
    if args.views_per_resume is not None:
        kwargs["views_per_resume"] = args.views_per_resume
    try:
        cfg = SynthConfig(**kwargs)
    except ValueError as e:
        raise JobmatchError(f"synth: {e}") from e
    summary = synthesize(cfg, args.out, args.vacancies_from, args.holdout, force=args.force)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    ev = ", ".join(f"{k} {v}" for k, v in summary["by_event"].items())
    print(f"{args.out}: {summary['vacancies']} vacancies, {summary['resumes']} resumes, {summary['events']} events ({ev}); "
          f"positives {summary['positive_share']:.1%} of events; truth in {args.out / 'truth'}")
    return 0


def calibrate_cmd(args: argparse.Namespace) -> int:
    from dssm.text import frame_documents
    from dssm.tokenizer import Tokenizer
    from pipelines.data.dataset import load_dataset
    from pipelines.data.synth.calibrate import document_stats, format_table

    real = load_dataset(args.real).vacancies
    syn = load_dataset(args.synth).vacancies
    with tempfile.TemporaryDirectory(prefix="jobmatch-calibrate-") as tmp:
        if args.tokenizer is not None:
            tok = Tokenizer.load(args.tokenizer)
        else:
            tok = Tokenizer.train([" ".join(d) for d in frame_documents(real, "vacancies")], Path(tmp) / "tokenizer", vocab_size=args.vocab_size, seed=0)
        columns = {"real": document_stats(real, tok, cut=args.cut), "synthetic": document_stats(syn, tok, cut=args.cut)}
    if args.json:
        print(json.dumps({"tokenizer": str(args.tokenizer) if args.tokenizer else f"trained on --real, vocab {tok.vocab_size}", **columns}, ensure_ascii=False, indent=2))
        return 0
    print(f"tokenizer: {args.tokenizer or f'trained on {args.real} (vocab {tok.vocab_size})'}")
    print(format_table(columns))
    return 0

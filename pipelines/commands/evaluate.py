"""`jobmatch evaluate`: offline evaluation of arms (ranking metrics + paired bootstrap CIs) or the Talent Match outcome check.

Arms are `NAME=VALUE` items separated by commas, VALUE being a baseline (`tfidf`, `bm25`,
`popularity`) or a trained model dir, optionally `MODEL_DIR@CORPUS_DIR` to read the texts
(e.g. the summaries) from CORPUS_DIR/{vacancies,resumes}.parquet; a bare baseline name is
its own arm name (`pipelines.evaluation.arms.parse_arms`). Without `--arms`, the run
directory's layout decides (`default_arms`). The evaluation flags are `EvalConfig`'s fields.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dssm.errors import JobmatchError
from dssm.io import load_config
from pipelines.commands.flags import add_config_flags, add_parser, config_from_args
from pipelines.evaluation.arms import parse_arms
from pipelines.evaluation.evaluate import EvalConfig, run_evaluation
from pipelines.evaluation.report import format_table


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
        help="comma-separated NAME=VALUE (VALUE: tfidf|bm25|popularity|MODEL_DIR[@CORPUS_DIR]|utility[@CORPUS_DIR]: a generated "
             "market's known utility over the skills the corpus names: compare corpora by it); default: arms present in --run",
    )
    p.add_argument("--index", action="append", default=[], metavar="ARM=DIR", help="rank ARM through the served (CURRENT) version of the index root DIR built from its model (repeatable)")
    p.add_argument("--candidates", type=Path, default=None, metavar="RESUME_INDEX",
                   help="evaluate from the vacancy side instead: Recall@k of each vacancy's held-out responders through this resume index "
                        "(`index build --side resumes`) vs popularity (`pipelines.evaluation.candidates`); --out is then a JSON file")
    p.add_argument("--explanations", action="store_true",
                   help="check the explanations instead: precision/recall of matched_skills against the true shared skills of --pairs "
                        "response/invite pairs of a synthetic market (`pipelines.evaluation.explanations`); needs --tagger and --parsed")
    p.add_argument("--tagger", type=Path, default=None, help="--explanations: the tagger")
    p.add_argument("--parsed", type=Path, default=None,
                   help="a parse folder of --data (`jobmatch parse`): with --explanations the market parsed by --tagger; otherwise the "
                        "skill bags of skills arms come from it instead of the model's own parse (e.g. documents the model never saw)")
    p.add_argument("--pairs", type=int, default=200, help="--explanations: pairs drawn")
    p.add_argument("--only-vacancies", type=Path, default=None,
                   help="--explanations: draw only pairs whose vacancy is a doc_id of this Parquet (e.g. a silver set's dev.parquet: vacancies the tagger never trained on)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default RUN/reports, or RUN/reports/outcomes_<data name> for outcomes)")
    p.add_argument("--config", type=Path, default=None, help="EvalConfig YAML (the flags below override it)")
    add_config_flags(p, EvalConfig)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=evaluate_cmd)

    q = add_parser(sub, "pool", "Pool evaluation reports of several training seeds (same resumes): means over seeds, paired CIs over resumes.",
                   description="Pool the report folders of `jobmatch evaluate --out`, one per training seed, on the same dataset and resumes:\n"
                   "a resume's value is averaged over the seeds, the difference to the control gets a paired bootstrap CI over\n"
                   "resumes, and each seed's own difference is listed (what `jobmatch demo --seeds` does for its own reports).")
    q.add_argument("reports", nargs="+", type=Path, metavar="REPORT", help="report folders (per_user.parquet + eval.json)")
    q.add_argument("--out", type=Path, default=None, help="write the pooled figures here as JSON")
    q.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    q.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws")
    q.add_argument("--json", action="store_true", help="print the pooled figures as JSON")
    q.set_defaults(func=pool_cmd)


def index_roots(items: list[str]) -> dict[str, Path]:
    """['treatment=RUN/index'] -> {'treatment': Path('RUN/index')}."""
    out = {}
    for item in items:
        name, _, path = item.partition("=")
        if not name or not path:
            raise JobmatchError(f"--index {item}: expected ARM=DIR")
        out[name] = Path(path)
    return out


def explanations_cmd(args: argparse.Namespace, seed: int) -> int:
    import pandas as pd

    from pipelines.commands.recommend import make_explainer
    from pipelines.data.dataset import load_dataset
    from pipelines.evaluation.explanations import explanation_check

    if args.tagger is None or args.parsed is None:
        raise JobmatchError("--explanations needs --tagger and --parsed")
    if args.pairs < 1:
        raise JobmatchError(f"--pairs must be >= 1, got {args.pairs}")
    only = None
    if args.only_vacancies is not None:
        frame = pd.read_parquet(args.only_vacancies)
        if "doc_id" not in frame.columns:
            raise JobmatchError(f"{args.only_vacancies}: no doc_id column")
        only = set(frame["doc_id"].astype(str))
    r = explanation_check(make_explainer(args, load_dataset(args.data).vacancies), args.data, args.pairs, seed, only)
    if args.json:
        print(json.dumps(r))
    else:
        fmt = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
        print(f"explanations on {r['pairs']} pairs: precision {fmt(r['precision'])} ({r['true_positives']} of {r['matched']} matched skills truly shared), "
              f"recall {fmt(r['recall'])} (of {r['shared']} truly shared)")
    return 0


def evaluate_cmd(args: argparse.Namespace) -> int:
    cfg = config_from_args(EvalConfig, args, base=load_config(EvalConfig, args.config) if args.config else None)
    if args.explanations:
        return explanations_cmd(args, cfg.seed)
    if args.candidates is not None:
        from pipelines.evaluation.candidates import evaluate_candidates, format_candidates

        result = evaluate_candidates(args.data, args.candidates, None, cfg.ks, cfg.n_boot, cfg.seed, args.out)
        print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else format_candidates(result))
        return 0
    arms = parse_arms(args.arms) if args.arms else None
    result, out = run_evaluation(cfg, args.data, arms, args.run, index_roots(args.index), args.out, parsed=args.parsed)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return 0
    print(format_table(result))
    for n in result["notes"]:
        print(f"note: {n}")
    print(f"report: {out / 'eval.html'}")
    return 0


def pool_cmd(args: argparse.Namespace) -> int:
    from dssm.io import check_output, write_json
    from pipelines.evaluation.seeds import format_pooled, pool_reports

    if args.n_boot < 100:
        raise JobmatchError(f"--n-boot must be >= 100, got {args.n_boot}")
    if args.out is not None:
        check_output(args.out, args.reports, force=True)
    pooled = pool_reports(args.reports, n_boot=args.n_boot, seed=args.seed)
    if args.out is not None:
        write_json(args.out, pooled)
    print(json.dumps(pooled, ensure_ascii=False, indent=2) if args.json else format_pooled(pooled))
    return 0

"""`jobmatch ab analyze|simulate`: A/B analysis of a per-user or per-event log, and an offline replay that makes one."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dssm.errors import JobmatchError
from pipelines.cli import add_parser


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _covariates(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        metric, sep, col = item.partition("=")
        if not sep or not metric or not col:
            raise JobmatchError(f"--covariate {item!r}: expected METRIC=COLUMN, e.g. responses=pre_responses")
        out[metric.strip()] = col.strip()
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "ab", "A/B tests: analyse a log (SRM, Welch, delta method, bootstrap, CUPED, Holm) or simulate one.")
    ab_sub = p.add_subparsers(dest="ab", metavar="ACTION", required=True)

    a = add_parser(ab_sub, "analyze", "Analyse a two-arm log and write report.md/.html, plots and result.json.")
    a.add_argument("--log", type=Path, required=True, help="events.parquet (or .csv): one row per user or per event")
    a.add_argument("--metrics", default="responses,views", help="comma-separated mean metrics (columns, or event names in a long log)")
    a.add_argument("--ratio", action="append", default=[], metavar="NUM/DEN", help="ratio metric by the delta method, e.g. responses/views (repeatable)")
    a.add_argument("--covariate", action="append", default=[], metavar="METRIC=COL", help="CUPED pre-period covariate, e.g. responses=pre_responses (repeatable)")
    a.add_argument("--arm-col", default="arm", help="column with the arm label")
    a.add_argument("--user-col", default="user_id", help="column with the user (randomisation unit) id")
    a.add_argument("--control", default="control", help="control arm label")
    a.add_argument("--treatment", default="treatment", help="treatment arm label")
    a.add_argument("--expected-ratio", type=float, default=0.5, help="designed treatment share for the SRM check")
    a.add_argument("--alpha", type=float, default=0.05, help="significance level")
    a.add_argument("--srm-alpha", type=float, default=0.001, help="SRM flagged when the chi-square p is below this")
    a.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    a.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    a.add_argument("--out", type=Path, default=None, help="report folder (default: <log folder>/ab_report)")
    a.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")
    a.set_defaults(func=run_analyze)

    s = add_parser(ab_sub, "simulate", "Replay held-out users as an online test between two rankings; writes events.parquet + truth.json.")
    s.add_argument("--data", type=Path, required=True, help="dataset folder (holds truth/utility.parquet from `jobmatch synth`)")
    s.add_argument("--control", type=Path, required=True, help="control ranking Parquet (resume_id, vacancy_id, rank)")
    s.add_argument("--treatment", type=Path, required=True, help="treatment ranking Parquet (resume_id, vacancy_id, rank)")
    s.add_argument("--utility", type=Path, default=None, help="utility Parquet (resume_id, vacancy_id, utility); default: the market's hidden utility of any pair (DATA/truth profiles from `jobmatch synth`)")
    s.add_argument("--missing-utility", type=float, default=None, help="utility for shown pairs absent from the table (default: error)")
    s.add_argument("--pre-period", type=Path, default=None, help="interactions Parquet of the users' training weeks (default: simulate a control pre-period)")
    s.add_argument("--k", type=int, default=10, help="list length shown to each user")
    s.add_argument("--seed", type=int, default=0, help="assignment and behaviour seed")
    s.add_argument("--treatment-share", type=float, default=0.5, help="probability of assignment to treatment")
    s.add_argument("--response-scale", type=float, default=1.0, help="P(response|view) = sigmoid(scale * (utility - offset))")
    s.add_argument("--response-offset", type=float, default=0.0, help="utility at which P(response|view) = 1/2")
    s.add_argument("--out", type=Path, default=None, help="output folder (default: DATA/ab)")
    s.add_argument("--json", action="store_true", help="print truth.json to stdout")
    s.set_defaults(func=run_simulate)


def run_analyze(args: argparse.Namespace) -> int:
    from pipelines import ab

    try:
        cfg = ab.ABConfig(
            arm_col=args.arm_col,
            user_col=args.user_col,
            control=args.control,
            treatment=args.treatment,
            expected_ratio=args.expected_ratio,
            alpha=args.alpha,
            n_boot=args.n_boot,
            seed=args.seed,
            srm_alpha=args.srm_alpha,
        )
    except ValueError as e:
        raise JobmatchError(f"invalid options: {e}") from e
    log = ab.read_log(args.log)
    result = ab.analyze(log, _csv(args.metrics), args.ratio, _covariates(args.covariate), cfg, source=str(args.log))
    out = args.out or args.log.parent / "ab_report"
    files = ab.write_report(result, out)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    else:
        print(ab.format_table(result))
        print(f"report: {files['html']}")
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from pipelines import ab_simulate as sim

    try:
        cfg = sim.SimConfig(
            k=args.k,
            seed=args.seed,
            treatment_share=args.treatment_share,
            response_scale=args.response_scale,
            response_offset=args.response_offset,
            missing_utility=args.missing_utility,
        )
    except ValueError as e:
        raise JobmatchError(f"invalid options: {e}") from e
    control = sim.read_table(args.control, "control ranking")
    treatment = sim.read_table(args.treatment, "treatment ranking")
    if args.utility is not None:
        utility_path, utility = str(args.utility), sim.read_table(args.utility, "utility table")
    else:
        from pipelines.synth.market import MarketUtility

        utility_path, utility = f"{args.data}/truth (market profiles)", MarketUtility.load(args.data)
    pre = sim.read_table(args.pre_period, "pre-period interactions") if args.pre_period else None
    events, truth = sim.simulate(control, treatment, utility, cfg, pre, sources=(str(args.control), str(args.treatment), str(utility_path)))
    truth["inputs"] = {"control": str(args.control), "treatment": str(args.treatment), "utility": utility_path, "pre_period": str(args.pre_period) if args.pre_period else None}
    files = sim.write_simulation(args.out or args.data / "ab", events, truth)
    if args.json:
        print(json.dumps(truth, ensure_ascii=False, indent=2))
    else:
        t = truth["metrics"]
        print(f"{truth['n_users']} users: control {truth['n_control']}, treatment {truth['n_treatment']}")
        for m, v in t.items():
            print(f"  true {m}: control {v['control']:.4f}, treatment {v['treatment']:.4f}, effect {v['ate']:+.4f}")
        print(f"log: {files['events']}  truth: {files['truth']}")
    return 0

"""`jobmatch ab analyze|power|sequential|traffic|simulate`: A/B analysis of a per-user or per-event log or of the
service's own log (A/B or interleaving), the users a test needs, safe monitoring of a running one, simulated users
driving the service, and an offline replay that makes a log."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dssm.errors import JobmatchError
from pipelines.commands.flags import add_config_flags, add_force_flag, add_parser, config_from_args
from pipelines.evaluation.ab.analysis import ABConfig, analyze_log, format_table
from pipelines.evaluation.ab.power import PowerConfig
from pipelines.evaluation.ab.simulate import SimConfig, replay
from pipelines.evaluation.ab.traffic import TrafficConfig


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
    p = add_parser(sub, "ab", "A/B tests and interleaving: analyse a log or the service's (SRM, Welch, delta method, bootstrap, CUPED, Holm; "
                   "the interleaving test), size one (power), monitor one (sequential), drive the service (traffic) or simulate one.")
    ab_sub = p.add_subparsers(dest="ab", metavar="ACTION", required=True)

    a = add_parser(ab_sub, "analyze", "Analyse a two-arm log (a file, or a service's --log-dir) and write report.md/.html, plots and result.json.")
    a.add_argument("--log", type=Path, required=True,
                   help="events.parquet (or .csv): one row per user or per event; or a service log folder (`serve --log-dir`): "
                        "per-user metrics of its A/B test, or the interleaving test")
    a.add_argument("--experiment", default=None, help="service log: the experiment to analyse (default: the only one)")
    a.add_argument("--pre-log", type=Path, default=None,
                   help="service log: a log of the same users before the test; its counts (pre_views, pre_responses, ...) are CUPED covariates")
    a.add_argument("--credit-event", default="response", choices=("view", "response", "invite"),
                   help="interleaving: the event whose credit is the primary test")
    a.add_argument("--metrics", default="responses,views", help="comma-separated mean metrics (columns, or event names in a long log)")
    a.add_argument("--ratio", action="append", default=[], metavar="NUM/DEN", help="ratio metric by the delta method, e.g. responses/views (repeatable)")
    a.add_argument("--covariate", action="append", default=[], metavar="METRIC=COL", help="CUPED pre-period covariate, e.g. responses=pre_responses (repeatable)")
    add_config_flags(a, ABConfig)
    a.add_argument("--out", type=Path, default=None, help="report folder (default: <log folder>/ab_report)")
    a.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")
    a.set_defaults(func=run_analyze)

    w = add_parser(ab_sub, "power", "Users needed per relative effect, and the minimum detectable effect, from a (pre-period) log.")
    w.add_argument("--log", type=Path, required=True, help="events.parquet (or .csv): one row per user or per event; no arm needed")
    w.add_argument("--metrics", default="responses,views", help="comma-separated mean metrics (columns, or event names in a long log)")
    w.add_argument("--effect", type=float, action="append", default=None, metavar="REL",
                   help="relative effect to size the test for, e.g. 0.02 for +2%% (repeatable; default 0.01, 0.02, 0.05, 0.1)")
    w.add_argument("--users", type=int, default=None, help="users of the planned test, for the MDE (default: the log's)")
    w.add_argument("--covariate", action="append", default=[], metavar="METRIC=COL", help="CUPED covariate: sd shrinks by sqrt(1 - rho^2) (repeatable)")
    add_config_flags(w, PowerConfig)
    w.add_argument("--json", action="store_true", help="print the result as JSON")
    w.set_defaults(func=run_power)

    q = add_parser(ab_sub, "sequential", "Look-by-look always-valid p-values (mixture SPRT) and confidence sequences of a running test.")
    q.add_argument("--log", type=Path, required=True, help="per-event log with the arm, the user and a time column")
    q.add_argument("--metrics", default="responses,views", help="comma-separated mean metrics (columns, or event names in a long log)")
    q.add_argument("--time-col", default="ts", help="timestamps (one look per calendar day) or numbers (one look per value)")
    q.add_argument("--tau-sd", type=float, default=0.1, help="mixture scale tau as a share of the metric's pooled sd: the effect size looked for")
    add_config_flags(q, ABConfig)
    q.add_argument("--json", action="store_true", help="print the result as JSON")
    q.set_defaults(func=run_sequential)

    t = add_parser(ab_sub, "traffic", "Simulated users drive a running service over HTTP (lists, then their events); with --experiment, the true effect.")
    t.add_argument("--url", required=True, help="the service, e.g. http://127.0.0.1:8080")
    t.add_argument("--data", type=Path, required=True, help="the market the service serves (`serve --data`), with its truth from `jobmatch synth`")
    t.add_argument("--experiment", type=Path, default=None, help="the served experiment file: compute each arm's expected metrics (truth.json)")
    add_config_flags(t, TrafficConfig)
    add_config_flags(t, SimConfig, skip=("k", "seed", "treatment_share", "missing_utility"))
    t.add_argument("--out", type=Path, default=None, help="folder for traffic.json, users.parquet and truth.json")
    add_force_flag(t)
    t.add_argument("--json", action="store_true", help="print the report and truth as JSON")
    t.set_defaults(func=run_traffic)

    s = add_parser(ab_sub, "simulate", "Replay held-out users as an online test between two rankings; writes events.parquet + truth.json.")
    s.add_argument("--data", type=Path, required=True, help="dataset folder (holds truth/utility.parquet from `jobmatch synth`)")
    s.add_argument("--control", type=Path, required=True, help="control ranking Parquet (resume_id, vacancy_id, rank)")
    s.add_argument("--treatment", type=Path, required=True, help="treatment ranking Parquet (resume_id, vacancy_id, rank)")
    s.add_argument("--utility", type=Path, default=None, help="utility Parquet (resume_id, vacancy_id, utility); default: the market's hidden utility of any pair (DATA/truth profiles from `jobmatch synth`)")
    s.add_argument("--pre-period", type=Path, default=None, help="interactions Parquet of the users' training weeks (default: simulate a control pre-period)")
    add_config_flags(s, SimConfig)
    s.add_argument("--out", type=Path, required=True, help="output folder for events.parquet + truth.json (outside DATA and the rankings)")
    add_force_flag(s)
    s.add_argument("--json", action="store_true", help="print truth.json to stdout")
    s.set_defaults(func=run_simulate)


def run_analyze(args: argparse.Namespace) -> int:
    from pipelines.commands.flags import given_flags
    from pipelines.evaluation.ab.live import analyze_service_log, format_interleaving, is_service_log

    cfg = config_from_args(ABConfig, args)
    if is_service_log(args.log):
        result, files = analyze_service_log(cfg, args.log, _csv(args.metrics), args.ratio, args.experiment, args.out, args.credit_event,
                                            given=given_flags(ABConfig, args), covariates=_covariates(args.covariate), pre_log=args.pre_log)
        if result.get("kind") == "interleaving":
            print(json.dumps(result, ensure_ascii=False, indent=2, default=str) if args.json else format_interleaving(result["primary_test"], result["experiment"]))
            return 0
        if not args.json:
            print(format_table(result))
            need = ", ".join(f"{m} {v:,.0f}" if v else f"{m} n/a" for m, v in result["users_needed_80"].items())
            print(f"users needed at 80% power for the observed differences: {need}")
            print(f"report: {files['html']}")
            return 0
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return 0
    if args.experiment is not None or args.pre_log is not None:
        raise JobmatchError(f"--experiment and --pre-log belong to a service log folder; {args.log} is a log file")
    result, files = analyze_log(cfg, args.log, _csv(args.metrics), args.ratio, _covariates(args.covariate), args.out)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    else:
        print(format_table(result))
        print(f"report: {files['html']}")
    return 0


def run_power(args: argparse.Namespace) -> int:
    from pipelines.evaluation.ab.analysis import read_log
    from pipelines.evaluation.ab.power import format_power, power_report

    effects = tuple(args.effect) if args.effect else (0.01, 0.02, 0.05, 0.1)
    if args.users is not None and args.users < 2:
        raise JobmatchError(f"--users must be >= 2, got {args.users}")
    result = power_report(read_log(args.log), _csv(args.metrics), config_from_args(PowerConfig, args), effects, args.users,
                          _covariates(args.covariate), source=str(args.log))
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else format_power(result))
    return 0


def run_sequential(args: argparse.Namespace) -> int:
    from pipelines.evaluation.ab.analysis import read_log
    from pipelines.evaluation.ab.sequential import format_sequential, sequential

    result = sequential(read_log(args.log), _csv(args.metrics), config_from_args(ABConfig, args), args.time_col, args.tau_sd, source=str(args.log))
    print(json.dumps(result, ensure_ascii=False, indent=2, default=str) if args.json else format_sequential(result))
    return 0


def run_traffic(args: argparse.Namespace) -> int:
    from pipelines.evaluation.ab.traffic import run_traffic as drive

    cfg = config_from_args(TrafficConfig, args)
    behaviour = config_from_args(SimConfig, argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in ("k", "seed")}))
    result = drive(cfg, behaviour, args.url, args.data, args.out, args.experiment, args.force)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return 0
    t = result["traffic"]
    print(f"{cfg.users} users, {t['lists']} lists, events: {t['views']} views, {t['responses']} responses, {t['invites']} invites; "
          f"{t['errors']} errors, {t['calls']} calls in {t['seconds']:.1f} s ({t['calls_per_s']} calls/s)" + ("; stopped at --max-requests" if t["bounded"] else ""))
    for problem in t["first_errors"]:
        print(f"  error: {problem}")
    if result["truth"]:
        for m, v in result["truth"]["metrics"].items():
            print(f"  true {m}: " + ", ".join(f"{k} {x:+.4f}" if k.startswith("ate_") else f"{k} {x:.4f}" for k, x in v.items()))
    return 0 if t["errors"] == 0 else 1


def run_simulate(args: argparse.Namespace) -> int:
    truth, files = replay(config_from_args(SimConfig, args), args.data, args.control, args.treatment, args.out, args.utility, args.pre_period, force=args.force)
    if args.json:
        print(json.dumps(truth, ensure_ascii=False, indent=2))
    else:
        t = truth["metrics"]
        print(f"{truth['n_users']} users: control {truth['n_control']}, treatment {truth['n_treatment']}")
        for m, v in t.items():
            print(f"  true {m}: control {v['control']:.4f}, treatment {v['treatment']:.4f}, effect {v['ate']:+.4f}")
        print(f"log: {files['events']}  truth: {files['truth']}")
    return 0

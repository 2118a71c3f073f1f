"""`jobmatch validate DIR`, `jobmatch import NAME... --out DIR` and `jobmatch split`: the data contract at the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipelines.commands.flags import add_force_flag, add_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "validate", "Check a dataset folder against the data contract (exit 2 with a one-line error).")
    p.add_argument("dir", type=Path, help="folder with vacancies.parquet, resumes.parquet [, interactions.parquet]")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=validate_cmd)

    from pipelines.data.importers import IMPORTERS

    p = add_parser(
        sub,
        "import",
        "Map real public datasets (../shared/data) into the contract; several names merge into one folder with prefixed ids.",
    )
    p.add_argument("names", nargs="+", metavar="NAME", choices=sorted(IMPORTERS), help=f"dataset(s): {', '.join(sorted(IMPORTERS))}")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--src", type=Path, help="the dataset's shared folder (one NAME only)")
    src.add_argument("--src-root", type=Path, help="folder holding the datasets, each read from SRC_ROOT/NAME")
    p.add_argument("--out", type=Path, required=True, help="output dataset folder")
    add_force_flag(p)
    p.add_argument("--json", action="store_true", help="print the import manifest as JSON")
    p.set_defaults(func=import_cmd)

    p = add_parser(
        sub,
        "split",
        "Item cold start: OUT/train without a share of the vacancies and their events, OUT/test with only them.",
        description="Split a dataset by vacancy for a cold-start evaluation: train the arms on OUT/train, summarize OUT/test\n"
        "with the trained summarizer, then `jobmatch evaluate --data OUT/test`: every resume with a positive there ranks\n"
        "vacancies no model has seen (not even as a negative).",
    )
    p.add_argument("--data", type=Path, required=True, help="dataset folder with interactions (e.g. a `jobmatch synth` market)")
    p.add_argument("--cold-vacancies", type=float, required=True, metavar="SHARE", help="share of the vacancies held out, by id hash (e.g. 0.3)")
    p.add_argument("--out", type=Path, required=True, help="output folder: OUT/train, OUT/test, OUT/split.json")
    add_force_flag(p)
    p.add_argument("--json", action="store_true", help="print the split manifest as JSON")
    p.set_defaults(func=split_cmd)


def validate_cmd(args: argparse.Namespace) -> int:
    from pipelines.data.contract import validate_dir

    summary = validate_dir(args.dir)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    n_inter = "no interactions" if summary["interactions"] is None else f"{summary['interactions']} interactions"
    events = ", ".join(f"{k} {v}" for k, v in summary.get("events", {}).items())
    print(f"{args.dir}: OK: {summary['vacancies']} vacancies, {summary['resumes']} resumes, {n_inter}" + (f" ({events})" if events else ""))
    return 0


def import_cmd(args: argparse.Namespace) -> int:
    from pipelines.data.importers import import_datasets

    manifest = import_datasets(args.names, args.src_root, args.out, src=args.src, force=args.force)
    if args.json:
        print(json.dumps(manifest, ensure_ascii=False, indent=2, default=str))
        return 0
    rows = ", ".join(f"{k} {v}" for k, v in manifest["rows"].items() if v is not None)
    print(f"{args.out}: imported {' + '.join(args.names)}: {rows}")
    for d in manifest["datasets"]:
        for reason, n in d["dropped"].items():
            print(f"  {d['name']}: {reason}: {n}")
    return 0


def split_cmd(args: argparse.Namespace) -> int:
    from pipelines.data.split import split_cold_vacancies

    m = split_cold_vacancies(args.data, args.cold_vacancies, args.out, force=args.force)
    if args.json:
        print(json.dumps(m, ensure_ascii=False, indent=2))
        return 0
    for part in ("train", "test"):
        print(f"{args.out}/{part}: {m[part]['vacancies']} vacancies, {m[part]['resumes']} resumes, {m[part]['events']} events")
    return 0

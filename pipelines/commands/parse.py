"""`jobmatch parse`: the entities (and sentence sections) of every document of a dataset, or of one document.

    jobmatch parse --tagger RUN/tagger [--classifier RUN/classifier] --data RUN/market --out RUN/parsed   # incremental
    jobmatch parse --tagger RUN/tagger [--classifier RUN/classifier] --file resume.json [--kind resumes]  # JSON to stdout
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from dssm.errors import JobmatchError
from pipelines.commands.flags import add_force_flag, add_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "parse", "Entities (skills, ...) and sentence sections of a dataset's documents (OUT/entities.parquet, "
                                 "sections.parquet; incremental), or of one document (--file, JSON on stdout).")
    p.add_argument("--tagger", type=Path, required=True, help="tagger folder (`jobmatch tagger train`)")
    p.add_argument("--classifier", type=Path, default=None, help="sentence classifier folder (`jobmatch classifier train`); without it no sections")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--data", type=Path, help="dataset folder in the contract: parse every vacancy and resume")
    what.add_argument("--file", type=Path, help="a JSON file with one document (the fields of recommend --resume-file / --vacancy-file)")
    p.add_argument("--out", type=Path, default=None, help="parse folder to write with --data (never the dataset); a rerun parses only changed documents")
    p.add_argument("--kind", choices=("resumes", "vacancies"), default="resumes", help="what --file holds")
    add_force_flag(p)
    p.add_argument("--json", action="store_true", help="print a JSON summary (--data)")
    p.set_defaults(func=parse_cmd)


def parse_cmd(args: argparse.Namespace) -> int:
    from pipelines.understanding.corpus import parse_corpus, parse_sentences

    if args.file is not None:
        from dssm.text import frame_documents
        from pipelines.retrieval.recommend import load_document_file
        from dssm.understanding.classifier import load_section_model
        from pipelines.understanding.tagging import load_tagger

        df = load_document_file(args.file, args.kind)
        if len(df) != 1:
            raise JobmatchError(f"{args.file}: --file takes one document, got {len(df)}")
        classifier = load_section_model(args.classifier) if args.classifier is not None else None
        parsed = parse_sentences(frame_documents(df, args.kind)[0], load_tagger(args.tagger), classifier)
        if classifier is None:
            parsed.pop("sections")
        print(json.dumps(parsed, ensure_ascii=False, indent=2))
        return 0
    if args.out is None:
        raise JobmatchError("--data needs --out (the parse folder to write)")
    result = parse_corpus(args.tagger, args.data, args.out, args.classifier, force=args.force)
    if args.json:
        print(json.dumps(asdict(result), ensure_ascii=False))
    else:
        sections = f", {result.sections} sentence sections" if result.sections is not None else ""
        print(f"parse: {result.documents} documents ({result.parsed} parsed, {result.reused} unchanged, {result.removed} removed), "
              f"{result.entities} entities{sections} -> {result.out} ({result.seconds} s)")
    return 0

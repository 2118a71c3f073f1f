"""The `jobmatch` console script: one argparse parser, one subcommand module per stage group in `pipelines.commands`.

Each module of `COMMANDS` exposes `register(subparsers)`: it adds its parsers and sets `func`
to a function that parses the flags into the stage's typed config, calls the stage function
and prints. Errors a user can act on (`JobmatchError`) print as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dssm.errors import JobmatchError
from pipelines.commands import ab, albert, bench, classifier, data, demo, evaluate, explain, index, loadtest, parse, recommend, refresh, serve, summarizer, synth, tagger, tokenizer, train
from pipelines.commands.flags import HelpFormatter

COMMANDS = (ab, albert, bench, classifier, data, demo, evaluate, explain, index, loadtest, parse, recommend, refresh, serve, summarizer, synth, tagger, tokenizer, train)
"""Every command module, alphabetically (the order of `jobmatch --help`)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobmatch",
        description="Vacancy-resume matching: DSSM towers, extractive summarizer, FAISS retrieval.",
        formatter_class=HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except JobmatchError as e:
        print(f"jobmatch {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jobmatch {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())

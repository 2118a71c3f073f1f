"""The `jobmatch` console script: one argparse parser, subcommands registered by `pipelines.commands.*`.

Every module in `pipelines/commands/` is discovered and exposes `register(subparsers)`;
it adds its parsers and sets
`func` to a typed function taking the parsed flags. Errors a user can act on
(`JobmatchError`) print as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from dssm.errors import JobmatchError



def command_modules() -> list[str]:
    """Every module of `pipelines.commands`, alphabetically: each one's `register(sub)` adds subcommands."""
    import pipelines.commands as pkg

    return sorted(f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__))


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps description line breaks."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobmatch",
        description="Vacancy-resume matching: DSSM towers, extractive summarizer, FAISS retrieval.",
        formatter_class=HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_modules():
        importlib.import_module(name).register(sub)
    return parser


def add_parser(sub: argparse._SubParsersAction, name: str, help: str, **kwargs) -> argparse.ArgumentParser:
    """Add a subcommand parser with the shared formatter (shows defaults)."""
    return sub.add_parser(name, help=help, description=kwargs.pop("description", help), formatter_class=HelpFormatter, **kwargs)


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

"""Command-line flags derived from typed config dataclasses: each default and help text is written once, in the field.

A config field and the attribute docstring under it become one flag:

    @dataclass
    class IndexConfig:
        nprobe: int = 32
        \"\"\"IVF lists probed per query.\"\"\"

gives `--nprobe INT` with help "IVF lists probed per query. (default: 32)". A flag that is not
given on the command line is absent from the parsed namespace (`argparse.SUPPRESS`), so
`config_from_args` can layer: dataclass defaults < `--config FILE` < flags given.

>>> import argparse
>>> from dataclasses import dataclass
>>> @dataclass
... class C:
...     k: int = 10
...     \"\"\"How many.\"\"\"
>>> p = argparse.ArgumentParser()
>>> add_config_flags(p, C)
>>> config_from_args(C, p.parse_args(["--k", "3"])).k
3
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from dssm.io import config_from_dict, config_to_dict

T = TypeVar("T")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps description line breaks."""


def add_parser(sub: argparse._SubParsersAction, name: str, help: str, **kwargs: Any) -> argparse.ArgumentParser:
    """Add a subcommand parser with the shared formatter (shows defaults)."""
    return sub.add_parser(name, help=help, description=kwargs.pop("description", help), formatter_class=HelpFormatter, **kwargs)


def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings of a dataclass and its bases: field name -> the string literal written under it."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body  # the class statement's body
        for stmt, nxt in zip(body, body[1:]):
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
                docs[stmt.target.id] = " ".join(nxt.value.value.split())
    return docs


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _optional(hint: Any) -> tuple[Any, bool]:
    """(X, True) for `X | None` / Optional[X]; (hint, False) otherwise."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _none_or(convert: Any) -> Any:
    def parse(text: str) -> Any:
        return None if text.lower() in ("none", "null") else convert(text)

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def flag_name(name: str) -> str:
    """Field `max_epochs` -> `--max-epochs`."""
    return "--" + name.replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (), rename: dict[str, str] | None = None) -> None:
    """One flag per field of dataclass `cls` (nested dataclass fields are skipped: they come from `--config`).

    `skip`: fields that get no flag (the command sets them otherwise). `rename`: field -> flag name
    (without dashes) where a command keeps an established spelling. bool fields become
    `--x/--no-x`; Literal fields get choices; `X | None` fields accept "none"; tuples take one or
    more values. Every flag's default is `argparse.SUPPRESS`: only what the user types overrides.
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    rename = rename or {}
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name.startswith("_"):
            continue
        hint, optional = _optional(hints[f.name])
        if dataclasses.is_dataclass(hint):
            continue
        default = _default(f)
        shown = "required" if default is dataclasses.MISSING else f"default: {default}"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS,
                                  "help": f"{docs.get(f.name, f.name)} ({shown})".replace("%", "%%")}
        origin = typing.get_origin(hint)
        if hint is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif origin is typing.Literal:
            kwargs["choices"] = list(typing.get_args(hint))
        elif origin is tuple:
            item = typing.get_args(hint)[0] if typing.get_args(hint) else str
            kwargs.update(nargs="+", type=item)
        else:
            convert = Path if hint in (Path,) else hint if hint in (int, float, str) else str
            kwargs["type"] = _none_or(convert) if optional else convert
            kwargs["metavar"] = getattr(convert, "__name__", "VALUE").upper()
        name = rename.get(f.name, f.name)
        parser.add_argument(flag_name(name), **kwargs)


def given_flags(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of `cls` the user set on the command line (flags added by `add_config_flags`)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}


def config_from_args(cls: type[T], args: argparse.Namespace, base: T | None = None) -> T:
    """`base` (a config loaded from `--config`, else the dataclass defaults) with the given flags laid over it.

    Validation is the dataclass's own (`__post_init__`); a bad value is a one-line JobmatchError naming the field.
    """
    values = config_to_dict(base) if base is not None else {}
    values.update(given_flags(cls, args))
    return config_from_dict(cls, values, "command-line flags")


def add_force_flag(parser: argparse.ArgumentParser) -> None:
    """`--force`: let a command replace an existing output (whole, once the new one is complete); never an input."""
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output (it is swapped in whole once complete; an output inside an input is refused even so)")


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    """`--engine local|ray`, `--address`, `--actors`: where documents are embedded (`pipelines.retrieval.refresh.Engine`)."""
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="embed in this process (local) or with Ray Data actors holding the model (ray; pip install \"jobmatch[ray]\")")
    parser.add_argument("--address", default=None, help="with --engine ray: an existing Ray cluster (HOST:PORT from `ray start --head`); default a local Ray on this machine")
    parser.add_argument("--actors", type=int, default=None, help="with --engine ray: actors holding the model (default one per CPU of the cluster)")


def engine_from_args(args: argparse.Namespace):
    """The `Engine` of `add_engine_flags`' flags (a bad combination is a one-line error)."""
    from pipelines.retrieval.refresh import Engine

    return Engine(args.engine, args.address, args.actors)

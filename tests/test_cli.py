"""The console script: every discovered command registers, help shows defaults, unknown flags are refused."""

from __future__ import annotations

import pytest

import pkgutil

import pipelines.commands
from pipelines.cli import COMMANDS, build_parser, main


def test_every_command_module_registers():
    modules = {m.name for m in pkgutil.iter_modules(pipelines.commands.__path__)} - {"flags"}
    assert {m.__name__.rsplit(".", 1)[1] for m in COMMANDS} == modules  # none forgotten in the explicit list
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert len(sub.choices) >= len(COMMANDS)


def test_unknown_flag_is_refused(capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "all", "--no-such-flag"])
    assert e.value.code == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "all", "--help"])
    assert "(default: runs/bench)" in capsys.readouterr().out

"""The console script: every discovered command registers, help shows defaults, unknown flags are refused."""

from __future__ import annotations

import pytest

from pipelines.cli import build_parser, command_modules, main


def test_every_command_module_registers():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert len(sub.choices) >= len(command_modules())


def test_unknown_flag_is_refused(capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "all", "--no-such-flag"])
    assert e.value.code == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "all", "--help"])
    assert "(default: runs/bench)" in capsys.readouterr().out

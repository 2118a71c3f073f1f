"""CLI flags derived from config dataclasses: help text and default written once (in the field), layering
defaults < --config file < flags given, validation by the dataclass naming the field."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Literal

import pytest

from dssm.errors import JobmatchError
from pipelines.cli import main
from pipelines.commands.flags import HelpFormatter, add_config_flags, config_from_args, field_docs
from pipelines.retrieval.index import IndexConfig


@dataclass
class Toy:
    """A config with one field of each kind the helper handles."""

    k: int = 10
    """How many items."""
    rate: float = 0.5
    """A rate, in (0, 1]."""
    mode: Literal["a", "b"] = "a"
    """Which mode."""
    flag: bool = False
    """Switch it on."""
    cap: int | None = None
    """Optional cap; none = no cap."""
    ks: tuple[int, ...] = (1, 2)
    """Cut-offs."""
    nested: dict = field(default_factory=dict)
    """Not a flag type the helper knows: read as a string."""

    def __post_init__(self) -> None:
        if not 0 < self.rate <= 1:
            raise ValueError(f"rate must be in (0, 1], got {self.rate}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(formatter_class=HelpFormatter)
    add_config_flags(p, Toy, skip=("nested",))
    return p


def test_field_docs_are_read_from_the_source():
    assert field_docs(Toy)["rate"] == "A rate, in (0, 1]."
    assert field_docs(IndexConfig)["nprobe"] == "IVF lists visited per query."


def test_flags_parse_each_kind_and_only_given_flags_override():
    args = parser().parse_args(["--k", "3", "--mode", "b", "--flag", "--cap", "none", "--ks", "5", "10"])
    cfg = config_from_args(Toy, args)
    assert (cfg.k, cfg.rate, cfg.mode, cfg.flag, cfg.cap, cfg.ks) == (3, 0.5, "b", True, None, (5, 10))
    base = Toy(k=7, rate=0.25)
    layered = config_from_args(Toy, parser().parse_args(["--rate", "0.75"]), base=base)
    assert (layered.k, layered.rate) == (7, 0.75)  # the base (a --config file) keeps what no flag changed
    assert config_from_args(Toy, parser().parse_args([])) == Toy()
    with pytest.raises(SystemExit):
        parser().parse_args(["--mode", "c"])


def test_a_bad_value_is_one_line_naming_the_field():
    with pytest.raises(JobmatchError, match="rate must be in"):
        config_from_args(Toy, parser().parse_args(["--rate", "2"]))


def test_help_shows_the_field_doc_and_default(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert "A rate, in (0, 1]. (default: 0.5)" in " ".join(out.split())
    with pytest.raises(SystemExit):
        main(["index", "build", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--nprobe INT IVF lists visited per query. (default: 32)" in text
    assert "--min-recall FLOAT" in text and "(default: 0.9)" in text


def test_index_config_file_then_flags(tmp_path):
    from pipelines.commands.index import index_config

    (tmp_path / "index.yaml").write_text("nprobe: 8\nmin_recall: 0.5\n")
    p = argparse.ArgumentParser()
    p.add_argument("--config", default=None)
    add_config_flags(p, IndexConfig)
    cfg = index_config(p.parse_args(["--config", str(tmp_path / "index.yaml"), "--nprobe", "16"]))
    assert (cfg.nprobe, cfg.min_recall, cfg.hnsw_m) == (16, 0.5, 32)

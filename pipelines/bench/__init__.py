"""Benchmarks run by `jobmatch bench NAME`, and the `bench all` report.

Each module of `BENCHMARKS` is a benchmark and exposes:

- `run_default(out_dir: Path, quick: bool = False) -> dict`: the figures `bench all` collects
  (`quick`: tiny sizes for a smoke test; the figures then say nothing about speed);
- `table(result) -> str`: a Markdown table of that dict;
- `reading(result) -> str`: one line reading its main ratio against the baseline.

Its command-line flags live in `pipelines.commands.bench`. Every speed or memory figure is a
ratio against a baseline measured in the same run, and every report records the machine it
ran on (`pipelines.bench.machine`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipelines.bench import encode, index, summarize, train, understanding
from pipelines.bench.machine import machine, machine_line

BENCHMARKS = {"encode": encode, "index": index, "summarize": summarize, "understanding": understanding, "train": train}
"""benchmark name -> module, in report order."""


def run_all(out_dir: Path, quick: bool = False) -> dict[str, Any]:
    """Every benchmark's `run_default`: {date, quick, machine, benchmarks: name -> result}."""
    report = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "quick": quick, "machine": machine(), "benchmarks": {}}
    for name, module in BENCHMARKS.items():
        report["benchmarks"][name] = module.run_default(out_dir, quick=quick)
    return report


def markdown(report: dict[str, Any]) -> str:
    """The `bench all` report as Markdown: heading (date, machine), versions, one section per benchmark.

    A pure function of the JSON `bench all` writes, so bench.md can be rebuilt from bench.json.
    """
    v = report["machine"]["versions"]
    lines = [f"# jobmatch benchmarks, {report['date']}, on {machine_line(report['machine'])}", "",
             "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if k != "platform"), ""]
    if report.get("quick"):
        lines += ["Quick smoke run (`--quick`): tiny sizes, one thread; the figures say nothing about speed.", ""]
    for name, result in report["benchmarks"].items():
        mod = BENCHMARKS[name]
        lines += [f"## {name}", "", mod.reading(result), "", mod.table(result), ""]
    return "\n".join(lines)

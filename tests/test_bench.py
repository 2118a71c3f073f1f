"""`jobmatch bench all`: one JSON and one Markdown report naming the machine; every ratio the Markdown shows is the
one the JSON's raw figures give. (Each benchmark's own smoke test: tests/test_tower.py, test_index.py, test_summarizer.py.)"""

from __future__ import annotations

import json
import platform
import re

import pytest

from pipelines.bench import BENCHMARKS, markdown
from pipelines.bench.machine import cpu_model, machine, machine_line, ram_bytes, ratio
from pipelines.cli import main

RATIO = re.compile(r"×(\d+\.\d\d)")
"""A measured ratio as `pipelines.bench.machine.ratio` writes it; nothing else in the Markdown uses "×"."""


def test_machine_fields_and_proc_parsing(tmp_path):
    m = machine()
    assert set(m) == {"cpu", "cores_available", "cores_total", "ram_bytes", "gpu", "os", "versions"}
    assert m["cpu"] and 1 <= m["cores_available"] <= m["cores_total"] and m["ram_bytes"] > 2**20
    assert isinstance(m["gpu"], str) and m["gpu"] and "torch" in m["versions"] and "python" in m["versions"]
    x86, arm, meminfo = tmp_path / "x86", tmp_path / "arm", tmp_path / "meminfo"
    x86.write_text("processor\t: 0\nmodel name\t: Test CPU @ 2.00GHz\nflags\t\t: fpu vme\n\nprocessor\t: 1\nmodel name\t: Test CPU @ 2.00GHz\n")
    arm.write_text("processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2711\n")
    meminfo.write_text("MemTotal:       16384 kB\nMemFree:         1024 kB\n")
    assert cpu_model(x86) == "Test CPU @ 2.00GHz" and cpu_model(arm) == "BCM2711"
    assert cpu_model(tmp_path / "absent") == (platform.processor() or platform.machine() or "unknown")
    assert ram_bytes(meminfo) == 16384 * 1024 and ram_bytes(tmp_path / "absent") > 2**20  # sysconf fallback
    assert ratio(1.234) == "×1.23" and ratio(None) == "–" and ratio(float("nan")) == "–"


def _expected_ratios(name: str, result: dict) -> set[str]:
    """Every ratio the benchmark's Markdown section should show, recomputed here from raw figures."""
    if name == "encode":
        out = set()
        for enc in ("production", "teacher"):
            rows = result[enc]["variants"]
            naive = next(r for r in rows if r["variant"] == "naive_unbatched")
            out |= {f"{r['docs_per_s'] / naive['docs_per_s']:.2f}" for r in rows}
        tc = result["torch_compile"]
        return out | ({f"{tc['compiled_docs_per_s'] / tc['eager_docs_per_s']:.2f}"} if tc["status"] == "ok" else set())
    if name == "index":
        flat = next(r for r in result["rows"] if r["index"] == "flat")
        return {f"{r['batch_qps'] / flat['batch_qps']:.2f}" for r in result["rows"]} | {f"{r['index_bytes'] / flat['index_bytes']:.2f}" for r in result["rows"]}
    if name == "summarize":
        split = result["split_docs_per_s"]
        return {f"{split / v:.2f}" for v in (split, result["summarize_docs_per_s"], *result["stages_docs_per_s"].values())}
    if name == "understanding":
        t, p = result["tagging"], result["pretraining"]
        return {f"{t['albert_bilstm'][n]['docs_per_s'] / t[base][n]['docs_per_s']:.2f}" for n in ("300", "3000") for base in ("bilstm", "albert_bilstm_argmax")} | {
            f"{t['albert_bilstm_bf16'][n]['docs_per_s'] / t['albert_bilstm'][n]['docs_per_s']:.2f}" for n in ("300", "3000")} | {
            f"{p['masked_only_pieces_per_s'] / p['all_positions_pieces_per_s']:.2f}"}
    if name == "train":
        base = result["arms"][0]["pairs_per_s"]
        return {f"{r['pairs_per_s'] / base:.2f}" for r in result["arms"]}
    raise AssertionError(f"no expected ratios written for benchmark {name!r}: add them here")


@pytest.mark.shared_data
def test_bench_all_quick_writes_json_and_markdown_with_machine_and_consistent_ratios(shared_data, tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["bench", "all", "--quick", "--out", str(out), "--json"]) == 0
    report = json.loads((out / "bench.json").read_text())
    assert json.loads(capsys.readouterr().out) == report
    md = (out / "bench.md").read_text()
    assert md == markdown(report)  # bench.md is rebuilt from bench.json alone
    assert set(report["benchmarks"]) == set(BENCHMARKS) == {"encode", "index", "summarize", "understanding", "train"}
    assert report["quick"] is True and set(report["machine"]) >= {"cpu", "cores_available", "ram_bytes", "gpu", "os", "versions"}
    head, *_ = md.splitlines()
    assert head.startswith("# ") and report["date"] in head and machine_line(report["machine"]) in head
    preamble, *sections = md.split("\n## ")
    assert not RATIO.findall(preamble) and [s.splitlines()[0] for s in sections] == list(report["benchmarks"])
    for name, section in zip(report["benchmarks"], sections):
        result = report["benchmarks"][name]
        assert json.loads((out / f"{name}.json").read_text()) == result
        assert set(result["machine"]) == set(report["machine"]), f"{name}.json does not record the machine"
        assert BENCHMARKS[name].table(result) in section
        shown = set(RATIO.findall(section))
        assert shown == _expected_ratios(name, result), f"{name}: ratios in bench.md {sorted(shown)} differ from the JSON's"


def test_bench_refresh_grows_the_catalogue_and_refreshes_only_what_changed(tiny_run, tmp_path):
    from pipelines.bench import refresh

    result = refresh.run(600, tiny_run["production"], tiny_run["data"], change=0.01, work=tmp_path)
    full, ref = result["rows"]
    assert result["changes"] == {"edited": 2, "removed": 2, "new": 2}
    assert (full["documents"], full["embedded"], full["reused"], full["action"]) == (600, 600, 0, "built")
    assert (ref["documents"], ref["embedded"], ref["reused"], ref["action"]) == (600, 4, 596, "refreshed")
    assert full["checks_ok"] and ref["checks_ok"] and ref["ratio"] == ref["wall_s"] / full["wall_s"]
    grown = refresh.catalogue(load_dataset_vacancies(tiny_run["data"]), 600)
    assert grown["vacancy_id"].is_unique and (grown["title"].to_numpy()[:300] != grown["title"].to_numpy()[300:]).all()
    assert f"{ref['ratio']:.2f}" in refresh.table(result)


def load_dataset_vacancies(path):
    from pipelines.data.dataset import load_dataset

    return load_dataset(path).vacancies

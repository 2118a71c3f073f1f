"""The end-to-end demo: every stage of the system, run through the same CLI a user runs.

    synth -> validate -> tokenizer -> teacher -> label -> summarizer -> summarize (LR, TextRank)
          -> production DSSM on summaries + control DSSM on first-300 -> index -> evaluate
          -> A/B replay (simulate) -> A/B analysis

Each stage is one `jobmatch ...` argument list (`plan`), so the demo proves the commands
users run, not a private shortcut. A finished stage leaves `RUN/.done/<stage>.json`
(its argv, seconds); a rerun reuses a stage whose marker matches its argv and whose
outputs exist, unless an earlier stage was just rerun (its inputs changed) or `force`.
A stage that is rerun first removes its own outputs inside RUN (never the input data).

`summary(run)` reads the evaluation and A/B results the stages wrote and returns the
results table: Recall/nDCG per arm with 95% CIs, differences vs the first-300 control
(paired bootstrap), the share of the control->teacher gap the summaries recover, and the
A/B replay's measured effects next to the simulator's true effects.

>>> result = run_demo(DemoConfig(out=Path("runs/demo")))  # doctest: +SKIP
>>> print(format_summary(result["summary"]))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dssm.errors import JobmatchError
from dssm.io import versions, write_json
from pipelines.report import SUMMARY_METRICS

DONE_DIR = ".done"
AB_METRICS = ("responses", "views", "invites")


@dataclass
class DemoConfig:
    """What the demo runs on and how big its models are."""

    out: Path = Path("runs/demo")
    """Run directory: every stage writes below it."""
    data: Path | None = None
    """A dataset in the contract to run on; None = generate the synthetic market into OUT/market."""
    vacancies: int = 5000
    """Synthetic vacancies (only without `data`)."""
    resumes: int = 3000
    """Synthetic resumes (only without `data`)."""
    seed: int = 0
    """Seed of the synthetic market."""
    vocab_size: int = 16000
    """BPE vocabulary (the tokenizer stops earlier when the corpus has fewer useful merges)."""
    production: str = "demo"
    """DSSM preset or YAML of the production and control models (300 tokens)."""
    teacher: str = "demo_teacher"
    """DSSM preset or YAML of the long-context teacher."""
    n_boot: int = 1000
    """Bootstrap resamples of the evaluation CIs."""
    force: bool = False
    """Rerun every stage even when a finished one could be reused."""

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.data = Path(self.data) if self.data is not None else None
        if self.vacancies < 10 or self.resumes < 10:
            raise ValueError(f"the synthetic market needs at least 10 vacancies and 10 resumes, got {self.vacancies} and {self.resumes}")
        if self.n_boot < 100:
            raise ValueError(f"n_boot must be >= 100, got {self.n_boot}")


@dataclass(frozen=True)
class Stage:
    """One `jobmatch` invocation of the demo and the paths it produces."""

    name: str
    argv: list[str]
    outputs: list[Path] = field(default_factory=list)


def market_dir(cfg: DemoConfig) -> Path:
    return cfg.data if cfg.data is not None else cfg.out / "market"


def has_truth(data: Path) -> bool:
    """True for a market written by `jobmatch synth` (its hidden utility drives the A/B replay)."""
    return (data / "truth" / "config.yaml").is_file()


def plan(cfg: DemoConfig) -> list[Stage]:
    """The demo's stages in order, as `jobmatch` argument lists."""
    run, data = cfg.out, market_dir(cfg)
    stages = []
    if cfg.data is None:
        stages.append(Stage("synth", ["synth", "--out", str(data), "--vacancies", str(cfg.vacancies), "--resumes", str(cfg.resumes), "--seed", str(cfg.seed)], [data]))
    stages += [
        Stage("validate", ["validate", str(data)]),
        Stage("tokenizer", ["tokenizer", "train", "--data", str(data), "--out", str(run / "tokenizer"), "--vocab-size", str(cfg.vocab_size)], [run / "tokenizer"]),
        Stage("teacher", ["train", "--data", str(data), "--config", cfg.teacher, "--out", str(run / "teacher"), "--tokenizer", str(run / "tokenizer")], [run / "teacher"]),
        Stage("label", ["label", "--teacher", str(run / "teacher"), "--data", str(data), "--out", str(run / "labels.parquet")], [run / "labels.parquet"]),
        Stage(
            "summarizer",
            ["summarizer", "train", "--labels", str(run / "labels.parquet"), "--data", str(data), "--tokenizer", str(run / "tokenizer"), "--out", str(run / "summarizer")],
            [run / "summarizer"],
        ),
        Stage("summarize", ["summarize", "--summarizer", str(run / "summarizer"), "--data", str(data), "--out", str(run / "summaries")], [run / "summaries"]),
        Stage(
            "summarize_textrank",
            ["summarize", "--method", "textrank", "--tokenizer", str(run / "tokenizer"), "--data", str(data), "--out", str(run / "summaries_textrank")],
            [run / "summaries_textrank"],
        ),
        Stage(
            "production",
            ["train", "--data", str(run / "summaries"), "--config", cfg.production, "--out", str(run / "production"), "--tokenizer", str(run / "tokenizer")],
            [run / "production"],
        ),
        Stage("control", ["train", "--data", str(data), "--config", cfg.production, "--out", str(run / "control"), "--tokenizer", str(run / "tokenizer")], [run / "control"]),
        Stage("index", ["index", "build", "--model", str(run / "production"), "--data", str(data), "--summarizer", str(run / "summarizer"), "--out", str(run / "index")], [run / "index"]),
        Stage(
            "evaluate",
            ["evaluate", "--data", str(data), "--run", str(run), "--index", f"treatment={run / 'index'}", "--n-boot", str(cfg.n_boot)],
            [run / "reports"],
        ),
    ]
    if has_truth(data) or cfg.data is None:
        rankings = run / "reports" / "rankings"
        stages += [
            Stage(
                "ab_simulate",
                ["ab", "simulate", "--data", str(data), "--control", str(rankings / "control.parquet"), "--treatment", str(rankings / "treatment.parquet"), "--out", str(run / "ab")],
                [run / "ab"],
            ),
            Stage(
                "ab_analyze",
                [
                    "ab", "analyze", "--log", str(run / "ab" / "events.parquet"), "--metrics", ",".join(AB_METRICS), "--ratio", "responses/views",
                    "--covariate", "responses=pre_responses", "--out", str(run / "ab" / "ab_report"),
                ],
                [run / "ab" / "ab_report"],
            ),
        ]
    return stages


def _marker(cfg: DemoConfig, stage: Stage) -> Path:
    return cfg.out / DONE_DIR / f"{stage.name}.json"


def reusable(cfg: DemoConfig, stage: Stage) -> bool:
    """A finished stage with the same argv whose outputs are all present."""
    marker = _marker(cfg, stage)
    if not marker.is_file():
        return False
    try:
        done = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return done.get("argv") == stage.argv and all(p.exists() for p in stage.outputs)


def _clear(cfg: DemoConfig, stage: Stage) -> None:
    """Remove a stage's outputs (only paths inside the run directory) and its marker before it reruns."""
    _marker(cfg, stage).unlink(missing_ok=True)
    run = cfg.out.resolve()
    for p in stage.outputs:
        if not p.resolve().is_relative_to(run) or p.resolve() == run:
            continue
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def run_stage(stage: Stage) -> None:
    """Run one `jobmatch` command in this process; a non-zero exit becomes a JobmatchError naming the stage."""
    from pipelines.cli import main

    rc = main(stage.argv)
    if rc != 0:
        raise JobmatchError(f"stage {stage.name!r} failed (exit {rc}): jobmatch {' '.join(stage.argv)}; rerunning the demo resumes from this stage")


def run_demo(cfg: DemoConfig, log=None, stage_stdout=None) -> dict[str, Any]:
    """Run (or reuse) every stage, then return {config, stages, summary, versions}.

    Stage headers go to `log` (default: stderr); the commands' own output goes to
    `stage_stdout` (default: stdout), so `--json` can keep stdout for the result.
    """
    log = log or sys.stderr
    if cfg.data is not None and not (cfg.data / "vacancies.parquet").is_file():
        raise JobmatchError(f"{cfg.data}: no vacancies.parquet; --data takes a dataset folder in the contract (see `jobmatch validate`)")
    cfg.out.mkdir(parents=True, exist_ok=True)
    stages = plan(cfg)
    timings, rerun_before = [], cfg.force
    t0 = time.perf_counter()
    for i, stage in enumerate(stages, 1):
        head = f"[{i}/{len(stages)}] {stage.name}"
        if not rerun_before and reusable(cfg, stage):
            print(f"{head}: reused (finished earlier; --force reruns)", file=log, flush=True)
            timings.append({"stage": stage.name, "seconds": 0.0, "reused": True})
            continue
        print(f"{head}: jobmatch {' '.join(stage.argv)}", file=log, flush=True)
        _clear(cfg, stage)
        start = time.perf_counter()
        with contextlib.redirect_stdout(stage_stdout) if stage_stdout is not None else contextlib.nullcontext():
            run_stage(stage)
        seconds = time.perf_counter() - start
        write_json(_marker(cfg, stage), {"argv": stage.argv, "seconds": seconds, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
        print(f"{head}: done in {seconds:.0f} s", file=log, flush=True)
        timings.append({"stage": stage.name, "seconds": round(seconds, 1), "reused": False})
        rerun_before = True
    cfg_out = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    result = {"config": cfg_out, "stages": timings, "seconds": round(time.perf_counter() - t0, 1), "summary": summary(cfg), "versions": versions()}
    write_json(cfg.out / "demo.json", result)
    return result


def _ci(d: dict[str, Any]) -> list[float]:
    return [d["ci_low"], d["ci_high"]]


def summary(cfg: DemoConfig) -> dict[str, Any]:
    """The results table from RUN/reports/eval.json and RUN/ab/{truth.json, ab_report/result.json}."""
    run = cfg.out
    ev = json.loads((run / "reports" / "eval.json").read_text())
    metrics = [m for m in SUMMARY_METRICS if m in ev["metric_names"]]
    arms = {}
    for name, a in ev["arms"].items():
        row = {m: {"mean": a["metrics"][m]["mean"], "ci": _ci(a["metrics"][m])} for m in metrics}
        diff = ev["vs_control"].get(name, {})
        row["vs_control"] = {m: {"diff": diff[m]["diff"], "ci": _ci(diff[m])} for m in metrics if m in diff}
        arms[name] = row
    out: dict[str, Any] = {
        "dataset": ev["dataset"],
        "n_vacancies": ev["n_vacancies"],
        "n_held_out_resumes": ev["n_users_with_positives"],
        "arms": arms,
        "gap_recovered": {m: {"fraction": g.get("fraction"), "ci": [g.get("ci_low"), g.get("ci_high")]} for m, g in ev.get("gap_recovered", {}).items()},
        "reports": {"evaluation": str(run / "reports" / "eval.html")},
    }
    ab_result = run / "ab" / "ab_report" / "result.json"
    if ab_result.is_file():
        ab, truth = json.loads(ab_result.read_text()), json.loads((run / "ab" / "truth.json").read_text())
        out["ab"] = {
            "n_users": truth["n_users"],
            "srm_p_value": ab["srm"]["p_value"],
            "metrics": {
                m: {
                    "measured": r["diff"],
                    "ci": _ci(r["delta"] if r["kind"] == "ratio" else r["welch"]),
                    "true": truth["metrics"].get(m, {}).get("ate"),
                    "p_holm": r.get("p_holm"),
                }
                for m, r in ab["metrics"].items()
            },
        }
        out["reports"]["ab"] = str(run / "ab" / "ab_report" / "report.html")
    return out


def format_summary(s: dict[str, Any]) -> str:
    """The printed results table of `jobmatch demo`."""
    from pipelines.report import _label, fixed_width

    metrics = [m for m in SUMMARY_METRICS if m in next(iter(s["arms"].values()))]
    head = "recall@100" if "recall@100" in metrics else metrics[0]
    header = ["arm", *(_label(m) for m in metrics), f"{_label(head)} 95% CI", "diff vs control [95% CI]"]
    rows = []
    for name, a in s["arms"].items():
        d = a["vs_control"].get(head)
        lo, hi = a[head]["ci"]
        rows.append([name, *(f"{a[m]['mean']:.4f}" for m in metrics), f"[{lo:.4f}, {hi:.4f}]", f"{d['diff']:+.4f} [{d['ci'][0]:+.4f}, {d['ci'][1]:+.4f}]" if d else "(control)"])
    lines = [
        f"offline evaluation: {s['n_held_out_resumes']} held-out resumes, each ranking all {s['n_vacancies']} vacancies ({s['dataset']})",
        *fixed_width(header, rows),
    ]
    gap = s["gap_recovered"].get(head)
    if gap and gap["fraction"] is not None:
        lo, hi = gap["ci"]
        lines.append(f"summaries recover {gap['fraction']:.0%} [{lo:.0%}, {hi:.0%}] of the control->teacher gap in {_label(head)}")
    if "ab" in s:
        ab = s["ab"]
        lines += ["", f"A/B replay, control vs treatment rankings: {ab['n_users']} users, SRM p = {ab['srm_p_value']:.3f}"]
        for m, r in ab["metrics"].items():
            true = f"{r['true']:+.4f}" if r["true"] is not None else "n/a"
            lines.append(f"  {m:<16} measured {r['measured']:+.4f} [{r['ci'][0]:+.4f}, {r['ci'][1]:+.4f}]   true {true}")
    lines += ["", *(f"{k} report: {v}" for k, v in s["reports"].items())]
    return "\n".join(lines)

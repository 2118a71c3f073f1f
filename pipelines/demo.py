"""The end-to-end demo: every stage of the system, each one the typed stage function its `jobmatch` command calls.

    synth -> validate -> tokenizer -> teacher -> label -> summarizer -> summarize (LR, TextRank)
          -> production DSSM on summaries + control DSSM on first-300 -> index -> evaluate
          -> A/B replay (simulate) -> A/B analysis

`plan` lists the stages: a name, the stage function, the arguments it is called with (typed
configs and paths) and the outputs it writes. A finished stage leaves `RUN/.done/<stage>.json`
(its call, seconds); a rerun reuses a stage whose marker records the same call and whose
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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from dssm.errors import JobmatchError
from dssm.io import check_output, config_to_dict, load_config, versions, write_json
from dssm.tokenizer import TokenizerConfig
from dssm.checks import at_least, check_numbers
from pipelines.data.contract import validate_dir
from pipelines.data.synth.build import synthesize
from pipelines.data.synth.config import SynthConfig
from pipelines.evaluation.ab.analysis import ABConfig, analyze_log
from pipelines.evaluation.ab.simulate import SimConfig, replay
from pipelines.evaluation.evaluate import EvalConfig, run_evaluation
from pipelines.evaluation.report import SUMMARY_METRICS, fixed_width, metric_label
from pipelines.retrieval.index import IndexConfig
from pipelines.retrieval.refresh import build_embedding_index
from pipelines.training.dssm import train
from pipelines.training.labels import label
from pipelines.training.summarizer import SummarizeConfig, summarize, train_summarizer
from pipelines.training.tokenizer import train_tokenizer
from summarizer.config import CONFIG_DIR, LabelRule, SummarizerConfig

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
        check_numbers(self)
        at_least(self, 0, "seed")
        at_least(self, 6, "vocab_size")
        if self.vacancies < 10 or self.resumes < 10:
            raise ValueError(f"the synthetic market needs at least 10 vacancies and 10 resumes, got {self.vacancies} and {self.resumes}")
        if self.n_boot < 100:
            raise ValueError(f"n_boot must be >= 100, got {self.n_boot}")


@dataclass(frozen=True)
class Stage:
    """One stage of the demo: `fn(**kwargs)` and the paths it produces."""

    name: str
    fn: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    outputs: list[Path] = field(default_factory=list)

    @property
    def call(self) -> dict[str, Any]:
        """The call as JSON: function and arguments (configs as dicts, paths as strings); what reuse compares."""
        def plain(v: Any) -> Any:
            return config_to_dict(v) if is_dataclass(v) else str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v

        return json.loads(json.dumps({"fn": f"{self.fn.__module__}.{self.fn.__qualname__}", "kwargs": {k: plain(v) for k, v in self.kwargs.items()}}, default=str))


def market_dir(cfg: DemoConfig) -> Path:
    return cfg.data if cfg.data is not None else cfg.out / "market"


def has_truth(data: Path) -> bool:
    """True for a market written by `jobmatch synth` (its hidden utility drives the A/B replay)."""
    return (data / "truth" / "config.yaml").is_file()


def plan(cfg: DemoConfig) -> list[Stage]:
    """The demo's stages in order."""
    run, data = cfg.out, market_dir(cfg)
    tok, labels, rankings = run / "tokenizer", run / "labels.parquet", run / "reports" / "rankings"
    stages = []
    if cfg.data is None:
        synth_cfg = SynthConfig(n_vacancies=cfg.vacancies, n_resumes=cfg.resumes, seed=cfg.seed)
        stages.append(Stage("synth", synthesize, {"cfg": synth_cfg, "out": data}, [data]))
    stages += [
        Stage("validate", validate_dir, {"root": data}),
        Stage("tokenizer", train_tokenizer, {"cfg": TokenizerConfig(vocab_size=cfg.vocab_size), "data": data, "out": tok}, [tok]),
        Stage("teacher", train, {"data": data, "config": cfg.teacher, "out": run / "teacher", "tokenizer_dir": tok}, [run / "teacher"]),
        Stage("label", label, {"rule": load_config(LabelRule, CONFIG_DIR / "labels.yaml"), "teacher": run / "teacher", "data": data, "out": labels,
                                  "allow_truncation": True}, [labels]),
        Stage("summarizer", train_summarizer, {"cfg": load_config(SummarizerConfig, CONFIG_DIR / "default.yaml"), "labels": labels, "data": data,
                                               "tokenizer": tok, "out": run / "summarizer"}, [run / "summarizer"]),
        Stage("summarize", summarize, {"cfg": SummarizeConfig(), "data": data, "out": run / "summaries", "summarizer_dir": run / "summarizer"}, [run / "summaries"]),
        Stage("summarize_textrank", summarize, {"cfg": SummarizeConfig(method="textrank"), "data": data, "out": run / "summaries_textrank", "tokenizer_dir": tok},
              [run / "summaries_textrank"]),
        Stage("production", train, {"data": run / "summaries", "config": cfg.production, "out": run / "production", "tokenizer_dir": tok}, [run / "production"]),
        Stage("control", train, {"data": data, "config": cfg.production, "out": run / "control", "tokenizer_dir": tok}, [run / "control"]),
        Stage("index", build_embedding_index, {"cfg": IndexConfig(), "model_dir": run / "production", "data": data, "out": run / "index",
                                             "summarizer_dir": run / "summarizer"}, [run / "index"]),
        Stage("evaluate", run_evaluation, {"cfg": EvalConfig(n_boot=cfg.n_boot), "data": data, "run": run, "index": {"treatment": run / "index"}}, [run / "reports"]),
    ]
    if has_truth(data) or cfg.data is None:
        stages += [
            Stage("ab_simulate", replay, {"cfg": SimConfig(), "data": data, "control": rankings / "control.parquet", "treatment": rankings / "treatment.parquet",
                                          "out": run / "ab"}, [run / "ab"]),
            Stage("ab_analyze", analyze_log, {"cfg": ABConfig(), "log_path": run / "ab" / "events.parquet", "metrics": AB_METRICS, "ratios": ("responses/views",),
                                              "covariates": {"responses": "pre_responses"}, "out": run / "ab" / "ab_report"}, [run / "ab" / "ab_report"]),
        ]
    return stages


def _marker(cfg: DemoConfig, stage: Stage) -> Path:
    return cfg.out / DONE_DIR / f"{stage.name}.json"


def reusable(cfg: DemoConfig, stage: Stage) -> bool:
    """A finished stage with the same call whose outputs are all present."""
    marker = _marker(cfg, stage)
    if not marker.is_file():
        return False
    try:
        done = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return done.get("call") == stage.call and all(p.exists() for p in stage.outputs)


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


def run_stage(stage: Stage) -> Any:
    """Call one stage function; a JobmatchError names the stage and says a rerun resumes there."""
    try:
        return stage.fn(**stage.kwargs)
    except JobmatchError as e:
        raise JobmatchError(f"stage {stage.name!r} failed: {e}; rerunning the demo resumes from this stage") from e


def run_demo(cfg: DemoConfig, log=None, stage_stdout=None) -> dict[str, Any]:
    """Run (or reuse) every stage, then return {config, stages, summary, versions}.

    Stage headers go to `log` (default: stderr); the commands' own output goes to
    `stage_stdout` (default: stdout), so `--json` can keep stdout for the result.
    """
    log = log or sys.stderr
    if cfg.data is not None and not (cfg.data / "vacancies.parquet").is_file():
        raise JobmatchError(f"{cfg.data}: no vacancies.parquet; --data takes a dataset folder in the contract (see `jobmatch validate`)")
    stages = plan(cfg)
    if cfg.data is not None:  # a rerun clears a stage's outputs first: --data must not be one of them, nor hold one
        for stage in stages:
            for path in stage.outputs:
                check_output(path, [cfg.data], force=True)
    cfg.out.mkdir(parents=True, exist_ok=True)
    timings, rerun_before = [], cfg.force
    t0 = time.perf_counter()
    for i, stage in enumerate(stages, 1):
        head = f"[{i}/{len(stages)}] {stage.name}"
        if not rerun_before and reusable(cfg, stage):
            print(f"{head}: reused (finished earlier; --force reruns)", file=log, flush=True)
            timings.append({"stage": stage.name, "seconds": 0.0, "reused": True})
            continue
        print(f"{head}: {stage.call['fn']}", file=log, flush=True)
        _clear(cfg, stage)
        start = time.perf_counter()
        with contextlib.redirect_stdout(stage_stdout) if stage_stdout is not None else contextlib.nullcontext():
            run_stage(stage)
        seconds = time.perf_counter() - start
        write_json(_marker(cfg, stage), {"call": stage.call, "seconds": seconds, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
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
    metrics = [m for m in SUMMARY_METRICS if m in next(iter(s["arms"].values()))]
    head = "recall@100" if "recall@100" in metrics else metrics[0]
    header = ["arm", *(metric_label(m) for m in metrics), f"{metric_label(head)} 95% CI", "diff vs control [95% CI]"]
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
        lines.append(f"summaries recover {gap['fraction']:.0%} [{lo:.0%}, {hi:.0%}] of the control->teacher gap in {metric_label(head)}")
    if "ab" in s:
        ab = s["ab"]
        lines += ["", f"A/B replay, control vs treatment rankings: {ab['n_users']} users, SRM p = {ab['srm_p_value']:.3f}"]
        for m, r in ab["metrics"].items():
            true = f"{r['true']:+.4f}" if r["true"] is not None else "n/a"
            lines.append(f"  {m:<16} measured {r['measured']:+.4f} [{r['ci'][0]:+.4f}, {r['ci'][1]:+.4f}]   true {true}")
    lines += ["", *(f"{k} report: {v}" for k, v in s["reports"].items())]
    return "\n".join(lines)

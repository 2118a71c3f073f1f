"""The end-to-end demo: every stage of the system, each one the typed stage function its `jobmatch` command calls.

    synth -> validate -> tokenizer -> [summaries every seed shares: TextRank, the ground-truth oracle]
          -> per training seed: matched teacher, labeller -> label -> summarizer -> summarize (LR)
             -> production DSSM on the summaries, control DSSM on the first 300 tokens, [the same DSSM
                on the TextRank and on the oracle summaries] -> index -> evaluate
          -> A/B replay (simulate, first seed) -> A/B analysis -> pool (several seeds)

The bracketed arms are `--textrank` and `--oracle` (off by default, so `make demo` fits 15 minutes
on 2 cores). The arms differ only in what they read: the control, the production model (treatment),
the TextRank and oracle arms and the teacher are the same preset with the same training seed, split,
epochs and early stopping; the teacher reads whole documents (`demo_teacher` = `demo` with
max_len 3000). The sentence labels come from a separate labeller (`demo_labeller`: a teacher whose
attention is a learned salience per token, so attention summed per sentence follows the words)
under `summarizer/configs/labels.yaml` (the sentences with the top 10% of attention density): the
default recipe, chosen on development figures (README, "One distillation recipe").

`plan` lists the stages: a name, the stage function, the arguments it is called with (typed
configs and paths) and the outputs it writes. A finished stage leaves `RUN/.done/<stage>.json`
(its call, seconds); a rerun reuses a stage whose marker records the same call and whose
outputs exist, unless an earlier stage was just rerun (its inputs changed) or `force`.
A stage that is rerun first removes its own outputs inside RUN (never the input data).
The first seed's models live in RUN, every further seed's in RUN/seed<S>, so a one-seed run
extended with `--seeds 0 1 2` reuses the first seed's models.

`summary(run)` reads the evaluation (one seed) or the pooled evaluation (RUN/pooled.json:
per-resume values averaged over the seeds, paired bootstrap over resumes) and the A/B results
and returns the results table: Recall/nDCG per arm with 95% CIs, differences vs the first-300
control, the share of the control->teacher gap the summaries recover, and the A/B replay's
measured effects next to the simulator's true effects.

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
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from dssm.errors import JobmatchError
from dssm.config import ModelConfig, load_model_config
from dssm.io import check_output, load_config, versions, write_json
from dssm.tokenizer import TokenizerConfig
from dssm.checks import at_least, check_numbers
from pipelines.data.contract import validate_dir
from pipelines.data.synth.build import synthesize
from pipelines.data.synth.config import SynthConfig
from pipelines.evaluation.ab.analysis import ABConfig, analyze_log
from pipelines.evaluation.ab.simulate import SimConfig, replay
from pipelines.evaluation.arms import ArmSpec
from pipelines.evaluation.evaluate import EvalConfig, run_evaluation
from pipelines.evaluation.seeds import pool_reports
from pipelines.evaluation.report import SUMMARY_METRICS, fixed_width, metric_label
from pipelines.retrieval.index import IndexConfig
from pipelines.retrieval.refresh import build_embedding_index
from pipelines.training.dssm import train
from pipelines.training.labels import label
from pipelines.training.summarizer import SummarizeConfig, summarize, train_summarizer
from pipelines.training.tokenizer import train_tokenizer
from summarizer.config import CONFIG_DIR, LabelRule, SummarizerConfig

DONE_DIR = ".done"
POOLED_FILE = "pooled.json"
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
    resumes: int = 2500
    """Synthetic resumes (only without `data`)."""
    seed: int = 0
    """Seed of the synthetic market."""
    vocab_size: int = 16000
    """BPE vocabulary (the tokenizer stops earlier when the corpus has fewer useful merges)."""
    production: str = "demo"
    """DSSM preset or YAML of the production and control models (300 tokens)."""
    teacher: str = "demo_teacher"
    """DSSM preset or YAML of the long-context teacher arm (matched: the production preset reading whole documents)."""
    labeller: str | None = "demo_labeller"
    """DSSM preset or YAML of the teacher whose attention labels the sentences (not an arm); None = the teacher arm itself."""
    label_rule: Path = CONFIG_DIR / "labels.yaml"
    """LabelRule YAML: how the labeller's attention becomes sentence labels."""
    seeds: tuple[int, ...] = (0,)
    """Training seeds: every model (teachers, summarizer, production, control, oracle) is trained once per seed,
    into OUT (the first seed) or OUT/seed<S>; the results are pooled over the seeds (same held-out resumes)."""
    split_seed: int = 0
    """Seed of the held-out resume split, the same for every training seed and every model."""
    val_fraction: float | None = None
    """Share of resumes (with a positive event) held out for validation and evaluation; None = the presets' own."""
    textrank: bool = False
    """Also train the TextRank arm: the production preset on TextRank-300 summaries."""
    oracle: bool = False
    """Also train the oracle arm (the production preset on ground-truth summaries) when the market has ground truth."""
    n_boot: int = 1000
    """Bootstrap resamples of the evaluation CIs."""
    force: bool = False
    """Rerun every stage even when a finished one could be reused."""

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.data = Path(self.data) if self.data is not None else None
        self.label_rule = Path(self.label_rule)
        self.seeds = tuple(self.seeds)
        check_numbers(self)
        at_least(self, 0, "seed", "split_seed")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or not all(isinstance(x, int) and x >= 0 for x in self.seeds):
            raise ValueError(f"seeds must be distinct integers >= 0, got {self.seeds}")
        if self.val_fraction is not None and not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
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
        return json.loads(json.dumps({"fn": f"{self.fn.__module__}.{self.fn.__qualname__}", "kwargs": plain(self.kwargs)}, default=str))


def plain(v: Any) -> Any:
    """`v` as JSON-ready values: dataclasses as dicts, paths as strings, tuples as lists, recursively."""
    if is_dataclass(v) and not isinstance(v, type):
        return {f.name: plain(getattr(v, f.name)) for f in fields(v)}
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (tuple, list)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    return v


def market_dir(cfg: DemoConfig) -> Path:
    return cfg.data if cfg.data is not None else cfg.out / "market"


def has_truth(data: Path) -> bool:
    """True for a market written by `jobmatch synth` (its hidden utility drives the A/B replay)."""
    return (data / "truth" / "config.yaml").is_file()


def seed_dir(cfg: DemoConfig, seed: int) -> Path:
    """Where the models of one training seed go: OUT itself for the first seed, OUT/seed<S> for the others
    (so a one-seed run extended by more seeds reuses its models)."""
    return cfg.out if seed == cfg.seeds[0] else cfg.out / f"seed{seed}"


def model_config(preset: str, cfg: DemoConfig, seed: int) -> ModelConfig:
    """`preset` with the training seed, the shared split seed and (when given) the held-out share of the run."""
    mc = load_model_config(preset)
    train_cfg = replace(mc.train, seed=seed, split_seed=cfg.split_seed, **({} if cfg.val_fraction is None else {"val_fraction": cfg.val_fraction}))
    return replace(mc, train=train_cfg)


def eval_arms(cfg: DemoConfig, run: Path, oracle: bool) -> dict[str, ArmSpec]:
    """The arms one seed's evaluation ranks: the DSSMs of `run` (each on what it was trained to read) and the baselines."""
    arms = {
        "control": ArmSpec("dssm", model_dir=run / "control"),
        "treatment": ArmSpec("dssm", model_dir=run / "production", corpus_dir=run / "summaries", index_dir=run / "index"),
        "teacher": ArmSpec("dssm", model_dir=run / "teacher"),
    }
    if cfg.textrank:
        arms["textrank"] = ArmSpec("dssm", model_dir=run / "textrank", corpus_dir=cfg.out / "summaries_textrank")
    if oracle:
        arms["oracle"] = ArmSpec("dssm", model_dir=run / "oracle", corpus_dir=cfg.out / "summaries_oracle")
    return {**arms, "tfidf": ArmSpec("tfidf"), "popularity": ArmSpec("popularity")}


def plan(cfg: DemoConfig) -> list[Stage]:
    """The demo's stages in order: the market and what every seed shares, then each seed's models and evaluation."""
    out, data = cfg.out, market_dir(cfg)
    tok = out / "tokenizer"
    truth = has_truth(data) or cfg.data is None
    oracle = cfg.oracle and truth
    stages = []
    if cfg.data is None:
        synth_cfg = SynthConfig(n_vacancies=cfg.vacancies, n_resumes=cfg.resumes, seed=cfg.seed)
        stages.append(Stage("synth", synthesize, {"cfg": synth_cfg, "out": data}, [data]))
    stages += [
        Stage("validate", validate_dir, {"root": data}),
        Stage("tokenizer", train_tokenizer, {"cfg": TokenizerConfig(vocab_size=cfg.vocab_size), "data": data, "out": tok}, [tok]),
    ]
    if cfg.textrank:
        stages.append(Stage("summarize_textrank", summarize, {"cfg": SummarizeConfig(method="textrank"), "data": data, "out": out / "summaries_textrank",
                                                              "tokenizer_dir": tok}, [out / "summaries_textrank"]))
    if oracle:
        stages.append(Stage("summarize_oracle", summarize, {"cfg": SummarizeConfig(method="oracle"), "data": data, "out": out / "summaries_oracle",
                                                            "tokenizer_dir": tok}, [out / "summaries_oracle"]))
    rule = load_config(LabelRule, cfg.label_rule)
    for seed in cfg.seeds:
        run = seed_dir(cfg, seed)
        tag = "" if seed == cfg.seeds[0] else f"seed{seed}."
        labeller = run / ("labeller" if cfg.labeller else "teacher")
        summ_cfg = replace(load_config(SummarizerConfig, CONFIG_DIR / "default.yaml"), seed=seed)
        fit = lambda name, what, preset=cfg.production: Stage(f"{tag}{name}", train, {"data": what, "config": model_config(preset, cfg, seed),  # noqa: E731
                                                                                      "out": run / name, "tokenizer_dir": tok}, [run / name])
        stages.append(fit("teacher", data, cfg.teacher))
        if cfg.labeller:
            stages.append(fit("labeller", data, cfg.labeller))
        stages += [
            Stage(f"{tag}label", label, {"rule": rule, "teacher": labeller, "data": data, "out": run / "labels.parquet", "allow_truncation": True},
                  [run / "labels.parquet"]),
            Stage(f"{tag}summarizer", train_summarizer, {"cfg": summ_cfg, "labels": run / "labels.parquet", "data": data, "tokenizer": tok,
                                                         "out": run / "summarizer"}, [run / "summarizer"]),
            Stage(f"{tag}summarize", summarize, {"cfg": SummarizeConfig(), "data": data, "out": run / "summaries", "summarizer_dir": run / "summarizer"},
                  [run / "summaries"]),
            fit("production", run / "summaries"),
            fit("control", data),
        ]
        if cfg.textrank:
            stages.append(fit("textrank", out / "summaries_textrank"))
        if oracle:
            stages.append(fit("oracle", out / "summaries_oracle"))
        stages += [
            Stage(f"{tag}index", build_embedding_index, {"cfg": IndexConfig(), "model_dir": run / "production", "data": data, "out": run / "index",
                                                         "summarizer_dir": run / "summarizer"}, [run / "index"]),
            Stage(f"{tag}evaluate", run_evaluation, {"cfg": EvalConfig(n_boot=cfg.n_boot), "data": data, "arms": eval_arms(cfg, run, oracle),
                                                     "run": run}, [run / "reports"]),
        ]
    first = seed_dir(cfg, cfg.seeds[0])
    rankings = first / "reports" / "rankings"
    if truth:
        stages += [
            Stage("ab_simulate", replay, {"cfg": SimConfig(), "data": data, "control": rankings / "control.parquet", "treatment": rankings / "treatment.parquet",
                                          "out": first / "ab"}, [first / "ab"]),
            Stage("ab_analyze", analyze_log, {"cfg": ABConfig(), "log_path": first / "ab" / "events.parquet", "metrics": AB_METRICS, "ratios": ("responses/views",),
                                              "covariates": {"responses": "pre_responses"}, "out": first / "ab" / "ab_report"}, [first / "ab" / "ab_report"]),
        ]
    if len(cfg.seeds) > 1:
        stages.append(Stage("pool", pool_run, {"run": out, "seeds": cfg.seeds, "n_boot": cfg.n_boot}, [out / POOLED_FILE]))
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


def pool_run(run: Path, seeds: tuple[int, ...], n_boot: int) -> dict[str, Any]:
    """Stage `pool`: every seed's per-user figures (its reports/per_user.parquet) pooled into OUT/pooled.json."""
    pooled = pool_reports([(run if s == seeds[0] else run / f"seed{s}") / "reports" for s in seeds], n_boot=n_boot)
    pooled["seeds"] = [int(s) for s in seeds]
    write_json(run / POOLED_FILE, pooled)
    return pooled


def _pooled_summary(cfg: DemoConfig) -> dict[str, Any]:
    """The results table's rows from OUT/pooled.json: means over seeds, paired CIs over resumes, per-seed differences."""
    p = json.loads((cfg.out / POOLED_FILE).read_text())
    arms = {}
    for name, a in p["arms"].items():
        row: dict[str, Any] = {m: {"mean": v["mean"], "ci": _ci(v), "per_seed": v["per_seed"]} for m, v in a["metrics"].items()}
        if name in p["gauc"]:
            row["gauc"] = {"mean": sum(p["gauc"][name]) / len(p["gauc"][name]), "ci": None, "per_seed": p["gauc"][name]}
        row["vs_control"] = {m: {"diff": d["diff"], "ci": _ci(d), "per_seed": d["per_seed"]} for m, d in a["vs_control"].items()}
        arms[name] = row
    return {"dataset": p["dataset"], "n_vacancies": p["n_vacancies"], "n_held_out_resumes": p["n_users"], "seeds": p["seeds"], "arms": arms,
            "gap_recovered": {m: {"fraction": g.get("fraction"), "ci": [g.get("ci_low"), g.get("ci_high")]} for m, g in p["gap_recovered"].items()}}


def summary(cfg: DemoConfig) -> dict[str, Any]:
    """The results table from the evaluation (one seed: RUN/reports/eval.json; several: RUN/pooled.json)
    and the first seed's A/B replay (its ab/truth.json and ab/ab_report/result.json)."""
    first = seed_dir(cfg, cfg.seeds[0])
    if len(cfg.seeds) > 1:
        out = _pooled_summary(cfg)
    else:
        ev = json.loads((first / "reports" / "eval.json").read_text())
        metrics = [m for m in SUMMARY_METRICS if m in ev["metric_names"]]
        arms = {}
        for name, a in ev["arms"].items():
            row = {m: {"mean": a["metrics"][m]["mean"], "ci": _ci(a["metrics"][m])} for m in metrics}
            diff = ev["vs_control"].get(name, {})
            row["vs_control"] = {m: {"diff": diff[m]["diff"], "ci": _ci(diff[m])} for m in metrics if m in diff}
            arms[name] = row
        out = {
            "dataset": ev["dataset"],
            "n_vacancies": ev["n_vacancies"],
            "n_held_out_resumes": ev["n_users_with_positives"],
            "seeds": list(cfg.seeds),
            "arms": arms,
            "gap_recovered": {m: {"fraction": g.get("fraction"), "ci": [g.get("ci_low"), g.get("ci_high")]} for m, g in ev.get("gap_recovered", {}).items()},
        }
    out["reports"] = {"evaluation": str(first / "reports" / "eval.html")}
    ab_result = first / "ab" / "ab_report" / "result.json"
    if ab_result.is_file():
        ab, truth = json.loads(ab_result.read_text()), json.loads((first / "ab" / "truth.json").read_text())
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
        out["reports"]["ab"] = str(first / "ab" / "ab_report" / "report.html")
    return out


def format_summary(s: dict[str, Any]) -> str:
    """The printed results table of `jobmatch demo` (pooled over the seeds, with each seed's difference, when there are several)."""
    metrics = [m for m in SUMMARY_METRICS if m in next(iter(s["arms"].values()))]
    head = "recall@100" if "recall@100" in metrics else metrics[0]
    seeds = s.get("seeds", [0])
    pooled = len(seeds) > 1
    header = ["arm", *(metric_label(m) for m in metrics), f"{metric_label(head)} 95% CI", "diff vs control [95% CI]"]
    if pooled:
        header.append("diff per seed (" + " / ".join(map(str, seeds)) + ")")
    rows = []
    for name, a in s["arms"].items():
        d = a["vs_control"].get(head)
        lo, hi = a[head]["ci"]
        row = [name, *(f"{a[m]['mean']:.4f}" for m in metrics), f"[{lo:.4f}, {hi:.4f}]", f"{d['diff']:+.4f} [{d['ci'][0]:+.4f}, {d['ci'][1]:+.4f}]" if d else "(control)"]
        if pooled:
            row.append(" / ".join(f"{x:+.4f}" for x in d["per_seed"]) if d else "")
        rows.append(row)
    where = f"{len(seeds)} training seeds pooled (means over seeds; CIs resample resumes)" if pooled else f"seed {seeds[0]}"
    lines = [
        f"offline evaluation: {s['n_held_out_resumes']} held-out resumes, each ranking all {s['n_vacancies']} vacancies ({s['dataset']}); {where}",
        *fixed_width(header, rows),
    ]
    gap = s["gap_recovered"].get(head)
    teacher = s["arms"].get("teacher", {}).get("vs_control", {}).get(head)
    if teacher and teacher["ci"][0] <= 0:
        lines.append(f"the teacher's gain over the control in {metric_label(head)}, {teacher['diff']:+.4f} [{teacher['ci'][0]:+.4f}, {teacher['ci'][1]:+.4f}], "
                     "is not above 0: no gap for the summaries to recover")
    elif gap and gap["fraction"] is not None:
        lo, hi = gap["ci"]
        lines.append(f"summaries recover {gap['fraction']:.0%} [{lo:.0%}, {hi:.0%}] of the control->teacher gap in {metric_label(head)}")
    if "ab" in s:
        ab = s["ab"]
        lines += ["", f"A/B replay, control vs treatment rankings{f' (seed {seeds[0]})' if pooled else ''}: {ab['n_users']} users, SRM p = {ab['srm_p_value']:.3f}"]
        for m, r in ab["metrics"].items():
            true = f"{r['true']:+.4f}" if r["true"] is not None else "n/a"
            lines.append(f"  {m:<16} measured {r['measured']:+.4f} [{r['ci'][0]:+.4f}, {r['ci'][1]:+.4f}]   true {true}")
    lines += ["", *(f"{k} report: {v}" for k, v in s["reports"].items())]
    return "\n".join(lines)

"""Training orchestration: dataset -> tokenizer -> cached token stores -> split -> fit -> model dir.

`train(...)` is what `jobmatch train` runs. The model dir gets weights.safetensors,
config.yaml, features.json (see `dssm.model_io`), split.json (held-out resume ids,
so evaluation later uses the same resumes), train_metrics.json (val Recall@k per
epoch, pairs/s, epochs), Lightning's last.ckpt / best.ckpt (for --resume) and its CSV log
logs/metrics.csv (train loss, validation recall per epoch; a file, so CI=true stays quiet).

The run is built in `.OUT.partial` beside OUT and replaces OUT whole when it finishes, so a
killed run never leaves a half-written model under OUT; `--resume` continues a killed run
from `.OUT.partial/last.ckpt`, or a finished one from `OUT/last.ckpt`.

`--devices N --strategy ddp` trains in N spawned processes (CPU/gloo, or N GPUs) whose in-batch
candidates are gathered across processes (`dssm.lightning_module`); the parent reads the result
back from the checkpoints, so the model dir is the same as a one-process run's.

Skill bags: a config whose towers have `skill_dim > 0` (or `skill_match_dim > 0`) needs `--parsed DIR` (`jobmatch parse` of the same data);
each document's parsed skills are attached (`pipelines.artifacts.SkillSource`), the vocabulary is
fitted on the training documents (resumes: without the held-out ones), and the config records the parse folder so
encoding, refresh and serving read skills the same way.

Tokenizer: `--tokenizer DIR` uses an existing one; without it, `<out>/../tokenizer`
is used when present, else a tokenizer is trained there on all document texts
(vocab_size from the config) and reused by the next model of the run.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from dssm.batching import TokenStore
from dssm.config import ModelConfig, load_model_config
from dssm.errors import JobmatchError
from dssm.features import FeatureSpace
from dssm.io import check_output, quiet, replace_path, staging_dir, write_json
from dssm.model_io import build_model, check_checkpoint, save_model
from dssm.pairs import PairData, interaction_rows, split_resumes
from dssm.schema import RESUME_ID, VACANCY_ID
from pipelines.artifacts import SPLIT_FILE, read_split

if TYPE_CHECKING:
    from dssm.datamodule import TowerInputs

METRICS_FILE = "train_metrics.json"
LOG_DIR = "logs"
"""Lightning's CSV log in the model dir: logs/metrics.csv (train_loss per 10 steps and per epoch, val_recall per epoch)."""


def split_positives(inter: pd.DataFrame, val_rows: np.ndarray) -> list[np.ndarray]:
    """Positive vacancy rows of each held-out resume row (sorted, distinct)."""
    pos = inter[inter["positive"]].groupby("r")["v"].apply(lambda s: np.unique(s.to_numpy(np.int64)))
    return [pos.get(int(r), np.zeros(0, np.int64)) for r in val_rows]


def fit(
    cfg: ModelConfig,
    features: dict[str, FeatureSpace],
    vacancies: TowerInputs,
    resumes: TowerInputs,
    pairs: PairData,
    val_rows: np.ndarray,
    val_positives: list[np.ndarray],
    out: Path,
    resume: bool = False,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a TwoTower on prepared inputs, keep the best validation Recall@k, write the model dir; -> metrics."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from dssm.datamodule import PairDataModule
    from dssm.lightning_module import EPOCH_STATS, DSSMModule
    from dssm.trainer import lightning_output, progress_bar, strategy

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tc = cfg.train
    L.seed_everything(tc.seed, workers=True, verbose=False)
    model = build_model(cfg, features)
    hp = {"vocab_size": cfg.vacancy.vocab_size, "features": {k: {"categorical": list(f.categorical), "numeric": list(f.numeric)} for k, f in features.items()}, **(meta or {})}
    module = DSSMModule(model, tc, hp)
    dm = PairDataModule(vacancies, resumes, pairs, val_rows, val_positives, tc)
    ckpt_path = None
    if resume:
        ckpt_path = out / "last.ckpt"
        check_checkpoint(ckpt_path, model)
    best = ModelCheckpoint(dirpath=out, filename="best", monitor="val_recall", mode="max", enable_version_counter=False)
    # Lightning's save_last re-saves last.ckpt only in a step where the best one was saved: after a worse epoch it
    # held the best epoch, without the later epochs' statistics (and --resume restarted there). Its own callback
    # writes it after every training epoch instead.
    latest = ModelCheckpoint(dirpath=out, filename="last", monitor=None, save_top_k=1, save_on_train_epoch_end=True, enable_version_counter=False)
    t0 = time.perf_counter()
    with lightning_output():
        trainer = L.Trainer(
            max_epochs=tc.max_epochs,
            accelerator=tc.accelerator,
            devices=tc.devices,
            strategy=strategy(tc.strategy),
            logger=CSVLogger(save_dir=str(out), name="", version=LOG_DIR),
            log_every_n_steps=10,
            callbacks=[best, latest, EarlyStopping(monitor="val_recall", mode="max", patience=tc.patience), *progress_bar()],
            enable_progress_bar=not quiet(),
            enable_model_summary=False,
            num_sanity_val_steps=0,
            gradient_clip_val=tc.grad_clip or None,
            deterministic=False,
        )
        trainer.fit(module, datamodule=dm, ckpt_path=str(ckpt_path) if ckpt_path else None)
    wall = time.perf_counter() - t0
    if best.best_model_path:
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        model.load_state_dict({k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")})
    last = torch.load(out / "last.ckpt", map_location="cpu", weights_only=True)  # the epoch statistics of every rank-0 run, DDP's too
    stats = last.get(EPOCH_STATS, {})
    epochs = [stats[k] for k in sorted(stats)]
    speeds = [e["pairs_per_s"] for e in epochs if "pairs_per_s" in e]
    recalls = [e["val_recall"] for e in epochs if "val_recall" in e]
    metrics = {
        f"best_val_recall@{tc.recall_k}": max(recalls) if recalls else None,
        "epochs_run": int(last["epoch"]) + 1,
        "epochs": epochs,
        "pairs_per_s": float(np.mean(speeds)) if speeds else None,
        "train_pairs_per_epoch": dm.n_train_pairs,
        "val_resumes": len(val_rows),
        "fit_seconds": wall,
        "resumed": bool(resume),
    }
    save_model(out, model.eval(), cfg, features, meta={**(meta or {}), "train_metrics": {k: metrics[k] for k in ("epochs_run", "pairs_per_s")}})
    write_json(out / METRICS_FILE, metrics)
    return metrics


def load_or_train_tokenizer(data: Path, cfg: ModelConfig, out: Path, tokenizer_dir: Path | None):
    """-> (Tokenizer, its dir). See the module docstring for the rule."""
    from dssm.tokenizer import Tokenizer, TokenizerConfig
    from pipelines.training.tokenizer import train_tokenizer

    if tokenizer_dir is not None:
        return Tokenizer.load(tokenizer_dir), Path(tokenizer_dir)
    default = Path(out).parent / "tokenizer"
    if not default.exists():
        train_tokenizer(TokenizerConfig(vocab_size=cfg.vacancy.vocab_size, seed=cfg.train.seed), data, default)
    return Tokenizer.load(default), default


def _store(tok: Any, df: pd.DataFrame, kind: str, max_len: int) -> TokenStore:
    from dssm.text import frame_documents

    return TokenStore.from_documents(tok.encode_documents(frame_documents(df, kind)), max_len)


def train(
    data: str | Path,
    config: str | Path | ModelConfig,
    out: str | Path,
    tokenizer_dir: str | Path | None = None,
    resume: bool = False,
    max_epochs: int | None = None,
    force: bool = False,
    parsed: str | Path | None = None,
) -> dict[str, Any]:
    """Full run of `jobmatch train`: returns the metrics also written to train_metrics.json.

    An existing `out` is replaced only with `force` (or continued with `resume`); `parsed`: the skill bags' parse folder."""
    from dssm.datamodule import TowerInputs
    from pipelines.data.dataset import load_dataset, read_preprocess

    out = check_output(out, [data, tokenizer_dir, Path(out).parent / "tokenizer", parsed], force or resume)
    cfg = config if isinstance(config, ModelConfig) else load_model_config(config)
    if cfg.uses_skills != (parsed is not None):
        raise JobmatchError(f"--parsed: the config's towers {'read' if cfg.uses_skills else 'do not read'} skill bags (skill_dim, skill_match_dim), "
                            f"so a parse folder is {'required' if cfg.uses_skills else 'not used'}")
    if max_epochs is not None:
        cfg = replace(cfg, train=replace(cfg.train, max_epochs=max_epochs))
    ds = load_dataset(data)
    if ds.interactions is None or len(ds.interactions) == 0:
        raise JobmatchError(f"{data}: no interactions.parquet (training needs response/invite events)")
    skills_from = None
    if parsed is not None:
        from pipelines.artifacts import SkillSource

        source = SkillSource(parsed)
        ds.vacancies, ds.resumes, skills_from = source(ds.vacancies, "vacancies"), source(ds.resumes, "resumes"), source.tagger_hash
        cfg = replace(cfg, parsed=_relative(Path(parsed), out))
    tok, tok_dir = load_or_train_tokenizer(Path(data), cfg, out, Path(tokenizer_dir) if tokenizer_dir else None)
    vocab = int(tok.vocab_size)
    tok_ref = str(Path(tok_dir).resolve()) if Path(tok_dir).is_absolute() else _relative(Path(tok_dir), out)
    cfg = replace(cfg, vacancy=replace(cfg.vacancy, vocab_size=vocab), resume=replace(cfg.resume, vocab_size=vocab), tokenizer=tok_ref)

    vac_ids = pd.Index(ds.vacancies[VACANCY_ID].astype(str))
    res_ids = pd.Index(ds.resumes[RESUME_ID].astype(str))
    inter = interaction_rows(ds.interactions, vac_ids, res_ids)
    stage = _staging(out, resume)
    split_path = stage / SPLIT_FILE
    if resume and split_path.exists():
        held = np.array(read_split(stage), dtype=object)
    else:
        held = split_resumes(res_ids[np.unique(inter.loc[inter["positive"], "r"])].to_numpy(), cfg.train.val_fraction, cfg.train.held_out_seed)
    val_mask = res_ids.isin(held)
    val_rows = np.flatnonzero(val_mask)
    features = {
        kind: FeatureSpace.fit(df, t.categorical, t.numeric, t.bag_width, t.skill_min_count, skills_from)
        for kind, df, t in (("vacancies", ds.vacancies, cfg.vacancy), ("resumes", ds.resumes[~val_mask], cfg.resume))
    }
    t0 = time.perf_counter()
    vac = TowerInputs(_store(tok, ds.vacancies, "vacancies", cfg.vacancy.max_len), *features["vacancies"].transform(ds.vacancies))
    res = TowerInputs(_store(tok, ds.resumes, "resumes", cfg.resume.max_len), *features["resumes"].transform(ds.resumes))
    tokenize_s = time.perf_counter() - t0
    pairs = PairData.build(inter, len(res_ids), len(vac_ids), ~val_mask)
    write_json(split_path, {"kind": "user", "seed": cfg.train.held_out_seed, "val_fraction": cfg.train.val_fraction, "val_resume_ids": [str(x) for x in held]})
    metrics = fit(cfg, features, vac, res, pairs, val_rows, split_positives(inter, val_rows), stage, resume=resume, meta={"data": str(data), "tokenizer_hash": getattr(tok, "model_hash", None), "preprocess": read_preprocess(data)})
    metrics.update(
        tokenize_seconds=tokenize_s,
        mean_tokens={"vacancies": float(vac.tokens.lengths.mean()), "resumes": float(res.tokens.lengths.mean())},
        train_positive_pairs=int(len(pairs.pos)),
    )
    write_json(stage / METRICS_FILE, metrics)
    replace_path(stage, out)
    return metrics


def _staging(out: Path, resume: bool) -> Path:
    """The folder this run writes into (`staging_dir(out)`): fresh, or holding the checkpoint `resume` continues."""
    import shutil

    stage = staging_dir(out)
    if resume and (stage / "last.ckpt").is_file():
        return stage
    shutil.rmtree(stage, ignore_errors=True)
    if resume:
        if not (out / "last.ckpt").is_file():
            raise JobmatchError(f"--resume: neither {stage}/last.ckpt (a killed run) nor {out}/last.ckpt (a finished one) exists")
        shutil.copytree(out, stage)
    else:
        stage.mkdir(parents=True)
    return stage


def _relative(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(Path(target).resolve(), Path(start).resolve())

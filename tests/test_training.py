"""A tiny two-tower learns a known-answer toy market; resuming from a checkpoint works; pairs and split are sound."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from dssm.batching import TokenStore
from dssm.config import ModelConfig, TowerConfig, TrainConfig
from dssm.datamodule import PairCollator, TowerInputs
from dssm.errors import JobmatchError
from dssm.features import FeatureSpace
from dssm.pairs import PairData, interaction_rows, split_resumes
from pipelines.training.dssm import fit, split_positives

N_ROLES, VAC_PER_ROLE, RES_PER_ROLE = 4, 10, 15


def toy_market(seed: int = 0):
    """Role k's documents use tokens 4+5k..8+5k plus shared noise; resumes respond only within their role."""
    rng = np.random.default_rng(seed)

    def doc(role):
        n = rng.integers(5, 13)
        toks = np.where(rng.random(n) < 0.6, 4 + 5 * role + rng.integers(0, 5, n), 24 + rng.integers(0, 6, n))
        return toks.astype(np.int64), np.arange(n) // 4

    vac_role = np.repeat(np.arange(N_ROLES), VAC_PER_ROLE)
    res_role = np.repeat(np.arange(N_ROLES), RES_PER_ROLE)
    vacancies = pd.DataFrame({"vacancy_id": [f"v{i}" for i in range(len(vac_role))], "area": rng.choice(["a", "b"], len(vac_role))})
    resumes = pd.DataFrame({"resume_id": [f"r{i}" for i in range(len(res_role))], "area": rng.choice(["a", "b"], len(res_role))})
    rows = []
    for r, role in enumerate(res_role):
        for v in rng.choice(np.flatnonzero(vac_role == role), 3, replace=False):
            rows += [(f"r{r}", f"v{v}", "view"), (f"r{r}", f"v{v}", "response")]
        for v in rng.choice(np.flatnonzero(vac_role != role), 3, replace=False):
            rows.append((f"r{r}", f"v{v}", "view"))
    inter = pd.DataFrame(rows, columns=["resume_id", "vacancy_id", "event"])
    return vacancies, resumes, inter, [doc(k) for k in vac_role], [doc(k) for k in res_role]


def toy_config(**train) -> ModelConfig:
    t = dict(vocab_size=30, max_len=16, emb_dim=16, hidden=16, out_dim=16, cat_dim=2, mlp_hidden=16, dropout=0.0, categorical=("area",), numeric=())
    tc = dict(batch_size=32, lr=1e-2, max_epochs=12, temperature=0.1, hard_negatives=1, val_fraction=0.2, patience=12, recall_k=10, seed=0)
    return ModelConfig(vacancy=TowerConfig(**t), resume=TowerConfig(**t), train=TrainConfig(**{**tc, **train}))


def prepared(cfg: ModelConfig):
    vacancies, resumes, inter_df, vdocs, rdocs = toy_market()
    vac_ids, res_ids = pd.Index(vacancies["vacancy_id"]), pd.Index(resumes["resume_id"])
    inter = interaction_rows(inter_df, vac_ids, res_ids)
    held = split_resumes(res_ids.to_numpy(), cfg.train.val_fraction, cfg.train.seed)
    val_mask = res_ids.isin(held)
    val_rows = np.flatnonzero(val_mask)
    feats = {"vacancies": FeatureSpace.fit(vacancies, ("area",), ()), "resumes": FeatureSpace.fit(resumes[~val_mask], ("area",), ())}
    vac = TowerInputs(TokenStore.from_flat(vdocs), *feats["vacancies"].transform(vacancies))
    res = TowerInputs(TokenStore.from_flat(rdocs), *feats["resumes"].transform(resumes))
    pairs = PairData.build(inter, len(res_ids), len(vac_ids), ~val_mask)
    return cfg, feats, vac, res, pairs, val_rows, split_positives(inter, val_rows)


def test_tiny_tower_learns_the_toy_market(tmp_path):
    cfg, *rest = prepared(toy_config())
    metrics = fit(cfg, *rest, out=tmp_path / "m")
    # 3 positives among the 10 same-role vacancies: a perfect model has Recall@10 = 1, chance is 0.25.
    assert metrics["best_val_recall@10"] >= 0.8, metrics
    assert metrics["pairs_per_s"] > 0
    for name in ("weights.safetensors", "config.yaml", "features.json", "train_metrics.json", "last.ckpt"):
        assert (tmp_path / "m" / name).exists()


def test_training_under_ci_prints_no_lightning_chatter(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("CI", "true")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "split.json").write_text("{}")  # `jobmatch train` writes the split before fitting
    cfg, *rest = prepared(toy_config(max_epochs=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(cfg, *rest, out=tmp_path / "m")
    out = capfd.readouterr()
    said = out.out + out.err + "\n".join(str(w.message) for w in caught)
    for chatter in ("litlogger", "GPU available", "Checkpoint directory", "LeafSpec"):
        assert chatter not in said


def test_attention_lr_puts_the_attention_scorers_in_their_own_group():
    from dssm.lightning_module import DSSMModule
    from dssm.model_io import build_model

    cfg = toy_config()
    model = build_model(cfg, {k: FeatureSpace.fit(pd.DataFrame({"area": ["a"]}), ("area",), ()) for k in ("vacancies", "resumes")})
    assert len(DSSMModule(model, cfg.train).configure_optimizers().param_groups) == 1  # 0 = one rate for all
    groups = DSSMModule(model, TrainConfig(**{**cfg.train.__dict__, "attention_lr": 0.5})).configure_optimizers().param_groups
    scorers = {id(p) for t in (model.vacancy, model.resume) for p in t.score.parameters()}
    assert [g["lr"] for g in groups] == [cfg.train.lr, 0.5]
    assert {id(p) for p in groups[1]["params"]} == scorers
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    with pytest.raises(ValueError, match="attention_lr"):
        TrainConfig(attention_lr=-1)


def test_resume_from_checkpoint_and_mismatch(tmp_path):
    cfg, *rest = prepared(toy_config(max_epochs=1))
    first = fit(cfg, *rest, out=tmp_path / "m")
    cfg2, *rest2 = prepared(toy_config(max_epochs=2))
    metrics = fit(cfg2, *rest2, out=tmp_path / "m", resume=True)
    assert metrics["resumed"] and metrics["epochs_run"] == 2
    assert [e["epoch"] for e in metrics["epochs"]] == [0, 1]
    assert metrics["epochs"][0] == first["epochs"][0]  # epoch 0 came back from the checkpoint; only epoch 1 ran
    bigger = ModelConfig(
        vacancy=TowerConfig(**{**cfg.vacancy.__dict__, "vocab_size": 40}), resume=TowerConfig(**{**cfg.resume.__dict__, "vocab_size": 40}), train=cfg2.train
    )
    with pytest.raises(JobmatchError, match="vocabulary"):
        fit(bigger, *rest2, out=tmp_path / "m", resume=True)
    (tmp_path / "m" / "last.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(JobmatchError, match="corrupt"):
        fit(cfg2, *rest2, out=tmp_path / "m", resume=True)


def test_pairs_negatives_and_split_are_sound():
    cfg, feats, vac, res, pairs, val_rows, val_pos = prepared(toy_config(random_negatives=2))
    assert set(val_rows).isdisjoint(pairs.pos[:, 0])
    assert np.array_equal(split_resumes(np.array(["b", "a", "c", "d", "e"]), 0.4, 3), split_resumes(np.array(["e", "d", "c", "b", "a"]), 0.4, 3))
    rng = np.random.default_rng(0)
    r = pairs.pos[:, 0]
    hard = pairs.hard_negatives(rng, r, 4)
    assert (hard >= 0).all() and not pairs.is_positive(r[:, None], hard).any()
    batch = PairCollator(vac, res, pairs, cfg.train)(list(range(10)))
    tgt_vac = batch["cand_idx"][batch["target"]]
    assert batch["hit_mask"][np.arange(10), batch["target"]].all()
    assert batch["res_ids"].shape[0] == 10 and batch["neg_idx"].shape == (10, 3)
    assert batch["vac_ids"].shape[0] == len(np.unique(np.concatenate([tgt_vac.numpy(), batch["neg_idx"][batch["neg_mask"]].numpy()])))
    assert json.dumps(pairs.log_q.tolist())  # finite, serialisable


def test_training_writes_lightnings_csv_log_into_the_model_dir(tiny_run):
    """logs/metrics.csv: the training loss and the validation recall of every epoch run (Lightning's CSVLogger)."""
    import json

    import pandas as pd

    log = pd.read_csv(tiny_run["production"] / "logs" / "metrics.csv")
    metrics = json.loads((tiny_run["production"] / "train_metrics.json").read_text())
    per_epoch = log.dropna(subset=["val_recall"])
    assert len(per_epoch) == len(metrics["epochs"]) and log["train_loss_epoch"].notna().sum() == len(metrics["epochs"])
    assert per_epoch["val_recall"].tolist() == pytest.approx([e["val_recall"] for e in metrics["epochs"]])


def test_train_json_stdout_is_only_json_with_the_progress_bar_on(tiny_market, tmp_path):
    """Outside CI the progress bar is shown, on stderr: `train --json` prints nothing but the JSON on stdout."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "CI"}
    cmd = [sys.executable, "-m", "pipelines.cli", "train", "--data", str(tiny_market), "--config", "tiny", "--out", str(tmp_path / "run" / "m"), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1], timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["epochs_run"] == 2
    assert "Epoch" in done.stderr  # the bar was shown


def test_split_seed_keeps_the_held_out_resumes_across_training_seeds(tiny_market, tmp_path):
    """Seeds 0 and 1 with split_seed 5 hold out the same resumes (and train different weights); without it the split follows the seed."""
    from dataclasses import replace

    from dssm.config import load_model_config
    from pipelines.artifacts import read_split
    from pipelines.training.dssm import train

    base = load_model_config("tiny")
    runs = {}
    for name, seed, split_seed in (("a", 0, 5), ("b", 1, 5), ("c", 1, None)):
        cfg = replace(base, train=replace(base.train, seed=seed, split_seed=split_seed, max_epochs=1))
        train(tiny_market, cfg, tmp_path / name)
        runs[name] = read_split(tmp_path / name)
    assert runs["a"] == runs["b"] and runs["b"] != runs["c"]
    assert (tmp_path / "a" / "weights.safetensors").read_bytes() != (tmp_path / "b" / "weights.safetensors").read_bytes()
    with pytest.raises(ValueError, match="split_seed"):
        TrainConfig(split_seed=-1)

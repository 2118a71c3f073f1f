"""Every typed config validates its numbers in `__post_init__`: finite, of the right kind, in range, the field named.

Regression: a config with `lr: -1` must not train (gradient ascent reported as success); `lr: .nan`
once got past `lr <= 0` and died in a torch traceback.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil

import pytest

from dssm.checks import numeric_fields
from pipelines import cli

CONFIGS = {
    "dssm.config.ModelConfig", "dssm.config.TowerConfig", "dssm.config.TrainConfig", "dssm.tokenizer.TokenizerConfig",
    "summarizer.config.LabelRule", "summarizer.config.FeatureConfig", "summarizer.config.SummarizerConfig",
    "pipelines.data.synth.config.SynthConfig", "pipelines.demo.DemoConfig", "pipelines.evaluation.ab.analysis.ABConfig",
    "pipelines.evaluation.ab.power.PowerConfig", "pipelines.evaluation.ab.simulate.SimConfig", "pipelines.evaluation.evaluate.EvalConfig", "pipelines.retrieval.index.IndexConfig",
    "pipelines.training.summarizer.SummarizeConfig", "pipelines.evaluation.ab.traffic.TrafficConfig",
    "pipelines.retrieval.experiment.ArmConfig", "pipelines.retrieval.experiment.ExperimentConfig",
    "dssm.understanding.albert.EncoderConfig", "dssm.understanding.albert.PretrainConfig", "dssm.understanding.tagger.TaggerConfig",
    "dssm.understanding.classifier.ClassifierConfig",
}
"""The user-facing configs (flags, YAML); `test_every_config_is_listed` keeps the list complete."""

SIGNED = {("SynthConfig", "response_offset"), ("SynthConfig", "invite_offset"), ("SimConfig", "response_offset"),
          ("SimConfig", "invite_offset"), ("SimConfig", "missing_utility")}
"""Fields where a negative value is meaningful (utility offsets are logits)."""


def _cls(path: str) -> type:
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def test_every_config_is_listed():
    import dssm
    import pipelines
    import summarizer

    found = set()
    for pkg in (dssm, summarizer, pipelines):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            mod = importlib.import_module(info.name)
            for name, obj in vars(mod).items():
                if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == mod.__name__ and name.endswith(("Config", "Rule")):
                    found.add(f"{mod.__name__}.{name}")
    assert found == CONFIGS


REQUIRED = {"ArmConfig": {"name": "a", "index": "runs/index"}}
"""Fields without a default, for the configs that have them."""
CASES = [(path, field) for path in sorted(CONFIGS) for field in numeric_fields(_cls(path))]


@pytest.mark.parametrize("path,field", CASES, ids=[f"{p.rsplit('.', 1)[1]}.{f}" for p, f in CASES])
def test_numeric_fields_refuse_nan_inf_wrong_types_and_out_of_range(path, field):
    cls = _cls(path)
    base = REQUIRED.get(cls.__name__, {})
    cls(**base)  # the defaults are valid
    for bad in (math.nan, math.inf, -math.inf, "3", True):
        with pytest.raises(ValueError, match=field):
            cls(**{**base, field: bad})
    if (cls.__name__, field) not in SIGNED:
        with pytest.raises(ValueError, match=field):
            cls(**{**base, field: -1})


def test_integer_fields_refuse_fractions():
    from dssm.config import TrainConfig

    with pytest.raises(ValueError, match="batch_size must be an integer"):
        TrainConfig(batch_size=2.5)
    assert TrainConfig(batch_size=64.0).batch_size == 64 and isinstance(TrainConfig(lr=1).lr, float)


@pytest.mark.parametrize("value", ["-1", ".nan", "0"])
def test_train_refuses_a_bad_learning_rate_before_touching_anything(tiny_market, tmp_path, capsys, value):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"train:\n  lr: {value}\n")
    assert cli.main(["train", "--data", str(tiny_market), "--config", str(cfg), "--out", str(tmp_path / "model")]) == 2
    err = capsys.readouterr().err.strip()
    assert "lr" in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "model").exists()
    assert cli.main(["train", "--data", str(tiny_market), "--config", "tiny", "--lr", "nan", "--out", str(tmp_path / "model")]) == 2
    assert "lr must be a finite number" in capsys.readouterr().err

"""Every shipped YAML config parses into its typed dataclass; invalid values are refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dssm.config import SHIPPED, ModelConfig, TowerConfig, load_model_config, shipped_config_path
from dssm.errors import JobmatchError
from dssm.io import config_from_dict

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIRS = sorted(p for p in ROOT.glob("*/configs") if p.is_dir() and (p.parent / "__init__.py").exists())


def _config_class(path: Path):
    """The dataclass a shipped YAML is for: dssm configs are ModelConfig; another package may map
    file stems to dataclasses in `<package>.config.CONFIG_CLASSES` (or one `CONFIG_CLASS`)."""
    if path.parent == ROOT / "dssm" / "configs":
        from dssm.understanding.albert import PRESETS, PretrainConfig

        return PretrainConfig if path.stem in PRESETS else ModelConfig
    import importlib

    try:
        mod = importlib.import_module(f"{path.parent.parent.name}.config")
    except ImportError:
        return None
    return getattr(mod, "CONFIG_CLASSES", {}).get(path.stem) or getattr(mod, "CONFIG_CLASS", None)


@pytest.mark.parametrize("path", [p for d in CONFIG_DIRS for p in sorted(d.glob("*.yaml"))], ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_shipped_yaml_parses(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: top level must be a mapping"
    cls = _config_class(path)
    if cls is not None:
        assert config_from_dict(cls, data, str(path)) is not None


def test_dssm_presets():
    for name in SHIPPED:
        assert shipped_config_path(name).exists()
    prod, teacher = load_model_config("production"), load_model_config("teacher")
    assert prod.vacancy.max_len == 300 and teacher.vacancy.max_len >= 2048
    # One code path: the teacher differs from production only in context length and epochs.
    assert {**prod.vacancy.__dict__, "max_len": 0} == {**teacher.vacancy.__dict__, "max_len": 0}
    assert load_model_config("tiny").vacancy.max_len < load_model_config("tiny_teacher").vacancy.max_len


def test_the_long_presets_are_matched_arms():
    """demo_long / demo_teacher_long / demo_long_token differ from demo only in what the comparison varies."""
    from dataclasses import replace

    demo, long, teacher, token = (load_model_config(n) for n in ("demo", "demo_long", "demo_teacher_long", "demo_long_token"))
    assert (long.train.max_epochs, long.train.patience) == (15, 2) and long == replace(demo, train=replace(demo.train, max_epochs=15, patience=2))
    assert teacher == replace(long, vacancy=replace(long.vacancy, max_len=3000), resume=replace(long.resume, max_len=3000))
    assert token == replace(long, vacancy=replace(long.vacancy, attention_on="token"), resume=replace(long.resume, attention_on="token"),
                            train=replace(long.train, attention_lr=0.03))


def test_the_skill_presets_add_only_the_skill_bag():
    """demo_long_skills / demo_teacher_long_skills are demo_long / demo_teacher_long plus the bag of demo_skills, nothing else."""
    from dataclasses import replace

    bag = {k: getattr(load_model_config("demo_skills").vacancy, k) for k in ("skill_dim", "max_skills", "skill_min_count")}
    assert bag["skill_dim"] > 0
    for plain, skills in (("demo_long", "demo_long_skills"), ("demo_teacher_long", "demo_teacher_long_skills")):
        p, s = load_model_config(plain), load_model_config(skills)
        assert s == replace(p, vacancy=replace(p.vacancy, **bag), resume=replace(p.resume, **bag))


def test_the_lexical_presets_add_only_the_lexical_channel():
    """demo_long_lexical / demo_teacher_long_lexical are demo_long / demo_teacher_long with lexical_dim on both towers, nothing else."""
    from dataclasses import replace

    for plain, lexical in (("demo_long", "demo_long_lexical"), ("demo_teacher_long", "demo_teacher_long_lexical")):
        p, x = load_model_config(plain), load_model_config(lexical)
        assert x.vacancy.lexical_dim > 0
        assert x == replace(p, vacancy=replace(p.vacancy, lexical_dim=x.vacancy.lexical_dim), resume=replace(p.resume, lexical_dim=x.vacancy.lexical_dim))


def test_the_skill_match_presets_add_only_the_skill_match_channel():
    """demo_long_skill_match / demo_teacher_long_skill_match: demo_long / demo_teacher_long with the channel (and every
    training name in the skill vocabulary) on both towers, nothing else."""
    from dataclasses import replace

    for plain, match in (("demo_long", "demo_long_skill_match"), ("demo_teacher_long", "demo_teacher_long_skill_match")):
        p, x = load_model_config(plain), load_model_config(match)
        assert x.vacancy.skill_match_dim > 0 and x.uses_skills and x.vacancy.bag_width == p.vacancy.max_skills
        channel = {"skill_match_dim": x.vacancy.skill_match_dim, "skill_min_count": 1}
        assert x == replace(p, vacancy=replace(p.vacancy, **channel), resume=replace(p.resume, **channel))


def test_invalid_values_and_unknown_keys_are_refused(tmp_path):
    with pytest.raises(ValueError, match="dropout"):
        TowerConfig(dropout=1.5)
    bad = tmp_path / "bad.yaml"
    bad.write_text("vacancy: {hidden: 0}\n")
    with pytest.raises(JobmatchError, match="hidden"):
        load_model_config(bad)
    bad.write_text("train: {temprature: 0.1}\n")
    with pytest.raises(JobmatchError, match="unknown key"):
        load_model_config(bad)
    bad.write_text("vacancy: {out_dim: 64}\n")
    with pytest.raises(JobmatchError, match="out_dim"):
        load_model_config(bad)


def test_a_saved_models_config_can_be_passed_back(tmp_path):
    from dssm.io import save_config

    cfg = load_model_config("demo")
    save_config(cfg, tmp_path / "config.yaml", {"train_metrics": {"epochs_run": 3}})
    assert "_meta" in yaml.safe_load((tmp_path / "config.yaml").read_text(encoding="utf-8"))
    assert load_model_config(tmp_path / "config.yaml") == cfg

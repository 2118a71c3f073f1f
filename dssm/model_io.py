"""Model directories without pickles: weights.safetensors + config.yaml + features.json.

Layout of a model dir (written by `save_model`, read by `load_model`):
    weights.safetensors   state dict of the TwoTower ("vacancy.*", "resume.*")
    config.yaml           ModelConfig + `_meta.versions`
    features.json         {"vacancies": FeatureSpace, "resumes": FeatureSpace} (with the skill vocabularies, when on)
Training adds train_metrics.json, split.json and Lightning's last.ckpt (for --resume).
Every mismatch (missing file, corrupt weights, wrong vocabulary size, other
feature set) is a `JobmatchError` naming the file and what differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dssm.config import ModelConfig
from dssm.errors import JobmatchError
from dssm.features import FeatureSpace
from dssm.io import atomic_path, load_config, save_config, write_json
from dssm.tower import Tower, TwoTower

WEIGHTS, CONFIG, FEATURES = "weights.safetensors", "config.yaml", "features.json"
KINDS = ("vacancies", "resumes")


def build_model(cfg: ModelConfig, features: dict[str, FeatureSpace]) -> TwoTower:
    """A freshly initialised TwoTower whose categorical tables fit `features`."""
    for kind, tcfg in (("vacancies", cfg.vacancy), ("resumes", cfg.resume)):
        features[kind].check_matches(tcfg.categorical, tcfg.numeric, f"features[{kind}]", tcfg.bag_width)
    model = TwoTower(*(Tower(t, features[k].cardinalities, features[k].skill_rows) for k, t in (("vacancies", cfg.vacancy), ("resumes", cfg.resume))))
    for kind in KINDS:
        if model.tower(kind).cfg.skill_match_dim:
            model.tower(kind).set_skill_codes(features[kind].skills)  # loaded weights bring the same codes back
    return model


def skill_metadata(features: dict[str, FeatureSpace]) -> dict[str, str]:
    """The weights' metadata binding them to their skill vocabularies: {"skills.<kind>": sha256}."""
    return {f"skills.{k}": features[k].skills_sha for k in KINDS if features[k].skills is not None}


def save_model(model_dir: str | Path, model: TwoTower, cfg: ModelConfig, features: dict[str, FeatureSpace], meta: dict[str, Any] | None = None) -> None:
    """Write weights, config and features into `model_dir` (each file atomically)."""
    from safetensors.torch import save_file

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(model_dir / WEIGHTS) as tmp:
        save_file(state, str(tmp), metadata={"format": "jobmatch-two-tower", **skill_metadata(features)})
    write_json(model_dir / FEATURES, {k: features[k].to_dict() for k in KINDS})
    save_config(cfg, model_dir / CONFIG, extra=meta)


def load_features(path: str | Path) -> dict[str, FeatureSpace]:
    import json

    path = Path(path)
    if not path.exists():
        raise JobmatchError(f"{path}: features file not found (is this a model directory?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: FeatureSpace.from_dict(data[k], f"{path}[{k}]") for k in KINDS}
    except (ValueError, KeyError, TypeError) as e:
        raise JobmatchError(f"{path}: not a valid features file ({e!r})") from e


def check_state_shapes(expected: dict[str, torch.Tensor], found: dict[str, Any], source: str, prefix: str = "") -> None:
    """Raise JobmatchError naming the first missing/unexpected tensor or shape difference."""
    found = {k[len(prefix) :]: v for k, v in found.items() if k.startswith(prefix)}
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise JobmatchError(f"{source}: tensors do not match the configured model (missing {missing[:3]}, unexpected {extra[:3]}); feature set or architecture differs")
    for k, v in expected.items():
        got = tuple(found[k].shape)
        if got != tuple(v.shape):
            hint = " (wrong vocabulary size: model trained with another tokenizer?)" if k.endswith("tok.weight") else ""
            hint = hint or (" (categorical vocabulary differs from features.json)" if ".cats." in k else "")
            hint = hint or (" (skill vocabulary differs from the one the model was trained with)" if ".skills." in k else "")
            hint = hint or (" (bigram vocabulary differs from the one the tagger was trained with)" if k.startswith("bigram_embed.") else "")
            raise JobmatchError(f"{source}: tensor {k} has shape {got}, the config expects {tuple(v.shape)}{hint}")


def load_model(model_dir: str | Path) -> tuple[TwoTower, ModelConfig, dict[str, FeatureSpace]]:
    """Read a model dir -> (TwoTower in eval mode, its config, its feature spaces). No Lightning, no pickles."""
    from safetensors import SafetensorError
    from safetensors import safe_open

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise JobmatchError(f"{model_dir}: model directory not found")
    missing = [name for name in (CONFIG, FEATURES, WEIGHTS) if not (model_dir / name).is_file()]
    if missing:
        raise JobmatchError(f"{model_dir}: not a model dir ({', '.join(missing)} missing; train one with `jobmatch train`)")
    cfg = load_config(ModelConfig, model_dir / CONFIG)
    features = load_features(model_dir / FEATURES)
    for kind, tcfg in (("vacancies", cfg.vacancy), ("resumes", cfg.resume)):
        features[kind].check_matches(tcfg.categorical, tcfg.numeric, f"{model_dir / FEATURES}[{kind}]", tcfg.bag_width)
    model = build_model(cfg, features)
    path = model_dir / WEIGHTS
    try:
        with safe_open(str(path), framework="pt") as f:  # one read: the tensors and the metadata binding them to a skill vocabulary
            state = {k: f.get_tensor(k) for k in f.keys()}
            stored = {k: v for k, v in (f.metadata() or {}).items() if k.startswith("skills.")}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise JobmatchError(f"{path}: corrupt or unreadable weights ({e})") from e
    if stored != skill_metadata(features):
        raise JobmatchError(f"{model_dir / FEATURES}: skill vocabulary differs from the one {path.name} was trained with "
                            f"(weights {sorted(stored) or 'none'}, features {sorted(skill_metadata(features)) or 'none'}, or their sha256 differ)")
    check_state_shapes(model.state_dict(), state, str(path))
    model.load_state_dict(state)
    return model.eval(), cfg, features


def check_checkpoint(ckpt_path: str | Path, model: TwoTower) -> dict[str, Any]:
    """Validate a Lightning checkpoint against `model` before resuming; returns the loaded checkpoint dict.

    Loaded with `weights_only=True` (no arbitrary unpickling). A truncated file or
    a checkpoint of another vocabulary / feature set raises JobmatchError.
    """
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.exists():
        raise JobmatchError(f"{ckpt_path}: checkpoint not found (nothing to resume)")
    try:
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a damaged file
        raise JobmatchError(f"{ckpt_path}: corrupt or unreadable checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise JobmatchError(f"{ckpt_path}: not a Lightning checkpoint (no state_dict)")
    check_state_shapes(model.state_dict(), ckpt["state_dict"], str(ckpt_path), prefix="model.")
    return ckpt


def resolve_model_path(model_dir: str | Path, path: str) -> Path:
    """A path as a model's config stores it (`tokenizer`, `parsed`): relative to `model_dir` unless absolute."""
    p = Path(path)
    return p if p.is_absolute() else (Path(model_dir) / p).resolve()


def resolve_tokenizer_dir(model_dir: str | Path, cfg: ModelConfig) -> Path:
    """The tokenizer dir of a model: `cfg.tokenizer`, relative to `model_dir` unless absolute."""
    return resolve_model_path(model_dir, cfg.tokenizer)

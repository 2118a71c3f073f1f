"""The folder every fine-tuned understanding model is stored in: weights, vocabulary and a YAML of what it is.

    model.safetensors   all weights (state_dict), no pickles
    tokenizer/          the word-piece vocabulary (project BPE, or a Hugging Face tokenizer's files)
    <name>.yaml         kind, config, encoder's Hugging Face config, vocabulary fingerprint, scores, versions

`read_model_folder` refuses a folder of another kind (naming what it is), a vocabulary that is
not the one the weights were trained with, and unreadable weights — each as one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dssm.errors import JobmatchError
from dssm.io import atomic_path, versions
from dssm.understanding.albert import ENCODER_FILE, TOKENIZER_DIR, WordPieces, load_pieces, save_pieces

WEIGHTS = "model.safetensors"


def encoder_from_config(config: dict[str, Any]):
    """A randomly initialised transformers encoder built from a stored `config.to_dict()` (the weights come next)."""
    from transformers import AutoConfig, AutoModel

    cfg = dict(config)
    return AutoModel.from_config(AutoConfig.for_model(cfg.pop("model_type"), **cfg))


def write_model_folder(out: Path, model, pieces: WordPieces, info_file: str, info: dict[str, Any]) -> None:
    """Write the folder atomically (see the module docstring); `info` gets the vocabulary's kind and fingerprint and versions."""
    import yaml
    from safetensors.torch import save_file

    with atomic_path(out) as tmp:
        tmp.mkdir()
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp / WEIGHTS))
        kind = save_pieces(pieces, tmp / TOKENIZER_DIR)
        full = {**info, "tokenizer": kind, "tokenizer_fingerprint": pieces.fingerprint, "vocab_size": int(pieces.vocab_size), "versions": versions()}
        (tmp / info_file).write_text(yaml.safe_dump(full, allow_unicode=True, sort_keys=False), encoding="utf-8")


def read_model_folder(path: str | Path, info_file: str, kind: str, make: str) -> tuple[dict[str, Any], WordPieces, dict[str, Any]]:
    """-> (info, vocabulary, weights) of a model folder of `kind`; `make` says how to make one (for the error)."""
    import yaml
    from safetensors.torch import load_file

    path = Path(path)
    f = path / info_file
    if not f.is_file():
        what = "an ALBERT encoder, not a fine-tuned model" if (path / ENCODER_FILE).is_file() else f"not a {kind} folder"
        raise JobmatchError(f"{path}: {what} ({info_file} missing; {make})")
    info = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
    if info.get("kind") != kind:
        raise JobmatchError(f"{f}: kind {info.get('kind')!r}, expected {kind!r}")
    pieces = load_pieces(path / TOKENIZER_DIR, info.get("tokenizer", "bpe"))
    if pieces.fingerprint != info.get("tokenizer_fingerprint") or pieces.vocab_size != info.get("vocab_size"):
        raise JobmatchError(f"{path / TOKENIZER_DIR}: not the vocabulary this {kind} was trained with ({pieces.fingerprint[:20]}, "
                            f"{pieces.vocab_size} ids; recorded {str(info.get('tokenizer_fingerprint'))[:20]}, {info.get('vocab_size')})")
    weights = path / WEIGHTS
    try:
        state = load_file(str(weights))
    except Exception as e:  # noqa: BLE001 - safetensors raises bare errors on missing or corrupt files
        raise JobmatchError(f"{weights}: not a readable safetensors file ({' '.join(str(e).split())[:160]})") from e
    return info, pieces, state

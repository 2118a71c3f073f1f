"""ALBERT pretraining: the encoder folder, loading without Lightning, determinism, --resume, --init from local checkpoints
and from an encoder folder (continued pretraining)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from dssm.errors import JobmatchError
from dssm.understanding.albert import PretrainConfig, WordPieces, load_encoder, load_pretrain_config, mask_tokens, pair_batch, sop_pairs
from pipelines import cli

ROOT = Path(__file__).resolve().parents[1]


def test_the_encoder_folder_holds_weights_config_and_tokenizer(tiny_albert):
    names = sorted(p.name for p in tiny_albert.iterdir())
    assert names == ["albert.yaml", "config.json", "model.safetensors", "tokenizer"]
    cfg = json.loads((tiny_albert / "config.json").read_text())
    assert cfg["model_type"] == "albert" and cfg["num_hidden_groups"] == 1  # one shared layer
    assert cfg["embedding_size"] < cfg["hidden_size"] or cfg["embedding_size"] == 16  # factorised embedding
    code = ("import sys; from dssm.understanding.albert import load_encoder; "
            f"m, p, info = load_encoder({str(tiny_albert)!r}); "
            "assert 'lightning' not in sys.modules and 'lightning.pytorch' not in sys.modules; "
            "print(type(m).__name__, p.vocab_size, info['trained']['steps'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    assert out[0] == "AlbertModel" and int(out[2]) == load_pretrain_config("tiny").max_steps


def test_pretraining_is_deterministic_by_seed(tiny_market, toy_entities, tiny_albert, tmp_path):
    from safetensors.torch import load_file

    from pipelines.understanding.pretrain import pretrain

    pretrain(load_pretrain_config("tiny"), [tiny_market, toy_entities], tmp_path / "again")
    a, b = load_file(str(tiny_albert / "model.safetensors")), load_file(str(tmp_path / "again" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_mlm_masks_only_real_pieces_and_sop_swaps_half(tiny_albert):
    _, pieces, _ = load_encoder(tiny_albert)
    docs = [[[10, 11, 12], [13, 14], [15, 16, 17, 18]] for _ in range(200)]
    pairs = sop_pairs(docs, max_len=32, seed=0)
    assert 0.35 < sum(y for _, _, y in pairs) / len(pairs) < 0.65
    for a, b, y in pairs[:20]:
        joined = (b + a) if y else (a + b)
        assert joined == [10, 11, 12, 13, 14, 15, 16, 17, 18]
    batch = pair_batch(pairs[:64], pieces)
    inputs, labels = mask_tokens(batch["input_ids"], batch["special"], pieces, 0.5, torch.Generator().manual_seed(0))
    chosen = labels != -100
    assert not (chosen & batch["special"]).any()
    assert 0.4 < chosen.sum() / (~batch["special"]).sum() < 0.6
    assert ((inputs == pieces.mask_id) & ~chosen).sum() == 0


def test_resume_continues_a_killed_run(tiny_market, tmp_path, monkeypatch):
    from dssm.understanding import pretrain_module
    from pipelines.understanding import pretrain as stage

    cfg = replace(load_pretrain_config("tiny"), max_steps=24)
    monkeypatch.setattr(stage, "CKPT_EVERY", 8)
    original = pretrain_module.PretrainModule.training_step

    def dies_at_step_12(self, batch, batch_idx):
        if self.global_step == 12:
            raise RuntimeError("killed")
        return original(self, batch, batch_idx)

    monkeypatch.setattr(pretrain_module.PretrainModule, "training_step", dies_at_step_12)
    with pytest.raises(RuntimeError, match="killed"):
        stage.pretrain(cfg, [tiny_market], tmp_path / "albert")
    assert not (tmp_path / "albert").exists() and (tmp_path / ".albert.partial" / "last.ckpt").is_file()
    monkeypatch.setattr(pretrain_module.PretrainModule, "training_step", original)
    result = stage.pretrain(cfg, [tiny_market], tmp_path / "albert", resume=True)
    assert result.steps == 24 and (tmp_path / "albert" / "model.safetensors").is_file()
    assert not (tmp_path / ".albert.partial").exists()
    with pytest.raises(JobmatchError, match="--resume: no checkpoint"):
        stage.pretrain(cfg, [tiny_market], tmp_path / "albert", resume=True)


def _tiny_checkpoint(kind: str, folder: Path) -> Path:
    """A local Hugging Face checkpoint this test writes itself: random weights, a WordPiece vocabulary of the toy words."""
    from transformers import AlbertConfig, AlbertForPreTraining, BertConfig, BertForPreTraining, BertTokenizer

    words = "the team works in a bright office and experience with knowledge of we use skilled python sql docker".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz")]
    folder.mkdir(parents=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(vocab=str(folder / "vocab.txt")).save_pretrained(folder)
    small = dict(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 max_position_embeddings=64)
    model = AlbertForPreTraining(AlbertConfig(embedding_size=16, **small)) if kind == "albert" else BertForPreTraining(BertConfig(**small))
    model.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("kind", ["albert", "bert"])
def test_init_starts_from_a_local_checkpoint(kind, toy_entities, tmp_path):
    from safetensors.torch import load_file

    ckpt = _tiny_checkpoint(kind, tmp_path / f"hf_{kind}")
    out = tmp_path / "albert"
    assert cli.main(["albert", "pretrain", "--data", str(toy_entities), "--config", "tiny", "--init", str(ckpt),
                     "--max-steps", "6", "--out", str(out)]) == 0
    model, pieces, info = load_encoder(out)
    assert info["tokenizer"] == "hf" and info["init"] == str(ckpt) and model.config.model_type == kind
    assert pieces(["python", "zzz"])[0] == [pieces.hf.convert_tokens_to_ids("python")]
    start = load_file(str(ckpt / "model.safetensors"))
    end = load_file(str(out / "model.safetensors"))
    key = next(k for k in end if k.endswith("word_embeddings.weight"))
    start_key = next(k for k in start if k.endswith(key))
    assert start[start_key].shape == end[key].shape and not torch.equal(start[start_key], end[key])  # trained from there


def test_init_continues_an_encoder_this_command_wrote(tiny_albert, toy_entities, tmp_path):
    base, base_pieces, base_info = load_encoder(tiny_albert)
    frozen, trained = tmp_path / "frozen", tmp_path / "trained"
    for out, lr in [(frozen, "1e-12"), (trained, "0.01")]:
        assert cli.main(["albert", "pretrain", "--data", str(toy_entities), "--config", "tiny", "--init", str(tiny_albert),
                         "--max-steps", "4", "--lr", lr, "--vocab-size", "999", "--out", str(out)]) == 0
    model, pieces, info = load_encoder(frozen)
    assert info["tokenizer"] == "bpe" and info["init"] == str(tiny_albert)
    assert info["init_encoder"]["trained"]["steps"] == base_info["trained"]["steps"]
    assert info["config"]["encoder"] == base_info["config"]["encoder"] and info["config"]["vocab_size"] == base_info["config"]["vocab_size"]
    words = ["python", "experience", "zzqx"]
    assert pieces(words) == base_pieces(words) and pieces.vocab_size == base_pieces.vocab_size
    start, end = base.state_dict(), model.state_dict()
    assert start.keys() == end.keys() and all(torch.allclose(start[k], end[k], atol=1e-6) for k in start)  # the encoder's own weights
    moved = load_encoder(trained)[0].state_dict()
    assert not torch.allclose(start["embeddings.word_embeddings.weight"], moved["embeddings.word_embeddings.weight"])


def test_bad_init_and_bad_data_are_one_line_errors(tmp_path, toy_entities, capsys):
    (tmp_path / "empty").mkdir()
    for argv, needle in [
        (["--data", str(toy_entities), "--init", str(tmp_path / "empty")], "no tokenizer files"),
        (["--data", str(tmp_path / "empty")], "neither a dataset folder"),
        (["--data", str(toy_entities), "--max-steps", "0"], "max_steps"),
    ]:
        assert cli.main(["albert", "pretrain", "--config", "tiny", "--out", str(tmp_path / "out"), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / "out").exists()


def test_word_pieces_give_every_word_a_piece(tiny_albert):
    _, pieces, _ = load_encoder(tiny_albert)
    assert isinstance(pieces, WordPieces)
    out = pieces(["python", "", "中"])
    assert len(out) == 3 and all(len(p) >= 1 for p in out) and out[1] == [pieces.unk_id]


def test_shipped_preset_is_the_documented_one():
    cfg = load_pretrain_config("albert")
    assert isinstance(cfg, PretrainConfig) and cfg.coverage == 1.0 and cfg.max_minutes is not None and cfg.max_minutes <= 60

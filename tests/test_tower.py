"""Tower properties: unit embeddings, attention zero on padding and summing to 1, padding-invariance, model I/O errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dssm.config import ModelConfig, TowerConfig
from dssm.errors import JobmatchError
from dssm.features import FeatureSpace
from dssm.model_io import build_model, check_checkpoint, load_model, save_model
from dssm.tower import Tower

CFG = TowerConfig(vocab_size=40, emb_dim=8, hidden=8, out_dim=6, cat_dim=3, mlp_hidden=8, categorical=("area", "role"), numeric=("salary",), dropout=0.0)


def _tower(bidirectional: bool = True, seed: int = 0, attention_on: str = "rnn", lexical_dim: int = 0) -> Tower:
    torch.manual_seed(seed)
    cfg = TowerConfig(**{**CFG.__dict__, "bidirectional": bidirectional, "attention_on": attention_on, "lexical_dim": lexical_dim})
    return Tower(cfg, [4, 5]).eval()


def _batch(lengths: list[int], extra_pad: int = 0, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    T = max(lengths) + extra_pad
    ids = torch.zeros(len(lengths), T, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(1, CFG.vocab_size, (n,), generator=g)
    mask = ids != 0
    cat = torch.randint(0, 4, (len(lengths), 2), generator=g)
    num = torch.randn(len(lengths), 2, generator=g)
    return ids, mask, cat, num


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(1, 12), min_size=1, max_size=5), pad=st.integers(0, 7), bi=st.booleans(),
       on=st.sampled_from(["rnn", "embedding", "token"]), lex=st.sampled_from([0, 16]))
def test_attention_and_padding_properties(lengths, pad, bi, on, lex):
    tower = _tower(bi, attention_on=on, lexical_dim=lex)
    ids, mask, cat, num = _batch(lengths)
    with torch.no_grad():
        emb, attn = tower.encode(ids, mask, cat, num)
        ids2 = torch.cat([ids, torch.zeros(len(lengths), pad, dtype=torch.long)], 1)
        emb2, attn2 = tower.encode(ids2, ids2 != 0, cat, num)
    assert torch.allclose(emb.norm(dim=1), torch.ones(len(lengths)), atol=1e-5)
    assert torch.all(attn[~mask] == 0) and torch.all(attn2[:, ids.shape[1] :] == 0)
    assert torch.allclose(attn.sum(1), torch.ones(len(lengths)), atol=1e-5)
    assert torch.allclose(emb, emb2, atol=1e-5)
    assert torch.allclose(attn, attn2[:, : ids.shape[1]], atol=1e-6)


def test_attention_on_embeddings_weighs_a_token_by_itself_alone():
    tower = _tower(attention_on="embedding")
    ids = torch.tensor([[5, 6, 7, 8], [8, 7, 6, 5], [6, 9, 9, 0]])
    with torch.no_grad():
        _, attn = tower.encode(ids, ids != 0, torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2))
    assert torch.allclose(attn[0], attn[1].flip(0), atol=1e-6)  # same tokens, reversed order: same weights, reversed
    assert attn[2, 1] == attn[2, 2] and attn[2, 3] == 0
    rnn = _tower(attention_on="rnn")
    with torch.no_grad():
        _, a = rnn.encode(ids, ids != 0, torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2))
    assert not torch.allclose(a[0], a[1].flip(0), atol=1e-4)  # over GRU states a weight depends on the context
    with pytest.raises(ValueError, match="attention_on"):
        TowerConfig(attention_on="title")


def test_token_attention_starts_as_mean_pooling_and_learns_only_the_tokens_it_reads():
    tower = _tower(attention_on="token").train()
    ids = torch.tensor([[5, 6, 7, 8], [6, 9, 0, 0]])
    emb, attn = tower.encode(ids, ids != 0, torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2))
    assert torch.allclose(attn, torch.tensor([[0.25] * 4, [0.5, 0.5, 0.0, 0.0]]))  # a zero table: every read token weighs the same
    emb[:, 0].sum().backward()
    moved = (tower.score.weight.grad.abs().squeeze(1) > 0).nonzero().squeeze(1).tolist()
    assert set(moved) <= {5, 6, 7, 8, 9} and moved  # tokens never read keep their zero salience


def test_lexical_channel_scores_token_overlap_before_any_training():
    """Both towers draw the same codes whatever their seeds; at initialisation the lexical part of a score is the
    share b for the same bag of tokens (in any order), and falls with the overlap; the weights learn only tokens read."""
    vac, res = _tower(seed=1, lexical_dim=256), _tower(seed=2, lexical_dim=256)
    assert torch.equal(vac.lexical_codes, res.lexical_codes) and not torch.equal(vac.tok.weight, res.tok.weight)
    ids = torch.tensor([[5, 6, 7, 8], [8, 6, 5, 7], [5, 6, 7, 30], [5, 31, 32, 33], [34, 35, 36, 37], [5, 6, 0, 0]])
    cat, num = torch.zeros(6, 2, dtype=torch.long), torch.zeros(6, 2)
    with torch.no_grad():
        v, r = vac(ids, ids != 0, cat, num), res(ids, ids != 0, cat, num)
    assert v.shape == (6, CFG.out_dim + 256) and torch.allclose(v.norm(dim=1), torch.ones(6), atol=1e-5)
    lexical = r[0, CFG.out_dim :] @ v[:, CFG.out_dim :].T  # resume [5, 6, 7, 8] against every vacancy bag
    b = torch.sigmoid(vac.lexical_mix).item()
    assert lexical[0].item() == pytest.approx(b, abs=1e-5) and lexical[1].item() == pytest.approx(b, abs=1e-5)
    assert lexical[2] > lexical[3] > lexical[4] and abs(lexical[4].item()) < 0.25 * b  # 3 of 4 shared > 1 of 4 > none
    assert lexical[5].item() == pytest.approx(b * 2 / (2 * 4) ** 0.5, abs=0.1 * b)  # 2 of 4: about b * cos = b * 2 / sqrt(2 * 4)
    vac.train()
    vac(ids[5:], ids[5:] != 0, cat[5:], num[5:])[0, CFG.out_dim :].sum().backward()
    moved = (vac.lexical_weight.weight.grad.abs().squeeze(1) > 0).nonzero().squeeze(1).tolist()
    assert set(moved) <= {5, 6} and moved
    with pytest.raises(ValueError, match="lexical_dim"):
        ModelConfig(vacancy=TowerConfig(lexical_dim=8), resume=TowerConfig(lexical_dim=0))


def test_skill_match_channel_counts_shared_names_across_two_vocabularies(tmp_path):
    """Each tower has its own skill vocabulary; a name both hold gets one code, so the skill part of a score is the share b
    for the same names, less for fewer shared ones, and nothing for unknown names; the codes travel with the weights."""
    import pandas as pd

    t = dict(vocab_size=40, emb_dim=8, hidden=8, out_dim=6, cat_dim=3, mlp_hidden=8, dropout=0.0, skill_match_dim=128, max_skills=4, skill_min_count=1)
    cfg = ModelConfig(vacancy=TowerConfig(**t, categorical=("area",), numeric=()), resume=TowerConfig(**t, categorical=("area",), numeric=()))
    vac_names, res_names = ["python", "sql", "docker", "kafka"], ["go", "kafka", "python", "sql", "excel"]
    feats = {"vacancies": FeatureSpace.fit(pd.DataFrame({"area": ["a"], "parsed_skills": [vac_names]}), ("area",), (), 4, 1),
             "resumes": FeatureSpace.fit(pd.DataFrame({"area": ["a"], "parsed_skills": [res_names]}), ("area",), (), 4, 1)}
    assert feats["vacancies"].skills != feats["resumes"].skills  # two vocabularies, other ids for the same names
    model = build_model(cfg, feats).eval()
    docs = pd.DataFrame({"area": ["a"] * 4, "parsed_skills": [["python", "sql"], ["sql", "python"], ["python", "docker"], ["unheard-of"]]})
    ids = torch.tensor([[5, 6, 0]] * 4)

    def embed(kind, rows):
        cat, num = feats[kind].transform(rows)
        with torch.no_grad():
            return model.tower(kind)(ids[: len(rows)], ids[: len(rows)] != 0, torch.as_tensor(cat), torch.as_tensor(num, dtype=torch.float32))

    r, v = embed("resumes", docs.iloc[[0]]), embed("vacancies", docs)
    assert v.shape == (4, 6 + 128) and torch.allclose(v.norm(dim=1), torch.ones(4), atol=1e-5)
    skill = (r[0, 6:] @ v[:, 6:].T).tolist()
    b = torch.sigmoid(model.vacancy.skill_mix).item()
    assert skill[0] == pytest.approx(b, abs=1e-5) and skill[1] == pytest.approx(b, abs=1e-5)  # same names, either order
    assert skill[2] == pytest.approx(b / 2, abs=0.15 * b) and skill[3] == 0.0  # one of two shared; an unknown name is nothing
    save_model(tmp_path / "m", model, cfg, feats)
    assert torch.equal(load_model(tmp_path / "m")[0].vacancy.skill_codes, model.vacancy.skill_codes)


def test_lexical_tower_exports_to_onnx(tmp_path):
    from dssm.onnx_export import ONNX_TOLERANCE, OnnxTower, export_tower

    tower = _tower(lexical_dim=16)
    ids, mask, cat, num = _batch([5, 2, 9], extra_pad=2)
    path = export_tower(tower, tmp_path / "tower.onnx")
    with torch.no_grad():
        assert np.abs(OnnxTower(path)(ids, mask, cat, num) - tower(ids, mask, cat, num).numpy()).max() < ONNX_TOLERANCE


def test_two_gru_bidirectional_equals_a_packed_bidirectional_gru():
    """The dense forward + per-row-reversed backward GRU computes exactly what nn.GRU(bidirectional) does on packed rows."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    tower = _tower(bidirectional=True, seed=3)
    ref = torch.nn.GRU(CFG.emb_dim, CFG.hidden, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(ref, name).copy_(getattr(tower.rnn, name))
            getattr(ref, name + "_reverse").copy_(getattr(tower.rnn_reverse, name))
        lengths = [7, 3, 10, 1]
        ids, mask, _, _ = _batch(lengths, extra_pad=2)
        x = tower.tok(ids)
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        h_ref, _ = pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=ids.shape[1])
        s = tower.score(h_ref).squeeze(-1).masked_fill(~mask, float("-inf"))
        attn_ref = torch.softmax(s, dim=1)
        pooled_ref = torch.bmm(attn_ref.unsqueeze(1), h_ref).squeeze(1)
        pooled, attn = tower.pool(ids, mask)
    assert torch.allclose(attn, attn_ref, atol=1e-6) and torch.allclose(pooled, pooled_ref, atol=1e-5)


def test_batch_composition_does_not_change_an_embedding():
    tower = _tower()
    ids, mask, cat, num = _batch([3, 11, 6])
    with torch.no_grad():
        together = tower(ids, mask, cat, num)
        alone = tower(ids[1:2, :11], mask[1:2, :11], cat[1:2], num[1:2])
    assert torch.allclose(together[1], alone[0], atol=1e-5)


def test_padding_tokens_are_ignored_even_if_not_pad_id():
    tower = _tower()
    ids, mask, cat, num = _batch([4, 2], extra_pad=3)
    noisy = ids.clone()
    noisy[~mask] = 7  # garbage in padded slots must not matter: the mask decides
    with torch.no_grad():
        assert torch.allclose(tower(ids, mask, cat, num), tower(noisy, mask, cat, num), atol=1e-6)


def test_cardinalities_must_match_columns():
    with pytest.raises(ValueError, match="cardinalities"):
        Tower(CFG, [4])


def _tiny_model_cfg(vocab: int = 40, lexical_dim: int = 0) -> ModelConfig:
    t = dict(vocab_size=vocab, emb_dim=8, hidden=8, out_dim=6, cat_dim=3, mlp_hidden=8, dropout=0.0, lexical_dim=lexical_dim)
    return ModelConfig(vacancy=TowerConfig(**t, categorical=("area",), numeric=("salary_from",)), resume=TowerConfig(**t, categorical=("area",), numeric=()))


def _features(areas=("a", "b")) -> dict[str, FeatureSpace]:
    import pandas as pd

    v = FeatureSpace.fit(pd.DataFrame({"area": list(areas), "salary_from": [1e5] + [None] * (len(areas) - 1)}), ("area",), ("salary_from",))
    r = FeatureSpace.fit(pd.DataFrame({"area": list(areas)}), ("area",), ())
    return {"vacancies": v, "resumes": r}


def test_model_roundtrip_and_clear_errors(tmp_path):
    cfg, feats = _tiny_model_cfg(), _features()
    model = build_model(cfg, feats)
    save_model(tmp_path / "m", model, cfg, feats)
    loaded, cfg2, _ = load_model(tmp_path / "m")
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    assert cfg2 == cfg
    lex = _tiny_model_cfg(lexical_dim=8)
    save_model(tmp_path / "lex", build_model(lex, feats), lex, feats)  # the lexical codes travel with the weights
    assert load_model(tmp_path / "lex")[1] == lex and "vacancy.lexical_codes" in load_model(tmp_path / "lex")[0].state_dict()

    other = build_model(_tiny_model_cfg(vocab=50), feats)  # another vocabulary
    save_model(tmp_path / "v", other, _tiny_model_cfg(vocab=50), feats)
    (tmp_path / "v" / "config.yaml").write_bytes((tmp_path / "m" / "config.yaml").read_bytes())
    with pytest.raises(JobmatchError, match="wrong vocabulary size"):
        load_model(tmp_path / "v")

    save_model(tmp_path / "f", build_model(cfg, _features(("a", "b", "c"))), cfg, _features(("a", "b", "c")))
    (tmp_path / "f" / "features.json").write_bytes((tmp_path / "m" / "features.json").read_bytes())
    with pytest.raises(JobmatchError, match="categorical vocabulary"):
        load_model(tmp_path / "f")

    w = tmp_path / "m" / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(JobmatchError, match="corrupt"):
        load_model(tmp_path / "m")


def test_feature_set_mismatch_is_named(tmp_path):
    cfg, feats = _tiny_model_cfg(), _features()
    save_model(tmp_path / "m", build_model(cfg, feats), cfg, feats)
    cfg_text = (tmp_path / "m" / "config.yaml").read_text().replace("- salary_from", "- salary_to")
    (tmp_path / "m" / "config.yaml").write_text(cfg_text)
    with pytest.raises(JobmatchError, match="feature set mismatch"):
        load_model(tmp_path / "m")


def test_checkpoint_checks(tmp_path):
    cfg, feats = _tiny_model_cfg(), _features()
    model = build_model(cfg, feats)
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, good)
    assert "state_dict" in check_checkpoint(good, model)
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(good.read_bytes()[:50])
    with pytest.raises(JobmatchError, match="corrupt"):
        check_checkpoint(bad, model)
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in build_model(_tiny_model_cfg(50), feats).state_dict().items()}}, other)
    with pytest.raises(JobmatchError, match="vocabulary"):
        check_checkpoint(other, model)


def test_features_unknown_and_missing_buckets():
    import pandas as pd

    fs = FeatureSpace.fit(pd.DataFrame({"area": ["x", "x", "y", None]}), ("area", "absent"), ("salary",))
    cat, num = fs.transform(pd.DataFrame({"area": ["x", "y", "new", None, ""]}))
    assert cat[:, 0].tolist() == [2, 3, 1, 0, 0] and cat[:, 1].tolist() == [0] * 5
    assert np.all(num[:, 1] == 1.0) and np.all(num[:, 0] == 0.0)  # salary absent -> missing flags
    assert fs.cardinalities == [4, 2]


def test_bench_encode_smoke(tmp_path):
    from pipelines.bench.encode import run

    report = run(n_production=8, n_teacher=2, threads=1, try_compile=False)  # one thread: two wait on each other when the machine is shared
    for name in ("production", "teacher"):
        rows = report[name]["variants"]
        assert rows[0]["variant"] == "naive_unbatched" and all(r["docs_per_s"] > 0 for r in rows)
    assert report["production"]["max_len"] == 300 and report["teacher"]["max_len"] == 3000


def test_encoder_batches_match_single_documents():
    import pandas as pd

    from dssm.batching import TokenStore
    from dssm.encode import Encoder

    cfg, feats = _tiny_model_cfg(), _features()
    model = build_model(cfg, feats).eval()
    rng = np.random.default_rng(0)
    docs = [(rng.integers(1, 40, n), np.arange(n) // 3) for n in (7, 2, 11, 5)]
    df = pd.DataFrame({"area": ["a", "b", "zz", None], "salary_from": [1e5, None, 3e4, 7e4]})
    enc = Encoder(model, cfg, feats, tokenizer=None, model_hash="x")
    emb, attn = enc._run(TokenStore.from_flat(docs), df, "vacancies", batch_size=3, attention=True)
    cat, num = feats["vacancies"].transform(df)
    for i, (ids, _) in enumerate(docs):
        t = torch.from_numpy(ids)[None]
        with torch.no_grad():
            e, a = model.vacancy.encode(t, t != 0, torch.from_numpy(cat[i : i + 1]), torch.from_numpy(num[i : i + 1]))
        assert np.allclose(emb[i], e[0].numpy(), atol=1e-5) and np.allclose(attn[i], a[0].numpy(), atol=1e-6)
        assert len(attn[i]) == len(ids) and abs(attn[i].sum() - 1) < 1e-5
    assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)

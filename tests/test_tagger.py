"""Entity tagger: a known-answer toy (planted spans, unseen names), the predict contract, windows, round trip, bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from dssm.errors import JobmatchError
from dssm.understanding.tagger import TaggerConfig
from dssm.understanding.tags import tags_to_spans
from pipelines import cli
from pipelines.understanding.tagging import compare, evaluate_tagger, load_tagger, predict_tags, train_tagger

TOY = dict(embedding_dim=32, lstm_hidden=32, scratch_vocab_size=300, max_epochs=12, patience=3, lr=0.01, batch_size=16)


@pytest.fixture(scope="module")
def toy_tagger(toy_entities, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tagger") / "tagger"
    train_tagger(TaggerConfig(encoder="scratch", **TOY), toy_entities, out)
    return out


def test_a_bilstm_learns_planted_spans_and_finds_unseen_names(toy_tagger, toy_entities, tmp_path):
    _, _, _, info = load_tagger(toy_tagger)
    assert info["dev"]["micro"]["f1"] >= 0.9, info["dev"]["micro"]
    assert info["dev"]["unseen"]["support"] > 20 and info["dev"]["unseen"]["recall"] >= 0.8, info["dev"]["unseen"]
    history = info["train"]["history"]
    assert [h["epoch"] for h in history] == list(range(1, info["train"]["epochs_run"] + 1)), history
    assert max(history, key=lambda h: h["dev_score"])["epoch"] == info["train"]["best_epoch"], history
    report = compare(TaggerConfig(**TOY), toy_entities, None, tmp_path / "cmp", systems=("dictionary",))
    dictionary = report["systems"]["dictionary"]
    assert dictionary["unseen"]["recall"] == 0.0 and dictionary["micro"]["recall"] < info["dev"]["micro"]["recall"]
    assert (tmp_path / "cmp" / "report.md").read_text().count("| dictionary |") == 1


def test_tiny_albert_to_bilstm_tagger_trains_and_round_trips(tiny_albert, toy_entities, tmp_path):
    out = tmp_path / "tagger"
    assert cli.main(["tagger", "train", "--data", str(toy_entities), "--albert", str(tiny_albert), "--out", str(out),
                     "--max-epochs", "4", "--lr", "0.01", "--encoder-lr", "0.003", "--lstm-hidden", "32", "--batch-size", "16"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors", "tagger.yaml", "tokenizer"]  # no pickles
    model, pieces, space, info = load_tagger(out)
    assert model.encoder is not None and type(model.encoder).__name__ == "AlbertModel" and info["albert"] == str(tiny_albert)
    floor = compare(TaggerConfig(**TOY), toy_entities, None, tmp_path / "cmp", systems=("dictionary",))["systems"]["dictionary"]
    assert info["dev"]["micro"]["f1"] > floor["micro"]["f1"] and info["dev"]["unseen"]["recall"] > 0, info["dev"]
    dev = pd.read_parquet(toy_entities / "dev.parquet")
    tokens = [list(t) for t in dev["tokens"]]
    reloaded = load_tagger(out)[0]
    fp32 = predict_tags(model, model.cfg, pieces, space, tokens)
    assert predict_tags(reloaded, model.cfg, pieces, space, tokens) == fp32
    bf16 = predict_tags(load_tagger(out, precision="bf16")[0], model.cfg, pieces, space, tokens)["tags"]
    same = [a == b for r, q in zip(fp32["tags"], bf16) for a, b in zip(r, q)]
    assert sum(same) / len(same) >= 0.95, sum(same) / len(same)
    assert cli.main(["tagger", "eval", "--model", str(out), "--data", str(toy_entities), "--precision", "bf16"]) == 0


def test_a_bf16_encoder_runs_its_products_in_bfloat16_and_keeps_the_rest_fp32():
    import torch
    from transformers import AlbertConfig, AlbertModel

    from dssm.understanding.tagger import Tagger

    torch.manual_seed(0)
    enc = AlbertModel(AlbertConfig(vocab_size=50, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=64, max_position_embeddings=32))
    model = Tagger(TaggerConfig(lstm_hidden=8), {"tags": 3}, 50, enc).eval()
    ids = torch.randint(5, 50, (4, 20)); wop = torch.arange(20).repeat(4, 1)
    seen = []
    hook = enc.encoder.register_forward_hook(lambda m, i, o: seen.append(o.last_hidden_state.dtype))
    with torch.inference_mode():
        ref = model(ids, ids != 0, wop, 20)["tags"]
        low = model.set_precision("bf16")(ids, ids != 0, wop, 20)["tags"]
        again = model.set_precision("fp32")(ids, ids != 0, wop, 20)["tags"]
    hook.remove()
    assert seen == [torch.float32, torch.bfloat16, torch.float32] and low.dtype == torch.float32
    assert not torch.equal(ref, low) and torch.allclose(ref, low, atol=0.1) and torch.equal(ref, again)
    with pytest.raises(ValueError, match="precision 'fp16'"):
        model.set_precision("fp16")


def test_predict_contract_rows_order_columns_and_one_tag_per_token(toy_tagger, toy_entities, tmp_path):
    src = pd.read_parquet(toy_entities / "dev.parquet").drop(columns=["tags"]).iloc[::-1].reset_index(drop=True)
    src.loc[3, "tokens"] = []  # an empty sentence
    src.to_parquet(tmp_path / "in.parquet")
    assert cli.main(["tagger", "predict", "--model", str(toy_tagger), "--input", str(tmp_path / "in.parquet"), "--out", str(tmp_path / "out.parquet")]) == 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == [*src.columns, "pred_tags"] and out["note"].tolist() == src["note"].tolist()
    assert all(len(p) == len(t) for p, t in zip(out["pred_tags"], out["tokens"])) and len(out.loc[3, "pred_tags"]) == 0
    assert all(set(p) <= {"O", "B-SKILL", "I-SKILL"} for p in out["pred_tags"])


def test_a_set_with_two_layers_predicts_both(toy_entities, tmp_path):
    for part in ("train", "dev"):
        df = pd.read_parquet(toy_entities / f"{part}.parquet")
        df["tags_skill"] = [[t.split("-")[0] for t in tags] for tags in df["tags"]]
        df["tags_knowledge"] = [["B" if t == "with" else "O" for t in toks] for toks in df["tokens"]]
        (tmp_path / "two").mkdir(exist_ok=True)
        df.drop(columns=["tags"]).to_parquet(tmp_path / "two" / f"{part}.parquet")
    train_tagger(TaggerConfig(encoder="scratch", **{**TOY, "max_epochs": 3}), tmp_path / "two", tmp_path / "t2")
    cli.main(["tagger", "predict", "--model", str(tmp_path / "t2"), "--input", str(tmp_path / "two" / "dev.parquet"), "--out", str(tmp_path / "o.parquet")])
    out = pd.read_parquet(tmp_path / "o.parquet")
    assert {"pred_tags_skill", "pred_tags_knowledge"} <= set(out.columns)
    assert all(set(p) <= {"O", "B", "I"} for p in out["pred_tags_knowledge"])


def test_span_sets_get_pred_spans_in_character_offsets(toy_entities, tmp_path):
    dev = pd.read_parquet(toy_entities / "train.parquet").head(300)
    rows = []
    for toks, tags in zip(dev["tokens"], dev["tags"]):
        text, spans, pos = "", [], []
        for t in toks:
            pos.append(len(text))
            text += t + " "
        for s, e, kind in tags_to_spans(list(tags)):
            spans.append({"start": pos[s], "end": pos[e - 1] + len(toks[e - 1]), "label": "Tool"})
        rows.append({"doc_id": str(len(rows)), "text": text.strip(), "spans": spans})
    (tmp_path / "spans").mkdir()
    pd.DataFrame(rows).to_parquet(tmp_path / "spans" / "train.parquet")
    result = train_tagger(TaggerConfig(encoder="scratch", **TOY), tmp_path / "spans", tmp_path / "ts")
    assert result.dev["micro"]["f1"] >= 0.9  # dev = a seeded share of the documents
    pd.DataFrame(rows[:20]).drop(columns=["spans"]).to_parquet(tmp_path / "in.parquet")
    cli.main(["tagger", "predict", "--model", str(tmp_path / "ts"), "--input", str(tmp_path / "in.parquet"), "--out", str(tmp_path / "o.parquet")])
    out = pd.read_parquet(tmp_path / "o.parquet")
    found = [(r["text"][s["start"]:s["end"]], s["label"]) for _, r in out.iterrows() for s in r["pred_spans"]]
    gold = [(r["text"][s["start"]:s["end"]], s["label"]) for r in rows[:20] for s in r["spans"]]
    assert len(found) > 0 and sum(g in found for g in gold) / len(gold) >= 0.9


def test_long_rows_are_read_whole_and_window_stride_barely_changes_tags(toy_tagger, toy_entities):
    """A ~700-token row is tagged whole in many windows; other strides change a word's context only, so at most 1% of tags."""
    from pipelines.understanding.scores import span_scores

    model, pieces, space, _ = load_tagger(toy_tagger)
    dev = pd.read_parquet(toy_entities / "dev.parquet")
    long_row = [t for toks in dev["tokens"][:60] for t in toks]
    gold = tags_to_spans([t for tags in dev["tags"][:60] for t in tags])
    assert len(long_row) > 400
    runs = [predict_tags(model, replace(model.cfg, window=w, overlap=o), pieces, space, [long_row])["tags"][0] for w, o in ((24, 8), (80, 16), (256, 32))]
    assert all(len(r) == len(long_row) for r in runs)
    for r in runs[1:]:
        assert sum(x != y for x, y in zip(runs[0], r)) <= 0.01 * len(long_row)
    f1 = [span_scores([gold], [tags_to_spans(r)])["micro"]["f1"] for r in runs]
    assert min(f1) >= 0.85 and max(f1) - min(f1) <= 0.02, f1


def test_bad_input_is_one_line_and_writes_nothing(toy_tagger, tiny_albert, toy_entities, tmp_path, capsys):
    pd.DataFrame({"words": [["a"]]}).to_parquet(tmp_path / "no_tokens.parquet")
    (tmp_path / "bmes").mkdir()
    bmes = pd.read_parquet(toy_entities / "dev.parquet")
    bmes["tags"] = [["S-SKILL" if t.startswith("B") else "O" for t in tags] for tags in bmes["tags"]]
    bmes.to_parquet(tmp_path / "bmes" / "dev.parquet")
    pd.read_parquet(toy_entities / "train.parquet").to_parquet(tmp_path / "bmes" / "train.parquet")
    (tmp_path / "misaligned").mkdir()
    bad = pd.read_parquet(toy_entities / "train.parquet")
    bad.loc[4, "tags"] = ["O"]
    bad.to_parquet(tmp_path / "misaligned" / "train.parquet")
    swapped = tmp_path / "swapped"
    import shutil

    shutil.copytree(toy_tagger, swapped)
    shutil.rmtree(swapped / "tokenizer")
    shutil.copytree(tiny_albert / "tokenizer", swapped / "tokenizer")
    out = tmp_path / "out.parquet"
    cases = [
        (["tagger", "predict", "--model", str(toy_tagger), "--input", str(tmp_path / "no_tokens.parquet"), "--out", str(out)], "column tokens: missing"),
        (["tagger", "predict", "--model", str(tiny_albert), "--input", str(toy_entities / "dev.parquet"), "--out", str(out)], "an ALBERT encoder"),
        (["tagger", "predict", "--model", str(swapped), "--input", str(toy_entities / "dev.parquet"), "--out", str(out)], "not the vocabulary"),
        (["tagger", "eval", "--model", str(toy_tagger), "--data", str(tmp_path / "bmes")], "tags the model was not trained on"),
        (["tagger", "train", "--data", str(tmp_path / "misaligned"), "--out", str(tmp_path / "t")], "rows 4"),
        (["tagger", "predict", "--model", str(toy_tagger), "--input", str(tmp_path / "missing.parquet"), "--out", str(out)], "file not found"),
    ]
    for argv, needle in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not out.exists() and not (tmp_path / "t").exists()


def test_crf_viterbi_is_the_best_scoring_sequence_within_each_window():
    import itertools

    import torch

    from dssm.understanding.tagger import Tagger

    torch.manual_seed(0)
    m = Tagger(TaggerConfig(encoder="scratch", embedding_dim=8, lstm_hidden=4, crf=True), {"tags": 3}, vocab_size=20)
    crf = m.crfs["tags"]
    with torch.no_grad():
        crf.transitions.copy_(torch.randn(3, 3) * 2)
    emissions = torch.randn(2, 4, 3)
    wop = torch.tensor([[0, 1, 2, 3, 3], [0, 0, 1, -1, -1]])  # window 0: 4 words; window 1: 2 words, then padding
    got = m.decode({"tags": emissions}, wop)["tags"]

    def seq_score(e, tags):
        s = crf.start_transitions[tags[0]] + e[0, tags[0]] + crf.end_transitions[tags[-1]]
        return s + sum(crf.transitions[a, b] + e[i + 1, b] for i, (a, b) in enumerate(zip(tags, tags[1:])))

    for b, n in enumerate([4, 2]):
        with torch.no_grad():
            best = max(itertools.product(range(3), repeat=n), key=lambda t: float(seq_score(emissions[b], t)))
        assert got[b, :n].tolist() == list(best) and got[b, n:].eq(0).all()
    labels = torch.tensor([[0, 1, 2, 0], [2, 1, -100, -100]])
    loss = m.crf_loss({"tags": emissions.requires_grad_()}, {"tags": labels})
    loss.backward()
    assert loss.item() > 0 and emissions.grad[1, 2:].abs().sum() == 0  # padding words take no part


def test_a_bilstm_crf_tagger_trains_saves_and_compares(toy_entities, tmp_path):
    out = tmp_path / "crf"
    train_tagger(TaggerConfig(encoder="scratch", crf=True, **TOY), toy_entities, out)
    model, pieces, space, saved = load_tagger(out)
    assert model.crfs is not None and saved["dev"]["micro"]["f1"] >= 0.9, saved["dev"]["micro"]
    dev = pd.read_parquet(toy_entities / "dev.parquet")
    tokens = [list(t) for t in dev["tokens"]]
    tags = predict_tags(model, model.cfg, pieces, space, tokens)
    assert all(len(t) == len(w) for t, w in zip(next(iter(tags.values())), tokens))
    report = compare(TaggerConfig(**TOY), toy_entities, None, tmp_path / "cmp", systems=("dictionary", "bilstm_crf", "bilstm_crf_worddrop"),
                     reference="bilstm_crf")
    crf, dictionary, hiding = (report["systems"][k] for k in ("bilstm_crf", "dictionary", "bilstm_crf_worddrop"))
    assert crf["micro"]["f1"] == pytest.approx(saved["dev"]["micro"]["f1"]) and "f1_vs_reference" not in crf
    paired = dictionary["f1_vs_reference"]
    assert paired["reference"] == "bilstm_crf" and paired["diff"] == pytest.approx(dictionary["micro"]["f1"] - crf["micro"]["f1"])
    assert paired["ci_high"] < 0
    unseen = dictionary["unseen_vs_reference"]  # the dictionary finds no unseen span; the tagger finds most
    assert unseen["diff"] == pytest.approx(-crf["unseen"]["recall"]) and unseen["ci_high"] < 0
    assert hiding["micro"]["f1"] >= 0.9 and hiding["unseen_vs_reference"]["diff"] == pytest.approx(hiding["unseen"]["recall"] - crf["unseen"]["recall"])
    assert "unseen-span recall minus the reference" in (tmp_path / "cmp" / "report.md").read_text()
    counts = pd.read_parquet(tmp_path / "cmp" / "rows.parquet")  # what `tagger pool` resamples
    for name, r in report["systems"].items():
        tp, pred, gold, hit, unseen = counts[counts["system"] == name][["tp", "pred", "gold", "unseen_hit", "unseen"]].sum()
        assert 2 * tp / (pred + gold) == pytest.approx(r["micro"]["f1"]) and hit / unseen == pytest.approx(r["unseen"]["recall"])
    with pytest.raises(JobmatchError, match="--reference bilstm: not one of --systems"):
        compare(TaggerConfig(**TOY), toy_entities, None, tmp_path / "cmp2", systems=("dictionary",), reference="bilstm")


def test_paired_f1_difference_is_the_micro_f1_gap_with_a_row_bootstrap_ci():
    from pipelines.understanding.scores import paired_f1_difference, span_scores

    gold = [[(0, 1, "A")], [(0, 2, "B"), (3, 4, "A")], [(1, 2, "A")], [], [(2, 3, "B")]] * 8
    a = [[(0, 1, "A")], [(0, 2, "B")], [], [(0, 1, "A")], [(2, 3, "B")]] * 8
    d = paired_f1_difference(gold, a, gold, n_boot=500)
    assert d["diff"] == pytest.approx(1.0 - span_scores(gold, a)["micro"]["f1"]) and 0 < d["ci_low"] <= d["diff"] <= d["ci_high"] <= 1
    same = paired_f1_difference(gold, a, a, n_boot=200)
    assert same["diff"] == same["ci_low"] == same["ci_high"] == 0 and same["rows"] == 40


def test_paired_unseen_recall_difference_counts_only_spans_never_seen_in_training():
    from pipelines.understanding.scores import paired_unseen_recall_difference

    tokens = [["java", "and", "zorblax"], ["python"], ["go"]] * 10
    gold = [[(0, 1, "S"), (2, 3, "S")], [(0, 1, "S")], []] * 10
    seen = {"java", "python"}
    names_only = [[(0, 1, "S")], [(0, 1, "S")], []] * 10  # every seen span, no unseen one
    d = paired_unseen_recall_difference(gold, names_only, gold, tokens, seen, n_boot=200)
    assert d["diff"] == d["ci_low"] == d["ci_high"] == 1.0 and d["rows"] == 30
    half = gold[:15] + names_only[15:]
    d = paired_unseen_recall_difference(gold, names_only, half, tokens, seen, n_boot=500)
    assert d["diff"] == pytest.approx(0.5) and 0 < d["ci_low"] < 0.5 < d["ci_high"] < 1


def test_word_dropout_hides_whole_words_at_the_given_rate_and_nothing_else():
    import torch

    from dssm.understanding.batching import collate, drop_words, make_windows

    rows = [[[5 + (w + r) % 7] * (1 + (w + r) % 3) for w in range(40)] for r in range(30)]  # words of 1-3 pieces
    batch = collate(make_windows(rows, window=64, overlap=4, cls_id=2, sep_id=3), pad_id=0)
    assert drop_words(batch, 0.0, 99, torch.Generator()) is batch
    out = drop_words(batch, 0.3, 99, torch.Generator().manual_seed(0))
    assert torch.equal(out["ids"], drop_words(batch, 0.3, 99, torch.Generator().manual_seed(0))["ids"])  # seeded
    wop, hidden = batch["word_of_piece"], out["ids"] == 99
    assert not hidden[wop < 0].any() and torch.equal(out["ids"][~hidden], batch["ids"][~hidden])  # specials and padding kept
    words = hidden_words = 0
    for i in range(len(wop)):
        for w in wop[i].unique().tolist():
            if w >= 0:
                h = hidden[i][wop[i] == w]
                assert h.all() or not h.any()  # a word is hidden whole or not at all
                words, hidden_words = words + 1, hidden_words + int(h.all())
    assert 0.25 < hidden_words / words < 0.35, hidden_words / words


def test_compare_systems_take_word_dropout_from_their_name():
    from pipelines.understanding.tagging import WORD_DROPOUT, system_config

    cfg = TaggerConfig(word_dropout=0.4)
    assert system_config(cfg, "bilstm_crf").word_dropout == 0.0 and system_config(cfg, "bilstm_crf_worddrop").word_dropout == 0.4
    got = system_config(TaggerConfig(), "albert_bilstm_crf_worddrop")
    assert (got.encoder, got.head, got.crf, got.word_dropout) == ("albert", "bilstm", True, WORD_DROPOUT)


def test_a_tagger_saved_before_the_crf_existed_loads_without_one(toy_entities, tmp_path):
    import yaml

    out = tmp_path / "old"
    train_tagger(TaggerConfig(encoder="scratch", crf=False, **{**TOY, "max_epochs": 1}), toy_entities, out)
    info = yaml.safe_load((out / "tagger.yaml").read_text(encoding="utf-8"))
    del info["config"]["crf"]
    (out / "tagger.yaml").write_text(yaml.safe_dump(info, allow_unicode=True, sort_keys=False), encoding="utf-8")
    model, *_ = load_tagger(out)
    assert model.crfs is None and not model.cfg.crf


def test_bigram_vocabulary_numbers_frequent_pairs_and_buckets_the_rest():
    import doctest

    import dssm.understanding.bigrams as bigrams

    assert doctest.testmod(bigrams).failed == 0
    v = bigrams.BigramVocab.fit([["x", "y"], ["x", "y"], ["x", "z"]], min_count=2)
    assert v.pairs == ["<s> x", "x y", "y </s>"] and len(v) == 5  # frequency order; padding and unknown rows
    ids = v.ids([["x", "z"], []])
    assert ids[0].tolist() == [[2, 1], [1, 1]] and ids[1].shape == (0, 2)


def test_a_bigram_tagger_learns_round_trips_and_reads_long_rows_whole(toy_entities, tmp_path):
    """Bigram ids ride in the windows beside the pieces: a misaligned slice would break the long-row and stride checks."""
    import torch

    out = tmp_path / "bi"
    train_tagger(TaggerConfig(encoder="scratch", bigram_dim=8, **TOY), toy_entities, out)
    model, pieces, space, saved = load_tagger(out)
    assert model.bigram_embed is not None and len(saved["bigrams"]) + 2 == model.bigram_embed.num_embeddings
    assert saved["dev"]["micro"]["f1"] >= 0.9 and saved["dev"]["unseen"]["recall"] >= 0.8, saved["dev"]
    dev = pd.read_parquet(toy_entities / "dev.parquet")
    tokens = [list(t) for t in dev["tokens"]]
    reloaded = evaluate_tagger(out, toy_entities)  # the saved model against the in-memory one's dev scores recorded at training
    assert reloaded["micro"] == saved["dev"]["micro"] and reloaded["unseen"] == saved["dev"]["unseen"]
    long_row = [t for toks in tokens[:60] for t in toks]
    runs = [predict_tags(model, replace(model.cfg, window=w, overlap=o), pieces, space, [long_row])["tags"][0] for w, o in ((24, 8), (256, 32))]
    assert sum(x != y for x, y in zip(*runs)) <= 0.01 * len(long_row)
    with pytest.raises(ValueError, match="bigram features"):
        model(torch.tensor([[5]]), torch.tensor([[True]]), torch.tensor([[0]]), n_words=1)  # no bigram ids given
    report = compare(TaggerConfig(**TOY), toy_entities, None, tmp_path / "cmp", systems=("bilstm_crf_bigrams",))
    assert report["systems"]["bilstm_crf_bigrams"]["micro"]["f1"] >= 0.9 and report["config"]["bigram_dim"] == 0


def test_a_bigram_tagger_folder_without_its_vocabulary_is_refused(toy_entities, tmp_path, capsys):
    import yaml

    out = tmp_path / "bi"
    train_tagger(TaggerConfig(encoder="scratch", bigram_dim=4, **{**TOY, "max_epochs": 1}), toy_entities, out)
    info = yaml.safe_load((out / "tagger.yaml").read_text())
    capsys.readouterr()  # training's progress bars (shown when CI is unset)
    for broken, needle in ((None, "no `bigrams` vocabulary"), (info["bigrams"][:-1], "model.safetensors")):
        (out / "tagger.yaml").write_text(yaml.safe_dump({**info, "bigrams": broken}, allow_unicode=True, sort_keys=False))
        argv = ["tagger", "predict", "--model", str(out), "--input", str(toy_entities / "dev.parquet"), "--out", str(tmp_path / "o.parquet")]
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "o.parquet").exists()


def test_batched_viterbi_decodes_what_pytorch_crf_decodes():
    import torch
    from torchcrf import CRF

    from dssm.understanding.tagger import viterbi

    gen = torch.Generator().manual_seed(0)
    for n_tags in (2, 5, 17):
        crf = CRF(n_tags, batch_first=True)
        with torch.no_grad():
            for p in (crf.transitions, crf.start_transitions, crf.end_transitions):
                p.copy_(torch.randn(p.shape, generator=gen) * 2)
        emissions = torch.randn(9, 13, n_tags, generator=gen)
        lengths = torch.tensor([13, 1, 7, 12, 2, 13, 5, 9, 3])
        mask = torch.arange(13).unsqueeze(0) < lengths.unsqueeze(1)
        got = viterbi(emissions, lengths, crf.start_transitions, crf.transitions, crf.end_transitions)
        for row, path in enumerate(crf.decode(emissions, mask)):
            assert got[row, : len(path)].tolist() == path and got[row, len(path):].eq(0).all()


def test_silver_train_labels_all_tags_every_train_skill_and_keeps_dev_as_it_was(tiny_market, tmp_path):
    import doctest

    import pipelines.understanding.silver as silver

    assert doctest.testmod(silver).failed == 0
    own = silver.build_silver(tiny_market, tmp_path / "own")
    every = silver.build_silver(tiny_market, tmp_path / "all", train_labels="all")
    assert own["dev"] == every["dev"] and own["train"]["sentences"] == every["train"]["sentences"]
    assert every["train"]["spans"] > own["train"]["spans"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "own" / "dev.parquet"), pd.read_parquet(tmp_path / "all" / "dev.parquet"))
    a, b = pd.read_parquet(tmp_path / "own" / "train.parquet"), pd.read_parquet(tmp_path / "all" / "train.parquet")
    assert a["tokens"].map(list).tolist() == b["tokens"].map(list).tolist()
    assert all(y != "O" for x, y in zip(a["tags"].explode(), b["tags"].explode()) if x != "O")  # a vacancy's own skills stay tagged
    with pytest.raises(JobmatchError, match="--train-labels 'some'"):
        silver.build_silver(tiny_market, tmp_path / "bad", train_labels="some")
    assert not (tmp_path / "bad").exists()


def test_a_layer_mix_on_the_last_layer_alone_reads_the_last_layer_and_learns_its_weights():
    import torch
    from transformers import AlbertConfig, AlbertModel

    from dssm.understanding.tagger import Tagger

    torch.manual_seed(0)
    encoder = AlbertModel(AlbertConfig(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                                       intermediate_size=32)).eval()
    plain = Tagger(TaggerConfig(lstm_hidden=8, crf=False), {"tags": 3}, 40, encoder).eval()
    mixed = Tagger(TaggerConfig(lstm_hidden=8, crf=False, layer_mix=True), {"tags": 3}, 40, encoder).eval()
    assert mixed.mix_weights.shape == (4,)  # the projected embeddings and three applications of the shared layer
    missing, unexpected = mixed.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["mix_gamma", "mix_weights"] and not unexpected
    ids = torch.tensor([[2, 5, 6, 7, 3, 0]]); wop = torch.tensor([[-1, 0, 0, 1, -1, -1]])
    args = (ids, ids != 0, wop, 2)
    with torch.no_grad():
        mixed.mix_weights.copy_(torch.tensor([-1e4, -1e4, -1e4, 0.0]))
        assert torch.allclose(mixed(*args)["tags"], plain(*args)["tags"], atol=1e-6)
        assert mixed.layer_weights() == {"weights": [0.0, 0.0, 0.0, 1.0], "gamma": 1.0} and plain.layer_weights() is None
        mixed.mix_weights.zero_()  # the plain mean of the four layers reads something else
        assert not torch.allclose(mixed(*args)["tags"], plain(*args)["tags"], atol=1e-4)
    mixed.train()
    mixed(*args)["tags"].sum().backward()
    assert mixed.mix_weights.grad.abs().sum() > 0 and mixed.mix_gamma.grad.abs() > 0


def test_layer_mix_systems_and_flags(tiny_albert, toy_entities, tmp_path, capsys):
    from pipelines.understanding.tagging import report_markdown, system_config

    got = system_config(TaggerConfig(), "albert_bilstm_crf_mix_worddrop")
    assert (got.encoder, got.head, got.crf, got.layer_mix, got.word_dropout > 0) == ("albert", "bilstm", True, True, True)
    assert not system_config(TaggerConfig(), "albert_bilstm_crf").layer_mix
    assert not system_config(TaggerConfig(layer_mix=True), "bilstm_crf").layer_mix  # --layer-mix: every ALBERT system, no scratch one
    with pytest.raises(ValueError, match="layer_mix"):
        TaggerConfig(encoder="scratch", layer_mix=True)
    assert cli.main(["tagger", "train", "--data", str(toy_entities), "--out", str(tmp_path / "no"), "--layer-mix"]) == 2
    assert "--layer-mix" in capsys.readouterr().err and not (tmp_path / "no").exists()
    out = tmp_path / "mix"
    assert cli.main(["tagger", "train", "--data", str(toy_entities), "--albert", str(tiny_albert), "--out", str(out), "--layer-mix",
                     "--max-epochs", "1", "--lr", "0.01", "--encoder-lr", "0.003", "--lstm-hidden", "16", "--batch-size", "16"]) == 0
    model, pieces, space, info = load_tagger(out)
    assert model.cfg.layer_mix and bool((model.mix_weights != 0).any())  # trained, saved and loaded
    assert info["train"]["layer_mix"] == model.layer_weights() and sum(info["train"]["layer_mix"]["weights"]) == pytest.approx(1, abs=1e-3)
    scores = {k: info["dev"][k] for k in ("micro", "per_type", "unseen")}
    md = report_markdown({"data": "toy", "dev_rows": 1, "train_rows": 1, "albert": "a", "systems": {
        "albert_bilstm_crf": scores, "albert_bilstm_crf_mix": {**scores, "layer_mix": {"weights": [0.1, 0.2, 0.7], "gamma": 1.25}}}})
    assert md.count("Learned layer mix") == 1 and "- albert_bilstm_crf_mix: 0.100 0.200 0.700; γ 1.250" in md
    tokens = [list(t) for t in pd.read_parquet(toy_entities / "dev.parquet")["tokens"]]
    assert predict_tags(load_tagger(out)[0], model.cfg, pieces, space, tokens) == predict_tags(model, model.cfg, pieces, space, tokens)



def _compare_run(folder, gold, ref, system, tokens, seen):
    """A compare report folder (report.json + rows.parquet) of two systems on a hand-made dev set."""
    from pipelines.understanding.scores import paired_f1_difference
    from pipelines.understanding.tagging import ROW_COUNTS, dev_row_counts

    folder.mkdir()
    rows = {"ref": score_of(gold, ref, tokens, seen), "sys": score_of(gold, system, tokens, seen)}
    rows["sys"]["f1_vs_reference"] = {"reference": "ref", **paired_f1_difference(gold, ref, system)}
    (folder / "report.json").write_text(json.dumps({"data": "toy", "dev_rows": len(gold), "systems": rows}), encoding="utf-8")
    dev_row_counts(gold, {"ref": ref, "sys": system}, tokens, seen).to_parquet(folder / ROW_COUNTS)


def score_of(gold, pred, tokens, seen):
    from pipelines.understanding.scores import span_scores, unseen_recall

    return {**span_scores(gold, pred), "unseen": unseen_recall(gold, pred, tokens, seen)}


def test_pool_sums_each_dev_rows_counts_over_runs_and_checks_they_share_the_dev_set(tmp_path, capsys):
    import random

    from pipelines.understanding.scores import paired_f1_difference, span_scores
    from pipelines.understanding.tagging import pool

    rng = random.Random(0)
    tokens = [[f"w{i}", "x", "y", "z"] for i in range(60)]
    gold = [[(0, 1, "A"), (2, 4, "B")] if i % 3 else [(1, 2, "A")] for i in range(60)]
    seen = {"w1", "x"}
    noisy = lambda keep: [[s for s in g if rng.random() < keep] + ([(3, 4, "A")] if rng.random() < 0.2 else []) for g in gold]  # noqa: E731
    runs = [(noisy(0.5), noisy(0.8)), (noisy(0.6), noisy(0.7)), (noisy(0.4), noisy(0.9))]
    for k, (ref, system) in enumerate(runs):
        _compare_run(tmp_path / f"seed{k}", gold, ref, system, tokens, seen)
    got = pool([tmp_path / f"seed{k}" for k in range(3)], "sys", "ref")
    every_ref, every_sys = [p for r, _ in runs for p in r], [p for _, s in runs for p in s]
    assert got["f1"]["ref"] == pytest.approx(span_scores(gold * 3, every_ref)["micro"]["f1"])
    assert got["f1_diff"]["diff"] == pytest.approx(paired_f1_difference(gold * 3, every_ref, every_sys)["diff"])
    assert got["f1_diff"]["ci_low"] > 0 and got["dev_rows"] == 60 and len(got["runs"]) == 3
    assert [r["f1_vs_reference"]["diff"] for r in got["runs"]] == pytest.approx(
        [paired_f1_difference(gold, r, s)["diff"] for r, s in runs])
    assert cli.main(["tagger", "pool", str(tmp_path / "seed0"), str(tmp_path / "seed1"), "--system", "sys", "--reference", "ref"]) == 0
    assert "pooled over 2 runs (60 dev rows)" in capsys.readouterr().out
    _compare_run(tmp_path / "other", [g[:1] for g in gold], runs[0][0], runs[0][1], tokens, seen)
    for args, message in (([tmp_path / "seed0", tmp_path / "other"], "not the same dev set"), ([tmp_path / "seed0"], "at least two"),
                          ([tmp_path / "seed0", tmp_path], "no per-row counts")):
        with pytest.raises(JobmatchError, match=message):
            pool(args, "sys", "ref")
    with pytest.raises(JobmatchError, match="no system 'nope'"):
        pool([tmp_path / "seed0", tmp_path / "seed1"], "nope", "ref")


def test_an_ensembles_viterbi_maximises_the_members_summed_sequence_scores():
    import itertools

    import torch

    from dssm.understanding.tagger import Tagger, TaggerEnsemble

    torch.manual_seed(0)
    cfg = TaggerConfig(encoder="scratch", embedding_dim=8, lstm_hidden=4, crf=True)
    members = [Tagger(cfg, {"tags": 3}, vocab_size=20), Tagger(cfg, {"tags": 3}, vocab_size=20)]
    with torch.no_grad():
        for m in members:
            for part in ("start_transitions", "transitions", "end_transitions"):
                getattr(m.crfs["tags"], part).copy_(torch.randn_like(getattr(m.crfs["tags"], part)) * 2)
    ens = TaggerEnsemble(members)
    emissions = [torch.randn(2, 4, 3), torch.randn(2, 4, 3)]  # each member's own
    wop = torch.tensor([[0, 1, 2, 3, 3], [0, 0, 1, -1, -1]])
    got = ens.decode({"tags": (emissions[0] + emissions[1]) / 2}, wop)["tags"]

    def seq_score(crf, e, tags):
        s = crf.start_transitions[tags[0]] + e[0, tags[0]] + crf.end_transitions[tags[-1]]
        return s + sum(crf.transitions[a, b] + e[i + 1, b] for i, (a, b) in enumerate(zip(tags, tags[1:])))

    for b, n in enumerate([4, 2]):
        with torch.no_grad():
            best = max(itertools.product(range(3), repeat=n),
                       key=lambda t: float(sum(seq_score(m.crfs["tags"], e[b], t) for m, e in zip(members, emissions))))
        assert got[b, :n].tolist() == list(best) and got[b, n:].eq(0).all()
    alone = [m.decode({"tags": e}, wop)["tags"] for m, e in zip(members, emissions)]
    assert not all(torch.equal(a, got) for a in alone)  # the case is not one where a member alone decides
    with pytest.raises(ValueError, match="at least two"):
        TaggerEnsemble(members[:1])
    with pytest.raises(ValueError, match="CRF"):
        TaggerEnsemble([members[0], Tagger(replace(cfg, crf=False), {"tags": 3}, vocab_size=20)])
    with pytest.raises(ValueError, match="windows"):
        TaggerEnsemble([members[0], Tagger(replace(cfg, window=64, overlap=8), {"tags": 3}, vocab_size=20)])


def test_taggers_of_one_encoder_join_into_an_ensemble_that_predicts_and_evaluates_like_one(tiny_albert, toy_entities, toy_tagger,
                                                                                           tmp_path, capsys):
    from dssm.understanding.tagger import TaggerEnsemble

    train = ["--albert", str(tiny_albert), "--max-epochs", "1", "--lr", "0.01", "--encoder-lr", "0.003", "--lstm-hidden", "16",
             "--batch-size", "16"]
    runs = [tmp_path / f"seed{s}" for s in (0, 1)]
    for s, out in enumerate(runs):
        assert cli.main(["tagger", "train", "--data", str(toy_entities), "--out", str(out), "--seed", str(s), *train]) == 0
    ens_dir, twice = tmp_path / "ens", tmp_path / "twice"
    assert cli.main(["tagger", "ensemble", "--models", *map(str, runs), "--out", str(ens_dir)]) == 0
    assert "tagger ensemble of 2" in capsys.readouterr().out
    assert sorted(p.name for p in ens_dir.iterdir()) == ["model.safetensors", "tagger.yaml", "tokenizer"]  # no pickles
    ens, pieces, space, info = load_tagger(ens_dir)
    assert isinstance(ens, TaggerEnsemble) and [m["from"] for m in info["ensemble"]] == list(map(str, runs))
    tokens = [list(t) for t in pd.read_parquet(toy_entities / "dev.parquet")["tokens"]]
    members = [load_tagger(r)[0] for r in runs]
    joined = predict_tags(ens, ens.cfg, pieces, space, tokens)
    assert joined == predict_tags(TaggerEnsemble(members).eval(), ens.cfg, pieces, space, tokens)  # the folder is its members
    assert cli.main(["tagger", "ensemble", "--models", str(runs[0]), str(runs[0]), "--out", str(twice)]) == 0
    alone = predict_tags(members[0], members[0].cfg, pieces, space, tokens)
    assert predict_tags(load_tagger(twice)[0], ens.cfg, pieces, space, tokens) == alone  # one tagger twice is that tagger
    scores = evaluate_tagger(ens_dir, toy_entities, reference=runs[0])
    paired = scores["f1_vs_reference"]
    assert paired["diff"] == pytest.approx(scores["micro"]["f1"] - scores["reference"]["micro"]["f1"])
    assert scores["reference"]["micro"]["f1"] == pytest.approx(load_tagger(runs[0])[3]["dev"]["micro"]["f1"])
    same = evaluate_tagger(twice, toy_entities, reference=runs[0])
    assert same["f1_vs_reference"]["diff"] == 0 and same["f1_vs_reference"]["ci_low"] == same["f1_vs_reference"]["ci_high"] == 0
    assert cli.main(["tagger", "eval", "--model", str(ens_dir), "--data", str(toy_entities), "--reference", str(runs[0])]) == 0
    assert "model − reference: micro-F1" in capsys.readouterr().out
    out = tmp_path / "tagged.parquet"
    assert cli.main(["tagger", "predict", "--model", str(ens_dir), "--input", str(toy_entities / "dev.parquet"), "--out", str(out)]) == 0
    assert pd.read_parquet(out)["pred_tags"].map(list).tolist() == joined["tags"]

    bad = [([str(runs[0])], "at least two tagger folders"),
           ([str(runs[0]), str(toy_tagger)], "members must share one"),
           ([str(runs[0]), str(ens_dir)], "already an ensemble")]
    for models, message in bad:
        assert cli.main(["tagger", "ensemble", "--models", *models, "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "bad").exists(), err
    no_dev = tmp_path / "no_dev"
    no_dev.mkdir()
    (no_dev / "train.parquet").write_bytes((toy_entities / "train.parquet").read_bytes())
    drawn = [tmp_path / f"drawn{s}" for s in (0, 1)]
    for s, folder in enumerate(drawn):
        assert cli.main(["tagger", "train", "--data", str(no_dev), "--out", str(folder), "--seed", str(s), *train]) == 0
    assert cli.main(["tagger", "ensemble", "--models", *map(str, drawn), "--out", str(tmp_path / "drawn")]) == 0
    capsys.readouterr()
    assert cli.main(["tagger", "eval", "--model", str(tmp_path / "drawn"), "--data", str(no_dev)]) == 2
    assert "held out different dev rows" in capsys.readouterr().err
    assert cli.main(["tagger", "eval", "--model", str(drawn[1]), "--data", str(no_dev), "--reference", str(drawn[0])]) == 2
    assert "held out other dev rows" in capsys.readouterr().err

"""BPE tokenizer: deterministic training, yttm-compatible model, sentence-aligned encoding, flatten, CLI; real hh.ru round trip."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dssm.errors import JobmatchError
from dssm.io import file_sha256
from dssm.text import document_sentences
from dssm.tokenizer import PAD_ID, UNK_ID, Tokenizer, flatten, learn_bpe
from pipelines.cli import main

ROOT = Path(__file__).resolve().parents[1]

CORPUS = [
    "Разработчик Python в команду платформы данных.",
    "Требования: опыт разработки на Python от 3 лет, знание SQL и PostgreSQL.",
    "Мы предлагаем: ДМС, гибкий график, удалённую работу.",
    "Backend developer, Python/Go, Kubernetes, Docker — a plus!",
    "Повар горячего цеха. Готовить блюда по технологическим картам.",
    "Водитель категории C, опыт от 1 года; 😀 бонусы.",
] * 5


def nonspace(s: str) -> str:
    return re.sub(r"\s", "", s)


@pytest.fixture(scope="module")
def tok(tmp_path_factory) -> Tokenizer:
    return Tokenizer.train(CORPUS, tmp_path_factory.mktemp("tok"), vocab_size=300, coverage=1.0)


def test_train_writes_model_and_config(tok):
    assert (tok.path / "bpe.model").is_file()
    cfg = yaml.safe_load((tok.path / "config.yaml").read_text(encoding="utf-8"))
    assert cfg["vocab_size"] == 300 and cfg["coverage"] == 1.0 and cfg["seed"] == 0
    meta = cfg["_meta"]
    assert meta["n_texts"] == len(CORPUS) and len(meta["corpus_sha256"]) == 64 and meta["model_sha256"] == tok.model_hash
    assert "python" in meta["versions"]
    assert tok.vocab_size == meta["real_vocab_size"] <= 300
    assert tok.subwords([PAD_ID, UNK_ID]) == ["<PAD>", "<UNK>"]


def test_training_is_deterministic(tmp_path):
    a = Tokenizer.train(CORPUS, tmp_path / "a", vocab_size=250, seed=1)
    b = Tokenizer.train(CORPUS, tmp_path / "b", vocab_size=250, seed=1)
    assert a.model_hash == b.model_hash
    c = Tokenizer.train(CORPUS[:3], tmp_path / "c", vocab_size=250, seed=1)
    assert c.model_hash != a.model_hash


def test_training_is_deterministic_across_processes(tmp_path):
    """Fresh interpreters (new hash seeds, new thread timing) give byte-identical models: yttm's own trainer does not."""
    (tmp_path / "corpus.json").write_text(json.dumps(CORPUS), encoding="utf-8")
    code = (
        "import json, sys; from pathlib import Path; from dssm.tokenizer import learn_bpe, write_yttm_model;"
        "write_yttm_model(Path(sys.argv[2]), *learn_bpe(json.load(open(sys.argv[1])), 250, 0.9999))"
    )
    hashes = set()
    for i, seed in enumerate(("0", "12345")):
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "corpus.json"), str(tmp_path / f"m{i}")],
            capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed, "CI": "true"}, cwd=ROOT,
        )
        hashes.add(file_sha256(tmp_path / f"m{i}"))
    assert hashes == {Tokenizer.train(CORPUS, tmp_path / "here", vocab_size=250).model_hash}


def test_yttm_applies_the_learned_merges_in_order(tok):
    """yttm's segmentation of every training word equals applying our merges lowest-rank-first, leftmost first."""
    import youtokentome as yttm

    char2id, rules = learn_bpe(CORPUS, 300, 1.0)
    rank = {(x, y): k for k, (x, y, _) in enumerate(rules)}
    words = sorted({w for t in CORPUS for w in t.split()})

    def encode(word: str) -> list[int]:
        s = [4] + [char2id[c] for c in word]
        while True:
            cands = [(rank[p], j) for j, p in enumerate(zip(s, s[1:])) if p in rank]
            if not cands:
                return s
            k, j = min(cands)
            s = s[:j] + [rules[k][2]] + s[j + 2 :]

    assert tok.bpe.encode(words, output_type=yttm.OutputType.ID) == [encode(w) for w in words]


def test_encode_documents_keeps_sentences(tok):
    docs = [["Разработчик Python", "Требования: SQL."], [], ["", "Повар"]]
    enc = tok.encode_documents(docs)
    assert [len(d) for d in enc] == [2, 0, 2]
    assert enc[2][0] == []
    assert enc[0] == tok.encode_sentences(docs[0])
    assert [tok.decode(s) for s in enc[0]] == ["Разработчик Python", "Требования: SQL."]


def test_unknown_characters_become_single_unks(tok):
    ids = tok.encode_sentences(["Python ∑∑∑ 中文"])[0]
    assert ids.count(UNK_ID) == 2
    assert tok.decode(ids) == "Python <UNK> <UNK>"


def test_whitespace_variants_encode_alike(tok):
    a, b = tok.encode_sentences(["Python  SQL", "\tPython\u00a0SQL\n"])
    assert a == b


def test_huge_and_empty_sentences(tok):
    huge = "Разработчик Python. " * 50_000  # ~1 MB
    ids = tok.encode_sentences([huge, "", "   "])
    assert len(ids[0]) > 50_000 and ids[1] == [] and ids[2] == []
    assert nonspace(tok.decode(ids[0])) == nonspace(huge)
    assert tok.decode([]) == "" and tok.encode_sentences([]) == [] and tok.encode_documents([]) == []


def test_decode_refuses_out_of_range_ids(tok):
    with pytest.raises(JobmatchError, match="out of range"):
        tok.decode([tok.vocab_size])


def test_load_errors_are_clear(tok, tmp_path):
    with pytest.raises(JobmatchError, match="not a tokenizer dir"):
        Tokenizer.load(tmp_path / "nothing")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "bpe.model").write_bytes((tok.path / "bpe.model").read_bytes()[:-20] + b"garbage")
    (bad / "config.yaml").write_bytes((tok.path / "config.yaml").read_bytes())
    with pytest.raises(JobmatchError, match="corrupt"):
        Tokenizer.load(bad)
    (bad / "config.yaml").write_text("vocab_size: 300\nbogus: 1\n")
    with pytest.raises(JobmatchError, match="unknown key"):
        Tokenizer.load(bad)


def test_train_refuses_bad_settings(tmp_path):
    with pytest.raises(JobmatchError, match="smaller than specials"):
        Tokenizer.train(CORPUS, tmp_path / "t", vocab_size=10)
    with pytest.raises(JobmatchError, match="no characters"):
        Tokenizer.train(["", "  "], tmp_path / "t", vocab_size=100)
    with pytest.raises(JobmatchError, match="coverage"):
        Tokenizer.train(CORPUS, tmp_path / "t", coverage=0.0)
    assert not (tmp_path / "t").exists()


def test_failed_retrain_keeps_previous_tokenizer(tok, tmp_path):
    out = tmp_path / "keep"
    first = Tokenizer.train(CORPUS, out, vocab_size=200)
    with pytest.raises(JobmatchError):
        Tokenizer.train([""], out, vocab_size=200)
    assert Tokenizer.load(out).model_hash == first.model_hash


def test_max_texts_sample_depends_on_seed(tmp_path):
    texts = [f"текст номер {i} слово{i % 7}" for i in range(40)]
    a = Tokenizer.train(texts, tmp_path / "a", vocab_size=120, max_texts=10, seed=0)
    b = Tokenizer.train(texts, tmp_path / "b", vocab_size=120, max_texts=10, seed=0)
    c = Tokenizer.train(texts, tmp_path / "c", vocab_size=120, max_texts=10, seed=1)
    meta = lambda t: yaml.safe_load((t.path / "config.yaml").read_text())["_meta"]  # noqa: E731
    assert meta(a)["n_texts"] == 10 and meta(a)["corpus_sha256"] == meta(b)["corpus_sha256"] != meta(c)["corpus_sha256"]


def test_tokenizer_pickles_by_path(tok):
    import pickle

    again = pickle.loads(pickle.dumps(tok))
    assert again.model_hash == tok.model_hash and again.encode_sentences(["Python"]) == tok.encode_sentences(["Python"])


# ----------------------------------------------------------------------------- flatten


def test_flatten_example():
    ids, sent = flatten([[5, 6], [], [7, 8, 9]], max_len=4)
    assert ids.dtype == np.int64 and sent.dtype == np.int64
    assert ids.tolist() == [5, 6, 7, 8] and sent.tolist() == [0, 0, 2, 2]
    e_ids, e_sent = flatten([])
    assert e_ids.shape == (0,) and e_sent.shape == (0,)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(4, 999), max_size=8), max_size=10), st.one_of(st.none(), st.integers(0, 60)))
def test_flatten_properties(doc, max_len):
    ids, sent = flatten(doc, max_len)
    total = sum(map(len, doc))
    n = total if max_len is None else min(total, max_len)
    assert len(ids) == len(sent) == n
    assert np.all(np.diff(sent) >= 0)
    assert ids.tolist() == [i for s in doc for i in s][:n]
    for k in range(len(doc)):  # every token has exactly one sentence, and it is the one it came from
        start = sum(len(s) for s in doc[:k])
        assert ids[sent == k].tolist() == doc[k][: max(0, min(len(doc[k]), n - start))]


# ----------------------------------------------------------------------------- CLI


def _write_dataset(root, with_resumes=True):
    root.mkdir(parents=True, exist_ok=True)
    v = pd.DataFrame({"vacancy_id": [str(i) for i in range(len(CORPUS))], "title": ["Вакансия"] * len(CORPUS), "description": [f"<p>{t}</p>" for t in CORPUS]})
    v.to_parquet(root / "vacancies.parquet")
    if with_resumes:
        pd.DataFrame({"resume_id": ["r1"], "title": ["Повар"], "text": ["Готовлю супы."]}).to_parquet(root / "resumes.parquet")


def test_cli_train_json(tmp_path, capsys):
    _write_dataset(tmp_path / "data")
    assert main(["tokenizer", "train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run" / "tokenizer"), "--vocab-size", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["documents"] == {"vacancies": len(CORPUS), "resumes": 1}
    tok = Tokenizer.load(tmp_path / "run" / "tokenizer")
    assert out["model_hash"] == tok.model_hash and out["vocab_size"] == tok.vocab_size == 200


def test_cli_train_errors_name_the_file(tmp_path, capsys):
    assert main(["tokenizer", "train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "t")]) == 2
    assert "vacancies.parquet" in capsys.readouterr().err
    (tmp_path / "d").mkdir()
    pd.DataFrame({"resume_id": ["r"], "title": ["x"]}).to_parquet(tmp_path / "d" / "resumes.parquet")
    assert main(["tokenizer", "train", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "resumes.parquet" in err and "column text" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def hh_docs(shared_data) -> list[list[str]]:
    df = pd.read_parquet(shared_data / "hh_vacancies_ru" / "vacancies.parquet", columns=["id", "title", "text", "description_html"]).head(300)
    return [document_sentences(t, h if isinstance(h, str) else x) for t, h, x in zip(df["title"], df["description_html"], df["text"])]


@pytest.fixture(scope="module")
def hh_tok(hh_docs, tmp_path_factory) -> Tokenizer:
    return Tokenizer.train([" ".join(d) for d in hh_docs], tmp_path_factory.mktemp("hh_tok"), vocab_size=4000, coverage=1.0)


def test_real_vacancies_every_token_in_exactly_one_sentence_and_round_trip(hh_docs, hh_tok):
    enc = hh_tok.encode_documents(hh_docs)
    assert len(enc) == len(hh_docs)
    n_tokens = 0
    for doc, ids in zip(hh_docs, enc):
        assert len(ids) == len(doc)
        flat, sent = flatten(ids)
        n_tokens += len(flat)
        assert len(flat) == sum(map(len, ids)) and np.all(np.diff(sent) >= 0)
        assert np.bincount(sent, minlength=len(doc)).tolist() == [len(s) for s in ids]
        for s, s_ids in zip(doc, ids):
            assert s_ids, f"sentence without tokens: {s!r}"
            assert UNK_ID not in s_ids  # coverage 1.0 on its own training texts
            assert nonspace(hh_tok.decode(s_ids)) == nonspace(s)
    assert n_tokens > 100 * len(hh_docs)


def test_real_vacancies_unseen_text_round_trips_up_to_unks(hh_docs, hh_tok, shared_data):
    """Vacancies the tokenizer never saw: decoding reproduces them except where a character is outside the alphabet (UNK)."""
    df = pd.read_parquet(shared_data / "hh_vacancies_ru" / "vacancies.parquet", columns=["title", "text"]).iloc[300:500]
    docs = [document_sentences(t, x) for t, x in zip(df["title"], df["text"])]
    enc = hh_tok.encode_documents(docs)
    n_unk = n_tok = 0
    for doc, ids in zip(docs, enc):
        for s, s_ids in zip(doc, ids):
            n_unk += s_ids.count(UNK_ID)
            n_tok += len(s_ids)
            decoded = hh_tok.decode(s_ids)
            if UNK_ID not in s_ids:
                assert nonspace(decoded) == nonspace(s)
            else:
                pattern = ".+".join(re.escape(part) for part in nonspace(decoded).split("<UNK>"))
                assert re.fullmatch(pattern, nonspace(s))
    assert n_unk / n_tok < 0.002, (n_unk, n_tok)

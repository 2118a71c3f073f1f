"""Shared fixtures. Real public data lives in ../shared/data beside the checkout (never copied here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; skips when absent, fails when CI=true and absent."""
    if not SHARED_DATA.is_dir():
        msg = f"real public data not found at {SHARED_DATA} (put the shared/ folder beside the checkout)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_market(tmp_path_factory) -> Path:
    """A small synthetic market (300 vacancies, 200 resumes, seed 0) written by `jobmatch synth`'s code.

    Holds vacancies/resumes/interactions.parquet and truth/ (sentences, utility, profiles, config.yaml).
    Session-scoped and shared: treat it as read-only (copy it before changing anything).
    """
    from pipelines.data.synth.config import SynthConfig
    from pipelines.data.synth.market import generate_market, write_market

    root = tmp_path_factory.mktemp("tiny_market")
    write_market(root, generate_market(SynthConfig(n_vacancies=300, n_resumes=200, seed=0)))
    return root


@pytest.fixture(scope="session")
def tiny_run(tiny_market, tmp_path_factory) -> dict[str, Path]:
    """Every artifact of a run on `tiny_market`, made by the stage functions (tiny presets, ~15 s):
    tokenizer, teacher, labels, summarizer, summaries, production (trained on them) and its index.
    Session-scoped and shared: read-only, like `tiny_market`."""
    from dssm.config import load_model_config
    from dssm.tokenizer import TokenizerConfig
    from pipelines.retrieval.index import IndexConfig
    from pipelines.retrieval.refresh import build_embedding_index
    from pipelines.training.dssm import train
    from pipelines.training.labels import label
    from pipelines.training.summarizer import SummarizeConfig, summarize, train_summarizer
    from pipelines.training.tokenizer import train_tokenizer
    from summarizer.config import LabelRule, SummarizerConfig

    run = tmp_path_factory.mktemp("tiny_run")
    paths = {name: run / name for name in ("tokenizer", "teacher", "summarizer", "summaries", "production", "index")}
    paths |= {"labels": run / "labels.parquet", "data": tiny_market, "run": run}
    train_tokenizer(TokenizerConfig(vocab_size=1000), tiny_market, paths["tokenizer"])
    train(tiny_market, load_model_config("tiny_teacher"), paths["teacher"], tokenizer_dir=paths["tokenizer"])
    label(LabelRule(), paths["teacher"], tiny_market, paths["labels"])
    train_summarizer(SummarizerConfig(), paths["labels"], tiny_market, paths["tokenizer"], paths["summarizer"])
    summarize(SummarizeConfig(), tiny_market, paths["summaries"], summarizer_dir=paths["summarizer"])
    train(paths["summaries"], load_model_config("tiny"), paths["production"], tokenizer_dir=paths["tokenizer"])
    build_embedding_index(IndexConfig(), paths["production"], tiny_market, paths["index"], summarizer_dir=paths["summarizer"])
    return paths


@pytest.fixture(scope="session")
def tiny_resume_index(tiny_run, tmp_path_factory) -> Path:
    """A resume index (`index build --side resumes`) of the tiny run's production model over `tiny_market`."""
    from pipelines.retrieval.index import IndexConfig
    from pipelines.retrieval.refresh import build_embedding_index

    root = tmp_path_factory.mktemp("tiny_resume_index") / "resume_index"
    build_embedding_index(IndexConfig(), tiny_run["production"], tiny_run["data"], root, summarizer_dir=tiny_run["summarizer"], side="resumes")
    return root


TOY_SKILLS = ("python", "java script", "sql", "docker", "kubernetes", "go lang", "react", "spark", "linux admin", "excel")
"""Skill names of the toy entity set's train part; its dev part also plants names never seen in training."""


def _toy_rows(rng, n: int, skills: list[str], first_doc: int) -> list[dict]:
    cues = (["experience", "with"], ["knowledge", "of"], ["we", "use"], ["skilled", "in"])
    filler = "the team works in a bright office and meets every monday to plan the week".split()
    rows = []
    for i in range(n):
        toks, tags = [], []
        for _ in range(rng.randint(1, 3)):
            toks += rng.sample(filler, rng.randint(1, 4))
            tags += ["O"] * (len(toks) - len(tags))
            cue = rng.choice(cues)
            skill = rng.choice(skills).split()
            toks += cue + skill
            tags += ["O"] * len(cue) + ["B-SKILL"] + ["I-SKILL"] * (len(skill) - 1)
        rows.append({"doc_id": f"d{first_doc + i // 4}", "sent_idx": i % 4, "tokens": toks, "tags": tags, "note": f"row{i}"})
    return rows


@pytest.fixture(scope="session")
def toy_entities(tmp_path_factory) -> Path:
    """A known-answer token set: skills planted after cue words ("experience with X"); train.parquet (500 rows) and
    dev.parquet (120 rows, half of whose skills are made-up names never in train: a dictionary cannot find them)."""
    import random

    import pandas as pd

    rng = random.Random(0)
    syllables = ["zor", "blax", "qui", "ven", "tra", "mol", "dex", "fyn", "ka", "rup"]
    unseen = sorted({"".join(rng.sample(syllables, 3)) for _ in range(12)})
    root = tmp_path_factory.mktemp("toy_entities")
    pd.DataFrame(_toy_rows(rng, 500, list(TOY_SKILLS), 0)).to_parquet(root / "train.parquet")
    pd.DataFrame(_toy_rows(rng, 120, list(TOY_SKILLS[:5]) + unseen, 1000)).to_parquet(root / "dev.parquet")
    return root


@pytest.fixture(scope="session")
def tiny_albert(toy_entities, tiny_market, tmp_path_factory) -> Path:
    """An ALBERT encoder pretrained with the `albert_tiny` preset on the tiny market's documents and the toy set."""
    from dssm.understanding.albert import load_pretrain_config
    from pipelines.understanding.pretrain import pretrain

    out = tmp_path_factory.mktemp("albert") / "albert"
    pretrain(load_pretrain_config("tiny"), [tiny_market, toy_entities], out)
    return out


@pytest.fixture(scope="session")
def skill_tagger(tiny_market, tmp_path_factory) -> Path:
    """A scratch BiLSTM tagger trained on the tiny market's silver skills (its own key skills found in its own text)."""
    from dssm.understanding.tagger import TaggerConfig
    from pipelines.understanding.silver import build_silver
    from pipelines.understanding.tagging import train_tagger

    root = tmp_path_factory.mktemp("skill_tagger")
    build_silver(tiny_market, root / "silver")
    cfg = TaggerConfig(encoder="scratch", embedding_dim=32, lstm_hidden=32, scratch_vocab_size=400, max_epochs=4, patience=2, lr=0.01, batch_size=32)
    train_tagger(cfg, root / "silver", root / "tagger")
    return root / "tagger"


@pytest.fixture(scope="session")
def tiny_parsed(skill_tagger, tiny_market, tmp_path_factory) -> Path:
    """`jobmatch parse` of the tiny market by `skill_tagger` (no classifier)."""
    from pipelines.understanding.corpus import parse_corpus

    out = tmp_path_factory.mktemp("tiny_parsed") / "parsed"
    parse_corpus(skill_tagger, tiny_market, out)
    return out

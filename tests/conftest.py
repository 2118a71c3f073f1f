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

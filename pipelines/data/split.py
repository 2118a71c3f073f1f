"""Held-out documents chosen by id hash: the one document split (summarizer training and evaluation, the semi-synthetic
market's left-out real vacancies, the cold vacancies of `jobmatch split`). Users are split for training and evaluation
by `dssm.pairs.split_resumes`.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def holdout_mask(doc_ids: Sequence[str], share: float, salt: str = "") -> np.ndarray:
    """Deterministic held-out documents: crc32(salt + doc_id) % 1000 < share * 1000 (stable across runs and machines).

    `summarizer train/eval --holdout` use the unsalted split; `synth --vacancies-from ... --holdout`
    salts it (`MARKET_HOLDOUT_SALT`) so that the summarizer's own held-out documents are not the
    very vacancies the market already left out.
    """
    return np.fromiter((zlib.crc32(f"{salt}{d}".encode("utf-8")) % 1000 < share * 1000 for d in doc_ids), dtype=bool, count=len(doc_ids))


def seeded_dev_mask(doc_ids: Sequence[str], share: float, seed: int) -> np.ndarray:
    """Dev documents of the understanding sets (entity sets without a dev part, vacancy sections, silver skills):
    sha256(f"{seed}:{doc_id}")'s first 8 hex digits / 16^8 < share. Seeded, unlike `holdout_mask`.

    >>> seeded_dev_mask(["a", "b", "c", "d"], 0.5, 0).tolist()
    [False, False, False, True]
    """
    return np.fromiter((int(hashlib.sha256(f"{seed}:{d}".encode()).hexdigest()[:8], 16) / 16**8 < share for d in doc_ids),
                       dtype=bool, count=len(doc_ids))


MARKET_HOLDOUT_SALT = "market:"
"""Salt of the real vacancies `synth --vacancies-from --holdout` leaves out of a semi-synthetic market."""


COLD_VACANCY_SALT = "cold:"
"""Salt of the vacancies `jobmatch split --cold-vacancies` takes out of training (its own draw, not the market's
or the summarizer's held-out documents)."""
SPLIT_MANIFEST = "split.json"
COLD_TEST_FILE = "cold_split.json"
"""In OUT/test of a cold-vacancy split: the split's manifest, marking a folder whose events no arm trained on."""


def read_cold_split(root: str | Path) -> dict | None:
    """The manifest of a cold-vacancy test folder (`COLD_TEST_FILE`), None for any other dataset folder."""
    import json

    path = Path(root) / COLD_TEST_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def split_cold_vacancies(data: str | Path, share: float, out: str | Path, force: bool = False) -> dict:
    """Item cold start: OUT/train and OUT/test from one dataset folder, by vacancy.

    A `share` of the vacancies (`holdout_mask`, salt `COLD_VACANCY_SALT`) is *cold*: OUT/train holds the other
    vacancies, every resume and only the events on those vacancies; OUT/test holds the cold vacancies, every resume
    and only their events. A model trained on OUT/train has never seen a cold vacancy, not even as a negative, so
    `evaluate --data OUT/test` ranks vacancies whose text is all it can know. A synthetic market's truth/ travels
    along, its vacancy rows cut the same way. OUT/test/cold_split.json marks the test folder for `evaluate`, which
    then ranks for every resume with a positive there. Written to a staging folder, then put at OUT whole.
    """
    import shutil

    import pandas as pd
    import pyarrow.parquet as pq

    from dssm.errors import JobmatchError
    from dssm.io import check_output, replace_path, staging_dir, write_json, write_parquet
    from dssm.schema import INTERACTIONS_FILE, VACANCY_ID
    from pipelines.data.dataset import load_dataset, write_dataset
    from pipelines.data.synth.config import TRUTH_DIR

    if not 0.0 < share < 1.0:
        raise JobmatchError(f"--cold-vacancies must be in (0, 1), got {share}")
    out = check_output(out, [data], force)
    ds = load_dataset(data)
    if ds.interactions is None or len(ds.interactions) == 0:
        raise JobmatchError(f"{data}: no {INTERACTIONS_FILE} (a cold-vacancy split divides the events)")
    ids = ds.vacancies[VACANCY_ID].astype(str)
    cold = holdout_mask(ids.tolist(), share, COLD_VACANCY_SALT)
    if cold.all() or not cold.any():
        raise JobmatchError(f"{data}: --cold-vacancies {share} leaves {'no' if cold.all() else 'every'} vacancy for training; choose a share nearer 0.5")
    cold_set = set(ids[cold])
    event_cold = ds.interactions[VACANCY_ID].astype(str).isin(cold_set).to_numpy()
    truth = Path(data) / TRUTH_DIR
    stage = staging_dir(out)
    shutil.rmtree(stage, ignore_errors=True)
    counts = {}
    for part, keep_vac, keep_events in (("train", ~cold, ~event_cold), ("test", cold, event_cold)):
        vacancies, events = ds.vacancies[keep_vac].reset_index(drop=True), ds.interactions[keep_events].reset_index(drop=True)
        write_dataset(stage / part, vacancies, ds.resumes, events)
        counts[part] = {"vacancies": int(keep_vac.sum()), "resumes": len(ds.resumes), "events": int(keep_events.sum())}
    if truth.is_dir():
        for part in ("train", "test"):
            (stage / part / TRUTH_DIR).mkdir()
        for f in sorted(truth.iterdir()):
            if f.suffix == ".parquet" and VACANCY_ID in pq.read_schema(f).names:
                t = pd.read_parquet(f)  # read once, cut for both parts
                in_test = t[VACANCY_ID].astype(str).isin(cold_set).to_numpy()
                for part, rows in (("train", ~in_test), ("test", in_test)):
                    write_parquet(stage / part / TRUTH_DIR / f.name, t[rows].reset_index(drop=True))
            elif f.is_file():
                for part in ("train", "test"):
                    shutil.copy2(f, stage / part / TRUTH_DIR / f.name)
    manifest = {"source": str(data), "cold_vacancies": share, "salt": COLD_VACANCY_SALT, **counts}
    write_json(stage / SPLIT_MANIFEST, manifest)
    write_json(stage / "test" / COLD_TEST_FILE, manifest)
    replace_path(stage, out)
    return manifest

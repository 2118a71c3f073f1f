"""The service's page (GET /) in a real headless browser: it asks the API and shows what the API answers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pipelines.retrieval.loadtest import free_port, start_server

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(BROWSER is None, reason="no chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)")]


def browse(url: str, *flags: str) -> subprocess.CompletedProcess:
    argv = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=15000", *flags, url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def service(tiny_run, tiny_resume_index):
    port = free_port()
    argv = [sys.executable, "-m", "pipelines.cli", "serve", "--index", str(tiny_run["index"]), "--resume-index", str(tiny_resume_index),
            "--data", str(tiny_run["data"]), "--port", str(port)]
    proc = start_server(argv, port, timeout_s=120)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def test_the_page_shows_the_api_answers_for_a_resume_and_a_vacancy(service, tiny_run, tmp_path):
    import pandas as pd

    rid = str(pd.read_parquet(tiny_run["data"] / "resumes.parquet")["resume_id"].iloc[3])
    vid = str(pd.read_parquet(tiny_run["data"] / "vacancies.parquet")["vacancy_id"].iloc[5])
    api = httpx.post(f"{service}/recommend", json={"resume_id": rid, "k": 10}).json()
    cands = httpx.post(f"{service}/candidates", json={"vacancy_id": vid, "k": 10}).json()
    done = browse(f"{service}/?resume_id={rid}&vacancy_id={vid}", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    tables = dict(re.findall(r'<table class="results" data-kind="(\w+)">(.*?)</table>', done.stdout, flags=re.S))
    shown = {kind: re.findall(r'<tr class="item" data-id="([^"]+)"', body) for kind, body in tables.items()}
    assert shown["vacancy_id"] == [it["vacancy_id"] for it in api["items"]]
    assert shown["resume_id"] == [it["resume_id"] for it in cands["items"]]
    bad = browse(f"{service}/?resume_id=nobody", "--dump-dom")
    assert "HTTP 404: unknown resume id" in bad.stdout  # the API's one-line error, shown to the user
    shot = Path(os.environ.get("JOBMATCH_PAGE_SCREENSHOT", tmp_path / "page.png"))
    taken = browse(f"{service}/?resume_id={rid}&vacancy_id={vid}", "--window-size=1200,900", f"--screenshot={shot}")
    assert taken.returncode == 0 and shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

"""Every notebook in notebooks/ runs top to bottom on tiny data and shows its key outputs.

Each notebook is executed with nbclient on the `python3` kernel, which jupyter_client
starts with this interpreter (the venv's), in the repository root, with CI=true
(no progress bars), JOBMATCH_NB_OUT under tmp_path (the only place notebooks write)
and one intra-op thread (torch on a shared 2-core machine slows down many times
when its threads compete with another process). Notebooks are stored without outputs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 300

EXPECTED = {
    # notebook -> (output mime type, text it must contain) pairs, each found in some cell's output
    "attention_highlight.ipynb": [
        ("text/plain", "docs with all mentions beyond cut"),  # the 300-token cut vs the skills
        ("text/html", "boilerplate"),  # the per-section attention tables
        ("text/html", "starts_beyond_cut"),
        ("text/html", "<iframe srcdoc="),  # the highlight page, inline
        ("text/html", "rgba(220,20,20,"),
        ("text/html", "textrank"),  # summaries vs the informative sections
    ],
    "summarizer_coefficients.ipynb": [
        ("text/html", "raise the score"),  # top tokens per kind
        ("text/html", "intercept"),
        ("text/html", "accuracy"),  # the threshold table
        ("text/html", "textrank"),  # precision/recall per method
        ("text/html", "recall"),
    ],
    "understanding_walkthrough.ipynb": [
        ("text/plain", "true skills marked by the tagger"),
        ("text/html", "<mark style="),  # the highlighted resume
        ("text/html", "mean_probability"),  # sections of the resume
    ],
    "ab_report.ipynb": [
        ("text/plain", "SRM "),  # the printed analysis table
        ("text/plain", "p (Holm)"),
        ("text/html", "true_effect"),  # estimates next to the truth
        ("image/png", ""),  # the effect plot
    ],
}


def _outputs(nb) -> list[tuple[str, str]]:
    """(mime type, text) of every output; streams count as text/plain, images keep their type."""
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream":
                out.append(("text/plain", o["text"]))
            for mime, data in o.get("data", {}).items():
                out.append((mime, data if isinstance(data, str) else "".join(data)))
    return out


def test_the_issue_notebooks_exist_and_are_stored_without_outputs():
    assert {p.name for p in NOTEBOOKS} >= set(EXPECTED)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert nb.cells[0].cell_type == "markdown", f"{path.name}: the first cell must say what it shows and how to run it"
        dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
        assert not dirty, f"{path.name}: clear the outputs of cells {dirty} before committing"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_key_outputs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "CI": "true", "JOBMATCH_NB_OUT": str(tmp_path), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError) as e:
        pytest.fail(f"{path.name} failed:\n" + re.sub(r"\x1b\[[0-9;]*m", "", str(e)), pytrace=False)  # cell source + traceback, no colours
    outputs = _outputs(nb)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
    for mime, text in EXPECTED.get(path.name, []):
        assert any(m == mime and text in t for m, t in outputs), f"{path.name}: no {mime} output containing {text!r}"

"""Fuzz the HTTP API with schemathesis against the service's own OpenAPI schema.

A real `jobmatch serve` (the tiny run's index, model and summarizer) listens on loopback; for
every operation schemathesis generates valid and invalid requests from the schema and checks
each answer: no 5xx, status codes and bodies as the schema documents them, invalid data refused.
On top: a 200 never carries a NaN or null score. (Random events name no served list, so POST /events is
fuzzed for its refusals; its answers are tested in tests/test_experiment.py.) `JOBMATCH_FUZZ_EXAMPLES` raises the bound.
"""

from __future__ import annotations

import math
import os
from collections import Counter

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from pipelines.retrieval.loadtest import free_port, serve_argv, start_server  # noqa: E402

EXAMPLES = int(os.environ.get("JOBMATCH_FUZZ_EXAMPLES", "150"))
"""Hypothesis examples per operation."""
SEEN: Counter = Counter()
"""Answers by (operation, status class): what the fuzzing covered."""


@pytest.fixture(scope="module")
def server(tiny_run, tiny_resume_index, tmp_path_factory):
    """Every endpoint on: recommendations, candidates (a resume index), the log and its events."""
    port = free_port()
    argv = serve_argv(str(tiny_run["index"]), str(tiny_run["data"]), port, log_dir=str(tmp_path_factory.mktemp("fuzz_log") / "log"))
    proc = start_server(argv + ["--resume-index", str(tiny_resume_index)], port)
    yield f"http://127.0.0.1:{port}"
    proc.kill()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


def check(case) -> None:
    """One generated request against the server, with schemathesis's checks and ours."""
    response = case.call_and_validate(timeout=30)
    SEEN[(case.operation.label, f"{response.status_code // 100}xx")] += 1
    body = response.json()
    if response.status_code == 200 and "items" in body:
        assert all(isinstance(i["score"], float) and math.isfinite(i["score"]) for i in body["items"]), body
    if response.status_code >= 400:
        assert isinstance(body["detail"], str) and "\n" not in body["detail"], body


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_api_answers_within_its_schema(api_schema, mode):
    """Valid requests (positive) and schema-breaking ones (negative) for every operation of the schema."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.label for op in operations} >= {"GET /health", "POST /recommend", "POST /candidates", "POST /events"}
    for op in operations:
        if mode is GenerationMode.NEGATIVE and not (op.definition.raw.get("requestBody") or op.definition.raw.get("parameters")):
            continue  # nothing to break in a request without input (GET /health)
        run = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                       suppress_health_check=list(HealthCheck))(given(op.as_strategy(generation_mode=mode))(check))
        run()


def test_the_fuzzing_reached_both_answers_and_refusals():
    """What ran above: recommendations answered and requests refused, never a 5xx."""
    print(f"\nschemathesis: {sum(SEEN.values())} requests: " + ", ".join(f"{op} {cls}: {n}" for (op, cls), n in sorted(SEEN.items())))
    assert SEEN[("POST /recommend", "2xx")] > 0 and SEEN[("POST /recommend", "4xx")] > 0
    assert SEEN[("POST /candidates", "2xx")] > 0 and SEEN[("POST /candidates", "4xx")] > 0 and SEEN[("POST /events", "4xx")] > 0
    assert not any(cls == "5xx" for _, cls in SEEN)

"""Stage `synth`: generate the synthetic market (or the semi-synthetic one on real vacancy texts) into a dataset folder.

>>> synthesize(SynthConfig(n_vacancies=300, n_resumes=200), "runs/tiny/market")  # doctest: +SKIP
{'vacancies': 300, 'resumes': 200, 'events': ..., ...}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dssm.errors import JobmatchError
from dssm.io import check_output
from pipelines.data.synth.config import SynthConfig
from pipelines.data.synth.market import generate_market, write_market


def synthesize(cfg: SynthConfig, out: str | Path, vacancies_from: str | Path | None = None, holdout: float = 0.0, force: bool = False) -> dict[str, Any]:
    """Write the market of `cfg` into `out` (contract tables + truth/); returns its summary.

    vacancies_from: a contract folder of real vacancies, kept verbatim (semi-synthetic market);
    holdout: the share of them (by salted id hash) left out of the market for evaluation.
    An existing `out` is replaced (whole, once the new market is complete) only with `force`.
    """
    check_output(out, [vacancies_from], force)
    if not 0.0 <= holdout < 1.0:
        raise JobmatchError(f"--holdout must be in [0, 1), got {holdout}")
    if holdout and vacancies_from is None:
        raise JobmatchError("--holdout leaves out real vacancies: it needs --vacancies-from")
    if vacancies_from is not None:
        from pipelines.data.synth.real import load_real_vacancies, semi_synthetic_market

        market = semi_synthetic_market(load_real_vacancies(vacancies_from, holdout), cfg, source=str(vacancies_from))
        market.meta["holdout"] = holdout
    else:
        market = generate_market(cfg)
    return write_market(out, market)

"""Lightning trainer plumbing shared by every training run: quiet output and the DDP strategy.

`lightning_output()` wraps a `Trainer.fit` so that Lightning's warnings that say nothing
about the run are dropped and, when `dssm.io.quiet()` (CI=true), its info lines too.
`progress_bar()` is the bar every training shows (on stderr). `strategy("ddp")` is Lightning's DDP with workers started by spawning; each worker is a fresh
process and applies the same filters before it sets up (`QuietDDP.setup_environment`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lightning.pytorch.strategies import DDPStrategy

from dssm.io import quiet

LIGHTNING_NOISE = (
    r"Checkpoint directory .* exists and is not empty",  # ours: split.json is written into the model dir first
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",  # raised inside Lightning, not actionable here
    r"The number of training batches .* is smaller than the logging interval",  # small runs: the per-epoch rows are still written
    r"torch.distributed.nn.functional.all_gather is deprecated",  # Lightning's own all_gather(sync_grads=True)
)
"""Warnings Lightning raises on every `jobmatch train` that say nothing about the run."""
LIGHTNING_LOGS = ("lightning.pytorch", "lightning.fabric")
"""Loggers of Lightning's info lines (accelerator, distributed set-up), quiet under `quiet()`."""


@contextmanager
def lightning_output() -> Iterator[None]:
    """Drop `LIGHTNING_NOISE`; when `quiet()` also Lightning's info lines (accelerator, logger tips)."""
    logs = [logging.getLogger(name) for name in LIGHTNING_LOGS]
    levels = [log.level for log in logs]
    with warnings.catch_warnings():
        _quiet_lightning()
        try:
            yield
        finally:
            for log, level in zip(logs, levels):
                log.setLevel(level)


def _quiet_lightning() -> None:
    for pattern in LIGHTNING_NOISE:
        warnings.filterwarnings("ignore", message=pattern)
    if quiet():
        for name in LIGHTNING_LOGS:
            logging.getLogger(name).setLevel(logging.WARNING)


class QuietDDP(DDPStrategy):
    """DDP whose spawned workers drop the same Lightning noise as the parent."""

    def setup_environment(self) -> None:
        _quiet_lightning()
        super().setup_environment()


def progress_bar() -> list[Any]:
    """Callbacks for a Trainer's progress: Lightning's default (rich) bar on stderr — on stdout, where Lightning
    puts it, it would mix into a command's `--json` output — or none when `quiet()`."""
    from lightning.pytorch.callbacks import RichProgressBar

    return [] if quiet() else [RichProgressBar(console_kwargs={"stderr": True})]


def strategy(name: str) -> Any:
    """Lightning's strategy for `TrainConfig.strategy`. "ddp" starts its workers by spawning, not by re-running
    the command as Lightning's default "ddp" does: `jobmatch train` prepares its staging folder once, before `fit`,
    and the parent reads the result back from the checkpoints."""
    return QuietDDP(start_method="spawn") if name == "ddp" else name

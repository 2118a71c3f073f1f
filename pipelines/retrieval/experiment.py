"""Online experiments in the service: the experiment file, deterministic arm assignment, team-draft interleaving.

An experiment file (`jobmatch serve --experiment exp.yaml`)::

    name: teacher-vs-control        # names the experiment in the log
    salt: 2026-12                   # a new salt re-randomises every user
    mode: ab                        # ab | interleave
    arms:                           # the first arm is the control
      - {name: control, index: runs/demo/index_control, share: 0.5}
      - {name: teacher, index: runs/demo/index_teacher, share: 0.5, model: runs/demo/teacher}

Each arm is an index root (served at its CURRENT version, or pinned with `version:`) with its model
and summarizer (default: the ones its manifest records). In `ab` mode the shares sum to 1 and a user
goes to the arm whose cumulative-share interval holds u = hash(salt, user id) in [0, 1) (the first 8
bytes of SHA-256, so a user keeps the arm for the experiment's life and across restarts). In
`interleave` mode there are exactly two arms, shares are not used, and every list a user is shown
is the team-draft merge of both arms' rankings (Radlinski, Kurup and Joachims, "How does clickthrough
data reflect retrieval quality?", CIKM 2008): in each round a fair coin, seeded by hash(salt,
request id), picks which arm drafts first; each arm adds its best item not yet shown, and the item
remembers the arm (its team) that contributed it. A request without a user id is served by the
control arm's own list and logged as unassigned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from dssm.checks import check_numbers, in_range
from dssm.errors import JobmatchError
from dssm.io import config_from_dict

MODES = ("ab", "interleave")
INTERLEAVED = "interleave"
"""The `arm` of a response and of a log line whose list was interleaved (each item names its team)."""


@dataclass
class ArmConfig:
    """One arm: what it serves and how much traffic it gets."""

    name: str
    """Label in responses and in the log (the first arm is the control)."""
    index: str
    """Index root (`jobmatch index build --out`) the arm serves."""
    share: float | None = None
    """ab mode: the arm's share of users; the shares of all arms sum to 1."""
    version: str | None = None
    """Pin this index version (default: follow the root's CURRENT, live)."""
    model: str | None = None
    """Model dir (default: the one the index manifest records)."""
    summarizer: str | None = None
    """Summarizer dir (default: the one the index manifest records)."""

    def __post_init__(self) -> None:
        check_numbers(self)
        if not isinstance(self.name, str) or not self.name.strip() or self.name == INTERLEAVED:
            raise ValueError(f"an arm needs a non-empty name other than {INTERLEAVED!r}, got {self.name!r}")
        if not isinstance(self.index, str) or not self.index:
            raise ValueError(f"arm {self.name!r}: index must be an index root path")
        in_range(self, "share", 0, 1, low_open=True, high_open=True)


@dataclass
class ExperimentConfig:
    """An experiment: name, salt, mode and arms (see the module docstring)."""

    name: str
    """Experiment name, written on every log line."""
    salt: str
    """Hash salt of the assignment (and of interleaving's coin flips)."""
    mode: Literal["ab", "interleave"] = "ab"
    """ab: each user sees one arm; interleave: each list merges two arms (team draft)."""
    arms: list[ArmConfig] = field(default_factory=list)
    """Two or more arms (exactly two when interleaving); the first is the control."""

    def __post_init__(self) -> None:
        for name in ("name", "salt"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"{name} must be a non-empty string")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        names = [a.name for a in self.arms]
        if len(names) < 2:
            raise ValueError(f"an experiment needs at least two arms, got {len(names)}")
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must differ, got {names}")
        shares = [a.share for a in self.arms]
        if self.mode == "interleave":
            if len(names) != 2:
                raise ValueError(f"interleaving merges exactly two arms, got {len(names)}")
            if any(s is not None for s in shares):
                raise ValueError("interleave mode shows every user both arms: leave out share")
        elif any(s is None for s in shares) or abs(sum(shares) - 1) > 1e-9:
            raise ValueError(f"in ab mode every arm needs a share and the shares sum to 1, got {shares}")

    @property
    def control(self) -> str:
        return self.arms[0].name

    def assign(self, user_id: str) -> str:
        """The arm of `user_id` in ab mode (deterministic in (salt, user id))."""
        u = unit_hash(self.salt, user_id)
        edge = 0.0
        for arm in self.arms[:-1]:
            edge += float(arm.share)
            if u < edge:
                return arm.name
        return self.arms[-1].name

    def describe(self) -> dict[str, Any]:
        """What the log records of the experiment (name, salt, mode, arms with shares and paths)."""
        return {"name": self.name, "salt": self.salt, "mode": self.mode,
                "arms": [{k: v for k, v in vars(a).items() if v is not None} for a in self.arms]}


def unit_hash(salt: str, key: str) -> float:
    """SHA-256 of "salt:key" read as a number in [0, 1)."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read an experiment YAML; a one-line JobmatchError names the file and the field that is wrong. Relative
    index/model/summarizer paths are relative to the folder the command runs in."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise JobmatchError(f"{path}: experiment file not found") from e
    except (IsADirectoryError, UnicodeDecodeError) as e:
        raise JobmatchError(f"{path}: not a YAML text file ({type(e).__name__})") from e
    except yaml.YAMLError as e:
        raise JobmatchError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from e
    if not isinstance(data, dict):
        raise JobmatchError(f"{path}: expected a mapping with name, salt, mode and arms")
    arms = data.get("arms")
    if not isinstance(arms, list) or not all(isinstance(a, dict) for a in arms):
        raise JobmatchError(f"{path}: arms must be a list of mappings (name, index, share, ...)")
    data = {**data, "arms": [config_from_dict(ArmConfig, a, f"{path}: arms[{i}]") for i, a in enumerate(arms)]}
    return config_from_dict(ExperimentConfig, data, str(path))


def team_draft(rankings: dict[str, list[str]], k: int, salt: str, request_id: str) -> list[tuple[str, str]]:
    """Team-draft interleaving of two arms' rankings -> up to k (item, team) pairs, in shown order.

    Each round a coin seeded by hash(salt, request id) decides which arm picks first; each arm then picks
    its highest-ranked item not yet in the list. An arm whose ranking is used up stops picking; the other
    goes on until k items or both are used up.

    >>> team_draft({"a": ["x", "y", "z"], "b": ["y", "w", "x"]}, 3, "s", "r1")
    [('y', 'b'), ('x', 'a'), ('w', 'b')]
    """
    arms = list(rankings)
    if len(arms) != 2:
        raise JobmatchError(f"team draft merges two rankings, got {len(arms)}")
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(f"{salt}:{request_id}".encode()).digest()[:8], "big"))
    shown: list[tuple[str, str]] = []
    taken: set[str] = set()
    cursor = {a: 0 for a in arms}

    def pick(arm: str) -> bool:
        ranking = rankings[arm]
        while cursor[arm] < len(ranking) and ranking[cursor[arm]] in taken:
            cursor[arm] += 1
        if cursor[arm] >= len(ranking):
            return False
        item = ranking[cursor[arm]]
        taken.add(item)
        shown.append((item, arm))
        return True

    while len(shown) < k:
        first = arms[int(rng.integers(2))]
        order = [first, arms[1] if first == arms[0] else arms[0]]
        picked = False
        for arm in order:
            if len(shown) < k and pick(arm):
                picked = True
        if not picked:
            break
    return shown

"""Range checks for the typed configs' `__post_init__`: each failure is one `ValueError` naming the field.

`check_numbers` runs first in every config: a field annotated `int` or `float` (or `... | None`)
must hold a finite number of that kind, so NaN, infinities, booleans, strings and 2.5 for an
int never reach a range comparison (NaN passes `lr <= 0` unnoticed). `at_least` and `in_range`
then state each field's range where it is checked.

>>> from dataclasses import dataclass
>>> @dataclass
... class C:
...     lr: float = 0.1
...     def __post_init__(self):
...         check_numbers(self)
...         in_range(self, "lr", 0, None, low_open=True)
>>> C(lr=float("nan"))
Traceback (most recent call last):
...
ValueError: lr must be a finite number, got nan
>>> C(lr=-1)
Traceback (most recent call last):
...
ValueError: lr must be > 0, got -1.0
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from typing import Any


@functools.cache
def numeric_fields(cls: type) -> dict[str, tuple[type, bool]]:
    """Field name -> (int or float, whether None is allowed) for the numeric fields of dataclass `cls`."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        kinds = [a for a in args if a in (int, float)]
        if kinds and all(a in (int, float, type(None)) for a in args):
            out[f.name] = (float if float in kinds else int, type(None) in args)
    return out


def check_numbers(cfg: Any) -> None:
    """Every numeric field of dataclass `cfg` holds a finite number of its kind (floats are stored as float)."""
    for name, (kind, optional) in numeric_fields(type(cfg)).items():
        value = getattr(cfg, name)
        if value is None and optional:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            what = "an integer" if kind is int else "a finite number"
            raise ValueError(f"{name} must be {what}{' or null' if optional else ''}, got {value!r}")
        if kind is int and value != int(value):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        object.__setattr__(cfg, name, kind(value))


def at_least(cfg: Any, low: float, *names: str) -> None:
    """Each named field (None skipped) is >= `low`."""
    for name in names:
        value = getattr(cfg, name)
        if value is not None and value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")


def in_range(cfg: Any, name: str, low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> None:
    """Field `name` (None skipped) lies between `low` and `high` (None = unbounded; open ends excluded)."""
    value = getattr(cfg, name)
    if value is None:
        return
    ok_low = low is None or (value > low if low_open else value >= low)
    ok_high = high is None or (value < high if high_open else value <= high)
    if ok_low and ok_high:
        return
    if high is None:
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if low is None:
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    raise ValueError(f"{name} must be in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}, got {value}")

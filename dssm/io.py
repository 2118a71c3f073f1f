"""Artifact I/O shared by every stage: atomic writes, typed YAML configs, versions, progress bars.

Every write goes to a temporary sibling first and is renamed into place, so a crash
leaves the previous artifact intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml

from dssm.errors import JobmatchError

T = TypeVar("T")


def quiet() -> bool:
    """True when progress output should be suppressed (CI=true)."""
    return os.environ.get("CI", "").lower() == "true"


def progress(iterable: Iterable[T], **kwargs: Any) -> Iterator[T]:
    """tqdm over `iterable`, silent when CI=true."""
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", quiet())
    kwargs.setdefault("dynamic_ncols", True)
    return iter(tqdm(iterable, **kwargs))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    Works for files and directories. An existing directory at `path` is replaced
    (moved aside, then removed) only after the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp / path.name
    try:
        yield target
        if not target.exists():
            raise JobmatchError(f"internal error: nothing was written for {path}")
        if target.is_dir() and path.is_dir():
            old = path.parent / f".{path.name}.old.{os.getpid()}"
            os.replace(path, old)
            os.replace(target, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def write_parquet(path: str | os.PathLike, df: Any, schema: Any = None) -> None:
    """Write a pandas DataFrame (or pyarrow Table) to Parquet atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def versions() -> dict[str, str]:
    """Versions of Python and the key packages (installed distributions), stored in every artifact's config."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("jobmatch", "torch", "lightning", "youtokentome", "razdel", "scikit-learn", "faiss", "pandas", "pyarrow", "numpy"):
        for dist in (f"{name}-cpu", f"{name}-gpu", name) if name == "faiss" else (name,):
            try:
                out[name] = version(dist) + (f" ({dist})" if dist != name else "")
                break
            except PackageNotFoundError:  # a missing optional package is simply not listed
                continue
    return out


# ----------------------------------------------------------------------------- typed configs


def config_from_dict(cls: type[T], data: dict[str, Any] | None, source: str = "config") -> T:
    """Build dataclass `cls` from a dict, refusing unknown keys; nested dataclasses are built recursively."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise JobmatchError(f"{source}: unknown key(s) {unknown} for {cls.__name__}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        hint = hints.get(name)
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(hint, value, f"{source}.{name}")
        elif isinstance(value, list) and typing.get_origin(hint) is tuple:
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise JobmatchError(f"{source}: invalid {cls.__name__}: {e}") from e


def load_config(cls: type[T], path: str | os.PathLike) -> T:
    """Load dataclass `cls` from a YAML file; the `_meta` block `save_config` adds (versions, provenance) is ignored,
    so a saved artifact's config can be passed back as a config."""
    path = Path(path)
    if not path.exists():
        raise JobmatchError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise JobmatchError(f"{path}: not valid YAML: {e}") from e
    if data is not None and not isinstance(data, dict):
        raise JobmatchError(f"{path}: expected a mapping at the top level")
    data = dict(data or {})
    data.pop("_meta", None)
    return config_from_dict(cls, data, str(path))


def config_to_dict(cfg: Any) -> dict[str, Any]:
    out = dataclasses.asdict(cfg)
    return json.loads(json.dumps(out, default=list))


def save_config(cfg: Any, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> None:
    """Write a dataclass config as YAML atomically, with `versions()` and any extra keys under `_meta`."""
    data = config_to_dict(cfg)
    meta = {"versions": versions(), **(extra or {})}
    write_text(path, yaml.safe_dump({**data, "_meta": meta}, allow_unicode=True, sort_keys=False))

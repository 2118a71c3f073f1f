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


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot exchange
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))


def replace_path(new: Path, path: Path) -> None:
    """Put `new` (a file or a complete folder) at `path`, replacing what is there in one step.

    A folder replacing a folder is swapped with renameat2(RENAME_EXCHANGE), so at every instant
    `path` holds either the old or the new folder whole; where the file system cannot exchange,
    the old folder is moved aside first (a window of two renames in which `path` is absent).
    """
    if path.exists() and new.is_dir() != path.is_dir():
        what = ("a folder", "a file") if path.is_dir() else ("a file", "a folder")
        raise JobmatchError(f"{path} is {what[0]}; it is not replaced by {what[1]} (nothing was changed): choose another output")
    if new.is_dir() and path.is_dir():
        if _exchange(new, path):
            shutil.rmtree(new, ignore_errors=True)
            return
        old = path.parent / f".{path.name}.old.{os.getpid()}"
        os.replace(path, old)
        os.replace(new, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, path)


def staging_dir(path: str | os.PathLike) -> Path:
    """The hidden sibling `.NAME.partial` in which a long stage builds `path` (kept after a crash so `--resume` finds it)."""
    path = Path(path)
    return path.parent / f".{path.name}.partial"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; put it onto `path` only if the block succeeds (`replace_path`).

    Works for files and directories: a killed or failed block leaves the previous artifact
    untouched and nothing under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp / path.name
    try:
        yield target
        if not target.exists():
            raise JobmatchError(f"internal error: nothing was written for {path}")
        replace_path(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_output(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (), force: bool = False) -> Path:
    """Refuse to write `out` over something that must survive; -> `out` as a Path.

    `out` may not be, contain or lie inside any of `inputs` (a stage never writes into what it
    reads), and an existing `out` is replaced only with `force` (the CLI's `--force`).

    >>> check_output("/tmp/run/summaries", ["/tmp/run/market"])
    PosixPath('/tmp/run/summaries')
    >>> check_output("/tmp/run/market", ["/tmp/run/market"])
    Traceback (most recent call last):
    ...
    dssm.errors.JobmatchError: output /tmp/run/market is the input /tmp/run/market: choose another output (nothing was written)
    """
    out = Path(out)
    target = out.resolve()
    for inp in inputs:
        if inp is None:
            continue
        src = Path(inp).resolve()
        relation = "is" if target == src else "lies inside" if src in target.parents else "contains" if target in src.parents else None
        if relation:
            raise JobmatchError(f"output {out} {relation} the input {inp}: choose another output (nothing was written)")
    if out.exists() and not force:
        raise JobmatchError(f"{out} already exists; pass --force to replace it (it is replaced whole, only once the new one is complete)")
    return out


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
    for name in ("jobmatch", "torch", "lightning", "transformers", "youtokentome", "razdel", "scikit-learn", "faiss", "pandas", "pyarrow", "numpy"):
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
    except UnicodeDecodeError as e:
        raise JobmatchError(f"{path}: not a text file (byte {e.start} is not UTF-8); a config is YAML") from e
    except IsADirectoryError as e:
        raise JobmatchError(f"{path}: a folder, not a YAML config") from e
    except yaml.YAMLError as e:
        raise JobmatchError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from e
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

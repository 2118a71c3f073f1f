"""The service's log of served lists (impressions) and user events: append-only, crash-safe, readable while written.

Layout of a log folder (`jobmatch serve --log-dir DIR`)::

    experiments.json        each experiment the log has seen: name, salt, mode, arms (rewritten atomically)
    wal/<seq>.jsonl         the open write-ahead file: one JSON line per impression or event
    segments/<seq>.parquet  closed, complete segments (written under a temporary name, then renamed)
    .lock                   held by the one service writing here

Durability: a line is written to the WAL with one write(2) call before the request is answered, so
`kill -9` of the service loses no line of an answered request; a line torn by a kill mid-write
belongs to a request that was never answered, and is dropped when the log is next opened. The WAL
is fsynced every `fsync_s` seconds (default 1), which bounds what a power loss or kernel crash can
take to the last second of lines. A background thread closes the WAL when it reaches `rotate_bytes`
or `rotate_s` seconds and turns it into a Parquet segment (temp file + rename, then the WAL is
removed); a WAL left by a crash is turned into a segment when the log is next opened. Readers list
segments and the complete lines of the WALs and drop duplicates (a WAL and its segment may both be
present for a moment), so they never see a partial segment or a line twice.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dssm.errors import JobmatchError
from dssm.io import write_json, write_parquet

log = logging.getLogger("jobmatch.servedlog")

WAL_DIR = "wal"
SEGMENT_DIR = "segments"
EXPERIMENTS_FILE = "experiments.json"
EVENTS = ("view", "response", "invite")
"""Events a user can send about a shown vacancy (POST /events)."""


def _schema():
    import pyarrow as pa

    item = pa.struct([("vacancy_id", pa.string()), ("position", pa.int32()), ("score", pa.float32()), ("team", pa.string())])
    return pa.schema([
        ("kind", pa.string()), ("request_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("experiment", pa.string()),
        ("mode", pa.string()), ("user_id", pa.string()), ("arm", pa.string()), ("versions", pa.string()),
        ("items", pa.list_(item)), ("vacancy_id", pa.string()), ("event", pa.string()),
    ])


def parse_lines(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """Complete JSON lines of a WAL -> (records, number of torn or unreadable lines dropped)."""
    records, dropped = [], 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            dropped += 1
            continue
        if isinstance(rec, dict) and rec.get("kind") in ("impression", "event"):
            records.append(rec)
        else:
            dropped += 1
    return records, dropped


def records_table(records: list[dict[str, Any]]):
    """Log records (dicts as written to the WAL) -> a pyarrow Table in the segment schema."""
    import pyarrow as pa

    rows = []
    for r in records:
        row = dict(r)
        row["ts"] = datetime.fromtimestamp(float(r["ts"]), tz=timezone.utc)
        if "versions" in row and not isinstance(row["versions"], str):
            row["versions"] = json.dumps(row["versions"], sort_keys=True)
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=_schema())


class ServedLog:
    """Writer of one log folder (see the module docstring). Thread-safe; `close` flushes and seals the WAL."""

    def __init__(self, root: str | os.PathLike, rotate_bytes: int = 8 << 20, rotate_s: float = 60.0, fsync_s: float = 1.0):
        if rotate_bytes < 1 or rotate_s <= 0 or fsync_s <= 0:
            raise JobmatchError(f"log rotation needs rotate_bytes >= 1, rotate_s > 0 and fsync_s > 0, got {rotate_bytes}, {rotate_s}, {fsync_s}")
        self.root, self.rotate_bytes, self.rotate_s, self.fsync_s = Path(root), int(rotate_bytes), float(rotate_s), float(fsync_s)
        if self.root.exists() and not self.root.is_dir():
            raise JobmatchError(f"--log-dir {self.root} is a file, not a folder")
        (self.root / WAL_DIR).mkdir(parents=True, exist_ok=True)
        (self.root / SEGMENT_DIR).mkdir(exist_ok=True)
        self._lock_file = open(self.root / ".lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            self._lock_file.close()
            raise JobmatchError(f"{self.root}: another service is writing this log (lock {self.root / '.lock'})") from e
        self.recovered = {"segments": 0, "lines": 0, "torn_lines": 0}
        for wal in sorted((self.root / WAL_DIR).glob("*.jsonl")):
            n, torn = self._seal(wal)
            self.recovered["segments"] += n > 0
            self.recovered["lines"] += n
            self.recovered["torn_lines"] += torn
        self._lock = threading.Lock()
        self._open()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._background, name="servedlog", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        self._path = self.root / WAL_DIR / f"{time.time_ns():020d}-{os.getpid()}.jsonl"  # names sort by time
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._opened, self._size = time.monotonic(), 0

    def append(self, record: dict[str, Any]) -> None:
        """Write one record (an impression or an event) to the WAL before the request is answered."""
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
            self._size += len(line)

    def _seal(self, wal: Path) -> tuple[int, int]:
        """WAL file -> segment of the same name (if it has lines), then remove the WAL; -> (lines, torn lines)."""
        records, torn = parse_lines(wal.read_bytes())
        segment = self.root / SEGMENT_DIR / f"{wal.stem}.parquet"
        if records and not segment.exists():
            write_parquet(segment, records_table(records))
        wal.unlink()
        if torn:
            log.warning("%s: dropped %d torn line(s) (a request killed before it was answered)", wal, torn)
        return len(records), torn

    def rotate(self) -> None:
        """Close the current WAL, start a new one, and turn the closed one into a segment."""
        with self._lock:
            if self._size == 0:
                self._opened = time.monotonic()
                return
            fd, path = self._fd, self._path
            self._open()
        os.fsync(fd)
        os.close(fd)
        self._seal(path)

    def _background(self) -> None:
        while not self._stop.wait(self.fsync_s):
            try:
                with self._lock:
                    fd, size, age = self._fd, self._size, time.monotonic() - self._opened
                    os.fsync(fd)
                if size >= self.rotate_bytes or (size and age >= self.rotate_s):
                    self.rotate()
            except OSError as e:
                log.error("log %s: %s", self.root, e)

    def close(self) -> None:
        """Stop the background thread and seal the WAL into a segment."""
        self._stop.set()
        self._thread.join()
        self.rotate()
        with self._lock:
            os.close(self._fd)
            if self._path.exists() and self._path.stat().st_size == 0:
                self._path.unlink()
        self._lock_file.close()

    def record_experiment(self, description: dict[str, Any]) -> None:
        """Add (or update) an experiment's description in experiments.json."""
        known = read_experiments(self.root)
        known[description["name"]] = description
        write_json(self.root / EXPERIMENTS_FILE, known)


def read_experiments(root: str | os.PathLike) -> dict[str, Any]:
    path = Path(root) / EXPERIMENTS_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise JobmatchError(f"{path}: unreadable experiments file: {e}") from e


def read_records(root: str | os.PathLike) -> pd.DataFrame:
    """Every record of a log folder (complete WAL lines, then segments), duplicates dropped, in time order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(root)
    if not (root / SEGMENT_DIR).is_dir():
        raise JobmatchError(f"{root}: not a service log (no {SEGMENT_DIR}/ folder; start `jobmatch serve --log-dir {root}`)")
    tables = []
    for wal in sorted((root / WAL_DIR).glob("*.jsonl")):  # WALs first: one sealed meanwhile is a segment by the listing below
        try:
            records, _ = parse_lines(wal.read_bytes())
        except FileNotFoundError:
            continue
        if records:
            tables.append(records_table(records))
    for seg in sorted((root / SEGMENT_DIR).glob("[!.]*.parquet")):
        try:
            tables.append(pq.read_table(seg, schema=_schema()))
        except (OSError, pa.ArrowInvalid) as e:
            raise JobmatchError(f"{seg}: unreadable log segment: {e}") from e
    if not tables:
        return records_table([]).to_pandas()
    df = pa.concat_tables(tables).to_pandas()
    df["dedup"] = np.where(df["kind"] == "impression", df["request_id"], df["request_id"] + "\x00" + df["vacancy_id"].fillna("") + "\x00" + df["event"].fillna(""))
    df = df.drop_duplicates(["kind", "dedup"]).drop(columns="dedup")
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def impressions(records: pd.DataFrame) -> pd.DataFrame:
    """One row per shown item: request_id, ts, experiment, mode, user_id, arm, position, vacancy_id, score, team."""
    imp = records[records["kind"] == "impression"]
    rows = []
    for r in imp.itertuples(index=False):
        for it in r.items if r.items is not None else ():
            rows.append((r.request_id, r.ts, r.experiment, r.mode, r.user_id, r.arm, it["position"], it["vacancy_id"], it["score"], it["team"]))
    return pd.DataFrame(rows, columns=["request_id", "ts", "experiment", "mode", "user_id", "arm", "position", "vacancy_id", "score", "team"])


def events(records: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct (request, vacancy, event): request_id, ts, experiment, user_id, arm, vacancy_id, event."""
    ev = records[records["kind"] == "event"]
    return ev[["request_id", "ts", "experiment", "user_id", "arm", "vacancy_id", "event"]].reset_index(drop=True)

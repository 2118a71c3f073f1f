"""Errors a user can act on. The CLI prints them as one line and exits with status 2."""

from __future__ import annotations

from collections.abc import Sequence


class JobmatchError(Exception):
    """A problem with the user's input, artifacts or environment (not a bug)."""


class DataError(JobmatchError):
    """Bad data: names the file, the column and the first offending rows.

    >>> str(DataError("v.parquet", "vacancy_id", "duplicate id", rows=[3, 7]))
    'v.parquet: column vacancy_id: duplicate id (rows 3, 7)'
    """

    def __init__(self, file: str, column: str | None, problem: str, rows: Sequence[object] = (), max_rows: int = 5):
        self.file, self.column, self.problem, self.rows = str(file), column, problem, list(rows)
        where = f"{self.file}: column {column}: " if column else f"{self.file}: "
        shown = ", ".join(str(r) for r in self.rows[:max_rows])
        more = f" and {len(self.rows) - max_rows} more" if len(self.rows) > max_rows else ""
        super().__init__(f"{where}{problem}" + (f" (rows {shown}{more})" if self.rows else ""))

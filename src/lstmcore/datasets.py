"""Load time series: the bundled sunspot numbers, or a column of a user's CSV file.

Everything is read with the standard library's ``csv`` module (no pandas). Dates are returned as they
are written in the file, as a NumPy array of strings; values as a float64 array of shape (T,). The
bundled dates are ``'YYYY-MM'``, so ``months.astype("datetime64[M]")`` turns them into NumPy months.

Missing cells (empty, ``NA``, ``N/A``, ``nan``, ``null``; any case) are an error, never interpolated:
the ``ValueError`` says how many there are and on which lines of the file.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
from importlib import resources
from typing import Any

import numpy as np

__all__ = ["DATASETS", "load_csv", "load_dataset", "load_sunspots"]

DATASETS: dict[str, dict[str, Any]] = {
    "sunspots": {
        "description": "Monthly mean sunspot numbers, 1749-01 to 2008-12 (3120 months, no gaps).",
        "source": (
            "National Geophysical Data Center (NOAA NGDC), http://www.ngdc.noaa.gov/stp/solar/solarda3.html; "
            "redistributed in statsmodels' datasets (sunspots_monthly.dat)"
        ),
        "licence": "public domain (US Government work)",
        "frequency": "monthly",
        "season": 132,  # the ~11-year solar cycle, in months
        "file": "sunspots_monthly.csv",
        "date_column": "month",
        "column": "sunspots",
        "rows": 3120,
        "start": "1749-01",
        "end": "2008-12",
    },
}

_MISSING = frozenset({"", "na", "n/a", "nan", "null"})
_SHOWN = 10  # how many line numbers an error message lists


def load_sunspots() -> tuple[np.ndarray, np.ndarray]:
    """Monthly mean sunspot numbers from NOAA NGDC, 1749-01 to 2008-12 (see ``DATASETS``).

    Returns
    -------
    months : ndarray of str, shape (3120,)
        ``'YYYY-MM'``, increasing by one month per row.
    values : ndarray of float64, shape (3120,)
    """
    return load_dataset("sunspots")


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Load a bundled dataset by name; ``DATASETS[name]`` holds its metadata.

    Returns
    -------
    dates : ndarray of str, shape (T,)
    values : ndarray of float64, shape (T,)
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    meta = DATASETS[name]
    text = (resources.files("lstmcore") / "data" / meta["file"]).read_text(encoding="utf-8")
    dates, values = _read(io.StringIO(text, newline=""), meta["column"], meta["date_column"], 1, meta["file"])
    return dates, values


def load_csv(
    path: str | os.PathLike, column: str | int, date_column: str | int | None = None, *, min_rows: int = 1
) -> tuple[np.ndarray | None, np.ndarray]:
    """Read one numeric column (and optionally a date column) of a CSV file with a header row.

    Parameters
    ----------
    path : str or path-like
    column : str or int
        The header name of the values, or its 0-based position (negative counts from the end).
    date_column : str or int, optional
        A column returned unparsed, as strings.
    min_rows : int, default 1
        Fewer data rows than this is an error (for example ``window + horizon`` for ``make_windows``).

    Returns
    -------
    dates : ndarray of str, shape (T,), or None when ``date_column`` is None
    values : ndarray of float64, shape (T,)

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        An unknown column (the message lists the header), a non-numeric or infinite cell (its line
        and text), missing cells (how many and where), no data rows, fewer than ``min_rows``, text
        that is not UTF-8, or malformed CSV (a field longer than the csv module's limit, say).
    """
    if isinstance(min_rows, bool) or not isinstance(min_rows, numbers.Integral) or min_rows < 1:
        raise ValueError(f"min_rows must be an integer >= 1, got {min_rows!r}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no CSV file at {path!r}")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:  # utf-8-sig: tolerate a BOM
            return _read(f, column, date_column, int(min_rows), path)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text: {exc}") from None


def _column_index(header: list[str], column, argname: str, where: str) -> int:
    if isinstance(column, bool) or not isinstance(column, (str, numbers.Integral)):
        raise TypeError(f"{argname} must be a header name (str) or a position (int), got {column!r}")
    if isinstance(column, str):
        hits = [i for i, name in enumerate(header) if name == column]
        if not hits:
            raise ValueError(f"{argname} {column!r} is not in the header of {where}; available: {header}")
        if len(hits) > 1:
            raise ValueError(f"{argname} {column!r} appears {len(hits)} times in the header of {where}")
        return hits[0]
    n = len(header)
    if not -n <= column < n:
        raise ValueError(f"{argname} {column} is out of range for {n} columns in {where}: {header}")
    return int(column) % n


def _shown(cell: str) -> str:
    """A cell for an error message: its repr, cut to 60 characters."""
    return repr(cell) if len(cell) <= 60 else f"{cell[:60]!r}... ({len(cell)} characters)"


def _rows(reader, where: str):
    """The reader's rows; malformed CSV (a field over the csv module's limit, say) is a ValueError."""
    try:
        yield from reader
    except csv.Error as exc:
        raise ValueError(f"line {reader.line_num} of {where} is not valid CSV: {exc}") from None


def _read(f, column, date_column, min_rows: int, where: str) -> tuple[np.ndarray | None, np.ndarray]:
    reader = csv.reader(f)
    rows = _rows(reader, where)
    header = next(rows, None)
    if header is None:
        raise ValueError(f"{where} is empty: expected a header row, then data rows")
    header = [name.strip() for name in header]
    j = _column_index(header, column, "column", where)
    jd = None if date_column is None else _column_index(header, date_column, "date_column", where)
    need = max(j, -1 if jd is None else jd) + 1
    values: list[float] = []
    dates: list[str] = []
    missing: dict[str, list[int]] = {}
    for row in rows:
        if not row or not any(cell.strip() for cell in row):
            continue  # a blank line
        line = reader.line_num
        if len(row) < need:
            raise ValueError(f"line {line} of {where} has {len(row)} fields, expected at least {need}: {row}")
        cell = row[j].strip()
        if cell.lower() in _MISSING:
            missing.setdefault(header[j], []).append(line)
            values.append(math.nan)
        else:
            try:
                value = float(cell)
            except ValueError:
                hint = " (it spans lines: is a quote left open?)" if "\n" in cell else ""
                raise ValueError(
                    f"line {line} of {where}: column {header[j]!r} must be numeric, got {_shown(cell)}{hint}"
                ) from None
            if math.isinf(value):
                raise ValueError(
                    f"line {line} of {where}: column {header[j]!r} must be finite, got {_shown(cell)}"
                )
            values.append(value)
        if jd is not None:
            date = row[jd].strip()
            if date.lower() in _MISSING:
                missing.setdefault(header[jd], []).append(line)
            dates.append(date)
    if missing:
        parts = []
        for name, lines in missing.items():
            shown = ", ".join(map(str, lines[:_SHOWN])) + (", ..." if len(lines) > _SHOWN else "")
            parts.append(f"{len(lines)} in column {name!r} (lines {shown})")
        raise ValueError(
            f"{where} has missing cells: {'; '.join(parts)}. lstmcore does not fill gaps; "
            "fill or drop them before loading (for example by interpolating in a spreadsheet or pandas)"
        )
    if not values:
        raise ValueError(f"{where} has a header but no data rows; expected at least {min_rows}")
    if len(values) < min_rows:
        raise ValueError(f"{where} has {len(values)} data rows; expected at least min_rows={min_rows}")
    return (None if jd is None else np.array(dates, dtype=str)), np.array(values, dtype=np.float64)

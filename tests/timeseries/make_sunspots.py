"""Write src/lstmcore/data/sunspots_monthly.csv from NOAA NGDC's sunspots_monthly.dat. Run by hand.

    /work/venv/bin/python tests/timeseries/make_sunspots.py [path/to/sunspots_monthly.dat]

The source is the fixed-width text file ``sunspots_monthly.dat`` that statsmodels redistributes in
``statsmodels/datasets/sunspots/src/`` (NOAA NGDC, http://www.ngdc.noaa.gov/stp/solar/solarda3.html,
public domain). Its layout, checked line by line below:

- a 4-line header: a title, a rule of '=', ``Year Jan Feb ... Dec`` and a rule of '-';
- one row per year, 1749 to 2009: the year in columns 0-3, then 12 values each right-aligned in a
  6-character field (columns 6-11, 12-17, ..., 72-77), one decimal each; blank lines every 5 years;
- a closing rule of '-', then notes: February 1824 had no observations and its value (10.8) was
  interpolated by NGDC from January and March; "Data are preliminary after Dec 08".

What this script does:

- keeps every value exactly as printed (the text is copied, so 58.0 stays ``58.0``); checks that each
  one is a non-negative decimal, that years run on without gaps, and that the fixed-width fields agree
  with a whitespace split;
- keeps February 1824 (NGDC's own interpolation, documented in the file; not a missing value);
- drops the last, incomplete year 2009 (January to June only), which the file marks preliminary, so
  the series holds definitive values only: 1749-01 to 2008-12, 260 whole years, 3120 rows.

Output: ``month,sunspots`` then rows like ``1749-01,58.0``, LF line endings. The script fails loudly
(``SystemExit`` with the line number) on anything it does not expect, rather than guess.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NoReturn

DEFAULT_SOURCE = Path("/tmp/dl/statsmodels/datasets/sunspots/src/sunspots_monthly.dat")
TARGET = Path(__file__).resolve().parents[2] / "src" / "lstmcore" / "data" / "sunspots_monthly.csv"

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FIRST_YEAR = 1749
LAST_FINAL = (2008, 12)  # "Data are preliminary after Dec 08."
NOTES = ("No observations were available during February 1824.", "Data are preliminary after Dec 08.")
_ROW = re.compile(r"^(\d{4}) ")
_VALUE = re.compile(r"^\d{1,3}\.\d$")


def fail(lineno: int, msg: str) -> NoReturn:
    sys.exit(f"make_sunspots.py: line {lineno}: {msg}")


def parse(text: str) -> tuple[list[tuple[int, int, str]], str]:
    """Return ``[(year, month, value_text), ...]`` for every printed value, and the footer text."""
    lines = text.splitlines()
    if lines[0].strip() != "MONTHLY MEAN SUNSPOT NUMBERS" or lines[2].split() != ["Year", *MONTHS]:
        fail(1, f"unexpected header: {lines[:4]!r}")
    if set(lines[1]) != {"="} or set(lines[3]) != {"-"}:
        fail(2, f"unexpected header rules: {lines[1]!r}, {lines[3]!r}")
    rows: list[tuple[int, int, str]] = []
    year_expected = FIRST_YEAR
    for i, line in enumerate(lines[4:], start=5):
        if not line.strip():
            continue
        if set(line) == {"-"}:  # the closing rule: the notes follow
            return rows, "\n".join(lines[i:])
        m = _ROW.match(line)
        if m is None:
            fail(i, f"expected a year row, got {line!r}")
        year = int(m.group(1))
        if year != year_expected:
            fail(i, f"expected year {year_expected}, got {year}")
        year_expected += 1
        if len(line) > 78 or (len(line) - 6) % 6:
            fail(i, f"row is {len(line)} characters, expected 6 + 6 * months (at most 78)")
        fields = [line[6 + 6 * k : 12 + 6 * k].strip() for k in range((len(line) - 6) // 6)]
        if line[4:6].strip() or fields != line.split()[1:]:
            fail(i, f"fixed-width fields {fields} disagree with the whitespace split {line.split()[1:]}")
        for month, value in enumerate(fields, start=1):
            if not _VALUE.match(value):
                fail(i, f"{year}-{month:02d}: expected a non-negative decimal like 58.0, got {value!r}")
            rows.append((year, month, value))
    fail(len(lines), "no closing rule after the data rows")


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    rows, footer = parse(source.read_text(encoding="ascii"))
    for note in NOTES:
        if note not in " ".join(footer.split()):
            sys.exit(f"make_sunspots.py: the footer no longer says {note!r}; re-read the source notes")
    final = [r for r in rows if (r[0], r[1]) <= LAST_FINAL]
    dropped = rows[len(final) :]
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    with open(TARGET, "w", encoding="ascii", newline="\n") as f:
        f.write("month,sunspots\n")
        for year, month, value in final:
            f.write(f"{year}-{month:02d},{value}\n")
    first, last = final[0], final[-1]
    print(f"read {len(rows)} values from {source}")
    print(f"dropped {len(dropped)} preliminary values: {[f'{y}-{m:02d}' for y, m, _ in dropped]}")
    print(f"wrote {len(final)} rows, {first[0]}-{first[1]:02d} to {last[0]}-{last[1]:02d}, to {TARGET}")


if __name__ == "__main__":
    main(sys.argv)

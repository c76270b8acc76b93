"""lstmcore.datasets: the bundled sunspot series and load_csv on small files, every error included."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from lstmcore.datasets import DATASETS, load_csv, load_dataset, load_sunspots

# From the source file, sunspots_monthly.dat: the first row (1749) and the last definitive row (2008).
FIRST_YEAR = [58.0, 62.6, 70.0, 55.7, 85.0, 83.5, 94.8, 66.3, 75.9, 75.5, 158.6, 85.2]
LAST_YEAR = [3.3, 2.1, 9.3, 2.9, 3.2, 3.4, 0.8, 0.5, 1.1, 2.9, 4.1, 0.8]


# --- the bundled series -----------------------------------------------------------------------------


def test_sunspots_shape_and_range():
    months, values = load_sunspots()
    assert months.shape == values.shape == (3120,)
    assert values.dtype == np.float64
    assert months[0] == "1749-01" and months[-1] == "2008-12"
    assert not np.isnan(values).any()
    assert values.min() == 0.0 and values.max() == 253.8
    assert DATASETS["sunspots"]["rows"] == len(values)
    assert (DATASETS["sunspots"]["start"], DATASETS["sunspots"]["end"]) == (months[0], months[-1])


def test_sunspots_first_and_last_values_match_source():
    months, values = load_sunspots()
    np.testing.assert_array_equal(values[:12], FIRST_YEAR)
    np.testing.assert_array_equal(values[-12:], LAST_YEAR)
    i = int(np.flatnonzero(months == "1824-02")[0])  # NGDC's interpolated month, kept as published
    assert values[i] == 10.8


def test_sunspots_months_are_consecutive():
    months, _ = load_sunspots()
    m = months.astype("datetime64[M]")
    assert (np.diff(m) == np.timedelta64(1, "M")).all()
    assert m[0] == np.datetime64("1749-01")


def test_load_dataset_matches_load_sunspots():
    a_months, a_values = load_dataset("sunspots")
    b_months, b_values = load_sunspots()
    np.testing.assert_array_equal(a_months, b_months)
    np.testing.assert_array_equal(a_values, b_values)


def test_dataset_metadata():
    meta = DATASETS["sunspots"]
    assert meta["frequency"] == "monthly" and meta["season"] == 132
    for key in ("description", "source", "licence"):
        assert isinstance(meta[key], str) and meta[key]
    assert "public domain" in meta["licence"]


def test_bundled_files_present():
    data = resources.files("lstmcore") / "data"
    assert (data / "README.md").is_file()
    header = (data / "sunspots_monthly.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "month,sunspots"


def test_load_dataset_unknown_name():
    with pytest.raises(ValueError, match=r"unknown dataset 'airline'; expected one of \['sunspots'\]"):
        load_dataset("airline")
    with pytest.raises(ValueError, match=r"unknown dataset 3"):
        load_dataset(3)


# --- load_csv ---------------------------------------------------------------------------------------


def write(tmp_path, text, name="series.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_csv_by_name_and_index(tmp_path):
    path = write(tmp_path, "date,temp,load\n2024-01-01,1.5,10\n2024-01-02,-2.25,11\n2024-01-03,3e2,12\n")
    dates, values = load_csv(path, "temp", date_column="date")
    np.testing.assert_array_equal(dates, ["2024-01-01", "2024-01-02", "2024-01-03"])
    np.testing.assert_array_equal(values, [1.5, -2.25, 300.0])
    assert values.dtype == np.float64
    dates, values = load_csv(str(path), 2)
    assert dates is None
    np.testing.assert_array_equal(values, [10.0, 11.0, 12.0])
    dates, values = load_csv(path, -1, date_column=0)
    np.testing.assert_array_equal(values, [10.0, 11.0, 12.0])
    assert dates[0] == "2024-01-01"


def test_load_csv_tolerates_spaces_blank_lines_bom_crlf(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfmonth, value\r\n2020-01, 1.0\r\n\r\n2020-02 ,2.5\r\n")
    dates, values = load_csv(path, "value", date_column="month")
    np.testing.assert_array_equal(dates, ["2020-01", "2020-02"])
    np.testing.assert_array_equal(values, [1.0, 2.5])


def test_load_csv_quoted_fields(tmp_path):
    path = write(tmp_path, 'name,value\n"a, b",1\n"c",2\n')
    dates, values = load_csv(path, "value", date_column="name")
    assert dates.tolist() == ["a, b", "c"]
    assert values.tolist() == [1.0, 2.0]


def test_load_csv_round_trips_the_bundled_file():
    path = resources.files("lstmcore") / "data" / "sunspots_monthly.csv"
    with resources.as_file(path) as p:
        months, values = load_csv(p, "sunspots", date_column="month")
    ref_months, ref_values = load_sunspots()
    np.testing.assert_array_equal(months, ref_months)
    np.testing.assert_array_equal(values, ref_values)


def test_load_csv_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=r"no CSV file at .*nope\.csv"):
        load_csv(path, "x")


def test_load_csv_empty_file(tmp_path):
    with pytest.raises(ValueError, match=r"is empty: expected a header row, then data rows"):
        load_csv(write(tmp_path, ""), "x")


def test_load_csv_header_only(tmp_path):
    with pytest.raises(ValueError, match=r"has a header but no data rows; expected at least 1"):
        load_csv(write(tmp_path, "a,b\n\n"), "a")


def test_load_csv_unknown_column_lists_header(tmp_path):
    path = write(tmp_path, "date,temp\n2024,1\n")
    with pytest.raises(
        ValueError, match=r"column 'load' is not in the header of .*; available: \['date', 'temp'\]"
    ):
        load_csv(path, "load")
    with pytest.raises(ValueError, match=r"date_column 'day' is not in the header .* \['date', 'temp'\]"):
        load_csv(path, "temp", date_column="day")
    with pytest.raises(ValueError, match=r"column 2 is out of range for 2 columns in .*: \['date', 'temp'\]"):
        load_csv(path, 2)
    with pytest.raises(ValueError, match=r"column -3 is out of range for 2 columns"):
        load_csv(path, -3)
    with pytest.raises(
        TypeError, match=r"column must be a header name \(str\) or a position \(int\), got 1\.0"
    ):
        load_csv(path, 1.0)
    with pytest.raises(TypeError, match=r"date_column must be a header name .* got True"):
        load_csv(path, 1, date_column=True)


def test_load_csv_duplicate_column(tmp_path):
    with pytest.raises(ValueError, match=r"column 'x' appears 2 times in the header"):
        load_csv(write(tmp_path, "x,x\n1,2\n"), "x")


def test_load_csv_non_numeric(tmp_path):
    path = write(tmp_path, "t,v\n1,1.0\n2,2.0\n3,abc\n4,4.0\n")
    with pytest.raises(ValueError, match=r"line 4 of .*: column 'v' must be numeric, got 'abc'"):
        load_csv(path, "v")


def test_load_csv_infinite(tmp_path):
    with pytest.raises(ValueError, match=r"line 3 of .*: column 'v' must be finite, got '-inf'"):
        load_csv(write(tmp_path, "v\n1\n-inf\n"), "v")


def test_load_csv_missing_cells(tmp_path):
    path = write(tmp_path, "t,v\n1,1.0\n2,\n3,NA\n4,4.0\n5,nan\n6,N/A\n")
    with pytest.raises(
        ValueError,
        match=r"has missing cells: 4 in column 'v' \(lines 3, 4, 6, 7\)\. lstmcore does not fill gaps",
    ):
        load_csv(path, "v")


def test_load_csv_missing_dates(tmp_path):
    path = write(tmp_path, "t,v\n1,1.0\n,2.0\nnull,3.0\n")
    with pytest.raises(ValueError, match=r"missing cells: 2 in column 't' \(lines 3, 4\)"):
        load_csv(path, "v", date_column="t")
    _, values = load_csv(path, "v")  # dates not asked for: not checked
    assert values.tolist() == [1.0, 2.0, 3.0]


def test_load_csv_many_missing_cells_are_summarised(tmp_path):
    path = write(tmp_path, "v\n" + "\n".join(["1"] + ["NaN"] * 12) + "\n")
    with pytest.raises(
        ValueError, match=r"12 in column 'v' \(lines 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, \.\.\.\)"
    ):
        load_csv(path, "v")


def test_load_csv_short_row(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(ValueError, match=r"line 3 of .* has 2 fields, expected at least 3: \['4', '5'\]"):
        load_csv(path, "c")
    _, values = load_csv(path, "b")  # the short row has column b
    assert values.tolist() == [2.0, 5.0]


def test_load_csv_min_rows(tmp_path):
    path = write(tmp_path, "v\n1\n2\n3\n")
    assert load_csv(path, "v", min_rows=3)[1].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match=r"has 3 data rows; expected at least min_rows=4"):
        load_csv(path, "v", min_rows=4)
    with pytest.raises(ValueError, match=r"min_rows must be an integer >= 1, got 0"):
        load_csv(path, "v", min_rows=0)


def test_load_csv_field_over_the_csv_limit_is_a_value_error(tmp_path):
    path = write(tmp_path, "t,v\n1," + "1" * 200_000 + "\n")
    with pytest.raises(ValueError, match=r"line 2 of .* is not valid CSV: field larger than field limit"):
        load_csv(path, "v")


def test_load_csv_open_quote_is_named(tmp_path):
    path = write(tmp_path, 't,v\n1,"12\n2,3\n')
    with pytest.raises(ValueError, match=r"got '12\\n2,3' \(it spans lines: is a quote left open\?\)"):
        load_csv(path, "v")


def test_load_csv_long_bad_cell_is_cut_in_the_message(tmp_path):
    path = write(tmp_path, "t,v\n1," + "9" * 400 + "\n")
    with pytest.raises(ValueError, match=r"must be finite, got '9{60}'\.\.\. \(400 characters\)$"):
        load_csv(path, "v")


def test_load_csv_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("t,v\n1,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.csv is not UTF-8 text: 'utf-8' codec can't decode"):
        load_csv(path, "v")

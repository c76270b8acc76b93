"""`lstmcore forecast` on awkward input: shifted and extreme series, malformed CSVs, bad output paths,
sizes beyond the limit; and the integer/shape arguments of the callbacks and Dropout.

The CLI runs in-process through ``cli.main``; every run is tiny (short series, few units, 1-2 epochs).
"""

from __future__ import annotations

import numpy as np
import pytest

from lstmcore import cli
from lstmcore.callbacks import EarlyStopping, ReduceLROnPlateau
from lstmcore.layers import Dropout
from lstmcore.metrics import MeanAbsoluteError, MeanSquaredError
from lstmcore.timeseries.forecast import MAX_PARAMETERS, run_forecast, verdict

SMALL = dict(window=8, epochs=2, units=4, season=25, verbose=False)


def series(n=200, seed=0):
    """A seasonal series of integers 0..20 (exact in binary at any power-of-two scale)."""
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 1, n)
    return np.round(10 + 8 * np.sin(2 * np.pi * t / 25) + noise).clip(0, 20)


def forecast(capsys, *args):
    """Run ``lstmcore forecast --quiet ARGS`` in-process: (exit code, stdout, stderr)."""
    try:
        code = cli.main(["forecast", "--quiet", *map(str, args)])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def write_csv(path, values, header="t,v"):
    path.write_text(header + "\n" + "".join(f"{i},{v!r}\n" for i, v in enumerate(map(float, values))))
    return path


def assert_user_error(code, err, text):
    assert code == 2, err
    assert err.startswith("lstmcore forecast: error: ") and err.count("\n") == 1, err
    assert text in err and "Traceback" not in err


TINY = ("--window", 4, "--epochs", 1, "--units", 2)


# --- 1. metrics in float64 ----------------------------------------------------------------------------


def test_shifted_series_gives_the_same_metrics_and_verdict():
    values = series()
    base = run_forecast(values, **SMALL)
    shifted = run_forecast(values + 1e9, **SMALL)
    for name, m in base["metrics"].items():
        for key in ("rmse", "mae"):
            assert shifted["metrics"][name][key] == pytest.approx(m[key], rel=1e-4, abs=0), (name, key)
    assert verdict(shifted["metrics"]) == verdict(base["metrics"])
    np.testing.assert_allclose(shifted["test_pred"] - 1e9, base["test_pred"], atol=1e-4)
    assert shifted["test_pred"].dtype == np.float64


@pytest.mark.parametrize("cls", [MeanSquaredError, MeanAbsoluteError])
def test_mse_mae_metrics_compute_in_float64(cls):
    metric = cls()
    metric.update(np.array([[1e9 + 0.5]]), np.array([[1e9]], dtype=np.float32))  # not rounded to 1e9
    assert metric.result() == pytest.approx(0.25 if cls is MeanSquaredError else 0.5, rel=1e-12)


def test_shifted_forecast_is_printed_with_its_decimals(tmp_path, capsys):
    csv = write_csv(tmp_path / "s.csv", series(80) + 1e9)
    code, out, err = forecast(capsys, "--csv", csv, "--column", "v", *TINY)
    assert code == 0, err
    assert "1e+09" not in out and "after the last value: 10000000" in out


# --- 2. extreme magnitudes, constant series -----------------------------------------------------------


@pytest.mark.parametrize("power", [660, 1018, -660])
def test_power_of_two_scaled_series_gives_exactly_scaled_metrics(power):
    values = series()
    base = run_forecast(values, **SMALL)
    scaled = run_forecast(np.ldexp(values, power), **SMALL)  # near 1e198, 8e307, 1e-198
    for name, m in base["metrics"].items():
        assert np.isfinite(scaled["metrics"][name]["rmse"])
        assert scaled["metrics"][name]["rmse"] == pytest.approx(np.ldexp(m["rmse"], power), rel=1e-12, abs=0)
    assert verdict(scaled["metrics"]) == verdict(base["metrics"])


def test_subnormal_series_is_forecast_not_nan():
    values = np.ldexp(series(), -1070)  # 20 * 2**-1070 ~ 1.9e-321: subnormal, exact
    result = run_forecast(values, **SMALL)
    for m in result["metrics"].values():
        assert np.isfinite(m["rmse"]) and m["rmse"] > 0
    base = run_forecast(series(), **SMALL)
    naive = np.ldexp(base["metrics"]["naive"]["rmse"], -1070)
    assert result["metrics"]["naive"]["rmse"] == pytest.approx(naive, rel=0.02, abs=0)  # ~100 ulps


def test_errors_beyond_float64_are_a_clear_error(tmp_path, capsys):
    values = np.where(np.arange(100) % 2 == 0, -1.7e308, 1.7e308)  # naive errors of 3.4e308
    code, out, err = forecast(capsys, "--csv", write_csv(tmp_path / "x.csv", values), "--column", "v", *TINY)
    assert_user_error(code, err, "float64")
    assert "RMSE" not in out


def test_constant_series_is_a_clear_error(tmp_path, capsys):
    csv = write_csv(tmp_path / "c.csv", np.full(100, 5.0))
    code, _, err = forecast(capsys, "--csv", csv, "--column", "v", *TINY)
    assert_user_error(code, err, "constant, every value 5.0")


# --- 3. malformed CSVs, output paths, sizes ----------------------------------------------------------

ROWS = "".join(f"{i},{v}\n" for i, v in enumerate(series(80)))
MALFORMED = {
    "empty": ("", "is empty"),
    "header only": ("t,v\n", "no data rows"),
    "non-numeric": ("t,v\n" + ROWS + "80,abc\n", "must be numeric, got 'abc'"),
    "mixed types": ("t,v\n" + ROWS + "80,True\n", "must be numeric, got 'True'"),
    "missing column": ("t,w\n" + ROWS, "'v' is not in the header"),
    "NaN": ("t,v\n" + ROWS + "80,nan\n", "missing cells"),
    "inf": ("t,v\n" + ROWS + "80,-inf\n", "must be finite"),
    "few fields": ("t,v\n" + ROWS + "80\n", "has 1 fields"),
    "huge field": ("t,v\n0," + "1" * 200_000 + "\n", "field larger than field limit"),
    "open quote": ('t,v\n0,"12\n1,3\n' + ROWS, "is a quote left open?"),
    "too short": ("t,v\n" + ROWS[:40], "too short"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_csv_is_one_line_error(tmp_path, capsys, name):
    text, message = MALFORMED[name]
    csv = tmp_path / "m.csv"
    csv.write_text(text, newline="")
    code, _, err = forecast(capsys, "--csv", csv, "--column", "v", *TINY)
    assert_user_error(code, err, message)


def test_csv_not_utf8_is_one_line_error(tmp_path, capsys):
    csv = tmp_path / "b.csv"
    csv.write_bytes(b"t,v\n0,\xff\xfe\n")
    code, _, err = forecast(capsys, "--csv", csv, "--column", "v", *TINY)
    assert_user_error(code, err, "is not UTF-8 text")


@pytest.mark.parametrize(
    "text",
    ["\ufefft,v\n" + ROWS, "t,v\r\n" + ROWS.replace("\n", "\r\n"), "t,v\n" + ROWS.replace(",", "x!,", 1)],
    ids=["BOM", "CRLF", "unparsable date"],
)
def test_bom_crlf_and_odd_dates_are_read(tmp_path, capsys, text):
    csv = tmp_path / "ok.csv"
    csv.write_text(text, newline="")
    code, out, err = forecast(capsys, "--csv", csv, "--column", "v", "--date-column", "t", *TINY)
    assert code == 0, err
    assert "RMSE" in out


@pytest.mark.parametrize("option", ["--save", "--plot"])
def test_output_to_a_folder_is_refused_before_training(tmp_path, capsys, option):
    if option == "--plot":
        pytest.importorskip("matplotlib")
    csv = write_csv(tmp_path / "s.csv", series(80))
    code, out, err = forecast(capsys, "--csv", csv, "--column", "v", *TINY, option, tmp_path)
    assert_user_error(code, err, "is a folder")
    assert "trained" not in out


@pytest.mark.parametrize("path, message", [("x.xyz", "got .xyz"), ("nowhere/x.png", "does not exist")])
def test_bad_plot_path_is_refused_before_training(tmp_path, capsys, path, message):
    pytest.importorskip("matplotlib")
    csv = write_csv(tmp_path / "s.csv", series(80))
    code, out, err = forecast(capsys, "--csv", csv, "--column", "v", *TINY, "--plot", tmp_path / path)
    assert_user_error(code, err, message)
    assert "trained" not in out


def test_plot_without_extension_prints_the_file_written(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    csv = write_csv(tmp_path / "s.csv", series(80))
    code, out, err = forecast(capsys, "--csv", csv, "--column", "v", *TINY, "--plot", tmp_path / "fig")
    assert code == 0, err
    assert f"plot written to {tmp_path / 'fig.png'}" in out
    assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_of_a_series_near_1e308_is_drawn(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    csv = write_csv(tmp_path / "s.csv", series(80) * 8e306)  # up to 1.6e308: matplotlib overflows
    code, out, err = forecast(capsys, "--csv", csv, "--column", "v", *TINY, "--plot", tmp_path / "big.png")
    assert code == 0, err
    assert (tmp_path / "big.png").read_bytes()[:4] == b"\x89PNG"


def test_units_beyond_the_parameter_limit_are_refused(capsys):
    code, out, err = forecast(capsys, "--units", 100_000, "--epochs", 1)
    assert_user_error(code, err, f"the limit is {MAX_PARAMETERS:,}")
    assert "trained" not in out


def test_out_of_memory_is_one_line_error(capsys, monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 149. GiB")

    monkeypatch.setattr(cli.forecast, "run_forecast", no_memory)
    code, _, err = forecast(capsys, "--epochs", 1)
    assert_user_error(code, err, "out of memory (Unable to allocate 149. GiB); try a smaller --units")


# --- 4, 5. integer and shape arguments ----------------------------------------------------------------


def test_callbacks_accept_any_integer_type():
    assert EarlyStopping(patience=np.int64(3)).patience == 3
    assert type(EarlyStopping(patience=np.int32(3), start_from_epoch=np.uint8(2)).patience) is int
    reduce = ReduceLROnPlateau(patience=np.int64(2), cooldown=np.int16(1), factor=np.float32(0.5))
    assert (reduce.patience, reduce.cooldown, reduce.factor) == (2, 1, 0.5)


@pytest.mark.parametrize(
    "cls, kwargs, error, message",
    [
        (EarlyStopping, {"patience": 2.7}, TypeError, r"patience must be a non-negative int, got 2.7 \("),
        (EarlyStopping, {"patience": True}, TypeError, r"got True \(bool\)"),
        (EarlyStopping, {"patience": -1}, ValueError, r"patience must be a non-negative int, got -1"),
        (EarlyStopping, {"start_from_epoch": 1.5}, TypeError, r"start_from_epoch .* got 1.5"),
        (EarlyStopping, {"min_delta": "0.1"}, TypeError, r"min_delta must be a finite number, got '0.1'"),
        (ReduceLROnPlateau, {"patience": 2.7}, TypeError, r"patience must be a non-negative int, got 2.7"),
        (ReduceLROnPlateau, {"cooldown": 1.0}, TypeError, r"cooldown .* got 1.0 \(float\)"),
        (ReduceLROnPlateau, {"factor": True}, TypeError, r"factor must be a finite number, got True"),
        (ReduceLROnPlateau, {"factor": 1}, ValueError, r"factor must be in \(0, 1\), got 1"),
        (ReduceLROnPlateau, {"min_lr": -1e-3}, ValueError, r"min_lr must be >= 0, got -0.001"),
    ],
)
def test_callbacks_refuse_bool_float_and_negative_counts(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls(**kwargs)


def test_dropout_noise_shape_takes_ints_and_none():
    assert Dropout(0.5, noise_shape=[None, 1, np.int64(4)]).noise_shape == (None, 1, 4)
    assert Dropout(0.5).noise_shape is None


@pytest.mark.parametrize(
    "noise_shape, error, message",
    [
        ("12,1", TypeError, r"got '12,1' \(str\)"),
        ((1.5, 1), TypeError, r"entry 1.5"),
        ((True, 1), TypeError, r"entry True"),
        ((0, 1), ValueError, r"entry 0"),
        (4, TypeError, r"got 4 \(int\)"),
    ],
)
def test_dropout_refuses_a_bad_noise_shape(noise_shape, error, message):
    with pytest.raises(error, match="noise_shape must be None or a tuple of positive ints and None entries"):
        Dropout(0.5, noise_shape=noise_shape)
    with pytest.raises(error, match=message):
        Dropout(0.5, noise_shape=noise_shape)


def test_dropout_noise_shape_must_fit_the_input():
    layer = Dropout(0.5, noise_shape=(None, 3), seed=1)
    layer._on_build(None)
    with pytest.raises(ValueError, match=r"noise_shape \(None, 3\) does not fit an input of shape \(2, 4\)"):
        layer.forward(np.ones((2, 4), dtype=np.float32), training=True)
    assert layer.forward(np.ones((2, 4)), training=False).shape == (2, 4)

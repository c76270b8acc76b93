"""lstmcore.timeseries: windows against a plain loop, the split, scalers, baselines and metrics."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest

from lstmcore.timeseries import (
    MinMaxScaler,
    NotFittedError,
    StandardScaler,
    mae,
    make_windows,
    mape,
    naive_forecast,
    rmse,
    seasonal_naive_forecast,
    smape,
    train_test_split,
)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def windows_by_loop(data, window, horizon, stride, target):
    """The definition, one window at a time."""
    data2 = data.reshape(len(data), -1)
    X, y, origins = [], [], []
    s = 0
    while s + window + horizon <= len(data2):
        X.append(data2[s : s + window])
        y.append(data2[s + window : s + window + horizon, target])
        origins.append(s + window - 1)
        s += stride
    return np.array(X), np.array(y), np.array(origins)


# --- make_windows -----------------------------------------------------------------------------------


@pytest.mark.parametrize("window, horizon, stride", [(1, 1, 1), (3, 1, 1), (4, 2, 1), (5, 3, 2), (2, 4, 3)])
def test_windows_match_loop_1d(window, horizon, stride):
    data = np.arange(17, dtype=np.float64) * 1.5 - 4.0
    X, y, origins = make_windows(data, window, horizon, stride, return_index=True)
    X_ref, y_ref, o_ref = windows_by_loop(data, window, horizon, stride, 0)
    assert X.shape == (len(X_ref), window, 1) and y.shape == (len(X_ref), horizon)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(origins, o_ref)
    assert X.flags.c_contiguous and y.flags.c_contiguous
    assert X.dtype == y.dtype == np.float64
    assert origins.dtype.kind == "i"


@pytest.mark.parametrize("target", [0, 1, 2])
@pytest.mark.parametrize("stride", [1, 2, 5])
def test_windows_match_loop_multicolumn(rng, target, stride):
    data = rng.standard_normal((23, 3))
    X, y, origins = make_windows(data, window=4, horizon=3, stride=stride, target=target, return_index=True)
    X_ref, y_ref, o_ref = windows_by_loop(data, 4, 3, stride, target)
    assert X.shape == (len(X_ref), 4, 3)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(origins, o_ref)
    # the origin is the last row of each window, and y starts on the next row
    for n, o in enumerate(origins):
        np.testing.assert_array_equal(X[n, -1], data[o])
        assert y[n, 0] == data[o + 1, target]


def test_windows_small_example_by_hand():
    data = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0])
    X, y, origins = make_windows(data, window=3, horizon=2, stride=2, return_index=True)
    np.testing.assert_array_equal(X[:, :, 0], [[10, 11, 12], [12, 13, 14]])
    np.testing.assert_array_equal(y, [[13, 14], [15, 16]])
    np.testing.assert_array_equal(origins, [2, 4])


def test_windows_count_and_unused_tail():
    # T=10, window=3, horizon=2, stride=3: N = (10 - 5) // 3 + 1 = 2; rows 9 is never a target
    X, y = make_windows(np.arange(10.0), window=3, horizon=2, stride=3)
    assert X.shape == (2, 3, 1)
    np.testing.assert_array_equal(y, [[3, 4], [6, 7]])
    X, y = make_windows(np.arange(5.0), window=3, horizon=2)  # exactly one window
    assert X.shape == (1, 3, 1) and y.tolist() == [[3.0, 4.0]]


@pytest.mark.parametrize("shape", [(8,), (8, 1), (8, 3)])
@pytest.mark.parametrize("window, horizon, stride", [(1, 1, 1), (3, 1, 1), (3, 2, 2)])
def test_windows_are_writeable_copies(shape, window, horizon, stride):
    data = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    before = data.copy()
    X, y = make_windows(data, window, horizon, stride)
    for a in (X, y):
        assert a.flags.c_contiguous and a.flags.writeable and a.flags.owndata
        assert not np.shares_memory(a, data)
    X[...] = -1.0
    y[...] = -1.0
    np.testing.assert_array_equal(data, before)


def test_windows_dtypes():
    X, y = make_windows(np.arange(6, dtype=np.float32), 2)
    assert X.dtype == y.dtype == np.float32
    X, y = make_windows(np.arange(6), 2)  # int -> float64
    assert X.dtype == y.dtype == np.float64
    X, y = make_windows([1, 2, 3, 4], 2)  # a list
    assert X.shape == (2, 2, 1) and y.tolist() == [[3.0], [4.0]]


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"window": 0}, ValueError, r"window must be an int >= 1, got 0"),
        ({"window": 2.0}, TypeError, r"window must be an int >= 1, got 2\.0 \(float\)"),
        ({"window": True}, TypeError, r"window must be an int >= 1, got True \(bool\)"),
        ({"window": 2, "horizon": 0}, ValueError, r"horizon must be an int >= 1, got 0"),
        ({"window": 2, "horizon": False}, TypeError, r"horizon must be an int >= 1, got False"),
        ({"window": 2, "stride": -1}, ValueError, r"stride must be an int >= 1, got -1"),
        ({"window": 2, "stride": "2"}, TypeError, r"stride must be an int >= 1, got '2' \(str\)"),
        ({"window": 2, "target": 2}, ValueError, r"target must be a column index in \[0, 1\], got 2"),
        ({"window": 2, "target": -1}, ValueError, r"target must be a column index in \[0, 1\], got -1"),
        ({"window": 2, "target": 1.0}, TypeError, r"target must be an int column index, got 1\.0"),
        ({"window": 2, "target": True}, TypeError, r"target must be an int column index, got True"),
        (
            {"window": 5, "horizon": 2},
            ValueError,
            r"data has 6 rows; expected at least .* = 7 for one window",
        ),
    ],
)
def test_windows_argument_errors(kwargs, exc, match):
    data = np.zeros((6, 2))
    with pytest.raises(exc, match=match):
        make_windows(data, **kwargs)


def test_windows_data_errors():
    with pytest.raises(ValueError, match=r"data must be 1-D \(T,\) or 2-D \(T, F\), got shape \(2, 3, 4\)"):
        make_windows(np.zeros((2, 3, 4)), 1)
    with pytest.raises(ValueError, match=r"data must be 1-D .* got shape \(\)"):
        make_windows(np.float64(3.0), 1)
    with pytest.raises(ValueError, match=r"at least one column, got shape \(5, 0\)"):
        make_windows(np.zeros((5, 0)), 1)
    with pytest.raises(TypeError, match=r"data must be a real numeric array .* got dtype bool"):
        make_windows(np.ones(5, dtype=bool), 1)
    with pytest.raises(TypeError, match=r"got dtype complex128"):
        make_windows(np.ones(5, dtype=complex), 1)
    with pytest.raises(TypeError, match=r"got dtype <U1"):
        make_windows(list("abcde"), 1)
    data = np.arange(8.0)
    data[5] = np.nan
    with pytest.raises(ValueError, match=r"data must be finite, got nan at index \(5, 0\)"):
        make_windows(data, 2)
    data[5] = np.inf
    with pytest.raises(ValueError, match=r"data must be finite, got inf"):
        make_windows(data, 2)


# --- train_test_split -------------------------------------------------------------------------------


def test_split_fraction_keeps_order():
    a = np.arange(10)
    b = np.arange(20.0).reshape(10, 2)
    a_tr, a_te, b_tr, b_te = train_test_split(a, b, test_size=0.2)
    np.testing.assert_array_equal(a_tr, np.arange(8))
    np.testing.assert_array_equal(a_te, [8, 9])
    np.testing.assert_array_equal(b_tr, b[:8])
    np.testing.assert_array_equal(b_te, b[8:])


def test_split_fraction_rounds_test_up():
    a_tr, a_te = train_test_split(np.arange(11), test_size=0.25)  # 2.75 -> 3 test rows
    assert (len(a_tr), len(a_te)) == (8, 3)
    a_tr, a_te = train_test_split(np.arange(3), test_size=0.01)  # at least one test row
    assert (len(a_tr), len(a_te)) == (2, 1)


def test_split_count_and_windows():
    X, y, origins = make_windows(np.arange(30.0), 4, 2, return_index=True)  # N = 25
    X_tr, X_te, y_tr, y_te, o_tr, o_te = train_test_split(X, y, origins, test_size=5)
    assert (len(X_tr), len(X_te)) == (20, 5)
    assert o_tr[-1] < o_te[0]
    np.testing.assert_array_equal(o_te, [23, 24, 25, 26, 27])
    np.testing.assert_array_equal(y_te[:, 0], o_te + 1.0)  # the series is 0, 1, 2, ...
    assert X_te.shape == (5, 4, 1) and y_tr.shape == (20, 2)


def test_split_default_and_list_input():
    tr, te = train_test_split(list(range(10)))
    assert tr.tolist() == list(range(8)) and te.tolist() == [8, 9]


@pytest.mark.parametrize(
    "arrays, test_size, exc, match",
    [
        ((), 0.2, ValueError, r"at least one array, got none"),
        ((np.arange(5), np.arange(6)), 0.2, ValueError, r"same length .* got lengths \[5, 6\]"),
        ((np.float64(1.0),), 0.2, ValueError, r"array 0 must have at least one axis"),
        ((np.arange(5),), 0.0, ValueError, r"test_size as a float must be in \(0, 1\), got 0\.0"),
        ((np.arange(5),), 1.0, ValueError, r"test_size as a float must be in \(0, 1\), got 1\.0"),
        ((np.arange(5),), 0, ValueError, r"test_size as an int must be >= 1, got 0"),
        ((np.arange(5),), 5, ValueError, r"gives 0 train and 5 test rows; expected at least 1 on each side"),
        ((np.arange(1),), 0.5, ValueError, r"gives 0 train and 1 test rows"),
        ((np.arange(5),), True, TypeError, r"test_size must be a float in \(0, 1\) or an int >= 1, got True"),
        ((np.arange(5),), "0.2", TypeError, r"test_size must be .* got '0\.2'"),
    ],
)
def test_split_errors(arrays, test_size, exc, match):
    with pytest.raises(exc, match=match):
        train_test_split(*arrays, test_size=test_size)


# --- scalers ----------------------------------------------------------------------------------------

SCALERS = [MinMaxScaler, StandardScaler]


def minmax_by_hand(x, lo=0.0, hi=1.0):
    rng = x.max(axis=0) - x.min(axis=0)
    scale = (hi - lo) / np.where(rng == 0, 1.0, rng)
    return x * scale + (lo - x.min(axis=0) * scale)


def standard_by_hand(x):
    std = np.sqrt(((x - x.mean(axis=0)) ** 2).mean(axis=0))
    return (x - x.mean(axis=0)) / np.where(std == 0, 1.0, std)


def test_minmax_stats_equal_formulas(rng):
    x = rng.standard_normal((50, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -3.0]
    s = MinMaxScaler(feature_range=(-1, 2)).fit(x)
    np.testing.assert_array_equal(s.data_min_, x.min(axis=0))
    np.testing.assert_array_equal(s.data_max_, x.max(axis=0))
    np.testing.assert_array_equal(s.data_range_, x.max(axis=0) - x.min(axis=0))
    np.testing.assert_allclose(s.scale_, 3.0 / (x.max(axis=0) - x.min(axis=0)), rtol=1e-15)
    np.testing.assert_allclose(s.min_, -1.0 - x.min(axis=0) * s.scale_, rtol=1e-15)
    z = s.transform(x)
    np.testing.assert_allclose(z, minmax_by_hand(x, -1.0, 2.0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(z.min(axis=0), -1.0, atol=1e-14)
    np.testing.assert_allclose(z.max(axis=0), 2.0, atol=1e-14)
    assert (s.n_features_in_, s.n_samples_seen_) == (3, 50)


def test_standard_stats_equal_formulas(rng):
    x = rng.standard_normal((40, 2)) * [2.0, 0.5] + [1.0, -7.0]
    s = StandardScaler().fit(x)
    mean = x.sum(axis=0) / len(x)
    var = ((x - mean) ** 2).sum(axis=0) / len(x)  # ddof=0, as scikit-learn
    np.testing.assert_allclose(s.mean_, mean, rtol=1e-14)
    np.testing.assert_allclose(s.var_, var, rtol=1e-12)
    np.testing.assert_allclose(s.scale_, np.sqrt(var), rtol=1e-12)
    z = s.transform(x)
    np.testing.assert_allclose(z, standard_by_hand(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-14)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=1e-12)


@pytest.mark.parametrize("cls", SCALERS)
@pytest.mark.parametrize("shape", [(30,), (30, 1), (30, 4)])
def test_scaler_round_trip(rng, cls, shape):
    x = rng.standard_normal(shape) * 50.0 + 20.0
    s = cls()
    z = s.fit_transform(x)
    assert z.shape == x.shape and z.dtype == np.float64
    np.testing.assert_allclose(s.inverse_transform(z), x, rtol=1e-12)
    np.testing.assert_allclose(z, s.transform(x), rtol=0, atol=0)


@pytest.mark.parametrize("cls", SCALERS)
def test_scaler_one_d_is_one_column(rng, cls):
    x = rng.standard_normal(25)
    z1 = cls().fit_transform(x)
    z2 = cls().fit_transform(x[:, None])
    assert z1.shape == (25,) and z2.shape == (25, 1)
    np.testing.assert_array_equal(z1, z2[:, 0])


def test_constant_column_does_not_divide_by_zero():
    x = np.c_[np.arange(6.0), np.full(6, 0.1), np.full(6, -4.0)]
    mm = MinMaxScaler().fit(x)
    np.testing.assert_array_equal(mm.scale_, [0.2, 1.0, 1.0])
    z = mm.transform(x)
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z[:, 1:], 0.0)  # constant columns map to the range's low end
    np.testing.assert_allclose(mm.inverse_transform(z), x, rtol=1e-12)
    st = StandardScaler().fit(x)
    np.testing.assert_array_equal(st.var_[1:], [0.0, 0.0])  # exactly 0, not rounding noise
    np.testing.assert_array_equal(st.scale_[1:], [1.0, 1.0])
    z = st.transform(x)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(z[:, 1:], 0.0, atol=1e-15)
    np.testing.assert_allclose(st.inverse_transform(z), x, rtol=1e-12)


@pytest.mark.parametrize("cls", SCALERS)
def test_scaler_preserves_float32(rng, cls):
    x = (rng.standard_normal((20, 3)) * 10).astype(np.float32)
    s = cls().fit(x)
    z = s.transform(x)
    assert z.dtype == np.float32
    back = s.inverse_transform(z)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z, cls().fit_transform(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    assert s.inverse_transform(z[:, 1], column=1).dtype == np.float32


@pytest.mark.parametrize("cls", SCALERS)
def test_scaler_int_input_becomes_float64(cls):
    z = cls().fit_transform(np.arange(10))
    assert z.dtype == np.float64


@pytest.mark.parametrize("cls", SCALERS)
def test_inverse_transform_one_column(rng, cls):
    x = rng.standard_normal((60, 3)) * [1.0, 100.0, 0.01] + [0.0, 50.0, 2.0]
    s = cls().fit(x)
    z = s.transform(x)
    target = 1
    X, y = make_windows(z, window=5, horizon=3, target=target)
    _, y_raw = make_windows(x, window=5, horizon=3, target=target)
    back = s.inverse_transform(y, column=target)  # (N, horizon) predictions of one column
    assert back.shape == y.shape
    np.testing.assert_allclose(back, y_raw, rtol=1e-12)
    # any shape: a scalar, a 1-D vector, a 3-D block
    assert s.inverse_transform(z[7, 2], column=2) == pytest.approx(x[7, 2], rel=1e-12)
    np.testing.assert_allclose(s.inverse_transform(z[:, 0], column=0), x[:, 0], rtol=1e-12)
    np.testing.assert_allclose(s.transform(x[:, 2].reshape(3, 4, 5), column=2), z[:, 2].reshape(3, 4, 5))
    # windows (N, window, F) go through per column without column=
    np.testing.assert_allclose(s.inverse_transform(X), make_windows(x, 5, 3)[0], rtol=1e-12)


@pytest.mark.parametrize("cls", SCALERS)
def test_one_column_scaler_takes_any_shape(rng, cls):
    series = rng.standard_normal(40) * 30.0 + 100.0
    s = cls().fit(series)  # fitted on a 1-D series: one column
    X, y = make_windows(s.transform(series), window=6, horizon=3)
    _, y_raw = make_windows(series, window=6, horizon=3)
    np.testing.assert_allclose(s.inverse_transform(y), y_raw, rtol=1e-12)  # (N, horizon), no column=
    np.testing.assert_array_equal(s.inverse_transform(y), s.inverse_transform(y, column=0))
    assert s.transform(series[:, None]).shape == (40, 1)
    assert s.inverse_transform(X).shape == X.shape
    assert s.transform(np.float64(series[3])) == pytest.approx(s.transform(series)[3], rel=1e-15)


@pytest.mark.parametrize("cls", SCALERS)
def test_scaler_to_dict_from_dict(rng, cls):
    x = rng.standard_normal((30, 2)) * 3.0 + 1.0
    s = cls().fit(x) if cls is StandardScaler else cls(feature_range=(-1, 1)).fit(x)
    d = s.to_dict()
    d2 = json.loads(json.dumps(d))  # plain JSON types only
    assert d2 == d
    assert d["class"] == cls.__name__
    assert all(type(v) is float for name in cls._STATE for v in d[name])
    r = cls.from_dict(d2)
    assert r.get_params() == s.get_params()
    assert (r.n_features_in_, r.n_samples_seen_) == (2, 30)
    np.testing.assert_array_equal(r.transform(x), s.transform(x))
    np.testing.assert_array_equal(r.inverse_transform(x, column=1), s.inverse_transform(x, column=1))
    # an unfitted scaler round-trips too, and stays unfitted
    u = cls.from_dict(json.loads(json.dumps(cls().to_dict())))
    with pytest.raises(NotFittedError):
        u.transform(x)


def test_get_params_plain_values():
    assert MinMaxScaler(feature_range=(-2, 3)).get_params() == {"feature_range": [-2.0, 3.0]}
    assert StandardScaler().get_params() == {}
    assert repr(MinMaxScaler()) == "MinMaxScaler(feature_range=[0.0, 1.0])"


@pytest.mark.parametrize("cls", SCALERS)
def test_scaler_not_fitted(cls):
    s = cls()
    for method in (s.transform, s.inverse_transform):
        with pytest.raises(NotFittedError, match=rf"this {cls.__name__} is not fitted yet; call fit"):
            method(np.zeros(3))
    assert issubclass(NotFittedError, ValueError)


@pytest.mark.parametrize("cls", SCALERS)
def test_scaler_shape_errors(cls):
    s = cls().fit(np.zeros((5, 3)) + np.arange(5)[:, None])
    with pytest.raises(ValueError, match=r"must have 3 columns \(last axis\), as at fit, got shape \(5, 2\)"):
        s.transform(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"got a 1-D array but the scaler was fitted on 3 columns"):
        s.inverse_transform(np.zeros(5))
    with pytest.raises(ValueError, match=r"must have 3 columns .* got shape \(\)"):
        s.transform(1.0)
    with pytest.raises(ValueError, match=r"column must be in \[0, 2\] .* got 3"):
        s.inverse_transform(np.zeros(5), column=3)
    with pytest.raises(TypeError, match=r"column must be an int column index or None, got True"):
        s.inverse_transform(np.zeros(5), column=True)
    with pytest.raises(ValueError, match=r"non-empty 1-D \(T,\) or 2-D \(T, F\) array, got shape \(0,\)"):
        cls().fit(np.zeros(0))
    with pytest.raises(ValueError, match=r"got shape \(4, 0\)"):
        cls().fit(np.zeros((4, 0)))
    with pytest.raises(ValueError, match=r"got shape \(2, 2, 2\)"):
        cls().fit(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"data must be finite, got nan at index \(1, 0\)"):
        cls().fit(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(TypeError, match=r"got dtype bool"):
        cls().fit(np.ones(3, dtype=bool))


def test_feature_range_errors():
    with pytest.raises(ValueError, match=r"finite with min < max, got \(1, 0\)"):
        MinMaxScaler(feature_range=(1, 0))
    with pytest.raises(ValueError, match=r"finite with min < max"):
        MinMaxScaler(feature_range=(0, math.inf))
    with pytest.raises(ValueError, match=r"two numbers \(min, max\), got \(0, 1, 2\)"):
        MinMaxScaler(feature_range=(0, 1, 2))
    with pytest.raises(ValueError, match=r"two numbers"):
        MinMaxScaler(feature_range=1)


def test_from_dict_errors():
    d = MinMaxScaler().fit(np.arange(4.0)).to_dict()
    with pytest.raises(ValueError, match=r"describes a MinMaxScaler, not a StandardScaler"):
        StandardScaler.from_dict(d)
    with pytest.raises(TypeError, match=r"expects a dict"):
        MinMaxScaler.from_dict([1, 2])
    with pytest.raises(ValueError, match=r"state is missing 'data_max'"):
        MinMaxScaler.from_dict({k: v for k, v in d.items() if k != "data_max"})
    with pytest.raises(ValueError, match=r"data_min must be a list of 1 finite numbers, got \[0\.0, 1\.0\]"):
        MinMaxScaler.from_dict({**d, "data_min": [0.0, 1.0]})
    with pytest.raises(ValueError, match=r"data_max must be >= data_min"):
        MinMaxScaler.from_dict({**d, "data_min": [5.0]})
    sd = StandardScaler().fit(np.arange(4.0)).to_dict()
    with pytest.raises(ValueError, match=r"var must be >= 0, got \[-1\.0\]"):
        StandardScaler.from_dict({**sd, "var": [-1.0]})
    with pytest.raises(ValueError, match=r"mean must be a list of 1 finite numbers"):
        StandardScaler.from_dict({**sd, "mean": [math.nan]})


# --- baselines --------------------------------------------------------------------------------------

# 0..11: two "seasons" of 4 plus a partial one
SERIES = np.array([1.0, 2.0, 3.0, 4.0, 11.0, 12.0, 13.0, 14.0, 21.0, 22.0, 23.0, 24.0])


def test_naive_forecast_by_hand():
    f = naive_forecast(SERIES, [0, 5, 11], horizon=3)
    np.testing.assert_array_equal(f, [[1, 1, 1], [12, 12, 12], [24, 24, 24]])
    assert f.shape == (3, 3) and f.dtype == np.float64
    assert naive_forecast(SERIES.astype(np.float32), np.array([2]), 2).dtype == np.float32


def test_seasonal_naive_forecast_by_hand():
    # season 4, origin 7 (value 14): steps 1..4 repeat indices 4..7, steps 5..6 repeat 4..5 again
    f = seasonal_naive_forecast(SERIES, [7], horizon=6, season=4)
    np.testing.assert_array_equal(f, [[11, 12, 13, 14, 11, 12]])
    # origin 3 = season - 1 is the first usable one
    f = seasonal_naive_forecast(SERIES, [3, 9], horizon=4, season=4)
    np.testing.assert_array_equal(f, [[1, 2, 3, 4], [13, 14, 21, 22]])
    # season 1 is the naive forecast
    np.testing.assert_array_equal(
        seasonal_naive_forecast(SERIES, [2, 8], 3, season=1), naive_forecast(SERIES, [2, 8], 3)
    )


def test_seasonal_naive_matches_formula(rng):
    series = rng.standard_normal(50)
    origins = np.array([9, 10, 23, 49])
    horizon, season = 25, 10
    f = seasonal_naive_forecast(series, origins, horizon, season)
    for n, o in enumerate(origins):
        for h in range(1, horizon + 1):
            assert f[n, h - 1] == series[o + h - season * math.ceil(h / season)]


def test_baselines_with_make_windows_origins():
    series = np.arange(40.0)
    X, y, origins = make_windows(series, window=6, horizon=3, return_index=True)
    np.testing.assert_array_equal(naive_forecast(series, origins, 3)[:, 0], X[:, -1, 0])
    f = seasonal_naive_forecast(series, origins, 3, season=6)  # history inside each window
    np.testing.assert_array_equal(f, X[:, :3, 0])


def test_seasonal_index_error():
    with pytest.raises(
        ValueError,
        match=r"origins must be >= season - 1 = 3 \(the first usable origin\), got 2 at position 1",
    ):
        seasonal_naive_forecast(SERIES, [5, 2, 1], horizon=2, season=4)


@pytest.mark.parametrize("func", ["naive", "seasonal"])
def test_baseline_argument_errors(func):
    def call(series=SERIES, origins=(5,), horizon=2):
        if func == "naive":
            return naive_forecast(series, origins, horizon)
        return seasonal_naive_forecast(series, origins, horizon, season=2)

    with pytest.raises(ValueError, match=r"origins must be in \[0, 11\] .* got 12 at position 1"):
        call(origins=[3, 12])
    with pytest.raises(ValueError, match=r"origins must be in \[0, 11\] .* got -1 at position 0"):
        call(origins=[-1])
    with pytest.raises(TypeError, match=r"origins must be an integer array \(N,\), got dtype float64"):
        call(origins=[3.0])
    with pytest.raises(ValueError, match=r"origins must be 1-D \(N,\), got shape \(1, 1\)"):
        call(origins=[[3]])
    with pytest.raises(ValueError, match=r"horizon must be an int >= 1, got 0"):
        call(horizon=0)
    with pytest.raises(ValueError, match=r"series must be a non-empty 1-D array \(T,\), got shape \(12, 1\)"):
        call(series=SERIES[:, None])


def test_season_errors():
    with pytest.raises(ValueError, match=r"season must be an int >= 1, got 0"):
        seasonal_naive_forecast(SERIES, [5], 2, season=0)
    with pytest.raises(TypeError, match=r"season must be an int >= 1, got 4\.0"):
        seasonal_naive_forecast(SERIES, [5], 2, season=4.0)


# --- metrics ----------------------------------------------------------------------------------------


def test_metrics_by_hand():
    t = np.array([1.0, 2.0, 4.0, 8.0])
    p = np.array([2.0, 2.0, 1.0, 8.0])  # errors 1, 0, -3 (in t - p: -1, 0, 3, 0)
    assert rmse(t, p) == pytest.approx(math.sqrt((1 + 0 + 9 + 0) / 4), rel=1e-15)
    assert mae(t, p) == pytest.approx(1.0, rel=1e-15)
    assert mape(t, p) == pytest.approx(100 * (1 / 1 + 0 + 3 / 4 + 0) / 4, rel=1e-15)
    assert smape(t, p) == pytest.approx(100 * (2 * 1 / 3 + 0 + 2 * 3 / 5 + 0) / 4, rel=1e-15)
    for f in (rmse, mae, mape, smape):
        assert type(f(t, p)) is float
        assert f(t, t) == 0.0


def test_metrics_two_d_and_int_input():
    t = np.array([[1, 2], [3, 4]])
    p = np.array([[1, 4], [3, 0]])
    assert rmse(t, p) == pytest.approx(math.sqrt((4 + 16) / 4))
    assert mae(t, p) == pytest.approx(1.5)


def test_mape_skips_zero_targets():
    t = np.array([0.0, 2.0, 0.0, 4.0])
    p = np.array([5.0, 1.0, -3.0, 5.0])
    assert mape(t, p) == pytest.approx(100 * (1 / 2 + 1 / 4) / 2)
    assert math.isnan(mape(np.zeros(3), np.ones(3)))


def test_smape_zero_over_zero_is_zero():
    t = np.array([0.0, 0.0, 1.0, -2.0])
    p = np.array([0.0, 3.0, 1.0, 2.0])
    # entries: 0/0 -> 0, 2*3/3 = 2, 0, 2*4/4 = 2
    assert smape(t, p) == pytest.approx(100 * (0 + 2 + 0 + 2) / 4)
    assert smape(np.zeros(5), np.zeros(5)) == 0.0


@pytest.mark.parametrize("func", [rmse, mae, mape, smape])
def test_metric_errors(func):
    with pytest.raises(ValueError, match=r"same shape, got \(3,\) and \(3, 1\)"):
        func(np.ones(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"same shape, got \(2, 3\) and \(3, 2\)"):
        func(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"must not be empty"):
        func(np.ones(0), np.ones(0))
    with pytest.raises(TypeError, match=r"y_pred must be a real numeric array, got dtype <U1"):
        func(np.ones(1), ["a"])
    with pytest.raises(TypeError, match=r"y_true must be a real numeric array, got dtype bool"):
        func(np.ones(2, dtype=bool), np.ones(2))


# --- extreme magnitudes: no overflow, no underflow, no silent inf ------------------------------------


@pytest.mark.parametrize(
    "x",
    [
        np.array([-1.7e308, 0.0, 1.7e308, 8.5e307]),  # data_max - data_min overflows
        np.array([1e-322, 3e-322, 5e-320, 2.5e-320]),  # subnormal: 1 / data_range overflows
        np.array([1e9 + 1, 1e9 + 3, 1e9 + 2]),
    ],
    ids=["1e308", "1e-320", "1e9"],
)
def test_minmax_scaler_handles_extreme_magnitudes(x):
    s = MinMaxScaler().fit(x)
    z = s.transform(x)
    assert z.dtype == np.float64 and z.min() == 0.0 and z.max() == 1.0
    lo, hi = Fraction(x.min()), Fraction(x.max())
    exact = [float((Fraction(v) - lo) / (hi - lo)) for v in x]  # in exact rational arithmetic
    np.testing.assert_allclose(z, exact, rtol=1e-15)
    np.testing.assert_allclose(s.inverse_transform(z), x, rtol=1e-15)


def test_minmax_inverse_beyond_float64_is_a_value_error():
    s = MinMaxScaler().fit(np.array([0.0, 1.7e308]))
    with pytest.raises(ValueError, match=r"the value 2.0 at index \(1,\) maps outside the range of float64"):
        s.inverse_transform(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"maps outside the range of float32"):
        s.inverse_transform(np.array([1.0], dtype=np.float32))
    assert np.isnan(s.inverse_transform(np.array([np.nan]))).all()  # nan in, nan out: not an overflow


def test_minmax_scaler_float32_is_computed_in_float64():
    x = np.array([1e9, 1e9 + 100.0])
    s = MinMaxScaler().fit(x)
    z32 = np.array([0.25, 0.5], dtype=np.float32)
    np.testing.assert_array_equal(s.inverse_transform(z32.astype(np.float64)), [1e9 + 25, 1e9 + 50])


@pytest.mark.parametrize(
    "x", [np.array([-1e200, 1e200]), np.array([1e-322, 5e-320])], ids=["1e200", "1e-320"]
)
def test_standard_scaler_unrepresentable_variance_is_a_value_error(x):
    with pytest.raises(ValueError, match=r"StandardScaler cannot hold the statistics of column 0"):
        StandardScaler().fit(x)


@pytest.mark.parametrize("scale", [2.0**1000, 2.0**-1000, 2.0**-1060], ids=["big", "small", "subnormal"])
def test_metrics_do_not_overflow_or_underflow(scale):
    t = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([2.0, 2.0, 0.0, 4.0])
    rel = 1e-4 if scale < 2.0**-1022 else 1e-12  # a subnormal result keeps ~14 bits here
    assert rmse(t * scale, p * scale) == pytest.approx(rmse(t, p) * scale, rel=rel, abs=0)
    assert mae(t * scale, p * scale) == pytest.approx(mae(t, p) * scale, rel=rel, abs=0)
    assert mape(t * scale, p * scale) == pytest.approx(mape(t, p), rel=1e-12, abs=0)
    assert smape(t * scale, p * scale) == pytest.approx(smape(t, p), rel=1e-12, abs=0)


def test_metrics_refuse_non_finite_and_overflowing_errors():
    with pytest.raises(ValueError, match=r"y_pred must be finite, got nan at index \(1,\)"):
        rmse(np.ones(2), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"y_true must be finite, got inf"):
        mae(np.array([np.inf]), np.ones(1))
    with pytest.raises(ValueError, match=r"y_true - y_pred overflows float64"):
        rmse(np.array([1.7e308]), np.array([-1.7e308]))

"""Time-series helpers in plain NumPy: windows, a chronological split, scalers, baselines, metrics.

A series is ``(T,)`` or ``(T, F)`` (T time steps, F columns). Integer input becomes float64; float32
stays float32 (windows, scalers, baselines); scalers and metrics compute in float64, without
overflow or underflow for values near 1e308 or 1e-320, and metrics return a Python float. Nothing
here shuffles: the order of time is kept everywhere.

Typical use, on a 1-D series (``n_fit`` rows for fitting the scaler: the training part only)::

    scaler = MinMaxScaler().fit(series[:n_fit])
    X, y, origins = make_windows(scaler.transform(series), window=24, horizon=6, return_index=True)
    X_tr, X_te, y_tr, y_te, o_tr, o_te = train_test_split(X, y, origins, test_size=0.2)
    pred = scaler.inverse_transform(model.predict(X_te), column=0)  # back to the series' units
    truth = scaler.inverse_transform(y_te, column=0)
    rmse(truth, pred), rmse(truth, seasonal_naive_forecast(series, o_te, horizon=6, season=132))

The scalers follow scikit-learn's transformer API (``get_params(deep=True)``, ``set_params``,
``fit(X, y=None)``, ``transform``, ``fit_transform``, ``inverse_transform``), so they go in a
``Pipeline`` and ``clone`` copies them; scikit-learn itself is not needed for that.

Errors name what was expected and what was received: ``TypeError`` for the wrong kind of argument,
``ValueError`` for a wrong value or shape, ``NotFittedError`` (a ``ValueError``) for a scaler used
before ``fit``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "MinMaxScaler",
    "NotFittedError",
    "StandardScaler",
    "mae",
    "make_windows",
    "mape",
    "naive_forecast",
    "rmse",
    "seasonal_naive_forecast",
    "smape",
    "train_test_split",
]


class NotFittedError(ValueError, AttributeError):
    """A scaler was used before ``fit`` (a ``ValueError`` and ``AttributeError``, as in scikit-learn)."""


# --- checks -----------------------------------------------------------------------------------------


def _int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def _float_array(name: str, a) -> np.ndarray:
    """``a`` as a float array: float32 kept, float64 kept, integers and other floats to float64."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)
    if a.dtype.kind in "iu":
        return a.astype(np.float64)
    raise TypeError(f"{name} must be a real numeric array (float or int), got dtype {a.dtype}")


def _finite(name: str, a: np.ndarray) -> None:
    if not np.isfinite(a).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{name} must be finite, got {a[where]} at index {where}")


def _series(name: str, series) -> np.ndarray:
    series = _float_array(name, series)
    if series.ndim != 1 or series.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (T,), got shape {series.shape}")
    return series


def _origins(origins, T: int) -> np.ndarray:
    origins = np.asarray(origins)
    if origins.dtype.kind not in "iu":
        raise TypeError(f"origins must be an integer array (N,), got dtype {origins.dtype}")
    if origins.ndim != 1:
        raise ValueError(f"origins must be 1-D (N,), got shape {origins.shape}")
    bad = (origins < 0) | (origins >= T)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"origins must be in [0, {T - 1}] (indices into series), got {origins[i]} at position {i}"
        )
    return origins.astype(np.intp)


# --- windows and split ------------------------------------------------------------------------------


def make_windows(
    data, window: int, horizon: int = 1, stride: int = 1, target: int = 0, return_index: bool = False
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a series into (input window, next ``horizon`` targets) pairs for supervised learning.

    With ``s = n * stride``: ``X[n] = data[s : s + window]`` and
    ``y[n] = data[s + window : s + window + horizon, target]``.

    Parameters
    ----------
    data : array_like, shape (T,) or (T, F)
        Finite values; a 1-D series is one column (F = 1).
    window, horizon, stride : int >= 1
    target : int
        The column (0 <= target < F) that ``y`` is taken from.
    return_index : bool
        Also return ``origins``.

    Returns
    -------
    X : ndarray, shape (N, window, F)
    y : ndarray, shape (N, horizon)
    origins : ndarray of intp, shape (N,), only with ``return_index``
        The index in ``data`` of each window's last observed step, ``s + window - 1``: the forecast
        origin to pass to ``naive_forecast`` / ``seasonal_naive_forecast``.

    Notes
    -----
    ``N = (T - window - horizon) // stride + 1``; trailing rows that do not fill a last stride are
    unused. ``X`` and ``y`` are C-contiguous copies, with the dtype of ``data`` (float32 kept).
    """
    window, horizon, stride = _int("window", window), _int("horizon", horizon), _int("stride", stride)
    data = _float_array("data", data)
    if data.ndim not in (1, 2):
        raise ValueError(f"data must be 1-D (T,) or 2-D (T, F), got shape {data.shape}")
    data2 = data.reshape(data.shape[0], -1) if data.ndim == 1 else data  # (T, F)
    T, F = data2.shape
    if F == 0:
        raise ValueError(f"data must have at least one column, got shape {data.shape}")
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, numbers.Integral):
        raise TypeError(f"target must be an int column index, got {target!r} ({type(target).__name__})")
    if not 0 <= target < F:
        raise ValueError(f"target must be a column index in [0, {F - 1}], got {target}")
    if T < window + horizon:
        raise ValueError(
            f"data has {T} rows; expected at least window + horizon = {window} + {horizon} = "
            f"{window + horizon} for one window"
        )
    _finite("data", data2)
    N = (T - window - horizon) // stride + 1
    # sliding_window_view(data2, window, axis=0)[s] is data2[s : s + window].T, shape (F, window)
    X = np.lib.stride_tricks.sliding_window_view(data2, window, axis=0)[: N * stride : stride]
    # copy(), not ascontiguousarray: a view that already counts as contiguous (horizon 1, say) would
    # come back as is, read-only and sharing memory with data
    X = X.transpose(0, 2, 1).copy(order="C")  # (N, window, F)
    y = np.lib.stride_tricks.sliding_window_view(data2[window:, target], horizon)[: N * stride : stride]
    y = y.copy(order="C")  # (N, horizon)
    if return_index:
        origins = np.arange(N, dtype=np.intp) * stride + (window - 1)
        return X, y, origins
    return X, y


def train_test_split(*arrays, test_size: float | int = 0.2) -> tuple[np.ndarray, ...]:
    """Split arrays chronologically along axis 0: the last part goes to test. No shuffling.

    Parameters
    ----------
    *arrays : array_like
        One or more arrays with the same length (first axis).
    test_size : float in (0, 1) or int >= 1
        A fraction of the rows (rounded up, as in scikit-learn) or a number of rows.

    Returns
    -------
    tuple
        ``(a_train, a_test, b_train, b_test, ...)``: views of the inputs, ``a[:n_train]`` and
        ``a[n_train:]``.
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array, got none")
    arrays = tuple(np.asarray(a) for a in arrays)
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise ValueError(f"array {i} must have at least one axis, got a scalar")
    n = arrays[0].shape[0]
    lengths = [a.shape[0] for a in arrays]
    if any(m != n for m in lengths):
        raise ValueError(f"all arrays must have the same length (first axis), got lengths {lengths}")
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, (numbers.Integral, numbers.Real)):
        raise TypeError(f"test_size must be a float in (0, 1) or an int >= 1, got {test_size!r}")
    if isinstance(test_size, numbers.Integral):
        if test_size < 1:
            raise ValueError(f"test_size as an int must be >= 1, got {test_size}")
        n_test = int(test_size)
    else:
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size as a float must be in (0, 1), got {test_size}")
        n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if n_train < 1 or n_test < 1:
        raise ValueError(
            f"test_size={test_size!r} with {n} rows gives {n_train} train and {n_test} test rows; "
            "expected at least 1 on each side"
        )
    out: list[np.ndarray] = []
    for a in arrays:
        out += [a[:n_train], a[n_train:]]
    return tuple(out)


# --- scalers ----------------------------------------------------------------------------------------


class _Scaler:
    """Per-column statistics kept in float64; subclasses define the map and its inverse.

    A subclass sets ``_STATE`` (the fitted arrays stored by ``to_dict``), ``_fit_stats(x2)`` (x2 is
    (T, F) float64), ``_forward`` / ``_inverse`` (``sel`` is a column index or ``slice(None)``),
    ``get_params`` and ``_check_state``. ``get_params`` returns the very objects the constructor
    stored (scikit-learn's ``clone`` checks that they are passed through unchanged).
    """

    _STATE: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.n_features_in_: int | None = None
        self.n_samples_seen_: int | None = None

    def _fit_stats(self, x2: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _forward(self, x: np.ndarray, sel) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _inverse(self, x: np.ndarray, sel) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_state(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def set_params(self, **params) -> _Scaler:
        """Change constructor parameters by name (scikit-learn's API), checked as the constructor
        checks them; the fitted state is kept. Returns ``self``."""
        valid = self.get_params(deep=False)
        for key in params:
            if key not in valid:
                raise ValueError(
                    f"invalid parameter {key!r} for {type(self).__name__}; expected one of {sorted(valid)}"
                )
        checked = type(self)(**{**valid, **params})
        for key in params:
            setattr(self, key, getattr(checked, key))
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return self.n_features_in_ is not None

    def __sklearn_tags__(self):
        """scikit-learn's tags (called by scikit-learn only, so it is imported here): a transformer
        of 1-D or 2-D float data that keeps float32 and float64, with no target."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(preserves_dtype=["float64", "float32"]),
            input_tags=InputTags(one_d_array=True, two_d_array=True),
        )

    def _check_fitted(self) -> None:
        if self.n_features_in_ is None:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(data) before transform or "
                "inverse_transform"
            )

    def _select(self, x: np.ndarray, column) -> int | slice:
        """Which statistics apply to ``x``: column j's (``column=j``, or F == 1) or all, on the last axis."""
        self._check_fitted()
        F = self.n_features_in_
        if column is not None:
            if isinstance(column, (bool, np.bool_)) or not isinstance(column, numbers.Integral):
                raise TypeError(f"column must be an int column index or None, got {column!r}")
            if not 0 <= column < F:
                raise ValueError(
                    f"column must be in [0, {F - 1}] (the scaler was fitted on {F} columns), got {column}"
                )
            return int(column)
        if F == 1:
            return 0  # one column: its statistics apply to every value, whatever the shape
        if x.ndim == 1:
            raise ValueError(
                f"got a 1-D array but the scaler was fitted on {F} columns; pass (T, {F}) data, or "
                "column=j to use the statistics of column j for every value"
            )
        if x.ndim == 0 or x.shape[-1] != F:
            raise ValueError(
                f"data must have {F} columns (last axis), as at fit, got shape {x.shape}; "
                "use column=j to scale values of one column"
            )
        return slice(None)

    def _stat(self, name: str, sel, dtype: np.dtype) -> np.ndarray:
        return np.asarray(getattr(self, name)[sel], dtype=dtype)

    def fit(self, data, y=None) -> _Scaler:
        """Compute per-column statistics of ``data`` (T,) or (T, F); a 1-D series is one column.

        ``y`` is ignored (scikit-learn's API). Returns ``self``.
        """
        x = _float_array("data", data)
        if x.ndim not in (1, 2) or x.size == 0:
            raise ValueError(f"data must be a non-empty 1-D (T,) or 2-D (T, F) array, got shape {x.shape}")
        x2 = x.reshape(x.shape[0], -1).astype(np.float64)
        _finite("data", x2)
        self._fit_stats(x2)
        self.n_samples_seen_, self.n_features_in_ = x2.shape
        return self

    def fit_transform(self, data, y=None) -> np.ndarray:
        """``fit(data)`` then ``transform(data)``; ``y`` is ignored."""
        return self.fit(data).transform(data)

    def transform(self, data, column: int | None = None) -> np.ndarray:
        """Scale ``data``, in its own dtype (float32 kept).

        Fitted on F > 1 columns: ``data`` is (T, F), or any array whose last axis is F, like windows
        (N, window, F), and is scaled per column. Fitted on one column (a 1-D series): any shape is
        accepted, every value scaled with that column's statistics. With ``column=j``, any shape is
        accepted and every value is scaled with the statistics of column j.
        """
        x = _float_array("data", data)
        return self._forward(x, self._select(x, column))

    def inverse_transform(self, data, column: int | None = None) -> np.ndarray:
        """Undo ``transform`` (same shape rules).

        Predictions (N, horizon) need nothing more when the scaler was fitted on one column; for a
        multi-column scaler, ``column=j`` inverts values of column j.
        """
        x = _float_array("data", data)
        return self._inverse(x, self._select(x, column))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (plain floats, ints and lists): class, parameters and fitted state."""
        d: dict[str, Any] = {"class": type(self).__name__, "params": self.get_params()}
        if self.n_features_in_ is not None:
            d["n_features_in"] = int(self.n_features_in_)
            d["n_samples_seen"] = int(self.n_samples_seen_)
            for name in self._STATE:
                d[name] = [float(v) for v in getattr(self, name + "_")]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        """Rebuild a scaler, fitted or not, from the output of ``to_dict()``."""
        if not isinstance(d, dict):
            raise TypeError(f"from_dict expects a dict from to_dict(), got {type(d).__name__}")
        if d.get("class", cls.__name__) != cls.__name__:
            raise ValueError(f"this dict describes a {d['class']}, not a {cls.__name__}")
        self = cls(**d.get("params", {}))
        if "n_features_in" in d:
            F = _int("n_features_in", d["n_features_in"])
            for name in cls._STATE:
                if name not in d:
                    raise ValueError(
                        f"{cls.__name__} state is missing {name!r}; expected keys {list(cls._STATE)}"
                    )
                v = np.asarray(d[name], dtype=np.float64)
                if v.shape != (F,) or not np.isfinite(v).all():
                    raise ValueError(f"{name} must be a list of {F} finite numbers, got {d[name]!r}")
                setattr(self, name + "_", v)
            self._check_state()
            self.n_features_in_ = F
            self.n_samples_seen_ = _int("n_samples_seen", d.get("n_samples_seen", 1))
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def _representable(what: str, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out`` (float64) in ``x``'s dtype; a finite input whose result overflows is a ValueError."""
    with np.errstate(over="ignore"):
        out = out.astype(x.dtype, copy=False)
    bad = ~np.isfinite(out) & np.isfinite(x)
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        raise ValueError(
            f"{what}: the value {float(x[i])!r} at index {i} maps outside the range of {x.dtype} "
            f"(largest {np.finfo(x.dtype).max:.4g})"
        )
    return out


class MinMaxScaler(_Scaler):
    """Map each column's [min, max] at fit onto ``feature_range``, like scikit-learn's MinMaxScaler.

    ``z = x * scale_ + min_`` with ``scale_ = (hi - lo) / (data_max_ - data_min_)`` and
    ``min_ = lo - data_min_ * scale_``. A constant column has its range taken as 1 (scikit-learn's
    rule), so it maps to ``lo``. Values outside the fitted range map outside ``feature_range``.

    The maps are computed in float64 as ``(x - data_min_) / data_range_``, after scaling the data by
    a power of two (exact) that brings the fitted extremes below 1 in magnitude: so data near 1e308
    (where ``data_max_ - data_min_`` overflows) or near 1e-320 (where ``1 / data_range_`` does) is
    scaled correctly. A result that float64 (or float32 data's own dtype) cannot hold is a
    ``ValueError``, never an inf.

    Attributes (after ``fit``; float64, shape (F,)): ``data_min_``, ``data_max_``, ``data_range_``,
    ``scale_``, ``min_``; and ``n_features_in_``, ``n_samples_seen_``.
    """

    _STATE = ("data_min", "data_max")

    def __init__(self, feature_range: Sequence[float] = (0, 1)) -> None:
        super().__init__()
        try:
            lo, hi = (float(v) for v in feature_range)
        except (TypeError, ValueError):
            raise ValueError(f"feature_range must be two numbers (min, max), got {feature_range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"feature_range must be finite with min < max, got {feature_range!r}")
        # Stored as a list of two floats; a list that already is one is kept as it is, so that
        # get_params hands scikit-learn's clone back the object it passed in.
        plain = type(feature_range) is list and all(type(v) is float for v in feature_range)
        self.feature_range = feature_range if plain else [lo, hi]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters as plain Python values (``deep`` is scikit-learn's, unused)."""
        return {"feature_range": self.feature_range}

    def _fit_stats(self, x2: np.ndarray) -> None:
        self.data_min_ = x2.min(axis=0)
        self.data_max_ = x2.max(axis=0)

    @property
    def data_range_(self) -> np.ndarray:
        return self.data_max_ - self.data_min_

    @property
    def scale_(self) -> np.ndarray:
        lo, hi = self.feature_range
        return (hi - lo) / np.where(self.data_range_ == 0, 1.0, self.data_range_)

    @property
    def min_(self) -> np.ndarray:
        return self.feature_range[0] - self.data_min_ * self.scale_

    def _unit(self, sel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per column: a power-of-two exponent e, and data_min_ and the range, both times 2**-e.

        2**e is just above the largest fitted magnitude, so the range is at most 2 (no overflow) and
        at least about 2**-53 for any non-constant column (no division by a subnormal). A constant
        column keeps e = 0 and a range of 1 (scikit-learn's rule).
        """
        lo, hi = self.data_min_[sel], self.data_max_[sel]
        e = np.where(hi == lo, 0, np.frexp(np.maximum(np.abs(lo), np.abs(hi)))[1])
        lo, hi = np.ldexp(lo, -e), np.ldexp(hi, -e)
        return e, lo, np.where(hi == lo, 1.0, hi - lo)

    def _forward(self, x: np.ndarray, sel) -> np.ndarray:
        e, data_lo, span = self._unit(sel)
        lo, hi = self.feature_range
        z = (np.ldexp(x.astype(np.float64), -e) - data_lo) / span * (hi - lo) + lo
        return _representable("transform", x, z)

    def _inverse(self, x: np.ndarray, sel) -> np.ndarray:
        e, data_lo, span = self._unit(sel)
        lo, hi = self.feature_range
        with np.errstate(over="ignore"):  # checked below
            back = np.ldexp((x.astype(np.float64) - lo) / (hi - lo) * span + data_lo, e)
        return _representable("inverse_transform", x, back)

    def _check_state(self) -> None:
        if (self.data_max_ < self.data_min_).any():
            raise ValueError(
                f"data_max must be >= data_min, got {self.data_min_.tolist()} and {self.data_max_.tolist()}"
            )


class StandardScaler(_Scaler):
    """Centre each column on its mean and divide by its standard deviation (ddof=0), like scikit-learn.

    ``z = (x - mean_) / scale_`` with ``scale_ = sqrt(var_)``. A constant column (max == min) gets
    ``var_ = 0`` and ``scale_ = 1``, so it maps to 0.

    Attributes (after ``fit``; float64, shape (F,)): ``mean_``, ``var_``, ``scale_``; and
    ``n_features_in_``, ``n_samples_seen_``.
    """

    _STATE = ("mean", "var")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters (there are none; ``deep`` is scikit-learn's, unused)."""
        return {}

    def _fit_stats(self, x2: np.ndarray) -> None:
        constant = x2.max(axis=0) == x2.min(axis=0)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # checked below
            mean, var = x2.mean(axis=0), x2.var(axis=0)
        bad = ~np.isfinite(mean) | ~np.isfinite(var) | ((var == 0) & ~constant)
        if bad.any():
            j = int(np.argmax(bad))
            raise ValueError(
                f"StandardScaler cannot hold the statistics of column {j} in float64 (its variance "
                f"overflows or underflows; values from {float(x2[:, j].min())!r} to "
                f"{float(x2[:, j].max())!r}); use MinMaxScaler"
            )
        self.mean_ = mean
        self.var_ = np.where(constant, 0.0, var)  # exactly 0, not rounding noise

    @property
    def scale_(self) -> np.ndarray:
        return np.where(self.var_ == 0, 1.0, np.sqrt(self.var_))

    def _forward(self, x: np.ndarray, sel) -> np.ndarray:
        return (x - self._stat("mean_", sel, x.dtype)) / self._stat("scale_", sel, x.dtype)

    def _inverse(self, x: np.ndarray, sel) -> np.ndarray:
        return x * self._stat("scale_", sel, x.dtype) + self._stat("mean_", sel, x.dtype)

    def _check_state(self) -> None:
        if (self.var_ < 0).any():
            raise ValueError(f"var must be >= 0, got {self.var_.tolist()}")


# --- baselines --------------------------------------------------------------------------------------


def naive_forecast(series, origins, horizon: int) -> np.ndarray:
    """Repeat the last observed value: ``forecast[n, h] = series[origins[n]]`` for every step h.

    Parameters
    ----------
    series : array_like, shape (T,)
        The whole series (history may be longer than the model's window).
    origins : array_like of int, shape (N,)
        Index of the last observed step of each forecast (``make_windows(..., return_index=True)``).
    horizon : int >= 1

    Returns
    -------
    ndarray, shape (N, horizon), the dtype of ``series``
    """
    series = _series("series", series)
    horizon = _int("horizon", horizon)
    origins = _origins(origins, series.shape[0])
    return np.repeat(series[origins][:, None], horizon, axis=1)


def seasonal_naive_forecast(series, origins, horizon: int, season: int) -> np.ndarray:
    """Repeat the last observed season: step h (1-based) is ``series[o + h - season * ceil(h / season)]``.

    Every index used is at most ``origin`` (nothing from the future). The smallest is
    ``origin + 1 - season``, so each origin must be at least ``season - 1``.

    Parameters
    ----------
    series : array_like, shape (T,)
    origins : array_like of int, shape (N,)
    horizon, season : int >= 1
        ``season`` in steps (132 for monthly sunspots: the ~11-year cycle).

    Returns
    -------
    ndarray, shape (N, horizon), the dtype of ``series``

    Raises
    ------
    ValueError
        An origin below ``season - 1`` (the message names the first usable origin).
    """
    series = _series("series", series)
    horizon, season = _int("horizon", horizon), _int("season", season)
    origins = _origins(origins, series.shape[0])
    h = np.arange(1, horizon + 1)
    lag = h - season * ((h + season - 1) // season)  # h - season * ceil(h / season), in (-season, 0]
    early = origins < season - 1
    if early.any():
        i = int(np.argmax(early))
        raise ValueError(
            f"seasonal_naive_forecast with season={season} needs a full season of history: origins must "
            f"be >= season - 1 = {season - 1} (the first usable origin), got {origins[i]} at position {i}"
        )
    return series[origins[:, None] + lag[None, :]]


# --- metrics ----------------------------------------------------------------------------------------


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for name, a in (("y_true", y_true), ("y_pred", y_pred)):
        a = np.asarray(a)
        if a.dtype.kind not in "fiu":
            raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
        arrays.append(a.astype(np.float64))
    t, p = arrays
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}")
    if t.size == 0:
        raise ValueError(f"y_true and y_pred must not be empty, got shape {t.shape}")
    _finite("y_true", t)
    _finite("y_pred", p)
    return t, p


def _abs_errors(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, float]:
    """``|t - p| / s`` and ``s = max |t - p|`` (1 when 0): the sums and squares of rmse/mae cannot
    overflow near 1e308 or underflow near 1e-320. A difference beyond float64 is a ValueError."""
    with np.errstate(over="ignore"):
        d = np.abs(t - p)
    if not np.isfinite(d).all():
        raise ValueError("y_true - y_pred overflows float64 (values beyond 1.8e308 apart)")
    s = float(d.max()) or 1.0
    return d / s, s


def _per_entry_scaled(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``t`` and ``p`` times a power of two (exact) per entry, bringing both below 1 in magnitude:
    ratios of them are unchanged, and their differences cannot overflow."""
    e = np.frexp(np.maximum(np.abs(t), np.abs(p)))[1]
    return np.ldexp(t, -e), np.ldexp(p, -e)


def rmse(y_true, y_pred) -> float:
    """Root mean squared error over all entries, ``sqrt(mean((y_true - y_pred)**2))``."""
    d, s = _abs_errors(*_pair(y_true, y_pred))
    return float(s * np.sqrt(np.mean(d**2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error over all entries, ``mean(|y_true - y_pred|)``."""
    d, s = _abs_errors(*_pair(y_true, y_pred))
    return float(s * np.mean(d))


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error, in percent: ``100 * mean(|y_true - y_pred| / |y_true|)``.

    Only entries with ``y_true != 0`` are averaged (the ratio is undefined at 0); if every ``y_true``
    is 0 the result is ``nan``. Series with zeros (sunspots has 66 zero months) are better judged by
    ``smape``, ``mae`` or ``rmse``.
    """
    t, p = _pair(y_true, y_pred)
    nz = t != 0
    if not nz.any():
        return math.nan
    t, p = _per_entry_scaled(t[nz], p[nz])
    with np.errstate(divide="ignore"):  # |t| far below |p| (beyond 2**1074 apart) is an inf ratio
        return float(100.0 * np.mean(np.abs(t - p) / np.abs(t)))


def smape(y_true, y_pred) -> float:
    """Symmetric MAPE, in percent (0 to 200): ``100 * mean(2 |y_true - y_pred| / (|y_true| + |y_pred|))``.

    An entry where both are 0 counts as 0 (a perfect forecast).
    """
    t, p = _per_entry_scaled(*_pair(y_true, y_pred))
    num = 2.0 * np.abs(t - p)
    den = np.abs(t) + np.abs(p)
    ratio = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    return float(100.0 * np.mean(ratio))

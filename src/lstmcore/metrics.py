"""Keras-style stateful metrics: ``update(y_true, y_pred)`` per batch, ``result()`` per epoch, ``reset()``.

Each metric computes one value per sample (or per element) and keeps a running sum and count, as
Keras's ``Mean``-based metrics do, so the value over an epoch of uneven batches equals the metric on
the whole data. Sums are kept in float64; MSE and MAE also compute their per-sample values in float64.

``get_metric`` resolves names as ``Model.compile(metrics=[...])`` does in Keras 3
(keras/src/trainers/compile_utils.py, ``get_metric``): the metric's ``name`` is the string that was
passed ('mae' stays 'mae'), so History keys match Keras's. 'accuracy' / 'acc' are resolved, as in
Keras 3, from the shapes of the first batch, not from the loss:

- y_pred's last axis is 1: ``BinaryAccuracy``;
- else y_true has fewer axes than y_pred, or a last axis of 1: ``SparseCategoricalAccuracy``;
- else ``CategoricalAccuracy``.

With the usual heads this gives BinaryAccuracy for binary_crossentropy on one sigmoid unit,
CategoricalAccuracy for categorical_crossentropy and SparseCategoricalAccuracy for
sparse_categorical_crossentropy. Plain ``Accuracy`` (exact equality) is only had by asking for it
(``Accuracy()``), as in Keras.
"""

from __future__ import annotations

import numbers

import numpy as np

from .losses import _as_arrays, _as_pred, _check_same_shape

__all__ = [
    "Metric",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "get_metric",
]


def _same_shape(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = _as_arrays(y_true, y_pred)
    _check_same_shape(y_true, y_pred)
    return y_true, y_pred


def _float64_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """As ``_same_shape``, then both in float64 from the values given: y_true is not rounded to
    y_pred's float32 first (1e9 + 0.5 stays 1e9 + 0.5)."""
    _same_shape(y_true, y_pred)
    return np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)


class Metric:
    """Running mean of the per-sample values returned by ``_values`` (a subclass hook)."""

    default_name = "metric"

    def __init__(self, name: str | None = None):
        if name is None:
            name = self.default_name
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, received name={name!r}")
        self.name = name
        self.reset()

    def _values(self, y_true, y_pred) -> np.ndarray:
        raise NotImplementedError

    def update(self, y_true, y_pred) -> None:
        """Add one batch."""
        values = self._values(y_true, y_pred)
        self._total += float(np.sum(values, dtype=np.float64))
        self._count += values.size

    def result(self) -> float:
        """The mean over every sample seen since ``reset`` (0.0 before any, as Keras)."""
        return self._total / self._count if self._count else 0.0

    def reset(self) -> None:
        self._total = 0.0
        self._count = 0

    # Keras spellings
    def update_state(self, y_true, y_pred) -> None:
        self.update(y_true, y_pred)

    def reset_state(self) -> None:
        self.reset()

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__, "name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class MeanSquaredError(Metric):
    """Per sample mean((y_true - y_pred)**2) over the last axis."""

    default_name = "mean_squared_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _float64_pair(y_true, y_pred)
        return np.mean(np.square(y_pred - y_true), axis=-1)


class MeanAbsoluteError(Metric):
    """Per sample mean(|y_true - y_pred|) over the last axis."""

    default_name = "mean_absolute_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _float64_pair(y_true, y_pred)
        return np.mean(np.abs(y_pred - y_true), axis=-1)


class Accuracy(Metric):
    """How often y_pred equals y_true exactly; per sample, the mean over the last axis (as Keras)."""

    default_name = "accuracy"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _same_shape(y_true, y_pred)
        return np.mean(y_true == y_pred, axis=-1, dtype=np.float64)


class BinaryAccuracy(Metric):
    """How often (y_pred > threshold) equals y_true: per sample, the mean over the last axis.

    ``threshold`` must lie in (0, 1), as in Keras ``BinaryAccuracy``.
    """

    default_name = "binary_accuracy"

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 < threshold < 1:
            raise ValueError(f"threshold must be a number in (0, 1), received threshold={threshold!r}")
        self.threshold = float(threshold)
        super().__init__(name)

    def _values(self, y_true, y_pred):
        y_true, y_pred = _same_shape(y_true, y_pred)
        return np.mean(y_true == (y_pred > self.threshold), axis=-1, dtype=np.float64)

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals argmax(y_true) (one-hot targets), per sample."""

    default_name = "categorical_accuracy"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _same_shape(y_true, y_pred)
        return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


class SparseCategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals the class id y_true, per sample; y_true (...) or (..., 1)."""

    default_name = "sparse_categorical_accuracy"

    def _values(self, y_true, y_pred):
        y_pred = _as_pred(y_pred)
        y_true = np.asarray(y_true)
        lead = y_pred.shape[:-1]
        if y_true.shape == (*lead, 1):
            y_true = y_true.reshape(lead)
        if y_true.shape != lead:
            raise ValueError(
                f"y_true must hold one class id per sample, shape {lead} or {(*lead, 1)}, for "
                f"y_pred.shape={y_pred.shape}; got y_true.shape={y_true.shape}"
            )
        return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float64)


class _KerasAccuracy(Metric):
    """'accuracy' / 'acc' from ``compile``: the concrete metric is chosen from the first batch's shapes.

    Keras 3 rule (compile_utils.is_binary_or_sparse_categorical): binary if y_pred's last axis is 1;
    else sparse categorical if y_true has fewer axes or a last axis of 1; else categorical.
    """

    def __init__(self, name: str):
        self.resolved: Metric | None = None
        super().__init__(name)

    def _resolve(self, y_true, y_pred) -> Metric:
        y_true, y_pred = np.asarray(y_true), _as_pred(y_pred)
        if y_pred.shape[-1] == 1:
            return BinaryAccuracy(name=self.name)
        if y_true.ndim < y_pred.ndim or (y_true.ndim and y_true.shape[-1] == 1):
            return SparseCategoricalAccuracy(name=self.name)
        return CategoricalAccuracy(name=self.name)

    def _values(self, y_true, y_pred):
        if self.resolved is None:
            self.resolved = self._resolve(y_true, y_pred)
        return self.resolved._values(y_true, y_pred)

    def get_config(self) -> dict:
        return {"class_name": "accuracy", "name": self.name}


_CLASSES = {
    cls.__name__: cls
    for cls in (
        MeanSquaredError,
        MeanAbsoluteError,
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
    )
}
_NAMES = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
}


def get_metric(identifier, loss=None) -> Metric:
    """A metric from a name ('mse', 'mae', 'accuracy', 'acc', 'binary_accuracy', ...), a class name or
    a ``Metric`` instance (returned as is). The metric's ``name`` is the string passed.

    ``loss`` is accepted so that ``compile`` can pass it, but, as in Keras 3, 'accuracy' is resolved
    from the shapes of y_true and y_pred at the first ``update`` (see the module docstring).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return _KerasAccuracy(name=identifier)
        cls = _NAMES.get(key) or _CLASSES.get(identifier)
        if cls is not None:
            return cls(name=identifier)
    valid = ", ".join(repr(n) for n in ["accuracy", "acc", *_NAMES, *_CLASSES])
    raise ValueError(f"unknown metric {identifier!r}; valid names are {valid}")

"""Keras 3's numeric preprocessing layers: ``Normalization`` (features standardized with the mean
and variance of the data, from ``adapt`` or given) and ``Rescaling`` (x * scale + offset). Both
keep the mask and pass gradients through (their statistics are not trained)."""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from .._config import EPSILON
from .base import Layer, _batched, _cached


def _number_or_array(layer: str, name: str, value):
    try:
        a = None if value is None or isinstance(value, (str, bytes)) else np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        a = None
    if a is None or not np.isfinite(a).all():
        raise TypeError(f"{layer}: {name} must be a finite number or list of numbers, got {value!r:.80}")
    return a


class Rescaling(Layer):
    """``x * scale + offset``, Keras 3's ``Rescaling``: ``scale`` and ``offset`` numbers, or lists
    broadcast against the last axes of x (per feature). The usual replacement of Keras's
    ``Lambda(lambda x: x * 100.0)``: ``Rescaling(100.0)``."""

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _number_or_array("Rescaling", "scale", scale)
        self.offset = _number_or_array("Rescaling", "offset", offset)
        self._scale_given, self._offset_given = scale, offset
        self._shape = None

    def _check_input_shape(self, input_shape) -> None:
        full = (1, *[1 if d is None else d for d in input_shape])
        for name, a in (("scale", self.scale), ("offset", self.offset)):
            try:
                fits = np.broadcast_shapes(a.shape, full) == full
            except ValueError:
                fits = False
            if not fits:
                raise ValueError(
                    f"Rescaling: {name} of shape {a.shape} does not broadcast against inputs of shape "
                    f"{(None, *input_shape)}"
                )

    def forward(self, x, training=False, mask=None):
        _batched(self, x)
        for name, a in (("scale", self.scale), ("offset", self.offset)):
            if a.ndim >= x.ndim or any(
                d not in (1, n) for d, n in zip(a.shape[::-1], x.shape[::-1], strict=False)
            ):
                raise ValueError(f"Rescaling: {name} of shape {a.shape} does not fit x of shape {x.shape}")
        t = x.dtype.type
        self._shape = x.shape if training else None
        return x * self.scale.astype(t) + self.offset.astype(t)

    def backward(self, dy):
        _cached(self, self._shape)
        self._shape = None
        return dy * self.scale.astype(dy.dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        for name, given in (("scale", self._scale_given), ("offset", self._offset_given)):
            config[name] = (
                np.asarray(given).tolist() if not isinstance(given, numbers.Number) else float(given)
            )
        return config


def _axes(value) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),)
    if isinstance(value, (list, tuple)) and all(
        isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in value
    ):
        return tuple(int(a) for a in value)
    raise TypeError(f"Normalization: axis must be None, an int or a list of ints, got {value!r}")


class Normalization(Layer):
    """Standardizes features, Keras 3's ``Normalization``: ``(x - mean) / max(sqrt(variance),
    1e-7)`` (``invert=True``: ``mean + x * max(sqrt(variance), 1e-7)``), with one mean and variance
    per position of the kept ``axis`` (default -1: per feature; None: one for all), from
    ``adapt(data)`` (an array, or an iterable of batches: the statistics over every batch, as
    Keras's) or the ``mean`` and ``variance`` arguments.

    Weights (adapted; not trained): ``mean`` and ``variance`` of the kept axes' shape and
    ``count`` (Keras's; kept at 0 as Keras keeps it), none with ``mean``/``variance`` given.
    ``adapt`` may come before the layer is in a model (the model starts from what it found).
    """

    supports_masking = True
    non_trainable_names = ("mean", "variance", "count")

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes(axis)
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization: give both mean and variance or neither, got mean={mean!r:.40}")
        self.input_mean = None if mean is None else _number_or_array("Normalization", "mean", mean)
        self.input_variance = (
            None if variance is None else _number_or_array("Normalization", "variance", variance)
        )
        if mean is not None:
            if self.input_mean.shape != self.input_variance.shape:
                raise ValueError(
                    f"Normalization: mean and variance need the same shape, got {self.input_mean.shape} and "
                    f"{self.input_variance.shape}"
                )
            if self.input_mean.ndim > len(self.axis):
                raise ValueError(
                    f"Normalization: mean of shape {self.input_mean.shape} has more axes than "
                    f"axis={self.axis}"
                )
        self._given = (mean, variance)
        self.invert = bool(invert)
        self._adapted = None  # (mean, variance) found by adapt before the weights existed
        self._denom = None

    # Shapes.
    def _kept(self, input_shape) -> tuple[int, ...]:
        ndim = len(input_shape) + 1  # with the batch axis, as Keras counts the axes
        for a in self.axis:
            if not -ndim <= a < ndim:
                raise ValueError(f"Normalization: axis {a} is out of range for inputs of {ndim} axes")
        kept = tuple(sorted({a % ndim for a in self.axis}))  # an axis named twice is kept once
        if 0 in kept:
            raise ValueError("Normalization: the batch axis (0) cannot be kept; its size is not known")
        return kept

    def _kept_shape(self, input_shape) -> tuple[int, ...]:
        return tuple(input_shape[a - 1] for a in self._kept(input_shape))

    def _check_input_shape(self, input_shape) -> None:
        for a, d in zip(self._kept(input_shape), self._kept_shape(input_shape), strict=True):
            if d is None:
                raise ValueError(f"Normalization: the kept axis {a} needs a known size, got None")

    def weight_specs(self, input_shape):
        if self.input_mean is not None:
            return []
        shape = self._kept_shape(input_shape)
        return [("mean", shape, "zeros"), ("variance", shape, "ones"), ("count", (), "zeros")]

    def _initial_value(self, name, shape, init, rng, dtype):
        if self._adapted is not None and name in ("mean", "variance"):
            return np.asarray(self._adapted[name == "variance"], dtype=dtype).reshape(shape)
        return super()._initial_value(name, shape, init, rng, dtype)

    def _broadcast(self, a, ndim: int, kept) -> np.ndarray:
        """mean or variance (the kept axes' shape, or given: fewer trailing axes) as (1, ...)."""
        shape = [1] * ndim
        for i in range(1, a.ndim + 1):
            shape[kept[-i]] = a.shape[-i]
        return a.reshape(shape)

    def _statistics(self, x):
        """(mean, max(sqrt(variance), eps)) shaped to broadcast against x."""
        kept = self._kept(x.shape[1:])
        if self.input_mean is not None:
            mean, var = self.input_mean, self.input_variance
        elif self.built and "mean" in self.params:
            mean, var = self.params["mean"], self.params["variance"]
        else:
            raise RuntimeError(
                f"layer {self.name!r}: Normalization needs adapt(data) or mean and variance first"
            )
        t = x.dtype.type
        var = self._broadcast(var, x.ndim, kept).astype(t)
        return self._broadcast(mean, x.ndim, kept).astype(t), np.maximum(np.sqrt(var), t(EPSILON))

    # Adapt, forward, backward.
    def adapt(self, data, batch_size=None, steps=None) -> None:
        """The mean and variance of ``data`` over every axis but the kept ones: an array, or an
        iterable of batches (combined as Keras's running update; ``steps``: at most that many)."""
        if isinstance(data, np.ndarray) or (hasattr(data, "shape") and hasattr(data, "dtype")):
            batches = [np.asarray(data, dtype=np.float64)]
        elif hasattr(data, "__iter__"):
            batches = itertools.islice(iter(data), steps) if steps is not None else iter(data)
        else:
            raise TypeError(
                f"Normalization.adapt takes an array or an iterable of batches, got {type(data).__name__}"
            )
        total_mean = total_var = None
        total = 0
        shape = None
        for batch in batches:
            if isinstance(batch, (tuple, list)) and batch and hasattr(batch[0], "shape"):
                batch = batch[0]  # (x, y) pairs: their inputs
            b = np.asarray(batch, dtype=np.float64)
            if b.ndim < 1:
                raise ValueError("Normalization.adapt needs batches with a batch axis")
            kept = self._kept(b.shape[1:])
            if shape is None:
                shape = b.shape[1:]
            elif any(b.shape[a] != shape[a - 1] for a in kept):
                raise ValueError(
                    f"Normalization.adapt: a batch of shape {b.shape} does not fit {(None, *shape)}"
                )
            reduce = tuple(a for a in range(b.ndim) if a not in kept)
            mean, var = b.mean(axis=reduce), b.var(axis=reduce)
            n = int(np.prod([b.shape[a] for a in reduce])) if reduce else 1
            if total_mean is None:
                total_mean, total_var, total = mean, var, n
                continue
            total += n
            w = n / total
            new = total_mean * (1 - w) + mean * w
            total_var = (1 - w) * (total_var + np.square(total_mean - new)) + w * (
                var + np.square(mean - new)
            )
            total_mean = new
        if total_mean is None:
            raise ValueError("Normalization.adapt got no data")
        if self.input_mean is not None:
            raise ValueError("Normalization: a layer given mean and variance is not adapted")
        if self.built and "mean" in self.params:
            if self.params["mean"].shape != total_mean.shape:
                raise ValueError(
                    f"Normalization.adapt: data of shape {(None, *shape)} does not fit the layer built for "
                    f"{(None, *self.build_shape)}"
                )
            self.params["mean"][...] = total_mean
            self.params["variance"][...] = total_var
        else:
            self._adapted = (total_mean, total_var)

    def forward(self, x, training=False, mask=None):
        _batched(self, x)
        if self.built and self.build_shape is not None:
            kept = self._kept(self.build_shape)
            if x.ndim != len(self.build_shape) + 1 or any(
                x.shape[a] != self.build_shape[a - 1] for a in kept
            ):
                raise ValueError(
                    f"layer {self.name!r}: Normalization was built for inputs {(None, *self.build_shape)} "
                    f"(kept axes {kept}); got x of shape {x.shape}"
                )
        mean, denom = self._statistics(x)
        self._denom = denom if training else None
        return mean + x * denom if self.invert else (x - mean) / denom

    def backward(self, dy):
        denom = _cached(self, self._denom)
        self._denom = None
        return dy * denom if self.invert else dy / denom

    def get_config(self) -> dict:
        config = super().get_config()
        mean, variance = self._given
        config.update(
            axis=list(self.axis),
            invert=self.invert,
            mean=None if mean is None else np.asarray(mean).tolist(),
            variance=None if variance is None else np.asarray(variance).tolist(),
        )
        return config

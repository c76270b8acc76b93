"""Keras's activation layers with arguments: ``ReLU`` (max_value, negative_slope, threshold),
``LeakyReLU``, ``ELU``, ``PReLU`` (a learned slope below 0) and ``Softmax`` (an axis, and Keras's
mask: masked entries get no share). Element by element (Softmax: along its axis); the mask passes
through."""

from __future__ import annotations

import numpy as np

from .base import Layer, _batched, _cached, _initializer, _initializer_name
from .reshaping import _check_x, _no_step


def _number(layer: str, name: str, value, *, allow_none=False, minimum=None) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{layer}: {name} must be a number{' or None' if allow_none else ''}, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise ValueError(f"{layer}: {name} must be a finite number{bound}, got {value!r}")
    return value


class _Elementwise(Layer):
    """What the element-wise activation layers share: y = f(x), dx = dy * f'(x)."""

    supports_masking = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._x = None

    def _f(self, x):
        raise NotImplementedError

    def _df(self, x):
        raise NotImplementedError

    def forward(self, x, training=False, mask=None):
        _batched(self, x)
        self._x = x if training else None
        return self._f(x)

    def backward(self, dy):
        return dy * self._df(_cached(self, self._x))

    def step(self, x_t):
        return self._f(x_t)


class ReLU(_Elementwise):
    """``x`` above ``threshold`` (clipped at ``max_value``), ``negative_slope * (x - threshold)`` at
    or below it, as ``keras.layers.ReLU``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _number("ReLU", "max_value", max_value, allow_none=True, minimum=0.0)
        self.negative_slope = _number("ReLU", "negative_slope", negative_slope, minimum=0.0)
        self.threshold = _number("ReLU", "threshold", threshold, minimum=0.0)

    def _f(self, x):
        t = x.dtype.type(self.threshold)
        above = x if self.max_value is None else np.minimum(x, x.dtype.type(self.max_value))
        return np.where(x > t, above, x.dtype.type(self.negative_slope) * (x - t))

    def _df(self, x):
        t = x.dtype.type(self.threshold)
        inside = x > t if self.max_value is None else (x > t) & (x <= x.dtype.type(self.max_value))
        return np.where(
            inside, x.dtype.type(1), np.where(x > t, x.dtype.type(0), x.dtype.type(self.negative_slope))
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(_Elementwise):
    """``x`` for x >= 0, ``negative_slope * x`` below (Keras's default slope 0.3; ``alpha`` is its
    deprecated name)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _number("LeakyReLU", "negative_slope", negative_slope, minimum=0.0)

    def _f(self, x):
        return np.where(x >= 0, x, x.dtype.type(self.negative_slope) * x)

    def _df(self, x):
        return np.where(x >= 0, x.dtype.type(1), x.dtype.type(self.negative_slope))

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_Elementwise):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` at or below 0."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number("ELU", "alpha", alpha)

    def _f(self, x):
        return np.where(x > 0, x, x.dtype.type(self.alpha) * np.expm1(np.minimum(x, 0)))

    def _df(self, x):
        return np.where(x > 0, x.dtype.type(1), x.dtype.type(self.alpha) * np.exp(np.minimum(x, 0)))

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """``exp(x) / sum(exp(x))`` along ``axis`` (an int or a list of ints). With Keras's mask (one
    that broadcasts against x, aligned on the last axes), the masked entries take no share: they
    count as a very negative number (-1e9; -3e4 in float16), as Keras 3."""

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        items = axis if isinstance(axis, (list, tuple)) else [axis]
        if not items or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in items):
            raise TypeError(f"Softmax: axis must be an int or a non-empty list of ints, got {axis!r}")
        self.axis = [int(a) for a in items] if isinstance(axis, (list, tuple)) else int(axis)
        self._y = None

    def _axes(self, ndim: int) -> tuple[int, ...]:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        resolved = sorted({a + ndim if a < 0 else a for a in axes})
        if len(resolved) != len(axes) or not all(0 <= a < ndim for a in resolved):
            raise ValueError(f"Softmax: axis {self.axis} does not fit inputs of {ndim} axes")
        return tuple(resolved)

    def _check_input_shape(self, input_shape) -> None:
        self._axes(len(input_shape) + 1)

    def forward(self, x, training=False, mask=None):
        _batched(self, x)
        axes = self._axes(x.ndim)
        if mask is not None:
            mask = np.asarray(mask)
            pairs = zip(mask.shape[::-1], x.shape[::-1], strict=False)  # aligned on the last axes
            if mask.ndim > x.ndim or any(m not in (1, s) for m, s in pairs):
                raise ValueError(
                    f"Softmax: the mask must broadcast against the inputs (aligned on the last axes), "
                    f"got inputs {x.shape} and mask {mask.shape}"
                )
            mask = mask if mask.dtype == bool else mask > 0.5
            x = np.where(mask, x, x.dtype.type(-3e4 if x.dtype == np.float16 else -1e9))
        e = np.exp(x - x.max(axis=axes, keepdims=True))
        y = e / e.sum(axis=axes, keepdims=True)
        self._y, self._keep = (y, mask) if training else (None, None)
        return y

    def backward(self, dy):
        y = _cached(self, self._y)
        dx = y * (dy - (dy * y).sum(axis=self._axes(y.ndim), keepdims=True))
        return dx if self._keep is None else np.where(self._keep, dx, dx.dtype.type(0))  # masked: constants

    def step(self, x_t):
        return self.forward(x_t)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class PReLU(Layer):
    """``x`` for x >= 0, ``alpha * x`` below, with ``alpha`` a weight of the input's shape (without
    the batch axis; 1 along each of ``shared_axes``, counted from 1 as Keras)."""

    supports_masking = True
    regularized = {"alpha": "alpha"}
    step = _no_step

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(alpha_regularizer=alpha_regularizer, alpha_constraint=alpha_constraint, **kwargs)
        if isinstance(alpha_initializer, str) and alpha_initializer[:1].isupper():  # Keras's "Zeros"
            alpha_initializer = {"class_name": alpha_initializer}
        self.alpha_initializer = _initializer("alpha_initializer", _initializer_name(alpha_initializer))
        axes = (
            []
            if shared_axes is None
            else shared_axes
            if isinstance(shared_axes, (list, tuple))
            else [shared_axes]
        )
        if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 1 for a in axes):
            raise TypeError(
                f"PReLU: shared_axes must be None, an int >= 1 or a list of them, got {shared_axes!r}"
            )
        self.shared_axes = None if shared_axes is None else [int(a) for a in axes]
        self._x = None

    def _check_input_shape(self, input_shape) -> None:
        shared = self.shared_axes or []
        if any(a > len(input_shape) for a in shared):
            raise ValueError(
                f"PReLU: shared_axes {shared} do not fit inputs of {len(input_shape)} axes after the batch"
            )
        if any(s is None for k, s in enumerate(input_shape, 1) if k not in shared):
            raise ValueError(
                f"PReLU: its alpha needs the size of every axis not in shared_axes; got input_shape "
                f"{tuple(input_shape)}"
            )

    def weight_specs(self, input_shape):
        shared = self.shared_axes or []
        shape = tuple(1 if k in shared else s for k, s in enumerate(input_shape, 1))
        return [("alpha", shape, self.alpha_initializer)]

    def forward(self, x, training=False, mask=None):
        _check_x(self, x)
        self._x = x if training else None
        return np.where(x >= 0, x, self.params["alpha"] * x)

    def backward(self, dy):
        x = _cached(self, self._x)
        alpha = self.params["alpha"]
        negative = x < 0
        g = np.where(negative, dy * x, 0)
        axes = (0, *(k for k, n in enumerate(alpha.shape, 1) if n == 1 and x.shape[k] != 1))
        self.grads["alpha"][...] = g.sum(axis=axes, keepdims=True).reshape(alpha.shape)
        return np.where(negative, dy * alpha, dy)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "alpha_initializer": self.alpha_initializer,
            "shared_axes": self.shared_axes,
        }

"""Pooling over the time axis, with Keras 3's arguments: ``GlobalAveragePooling1D``,
``GlobalMaxPooling1D``, ``MaxPooling1D``, ``AveragePooling1D``.

x is (B, T, C) with ``data_format="channels_last"`` (Keras's default), (B, C, T) with
"channels_first"; the kernels work channels-last and transpose at the edges.
"""

from __future__ import annotations

import numpy as np

from .base import Layer, _positive_int
from .reshaping import _check_x, _data_format, _no_step


def _mask_arg(mask, B: int, T: int):
    """A (B, T) mask as bool (Keras casts it), or None."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype.kind not in "biuf":
        raise TypeError(f"mask must be a bool array of shape ({B}, {T}), got dtype {mask.dtype}")
    if mask.shape != (B, T):
        raise ValueError(f"mask must have shape (batch, timesteps) = ({B}, {T}), got {mask.shape}")
    return mask.astype(bool, copy=False)


def _check_sequence_shape(layer: Layer, input_shape) -> None:
    if len(input_shape) != 2:
        order = "timesteps, features" if layer.data_format == "channels_last" else "features, timesteps"
        raise ValueError(
            f"{type(layer).__name__} expects inputs of shape (batch, {order}), i.e. an input_shape "
            f"of 2 values; got input_shape {tuple(input_shape)}"
        )


def _one_int(name: str, value) -> int:
    """Keras's standardize_tuple for one spatial axis: an int or a 1-tuple/list of a positive int."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{name} must be a positive int or a tuple of 1 positive int, got {value!r}")
        value = value[0]
    return _positive_int(name, value)


def _padding(value, allowed=("valid", "same")) -> str:
    if not isinstance(value, str):
        raise TypeError(f"padding must be one of {allowed}, got {value!r}")
    if value.lower() not in allowed:
        raise ValueError(f"padding must be one of {allowed}, got {value!r}")
    return value.lower()


def _same_padding(T: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's "same": ceil(T / s) outputs, the padding split with the odd one on the right."""
    out = -(-T // s)
    total = max(0, (out - 1) * s + k - T)
    return total // 2, total - total // 2


# Global pooling -------------------------------------------------------------------------------------


class _GlobalPooling1D(Layer):
    step = _no_step

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise TypeError(f"keepdims must be a bool, got {keepdims!r}")
        self.keepdims = bool(keepdims)
        self._cache = None

    @property
    def _steps_axis(self) -> int:
        return 1 if self.data_format == "channels_last" else 2

    def _check_input_shape(self, input_shape) -> None:
        _check_sequence_shape(self, input_shape)

    def output_shape(self, input_shape):
        C = input_shape[-1] if self.data_format == "channels_last" else input_shape[0]
        if not self.keepdims:
            return (C,)
        return (1, C) if self.data_format == "channels_last" else (C, 1)

    def compute_mask(self, inputs, mask=None):
        return None

    def _reduced(self, y):
        return y if self.keepdims else y.squeeze(self._steps_axis)

    def _expanded(self, dy):
        return dy if self.keepdims else np.expand_dims(dy, self._steps_axis)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(data_format=self.data_format, keepdims=self.keepdims)
        return config


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean over the time axis; with a (B, T) ``mask``, over the unmasked steps only. As Keras 3,
    a row with every step masked gives 0/0 = NaN, and a zero gradient."""

    supports_masking = True

    def forward(self, x, training=False, mask=None):
        # x (B, T, C) or (B, C, T) | mask (B, T) | y (B, C), (B, 1, C) or (B, C, 1)
        _check_x(self, x)
        ax = self._steps_axis
        mask = _mask_arg(mask, x.shape[0], x.shape[ax])
        if mask is None:
            weight = np.full((1, 1, 1), 1 / x.shape[ax], dtype=x.dtype)
            y = x.mean(axis=ax, keepdims=True)
        else:
            m = np.expand_dims(mask, 2 if ax == 1 else 1).astype(x.dtype)
            count = m.sum(axis=ax, keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 on all-masked rows
                y = np.where(m > 0, x, 0).sum(axis=ax, keepdims=True) / count
                weight = np.where(m > 0, m / count, 0)  # masked steps get no gradient
        self._cache = (weight, x.shape) if training else None
        return self._reduced(y)

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        (weight, shape), self._cache = self._cache, None
        return np.broadcast_to(self._expanded(dy) * weight, shape).astype(dy.dtype)


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The maximum over the time axis.

    As Keras 3, this layer does not support masking: ``mask`` is accepted and ignored (every step
    counts, masked or not; in a Keras model the mask stops here with a warning), and the output has
    no mask. The gradient goes to the first maximum of each row and channel.
    """

    def forward(self, x, training=False, mask=None):
        # x (B, T, C) or (B, C, T) | y (B, C), (B, 1, C) or (B, C, 1)
        _check_x(self, x)
        ax = self._steps_axis
        arg = np.expand_dims(x.argmax(axis=ax), ax)
        y = np.take_along_axis(x, arg, axis=ax)
        self._cache = (arg, x.shape) if training else None
        return self._reduced(y)

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        (arg, shape), self._cache = self._cache, None
        dx = np.zeros(shape, dtype=dy.dtype)
        np.put_along_axis(dx, arg, self._expanded(dy), axis=self._steps_axis)
        return dx


# Windowed pooling -----------------------------------------------------------------------------------


class _Pooling1D(Layer):
    """Windows of ``pool_size`` steps every ``strides`` steps; "same" pads as TensorFlow (and
    Keras's JAX and NumPy backends): the padding is left out of the maximum and of the average."""

    step = _no_step
    mode = ""

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _one_int("pool_size", pool_size)
        self.strides = self.pool_size if strides is None else _one_int("strides", strides)
        self.padding = _padding(padding)
        self.data_format = _data_format(data_format)
        self._cache = None

    def _sizes(self, input_shape) -> tuple[int, int]:
        return (input_shape[0], input_shape[1]) if self.data_format == "channels_last" else input_shape[::-1]

    def _geometry(self, T: int) -> tuple[int, int, int]:
        """(T_out, left padding, right padding) for T steps."""
        k, s = self.pool_size, self.strides
        if self.padding == "same":
            left, right = _same_padding(T, k, s)
            return -(-T // s), left, right
        return (T - k) // s + 1, 0, 0

    def _check_input_shape(self, input_shape) -> None:
        _check_sequence_shape(self, input_shape)
        T = self._sizes(input_shape)[0]
        if self.padding == "valid" and T is not None and T < self.pool_size:
            raise ValueError(
                f"{type(self).__name__}: pool_size={self.pool_size} with padding='valid' needs at least "
                f"{self.pool_size} timesteps, got input_shape {tuple(input_shape)}"
            )

    def output_shape(self, input_shape):
        T, C = self._sizes(input_shape)
        T_out = None if T is None else self._geometry(T)[0]
        return (T_out, C) if self.data_format == "channels_last" else (C, T_out)

    def forward(self, x, training=False):
        # x (B, T, C) channels-last | taps (B, T_out, k, C) | y (B, T_out, C)
        _check_x(self, x)
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 1)
        B, T, C = x.shape
        T_out, left, right = self._geometry(T)
        fill = -np.inf if self.mode == "max" else 0
        xp = np.pad(x, ((0, 0), (left, right), (0, 0)), constant_values=fill) if left + right else x
        rows = np.arange(T_out)[:, None] * self.strides + np.arange(self.pool_size)  # (T_out, k)
        taps = xp[:, rows, :]
        if self.mode == "max":
            arg = taps.argmax(axis=2)  # the padding (-inf) is never the maximum of a window
            y = np.take_along_axis(taps, arg[:, :, None, :], axis=2)[:, :, 0, :]
            count = None
        else:
            valid = (rows >= left) & (rows < left + T)
            count = valid.sum(axis=1).astype(x.dtype)[:, None]  # (T_out, 1): real steps per window
            y = taps.sum(axis=2) / count
            arg = None
        self._cache = (T, (left, right), rows, arg, count) if training else None
        return y.transpose(0, 2, 1) if self.data_format == "channels_first" else y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        T, (left, right), rows, arg, count = self._cache
        self._cache = None
        if self.data_format == "channels_first":
            dy = dy.transpose(0, 2, 1)
        B, T_out, C = dy.shape
        dxp = np.zeros((B, left + T + right, C), dtype=dy.dtype)  # the gradient of the padded x
        if self.mode != "max":
            dy = dy / count
        for j in range(self.pool_size):  # one tap at a time: its T_out rows are distinct
            dxp[:, rows[:, j], :] += dy if arg is None else dy * (arg == j)
        dx = dxp[:, left : left + T, :]
        return np.ascontiguousarray(dx.transpose(0, 2, 1) if self.data_format == "channels_first" else dx)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            pool_size=[self.pool_size],
            strides=[self.strides],
            padding=self.padding,
            data_format=self.data_format,
        )
        return config


class MaxPooling1D(_Pooling1D):
    """The maximum of each window of ``pool_size`` steps (gradient to the first maximum)."""

    mode = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling1D):
    """The mean of each window of ``pool_size`` steps, over the real (unpadded) steps only."""

    mode = "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

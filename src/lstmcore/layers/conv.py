"""``Conv1D``: a 1-D convolution over the time axis with Keras 3's arguments and weights.

kernel (k, I / groups, F), bias (F). x (B, T, I) with ``data_format="channels_last"`` (Keras's
default), (B, I, T) with "channels_first"; the maths works channels-last and transposes at the edges.

The product is im2col: the k taps of every output step gathered into one (B * T_out, k * I) array,
then one matmul per group (one batched matmul over the groups). The backward scatters the taps
back one tap at a time (k loops of a gather-add over all B and T_out at once).
"""

from __future__ import annotations

import numpy as np

from .. import activations
from ..engine._products import matmul_groups
from .base import Layer, _initializer, _positive_int
from .core import _dense_activation
from .pooling import _one_int, _padding, _same_padding
from .reshaping import _check_x, _data_format, _no_step


class Conv1D(Layer):
    """y[b, t, f] = activation(sum over taps j and inputs i of xp[b, t*s + j*d, i] * kernel[j, i, f]
    + bias[f]), xp the input padded for ``padding`` ("valid": none; "same": TensorFlow's split,
    ceil(T / strides) outputs; "causal": d*(k-1) zeros on the left). ``groups`` splits the inputs
    and the filters into that many contiguous blocks, block g of the filters seeing block g of the
    inputs."""

    step = _no_step
    regularized = {"kernel": "kernel", "bias": "bias"}

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = _positive_int("filters", filters)
        self.kernel_size = _one_int("kernel_size", kernel_size)
        self.strides = _one_int("strides", strides)
        self.padding = _padding(padding, ("valid", "same", "causal"))
        self.data_format = _data_format(data_format)
        self.dilation_rate = _one_int("dilation_rate", dilation_rate)
        self.groups = _positive_int("groups", groups)
        self.activation = _dense_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = _initializer("bias_initializer", bias_initializer)
        if self.filters % self.groups:
            raise ValueError(
                f"filters must be a multiple of groups, got filters={self.filters}, groups={self.groups}"
            )
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError(
                f"strides > 1 cannot go with dilation_rate > 1 (as in Keras), got "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}"
            )
        self._cache = None

    def _sizes(self, input_shape) -> tuple[int, int]:
        """(T, I) of an input_shape."""
        return (input_shape[0], input_shape[1]) if self.data_format == "channels_last" else input_shape[::-1]

    def _geometry(self, T: int) -> tuple[int, int, int]:
        """(T_out, left padding, right padding) for T steps."""
        span = self.dilation_rate * (self.kernel_size - 1) + 1  # the steps one output sees
        if self.padding == "same":
            left, right = _same_padding(T, span, self.strides)
        elif self.padding == "causal":
            left, right = span - 1, 0
        else:
            left, right = 0, 0
        return (T + left + right - span) // self.strides + 1, left, right

    def _check_input_shape(self, input_shape) -> None:
        order = "timesteps, features" if self.data_format == "channels_last" else "features, timesteps"
        if len(input_shape) != 2:
            raise ValueError(
                f"Conv1D expects inputs of shape (batch, {order}), i.e. an input_shape of 2 values; "
                f"got input_shape {tuple(input_shape)}"
            )
        T, I = self._sizes(input_shape)
        if I is not None and I % self.groups:
            raise ValueError(
                f"Conv1D: the input's {I} channels must be a multiple of groups={self.groups}; got "
                f"input_shape {tuple(input_shape)}"
            )
        if T is not None and self._geometry(T)[0] < 1:
            span = self.dilation_rate * (self.kernel_size - 1) + 1
            raise ValueError(
                f"Conv1D: kernel_size={self.kernel_size} with dilation_rate={self.dilation_rate} and "
                f"padding='valid' needs at least {span} timesteps, got input_shape {tuple(input_shape)}"
            )

    def weight_specs(self, input_shape):
        I = self._sizes(input_shape)[1]
        I_g = None if I is None else I // self.groups
        specs = [("kernel", (self.kernel_size, I_g, self.filters), self.kernel_initializer)]
        if self.use_bias:
            specs.append(("bias", (self.filters,), self.bias_initializer))
        return specs

    def output_shape(self, input_shape):
        T = self._sizes(input_shape)[0]
        T_out = None if T is None else self._geometry(T)[0]
        return (T_out, self.filters) if self.data_format == "channels_last" else (self.filters, T_out)

    def forward(self, x, training=False):
        # x (B, T, I) | xp (B, left + T + right, I) | rows (T_out, k) | cols (G, B*T_out, k*I/G)
        # w (G, k*I/G, F/G) | z, y (B, T_out, F)
        _check_x(self, x)
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 1)
        B, T, I = x.shape
        k, G, F = self.kernel_size, self.groups, self.filters
        T_out, left, right = self._geometry(T)
        xp = np.pad(x, ((0, 0), (left, right), (0, 0))) if left + right else x
        rows = np.arange(T_out)[:, None] * self.strides + np.arange(k) * self.dilation_rate
        N = B * T_out
        cols = xp[:, rows, :].reshape(N, k, G, I // G).transpose(2, 0, 1, 3).reshape(G, N, k * (I // G))
        w = self.params["kernel"].reshape(k, I // G, G, F // G).transpose(2, 0, 1, 3).reshape(G, -1, F // G)
        z = matmul_groups(cols, w).transpose(1, 0, 2).reshape(B, T_out, F)  # (engine._products)
        if self.use_bias:
            z += self.params["bias"]
        y = activations.get(self.activation)[0](z)
        self._cache = (cols, w, rows, (T, left, right), z, y) if training else None
        return np.ascontiguousarray(y.transpose(0, 2, 1)) if self.data_format == "channels_first" else y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        cols, w, rows, (T, left, right), z, y = self._cache
        self._cache = None
        if self.data_format == "channels_first":
            dy = dy.transpose(0, 2, 1)
        B, T_out, F = y.shape
        k, G = self.kernel_size, self.groups
        Ig = w.shape[1] // k
        dz = activations.get(self.activation)[1](z, y, dy).astype(y.dtype, copy=False)
        dz_g = dz.reshape(B * T_out, G, F // G).transpose(1, 0, 2)  # (G, N, F/G)
        # dkernel = colsᵀ dz per group, back to (k, I/G, F)
        dw = matmul_groups(cols.transpose(0, 2, 1), dz_g)
        self.grads["kernel"][...] = dw.reshape(G, k, Ig, F // G).transpose(1, 2, 0, 3).reshape(k, Ig, F)
        if self.use_bias:
            np.sum(dz, axis=(0, 1), out=self.grads["bias"])
        # dcols = dz wᵀ, then each tap's columns added back onto the padded input's rows
        dcols = matmul_groups(dz_g, w.transpose(0, 2, 1)).reshape(G, B, T_out, k, Ig)
        dcols = dcols.transpose(1, 2, 3, 0, 4).reshape(B, T_out, k, G * Ig)
        dxp = np.zeros((B, left + T + right, G * Ig), dtype=y.dtype)
        for j in range(k):  # one tap at a time: its T_out rows are distinct
            dxp[:, rows[:, j], :] += dcols[:, :, j, :]
        dx = dxp[:, left : left + T, :]
        return np.ascontiguousarray(dx.transpose(0, 2, 1) if self.data_format == "channels_first" else dx)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=[self.kernel_size],
            strides=[self.strides],
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=[self.dilation_rate],
            groups=self.groups,
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
        )
        return config

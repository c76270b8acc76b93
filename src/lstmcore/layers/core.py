"""``Dense`` (with its activations) and ``Dropout``."""

from __future__ import annotations

import numpy as np

from .. import activations
from ..engine._products import matmul
from .base import (
    Layer,
    _batched,
    _cached,
    _dropout_mask,
    _initializer,
    _layer_rng,
    _positive_int,
    _rate,
    _seed_arg,
)

# Dense activations: Keras's, by name (``lstmcore.activations``).
DENSE_ACTIVATIONS = activations.NAMES
_dense_activation = activations.name_of


# Dense and Dropout ----------------------------------------------------------------------------------


class Dense(Layer):
    """y = activation(x @ kernel + bias) on the last axis. kernel (F, units), bias (units)."""

    takes_input_dim = True
    regularized = {"kernel": "kernel", "bias": "bias"}
    supports_masking = True  # acts on the last axis: the mask passes through, as in Keras

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _positive_int("units", units)
        self.activation = _dense_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = _initializer("bias_initializer", bias_initializer)
        self._cache = None

    def weight_specs(self, input_shape):
        specs = [("kernel", (input_shape[-1], self.units), self.kernel_initializer)]
        if self.use_bias:
            specs.append(("bias", (self.units,), self.bias_initializer))
        return specs

    def output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def forward(self, x, training=False, mask=None):
        z = matmul(x, self.params["kernel"])  # (SciPy's BLAS: engine._products)
        if self.use_bias:
            z += self.params["bias"]
        y = activations.get(self.activation)[0](z)
        if training:
            self._cache = (x, z, y)
        return y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        x, z, y = self._cache
        self._cache = None
        dz = activations.get(self.activation)[1](z, y, dy).astype(y.dtype, copy=False)
        F = x.shape[-1]
        x2, dz2 = x.reshape(-1, F), dz.reshape(-1, self.units)
        matmul(x2.T, dz2, out=self.grads["kernel"])
        if self.use_bias:
            np.sum(dz2, axis=0, out=self.grads["bias"])
        return matmul(dz, self.params["kernel"].T)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
        )
        return config


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of its inputs in training and scales the rest by 1/(1-rate).

    ``noise_shape`` (Keras): None, or a tuple/list with one entry per input axis, each a positive
    int (1 shares the mask along that axis) or None (that axis of the input).
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate("rate", rate)
        self.noise_shape = self._noise_shape_arg(noise_shape)
        self.seed = _seed_arg(seed)
        self._mask = None

    @staticmethod
    def _noise_shape_arg(noise_shape) -> tuple[int | None, ...] | None:
        expected = "noise_shape must be None or a tuple of positive ints and None entries"
        if noise_shape is None:
            return None
        if not isinstance(noise_shape, (tuple, list)):
            raise TypeError(f"{expected}, got {noise_shape!r} ({type(noise_shape).__name__})")
        for n in noise_shape:
            if n is not None and (isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer))):
                raise TypeError(f"{expected}, got {noise_shape!r} (entry {n!r})")
            if n is not None and n < 1:
                raise ValueError(f"{expected}, got {noise_shape!r} (entry {n})")
        return tuple(None if n is None else int(n) for n in noise_shape)

    def _on_build(self, seed_rng) -> None:
        self._rng = _layer_rng(self.seed, seed_rng)

    def forward(self, x, training=False, mask=None):
        if not training or self.rate == 0:
            self._mask = None
            return x
        shape = x.shape
        if self.noise_shape is not None:
            fits = len(self.noise_shape) == x.ndim
            shape = tuple(s if n is None else n for s, n in zip(x.shape, self.noise_shape, strict=False))
            if not fits or any(n not in (1, s) for n, s in zip(shape, x.shape, strict=True)):
                raise ValueError(
                    f"noise_shape {self.noise_shape} does not fit an input of shape {x.shape}: expected "
                    f"{x.ndim} entries, each None, 1 or the input's size on that axis"
                )
        self._mask = _dropout_mask(self._rng, shape, self.rate, x.dtype)
        return x * self._mask

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            rate=self.rate,
            noise_shape=None if self.noise_shape is None else list(self.noise_shape),
            seed=self.seed,
        )
        return config


class Identity(Layer):
    """y = x (Keras's ``Identity``); the mask passes through."""

    supports_masking = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._trained = None

    def forward(self, x, training=False, mask=None):
        _batched(self, x)
        self._trained = True if training else None
        return x

    def backward(self, dy):
        _cached(self, self._trained)
        return dy

    def step(self, x_t):
        return x_t

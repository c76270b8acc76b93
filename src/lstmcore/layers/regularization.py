"""Keras's regularization layers besides ``Dropout`` (``core``): ``SpatialDropout1D`` (whole
channels of a sequence dropped), ``GaussianNoise`` (additive), ``GaussianDropout``
(multiplicative) and ``ActivityRegularization`` (an L1/L2 penalty on its input, passed through).
The noise is drawn in training only; in inference each is the identity. The mask passes through."""

from __future__ import annotations

import math

import numpy as np

from .. import regularizers
from .base import Layer, _batched, _cached, _layer_rng, _seed_arg
from .core import Dropout, Identity


def _in_unit(layer: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{layer}: {name} must be a float in [0, 1], got {value!r}")
    if not 0 <= value <= 1:
        raise ValueError(f"{layer}: {name} must be a float in [0, 1], got {value!r}")
    return float(value)


class SpatialDropout1D(Dropout):
    """Dropout of whole channels: x (B, T, C) keeps or zeroes each (row, channel) for every step,
    the kept ones scaled by 1/(1-rate) (Keras's noise shape (B, 1, C))."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, noise_shape=(None, 1, None), seed=seed, **kwargs)
        self._trained = None

    def _check_input_shape(self, input_shape) -> None:
        if len(input_shape) != 2:
            raise ValueError(
                "SpatialDropout1D expects inputs (batch, timesteps, channels), got input_shape "
                f"{tuple(input_shape)}"
            )

    def forward(self, x, training=False, mask=None):
        if np.ndim(x) != 3:
            raise ValueError(
                f"SpatialDropout1D expects inputs (batch, timesteps, channels), got shape {np.shape(x)}"
            )
        self._trained = True if training else None
        return super().forward(x, training=training, mask=mask)

    def backward(self, dy):
        _cached(self, self._trained)
        return super().backward(dy)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["noise_shape"], config["trainable"]  # Keras's config of it has neither
        return config


class _Noise(Layer):
    supports_masking = True

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = _seed_arg(seed)
        self._noise = None
        self._trained = None

    def _start(self, x, training: bool) -> None:
        """The checks and state of a forward call."""
        _batched(self, x)
        self._trained = True if training else None

    def _on_build(self, seed_rng) -> None:
        self._rng = _layer_rng(self.seed, seed_rng)

    def step(self, x_t):
        return x_t


class GaussianNoise(_Noise):
    """x + N(0, stddev^2) in training, x in inference."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = _in_unit("GaussianNoise", "stddev", stddev)

    def forward(self, x, training=False, mask=None):
        self._start(x, training)
        if not training or self.stddev == 0:
            return x
        return x + self._rng.normal(0.0, self.stddev, x.shape).astype(x.dtype)

    def backward(self, dy):
        _cached(self, self._trained)
        return dy

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_Noise):
    """x * N(1, rate / (1 - rate)) in training, x in inference."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _in_unit("GaussianDropout", "rate", rate)
        if self.rate == 1:  # Keras takes it, then divides by zero in training
            raise ValueError(
                "GaussianDropout: rate must be below 1 (rate=1 has noise of infinite variance), got 1"
            )

    def forward(self, x, training=False, mask=None):
        self._start(x, training)
        if not training or self.rate == 0:
            self._noise = None
            return x
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        self._noise = self._rng.normal(1.0, stddev, x.shape).astype(x.dtype)
        return x * self._noise

    def backward(self, dy):
        _cached(self, self._trained)
        return dy if self._noise is None else dy * self._noise

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class ActivityRegularization(Identity):
    """The identity, with ``l1 * sum(|x|) + l2 * sum(x**2)`` (over the batch size) added to the
    loss: Keras's layer of an activity regularizer ``L1L2(l1, l2)``."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        if kwargs.get("activity_regularizer") is not None:
            raise TypeError("ActivityRegularization takes l1 and l2, not activity_regularizer")
        kwargs.pop("activity_regularizer", None)
        reg = regularizers.L1L2(l1=l1, l2=l2)
        super().__init__(activity_regularizer=reg, **kwargs)
        self.l1, self.l2 = reg.l1, reg.l2

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}

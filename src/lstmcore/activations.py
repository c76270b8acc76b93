"""Keras 3's ``keras.activations`` by name, for ``Dense``, ``Conv1D`` and ``Activation``: each a
forward ``f(z)`` and a backward from z, y = f(z) and dL/dy, in z's dtype.

    Dense(8, activation="gelu");  Activation("swish");  lstmcore.activations.mish(z)

Names and defaults are Keras's (``leaky_relu``: negative_slope 0.2; ``gelu``: exact, not the tanh
approximation; ``hard_sigmoid``: relu6(z + 3) / 6; ``softmax``/``log_softmax``/``sparsemax``:
over the last axis). ``swish`` and ``hard_swish`` are Keras's aliases of ``silu`` and
``hard_silu``. ``glu`` (it halves the last axis) and ``threshold`` (it needs arguments) are not
names here. The recurrent layers take the activations the engine's cells have
(``RECURRENT_NAMES``), with Keras's parameters.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf, expit

from .engine._products import softmax_rows, softmax_rows_backward

__all__ = ["get", "NAMES", "RECURRENT_NAMES", "engine_spec"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _t(z, v):
    return z.dtype.type(v)


def _log_softmax(z):
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def _softplus(z):
    return np.logaddexp(_t(z, 0), z)


def _sparsemax(z):
    # the Euclidean projection of z onto the simplex, over the last axis (Martins & Astudillo)
    srt = -np.sort(-z, axis=-1)
    k = np.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    cum = np.cumsum(srt, axis=-1)
    support = (1 + k * srt) > cum
    k_z = support.sum(axis=-1, keepdims=True)
    tau = (np.take_along_axis(cum, k_z - 1, axis=-1) - 1) / k_z.astype(z.dtype)
    return np.maximum(z - tau, 0)


def _sparsemax_backward(z, y, dy):
    s = y > 0
    n = s.sum(axis=-1, keepdims=True).astype(dy.dtype)
    mean = (dy * s).sum(axis=-1, keepdims=True) / n
    return np.where(s, dy - mean, 0).astype(dy.dtype)


def _gelu_backward(z, y, dy):
    pdf = np.exp(-0.5 * z * z) / _t(z, math.sqrt(2 * math.pi))
    return dy * (_t(z, 0.5) * (1 + erf(z / _t(z, math.sqrt(2)))) + z * pdf)


def _mish_backward(z, y, dy):
    t = np.tanh(_softplus(z))
    return dy * (t + z * expit(z) * (1 - t * t))


def _hard_silu_backward(z, y, dy):
    return dy * np.where(z < -3, 0, np.where(z > 3, 1, (2 * z + 3) / _t(z, 6)))


# name -> (forward(z), backward(z, y, dy))
_TABLE = {
    "linear": (lambda z: z, lambda z, y, dy: dy),
    "relu": (lambda z: np.maximum(z, 0), lambda z, y, dy: dy * (z > 0)),
    "relu6": (lambda z: np.clip(z, 0, 6), lambda z, y, dy: dy * ((z > 0) & (z < 6))),
    "leaky_relu": (
        lambda z: np.where(z > 0, z, _t(z, 0.2) * z),
        lambda z, y, dy: dy * np.where(z > 0, 1, _t(z, 0.2)),
    ),
    "elu": (
        lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
        lambda z, y, dy: dy * np.where(z > 0, 1, y + 1),
    ),
    "selu": (
        lambda z: _t(z, _SELU_SCALE) * np.where(z > 0, z, _t(z, _SELU_ALPHA) * np.expm1(np.minimum(z, 0))),
        lambda z, y, dy: dy * np.where(z > 0, _t(z, _SELU_SCALE), y + _t(z, _SELU_SCALE * _SELU_ALPHA)),
    ),
    "celu": (
        lambda z: np.maximum(z, 0) + np.minimum(np.expm1(np.minimum(z, 0)), 0),
        lambda z, y, dy: dy * np.where(z > 0, 1, np.exp(np.minimum(z, 0))),
    ),
    "softplus": (_softplus, lambda z, y, dy: dy * expit(z)),
    "softsign": (lambda z: z / (1 + np.abs(z)), lambda z, y, dy: dy / np.square(1 + np.abs(z))),
    "soft_shrink": (
        lambda z: np.where(z > 0.5, z - _t(z, 0.5), np.where(z < -0.5, z + _t(z, 0.5), 0)),
        lambda z, y, dy: dy * (np.abs(z) > 0.5),
    ),
    "sparse_plus": (
        lambda z: np.where(z <= -1, 0, np.where(z >= 1, z, np.square(z + 1) / _t(z, 4))),
        lambda z, y, dy: dy * np.where(z <= -1, 0, np.where(z >= 1, 1, (z + 1) / _t(z, 2))),
    ),
    "silu": (lambda z: z * expit(z), lambda z, y, dy: dy * (expit(z) * (1 + z * (1 - expit(z))))),
    "squareplus": (
        lambda z: (z + np.sqrt(z * z + _t(z, 4))) / _t(z, 2),
        lambda z, y, dy: dy * (1 + z / np.sqrt(z * z + _t(z, 4))) / _t(z, 2),
    ),
    "gelu": (lambda z: _t(z, 0.5) * z * (1 + erf(z / _t(z, math.sqrt(2)))), _gelu_backward),
    "tanh": (np.tanh, lambda z, y, dy: dy * (1 - y * y)),
    "tanh_shrink": (lambda z: z - np.tanh(z), lambda z, y, dy: dy * np.square(np.tanh(z))),
    "hard_tanh": (lambda z: np.clip(z, -1, 1), lambda z, y, dy: dy * (np.abs(z) < 1)),
    "hard_shrink": (lambda z: np.where(np.abs(z) > 0.5, z, 0), lambda z, y, dy: dy * (np.abs(z) > 0.5)),
    "sigmoid": (expit, lambda z, y, dy: dy * y * (1 - y)),
    "sparse_sigmoid": (
        lambda z: np.clip((z + 1) / _t(z, 2), 0, 1),
        lambda z, y, dy: dy * ((z > -1) & (z < 1)) / _t(z, 2),
    ),
    "exponential": (np.exp, lambda z, y, dy: dy * y),
    "hard_sigmoid": (
        lambda z: np.clip(z / _t(z, 6) + _t(z, 0.5), 0, 1),
        lambda z, y, dy: dy * ((z > -3) & (z < 3)) / _t(z, 6),
    ),
    "hard_silu": (lambda z: z * np.clip(z / _t(z, 6) + _t(z, 0.5), 0, 1), _hard_silu_backward),
    "mish": (lambda z: z * np.tanh(_softplus(z)), _mish_backward),
    "log_sigmoid": (lambda z: -_softplus(-z), lambda z, y, dy: dy * expit(-z)),
    "softmax": (softmax_rows, lambda z, y, dy: softmax_rows_backward(y, dy)),
    "log_softmax": (_log_softmax, lambda z, y, dy: dy - np.exp(y) * dy.sum(axis=-1, keepdims=True)),
    "sparsemax": (_sparsemax, _sparsemax_backward),
}
_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
NAMES = tuple(sorted([*_TABLE, *_ALIASES]))

# The recurrent layers' activations: the engine's cell activations (lstmcore.engine._validate
# CELL_ACTIVATIONS) by Keras name, with Keras's parameters.
_ENGINE = {
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "relu": "relu",
    "linear": "linear",
    "hard_sigmoid": ("hard_sigmoid", 1 / 6, 0.5),
    "leaky_relu": ("leaky_relu", 0.2),
    "elu": ("elu", 1.0),
    "softsign": "softsign",
    "softplus": "softplus",
}
RECURRENT_NAMES = tuple(sorted(_ENGINE))


def name_of(value, what: str = "activation") -> str:
    """The activation's name: a name (any case; None is "linear") or one of this module's
    functions; TypeError/ValueError naming what is accepted otherwise."""
    if value is None:
        return "linear"
    if callable(value) and getattr(value, "__module__", None) == __name__ and value.__name__ in _TABLE:
        return value.__name__
    if not isinstance(value, str):
        raise TypeError(
            f"{what} must be None, a name or a function of lstmcore.activations (its gradient is "
            f"needed), one of {NAMES}; got {value!r}"
        )
    name = value.lower()
    name = _ALIASES.get(name, name)
    if name not in _TABLE:
        hint = "; glu changes the output's width: use Dense(2 * n) and split it" if name == "glu" else ""
        raise ValueError(f"{what} must be one of {NAMES}, got {value!r}{hint}")
    return name


def get(value):
    """(forward, backward) of an activation given by name or function."""
    return _TABLE[name_of(value)]


def engine_spec(value, what: str = "activation"):
    """A recurrent layer's activation as the engine takes it: Keras's name -> the engine's name
    or (name, alpha[, beta]) with Keras's parameters. ValueError for an activation the engine's
    cells do not have."""
    if value is None:
        value = "linear"
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, one of {RECURRENT_NAMES}; got {value!r}")
    name = value.lower()
    if name not in _ENGINE:
        raise ValueError(
            f"{what} {value!r}: the recurrent cells have {RECURRENT_NAMES}; use one of them, or put "
            "an Activation layer after the recurrent layer"
        )
    return _ENGINE[name]


def _export(name):
    forward = _TABLE[name][0]

    def activation(x):
        return forward(np.asarray(x))

    activation.__name__ = name
    activation.__qualname__ = name
    activation.__doc__ = f"Keras's ``{name}`` activation."
    return activation


globals().update({name: _export(name) for name in _TABLE})
swish = globals()["silu"]
hard_swish = globals()["hard_silu"]

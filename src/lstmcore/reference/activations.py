"""Activations and their derivatives, written from outputs, for every cell of the reference.

The formulas of ``csrc/activations.h``, with NumPy's exp and tanh. Two sets of codes:

- ``ACT`` / ``RACT``: the codes of ``lstmcore.engine._validate.ACTIVATIONS`` / ``RECURRENT_ACTIVATIONS``,
  those of the tuned LSTM kernels.
- :func:`apply` / :func:`derivative`: the parameterised activations of every cell, a spec
  ``(code, alpha, beta)`` from ``lstmcore.engine._validate.activation_spec`` (codes of
  ``_validate.CELL_ACTIVATIONS``). Each derivative is written from the output y = f(x), which is
  why leaky_relu needs alpha >= 0, elu alpha > 0 and scaled_tanh alpha != 0.
"""

from __future__ import annotations

import numpy as np

# exp's argument is clipped where exp(x) would overflow the dtype, as in csrc/activations.h.
_EXP_RANGE = {np.dtype(np.float32): (-87.0, 88.0), np.dtype(np.float64): (-708.0, 709.0)}


def sigmoid(x):
    lo, hi = _EXP_RANGE[x.dtype]
    return 1 / (1 + np.exp(np.clip(-x, lo, hi)))


def hard_sigmoid(x):
    # Keras 3: 0 below -3, 1 above 3, x / 6 + 1/2 between.
    return np.clip(x / 6 + 0.5, 0, 1)


def relu(x):
    return np.maximum(x, 0)


def linear(x):
    return x


def dsigmoid(y):
    return y * (1 - y)


def dhard_sigmoid(y):
    return np.where((y > 0) & (y < 1), 1 / 6, 0).astype(y.dtype)


def dtanh(y):
    return 1 - y * y


def drelu(y):
    return (y > 0).astype(y.dtype)


def dlinear(y):
    return np.ones_like(y)


# Indexed by the codes of _validate.ACTIVATIONS / RECURRENT_ACTIVATIONS.
ACT = {0: (np.tanh, dtanh), 1: (relu, drelu), 2: (sigmoid, dsigmoid), 3: (linear, dlinear)}
RACT = {0: (sigmoid, dsigmoid), 1: (hard_sigmoid, dhard_sigmoid)}


# Parameterised activations, by the codes of _validate.CELL_ACTIVATIONS ------------------------------
# Each takes (x, alpha, beta) and keeps the dtype of x (alpha and beta are Python floats). NaN stays
# NaN. np.where computes both sides, so neither side may overflow: elu's exp sees min(x, 0) only.


def _f(y, x):
    """``y`` as an array of the dtype of ``x``: comparisons give bool, and np.where over Python
    scalars gives float64."""
    return np.asarray(y, dtype=x.dtype)


_APPLY = {
    0: lambda x, a, b: np.tanh(x),
    1: lambda x, a, b: relu(x),
    2: lambda x, a, b: sigmoid(x),
    3: lambda x, a, b: x.copy(),
    4: lambda x, a, b: np.clip(a * x + b, 0, 1),  # hard_sigmoid
    5: lambda x, a, b: np.where(x >= 0, x, a * x),  # leaky_relu
    6: lambda x, a, b: np.where(x <= a, 0, x),  # thresholded_relu: x if x > alpha else 0
    7: lambda x, a, b: a * np.tanh(b * x),  # scaled_tanh
    8: lambda x, a, b: a * x + b,  # affine
    9: lambda x, a, b: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))),  # elu
    10: lambda x, a, b: x / (1 + np.abs(x)),  # softsign
    11: lambda x, a, b: np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))),  # softplus
}

# f' from y = f(x).
_DERIVATIVE = {
    0: lambda y, a, b: 1 - y * y,
    1: lambda y, a, b: y > 0,
    2: lambda y, a, b: y * (1 - y),
    3: lambda y, a, b: np.ones_like(y),
    4: lambda y, a, b: np.where((y > 0) & (y < 1), a, 0),
    5: lambda y, a, b: np.where(y > 0, 1, a),
    6: lambda y, a, b: y != 0,
    7: lambda y, a, b: b * (a - y * y / a),
    8: lambda y, a, b: np.full_like(y, a),
    9: lambda y, a, b: np.where(y > 0, 1, y + a),
    10: lambda y, a, b: (1 - np.abs(y)) ** 2,
    11: lambda y, a, b: -np.expm1(-y),  # 1 - exp(-y), accurate for small y
}


def apply(spec, x):
    """y = f(x) for the activation ``spec`` = (code, alpha, beta); x a float array."""
    code, alpha, beta = spec
    return _f(_APPLY[code](x, alpha, beta), x)


def derivative(spec, y):
    """f'(x) written from y = f(x), for the activation ``spec`` = (code, alpha, beta)."""
    code, alpha, beta = spec
    return _f(_DERIVATIVE[code](y, alpha, beta), y)

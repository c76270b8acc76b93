"""Activations and their derivatives, written from outputs, for every cell of the reference.

The formulas of ``csrc/activations.h``, with NumPy's exp and tanh. Codes: those of
``lstmcore._validate.ACTIVATIONS`` / ``RECURRENT_ACTIVATIONS``.
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

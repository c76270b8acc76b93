"""Test helpers, importable from any test folder (``from helpers import TOL``): the one tolerance
table, named shape sets, the activations, comparisons and random problems."""

from __future__ import annotations

import numpy as np

# One tolerance table per dtype (DESIGN.md section 1): BLAS reorders sums and T steps compound.
TOL = {
    np.dtype(np.float64): {"rtol": 1e-10, "atol": 1e-12},
    np.dtype(np.float32): {"rtol": 1e-4, "atol": 1e-5},
}
DTYPES = [np.float32, np.float64]

# (B, T, I, H), awkward ones included.
SHAPES = {
    "tiny": (2, 3, 4, 5),
    "B1": (1, 6, 3, 4),
    "T1": (3, 1, 4, 5),
    "H1": (4, 5, 3, 1),
    "H7": (3, 4, 5, 7),
    "I_ne_H": (2, 5, 9, 3),
    "T33": (2, 33, 3, 6),
    "wide": (5, 7, 16, 32),
    "B10": (10, 6, 5, 12),  # three blocks of rows for the row split, the last one short
}
ACTIVATIONS = ["tanh", "relu", "sigmoid", "linear"]
RECURRENT_ACTIVATIONS = ["sigmoid", "hard_sigmoid"]


def assert_close(actual, expected, dtype=None, name="array", scale=1.0):
    """Compare with the tolerance of ``dtype``; on failure say the largest diff and where."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    dtype = np.dtype(dtype or actual.dtype)
    tol = TOL[dtype]
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    ok = np.isclose(actual, expected, rtol=tol["rtol"], atol=tol["atol"] * scale)
    if not ok.all():
        diff = np.abs(actual.astype(np.float64) - expected)
        first = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise AssertionError(
            f"{name}: {int((~ok).sum())} of {ok.size} differ; largest abs diff {diff.max():.3e}; "
            f"first mismatch at {first}: {actual[first]!r} vs {expected[first]!r} ({tol})"
        )


def make_lstm(rng, B, T, I, H, dtype=np.float64, state=True):
    """Random inputs and weights of one LSTM layer, in lstmcore's layout.

    Weights are drawn at the scale of a Glorot initialisation (1/sqrt(fan_in)): larger ones make
    relu and linear cells grow exponentially over T, where float32 rounding is amplified too.
    """

    def f(scale, *shape):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    args = {"x": f(1.0, B, T, I), "w_x": f(I**-0.5, I, 4 * H), "w_h": f(H**-0.5, H, 4 * H)}
    args["b"] = f(0.3, 4 * H)
    if state:
        args["h0"], args["c0"] = f(0.5, B, H), f(0.5, B, H)
    return args


def strided(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """A non-contiguous view with the values of ``a`` (every other element of a bigger array)."""
    shape = list(a.shape)
    shape[axis] *= 2
    big = np.zeros(shape, dtype=a.dtype)
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(None, None, 2)
    big[tuple(idx)] = a
    return big[tuple(idx)]

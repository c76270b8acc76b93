"""Test helpers, importable from any test folder (``from helpers import TOL``): the one tolerance
table, named shape sets, the activations, comparisons, random problems, finite differences and
stepper runs."""

from __future__ import annotations

import math

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
    # the packed products: two full tiles of rows and three left, several panels with a narrow
    # last one, and (with a small L1, see test_cells_compiled) K cut in blocks
    "B19": (19, 4, 7, 40),
    # AVX-512's blocks of 6 rows: one of 6 and two of 4 (not two of 6 and 2 rows alone)
    "B14": (14, 5, 6, 36),
    # a last panel one vector wide (float32: 2 units of 2 with AVX2, of 4 with AVX-512; float64:
    # 2 of 2) under two full blocks of 4 rows and one row alone: the packed step's rows side by
    # side in one vector
    "H50": (9, 3, 2, 50),
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


def close_to_reference(got, want, dtype, name, scale=1.0):
    """The compiled engine's ``got`` against the reference's ``want``: the same dtype and shape, and
    within the tolerance of ``dtype`` times ``scale`` (atol relative to the largest |want|, 1 at
    least)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype == dtype, (name, got.dtype, want.dtype)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    tol = TOL[np.dtype(dtype)]
    atol = tol["atol"] * scale * max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=tol["rtol"] * scale, atol=atol, err_msg=name)


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


CELL_GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def make_stack_weights(rng, cell, L, D, I, H, merge_mode="concat", dtype=np.float64) -> list:
    """Weights of L layers x D directions of ``cell`` at Glorot scale, in stack_forward's order:
    tuples (w_x, w_h, b); layer l > 0 reads D*H inputs with merge_mode "concat", else H. The GRU's
    b is (2, 3H) (reset_after)."""
    K = CELL_GATES[cell]

    def f(scale, *shape):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    weights = []
    for layer in range(L):
        n_in = I if layer == 0 else (D * H if merge_mode == "concat" else H)
        for _ in range(D):
            bias = (2, K * H) if cell == "gru" else (K * H,)
            weights.append((f(n_in**-0.5, n_in, K * H), f(H**-0.5, H, K * H), f(0.3, *bias)))
    return weights


def strided(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """A non-contiguous view with the values of ``a`` (every other element of a bigger array)."""
    shape = list(a.shape)
    shape[axis] *= 2
    big = np.zeros(shape, dtype=a.dtype)
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(None, None, 2)
    big[tuple(idx)] = a
    return big[tuple(idx)]


# Activations one number at a time, from the table of notes/cells_api.md: name -> f(x, alpha, beta),
# and the defaults of the parameters; independent of lstmcore's own tables.
SCALAR_ACTIVATIONS = {
    "tanh": lambda x, a, b: math.tanh(x),
    "relu": lambda x, a, b: max(x, 0.0),
    "sigmoid": lambda x, a, b: 1 / (1 + math.exp(-x)),
    "linear": lambda x, a, b: x,
    "hard_sigmoid": lambda x, a, b: min(max(a * x + b, 0.0), 1.0),
    "leaky_relu": lambda x, a, b: x if x >= 0 else a * x,
    "thresholded_relu": lambda x, a, b: x if x > a else 0.0,
    "scaled_tanh": lambda x, a, b: a * math.tanh(b * x),
    "affine": lambda x, a, b: a * x + b,
    "elu": lambda x, a, b: x if x > 0 else a * (math.exp(x) - 1),
    "softsign": lambda x, a, b: x / (1 + abs(x)),
    "softplus": lambda x, a, b: math.log1p(math.exp(x)),
}
SCALAR_DEFAULTS = {
    "hard_sigmoid": (1 / 6, 0.5),
    "leaky_relu": (0.01,),
    "thresholded_relu": (1.0,),
    "scaled_tanh": (1.0, 1.0),
    "affine": (1.0, 0.0),
    "elu": (1.0,),
}


def scalar_activation(arg):
    """The activation argument ``arg`` (a name, or a tuple (name, alpha[, beta])) as a function of
    one Python float."""
    name, params = (arg, ()) if isinstance(arg, str) else (arg[0], arg[1:])
    a, b = (*params, *SCALAR_DEFAULTS.get(name, ())[len(params) :], 0.0, 0.0)[:2]
    return lambda x: SCALAR_ACTIVATIONS[name](float(x), a, b)


# Gradients ---------------------------------------------------------------------------------------

EPS = 1e-6  # central finite differences, in float64
GRAD_OF = {
    "x": "dx",
    "w_x": "dw_x",
    "w_h": "dw_h",
    "b": "db",
    "h0": "dh0",
    "c0": "dc0",
    "peepholes": "dpeepholes",
    "proj": "dproj",
}  # the name of each input's gradient in what a backward returns


def numeric_grad(loss, a: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Central finite differences of the scalar ``loss()`` with respect to each element of ``a``,
    which is changed in place and put back."""
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        up = loss()
        a[idx] = old - eps
        down = loss()
        a[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


def check_grad(got: np.ndarray, loss, a: np.ndarray, name: str) -> None:
    """``got``, the gradient of ``loss()`` with respect to ``a``: the shape and dtype of ``a``, and
    within a relative error of 1e-6 of :func:`numeric_grad`."""
    assert got.shape == a.shape and got.dtype == a.dtype, name
    numeric = numeric_grad(loss, a)
    err = np.abs(got - numeric).max() / max(1.0, np.abs(numeric).max())
    assert err < 1e-6, f"{name}: relative error {err:.2e} against finite differences"


# Steppers ----------------------------------------------------------------------------------------


def stepped(stepper, x: np.ndarray) -> np.ndarray:
    """The stepper's h for each step of x (B, T, I), stacked (B, T, P) (copies: step reuses its
    buffers)."""
    return np.stack([stepper.step(np.ascontiguousarray(x[:, t])).copy() for t in range(x.shape[1])], axis=1)


def check_step_forms(a, b, c, x: np.ndarray) -> np.ndarray:
    """Three like steppers of batch_size 1 stepped over x (1, T, I), T >= 4, with each form of x_t:
    ``a`` (I,) -> (P,), ``b`` (1, I) and ``c`` (1, 1, I) -> (1, P), which must agree; step returns
    the stepper's own buffer, overwritten two steps later. Then a and b reset, and a list of
    numbers stepped as an array. -> the h of every step (1, T, P)."""
    outs, ys = [], []
    for t in range(x.shape[1]):
        h1 = a.step(x[0, t])  # (I,) -> (P,)
        h2 = b.step(x[:, t])  # (B, I) -> (B, P)
        h3 = c.step(x[:, t : t + 1])  # (B, 1, I) -> (B, P)
        P = h1.shape[0]
        assert h1.shape == (P,) and h2.shape == (1, P) and h3.shape == (1, P)
        assert np.array_equal(h1, h2[0]) and np.array_equal(h2, h3)
        outs.append(h2)
        ys.append(h2.copy())
    assert np.shares_memory(outs[0], outs[2]) and np.shares_memory(outs[1], outs[3])
    a.reset()
    b.reset()
    numbers = list(range(1, x.shape[2] + 1))  # Python ints: converted, having no dtype to respect
    assert np.array_equal(a.step(numbers), b.step(np.array([numbers], dtype=x.dtype))[0])
    return np.stack(ys, axis=1)

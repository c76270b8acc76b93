"""Fuzz of the regularizers and constraints (``lstmcore.regularizers``, ``lstmcore.constraints``)
and of a model trained with them: drawn factors, shapes, dtypes and axes. The rules: a
regularizer's gradient is its penalty's derivative (central differences in float64, away from
L1's kink at 0); each constraint's projection holds what it promises; a training step with any
mix of them keeps the loss and the weights finite and the constrained weights within their bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lstmcore
from lstmcore import constraints, layers, regularizers

factors = st.floats(0.0, 5.0, allow_nan=False, allow_infinity=False)
shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


@given(l1=factors, l2=factors, shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_regularizer_gradient_is_its_derivative(l1, l2, shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    x[np.abs(x) < 1e-3] = 0.5  # away from |x|'s kink
    reg = regularizers.L1L2(l1, l2)
    g = reg.gradient(x)
    assert g.shape == x.shape and g.dtype == x.dtype
    h = 1e-6
    for idx in list(np.ndindex(shape))[:8]:
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        fd = (reg(up) - reg(down)) / (2 * h)
        assert g[idx] == pytest.approx(fd, rel=1e-5, abs=1e-5 * (1 + l1 + l2))
    assert reg(x) >= 0


@given(
    kind=st.sampled_from(["max_norm", "min_max_norm", "unit_norm", "non_neg"]),
    shape=shapes,
    value=st.floats(0.0, 3.0),
    rate=st.floats(0.0, 1.0),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_constraints_hold_what_they_promise(kind, shape, value, rate, dtype, seed, data):
    w = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)
    axis = data.draw(st.integers(0, len(shape) - 1))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    if kind == "non_neg":
        got = constraints.NonNeg()(w)
        assert (got >= 0).all() and np.array_equal(got[w > 0], w[w > 0])
        return
    n0 = np.sqrt(np.square(w.astype(np.float64)).sum(axis=axis, keepdims=True))
    if kind == "max_norm":
        got = constraints.MaxNorm(value, axis=axis)(w)
        want = np.minimum(n0, value)
    elif kind == "unit_norm":
        got = constraints.UnitNorm(axis=axis)(w)
        want = np.ones_like(n0)
    else:
        lo, hi = value / 2, value
        got = constraints.MinMaxNorm(lo, hi, rate, axis=axis)(w)
        want = rate * np.clip(n0, lo, hi) + (1 - rate) * n0
    want = want * n0 / (constraints.EPSILON + n0)  # Keras's epsilon in the norm divided by
    assert got.dtype == w.dtype and got.shape == w.shape
    n = np.sqrt(np.square(got.astype(np.float64)).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(n, want, rtol=10 * tol, atol=10 * tol + 1e-6)


regs = st.one_of(st.none(), st.sampled_from(["l1", "l2", "l1_l2"]), factors.map(regularizers.L2))
cons = st.one_of(st.none(), st.sampled_from(["max_norm", "non_neg", "unit_norm", "min_max_norm"]))


@given(
    cell=st.sampled_from(["LSTM", "GRU", "SimpleRNN"]),
    kr=regs,
    rr=regs,
    br=regs,
    ar=regs,
    kc=cons,
    rc=cons,
    bc=cons,
    dense_reg=regs,
    seed=st.integers(0, 2**16),
)
def test_a_training_step_with_any_mix_stays_finite_and_projected(
    cell, kr, rr, br, ar, kc, rc, bc, dense_reg, seed
):
    lstmcore.set_random_seed(seed)
    rnn = getattr(layers, cell)(
        3,
        kernel_regularizer=kr,
        recurrent_regularizer=rr,
        bias_regularizer=br,
        activity_regularizer=ar,
        kernel_constraint=kc,
        recurrent_constraint=rc,
        bias_constraint=bc,
    )
    model = lstmcore.Sequential(
        [layers.Input(shape=(4, 2)), rnn, layers.Dense(1, kernel_regularizer=dense_reg)]
    )
    model.compile(lstmcore.optimizers.SGD(0.05), "mse")
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((5, 4, 2)).astype(np.float32), rng.standard_normal((5, 1)).astype(np.float32)
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    data_loss = float(np.mean((model.predict(x) - y) ** 2))
    assert model.evaluate(x, y, verbose=0) >= data_loss - 1e-6  # the penalties only add
    for name, c in rnn.constraints.items():
        w = rnn.params[name]
        assert np.isfinite(w).all()
        if isinstance(c, constraints.NonNeg):  # projected after the step: what each promises
            assert (w >= 0).all()
            continue
        bound = 1.0 if isinstance(c, constraints.UnitNorm) else c.max_value
        norms = np.sqrt(np.square(w.astype(np.float64)).sum(axis=c.axis))
        assert (norms <= bound * (1 + 1e-5)).all(), (name, norms, bound)


@given(
    rows=st.integers(2, 6),
    cols=st.integers(2, 6),
    mode=st.sampled_from(["rows", "columns"]),
    factor=st.floats(0.01, 2.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_orthogonal_regularizer_gradient_is_its_derivative(rows, cols, mode, factor, seed):
    x = np.random.default_rng(seed).standard_normal((rows, cols))
    reg = regularizers.OrthogonalRegularizer(factor, mode)
    v = x if mode == "rows" else x.T
    n = v / np.linalg.norm(v, axis=1, keepdims=True)
    p = n @ n.T
    if np.abs(p[~np.eye(len(p), dtype=bool)]).min() < 1e-3:  # |.|'s kink: no derivative there
        return
    g = reg.gradient(x)
    assert g.shape == x.shape and 0 <= reg(x) <= factor * (1 + 1e-12)  # each pair counted twice
    h = 1e-6
    for idx in list(np.ndindex(x.shape))[:10]:
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        assert g[idx] == pytest.approx((reg(up) - reg(down)) / (2 * h), rel=1e-4, abs=1e-7)

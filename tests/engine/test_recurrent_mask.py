"""Recurrent dropout inside the engine: the ``recurrent_mask`` (B, P) of lstm_forward, gru_forward
and rnn_forward multiplies h_prev wherever h_prev enters a recurrent product (Keras's semantics,
one mask per sequence); the backward reads the mask from the cache.

Every test runs on both backends: ``lstmcore.reference`` and ``lstmcore`` (the compiled engine,
or the reference again under LSTMCORE_BACKEND=reference).

- every gradient against central finite differences (float64, eps=1e-6) of the loss
  sum(y * dy) + sum(h_n * dh_n) [+ sum(c_n * dc_n)], with a mask of 0s and 1/(1 - 0.3)s, for the
  LSTM (plain, and with proj and peepholes), the GRU (both reset_after) and the simple RNN;
- the meaning of the mask, independently of the code: for one row b, masking h_prev is running
  the unmasked cell with w_h's rows scaled by mask[b] (diag(mask[b]) @ w_h), and the gradients are
  those of that call (dw_h scaled back); a mask of zeros is w_h = 0;
- a mask of ones gives exactly the unmasked results (the plain LSTM within the tolerance table:
  a mask takes it off the tuned kernels);
- the cache keeps the mask; bad masks and tampered caches are refused;
- the LSTM layer's recurrent_dropout against a NumPy loop over the steps.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import DTYPES, GRAD_OF, assert_close, check_grad, strided

import lstmcore
from lstmcore import layers, reference
from lstmcore.engine import _lstm_options, _validate
from lstmcore.reference.activations import sigmoid

RATE = 0.3
BACKENDS = [pytest.param(reference, id="reference"), pytest.param(lstmcore, id="lstmcore")]
OUTPUTS = ("y", "h_n", "c_n")  # c_n for the LSTM only
CASES = ["lstm", "lstm_proj_peepholes", "gru", "gru_reset_before", "rnn"]


# Problems and calls -------------------------------------------------------------------------------


def make_problem(rng, case, B=3, T=4, I=3, H=4, dtype=np.float64):
    """Random inputs and weights of one layer of ``case``, at the scale of a Glorot initialisation,
    -> (arrays by name, P the columns of h)."""

    def f(scale, *shape):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    P = H - 1 if case == "lstm_proj_peepholes" else H
    K = {"rnn": 1, "gru": 3, "gru_reset_before": 3}.get(case, 4)
    p = {"x": f(1.0, B, T, I), "w_x": f(I**-0.5, I, K * H), "w_h": f(P**-0.5, P, K * H)}
    p["b"] = f(0.3, 2, 3 * H) if case == "gru" else f(0.3, K * H)
    p["h0"] = f(0.5, B, P)
    if case.startswith("lstm"):
        p["c0"] = f(0.5, B, H)
    if case == "lstm_proj_peepholes":
        p["peepholes"] = f(0.5, 3, H)
        p["proj"] = f(H**-0.5, H, P)
    return p, P


def dropout_mask(rng, B, P, dtype=np.float64):
    """Keras's mask: 0 (dropped) or 1 / (1 - rate) (kept), with at least one of each in row 0."""
    mask = (rng.random((B, P)) >= RATE) / (1 - RATE)
    mask[0, 0], mask[0, -1] = 0, 1 / (1 - RATE)
    return mask.astype(dtype)


def forward(mod, case, p, **kw):
    """(y, h_n[, c_n][, cache]) of ``case`` on the backend ``mod``."""
    x, w_x, w_h, b, h0 = (p[k] for k in ("x", "w_x", "w_h", "b", "h0"))
    if case.startswith("lstm"):
        options = {k: p[k] for k in ("peepholes", "proj") if k in p}
        return mod.lstm_forward(x, w_x, w_h, b, h0, p["c0"], **options, **kw)
    if case == "rnn":
        return mod.rnn_forward(x, w_x, w_h, b, h0, **kw)
    return mod.gru_forward(x, w_x, w_h, b, h0, reset_after=case == "gru", **kw)


def backward(mod, case, dy, cache, dh_n, dc_n=None):
    if case.startswith("lstm"):
        return mod.lstm_backward(dy, cache, dh_n, dc_n)
    return (mod.rnn_backward if case == "rnn" else mod.gru_backward)(dy, cache, dh_n)


def upstream(rng, case, p, P):
    """dy (B, T, P), dh_n (B, P) and, for the LSTM, dc_n (B, H)."""
    B, T, _ = p["x"].shape
    dtype = p["x"].dtype
    ups = [rng.standard_normal((B, T, P)).astype(dtype), rng.standard_normal((B, P)).astype(dtype)]
    if case.startswith("lstm"):
        ups.append(rng.standard_normal(p["c0"].shape).astype(dtype))
    return ups


def loss(mod, case, p, ups, **kw):
    outs = forward(mod, case, p, **kw)
    return sum(np.sum(o * u) for o, u in zip(outs, ups, strict=True))


# Gradients ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mod", BACKENDS)
def test_backward_matches_finite_differences(mod, case):
    rng = np.random.default_rng(1)
    p, P = make_problem(rng, case)
    mask = dropout_mask(rng, p["x"].shape[0], P)
    ups = upstream(rng, case, p, P)
    *_, cache = forward(mod, case, p, recurrent_mask=mask, return_cache=True)
    grads = backward(mod, case, ups[0], cache, *ups[1:])
    for name in p:
        check_grad(
            grads[GRAD_OF[name]],
            lambda: loss(mod, case, p, ups, recurrent_mask=mask),
            p[name],
            f"{case}: {GRAD_OF[name]}",
        )
    # h0 reaches the outputs only through the recurrent product, but for the GRU's mixing
    # z * h_prev: elsewhere a dropped unit of h0 gets no gradient at all.
    if not case.startswith("gru"):
        assert np.all(grads["dh0"][mask == 0] == 0)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mod", BACKENDS)
def test_mask_is_scaling_w_h_row_by_row(mod, case):
    """Row b with mask m: (h_prev * m) @ w_h = h_prev @ (m[:, None] * w_h), and with
    reset_after=False (r * h_prev * m) @ w_hn likewise; the GRU's mixing keeps the unmasked h_prev
    in both. So the masked call of one row is the unmasked call with scaled w_h, and so are its
    gradients, but dw_h, which is m[:, None] * the unmasked call's dw_h."""
    rng = np.random.default_rng(2)
    p, P = make_problem(rng, case, B=3)
    mask = dropout_mask(rng, 3, P)
    mask[2] = 0  # a row with no recurrent product at all
    ups = upstream(rng, case, p, P)
    *outs, cache = forward(mod, case, p, recurrent_mask=mask, return_cache=True)
    grads = backward(mod, case, ups[0], cache, *ups[1:])
    for row in range(3):
        one = {k: (a[row : row + 1] if k in ("x", "h0", "c0") else a) for k, a in p.items()}
        one["w_h"] = mask[row][:, None] * p["w_h"]
        *want, one_cache = forward(mod, case, one, return_cache=True)
        for name, got, ref in zip(OUTPUTS, outs, want, strict=False):
            assert_close(got[row : row + 1], ref, np.float64, f"{case} row {row}: {name}")
        one_ups = [u[row : row + 1] for u in ups]
        one_grads = backward(mod, case, one_ups[0], one_cache, *one_ups[1:])
        for name in ("dx", "dh0", "dc0"):
            if name in one_grads:
                assert_close(grads[name][row : row + 1], one_grads[name], np.float64, f"row {row}: {name}")
        # Gradients of the weights: the sum over the rows of each row's own.
        if row == 0:
            sums = {k: 0 for k in grads if k not in ("dx", "dh0", "dc0")}
        for name in sums:
            g = one_grads[name]
            sums[name] = sums[name] + (mask[row][:, None] * g if name == "dw_h" else g)
    for name, want in sums.items():
        assert_close(grads[name], want, np.float64, f"{case}: {name}")


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mod", BACKENDS)
def test_mask_of_zeros_is_no_recurrent_product(mod, case):
    rng = np.random.default_rng(3)
    p, P = make_problem(rng, case)
    zeros = np.zeros((p["x"].shape[0], P))
    got = forward(mod, case, p, recurrent_mask=zeros)
    want = forward(mod, case, {**p, "w_h": np.zeros_like(p["w_h"])})
    assert len(got) == len(want)
    for name, a, b in zip(OUTPUTS, got, want, strict=False):
        assert_close(a, b, np.float64, f"{case}: {name}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mod", BACKENDS)
def test_mask_of_ones_gives_the_unmasked_results(mod, case, dtype):
    rng = np.random.default_rng(4)
    p, P = make_problem(rng, case, dtype=dtype)
    ones = np.ones((p["x"].shape[0], P), dtype=dtype)
    ups = upstream(rng, case, p, P)
    *got, got_cache = forward(mod, case, p, recurrent_mask=ones, return_cache=True)
    *want, want_cache = forward(mod, case, p, return_cache=True)
    got_grads = backward(mod, case, ups[0], got_cache, *ups[1:])
    want_grads = backward(mod, case, ups[0], want_cache, *ups[1:])
    assert got_grads.keys() == want_grads.keys()
    assert len(got) == len(want)
    pairs = [*zip(OUTPUTS, got, want, strict=False)]
    pairs += [(k, got_grads[k], want_grads[k]) for k in want_grads]
    for name, a, b in pairs:
        if case == "lstm":  # the mask moves the plain LSTM from the tuned kernels to the generic cell
            assert_close(a, b, dtype, f"{case}: {name}")
        else:
            assert np.array_equal(a, b), f"{case}: {name} differs with a mask of ones"


# The cache and the checks -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mod", BACKENDS)
def test_cache_keeps_the_mask(mod, case):
    rng = np.random.default_rng(5)
    p, P = make_problem(rng, case)
    B, T, _ = p["x"].shape
    mask = dropout_mask(rng, B, P)
    *_, cache = forward(mod, case, p, return_cache=True)
    assert cache.recurrent_mask is None
    assert "recurrent_mask" not in repr(cache)
    unmasked_bytes = cache.nbytes
    *_, cache = forward(mod, case, p, recurrent_mask=strided(mask), return_cache=True)
    m = cache.recurrent_mask
    assert isinstance(m, np.ndarray) and m.flags.c_contiguous and m.dtype == np.float64
    assert np.array_equal(m, mask)
    assert cache.nbytes == unmasked_bytes + mask.nbytes
    assert "recurrent_mask=True" in repr(cache)
    if case == "gru_reset_before":  # extra = r * h_prev * mask, what (r * h_prev * mask) @ w_hn took
        H = p["w_h"].shape[0]
        r = cache.gates[..., H : 2 * H]
        assert_close(cache.extra, r * cache.h[:T] * mask, np.float64, "extra")


def _refusals(B, P):
    return [
        (np.ones((B, P + 1)), ValueError, rf"recurrent_mask must have shape \(B, P\) = \({B}, {P}\), got"),
        (np.ones(P), ValueError, rf"recurrent_mask must have shape \(B, P\) = \({B}, {P}\), got \({P},\)"),
        (np.ones((1, B, P)), ValueError, r"recurrent_mask must have shape \(B, P\)"),
        (np.ones((B, P), np.float32), TypeError, "recurrent_mask must have dtype float64"),
        (np.ones((B, P), int), TypeError, "recurrent_mask must have dtype float64"),
        (np.full((B, P), np.nan), ValueError, r"recurrent_mask must be finite, got nan at index \(0, 0\)"),
        (np.full((B, P), np.inf), ValueError, "recurrent_mask must be finite"),
    ]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mod", BACKENDS)
def test_forward_refuses_a_bad_mask(mod, case):
    p, P = make_problem(np.random.default_rng(6), case)
    B = p["x"].shape[0]
    for mask, exc, match in _refusals(B, P):
        with pytest.raises(exc, match=match):
            forward(mod, case, p, recurrent_mask=mask)
    if case == "lstm_proj_peepholes":  # with proj the mask has P columns, not H
        with pytest.raises(ValueError, match=rf"\(B, P\) = \({B}, {P}\), got \({B}, {P + 1}\)"):
            forward(mod, case, p, recurrent_mask=np.ones((B, P + 1)))
    # Unchecked, NaN passes through (to every row's outputs from the first step on).
    nan = np.ones((B, P))
    nan[1] = np.nan
    y = forward(mod, case, p, recurrent_mask=nan, check_finite=False)[0]
    assert np.isnan(y[1]).all() and not np.isnan(y[0]).any()
    # Any real values, and a strided mask is converted.
    mask = np.random.default_rng(7).standard_normal((B, P))
    a, b = forward(mod, case, p, recurrent_mask=strided(mask)), forward(mod, case, p, recurrent_mask=mask)
    for u, v in zip(a, b, strict=True):
        assert np.array_equal(u, v)


TAMPER = {
    "shape": lambda m: np.ones((m.shape[0], m.shape[1] + 1)),
    "rows": lambda m: m[:1],
    "dtype": lambda m: m.astype(np.float32),
    "strided": strided,
    "list": lambda m: m.tolist(),
}


@pytest.mark.parametrize("tamper", list(TAMPER))
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mod", BACKENDS)
def test_backward_refuses_a_tampered_mask(mod, case, tamper):
    rng = np.random.default_rng(8)
    p, P = make_problem(rng, case)
    mask = dropout_mask(rng, p["x"].shape[0], P)
    ups = upstream(rng, case, p, P)
    *_, cache = forward(mod, case, p, recurrent_mask=mask, return_cache=True)
    cache.recurrent_mask = TAMPER[tamper](cache.recurrent_mask)
    with pytest.raises(ValueError, match=r"cache\.recurrent_mask must"):
        backward(mod, case, ups[0], cache, *ups[1:])


def test_check_recurrent_mask():
    f64 = np.dtype(np.float64)
    assert _validate.check_recurrent_mask(None, f64, 2, 3, True) is None
    mask = np.arange(6.0).reshape(2, 3)
    assert _validate.check_recurrent_mask(mask, f64, 2, 3, True) is mask  # no copy when none is needed
    got = _validate.check_recurrent_mask(strided(mask), f64, 2, 3, True)
    assert got.flags.c_contiguous and np.array_equal(got, mask)
    got = _validate.check_recurrent_mask(mask.astype(">f8"), f64, 2, 3, True)  # byte-swapped: converted
    assert got.dtype == f64 and np.array_equal(got, mask)
    with pytest.raises(ValueError, match=r"must have shape \(B, P\) = \(2, 4\), got \(2, 3\)"):
        _validate.check_recurrent_mask(mask, f64, 2, 4, True)
    with pytest.raises(TypeError, match=r"recurrent_mask must have dtype float32 \(the dtype of x\)"):
        _validate.check_recurrent_mask(mask, np.dtype(np.float32), 2, 3, True)
    nan = mask.copy()
    nan[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"recurrent_mask must be finite, got nan at index \(1, 2\)"):
        _validate.check_recurrent_mask(nan, f64, 2, 3, True)
    assert np.isnan(_validate.check_recurrent_mask(nan, f64, 2, 3, False)[1, 2])


def test_a_mask_makes_the_lstm_options_not_plain():
    p, P = make_problem(np.random.default_rng(9), "lstm")
    args = (p["x"], p["w_x"], p["w_h"], p["b"], p["h0"], p["c0"], True)
    opts = _lstm_options.check_forward(*args)[-1]
    assert opts.plain and opts.codes is not None and opts.recurrent_mask is None
    mask = dropout_mask(np.random.default_rng(9), 3, P)
    opts = _lstm_options.check_forward(*args, recurrent_mask=mask)[-1]
    assert not opts.plain and opts.codes is None and opts.recurrent_mask is mask
    assert (opts.act, opts.ract, opts.out_act) == ((0, 0.0, 0.0), (2, 0.0, 0.0), (0, 0.0, 0.0))
    *_, cache = reference.lstm_forward(*args[:-1], recurrent_mask=mask, return_cache=True)
    opts = _lstm_options.check_cache(cache)
    assert not opts.plain and opts.recurrent_mask is cache.recurrent_mask
    cache.recurrent_mask = None
    assert _lstm_options.check_cache(cache).plain


def test_cache_constructors_take_the_mask_as_a_keyword():
    x, h = np.zeros((2, 1, 3)), np.zeros((3, 1, 2))  # T = 2, B = 1, I = 3, H = 2
    gates4, gates3 = np.zeros((2, 1, 8)), np.zeros((2, 1, 6))
    m = np.ones((1, 2))
    lstm = (x, None, None, gates4, h, h, "tanh", "sigmoid")
    gru = (x, None, None, gates3, h, h[1:], True, "tanh", "sigmoid")
    rnn = (x, None, None, h, "tanh")
    for cls, args in ((lstmcore.LSTMCache, lstm), (lstmcore.GRUCache, gru), (lstmcore.RNNCache, rnn)):
        assert cls(*args).recurrent_mask is None
        cache = cls(*args, recurrent_mask=m)
        assert cache.recurrent_mask is m
        assert cache.nbytes == cls(*args).nbytes + m.nbytes


# The layer ----------------------------------------------------------------------------------------


def _numpy_loop(x, w_x, w_h, b, mask):
    """The LSTM over a sequence with h_prev masked, one step at a time, and its backward through
    time for dy on every step: written out here, independently of the engine."""
    B, T, _ = x.shape
    H = w_h.shape[0]
    h, c = np.zeros((T + 1, B, H)), np.zeros((T + 1, B, H))
    gates = []
    for t in range(T):
        z = x[:, t] @ w_x + (h[t] * mask) @ w_h + b
        i, f, o = sigmoid(z[:, :H]), sigmoid(z[:, H : 2 * H]), sigmoid(z[:, 3 * H :])
        g = np.tanh(z[:, 2 * H : 3 * H])
        c[t + 1] = f * c[t] + i * g
        h[t + 1] = o * np.tanh(c[t + 1])
        gates.append((i, f, g, o))

    def backward(dy):
        dh, dc = np.zeros((B, H)), np.zeros((B, H))
        grads = {"dx": np.zeros_like(x), "dw_x": 0, "dw_h": 0, "db": 0}
        for t in reversed(range(T)):
            i, f, g, o = gates[t]
            dh = dh + dy[:, t]
            tc = np.tanh(c[t + 1])
            dc = dc + dh * o * (1 - tc * tc)
            dz = np.concatenate(
                [dc * g * i * (1 - i), dc * c[t] * f * (1 - f), dc * i * (1 - g * g), dh * tc * o * (1 - o)],
                axis=1,
            )
            grads["dx"][:, t] = dz @ w_x.T
            grads["dw_x"] = grads["dw_x"] + x[:, t].T @ dz
            grads["dw_h"] = grads["dw_h"] + (h[t] * mask).T @ dz
            grads["db"] = grads["db"] + dz.sum(axis=0)
            dh, dc = (dz @ w_h.T) * mask, dc * f
        return grads

    return np.ascontiguousarray(h[1:].transpose(1, 0, 2)), backward


@pytest.mark.parametrize("mod", BACKENDS)
def test_layer_recurrent_dropout_is_a_numpy_loop_with_masked_h_prev(mod, monkeypatch):
    monkeypatch.setattr(layers.rnn, "_ops", mod)
    layer = layers.LSTM(4, recurrent_dropout=0.4, return_sequences=True, seed=3)
    x = np.random.default_rng(10).standard_normal((3, 5, 2))
    layer(x)  # builds it
    layer._rng = np.random.default_rng(7)
    y = layer.forward(x, training=True)
    mask = layers._dropout_mask(np.random.default_rng(7), (3, 4), 0.4, np.dtype(np.float64))
    assert (mask == 0).any() and (mask != 0).any()
    w_x, w_h, b = layer.weights
    want_y, want_backward = _numpy_loop(x, w_x, w_h, b, mask)
    assert_close(y, want_y, np.float64, "y")
    dy = np.random.default_rng(11).standard_normal(y.shape)
    dx = layer.backward(dy)
    want = want_backward(dy)
    assert_close(dx, want["dx"], np.float64, "dx")
    assert_close(layer.grads["kernel"], want["dw_x"], np.float64, "dw_x")
    assert_close(layer.grads["recurrent_kernel"], want["dw_h"], np.float64, "dw_h")
    assert_close(layer.grads["bias"], want["db"], np.float64, "db")
    # Without training, no mask: the plain LSTM.
    assert_close(layer.forward(x), reference.lstm_forward(x, w_x, w_h, b)[0], np.float64, "inference")

"""The NumPy reference of the GRU and the simple RNN, and the parameterised activations.

Gradients against central finite differences (float64, eps=1e-6) of the scalar loss
sum(y * dy) + sum(h_n * dh_n), forwards against an independent per-row loop written from the maths
of notes/cells_api.md (and against ONNX's and PyTorch's own where installed), the stepper and the
cell against the sequence, float32 against float64, and the input checks.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import (
    DTYPES,
    EPS,
    GRAD_OF,
    SHAPES,
    assert_close,
    check_grad,
    check_step_forms,
    numeric_grad,
    scalar_activation,
    stepped,
    strided,
)

from lstmcore import reference
from lstmcore.engine import _validate
from lstmcore.engine._cache import GRUCache, LSTMCache, RNNCache
from lstmcore.reference import activations

CELLS = ["gru", "gru_reset_before", "rnn"]
# (B, T, I, H): B = 1, T = 1 and H = 1 among them.
GRAD_SHAPES = {"B2T3": (2, 3, 3, 2), "B1": (1, 4, 2, 3), "T1": (3, 1, 2, 2), "H1": (2, 3, 2, 1)}
GRADS_GIVEN = ["dy_and_dh_n", "dy_only", "dh_n_only"]


# Problems and calls -------------------------------------------------------------------------------


def make_cell(rng, cell, B, T, I, H, dtype=np.float64, state=True):
    """Random inputs and weights of one GRU (``gru``: reset_after=True, ``gru_reset_before``:
    reset_after=False) or simple RNN layer, at the scale of a Glorot initialisation."""

    def f(scale, *shape):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    K = 1 if cell == "rnn" else 3
    b_shape = (2, 3 * H) if cell == "gru" else (K * H,)
    p = {
        "x": f(1.0, B, T, I),
        "w_x": f(I**-0.5, I, K * H),
        "w_h": f(H**-0.5, H, K * H),
        "b": f(0.3, *b_shape),
    }
    p["h0"] = f(0.5, B, H) if state else None
    return p


def cell_options(cell, **options):
    if cell != "rnn":
        options.setdefault("reset_after", cell == "gru")
    return options


def forward(cell, p, **options):
    fn = reference.rnn_forward if cell == "rnn" else reference.gru_forward
    return fn(p["x"], p["w_x"], p["w_h"], p["b"], p["h0"], **cell_options(cell, **options))


def backward(cell, dy, cache, dh_n=None):
    fn = reference.rnn_backward if cell == "rnn" else reference.gru_backward
    return fn(dy, cache, dh_n)


def stepper(cell, p, batch_size, **options):
    cls = reference.RNNStepper if cell == "rnn" else reference.GRUStepper
    return cls(p["w_x"], p["w_h"], p["b"], batch_size, **cell_options(cell, **options))


def cell_forward(cell, x_t, p, h_prev, **options):
    fn = reference.rnn_cell_forward if cell == "rnn" else reference.gru_cell_forward
    return fn(x_t, p["w_x"], p["w_h"], p["b"], h_prev, **cell_options(cell, **options))


# An independent twin: activations from the table of notes/cells_api.md, one row and step at a time.


def independent_act(spec_arg):
    return np.vectorize(scalar_activation(spec_arg))


def independent_forward(cell, p, activation="tanh", recurrent_activation="sigmoid"):
    act, ract = independent_act(activation), independent_act(recurrent_activation)
    x, w_x, w_h, b = p["x"], p["w_x"], p["w_h"], p["b"]
    B, T, _ = x.shape
    H = w_h.shape[0]
    y = np.zeros((B, T, H))
    for row in range(B):
        h = p["h0"][row].astype(np.float64)
        for t in range(T):
            xt = x[row, t]
            if cell == "rnn":
                h = act(xt @ w_x + h @ w_h + b)
            else:
                blk = [slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)]
                bx, bh = (b[0], b[1]) if cell == "gru" else (b, np.zeros(3 * H))
                z = ract(xt @ w_x[:, blk[0]] + bx[blk[0]] + h @ w_h[:, blk[0]] + bh[blk[0]])
                r = ract(xt @ w_x[:, blk[1]] + bx[blk[1]] + h @ w_h[:, blk[1]] + bh[blk[1]])
                if cell == "gru":
                    n = act(xt @ w_x[:, blk[2]] + bx[blk[2]] + r * (h @ w_h[:, blk[2]] + bh[blk[2]]))
                else:
                    n = act(xt @ w_x[:, blk[2]] + bx[blk[2]] + (r * h) @ w_h[:, blk[2]])
                h = z * h + (1 - z) * n
            y[row, t] = h
    return y, y[:, -1].copy()


# Gradients ---------------------------------------------------------------------------------------


def _loss(cell, p, dy, dh_n, options):
    y, h_n = forward(cell, p, **options)
    return (0.0 if dy is None else np.sum(y * dy)) + (0.0 if dh_n is None else np.sum(h_n * dh_n))


def check_gradients(cell, p, dy, dh_n, options):
    _, _, cache = forward(cell, p, return_cache=True, **options)
    grads = backward(cell, dy, cache, dh_n)
    assert set(grads) == {GRAD_OF[name] for name in p}
    for name in p:
        check_grad(grads[GRAD_OF[name]], lambda: _loss(cell, p, dy, dh_n, options), p[name], GRAD_OF[name])


def _upstream(rng, given, B, T, H):
    dy = rng.standard_normal((B, T, H)) if given != "dh_n_only" else None
    dh_n = rng.standard_normal((B, H)) if given != "dy_only" else None
    return dy, dh_n


@pytest.mark.parametrize("given", GRADS_GIVEN)
@pytest.mark.parametrize("shape", list(GRAD_SHAPES))
@pytest.mark.parametrize(
    "cell, activation", [("gru", "tanh"), ("gru_reset_before", "tanh"), ("rnn", "tanh"), ("rnn", "relu")]
)
def test_backward_matches_finite_differences(cell, activation, shape, given):
    B, T, I, H = GRAD_SHAPES[shape]
    rng = np.random.default_rng(1)
    p = make_cell(rng, cell, B, T, I, H)
    # relu has a kink at 0; with this fixed seed no pre-activation lies within EPS of it.
    check_gradients(cell, p, *_upstream(rng, given, B, T, H), {"activation": activation})


@pytest.mark.parametrize(
    "cell, options",
    [
        ("gru", {"activation": "softsign", "recurrent_activation": ("hard_sigmoid", 0.2, 0.5)}),
        ("gru", {"activation": ("scaled_tanh", 1.7159, 0.666), "recurrent_activation": "sigmoid"}),
        ("gru_reset_before", {"activation": ("elu", 0.5), "recurrent_activation": "hard_sigmoid"}),
        (
            "gru_reset_before",
            {"activation": ("leaky_relu", 0.1), "recurrent_activation": ("affine", 0.3, 0.5)},
        ),
        ("rnn", {"activation": ("leaky_relu", 0.1)}),
        ("rnn", {"activation": "softplus"}),
        ("rnn", {"activation": ("thresholded_relu", 0.1)}),
        ("rnn", {"activation": "sigmoid"}),
        ("rnn", {"activation": "linear"}),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(str(a) for a in v.values()),
)
def test_backward_with_parameterised_activations(cell, options):
    rng = np.random.default_rng(3)
    B, T, I, H = 2, 3, 3, 3
    p = make_cell(rng, cell, B, T, I, H)
    check_gradients(cell, p, *_upstream(rng, "dy_and_dh_n", B, T, H), options)
    y, h_n = forward(cell, p, **options)
    y_ind, h_ind = independent_forward(cell, p, **options)
    assert_close(y, y_ind, np.float64, "y")
    assert_close(h_n, h_ind, np.float64, "h_n")


@pytest.mark.parametrize("cell", CELLS)
def test_no_upstream_gradient_gives_zeros(cell):
    p = make_cell(np.random.default_rng(4), cell, 2, 3, 3, 2)
    _, _, cache = forward(cell, p, return_cache=True)
    for gname, g in backward(cell, None, cache, None).items():
        assert not g.any(), gname


def test_finite_differences_catch_a_wrong_gradient():
    # The check above must be able to fail: a gradient off by 1e-4 is caught.
    rng = np.random.default_rng(2)
    p = make_cell(rng, "gru", 1, 2, 2, 2)
    dy = rng.standard_normal((1, 2, 2))
    numeric = numeric_grad(lambda: _loss("gru", p, dy, None, {}), p["w_h"])
    _, _, cache = forward("gru", p, return_cache=True)
    wrong = reference.gru_backward(dy, cache)["dw_h"] + 1e-4
    assert np.abs(wrong - numeric).max() > 1e-6


# Forward ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("shape", ["tiny", "B1", "T1", "H1", "I_ne_H"])
def test_forward_matches_an_independent_loop(cell, shape):
    p = make_cell(np.random.default_rng(5), cell, *SHAPES[shape])
    y, h_n = forward(cell, p)
    y_ind, h_ind = independent_forward(cell, p)
    assert_close(y, y_ind, np.float64, "y")
    assert_close(h_n, h_ind, np.float64, "h_n")
    assert y.flags.c_contiguous and h_n.flags.c_contiguous


@pytest.mark.parametrize("cell", ["gru", "gru_reset_before"])
def test_gru_matches_onnx_reference(cell):
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    B, T, I, H = SHAPES["H7"]
    p = make_cell(np.random.default_rng(6), cell, B, T, I, H)
    reset_after = cell == "gru"
    node = onnx.helper.make_node(
        "GRU",
        ["X", "W", "R", "B", "", "H0"],
        ["Y", "Y_h"],
        hidden_size=H,
        linear_before_reset=int(reset_after),
    )
    # ONNX: gates z, r, h like ours; W (1, 3H, I), R (1, 3H, H), B (1, 6H) = [Wb, Rb], time-major.
    bias = p["b"].reshape(-1) if reset_after else np.concatenate([p["b"], np.zeros(3 * H)])
    feeds = {"X": p["x"].transpose(1, 0, 2), "W": p["w_x"].T[None], "R": p["w_h"].T[None]}
    Y, Y_h = ReferenceEvaluator(node).run(None, {**feeds, "B": bias[None], "H0": p["h0"][None]})
    y, h_n = forward(cell, p)
    assert_close(y, Y[:, 0].transpose(1, 0, 2), np.float64, "y")
    assert_close(h_n, Y_h[0], np.float64, "h_n")


@pytest.mark.parametrize("cell", ["gru", "rnn_tanh", "rnn_relu"])
def test_matches_torch(cell):
    torch = pytest.importorskip("torch")
    B, T, I, H = SHAPES["H7"]
    p = make_cell(np.random.default_rng(7), cell[:3], B, T, I, H)
    t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in p.items()}
    if cell == "gru":
        # PyTorch's blocks are r, z, n (ours z, r, n) and its weights are transposed.
        order = torch.from_numpy(np.r_[H : 2 * H, 0:H, 2 * H : 3 * H])
        module = torch.nn.GRU(I, H, batch_first=True, dtype=torch.float64)
        params = [t["w_x"].T[order], t["w_h"].T[order], t["b"][0][order], t["b"][1][order]]
        y, h_n = forward("gru", p)
    else:
        activation = cell[4:]
        module = torch.nn.RNN(I, H, nonlinearity=activation, batch_first=True, dtype=torch.float64)
        params = [t["w_x"].T, t["w_h"].T, t["b"], torch.zeros(H, dtype=torch.float64)]
        y, h_n = forward("rnn", p, activation=activation)
    with torch.no_grad():
        for name, value in zip(
            ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"], params, strict=True
        ):
            getattr(module, name).copy_(value)
        y_t, h_t = module(t["x"], t["h0"][None])
    assert_close(y, y_t.numpy(), np.float64, "y")
    assert_close(h_n, h_t[0].numpy(), np.float64, "h_n")


@pytest.mark.parametrize("cell", CELLS)
def test_cache_holds_what_the_contract_says(cell):
    B, T, I, H = SHAPES["tiny"]
    p = make_cell(np.random.default_rng(8), cell, B, T, I, H)
    activation = ("scaled_tanh", 1.5, 0.5)
    y, h_n, cache = forward(cell, p, return_cache=True, activation=activation)
    assert cache.activation is activation  # kept as given
    assert cache.w_x is p["w_x"] and cache.w_h is p["w_h"]  # references, not copies
    assert_close(cache.x, p["x"].transpose(1, 0, 2), np.float64, "x")
    assert_close(cache.h[0], p["h0"], np.float64, "h[0]")
    assert_close(cache.h[1:], y.transpose(1, 0, 2), np.float64, "h[1:]")
    if cell == "rnn":
        assert isinstance(cache, RNNCache) and cache.h.shape == (T + 1, B, H)
        assert cache.nbytes == cache.x.nbytes + cache.h.nbytes
        assert repr(cache) == (
            f"RNNCache(T={T}, B={B}, I={I}, H={H}, dtype=float64, activation=('scaled_tanh', 1.5, 0.5))"
        )
        return
    assert isinstance(cache, GRUCache) and cache.reset_after is (cell == "gru")
    assert cache.gates.shape == (T, B, 3 * H) and cache.extra.shape == (T, B, H)
    for a in (cache.x, cache.gates, cache.h, cache.extra):
        assert a.flags.c_contiguous and a.dtype == np.float64
    z, r = cache.gates[..., :H], cache.gates[..., H : 2 * H]
    h_prev = cache.h[:T]
    if cell == "gru":
        want = h_prev @ p["w_h"][:, 2 * H :] + p["b"][1, 2 * H :]  # zh_n
    else:
        want = r * h_prev
    assert_close(cache.extra, want, np.float64, "extra")
    # The gates are consistent with h: h = z * h_prev + (1 - z) * n.
    assert_close(cache.h[1:], z * h_prev + (1 - z) * cache.gates[..., 2 * H :], np.float64, "h")
    assert cache.nbytes == sum(a.nbytes for a in (cache.x, cache.gates, cache.h, cache.extra))
    assert repr(cache).startswith(f"GRUCache(T={T}, B={B}, I={I}, H={H}, dtype=float64, reset_after=")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("shape", ["tiny", "B1", "T1", "H1"])
def test_cell_forward_equals_one_forward_step(cell, shape):
    B, _, I, H = SHAPES[shape]
    p = make_cell(np.random.default_rng(9), cell, B, 1, I, H)
    x_t = np.ascontiguousarray(p["x"][:, 0])
    y, h_n = forward(cell, p)
    assert_close(cell_forward(cell, x_t, p, p["h0"]), h_n, np.float64, "h")
    p["h0"] = None  # zeros
    assert_close(cell_forward(cell, x_t, p, None), forward(cell, p)[1], np.float64, "h from zeros")


@pytest.mark.parametrize("cell", CELLS)
def test_gate_functions_are_one_step_of_the_loop(cell):
    B, T, I, H = SHAPES["tiny"]
    p = make_cell(np.random.default_rng(10), cell, B, T, I, H)
    _, _, cache = forward(cell, p, return_cache=True)
    act = _validate.activation_spec("tanh", "activation")
    ract = _validate.activation_spec("sigmoid", "recurrent_activation")
    t = 1
    if cell == "rnn":
        h = reference.rnn_gates_forward(cache.x[t] @ p["w_x"] + cache.h[t] @ p["w_h"] + p["b"], act)
        assert_close(h, cache.h[t + 1], np.float64, "h")
        return
    reset_after = cell == "gru"
    b_x, b_h = (p["b"][0], p["b"][1]) if reset_after else (p["b"], None)
    gates, extra, h = reference.gru_gates_forward(
        cache.x[t] @ p["w_x"] + b_x, cache.h[t], p["w_h"], b_h, act, ract, reset_after
    )
    assert_close(gates, cache.gates[t], np.float64, "gates")
    assert_close(extra, cache.extra[t], np.float64, "extra")
    assert_close(h, cache.h[t + 1], np.float64, "h")
    dzx, dzh, dh_prev = reference.gru_gates_backward(
        np.ones((B, H)), gates, extra, cache.h[t], p["w_h"], act, ract, reset_after
    )
    assert dzx.shape == dzh.shape == (B, 3 * H) and dh_prev.shape == (B, H)
    assert (dzh is dzx) is not reset_after


@pytest.mark.parametrize("cell", CELLS)
def test_float32_agrees_with_float64(cell):
    B, T, I, H = SHAPES["H7"]
    rng = np.random.default_rng(11)
    p64 = make_cell(rng, cell, B, T, I, H)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    p64 = {k: v.astype(np.float64) for k, v in p32.items()}  # the same values in both
    dy = rng.standard_normal((B, T, H))
    out = {}
    for dt, p in ((np.float32, p32), (np.float64, p64)):
        y, h_n, cache = forward(cell, p, return_cache=True)
        grads = backward(cell, dy.astype(dt), cache)
        assert y.dtype == h_n.dtype == dt and all(g.dtype == dt for g in grads.values())
        out[dt] = {"y": y, "h_n": h_n, **grads}
    for name, value in out[np.float64].items():
        assert_close(out[np.float32][name], value, np.float32, name, scale=10)


# Steppers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ["tiny", "B1", "T1", "H1", "I_ne_H", "B10"])
def test_steps_equal_forward(cell, dtype, shape):
    B, T, I, H = SHAPES[shape]
    p = make_cell(np.random.default_rng(12), cell, B, T, I, H, dtype)
    s = stepper(cell, p, B)
    y_ref, h_ref = forward(cell, p)
    s.reset(p["h0"])
    assert_close(stepped(s, p["x"]), y_ref, dtype, "y")
    assert_close(s.h, h_ref, dtype, "h")
    p["h0"] = None
    s.reset()
    assert_close(stepped(s, p["x"]), forward(cell, p)[0], dtype, "y from zeros")


@pytest.mark.parametrize("cell", CELLS)
def test_stepper_options_forms_and_buffers(cell):
    p = make_cell(np.random.default_rng(13), cell, 1, 4, 3, 5, np.float32, state=False)
    options = {"activation": ("elu", 0.5)} if cell == "rnn" else {"recurrent_activation": "hard_sigmoid"}
    a, b, c = (stepper(cell, p, 1, **options) for _ in range(3))
    y_ref = forward(cell, p, **options)[0]
    p["w_h"][...] = 0  # the steppers copied the weights: this changes nothing
    x = p["x"]
    assert_close(check_step_forms(a, b, c, x), y_ref, np.float32, "y")
    name = "RNNStepper" if cell == "rnn" else "GRUStepper"
    assert repr(a).startswith(f"{name}(batch_size=1, input_size=3, units=5, dtype=float32")
    assert (a.batch_size, a.input_size, a.units, a.dtype) == (1, 3, 5, np.float32)
    if cell != "rnn":
        assert f"reset_after={cell == 'gru'}" in repr(a) and "'hard_sigmoid'" in repr(a)
    held = a.h
    held[...] = 7  # .h is a copy
    assert not np.array_equal(a.h, held)
    with a._entered("step"):  # another thread stepping
        with pytest.raises(RuntimeError, match="another thread"):
            a.step(x[0, 0])


@pytest.mark.parametrize("cell", CELLS)
def test_stepper_refuses_bad_input(cell):
    p = make_cell(np.random.default_rng(14), cell, 2, 1, 3, 4, np.float32, state=False)
    with pytest.raises(ValueError, match="batch_size"):
        stepper(cell, p, 0)
    with pytest.raises(TypeError, match="batch_size"):
        stepper(cell, p, 1.5)
    with pytest.raises(ValueError, match="activation must be one of"):
        stepper(cell, p, 1, activation="swish")
    bad = dict(p, w_h=p["w_h"][:, :-1])
    with pytest.raises(ValueError, match="w_h must have shape"):
        stepper(cell, bad, 1)
    bad = dict(p, w_h=p["w_h"].copy())
    bad["w_h"][0, 0] = np.nan
    with pytest.raises(ValueError, match="w_h must be finite"):
        stepper(cell, bad, 1)
    s = stepper(cell, p, 2)
    for x_t in (np.zeros((3, 3), np.float32), np.zeros(3, np.float32), np.float32(1.0)):
        with pytest.raises(ValueError, match="x_t must have shape"):
            s.step(x_t)
    with pytest.raises(TypeError, match="float32"):
        s.step(np.zeros((2, 3), np.float64))
    x_t = np.zeros((2, 3), np.float32)
    x_t[1, 2] = np.inf
    with pytest.raises(ValueError, match="finite"):
        s.step(x_t)
    with pytest.raises(ValueError, match="h must have shape"):
        s.reset(np.zeros((2, 5), np.float32))
    unchecked = stepper(cell, p, 2, check_finite=False)
    assert np.isnan(unchecked.step(np.full((2, 3), np.nan, np.float32))).all()


# Activations ------------------------------------------------------------------------------------

# (argument, kinks of f): every activation, with default and other parameters.
ACTIVATION_CASES = [
    ("tanh", []),
    ("relu", [0.0]),
    ("sigmoid", []),
    ("linear", []),
    ("hard_sigmoid", [-3.0, 3.0]),
    (("hard_sigmoid", 0.2, 0.5), [-2.5, 2.5]),
    ("leaky_relu", [0.0]),
    (("leaky_relu", 0.3), [0.0]),
    (("leaky_relu", 0.0), [0.0]),
    ("thresholded_relu", [1.0]),
    (("thresholded_relu", -0.5), [-0.5, 0.0]),
    ("scaled_tanh", []),
    (("scaled_tanh", 1.7159, 0.666), []),
    (("scaled_tanh", -2.0, 0.5), []),
    ("affine", []),
    (("affine", -0.5, 2.0), []),
    ("elu", [0.0]),
    (("elu", 0.3), [0.0]),
    ("softsign", [0.0]),  # f' has a corner at 0
    ("softplus", []),
]


def _case_id(case):
    return case if isinstance(case, str) else "-".join(str(v) for v in case)


@pytest.mark.parametrize("arg, kinks", ACTIVATION_CASES, ids=[_case_id(c[0]) for c in ACTIVATION_CASES])
def test_activation_values_and_derivatives(arg, kinks):
    spec = _validate.activation_spec(arg, "activation")
    x = np.linspace(-4, 4, 321)
    x = x[np.all([np.abs(x - k) > 1e-3 for k in kinks], axis=0)] if kinks else x
    y = activations.apply(spec, x)
    assert_close(y, independent_act(arg)(x), np.float64, "f(x)")
    numeric = (activations.apply(spec, x + EPS) - activations.apply(spec, x - EPS)) / (2 * EPS)
    assert np.abs(activations.derivative(spec, y) - numeric).max() < 1e-8
    for dt in DTYPES:  # the dtype is kept; huge inputs neither warn nor overflow
        big = np.array([-1e4, -800.0, -90.0, 0.5, 90.0, 800.0, 1e4], dtype=dt)
        y = activations.apply(spec, big)
        d = activations.derivative(spec, y)
        assert y.dtype == d.dtype == dt
        assert_close(activations.apply(spec, x.astype(dt)), independent_act(arg)(x.astype(dt)), dt, "float32")
    assert np.isnan(activations.apply(spec, np.array([np.nan]))).all()  # NaN stays NaN


def test_activation_codes_agree_with_the_lstm_tables():
    x = np.linspace(-8, 8, 101)
    for name, code in _validate.ACTIVATIONS.items():
        spec = _validate.activation_spec(name, "activation")
        assert spec[0] == _validate.CELL_ACTIVATIONS[name] == code
        f, df = activations.ACT[code]
        assert np.array_equal(activations.apply(spec, x), f(x)), name
        assert np.array_equal(activations.derivative(spec, f(x)), df(f(x))), name
    hs = _validate.activation_spec("hard_sigmoid", "recurrent_activation")
    assert_close(activations.apply(hs, x), activations.hard_sigmoid(x), np.float64, "hard_sigmoid")
    assert len(_validate.CELL_ACTIVATIONS) == 12
    assert sorted(_validate.CELL_ACTIVATIONS.values()) == list(range(12))


@pytest.mark.parametrize(
    "arg, spec",
    [
        ("tanh", (0, 0.0, 0.0)),
        (("tanh",), (0, 0.0, 0.0)),
        ("softplus", (11, 0.0, 0.0)),
        ("hard_sigmoid", (4, 1 / 6, 0.5)),
        (("hard_sigmoid", 0.2), (4, 0.2, 0.5)),
        (("hard_sigmoid", 0.2, 0.4), (4, 0.2, 0.4)),
        ("leaky_relu", (5, 0.01, 0.0)),
        ("thresholded_relu", (6, 1.0, 0.0)),
        (("scaled_tanh", 2), (7, 2.0, 1.0)),
        ("affine", (8, 1.0, 0.0)),
        (("elu", np.float32(0.5)), (9, 0.5, 0.0)),
        (("affine", np.int64(3), -1), (8, 3.0, -1.0)),
    ],
    ids=_case_id,
)
def test_activation_spec(arg, spec):
    got = _validate.activation_spec(arg, "activation")
    assert got == spec and all(type(v) is float for v in got[1:]) and type(got[0]) is int


@pytest.mark.parametrize(
    "arg, exc, match",
    [
        ("swish", ValueError, r"activation must be one of \[.*'tanh'.*\]; got 'swish'"),
        ("Tanh", ValueError, "got 'Tanh'"),
        (("swish", 1.0), ValueError, "got 'swish'"),
        (("tanh", 1.0), ValueError, "activation 'tanh' takes no parameters"),
        (("softsign", 1.0, 2.0), ValueError, "'softsign' takes no parameters"),
        (("leaky_relu", 0.1, 0.2), ValueError, "'leaky_relu' takes at most 1 parameter"),
        (("leaky_relu", -0.1), ValueError, "alpha must be >= 0"),
        (("elu", 0.0), ValueError, "alpha must be > 0"),
        (("scaled_tanh", 0.0, 1.0), ValueError, "alpha must not be 0"),
        (("affine", float("nan")), ValueError, "alpha must be finite"),
        (("affine", 1.0, float("inf")), ValueError, "beta must be finite"),
        (("affine", 10**400), ValueError, "alpha must be finite"),
        (("elu", "1"), TypeError, "alpha must be a real number"),
        (("elu", True), TypeError, "alpha must be a real number"),
        (None, TypeError, "activation must be a string"),
        (["tanh"], TypeError, "activation must be a string"),
        (np.tanh, TypeError, "activation must be a string"),
        ((), TypeError, "activation must be a string"),
        ((0.5, "elu"), TypeError, "with a str name"),
        (("hard_sigmoid", 0.2, 0.5, 1.0), TypeError, r"\(name, alpha, beta\)"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_activation_spec_refuses(arg, exc, match):
    with pytest.raises(exc, match=match):
        _validate.activation_spec(arg, "activation")


# Input checks -----------------------------------------------------------------------------------


def _p(cell="gru", dtype=np.float64):
    return make_cell(np.random.default_rng(15), cell, 2, 3, 4, 5, dtype)


def _with(p, **changes):
    return {**p, **changes}


def _nan_at(a, idx):
    a = a.copy()
    a[idx] = np.nan
    return a


GRU, RNN = _p("gru"), _p("rnn")
GRU_BEFORE = _p("gru_reset_before")
LSTM_W_H = np.zeros((5, 20))
ZEROS_H0 = _with(GRU, w_x=np.zeros((4, 0)), w_h=np.zeros((0, 0)), b=np.zeros((2, 0)))
REFUSED = {
    # name: (cell, params, options, exception, message)
    "gru-w_h-lstm-shaped": ("gru", _with(GRU, w_h=LSTM_W_H), {}, ValueError,
                            r"w_h must have shape \(H, 3\*H\) for a GRU, got \(5, 20\): .*an LSTM's w_h"),
    "gru-w_h-odd": ("gru", _with(GRU, w_h=np.zeros((5, 14))), {}, ValueError,
                    r"w_h must have shape \(H, 3\*H\) for a GRU, got \(5, 14\)$"),
    "gru-w_h-rnn-shaped": ("gru", _with(GRU, w_h=np.zeros((5, 5))), {}, ValueError, "a simple RNN's w_h"),
    "gru-w_h-1d": ("gru", _with(GRU, w_h=np.zeros(15)), {}, ValueError, r"w_h must have shape \(H, 3\*H\)"),
    "gru-w_x-columns": ("gru", _with(GRU, w_x=np.zeros((4, 20))), {}, ValueError,
                        r"w_x must have shape \(4, 15\), got \(4, 20\)"),
    "gru-w_x-1d": ("gru", _with(GRU, w_x=np.zeros(15)), {}, ValueError,
                   r"w_x must have shape \(I, 15\) for a GRU"),
    "gru-b-flat-for-reset_after": ("gru", _with(GRU, b=np.zeros(15)), {}, ValueError,
                                   r"b must have shape \(2, 15\) for a GRU with reset_after=True"),
    "gru-b-two-rows-for-reset_before": (
        "gru_reset_before", _with(GRU_BEFORE, b=np.zeros((2, 15))), {}, ValueError,
        r"b must have shape \(15,\) for a GRU with reset_after=False"),
    "gru-b-lstm": ("gru", _with(GRU, b=np.zeros(20)), {}, ValueError, r"b must have shape \(2, 15\)"),
    "gru-reset_after-not-bool": ("gru", GRU, {"reset_after": "yes"}, TypeError,
                                 "reset_after must be True or False"),
    "gru-H0": ("gru", ZEROS_H0, {}, ValueError, "H must be at least 1"),
    "gru-x-2d": ("gru", _with(GRU, x=np.zeros((2, 4))), {}, ValueError, r"x must be 3-D \(B, T, I\)"),
    "gru-x-features": ("gru", _with(GRU, x=np.zeros((2, 3, 5))), {}, ValueError,
                       r"x must have shape \(2, 3, 4\)"),
    "gru-T0": ("gru", _with(GRU, x=np.zeros((2, 0, 4))), {}, ValueError, "T must be at least 1"),
    "gru-h0-shape": ("gru", _with(GRU, h0=np.zeros((2, 4))), {}, ValueError, r"h0 must have shape \(2, 5\)"),
    "gru-x-int": ("gru", _with(GRU, x=np.zeros((2, 3, 4), int)), {}, TypeError,
                  "x must be a float32 or float64"),
    "gru-w_h-float32": ("gru", _with(GRU, w_h=GRU["w_h"].astype(np.float32)), {}, TypeError,
                        r"w_h must have dtype float64 \(the dtype of x\), got float32"),
    "gru-h0-float32": ("gru", _with(GRU, h0=GRU["h0"].astype(np.float32)), {}, TypeError,
                       "h0 must have dtype float64"),
    "gru-x-nan": ("gru", _with(GRU, x=_nan_at(GRU["x"], (1, 2, 3))), {}, ValueError,
                  r"x must be finite, got nan at index \(1, 2, 3\)"),
    "gru-b-inf": ("gru", _with(GRU, b=np.full_like(GRU["b"], np.inf)), {}, ValueError, "b must be finite"),
    "gru-h0-nan": ("gru", _with(GRU, h0=_nan_at(GRU["h0"], (0, 0))), {}, ValueError, "h0 must be finite"),
    "gru-activation": ("gru", GRU, {"activation": "swish"}, ValueError, "activation must be one of"),
    "gru-recurrent_activation-params": ("gru", GRU, {"recurrent_activation": ("sigmoid", 1.0)}, ValueError,
                                        "recurrent_activation 'sigmoid' takes no parameters"),
    "gru-activation-callable": ("gru", GRU, {"activation": np.tanh}, TypeError,
                                "activation must be a string"),
    "rnn-w_h-lstm-shaped": ("rnn", _with(RNN, w_h=LSTM_W_H), {}, ValueError,
                            r"w_h must have shape \(H, H\) for a simple RNN, got \(5, 20\): .*an LSTM's"),
    "rnn-w_h-gru-shaped": ("rnn", _with(RNN, w_h=np.zeros((5, 15))), {}, ValueError, "a GRU's w_h"),
    "rnn-w_h-odd": ("rnn", _with(RNN, w_h=np.zeros((5, 6))), {}, ValueError, r"got \(5, 6\)$"),
    "rnn-w_x": ("rnn", _with(RNN, w_x=np.zeros((4, 6))), {}, ValueError, r"w_x must have shape \(4, 5\)"),
    "rnn-b": ("rnn", _with(RNN, b=np.zeros((2, 5))), {}, ValueError, r"b must have shape \(5\)"),
    "rnn-x-float32": ("rnn", _with(RNN, x=RNN["x"].astype(np.float32)), {}, TypeError,
                      "must have dtype float32"),
    "rnn-w_x-nan": ("rnn", _with(RNN, w_x=_nan_at(RNN["w_x"], (3, 4))), {}, ValueError, "w_x must be finite"),
    "rnn-activation-params": ("rnn", RNN, {"activation": ("relu", 0.1)}, ValueError,
                              "'relu' takes no parameters"),
    "rnn-activation-elu-alpha": ("rnn", RNN, {"activation": ("elu", -1.0)}, ValueError, "alpha must be > 0"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSED))
def test_forward_refuses(case):
    cell, p, options, exc, match = REFUSED[case]
    with pytest.raises(exc, match=match):
        forward(cell, p, **options)
    if "-x-" not in case and "T0" not in case:  # the same check in the one-step cell
        x_t = np.ascontiguousarray(p["x"][:, 0])
        with pytest.raises(exc, match=match.replace("h0", "h_prev")):
            cell_forward(cell, x_t, p, p["h0"], **options)


@pytest.mark.parametrize("cell", CELLS)
def test_unchecked_nan_passes_through_and_strided_input_is_converted(cell):
    p = make_cell(np.random.default_rng(16), cell, 2, 3, 4, 5)
    y_ref = forward(cell, p)[0]
    views = {k: strided(v) for k, v in p.items()}
    assert not views["x"].flags.c_contiguous
    assert_close(forward(cell, views)[0], y_ref, np.float64, "strided")
    swapped = _with(p, x=p["x"].astype(p["x"].dtype.newbyteorder()))
    assert_close(forward(cell, swapped)[0], y_ref, np.float64, "byte-swapped")
    nan = _with(p, x=_nan_at(p["x"], (0, 1, 2)))
    with np.errstate(invalid="ignore"):
        y = forward(cell, nan, check_finite=False)[0]
    assert np.isnan(y[0, 1:]).all() and not np.isnan(y[1]).any()


@pytest.mark.parametrize("cell", CELLS)
def test_backward_refuses(cell):
    p = make_cell(np.random.default_rng(17), cell, 2, 3, 4, 5)
    B, T, H = 2, 3, 5
    y, _, cache = forward(cell, p, return_cache=True)
    name = "RNNCache" if cell == "rnn" else "GRUCache"
    lstm_cache = reference.lstm_forward(
        *(np.zeros(s) for s in ((2, 3, 4), (4, 20), (5, 20), (20,))), return_cache=True
    )[-1]
    other_cell = "gru" if cell == "rnn" else "rnn"
    other_cache = forward(other_cell, _p(other_cell), return_cache=True)[-1]
    for wrong in (lstm_cache, None, other_cache):
        with pytest.raises(TypeError, match=f"cache must be the {name}"):
            backward(cell, np.zeros_like(y), wrong)
    with pytest.raises(ValueError, match=rf"dy must have shape \({B}, {T}, {H}\)"):
        backward(cell, np.zeros((B, T, H + 1)), cache)
    with pytest.raises(ValueError, match=rf"dh_n must have shape \({B}, {H}\)"):
        backward(cell, None, cache, np.zeros((B + 1, H)))
    with pytest.raises(TypeError, match="dy must have dtype float64"):
        backward(cell, np.zeros((B, T, H), np.float32), cache)
    with pytest.raises(ValueError, match="dh_n must be finite"):
        backward(cell, None, cache, np.full((B, H), np.inf))
    tamper = {
        "h": lambda c: c.h[:, :, :-1],
        "x": lambda c: strided(c.x),
        "w_h": lambda c: c.w_h.astype(np.float32),
        "w_x": lambda c: c.w_x[:-1],
    }
    if cell != "rnn":
        tamper["gates"] = lambda c: c.gates[:, :, :-1]
        tamper["extra"] = lambda c: c.extra[:-1]
    for field, change in tamper.items():
        _, _, c = forward(cell, p, return_cache=True)
        setattr(c, field, change(c))
        # The RNN's h sets T, B and H: a changed h shows as the arrays that no longer fit it.
        with pytest.raises(
            ValueError, match=r"cache\.\w+ must" if (cell, field) == ("rnn", "h") else rf"cache\.{field}"
        ):
            backward(cell, y, c)
    _, _, c = forward(cell, p, return_cache=True)
    c.activation = "nope"
    with pytest.raises(ValueError, match="cache.activation must be one of"):
        backward(cell, y, c)
    if cell == "rnn":
        _, _, c = forward(cell, p, return_cache=True)
        c.h = c.h[:1]
        with pytest.raises(ValueError, match=r"cache\.h must be an array \(T\+1, B, H\) with T >= 1"):
            backward(cell, None, c)
    else:
        _, _, c = forward(cell, p, return_cache=True)
        c.reset_after = "yes"
        with pytest.raises(TypeError, match="cache.reset_after must be True or False"):
            backward(cell, y, c)


def test_lstm_cache_options_default_and_keep_the_positional_form():
    arrays = (np.zeros((2, 1, 3)), None, None, np.zeros((2, 1, 8)), np.zeros((3, 1, 2)), np.zeros((3, 1, 2)))
    c = LSTMCache(*arrays, "tanh", "sigmoid")
    options = (c.peepholes, c.proj, c.clip, c.input_forget, c.output_activation, c.z, c.m)
    assert options == (None, None, None, False, None, None, None)
    assert c.nbytes == sum(x.nbytes for x in (c.x, c.gates, c.h, c.c))
    c = LSTMCache(*arrays, "tanh", "sigmoid", clip=3.0, input_forget=True, z=np.zeros((2, 1, 8)))
    assert c.clip == 3.0 and c.input_forget
    assert c.nbytes == sum(x.nbytes for x in (c.x, c.gates, c.h, c.c, c.z))
    assert "clip=3.0" in repr(c) and "input_forget=True" in repr(c)

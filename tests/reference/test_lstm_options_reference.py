"""The LSTM options of the NumPy reference: peepholes, proj, clip, input_forget,
output_activation and activations with parameters (the contract: /work/notes/cells_api.md).

- every gradient against central finite differences (float64, eps=1e-6, tiny shapes), for each
  option alone and for all of them together, through the loss
  sum(y * dy) + sum(h_n * dh_n) + sum(c_n * dc_n);
- the forward against a scalar, element-by-element transcription of the contract's maths;
- the stepper against the forward step by step, lstm_cell_forward against one step;
- the defaults, and options that change nothing, against the plain LSTM;
- bad options are refused with a message naming the option;
- proj against PyTorch's nn.LSTM(proj_size=...) (outputs and autograd gradients).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import (
    ACTIVATIONS,
    DTYPES,
    GRAD_OF,
    RECURRENT_ACTIVATIONS,
    assert_close,
    check_grad,
    make_lstm,
    numeric_grad,
    scalar_activation,
    strided,
)

from lstmcore import reference
from lstmcore.engine import _lstm_options, _validate
from lstmcore.reference import activations
from lstmcore.reference import lstm as reference_lstm

B, T, I, H, P = 2, 3, 3, 4, 2


def make_problem(rng, B=B, T=T, I=I, H=H, P=None, peepholes=False, dtype=np.float64):
    """make_lstm's inputs, with w_h (P, G), h0 (B, P) and proj (H, P) when P is given, and
    peepholes (3, H) when asked for."""
    p = make_lstm(rng, B, T, I, H, dtype)
    if P is not None:
        p["w_h"] = (rng.standard_normal((P, 4 * H)) * P**-0.5).astype(dtype)
        p["h0"] = (rng.standard_normal((B, P)) * 0.5).astype(dtype)
        p["proj"] = (rng.standard_normal((H, P)) * H**-0.5).astype(dtype)
    if peepholes:
        p["peepholes"] = (rng.standard_normal((3, H)) * 0.5).astype(dtype)
    return p


def _forward(p, opts, **kw):
    arrays = {k: p[k] for k in ("peepholes", "proj") if k in p}
    return reference.lstm_forward(
        p["x"], p["w_x"], p["w_h"], p["b"], p["h0"], p["c0"], **arrays, **opts, **kw
    )


def _loss(p, opts, dy, dh_n, dc_n):
    y, h_n, c_n = _forward(p, opts)
    return np.sum(y * dy) + np.sum(h_n * dh_n) + np.sum(c_n * dc_n)


# (name, problem keywords, options): each option alone, the activations with parameters in each
# place, and everything together.
CASES = [
    ("peepholes", {"peepholes": True}, {}),
    ("proj", {"P": P}, {}),
    ("proj-P1", {"P": 1}, {}),
    ("clip", {}, {"clip": 0.9}),
    ("input_forget", {}, {"input_forget": True}),
    ("output_activation-relu", {}, {"output_activation": "relu"}),
    ("output_activation-sigmoid-of-relu", {}, {"activation": "relu", "output_activation": "sigmoid"}),
    ("recurrent-hard_sigmoid-onnx", {}, {"recurrent_activation": ("hard_sigmoid", 0.2, 0.5)}),
    ("recurrent-softsign", {}, {"recurrent_activation": "softsign"}),
    ("recurrent-tanh", {}, {"recurrent_activation": "tanh"}),
    ("leaky_relu", {}, {"activation": ("leaky_relu", 0.1)}),
    ("scaled_tanh", {}, {"activation": ("scaled_tanh", 1.5, 0.7)}),
    ("softsign", {}, {"activation": "softsign"}),
    ("softplus", {}, {"activation": "softplus"}),
    ("elu", {}, {"activation": ("elu", 0.8)}),
    ("affine", {}, {"activation": ("affine", 0.7, 0.2), "output_activation": "tanh"}),
    ("thresholded_relu", {}, {"activation": ("thresholded_relu", 0.3)}),
    (
        "all",
        {"P": P, "peepholes": True},
        {
            "clip": 0.9,
            "input_forget": True,
            "activation": ("scaled_tanh", 1.5, 0.7),
            "recurrent_activation": ("hard_sigmoid", 0.2, 0.5),
            "output_activation": "softsign",
        },
    ),
    (
        "all-but-input_forget",
        {"P": P, "peepholes": True},
        {"clip": 1.2, "activation": "elu", "recurrent_activation": "sigmoid", "output_activation": "tanh"},
    ),
]


@pytest.mark.parametrize("problem, opts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_backward_matches_finite_differences(problem, opts):
    rng = np.random.default_rng(3)
    p = make_problem(rng, **problem)
    Pn = problem.get("P", H)
    dy, dh_n, dc_n = (rng.standard_normal(s) for s in ((B, T, Pn), (B, Pn), (B, H)))
    _, _, _, cache = _forward(p, opts, return_cache=True)
    if "clip" in opts:  # some pre-activations clipped, some not
        clipped = np.abs(cache.z) == opts["clip"]
        assert clipped.any() and not clipped.all()
    grads = reference.lstm_backward(dy, cache, dh_n, dc_n)
    expected = {GRAD_OF[name] for name in p}
    assert set(grads) == expected
    for name in p:
        check_grad(grads[GRAD_OF[name]], lambda: _loss(p, opts, dy, dh_n, dc_n), p[name], GRAD_OF[name])
    if opts.get("input_forget"):  # f = 1 - i: the f columns and p_f get no gradient
        f_cols = slice(H, 2 * H)
        for gname in ("dw_x", "dw_h", "db"):
            assert not grads[gname][..., f_cols].any(), gname
        if "peepholes" in grads:
            assert not grads["dpeepholes"][1].any()


def test_finite_differences_catch_a_wrong_option_gradient(rng):
    # The check above must be able to fail: dpeepholes and dproj off by 1e-4 are caught.
    p = make_problem(rng, P=P, peepholes=True)
    dy, dh_n, dc_n = rng.standard_normal((B, T, P)), np.zeros((B, P)), np.zeros((B, H))
    grads = reference.lstm_backward(dy, _forward(p, {}, return_cache=True)[3], dh_n, dc_n)
    for name in ("peepholes", "proj"):
        numeric = numeric_grad(lambda: _loss(p, {}, dy, dh_n, dc_n), p[name])
        assert np.abs(grads["d" + name] - numeric).max() < 1e-7
        assert np.abs(grads["d" + name] + 1e-4 - numeric).max() > 1e-6


# The contract's maths, one number at a time ------------------------------------------------------


def _scalar_forward(
    p,
    activation="tanh",
    recurrent_activation="sigmoid",
    output_activation=None,
    clip=None,
    input_forget=False,
):
    """y, h_n, c_n by loops over t, b and the units, in Python floats."""
    act, ract = scalar_activation(activation), scalar_activation(recurrent_activation)
    out = scalar_activation(activation if output_activation is None else output_activation)
    x, w_x, w_h, b = (p[k].tolist() for k in ("x", "w_x", "w_h", "b"))
    peep = p["peepholes"].tolist() if "peepholes" in p else [[0.0] * H] * 3
    proj = p["proj"].tolist() if "proj" in p else None
    Bn, Tn, In = p["x"].shape
    Hn = p["w_x"].shape[1] // 4
    Pn = p["w_h"].shape[0]
    h, c = p["h0"].tolist(), p["c0"].tolist()
    y = [[None] * Tn for _ in range(Bn)]

    def clipped(v):
        return v if clip is None else min(max(v, -clip), clip)

    for t in range(Tn):
        h_new, c_new = [], []
        for r in range(Bn):
            z = [
                sum(x[r][t][k] * w_x[k][j] for k in range(In))
                + sum(h[r][k] * w_h[k][j] for k in range(Pn))
                + b[j]
                for j in range(4 * Hn)
            ]
            cr, m = [], []
            for u in range(Hn):
                i = ract(clipped(z[u] + peep[0][u] * c[r][u]))
                f = 1 - i if input_forget else ract(clipped(z[Hn + u] + peep[1][u] * c[r][u]))
                g = act(clipped(z[2 * Hn + u]))
                cu = f * c[r][u] + i * g
                o = ract(clipped(z[3 * Hn + u] + peep[2][u] * cu))
                cr.append(cu)
                m.append(o * out(cu))
            hr = m if proj is None else [sum(m[u] * proj[u][q] for u in range(Hn)) for q in range(Pn)]
            h_new.append(hr)
            c_new.append(cr)
            y[r][t] = hr
        h, c = h_new, c_new
    return np.array(y), np.array(h), np.array(c)


@pytest.mark.parametrize("problem, opts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_forward_matches_the_contract_maths(problem, opts):
    p = make_problem(np.random.default_rng(4), **problem)
    for got, expected, name in zip(
        _forward(p, opts), _scalar_forward(p, **opts), ("y", "h_n", "c_n"), strict=True
    ):
        assert_close(got, expected, np.float64, name)


def test_cache_holds_the_options(rng):
    p = make_problem(rng, P=P, peepholes=True)
    opts = {"clip": 0.9, "input_forget": True, "output_activation": ("scaled_tanh", 1.0, 2.0)}
    y, h_n, c_n, cache = _forward(p, opts, return_cache=True)
    assert y.shape == (B, T, P) and h_n.shape == (B, P) and c_n.shape == (B, H)
    assert cache.h.shape == (T + 1, B, P) and cache.c.shape == (T + 1, B, H)
    assert cache.z.shape == (T, B, 4 * H) and cache.m.shape == (T, B, H)
    assert np.abs(cache.z).max() == 0.9
    assert cache.clip == 0.9 and cache.input_forget is True
    assert cache.output_activation == ("scaled_tanh", 1.0, 2.0)
    assert np.array_equal(cache.peepholes, p["peepholes"]) and np.array_equal(cache.proj, p["proj"])
    # h = m @ proj, m = o * out_act(c); gates hold f = 1 - i.
    assert_close(cache.h[1:], cache.m @ p["proj"], np.float64, "h")
    i, f, _, o = np.split(cache.gates, 4, axis=-1)
    assert_close(f, 1 - i, np.float64, "f")
    assert_close(cache.m, o * np.tanh(2 * cache.c[1:]), np.float64, "m")
    assert cache.nbytes == sum(a.nbytes for a in (cache.x, cache.gates, cache.h, cache.c, cache.z, cache.m))
    # Without clip and proj there is no z and no m.
    cache = _forward(make_problem(rng, peepholes=True), {}, return_cache=True)[3]
    assert cache.z is None and cache.m is None


@pytest.mark.parametrize("dtype", DTYPES)
def test_clipped_pre_activations_pass_no_gradient(dtype):
    # clip=0.1 is not a float32 number: the bound is clip in the dtype, in the forward and the
    # backward alike, so every clipped entry (and only those) gets a zero gradient.
    rng = np.random.default_rng(12)
    opts = _lstm_options.check_lstm_options(
        np.dtype(dtype), H, True, clip=0.1, peepholes=strided(rng.standard_normal((3, H)).astype(dtype))
    )
    assert opts.peepholes.flags.c_contiguous and opts.clip == 0.1
    z = rng.standard_normal((B, 4 * H)).astype(dtype)
    c_prev = rng.standard_normal((B, H)).astype(dtype)
    pre, gates, c, m = reference_lstm.gates_forward_options(z, c_prev, opts)
    clipped = np.abs(pre) == dtype(0.1)
    assert clipped.any() and not clipped.all() and np.abs(pre).max() == dtype(0.1)
    dz, _ = reference_lstm.gates_backward_options(
        np.ones((B, H), dtype), np.ones((B, H), dtype), gates, c_prev, c, opts, pre
    )
    assert dz.dtype == dtype and not dz[clipped].any() and dz[~clipped].all()


# Stepper and cell ----------------------------------------------------------------------------------


def _step_kw(p, opts):
    return {**{k: p[k] for k in ("peepholes", "proj") if k in p}, **opts}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("problem, opts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_stepper_equals_forward(dtype, problem, opts):
    p = make_problem(np.random.default_rng(5), dtype=dtype, **problem)
    y_ref, h_ref, c_ref = _forward(p, opts)
    stepper = reference.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=B, **_step_kw(p, opts))
    stepper.reset(p["h0"], p["c0"])
    y = np.stack([stepper.step(p["x"][:, t]).copy() for t in range(T)], axis=1)
    assert y.dtype == dtype
    assert_close(y, y_ref, dtype, "y")
    assert_close(stepper.h, h_ref, dtype, "h")
    assert_close(stepper.c, c_ref, dtype, "c")
    # From zeros, and one row at a time with a 1-D x_t.
    stepper.reset()
    y0 = np.stack([stepper.step(p["x"][:, t]).copy() for t in range(T)], axis=1)
    zeros = {**p, "h0": np.zeros_like(p["h0"]), "c0": np.zeros_like(p["c0"])}
    assert_close(y0, _forward(zeros, opts)[0], dtype, "y from zeros")
    one = reference.LSTMStepper(p["w_x"], p["w_h"], p["b"], **_step_kw(p, opts))
    y1 = np.stack([one.step(p["x"][0, t]).copy() for t in range(T)])
    assert_close(y1, y0[0], dtype, "y of a 1-D x_t")


@pytest.mark.parametrize("problem, opts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cell_forward_equals_one_step(problem, opts):
    p = make_problem(np.random.default_rng(6), **problem)
    y, _, c_n = _forward(p, opts)
    h, c = p["h0"], p["c0"]
    for t in range(T):
        h, c = reference.lstm_cell_forward(
            p["x"][:, t], p["w_x"], p["w_h"], p["b"], h, c, **_step_kw(p, opts)
        )
        assert_close(h, y[:, t], np.float64, f"h at step {t}")
    assert_close(c, c_n, np.float64, "c")


def test_stepper_copies_the_option_arrays_and_shows_them(rng):
    p = make_problem(rng, P=P, peepholes=True)
    y_ref = _forward(p, {"clip": 2.0})[0]
    peep, proj = p["peepholes"].copy(), p["proj"].copy()
    s = reference.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=B, peepholes=peep, proj=proj, clip=2.0)
    peep[...] = 0
    proj[...] = 0
    s.reset(p["h0"], p["c0"])
    assert_close(np.stack([s.step(p["x"][:, t]).copy() for t in range(T)], axis=1), y_ref, np.float64, "y")
    assert s.units == H and s.h.shape == (B, P) and s.c.shape == (B, H)
    assert "peepholes=True, proj_size=2, clip=2.0" in repr(s)
    with pytest.raises(ValueError, match=re.escape(f"h must have shape ({B}, {P}), got ({B}, {H})")):
        s.reset(np.zeros((B, H)))


# Defaults ------------------------------------------------------------------------------------------


def _plain_forward(p, act, ract):
    """The plain LSTM, written out with the old activation tables."""
    phi = activations.ACT[act][0]
    sig = activations.RACT[ract][0]
    h, c, ys = p["h0"], p["c0"], []
    z_x = np.ascontiguousarray(p["x"].transpose(1, 0, 2)) @ p["w_x"]  # the same products, bit for bit
    for t in range(p["x"].shape[1]):
        z = z_x[t] + h @ p["w_h"] + p["b"]
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sig(f) * c + sig(i) * phi(g)
        h = sig(o) * phi(c)
        ys.append(h)
    return np.stack(ys, axis=1), h, c


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("recurrent_activation", RECURRENT_ACTIVATIONS)
def test_defaults_and_their_spellings_give_the_plain_lstm_exactly(dtype, activation, recurrent_activation):
    rng = np.random.default_rng(7)
    p = make_lstm(rng, B, T, I, H, dtype)
    args = (p["x"], p["w_x"], p["w_h"], p["b"], p["h0"], p["c0"])
    opts = {"activation": activation, "recurrent_activation": recurrent_activation}
    act = _validate.ACTIVATIONS[activation]
    ract = _validate.RECURRENT_ACTIVATIONS[recurrent_activation]
    expected = _plain_forward(p, act, ract)
    spelled = {
        "activation": (activation,),
        "recurrent_activation": ("hard_sigmoid", 1 / 6, 0.5) if ract else ("sigmoid",),
        "output_activation": activation,
        "peepholes": None,
        "proj": None,
        "clip": None,
        "input_forget": False,
    }
    dy = rng.standard_normal((B, T, H)).astype(dtype)
    grads = []
    for kw in (opts, spelled):
        *out, cache = reference.lstm_forward(*args, return_cache=True, **kw)
        for got, exp, name in zip(out, expected, ("y", "h_n", "c_n"), strict=True):
            assert np.array_equal(got, exp), name
        assert cache.z is None and cache.m is None and cache.peepholes is None and cache.proj is None
        grads.append(reference.lstm_backward(dy, cache))
        assert set(grads[-1]) == {"dx", "dw_x", "dw_h", "db", "dh0", "dc0"}
        h, c = reference.lstm_cell_forward(p["x"][:, 0], p["w_x"], p["w_h"], p["b"], p["h0"], p["c0"], **kw)
        assert np.array_equal(h, expected[0][:, 0]) and np.array_equal(
            c, _plain_forward({**p, "x": p["x"][:, :1]}, act, ract)[2]
        )
    for name in grads[0]:
        assert np.array_equal(grads[0][name], grads[1][name]), name


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("recurrent_activation", RECURRENT_ACTIVATIONS)
def test_options_that_change_nothing_agree_with_the_plain_lstm(activation, recurrent_activation):
    # Zero peepholes, a clip no pre-activation reaches, a spelled-out activation: the option path
    # (gates_forward_options / gates_backward_options) against the plain one.
    rng = np.random.default_rng(8)
    p = make_lstm(rng, B, T, I, H)
    args = (p["x"], p["w_x"], p["w_h"], p["b"], p["h0"], p["c0"])
    plain = {"activation": activation, "recurrent_activation": recurrent_activation}
    ract = ("hard_sigmoid", 1 / 6, 0.5) if recurrent_activation == "hard_sigmoid" else "sigmoid"
    dy = rng.standard_normal((B, T, H))
    *expected, cache = reference.lstm_forward(*args, return_cache=True, **plain)
    expected_grads = reference.lstm_backward(dy, cache)
    for extra in ({"peepholes": np.zeros((3, H))}, {"clip": 1e6}):
        *got, cache = reference.lstm_forward(*args, return_cache=True, **plain, **extra)
        assert not _lstm_options.check_cache(cache).plain
        for g, e, name in zip(got, expected, ("y", "h_n", "c_n"), strict=True):
            assert_close(g, e, np.float64, f"{name} with {list(extra)}")
        grads = reference.lstm_backward(dy, cache)
        for name, e in expected_grads.items():
            assert_close(grads[name], e, np.float64, f"{name} with {list(extra)}")
    opts = _lstm_options.check_lstm_options(
        np.dtype(np.float64), H, True, activation=activation, recurrent_activation=ract
    )
    assert opts.plain and opts.codes == (
        _validate.ACTIVATIONS[activation],
        _validate.RECURRENT_ACTIVATIONS[recurrent_activation],
    )


@pytest.mark.parametrize(
    "options",
    [
        {"recurrent_activation": ("hard_sigmoid", 0.2, 0.5)},
        {"recurrent_activation": "tanh"},
        {"activation": "softsign"},
        {"activation": ("leaky_relu", 0.0)},
        {"output_activation": "relu"},
        {"clip": 5},
        {"input_forget": True},
        {"peepholes": np.zeros((3, H))},
        {"proj": np.zeros((H, 1))},
    ],
    ids=lambda o: next(iter(o)) + "=" + str(next(iter(o.values())))[:20],
)
def test_any_option_leaves_the_plain_path(options):
    opts = _lstm_options.check_lstm_options(np.dtype(np.float64), H, True, **options)
    assert not opts.plain and opts.codes is None


# Bad options ----------------------------------------------------------------------------------------


def says(*parts: str) -> str:
    return ".*".join(re.escape(p) for p in parts)


def _bad(p, **changes):
    return {**p, **changes}


BAD = [
    (
        "peepholes-1d",
        lambda p: _bad(p, peepholes=np.zeros(H)),
        ValueError,
        says(f"peepholes must have shape (3, {H}), got ({H},)"),
    ),
    (
        "peepholes-H-plus-1",
        lambda p: _bad(p, peepholes=np.zeros((3, H + 1))),
        ValueError,
        says(f"peepholes must have shape (3, {H}), got (3, {H + 1})"),
    ),
    (
        "peepholes-float32",
        lambda p: _bad(p, peepholes=p["peepholes"].astype(np.float32)),
        TypeError,
        says("peepholes must have dtype float64", "got float32"),
    ),
    (
        "peepholes-nan",
        lambda p: _bad(p, peepholes=np.full((3, H), np.nan)),
        ValueError,
        says("peepholes must be finite", "nan"),
    ),
    (
        "proj-P-equals-H",
        lambda p: _bad(p, proj=np.zeros((H, H))),
        ValueError,
        says(f"proj must have shape (H, P) with 1 <= P < H = {H}, got ({H}, {H})"),
    ),
    (
        "proj-transposed",
        lambda p: _bad(p, proj=np.ascontiguousarray(p["proj"].T)),
        ValueError,
        says(f"proj must have shape (H, P) with 1 <= P < H = {H}, got ({P}, {H})"),
    ),
    (
        "proj-P0",
        lambda p: _bad(p, proj=np.zeros((H, 0))),
        ValueError,
        says("proj must have shape (H, P) with 1 <= P < H", f"got ({H}, 0)"),
    ),
    (
        "proj-int",
        lambda p: _bad(p, proj=np.zeros((H, P), dtype=int)),
        TypeError,
        says("proj must have dtype float64", "int64"),
    ),
    (
        "proj-inf",
        lambda p: _bad(p, proj=np.full((H, P), np.inf)),
        ValueError,
        says("proj must be finite", "inf"),
    ),
    (
        "proj-with-w_h-H-rows",
        lambda p: _bad(p, w_h=np.zeros((H, 4 * H))),
        ValueError,
        says(f"w_h must have shape ({P}, {4 * H}), got ({H}, {4 * H})"),
    ),
    (
        "proj-with-w_h-1d",
        lambda p: _bad(p, w_h=np.zeros(4 * H)),
        ValueError,
        says("w_h must have shape (P, 4*H) with proj", f"({4 * H},)"),
    ),
    (
        "proj-with-h0-H-columns",
        lambda p: _bad(p, h0=np.zeros((B, H))),
        ValueError,
        says(f"h0 must have shape ({B}, {P}), got ({B}, {H})"),
    ),
    (
        "proj-with-c0-P-columns",
        lambda p: _bad(p, c0=np.zeros((B, P))),
        ValueError,
        says(f"c0 must have shape ({B}, {H}), got ({B}, {P})"),
    ),
    (
        "clip-negative",
        lambda p: _bad(p, clip=-1),
        ValueError,
        says("clip must be a positive finite number, got -1"),
    ),
    (
        "clip-zero",
        lambda p: _bad(p, clip=0.0),
        ValueError,
        says("clip must be a positive finite number, got 0.0"),
    ),
    (
        "clip-nan",
        lambda p: _bad(p, clip=float("nan")),
        ValueError,
        says("clip must be a positive finite number"),
    ),
    (
        "clip-inf",
        lambda p: _bad(p, clip=np.inf),
        ValueError,
        says("clip must be a positive finite number, got inf"),
    ),
    (
        "clip-str",
        lambda p: _bad(p, clip="3"),
        TypeError,
        says("clip must be None or a positive finite number", "'3'"),
    ),
    (
        "clip-bool",
        lambda p: _bad(p, clip=True),
        TypeError,
        says("clip must be None or a positive finite number"),
    ),
    (
        "input_forget-int",
        lambda p: _bad(p, input_forget=1),
        TypeError,
        says("input_forget must be True or False", "1"),
    ),
    ("input_forget-None", lambda p: _bad(p, input_forget=None), TypeError, says("input_forget", "None")),
    (
        "output_activation-unknown",
        lambda p: _bad(p, output_activation="swish"),
        ValueError,
        says("output_activation must be one of", "got 'swish'"),
    ),
    (
        "output_activation-callable",
        lambda p: _bad(p, output_activation=np.tanh),
        TypeError,
        says("output_activation", "ufunc"),
    ),
    (
        "activation-tanh-with-alpha",
        lambda p: _bad(p, activation=("tanh", 2.0)),
        ValueError,
        says("activation 'tanh' takes no parameters"),
    ),
    (
        "recurrent_activation-elu-negative",
        lambda p: _bad(p, recurrent_activation=("elu", -1.0)),
        ValueError,
        says("recurrent_activation 'elu': alpha must be > 0"),
    ),
]

OPTION_KEYS = (
    "activation",
    "recurrent_activation",
    "output_activation",
    "peepholes",
    "proj",
    "clip",
    "input_forget",
)


def _split_args(p):
    arrays = {k: p[k] for k in ("x", "w_x", "w_h", "b", "h0", "c0")}
    return arrays, {k: p[k] for k in OPTION_KEYS if k in p}


STATE_NAMES = {"forward": ("h0", "c0"), "cell": ("h_prev", "c_prev"), "stepper": ("h", "c")}  # reset's h, c


@pytest.mark.parametrize("bad, exc, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
@pytest.mark.parametrize("func", ["forward", "cell", "stepper"])
def test_bad_options_are_refused_by_name(func, bad, exc, match):
    p = bad(make_problem(np.random.default_rng(9), P=P, peepholes=True))
    a, opts = _split_args(p)
    with pytest.raises(exc) as info:
        if func == "forward":
            reference.lstm_forward(*a.values(), **opts)
        elif func == "cell":
            reference.lstm_cell_forward(a["x"][:, 0], a["w_x"], a["w_h"], a["b"], a["h0"], a["c0"], **opts)
        else:
            stepper = reference.LSTMStepper(a["w_x"], a["w_h"], a["b"], batch_size=B, **opts)
            stepper.reset(a["h0"], a["c0"])
    h, c = STATE_NAMES[func]
    match = match.replace("h0", h).replace("c0", c)
    assert type(info.value) is exc
    assert re.search(match, str(info.value)), str(info.value)


def _tampered(tamper):
    rng = np.random.default_rng(10)
    p = make_problem(rng, P=P, peepholes=True)
    cache = _forward(p, {"clip": 0.9}, return_cache=True)[3]
    tamper(cache)
    return cache


@pytest.mark.parametrize(
    "tamper, exc, match",
    [
        (
            lambda c: setattr(c, "z", None),
            ValueError,
            says("cache.z must be a C-contiguous float64 array", f"({T}, {B}, {4 * H})"),
        ),
        (lambda c: setattr(c, "m", c.m[:, :, :-1]), ValueError, says("cache.m must be", f"({T}, {B}, {H})")),
        (
            lambda c: setattr(c, "peepholes", c.peepholes[:2]),
            ValueError,
            says("cache.peepholes must be", f"(3, {H})"),
        ),
        (
            lambda c: setattr(c, "proj", c.proj.T.copy()),
            ValueError,
            says("cache.proj must have shape (H, P)"),
        ),
        (
            lambda c: setattr(c, "proj", None),
            ValueError,
            says(f"cache.w_h must be a C-contiguous float64 array of shape ({H}, {4 * H})"),
        ),
        (lambda c: setattr(c, "clip", -2.0), ValueError, says("cache.clip must be a positive finite number")),
        (
            lambda c: setattr(c, "input_forget", "yes"),
            TypeError,
            says("cache.input_forget must be True or False"),
        ),
        (
            lambda c: setattr(c, "output_activation", "nope"),
            ValueError,
            says("cache.output_activation must be one of"),
        ),
    ],
    ids=[
        "z-None",
        "m-short",
        "peepholes-short",
        "proj-transposed",
        "proj-dropped",
        "clip",
        "input_forget",
        "output_activation",
    ],
)
def test_tampered_option_caches_are_refused(tamper, exc, match):
    cache = _tampered(tamper)
    with pytest.raises(exc, match=match):
        reference.lstm_backward(np.zeros((B, T, P)), cache)


def test_backward_gradients_have_the_projected_shapes(rng):
    p = make_problem(rng, P=P)
    cache = _forward(p, {}, return_cache=True)[3]
    with pytest.raises(ValueError, match=says(f"dy must have shape ({B}, {T}, {P}), got ({B}, {T}, {H})")):
        reference.lstm_backward(np.zeros((B, T, H)), cache)
    with pytest.raises(ValueError, match=says(f"dh_n must have shape ({B}, {P})")):
        reference.lstm_backward(None, cache, np.zeros((B, H)))
    with pytest.raises(ValueError, match=says(f"dc_n must have shape ({B}, {H})")):
        reference.lstm_backward(None, cache, np.zeros((B, P)), np.zeros((B, P)))
    grads = reference.lstm_backward(None, cache, np.ones((B, P)), np.ones((B, H)))
    assert (
        grads["dh0"].shape == (B, P) and grads["dw_h"].shape == (P, 4 * H) and grads["dproj"].shape == (H, P)
    )


# PyTorch ----------------------------------------------------------------------------------------------


def test_proj_matches_pytorch():
    torch = pytest.importorskip("torch")
    Bn, Tn, In, Hn, Pn = 3, 5, 4, 6, 3
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(In, Hn, proj_size=Pn, batch_first=True).double()
    rng = np.random.default_rng(11)
    x = torch.tensor(rng.standard_normal((Bn, Tn, In)), requires_grad=True)
    h0 = torch.tensor(rng.standard_normal((1, Bn, Pn)) * 0.5, requires_grad=True)
    c0 = torch.tensor(rng.standard_normal((1, Bn, Hn)) * 0.5, requires_grad=True)
    y_t, (h_t, c_t) = lstm(x, (h0, c0))
    dy, dh_n, dc_n = (rng.standard_normal(s) for s in ((Bn, Tn, Pn), (Bn, Pn), (Bn, Hn)))
    loss = (
        (y_t * torch.tensor(dy)).sum()
        + (h_t[0] * torch.tensor(dh_n)).sum()
        + (c_t[0] * torch.tensor(dc_n)).sum()
    )
    loss.backward()

    def np_(t):
        return t.detach().numpy().copy()

    # Gate order i, f, g, o in both; w_x = w_ih.T, w_h = w_hh.T, b = b_ih + b_hh, proj = w_hr.T.
    w_x, w_h = np_(lstm.weight_ih_l0).T.copy(), np_(lstm.weight_hh_l0).T.copy()
    b = np_(lstm.bias_ih_l0) + np_(lstm.bias_hh_l0)
    proj = np_(lstm.weight_hr_l0).T.copy()
    assert w_h.shape == (Pn, 4 * Hn) and proj.shape == (Hn, Pn)
    y, h_n, c_n, cache = reference.lstm_forward(
        np_(x), w_x, w_h, b, np_(h0)[0], np_(c0)[0], proj=proj, return_cache=True
    )
    assert_close(y, np_(y_t), np.float64, "y")
    assert_close(h_n, np_(h_t)[0], np.float64, "h_n")
    assert_close(c_n, np_(c_t)[0], np.float64, "c_n")
    grads = reference.lstm_backward(dy, cache, dh_n, dc_n)
    expected = {
        "dx": x.grad.numpy(),
        "dw_x": lstm.weight_ih_l0.grad.numpy().T,
        "dw_h": lstm.weight_hh_l0.grad.numpy().T,
        "db": lstm.bias_ih_l0.grad.numpy(),
        "dh0": h0.grad.numpy()[0],
        "dc0": c0.grad.numpy()[0],
        "dproj": lstm.weight_hr_l0.grad.numpy().T,
    }
    assert set(grads) == set(expected)
    assert_close(lstm.bias_hh_l0.grad.numpy(), expected["db"], np.float64, "b_hh's gradient is b_ih's")
    for name, e in expected.items():
        assert_close(grads[name], e, np.float64, name, scale=Tn * Bn)

"""The compiled cells (lstmcore.engine._cells: the GRU, the simple RNN, the LSTM with options) against
their NumPy twins in lstmcore.reference, on every instruction set the CPU runs, with the row loops
on one thread and split between two, with the recurrent products packed once (csrc/gemm) and
through BLAS, float32 and float64: outputs, caches, every gradient, one step, the streaming
stepper, and the activations one by one."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import DTYPES, SHAPES, assert_close

import lstmcore
from lstmcore import reference

pytestmark = pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")

if lstmcore.backend == "compiled":
    from lstmcore.engine import _cells, _lstm

ACTS = [
    "tanh",
    "relu",
    "sigmoid",
    "linear",
    "hard_sigmoid",
    ("hard_sigmoid", 0.2, 0.5),
    ("leaky_relu", 0.1),
    ("thresholded_relu", 0.3),
    ("scaled_tanh", 1.5, 0.7),
    ("affine", 0.8, 0.1),
    ("elu", 1.2),
    "softsign",
    "softplus",
]


def _f(rng, dtype, scale, *shape):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _cell_problem(rng, cell, dtype, B, T, I, H, opts):
    """Inputs, weights and the gradients flowing in, for a cell ('gru', 'rnn', 'lstm')."""
    K = {"gru": 3, "rnn": 1, "lstm": 4}[cell]
    P = opts["proj"].shape[1] if opts.get("proj") is not None else H
    args = {
        "x": _f(rng, dtype, 1.0, B, T, I),
        "w_x": _f(rng, dtype, I**-0.5, I, K * H),
        "w_h": _f(rng, dtype, P**-0.5, P, K * H),
        "h0": _f(rng, dtype, 0.5, B, P),
    }
    bias_shape = (2, K * H) if cell == "gru" and opts.get("reset_after", True) else (K * H,)
    args["b"] = _f(rng, dtype, 0.3, *bias_shape)
    if cell == "lstm":
        args["c0"] = _f(rng, dtype, 0.5, B, H)
    grads_in = {"dy": _f(rng, dtype, 1.0, B, T, P), "dh_n": _f(rng, dtype, 1.0, B, P)}
    if cell == "lstm":
        grads_in["dc_n"] = _f(rng, dtype, 1.0, B, H)
    return args, grads_in


def _lstm_options(rng, dtype, H, which):
    P = max(1, H // 2)
    table = {
        "peepholes": {"peepholes": _f(rng, dtype, 0.5, 3, H)},
        "proj": {"proj": _f(rng, dtype, H**-0.5, H, P)} if H > 1 else {},
        "clip": {"clip": 0.6},
        "input_forget": {"input_forget": True},
        "output_activation": {"output_activation": "softsign"},
        "onnx_acts": {
            "activation": ("scaled_tanh", 1.2, 0.8),
            "recurrent_activation": ("hard_sigmoid", 0.2, 0.5),
        },
    }
    if which == "all":
        out = {}
        for name in table:
            out.update(table[name])
        return out
    return table[which]


CONFIGS = [
    ("gru", {"reset_after": True}),
    ("gru", {"reset_after": False}),
    ("gru", {"reset_after": True, "activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    (
        "gru",
        {
            "reset_after": False,
            "activation": ("leaky_relu", 0.2),
            "recurrent_activation": ("hard_sigmoid", 0.2, 0.5),
        },
    ),
    ("rnn", {"activation": "tanh"}),
    ("rnn", {"activation": "relu"}),
    ("rnn", {"activation": "softsign"}),
    *[
        ("lstm", name)
        for name in ("peepholes", "proj", "clip", "input_forget", "output_activation", "onnx_acts", "all")
    ],
]
CONFIG_IDS = [
    f"{c}-{o if isinstance(o, str) else '-'.join(f'{k}={v}' for k, v in o.items())}" for c, o in CONFIGS
]


def _run(mod, cell, args, opts, train):
    fn = getattr(mod, f"{cell}_forward")
    a = dict(args)
    pos = [a.pop("x"), a.pop("w_x"), a.pop("w_h"), a.pop("b"), a.pop("h0")]
    if cell == "lstm":
        pos.append(a.pop("c0"))
    return fn(*pos, return_cache=train, **opts)


def _backward(mod, cell, cache, grads_in):
    fn = getattr(mod, f"{cell}_backward")
    return fn(grads_in["dy"], cache, *[grads_in[k] for k in ("dh_n", "dc_n") if k in grads_in])


@pytest.mark.parametrize("cell, options", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("shape", ["tiny", "B1", "T1", "H1", "I_ne_H", "B10", "B19"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_and_backward_match_the_reference(isa, threads, plan, rng, cell, options, shape, dtype):
    B, T, I, H = SHAPES[shape]
    opts = _lstm_options(rng, dtype, H, options) if cell == "lstm" else options
    args, grads_in = _cell_problem(rng, cell, dtype, B, T, I, H, opts)
    expected = _run(reference, cell, args, opts, train=True)
    infer = _run(lstmcore, cell, args, opts, train=False)
    train = _run(lstmcore, cell, args, opts, train=True)
    names = ("y", "h_n", "c_n")
    for k, ref in enumerate(expected[:-1]):
        assert infer[k].dtype == train[k].dtype == dtype
        assert_close(infer[k], ref, dtype, name=f"{names[k]} (inference)")
        assert_close(train[k], ref, dtype, name=f"{names[k]} (training)")
    got = _backward(lstmcore, cell, train[-1], grads_in)
    want = _backward(reference, cell, expected[-1], grads_in)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].dtype == dtype
        assert_close(got[name], want[name], dtype, name=name, scale=max(1.0, float(T)))
    # no gradient from the outputs, none from the final states
    got = getattr(lstmcore, f"{cell}_backward")(None, train[-1])
    want = getattr(reference, f"{cell}_backward")(None, expected[-1])
    for name in want:
        assert_close(got[name], want[name], dtype, name=f"{name} (no dy)")


@pytest.mark.parametrize("cell, options", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_step_and_the_stepper_match_the_forward(isa, plan, rng, cell, options, dtype):
    B, T, I, H = SHAPES["H7"]
    opts = _lstm_options(rng, dtype, H, options) if cell == "lstm" else options
    args, _ = _cell_problem(rng, cell, dtype, B, T, I, H, opts)
    y, h_n, *rest = _run(lstmcore, cell, args, opts, train=False)
    cell_fn = getattr(lstmcore, f"{cell}_cell_forward")
    states = [args["h0"]] + ([args["c0"]] if cell == "lstm" else [])
    out = cell_fn(args["x"][:, 0], args["w_x"], args["w_h"], args["b"], *states, **opts)
    h1 = out[0] if cell == "lstm" else out
    ref = getattr(reference, f"{cell}_cell_forward")(
        args["x"][:, 0], args["w_x"], args["w_h"], args["b"], *states, **opts
    )
    assert_close(h1, ref[0] if cell == "lstm" else ref, dtype, name="cell h")
    stepper_cls = {"gru": lstmcore.GRUStepper, "rnn": lstmcore.RNNStepper, "lstm": lstmcore.LSTMStepper}[cell]
    stepper = stepper_cls(args["w_x"], args["w_h"], args["b"], batch_size=B, **opts)
    stepper.reset(*states)
    for t in range(T):
        h = stepper.step(args["x"][:, t])
        assert_close(h, y[:, t], dtype, name=f"stepper h at step {t}")
    assert_close(stepper.h, h_n, dtype, name="stepper.h")
    if cell == "lstm":
        assert_close(stepper.c, rest[0], dtype, name="stepper.c")
    stepper.reset()
    assert not stepper.h.any()
    if B == 1:  # a 1-D input gives a 1-D output
        assert stepper.step(args["x"][0, 0]).ndim == 1


@pytest.mark.parametrize("spec", ACTS, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_match_the_reference(isa, spec, dtype):
    code = lstmcore.engine._validate.activation_spec(spec, "activation")
    x = np.linspace(-6, 6, 301).astype(dtype)
    y = _cells._activation(code, x)
    assert_close(y, reference.activations.apply(code, x), dtype, name="apply")
    d = _cells._activation(code, y, derivative=True)
    assert_close(d, reference.activations.derivative(code, y), dtype, name="derivative")


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_is_accurate_to_two_ulp_everywhere(isa, dtype):
    """tanh from e^(2|x|) - 1 without cancellation: within 2 eps of the exact value relative to it
    from 1e-30 to 100 (no separate series near 0), odd, -0 kept, +-1 exactly past the clamp."""
    code = lstmcore.engine._validate.activation_spec("tanh", "activation")
    mag = np.concatenate([np.geomspace(1e-30, 1e-3, 200), np.geomspace(1e-3, 100, 5000)])
    x = np.concatenate([mag, -mag]).astype(dtype)
    y = _cells._activation(code, x)
    exact = np.tanh(x.astype(np.longdouble))
    ulps = 2 if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps else 3  # exact in double only
    assert np.abs((y - exact) / exact).max() <= ulps * np.finfo(dtype).eps
    edges = _cells._activation(code, np.array([0.0, -0.0, np.inf, -np.inf, 1e30, -1e30], dtype))
    np.testing.assert_array_equal(edges, [0, 0, 1, -1, 1, -1])
    assert np.signbit(edges[1]) and not np.signbit(edges[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_accurate_to_two_ulp_everywhere(isa, dtype):
    """1 / (1 + e^-x), e^-x from csrc/math/activations.h's polynomial
    (tests/engine/make_exp_polynomials.py): within 2 eps of the exact value relative to it, from
    where exp's clamp starts (e^87 in float32, e^708 in float64) to where it is 1; 0 and 1 at the
    ends."""
    code = lstmcore.engine._validate.activation_spec("sigmoid", "activation")
    lo = 86.9 if dtype == np.float32 else 707.9
    x = np.concatenate([np.linspace(-lo, 40, 20001), np.geomspace(1e-30, 1, 2000)]).astype(dtype)
    x = np.concatenate([x, -x[x < 1]])
    y = _cells._activation(code, x)
    exact = 1 / (1 + np.exp(-x.astype(np.longdouble)))
    ulps = 2 if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps else 3  # exact in double only
    assert np.abs((y - exact) / exact).max() <= ulps * np.finfo(dtype).eps
    edges = _cells._activation(code, np.array([0.0, np.inf, -np.inf, 1e30], dtype))
    assert edges[0] == 0.5 and edges[1] == 1 and 0 <= edges[2] < 1e-30 and edges[3] == 1


def test_nan_passes_through_every_activation():
    for spec in ACTS:
        code = lstmcore.engine._validate.activation_spec(spec, "activation")
        y = _cells._activation(code, np.array([np.nan, 1.0]))
        assert np.isnan(y[0]), spec


def test_the_plain_lstm_still_takes_the_tuned_kernels(rng):
    """Options equal to the defaults are no options: the cache is the tuned path's."""
    args, _ = _cell_problem(rng, "lstm", np.float64, 2, 3, 4, 5, {})
    out = _run(
        lstmcore, "lstm", args, {"output_activation": "tanh", "clip": None, "input_forget": False}, True
    )
    assert out[-1].z is None and out[-1].m is None
    plain = _run(lstmcore, "lstm", args, {}, True)
    for a, b in zip(out[:3], plain[:3], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell, options", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_recurrent_mask_matches_the_reference(isa, threads, plan, rng, cell, options, dtype):
    """Recurrent dropout (h_prev * mask in the recurrent products) in the compiled loops."""
    B, T, I, H = SHAPES["B10"]
    opts = _lstm_options(rng, dtype, H, options) if cell == "lstm" else dict(options)
    args, grads_in = _cell_problem(rng, cell, dtype, B, T, I, H, opts)
    P = args["h0"].shape[1]
    opts["recurrent_mask"] = (rng.random((B, P)) > 0.3).astype(dtype) / dtype(0.7)
    expected = _run(reference, cell, args, opts, train=True)
    got = _run(lstmcore, cell, args, opts, train=True)
    for k, ref in enumerate(expected[:-1]):
        assert_close(got[k], ref, dtype, name=f"output {k}")
    assert_close(_run(lstmcore, cell, args, opts, train=False)[0], expected[0], dtype, name="y (inference)")
    want = _backward(reference, cell, expected[-1], grads_in)
    have = _backward(lstmcore, cell, got[-1], grads_in)
    for name in want:
        assert_close(have[name], want[name], dtype, name=name, scale=float(T))


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_row_weights_with_any_row_stride(isa, plan, rng, dtype):
    """w_x (1, G) reversed along its rows has row stride -G (NumPy calls it contiguous): the BLAS
    products must take the row's width as its leading dimension, not the stride (found by the long
    fuzz run: DGEMM refused the call and the output was garbage on the baseline copy)."""
    B, H = 4, 3
    x = rng.standard_normal((B, 1)).astype(dtype)
    h0, c0 = (rng.standard_normal((B, H)).astype(dtype) for _ in range(2))
    w_h = rng.standard_normal((H, 4 * H)).astype(dtype)
    b = rng.standard_normal(4 * H).astype(dtype)
    w_x = rng.standard_normal((1, 4 * H)).astype(dtype)[::-1]
    assert w_x.strides[0] < 0 and w_x.flags.c_contiguous
    for call in ("lstm_cell_forward", "lstm_forward"):
        xs = x if call == "lstm_cell_forward" else x[:, None, :]
        got = getattr(lstmcore, call)(xs, w_x, w_h, b, h0, c0, recurrent_activation="relu")
        want = getattr(reference, call)(xs, w_x, w_h, b, h0, c0, recurrent_activation="relu")
        for g, w in zip(got, want, strict=True):
            assert_close(g, w, dtype)


@pytest.fixture(params=["packed", "blas", "blocked"])
def grad_products(request):
    """The products after the backward loop (dx, dw_x, dw_h, db) on lstmcore's packed kernels,
    whatever the instruction set (the loop's products packed too: they go with them), on BLAS, or
    the weight gradients in the cache-blocked kernel (AVX-512; the packed kernels otherwise, and
    for the GRU's first form)."""
    before = lstmcore.engine._lstm._set_grad_products(request.param)
    before_plan = _cells._set_plan(recurrent=None if request.param == "blas" else "packed")
    yield request.param
    lstmcore.engine._lstm._set_grad_products(before)
    _cells._set_plan(**before_plan)


@pytest.mark.parametrize(
    "cell, options",
    [("gru", {"reset_after": True}), ("gru", {"reset_after": False}), ("rnn", {}), ("lstm", "proj")],
    ids=["gru", "gru-v1", "rnn", "lstm-proj"],
)
@pytest.mark.parametrize("I, lengths", [(40, False), (40, True), (5, False)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_products_after_the_loop_on_each_kernel(
    isa, threads, grad_products, rng, cell, options, I, lengths, dtype
):
    """The weight gradients, dx and db on the packed kernels (each instruction set's copy; forced,
    so dx too whatever the input's width) and on BLAS: I wider and narrower than dx's panels, and
    variable lengths (the products read only the rows that ran)."""
    B, T, H = 13, 5, 20
    opts = _lstm_options(rng, dtype, H, options) if cell == "lstm" else dict(options)
    args, grads_in = _cell_problem(rng, cell, dtype, B, T, I, H, opts)
    if lengths:
        opts["lengths"] = rng.integers(1, T + 1, size=B)
    expected = _run(reference, cell, args, opts, train=True)
    got = _run(lstmcore, cell, args, opts, train=True)
    want = _backward(reference, cell, expected[-1], grads_in)
    have = _backward(lstmcore, cell, got[-1], grads_in)
    assert sorted(have) == sorted(want)
    for name in want:
        assert_close(have[name], want[name], dtype, name=name, scale=float(T))


@pytest.mark.parametrize(
    "cell, options",
    [("gru", {"reset_after": True}), ("gru", {"reset_after": False}), ("rnn", {}), ("lstm", "proj")],
    ids=["gru", "gru-v1", "rnn", "lstm-proj"],
)
def test_the_packed_products_prefetch_changes_no_bit(threads, rng, cell, options):
    """The packed products bring the next panel slice into the L2 where a thread's panels exceed
    half of it (csrc/gemm, lstmcore_panel_prefetch): forced on and off, forward and backward give
    the same bits, lengths included, with K cut into blocks (two threads' plan: a 4 KiB L1) or
    not."""
    from lstmcore.engine import _lstm

    B, T, I, H = 19, 5, 24, 40
    dtype = np.float32
    opts = _lstm_options(rng, dtype, H, options) if cell == "lstm" else dict(options)
    args, grads_in = _cell_problem(rng, cell, dtype, B, T, I, H, opts)
    before = (_lstm._set_panel_prefetch("auto"), _cells._set_plan(recurrent="packed"))
    try:
        results = {}
        for mode in ("never", "always"):
            _lstm._set_panel_prefetch(mode)
            got = []
            for extra in ({}, {"lengths": np.arange(B) % T + 1}):
                out = _run(lstmcore, cell, args, {**opts, **extra}, train=True)
                grads = _backward(lstmcore, cell, out[-1], grads_in)
                got += [*out[:-1], *(grads[k] for k in sorted(grads))]
            results[mode] = got
        for a, c in zip(results["never"], results["always"], strict=True):
            np.testing.assert_array_equal(a, c)
    finally:
        _lstm._set_panel_prefetch(before[0])
        _cells._set_plan(**before[1])


@pytest.mark.parametrize(
    "cell, options",
    [
        ("gru", {}),
        ("gru", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
        ("gru", {"reset_after": False}),
        ("rnn", {}),
        ("rnn", {"activation": "relu"}),
    ],
    ids=["gru", "gru-relu", "gru-reset_before", "rnn", "rnn-relu"],
)
@pytest.mark.parametrize("B, H", [(1, 50), (1, 130), (3, 97), (5, 300)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_units_split_gives_the_bits_of_one_thread(isa, rng, cell, options, B, H, dtype):
    """Inference of a few rows on 2 or 3 threads, each thread a share of the units (their columns
    of every gate block packed side by side, its own gate maths, a barrier per step), forced: the
    bits of one thread, over a sequence with and without h0, reversed, into a caller's y (a
    bidirectional layer's half), and with the GRU's gates in arrays; the GRU with
    reset_after=False meets twice a step. One step and one thread take no split."""
    T, I = 5, 7
    H = H if cell == "gru" else 3 * H  # the simple RNN's H columns: at least 3 panels wide
    args, _ = _cell_problem(rng, cell, dtype, B, T, I, H, options)
    x, w_x, w_h, b, h0 = (args[k] for k in ("x", "w_x", "w_h", "b", "h0"))
    fwd = lstmcore.gru_forward if cell == "gru" else lstmcore.rnn_forward
    before = (_cells._set_plan(recurrent="packed"), lstmcore.get_num_threads())

    def run():
        got = [a for kw in ({}, {"h0": h0}, {"reverse": True}) for a in fwd(x, w_x, w_h, b, **options, **kw)]
        y = np.full((B, T, 2 * H), np.nan, dtype=dtype)
        _cells._cell_forward_into(y[:, :, H:], cell, x, w_x, w_h, b, h0, **options)
        got.append(y)
        return got

    try:
        results = {}
        for units, n in (("off", 1), ("on", 2), ("on", 3)):
            lstmcore.set_num_threads(n)
            _cells._set_plan(units=units)
            shares = _cells._unit_split_shares(cell, B, T, I, H, dtype, options.get("reset_after", True))
            assert shares == (1 if units == "off" else n)
            results[units, n] = run()
            if cell == "gru":
                _cells._set_plan(gru_nocache=False)
                results[units, n] += run()
                _cells._set_plan(gru_nocache=True)
        for key in (("on", 2), ("on", 3)):
            for a, c in zip(results["off", 1], results[key], strict=True):
                np.testing.assert_array_equal(a, c)
        assert np.isnan(results["off", 1][-1][:, :, :H]).all()
        lstmcore.set_num_threads(2)
        _cells._set_plan(units="on")
        assert _cells._unit_split_shares(cell, B, 1, I, H, dtype) == 1  # one step: nothing to share
        lstmcore.set_num_threads(1)
        assert _cells._unit_split_shares(cell, B, T, I, H, dtype) == 1
    finally:
        _cells._set_plan(**before[0])
        lstmcore.set_num_threads(before[1])
    with pytest.raises(ValueError, match="units must be one of"):
        _cells._set_plan(units="always")


@pytest.mark.parametrize("which", ["peepholes", "clip", "input_forget", "onnx_acts", "all"])
@pytest.mark.parametrize("B, H", [(1, 40), (3, 97)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_units_split_of_the_lstm_with_options(isa, rng, which, B, H, dtype):
    """The LSTM with options (the cell engine's) shares its units too, each thread its state c
    of them in a ring of two steps, c_n written back by units: forced on 2 and 3 threads, the bits
    of one thread (y, h_n, c_n; reversed too); with a projection (every unit's m in h) no split."""
    T, I = 5, 7
    opts = _lstm_options(rng, dtype, H, which)
    args, _ = _cell_problem(rng, "lstm", dtype, B, T, I, H, opts)
    proj = "proj" in opts
    before = (_cells._set_plan(recurrent="packed"), lstmcore.get_num_threads())
    try:
        results = {}
        for units, n in (("off", 1), ("on", 2), ("on", 3)):
            lstmcore.set_num_threads(n)
            _cells._set_plan(units=units)
            shares = _cells._unit_split_shares("lstm", B, T, I, H, dtype, proj=proj)
            assert shares == (1 if units == "off" or proj else n)
            got = [*_run(lstmcore, "lstm", args, opts, train=False)]
            got += _run(lstmcore, "lstm", args, {**opts, "reverse": True}, train=False)
            results[units, n] = [a for a in got if a is not None]
        for key in (("on", 2), ("on", 3)):
            for a, c in zip(results["off", 1], results[key], strict=True):
                np.testing.assert_array_equal(a, c)
        if not proj:
            with_proj = {**opts, "proj": _f(rng, dtype, H**-0.5, H, max(1, H // 2))}
            args_p, _ = _cell_problem(rng, "lstm", dtype, B, T, I, H, with_proj)
            assert _cells._unit_split_shares("lstm", B, T, I, H, dtype, proj=True) == 1
            y_off = _run(lstmcore, "lstm", args_p, with_proj, train=False)[0]  # units "on", 3 threads
            _cells._set_plan(units="off")
            np.testing.assert_array_equal(y_off, _run(lstmcore, "lstm", args_p, with_proj, train=False)[0])
    finally:
        _cells._set_plan(**before[0])
        lstmcore.set_num_threads(before[1])


def test_the_units_split_rule():
    """By the rule: no split below _UNIT_MIN multiply-adds a step, or with the rows split; one share
    per thread above, as many as there are panels and halves of _UNIT_MIN."""
    before = (_cells._set_plan(recurrent="packed", units="auto"), lstmcore.get_num_threads())
    try:
        lstmcore.set_num_threads(2)
        assert _cells._unit_split_shares("gru", 1, 100, 16, 128) == 2  # S5: 55K a step
        assert _cells._unit_split_shares("gru", 1, 100, 16, 32) == 1  # 4.6K a step
        assert _cells._unit_split_shares("rnn", 1, 100, 32, 256) == 2  # 74K
        assert _cells._unit_split_shares("gru", 64, 100, 16, 128) == 1  # rows split instead
        assert _cells._unit_split_shares("rnn", 1, 100, 16, 128) == 1  # 18K a step
        least = _cells._unit_min()
        lstmcore.set_num_threads(8)  # 8 panels of 48 columns or more; 55K / (least / 2) shares
        assert _cells._unit_split_shares("gru", 1, 100, 16, 128) == min(8, 55296 // (least // 2))
        assert _cells._unit_split_shares("rnn", 1, 100, 32, 256) == min(5, 73728 // (least // 2))
    finally:
        _cells._set_plan(**before[0])
        lstmcore.set_num_threads(before[1])


def test_the_cell_plan_says_what_the_rules_pick():
    """_cells._cell_plan (lstmcore info --plan --cell) reads the engine's own rules: the products'
    plan, the rows split, the units split, the team inside a step's products, the GRU's gates in
    the L1 and the training products, each forced both ways."""
    before = (
        _cells._set_plan(recurrent="packed", units="auto", gru_nocache=True),
        _lstm._set_grad_products("auto"),
        lstmcore.get_num_threads(),
    )
    try:
        lstmcore.set_num_threads(2)
        for cell in ("gru", "rnn", "lstm"):
            one = _cells._cell_plan(cell, 64, 100, 32, 128, threads=1)
            assert (one["inference"], one["training"]) == ("one", "one")
            assert one["inference_threads"] == one["training_threads"] == 1
            rows = _cells._cell_plan(cell, 64, 100, 32, 128)  # S2: the rows split both ways
            assert rows["threads"] == 2 and rows["products"] == "packed" and rows["forced"]
            assert (rows["inference"], rows["training"]) == ("rows", "rows")
            assert rows["inference_threads"] == rows["training_threads"] == 2
            assert rows["step_madds"] == 64 * 128 * {"gru": 3, "rnn": 1, "lstm": 4}[cell] * 128
        s5 = _cells._cell_plan("gru", 1, 100, 16, 128)  # the units split, in inference only
        assert s5["inference"] == "units" and s5["training"] == "one"
        assert s5["inference_threads"] == _cells._unit_split_shares("gru", 1, 100, 16, 128) == 2
        assert s5["unit_madds"] == 1 * (16 + 128) * 384
        assert _cells._cell_plan("rnn", 1, 100, 16, 128)["inference"] == "one"  # 18K a step
        assert _cells._cell_plan("gru", 1, 1, 16, 128)["inference"] == "one"  # one step
        # a few rows of many units: a team inside each step's products (from gemm_par_min)
        few = _cells._cell_plan("rnn", 4, 100, 16, 512)
        assert few["step_madds"] >= few["gemm_par_min"]
        assert (few["inference"], few["training"]) == ("units", "steps")
        _cells._set_plan(units="off")
        assert _cells._cell_plan("rnn", 4, 100, 16, 512)["inference"] == "steps"
        assert _cells._cell_plan("gru", 1, 100, 16, 128)["inference"] == "one"
        _cells._set_plan(units="on")
        assert _cells._cell_plan("rnn", 1, 100, 16, 128)["inference"] == "units"
        # the GRU with reset_after infers with its gates in the L1, unless forced not to
        assert _cells._cell_plan("gru", 8, 10, 4, 16)["gates"] == "l1"
        assert _cells._cell_plan("gru", 8, 10, 4, 16, reset_after=False)["gates"] == "arrays"
        assert _cells._cell_plan("rnn", 8, 10, 4, 16)["gates"] == "arrays"
        _cells._set_plan(gru_nocache=False)
        assert _cells._cell_plan("gru", 8, 10, 4, 16)["gates"] == "arrays"
        # the training products as _lstm's rule for them, forced either way
        for mode, expected in (("packed", "packed"), ("blas", "blas")):
            _lstm._set_grad_products(mode)
            plan = _cells._cell_plan("gru", 64, 100, 32, 128)
            assert (plan["dx"], plan["dw_x"], plan["dw_h"]) == (expected,) * 3
        # the rule's own products: lstmcore's kernels wherever they have vectors
        _lstm._set_grad_products("auto")
        _cells._set_plan(recurrent="auto")
        auto = _cells._cell_plan("gru", 64, 100, 32, 128)
        assert not auto["forced"]
        assert auto["products"] == ("packed" if _lstm._kernel_isa() != "generic" else "blas")
        # BLAS products: no split of rows or units (those need the packed weights)
        _cells._set_plan(recurrent="blas")
        blas = _cells._cell_plan("gru", 64, 100, 32, 128)
        assert blas["products"] == "blas" and blas["forced"]
        assert blas["inference"] in ("steps", "one") and blas["training"] == blas["inference"]
        assert blas["omp_spins"] == (blas["inference"] == "one")
        with pytest.raises(ValueError, match="cell must be one of"):
            _cells._cell_plan("lstm2", 8, 10, 4, 16)
        with pytest.raises(ValueError, match="expected B, T, H >= 1"):
            _cells._cell_plan("gru", 0, 10, 4, 16)
    finally:
        _cells._set_plan(**before[0])
        _lstm._set_grad_products(before[1])
        lstmcore.set_num_threads(before[2])


@pytest.mark.parametrize(
    "options",
    [{}, {"activation": "relu", "recurrent_activation": "hard_sigmoid"}],
    ids=["tanh-sigmoid", "relu-hard_sigmoid"],
)
@pytest.mark.parametrize("B, H", [(1, 5), (7, 16), (19, 300)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_gru_infers_without_its_gates_arrays_to_the_same_bits(
    isa, threads, plan, rng, options, B, H, dtype
):
    """The GRU with reset_after infers without arrays for its gates, each row's in the L1, 256
    units at a time (H = 300: a whole chunk and a partial one): forced either way, the same bits,
    over a sequence (reversed, with lengths, with a mask), one step and the streaming stepper."""
    T, I = 4, 6
    args, _ = _cell_problem(rng, "gru", dtype, B, T, I, H, options)
    x, w_x, w_h, b, h0 = (args[k] for k in ("x", "w_x", "w_h", "b", "h0"))
    mask = np.ones((B, T), dtype=bool)
    mask[::2, 0] = False
    variants = [{}, {"reverse": True}, {"lengths": np.arange(B) % T + 1}, {"mask": mask}]
    before = _cells._set_plan()
    try:
        results = {}
        for nocache in (False, True):
            _cells._set_plan(gru_nocache=nocache)
            got = [
                a for extra in variants for a in lstmcore.gru_forward(x, w_x, w_h, b, h0, **options, **extra)
            ]
            got.append(lstmcore.gru_cell_forward(x[:, 0], w_x, w_h, b, h0, **options))
            stepper = lstmcore.GRUStepper(w_x, w_h, b, batch_size=B, **options)
            got += [np.array(stepper.step(x[:, t])) for t in range(T)]
            results[nocache] = got
        for a, c in zip(results[False], results[True], strict=True):
            np.testing.assert_array_equal(a, c)
    finally:
        _cells._set_plan(**before)
    with pytest.raises(TypeError, match="gru_nocache must be a bool"):
        _cells._set_plan(gru_nocache=1)

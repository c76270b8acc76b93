"""Converters of lstmcore.layout: round trips, and equal outputs against each framework's own formulas.

The framework LSTMs below are tiny NumPy loops written from each framework's documentation, in
its own layout and gate order, so that a mistake in layout.py cannot hide in a shared helper:
- PyTorch ``nn.LSTM``: gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, chunks i, f, g, o.
- ONNX ``LSTM``: W[iofc] (D, 4H, I), R[iofc] (D, 4H, H), B = [Wb[iofc], Rb[iofc]] (D, 8H),
  X (T, B, I), Y (T, D, B, H); it = f(Xt*Wi^T + Ht-1*Ri^T + Wbi + Rbi) and so on.
- Keras ``LSTM``: z = x @ kernel + h @ recurrent_kernel + bias, blocks i, f, c, o.
"""

from __future__ import annotations

import lstmcore.engine._lstm as compiled
import numpy as np
import pytest
from helpers import DTYPES, assert_close, make_lstm

import lstmcore.reference as reference
from lstmcore import layout

BACKENDS = {"compiled": compiled, "reference": reference}
B, T, I, H = 3, 6, 4, 5
G = 4 * H


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    return BACKENDS[request.param]


def rand(rng, *shape, dtype=np.float64, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def torch_weights(rng, dtype=np.float64):
    return (
        rand(rng, G, I, dtype=dtype),
        rand(rng, G, H, dtype=dtype),
        rand(rng, G, dtype=dtype),
        rand(rng, G, dtype=dtype),
    )


def onnx_weights(rng, D=1, dtype=np.float64):
    return rand(rng, D, G, I, dtype=dtype), rand(rng, D, G, H, dtype=dtype), rand(rng, D, 2 * G, dtype=dtype)


# Each framework's LSTM in its own layout --------------------------------------------------------


def torch_lstm(x, w_ih, w_hh, b_ih, b_hh, h0, c0):
    """``nn.LSTM(batch_first=True)``, one layer: x (B, T, I) -> y (B, T, H), h_n, c_n."""
    h, c, ys = h0, c0, []
    for t in range(x.shape[1]):
        gates = x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, g, o = np.split(gates, 4, axis=1)  # torch: ingate, forgetgate, cellgate, outgate
        i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
        c = f * c + i * g
        h = o * np.tanh(c)
        ys.append(h)
    return np.stack(ys, axis=1), h, c


def onnx_lstm(X, W, R, Bias, initial_h, initial_c, direction=0):
    """ONNX ``LSTM`` (layout 0, no peepholes), one direction: X (T, B, I) -> Y (T, 1, B, H)."""
    Wi, Wo, Wf, Wc = np.split(W[direction], 4, axis=0)
    Ri, Ro, Rf, Rc = np.split(R[direction], 4, axis=0)
    Wbi, Wbo, Wbf, Wbc, Rbi, Rbo, Rbf, Rbc = np.split(Bias[direction], 8)
    Ht, Ct, Y = initial_h, initial_c, []
    for Xt in X:
        it = sigmoid(Xt @ Wi.T + Ht @ Ri.T + Wbi + Rbi)
        ft = sigmoid(Xt @ Wf.T + Ht @ Rf.T + Wbf + Rbf)
        ct = np.tanh(Xt @ Wc.T + Ht @ Rc.T + Wbc + Rbc)
        Ct = ft * Ct + it * ct
        ot = sigmoid(Xt @ Wo.T + Ht @ Ro.T + Wbo + Rbo)
        Ht = ot * np.tanh(Ct)
        Y.append(Ht)
    return np.stack(Y)[:, None], Ht[None], Ct[None]


def keras_lstm(x, kernel, recurrent_kernel, bias, h0, c0):
    """``keras.layers.LSTM(return_sequences=True, return_state=True)``: x (B, T, I)."""
    h, c, ys = h0, c0, []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        z0, z1, z2, z3 = np.split(z, 4, axis=1)
        i, f = sigmoid(z0), sigmoid(z1)
        c = f * c + i * np.tanh(z2)
        o = sigmoid(z3)
        h = o * np.tanh(c)
        ys.append(h)
    return np.stack(ys, axis=1), h, c


# Constants ---------------------------------------------------------------------------------------


def test_gate_order():
    assert layout.GATES == ("i", "f", "g", "o")
    assert layout.ONNX_GATES == ("i", "o", "f", "c")


def test_onnx_permutations_are_inverse():
    # ours[k] = onnx[_FROM_ONNX[k]] and onnx[k] = ours[_TO_ONNX[k]]; ONNX calls our g "c".
    onnx_as_ours = [{"c": "g"}.get(g, g) for g in layout.ONNX_GATES]
    assert [onnx_as_ours[k] for k in layout._FROM_ONNX] == list(layout.GATES)
    assert [layout.GATES[k] for k in layout._TO_ONNX] == onnx_as_ours


# PyTorch -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_round_trip_from_torch(rng, dtype):
    w_ih, w_hh, b_ih, b_hh = torch_weights(rng, dtype)
    w_x, w_h, b = layout.from_torch(w_ih, w_hh, b_ih, b_hh)
    assert (w_x.shape, w_h.shape, b.shape) == ((I, G), (H, G), (G,))
    assert w_x.dtype == w_h.dtype == b.dtype == dtype
    assert w_x.flags.c_contiguous and w_h.flags.c_contiguous
    w_ih2, w_hh2, b_ih2, b_hh2 = layout.to_torch(w_x, w_h, b)
    np.testing.assert_array_equal(w_ih2, w_ih)
    np.testing.assert_array_equal(w_hh2, w_hh)
    # The bias is split differently (all in b_ih), but the sum is the same.
    np.testing.assert_array_equal(b_hh2, np.zeros(G, dtype))
    np.testing.assert_array_equal(b_ih2 + b_hh2, b_ih + b_hh)
    assert {a.dtype for a in (w_ih2, w_hh2, b_ih2, b_hh2)} == {np.dtype(dtype)}


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_round_trip_to_torch(rng, dtype):
    a = make_lstm(rng, B, T, I, H, dtype)
    back = layout.from_torch(*layout.to_torch(a["w_x"], a["w_h"], a["b"]))
    for got, want in zip(back, (a["w_x"], a["w_h"], a["b"]), strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == dtype


def test_torch_without_bias(rng):
    w_ih, w_hh, b_ih, b_hh = torch_weights(rng)
    _, _, b = layout.from_torch(w_ih, w_hh)
    np.testing.assert_array_equal(b, np.zeros(G))
    np.testing.assert_array_equal(layout.from_torch(w_ih, w_hh, None, b_hh)[2], b_hh)
    np.testing.assert_array_equal(layout.from_torch(w_ih, w_hh, b_ih, None)[2], b_ih)


def test_from_torch_does_not_alias_its_input(rng):
    w_ih, w_hh, b_ih, b_hh = torch_weights(rng)
    w_x, w_h, b = layout.from_torch(w_ih, w_hh, b_ih, None)
    for out, inp in ((w_x, w_ih), (w_h, w_hh), (b, b_ih)):
        assert not np.shares_memory(out, inp)


def test_torch_equal_outputs(rng, backend):
    w_ih, w_hh, b_ih, b_hh = torch_weights(rng)
    x, h0, c0 = rand(rng, B, T, I, scale=1), rand(rng, B, H), rand(rng, B, H)
    want = torch_lstm(x, w_ih, w_hh, b_ih, b_hh, h0, c0)
    got = backend.lstm_forward(x, *layout.from_torch(w_ih, w_hh, b_ih, b_hh), h0, c0)
    for name, g, w in zip(("y", "h_n", "c_n"), got, want, strict=True):
        assert_close(g, w, name=name)


def test_to_torch_equal_outputs(rng, backend):
    a = make_lstm(rng, B, T, I, H)
    want = backend.lstm_forward(**a)
    got = torch_lstm(a["x"], *layout.to_torch(a["w_x"], a["w_h"], a["b"]), a["h0"], a["c0"])
    for name, g, w in zip(("y", "h_n", "c_n"), got, want, strict=True):
        assert_close(g, w, name=name)


# Keras -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_keras_round_trips(rng, dtype):
    a = make_lstm(rng, B, T, I, H, dtype)
    w = (a["w_x"], a["w_h"], a["b"])
    for got, want in zip(layout.from_keras(*layout.to_keras(*w)), w, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == dtype and got.flags.c_contiguous
    kernel, recurrent_kernel, bias = (np.asfortranarray(v) for v in w)
    for got, want in zip(layout.to_keras(*layout.from_keras(kernel, recurrent_kernel, bias)), w, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == dtype


def test_keras_copies(rng):
    a = make_lstm(rng, B, T, I, H)
    for fn in (layout.to_keras, layout.from_keras):
        out = fn(a["w_x"], a["w_h"], a["b"])
        for o, inp in zip(out, (a["w_x"], a["w_h"], a["b"]), strict=True):
            assert not np.shares_memory(o, inp)


def test_keras_without_bias(rng):
    a = make_lstm(rng, B, T, I, H, np.float32)
    _, _, b = layout.from_keras(a["w_x"], a["w_h"])
    np.testing.assert_array_equal(b, np.zeros(G, np.float32))
    assert b.dtype == np.float32


def test_keras_equal_outputs(rng, backend):
    a = make_lstm(rng, B, T, I, H)
    want = keras_lstm(a["x"], a["w_x"], a["w_h"], a["b"], a["h0"], a["c0"])
    got = backend.lstm_forward(a["x"], *layout.from_keras(a["w_x"], a["w_h"], a["b"]), a["h0"], a["c0"])
    for name, g, w in zip(("y", "h_n", "c_n"), got, want, strict=True):
        assert_close(g, w, name=name)


# ONNX --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_onnx_round_trip_from_onnx(rng, dtype):
    W, R, Bias = onnx_weights(rng, dtype=dtype)
    w_x, w_h, b = layout.from_onnx(W, R, Bias)
    assert (w_x.shape, w_h.shape, b.shape) == ((I, G), (H, G), (G,))
    assert w_x.dtype == w_h.dtype == b.dtype == dtype
    W2, R2, B2 = layout.to_onnx(w_x, w_h, b)
    np.testing.assert_array_equal(W2, W)
    np.testing.assert_array_equal(R2, R)
    assert B2.shape == (1, 2 * G) and B2.dtype == dtype
    # The bias comes back whole in Wb, Rb = 0: the sums agree (exactly: x + 0 == x).
    np.testing.assert_array_equal(B2[:, G:], 0)
    np.testing.assert_array_equal(B2[:, :G] + B2[:, G:], Bias[:, :G] + Bias[:, G:])


@pytest.mark.parametrize("dtype", DTYPES)
def test_onnx_round_trip_to_onnx(rng, dtype):
    a = make_lstm(rng, B, T, I, H, dtype)
    W, R, Bias = layout.to_onnx(a["w_x"], a["w_h"], a["b"])
    assert (W.shape, R.shape, Bias.shape) == ((1, G, I), (1, G, H), (1, 2 * G))
    for got, want in zip(layout.from_onnx(W, R, Bias), (a["w_x"], a["w_h"], a["b"]), strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == dtype


def test_onnx_blocks_move_to_their_gates():
    """Fill each ONNX block with its gate's number: the canonical blocks must read i, f, g, o."""
    code = {"i": 1.0, "o": 2.0, "f": 3.0, "c": 4.0}
    W = np.concatenate([np.full((H, I), code[g]) for g in layout.ONNX_GATES])[None]
    R = np.concatenate([np.full((H, H), code[g]) for g in layout.ONNX_GATES])[None]
    Bias = np.concatenate([np.full(H, code[g]) for g in layout.ONNX_GATES] * 2)[None]
    w_x, w_h, b = layout.from_onnx(W, R, Bias)
    expect = np.repeat([code["i"], code["f"], code["c"], code["o"]], H)
    np.testing.assert_array_equal(w_x, np.broadcast_to(expect, (I, G)))
    np.testing.assert_array_equal(w_h, np.broadcast_to(expect, (H, G)))
    np.testing.assert_array_equal(b, 2 * expect)


def test_onnx_equal_outputs(rng, backend):
    W, R, Bias = onnx_weights(rng)
    X, h0, c0 = rand(rng, T, B, I, scale=1), rand(rng, B, H), rand(rng, B, H)
    Y, Y_h, Y_c = onnx_lstm(X, W, R, Bias, h0, c0)
    y, h_n, c_n = backend.lstm_forward(X.transpose(1, 0, 2), *layout.from_onnx(W, R, Bias), h0, c0)
    assert_close(y, Y[:, 0].transpose(1, 0, 2), name="y")
    assert_close(h_n, Y_h[0], name="h_n")
    assert_close(c_n, Y_c[0], name="c_n")


def test_onnx_two_directions(rng, backend):
    W, R, Bias = onnx_weights(rng, D=2)
    X, h0, c0 = rand(rng, T, B, I, scale=1), rand(rng, B, H), rand(rng, B, H)
    for d in (0, 1):
        Y, _, _ = onnx_lstm(X, W, R, Bias, h0, c0, direction=d)
        w = layout.from_onnx(W, R, Bias, direction=d)
        y, _, _ = backend.lstm_forward(X.transpose(1, 0, 2), *w, h0, c0)
        assert_close(y, Y[:, 0].transpose(1, 0, 2), name=f"y direction {d}")


def test_to_onnx_equal_outputs(rng, backend):
    a = make_lstm(rng, B, T, I, H)
    y, h_n, c_n = backend.lstm_forward(**a)
    W, R, Bias = layout.to_onnx(a["w_x"], a["w_h"], a["b"])
    Y, Y_h, Y_c = onnx_lstm(a["x"].transpose(1, 0, 2), W, R, Bias, a["h0"], a["c0"])
    assert_close(Y[:, 0].transpose(1, 0, 2), y, name="y")
    assert_close(Y_h[0], h_n, name="h_n")
    assert_close(Y_c[0], c_n, name="c_n")


def test_onnx_without_bias(rng):
    W, R, _ = onnx_weights(rng)
    _, _, b = layout.from_onnx(W, R)
    np.testing.assert_array_equal(b, np.zeros(G))


def test_onnx_peepholes_come_back_as_a_fourth_array(rng):
    """P given: (w_x, w_h, b, peepholes); all-zero P too (the caller may drop it)."""
    W, R, Bias = onnx_weights(rng)
    for P in (np.zeros((1, 3 * H)), rand(rng, 1, 3 * H)):
        out = layout.from_onnx(W, R, Bias, P)
        assert len(out) == 4 and out[3].shape == (3, H) and out[3].flags.c_contiguous
        for got, want in zip(out[:3], layout.from_onnx(W, R, Bias), strict=True):
            np.testing.assert_array_equal(got, want)
        assert not np.shares_memory(out[3], P)


@pytest.mark.parametrize("direction", [-1, 1, 2])
def test_onnx_direction_out_of_range(rng, direction):
    W, R, Bias = onnx_weights(rng)
    with pytest.raises(ValueError, match=rf"direction must be in \[0, 1\), got {direction}"):
        layout.from_onnx(W, R, Bias, direction=direction)


@pytest.mark.parametrize("direction", [0.5, "0", None])
def test_onnx_direction_not_an_int(rng, direction):
    W, R, Bias = onnx_weights(rng, D=2)
    with pytest.raises((TypeError, ValueError), match="direction"):
        layout.from_onnx(W, R, Bias, direction=direction)


# Wrong shapes: ValueError naming the expected and the received shape -----------------------------


def _torch(rng):
    return dict(zip(("w_ih", "w_hh", "b_ih", "b_hh"), torch_weights(rng), strict=True))


def _canon(rng):
    a = make_lstm(rng, B, T, I, H)
    return {"w_x": a["w_x"], "w_h": a["w_h"], "b": a["b"]}


def _onnx(rng):
    return dict(zip(("W", "R", "B"), onnx_weights(rng), strict=True))


BAD_SHAPES = [
    # (converter, inputs factory, replaced input, bad value, regex)
    ("from_torch", _torch, "w_hh", lambda a: a[:, :-1], r"w_hh must have shape \(4\*H, H\), got \(20, 4\)"),
    ("from_torch", _torch, "w_hh", lambda a: a.T, r"w_hh must have shape \(4\*H, H\), got \(5, 20\)"),
    ("from_torch", _torch, "w_hh", lambda a: a.ravel(), r"w_hh must have shape \(4\*H, H\), got \(100,\)"),
    ("from_torch", _torch, "w_ih", lambda a: a.T, r"w_ih must have shape \(20, I\), got \(4, 20\)"),
    ("from_torch", _torch, "w_ih", lambda a: a[:-4], r"w_ih must have shape \(20, I\), got \(16, 4\)"),
    ("from_torch", _torch, "b_ih", lambda a: a[:-1], r"b_ih must have shape \(20,\), got \(19,\)"),
    ("from_torch", _torch, "b_hh", lambda a: a[None], r"b_hh must have shape \(20,\), got \(1, 20\)"),
    ("to_torch", _canon, "w_h", lambda a: a.T, r"w_h must have shape \(H, 4\*H\), got \(20, 5\)"),
    ("to_torch", _canon, "w_x", lambda a: a.T, r"w_x must have shape \(I, 20\), got \(20, 4\)"),
    ("to_torch", _canon, "b", lambda a: a[:-1], r"b must have shape \(20,\), got \(19,\)"),
    ("from_keras", _canon, "w_h", lambda a: a[:, :-1], r"w_h must have shape \(H, 4\*H\), got \(5, 19\)"),
    ("from_keras", _canon, "w_x", lambda a: a[:, :-4], r"w_x must have shape \(I, 20\), got \(4, 16\)"),
    ("from_keras", _canon, "w_x", lambda a: a[:0], r"w_x must have shape \(I, 20\), got \(0, 20\)"),
    ("from_keras", _canon, "b", lambda a: a[:-4], r"b must have shape \(20,\), got \(16,\)"),
    ("to_keras", _canon, "w_h", lambda a: a[:0, :0], r"w_h must have shape \(H, 4\*H\), got \(0, 0\)"),
    ("to_keras", _canon, "b", lambda a: a[None], r"b must have shape \(20,\), got \(1, 20\)"),
    ("from_onnx", _onnx, "W", lambda a: a[0], r"expected W \(D, 4H, I\) and R \(D, 4H, H\), got W \(20, 4\)"),
    ("from_onnx", _onnx, "R", lambda a: a[:, :, :-1], r"got W \(1, 20, 4\) and R \(1, 20, 4\)"),
    ("from_onnx", _onnx, "R", lambda a: np.concatenate([a, a]), r"got W \(1, 20, 4\) and R \(2, 20, 5\)"),
    ("from_onnx", _onnx, "W", lambda a: a[:, :-4], r"got W \(1, 16, 4\) and R \(1, 20, 5\)"),
    ("from_onnx", _onnx, "B", lambda a: a[:, :20], r"B must have shape \(1, 40\), got \(1, 20\)"),
    ("from_onnx", _onnx, "B", lambda a: a[0], r"B must have shape \(1, 40\), got \(40,\)"),
    ("to_onnx", _canon, "w_x", lambda a: a.ravel(), r"w_x must have shape \(I, 20\), got \(80,\)"),
    ("to_onnx", _canon, "w_h", lambda a: a[:-1], r"w_h must have shape \(H, 4\*H\), got \(4, 20\)"),
]


@pytest.mark.parametrize(
    "converter, inputs, name, bad, match",
    [pytest.param(*c, id=f"{c[0]}-{c[2]}-{i}") for i, c in enumerate(BAD_SHAPES)],
)
def test_wrong_shape(rng, converter, inputs, name, bad, match):
    args = inputs(rng)
    args[name] = bad(args[name])
    with pytest.raises(ValueError, match=match):
        getattr(layout, converter)(*args.values())


def test_zero_sized_weights_are_refused_both_ways():
    """H = 0 or I = 0: to_torch / to_onnx / from_keras refuse them, and so must the importers."""
    zeros = np.zeros
    cases = {
        "to_torch H=0": lambda: layout.to_torch(zeros((I, 0)), zeros((0, 0)), zeros(0)),
        "to_torch I=0": lambda: layout.to_torch(zeros((0, G)), zeros((H, G)), zeros(G)),
        "from_keras I=0": lambda: layout.from_keras(zeros((0, G)), zeros((H, G)), zeros(G)),
        "to_onnx H=0": lambda: layout.to_onnx(zeros((I, 0)), zeros((0, 0)), zeros(0)),
        "from_torch H=0": lambda: layout.from_torch(zeros((0, I)), zeros((0, 0))),
        "from_torch I=0": lambda: layout.from_torch(zeros((G, 0)), zeros((G, H))),
        "from_onnx H=0": lambda: layout.from_onnx(zeros((1, 0, I)), zeros((1, 0, 0))),
        "from_onnx I=0": lambda: layout.from_onnx(zeros((1, G, 0)), zeros((1, G, H))),
    }
    accepted = []
    for name, convert in cases.items():
        try:
            out = convert()
        except ValueError:
            continue
        accepted.append(f"{name} -> shapes {[np.shape(a) for a in out]}")
    assert not accepted, "zero-sized weights accepted instead of ValueError: " + "; ".join(accepted)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.complex128, np.float16, object])
@pytest.mark.parametrize(
    "converter, inputs",
    [
        ("from_torch", _torch),
        ("to_torch", _canon),
        ("from_keras", _canon),
        ("to_keras", _canon),
        ("from_onnx", _onnx),
        ("to_onnx", _canon),
    ],
)
def test_non_float_arrays_are_refused(rng, converter, inputs, dtype):
    """Each input in turn given as integers (and other non-float dtypes): TypeError naming it."""
    # from_keras calls its arguments kernel, recurrent_kernel, bias; it may name either.
    keras_names = {"w_x": "kernel", "w_h": "recurrent_kernel", "b": "bias"}
    for name in inputs(rng):
        args = inputs(rng)
        args[name] = args[name].astype(dtype)
        names = f"({name}|{keras_names[name]})" if converter == "from_keras" else name
        match = rf"{names} must be float32 or float64, got dtype {np.dtype(dtype)}"
        with pytest.raises(TypeError, match=match):
            getattr(layout, converter)(*args.values())


def test_nested_lists_are_accepted(rng):
    w_ih, w_hh, b_ih, b_hh = torch_weights(rng)
    got = layout.from_torch(w_ih.tolist(), w_hh.tolist(), b_ih.tolist(), b_hh.tolist())
    for g, w in zip(got, layout.from_torch(w_ih, w_hh, b_ih, b_hh), strict=True):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize(
    "converter, inputs",
    [("from_torch", _torch), ("from_keras", _canon), ("from_onnx", _onnx)],
)
def test_mixed_float_dtypes_give_one_dtype(rng, converter, inputs):
    """An importer given float32 and float64 arrays returns weights lstm_forward accepts together:
    all of one dtype (or it refuses the mix with TypeError)."""
    mixed = []
    for name in inputs(rng):
        args = {k: v.astype(np.float32) for k, v in inputs(rng).items()}
        args[name] = args[name].astype(np.float64)
        try:
            out = getattr(layout, converter)(*args.values())
        except TypeError:
            continue
        if len({a.dtype for a in out}) != 1:
            mixed.append(f"{name} float64, the rest float32 -> {[str(a.dtype) for a in out]}")
    assert not mixed, "; ".join(mixed)


# =================================================================================================
# The GRU, the simple RNN and the LSTM's options (peepholes, projection)
#
# More framework cells in their own layouts, written from each framework's documentation:
# - PyTorch ``nn.GRU``: r, z, n = chunks of x @ w_ih.T + b_ih and of h @ w_hh.T + b_hh;
#   n = tanh(i_n + r * h_n); h' = (1 - z) * n + z * h.
#   ``nn.RNN``: h' = act(x w_ih^T + b_ih + h w_hh^T + b_hh).
#   ``nn.LSTM(proj_size=P)``: h = (o * tanh(c)) @ w_hr.T, w_hh (4H, P).
# - ONNX ``GRU``: zt = f(Xt*Wz^T + Ht-1*Rz^T + Wbz + Rbz), rt likewise; linear_before_reset=0:
#   ht = g(Xt*Wh^T + (rt (.) Ht-1)*Rh^T + Rbh + Wbh), =1: ht = g(Xt*Wh^T + (rt (.) (Ht-1*Rh^T + Rbh)) + Wbh);
#   Ht = (1 - zt) (.) ht + zt (.) Ht-1.  ``RNN``: Ht = f(Xt*Wi^T + Ht-1*Ri^T + Wbi + Rbi).
#   ``LSTM`` with P = [Pi, Po, Pf]: it = f(... + Pi (.) Ct-1), ft = f(... + Pf (.) Ct-1),
#   ot = f(... + Po (.) Ct).
# - Keras ``GRU``: x_z, x_r, x_h = x @ kernel (+ input bias);
#   reset_after: recurrent_h = r * (h @ rk_h + rb_h), else recurrent_h = (r * h) @ rk_h;
#   hh = tanh(x_h + recurrent_h); h' = z * h + (1 - z) * hh.
#   ``SimpleRNN``: h' = act(x @ kernel + bias + h @ recurrent_kernel).
# =================================================================================================

import lstmcore  # noqa: E402 - the active backend's gru_forward, rnn_forward, lstm_forward options

MODULES = {"backend": lstmcore, "reference": reference}
ACT = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0)}


@pytest.fixture(params=sorted(MODULES))
def module(request):
    return MODULES[request.param]


def test_gru_and_peephole_orders():
    assert layout.GRU_GATES == ("z", "r", "n")
    assert layout.TORCH_GRU_GATES == ("r", "z", "n")
    assert layout.ONNX_GRU_GATES == ("z", "r", "h")
    assert [layout.TORCH_GRU_GATES[k] for k in layout._GRU_FROM_TORCH] == list(layout.GRU_GATES)
    assert layout.PEEPHOLES == ("i", "f", "o") and layout.ONNX_PEEPHOLES == ("i", "o", "f")
    assert [layout.ONNX_PEEPHOLES[k] for k in layout._PEEPHOLES_FROM_ONNX] == list(layout.PEEPHOLES)


def torch_gru(x, w_ih, w_hh, b_ih, b_hh, h0):
    h, ys = h0, []
    for t in range(x.shape[1]):
        i_r, i_z, i_n = np.split(x[:, t] @ w_ih.T + b_ih, 3, axis=1)
        h_r, h_z, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=1)
        r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
        n = np.tanh(i_n + r * h_n)
        h = (1 - z) * n + z * h
        ys.append(h)
    return np.stack(ys, axis=1), h


def torch_rnn(x, w_ih, w_hh, b_ih, b_hh, h0, nonlinearity="tanh"):
    h, ys = h0, []
    for t in range(x.shape[1]):
        h = ACT[nonlinearity](x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        ys.append(h)
    return np.stack(ys, axis=1), h


def torch_lstm_proj(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0):
    h, c, ys = h0, c0, []
    for t in range(x.shape[1]):
        i, f, g, o = np.split(x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = (sigmoid(o) * np.tanh(c)) @ w_hr.T
        ys.append(h)
    return np.stack(ys, axis=1), h, c


def onnx_gru(X, W, R, Bias, initial_h, linear_before_reset, direction=0):
    """ONNX ``GRU`` (layout 0), one direction: X (T, B, I) -> Y (T, B, H), Y_h (B, H)."""
    Wz, Wr, Wh = np.split(W[direction], 3)
    Rz, Rr, Rh = np.split(R[direction], 3)
    Wbz, Wbr, Wbh, Rbz, Rbr, Rbh = np.split(Bias[direction], 6)
    Ht, Y = initial_h, []
    for Xt in X:
        zt = sigmoid(Xt @ Wz.T + Ht @ Rz.T + Wbz + Rbz)
        rt = sigmoid(Xt @ Wr.T + Ht @ Rr.T + Wbr + Rbr)
        if linear_before_reset:
            ht = np.tanh(Xt @ Wh.T + rt * (Ht @ Rh.T + Rbh) + Wbh)
        else:
            ht = np.tanh(Xt @ Wh.T + (rt * Ht) @ Rh.T + Rbh + Wbh)
        Ht = (1 - zt) * ht + zt * Ht
        Y.append(Ht)
    return np.stack(Y), Ht


def onnx_rnn(X, W, R, Bias, initial_h, direction=0):
    Wbi, Rbi = np.split(Bias[direction], 2)
    Ht, Y = initial_h, []
    for Xt in X:
        Ht = np.tanh(Xt @ W[direction].T + Ht @ R[direction].T + Wbi + Rbi)
        Y.append(Ht)
    return np.stack(Y), Ht


def onnx_lstm_peepholes(X, W, R, Bias, P, initial_h, initial_c):
    Wi, Wo, Wf, Wc = np.split(W[0], 4)
    Ri, Ro, Rf, Rc = np.split(R[0], 4)
    Wbi, Wbo, Wbf, Wbc, Rbi, Rbo, Rbf, Rbc = np.split(Bias[0], 8)
    Pi, Po, Pf = np.split(P[0], 3)
    Ht, Ct, Y = initial_h, initial_c, []
    for Xt in X:
        it = sigmoid(Xt @ Wi.T + Ht @ Ri.T + Pi * Ct + Wbi + Rbi)
        ft = sigmoid(Xt @ Wf.T + Ht @ Rf.T + Pf * Ct + Wbf + Rbf)
        ct = np.tanh(Xt @ Wc.T + Ht @ Rc.T + Wbc + Rbc)
        Ct = ft * Ct + it * ct
        ot = sigmoid(Xt @ Wo.T + Ht @ Ro.T + Po * Ct + Wbo + Rbo)
        Ht = ot * np.tanh(Ct)
        Y.append(Ht)
    return np.stack(Y), Ht, Ct


def keras_gru(x, kernel, recurrent_kernel, bias, h0, reset_after):
    h, ys = h0, []
    H = h0.shape[1]
    input_bias, recurrent_bias = (bias[0], bias[1]) if reset_after else (bias, np.zeros(3 * H))
    for t in range(x.shape[1]):
        x_z, x_r, x_h = np.split(x[:, t] @ kernel + input_bias, 3, axis=1)
        if reset_after:
            inner = h @ recurrent_kernel + recurrent_bias
            z, r = sigmoid(x_z + inner[:, :H]), sigmoid(x_r + inner[:, H : 2 * H])
            recurrent_h = r * inner[:, 2 * H :]
        else:
            z = sigmoid(x_z + h @ recurrent_kernel[:, :H])
            r = sigmoid(x_r + h @ recurrent_kernel[:, H : 2 * H])
            recurrent_h = (r * h) @ recurrent_kernel[:, 2 * H :]
        hh = np.tanh(x_h + recurrent_h)
        h = z * h + (1 - z) * hh
        ys.append(h)
    return np.stack(ys, axis=1), h


def keras_rnn(x, kernel, recurrent_kernel, bias, h0, activation="tanh"):
    h, ys = h0, []
    for t in range(x.shape[1]):
        h = ACT[activation](x[:, t] @ kernel + bias + h @ recurrent_kernel)
        ys.append(h)
    return np.stack(ys, axis=1), h


def ours(rng, K, dtype=np.float64, bias_shape=None, rows=None):
    """Canonical weights of a K-block cell: w_x (I, K*H), w_h (rows or H, K*H), b."""
    bias_shape = (K * H,) if bias_shape is None else bias_shape
    return (
        rand(rng, I, K * H, dtype=dtype),
        rand(rng, H if rows is None else rows, K * H, dtype=dtype),
        rand(rng, *bias_shape, dtype=dtype, scale=0.3),
    )


def check_equal(got, want, names):
    for name, g, w in zip(names, got, want, strict=True):
        assert_close(g, w, name=name)


# PyTorch GRU, RNN and projection -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_gru_round_trips(rng, dtype):
    shapes = ((3 * H, I), (3 * H, H), (3 * H,), (3 * H,))
    w_ih, w_hh, b_ih, b_hh = (rand(rng, *s, dtype=dtype) for s in shapes)
    w_x, w_h, b = layout.from_torch_gru(w_ih, w_hh, b_ih, b_hh)
    assert (w_x.shape, w_h.shape, b.shape) == ((I, 3 * H), (H, 3 * H), (2, 3 * H))
    assert {a.dtype for a in (w_x, w_h, b)} == {np.dtype(dtype)}
    assert all(a.flags.c_contiguous for a in (w_x, w_h, b))
    for got, want in zip(layout.to_torch_gru(w_x, w_h, b), (w_ih, w_hh, b_ih, b_hh), strict=True):
        np.testing.assert_array_equal(got, want)  # the GRU keeps both biases: exact both ways
        assert got.dtype == dtype and got.flags.c_contiguous
    w = ours(rng, 3, dtype, (2, 3 * H))
    for got, want in zip(layout.from_torch_gru(*layout.to_torch_gru(*w)), w, strict=True):
        np.testing.assert_array_equal(got, want)


def test_torch_gru_blocks_move_to_their_gates():
    """Fill PyTorch's blocks r, z, n with 1, 2, 3: ours must read z, r, n = 2, 1, 3."""
    code = {"r": 1.0, "z": 2.0, "n": 3.0}
    w_ih = np.concatenate([np.full((H, I), code[g]) for g in layout.TORCH_GRU_GATES])
    w_hh = np.concatenate([np.full((H, H), code[g]) for g in layout.TORCH_GRU_GATES])
    b_ih = np.concatenate([np.full(H, code[g]) for g in layout.TORCH_GRU_GATES])
    w_x, w_h, b = layout.from_torch_gru(w_ih, w_hh, b_ih, 10 * b_ih)
    expect = np.repeat([code[g] for g in layout.GRU_GATES], H)
    np.testing.assert_array_equal(w_x, np.broadcast_to(expect, (I, 3 * H)))
    np.testing.assert_array_equal(w_h, np.broadcast_to(expect, (H, 3 * H)))
    np.testing.assert_array_equal(b, [expect, 10 * expect])


def test_torch_gru_equal_outputs(rng, module):
    w_ih, w_hh, b_ih, b_hh = (rand(rng, *s) for s in ((3 * H, I), (3 * H, H), (3 * H,), (3 * H,)))
    x, h0 = rand(rng, B, T, I, scale=1), rand(rng, B, H)
    got = module.gru_forward(x, *layout.from_torch_gru(w_ih, w_hh, b_ih, b_hh), h0, reset_after=True)
    check_equal(got, torch_gru(x, w_ih, w_hh, b_ih, b_hh, h0), ("y", "h_n"))
    w = ours(rng, 3, bias_shape=(2, 3 * H))
    check_equal(torch_gru(x, *layout.to_torch_gru(*w), h0), module.gru_forward(x, *w, h0), ("y", "h_n"))


def test_torch_gru_without_bias(rng):
    w_ih, w_hh = rand(rng, 3 * H, I, dtype=np.float32), rand(rng, 3 * H, H, dtype=np.float32)
    _, _, b = layout.from_torch_gru(w_ih, w_hh)
    np.testing.assert_array_equal(b, np.zeros((2, 3 * H)))
    assert b.dtype == np.float32
    b_hh = rand(rng, 3 * H, dtype=np.float32)
    _, _, b = layout.from_torch_gru(w_ih, w_hh, None, b_hh)
    np.testing.assert_array_equal(b[0], 0)
    np.testing.assert_array_equal(b[1], layout._reorder(b_hh, layout._GRU_FROM_TORCH, axis=0))


def test_to_torch_gru_refuses_reset_after_false(rng):
    with pytest.raises(ValueError, match=r"PyTorch's nn.GRU computes reset_after=True only .*\(15,\)"):
        layout.to_torch_gru(*ours(rng, 3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_rnn_round_trips(rng, dtype):
    w_ih, w_hh, b_ih, b_hh = (rand(rng, *s, dtype=dtype) for s in ((H, I), (H, H), (H,), (H,)))
    w_x, w_h, b = layout.from_torch_rnn(w_ih, w_hh, b_ih, b_hh)
    assert (w_x.shape, w_h.shape, b.shape) == ((I, H), (H, H), (H,))
    assert {a.dtype for a in (w_x, w_h, b)} == {np.dtype(dtype)}
    np.testing.assert_array_equal(b, b_ih + b_hh)
    w_ih2, w_hh2, b_ih2, b_hh2 = layout.to_torch_rnn(w_x, w_h, b)
    np.testing.assert_array_equal(w_ih2, w_ih)
    np.testing.assert_array_equal(w_hh2, w_hh)
    np.testing.assert_array_equal(b_ih2, b)  # the whole bias in b_ih
    np.testing.assert_array_equal(b_hh2, np.zeros(H, dtype))
    w = ours(rng, 1, dtype)
    for got, want in zip(layout.from_torch_rnn(*layout.to_torch_rnn(*w)), w, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == dtype
    np.testing.assert_array_equal(layout.from_torch_rnn(w_ih, w_hh)[2], np.zeros(H, dtype))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_torch_rnn_equal_outputs(rng, module, nonlinearity):
    w_ih, w_hh, b_ih, b_hh = (rand(rng, *s) for s in ((H, I), (H, H), (H,), (H,)))
    x, h0 = rand(rng, B, T, I, scale=1), rand(rng, B, H)
    got = module.rnn_forward(x, *layout.from_torch_rnn(w_ih, w_hh, b_ih, b_hh), h0, activation=nonlinearity)
    check_equal(got, torch_rnn(x, w_ih, w_hh, b_ih, b_hh, h0, nonlinearity), ("y", "h_n"))
    w = ours(rng, 1)
    want = module.rnn_forward(x, *w, h0, activation=nonlinearity)
    check_equal(torch_rnn(x, *layout.to_torch_rnn(*w), h0, nonlinearity), want, ("y", "h_n"))


P_ = 2  # the projection's P (< H)


def torch_proj_weights(rng, dtype=np.float64):
    shapes = ((4 * H, I), (4 * H, P_), (4 * H,), (4 * H,), (P_, H))
    return tuple(rand(rng, *s, dtype=dtype) for s in shapes)


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_projection_round_trips(rng, dtype):
    w_ih, w_hh, b_ih, b_hh, w_hr = torch_proj_weights(rng, dtype)
    w_x, w_h, b, proj = layout.from_torch(w_ih, w_hh, b_ih, b_hh, w_hr)
    assert (w_x.shape, w_h.shape, b.shape, proj.shape) == ((I, 4 * H), (P_, 4 * H), (4 * H,), (H, P_))
    assert {a.dtype for a in (w_x, w_h, b, proj)} == {np.dtype(dtype)}
    np.testing.assert_array_equal(proj, w_hr.T)
    assert proj.flags.c_contiguous and not np.shares_memory(proj, w_hr)
    w_ih2, w_hh2, b_ih2, b_hh2, w_hr2 = layout.to_torch(w_x, w_h, b, proj)
    for got, want in ((w_ih2, w_ih), (w_hh2, w_hh), (w_hr2, w_hr), (b_ih2 + b_hh2, b_ih + b_hh)):
        np.testing.assert_array_equal(got, want)
    assert len(layout.from_torch(w_ih, w_hh[:, :P_], b_ih, b_hh, w_hr)) == 4


def test_torch_projection_equal_outputs(rng, module):
    w_ih, w_hh, b_ih, b_hh, w_hr = torch_proj_weights(rng)
    x, h0, c0 = rand(rng, B, T, I, scale=1), rand(rng, B, P_), rand(rng, B, H)
    w_x, w_h, b, proj = layout.from_torch(w_ih, w_hh, b_ih, b_hh, w_hr)
    got = module.lstm_forward(x, w_x, w_h, b, h0, c0, proj=proj)
    check_equal(got, torch_lstm_proj(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0), ("y", "h_n", "c_n"))
    w = ours(rng, 4, rows=P_)
    proj = rand(rng, H, P_)
    want = module.lstm_forward(x, *w, h0, c0, proj=proj)
    check_equal(torch_lstm_proj(x, *layout.to_torch(*w, proj), h0, c0), want, ("y", "h_n", "c_n"))


def test_to_torch_refuses_a_projection_as_wide_as_h(rng):
    """PyTorch's proj_size must be smaller than hidden_size."""
    with pytest.raises(ValueError, match=r"proj_size < hidden_size\), got \(5, 5\)"):
        layout.to_torch(*ours(rng, 4, rows=H), rand(rng, H, H))


# Keras GRU and SimpleRNN -------------------------------------------------------------------------


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_keras_gru_round_trips(rng, dtype, reset_after):
    w = ours(rng, 3, dtype, (2, 3 * H) if reset_after else (3 * H,))
    back = layout.from_keras_gru(*layout.to_keras_gru(*w), reset_after=reset_after)
    for got, want in zip(back, w, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == dtype and got.flags.c_contiguous
        assert not np.shares_memory(got, want)
    kernel, recurrent_kernel, bias = (np.asfortranarray(a) for a in w)
    back = layout.from_keras_gru(kernel, recurrent_kernel, bias, reset_after=reset_after)
    for got, want in zip(back, w, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.flags.c_contiguous
    _, _, b = layout.from_keras_gru(kernel, recurrent_kernel, reset_after=reset_after)  # use_bias=False
    np.testing.assert_array_equal(b, np.zeros(w[2].shape, dtype))
    assert b.dtype == dtype


@pytest.mark.parametrize("reset_after", [True, False])
def test_keras_gru_equal_outputs(rng, module, reset_after):
    w = ours(rng, 3, bias_shape=(2, 3 * H) if reset_after else (3 * H,))
    x, h0 = rand(rng, B, T, I, scale=1), rand(rng, B, H)
    imported = layout.from_keras_gru(*w, reset_after=reset_after)
    got = module.gru_forward(x, *imported, h0, reset_after=reset_after)
    check_equal(got, keras_gru(x, *w, h0, reset_after), ("y", "h_n"))
    check_equal(keras_gru(x, *layout.to_keras_gru(*w), h0, reset_after), got, ("y", "h_n"))


def test_keras_gru_bias_must_match_reset_after(rng):
    w_x, w_h, b = ours(rng, 3, bias_shape=(2, 3 * H))
    match = r"bias must have shape \(15,\) \(reset_after=False\), got \(2, 15\)"
    with pytest.raises(ValueError, match=match):
        layout.from_keras_gru(w_x, w_h, b, reset_after=False)
    match = r"bias must have shape \(2, 15\) \(reset_after=True\), got \(15,\)"
    with pytest.raises(ValueError, match=match):
        layout.from_keras_gru(w_x, w_h, b[0])
    with pytest.raises(TypeError, match="reset_after must be True or False"):
        layout.from_keras_gru(w_x, w_h, b, reset_after=1)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_keras_rnn_round_trips_and_equal_outputs(rng, module, activation):
    w = ours(rng, 1)
    for got, want in zip(layout.from_keras_rnn(*layout.to_keras_rnn(*w)), w, strict=True):
        np.testing.assert_array_equal(got, want)
        assert not np.shares_memory(got, want)
    np.testing.assert_array_equal(layout.from_keras_rnn(w[0], w[1])[2], np.zeros(H))
    x, h0 = rand(rng, B, T, I, scale=1), rand(rng, B, H)
    got = module.rnn_forward(x, *layout.from_keras_rnn(*w), h0, activation=activation)
    check_equal(got, keras_rnn(x, *w, h0, activation), ("y", "h_n"))


# ONNX GRU, RNN and peepholes ---------------------------------------------------------------------


def onnx_cell_weights(rng, K, D=1, dtype=np.float64):
    shapes = ((D, K * H, I), (D, K * H, H), (D, 2 * K * H))
    return tuple(rand(rng, *s, dtype=dtype) for s in shapes)


@pytest.mark.parametrize("linear_before_reset", [0, 1])
def test_onnx_gru_equal_outputs(rng, module, linear_before_reset):
    W, R, Bias = onnx_cell_weights(rng, 3, D=2)
    X, h0 = rand(rng, T, B, I, scale=1), rand(rng, B, H)
    for d in (0, 1):
        Y, Y_h = onnx_gru(X, W, R, Bias, h0, linear_before_reset, direction=d)
        w_x, w_h, b = layout.from_onnx_gru(W, R, Bias, d, linear_before_reset=linear_before_reset)
        assert b.shape == ((2, 3 * H) if linear_before_reset else (3 * H,))
        x = X.transpose(1, 0, 2)
        y, h_n = module.gru_forward(x, w_x, w_h, b, h0, reset_after=bool(linear_before_reset))
        assert_close(y, Y.transpose(1, 0, 2), name=f"y direction {d}")
        assert_close(h_n, Y_h, name=f"h_n direction {d}")


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_onnx_gru_round_trips(rng, module, dtype, reset_after):
    w = ours(rng, 3, dtype, (2, 3 * H) if reset_after else (3 * H,))
    W, R, Bias = layout.to_onnx_gru(*w)
    assert (W.shape, R.shape, Bias.shape) == ((1, 3 * H, I), (1, 3 * H, H), (1, 6 * H))
    assert {a.dtype for a in (W, R, Bias)} == {np.dtype(dtype)}
    if not reset_after:
        np.testing.assert_array_equal(Bias[0, 3 * H :], 0)  # the whole bias in Wb
    back = layout.from_onnx_gru(W, R, Bias, linear_before_reset=int(reset_after))
    for got, want in zip(back, w, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == dtype
    if dtype == np.float64:
        x, h0 = rand(rng, B, T, I, scale=1), rand(rng, B, H)
        Y, Y_h = onnx_gru(x.transpose(1, 0, 2), W, R, Bias, h0, int(reset_after))
        y, h_n = module.gru_forward(x, *w, h0, reset_after=reset_after)
        check_equal((Y.transpose(1, 0, 2), Y_h), (y, h_n), ("y", "h_n"))
    Wo, Ro, Bo = onnx_cell_weights(rng, 3, dtype=dtype)
    for got, want in zip(
        layout.to_onnx_gru(*layout.from_onnx_gru(Wo, Ro, Bo, linear_before_reset=1)),
        (Wo, Ro, Bo),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)  # linear_before_reset=1 keeps both biases: exact


def test_onnx_gru_linear_before_reset_values(rng):
    W, R, Bias = onnx_cell_weights(rng, 3)
    np.testing.assert_array_equal(
        layout.from_onnx_gru(W, R, Bias, linear_before_reset=True)[2],
        layout.from_onnx_gru(W, R, Bias, linear_before_reset=1)[2],
    )
    for bad in (2, -1, "1", None):
        with pytest.raises(ValueError, match="linear_before_reset must be 0 or 1"):
            layout.from_onnx_gru(W, R, Bias, linear_before_reset=bad)
    np.testing.assert_array_equal(layout.from_onnx_gru(W, R)[2], np.zeros(3 * H))
    np.testing.assert_array_equal(layout.from_onnx_gru(W, R, linear_before_reset=1)[2], np.zeros((2, 3 * H)))


def test_onnx_rnn_equal_outputs_and_round_trips(rng, module):
    W, R, Bias = onnx_cell_weights(rng, 1, D=2)
    X, h0 = rand(rng, T, B, I, scale=1), rand(rng, B, H)
    for d in (0, 1):
        Y, Y_h = onnx_rnn(X, W, R, Bias, h0, direction=d)
        y, h_n = module.rnn_forward(X.transpose(1, 0, 2), *layout.from_onnx_rnn(W, R, Bias, d), h0)
        check_equal((y, h_n), (Y.transpose(1, 0, 2), Y_h), (f"y direction {d}", f"h_n direction {d}"))
    w = ours(rng, 1)
    W1, R1, B1 = layout.to_onnx_rnn(*w)
    assert (W1.shape, R1.shape, B1.shape) == ((1, H, I), (1, H, H), (1, 2 * H))
    np.testing.assert_array_equal(B1[0, H:], 0)
    for got, want in zip(layout.from_onnx_rnn(W1, R1, B1), w, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(layout.from_onnx_rnn(W1, R1)[2], np.zeros(H))


def test_onnx_peepholes_move_to_their_rows(rng):
    """Fill ONNX's P blocks i, o, f with 1, 2, 3: our rows must read i, f, o = 1, 3, 2."""
    W, R, Bias = onnx_weights(rng)
    code = {"i": 1.0, "o": 2.0, "f": 3.0}
    P = np.concatenate([np.full(H, code[g]) for g in layout.ONNX_PEEPHOLES])[None]
    *_, peepholes = layout.from_onnx(W, R, Bias, P)
    np.testing.assert_array_equal(peepholes, [[code[g]] * H for g in layout.PEEPHOLES])
    np.testing.assert_array_equal(layout.to_onnx(*_canon(rng).values(), peepholes)[3], P)


@pytest.mark.parametrize("dtype", DTYPES)
def test_onnx_peepholes_round_trip(rng, dtype):
    W, R, Bias = onnx_weights(rng, D=2, dtype=dtype)
    P = rand(rng, 2, 3 * H, dtype=dtype)
    w_x, w_h, b, p = layout.from_onnx(W, R, Bias, P, direction=1)
    assert p.dtype == dtype
    W2, R2, B2, P2 = layout.to_onnx(w_x, w_h, b, p)
    assert P2.shape == (1, 3 * H) and P2.dtype == dtype
    np.testing.assert_array_equal(P2[0], P[1])
    np.testing.assert_array_equal(W2[0], W[1])


def test_onnx_peepholes_equal_outputs(rng, module):
    W, R, Bias = onnx_weights(rng)
    P = rand(rng, 1, 3 * H)
    X, h0, c0 = rand(rng, T, B, I, scale=1), rand(rng, B, H), rand(rng, B, H)
    Y, Y_h, Y_c = onnx_lstm_peepholes(X, W, R, Bias, P, h0, c0)
    w_x, w_h, b, p = layout.from_onnx(W, R, Bias, P)
    got = module.lstm_forward(X.transpose(1, 0, 2), w_x, w_h, b, h0, c0, peepholes=p)
    check_equal(got, (Y.transpose(1, 0, 2), Y_h, Y_c), ("y", "h_n", "c_n"))
    a = make_lstm(rng, B, T, I, H)
    p = rand(rng, 3, H)
    want = module.lstm_forward(**a, peepholes=p)
    exported = layout.to_onnx(a["w_x"], a["w_h"], a["b"], p)
    Y, Y_h, Y_c = onnx_lstm_peepholes(a["x"].transpose(1, 0, 2), *exported, a["h0"], a["c0"])
    check_equal((Y.transpose(1, 0, 2), Y_h, Y_c), want, ("y", "h_n", "c_n"))


# Wrong shapes, dtypes and sizes of the new converters ---------------------------------------------


def _torch_gru(rng):
    values = (rand(rng, *s) for s in ((15, I), (15, H), (15,), (15,)))
    return dict(zip(("w_ih", "w_hh", "b_ih", "b_hh"), values, strict=True))


def _torch_rnn(rng):
    values = (rand(rng, *s) for s in ((H, I), (H, H), (H,), (H,)))
    return dict(zip(("w_ih", "w_hh", "b_ih", "b_hh"), values, strict=True))


def _torch_proj(rng):
    return dict(zip(("w_ih", "w_hh", "b_ih", "b_hh", "w_hr"), torch_proj_weights(rng), strict=True))


def _canon_gru(rng):
    return dict(zip(("w_x", "w_h", "b"), ours(rng, 3, bias_shape=(2, 15)), strict=True))


def _canon_rnn(rng):
    return dict(zip(("w_x", "w_h", "b"), ours(rng, 1), strict=True))


def _canon_proj(rng):
    return {**dict(zip(("w_x", "w_h", "b"), ours(rng, 4, rows=P_), strict=True)), "proj": rand(rng, H, P_)}


def _canon_peep(rng):
    return {**_canon(rng), "peepholes": rand(rng, 3, H)}


def _onnx_gru(rng):
    return dict(zip(("W", "R", "B"), onnx_cell_weights(rng, 3), strict=True))


def _onnx_rnn(rng):
    return dict(zip(("W", "R", "B"), onnx_cell_weights(rng, 1), strict=True))


def _onnx_peep(rng):
    return {**_onnx(rng), "P": rand(rng, 1, 3 * H)}


# fmt: off
BAD_CELL_SHAPES = [
    ("from_torch_gru", _torch_gru, "w_hh", lambda a: a.T, r"w_hh must have shape \(3\*H, H\), got \(5, 15\)"),
    ("from_torch_gru", _torch_gru, "w_ih", lambda a: a[:-3],
     r"w_ih must have shape \(15, I\), got \(12, 4\)"),
    ("from_torch_gru", _torch_gru, "b_hh", lambda a: a[:-1], r"b_hh must have shape \(15,\), got \(14,\)"),
    ("to_torch_gru", _canon_gru, "w_h", lambda a: a[:, :-1],
     r"w_h must have shape \(H, 3\*H\), got \(5, 14\)"),
    ("to_torch_gru", _canon_gru, "w_x", lambda a: a[:, :-3], r"w_x must have shape \(I, 15\), got \(4, 12\)"),
    ("to_torch_gru", _canon_gru, "b", lambda a: a[:, :-1],
     r"b must have shape \(2, 15\) \(reset_after=True\) or \(15,\) \(reset_after=False\), got \(2, 14\)"),
    ("to_torch_gru", _canon_gru, "b", lambda a: a[None], r"b must have shape \(2, 15\) .*got \(1, 2, 15\)"),
    ("from_keras_gru", _canon_gru, "w_h", lambda a: a.T,
     r"recurrent_kernel must have shape \(H, 3\*H\), got \(15, 5\)"),
    ("from_keras_gru", _canon_gru, "w_x", lambda a: a.T, r"kernel must have shape \(I, 15\), got \(15, 4\)"),
    ("to_keras_gru", _canon_gru, "b", lambda a: a.ravel(), r"b must have shape \(2, 15\) .*got \(30,\)"),
    ("from_onnx_gru", _onnx_gru, "R", lambda a: a[:, :-3],
     r"expected W \(D, 3H, I\) and R \(D, 3H, H\), got W \(1, 15, 4\) and R \(1, 12, 5\)"),
    ("from_onnx_gru", _onnx_gru, "B", lambda a: a[:, :-1], r"B must have shape \(1, 30\), got \(1, 29\)"),
    ("to_onnx_gru", _canon_gru, "w_h", lambda a: a[:-1], r"w_h must have shape \(H, 3\*H\), got \(4, 15\)"),
    ("from_torch_rnn", _torch_rnn, "w_hh", lambda a: a[:, :-1],
     r"w_hh must have shape \(H, H\), got \(5, 4\)"),
    ("from_torch_rnn", _torch_rnn, "w_ih", lambda a: a.T, r"w_ih must have shape \(5, I\), got \(4, 5\)"),
    ("from_torch_rnn", _torch_rnn, "b_ih", lambda a: a[:-1], r"b_ih must have shape \(5,\), got \(4,\)"),
    ("to_torch_rnn", _canon_rnn, "b", lambda a: a[None], r"b must have shape \(5,\), got \(1, 5\)"),
    ("from_keras_rnn", _canon_rnn, "w_x", lambda a: a[:, :-1],
     r"kernel must have shape \(I, 5\), got \(4, 4\)"),
    ("from_keras_rnn", _canon_rnn, "b", lambda a: a[:-1], r"bias must have shape \(5,\), got \(4,\)"),
    ("to_keras_rnn", _canon_rnn, "w_h", lambda a: a.ravel(), r"w_h must have shape \(H, H\), got \(25,\)"),
    ("from_onnx_rnn", _onnx_rnn, "W", lambda a: a[0],
     r"expected W \(D, H, I\) and R \(D, H, H\), got W \(5, 4\)"),
    ("from_onnx_rnn", _onnx_rnn, "B", lambda a: a[0], r"B must have shape \(1, 10\), got \(10,\)"),
    ("to_onnx_rnn", _canon_rnn, "w_x", lambda a: a.T, r"w_x must have shape \(I, 5\), got \(5, 4\)"),
    ("from_torch", _torch_proj, "w_hr", lambda a: a[:, :-1], r"w_hr must have shape \(2, 5\), got \(2, 4\)"),
    ("from_torch", _torch_proj, "w_hr", lambda a: a.ravel(), r"w_hr must have shape \(P, H\), got \(10,\)"),
    ("from_torch", _torch_proj, "w_hh", lambda a: a.T,
     r"w_hh must have shape \(4\*H, 2\) \(P = 2 columns, the rows of w_hr\), got \(2, 20\)"),
    ("to_torch", _canon_proj, "w_h", lambda a: np.zeros((H, 20)),
     r"w_h must have shape \(2, 20\) \(P, 4\*H\), got \(5, 20\)"),
    ("to_torch", _canon_proj, "proj", lambda a: a[:-1],
     r"w_h must have shape \(2, 16\) \(P, 4\*H\), got \(2, 20\)"),
    ("to_torch", _canon_proj, "proj", lambda a: a[:, :0], r"proj must have shape \(H, P\), got \(5, 0\)"),
    ("to_onnx", _canon_peep, "peepholes", lambda a: a.ravel(),
     r"peepholes must have shape \(3, 5\), got \(15,\)"),
    ("from_onnx", _onnx_peep, "P", lambda a: a[:, :-1], r"P must have shape \(1, 15\), got \(1, 14\)"),
]
# fmt: on


@pytest.mark.parametrize(
    "converter, inputs, name, bad, match",
    [pytest.param(*c, id=f"{c[0]}-{c[2]}-{i}") for i, c in enumerate(BAD_CELL_SHAPES)],
)
def test_cell_converters_wrong_shape(rng, converter, inputs, name, bad, match):
    args = inputs(rng)
    args[name] = bad(args[name])
    with pytest.raises(ValueError, match=match):
        getattr(layout, converter)(*args.values())


CELL_CONVERTERS = [
    ("from_torch_gru", _torch_gru),
    ("to_torch_gru", _canon_gru),
    ("from_keras_gru", _canon_gru),
    ("to_keras_gru", _canon_gru),
    ("from_onnx_gru", _onnx_gru),
    ("to_onnx_gru", _canon_gru),
    ("from_torch_rnn", _torch_rnn),
    ("to_torch_rnn", _canon_rnn),
    ("from_keras_rnn", _canon_rnn),
    ("to_keras_rnn", _canon_rnn),
    ("from_onnx_rnn", _onnx_rnn),
    ("to_onnx_rnn", _canon_rnn),
    ("from_torch", _torch_proj),
    ("to_torch", _canon_proj),
    ("from_onnx", _onnx_peep),
    ("to_onnx", _canon_peep),
]


def _call(converter, args):
    if converter == "from_onnx_gru":  # linear_before_reset=1 for the (2, 3H) bias of _canon_gru's kind
        return layout.from_onnx_gru(*args.values(), linear_before_reset=1)
    return getattr(layout, converter)(*args.values())


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.complex128, np.float16, object])
@pytest.mark.parametrize("converter, inputs", CELL_CONVERTERS)
def test_cell_converters_refuse_non_float_arrays(rng, converter, inputs, dtype):
    keras_names = {"w_x": "kernel", "w_h": "recurrent_kernel", "b": "bias"}
    for name in inputs(rng):
        args = inputs(rng)
        args[name] = args[name].astype(dtype)
        names = f"({name}|{keras_names[name]})" if "keras" in converter else name
        match = rf"{names} must be float32 or float64, got dtype {np.dtype(dtype)}"
        with pytest.raises(TypeError, match=match):
            _call(converter, args)


@pytest.mark.parametrize("converter, inputs", CELL_CONVERTERS)
def test_cell_converters_give_one_dtype(rng, converter, inputs):
    """float32 and float64 mixed: refused with TypeError, never a mixed result."""
    for name in inputs(rng):
        args = {k: v.astype(np.float32) for k, v in inputs(rng).items()}
        args[name] = args[name].astype(np.float64)
        with pytest.raises(TypeError, match="the weights must share one dtype"):
            _call(converter, args)
        out = _call(converter, {k: v.astype(np.float32) for k, v in args.items()})
        assert {a.dtype for a in out} == {np.dtype(np.float32)}


def test_cell_converters_refuse_zero_sizes():
    zeros = np.zeros
    cases = {
        "from_torch_gru H=0": lambda: layout.from_torch_gru(zeros((0, I)), zeros((0, 0))),
        "from_torch_gru I=0": lambda: layout.from_torch_gru(zeros((15, 0)), zeros((15, H))),
        "to_torch_gru H=0": lambda: layout.to_torch_gru(zeros((I, 0)), zeros((0, 0)), zeros((2, 0))),
        "from_keras_gru I=0": lambda: layout.from_keras_gru(zeros((0, 15)), zeros((H, 15))),
        "from_onnx_gru H=0": lambda: layout.from_onnx_gru(zeros((1, 0, I)), zeros((1, 0, 0))),
        "from_torch_rnn H=0": lambda: layout.from_torch_rnn(zeros((0, I)), zeros((0, 0))),
        "to_keras_rnn I=0": lambda: layout.to_keras_rnn(zeros((0, H)), zeros((H, H)), zeros(H)),
        "from_onnx_rnn I=0": lambda: layout.from_onnx_rnn(zeros((1, H, 0)), zeros((1, H, H))),
        "from_torch P=0": lambda: layout.from_torch(zeros((20, I)), zeros((20, 0)), w_hr=zeros((0, H))),
        "to_torch P=0": lambda: layout.to_torch(zeros((I, 20)), zeros((0, 20)), zeros(20), zeros((H, 0))),
    }
    accepted = []
    for name, convert in cases.items():
        try:
            out = convert()
        except ValueError:
            continue
        accepted.append(f"{name} -> shapes {[np.shape(a) for a in out]}")
    assert not accepted, "zero-sized weights accepted instead of ValueError: " + "; ".join(accepted)


# Live: the converters against torch's own modules ----------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    ["gru", "rnn_tanh", "rnn_relu", "lstm_proj"],
)
def test_torch_modules_live(module, kind):
    """Weights taken from a fresh torch module: lstmcore's forward on the imported weights gives the
    module's outputs; lstmcore's weights exported into the module give lstmcore's outputs."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(7)
    if kind == "gru":
        net = torch.nn.GRU(I, H, batch_first=True)
    elif kind.startswith("rnn"):
        net = torch.nn.RNN(I, H, nonlinearity=kind[4:], batch_first=True)
    else:
        net = torch.nn.LSTM(I, H, proj_size=P_, batch_first=True)
    net = net.double()
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    names += ["weight_hr_l0"] if kind == "lstm_proj" else []
    rng = np.random.default_rng(8)
    R = P_ if kind == "lstm_proj" else H
    x, h0, c0 = rand(rng, B, T, I, scale=1), rand(rng, B, R), rand(rng, B, H)

    def run_torch():
        with torch.no_grad():
            hx = torch.from_numpy(h0[None])
            if kind == "lstm_proj":
                y, (h_n, c_n) = net(torch.from_numpy(x), (hx, torch.from_numpy(c0[None])))
                return y.numpy(), h_n[0].numpy(), c_n[0].numpy()
            y, h_n = net(torch.from_numpy(x), hx)
            return y.numpy(), h_n[0].numpy()

    def run_ours(weights):
        if kind == "gru":
            return module.gru_forward(x, *weights, h0)
        if kind.startswith("rnn"):
            return module.rnn_forward(x, *weights, h0, activation=kind[4:])
        *w, proj = weights
        return module.lstm_forward(x, *w, h0, c0, proj=proj)

    importer, exporter = {
        "gru": (layout.from_torch_gru, layout.to_torch_gru),
        "rnn_tanh": (layout.from_torch_rnn, layout.to_torch_rnn),
        "rnn_relu": (layout.from_torch_rnn, layout.to_torch_rnn),
        "lstm_proj": (layout.from_torch, layout.to_torch),
    }[kind]
    weights = importer(*(getattr(net, n).detach().numpy() for n in names))
    outputs = ("y", "h_n", "c_n") if kind == "lstm_proj" else ("y", "h_n")
    check_equal(run_ours(weights), run_torch(), outputs)
    # lstmcore's own weights, perturbed, into the module
    mine = tuple(w + rand(rng, *w.shape, scale=0.1) for w in weights)
    with torch.no_grad():
        for n, value in zip(names, exporter(*mine), strict=True):
            getattr(net, n).copy_(torch.from_numpy(value))
    check_equal(run_torch(), run_ours(mine), outputs)

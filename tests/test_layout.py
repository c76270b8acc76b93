"""Converters of lstmcore.layout: round trips, and equal outputs against each framework's own formulas.

The framework LSTMs below are tiny NumPy loops written from each framework's documentation, in
its own layout and gate order, so that a mistake in layout.py cannot hide in a shared helper:
- PyTorch ``nn.LSTM``: gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, chunks i, f, g, o.
- ONNX ``LSTM``: W[iofc] (D, 4H, I), R[iofc] (D, 4H, H), B = [Wb[iofc], Rb[iofc]] (D, 8H),
  X (T, B, I), Y (T, D, B, H); it = f(Xt*Wi^T + Ht-1*Ri^T + Wbi + Rbi) and so on.
- Keras ``LSTM``: z = x @ kernel + h @ recurrent_kernel + bias, blocks i, f, c, o.
"""

from __future__ import annotations

import lstmcore._lstm as compiled
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
    return rand(rng, G, I, dtype=dtype), rand(rng, G, H, dtype=dtype), rand(rng, G, dtype=dtype), rand(
        rng, G, dtype=dtype
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


@pytest.mark.parametrize("with_P", [False, True])
def test_onnx_equal_outputs(rng, backend, with_P):
    W, R, Bias = onnx_weights(rng)
    X, h0, c0 = rand(rng, T, B, I, scale=1), rand(rng, B, H), rand(rng, B, H)
    Y, Y_h, Y_c = onnx_lstm(X, W, R, Bias, h0, c0)
    P = np.zeros((1, 3 * H)) if with_P else None  # all-zero peepholes are no peepholes
    y, h_n, c_n = backend.lstm_forward(X.transpose(1, 0, 2), *layout.from_onnx(W, R, Bias, P), h0, c0)
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


def test_onnx_nonzero_peepholes_are_refused(rng):
    W, R, Bias = onnx_weights(rng)
    P = np.zeros((1, 3 * H))
    P[0, 2 * H] = 0.1  # one output-gate peephole
    with pytest.raises(ValueError, match="peephole"):
        layout.from_onnx(W, R, Bias, P)


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
    [("from_torch", _torch), ("to_torch", _canon), ("from_keras", _canon), ("to_keras", _canon),
     ("from_onnx", _onnx), ("to_onnx", _canon)],
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

"""The quick acceptance of plain LSTM, GRU and simple-RNN sequence calls (``_validate._fast_sequence``):
it takes exactly the calls the full checks would pass unchanged, returns the caller's arrays
themselves, and hands everything else to the full checks, whose messages stay the same."""

from __future__ import annotations

import numpy as np
import pytest

import lstmcore
from lstmcore.engine import _validate


def _gru(dtype=np.float32, B=3, T=4, I=5, H=6, reset_after=True):
    rng = np.random.default_rng(0)
    b_shape = (2, 3 * H) if reset_after else (3 * H,)
    return [rng.standard_normal(s).astype(dtype) for s in ((B, T, I), (I, 3 * H), (H, 3 * H), b_shape)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reset_after", [True, False])
def test_a_ready_call_keeps_the_callers_arrays(dtype, reset_after):
    x, w_x, w_h, b = _gru(dtype, reset_after=reset_after)
    out = _validate.check_gru_forward(x, w_x, w_h, b, None, reset_after, "tanh", "sigmoid", True)
    assert all(got is want for got, want in zip(out[:4], (x, w_x, w_h, b), strict=True))
    assert out[4].shape == (3, 6) and out[4].dtype == dtype and not out[4].any()
    assert out[5:] == (
        _validate.activation_spec("tanh", "a"),
        _validate.activation_spec("sigmoid", "a"),
        None,
    )
    rnn = _validate.check_rnn_forward(
        x, w_x[:, :6].copy(), w_h[:, :6].copy(), b.reshape(-1)[:6].copy(), None, "relu", True
    )
    assert rnn[0] is x and rnn[5] == _validate.activation_spec("relu", "a") and rnn[6] is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_ready_plain_lstm_call_keeps_the_callers_arrays(dtype):
    x, w_x, w_h, b = _gru(dtype, reset_after=False)
    w_x, w_h, b = np.hstack([w_x, w_x[:, :6]]), np.hstack([w_h, w_h[:, :6]]), np.concatenate([b, b[:6]])
    out = _validate.check_forward(x, w_x, w_h, b, None, None, "tanh", "sigmoid", True)
    assert all(got is want for got, want in zip(out[:4], (x, w_x, w_h, b), strict=True))
    assert [s.shape for s in out[4:6]] == [(3, 6), (3, 6)] and not out[4].any() and not out[5].any()
    given = np.ones((3, 6), dtype)  # a state given: the full checks, which take it as it is
    assert _validate.check_forward(x, w_x, w_h, b, None, given, "tanh", "sigmoid", True)[5] is given


def _variants():
    x, w_x, w_h, b = _gru()
    yield "strided x", (x[:, ::1, :][:, :, ::-1], w_x, w_h, b), None
    yield "float64 w_h", (x, w_x, w_h.astype(np.float64), b), TypeError
    yield "big-endian w_x", (x, w_x.astype(">f4"), w_h, b), None
    yield (
        "NaN in b",
        (x, w_x, w_h, np.where(np.arange(b.size).reshape(b.shape) == 3, np.nan, b).astype(np.float32)),
        ValueError,
    )
    yield "b of the other variant", (x, w_x, w_h, b[0].copy()), ValueError
    yield "list x", (x.tolist(), w_x, w_h, b), TypeError


@pytest.mark.parametrize("name, args, error", list(_variants()), ids=[v[0] for v in _variants()])
def test_anything_else_takes_the_full_checks(name, args, error):
    assert _validate._fast_sequence(*args, None, 3, 2, True, None) is None
    if error is None:
        out = _validate.check_gru_forward(*args, None, True, "tanh", "sigmoid", True)
        assert out[0].flags.c_contiguous and out[1].dtype == np.float32
    else:
        with pytest.raises(error):
            _validate.check_gru_forward(*args, None, True, "tanh", "sigmoid", True)


def test_a_nan_still_gets_the_full_message():
    x, w_x, w_h, b = _gru()
    w_h[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"w_h must be finite, got nan at index \(2, 5\)"):
        _validate.check_gru_forward(x, w_x, w_h, b, None, True, "tanh", "sigmoid", True)
    out = _validate.check_gru_forward(x, w_x, w_h, b, None, True, "tanh", "sigmoid", False)
    assert out[2] is w_h  # check_finite=False: taken as it is


def test_activation_names_are_computed_once_and_tuples_still_checked():
    assert _validate.activation_spec("hard_sigmoid", "x") is _validate.activation_spec("hard_sigmoid", "y")
    with pytest.raises(ValueError, match="must be one of"):
        _validate.activation_spec("swish", "activation")
    with pytest.raises(ValueError, match="alpha must be > 0"):
        _validate.activation_spec(("elu", -1.0), "activation")


# The compiled checks of gru_forward and rnn_forward (_cells._ready_call): a ready
# call skips the Python checks and plan, with the general path's bits; anything else takes the
# general path, and its errors.


def _cell_call(cell, dtype, reset_after=True, B=5, T=7, I=3, H=4):
    x, w_x, w_h, b = _gru(dtype, B, T, I, H, reset_after)
    if cell == "rnn":
        w_x, w_h, b = w_x[:, :H].copy(), w_h[:, :H].copy(), b.reshape(-1)[:H].copy()
        return lstmcore.rnn_forward, (x, w_x, w_h, b), {}
    return lstmcore.gru_forward, (x, w_x, w_h, b), {"reset_after": reset_after}


_CELLS = [("gru", True), ("gru", False), ("rnn", False)]


@pytest.mark.parametrize("cell, reset_after", _CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seq", ["full", "lengths", "lengths reverse", "sorted lengths"])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("train", [False, True])
def test_the_compiled_entry_gives_the_general_paths_bits(
    cell, reset_after, dtype, seq, with_h0, train, monkeypatch
):
    fn, args, kw = _cell_call(cell, dtype, reset_after)
    B, T, H = args[0].shape[0], args[0].shape[1], args[2].shape[0]
    lengths = np.array([3, 7, 1, 5, 7]) if "lengths" in seq else None
    if seq == "sorted lengths":
        lengths = np.sort(lengths)[::-1].astype(np.int32)  # the identity plan, int32
    kw.update(lengths=lengths, reverse=seq.endswith("reverse"), return_cache=train)
    h0 = np.random.default_rng(1).standard_normal((B, H)).astype(dtype) if with_h0 else None
    general_kw = dict(kw, activation=("tanh",))  # a tuple: the same spec, the general path
    want = fn(*args, h0, **general_kw)
    checks = "check_gru_forward" if cell == "gru" else "check_rnn_forward"

    def refuse(*a, **k):
        raise AssertionError("a ready call went through the Python checks")

    monkeypatch.setattr(_validate, checks, refuse)
    got = fn(*args, h0, **kw)
    if train:
        backward = getattr(lstmcore, f"{cell}_backward")
        dy = np.random.default_rng(2).standard_normal(got[0].shape).astype(dtype)
        if lengths is not None:
            lengths[0] += 1  # the cache keeps lengths of its own
        grads, want_grads = backward(dy, got[-1]), backward(dy, want[-1])
        assert grads.keys() == want_grads.keys()
        for key in grads:
            np.testing.assert_array_equal(grads[key], want_grads[key], err_msg=key)
        got, want = got[:-1], want[:-1]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == dtype and g.flags.c_contiguous
        np.testing.assert_array_equal(g, w)
    if lengths is not None and not train:
        assert not got[0][np.arange(T) >= lengths[:, None]].any()  # 0 past each length


def _refused_calls():
    # (name, changes to the call, the general path's error or None)
    yield "lengths 0", {"lengths": np.array([3, 0, 1, 5, 7])}, (ValueError, r"lengths must lie in \[1, 7\]")
    yield "lengths past T", {"lengths": np.array([3, 8, 1, 5, 7])}, (ValueError, r"lengths\[1\] = 8")
    yield "float lengths", {"lengths": np.full(5, 2.0)}, (TypeError, "integer array")
    yield "bool lengths", {"lengths": np.ones(5, bool)}, (TypeError, "integer array")
    yield "lengths of another batch", {"lengths": np.ones(4, int)}, (ValueError, r"shape \(5,\)")
    yield (
        "huge uint64 lengths",
        {"lengths": np.full(5, 2**63 + 1, np.uint64)},
        (ValueError, "lengths must lie"),
    )
    yield "list lengths", {"lengths": [3, 7, 1, 5, 7]}, None
    yield "NumPy bool reverse", {"lengths": np.array([3, 7, 1, 5, 7]), "reverse": np.True_}, None
    yield "reverse without lengths", {"reverse": True}, None
    yield "reverse not a bool", {"lengths": np.array([3, 7, 1, 5, 7]), "reverse": 1}, (TypeError, "reverse")
    yield "h0 of another batch", {"h0": np.zeros((4, 4), np.float32)}, (ValueError, "h0")
    yield "NaN in h0", {"h0": np.full((5, 4), np.nan, np.float32)}, (ValueError, "h0 must be finite")
    yield "float64 h0", {"h0": np.zeros((5, 4))}, (TypeError, "h0")


@pytest.mark.parametrize("cell, reset_after", _CELLS)
@pytest.mark.parametrize("name, change, error", list(_refused_calls()), ids=[c[0] for c in _refused_calls()])
def test_anything_else_takes_the_general_path(cell, reset_after, name, change, error):
    fn, args, kw = _cell_call(cell, np.float32, reset_after)
    kw.update(change)
    if error is not None:
        with pytest.raises(error[0], match=error[1]):
            fn(*args, **kw)
        return
    got = fn(*args, **kw)
    for g, w in zip(got, fn(*args, **dict(kw, activation=("tanh",))), strict=True):
        np.testing.assert_array_equal(g, w)

"""Fuzz of Keras's RNN over cells (layers/cells.py, wrappers.RNN):

1. ``test_rnn_of_cells_matches_reference``: 1-3 drawn cells (LSTMCell, GRUCell with reset_after
   either way, SimpleRNNCell; units, activations, use_bias), any RNN arguments (return_sequences,
   return_state, go_backwards, stateful, zero_output_for_mask), a mask or none, initial states
   flat or nested per cell, float32 or float64: the compiled engine and ``lstmcore.reference``
   give the same outputs, states and gradients (of x, of every weight, of the initial states);
   the output has the shapes ``output_shapes`` announces; the config makes an RNN that gives the
   same outputs; a single cell's RNN gives its layer's outputs bit for bit.
2. ``test_junk_arguments_raise_value_or_type_errors``: junk in the cells' and the RNN's arguments
   and in the calls' initial states: ValueError or TypeError, nothing else.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import close_to_reference
from hypothesis import event, given
from hypothesis import strategies as st

import lstmcore
import lstmcore.reference as reference
from lstmcore import layers
from lstmcore.layers import RNN
from lstmcore.params import ParameterBuffer

pytestmark = pytest.mark.skipif(lstmcore.backend != "compiled", reason="compares the compiled engine")

ACTS = ("tanh", "relu", "sigmoid", "linear", "softsign")
LAYER_OF = {"LSTMCell": "LSTM", "GRUCell": "GRU", "SimpleRNNCell": "SimpleRNN"}
OK = (ValueError, TypeError)
JUNK = st.sampled_from([None, -1, 0, 1.5, float("nan"), True, "x", "", (), [3], {"a": 1}, object(), b"1"])


@st.composite
def cell_specs(draw):
    kind = draw(st.sampled_from(list(LAYER_OF)))
    kw = {"units": draw(st.integers(1, 7)), "activation": draw(st.sampled_from(ACTS))}
    kw["use_bias"] = draw(st.booleans())
    if kind != "SimpleRNNCell":
        kw["recurrent_activation"] = draw(st.sampled_from(["sigmoid", "hard_sigmoid"]))
    if kind == "GRUCell":
        kw["reset_after"] = draw(st.booleans())
    return kind, kw


@st.composite
def rnn_cases(draw):
    cells = draw(st.lists(cell_specs(), min_size=1, max_size=3))
    args = {
        k: draw(st.booleans())
        for k in ("return_sequences", "return_state", "go_backwards", "stateful", "zero_output_for_mask")
    }
    B, T, I = draw(st.integers(1, 5)), draw(st.integers(1, 7)), draw(st.integers(1, 5))
    mask = None
    if draw(st.booleans()):
        mask = np.array(draw(st.lists(st.booleans(), min_size=B * T, max_size=B * T))).reshape(B, T)
    initial = draw(st.sampled_from([None, "flat", "nested"]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return cells, args, (B, T, I), mask, initial, dtype, draw(st.integers(0, 2**32 - 1))


def _make(cells, args) -> RNN:
    made = [getattr(layers, kind)(**kw) for kind, kw in cells]
    return RNN(made if len(made) > 1 else made[0], **args)


def _bound(layer, shape, dtype, rng):
    layer.build(shape[1:])
    specs = layer.weight_specs(layer.build_shape)
    layer.bind(ParameterBuffer([(n, s) for n, s, _ in specs], dtype), "")
    for name, s, _ in specs:
        layer.params[name][...] = rng.uniform(-0.6, 0.6, s)
    return layer


def _run(mod, case, monkeypatch, layer=None):
    cells, args, shape, mask, initial, dtype, seed = case
    monkeypatch.setattr(layers.rnn, "_ops", mod)
    rng = np.random.default_rng(seed)
    layer = _bound(layer or _make(cells, args), shape, dtype, rng)
    units = [kw["units"] for kind, kw in cells for _ in range(2 if kind == "LSTMCell" else 1)]
    states = [rng.standard_normal((shape[0], u)).astype(dtype) for u in units]
    if args["stateful"]:
        layer.states = states
    given_states = None
    if initial == "flat" or (initial and not isinstance(layer, RNN)):  # a layer's: flat
        given_states = states
    elif initial == "nested" and isinstance(layer, RNN):
        given_states, at = [], 0
        for kind, _ in cells:
            n = 2 if kind == "LSTMCell" else 1
            given_states.append(states[at : at + n])
            at += n
    x = rng.standard_normal(shape).astype(dtype)
    out = layer.forward(x, training=True, mask=mask, initial_state=given_states)
    outs = list(out) if args["return_state"] else [out]
    assert [o.shape[1:] for o in outs] == [tuple(s) for s in layer.output_shapes(layer.build_shape)]
    dys = [rng.standard_normal(o.shape).astype(dtype) for o in outs]
    dx = layer.backward(dys if args["return_state"] else dys[0])
    grads = {n: g.copy() for n, g in layer.grads.items()}
    d0 = list(layer.initial_state_grads) if given_states is not None else []
    return outs, dx, grads, d0, layer


@given(case=rnn_cases())
def test_rnn_of_cells_matches_reference(case):
    cells, args, shape, mask, initial, dtype, seed = case
    event(f"{len(cells)} cell(s)")
    with pytest.MonkeyPatch.context() as mp:
        got = _run(lstmcore, case, mp)
        want = _run(reference, case, mp)
        again = _run(lstmcore, case, mp, layer=RNN.from_config(got[4].get_config()))
        if len(cells) == 1:
            kind, kw = cells[0]
            single = _run(lstmcore, case, mp, layer=getattr(layers, LAYER_OF[kind])(**kw, **args))
            for a, b in zip(single[0], got[0], strict=True):
                assert np.array_equal(a, b), "the layer of the cell"

    def close(a, b, name):
        close_to_reference(a, b, dtype, name, scale=20)

    for k, (a, b, c) in enumerate(zip(got[0], want[0], again[0], strict=True)):
        close(a, b, f"output {k}")
        assert np.array_equal(a, c), f"output {k} after the config round trip"
    close(got[1], want[1], "dx")
    for name in want[2]:
        close(got[2][name], want[2][name], "d" + name)
    for k, (a, b) in enumerate(zip(got[3], want[3], strict=True)):
        close(a, b, f"initial state {k}")


@st.composite
def junk_cases(draw):
    cells = draw(st.lists(cell_specs(), min_size=1, max_size=2))
    kind, kw = cells[0]
    key = draw(st.sampled_from([*kw, "dropout", "recurrent_dropout", "seed"]))
    where = draw(st.sampled_from(["cell", "rnn", "initial_state"]))
    if where == "rnn":
        key = draw(st.sampled_from(["return_state", "unroll", "name", "cell"]))
    return cells, where, key, draw(JUNK)


@given(case=junk_cases())
def test_junk_arguments_raise_value_or_type_errors(case):
    cells, where, key, junk = case
    x = np.ones((2, 3, 2))
    try:
        if where == "cell":
            kind, kw = cells[0]
            cells = [(kind, {**kw, key: junk}), *cells[1:]]
            _make(cells, {})(x)
        elif where == "rnn":
            made = [getattr(layers, k)(**kw) for k, kw in cells]
            RNN(junk if key == "cell" else made, **({} if key == "cell" else {key: junk}))(x)
        else:
            _make(cells, {})(x, initial_state=junk)
    except OK:
        return

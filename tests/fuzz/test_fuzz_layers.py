"""Fuzz of the recurrent layers (LSTM, GRU, SimpleRNN; layers/rnn.py): a drawn layer and input run
on the compiled engine and on ``lstmcore.reference`` give the same outputs, states and gradients,
whatever the arguments (units, activations, reset_after, use_bias, return_sequences, return_state,
go_backwards, stateful carried states, dtype, batch and sequence sizes)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import close_to_reference
from hypothesis import given
from hypothesis import strategies as st

import lstmcore
import lstmcore.reference as reference
from lstmcore import layers
from lstmcore.params import ParameterBuffer

pytestmark = pytest.mark.skipif(lstmcore.backend != "compiled", reason="compares the compiled engine")

ACTS = ("tanh", "relu", "sigmoid", "linear")


@st.composite
def layer_cases(draw):
    kind = draw(st.sampled_from(["LSTM", "GRU", "SimpleRNN"]))
    kw = {
        "units": draw(st.integers(1, 9)),
        "activation": draw(st.sampled_from(ACTS)),
        "use_bias": draw(st.booleans()),
        "return_sequences": draw(st.booleans()),
        "return_state": draw(st.booleans()),
        "go_backwards": draw(st.booleans()),
        "stateful": draw(st.booleans()),
    }
    if kind != "SimpleRNN":
        kw["recurrent_activation"] = draw(st.sampled_from(["sigmoid", "hard_sigmoid"]))
    if kind == "GRU":
        kw["reset_after"] = draw(st.booleans())
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 7)), draw(st.integers(1, 6)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return kind, kw, shape, dtype, draw(st.integers(0, 2**32 - 1))


def _run(mod, kind, kw, shape, dtype, seed, monkeypatch):
    monkeypatch.setattr(layers.rnn, "_ops", mod)
    rng = np.random.default_rng(seed)
    layer = getattr(layers, kind)(**kw)
    layer.build(shape[1:])
    specs = layer.weight_specs(layer.build_shape)
    buffer = ParameterBuffer([(n, s) for n, s, _ in specs], dtype)
    layer.bind(buffer, "")
    for name, s, _ in specs:
        layer.params[name][...] = rng.uniform(-0.5, 0.5, s)
    if kw["stateful"]:
        layer.states = tuple(
            rng.standard_normal((shape[0], kw["units"])).astype(dtype) for _ in layer.state_names
        )
    x = rng.standard_normal(shape).astype(dtype)
    out = layer.forward(x, training=True)
    y = out[0] if kw["return_state"] else out
    dx = layer.backward(rng.standard_normal(y.shape).astype(dtype))
    outs = list(out) if kw["return_state"] else [out]
    return outs, dx, {n: g.copy() for n, g in layer.grads.items()}, layer.states


@given(case=layer_cases())
def test_layers_match_reference(case):
    kind, kw, shape, dtype, seed = case
    with pytest.MonkeyPatch.context() as mp:
        got = _run(lstmcore, kind, kw, shape, dtype, seed, mp)
        want = _run(reference, kind, kw, shape, dtype, seed, mp)

    def close(a, b, name):
        close_to_reference(a, b, dtype, name, scale=20)

    for k, (a, b) in enumerate(zip(got[0], want[0], strict=True)):
        close(a, b, f"output {k}")
    close(got[1], want[1], "dx")
    for name in want[2]:
        close(got[2][name], want[2][name], "d" + name)
    if kw["stateful"]:
        for a, b in zip(got[3], want[3], strict=True):
            close(a, b, "carried state")

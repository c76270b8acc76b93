"""Keras's RNN over cells (layers/cells.py, wrappers.RNN): Keras 3's golden outputs and gradients
(make_rnn_cell_golden.py) on both backends and against a live Keras where one is installed, the
same numbers as the layers (RNN(LSTMCell) is LSTM, a stack of cells is a stack of layers), finite
differences, the one-step cell call, masks, states, streaming, Bidirectional, configs and files
(lstmcore's, Keras's .keras both ways, ONNX), and bad arguments.

Departure from Keras: on arrays and symbolic tensors a stack's states come back nested per cell,
as Keras's; a model's outputs and ``forward`` take them flat (a model output is one array).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import make_layer_golden
import make_rnn_cell_golden as golden
import numpy as np
import pytest
from helpers import assert_close, check_grad

import lstmcore
from lstmcore import Model, Sequential, layers, load_model, reference, regularizers
from lstmcore.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    Dense,
    GRUCell,
    Input,
    LSTMCell,
    Masking,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNNCells,
)
from lstmcore.params import ParameterBuffer

DATA = np.load(Path(__file__).resolve().parent / "data" / "keras_rnn_cells.npz")
SPECS = json.loads(DATA["cases"].item().decode())
CASES = list(golden.CASES)
LAYER_OF = {"LSTMCell": LSTM, "GRUCell": GRU, "SimpleRNNCell": SimpleRNN}


@pytest.fixture(params=["compiled", "reference"])
def backend(request, monkeypatch):
    if request.param == "reference":
        monkeypatch.setattr(layers.rnn, "_ops", reference)
        monkeypatch.setattr(layers.cells, "_ops", reference)
    return request.param


def bound(layer, shape, dtype, weights=None, seed=1):
    """``layer`` built for inputs ``shape`` (batch included) on a buffer of its own, with
    ``weights`` (a list, Keras's order) or its initializers' values."""
    layer.build(tuple(shape[1:]))
    specs = layer.weight_specs(layer.build_shape)
    buffer = ParameterBuffer([(n, s) for n, s, _ in specs], np.dtype(dtype))
    layer.bind(buffer, "")
    rng = np.random.default_rng(seed)
    for k, (n, s, init) in enumerate(specs):
        layer.params[n][...] = (
            weights[k] if weights is not None else layer._initial_value(n, s, init, rng, dtype)
        )
    return layer


def make_rnn(spec: dict) -> RNN:
    cells = [getattr(layers, cls)(**kw) for cls, kw in spec["cells"]]
    return RNN(cells if len(cells) > 1 else cells[0], **spec["kwargs"])


def run_case(layer, c: dict, return_state: bool):
    """Forward (training) and backward of a case's arrays: y, states, dx, initial states' grads."""
    s0 = [c[k] for k in sorted(c) if k.startswith("s0/")]
    kw = {"mask": c["mask"]} if "mask" in c else {}
    out = layer.forward(c["x"], training=True, initial_state=s0 or None, **kw)
    y, states = (out[0], list(out[1:])) if return_state else (out, [])
    ds = [c[f"ds/{k}"] for k in range(len(states))]
    dx = layer.backward([c["dy"], *ds] if return_state else c["dy"])
    return y, states, dx, layer.initial_state_grads if s0 else ()


def check_case(name: str, dtype: str, c: dict) -> None:
    spec = SPECS[name]
    weights = [c[f"w/{k}"] for k in range(sum(k.startswith("w/") for k in c))]
    layer = bound(make_rnn(spec), spec["shape"], dtype, weights)
    y, states, dx, ds0 = run_case(layer, c, spec["kwargs"].get("return_state", False))
    assert y.dtype == np.dtype(dtype) and dx.dtype == np.dtype(dtype)
    assert y.shape == (c["x"].shape[0], *layer.output_shape(layer.build_shape))
    assert_close(y, c["y"], dtype, f"{name} y")
    assert len(states) == sum(k.startswith("s/") for k in c)
    for k, s in enumerate(states):
        assert_close(s, c[f"s/{k}"], dtype, f"{name} state {k}")
    assert_close(dx, c["dx"], dtype, f"{name} dx", scale=10)
    for k, (n, _, _) in enumerate(layer.weight_specs(layer.build_shape)):
        assert_close(layer.grads[n], c[f"d/{k}"], dtype, f"{name} d/{n}", scale=10)
    for k, g in enumerate(ds0):
        assert_close(g, c[f"ds0/{k}"], dtype, f"{name} ds0/{k}", scale=10)


# Keras's numbers ------------------------------------------------------------------------------------


def test_golden_file_covers_every_case():
    assert int(DATA["format_version"]) == golden.FORMAT_VERSION
    assert list(SPECS) == CASES
    for name, (cells, kw, shape, mask, initial) in golden.CASES.items():
        assert SPECS[name] == {
            "cells": cells,
            "kwargs": kw,
            "shape": list(shape),
            "mask": mask,
            "initial": initial,
        }
    used = {cls for spec in SPECS.values() for cls, _ in spec["cells"]}
    assert used == set(LAYER_OF)


@pytest.mark.parametrize("dtype", golden.DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_matches_keras_golden(backend, name, dtype):
    check_case(name, dtype, golden.unpack(DATA, name, dtype))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("dtype", golden.DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_matches_keras_live(keras, name, dtype):
    with make_layer_golden.float64_kept() if dtype == "float64" else contextlib.nullcontext():
        c = golden.keras_case(keras, name, dtype)
    check_case(name, dtype, c)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", CASES)
def test_keras_config_makes_the_same_layer(keras, name):
    """lstmcore's RNN from Keras's config: the same arguments, cells and weights' shapes (Keras
    reading lstmcore's is test_keras_files_both_ways)."""
    spec = SPECS[name]
    made = [getattr(keras.layers, cls)(**kw) for cls, kw in spec["cells"]]
    theirs = keras.layers.RNN(made if len(made) > 1 else made[0], **spec["kwargs"])
    theirs.build((None, *spec["shape"][1:]))
    mine = RNN.from_config(theirs.get_config())
    want = make_rnn(spec)
    for key, value in want.get_config().items():
        if key not in ("name", "cell"):
            assert mine.get_config()[key] == value, key
    for got, cell in zip(mine._cells, want._cells, strict=True):
        assert type(got) is type(cell)
        for key, value in cell.get_config().items():
            if key != "name":
                assert got.get_config()[key] == value, key
    bound(mine, spec["shape"], np.float32)
    assert [w.shape for w in mine.weights] == [tuple(w.shape) for w in theirs.weights]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("cls", ["LSTMCell", "GRUCell", "SimpleRNNCell"])
def test_one_step_call_is_keras(keras, rng, cls):
    """``cell(x_t, states)``: Keras's call, its outputs' forms and values."""
    x = rng.standard_normal((3, 4)).astype(np.float32)
    mine = getattr(layers, cls)(5)
    theirs = getattr(keras.layers, cls)(5)
    theirs.build((None, 4))
    h, states = mine(x, mine.get_initial_state(3))
    mine.set_weights(theirs.get_weights())
    s0 = [0.3 * rng.standard_normal((3, 5)).astype(np.float32) for _ in mine.state_names]
    h, states = mine(x, s0)
    kh, kstates = theirs(x, s0)
    assert isinstance(states, list) and len(states) == len(s0)
    assert_close(h, kh.detach().numpy(), np.float32, "h")
    for s, k in zip(states, kstates, strict=True):
        assert_close(s, k.detach().numpy(), np.float32, "state")
    h64, states64 = mine(x.astype(np.float64), [s.astype(np.float64) for s in s0])  # float32 weights
    assert h64.dtype == np.float32 and np.array_equal(h64, h)
    if len(s0) == 1:  # a GRU or simple RNN cell given its state as an array gives one back
        h2, state = mine(x, s0[0])
        assert isinstance(state, np.ndarray) and np.array_equal(state, h2)
    assert mine.state_size == theirs.state_size and mine.output_size == theirs.output_size


# The same numbers as the layers -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "cls, kw",
    [
        ("LSTMCell", {"activation": "relu", "unit_forget_bias": False}),
        ("GRUCell", {"reset_after": False}),
        ("GRUCell", {"recurrent_activation": "hard_sigmoid"}),
        ("SimpleRNNCell", {"activation": "elu"}),
    ],
)
@pytest.mark.parametrize("seq, back", [(False, False), (True, True)])
def test_rnn_of_a_cell_is_its_layer_bit_for_bit(rng, dtype, cls, kw, seq, back):
    x = rng.standard_normal((4, 6, 3)).astype(dtype)
    mask = np.ones((4, 6), bool)
    mask[0, :2] = mask[2, 4:] = False
    args = {"return_sequences": seq, "go_backwards": back, "return_state": True}
    rnn = bound(RNN(getattr(layers, cls)(5, **kw), **args), x.shape, dtype)
    layer = bound(LAYER_OF[cls](5, **kw, **args), x.shape, dtype, rnn.get_weights())
    a, b = rnn.forward(x, training=True, mask=mask), layer.forward(x, training=True, mask=mask)
    for u, v in zip(a, b, strict=True):
        assert np.array_equal(u, v)
    dy = [rng.standard_normal(u.shape).astype(dtype) for u in a]
    assert np.array_equal(rnn.backward(dy), layer.backward(dy))
    for n, g in zip(layer.grads, rnn.grads.values(), strict=True):
        assert np.array_equal(g, layer.grads[n])


def test_a_stack_of_cells_is_a_stack_of_layers(rng):
    """RNN([LSTMCell, GRUCell, SimpleRNNCell]) computes the layers' stack, each returning its
    sequence to the next, with the same weights."""
    x = rng.standard_normal((3, 7, 2))
    rnn = bound(RNN([LSTMCell(4), GRUCell(3), SimpleRNNCell(5)]), x.shape, np.float64)
    w = rnn.get_weights()
    model = Sequential(
        [Input((7, 2)), LSTM(4, return_sequences=True), GRU(3, return_sequences=True), SimpleRNN(5)],
        dtype="float64",
    )
    model.set_weights(w)
    assert_close(rnn.forward(x), model.predict(x, verbose=0), np.float64, "y")


def _fd_case():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 5, 2))
    mask = np.ones((3, 5), bool)
    mask[0, -2:] = mask[1, 0] = mask[2, 2] = False
    rnn = RNN(
        [LSTMCell(3, recurrent_activation="tanh"), GRUCell(2, reset_after=False), SimpleRNNCell(2)],
        return_sequences=True,
        return_state=True,
        go_backwards=True,
    )
    rnn = bound(rnn, x.shape, np.float64, seed=2)
    for w in rnn.params.values():
        w *= 1.5
    s0 = [0.5 * rng.standard_normal((3, n)) for n in (3, 3, 2, 2)]
    return rng, x, mask, rnn, s0


def test_stack_gradients_by_finite_differences():
    """A masked stack read backwards, with initial states and every state returned: dx, each
    weight's and each initial state's gradient against differences of sum(out * dy)."""
    rng, x, mask, rnn, s0 = _fd_case()
    outs = rnn.forward(x, training=True, mask=mask, initial_state=s0)
    dys = [rng.standard_normal(o.shape) for o in outs]

    def loss():
        return sum(
            float((o * d).sum())
            for o, d in zip(rnn.forward(x, mask=mask, initial_state=s0), dys, strict=True)
        )

    dx = rnn.backward(dys)
    grads = {n: g.copy() for n, g in rnn.grads.items()}
    ds0 = rnn.initial_state_grads
    check_grad(dx, loss, x, "dx")
    for n, w in rnn.params.items():
        check_grad(grads[n], loss, w, n)
    for k, s in enumerate(s0):
        check_grad(ds0[k], loss, s, f"initial state {k}")


def test_dropout_draws_a_mask_per_cell_and_trains(rng):
    """Each cell's dropout and recurrent dropout in training (a model fits); none in predict."""
    set_random_seed_and = lstmcore.set_random_seed
    set_random_seed_and(0)
    x = rng.standard_normal((16, 6, 3)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None]
    model = Sequential(
        [
            Input((6, 3)),
            RNN([LSTMCell(8, dropout=0.2, recurrent_dropout=0.3), GRUCell(4, dropout=0.1)]),
            Dense(1),
        ]
    )
    model.compile("adam", "mse")
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first
    assert np.array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    rnn = model.layers[0]
    a = rnn.forward(x, training=True)
    b = rnn.forward(x, training=True)
    assert not np.array_equal(a, b)


# States, streaming, Bidirectional -------------------------------------------------------------------


def test_initial_state_flat_or_nested_and_states_nested_on_call(rng):
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    rnn = RNN([LSTMCell(3), GRUCell(2)], return_state=True)
    out, s1, s2 = rnn(x)
    assert isinstance(s1, list) and len(s1) == 2 and isinstance(s2, list) and len(s2) == 1
    h = [np.full((2, n), 0.1 * k, np.float32) for k, n in enumerate((3, 3, 2))]
    flat = rnn(x, initial_state=h)
    for nested in ([h[:2], h[2:]], [h[:2], h[2]], (tuple(h[:2]), h[2])):
        again = rnn(x, initial_state=nested)
        assert np.array_equal(again[0], flat[0])
    assert not np.array_equal(flat[0], out)
    single = RNN(LSTMCell(3), return_state=True)
    out, h1, c1 = single(x)  # a single cell's states flat, as Keras
    assert h1.shape == c1.shape == (2, 3)


def test_functional_model_with_stacked_states(rng, tmp_path):
    enc, dec = Input((None, 3)), Input((None, 3))
    _, s1, s2 = RNN([LSTMCell(4), GRUCell(5)], return_state=True)(enc)
    seq = RNN([LSTMCell(4), GRUCell(5)], return_sequences=True)(dec, initial_state=[s1, s2])
    model = Model([enc, dec], Dense(2)(seq))
    model.compile("adam", "mse")
    xe, xd = rng.standard_normal((6, 5, 3)), rng.standard_normal((6, 4, 3))
    y = rng.standard_normal((6, 4, 2))
    model.fit([xe, xd], y, epochs=2, verbose=0)
    p = model.predict([xe, xd], verbose=0)
    model.save(tmp_path / "m.lstmcore")
    assert np.array_equal(load_model(tmp_path / "m.lstmcore").predict([xe, xd], verbose=0), p)


def test_predict_step_and_stateful_stack(rng):
    x = rng.standard_normal((2, 6, 3))
    model = Sequential([Input((6, 3)), RNN([LSTMCell(4), SimpleRNNCell(3)], return_sequences=True)])
    full = model.predict(x, verbose=0)
    model.reset_states()
    steps = np.stack([model.predict_step(x[:, t]) for t in range(6)], axis=1)
    assert_close(steps, full, np.float64, "steps")
    stateful = Sequential(
        [Input((3, 3)), RNN([GRUCell(4), LSTMCell(3)], return_sequences=True, stateful=True)]
    )
    stateful.set_weights(
        Sequential([Input((6, 3)), RNN([GRUCell(4), LSTMCell(3)], return_sequences=True)]).get_weights()
    )
    whole = Sequential([Input((6, 3)), RNN([GRUCell(4), LSTMCell(3)], return_sequences=True)])
    whole.set_weights(stateful.get_weights())
    two = np.concatenate(
        [stateful.predict(x[:, :3], verbose=0), stateful.predict(x[:, 3:], verbose=0)], axis=1
    )
    assert_close(two, whole.predict(x, verbose=0), np.float64, "stateful")
    assert len(stateful.layers[0].states) == 3
    stateful.reset_states()
    assert stateful.layers[0].states is None


@pytest.mark.parametrize("mode", ["concat", "sum", None])
def test_bidirectional_rnn_of_a_cell_is_bidirectional_layer(rng, mode):
    x = rng.standard_normal((3, 5, 2))
    mask = np.ones((3, 5), bool)
    mask[1, -2:] = False
    a = bound(Bidirectional(RNN(GRUCell(4), return_sequences=True), merge_mode=mode), x.shape, np.float64)
    b = bound(
        Bidirectional(GRU(4, return_sequences=True), merge_mode=mode), x.shape, np.float64, a.get_weights()
    )
    ya, yb = a.forward(x, training=True, mask=mask), b.forward(x, training=True, mask=mask)
    dy = [rng.standard_normal(v.shape) for v in ya] if mode is None else rng.standard_normal(ya.shape)
    for u, v in zip(np.atleast_1d(ya) if mode else ya, np.atleast_1d(yb) if mode else yb, strict=True):
        assert np.array_equal(u, v)
    assert np.array_equal(a.backward(dy), b.backward(dy))


def test_regularizers_and_constraints_of_cells_count(rng):
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    rnn = RNN([LSTMCell(3, kernel_regularizer="l2"), GRUCell(2, recurrent_constraint="non_neg")])
    model = Sequential([Input((5, 3)), rnn, Dense(1)])
    model.compile("sgd", "mse")
    k = rnn.params["lstm_cell/kernel"]
    expected = float(regularizers.L2()(k))
    assert rnn.penalty() == pytest.approx(expected)
    model.fit(x, np.ones((4, 1)), epochs=1, verbose=0)
    assert (rnn.params["gru_cell/recurrent_kernel"] >= 0).all()


# Files ------------------------------------------------------------------------------------------------


def _models(dtype="float32"):
    """Models of RNNs of cells, by name: a function that makes one."""

    def seq(layers):
        return lambda: Sequential(layers(), dtype=dtype)

    return {
        "stack": seq(lambda: [Input((5, 3)), RNN([LSTMCell(4), SimpleRNNCell(3), LSTMCell(2)]), Dense(1)]),
        "gru_backwards": seq(
            lambda: [Input((5, 3)), RNN(GRUCell(4), return_sequences=True, go_backwards=True), Dense(1)]
        ),
        "masked_stack_backwards": seq(
            lambda: [
                Input((5, 3)),
                Masking(0.0),
                RNN([GRUCell(4), LSTMCell(3)], return_sequences=True, go_backwards=True),
                Dense(1),
            ]
        ),
        "bidirectional_stack": seq(
            lambda: [
                Input((5, 3)),
                Masking(0.0),
                Bidirectional(RNN([GRUCell(4), LSTMCell(3)], return_sequences=True)),
                Dense(1),
            ]
        ),
        "bidirectional_cell": seq(
            lambda: [Input((5, 3)), Bidirectional(RNN(LSTMCell(3)), merge_mode="sum"), Dense(1)]
        ),
    }


def _padded(rng):
    x = rng.standard_normal((3, 5, 3)).astype(np.float32)
    x[0, :2] = 0
    x[1, -1] = 0
    return x


@pytest.mark.parametrize("kind", list(_models()))
def test_lstmcore_file_round_trip(rng, tmp_path, kind):
    x = _padded(rng)
    model = _models()[kind]()
    model.compile("adam", "mse")
    model.fit(x, np.ones((3, *model.output_shape[1:])), epochs=1, verbose=0)
    p = model.predict(x, verbose=0)
    model.save(tmp_path / "m.lstmcore")
    again = load_model(tmp_path / "m.lstmcore")
    assert np.array_equal(again.predict(x, verbose=0), p)
    assert again.get_config() == model.get_config()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kind", list(_models()))
def test_keras_files_both_ways(keras, rng, tmp_path, kind):
    pytest.importorskip("h5py")
    x = _padded(rng)
    model = _models()[kind]()
    p = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    assert_close(np.asarray(theirs.predict(x, verbose=0)), p, np.float32, "Keras on lstmcore's file")
    theirs.save(tmp_path / "k.keras")
    mine = load_model(tmp_path / "k.keras", compile=False)
    assert_close(mine.predict(x, verbose=0), p, np.float32, "lstmcore on Keras's file")
    assert [type(layer).__name__ for layer in mine.layers] == [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", list(_models()))
def test_onnx_export(rng, tmp_path, kind, dtype):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    x = _padded(rng).astype(dtype)
    model = _models(dtype)[kind]()
    p = model.predict(x, verbose=0)
    model.export(tmp_path / "m.onnx", format="onnx")
    assert_close(load_model(tmp_path / "m.onnx").predict(x, verbose=0), p, dtype, "lstmcore's loader")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    (y,) = session.run(None, {session.get_inputs()[0].name: x})
    assert_close(y, p, dtype, "ONNX Runtime")


def test_onnx_export_of_stacked_states(rng, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    x = rng.standard_normal((3, 5, 3)).astype(np.float32)
    inp = Input((5, 3))
    out, s1, s2 = RNN([LSTMCell(4), GRUCell(3)], return_state=True, go_backwards=True)(inp)
    model = Model(inp, [out, *s1, *s2])
    want = model.predict(x, verbose=0)
    model.export(tmp_path / "m.onnx", format="onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(None, {session.get_inputs()[0].name: x})
    assert len(got) == 4
    for g, w in zip(got, want, strict=True):
        assert_close(g, w, np.float32, "output")


# Bad arguments ----------------------------------------------------------------------------------------


class MyCell:
    state_size = 4


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: RNN(MyCell()), TypeError, "lstmcore has no autodiff"),
        (lambda: RNN(LSTM(3)), TypeError, "got LSTM"),
        (lambda: RNN([LSTMCell(3), Dense(2)]), TypeError, "got Dense"),
        (lambda: RNN([]), TypeError, "non-empty list"),
        (lambda: LSTMCell(3, return_sequences=True), TypeError, "RNN\\(LSTMCell\\(...\\), return_sequences"),
        (lambda: GRUCell(3, go_backwards=True), TypeError, "give go_backwards to the RNN"),
        (lambda: SimpleRNNCell(3, bogus=1), TypeError, "unexpected argument 'bogus'"),
        (lambda: RNN(LSTMCell(3, activity_regularizer="l2")), TypeError, "activity_regularizer"),
        (lambda: Bidirectional(LSTMCell(3)), TypeError, "got LSTMCell"),
        (lambda: StackedRNNCells([GRU(2)]), TypeError, "got GRU"),
    ],
)
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_cells_used_wrongly_are_refused(rng):
    cell = LSTMCell(3)
    RNN(cell)
    with pytest.raises(ValueError, match="not in another RNN"):
        RNN(cell)
    twice = GRUCell(2)
    with pytest.raises(ValueError, match="appears twice"):
        RNN([twice, twice])
    with pytest.raises(TypeError, match="computes one step"):
        Sequential([Input((4, 3)), LSTMCell(3)])
    with pytest.raises(ValueError, match="without dropout"):
        LSTMCell(3, dropout=0.5)(np.ones((2, 4)), None, training=True)
    with pytest.raises(ValueError, match="shape \\(batch, features\\)"):
        GRUCell(3)(np.ones((2, 4, 3)))
    with pytest.raises(TypeError, match="wrap it"):
        LSTMCell(3)(Input((3,)))
    rnn = RNN([LSTMCell(3), GRUCell(2)])
    x = rng.standard_normal((2, 4, 3))
    with pytest.raises(ValueError, match=r"\[h, c\], \[h\] .* 3 arrays; got 2"):
        rnn(x, initial_state=[np.zeros((2, 3)), np.zeros((2, 2))])
    with pytest.raises(ValueError, match="initial state c must have shape \\(2, 3\\)"):
        rnn(x, initial_state=[np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 2))])
    backwards = Sequential([Input((4, 3)), RNN(GRUCell(2), go_backwards=True)])
    with pytest.raises(ValueError, match="go_backwards=True"):
        backwards.predict_step(x[:, 0])

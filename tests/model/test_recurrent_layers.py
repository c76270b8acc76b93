"""The GRU and SimpleRNN layers (and what they share with the LSTM layer, layers/rnn.py): Keras 3's
golden outputs and gradients through the layer on both backends, a whole-model gradient check,
the loss trace against the reference, save/load, streaming, stateful calls and bad arguments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close

import lstmcore
from lstmcore import Sequential, layers, load_model, reference, set_random_seed
from lstmcore.layers import GRU, LSTM, Dense, SimpleRNN

DATA = Path(__file__).resolve().parent.parent / "io" / "data"


def _cases(name):
    data = np.load(DATA / f"{name}.npz")
    return data, [str(c) for c in data["cases"]]


KERAS_GRU, GRU_CASES = _cases("keras_gru")
KERAS_RNN, RNN_CASES = _cases("keras_rnn")


@pytest.fixture(params=["compiled", "reference"])
def backend(request, monkeypatch):
    if request.param == "reference":
        monkeypatch.setattr(layers.rnn, "_ops", reference)
    return request.param


def _golden_layer(data, case, layer):
    """Run a float64 layer on a golden case: h0 through the stateful states, the gradient of
    sum(y * dy) through backward."""
    c = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith(case + "/")}
    x = c["x"]
    layer.build(x.shape[1:])
    specs = layer.weight_specs(layer.build_shape)
    buffer = lstmcore.params.ParameterBuffer([(n, s) for n, s, _ in specs], np.float64)
    layer.bind(buffer, "")
    for name in ("kernel", "recurrent_kernel", "bias"):
        layer.params[name][...] = c[name]
    layer.states = (c["h0"],)
    y, h_n = layer.forward(x, training=True)
    dx = layer.backward(c["dy"])
    return c, y, h_n, dx


def _check_golden(data, case, layer):
    c, y, h_n, dx = _golden_layer(data, case, layer)
    assert_close(y, c["y"], np.float64, "y")
    assert_close(h_n, c["h_n"], np.float64, "h_n")
    assert_close(dx, c["dx"], np.float64, "dx", scale=10)
    for name in ("kernel", "recurrent_kernel", "bias"):
        assert_close(layer.grads[name], c["d" + name], np.float64, "d" + name, scale=10)


@pytest.mark.parametrize("case", GRU_CASES)
def test_gru_layer_matches_keras(backend, case):
    reset_after = bool(KERAS_GRU[f"{case}/reset_after"])
    act, ract = str(KERAS_GRU[f"{case}/activation"]), str(KERAS_GRU[f"{case}/recurrent_activation"])
    layer = GRU(
        KERAS_GRU[f"{case}/h0"].shape[1],
        activation=act,
        recurrent_activation=ract,
        reset_after=reset_after,
        return_sequences=True,
        return_state=True,
        stateful=True,
    )
    _check_golden(KERAS_GRU, case, layer)


@pytest.mark.parametrize("case", RNN_CASES)
def test_simple_rnn_layer_matches_keras(backend, case):
    layer = SimpleRNN(
        KERAS_RNN[f"{case}/h0"].shape[1],
        activation=str(KERAS_RNN[f"{case}/activation"]),
        return_sequences=True,
        return_state=True,
        stateful=True,
    )
    _check_golden(KERAS_RNN, case, layer)


def _model(dtype="float64", seed=0, reset_after=True, **kw):
    set_random_seed(seed)
    return Sequential(
        [
            GRU(5, input_shape=(6, 3), return_sequences=True, reset_after=reset_after, **kw),
            SimpleRNN(4, return_sequences=True, **kw),
            LSTM(3, **kw),
            Dense(2),
        ],
        dtype=dtype,
    )


@pytest.mark.parametrize(
    "kw", [{}, {"go_backwards": True}, {"use_bias": False}], ids=["plain", "backwards", "nobias"]
)
def test_whole_model_gradient_by_finite_differences(rng, kw):
    model = _model(reset_after=kw.get("use_bias", True), **kw)  # without a bias: reset_after=False
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((4, 6, 3)), rng.standard_normal((4, 2))

    def loss():
        return float(model.loss.forward(y, model._forward(x, training=True)))

    out = model._forward(x, training=True)
    dy = model.loss.backward(y, out)
    for layer in reversed(model.layers):
        dy = layer.backward(dy)
    grads = model.buffer.grads.copy()
    params = model.buffer.params
    for k in rng.choice(params.size, 40, replace=False):
        keep = params[k]
        params[k] = keep + 1e-6
        up = loss()
        params[k] = keep - 1e-6
        down = loss()
        params[k] = keep
        assert abs((up - down) / 2e-6 - grads[k]) < 1e-6 * max(1.0, abs(grads[k])), k


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_loss_trace_equals_reference(rng, dtype, monkeypatch):
    x, y = rng.standard_normal((24, 6, 3)).astype(dtype), rng.standard_normal((24, 2)).astype(dtype)

    def trace():
        model = _model(dtype, seed=3, dropout=0.2, recurrent_dropout=0.1)
        model.compile(optimizer="adam", loss="mse")
        return [model.train_on_batch(x[4 * k : 4 * k + 4], y[4 * k : 4 * k + 4]) for k in range(6)]

    compiled = trace()
    monkeypatch.setattr(layers.rnn, "_ops", reference)
    assert_close(compiled, trace(), dtype, "loss trace")


def test_fit_save_load_and_config_round_trip(rng, tmp_path):
    model = _model("float32")
    model.compile(optimizer="adam", loss="mse")
    x, y = rng.standard_normal((16, 6, 3)), rng.standard_normal((16, 2))
    history = model.fit(x, y, epochs=5, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "m.lstmcore")
    again = load_model(tmp_path / "m.lstmcore")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    kinds = [(type(layer).__name__, layer.get_config()) for layer in again.layers]
    assert kinds == [(type(layer).__name__, layer.get_config()) for layer in model.layers]
    assert [w.shape for w in model.get_weights()[:3]] == [(3, 15), (5, 15), (2, 15)]  # Keras's GRU
    assert [w.shape for w in model.get_weights()[3:6]] == [(5, 4), (4, 4), (4,)]


def test_predict_step_equals_predict(rng):
    set_random_seed(1)
    for head in (GRU(4, input_shape=(7, 2)), SimpleRNN(4, input_shape=(7, 2), activation="relu")):
        model = Sequential([head, Dense(1)], dtype="float64")
        x = rng.standard_normal((3, 7, 2))
        for t in range(7):
            out = model.predict_step(x[:, t])
        assert_close(out, model.predict(x), np.float64, "streamed")
        model.reset_states()


def test_stateful_states_and_reset_state(rng):
    set_random_seed(2)
    layer = GRU(3, stateful=True, return_state=True)
    x = rng.standard_normal((2, 8, 4))
    y_whole, h_whole = layer(x)
    layer.reset_state()
    layer(x[:, :5])
    y_end, h_end = layer(x[:, 5:])
    assert_close(h_end, h_whole, np.float32, "h carried over")
    assert len(layer.states) == 1 and layer.states[0].shape == (2, 3)
    layer.reset_state()
    assert layer.states is None


def test_go_backwards_outputs_in_reading_order(rng):
    set_random_seed(3)
    fwd = SimpleRNN(3, return_sequences=True)
    x = rng.standard_normal((2, 5, 4))
    y = fwd(x)
    back = SimpleRNN(3, return_sequences=True, go_backwards=True)
    back(x)
    back.params["kernel"][...] = fwd.params["kernel"]
    back.params["recurrent_kernel"][...] = fwd.params["recurrent_kernel"]
    back.params["bias"][...] = fwd.params["bias"]
    assert_close(back(x[:, ::-1]), y, np.float32, "go_backwards on the reversed input")


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: GRU(4, activation="gelu"), ValueError, "the recurrent cells have"),
        (lambda: GRU(4, recurrent_activation=3), TypeError, "recurrent_activation must be a string"),
        (lambda: SimpleRNN(4, activation="swish"), ValueError, "the recurrent cells have"),
        (lambda: SimpleRNN(0), ValueError, "units must be a positive int"),
        (lambda: GRU(4, dropout=1.0), ValueError, r"dropout must be a float in \[0, 1\)"),
    ],
)
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_wrong_input_rank_names_the_layer():
    with pytest.raises(ValueError, match=r"SimpleRNN expects inputs of shape .* got input_shape \(5,\)"):
        Sequential([SimpleRNN(3, input_shape=(5,))])


def test_keras_arguments_without_effect_are_accepted():
    for cls in (LSTM, GRU, SimpleRNN):
        layer = cls(3, unroll=True, use_cudnn="auto", kernel_regularizer=None, recurrent_constraint=None)
        assert layer.units == 3
    assert GRU(3, batch_input_shape=(None, 5, 2)).input_shape == (5, 2)
    assert LSTM(3, batch_input_shape=[8, 5, 2]).input_shape == (5, 2)
    assert Dense(2, input_dim=4).input_shape == (4,)
    model = Sequential(
        [LSTM(4, batch_input_shape=(None, 6, 3)), Dense(1, activity_regularizer=None, alpha_constraint=None)]
    )
    assert model.output_shape == (None, 1)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: LSTM(3, embeddings_regularizer="l2"), "LSTM has no weight that embeddings_regularizer"),
        (lambda: Dense(3, recurrent_constraint="non_neg"), "Dense has no weight that recurrent_constraint"),
        (lambda: LSTM(3, alpha_regularizer="l2"), "LSTM has no weight that alpha_regularizer"),
        (
            lambda: GRU(3, input_dim=4),
            r"GRU: input_dim is Keras 2's; pass input_shape=\(timesteps, 4\) instead",
        ),
        (
            lambda: SimpleRNN(3, foo=1),
            "SimpleRNN got an unexpected argument 'foo'; it takes activation, .*use_bias",
        ),
        (
            lambda: LSTM(3, time_major=True),
            "LSTM got an unexpected argument 'time_major'; it takes .*unit_forget_bias",
        ),
        (lambda: GRU(3, batch_input_shape=(5,)), "batch_input_shape must be .* got \\(5,\\)"),
        (lambda: LSTM(3, batch_input_shape=(1, 5, 2), input_shape=(5, 2)), "give input_shape or"),
    ],
)
def test_keras_arguments_refused_with_what_to_use(make, match):
    with pytest.raises(TypeError, match=match):
        make()

"""The functional API: Keras programs with several inputs and outputs, shared layers,
return_state/initial_state, merging layers and masks, run with only the imports changed
(``keras_functional_programs.py``) against Keras 3's outputs (``data/keras_functional.npz``), then
the graph rules, gradients against finite differences, saving and the errors."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
from keras_functional_programs import PROGRAMS
from keras_programs import LEARNING_RATE

import lstmcore
from lstmcore import layers as L

DATA = np.load(Path(__file__).resolve().parent / "data" / "keras_functional.npz")
K = types.SimpleNamespace(Input=L.Input, layers=L, ops=lstmcore.ops)


def _case(name):
    prefix = f"{name}/"
    return {k[len(prefix) :]: DATA[k] for k in DATA.files if k.startswith(prefix)}


def _list(c, key):
    return [c[k] for k in sorted(c) if k.startswith(key + "_")]


def _model(name, c=None):
    build, loss, loss_weights, _, _ = PROGRAMS[name]
    inputs, outputs = build(K)
    model = lstmcore.Model(inputs, outputs, dtype="float64")
    model.compile(optimizer=lstmcore.optimizers.SGD(LEARNING_RATE), loss=loss, loss_weights=loss_weights)
    if c is not None:
        model.set_weights(_list(c, "w0"))
    return model


def _one(a):
    return a if len(a) > 1 else a[0]


def test_the_golden_file_covers_the_programs():
    assert sorted(str(n) for n in DATA["cases"]) == sorted(PROGRAMS)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_keras_functional_program_golden(name):
    c = _case(name)
    model = _model(name, c)
    x, y = _one(_list(c, "x")), _one(_list(c, "y"))
    pred = model.predict(x)
    for mine, theirs in zip(pred if isinstance(pred, list) else [pred], _list(c, "pred"), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)
    loss = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(loss, c["loss"], rtol=1e-9)
    np.testing.assert_allclose(model.train_on_batch(x, y), c["train_loss"], rtol=1e-9)
    for k, (mine, theirs) in enumerate(zip(model.get_weights(), _list(c, "w1"), strict=True)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-8, atol=1e-12, err_msg=f"weight {k}")


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_functional_model_fits_saves_and_loads(name, tmp_path):
    c = _case(name)
    model = _model(name, c)
    x, y = _one(_list(c, "x")), _one(_list(c, "y"))
    history = model.fit(x, y, epochs=2, batch_size=3, verbose=0)
    assert len(history.history["loss"]) == 2
    path = tmp_path / "m.lstmcore"
    model.save(path)
    again = lstmcore.load_model(path)
    assert isinstance(again, lstmcore.Model)
    a, b = model.predict(x), again.predict(x)
    for p, q in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b], strict=True):
        np.testing.assert_array_equal(p, q)
    # the optimizer state came back too: one more step is the same step
    np.testing.assert_allclose(again.train_on_batch(x, y), model.train_on_batch(x, y), rtol=1e-12)


@pytest.mark.parametrize("name", ["shared_layer_two_outputs", "bidirectional_encoder_states"])
def test_functional_gradients_match_finite_differences(name):
    c = _case(name)
    model = _model(name, c)
    xs, ys = model._prepare_x(_one(_list(c, "x"))), None
    ys = model._prepare_y(_one(_list(c, "y")), xs.shape[0])

    def loss_value():
        model._weights_changed()
        outs, masks = model._run(xs.arrays, training=False)
        return sum(
            w * f.forward(t, o, sample_weight=model._loss_weight(m, o))
            for o, m, t, f, w in zip(outs, masks, ys.arrays, model._losses, model._loss_weights, strict=True)
        )

    outs, masks = model._run(xs.arrays, training=True)
    d = []
    for o, m, t, f, w in zip(outs, masks, ys.arrays, model._losses, model._loss_weights, strict=True):
        d.append(w * f.backward(t, o, sample_weight=model._loss_weight(m, o)))
    model._backprop(d)
    grads = model.buffer.grads.copy()
    params = model.buffer.params
    eps = 1e-6
    for i in np.random.default_rng(0).choice(params.size, size=40, replace=False):
        saved = params[i]
        params[i] = saved + eps
        up = loss_value()
        params[i] = saved - eps
        down = loss_value()
        params[i] = saved
        np.testing.assert_allclose(grads[i], (up - down) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_seq2seq_inference_models_share_the_trained_layers():
    rng = np.random.default_rng(0)
    enc_in = L.Input(shape=(None, 3))
    encoder = L.LSTM(6, return_state=True)
    _, h, c = encoder(enc_in)
    dec_in = L.Input(shape=(None, 4))
    decoder = L.LSTM(6, return_sequences=True, return_state=True)
    seq, _, _ = decoder(dec_in, initial_state=[h, c])
    dense = L.Dense(4, activation="softmax")
    model = lstmcore.Model([enc_in, dec_in], dense(seq))
    model.compile("rmsprop", "categorical_crossentropy", metrics=["accuracy"])
    x_enc = rng.normal(size=(8, 7, 3)).astype(np.float32)
    x_dec = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(8, 5))]
    model.fit([x_enc, x_dec], x_dec, epochs=2, verbose=0)
    encoder_model = lstmcore.Model(enc_in, [h, c])
    h_in, c_in = L.Input(shape=(6,)), L.Input(shape=(6,))
    seq2, h2, c2 = decoder(dec_in, initial_state=[h_in, c_in])
    decoder_model = lstmcore.Model([dec_in, h_in, c_in], [dense(seq2), h2, c2])
    states = encoder_model.predict(x_enc)
    out = model.predict([x_enc, x_dec])
    # step by step through the decoder model: the same outputs as the whole model
    for t in range(x_dec.shape[1]):
        step, *states = decoder_model.predict([x_dec[:, t : t + 1], *states])
        np.testing.assert_allclose(step[:, 0], out[:, t], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="belong to another model"):
        encoder_model.compile("adam", "mse")
        encoder_model.fit(x_enc, list(states), verbose=0)


def test_graph_errors():
    a, b = L.Input(shape=(4, 2)), L.Input(shape=(4, 2))
    y = L.LSTM(3)(b)
    with pytest.raises(ValueError, match="not among the model's inputs"):
        lstmcore.Model(a, y)
    with pytest.raises(TypeError, match="symbolic tensors"):
        lstmcore.Model(a, np.zeros(3))
    with pytest.raises(TypeError, match="symbolic tensors"):
        L.Concatenate()([a, np.zeros((1, 4, 2))])
    shared = L.Dense(3)
    shared(L.Input(shape=(5,)))
    with pytest.raises(ValueError, match="shared layer"):
        shared(L.Input(shape=(6,)))
    with pytest.raises(ValueError, match="needs the size"):
        L.Dense(2)(L.Input(shape=(None,)))
    with pytest.raises(TypeError, match="several"):
        iter(L.LSTM(2)(a))
    model = lstmcore.Model([a, b], [L.LSTM(3)(a), y])
    model.compile("adam", ["mse", "mae"])
    with pytest.raises(ValueError, match="2 arrays"):
        model.predict(np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match="same number of samples"):
        model.predict([np.zeros((2, 4, 2)), np.zeros((3, 4, 2))])
    with pytest.raises(ValueError, match="one entry per output"):
        model.compile("adam", ["mse"])
    with pytest.raises(ValueError, match="names outputs"):
        model.compile("adam", {"nope": "mse"})


def test_a_free_time_axis_takes_sequences_of_any_length():
    x_in = L.Input(shape=(None, 2))
    model = lstmcore.Model(x_in, L.Dense(1)(L.GRU(4)(x_in)))
    model.compile("adam", "mse")
    for T in (3, 9):
        assert model.predict(np.zeros((2, T, 2), np.float32)).shape == (2, 1)
    seq = lstmcore.Sequential([L.LSTM(4, input_shape=(None, 2)), L.Dense(1)])
    assert seq.predict(np.zeros((3, 5, 2), np.float32)).shape == (3, 1)
    assert seq.predict(np.zeros((3, 8, 2), np.float32)).shape == (3, 1)


def test_input_batch_shape_and_dict_inputs():
    i = L.Input(batch_shape=(8, 5, 2), name="series")
    assert i.shape == (8, 5, 2) and i.input_shape == (5, 2)
    model = lstmcore.Model(i, L.Dense(1)(L.LSTM(3)(i)))
    x = np.random.default_rng(0).normal(size=(8, 5, 2)).astype(np.float32)
    np.testing.assert_array_equal(model.predict({"series": x}), model.predict(x))
    with pytest.raises(ValueError, match="shape or batch_shape"):
        L.Input(shape=(5, 2), batch_shape=(8, 5, 2))


def test_summary_lists_the_connections(capsys):
    c = _case("shared_layer_two_outputs")
    model = _model("shared_layer_two_outputs", c)
    model.summary()
    text = capsys.readouterr().out
    assert "Connected to" in text and "left" in text and "score (Dense)" in text
    assert f"Total params: {sum(w.size for w in model.get_weights()):,}" in text


def test_merging_layers_forward_and_backward():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    dy = rng.normal(size=(2, 3))
    cases = {
        L.Add(): (a + b, [dy, dy]),
        L.Subtract(): (a - b, [dy, -dy]),
        L.Multiply(): (a * b, [dy * b, dy * a]),
        L.Average(): ((a + b) / 2, [dy / 2, dy / 2]),
        L.Maximum(): (np.maximum(a, b), [dy * (a >= b), dy * (b > a)]),
        L.Minimum(): (np.minimum(a, b), [dy * (a <= b), dy * (b < a)]),
    }
    for layer, (want, grads) in cases.items():
        np.testing.assert_allclose(layer([a, b], training=True), want)
        for got, g in zip(layer.backward(dy), grads, strict=True):
            np.testing.assert_allclose(got, g)
    cat = L.Concatenate(axis=1)
    np.testing.assert_array_equal(cat([a, b[:, :2]], training=True), np.concatenate([a, b[:, :2]], axis=1))
    da, db = cat.backward(np.arange(10.0).reshape(2, 5))
    assert da.shape == (2, 3) and db.shape == (2, 2)
    with pytest.raises(ValueError, match="same shape"):
        L.Add()([L.Input(shape=(3,)), L.Input(shape=(4,))])
    with pytest.raises(ValueError, match="2 inputs"):
        L.Subtract()([L.Input(shape=(3,))] * 3)
    masks = [np.array([[True, False]]), None]
    np.testing.assert_array_equal(L.Add().compute_mask(None, masks), [[True, False]])


def test_an_integer_input_feeds_an_embedding():
    ids = L.Input(shape=(5,), dtype="int32")
    model = lstmcore.Model(ids, L.Dense(1)(L.LSTM(3)(L.Embedding(9, 4, mask_zero=True)(ids))))
    assert model.dtype == np.float32 and ids.dtype == np.int32
    assert model.predict(np.array([[1, 2, 0, 0, 3]])).shape == (1, 1)
    again = L.Input.from_config(ids.get_config())
    assert again.dtype == np.int32


class Scale(L.Layer):
    """The custom layer of Layer's docstring."""

    def weight_specs(self, input_shape):
        return [("scale", (input_shape[-1],), "ones")]

    def forward(self, x, training=False):
        if training:
            self._x = x
        return x * self.params["scale"]

    def backward(self, dy):
        self.grads["scale"][...] = (dy * self._x).reshape(-1, dy.shape[-1]).sum(axis=0)
        return dy * self.params["scale"]


def test_a_custom_layer_trains_in_both_apis():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4, 3)).astype(np.float32)
    y = 2.5 * rng.normal(size=(16, 4, 3)).astype(np.float32)
    i = L.Input(shape=(4, 3))
    functional = lstmcore.Model(i, Scale()(L.LSTM(3, return_sequences=True)(i)))
    sequential = lstmcore.Sequential([L.Input(shape=(4, 3)), L.LSTM(3, return_sequences=True), Scale()])
    for model in (functional, sequential):
        model.compile(optimizer=lstmcore.optimizers.SGD(0.5), loss="mse")
        before = model.get_layer("scale").get_weights()[0].copy()
        loss0 = model.evaluate(x, y, verbose=0)
        model.fit(x, y, epochs=5, verbose=0)
        assert not np.array_equal(model.get_layer("scale").get_weights()[0], before)
        assert model.evaluate(x, y, verbose=0) < loss0
    # the custom gradient against finite differences, through the graph
    model = lstmcore.Model(i, Scale()(L.GRU(3, return_sequences=True)(i)), dtype="float64")
    model.compile("sgd", "mse")
    xs, ys = model._prepare_x(x.astype(np.float64)), None
    ys = model._prepare_y(y.astype(np.float64), 16)
    outs, masks = model._run(xs.arrays, training=True)
    model._backprop([model.loss.backward(ys.arrays[0], outs[0])])
    grads = model.buffer.grads.copy()
    eps = 1e-6
    for k in range(model.buffer.size - 3, model.buffer.size):  # the scale weights come last
        saved = model.buffer.params[k]
        model.buffer.params[k] = saved + eps
        up = model.loss.forward(ys.arrays[0], model._run(xs.arrays, training=False)[0][0])
        model.buffer.params[k] = saved - eps
        down = model.loss.forward(ys.arrays[0], model._run(xs.arrays, training=False)[0][0])
        model.buffer.params[k] = saved
        np.testing.assert_allclose(grads[k], (up - down) / (2 * eps), rtol=1e-6)

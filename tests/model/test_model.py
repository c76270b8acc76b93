"""The model API: Keras's example, the loss trace against the reference backend, a whole-model
gradient check, save/load, streaming and stateful equivalence, callbacks, and bad input."""

from __future__ import annotations

import io
import os
import sys

import numpy as np
import pytest
from helpers import assert_close

import lstmcore
from lstmcore import Sequential, callbacks, layers, load_model, reference, set_random_seed
from lstmcore.layers import LSTM, Dense, Dropout, Input


def keras_example_data():
    # The split_sequence example of the Keras tutorials: windows of 3 over 10, 20, ..., 90.
    raw = np.arange(10, 100, 10)
    X = np.array([raw[i : i + 3] for i in range(6)]).reshape(6, 3, 1)
    y = raw[3:]
    return X, y


def small_model(dtype="float64", seed=0, **lstm):
    set_random_seed(seed)
    return Sequential(
        [LSTM(6, input_shape=(5, 3), return_sequences=True, **lstm), LSTM(4), Dense(2, activation="tanh")],
        dtype=dtype,
    )


def small_data(rng, n=20, dtype=np.float64):
    return rng.standard_normal((n, 5, 3)).astype(dtype), rng.standard_normal((n, 2)).astype(dtype)


# The Keras example -----------------------------------------------------------------------------------


def test_keras_example_learns():
    X, y = keras_example_data()
    set_random_seed(1)
    model = Sequential([LSTM(50, activation="relu", input_shape=(3, 1)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(X, y, epochs=200, verbose=0)
    loss = history.history["loss"]
    assert len(loss) == 200
    assert loss[-1] <= loss[0] / 10, (loss[0], loss[-1])
    pred = model.predict(X)
    assert pred.shape == (6, 1) and pred.dtype == np.float32
    assert np.abs(pred[:, 0] - y).max() < 5.0
    assert model.predict(np.array([70, 80, 90]).reshape(1, 3, 1)).shape == (1, 1)


def test_keras_shapes_order_and_param_count():
    set_random_seed(0)
    model = Sequential([LSTM(50, activation="relu", input_shape=(3, 1)), Dense(1)])
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(1, 200), (50, 200), (200,), (50, 1), (1,)]
    assert model.count_params() == 10400 + 51  # Keras's summary says the same
    bias = model.get_weights()[2]
    assert (
        (bias[50:100] == 1).all() and (bias[:50] == 0).all() and (bias[100:] == 0).all()
    )  # unit_forget_bias
    rk = model.get_weights()[1].astype(np.float64)  # orthogonal: rows orthonormal
    assert_close(rk @ rk.T, np.eye(50), np.float32, "orthogonal")
    out = io.StringIO()
    model.summary(print_fn=lambda s: out.write(s + "\n"))
    assert (
        "lstm (LSTM)" in out.getvalue()
        and "10,400" in out.getvalue()
        and "Total params: 10,451" in out.getvalue()
    )


# Numerics against the reference backend --------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ten_step_loss_trace_equals_reference(rng, dtype, monkeypatch):
    X, Y = small_data(rng, 40)

    def trace():
        model = small_model(dtype, seed=3)
        model.compile(optimizer="adam", loss="mse")
        return [model.train_on_batch(X[4 * k : 4 * k + 4], Y[4 * k : 4 * k + 4]) for k in range(10)], model

    compiled, m1 = trace()
    monkeypatch.setattr(layers.rnn, "_ops", reference)
    ref, m2 = trace()
    assert_close(compiled, ref, dtype, "loss trace")
    for a, b in zip(m1.get_weights(), m2.get_weights(), strict=True):
        assert_close(a, b, dtype, "weights after 10 steps", scale=10)
    assert compiled[-1] < compiled[0]


def _loss_and_grads(model, x, y):
    out = model._forward(x, training=True)
    loss = model.loss.forward(y, out)
    dy = model.loss.backward(y, out)
    for layer in reversed(model.layers):
        dy = layer.backward(dy)
    return loss, model.buffer.grads.copy(), dy


def _reseed_layers(model):
    for layer in model.layers:
        if hasattr(layer, "_rng"):
            layer._rng = np.random.default_rng(7)


@pytest.mark.parametrize(
    "case",
    ["mse", "huber", "cce_softmax", "bce_sigmoid", "sparse_softmax", "dropouts", "go_backwards", "relu_hard"],
)
def test_whole_model_gradient_check(rng, case):
    set_random_seed(0)
    lstm_kw, head, loss = {}, Dense(2, activation="tanh"), "mse"
    y = rng.standard_normal((4, 2))
    if case == "huber":
        loss = "huber"
        y *= 3
    elif case == "cce_softmax":
        head, loss = Dense(3, activation="softmax"), "categorical_crossentropy"
        y = np.eye(3)[rng.integers(0, 3, 4)]
    elif case == "bce_sigmoid":
        head, loss = Dense(2, activation="sigmoid"), "binary_crossentropy"
        y = rng.integers(0, 2, (4, 2)).astype(float)
    elif case == "sparse_softmax":
        head, loss = Dense(3, activation="softmax"), "sparse_categorical_crossentropy"
        y = rng.integers(0, 3, 4)
    elif case == "dropouts":
        lstm_kw = {"dropout": 0.3, "recurrent_dropout": 0.4}
    elif case == "go_backwards":
        lstm_kw = {"go_backwards": True}
    elif case == "relu_hard":
        lstm_kw = {"activation": "relu", "recurrent_activation": "hard_sigmoid"}
    model = Sequential(
        [
            LSTM(5, input_shape=(4, 3), return_sequences=True, **lstm_kw),
            Dropout(0.2 if case == "dropouts" else 0),
            LSTM(3, **lstm_kw),
            head,
        ],
        dtype="float64",
    )
    model.compile(optimizer="sgd", loss=loss)
    x = rng.standard_normal((4, 4, 3))
    y = model._prepare_y(y, 4)
    _reseed_layers(model)
    _, grads, dx = _loss_and_grads(model, x, y)
    params = model.buffer.params
    eps = 1e-6
    num = np.empty_like(params)
    for k in range(params.size):
        old = params[k]
        params[k] = old + eps
        _reseed_layers(model)
        lp = model.loss.forward(y, model._forward(x, training=True))
        params[k] = old - eps
        _reseed_layers(model)
        lm = model.loss.forward(y, model._forward(x, training=True))
        params[k] = old
        num[k] = (lp - lm) / (2 * eps)
    err = np.abs(grads - num).max() / max(1.0, np.abs(num).max())
    assert err < 1e-6, f"{case}: max relative gradient error {err:.2e}"
    # and the gradient with respect to the inputs
    num_dx = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        _reseed_layers(model)
        lp = model.loss.forward(y, model._forward(x, training=True))
        x[idx] = old - eps
        _reseed_layers(model)
        lm = model.loss.forward(y, model._forward(x, training=True))
        x[idx] = old
        num_dx[idx] = (lp - lm) / (2 * eps)
    assert np.abs(dx - num_dx).max() < 1e-6 * max(1.0, np.abs(num_dx).max())


def test_reproducible_for_a_seed(rng):
    X, Y = small_data(rng)

    def run():
        model = small_model("float32", seed=11, dropout=0.2)
        model.compile(optimizer="adam", loss="mse")
        h = model.fit(X, Y, epochs=3, batch_size=8, verbose=0)
        return h.history["loss"], model.get_weights()

    (l1, w1), (l2, w2) = run(), run()
    assert l1 == l2
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2, strict=True))


# Save and load ---------------------------------------------------------------------------------------


def test_save_load_round_trip_is_exact(rng, tmp_path):
    X, Y = small_data(rng, dtype=np.float32)
    model = small_model("float32", seed=5)
    model.compile(optimizer="adam", loss="huber", metrics=["mae"])
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "m.lstmcore"
    model.save(path)
    assert os.listdir(tmp_path) == ["m.lstmcore"]  # the temporary file was renamed, not left behind
    loaded = load_model(path)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in model.get_weights()]
    assert loaded.get_config() == model.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations
    # the optimizer state came along: one more identical epoch gives identical weights
    set_random_seed(9)
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    set_random_seed(9)
    loaded.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        assert np.array_equal(a, b)
    weights_path = tmp_path / "w.lstmcore"
    model.save_weights(weights_path)
    other = small_model("float32", seed=99)
    other.load_weights(weights_path)
    assert np.array_equal(other.predict(X), model.predict(X))


def test_corrupted_truncated_and_foreign_files_are_refused(rng, tmp_path):
    model = small_model("float32")
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / "m.lstmcore"
    model.save(path)
    data = path.read_bytes()
    cases = {
        "truncated": data[: len(data) // 2],
        "flipped": data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1 :],
        "text": b"hello, this is not a model\n",
        "empty": b"",
    }
    for name, blob in cases.items():
        bad = tmp_path / f"{name}.lstmcore"
        bad.write_bytes(blob)
        with pytest.raises(ValueError, match="not a readable lstmcore model file"):
            load_model(bad)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.arange(3))
    with pytest.raises(ValueError, match="no lstmcore format header"):
        load_model(foreign)
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a readable lstmcore model file"):
        load_model(pickled)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.lstmcore")


def test_save_needs_a_built_model_and_an_existing_folder(tmp_path):
    with pytest.raises(ValueError, match="no weights yet"):
        Sequential([LSTM(3), Dense(1)]).save(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        small_model().save(tmp_path / "nowhere" / "m")


# Streaming and stateful ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_step_equals_whole_sequence(rng, dtype):
    model = small_model(dtype)
    x = rng.standard_normal((3, 5, 3)).astype(dtype)
    for t in range(5):
        step = model.predict_step(x[:, t])
        assert_close(
            step, model.predict(x[:, : t + 1]) if t == 4 else _prefix_predict(model, x, t), dtype, "step"
        )
    model.reset_states()
    assert_close(model.predict_step(x[:, 0]), _prefix_predict(model, x, 0), dtype, "after reset")
    model.reset_states()
    single = [model.predict_step(x[0, t]) for t in range(5)]  # 1-D steps give 1-D outputs
    assert single[-1].shape == (2,)
    assert_close(single[-1], model.predict(x[:1])[0], dtype, "1-D step")


def test_predict_step_follows_weight_changes(rng):
    model = small_model("float64")
    x = rng.standard_normal((3, 5, 3))
    model.predict_step(x[:, 0])  # packs the weights
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, rng.standard_normal((3, 2)), epochs=1, verbose=0)  # changes them
    model.reset_states()
    steps = [model.predict_step(x[:, t]) for t in range(5)]
    assert_close(steps[-1], model.predict(x), np.float64, "after fit")
    # set_weights in mid-stream: the carried state stays, the new weights act from the next step.
    model.reset_states()
    model.predict_step(x[:, 0])
    lstms = [layer for layer in model.layers if isinstance(layer, LSTM)]
    before = [layer.states for layer in lstms]
    other = small_model("float64", seed=5)
    model.set_weights(other.get_weights())
    for layer, (h, c) in zip(lstms, before, strict=True):
        assert np.array_equal(layer.states[0], h) and np.array_equal(layer.states[1], c)
    for layer, state in zip((la for la in other.layers if isinstance(la, LSTM)), before, strict=True):
        layer.states = state
    assert_close(model.predict_step(x[:, 1]), other.predict_step(x[:, 1]), np.float64, "new weights")


def test_predict_step_and_stateful_calls_share_the_state(rng):
    x = rng.standard_normal((3, 3, 2))
    set_random_seed(1)
    stateful = Sequential(
        [LSTM(4, input_shape=(2, 2), stateful=True, return_sequences=True)], dtype="float64"
    )
    whole = Sequential([LSTM(4, input_shape=(3, 2), return_sequences=True)], dtype="float64")
    whole.set_weights(stateful.get_weights())
    stateful.predict_step(x[:, 0])
    assert_close(stateful.predict(x[:, 1:]), whole.predict(x)[:, 1:], np.float64, "step then predict")
    assert_close(stateful.predict_step(x[:, 0]), _one_more(whole, x), np.float64, "predict then step")


def _one_more(whole, x):
    longer = Sequential([LSTM(4, input_shape=(4, 2), return_sequences=True)], dtype="float64")
    longer.set_weights(whole.get_weights())
    return longer.predict(np.concatenate([x, x[:, :1]], axis=1))[:, 3]


def _prefix_predict(model, x, t):
    # The same stack on the first t + 1 steps: a fresh model with the same weights.
    fresh = Sequential(
        [LSTM(6, input_shape=(t + 1, 3), return_sequences=True), LSTM(4), Dense(2, activation="tanh")],
        dtype=model.dtype,
    )
    fresh.set_weights(model.get_weights())
    return fresh.predict(x[:, : t + 1])


def test_stateful_carries_state_between_calls(rng):
    set_random_seed(0)
    whole = Sequential([LSTM(4, input_shape=(6, 2), return_sequences=True), Dense(1)], dtype="float64")
    halves = Sequential(
        [LSTM(4, input_shape=(3, 2), return_sequences=True, stateful=True), Dense(1)], dtype="float64"
    )
    halves.set_weights(whole.get_weights())
    x = rng.standard_normal((2, 6, 2))
    y = np.concatenate([halves.predict(x[:, :3]), halves.predict(x[:, 3:])], axis=1)
    assert_close(y, whole.predict(x), np.float64, "stateful halves")
    halves.reset_states()
    assert_close(halves.predict(x[:, :3]), whole.predict(x)[:, :3], np.float64, "after reset")
    with pytest.raises(ValueError, match="same batch size"):
        halves.predict(x[:1, :3])


def test_go_backwards_reads_the_sequence_reversed(rng):
    set_random_seed(0)
    back = Sequential([LSTM(4, input_shape=(5, 2), go_backwards=True)], dtype="float64")
    fwd = Sequential([LSTM(4, input_shape=(5, 2))], dtype="float64")
    fwd.set_weights(back.get_weights())
    x = rng.standard_normal((3, 5, 2))
    assert_close(back.predict(x), fwd.predict(x[:, ::-1]), np.float64, "go_backwards")
    with pytest.raises(ValueError, match="go_backwards"):
        back.predict_step(x[:, 0])


def test_layer_called_alone_and_return_state(rng):
    layer = LSTM(3, return_sequences=True, return_state=True)
    x = rng.standard_normal((2, 4, 5))
    y, h, c = layer(x)
    ref_y, ref_h, ref_c = reference.lstm_forward(x, *layer.weights)
    assert_close(y, ref_y, np.float64, "y")
    assert_close(h, ref_h, np.float64, "h")
    assert_close(c, ref_c, np.float64, "c")
    with pytest.raises(ValueError, match="return_state"):
        Sequential([LSTM(3, return_state=True)])


def test_dropout_only_in_training(rng):
    set_random_seed(0)
    model = Sequential(
        [
            Input((4, 2)),
            LSTM(8, dropout=0.5, recurrent_dropout=0.5, return_sequences=True),
            Dropout(0.5),
            Dense(1),
        ],
        dtype="float64",
    )
    x = rng.standard_normal((3, 4, 2))
    assert np.array_equal(model.predict(x), model.predict(x))
    assert not np.allclose(model(x, training=True), model.predict(x))


def test_frozen_layer_keeps_its_weights(rng):
    X, Y = small_data(rng, 40, np.float32)
    model = small_model("float32")
    model.layers[0].trainable = False
    before = [w.copy() for w in model.layers[0].weights]
    second_before = [w.copy() for w in model.layers[1].weights]
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.layers[0].weights, strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(second_before, model.layers[1].weights, strict=True))
    lines = []
    model.summary(print_fn=lines.append)
    frozen = model.layers[0].count_params()
    assert f"Non-trainable params: {frozen:,}" in lines
    assert f"Trainable params: {model.count_params() - frozen:,}" in lines


# fit, evaluate, callbacks ----------------------------------------------------------------------------


def test_fit_validation_metrics_and_evaluate(rng):
    X, Y = small_data(rng, 50, np.float32)
    model = small_model("float32")
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae", "mse"])
    h = model.fit(X, Y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
    assert set(h.history) == {"loss", "mae", "mse", "val_loss", "val_mae", "val_mse"}
    assert h.epoch == [0, 1, 2]
    loss, mae, mse = model.evaluate(X[40:], Y[40:], verbose=0)
    assert loss == pytest.approx(h.history["val_loss"][-1], rel=1e-5)
    assert mse == pytest.approx(loss, rel=1e-5)
    pred = model.predict(X[40:])
    assert mae == pytest.approx(float(np.abs(pred - Y[40:]).mean()), rel=1e-5)
    assert model.predict(X, batch_size=7).shape == (50, 2)
    assert np.allclose(model.predict(X, batch_size=7), model.predict(X, batch_size=64), rtol=1e-5, atol=1e-6)
    d = model.evaluate(X, Y, verbose=0, return_dict=True)
    assert set(d) == {"loss", "mae", "mse"}


def test_classification_with_accuracy(rng):
    set_random_seed(2)
    n = 120
    x = rng.standard_normal((n, 6, 2)).astype(np.float32)
    labels = (x[:, :, 0].sum(axis=1) > 0).astype(int)  # the sign of the running sum
    model = Sequential([LSTM(8, input_shape=(6, 2)), Dense(2, activation="softmax")])
    model.compile(
        optimizer=lstmcore.optimizers.Adam(learning_rate=0.02),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    h = model.fit(x, labels, epochs=40, batch_size=16, verbose=0)
    assert h.history["accuracy"][-1] > 0.9
    assert h.history["loss"][-1] < h.history["loss"][0] / 3


def test_early_stopping_restores_best_weights(rng):
    X, Y = small_data(rng, 40)
    model = small_model()
    model.compile(optimizer=lstmcore.optimizers.SGD(learning_rate=0.5), loss="mse")
    snapshots = []

    class Snap(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(model.get_weights())

    stop = callbacks.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    h = model.fit(X, Y, epochs=50, batch_size=40, verbose=0, callbacks=[Snap(), stop])
    losses = h.history["loss"]
    if len(losses) < 50:
        best = int(np.argmin(losses))
        assert len(losses) == best + 3  # stopped `patience` epochs after the best
        for a, b in zip(model.get_weights(), snapshots[best], strict=True):
            assert np.array_equal(a, b)


def test_early_stopping_stops_when_nothing_improves(rng):
    X, Y = small_data(rng, 16)
    model = small_model()
    model.compile(optimizer=lstmcore.optimizers.SGD(learning_rate=1e-12), loss="mse")
    stop = callbacks.EarlyStopping(monitor="loss", min_delta=1.0, patience=3)
    h = model.fit(X, Y, epochs=30, verbose=0, callbacks=[stop])
    assert len(h.history["loss"]) == 4 and stop.stopped_epoch == 3


def test_reduce_lr_on_plateau_and_checkpoint(rng, tmp_path):
    X, Y = small_data(rng, 16)
    model = small_model()
    model.compile(optimizer=lstmcore.optimizers.SGD(learning_rate=1e-12), loss="mse")
    reduce = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=1.0)
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "e{epoch:02d}-{loss:.3f}.lstmcore"), monitor="loss")
    h = model.fit(X, Y, epochs=6, verbose=0, callbacks=[reduce, ckpt])
    assert h.history["learning_rate"] == pytest.approx([1e-12, 5e-13, 5e-13, 2.5e-13, 2.5e-13, 1.25e-13])
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 6 and files[0].startswith("e01-")
    assert np.array_equal(load_model(tmp_path / files[-1]).predict(X), model.predict(X))


def test_progress_output_with_and_without_tqdm(rng, capsys, monkeypatch):
    X, Y = small_data(rng, 16)
    model = small_model()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # as if tqdm were not installed
    model.fit(X, Y, epochs=2, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 2/2 2/2" in out and "loss: " in out and "mae: " in out
    model.fit(X, Y, epochs=2, batch_size=8, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2")


# Bad input ---------------------------------------------------------------------------------------------


def test_bad_arguments_give_clear_errors(rng):
    X, y = keras_example_data()
    model = Sequential([LSTM(5, input_shape=(3, 1)), Dense(1)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(X, y)
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"shape \(batch, 3, 1\), got \(6, 3\); add the feature axis"):
        model.fit(X[:, :, 0], y)
    with pytest.raises(ValueError, match="one target per sample"):
        model.fit(X, y[:5])
    with pytest.raises(ValueError, match="match the model's output"):
        model.fit(X, np.zeros((6, 2)))
    bad = X.astype(float)
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model.fit(bad, y)
    with pytest.raises(TypeError, match="numeric"):
        model.predict(np.array([["a"]]))
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(X, y, batch_size=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(X, y, validation_split=1.5)
    with pytest.raises(ValueError, match="verbose"):
        model.fit(X, y, verbose=3)
    with pytest.raises(ValueError, match="units"):
        LSTM(0)
    with pytest.raises(TypeError, match="units"):
        LSTM(2.5)
    with pytest.raises(ValueError, match="activation"):
        LSTM(3, activation="gelu")
    with pytest.raises(ValueError, match="dropout"):
        LSTM(3, dropout=1.0)
    with pytest.raises(ValueError, match="initializer"):
        Dense(3, kernel_initializer="magic")
    with pytest.raises(ValueError, match="input_shape of 2 values"):
        Sequential([LSTM(3, input_shape=(4,))])
    with pytest.raises(ValueError, match="needs an input shape"):
        Sequential([LSTM(3)]).build()
    with pytest.raises(TypeError, match="lstmcore layers"):
        Sequential(["dense"])
    with pytest.raises(ValueError, match="unique"):
        Sequential([Dense(1, name="a", input_shape=(2,)), Dense(1, name="a")])
    with pytest.raises(ValueError, match="list of 5 arrays"):
        model.set_weights(model.get_weights()[:2])
    with pytest.raises(ValueError, match="shape"):
        model.set_weights([np.zeros((2, 2))] + model.get_weights()[1:])
    with pytest.raises(ValueError, match=r"shape \(batch, 1\) or \(1,\)"):
        model.predict_step(np.zeros((1, 2)))

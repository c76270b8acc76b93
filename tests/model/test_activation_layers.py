"""The activation layers with arguments (ReLU, LeakyReLU, ELU, Softmax) and the regularization
layers (SpatialDropout1D, GaussianNoise, GaussianDropout, ActivityRegularization) beyond the golden
cases of test_more_layers.py: their noise in training (its shape and moments), the identity in
inference, the penalty in the loss, Keras's other names of layers, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import lstmcore
from lstmcore import layers as L


def _run(layer, x, training):
    layer.build(x.shape[1:], np.random.default_rng(0))
    return layer.forward(x, training=training)


def test_spatial_dropout_drops_whole_channels():
    x = np.ones((64, 7, 5), np.float32)
    layer = L.SpatialDropout1D(0.4, seed=3)
    y = _run(layer, x, True)
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.6)}
    assert (y == y[:, :1, :]).all()  # the same for every step of a (row, channel)
    assert abs((y == 0).mean() - 0.4) < 0.05
    np.testing.assert_array_equal(layer.backward(np.ones_like(y)), y)
    assert _run(L.SpatialDropout1D(0.4), x, False) is x
    with pytest.raises(ValueError, match=r"\(batch, timesteps, channels\)"):
        L.SpatialDropout1D(0.5).build((3,))


def test_gaussian_noise_and_dropout_moments():
    x = np.full((200, 50), 2.0)
    noisy = _run(L.GaussianNoise(0.3, seed=1), x, True)
    assert abs((noisy - x).mean()) < 0.01 and abs((noisy - x).std() - 0.3) < 0.01
    layer = L.GaussianDropout(0.2, seed=1)
    y = _run(layer, x, True)
    assert abs(y.mean() - 2.0) < 0.02 and abs((y / 2).std() - np.sqrt(0.2 / 0.8)) < 0.01
    np.testing.assert_array_equal(layer.backward(np.ones_like(y)), y / 2)
    for layer in (L.GaussianNoise(0.3), L.GaussianDropout(0.2), L.ActivityRegularization(0.1)):
        assert _run(layer, x, False) is x
    with pytest.raises(ValueError, match="rate must be below 1"):
        L.GaussianDropout(1.0)


def test_activity_regularization_adds_its_penalty_to_the_loss():
    model = lstmcore.Sequential([L.Input((3,)), L.ActivityRegularization(l1=0.1, l2=0.2)])
    model.compile("sgd", "mse")
    x = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]], np.float32)
    penalty = (0.1 * np.abs(x).sum() + 0.2 * (x**2).sum()) / len(x)
    assert model.evaluate(x, x, verbose=0) == pytest.approx(penalty, rel=1e-6)
    assert (
        model.layers[0].get_config()["l1"] == 0.1
        and "activity_regularizer" not in model.layers[0].get_config()
    )
    with pytest.raises(TypeError, match="takes l1 and l2"):
        L.ActivityRegularization(activity_regularizer="l2")


@pytest.mark.parametrize(
    "layer, f",
    [
        (L.ReLU(), lambda x: np.maximum(x, 0)),
        (L.ReLU(max_value=6.0), lambda x: np.clip(x, 0, 6)),
        (L.ReLU(negative_slope=0.1, threshold=1.0), lambda x: np.where(x > 1, x, 0.1 * (x - 1))),
        (L.LeakyReLU(), lambda x: np.where(x >= 0, x, 0.3 * x)),
        (L.LeakyReLU(alpha=0.05), lambda x: np.where(x >= 0, x, 0.05 * x)),  # Keras 2's name
        (L.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
        (L.Softmax(axis=1), lambda x: np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)),
    ],
)
def test_values_and_streaming_steps(layer, f):
    x = np.linspace(-8, 8, 60).reshape(3, 4, 5)
    np.testing.assert_allclose(_run(layer, x, False), f(x), rtol=1e-12, atol=1e-15)
    if not isinstance(layer, L.Softmax):
        np.testing.assert_allclose(layer.step(x[:, 0]), f(x[:, 0]), rtol=1e-12)


def test_masked_softmax_gives_masked_entries_nothing():
    scores = np.array([[1.0, 2.0, 3.0, 4.0]])
    mask = np.array([[True, False, True, False]])
    layer = L.Softmax()
    y = _run(layer, scores, True)
    y = layer.forward(scores, training=True, mask=mask)
    np.testing.assert_allclose(y, [[1 / (1 + np.e**2), 0, np.e**2 / (1 + np.e**2), 0]], rtol=1e-12)
    assert (layer.backward(np.ones_like(y))[~mask] == 0).all()
    with pytest.raises(ValueError, match="must broadcast"):
        layer.forward(np.zeros((1, 4, 3)), mask=np.ones((1, 4), bool))  # as Keras: aligned on the last axes


def test_keras_other_names():
    assert L.MaxPool1D is L.MaxPooling1D and L.AvgPool1D is L.AveragePooling1D
    assert L.GlobalAvgPool1D is L.GlobalAveragePooling1D and L.GlobalMaxPool1D is L.GlobalMaxPooling1D
    assert L.Convolution1D is L.Conv1D
    assert L.get_layer_class("MaxPool1D") is L.MaxPooling1D


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: L.ReLU(max_value=-1), ValueError, "max_value must be a finite number >= 0"),
        (lambda: L.ReLU(negative_slope=None), TypeError, "negative_slope must be a number"),
        (lambda: L.ReLU(threshold=-0.5), ValueError, "threshold"),
        (lambda: L.LeakyReLU(negative_slope=-0.1), ValueError, "negative_slope"),
        (lambda: L.ELU(alpha="1"), TypeError, "alpha must be a number"),
        (lambda: L.Softmax(axis=1.5), TypeError, "axis must be an int"),
        (lambda: L.Softmax(axis=3).build((2, 3)), ValueError, "axis 3 does not fit"),
        (lambda: L.GaussianNoise(1.5), ValueError, r"stddev must be a float in \[0, 1\]"),
        (lambda: L.GaussianDropout(-0.1), ValueError, "rate must be a float"),
        (lambda: L.SpatialDropout1D(1.0), ValueError, "rate"),
        (lambda: L.ReLU().forward(np.float64(1.0)), ValueError, "batch axis"),
    ],
)
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_a_model_with_them_trains_saves_and_loads(tmp_path):
    lstmcore.set_random_seed(0)
    model = lstmcore.Sequential(
        [
            L.Input((6,)),
            L.Embedding(20, 8),
            L.SpatialDropout1D(0.2),
            L.LSTM(8, return_sequences=True),
            L.GaussianNoise(0.1),
            L.LeakyReLU(),
            L.GlobalMaxPool1D(),
            L.GaussianDropout(0.1),
            L.Dense(3),
            L.Softmax(),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, (32, 6)).astype(np.float32)
    y = x[:, 0] % 3  # learnable: the first id's class
    history = model.fit(x, y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    for name in ("m.lstmcore", "m.keras"):
        model.save(tmp_path / name)
        np.testing.assert_allclose(
            lstmcore.load_model(tmp_path / name).predict(x), model.predict(x), rtol=1e-6
        )

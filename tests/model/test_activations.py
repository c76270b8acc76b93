"""Keras 3's activations (``lstmcore.activations``) for Dense, Conv1D and Activation: values
against Keras (live, where installed), gradients against finite differences; the recurrent layers'
activations by Keras name, leaky_relu with Keras's slope."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import lstmcore
import lstmcore.reference
from lstmcore import activations
from lstmcore import layers as L

NAMES = [n for n in activations.NAMES]


def _z(shape=(3, 5), seed=0):
    z = np.random.default_rng(seed).uniform(-4, 4, size=shape)
    # away from the kinks at 0, +-0.5, +-1, +-3, 6, where the one-sided slopes differ
    for kink in (0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0):
        close = np.abs(z - kink) < 1e-3
        z[close] += 0.01
    return z


@pytest.mark.parametrize("name", NAMES)
def test_activation_gradient_matches_finite_differences(name):
    forward, backward = activations.get(name)
    z = _z()
    y = forward(z)
    dy = np.random.default_rng(1).normal(size=z.shape)
    g = backward(z, y, dy)
    eps = 1e-6
    num = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[idx] += eps
        down[idx] -= eps
        num[idx] = ((forward(up) - forward(down)) * dy).sum() / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


def test_sparsemax_is_the_projection_onto_the_simplex():
    # Keras 3.15's sparsemax on the torch backend returns rows of zeros for some inputs (rows that
    # must sum to 1), so it is checked against its definition here instead
    z = _z((4, 5))
    y = activations.sparsemax(z)
    np.testing.assert_allclose(y.sum(axis=-1), 1)
    assert (y >= 0).all()
    np.testing.assert_allclose(activations.sparsemax(np.array([[0.0, 0.0, 2.0]])), [[0, 0, 1]])
    np.testing.assert_allclose(activations.sparsemax(np.array([[1.0, 1.2, 0.0]])), [[0.4, 0.6, 0]])


@pytest.mark.parametrize("name", [n for n in NAMES if n != "sparsemax"])
def test_activation_matches_keras(name):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    z = _z().astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = keras.ops.convert_to_numpy(keras.activations.get(name)(z))
    np.testing.assert_allclose(getattr(activations, name)(z), theirs, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("layer", [lambda a: L.Dense(3, activation=a), lambda a: L.Activation(a)])
def test_layers_take_every_name_and_keep_the_dtype(layer):
    for name in NAMES:
        x = _z((2, 4)).astype(np.float32)
        y = layer(name)(x, training=True)
        assert y.dtype == np.float32, name


def test_names_functions_and_refusals():
    assert L.Dense(2, activation=activations.gelu).activation == "gelu"
    assert L.Dense(2, activation="Swish").activation == "silu"
    with pytest.raises(ValueError, match="glu changes the output's width"):
        L.Dense(2, activation="glu")
    with pytest.raises(TypeError, match="its gradient is needed"):
        L.Dense(2, activation=np.tanh)


def test_recurrent_activations_by_keras_name():
    x = np.random.default_rng(0).normal(size=(2, 4, 3))
    layer = L.SimpleRNN(3, activation="leaky_relu")
    y = layer(x)
    ref = lstmcore.reference.rnn_forward(
        x, *(layer.params[n] for n in ("kernel", "recurrent_kernel", "bias")), activation=("leaky_relu", 0.2)
    )[1]
    np.testing.assert_allclose(y, ref, rtol=1e-12)
    lstm = L.LSTM(3, activation="softsign", recurrent_activation="hard_sigmoid")
    assert lstm(x).shape == (2, 3)
    with pytest.raises(ValueError, match="the recurrent cells have"):
        L.LSTM(3, activation="gelu")

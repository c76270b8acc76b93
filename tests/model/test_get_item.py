"""x[...] of symbolic tensors (layers/reshaping.GetItem, Keras 3's GetItem operation): output shapes
against Keras's, the values and gradients against NumPy's indexing, a free time axis, keys Keras
writes in a .keras file, ONNX export, and the keys lstmcore refuses. Models that use it against
Keras 3 are in keras_functional_programs.py (``get_item_last_steps``)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import lstmcore
from lstmcore import layers as L
from lstmcore.layers.reshaping import serialized_key

KEYS = [
    np.s_[:, -1, :],
    np.s_[:, -1],
    np.s_[:, 1:4:2],
    np.s_[..., 0],
    np.s_[:, None],
    np.s_[:, ::-1],
    np.s_[:, -2:, 1],
    np.s_[:, 3:0:-2, ::2],
    np.s_[:, :, None, 1:],
    np.s_[..., 1:, :],
    np.s_[:],
    np.s_[...],
]


@pytest.mark.parametrize("key", KEYS, ids=str)
def test_values_and_gradients_are_numpy_indexing(rng, key):
    x = rng.standard_normal((3, 5, 4))
    inp = L.Input((5, 4))
    out = inp[key]
    assert out.shape == x[key].shape[:0] + (None, *x[key].shape[1:])
    layer = out.node.layer
    y = layer.forward(x, training=True, **out.node.kwargs)
    np.testing.assert_array_equal(y, x[key])
    assert not np.shares_memory(y, x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    want = np.zeros_like(x)
    want[key] = dy
    np.testing.assert_array_equal(dx, want)
    assert np.isclose((y * dy).sum(), (x * dx).sum())  # the adjoint


@pytest.mark.parametrize("key", KEYS, ids=str)
def test_shapes_with_a_free_time_axis(rng, key):
    """Built for (None, 4): the steps an index keeps are known where they do not depend on T."""
    out = L.Input((None, 4))[key]
    m = lstmcore.Model(out.node.inputs[0], out)
    for T in (5, 7):
        x = rng.standard_normal((2, T, 4)).astype(np.float32)
        y = m.predict(x, verbose=0)
        np.testing.assert_array_equal(y, x[key])
        assert all(a in (None, b) for a, b in zip(out.shape[1:], y.shape[1:], strict=True)), (
            out.shape,
            y.shape,
        )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "key",
    [k for k in KEYS if isinstance(k, tuple) and all(getattr(v, "step", 1) in (None, 1, 2) for v in k)],
    ids=str,
)
def test_shapes_and_keys_are_keras(keras, key):
    """Keras's symbolic x[key] gives the same shape, and writes the key as serialized_key does (Keras
    takes tuples only: x[:] and x[...] are left out)."""
    theirs = keras.Input((5, 4))[key]
    mine = L.Input((5, 4))[key]
    assert tuple(theirs.shape) == mine.shape
    keras_key = keras.src.saving.serialization_lib.serialize_keras_object(
        key if isinstance(key, tuple) else (key,)
    )
    assert list(keras_key) == serialized_key(key)


def test_a_model_with_it_trains_saves_and_exports(rng, tmp_path):
    x = rng.standard_normal((16, 6, 3)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    inp = L.Input((None, 3))
    seq = L.LSTM(4, return_sequences=True)(inp)
    out = L.Dense(1)(L.Concatenate()([seq[:, -1, :], seq[:, 0], inp[:, -1, :]]))
    model = lstmcore.Model(inp, out)
    model.compile("adam", "mse")
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    for name in ("m.lstmcore", "m.keras"):
        back = lstmcore.load_model(tmp_path / name) if model.save(tmp_path / name) is None else None
        np.testing.assert_allclose(
            back.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7
        )
    pytest.importorskip("onnx")
    model.export(tmp_path / "m.onnx", format="onnx", verbose=False)
    got = lstmcore.load_model(tmp_path / "m.onnx").predict(x, verbose=0)
    assert_close(got, model.predict(x, verbose=0), np.float32, "ONNX")
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    assert_close(session.run(None, {session.get_inputs()[0].name: x})[0], got, np.float32, "ONNX Runtime")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("key", KEYS, ids=str)
def test_onnx_export(rng, tmp_path, key, dtype):
    pytest.importorskip("onnx")
    inp = L.Input((None, 4))
    model = lstmcore.Model(inp, inp[key], dtype=dtype)
    x = rng.standard_normal((3, 5, 4)).astype(dtype)
    model.export(tmp_path / "m.onnx", format="onnx", verbose=False)
    np.testing.assert_array_equal(lstmcore.load_model(tmp_path / "m.onnx").predict(x, verbose=0), x[key])
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    np.testing.assert_array_equal(session.run(None, {session.get_inputs()[0].name: x})[0], x[key])


@pytest.mark.parametrize(
    "key, exc, fragment",
    [
        (0, ValueError, "batch axis"),
        (np.s_[1:], ValueError, "batch axis"),
        (np.s_[None], ValueError, "batch axis"),
        (np.s_[:, [0, 2]], TypeError, "list"),
        ([0, 1], TypeError, "list of indices"),
        (np.s_[:, 1.0], TypeError, "float"),
        (np.s_[:, True], TypeError, "bool"),
        (np.s_[:, np.array([1, 2])], TypeError, "ndarray"),
        (np.s_[:, 0:2:0], ValueError, "step cannot be 0"),
        (np.s_[:, 0.5:2], TypeError, "ints or None"),
        (np.s_[..., 0, ...], ValueError, "one ..."),
        (np.s_[:, 0, 0, 0], ValueError, "4 axes"),
        (np.s_[:, 5], ValueError, "out of range"),
        (np.s_[:, 3:1], ValueError, "keeps no step"),
        ("a", TypeError, "str"),
    ],
    ids=str,
)
def test_bad_keys(key, exc, fragment):
    with pytest.raises(exc) as info:
        L.Input((5, 4))[key]
    assert fragment in str(info.value), str(info.value)


def test_bad_inputs_at_run_time(rng):
    inp = L.Input((None, 4))
    model = lstmcore.Model(inp, inp[:, 6])
    with pytest.raises(ValueError, match="index 6 is out of bounds"):
        model.predict(rng.standard_normal((2, 5, 4)), verbose=0)
    model = lstmcore.Model(inp, inp[:, 7:])
    with pytest.raises(ValueError, match="keeps no element"):
        model.predict(rng.standard_normal((2, 5, 4)), verbose=0)
    layer = model.layers[-1]
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.zeros((2, 1, 4)))

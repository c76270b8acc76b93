"""lstmcore.ops (layers/operations.py): Keras 3's sum, mean, max, min, expand_dims, squeeze,
transpose, softmax and elementwise ops between layers of a functional model. Eager on arrays as
NumPy; on symbolic tensors shapes as Keras's, values as NumPy's, gradients by finite differences
(max and min split among ties as torch's amax), configs as Keras writes them, ONNX export, and the
arguments refused. A model with them against Keras 3 is in keras_functional_programs.py
(``ops_pooling``)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, check_grad

import lstmcore
from lstmcore import layers as L
from lstmcore import ops

CALLS = [  # (function, arguments): each on (B, 3, 4, 2) inputs
    ("sum", {"axis": 1}),
    ("sum", {"axis": [1, 3], "keepdims": True}),
    ("mean", {"axis": -1}),
    ("mean", {"axis": [2, 1]}),
    ("max", {"axis": 2}),
    ("max", {"axis": [1, 2], "keepdims": True}),
    ("min", {"axis": -2}),
    ("expand_dims", {"axis": 1}),
    ("expand_dims", {"axis": -1}),
    ("squeeze", {"axis": 3}),
    ("squeeze", {}),
    ("transpose", {"axes": [0, 2, 1, 3]}),
    ("transpose", {"axes": (0, -1, 1, 2)}),
    ("softmax", {}),
    ("softmax", {"axis": 1}),
    ("exp", {}),
    ("log", {}),
    ("sqrt", {}),
    ("square", {}),
    ("abs", {}),
    ("tanh", {}),
    ("sigmoid", {}),
    ("relu", {}),
]
SHAPE = (3, 4, 2)


def _x(rng, name, kwargs, B=2):
    shape = (3, 4, 1) if name == "squeeze" else SHAPE
    x = rng.standard_normal((B, *shape))
    return np.abs(x) + 0.5 if name in ("log", "sqrt") else x  # in their domains; away from 0 (abs, relu)


def _numpy(name, x, kwargs):
    axis = kwargs.get("axis")
    axis = tuple(axis) if isinstance(axis, list) else axis
    if name == "transpose":
        return np.transpose(x, kwargs["axes"])
    if name == "softmax":
        e = np.exp(x - x.max(axis=kwargs.get("axis", -1), keepdims=True))
        return e / e.sum(axis=kwargs.get("axis", -1), keepdims=True)
    if name in ("sigmoid", "relu"):
        return 1 / (1 + np.exp(-x)) if name == "sigmoid" else np.maximum(x, 0)
    if name in ("exp", "log", "sqrt", "square", "abs", "tanh"):
        return getattr(np, name)(x)
    if name == "expand_dims":
        return np.expand_dims(x, axis)
    if name == "squeeze":
        return np.squeeze(x, axis=axis) if axis is not None else np.squeeze(x, axis=3)
    return getattr(np, name)(x, axis=axis, keepdims=kwargs.get("keepdims", False))


@pytest.mark.parametrize("name, kwargs", CALLS, ids=str)
def test_eager_values_and_symbolic_ones_are_numpy(rng, name, kwargs):
    x = _x(rng, name, kwargs)
    eager = getattr(ops, name)(x, **kwargs)
    np.testing.assert_allclose(eager, _numpy(name, x, kwargs), rtol=1e-14, atol=1e-15)
    inp = L.Input(x.shape[1:])
    out = getattr(ops, name)(inp, **kwargs)
    model = lstmcore.Model(inp, out, dtype="float64")
    y = model.predict(x, verbose=0)
    np.testing.assert_array_equal(y, eager)
    assert out.shape == (None, *y.shape[1:])


@pytest.mark.parametrize("name, kwargs", CALLS, ids=str)
def test_gradients_by_finite_differences(rng, name, kwargs):
    x = _x(rng, name, kwargs)
    layer = getattr(ops, name)(L.Input(x.shape[1:]), **kwargs).node.layer
    y = layer.forward(x, training=True)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    check_grad(dx, lambda: float((layer.forward(x) * dy).sum()), x, name)


def test_max_and_min_split_their_gradient_among_ties():
    x = np.array([[[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]])  # (1, 2, 3)
    for name, want in (
        ("max", [[[0, 0.5, 0.5], [0.5, 0.5, 0]]]),
        ("min", [[[1, 0, 0], [0, 0, 1]]]),
    ):
        layer = getattr(ops, name)(L.Input((2, 3)), axis=2).node.layer
        layer.forward(x, training=True)
        np.testing.assert_array_equal(layer.backward(np.ones((1, 2))), want)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name, kwargs", CALLS, ids=str)
def test_shapes_and_configs_are_keras(keras, rng, name, kwargs):
    x = _x(rng, name, kwargs)
    theirs = getattr(keras.ops, name)(keras.Input(x.shape[1:]), **kwargs)
    mine = getattr(ops, name)(L.Input(x.shape[1:]), **kwargs)
    assert tuple(theirs.shape) == mine.shape
    op = theirs._keras_history.operation
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in op.get_config().items() if k != "name"}
    assert config == {k: v for k, v in mine.node.layer.op_config().items() if k != "name"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, kwargs", CALLS, ids=str)
def test_onnx_export(rng, tmp_path, name, kwargs, dtype):
    pytest.importorskip("onnx")
    x = _x(rng, name, kwargs).astype(dtype)
    inp = L.Input(x.shape[1:])
    model = lstmcore.Model(inp, getattr(ops, name)(inp, **kwargs), dtype=dtype)
    want = model.predict(x, verbose=0)
    model.export(tmp_path / "m.onnx", format="onnx", verbose=False)
    assert_close(lstmcore.load_model(tmp_path / "m.onnx").predict(x, verbose=0), want, dtype, "lstmcore")
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    assert_close(session.run(None, {session.get_inputs()[0].name: x})[0], want, dtype, "ONNX Runtime")


@pytest.mark.parametrize(
    "name, kwargs, exc, fragment",
    [
        ("sum", {}, ValueError, "axis=None reduces the batch axis"),
        ("sum", {"axis": 0}, ValueError, "batch axis 0"),
        ("mean", {"axis": [1, -3]}, ValueError, "names an axis twice"),
        ("max", {"axis": 4}, ValueError, "out of range"),
        ("min", {"axis": 1.5}, TypeError, "1.5"),
        ("sum", {"axis": []}, ValueError, "at least one axis"),
        ("sum", {"axis": 1, "keepdims": "no"}, TypeError, "'no'"),
        ("max", {"axis": 1, "initial": 0.0}, ValueError, "initial=None only"),
        ("expand_dims", {"axis": [1, 2]}, TypeError, "[1, 2]"),
        ("expand_dims", {"axis": 0}, ValueError, "batch axis 0"),
        ("squeeze", {"axis": 1}, ValueError, "has size 3, not 1"),
        ("transpose", {}, ValueError, "axes=None"),
        ("transpose", {"axes": [1, 0, 2, 3]}, ValueError, "batch axis 0"),
        ("transpose", {"axes": [0, 1, 1, 2]}, ValueError, "not an order"),
        ("transpose", {"axes": "021"}, TypeError, "'021'"),
        ("softmax", {"axis": 0}, ValueError, "batch axis 0"),
    ],
    ids=str,
)
def test_bad_arguments(name, kwargs, exc, fragment):
    with pytest.raises(exc) as info:
        getattr(ops, name)(L.Input(SHAPE), **kwargs)
    assert fragment in str(info.value), str(info.value)


def test_squeeze_of_a_free_axis_checks_at_run_time(rng):
    inp = L.Input((None, 2))
    model = lstmcore.Model(inp, ops.squeeze(inp, axis=1))
    assert model.predict(rng.standard_normal((3, 1, 2)), verbose=0).shape == (3, 2)
    with pytest.raises(ValueError, match="not all of size 1"):
        model.predict(rng.standard_normal((3, 4, 2)), verbose=0)

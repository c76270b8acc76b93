"""Normalization and Rescaling (layers/preprocessing.py) against Keras 3: the golden file of
make_preprocessing_golden.py (always) and a live Keras where one is installed (outputs, adapted
statistics, gradients); adapt on batches; a model adapted before it is built that trains, saves
and loads (lstmcore's files, Keras's .keras both ways, ONNX); bad arguments."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import make_layer_golden
import make_preprocessing_golden as golden
import numpy as np
import pytest
from helpers import assert_close

from lstmcore import Sequential, layers, load_model
from lstmcore.layers import LSTM, Dense, Input, Normalization, Rescaling

DATA = np.load(Path(__file__).resolve().parent / "data" / "keras_preprocessing.npz")
SPECS = json.loads(DATA["cases"].item().decode())
CASES = list(golden.CASES)


def check_case(name: str, dtype: str, c: dict) -> None:
    spec = SPECS[name]
    layer = getattr(layers, spec["class"])(**spec["kwargs"], dtype=dtype)
    if spec["adapt"]:
        layer.adapt(c["data"])
    y = layer(c["x"], training=True)
    dx = layer.backward(c["dy"])
    assert y.dtype == np.dtype(dtype) and dx.dtype == np.dtype(dtype)
    assert_close(y, c["y"], dtype, f"{name} y")
    assert_close(dx, c["dx"], dtype, f"{name} dx")
    for key in c:
        if key.startswith("w/"):
            assert_close(layer.params[key[2:]], c[key], dtype, f"{name} {key}")


def test_golden_file_covers_every_case():
    assert int(DATA["format_version"]) == golden.FORMAT_VERSION
    assert list(SPECS) == CASES


@pytest.mark.parametrize("dtype", golden.DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_matches_keras_golden(name, dtype):
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
def test_config_is_keras(keras, name):
    spec = SPECS[name]
    mine = getattr(layers, spec["class"])(**spec["kwargs"])
    theirs = getattr(keras.layers, spec["class"])(**spec["kwargs"])
    again = getattr(layers, spec["class"]).from_config(theirs.get_config())
    for key, value in mine.get_config().items():
        if key != "name":
            assert again.get_config()[key] == value, key
    back = getattr(keras.layers, spec["class"]).from_config({**mine.get_config(), "name": "x"})
    assert back.get_config()["name"] == "x"


def test_adapt_over_batches_equals_the_whole(rng):
    data = rng.standard_normal((31, 4, 3)) * [1.0, 3.0, 9.0] + [0.0, 1.0, -2.0]
    whole, parts = Normalization(dtype="float64"), Normalization(dtype="float64")
    whole.adapt(data)
    parts.adapt(data[k : k + 8] for k in range(0, 31, 8))  # a generator of batches
    assert_close(parts(data), whole(data), np.float64, "batches")
    steps = Normalization(dtype="float64")
    steps.adapt([data[:10], data[10:]], steps=1)
    first = Normalization(dtype="float64")
    first.adapt(data[:10])
    assert_close(steps(data), first(data), np.float64, "steps")


def _model(dtype="float32"):
    rng = np.random.default_rng(7)
    data = (rng.standard_normal((40, 6, 3)) * [1.0, 5.0, 20.0] + [0.0, 3.0, -10.0]).astype(dtype)
    norm = Normalization()
    norm.adapt(data)  # before the model: the model starts from its statistics
    model = Sequential([Input((6, 3)), norm, LSTM(4), Rescaling(3.0, offset=0.5), Dense(1)], dtype=dtype)
    return model, data


def test_model_adapted_before_build_trains_saves_and_loads(tmp_path):
    model, data = _model()
    mean = model.layers[0].get_weights()[0]
    assert_close(mean, data.mean(axis=(0, 1)).astype(np.float32), np.float32, "mean")
    model.compile("adam", "mse")
    y = data[:, -1, :1]
    first = model.evaluate(data, y, verbose=0)
    model.fit(data, y, epochs=10, verbose=0)
    assert model.evaluate(data, y, verbose=0) < first
    assert np.array_equal(model.layers[0].get_weights()[0], mean)  # not trained
    p = model.predict(data, verbose=0)
    model.save(tmp_path / "m.lstmcore")
    assert np.array_equal(load_model(tmp_path / "m.lstmcore").predict(data, verbose=0), p)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_keras_files_both_ways(keras, tmp_path):
    pytest.importorskip("h5py")
    model, data = _model()
    p = model.predict(data, verbose=0)
    model.save(tmp_path / "m.keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    assert_close(np.asarray(theirs.predict(data, verbose=0)), p, np.float32, "Keras on lstmcore's file")
    theirs.save(tmp_path / "k.keras")
    assert_close(load_model(tmp_path / "k.keras").predict(data, verbose=0), p, np.float32, "back")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_export(tmp_path, dtype):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model, data = _model(dtype)
    inverted = Sequential([Input((6, 3)), Normalization(invert=True, mean=[1.0, 2, 3], variance=[4.0, 1, 9])])
    for m in (model, inverted):
        p = m.predict(data, verbose=0)
        m.export(tmp_path / "m.onnx", format="onnx")
        session = ort.InferenceSession(str(tmp_path / "m.onnx"))
        (got,) = session.run(None, {session.get_inputs()[0].name: data.astype(m.dtype)})
        assert_close(got, p, m.dtype, "ONNX Runtime")


def test_bad_arguments_and_inputs(rng):
    for make, error, match in [
        (lambda: Normalization(mean=1.0), ValueError, "both mean and variance"),
        (lambda: Normalization(mean=[1.0, 2.0], variance=[1.0]), ValueError, "the same shape"),
        (lambda: Normalization(axis="x"), TypeError, "axis must be None, an int"),
        (lambda: Normalization(axis=-1, mean=[[1.0]], variance=[[1.0]]), ValueError, "more axes than"),
        (lambda: Rescaling("x"), TypeError, "scale must be a finite number"),
        (lambda: Rescaling(float("nan")), TypeError, "scale must be a finite number"),
    ]:
        with pytest.raises(error, match=match):
            make()
    x = rng.standard_normal((2, 3))
    assert np.allclose(Normalization()(x), x)  # not adapted: mean 0, variance 1, as Keras
    with pytest.raises(ValueError, match="the batch axis"):
        Normalization(axis=0).adapt(np.ones((2, 3)))
    with pytest.raises(ValueError, match="got no data"):
        Normalization().adapt([])
    norm = Normalization()
    norm.adapt(np.ones((4, 3)))
    norm(np.ones((2, 3)))
    with pytest.raises(ValueError, match="does not fit the layer"):
        norm.adapt(np.ones((4, 5)))
    with pytest.raises(ValueError, match="does not broadcast"):
        Rescaling([1.0, 2.0])(np.ones((2, 3)))

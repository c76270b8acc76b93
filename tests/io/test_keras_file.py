"""``model.save("m.keras")`` writes Keras 3's format: the file's members, config and weight layout
(with h5py), and, where Keras is installed, Keras loads it with the same predictions."""

from __future__ import annotations

import io
import json
import os
import sys
import types
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import lstmcore
from lstmcore import layers as L

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))
from keras_functional_programs import PROGRAMS as FUNCTIONAL  # noqa: E402
from keras_programs import PROGRAMS  # noqa: E402

h5py = pytest.importorskip("h5py")
K = types.SimpleNamespace(Input=L.Input, layers=L, ops=lstmcore.ops)


def _sequential(name):
    build, loss, make_x, _ = PROGRAMS[name]
    model = lstmcore.Sequential(build(L), dtype="float64")
    model.compile("adam", loss)
    model.build()
    return model, make_x(np.random.default_rng(0))


def _functional(name):
    build, loss, loss_weights, make_x, _ = FUNCTIONAL[name]
    inputs, outputs = build(K)
    model = lstmcore.Model(inputs, outputs, dtype="float64")
    model.compile("adam", loss, loss_weights=loss_weights)
    xs = make_x(np.random.default_rng(0))
    return model, xs if len(xs) > 1 else xs[0]


def _members(path):
    with zipfile.ZipFile(path) as z:
        assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        config = json.loads(z.read("config.json"))
        weights = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
    return config, weights


def test_sequential_file_layout(tmp_path):
    model = lstmcore.Sequential(
        [L.Dense(3, input_shape=(4,)), L.Dense(2), L.Dropout(0.1), L.Dense(1)], dtype="float64"
    )
    model.compile("rmsprop", "mse", metrics=["mae"])
    path = tmp_path / "m.keras"
    model.save(path)
    config, weights = _members(path)
    assert config["class_name"] == "Sequential"
    layers = config["config"]["layers"]
    assert [e["class_name"] for e in layers] == ["InputLayer", "Dense", "Dense", "Dropout", "Dense"]
    assert layers[0]["config"]["batch_shape"] == [None, 4]
    assert all("input_shape" not in e["config"] for e in layers)
    assert config["compile_config"]["optimizer"]["class_name"] == "RMSprop"
    # weights by class counter, in the model's order, not by the layers' names
    for key, layer in zip(
        ["dense", "dense_1", "dense_2"], [model.layers[0], model.layers[1], model.layers[3]], strict=True
    ):
        for i, w in enumerate(layer.weights):
            np.testing.assert_array_equal(weights[f"layers/{key}/vars/{i}"], w)


def test_recurrent_wrapper_and_functional_layouts(tmp_path):
    model, _ = _sequential("masking_bilstm_ave_stack")
    path = tmp_path / "s.keras"
    model.save(path)
    _, weights = _members(path)
    bi = model.layers[1]
    np.testing.assert_array_equal(
        weights["layers/bidirectional/forward_layer/cell/vars/1"], bi.forward_layer.weights[1]
    )
    np.testing.assert_array_equal(
        weights["layers/bidirectional_1/backward_layer/cell/vars/2"],
        model.layers[2].backward_layer.weights[2],
    )
    model, _ = _functional("shared_layer_two_outputs")
    model.save(path)
    config, weights = _members(path)
    entries = {e["name"]: e for e in config["config"]["layers"]}
    assert len(entries["gru"]["inbound_nodes"]) == 2  # the shared layer, called twice
    assert config["config"]["output_layers"] == [["score", 0, 0], ["value", 0, 0]]
    np.testing.assert_array_equal(weights["layers/gru/cell/vars/0"], model.get_layer("gru").weights[0])


def test_what_keras_cannot_hold_is_refused(tmp_path):
    class Custom(L.Layer):
        def forward(self, x, training=False):
            return x

    model = lstmcore.Sequential([L.Dense(2, input_shape=(3,)), Custom()])
    model.build()
    with pytest.raises(ValueError, match="m.lstmcore"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()
    with pytest.raises(ValueError, match="HDF5 model files are not written"):
        model.save(tmp_path / "m.h5")


def test_without_h5py_the_error_says_what_to_install(tmp_path, monkeypatch):
    model, _ = _sequential("embedding_lstm_classifier")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match="pip install h5py"):
        model.save(tmp_path / "m.keras")


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def _load(keras, path):
    # Keras warns that the optimizer starts afresh (lstmcore does not write its state) and, inside
    # its own code, about NumPy 2's __array__(copy=); neither is about the file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return keras.saving.load_model(path)


def _predict(model, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.predict(x, verbose=0)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_keras_loads_a_sequential_with_the_same_predictions(name, tmp_path):
    keras = _keras()
    model, x = _sequential(name)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = _load(keras, path)
    np.testing.assert_allclose(_predict(loaded, x), model.predict(x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_keras_loads_a_functional_model_with_the_same_predictions(name, tmp_path):
    keras = _keras()
    model, x = _functional(name)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = _load(keras, path)
    theirs, mine = _predict(loaded, x), model.predict(x)
    for a, b in zip(
        theirs if isinstance(theirs, list) else [theirs],
        mine if isinstance(mine, list) else [mine],
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# Reading -------------------------------------------------------------------------------------------

DATA = Path(__file__).resolve().parents[1] / "model" / "data"
SAVED = np.load(DATA / "keras_saved.npz")


@pytest.mark.parametrize("name", [str(n) for n in SAVED["cases"]])
def test_load_model_reads_a_file_keras_saved(name):
    model = lstmcore.load_model(DATA / f"{name}.keras")
    xs = [SAVED[k] for k in sorted(SAVED.files) if k.startswith(f"{name}/x_")]
    want = [SAVED[k] for k in sorted(SAVED.files) if k.startswith(f"{name}/pred_")]
    got = model.predict(xs if len(xs) > 1 else xs[0])
    for a, b in zip(got if isinstance(got, list) else [got], want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert model.compiled and model.dtype == np.float64


@pytest.mark.parametrize("name", sorted(PROGRAMS)[:3] + sorted(FUNCTIONAL)[:2])
def test_keras_files_round_trip_through_lstmcore(name, tmp_path):
    model, x = _sequential(name) if name in PROGRAMS else _functional(name)
    path = tmp_path / "m.keras"
    model.save(path)
    again = lstmcore.load_model(path)
    a, b = model.predict(x), again.predict(x)
    for p, q in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b], strict=True):
        np.testing.assert_array_equal(p, q)


def _rewrite(src, dst, edit):
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)


def test_a_layer_or_argument_lstmcore_lacks_is_refused_by_name(tmp_path):
    src = DATA / "masking_bilstm_ave_stack.keras"

    def lambda_layer(c):
        c["config"]["layers"][1] = {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "f"}}

    def regularized(c):  # a user's regularizer, not registered here
        c["config"]["layers"][4]["config"]["kernel_regularizer"] = {
            "class_name": "Smoothness",
            "config": {"factor": 0.01},
        }

    def wider(c):
        c["config"]["layers"][4]["config"]["units"] = 2

    for edit, match in [
        (lambda_layer, "'Lambda' has no lstmcore equivalent"),
        (regularized, "kernel_regularizer: unknown regularizer 'Smoothness'"),
        (wider, "has shape"),
    ]:
        path = tmp_path / "bad.keras"
        _rewrite(src, path, edit)
        with pytest.raises((ValueError, TypeError), match=match):
            lstmcore.load_model(path)


def test_layer_from_config_takes_a_keras_config():
    with zipfile.ZipFile(DATA / "masking_bilstm_ave_stack.keras") as z:
        config = json.loads(z.read("config.json"))
    entry = config["config"]["layers"][2]
    assert entry["class_name"] == "Bidirectional"
    layer = L.Bidirectional.from_config(entry["config"])
    assert layer.merge_mode == "ave" and layer.forward_layer.units == 4
    dense = L.Dense.from_config(config["config"]["layers"][-1]["config"])
    assert dense.units == 1 and dense.kernel_initializer == "glorot_uniform"


def _trained(opt):
    lstmcore.set_random_seed(1)
    x = np.random.default_rng(0).normal(size=(16, 5, 2)).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(16, 1)).astype(np.float32)
    model = lstmcore.Sequential([L.LSTM(3, input_shape=(5, 2)), L.Dense(1)])
    model.compile(opt, "mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model, x, y


@pytest.mark.parametrize("opt", ["adam", "sgd", "rmsprop", "sgd_momentum"])
def test_the_optimizer_state_round_trips_through_a_keras_file(opt, tmp_path):
    optimizer = lstmcore.optimizers.SGD(0.01, momentum=0.9) if opt == "sgd_momentum" else opt
    model, x, y = _trained(optimizer)
    path = tmp_path / "m.keras"
    model.save(path)
    again = lstmcore.load_model(path)
    assert again.optimizer.iterations == model.optimizer.iterations == 4
    again.train_on_batch(x[:8], y[:8])
    model.train_on_batch(x[:8], y[:8])
    for a, b in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("opt", ["adam", "rmsprop", "sgd_momentum"])
def test_keras_continues_training_from_the_saved_optimizer_state(opt, tmp_path):
    keras = _keras()
    optimizer = lstmcore.optimizers.SGD(0.01, momentum=0.9) if opt == "sgd_momentum" else opt
    model, x, y = _trained(optimizer)
    path = tmp_path / "m.keras"
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "Skipping variable loading for optimizer"
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = keras.saving.load_model(path)
        loaded.train_on_batch(x[:8], y[:8])
        theirs = loaded.get_weights()
    model.train_on_batch(x[:8], y[:8])
    for a, b in zip(theirs, model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


# Keras's .weights.h5 ------------------------------------------------------------------------------


def _randomized(model):
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(scale=0.3, size=w.shape) for w in model.get_weights()])
    return model


def test_save_weights_writes_the_weights_file_keras_writes(tmp_path):
    """The .weights.h5 file is the .keras file's model.weights.h5, member for member."""
    model, _ = _sequential("masking_bilstm_ave_stack")
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    _, inside = _members(_saved(model, tmp_path / "m.keras"))
    with h5py.File(path, "r") as h5:
        names, same = [], []
        h5.visit(names.append)
        inside.visit(same.append)
        assert names == same and any(n.endswith("vars/0") for n in names)
        for n in names:
            if isinstance(h5[n], h5py.Dataset):
                np.testing.assert_array_equal(h5[n][()], inside[n][()])


def _saved(model, path):
    model.save(path)
    return path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside Keras: NumPy 2's __array__(copy=)
@pytest.mark.parametrize(
    "kind, name",
    [
        ("sequential", "masking_bilstm_ave_stack"),
        ("functional", "conv_autoencoder"),
        ("functional", "attention_seq2seq"),
    ],
)
def test_weights_files_go_both_ways_with_keras(kind, name, tmp_path):
    """lstmcore's save_weights into a Keras model of the same program (Keras's load_weights), and
    Keras's save_weights into lstmcore's: the same predictions either way."""
    keras = _keras()
    model, x = _sequential(name) if kind == "sequential" else _functional(name)
    _randomized(model)
    model.save_weights(tmp_path / "mine.weights.h5")
    theirs = _load(keras, _saved(model, tmp_path / "m.keras"))  # the same program built in Keras
    fresh = [np.zeros_like(w) for w in theirs.get_weights()]
    theirs.set_weights(fresh)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.load_weights(tmp_path / "mine.weights.h5")
    np.testing.assert_allclose(_predict(theirs, x), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    theirs.set_weights([w * 0.5 for w in theirs.get_weights()])
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    model.load_weights(tmp_path / "theirs.weights.h5")
    np.testing.assert_allclose(model.predict(x, verbose=0), _predict(theirs, x), rtol=1e-6, atol=1e-7)


def test_the_optimizer_state_round_trips_through_a_weights_file(tmp_path):
    model, x, y = _trained("adam")
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    again, _, _ = _trained("adam")
    again.optimizer.iterations = 0
    again.load_weights(path)
    assert again.optimizer.iterations == model.optimizer.iterations == 4
    again.train_on_batch(x[:8], y[:8])
    model.train_on_batch(x[:8], y[:8])
    for a, b in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_of_weights_only_writes_a_keras_weights_file(tmp_path, rng):
    model = lstmcore.Sequential([L.Input((5, 2)), L.LSTM(3), L.Dense(1)])
    model.compile("adam", "mse")
    path = tmp_path / "best.weights.h5"
    callback = lstmcore.callbacks.ModelCheckpoint(path, save_weights_only=True)
    model.fit(rng.normal(size=(8, 5, 2)), rng.normal(size=(8, 1)), epochs=2, verbose=0, callbacks=[callback])
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89HDF\r\n\x1a\n"
    other = lstmcore.Sequential([L.Input((5, 2)), L.LSTM(3), L.Dense(1)])
    other.load_weights(path)
    for a, b in zip(other.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_weights_files_that_do_not_fit_are_refused(tmp_path):
    model = lstmcore.Sequential([L.Input((5, 2)), L.LSTM(3), L.Dense(1)])
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    before = model.get_weights()
    wider = lstmcore.Sequential([L.Input((5, 2)), L.LSTM(4), L.Dense(1)])
    with pytest.raises(ValueError, match=r"layers/lstm/cell/vars/0 has shape \(2, 12\).*\(2, 16\)"):
        wider.load_weights(path)
    other = lstmcore.Sequential([L.Input((5, 2)), L.GRU(3), L.Dense(1)])
    with pytest.raises(ValueError, match="has no layers/gru/cell/vars/0"):
        other.load_weights(path)
    unbuilt = lstmcore.Sequential([L.LSTM(3), L.Dense(1)])
    with pytest.raises(ValueError, match="build the model"):
        unbuilt.load_weights(path)
    with pytest.raises(ValueError, match="build it"):
        unbuilt.save_weights(tmp_path / "u.weights.h5")
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_damaged_weights_files_raise_value_error_and_leave_the_model(tmp_path):
    """Truncated files, flipped bytes and entries of the wrong kind: ValueError or a load that works,
    never another error, and on an error the model's weights as they were."""
    model = _randomized(lstmcore.Sequential([L.Input((5, 2)), L.LSTM(3), L.Dense(1)]))
    model.compile("adam", "mse")
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    data = path.read_bytes()
    target = lstmcore.Sequential([L.Input((5, 2)), L.LSTM(3), L.Dense(1)])
    target.compile("adam", "mse")
    before = target.get_weights()
    rng = np.random.default_rng(3)
    damaged = [data[:n] for n in (0, 8, 100, len(data) // 2, len(data) - 1)]
    for _ in range(30):
        b = bytearray(data)
        for k in rng.integers(0, len(b), 4):
            b[k] ^= 0xFF
        damaged.append(bytes(b))
    for k, blob in enumerate(damaged):
        bad = tmp_path / f"bad{k}.weights.h5"
        bad.write_bytes(blob)
        try:
            target.load_weights(bad)
        except ValueError:
            for a, b in zip(target.get_weights(), before, strict=True):
                np.testing.assert_array_equal(a, b)
        else:
            before = target.get_weights()
    with h5py.File(tmp_path / "odd.weights.h5", "w") as h5:
        h5.create_group("layers/lstm/cell/vars/0")
    with pytest.raises(ValueError, match="not an array of numbers"):
        target.load_weights(tmp_path / "odd.weights.h5")

"""Keras's conveniences: sample and class weights, datasets and generators as data, predict's
progress bar, get_layer, to_json / model_from_json, trainable weights, metrics_names, a layer's
get_weights / set_weights, timeseries_dataset_from_array."""

from __future__ import annotations

import numpy as np
import pytest

import lstmcore
from lstmcore import layers as L
from lstmcore.models import model_from_json
from lstmcore.utils import PyDataset, timeseries_dataset_from_array


def _model(seed=0, loss="mse", out=1, activation=None):
    lstmcore.set_random_seed(seed)
    model = lstmcore.Sequential(
        [L.LSTM(4, input_shape=(5, 2)), L.Dense(out, activation=activation)], dtype="float64"
    )
    model.compile(optimizer=lstmcore.optimizers.SGD(0.1), loss=loss, metrics=["mae"])
    return model


def _data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5, 2)), rng.normal(size=(n, 1))


def test_class_weight_is_sample_weight_by_class():
    x, _ = _data()
    y = (np.arange(12) % 2).astype(float).reshape(12, 1)
    a, b = (
        _model(loss="binary_crossentropy", activation="sigmoid"),
        _model(loss="binary_crossentropy", activation="sigmoid"),
    )
    a.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0, class_weight={0: 0.5, 1: 2.0})
    b.fit(
        x, y, epochs=2, batch_size=4, shuffle=False, verbose=0, sample_weight=np.where(y[:, 0] == 1, 2.0, 0.5)
    )
    for p, q in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-12)
    with pytest.raises(ValueError, match="no weight for the classes"):
        a.fit(x, y, verbose=0, class_weight={0: 1.0})
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        a.fit(x, y, verbose=0, sample_weight=np.ones(3))


def test_a_zero_sample_weight_is_a_sample_left_out():
    x, y = _data()
    a, b = _model(), _model()
    w = np.ones(12)
    w[8:] = 0
    a.train_on_batch(x, y, sample_weight=w)
    b.train_on_batch(x[:8], y[:8])
    # Keras: the weighted sum is divided by every sample, so the left-out samples scale the step
    for p, q, p0 in zip(a.get_weights(), b.get_weights(), _model().get_weights(), strict=True):
        np.testing.assert_allclose(p - p0, (q - p0) * 8 / 12, rtol=1e-9, atol=1e-13)


class Batches(PyDataset):
    def __init__(self, x, y, size):
        super().__init__()
        self.x, self.y, self.size, self.ends = x, y, size, 0

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __getitem__(self, k):
        s = slice(k * self.size, (k + 1) * self.size)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.ends += 1


def test_a_dataset_and_a_generator_train_as_the_same_arrays():
    x, y = _data()
    ref = _model()
    ref.fit(x, y, epochs=3, batch_size=5, shuffle=False, verbose=0)
    ds = Batches(x, y, 5)
    model = _model()
    history = model.fit(ds, epochs=3, verbose=0)
    assert ds.ends == 3 and len(history.history["loss"]) == 3
    for p, q in zip(model.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-12)

    def forever():
        while True:
            yield from (ds[k] for k in range(len(ds)))

    model = _model()
    model.fit(forever(), steps_per_epoch=3, epochs=3, verbose=0)
    for p, q in zip(model.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-12)
    np.testing.assert_allclose(model.predict(ds), model.predict(x))
    np.testing.assert_allclose(model.evaluate(ds, verbose=0), model.evaluate(x, y, batch_size=5, verbose=0))


def test_a_generator_that_runs_out_stops_training_with_a_warning():
    x, y = _data()
    model = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(((x[k : k + 4], y[k : k + 4]) for k in range(0, 12, 4)), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1
    with pytest.raises(ValueError, match="y must be None"):
        model.fit(Batches(x, y, 4), y, verbose=0)


def test_validation_data_forms():
    x, y = _data()
    model = _model()
    h = model.fit(x, y, epochs=2, verbose=0, validation_data=(x[:4], y[:4], np.ones(4)))
    assert "val_loss" in h.history and "val_mae" in h.history
    h = model.fit(x, y, epochs=2, verbose=0, validation_data=Batches(x[:6], y[:6], 3), validation_freq=2)
    assert len(h.history["val_loss"]) == 1
    with pytest.raises(ValueError, match="validation_data must be"):
        model.fit(x, y, verbose=0, validation_data=(x,))


def test_predict_progress_bar(capsys):
    x, _ = _data(40)
    model = _model()
    model.predict(x, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert "5/5" in out and "step" in out
    model.predict(x, batch_size=8)
    assert capsys.readouterr().out == ""


def test_get_layer_json_trainable_weights_and_metrics_names():
    model = _model()
    assert model.get_layer("dense") is model.layers[1] and model.get_layer(index=0) is model.layers[0]
    with pytest.raises(ValueError, match="no layer named"):
        model.get_layer("nope")
    assert model.metrics_names == ["loss", "mae"]
    again = model_from_json(model.to_json())
    assert [type(layer) for layer in again.layers] == [type(layer) for layer in model.layers]
    assert [w.shape for w in again.get_weights()] == [w.shape for w in model.get_weights()]
    assert len(model.trainable_weights) == 5 and model.non_trainable_weights == []
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 3
    i = L.Input(shape=(5, 2))
    functional = lstmcore.Model(i, L.Dense(1)(L.GRU(3)(i)))
    again = model_from_json(functional.to_json())
    assert isinstance(again, lstmcore.Model) and again.count_params() == functional.count_params()
    with pytest.raises(ValueError, match="to_json"):
        model_from_json("[1, 2]")


def test_layer_get_and_set_weights():
    model = _model()
    layer = model.get_layer("lstm")
    w = layer.get_weights()
    layer.set_weights([a * 0 + 0.5 for a in w])
    assert all((a == 0.5).all() for a in model.get_weights()[:3])
    with pytest.raises(ValueError, match="expects a list of 3"):
        layer.set_weights(w[:2])
    with pytest.raises(ValueError, match="must have shape"):
        layer.set_weights([w[0].T, w[1], w[2]])
    with pytest.raises(ValueError, match="no weights yet"):
        L.Dense(2).set_weights([])


def test_timeseries_dataset_from_array():
    data = np.arange(20.0).reshape(10, 2)
    targets = np.arange(100, 110)
    ds = timeseries_dataset_from_array(
        data, targets, sequence_length=3, sequence_stride=2, sampling_rate=2, batch_size=2
    )
    # windows start at 0, 2 (the last start k needs k + 4 <= 9)
    xs, ys = zip(*[ds[k] for k in range(len(ds))], strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (3, 3, 2)
    np.testing.assert_array_equal(x[1], data[[2, 4, 6]])
    np.testing.assert_array_equal(y, [100, 102, 104])
    single = timeseries_dataset_from_array(data, None, sequence_length=4, batch_size=None, start_index=2)
    assert len(single) == 5 and single[0].shape == (4, 2)
    np.testing.assert_array_equal(single[0], data[2:6])
    shuffled = timeseries_dataset_from_array(data, targets, 3, batch_size=None, shuffle=True, seed=1)
    starts = sorted(int(t) - 100 for _, t in shuffled)
    assert starts == list(range(8))
    model = lstmcore.Sequential([L.LSTM(3, input_shape=(3, 2)), L.Dense(1)])
    model.compile("adam", "mse")
    model.fit(timeseries_dataset_from_array(data, targets / 100, 3, batch_size=4), epochs=2, verbose=0)
    with pytest.raises(ValueError, match="no window"):
        timeseries_dataset_from_array(data, None, sequence_length=11)
    with pytest.raises(TypeError, match="sequence_length"):
        timeseries_dataset_from_array(data, None, sequence_length=2.5)


def test_timeseries_dataset_take_and_numpy():
    """What keras.io's weather tutorial does with the tf.data dataset Keras returns:
    ``for inputs, targets in ds.take(1)``, ``inputs.numpy().shape``, ``x[0][:, 1].numpy()``."""
    data = np.arange(40.0).reshape(20, 2)
    ds = timeseries_dataset_from_array(
        data, np.arange(20.0), sequence_length=4, sampling_rate=2, batch_size=3
    )
    assert len(ds) == 5  # 14 windows
    first = list(ds.take(2))
    assert len(first) == 2 and len(ds.take(-1)) == len(ds) and len(ds.take(0)) == 0 and len(ds.take(9)) == 5
    for (x, y), k in zip(first, range(2), strict=True):
        np.testing.assert_array_equal(x, ds[k][0])
        np.testing.assert_array_equal(y, ds[k][1])
    inputs, targets = first[0]
    assert type(inputs.numpy()) is np.ndarray and inputs.numpy().shape == (3, 4, 2)
    np.testing.assert_array_equal(inputs[0][:, 1].numpy(), data[[0, 2, 4, 6], 1])
    assert targets.numpy().tolist() == [0.0, 1.0, 2.0]
    single = timeseries_dataset_from_array(data, None, sequence_length=4, batch_size=None)
    assert len(single.take(3)) == 3 and single.take(3)[2].numpy().shape == (4, 2)
    model = lstmcore.Sequential([L.Input((4, 2)), L.LSTM(3), L.Dense(1)])
    model.compile("adam", "mse")
    model.fit(ds.take(2), validation_data=ds.take(1), epochs=1, verbose=0)
    assert model.predict(inputs).shape == (3, 1)
    with pytest.raises(TypeError, match="2.0"):
        ds.take(2.0)
    with pytest.raises(ValueError, match="-2"):
        ds.take(-2)


def test_a_pickled_model_keeps_training():
    import pickle

    x, y = _data()
    for model in (_model(), lstmcore.Model(*_functional_parts())):
        model.compile(optimizer=lstmcore.optimizers.SGD(0.1), loss="mse")
        model.fit(x, y, epochs=1, verbose=0)
        again = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(again.predict(x), model.predict(x))
        before = [w.copy() for w in again.get_weights()]
        again.fit(x, y, epochs=1, verbose=0)
        assert any(not np.array_equal(a, b) for a, b in zip(before, again.get_weights(), strict=True))
        # its layers' weights are views of its buffer again: one update moves both
        assert all(np.shares_memory(w, again.buffer.params) for w in again.weights)
    layer = L.Dense(2)
    layer(x[:, 0])
    again = pickle.loads(pickle.dumps(layer))
    assert np.shares_memory(again.params["kernel"], again._own_buffer.params)


def _functional_parts():
    i = L.Input(shape=(5, 2))
    return i, L.Dense(1)(L.GRU(3)(i))


def test_metric_configs_survive_saving_and_threshold_lists_are_logged(tmp_path):
    x, _ = _data()
    y = (np.arange(12) % 2).astype(float).reshape(12, 1)
    model = _model(loss="binary_crossentropy", activation="sigmoid")
    pr = lstmcore.metrics.AUC(curve="PR", name="pr_auc")
    model.compile(
        "adam", "binary_crossentropy", metrics=[pr, lstmcore.metrics.Precision(thresholds=[0.3, 0.6])]
    )
    history = model.fit(x, y, epochs=1, verbose=0)
    assert isinstance(history.history["precision"][0], list) and len(history.history["precision"][0]) == 2
    model.save(tmp_path / "m.lstmcore")
    again = lstmcore.load_model(tmp_path / "m.lstmcore")
    assert again.metrics[0].name == "pr_auc" and again.metrics[0].curve == "PR"
    assert list(again.metrics[1].init_thresholds) == [0.3, 0.6]


def test_a_return_state_layer_in_a_sequential_points_to_the_functional_api():
    with pytest.raises(ValueError, match="functional API"):
        lstmcore.Sequential([L.LSTM(3, return_state=True, input_shape=(4, 2))])


def test_on_batch_methods_are_keras():
    """train_on_batch: [loss, *metrics] of the batch before the step (the metrics reset first),
    test_on_batch: evaluate of the batch, predict_on_batch: predict; return_dict gives the logs."""
    x, y = _data()
    model = _model()
    before = model.predict(x)
    loss, mae = model.train_on_batch(x, y)
    assert mae == pytest.approx(np.abs(before - y).mean(), rel=1e-12)
    assert loss == pytest.approx(((before - y) ** 2).mean(), rel=1e-12)
    logs = model.train_on_batch(x[:4], y[:4], return_dict=True)
    assert list(logs) == ["loss", "mae"]
    assert model.test_on_batch(x, y) == pytest.approx(model.evaluate(x, y, batch_size=len(x), verbose=0))
    assert model.test_on_batch(x, y, return_dict=True) == model.evaluate(x, y, verbose=0, return_dict=True)
    assert np.array_equal(model.predict_on_batch(x), model.predict(x))
    plain = lstmcore.Sequential([L.Dense(1, input_shape=(3,))])
    plain.compile("sgd", "mse")
    assert isinstance(plain.train_on_batch(np.ones((2, 3)), np.ones((2, 1))), float)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_train_on_batch_equals_keras(keras):
    x, y = (a.astype(np.float32) for a in _data())
    mine = lstmcore.Sequential([L.LSTM(4, input_shape=(5, 2)), L.Dense(1)])
    mine.compile(optimizer=lstmcore.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    theirs = keras.Sequential([keras.Input((5, 2)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    theirs.set_weights(mine.get_weights())
    for _ in range(2):
        got, want = mine.train_on_batch(x, y), theirs.train_on_batch(x, y)
        np.testing.assert_allclose(got, want, rtol=2e-5)
    np.testing.assert_allclose(mine.test_on_batch(x, y), theirs.test_on_batch(x, y), rtol=2e-5)
    np.testing.assert_allclose(mine.predict_on_batch(x), theirs.predict_on_batch(x), rtol=2e-5, atol=1e-6)

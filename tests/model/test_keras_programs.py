"""Keras programs with masks, bidirectional and time-distributed layers, run in lstmcore with only
the imports changed (``keras_programs.py``), against what Keras 3 computed
(``data/keras_models.npz``, written by ``make_keras_models.py``): predictions, the masked loss, and
the weights after one SGD step (so every gradient, through the masks, is Keras's). Then the
gradients of masked models against finite differences, and the mask rules of each layer."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from keras_programs import LEARNING_RATE, PROGRAMS

import lstmcore
import lstmcore.reference
from lstmcore import layers as L

DATA = np.load(Path(__file__).resolve().parent / "data" / "keras_models.npz")


def _case(name):
    prefix = f"{name}/"
    return {k[len(prefix) :]: DATA[k] for k in DATA.files if k.startswith(prefix)}


def _model(name, c):
    build, loss, _, _ = PROGRAMS[name]
    model = lstmcore.Sequential(build(L), dtype="float64")
    model.compile(optimizer=lstmcore.optimizers.SGD(LEARNING_RATE), loss=loss)
    model.set_weights([c[k] for k in sorted(c) if k.startswith("w0_")])
    return model


def test_the_golden_file_covers_the_programs():
    assert sorted(str(n) for n in DATA["cases"]) == sorted(PROGRAMS)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_keras_program_golden(name):
    c = _case(name)
    model = _model(name, c)
    np.testing.assert_allclose(model.predict(c["x"]), c["pred"], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(model.evaluate(c["x"], c["y"], verbose=0), c["loss"], rtol=1e-9)
    np.testing.assert_allclose(model.train_on_batch(c["x"], c["y"]), c["train_loss"], rtol=1e-9)
    after = [c[k] for k in sorted(c) if k.startswith("w1_")]
    for k, (mine, theirs) in enumerate(zip(model.get_weights(), after, strict=True)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-8, atol=1e-11, err_msg=f"weight {k}")


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_keras_program_sample_weight_golden(name):
    c = _case(name)
    model = _model(name, c)
    np.testing.assert_allclose(
        model.evaluate(c["x"], c["y"], sample_weight=c["sw"], verbose=0), c["evaluated_sw"], rtol=1e-9
    )
    np.testing.assert_allclose(
        model.train_on_batch(c["x"], c["y"], sample_weight=c["sw"]), c["train_loss_sw"], rtol=1e-9
    )
    after = [c[k] for k in sorted(c) if k.startswith("w2_")]
    for k, (mine, theirs) in enumerate(zip(model.get_weights(), after, strict=True)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-8, atol=1e-11, err_msg=f"weight {k}")


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_keras_program_saves_and_loads(name, tmp_path):
    c = _case(name)
    model = _model(name, c)
    model.fit(c["x"], c["y"], epochs=2, batch_size=2, verbose=0)
    path = tmp_path / "m.lstmcore"
    model.save(path)
    again = lstmcore.load_model(path)
    np.testing.assert_array_equal(again.predict(c["x"]), model.predict(c["x"]))
    assert [type(layer).__name__ for layer in again.layers] == [
        type(layer).__name__ for layer in model.layers
    ]


def _loss_and_grads(model, x, y):
    out, mask = model._forward_masked(x, training=True)
    weight = model._loss_weight(mask, out)
    loss = model.loss.forward(y, out, sample_weight=weight)
    dy = model.loss.backward(y, out, sample_weight=weight)
    for layer in reversed(model.layers):
        dy = layer.backward(dy)
    return loss, model.buffer.grads.copy()


@pytest.mark.parametrize(
    "name", ["masking_bigru_sum_mul", "masking_backwards_rnn_lstm_sequence", "masking_bilstm_ave_stack"]
)
def test_masked_model_gradients_match_finite_differences(name):
    c = _case(name)
    model = _model(name, c)
    x, y = c["x"], c["y"]
    _, grads = _loss_and_grads(model, x, y)
    params = model.buffer.params
    rng = np.random.default_rng(3)
    eps = 1e-6
    for i in rng.choice(params.size, size=40, replace=False):
        saved = params[i]
        params[i] = saved + eps
        up = model.loss.forward(y, *_weighted(model, x))
        params[i] = saved - eps
        down = model.loss.forward(y, *_weighted(model, x))
        params[i] = saved
        np.testing.assert_allclose(grads[i], (up - down) / (2 * eps), rtol=1e-5, atol=1e-8)


def _weighted(model, x):
    model._weights_changed()
    out, mask = model._forward_masked(x, training=False)
    return out, model._loss_weight(mask, out)


def test_the_mask_reaches_the_loss_only_through_layers_that_keep_it():
    x = _case("embedding_lstm_dense_sequence")["x"].astype(np.float32)

    def output_mask(*layers):
        model = lstmcore.Sequential([L.Input((x.shape[1],)), *layers])
        return model._forward_masked(x, training=False)[1]

    np.testing.assert_array_equal(
        output_mask(L.Embedding(12, 3, mask_zero=True), L.LSTM(4, return_sequences=True), L.Dense(2)), x != 0
    )
    assert output_mask(L.Embedding(12, 3, mask_zero=True), L.LSTM(4), L.Dense(2)) is None
    assert output_mask(L.Embedding(12, 3), L.LSTM(4, return_sequences=True)) is None


def test_a_masked_loss_is_the_mean_over_the_valid_steps():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    mask = rng.random((3, 4)) < 0.6
    w = lstmcore.losses.mask_weight(mask, np.float64)
    per_step = np.mean((p - y) ** 2, axis=-1)
    assert lstmcore.losses.get("mse").forward(y, p, sample_weight=w) == pytest.approx(per_step[mask].mean())
    none = lstmcore.losses.mask_weight(np.zeros((3, 4), bool), np.float64)
    assert lstmcore.losses.get("mse").forward(y, p, sample_weight=none) == 0.0


@pytest.mark.parametrize("loss", ["mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy"])
def test_weighted_loss_gradient_matches_finite_differences(loss):
    rng = np.random.default_rng(1)
    y = rng.random((2, 3, 4))
    p = rng.random((2, 3, 4)) * 0.8 + 0.1
    w = rng.random((2, 3))
    f = lstmcore.losses.get(loss)
    g = f.backward(y, p, sample_weight=w)
    eps = 1e-7
    for idx in [(0, 0, 0), (1, 2, 3), (0, 1, 2), (1, 0, 1)]:
        up, down = p.copy(), p.copy()
        up[idx] += eps
        down[idx] -= eps
        num = (f.forward(y, up, sample_weight=w) - f.forward(y, down, sample_weight=w)) / (2 * eps)
        assert g[idx] == pytest.approx(num, rel=1e-5, abs=1e-9)
    # a weight per row broadcasts over the steps
    assert f.forward(y, p, sample_weight=np.ones(2)) == pytest.approx(f.forward(y, p))


def test_sample_weight_of_the_wrong_shape_is_refused():
    f = lstmcore.losses.get("mse")
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        f.forward(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)), sample_weight=np.ones(3))
    with pytest.raises(TypeError, match="numeric"):
        f.forward(np.zeros((2, 1)), np.zeros((2, 1)), sample_weight=np.array(["a", "b"]))


def test_a_layer_without_masking_drops_the_mask_with_a_warning():
    class Doubler(L.Layer):
        def forward(self, x, training=False):
            return 2 * x

        def backward(self, dy):
            return 2 * dy

    model = lstmcore.Sequential([L.Masking(input_shape=(4, 2)), Doubler(), L.LSTM(3, return_sequences=True)])
    x = np.ones((2, 4, 2), np.float32)
    x[0, 0] = 0
    with pytest.warns(UserWarning, match="does not support masking"):
        out, mask = model._forward_masked(x, training=False)
    assert mask is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per layer
        model._forward_masked(x, training=False)


def test_embedding_refuses_ids_out_of_range_and_fractions():
    layer = L.Embedding(5, 2)
    with pytest.raises(ValueError, match="outside"):
        layer(np.array([[1, 5]]))
    with pytest.raises(ValueError, match="integer ids"):
        layer(np.array([[1.5, 2.0]]))
    with pytest.raises(TypeError, match="integer ids"):
        layer.forward(np.array([["a"]]))


def test_embedding_keras2_arguments():
    pretrained = np.arange(10.0).reshape(5, 2)
    model = lstmcore.Sequential([L.Embedding(5, 2, input_length=3, weights=[pretrained]), L.LSTM(2)])
    model.build()
    np.testing.assert_array_equal(model.layers[0].params["embeddings"], pretrained)
    assert model.input_shape == (3,)
    assert type(L.Embedding(5, 2, embeddings_regularizer="l2").regularizers["embeddings"]).__name__ == "L2"
    with pytest.raises(ValueError, match="embeddings_regularizer: unknown regularizer 'l3'"):
        L.Embedding(5, 2, embeddings_regularizer="l3")
    with pytest.raises(ValueError, match="weights must be one numeric array"):
        L.Embedding(5, 2, weights=[np.zeros((4, 2))])


def test_bidirectional_arguments():
    with pytest.raises(TypeError, match="recurrent layer"):
        L.Bidirectional(L.Dense(3))
    with pytest.raises(ValueError, match="merge_mode"):
        L.Bidirectional(L.LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="go_backwards"):
        L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(3))
    with pytest.raises(ValueError, match="return_sequences"):
        L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(3, go_backwards=True, return_sequences=True))
    with pytest.raises(ValueError, match="merge_mode=None"):
        lstmcore.Sequential([L.Bidirectional(L.LSTM(3), merge_mode=None, input_shape=(4, 2))])
    layer = L.Bidirectional(L.LSTM(3, name="enc"), input_shape=(4, 2))
    assert (layer.forward_layer.name, layer.backward_layer.name) == ("forward_enc", "backward_enc")
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards


def test_bidirectional_with_its_own_backward_layer_and_states():
    x = np.random.default_rng(0).normal(size=(3, 5, 2))
    fwd = L.GRU(4, return_sequences=True, return_state=True)
    bwd = L.GRU(2, return_sequences=True, return_state=True, go_backwards=True, reset_after=False)
    layer = L.Bidirectional(fwd, backward_layer=bwd)
    y, h_f, h_b = layer(x)
    assert y.shape == (3, 5, 6) and h_f.shape == (3, 4) and h_b.shape == (3, 2)
    yf, hf = layer.forward_layer.forward(x)
    yb, hb = layer.backward_layer.forward(x)
    np.testing.assert_array_equal(y, np.concatenate([yf, yb[:, ::-1]], axis=-1))
    np.testing.assert_array_equal(h_b, hb)
    config = layer.get_config()
    again = L.Bidirectional.from_config(config)
    assert again.backward_layer.units == 2 and again.backward_layer.reset_after is False


@pytest.mark.parametrize("together", [True, False])
def test_bidirectional_directions_at_once_equal_one_after_the_other(monkeypatch, together):
    """On 2 threads the two directions run at once where the engine's rule says so (forced
    both ways here: _stack._set_pair_min), the backward as its forward: the same numbers."""
    from lstmcore.engine import _backend, _stack

    x = np.random.default_rng(0).normal(size=(8, 9, 3)).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(8, 9, 1)).astype(np.float32)
    models = []
    for _ in range(2):
        model = lstmcore.Sequential(
            [L.Bidirectional(L.LSTM(16, return_sequences=True), input_shape=(9, 3)), L.Dense(1)]
        )
        model.compile("sgd", "mse")
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    pairs = []
    if getattr(_backend, "_run_pair", None) is not None:
        real = _backend._run_pair
        monkeypatch.setattr(_backend, "_run_pair", lambda f, g: pairs.append(1) or real(f, g))
    before = lstmcore.get_num_threads()
    previous = _stack._set_pair_min(0 if together else 1 << 62)
    try:
        lstmcore.set_num_threads(1)
        one = models[0].predict(x)
        models[0].fit(x, y, epochs=1, batch_size=8, verbose=0)
        lstmcore.set_num_threads(2)
        pairs.clear()
        two = models[1].predict(x)
        models[1].fit(x, y, epochs=1, batch_size=8, verbose=0)
    finally:
        lstmcore.set_num_threads(before)
        _stack._set_pair_min(previous)
    np.testing.assert_array_equal(one, two)
    for a, b in zip(models[0].get_weights(), models[1].get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    if lstmcore.backend == "compiled":  # predict, then fit's forward and backward
        assert len(pairs) == (3 if together else 0)


def test_time_distributed_applies_the_layer_at_every_step():
    x = np.random.default_rng(0).normal(size=(2, 4, 3))
    layer = L.TimeDistributed(L.Dense(5, activation="tanh"))
    y = layer(x)
    assert y.shape == (2, 4, 5)
    np.testing.assert_allclose(y[:, 2], layer.layer.forward(x[:, 2]))
    with pytest.raises(ValueError, match="timesteps"):
        L.TimeDistributed(L.Dense(2)).build((3,))
    with pytest.raises(TypeError, match="lstmcore layer"):
        L.TimeDistributed("dense")
    assert layer.get_config()["layer"]["class_name"] == "Dense"


def test_go_backwards_with_a_mask_is_keras_order():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 6, 2))
    mask = rng.random((3, 6)) < 0.7
    layer = L.LSTM(3, return_sequences=True, go_backwards=True)
    layer(x)
    y = layer.forward(x, mask=mask)
    ref = lstmcore.reference.lstm_forward(
        x[:, ::-1],
        layer.params["kernel"],
        layer.params["recurrent_kernel"],
        layer.params["bias"],
        mask=mask[:, ::-1],
    )[0]
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-14)

"""Regularizers (weight and activity) and weight constraints, as Keras 3: their values and
gradients, their configs, the layers that take them, and whole models trained with them against
Keras's numbers (tests/model/data/keras_regularizers.npz, made by make_regularizer_golden.py, and
Keras itself where it is installed)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from make_regularizer_golden import CASES, LEARNING_RATE, PATH, build, train

import lstmcore
from lstmcore import constraints, layers, regularizers
from lstmcore.layers import LSTM, Bidirectional, Dense, TimeDistributed


@pytest.fixture(scope="module")
def golden():
    data = np.load(PATH)
    assert int(data["format_version"]) == 1
    assert json.loads(str(data["cases"])) == CASES
    return data


def _golden_case(data, case):
    n0 = sum(1 for k in data.files if k.startswith(f"{case}/w0/"))
    w0 = [data[f"{case}/w0/{i}"] for i in range(n0)]
    w = [data[f"{case}/w/{i}"] for i in range(n0)]
    return data[f"{case}/x"], data[f"{case}/y"], w0, data[f"{case}/losses"], w, float(data[f"{case}/eval"])


@pytest.mark.parametrize("case", CASES)
def test_training_with_penalties_matches_keras_golden(golden, case):
    """Each step's loss (the penalties included), the weights after the steps (the constraints
    applied) and evaluate's loss, as Keras 3 computed them."""
    x, y, w0, want_losses, want_w, want_eval = _golden_case(golden, case)
    lstmcore.set_random_seed(0)
    model = build(lstmcore, case)
    losses, weights, ev = train(lstmcore, model, x, y, w0, lstmcore.optimizers.SGD(LEARNING_RATE))
    np.testing.assert_allclose(losses, want_losses, rtol=2e-5)
    assert len(weights) == len(want_w)
    for got, want in zip(weights, want_w, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-6)
    assert ev == pytest.approx(want_eval, rel=2e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras 3.15's convert_to_numpy on NumPy 2
@pytest.mark.parametrize("case", CASES)
def test_training_with_penalties_matches_keras_live(case):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(5)
    km = build(keras, case)
    lm = build(lstmcore, case)
    x = rng.standard_normal((6, *km.input_shape[1:])).astype(np.float32)
    if case == "embedding":
        x = rng.integers(0, 10, x.shape).astype(np.float32)
    y = rng.standard_normal((6, 2)).astype(np.float32)
    w0 = [np.asarray(w) for w in km.get_weights()]
    k_losses, k_w, k_eval = train(keras, km, x, y, w0, keras.optimizers.SGD(0.05))
    l_losses, l_w, l_eval = train(lstmcore, lm, x, y, w0, lstmcore.optimizers.SGD(0.05))
    np.testing.assert_allclose(l_losses, k_losses, rtol=2e-5)
    for got, want in zip(l_w, k_w, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-6)
    assert l_eval == pytest.approx(k_eval, rel=2e-5)


# The regularizers and constraints themselves -------------------------------------------------


def test_keras_documented_example():
    """Keras's Regularizer docstring: a Dense of ones on inputs of twos, L1(0.01) on the kernel
    (0.25) and L2(0.01) on the activity, divided by the batch of 5 (5.0)."""
    model = lstmcore.Sequential(
        [
            Dense(
                5,
                input_shape=(5,),
                kernel_initializer="ones",
                kernel_regularizer=regularizers.L1(0.01),
                activity_regularizer=regularizers.L2(0.01),
            )
        ]
    )
    model.compile("sgd", "mse")
    x = np.full((5, 5), 2.0, np.float32)
    out = model.predict(x)
    layer = model.layers[0]
    assert layer.penalty() == pytest.approx(0.25)
    assert layer.activity_penalty(out) == pytest.approx(5.0)
    assert regularizers.L2(2.0)(np.ones((5, 5))) == pytest.approx(50.0)
    # evaluate's loss is the data loss plus both
    assert model.evaluate(x, out, verbose=0) == pytest.approx(5.25, rel=1e-6)


@pytest.mark.parametrize(
    "reg",
    [
        regularizers.L1(0.3),
        regularizers.L2(0.2),
        regularizers.L1L2(0.1, 0.4),
        regularizers.L1L2(),
        regularizers.OrthogonalRegularizer(0.3),
        regularizers.OrthogonalRegularizer(0.2, mode="columns"),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regularizer_gradient_is_the_penalty_derivative(reg, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(dtype)
    g = reg.gradient(x)
    assert g.shape == x.shape and g.dtype == x.dtype
    fd = np.zeros((4, 3))
    h = 1e-6
    x64 = x.astype(np.float64)
    for idx in np.ndindex(x.shape):
        xp, xm = x64.copy(), x64.copy()
        xp[idx] += h
        xm[idx] -= h
        fd[idx] = (reg(xp) - reg(xm)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-4 if dtype == np.float32 else 1e-6, atol=1e-6)
    assert regularizers.L1(0.5).gradient(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]  # sign(0) = 0


def test_constraints_project_as_keras():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 4)).astype(np.float32) * 3
    n0 = np.linalg.norm(w, axis=0)
    got = constraints.MaxNorm(2.0)(w)
    np.testing.assert_allclose(np.linalg.norm(got, axis=0), np.minimum(n0, 2.0), rtol=1e-5)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(constraints.UnitNorm(axis=1)(w), axis=1), 1.0, rtol=1e-5)
    assert (constraints.NonNeg()(w) >= 0).all() and (constraints.NonNeg()(w)[w > 0] == w[w > 0]).all()
    mm = constraints.MinMaxNorm(min_value=1.0, max_value=1.5, rate=0.5)(w)
    want = 0.5 * np.clip(n0, 1.0, 1.5) + 0.5 * n0
    np.testing.assert_allclose(np.linalg.norm(mm, axis=0), want, rtol=1e-5)
    both = constraints.MaxNorm(1.0, axis=[0, 1])(w)
    assert np.linalg.norm(both) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize(
    "module, value, cls, config",
    [
        (regularizers, "l2", regularizers.L2, {"l2": 0.01}),
        (regularizers, "L1", regularizers.L1, {"l1": 0.01}),
        (regularizers, "l1_l2", regularizers.L1L2, {"l1": 0.0, "l2": 0.0}),
        (
            regularizers,
            {"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}},
            regularizers.L1L2,
            {"l1": 0.1, "l2": 0.2},
        ),
        (constraints, "max_norm", constraints.MaxNorm, {"max_value": 2.0, "axis": 0}),
        (constraints, "NonNeg", constraints.NonNeg, {}),
        (constraints, {"class_name": "UnitNorm", "config": {"axis": 1}}, constraints.UnitNorm, {"axis": 1}),
    ],
)
def test_get_serialize_deserialize(module, value, cls, config):
    obj = module.get(value)
    assert type(obj) is cls and obj.get_config() == config
    data = module.serialize(obj)
    assert data["class_name"] == cls.__name__ and data["module"] == f"keras.{module.__name__.split('.')[-1]}"
    again = module.deserialize(json.loads(json.dumps(data)))
    assert type(again) is cls and again.get_config() == config
    assert module.get(None) is None and module.get(obj) is obj


def test_custom_regularizer_and_constraint():
    class Sum(regularizers.Regularizer):
        def __call__(self, x):
            return float(np.sum(x))

        def gradient(self, x):
            return np.ones_like(x)

    layer = Dense(2, kernel_regularizer=Sum(), kernel_constraint=lambda w: np.clip(w, -0.1, 0.1))
    model = lstmcore.Sequential([layer])
    model.compile(lstmcore.optimizers.SGD(0.5), "mse")
    model.build((None, 3))
    before = layer.get_weights()[0].copy()
    model.train_on_batch(np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32))
    np.testing.assert_allclose(layer.get_weights()[0], np.clip(before - 0.5, -0.1, 0.1), atol=1e-7)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: regularizers.L2(-1.0), ValueError, "l2 must be a finite number >= 0"),
        (lambda: regularizers.L1("a"), TypeError, "l1 must be a number"),
        (lambda: regularizers.get("l3"), ValueError, "unknown regularizer 'l3'"),
        (lambda: regularizers.get(lambda x: 0.0), TypeError, "has no gradient here"),
        (lambda: regularizers.deserialize({"class_name": "Smoothness"}), ValueError, "unknown regularizer"),
        (
            lambda: regularizers.OrthogonalRegularizer(mode="both"),
            ValueError,
            "mode must be 'rows' or 'columns'",
        ),
        (lambda: regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2))), ValueError, "2-D weights"),
        (lambda: regularizers.OrthogonalRegularizer()(np.ones((1, 3))), ValueError, "at least 2 rows"),
        (lambda: constraints.MaxNorm(-1), ValueError, "max_value must be a finite number >= 0"),
        (lambda: constraints.get("positive"), ValueError, "unknown constraint 'positive'"),
        (
            lambda: Dense(2, recurrent_regularizer="l2"),
            TypeError,
            "Dense has no weight that recurrent_regularizer",
        ),
        (
            lambda: LSTM(2, kernel_regularizer=3),
            TypeError,
            "LSTM: kernel_regularizer: expected a regularizer",
        ),
        (
            lambda: Bidirectional(LSTM(2, activity_regularizer="l2")),
            TypeError,
            "activity_regularizer on the wrapper",
        ),
        (
            lambda: TimeDistributed(Dense(2, activity_regularizer="l1")),
            TypeError,
            "activity_regularizer on the wrapper",
        ),
    ],
)
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_frozen_layers_have_no_penalty_and_no_projection():
    layer = Dense(
        3, kernel_regularizer=regularizers.L2(10.0), kernel_constraint=constraints.NonNeg(), trainable=False
    )
    model = lstmcore.Sequential([layers.Input(shape=(2,)), layer])
    model.compile("sgd", "mse")
    before = layer.get_weights()[0].copy()
    assert (before < 0).any()
    x, y = np.ones((4, 2), np.float32), np.zeros((4, 3), np.float32)
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(float(np.mean(model.predict(x) ** 2)), rel=1e-6)
    np.testing.assert_array_equal(layer.get_weights()[0], before)


def test_configs_round_trip_through_model_files(tmp_path):
    model = build(lstmcore, "recurrent")
    model.compile("adam", "mse")
    x = np.random.default_rng(0).standard_normal((4, 5, 3)).astype(np.float32)
    want = model.evaluate(x, np.zeros((4, 2), np.float32), verbose=0)
    for name in ("m.lstmcore", "m.keras"):
        again = lstmcore.load_model(tmp_path / name) if model.save(tmp_path / name) is None else None
        lstm = again.layers[0]
        assert lstm.get_config()["kernel_regularizer"] == regularizers.serialize(regularizers.L2(0.01))
        assert type(lstm.constraints["kernel"]) is constraints.MaxNorm
        assert again.evaluate(x, np.zeros((4, 2), np.float32), verbose=0) == pytest.approx(want, rel=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_keras_loads_the_saved_regularizers(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    model = build(lstmcore, "embedding")
    model.compile("sgd", "mse")
    model.save(tmp_path / "m.keras")
    km = keras.models.load_model(tmp_path / "m.keras")
    k_lstm = km.layers[1].forward_layer
    assert k_lstm.cell.kernel_regularizer.get_config() == {"l2": pytest.approx(0.02)}
    assert type(km.layers[1].activity_regularizer).__name__ == "L2"
    assert km.layers[0].embeddings_constraint.get_config() == {"max_value": 0.3, "axis": 1}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_model_losses_are_keras(keras):
    """model.losses: each regularized weight's penalty, layer by layer, as Keras's (their sum: the
    penalty fit adds to the loss)."""

    def build(L, R):
        return [
            L.LSTM(4, kernel_regularizer="l2", recurrent_regularizer="l1", return_sequences=True),
            L.Bidirectional(L.GRU(2, bias_regularizer=R.L1L2(l1=0.1, l2=0.2))),
            L.Dense(1, kernel_regularizer="l1"),
        ]

    mine = lstmcore.Sequential([layers.Input((5, 3)), *build(layers, regularizers)])
    theirs = keras.Sequential([keras.Input((5, 3)), *build(keras.layers, keras.regularizers)])
    theirs.set_weights(mine.get_weights())
    got, want = mine.losses, [float(keras.ops.convert_to_numpy(v)) for v in theirs.losses]
    assert len(got) == len(want) == 5
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert sum(got) == pytest.approx(mine._penalty())

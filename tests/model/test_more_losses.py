"""The losses beyond the first six (losses.py: mape, msle, log_cosh, poisson, kl_divergence,
cosine_similarity, hinge, squared_hinge, categorical_hinge) against Keras 3: the golden file of
make_loss_golden.py (always) and a live Keras where one is installed, values and gradients, with
sample weights and sequence outputs, and Keras's metric of each (metrics.py); gradients against
central differences; names, configs and a model that trains with each."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import make_layer_golden
import make_loss_golden as golden
import numpy as np
import pytest
from helpers import assert_close

from lstmcore import Sequential, load_model, losses, metrics
from lstmcore.layers import LSTM, Dense, Input

DATA = np.load(Path(__file__).resolve().parent / "data" / "keras_losses.npz")
SPECS = json.loads(DATA["cases"].item().decode())
CASES = list(golden.CASES)
NAMES = {
    "MeanAbsolutePercentageError": ("mape", "mean_absolute_percentage_error"),
    "MeanSquaredLogarithmicError": ("msle", "mean_squared_logarithmic_error"),
    "LogCosh": ("log_cosh", "logcosh"),
    "Poisson": ("poisson",),
    "KLDivergence": ("kl_divergence", "kld", "kullback_leibler_divergence"),
    "CosineSimilarity": ("cosine_similarity",),
    "Hinge": ("hinge",),
    "SquaredHinge": ("squared_hinge",),
    "CategoricalHinge": ("categorical_hinge",),
}


def check_case(name: str, dtype: str, c: dict) -> None:
    loss = getattr(losses, SPECS[name]["class"])()
    kw = {"sample_weight": c["sample_weight"]} if "sample_weight" in c else {}
    value = loss.forward(c["y_true"], c["y_pred"], **kw)
    if isinstance(loss, losses.LogCosh) and dtype == "float64":
        # Keras subtracts log(2) rounded to float32 (ops.log(2.0)) in float64 too; lstmcore the
        # float64 log(2), 1.9e-9 less: the same loss once that rounding is put back
        weight = np.mean(c["sample_weight"]) if "sample_weight" in c else 1.0
        value -= weight * (float(np.float32(np.log(2.0))) - np.log(2.0))
    grad = loss.backward(c["y_true"], c["y_pred"], **kw)
    assert grad.dtype == np.dtype(dtype) and grad.shape == c["y_pred"].shape
    assert_close(np.float64(value), np.float64(c["loss"]), dtype, f"{name} loss", scale=10)
    assert_close(grad, c["grad"], dtype, f"{name} grad")
    metric = getattr(metrics, golden.METRICS.get(SPECS[name]["class"], SPECS[name]["class"]))()
    metric.update_state(c["y_true"], c["y_pred"], **kw)  # in float64, as lstmcore's metrics
    result = metric.result()
    if isinstance(loss, losses.LogCosh) and dtype == "float64":  # as for the loss above
        result -= float(np.float32(np.log(2.0))) - np.log(2.0)
    assert result == pytest.approx(float(c["metric"]), rel=1e-5 if dtype == "float32" else 1e-10)


def test_golden_file_covers_every_case():
    assert int(DATA["format_version"]) == golden.FORMAT_VERSION
    assert list(SPECS) == CASES
    assert {s["class"] for s in SPECS.values()} == set(NAMES)


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
@pytest.mark.parametrize("cls", list(NAMES))
def test_names_and_configs_are_keras(keras, cls):
    mine = getattr(losses, cls)()
    theirs = getattr(keras.losses, cls)()
    assert mine.name == theirs.name
    for alias in NAMES[cls]:  # with Keras 2's logcosh and kullback_leibler_divergence
        assert type(losses.get(alias)) is type(mine)
    config = {"class_name": cls, "config": theirs.get_config()}
    assert losses.get(config).get_config() == mine.get_config()
    metric = getattr(keras.metrics, golden.METRICS.get(cls, cls))()
    assert metrics.get_metric(type(metric).__name__).name == type(metric).__name__
    assert getattr(metrics, type(metric).__name__)().name == metric.name
    for alias in NAMES[cls][:1]:
        if alias != "log_cosh":  # Keras has no metric of that name (LogCoshError is "logcosh")
            assert type(metrics.get_metric(alias)).__name__ == type(keras.metrics.get(alias)).__name__


@pytest.mark.parametrize("name", CASES)
def test_gradient_by_central_differences(name):
    c = golden.unpack(DATA, name, "float64")
    loss = getattr(losses, SPECS[name]["class"])()
    kw = {"sample_weight": c["sample_weight"]} if "sample_weight" in c else {}
    y_pred = c["y_pred"].copy()
    grad = loss.backward(c["y_true"], y_pred, **kw)
    numeric = np.zeros_like(y_pred)
    for i in np.ndindex(y_pred.shape):
        old = y_pred[i]
        y_pred[i] = old + 1e-6
        up = loss.forward(c["y_true"], y_pred, **kw)
        y_pred[i] = old - 1e-6
        down = loss.forward(c["y_true"], y_pred, **kw)
        y_pred[i] = old
        numeric[i] = (up - down) / 2e-6
    # differences of a loss L lose |L| * 1e-16 / 1e-6 (MAPE with a target of 0: L ~ 1e8)
    atol = max(1e-7, 1e-9 * abs(loss.forward(c["y_true"], y_pred, **kw)))
    smooth = np.abs(y_pred) > 1e-5  # not at msle's kink (its max with eps) where y_pred is 0
    np.testing.assert_allclose(grad[smooth], numeric[smooth], rtol=1e-5, atol=atol)


def test_edges_as_keras():
    """A target of 0 weighs MAPE's error by 1/eps; MSLE and KL divergence pass no gradient where
    the prediction is outside their clips; a zero vector has cosine similarity 0; ties of
    categorical hinge's max share the gradient; labels other than 0/1 are not converted."""
    mape = losses.MeanAbsolutePercentageError()
    assert mape.forward(np.zeros((1, 1)), np.full((1, 1), 1e-3)) == pytest.approx(100 * 1e-3 / 1e-7)
    msle = losses.MeanSquaredLogarithmicError()
    assert msle.backward(np.ones((1, 2)), np.array([[-1.0, 2.0]]))[0, 0] == 0
    kld = losses.KLDivergence()
    assert np.all(kld.backward(np.array([[0.5, 0.5]]), np.array([[1.5, -0.2]])) == 0)
    cos = losses.CosineSimilarity()
    assert cos.forward(np.ones((1, 3)), np.zeros((1, 3))) == 0
    ch = losses.CategoricalHinge()
    g = ch.backward(np.array([[1.0, 0, 0]]), np.array([[0.2, 0.5, 0.5]]))
    assert np.allclose(g, [[-1, 0.5, 0.5]])
    hinge = losses.Hinge()
    assert hinge.forward(np.array([[2.0, -1.0]]), np.array([[0.25, 0.5]])) == pytest.approx((0.5 + 1.5) / 2)
    assert hinge.forward(np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])) == pytest.approx((1.5 + 0.5) / 2)


@pytest.mark.parametrize("name", sorted({n[0] for n in NAMES.values()}))
def test_a_model_trains_with_each(rng, tmp_path, name):
    x = rng.standard_normal((16, 5, 2))
    if name in ("kl_divergence", "categorical_hinge"):
        y = np.eye(3)[rng.integers(0, 3, 16)]
        head = Dense(3, activation="softmax")
    elif name == "cosine_similarity":  # of one output it is -1 or 1, whatever the model
        y = rng.standard_normal((16, 3))
        head = Dense(3)
    elif name in ("hinge", "squared_hinge"):
        y = rng.integers(0, 2, (16, 1)).astype(float)
        head = Dense(1, activation="tanh")
    else:
        y = rng.uniform(0.5, 2.0, (16, 1))
        head = Dense(1, activation="softplus")
    model = Sequential([Input((5, 2)), LSTM(6), head], dtype="float64")
    model.compile("adam", name)
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=15, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first
    model.save(tmp_path / "m.lstmcore")
    again = load_model(tmp_path / "m.lstmcore")
    assert again.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))

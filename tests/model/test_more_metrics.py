"""MeanAbsolutePercentageError, RootMeanSquaredError, Precision, Recall and AUC, and ``sample_weight`` for
every metric: against Keras's numbers (the golden file written by make_convenience_golden.py, and
Keras live where it is installed), with and without weights ((B,), (B, 1), (B, T), (B, T, 1), per
element), streamed over uneven batches; Keras's docstring examples; names, configs and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lstmcore import Sequential
from lstmcore import metrics as M
from lstmcore.layers import LSTM, Dense
from lstmcore.metrics import (
    AUC,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    Precision,
    Recall,
    RootMeanSquaredError,
    get_metric,
)

GOLDEN = Path(__file__).resolve().parent / "data" / "keras_convenience.npz"
# Keras 3.15 on NumPy 2 warns (DeprecationWarning) in its own convert_to_numpy
KERAS_WARNINGS = pytest.mark.filterwarnings("ignore::DeprecationWarning")
# Keras sums and divides in float32; lstmcore in float64 (the counts themselves agree exactly)
RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as f:
        data = {k: f[k] for k in f.files}
    assert int(data["format_version"]) == 1
    return data


def met_cases(golden):
    return json.loads(str(golden["met_cases"]))


def case_arrays(golden, data, weight):
    y, p = golden[f"met/data/{data}/y_true"], golden[f"met/data/{data}/y_pred"]
    return y, p, None if weight == "none" else golden[f"met/weight/{weight}"]


def streamed(metric, y, p, w, batches) -> np.ndarray:
    for a, b in batches:
        metric.update(y[a:b], p[a:b], None if w is None else w[a:b])
    return np.atleast_1d(np.asarray(metric.result(), dtype=np.float64))


def assert_close(actual, expected, name, rtol=RTOL, atol=ATOL):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    ok = np.isclose(actual, expected, rtol=rtol, atol=atol)
    if not ok.all():
        first = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise AssertionError(
            f"{name}: largest abs diff {np.max(np.abs(actual - expected)):.3e}; first mismatch at {first}: "
            f"{actual[first]!r} vs {expected[first]!r}"
        )


# Against Keras -------------------------------------------------------------------------------------


def test_golden_file_covers_the_new_metrics_and_weights(golden):
    cases = met_cases(golden)
    names = {c[0] for c in cases}
    assert {"MeanAbsolutePercentageError", "RootMeanSquaredError", "Precision", "Recall", "AUC"} <= names
    assert {c[3] for c in cases} == {"none", "mask", "mask1", "wB", "wB1", "wBC"}
    assert any(c[2] == "bin" and c[3] == "mask" for c in cases)  # (B, T) weight, (B, T, C) predictions


def test_matches_keras_golden(golden):
    batches = json.loads(str(golden["met_batches"]))
    for i, (cls_name, kwargs, data, weight) in enumerate(met_cases(golden)):
        y, p, w = case_arrays(golden, data, weight)
        got = streamed(getattr(M, cls_name)(**kwargs), y, p, w, batches)
        assert_close(got, golden[f"met/{i}"], f"case {i}: {cls_name}({kwargs}) on {data}, weight {weight}")


@KERAS_WARNINGS
def test_matches_keras_live(golden, keras):
    from make_convenience_golden import keras_metric_result

    batches = json.loads(str(golden["met_batches"]))
    for i, (cls_name, kwargs, data, weight) in enumerate(met_cases(golden)):
        y, p, w = case_arrays(golden, data, weight)
        live = keras_metric_result(keras, cls_name, kwargs, y, p, w, batches)
        got = streamed(getattr(M, cls_name)(**kwargs), y, p, w, batches)
        name = f"case {i}: {cls_name}({kwargs}) on {data}, weight {weight}"
        assert_close(got, live, name + " (Keras live)")
        assert_close(live, golden[f"met/{i}"], name + " (golden file)")


@KERAS_WARNINGS
def test_configs_have_keras_keys(keras):
    for ours, theirs in [
        (MeanAbsolutePercentageError(), keras.metrics.MeanAbsolutePercentageError()),
        (RootMeanSquaredError(), keras.metrics.RootMeanSquaredError()),
        (
            Precision(thresholds=[0.2, 0.4], class_id=1),
            keras.metrics.Precision(thresholds=[0.2, 0.4], class_id=1),
        ),
        (Recall(top_k=3), keras.metrics.Recall(top_k=3)),
        (AUC(), keras.metrics.AUC()),
        (
            AUC(curve="PR", thresholds=[0.1, 0.5], multi_label=True, num_labels=2, label_weights=[1.0, 2.0]),
            keras.metrics.AUC(
                curve="PR", thresholds=[0.1, 0.5], multi_label=True, num_labels=2, label_weights=[1.0, 2.0]
            ),
        ),
    ]:
        config, want = ours.get_config(), theirs.get_config()
        assert config.pop("class_name") == type(ours).__name__
        assert want.pop("name").startswith(config.pop("name"))  # Keras numbers its names: precision_2
        want.pop("dtype")
        if want.get("label_weights") is not None:
            want["label_weights"] = keras.ops.convert_to_numpy(want["label_weights"]).tolist()
        assert config == want, type(ours).__name__
        assert json.loads(json.dumps(config)) == config
        if isinstance(ours, AUC):
            np.testing.assert_allclose(ours.thresholds, theirs.thresholds, rtol=0, atol=1e-15)


# Keras's docstring examples -------------------------------------------------------------------------


def test_keras_docstring_examples():
    m = Precision()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    assert m.result() == 1.0
    m = Precision(top_k=2)  # ties: the first k, as Keras's example
    m.update_state([0, 0, 1, 1], [1, 1, 1, 1])
    assert m.result() == 0.0
    m = Precision(top_k=4)
    m.update_state([0, 0, 1, 1], [1, 1, 1, 1])
    assert m.result() == 0.5
    m = Recall()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    assert m.result() == 1.0
    m = MeanAbsolutePercentageError()
    m.update_state(np.array([[0, 1], [0, 0]]), np.array([[1, 1], [0, 0]]))
    assert m.result() == pytest.approx(250000000.0)
    m.reset_state()
    m.update_state(np.array([[0, 1], [0, 0]]), np.array([[1, 1], [0, 0]]), sample_weight=[1, 0])
    assert m.result() == pytest.approx(500000000.0)
    m = RootMeanSquaredError()
    m.update_state(np.array([[0, 1], [0, 0]]), np.array([[1, 1], [0, 0]]))
    assert m.result() == 0.5
    m.reset_state()
    m.update_state(np.array([[0, 1], [0, 0]]), np.array([[1, 1], [0, 0]]), sample_weight=[1, 0])
    assert m.result() == pytest.approx(0.70710677)
    m = AUC(num_thresholds=3)
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert m.result() == 0.75
    m.reset_state()
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
    assert m.result() == 1.0


def test_auc_defaults_and_thresholds():
    m = AUC()
    assert m.num_thresholds == 200 and m.curve == "ROC" and m.summation_method == "interpolation"
    t = m.thresholds
    assert len(t) == 200 and t[0] == -1e-7 and t[-1] == 1 + 1e-7
    np.testing.assert_allclose(t[1:-1], np.arange(1, 199) / 199, rtol=1e-15)
    m = AUC(thresholds=[0.7, 0.2])
    assert m.num_thresholds == 4 and m.thresholds == [-1e-7, 0.2, 0.7, 1 + 1e-7]
    assert m.get_config()["thresholds"] == [0.2, 0.7]
    assert AUC(curve="pr").curve == "PR" and AUC(summation_method="Minoring").summation_method == "minoring"


def test_auc_close_to_exact_roc_area(rng):
    # with 200 thresholds and uniform scores the approximation is within ~1e-3 of the exact area
    y = (rng.random(4000) < 0.4).astype(float)
    p = np.clip(0.35 * y + 0.65 * rng.random(4000), 0, 1)
    pos, neg = p[y == 1], p[y == 0]
    exact = np.mean(pos[:, None] > neg[None, :]) + 0.5 * np.mean(pos[:, None] == neg[None, :])
    m = AUC()
    m.update(y, p)
    assert m.result() == pytest.approx(exact, abs=2e-3)


# Weighting -----------------------------------------------------------------------------------------


def test_sequence_mask_weighs_steps(rng):
    B, T, C = 4, 6, 3
    y, p = rng.standard_normal((B, T, C)), rng.standard_normal((B, T, C))
    mask = (rng.random((B, T)) > 0.4).astype(np.float32)
    per_step = np.mean((y - p) ** 2, axis=-1)  # (B, T)
    want = np.sum(per_step * mask) / np.sum(mask)
    for w in (mask, mask[..., None]):
        m = MeanSquaredError()
        m.update(y, p, sample_weight=w)
        assert m.result() == pytest.approx(want, rel=1e-12)
    # the same, streamed over batches of unequal sizes
    m = MeanSquaredError()
    for a, b in [(0, 1), (1, 4)]:
        m.update_state(y[a:b], p[a:b], mask[a:b])
    assert m.result() == pytest.approx(want, rel=1e-12)
    # a (B,) weight covers every step of its sample
    wb = rng.random(B)
    m = MeanSquaredError()
    m.update(y, p, sample_weight=wb)
    assert m.result() == pytest.approx(np.sum(per_step * wb[:, None]) / (T * np.sum(wb)), rel=1e-12)
    # masked steps of the confusion metrics do not count either
    yb, pb = (rng.random((B, T, C)) > 0.5).astype(float), rng.random((B, T, C))
    m = Precision()
    m.update(yb, pb, sample_weight=mask)
    keep = np.broadcast_to(mask[..., None], yb.shape).astype(bool)
    direct = Precision()
    direct.update(yb[keep], pb[keep])
    assert m.result() == pytest.approx(direct.result(), rel=1e-12)


def test_weighted_mean_is_sum_of_w_times_values_over_sum_of_w(rng):
    y, p = rng.standard_normal((7, 2)), rng.standard_normal((7, 2))
    w = rng.random(7)
    for cls, values in [
        (MeanSquaredError, np.mean((y - p) ** 2, axis=-1)),
        (M.MeanAbsoluteError, np.mean(np.abs(y - p), axis=-1)),
        (MeanAbsolutePercentageError, 100 * np.mean(np.abs(y - p) / np.abs(y), axis=-1)),
    ]:
        for sw in (w, w[:, None]):
            m = cls()
            m.update(y, p, sample_weight=sw)
            assert m.result() == pytest.approx(np.sum(values * w) / np.sum(w), rel=1e-12), cls.__name__
    m = RootMeanSquaredError()
    m.update(y, p, sample_weight=w)
    assert m.result() == pytest.approx(
        np.sqrt(np.sum((y - p) ** 2 * w[:, None]) / (2 * np.sum(w))), rel=1e-12
    )
    we = rng.random((7, 2))  # RMSE's values are per element, so is its weight
    m = RootMeanSquaredError()
    m.update(y, p, sample_weight=we)
    assert m.result() == pytest.approx(np.sqrt(np.sum((y - p) ** 2 * we) / np.sum(we)), rel=1e-12)


def test_zero_weights_give_zero_and_unweighted_calls_are_unchanged(rng):
    y, p = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    for cls in (MeanSquaredError, RootMeanSquaredError, MeanAbsolutePercentageError, Precision, Recall, AUC):
        m = cls()
        m.update(y > 0, np.abs(p) / 3, sample_weight=np.zeros(5))
        assert m.result() == 0.0, cls.__name__
    m = MeanSquaredError()
    m.update(y, p)  # positional, as the model calls it
    assert m.result() == pytest.approx(np.mean((y - p) ** 2), rel=1e-12)
    ones = MeanSquaredError()
    ones.update(y, p, sample_weight=np.ones(5))
    assert ones.result() == pytest.approx(m.result(), rel=1e-15)


@pytest.mark.parametrize(
    "metric",
    [MeanSquaredError(), RootMeanSquaredError(), MeanAbsolutePercentageError(), Precision(), Recall(), AUC()],
    ids=lambda m: type(m).__name__,
)
def test_streaming_equals_one_update(metric, rng):
    B, T, C = 9, 4, 2
    y = (rng.random((B, T, C)) > 0.5).astype(float)
    p = rng.random((B, T, C))
    mask = (rng.random((B, T)) > 0.3).astype(float)
    for w in (None, mask):
        metric.reset()
        metric.update(y, p, w)
        full = metric.result()
        for bounds in ([0, 4, 5, 9], [0, 1, 9], [0, 3, 6, 9]):
            metric.reset_state()
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                metric.update(y[a:b], p[a:b], None if w is None else w[a:b])
            assert metric.result() == pytest.approx(full, rel=1e-12)
        assert isinstance(metric.result(), float)


def test_thresholds_lists_give_arrays():
    m = Precision(thresholds=[0.0, 0.5, 1.0])
    m.update([1, 0, 1, 1], [0.0, 0.6, 0.7, 1.0])
    np.testing.assert_allclose(m.result(), [2 / 3, 2 / 3, 0.0])  # 0 is not above 0; 1 not above 1
    m = Recall(thresholds=[0.65])
    m.update([1, 0, 1, 1], [0.0, 0.6, 0.7, 1.0])
    assert m.result() == pytest.approx(2 / 3)


# Names, arguments, errors, the model ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("mape", MeanAbsolutePercentageError),
        ("MAPE", MeanAbsolutePercentageError),
        ("mean_absolute_percentage_error", MeanAbsolutePercentageError),
        ("MeanAbsolutePercentageError", MeanAbsolutePercentageError),
        ("root_mean_squared_error", RootMeanSquaredError),
        ("RootMeanSquaredError", RootMeanSquaredError),
        ("precision", Precision),
        ("Precision", Precision),
        ("recall", Recall),
        ("auc", AUC),
        ("AUC", AUC),
    ],
)
def test_get_metric_keras_names(name, cls):
    m = get_metric(name)
    assert type(m) is cls and m.name == name


def test_rmse_is_not_a_keras_name():
    with pytest.raises(ValueError, match="unknown metric 'rmse'.*'root_mean_squared_error'"):
        get_metric("rmse")


@pytest.mark.parametrize(
    ("make", "error", "word"),
    [
        (lambda: Precision(thresholds=1.5), ValueError, "1.5"),
        (lambda: Recall(thresholds=[0.5, -0.1]), ValueError, "-0.1"),
        (lambda: Precision(thresholds=[]), ValueError, r"\[\]"),
        (lambda: Precision(top_k=0), ValueError, "top_k=0"),
        (lambda: Precision(top_k=1.5), TypeError, "top_k=1.5"),
        (lambda: Recall(class_id=-1), ValueError, "class_id=-1"),
        (lambda: AUC(num_thresholds=1), ValueError, "num_thresholds=1"),
        (lambda: AUC(num_thresholds=True), TypeError, "num_thresholds=True"),
        (lambda: AUC(curve="roc_curve"), ValueError, "roc_curve"),
        (lambda: AUC(summation_method="trapezoid"), ValueError, "trapezoid"),
        (lambda: AUC(thresholds=[2.0]), ValueError, "2.0"),
        (lambda: AUC(num_labels=3), ValueError, "num_labels=3"),
        (lambda: AUC(label_weights=[1.0, -1.0]), ValueError, "-1.0"),
        (lambda: AUC(multi_label="yes"), TypeError, "'yes'"),
        (lambda: AUC(from_logits=1), TypeError, "from_logits=1"),
    ],
)
def test_bad_arguments_raise(make, error, word):
    with pytest.raises(error, match=word):
        make()


def test_bad_inputs_raise(rng):
    y, p = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(4, 2\)"):
        MeanSquaredError().update(y, p, sample_weight=np.ones((4, 2)))
    with pytest.raises(TypeError, match="sample_weight must be a numeric array"):
        MeanSquaredError().update(y, p, sample_weight=np.array(["a"] * 4))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3, 1, 1\)"):
        Precision().update(y > 0, np.abs(p), sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="same shape"):
        Precision().update(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="rank 2"):
        AUC(multi_label=True).update(y > 0, np.abs(p))
    m = AUC(multi_label=True)
    m.update(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="2 labels"):
        m.update(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="top_k=3"):
        Precision(top_k=3).update(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="class_id=2"):
        Recall(class_id=2).update(np.zeros((4, 2)), np.zeros((4, 2)))


def test_model_reports_the_new_metrics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 3, 2)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.float32)[:, None]
    model = Sequential([LSTM(4, input_shape=(3, 2)), Dense(1, activation="sigmoid")])
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["auc", "precision", "recall", "mape", RootMeanSquaredError(name="rmse")],
    )
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_split=0.25)
    for key in ("auc", "precision", "recall", "mape", "rmse", "val_auc", "val_rmse"):
        assert len(history.history[key]) == 2, key
    out = model.predict(x[18:])
    m = AUC()
    m.update(y[18:], out)
    assert history.history["val_auc"][-1] == pytest.approx(m.result(), rel=1e-9)

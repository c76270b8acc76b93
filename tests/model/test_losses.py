"""Losses (values against NumPy formulas, gradients against central differences, Keras details) and
the stateful metrics (batch-weighted averaging, Keras's resolution of 'accuracy')."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit

from lstmcore import losses
from lstmcore import metrics as metrics_mod
from lstmcore.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
)
from lstmcore.metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    get_metric,
)

EPS = 1e-7  # keras.config.epsilon()
K = 4  # classes in the classification cases


# Reference formulas, written out plainly: per-sample loss, then the mean over samples ------------------


def ref_mse(y, p):
    return np.mean(np.mean((y - p) ** 2, axis=-1))


def ref_mae(y, p):
    return np.mean(np.mean(np.abs(y - p), axis=-1))


def ref_huber(y, p, delta=1.0):
    e = np.abs(p - y)
    per = np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2)
    return np.mean(np.mean(per, axis=-1))


def ref_bce(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return np.mean(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)), axis=-1))


def ref_bce_logits(y, x):
    s = 1 / (1 + np.exp(-x))
    return np.mean(np.mean(-(y * np.log(s) + (1 - y) * np.log(1 - s)), axis=-1))


def ref_cce(y, p):
    q = np.clip(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS)
    return np.mean(-np.sum(y * np.log(q), axis=-1))


def ref_cce_logits(y, x):
    e = np.exp(x)
    return np.mean(-np.sum(y * np.log(e / e.sum(axis=-1, keepdims=True)), axis=-1))


def one_hot(ids, k=K):
    return np.eye(k)[np.asarray(ids, dtype=int).reshape(-1)]


def central_diff(f, y_pred, h=1e-6):
    grad = np.zeros_like(y_pred)
    for i in np.ndindex(y_pred.shape):
        up, down = y_pred.copy(), y_pred.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad


# Cases: (loss, reference, y_true, y_pred) -------------------------------------------------------------


def regression_data(rng, shape):
    y = rng.standard_normal(shape)
    p = rng.standard_normal(shape)
    # keep |p - y| away from the kinks (0 for mae, delta for huber) so differences are smooth
    d = p - y
    d = np.where(np.abs(d) < 0.05, 0.3 * np.sign(d + 1e-12), d)
    d = np.where(np.abs(np.abs(d) - 1.0) < 0.05, 1.3 * np.sign(d), d)
    d = np.where(np.abs(np.abs(d) - 0.5) < 0.05, 0.7 * np.sign(d), d)
    return y, y + d


def cases(rng):
    out = []
    for shape in [(5, 3), (4, 1)]:
        y, p = regression_data(rng, shape)
        out += [
            (f"mse{shape}", MeanSquaredError(), ref_mse, y, p),
            (f"mae{shape}", MeanAbsoluteError(), ref_mae, y, p),
            (f"huber{shape}", Huber(), ref_huber, y, p),
            (f"huber-delta0.5{shape}", Huber(delta=0.5), lambda y, p: ref_huber(y, p, 0.5), y, p),
        ]
        yb = (rng.random(shape) > 0.5).astype(float)
        soft = rng.random(shape)  # soft labels are allowed
        prob = rng.uniform(0.05, 0.95, shape)
        logits = rng.standard_normal(shape) * 2
        out += [
            (f"bce{shape}", BinaryCrossentropy(), ref_bce, yb, prob),
            (f"bce-soft{shape}", BinaryCrossentropy(), ref_bce, soft, prob),
            (f"bce-logits{shape}", BinaryCrossentropy(from_logits=True), ref_bce_logits, yb, logits),
        ]
    n = 5
    ids = rng.integers(0, K, n)
    y_onehot = one_hot(ids)
    y_soft = rng.dirichlet(np.ones(K), n)
    unnormalised = rng.uniform(0.1, 2.0, (n, K))  # not summing to one: the division is tested too
    logits = rng.standard_normal((n, K)) * 2
    out += [
        ("cce", CategoricalCrossentropy(), ref_cce, y_onehot, unnormalised),
        ("cce-soft", CategoricalCrossentropy(), ref_cce, y_soft, unnormalised),
        ("cce-logits", CategoricalCrossentropy(from_logits=True), ref_cce_logits, y_onehot, logits),
        ("cce-logits-soft", CategoricalCrossentropy(from_logits=True), ref_cce_logits, y_soft, logits),
        ("sparse", SparseCategoricalCrossentropy(), lambda y, p: ref_cce(one_hot(y), p), ids, unnormalised),
        (
            "sparse-logits",
            SparseCategoricalCrossentropy(from_logits=True),
            lambda y, p: ref_cce_logits(one_hot(y), p),
            ids.reshape(n, 1).astype(float),
            logits,
        ),
    ]
    # a sequence output (B, T, O): samples are the B*T rows
    y3, p3 = regression_data(rng, (2, 3, 2))
    out.append(("mse-3d", MeanSquaredError(), ref_mse, y3, p3))
    out.append(("cce-3d", CategoricalCrossentropy(), ref_cce, one_hot(rng.integers(0, K, 6)).reshape(2, 3, K),
                rng.uniform(0.1, 1.0, (2, 3, K))))  # fmt: skip
    return out


CASE_IDS = [c[0] for c in cases(np.random.default_rng(0))]


@pytest.fixture(params=range(len(CASE_IDS)), ids=CASE_IDS)
def case(request):
    return cases(np.random.default_rng(0))[request.param][1:]


def test_value_matches_formula(case):
    loss, ref, y, p = case
    value = loss.forward(y, p)
    assert type(value) is float
    assert value == pytest.approx(ref(y, p), rel=1e-12, abs=1e-15)
    assert loss(y, p) == value


def test_gradient_matches_central_differences(case):
    loss, _, y, p = case
    grad = loss.backward(y, p)
    assert grad.shape == p.shape and grad.dtype == np.float64
    numeric = central_diff(lambda q: loss.forward(y, q), p)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_float32_in_float32_out(case):
    loss, ref, y, p = case
    p32 = p.astype(np.float32)
    grad = loss.backward(y, p32)
    assert grad.dtype == np.float32 and grad.shape == p.shape
    np.testing.assert_allclose(grad, loss.backward(y, p), rtol=2e-4, atol=1e-6)
    assert loss.forward(y, p32) == pytest.approx(ref(y, p), rel=1e-5)
    # y_true of another dtype (int, float64) is cast to y_pred's
    assert loss.backward(y.astype(np.float64), p32).dtype == np.float32


def test_mse_mae_huber_known_values():
    y = np.array([[0.0, 1.0], [0.0, 0.0]])
    p = np.array([[1.0, 1.0], [1.0, 0.0]])
    # Keras docstring example for MeanSquaredError / MeanAbsoluteError: 0.5
    assert MeanSquaredError()(y, p) == 0.5
    assert MeanAbsoluteError()(y, p) == 0.5
    # Keras docstring example for Huber: y_true [[0, 1], [0, 0]], y_pred [[0.6, 0.4], [0.4, 0.6]] -> 0.155
    assert Huber()(y, np.array([[0.6, 0.4], [0.4, 0.6]])) == pytest.approx(0.155, abs=1e-6)
    # mae subgradient is 0 where y_pred == y_true
    g = MeanAbsoluteError().backward(y, np.array([[0.0, 2.0], [-1.0, 0.0]]))
    np.testing.assert_array_equal(g, [[0.0, 0.25], [-0.25, 0.0]])


def test_crossentropy_known_values():
    # Keras docstring examples (keras/src/losses/losses.py)
    y = np.array([[0.0, 1.0], [0.0, 0.0]])
    logits = np.array([[-18.6, 0.51], [2.94, -12.8]])
    assert BinaryCrossentropy(from_logits=True)(y, logits) == pytest.approx(0.865, abs=1e-3)
    y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    p = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    assert CategoricalCrossentropy()(y, p) == pytest.approx(1.177, abs=1e-3)
    assert SparseCategoricalCrossentropy()([1, 2], p) == pytest.approx(1.177, abs=1e-3)


def test_bce_clipped_region_has_zero_gradient():
    # p at and beyond the clip bounds: the loss uses eps / 1-eps there and its gradient is 0
    y = np.array([[1.0, 0.0, 1.0, 0.0, 1.0]])
    p = np.array([[0.0, 1.0, 1e-9, 1.0 - 1e-9, 0.4]])
    loss = BinaryCrossentropy()
    value = loss(y, p)
    expected = np.mean([-np.log(EPS), -np.log(EPS), -np.log(EPS), -np.log(1 - (1 - EPS)), -np.log(0.4)])
    assert value == pytest.approx(expected, rel=1e-9)
    grad = loss.backward(y, p)
    np.testing.assert_array_equal(grad[0, :4], 0.0)
    assert grad[0, 4] == pytest.approx(-1 / 0.4 / 5, rel=1e-12)
    numeric = central_diff(lambda q: loss.forward(y, q), p, h=1e-10)
    np.testing.assert_allclose(grad[0, :4], numeric[0, :4], atol=1e-6)
    # no eps inside the log (Keras 3): p = 0.5 gives exactly log(2)
    assert loss(np.array([[1.0]]), np.array([[0.5]])) == pytest.approx(np.log(2), rel=1e-15)
    # float32: the bounds are taken in float32 and the gradient is still 0 beyond them
    g32 = loss.backward(y, p.astype(np.float32))
    np.testing.assert_array_equal(g32[0, :4], 0.0)


def test_cce_clipped_class_has_zero_own_gradient_but_normalisation_flows():
    # class 3 has q << eps: its log term is clipped (no gradient through it), but p_3 still moves
    # the sum that normalises the other classes
    y = np.array([[0.2, 0.3, 0.1, 0.4]])
    p = np.array([[0.5, 0.3, 0.2, 1e-12]])
    loss = CategoricalCrossentropy()
    grad = loss.backward(y, p)
    numeric = central_diff(lambda q: loss.forward(y, q), p, h=1e-10)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)
    # d/dp_3 = (sum of y over unclipped classes) / s, the normalisation term only
    assert grad[0, 3] == pytest.approx(0.6 / p.sum(), rel=1e-9)


def test_logits_are_stable_for_large_values():
    x = np.array([[800.0, -800.0, 30.0]])
    y = np.array([[0.0, 1.0, 1.0]])
    value = BinaryCrossentropy(from_logits=True)(y, x)
    assert value == pytest.approx((800 + 800 + np.log1p(np.exp(-30))) / 3, rel=1e-12)
    np.testing.assert_allclose(
        BinaryCrossentropy(from_logits=True).backward(y, x), (expit(x) - y) / 3, rtol=1e-12, atol=1e-300
    )
    x = np.array([[1000.0, 0.0, -1000.0]])
    y = np.array([[0.0, 0.0, 1.0]])
    assert CategoricalCrossentropy(from_logits=True)(y, x) == pytest.approx(2000.0, rel=1e-12)
    g = CategoricalCrossentropy(from_logits=True).backward(y, x)
    np.testing.assert_allclose(g, [[1.0, 0.0, -1.0]], atol=1e-12)


@pytest.mark.parametrize(
    "loss",
    [MeanSquaredError(), MeanAbsoluteError(), Huber(), BinaryCrossentropy(), CategoricalCrossentropy()],
)
def test_shape_mismatch_raises_with_both_shapes(loss):
    for y_shape, p_shape in [((5, 3), (5, 4)), ((4,), (4, 1)), ((4, 1), (4,)), ((2, 3), (3, 2))]:
        with pytest.raises(
            ValueError, match=rf"{y_shape}.*{p_shape}".replace("(", r"\(").replace(")", r"\)")
        ):
            loss.forward(np.zeros(y_shape), np.full(p_shape, 0.5))
        with pytest.raises(ValueError, match="same shape"):
            loss.backward(np.zeros(y_shape), np.full(p_shape, 0.5))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="non-empty"):
        MeanSquaredError()(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="non-empty"):
        MeanSquaredError()(1.0, 1.0)
    with pytest.raises(TypeError, match="y_true"):
        MeanSquaredError()(np.array([["a"]]), np.zeros((1, 1)))
    with pytest.raises(TypeError, match="y_pred"):
        MeanSquaredError()(np.zeros((1, 1)), np.array([["a"]]))


def test_sparse_targets():
    loss = SparseCategoricalCrossentropy()
    p = np.random.default_rng(1).uniform(0.1, 1.0, (3, K))
    want = ref_cce(one_hot([0, 3, 1]), p)
    for y in ([0, 3, 1], np.array([[0], [3], [1]]), np.array([0.0, 3.0, 1.0]), np.array([0, 3, 1], np.uint8)):
        assert loss(y, p) == pytest.approx(want, rel=1e-12)
        assert loss.backward(y, p).shape == p.shape
    for y, msg in [
        ([0, 4, 1], "outside"),
        ([0, -1, 1], "outside"),
        ([0.0, 1.5, 1.0], "integer"),
        ([0.0, np.nan, 1.0], "integer"),
        ([0, 1], "one class id per sample"),
        (np.zeros((3, K)), "one class id per sample"),
    ]:
        with pytest.raises(ValueError, match=msg):
            loss.forward(y, p)
    # sequences: (B, T) ids for (B, T, C) predictions
    p3 = np.random.default_rng(2).uniform(0.1, 1.0, (2, 3, K))
    ids = np.array([[0, 1, 2], [3, 0, 1]])
    assert loss(ids, p3) == pytest.approx(ref_cce(one_hot(ids).reshape(2, 3, K), p3), rel=1e-12)


# get / config ----------------------------------------------------------------------------------------

ALIASES = [
    ("mse", MeanSquaredError),
    ("mean_squared_error", MeanSquaredError),
    ("mae", MeanAbsoluteError),
    ("mean_absolute_error", MeanAbsoluteError),
    ("huber", Huber),
    ("huber_loss", Huber),
    ("binary_crossentropy", BinaryCrossentropy),
    ("bce", BinaryCrossentropy),
    ("categorical_crossentropy", CategoricalCrossentropy),
    ("cce", CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", SparseCategoricalCrossentropy),
    ("MeanSquaredError", MeanSquaredError),
    ("SparseCategoricalCrossentropy", SparseCategoricalCrossentropy),
]


@pytest.mark.parametrize(("name", "cls"), ALIASES)
def test_get_by_name(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls
    assert loss.get_config() == cls().get_config()


def test_default_names_and_args_are_keras():
    assert MeanSquaredError().name == "mean_squared_error"
    assert MeanAbsoluteError().name == "mean_absolute_error"
    assert Huber().name == "huber_loss" and Huber().delta == 1.0
    assert BinaryCrossentropy().name == "binary_crossentropy" and not BinaryCrossentropy().from_logits
    assert CategoricalCrossentropy().name == "categorical_crossentropy"
    assert SparseCategoricalCrossentropy().name == "sparse_categorical_crossentropy"


@pytest.mark.parametrize(
    "loss",
    [
        MeanSquaredError(),
        MeanAbsoluteError(),
        Huber(delta=2.5),
        BinaryCrossentropy(from_logits=True),
        CategoricalCrossentropy(from_logits=True),
        SparseCategoricalCrossentropy(),
        Huber(name="my_huber"),
    ],
)
def test_config_round_trip(loss):
    config = loss.get_config()
    assert config == json.loads(json.dumps(config))
    again = losses.get(config)
    assert type(again) is type(loss) and again.get_config() == config
    assert losses.serialize(loss) == config


def test_get_instance_keras_config_and_unknown():
    loss = Huber()
    assert losses.get(loss) is loss
    keras_style = {
        "module": "keras.losses",
        "class_name": "BinaryCrossentropy",
        "config": {"name": "binary_crossentropy", "reduction": "sum_over_batch_size", "from_logits": True,
                   "label_smoothing": 0.0, "axis": -1},
        "registered_name": None,
    }  # fmt: skip
    got = losses.get(keras_style)
    assert isinstance(got, BinaryCrossentropy) and got.from_logits
    keras_style["config"]["label_smoothing"] = 0.1
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.get(keras_style)
    assert isinstance(losses.get({"name": "huber", "delta": 2.0}), Huber)
    with pytest.raises(ValueError, match="'mse'.*'sparse_categorical_crossentropy'"):
        losses.get("dice")
    with pytest.raises(ValueError, match="valid names"):
        losses.get({"class_name": "Dice", "config": {}})
    with pytest.raises(ValueError, match="valid names"):
        losses.get(3)
    with pytest.raises(ValueError, match="invalid config"):
        losses.get({"class_name": "Huber", "config": {"bogus": 1}})


@pytest.mark.parametrize(
    ("make", "word"),
    [
        (lambda: Huber(delta=0), "delta"),
        (lambda: Huber(delta=float("nan")), "delta"),
        (lambda: Huber(delta="1"), "delta"),
        (lambda: BinaryCrossentropy(from_logits="yes"), "from_logits"),
        (lambda: CategoricalCrossentropy(from_logits=None), "from_logits"),
        (lambda: MeanSquaredError(name=""), "name"),
    ],
)
def test_bad_arguments_raise(make, word):
    with pytest.raises(ValueError, match=word):
        make()


# Metrics ----------------------------------------------------------------------------------------------


def _batches(n, sizes):
    bounds = np.cumsum([0, *sizes])
    assert bounds[-1] == n
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def metric_cases(rng):
    n = 23
    y_reg, p_reg = rng.standard_normal((n, 3)), rng.standard_normal((n, 3))
    y_bin = (rng.random((n, 1)) > 0.5).astype(float)
    p_bin = rng.random((n, 1))
    ids = rng.integers(0, K, n)
    p_cls = rng.random((n, K))
    y_int = rng.integers(0, 3, (n, 2)).astype(float)
    p_int = rng.integers(0, 3, (n, 2)).astype(float)
    return [
        ("mse", metrics_mod.MeanSquaredError(), y_reg, p_reg, np.mean((y_reg - p_reg) ** 2)),
        ("mae", metrics_mod.MeanAbsoluteError(), y_reg, p_reg, np.mean(np.abs(y_reg - p_reg))),
        ("binary", BinaryAccuracy(), y_bin, p_bin, np.mean((p_bin > 0.5) == y_bin)),
        ("categorical", CategoricalAccuracy(), one_hot(ids), p_cls, np.mean(p_cls.argmax(-1) == ids)),
        ("sparse", SparseCategoricalAccuracy(), ids.astype(float), p_cls, np.mean(p_cls.argmax(-1) == ids)),
        (
            "sparse-col",
            SparseCategoricalAccuracy(),
            ids.reshape(n, 1),
            p_cls,
            np.mean(p_cls.argmax(-1) == ids),
        ),
        ("accuracy", Accuracy(), y_int, p_int, np.mean(y_int == p_int)),
    ]


@pytest.mark.parametrize("idx", range(7), ids=[c[0] for c in metric_cases(np.random.default_rng(0))])
def test_metric_over_uneven_batches_equals_full_data(idx):
    _, metric, y, p, want = metric_cases(np.random.default_rng(0))[idx]
    assert metric.result() == 0.0
    metric.update(y, p)
    full = metric.result()
    assert full == pytest.approx(want, rel=1e-12)
    for sizes in ([10, 7, 6], [1, 22], [23], [5] * 4 + [3]):
        metric.reset()
        for sl in _batches(len(y), sizes):
            metric.update(y[sl], p[sl])
        assert metric.result() == pytest.approx(full, rel=1e-12), sizes
        assert isinstance(metric.result(), float)
    metric.reset_state()
    assert metric.result() == 0.0


def test_binary_accuracy_threshold_is_strict():
    m = BinaryAccuracy()
    m.update(np.array([[1.0], [0.0], [1.0], [0.0]]), np.array([[0.5], [0.5], [0.51], [0.2]]))
    assert m.result() == 0.75  # 0.5 is not above the threshold: predicted 0
    m = BinaryAccuracy(threshold=0.3)
    m.update(np.array([[1.0], [0.0]]), np.array([[0.4], [0.2]]))
    assert m.result() == 1.0
    with pytest.raises(ValueError, match="threshold"):
        BinaryAccuracy(threshold=1.0)


def test_keras_metric_examples():
    # docstring examples of keras/src/metrics/accuracy_metrics.py
    m = Accuracy()
    m.update(np.array([[1], [2], [3], [4]]), np.array([[0], [2], [3], [4]]))
    assert m.result() == 0.75
    m = BinaryAccuracy()
    m.update(np.array([[1], [1], [0], [0]]), np.array([[0.98], [1], [0], [0.6]]))
    assert m.result() == 0.75
    m = CategoricalAccuracy()
    m.update(np.array([[0, 0, 1], [0, 1, 0]]), np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
    assert m.result() == 0.5
    m = SparseCategoricalAccuracy()
    m.update(np.array([[2], [1]]), np.array([[0.1, 0.6, 0.3], [0.05, 0.95, 0]]))
    assert m.result() == 0.5


@pytest.mark.parametrize(
    ("loss", "y_shape", "p_shape", "cls"),
    [
        ("binary_crossentropy", (6, 1), (6, 1), BinaryAccuracy),
        ("categorical_crossentropy", (6, K), (6, K), CategoricalAccuracy),
        ("sparse_categorical_crossentropy", (6,), (6, K), SparseCategoricalAccuracy),
        ("sparse_categorical_crossentropy", (6, 1), (6, K), SparseCategoricalAccuracy),
        # Keras 3 decides from shapes, not from the loss: a single output is binary even with mse
        ("mse", (6, 1), (6, 1), BinaryAccuracy),
        (None, (6, K), (6, K), CategoricalAccuracy),
    ],
)
def test_accuracy_resolution(loss, y_shape, p_shape, cls):
    rng = np.random.default_rng(3)
    if cls is SparseCategoricalAccuracy:
        y = rng.integers(0, K, y_shape).astype(float)
    elif cls is BinaryAccuracy:
        y = (rng.random(y_shape) > 0.5).astype(float)
    else:
        y = one_hot(rng.integers(0, K, 6))
    p = rng.random(p_shape)
    for name in ("accuracy", "acc", "Accuracy"):  # case-insensitive, as Keras
        m = get_metric(name, loss=None if loss is None else losses.get(loss))
        assert m.name == name
        m.update(y[:4], p[:4])
        m.update(y[4:], p[4:])
        assert type(m.resolved) is cls
        direct = cls()
        direct.update(y, p)
        assert m.result() == pytest.approx(direct.result(), rel=1e-12)
        m.reset()
        assert m.result() == 0.0


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("mse", metrics_mod.MeanSquaredError),
        ("mean_squared_error", metrics_mod.MeanSquaredError),
        ("mae", metrics_mod.MeanAbsoluteError),
        ("mean_absolute_error", metrics_mod.MeanAbsoluteError),
        ("binary_accuracy", BinaryAccuracy),
        ("categorical_accuracy", CategoricalAccuracy),
        ("sparse_categorical_accuracy", SparseCategoricalAccuracy),
        ("BinaryAccuracy", BinaryAccuracy),
    ],
)
def test_get_metric_keeps_the_name_passed(name, cls):
    m = get_metric(name)
    assert type(m) is cls and m.name == name


def test_get_metric_instance_and_unknown():
    m = BinaryAccuracy(threshold=0.7)
    assert get_metric(m) is m
    with pytest.raises(ValueError, match="'accuracy'.*'mse'"):
        get_metric("rmse")  # not a Keras name either
    with pytest.raises(ValueError, match="valid names"):
        get_metric(None)


def test_metric_shape_mismatch_raises():
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(4, 3\)"):
        metrics_mod.MeanSquaredError().update(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="one class id per sample"):
        SparseCategoricalAccuracy().update(np.zeros((4, 3)), np.zeros((4, 3)))

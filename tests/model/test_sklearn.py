"""lstmcore.sklearn: LSTMRegressor and LSTMClassifier as scikit-learn estimators.

scikit-learn's own estimator checks, then what users do with them: Pipeline (with lstmcore's
scaler), clone, GridSearchCV, cross_val_score, pickle, string labels, sample weights, 2-D and 3-D
X, and the errors for bad parameters (raised at fit: the constructor only stores them). Tiny
networks and few epochs throughout.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import lstmcore  # noqa: E402
from lstmcore import initializers  # noqa: E402
from lstmcore.callbacks import EarlyStopping  # noqa: E402
from lstmcore.sklearn import LSTMClassifier, LSTMRegressor, expected_failed_checks  # noqa: E402
from lstmcore.timeseries import MinMaxScaler, make_windows  # noqa: E402

SMALL = {"units": 4, "epochs": 3, "random_state": 0}


# scikit-learn's checks -----------------------------------------------------------------------------
# The checks that cannot apply are listed, with the reason, by lstmcore.sklearn.
# expected_failed_checks: the sample-weight equivalence, which minibatch training does not have,
# and, in float32, the order and subset invariances (a row's result may move by 1 ulp with its
# place in the batch; the checks' rtol is 1e-7). What a tag can say (poor_score: a tiny network
# does not reach the accuracy those checks ask) is in the estimators' __sklearn_tags__.

GRU = {"units": 3, "cell": "gru", "layers": 2, "bidirectional": True, "dropout": 0.2, "epochs": 2}


@parametrize_with_checks(
    [
        LSTMRegressor(),  # the defaults
        LSTMClassifier(),
        LSTMRegressor(**GRU),
        LSTMRegressor(**GRU, dtype="float64"),  # float64: the invariances pass too
        LSTMClassifier(units=3, cell="rnn", layers=2, timesteps=1, optimizer="sgd", batch_size=7, epochs=3),
        LSTMClassifier(units=3, cell="rnn", dtype="float64"),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_expected_failed_checks_are_explained():
    invariances = {"check_methods_sample_order_invariance", "check_methods_subset_invariance"}
    f32 = expected_failed_checks(LSTMRegressor())
    assert all(isinstance(v, str) and v for v in f32.values())
    assert invariances <= set(f32) and "check_sample_weight_equivalence_on_dense_data" in f32
    assert not invariances & set(expected_failed_checks(LSTMClassifier(dtype="float64")))
    # a model of the user's may be float32
    assert invariances <= set(expected_failed_checks(LSTMRegressor(model=print, dtype="float64")))


# Data ----------------------------------------------------------------------------------------------


@pytest.fixture
def series_windows():
    """Windows of a noisy sine: X (N, 12) as 2-D rows, y the next value."""
    t = np.arange(300)
    series = 50 + 20 * np.sin(2 * np.pi * t / 25) + np.random.default_rng(0).normal(0, 1, t.size)
    X, y = make_windows(series, window=12)
    return X.reshape(len(X), -1), y[:, 0]


@pytest.fixture
def blobs():
    """Three classes by the sign pattern of two features, 3 steps of 2 features, string labels."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3, 2))
    code = (X[:, :, 0].mean(axis=1) > 0).astype(int) + (X[:, :, 1].mean(axis=1) > 0).astype(int)
    return X, np.array(["low", "mid", "high"])[code]


# Pipelines, clone, search, cross-validation --------------------------------------------------------


def test_pipeline_with_timeseries_scaler(series_windows):
    X, y = series_windows
    reg = make_pipeline(MinMaxScaler(), LSTMRegressor(units=8, epochs=20, learning_rate=0.01, random_state=0))
    # the target scaled too, by lstmcore's scaler again
    model = TransformedTargetRegressor(reg, transformer=MinMaxScaler()).fit(X[:200], y[:200])
    pred = model.predict(X[200:])
    assert pred.shape == (len(X) - 200,) and pred.dtype == np.float64
    assert model.score(X[200:], y[200:]) > 0.8
    fitted = model.regressor_[-1]
    assert fitted.input_shape_ == (12, 1) and fitted.n_features_in_ == 12


def test_clone():
    est = LSTMRegressor(units=5, cell="gru", callbacks=[EarlyStopping("loss")], random_state=3)
    c = clone(est)
    assert c is not est and c.get_params().keys() == est.get_params().keys()
    assert c.units == 5 and c.cell == "gru" and c.random_state == 3
    est.fit(np.ones((6, 4)), np.arange(6.0))
    c = clone(est)
    assert not hasattr(c, "model_")
    with pytest.raises(NotFittedError):
        c.predict(np.ones((2, 4)))


def test_grid_search_over_units_and_epochs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    y = X[:, -1] + 0.5 * X[:, -2]
    grid = GridSearchCV(
        LSTMRegressor(timesteps=3, random_state=0), {"units": [2, 4], "epochs": [1, 3]}, cv=2
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    best = grid.best_estimator_
    assert (best.units, best.epochs) == (grid.best_params_["units"], grid.best_params_["epochs"])
    assert len(best.history_["loss"]) == best.epochs
    assert best.model_.layers[0].units == best.units


def test_cross_val_score(blobs):
    X, y = blobs
    scores = cross_val_score(LSTMClassifier(units=4, epochs=2, random_state=0), X, y, cv=3)
    assert scores.shape == (3,) and ((0 <= scores) & (scores <= 1)).all()
    X2 = X.reshape(len(X), -1)
    r2 = cross_val_score(LSTMRegressor(timesteps=3, **SMALL), X2, X2[:, 0], cv=KFold(3))
    assert r2.shape == (3,) and np.isfinite(r2).all()


# Pickling --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [LSTMRegressor, LSTMClassifier])
def test_pickle_round_trip(cls, blobs):
    X, y = blobs
    if cls is LSTMRegressor:
        y = X[:, -1, 0]
    est = cls(units=4, epochs=2, random_state=0, bidirectional=True).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    if cls is LSTMClassifier:
        np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
        np.testing.assert_array_equal(back.classes_, est.classes_)
    assert back.history_ == est.history_ and back.get_params().keys() == est.get_params().keys()
    # the unpickled model trains on (a model pickled by itself would not: see __getstate__)
    before = back.predict(X) if cls is LSTMRegressor else back.predict_proba(X)
    back.partial_fit(X, y)
    after = back.predict(X) if cls is LSTMRegressor else back.predict_proba(X)
    assert not np.array_equal(before, after)
    assert len(back.history_["loss"]) == 3
    # deepcopy goes the same way; the original is untouched
    np.testing.assert_array_equal(copy.deepcopy(est).predict(X), est.predict(X))
    assert hasattr(est, "model_")


def test_pickle_unfitted():
    est = pickle.loads(pickle.dumps(LSTMRegressor(units=3)))
    assert est.units == 3 and not hasattr(est, "model_")


# Classification --------------------------------------------------------------------------------


def test_classifier_string_labels(blobs):
    X, y = blobs
    clf = LSTMClassifier(units=8, epochs=30, learning_rate=0.01, random_state=0).fit(X, y)
    assert clf.classes_.tolist() == ["high", "low", "mid"] and clf.n_classes_ == 3
    pred = clf.predict(X)
    assert set(pred) <= set(clf.classes_)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) > 0.7
    assert clf.model_.layers[-1].activation == "softmax"


def test_classifier_binary_labels(blobs):
    X, y = blobs
    yb = np.where(y == "high", "yes", "no")
    clf = LSTMClassifier(units=8, epochs=20, learning_rate=0.01, random_state=0).fit(X, yb)
    assert clf.model_.output_shape == (None, 1)  # one sigmoid unit: P(classes_[1])
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.score(X, yb) > 0.7
    # labels of any type: ints, bools
    assert LSTMClassifier(**SMALL).fit(X, yb == "yes").classes_.tolist() == [False, True]
    assert LSTMClassifier(**SMALL).fit(X, (yb == "yes") * 7 - 2).classes_.tolist() == [-2, 5]


def test_classifier_one_hot_loss(blobs):
    X, y = blobs
    clf = LSTMClassifier(loss="categorical_crossentropy", **SMALL).fit(X, y)
    assert clf.predict_proba(X).shape == (len(X), 3)


def test_classifier_partial_fit_with_classes(blobs):
    X, y = blobs
    clf = LSTMClassifier(**SMALL)
    clf.partial_fit(X[:10], y[:10], classes=["high", "low", "mid", "none"])
    assert clf.classes_.tolist() == ["high", "low", "mid", "none"]
    clf.partial_fit(X[10:], y[10:])
    assert len(clf.history_["loss"]) == 2
    with pytest.raises(ValueError, match=r"labels not in classes_.*'other'"):
        clf.partial_fit(X[:3], ["other", "low", "mid"])


def test_classifier_needs_two_classes(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="needs at least 2 classes in y, got 1 class"):
        LSTMClassifier(**SMALL).fit(X, np.full(len(X), "a"))


# Sample weights, X layouts, training ------------------------------------------------------------


def test_sample_weight_effect():
    # the target does not depend on X: the model learns the weighted mean of the two groups
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    y = np.r_[np.ones(32), -np.ones(32)]
    kw = {"units": 4, "epochs": 30, "learning_rate": 0.02, "batch_size": 16, "random_state": 0}
    means = {}
    for name, w in (("first", (10.0, 1.0)), ("second", (1.0, 10.0))):
        sw = np.r_[np.full(32, w[0]), np.full(32, w[1])]
        means[name] = LSTMRegressor(**kw).fit(X, y, sample_weight=sw).predict(X).mean()
    assert means["first"] > 0.5 and means["second"] < -0.5
    ones = LSTMRegressor(**kw).fit(X, y, sample_weight=np.ones(64)).predict(X)
    np.testing.assert_allclose(ones, LSTMRegressor(**kw).fit(X, y).predict(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "bad, match", [(np.ones(5), r"shape \(64,\)"), (-np.ones(64), ">= 0"), (np.zeros(64), "zero")]
)
def test_sample_weight_errors(bad, match):
    X = np.ones((64, 3))
    with pytest.raises(ValueError, match=match):
        LSTMRegressor(**SMALL).fit(X, np.ones(64), sample_weight=bad)


def test_2d_and_3d_X_give_the_same_model():
    rng = np.random.default_rng(0)
    X3 = rng.standard_normal((30, 4, 2))
    X2 = X3.reshape(30, 8)  # each row: the steps one after the other
    y = X3[:, -1, 1]
    a = LSTMRegressor(timesteps=4, **SMALL).fit(X2, y)
    b = LSTMRegressor(**SMALL).fit(X3, y)
    assert a.input_shape_ == b.input_shape_ == (4, 2)
    assert a.n_features_in_ == b.n_features_in_ == 8
    np.testing.assert_array_equal(a.predict(X2), b.predict(X3))
    np.testing.assert_array_equal(a.predict(X3), b.predict(X2))  # either layout at predict
    # timesteps=None: a 2-D row is a sequence of one feature
    c = LSTMRegressor(**SMALL).fit(X2, y)
    assert c.input_shape_ == (8, 1)
    # lists work as arrays do
    np.testing.assert_array_equal(LSTMRegressor(**SMALL).fit(X3.tolist(), y).predict(X3), b.predict(X3))


def test_X_shape_errors():
    X = np.ones((10, 6))
    est = LSTMRegressor(timesteps=3, **SMALL).fit(X, np.ones(10))
    with pytest.raises(ValueError, match="X has 5 features, but LSTMRegressor is expecting 6"):
        est.predict(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"X has shape \(2, 2, 2\), but LSTMRegressor was fitted on"):
        est.predict(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="X has 6 columns, which timesteps=4 does not divide"):
        LSTMRegressor(timesteps=4, **SMALL).fit(X, np.ones(10))
    with pytest.raises(ValueError, match=r"X has 3 time steps \(axis 1\), but timesteps=4"):
        LSTMRegressor(timesteps=4, **SMALL).fit(np.ones((10, 3, 2)), np.ones(10))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        LSTMRegressor(**SMALL).fit(np.full((10, 3, 2), np.nan), np.ones(10))


def test_multi_output_regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 6))
    Y = np.c_[X[:, 0], X[:, 1]]
    est = LSTMRegressor(timesteps=3, **SMALL).fit(X, Y)
    assert est.n_outputs_ == 2 and est.predict(X).shape == (20, 2)


def test_history_fit_resets_partial_fit_continues():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 4)), rng.standard_normal(30)
    est = LSTMRegressor(units=3, epochs=4, validation_split=0.2, random_state=0).fit(X, y)
    assert set(est.history_) == {"loss", "val_loss"} and len(est.history_["loss"]) == 4
    model = est.model_
    est.partial_fit(X, y)
    assert est.model_ is model and len(est.history_["loss"]) == 5
    est.fit(X, y)
    assert est.model_ is not model and len(est.history_["loss"]) == 4
    first = LSTMRegressor(units=3, random_state=0).partial_fit(X, y)
    assert len(first.history_["loss"]) == 1


def test_random_state():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 4)), rng.standard_normal(30)
    kw = {"units": 3, "epochs": 3, "dropout": 0.3}
    state = initializers._global["rng"].bit_generator.state
    a = LSTMRegressor(random_state=7, **kw).fit(X, y).predict(X)
    assert initializers._global["rng"].bit_generator.state == state  # lstmcore's own seed untouched
    np.testing.assert_array_equal(LSTMRegressor(random_state=7, **kw).fit(X, y).predict(X), a)
    np.testing.assert_array_equal(
        LSTMRegressor(random_state=np.random.RandomState(7), **kw).fit(X, y).predict(X), a
    )
    assert not np.array_equal(LSTMRegressor(random_state=8, **kw).fit(X, y).predict(X), a)


def test_callbacks_and_optimizer_are_copied():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 4)), rng.standard_normal(30)
    stop = EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    opt = lstmcore.optimizers.SGD(learning_rate=0.05)
    est = LSTMRegressor(units=3, epochs=5, callbacks=[stop], optimizer=opt, random_state=0).fit(X, y)
    assert len(est.history_["loss"]) == 2  # stopped by its copy of the callback
    assert est.callbacks[0] is stop and stop.model is None  # the parameter is left as given
    assert est.model_.optimizer is not opt and est.model_.optimizer.learning_rate == pytest.approx(0.05)


def test_user_model_function():
    calls = []

    def build(input_shape, n_outputs, units):
        calls.append((input_shape, n_outputs, units))
        model = lstmcore.Sequential(
            [lstmcore.Input(shape=input_shape), lstmcore.GRU(units), lstmcore.Dense(n_outputs)]
        )
        model.compile(optimizer="adam", loss="mae")
        return model

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 6)), rng.standard_normal(20)
    grid = GridSearchCV(LSTMRegressor(model=build, timesteps=2, epochs=1), {"units": [2, 3]}, cv=2).fit(X, y)
    assert {c[2] for c in calls} == {2, 3} and {c[:2] for c in calls} == {((2, 3), 1)}
    assert isinstance(grid.best_estimator_.model_.layers[0], lstmcore.GRU)

    def build_clf(**kw):  # takes everything
        model = lstmcore.Sequential(
            [
                lstmcore.Input(shape=kw["input_shape"]),
                lstmcore.LSTM(2),
                lstmcore.Dense(kw["n_classes"], "softmax"),
            ]
        )
        model.compile(loss="sparse_categorical_crossentropy")
        return model

    clf = LSTMClassifier(model=build_clf, epochs=1).fit(X, y > 0)
    assert clf.predict_proba(X).shape == (20, 2)


@pytest.mark.parametrize(
    "model, exc, match",
    [
        (
            lambda: lstmcore.Sequential([lstmcore.Input(shape=(6, 1)), lstmcore.Dense(1)]),
            ValueError,
            "compiled",
        ),
        (lambda: "a model", TypeError, "must return an lstmcore model"),
        (5, TypeError, "model must be None or a function"),
        (lstmcore.Sequential(), TypeError, "function returning a compiled lstmcore model"),
    ],
    ids=["uncompiled", "not-a-model", "not-callable", "an-instance"],
)
def test_user_model_errors(model, exc, match):
    with pytest.raises(exc, match=match):
        LSTMRegressor(model=model).fit(np.ones((4, 6)), np.ones(4))


@pytest.mark.parametrize(
    "param, value, exc, match",
    [
        ("units", 0, ValueError, r"units must be an int >= 1, got 0"),
        ("units", 2.5, TypeError, r"units must be an int >= 1, got 2.5 \(float\)"),
        ("cell", "lstmx", ValueError, r"cell must be one of \['gru', 'lstm', 'rnn'\], got 'lstmx'"),
        ("layers", 0, ValueError, "layers must be an int >= 1, got 0"),
        ("bidirectional", "yes", TypeError, "bidirectional must be a bool, got 'yes'"),
        ("dropout", 1.0, ValueError, r"dropout must be a float in \[0.0, 1.0\), got 1.0"),
        ("timesteps", 0, ValueError, "timesteps must be an int >= 1, got 0"),
        ("optimizer", 3, TypeError, r"optimizer must be a name .* got 3 \(int\)"),
        ("optimizer", "adamx", ValueError, "unknown optimizer 'adamx'"),
        ("learning_rate", -1.0, ValueError, "learning_rate must be a float > 0, got -1.0"),
        ("loss", 3, TypeError, r"loss must be None, a name .* got 3 \(int\)"),
        ("loss", "msex", ValueError, "unknown loss 'msex'"),
        ("epochs", -1, ValueError, "epochs must be an int >= 0, got -1"),
        ("batch_size", 0, ValueError, "batch_size must be an int >= 1, got 0"),
        ("validation_split", 1.0, ValueError, r"validation_split must be a float in \[0.0, 1.0\), got 1.0"),
        ("callbacks", [object()], TypeError, r"callbacks\[0\] must be an lstmcore.callbacks.Callback"),
        ("verbose", 3, ValueError, "verbose must be 0, 1 or 2, got 3"),
        ("dtype", "float16", ValueError, "dtype must be 'float32' or 'float64', got 'float16'"),
        ("random_state", "seed", ValueError, "cannot be used to seed"),
    ],
)
def test_bad_parameters_fail_at_fit(param, value, exc, match):
    est = LSTMRegressor(**{param: value})  # stored as given: scikit-learn's rule
    assert getattr(est, param) is value
    with pytest.raises(exc, match=match):
        est.fit(np.ones((4, 6)), np.ones(4))
    with pytest.raises(exc, match=match):
        LSTMClassifier(**{param: value}).fit(np.ones((4, 6)), [0, 1, 0, 1])


def test_without_sklearn_the_import_says_what_to_install():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['sklearn'] = None  # as if not installed\n"
        "import lstmcore  # lstmcore itself does not need it\n"
        "try:\n"
        "    import lstmcore.sklearn\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "pip install 'scikit-learn>=1.6'" in p.stdout, p.stdout

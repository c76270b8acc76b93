"""The scalers speak scikit-learn's transformer API: get_params(deep), set_params, fit(X, y=None),
fit_transform(X, y=None), transform, inverse_transform; they clone and go in a Pipeline.

The tests of the API itself need no scikit-learn; those that use scikit-learn skip without it.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from lstmcore.timeseries import MinMaxScaler, NotFittedError, StandardScaler

SCALERS = [MinMaxScaler, StandardScaler]


@pytest.fixture
def data(rng):
    return rng.standard_normal((40, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, -50.0]


# The API, without scikit-learn ---------------------------------------------------------------------


@pytest.mark.parametrize("deep", [True, False])
def test_get_params_deep(deep):
    assert MinMaxScaler((-1, 1)).get_params(deep=deep) == {"feature_range": [-1.0, 1.0]}
    assert StandardScaler().get_params(deep=deep) == {}


def test_get_params_returns_what_the_constructor_stored():
    # scikit-learn's clone checks that each parameter comes back as the very object passed in
    fr = [0.0, 2.0]
    s = MinMaxScaler(feature_range=fr)
    assert s.get_params()["feature_range"] is fr
    # other spellings are stored as a list of two floats, as before
    assert MinMaxScaler((0, 2)).feature_range == [0.0, 2.0]
    assert MinMaxScaler(np.array([0, 2])).get_params() == {"feature_range": [0.0, 2.0]}


def test_set_params(data):
    s = MinMaxScaler().fit(data)
    assert s.set_params(feature_range=(-1, 1)) is s
    assert s.get_params() == {"feature_range": [-1.0, 1.0]}
    z = s.transform(data)  # the fitted state is kept and the new range used
    np.testing.assert_allclose(z.min(axis=0), -1.0)
    np.testing.assert_allclose(z.max(axis=0), 1.0)
    assert StandardScaler().set_params() is not None


def test_set_params_errors():
    s = MinMaxScaler((0, 2))
    with pytest.raises(ValueError, match=r"invalid parameter 'range' for MinMaxScaler; expected one of"):
        s.set_params(range=(0, 1))
    with pytest.raises(ValueError, match="invalid parameter 'with_mean' for StandardScaler"):
        StandardScaler().set_params(with_mean=False)
    with pytest.raises(ValueError, match="feature_range must be finite with min < max"):
        s.set_params(feature_range=(3, 1))
    assert s.get_params() == {"feature_range": [0.0, 2.0]}  # a refused value changes nothing


@pytest.mark.parametrize("cls", SCALERS)
def test_fit_takes_y_and_ignores_it(cls, data):
    y = np.arange(len(data))
    a = cls().fit(data, y).transform(data)
    b = cls().fit(data).transform(data)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(cls().fit_transform(data, y), b)
    np.testing.assert_array_equal(cls().fit_transform(data, y=None), b)


@pytest.mark.parametrize("cls", SCALERS)
def test_pickle(cls, data):
    s = cls().fit(data)
    r = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(r.transform(data), s.transform(data))


# With scikit-learn ---------------------------------------------------------------------------------


@pytest.fixture
def sklearn():
    return pytest.importorskip("sklearn")


@pytest.mark.parametrize("cls", SCALERS)
def test_clone(sklearn, cls, data):
    from sklearn.base import clone

    s = cls() if cls is StandardScaler else cls(feature_range=(-2, 3))
    c = clone(s)
    assert type(c) is cls and c is not s
    assert c.get_params() == s.get_params()
    s.fit(data)
    c = clone(s)  # a clone is not fitted
    with pytest.raises(NotFittedError):
        c.transform(data)
    assert repr(c) == repr(s)


@pytest.mark.parametrize("cls", SCALERS)
def test_check_is_fitted(sklearn, cls, data):
    from sklearn.exceptions import NotFittedError as SkNotFittedError
    from sklearn.utils.validation import check_is_fitted

    s = cls()
    with pytest.raises(SkNotFittedError):
        check_is_fitted(s)
    check_is_fitted(s.fit(data))


@pytest.mark.parametrize("cls", SCALERS)
def test_tags(sklearn, cls):
    from sklearn.utils import get_tags

    tags = get_tags(cls())
    assert tags.transformer_tags is not None
    assert tags.target_tags.required is False
    assert "float32" in tags.transformer_tags.preserves_dtype


@pytest.mark.parametrize("cls", SCALERS)
def test_pipeline(sklearn, cls, data):
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline

    y = data @ [1.0, -2.0, 0.5] + 3.0
    pipe = Pipeline([("scale", cls()), ("reg", LinearRegression())]).fit(data, y)
    manual = LinearRegression().fit(cls().fit_transform(data), y)
    np.testing.assert_allclose(pipe.predict(data), manual.predict(cls().fit(data).transform(data)))
    # the scaler step inverts what it did
    z = pipe[:-1].transform(data)
    np.testing.assert_allclose(pipe[:-1].inverse_transform(z), data, rtol=1e-12, atol=1e-12)
    # float32 kept through the pipeline's transform
    assert pipe[:-1].transform(data.astype(np.float32)).dtype == np.float32


def test_grid_search_over_feature_range(sklearn, data):
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    y = data @ [1.0, -2.0, 0.5]
    pipe = Pipeline([("scale", MinMaxScaler()), ("reg", LinearRegression())])
    grid = GridSearchCV(pipe, {"scale__feature_range": [(0, 1), (-1, 1)]}, cv=2).fit(data, y)
    assert grid.best_params_["scale__feature_range"] in [(0, 1), (-1, 1)]
    assert grid.best_estimator_.named_steps["scale"].feature_range in ([0.0, 1.0], [-1.0, 1.0])

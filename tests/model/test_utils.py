"""lstmcore.utils (pad_sequences, to_categorical, set_random_seed) and lstmcore.models against
Keras 3: its documented examples here, every combination of the arguments against keras.utils
itself where Keras is installed (KERAS_BACKEND=torch), and the errors Keras does not give."""

from __future__ import annotations

import os

import numpy as np
import pytest

import lstmcore
from lstmcore import models, utils
from lstmcore.utils import pad_sequences, to_categorical

SEQS = [[1], [2, 3], [4, 5, 6]]


@pytest.fixture(scope="module")
def keras_utils():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    return keras.utils


def assert_same(got, want):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


# Keras's documented examples ----------------------------------------------------------------------


def test_pad_sequences_keras_examples():
    assert_same(pad_sequences(SEQS), np.array([[0, 0, 1], [0, 2, 3], [4, 5, 6]], dtype=np.int32))
    assert_same(pad_sequences(SEQS, value=-1), np.array([[-1, -1, 1], [-1, 2, 3], [4, 5, 6]], dtype=np.int32))
    assert_same(
        pad_sequences(SEQS, padding="post"), np.array([[1, 0, 0], [2, 3, 0], [4, 5, 6]], dtype=np.int32)
    )
    assert_same(pad_sequences(SEQS, maxlen=2), np.array([[0, 1], [2, 3], [5, 6]], dtype=np.int32))


def test_to_categorical_keras_example():
    want = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float64)
    assert_same(to_categorical([0, 1, 2, 3], num_classes=4), want)
    assert_same(to_categorical(np.array([[0], [1], [2], [3]])), want)  # a last axis of 1 is dropped


def test_pad_sequences_steps_with_features_and_empty_rows():
    seqs = [np.ones((2, 3)), [], np.arange(12.0).reshape(4, 3)]
    x = pad_sequences(seqs, maxlen=3, dtype="float32", padding="post", truncating="post", value=-1.0)
    assert x.shape == (3, 3, 3) and x.dtype == np.float32
    assert (x[0, :2] == 1).all() and (x[0, 2] == -1).all()
    assert (x[1] == -1).all()
    np.testing.assert_array_equal(x[2], np.arange(9.0).reshape(3, 3))


# Against Keras itself ------------------------------------------------------------------------------


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 1, 3, 9])
@pytest.mark.parametrize("dtype, value", [("int32", 0.0), ("float32", -1.5), ("int64", 7), ("float64", 0.25)])
@pytest.mark.parametrize("features", [None, 2])
def test_pad_sequences_as_keras(keras_utils, padding, truncating, maxlen, dtype, value, features):
    rng = np.random.default_rng(0)
    seqs = []
    for n in (5, 0, 1, 7, 3):
        shape = (n,) if features is None else (n, features)
        s = rng.integers(1, 50, shape) if features is None else rng.standard_normal(shape)
        seqs.append(s.tolist() if features is None else s)
    kw = dict(maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating, value=value)
    assert_same(pad_sequences(seqs, **kw), keras_utils.pad_sequences(seqs, **kw))


@pytest.mark.parametrize(
    "labels, num_classes",
    [
        ([0, 2, 1, 2], None),
        ([0, 2, 1, 2], 5),
        (np.array([[0], [3], [1]]), None),
        (np.array([[0, 1], [2, 1]]), 4),
        (np.array([[[1]], [[0]]]), 2),
        (np.array([True, False]), None),
        (np.array([1.0, 0.0, 2.0]), 0),
        (3, 5),
    ],
)
def test_to_categorical_as_keras(keras_utils, labels, num_classes):
    assert_same(to_categorical(labels, num_classes), keras_utils.to_categorical(labels, num_classes))


def test_set_random_seed_and_models_are_lstmcore_s():
    assert utils.set_random_seed is lstmcore.set_random_seed
    assert models.Sequential is lstmcore.Sequential and models.load_model is lstmcore.load_model


def test_keras_preprocessing_import_paths():
    # Keras 2's and TensorFlow's tutorials import these from keras.preprocessing
    from lstmcore.preprocessing.sequence import pad_sequences as from_sequence

    assert from_sequence is pad_sequences
    assert lstmcore.preprocessing.sequence.pad_sequences is pad_sequences
    assert lstmcore.preprocessing.timeseries_dataset_from_array is utils.timeseries_dataset_from_array
    windows = lstmcore.preprocessing.timeseries_dataset_from_array(np.arange(10.0), None, 4, batch_size=None)
    np.testing.assert_array_equal(list(windows)[-1], np.arange(6.0, 10.0))


def test_keras_preprocessing_names_exist_in_keras(keras_utils):
    import keras

    for name in lstmcore.preprocessing.__all__:
        assert hasattr(keras.preprocessing, name), name
    for name in lstmcore.preprocessing.sequence.__all__:
        assert hasattr(keras.preprocessing.sequence, name), name


# Errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, kw, error, match",
    [
        ((SEQS,), {"padding": "both"}, ValueError, "padding must be 'pre' or 'post', got 'both'"),
        ((SEQS,), {"truncating": "middle"}, ValueError, "truncating must be 'pre' or 'post'"),
        ((5,), {}, TypeError, "sequences must be a list of sequences .* got int"),
        (("abc",), {}, TypeError, "got str"),
        (([[1, 2], 3],), {}, TypeError, r"sequences\[1\] is 3 \(int\)"),
        (([[1, 2], "ab"],), {}, TypeError, r"sequences\[1\] is 'ab'"),
        ((SEQS,), {"maxlen": 0}, ValueError, "maxlen must be >= 1, got 0"),
        ((SEQS,), {"maxlen": 2.0}, TypeError, "maxlen must be None or an int >= 1, got 2.0"),
        ((SEQS,), {"maxlen": True}, TypeError, "maxlen must be None or an int"),
        (([[], []],), {}, ValueError, "needs maxlen when no sequence has a step"),
        (([],), {}, ValueError, "needs maxlen"),
        ((SEQS,), {"value": "pad"}, ValueError, "dtype int32 cannot hold the padding value 'pad'"),
        (([[[1, 2]], [[1, 2, 3]]],), {}, ValueError, r"sequences\[1\] has steps of shape \(3,\)"),
    ],
)
def test_pad_sequences_errors(args, kw, error, match):
    with pytest.raises(error, match=match):
        pad_sequences(*args, **kw)


def test_pad_sequences_strings_with_object_dtype():
    x = pad_sequences([["a"], ["b", "c"]], dtype=object, value="")
    assert x.tolist() == [["", "a"], ["b", "c"]]


@pytest.mark.parametrize(
    "labels, num_classes, error, match",
    [
        ([0, -1, 2], None, ValueError, r"class labels must be in \[0, 3\), got -1"),
        ([0, 3], 3, ValueError, r"class labels must be in \[0, 3\), got 3"),
        ([0.5, 1.0], None, ValueError, "needs integer class labels, got non-integer floats"),
        ([0.0, np.nan], None, ValueError, "non-integer floats"),
        (["a", "b"], None, TypeError, "needs integer class labels, got dtype <U1"),
        ([], None, ValueError, "needs num_classes for an empty array"),
        ([0, 1], 2.5, TypeError, "num_classes must be an int >= 1, got 2.5"),
        ([0, 1], -2, ValueError, "num_classes must be >= 1, got -2"),
    ],
)
def test_to_categorical_errors(labels, num_classes, error, match):
    with pytest.raises(error, match=match):
        to_categorical(labels, num_classes)


def test_to_categorical_empty_with_num_classes():
    out = to_categorical(np.zeros(0, dtype=int), 3)
    assert out.shape == (0, 3) and out.dtype == np.float64

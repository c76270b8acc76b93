"""Fuzz of lstmcore.utils: ``pad_sequences`` and ``to_categorical`` on drawn inputs, against what
each row must hold (and against keras.utils itself where Keras is installed)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstmcore.utils import pad_sequences, to_categorical

os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import keras as _keras
except ImportError:  # compare with the rules alone
    _keras = None

sequences = st.lists(st.lists(st.integers(-1000, 1000), max_size=12), min_size=1, max_size=8)


@given(
    seqs=sequences,
    maxlen=st.one_of(st.none(), st.integers(1, 15)),
    padding=st.sampled_from(["pre", "post"]),
    truncating=st.sampled_from(["pre", "post"]),
    value=st.integers(-5, 5),
)
def test_pad_sequences_rows(seqs, maxlen, padding, truncating, value):
    if maxlen is None and not any(seqs):
        with pytest.raises(ValueError, match="needs maxlen"):
            pad_sequences(seqs, padding=padding, truncating=truncating, value=value)
        return
    x = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=value)
    T = maxlen or max(len(s) for s in seqs)
    assert x.shape == (len(seqs), T) and x.dtype == np.int32
    for row, s in zip(x, seqs, strict=True):
        kept = s[-T:] if truncating == "pre" else s[:T]
        n = len(kept)
        body, pad = (row[T - n :], row[: T - n]) if padding == "pre" else (row[:n], row[n:])
        assert body.tolist() == kept and (pad == value).all()
    if _keras is not None:
        want = _keras.utils.pad_sequences(
            seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=value
        )
        np.testing.assert_array_equal(x, want)
        assert x.dtype == want.dtype


@given(
    labels=st.lists(st.integers(0, 9), min_size=1, max_size=20),
    extra=st.integers(0, 3),
    column=st.booleans(),
)
def test_to_categorical_rows(labels, extra, column):
    y = np.array(labels)[:, None] if column else np.array(labels)
    num_classes = max(labels) + 1 + extra
    out = to_categorical(y, num_classes)
    assert out.shape == (len(labels), num_classes) and out.dtype == np.float64
    assert (out.sum(axis=1) == 1).all() and (out.argmax(axis=1) == labels).all()
    if _keras is not None:
        np.testing.assert_array_equal(out, _keras.utils.to_categorical(y, num_classes))

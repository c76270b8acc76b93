"""Keras's ``keras.utils`` helpers by the same names: ``pad_sequences``, ``to_categorical`` and
``set_random_seed``, so that ``from keras.utils import pad_sequences`` becomes
``from lstmcore.utils import pad_sequences``.

They return what Keras 3 returns (values, shapes and dtypes) for every input Keras accepts. Where
Keras fails obscurely or silently (a label of -1 taken as the last class, ``maxlen=0`` ending in
a broadcast error) they raise a ``ValueError`` or ``TypeError`` that names the argument.

Padded sequences go to the engine as they are, with their lengths or a mask::

    x = pad_sequences(seqs, padding="post")            # (B, T), rows of unequal lengths
    lengths = np.array([min(len(s), x.shape[1]) for s in seqs])
    y, h_n, c_n = lstm_forward(embed[x], w_x, w_h, b, lengths=lengths)
    x = pad_sequences(seqs)                            # Keras's default: padding in front
    y, h_n, c_n = lstm_forward(embed[x], w_x, w_h, b, mask=x != 0)
"""

from __future__ import annotations

import numpy as np

from .initializers import set_random_seed

__all__ = ["pad_sequences", "to_categorical", "set_random_seed"]

_SIDES = ("pre", "post")


def _count(name: str, value, *, allow_none: bool, minimum: int) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        what = "None or an int" if allow_none else "an int"
        raise TypeError(f"{name} must be {what} >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (and cut) sequences to one length: ``keras.utils.pad_sequences``.

    sequences: a list (or any sized iterable) of sequences, each a list or array of shape
    (length, *sample_shape) with the same sample_shape | maxlen: the length of the result, or
    None (the longest sequence's) | dtype: of the result ('int32', as Keras) | padding, truncating:
    'pre' (in front, Keras's default) or 'post' | value: what the padding holds.
    -> array (len(sequences), maxlen, *sample_shape). Empty sequences are all padding.

    >>> pad_sequences([[1], [2, 3], [4, 5, 6]])
    array([[0, 0, 1],
           [0, 2, 3],
           [4, 5, 6]], dtype=int32)
    """
    for name, side in (("padding", padding), ("truncating", truncating)):
        if not isinstance(side, str) or side not in _SIDES:
            raise ValueError(f"{name} must be 'pre' or 'post', got {side!r}")
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise TypeError(
            f"sequences must be a list of sequences (lists or arrays), got {type(sequences).__name__}"
        )
    maxlen = _count("maxlen", maxlen, allow_none=True, minimum=1)
    lengths, sample_shape, first = [], (), True
    for k, s in enumerate(sequences):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__len__"):
            raise TypeError(
                f"sequences must be a list of sequences (lists or arrays); sequences[{k}] is "
                f"{s!r} ({type(s).__name__})"
            )
        lengths.append(len(s))
        if first and len(s):  # Keras: the sample shape of the first sequence that is not empty
            sample_shape, first = np.asarray(s).shape[1:], False
    if maxlen is None:
        if not lengths or max(lengths) == 0:
            raise ValueError(
                "pad_sequences needs maxlen when no sequence has a step (got "
                f"{len(lengths)} sequences, all empty)"
            )
        maxlen = max(lengths)
    out_dtype = np.dtype(dtype)
    if isinstance(value, str) and out_dtype.kind not in "OSU":
        raise ValueError(
            f"dtype {out_dtype} cannot hold the padding value {value!r}; use dtype=object for "
            "strings of any length"
        )
    x = np.full((len(lengths), maxlen, *sample_shape), value, dtype=out_dtype)
    for k, s in enumerate(sequences):
        if not len(s):
            continue
        cut = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        cut = np.asarray(cut, dtype=out_dtype)
        if cut.shape[1:] != sample_shape:
            raise ValueError(
                f"every step must have the shape of the first sequence's steps, {sample_shape}; "
                f"sequences[{k}] has steps of shape {cut.shape[1:]}"
            )
        if padding == "post":
            x[k, : len(cut)] = cut
        else:
            x[k, maxlen - len(cut) :] = cut
    return x


def to_categorical(x, num_classes=None):
    """One-hot rows for integer class labels: ``keras.utils.to_categorical``.

    x: labels (any shape; a last axis of 1 is dropped, as Keras does) in [0, num_classes) |
    num_classes: None (the largest label + 1) or an int -> float64 array x.shape + (num_classes,)
    (Keras's shape and dtype).

    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    a = np.asarray(x)
    if a.dtype.kind == "f":
        if not np.isfinite(a).all() or (a != np.round(a)).any():
            raise ValueError("to_categorical needs integer class labels, got non-integer floats")
    elif a.dtype.kind not in "iub":
        raise TypeError(f"to_categorical needs integer class labels, got dtype {a.dtype}")
    labels = a.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if num_classes is None or (num_classes == 0 and not isinstance(num_classes, bool)):
        if labels.size == 0:
            raise ValueError("to_categorical needs num_classes for an empty array of labels")
        num_classes = int(labels.max()) + 1  # Keras: a falsy num_classes means "from the labels"
    num_classes = _count("num_classes", num_classes, allow_none=False, minimum=1)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(f"class labels must be in [0, {num_classes}), got {bad}")
    out = np.zeros((labels.size, num_classes))
    out[np.arange(labels.size), labels] = 1
    return out.reshape(*shape, num_classes)

"""Keras's ``keras.utils`` helpers by the same names: ``pad_sequences``, ``to_categorical``,
``set_random_seed``, ``timeseries_dataset_from_array`` and ``PyDataset`` (``Sequence``), so that
``from keras.utils import pad_sequences`` becomes ``from lstmcore.utils import pad_sequences``.

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

__all__ = [
    "pad_sequences",
    "to_categorical",
    "set_random_seed",
    "timeseries_dataset_from_array",
    "PyDataset",
    "Sequence",
]

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


class PyDataset:
    """Batches by index for ``fit``, ``evaluate`` and ``predict``, as Keras 3's ``PyDataset``
    (``keras.utils.Sequence`` in Keras 2): subclass it with ``__len__`` (the number of batches)
    and ``__getitem__(index)`` returning ``x``, ``(x, y)`` or ``(x, y, sample_weight)``;
    ``on_epoch_end`` runs after each epoch. ``workers``, ``use_multiprocessing`` and
    ``max_queue_size`` are accepted for Keras's signature; batches are read in order, in this
    thread."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers, self.use_multiprocessing, self.max_queue_size = (
            workers,
            use_multiprocessing,
            max_queue_size,
        )

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning a batch")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of batches)")

    @property
    def num_batches(self) -> int:
        return len(self)

    def on_epoch_end(self) -> None:
        pass

    def __iter__(self):
        for k in range(len(self)):
            yield self[k]


Sequence = PyDataset  # Keras 2's name


class Batch(np.ndarray):
    """A NumPy array that also answers ``.numpy()`` (itself as a plain ndarray), as the tensors of
    the ``tf.data`` datasets Keras's ``timeseries_dataset_from_array`` makes: tutorials print
    ``inputs.numpy().shape`` and plot ``x[0][:, 1].numpy()``. Everything else is NumPy's."""

    def numpy(self) -> np.ndarray:
        return self.view(np.ndarray)


class _Timeseries(PyDataset):
    """The windows of ``timeseries_dataset_from_array``, batch by batch (each array a
    :class:`Batch`); ``take(n)`` keeps the first n batches, as ``tf.data.Dataset.take``."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size):
        super().__init__()
        self.data, self.targets, self.starts = data, targets, starts
        self.sequence_length, self.sampling_rate = sequence_length, sampling_rate
        self.offsets = np.arange(sequence_length) * sampling_rate
        self.batch_size = batch_size

    def __len__(self):
        n = len(self.starts)
        return n if self.batch_size is None else -(-n // self.batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch {index} of a dataset of {len(self)}")
        index %= len(self)
        if self.batch_size is None:
            starts = self.starts[index : index + 1]
        else:
            starts = self.starts[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.data[starts[:, None] + self.offsets].view(Batch)
        if self.batch_size is None:
            x = x[0]
        if self.targets is None:
            return x
        y = self.targets[starts].view(Batch)
        return x, (y[0] if self.batch_size is None else y)

    def take(self, count):
        """The first ``count`` batches (windows where ``batch_size`` is None) as a dataset of its
        own; -1 takes them all (``tf.data.Dataset.take``'s rule)."""
        if isinstance(count, (bool, np.bool_)) or not isinstance(count, (int, np.integer)):
            raise TypeError(f"take(count): count must be an int >= -1, got {count!r}")
        if count < -1:
            raise ValueError(f"take(count): count must be an int >= -1, got {count}")
        n = len(self.starts) if count == -1 else int(count) * (self.batch_size or 1)
        return _Timeseries(
            self.data,
            self.targets,
            self.starts[:n],
            self.sequence_length,
            self.sampling_rate,
            self.batch_size,
        )


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
):
    """Sliding windows over ``data`` (T, ...), as Keras 3's: window i holds the steps
    ``start + i*sequence_stride + k*sampling_rate`` for k < sequence_length, and its target is
    ``targets[start + i*sequence_stride]`` (``targets`` None: windows only). Returns a
    ``PyDataset`` of batches ``(x (batch, sequence_length, ...), y)`` for ``fit``/``predict``,
    or of single windows with ``batch_size=None``. ``shuffle`` orders the windows with
    ``numpy.random.RandomState(seed)``, as Keras's NumPy path does."""
    data = np.asarray(data)
    if data.ndim == 0:
        raise ValueError("data must be an array with a time axis first, got a scalar")
    length = _count("sequence_length", sequence_length, allow_none=False, minimum=1)
    stride = _count("sequence_stride", sequence_stride, allow_none=False, minimum=1)
    rate = _count("sampling_rate", sampling_rate, allow_none=False, minimum=1)
    batch = _count("batch_size", batch_size, allow_none=True, minimum=1)
    start = _count("start_index", start_index, allow_none=True, minimum=0) or 0
    end = _count("end_index", end_index, allow_none=True, minimum=0)
    end = len(data) if end is None else end
    if not start < end <= len(data):
        raise ValueError(
            f"start_index and end_index must satisfy 0 <= start < end <= len(data) = {len(data)}, "
            f"got {start} and {end}"
        )
    if targets is not None:
        targets = np.asarray(targets)
        if targets.ndim == 0:
            raise ValueError("targets must be an array with one entry per step of data, or None")
    num = end - start - (length - 1) * rate
    if targets is not None:
        num = min(num, len(targets) - start)
    if num <= 0:
        raise ValueError(
            f"no window of sequence_length={length} with sampling_rate={rate} fits between "
            f"start_index={start} and end_index={end}"
        )
    starts = np.arange(0, num, stride)
    if shuffle:
        rng = np.random.RandomState(np.random.randint(1_000_000) if seed is None else seed)
        rng.shuffle(starts)
    return _Timeseries(data, targets, starts + start, length, rate, batch)

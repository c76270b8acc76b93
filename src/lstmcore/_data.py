"""What ``fit``, ``evaluate`` and ``predict`` read, as Keras 3 takes it: arrays (sliced into
batches here), a ``PyDataset`` (``lstmcore.utils.PyDataset``, or any object with ``__len__`` and
``__getitem__`` returning batches, as ``keras.utils.Sequence``), or a Python generator or iterator
of batches. A batch is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``.

Each source gives, per epoch, an iterator of raw batches; the model checks and converts each one.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


def is_dataset(x) -> bool:
    """A PyDataset-like object: batches by index, a length, and not an array or a list of them."""
    if isinstance(x, (np.ndarray, list, tuple, dict)) or np.isscalar(x):
        return False
    return hasattr(x, "__getitem__") and hasattr(x, "__len__")


def is_generator(x) -> bool:
    return hasattr(x, "__next__") and hasattr(x, "__iter__") and not is_dataset(x)


def split_batch(batch, what: str):
    """(x, y, sample_weight) from one yielded batch; y and sample_weight None where absent."""
    if isinstance(batch, tuple):
        if not 1 <= len(batch) <= 3:
            raise ValueError(
                f"{what} must yield x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(batch)}"
            )
        return (*batch, *(None,) * (3 - len(batch)))
    return batch, None, None


class ArrayBatches:
    """Batches sliced from arrays already checked by the model (x and y support ``[index]``)."""

    def __init__(self, x, y, sample_weight, batch_size: int, steps_per_epoch=None):
        self.x, self.y, self.sw = x, y, sample_weight
        self.n = x.shape[0]
        self.batch_size = batch_size
        steps = math.ceil(self.n / batch_size)
        self.steps = steps if steps_per_epoch is None else min(steps, steps_per_epoch)
        self.prepared = True

    def epoch(self, rng, shuffle: bool):
        order = rng.permutation(self.n) if shuffle else None
        for step in range(self.steps):
            lo, hi = step * self.batch_size, min(self.n, (step + 1) * self.batch_size)
            idx = slice(lo, hi) if order is None else order[lo:hi]
            yield self.x[idx], self.y[idx], None if self.sw is None else self.sw[idx]

    def end_epoch(self) -> None:
        pass


class DatasetBatches:
    """Batches by index from a PyDataset; ``on_epoch_end`` after each epoch, as Keras."""

    def __init__(self, dataset, steps_per_epoch=None, what="x"):
        self.dataset, self.what = dataset, what
        n = len(dataset)
        self.steps = n if steps_per_epoch is None else min(n, steps_per_epoch)
        if self.steps < 1:
            raise ValueError(f"{what} is an empty dataset (len() = {n})")
        self.prepared = False

    def epoch(self, rng, shuffle: bool):  # Keras ignores shuffle for datasets: their order is theirs
        for k in range(self.steps):
            yield split_batch(self.dataset[k], self.what)

    def end_epoch(self) -> None:
        end = getattr(self.dataset, "on_epoch_end", None)
        if callable(end):
            end()


class GeneratorBatches:
    """Batches from a generator: ``steps_per_epoch`` per epoch, or until it stops (then the next
    epoch has nothing to read and training stops with a warning, as Keras)."""

    def __init__(self, generator, steps_per_epoch=None, what="x"):
        self.generator, self.steps, self.what = generator, steps_per_epoch, what
        self.prepared = False
        self.exhausted = False

    def epoch(self, rng, shuffle: bool):
        k = 0
        while self.steps is None or k < self.steps:
            try:
                batch = next(self.generator)
            except StopIteration:
                self.exhausted = True
                if k == 0 or self.steps is not None:
                    warnings.warn(
                        f"{self.what} ran out of data after {k} batches of this epoch; give a "
                        "generator that repeats, or steps_per_epoch (epochs x steps batches in all)",
                        stacklevel=4,
                    )
                return
            k += 1
            yield split_batch(batch, self.what)

    def end_epoch(self) -> None:
        pass


def source(x, what="x", steps=None):
    """A dataset or generator source for ``x``, or None for arrays."""
    if is_dataset(x):
        return DatasetBatches(x, steps, what)
    if is_generator(x):
        return GeneratorBatches(x, steps, what)
    return None


def positive_steps(name: str, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be None or a positive int, got {value!r}")
    return int(value)

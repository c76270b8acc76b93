"""Layers that join several inputs into one, Keras 3's merging layers: ``Concatenate``, ``Add``,
``Subtract``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``, and their functional
shortcuts (``concatenate([a, b])``, ``add([a, b])``, ...). They take a list of inputs of the
same shape (Concatenate: the same but on its axis), have no weights, and combine the inputs'
masks with a logical and, as Keras does."""

from __future__ import annotations

import numpy as np

from .base import Layer


class _Merge(Layer):
    """The shared part: build on a list of shapes, masks, and the elementwise backward."""

    supports_masking = True
    min_inputs = 2
    max_inputs: int | None = None

    def build(self, input_shape, seed_rng=None) -> None:
        if not isinstance(input_shape, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) for s in input_shape
        ):
            raise ValueError(f"{type(self).__name__} takes a list of inputs, got one of shape {input_shape}")
        shapes = [tuple(None if d is None else int(d) for d in s) for s in input_shape]
        n = len(shapes)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = self.min_inputs if self.max_inputs == self.min_inputs else f"at least {self.min_inputs}"
            raise ValueError(f"{type(self).__name__} takes {want} inputs, got {n}")
        self._check_shapes(shapes)
        self.build_shape = shapes
        self.built = True

    def _check_shapes(self, shapes) -> None:
        first = shapes[0]
        for s in shapes[1:]:
            if len(s) != len(first) or any(
                a is not None and b is not None and a != b for a, b in zip(s, first, strict=False)
            ):
                raise ValueError(
                    f"{type(self).__name__} needs inputs of the same shape, got "
                    f"{', '.join(str((None, *s)) for s in shapes)}"
                )

    def output_shape(self, input_shape):
        return tuple(input_shape[0])

    def compute_mask(self, inputs, mask=None):
        if mask is None or all(m is None for m in mask):
            return None
        masks = [np.asarray(m, dtype=bool) for m in mask if m is not None]
        return np.logical_and.reduce(masks)

    def _check_inputs(self, xs):
        if not isinstance(xs, (list, tuple)) or len(xs) < self.min_inputs:
            raise ValueError(f"{type(self).__name__} takes a list of at least {self.min_inputs} arrays")
        return list(xs)

    def forward(self, x, training=False, mask=None):
        xs = self._check_inputs(x)
        y = self._merge(xs)
        self._xs = (xs, y) if training else None
        return y

    def backward(self, dy):
        if self._xs is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        (xs, y), self._xs = self._xs, None
        return self._merge_backward(xs, y, dy)

    def _merge(self, xs):
        raise NotImplementedError

    def _merge_backward(self, xs, y, dy):
        raise NotImplementedError


def _unbroadcast(d, shape):
    """Sum a gradient over the axes an input of ``shape`` was broadcast along."""
    while d.ndim > len(shape):
        d = d.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and d.shape[axis] != 1:
            d = d.sum(axis=axis, keepdims=True)
    return d


class Add(_Merge):
    """The sum of the inputs."""

    def _merge(self, xs):
        y = xs[0].copy()
        for x in xs[1:]:
            y = y + x
        return y

    def _merge_backward(self, xs, y, dy):
        return [_unbroadcast(dy, x.shape) for x in xs]


class Subtract(_Merge):
    """inputs[0] - inputs[1] (two inputs)."""

    max_inputs = 2

    def _merge(self, xs):
        return xs[0] - xs[1]

    def _merge_backward(self, xs, y, dy):
        return [_unbroadcast(dy, xs[0].shape), _unbroadcast(-dy, xs[1].shape)]


class Multiply(_Merge):
    """The elementwise product of the inputs."""

    def _merge(self, xs):
        y = xs[0].copy()
        for x in xs[1:]:
            y = y * x
        return y

    def _merge_backward(self, xs, y, dy):
        grads = []
        for k, x in enumerate(xs):
            others = np.ones_like(dy)
            for j, other in enumerate(xs):
                if j != k:
                    others = others * other
            grads.append(_unbroadcast(dy * others, x.shape))
        return grads


class _Op:
    """What ``a + b``, ``a - b`` and ``a * b`` of symbolic tensors make: the merge without the
    masks, as Keras's operations on tensors (keras.src.ops.numpy's Add, Subtract, Multiply) drop
    them; saved in a .keras file as those operations."""

    keras_module = "keras.src.ops.numpy"

    def compute_mask(self, inputs, mask=None):
        return None


class AddOp(_Op, Add):
    """``a + b`` of symbolic tensors: Add without the masks."""


class SubtractOp(_Op, Subtract):
    """``a - b`` of symbolic tensors: Subtract without the masks."""


class MultiplyOp(_Op, Multiply):
    """``a * b`` of symbolic tensors: Multiply without the masks."""


class Average(_Merge):
    """The mean of the inputs."""

    def _merge(self, xs):
        y = xs[0].copy()
        for x in xs[1:]:
            y = y + x
        return y / y.dtype.type(len(xs))

    def _merge_backward(self, xs, y, dy):
        share = dy / dy.dtype.type(len(xs))
        return [_unbroadcast(share, x.shape) for x in xs]


class Maximum(_Merge):
    """The elementwise maximum; the gradient goes to the first input holding it."""

    pick = staticmethod(np.maximum)

    def _merge(self, xs):
        y = xs[0]
        for x in xs[1:]:
            y = self.pick(y, x)
        return y

    def _merge_backward(self, xs, y, dy):
        taken = np.zeros(dy.shape, dtype=bool)
        grads = []
        for x in xs:
            mine = (np.broadcast_to(x, dy.shape) == y) & ~taken
            taken |= mine
            grads.append(_unbroadcast(np.where(mine, dy, 0).astype(dy.dtype), x.shape))
        return grads


class Minimum(Maximum):
    """The elementwise minimum; the gradient goes to the first input holding it."""

    pick = staticmethod(np.minimum)


class Concatenate(_Merge):
    """The inputs joined along ``axis`` (-1 by default: the features)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an int, got {axis!r}")
        if axis == 0:
            raise ValueError("Concatenate cannot join along the batch axis (axis=0)")
        self.axis = int(axis)

    def _axis(self, ndim: int) -> int:
        """The axis within a shape without the batch axis."""
        axis = self.axis if self.axis < 0 else self.axis - 1
        if not -ndim <= axis < ndim:
            raise ValueError(f"Concatenate: axis {self.axis} is out of range for inputs of {ndim + 1} axes")
        return axis % ndim

    def _check_shapes(self, shapes) -> None:
        ndim = len(shapes[0])
        axis = self._axis(ndim)
        for s in shapes:
            ok = len(s) == ndim and all(
                k == axis or a is None or b is None or a == b
                for k, (a, b) in enumerate(zip(s, shapes[0], strict=False))
            )
            if not ok:
                raise ValueError(
                    f"Concatenate(axis={self.axis}) needs inputs that differ on that axis only, got "
                    f"{', '.join(str((None, *s)) for s in shapes)}"
                )

    def output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        axis = self._axis(len(shapes[0]))
        out = list(shapes[0])
        sizes = [s[axis] for s in shapes]
        out[axis] = None if any(n is None for n in sizes) else sum(sizes)
        return tuple(out)

    def _merge(self, xs):
        return np.concatenate(xs, axis=self.axis)

    def _merge_backward(self, xs, y, dy):
        ends = np.cumsum([x.shape[self.axis] for x in xs])[:-1]
        return [np.ascontiguousarray(d) for d in np.split(dy, ends, axis=self.axis)]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(axis=self.axis)
        return config


def _shortcut(cls, doc):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = doc
    return merge


add = _shortcut(Add, "``Add()(inputs)``, Keras's ``layers.add``.")
subtract = _shortcut(Subtract, "``Subtract()(inputs)``, Keras's ``layers.subtract``.")
multiply = _shortcut(Multiply, "``Multiply()(inputs)``, Keras's ``layers.multiply``.")
average = _shortcut(Average, "``Average()(inputs)``, Keras's ``layers.average``.")
maximum = _shortcut(Maximum, "``Maximum()(inputs)``, Keras's ``layers.maximum``.")
minimum = _shortcut(Minimum, "``Minimum()(inputs)``, Keras's ``layers.minimum``.")


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis)(inputs)``, Keras's ``layers.concatenate``."""
    return Concatenate(axis=axis, **kwargs)(inputs)

"""Layers that join several inputs into one, Keras 3's merging layers: ``Concatenate``, ``Add``,
``Subtract``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``, ``Dot``, and their functional
shortcuts (``concatenate([a, b])``, ``add([a, b])``, ``dot([a, b], axes)``, ...). They take a
list of inputs of the same shape (Concatenate: the same but on its axis; Dot: two inputs whose
axes fit), have no weights, and combine the inputs' masks with a logical and, as Keras does (Dot
passes none on, as Keras's)."""

from __future__ import annotations

import numpy as np

from .. import _config
from ..engine._products import matmul_groups
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


class Dot(_Merge):
    """The dot product of two inputs along one axis of each, per sample (Keras 3's ``Dot``, its
    ``batch_dot``): x1 (B, *s1), x2 (B, *s2), ``axes`` (a1, a2) counted with the batch axis
    (negative: from the end; an int: the same for both), s1[a1] == s2[a2]. The output is
    (B, *s1 without a1, *s2 without a2), or (B, 1) where both inputs are (B, n). ``normalize``
    L2-normalizes each input along its axis first (Keras's ``ops.normalize``: the cosine). As
    Keras's, it passes no mask on. Luong attention is ``Dot(axes=[2, 2])`` of the decoder's and the
    encoder's sequences, a softmax, then ``Dot(axes=[2, 1])`` of the weights and the encoder's."""

    min_inputs = max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2:
                raise ValueError(f"Dot: axes must be an int or a pair of ints, got {axes!r}")
            values = list(axes)
        else:
            values = [axes]
        for a in values:
            if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
                raise TypeError(f"Dot: axes must be an int or a pair of ints, got {axes!r}")
        if not isinstance(normalize, (bool, np.bool_)):
            raise TypeError(f"Dot: normalize must be a bool, got {normalize!r}")
        self.axes = [int(a) for a in values] if isinstance(axes, (list, tuple)) else int(axes)
        self.normalize = bool(normalize)
        self._cache = None

    def _resolved(self, ndims) -> tuple[int, int]:
        """The axes of the two inputs (of ``ndims`` axes each, the batch's included), from 1."""
        given = [self.axes, self.axes] if isinstance(self.axes, int) else self.axes
        axes = []
        for a, n in zip(given, ndims, strict=True):
            if not -n <= a < n:
                raise ValueError(f"Dot: axis {a} is out of range for an input of {n} axes (batch included)")
            if a % n == 0:
                raise ValueError(f"Dot: axes={self.axes!r} names the batch axis 0, which Dot cannot sum over")
            axes.append(a % n)
        return axes[0], axes[1]

    def _check_shapes(self, shapes) -> None:
        a1, a2 = self._resolved([len(s) + 1 for s in shapes])
        k1, k2 = shapes[0][a1 - 1], shapes[1][a2 - 1]
        if k1 is not None and k2 is not None and k1 != k2:
            raise ValueError(
                f"Dot(axes={self.axes!r}): the inputs' sizes on those axes differ ({k1} and {k2}); got "
                f"{', '.join(str((None, *s)) for s in shapes)}"
            )

    def output_shape(self, input_shape):
        s1, s2 = (list(s) for s in input_shape)
        a1, a2 = self._resolved([len(s1) + 1, len(s2) + 1])
        del s1[a1 - 1], s2[a2 - 1]
        return tuple(s1 + s2) or (1,)

    def compute_mask(self, inputs, mask=None):
        return None

    def forward(self, x, training=False, mask=None):
        # x1 (B, *r1, K) after its axis moved last | x2 (B, K, *r2) | z (B, P, Q), y (B, *r1, *r2)
        xs = self._check_inputs(x)
        if len(xs) != 2:
            raise ValueError(f"Dot takes a list of 2 arrays, got {len(xs)}")
        x1, x2 = (np.asarray(v) for v in xs)
        if x1.shape[0] != x2.shape[0]:
            raise ValueError(f"Dot: the inputs' batch sizes differ: {x1.shape} and {x2.shape}")
        a1, a2 = self._resolved([x1.ndim, x2.ndim])
        if x1.shape[a1] != x2.shape[a2]:
            raise ValueError(f"Dot(axes={self.axes!r}): inputs {x1.shape} and {x2.shape} do not fit")
        scales = None
        if self.normalize:
            (x1, s1), (x2, s2) = _config.normalize(x1, a1), _config.normalize(x2, a2)
            scales = (s1, s2)
        m1, m2 = np.moveaxis(x1, a1, -1), np.moveaxis(x2, a2, 1)
        B, K = x1.shape[0], x1.shape[a1]
        z = matmul_groups(m1.reshape(B, -1, K), m2.reshape(B, K, -1))  # (engine._products)
        y = z.reshape(B, *((*m1.shape[1:-1], *m2.shape[2:]) or (1,)))  # (B, 1) for two (B, K)
        self._cache = (x1, x2, m1, m2, (a1, a2), scales) if training else None
        return y

    def backward(self, dy):
        # dy (B, *r1, *r2) as dz (B, P, Q) | dm1 (B, P, K) = dz m2ᵀ | dm2 (B, K, Q) = m1ᵀ dz
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        (x1, x2, m1, m2, (a1, a2), scales), self._cache = self._cache, None
        B, K = x1.shape[0], x1.shape[a1]
        r1, r2 = m1.reshape(B, -1, K), m2.reshape(B, K, -1)
        dz = np.asarray(dy).reshape(B, r1.shape[1], r2.shape[2])
        d1 = np.moveaxis(matmul_groups(dz, r2.transpose(0, 2, 1)).reshape(m1.shape), -1, a1)
        d2 = np.moveaxis(matmul_groups(r1.transpose(0, 2, 1), dz).reshape(m2.shape), 1, a2)
        if scales is not None:
            d1 = _config.normalize_backward(d1, x1, scales[0], a1)
            d2 = _config.normalize_backward(d2, x2, scales[1], a2)
        return [np.ascontiguousarray(d1), np.ascontiguousarray(d2)]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(axes=self.axes, normalize=self.normalize)
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


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """``Dot(axes, normalize)(inputs)``, Keras's ``layers.dot``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis)(inputs)``, Keras's ``layers.concatenate``."""
    return Concatenate(axis=axis, **kwargs)(inputs)

"""Keras 3's ``keras.ops`` functions that functional models use between layers, so that a program
written with ``from keras import ops`` runs with ``from lstmcore import ops``: ``sum``, ``mean``,
``max``, ``min``, ``expand_dims``, ``squeeze``, ``transpose``, ``softmax``, and the elementwise
``exp``, ``log``, ``sqrt``, ``square``, ``abs``, ``tanh``, ``sigmoid``, ``relu``. On symbolic
tensors each makes its operation (``lstmcore.layers.operations``: a node of the model, with its
backward, saved in .keras files as Keras's); on arrays it computes at once with NumPy, as Keras's
ops do on arrays."""

from __future__ import annotations

import numpy as np

from .layers import operations as _ops
from .layers.base import _is_symbolic
from .layers.operations import ExpandDims, Max, Mean, Min, SoftmaxOp, Squeeze, Sum, Transpose

__all__ = ["sum", "mean", "max", "min", "expand_dims", "squeeze", "transpose", "softmax"]
__all__ += ["exp", "log", "sqrt", "square", "abs", "tanh", "sigmoid", "relu"]


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    """The sum over ``axis`` (an int or a list of ints)."""
    if not _is_symbolic(x):
        return np.sum(x, axis=_tuple(axis), keepdims=keepdims)
    return Sum(axis, keepdims)(x)


def mean(x, axis=None, keepdims=False):
    """The mean over ``axis`` (an int or a list of ints)."""
    if not _is_symbolic(x):
        return np.mean(x, axis=_tuple(axis), keepdims=keepdims)
    return Mean(axis, keepdims)(x)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001 - Keras's name
    """The maximum over ``axis``; ``initial`` only at None (Keras's default)."""
    _no_initial(initial)
    if not _is_symbolic(x):
        return np.max(x, axis=_tuple(axis), keepdims=keepdims)
    return Max(axis, keepdims)(x)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001 - Keras's name
    """The minimum over ``axis``; ``initial`` only at None (Keras's default)."""
    _no_initial(initial)
    if not _is_symbolic(x):
        return np.min(x, axis=_tuple(axis), keepdims=keepdims)
    return Min(axis, keepdims)(x)


def expand_dims(x, axis):
    """A new axis of size 1 at ``axis``."""
    if not _is_symbolic(x):
        return np.expand_dims(x, axis)
    return ExpandDims(axis)(x)


def squeeze(x, axis=None):
    """The axes of size 1 removed (``axis`` given: those)."""
    if not _is_symbolic(x):
        return np.squeeze(x, axis=_tuple(axis))
    return Squeeze(axis)(x)


def _tuple(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _no_initial(initial) -> None:
    if initial is not None:
        raise ValueError(f"lstmcore's ops.max and ops.min take initial=None only, got {initial!r}")


def transpose(x, axes=None):
    """The axes in the order ``axes`` gives (on symbolic tensors the batch axis 0 stays first)."""
    if not _is_symbolic(x):
        return np.transpose(x, axes)
    return Transpose(axes)(x)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``."""
    if not _is_symbolic(x):
        x = np.asarray(x)
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)
    return SoftmaxOp(axis)(x)


def _elementwise(cls):
    def op(x):
        if _is_symbolic(x):
            return cls()(x)
        x = np.asarray(x)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return cls._f(x)

    op.__doc__ = cls.__doc__
    return op


exp = _elementwise(_ops.Exp)
log = _elementwise(_ops.Log)
sqrt = _elementwise(_ops.Sqrt)
square = _elementwise(_ops.Square)
abs = _elementwise(_ops.Absolute)  # noqa: A001 - Keras's name
tanh = _elementwise(_ops.Tanh)
sigmoid = _elementwise(_ops.Sigmoid)
relu = _elementwise(_ops.Relu)

"""Keras 3's operations on symbolic tensors that ``lstmcore.ops`` makes in a functional model:
``Sum``, ``Mean``, ``Max``, ``Min`` (over axes, ``keepdims``), ``ExpandDims``, ``Squeeze``,
``Transpose``, ``SoftmaxOp`` (Keras's Softmax operation) and the elementwise ``Exp``, ``Log``,
``Sqrt``, ``Square``, ``Absolute``, ``Tanh``, ``Sigmoid``, ``Relu``.
Each is a layer without weights whose config is the operation's (Keras writes them in a .keras
file as ``keras.src.ops.numpy``'s classes of the same names), passes no mask on (as Keras's
operations), and keeps the batch axis: an axis is counted with it, and 0 (or None, every axis)
is refused."""

from __future__ import annotations

import numpy as np

from .base import Layer
from .reshaping import _check_x, _no_step


def _axes_arg(name: str, axis, many: bool):
    """An axis argument: an int, or (``many``) a list or tuple of ints; kept as given (Keras's config)."""
    values = list(axis) if many and isinstance(axis, (list, tuple)) else [axis]
    if not values:
        raise ValueError(f"{name}: axis must name at least one axis, got {axis!r}")
    for a in values:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise TypeError(
                f"{name}: axis must be an int{' or a list of ints' if many else ''} (the batch axis 0 kept), "
                f"got {axis!r}"
            )
    return [int(a) for a in values] if isinstance(axis, (list, tuple)) else int(axis)


def _resolve(name: str, axis, ndim: int) -> tuple[int, ...]:
    """The axes (of an input of ``ndim`` axes, batch included) an axis argument names, sorted;
    ValueError for the batch axis, one out of range or one named twice."""
    out = []
    for a in axis if isinstance(axis, list) else [axis]:
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis {a} is out of range for an input of {ndim} axes (batch included)")
        if a % ndim == 0:
            raise ValueError(f"{name}: axis {axis!r} names the batch axis 0; lstmcore keeps it")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: axis {axis!r} names an axis twice")
    return tuple(sorted(out))


class _Operation(Layer):
    keras_module = "keras.src.ops.numpy"
    step = _no_step
    supports_masking = True  # and passes none on: compute_mask
    op_keys: tuple[str, ...] = ("axis",)  # the config Keras's operation has

    def compute_mask(self, inputs, mask=None):
        return None

    def op_config(self) -> dict:
        """The config Keras writes for the operation."""
        config = self.get_config()
        return {"name": self.name, **{k: config[k] for k in self.op_keys}}

    @classmethod
    def keras_class(cls) -> str:
        """The class name Keras writes (the same but for SoftmaxOp's)."""
        return getattr(cls, "keras_name", cls.__name__)

    def _check_input_shape(self, input_shape) -> None:
        self._axes(len(input_shape) + 1)

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        cache, self._cache = self._cache, None
        return self._backward(cache, np.asarray(dy))


class _Reduce(_Operation):
    """The reduction over ``axis`` (an int or a list of ints) of each sample."""

    op_keys = ("axis", "keepdims")

    def __init__(self, axis, keepdims=False, **kwargs):
        initial = kwargs.pop("initial", None)  # Keras's Max and Min: None only
        if initial is not None:
            raise ValueError(
                f"{type(self).__name__}: initial must be None (Keras's default), got {initial!r}"
            )
        super().__init__(**kwargs)
        name = type(self).__name__
        if axis is None:
            raise ValueError(f"{name}: axis=None reduces the batch axis too; name the axes to reduce")
        self.axis = _axes_arg(name, axis, many=True)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise TypeError(f"{name}: keepdims must be a bool, got {keepdims!r}")
        self.keepdims = bool(keepdims)
        self._cache = None

    def _axes(self, ndim: int) -> tuple[int, ...]:
        return _resolve(type(self).__name__, self.axis, ndim)

    def output_shape(self, input_shape):
        axes = self._axes(len(input_shape) + 1)
        if self.keepdims:
            return tuple(1 if k + 1 in axes else n for k, n in enumerate(input_shape))
        return tuple(n for k, n in enumerate(input_shape) if k + 1 not in axes)

    def forward(self, x, training=False):
        # x (B, ...) | y: x reduced over the axes (kept as 1 with keepdims)
        _check_x(self, x)
        axes = self._axes(x.ndim)
        y = self._reduce(x, axis=axes, keepdims=True)
        self._cache = (x, y, axes) if training else None
        return y if self.keepdims else np.squeeze(y, axis=axes)

    def _backward(self, cache, dy):
        x, y, axes = cache
        g = dy.reshape(y.shape)  # with the reduced axes as 1
        return np.ascontiguousarray(np.broadcast_to(self._share(x, y, axes) * g, x.shape))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(axis=self.axis, keepdims=self.keepdims)
        return config


class Sum(_Reduce):
    """``ops.sum(x, axis, keepdims)``."""

    _reduce = staticmethod(np.sum)

    def _share(self, x, y, axes):
        return np.ones((), x.dtype)


class Mean(_Reduce):
    """``ops.mean(x, axis, keepdims)``."""

    _reduce = staticmethod(np.mean)

    def _share(self, x, y, axes):
        return np.asarray(1 / np.prod([x.shape[a] for a in axes]), dtype=x.dtype)


class Max(_Reduce):
    """``ops.max(x, axis, keepdims)``; its gradient split evenly among tied maxima (as torch's
    amax, which Keras's torch backend runs)."""

    _reduce = staticmethod(np.max)
    op_keys = ("axis", "keepdims", "initial")

    def _share(self, x, y, axes):
        hit = (x == y).astype(x.dtype)
        return hit / hit.sum(axis=axes, keepdims=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "initial": None}


class Min(Max):
    """``ops.min(x, axis, keepdims)``; its gradient split evenly among tied minima."""

    _reduce = staticmethod(np.min)


class ExpandDims(_Operation):
    """``ops.expand_dims(x, axis)``: a new axis of size 1 at ``axis`` (of the output, batch
    included; negative from the end)."""

    def __init__(self, axis, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes_arg("ExpandDims", axis, many=False)
        self._cache = None

    def _axes(self, ndim: int) -> tuple[int, ...]:
        return _resolve("ExpandDims", self.axis, ndim + 1)

    def output_shape(self, input_shape):
        (a,) = self._axes(len(input_shape) + 1)
        shape = list(input_shape)
        shape.insert(a - 1, 1)
        return tuple(shape)

    def forward(self, x, training=False):
        _check_x(self, x)
        y = np.expand_dims(x, self._axes(x.ndim))
        self._cache = x.shape if training else None
        return y

    def _backward(self, shape, dy):
        return np.ascontiguousarray(dy.reshape(shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class Squeeze(_Operation):
    """``ops.squeeze(x, axis)``: the axis (of size 1) removed; ``axis=None`` removes every axis of
    size 1 but the batch's."""

    def __init__(self, axis=None, **kwargs):
        super().__init__(**kwargs)
        self.axis = None if axis is None else _axes_arg("Squeeze", axis, many=True)
        self._cache = None

    def _axes(self, ndim: int, shape=None) -> tuple[int, ...]:
        if self.axis is None:
            return tuple(k + 1 for k, n in enumerate(shape or ()) if n == 1)
        return _resolve("Squeeze", self.axis, ndim)

    def _check_input_shape(self, input_shape) -> None:
        for a in self._axes(len(input_shape) + 1, input_shape):
            if input_shape[a - 1] not in (1, None):
                raise ValueError(
                    f"Squeeze: axis {a} has size {input_shape[a - 1]}, not 1 ({tuple(input_shape)})"
                )

    def output_shape(self, input_shape):
        axes = self._axes(len(input_shape) + 1, input_shape)
        return tuple(n for k, n in enumerate(input_shape) if k + 1 not in axes)

    def forward(self, x, training=False):
        _check_x(self, x)
        axes = self._axes(x.ndim, self.build_shape)
        if any(x.shape[a] != 1 for a in axes):
            raise ValueError(f"Squeeze: axes {axes} of an input of shape {x.shape} are not all of size 1")
        self._cache = x.shape if training else None
        return np.squeeze(x, axis=axes)

    def _backward(self, shape, dy):
        return np.ascontiguousarray(dy.reshape(shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class _Elementwise(_Operation):
    """An elementwise operation: y = f(x), dx = f'(x) dy (from x and y)."""

    op_keys = ()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cache = None

    def _check_input_shape(self, input_shape) -> None:
        pass

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        _check_x(self, x)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # as Keras: inf and NaN
            y = self._f(x)
        self._cache = (x, y) if training else None
        return y

    def _backward(self, cache, dy):
        x, y = cache
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return (self._df(x, y) * dy).astype(x.dtype, copy=False)


class Exp(_Elementwise):
    """``ops.exp(x)``."""

    _f = staticmethod(np.exp)

    def _df(self, x, y):
        return y


class Log(_Elementwise):
    """``ops.log(x)`` (NaN below 0 and -inf at 0, as Keras's)."""

    _f = staticmethod(np.log)

    def _df(self, x, y):
        return 1 / x


class Sqrt(_Elementwise):
    """``ops.sqrt(x)``."""

    _f = staticmethod(np.sqrt)

    def _df(self, x, y):
        return 0.5 / y


class Square(_Elementwise):
    """``ops.square(x)``."""

    _f = staticmethod(np.square)

    def _df(self, x, y):
        return 2 * x


class Absolute(_Elementwise):
    """``ops.abs(x)`` (its gradient 0 at 0, as torch's)."""

    _f = staticmethod(np.abs)

    def _df(self, x, y):
        return np.sign(x)


class Tanh(_Elementwise):
    """``ops.tanh(x)``."""

    _f = staticmethod(np.tanh)

    def _df(self, x, y):
        return 1 - y * y


class Sigmoid(_Elementwise):
    """``ops.sigmoid(x)``."""

    keras_module = "keras.src.ops.nn"

    @staticmethod
    def _f(x):
        return 0.5 * (np.tanh(0.5 * x) + 1)  # no overflow for large |x|

    def _df(self, x, y):
        return y * (1 - y)


class Relu(_Elementwise):
    """``ops.relu(x)`` (its gradient 0 at 0)."""

    keras_module = "keras.src.ops.nn"

    @staticmethod
    def _f(x):
        return np.maximum(x, 0)

    def _df(self, x, y):
        return (x > 0).astype(x.dtype)


class SoftmaxOp(_Operation):
    """``ops.softmax(x, axis=-1)`` (Keras's ``keras.src.ops.nn.Softmax``; the Softmax layer is
    ``layers.Softmax``)."""

    keras_module = "keras.src.ops.nn"
    keras_name = "Softmax"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes_arg("softmax", axis, many=False)
        self._cache = None

    def _axes(self, ndim: int) -> tuple[int, ...]:
        return _resolve("softmax", self.axis, ndim)

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        _check_x(self, x)
        (a,) = self._axes(x.ndim)
        e = np.exp(x - x.max(axis=a, keepdims=True))
        y = e / e.sum(axis=a, keepdims=True)
        self._cache = (y, a) if training else None
        return y

    def _backward(self, cache, dy):
        y, a = cache
        return y * (dy - np.sum(dy * y, axis=a, keepdims=True))

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class Transpose(_Operation):
    """``ops.transpose(x, axes)``: the axes in the order ``axes`` gives (the batch axis 0 first)."""

    op_keys = ("axes",)

    def __init__(self, axes=None, **kwargs):
        super().__init__(**kwargs)
        if axes is None:
            raise ValueError("transpose: axes=None reverses the batch axis too; give axes starting with 0")
        if not isinstance(axes, (list, tuple)) or any(
            isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)) for a in axes
        ):
            raise TypeError(f"transpose: axes must be a list of ints, got {axes!r}")
        self.axes = [int(a) for a in axes]
        self._cache = None

    def _perm(self, ndim: int) -> list[int]:
        perm = [a % ndim if -ndim <= a < ndim else None for a in self.axes]
        if len(perm) != ndim or sorted(p for p in perm if p is not None) != list(range(ndim)):
            raise ValueError(
                f"transpose: axes {self.axes} are not an order of the {ndim} axes (batch included)"
            )
        if perm[0] != 0:
            raise ValueError(f"transpose: axes {self.axes} move the batch axis 0; lstmcore keeps it first")
        return perm

    def _check_input_shape(self, input_shape) -> None:
        self._perm(len(input_shape) + 1)

    def output_shape(self, input_shape):
        shape = (None, *input_shape)
        return tuple(shape[p] for p in self._perm(len(shape))[1:])

    def forward(self, x, training=False):
        _check_x(self, x)
        perm = self._perm(x.ndim)
        self._cache = perm if training else None
        return np.ascontiguousarray(x.transpose(perm))

    def _backward(self, perm, dy):
        return np.ascontiguousarray(dy.transpose(np.argsort(perm)))

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": self.axes}


# Every operation, for the registries that look them up by name (layers.get_layer_class, the .keras
# reader) and the ONNX export
OPERATIONS = (Sum, Mean, Max, Min, ExpandDims, Squeeze, Transpose, SoftmaxOp)
OPERATIONS += (Exp, Log, Sqrt, Square, Absolute, Tanh, Sigmoid, Relu)

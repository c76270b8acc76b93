"""Layers that move values without weights: ``RepeatVector``, ``Flatten``, ``Reshape``,
``Activation`` (one of ``core``'s activations on its own), ``Permute``, ``ZeroPadding1D``,
``Cropping1D`` and ``UpSampling1D``, with Keras 3's arguments, and ``GetItem`` (what ``x[...]``
of a symbolic tensor makes).

Shapes are batch-first; ``input_shape`` and ``build_shape`` leave the batch axis out, and may
hold None for an axis of any size (a functional model's ``Input(shape=(None, F))``).
"""

from __future__ import annotations

import math

import numpy as np

from .. import activations
from .base import Layer, _batched, _cached, _positive_int
from .core import _dense_activation

# Shared checks (also used by pooling and conv) ------------------------------------------------------


def _check_x(layer: Layer, x: np.ndarray) -> None:
    """x must be (batch, *build_shape): the shape the layer was built for (None: any size > 0)."""
    want = layer.build_shape
    if x.ndim != len(want) + 1 or any(w not in (None, s) for w, s in zip(want, x.shape[1:], strict=True)):
        want = ", ".join(map(str, want))
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r} was built for inputs of shape (batch, {want}), "
            f"got {x.shape}"
        )
    if 0 in x.shape[1:]:
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r} needs no empty axis after the batch, got {x.shape}"
        )


def _no_step(layer: Layer, x_t):
    raise ValueError(
        f"{type(layer).__name__} {layer.name!r} reads whole inputs, not one time step: predict_step "
        "cannot run it; use predict"
    )


def _data_format(value) -> str:
    """Keras's data_format: None is "channels_last" (Keras's default config)."""
    formats = ("channels_last", "channels_first")
    if value is None:
        return "channels_last"
    if not isinstance(value, str):
        raise TypeError(f"data_format must be None or one of {formats}, got {value!r}")
    if value.lower() not in formats:
        raise ValueError(f"data_format must be None or one of {formats}, got {value!r}")
    return value.lower()


# RepeatVector ---------------------------------------------------------------------------------------


class RepeatVector(Layer):
    """x (B, F) -> y (B, n, F): the input repeated n times along a new time axis."""

    step = _no_step

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _positive_int("n", n)
        self._trained = None

    def _check_input_shape(self, input_shape) -> None:
        if len(input_shape) != 1:
            raise ValueError(
                f"RepeatVector expects inputs of shape (batch, features), i.e. an input_shape of 1 "
                f"value; got input_shape {tuple(input_shape)}"
            )

    def output_shape(self, input_shape):
        return (self.n, input_shape[0])

    def forward(self, x, training=False):
        # x (B, F) | y (B, n, F)
        _check_x(self, x)
        self._trained = True if training else None
        return np.repeat(x[:, None, :], self.n, axis=1)

    def backward(self, dy):
        _cached(self, self._trained)
        self._trained = None  # one backward per training forward, as the other layers
        return dy.sum(axis=1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(n=self.n)
        return config


# Flatten and Reshape --------------------------------------------------------------------------------


class Flatten(Layer):
    """x (B, *S) -> y (B, prod(S)). ``data_format="channels_first"`` moves axis 1 last first, as Keras."""

    step = _no_step

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        self._shape = None

    def _check_input_shape(self, input_shape) -> None:
        if len(input_shape) < 1:
            raise ValueError(f"Flatten expects inputs with axes after the batch axis; got {input_shape}")

    def output_shape(self, input_shape):
        return (None if None in input_shape else math.prod(input_shape),)

    def _axes(self, ndim: int) -> tuple[int, ...] | None:
        if self.data_format == "channels_first" and ndim > 2:
            return (0, *range(2, ndim), 1)
        return None

    def forward(self, x, training=False):
        _check_x(self, x)
        self._shape = x.shape[1:] if training else None
        axes = self._axes(x.ndim)
        if axes is not None:
            x = x.transpose(axes)
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        shape = _cached(self, self._shape)  # that of the last forward's input
        self._shape = None
        axes = self._axes(len(shape) + 1)
        if axes is None:
            return dy.reshape(dy.shape[0], *shape)
        moved = tuple(shape[a - 1] for a in axes[1:])  # the channels-last shape forward flattened
        return dy.reshape(dy.shape[0], *moved).transpose(np.argsort(axes))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(data_format=self.data_format)
        return config


class Reshape(Layer):
    """x (B, *S) -> y (B, *target_shape); one entry of ``target_shape`` may be -1 (inferred)."""

    step = _no_step

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        expected = "target_shape must be a tuple of positive ints, with at most one -1"
        if isinstance(target_shape, (int, np.integer)) and not isinstance(target_shape, bool):
            target_shape = (target_shape,)
        if not isinstance(target_shape, (tuple, list)) or not target_shape:
            raise TypeError(f"{expected}, got {target_shape!r}")
        for d in target_shape:
            if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
                raise TypeError(f"{expected}, got {target_shape!r} (entry {d!r})")
            if d < -1 or d == 0:
                raise ValueError(f"{expected}, got {target_shape!r} (entry {d})")
        if sum(d == -1 for d in target_shape) > 1:
            raise ValueError(f"{expected}, got {target_shape!r} (more than one -1)")
        self.target_shape = tuple(int(d) for d in target_shape)
        self._shape = None

    def _resolved(self, input_shape) -> tuple[int | None, ...]:
        if None in input_shape:  # known at call time only (Keras: the -1 becomes None)
            return tuple(None if d == -1 else d for d in self.target_shape)
        size, known = math.prod(input_shape), math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(
                    f"Reshape: an input of shape {tuple(input_shape)} ({size} values) cannot be "
                    f"reshaped to {self.target_shape}: {size} is not a multiple of {known}"
                )
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if size != known:
            raise ValueError(
                f"Reshape: an input of shape {tuple(input_shape)} ({size} values) cannot be reshaped "
                f"to {self.target_shape} ({known} values)"
            )
        return self.target_shape

    def _check_input_shape(self, input_shape) -> None:
        self._resolved(input_shape)

    def output_shape(self, input_shape):
        return self._resolved(input_shape)

    def forward(self, x, training=False):
        _check_x(self, x)
        self._shape = x.shape[1:] if training else None
        return x.reshape(x.shape[0], *self._resolved(x.shape[1:]))

    def backward(self, dy):
        shape = _cached(self, self._shape)
        self._shape = None
        return dy.reshape(dy.shape[0], *shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(target_shape=list(self.target_shape))
        return config


# Activation -----------------------------------------------------------------------------------------


class Activation(Layer):
    """y = activation(x), elementwise (softmax: over the last axis). The mask passes through."""

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _dense_activation(activation)
        self._y = None

    def forward(self, x, training=False, mask=None):
        _batched(self, x)
        y = activations.get(self.activation)[0](x)
        self._y = (x, y) if training else None
        return y

    def backward(self, dy):
        (x, y), self._y = _cached(self, self._y), None
        return activations.get(self.activation)[1](x, y, dy).astype(y.dtype, copy=False)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(activation=self.activation)
        return config


# Permute, ZeroPadding1D, Cropping1D, UpSampling1D ------------------------------------------------


def _pair(layer: str, name: str, value) -> tuple[int, int]:
    """Keras's (before, after): an int for both, or two non-negative ints."""
    items = [value, value] if not isinstance(value, (tuple, list)) else list(value)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in items):
        raise TypeError(f"{layer}: {name} must be an int or a pair of ints, got {value!r}")
    if any(v < 0 for v in items):
        raise ValueError(f"{layer}: {name} must be non-negative, got {value!r}")
    return int(items[0]), int(items[1])


def _sequence_shape(layer: Layer, input_shape) -> None:
    if len(input_shape) != 2:
        raise ValueError(
            f"{type(layer).__name__} expects inputs (batch, timesteps, features), i.e. an input_shape "
            f"of 2 values; got input_shape {tuple(input_shape)}"
        )


class Permute(Layer):
    """Reorders the axes after the batch: ``dims`` a permutation of 1..n (Keras's), y = x
    transposed to (0, *dims)."""

    step = _no_step

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dims, (tuple, list)) or any(
            isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in dims
        ):
            raise TypeError(f"Permute: dims must be a tuple of ints, got {dims!r}")
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(dims)}, got {tuple(dims)}")
        self.dims = tuple(int(d) for d in dims)
        self._trained = None

    def _check_input_shape(self, input_shape) -> None:
        if len(input_shape) != len(self.dims):
            raise ValueError(
                f"Permute with dims {self.dims} expects inputs of {len(self.dims)} axes after the batch, "
                f"got input_shape {tuple(input_shape)}"
            )

    def output_shape(self, input_shape):
        return tuple(input_shape[d - 1] for d in self.dims)

    def forward(self, x, training=False):
        _check_x(self, x)
        self._trained = True if training else None
        return x.transpose((0, *self.dims))

    def backward(self, dy):
        _cached(self, self._trained)
        self._trained = None
        return dy.transpose(np.argsort((0, *self.dims)))

    def get_config(self) -> dict:
        return {**super().get_config(), "dims": list(self.dims)}


class ZeroPadding1D(Layer):
    """Zeros before and after the steps: x (B, T, F) -> (B, left + T + right, F) (channels_first:
    (B, F, T) padded on its last axis)."""

    step = _no_step

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair("ZeroPadding1D", "padding", padding)
        self.data_format = _data_format(data_format)
        self._trained = None

    def _check_input_shape(self, input_shape) -> None:
        _sequence_shape(self, input_shape)

    def _axis(self) -> int:
        return 2 if self.data_format == "channels_first" else 1

    def output_shape(self, input_shape):
        shape = list(input_shape)
        a = self._axis() - 1
        shape[a] = None if shape[a] is None else shape[a] + sum(self.padding)
        return tuple(shape)

    def forward(self, x, training=False):
        _check_x(self, x)
        self._trained = True if training else None
        widths = [(0, 0)] * 3
        widths[self._axis()] = self.padding
        return np.pad(x, widths)

    def backward(self, dy):
        _cached(self, self._trained)
        self._trained = None
        left, right = self.padding
        index = [slice(None)] * 3
        index[self._axis()] = slice(left, dy.shape[self._axis()] - right)
        return dy[tuple(index)]

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": list(self.padding), "data_format": self.data_format}


class Cropping1D(Layer):
    """Steps cut from the start and the end: x (B, T, F) -> (B, T - before - after, F)."""

    step = _no_step

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pair("Cropping1D", "cropping", cropping)
        self._shape = None

    def _check_input_shape(self, input_shape) -> None:
        _sequence_shape(self, input_shape)
        if input_shape[0] is not None and sum(self.cropping) >= input_shape[0]:
            raise ValueError(
                f"Cropping1D: cropping {self.cropping} leaves no step of inputs of {input_shape[0]} steps"
            )

    def output_shape(self, input_shape):
        T = input_shape[0]
        return (None if T is None else T - sum(self.cropping), input_shape[1])

    def forward(self, x, training=False):
        _check_x(self, x)
        before, after = self.cropping
        if before + after >= x.shape[1]:
            raise ValueError(
                f"Cropping1D: cropping {self.cropping} leaves no step of inputs of shape {x.shape}"
            )
        self._shape = x.shape if training else None
        return x[:, before : x.shape[1] - after]

    def backward(self, dy):
        shape = _cached(self, self._shape)
        self._shape = None
        dx = np.zeros(shape, dtype=dy.dtype)
        dx[:, self.cropping[0] : shape[1] - self.cropping[1]] = dy
        return dx

    def get_config(self) -> dict:
        return {**super().get_config(), "cropping": list(self.cropping)}


class UpSampling1D(Layer):
    """Each step repeated ``size`` times: x (B, T, F) -> (B, size * T, F)."""

    step = _no_step

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
            raise TypeError(f"UpSampling1D: size must be a positive int, got {size!r}")
        self.size = _positive_int("size", size)
        self._trained = None

    def _check_input_shape(self, input_shape) -> None:
        _sequence_shape(self, input_shape)

    def output_shape(self, input_shape):
        T = input_shape[0]
        return (None if T is None else self.size * T, input_shape[1])

    def forward(self, x, training=False):
        _check_x(self, x)
        self._trained = True if training else None
        return np.repeat(x, self.size, axis=1)

    def backward(self, dy):
        _cached(self, self._trained)
        self._trained = None
        B, TS, F = dy.shape
        return dy.reshape(B, TS // self.size, self.size, F).sum(axis=2)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size}


# GetItem (x[...] of a symbolic tensor) -------------------------------------------------------------

_INDEX_HELP = (
    "lstmcore takes x[...] of ints, slices, ... and None (a new axis) with the batch axis kept whole, "
    "as in x[:, -1, :] or x[..., 0]"
)


def _key_item(v):
    """One item of a key from Keras's serialized form (or Python's): an int, a slice, ... or None."""
    if isinstance(v, dict):
        name, config = v.get("class_name"), v.get("config") or {}
        if name == "__ellipsis__":
            return Ellipsis
        if name == "__slice__":
            v = slice(config.get("start"), config.get("stop"), config.get("step"))
        else:
            raise TypeError(f"an index {v!r:.80} is not one {_INDEX_HELP}")
    if v is None or v is Ellipsis:
        return v
    if isinstance(v, slice):
        for part in (v.start, v.stop, v.step):
            if part is not None and (
                isinstance(part, (bool, np.bool_)) or not isinstance(part, (int, np.integer))
            ):
                raise TypeError(f"a slice's start, stop and step must be ints or None, got {v!r}")
        if v.step == 0:
            raise ValueError(f"a slice's step cannot be 0, got {v!r}")
        return slice(*(None if p is None else int(p) for p in (v.start, v.stop, v.step)))
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"an index {v!r:.80} (a {type(v).__name__}) is not one {_INDEX_HELP}")
    return int(v)


def serialized_key(key) -> list:
    """A Python key of x[...] (a tuple or one item) as Keras writes it in a .keras file: a list of
    ints, {"class_name": "__slice__", ...}, {"class_name": "__ellipsis__", ...} and None."""
    if isinstance(key, list):  # x[[0, 2]]: NumPy's fancy indexing, which Keras's tensors refuse too
        raise TypeError(f"x[{key!r:.60}]: a list of indices is not an index; {_INDEX_HELP}")
    items = [_key_item(v) for v in (key if isinstance(key, tuple) else (key,))]
    out = []
    for v in items:
        if isinstance(v, slice):
            out.append(
                {"class_name": "__slice__", "config": {"start": v.start, "stop": v.stop, "step": v.step}}
            )
        elif v is Ellipsis:
            out.append({"class_name": "__ellipsis__", "config": {}})
        else:
            out.append(v)
    return out


def _expanded(key, ndim: int) -> tuple:
    """The key (serialized) as one item per axis of an input of ``ndim`` axes (batch included),
    ``...`` filled in; ValueError where it does not fit or does not keep the batch axis whole."""
    items = [_key_item(v) for v in (key if isinstance(key, list) else [key])]
    if sum(v is Ellipsis for v in items) > 1:
        raise ValueError(f"an index can have one ... only; {_INDEX_HELP}")
    used = sum(v is not None and v is not Ellipsis for v in items)
    if used > ndim:
        raise ValueError(f"an index of {used} axes for an input of {ndim} (batch included)")
    full = []
    for v in items:
        full += [slice(None)] * (ndim - used) if v is Ellipsis else [v]
    if Ellipsis not in items:
        full += [slice(None)] * (ndim - used)
    if not (isinstance(full[0], slice) and full[0] in (slice(None), slice(None, None, 1))):
        raise ValueError(f"x[...] must keep the batch axis (the first) whole; {_INDEX_HELP}")
    return tuple(full)


def _length(s: slice, n) -> int | None:
    """The steps slice ``s`` keeps of an axis of ``n`` (None: any size; then None where it depends
    on the size)."""
    if n is not None:
        return len(range(*s.indices(n)))
    # the length changes with the size only up to the bounds' size, and past it where it grows
    m = max(abs(s.start or 0), abs(s.stop or 0)) + 2
    lengths = {len(range(*s.indices(size))) for size in (*range(1, m + 1), 10**9, 10**9 + 7)}
    return lengths.pop() if len(lengths) == 1 else None


class GetItem(Layer):
    """``x[key]`` of a symbolic tensor in a functional model (Keras 3's ``GetItem`` operation):
    ``seq[:, -1, :]`` (the last step), ``seq[:, 1:4:2]``, ``x[..., 0]``, ``x[:, None]``. The key is
    the call argument ``key`` (in Keras's serialized form, as a .keras file holds it): ints, slices,
    ``...`` and None, with the batch axis kept whole. The backward puts dy back where the key took
    it from (zeros elsewhere). As Keras's operations, it passes no mask on."""

    keras_module = "keras.src.ops.numpy"
    call_arguments = ("key",)
    step = _no_step

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cache = None

    def output_shape(self, input_shape):
        raise ValueError("GetItem's output shape depends on its key: output_shapes(input_shape, key=...)")

    def output_shapes(self, input_shape, key=None):
        shape = (None, *input_shape)
        out, axis = [], 0
        for v in _expanded(key, len(shape)):
            if v is None:
                out.append(1)
                continue
            n = shape[axis]
            axis += 1
            if isinstance(v, slice):
                length = _length(v, n)
                if length == 0:
                    raise ValueError(f"x[...]: the index keeps no step of an axis of size {n}")
                out.append(length)
            elif n is not None and not -n <= v < n:
                raise ValueError(f"x[...]: index {v} is out of range for an axis of size {n}")
        return [tuple(out[1:])]

    def compute_mask(self, inputs, mask=None):
        return None

    def forward(self, x, training=False, key=None):
        # x (B, ...) | y = x[key] (B, ...)
        k = _expanded(key, np.ndim(x))
        try:
            y = np.array(x[k])  # a copy, not a view of x
        except IndexError as exc:
            raise ValueError(f"x[...] of an input of shape {np.shape(x)}: {exc}") from None
        if 0 in y.shape[1:]:
            raise ValueError(f"x[...] of an input of shape {np.shape(x)} keeps no element on some axis")
        self._cache = (np.shape(x), x.dtype, k) if training else None
        return y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        (shape, dtype, k), self._cache = self._cache, None
        dx = np.zeros(shape, dtype=dtype)
        dx[k] = dy  # basic indexing: each element of x taken once at most
        return dx

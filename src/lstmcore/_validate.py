"""Input checks at the Python edge, shared by the compiled backend and the reference.

Policy, the same for every public function:
- array-likes go through ``np.asarray``; the dtype of ``x`` sets the dtype of the call and must be
  float32 or float64. Integer, bool, complex, float16 and object inputs are refused with
  ``TypeError`` (never converted silently); every other array must have the dtype of ``x``.
- non-contiguous, misaligned or byte-swapped float arrays are copied into a C-contiguous native
  array (converted, not refused).
- wrong rank or shape, zero-sized dimensions, NaN or inf (when ``check_finite``), an unknown
  activation: ``ValueError`` naming what was expected and what was received.
"""

from __future__ import annotations

import numpy as np

from ._cache import LSTMCache

try:
    from ._checks import all_finite as _all_finite
except ImportError:  # pragma: no cover - the reference backend without a compiler

    def _all_finite(a: np.ndarray) -> bool:
        return bool(np.isfinite(a).all())


# The codes are shared with csrc/activations.h.
ACTIVATIONS = {"tanh": 0, "relu": 1, "sigmoid": 2, "linear": 3}
RECURRENT_ACTIVATIONS = {"sigmoid": 0, "hard_sigmoid": 1}

_INT_MAX = 2**31 - 1  # BLAS takes its sizes as C int


def activation_code(name, table: dict, argname: str) -> int:
    if not isinstance(name, str):
        raise TypeError(f"{argname} must be a string, one of {sorted(table)}; got {name!r}")
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"{argname} must be one of {sorted(table)}; got {name!r}") from None


def dtype_of(x, name: str = "x") -> np.dtype:
    """The dtype of the call: that of ``x``, which must be float32 or float64."""
    dt = np.asarray(x).dtype
    if dt.kind == "f" and dt.itemsize in (4, 8):
        return np.dtype(np.float32 if dt.itemsize == 4 else np.float64)
    raise TypeError(f"{name} must be a float32 or float64 array, got dtype {dt}")


def as_float(name: str, a, dtype: np.dtype, of: str = "x") -> np.ndarray:
    """``a`` as a C-contiguous, aligned, native-order array of ``dtype``: floats of that
    precision only (byte-swapped ones are converted), TypeError for anything else."""
    a = np.asarray(a)
    if a.dtype.kind != "f" or a.dtype.itemsize != dtype.itemsize:
        raise TypeError(f"{name} must have dtype {dtype} (the dtype of {of}), got {a.dtype}")
    if a.dtype != dtype or not (a.flags.c_contiguous and a.flags.aligned):
        a = np.require(a, dtype=dtype, requirements=("C", "A"))
    return a


def step_shape_error(B: int, I: int, shape: tuple) -> ValueError:
    want = f"({B}, {I}) or ({B}, 1, {I})" + (f" or ({I},)" if B == 1 else "")
    return ValueError(f"x_t must have shape {want}, got {shape}")


def as_step_input(x_t, dtype: np.dtype, B: int, I: int) -> np.ndarray:
    """A stepper's ``x_t`` (B, I), (B, 1, I) or, for B = 1, (I,): an array as :func:`as_float`
    takes it, or a list of numbers (Python's own, with no dtype to respect), converted to the
    stepper's dtype. The shape is checked first: a huge wrong input is never copied."""
    a = np.asarray(x_t)
    if a.shape not in ((B, I), (B, 1, I)) and not (B == 1 and a.shape == (I,)):
        raise step_shape_error(B, I, a.shape)
    if not isinstance(x_t, (np.ndarray, np.generic)) and a.dtype.kind in "iuf":
        return np.require(a, dtype=dtype, requirements=("C", "A"))
    return as_float("x_t", a, dtype, "the stepper's weights")


def as_arrays(dtype: np.dtype, check_finite: bool, *specs: tuple) -> list:
    """Each ``(name, a, shape)`` as :func:`as_array`. Every dtype and shape is checked before any
    array is copied or scanned, so a bad small array fails at once even beside a large one that
    would need converting."""
    arrays = [np.asarray(a) for _, a, _ in specs]
    for (name, _, shape), a in zip(specs, arrays, strict=True):
        if a.dtype.kind != "f" or a.dtype.itemsize != dtype.itemsize:
            raise TypeError(f"{name} must have dtype {dtype} (the dtype of x), got {a.dtype}")
        if a.shape != shape and (
            a.ndim != len(shape) or any(e is not None and e != s for e, s in zip(shape, a.shape, strict=True))
        ):
            want = "(" + ", ".join("?" if e is None else str(e) for e in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    for k, ((name, _, _), a) in enumerate(zip(specs, arrays, strict=True)):
        a = arrays[k] = as_float(name, a, dtype)
        if check_finite and not _all_finite(a):
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
            raise ValueError(f"{name} must be finite, got {a[where]} at index {where}")
    return arrays


def as_array(name: str, a, dtype: np.dtype, shape: tuple, check_finite: bool) -> np.ndarray:
    """``a`` as a C-contiguous aligned array of ``dtype`` and exactly ``shape`` (None: any size)."""
    return as_arrays(dtype, check_finite, (name, a, shape))[0]


def nonnegative_int(name: str, value) -> int:
    """``value`` as an int >= 0: any integer type, not bool or float."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value}")
    return int(value)


def _positive_sizes(**sizes: int) -> None:
    for name, n in sizes.items():
        if n < 1:
            raise ValueError(f"{name} must be at least 1, got {n}")
        if n > _INT_MAX:
            raise ValueError(f"{name} must be below 2**31, got {n}")


def check_weights(w_x, w_h, b, dtype, check_finite: bool):
    w_h = np.asarray(w_h)
    if w_h.ndim != 2 or w_h.shape[1] != 4 * w_h.shape[0]:
        raise ValueError(f"w_h must have shape (H, 4*H), got {w_h.shape}")
    H = w_h.shape[0]
    w_x = np.asarray(w_x)
    if w_x.ndim != 2:
        raise ValueError(f"w_x must have shape (I, {4 * H}), got {w_x.shape}")
    I = w_x.shape[0]
    _positive_sizes(H=H, I=I)
    return tuple(
        as_arrays(dtype, check_finite, ("w_x", w_x, (I, 4 * H)), ("w_h", w_h, (H, 4 * H)), ("b", b, (4 * H,)))
    )


def _state(name, a, dtype, B, H, check_finite):
    if a is None:
        return np.zeros((B, H), dtype=dtype)
    return as_array(name, a, dtype, (B, H), check_finite)


def _states(dtype, B, H, check_finite, x_spec, **states):
    """``x_spec`` (its array None: no such input) and the states (B, H) checked together
    (:func:`as_arrays`); a state None: zeros."""
    specs = [x_spec] + [(k, a, (B, H)) for k, a in states.items()]
    given = [spec for spec in specs if spec[1] is not None]
    checked = iter(as_arrays(dtype, check_finite, *given))
    x = None if x_spec[1] is None else next(checked)
    return [x] + [np.zeros((B, H), dtype=dtype) if a is None else next(checked) for a in states.values()]


def check_forward(x, w_x, w_h, b, h0, c0, activation, recurrent_activation, check_finite):
    """Checked ``x (B, T, I)``, weights, ``h0``/``c0`` (zeros when None) and activation codes."""
    act = activation_code(activation, ACTIVATIONS, "activation")
    ract = activation_code(recurrent_activation, RECURRENT_ACTIVATIONS, "recurrent_activation")
    dtype = dtype_of(x)
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D (B, T, I), got shape {x.shape}")
    w_x, w_h, b = check_weights(w_x, w_h, b, dtype, check_finite)
    B, T, _ = x.shape
    I, H = w_x.shape[0], w_h.shape[0]
    _positive_sizes(B=B, T=T, TB=T * B, TG=T * 4 * H)  # BLAS's sizes and row strides are C ints
    x, h0, c0 = _states(dtype, B, H, check_finite, ("x", x, (B, T, I)), h0=h0, c0=c0)
    return x, w_x, w_h, b, h0, c0, act, ract


def check_stepper(batch_size, I: int, H: int) -> int:
    """A stepper's ``batch_size``: an int from 1 to 2**31 - 1 such that its (B, I) inputs and
    (B, H) states have C-int sizes."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be a positive int, got {batch_size!r}")
    if not 1 <= batch_size <= _INT_MAX:
        raise ValueError(f"batch_size must be an int from 1 to 2**31 - 1, got {batch_size!r}")
    B = int(batch_size)
    _positive_sizes(BH=B * H, BI=B * I)
    return B


def check_cell(x_t, w_x, w_h, b, h_prev, c_prev, activation, recurrent_activation, check_finite):
    """As :func:`check_forward` for one step: ``x_t (B, I)``."""
    act = activation_code(activation, ACTIVATIONS, "activation")
    ract = activation_code(recurrent_activation, RECURRENT_ACTIVATIONS, "recurrent_activation")
    dtype = dtype_of(x_t)
    x_t = np.asarray(x_t)
    if x_t.ndim != 2:
        raise ValueError(f"x_t must be 2-D (B, I), got shape {x_t.shape}")
    w_x, w_h, b = check_weights(w_x, w_h, b, dtype, check_finite)
    B = x_t.shape[0]
    I, H = w_x.shape[0], w_h.shape[0]
    _positive_sizes(B=B)
    x_t, h_prev, c_prev = _states(
        dtype, B, H, check_finite, ("x_t", x_t, (B, I)), h_prev=h_prev, c_prev=c_prev
    )
    return x_t, w_x, w_h, b, h_prev, c_prev, act, ract


def check_backward(dy, cache, dh_n, dc_n, check_finite):
    """Checked ``dy (B, T, H)`` (None: no gradient from the outputs), ``dh_n``/``dc_n`` (zeros)."""
    if not isinstance(cache, LSTMCache):
        raise TypeError(
            "cache must be the LSTMCache returned by lstm_forward(..., return_cache=True), "
            f"got {type(cache).__name__}"
        )
    _check_cache(cache)
    T, B, _ = cache.gates.shape
    H = cache.w_h.shape[0]
    dtype = cache.gates.dtype
    return _states(dtype, B, H, check_finite, ("dy", dy, (B, T, H)), dh_n=dh_n, dc_n=dc_n)


def _check_cache(cache: LSTMCache) -> None:
    """The kernels trust the cache's shapes: make sure nobody changed them since the forward."""
    gates = cache.gates
    if not isinstance(gates, np.ndarray) or gates.ndim != 3 or gates.shape[2] % 4:
        got = getattr(gates, "shape", gates)
        raise ValueError(f"cache.gates must be an array (T, B, 4*H), got {got!r}")
    T, B, G = gates.shape
    H = G // 4
    expected = {
        "x": (T, B, None),
        "w_x": (None, G),
        "w_h": (H, G),
        "h": (T + 1, B, H),
        "c": (T + 1, B, H),
    }
    x_shape = getattr(cache.x, "shape", ())
    I = x_shape[-1] if len(x_shape) == 3 else -1
    for name, shape in expected.items():
        a = getattr(cache, name)
        shape = tuple(I if e is None else e for e in shape)
        if (
            not isinstance(a, np.ndarray)
            or a.shape != shape
            or a.dtype != gates.dtype
            or not a.flags.c_contiguous
            or not a.flags.aligned
        ):
            raise ValueError(
                f"cache.{name} must be a C-contiguous {gates.dtype} array of shape {shape}, "
                f"got {type(a).__name__} {getattr(a, 'shape', '')} {getattr(a, 'dtype', '')}"
            )
    if gates.dtype not in (np.float32, np.float64) or not gates.flags.c_contiguous or min(T, B, I, H) < 1:
        raise ValueError(
            "cache.gates must be a non-empty C-contiguous float array (float32 or float64), "
            f"got {gates.dtype} {gates.shape}"
        )
    activation_code(cache.activation, ACTIVATIONS, "cache.activation")
    activation_code(cache.recurrent_activation, RECURRENT_ACTIVATIONS, "cache.recurrent_activation")

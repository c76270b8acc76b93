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

import math

import numpy as np

from ._cache import GRUCache, LSTMCache, RNNCache

try:
    from ._checks import all_finite as _all_finite
except ImportError:  # pragma: no cover - the reference backend without a compiler

    def _all_finite(a: np.ndarray) -> bool:
        return bool(np.isfinite(a).all())


# The codes are shared with csrc/math/activations.h.
ACTIVATIONS = {"tanh": 0, "relu": 1, "sigmoid": 2, "linear": 3}
RECURRENT_ACTIVATIONS = {"sigmoid": 0, "hard_sigmoid": 1}

_INT_MAX = 2**31 - 1  # BLAS takes its sizes as C int

# The activations of every cell argument (GRU, simple RNN, the LSTM's options): name -> code, the
# codes shared with the C kernels, and name -> the defaults of its parameters (alpha[, beta]),
# () for none. An argument is a name or a tuple (name, alpha) / (name, alpha, beta).
CELL_ACTIVATIONS = {
    "tanh": 0,
    "relu": 1,
    "sigmoid": 2,
    "linear": 3,
    "hard_sigmoid": 4,
    "leaky_relu": 5,
    "thresholded_relu": 6,
    "scaled_tanh": 7,
    "affine": 8,
    "elu": 9,
    "softsign": 10,
    "softplus": 11,
}
ACTIVATION_DEFAULTS = {
    "tanh": (),
    "relu": (),
    "sigmoid": (),
    "linear": (),
    "hard_sigmoid": (1 / 6, 0.5),  # Keras 3; ONNX's default is (0.2, 0.5)
    "leaky_relu": (0.01,),
    "thresholded_relu": (1.0,),
    "scaled_tanh": (1.0, 1.0),
    "affine": (1.0, 0.0),
    "elu": (1.0,),
    "softsign": (),
    "softplus": (),
}


def activation_code(name, table: dict, argname: str) -> int:
    if not isinstance(name, str):
        raise TypeError(f"{argname} must be a string, one of {sorted(table)}; got {name!r}")
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"{argname} must be one of {sorted(table)}; got {name!r}") from None


def activation_spec(value, argname: str) -> tuple:
    """``value``, a name or a tuple ``(name, alpha)`` / ``(name, alpha, beta)``, as the
    ``(code, alpha, beta)`` of :data:`CELL_ACTIVATIONS`: floats, defaults filled in, 0.0 for a
    parameter the activation does not have."""
    if type(value) is str and value in _NAME_SPECS:  # a plain name: its spec, computed once
        return _NAME_SPECS[value]
    if isinstance(value, str):
        name, params = value, ()
    elif isinstance(value, tuple) and 1 <= len(value) <= 3 and isinstance(value[0], str):
        name, params = value[0], value[1:]
    elif isinstance(value, tuple):
        raise TypeError(
            f"{argname} must be a string or a tuple (name, alpha) or (name, alpha, beta) with a "
            f"str name; got {value!r}"
        )
    else:
        raise TypeError(
            f"{argname} must be a string, one of {sorted(CELL_ACTIVATIONS)}, or a tuple "
            f"(name, alpha[, beta]); got {value!r}"
        )
    if name not in CELL_ACTIVATIONS:
        raise ValueError(f"{argname} must be one of {sorted(CELL_ACTIVATIONS)}; got {name!r}")
    defaults = ACTIVATION_DEFAULTS[name]
    if len(params) > len(defaults):
        takes = "no parameters" if not defaults else f"at most {len(defaults)} parameter(s)"
        raise ValueError(f"{argname} {name!r} takes {takes}; got {value!r}")
    values = []
    for k, p in enumerate(params):
        what = ("alpha", "beta")[k]
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"{argname} {name!r}: {what} must be a real number, got {p!r}")
        try:
            v = float(p)
        except OverflowError:  # a Python int beyond any float
            v = math.inf
        if not math.isfinite(v):
            raise ValueError(f"{argname} {name!r}: {what} must be finite, got {p!r}")
        values.append(v)
    alpha, beta = (values + list(defaults[len(values) :]) + [0.0, 0.0])[:2]
    if name == "leaky_relu" and alpha < 0:
        raise ValueError(f"{argname} 'leaky_relu': alpha must be >= 0, got {alpha}")
    if name == "elu" and alpha <= 0:
        raise ValueError(f"{argname} 'elu': alpha must be > 0, got {alpha}")
    if name == "scaled_tanh" and alpha == 0:
        raise ValueError(f"{argname} 'scaled_tanh': alpha must not be 0")
    return CELL_ACTIVATIONS[name], alpha, beta


_NAME_SPECS: dict = {}
_NAME_SPECS.update({name: activation_spec(name, "activation") for name in CELL_ACTIVATIONS})


def flag(name: str, value) -> bool:
    """``value`` as a bool: True, False or a NumPy bool; anything else is a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


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


def check_recurrent_mask(mask, dtype: np.dtype, B: int, P: int, check_finite: bool):
    """The recurrent dropout mask of a sequence call as a C-contiguous (B, P) array of ``dtype``
    (P: the columns of h), or None when ``mask`` is None. Any real values are taken (Keras's masks
    hold 0 and 1 / (1 - rate)); finite when ``check_finite``."""
    if mask is None:
        return None
    shape = np.shape(mask)
    if shape != (B, P):
        raise ValueError(f"recurrent_mask must have shape (B, P) = ({B}, {P}), got {shape}")
    return as_array("recurrent_mask", mask, dtype, (B, P), check_finite)


def _check_cache_mask(cache, dtype, B: int, P: int) -> None:
    """``cache.recurrent_mask``: None, or a C-contiguous aligned (B, P) array of ``dtype``."""
    mask = cache.recurrent_mask
    if mask is None:
        return
    if (
        not isinstance(mask, np.ndarray)
        or mask.shape != (B, P)
        or mask.dtype != dtype
        or not mask.flags.c_contiguous
        or not mask.flags.aligned
    ):
        raise ValueError(
            f"cache.recurrent_mask must be None or a C-contiguous {dtype} array of shape {(B, P)}, "
            f"got {type(mask).__name__} {getattr(mask, 'shape', '')} {getattr(mask, 'dtype', '')}"
        )


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
    w_x, I = _check_w_x(w_x, H, 4 * H)
    return tuple(
        as_arrays(dtype, check_finite, ("w_x", w_x, (I, 4 * H)), ("w_h", w_h, (H, 4 * H)), ("b", b, (4 * H,)))
    )


def _check_w_x(w_x, H: int, G: int, cell: str = "") -> tuple:
    """``w_x`` as a 2-D array -> (w_x, I), with H and I sizes BLAS takes; its full shape (I, G) is
    checked with the other arrays (:func:`as_arrays`). ``cell``: what the message adds, " for a GRU"."""
    w_x = np.asarray(w_x)
    if w_x.ndim != 2:
        raise ValueError(f"w_x must have shape (I, {G}){cell}, got {w_x.shape}")
    I = w_x.shape[0]
    _positive_sizes(H=H, I=I)
    return w_x, I


def _state(name, a, dtype, B, H, check_finite):
    if a is None:
        return np.zeros((B, H), dtype=dtype)
    return as_array(name, a, dtype, (B, H), check_finite)


def _with_states(dtype, check_finite, x_spec, *state_specs) -> list:
    """``x_spec`` (its array None: no such input) and each state ``(name, a, shape)`` checked
    together (:func:`as_arrays`); a state None: zeros of its shape -> [x, *states]."""
    given = [spec for spec in (x_spec, *state_specs) if spec[1] is not None]
    checked = iter(as_arrays(dtype, check_finite, *given))
    x = None if x_spec[1] is None else next(checked)
    states = [np.zeros(shape, dtype=dtype) if a is None else next(checked) for _, a, shape in state_specs]
    return [x, *states]


def _states(dtype, B, H, check_finite, x_spec, **states):
    """As :func:`_with_states`, each state (B, H) and named by its keyword."""
    return _with_states(dtype, check_finite, x_spec, *((k, a, (B, H)) for k, a in states.items()))


def _input(x, ndim: int):
    """The dtype of the call, that of its input, and the input as an array: ``x (B, T, I)`` of a
    sequence call (ndim 3) or ``x_t (B, I)`` of one step (ndim 2)."""
    dtype = dtype_of(x)
    x = np.asarray(x)
    if x.ndim != ndim:
        what = "x must be 3-D (B, T, I)" if ndim == 3 else "x_t must be 2-D (B, I)"
        raise ValueError(f"{what}, got shape {x.shape}")
    return dtype, x


def _sequence_states(dtype, x, w_x, w_h, check_finite, **states) -> list:
    """After the weights w_x (I, G), w_h (H, G): the sizes of a sequence call, then ``x (B, T, I)``
    and the states (B, H) checked together (:func:`_states`) -> [x, *states]."""
    B, T, _ = x.shape
    I, G = w_x.shape
    _positive_sizes(B=B, T=T, TB=T * B, TG=T * G)  # BLAS's sizes and row strides are C ints
    return _states(dtype, B, w_h.shape[0], check_finite, ("x", x, (B, T, I)), **states)


def _step_states(dtype, x_t, w_x, w_h, check_finite, **states) -> list:
    """As :func:`_sequence_states` for one step: ``x_t (B, I)`` and the states (B, H)."""
    B = x_t.shape[0]
    _positive_sizes(B=B)
    return _states(dtype, B, w_h.shape[0], check_finite, ("x_t", x_t, (B, w_x.shape[0])), **states)


def check_forward(x, w_x, w_h, b, h0, c0, activation, recurrent_activation, check_finite):
    """Checked ``x (B, T, I)``, weights, ``h0``/``c0`` (zeros when None) and activation codes."""
    act = activation_code(activation, ACTIVATIONS, "activation")
    ract = activation_code(recurrent_activation, RECURRENT_ACTIVATIONS, "recurrent_activation")
    ready = _fast_sequence(x, w_x, w_h, b, None, 4, 0, check_finite, h0, c0)
    if ready is not None:
        return (*ready, act, ract)
    dtype, x = _input(x, 3)
    w_x, w_h, b = check_weights(w_x, w_h, b, dtype, check_finite)
    x, h0, c0 = _sequence_states(dtype, x, w_x, w_h, check_finite, h0=h0, c0=c0)
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
    dtype, x_t = _input(x_t, 2)
    w_x, w_h, b = check_weights(w_x, w_h, b, dtype, check_finite)
    x_t, h_prev, c_prev = _step_states(dtype, x_t, w_x, w_h, check_finite, h_prev=h_prev, c_prev=c_prev)
    return x_t, w_x, w_h, b, h_prev, c_prev, act, ract


def check_backward(dy, cache, dh_n, dc_n, check_finite):
    """Checked ``dy (B, T, H)`` (None: no gradient from the outputs), ``dh_n``/``dc_n`` (zeros)."""
    _cache_of(cache, LSTMCache, "lstm_forward")
    _check_cache(cache)
    T, B, _ = cache.gates.shape
    H = cache.w_h.shape[0]
    dtype = cache.gates.dtype
    return _states(dtype, B, H, check_finite, ("dy", dy, (B, T, H)), dh_n=dh_n, dc_n=dc_n)


def _lstm_cache_shapes(T: int, B: int, G: int, H: int, P: int) -> dict:
    """The shapes of an LSTMCache's arrays for :func:`_check_cache_arrays`: P the columns of h."""
    return {"x": (T, B, None), "w_x": (None, G), "w_h": (P, G), "h": (T + 1, B, P), "c": (T + 1, B, H)}


def _check_cache(cache: LSTMCache) -> None:
    """The kernels trust the cache's shapes: make sure nobody changed them since the forward."""
    T, B, G, H = _cache_gates(cache, 4)
    _check_cache_arrays(cache, "gates", _lstm_cache_shapes(T, B, G, H, H))
    _check_cache_mask(cache, cache.gates.dtype, B, H)
    activation_code(cache.activation, ACTIVATIONS, "cache.activation")
    activation_code(cache.recurrent_activation, RECURRENT_ACTIVATIONS, "cache.recurrent_activation")


# GRU and simple RNN ------------------------------------------------------------------------------

_W_H_OF = {4: "an LSTM's w_h (H, 4*H)", 3: "a GRU's w_h (H, 3*H)", 1: "a simple RNN's w_h (H, H)"}


def _w_h_hint(shape: tuple, K: int) -> str:
    """Why a w_h of ``shape`` is wrong for a cell of ``K`` gate blocks, when it is another cell's."""
    if len(shape) == 2 and shape[0] >= 1 and shape[1] % shape[0] == 0:
        k = shape[1] // shape[0]
        if k != K and k in _W_H_OF:
            return f": that is the shape of {_W_H_OF[k]}, not of {_W_H_OF[K]}"
    return ""


def _check_w_h(w_h, K: int, cell: str) -> np.ndarray:
    w_h = np.asarray(w_h)
    if w_h.ndim != 2 or w_h.shape[1] != K * w_h.shape[0]:
        want = "(H, H)" if K == 1 else f"(H, {K}*H)"
        raise ValueError(f"w_h must have shape {want} for {cell}, got {w_h.shape}{_w_h_hint(w_h.shape, K)}")
    return w_h


def check_gru_weights(w_x, w_h, b, dtype, reset_after: bool, check_finite: bool):
    """Checked ``w_x (I, 3H)``, ``w_h (H, 3H)``, ``b`` ((2, 3H) when ``reset_after``: the input and
    the recurrent bias; else (3H,)) -> (w_x, w_h, b)."""
    w_h = _check_w_h(w_h, 3, "a GRU")
    H = w_h.shape[0]
    G = 3 * H
    w_x, I = _check_w_x(w_x, H, G, " for a GRU")
    b_shape = (2, G) if reset_after else (G,)
    got = np.shape(b)
    if got != b_shape:
        why = "rows: input bias, recurrent bias" if reset_after else "one bias"
        raise ValueError(
            f"b must have shape {b_shape} for a GRU with reset_after={bool(reset_after)} ({why}), got {got}"
        )
    return tuple(
        as_arrays(dtype, check_finite, ("w_x", w_x, (I, G)), ("w_h", w_h, (H, G)), ("b", b, b_shape))
    )


def check_rnn_weights(w_x, w_h, b, dtype, check_finite: bool):
    """Checked ``w_x (I, H)``, ``w_h (H, H)``, ``b (H,)`` -> (w_x, w_h, b)."""
    w_h = _check_w_h(w_h, 1, "a simple RNN")
    H = w_h.shape[0]
    w_x, I = _check_w_x(w_x, H, H, " for a simple RNN")
    return tuple(as_arrays(dtype, check_finite, ("w_x", w_x, (I, H)), ("w_h", w_h, (H, H)), ("b", b, (H,))))


def gru_specs(activation, recurrent_activation, reset_after) -> tuple:
    """A GRU's activation arguments as specs (:func:`activation_spec`) and ``reset_after`` as a bool
    -> (act, ract, reset_after)."""
    act = activation_spec(activation, "activation")
    ract = activation_spec(recurrent_activation, "recurrent_activation")
    return act, ract, flag("reset_after", reset_after)


def _ready(dtype, *arrays) -> bool:
    """True when every array is already what :func:`as_arrays` returns unchanged: an ndarray of
    exactly ``dtype`` (native order), C-contiguous and aligned."""
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != dtype:
            return False
        flags = a.flags
        if not (flags.c_contiguous and flags.aligned):
            return False
    return True


def _fast_sequence(x, w_x, w_h, b, mask, K: int, bias_rows: int, check_finite: bool, *states):
    """The checked (x, w_x, w_h, b, *states) of a sequence call of a K-block cell when nothing
    needs converting and nothing is wrong (the mask and every state None, every array ready and
    finite, shapes consistent, sizes in range), else None: the full checks then run and say what
    is wrong. ``b`` is (G,) or, with ``bias_rows`` 2, (2, G); each state comes back as zeros
    (B, H). The same acceptance as the full path, in a few microseconds."""
    if mask is not None or any(s is not None for s in states):
        return None
    if type(x) is not np.ndarray or x.ndim != 3:
        return None
    dtype = x.dtype
    if dtype != _F32 and dtype != _F64:
        return None
    if type(w_h) is not np.ndarray or w_h.ndim != 2 or not _ready(dtype, x, w_x, w_h, b):
        return None
    B, T, I = x.shape
    H = w_h.shape[0]
    G = K * H
    if w_h.shape[1] != G or w_x.shape != (I, G) or b.shape != ((bias_rows, G) if bias_rows else (G,)):
        return None
    if min(B, T, I, H) < 1 or max(B, T, I, H, T * B, T * G) > _INT_MAX:
        return None
    if check_finite and not (_all_finite(x) and _all_finite(w_x) and _all_finite(w_h) and _all_finite(b)):
        return None
    return (x, w_x, w_h, b, *(np.zeros((B, H), dtype=dtype) for _ in states))


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def check_gru_forward(
    x, w_x, w_h, b, h0, reset_after, activation, recurrent_activation, check_finite, recurrent_mask=None
):
    """Checked ``x (B, T, I)``, GRU weights, ``h0`` (zeros when None), activation specs and the
    ``recurrent_mask`` (B, H) or None (:func:`check_recurrent_mask`)
    -> (x, w_x, w_h, b, h0, act, ract, recurrent_mask)."""
    act, ract, reset_after = gru_specs(activation, recurrent_activation, reset_after)
    ready = _fast_sequence(x, w_x, w_h, b, recurrent_mask, 3, 2 if reset_after else 0, check_finite, h0)
    if ready is not None:
        return (*ready, act, ract, None)
    dtype, x = _input(x, 3)
    w_x, w_h, b = check_gru_weights(w_x, w_h, b, dtype, reset_after, check_finite)
    x, h0 = _sequence_states(dtype, x, w_x, w_h, check_finite, h0=h0)
    recurrent_mask = check_recurrent_mask(recurrent_mask, dtype, x.shape[0], w_h.shape[0], check_finite)
    return x, w_x, w_h, b, h0, act, ract, recurrent_mask


def check_gru_cell(x_t, w_x, w_h, b, h_prev, reset_after, activation, recurrent_activation, check_finite):
    """As :func:`check_gru_forward` for one step: ``x_t (B, I)``
    -> (x_t, w_x, w_h, b, h_prev, act, ract)."""
    act, ract, reset_after = gru_specs(activation, recurrent_activation, reset_after)
    dtype, x_t = _input(x_t, 2)
    w_x, w_h, b = check_gru_weights(w_x, w_h, b, dtype, reset_after, check_finite)
    x_t, h_prev = _step_states(dtype, x_t, w_x, w_h, check_finite, h_prev=h_prev)
    return x_t, w_x, w_h, b, h_prev, act, ract


def check_gru_backward(dy, cache, dh_n, check_finite):
    """Checked ``dy (B, T, H)`` (None: no gradient from the outputs), ``dh_n`` (zeros when None) and
    the cache's activation specs -> (dy, dh_n, act, ract)."""
    _cache_of(cache, GRUCache, "gru_forward")
    act, ract = _check_gru_cache(cache)
    T, B, G = cache.gates.shape
    dy, dh_n = _states(cache.gates.dtype, B, G // 3, check_finite, ("dy", dy, (B, T, G // 3)), dh_n=dh_n)
    return dy, dh_n, act, ract


def check_rnn_forward(x, w_x, w_h, b, h0, activation, check_finite, recurrent_mask=None):
    """Checked ``x (B, T, I)``, simple-RNN weights, ``h0`` (zeros when None), the activation spec
    and the ``recurrent_mask`` (B, H) or None (:func:`check_recurrent_mask`)
    -> (x, w_x, w_h, b, h0, act, recurrent_mask)."""
    act = activation_spec(activation, "activation")
    ready = _fast_sequence(x, w_x, w_h, b, recurrent_mask, 1, 0, check_finite, h0)
    if ready is not None:
        return (*ready, act, None)
    dtype, x = _input(x, 3)
    w_x, w_h, b = check_rnn_weights(w_x, w_h, b, dtype, check_finite)
    x, h0 = _sequence_states(dtype, x, w_x, w_h, check_finite, h0=h0)
    recurrent_mask = check_recurrent_mask(recurrent_mask, dtype, x.shape[0], w_h.shape[0], check_finite)
    return x, w_x, w_h, b, h0, act, recurrent_mask


def check_rnn_cell(x_t, w_x, w_h, b, h_prev, activation, check_finite):
    """As :func:`check_rnn_forward` for one step: ``x_t (B, I)`` -> (x_t, w_x, w_h, b, h_prev, act)."""
    act = activation_spec(activation, "activation")
    dtype, x_t = _input(x_t, 2)
    w_x, w_h, b = check_rnn_weights(w_x, w_h, b, dtype, check_finite)
    x_t, h_prev = _step_states(dtype, x_t, w_x, w_h, check_finite, h_prev=h_prev)
    return x_t, w_x, w_h, b, h_prev, act


def check_rnn_backward(dy, cache, dh_n, check_finite):
    """Checked ``dy (B, T, H)`` (None: no gradient from the outputs), ``dh_n`` (zeros when None) and
    the cache's activation spec -> (dy, dh_n, act)."""
    _cache_of(cache, RNNCache, "rnn_forward")
    act = _check_rnn_cache(cache)
    T1, B, H = cache.h.shape
    dy, dh_n = _states(cache.h.dtype, B, H, check_finite, ("dy", dy, (B, T1 - 1, H)), dh_n=dh_n)
    return dy, dh_n, act


def _cache_of(cache, cls, forward: str) -> None:
    """TypeError unless ``cache`` is the ``cls`` that ``forward(..., return_cache=True)`` returns."""
    if not isinstance(cache, cls):
        raise TypeError(
            f"cache must be the {cls.__name__} returned by {forward}(..., return_cache=True), "
            f"got {type(cache).__name__}"
        )


def _cache_gates(cache, K: int) -> tuple:
    """``cache.gates`` an array (T, B, K*H) -> (T, B, G, H); its dtype and layout are checked by
    :func:`_check_cache_arrays`."""
    gates = cache.gates
    if not isinstance(gates, np.ndarray) or gates.ndim != 3 or gates.shape[2] % K:
        got = getattr(gates, "shape", gates)
        raise ValueError(f"cache.gates must be an array (T, B, {K}*H), got {got!r}")
    T, B, G = gates.shape
    return T, B, G, G // K


def _check_cache_arrays(cache, base: str, expected: dict) -> None:
    """Each array of ``expected`` (name: shape, None = I, the last size of cache.x) a C-contiguous
    aligned array of the dtype of ``cache.<base>``, itself a C-contiguous float32 or float64 one;
    no size 0."""
    base_array = getattr(cache, base)
    dtype = base_array.dtype
    x_shape = getattr(cache.x, "shape", ())
    I = x_shape[-1] if len(x_shape) == 3 else -1
    for name, shape in expected.items():
        a = getattr(cache, name)
        shape = tuple(I if e is None else e for e in shape)
        if (
            not isinstance(a, np.ndarray)
            or a.shape != shape
            or a.dtype != dtype
            or not a.flags.c_contiguous
            or not a.flags.aligned
        ):
            raise ValueError(
                f"cache.{name} must be a C-contiguous {dtype} array of shape {shape}, "
                f"got {type(a).__name__} {getattr(a, 'shape', '')} {getattr(a, 'dtype', '')}"
            )
    if (
        dtype not in (np.float32, np.float64)
        or not base_array.flags.c_contiguous
        or not base_array.flags.aligned  # the kernels load whole vectors of it
        or min(base_array.shape + (I,)) < 1
    ):
        raise ValueError(
            f"cache.{base} must be a non-empty C-contiguous aligned float array (float32 or "
            f"float64), got {dtype} {base_array.shape}" + ("" if base_array.flags.aligned else ", misaligned")
        )


def _check_gru_cache(cache: GRUCache) -> tuple:
    """The backward trusts the cache's shapes: make sure nobody changed them since the forward.
    -> (act, ract), the specs of the cache's activations."""
    T, B, G, H = _cache_gates(cache, 3)
    expected = {
        "gates": (T, B, G),
        "x": (T, B, None),
        "w_x": (None, G),
        "w_h": (H, G),
        "h": (T + 1, B, H),
        "extra": (T, B, H),
    }
    _check_cache_arrays(cache, "gates", expected)
    _check_cache_mask(cache, cache.gates.dtype, B, H)
    flag("cache.reset_after", cache.reset_after)
    return (
        activation_spec(cache.activation, "cache.activation"),
        activation_spec(cache.recurrent_activation, "cache.recurrent_activation"),
    )


def _check_rnn_cache(cache: RNNCache) -> tuple:
    """As :func:`_check_gru_cache` for the simple RNN -> act, the spec of its activation."""
    h = cache.h
    if not isinstance(h, np.ndarray) or h.ndim != 3 or h.shape[0] < 2:
        got = getattr(h, "shape", h)
        raise ValueError(f"cache.h must be an array (T+1, B, H) with T >= 1, got {got!r}")
    T1, B, H = h.shape
    expected = {"h": (T1, B, H), "x": (T1 - 1, B, None), "w_x": (None, H), "w_h": (H, H)}
    _check_cache_arrays(cache, "h", expected)
    _check_cache_mask(cache, h.dtype, B, H)
    return activation_spec(cache.activation, "cache.activation")

"""Gate orders, the canonical weight layouts, and the only converters to and from other frameworks.

lstmcore stores each layer and direction Keras-shaped, K gate blocks of width H side by side:

    cell   K  gate order   w_x        w_h        b
    LSTM   4  i, f, g, o   (I, 4H)    (H, 4H)    (4H,)
    GRU    3  z, r, n      (I, 3H)    (H, 3H)    (2, 3H) reset_after=True: [input bias, recurrent bias]
                                                 (3H,)   reset_after=False
    RNN    1  -            (I, H)     (H, H)     (H,)

plus the LSTM's option arrays ``peepholes (3, H)`` (rows p_i, p_f, p_o) and ``proj (H, P)`` (then
``w_h`` is ``(P, 4H)``). This is exactly Keras's ``kernel``, ``recurrent_kernel`` and ``bias``, so
that ``z = x @ w_x`` is a plain row-major product.

The other frameworks, per layer and direction:

- PyTorch: ``w_ih (K*H, I)``, ``w_hh (K*H, H)``, ``b_ih (K*H)``, ``b_hh (K*H)``, gate order i, f, g, o
  (``nn.LSTM``, with ``weight_hr (P, H)`` for ``proj_size``), r, z, n (``nn.GRU``: reset_after=True,
  both biases kept apart), one block (``nn.RNN``).
- Keras 3: the canonical layout itself (``GRU(reset_after=True)`` has the (2, 3H) bias).
- ONNX: ``W (D, K*H, I)``, ``R (D, K*H, H)``, ``B (D, 2*K*H)`` = [input biases, recurrent biases];
  gate order i, o, f, c (``LSTM``, peepholes ``P (D, 3H)`` in the order i, o, f), z, r, h (``GRU``:
  ``linear_before_reset=1`` is our reset_after=True), one block (``RNN``).

The converters, one pair per framework and cell (``from_*`` imports, ``to_*`` exports):

    LSTM   from_torch / to_torch          from_keras / to_keras          from_onnx / to_onnx
    GRU    from_torch_gru / to_torch_gru  from_keras_gru / to_keras_gru  from_onnx_gru / to_onnx_gru
    RNN    from_torch_rnn / to_torch_rnn  from_keras_rnn / to_keras_rnn  from_onnx_rnn / to_onnx_rnn

Importers return ``(w_x, w_h, b)``, new C-contiguous arrays of one float dtype. The LSTM's option
arrays follow when they were given, so that a call returns as many arrays as it was handed:
``from_torch(..., w_hr=...)`` gives ``(w_x, w_h, b, proj)`` and ``from_onnx(..., P=...)`` gives
``(w_x, w_h, b, peepholes)``; likewise ``to_torch(..., proj=...)`` adds ``w_hr`` and
``to_onnx(..., peepholes=...)`` adds ``P``. Where two biases become one (LSTM and RNN from PyTorch
or ONNX, the GRU from ONNX with ``linear_before_reset=0``) they are added; exporters then put the
whole bias in the input bias and zeros in the recurrent one. Shapes that do not fit are a
``ValueError`` naming the expected shape; non-float arrays, or float32 and float64 mixed, a
``TypeError``.

An ONNX node's attributes change the maths as well as the weights: :func:`onnx_lstm_options`,
:func:`onnx_gru_options` and :func:`onnx_rnn_options` turn them into the keyword options of
``lstm_forward``, ``gru_forward`` and ``rnn_forward``, refusing by name what lstmcore cannot compute;
:func:`onnx_lstm_attributes`, :func:`onnx_gru_attributes` and :func:`onnx_rnn_attributes` go back.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping

import numpy as np

from ..engine._validate import ACTIVATION_DEFAULTS, CELL_ACTIVATIONS, activation_spec

GATES = ("i", "f", "g", "o")
ONNX_GATES = ("i", "o", "f", "c")
# Position in ONNX's order of each of our gates: ours[k] = onnx[_FROM_ONNX[k]].
_FROM_ONNX = (0, 2, 3, 1)
# Position in our order of each ONNX gate: onnx[k] = ours[_TO_ONNX[k]].
_TO_ONNX = (0, 3, 1, 2)

PEEPHOLES = ("i", "f", "o")
ONNX_PEEPHOLES = ("i", "o", "f")
# ours[k] = onnx[_PEEPHOLES_FROM_ONNX[k]]; the swap of f and o is its own inverse.
_PEEPHOLES_FROM_ONNX = (0, 2, 1)

GRU_GATES = ("z", "r", "n")
TORCH_GRU_GATES = ("r", "z", "n")
ONNX_GRU_GATES = ("z", "r", "h")  # ONNX calls the candidate n "h"; same order as ours
# ours[k] = torch[_GRU_FROM_TORCH[k]]; the swap of r and z is its own inverse.
_GRU_FROM_TORCH = (1, 0, 2)


def _torch_kind(a) -> str | None:
    """What ``a`` is in torch terms, read from its classes without importing torch: "module" (an
    ``nn.Module``), "tensor" (``nn.Parameter``s too) or None."""
    for cls in type(a).__mro__:
        where = getattr(cls, "__module__", "") or ""
        if cls.__name__ == "Module" and where.startswith("torch.nn"):
            return "module"
        if cls.__name__ == "Tensor" and where == "torch":
            return "tensor"
    return None


_WHOLE = "lstmcore.io.torch_io.from_torch (whole modules and state_dicts)"


def _refuse_whole(fn: str, w_ih, w_hh) -> None:
    """The PyTorch importers take one layer and direction's arrays: a whole module or state_dict,
    or a missing w_hh, is a TypeError that names the converter to use."""
    if _torch_kind(w_ih) == "module" or isinstance(w_ih, Mapping):
        what = f"a torch {type(w_ih).__name__} module" if _torch_kind(w_ih) == "module" else "a state_dict"
        raise TypeError(
            f"layout.{fn} converts the arrays of one layer and direction (w_ih, w_hh, b_ih, b_hh), "
            f"got {what}: use {_WHOLE}"
        )
    if w_hh is None:
        raise TypeError(f"layout.{fn} needs w_hh; for whole modules and state_dicts use {_WHOLE}")


def _as_float(name: str, a) -> np.ndarray:
    if _torch_kind(a) == "tensor":  # nn.Parameter, requires_grad, any device: detached copy on CPU
        a = a.detach().cpu()
        if str(a.dtype) not in ("torch.float32", "torch.float64"):
            raise TypeError(f"{name} must be float32 or float64, got dtype {a.dtype}")
        a = a.numpy()
    elif _torch_kind(a) == "module" or isinstance(a, Mapping):
        raise TypeError(f"{name} must be an array, got {type(a).__name__}: for torch modules use {_WHOLE}")
    a = np.asarray(a)
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got dtype {a.dtype}")
    return a


def _floats(**arrays) -> dict:
    """Each array (None kept) checked as float32/float64, all of one dtype (TypeError otherwise)."""
    out = {name: None if a is None else _as_float(name, a) for name, a in arrays.items()}
    _one_dtype(**out)
    return out


def _one_dtype(**arrays) -> np.dtype:
    """The dtype shared by all the given arrays (None entries skipped); TypeError for a mix."""
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        got = ", ".join(f"{n} {d}" for n, d in dtypes.items())
        raise TypeError(f"the weights must share one dtype, got {got}")
    return next(iter(dtypes.values()))


def _nonempty(**sizes: int) -> None:
    for name, n in sizes.items():
        if n < 1:
            raise ValueError(f"{name} must be at least 1, got {n}")


def _c(a) -> np.ndarray:
    """A C-contiguous copy (never a view of the caller's array)."""
    return np.array(a, order="C", copy=True)


def _blocks(K: int) -> str:
    return "H" if K == 1 else f"{K}*H"


def _check_ours(K: int, w_x, w_h, rows: tuple | None = None, names=("w_x", "w_h")) -> tuple[int, int]:
    """``w_x (I, K*H)`` and ``w_h (H, K*H)`` (``(rows, K*H)`` when ``rows`` is given) -> ``(I, H)``.

    Without ``rows``, H is read from ``w_h``; with ``rows = (P, H)`` (the LSTM's projection, from
    :func:`_check_proj`) ``w_h`` must be ``(P, K*H)``.
    """
    nx, nh = names
    if rows is None:
        if w_h.ndim != 2 or w_h.shape[1] != K * w_h.shape[0] or w_h.shape[0] == 0:
            raise ValueError(f"{nh} must have shape (H, {_blocks(K)}), got {w_h.shape}")
        H = w_h.shape[0]
    else:
        H = rows[1]
        if w_h.shape != (rows[0], K * H):
            raise ValueError(f"{nh} must have shape ({rows[0]}, {K * H}) (P, {_blocks(K)}), got {w_h.shape}")
    if w_x.ndim != 2 or w_x.shape[1] != K * H or w_x.shape[0] == 0:
        raise ValueError(f"{nx} must have shape (I, {K * H}), got {w_x.shape}")
    return w_x.shape[0], H


def _check_proj(proj, name: str = "proj") -> tuple[int, int]:
    """``proj (H, P)`` -> ``(P, H)``."""
    if proj.ndim != 2 or 0 in proj.shape:
        raise ValueError(f"{name} must have shape (H, P), got {proj.shape}")
    return proj.shape[1], proj.shape[0]


def _check_shape(name: str, a: np.ndarray, shape: tuple) -> None:
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")


def check_canonical(w_x, w_h, b, peepholes=None, proj=None) -> tuple[int, int]:
    """Check an LSTM's ``w_x (I, 4H)``, ``w_h (H, 4H)``, ``b (4H)`` and return ``(I, H)``.

    With ``proj (H, P)``, ``w_h`` must be ``(P, 4H)``; ``peepholes`` must be ``(3, H)``.
    """
    a = _floats(w_x=w_x, w_h=w_h, b=b, peepholes=peepholes, proj=proj)
    rows = None if a["proj"] is None else _check_proj(a["proj"])
    I, H = _check_ours(4, a["w_x"], a["w_h"], rows)
    _check_shape("b", a["b"], (4 * H,))
    if a["peepholes"] is not None:
        _check_shape("peepholes", a["peepholes"], (3, H))
    return I, H


def check_gru(w_x, w_h, b) -> tuple[int, int, bool]:
    """Check a GRU's ``w_x (I, 3H)``, ``w_h (H, 3H)`` and ``b`` ((2, 3H) or (3H,)) and return
    ``(I, H, reset_after)``, reset_after being True for the (2, 3H) bias."""
    a = _floats(w_x=w_x, w_h=w_h, b=b)
    I, H = _check_ours(3, a["w_x"], a["w_h"])
    if a["b"].shape not in ((2, 3 * H), (3 * H,)):
        raise ValueError(
            f"b must have shape (2, {3 * H}) (reset_after=True) or ({3 * H},) (reset_after=False), "
            f"got {a['b'].shape}"
        )
    return I, H, a["b"].ndim == 2


def check_rnn(w_x, w_h, b) -> tuple[int, int]:
    """Check a simple RNN's ``w_x (I, H)``, ``w_h (H, H)``, ``b (H)`` and return ``(I, H)``."""
    a = _floats(w_x=w_x, w_h=w_h, b=b)
    I, H = _check_ours(1, a["w_x"], a["w_h"])
    _check_shape("b", a["b"], (H,))
    return I, H


# PyTorch ----------------------------------------------------------------------------------------


def _torch_weights(K: int, w_ih, w_hh, b_ih, b_hh, cols: int | None = None) -> tuple:
    """Checked PyTorch arrays of one layer and direction: ``w_hh (K*H, H)`` (``(K*H, cols)`` with a
    projection), ``w_ih (K*H, I)``, biases ``(K*H,)`` or None. Returns ``(a, H)``."""
    a = _floats(w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh)
    w_ih, w_hh = a["w_ih"], a["w_hh"]
    if cols is None:
        if w_hh.ndim != 2 or w_hh.shape[0] != K * w_hh.shape[1]:
            raise ValueError(f"w_hh must have shape ({_blocks(K)}, H), got {w_hh.shape}")
        H = w_hh.shape[1]
    else:
        if w_hh.ndim != 2 or w_hh.shape[1] != cols or w_hh.shape[0] % K != 0:
            raise ValueError(
                f"w_hh must have shape ({_blocks(K)}, {cols}) (P = {cols} columns, the rows of w_hr), "
                f"got {w_hh.shape}"
            )
        H = w_hh.shape[0] // K
    G = K * H
    if w_ih.ndim != 2 or w_ih.shape[0] != G:
        raise ValueError(f"w_ih must have shape ({G}, I), got {w_ih.shape}")
    _nonempty(H=H, I=w_ih.shape[1])
    for name in ("b_ih", "b_hh"):
        if a[name] is not None:
            _check_shape(name, a[name], (G,))
    return a, H


def _summed_bias(dtype, G: int, *biases) -> np.ndarray:
    b = np.zeros(G, dtype=dtype)
    for bias in biases:
        if bias is not None:
            b = b + bias
    return b.astype(dtype)


def from_torch(w_ih, w_hh=None, b_ih=None, b_hh=None, w_hr=None):
    """PyTorch ``nn.LSTM`` weights of one layer and direction -> ``(w_x, w_h, b[, proj])``.

    ``w_ih (G, I)``, ``w_hh (G, H)``, ``b_ih (G)``, ``b_hh (G)`` (either bias may be None, as with
    ``bias=False``); ``b = b_ih + b_hh``. With ``proj_size=P``, pass ``w_hr`` (``weight_hr_l0``,
    ``(P, H)``): then ``w_hh`` is ``(G, P)`` and ``proj = w_hr.T`` ``(H, P)`` is returned as well.
    NumPy arrays or torch tensors (``nn.Parameter``s too: detached and copied to NumPy); a whole
    module or state_dict is a TypeError pointing to ``lstmcore.io.torch_io.from_torch``.
    """
    _refuse_whole("from_torch", w_ih, w_hh)
    if w_hr is None:
        a, H = _torch_weights(4, w_ih, w_hh, b_ih, b_hh)
    else:
        w_hr = _as_float("w_hr", w_hr)
        if w_hr.ndim != 2 or 0 in w_hr.shape:
            raise ValueError(f"w_hr must have shape (P, H), got {w_hr.shape}")
        a, H = _torch_weights(4, w_ih, w_hh, b_ih, b_hh, cols=w_hr.shape[0])
        _one_dtype(w_ih=a["w_ih"], w_hr=w_hr)
        _check_shape("w_hr", w_hr, (w_hr.shape[0], H))
    dtype = a["w_ih"].dtype
    out = (_c(a["w_ih"].T), _c(a["w_hh"].T), _summed_bias(dtype, 4 * H, a["b_ih"], a["b_hh"]))
    return out if w_hr is None else (*out, _c(w_hr.T))


def to_torch(w_x, w_h, b, proj=None):
    """``(w_x, w_h, b[, proj])`` -> PyTorch ``(w_ih, w_hh, b_ih, b_hh[, w_hr])``, the whole bias in
    ``b_ih``. ``proj (H, P)`` becomes ``weight_hr (P, H)``; PyTorch's ``proj_size`` must be
    smaller than ``hidden_size``, so P >= H is refused."""
    I, H = check_canonical(w_x, w_h, b, proj=proj)
    w_x, w_h, b = np.asarray(w_x), np.asarray(w_h), np.asarray(b)
    out = (_c(w_x.T), _c(w_h.T), _c(b), np.zeros_like(b))
    if proj is None:
        return out
    proj = np.asarray(proj)
    if proj.shape[1] >= H:
        raise ValueError(
            f"proj must have fewer columns than rows for PyTorch (proj_size < hidden_size), got {proj.shape}"
        )
    return (*out, _c(proj.T))


def from_torch_gru(w_ih, w_hh=None, b_ih=None, b_hh=None):
    """PyTorch ``nn.GRU`` weights of one layer and direction -> ``(w_x, w_h, b)``, reset_after=True.

    ``w_ih (3H, I)``, ``w_hh (3H, H)``, ``b_ih (3H)``, ``b_hh (3H)`` in PyTorch's gate order r, z, n
    (a missing bias is zeros). Returns ``w_x (I, 3H)``, ``w_h (H, 3H)`` and ``b (2, 3H)`` =
    ``[b_ih, b_hh]``, each in our order z, r, n: PyTorch's GRU keeps the recurrent part of n apart,
    ``n = tanh(x W_in + b_in + r * (h W_hn + b_hn))``, which is ``gru_forward(reset_after=True)``.
    """
    _refuse_whole("from_torch_gru", w_ih, w_hh)
    a, H = _torch_weights(3, w_ih, w_hh, b_ih, b_hh)
    dtype = a["w_ih"].dtype
    zeros = np.zeros(3 * H, dtype=dtype)
    b = np.stack([zeros if a[k] is None else a[k] for k in ("b_ih", "b_hh")])
    return (
        _c(_reorder(a["w_ih"], _GRU_FROM_TORCH, axis=0).T),
        _c(_reorder(a["w_hh"], _GRU_FROM_TORCH, axis=0).T),
        _c(_reorder(b, _GRU_FROM_TORCH, axis=1)),
    )


def to_torch_gru(w_x, w_h, b):
    """``(w_x, w_h, b)`` of a reset_after=True GRU -> PyTorch ``(w_ih, w_hh, b_ih, b_hh)`` in the
    order r, z, n. A reset_after=False GRU (``b (3H,)``) has no PyTorch equivalent: ValueError."""
    _, _, reset_after = check_gru(w_x, w_h, b)
    if not reset_after:
        raise ValueError(
            "PyTorch's nn.GRU computes reset_after=True only (b (2, 3H)); a reset_after=False GRU "
            f"(b {np.shape(b)}) cannot be exported to it"
        )
    w_x, w_h, b = np.asarray(w_x), np.asarray(w_h), np.asarray(b)
    b = _reorder(b, _GRU_FROM_TORCH, axis=1)
    return (
        _c(_reorder(w_x.T, _GRU_FROM_TORCH, axis=0)),
        _c(_reorder(w_h.T, _GRU_FROM_TORCH, axis=0)),
        _c(b[0]),
        _c(b[1]),
    )


def from_torch_rnn(w_ih, w_hh=None, b_ih=None, b_hh=None):
    """PyTorch ``nn.RNN`` weights of one layer and direction -> ``(w_x, w_h, b)``.

    ``w_ih (H, I)``, ``w_hh (H, H)``, ``b_ih (H)``, ``b_hh (H)`` (either may be None);
    ``b = b_ih + b_hh``. The nonlinearity ('tanh' or 'relu') is ``rnn_forward``'s activation.
    """
    _refuse_whole("from_torch_rnn", w_ih, w_hh)
    a, H = _torch_weights(1, w_ih, w_hh, b_ih, b_hh)
    dtype = a["w_ih"].dtype
    return (_c(a["w_ih"].T), _c(a["w_hh"].T), _summed_bias(dtype, H, a["b_ih"], a["b_hh"]))


def to_torch_rnn(w_x, w_h, b):
    """``(w_x, w_h, b)`` -> PyTorch ``nn.RNN`` ``(w_ih, w_hh, b_ih, b_hh)``, the bias in ``b_ih``."""
    check_rnn(w_x, w_h, b)
    w_x, w_h, b = np.asarray(w_x), np.asarray(w_h), np.asarray(b)
    return (_c(w_x.T), _c(w_h.T), _c(b), np.zeros_like(b))


# Keras ------------------------------------------------------------------------------------------


def _keras(kernel, recurrent_kernel, bias, zero_bias_shape) -> dict:
    a = _floats(kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias)
    if a["bias"] is None:
        a["bias"] = np.zeros(zero_bias_shape(np.shape(a["recurrent_kernel"])), dtype=a["kernel"].dtype)
    return a


def from_keras(kernel, recurrent_kernel, bias=None):
    """Keras ``LSTM`` weights ``[kernel (I, G), recurrent_kernel (H, G), bias (G)]``: same layout."""
    a = _keras(kernel, recurrent_kernel, bias, lambda s: s[-1:])
    check_canonical(a["kernel"], a["recurrent_kernel"], a["bias"])
    return tuple(_c(a[k]) for k in ("kernel", "recurrent_kernel", "bias"))


def to_keras(w_x, w_h, b):
    """``(w_x, w_h, b)`` -> Keras ``[kernel, recurrent_kernel, bias]`` (copies)."""
    check_canonical(w_x, w_h, b)
    return [_c(a) for a in (w_x, w_h, b)]


def from_keras_gru(kernel, recurrent_kernel, bias=None, *, reset_after=True):
    """Keras ``GRU`` weights ``[kernel (I, 3H), recurrent_kernel (H, 3H), bias]``: same layout.

    ``bias`` is ``(2, 3H)`` for ``reset_after=True`` (Keras 3's default) and ``(3H,)`` for
    ``reset_after=False``, as the layer's own argument says; ``use_bias=False``: None (zeros).
    """
    if not isinstance(reset_after, (bool, np.bool_)):
        raise TypeError(f"reset_after must be True or False, got {reset_after!r}")

    def zero_bias_shape(s):
        return (2, *s[-1:]) if reset_after else s[-1:]

    a = _keras(kernel, recurrent_kernel, bias, zero_bias_shape)
    _, H = _check_ours(3, a["kernel"], a["recurrent_kernel"], names=("kernel", "recurrent_kernel"))
    want = (2, 3 * H) if reset_after else (3 * H,)
    if a["bias"].shape != want:
        got = a["bias"].shape
        raise ValueError(f"bias must have shape {want} (reset_after={bool(reset_after)}), got {got}")
    return tuple(_c(a[k]) for k in ("kernel", "recurrent_kernel", "bias"))


def to_keras_gru(w_x, w_h, b):
    """``(w_x, w_h, b)`` -> Keras ``GRU`` ``[kernel, recurrent_kernel, bias]`` (copies); the layer's
    ``reset_after`` is True for ``b (2, 3H)`` and False for ``b (3H,)``."""
    check_gru(w_x, w_h, b)
    return [_c(a) for a in (w_x, w_h, b)]


def from_keras_rnn(kernel, recurrent_kernel, bias=None):
    """Keras ``SimpleRNN`` weights ``[kernel (I, H), recurrent_kernel (H, H), bias (H)]``: same layout."""
    a = _keras(kernel, recurrent_kernel, bias, lambda s: s[-1:])
    _, H = _check_ours(1, a["kernel"], a["recurrent_kernel"], names=("kernel", "recurrent_kernel"))
    _check_shape("bias", a["bias"], (H,))
    return tuple(_c(a[k]) for k in ("kernel", "recurrent_kernel", "bias"))


def to_keras_rnn(w_x, w_h, b):
    """``(w_x, w_h, b)`` -> Keras ``SimpleRNN`` ``[kernel, recurrent_kernel, bias]`` (copies)."""
    check_rnn(w_x, w_h, b)
    return [_c(a) for a in (w_x, w_h, b)]


# ONNX -------------------------------------------------------------------------------------------


def _reorder(a: np.ndarray, order, axis: int) -> np.ndarray:
    blocks = np.split(a, len(order), axis=axis)
    return np.concatenate([blocks[k] for k in order], axis=axis)


def _onnx_weights(K: int, W, R, B, direction, extra: dict | None = None) -> tuple:
    """Checked ONNX ``W (D, K*H, I)``, ``R (D, K*H, H)``, ``B (D, 2*K*H)`` (or None) and the
    direction's index. Returns ``(a, D, H, direction)``."""
    a = _floats(W=W, R=R, B=B, **(extra or {}))
    W, R = a["W"], a["R"]
    shapes = f"W (D, {_blocks(K).replace('*', '')}, I) and R (D, {_blocks(K).replace('*', '')}, H)"
    if W.ndim != 3 or R.ndim != 3 or R.shape[1] != K * R.shape[2] or W.shape[:2] != R.shape[:2]:
        raise ValueError(f"expected {shapes}, got W {W.shape} and R {R.shape}")
    D, G, H = R.shape
    _nonempty(D=D, H=H, I=W.shape[2])
    if isinstance(direction, (bool, np.bool_)) or not hasattr(direction, "__index__"):
        raise TypeError(f"direction must be an int, got {type(direction).__name__} {direction!r}")
    direction = operator.index(direction)
    if not 0 <= direction < D:
        raise ValueError(f"direction must be in [0, {D}), got {direction}")
    if a["B"] is not None:
        _check_shape("B", a["B"], (D, 2 * G))
    return a, D, H, direction


def from_onnx(W, R, B=None, P=None, direction: int = 0):
    """ONNX ``LSTM`` inputs ``W (D, G, I)``, ``R (D, G, H)``, ``B (D, 2G)`` -> ``(w_x, w_h, b)``.

    ``direction`` picks one of the D directions; ``b = Wb + Rb``. With peepholes ``P (D, 3H)``
    (order i, o, f) the result is ``(w_x, w_h, b, peepholes)``, ``peepholes (3, H)`` in our order
    i, f, o (all-zero peepholes are returned as they are: pass None to ``lstm_forward`` instead to
    skip them). The node's attributes change the maths too: :func:`onnx_lstm_options` turns them
    into ``lstm_forward``'s options, or refuses them by name.
    """
    a, D, H, d = _onnx_weights(4, W, R, B, direction, {"P": P})
    G = 4 * H
    w_x = _reorder(a["W"][d], _FROM_ONNX, axis=0).T
    w_h = _reorder(a["R"][d], _FROM_ONNX, axis=0).T
    if a["B"] is None:
        b = np.zeros(G, dtype=a["W"].dtype)
    else:
        b = _reorder(a["B"][d, :G] + a["B"][d, G:], _FROM_ONNX, axis=0)
    out = (_c(w_x), _c(w_h), _c(b))
    if a["P"] is None:
        return out
    _check_shape("P", a["P"], (D, 3 * H))
    return (*out, _c(a["P"][d].reshape(3, H)[list(_PEEPHOLES_FROM_ONNX)]))


def to_onnx(w_x, w_h, b, peepholes=None):
    """``(w_x, w_h, b[, peepholes])`` of one direction -> ONNX ``(W (1, G, I), R (1, G, H),
    B (1, 2G)[, P (1, 3H)])``, the whole bias in Wb. ONNX has no projection: an LSTM with
    ``proj`` cannot be exported (its ``w_h`` is refused as not ``(H, 4H)``)."""
    check_canonical(w_x, w_h, b, peepholes=peepholes)
    w_x, w_h, b = np.asarray(w_x), np.asarray(w_h), np.asarray(b)
    W = _reorder(w_x.T, _TO_ONNX, axis=0)[None]
    R = _reorder(w_h.T, _TO_ONNX, axis=0)[None]
    Bo = np.concatenate([_reorder(b, _TO_ONNX, axis=0), np.zeros_like(b)])[None]
    out = (_c(W), _c(R), _c(Bo))
    if peepholes is None:
        return out
    P = np.asarray(peepholes)[list(_PEEPHOLES_FROM_ONNX)].reshape(1, -1)
    return (*out, _c(P))


def from_onnx_gru(W, R, B=None, direction: int = 0, *, linear_before_reset=0):
    """ONNX ``GRU`` inputs ``W (D, 3H, I)``, ``R (D, 3H, H)``, ``B (D, 6H)`` -> ``(w_x, w_h, b)``.

    The gate order z, r, h is ours (z, r, n). Pass the node's ``linear_before_reset``: 1 is
    ``gru_forward(reset_after=True)`` with ``b (2, 3H)`` = [Wb, Rb]; 0 (ONNX's default) is
    reset_after=False with ``b (3H,)`` = Wb + Rb (the recurrent bias of h is then added outside
    ``r * ...``, as ONNX does: ``h = g(x Wh + (r . H) Rh + Rbh + Wbh)``).
    """
    if isinstance(linear_before_reset, (bool, np.bool_)):
        linear_before_reset = int(linear_before_reset)
    if linear_before_reset not in (0, 1):
        raise ValueError(f"linear_before_reset must be 0 or 1, got {linear_before_reset!r}")
    a, _, H, d = _onnx_weights(3, W, R, B, direction)
    G = 3 * H
    dtype = a["W"].dtype
    Bd = np.zeros(2 * G, dtype=dtype) if a["B"] is None else a["B"][d]
    b = np.stack([Bd[:G], Bd[G:]]) if linear_before_reset else (Bd[:G] + Bd[G:]).astype(dtype)
    return _c(a["W"][d].T), _c(a["R"][d].T), _c(b)


def to_onnx_gru(w_x, w_h, b):
    """``(w_x, w_h, b)`` of one direction -> ONNX ``GRU`` ``(W (1, 3H, I), R (1, 3H, H), B (1, 6H))``.

    The node needs ``linear_before_reset=1`` for ``b (2, 3H)`` (reset_after=True; B = [b[0], b[1]])
    and 0 for ``b (3H,)`` (B = [b, 0]); :func:`onnx_gru_attributes` writes it.
    """
    _, _, reset_after = check_gru(w_x, w_h, b)
    w_x, w_h, b = np.asarray(w_x), np.asarray(w_h), np.asarray(b)
    Bo = b.reshape(-1) if reset_after else np.concatenate([b, np.zeros_like(b)])
    return _c(w_x.T[None]), _c(w_h.T[None]), _c(Bo[None])


def from_onnx_rnn(W, R, B=None, direction: int = 0):
    """ONNX ``RNN`` inputs ``W (D, H, I)``, ``R (D, H, H)``, ``B (D, 2H)`` -> ``(w_x, w_h, b)``,
    ``b = Wb + Rb``."""
    a, _, H, d = _onnx_weights(1, W, R, B, direction)
    dtype = a["W"].dtype
    b = np.zeros(H, dtype=dtype) if a["B"] is None else (a["B"][d, :H] + a["B"][d, H:]).astype(dtype)
    return _c(a["W"][d].T), _c(a["R"][d].T), _c(b)


def to_onnx_rnn(w_x, w_h, b):
    """``(w_x, w_h, b)`` of one direction -> ONNX ``RNN`` ``(W (1, H, I), R (1, H, H), B (1, 2H))``,
    the bias in Wb."""
    check_rnn(w_x, w_h, b)
    w_x, w_h, b = np.asarray(w_x), np.asarray(w_h), np.asarray(b)
    return _c(w_x.T[None]), _c(w_h.T[None]), _c(np.concatenate([b, np.zeros_like(b)])[None])


# ONNX attributes ---------------------------------------------------------------------------------

# ONNX's activation names -> ours, and the ONNX defaults of the parameters each one takes, in the
# order (alpha, beta). An ONNX node lists its activations in ``activations``; the parameters are
# consumed in that order from ``activation_alpha`` and ``activation_beta`` by the activations that
# take them (as ONNX Runtime does), the defaults those of the ONNX operators of the same names.
# None: no default that the runtimes agree on, so the node must give the value. Affine's operator
# says alpha 1, beta 0 but ONNX Runtime takes 0, 0; ScaledTanh's operator has no defaults (ONNX
# Runtime: 0, 0).
_ONNX_ACTIVATIONS = {
    "Relu": ("relu", ()),
    "Tanh": ("tanh", ()),
    "Sigmoid": ("sigmoid", ()),
    "Affine": ("affine", (None, None)),
    "LeakyRelu": ("leaky_relu", (0.01,)),
    "ThresholdedRelu": ("thresholded_relu", (1.0,)),
    "ScaledTanh": ("scaled_tanh", (None, None)),
    "HardSigmoid": ("hard_sigmoid", (0.2, 0.5)),
    "Elu": ("elu", (1.0,)),
    "Softsign": ("softsign", ()),
    "Softplus": ("softplus", ()),
}
_ONNX_BY_LOWER = {name.lower(): name for name in _ONNX_ACTIVATIONS}
_ONNX_NAME = {ours: name for name, (ours, _) in _ONNX_ACTIVATIONS.items()}
_CODE_NAME = {code: name for name, code in CELL_ACTIVATIONS.items()}
# Parameters ONNX cannot state exactly (its floats are float32) but that mean a simple number.
_EXACT = (1 / 6,)

# The attributes of each operator that lstmcore reads (every other one is refused by name), and
# the activation roles per direction with their defaults.
_ONNX_OPS = {
    "LSTM": {
        "attributes": {"clip", "input_forget"},
        "roles": ("f", "g", "h"),
        "defaults": ("Sigmoid", "Tanh", "Tanh"),
    },
    "GRU": {
        "attributes": {"clip", "linear_before_reset"},
        "roles": ("f", "g"),
        "defaults": ("Sigmoid", "Tanh"),
    },
    "RNN": {"attributes": {"clip"}, "roles": ("f",), "defaults": ("Tanh",)},
}
_ONNX_COMMON = {"activations", "activation_alpha", "activation_beta", "direction", "hidden_size", "layout"}


def _onnx_attributes(node, op: str) -> dict:
    """An ONNX node's attributes as a dict; a dict is taken as it is."""
    if isinstance(node, dict):
        return dict(node)
    try:
        from onnx import helper
    except ImportError:  # pragma: no cover - a NodeProto comes with onnx installed
        raise TypeError("pass the node's attributes as a dict, or install onnx to pass a NodeProto") from None
    if getattr(node, "op_type", None) != op:
        raise ValueError(f"expected an ONNX {op} node, got {getattr(node, 'op_type', type(node).__name__)!r}")
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def _onnx_float(v) -> float:
    """An ONNX float attribute (a float32) as the number it was written as: the shortest decimal
    that rounds to the same float32 (0.2, not 0.20000000298...), or 1/6 where it rounds to
    float32(1/6)."""
    f = np.float32(v)
    for exact in _EXACT:
        if f == np.float32(exact):
            return exact
    return float(str(f))


def _ours(name: str, params: tuple):
    """Our activation argument: the bare name when the parameters are our defaults, else a tuple;
    ONNX's Affine(1, 0) is 'linear'."""
    if name == "affine" and params == (1.0, 0.0):
        return "linear"
    if params == tuple(ACTIVATION_DEFAULTS[name]):
        return name
    return (name, *params)


_ONNX_DIRECTIONS = ("forward", "reverse", "bidirectional")


def _onnx_common(op: str, node, direction) -> tuple[dict, list, dict]:
    """Check an ONNX recurrent node's attributes; return them, the activations of ``direction``
    as our arguments, and the options its direction sets (``reverse``)."""
    spec = _ONNX_OPS[op]
    attrs = _onnx_attributes(node, op)
    unknown = sorted(set(attrs) - _ONNX_COMMON - spec["attributes"])
    if unknown:
        raise ValueError(f"ONNX {op} attributes {unknown} are not known to lstmcore")
    way = _text(attrs.get("direction", "forward"))
    if way not in _ONNX_DIRECTIONS:
        raise ValueError(f"ONNX {op} attribute direction must be one of {_ONNX_DIRECTIONS}, got {way!r}")
    D = 2 if way == "bidirectional" else 1
    if int(attrs.get("layout", 0)) not in (0, 1):
        raise ValueError(f"ONNX {op} attribute layout must be 0 or 1, got {attrs['layout']}")
    roles = spec["roles"]
    names = [_text(a) for a in attrs.get("activations", spec["defaults"] * D)]
    if len(names) != D * len(roles):
        raise ValueError(
            f"ONNX {op} attribute activations must list {len(roles)} per direction ({', '.join(roles)}) "
            f"for {D} direction{'s' if D > 1 else ''}, got {names}"
        )
    alphas, betas = list(attrs.get("activation_alpha", [])), list(attrs.get("activation_beta", []))
    acts = []
    for k, name in enumerate(names):  # every direction's, consuming alpha and beta in order
        role = roles[k % len(roles)]
        onnx_name = _ONNX_BY_LOWER.get(name.lower())
        if onnx_name is None:
            raise ValueError(
                f"ONNX {op} activation {name} ({role}) is not supported by lstmcore; it runs "
                f"{sorted(_ONNX_ACTIVATIONS)}"
            )
        ours, defaults = _ONNX_ACTIVATIONS[onnx_name]
        params = []
        for j, default in enumerate(defaults):  # alpha, then beta, each from its own list
            given = (alphas, betas)[j]
            if not given and default is None:
                what = ("alpha", "beta")[j]
                raise ValueError(
                    f"ONNX {op} activation {onnx_name} ({role}) needs its {what} in activation_{what}: "
                    f"{onnx_name} has no default that ONNX and ONNX Runtime agree on"
                )
            params.append(_onnx_float(given.pop(0)) if given else default)
        acts.append(_ours(ours, tuple(params)))
    if alphas or betas:
        raise ValueError(
            f"ONNX {op} attributes activation_alpha/activation_beta have values no activation "
            f"of {names} takes"
        )
    if direction is None:
        if D == 2:
            raise ValueError(
                f"ONNX {op} node with direction='bidirectional' has two directions: pass direction=0 "
                "(forward) or 1 (reverse), and the same to the weights' converter"
            )
        direction = 0
    if isinstance(direction, (bool, np.bool_)) or not hasattr(direction, "__index__"):
        raise TypeError(f"direction must be an int, got {type(direction).__name__} {direction!r}")
    direction = operator.index(direction)
    if not 0 <= direction < D:
        raise ValueError(
            f"direction must be in [0, {D}) for an ONNX {op} node with direction={way!r}, got {direction}"
        )
    reverse = way == "reverse" or (D == 2 and direction == 1)
    return (
        attrs,
        acts[direction * len(roles) : (direction + 1) * len(roles)],
        ({"reverse": True} if reverse else {}),
    )


def onnx_lstm_options(node, direction=None) -> dict:
    """``lstm_forward``'s options for an ONNX ``LSTM`` node (a NodeProto, or a dict of its attributes).

    Returns ``activation`` (ONNX's g) and ``recurrent_activation`` (f) always; ``output_activation``
    (h) when it differs from g; ``clip`` when the node sets it; ``input_forget=True`` for
    ``input_forget=1``. An activation is a name, or ``(name, alpha[, beta])`` when its parameters
    differ from lstmcore's defaults (ONNX's HardSigmoid default alpha 0.2 is kept: Keras's 1/6 is
    lstmcore's). What lstmcore cannot compute is a ``ValueError`` naming the attribute, never
    dropped: the ``reverse`` and ``bidirectional`` directions (run each direction, from
    :func:`from_onnx`, on the time-reversed sequence meanwhile), unknown attributes or activations,
    leftover ``activation_alpha``/``activation_beta`` values. ``layout`` (1: batch-first, a transpose
    of X, initial_h/c and the outputs that the caller does) and ``hidden_size`` are accepted;
    peepholes are an input (``P``, see :func:`from_onnx`), ``sequence_lens`` too (the caller's).
    """
    attrs, (f, g, h), way = _onnx_common("LSTM", node, direction)
    options = {"activation": g, "recurrent_activation": f, **way}
    if activation_spec(h, "ONNX LSTM activation h") != activation_spec(g, "ONNX LSTM activation g"):
        options["output_activation"] = h
    if "clip" in attrs:
        options["clip"] = _onnx_float(attrs["clip"])
    input_forget = int(attrs.get("input_forget", 0))
    if input_forget not in (0, 1):
        raise ValueError(f"ONNX LSTM attribute input_forget must be 0 or 1, got {input_forget}")
    if input_forget:
        options["input_forget"] = True
    return options


def onnx_gru_options(node, direction=None) -> dict:
    """``gru_forward``'s options for an ONNX ``GRU`` node (a NodeProto, or a dict of its attributes).

    Returns ``reset_after`` (the node's ``linear_before_reset``; pass the same to
    :func:`from_onnx_gru`), ``activation`` (ONNX's g) and ``recurrent_activation`` (f). Refused by
    name: ``clip`` (lstmcore's GRU has no cell clip), unknown attributes and activations;
    directions as :func:`onnx_lstm_options`.
    """
    attrs, (f, g), way = _onnx_common("GRU", node, direction)
    if "clip" in attrs:
        raise ValueError(
            f"ONNX GRU attribute clip={attrs['clip']} (cell clip) is not supported by lstmcore's GRU"
        )
    linear_before_reset = int(attrs.get("linear_before_reset", 0))
    if linear_before_reset not in (0, 1):
        raise ValueError(f"ONNX GRU attribute linear_before_reset must be 0 or 1, got {linear_before_reset}")
    return {"reset_after": bool(linear_before_reset), "activation": g, "recurrent_activation": f, **way}


def onnx_rnn_options(node, direction=None) -> dict:
    """``rnn_forward``'s options for an ONNX ``RNN`` node: ``{"activation": ...}`` (ONNX's f).
    Refused by name as for :func:`onnx_gru_options` (``clip`` included)."""
    attrs, (f,), way = _onnx_common("RNN", node, direction)
    if "clip" in attrs:
        raise ValueError(
            f"ONNX RNN attribute clip={attrs['clip']} (cell clip) is not supported by lstmcore's RNN"
        )
    return {"activation": f, **way}


def _onnx_activations(**args) -> dict:
    """Our activation arguments (role=value) -> ONNX's ``activations``, ``activation_alpha`` and
    ``activation_beta``: every parameter an activation takes is written out (ONNX's defaults are not
    always ours); the lists are left out when no activation takes any."""
    names, alphas, betas = [], [], []
    for role, value in args.items():
        code, alpha, beta = activation_spec(value, role)
        ours = _CODE_NAME[code]
        if ours == "linear":
            ours, alpha, beta = "affine", 1.0, 0.0
        onnx_name = _ONNX_NAME[ours]
        names.append(onnx_name)
        takes = len(_ONNX_ACTIVATIONS[onnx_name][1])
        alphas += [alpha] if takes >= 1 else []
        betas += [beta] if takes >= 2 else []
    out = {"activations": names}
    if alphas:
        out["activation_alpha"] = alphas
    if betas:
        out["activation_beta"] = betas
    return out


def onnx_lstm_attributes(
    *,
    activation="tanh",
    recurrent_activation="sigmoid",
    output_activation=None,
    clip=None,
    input_forget=False,
) -> dict:
    """The attributes of an ONNX ``LSTM`` node computing ``lstm_forward`` with these options (the
    inverse of :func:`onnx_lstm_options`; ``hidden_size`` and ``direction`` are the caller's).
    Peepholes go in the ``P`` input (:func:`to_onnx`); ONNX has no projection."""
    h = activation if output_activation is None else output_activation
    attrs = _onnx_activations(f=recurrent_activation, g=activation, h=h)
    if clip is not None:
        attrs["clip"] = float(clip)
    if input_forget:
        attrs["input_forget"] = 1
    return attrs


def onnx_gru_attributes(*, reset_after=True, activation="tanh", recurrent_activation="sigmoid") -> dict:
    """The attributes of an ONNX ``GRU`` node computing ``gru_forward`` with these options
    (``linear_before_reset`` = reset_after); the inverse of :func:`onnx_gru_options`."""
    attrs = _onnx_activations(f=recurrent_activation, g=activation)
    attrs["linear_before_reset"] = int(bool(reset_after))
    return attrs


def onnx_rnn_attributes(*, activation="tanh") -> dict:
    """The attributes of an ONNX ``RNN`` node computing ``rnn_forward`` with this activation."""
    return _onnx_activations(f=activation)

"""Gate order, the canonical weight layout, and the only converters to and from other frameworks.

lstmcore stores each layer and direction as

    w_x (I, G)   w_h (H, G)   b (G)        G = 4H, column blocks [i | f | g | o]

which is exactly Keras's ``kernel``, ``recurrent_kernel`` and ``bias``, so that ``z = x @ w_x`` is a
plain row-major product.

PyTorch keeps ``w_ih (G, I)``, ``w_hh (G, H)``, ``b_ih (G)``, ``b_hh (G)`` in the same gate order.
ONNX keeps ``W (D, G, I)``, ``R (D, G, H)``, ``B (D, 2G)`` in the gate order i, o, f, c.
"""

from __future__ import annotations

import operator

import numpy as np

GATES = ("i", "f", "g", "o")
ONNX_GATES = ("i", "o", "f", "c")
# Position in ONNX's order of each of our gates: ours[k] = onnx[_FROM_ONNX[k]].
_FROM_ONNX = (0, 2, 3, 1)
# Position in our order of each ONNX gate: onnx[k] = ours[_TO_ONNX[k]].
_TO_ONNX = (0, 3, 1, 2)


def _as_float(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got dtype {a.dtype}")
    return a


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


def check_canonical(w_x, w_h, b) -> tuple[int, int]:
    """Check ``w_x (I, G)``, ``w_h (H, G)``, ``b (G)`` and return ``(I, H)``."""
    w_x, w_h, b = (_as_float(n, a) for n, a in (("w_x", w_x), ("w_h", w_h), ("b", b)))
    _one_dtype(w_x=w_x, w_h=w_h, b=b)
    if w_h.ndim != 2 or w_h.shape[1] != 4 * w_h.shape[0] or w_h.shape[0] == 0:
        raise ValueError(f"w_h must have shape (H, 4*H), got {w_h.shape}")
    H = w_h.shape[0]
    if w_x.ndim != 2 or w_x.shape[1] != 4 * H or w_x.shape[0] == 0:
        raise ValueError(f"w_x must have shape (I, {4 * H}), got {w_x.shape}")
    if b.shape != (4 * H,):
        raise ValueError(f"b must have shape ({4 * H},), got {b.shape}")
    return w_x.shape[0], H


# PyTorch ----------------------------------------------------------------------------------------


def from_torch(w_ih, w_hh, b_ih=None, b_hh=None):
    """PyTorch ``nn.LSTM`` weights of one layer and direction -> ``(w_x, w_h, b)``.

    ``w_ih (G, I)``, ``w_hh (G, H)``, ``b_ih (G)``, ``b_hh (G)`` (either bias may be None, as with
    ``bias=False``). Arrays or CPU tensors converted with ``.detach().numpy()`` beforehand.
    """
    w_ih, w_hh = _as_float("w_ih", w_ih), _as_float("w_hh", w_hh)
    b_ih = None if b_ih is None else _as_float("b_ih", b_ih)
    b_hh = None if b_hh is None else _as_float("b_hh", b_hh)
    _one_dtype(w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh)
    if w_hh.ndim != 2 or w_hh.shape[0] != 4 * w_hh.shape[1]:
        raise ValueError(f"w_hh must have shape (4*H, H), got {w_hh.shape}")
    G = w_hh.shape[0]
    if w_ih.ndim != 2 or w_ih.shape[0] != G:
        raise ValueError(f"w_ih must have shape ({G}, I), got {w_ih.shape}")
    _nonempty(H=w_hh.shape[1], I=w_ih.shape[1])
    b = np.zeros(G, dtype=w_ih.dtype)
    for name, bias in (("b_ih", b_ih), ("b_hh", b_hh)):
        if bias is not None:
            if bias.shape != (G,):
                raise ValueError(f"{name} must have shape ({G},), got {bias.shape}")
            b = b + bias
    return (np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), b.astype(w_ih.dtype))


def to_torch(w_x, w_h, b):
    """``(w_x, w_h, b)`` -> PyTorch ``(w_ih, w_hh, b_ih, b_hh)``, the whole bias in ``b_ih``."""
    check_canonical(w_x, w_h, b)
    w_x, w_h, b = np.asarray(w_x), np.asarray(w_h), np.asarray(b)
    return (np.ascontiguousarray(w_x.T), np.ascontiguousarray(w_h.T), b.copy(), np.zeros_like(b))


# Keras ------------------------------------------------------------------------------------------


def from_keras(kernel, recurrent_kernel, bias=None):
    """Keras ``LSTM`` weights ``[kernel (I, G), recurrent_kernel (H, G), bias (G)]``: same layout."""
    kernel = _as_float("kernel", kernel)
    recurrent_kernel = _as_float("recurrent_kernel", recurrent_kernel)
    if bias is not None:
        _one_dtype(kernel=kernel, recurrent_kernel=recurrent_kernel, bias=_as_float("bias", bias))
    if bias is None:
        bias = np.zeros(np.shape(recurrent_kernel)[-1:], dtype=kernel.dtype)
    check_canonical(kernel, recurrent_kernel, bias)
    return tuple(np.array(a, dtype=kernel.dtype, order="C") for a in (kernel, recurrent_kernel, bias))


def to_keras(w_x, w_h, b):
    """``(w_x, w_h, b)`` -> Keras ``[kernel, recurrent_kernel, bias]`` (copies)."""
    check_canonical(w_x, w_h, b)
    return [np.array(a, order="C") for a in (w_x, w_h, b)]


# ONNX -------------------------------------------------------------------------------------------


def _reorder_blocks(a: np.ndarray, order, axis: int) -> np.ndarray:
    blocks = np.split(a, 4, axis=axis)
    return np.concatenate([blocks[k] for k in order], axis=axis)


def from_onnx(W, R, B=None, P=None, direction: int = 0):
    """ONNX ``LSTM`` inputs ``W (D, G, I)``, ``R (D, G, H)``, ``B (D, 2G)`` -> ``(w_x, w_h, b)``.

    ``direction`` picks one of the D directions. Peepholes ``P`` are not supported: a non-zero
    ``P`` raises ``ValueError`` rather than being dropped silently. The node's attributes change
    the maths too: :func:`onnx_lstm_options` turns them into ``lstm_forward``'s options, or
    refuses them by name.
    """
    W, R = _as_float("W", W), _as_float("R", R)
    B = None if B is None else _as_float("B", B)
    _one_dtype(W=W, R=R, B=B)
    if W.ndim != 3 or R.ndim != 3 or R.shape[1] != 4 * R.shape[2] or W.shape[:2] != R.shape[:2]:
        raise ValueError(f"expected W (D, 4H, I) and R (D, 4H, H), got W {W.shape} and R {R.shape}")
    D, G = R.shape[:2]
    _nonempty(D=D, H=R.shape[2], I=W.shape[2])
    if isinstance(direction, bool) or not hasattr(direction, "__index__"):
        raise TypeError(f"direction must be an int, got {type(direction).__name__} {direction!r}")
    direction = operator.index(direction)
    if not 0 <= direction < D:
        raise ValueError(f"direction must be in [0, {D}), got {direction}")
    if P is not None and np.any(np.asarray(P) != 0):
        raise ValueError("ONNX peephole weights P are not supported by lstmcore; got non-zero P")
    w_x = _reorder_blocks(W[direction], _FROM_ONNX, axis=0).T
    w_h = _reorder_blocks(R[direction], _FROM_ONNX, axis=0).T
    if B is None:
        b = np.zeros(G, dtype=W.dtype)
    else:
        if B.shape != (D, 2 * G):
            raise ValueError(f"B must have shape ({D}, {2 * G}), got {B.shape}")
        b = _reorder_blocks(B[direction, :G] + B[direction, G:], _FROM_ONNX, axis=0)
    return (np.ascontiguousarray(w_x), np.ascontiguousarray(w_h), b.astype(W.dtype))


def to_onnx(w_x, w_h, b):
    """``(w_x, w_h, b)`` of one direction -> ONNX ``(W (1, G, I), R (1, G, H), B (1, 2G))``."""
    check_canonical(w_x, w_h, b)
    w_x, w_h, b = np.asarray(w_x), np.asarray(w_h), np.asarray(b)
    W = _reorder_blocks(w_x.T, _TO_ONNX, axis=0)[None]
    R = _reorder_blocks(w_h.T, _TO_ONNX, axis=0)[None]
    Bo = np.concatenate([_reorder_blocks(b, _TO_ONNX, axis=0), np.zeros_like(b)])[None]
    return np.ascontiguousarray(W), np.ascontiguousarray(R), Bo


# ONNX activations lstmcore runs: (name, alpha, beta) -> our name. Parameters as ONNX states them
# (HardSigmoid: max(0, min(1, alpha*x + beta)); Affine: alpha*x + beta).
_ONNX_GATE_ACTIVATIONS = {("Sigmoid", None, None): "sigmoid", ("HardSigmoid", 1 / 6, 0.5): "hard_sigmoid"}
_ONNX_CELL_ACTIVATIONS = {
    ("Tanh", None, None): "tanh",
    ("Relu", None, None): "relu",
    ("Sigmoid", None, None): "sigmoid",
    ("Affine", 1.0, 0.0): "linear",
}
# ONNX's defaults of the parameterised activations (as the operators of the same names).
_ONNX_PARAMS = {
    "HardSigmoid": (0.2, 0.5),
    "Affine": (1.0, 0.0),
    "LeakyRelu": (0.01, None),
    "ThresholdedRelu": (1.0, None),
    "Elu": (1.0, None),
    "ScaledTanh": (1.0, 1.0),
}


def _onnx_attributes(node) -> dict:
    """An ONNX node's attributes as a dict; a dict is taken as it is."""
    if isinstance(node, dict):
        return dict(node)
    try:
        from onnx import helper
    except ImportError:  # pragma: no cover - a NodeProto comes with onnx installed
        raise TypeError("pass the node's attributes as a dict, or install onnx to pass a NodeProto") from None
    if getattr(node, "op_type", None) != "LSTM":
        raise ValueError(f"expected an ONNX LSTM node, got {getattr(node, 'op_type', type(node).__name__)!r}")
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def onnx_lstm_options(node) -> dict:
    """``lstm_forward``'s options for an ONNX ``LSTM`` node (a NodeProto, or a dict of its attributes).

    Returns ``{"activation": ..., "recurrent_activation": ...}``. Whatever the node says that
    lstmcore cannot compute is a ``ValueError`` naming the attribute, never dropped: ``clip``,
    ``input_forget=1``, a candidate activation (g) that differs from the cell output's (h),
    activations or parameters outside lstmcore's set (HardSigmoid runs only with Keras's
    alpha = 1/6, not ONNX's default 0.2), and the ``reverse`` and ``bidirectional`` directions (run
    the reversed sequence through ``lstm_forward`` meanwhile). ``layout`` and ``hidden_size`` do not
    change the maths and are accepted.
    """
    attrs = _onnx_attributes(node)
    known = {
        "activations",
        "activation_alpha",
        "activation_beta",
        "clip",
        "direction",
        "hidden_size",
        "input_forget",
        "layout",
    }
    unknown = sorted(set(attrs) - known)
    if unknown:
        raise ValueError(f"ONNX LSTM attributes {unknown} are not known to lstmcore")
    if "clip" in attrs:
        raise ValueError(
            f"ONNX LSTM attribute clip={attrs['clip']} (cell clip) is not supported by lstmcore yet"
        )
    if int(attrs.get("input_forget", 0)) != 0:
        raise ValueError(
            "ONNX LSTM attribute input_forget=1 (coupled input and forget gates) is not supported "
            "by lstmcore yet"
        )
    way = _text(attrs.get("direction", "forward"))
    if way != "forward":
        raise ValueError(
            f"ONNX LSTM attribute direction={way!r} is not supported by lstmcore's lstm_forward yet: "
            "convert each direction with from_onnx and run it on the time-reversed sequence"
        )
    if int(attrs.get("layout", 0)) not in (0, 1):
        raise ValueError(f"ONNX LSTM attribute layout must be 0 or 1, got {attrs['layout']}")
    names = [_text(a) for a in attrs.get("activations", ["Sigmoid", "Tanh", "Tanh"])]
    if len(names) != 3:
        raise ValueError(f"ONNX LSTM attribute activations must list 3 per direction (f, g, h), got {names}")
    alphas, betas = list(attrs.get("activation_alpha", [])), list(attrs.get("activation_beta", []))
    acts = []
    for name in names:  # alpha and beta are consumed in order by the activations that take them
        default_alpha, default_beta = _ONNX_PARAMS.get(name, (None, None))
        alpha = (alphas.pop(0) if alphas else default_alpha) if default_alpha is not None else None
        beta = (betas.pop(0) if betas else default_beta) if default_beta is not None else None
        acts.append((name, alpha, beta))
    if alphas or betas:
        raise ValueError(
            f"ONNX LSTM attributes activation_alpha/activation_beta have values no activation "
            f"of {names} takes"
        )

    def lookup(table, act, role):
        for (name, alpha, beta), ours in table.items():
            if act[0] == name and _close(act[1], alpha) and _close(act[2], beta):
                return ours
        params = (
            ""
            if act[1] is None
            else f" (alpha={act[1]}" + ("" if act[2] is None else f", beta={act[2]}") + ")"
        )
        raise ValueError(
            f"ONNX LSTM activation {act[0]}{params} for {role} is not supported by lstmcore; it runs "
            f"{sorted({k[0] for k in table})}"
            + (" (HardSigmoid with alpha=1/6, beta=0.5)" if role == "the gates (f)" else "")
        )

    f, g, h = acts
    recurrent = lookup(_ONNX_GATE_ACTIVATIONS, f, "the gates (f)")
    candidate = lookup(_ONNX_CELL_ACTIVATIONS, g, "the candidate (g)")
    output = lookup(_ONNX_CELL_ACTIVATIONS, h, "the cell output (h)")
    if candidate != output:
        raise ValueError(
            f"ONNX LSTM activations g={g[0]} and h={h[0]} differ: lstmcore runs one activation "
            "for both (separate ones are not supported yet)"
        )
    return {"activation": candidate, "recurrent_activation": recurrent}


def _close(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(float(a) - b) <= 1e-6)

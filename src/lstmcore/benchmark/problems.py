"""Problems, shapes, sizes and the equal-work check of the benchmark (see the package's
docstring): what each peer is given and what its outputs must match."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lstmcore import reference
from lstmcore.engine._threads import cpu_count

KINDS = ("inference", "train", "step")

# The cells and their gate blocks: w_x (I, K*H), w_h (H, K*H). The GRU is reset_after=True
# (b (2, 3H) = [input bias, recurrent bias]: PyTorch's nn.GRU, ONNX's linear_before_reset=1),
# the RNN's activation tanh.
CELLS = ("lstm", "gru", "rnn")
CELL_GATES = {"lstm": 4, "gru": 3, "rnn": 1}
# What a run measures unless told: the LSTM alone (each cell adds about as much time again).
DEFAULT_CELLS = ("lstm",)

# name: (B, T, I, H, kinds measured), DESIGN.md section 4. The one table, also used by bench/.
SHAPES = {
    "S1": (32, 30, 1, 50, ("inference", "train")),
    "S2": (64, 100, 32, 128, ("inference", "train")),
    "S3": (64, 100, 256, 512, ("inference", "train")),
    "S4": (1, 1, 16, 128, ("step",)),
    "S5": (1, 100, 16, 128, ("inference",)),
    "S6": (256, 50, 64, 256, ("inference",)),
}

INSTALL_HINT = "pip install 'lstmcore[bench]'"

# Equal-work tolerances per dtype: (rtol, atol). atol is scaled by the largest |expected| of each
# array (at least 1), since weight gradients sum over B*T rows and grow with the shape.
TOLERANCE = {np.dtype(np.float32): (1e-3, 1e-4), np.dtype(np.float64): (1e-9, 1e-11)}


class PeerUnavailable(ImportError):
    """A peer's package is not installed; the message names it and the install command."""


class EqualWorkError(RuntimeError):
    """A peer's outputs differ from the reference's: it is not doing the same work."""


@dataclass
class Timed:
    """One peer ready to time: ``fn()`` does one call of ``kind``; ``outputs()`` (None for the
    bound) runs one call from the problem's initial state and returns its arrays by name."""

    peer: str
    kind: str
    fn: Callable[[], object]
    outputs: Callable[[], dict] | None


# Problems and shapes ----------------------------------------------------------------------------


def make_problem(B: int, T: int, I: int, H: int, dtype=np.float32, seed: int = 0, cell: str = "lstm") -> dict:
    """Inputs, Glorot-scale weights, an output gradient and a streaming state of one layer of
    ``cell`` (one of CELLS).

    cell | x (B, T, I) | w_x (I, G) | w_h (H, G) | b: (G,), the GRU's (2, G) | dy (B, T, H) |
    h0 (B, H) and, for the LSTM, c0 (B, H): the state the streaming step starts from (inference
    and training start from zeros). G = CELL_GATES[cell] * H. The LSTM's numbers do not depend on
    the cells there are: the same seed gives the same problem as before the GRU and RNN came.
    """
    cell = _check_cell(cell)
    _check_dims("of the problem", (B, T, I, H))
    dtype = np.dtype(dtype)
    if dtype not in TOLERANCE:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    rng = np.random.default_rng(seed)
    G = CELL_GATES[cell] * H

    def f(scale, *shape):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    problem = {
        "cell": cell,
        "x": f(1.0, B, T, I),
        "w_x": f(I**-0.5, I, G),
        "w_h": f(H**-0.5, H, G),
        "b": f(0.1, 2, G) if cell == "gru" else f(0.1, G),
        "dy": f(1.0, B, T, H),
        "h0": f(0.5, B, H),
    }
    if cell == "lstm":
        problem["c0"] = f(0.5, B, H)
    return problem


def resolve_shapes(shapes=None) -> dict:
    """``None`` (all of SHAPES), names of SHAPES, or a dict ``{name: (B, T, I, H[, kinds])}``
    -> ``{name: (B, T, I, H, kinds)}``; a custom shape without kinds gets all of KINDS."""
    if shapes is None:
        return dict(SHAPES)
    if isinstance(shapes, str):
        raise TypeError(f"shapes must be a list of names or a dict, got the string {shapes!r}")
    out = {}
    items = shapes.items() if isinstance(shapes, dict) else ((name, None) for name in shapes)
    for name, spec in items:
        if spec is None:
            if name not in SHAPES:
                raise ValueError(f"unknown shape {name!r}; expected one of {', '.join(SHAPES)}")
            out[name] = SHAPES[name]
            continue
        spec = tuple(spec)
        if len(spec) not in (4, 5):
            raise ValueError(f"shape {name!r} must be (B, T, I, H) or (B, T, I, H, kinds), got {spec!r}")
        _check_dims(repr(name), spec[:4])
        kinds = _check_kinds(spec[4]) if len(spec) == 5 else KINDS
        out[str(name)] = (*(int(n) for n in spec[:4]), kinds)
    return out


def _check_dims(name, dims) -> None:
    if len(dims) != 4:
        raise ValueError(f"shape {name} must have 4 sizes (B, T, I, H), got {tuple(dims)!r}")
    for letter, n in zip("BTIH", dims, strict=True):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"shape {name}: {letter} must be an int, got {type(n).__name__} {n!r}")
        if n < 1:
            raise ValueError(f"shape {name}: {letter} must be a positive integer, got {n!r}")


def _check_kinds(kinds) -> tuple:
    if isinstance(kinds, str):
        kinds = (kinds,)
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"kinds must be among {', '.join(KINDS)}, got {list(kinds)}")
    return kinds


def _check_cell(cell) -> str:
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; expected one of {', '.join(CELLS)}")
    return cell


def _check_cells(cells) -> tuple:
    if isinstance(cells, str):
        cells = (cells,)
    cells = tuple(dict.fromkeys(cells))
    bad = [c for c in cells if c not in CELLS]
    if bad or not cells:
        raise ValueError(f"cells must be among {', '.join(CELLS)}, got {list(cells)}")
    return cells


def _check_threads(threads) -> list:
    if threads is None:
        return sorted({1, cpu_count()})
    if isinstance(threads, int):
        threads = [threads]
    out = []
    for n in threads:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"thread counts must be ints, got {type(n).__name__} {n!r}")
        if n < 1:
            raise ValueError(f"thread counts must be positive integers, got {n!r}")
        out.append(int(n))
    if not out:
        raise ValueError("threads must name at least one thread count, got none")
    return sorted(set(out))


def _unpack(problem: dict):
    """``(cell, x, w_x, w_h, b, dy, h0, c0)`` of a problem from :func:`make_problem` (c0 None but
    for the LSTM; a problem without ``cell`` is an LSTM's)."""
    cell = _check_cell(problem.get("cell", "lstm"))
    keys = ("x", "w_x", "w_h", "b", "dy", "h0") + (("c0",) if cell == "lstm" else ())
    missing = [k for k in keys if k not in problem]
    if missing:
        raise ValueError(f"the problem lacks {missing}; build it with make_problem")
    return (cell, *(problem[k] for k in keys[:6]), problem.get("c0"))


# cell: (forward, backward, stepper class, names of the final state forward returns after y)
_API = {
    "lstm": ("lstm_forward", "lstm_backward", "LSTMStepper", ("h_n", "c_n")),
    "gru": ("gru_forward", "gru_backward", "GRUStepper", ("h_n",)),
    "rnn": ("rnn_forward", "rnn_backward", "RNNStepper", ("h_n",)),
}


# The equal-work check ---------------------------------------------------------------------------


def expected_outputs(problem: dict, kind: str) -> dict:
    """The reference's outputs for ``kind``, computed in float64 from the problem's numbers."""
    cell, *arrays = _unpack(problem)
    x, w_x, w_h, b, dy, h0, c0 = (None if a is None else np.asarray(a, dtype=np.float64) for a in arrays)
    forward_name, backward_name, _, state = _API[cell]
    forward, backward = getattr(reference, forward_name), getattr(reference, backward_name)
    if kind == "inference":
        return dict(zip(("y", *state), forward(x, w_x, w_h, b), strict=True))
    if kind == "train":
        grads = backward(dy, forward(x, w_x, w_h, b, return_cache=True)[-1])
        return {k: grads[k] for k in ("dx", "dw_x", "dw_h", "db")}
    if kind == "step":
        cell_forward = getattr(reference, f"{cell}_cell_forward")
        if cell == "lstm":
            return {"h": cell_forward(x[:, 0], w_x, w_h, b, h0, c0)[0]}
        return {"h": cell_forward(x[:, 0], w_x, w_h, b, h0)}
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


def check_equal_work(peer: str, outputs: dict, expected: dict, dtype=np.float32) -> None:
    """Raise EqualWorkError, naming ``peer`` and the largest error, unless every array of
    ``expected`` is matched by ``outputs`` within the tolerance of ``dtype``."""
    rtol, atol = TOLERANCE[np.dtype(dtype)]
    for key, want in expected.items():
        if key not in outputs:
            raise EqualWorkError(f"{peer}: output {key!r} is missing (it returned {sorted(outputs)})")
        got = np.asarray(outputs[key], dtype=np.float64)
        if got.shape != want.shape:
            raise EqualWorkError(f"{peer}: {key} has shape {got.shape}, expected {want.shape}")
        scale = max(1.0, float(np.abs(want).max(initial=0.0)))
        err = np.abs(got - want)
        bad = ~(err <= atol * scale + rtol * np.abs(want))  # NaN counts as a mismatch
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            largest = float(np.where(np.isnan(err), np.inf, err).max())
            raise EqualWorkError(
                f"{peer}: {key} differs from the reference in {int(bad.sum())} of {bad.size} values; "
                f"largest error {largest:.3e} (first at {where}: {got[where]!r} vs {want[where]!r}; "
                f"rtol {rtol}, atol {atol} x {scale:.3g})"
            )


def case_flops(cell: str, dims, kind: str) -> float:
    """Floating-point operations of the products of one call (2 per multiply-add), the GEMM-only
    bound's products: inference ``x @ w_x`` and T times ``h @ w_h`` (B*T*(I + H)*G multiply-adds,
    G = CELL_GATES[cell] * H); a training step three times that (``dh = dz @ w_h.T``, ``dw_x``,
    ``dw_h`` and ``dx`` in the backward); a streaming step B*(I + H)*G. Gate maths not counted."""
    B, T, I, H = (int(d) for d in dims)
    G = CELL_GATES[_check_cell(cell)] * H
    if kind == "step":
        return 2.0 * B * (I + H) * G
    forward = 2.0 * B * T * (I + H) * G
    return 3 * forward if kind == "train" else forward

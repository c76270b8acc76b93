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

# The sequence variants of each cell, named "<cell>-<variant>" and accepted wherever a cell name is:
# "bi" one bidirectional layer (outputs concatenated, [forward | reverse]), "L2" two stacked
# one-directional layers, "lengths" one layer over a batch whose lengths are spread over 1..T
# (sequence_lengths). The first two go through stack_forward / stack_backward.
VARIANTS = ("bi", "L2", "lengths")
SEQUENCE_CELLS = tuple(f"{cell}-{variant}" for cell in CELLS for variant in VARIANTS)
ALL_CELLS = CELLS + SEQUENCE_CELLS
# (layers L, directions D) of each variant that stacks layers or directions
_STACKS = {"bi": (1, 2), "L2": (2, 1)}
# The named shapes the variants run on, and their kinds (no streaming step).
SEQUENCE_SHAPES = ("S1", "S2", "S3")
SEQUENCE_KINDS = ("inference", "train")

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

# Peers that measure the machine, not a way to do the case's work: timed beside the others, left
# out of the ratios, the chart and the rounds column (gemm-peak: the GEMM peak of the case's
# moment, for lstmcore's share of it).
INSTRUMENTS = ("gemm-peak",)
# Peers timed in lstmcore's own process and rounds, beside it: lstmcore on one thread in a case of
# several (the scaling), lstmcore on a batch of lengths at full length (what the lengths save) and
# the instruments: each a ratio of two times of lstmcore's, which in processes of their own,
# timed in turn, would compare two moments of a shared machine (gru-lengths S2 training on 2
# threads, 2-core VM: lstmcore/lstmcore-full 0.77, parts 0.53-0.78, where the two timed in one
# process, in turn, gave 0.57). Without lstmcore in a case they time nothing.
BESIDE_LSTMCORE = ("lstmcore-1t", "lstmcore-full", *INSTRUMENTS)

# Equal-work tolerances per dtype: (rtol, atol). atol is scaled by the largest |expected| of each
# array (at least 1), since weight gradients sum over B*T rows and grow with the shape.
TOLERANCE = {np.dtype(np.float32): (1e-3, 1e-4), np.dtype(np.float64): (1e-9, 1e-11)}


class PeerUnavailable(ImportError):
    """A peer's package is not installed; the message names it and the install command."""


class EqualWorkError(RuntimeError):
    """A peer's outputs differ from the reference's: it is not doing the same work."""


class PeerDoesNotApply(Exception):
    """A peer has nothing to time on a case (lstmcore-full outside the -lengths cells, the GEMM-only
    bound on them): the case goes on without it, and the message says why."""


@dataclass
class Timed:
    """One peer ready to time: ``fn()`` does one call of ``kind``; ``outputs()`` (None for the
    bound) runs one call from the problem's initial state and returns its arrays by name;
    ``expected()``, when not None, gives the reference's outputs of the work this peer does by
    design instead of the case's (lstmcore-full: the batch at full length)."""

    peer: str
    kind: str
    fn: Callable[[], object]
    outputs: Callable[[], dict] | None
    expected: Callable[[], dict] | None = None


# Problems and shapes ----------------------------------------------------------------------------


def make_problem(B: int, T: int, I: int, H: int, dtype=np.float32, seed: int = 0, cell: str = "lstm") -> dict:
    """Inputs, Glorot-scale weights, an output gradient and a streaming state of one layer of
    ``cell`` (one of ALL_CELLS).

    cell | x (B, T, I) | w_x (I, G) | w_h (H, G) | b: (G,), the GRU's (2, G) | dy (B, T, H) |
    h0 (B, H) and, for the LSTM, c0 (B, H): the state the streaming step starts from (inference
    and training start from zeros). G = CELL_GATES[cell] * H. The LSTM's numbers do not depend on
    the cells there are: the same seed gives the same problem as before the GRU and RNN came.

    A "-lengths" cell: its cell's problem (the same numbers) and ``lengths`` (B,), from
    :func:`sequence_lengths`. A "-bi" or "-L2" cell: cell | x (B, T, I) | weights, a list of L*D
    tuples (w_x, w_h, b) in stack_forward's order (layer-major, direction-minor; layer 2's w_x is
    (D*H, G)) | dy (B, T, D*H); no streaming state (the variants have no step).
    """
    cell = _check_cell(cell)
    _check_dims("of the problem", (B, T, I, H))
    dtype = np.dtype(dtype)
    if dtype not in TOLERANCE:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    base, variant = split_cell(cell)
    if variant == "lengths":
        problem = make_problem(B, T, I, H, dtype, seed, base)
        return {**problem, "cell": cell, "lengths": sequence_lengths(B, T)}
    rng = np.random.default_rng(seed)
    G = CELL_GATES[base] * H

    def f(scale, *shape):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    if variant is not None:
        L, D = _STACKS[variant]
        x = f(1.0, B, T, I)
        weights = []
        for layer in range(L):
            n_in = I if layer == 0 else D * H
            for _ in range(D):
                b = f(0.1, 2, G) if base == "gru" else f(0.1, G)
                weights.append((f(n_in**-0.5, n_in, G), f(H**-0.5, H, G), b))
        return {"cell": cell, "x": x, "weights": weights, "dy": f(1.0, B, T, D * H)}
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


def sequence_lengths(B: int, T: int, seed: int = 0) -> np.ndarray:
    """The lengths (B,) int64 of a "-lengths" problem: spread evenly over 1..T (the longest T, the
    shortest 1 when B > 1), in an order shuffled with ``seed`` so that the rows are not sorted."""
    lengths = np.linspace(T, 1, B).round().astype(np.int64)
    np.random.default_rng(seed).shuffle(lengths)
    return lengths


def split_cell(cell: str) -> tuple:
    """``"gru-bi"`` -> ``("gru", "bi")``; a cell of CELLS -> ``(cell, None)``."""
    cell = _check_cell(cell)
    base, _, variant = cell.partition("-")
    return base, variant or None


def cell_kinds(cell: str) -> tuple:
    """The kinds of work measured on ``cell``: all of KINDS, the variants' SEQUENCE_KINDS."""
    return KINDS if split_cell(cell)[1] is None else SEQUENCE_KINDS


def cell_runs_on(cell: str, shape: str, dims) -> bool:
    """Whether ``cell`` is measured at the shape named ``shape`` with ``dims`` (B, T, I, H): a cell
    of CELLS on every shape, a variant on SEQUENCE_SHAPES and on custom shapes (names or dims
    not those of SHAPES)."""
    if split_cell(cell)[1] is None:
        return True
    standard = shape in SHAPES and tuple(dims)[:4] == SHAPES[shape][:4]
    return not standard or shape in SEQUENCE_SHAPES


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


def _cells_text() -> str:
    return f"{', '.join(CELLS)} or one of their variants <cell>-{', -'.join(VARIANTS)}"


def _check_cell(cell) -> str:
    if cell not in ALL_CELLS:
        raise ValueError(f"unknown cell {cell!r}; expected one of {_cells_text()}")
    return cell


def _check_cells(cells) -> tuple:
    if isinstance(cells, str):
        cells = (cells,)
    cells = tuple(dict.fromkeys(cells))
    bad = [c for c in cells if c not in ALL_CELLS]
    if bad or not cells:
        raise ValueError(f"cells must be among {_cells_text()}, got {list(cells)}")
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
    """``(cell, x, w_x, w_h, b, dy, h0, c0)`` of a one-layer problem from :func:`make_problem`
    (c0 None but for the LSTM; a problem without ``cell`` is an LSTM's). ``cell`` is the cell of
    CELLS: a "-lengths" problem gives its cell, its lengths are ``problem["lengths"]``."""
    cell, variant = split_cell(problem.get("cell", "lstm"))
    if variant in _STACKS:
        raise ValueError(f"a {cell}-{variant} problem has a list of weights; expected a one-layer problem")
    keys = ("x", "w_x", "w_h", "b", "dy", "h0") + (("c0",) if cell == "lstm" else ())
    keys += ("lengths",) if variant == "lengths" else ()
    missing = [k for k in keys if k not in problem]
    if missing:
        raise ValueError(f"the problem lacks {missing}; build it with make_problem")
    return (cell, *(problem[k] for k in keys[:6]), problem.get("c0"))


def _unpack_stack(problem: dict):
    """``(cell, L, D, x, weights, dy)`` of a "-bi" or "-L2" problem from :func:`make_problem`:
    the cell of CELLS, its layers and directions, and the arrays."""
    cell, variant = split_cell(problem.get("cell", "lstm"))
    if variant not in _STACKS:
        raise ValueError(f"expected a -bi or -L2 problem, got one of cell {problem.get('cell', 'lstm')!r}")
    missing = [k for k in ("x", "weights", "dy") if k not in problem]
    if missing:
        raise ValueError(f"the problem lacks {missing}; build it with make_problem")
    L, D = _STACKS[variant]
    if len(problem["weights"]) != L * D:
        raise ValueError(
            f"a {variant} problem has {L * D} (w_x, w_h, b) tuples, got {len(problem['weights'])}"
        )
    return cell, L, D, problem["x"], problem["weights"], problem["dy"]


def full_length_problem(problem: dict) -> dict:
    """A "-lengths" problem without its lengths: its cell's problem, every row T steps long."""
    cell, variant = split_cell(problem.get("cell", "lstm"))
    if variant != "lengths":
        raise ValueError(f"expected a -lengths problem, got one of cell {problem.get('cell', 'lstm')!r}")
    return {**{k: v for k, v in problem.items() if k != "lengths"}, "cell": cell}


def stack_grads(grads: list) -> dict:
    """stack_backward's list of L*D dicts as named arrays: dx, then dw_x{k}, dw_h{k}, db{k} of
    each layer-direction k (weights[k], k = layer * D + direction)."""
    out = {"dx": grads[0]["dx"]}
    for k, g in enumerate(grads):
        out.update({f"{name}{k}": g[name] for name in ("dw_x", "dw_h", "db")})
    return out


# cell: (forward, backward, stepper class, names of the final state forward returns after y)
_API = {
    "lstm": ("lstm_forward", "lstm_backward", "LSTMStepper", ("h_n", "c_n")),
    "gru": ("gru_forward", "gru_backward", "GRUStepper", ("h_n",)),
    "rnn": ("rnn_forward", "rnn_backward", "RNNStepper", ("h_n",)),
}


# The equal-work check ---------------------------------------------------------------------------


def _check_cell_kind(cell: str, kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind not in cell_kinds(cell):
        raise ValueError(f"cell {cell} has no {kind!r} kind; it has {', '.join(cell_kinds(cell))}")


def _float64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def expected_outputs(problem: dict, kind: str) -> dict:
    """The reference's outputs for ``kind``, computed in float64 from the problem's numbers.

    inference: y and the final state (h_n, and the LSTM's c_n: (B, H), or (L*D, B, H) for "-bi"
    and "-L2"); train: dx and the weight gradients (dw_x, dw_h, db, or those of every
    layer-direction, see :func:`stack_grads`); step: h."""
    _check_cell_kind(problem.get("cell", "lstm"), kind)
    if split_cell(problem.get("cell", "lstm"))[1] in _STACKS:
        cell, L, D, x, weights, dy = _unpack_stack(problem)
        weights = [tuple(_float64(a) for a in w) for w in weights]
        out = reference.stack_forward(
            cell, _float64(x), weights, bidirectional=D == 2, return_cache=kind == "train"
        )
        if kind == "inference":
            return dict(zip(("y", *_API[cell][3]), out, strict=True))
        return stack_grads(reference.stack_backward(_float64(dy), out[-1]))
    cell, *arrays = _unpack(problem)
    x, w_x, w_h, b, dy, h0, c0 = (_float64(a) for a in arrays)
    lengths = problem.get("lengths")
    seq = {} if lengths is None else {"lengths": lengths}
    forward_name, backward_name, _, state = _API[cell]
    forward, backward = getattr(reference, forward_name), getattr(reference, backward_name)
    if kind == "inference":
        return dict(zip(("y", *state), forward(x, w_x, w_h, b, **seq), strict=True))
    if kind == "train":
        grads = backward(dy, forward(x, w_x, w_h, b, return_cache=True, **seq)[-1])
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


def check_timed(timed: Timed, expected: dict, dtype=np.float32) -> None:
    """The equal-work check of one built peer: its outputs against ``expected`` (the case's, from
    :func:`expected_outputs`), or against ``timed.expected()`` where the peer does other work by
    design (lstmcore-full); nothing for the bound, which has no outputs."""
    if timed.outputs is None:
        return
    want = expected if timed.expected is None else timed.expected()
    check_equal_work(timed.peer, timed.outputs(), want, dtype)


def case_flops(cell: str, dims, kind: str) -> float:
    """Floating-point operations of the products of one call (2 per multiply-add), the GEMM-only
    bound's products: inference ``x @ w_x`` and T times ``h @ w_h`` (B*T*(I + H)*G multiply-adds,
    G = CELL_GATES[cell] * H); a training step three times that (``dh = dz @ w_h.T``, ``dw_x``,
    ``dw_h`` and ``dx`` in the backward); a streaming step B*(I + H)*G. Gate maths not counted.

    The variants: "-bi" counts both directions (2 B*T*(I + H)*G), "-L2" both layers (layer 2
    reads H inputs: B*T*((I + H) + 2H)*G), "-lengths" the steps the rows have, the sum of
    :func:`sequence_lengths` in place of B*T."""
    B, T, I, H = (int(d) for d in dims)
    cell, variant = split_cell(cell)
    G = CELL_GATES[cell] * H
    if kind == "step":
        return 2.0 * B * (I + H) * G
    rows = int(sequence_lengths(B, T).sum()) if variant == "lengths" else B * T
    L, D = _STACKS.get(variant, (1, 1))
    inputs = sum(D * ((I if layer == 0 else D * H) + H) for layer in range(L))
    forward = 2.0 * rows * inputs * G
    return 3 * forward if kind == "train" else forward

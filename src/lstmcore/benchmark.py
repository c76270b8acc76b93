"""The side-by-side benchmark of DESIGN.md section 4: lstmcore against its peers, same process.

Three cells (CELLS): the LSTM, the GRU (reset_after=True, PyTorch's and ONNX's
``linear_before_reset=1`` semantics) and the simple RNN (tanh). Peers, each timed on the same
problem (float32, batch-first ``x (B, T, I)``, weights in lstmcore's layout ``w_x (I, G)``,
``w_h (H, G)``, ``b``, G = 4H (gates i, f, g, o), 3H (z, r, n; ``b (2, 3H)``) or H) and the same
thread count:

- ``lstmcore``: the cell's ``*_forward`` / ``*_backward`` / ``*Stepper``;
- ``reference``: the same names from ``lstmcore.reference`` (pure NumPy);
- ``torch``: ``torch.nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` on the CPU (oneDNN as shipped);
- ``onnxruntime``: a model of one ONNX ``LSTM`` / ``GRU`` / ``RNN`` node (inference and the
  streaming step only);
- ``bound``: the products of lstmcore's forward (and backward) alone, no gate maths: a lower bound.

Three kinds of work: ``inference`` (y and the final state from zero state), ``train`` (forward with
cache and backward from ``dy``: dx and every weight gradient) and ``step`` (one streaming step of B
rows, carrying the state from call to call). Before timing, every peer's outputs are checked against
the reference's (the equal-work check). Then the peers run in interleaved rounds, each peer once per
round in an order that rotates, so that drift in the machine's speed hits all peers alike.

torch, onnx, onnxruntime and matplotlib are imported only when needed; a missing peer is skipped
with a message (``pip install 'lstmcore[bench]'``). ``lstmcore bench`` is the command-line front.
"""

from __future__ import annotations

import datetime
import functools
import gc
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import lstmcore
from lstmcore import layout, reference
from lstmcore.engine._threads import cpu_count

__all__ = [
    "CELLS",
    "CELL_GATES",
    "DEFAULT_CELLS",
    "INSTALL_HINT",
    "KINDS",
    "PEERS",
    "SHAPES",
    "EqualWorkError",
    "PeerUnavailable",
    "Timed",
    "case_flops",
    "check_equal_work",
    "evaluate_targets",
    "load_targets",
    "expected_outputs",
    "format_table",
    "lstmcore_step",
    "machine_info",
    "make_peer",
    "make_problem",
    "measure_gemm_peak",
    "measure_memory",
    "peer_kinds",
    "peer_unavailable",
    "plot_ratios",
    "resolve_shapes",
    "run_benchmark",
    "save_json",
    "set_threads",
    "time_interleaved",
]

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

# Timing: a peer whose call is shorter than this runs several calls per round, timed together.
_ROUND_TARGET_S = 1e-3
_MAX_CALLS_PER_ROUND = 1000


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


# Threads ----------------------------------------------------------------------------------------


def set_threads(n: int) -> None:
    """``n`` threads for every peer that has a global setting: lstmcore's OpenMP loops and every
    BLAS pool (``lstmcore.set_num_threads``), and torch's intra-op pool when torch is imported.
    (ONNX Runtime takes its thread count per session: one session per count.)"""
    lstmcore.set_num_threads(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def _get_threads() -> tuple:
    torch = sys.modules.get("torch")
    return lstmcore.get_num_threads(), (torch.get_num_threads() if torch is not None else None)


def _restore_threads(saved) -> None:
    lstmcore.set_num_threads(saved[0])
    torch = sys.modules.get("torch")
    if torch is not None and saved[1] is not None:
        torch.set_num_threads(saved[1])


# Peers ------------------------------------------------------------------------------------------


def _need(peer: str, module: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PeerUnavailable(f"{peer} skipped: {module} is not installed ({exc}); {INSTALL_HINT}") from exc


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


def _stepper_step(mod, x_t, w_x, w_h, b, h0, c0, cell):
    """``step()``: one streaming step of ``x_t (B, I)`` through ``mod``'s stepper of ``cell``
    (weights packed once, state carried from ``h0`` (and the LSTM's ``c0``) (B, H), input checked
    for NaN as by default); returns the new h (B, H)."""
    stepper = getattr(mod, _API[cell][2])(w_x, w_h, b, batch_size=x_t.shape[0])
    if cell == "lstm":
        stepper.reset(h0, c0)
    else:
        stepper.reset(h0)
    return lambda: stepper.step(x_t)


def lstmcore_step(x_t, w_x, w_h, b, h0, c0=None, *, cell="lstm"):
    """lstmcore's streaming step (``lstmcore.LSTMStepper``, ``GRUStepper`` or ``RNNStepper`` for
    ``cell``; ``c0`` for the LSTM only): the S4 case, its pytest-benchmark twin and the
    equal-work check all go through here."""
    return _stepper_step(lstmcore, x_t, w_x, w_h, b, h0, c0, _check_cell(cell))


def _reference_step(x_t, w_x, w_h, b, h0, c0=None, *, cell="lstm"):
    """The reference's streaming step, the same calls as :func:`lstmcore_step`."""
    return _stepper_step(reference, x_t, w_x, w_h, b, h0, c0, _check_cell(cell))


def _functional_peer(name, mod, make_step):
    """lstmcore and the reference: the functional API of ``mod`` (lstmcore or lstmcore.reference)."""

    def build(problem, kind, threads):
        cell, x, w_x, w_h, b, dy, h0, c0 = _unpack(problem)
        forward_name, backward_name, _, state = _API[cell]
        forward, backward = getattr(mod, forward_name), getattr(mod, backward_name)
        if kind == "inference":

            def fn():
                return forward(x, w_x, w_h, b)

            def outputs():
                return dict(zip(("y", *state), fn(), strict=True))

        elif kind == "train":

            def fn():
                cache = forward(x, w_x, w_h, b, return_cache=True)[-1]
                return backward(dy, cache)

            def outputs():
                grads = fn()
                return {k: grads[k] for k in ("dx", "dw_x", "dw_h", "db")}

        else:
            x_t = np.ascontiguousarray(x[:, 0])
            fn = make_step(x_t, w_x, w_h, b, h0, c0, cell=cell)

            def outputs():
                return {"h": make_step(x_t, w_x, w_h, b, h0, c0, cell=cell)()}

        return Timed(name, kind, fn, outputs)

    return build


def _torch_module(torch, cell, I, H, w_x, w_h, b):
    """``nn.LSTM``, ``nn.GRU`` or ``nn.RNN(nonlinearity='tanh')`` (batch-first, one layer) holding
    the problem's weights (through lstmcore.layout), in the problem's dtype."""
    if cell == "lstm":
        module, weights = torch.nn.LSTM(I, H, batch_first=True), layout.to_torch(w_x, w_h, b)
    elif cell == "gru":
        module, weights = torch.nn.GRU(I, H, batch_first=True), layout.to_torch_gru(w_x, w_h, b)
    else:
        module = torch.nn.RNN(I, H, nonlinearity="tanh", batch_first=True)
        weights = layout.to_torch_rnn(w_x, w_h, b)
    module = module.to(torch.float64 if w_x.dtype == np.float64 else torch.float32)
    params = (module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, module.bias_hh_l0)
    with torch.no_grad():
        for p, a in zip(params, weights, strict=True):
            p.copy_(torch.from_numpy(a))
    return module


def _torch_weight_grads(cell, module) -> dict:
    """dw_x, dw_h, db in lstmcore's layout from a torch module's gradients. PyTorch's two biases
    enter the sum the same way, so each one's gradient is db (LSTM, RNN: b = b_ih + b_hh); the
    GRU's are kept apart (b (2, 3H) = [b_ih, b_hh]), its gates reordered r, z, n -> z, r, n."""
    grads = [p.grad.numpy() for p in (module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0)]
    if cell == "gru":
        dw_x, dw_h, db = layout.from_torch_gru(*grads, module.bias_hh_l0.grad.numpy())
        return {"dw_x": dw_x, "dw_h": dw_h, "db": db}
    return {"dw_x": grads[0].T, "dw_h": grads[1].T, "db": grads[2]}


def _torch_peer(problem, kind, threads):
    torch = _need("torch", "torch")
    cell, x, w_x, w_h, b, dy, h0, c0 = _unpack(problem)
    B, T, I = x.shape
    H = w_h.shape[0]
    module = _torch_module(torch, cell, I, H, w_x, w_h, b)
    if kind == "inference":
        xt = torch.from_numpy(x)

        def fn():
            with torch.inference_mode():
                return module(xt)

        def outputs():
            y, state = fn()
            if cell == "lstm":
                return {"y": y.numpy(), "h_n": state[0][0].numpy(), "c_n": state[1][0].numpy()}
            return {"y": y.numpy(), "h_n": state[0].numpy()}

    elif kind == "train":
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        dyt = torch.from_numpy(dy)

        def fn():
            module.zero_grad(set_to_none=True)
            xt.grad = None
            y, _ = module(xt)
            y.backward(dyt)

        def outputs():
            fn()
            return {"dx": xt.grad.numpy(), **_torch_weight_grads(cell, module)}

    else:
        x1 = torch.from_numpy(np.ascontiguousarray(x[:, :1]))  # (B, 1, I)

        def make_step():
            # the LSTM's state is (h, c), the others' h alone, each (1, B, H)
            h = torch.from_numpy(h0[None].copy())
            state = (h, torch.from_numpy(c0[None].copy())) if cell == "lstm" else h

            def step():
                nonlocal state
                with torch.inference_mode():
                    _, state = module(x1, state)
                return state[0] if cell == "lstm" else state

            return step

        fn = make_step()

        def outputs():
            return {"h": make_step()()[0].numpy()}

    return Timed("torch", kind, fn, outputs)


def _onnx_node(cell, w_x, w_h, b):
    """The ONNX operator, its attributes, the initializers W, R, B and the state names of ``cell``:
    ``LSTM`` (states h, c), ``GRU`` with ``linear_before_reset=1`` (reset_after=True) or ``RNN``
    with Tanh (state h)."""
    if cell == "lstm":
        return "LSTM", {}, layout.to_onnx(w_x, w_h, b), ("h", "c")
    if cell == "gru":
        attrs = layout.onnx_gru_attributes(reset_after=True)
        return "GRU", attrs, layout.to_onnx_gru(w_x, w_h, b), ("h",)
    return "RNN", layout.onnx_rnn_attributes(activation="tanh"), layout.to_onnx_rnn(w_x, w_h, b), ("h",)


def _onnx_session(problem, threads: int, with_state: bool, T: int):
    """An ONNX Runtime session of one ``LSTM``, ``GRU`` or ``RNN`` node (the problem's cell) with
    the problem's weights as initializers.

    Inputs X (T, B, I) and, ``with_state``, initial_h (and the LSTM's initial_c) (1, B, H);
    outputs Y (T, 1, B, H), Y_h (and Y_c) (1, B, H). ``threads`` intra-op threads, one inter-op
    thread, full graph optimisation.
    """
    onnx = _need("onnxruntime", "onnx")
    ort = _need("onnxruntime", "onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    cell, x, w_x, w_h, b, _, _, _ = _unpack(problem)
    if x.dtype != np.float32:
        raise TypeError(f"the onnxruntime peer runs float32 only, got {x.dtype}")
    B, I, H = x.shape[0], x.shape[2], w_h.shape[0]
    op, attrs, (W, R, Bo), states = _onnx_node(cell, w_x, w_h, b)
    names = ["X", "W", "R", "B"]
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, I])]
    if with_state:
        names += ["", *(f"initial_{s}" for s in states)]  # no sequence_lens
        inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, B, H]) for n in names[5:]]
    out_names = ["Y", *(f"Y_{s}" for s in states)]
    outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [T, 1, B, H])]
    outputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, B, H]) for n in out_names[1:]]
    node = helper.make_node(op, names, out_names, hidden_size=H, **attrs)
    weights = [numpy_helper.from_array(a, n) for a, n in ((W, "W"), (R, "R"), (Bo, "B"))]
    graph = helper.make_graph([node], cell, inputs, outputs, initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # opset 17's IR version, read by every ONNX Runtime since 1.13
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _onnxruntime_peer(problem, kind, threads):
    ort = _need("onnxruntime", "onnxruntime")
    cell, x, w_x, w_h, b, dy, h0, c0 = _unpack(problem)
    B, T, _ = x.shape
    H = w_h.shape[0]
    state_names = ("h", "c") if cell == "lstm" else ("h",)
    if kind == "inference":
        session = _onnx_session(problem, threads, with_state=False, T=T)
        # ONNX's recurrent nodes read X time-major (T, B, I): x is transposed once here, outside the
        # timed call, which spares this peer the transpose that lstmcore does inside its call.
        feed = {"X": np.ascontiguousarray(x.transpose(1, 0, 2))}

        def fn():
            return session.run(None, feed)

        def outputs():
            Y, *finals = fn()
            out = {"y": Y[:, 0].transpose(1, 0, 2)}
            out.update((f"{s}_n", a[0]) for s, a in zip(state_names, finals, strict=True))
            return out

    else:
        session = _onnx_session(problem, threads, with_state=True, T=1)
        x1 = np.ascontiguousarray(x[:, :1].transpose(1, 0, 2))  # (1, B, I), time-major
        initial = (h0, c0) if cell == "lstm" else (h0,)

        def make_step():
            # IOBinding with preallocated OrtValues (on the CPU they share memory with the NumPy
            # arrays). Two bindings alternate, each reading the state the other wrote, so the state
            # is carried without a copy.
            arrays_a = [s[None].copy() for s in initial]
            arrays_b = [np.empty_like(a) for a in arrays_a]
            y = np.empty((1, 1, B, H), dtype=x.dtype)
            value = ort.OrtValue.ortvalue_from_numpy
            x_v, y_v = value(x1), value(y)
            states = [[value(a) for a in arrays_a], [value(a) for a in arrays_b]]
            bindings = []
            for ins, outs in (states, states[::-1]):
                io = session.io_binding()
                io.bind_ortvalue_input("X", x_v)
                io.bind_ortvalue_output("Y", y_v)
                for s, v_in, v_out in zip(state_names, ins, outs, strict=True):
                    io.bind_ortvalue_input(f"initial_{s}", v_in)
                    io.bind_ortvalue_output(f"Y_{s}", v_out)
                bindings.append(io)
            new_h = (arrays_b[0][0], arrays_a[0][0])
            run = session.run_with_iobinding
            keep = (states, y_v, x_v)  # the OrtValues live as long as the closure
            parity = 0

            def step():
                nonlocal parity
                run(bindings[parity])
                h = new_h[parity]
                parity ^= 1
                return h

            step.keep = keep
            return step

        fn = make_step()

        def outputs():
            return {"h": make_step()().copy()}

    return Timed("onnxruntime", kind, fn, outputs)


@functools.cache
def _compiled_bound_takes_any_width() -> bool:
    """Whether the built ``lstmcore.engine._blas._gemm_only`` takes any gate width G = w_h.shape[1] (its
    source since the GRU and RNN came), or only the LSTM's 4H (an extension built before)."""
    from lstmcore.engine import _blas

    one = np.zeros((1, 1, 1))
    w = np.zeros((1, 1))
    try:
        # H = 1, G = 1: refused by a build that wants G = 4H
        _blas._gemm_only(
            False, one, w, w, one.copy(), np.zeros((2, 1, 1)), one.copy(), w.copy(), w.copy(), one.copy()
        )
    except ValueError:
        return False
    return True


def _bound_peer(problem, kind, threads):
    try:
        from lstmcore.engine import _blas
    except ImportError as exc:
        raise PeerUnavailable(f"bound skipped: lstmcore's compiled extension is missing ({exc})") from exc
    cell, x, w_x, w_h, _, _, _, _ = _unpack(problem)
    H, G = w_h.shape
    if G != 4 * H and not _compiled_bound_takes_any_width():
        raise RuntimeError(
            f"the {cell} bound needs lstmcore.engine._blas._gemm_only for {G} = {G // H}H gate columns, and "
            "this build takes the LSTM's 4H only: it is older than its source; rebuild the extension "
            "(python setup.py build_ext --inplace)"
        )
    if kind == "step":
        x = x[:, :1]  # the streaming step: its two products, T = 1
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, B, I)
    T, B, I = x_tm.shape
    rng = np.random.default_rng(1)
    # Every buffer allocated once; h and dz hold random numbers (zeros could take fast paths).
    z = np.empty((T, B, G), dtype=x.dtype)
    h = (rng.standard_normal((T + 1, B, H)) * 0.5).astype(x.dtype)
    dz = (rng.standard_normal((T, B, G)) * 0.1).astype(x.dtype)
    dw_x, dw_h = np.zeros_like(w_x), np.zeros_like(w_h)
    dx = np.empty((T, B, I), dtype=x.dtype)
    gemm = _blas._gemm_only
    signatures = getattr(gemm, "__signatures__", {})
    key = "float" if x.dtype == np.float32 else "double"
    if key in signatures:
        gemm = gemm[key]  # the specialisation itself: no fused-type dispatch in the timed call
    train = kind == "train"

    def fn():
        gemm(train, x_tm, w_x, w_h, z, h, dz, dw_x, dw_h, dx)

    return Timed("bound", kind, fn, None)


# name: (kinds, builder(problem, kind, threads) -> Timed, modules it needs)
_PEERS = {
    "lstmcore": (KINDS, _functional_peer("lstmcore", lstmcore, lstmcore_step), ()),
    "reference": (KINDS, _functional_peer("reference", reference, _reference_step), ()),
    "torch": (KINDS, _torch_peer, ("torch",)),
    "onnxruntime": (("inference", "step"), _onnxruntime_peer, ("onnxruntime", "onnx")),
    "bound": (KINDS, _bound_peer, ("lstmcore.engine._blas",)),
}
PEERS = tuple(_PEERS)


def _check_peer(name: str) -> None:
    if name not in _PEERS:
        raise ValueError(f"unknown peer {name!r}; expected one of {', '.join(PEERS)}")


def peer_kinds(name: str) -> tuple:
    """The kinds of work peer ``name`` does (ONNX Runtime has no training)."""
    _check_peer(name)
    return _PEERS[name][0]


def peer_unavailable(name: str) -> str | None:
    """None when peer ``name`` can run here, else why not (with the install command)."""
    _check_peer(name)
    for module in _PEERS[name][2]:
        try:
            _need(name, module)
        except PeerUnavailable as exc:
            return str(exc)
    return None


def make_peer(name: str, problem: dict, kind: str, threads: int = 1) -> Timed:
    """Build peer ``name`` on ``problem`` (see :func:`make_problem`) for ``kind``; ``threads`` is
    its thread count where it is set per peer (ONNX Runtime's session). Raises PeerUnavailable
    when its package is missing and ValueError for a kind it does not do."""
    _check_peer(name)
    kinds, build, _ = _PEERS[name]
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind not in kinds:
        raise ValueError(f"peer {name} has no {kind!r} kind; it does {', '.join(kinds)}")
    return build(problem, kind, threads)


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


# Timing -----------------------------------------------------------------------------------------


def _estimate(fn) -> float:
    """Warm ``fn`` up (page faults, thread pools, caches) and return a typical call's seconds."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    if first > 0.25:
        return first
    times, start = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < 0.02 and len(times) < 200):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def time_interleaved(fns: dict, seconds: float = 1.5, min_rounds: int = 5, max_rounds: int = 2000) -> dict:
    """Time the zero-argument callables ``fns`` ({name: fn}) in interleaved rounds.

    Each is warmed up first. A round runs every callable once, in an order that rotates from round
    to round, with the garbage collector off; a callable faster than about 1 ms runs a batch of
    calls, timed together and divided. Rounds go on until ``seconds`` have passed and at least
    ``min_rounds`` are done, or ``max_rounds`` are. Returns {name: stats}, seconds per call:
    median_s, min_s, q1_s, q3_s, iqr_s, rounds, calls_per_round, times_s (one per round).
    """
    if not fns:
        raise ValueError("fns must hold at least one callable, got none")
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    if min_rounds < 1 or max_rounds < min_rounds:
        raise ValueError(f"need 1 <= min_rounds <= max_rounds, got {min_rounds} and {max_rounds}")
    names = list(fns)
    calls = {}
    for name in names:
        est = _estimate(fns[name])
        calls[name] = max(1, min(_MAX_CALLS_PER_ROUND, math.ceil(_ROUND_TARGET_S / max(est, 1e-9))))
    times = {name: [] for name in names}
    clock = time.perf_counter_ns
    start = time.perf_counter()
    rounds = 0
    while rounds < min_rounds or (time.perf_counter() - start < seconds and rounds < max_rounds):
        order = names[rounds % len(names) :] + names[: rounds % len(names)]
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for name in order:
                fn, n = fns[name], calls[name]
                t0 = clock()
                for _ in range(n):
                    fn()
                times[name].append((clock() - t0) * 1e-9 / n)
        finally:
            if gc_was_enabled:
                gc.enable()
        rounds += 1
    stats = {}
    for name in names:
        t = np.asarray(times[name])
        q1, med, q3 = np.percentile(t, [25, 50, 75])
        stats[name] = {
            "median_s": float(med),
            "min_s": float(t.min()),
            "q1_s": float(q1),
            "q3_s": float(q3),
            "iqr_s": float(q3 - q1),
            "rounds": rounds,
            "calls_per_round": calls[name],
            "times_s": [float(v) for v in t],
        }
    return stats


def _ratios(peers: dict) -> dict:
    """peer/lstmcore for every peer (above 1: lstmcore is faster) and lstmcore/bound."""
    if "lstmcore" not in peers:
        return {}
    ours = peers["lstmcore"]["median_s"]
    out = {f"{name}/lstmcore": s["median_s"] / ours for name, s in peers.items() if name != "lstmcore"}
    if "bound" in peers:
        out["lstmcore/bound"] = ours / peers["bound"]["median_s"]
    return out


# Targets ----------------------------------------------------------------------------------------
# The goals live with the project, not in the installed package: bench/targets.json holds those of
# the issues that set them, read with load_targets and checked with evaluate_targets.

_OPS = (">=", "<=")


def _target_cells(entry: dict) -> tuple:
    """The cells a target entry names: its ``cell`` (a name of CELLS or a list of them); without
    one, the LSTM (the targets written before the GRU and RNN came)."""
    cells = entry.get("cell", "lstm")
    return (cells,) if isinstance(cells, str) else tuple(cells)


def _valid_cells(entry: dict) -> bool:
    cells = entry.get("cell", "lstm")
    if not isinstance(cells, (str, list)):
        return False
    cells = _target_cells(entry)
    return bool(cells) and all(isinstance(c, str) and c in CELLS for c in cells)


def _valid_threads(entry: dict) -> bool:
    n = entry.get("threads")
    return n is None or (
        isinstance(n, list) and n != [] and all(type(k) is int and k > 0 for k in n)  # noqa: E721 (no bool)
    )


def load_targets(path) -> dict:
    """Speed goals from a JSON file; ValueError naming what is wrong. The keys:

    - ``title``: str, the issues the goals come from;
    - ``ratios``: ``[{"cell", "kind", "shape", "ratio", "op", "goal", "threads"}]``, one goal on a
      ratio of the table (``"onnxruntime/lstmcore"``, ``"lstmcore/bound"``, ...). ``cell`` is a
      name of CELLS or a list of them (absent: ``"lstm"``); ``threads`` a list of the thread counts
      it holds for (absent: every count measured);
    - ``scaling`` (optional): ``{"shapes": [...], "goal": x, "cell": ...}``, lstmcore 2 threads
      against 1 (``cell`` as above);
    - ``memory`` (optional): true: the LSTM's peak memory of the training step, lstmcore <= torch.
    """
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the targets {path}: {exc}") from None
    bad = f"targets {path}"
    if not isinstance(data, dict) or not isinstance(data.get("title"), str):
        raise ValueError(f"{bad}: expected a JSON object with a 'title' string")
    for k, t in enumerate(data.get("ratios", [])):
        ok = (
            isinstance(t, dict)
            and _valid_cells(t)
            and t.get("kind") in KINDS
            and t.get("shape") in SHAPES
            and isinstance(t.get("ratio"), str)
            and t.get("op") in _OPS
            and isinstance(t.get("goal"), (int, float))
            and _valid_threads(t)
        )
        if not ok:
            raise ValueError(
                f"{bad}: ratios[{k}] must have kind in {KINDS}, shape in {tuple(SHAPES)}, a ratio name, "
                f"op in {_OPS}, a numeric goal and optionally cell (one of {CELLS} or a list of them) "
                f"and threads (a list of positive ints); got {t!r}"
            )
    scaling = data.get("scaling")
    if scaling is not None and not (
        isinstance(scaling, dict)
        and all(s in SHAPES for s in scaling.get("shapes", [None]))
        and isinstance(scaling.get("goal"), (int, float))
        and _valid_cells(scaling)
    ):
        raise ValueError(
            f"{bad}: scaling must be {{'shapes': [names of SHAPES], 'goal': number, optionally 'cell': "
            f"one of {CELLS} or a list of them}}, got {scaling!r}"
        )
    return data


def _is_standard(case) -> bool:
    name = case["shape"]
    return name in SHAPES and tuple(case["dims"]) == SHAPES[name][:4]


def _target(text, cell, case_shape, kind, threads, ratio, value, op, goal) -> dict:
    met = value >= goal if op == ">=" else value <= goal
    return {
        "target": text,
        "cell": cell,
        "shape": case_shape,
        "kind": kind,
        "threads": threads,
        "ratio": ratio,
        "value": float(value),
        "op": op,
        "goal": float(goal),
        "met": bool(met),
    }


def _memory_list(memory) -> list:
    """``memory`` of :func:`run_benchmark` (a list, one per cell) or of :func:`measure_memory`
    (one dict) as a list; None: empty."""
    if memory is None:
        return []
    return [memory] if isinstance(memory, dict) else list(memory)


def evaluate_targets(cases: list, targets: dict, memory=None, cpu_count: int | None = None) -> list:
    """The ``targets`` (:func:`load_targets`) that ``cases`` (and ``memory``) measure, each marked
    met or not.

    Only cases at the standard shapes (name and dims of SHAPES) count, of the targets' cells (a
    case without ``cell`` is an LSTM's). The scaling target (2 threads against 1, lstmcore) is
    evaluated when both counts were measured and ``cpu_count`` (when given) is at least 2; the
    memory target when ``memory`` (a dict of :func:`measure_memory` or a list of them) holds
    lstmcore and torch for the LSTM.
    """
    out = []
    std = [c for c in cases if _is_standard(c)]
    for t in targets.get("ratios", []):
        kind, shape, ratio, op, goal = t["kind"], t["shape"], t["ratio"], t["op"], t["goal"]
        cells, threads = _target_cells(t), t.get("threads")
        for case in std:
            cell = case.get("cell", "lstm")
            if (
                cell in cells
                and case["shape"] == shape
                and case["kind"] == kind
                and (threads is None or case["threads"] in threads)
                and ratio in case["ratios"]
            ):
                text = f"{cell} {shape} {kind}: {ratio} {op} {goal:g}"
                value = case["ratios"][ratio]
                out.append(_target(text, cell, shape, kind, case["threads"], ratio, value, op, goal))
    scaling = targets.get("scaling")
    if scaling and (cpu_count is None or cpu_count >= 2):
        shapes, goal, cells = scaling["shapes"], scaling["goal"], _target_cells(scaling)
        by_key = {
            (c.get("cell", "lstm"), c["shape"], c["kind"], c["threads"]): c
            for c in std
            if "lstmcore" in c["peers"]
        }
        for (cell, shape, kind, n), case in by_key.items():
            one = by_key.get((cell, shape, kind, 1))
            if cell in cells and shape in shapes and n == 2 and one is not None:
                value = one["peers"]["lstmcore"]["median_s"] / case["peers"]["lstmcore"]["median_s"]
                text = f"{cell} {shape} {kind}: lstmcore 2 threads against 1 >= {goal:g}"
                out.append(
                    _target(text, cell, shape, kind, 2, "lstmcore 1 thread/2 threads", value, ">=", goal)
                )
    for mem in _memory_list(memory) if targets.get("memory") else []:
        if mem.get("cell", "lstm") == "lstm" and {"lstmcore", "torch"} <= set(mem.get("peers", {})):
            ours = mem["peers"]["lstmcore"]["extra_mib"]
            theirs = mem["peers"]["torch"]["extra_mib"]
            shape = mem.get("shape", "S3")
            text = f"lstm {shape} train: peak memory lstmcore <= torch (MiB)"
            ratio = "peak MiB lstmcore vs torch"
            out.append(_target(text, "lstm", shape, "train", mem.get("threads"), ratio, ours, "<=", theirs))
    return out


# Peak memory ------------------------------------------------------------------------------------

_MEMORY_CHILD = (
    "import sys; from lstmcore.benchmark import _memory_child; "
    "_memory_child(sys.argv[1], *map(int, sys.argv[2:7]), sys.argv[7], sys.argv[8])"
)


def _memory_child(
    peer: str, B: int, T: int, I: int, H: int, threads: int, dtype: str, cell: str = "lstm"
) -> None:
    """In a fresh process: print, as JSON, the rise of peak RSS across one training step of
    ``peer`` on ``cell``."""
    import resource

    def peak_mib():
        # Linux: VmHWM, the peak of this process's own memory map. ru_maxrss may start at the
        # parent's peak here: when the parent spawns with vfork, the kernel records the map it
        # leaves at exec (the parent's) into the child's ru_maxrss.
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 2**10  # kB
        except OSError:
            pass
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere

    try:
        warm = make_peer(peer, make_problem(1, 2, I, H, dtype=dtype, cell=cell), "train", threads)
    except PeerUnavailable as exc:
        print(json.dumps({"skipped": str(exc)}))
        return
    set_threads(threads)
    warm.fn()  # the library's own first-call set-up, on a tiny batch, is not counted
    del warm
    timed = make_peer(peer, make_problem(B, T, I, H, dtype=dtype, cell=cell), "train", threads)
    before = peak_mib()
    timed.fn()
    after = peak_mib()
    print(json.dumps({"before_mib": before, "after_mib": after, "extra_mib": after - before}))


def measure_memory(
    dims=None,
    peers=("lstmcore", "torch", "reference"),
    threads: int = 1,
    dtype=np.float32,
    timeout=900,
    cell: str = "lstm",
) -> dict:
    """Peak extra memory (MiB) of one training step of ``cell`` per peer, each in a fresh process.

    ``dims`` (B, T, I, H), S3 by default. The child first runs one training step of the peer on a
    tiny problem (B=1, T=2), so that the library's one-time set-up is not counted, then builds the
    problem and the peer and records its peak resident set (VmHWM on Linux, else ``ru_maxrss``)
    before and after one training step: the difference is what the step itself needed at its peak.
    """
    cell = _check_cell(cell)
    name = "S3" if dims is None else "x".join(str(n) for n in dims)
    dims = SHAPES["S3"][:4] if dims is None else tuple(dims)
    _check_dims(name, dims)
    threads = _check_threads(threads)[0]
    out = {"cell": cell, "shape": name, "dims": list(dims), "threads": threads, "peers": {}, "skipped": {}}
    for peer in peers:
        if "train" not in peer_kinds(peer):
            raise ValueError(f"peer {peer} has no training step to measure")
        args = [peer, *map(str, dims), str(threads), np.dtype(dtype).name, cell]
        result = _run_child(_MEMORY_CHILD, args, f"the memory run of {peer} ({cell})", timeout)
        if "skipped" in result:
            out["skipped"][peer] = result["skipped"]
        else:
            out["peers"][peer] = result
    return out


_TIMING_CHILD = "import sys; from lstmcore.benchmark import _timing_child; _timing_child(sys.argv[1])"


def _timing_child(spec: str) -> None:
    """In a fresh process: time one peer on one case (checked against the reference first) and
    print its stats as JSON on the last line."""
    s = json.loads(spec)
    dtype = np.dtype(s["dtype"])
    problem = make_problem(*s["dims"], dtype=dtype, cell=s["cell"])
    set_threads(s["threads"])
    timed = make_peer(s["peer"], problem, s["kind"], s["threads"])
    if timed.outputs is not None and s["peer"] != "reference":
        check_equal_work(s["peer"], timed.outputs(), expected_outputs(problem, s["kind"]), dtype)
    stats = time_interleaved({s["peer"]: timed.fn}, s["seconds"], s["min_rounds"], s["max_rounds"])
    print(json.dumps(stats[s["peer"]]))


def _time_isolated(
    names, cell, dims, kind, threads, dtype, seconds, min_rounds, max_rounds, timeout=900
) -> dict:
    """Each peer of ``names`` timed on ``cell`` in a fresh process of its own, one after the other."""
    stats = {}
    for name in names:
        spec = {
            "peer": name,
            "cell": cell,
            "dims": list(dims),
            "kind": kind,
            "threads": threads,
            "dtype": np.dtype(dtype).name,
            "seconds": seconds,
            "min_rounds": min_rounds,
            "max_rounds": max_rounds,
        }
        code = _TIMING_CHILD
        if name == "torch" and peer_unavailable("torch") is None:
            # PyTorch first, so that it loads the OpenMP runtime with its own default wait policy
            # (lstmcore would load it with OMP_WAIT_POLICY=PASSIVE, see _backend): as shipped.
            code = "import torch; " + code
        stats[name] = _run_child(code, [json.dumps(spec)], f"timing {name} in a fresh process", timeout)
    return stats


def _run_child(code: str, args: list, what: str, timeout: float) -> dict:
    """Run ``code`` in a fresh interpreter with ``args`` and return the JSON of its last line of
    output. A failed equal-work check there raises EqualWorkError here; other failures
    RuntimeError naming ``what``."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        if "EqualWorkError" in last:
            raise EqualWorkError(last.split(":", 1)[-1].strip())
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# The run ----------------------------------------------------------------------------------------


def _version(module: str) -> str | None:
    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_isa() -> str:
    """The widest x86 vector extension the CPU reports: 'avx512', 'avx2' or '' (unknown)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return "avx512" if "avx512f" in flags else ("avx2" if "avx2" in flags else "")
    except OSError:
        pass
    return ""


def _scipy_blas_core(info: dict) -> str | None:
    """The kernel set of the BLAS lstmcore calls (SciPy's OpenBLAS), e.g. 'Haswell'."""
    cores = [b["corename"] for b in info["blas"] if b.get("corename") and "scipy_openblas-" in b["path"]]
    cores = cores or [b["corename"] for b in info["blas"] if b.get("corename")]
    return cores[0] if cores else None


def machine_info() -> dict:
    """The machine and software a run measured: CPU, cores, thread pools, versions, date."""
    info = lstmcore.threadpool_info()
    return {
        "cpu": _cpu_model(),
        "cpu_isa": _cpu_isa(),
        "blas_core": _scipy_blas_core(info),
        "cpu_count": cpu_count(),
        "platform": platform.platform(),
        "threadpool_info": info,
        "backend": lstmcore.backend,
        "env": {
            k: os.environ.get(k)
            for k in (
                "OMP_NUM_THREADS",
                "OMP_WAIT_POLICY",
                "GOMP_SPINCOUNT",
                "OPENBLAS_NUM_THREADS",
                "OPENBLAS_CORETYPE",
                "OPENBLAS_THREAD_TIMEOUT",
                "MKL_NUM_THREADS",
            )
        },
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": _version("scipy"),
            "lstmcore": lstmcore.__version__,
            "torch": _version("torch") if "torch" in sys.modules else None,
            "onnxruntime": _version("onnxruntime") if "onnxruntime" in sys.modules else None,
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def run_benchmark(
    shapes=None,
    kinds=KINDS,
    threads=None,
    peers=PEERS,
    *,
    cells=DEFAULT_CELLS,
    seconds: float = 1.5,
    dtype=np.float32,
    memory: bool = False,
    min_rounds: int = 5,
    max_rounds: int = 2000,
    isolate: bool = True,
    progress: Callable[[str], None] | None = None,
    targets: dict | None = None,
    peak: bool = True,
) -> dict:
    """Run the side-by-side benchmark and return its results as a JSON-ready dict.

    ``shapes``: see :func:`resolve_shapes`; ``kinds``: among KINDS (each shape runs those it
    lists); ``threads``: thread counts (default 1 and all cores); ``peers``: among PEERS (missing
    ones are skipped, see ``results['skipped']``); ``cells``: among CELLS (default
    DEFAULT_CELLS, the LSTM: every cell roughly multiplies the run's time); ``seconds``: time
    budget per case; ``memory``: also measure the S3 training step's peak memory, per cell.
    ``progress`` gets one line per case.
    ``isolate``: with more than one thread, time each peer in a fresh process of its own, one
    after the other, instead of interleaved in this one. Thread pools of different libraries in
    one process take cores from each other: measured on 2 cores, lstmcore's S2 inference on 2
    threads took 3 ms alone and 8-11 ms once an ONNX Runtime session with 2 intra-op threads
    existed in the process (its workers spin; with allow_spinning=0, 3 ms again), and ONNX
    Runtime and PyTorch lose in the same way next to each other.

    ``targets``: goals to check (:func:`load_targets`), or None.
    ``peak``: measure the GEMM peak for each thread count (:func:`measure_gemm_peak`, about half
    a second each) and give each case lstmcore's GFLOP/s and share of it (:func:`case_flops`).

    Keys: machine, settings, skipped {peer: why}, cases [{cell, shape, dims, kind, threads, peers
    {peer: stats}, ratios, gflop, lstmcore_gflops, peak_gflops, peak_share}] (shape by shape,
    then kind, cell, thread count), gemm_peak_gflops {threads: GFLOP/s}, memory (None, or one
    :func:`measure_memory` result per cell), targets (see :func:`evaluate_targets`; [] without
    ``targets``), targets_title.
    """
    table = resolve_shapes(shapes)
    kinds = _check_kinds(kinds)
    cells = _check_cells(cells)
    threads = _check_threads(threads)
    peers = list(dict.fromkeys(peers))
    for name in peers:
        _check_peer(name)
    dtype = np.dtype(dtype)
    say = progress or (lambda line: None)
    skipped, ready = {}, []
    for name in peers:
        reason = peer_unavailable(name)
        if reason is None:
            ready.append(name)
        else:
            skipped[name] = reason
            say(reason)
    peaks = {}
    if "lstmcore" in ready and peak:
        for n in threads:
            peaks[n] = measure_gemm_peak(n, dtype)
            say(f"GEMM peak with {n} thread{'s' if n > 1 else ''}: {peaks[n]:.1f} GFLOP/s")
    saved = _get_threads()
    cases = []
    try:
        for shape, (B, T, I, H, shape_kinds) in table.items():
            problems = {cell: make_problem(B, T, I, H, dtype=dtype, cell=cell) for cell in cells}
            for kind in (k for k in KINDS if k in kinds and k in shape_kinds):
                for cell in cells:
                    problem = problems[cell]
                    expected = expected_outputs(problem, kind)
                    for n in threads:
                        names = [p for p in ready if kind in peer_kinds(p)]
                        if isolate and n > 1:
                            stats = _time_isolated(
                                names, cell, (B, T, I, H), kind, n, dtype, seconds, min_rounds, max_rounds
                            )
                        else:
                            set_threads(n)
                            fns = {}
                            for name in names:
                                timed = make_peer(name, problem, kind, n)
                                if timed.outputs is not None and name != "reference":
                                    check_equal_work(name, timed.outputs(), expected, dtype)
                                fns[name] = timed.fn
                            stats = time_interleaved(fns, seconds, min_rounds, max_rounds)
                            fns = timed = None  # no session or pool of this case stays alive
                        case = {
                            "cell": cell,
                            "shape": shape,
                            "dims": [B, T, I, H],
                            "kind": kind,
                            "threads": n,
                            "peers": stats,
                            "ratios": _ratios(stats),
                        }
                        case = _with_peak_share(case, peaks.get(n))
                        cases.append(case)
                        times = ", ".join(f"{p} {_fmt_time(s['median_s'])}" for p, s in stats.items())
                        rounds = min(s["rounds"] for s in stats.values())
                        where = f"{cell} {shape} {kind}, {n} thread{'s' if n > 1 else ''}"
                        say(f"{where}: {times} ({rounds} rounds)")
    finally:
        _restore_threads(saved)
    memory_result = None
    if memory:
        mem_peers = [p for p in ("lstmcore", "torch", "reference") if p in ready]
        memory_result = []
        for cell in cells:
            say(
                f"peak memory of the {cell} S3 training step: {', '.join(mem_peers)}, each in a fresh process"
            )
            memory_result.append(measure_memory(peers=mem_peers, threads=threads[0], dtype=dtype, cell=cell))
    info = machine_info()
    checked = [] if targets is None else evaluate_targets(cases, targets, memory_result, info["cpu_count"])
    return {
        "machine": info,
        "settings": {
            "isolate": isolate,
            "cells": list(cells),
            "shapes": {k: [*v[:4], list(v[4])] for k, v in table.items()},
            "kinds": list(kinds),
            "threads": threads,
            "peers": peers,
            "seconds": seconds,
            "dtype": dtype.name,
            "min_rounds": min_rounds,
            "max_rounds": max_rounds,
        },
        "skipped": skipped,
        "cases": cases,
        "gemm_peak_gflops": {str(k): v for k, v in peaks.items()},
        "memory": memory_result,
        "targets": checked,
        "targets_title": None if targets is None else targets["title"],
    }


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


def measure_gemm_peak(threads: int, dtype=np.float32, n: int = 1536, repeats: int = 3) -> float:
    """GFLOP/s of the best of ``repeats`` products of two (n, n) matrices through SciPy's BLAS
    (the one lstmcore calls) with ``threads`` threads: the machine's measured GEMM peak that
    ``lstmcore bench`` compares each case with (DESIGN.md section 4)."""
    from scipy.linalg import blas

    gemm = blas.sgemm if np.dtype(dtype) == np.float32 else blas.dgemm
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((n, n)).astype(dtype))
    b = np.asfortranarray(rng.standard_normal((n, n)).astype(dtype))
    saved = _get_threads()
    try:
        set_threads(threads)
        gemm(1.0, a, b)  # warm-up: pools started, pages touched
        best = min(_time_once(lambda: gemm(1.0, a, b)) for _ in range(repeats))
    finally:
        _restore_threads(saved)
    return 2.0 * n**3 / best / 1e9


def _time_once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _with_peak_share(case: dict, peak_gflops: float | None) -> dict:
    """``case`` with lstmcore's GFLOP/s and share of the measured peak (None without either)."""
    gflop = case_flops(case["cell"], case["dims"], case["kind"]) / 1e9
    lc = case["peers"].get("lstmcore")
    gflops = gflop / lc["median_s"] if lc else None
    share = gflops / peak_gflops if gflops is not None and peak_gflops else None
    return dict(case, gflop=gflop, lstmcore_gflops=gflops, peak_gflops=peak_gflops, peak_share=share)


# Output -----------------------------------------------------------------------------------------


def save_json(results: dict, path) -> None:
    """Write ``results`` (from :func:`run_benchmark`) to ``path`` as JSON."""
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")


def _fmt_time(s: float) -> str:
    # three significant digits, in the unit that keeps them below 1000 (999.7 µs is 1 ms)
    if float(f"{s * 1e6:.3g}") < 1000:
        return f"{s * 1e6:.3g} µs"
    if float(f"{s * 1e3:.3g}") < 1000:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


_SHORT = {"lstmcore": "lc", "reference": "ref", "torch": "torch", "onnxruntime": "ort", "bound": "bound"}


def format_table(results: dict) -> str:
    """The results as text: one row per shape x kind x cell x threads with each peer's median time
    per call and the ratios, then the targets met and not met, the memory and the skipped peers."""
    m = results["machine"]
    v = m["versions"]
    cases = results["cases"]
    peers = [p for p in PEERS if any(p in c["peers"] for c in cases)]
    ratio_keys = [f"{p}/lstmcore" for p in peers if p not in ("lstmcore", "bound")]
    if "bound" in peers and "lstmcore" in peers:
        ratio_keys.append("lstmcore/bound")
    software = ", ".join(f"{k} {v[k]}" for k in ("lstmcore", "numpy", "torch", "onnxruntime") if v.get(k))
    isa = m.get("threadpool_info", {}).get("kernel_isa")
    kernels = f"lstmcore kernels {isa}, OpenBLAS kernels {m.get('blas_core')}"
    forced = m.get("env", {}).get("OPENBLAS_CORETYPE")
    if forced:
        kernels += f" (forced by OPENBLAS_CORETYPE={forced})"
    lines = [
        f"lstmcore bench: {m['cpu']} ({m.get('cpu_isa') or 'ISA unknown'}), {m['cpu_count']} cores, "
        f"{results['settings']['dtype']}, backend {m['backend']}; {kernels}",
        f"{software}; {m['date']}",
        "median time per call, peers interleaved"
        + (
            ""
            if not results["settings"].get("isolate")
            else " (with several threads: each in a process of its own)"
        )
        + "; ratios peer/lstmcore (above 1: lstmcore is faster) and lstmcore/bound (lc = lstmcore)",
        "",
    ]
    with_peak = any(c.get("peak_share") is not None for c in cases)
    headers = ["shape", "kind", "cell", "threads"] + peers
    headers += ["/".join(_SHORT[p] for p in k.split("/")) for k in ratio_keys]
    headers += ["lc GFLOP/s", "of peak"] if with_peak else []
    headers += ["rounds"]
    rows = []
    for c in cases:
        row = [c["shape"], c["kind"], c.get("cell", "lstm"), str(c["threads"])]
        row += [_fmt_time(c["peers"][p]["median_s"]) if p in c["peers"] else "-" for p in peers]
        row += [f"{c['ratios'][k]:.2f}" if k in c["ratios"] else "-" for k in ratio_keys]
        if with_peak:
            share = c.get("peak_share")
            row += [
                "-" if c.get("lstmcore_gflops") is None else f"{c['lstmcore_gflops']:.1f}",
                "-" if share is None else f"{100 * share:.0f}%",
            ]
        row.append(str(min((s["rounds"] for s in c["peers"].values()), default=0)))
        rows.append(row)
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    for r in [headers, *rows]:
        cols = [r[i].ljust(widths[i]) if i < 3 else r[i].rjust(widths[i]) for i in range(len(r))]
        lines.append("  ".join(cols).rstrip())
    dims = {c["shape"]: c["dims"] for c in cases}
    if dims:
        lines.append("shapes (B, T, I, H): " + ", ".join(f"{k} {tuple(d)}" for k, d in dims.items()))
    peaks = results.get("gemm_peak_gflops") or {}
    if with_peak and peaks:
        measured = ", ".join(
            f"{v:.1f} GFLOP/s with {k} thread{'s' if k != '1' else ''}" for k, v in peaks.items()
        )
        lines.append(
            "lc GFLOP/s: the products' operations (2 per multiply-add of the GEMM-only bound's products) per "
            f"second of lstmcore; of peak: its share of a large GEMM through the same BLAS ({measured})"
        )
    targets = results.get("targets") or []
    if targets:
        met = sum(t["met"] for t in targets)
        title = results.get("targets_title") or "the targets"
        lines += ["", f"targets of {title} (same thread count): {met} of {len(targets)} met"]
        for t in targets:
            mark = "met    " if t["met"] else "NOT MET"
            n = t["threads"]
            where = f"{t.get('cell', 'lstm')} {t['shape']} {t['kind']}, {n} thread{'s' if n != 1 else ''}"
            lines.append(
                f"  {mark}  {where}: {t['ratio']} = {t['value']:.3g} (goal {t['op']} {t['goal']:.3g})"
            )
    for mem in _memory_list(results.get("memory")):
        cell = mem.get("cell", "lstm")
        lines += [
            "",
            f"peak extra memory of one {cell} training step at {mem['shape']} {tuple(mem['dims'])}:",
        ]
        for p, r in mem["peers"].items():
            lines.append(f"  {p:<12}{r['extra_mib']:10.1f} MiB")
        for p, why in mem["skipped"].items():
            lines.append(f"  {p:<12} skipped: {why}")
    if results.get("skipped"):
        lines += ["", "skipped peers:"] + [f"  {why}" for why in results["skipped"].values()]
    return "\n".join(lines) + "\n"


_NEED_MATPLOTLIB = "the chart needs matplotlib: pip install 'lstmcore[plot]' (or: pip install matplotlib)"


def plot_ratios(results: dict, path) -> None:
    """Draw peer/lstmcore per case (log scale, a line at 1) to the PNG ``path``; needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_NEED_MATPLOTLIB) from exc
    cases = [c for c in results["cases"] if "lstmcore" in c["peers"]]
    labels = [f"{c.get('cell', 'lstm')} {c['shape']} {c['kind']} {c['threads']}t" for c in cases]
    others = [p for p in PEERS if p != "lstmcore" and any(p in c["peers"] for c in cases)]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(cases) + 2), 4.5))
    xs = np.arange(len(cases))
    for k, peer in enumerate(others):
        pts = [
            (i, c["peers"][peer]["median_s"] / c["peers"]["lstmcore"]["median_s"])
            for i, c in zip(xs, cases, strict=True)
            if peer in c["peers"]
        ]
        if pts:
            i, r = zip(*pts, strict=True)
            ax.plot(np.asarray(i) + (k - (len(others) - 1) / 2) * 0.08, r, "o", label=f"{peer} / lstmcore")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(xs, labels, rotation=45, ha="right")
    ax.set_ylabel("time ratio (above 1: lstmcore is faster)")
    m = results["machine"]
    ax.set_title(f"lstmcore bench: {m['cpu']}, {m['cpu_count']} cores")
    if others:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

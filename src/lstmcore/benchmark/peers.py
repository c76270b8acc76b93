"""The peers: lstmcore, the NumPy reference, PyTorch, ONNX Runtime and the GEMM-only bound, each
built as a timed call on one problem."""

import functools
import importlib

import numpy as np

import lstmcore
from lstmcore import layout, reference

from .problems import _API, INSTALL_HINT, KINDS, PeerUnavailable, Timed, _check_cell, _unpack

# Peers ------------------------------------------------------------------------------------------


def _need(peer: str, module: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PeerUnavailable(f"{peer} skipped: {module} is not installed ({exc}); {INSTALL_HINT}") from exc


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

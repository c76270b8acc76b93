"""The peers: lstmcore, the NumPy reference, PyTorch, ONNX Runtime, the GEMM-only bound,
lstmcore-full (lstmcore on a "-lengths" batch at full length), lstmcore-1t (lstmcore on one thread
beside a case of several) and gemm-peak (the GEMM peak's product, beside each case), each built as
a timed call on one problem."""

import functools
import importlib

import numpy as np

import lstmcore
from lstmcore import layout, reference

from .problems import (
    _API,
    _STACKS,
    INSTALL_HINT,
    KINDS,
    PeerDoesNotApply,
    PeerUnavailable,
    Timed,
    _check_cell,
    _check_cell_kind,
    _unpack,
    _unpack_stack,
    expected_outputs,
    full_length_problem,
    split_cell,
    stack_grads,
)
from .timing import gemm_peak_call, set_threads

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


def _variant(problem) -> str | None:
    return split_cell(problem.get("cell", "lstm"))[1]


def _stack_functional(name, mod, problem, kind) -> Timed:
    """lstmcore and the reference on a "-bi" or "-L2" problem: ``mod.stack_forward`` and
    ``mod.stack_backward``."""
    cell, L, D, x, weights, dy = _unpack_stack(problem)
    bidirectional = D == 2
    state = _API[cell][3]
    if kind == "inference":

        def fn():
            return mod.stack_forward(cell, x, weights, bidirectional=bidirectional)

        def outputs():
            return dict(zip(("y", *state), fn(), strict=True))

    else:

        def fn():
            *_, cache = mod.stack_forward(cell, x, weights, bidirectional=bidirectional, return_cache=True)
            return mod.stack_backward(dy, cache)

        def outputs():
            return stack_grads(fn())

    return Timed(name, kind, fn, outputs)


def _functional_peer(name, mod, make_step):
    """lstmcore and the reference: the functional API of ``mod`` (lstmcore or lstmcore.reference);
    a "-lengths" problem's lengths go to the forward, a stack's weights to ``stack_forward``."""

    def build(problem, kind, threads):
        if _variant(problem) in _STACKS:
            return _stack_functional(name, mod, problem, kind)
        cell, x, w_x, w_h, b, dy, h0, c0 = _unpack(problem)
        forward_name, backward_name, _, state = _API[cell]
        forward, backward = getattr(mod, forward_name), getattr(mod, backward_name)
        lengths = problem.get("lengths")
        if lengths is not None:
            forward = functools.partial(forward, lengths=lengths)
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


def _layers_problem(problem):
    """``(cell, L, D, x, weights, dy, h0, c0, lengths)`` of any problem, a one-layer problem's
    weights as a list of one tuple (h0, c0 None for "-bi" and "-L2", lengths None but for
    "-lengths")."""
    if _variant(problem) in _STACKS:
        cell, L, D, x, weights, dy = _unpack_stack(problem)
        return cell, L, D, x, weights, dy, None, None, None
    cell, x, w_x, w_h, b, dy, h0, c0 = _unpack(problem)
    return cell, 1, 1, x, [(w_x, w_h, b)], dy, h0, c0, problem.get("lengths")


_TO_TORCH = {"lstm": layout.to_torch, "gru": layout.to_torch_gru, "rnn": layout.to_torch_rnn}
_TORCH_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _torch_suffix(k: int, D: int) -> str:
    """PyTorch's name of layer-direction k (weights[k]): ``l0``, ``l0_reverse``, ``l1``, ..."""
    return f"l{k // D}" + ("_reverse" if k % D else "")


def _torch_module(torch, cell, I, H, weights, L=1, D=1):
    """``nn.LSTM``, ``nn.GRU`` or ``nn.RNN(nonlinearity='tanh')`` (batch-first, ``L`` layers,
    bidirectional when ``D`` is 2) holding ``weights``, the problem's L*D tuples (w_x, w_h, b) in
    PyTorch's order (through lstmcore.layout), in the problem's dtype."""
    options = {"num_layers": L, "bidirectional": D == 2, "batch_first": True}
    if cell == "lstm":
        module = torch.nn.LSTM(I, H, **options)
    elif cell == "gru":
        module = torch.nn.GRU(I, H, **options)
    else:
        module = torch.nn.RNN(I, H, nonlinearity="tanh", **options)
    module = module.to(torch.float64 if weights[0][0].dtype == np.float64 else torch.float32)
    with torch.no_grad():
        for k, w in enumerate(weights):
            suffix = _torch_suffix(k, D)
            params = [getattr(module, f"{n}_{suffix}") for n in _TORCH_PARAMS]
            for p, a in zip(params, _TO_TORCH[cell](*w), strict=True):
                p.copy_(torch.from_numpy(a))
    return module


def _torch_weight_grads(cell, module, suffix="l0") -> dict:
    """dw_x, dw_h, db in lstmcore's layout from a torch module's gradients of the layer-direction
    named ``suffix``. PyTorch's two biases enter the sum the same way, so each one's gradient is
    db (LSTM, RNN: b = b_ih + b_hh); the GRU's are kept apart (b (2, 3H) = [b_ih, b_hh]), its
    gates reordered r, z, n -> z, r, n."""
    grads = [getattr(module, f"{n}_{suffix}").grad.numpy() for n in _TORCH_PARAMS[:3]]
    if cell == "gru":
        b_hh = getattr(module, f"bias_hh_{suffix}").grad.numpy()
        dw_x, dw_h, db = layout.from_torch_gru(*grads, b_hh)
        return {"dw_x": dw_x, "dw_h": dw_h, "db": db}
    return {"dw_x": grads[0].T, "dw_h": grads[1].T, "db": grads[2]}


def _torch_peer(problem, kind, threads):
    torch = _need("torch", "torch")
    cell, L, D, x, weights, dy, h0, c0, lengths = _layers_problem(problem)
    B, T, I = x.shape
    H = weights[0][1].shape[0]
    module = _torch_module(torch, cell, I, H, weights, L, D)
    if lengths is None:
        run = module
    else:
        # the packed sequence is built, run and padded back inside the timed call, as a user does
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        lengths_t = torch.from_numpy(np.asarray(lengths, dtype=np.int64))

        def run(xt):
            packed = pack_padded_sequence(xt, lengths_t, batch_first=True, enforce_sorted=False)
            y, state = module(packed)
            return pad_packed_sequence(y, batch_first=True, total_length=T)[0], state

    stacked = L * D > 1
    if kind == "inference":
        xt = torch.from_numpy(x)

        def fn():
            with torch.inference_mode():
                return run(xt)

        def outputs():
            # the states are (L*D, B, H): a stack keeps them so, one layer gives (B, H)
            y, state = fn()
            states = state if cell == "lstm" else (state,)
            out = {"y": y.numpy()}
            for name, a in zip(_API[cell][3], states, strict=True):
                out[name] = a.numpy() if stacked else a[0].numpy()
            return out

    elif kind == "train":
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        dyt = torch.from_numpy(dy)

        def fn():
            module.zero_grad(set_to_none=True)
            xt.grad = None
            y, _ = run(xt)
            y.backward(dyt)

        def outputs():
            fn()
            if not stacked:
                return {"dx": xt.grad.numpy(), **_torch_weight_grads(cell, module)}
            out = {"dx": xt.grad.numpy()}
            for k in range(L * D):
                grads = _torch_weight_grads(cell, module, _torch_suffix(k, D))
                out.update({f"{name}{k}": a for name, a in grads.items()})
            return out

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


def _onnx_node(cell, weights):
    """The ONNX operator, its attributes, the initializers W, R, B and the state names of ``cell``
    for one layer in the directions of ``weights`` (a list of D tuples (w_x, w_h, b), forward
    first): ``LSTM`` (states h, c), ``GRU`` with ``linear_before_reset=1`` (reset_after=True) or
    ``RNN`` with Tanh (state h). Two directions: ``direction="bidirectional"``, each direction's
    W (1, G, I), R (1, G, H), B (1, 2G) stacked on axis 0, each with its own activations."""
    if cell == "lstm":
        op, attrs, convert, states = "LSTM", {}, layout.to_onnx, ("h", "c")
    elif cell == "gru":
        op, convert, states = "GRU", layout.to_onnx_gru, ("h",)
        attrs = layout.onnx_gru_attributes(reset_after=True)
    else:
        op, convert, states = "RNN", layout.to_onnx_rnn, ("h",)
        attrs = layout.onnx_rnn_attributes(activation="tanh")
    arrays = [convert(*w) for w in weights]
    if len(weights) == 1:
        return op, attrs, arrays[0], states
    attrs = {k: v * 2 if k == "activations" else v for k, v in attrs.items()}
    stacked = tuple(np.concatenate(parts, axis=0) for parts in zip(*arrays, strict=True))
    return op, {**attrs, "direction": "bidirectional"}, stacked, states


def _onnx_session(problem, threads: int, with_state: bool, T: int):
    """An ONNX Runtime session of the problem's cell as ONNX ``LSTM``, ``GRU`` or ``RNN`` nodes with
    the problem's weights as initializers: one node, bidirectional for "-bi", or two chained by
    a Squeeze of axis 1 (Y (T, 1, B, H) -> the next layer's X (T, B, H)) for "-L2".

    Inputs X (T, B, I), with "-lengths" sequence_lens (B,) int32, and, ``with_state`` (one layer
    only), initial_h (and the LSTM's initial_c) (1, B, H); outputs Y (T, D, B, H), Y_h (and Y_c)
    (L*D, B, H) (a stack's states joined by a Concat on axis 0). ``threads`` intra-op threads,
    one inter-op thread, full graph optimisation.
    """
    onnx = _need("onnxruntime", "onnx")
    ort = _need("onnxruntime", "onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    cell, L, D, x, weights, _, _, _, lengths = _layers_problem(problem)
    if x.dtype != np.float32:
        raise TypeError(f"the onnxruntime peer runs float32 only, got {x.dtype}")
    B, I, H = x.shape[0], x.shape[2], weights[0][1].shape[0]
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, I])]
    extra = []  # the node's inputs after X, W, R, B
    if lengths is not None:
        extra = ["sequence_lens"]
        inputs.append(helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, [B]))
    nodes, initializers, layer_states = [], [], []
    layer_in = "X"
    for layer in range(L):
        op, attrs, arrays, states = _onnx_node(cell, weights[layer * D : (layer + 1) * D])
        tag = "" if L == 1 else str(layer)
        if with_state:
            extra = ["", *(f"initial_{s}" for s in states)]  # no sequence_lens
            inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, B, H]) for n in extra[1:]]
        names = [layer_in, *(f"{n}{tag}" for n in ("W", "R", "B"))]
        initializers += [numpy_helper.from_array(a, n) for a, n in zip(arrays, names[1:], strict=True)]
        y = "Y" if layer == L - 1 else f"Y{tag}"
        outs = [y, *(f"Y_{s}{tag}" for s in states)]
        nodes.append(helper.make_node(op, names + extra, outs, hidden_size=H, **attrs))
        layer_states.append(outs[1:])
        if layer < L - 1:
            layer_in = f"X{layer + 1}"
            initializers.append(numpy_helper.from_array(np.array([1], dtype=np.int64), f"axes{layer + 1}"))
            nodes.append(helper.make_node("Squeeze", [y, f"axes{layer + 1}"], [layer_in]))
    if L > 1:
        for k, s in enumerate(states):
            parts = [outs[k] for outs in layer_states]
            nodes.append(helper.make_node("Concat", parts, [f"Y_{s}"], axis=0))
    out_names = ["Y", *(f"Y_{s}" for s in states)]
    outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [T, D, B, H])]
    outputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [L * D, B, H]) for n in out_names[1:]]
    graph = helper.make_graph(nodes, problem.get("cell", "lstm"), inputs, outputs, initializer=initializers)
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
    cell, L, D, x, weights, dy, h0, c0, lengths = _layers_problem(problem)
    B, T, _ = x.shape
    H = weights[0][1].shape[0]
    state_names = ("h", "c") if cell == "lstm" else ("h",)
    if kind == "inference":
        session = _onnx_session(problem, threads, with_state=False, T=T)
        # ONNX's recurrent nodes read X time-major (T, B, I): x is transposed once here, outside the
        # timed call, which spares this peer the transpose that lstmcore does inside its call.
        feed = {"X": np.ascontiguousarray(x.transpose(1, 0, 2))}
        if lengths is not None:
            feed["sequence_lens"] = np.asarray(lengths, dtype=np.int32)

        def fn():
            return session.run(None, feed)

        def outputs():
            # Y (T, D, B, H) -> y (B, T, D*H), the directions side by side; the states are
            # (L*D, B, H): a stack keeps them so, one layer gives (B, H)
            Y, *finals = fn()
            out = {"y": Y.transpose(2, 0, 1, 3).reshape(B, T, D * H)}
            out.update((f"{s}_n", a if L * D > 1 else a[0]) for s, a in zip(state_names, finals, strict=True))
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
    cell, L, D, x, weights, _, _, _, _ = _layers_problem(problem)
    H, G = weights[0][1].shape
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
    # The products of every layer-direction k (weights[k]), each on its own buffers, allocated once;
    # h and dz hold random numbers (zeros could take fast paths), and so does the input of layer 2
    # (T, B, D*H), which stands for layer 1's output.
    calls = []
    for k, (w_x, w_h, _) in enumerate(weights):
        if k < D:
            inputs = x_tm
        elif k % D == 0:
            inputs = (rng.standard_normal((T, B, D * H)) * 0.5).astype(x.dtype)
        z = np.empty((T, B, G), dtype=x.dtype)
        h = (rng.standard_normal((T + 1, B, H)) * 0.5).astype(x.dtype)
        dz = (rng.standard_normal((T, B, G)) * 0.1).astype(x.dtype)
        dw_x, dw_h = np.zeros_like(w_x), np.zeros_like(w_h)
        dx = np.empty(inputs.shape, dtype=x.dtype)
        calls.append((inputs, w_x, w_h, z, h, dz, dw_x, dw_h, dx))
    gemm = _blas._gemm_only
    signatures = getattr(gemm, "__signatures__", {})
    key = "float" if x.dtype == np.float32 else "double"
    if key in signatures:
        gemm = gemm[key]  # the specialisation itself: no fused-type dispatch in the timed call
    train = kind == "train"
    if len(calls) == 1:
        args = calls[0]

        def fn():
            gemm(train, *args)

    else:

        def fn():
            for args in calls:
                gemm(train, *args)

    return Timed("bound", kind, fn, None)


def _full_length_peer(problem, kind, threads):
    """lstmcore-full: lstmcore on a "-lengths" problem's batch at full length (no lengths), checked
    against the reference at full length; lstmcore/lstmcore-full is what the lengths save."""
    full = full_length_problem(problem)
    timed = _functional_peer("lstmcore-full", lstmcore, lstmcore_step)(full, kind, threads)
    timed.expected = lambda: expected_outputs(full, kind)
    return timed


def _gemm_peak_peer(problem, kind, threads):
    """gemm-peak: the product that measures the machine's GEMM peak (timing.gemm_peak_call),
    timed beside the case's peers on its thread count, so that lstmcore's share of the peak
    compares two times of the same moment (a shared machine's speed drifts within a run)."""
    fn, _ = gemm_peak_call(problem["x"].dtype)
    return Timed("gemm-peak", kind, fn, None)


# lstmcore-1t: lstmcore itself, on one thread (peer_switches), beside a case of several threads:
# the scaling goals compare two times of the same moment.
_lstmcore_1t_peer = _functional_peer("lstmcore-1t", lstmcore, lstmcore_step)


def peer_switches(names, threads: int) -> dict:
    """{peer: (enter, leave)} around the timed calls of those of ``names`` that run on another
    thread count than the case's ``threads`` (the process's): lstmcore-1t's switch to one thread
    and back (time_interleaved's ``switch``)."""
    return {
        name: ((lambda: set_threads(1)), (lambda: set_threads(threads)))
        for name in names
        if name == "lstmcore-1t"
    }


# name: (kinds, builder(problem, kind, threads) -> Timed, modules it needs)
_PEERS = {
    "lstmcore": (KINDS, _functional_peer("lstmcore", lstmcore, lstmcore_step), ()),
    "reference": (KINDS, _functional_peer("reference", reference, _reference_step), ()),
    "torch": (KINDS, _torch_peer, ("torch",)),
    "onnxruntime": (("inference", "step"), _onnxruntime_peer, ("onnxruntime", "onnx")),
    "bound": (KINDS, _bound_peer, ("lstmcore.engine._blas",)),
    "lstmcore-full": (("inference", "train"), _full_length_peer, ()),
    "lstmcore-1t": (KINDS, _lstmcore_1t_peer, ()),
    "gemm-peak": (KINDS, _gemm_peak_peer, ("scipy.linalg",)),
}
PEERS = tuple(_PEERS)


def _check_peer(name: str) -> None:
    if name not in _PEERS:
        raise ValueError(f"unknown peer {name!r}; expected one of {', '.join(PEERS)}")


def peer_kinds(name: str) -> tuple:
    """The kinds of work peer ``name`` does (ONNX Runtime has no training)."""
    _check_peer(name)
    return _PEERS[name][0]


def peer_applies(name: str, cell: str) -> str | None:
    """None when peer ``name`` has work to time on ``cell``, else why not: lstmcore-full times
    the "-lengths" cells only, the GEMM-only bound all cells but those (a batch of lengths has no
    products of its own to bound it: they shrink with the rows still running)."""
    _check_peer(name)
    variant = split_cell(cell)[1]
    if name == "lstmcore-full" and variant != "lengths":
        return f"lstmcore-full does not apply to {cell}: it times the -lengths cells at full length"
    if name == "bound" and variant == "lengths":
        return f"bound does not apply to {cell}: the GEMM-only bound times full-length batches"
    return None


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
    when its package is missing, PeerDoesNotApply when it has nothing to time on the problem's
    cell (:func:`peer_applies`) and ValueError for a kind it or the cell does not have."""
    _check_peer(name)
    kinds, build, _ = _PEERS[name]
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind not in kinds:
        raise ValueError(f"peer {name} has no {kind!r} kind; it does {', '.join(kinds)}")
    cell = _check_cell(problem.get("cell", "lstm"))
    why = peer_applies(name, cell)
    if why is not None:
        raise PeerDoesNotApply(why)
    _check_cell_kind(cell, kind)
    return build(problem, kind, threads)

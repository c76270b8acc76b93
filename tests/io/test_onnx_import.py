"""``lstmcore.load_model("m.onnx")``: ONNX graphs run by lstmcore.io.onnx_import, against ONNX Runtime.

Graphs come from ``torch.onnx.export`` (the TorchScript exporter, ``dynamo=False``, and the dynamo
exporter, which needs onnxscript), from Keras 3's ``model.export(format="onnx")`` on the torch
backend, from ``onnx.helper`` / ``onnx.parser`` by hand (every recurrent attribute, sequence_lens,
initial states, the operators around the recurrent nodes in old and new opsets) and from the onnx
package's own LSTM, GRU and RNN node cases. Each is loaded with ``lstmcore.load_model`` and compared
with ONNX Runtime on several batch sizes and lengths, within float32's rtol 1e-5 (atol 1e-6 for
values near zero).

Then the files lstmcore must refuse, each with a ValueError that says why, in bounded memory,
running no code and writing nothing: not ONNX, truncated, corrupt, a cycle, dangling names, huge
declared tensors, external data outside the model's folder, and operators or attributes the engine
cannot run (named with the node).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pickle
import sys
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from helpers import assert_close

import lstmcore
from lstmcore.io import onnx_import

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper, parser  # noqa: E402 - after the importorskip

RTOL, ATOL = 1e-5, 1e-6


def assert_matches(got, want, name="output"):
    """float32 outputs equal within rtol 1e-5 (atol 1e-6); the message names the largest diff
    and the first mismatch."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != {want.dtype}"
    ok = np.isclose(got, want, rtol=RTOL, atol=ATOL) | ((got == want) & ~np.isnan(want))
    if not ok.all():
        diff = np.abs(got.astype(np.float64) - want)
        first = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise AssertionError(
            f"{name}: {int((~ok).sum())} of {ok.size} differ; largest abs diff {diff.max():.3e}; "
            f"first at {first}: {got[first]!r} vs {want[first]!r}"
        )


def _session(path):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])


def _save(model, path) -> str:
    onnx.save(model, os.fspath(path))
    return os.fspath(path)


def compare_with_runtime(path, feeds_list) -> lstmcore.io.onnx_import.OnnxModel:
    """Load ``path`` with lstmcore and check every output against ONNX Runtime for each feeds dict."""
    model = lstmcore.load_model(path)
    assert isinstance(model, onnx_import.OnnxModel)
    session = _session(path)
    names = [o.name for o in session.get_outputs()]
    assert model.outputs == names
    for feeds in feeds_list:
        want = session.run(None, feeds)
        got = model.predict(feeds)
        got = got if isinstance(got, list) else [got]
        assert len(got) == len(want)
        for name, g, w in zip(names, got, want, strict=True):
            shapes = {k: v.shape for k, v in feeds.items()}
            assert_matches(g, w, f"{os.path.basename(path)} {name} for {shapes}")
    return model


# torch.onnx.export ------------------------------------------------------------------------------

I, H, O = 3, 5, 4


def _torch_model(torch, cell, L, bidirectional, batch_first, out="seq", nonlinearity="tanh"):
    """An ``nn.LSTM``/``nn.GRU``/``nn.RNN`` then ``nn.Linear`` and an activation; ``out`` "seq"
    (every step), "last" (the last step) or "state" (the head on the last layer's h_n, and h_n)."""
    nn = torch.nn
    D = 2 if bidirectional else 1

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            kw = {"nonlinearity": nonlinearity} if cell == "RNN" else {}
            self.rnn = getattr(nn, cell)(
                I, H, num_layers=L, bidirectional=bidirectional, batch_first=batch_first, **kw
            )
            self.head = nn.Sequential(nn.Linear(D * H, O), nn.Tanh() if out == "state" else nn.ReLU())

        def forward(self, x):
            y, state = self.rnn(x)
            if out == "seq":
                return self.head(y)
            if out == "last":
                return self.head(y[:, -1] if batch_first else y[-1])
            h = state[0] if isinstance(state, tuple) else state
            return self.head(torch.cat([h[-2], h[-1]], -1) if bidirectional else h[-1]), h

    torch.manual_seed(L + 10 * bidirectional)
    return Net().eval()


def _export(torch, module, args, path, *, dynamo, names, dynamic):
    """``torch.onnx.export`` with free axes ``dynamic`` ({input: {axis: name}}); quiet."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            dims = {}
            shapes = {}
            for name in names:
                axes = dynamic.get(name, {})
                shapes[name] = {a: dims.setdefault(n, torch.export.Dim(n, min=2)) for a, n in axes.items()}
            torch.onnx.export(
                module, args, path, dynamo=True, input_names=names, dynamic_shapes=shapes, verbose=False
            )
        else:
            torch.onnx.export(module, args, path, dynamo=False, input_names=names, dynamic_axes=dynamic)
    return os.fspath(path)


def _batches(model, batch_first, sizes=((1, 2), (3, 7), (2, 4))):
    """Inputs (B, T, I) or (T, B, I) for each (B, T), keeping the axes the file fixes."""
    rng = np.random.default_rng(1)
    shape = model.input_shape
    t_axis = 1 if batch_first else 0
    feeds = []
    for B, T in sizes:
        B = shape[1 - t_axis] or B
        T = shape[t_axis] or T
        x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(np.float32)
        feeds.append({model.inputs[0]: x})
    return feeds


TORCH_CASES = [
    # cell, num_layers, bidirectional, batch_first, out, nonlinearity
    ("LSTM", 1, False, True, "seq", "tanh"),
    ("LSTM", 2, True, False, "seq", "tanh"),
    ("LSTM", 3, True, True, "last", "tanh"),
    ("LSTM", 2, False, False, "state", "tanh"),
    ("GRU", 1, True, True, "seq", "tanh"),
    ("GRU", 2, False, False, "last", "tanh"),
    ("GRU", 3, True, True, "state", "tanh"),
    ("RNN", 1, False, False, "seq", "tanh"),
    ("RNN", 2, True, True, "seq", "relu"),
    ("RNN", 3, False, True, "state", "relu"),
]


def _case_id(case):
    cell, L, bi, bf, out, nl = case
    return f"{cell}{'-relu' if nl == 'relu' else ''}-L{L}{'-bi' if bi else ''}-{'bf' if bf else 'tm'}-{out}"


def _torch_exported(tmp_path, case, dynamo):
    torch = pytest.importorskip("torch")
    cell, L, bi, bf, out, nl = case
    module = _torch_model(torch, cell, L, bi, bf, out, nl)
    x = torch.randn(2, 4, I) if bf else torch.randn(4, 2, I)
    dynamic = {"x": {0: "B", 1: "T"} if bf else {0: "T", 1: "B"}}
    path = _export(torch, module, (x,), tmp_path / "m.onnx", dynamo=dynamo, names=["x"], dynamic=dynamic)
    return torch, module, path


@pytest.mark.parametrize("case", TORCH_CASES, ids=_case_id)
def test_torch_script_exporter(tmp_path, case):
    """The TorchScript exporter (dynamo=False): shape arithmetic, zero initial states made from
    Shape/ConstantOfShape, one recurrent node per layer, then MatMul/Add or Gemm."""
    torch, module, path = _torch_exported(tmp_path, case, dynamo=False)
    model = lstmcore.load_model(path)
    feeds = _batches(model, case[3])
    compare_with_runtime(path, feeds)
    with torch.no_grad():  # and torch itself
        want = module(torch.from_numpy(feeds[1]["x"]))
    got = model.predict(feeds[1]["x"])
    for g, w in zip(
        got if isinstance(got, list) else [got], want if isinstance(want, tuple) else [want], strict=True
    ):
        assert_close(g, w.numpy(), np.float32, name="against torch")


DYNAMO_CASES = [TORCH_CASES[1], TORCH_CASES[4], TORCH_CASES[8]]


@pytest.mark.slow  # some seconds per export
@pytest.mark.parametrize("case", DYNAMO_CASES, ids=_case_id)
def test_torch_dynamo_exporter(tmp_path, case):
    """The dynamo exporter (dynamo=True; needs onnxscript): the weights in an external data file
    beside the model, fixed axes where torch.export specialised them."""
    pytest.importorskip("onnxscript")
    _, _, path = _torch_exported(tmp_path, case, dynamo=True)
    model = lstmcore.load_model(path)
    if case[3]:  # time-major graphs keep T of the example: the exporter bakes it into a Reshape
        feeds = _batches(model, case[3])
    else:
        feeds = _batches(model, case[3], sizes=((1, 4), (3, 4)))
    compare_with_runtime(path, feeds)


ACTIVATIONS = (
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "ELU",
    "SELU",
    "CELU",
    "GELU",
    "SiLU",
    "Mish",
    "Softplus",
    "Softsign",
    "Hardtanh",
    "ReLU6",
    "Hardsigmoid",
    "Hardswish",
    "PReLU",
)


@pytest.mark.parametrize(
    "dynamo", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["torchscript", "dynamo"]
)
def test_torch_heads_with_every_activation(tmp_path, dynamo):
    """One export whose LSTM feeds a Linear and each torch activation (and GELU's tanh form,
    Softmax, LogSoftmax), joined on the last axis."""
    torch = pytest.importorskip("torch")
    if dynamo:
        pytest.importorskip("onnxscript")
    nn = torch.nn

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(I, H, batch_first=True)
            self.lin = nn.Linear(H, O)
            self.acts = nn.ModuleList(
                [getattr(nn, a)() for a in ACTIVATIONS] + [nn.GELU("tanh"), nn.Softmax(-1), nn.LogSoftmax(-1)]
            )

        def forward(self, x):
            z = self.lin(self.rnn(x)[0]) * 3
            return torch.cat([a(z) for a in self.acts], -1)

    torch.manual_seed(0)
    module = Heads().eval()
    path = _export(
        torch,
        module,
        (torch.randn(2, 4, I),),
        tmp_path / "heads.onnx",
        dynamo=dynamo,
        names=["x"],
        dynamic={"x": {0: "B", 1: "T"}},
    )
    model = lstmcore.load_model(path)
    compare_with_runtime(path, _batches(model, True))


def test_torch_packed_sequences_and_initial_states(tmp_path):
    """pack_padded_sequence (unsorted lengths) and initial states as inputs: the exporter's TopK,
    ScatterElements and Gather around an LSTM with sequence_lens, initial_h and initial_c."""
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class Packed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=True)

        def forward(self, x, lengths, h0, c0):
            p = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            y, (h, c) = self.rnn(p, (h0, c0))
            return pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])[0], h, c

    torch.manual_seed(0)
    module = Packed().eval()
    args = (torch.randn(3, 6, I), torch.tensor([6, 2, 4]), torch.randn(4, 3, H), torch.randn(4, 3, H))
    names = ["x", "lengths", "h0", "c0"]
    dynamic = {"x": {0: "B", 1: "T"}, "lengths": {0: "B"}, "h0": {1: "B"}, "c0": {1: "B"}}
    path = _export(torch, module, args, tmp_path / "packed.onnx", dynamo=False, names=names, dynamic=dynamic)
    rng = np.random.default_rng(2)
    feeds = []
    for lengths in ([7, 1, 3, 5], [2], [4, 4]):
        B, T = len(lengths), max(lengths)
        feeds.append(
            {
                "x": rng.standard_normal((B, T, I)).astype(np.float32),
                "lengths": np.array(lengths, np.int64),
                "h0": rng.standard_normal((4, B, H)).astype(np.float32),
                "c0": rng.standard_normal((4, B, H)).astype(np.float32),
            }
        )
    model = compare_with_runtime(path, feeds)
    with torch.no_grad():
        want = module(*(torch.from_numpy(v) for v in feeds[0].values()))
    for g, w in zip(model.predict(feeds[0]), want, strict=True):
        assert_close(g, w.numpy(), np.float32, name="against torch")


# Keras 3 ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"Keras's ONNX export is checked on its torch backend, got {keras.backend.backend()}")
    return keras


def test_keras_export(tmp_path, keras):
    """Keras 3's model.export(format="onnx") on the torch backend traces the layers' Python loop:
    the file holds the steps unrolled for the traced length (one step when the time axis is None),
    no recurrent node, and ONNX Runtime runs it for that length only. lstmcore runs what the file
    says, as ONNX Runtime does, and matches Keras at the traced length."""
    layers = keras.layers
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(3)
    model = keras.Sequential(
        [
            keras.Input((None, I)),
            layers.LSTM(H, return_sequences=True),
            layers.GRU(4, return_sequences=True),
            layers.SimpleRNN(4),
            layers.Dense(O, activation="softmax"),
        ]
    )
    model(np.zeros((1, 1, I), np.float32))
    path = os.fspath(tmp_path / "keras.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.export(path, format="onnx", verbose=False)
    graph = onnx.load(path).graph
    ops = {n.op_type for n in graph.node}
    assert not ops & {"LSTM", "GRU", "RNN"}, ops
    name = graph.input[0].name
    feeds = [{name: rng.standard_normal((B, T, I)).astype(np.float32)} for B, T in ((1, 1), (5, 1), (2, 3))]
    ours = compare_with_runtime(path, feeds)
    x = feeds[1][name]
    with warnings.catch_warnings():  # Keras's torch backend warns about NumPy 2's __array__
        warnings.simplefilter("ignore", DeprecationWarning)
        want = np.asarray(model.predict(x, verbose=0))
    assert_close(ours.predict(x), want, np.float32, name="against Keras")


# Hand-built graphs ------------------------------------------------------------------------------

K = {"LSTM": 4, "GRU": 3, "RNN": 1}
ROLES = {
    "LSTM": ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"),
    "GRU": ("X", "W", "R", "B", "sequence_lens", "initial_h"),
    "RNN": ("X", "W", "R", "B", "sequence_lens", "initial_h"),
}
OUTPUTS = {"LSTM": ("Y", "Y_h", "Y_c"), "GRU": ("Y", "Y_h"), "RNN": ("Y", "Y_h")}

# op, attributes, optional inputs
NODE_CASES = {
    "lstm_all_inputs": ("LSTM", {}, ("B", "sequence_lens", "initial_h", "initial_c")),
    "lstm_reverse_peepholes": ("LSTM", {"direction": "reverse"}, ("B", "sequence_lens", "initial_h", "P")),
    "lstm_bidirectional_activations": (
        "LSTM",
        {
            "direction": "bidirectional",
            "activations": ["Sigmoid", "Tanh", "Tanh", "HardSigmoid", "LeakyRelu", "Softsign"],
            "activation_alpha": [0.3, 0.2],
            "activation_beta": [0.4],
        },
        ("B", "sequence_lens", "initial_h", "initial_c"),
    ),
    "lstm_clip_input_forget": (
        "LSTM",
        {"clip": 0.8, "input_forget": 1, "direction": "bidirectional"},
        ("B", "sequence_lens", "initial_c", "P"),
    ),
    "lstm_no_bias": ("LSTM", {"activations": ["Sigmoid", "Elu", "Relu"], "activation_alpha": [0.7]}, ()),
    "gru_default": ("GRU", {}, ("B", "sequence_lens", "initial_h")),
    "gru_linear_before_reset_bidirectional": (
        "GRU",
        {"linear_before_reset": 1, "direction": "bidirectional"},
        ("B", "sequence_lens", "initial_h"),
    ),
    "gru_reverse_activations": (
        "GRU",
        {"direction": "reverse", "activations": ["HardSigmoid", "Softplus"]},
        ("B", "sequence_lens"),
    ),
    "rnn_relu_bidirectional": (
        "RNN",
        {"direction": "bidirectional", "activations": ["Relu", "Tanh"]},
        ("B", "sequence_lens", "initial_h"),
    ),
    "rnn_reverse_affine": (
        "RNN",
        {
            "direction": "reverse",
            "activations": ["Affine"],
            "activation_alpha": [0.6],
            "activation_beta": [0.1],
        },
        ("B", "initial_h"),
    ),
}


def _recurrent_graph(op, attributes, given, rng, opset=14):
    """x (B, T, I) -> Transpose -> the node (weights as initializers; sequence_lens and initial
    states as inputs) -> its outputs, and a head: Y -> (B, T, D*H) -> MatMul, Add, Softmax."""
    D = 2 if attributes.get("direction") == "bidirectional" else 1
    G = K[op] * H

    def init(name, scale, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [
        init("W", 0.5, D, G, I),
        init("R", 0.4, D, G, H),
        init("w_out", 0.5, D * H, O),
        init("b_out", 0.1, O),
    ]
    if "B" in given:
        inits.append(init("B", 0.3, D, 2 * G))
    if "P" in given:
        inits.append(init("P", 0.5, D, 3 * H))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", "T", I])]
    if "sequence_lens" in given:
        inputs.append(helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, ["B"]))
    for state in ("initial_h", "initial_c"):
        if state in given:
            inputs.append(helper.make_tensor_value_info(state, TensorProto.FLOAT, [D, "B", H]))
    roles = ROLES[op]
    last = max(roles.index(r) for r in ("X", "W", "R", *given))
    names = ["xt" if r == "X" else (r if r in given or r in ("W", "R") else "") for r in roles[: last + 1]]
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        helper.make_node(op, names, list(OUTPUTS[op]), hidden_size=H, **attributes),
        helper.make_node("Transpose", ["Y"], ["yb"], perm=[2, 0, 1, 3]),
        helper.make_node(
            "Constant", [], ["shape"], value=numpy_helper.from_array(np.array([0, 0, -1], np.int64))
        ),
        helper.make_node("Reshape", ["yb", "shape"], ["yr"]),
        helper.make_node("MatMul", ["yr", "w_out"], ["z"]),
        helper.make_node("Add", ["z", "b_out"], ["za"]),
        helper.make_node("Softmax", ["za"], ["probs"], axis=-1),
    ]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in (*OUTPUTS[op], "probs")]
    graph = helper.make_graph(nodes, op, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model, D


def _recurrent_feeds(given, D, rng):
    feeds = []
    for B, T in ((1, 1), (4, 6), (3, 9)):
        f = {"x": rng.standard_normal((B, T, I)).astype(np.float32)}
        if "sequence_lens" in given:  # one empty row (ONNX Runtime: all zeros), one full
            lens = rng.integers(0, T + 1, B)
            lens[0] = T
            lens[-1] = 0 if B > 1 else lens[-1]
            f["sequence_lens"] = lens.astype(np.int32)
        for state in ("initial_h", "initial_c"):
            if state in given:
                f[state] = rng.standard_normal((D, B, H)).astype(np.float32)
        feeds.append(f)
    return feeds


@pytest.mark.parametrize("case", sorted(NODE_CASES))
def test_recurrent_node_graphs(tmp_path, case, rng):
    op, attributes, given = NODE_CASES[case]
    model, D = _recurrent_graph(op, attributes, given, rng)
    path = _save(model, tmp_path / f"{case}.onnx")
    compare_with_runtime(path, _recurrent_feeds(given, D, rng))


def test_recurrent_nodes_run_in_the_engine(tmp_path, rng, monkeypatch):
    """Each direction of each recurrent node is one call of the engine's forward, never a loop over
    time in NumPy; weights are converted once, at load."""
    model, _ = _recurrent_graph("GRU", {"direction": "bidirectional"}, ("B",), rng)
    loaded = lstmcore.load_model(_save(model, tmp_path / "gru.onnx"))
    calls = []
    engine = lstmcore.gru_forward

    def counting(*args, **kwargs):
        calls.append(kwargs.get("reverse", False))
        return engine(*args, **kwargs)

    monkeypatch.setattr(lstmcore, "gru_forward", counting)
    monkeypatch.setattr(onnx_import.layout, "from_onnx_gru", None)  # not called again
    loaded.predict(rng.standard_normal((2, 50, I)).astype(np.float32))
    assert calls == [False, True]


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_layout_1_against_the_reference_evaluator(tmp_path, op, rng):
    """layout=1 (batch-first X, Y, states): ONNX Runtime refuses it, the onnx package's reference
    evaluator runs it."""
    from onnx.reference import ReferenceEvaluator

    G = K[op] * H
    attributes = {"layout": 1, **({"linear_before_reset": 1} if op == "GRU" else {})}
    roles = ["X", "W", "R", "B", "", "initial_h"]
    node = helper.make_node(op, roles, list(OUTPUTS[op]), hidden_size=H, **attributes)
    shapes = {"X": ["B", "T", I], "W": [1, G, I], "R": [1, G, H], "B": [1, 2 * G], "initial_h": ["B", 1, H]}
    graph = helper.make_graph(
        [node],
        op,
        [helper.make_tensor_value_info(r, TensorProto.FLOAT, s) for r, s in shapes.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in OUTPUTS[op]],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    ours = lstmcore.load_model(_save(model, tmp_path / "layout1.onnx"))
    for B, T in ((1, 3), (4, 5)):
        feeds = {
            "X": rng.standard_normal((B, T, I)).astype(np.float32),
            "W": (rng.standard_normal((1, G, I)) * 0.5).astype(np.float32),
            "R": (rng.standard_normal((1, G, H)) * 0.4).astype(np.float32),
            "B": (rng.standard_normal((1, 2 * G)) * 0.3).astype(np.float32),
            "initial_h": rng.standard_normal((B, 1, H)).astype(np.float32),
        }
        want = ReferenceEvaluator(model).run(None, feeds)
        for name, g, w in zip(OUTPUTS[op], ours.predict(feeds), want, strict=True):
            assert_close(g, w, np.float32, name=f"{op} {name}")


def _ops_model(text: str, initializers: dict, ir_version: int):
    model = parser.parse_model(text)
    model.ir_version = ir_version
    model.graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in initializers.items())
    return model


# Opset 20: inputs for axes, Split's num_outputs, Gelu, the activations, shape arithmetic.
OPS_NEW = """
<ir_version: 9, opset_import: ["" : 20]>
ops (float[B, T, 4] x) => (float[N, 5] gemm, float[M, 3] gemm_t, float[B, T, 2] s0, float[B, T, 2] s1,
                            float[B, T, 1] s2, float[B, T, 3] s3, float[B, T, 4] rev, float[B, T, 2] odd,
                            float[B, 4] last, float[B, T, 4] expanded, float[B, T, 4] cast_back,
                            float[B, T, 4] where, float[B, 4] mean_t, float[B, T, 1] sum_f,
                            float[B, T, 4] smax, float[B, T, 4] lsmax, float[B, T, 4] squeezed,
                            float[B, T, 4] dropped, bool[B, T, 4] mask, float[B, 8] tiled, float[B] range,
                            float[B, T, 4] normed,
                            float[B, T, 2] top, int64[B, T, 2] top_i, float[B, T, 60] acts, int64[B, T] amax,
                            int64[B, T, 4] idiv, float[B, T, 4] mixed, float[B, T, 4] clipped,
                            bool[B, T, 4] logic, float[B, T, 4] scattered, float[B, 4, T] gathered_e,
                            float[B, T, 4] prelu, int64[3] shape_x, int64[1] shape_tail, int64 size,
                            float[B, T, 4] cum, float[B, T, 4] shrunk, float[B, U, 4] padded,
                            float[B, T, 7] padded_edge) {
    flat = Flatten <axis = 2> (x)
    gemm = Gemm <alpha = 0.5, beta = 2.0, transB = 1> (flat, w_g, b_g)
    flat_t = Transpose <perm = [1, 0]> (flat)
    gemm_t = Gemm <transA = 1> (flat_t, w_g2)
    s0, s1 = Split <axis = 2, num_outputs = 2> (x)
    s2, s3 = Split <axis = -1> (x, sizes)
    rev = Slice (x, minus_one, very_negative, one, minus_one)
    odd = Slice (x, one, big, two, two)
    last = Gather <axis = 1> (x, minus_one_scalar)
    shape_x = Shape (x)
    shape_tail = Shape <start = -1> (x)
    size = Size (x)
    bias_e = Expand (b_e, shape_x)
    filled = ConstantOfShape <value = float[1] {1.5}> (shape_x)
    expanded = Add (bias_e, filled)
    x3 = Mul (x, three)
    fl = Floor (x3)
    as_int = Cast <to = 6> (fl)
    cast_back = Cast <to = 1> (as_int)
    pos = Greater (x, zero)
    tenth = Mul (x, point_one)
    where = Where (pos, x, tenth)
    mean_t = ReduceMean <keepdims = 0> (x, one)
    sum_f = ReduceSum <keepdims = 1> (x, minus_one)
    smax = Softmax <axis = 1> (x)
    lsmax = LogSoftmax (x)
    unsq = Unsqueeze (x, zero_and_last)
    squeezed = Squeeze (unsq, zero_and_last)
    dropped, mask = Dropout (x, ratio)
    tiled = Tile (last, repeats)
    b_dim = Gather (shape_x, zero_scalar)
    range_i = Range (zero_scalar, b_dim, one_scalar)
    range = Cast <to = 1> (range_i)
    normed = LayerNormalization <axis = -1, epsilon = 0.001> (x, ln_scale, ln_bias)
    top, top_i = TopK <axis = -1> (x, two)
    a1 = Relu (x3)
    a2 = Sigmoid (x3)
    a3 = Tanh (x3)
    a4 = LeakyRelu <alpha = 0.2> (x3)
    a5 = Elu <alpha = 0.7> (x3)
    a6 = Selu (x3)
    a7 = Celu <alpha = 0.5> (x3)
    a8 = HardSigmoid <alpha = 0.3, beta = 0.4> (x3)
    a9 = HardSwish (x3)
    a10 = Softplus (x3)
    a11 = Softsign (x3)
    a12 = Mish (x3)
    a13 = ThresholdedRelu <alpha = 0.5> (x3)
    a14 = Gelu (x3)
    a15 = Gelu <approximate = "tanh"> (x3)
    acts = Concat <axis = -1> (a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15)
    amax = ArgMax <axis = -1, keepdims = 0> (x)
    idiv = Div (as_int64, three_i)
    as_int64 = Cast <to = 7> (fl)
    e = Exp (x)
    l = Log (e)
    ab = Abs (x)
    sq = Sqrt (ab)
    pw = Pow (x, two_f)
    ng = Neg (pw)
    den = Add (pw, one_f)
    rc = Reciprocal (den)
    er = Erf (x)
    sg = Sign (x)
    m1 = Max (l, sq, ng)
    m2 = Min (rc, er)
    m3 = Sum (m1, m2, sg)
    m4 = Mean (m3, x)
    dv = Div (m4, den)
    mixed = Sub (dv, ab)
    clipped = Clip (x, minus_half, half)
    neg = Less (x, zero)
    eq = Equal (as_int, zero_i)
    both = And (neg, eq)
    nb = Not (both)
    logic = Or (nb, pos)
    scattered = ScatterElements <axis = 2> (x, scatter_idx, scatter_upd)
    xt = Transpose <perm = [0, 2, 1]> (x)
    idx_e = Expand (zero_i64, shape_e)
    shape_e = Shape (xt)
    gathered_e = GatherElements <axis = 2> (xt, idx_e)
    prelu = PRelu (x, slope)
    cum = CumSum <exclusive = 1, reverse = 1> (x, one_scalar)
    shrunk = Shrink <lambd = 0.3, bias = 0.1> (x)
    padded = Pad (x, pads, pad_value)
    padded_edge = Pad <mode = "edge"> (x, pads_edge)
}
"""


def _new_ops_initializers(rng):
    f = np.float32
    return {
        "w_g": rng.standard_normal((5, 4)).astype(f),
        "b_g": rng.standard_normal(5).astype(f),
        "w_g2": rng.standard_normal((4, 3)).astype(f),
        "sizes": np.array([1, 3], np.int64),
        "minus_one": np.array([-1], np.int64),
        "minus_one_scalar": np.array(-1, np.int64),
        "very_negative": np.array([-(2**62)], np.int64),
        "one": np.array([1], np.int64),
        "two": np.array([2], np.int64),
        "big": np.array([2**62], np.int64),
        "b_e": rng.standard_normal(4).astype(f),
        "three": np.array(3, f),
        "zero": np.array(0, f),
        "point_one": np.array(0.1, f),
        "zero_and_last": np.array([0, -1], np.int64),
        "ratio": np.array(0.3, f),
        "repeats": np.array([1, 2], np.int64),
        "zero_scalar": np.array(0, np.int64),
        "one_scalar": np.array(1, np.int64),
        "ln_scale": rng.standard_normal(4).astype(f),
        "ln_bias": rng.standard_normal(4).astype(f),
        "three_i": np.array(3, np.int64),
        "two_f": np.array(2, f),
        "one_f": np.array(1, f),
        "minus_half": np.array(-0.5, f),
        "half": np.array(0.5, f),
        "zero_i": np.array(0, np.int32),
        "zero_i64": np.array(0, np.int64),
        "scatter_idx": np.zeros((1, 1, 1), np.int64),
        "scatter_upd": np.full((1, 1, 1), 7, f),
        "slope": rng.standard_normal(4).astype(f),
        "pads": np.array([0, 1, -1, 0, 2, 1], np.int64),
        "pad_value": np.array(0.25, f),
        "pads_edge": np.array([0, 0, 1, 0, 0, 2], np.int64),
    }


# Opset 11: axes, splits and Dropout's ratio as attributes, Softmax on the 2-D coercion, Clip by
# inputs; opset 9: Slice and Clip by attributes.
OPS_11 = """
<ir_version: 6, opset_import: ["" : 11]>
ops11 (float[B, T, 4] x) => (float[B, T, 1] s0, float[B, T, 3] s1, float[B, T, 4] sq, float[B, T, 4] smax,
                              float[B, T, 4] lsmax, float[B, 4] rsum, float[B, T, 4] dropped,
                              float[B, T, 4] clip) {
    s0, s1 = Split <axis = 2, split = [1, 3]> (x)
    u = Unsqueeze <axes = [0, 4]> (x)
    sq = Squeeze <axes = [0, -1]> (u)
    smax = Softmax <axis = 1> (x)
    lsmax = LogSoftmax (x)
    rsum = ReduceSum <axes = [1], keepdims = 0> (x)
    dropped = Dropout <ratio = 0.5> (x)
    clip = Clip (x, lo, hi)
}
"""
OPS_9 = """
<ir_version: 4, opset_import: ["" : 9]>
ops9 (float[B, T, 4] x) => (float[B, T, 2] sl, float[B, T, 4] clip, float[B, 4, 4] up) {
    sl = Slice <starts = [1], ends = [3], axes = [2]> (x)
    clip = Clip <min = -0.25, max = 0.75> (x)
    t = Transpose <perm = [0, 2, 1]> (x)
    up = MatMul (t, x)
}
"""


@pytest.mark.parametrize("which", ["opset20", "opset11", "opset9"])
def test_operators_around_the_recurrent_nodes(tmp_path, which, rng):
    """The operators exporters put around recurrent nodes, in their old and new forms."""
    f = np.float32
    if which == "opset20":
        model = _ops_model(OPS_NEW, _new_ops_initializers(rng), 9)
    elif which == "opset11":
        model = _ops_model(OPS_11, {"lo": np.array(-0.3, f), "hi": np.array(0.6, f)}, 6)
    else:
        model = _ops_model(OPS_9, {}, 4)
    path = _save(model, tmp_path / f"{which}.onnx")
    feeds = [{"x": (rng.standard_normal((B, T, 4)) * 2).astype(f)} for B, T in ((1, 1), (3, 5), (2, 8))]
    compare_with_runtime(path, feeds)


def test_predict_summary_and_names(tmp_path, rng, capsys):
    model, D = _recurrent_graph("LSTM", {"direction": "bidirectional"}, ("B", "initial_h"), rng)
    loaded = lstmcore.load_model(_save(model, tmp_path / "m.onnx"))
    assert loaded.inputs == ["x", "initial_h"]
    assert loaded.outputs == ["Y", "Y_h", "Y_c", "probs"]
    x = rng.standard_normal((6, 4, I)).astype(np.float32)
    h0 = rng.standard_normal((D, 6, H)).astype(np.float32)
    by_list = loaded.predict([x, h0])
    by_name = loaded.predict({"initial_h": h0, "x": x.astype(np.float64)})  # floats take the declared dtype
    for a, b in zip(by_list, by_name, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"missing inputs \['initial_h'\]"):
        loaded.predict({"x": x})
    with pytest.raises(ValueError, match="pass a list or a dict"):
        loaded.predict(x)
    with pytest.raises(ValueError, match=r"input 'x' must have shape \(None, None, 3\), got \(6, 4\)"):
        loaded.predict([x[..., 0], h0])
    with pytest.raises(ValueError, match="batch_size needs inputs with one first axis"):
        loaded.predict([x, h0], batch_size=2)
    rnn, _ = _recurrent_graph("RNN", {}, (), rng)
    with pytest.raises(ValueError, match="output 'Y' .* has no batch axis first"):  # Y is time-major
        lstmcore.load_model(_save(rnn, tmp_path / "rnn.onnx")).predict(x, batch_size=2)
    loaded.summary()
    text = capsys.readouterr().out
    assert "LSTM (hidden_size=5, bidirectional)" in text and "Total params" in text
    assert "OnnxModel" in repr(loaded)

    head = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 2])],
    )
    relu = lstmcore.load_model(_save(helper.make_model(head), tmp_path / "relu.onnx"))
    x = rng.standard_normal((7, 2)).astype(np.float32)
    np.testing.assert_array_equal(relu.predict(x, batch_size=3), np.maximum(x, 0))
    assert relu.input_shape == (None, 2)


def test_external_data_beside_the_model(tmp_path, rng):
    """Weights in an external data file in the model's folder (the dynamo exporter's default) are
    read, within their declared bounds."""
    model, D = _recurrent_graph("LSTM", {}, ("B",), rng)
    path = os.fspath(tmp_path / "ext.onnx")
    onnx.save(
        model,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="ext.data",
        size_threshold=0,
    )
    assert os.path.exists(tmp_path / "ext.data")
    compare_with_runtime(path, _recurrent_feeds(("B",), D, rng))


@pytest.mark.parametrize("case", ["lstm_dense", "bidirectional_gru", "masked"])
def test_lstmcore_float32_exports_come_back(tmp_path, case, rng):
    """What ``model.export(format="onnx")`` writes in float32 loads back with predict's outputs."""
    from lstmcore.layers import GRU, LSTM, Bidirectional, Dense, Masking, SimpleRNN

    layers = {
        "lstm_dense": [LSTM(8, input_shape=(None, I)), Dense(2)],
        "bidirectional_gru": [
            Bidirectional(GRU(6, return_sequences=True), input_shape=(None, I)),
            SimpleRNN(4),
            Dense(3, activation="softmax"),
        ],
        "masked": [Masking(0.0, input_shape=(None, I)), LSTM(5, return_sequences=True), Dense(1)],
    }[case]
    model = lstmcore.Sequential(layers)
    model.build()
    path = os.fspath(tmp_path / f"{case}.onnx")
    model.export(path, verbose=False)
    x = rng.standard_normal((4, 6, I)).astype(np.float32)
    x[1, 4:] = 0
    x[2, 2:] = 0
    back = compare_with_runtime(path, [{lstmcore.load_model(path).inputs[0]: x}])
    assert_matches(back.predict(x), model.predict(x), case)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["lstm", "masked_gru", "bidirectional", "conv_pool", "conv_same_groups"])
def test_lstmcore_exports_of_every_kind_come_back(tmp_path, case, dtype, rng):
    """lstmcore -> ONNX -> lstmcore: float64 exports (recurrences as Scan loops over the cell) and
    Conv1D / pooling layers (Conv, MaxPool, AveragePool) load back with predict's outputs."""
    from lstmcore.layers import (
        GRU,
        LSTM,
        AveragePooling1D,
        Bidirectional,
        Conv1D,
        Dense,
        GlobalAveragePooling1D,
        Masking,
        MaxPooling1D,
    )

    layers = {
        "lstm": [LSTM(3, input_shape=(None, I)), Dense(1)],
        "masked_gru": [Masking(0.0, input_shape=(None, I)), GRU(4, return_sequences=True), Dense(2)],
        "bidirectional": [
            Bidirectional(LSTM(3, return_sequences=True), merge_mode="sum", input_shape=(None, I)),
            GRU(2),
        ],
        "conv_pool": [
            Conv1D(6, 3, padding="causal", dilation_rate=2, activation="relu", input_shape=(12, I)),
            MaxPooling1D(2),
            LSTM(4, return_sequences=True),
            AveragePooling1D(3, strides=2, padding="same"),
            GlobalAveragePooling1D(),
            Dense(1),
        ],
        "conv_same_groups": [Conv1D(6, 4, strides=2, padding="same", groups=3, input_shape=(12, 6)), GRU(3)],
    }[case]
    model = lstmcore.Sequential(layers, dtype=dtype)
    model.build()
    path = os.fspath(tmp_path / f"{case}.onnx")
    model.export(path, verbose=False)
    features = 6 if case == "conv_same_groups" else I
    x = rng.standard_normal((4, 12, features)).astype(dtype)
    x[1, 8:] = 0
    x[2, 3] = 0
    back = lstmcore.load_model(path)
    rtol, atol = (1e-5, 1e-6) if dtype == "float32" else (1e-10, 1e-12)
    np.testing.assert_allclose(back.predict(x), model.predict(x), rtol=rtol, atol=atol)
    if dtype == "float32" and importlib.util.find_spec("onnxruntime") is not None:
        compare_with_runtime(path, [{back.inputs[0]: x}])


# The onnx package's node cases ------------------------------------------------------------------


def _package_cases(modules, keep) -> dict:
    """The onnx package's node cases that ``keep`` takes, from its modules ``modules``: importing a
    module makes its cases (seconds, where collect_testcases makes every operator's, tens of
    seconds)."""
    import importlib

    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in modules:
            importlib.import_module(f"onnx.backend.test.case.node.{name}")
        cases = getattr(node, "_NodeTestCases", None)
        if cases is None:  # pragma: no cover - another onnx: the public, slower way
            cases = node.collect_testcases()
    return {c.name: c for c in cases if keep(c)}


@functools.cache
def _onnx_cases() -> dict:
    """The onnx package's LSTM, GRU and RNN node cases."""
    return _package_cases(
        ("lstm", "gru", "rnn"), lambda c: c.model.graph.node[0].op_type in ("LSTM", "GRU", "RNN")
    )


@pytest.mark.parametrize("name", sorted(_onnx_cases()))
def test_onnx_package_node_case(tmp_path, name):
    case = _onnx_cases()[name]
    assert len(case.model.graph.node) == 1
    path = _save(case.model, tmp_path / f"{name}.onnx")
    model = lstmcore.load_model(path)
    for inputs, outputs in case.data_sets:
        got = model.predict(dict(zip(model.inputs, inputs, strict=True)))
        got = got if isinstance(got, list) else [got]
        for g, w in zip(got, outputs, strict=True):
            assert_close(g, w, np.float32, name=name)


@functools.cache
def _trilu_cases() -> dict:
    """The onnx package's Trilu node cases (the causal masks of exported attention layers)."""
    return _package_cases(("trilu",), lambda c: c.model.graph.node[0].op_type == "Trilu")


@pytest.mark.parametrize("name", sorted(_trilu_cases()))
def test_onnx_package_trilu_case(tmp_path, name):
    case = _trilu_cases()[name]
    model = lstmcore.load_model(_save(case.model, tmp_path / f"{name}.onnx"))
    for inputs, outputs in case.data_sets:
        got = model.predict(dict(zip(model.inputs, inputs, strict=True)))
        assert got.dtype == outputs[0].dtype and np.array_equal(got, outputs[0]), name


@functools.cache
def _conv_transpose_cases() -> dict:
    """The onnx package's ConvTranspose node cases of one spatial axis (the others are 2-D and 3-D:
    ``test_conv_transpose_attributes`` takes their attributes to one axis)."""
    return _package_cases(
        ("convtranspose",),
        lambda c: c.model.graph.node[0].op_type == "ConvTranspose" and c.data_sets[0][0][0].ndim == 3,
    )


@pytest.mark.parametrize("name", sorted(_conv_transpose_cases()))
def test_onnx_package_conv_transpose_case(tmp_path, name):
    case = _conv_transpose_cases()[name]
    model = lstmcore.load_model(_save(case.model, tmp_path / f"{name}.onnx"))
    for inputs, outputs in case.data_sets:
        got = model.predict(dict(zip(model.inputs, inputs, strict=True)))
        assert_close(got, outputs[0], np.float32, name=name)


def _conv_transpose_loop(x, w, b, attributes):
    """ONNX's ConvTranspose of one spatial axis read from its specification, one product at a time
    (the onnx package's reference evaluator mixes up groups whose input and output channels differ
    and adds the first group's bias to every group)."""
    B, C, T = x.shape
    group = attributes.get("group", 1)
    Cg, Fg, k = C // group, w.shape[1], w.shape[2]
    (s,), (d,) = attributes.get("strides", [1]), attributes.get("dilations", [1])
    (extra,) = attributes.get("output_padding", [0])
    full = np.zeros((B, group * Fg, s * (T - 1) + d * (k - 1) + 1 + extra))
    for c in range(C):
        g = c // Cg
        for f in range(Fg):
            for t in range(T):
                for j in range(k):
                    full[:, g * Fg + f, t * s + j * d] += x[:, c, t] * w[c, f, j]
    auto = attributes.get("auto_pad", "NOTSET")
    if "output_shape" in attributes or auto.startswith("SAME"):
        (L,) = attributes.get("output_shape", [T * s])
        total = full.shape[2] - L
        begin = total // 2 if auto == "SAME_UPPER" else total - total // 2
    else:
        begin, end = [0, 0] if auto == "VALID" else attributes.get("pads", [0, 0])
        L = full.shape[2] - begin - end
    y = np.zeros((B, group * Fg, L))
    for p in range(L):
        if 0 <= p + begin < full.shape[2]:
            y[:, :, p] = full[:, :, p + begin]
    return y + (0 if b is None else b[None, :, None])


@pytest.mark.parametrize(
    "attributes, C, F",
    [
        ({}, 1, 2),  # the onnx package's 2-D cases, on one axis
        ({"strides": [3], "output_shape": [10]}, 1, 2),
        ({"strides": [3], "output_padding": [1]}, 1, 2),
        ({"kernel_shape": [3], "strides": [3], "output_padding": [1], "output_shape": [10]}, 1, 2),
        ({"strides": [3], "pads": [1, 2]}, 1, 2),
        ({"dilations": [2]}, 1, 1),
        ({"auto_pad": "SAME_UPPER", "strides": [2]}, 1, 2),
        ({"group": 2}, 2, 2),
        # beyond them: the other auto_pad, an output_shape with SAME_UPPER, groups with strides
        ({"auto_pad": "SAME_LOWER", "strides": [2]}, 3, 2),
        ({"auto_pad": "SAME_UPPER", "strides": [2], "output_shape": [7]}, 2, 3),
        ({"auto_pad": "VALID", "strides": [2]}, 2, 2),
        ({"group": 3, "strides": [2], "pads": [0, 1]}, 6, 3),
        ({"strides": [1], "pads": [2, 0], "dilations": [3]}, 2, 2),
    ],
)
def test_conv_transpose_attributes(tmp_path, rng, attributes, C, F):
    """1-D ConvTranspose nodes with each attribute, with and without a bias: lstmcore's loader
    against the specification's loop, the onnx package's reference evaluator (one group, no bias)
    and, where installed, ONNX Runtime."""
    from onnx.reference import ReferenceEvaluator

    group = attributes.get("group", 1)
    for bias in (None, rng.standard_normal(F).astype(np.float32)):
        x = rng.standard_normal((2, C, 3)).astype(np.float32)
        w = rng.standard_normal((C, F // group, 3)).astype(np.float32)
        inits = [numpy_helper.from_array(w, "w")]
        if bias is not None:
            inits.append(numpy_helper.from_array(bias, "b"))
        names = ["x", "w", "b"][: len(inits) + 1]
        model = _graph([helper.make_node("ConvTranspose", names, ["y"], **attributes)], initializers=inits)
        path = _save(model, tmp_path / "ct.onnx")
        got = lstmcore.load_model(path).predict(x)
        want = _conv_transpose_loop(x.astype(np.float64), w.astype(np.float64), bias, attributes)
        assert got.shape == want.shape, (got.shape, want.shape)
        assert_close(got, want, np.float32, name=str(attributes))
        if group == 1 and bias is None:
            assert_close(got, ReferenceEvaluator(model).run(None, {"x": x})[0], np.float32, name="reference")
        if importlib.util.find_spec("onnxruntime") is not None:
            compare_with_runtime(path, [{"x": x}])


def test_conv_transpose_refusals(tmp_path, rng):
    w = numpy_helper.from_array(np.ones((2, 2, 3), dtype=np.float32), "w")
    x = np.ones((1, 2, 4), dtype=np.float32)
    for attributes, match in [
        ({"kernel_shape": [2]}, "kernel_shape"),
        ({"group": 3}, "group 3"),
        ({"pads": [4, 5]}, "no output step"),
        ({"strides": [2, 2]}, "1-D"),
        ({"auto_pad": "SAME"}, "auto_pad"),
    ]:
        model = _graph([helper.make_node("ConvTranspose", ["x", "w"], ["y"], **attributes)], initializers=[w])
        path = _save(model, tmp_path / "bad.onnx")
        with pytest.raises(ValueError, match=match):
            lstmcore.load_model(path).predict(x)


# Files lstmcore refuses -------------------------------------------------------------------------


@pytest.fixture
def small_model(rng):
    model, _ = _recurrent_graph("LSTM", {"direction": "bidirectional"}, ("B", "sequence_lens"), rng)
    return model


def _refused(path, match, folder=None):
    """load_model raises ValueError matching ``match`` and leaves ``folder`` as it was."""
    folder = folder or os.path.dirname(path)
    before = sorted(os.listdir(folder))
    with pytest.raises(ValueError, match=match):
        lstmcore.load_model(path)
    assert sorted(os.listdir(folder)) == before


def _write(tmp_path, name, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return os.fspath(path)


class _Marker:
    """A pickle that creates a file when unpickled: load_model must never unpickle."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize(
    "kind, match",
    [
        ("empty", "empty"),
        ("text", "text file"),
        ("onnx_text", "ONNX's text format"),
        ("json", "text file"),
        ("zip", "zip archive"),
        ("hdf5", "HDF5"),
        ("npy", "NumPy"),
        ("pickle", "pickle .*never unpickled"),
        ("random", "not an ONNX model"),
    ],
)
def test_not_onnx(tmp_path, kind, match):
    marker = os.fspath(tmp_path / "unpickled")
    if kind == "zip":
        with zipfile.ZipFile(tmp_path / "m.onnx", "w") as z:
            z.writestr("data.pkl", b"x")
        path = os.fspath(tmp_path / "m.onnx")
    else:
        data = {
            "empty": b"",
            "text": b"hello, this is not a model\n" * 10,
            "onnx_text": b'<\n  ir_version: 8,\n  opset_import: ["" : 14]\n>\ng (float[2] x) => (float[2] y)',
            "json": b'{"class_name": "Sequential"}',
            "hdf5": b"\x89HDF\r\n\x1a\n" + bytes(100),
            "npy": b"\x93NUMPY\x01\x00" + bytes(100),
            "pickle": pickle.dumps(_Marker(marker), protocol=4),
            "random": np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        }[kind]
        path = _write(tmp_path, "m.onnx", data)
    _refused(path, match)
    assert not os.path.exists(marker)


def test_truncated_files(tmp_path, small_model):
    data = small_model.SerializeToString()
    for k, cut in enumerate(sorted({1, 2, 7, *range(10, len(data), max(len(data) // 23, 1)), len(data) - 1})):
        path = _write(tmp_path, f"cut{k}.onnx", data[:cut])
        _refused(path, "not an ONNX model|truncated|corrupt|provides|produced by no node|declares")


def test_corrupt_files_load_or_are_refused_never_crash(tmp_path, small_model):
    """Random bytes flipped: a clear ValueError, or a model that still loads and predicts."""
    data = bytearray(small_model.SerializeToString())
    rng = np.random.default_rng(7)
    x = {"x": np.ones((2, 3, I), np.float32), "sequence_lens": np.array([3, 1], np.int32)}
    outcomes = {"refused": 0, "loaded": 0}
    for k in range(60):
        bad = bytearray(data)
        for at in rng.integers(0, len(bad), 3):
            bad[at] ^= int(rng.integers(1, 256))
        path = _write(tmp_path, f"bad{k}.onnx", bytes(bad))
        try:
            model = lstmcore.load_model(path)
        except ValueError:
            outcomes["refused"] += 1
            continue
        try:  # what the flips made of the graph may not run (a ValueError), or want other dtypes
            model.predict(x)
        except (ValueError, TypeError):
            pass
        outcomes["loaded"] += 1
    assert outcomes["refused"] > 0, outcomes


def _graph(nodes, inputs=("x",), outputs=("y",), initializers=(), opset=17):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        list(initializers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize(
    "nodes, match",
    [
        (
            [
                helper.make_node("Relu", ["b"], ["a"], name="first"),
                helper.make_node("Relu", ["a"], ["b"], name="second"),
            ],
            "cycle through ONNX node 'first' \\(Relu\\), ONNX node 'second'",
        ),
        ([helper.make_node("Add", ["x", "a"], ["a"], name="self")], "cycle through ONNX node 'self'"),
        ([helper.make_node("Relu", ["nowhere"], ["y"], name="n")], "reads 'nowhere', which no node"),
        (
            [
                helper.make_node("Relu", ["x"], ["y"], name="a"),
                helper.make_node("Relu", ["x"], ["y"], name="b"),
            ],
            "'y' is produced twice",
        ),
        ([helper.make_node("Relu", ["x"], ["z"])], "graph output 'y' is produced by no node"),
    ],
    ids=["cycle", "self_loop", "dangling", "twice", "no_output"],
)
def test_malformed_graphs(tmp_path, nodes, match):
    outputs = ("y",) if nodes[0].name != "first" else ("a",)
    _refused(_save(_graph(nodes, outputs=outputs), tmp_path / "g.onnx"), match)


def _huge_initializer(field: str):
    t = TensorProto()
    t.name, t.data_type = "huge", TensorProto.FLOAT
    t.dims.extend([10**6, 10**6])
    if field == "raw":
        t.raw_data = b"\0" * 8
    else:
        t.float_data.extend([0.0, 1.0])
    return t


@pytest.mark.parametrize("field", ["raw", "float_data"])
def test_huge_declared_tensors_are_refused_before_allocating(tmp_path, field):
    model = _graph([helper.make_node("Add", ["x", "huge"], ["y"])], initializers=[_huge_initializer(field)])
    path = _save(model, tmp_path / "huge.onnx")
    tracemalloc.start()
    try:
        _refused(path, r"declares shape \[1000000, 1000000\] \(1000000000000 elements")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak


def test_huge_shapes_computed_from_constants_are_refused(tmp_path):
    """A ConstantOfShape of 10^12 elements (folded at load) and an Expand of the input at
    predict time stop at MAX_ELEMENTS, before allocating."""
    shape = numpy_helper.from_array(np.array([10**6, 10**6], np.int64), "shape")
    model = _graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["y"], name="fill")], inputs=(), initializers=[shape]
    )
    path = _save(model, tmp_path / "fill.onnx")
    tracemalloc.start()
    try:
        _refused(path, r"'fill' \(ConstantOfShape\).*1000000000000 elements, more than lstmcore allocates")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak
    model = _graph([helper.make_node("Expand", ["x", "shape"], ["y"], name="grow")], initializers=[shape])
    loaded = lstmcore.load_model(_save(model, tmp_path / "grow.onnx"))
    with pytest.raises(ValueError, match=r"'grow' \(Expand\).*more than lstmcore allocates"):
        loaded.predict(np.ones((1, 1), np.float32))


def _external(location, length=None, offset=None):
    t = TensorProto()
    t.name, t.data_type, t.data_location = "w", TensorProto.FLOAT, TensorProto.EXTERNAL
    t.dims.extend([2, 2])
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = t.external_data.add()
            entry.key, entry.value = key, str(value)
    return t


@pytest.mark.parametrize(
    "location, length, offset, match",
    [
        ("/etc/passwd", None, None, "only from files in the model's folder"),
        ("../secret.bin", None, None, "only from files in the model's folder"),
        ("missing.bin", None, None, "missing or outside the model's folder"),
        ("data.bin", 16, 8, "declares 16 bytes at offset 8"),
        ("data.bin", 10**12, None, "declares 16 bytes at offset 0 \\(length 1000000000000\\)"),
        ("link.bin", None, None, "missing or outside the model's folder"),
    ],
    ids=["absolute", "parent", "missing", "past_the_end", "length", "symlink_out"],
)
def test_external_data_outside_or_past_its_file(tmp_path, location, length, offset, match):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "data.bin").write_bytes(bytes(16))
    (tmp_path / "secret.bin").write_bytes(bytes(16))
    if sys.platform != "win32":
        os.symlink(tmp_path / "secret.bin", folder / "link.bin")
    model = _graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], initializers=[_external(location, length, offset)]
    )
    path = _write(folder, "ext.onnx", model.SerializeToString())  # onnx.save would touch the data
    _refused(path, match)


def test_external_data_read_twice_is_refused(tmp_path):
    (tmp_path / "data.bin").write_bytes(bytes(16))
    tensors = [_external("data.bin") for _ in range(3)]
    for k, t in enumerate(tensors):
        t.name = f"w{k}"
    nodes = [helper.make_node("Sum", ["x", "w0", "w1", "w2"], ["y"])]
    path = _write(tmp_path, "twice.onnx", _graph(nodes, initializers=tensors).SerializeToString())
    _refused(path, "read more bytes than it holds")


def test_external_data_of_a_model_in_memory_is_refused():
    model = _graph([helper.make_node("Add", ["x", "w"], ["y"])], initializers=[_external("data.bin")])
    with pytest.raises(ValueError, match="given without a folder"):
        onnx_import.OnnxModel(model)


@pytest.mark.parametrize(
    "node, match",
    [
        (
            helper.make_node("Einsum", ["x", "x"], ["y"], name="c", equation="ij,ij->i"),
            r"'c' \(Einsum\): operator Einsum is not supported",
        ),
        (
            helper.make_node("Relu", ["x"], ["y"], name="r", domain="com.example"),
            r"'r' \(Relu\): operator com.example.Relu is not supported",
        ),
        (
            helper.make_node("Gemm", ["x", "x"], ["y"], name="g", broadcast=1),
            r"'g' \(Gemm\): attribute 'broadcast' of Gemm is not supported",
        ),
        (
            helper.make_node("Gelu", ["x"], ["y"], name="g", approximate="erf"),
            r"'g' \(Gelu\): attribute 'approximate' must be",
        ),
        (
            helper.make_node("Cast", ["x"], ["y"], name="c", to=TensorProto.STRING),
            r"'c' \(Cast\): attribute 'to' has STRING elements",
        ),
        (
            helper.make_node("ScatterElements", ["x", "x", "x"], ["y"], name="s", reduction="add"),
            r"'s' \(ScatterElements\): attribute 'reduction'='add' is not supported",
        ),
        (
            helper.make_node("GRU", ["x", "w", "r"], ["y"], name="gru", hidden_size=2, clip=1.0),
            r"'gru' \(GRU\): ONNX GRU attribute clip=1.0 .*not supported",
        ),
        (
            helper.make_node(
                "LSTM",
                ["x", "w", "r"],
                ["y"],
                name="lstm",
                hidden_size=2,
                activations=["Sigmoid", "Gelu", "Tanh"],
            ),
            r"'lstm' \(LSTM\): ONNX LSTM activation Gelu \(g\) is not supported",
        ),
        (
            helper.make_node("RNN", ["x", "w", "r"], ["y"], name="rnn", hidden_size=2, linear_before_reset=1),
            r"'rnn' \(RNN\): ONNX RNN attributes \['linear_before_reset'\] are not known",
        ),
        (
            helper.make_node("LSTM", ["x", "w", "r"], ["y"], name="lstm", hidden_size=2, layout=2),
            r"'lstm' \(LSTM\): ONNX LSTM attribute layout must be 0 or 1",
        ),
    ],
    ids=[
        "op",
        "domain",
        "attribute",
        "attribute_value",
        "dtype",
        "scatter_reduction",
        "gru_clip",
        "activation",
        "rnn_attribute",
        "layout",
    ],
)
def test_operators_and_attributes_it_cannot_run(tmp_path, node, match):
    _refused(_save(_graph([node], inputs=("x", "w", "r")), tmp_path / "op.onnx"), match)


def test_what_the_engine_cannot_run_is_named_at_predict(tmp_path, rng):
    """A recurrent node on float16, or sequence_lens past T: the node and the input are named."""
    model, _ = _recurrent_graph("RNN", {}, ("sequence_lens",), rng)
    loaded = lstmcore.load_model(_save(model, tmp_path / "rnn.onnx"))
    x = rng.standard_normal((2, 3, I)).astype(np.float32)
    with pytest.raises(ValueError, match=r"\(RNN\): sequence_lens must be in \[0, 3\]"):
        loaded.predict([x, np.array([4, 1], np.int32)])

    def half(weights):
        return _graph(
            [
                helper.make_node("Cast", ["x"], ["xh"], to=TensorProto.FLOAT16),
                helper.make_node("RNN", ["xh", "w", "r"], ["y"], name="rnn16", hidden_size=2),
            ],
            initializers=[
                numpy_helper.from_array(np.ones((1, 2, I), weights), "w"),
                numpy_helper.from_array(np.ones((1, 2, 2), weights), "r"),
            ],
        )

    _refused(
        _save(half(np.float16), tmp_path / "half.onnx"), r"'rnn16' \(RNN\): W must be float32 or float64"
    )
    loaded = lstmcore.load_model(_save(half(np.float32), tmp_path / "half_x.onnx"))
    with pytest.raises(ValueError, match=r"'rnn16' \(RNN\): X has dtype float16"):
        loaded.predict(np.ones((3, 1, I), np.float32))


@pytest.mark.parametrize(
    "tensor, match",
    [
        (helper.make_tensor("s", TensorProto.STRING, [1], [b"a"]), "STRING elements"),
        (helper.make_tensor("b", TensorProto.BFLOAT16, [1], [1]), "BFLOAT16 elements"),
        ("count", r"declares shape \[2\] .* holds 3 values"),
    ],
    ids=["string", "bfloat16", "count"],
)
def test_tensors_it_cannot_read(tmp_path, tensor, match):
    if tensor == "count":
        tensor = TensorProto(name="n", data_type=TensorProto.FLOAT, dims=[2], float_data=[1.0, 2.0, 3.0])
    model = _graph([helper.make_node("Identity", ["x"], ["y"])], initializers=[tensor])
    _refused(_save(model, tmp_path / "t.onnx"), match)


def test_opsets_and_sparse_initializers(tmp_path):
    old = _graph([helper.make_node("Relu", ["x"], ["y"])], opset=6)
    _refused(_save(old, tmp_path / "old.onnx"), "opset 6 of the default ONNX domain; lstmcore reads opsets 7")
    sparse = _graph([helper.make_node("Relu", ["x"], ["y"])])
    values = numpy_helper.from_array(np.ones(1, np.float32), "s")
    sparse.graph.sparse_initializer.append(
        helper.make_sparse_tensor(values, numpy_helper.from_array(np.zeros(1, np.int64)), [2])
    )
    _refused(_save(sparse, tmp_path / "sparse.onnx"), "sparse initializers")


def test_missing_onnx_says_pip_install(tmp_path, monkeypatch, small_model):
    path = _save(small_model, tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match="pip install onnx"):
        lstmcore.load_model(path)


def _program_models():
    """The Keras test programs (tests/model/keras_programs.py, keras_functional_programs.py) and a
    model of the shaping and normalization layers, as (name, build(dtype) -> (model, x))."""
    import types

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "model"))
    from keras_functional_programs import PROGRAMS as FUNCTIONAL
    from keras_programs import PROGRAMS

    from lstmcore import layers as L

    def sequential(build, make_x):
        def make(dtype, rng):
            model = lstmcore.Sequential(build(L), dtype=dtype)
            model.build()
            return model, make_x(rng).astype(dtype)

        return make

    def functional(build, make_x):
        def make(dtype, rng):
            model = lstmcore.Model(
                *build(types.SimpleNamespace(Input=L.Input, layers=L, ops=lstmcore.ops)), dtype=dtype
            )
            xs = [a.astype(dtype) for a in make_x(rng)]
            return model, xs if len(xs) > 1 else xs[0]

        return make

    def shaping(dtype, rng):
        model = lstmcore.Sequential(
            [
                L.LSTM(4, input_shape=(6, 3)),
                L.RepeatVector(5),
                L.LayerNormalization(),
                L.GRU(4, return_sequences=True),
                L.BatchNormalization(),
                L.Flatten(),
                L.Reshape((5, 4)),
                L.TimeDistributed(L.Dense(2, activation="gelu")),
                L.GlobalMaxPooling1D(),
                L.Activation("softmax"),
            ],
            dtype=dtype,
        )
        model.build()
        return model, rng.standard_normal((3, 6, 3)).astype(dtype)

    cases = [(n, sequential(b, mx)) for n, (b, _, mx, _) in PROGRAMS.items()]
    cases += [(n, functional(b, mx)) for n, (b, _, _, mx, _) in FUNCTIONAL.items()]
    return [*cases, ("shaping_and_normalization", shaping)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", _program_models(), ids=lambda c: c[0])
def test_every_program_round_trips_through_onnx(tmp_path, case, dtype, rng):
    _, make = case
    model, x = make(dtype, rng)
    path = os.fspath(tmp_path / "m.onnx")
    model.export(path, verbose=False)
    back = lstmcore.load_model(path)
    mine, theirs = model.predict(x), back.predict(x)
    rtol, atol = (1e-5, 1e-6) if dtype == "float32" else (1e-10, 1e-12)
    for a, b in zip(
        mine if isinstance(mine, list) else [mine],
        theirs if isinstance(theirs, list) else [theirs],
        strict=True,
    ):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)

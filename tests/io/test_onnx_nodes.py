"""ONNX recurrent nodes run by lstmcore: the onnx package's own LSTM, GRU and RNN node test cases,
and ONNX Runtime on the attributes those cases leave out.

Each node goes through lstmcore.layout only: ``from_onnx`` / ``from_onnx_gru`` / ``from_onnx_rnn``
for the weights and ``onnx_lstm_options`` / ``onnx_gru_options`` / ``onnx_rnn_options`` for the
attributes (each direction of a bidirectional node apart); ``layout=1`` (batch-first) is a transpose
done here, and ``sequence_lens`` is ``lengths``. Both the active backend and the reference must
give the case's outputs (float32 tolerance: the cases are float32).

The onnx package's cases use the default attributes only; the ONNX Runtime tests build nodes with
clip, input_forget, peepholes, linear_before_reset, every activation and its alpha/beta (layout=1
in the onnx package's reference evaluator: ONNX Runtime refuses it), and check both ways: ONNX
Runtime on a node against lstmcore on what layout imports from it, and ONNX Runtime on what layout
exports (``to_onnx*`` and ``onnx_*_attributes``) against lstmcore.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from helpers import assert_close

import lstmcore
from lstmcore import layout, reference

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402 - after the importorskip

MODULES = [pytest.param(lstmcore, id="backend"), pytest.param(reference, id="reference")]
OPS = ("LSTM", "GRU", "RNN")
# Each operator's inputs and outputs by position (ONNX's operator definitions).
INPUTS = {
    "LSTM": ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"),
    "GRU": ("X", "W", "R", "B", "sequence_lens", "initial_h"),
    "RNN": ("X", "W", "R", "B", "sequence_lens", "initial_h"),
}
OUTPUTS = {"LSTM": ("Y", "Y_h", "Y_c"), "GRU": ("Y", "Y_h"), "RNN": ("Y", "Y_h")}

# The onnx package's cases, every one of which lstmcore runs.
PASSING = (
    "test_lstm_defaults",
    "test_lstm_with_initial_bias",
    "test_lstm_with_peepholes",  # its sequence_lens are all T
    "test_lstm_batchwise",
    "test_lstm_reverse",
    "test_lstm_bidirectional",
    "test_gru_defaults",
    "test_gru_with_initial_bias",
    "test_gru_seq_length",  # no sequence_lens input despite the name: T = 3, B = 2
    "test_gru_batchwise",
    "test_gru_reverse",
    "test_gru_bidirectional",
    "test_simple_rnn_defaults",
    "test_simple_rnn_with_initial_bias",
    "test_rnn_seq_length",  # no sequence_lens input either
    "test_simple_rnn_batchwise",
    "test_simple_rnn_reverse",
    "test_simple_rnn_bidirectional",
)


@functools.cache
def _cases() -> dict:
    """The onnx package's node test cases of the recurrent operators, by name."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():  # other operators' cases warn while they are made
        warnings.simplefilter("ignore")
        cases = collect_testcases()  # every operator's: collect_testcases(op) keeps only the first op
    return {c.name: c for c in cases if c.model.graph.node[0].op_type in OPS}


def _params():
    return [pytest.param(name, id=name) for name in sorted(_cases())]


def _attribute(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _run_node(mod, node, feeds: dict) -> dict:
    """lstmcore's outputs for an ONNX recurrent node: ``feeds`` maps the operator's input roles (X,
    W, R, ...) to arrays; returns {"Y": ..., "Y_h": ..., ["Y_c": ...]} in ONNX's shapes. Each
    direction runs with its own weights and options (reverse, its activations) and the node's
    sequence_lens as ``lengths``."""
    op = node.op_type
    batch_first = int(_attribute(node, "layout", 0)) == 1
    x = feeds["X"] if batch_first else feeds["X"].transpose(1, 0, 2)  # (B, T, I)
    x = np.ascontiguousarray(x)
    D = 2 if _attribute(node, "direction", b"forward") in (b"bidirectional", "bidirectional") else 1
    lengths = feeds.get("sequence_lens")

    def state(role, d):  # (D, B, H), or (B, D, H) with layout=1
        value = feeds.get(role)
        return None if value is None else np.ascontiguousarray(value[:, d] if batch_first else value[d])

    ys, finals = [], {"Y_h": [], "Y_c": []}
    for d in range(D):
        direction = d if D == 2 else None
        if op == "LSTM":
            options = layout.onnx_lstm_options(node, direction)
            if feeds.get("P") is not None:
                *weights, options["peepholes"] = layout.from_onnx(
                    feeds["W"], feeds["R"], feeds.get("B"), feeds["P"], direction=d
                )
            else:
                weights = layout.from_onnx(feeds["W"], feeds["R"], feeds.get("B"), direction=d)
            y, h_n, c_n = mod.lstm_forward(
                x, *weights, state("initial_h", d), state("initial_c", d), lengths=lengths, **options
            )
            finals["Y_c"].append(c_n)
        elif op == "GRU":
            options = layout.onnx_gru_options(node, direction)
            lbr = int(options["reset_after"])
            weights = layout.from_onnx_gru(
                feeds["W"], feeds["R"], feeds.get("B"), direction=d, linear_before_reset=lbr
            )
            y, h_n = mod.gru_forward(x, *weights, state("initial_h", d), lengths=lengths, **options)
        else:
            options = layout.onnx_rnn_options(node, direction)
            weights = layout.from_onnx_rnn(feeds["W"], feeds["R"], feeds.get("B"), direction=d)
            y, h_n = mod.rnn_forward(x, *weights, state("initial_h", d), lengths=lengths, **options)
        ys.append(y)
        finals["Y_h"].append(h_n)
    # Y (T, D, B, H), or (B, T, D, H) with layout=1; Y_h, Y_c (D, B, H), or (B, D, H).
    y = np.stack(ys, axis=2)  # (B, T, D, H)
    out = {"Y": y if batch_first else y.transpose(1, 2, 0, 3)}
    for role, values in finals.items():
        if values:
            v = np.stack(values)  # (D, B, H)
            out[role] = v.transpose(1, 0, 2) if batch_first else v
    return out


# The onnx package's node test cases ------------------------------------------------------------------


def test_the_listed_cases_are_those_onnx_ships():
    """Every case named here is one the onnx package has (a renamed case must not vanish in
    silence), and every recurrent case it has is named here (a new one must be sorted in)."""
    assert set(_cases()) == set(PASSING), sorted(set(_cases()) ^ set(PASSING))


def _run_case(mod, case):
    node = case.model.graph.node[0]
    inputs, outputs = case.data_sets[0]
    values = dict(zip((i.name for i in case.model.graph.input), inputs, strict=True))
    feeds = {role: values[name] for role, name in zip(INPUTS[node.op_type], node.input, strict=False) if name}
    expected_values = dict(zip((o.name for o in case.model.graph.output), outputs, strict=True))
    expected = {
        role: expected_values[name]
        for role, name in zip(OUTPUTS[node.op_type], node.output, strict=False)
        if name
    }
    return _run_node(mod, node, feeds), expected


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("name", _params())
def test_onnx_package_node_case(mod, name):
    got, expected = _run_case(mod, _cases()[name])
    assert expected, name
    for role, want in expected.items():
        assert got[role].dtype == want.dtype == np.float32, (role, got[role].dtype, want.dtype)
        assert_close(got[role], want, np.float32, name=f"{name} {role}")


# ONNX Runtime on the attributes the onnx package's cases leave out ------------------------------

T, B, I, H = 5, 3, 4, 6
K = {"LSTM": 4, "GRU": 3, "RNN": 1}

# (op, attributes, optional inputs given); ids name them. ONNX Runtime has no layout=1 (it refuses
# batchwise recurrent nodes): those run in the onnx package's reference evaluator, which reads
# layout, the peepholes, linear_before_reset and the biases but not the activations or clip.
NODE_CASES = {
    "lstm_defaults_all_inputs": ("LSTM", {}, ("B", "initial_h", "initial_c")),
    "lstm_peepholes": ("LSTM", {}, ("B", "initial_h", "initial_c", "P")),
    "lstm_clip": ("LSTM", {"clip": 0.7}, ("B", "initial_h", "initial_c", "P")),
    "lstm_input_forget": ("LSTM", {"input_forget": 1}, ("B", "initial_h", "initial_c", "P")),
    "lstm_hard_sigmoid_default": ("LSTM", {"activations": ["HardSigmoid", "Tanh", "Tanh"]}, ("B",)),
    "lstm_g_h_differ": ("LSTM", {"activations": ["Sigmoid", "Relu", "Softsign"]}, ("B", "initial_c")),
    "lstm_parameters_in_order": (
        "LSTM",
        {
            "activations": ["HardSigmoid", "LeakyRelu", "ScaledTanh"],
            "activation_alpha": [0.3, 0.2, 1.5],
            "activation_beta": [0.4, 0.7],
        },
        ("B", "initial_h"),
    ),
    "lstm_elu_affine": (
        "LSTM",
        {
            "activations": ["Sigmoid", "Elu", "Affine"],
            "activation_alpha": [0.5, 0.8],
            "activation_beta": [0.1],
        },
        ("B", "initial_h", "initial_c"),
    ),
    "lstm_thresholded_softplus_clip": (
        "LSTM",
        {"activations": ["Sigmoid", "ThresholdedRelu", "Softplus"], "activation_alpha": [0.4], "clip": 1.5},
        ("B", "P"),
    ),
    "lstm_layout_1": ("LSTM", {"layout": 1}, ("B", "initial_h", "initial_c", "P")),
    "gru_default": ("GRU", {}, ("B", "initial_h")),
    "gru_linear_before_reset": ("GRU", {"linear_before_reset": 1}, ("B", "initial_h")),
    "gru_activations": (
        "GRU",
        {"activations": ["HardSigmoid", "LeakyRelu"], "activation_alpha": [0.25, 0.2]},
        ("B", "initial_h"),
    ),
    "gru_lbr_softsign": ("GRU", {"linear_before_reset": 1, "activations": ["Sigmoid", "Softsign"]}, ("B",)),
    "gru_layout_1": ("GRU", {"layout": 1, "linear_before_reset": 1}, ("B", "initial_h")),
    "gru_layout_1_before_reset": ("GRU", {"layout": 1}, ("B", "initial_h")),
    "rnn_default": ("RNN", {}, ("B", "initial_h")),
    "rnn_relu": ("RNN", {"activations": ["Relu"]}, ("B", "initial_h")),
    "rnn_elu": ("RNN", {"activations": ["Elu"], "activation_alpha": [0.5]}, ("B", "initial_h")),
    "rnn_affine": (
        "RNN",
        {"activations": ["Affine"], "activation_alpha": [0.6], "activation_beta": [0.2]},
        (),
    ),
    "rnn_layout_1": ("RNN", {"layout": 1}, ("B", "initial_h")),
    # directions and sequence lengths (unequal, one of 1, the longest T)
    "lstm_sequence_lens": ("LSTM", {}, ("B", "sequence_lens", "initial_h", "initial_c", "P")),
    "lstm_reverse_sequence_lens": (
        "LSTM",
        {"direction": "reverse"},
        ("B", "sequence_lens", "initial_h", "initial_c", "P"),
    ),
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
    "gru_reverse_sequence_lens": ("GRU", {"direction": "reverse"}, ("B", "sequence_lens", "initial_h")),
    "gru_bidirectional_lbr": (
        "GRU",
        {"direction": "bidirectional", "linear_before_reset": 1},
        ("B", "sequence_lens", "initial_h"),
    ),
    "rnn_bidirectional_relu": (
        "RNN",
        {"direction": "bidirectional", "activations": ["Relu", "Tanh"]},
        ("B", "sequence_lens", "initial_h"),
    ),
    "rnn_layout_1_reverse": ("RNN", {"layout": 1, "direction": "reverse"}, ("B", "initial_h")),
}
SEQUENCE_LENS = np.array([T, 2, 1], np.int32)  # B = 3


def _model(op, attributes, feeds: dict):
    """A model of one ``op`` node (opset 14) with the inputs of ``feeds`` (input roles -> arrays)."""
    roles = INPUTS[op]
    last = max(roles.index(role) for role in feeds)
    names = [role if role in feeds else "" for role in roles[: last + 1]]
    node = helper.make_node(op, names, list(OUTPUTS[op]), hidden_size=H, **attributes)

    def info(role, value):
        kind = TensorProto.INT32 if role == "sequence_lens" else TensorProto.FLOAT
        return helper.make_tensor_value_info(role, kind, value.shape)

    graph = helper.make_graph(
        [node],
        op,
        [info(role, value) for role, value in feeds.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in OUTPUTS[op]],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    return model, node


def _runtime(op, attributes, feeds: dict) -> tuple[dict, object]:
    """ONNX Runtime's outputs (the onnx package's reference evaluator's for layout=1) and the node."""
    model, node = _model(op, attributes, feeds)
    if attributes.get("layout", 0) == 1:
        from onnx.reference import ReferenceEvaluator

        outputs = ReferenceEvaluator(model).run(None, feeds)
    else:
        ort = pytest.importorskip("onnxruntime")
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        outputs = session.run(None, feeds)
    return dict(zip(OUTPUTS[op], outputs, strict=True)), node


def _feeds(rng, op, attributes, given):
    batch_first = attributes.get("layout", 0) == 1
    D = 2 if attributes.get("direction") == "bidirectional" else 1
    G = K[op] * H

    def f(scale, *shape):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    feeds = {
        "X": f(1.0, B, T, I) if batch_first else f(1.0, T, B, I),
        "W": f(0.5, D, G, I),
        "R": f(0.4, D, G, H),
    }
    optional = {
        "B": lambda: f(0.3, D, 2 * G),
        "sequence_lens": lambda: SEQUENCE_LENS.copy(),
        "initial_h": lambda: f(0.5, B, D, H) if batch_first else f(0.5, D, B, H),
        "initial_c": lambda: f(0.5, B, D, H) if batch_first else f(0.5, D, B, H),
        "P": lambda: f(0.5, D, 3 * H),
    }
    feeds.update({role: optional[role]() for role in given})
    return feeds


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("case", sorted(NODE_CASES))
def test_node_imported(mod, case, rng):
    """ONNX Runtime on a node, against lstmcore on the weights and options layout imports."""
    op, attributes, given = NODE_CASES[case]
    feeds = _feeds(rng, op, attributes, given)
    want, node = _runtime(op, attributes, feeds)
    got = _run_node(mod, node, feeds)
    for role in OUTPUTS[op]:
        assert_close(got[role], want[role], np.float32, name=f"{case} {role}")


def _options_and_weights(op, attributes, given, rng):
    """lstmcore's options and float32 weights for the same maths as a NODE_CASES node."""
    node = helper.make_node(op, [], [], hidden_size=H, **attributes)
    feeds = _feeds(rng, op, attributes, given)
    if op == "LSTM":
        options = layout.onnx_lstm_options(node)
        if "P" in feeds:
            *weights, options["peepholes"] = layout.from_onnx(feeds["W"], feeds["R"], feeds["B"], feeds["P"])
        else:
            weights = layout.from_onnx(feeds["W"], feeds["R"], feeds.get("B"))
    elif op == "GRU":
        options = layout.onnx_gru_options(node)
        lbr = int(options["reset_after"])
        weights = layout.from_onnx_gru(feeds["W"], feeds["R"], feeds.get("B"), linear_before_reset=lbr)
    else:
        options = layout.onnx_rnn_options(node)
        weights = layout.from_onnx_rnn(feeds["W"], feeds["R"], feeds.get("B"))
    return options, tuple(weights)


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize(
    "case",
    sorted(
        c
        for c, (_, attributes, given) in NODE_CASES.items()
        if "layout" not in attributes and "direction" not in attributes and "sequence_lens" not in given
    ),
)
def test_node_exported(mod, case, rng):
    """lstmcore's weights and options exported by layout (to_onnx*, onnx_*_attributes), run by ONNX
    Runtime: the same outputs as lstmcore's own forward."""
    op, attributes, given = NODE_CASES[case]
    options, (w_x, w_h, b) = _options_and_weights(op, attributes, given, rng)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    h0 = (rng.standard_normal((B, H)) * 0.5).astype(np.float32)
    feeds = {"X": np.ascontiguousarray(x.transpose(1, 0, 2)), "initial_h": h0[None]}
    if op == "LSTM":
        c0 = (rng.standard_normal((B, H)) * 0.5).astype(np.float32)
        y, h_n, c_n = mod.lstm_forward(x, w_x, w_h, b, h0, c0, **options)
        peepholes = options.pop("peepholes", None)
        exported = layout.to_onnx(w_x, w_h, b, *(() if peepholes is None else (peepholes,)))
        attrs = layout.onnx_lstm_attributes(**options)
        feeds["initial_c"] = c0[None]
        mine = {"Y_h": h_n, "Y_c": c_n}
    elif op == "GRU":
        y, h_n = mod.gru_forward(x, w_x, w_h, b, h0, **options)
        exported, attrs = layout.to_onnx_gru(w_x, w_h, b), layout.onnx_gru_attributes(**options)
        mine = {"Y_h": h_n}
    else:
        y, h_n = mod.rnn_forward(x, w_x, w_h, b, h0, **options)
        exported, attrs = layout.to_onnx_rnn(w_x, w_h, b), layout.onnx_rnn_attributes(**options)
        mine = {"Y_h": h_n}
    feeds.update(zip(("W", "R", "B", "P")[: len(exported)], exported, strict=True))
    want, _ = _runtime(op, attrs, feeds)
    assert_close(y, want["Y"][:, 0].transpose(1, 0, 2), np.float32, name=f"{case} Y")
    for role, value in mine.items():
        assert_close(value, want[role][0], np.float32, name=f"{case} {role}")

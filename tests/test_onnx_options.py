"""ONNX LSTM attributes: each one either becomes lstm_forward's options or is refused by name.

The onnx package's own LSTM node test cases run through layout's converters where onnx is
installed; the others are listed with the reason they wait.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import lstmcore
from lstmcore import layout

DEFAULTS = {"activation": "tanh", "recurrent_activation": "sigmoid"}


@pytest.mark.parametrize(
    "attributes, options",
    [
        ({}, DEFAULTS),
        ({"hidden_size": 7, "layout": 1, "direction": "forward", "input_forget": 0}, DEFAULTS),
        ({"activations": ["Sigmoid", "Relu", "Relu"]}, {**DEFAULTS, "activation": "relu"}),
        ({"activations": [b"Sigmoid", b"Tanh", b"Tanh"]}, DEFAULTS),
        (
            {
                "activations": ["HardSigmoid", "Tanh", "Tanh"],
                "activation_alpha": [1 / 6],
                "activation_beta": [0.5],
            },
            {**DEFAULTS, "recurrent_activation": "hard_sigmoid"},
        ),
        ({"activations": ["Sigmoid", "Affine", "Affine"]}, {**DEFAULTS, "activation": "linear"}),
        ({"activations": ["Sigmoid", "Sigmoid", "Sigmoid"]}, {**DEFAULTS, "activation": "sigmoid"}),
    ],
)
def test_attributes_lstmcore_computes_become_options(attributes, options):
    assert layout.onnx_lstm_options(attributes) == options


@pytest.mark.parametrize(
    "attributes, message",
    [
        ({"clip": 3.0}, "clip=3.0"),
        ({"input_forget": 1}, "input_forget=1"),
        ({"direction": "reverse"}, "direction='reverse'"),
        ({"direction": b"bidirectional"}, "direction='bidirectional'"),
        ({"activations": ["HardSigmoid", "Tanh", "Tanh"]}, r"HardSigmoid \(alpha=0.2, beta=0.5\)"),
        ({"activations": ["Sigmoid", "Tanh", "Relu"]}, "g=Tanh and h=Relu differ"),
        ({"activations": ["Sigmoid", "LeakyRelu", "LeakyRelu"]}, r"LeakyRelu \(alpha=0.01\)"),
        ({"activations": ["Sigmoid", "Affine", "Affine"], "activation_alpha": [2.0]}, r"Affine \(alpha=2.0"),
        ({"activations": ["Sigmoid", "Tanh", "Tanh"], "activation_alpha": [0.5]}, "activation_alpha"),
        ({"activations": ["Sigmoid", "Tanh"]}, "3 per direction"),
        ({"peepholes": 1}, r"\['peepholes'\] are not known"),
    ],
)
def test_attributes_lstmcore_cannot_compute_are_refused_by_name(attributes, message):
    with pytest.raises(ValueError, match=message):
        layout.onnx_lstm_options(attributes)


# The onnx package's own LSTM node cases --------------------------------------------------------------

# Cases that need what lstm_forward does not have yet (issue: directions, lengths); each must be
# refused with a clear error until then, never run wrong.
WAITING = {
    "test_lstm_reverse": "direction='reverse'",
    "test_lstm_bidirectional": "direction='bidirectional'",
    "test_lstm_with_peepholes": "peephole",
}


def _onnx_lstm_cases():
    onnx_case = pytest.importorskip("onnx.backend.test.case.node")
    with warnings.catch_warnings():  # other operators' cases warn while they are made
        warnings.simplefilter("ignore")
        return [c for c in onnx_case.collect_testcases() if c.model.graph.node[0].op_type == "LSTM"]


def _run_node(case):
    """[(name, lstmcore's output, the case's)] for the outputs the case names (Y, Y_h, Y_c)."""
    node = case.model.graph.node[0]
    inputs, outputs = case.data_sets[0]
    feeds = dict(zip((i.name for i in case.model.graph.input), inputs, strict=True))
    options = layout.onnx_lstm_options(node)
    batch_first = any(a.name == "layout" and a.i == 1 for a in node.attribute)
    w_x, w_h, b = layout.from_onnx(feeds["W"], feeds["R"], feeds.get("B"), feeds.get("P"))
    x = feeds["X"] if batch_first else feeds["X"].transpose(1, 0, 2)
    if "sequence_lens" in feeds:
        raise ValueError("sequence_lens: lstm_forward has no lengths yet")
    h0, c0 = (feeds[k][0] if k in feeds else None for k in ("initial_h", "initial_c"))  # (D, B, H)
    y, h_n, c_n = lstmcore.lstm_forward(np.ascontiguousarray(x), w_x, w_h, b, h0, c0, **options)
    expected = dict(zip((o.name for o in case.model.graph.output), outputs, strict=True))
    checks = []
    if "Y" in expected:  # (T, D, B, H), or (B, T, D, H) with layout=1
        want = expected["Y"][:, :, 0] if batch_first else expected["Y"][:, 0].transpose(1, 0, 2)
        checks.append(("Y", y, want))
    if "Y_h" in expected:  # (D, B, H), or (B, D, H) with layout=1
        checks.append(("Y_h", h_n, expected["Y_h"].reshape(h_n.shape)))
    if "Y_c" in expected:
        checks.append(("Y_c", c_n, expected["Y_c"].reshape(c_n.shape)))
    return checks


def test_onnx_package_lstm_node_cases():
    cases = _onnx_lstm_cases()
    names = {c.name for c in cases}
    assert {"test_lstm_defaults", "test_lstm_with_initial_bias", "test_lstm_batchwise"} <= names
    for case in cases:
        if case.name in WAITING:
            with pytest.raises(ValueError, match=WAITING[case.name]):
                _run_node(case)
            continue
        checks = _run_node(case)
        assert checks, case.name
        for name, got, want in checks:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{case.name} {name}")

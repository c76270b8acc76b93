"""ONNX recurrent-node attributes: each one either becomes the forward's options or is refused by name.

``layout.onnx_lstm_options``, ``onnx_gru_options`` and ``onnx_rnn_options`` read a node's
attributes (a dict here; a NodeProto where onnx is installed), and ``onnx_*_attributes`` write
them back. What the options compute is checked against ONNX Runtime and the onnx package's own
node cases in tests/io/test_onnx_nodes.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from lstmcore import layout
from lstmcore.engine import _validate

DEFAULTS = {"activation": "tanh", "recurrent_activation": "sigmoid"}
GRU_DEFAULTS = {"reset_after": False, **DEFAULTS}


# LSTM -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attributes, options",
    [
        ({}, DEFAULTS),
        ({"hidden_size": 7, "layout": 1, "direction": "forward", "input_forget": 0}, DEFAULTS),
        ({"direction": b"forward", "layout": 0}, DEFAULTS),
        ({"activations": ["Sigmoid", "Relu", "Relu"]}, {**DEFAULTS, "activation": "relu"}),
        ({"activations": [b"Sigmoid", b"Tanh", b"Tanh"]}, DEFAULTS),
        ({"activations": ["sigmoid", "TANH", "tanh"]}, DEFAULTS),  # ONNX Runtime ignores the case too
        # Keras's hard_sigmoid (alpha 1/6, a float32 attribute) is lstmcore's own.
        (
            {
                "activations": ["HardSigmoid", "Tanh", "Tanh"],
                "activation_alpha": [1 / 6],
                "activation_beta": [0.5],
            },
            {**DEFAULTS, "recurrent_activation": "hard_sigmoid"},
        ),
        (
            {"activations": ["HardSigmoid", "Tanh", "Tanh"], "activation_alpha": [np.float32(1 / 6)]},
            {**DEFAULTS, "recurrent_activation": "hard_sigmoid"},
        ),
        # ONNX's own HardSigmoid default is alpha 0.2, kept as the number it was written as.
        (
            {"activations": ["HardSigmoid", "Tanh", "Tanh"]},
            {**DEFAULTS, "recurrent_activation": ("hard_sigmoid", 0.2, 0.5)},
        ),
        (
            {
                "activations": ["Sigmoid", "Affine", "Affine"],
                "activation_alpha": [1.0, 1.0],
                "activation_beta": [0.0, 0.0],
            },
            {**DEFAULTS, "activation": "linear"},
        ),
        (
            {
                "activations": ["Sigmoid", "Affine", "Affine"],
                "activation_alpha": [2.0, 2.0],
                "activation_beta": [0.5, 0.5],
            },
            {**DEFAULTS, "activation": ("affine", 2.0, 0.5)},
        ),
        ({"activations": ["Sigmoid", "Sigmoid", "Sigmoid"]}, {**DEFAULTS, "activation": "sigmoid"}),
        # g and h differ: h becomes output_activation.
        ({"activations": ["Sigmoid", "Tanh", "Relu"]}, {**DEFAULTS, "output_activation": "relu"}),
        (
            {"activations": ["Sigmoid", "Softsign", "Softplus"]},
            {**DEFAULTS, "activation": "softsign", "output_activation": "softplus"},
        ),
        # Parameters are consumed in order by the activations that take them, alpha and beta apart.
        (
            {
                "activations": ["HardSigmoid", "LeakyRelu", "Elu"],
                "activation_alpha": [0.3, 0.2, 0.5],
                "activation_beta": [0.4],
            },
            {
                "recurrent_activation": ("hard_sigmoid", 0.3, 0.4),
                "activation": ("leaky_relu", 0.2),
                "output_activation": ("elu", 0.5),
            },
        ),
        (
            {
                "activations": ["Sigmoid", "ScaledTanh", "ThresholdedRelu"],
                "activation_alpha": [1.5, 2.0],
                "activation_beta": [0.7],
            },
            {
                **DEFAULTS,
                "activation": ("scaled_tanh", 1.5, 0.7),
                "output_activation": ("thresholded_relu", 2.0),
            },
        ),
        # The defaults of the one-parameter activations are lstmcore's too.
        ({"activations": ["Sigmoid", "LeakyRelu", "LeakyRelu"]}, {**DEFAULTS, "activation": "leaky_relu"}),
        (
            {"activations": ["Sigmoid", "Elu", "ThresholdedRelu"]},
            {**DEFAULTS, "activation": "elu", "output_activation": "thresholded_relu"},
        ),
        # float32 attributes read as the numbers they were written as
        (
            {"activations": ["Sigmoid", "LeakyRelu", "LeakyRelu"], "activation_alpha": [np.float32(0.1)] * 2},
            {**DEFAULTS, "activation": ("leaky_relu", 0.1)},
        ),
        ({"clip": 3.0}, {**DEFAULTS, "clip": 3.0}),
        ({"clip": np.float32(0.1)}, {**DEFAULTS, "clip": 0.1}),
        ({"input_forget": 1}, {**DEFAULTS, "input_forget": True}),
    ],
)
def test_lstm_attributes_become_options(attributes, options):
    assert layout.onnx_lstm_options(attributes) == options


@pytest.mark.parametrize(
    "attributes, message",
    [
        ({"direction": b"bidirectional"}, "direction='bidirectional' has two directions: pass direction=0"),
        ({"direction": "sideways"}, "direction must be one of"),
        ({"activations": ["Sigmoid", "Gelu", "Tanh"]}, r"activation Gelu \(g\) is not supported"),
        ({"activations": ["Sigmoid", "Tanh", "Tanh"], "activation_alpha": [0.5]}, "activation_alpha"),
        ({"activations": ["Sigmoid", "Tanh", "Tanh"], "activation_beta": [0.5]}, "activation_beta"),
        (
            {"activations": ["Sigmoid", "LeakyRelu", "Tanh"], "activation_alpha": [0.5, 0.1]},
            "activation_alpha",
        ),
        ({"activations": ["Sigmoid", "Tanh"]}, r"3 per direction \(f, g, h\)"),
        ({"activations": ["Sigmoid", "Tanh", "Tanh"] * 2}, r"3 per direction \(f, g, h\)"),
        ({"peepholes": 1}, r"\['peepholes'\] are not known"),
        ({"linear_before_reset": 1}, r"\['linear_before_reset'\] are not known"),
        ({"input_forget": 2}, "input_forget must be 0 or 1, got 2"),
        ({"layout": 2}, "layout must be 0 or 1, got 2"),
        # No default that ONNX and ONNX Runtime agree on: the node must state them.
        ({"activations": ["Sigmoid", "Affine", "Tanh"]}, r"Affine \(g\) needs its alpha"),
        (
            {"activations": ["Sigmoid", "Tanh", "Affine"], "activation_alpha": [2.0]},
            r"Affine \(h\) needs its beta",
        ),
        ({"activations": ["Sigmoid", "ScaledTanh", "Tanh"]}, r"ScaledTanh \(g\) needs its alpha"),
        # Parameters lstmcore's activations refuse
        ({"activations": ["Sigmoid", "Elu", "Tanh"], "activation_alpha": [-1.0]}, "'elu': alpha must be > 0"),
        (
            {"activations": ["Sigmoid", "Tanh", "LeakyRelu"], "activation_alpha": [-0.5]},
            "'leaky_relu': alpha must be >= 0",
        ),
    ],
)
def test_lstm_attributes_lstmcore_cannot_compute_are_refused_by_name(attributes, message):
    with pytest.raises(ValueError, match=message):
        layout.onnx_lstm_options(attributes)


# GRU and RNN ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attributes, options",
    [
        ({}, GRU_DEFAULTS),
        ({"hidden_size": 4, "layout": 1, "direction": "forward"}, GRU_DEFAULTS),
        ({"linear_before_reset": 0}, GRU_DEFAULTS),
        ({"linear_before_reset": 1}, {**GRU_DEFAULTS, "reset_after": True}),
        (
            {"activations": ["HardSigmoid", "Relu"]},
            {**GRU_DEFAULTS, "recurrent_activation": ("hard_sigmoid", 0.2, 0.5), "activation": "relu"},
        ),
        (
            {
                "activations": ["HardSigmoid", "LeakyRelu"],
                "activation_alpha": [0.25, 0.2],
                "linear_before_reset": 1,
            },
            {
                "reset_after": True,
                "recurrent_activation": ("hard_sigmoid", 0.25, 0.5),
                "activation": ("leaky_relu", 0.2),
            },
        ),
    ],
)
def test_gru_attributes_become_options(attributes, options):
    assert layout.onnx_gru_options(attributes) == options


@pytest.mark.parametrize(
    "attributes, message",
    [
        ({"clip": 2.0}, "clip=2.0 .*not supported by lstmcore's GRU"),
        ({"direction": "bidirectional"}, "direction='bidirectional' has two directions"),
        ({"input_forget": 1}, r"GRU attributes \['input_forget'\] are not known"),
        ({"activations": ["Sigmoid", "Tanh", "Tanh"]}, r"2 per direction \(f, g\)"),
        ({"linear_before_reset": 2}, "linear_before_reset must be 0 or 1, got 2"),
        ({"activations": ["Sigmoid", "Tanh"], "activation_alpha": [1.0]}, "activation_alpha"),
    ],
)
def test_gru_attributes_lstmcore_cannot_compute_are_refused_by_name(attributes, message):
    with pytest.raises(ValueError, match=message):
        layout.onnx_gru_options(attributes)


@pytest.mark.parametrize(
    "attributes, options",
    [
        ({}, {"activation": "tanh"}),
        ({"hidden_size": 4, "layout": 1}, {"activation": "tanh"}),
        ({"activations": ["Relu"]}, {"activation": "relu"}),
        ({"activations": ["Elu"], "activation_alpha": [0.5]}, {"activation": ("elu", 0.5)}),
        (
            {"activations": ["Affine"], "activation_alpha": [0.6], "activation_beta": [0.2]},
            {"activation": ("affine", 0.6, 0.2)},
        ),
    ],
)
def test_rnn_attributes_become_options(attributes, options):
    assert layout.onnx_rnn_options(attributes) == options


@pytest.mark.parametrize(
    "attributes, message",
    [
        ({"clip": 2.0}, "clip=2.0 .*not supported by lstmcore's RNN"),
        ({"direction": "bidirectional", "activations": ["Tanh"]}, r"1 per direction \(f\) for 2 directions"),
        ({"activations": ["Tanh", "Tanh"]}, r"1 per direction \(f\)"),
        ({"linear_before_reset": 1}, r"RNN attributes \['linear_before_reset'\] are not known"),
        ({"activations": ["Affine"]}, r"Affine \(f\) needs its alpha"),
    ],
)
def test_rnn_attributes_lstmcore_cannot_compute_are_refused_by_name(attributes, message):
    with pytest.raises(ValueError, match=message):
        layout.onnx_rnn_options(attributes)


# Directions -------------------------------------------------------------------------------------


def test_directions_become_options():
    """reverse adds reverse=True; each direction of a bidirectional node has its own activations,
    alpha and beta consumed in order across both."""
    assert layout.onnx_lstm_options({"direction": "reverse"}) == {**DEFAULTS, "reverse": True}
    assert layout.onnx_gru_options({"direction": b"reverse"}) == {**GRU_DEFAULTS, "reverse": True}
    assert layout.onnx_rnn_options({"direction": "reverse"}, 0) == {"activation": "tanh", "reverse": True}
    node = {
        "direction": "bidirectional",
        "activations": ["Sigmoid", "LeakyRelu", "Tanh", "HardSigmoid", "Tanh", "ScaledTanh"],
        "activation_alpha": [0.3, 0.25, 1.5],
        "activation_beta": [0.6, 0.7],
    }
    assert layout.onnx_lstm_options(node, 0) == {
        "activation": ("leaky_relu", 0.3),
        "recurrent_activation": "sigmoid",
        "output_activation": "tanh",
    }
    assert layout.onnx_lstm_options(node, 1) == {
        "activation": "tanh",
        "recurrent_activation": ("hard_sigmoid", 0.25, 0.6),
        "output_activation": ("scaled_tanh", 1.5, 0.7),
        "reverse": True,
    }
    rnn = {"direction": "bidirectional", "activations": ["Relu", "Tanh"]}
    assert layout.onnx_rnn_options(rnn, 1) == {"activation": "tanh", "reverse": True}
    with pytest.raises(ValueError, match=r"direction must be in \[0, 2\)"):
        layout.onnx_gru_options({"direction": "bidirectional"}, 2)
    with pytest.raises(ValueError, match=r"direction must be in \[0, 1\)"):
        layout.onnx_gru_options({}, 1)
    with pytest.raises(TypeError, match="direction must be an int"):
        layout.onnx_rnn_options({}, "0")


# NodeProto --------------------------------------------------------------------------------------


def test_node_protos_are_read():
    onnx = pytest.importorskip("onnx")
    node = onnx.helper.make_node(
        "LSTM",
        ["X", "W", "R"],
        ["Y"],
        hidden_size=3,
        activations=["HardSigmoid", "Tanh", "Softsign"],
        activation_alpha=[0.3],
        clip=0.5,
        input_forget=1,
    )
    assert layout.onnx_lstm_options(node) == {
        "activation": "tanh",
        "recurrent_activation": ("hard_sigmoid", 0.3, 0.5),
        "output_activation": "softsign",
        "clip": 0.5,
        "input_forget": True,
    }
    gru = onnx.helper.make_node("GRU", ["X", "W", "R"], ["Y"], hidden_size=3, linear_before_reset=1)
    assert layout.onnx_gru_options(gru) == {**GRU_DEFAULTS, "reset_after": True}
    rnn = onnx.helper.make_node("RNN", ["X", "W", "R"], ["Y"], hidden_size=3, activations=["Relu"])
    assert layout.onnx_rnn_options(rnn) == {"activation": "relu"}


@pytest.mark.parametrize(
    "reader, op", [("onnx_lstm_options", "GRU"), ("onnx_gru_options", "LSTM"), ("onnx_rnn_options", "GRU")]
)
def test_a_node_of_another_operator_is_refused(reader, op):
    onnx = pytest.importorskip("onnx")
    node = onnx.helper.make_node(op, ["X", "W", "R"], ["Y"], hidden_size=3)
    with pytest.raises(ValueError, match=f"got '{op}'"):
        getattr(layout, reader)(node)


# Back to attributes -----------------------------------------------------------------------------


def _specs(options):
    """Options with every activation as its (code, alpha, beta): equal maths, equal values."""
    out = dict(options)
    for key in ("activation", "recurrent_activation", "output_activation"):
        if key in out:
            out[key] = _validate.activation_spec(out[key], key)
    return out


LSTM_OPTIONS = [
    {},
    {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
    {"activation": "linear", "output_activation": "softsign", "clip": 2.5, "input_forget": True},
    {
        "activation": ("leaky_relu", 0.2),
        "recurrent_activation": ("hard_sigmoid", 0.25, 0.4),
        "output_activation": "elu",
    },
    {
        "activation": ("scaled_tanh", 1.5, 0.5),
        "output_activation": ("affine", 2.0, -1.0),
        "recurrent_activation": "sigmoid",
    },
    {
        "activation": "thresholded_relu",
        "output_activation": ("thresholded_relu", 0.5),
        "recurrent_activation": "softplus",
    },
]


@pytest.mark.parametrize("options", LSTM_OPTIONS)
def test_lstm_attributes_round_trip(options):
    attributes = layout.onnx_lstm_attributes(**options)
    back = layout.onnx_lstm_options(attributes)
    full = {"activation": "tanh", "recurrent_activation": "sigmoid", **options}
    if _validate.activation_spec(
        full.get("output_activation", full["activation"]), "h"
    ) == _validate.activation_spec(full["activation"], "g"):
        full.pop("output_activation", None)
    assert _specs(back) == _specs(full)


def test_lstm_attributes_state_every_parameter():
    """Keras's hard_sigmoid (1/6) differs from ONNX's default: the attributes must say alpha."""
    attributes = layout.onnx_lstm_attributes(recurrent_activation="hard_sigmoid", activation="linear")
    assert attributes == {
        "activations": ["HardSigmoid", "Affine", "Affine"],
        "activation_alpha": [1 / 6, 1.0, 1.0],
        "activation_beta": [0.5, 0.0, 0.0],
    }
    assert layout.onnx_lstm_attributes() == {"activations": ["Sigmoid", "Tanh", "Tanh"]}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"reset_after": False},
        {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
        {"reset_after": True, "activation": ("elu", 0.5), "recurrent_activation": ("hard_sigmoid", 0.2, 0.5)},
    ],
)
def test_gru_attributes_round_trip(options):
    full = {"reset_after": True, "activation": "tanh", "recurrent_activation": "sigmoid", **options}
    attributes = layout.onnx_gru_attributes(**options)
    assert attributes["linear_before_reset"] == int(full["reset_after"])
    assert _specs(layout.onnx_gru_options(attributes)) == _specs(full)


@pytest.mark.parametrize("activation", ["tanh", "relu", ("leaky_relu", 0.3), "linear", ("affine", 0.5, 0.1)])
def test_rnn_attributes_round_trip(activation):
    back = layout.onnx_rnn_options(layout.onnx_rnn_attributes(activation=activation))
    assert _specs(back) == _specs({"activation": activation})


def test_attribute_writers_refuse_what_lstmcore_does_not_know():
    with pytest.raises(ValueError, match="gelu"):
        layout.onnx_rnn_attributes(activation="gelu")
    with pytest.raises(ValueError, match="'tanh' takes no parameters"):
        layout.onnx_gru_attributes(activation=("tanh", 1.0))

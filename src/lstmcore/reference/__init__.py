"""The pure-NumPy reference: the readable twin of the compiled engine, name for name.

One module per cell (``lstm``, ``gru``, ``rnn``), the activations they share (``activations``),
the plumbing their steppers share (``_stepper``), and the engine's housekeeping functions, which
the reference needs only to have the same names.
``LSTMCORE_BACKEND=reference`` makes ``lstmcore`` run these.
"""

from __future__ import annotations

import sys

from ..engine import _stack, _validate
from ..engine._stack import StackCache
from .activations import hard_sigmoid, sigmoid
from .gru import (
    GRUCache,
    GRUStepper,
    gru_backward,
    gru_cell_forward,
    gru_forward,
    gru_gates_backward,
    gru_gates_forward,
)
from .lstm import (
    LSTMCache,
    LSTMStepper,
    gates_backward,
    gates_forward,
    lstm_backward,
    lstm_cell_forward,
    lstm_forward,
)
from .rnn import (
    RNNCache,
    RNNStepper,
    rnn_backward,
    rnn_cell_forward,
    rnn_forward,
    rnn_gates_backward,
    rnn_gates_forward,
)

__all__ = [
    "StackCache",
    "StackStepper",
    "stack_backward",
    "stack_forward",
    "GRUCache",
    "GRUStepper",
    "LSTMCache",
    "LSTMStepper",
    "RNNCache",
    "RNNStepper",
    "gates_backward",
    "gates_forward",
    "gru_backward",
    "gru_cell_forward",
    "gru_forward",
    "gru_gates_backward",
    "gru_gates_forward",
    "hard_sigmoid",
    "lstm_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "release_workspaces",
    "rnn_backward",
    "rnn_cell_forward",
    "rnn_forward",
    "rnn_gates_backward",
    "rnn_gates_forward",
    "set_workspace_limit",
    "sigmoid",
]


def release_workspaces():
    """The compiled engine frees the scratch memory its backward keeps; the reference keeps none."""
    return 0


def set_workspace_limit(nbytes):
    """The compiled engine's bound on kept scratch memory; the reference keeps none."""
    if nbytes is not None:
        _validate.nonnegative_int("nbytes", nbytes)
    return 0


# Stacks and directions: the compiled backend's composition, over the functions above
stack_forward, stack_backward, StackStepper = _stack.bind(sys.modules[__name__])

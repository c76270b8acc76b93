"""The ``SimpleRNN`` layer: Keras 3's arguments on the engine's ``rnn_forward``/``rnn_backward``/
``RNNStepper`` (what the recurrent layers share is in ``rnn.py``)."""

from __future__ import annotations

from .rnn import Recurrent, _cell_activation


class SimpleRNN(Recurrent):
    """Fully connected recurrent layer, h = activation(x @ kernel + h_prev @ recurrent_kernel +
    bias), Keras 3 arguments and defaults. Weights: ``kernel`` (I, H), ``recurrent_kernel`` (H, H),
    ``bias`` (H); ``activation`` any of the engine's cell activations by Keras name."""

    cell = "rnn"
    gates = 1

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, activation=_cell_activation("activation", activation), **kwargs)

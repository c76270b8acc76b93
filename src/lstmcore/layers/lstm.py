"""The ``LSTM`` layer: Keras 3's arguments on the engine's ``lstm_forward``/``lstm_backward``/
``LSTMStepper`` (what the recurrent layers share is in ``rnn.py``)."""

from __future__ import annotations

from .. import initializers
from .rnn import Recurrent, _cell_activation, _engine

# LSTM -------------------------------------------------------------------------------------------------


class LSTM(Recurrent):
    """Long short-term memory layer, Keras 3 arguments and defaults.

    Weights, in Keras's order and layout: ``kernel`` (I, 4H), ``recurrent_kernel`` (H, 4H),
    ``bias`` (4H), gate blocks i, f, g, o; states (h, c). ``unit_forget_bias`` starts the forget
    gate's bias at 1, as Keras does.
    """

    cell = "lstm"
    gates = 4
    state_names = ("h", "c")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        seed=None,
        **kwargs,
    ):
        _cell_activation("activation", activation)
        _cell_activation("recurrent_activation", recurrent_activation)
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            seed=seed,
            **kwargs,
        )
        self.recurrent_activation = recurrent_activation
        self.unit_forget_bias = bool(unit_forget_bias)

    def engine_options(self) -> dict:
        return {
            "activation": _engine(self.activation),
            "recurrent_activation": _engine(self.recurrent_activation),
        }

    def _initial_value(self, name, shape, init, rng, dtype):
        value = initializers.get(init)(shape, rng, dtype)
        if name == "bias" and self.unit_forget_bias:
            H = self.units
            value[H : 2 * H] = 1  # Keras: the forget gate starts open
        return value

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(recurrent_activation=self.recurrent_activation, unit_forget_bias=self.unit_forget_bias)
        return config

"""The ``GRU`` layer: Keras 3's arguments on the engine's ``gru_forward``/``gru_backward``/
``GRUStepper`` (what the recurrent layers share is in ``rnn.py``)."""

from __future__ import annotations

from .rnn import Recurrent, _cell_activation, _engine


class GRU(Recurrent):
    """Gated recurrent unit layer, Keras 3 arguments and defaults.

    Weights, in Keras's order and layout: ``kernel`` (I, 3H), ``recurrent_kernel`` (H, 3H), gate
    blocks z, r, n; ``bias`` (2, 3H) (input and recurrent biases) with ``reset_after=True``
    (Keras 3's default: the reset gate multiplies the recurrent product, as in PyTorch and cuDNN),
    (3H,) with ``reset_after=False``. ``activation`` and ``recurrent_activation`` are any of the
    engine's cell activations by Keras name (tanh, sigmoid, hard_sigmoid, relu, elu, softsign, ...).
    """

    cell = "gru"
    gates = 3

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        *,
        reset_after=True,
        **kwargs,
    ):
        # Keras's positional order; the rest (dropout, return_sequences, stateful, ...) by keyword,
        # as in Keras, where the regularizers come next
        super().__init__(
            units,
            _cell_activation("activation", activation),
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            **kwargs,
        )
        self.recurrent_activation = _cell_activation("recurrent_activation", recurrent_activation)
        self.reset_after = bool(reset_after)

    def engine_options(self) -> dict:
        return {
            "activation": _engine(self.activation),
            "recurrent_activation": _engine(self.recurrent_activation),
            "reset_after": self.reset_after,
        }

    def bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(recurrent_activation=self.recurrent_activation, reset_after=self.reset_after)
        return config

"""The ``LSTM`` layer: Keras's arguments on the engine's ``lstm_forward``/``lstm_backward``/
``LSTMStepper``, looked up at call time through the module attribute ``_ops`` (compiled, or the
reference with ``LSTMCORE_BACKEND=reference``)."""

from __future__ import annotations

import numpy as np

from .. import initializers
from ..engine import _backend as _ops
from ..engine import _validate
from .base import Layer, _dropout_mask, _initializer, _layer_rng, _positive_int, _rate, _seed_arg

# LSTM -------------------------------------------------------------------------------------------------


class LSTM(Layer):
    """Long short-term memory layer, Keras 3 arguments and defaults.

    Weights, in Keras's order and layout: ``kernel`` (I, 4H), ``recurrent_kernel`` (H, 4H),
    ``bias`` (4H), gate blocks i, f, g, o.

    ``stateful=True`` carries h, c from one batch (or predict call) to the next, as Keras does; the
    gradient stops at the batch boundary. ``dropout`` masks the inputs with one mask per sequence;
    ``recurrent_dropout`` masks h_prev before the recurrent product with one (B, H) mask per
    sequence (Keras's semantics), passed to the engine as ``lstm_forward``'s ``recurrent_mask``.
    """

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
        super().__init__(**kwargs)
        self.units = _positive_int("units", units)
        _validate.activation_code(activation, _validate.ACTIVATIONS, "activation")
        _validate.activation_code(
            recurrent_activation, _validate.RECURRENT_ACTIVATIONS, "recurrent_activation"
        )
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializer("kernel_initializer", kernel_initializer)
        self.recurrent_initializer = _initializer("recurrent_initializer", recurrent_initializer)
        self.bias_initializer = _initializer("bias_initializer", bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.dropout = _rate("dropout", dropout)
        self.recurrent_dropout = _rate("recurrent_dropout", recurrent_dropout)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.seed = _seed_arg(seed)
        self._states: tuple[np.ndarray, np.ndarray] | None = None
        self._stepper = None  # packed weights for step(), made at the first step after a change
        self._streaming = False  # True while the carried state lives in the stepper
        self._cache = None
        self._zero_bias = None

    @property
    def states(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The carried (h, c), each (B, H), or None: set by stateful calls and by ``step``."""
        if self._streaming:
            return self._stepper.h, self._stepper.c
        return self._states

    @states.setter
    def states(self, value) -> None:
        self._streaming = False
        self._states = value

    def weights_changed(self) -> None:
        """Drop the packed weights of ``step`` (the model calls this after each update)."""
        if self._stepper is not None:
            if self._streaming:
                self.states = (self._stepper.h, self._stepper.c)
            self._stepper = None

    def _check_input_shape(self, input_shape) -> None:
        if len(input_shape) != 2:
            raise ValueError(
                f"LSTM expects inputs of shape (batch, timesteps, features), i.e. an input_shape of "
                f"2 values (timesteps, features); got input_shape {tuple(input_shape)}"
            )

    def _on_build(self, seed_rng) -> None:
        self._rng = _layer_rng(self.seed, seed_rng)

    def weight_specs(self, input_shape):
        I, G = input_shape[-1], 4 * self.units
        specs = [
            ("kernel", (I, G), self.kernel_initializer),
            ("recurrent_kernel", (self.units, G), self.recurrent_initializer),
        ]
        if self.use_bias:
            specs.append(("bias", (G,), self.bias_initializer))
        return specs

    def _initial_value(self, name, shape, init, rng, dtype):
        value = initializers.get(init)(shape, rng, dtype)
        if name == "bias" and self.unit_forget_bias:
            H = self.units
            value[H : 2 * H] = 1  # Keras: the forget gate starts open
        return value

    def output_shape(self, input_shape):
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def _bias(self, dtype):
        if self.use_bias:
            return self.params["bias"]
        if self._zero_bias is None or self._zero_bias.dtype != dtype:
            self._zero_bias = np.zeros(4 * self.units, dtype=dtype)
        return self._zero_bias

    def _initial_state(self, B: int, dtype):
        if self.states is None:
            return None, None
        h, c = self.states
        if h.shape[0] != B:
            raise ValueError(
                f"layer {self.name!r} carries states for a batch of {h.shape[0]} sequences and got "
                f"a batch of {B}; a stateful layer needs the same batch size every call "
                "(call reset_states() to start over)"
            )
        return h.astype(dtype, copy=False), c.astype(dtype, copy=False)

    def forward(self, x, training=False):
        B, T, _ = x.shape
        if self.go_backwards:
            x = x[:, ::-1]
        w_x, w_h, b = self.params["kernel"], self.params["recurrent_kernel"], self._bias(x.dtype)
        mask_x = None
        if training and self.dropout > 0:
            mask_x = _dropout_mask(self._rng, (B, 1, x.shape[2]), self.dropout, x.dtype)
            x = x * mask_x
        h0, c0 = self._initial_state(B, x.dtype) if self.stateful else (None, None)
        options = {
            "activation": self.activation,
            "recurrent_activation": self.recurrent_activation,
            "check_finite": False,
        }
        if not training:
            y, h_n, c_n = _ops.lstm_forward(x, w_x, w_h, b, h0, c0, **options)
        else:
            mask_h = None
            if self.recurrent_dropout > 0:  # one mask on h_prev per sequence, as Keras
                mask_h = _dropout_mask(self._rng, (B, self.units), self.recurrent_dropout, x.dtype)
            y, h_n, c_n, cache = _ops.lstm_forward(
                x, w_x, w_h, b, h0, c0, recurrent_mask=mask_h, return_cache=True, **options
            )
            self._cache = (cache, mask_x)
        if self.stateful:
            self.states = (h_n, c_n)
        if self.return_state:
            return (y if self.return_sequences else h_n), h_n, c_n
        return y if self.return_sequences else h_n

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        cache, mask_x = self._cache
        self._cache = None
        dy_seq, dh_n = (dy, None) if self.return_sequences else (None, dy)
        grads = _ops.lstm_backward(dy_seq, cache, dh_n, check_finite=False)
        self.grads["kernel"][...] = grads["dw_x"]
        self.grads["recurrent_kernel"][...] = grads["dw_h"]
        if self.use_bias:
            self.grads["bias"][...] = grads["db"]
        dx = grads["dx"]
        if mask_x is not None:
            dx *= mask_x
        if self.go_backwards:
            dx = dx[:, ::-1]
        return dx

    def step(self, x_t):
        if self.go_backwards:
            raise ValueError(f"layer {self.name!r} has go_backwards=True: it cannot run one step at a time")
        B, dtype = x_t.shape[0], x_t.dtype
        stepper = self._stepper
        if not self._streaming or stepper.batch_size != B or stepper.dtype != dtype:
            h, c = self._initial_state(B, dtype)  # checks the batch size of carried states
            if stepper is None or stepper.batch_size != B or stepper.dtype != dtype:
                stepper = self._stepper = _ops.LSTMStepper(
                    self.params["kernel"],
                    self.params["recurrent_kernel"],
                    self._bias(dtype),
                    batch_size=B,
                    activation=self.activation,
                    recurrent_activation=self.recurrent_activation,
                    check_finite=False,
                )
            stepper.reset(h, c)
            self._streaming = True
        return stepper.step(x_t)

    def reset_states(self) -> None:
        self.states = None

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            recurrent_activation=self.recurrent_activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            recurrent_initializer=self.recurrent_initializer,
            bias_initializer=self.bias_initializer,
            unit_forget_bias=self.unit_forget_bias,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            go_backwards=self.go_backwards,
            stateful=self.stateful,
            seed=self.seed,
        )
        return config

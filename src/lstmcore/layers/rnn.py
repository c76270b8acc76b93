"""What the recurrent layers (``LSTM``, ``GRU``, ``SimpleRNN``) share: Keras 3's common arguments,
dropout and recurrent dropout, ``go_backwards``, ``return_sequences``/``return_state``, stateful
states, streaming steps and the calls into the engine, written once. A cell's layer says only its
engine name, its gate count, its states, its own arguments and its weights' initial values.

The engine's functions are looked up at call time through the module attribute ``_ops``
(compiled, or the reference with ``LSTMCORE_BACKEND=reference``): ``<cell>_forward``,
``<cell>_backward`` and the cell's stepper class.
"""

from __future__ import annotations

import numpy as np

from .. import activations
from ..engine import _backend as _ops
from .base import Layer, _dropout_mask, _initializer, _layer_rng, _positive_int, _rate, _seed_arg


def _cell_activation(name: str, value) -> str:
    """A Keras activation name the engine's cells have (``activations.RECURRENT_NAMES``)."""
    activations.engine_spec(value, name)
    return value


def _engine(value):
    """The engine's spec of a Keras activation name (leaky_relu with Keras's slope 0.2, ...)."""
    return activations.engine_spec(value)


class Recurrent(Layer):
    """The base of the recurrent layers (not a layer itself).

    Subclasses set ``cell`` (the engine's name: "lstm", "gru", "rnn"), ``gates`` (weight blocks
    per unit), ``state_names`` (the stepper's attributes, in Keras's order of states), and define
    ``engine_options`` (keywords for the engine's forward and stepper) and, where the bias is not
    (gates * units,), ``bias_shape``.

    ``stateful=True`` carries the states from one batch (or predict call) to the next, as Keras
    does; the gradient stops at the batch boundary. ``dropout`` masks the inputs with one mask per
    sequence; ``recurrent_dropout`` masks h_prev before the recurrent product with one (B, H) mask
    per sequence (Keras's semantics), the engine's ``recurrent_mask``. ``go_backwards`` reads the
    steps from the last to the first and returns the outputs in that order, as Keras does.

    Masks (``forward(x, mask=...)``, (B, T) bool, from ``Masking`` or ``Embedding(mask_zero=True)``):
    the engine's masked sequences, Keras 3's semantics: a masked step keeps the states and outputs
    the previous output (0 before a row's first valid step, and at every masked step with
    ``zero_output_for_mask=True``); the output mask is the input's with ``return_sequences``, else
    None.
    """

    cell = ""
    gates = 1
    state_names: tuple[str, ...] = ("h",)
    supports_masking = True
    regularized = {"kernel": "kernel", "recurrent": "recurrent_kernel", "bias": "bias"}

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        seed=None,
        zero_output_for_mask=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _positive_int("units", units)
        self.activation = activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializer("kernel_initializer", kernel_initializer)
        self.recurrent_initializer = _initializer("recurrent_initializer", recurrent_initializer)
        self.bias_initializer = _initializer("bias_initializer", bias_initializer)
        self.dropout = _rate("dropout", dropout)
        self.recurrent_dropout = _rate("recurrent_dropout", recurrent_dropout)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.seed = _seed_arg(seed)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self._states: tuple[np.ndarray, ...] | None = None
        self._stepper = None  # packed weights for step(), made at the first step after a change
        self._streaming = False  # True while the carried states live in the stepper
        self._cache = None
        self._zero_bias = None

    # What a cell's layer defines.
    def engine_options(self) -> dict:
        return {"activation": _engine(self.activation)}

    def bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    # States.
    @property
    def states(self) -> tuple[np.ndarray, ...] | None:
        """The carried states (h, or h and c for the LSTM), each (B, H), or None: set by stateful
        calls and by ``step``."""
        if self._streaming:
            return tuple(getattr(self._stepper, n) for n in self.state_names)
        return self._states

    @states.setter
    def states(self, value) -> None:
        self._streaming = False
        self._states = None if value is None else tuple(value)

    def weights_changed(self) -> None:
        """Drop the packed weights of ``step`` (the model calls this after each update)."""
        if self._stepper is not None:
            if self._streaming:
                self.states = self.states
            self._stepper = None

    def reset_states(self) -> None:
        self.states = None

    def reset_state(self) -> None:
        """Keras 3's name of ``reset_states``."""
        self.reset_states()

    def _initial_states(self, B: int, dtype) -> tuple:
        if self.states is None:
            return (None,) * len(self.state_names)
        states = self.states
        if states[0].shape[0] != B:
            raise ValueError(
                f"layer {self.name!r} carries states for a batch of {states[0].shape[0]} sequences "
                f"and got a batch of {B}; a stateful layer needs the same batch size every call "
                "(call reset_states() to start over)"
            )
        return tuple(s.astype(dtype, copy=False) for s in states)

    # Weights.
    def _check_input_shape(self, input_shape) -> None:
        if len(input_shape) != 2:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape (batch, timesteps, features), i.e. "
                f"an input_shape of 2 values (timesteps, features); got input_shape {tuple(input_shape)}"
            )

    def _on_build(self, seed_rng) -> None:
        self._rng = _layer_rng(self.seed, seed_rng)

    def weight_specs(self, input_shape):
        G = self.gates * self.units
        specs = [
            ("kernel", (input_shape[-1], G), self.kernel_initializer),
            ("recurrent_kernel", (self.units, G), self.recurrent_initializer),
        ]
        if self.use_bias:
            specs.append(("bias", self.bias_shape(), self.bias_initializer))
        return specs

    def output_shape(self, input_shape):
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def output_shapes(self, input_shape):
        states = [(self.units,)] * len(self.state_names) if self.return_state else []
        return [self.output_shape(input_shape), *states]

    def _bias(self, dtype):
        if self.use_bias:
            return self.params["bias"]
        if self._zero_bias is None or self._zero_bias.dtype != dtype:
            self._zero_bias = np.zeros(self.bias_shape(), dtype=dtype)
        return self._zero_bias

    # Forward, backward, step.
    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def _given_states(self, initial_state, B: int, dtype) -> tuple:
        """``initial_state``: the states (h, or [h, c] for the LSTM), each (B, units), as Keras."""
        n = len(self.state_names)
        states = [initial_state] if isinstance(initial_state, np.ndarray) else list(initial_state)
        names = ", ".join(self.state_names)
        if len(states) != n:
            raise ValueError(
                f"layer {self.name!r}: initial_state must be [{names}], {n} array(s) of shape "
                f"(batch, {self.units}); got {len(states)}"
            )
        out = []
        for name, state in zip(self.state_names, states, strict=True):
            state = np.asarray(state)
            if state.shape != (B, self.units):
                raise ValueError(
                    f"layer {self.name!r}: initial state {name} must have shape ({B}, {self.units}), "
                    f"got {state.shape}"
                )
            out.append(np.ascontiguousarray(state, dtype=dtype))
        return tuple(out)

    def forward(self, x, training=False, mask=None, initial_state=None):
        B = x.shape[0]
        w_x, w_h, b = self.params["kernel"], self.params["recurrent_kernel"], self._bias(x.dtype)
        mask_x = None
        if training and self.dropout > 0:
            mask_x = _dropout_mask(self._rng, (B, 1, x.shape[2]), self.dropout, x.dtype)
            x = x * mask_x
        if initial_state is not None:
            states0 = self._given_states(initial_state, B, x.dtype)
        elif self.stateful:
            states0 = self._initial_states(B, x.dtype)
        else:
            states0 = (None,) * len(self.state_names)
        forward = getattr(_ops, f"{self.cell}_forward")
        options = {**self.engine_options(), "check_finite": False, "reverse": self.go_backwards}
        if mask is not None:
            options.update(mask=mask, zero_output_for_mask=self.zero_output_for_mask)
        if not training:
            y, *finals = forward(x, w_x, w_h, b, *states0, **options)
        else:
            mask_h = None
            if self.recurrent_dropout > 0:  # one mask on h_prev per sequence, as Keras
                mask_h = _dropout_mask(self._rng, (B, self.units), self.recurrent_dropout, x.dtype)
            y, *finals, cache = forward(
                x, w_x, w_h, b, *states0, recurrent_mask=mask_h, return_cache=True, **options
            )
            self._cache = (cache, mask_x)
        if self.stateful:
            self.states = finals
        if self.go_backwards:  # Keras: the outputs in the order the steps were read
            y = y[:, ::-1]
        out = y if self.return_sequences else finals[0]
        return (out, *finals) if self.return_state else out

    def backward(self, dy):
        """dy: the gradient of the output, or with ``return_state`` a list [output, *states] with
        None for those that got none. Returns dx; the gradients of the initial states are left in
        ``initial_state_grads`` (the functional API passes them to the layers that made them)."""
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        cache, mask_x = self._cache
        self._cache = None
        n = len(self.state_names)
        if self.return_state and isinstance(dy, (list, tuple)):
            dy, *d_states = dy
        else:
            d_states = [None] * n
        dy_seq, dh_n = (dy, None) if self.return_sequences else (None, dy)
        if dy_seq is not None and self.go_backwards:
            dy_seq = dy_seq[:, ::-1]
        if d_states[0] is not None:
            dh_n = d_states[0] if dh_n is None else dh_n + d_states[0]
        finals = (dh_n, *d_states[1:])
        grads = getattr(_ops, f"{self.cell}_backward")(dy_seq, cache, *finals, check_finite=False)
        self.initial_state_grads = tuple(grads[f"d{name}0"] for name in self.state_names)
        self.grads["kernel"][...] = grads["dw_x"]
        self.grads["recurrent_kernel"][...] = grads["dw_h"]
        if self.use_bias:
            self.grads["bias"][...] = grads["db"]
        dx = grads["dx"]
        if mask_x is not None:
            dx *= mask_x
        return dx

    def _new_stepper(self, B: int, dtype):
        stepper = getattr(_ops, f"{self.cell.upper()}Stepper")
        w_x, w_h, b = self.params["kernel"], self.params["recurrent_kernel"], self._bias(dtype)
        return stepper(w_x, w_h, b, batch_size=B, check_finite=False, **self.engine_options())

    def step(self, x_t):
        if self.go_backwards:
            raise ValueError(f"layer {self.name!r} has go_backwards=True: it cannot run one step at a time")
        B, dtype = x_t.shape[0], x_t.dtype
        stepper = self._stepper
        if not self._streaming or stepper.batch_size != B or stepper.dtype != dtype:
            states = self._initial_states(B, dtype)  # checks the batch size of carried states
            if stepper is None or stepper.batch_size != B or stepper.dtype != dtype:
                stepper = self._stepper = self._new_stepper(B, dtype)
            stepper.reset(*states)
            self._streaming = True
        return stepper.step(x_t)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            recurrent_initializer=self.recurrent_initializer,
            bias_initializer=self.bias_initializer,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            go_backwards=self.go_backwards,
            stateful=self.stateful,
            seed=self.seed,
            zero_output_for_mask=self.zero_output_for_mask,
        )
        return config

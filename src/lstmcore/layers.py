"""Layers with Keras's names and defaults: ``LSTM``, ``Dense``, ``Dropout``, ``Input``.

A layer knows its weights' shapes and initializers, runs forward and backward on NumPy arrays, and
runs one streaming step (``step``). Its weights are views into the model's flat parameter buffer
(``params.py``); backward writes the gradients into the matching views of the gradient buffer.

Shapes are batch-first, as in Keras: LSTM takes x (B, T, I) and gives (B, T, H) with
``return_sequences`` or (B, H); Dense acts on the last axis of any input.

The LSTM kernels come from ``_backend`` (compiled, or the reference with
``LSTMCORE_BACKEND=reference``), looked up at call time through the module attribute ``_ops``.
"""

from __future__ import annotations

import numpy as np

from .engine import _backend as _ops
from . import initializers
from .engine import _validate
from . import reference as _reference
from .params import ParameterBuffer

__all__ = ["Layer", "Input", "LSTM", "Dense", "Dropout", "get_layer_class"]


# Helpers --------------------------------------------------------------------------------------------


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _rate(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a float in [0, 1), got {value!r}")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be a float in [0, 1), got {value!r}")
    return float(value)


def _shape_arg(name: str, value) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not value:
        raise TypeError(f"{name} must be a tuple of positive ints (without the batch axis), got {value!r}")
    return tuple(_positive_int(name, v) for v in value)


def _initializer(name: str, value: str) -> str:
    initializers.get(value)  # raises with the list of names
    return value


def _seed_arg(seed) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed must be None or a non-negative int, got {seed!r}")
    return seed


def _layer_rng(seed: int | None, seed_rng: np.random.Generator | None) -> np.random.Generator:
    """A layer's own generator for dropout masks: from its ``seed``, else drawn from the model's."""
    if seed is None:
        seed = int((seed_rng or initializers.new_rng()).integers(2**63))
    return np.random.default_rng(seed)


def _dropout_mask(rng: np.random.Generator, shape, rate: float, dtype) -> np.ndarray:
    # Inverted dropout, as Keras: kept units are scaled by 1 / (1 - rate).
    keep = rng.random(shape) >= rate
    return keep.astype(dtype) / dtype.type(1 - rate)


# Dense activations: forward, and the backward from the output y and the upstream gradient dy.


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_backward(y, dy):
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


_DENSE_ACTIVATIONS = {
    "linear": (lambda z: z, lambda y, dy: dy),
    "relu": (lambda z: np.maximum(z, 0), lambda y, dy: dy * (y > 0)),
    "sigmoid": (_reference.sigmoid, lambda y, dy: dy * y * (1 - y)),
    "tanh": (np.tanh, lambda y, dy: dy * (1 - y * y)),
    "hard_sigmoid": (_reference.hard_sigmoid, lambda y, dy: dy * (((y > 0) & (y < 1)) / 6)),
    "softplus": (lambda z: np.logaddexp(0, z), lambda y, dy: dy * -np.expm1(-y)),
    "elu": (
        lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
        lambda y, dy: dy * np.where(y > 0, 1, y + 1),
    ),
    "softmax": (_softmax, _softmax_backward),
}
DENSE_ACTIVATIONS = tuple(_DENSE_ACTIVATIONS)


def _dense_activation(value) -> str:
    if value is None:
        return "linear"
    if not isinstance(value, str):
        raise TypeError(f"activation must be None or one of {DENSE_ACTIVATIONS}, got {value!r}")
    if value not in _DENSE_ACTIVATIONS:
        raise ValueError(f"activation must be None or one of {DENSE_ACTIVATIONS}, got {value!r}")
    return value


# Base class -----------------------------------------------------------------------------------------


class Layer:
    """What every layer has: a name, a build step, forward/backward/step and a config."""

    def __init__(self, *, name=None, input_shape=None, dtype=None, trainable=True):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.name = name
        self.input_shape = _shape_arg("input_shape", input_shape)
        self.dtype = None if dtype is None else _validate.dtype_of(np.empty(0, dtype=dtype))
        self.trainable = bool(trainable)
        self.built = False
        self.build_shape: tuple[int, ...] | None = None  # input shape without the batch axis
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    # What a subclass defines.
    def weight_specs(self, input_shape) -> list[tuple[str, tuple[int, ...], str]]:
        """(name, shape, initializer) for each weight, in Keras's order."""
        return []

    def output_shape(self, input_shape) -> tuple[int, ...]:
        return tuple(input_shape)

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def step(self, x_t):
        """One streaming step: x_t is this layer's input at one time step, without the T axis."""
        return self.forward(x_t, training=False)

    def reset_states(self) -> None:
        pass

    def weights_changed(self) -> None:
        """Told by the model after its weights change (fit, set_weights): drop derived copies."""

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        if self.dtype is not None:
            config["dtype"] = self.dtype.name
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    # Building and binding to a parameter buffer.
    def _check_input_shape(self, input_shape) -> None:
        pass

    def build(self, input_shape, seed_rng: np.random.Generator | None = None) -> None:
        """Record the input shape and draw a seed for this layer's random numbers."""
        input_shape = tuple(int(s) for s in input_shape)
        self._check_input_shape(input_shape)
        self.build_shape = input_shape
        self.built = True
        self._on_build(seed_rng)

    def _on_build(self, seed_rng) -> None:
        pass

    def bind(self, buffer: ParameterBuffer, prefix: str) -> None:
        self.params = {n: buffer.param_views[prefix + n] for n, _, _ in self.weight_specs(self.build_shape)}
        self.grads = {n: buffer.grad_views[prefix + n] for n, _, _ in self.weight_specs(self.build_shape)}

    @property
    def weights(self) -> list[np.ndarray]:
        """The weight arrays (views into the model's buffer), in Keras's order."""
        return [self.params[n] for n, _, _ in self.weight_specs(self.build_shape)] if self.built else []

    def count_params(self) -> int:
        return sum(w.size for w in self.weights)

    def __call__(self, x, training=False):
        """Run the layer on its own (outside a model); builds it on first use with its own weights."""
        x = np.asarray(x)
        if x.dtype.kind != "f":
            x = x.astype(self.dtype or np.float32)
        if not self.built:
            self.build(x.shape[1:], initializers.new_rng())
            dtype = self.dtype or _validate.dtype_of(x)
            specs = self.weight_specs(self.build_shape)
            buffer = ParameterBuffer([(n, s) for n, s, _ in specs], dtype)
            rng = initializers.new_rng()
            for n, s, init in specs:
                buffer.param_views[n][...] = self._initial_value(n, s, init, rng, buffer.dtype)
            self.bind(buffer, "")
            self._own_buffer = buffer
        return self.forward(x, training=training)

    def _initial_value(self, name, shape, init, rng, dtype):
        return initializers.get(init)(shape, rng, dtype)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class Input(Layer):
    """Declares the input shape (without the batch axis) as the first element of a Sequential."""

    def __init__(self, shape, *, name=None, dtype=None):
        super().__init__(name=name, input_shape=shape, dtype=dtype)

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy

    def get_config(self) -> dict:
        config = {"name": self.name, "shape": list(self.input_shape)}
        if self.dtype is not None:
            config["dtype"] = self.dtype.name
        return config


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


# Dense and Dropout ----------------------------------------------------------------------------------


class Dense(Layer):
    """y = activation(x @ kernel + bias) on the last axis. kernel (F, units), bias (units)."""

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _positive_int("units", units)
        self.activation = _dense_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = _initializer("bias_initializer", bias_initializer)
        self._cache = None

    def weight_specs(self, input_shape):
        specs = [("kernel", (input_shape[-1], self.units), self.kernel_initializer)]
        if self.use_bias:
            specs.append(("bias", (self.units,), self.bias_initializer))
        return specs

    def output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def forward(self, x, training=False):
        z = x @ self.params["kernel"]
        if self.use_bias:
            z += self.params["bias"]
        y = _DENSE_ACTIVATIONS[self.activation][0](z)
        if training:
            self._cache = (x, y)
        return y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        x, y = self._cache
        self._cache = None
        dz = _DENSE_ACTIVATIONS[self.activation][1](y, dy).astype(y.dtype, copy=False)
        F = x.shape[-1]
        x2, dz2 = x.reshape(-1, F), dz.reshape(-1, self.units)
        np.matmul(x2.T, dz2, out=self.grads["kernel"])
        if self.use_bias:
            np.sum(dz2, axis=0, out=self.grads["bias"])
        return dz @ self.params["kernel"].T

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
        )
        return config


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of its inputs in training and scales the rest by 1/(1-rate).

    ``noise_shape`` (Keras): None, or a tuple/list with one entry per input axis, each a positive
    int (1 shares the mask along that axis) or None (that axis of the input).
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate("rate", rate)
        self.noise_shape = self._noise_shape_arg(noise_shape)
        self.seed = _seed_arg(seed)
        self._mask = None

    @staticmethod
    def _noise_shape_arg(noise_shape) -> tuple[int | None, ...] | None:
        expected = "noise_shape must be None or a tuple of positive ints and None entries"
        if noise_shape is None:
            return None
        if not isinstance(noise_shape, (tuple, list)):
            raise TypeError(f"{expected}, got {noise_shape!r} ({type(noise_shape).__name__})")
        for n in noise_shape:
            if n is not None and (isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer))):
                raise TypeError(f"{expected}, got {noise_shape!r} (entry {n!r})")
            if n is not None and n < 1:
                raise ValueError(f"{expected}, got {noise_shape!r} (entry {n})")
        return tuple(None if n is None else int(n) for n in noise_shape)

    def _on_build(self, seed_rng) -> None:
        self._rng = _layer_rng(self.seed, seed_rng)

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        shape = x.shape
        if self.noise_shape is not None:
            fits = len(self.noise_shape) == x.ndim
            shape = tuple(s if n is None else n for s, n in zip(x.shape, self.noise_shape, strict=False))
            if not fits or any(n not in (1, s) for n, s in zip(shape, x.shape, strict=True)):
                raise ValueError(
                    f"noise_shape {self.noise_shape} does not fit an input of shape {x.shape}: expected "
                    f"{x.ndim} entries, each None, 1 or the input's size on that axis"
                )
        self._mask = _dropout_mask(self._rng, shape, self.rate, x.dtype)
        return x * self._mask

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            rate=self.rate,
            noise_shape=None if self.noise_shape is None else list(self.noise_shape),
            seed=self.seed,
        )
        return config


_LAYERS = {cls.__name__: cls for cls in (Input, LSTM, Dense, Dropout)}


def get_layer_class(name: str):
    """The layer class of a saved config; only lstmcore's own classes are known."""
    try:
        return _LAYERS[name]
    except KeyError:
        raise ValueError(f"unknown layer class {name!r}; known: {sorted(_LAYERS)}") from None

"""The layer base class (``Layer``), ``Input``, and the argument checks and random helpers every
layer shares."""

from __future__ import annotations

import inspect
import re

import numpy as np

from .. import constraints, initializers, regularizers
from ..engine import _validate
from ..engine._products import dropout_mask
from ..params import ParameterBuffer

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


def _shape_arg(name: str, value) -> tuple[int | None, ...] | None:
    """A shape without the batch axis: positive ints, and None for an axis of any size (the time
    axis of variable-length sequences, as Keras's ``Input(shape=(None, F))``)."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not value:
        raise TypeError(
            f"{name} must be a tuple of positive ints or None (without the batch axis), got {value!r}"
        )
    return tuple(None if v is None else _positive_int(name, v) for v in value)


def _initializer(name: str, value: str) -> str:
    initializers.get(value)  # raises with the list of names
    return value


def _cached(layer, value):
    """What the last training forward kept for the backward (RuntimeError without one)."""
    if value is None:
        raise RuntimeError(f"layer {layer.name!r}: backward needs a forward call with training=True")
    return value


def _batched(layer, x) -> None:
    """ValueError for an input without a batch axis (a scalar)."""
    if np.ndim(x) == 0:
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r} needs inputs with a batch axis, got a scalar {x!r}"
        )


def keras_snake(name: str) -> str:
    """Keras's snake case of a class name (its default layer names and its weight file's keys):
    LSTMCell -> lstm_cell, SimpleRNNCell -> simple_rnn_cell, GRU -> gru."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


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
    """Inverted dropout, as Keras: kept units scaled by 1 / (1 - rate); one draw of the layer's
    generator seeds the mask (engine._products.dropout_mask: a hash of the seed and each
    element's index, on lstmcore's threads)."""
    return dropout_mask(shape, rate, dtype, int(rng.integers(0, 2**63, dtype=np.int64)))


# Base class -----------------------------------------------------------------------------------------


# Keras arguments that change nothing here: accepted at any value (unroll computes the same
# numbers; cuDNN and Keras 2's implementation modes are GPU and graph choices).
_NO_EFFECT = ("unroll", "use_cudnn", "implementation")
# Keras's regularizer and constraint arguments of weights a layer does not have (Dense's
# recurrent_regularizer): accepted at None only.
_DEFAULT_ONLY = tuple(
    f"{prefix}_{what}"
    for prefix in ("kernel", "recurrent", "bias", "embeddings", "gamma", "beta", "alpha")
    for what in ("regularizer", "constraint")
)


def _keras_arguments(layer: str, accepted, keras: dict) -> dict:
    """Keras's other layer arguments: input_shape from ``batch_input_shape`` (Keras 2) and from
    ``input_dim`` (Dense); the no-effect ones dropped; a TypeError naming the layer, the argument
    and what to use for the rest. Returns the arguments for Layer.__init__."""
    out = {}
    for key, value in keras.items():
        if key in _NO_EFFECT:
            continue
        if key in _DEFAULT_ONLY:
            if value is not None:
                raise TypeError(f"{layer} has no weight that {key} could apply to; leave it None")
            continue
        if key == "batch_input_shape":
            shape = tuple(value) if isinstance(value, (tuple, list)) else None
            if not shape or len(shape) < 2:
                raise TypeError(
                    f"{layer}: batch_input_shape must be (batch, *input_shape), got {value!r}; or pass "
                    "input_shape=(timesteps, features)"
                )
            out["input_shape"] = shape[1:]
            continue
        if key == "input_dim" and "input_dim" in accepted:
            out["input_shape"] = (value,)
            continue
        if key == "input_dim":
            raise TypeError(
                f"{layer}: input_dim is Keras 2's; pass input_shape=(timesteps, {value!r}) instead"
            )
        raise TypeError(f"{layer} got an unexpected argument {key!r}; it takes {', '.join(sorted(accepted))}")
    return out


# Keras 3 layer-config entries that lstmcore reads or drops when they hold Keras's defaults.
_KERAS_ONLY_DEFAULTS = {
    "lora_rank": None,
    "lora_alpha": None,
    "quantization_config": None,
    "sparse": False,
    "ragged": False,
    "optional": False,
}


def _initializer_name(value):
    """A Keras serialized initializer ({"class_name": "GlorotUniform", ...}) as its name."""
    if isinstance(value, dict) and isinstance(value.get("class_name"), str):
        name = value["class_name"]
        name = "".join(("_" + c.lower()) if c.isupper() else c for c in name).lstrip("_")
        return {"random_uniform": "random_uniform", "random_normal": "random_normal"}.get(name, name)
    return value


def keras_config(config: dict) -> dict:
    """A layer config with Keras 3's serialized forms made lstmcore's: the dtype policy
    ({"class_name": "DTypePolicy", "config": {"name": "float32"}}) as its name, serialized
    initializers as names, Keras-only entries at their defaults dropped (other values kept, for the
    layer to refuse by name). lstmcore's own configs pass unchanged."""
    if not isinstance(config, dict):
        raise TypeError(f"a layer config must be a dict, got {type(config).__name__}")
    out = {}
    for key, value in config.items():
        if key in _KERAS_ONLY_DEFAULTS and value == _KERAS_ONLY_DEFAULTS[key]:
            continue
        if key == "dtype" and isinstance(value, dict):
            value = (value.get("config") or {}).get("name", value)
        elif key.endswith("_initializer"):
            value = _initializer_name(value)
        out[key] = value
    return out


class Layer:
    """What every layer has: a name, a build step, forward/backward/step and a config.

    Keras arguments that change nothing here (``unroll``, ``use_cudnn``) are accepted; any other
    argument a layer does not take raises a TypeError naming the layer, the argument and what it
    takes or what to use instead. Every layer takes ``activity_regularizer``, and a layer takes
    ``<prefix>_regularizer`` and ``<prefix>_constraint`` for each weight its ``regularized`` maps
    (Keras's names: ``kernel``, ``recurrent``, ``bias``, ``embeddings``, ``gamma``, ``beta``); the
    model adds their penalties to the loss and their gradients to the weights' (``penalty``,
    ``activity_penalty``) and projects the constrained weights after each step (``constrain``).

    A custom layer (Keras's ``call`` and ``add_weight`` become a forward, its backward and a list
    of weights, since lstmcore has no autodiff) works in Sequential and functional models alike::

        class Scale(Layer):
            def weight_specs(self, input_shape):          # (name, shape, initializer), in order
                return [("scale", (input_shape[-1],), "ones")]

            def forward(self, x, training=False):
                if training:
                    self._x = x                           # what the backward needs
                return x * self.params["scale"]

            def backward(self, dy):                       # dL/dy -> dL/dx; weight grads in place
                self.grads["scale"][...] = (dy * self._x).reshape(-1, dy.shape[-1]).sum(axis=0)
                return dy * self.params["scale"]

    ``output_shape(input_shape)`` (shapes without the batch axis) defaults to the input's; a layer
    that keeps the mask sets ``supports_masking = True`` and takes ``mask=`` in forward. Save and
    load need the class in the registry (``lstmcore.layers.get_layer_class``); ``get_config``
    lists the constructor's arguments.
    """

    takes_input_dim = False  # Dense: input_dim=n is input_shape=(n,), as in Keras 2
    # Masks (Keras 3's rules). A layer with supports_masking takes ``mask=`` in forward (a bool
    # array over its input's leading axes, (B, T) for sequences; None when there is none) and
    # hands ``compute_mask(inputs, mask)`` to the next layer; a layer without drops the mask.
    supports_masking = False
    # Weights the layer updates itself in training (BatchNormalization's moving statistics): not
    # trained by the optimizer; the model keeps the values the layer's forward wrote.
    non_trainable_names: tuple[str, ...] = ()
    # Keras's <prefix>_regularizer and <prefix>_constraint arguments this layer takes, and the
    # weight each applies to: {"kernel": "kernel", "recurrent": "recurrent_kernel", ...}
    regularized: dict[str, str] = {}
    # Keyword arguments of the layer's call beyond training, mask and initial_state (Attention's
    # use_causal_mask, ...): forward takes them, and a functional model keeps them with the call.
    call_arguments: tuple[str, ...] = ()

    def __init__(
        self, *, name=None, input_shape=None, dtype=None, trainable=True, activity_regularizer=None, **keras
    ):
        self._penalty_args = {}  # prefix_regularizer / prefix_constraint -> the object, for get_config
        self.regularizers: dict[str, regularizers.Regularizer] = {}  # weight name -> regularizer
        self.constraints: dict[str, constraints.Constraint] = {}  # weight name -> constraint
        for prefix, weight in self.regularized.items():
            for what, module, table in (
                ("regularizer", regularizers, self.regularizers),
                ("constraint", constraints, self.constraints),
            ):
                key = f"{prefix}_{what}"
                try:
                    value = module.get(keras.pop(key, None))
                except (TypeError, ValueError) as e:
                    raise type(e)(f"{type(self).__name__}: {key}: {e}") from None
                self._penalty_args[key] = value
                if value is not None:
                    table[weight] = value
        try:
            self.activity_regularizer = regularizers.get(activity_regularizer)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{type(self).__name__}: activity_regularizer: {e}") from None
        if keras:
            accepted = {"batch_input_shape", *(("input_dim",) if self.takes_input_dim else ())}
            for cls in type(self).__mro__:  # the arguments of every __init__ on the way here
                if "__init__" in vars(cls) and cls is not object:
                    accepted |= set(inspect.signature(cls.__init__).parameters)
            accepted -= {"self", "kwargs", "keras"}
            given = _keras_arguments(type(self).__name__, accepted, keras)
            if "input_shape" in given:
                if input_shape is not None:
                    raise TypeError(f"{type(self).__name__}: give input_shape or {sorted(keras)}, not both")
                input_shape = given["input_shape"]
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

    def output_shapes(self, input_shape) -> list[tuple]:
        """The shapes of every output (a functional call returns a list when there are several:
        ``return_state``, Bidirectional's merge_mode=None)."""
        return [self.output_shape(input_shape)]

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output, from its input and the input's mask (Keras's
        signature): the mask unchanged where the layer supports masking, else None."""
        return mask if self.supports_masking else None

    @classmethod
    def _forward_takes_mask(cls) -> bool:
        """Whether ``forward`` has a ``mask`` parameter (Keras passes the mask only then)."""
        takes = cls.__dict__.get("_takes_mask")
        if takes is None:
            takes = "mask" in inspect.signature(cls.forward).parameters
            cls._takes_mask = takes
        return takes

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
        for key, value in self._penalty_args.items():
            module = regularizers if key.endswith("_regularizer") else constraints
            config[key] = module.serialize(value)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    def penalty(self, gradients: bool = False) -> float:
        """The weight regularizers' penalty on this layer's weights (0 without any, or when the
        layer is frozen); ``gradients``: each one's gradient is also added to the weight's
        gradient buffer (after the backward, before the optimizer step)."""
        return sum(self.weight_penalties(gradients))

    def weight_penalties(self, gradients: bool = False) -> list[float]:
        """Each regularized weight's penalty, in the order of ``regularized`` (``penalty`` is
        their sum; the model's ``losses`` lists them)."""
        out = []
        if not self.trainable or not self.built:
            return out
        for weight, reg in self.regularizers.items():
            for name in self._weights_of(weight):
                w = self.params[name]
                out.append(float(reg(w)))
                if gradients:
                    self.grads[name] += reg.gradient(w)
        return out

    def constrain(self) -> None:
        """Each constrained weight projected in place (after an optimizer step)."""
        if not self.trainable or not self.built:
            return
        for weight, c in self.constraints.items():
            for name in self._weights_of(weight):
                self.params[name][...] = c(self.params[name])

    def _weights_of(self, weight: str) -> list[str]:
        """The weights a ``regularized`` entry applies to: the one of that name, where the layer
        made it (LayerNormalization(center=False) has no beta)."""
        return [weight] if weight in self.params else []

    def activity_penalty(self, out) -> float:
        """The activity regularizer's penalty on an output, divided by its batch size (Keras 3)."""
        out = np.asarray(out)
        value = self.activity_regularizer(out)
        return value / out.shape[0] if out.ndim > 0 and out.shape[0] else value

    def activity_gradient(self, out) -> np.ndarray:
        """The gradient of ``activity_penalty`` with respect to the output."""
        out = np.asarray(out)
        g = self.activity_regularizer.gradient(out)
        return g / g.dtype.type(out.shape[0]) if out.ndim > 0 and out.shape[0] else g

    @classmethod
    def from_config(cls, config: dict):
        """The layer of a config: ``get_config``'s, or Keras 3's (its dtype policy, serialized
        initializers and Keras-only entries at their defaults are understood; anything lstmcore
        cannot do is refused by name)."""
        return cls(**keras_config(config))

    # Building and binding to a parameter buffer.
    def _check_input_shape(self, input_shape) -> None:
        pass

    def build(self, input_shape, seed_rng: np.random.Generator | None = None) -> None:
        """Record the input shape and draw a seed for this layer's random numbers."""
        input_shape = tuple(None if s is None else int(s) for s in input_shape)
        self._check_input_shape(input_shape)
        for n, shape, _ in self.weight_specs(input_shape):
            if any(s is None for s in shape):
                raise ValueError(
                    f"layer {self.name or type(self).__name__}: its weight {n!r} needs the size of every "
                    f"axis it depends on; got inputs of shape (None, {', '.join(map(str, input_shape))})"
                )
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

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The weights the optimizer trains: none when ``trainable=False``, never the ones the
        layer updates itself (``non_trainable_names``)."""
        if not self.trainable or not self.built:
            return []
        return [
            self.params[n]
            for n, _, _ in self.weight_specs(self.build_shape)
            if n not in self.non_trainable_names
        ]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        if not self.built:
            return []
        if not self.trainable:
            return self.weights
        return [self.params[n] for n in self.non_trainable_names]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights, in Keras's order and layouts."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Set the weights from arrays of the same shapes (``get_weights``'s, or Keras's)."""
        if not self.built:
            raise ValueError(
                f"layer {self.name!r} has no weights yet: build it (add it to a built model, or call it "
                "once) before set_weights"
            )
        mine, weights = self.weights, list(weights)
        if len(weights) != len(mine):
            raise ValueError(f"layer {self.name!r} expects a list of {len(mine)} arrays, got {len(weights)}")
        arrays = []
        for k, (w, new) in enumerate(zip(mine, weights, strict=True)):
            new = np.asarray(new)
            if new.shape != w.shape:
                raise ValueError(
                    f"layer {self.name!r}: weight {k} must have shape {w.shape}, got {new.shape}"
                )
            if new.dtype.kind not in "fiu":
                raise TypeError(f"layer {self.name!r}: weight {k} must be numeric, got dtype {new.dtype}")
            arrays.append(new)
        for w, new in zip(mine, arrays, strict=True):
            w[...] = new
        self.weights_changed()

    def count_params(self) -> int:
        return sum(w.size for w in self.weights)

    def __call__(self, x, training=False, mask=None, initial_state=None, **call_kwargs):
        """On symbolic tensors (``Input(...)`` and what layers return on them): a node of a
        functional model (``lstmcore.Model``), returning the output tensor(s). On arrays: run the
        layer on its own, outside a model, built on first use with its own weights. A list of
        inputs for the merge layers (Concatenate, Add, ...) and the attention layers;
        ``call_kwargs``: the layer's own call arguments (``call_arguments``)."""
        unknown = set(call_kwargs) - set(self.call_arguments)
        if unknown:
            takes = ", ".join(("training", "mask", "initial_state", *self.call_arguments))
            raise TypeError(
                f"{type(self).__name__} got an unexpected call argument {min(unknown)!r}; it takes {takes}"
            )
        many = isinstance(x, (list, tuple))
        xs = list(x) if many else [x]
        states = (
            []
            if initial_state is None
            else (list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state])
        )
        if any(_is_symbolic(t) for t in xs + states):
            from ..functional import call_symbolic

            return call_symbolic(self, x, initial_state, call_kwargs)
        arrays = []
        for a in xs:
            a = np.asarray(a)
            if a.dtype.kind != "f":
                a = a.astype(self.dtype or np.float32)
            arrays.append(a)
        if not self.built:
            self._build_alone([a.shape[1:] for a in arrays] if many else arrays[0].shape[1:], arrays[0])
        kwargs = dict(call_kwargs)
        if mask is not None:
            kwargs["mask"] = mask
        if initial_state is not None:
            kwargs["initial_state"] = initial_state
        return self.forward(arrays if many else arrays[0], training=training, **kwargs)

    def _build_alone(self, input_shape, x) -> None:
        """Build for ``input_shape`` with weights of the layer's own (a layer called outside a
        model), in the layer's dtype or x's."""
        self.build(input_shape, initializers.new_rng())
        dtype = self.dtype or _validate.dtype_of(x)
        specs = self.weight_specs(self.build_shape)
        buffer = ParameterBuffer([(n, s) for n, s, _ in specs], dtype)
        rng = initializers.new_rng()
        for n, s, init in specs:
            buffer.param_views[n][...] = self._initial_value(n, s, init, rng, buffer.dtype)
        self.bind(buffer, "")
        self._own_buffer = buffer

    def _initial_value(self, name, shape, init, rng, dtype):
        return initializers.get(init)(shape, rng, dtype)

    def __setstate__(self, state):
        """Unpickling a layer that owns its weights (called on its own): views of its buffer again."""
        self.__dict__.update(state)
        if state.get("_own_buffer") is not None:
            self.bind(self._own_buffer, "")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class _TensorOps:
    """``a + b``, ``a - b`` and ``a * b`` of symbolic tensors (Keras's tensor operators): the Add,
    Subtract and Multiply merges called on [a, b], without the masks (merging.AddOp, ...: Keras's
    operations drop them); ``x[...]``: GetItem. With a number or an array (Keras makes an operation
    of it) a TypeError says which layer to use."""

    __slots__ = ()

    def _merge(self, other, cls_name: str, swap: bool = False):
        from . import merging

        if not _is_symbolic(other):
            raise TypeError(
                f"lstmcore joins symbolic tensors with {cls_name}()([a, b]) (what a + b, a - b and a * b "
                f"make of two of them); with a number or an array ({type(other).__name__}) use a layer "
                "(Dense, or a custom Layer with its backward)"
            )
        pair = [other, self] if swap else [self, other]
        return getattr(merging, cls_name + "Op")()(pair)

    def __add__(self, other):
        return self._merge(other, "Add")

    def __radd__(self, other):
        return self._merge(other, "Add", swap=True)

    def __sub__(self, other):
        return self._merge(other, "Subtract")

    def __rsub__(self, other):
        return self._merge(other, "Subtract", swap=True)

    def __mul__(self, other):
        return self._merge(other, "Multiply")

    def __rmul__(self, other):
        return self._merge(other, "Multiply", swap=True)

    def __getitem__(self, key):
        """``x[:, -1, :]``, ``x[..., 0]``: Keras's GetItem operation (layers/reshaping.GetItem)."""
        from .reshaping import GetItem, serialized_key

        return GetItem()(self, key=serialized_key(key))


def _is_symbolic(x) -> bool:
    return isinstance(x, Input) or type(x).__name__ == "SymbolicTensor"


class Input(_TensorOps, Layer):
    """An input of a model, as Keras 3's ``keras.Input``: the first element of a Sequential, or
    the start of a functional model's graph (``lstmcore.Model(inputs, outputs)``), where it is the
    symbolic tensor the first layers are called on.

    ``shape`` excludes the batch axis; None marks an axis of any size (``Input(shape=(None, 8))``:
    sequences of any length). ``batch_shape`` includes it (``(32, 10, 8)``; the batch size is
    informative only), ``batch_size`` sets it.
    """

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        sparse=None,
        batch_shape=None,
        name=None,
        tensor=None,
        optional=False,
    ):
        if sparse or tensor is not None or optional:
            raise TypeError(
                "Input: lstmcore has no sparse, tensor or optional inputs; leave them at their defaults"
            )
        if batch_shape is not None:
            if shape is not None:
                raise ValueError("Input: give shape or batch_shape, not both")
            if not isinstance(batch_shape, (tuple, list)) or len(batch_shape) < 2:
                raise ValueError(f"Input: batch_shape must be (batch, *shape), got {batch_shape!r}")
            batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
        if shape is None:
            raise ValueError("Input needs shape=(...) (without the batch axis) or batch_shape=(batch, ...)")
        if batch_size is not None:
            batch_size = _positive_int("batch_size", batch_size)
        ids = None  # an integer input (token ids for an Embedding) is kept as the model's float dtype
        if dtype is not None and not isinstance(dtype, dict) and np.dtype(dtype).kind in "iub":
            ids, dtype = np.dtype(dtype), None
        super().__init__(name=name, input_shape=shape, dtype=dtype)
        if ids is not None:
            self.dtype = ids
        self.batch_size = batch_size

    @property
    def shape(self) -> tuple:
        """(batch, *shape), as a Keras tensor's: None where the size is free."""
        return (self.batch_size, *self.input_shape)

    @property
    def ndim(self) -> int:
        return len(self.input_shape) + 1

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy

    def get_config(self) -> dict:
        config = {"name": self.name, "shape": list(self.input_shape)}
        if self.batch_size is not None:
            config["batch_size"] = self.batch_size
        if self.dtype is not None:
            config["dtype"] = self.dtype.name
        return config

    def __repr__(self) -> str:
        return f"<Input name={self.name!r} shape={self.shape}>"

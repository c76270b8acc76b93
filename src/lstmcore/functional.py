"""The functional API, as Keras 3's: layers called on symbolic tensors make a graph, and
``Model(inputs, outputs)`` trains and runs it.

    enc_in = Input(shape=(None, 8))
    _, h, c = LSTM(32, return_state=True)(enc_in)
    dec_in = Input(shape=(None, 8))
    seq = LSTM(32, return_sequences=True)(dec_in, initial_state=[h, c])
    model = Model([enc_in, dec_in], Dense(8, activation="softmax")(seq))

A call of a layer on symbolic tensors (``Input`` objects or what layers returned) adds a
``Node``: the layer, its input tensors and initial-state tensors, and its output tensors. The
model runs the nodes in a topological order; in training it keeps what each node's backward
needs (a layer called at several nodes, a shared layer, gets each call's state back before that
call's backward, and the gradients of its weights are summed over the calls), then runs the
backwards in reverse order, summing the gradients of tensors used more than once. Masks flow
along the graph by Keras 3's rules (``Layer.supports_masking``, ``compute_mask``), and each output's
loss leaves its masked steps out.

``Model`` is a ``Sequential`` underneath for what the two share (compile, fit, evaluate, predict,
saving); a model with several inputs takes a list of arrays, one per input, in the order of
``inputs``, and gives a list of arrays for several outputs.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import initializers, losses
from .engine import _validate
from .layers import Input, Layer, get_layer_class
from .layers.base import _TensorOps
from .metrics import get_metric
from .model import Sequential, _snake, _target_array
from .params import ParameterBuffer

__all__ = ["Model", "SymbolicTensor", "Node"]


class SymbolicTensor(_TensorOps):
    """An output of a layer called in the functional API: its shape (batch axis first, None where
    free), the node that makes it and its index among that node's outputs."""

    __slots__ = ("shape", "node", "index", "__weakref__")

    def __init__(self, shape, node, index):
        self.shape, self.node, self.index = tuple(shape), node, index

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        layer = self.node.layer
        return f"<SymbolicTensor shape={self.shape} from {layer.name or type(layer).__name__}>"

    def __iter__(self):
        raise TypeError(
            "a symbolic tensor is one output; a layer with several (return_state=True) returns a list"
        )


class Node:
    """One call of a layer: its input tensors (a list when the layer takes several), the tensors
    of its initial states, and its output tensors."""

    __slots__ = ("layer", "inputs", "many", "states", "kwargs", "outputs")

    def __init__(self, layer, inputs, many, states, kwargs=None):
        self.layer, self.inputs, self.many, self.states = layer, inputs, many, states
        self.kwargs = dict(kwargs or {})  # the layer's own call arguments (Layer.call_arguments)
        self.outputs: list[SymbolicTensor] = []


def _symbolic_list(value, what: str) -> list:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for t in items:
        if not isinstance(t, (SymbolicTensor, Input)):
            raise TypeError(
                f"{what} must be symbolic tensors (Input(...) or a layer's output on them), got "
                f"{type(t).__name__}; a layer called on arrays runs at once and is not part of a model"
            )
    return items


def _weight_shapes(layer, shape) -> list[tuple]:
    return [tuple(s) for _, s, _ in layer.weight_specs(shape)]


def call_symbolic(layer: Layer, inputs, initial_state=None, kwargs=None):
    """``layer(inputs, initial_state=...)`` on symbolic tensors: builds the layer for the inputs'
    shapes on its first call, checks later calls against its weights, and returns the output
    tensor (a list of them where the layer has several outputs)."""
    if isinstance(layer, Input):
        raise TypeError("an Input is not called on tensors; it is one: call layers on it")
    many = isinstance(inputs, (list, tuple))
    tensors = _symbolic_list(inputs, f"the inputs of layer {layer.name or type(layer).__name__}")
    states = [] if initial_state is None else _symbolic_list(initial_state, "initial_state")
    shapes = [tuple(t.shape[1:]) for t in tensors]
    shape = shapes if many else shapes[0]
    if not layer.built:
        layer.build(shape, initializers.new_rng())
    elif _weight_shapes(layer, shape) != _weight_shapes(layer, layer.build_shape):
        raise ValueError(
            f"layer {layer.name or type(layer).__name__} was built for inputs {layer.build_shape} and "
            f"is called on {shape}: a shared layer needs inputs its weights fit"
        )
    node = Node(layer, tensors, many, states, kwargs)
    batch = tensors[0].shape[0]
    shapes = layer.output_shapes(shape, **node.kwargs)
    node.outputs = [SymbolicTensor((batch, *s), node, k) for k, s in enumerate(shapes)]
    return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)


def flat_outputs(out) -> list:
    """A layer call's output tensors as one flat list: one tensor, a list of them, or an RNN's
    states nested per cell (``out, [h1, c1], [h2]``), in order."""
    if not isinstance(out, (list, tuple)):
        return [out]
    return [t for part in out for t in flat_outputs(part)]


class _Arrays:
    """Several arrays with one batch axis, sliced together: what fit's loop slices for a model
    with several inputs or outputs."""

    __slots__ = ("arrays", "shape")

    def __init__(self, arrays):
        self.arrays = list(arrays)
        self.shape = (self.arrays[0].shape[0],)

    def __getitem__(self, index):
        return _Arrays([a[index] for a in self.arrays])

    def __len__(self):
        return self.shape[0]


def _graph(inputs: list, outputs: list) -> list[Node]:
    """The nodes that make ``outputs``, each after the nodes it reads (depth first, iterative)."""
    order, seen, on_path = [], set(), set()
    for out in outputs:
        if isinstance(out, Input):
            continue
        stack = [(out.node, False)]
        while stack:
            node, done = stack.pop()
            if done:
                on_path.discard(id(node))
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
                continue
            if id(node) in seen:
                continue
            on_path.add(id(node))
            stack.append((node, True))
            for t in node.inputs + node.states:
                if isinstance(t, Input):
                    if not any(t is i for i in inputs):
                        raise ValueError(
                            f"the outputs depend on the Input {t.name or ''}{t.shape} that is not among "
                            "the model's inputs"
                        )
                elif id(t.node) not in seen:
                    stack.append((t.node, False))
    return order


class Model(Sequential):
    """A model over a graph of layer calls: ``Model(inputs, outputs)``, as ``keras.Model``.

    ``inputs`` and ``outputs``: a symbolic tensor or a list of them. ``fit``/``evaluate``/
    ``predict`` take a list of arrays for several inputs (one array for one) and give a list for
    several outputs. ``compile(loss=...)``: one loss for every output, a list (one per output) or a
    dict by output name (the output layers' names); ``loss_weights`` likewise; ``metrics`` a list
    for every output, a list of lists or a dict. Layers already built and bound to another
    model's weights (a decoder model made from a trained model's layers) share those weights: such
    a model predicts with them; fit it through the model that owns them.
    """

    def __init__(self, inputs, outputs, name=None, dtype=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"Model got unexpected arguments {sorted(kwargs)}; it takes inputs, outputs, name"
            )
        self._single_input = not isinstance(inputs, (list, tuple))
        self._single_output = not isinstance(outputs, (list, tuple))
        ins = _symbolic_list(inputs, "inputs")
        outs = _symbolic_list(outputs, "outputs")
        for t in ins:
            if not isinstance(t, Input):
                raise TypeError(f"the inputs of a Model must be Input(...) objects, got {t!r}")
        if len({id(t) for t in ins}) != len(ins):
            raise ValueError("an Input appears twice among the model's inputs")
        if dtype is None:
            dtype = next(
                (t.dtype for t in ins if t.dtype is not None and t.dtype.kind == "f"), np.dtype(np.float32)
            )
        super().__init__(name=name or "functional", dtype=dtype)
        self.inputs, self.outputs = ins, outs
        self.nodes = _graph(ins, outs)
        layers, seen = [], set()
        for layer in [*ins, *(n.layer for n in self.nodes)]:
            if id(layer) not in seen:
                seen.add(id(layer))
                layers.append(layer)
        for layer in layers:
            if layer.name is None:
                layer.name = self._unique_name(
                    _snake(type(layer).__name__) if not isinstance(layer, Input) else "input_layer"
                )
            elif any(other.name == layer.name for other in self.layers):
                raise ValueError(f"layer names must be unique in a model; {layer.name!r} is used twice")
            self.layers.append(layer)
        calls: dict[int, int] = {}
        for node in self.nodes:
            calls[id(node.layer)] = calls.get(id(node.layer), 0) + 1
        self._shared = {k for k, n in calls.items() if n > 1}
        names, self.output_names = set(), []
        for t in outs:
            base = t.name if isinstance(t, Input) else t.node.layer.name
            name, k = base, 1
            while name in names:
                name, k = f"{base}_{k}", k + 1
            names.add(name)
            self.output_names.append(name)
        self.input_shape = ins[0].input_shape if self._single_input else [t.input_shape for t in ins]
        self._bind_weights()

    # Structure and weights ----------------------------------------------------------------------

    def add(self, layer) -> None:
        raise TypeError("a functional Model's layers come from its graph; add is Sequential's")

    def pop(self) -> Layer:
        raise TypeError("a functional Model's layers come from its graph; pop is Sequential's")

    def _bind_weights(self) -> None:
        """One buffer for the layers not bound yet; layers bound to another model keep its weights."""
        fresh = [layer for layer in self.layers if not layer.params]
        self._foreign = [layer.name for layer in self.layers if layer.params]
        specs = [
            (f"{layer.name}/{n}", s) for layer in fresh for n, s, _ in layer.weight_specs(layer.build_shape)
        ]
        buffer = ParameterBuffer(specs, self.dtype)
        for layer in fresh:
            rng = initializers.new_rng()
            for n, s, init in layer.weight_specs(layer.build_shape):
                buffer.param_views[f"{layer.name}/{n}"][...] = layer._initial_value(
                    n, s, init, rng, self.dtype
                )
            layer.bind(buffer, f"{layer.name}/")
        self.buffer = buffer
        self._weights_changed()

    def build(self, input_shape=None, *, initialize=True) -> None:
        """A functional model is built when it is made; kept for Keras's API."""

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if self._single_output else shapes

    def _weight_shapes(self, input_shape) -> list[tuple[int, ...]]:
        return [w.shape for w in self.weights]

    # Compile ------------------------------------------------------------------------------------

    def _per_output(self, value, what: str, default=None) -> list:
        n = len(self.outputs)
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(self.output_names))
            if unknown:
                raise ValueError(
                    f"{what} names outputs {unknown}; the model's outputs are {self.output_names}"
                )
            return [value.get(name, default) for name in self.output_names]
        if isinstance(value, (list, tuple)) and (
            what != "metrics" or (value and isinstance(value[0], (list, tuple)))
        ):
            if len(value) != n:
                raise ValueError(f"{what} must have one entry per output ({n}), got {len(value)}")
            return list(value)
        return [value] * n

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None) -> None:
        """Choose the optimizer, a loss per output (and its weight) and metrics per output."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse'")
        self._losses = [losses.get(v) for v in self._per_output(loss, "loss")]
        if any(v is None for v in self._losses):
            raise ValueError(f"every output needs a loss; the outputs are {self.output_names}")
        weights = self._per_output(1.0 if loss_weights is None else loss_weights, "loss_weights", 1.0)
        self._loss_weights = [float(w) for w in weights]
        per_output = self._per_output([] if metrics is None else metrics, "metrics", [])
        self.metrics, self._metric_outputs, self._metric_names = [], [], []
        for k, ms in enumerate(per_output):
            ms = [ms] if isinstance(ms, str) or not isinstance(ms, (list, tuple)) else ms
            self._metric_names.append([m if isinstance(m, str) else m.get_config() for m in ms])
            for m in ms:
                metric = get_metric(m, loss=self._losses[k])
                if len(self.outputs) > 1:
                    metric.name = f"{self.output_names[k]}_{metric.name}"
                self.metrics.append(metric)
                self._metric_outputs.append(k)
        metrics_made = self.metrics
        super().compile(optimizer=optimizer, loss=self._losses[0], metrics=[])
        self.metrics = metrics_made

    # Data -----------------------------------------------------------------------------------------

    def _prepare_x(self, x, name="x"):
        if isinstance(x, _Arrays):
            return x
        if isinstance(x, dict):
            missing = [t.name for t in self.inputs if t.name not in x]
            if missing:
                raise ValueError(f"{name} has no arrays for the inputs {missing}")
            x = [x[t.name] for t in self.inputs]
        if not self._single_input and not isinstance(x, (list, tuple)):
            raise ValueError(
                f"{name} must be a list of {len(self.inputs)} arrays (one per input), got {type(x).__name__}"
            )
        xs = [x] if self._single_input and not (isinstance(x, (list, tuple)) and len(x) == 1) else list(x)
        if len(xs) != len(self.inputs):
            raise ValueError(
                f"{name} must be a list of {len(self.inputs)} arrays (one per input), got {len(xs)}"
            )
        arrays = []
        for k, (t, a) in enumerate(zip(self.inputs, xs, strict=True)):
            self.input_shape = t.input_shape  # what Sequential._prepare_x checks against
            arrays.append(Sequential._prepare_x(self, a, name if len(xs) == 1 else f"{name}[{k}]"))
        self.input_shape = (
            self.inputs[0].input_shape if self._single_input else [t.input_shape for t in self.inputs]
        )
        n = {a.shape[0] for a in arrays}
        if len(n) > 1:
            raise ValueError(f"the arrays of {name} must have the same number of samples, got {sorted(n)}")
        return _Arrays(arrays)

    def _prepare_y(self, y, n: int, name="y"):
        if isinstance(y, dict):
            y = [y[k] for k in self.output_names]
        if not self._single_output and not isinstance(y, (list, tuple)):
            raise ValueError(
                f"{name} must be a list of {len(self.outputs)} arrays (one per output), got "
                f"{type(y).__name__}"
            )
        ys = [y] if self._single_output and not (isinstance(y, (list, tuple)) and len(y) == 1) else list(y)
        if len(ys) != len(self.outputs):
            raise ValueError(
                f"{name} must be a list of {len(self.outputs)} arrays (one per output), got {len(ys)}"
            )
        out = [
            _target_array(
                a, n, tuple(t.shape[1:]), loss, self.dtype, name, f"for output {self.output_names[k]!r}"
            )
            for k, (t, loss, a) in enumerate(zip(self.outputs, self._losses, ys, strict=True))
        ]
        return _Arrays(out)

    # Forward and backward -------------------------------------------------------------------------

    def _run(self, xs: list, training: bool):
        """The outputs and their masks; in training, each shared layer's per-call state."""
        values = {id(t): a for t, a in zip(self.inputs, xs, strict=True)}
        masks = {id(t): None for t in self.inputs}
        self._snapshots = {}
        self._activity = 0.0
        for node in self.nodes:
            layer = node.layer
            ins = [values[id(t)] for t in node.inputs]
            in_masks = [masks[id(t)] for t in node.inputs]
            x = ins if node.many else ins[0]
            mask = (None if all(m is None for m in in_masks) else in_masks) if node.many else in_masks[0]
            kwargs = dict(node.kwargs)
            if node.states:
                kwargs["initial_state"] = [values[id(t)] for t in node.states]
            if layer.supports_masking:
                if mask is not None and layer._forward_takes_mask():
                    kwargs["mask"] = mask
            elif mask is not None and not getattr(layer, "_warned_mask", False):
                layer._warned_mask = True
                warnings.warn(
                    f"layer {layer.name!r} ({type(layer).__name__}) does not support masking: the mask "
                    "of its input stops there",
                    stacklevel=4,
                )
            out = layer.forward(x, training=training, **kwargs)
            outs = list(out) if len(node.outputs) > 1 else [out]
            if layer.activity_regularizer is not None:  # on every output, as Keras
                self._activity += sum(layer.activity_penalty(o) for o in outs)
            out_mask = layer.compute_mask(x, mask) if layer.supports_masking else None
            for k, t in enumerate(node.outputs):
                values[id(t)] = outs[k]
                masks[id(t)] = out_mask if k == 0 else None
            if training and id(layer) in self._shared:
                self._snapshots[id(node)] = dict(layer.__dict__)
        self._values = values if training else None
        return [values[id(t)] for t in self.outputs], [masks[id(t)] for t in self.outputs]

    def _backprop(self, d_outs: list) -> None:
        """The backwards of the nodes in reverse order from the outputs' gradients; the gradient
        buffer holds the sum over every call of each weight's gradient."""
        grads: dict[int, np.ndarray] = {}

        def add(t, d):
            if d is not None:
                grads[id(t)] = d if id(t) not in grads else grads[id(t)] + d

        for t, d in zip(self.outputs, d_outs, strict=True):
            add(t, d)
        self.buffer.grads[...] = 0
        summed: dict[int, dict[str, np.ndarray]] = {}
        for node in reversed(self.nodes):
            douts = [grads.pop(id(t), None) for t in node.outputs]
            layer = node.layer
            if layer.activity_regularizer is not None:
                for k, t in enumerate(node.outputs):
                    g = layer.activity_gradient(self._values[id(t)])
                    douts[k] = g if douts[k] is None else douts[k] + g
            if all(d is None for d in douts):
                continue
            if id(node) in self._snapshots:
                layer.__dict__.update(self._snapshots[id(node)])
            if len(douts) == 1:
                dy = douts[0]
            else:
                dy = [
                    d if d is not None or k > 0 else np.zeros_like(self._values[id(t)])
                    for k, (t, d) in enumerate(zip(node.outputs, douts, strict=False))
                ]
            dx = layer.backward(dy)
            if id(layer) in self._shared:
                acc = summed.setdefault(id(layer), {})
                for n, g in layer.grads.items():
                    acc[n] = g.copy() if n not in acc else acc[n] + g
            for t, d in zip(node.inputs, dx if node.many else [dx], strict=True):
                add(t, d)
            if node.states:
                for t, d in zip(node.states, layer.initial_state_grads, strict=True):
                    add(t, np.array(d, copy=True))
        for node in self.nodes:
            if id(node.layer) in summed:
                for n, g in summed.pop(id(node.layer)).items():
                    node.layer.grads[n][...] = g
        self._values = None

    def _forward_masked(self, x, training: bool):
        outs, masks = self._run(self._prepare_x(x).arrays, training)
        return (outs[0], masks[0]) if self._single_output else (outs, masks)

    def _forward(self, x, training: bool):
        return self._forward_masked(x, training)[0]

    def _check_trainable(self) -> None:
        if self._foreign:
            raise ValueError(
                f"model {self.name!r} uses the layers {self._foreign}, whose weights belong to another "
                "model: fit that model (its weights are the same arrays), or build new layers"
            )

    def _losses_of(self, outs, masks, y, sample_weight, grads: bool):
        total, d_outs = 0.0, []
        for out, mask, target, loss, w in zip(
            outs, masks, y.arrays, self._losses, self._loss_weights, strict=True
        ):
            weight = self._loss_weight(mask, out, sample_weight)
            total += w * loss.forward(target, out, sample_weight=weight)
            if grads:
                d = loss.backward(target, out, sample_weight=weight)
                d_outs.append(d * d.dtype.type(w) if w != 1.0 else d)
        return total, d_outs

    def _train_step(self, x, y, sample_weight=None):
        self._check_trainable()
        outs, masks = self._run(x.arrays, training=True)
        total, d_outs = self._losses_of(outs, masks, y, sample_weight, grads=True)
        activity = self._activity
        self._backprop(d_outs)
        total = total + self._penalty(gradients=True) + activity
        self._apply_gradients()
        return total, outs, masks

    def _batch_loss(self, x, y, sample_weight=None):
        outs, masks = self._run(x.arrays, training=False)
        loss = self._losses_of(outs, masks, y, sample_weight, grads=False)[0]
        return loss + self._penalty() + self._activity, outs, masks

    def _update_metrics(self, y, outs, masks, sample_weight=None) -> None:
        for m, k in zip(self.metrics, self._metric_outputs, strict=True):
            weight = self._metric_weight(masks[k], outs[k], sample_weight)
            if weight is None:
                m.update(y.arrays[k], outs[k])
            else:
                m.update(y.arrays[k], outs[k], sample_weight=weight)

    def _predict_outputs(self, x) -> list[np.ndarray]:
        return self._run(x.arrays, training=False)[0]

    def __call__(self, x, training=False):
        return self._forward(x, training=training)

    def predict_step(self, x_t):
        raise TypeError(
            "predict_step streams a Sequential; a functional model runs whole sequences with predict"
        )

    # Display and config ---------------------------------------------------------------------------

    def summary(self, print_fn=None) -> None:
        """The layers with their output shapes, parameter counts and inputs, as Keras's."""
        print_fn = print_fn or print
        rows = []
        produced = {id(t): f"{t.name}" for t in self.inputs}
        for node in self.nodes:
            for t in node.outputs:
                produced[id(t)] = (
                    f"{node.layer.name}[{t.index}]" if len(node.outputs) > 1 else node.layer.name
                )
        for t in self.inputs:
            rows.append((f"{t.name} (Input)", str(t.shape), "0", ""))
        for node in self.nodes:
            layer = node.layer
            shape = ", ".join(str(t.shape) for t in node.outputs)
            came = ", ".join(produced[id(t)] for t in node.inputs + node.states)
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, f"{layer.count_params():,}", came))
        heads = ("Layer (type)", "Output Shape", "Param #", "Connected to")
        widths = [max([len(h)] + [len(r[k]) for r in rows]) + 2 for k, h in enumerate(heads)]
        line = "".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))
        print_fn(f'Model: "{self.name}"')
        print_fn("_" * len(line))
        print_fn(line)
        print_fn("=" * len(line))
        for r in rows:
            print_fn("".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        print_fn("=" * len(line))
        n = sum(layer.count_params() for layer in self.layers)
        frozen = sum(w.size for w in self.non_trainable_weights)
        print_fn(f"Total params: {n:,} ({n * self.dtype.itemsize / 1024:.2f} KB)")
        print_fn(f"Trainable params: {n - frozen:,}")
        print_fn(f"Non-trainable params: {frozen:,}")

    def __repr__(self) -> str:
        return f"<Model {self.name!r}: {[layer.name for layer in self.layers]}>"

    def _payload(self, include_optimizer: bool):
        config, arrays = super()._payload(include_optimizer)
        if config["compile"] is not None:
            config["compile"].update(
                loss=[loss.get_config() for loss in self._losses],
                metrics=self._metric_names,
                loss_weights=self._loss_weights,
            )
        return config, arrays

    def get_config(self) -> dict:
        """The layers and the graph: each node as [layer index, input refs, initial-state refs,
        many], a ref being [node index, output index] or ["input", input index]."""
        index = {id(layer): k for k, layer in enumerate(self.layers)}
        where = {id(t): ["input", k] for k, t in enumerate(self.inputs)}
        for j, node in enumerate(self.nodes):
            for t in node.outputs:
                where[id(t)] = [j, t.index]
        return {
            "name": self.name,
            "dtype": self.dtype.name,
            "functional": True,
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self.layers
            ],
            "inputs": [index[id(t)] for t in self.inputs],
            "nodes": [
                [
                    index[id(n.layer)],
                    [where[id(t)] for t in n.inputs],
                    [where[id(t)] for t in n.states],
                    n.many,
                    *([n.kwargs] if n.kwargs else []),
                ]
                for n in self.nodes
            ],
            "outputs": [where[id(t)] for t in self.outputs],
            "single_input": self._single_input,
            "single_output": self._single_output,
        }

    @classmethod
    def from_config(cls, config: dict) -> Model:
        """The model of ``get_config``: layers made from their configs, the graph called again."""
        if not isinstance(config, dict) or not config.get("functional"):
            raise ValueError("not a functional model's config")
        layers = [get_layer_class(e["class_name"]).from_config(e["config"]) for e in config["layers"]]
        inputs = [layers[k] for k in config["inputs"]]
        if not all(isinstance(t, Input) for t in inputs):
            raise ValueError("the config's inputs must be Input layers")
        made: list[list] = []

        def tensor(ref):
            if not isinstance(ref, list) or len(ref) != 2:
                raise ValueError(
                    f"a tensor reference must be [node, output] or ['input', k], got {ref!r:.60}"
                )
            if ref[0] == "input":
                return inputs[ref[1]]
            if not 0 <= ref[0] < len(made):
                raise ValueError(f"a node reads node {ref[0]} before it is made")
            return made[ref[0]][ref[1]]

        for layer_index, ins, states, many, *kwargs in config["nodes"]:  # kwargs: where given
            xs = [tensor(r) for r in ins]
            st = [tensor(r) for r in states] or None
            call = dict(kwargs[0]) if kwargs else {}
            if st is not None:
                call["initial_state"] = st
            made.append(flat_outputs(layers[layer_index](xs if many else xs[0], **call)))
        outputs = [tensor(r) for r in config["outputs"]]
        return cls(
            inputs[0] if config.get("single_input") else inputs,
            outputs[0] if config.get("single_output") else outputs,
            name=config["name"],
            dtype=_validate.dtype_of(np.empty(0, dtype=config["dtype"])),
        )

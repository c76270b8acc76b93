"""Layers around other layers: ``Bidirectional`` (a recurrent layer read in both directions),
``TimeDistributed`` (a layer applied to every time step) and ``RNN`` (cells run over sequences),
with Keras 3's arguments, weights and masks."""

from __future__ import annotations

import re

import numpy as np

from ..engine import _backend as _ops
from ..engine import _stack
from .base import Layer, _is_symbolic, keras_config, keras_snake
from .cells import CELLS, StackedRNNCells, _Cell
from .rnn import Recurrent

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _layer_from(entry) -> Layer:
    """A layer from a ``{"class_name", "config"}`` entry (a saved wrapper's inner layer)."""
    from . import get_layer_class  # the registry lists the wrappers too

    keras_keys = {"module", "registered_name", "build_config", "compile_config", "shared_object_id"}
    if (
        not isinstance(entry, dict)
        or not {"class_name", "config"} <= set(entry) <= {"class_name", "config"} | keras_keys
        or not isinstance(entry["config"], dict)
    ):
        raise ValueError(f"a wrapped layer must be a {{class_name, config}} object, got {entry!r:.100}")
    return get_layer_class(entry["class_name"]).from_config(entry["config"])


def _entry(layer: Layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


class _Wrapper(Layer):
    """What the wrappers share: inner layers whose weights are views into the wrapper's (named
    ``<inner name>/<weight>``), built, bound and told of weight changes through the wrapper."""

    def _inner(self) -> list[tuple[str, Layer]]:
        raise NotImplementedError

    def _on_build(self, seed_rng) -> None:
        for (_, layer), shape in zip(self._inner(), self._inner_shapes(self.build_shape), strict=True):
            if not layer.built:
                layer.build(shape, seed_rng)

    def _inner_shapes(self, input_shape) -> list:
        """Each inner layer's input shape (without the batch axis): the wrapper's, by default."""
        return [input_shape] * len(self._inner())

    def weight_specs(self, input_shape):
        return [
            (f"{prefix}{n}", s, init)
            for (prefix, layer), shape in zip(self._inner(), self._inner_shapes(input_shape), strict=True)
            for n, s, init in layer.weight_specs(shape)
        ]

    def _initial_value(self, name, shape, init, rng, dtype):
        for prefix, layer in self._inner():
            if name.startswith(prefix):
                return layer._initial_value(name[len(prefix) :], shape, init, rng, dtype)
        raise KeyError(name)  # pragma: no cover - the names come from weight_specs

    def bind(self, buffer, prefix: str) -> None:
        super().bind(buffer, prefix)
        for inner_prefix, layer in self._inner():
            layer.bind(buffer, prefix + inner_prefix)

    @property
    def non_trainable_names(self) -> tuple[str, ...]:
        return tuple(p + n for p, layer in self._inner() for n in layer.non_trainable_names)

    def weights_changed(self) -> None:
        for _, layer in self._inner():
            layer.weights_changed()

    def weight_penalties(self, gradients: bool = False) -> list[float]:
        """The inner layers' weight penalties (their regularizers), as Keras counts a wrapped layer's."""
        if not self.trainable:
            return []
        return [p for _, layer in self._inner() for p in layer.weight_penalties(gradients)]

    def constrain(self) -> None:
        if self.trainable:
            for _, layer in self._inner():
                layer.constrain()

    @staticmethod
    def _no_inner_activity(wrapper: str, layer) -> None:
        if layer.activity_regularizer is not None:
            raise TypeError(
                f"{wrapper}: lstmcore takes activity_regularizer on the wrapper, not on the wrapped "
                f"{type(layer).__name__}; move it to {wrapper}(..., activity_regularizer=...)"
            )

    def reset_states(self) -> None:
        for _, layer in self._inner():
            layer.reset_states()

    def reset_state(self) -> None:
        self.reset_states()

    @classmethod
    def from_config(cls, config: dict):
        """The wrapper of a config (lstmcore's or Keras's), its inner layers made from theirs."""
        config = keras_config(config)
        for key in ("layer", "backward_layer"):
            if config.get(key) is not None:
                config[key] = _layer_from(config[key])
        return cls(**config)


def _sequence_layer(layer) -> bool:
    """A layer Bidirectional can wrap: a recurrent layer or an RNN of cells (not a bare cell)."""
    return (isinstance(layer, Recurrent) and not isinstance(layer, _Cell)) or isinstance(layer, RNN)


class Bidirectional(_Wrapper):
    """A recurrent layer read forwards and backwards, its two outputs merged, as Keras 3.

    ``Bidirectional(LSTM(64, return_sequences=True), merge_mode="concat")``. The forward layer is a
    copy of ``layer`` (from its config, named ``forward_<name>``); the backward layer is
    ``backward_layer`` or a copy with ``go_backwards=True`` (``backward_<name>``). With
    ``return_sequences`` the backward outputs are put back in time order before the merge:
    "concat" ([fwd | bwd] on features), "sum", "mul", "ave", or None (both, as a list: not in a
    Sequential). Weights: the forward layer's, then the backward layer's. With a mask, both layers
    skip the masked steps and, with ``return_sequences``, output 0 there (Keras forces
    ``zero_output_for_mask``). With two or more threads (``lstmcore.set_num_threads``) the two
    directions run at once.
    """

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not _sequence_layer(layer):
            raise TypeError(
                "Bidirectional wraps a recurrent layer (LSTM, GRU, SimpleRNN, RNN of cells), got "
                f"{type(layer).__name__}"
            )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {_MERGE_MODES}, got {merge_mode!r}")
        if weights is not None:
            raise TypeError("Bidirectional: pass the weights with set_weights after building, not weights=")
        if layer.built:
            raise ValueError("Bidirectional needs a layer that is not built yet (it makes its own copies)")
        if backward_layer is not None and not _sequence_layer(backward_layer):
            raise TypeError(
                f"backward_layer must be a recurrent layer (LSTM, GRU, SimpleRNN, RNN of cells), got "
                f"{type(backward_layer).__name__}"
            )
        for inner in (layer, backward_layer):
            if inner is not None:
                self._no_inner_activity("Bidirectional", inner)
        if "input_shape" not in kwargs and layer.input_shape is not None:
            kwargs["input_shape"] = layer.input_shape
        super().__init__(**kwargs)
        base = layer.name or _snake(type(layer).__name__)
        config = {**layer.get_config(), "name": "forward_" + base.removeprefix("forward_")}
        config.pop("input_shape", None)
        self.forward_layer = type(layer).from_config(config)
        self._given_backward = backward_layer is not None
        if backward_layer is None:
            config = {
                **layer.get_config(),
                "name": "backward_" + base.removeprefix("backward_"),
                "go_backwards": not layer.go_backwards,
            }
            config.pop("input_shape", None)
            backward_layer = type(layer).from_config(config)
        elif backward_layer.built:
            raise ValueError("Bidirectional needs a backward_layer that is not built yet")
        elif backward_layer.name is None:
            backward_layer.name = "backward_" + _snake(type(backward_layer).__name__)
        self.backward_layer = backward_layer
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ValueError(
                "the forward and backward layers must have different go_backwards values, got "
                f"{fwd.go_backwards} for both"
            )
        for a in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, a) != getattr(bwd, a):
                raise ValueError(
                    f"the forward and backward layers must have the same {a}, got {getattr(fwd, a)} "
                    f"and {getattr(bwd, a)}"
                )
        if fwd.name == bwd.name:
            raise ValueError(f"the forward and backward layers need different names, both are {fwd.name!r}")
        for inner in (fwd, bwd):  # Keras: masked outputs are 0 when the sequences are returned
            inner.zero_output_for_mask = inner.return_sequences
        self.merge_mode = merge_mode
        self._cache = None
        self._together_b = True  # whether the last training forward ran its directions at once

    def _inner(self):
        return [
            (self.forward_layer.name + "/", self.forward_layer),
            (self.backward_layer.name + "/", self.backward_layer),
        ]

    @property
    def return_sequences(self) -> bool:
        return self.forward_layer.return_sequences

    @property
    def return_state(self) -> bool:
        return self.forward_layer.return_state

    @property
    def states(self):
        fwd, bwd = self.forward_layer.states, self.backward_layer.states
        return None if fwd is None or bwd is None else (*fwd, *bwd)

    def _check_input_shape(self, input_shape) -> None:
        self.forward_layer._check_input_shape(input_shape)

    def output_shape(self, input_shape):
        shape = self.forward_layer.output_shape(input_shape)
        units_b = self.backward_layer.output_shape(input_shape)[-1]
        if self.merge_mode == "concat":
            return (*shape[:-1], shape[-1] + units_b)
        if shape[-1] != units_b:
            raise ValueError(
                f"merge_mode={self.merge_mode!r} needs both directions of the same width, got "
                f"{shape[-1]} and {units_b}"
            )
        return shape

    def output_shapes(self, input_shape):
        fwd, bwd = self.forward_layer, self.backward_layer
        if self.merge_mode is None:
            outs = [fwd.output_shape(input_shape), bwd.output_shape(input_shape)]
        else:
            outs = [self.output_shape(input_shape)]
        if self.return_state:
            outs += fwd.output_shapes(input_shape)[1:] + bwd.output_shapes(input_shape)[1:]
        return outs

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def _run(self, f, g, together=True):
        """(f(), g()): at once where the engine can and ``together`` (_together), else in turn."""
        run_pair = getattr(_ops, "_run_pair", None)
        return run_pair(f, g) if run_pair is not None and together else (f(), g())

    def _together(self, x, training) -> bool:
        """Whether the two directions run at once: the stack's rule (lstmcore.engine._stack.pairs)
        from x and the forward layer's recurrent kernel."""
        first = getattr(self.forward_layer, "_cells", [self.forward_layer])[0]  # an RNN's first cell
        w_h = getattr(first, "params", {}).get("recurrent_kernel")
        return _stack.pairs(x, w_h, training)

    def forward(self, x, training=False, mask=None, initial_state=None):
        """initial_state: the forward layer's states, then the backward layer's (Keras's order)."""
        fwd, bwd = self.forward_layer, self.backward_layer
        s_f = s_b = None
        if initial_state is not None:
            states = list(initial_state)
            n = len(fwd.state_names)
            if len(states) != n + len(bwd.state_names):
                raise ValueError(
                    f"layer {self.name!r}: initial_state must hold the forward layer's {n} states and "
                    f"the backward layer's {len(bwd.state_names)}, got {len(states)} arrays"
                )
            s_f, s_b = states[:n], states[n:]
        together = self._together(x, training)
        out_f, out_b = self._run(
            lambda: fwd.forward(x, training=training, mask=mask, initial_state=s_f),
            lambda: bwd.forward(x, training=training, mask=mask, initial_state=s_b),
            together,
        )
        states = ()
        if self.return_state:
            states = (*out_f[1:], *out_b[1:])
            out_f, out_b = out_f[0], out_b[0]
        if self.return_sequences:
            out_b = out_b[:, ::-1]
        mode = self.merge_mode
        if mode == "concat":
            y = np.concatenate([out_f, out_b], axis=-1)
        elif mode == "sum":
            y = out_f + out_b
        elif mode == "ave":
            y = (out_f + out_b) * out_f.dtype.type(0.5)
        elif mode == "mul":
            y = out_f * out_b
        else:
            y = [out_f, out_b]
        if training:
            self._together_b = together  # the backward does as the forward did
            self._cache = (out_f, out_b) if mode == "mul" else (out_f.shape[-1],)
            self._out_shapes = [a.shape for a in y] if mode is None else [y.shape]
            self._out_dtype = out_f.dtype
        if self.return_state:
            return [*y, *states] if mode is None else (y, *states)
        return y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")
        cache, self._cache = self._cache, None
        mode = self.merge_mode
        d_states_f = d_states_b = None
        if self.return_state:  # [output(s), *forward states, *backward states]
            dy = list(dy)
            k = 2 if mode is None else 1
            n = len(self.forward_layer.state_names)
            d_states_f, d_states_b = dy[k : k + n], dy[k + n :]
            dy = dy[:k] if mode is None else dy[0]
            dy = self._zeros_if_none(dy, cache)
        if mode == "concat":
            n = cache[0]
            dy_f, dy_b = dy[..., :n], dy[..., n:]
        elif mode == "sum":
            dy_f = dy_b = dy
        elif mode == "ave":
            dy_f = dy_b = dy * dy.dtype.type(0.5)
        elif mode == "mul":
            out_f, out_b = cache
            dy_f, dy_b = dy * out_b, dy * out_f
        else:
            dy_f, dy_b = dy
        if self.return_sequences:
            dy_b = dy_b[:, ::-1]
        fwd, bwd = self.forward_layer, self.backward_layer
        dy_f, dy_b = np.ascontiguousarray(dy_f), np.ascontiguousarray(dy_b)
        if d_states_f is not None:
            dy_f, dy_b = [dy_f, *d_states_f], [dy_b, *d_states_b]
        dx_f, dx_b = self._run(lambda: fwd.backward(dy_f), lambda: bwd.backward(dy_b), self._together_b)
        self.initial_state_grads = (*fwd.initial_state_grads, *bwd.initial_state_grads)
        return dx_f + dx_b

    def _zeros_if_none(self, dy, cache):
        """The output gradient(s) of a call with return_state where only the states got one."""
        shapes = self._out_shapes
        if isinstance(dy, list):
            return [np.zeros(s, self._out_dtype) if d is None else d for d, s in zip(dy, shapes, strict=True)]
        return np.zeros(shapes[0], self._out_dtype) if dy is None else dy

    def step(self, x_t):
        raise ValueError(
            f"layer {self.name!r} is bidirectional: its backward direction needs the whole sequence, "
            "so it cannot run one step at a time"
        )

    def get_config(self) -> dict:
        config = super().get_config()
        layer = self.forward_layer.get_config()
        layer["name"] = layer["name"].removeprefix("forward_")
        config.update(
            layer={"class_name": type(self.forward_layer).__name__, "config": layer},
            merge_mode=self.merge_mode,
        )
        if self._given_backward:
            config["backward_layer"] = _entry(self.backward_layer)
        return config


class TimeDistributed(_Wrapper):
    """Applies ``layer`` to every time step: x (B, T, ...) -> layer on (B*T, ...) -> (B, T, ...),
    the same weights at every step, as Keras 3. Its weights are the inner layer's. The mask (B, T)
    passes through; an inner layer that takes masks gets the (B*T,) mask of the steps."""

    supports_masking = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps an lstmcore layer, got {type(layer).__name__}")
        if layer.built:
            raise ValueError("TimeDistributed needs a layer that is not built yet")
        self._no_inner_activity("TimeDistributed", layer)
        super().__init__(**kwargs)
        if layer.name is None:
            layer.name = _snake(type(layer).__name__)
        self.layer = layer

    def _inner(self):
        return [(self.layer.name + "/", self.layer)]

    def _inner_shapes(self, input_shape) -> list:
        return [tuple(input_shape[1:])]  # one time step's

    def _check_input_shape(self, input_shape) -> None:
        if len(input_shape) < 2:
            raise ValueError(
                "TimeDistributed expects inputs of shape (batch, timesteps, ...), i.e. an input_shape "
                f"of at least 2 values; got input_shape {tuple(input_shape)}"
            )
        self.layer._check_input_shape(tuple(input_shape[1:]))

    def output_shape(self, input_shape):
        return (input_shape[0], *self.layer.output_shape(tuple(input_shape[1:])))

    def forward(self, x, training=False, mask=None):
        B, T = x.shape[:2]
        flat = x.reshape(B * T, *x.shape[2:])
        if mask is not None and self.layer.supports_masking and self.layer._forward_takes_mask():
            y = self.layer.forward(
                flat, training=training, mask=np.asarray(mask).reshape(B * T, *np.shape(mask)[2:])
            )
        else:
            y = self.layer.forward(flat, training=training)
        return y.reshape(B, T, *y.shape[1:])

    def backward(self, dy):
        B, T = dy.shape[:2]
        dx = self.layer.backward(dy.reshape(B * T, *dy.shape[2:]))
        return dx.reshape(B, T, *dx.shape[1:])

    def step(self, x_t):
        return self.layer.step(x_t)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(layer=_entry(self.layer))
        return config


# RNN ------------------------------------------------------------------------------------------------


def _cell_from(entry) -> _Cell | StackedRNNCells:
    """A cell from a saved ``{"class_name", "config"}`` entry: one of lstmcore's three cells, or
    StackedRNNCells of them."""
    if isinstance(entry, dict) and entry.get("class_name") == "StackedRNNCells":
        config = keras_config(entry.get("config") or {})
        cells = config.pop("cells", None)
        if not isinstance(cells, list):
            raise ValueError(f"a StackedRNNCells config needs a list of cells, got {cells!r:.100}")
        return StackedRNNCells([_cell_from(c) for c in cells], **config)
    names = {cls.__name__ for cls in CELLS}
    if not isinstance(entry, dict) or entry.get("class_name") not in names:
        got = entry.get("class_name") if isinstance(entry, dict) else entry
        raise ValueError(f"an RNN's cell must be one of {sorted(names)} or StackedRNNCells, got {got!r:.100}")
    return _layer_from(entry)


class RNN(_Wrapper):
    """Cells run over sequences, Keras 3's ``RNN``: ``RNN(LSTMCell(32))`` is ``LSTM(32)``, the same
    numbers and the same compiled loops; ``RNN([LSTMCell(32), GRUCell(16)])`` (or a
    ``StackedRNNCells``) runs the cells one after the other at each step, as Keras does, which is a
    stack of their layers: each cell reads the previous one's outputs.

    The arguments are Keras's (``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``, ``zero_output_for_mask``; ``unroll`` computes the same). The weights are the
    cells', in order; the states each cell's, in order: ``return_state`` gives the output and then
    every cell's states (``rnn(x)`` on arrays or tensors nests them per cell for a stack, as Keras:
    ``out, [h1, c1], [h2]``; a model's outputs and ``forward`` list them flat), and
    ``initial_state`` takes them flat or nested. Masks pass through every cell (a masked step
    keeps every cell's states). The cells must be lstmcore's (``LSTMCell``, ``GRUCell``,
    ``SimpleRNNCell``): a cell of your own would need its backward written, since lstmcore has no
    autodiff.
    """

    supports_masking = True

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        if isinstance(cell, StackedRNNCells):
            cells = list(cell.cells)
        elif isinstance(cell, _Cell):
            cells = [cell]
        else:
            raise TypeError(
                "RNN runs lstmcore's cells (LSTMCell, GRUCell, SimpleRNNCell, a list of them or "
                f"StackedRNNCells), got {type(cell).__name__}; a cell of your own needs its backward "
                "written (lstmcore has no autodiff): write it as a Layer with forward and backward"
            )
        for c in cells:
            if c.built or c._wrapped:
                name = c.name or type(c).__name__
                raise ValueError(
                    f"RNN needs cells that are not built and not in another RNN; {name} is: make a new cell"
                )
            self._no_inner_activity("RNN", c)
        if len({id(c) for c in cells}) != len(cells):
            raise ValueError("RNN: the same cell appears twice in the stack; give each step its own cell")
        super().__init__(**kwargs)
        used: dict[str, int] = {}
        for c in cells:  # Keras's names where none was given: lstm_cell, lstm_cell_1, ...
            if c.name is None:
                base = keras_snake(type(c).__name__)
                k = used.get(base, 0)
                while (name := base if k == 0 else f"{base}_{k}") in {d.name for d in cells}:
                    k += 1
                used[base] = k + 1
                c.name = name
        if len({c.name for c in cells}) != len(cells):
            raise ValueError(f"RNN: the cells need different names, got {[c.name for c in cells]}")
        for c in cells:
            c._wrapped = True
        self.cell = cell
        self._cells = cells
        self.unroll = bool(unroll)
        self._set(return_sequences, return_state, go_backwards, stateful, zero_output_for_mask)

    def _set(self, return_sequences, return_state, go_backwards, stateful, zero_output_for_mask) -> None:
        """The cells' sequence arguments: every cell but the last returns its sequence for the
        next; the first reads backwards with go_backwards (the next ones read its outputs in the
        order read)."""
        last = len(self._cells) - 1
        for k, c in enumerate(self._cells):
            c.return_sequences = bool(return_sequences) if k == last else True
            c.return_state = bool(return_state)
            c.go_backwards = bool(go_backwards) if k == 0 else False
            c.stateful = bool(stateful)
            c.zero_output_for_mask = bool(zero_output_for_mask)

    @property
    def return_sequences(self) -> bool:
        return self._cells[-1].return_sequences

    @property
    def return_state(self) -> bool:
        return self._cells[0].return_state

    @property
    def go_backwards(self) -> bool:
        return self._cells[0].go_backwards

    @property
    def stateful(self) -> bool:
        return self._cells[0].stateful

    @property
    def zero_output_for_mask(self) -> bool:
        return self._cells[-1].zero_output_for_mask

    @zero_output_for_mask.setter
    def zero_output_for_mask(self, value) -> None:
        for c in self._cells:
            c.zero_output_for_mask = bool(value)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(n for c in self._cells for n in c.state_names)

    @property
    def units(self) -> int:
        return self._cells[-1].units

    @property
    def states(self):
        states = [c.states for c in self._cells]
        return None if any(s is None for s in states) else tuple(v for s in states for v in s)

    @states.setter
    def states(self, value) -> None:
        if value is None:
            for c in self._cells:
                c.states = None
            return
        for c, part in zip(self._cells, self._split(list(value), "states"), strict=True):
            c.states = part

    def _inner(self):
        return [(c.name + "/", c) for c in self._cells]

    def _inner_shapes(self, input_shape) -> list:
        """Each cell's input shape: the RNN's, then (T, units of the cell before)."""
        shapes, shape = [], tuple(input_shape)
        for c in self._cells:
            shapes.append(shape)
            shape = (shape[0], c.units)
        return shapes

    def _check_input_shape(self, input_shape) -> None:
        self._cells[0]._check_input_shape(input_shape)

    def output_shape(self, input_shape):
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def output_shapes(self, input_shape):
        states = [(c.units,) for c in self._cells for _ in c.state_names] if self.return_state else []
        return [self.output_shape(input_shape), *states]

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def _split(self, states: list, what: str) -> list:
        """Every cell's states, given flat or nested (a list per cell, or an array for a cell of
        one state: Keras's ``[[h1, c1], h2]``), as a list per cell."""
        cells = self._cells
        counts = [len(c.state_names) for c in cells]
        nested = any(isinstance(s, (list, tuple)) for s in states)
        if nested and len(states) == len(cells):
            parts = [list(s) if isinstance(s, (list, tuple)) else [s] for s in states]
            if [len(p) for p in parts] == counts:
                return parts
        elif not nested and len(states) == sum(counts):
            out, at = [], 0
            for n in counts:
                out.append(states[at : at + n])
                at += n
            return out
        names = ", ".join("[" + ", ".join(c.state_names) + "]" for c in cells)
        raise ValueError(
            f"layer {self.name!r}: {what} must be each cell's states, {names} (flat or a list per "
            f"cell), {sum(counts)} arrays; got {len(states)} entries"
        )

    def forward(self, x, training=False, mask=None, initial_state=None):
        cells = self._cells
        given = [None] * len(cells)
        if initial_state is not None:
            given = self._split(
                [initial_state] if isinstance(initial_state, np.ndarray) else list(initial_state),
                "initial_state",
            )
        finals, h = [], x
        for k, c in enumerate(cells):
            m = mask
            if k > 0 and mask is not None and self.go_backwards:  # the first cell's outputs are in
                m = np.ascontiguousarray(np.asarray(mask)[:, ::-1])  # the order it read them
            out = c.forward(h, training=training, mask=m, initial_state=given[k])
            if self.return_state:
                h, *states = out
                finals.extend(states)
            else:
                h = out
        return (h, *finals) if self.return_state else h

    def backward(self, dy):
        """dy: the output's gradient, or with ``return_state`` [output, *every cell's states] (None
        for those that got none). The initial states' gradients are left in
        ``initial_state_grads``, flat."""
        cells = self._cells
        d_states = [[None] * len(c.state_names) for c in cells]
        if self.return_state and isinstance(dy, (list, tuple)):
            dy, *flat = dy
            d_states = self._split(flat, "the states' gradients")
        for k in range(len(cells) - 1, -1, -1):
            dy = cells[k].backward([dy, *d_states[k]] if self.return_state else dy)
        self.initial_state_grads = tuple(g for c in cells for g in c.initial_state_grads)
        return dy

    def step(self, x_t):
        if self.go_backwards:
            raise ValueError(f"layer {self.name!r} has go_backwards=True: it cannot run one step at a time")
        for c in self._cells:
            x_t = c.step(x_t)
        return x_t

    def __call__(self, x, training=False, mask=None, initial_state=None):
        """Keras's call: ``initial_state`` flat or nested per cell; with ``return_state`` a stack's
        states come back nested per cell (``out, [h1, c1], [h2]``), a single cell's flat."""
        if (
            initial_state is not None
            and not isinstance(initial_state, np.ndarray)
            and not _is_symbolic(initial_state)
        ):
            initial_state = [s for part in self._split(list(initial_state), "initial_state") for s in part]
        out = super().__call__(x, training=training, mask=mask, initial_state=initial_state)
        if not self.return_state or not isinstance(self.cell, StackedRNNCells):
            return out
        out = list(out)
        nested, at = [out[0]], 1
        for c in self._cells:
            n = len(c.state_names)
            nested.append(list(out[at : at + n]))
            at += n
        return tuple(nested)

    def get_config(self) -> dict:
        config = super().get_config()
        if isinstance(self.cell, StackedRNNCells):
            cell = {"class_name": "StackedRNNCells", "config": self.cell.get_config()}
        else:
            cell = _entry(self.cell)
        config.update(
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            go_backwards=self.go_backwards,
            stateful=self.stateful,
            unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
            cell=cell,
        )
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = keras_config(config)
        if "cell" in config:
            config["cell"] = _cell_from(config["cell"])
        return cls(**config)

"""Keras 3's cells: ``LSTMCell``, ``GRUCell``, ``SimpleRNNCell`` and ``StackedRNNCells``, what
``keras.layers.RNN`` runs (``RNN(LSTMCell(32))``, ``RNN([LSTMCell(32), GRUCell(16)])``; the ``RNN``
layer is in ``wrappers``).

A cell is its layer (``LSTMCell`` is an ``LSTM``) without the sequence arguments, so an ``RNN`` of
cells runs the engine's compiled loops over whole sequences, forward and backward, as the layers do;
the ``RNN`` sets each cell's return_sequences, go_backwards, stateful and zero_output_for_mask. On its
own a cell does one step, as Keras's: ``h, [h, c] = LSTMCell(32)(x_t, [h, c])``.
"""

from __future__ import annotations

import numpy as np

from ..engine import _backend as _ops
from .base import _is_symbolic
from .gru import GRU
from .lstm import LSTM
from .simple_rnn import SimpleRNN

# The RNN layer's arguments: a cell has none of them (Keras's cells refuse them).
SEQUENCE_ARGUMENTS = ("return_sequences", "return_state", "go_backwards", "stateful", "zero_output_for_mask")


def _no_sequence_arguments(cls: str, kwargs: dict) -> None:
    given = [k for k in SEQUENCE_ARGUMENTS if k in kwargs]
    if given:
        raise TypeError(
            f"{cls} got {given[0]!r}: a cell computes one step; give {given[0]} to the RNN layer that "
            f"runs it, RNN({cls}(...), {given[0]}=...)"
        )


class _Cell:
    """What the three cells add to their layers: Keras's cell attributes (``state_size``,
    ``output_size``, ``get_initial_state``), the one-step call and a config without the sequence
    arguments. ``_wrapped`` is set by the RNN that runs the cell (a cell is not a layer of a model
    on its own: Keras refuses it there too)."""

    _wrapped = False
    _alone = False  # built by a one-step call

    @property
    def state_size(self):
        """Keras's: a list of one size per state for the LSTM ([units, units]), the size else."""
        n = len(self.state_names)
        return [self.units] * n if n > 1 else self.units

    @property
    def output_size(self) -> int:
        return self.units

    def get_initial_state(self, batch_size: int) -> list:
        """Zero states, (batch_size, units) each, in the weights' dtype (before they exist: the
        cell's, float32 by default)."""
        kernel = self.params.get("kernel")
        dtype = kernel.dtype if kernel is not None else (self.dtype or np.dtype(np.float32))
        return [np.zeros((batch_size, self.units), dtype=dtype) for _ in self.state_names]

    def _check_input_shape(self, input_shape) -> None:
        if not (self._wrapped or self._alone):
            name = type(self).__name__
            raise TypeError(
                f"{name} computes one step (cell(x_t, states)); for sequences wrap it, RNN({name}(...)), "
                f"or use the layer, {name.removesuffix('Cell')}(...)"
            )
        if self._wrapped:
            super()._check_input_shape(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        for key in (*SEQUENCE_ARGUMENTS, "input_shape"):
            config.pop(key, None)
        return config

    def __call__(self, inputs, states=None, training=False):
        """One step, as Keras's ``cell(inputs, states)``: inputs (B, I), states the cell's [h] or
        [h, c] (each (B, units); None or omitted: zeros); returns ``(h, new_states)``, new_states a
        list, or an array for a GRU or simple RNN cell given its state as an array."""
        if _is_symbolic(inputs) or any(_is_symbolic(s) for s in _as_list(states)):
            raise TypeError(
                f"{type(self).__name__} is called on arrays, one step at a time; in a model, wrap it: "
                f"RNN({type(self).__name__}(...))"
            )
        if training and (self.dropout > 0 or self.recurrent_dropout > 0):
            raise ValueError(
                f"{type(self).__name__}: a one-step call runs without dropout; train the cell inside "
                "an RNN layer, whose masks are one per sequence"
            )
        x = np.asarray(inputs)
        if x.ndim != 2:
            raise ValueError(f"{type(self).__name__} takes inputs of shape (batch, features), got {x.shape}")
        if x.dtype.kind != "f":
            x = x.astype(self.dtype or np.float32)
        if not self.built:
            self._alone = True
            self._build_alone((None, x.shape[1]), x)
        w_x, w_h = self.params["kernel"], self.params["recurrent_kernel"]
        b = self._bias(w_x.dtype)
        x = np.ascontiguousarray(x, dtype=w_x.dtype)  # the weights' dtype, as the layers compute
        array_state = isinstance(states, np.ndarray)
        given = self._given_states(states, x.shape[0], x.dtype) if states is not None else None
        step = getattr(_ops, f"{self.cell}_cell_forward")
        out = step(x, w_x, w_h, b, *(given or ()), **self.engine_options())
        new = list(out) if isinstance(out, tuple) else [out]
        h = new[0]
        if array_state and len(new) == 1:
            return h, new[0]
        return h, new


def _as_list(states) -> list:
    if states is None:
        return []
    return list(states) if isinstance(states, (list, tuple)) else [states]


class LSTMCell(_Cell, LSTM):
    """One LSTM step, Keras 3's ``LSTMCell``: the ``LSTM`` layer's arguments and weights without
    the sequence arguments (those are the ``RNN``'s)."""

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
        seed=None,
        **kwargs,
    ):
        _no_sequence_arguments("LSTMCell", kwargs)
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )


class GRUCell(_Cell, GRU):
    """One GRU step, Keras 3's ``GRUCell`` (``reset_after=True`` by default, as the layer)."""

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        **kwargs,
    ):
        _no_sequence_arguments("GRUCell", kwargs)
        super().__init__(
            units,
            activation,
            recurrent_activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            reset_after=reset_after,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )


class SimpleRNNCell(_Cell, SimpleRNN):
    """One simple RNN step, Keras 3's ``SimpleRNNCell``."""

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
        seed=None,
        **kwargs,
    ):
        _no_sequence_arguments("SimpleRNNCell", kwargs)
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )


CELLS = (LSTMCell, GRUCell, SimpleRNNCell)


class StackedRNNCells:
    """Cells run one after the other at each step (Keras 3's ``StackedRNNCells``; ``RNN`` makes one
    from a list of cells): the first reads the input, each next one the previous one's output.
    The states are each cell's, in order; ``output_size`` is the last cell's."""

    def __init__(self, cells, name=None, trainable=True, dtype=None):
        if not isinstance(cells, (list, tuple)) or not cells:
            raise TypeError(f"StackedRNNCells takes a non-empty list of cells, got {cells!r:.80}")
        for cell in cells:
            if not isinstance(cell, _Cell):
                raise TypeError(
                    "StackedRNNCells takes lstmcore's cells (LSTMCell, GRUCell, SimpleRNNCell), got "
                    f"{type(cell).__name__}"
                )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.cells = list(cells)
        self.name = name
        self.trainable = bool(trainable)
        self.dtype = dtype

    @property
    def state_size(self) -> list:
        return [c.state_size for c in self.cells]

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size

    def get_initial_state(self, batch_size: int) -> list:
        """Each cell's zero states, a list per cell (Keras's nesting)."""
        return [c.get_initial_state(batch_size) for c in self.cells]

    def get_config(self) -> dict:
        cells = [{"class_name": type(c).__name__, "config": c.get_config()} for c in self.cells]
        return {"name": self.name, "trainable": self.trainable, "cells": cells}

    def __repr__(self) -> str:
        return f"<StackedRNNCells name={self.name!r} cells={len(self.cells)}>"

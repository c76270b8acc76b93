"""One flat buffer of parameters and one of gradients, with a named view per weight (llm.c style).

The optimizer updates the whole model with one pass over ``params`` and ``grads``; a layer sees
only its own views. The views are C-contiguous slices of the buffers, so they go to the kernels
without a copy.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ParameterBuffer"]


class ParameterBuffer:
    """``specs``: (name, shape) pairs in order -> ``params``, ``grads`` (N,) and their views."""

    def __init__(self, specs: list[tuple[str, tuple[int, ...]]], dtype):
        self.dtype = np.dtype(dtype)
        self.names = [name for name, _ in specs]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"weight names must be unique, got {self.names}")
        self.shapes = {name: tuple(int(s) for s in shape) for name, shape in specs}
        self.slices: list[slice] = []
        offset = 0
        for name in self.names:
            n = math.prod(self.shapes[name])
            self.slices.append(slice(offset, offset + n))
            offset += n
        self.size = offset
        self.params = np.zeros(offset, dtype=self.dtype)
        self.grads = np.zeros(offset, dtype=self.dtype)
        self._make_views()

    def _make_views(self) -> None:
        self.param_views = {}
        self.grad_views = {}
        for name, sl in zip(self.names, self.slices, strict=True):
            self.param_views[name] = self.params[sl].reshape(self.shapes[name])
            self.grad_views[name] = self.grads[sl].reshape(self.shapes[name])

    # Pickling keeps the flat buffers; the views are made again from them (a pickled view would
    # come back as a copy, no longer the buffer's). The model then binds its layers again.
    def __getstate__(self):
        state = dict(self.__dict__)
        del state["param_views"], state["grad_views"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._make_views()

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"ParameterBuffer({len(self.names)} weights, {self.size} values, {self.dtype.name})"

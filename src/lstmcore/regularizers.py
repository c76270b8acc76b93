"""Keras's weight and activity regularizers (``keras.regularizers``): ``L1``, ``L2``, ``L1L2``,
``OrthogonalRegularizer`` and their names, for the layers' ``kernel_regularizer``, ``recurrent_regularizer``,
``bias_regularizer``, ``embeddings_regularizer``, ``gamma_regularizer``, ``beta_regularizer`` and
``activity_regularizer``, with Keras 3's meaning:

- a weight's penalty is added to the loss that ``fit`` minimises and reports (and ``evaluate``'s
  loss), and its gradient to the weight's gradient before each optimizer step;
- an activity regularizer's penalty is taken on the layer's output, divided by the batch size.

lstmcore has no autodiff, so a regularizer gives its gradient too: a custom one subclasses
:class:`Regularizer` with ``__call__(x)`` (the penalty) and ``gradient(x)`` (its derivative, x's
shape). Configs are Keras's (``{"class_name": "L2", "config": {"l2": 0.01}}``), so ``.keras``
files carry them both ways.
"""

from __future__ import annotations

import numpy as np

from . import _config

__all__ = [
    "Regularizer",
    "L1",
    "L2",
    "L1L2",
    "OrthogonalRegularizer",
    "l1",
    "l2",
    "l1_l2",
    "orthogonal_regularizer",
    "get",
    "serialize",
    "deserialize",
]


def _factor(name: str, value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number >= 0, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


class Regularizer:
    """A penalty on a weight or an activity: ``__call__(x)`` its value (a float), ``gradient(x)``
    its derivative with respect to x (an array of x's shape and dtype)."""

    def __call__(self, x) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(x), the penalty")

    def gradient(self, x) -> np.ndarray:
        raise NotImplementedError(
            f"{type(self).__name__} must define gradient(x), the penalty's derivative (lstmcore has no "
            "autodiff)"
        )

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``; the gradient takes sign(0) = 0."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor("l1", l1)
        self.l2 = _factor("l2", l2)

    def __call__(self, x) -> float:
        x = np.asarray(x)
        total = x.dtype.type(0) if x.dtype.kind == "f" else 0.0
        if self.l1:
            total = total + x.dtype.type(self.l1) * np.abs(x).sum()
        if self.l2:
            total = total + x.dtype.type(self.l2) * np.square(x).sum()
        return float(total)

    def gradient(self, x) -> np.ndarray:
        x = np.asarray(x)
        g = np.zeros_like(x)
        if self.l1:
            g += x.dtype.type(self.l1) * np.sign(x)
        if self.l2:
            g += x.dtype.type(2 * self.l2) * x
        return g

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class L1(L1L2):
    """``l1 * sum(|x|)``."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(x**2)``."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Keras's penalty on a 2-D weight's rows (``mode="rows"``) or columns not being orthogonal:
    ``factor / 2`` times the mean over pairs of ``|n_i . n_j|``, the n the rows (columns) scaled to
    unit length (Keras's ``normalize``: ``x * min(1 / ||x||, 1 / 1e-7)``)."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor("factor", factor)
        if mode not in ("rows", "columns"):
            raise ValueError(f"mode must be 'rows' or 'columns', got {mode!r}")
        self.mode = mode

    def _parts(self, x):
        """(x with the vectors as rows, their scales, the unit rows, the pairs' weight)."""
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer takes 2-D weights, got shape {x.shape}")
        v = x if self.mode == "rows" else x.T
        if v.shape[0] < 2:
            raise ValueError(
                f"OrthogonalRegularizer ({self.mode}) needs at least 2 {self.mode}, got shape {x.shape}"
            )
        n, scale = _config.normalize(v, axis=1)
        pairs = v.shape[0] * (v.shape[0] - 1) / 2
        return v, scale, n, x.dtype.type(self.factor * 0.5 / pairs)

    def __call__(self, x) -> float:
        _, _, n, c = self._parts(x)
        p = n @ n.T
        np.fill_diagonal(p, 0)
        return float(c * np.abs(p).sum())

    def gradient(self, x) -> np.ndarray:
        v, scale, n, c = self._parts(x)
        p = n @ n.T
        s = c * np.sign(p)
        np.fill_diagonal(s, 0)
        g = 2 * (s @ n)  # d/dn of c * sum |n_i . n_j| (s is symmetric)
        dv = _config.normalize_backward(g, n, scale, axis=1)
        return (dv if self.mode == "rows" else dv.T).astype(np.asarray(x).dtype, copy=False)

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer  # Keras's other names
_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2, "OrthogonalRegularizer": OrthogonalRegularizer}
_NAMES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}


def serialize(regularizer) -> dict | None:
    """Keras's serialized form (``{"module", "class_name", "config", "registered_name"}``)."""
    return _config.serialize(regularizer, _CLASSES, "keras.regularizers")


def deserialize(config, custom_objects=None):
    """A regularizer from ``serialize``'s dict (or Keras's ``{"class_name", "config"}``)."""
    return _config.deserialize(config, "regularizer", _CLASSES, _NAMES, custom_objects)


def get(identifier) -> Regularizer | None:
    """None, a :class:`Regularizer`, a name ("l1", "l2", "l1_l2", "L1", ...: Keras's defaults)
    or a config dict, as ``keras.regularizers.get``. A plain function is refused: lstmcore needs
    its gradient too."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        return _config.named(identifier, "regularizer", _CLASSES, _NAMES)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        raise TypeError(
            f"a regularizer function ({identifier!r:.60}) has no gradient here (lstmcore has no autodiff): "
            "subclass lstmcore.regularizers.Regularizer with __call__(x) and gradient(x)"
        )
    raise TypeError(f"expected a regularizer, its name or its config, got {identifier!r:.100}")

"""Keras's weight constraints (``keras.constraints``): ``MaxNorm``, ``MinMaxNorm``, ``NonNeg``,
``UnitNorm`` and their names, for the layers' ``kernel_constraint``, ``recurrent_constraint``,
``bias_constraint``, ``embeddings_constraint``, ``gamma_constraint`` and ``beta_constraint``.
As in Keras 3, a constrained weight is projected after each optimizer step (``w = c(w)``); the
norms run along ``axis`` of the weight in Keras's layout (a Dense or LSTM kernel (inputs, units):
axis 0 bounds each unit's incoming weights). A custom constraint subclasses :class:`Constraint`
with ``__call__(w)`` returning the projected array. Configs are Keras's.
"""

from __future__ import annotations

import numpy as np

from . import _config

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "unit_norm",
    "get",
    "serialize",
    "deserialize",
]

EPSILON = _config.EPSILON  # added to the norms it divides by, as Keras


def _number(name: str, value, minimum=None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or (minimum is not None and value < minimum):
        raise ValueError(
            f"{name} must be a finite number{f' >= {minimum}' if minimum is not None else ''}, got {value!r}"
        )
    return value


def _axis(axis):
    items = axis if isinstance(axis, (list, tuple)) else [axis]
    if not items or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in items):
        raise TypeError(f"axis must be an int or a list of ints, got {axis!r}")
    return [int(a) for a in items] if isinstance(axis, (list, tuple)) else int(axis)


def _norms(w: np.ndarray, axis) -> np.ndarray:
    return np.sqrt(np.square(w).sum(axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=True))


class Constraint:
    """A projection of a weight, applied after each optimizer step: ``__call__(w)`` returns it."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class MaxNorm(Constraint):
    """Norms along ``axis`` at most ``max_value``: ``w * clip(n, 0, max) / (eps + n)``."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = _number("max_value", max_value, 0)
        self.axis = _axis(axis)

    def __call__(self, w):
        w = np.asarray(w)
        n = _norms(w, self.axis)
        return w * (np.clip(n, 0, self.max_value) / (EPSILON + n)).astype(w.dtype)

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Norms along ``axis`` moved toward [min_value, max_value] at ``rate``."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _number("min_value", min_value, 0)
        self.max_value = _number("max_value", max_value, self.min_value)
        self.rate = _number("rate", rate, 0)
        self.axis = _axis(axis)

    def __call__(self, w):
        w = np.asarray(w)
        n = _norms(w, self.axis)
        desired = self.rate * np.clip(n, self.min_value, self.max_value) + (1 - self.rate) * n
        return w * (desired / (EPSILON + n)).astype(w.dtype)

    def get_config(self) -> dict:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


class NonNeg(Constraint):
    """``max(w, 0)``."""

    def __call__(self, w):
        return np.maximum(np.asarray(w), 0)


class UnitNorm(Constraint):
    """Norms along ``axis`` of 1: ``w / (eps + n)``."""

    def __init__(self, axis=0):
        self.axis = _axis(axis)

    def __call__(self, w):
        w = np.asarray(w)
        return w / (EPSILON + _norms(w, self.axis)).astype(w.dtype)

    def get_config(self) -> dict:
        return {"axis": self.axis}


max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm
_CLASSES = {"MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm}
_NAMES = {"max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm}


def serialize(constraint) -> dict | None:
    """Keras's serialized form (``{"module", "class_name", "config", "registered_name"}``)."""
    return _config.serialize(constraint, _CLASSES, "keras.constraints")


def deserialize(config, custom_objects=None):
    """A constraint from ``serialize``'s dict (or Keras's ``{"class_name", "config"}``)."""
    return _config.deserialize(config, "constraint", _CLASSES, _NAMES, custom_objects)


def get(identifier) -> Constraint | None:
    """None, a :class:`Constraint`, a name ("max_norm", "non_neg", "MaxNorm", ...: Keras's
    defaults), a config dict, or a function of the weight returning the projected weight."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        return _config.named(identifier, "constraint", _CLASSES, _NAMES)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return _Function(identifier)
    raise TypeError(f"expected a constraint, its name or its config, got {identifier!r:.100}")


class _Function(Constraint):
    """A plain function as a constraint (it needs no gradient)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, w):
        return self.fn(w)

    def get_config(self) -> dict:
        raise TypeError(
            f"the constraint function {self.fn!r:.60} cannot be saved: subclass Constraint with get_config"
        )

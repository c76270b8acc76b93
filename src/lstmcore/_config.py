"""Keras's settings that lstmcore follows (``keras.config.epsilon()``) and rebuilding objects from
Keras-style configs (losses, optimizers, regularizers, constraints)."""

from __future__ import annotations

import numpy as np

# keras.config.epsilon(): the losses' clips, MAPE's floor, the constraints' and normalize's
# divisors, Normalization's floor on the standard deviation, AUC's end thresholds
EPSILON = 1e-7


def normalize(x, axis: int = -1):
    """Keras's ``ops.normalize``: x * min(1 / ||x||, 1 / eps) along ``axis`` (a zero vector stays
    0). Returns (the normalized x, the scale min(1 / ||x||, 1 / eps), keepdims)."""
    t = x.dtype.type
    with np.errstate(divide="ignore"):
        inv = t(1) / np.sqrt(np.sum(np.square(x), axis=axis, keepdims=True))
    scale = np.minimum(inv, t(1 / EPSILON))
    return x * scale, scale


def normalize_backward(g, n, scale, axis: int = -1):
    """The gradient through ``normalize`` of g = dL/dn: where the 1/||x|| scale holds, its
    direction projected out, (g - n (n . g)) * scale; where the 1/eps bound holds, g * scale."""
    unit = scale < scale.dtype.type(1 / EPSILON)
    return np.where(unit, (g - n * np.sum(n * g, axis=axis, keepdims=True)) * scale, g * scale)


def build_from_config(cls, config: dict, keras_defaults: dict):
    """``cls(**config)`` after dropping the Keras-only keys that hold their Keras defaults.

    A Keras-only key with another value is a feature lstmcore does not have: ValueError, not a silent
    difference. Unknown keys or bad values: ValueError naming the class and the config.
    """
    config = dict(config)
    for key, default in keras_defaults.items():
        if key in config:
            value = config.pop(key)
            if value != default:
                raise ValueError(
                    f"{cls.__name__}: {key}={value!r} is not supported by lstmcore (only the "
                    f"Keras default {key}={default!r})"
                )
    try:
        return cls(**config)
    except TypeError as exc:
        raise ValueError(f"{cls.__name__}: invalid config {config!r} ({exc})") from None


def serialize(obj, classes: dict, module: str) -> dict | None:
    """Keras's serialized form of ``obj`` (``{"module", "class_name", "config",
    "registered_name"}``): one of ``classes`` (name -> class) under ``module`` ("keras.
    regularizers"), or a user's class under its own module and name."""
    if obj is None:
        return None
    name = type(obj).__name__
    known = classes.get(name) is type(obj)
    return {
        "module": module if known else type(obj).__module__,
        "class_name": name,
        "config": obj.get_config(),
        "registered_name": None if known else name,
    }


def deserialize(config, kind: str, classes: dict, names: dict, custom_objects=None):
    """The object of ``serialize``'s dict (or Keras's ``{"class_name", "config"}``): its class
    from ``custom_objects``, ``classes`` or ``names`` (Keras's function-style names), then
    ``cls.from_config``; ``kind`` ("regularizer") names it in errors."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise TypeError(
            f"expected a {kind} config {{'class_name': ..., 'config': {{...}}}}, got {config!r:.100}"
        )
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or classes.get(name) or names.get(name)
    if cls is None:
        raise ValueError(
            f"unknown {kind} {name!r}: lstmcore has {sorted(classes)} (a custom one: custom_objects)"
        )
    return cls.from_config(dict(config.get("config") or {}))


def named(name: str, kind: str, classes: dict, names: dict):
    """The class Keras knows by ``name``: a function-style name ("l2", "max_norm") or a class name."""
    cls = names.get(name) or classes.get(name)
    if cls is None:
        raise ValueError(f"unknown {kind} {name!r}: expected one of {sorted(names)}")
    return cls

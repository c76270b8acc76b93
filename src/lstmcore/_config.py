"""Rebuilding objects from Keras-style configs (losses, optimizers)."""

from __future__ import annotations


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

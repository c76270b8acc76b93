"""Weight initializers with Keras 3's names, formulas and defaults, and the seed that drives them.

Each initializer is a function ``init(shape, rng, dtype) -> np.ndarray``. Keras draws from its own
generator, so the numbers differ from Keras's; the distributions are the same.

Reproducibility: :func:`set_random_seed` seeds the generator from which layers without a ``seed``
draw theirs, and from which ``fit`` draws its shuffling order.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["get", "set_random_seed", "NAMES"]

_global = {"rng": np.random.default_rng()}


def set_random_seed(seed: int) -> None:
    """Make weight initialisation, dropout masks and shuffling reproducible (like Keras's)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _global["rng"] = np.random.default_rng(int(seed))


def new_rng(seed=None) -> np.random.Generator:
    """A generator from ``seed``, or one seeded from the global generator when ``seed`` is None."""
    if seed is None:
        seed = int(_global["rng"].integers(2**63))
    return np.random.default_rng(seed)


def _fans(shape) -> tuple[int, int]:
    # Keras: the last axis is fan_out; the rest (times the receptive field) is fan_in.
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def zeros(shape, rng, dtype):
    return np.zeros(shape, dtype=dtype)


def ones(shape, rng, dtype):
    return np.ones(shape, dtype=dtype)


def glorot_uniform(shape, rng, dtype):
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(shape, rng, dtype):
    fan_in, fan_out = _fans(shape)
    return _truncated_normal(shape, rng, math.sqrt(2.0 / (fan_in + fan_out)), dtype)


def he_uniform(shape, rng, dtype):
    fan_in, _ = _fans(shape)
    limit = math.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape, rng, dtype):
    fan_in, _ = _fans(shape)
    return _truncated_normal(shape, rng, math.sqrt(2.0 / fan_in), dtype)


def random_normal(shape, rng, dtype):
    return (rng.standard_normal(shape) * 0.05).astype(dtype)


def random_uniform(shape, rng, dtype):
    return rng.uniform(-0.05, 0.05, size=shape).astype(dtype)


def orthogonal(shape, rng, dtype):
    # Keras 3: QR of a normal matrix of the flattened shape, signs fixed by diag(R).
    rows, cols = math.prod(shape[:-1]), shape[-1]
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return q.reshape(shape).astype(dtype)


def _truncated_normal(shape, rng, stddev, dtype):
    # Keras's variance-scaling normal: truncated at 2 stddev, rescaled by 1/0.8796...
    stddev = stddev / 0.87962566103423978
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return (out * stddev).astype(dtype)


_TABLE = {
    "zeros": zeros,
    "ones": ones,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "random_normal": random_normal,
    "random_uniform": random_uniform,
    "orthogonal": orthogonal,
    "uniform": random_uniform,  # Keras's aliases (Embedding's default is "uniform")
    "normal": random_normal,
}
NAMES = tuple(sorted(_TABLE))


def get(name: str):
    """The initializer called ``name`` (Keras's string identifiers)."""
    if not isinstance(name, str):
        raise TypeError(f"initializer must be one of the names {NAMES}, got {name!r}")
    try:
        return _TABLE[name.lower()]
    except KeyError:
        raise ValueError(f"initializer must be one of {NAMES}, got {name!r}") from None

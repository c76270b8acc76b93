"""Keras's learning-rate schedules (``keras.optimizers.schedules``): ``ExponentialDecay``,
``PiecewiseConstantDecay``, ``PolynomialDecay``, ``InverseTimeDecay``, ``CosineDecay`` (with its
linear warmup) and ``CosineDecayRestarts``. An optimizer given one as ``learning_rate`` takes
``schedule(iterations)`` at each step (the steps taken before it, from 0), as Keras 3; its learning
rate is then not settable (ReduceLROnPlateau, LearningRateScheduler). The arithmetic is Keras's, in
float32 (the dtype Keras gives a Python float), so the rates are Keras's to a few ulps. A custom
schedule subclasses :class:`LearningRateSchedule` with ``__call__(step)`` and ``get_config``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _config

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    "serialize",
    "deserialize",
]

_F = np.float32  # Keras's dtype for the schedules' arithmetic


def _number(cls: str, name: str, value, *, positive=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{cls}: {name} must be a number, got {value!r}")
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{cls}: {name} must be a finite number{' > 0' if positive else ''}, got {value!r}")
    return value


class LearningRateSchedule:
    """A learning rate as a function of the step: ``__call__(step)`` returns it (a number)."""

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(step)")

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define get_config() to be saved")

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class _StepDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments, and the decay's progress
    ``step / decay_steps`` (floored with ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        cls = type(self).__name__
        self.initial_learning_rate = _number(cls, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number(cls, "decay_steps", decay_steps, positive=True)
        self.decay_rate = _number(cls, "decay_rate", decay_rate)
        self.staircase, self.name = bool(staircase), cls if name is None else name

    def _progress(self, step):
        p = _F(step) / _F(self.decay_steps)
        return np.floor(p) if self.staircase else p

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_StepDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (the exponent floored with
    ``staircase``)."""

    def __call__(self, step):
        return float(_F(self.initial_learning_rate) * np.power(_F(self.decay_rate), self._progress(step)))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` (included), ``values[i]`` after ``boundaries[i - 1]``
    up to ``boundaries[i]``, ``values[-1]`` past the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise TypeError(
                f"PiecewiseConstantDecay: boundaries and values must be lists, got {boundaries!r}, {values!r}"
            )
        if len(boundaries) != len(values) - 1 or not boundaries:
            raise ValueError(
                "PiecewiseConstantDecay: expected one boundary fewer than values (and at least one), got "
                f"{len(boundaries)} boundaries and {len(values)} values"
            )
        for v in (*boundaries, *values):
            _number("PiecewiseConstantDecay", "each boundary and value", v)
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values, strict=False):
            if step <= boundary:
                return float(_F(value))
        return float(_F(self.values[-1]))

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` over ``decay_steps`` along
    ``(1 - step / decay_steps) ** power``; then ``end_learning_rate``, or with ``cycle`` again over
    the next multiple of ``decay_steps``."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        self.initial_learning_rate = _number(
            "PolynomialDecay", "initial_learning_rate", initial_learning_rate
        )
        self.decay_steps = _number("PolynomialDecay", "decay_steps", decay_steps, positive=True)
        self.end_learning_rate = _number("PolynomialDecay", "end_learning_rate", end_learning_rate)
        self.power = _number("PolynomialDecay", "power", power)
        self.cycle, self.name = bool(cycle), name

    def __call__(self, step):
        s, steps = _F(step), _F(self.decay_steps)
        if self.cycle:
            steps = steps * (_F(1) if s == 0 else np.ceil(s / _F(self.decay_steps)))
        else:
            s = min(s, steps)
        p = s / steps
        start, end = _F(self.initial_learning_rate), _F(self.end_learning_rate)
        return float((start - end) * np.power(_F(1) - p, _F(self.power)) + end)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(_StepDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the ratio floored with
    ``staircase``)."""

    def __call__(self, step):
        return float(_F(self.initial_learning_rate) / (_F(1) + _F(self.decay_rate) * self._progress(step)))


class CosineDecay(LearningRateSchedule):
    """Half a cosine from the rate to ``alpha`` times it over ``decay_steps``; with
    ``warmup_target``, first a straight line from ``initial_learning_rate`` to it over
    ``warmup_steps``, then the cosine from it."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        self.initial_learning_rate = _number("CosineDecay", "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number("CosineDecay", "decay_steps", decay_steps, positive=True)
        self.alpha = _number("CosineDecay", "alpha", alpha)
        self.name = name
        self.warmup_target = (
            None if warmup_target is None else _number("CosineDecay", "warmup_target", warmup_target)
        )
        self.warmup_steps = _number("CosineDecay", "warmup_steps", warmup_steps)

    def _decay(self, step, start):
        fraction = step / _F(self.decay_steps)
        cosine = _F(0.5) * (_F(1) + np.cos(_F(math.pi) * fraction))
        return start * ((_F(1) - _F(self.alpha)) * cosine + _F(self.alpha))

    def __call__(self, step):
        s, steps = _F(step), _F(self.decay_steps)
        initial = _F(self.initial_learning_rate)
        if self.warmup_target is None:
            return float(self._decay(min(s, steps), initial))
        target, warmup = _F(self.warmup_target), _F(self.warmup_steps)
        s = min(s, steps + warmup)
        if s < warmup:
            return float((target - initial) * (s / warmup) + initial)
        return float(self._decay(s - warmup, target))

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): a half cosine over ``first_decay_steps``, then again
    over periods ``t_mul`` times longer, each from ``m_mul`` times the last start; down to ``alpha``
    times the start."""

    def __init__(
        self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"
    ):
        cls = "CosineDecayRestarts"
        self.initial_learning_rate = _number(cls, "initial_learning_rate", initial_learning_rate)
        self.first_decay_steps = _number(cls, "first_decay_steps", first_decay_steps, positive=True)
        self.t_mul = _number(cls, "t_mul", t_mul, positive=True)
        self.m_mul = _number(cls, "m_mul", m_mul)
        self.alpha = _number(cls, "alpha", alpha)
        self.name = name

    def __call__(self, step):
        fraction = _F(step) / _F(self.first_decay_steps)
        t_mul = _F(self.t_mul)
        if t_mul == 1:
            restart = np.floor(fraction)
            fraction = fraction - restart
        else:
            restart = np.floor(np.log(_F(1) - fraction * (_F(1) - t_mul)) / np.log(t_mul))
            done = (_F(1) - np.power(t_mul, restart)) / (_F(1) - t_mul)
            fraction = (fraction - done) / np.power(t_mul, restart)
        cosine = _F(0.5) * np.power(_F(self.m_mul), restart) * (_F(1) + np.cos(_F(math.pi) * fraction))
        alpha = _F(self.alpha)
        return float(_F(self.initial_learning_rate) * ((_F(1) - alpha) * cosine + alpha))

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_CLASSES = {
    c.__name__: c
    for c in (
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def serialize(schedule) -> dict:
    """Keras's serialized form (``{"module", "class_name", "config", "registered_name"}``)."""
    return _config.serialize(schedule, _CLASSES, "keras.optimizers.schedules")


def deserialize(config, custom_objects=None) -> LearningRateSchedule:
    """A schedule from ``serialize``'s dict (or Keras's ``{"class_name", "config"}``)."""
    return _config.deserialize(config, "learning-rate schedule", _CLASSES, {}, custom_objects)

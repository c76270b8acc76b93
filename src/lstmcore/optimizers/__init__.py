"""Optimizers with Keras 3 defaults and update rules, over the model's one flat parameter buffer.

The model keeps every weight in one 1-D buffer ``params`` (float32 or float64) and every gradient in
a second buffer ``grads`` of the same size; each weight is a slice of both. ``build(params, slices)``
allocates the optimizer's state (slots such as ``momentum`` and ``velocity``, the same size and dtype
as ``params``) plus one scratch buffer; ``apply(params, grads)`` then does one step as a handful of
whole-buffer NumPy passes with ``out=``, allocating nothing. ``grads`` is used as scratch space.

One step is, as in Keras 3 (keras/src/optimizers/base_optimizer.py, ``_backend_apply_gradients``):

1. clip the gradients: ``clipnorm`` clips each weight's gradient (each slice) to that L2 norm,
   ``global_clipnorm`` clips all of them together, ``clipvalue`` clips elementwise (only one of the
   three may be set);
2. decoupled weight decay, when ``weight_decay`` is set: ``w -= w * weight_decay * learning_rate``
   for every weight (AdamW sets it by default);
3. the update rule of the optimizer (``_update``), written after Keras's ``update_step``;
4. ``iterations += 1``.

Scalars are cast to the buffer's dtype before use, as Keras casts them to the variable's dtype, so a
float32 model does float32 arithmetic throughout. Coefficients such as ``1 - beta_1`` are computed in
Python (float64) first and then cast, which is what ``ops.multiply(x, 1 - self.beta_1)`` does.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._config import build_from_config
from . import schedules

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "RMSprop",
    "AdamW",
    "Nadam",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Lion",
    "get",
    "serialize",
    "schedules",
]

# Keras constructor arguments that lstmcore does not implement. A Keras config carries them; it is
# accepted when they hold these (default, i.e. inactive) values.
_KERAS_DEFAULTS = {
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


def _real(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """``value`` as a float after checking that it is a finite real number in the stated interval."""
    ok = not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real)
    if ok:
        value = float(value)
        ok = math.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
    if not ok:
        if low is not None and high is not None:
            expected = f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        elif low is not None:
            expected = f"a finite number {'>' if low_open else '>='} {low}"
        else:
            expected = "a finite number"
        raise ValueError(f"{name} must be {expected}, received {name}={value!r}")
    return value


def _optional_positive(name: str, value) -> float | None:
    return None if value is None else _real(name, value, low=0.0, low_open=True)


def _bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, received {name}={value!r}")
    return bool(value)


class Optimizer:
    """Base class: clipping, weight decay, state, config; subclasses give ``_slot_names`` and ``_update``.

    ``learning_rate`` is a float > 0, settable (callbacks such as ReduceLROnPlateau write it between
    steps), or a learning-rate schedule (``schedules``), read at each step with the step count and
    then not settable. ``iterations`` counts the steps applied since ``build``.
    """

    default_name = "optimizer"

    def __init__(
        self,
        learning_rate,
        *,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
    ):
        self.learning_rate = learning_rate
        self.weight_decay = None if weight_decay is None else _real("weight_decay", weight_decay, low=0.0)
        self.clipnorm = _optional_positive("clipnorm", clipnorm)
        self.clipvalue = _optional_positive("clipvalue", clipvalue)
        self.global_clipnorm = _optional_positive("global_clipnorm", global_clipnorm)
        n_clip = sum(c is not None for c in (self.clipnorm, self.clipvalue, self.global_clipnorm))
        if n_clip > 1:
            raise ValueError(
                "only one of clipnorm, clipvalue and global_clipnorm can be set, received "
                f"clipnorm={clipnorm!r}, clipvalue={clipvalue!r}, global_clipnorm={global_clipnorm!r}"
            )
        if name is None:
            name = self.default_name
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, received name={name!r}")
        self.name = name
        self.iterations = 0
        self._n = None  # buffer size once built
        self._dtype = None
        self._slices: list[slice] = []
        self._slots: dict[str, np.ndarray] = {}
        self._scratch = None

    # learning_rate ---------------------------------------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step: the float given, or the schedule's value at
        ``iterations`` (a :class:`~lstmcore.optimizers.schedules.LearningRateSchedule`)."""
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, dict) and "class_name" in value:  # a Keras config of a schedule
            value = schedules.deserialize(value)
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(getattr(self, "_learning_rate", None), schedules.LearningRateSchedule):
            raise TypeError(
                "this optimizer was made with a LearningRateSchedule as its learning_rate, so its "
                "learning rate is not settable (as in Keras); make it with a float learning_rate"
            )
        self._learning_rate = _real("learning_rate", value, low=0.0, low_open=True)

    @property
    def schedule(self) -> schedules.LearningRateSchedule | None:
        """The learning-rate schedule, or None for a fixed (settable) learning rate."""
        lr = self._learning_rate
        return lr if isinstance(lr, schedules.LearningRateSchedule) else None

    # State -----------------------------------------------------------------------------------------

    @property
    def built(self) -> bool:
        return self._n is not None

    def _slot_names(self) -> list[str]:
        return []

    def build(self, params: np.ndarray, slices: list[slice]) -> None:
        """Allocate the slots (zeros) and scratch for ``params``; ``slices`` must tile it, one per weight.

        Building again (for a new buffer) starts from fresh state, with ``iterations = 0``.
        """
        floats = (np.float32, np.float64)
        if not isinstance(params, np.ndarray) or params.ndim != 1 or params.dtype not in floats:
            raise ValueError(
                "params must be a 1-D float32 or float64 array, received "
                f"{type(params).__name__} {getattr(params, 'shape', '')} {getattr(params, 'dtype', '')}"
            )
        n = params.shape[0]
        norm = []
        for sl in slices:
            if not isinstance(sl, slice) or sl.step not in (None, 1):
                raise ValueError(f"slices must be slice objects with step 1, received {sl!r}")
            start, stop, _ = sl.indices(n)
            norm.append(slice(start, max(start, stop)))
        norm.sort(key=lambda s: s.start)
        pos = 0
        for sl in norm:
            if sl.start != pos:
                raise ValueError(
                    f"slices must tile the parameter buffer of {n} values without gaps or overlaps; "
                    f"expected a slice starting at {pos}, received {sl!r} (all: {list(slices)!r})"
                )
            pos = sl.stop
        if pos != n:
            raise ValueError(f"slices cover {pos} of the {n} parameters; they must cover all of them")
        self._n, self._dtype, self._slices = n, params.dtype, norm
        self._slots = {name: np.zeros(n, dtype=params.dtype) for name in self._slot_names()}
        self._scratch = np.empty(n, dtype=params.dtype)
        self.iterations = 0

    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of the slots, and ``iterations`` as a 0-d int64 array (for saving)."""
        self._require_built("get_state")
        state = {name: slot.copy() for name, slot in self._slots.items()}
        state["iterations"] = np.array(self.iterations, dtype=np.int64)
        return state

    def set_state(self, state) -> None:
        """Restore what ``get_state`` returned (names, shapes and dtypes must match this build)."""
        self._require_built("set_state")
        if not isinstance(state, dict):
            raise ValueError(f"state must be a dict of arrays, received {type(state).__name__}")
        expected = {*self._slots, "iterations"}
        if set(state) != expected:
            raise ValueError(
                f"{type(self).__name__} state must have the entries {sorted(expected)}, "
                f"received {sorted(state)}"
            )
        for name in self._slots:
            value = np.asarray(state[name])
            if value.shape != (self._n,) or value.dtype != self._dtype:
                raise ValueError(
                    f"state[{name!r}] must be a ({self._n},) {self._dtype} array, received "
                    f"{value.shape} {value.dtype}"
                )
        it = np.asarray(state["iterations"])
        if it.size != 1 or it.dtype.kind not in "iu" or int(it.reshape(())) < 0:
            raise ValueError(
                f"state['iterations'] must be one integer >= 0, received {it!r} (dtype {it.dtype})"
            )
        for name, slot in self._slots.items():
            np.copyto(slot, state[name])
        self.iterations = int(it.reshape(()))

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(f"call build(params, slices) before {what}()")

    # One step --------------------------------------------------------------------------------------

    def apply(self, params: np.ndarray, grads: np.ndarray) -> None:
        """One update of ``params`` in place from ``grads`` (which is overwritten: scratch)."""
        self._require_built("apply")
        for what, a in (("params", params), ("grads", grads)):
            if not isinstance(a, np.ndarray) or a.shape != (self._n,) or a.dtype != self._dtype:
                raise ValueError(
                    f"{what} must be the ({self._n},) {self._dtype} buffer the optimizer was built for, "
                    f"received {getattr(a, 'shape', type(a).__name__)} {getattr(a, 'dtype', '')}"
                )
        self._clip(grads)
        if self.weight_decay:
            # w -= w * wd * lr   (base_optimizer._apply_weight_decay)
            t, s = self._dtype.type, self._scratch
            np.multiply(params, t(self.weight_decay), out=s)
            s *= t(self.learning_rate)
            params -= s
        self._update(params, grads)
        self.iterations += 1

    def _clip(self, grads: np.ndarray) -> None:
        if self.clipnorm is not None:
            # each weight: g * clipnorm / max(||g||, clipnorm)
            for sl in self._slices:
                g = grads[sl]
                norm = math.sqrt(float(np.dot(g, g)))
                if not math.isfinite(norm):
                    g *= np.nan  # as Keras: a non-finite norm poisons the step instead of hiding it
                elif norm > self.clipnorm:
                    g *= self._dtype.type(self.clipnorm / norm)
        elif self.global_clipnorm is not None:
            # all weights: g * clip * min(1/||g||, 1/clip), NaN when the norm is not finite
            norm = math.sqrt(float(np.dot(grads, grads)))
            if not math.isfinite(norm):
                grads *= np.nan
            elif norm > self.global_clipnorm:
                grads *= self._dtype.type(self.global_clipnorm / norm)
        elif self.clipvalue is not None:
            np.clip(grads, -self.clipvalue, self.clipvalue, out=grads)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        raise NotImplementedError

    # Config ----------------------------------------------------------------------------------------

    def _hyper(self) -> dict:
        return {}

    def get_config(self) -> dict:
        """JSON-serializable: ``class_name``, ``name`` and every hyper-parameter (Keras's key names)."""
        return {
            "class_name": type(self).__name__,
            "name": self.name,
            "learning_rate": self.learning_rate
            if self.schedule is None
            else schedules.serialize(self.schedule),
            **self._hyper(),
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        """Rebuild from ``get_config()`` output (or a Keras optimizer config), without state."""
        config = dict(config)
        class_name = config.pop("class_name", cls.__name__)
        if class_name != cls.__name__:
            raise ValueError(f"config is for {class_name!r}, not {cls.__name__!r}")
        return build_from_config(cls, config, _KERAS_DEFAULTS)

    def __repr__(self) -> str:
        args = {k: v for k, v in self.get_config().items() if k != "class_name" and v is not None}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in args.items())})"


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum (Keras ``SGD``).

    momentum == 0:  w -= lr * g
    otherwise:      m = momentum * m - lr * g;  w += m                        (nesterov=False)
                                                w += momentum * m - lr * g    (nesterov=True)
    """

    default_name = "SGD"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = _real("momentum", momentum, low=0.0, high=1.0)
        self.nesterov = _bool("nesterov", nesterov)

    def _hyper(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _slot_names(self):
        return ["momentum"] if self.momentum != 0 else []

    def _update(self, params, grads):
        t = self._dtype.type
        lr = t(self.learning_rate)
        np.multiply(grads, lr, out=grads)  # g <- lr * g
        if self.momentum == 0:
            params -= grads
            return
        mom, m = t(self.momentum), self._slots["momentum"]
        m *= mom
        m -= grads  # m = momentum * m - lr * g
        if self.nesterov:
            s = self._scratch
            np.multiply(m, mom, out=s)
            s -= grads
            params += s
        else:
            params += m


class Adam(Optimizer):
    """Adam (Keras ``Adam``), with t = iterations + 1:

    m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2);  v_hat = max(v_hat, v) if amsgrad
    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t);  w -= m * alpha / (sqrt(v or v_hat) + epsilon)
    """

    default_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _real("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        self.beta_2 = _real("beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        self.epsilon = _real("epsilon", epsilon, low=0.0, low_open=True)
        self.amsgrad = _bool("amsgrad", amsgrad)

    def _hyper(self):
        return {
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }

    def _slot_names(self):
        return ["momentum", "velocity"] + (["velocity_hat"] if self.amsgrad else [])

    def _update(self, params, grads):
        t = self._dtype.type
        step = t(self.iterations + 1)
        one = t(1.0)
        alpha = t(self.learning_rate) * np.sqrt(one - t(self.beta_2) ** step) / (one - t(self.beta_1) ** step)
        m, v, s = self._slots["momentum"], self._slots["velocity"], self._scratch
        np.subtract(grads, m, out=s)
        s *= t(1.0 - self.beta_1)
        m += s  # m += (g - m) * (1 - beta_1)
        np.square(grads, out=grads)
        grads -= v
        grads *= t(1.0 - self.beta_2)
        v += grads  # v += (g**2 - v) * (1 - beta_2)
        if self.amsgrad:
            v = np.maximum(self._slots["velocity_hat"], v, out=self._slots["velocity_hat"])
        np.sqrt(v, out=s)
        s += t(self.epsilon)
        np.multiply(m, alpha, out=grads)
        grads /= s
        params -= grads  # w -= m * alpha / (sqrt(v) + epsilon)


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras ``AdamW``): w -= w * weight_decay * lr, then the Adam step.

    The decay applies to every weight (Keras's ``exclude_from_weight_decay`` is not offered).
    """

    default_name = "adamw"

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        if weight_decay is None:
            raise ValueError("weight_decay must be a float for AdamW, received weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """RMSprop (Keras ``RMSprop``):

    v = rho * v + (1 - rho) * g**2
    centered:  a = rho * a + (1 - rho) * g;  denom = max(v - a**2, 0) + epsilon    else  denom = v + epsilon
    inc = lr * g / sqrt(denom)
    momentum > 0:  mom = momentum * mom + inc;  w -= mom                  else  w -= inc
    """

    default_name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = _real("rho", rho, low=0.0, high=1.0)  # [0, 1], as Keras RMSprop checks
        self.momentum = _real("momentum", momentum, low=0.0, high=1.0)
        self.epsilon = _real("epsilon", epsilon, low=0.0, low_open=True)
        self.centered = _bool("centered", centered)

    def _hyper(self):
        return {
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }

    def _slot_names(self):
        names = ["velocity"]
        if self.momentum > 0:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        return names

    def _update(self, params, grads):
        t = self._dtype.type
        rho, c = t(self.rho), t(1.0 - self.rho)
        v, s = self._slots["velocity"], self._scratch
        v *= rho
        np.square(grads, out=s)
        s *= c
        v += s  # v = rho * v + (1 - rho) * g**2
        if self.centered:
            a = self._slots["average_gradient"]
            a *= rho
            np.multiply(grads, c, out=s)
            a += s  # a = rho * a + (1 - rho) * g
            np.square(a, out=s)
            np.subtract(v, s, out=s)
            # v - a**2 >= 0 in exact arithmetic, but rounding can push it below 0 when the gradient is
            # steady (float32, v ~ a**2): clamp at 0, where Keras would take sqrt of a negative (NaN).
            np.maximum(s, 0, out=s)
            s += t(self.epsilon)  # v - a**2 + epsilon
        else:
            np.add(v, t(self.epsilon), out=s)
        np.sqrt(s, out=s)
        np.multiply(grads, t(self.learning_rate), out=grads)
        grads /= s  # inc = lr * g / sqrt(denom)
        if self.momentum > 0:
            mom = self._slots["momentum"]
            mom *= t(self.momentum)
            mom += grads
            params -= mom
        else:
            params -= grads


class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum (Keras ``Nadam``), with t = iterations + 1:

    u_t = beta_1 * (1 - 0.5 * 0.96**t);  u_t1 = beta_1 * (1 - 0.5 * 0.96**(t + 1))
    u_product *= u_t  (a scalar of the buffer's dtype, 1 at build; saved with the state)
    m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2)
    m_hat = u_t1 * m / (1 - u_product * u_t1) + (1 - u_t) * g / (1 - u_product)
    w -= m_hat * lr / (sqrt(v / (1 - beta_2**t)) + epsilon)
    """

    default_name = "nadam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _real("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        self.beta_2 = _real("beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        self.epsilon = _real("epsilon", epsilon, low=0.0, low_open=True)
        self._u_product = None

    def _hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _slot_names(self):
        return ["momentum", "velocity"]

    def build(self, params, slices):
        super().build(params, slices)
        self._u_product = self._dtype.type(1.0)

    def get_state(self):
        """As ``Optimizer.get_state``, plus ``u_product`` as a 0-d array of the buffer's dtype."""
        state = super().get_state()
        state["u_product"] = np.array(self._u_product, dtype=self._dtype)
        return state

    def set_state(self, state):
        self._require_built("set_state")
        if isinstance(state, dict) and "u_product" in state:
            u = np.asarray(state["u_product"])
            if u.shape != () or u.dtype != self._dtype or not np.isfinite(u):
                raise ValueError(
                    f"state['u_product'] must be a finite 0-d {self._dtype} array, received {u!r} "
                    f"(shape {u.shape}, dtype {u.dtype})"
                )
            super().set_state({k: v for k, v in state.items() if k != "u_product"})
            self._u_product = self._dtype.type(u)
            return
        if isinstance(state, dict):
            expected = sorted({*self._slots, "iterations", "u_product"})
            raise ValueError(f"Nadam state must have the entries {expected}, received {sorted(state)}")
        super().set_state(state)

    def _update(self, params, grads):
        t = self._dtype.type
        one, step = t(1.0), t(self.iterations + 1)
        beta_1, decay = t(self.beta_1), t(0.96)
        u_t = beta_1 * (one - t(0.5) * decay**step)
        u_t1 = beta_1 * (one - t(0.5) * decay ** (step + one))
        u_product = self._u_product * u_t
        u_product_1 = u_product * u_t1
        self._u_product = u_product
        m, v, s = self._slots["momentum"], self._slots["velocity"], self._scratch
        np.subtract(grads, m, out=s)
        s *= t(1.0 - self.beta_1)
        m += s  # m += (g - m) * (1 - beta_1)
        np.square(grads, out=s)
        s -= v
        s *= t(1.0 - self.beta_2)
        v += s  # v += (g**2 - v) * (1 - beta_2)
        grads *= one - u_t
        grads /= one - u_product
        np.multiply(m, u_t1, out=s)
        s /= one - u_product_1
        grads += s  # m_hat
        grads *= t(self.learning_rate)
        np.divide(v, one - t(self.beta_2) ** step, out=s)  # v_hat
        np.sqrt(s, out=s)
        s += t(self.epsilon)
        grads /= s
        params -= grads  # w -= m_hat * lr / (sqrt(v_hat) + epsilon)


class Adagrad(Optimizer):
    """Adagrad (Keras ``Adagrad``): the accumulator starts at ``initial_accumulator_value``;

    acc += g**2;  w -= lr * g / sqrt(acc + epsilon)
    """

    default_name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = _real(
            "initial_accumulator_value", initial_accumulator_value, low=0.0
        )
        self.epsilon = _real("epsilon", epsilon, low=0.0, low_open=True)

    def _hyper(self):
        return {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}

    def _slot_names(self):
        return ["accumulator"]

    def build(self, params, slices):
        super().build(params, slices)
        self._slots["accumulator"].fill(self.initial_accumulator_value)

    def _update(self, params, grads):
        t = self._dtype.type
        acc, s = self._slots["accumulator"], self._scratch
        np.square(grads, out=s)
        acc += s  # acc += g**2
        np.add(acc, t(self.epsilon), out=s)
        np.sqrt(s, out=s)
        grads *= t(self.learning_rate)
        grads /= s
        params -= grads  # w -= lr * g / sqrt(acc + epsilon)


class Adadelta(Optimizer):
    """Adadelta (Keras ``Adadelta``), with rms(x) = sqrt(x + epsilon):

    acc_g = rho * acc_g + (1 - rho) * g**2
    delta = rms(acc_delta) * g / rms(acc_g)
    acc_delta = rho * acc_delta + (1 - rho) * delta**2
    w -= lr * delta
    """

    default_name = "adadelta"

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = _real("rho", rho, low=0.0, high=1.0)
        self.epsilon = _real("epsilon", epsilon, low=0.0, low_open=True)

    def _hyper(self):
        return {"rho": self.rho, "epsilon": self.epsilon}

    def _slot_names(self):
        return ["accumulated_grad", "accumulated_delta_var"]

    def _update(self, params, grads):
        t = self._dtype.type
        rho, c, eps = t(self.rho), t(1.0 - self.rho), t(self.epsilon)
        acc_g, acc_d, s = self._slots["accumulated_grad"], self._slots["accumulated_delta_var"], self._scratch
        acc_g *= rho
        np.square(grads, out=s)
        s *= c
        acc_g += s  # acc_g = rho * acc_g + (1 - rho) * g**2
        np.add(acc_d, eps, out=s)
        np.sqrt(s, out=s)
        grads *= s
        np.add(acc_g, eps, out=s)
        np.sqrt(s, out=s)
        grads /= s  # delta = rms(acc_delta) * g / rms(acc_g)
        acc_d *= rho
        np.square(grads, out=s)
        s *= c
        acc_d += s  # acc_delta = rho * acc_delta + (1 - rho) * delta**2
        grads *= t(self.learning_rate)
        params -= grads  # w -= lr * delta


class Adamax(Optimizer):
    """Adamax, Adam with the infinity norm (Keras ``Adamax``), with t = iterations + 1:

    m += (g - m) * (1 - beta_1);  u = max(beta_2 * u, |g|)
    w -= lr * m / ((1 - beta_1**t) * (u + epsilon))
    """

    default_name = "adamax"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _real("beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        self.beta_2 = _real("beta_2", beta_2, low=0.0, high=1.0)
        self.epsilon = _real("epsilon", epsilon, low=0.0, low_open=True)

    def _hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _slot_names(self):
        return ["momentum", "norm"]

    def _update(self, params, grads):
        t = self._dtype.type
        step = t(self.iterations + 1)
        m, u, s = self._slots["momentum"], self._slots["norm"], self._scratch
        np.subtract(grads, m, out=s)
        s *= t(1.0 - self.beta_1)
        m += s  # m += (g - m) * (1 - beta_1)
        u *= t(self.beta_2)
        np.abs(grads, out=s)
        np.maximum(u, s, out=u)  # u = max(beta_2 * u, |g|)
        np.add(u, t(self.epsilon), out=s)
        s *= t(1.0) - t(self.beta_1) ** step
        np.multiply(m, t(self.learning_rate), out=grads)
        grads /= s
        params -= grads  # w -= lr * m / ((1 - beta_1**t) * (u + epsilon))


class Lion(Optimizer):
    """Lion (Keras ``Lion``): the sign of an interpolation of momentum and gradient:

    w -= lr * sign(beta_1 * m + (1 - beta_1) * g);  m = beta_2 * m + (1 - beta_2) * g
    """

    default_name = "lion"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        # (0, 1] as Keras: at beta_1 = 0 Lion is sign SGD
        self.beta_1 = _real("beta_1", beta_1, low=0.0, high=1.0, low_open=True)
        self.beta_2 = _real("beta_2", beta_2, low=0.0, high=1.0)
        self._scratch_2 = None

    def _hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2}

    def _slot_names(self):
        return ["momentum"]

    def build(self, params, slices):
        super().build(params, slices)
        self._scratch_2 = np.empty_like(self._scratch)  # both sums need g, so two scratch buffers

    def _update(self, params, grads):
        t = self._dtype.type
        m, s, s2 = self._slots["momentum"], self._scratch, self._scratch_2
        np.multiply(m, t(self.beta_1), out=s)
        np.multiply(grads, t(1.0 - self.beta_1), out=s2)
        s += s2
        np.sign(s, out=s)
        s *= t(self.learning_rate)
        params -= s  # w -= lr * sign(beta_1 * m + (1 - beta_1) * g)
        m *= t(self.beta_2)
        grads *= t(1.0 - self.beta_2)
        m += grads  # m = beta_2 * m + (1 - beta_2) * g


# Look-up ----------------------------------------------------------------------------------------------

_CLASSES = {
    "sgd": SGD,
    "adam": Adam,
    "rmsprop": RMSprop,
    "adamw": AdamW,
    "nadam": Nadam,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
    "adamax": Adamax,
    "lion": Lion,
}


def get(identifier) -> Optimizer:
    """An optimizer from a name ('sgd', 'adam', 'rmsprop', 'adamw', 'nadam', 'adagrad', 'adadelta',
    'adamax', 'lion'; any case) with Keras defaults, an ``Optimizer`` instance (returned as is), or a
    config dict: ``get_config()`` output or Keras's ``{"class_name": "Adam", "config": {...}}``."""
    valid = ", ".join(repr(n) for n in _CLASSES)
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}; valid names are {valid}")
        return cls()
    if isinstance(identifier, dict):
        config = dict(identifier)
        class_name = config.pop("class_name", None)
        if isinstance(config.get("config"), dict):
            config = dict(config["config"])
        cls = _CLASSES.get(class_name.lower()) if isinstance(class_name, str) else None
        if cls is None:
            raise ValueError(
                f"unknown optimizer {class_name!r} in config {identifier!r}; valid names are {valid}"
            )
        return cls.from_config(config)
    raise ValueError(
        f"an optimizer must be a name, an Optimizer instance or a config dict, received {identifier!r} "
        f"(of type {type(identifier).__name__}); valid names are {valid}"
    )


def serialize(optimizer: Optimizer) -> dict:
    """The config of an optimizer (``get(serialize(opt))`` rebuilds it, without state)."""
    return get(optimizer).get_config()

"""Losses with Keras 3 semantics and defaults, in NumPy: the value (``forward``) and gradient (``backward``).

Every loss works on ``y_pred`` of shape (..., C), where the last axis holds the C outputs of one
sample and the leading axes index samples (``(B, O)`` for a Dense head, ``(B, T, O)`` for a sequence
output). As in Keras:

- the per-sample loss is the mean over the last axis for mse / mae / huber / binary crossentropy
  and the other elementwise losses (mape, msle, log_cosh, poisson, hinge, squared_hinge), and the
  sum over the last axis for the categorical crossentropies, kl_divergence, cosine_similarity and
  categorical_hinge;
- the reduction is Keras's default ``"sum_over_batch_size"``: the sum of the per-sample losses
  divided by their number, i.e. their mean. So mse / mae / huber / bce are the mean over all
  elements, and the categorical losses are the per-sample sum averaged over the M = size / C samples.

``backward`` returns d(forward)/d(y_pred), with the shape and dtype of ``y_pred``: the model feeds it
straight into the output layer's backward. Arithmetic stays in ``y_pred``'s dtype (float32 in,
float32 out); ``y_true`` is cast to it.

Keras 3 details followed (keras/src/backend/{numpy,jax,tensorflow}/nn.py, keras/src/losses/losses.py):

- probabilities are clipped to [eps, 1 - eps] with eps = 1e-7 (``keras.config.epsilon()``) before
  the log, and nothing is added inside the log: all three Keras 3 backends compute
  ``-(y*log(p) + (1-y)*log(1-p))`` on the clipped p. (Adding eps inside the log was tf.keras 2 and
  the legacy backend.) Where the clip is active the gradient is zero, as for ``clip`` in autodiff.
- categorical crossentropy on probabilities first divides ``y_pred`` by its sum over the last axis;
  the gradient goes through that division too.
- ``from_logits=True`` uses a stable log-sigmoid / log-softmax, as the TensorFlow and JAX backends do
  (the NumPy backend computes sigmoid and then clips, which only differs for |logit| > ~16).
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.special import expit

from ._config import EPSILON, build_from_config, normalize, normalize_backward

__all__ = [
    "EPSILON",
    "Loss",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "LogCosh",
    "Poisson",
    "KLDivergence",
    "CosineSimilarity",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "get",
    "serialize",
]


# Keras constructor arguments that lstmcore does not implement: a Keras config may carry them, but
# only with these (default) values.
_KERAS_DEFAULTS = {
    "reduction": "sum_over_batch_size",
    "dtype": None,
    "axis": -1,
    "label_smoothing": 0.0,
    "ignore_class": None,
}


def _as_pred(y_pred) -> np.ndarray:
    """y_pred as a float array (ints and bools become float32, Keras's floatx)."""
    y_pred = np.asarray(y_pred)
    if y_pred.dtype.kind not in "fiub":
        raise TypeError(f"y_pred must be a numeric array, got dtype {y_pred.dtype}")
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(np.float32)
    if y_pred.ndim == 0 or y_pred.size == 0:
        raise ValueError(f"y_pred must be a non-empty array with at least one axis, got shape {y_pred.shape}")
    return y_pred


def _as_arrays(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Both as arrays in y_pred's float dtype."""
    y_pred = _as_pred(y_pred)
    y_true = np.asarray(y_true)
    if y_true.dtype.kind not in "fiub":
        raise TypeError(f"y_true must be a numeric array, got dtype {y_true.dtype}")
    return y_true.astype(y_pred.dtype, copy=False), y_pred


def _check_same_shape(y_true: np.ndarray, y_pred: np.ndarray) -> None:
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got y_true.shape={y_true.shape} "
            f"and y_pred.shape={y_pred.shape}"
        )


def _clip_bounds(dtype) -> tuple[np.generic, np.generic]:
    t = np.dtype(dtype).type
    return t(EPSILON), t(1.0 - EPSILON)


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, received {name}={value!r}")
    return bool(value)


def _sample_weight(sample_weight, lead: tuple, dtype) -> np.ndarray:
    """Per-sample weights broadcast to ``lead`` (the leading axes of y_pred): Keras accepts a
    weight per row (B,), per row and step (B, T), and either with a trailing axis of 1."""
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "fiub":
        raise TypeError(f"sample_weight must be a numeric array, got dtype {w.dtype}")
    if w.ndim == len(lead) + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    if w.ndim > len(lead) or w.shape != tuple(lead[: w.ndim]):
        raise ValueError(
            f"sample_weight must have shape {tuple(lead[:1])} or {tuple(lead)} (the leading axes of "
            f"y_pred), got {w.shape}"
        )
    w = w.astype(dtype, copy=False)
    return w.reshape(w.shape + (1,) * (len(lead) - w.ndim))


def mask_weight(mask, dtype) -> np.ndarray:
    """A (B, T) mask as Keras 3 weighs a loss with it: total/valid where True, 0 where False, so
    that the loss is the mean over the unmasked steps (0 when every step is masked)."""
    mask = np.asarray(mask, dtype=bool)
    valid = int(mask.sum())
    scale = mask.size / valid if valid else 0.0
    return np.where(mask, np.dtype(dtype).type(scale), np.dtype(dtype).type(0))


class Loss:
    """Base class: ``forward(y_true, y_pred) -> float`` and ``backward(y_true, y_pred) -> dL/dy_pred``.

    Subclasses implement ``_values`` (the per-sample losses, for weighted calls), ``_forward``
    where the mean over all elements is cheaper than the mean of ``_values``, and ``_backward``
    (the gradient of the unweighted mean), on checked arrays (same dtype; shapes checked by
    ``_check``), and list their constructor arguments in ``_args``. A per-sample loss depends on
    its own row of y_pred only, so a weighted gradient is ``_backward`` times the weights.
    """

    default_name = "loss"

    def __init__(self, name: str | None = None):
        if name is None:
            name = self.default_name
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, received name={name!r}")
        self.name = name

    # Checks ---------------------------------------------------------------------------------------

    def _check(self, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
        y_true, y_pred = _as_arrays(y_true, y_pred)
        _check_same_shape(y_true, y_pred)
        return y_true, y_pred

    # Public API -----------------------------------------------------------------------------------

    def forward(self, y_true, y_pred, sample_weight=None) -> float:
        """The batch loss: the mean of the per-sample losses (Keras's "sum_over_batch_size").

        ``sample_weight``: None, or weights over the leading axes of ``y_pred`` ((B,) or (B, T)
        for y_pred (B, T, C); shorter ones broadcast over the axes after them): the loss is
        sum(w * per-sample loss) / (number of per-sample losses), as Keras's."""
        y_true, y_pred = self._check(y_true, y_pred)
        if sample_weight is None:
            return float(self._forward(y_true, y_pred))
        values = self._values(y_true, y_pred)
        w = _sample_weight(sample_weight, values.shape, y_pred.dtype)
        return float(np.sum(values * w) / values.size)

    def backward(self, y_true, y_pred, sample_weight=None) -> np.ndarray:
        """d(forward)/d(y_pred): same shape and dtype as y_pred."""
        y_true, y_pred = self._check(y_true, y_pred)
        grad = self._backward(y_true, y_pred)
        if sample_weight is not None:
            grad *= _sample_weight(sample_weight, y_pred.shape[:-1], y_pred.dtype)[..., None]
        return grad.astype(y_pred.dtype, copy=False)

    __call__ = forward

    def _forward(self, y_true: np.ndarray, y_pred: np.ndarray):
        return np.mean(self._values(y_true, y_pred))

    def _values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """The per-sample losses, shape y_pred.shape[:-1]."""
        raise NotImplementedError

    def _backward(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _args(self) -> dict:
        return {}

    def get_config(self) -> dict:
        """JSON-serializable: ``class_name``, ``name`` and the constructor arguments."""
        return {"class_name": type(self).__name__, "name": self.name, **self._args()}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        config = dict(config)
        config.pop("class_name", None)
        return build_from_config(cls, config, _KERAS_DEFAULTS)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._args().items())
        return f"{type(self).__name__}({args})"


# Regression -------------------------------------------------------------------------------------------


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)**2): per sample over the last axis, then over samples."""

    default_name = "mean_squared_error"

    def _values(self, y_true, y_pred):
        return np.mean(np.square(y_pred - y_true), axis=-1)

    def _forward(self, y_true, y_pred):
        diff = y_pred - y_true
        return np.mean(np.square(diff))

    def _backward(self, y_true, y_pred):
        diff = y_pred - y_true
        diff *= y_pred.dtype.type(2.0 / y_pred.size)
        return diff


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|); the gradient is sign(y_pred - y_true) / size (0 where they are equal)."""

    default_name = "mean_absolute_error"

    def _values(self, y_true, y_pred):
        return np.mean(np.abs(y_pred - y_true), axis=-1)

    def _forward(self, y_true, y_pred):
        return np.mean(np.abs(y_pred - y_true))

    def _backward(self, y_true, y_pred):
        grad = np.sign(y_pred - y_true)
        grad /= y_pred.dtype.type(y_pred.size)
        return grad


class Huber(Loss):
    """Keras ``huber``: e = y_pred - y_true; 0.5*e**2 where |e| <= delta, else delta*|e| - 0.5*delta**2."""

    default_name = "huber_loss"

    def __init__(self, delta: float = 1.0, name: str | None = None):
        super().__init__(name)
        if (
            isinstance(delta, bool)
            or not isinstance(delta, numbers.Real)
            or not np.isfinite(delta)
            or delta <= 0
        ):
            raise ValueError(f"delta must be a finite number > 0, received delta={delta!r}")
        self.delta = float(delta)

    def _args(self):
        return {"delta": self.delta}

    def _per_elem(self, y_true, y_pred):
        t = y_pred.dtype.type
        delta, half = t(self.delta), t(0.5)
        err = y_pred - y_true
        abs_err = np.abs(err)
        return np.where(abs_err <= delta, half * np.square(err), delta * abs_err - half * delta * delta)

    def _forward(self, y_true, y_pred):
        return np.mean(self._per_elem(y_true, y_pred))

    def _values(self, y_true, y_pred):
        return np.mean(self._per_elem(y_true, y_pred), axis=-1)

    def _backward(self, y_true, y_pred):
        t = y_pred.dtype.type
        delta = t(self.delta)
        err = y_pred - y_true
        grad = np.where(np.abs(err) <= delta, err, delta * np.sign(err))
        grad /= t(y_pred.size)
        return grad


class MeanAbsolutePercentageError(Loss):
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps)), Keras's (eps = 1e-7: a target of 0
    weighs the error by 1e7)."""

    default_name = "mean_absolute_percentage_error"

    def _scale(self, y_true, y_pred):
        t = y_pred.dtype.type
        return t(100) / np.maximum(np.abs(y_true), t(EPSILON))

    def _values(self, y_true, y_pred):  # Keras's order of operations (its metric's too)
        t = y_pred.dtype.type
        return t(100) * np.mean(np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), t(EPSILON))), axis=-1)

    def _backward(self, y_true, y_pred):
        grad = np.sign(y_pred - y_true) * self._scale(y_true, y_pred)
        grad /= y_pred.dtype.type(y_pred.size)
        return grad


class MeanSquaredLogarithmicError(Loss):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2), Keras's; no gradient
    where y_pred is below eps (the max)."""

    default_name = "mean_squared_logarithmic_error"

    @staticmethod
    def _diff(y_true, y_pred):
        eps = y_pred.dtype.type(EPSILON)
        return np.log1p(np.maximum(y_pred, eps)) - np.log1p(np.maximum(y_true, eps))

    def _values(self, y_true, y_pred):
        return np.mean(np.square(self._diff(y_true, y_pred)), axis=-1)

    def _backward(self, y_true, y_pred):
        t = y_pred.dtype.type
        grad = t(2) * self._diff(y_true, y_pred) / (np.maximum(y_pred, t(EPSILON)) + t(1))
        grad[y_pred < t(EPSILON)] = 0
        grad /= t(y_pred.size)
        return grad


class LogCosh(Loss):
    """mean(log(cosh(y_pred - y_true))), computed as Keras's x + softplus(-2x) - log(2) (no
    overflow for large errors); the gradient is tanh(x)."""

    default_name = "log_cosh"

    def _values(self, y_true, y_pred):
        x = y_pred - y_true
        return np.mean(x + np.logaddexp(0, -2 * x) - x.dtype.type(np.log(2.0)), axis=-1)

    def _backward(self, y_true, y_pred):
        grad = np.tanh(y_pred - y_true)
        grad /= y_pred.dtype.type(y_pred.size)
        return grad


class Poisson(Loss):
    """mean(y_pred - y_true * log(y_pred + eps)), Keras's (for counts: y_pred a positive rate)."""

    default_name = "poisson"

    def _values(self, y_true, y_pred):
        return np.mean(y_pred - y_true * np.log(y_pred + y_pred.dtype.type(EPSILON)), axis=-1)

    def _backward(self, y_true, y_pred):
        t = y_pred.dtype.type
        grad = t(1) - y_true / (y_pred + t(EPSILON))
        grad /= t(y_pred.size)
        return grad


class KLDivergence(Loss):
    """Per sample sum(y * log(y / p)) over the last axis, y and p clipped to [eps, 1] (Keras's);
    mean over samples. No gradient where y_pred is outside the clip."""

    default_name = "kl_divergence"

    @staticmethod
    def _clipped(a):
        return np.clip(a, a.dtype.type(EPSILON), a.dtype.type(1))

    def _values(self, y_true, y_pred):
        y, p = self._clipped(y_true), self._clipped(y_pred)
        return np.sum(y * np.log(y / p), axis=-1)

    def _backward(self, y_true, y_pred):
        t = y_pred.dtype.type
        y, p = self._clipped(y_true), self._clipped(y_pred)
        grad = -y / p
        grad[(y_pred < t(EPSILON)) | (y_pred > t(1))] = 0
        grad /= t(y_pred.size // y_pred.shape[-1])
        return grad


class CosineSimilarity(Loss):
    """Per sample -sum(normalize(y_true) * normalize(y_pred)) over the last axis, Keras's
    normalize x * min(1/|x|, 1/eps) (a zero vector gives 0); mean over samples. In [-1, 1]:
    -1 where the two point the same way."""

    default_name = "cosine_similarity"

    def _values(self, y_true, y_pred):
        return -np.sum(normalize(y_true)[0] * normalize(y_pred)[0], axis=-1)

    def _backward(self, y_true, y_pred):
        pn, scale = normalize(y_pred)
        grad = normalize_backward(-normalize(y_true)[0], pn, scale)
        grad /= y_pred.dtype.type(y_pred.size // y_pred.shape[-1])
        return grad


def _hinge_labels(y_true):
    """Keras's: labels that are all 0 or 1 become -1 or 1; others stay as they are."""
    if np.all((y_true == 0) | (y_true == 1)):
        return y_true * y_true.dtype.type(2) - y_true.dtype.type(1)
    return y_true


class Hinge(Loss):
    """mean(max(1 - y * y_pred, 0)), y in {-1, 1} (labels all 0 or 1 are converted, as Keras)."""

    default_name = "hinge"

    def _values(self, y_true, y_pred):
        y = _hinge_labels(y_true)
        return np.mean(np.maximum(1 - y * y_pred, 0), axis=-1)

    def _backward(self, y_true, y_pred):
        y = _hinge_labels(y_true)
        grad = np.where(1 - y * y_pred > 0, -y, y_pred.dtype.type(0))
        grad /= y_pred.dtype.type(y_pred.size)
        return grad


class SquaredHinge(Loss):
    """mean(max(1 - y * y_pred, 0)**2), y as for ``Hinge``."""

    default_name = "squared_hinge"

    def _values(self, y_true, y_pred):
        y = _hinge_labels(y_true)
        return np.mean(np.square(np.maximum(1 - y * y_pred, 0)), axis=-1)

    def _backward(self, y_true, y_pred):
        t = y_pred.dtype.type
        y = _hinge_labels(y_true)
        grad = t(-2) * y * np.maximum(1 - y * y_pred, 0)
        grad /= t(y_pred.size)
        return grad


class CategoricalHinge(Loss):
    """Per sample max(neg - pos + 1, 0), pos = sum(y * y_pred), neg = max((1 - y) * y_pred) over
    the last axis (Keras's; ties of the max share its gradient); mean over samples."""

    default_name = "categorical_hinge"

    @staticmethod
    def _parts(y_true, y_pred):
        other = (1 - y_true) * y_pred
        neg = np.max(other, axis=-1)
        return np.maximum(neg - np.sum(y_true * y_pred, axis=-1) + 1, 0), other, neg

    def _values(self, y_true, y_pred):
        return self._parts(y_true, y_pred)[0]

    def _backward(self, y_true, y_pred):
        t = y_pred.dtype.type
        value, other, neg = self._parts(y_true, y_pred)
        top = other == neg[..., None]
        d_neg = top / np.sum(top, axis=-1, keepdims=True) * (1 - y_true)
        grad = np.where((value > 0)[..., None], d_neg - y_true, t(0)).astype(y_pred.dtype)
        grad /= t(y_pred.size // y_pred.shape[-1])
        return grad


# Classification -----------------------------------------------------------------------------------


class BinaryCrossentropy(Loss):
    """Per element -(y*log(p) + (1-y)*log(1-p)), p = clip(y_pred, eps, 1-eps); mean over all elements.

    ``from_logits=True``: y_pred holds logits x and the element loss is the stable
    max(x, 0) - x*y + log1p(exp(-|x|)), whose gradient is sigmoid(x) - y.
    """

    default_name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, name: str | None = None):
        super().__init__(name)
        self.from_logits = _check_bool("from_logits", from_logits)

    def _args(self):
        return {"from_logits": self.from_logits}

    def _per_elem(self, y_true, y_pred):
        if self.from_logits:
            x = y_pred
            return np.maximum(x, 0) - x * y_true + np.log1p(np.exp(-np.abs(x)))
        lo, hi = _clip_bounds(y_pred.dtype)
        p = np.clip(y_pred, lo, hi)
        one = y_pred.dtype.type(1.0)
        return -(y_true * np.log(p) + (one - y_true) * np.log(one - p))

    def _forward(self, y_true, y_pred):
        return np.mean(self._per_elem(y_true, y_pred))

    def _values(self, y_true, y_pred):
        return np.mean(self._per_elem(y_true, y_pred), axis=-1)

    def _backward(self, y_true, y_pred):
        t = y_pred.dtype.type
        if self.from_logits:
            grad = expit(y_pred) - y_true
        else:
            lo, hi = _clip_bounds(y_pred.dtype)
            p = np.clip(y_pred, lo, hi)
            # d/dp -(y log p + (1-y) log(1-p)) = (p - y) / (p (1-p)); zero where the clip is active.
            grad = (p - y_true) / (p * (t(1.0) - p))
            grad[(y_pred < lo) | (y_pred > hi)] = 0
        grad /= t(y_pred.size)
        return grad


def _log_softmax(x: np.ndarray) -> np.ndarray:
    # x (..., C) -> log softmax over the last axis, stable: x - max - log(sum(exp(x - max)))
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _cce_log_q(y_pred, from_logits: bool):
    if from_logits:
        return _log_softmax(y_pred)
    lo, hi = _clip_bounds(y_pred.dtype)
    q = y_pred / np.sum(y_pred, axis=-1, keepdims=True)
    return np.log(np.clip(q, lo, hi))


def _cce_forward(y_true, y_pred, from_logits: bool):
    # y_true, y_pred (..., C); per sample -sum_c y*log(q); mean over the M samples
    n_samples = y_pred.size // y_pred.shape[-1]
    return -np.sum(y_true * _cce_log_q(y_pred, from_logits)) / y_pred.dtype.type(n_samples)


def _cce_backward(y_true, y_pred, from_logits: bool):
    t = y_pred.dtype.type
    n_samples = y_pred.size // y_pred.shape[-1]
    if from_logits:
        # d/dx_k -sum_j y_j log softmax(x)_j = softmax(x)_k * sum_j y_j - y_k
        soft = np.exp(_log_softmax(y_pred))
        grad = soft * np.sum(y_true, axis=-1, keepdims=True) - y_true
    else:
        lo, hi = _clip_bounds(y_pred.dtype)
        s = np.sum(y_pred, axis=-1, keepdims=True)
        q = y_pred / s
        qc = np.clip(q, lo, hi)
        # g = dL/dq: -y/q where the clip is inactive, 0 where it is active
        g = -y_true / qc
        g[(q < lo) | (q > hi)] = 0
        # q = p / s:  dL/dp_k = (g_k - sum_j g_j q_j) / s
        grad = (g - np.sum(g * q, axis=-1, keepdims=True)) / s
    grad /= t(n_samples)
    return grad


class CategoricalCrossentropy(Loss):
    """Per sample -sum_c y_c*log(q_c) over the last axis; mean over samples.

    Probabilities (``from_logits=False``): q = clip(y_pred / sum(y_pred), eps, 1-eps), as Keras.
    Logits: q = softmax(y_pred), computed as a stable log-softmax.
    """

    default_name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False, name: str | None = None):
        super().__init__(name)
        self.from_logits = _check_bool("from_logits", from_logits)

    def _args(self):
        return {"from_logits": self.from_logits}

    def _forward(self, y_true, y_pred):
        return _cce_forward(y_true, y_pred, self.from_logits)

    def _values(self, y_true, y_pred):
        return -np.sum(y_true * _cce_log_q(y_pred, self.from_logits), axis=-1)

    def _backward(self, y_true, y_pred):
        return _cce_backward(y_true, y_pred, self.from_logits)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical crossentropy with integer class ids: y_true (...) or (..., 1) for y_pred (..., C).

    Float arrays holding whole numbers are accepted (the model stores targets in its float dtype);
    ids outside [0, C) raise ``ValueError``.
    """

    default_name = "sparse_categorical_crossentropy"

    def _check(self, y_true, y_pred):
        y_true = np.asarray(y_true)
        if y_true.dtype.kind not in "fiub":
            raise TypeError(f"y_true must be an array of class ids, got dtype {y_true.dtype}")
        y_pred = _as_pred(y_pred)
        lead, C = y_pred.shape[:-1], y_pred.shape[-1]
        if y_true.shape == (*lead, 1):
            y_true = y_true.reshape(lead)
        if y_true.shape != lead:
            raise ValueError(
                f"y_true must hold one class id per sample, shape {lead} or {(*lead, 1)}, for "
                f"y_pred.shape={y_pred.shape}; got y_true.shape={y_true.shape}"
            )
        if y_true.dtype.kind == "f":
            whole = np.floor(y_true) == y_true  # False for NaN and inf too
            if not whole.all():
                bad = y_true[~whole].flat[0]
                raise ValueError(f"y_true must hold integer class ids, got {bad!r}")
        if y_true.size and (y_true.min() < 0 or y_true.max() >= C):
            bad = y_true[(y_true < 0) | (y_true >= C)].flat[0]
            raise ValueError(f"y_true holds class id {bad!r}, outside [0, {C}) for y_pred with {C} classes")
        one_hot = np.zeros(y_pred.shape, dtype=y_pred.dtype)
        np.put_along_axis(one_hot, y_true.astype(np.intp)[..., None], 1, axis=-1)
        return one_hot, y_pred


# Look-up ----------------------------------------------------------------------------------------------

_CLASSES = {
    cls.__name__: cls
    for cls in (
        MeanSquaredError,
        MeanAbsoluteError,
        Huber,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        LogCosh,
        Poisson,
        KLDivergence,
        CosineSimilarity,
        Hinge,
        SquaredHinge,
        CategoricalHinge,
    )
}
_ALIASES = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "log_cosh": LogCosh,
    "logcosh": LogCosh,
    "poisson": Poisson,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "cosine_similarity": CosineSimilarity,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge,
}


def _valid_names() -> str:
    return ", ".join(repr(n) for n in [*_ALIASES, *_CLASSES])


def get(identifier) -> Loss:
    """A loss from a Keras name or alias ('mse', 'huber', 'bce', ...), a class name, a ``Loss``
    instance (returned as is) or a config dict (``get_config()`` output, or Keras's
    ``{"class_name": ..., "config": {...}}``)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown loss {identifier!r}; valid names are {_valid_names()}")
        return cls()
    if isinstance(identifier, dict):
        config = dict(identifier)
        class_name = config.pop("class_name", None)
        if isinstance(config.get("config"), dict):
            config = dict(config["config"])
        if class_name is None:  # a flat config with only a name
            class_name = config.get("name")
        cls = _CLASSES.get(class_name) if isinstance(class_name, str) else None
        if cls is None and isinstance(class_name, str):
            cls = _ALIASES.get(class_name.lower())
        if cls is None:
            raise ValueError(f"unknown loss in config {identifier!r}; valid names are {_valid_names()}")
        return cls.from_config(config)
    raise ValueError(
        f"a loss must be a name, a Loss instance or a config dict, received {identifier!r} "
        f"(of type {type(identifier).__name__}); valid names are {_valid_names()}"
    )


def serialize(loss: Loss) -> dict:
    """The config of a loss (``get(serialize(loss))`` rebuilds it)."""
    return get(loss).get_config()

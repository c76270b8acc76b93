"""Keras-style stateful metrics: ``update(y_true, y_pred)`` per batch, ``result()`` per epoch, ``reset()``.

Each metric computes one value per sample (or per element) and keeps a running sum and count, as
Keras's ``Mean``-based metrics do, so the value over an epoch of uneven batches equals the metric on
the whole data. Sums are kept in float64; MSE, MAE, MAPE and RMSE also compute their values in float64.

``update(y_true, y_pred, sample_weight=None)`` weighs as Keras 3's ``Mean`` / ``MeanMetricWrapper``
(keras/src/metrics/reduction_metrics.py, ``reduce_to_samplewise_values``): the result is
sum(values * w) / sum(w), with the weight broadcast over the per-sample values from the left (a (B,)
weight covers every step of a (B, T) set of values; a (B, T) weight, or a 0/1 sequence mask, weighs
each step of (B, T, C) predictions). A weight with a trailing axis of 1 is squeezed, as Keras does.

``Precision``, ``Recall`` and ``AUC`` accumulate weighted confusion counts instead
(keras/src/metrics/metrics_utils.py, ``update_confusion_matrix_variables``): y_true is cast to bool,
a prediction counts as positive when it is strictly above a threshold, and predictions and targets
are compared in float32, as Keras's float32 metric variables do. The weight is broadcast over the
elements of y_pred from the left ((B,), (B, T) or (B, T, 1) for (B, T, C) predictions). With evenly
spaced thresholds (AUC's default) Keras puts each prediction in the bucket ceil(p * (n - 1)) - 1
instead of comparing it with every threshold, and so does lstmcore.

``get_metric`` resolves names as ``Model.compile(metrics=[...])`` does in Keras 3
(keras/src/trainers/compile_utils.py, ``get_metric``): the metric's ``name`` is the string that was
passed ('mae' stays 'mae'), so History keys match Keras's. 'accuracy' / 'acc' are resolved, as in
Keras 3, from the shapes of the first batch, not from the loss:

- y_pred's last axis is 1: ``BinaryAccuracy``;
- else y_true has fewer axes than y_pred, or a last axis of 1: ``SparseCategoricalAccuracy``;
- else ``CategoricalAccuracy``.

With the usual heads this gives BinaryAccuracy for binary_crossentropy on one sigmoid unit,
CategoricalAccuracy for categorical_crossentropy and SparseCategoricalAccuracy for
sparse_categorical_crossentropy. Plain ``Accuracy`` (exact equality) is only had by asking for it
(``Accuracy()``), as in Keras.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np
from scipy.special import expit

from . import losses
from ._config import EPSILON
from .losses import _as_arrays, _as_pred, _check_same_shape

__all__ = [
    "Metric",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "MeanAbsolutePercentageError",
    "RootMeanSquaredError",
    "Precision",
    "Recall",
    "AUC",
    "MeanSquaredLogarithmicError",
    "LogCoshError",
    "Poisson",
    "KLDivergence",
    "CosineSimilarity",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "get_metric",
]

NEG_INF = -1e10  # Keras's threshold for top_k (metrics_utils.NEG_INF)


def _same_shape(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = _as_arrays(y_true, y_pred)
    _check_same_shape(y_true, y_pred)
    return y_true, y_pred


def _float64_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """As ``_same_shape``, then both in float64 from the values given: y_true is not rounded to
    y_pred's float32 first (1e9 + 0.5 stays 1e9 + 0.5)."""
    _same_shape(y_true, y_pred)
    return np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)


def _squeeze_or_expand(x1: np.ndarray, x2: np.ndarray, expand_rank_1=True):
    """Keras's ``squeeze_or_expand_to_same_rank``: when the ranks differ by one and the longer array
    ends in an axis of 1, squeeze it (or, if the other one is 1-D, give that one an axis of 1)."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[:, None]
        else:
            x1 = x1[..., 0]
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[:, None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _weight_array(sample_weight, dtype) -> np.ndarray:
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "fiub":
        raise TypeError(f"sample_weight must be a numeric array, got dtype {w.dtype}")
    return w.astype(dtype, copy=False)


def _broadcast_weight(w: np.ndarray, shape: tuple, what: str) -> np.ndarray:
    """``w`` padded with axes of 1 on the right to len(shape) axes, then broadcast to ``shape``."""
    if w.ndim < len(shape):
        w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(
            f"sample_weight of shape {w.shape} does not broadcast to the {what} of shape {shape}"
        ) from None


def _samplewise(values: np.ndarray, sample_weight) -> tuple[np.ndarray, np.ndarray | None]:
    """Keras's ``reduce_to_samplewise_values`` with the mean: per-sample values (and weights).

    Values with more axes than the weight are averaged over the extra axes; they are multiplied by
    the weight; then values and weight are averaged over every axis after the first. The caller
    adds sum(values) to the total and sum(weight) (or the number of samples) to the count.
    """
    values = np.asarray(values, dtype=np.float64)
    w = None
    if sample_weight is not None:
        w = _weight_array(sample_weight, np.float64)
        values, w = _squeeze_or_expand(values, w)
        if values.ndim > w.ndim:
            values = values.mean(axis=tuple(range(w.ndim, values.ndim)))
        w = _broadcast_weight(w, values.shape, "per-sample metric values")
        values = values * w
        if w.ndim > 1:
            w = w.mean(axis=tuple(range(1, w.ndim)))
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, w


class Metric:
    """Running mean of the per-sample values returned by ``_values`` (a subclass hook)."""

    default_name = "metric"

    def __init__(self, name: str | None = None):
        if name is None:
            name = self.default_name
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, received name={name!r}")
        self.name = name
        self.reset()

    def _values(self, y_true, y_pred) -> np.ndarray:
        raise NotImplementedError

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Add one batch; ``sample_weight`` (optional) weighs the per-sample values as in Keras 3:
        (B,) per sample, (B, T) per sample and step for (B, T, C) predictions (see the module
        docstring)."""
        values, w = _samplewise(self._values(y_true, y_pred), sample_weight)
        self._total += float(np.sum(values))
        if w is not None:
            self._count += float(np.sum(w))
        else:
            self._count += values.shape[0] if values.ndim else 1

    def result(self) -> float:
        """The mean over every sample seen since ``reset`` (0.0 before any, as Keras)."""
        return self._total / self._count if self._count else 0.0

    def reset(self) -> None:
        self._total = 0.0
        self._count = 0

    # Keras spellings
    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        self.update(y_true, y_pred, sample_weight)

    def reset_state(self) -> None:
        self.reset()

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__, "name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class _LossMetric(Metric):
    """The running mean of a loss's per-sample values (Keras's MeanMetricWrapper over the loss
    function), in float64; ``sign`` -1 turns cosine similarity's loss into the metric."""

    loss_class: type = losses.Loss
    sign = 1.0

    def _values(self, y_true, y_pred):
        y_true, y_pred = _float64_pair(y_true, y_pred)
        return self.sign * self.loss_class()._values(y_true, y_pred)


class MeanSquaredError(_LossMetric):
    """Per sample mean((y_true - y_pred)**2) over the last axis."""

    default_name = "mean_squared_error"
    loss_class = losses.MeanSquaredError


class MeanAbsoluteError(_LossMetric):
    """Per sample mean(|y_true - y_pred|) over the last axis."""

    default_name = "mean_absolute_error"
    loss_class = losses.MeanAbsoluteError


class MeanAbsolutePercentageError(_LossMetric):
    """Per sample 100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7)) over the last axis."""

    default_name = "mean_absolute_percentage_error"
    loss_class = losses.MeanAbsolutePercentageError


class MeanSquaredLogarithmicError(_LossMetric):
    """Per sample mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2)."""

    default_name = "mean_squared_logarithmic_error"
    loss_class = losses.MeanSquaredLogarithmicError


class LogCoshError(_LossMetric):
    """Per sample mean(log(cosh(y_pred - y_true)))."""

    default_name = "logcosh"
    loss_class = losses.LogCosh


class Poisson(_LossMetric):
    """Per sample mean(y_pred - y_true * log(y_pred + eps))."""

    default_name = "poisson"
    loss_class = losses.Poisson


class KLDivergence(_LossMetric):
    """Per sample sum(y * log(y / p)), both clipped to [eps, 1]."""

    default_name = "kl_divergence"
    loss_class = losses.KLDivergence


class CosineSimilarity(_LossMetric):
    """Per sample cosine of y_true and y_pred over the last axis (in [-1, 1], 1 where alike:
    the loss's negative)."""

    default_name = "cosine_similarity"
    loss_class = losses.CosineSimilarity
    sign = -1.0


class Hinge(_LossMetric):
    """Per sample mean(max(1 - y * y_pred, 0)), labels all 0/1 made -1/1."""

    default_name = "hinge"
    loss_class = losses.Hinge


class SquaredHinge(_LossMetric):
    """Per sample mean(max(1 - y * y_pred, 0)**2)."""

    default_name = "squared_hinge"
    loss_class = losses.SquaredHinge


class CategoricalHinge(_LossMetric):
    """Per sample max(max((1 - y) * y_pred) - sum(y * y_pred) + 1, 0)."""

    default_name = "categorical_hinge"
    loss_class = losses.CategoricalHinge


class RootMeanSquaredError(Metric):
    """sqrt of the running mean of (y_true - y_pred)**2.

    As Keras's, the squared errors are per element (not averaged over the last axis first), so a
    weight may also be given per element, e.g. (B, O) for (B, O) predictions.
    """

    default_name = "root_mean_squared_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _float64_pair(y_true, y_pred)
        return np.square(y_pred - y_true)

    def result(self) -> float:
        mean = super().result()
        return math.sqrt(mean) if mean >= 0 else math.nan  # < 0 only with negative weights, as Keras


class Accuracy(Metric):
    """How often y_pred equals y_true exactly; per sample, the mean over the last axis (as Keras)."""

    default_name = "accuracy"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _same_shape(y_true, y_pred)
        return np.mean(y_true == y_pred, axis=-1, dtype=np.float64)


class BinaryAccuracy(Metric):
    """How often (y_pred > threshold) equals y_true: per sample, the mean over the last axis.

    ``threshold`` must lie in (0, 1), as in Keras ``BinaryAccuracy``.
    """

    default_name = "binary_accuracy"

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 < threshold < 1:
            raise ValueError(f"threshold must be a number in (0, 1), received threshold={threshold!r}")
        self.threshold = float(threshold)
        super().__init__(name)

    def _values(self, y_true, y_pred):
        y_true, y_pred = _same_shape(y_true, y_pred)
        return np.mean(y_true == (y_pred > self.threshold), axis=-1, dtype=np.float64)

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals argmax(y_true) (one-hot targets), per sample."""

    default_name = "categorical_accuracy"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _same_shape(y_true, y_pred)
        return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


class SparseCategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals the class id y_true, per sample; y_true (...) or (..., 1)."""

    default_name = "sparse_categorical_accuracy"

    def _values(self, y_true, y_pred):
        y_pred = _as_pred(y_pred)
        y_true = np.asarray(y_true)
        lead = y_pred.shape[:-1]
        if y_true.shape == (*lead, 1):
            y_true = y_true.reshape(lead)
        if y_true.shape != lead:
            raise ValueError(
                f"y_true must hold one class id per sample, shape {lead} or {(*lead, 1)}, for "
                f"y_pred.shape={y_pred.shape}; got y_true.shape={y_true.shape}"
            )
        return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float64)


# Confusion-matrix metrics ---------------------------------------------------------------------------


def _divide_no_nan(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x / y, and 0 where y is 0 (``ops.divide_no_nan``)."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return np.divide(x, y, out=np.zeros(x.shape), where=y != 0)


def _check_int(owner: str, name: str, value, low: int) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be an int >= {low}, received {name}={value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{owner}: {name} must be an int >= {low}, received {name}={value!r}") from None
    if value < low:
        raise ValueError(f"{owner}: {name} must be an int >= {low}, received {name}={value!r}")
    return value


def _check_flag(owner: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be a bool, received {name}={value!r}")
    return bool(value)


def _threshold_list(owner: str, thresholds) -> list[float]:
    """A threshold or a sequence of them, each a number in [0, 1] (Keras's ``assert_thresholds_range``)."""
    if isinstance(thresholds, np.ndarray):
        values = thresholds.ravel().tolist()
    elif isinstance(thresholds, (list, tuple)):
        values = list(thresholds)
    else:
        values = [thresholds]
    bad = [
        t
        for t in values
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, numbers.Real) or not 0 <= t <= 1
    ]
    if bad or not values:
        raise ValueError(
            f"{owner}: thresholds must be numbers in [0, 1], received thresholds={thresholds!r}"
            + (f" (invalid: {bad!r})" if bad else "")
        )
    return [float(t) for t in values]


def _evenly_spaced(thresholds) -> bool:
    """Keras's ``is_evenly_distributed_thresholds``: at least 3 values, allclose to i / (n - 1)."""
    n = len(thresholds)
    if n < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON))


def _filter_top_k(x: np.ndarray, k: int) -> np.ndarray:
    """Keep the k largest values of the last axis (ties: the first ones), the others become NEG_INF."""
    if k > x.shape[-1]:
        raise ValueError(f"top_k={k} is larger than the last axis of y_pred, shape {x.shape}")
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, idx, True, axis=-1)
    return np.where(keep, x, x.dtype.type(NEG_INF))


def _confusion(
    y_true,
    y_pred,
    thresholds: np.ndarray,
    *,
    evenly: bool,
    sample_weight=None,
    top_k=None,
    class_id=None,
    multi_label=False,
    label_weights=None,
) -> dict[str, np.ndarray]:
    """Weighted tp, fp, tn, fn of one batch at each threshold: (n,), or (n, L) when ``multi_label``.

    Keras's ``update_confusion_matrix_variables`` in NumPy: inputs and weights in float32 as Keras's
    metric variables, the counts summed in float64.
    """
    f32 = np.float32
    y_pred = _as_pred(y_pred).astype(f32)
    y_true = np.asarray(y_true)
    if y_true.dtype.kind not in "fiub":
        raise TypeError(f"y_true must be a numeric array, got dtype {y_true.dtype}")
    y_pred, y_true = _squeeze_or_expand(y_pred, y_true.astype(f32))
    _check_same_shape(y_true, y_pred)
    w = None
    if sample_weight is not None:
        w = _weight_array(sample_weight, f32)[..., None]
        _, w = _squeeze_or_expand(y_true, w, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1 or class_id >= y_pred.shape[-1]:
            raise ValueError(
                f"class_id={class_id} needs y_pred of shape (..., num_classes) with num_classes > "
                f"{class_id}, got y_pred.shape={y_pred.shape}"
            )
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    weights = None
    if w is not None:
        weights = _broadcast_weight(w, y_pred.shape, "predictions")
    if label_weights is not None:
        lw = np.broadcast_to(label_weights[None], y_pred.shape)
        weights = lw if weights is None else weights * lw
    if weights is None:
        weights = np.ones(y_pred.shape, dtype=f32)
    label = y_true != 0
    if not multi_label:
        y_pred, label, weights = y_pred.reshape(-1), label.reshape(-1), weights.reshape(-1)
    weights = weights.astype(np.float64)
    true_w = np.where(label, weights, 0.0)
    false_w = np.where(label, 0.0, weights)
    n = len(thresholds)
    if evenly:
        # bucket i holds the predictions in (t_i, t_{i+1}]; a prediction is above every threshold
        # of a lower bucket, so tp(t_i) is the sum of the buckets from i on.
        with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        bucket = np.ceil(np.clip(y_pred, f32(0), f32(1)) * f32(n - 1)) - f32(1)
        if with_epsilon:
            bucket = np.maximum(bucket, f32(0))
        bucket = bucket.astype(np.int64)
        valid = bucket >= 0  # p == 0 without the epsilon threshold below 0: above no threshold

        def above(w_):
            if multi_label:
                L = w_.shape[1]
                ids = (bucket + n * np.arange(L))[valid]
                per = np.bincount(ids, weights=w_[valid], minlength=n * L).reshape(L, n).T
            else:
                per = np.bincount(bucket[valid], weights=w_[valid], minlength=n)
            return np.cumsum(per[::-1], axis=0)[::-1]

        tp, fp = above(true_w), above(false_w)
    else:
        t = np.asarray(thresholds).astype(f32)
        pos = y_pred[None] > t.reshape((n,) + (1,) * y_pred.ndim)  # (n, N) or (n, B, L)
        tp = np.where(pos, true_w, 0.0).sum(axis=1)
        fp = np.where(pos, false_w, 0.0).sum(axis=1)
    total_true, total_false = true_w.sum(axis=0), false_w.sum(axis=0)
    return {"tp": tp, "fp": fp, "tn": total_false - fp, "fn": total_true - tp}


class _ThresholdMetric(Metric):
    """Precision and Recall: weighted true positives and their complement at each threshold."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None):
        owner = type(self).__name__
        self.top_k = None if top_k is None else _check_int(owner, "top_k", top_k, 1)
        self.class_id = None if class_id is None else _check_int(owner, "class_id", class_id, 0)
        if thresholds is None:
            self.thresholds = [0.5 if top_k is None else NEG_INF]
            self.init_thresholds = None
        else:
            self.thresholds = _threshold_list(owner, thresholds)
            single = not isinstance(thresholds, (list, tuple, np.ndarray))
            self.init_thresholds = self.thresholds[0] if single else list(self.thresholds)
        self._evenly = _evenly_spaced(self.thresholds)
        super().__init__(name)

    def reset(self) -> None:
        n = len(self.thresholds)
        self.true_positives = np.zeros(n)
        self.false_positives = np.zeros(n)
        self.false_negatives = np.zeros(n)

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        counts = _confusion(
            y_true,
            y_pred,
            np.array(self.thresholds),
            evenly=self._evenly,
            sample_weight=sample_weight,
            top_k=self.top_k,
            class_id=self.class_id,
        )
        self.true_positives += counts["tp"]
        self.false_positives += counts["fp"]
        self.false_negatives += counts["fn"]

    def _ratio(self, other: np.ndarray):
        r = _divide_no_nan(self.true_positives, self.true_positives + other)
        return float(r[0]) if len(self.thresholds) == 1 else r

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_ThresholdMetric):
    """tp / (tp + fp), a prediction being positive when above ``thresholds`` (default 0.5).

    ``thresholds`` may be a list (the result is then an array, one value per threshold); ``top_k``
    counts only the k largest predictions of each sample as positive; ``class_id`` keeps one
    column of y_pred / y_true. As Keras ``Precision``.
    """

    default_name = "precision"

    def result(self):
        return self._ratio(self.false_positives)


class Recall(_ThresholdMetric):
    """tp / (tp + fn), with the arguments of ``Precision`` (Keras ``Recall``)."""

    default_name = "recall"

    def result(self):
        return self._ratio(self.false_negatives)


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """Area under the ROC (default) or precision-recall curve, as Keras ``AUC``.

    Weighted tp, fp, tn, fn are accumulated at ``num_thresholds`` thresholds: -1e-7, then
    (num_thresholds - 2) evenly spaced in (0, 1), then 1 + 1e-7 (or -1e-7, the sorted
    ``thresholds`` given, 1 + 1e-7). ``summation_method='interpolation'`` sums trapezoids for ROC
    (mean of neighbouring heights times the step in false-positive rate) and, for PR, interpolates
    tp and fp linearly between thresholds (Davis & Goadrich), as Keras's ``interpolate_pr_auc``;
    'minoring' / 'majoring' take the lower / upper neighbour. ``multi_label=True`` (2-D y_pred
    only) keeps one curve per column and averages their areas (weighted by ``label_weights`` if
    given); otherwise every element is one data point, weighted by ``label_weights`` per column.
    """

    default_name = "auc"

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        *,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        if not isinstance(curve, str) or curve not in (*_CURVES, *_CURVES.values()):
            raise ValueError(f"AUC: curve must be 'ROC', 'PR' or 'PRGAIN', received curve={curve!r}")
        if summation_method not in (*_SUMMATIONS, *(m.capitalize() for m in _SUMMATIONS)):
            raise ValueError(
                "AUC: summation_method must be 'interpolation', 'majoring' or 'minoring', received "
                f"summation_method={summation_method!r}"
            )
        self.curve = _CURVES.get(curve, curve)
        self.summation_method = summation_method.lower()
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_threshold_list("AUC", thresholds))
            self.num_thresholds = len(inner) + 2
            self._evenly = _evenly_spaced([0.0, *inner, 1.0])
        else:
            n = _check_int("AUC", "num_thresholds", num_thresholds, 2)
            self.num_thresholds = n
            inner = [(i + 1) * 1.0 / (n - 1) for i in range(n - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - EPSILON, *inner, 1.0 + EPSILON])
        self.multi_label = _check_flag("AUC", "multi_label", multi_label)
        if num_labels is not None:
            if not self.multi_label:
                raise ValueError(
                    "AUC: num_labels is needed only when multi_label=True, received "
                    f"num_labels={num_labels!r}"
                )
            num_labels = _check_int("AUC", "num_labels", num_labels, 1)
        self.num_labels = num_labels
        if label_weights is not None:
            lw = np.asarray(label_weights)
            if lw.ndim != 1 or lw.dtype.kind not in "fiu" or not np.all(np.isfinite(lw)) or np.any(lw < 0):
                raise ValueError(
                    "AUC: label_weights must be a 1-D sequence of finite non-negative numbers, received "
                    f"label_weights={label_weights!r}"
                )
            label_weights = lw.astype(np.float32)
        self.label_weights = label_weights
        self.from_logits = _check_flag("AUC", "from_logits", from_logits)
        self._num_labels = num_labels  # the shape of the counts, once known
        super().__init__(name)

    @property
    def thresholds(self) -> list[float]:
        return list(self._thresholds)

    def reset(self) -> None:
        shape = (self.num_thresholds,)
        if self.multi_label:
            shape = None if self._num_labels is None else (self.num_thresholds, self._num_labels)
        for attr in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, attr, None if shape is None else np.zeros(shape))

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        y_pred = _as_pred(y_pred)
        if self.multi_label:
            if y_pred.ndim != 2:
                raise ValueError(
                    f"AUC: y_pred must have rank 2 when multi_label=True, got y_pred.shape={y_pred.shape}"
                )
            if self._num_labels is None:
                self._num_labels = y_pred.shape[1]
                self.reset()
            elif y_pred.shape[1] != self._num_labels:
                raise ValueError(
                    f"AUC: y_pred must have {self._num_labels} labels (columns), got "
                    f"y_pred.shape={y_pred.shape}"
                )
        if self.from_logits:
            y_pred = expit(y_pred)
        counts = _confusion(
            y_true,
            y_pred,
            self._thresholds,
            evenly=self._evenly,
            sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
        )
        self.true_positives += counts["tp"]
        self.false_positives += counts["fp"]
        self.true_negatives += counts["tn"]
        self.false_negatives += counts["fn"]

    def _average(self, per_threshold: np.ndarray) -> float:
        if not self.multi_label:
            return float(np.sum(per_threshold))
        by_label = np.sum(per_threshold, axis=0)
        if self.label_weights is None:
            return float(np.mean(by_label))
        lw = self.label_weights.astype(np.float64)
        return float(_divide_no_nan(np.sum(by_label * lw), np.sum(lw)))

    def _interpolate_pr_auc(self) -> float:
        # Davis & Goadrich: tp and p = tp + fp vary linearly between neighbouring thresholds A, B;
        # the area of one interval is slope * (dtp + intercept * log(p_A / p_B)) / (tp + fn)_B.
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore"):
            log_ratio = np.log(ratio)
        increments = _divide_no_nan(slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0))
        return self._average(increments)

    def result(self) -> float:
        if self.true_positives is None:  # multi_label, nothing seen yet
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN, with Keras's fixes: recall gain 0 and precision gain 1 where tp == 0
            scale = _divide_no_nan(tp + fn, tn + fp)
            x = np.where(tp == 0, 0.0, 1.0 - scale * _divide_no_nan(fn, tp))
            y = np.where(tp == 0, 1.0, 1.0 - scale * _divide_no_nan(fp, tp))
            x = np.maximum(x, 0.0)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._average((x[:-1] - x[1:]) * heights)

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


class _KerasAccuracy(Metric):
    """'accuracy' / 'acc' from ``compile``: the concrete metric is chosen from the first batch's shapes.

    Keras 3 rule (compile_utils.is_binary_or_sparse_categorical): binary if y_pred's last axis is 1;
    else sparse categorical if y_true has fewer axes or a last axis of 1; else categorical.
    """

    def __init__(self, name: str):
        self.resolved: Metric | None = None
        super().__init__(name)

    def _resolve(self, y_true, y_pred) -> Metric:
        y_true, y_pred = np.asarray(y_true), _as_pred(y_pred)
        if y_pred.shape[-1] == 1:
            return BinaryAccuracy(name=self.name)
        if y_true.ndim < y_pred.ndim or (y_true.ndim and y_true.shape[-1] == 1):
            return SparseCategoricalAccuracy(name=self.name)
        return CategoricalAccuracy(name=self.name)

    def _values(self, y_true, y_pred):
        if self.resolved is None:
            self.resolved = self._resolve(y_true, y_pred)
        return self.resolved._values(y_true, y_pred)

    def get_config(self) -> dict:
        return {"class_name": "accuracy", "name": self.name}


_CLASSES = {
    cls.__name__: cls
    for cls in (
        MeanSquaredError,
        MeanAbsoluteError,
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
        MeanAbsolutePercentageError,
        RootMeanSquaredError,
        Precision,
        Recall,
        AUC,
        MeanSquaredLogarithmicError,
        LogCoshError,
        Poisson,
        KLDivergence,
        CosineSimilarity,
        Hinge,
        SquaredHinge,
        CategoricalHinge,
    )
}
_NAMES = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "root_mean_squared_error": RootMeanSquaredError,
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "poisson": Poisson,
    "kl_divergence": KLDivergence,
    "cosine_similarity": CosineSimilarity,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge,
}


def get_metric(identifier, loss=None) -> Metric:
    """A metric from a name ('mse', 'mae', 'mape', 'accuracy', 'acc', 'binary_accuracy', 'precision',
    'recall', 'auc', 'root_mean_squared_error', ...), a class name, a config (``get_config()``'s
    or Keras's) or a ``Metric`` instance (returned as is). The metric's ``name`` is the string
    passed. As in Keras, 'rmse' is not a name.

    ``loss`` is accepted so that ``compile`` can pass it, but, as in Keras 3, 'accuracy' is resolved
    from the shapes of y_true and y_pred at the first ``update`` (see the module docstring).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):  # get_config()'s, or Keras's {"class_name", "config"}
        config = dict(identifier)
        class_name = config.pop("class_name", None)
        if isinstance(config.get("config"), dict):
            config = dict(config["config"])
        if class_name == "accuracy":
            return _KerasAccuracy(name=config.get("name", "accuracy"))
        cls = _CLASSES.get(class_name) if isinstance(class_name, str) else None
        if cls is None:
            raise ValueError(f"unknown metric class {class_name!r} in config {identifier!r:.200}")
        try:
            return cls(**config)
        except TypeError as exc:
            raise ValueError(f"{class_name}: invalid config {config!r:.200} ({exc})") from None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return _KerasAccuracy(name=identifier)
        cls = _NAMES.get(key) or _CLASSES.get(identifier)
        if cls is not None:
            return cls(name=identifier)
    valid = ", ".join(repr(n) for n in ["accuracy", "acc", *_NAMES, *_CLASSES])
    raise ValueError(f"unknown metric {identifier!r}; valid names are {valid}")

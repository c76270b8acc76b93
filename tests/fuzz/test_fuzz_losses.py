"""Fuzz of the losses (losses.py), every class:

1. ``test_loss_properties``: drawn shapes (one to three leading axes), float32 or float64, targets
   and predictions in the loss's domain (positive for poisson and msle, distributions for the
   divergences, labels for the hinges and cross-entropies), sample weights or none: a finite
   float loss and a finite gradient of y_pred's shape and dtype; weights of one give the
   unweighted loss and weights of two twice it; where the loss is smooth, in float64, the
   gradient is its derivative along a random direction (central differences).
2. ``test_junk_raises_value_or_type_errors``: junk targets, predictions and weights: ValueError or
   TypeError, nothing else.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lstmcore import losses

ALL = [  # every loss class
    n
    for n in losses.__all__
    if isinstance(getattr(losses, n), type) and getattr(losses, n) is not losses.Loss
]
# kinks where a difference may cross them: no directional check
NOT_SMOOTH = {"MeanAbsoluteError", "MeanAbsolutePercentageError", "Hinge", "CategoricalHinge"}
OK = (ValueError, TypeError)
JUNK = st.sampled_from([None, 1.5, "x", [], [[1, 2]], {"a": 1}, object(), np.ones((2, 7)), np.array(["a"])])


def _data(rng, name: str, shape, dtype):
    """(y_true, y_pred) in the loss's domain."""
    C = shape[-1]
    if name in ("BinaryCrossentropy",):
        return rng.integers(0, 2, shape), rng.uniform(0.05, 0.95, shape)
    if name in ("CategoricalCrossentropy", "KLDivergence"):
        return rng.dirichlet(np.ones(C), shape[:-1]), rng.dirichlet(np.ones(C), shape[:-1]) * 0.9 + 0.1 / C
    if name == "SparseCategoricalCrossentropy":
        return rng.integers(0, C, shape[:-1]), rng.uniform(0.1, 1.0, shape)
    if name in ("Hinge", "SquaredHinge"):
        return rng.choice([-1.0, 1.0], shape), rng.standard_normal(shape)
    if name == "CategoricalHinge":
        return np.eye(C)[rng.integers(0, C, shape[:-1])], rng.standard_normal(shape)
    if name in ("Poisson", "MeanSquaredLogarithmicError"):
        return rng.uniform(0, 3, shape), rng.uniform(0.1, 3, shape)
    return rng.standard_normal(shape) * 2, rng.standard_normal(shape) * 2


@st.composite
def loss_cases(draw):
    name = draw(st.sampled_from(ALL))
    lead = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    shape = (*lead, draw(st.integers(2, 5)))
    weights = None
    if draw(st.booleans()):
        weights = tuple(lead[: draw(st.integers(1, len(lead)))])
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return name, shape, weights, dtype, draw(st.integers(0, 2**32 - 1))


@given(case=loss_cases())
def test_loss_properties(case):
    name, shape, weights, dtype, seed = case
    rng = np.random.default_rng(seed)
    loss = getattr(losses, name)()
    y_true, y_pred = _data(rng, name, shape, dtype)
    y_pred = y_pred.astype(dtype)
    kw = {}
    if weights is not None:
        kw["sample_weight"] = rng.uniform(0.1, 2, weights).astype(dtype)
    value = loss.forward(y_true, y_pred, **kw)
    grad = loss.backward(y_true, y_pred, **kw)
    assert isinstance(value, float) and np.isfinite(value)
    assert grad.shape == y_pred.shape and grad.dtype == dtype and np.isfinite(grad).all()
    plain = loss.forward(y_true, y_pred)
    ones = np.ones(shape[:-1], dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert abs(loss.forward(y_true, y_pred, sample_weight=ones) - plain) <= tol * max(1.0, abs(plain))
    assert abs(loss.forward(y_true, y_pred, sample_weight=2 * ones) - 2 * plain) <= tol * max(1.0, abs(plain))
    if dtype != np.float64 or name in NOT_SMOOTH:
        return
    u = rng.standard_normal(shape)
    eps = 1e-6
    numeric = (
        loss.forward(y_true, y_pred + eps * u, **kw) - loss.forward(y_true, y_pred - eps * u, **kw)
    ) / (2 * eps)
    analytic = float((grad * u).sum())
    assert abs(analytic - numeric) <= 1e-5 * max(1.0, abs(numeric)), (analytic, numeric)


@st.composite
def junk_cases(draw):
    return (
        draw(st.sampled_from(ALL)),
        draw(st.sampled_from(["y_true", "y_pred", "sample_weight"])),
        draw(JUNK),
    )


@given(case=junk_cases())
def test_junk_raises_value_or_type_errors(case):
    name, where, junk = case
    loss = getattr(losses, name)()
    args = {"y_true": np.ones((2, 3)) * 0.5, "y_pred": np.ones((2, 3)) * 0.5, "sample_weight": None}
    if name == "SparseCategoricalCrossentropy":
        args["y_true"] = np.zeros(2)
    args[where] = junk
    try:
        loss.forward(args["y_true"], args["y_pred"], sample_weight=args["sample_weight"])
        loss.backward(args["y_true"], args["y_pred"], sample_weight=args["sample_weight"])
    except OK:
        return

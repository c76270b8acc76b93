"""Write tests/model/data/keras_losses.npz from Keras 3. Run by hand, never in CI.

    KERAS_BACKEND=torch python tests/model/make_loss_golden.py

Keras's losses beyond the first six (mape, msle, log_cosh, poisson, kl_divergence,
cosine_similarity, hinge, squared_hinge, categorical_hinge) on drawn targets and predictions:
what tests/model/test_more_losses.py holds lstmcore's to. Needs keras 3 and torch and never
imports lstmcore; the test file imports ``CASES`` and ``keras_case`` to compare against a live
Keras where one is installed.

For each case and dtype (float64, float32): the loss of Keras's class with the case's arguments on
(y_true, y_pred), with the case's sample weights where it has them, and its gradient with respect
to y_pred by torch autograd; Keras's metric of the loss (``keras.metrics``, LogCoshError for
log_cosh) on the same arrays. Keys: ``y_true``, ``y_pred``, ``sample_weight`` (inputs: float32 gets
float64's rounded), ``loss``, ``grad`` and ``metric``. File layout: ``make_layer_golden``'s.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_layer_golden as layer_golden  # noqa: E402 - beside this script

FORMAT_VERSION = 1
PATH = Path(__file__).resolve().parent / "data" / "keras_losses.npz"
DTYPES = ("float64", "float32")
COMPUTED = ("loss", "grad", "metric")
# Keras's metric of each loss (MeanMetricWrapper: sum(values * w) / sum(w))
METRICS = {"LogCosh": "LogCoshError", "MeanAbsolutePercentageError": "MeanAbsolutePercentageError"}

# name: (Keras class, shape (batch first; the last axis is one sample's), targets, predictions,
# sample weights over the leading axes or None). Targets and predictions: "normal", "positive"
# (uniform on [0.1, 3)), "mixed" (normal with some exact zeros: mape's eps, msle's max), "probs"
# (rows on the simplex), "onehot", "binary" ({0, 1}: hinge converts them), "signed" ({-1, 1}).
CASES = {
    "mape": ("MeanAbsolutePercentageError", (4, 3), "mixed", "normal", None),
    "mape_weighted_seq": ("MeanAbsolutePercentageError", (2, 3, 2), "positive", "normal", (2, 3)),
    "msle": ("MeanSquaredLogarithmicError", (4, 3), "positive", "mixed", None),
    "msle_weighted": ("MeanSquaredLogarithmicError", (5, 2), "mixed", "positive", (5,)),
    "log_cosh": ("LogCosh", (4, 3), "normal", "normal", None),
    "log_cosh_seq": ("LogCosh", (2, 4, 1), "normal", "normal", (2, 4)),
    "poisson": ("Poisson", (4, 3), "positive", "positive", None),
    "kl_divergence": ("KLDivergence", (4, 5), "probs", "probs", None),
    "kl_divergence_weighted": ("KLDivergence", (3, 4), "probs", "probs", (3,)),
    "cosine_similarity": ("CosineSimilarity", (4, 3), "normal", "normal", None),
    "cosine_similarity_seq": ("CosineSimilarity", (2, 3, 4), "normal", "normal", (2, 3)),
    "hinge_binary": ("Hinge", (4, 3), "binary", "normal", None),
    "hinge_signed": ("Hinge", (4, 3), "signed", "normal", (4,)),
    "squared_hinge": ("SquaredHinge", (4, 3), "binary", "normal", None),
    "categorical_hinge": ("CategoricalHinge", (5, 4), "onehot", "normal", None),
    "categorical_hinge_weighted": ("CategoricalHinge", (2, 3, 4), "onehot", "normal", (2, 3)),
}


def _draw(rng, kind: str, shape) -> np.ndarray:
    if kind == "normal":
        return rng.standard_normal(shape)
    if kind == "positive":
        return rng.uniform(0.1, 3.0, shape)
    if kind == "mixed":
        a = rng.standard_normal(shape)
        a.flat[:: max(1, a.size // 3)] = 0
        return a
    if kind == "probs":
        return rng.dirichlet(np.ones(shape[-1]), shape[:-1])
    if kind == "onehot":
        return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    if kind == "binary":
        return rng.integers(0, 2, shape).astype(np.float64)
    if kind == "signed":
        return rng.choice([-1.0, 1.0], shape)
    raise ValueError(kind)


def case_arrays(name: str, dtype: str) -> dict:
    cls, shape, targets, predictions, weights = CASES[name]
    rng = np.random.default_rng(layer_golden._seed(name))
    out = {"y_true": _draw(rng, targets, shape).astype(dtype), "y_pred": _draw(rng, predictions, shape)}
    out["y_pred"] = out["y_pred"].astype(dtype)
    if weights is not None:
        out["sample_weight"] = rng.uniform(0.2, 2.0, weights).astype(dtype)
    return out


def keras_case(keras, name: str, dtype: str) -> dict:
    import torch

    cls, shape, targets, predictions, weights = CASES[name]
    arrays = case_arrays(name, dtype)
    loss = getattr(keras.losses, cls)(dtype=dtype)
    y_pred = torch.from_numpy(arrays["y_pred"]).requires_grad_(True)
    kw = {}
    if "sample_weight" in arrays:
        kw["sample_weight"] = torch.from_numpy(arrays["sample_weight"])
    value = loss(torch.from_numpy(arrays["y_true"]), y_pred, **kw)
    value.backward()
    metric = getattr(keras.metrics, METRICS.get(cls, cls))(dtype=dtype)
    metric.update_state(torch.from_numpy(arrays["y_true"]), torch.from_numpy(arrays["y_pred"]), **kw)
    result = np.array(keras.ops.convert_to_numpy(metric.result()))
    return {
        **arrays,
        "loss": np.array(value.detach().numpy()),
        "grad": y_pred.grad.numpy().copy(),
        "metric": result,
    }


def unpack(data, name: str, dtype: str) -> dict:
    """The arrays of case ``name`` in ``dtype`` from the golden file ``data`` (``np.load``)."""
    return layer_golden.unpack(data, name, dtype, lambda key: key not in COMPUTED)


def main() -> None:
    keras = layer_golden.keras_on_torch("make_loss_golden.py")
    specs = {
        name: {
            "class": case[0],
            "shape": list(case[1]),
            "targets": case[2],
            "predictions": case[3],
            "weights": None if case[4] is None else list(case[4]),
        }
        for name, case in CASES.items()
    }
    results = layer_golden.run_cases(keras, specs, keras_case, lambda k: k in COMPUTED)
    layer_golden.write(PATH, FORMAT_VERSION, keras, specs, results)


if __name__ == "__main__":
    main()

"""Write tests/model/data/keras_convenience.npz from Keras 3: the optimizers Nadam, Adagrad, Adadelta,
Adamax and Lion step by step, and the metrics (MAPE, RMSE, Precision, Recall, AUC and the older
ones) with and without sample weights, streamed over uneven batches. Run by hand, never in CI:

    KERAS_BACKEND=torch python tests/model/make_convenience_golden.py

It needs Keras 3 (run on its torch backend, which this script sets) and never imports lstmcore: the
file holds what Keras computes, and tests/model/test_more_optimizers.py and test_more_metrics.py
check lstmcore against it with NumPy only. The same tests import ``keras_optimizer_steps`` and
``keras_metric_result`` from here to compare with Keras live where it is installed.

Keys: ``format_version`` (1), ``keras_version``; ``opt_cases`` (JSON: [name, hyper-parameters,
learning rate per step or null]), ``opt/w0`` (17,) float64 (two weights, shapes in ``opt_shapes``),
``opt/grads`` (S, 17) float64, ``opt/<i>/<dtype>`` (S, 17): the weights after each step, in
float32 and float64 variables. ``met_cases`` (JSON: [class name, kwargs, data, weight]),
``met_batches`` (JSON: [start, stop] of each batch), ``met/data/<name>/y_true|y_pred``,
``met/weight/<name>``, ``met/<i>``: the result after the last batch (1-D, one value per threshold).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
PATH = Path(__file__).resolve().parent / "data" / "keras_convenience.npz"

OPT_SHAPES = [(3, 4), (5,)]
OPT_STEP_SCALES = [1.0, 3.0, 0.1, 2.0, 0.05, 1.0]  # uneven steps, so the running statistics matter
SCHEDULE = [0.1, 0.1, 0.05, 0.05, 0.01, 0.01]
OPT_CASES = [
    ("Nadam", {}, None),
    ("Nadam", {"learning_rate": 0.05, "beta_1": 0.5, "beta_2": 0.8, "epsilon": 1e-3}, None),
    ("Nadam", {"weight_decay": 0.05, "clipnorm": 1.0}, SCHEDULE),
    ("Adagrad", {}, None),
    ("Adagrad", {"learning_rate": 0.5, "initial_accumulator_value": 0.0, "epsilon": 1e-4}, None),
    ("Adagrad", {"global_clipnorm": 1.0}, SCHEDULE),
    ("Adadelta", {}, None),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.5, "epsilon": 1e-4}, None),
    ("Adadelta", {"clipvalue": 0.5, "weight_decay": 0.1}, SCHEDULE),
    ("Adamax", {}, None),
    ("Adamax", {"learning_rate": 0.1, "beta_1": 0.5, "beta_2": 0.5, "epsilon": 1e-3}, None),
    ("Adamax", {"weight_decay": 0.1, "global_clipnorm": 1.0}, SCHEDULE),
    ("Lion", {}, None),
    ("Lion", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9}, None),
    ("Lion", {"weight_decay": 0.5, "clipnorm": 1.0}, SCHEDULE),
]

B, T, C = 6, 5, 3
MET_BATCHES = [(0, 2), (2, 3), (3, 6)]  # uneven, one of a single sample
_CONFUSION = [
    ("Precision", {}),
    ("Recall", {}),
    ("Precision", {"thresholds": [0.0, 0.5, 1.0]}),  # evenly spaced: Keras's bucket path
    ("Recall", {"thresholds": [0.2, 0.7]}),
    ("Precision", {"top_k": 2}),
    ("Recall", {"class_id": 1}),
    ("AUC", {}),
    ("AUC", {"curve": "PR"}),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}),
    ("AUC", {"num_thresholds": 7, "summation_method": "minoring"}),
    ("AUC", {"curve": "PRGAIN", "summation_method": "majoring"}),
    ("AUC", {"thresholds": [0.3, 0.1, 0.6]}),  # not evenly spaced: one comparison per threshold
    ("AUC", {"label_weights": [1.0, 2.0, 0.5]}),
]
_MEAN = [
    ("MeanSquaredError", {}),
    ("MeanAbsoluteError", {}),
    ("MeanAbsolutePercentageError", {}),
    ("RootMeanSquaredError", {}),
]
MET_CASES = (
    [(c, kw, "reg", w) for w in ("none", "mask", "mask1", "wB") for c, kw in _MEAN]
    + [(c, kw, "reg2", w) for w in ("none", "wB", "wB1") for c, kw in _MEAN]
    + [("RootMeanSquaredError", {}, "reg2", "wBC")]  # RMSE's values are per element
    + [(c, kw, "bin", w) for w in ("none", "mask", "mask1") for c, kw in _CONFUSION]
    + [
        (c, kw, "bin2", w)
        for w in ("none", "wB", "wB1", "wBC")
        for c, kw in _CONFUSION
        if not (w == "wBC" and "class_id" in kw)  # Keras: a (B, C) weight for one column fails
    ]
    + [
        (c, kw, "bin2", w)
        for w in ("none", "wB")
        for c, kw in [
            ("AUC", {"multi_label": True}),
            ("AUC", {"multi_label": True, "curve": "PR", "label_weights": [1.0, 3.0, 0.0]}),
        ]
    ]
    + [("AUC", {"from_logits": True}, "logit2", w) for w in ("none", "wB")]
    + [(c, {}, "bin", w) for w in ("none", "mask") for c in ("BinaryAccuracy",)]
    + [(c, {}, "cls", w) for w in ("none", "mask", "wB") for c in ("CategoricalAccuracy",)]
    + [(c, {}, "sparse", w) for w in ("none", "mask") for c in ("SparseCategoricalAccuracy",)]
)


def make_inputs() -> dict[str, np.ndarray]:
    """The inputs, from fixed seeds (the file stores them too)."""
    rng = np.random.default_rng(20240607)
    arrays = {}
    w0 = [rng.standard_normal(s) for s in OPT_SHAPES]
    grads = [
        np.concatenate(
            [
                (rng.standard_normal(s) * sc * gs).ravel()
                for s, gs in zip(OPT_SHAPES, (2.0, 0.05), strict=True)
            ]
        )
        for sc in OPT_STEP_SCALES
    ]  # the first weight's gradients are large (clipnorm clips them), the second's small
    arrays["opt/w0"] = np.concatenate([w.ravel() for w in w0])
    arrays["opt/grads"] = np.stack(grads)
    data = {}
    data["reg"] = (rng.standard_normal((B, T, C)), rng.standard_normal((B, T, C)))
    data["reg2"] = (rng.standard_normal((B, C)), rng.standard_normal((B, C)))
    y_bin = (rng.random((B, T, C)) > 0.5).astype(np.float32)
    p_bin = rng.random((B, T, C)).astype(np.float32)
    p_bin[0, 0] = [0.0, 0.5, 1.0]  # the edges: below / on / above thresholds and buckets
    p_bin[1, 0] = np.array([1, 2, 100], dtype=np.float32) / np.float32(199)
    data["bin"] = (y_bin, p_bin)
    y_bin2 = (rng.random((B, C)) > 0.5).astype(np.float32)
    p_bin2 = rng.random((B, C)).astype(np.float32)
    p_bin2[0] = [0.0, 0.5, 1.0]
    data["bin2"] = (y_bin2, p_bin2)
    data["logit2"] = (y_bin2, 3.0 * rng.standard_normal((B, C)))
    ids = rng.integers(0, C, (B, T))
    p_cls = rng.random((B, T, C))
    data["cls"] = (np.eye(C)[ids], p_cls)
    data["sparse"] = (ids.astype(np.float64), p_cls)
    for name, (y, p) in data.items():
        arrays[f"met/data/{name}/y_true"] = y
        arrays[f"met/data/{name}/y_pred"] = p
    mask = (rng.random((B, T)) > 0.3).astype(np.float32)
    mask[2] = 0.0  # one sample (the batch of one) masked entirely
    weights = {
        "mask": mask,
        "mask1": mask[..., None],
        "wB": rng.random(B),
        "wB1": rng.random((B, 1)),
        "wBC": rng.random((B, C)),
    }
    for name, w in weights.items():
        arrays[f"met/weight/{name}"] = w
    return arrays


def keras_optimizer_steps(keras, name, hp, schedule, w0, grads, dtype) -> np.ndarray:
    """Run Keras's optimizer ``name(**hp)`` on the two weights; the flat weights after each step."""
    with warnings.catch_warnings():  # Keras 3.15 on NumPy 2 warns inside convert_to_numpy
        warnings.simplefilter("ignore", DeprecationWarning)
        bounds = np.cumsum([0] + [int(np.prod(s)) for s in OPT_SHAPES])
        parts = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        variables = [
            keras.Variable(w0[sl].reshape(s), dtype=dtype) for sl, s in zip(parts, OPT_SHAPES, strict=True)
        ]
        opt = getattr(keras.optimizers, name)(**hp)
        out = []
        for step, g in enumerate(grads):
            if schedule is not None:
                opt.learning_rate = schedule[step]
            pairs = [
                (keras.ops.convert_to_tensor(g[sl].reshape(s), dtype=dtype), v)
                for sl, s, v in zip(parts, OPT_SHAPES, variables, strict=True)
            ]
            opt.apply_gradients(pairs)
            out.append(np.concatenate([keras.ops.convert_to_numpy(v).ravel() for v in variables]))
        return np.stack(out).astype(np.float64)


def keras_metric_result(keras, cls_name, kwargs, y_true, y_pred, weight, batches=MET_BATCHES) -> np.ndarray:
    """Keras's metric ``cls_name(**kwargs)`` updated batch by batch; its result as a 1-D array."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        metric = getattr(keras.metrics, cls_name)(**kwargs)
        for a, b in batches:
            sw = None if weight is None else weight[a:b]
            metric.update_state(y_true[a:b], y_pred[a:b], sample_weight=sw)
        return np.atleast_1d(keras.ops.convert_to_numpy(metric.result())).astype(np.float64)


def main():
    os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported
    try:
        import keras
    except ImportError as exc:  # pragma: no cover - a by-hand script
        sys.exit(f"make_convenience_golden.py needs Keras 3 with torch ({exc})")
    if int(keras.__version__.split(".")[0]) < 3 or keras.backend.backend() != "torch":
        sys.exit(f"needs Keras 3 on torch, got {keras.__version__} on {keras.backend.backend()}")
    arrays = make_inputs()
    arrays["format_version"] = np.array(FORMAT_VERSION)
    arrays["keras_version"] = np.array(keras.__version__)
    arrays["opt_shapes"] = np.array(json.dumps(OPT_SHAPES))
    arrays["opt_cases"] = np.array(json.dumps(OPT_CASES))
    for i, (name, hp, schedule) in enumerate(OPT_CASES):
        for dtype in ("float32", "float64"):
            arrays[f"opt/{i}/{dtype}"] = keras_optimizer_steps(
                keras, name, hp, schedule, arrays["opt/w0"], arrays["opt/grads"], dtype
            )
    arrays["met_cases"] = np.array(json.dumps(MET_CASES))
    arrays["met_batches"] = np.array(json.dumps(MET_BATCHES))
    for i, (cls_name, kwargs, data, weight) in enumerate(MET_CASES):
        y, p = arrays[f"met/data/{data}/y_true"], arrays[f"met/data/{data}/y_pred"]
        w = None if weight == "none" else arrays[f"met/weight/{weight}"]
        arrays[f"met/{i}"] = keras_metric_result(keras, cls_name, kwargs, y, p, w)
    PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {PATH}: {len(OPT_CASES)} optimizer cases, {len(MET_CASES)} metric cases")


if __name__ == "__main__":
    main()

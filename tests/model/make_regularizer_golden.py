"""Write tests/model/data/keras_regularizers.npz from Keras 3: models with weight regularizers,
activity regularizers and weight constraints trained a few steps with SGD (``train_on_batch``),
then evaluated. Run by hand, never in CI:

    KERAS_BACKEND=torch python tests/model/make_regularizer_golden.py

It needs Keras 3 (on its torch backend, which this script sets) and never imports lstmcore: the
models are built by ``build(mod, case)`` from Keras's API, which lstmcore's mirrors, so
tests/model/test_regularizers.py builds the same models with ``mod = lstmcore`` and checks them
against the file with NumPy only, and against Keras live where it is installed.

Keys: ``format_version`` (1), ``keras_version``, ``cases`` (JSON list); per case
``<case>/x``, ``<case>/y`` (float32), ``<case>/w0/<i>`` (the initial weights, Keras's order),
``<case>/losses`` (STEPS,): the loss ``train_on_batch`` returned at each step (the penalties
included), ``<case>/w/<i>``: the weights after the steps, ``<case>/eval``: ``evaluate``'s loss.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
PATH = Path(__file__).resolve().parent / "data" / "keras_regularizers.npz"
CASES = ["recurrent", "embedding", "functional", "conv", "orthogonal"]
STEPS = 3
LEARNING_RATE = 0.1


def build(mod, case):
    """The case's model from ``mod``'s API (keras, or lstmcore with the same names)."""
    Lm, R, C = mod.layers, mod.regularizers, mod.constraints
    if case == "recurrent":
        return mod.Sequential(
            [
                Lm.Input(shape=(5, 3)),
                Lm.LSTM(
                    6,
                    kernel_regularizer=R.L2(0.01),
                    recurrent_regularizer=R.L1(0.02),
                    bias_regularizer=R.L1L2(0.001, 0.002),
                    activity_regularizer=R.L2(0.05),
                    kernel_constraint=C.MaxNorm(0.5),
                    recurrent_constraint=C.UnitNorm(),
                    bias_constraint=C.NonNeg(),
                    return_sequences=True,
                ),
                Lm.GRU(4, kernel_regularizer="l2", recurrent_constraint=C.MinMaxNorm(0.2, 0.6, 0.5, axis=0)),
                Lm.Dense(
                    2,
                    kernel_regularizer=R.L1(0.01),
                    activity_regularizer=R.L1(0.1),
                    kernel_constraint=C.NonNeg(),
                ),
            ]
        )
    if case == "embedding":
        return mod.Sequential(
            [
                Lm.Input(shape=(6,)),
                Lm.Embedding(
                    10,
                    4,
                    embeddings_regularizer=R.L2(0.1),
                    embeddings_constraint=C.MaxNorm(0.3, axis=1),
                    mask_zero=True,
                ),
                Lm.Bidirectional(
                    Lm.LSTM(5, kernel_regularizer=R.L2(0.02), bias_constraint=C.NonNeg()),
                    activity_regularizer=R.L2(0.3),
                ),
                Lm.LayerNormalization(
                    gamma_regularizer=R.L2(0.5), beta_regularizer=R.L1(0.2), gamma_constraint=C.MaxNorm(0.9)
                ),
                Lm.Dense(2, bias_regularizer=R.L2(1.0)),
            ]
        )
    if case == "functional":  # an activity regularizer on every output of a call; a layer called twice
        inp = Lm.Input(shape=(4, 3))
        _, h, c = _lstm_with_state(Lm, R, inp)  # the sequence reaches no output: its penalty still trains
        shared = Lm.Dense(
            3, kernel_regularizer=R.L2(0.2), activity_regularizer=R.L1(0.05), bias_constraint=C.NonNeg()
        )
        out = Lm.Dense(2, kernel_regularizer=R.L1L2(0.01, 0.01))(Lm.Concatenate()([shared(h), shared(c)]))
        return mod.Model(inp, out)
    if case == "conv":
        return mod.Sequential(
            [
                Lm.Input(shape=(7, 3)),
                # before BatchNormalization the bias's data gradient is rounding noise: L2, not L1 (its sign)
                Lm.Conv1D(
                    4,
                    3,
                    kernel_regularizer=R.L2(0.05),
                    bias_regularizer=R.L2(0.1),
                    kernel_constraint=C.MaxNorm(1.0, axis=[0, 1]),
                ),
                Lm.BatchNormalization(gamma_regularizer=R.L1(0.1), beta_constraint=C.NonNeg()),
                Lm.TimeDistributed(
                    Lm.Dense(3, kernel_regularizer=R.L2(0.1), kernel_constraint=C.UnitNorm(axis=1))
                ),
                Lm.GlobalAveragePooling1D(),
                Lm.Dense(2, activity_regularizer=R.L2(0.2)),
            ]
        )
    if case == "orthogonal":
        return mod.Sequential(
            [
                Lm.Input(shape=(4, 3)),
                Lm.LSTM(
                    5,
                    kernel_regularizer=R.OrthogonalRegularizer(0.1, mode="columns"),
                    # columns: the orthogonal initializer leaves the rows orthogonal, their products
                    # rounding noise whose sign (the rows' gradient) no two libraries share
                    recurrent_regularizer=R.OrthogonalRegularizer(0.2, mode="columns"),
                ),
                Lm.Dense(2, kernel_regularizer=R.OrthogonalRegularizer(0.3, mode="rows")),
            ]
        )
    raise ValueError(f"unknown case {case!r}")


def _lstm_with_state(Lm, R, inp):
    """An LSTM's three outputs (sequence, h, c), each under the layer's activity regularizer."""
    return Lm.LSTM(5, return_sequences=True, return_state=True, activity_regularizer=R.L2(0.1))(inp)


def make_inputs(case: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(CASES.index(case) + 31)
    if case == "embedding":
        x = rng.integers(1, 10, (8, 6)).astype(np.float32)
        x[:3, :2] = 0  # front padding, masked (mask_zero)
    else:
        shape = {"recurrent": (8, 5, 3), "functional": (8, 4, 3), "conv": (8, 7, 3), "orthogonal": (8, 4, 3)}[
            case
        ]
        x = rng.standard_normal(shape).astype(np.float32)
    return x, rng.standard_normal((8, 2)).astype(np.float32)


def train(mod, model, x, y, w0, optimizer):
    """Set ``w0``, take STEPS SGD steps on (x, y); (losses, weights after, evaluate's loss)."""
    model.compile(optimizer, "mse")
    model.set_weights([np.array(w, copy=True) for w in w0])
    losses = [float(model.train_on_batch(x, y)) for _ in range(STEPS)]
    weights = [np.asarray(w) for w in model.get_weights()]
    return np.array(losses), weights, float(model.evaluate(x, y, verbose=0))


def main():
    os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported
    try:
        import keras
    except ImportError as exc:  # pragma: no cover - a by-hand script
        sys.exit(f"make_regularizer_golden.py needs Keras 3 with torch ({exc})")
    if int(keras.__version__.split(".")[0]) < 3 or keras.backend.backend() != "torch":
        sys.exit(f"needs Keras 3 on torch, got {keras.__version__} on {keras.backend.backend()}")
    keras.utils.set_random_seed(7)
    arrays = {
        "format_version": np.array(FORMAT_VERSION),
        "keras_version": np.array(keras.__version__),
        "cases": np.array(json.dumps(CASES)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in CASES:
            x, y = make_inputs(case)
            model = build(keras, case)
            w0 = [np.asarray(w) for w in model.get_weights()]
            losses, weights, ev = train(keras, model, x, y, w0, keras.optimizers.SGD(LEARNING_RATE))
            arrays[f"{case}/x"], arrays[f"{case}/y"] = x, y
            arrays[f"{case}/losses"], arrays[f"{case}/eval"] = losses, np.array(ev)
            for i, w in enumerate(w0):
                arrays[f"{case}/w0/{i}"] = w
            for i, w in enumerate(weights):
                arrays[f"{case}/w/{i}"] = w
            print(f"{case}: losses {losses}, evaluate {ev:.6f}, {len(w0)} weights")
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()

"""Write tests/model/data/keras_schedules.npz from Keras 3: the learning rate each schedule of
``CASES`` gives at steps 0..STEPS-1, and the weights after each step of SGD (with momentum) and
Adam driven by a schedule over fixed gradients. Run by hand, never in CI:

    KERAS_BACKEND=torch python tests/model/make_schedule_golden.py

It needs Keras 3 (on its torch backend, which this script sets) and never imports lstmcore;
tests/model/test_schedules.py checks lstmcore against the file with NumPy only, and against Keras
live where it is installed (``keras_rates``, ``keras_steps``).

Keys: ``format_version`` (1), ``keras_version``, ``cases`` (JSON: [class name, config]);
``rates/<i>`` (STEPS,) float64: the schedule's values; ``w0`` (6,), ``grads`` (STEPS, 6) float64;
``sgd/<dtype>``, ``adam/<dtype>`` (STEPS, 6): the weights after each step with case 0's schedule.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
PATH = Path(__file__).resolve().parent / "data" / "keras_schedules.npz"
STEPS = 24
# No case lands a step exactly on a restart boundary of CosineDecayRestarts with t_mul != 1: there
# the restart count is a float32 floor(log(..) / log(t_mul)), whose last bit differs between libms.
CASES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5}),
    (
        "ExponentialDecay",
        {"initial_learning_rate": 0.2, "decay_steps": 4, "decay_rate": 0.9, "staircase": True},
    ),
    ("PiecewiseConstantDecay", {"boundaries": [3, 10], "values": [0.1, 0.01, 0.001]}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10}),
    (
        "PolynomialDecay",
        {
            "initial_learning_rate": 0.1,
            "decay_steps": 7,
            "end_learning_rate": 0.01,
            "power": 2.0,
            "cycle": True,
        },
    ),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5}),
    (
        "InverseTimeDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5, "staircase": True},
    ),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 15}),
    (
        "CosineDecay",
        {
            "initial_learning_rate": 0.0,
            "decay_steps": 10,
            "alpha": 0.1,
            "warmup_target": 0.2,
            "warmup_steps": 5,
        },
    ),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 4}),
    (
        "CosineDecayRestarts",
        {"initial_learning_rate": 0.1, "first_decay_steps": 3, "t_mul": 1.0, "m_mul": 0.5, "alpha": 0.2},
    ),
    (
        "CosineDecayRestarts",
        {"initial_learning_rate": 0.05, "first_decay_steps": 3, "t_mul": 1.5, "m_mul": 0.9},
    ),
]


def make_inputs():
    rng = np.random.default_rng(20261207)
    return rng.standard_normal(6), rng.standard_normal((STEPS, 6))


def keras_rates(keras, name, config) -> np.ndarray:
    schedule = getattr(keras.optimizers.schedules, name)(**config)
    return np.array([float(keras.ops.convert_to_numpy(schedule(step))) for step in range(STEPS)])


def keras_steps(keras, optimizer, w0, grads, dtype) -> np.ndarray:
    """Keras's optimizer over one weight (6,) of ``dtype``; the weight after each step."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        v = keras.Variable(w0, dtype=dtype)
        out = []
        for g in grads:
            optimizer.apply_gradients([(keras.ops.convert_to_tensor(g, dtype=dtype), v)])
            out.append(np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64))
        return np.stack(out)


def optimizers(mod, schedule):
    """(name, optimizer) pairs driven by ``schedule`` from ``mod`` (keras, or lstmcore)."""
    return [("sgd", mod.optimizers.SGD(schedule, momentum=0.5)), ("adam", mod.optimizers.Adam(schedule))]


def main():
    os.environ["KERAS_BACKEND"] = "torch"
    try:
        import keras
    except ImportError as exc:  # pragma: no cover - a by-hand script
        sys.exit(f"make_schedule_golden.py needs Keras 3 with torch ({exc})")
    arrays = {
        "format_version": np.array(FORMAT_VERSION),
        "keras_version": np.array(keras.__version__),
        "cases": np.array(json.dumps(CASES)),
    }
    w0, grads = make_inputs()
    arrays["w0"], arrays["grads"] = w0, grads
    for i, (name, config) in enumerate(CASES):
        arrays[f"rates/{i}"] = keras_rates(keras, name, config)
    for dtype in ("float32", "float64"):
        name, config = CASES[0]
        for key, opt in optimizers(keras, getattr(keras.optimizers.schedules, name)(**config)):
            arrays[f"{key}/{dtype}"] = keras_steps(keras, opt, w0, grads, dtype)
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()

"""Write tests/model/data/keras_models.npz and keras_functional.npz: the programs of
``keras_programs.py`` (Sequential) and ``keras_functional_programs.py`` (functional API) run in
Keras 3 (torch backend, float64). Run by hand, never in CI, in a venv with keras and torch:

    KERAS_BACKEND=torch python tests/model/make_keras_models.py

For each program: the inputs x, the targets y, the initial weights (Keras's order), the
predictions, the evaluated loss, the loss of one ``train_on_batch`` with SGD(LEARNING_RATE) and the
weights after it; for the Sequential programs also the same with per-sample weights ``sw``
(evaluated_sw, train_loss_sw, w2_*). It never imports lstmcore.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "io"))

import keras  # noqa: E402
from keras_functional_programs import PROGRAMS as FUNCTIONAL  # noqa: E402
from keras_programs import LEARNING_RATE, PROGRAMS  # noqa: E402
from make_golden import _check_versions, _keras_float64_matmul  # noqa: E402

SAVED = ["masking_bilstm_ave_stack", "masked_embedding_functional"]


def main():
    _check_versions()
    _keras_float64_matmul()
    keras.config.set_floatx("float64")
    arrays = {
        "format_version": np.array(1),
        "cases": np.array(list(PROGRAMS)),
        "keras": np.array(keras.__version__),
    }
    for k, (name, (build, loss, make_x, make_y)) in enumerate(PROGRAMS.items()):
        rng = np.random.default_rng(100 + k)
        keras.utils.set_random_seed(100 + k)
        x, y = make_x(rng), make_y(rng)
        model = keras.Sequential(build(keras.layers))
        model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss=loss)
        weights0 = model.get_weights()
        pred = model.predict(x, verbose=0)
        evaluated = model.evaluate(x, y, verbose=0)
        trained = model.train_on_batch(x, y)
        case = {"x": x, "y": y, "pred": pred, "loss": evaluated, "train_loss": trained}
        case.update({f"w0_{i:02d}": w for i, w in enumerate(weights0)})
        case.update({f"w1_{i:02d}": w for i, w in enumerate(model.get_weights())})
        # one step weighted per sample, from the same weights and a fresh optimizer
        sw = rng.random(pred.shape[:-1]) * 2  # (B,) or, for sequence outputs, (B, T)
        model.set_weights(weights0)
        model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss=loss)
        case.update(sw=sw, evaluated_sw=model.evaluate(x, y, sample_weight=sw, verbose=0))
        case["train_loss_sw"] = model.train_on_batch(x, y, sample_weight=sw)
        case.update({f"w2_{i:02d}": w for i, w in enumerate(model.get_weights())})
        arrays.update({f"{name}/{key}": np.asarray(v) for key, v in case.items()})
    _save(HERE / "data" / "keras_models.npz", arrays)
    arrays = {
        "format_version": np.array(1),
        "cases": np.array(list(FUNCTIONAL)),
        "keras": np.array(keras.__version__),
    }
    for k, (name, (build, loss, loss_weights, make_x, make_y)) in enumerate(FUNCTIONAL.items()):
        rng = np.random.default_rng(200 + k)
        keras.utils.set_random_seed(200 + k)
        xs, ys = make_x(rng), make_y(rng)
        inputs, outputs = build(keras)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss=loss, loss_weights=loss_weights)
        weights0 = model.get_weights()
        x, y = (xs if len(xs) > 1 else xs[0]), (ys if len(ys) > 1 else ys[0])
        pred = model.predict(x, verbose=0)
        preds = pred if isinstance(pred, list) else [pred]
        evaluated = model.evaluate(x, y, verbose=0)
        trained = model.train_on_batch(x, y)
        first = lambda v: v[0] if isinstance(v, list) else v  # noqa: E731 - the total loss
        case = {"loss": first(evaluated), "train_loss": first(trained)}
        case.update({f"x_{i}": a for i, a in enumerate(xs)})
        case.update({f"y_{i}": a for i, a in enumerate(ys)})
        case.update({f"pred_{i}": a for i, a in enumerate(preds)})
        case.update({f"w0_{i:02d}": w for i, w in enumerate(weights0)})
        case.update({f"w1_{i:02d}": w for i, w in enumerate(model.get_weights())})
        arrays.update({f"{name}/{key}": np.asarray(v) for key, v in case.items()})
    _save(HERE / "data" / "keras_functional.npz", arrays)
    # two .keras files saved by Keras itself, for lstmcore's reader (tests/io/test_keras_file.py)
    saved = {"format_version": np.array(1), "cases": np.array(SAVED), "keras": np.array(keras.__version__)}
    for k, name in enumerate(SAVED):
        rng = np.random.default_rng(300 + k)
        keras.utils.set_random_seed(300 + k)
        if name in PROGRAMS:
            build, loss, make_x, _ = PROGRAMS[name]
            model, xs = keras.Sequential(build(keras.layers)), [make_x(rng)]
            model.compile(optimizer="adam", loss=loss, metrics=["mae"])
        else:
            build, loss, loss_weights, make_x, _ = FUNCTIONAL[name]
            model, xs = keras.Model(*build(keras)), make_x(rng)
            model.compile(optimizer="adam", loss=loss, loss_weights=loss_weights)
        model.save(HERE / "data" / f"{name}.keras")
        pred = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        for i, a in enumerate(xs):
            saved[f"{name}/x_{i}"] = a
        for i, a in enumerate(pred if isinstance(pred, list) else [pred]):
            saved[f"{name}/pred_{i}"] = a
    _save(HERE / "data" / "keras_saved.npz", saved)


def _save(path, arrays):
    path.parent.mkdir(exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({path.stat().st_size} bytes, {len(arrays['cases'])} programs)")


if __name__ == "__main__":
    main()

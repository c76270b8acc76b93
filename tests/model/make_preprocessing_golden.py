"""Write tests/model/data/keras_preprocessing.npz from Keras 3. Run by hand, never in CI.

    KERAS_BACKEND=torch python tests/model/make_preprocessing_golden.py

Keras's ``Normalization`` (adapted on an array, or given mean and variance) and ``Rescaling`` on
drawn inputs: what tests/model/test_preprocessing_layers.py holds lstmcore's to. Needs keras 3
and torch and never imports lstmcore; the test file imports ``CASES`` and ``keras_case``.

For each case and dtype (float64, float32): the layer made with the case's arguments, adapted on
``data`` where the case says so, called on ``x``; its weights after adapt (mean, variance); the
gradient of sum(y * dy) with respect to x by torch autograd. Keys: ``data``, ``x``, ``dy``
(inputs: float32 gets float64's rounded), ``y``, ``dx``, ``w/<name>``. Layout: make_layer_golden's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_layer_golden as layer_golden  # noqa: E402 - beside this script

FORMAT_VERSION = 1
PATH = Path(__file__).resolve().parent / "data" / "keras_preprocessing.npz"
DTYPES = ("float64", "float32")
COMPUTED = ("y", "dx", "w/")

# name: (class, arguments, input shape with the batch axis, adapt on data)
CASES = {
    "normalization": ("Normalization", {}, (4, 5, 3), True),
    "normalization_all": ("Normalization", {"axis": None}, (4, 5, 3), True),
    "normalization_steps_features": ("Normalization", {"axis": [1, 2]}, (4, 5, 3), True),
    "normalization_invert": ("Normalization", {"invert": True}, (4, 6), True),
    "normalization_given": (
        "Normalization",
        {"mean": [1.0, -2.0, 0.5], "variance": [4.0, 0.25, 9.0]},
        (3, 5, 3),
        False,
    ),
    "normalization_given_scalar": ("Normalization", {"mean": 2.0, "variance": 3.0}, (3, 4), False),
    "rescaling": ("Rescaling", {"scale": 0.5, "offset": -1.0}, (3, 4, 2), False),
    "rescaling_per_feature": ("Rescaling", {"scale": [2.0, -0.5], "offset": [0.25, 1.0]}, (3, 4, 2), False),
}


def case_arrays(name: str, dtype: str) -> dict:
    cls, kw, shape, adapt = CASES[name]
    rng = np.random.default_rng(layer_golden._seed(name))
    scale = 1 + 4 * rng.random(shape[-1])
    out = {"x": (rng.standard_normal(shape) * scale).astype(dtype)}
    if adapt:
        out["data"] = (rng.standard_normal((20, *shape[1:])) * scale + rng.standard_normal(shape[-1])).astype(
            dtype
        )
    out["dy"] = rng.standard_normal(shape).astype(dtype)
    return out


def keras_case(keras, name: str, dtype: str) -> dict:
    import torch

    cls, kw, shape, adapt = CASES[name]
    arrays = case_arrays(name, dtype)
    layer = getattr(keras.layers, cls)(**kw, dtype=dtype)
    if adapt:
        layer.adapt(arrays["data"])
    x = torch.from_numpy(arrays["x"]).requires_grad_(True)
    y = layer(x)
    (y * torch.from_numpy(arrays["dy"])).sum().backward()
    out = {**arrays, "y": y.detach().numpy().copy(), "dx": x.grad.numpy().copy()}
    for w in layer.weights:
        if w.path.endswith(("mean", "variance")):
            out[f"w/{w.path.rsplit('/', 1)[-1]}"] = np.asarray(
                keras.ops.convert_to_numpy(w.value), dtype=dtype
            )
    return out


def unpack(data, name: str, dtype: str) -> dict:
    return layer_golden.unpack(data, name, dtype, lambda key: not key.startswith(COMPUTED))


def main() -> None:
    keras = layer_golden.keras_on_torch("make_preprocessing_golden.py")
    specs = {
        name: {"class": case[0], "kwargs": case[1], "shape": list(case[2]), "adapt": case[3]}
        for name, case in CASES.items()
    }
    results = layer_golden.run_cases(keras, specs, keras_case, lambda k: k.startswith(COMPUTED))
    layer_golden.write(PATH, FORMAT_VERSION, keras, specs, results)


if __name__ == "__main__":
    main()

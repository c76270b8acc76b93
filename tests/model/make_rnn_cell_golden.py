"""Write tests/model/data/keras_rnn_cells.npz from Keras 3. Run by hand, never in CI.

    KERAS_BACKEND=torch python tests/model/make_rnn_cell_golden.py

Keras's ``RNN`` layer over its cells (``LSTMCell``, ``GRUCell``, ``SimpleRNNCell``, lists of them:
``StackedRNNCells``), the numbers tests/model/test_rnn_cells.py holds lstmcore's ``RNN`` to. It
needs keras 3 and torch (Keras on its torch backend, which this script sets) and never imports
lstmcore; the test file imports ``CASES`` and ``keras_case`` from here to compare against a live
Keras where one is installed.

For each case of ``CASES`` and each dtype (float64, float32): the RNN made with the case's cells
and arguments, its weights drawn from a fixed NumPy seed (scale 0.5) and set with ``set_weights``,
called on x with the case's mask and initial states (``training=True``; no case has dropout); the
gradients of ``sum(out * dy) + sum over states of sum(state * ds)`` with respect to x, each weight
and each initial state, by torch autograd (hard_sigmoid's derivative made exact in float64, as
make_layer_golden.py does). Keras computes float64 partly in float32 unless told
otherwise; ``make_layer_golden.float64_kept`` turns that off for the float64 cases.

File layout: ``make_layer_golden``'s (``pack``): ``format_version``, ``keras_version``, ``cases``
(JSON), ``float64``/``float32`` (every case's arrays raveled in order) and their ``_index``
(JSON, ``[key, shape]`` per case). Keys: ``x``, ``mask`` (where the case has one, 0/1),
``s0/<k>`` (the initial states, flat, where given), ``w/<k>`` (the weights in Keras's order),
``dy``, ``ds/<k>`` (one per returned state), ``y``, ``s/<k>`` (the returned states), ``dx``,
``d/<k>`` (each weight's gradient) and ``ds0/<k>`` (each initial state's). float32 stores only
what it computes (``y``, ``s/``, ``dx``, ``d/``, ``ds0/``); ``unpack`` adds the rest, rounded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_layer_golden as layer_golden  # noqa: E402 - beside this script

FORMAT_VERSION = 1
PATH = Path(__file__).resolve().parent / "data" / "keras_rnn_cells.npz"
DTYPES = ("float64", "float32")
COMPUTED = ("y", "s/", "dx", "d/", "ds0/")  # what float32 stores: the rest is float64's rounded

# name: (cells as [class, arguments], RNN arguments, x shape (B, T, I), mask, initial states).
# "holes" masks: post-padding, pre-padding and a hole inside (make_layer_golden.case_arrays).
CASES = {
    "lstm": ([["LSTMCell", {"units": 4}]], {}, (3, 5, 3), None, False),
    "lstm_options": (
        [
            [
                "LSTMCell",
                {
                    "units": 3,
                    "activation": "relu",
                    "recurrent_activation": "hard_sigmoid",
                    "use_bias": False,
                    "unit_forget_bias": False,
                },
            ]
        ],
        {"return_sequences": True},
        (2, 4, 3),
        None,
        False,
    ),
    "gru_backwards": (
        [["GRUCell", {"units": 4, "reset_after": False}]],
        {"return_sequences": True, "go_backwards": True},
        (3, 5, 2),
        None,
        False,
    ),
    "simple_rnn_state": (
        [["SimpleRNNCell", {"units": 3, "activation": "relu"}]],
        {"return_state": True},
        (3, 4, 2),
        "holes",
        True,
    ),
    "stack": ([["LSTMCell", {"units": 4}], ["GRUCell", {"units": 3}]], {}, (3, 5, 3), None, False),
    "stack_three_states": (
        [["GRUCell", {"units": 3}], ["SimpleRNNCell", {"units": 4}], ["LSTMCell", {"units": 2}]],
        {"return_sequences": True, "return_state": True},
        (2, 4, 3),
        None,
        False,
    ),
    "stack_masked": (
        [["LSTMCell", {"units": 4}], ["LSTMCell", {"units": 3}]],
        {"return_sequences": True},
        (3, 5, 2),
        "holes",
        False,
    ),
    "stack_masked_backwards": (
        [["LSTMCell", {"units": 3}], ["GRUCell", {"units": 4}]],
        {"return_sequences": True, "go_backwards": True, "return_state": True},
        (3, 6, 2),
        "holes",
        False,
    ),
    "stack_masked_zero_output": (
        [["GRUCell", {"units": 3}], ["SimpleRNNCell", {"units": 2}]],
        {"return_sequences": True, "zero_output_for_mask": True},
        (3, 5, 2),
        "holes",
        False,
    ),
    "stack_initial_state": (
        [["LSTMCell", {"units": 3}], ["GRUCell", {"units": 2}]],
        {"return_state": True},
        (3, 4, 2),
        "holes",
        True,
    ),
}


def state_sizes(cells) -> list[list[int]]:
    """Each cell's states' sizes: an LSTM cell's two, a GRU or simple RNN cell's one."""
    return [[kw["units"]] * (2 if cls == "LSTMCell" else 1) for cls, kw in cells]


def case_arrays(name: str, dtype: str) -> dict:
    """A case's inputs: x, the mask where it has one, the initial states (flat) where given."""
    cells, kw, shape, mask, initial = CASES[name]
    rng = np.random.default_rng(layer_golden._seed(name))
    out = {"x": rng.standard_normal(shape).astype(dtype)}
    if mask == "holes":
        m = np.ones(shape[:2], dtype=bool)
        m[0, -2:] = False  # post-padding
        m[1, 0] = False  # pre-padding
        m[2 % shape[0], 2] = False  # a hole
        out["mask"] = m
    if initial:
        rng = np.random.default_rng(layer_golden._seed(name) + 3)
        sizes = [s for part in state_sizes(cells) for s in part]
        for k, n in enumerate(sizes):
            out[f"s0/{k}"] = (0.5 * rng.standard_normal((shape[0], n))).astype(dtype)
    return out


def weight_values(name: str, shapes, dtype: str) -> list:
    rng = np.random.default_rng(layer_golden._seed(name) + 1)
    return [(0.5 * rng.standard_normal(s)).astype(dtype) for s in shapes]


def keras_case(keras, name: str, dtype: str) -> dict:
    """Run Keras on a case: the arrays described in the module docstring."""
    import torch

    cells, kw, shape, mask_kind, initial = CASES[name]
    arrays = case_arrays(name, dtype)
    made = [getattr(keras.layers, cls)(**ckw, dtype=dtype) for cls, ckw in cells]
    for cell, (_, ckw) in zip(made, cells, strict=True):
        if ckw.get("recurrent_activation") == "hard_sigmoid" and dtype == "float64":
            exact = layer_golden._exact_hard_sigmoid_grad
            cell.recurrent_activation = exact(torch, cell.recurrent_activation)
    # the stack in the case's dtype too (RNN's own StackedRNNCells would cast to float32)
    cell = keras.layers.StackedRNNCells(made, dtype=dtype) if len(made) > 1 else made[0]
    layer = keras.layers.RNN(cell, **kw, dtype=dtype)
    layer.build((None, *shape[1:]))
    weights = weight_values(name, [tuple(w.shape) for w in layer.weights], dtype)
    layer.set_weights(weights)
    x = torch.from_numpy(arrays["x"]).requires_grad_(True)
    call = {"training": True}
    if "mask" in arrays:
        call["mask"] = torch.from_numpy(arrays["mask"])
    s0 = [torch.from_numpy(arrays[k]).requires_grad_(True) for k in sorted(arrays) if k.startswith("s0/")]
    if s0:
        nested, at = [], 0
        for part in state_sizes(cells):
            nested.append(s0[at : at + len(part)])
            at += len(part)
        call["initial_state"] = nested if len(cells) > 1 else nested[0]
    out = layer(x, **call)
    if kw.get("return_state"):
        y, *states = out
        states = [s for part in states for s in (part if isinstance(part, (list, tuple)) else [part])]
    else:
        y, states = out, []
    rng = np.random.default_rng(layer_golden._seed(name) + 2)
    dy = rng.standard_normal(tuple(y.shape)).astype(dtype)
    ds = [rng.standard_normal(tuple(s.shape)).astype(dtype) for s in states]
    loss = (y * torch.from_numpy(dy)).sum()
    for s, d in zip(states, ds, strict=True):
        loss = loss + (s * torch.from_numpy(d)).sum()
    loss.backward()
    result = dict(arrays)
    for k, w in enumerate(weights):
        result[f"w/{k}"] = w
    result["dy"] = dy
    for k, d in enumerate(ds):
        result[f"ds/{k}"] = d
    result["y"] = y.detach().numpy().copy()
    for k, s in enumerate(states):
        result[f"s/{k}"] = s.detach().numpy().copy()
    result["dx"] = x.grad.numpy().copy()
    for k, v in enumerate(layer.weights):
        result[f"d/{k}"] = v.value.grad.numpy().copy()
    for k, s in enumerate(s0):
        result[f"ds0/{k}"] = s.grad.numpy().copy()
    return result


def unpack(data, name: str, dtype: str) -> dict:
    """The arrays of case ``name`` in ``dtype`` from the golden file ``data`` (``np.load``)."""
    return layer_golden.unpack(data, name, dtype, lambda key: not key.startswith(COMPUTED))


def main() -> None:
    keras = layer_golden.keras_on_torch("make_rnn_cell_golden.py")
    specs = {
        name: dict(zip(("cells", "kwargs", "shape", "mask", "initial"), case, strict=True))
        | {"shape": list(case[2])}
        for name, case in CASES.items()
    }
    results = layer_golden.run_cases(keras, specs, keras_case, lambda k: k.startswith(COMPUTED))
    layer_golden.write(PATH, FORMAT_VERSION, keras, specs, results)


if __name__ == "__main__":
    main()

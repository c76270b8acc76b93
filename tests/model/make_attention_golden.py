"""Write tests/model/data/keras_attention.npz from Keras 3. Run by hand, never in CI.

    KERAS_BACKEND=torch python tests/model/make_attention_golden.py

Keras's ``Attention``, ``AdditiveAttention``, ``MultiHeadAttention`` and ``Dot`` on drawn queries,
values and keys, with masks and the call arguments ``use_causal_mask`` and
``return_attention_scores``: what tests/model/test_attention.py holds lstmcore's to. Needs keras 3
and torch (Keras on its torch backend, which this script sets) and never imports lstmcore; the
test file imports ``CASES`` and ``keras_case`` to compare against a live Keras where one is
installed.

For each case and dtype (float64, float32): the layer made with the case's arguments, built for
the inputs' shapes, its weights drawn from a fixed NumPy seed (uniform on [0.5, 1.5)) and set with
``set_weights``, called with ``training=True`` (no case has dropout); the gradients of
``sum(out * dy) (+ sum(scores * ds))`` with respect to every input and weight, by torch autograd
(``make_layer_golden.float64_kept`` keeps Keras's float64 in float64).

File layout: ``make_layer_golden``'s (``pack``). Keys: ``x/<k>`` (query, value, key), ``mask/<k>``
(the inputs' masks, 0/1, where the case has them), ``w/<name>`` (the weight's path in the layer),
``dy``, ``ds`` (with scores), ``y``, ``scores``, ``dx/<k>``, ``d/<name>``; float32 stores only what
it computes (``y``, ``scores``, ``dx/``, ``d/``), ``unpack`` adds the rest, rounded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_layer_golden as layer_golden  # noqa: E402 - beside this script

FORMAT_VERSION = 1
PATH = Path(__file__).resolve().parent / "data" / "keras_attention.npz"
DTYPES = ("float64", "float32")
COMPUTED = ("y", "scores", "dx/", "d/")

# name: (class, arguments, shapes of query, value (and key), masks, call arguments)
CASES = {
    "dot": ("Attention", {}, [(2, 4, 3), (2, 5, 3)], False, {}),
    "dot_key_masked": ("Attention", {}, [(3, 4, 3), (3, 5, 2), (3, 5, 3)], True, {}),
    "dot_scale_causal_scores": (
        "Attention",
        {"use_scale": True},
        [(3, 5, 3), (3, 5, 3)],
        True,
        {"use_causal_mask": True, "return_attention_scores": True},
    ),
    "concat": ("Attention", {"score_mode": "concat"}, [(3, 4, 3), (3, 5, 3)], True, {}),
    "concat_scale_key_causal_scores": (
        "Attention",
        {"score_mode": "concat", "use_scale": True},
        [(2, 4, 3), (2, 6, 2), (2, 6, 3)],
        False,
        {"use_causal_mask": True, "return_attention_scores": True},
    ),
    "additive": ("AdditiveAttention", {}, [(3, 4, 3), (3, 5, 3)], True, {}),
    "additive_noscale_key_causal_scores": (
        "AdditiveAttention",
        {"use_scale": False},
        [(3, 5, 2), (3, 5, 4), (3, 5, 2)],
        True,
        {"use_causal_mask": True, "return_attention_scores": True},
    ),
    # MultiHeadAttention, called as Keras's mha(query, value, key=...): its masks from the query's
    # Keras mask and value_mask/key_mask; "value" masks the value (and key) only. Keras's fused
    # path (no dropout, no scores returned) treats a query step with no key left differently
    # from its explicit one (see layers/attention.py): the cases without scores have none.
    "mha": ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, [(2, 4, 6), (2, 5, 6)], False, {}),
    "mha_value_masked": (
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 2},
        [(3, 4, 3), (3, 5, 3)],
        "value",
        {},
    ),
    "mha_dims_key_masked_causal_scores": (
        "MultiHeadAttention",
        {"num_heads": 3, "key_dim": 2, "value_dim": 4, "output_shape": 5},
        [(3, 4, 6), (3, 5, 3), (3, 5, 4)],
        True,
        {"use_causal_mask": True, "return_attention_scores": True},
    ),
    "mha_nobias_masked_scores": (
        "MultiHeadAttention",
        {"num_heads": 1, "key_dim": 4, "use_bias": False},
        [(3, 5, 4), (3, 5, 4)],
        True,
        {"return_attention_scores": True},
    ),
    # Dot, the product of Luong attention built by hand (scores, then the context), and its other
    # axes, ranks and normalize (the cosine)
    "dot_luong_scores": ("Dot", {"axes": [2, 2]}, [(2, 4, 3), (2, 5, 3)], False, {}),
    "dot_luong_context": ("Dot", {"axes": [2, 1]}, [(2, 4, 5), (2, 5, 3)], False, {}),
    "dot_vectors_normalize": ("Dot", {"axes": 1, "normalize": True}, [(3, 4), (3, 4)], False, {}),
    "dot_cosine_steps": ("Dot", {"axes": -1, "normalize": True}, [(2, 4, 3), (2, 5, 3)], False, {}),
    "dot_mixed_ranks": ("Dot", {"axes": [1, 2]}, [(2, 3), (2, 4, 3)], False, {}),
    "dot_time_axis_rank4": ("Dot", {"axes": 1}, [(2, 5, 3), (2, 5, 2, 2)], False, {}),
}


def case_arrays(name: str, dtype: str) -> dict:
    """A case's inputs: x/0.. and, where the case has them, the query's and value's masks (a
    masked step at the end of row 0, at the start of row 1, inside row 2; none all masked)."""
    cls, kw, shapes, masked, call = CASES[name]
    rng = np.random.default_rng(layer_golden._seed(name))
    out = {f"x/{k}": rng.standard_normal(s).astype(dtype) for k, s in enumerate(shapes)}
    if masked:
        for k in range(len(shapes) if cls == "MultiHeadAttention" else 2):
            if masked == "value" and k == 0:
                continue
            B, T = shapes[k][:2]
            m = np.ones((B, T), dtype=bool)
            m[0, -1] = False
            m[1 % B, 0] = False
            m[2 % B, 2] = False
            out[f"mask/{k}"] = m
    return out


def keras_case(keras, name: str, dtype: str) -> dict:
    import torch

    cls, kw, shapes, masked, call = CASES[name]
    arrays = case_arrays(name, dtype)
    from keras.src import backend

    layer = getattr(keras.layers, cls)(**kw, dtype=dtype)
    mha = cls == "MultiHeadAttention"
    if mha:
        layer.build(*[(None, *s[1:]) for s in shapes])
    else:
        layer.build([(None, *s[1:]) for s in shapes])
    names = ["/".join(w.path.split("/")[1:]) for w in layer.weights]  # scale, query/kernel, ...
    rng = np.random.default_rng(layer_golden._seed(name) + 1)
    weights = [rng.uniform(0.5, 1.5, tuple(w.shape)).astype(dtype) for w in layer.weights]
    layer.set_weights(weights)
    xs = [torch.from_numpy(arrays[f"x/{k}"]).requires_grad_(True) for k in range(len(shapes))]
    kwargs = {"training": True, **call}
    if mha:
        query = xs[0] * 1  # a tensor of its own to carry the query's Keras mask
        if "mask/0" in arrays:
            backend.set_keras_mask(query, torch.from_numpy(arrays["mask/0"]))
        for k, key in ((1, "value_mask"), (2, "key_mask")):
            if f"mask/{k}" in arrays:
                kwargs[key] = torch.from_numpy(arrays[f"mask/{k}"])
        if len(xs) == 3:
            kwargs["key"] = xs[2]
        out = layer(query, xs[1], **kwargs)
    else:
        if masked:
            kwargs["mask"] = [torch.from_numpy(arrays["mask/0"]), torch.from_numpy(arrays["mask/1"])]
        out = layer(xs, **kwargs)
    y, scores = out if call.get("return_attention_scores") else (out, None)
    rng = np.random.default_rng(layer_golden._seed(name) + 2)
    dy = rng.standard_normal(tuple(y.shape)).astype(dtype)
    loss = (y * torch.from_numpy(dy)).sum()
    result = dict(arrays)
    for n, w in zip(names, weights, strict=True):
        result[f"w/{n}"] = w
    result["dy"] = dy
    if scores is not None:
        ds = rng.standard_normal(tuple(scores.shape)).astype(dtype)
        loss = loss + (scores * torch.from_numpy(ds)).sum()
        result["ds"] = ds
    loss.backward()
    result["y"] = y.detach().numpy().copy()
    if scores is not None:
        result["scores"] = scores.detach().numpy().copy()
    for k, x in enumerate(xs):
        result[f"dx/{k}"] = x.grad.numpy().copy()
    for n, v in zip(names, layer.weights, strict=True):
        result[f"d/{n}"] = v.value.grad.numpy().copy()
    return result


def unpack(data, name: str, dtype: str) -> dict:
    """The arrays of case ``name`` in ``dtype`` from the golden file ``data`` (``np.load``)."""
    out = layer_golden.unpack(data, name, dtype, lambda key: not key.startswith(COMPUTED))
    return {k: v.astype(bool) if k.startswith("mask/") else v for k, v in out.items()}


def main() -> None:
    keras = layer_golden.keras_on_torch("make_attention_golden.py")
    specs = {
        name: {
            "class": case[0],
            "kwargs": case[1],
            "shapes": [list(s) for s in case[2]],
            "masked": case[3],
            "call": case[4],
        }
        for name, case in CASES.items()
    }
    results = layer_golden.run_cases(keras, specs, keras_case, lambda k: k.startswith(COMPUTED))
    layer_golden.write(PATH, FORMAT_VERSION, keras, specs, results)


if __name__ == "__main__":
    main()

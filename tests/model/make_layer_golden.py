"""Write tests/model/data/keras_more_layers.npz from Keras 3. Run by hand, never in CI.

    KERAS_BACKEND=torch python tests/model/make_layer_golden.py

It needs keras 3 and torch (Keras runs on its torch backend, which this script sets) and never
imports lstmcore: the file holds what Keras computes, and tests/model/test_more_layers.py checks
lstmcore's layers against it with NumPy only. The same test file imports ``CASES`` and
``keras_case`` from here to compare against a live Keras where one is installed.

For each case of ``CASES`` and each dtype (float64, float32): the Keras layer made with the case's
arguments, its weights drawn from a fixed NumPy seed and set with ``set_weights``, called on x
(with the case's mask and ``training``); the gradients of ``sum(y * dy)`` with respect to x and to
each weight Keras trains, by torch autograd (hard_sigmoid's derivative made exact in float64, as
tests/io/make_golden.py does); for BatchNormalization in training, the moving
statistics after the call. Keras 3 (3.15 at least) computes float64 layers partly in float32 (its
type promotion maps float64 to float32, as JAX does without x64: LayerNormalization,
BatchNormalization and the mean of GlobalAveragePooling1D lose digits at 1e-8); ``float64_kept``
turns that off while the float64 cases run (checked: the outputs then agree with float64 maths).

File layout (small: a zip entry and an npy header each cost more than one of these small
arrays, so all the numbers of one dtype are one array; JSON is stored as UTF-8 bytes):
``format_version`` (1), ``keras_version``, ``cases`` (JSON: each case's ``CASES`` entry);
``float64`` and ``float32``, every case's arrays raveled one after the other in that dtype, and
``float64_index``, ``float32_index`` (JSON: for each case, its ``[key, shape]`` in that order);
``unpack`` gives one case back as a dict. The float64 keys: ``x``, ``mask`` (where the case has
one; stored as 0/1), ``w/<weight name>`` in Keras's order, ``y``, ``dy``, ``dx``, ``d/<weight
name>`` (the weights Keras trains), and for BatchNormalization in training
``moving_mean``/``moving_variance`` after the call. The float32 keys are only those computed
(``FLOAT32_KEYS``): its inputs, weights and dy are the float64 ones rounded to float32 (each is
drawn in float64 and cast), and ``unpack`` adds them.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
PATH = Path(__file__).resolve().parent / "data" / "keras_more_layers.npz"
DTYPES = ("float64", "float32")
FLOAT32_KEYS = ("y", "dx", "moving_mean", "moving_variance")  # what float32 stores (the rest: rounded)

# name: (layer, arguments, input shape with the batch axis, mask, training). Masks: "holes" is a
# fixed (B, T) pattern with masked steps inside and at the ends of the rows, none all masked; a
# mask of GlobalMaxPooling1D goes to lstmcore only (Keras's call takes none: in a Keras model the
# mask stops there, unused). AveragePooling1D "same" is drawn only where the padding is even on
# both sides or one step on the right: there Keras's torch backend agrees with its other backends
# (see test_average_pooling_same_excludes_the_padding).
_CONV = {"filters": 4, "activation": "tanh"}
CASES = {
    "repeat_vector": ("RepeatVector", {"n": 3}, (2, 4), None, True),
    "flatten": ("Flatten", {}, (2, 3, 4), None, True),
    "flatten_channels_first": ("Flatten", {"data_format": "channels_first"}, (2, 3, 4, 2), None, True),
    "reshape": ("Reshape", {"target_shape": [2, -1]}, (2, 3, 4), None, True),
    "reshape_3d": ("Reshape", {"target_shape": [3, 2, 2]}, (2, 12), None, True),
    **{
        f"activation_{a}": ("Activation", {"activation": a}, (2, 3, 4), None, True)
        for a in ("linear", "relu", "sigmoid", "tanh", "hard_sigmoid", "softplus", "elu", "softmax")
    },
    "gap": ("GlobalAveragePooling1D", {}, (2, 5, 3), None, True),
    "gap_keepdims_cf": (
        "GlobalAveragePooling1D",
        {"keepdims": True, "data_format": "channels_first"},
        (2, 5, 3),
        None,
        True,
    ),
    "gap_masked": ("GlobalAveragePooling1D", {}, (3, 5, 2), "holes", True),
    "gmp": ("GlobalMaxPooling1D", {}, (2, 5, 3), None, True),
    "gmp_keepdims_cf": (
        "GlobalMaxPooling1D",
        {"keepdims": True, "data_format": "channels_first"},
        (2, 3, 5),
        None,
        True,
    ),
    "gmp_masked": ("GlobalMaxPooling1D", {}, (3, 5, 2), "holes", True),
    "maxpool": ("MaxPooling1D", {}, (2, 7, 3), None, True),
    "maxpool_3_1": ("MaxPooling1D", {"pool_size": 3, "strides": 1}, (2, 7, 3), None, True),
    "maxpool_same_4_1": (
        "MaxPooling1D",
        {"pool_size": 4, "strides": 1, "padding": "same"},
        (2, 7, 3),
        None,
        True,
    ),
    "maxpool_same_3_2_cf": (
        "MaxPooling1D",
        {"pool_size": 3, "strides": 2, "padding": "same", "data_format": "channels_first"},
        (2, 3, 7),
        None,
        True,
    ),
    "avgpool": ("AveragePooling1D", {"pool_size": 2}, (2, 7, 3), None, True),
    "avgpool_3_1": ("AveragePooling1D", {"pool_size": 3, "strides": 1}, (2, 7, 3), None, True),
    "avgpool_same_2_1": (
        "AveragePooling1D",
        {"pool_size": 2, "strides": 1, "padding": "same"},
        (2, 7, 3),
        None,
        True,
    ),
    "avgpool_same_3_2": (
        "AveragePooling1D",
        {"pool_size": 3, "strides": 2, "padding": "same"},
        (2, 7, 3),
        None,
        True,
    ),
    "layer_norm": ("LayerNormalization", {}, (2, 5, 3), None, True),
    "layer_norm_2d": ("LayerNormalization", {"epsilon": 0.1}, (4, 6), None, True),
    "layer_norm_axes_12": ("LayerNormalization", {"axis": [1, 2], "center": False}, (2, 5, 3), None, True),
    "layer_norm_noscale": ("LayerNormalization", {"scale": False}, (2, 5, 3), None, True),
    "batch_norm_inference": ("BatchNormalization", {}, (4, 5, 3), None, False),
    "batch_norm": ("BatchNormalization", {}, (4, 5, 3), None, True),
    "batch_norm_2d": ("BatchNormalization", {"momentum": 0.9, "center": False}, (6, 3), None, True),
    "batch_norm_axis1": ("BatchNormalization", {"axis": 1, "scale": False}, (4, 5, 3), None, True),
    "batch_norm_masked": ("BatchNormalization", {"epsilon": 0.01}, (3, 5, 2), "holes", True),
    "batch_norm_frozen": ("BatchNormalization", {"trainable": False}, (4, 5, 3), None, True),
    "conv": ("Conv1D", {**_CONV, "kernel_size": 3}, (2, 7, 4), None, True),
    "conv_same_s2": (
        "Conv1D",
        {**_CONV, "kernel_size": 3, "strides": 2, "padding": "same"},
        (2, 7, 4),
        None,
        True,
    ),
    "conv_same_k2": ("Conv1D", {**_CONV, "kernel_size": 2, "padding": "same"}, (2, 7, 4), None, True),
    "conv_same_d2": (
        "Conv1D",
        {**_CONV, "kernel_size": 4, "padding": "same", "dilation_rate": 2},
        (2, 7, 4),
        None,
        True,
    ),
    "conv_causal_d2": (
        "Conv1D",
        {**_CONV, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
        (2, 7, 4),
        None,
        True,
    ),
    "conv_causal_s2": (
        "Conv1D",
        {**_CONV, "kernel_size": 3, "strides": 2, "padding": "causal"},
        (2, 7, 4),
        None,
        True,
    ),
    "conv_groups": (
        "Conv1D",
        {"filters": 6, "kernel_size": 2, "groups": 2, "activation": "relu"},
        (2, 6, 4),
        None,
        True,
    ),
    "conv_cf_nobias": (
        "Conv1D",
        {"filters": 3, "kernel_size": 3, "data_format": "channels_first", "use_bias": False},
        (2, 4, 7),
        None,
        True,
    ),
    "conv_k1": ("Conv1D", {"filters": 2, "kernel_size": 1, "activation": "sigmoid"}, (3, 1, 5), None, True),
    "conv_transpose": ("Conv1DTranspose", {**_CONV, "filters": 3, "kernel_size": 3}, (2, 5, 4), None, True),
    "conv_transpose_same_s2": (
        "Conv1DTranspose",
        {**_CONV, "kernel_size": 3, "strides": 2, "padding": "same"},
        (2, 5, 3),
        None,
        True,
    ),
    "conv_transpose_same_s3_op1": (  # an even kernel: the cropped padding split unevenly
        "Conv1DTranspose",
        {"filters": 2, "kernel_size": 4, "strides": 3, "padding": "same", "output_padding": 1},
        (2, 4, 3),
        None,
        True,
    ),
    "conv_transpose_valid_s3_k2": (  # strides past the kernel: zeros between the taps and at the end
        "Conv1DTranspose",
        {"filters": 3, "kernel_size": 2, "strides": 3, "activation": "relu"},
        (2, 4, 2),
        None,
        True,
    ),
    "conv_transpose_valid_op1": (
        "Conv1DTranspose",
        {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1, "activation": "sigmoid"},
        (3, 3, 2),
        None,
        True,
    ),
    "conv_transpose_dilated_cf_nobias": (
        "Conv1DTranspose",
        {
            "filters": 3,
            "kernel_size": 3,
            "dilation_rate": 2,
            "padding": "same",
            "data_format": "channels_first",
            "use_bias": False,
        },
        (2, 4, 6),
        None,
        True,
    ),
    # activation layers with arguments; the regularization layers (identities outside training)
    "relu": ("ReLU", {}, (2, 3, 4), None, True),
    "relu_all": ("ReLU", {"max_value": 0.8, "negative_slope": 0.1, "threshold": 0.3}, (2, 3, 4), None, True),
    "relu_max": ("ReLU", {"max_value": 0.5}, (2, 3, 4), None, True),
    "leaky_relu": ("LeakyReLU", {}, (2, 3, 4), None, True),
    "leaky_relu_slope": ("LeakyReLU", {"negative_slope": 0.05}, (2, 3, 4), None, True),
    "elu": ("ELU", {}, (2, 3, 4), None, True),
    "elu_alpha": ("ELU", {"alpha": 0.4}, (2, 3, 4), None, True),
    "softmax": ("Softmax", {}, (2, 3, 4), None, True),
    "softmax_axis1": ("Softmax", {"axis": 1}, (2, 3, 4), None, True),
    "softmax_axes": ("Softmax", {"axis": [1, 2]}, (2, 3, 4), None, True),
    "softmax_masked": ("Softmax", {}, (3, 5), "holes", True),  # scores over steps, masked steps
    "spatial_dropout": ("SpatialDropout1D", {"rate": 0.5}, (2, 3, 4), None, False),
    "gaussian_noise": ("GaussianNoise", {"stddev": 0.5}, (2, 3, 4), None, False),
    "gaussian_dropout": ("GaussianDropout", {"rate": 0.3}, (2, 3, 4), None, False),
    "activity_regularization": ("ActivityRegularization", {"l1": 0.1, "l2": 0.2}, (2, 3, 4), None, True),
    "prelu": ("PReLU", {}, (2, 3, 4), None, True),
    "prelu_shared": ("PReLU", {"shared_axes": [1]}, (2, 3, 4), None, True),
    "identity": ("Identity", {}, (2, 3, 4), None, True),
    "permute": ("Permute", {"dims": [2, 1]}, (2, 3, 4), None, True),
    "permute_3": ("Permute", {"dims": [3, 1, 2]}, (2, 3, 4, 2), None, True),
    "zero_padding": ("ZeroPadding1D", {}, (2, 3, 4), None, True),
    "zero_padding_cf": (
        "ZeroPadding1D",
        {"padding": [2, 0], "data_format": "channels_first"},
        (2, 3, 4),
        None,
        True,
    ),
    "cropping": ("Cropping1D", {}, (2, 5, 3), None, True),
    "cropping_2_0": ("Cropping1D", {"cropping": [2, 0]}, (2, 5, 3), None, True),
    "up_sampling": ("UpSampling1D", {"size": 3}, (2, 3, 4), None, True),
}


def case_arrays(name: str, dtype: str) -> dict:
    """The inputs of a case: x and, where the case has one, the mask (B, T)."""
    cls, kw, shape, mask, training = CASES[name]
    rng = np.random.default_rng(_seed(name))
    out = {"x": rng.standard_normal(shape).astype(dtype)}
    if mask == "holes":
        B, T = shape[0], shape[1]
        m = np.ones((B, T), dtype=bool)
        m[0, -2:] = False  # post-padding
        m[1 % B, 0] = False  # pre-padding
        m[2 % B, 2] = False  # a hole
        out["mask"] = m
    return out


def _seed(name: str) -> int:
    return sum((k + 1) * ord(c) for k, c in enumerate(name))  # stable across runs, unlike hash()


def weight_values(name: str, weight_names, shapes, dtype: str) -> list:
    """Weights for a case at scale 0.5 (moving variances in [0.5, 1.5]), from the case's seed."""
    rng = np.random.default_rng(_seed(name) + 1)
    out = []
    for n, s in zip(weight_names, shapes, strict=True):
        if n == "moving_variance":
            out.append(rng.uniform(0.5, 1.5, s).astype(dtype))
        elif n == "gamma":
            out.append((1 + 0.3 * rng.standard_normal(s)).astype(dtype))
        else:
            out.append((0.5 * rng.standard_normal(s)).astype(dtype))
    return out


@contextlib.contextmanager
def float64_kept():
    """Keras's type promotion without its float64 -> float32 rule, for the time of the block."""
    from keras.src.backend.common import dtypes

    table = dtypes.BIT64_TO_BIT32_DTYPE
    saved = table.pop("float64", None)
    try:
        yield
    finally:
        if saved is not None:
            table["float64"] = saved


def _exact_hard_sigmoid_grad(torch, fn):
    """Keras's hard_sigmoid forward ``fn`` with the exact derivative 1/6 on (-3, 3): torch's CPU
    hardsigmoid backward multiplies by 1/6 rounded to float32 even in float64 (a relative error of
    3e-8 in float64 gradients; tests/io/make_golden.py does the same)."""

    class ExactGrad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return fn(x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * ((x > -3) & (x < 3)).to(grad.dtype) / 6

    return ExactGrad.apply


def keras_case(keras, name: str, dtype: str) -> dict:
    """Run Keras on a case: the arrays described in the module docstring (without the prefix)."""
    import torch

    cls, kw, shape, mask_kind, training = CASES[name]
    arrays = case_arrays(name, dtype)
    layer = getattr(keras.layers, cls)(**kw, dtype=dtype)
    if kw.get("activation") == "hard_sigmoid" and dtype == "float64":
        layer.activation = _exact_hard_sigmoid_grad(torch, layer.activation)
    if not layer.built:
        layer.build((None, *shape[1:]))
    names = [w.path.rsplit("/", 1)[-1] for w in layer.weights]
    weights = weight_values(name, names, [tuple(w.shape) for w in layer.weights], dtype)
    layer.set_weights(weights)
    x = torch.from_numpy(arrays["x"]).requires_grad_(True)
    call = {"training": True} if training else {}
    if "mask" in arrays and cls != "GlobalMaxPooling1D":
        call["mask"] = torch.from_numpy(arrays["mask"])
    y = layer(x, **call)
    dy = np.random.default_rng(_seed(name) + 2).standard_normal(tuple(y.shape)).astype(dtype)
    (y * torch.from_numpy(dy)).sum().backward()
    out = {**arrays, "y": y.detach().numpy().copy(), "dy": dy, "dx": x.grad.numpy().copy()}
    for n, w, v in zip(names, weights, layer.weights, strict=True):
        out[f"w/{n}"] = w
        grad = getattr(v.value, "grad", None)
        if grad is not None:
            out[f"d/{n}"] = grad.numpy().copy()
    if cls == "BatchNormalization" and training:
        out["moving_mean"] = layer.moving_mean.value.detach().numpy().copy()
        out["moving_variance"] = layer.moving_variance.value.detach().numpy().copy()
    return out


def pack(cases: dict, dtype: str) -> tuple[np.ndarray, bytes]:
    """The arrays of every case ({case: {key: array}}) as one flat array of ``dtype``, and the JSON
    index of the pieces."""
    index = {name: [[key, list(np.shape(v))] for key, v in arrays.items()] for name, arrays in cases.items()}
    flat = [np.asarray(v, dtype=dtype).ravel() for arrays in cases.values() for v in arrays.values()]
    return np.concatenate(flat), json.dumps(index).encode()


def _is_input(key: str) -> bool:
    return key in ("x", "mask", "dy") or key.startswith("w/")


def unpack(data, name: str, dtype: str, is_input=_is_input) -> dict:
    """The arrays of case ``name`` in ``dtype`` from the golden file ``data`` (``np.load``); a
    dtype other than float64 gets the inputs (``is_input(key)``) from float64's, rounded."""
    flat, out, at = data[dtype], {}, 0
    for case, pieces in json.loads(data[f"{dtype}_index"].item().decode()).items():
        for key, shape in pieces:
            size = int(np.prod(shape, dtype=np.int64))
            if case == name:
                value = flat[at : at + size].reshape(shape)
                out[key] = value.astype(bool) if key == "mask" else value
            at += size
    if dtype != "float64":
        for key, value in unpack(data, name, "float64", is_input).items():
            if is_input(key):
                out[key] = value if key == "mask" else value.astype(dtype)
    return out


def keras_on_torch(script: str):
    """Keras 3 on its torch backend (set here, before keras is imported), torch seeded; exits
    saying what is missing otherwise."""
    os.environ["KERAS_BACKEND"] = "torch"
    try:
        import keras
        import torch
    except ImportError as exc:  # pragma: no cover - a by-hand script
        sys.exit(f"{script} needs keras 3 and torch ({exc})")
    if int(keras.__version__.split(".")[0]) < 3 or keras.backend.backend() != "torch":
        sys.exit(f"needs Keras 3 on its torch backend, got {keras.__version__} on {keras.backend.backend()}")
    torch.manual_seed(0)
    return keras


def run_cases(keras, specs: dict, keras_case, computed) -> dict:
    """{dtype: {case: arrays}} of ``keras_case(keras, name, dtype)`` for each case of ``specs``,
    float64 with Keras's float64 kept; the other dtypes keep only the keys ``computed(key)``."""
    results = {dtype: {} for dtype in DTYPES}
    for name in specs:
        for dtype in DTYPES:
            with float64_kept() if dtype == "float64" else contextlib.nullcontext():
                case = keras_case(keras, name, dtype)
            if dtype != "float64":
                case = {k: v for k, v in case.items() if computed(k)}
            results[dtype][name] = case
    return results


def write(path: Path, version: int, keras, specs: dict, results: dict) -> None:
    """The golden file: the cases' specs and, per dtype, every case's arrays packed (``pack``)."""
    arrays = {
        "format_version": np.array(version),
        "keras_version": np.array(keras.__version__.encode()),
        "cases": np.array(json.dumps(specs).encode()),
    }
    for dtype, cases in results.items():
        flat, index = pack(cases, dtype)
        arrays[dtype], arrays[f"{dtype}_index"] = flat, np.array(index)
    path.parent.mkdir(exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({path.stat().st_size} bytes, {len(specs)} cases x {len(results)} dtypes)")


def main() -> None:
    keras = keras_on_torch("make_layer_golden.py")
    specs = {
        name: {"class": cls, "kwargs": kw, "shape": list(shape), "mask": mask, "training": training}
        for name, (cls, kw, shape, mask, training) in CASES.items()
    }
    results = run_cases(keras, specs, keras_case, lambda k: k in FLOAT32_KEYS)
    write(PATH, FORMAT_VERSION, keras, specs, results)


if __name__ == "__main__":
    main()

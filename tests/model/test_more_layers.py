"""The layers of reshaping.py, pooling.py, normalization.py and conv.py against Keras 3: the golden
file of make_layer_golden.py (always), a live Keras where one is installed (KERAS_BACKEND=torch),
finite differences for every gradient, independent NumPy references, configs, models that train,
save and load, masks, streaming steps and bad arguments.

Where lstmcore departs from Keras's torch backend on purpose (the tests say so):
- AveragePooling1D(padding="same") with padding uneven on the two sides: lstmcore averages over the
  real steps only, as Keras's TensorFlow, JAX and NumPy backends; Keras's torch backend pads by
  repeating the edge steps and counts them (1.75 instead of 2.0 for the first window below).
- LayerNormalization over axes that are not the last ones: Keras's torch backend raises (it hands
  them to torch's layer_norm, which takes trailing axes only); lstmcore computes the statistics
  over the given axes, as Keras's other backends.
- Keras 3 computes LayerNormalization, BatchNormalization and GlobalAveragePooling1D of float64
  inputs partly in float32 (its type promotion maps float64 to float32); lstmcore stays float64.
  The float64 comparisons switch that rule off (make_layer_golden.float64_kept).
"""

from __future__ import annotations

import contextlib
import inspect
import json
from pathlib import Path

import make_layer_golden as golden
import numpy as np
import pytest
from helpers import assert_close, check_grad

from lstmcore import Sequential, layers, load_model, set_random_seed
from lstmcore.layers import (
    ELU,
    LSTM,
    Activation,
    ActivityRegularization,
    AveragePooling1D,
    BatchNormalization,
    Conv1D,
    Conv1DTranspose,
    Cropping1D,
    Dense,
    Flatten,
    GaussianDropout,
    GaussianNoise,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Identity,
    LayerNormalization,
    LeakyReLU,
    Masking,
    MaxPooling1D,
    Permute,
    PReLU,
    ReLU,
    RepeatVector,
    Reshape,
    Softmax,
    SpatialDropout1D,
    UpSampling1D,
    ZeroPadding1D,
)
from lstmcore.params import ParameterBuffer

DATA = np.load(Path(__file__).resolve().parent / "data" / "keras_more_layers.npz")
SPECS = json.loads(DATA["cases"].item().decode())
CASES = list(golden.CASES)
NEW_LAYERS = (
    RepeatVector,
    Flatten,
    Reshape,
    Activation,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
    AveragePooling1D,
    LayerNormalization,
    BatchNormalization,
    Conv1D,
    Conv1DTranspose,
    ReLU,
    LeakyReLU,
    ELU,
    Softmax,
    SpatialDropout1D,
    GaussianNoise,
    GaussianDropout,
    ActivityRegularization,
    PReLU,
    Identity,
    Permute,
    ZeroPadding1D,
    Cropping1D,
    UpSampling1D,
)


def make(cls, kw: dict, shape, dtype, weights: dict | None = None):
    """A layer built for inputs ``shape`` (batch included), bound to its own buffer, with
    ``weights`` (by name) or its initializers' values."""
    layer = (getattr(layers, cls) if isinstance(cls, str) else cls)(**kw)
    layer.build(tuple(shape[1:]))
    specs = layer.weight_specs(layer.build_shape)
    buffer = ParameterBuffer([(n, s) for n, s, _ in specs], np.dtype(dtype))
    layer.bind(buffer, "")
    rng = np.random.default_rng(1)
    for n, s, init in specs:
        layer.params[n][...] = (
            weights[n] if weights is not None else layer._initial_value(n, s, init, rng, dtype)
        )
    return layer


def run(layer, c: dict, training: bool):
    """Forward on case arrays ``c`` (x, mask) and, in training, backward of ``dy``: y, dx."""
    kw = {"mask": c["mask"]} if "mask" in c else {}
    y = layer.forward(c["x"], training=training, **kw)
    dx = layer.backward(c["dy"]) if training else None
    return y, dx


def check_case(name: str, dtype: str, c: dict) -> None:
    """lstmcore's layer on a case's inputs and Keras's weights against Keras's arrays ``c``."""
    spec = SPECS[name]
    weights = {k[2:]: v for k, v in c.items() if k.startswith("w/")}
    layer = make(spec["class"], spec["kwargs"], spec["shape"], dtype, weights)
    assert [n for n, _, _ in layer.weight_specs(layer.build_shape)] == list(weights), "weight names/order"
    y, dx = run(layer, c, spec["training"])
    assert y.dtype == np.dtype(dtype)
    assert y.shape == (c["x"].shape[0], *layer.output_shape(layer.build_shape))
    assert_close(y, c["y"], dtype, f"{name} y")
    if not spec["training"]:
        return
    assert dx.dtype == np.dtype(dtype)
    assert_close(dx, c["dx"], dtype, f"{name} dx", scale=10)
    for key in c:
        if key.startswith("d/"):
            assert_close(layer.grads[key[2:]], c[key], dtype, f"{name} {key}", scale=10)
    for key in ("moving_mean", "moving_variance"):
        if key in c:
            assert_close(layer.params[key], c[key], dtype, f"{name} {key}")


# Keras's numbers: the golden file (always) and a live Keras -----------------------------------------


def test_golden_file_covers_every_case():
    assert int(DATA["format_version"]) == golden.FORMAT_VERSION
    assert list(SPECS) == CASES
    for name, (cls, kw, shape, mask, training) in golden.CASES.items():
        assert SPECS[name] == {
            "class": cls,
            "kwargs": kw,
            "shape": list(shape),
            "mask": mask,
            "training": training,
        }
    assert {SPECS[n]["class"] for n in CASES} == {cls.__name__ for cls in NEW_LAYERS}


@pytest.mark.parametrize("dtype", golden.DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_matches_keras_golden(name, dtype):
    check_case(name, dtype, golden.unpack(DATA, name, dtype))


@pytest.mark.parametrize("dtype", golden.DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_matches_keras_live(keras, name, dtype):
    with golden.float64_kept() if dtype == "float64" else contextlib.nullcontext():
        c = golden.keras_case(keras, name, dtype)
    check_case(name, dtype, c)


@pytest.mark.parametrize("cls", NEW_LAYERS, ids=lambda c: c.__name__)
def test_arguments_and_defaults_are_keras(keras, cls):
    """Every argument lstmcore takes is Keras's, with Keras's default (LayerNormalization's
    deprecated rms_scaling is one Keras takes through **kwargs, default False)."""
    ours = inspect.signature(cls.__init__).parameters
    theirs = inspect.signature(getattr(keras.layers, cls.__name__).__init__).parameters
    for name, p in ours.items():
        if name in ("self", "kwargs") or (cls is LayerNormalization and name == "rms_scaling"):
            continue
        assert name in theirs, f"{cls.__name__}: {name} is not a Keras argument"
        assert p.default == theirs[name].default, (cls.__name__, name, p.default, theirs[name].default)


@pytest.mark.parametrize("name", CASES)
def test_config_matches_keras(keras, name):
    spec = SPECS[name]
    ours = getattr(layers, spec["class"])(**spec["kwargs"]).get_config()
    theirs = getattr(keras.layers, spec["class"])(**spec["kwargs"]).get_config()
    for key, value in ours.items():
        if key in ("name", "dtype") or key.endswith("_initializer"):
            continue
        want = theirs[key]
        assert json.loads(json.dumps(value)) == json.loads(json.dumps(want)), (key, value, want)


def test_global_average_pooling_of_an_all_masked_row_is_nan_as_keras(keras):
    x = np.arange(12.0).reshape(2, 3, 2)
    mask = np.array([[True, False, True], [False, False, False]])
    import torch

    x_t = torch.from_numpy(x).requires_grad_(True)
    want = keras.layers.GlobalAveragePooling1D(dtype="float64")(x_t, mask=torch.from_numpy(mask))
    want.sum().backward()
    layer = GlobalAveragePooling1D()
    with np.errstate(all="raise"):  # 0/0 without a floating-point warning
        got = layer(x, mask=mask, training=True)
        dx = layer.backward(np.ones_like(got))
    np.testing.assert_array_equal(got, want.detach().numpy())
    assert np.isnan(got[1]).all() and np.array_equal(got[0], [2.0, 3.0])
    np.testing.assert_array_equal(dx, x_t.grad.numpy())  # no gradient to the all-masked row
    assert not dx[1].any()


def test_global_max_pooling_ignores_a_mask_as_keras(keras):
    # In a Keras model, GlobalMaxPooling1D drops the mask with a warning and takes every step.
    import torch

    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    x[0, 3:] = 0.0
    with pytest.warns(UserWarning, match="does not support masking"):
        inp = keras.Input((5, 3))
        model = keras.Model(inp, keras.layers.GlobalMaxPooling1D()(keras.layers.Masking(0.0)(inp)))
        want = model(torch.from_numpy(x)).detach().numpy()
    mask = np.ones((2, 5), dtype=bool)
    mask[0, 3:] = False
    layer = GlobalMaxPooling1D()
    np.testing.assert_array_equal(layer(x, mask=mask), want)
    assert not layer.supports_masking and layer.compute_mask(x, mask) is None


# Finite differences ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in CASES if SPECS[n]["training"]])
def test_backward_by_finite_differences(name):
    """dx and every weight's gradient (the moving statistics have none) of sum(y * dy), float64."""
    spec = SPECS[name]
    c = golden.unpack(DATA, name, "float64")
    weights = {k[2:]: v.copy() for k, v in c.items() if k.startswith("w/")}
    layer = make(spec["class"], spec["kwargs"], spec["shape"], "float64", weights)
    x, dy = c["x"].copy(), c["dy"]
    kw = {"mask": c["mask"]} if "mask" in c else {}

    def loss():
        return float((layer.forward(x, training=True, **kw) * dy).sum())

    layer.forward(x, training=True, **kw)
    dx = layer.backward(dy)
    grads = {n: g.copy() for n, g in layer.grads.items()}
    check_grad(dx, loss, x, f"{name} dx")
    for n in grads:
        if n in layer.non_trainable_names:
            assert not grads[n].any(), n
        else:
            check_grad(grads[n], loss, layer.params[n], f"{name} d{n}")


@pytest.mark.parametrize(
    "cls, kw, shape",
    [
        (LayerNormalization, {"axis": 1}, (3, 4, 5)),
        (LayerNormalization, {"axis": [-3, -1]}, (2, 3, 2, 4)),
        (LayerNormalization, {"axis": (1, 2, 3), "epsilon": 0.5}, (2, 2, 3, 2)),
        (BatchNormalization, {"axis": 2}, (3, 2, 4, 2)),
        (BatchNormalization, {"axis": -2, "center": False, "scale": False}, (5, 3, 2)),
    ],
)
def test_normalization_over_other_axes(rng, cls, kw, shape):
    """Keras's maths over any axes (its JAX/TensorFlow path; its torch backend takes LayerNormalization
    over the trailing axes only), and the gradients by finite differences."""
    x = rng.standard_normal(shape)
    layer = make(cls, kw, shape, "float64")
    for n, w in layer.params.items():
        w[...] = rng.uniform(0.5, 1.5, w.shape) if n == "moving_variance" else rng.standard_normal(w.shape)
    y = layer.forward(x, training=True)
    nd = len(shape)
    axes = layer._axes(nd)
    stat_axes = axes if cls is LayerNormalization else tuple(a for a in range(nd) if a not in axes)
    mean, var = x.mean(axis=stat_axes, keepdims=True), x.var(axis=stat_axes, keepdims=True)
    want = (x - mean) / np.sqrt(var + layer.epsilon)
    bshape = [shape[a] if a in axes else 1 for a in range(nd)]
    if layer.scale:
        want = want * layer.params["gamma"].reshape(bshape)
    if layer.center:
        want = want + layer.params["beta"].reshape(bshape)
    assert_close(y, want, np.float64, "y")
    dy = rng.standard_normal(shape)
    dx = layer.backward(dy)
    grads = {n: g.copy() for n, g in layer.grads.items()}

    def loss():
        return float((layer.forward(x, training=True) * dy).sum())

    check_grad(dx, loss, x, "dx")
    for n in ("gamma", "beta"):
        if n in grads:
            check_grad(grads[n], loss, layer.params[n], "d" + n)


# Independent references -----------------------------------------------------------------------------


def _check_layer_grads(layer, x, dy, names) -> None:
    """dx and the gradients of weights ``names`` of sum(y * dy) by finite differences."""
    layer.forward(x, training=True)
    dx = layer.backward(dy)
    grads = {n: layer.grads[n].copy() for n in names}

    def loss():
        return float((layer.forward(x, training=True) * dy).sum())

    check_grad(dx, loss, x, "dx")
    for n in names:
        check_grad(grads[n], loss, layer.params[n], "d" + n)


def _pool_reference(x, mode, k, s, padding):
    """Pooling one window at a time over x (B, T, C), padding left out (TensorFlow's "same")."""
    B, T, C = x.shape
    if padding == "same":
        T_out = -(-T // s)
        left = max(0, (T_out - 1) * s + k - T) // 2
    else:
        T_out, left = (T - k) // s + 1, 0
    y = np.empty((B, T_out, C))
    for t in range(T_out):
        lo, hi = max(0, t * s - left), min(T, t * s - left + k)
        window = x[:, lo:hi]
        y[:, t] = window.max(axis=1) if mode == "max" else window.mean(axis=1)
    return y


@pytest.mark.parametrize("cls", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling_against_a_window_loop(rng, cls, padding):
    mode = "max" if cls is MaxPooling1D else "average"
    for T in (1, 2, 5, 8):
        for k in (1, 2, 3, 4):
            for s in (1, 2, 3, 5):
                if padding == "valid" and T < k:
                    continue
                x = rng.standard_normal((2, T, 3))
                layer = cls(pool_size=k, strides=s, padding=padding)
                y = layer(x, training=True)
                assert_close(y, _pool_reference(x, mode, k, s, padding), np.float64, f"T={T} k={k} s={s}")
                dy = rng.standard_normal(y.shape)
                _check_layer_grads(layer, x, dy, ())


def test_average_pooling_same_excludes_the_padding():
    x = np.arange(1.0, 8.0).reshape(1, 7, 1)
    y = AveragePooling1D(pool_size=4, strides=1, padding="same")(x)
    # windows [pad 1 2 3], [1 2 3 4], ..., [5 6 7 pad], [6 7 pad pad]: Keras's TF/JAX/NumPy backends
    # (its torch backend gives 1.75, ..., 6.25, 6.75: it repeats the edge steps into the padding)
    np.testing.assert_allclose(y.ravel(), [2.0, 2.5, 3.5, 4.5, 5.5, 6.0, 6.5])
    np.testing.assert_array_equal(MaxPooling1D(4, 1, "same")(x).ravel(), [3, 4, 5, 6, 7, 7, 7])


def _conv_reference(x, kernel, bias, s, padding, d, groups):
    """Conv1D output by output (channels last), before the activation."""
    B, T, I = x.shape
    k, Ig, F = kernel.shape
    span = d * (k - 1) + 1
    if padding == "same":
        T_out = -(-T // s)
        left = max(0, (T_out - 1) * s + span - T) // 2
    elif padding == "causal":
        T_out, left = (T - 1) // s + 1, span - 1
    else:
        T_out, left = (T - span) // s + 1, 0
    Fg = F // groups
    y = np.zeros((B, T_out, F))
    for t in range(T_out):
        for j in range(k):
            step = t * s + j * d - left
            if 0 <= step < T:
                for g in range(groups):
                    xs = x[:, step, g * Ig : (g + 1) * Ig]
                    y[:, t, g * Fg : (g + 1) * Fg] += xs @ kernel[j, :, g * Fg : (g + 1) * Fg]
    return y + (0 if bias is None else bias)


def test_conv1d_against_an_output_loop(rng):
    for T, I, F, k, s, d, padding, groups in [
        (7, 3, 2, 3, 1, 1, "valid", 1),
        (7, 3, 2, 3, 2, 1, "same", 1),
        (6, 4, 4, 2, 3, 1, "same", 2),
        (9, 2, 3, 3, 1, 3, "causal", 1),
        (5, 6, 6, 4, 1, 2, "same", 3),
        (1, 2, 2, 3, 1, 1, "causal", 2),
        (4, 1, 5, 4, 1, 1, "valid", 1),
        (8, 2, 1, 1, 4, 1, "valid", 1),
        (9, 5, 2, 3, 2, 1, "same", 1),  # fewer filters than inputs: dx by phases
        (7, 4, 1, 4, 3, 1, "valid", 1),
        (6, 3, 2, 3, 1, 2, "causal", 1),
    ]:
        x = rng.standard_normal((3, T, I))
        layer = Conv1D(F, k, strides=s, padding=padding, dilation_rate=d, groups=groups)
        y = layer(x, training=True)
        layer.params["bias"][...] = rng.standard_normal(F)
        want = _conv_reference(x, layer.params["kernel"], layer.params["bias"], s, padding, d, groups)
        # each forward (windows: one group) with each input gradient
        for plan in (None, "im2col") + (("windows",) if groups == 1 else ()):
            layer.plan = plan
            y = layer.forward(x, training=True)
            assert_close(y, want, np.float64, f"{T, I, F, k, s, d, padding, groups, plan}")
            for dx_plan in (None, "scatter") + (("phases",) if groups == 1 else ()):
                layer.dx_plan = dx_plan
                _check_layer_grads(layer, x, rng.standard_normal(y.shape), ("kernel", "bias"))
    layer = Conv1D(4, 3, groups=2)
    layer.plan = "windows"
    with pytest.raises(ValueError, match="Conv1D.plan must be"):
        layer(rng.standard_normal((2, 5, 4)))


def _conv_transpose_reference(x, kernel, bias, s, padding, d, output_padding):
    """Conv1DTranspose as TensorFlow and JAX define it, independently of lstmcore's window: the
    input stuffed with s - 1 zeros between its steps, padded by (pl, pr) from Keras's rules, then
    a plain stride-1 convolution with the kernel reversed (before the activation)."""
    B, T, I = x.shape
    k, F, _ = kernel.shape
    span = d * (k - 1) + 1
    if padding == "valid":  # Keras: (T - 1)*s + max(span, s) steps, or (T - 1)*s + span + p
        pl = span - 1
        pr = span - 1 + (max(span, s) - span if output_padding is None else output_padding)
    else:  # Keras: T*s steps, or (T - 1)*s + span % 2 + p
        total = s + span - 2 if output_padding is None else span + span % 2 - 2 + output_padding
        pl = min((total + 1) // 2, span - 1)
        pr = total - pl
    u = np.zeros((B, pl + (T - 1) * s + 1 + pr, I))
    u[:, pl : pl + (T - 1) * s + 1 : s] = x
    L = u.shape[1] - span + 1
    y = np.zeros((B, L, F))
    for t in range(L):
        for j in range(k):  # the reversed kernel: tap k - 1 - j reads u[t + j*d]
            y[:, t] += u[:, t + j * d] @ kernel[k - 1 - j].T
    return y + (0 if bias is None else bias)


def test_conv1d_transpose_against_a_stuffed_convolution(rng):
    for T, I, F, k, s, d, padding, op in [
        (5, 3, 2, 3, 1, 1, "valid", None),
        (5, 3, 2, 3, 2, 1, "same", None),
        (4, 2, 3, 4, 3, 1, "same", 2),
        (4, 2, 3, 2, 3, 1, "valid", None),
        (3, 2, 2, 3, 2, 1, "valid", 1),
        (6, 2, 3, 3, 1, 3, "same", None),
        (1, 3, 2, 1, 4, 1, "same", 0),
        (2, 1, 1, 5, 2, 1, "same", 1),
        (7, 4, 2, 2, 1, 2, "valid", 0),
    ]:
        x = rng.standard_normal((3, T, I))
        layer = Conv1DTranspose(F, k, strides=s, padding=padding, output_padding=op, dilation_rate=d)
        layer(x, training=True)
        layer.params["bias"][...] = rng.standard_normal(F)
        want = _conv_transpose_reference(x, layer.params["kernel"], layer.params["bias"], s, padding, d, op)
        for plan in (None, "phases", "scatter"):  # the one the sizes pick, then each forced
            layer.plan = plan
            y = layer.forward(x, training=True)
            assert_close(y, want, np.float64, f"{T, I, F, k, s, d, padding, op, plan}")
            assert y.shape[1:] == layer.output_shape(layer.build_shape)
            _check_layer_grads(layer, x, rng.standard_normal(y.shape), ("kernel", "bias"))


def test_conv1d_transpose_undoes_a_strided_conv1d_shape(rng):
    """The autoencoder's use: Conv1D(strides=2, "same") halves the steps, Conv1DTranspose with the
    same arguments doubles them back (keras.io's time-series anomaly detection)."""
    x = rng.standard_normal((2, 12, 3))
    h = Conv1D(4, 7, strides=2, padding="same")(x)
    assert h.shape == (2, 6, 4)
    assert Conv1DTranspose(3, 7, strides=2, padding="same")(h).shape == x.shape


# Configs, models, masks, steps ----------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_config_round_trip(name):
    spec = SPECS[name]
    layer = getattr(layers, spec["class"])(**spec["kwargs"], name="my_layer")
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == config  # JSON as it is
    again = type(layer).from_config(config)
    assert again.get_config() == config
    assert type(layer).from_config(json.loads(json.dumps(config))).get_config() == config
    shape = tuple(spec["shape"][1:])
    assert again.output_shape(shape) == layer.output_shape(shape)
    assert again.weight_specs(shape) == layer.weight_specs(shape)


def _models():
    return {
        "conv": (
            lambda: Sequential(
                [
                    Conv1D(4, 3, padding="causal", activation="relu", input_shape=(8, 2)),
                    MaxPooling1D(2),
                    Conv1D(3, 2, padding="same", dilation_rate=2, groups=1),
                    AveragePooling1D(2, padding="same"),
                    Conv1DTranspose(2, 3, strides=2, padding="same", activation="relu"),
                    Flatten(),
                    Dense(1),
                ]
            ),
            (8, 2),
        ),
        "norm": (
            lambda: Sequential(
                [
                    LSTM(5, return_sequences=True, input_shape=(6, 2)),
                    LayerNormalization(),
                    BatchNormalization(),
                    GlobalAveragePooling1D(),
                    Dense(1),
                ]
            ),
            (6, 2),
        ),
        "repeat": (
            lambda: Sequential(
                [
                    Dense(6, input_shape=(3,)),
                    BatchNormalization(momentum=0.5),
                    Activation("tanh"),
                    RepeatVector(4),
                    LSTM(3, return_sequences=True),
                    GlobalMaxPooling1D(),
                    Reshape((3, 1)),
                    Flatten(),
                    Dense(1),
                ]
            ),
            (3,),
        ),
    }


@pytest.mark.parametrize("kind", ["conv", "norm", "repeat"])
def test_model_trains_saves_and_loads(rng, tmp_path, kind):
    build, shape = _models()[kind]
    set_random_seed(3)
    model = build()
    model.compile(optimizer="adam", loss="mse")
    X = rng.standard_normal((32, *shape)).astype(np.float32)
    Y = (X.reshape(32, -1).sum(axis=1, keepdims=True) > 0).astype(np.float32)
    before = model.get_weights()
    history = model.fit(X, Y, epochs=4, batch_size=8, verbose=0)
    loss = history.history["loss"]
    assert np.isfinite(loss).all() and loss[-1] < loss[0], loss
    assert not any(
        np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True) if a.size > 1
    )
    for layer in model.layers:
        if isinstance(layer, BatchNormalization):  # the moving statistics moved, by the forward
            assert not np.allclose(layer.params["moving_mean"], 0)
            assert not np.allclose(layer.params["moving_variance"], 1)
    path = tmp_path / "m.lstmcore"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_whole_model_gradient_by_finite_differences(rng):
    set_random_seed(0)
    model = Sequential(
        [
            Conv1D(3, 2, padding="causal", input_shape=(6, 2), activation="tanh"),
            LayerNormalization(),
            BatchNormalization(),
            MaxPooling1D(2, padding="same"),
            LSTM(3, return_sequences=True),
            AveragePooling1D(2),
            Flatten(),
            RepeatVector(2),
            GlobalAveragePooling1D(),
            Activation("softplus"),
            Reshape((3, 1)),
            Conv1DTranspose(2, 2, strides=2, output_padding=1, activation="tanh"),
            GlobalMaxPooling1D(),
            Dense(2),
        ],
        dtype="float64",
    )
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((4, 6, 2)), rng.standard_normal((4, 2))

    def loss():
        return float(model.loss.forward(y, model._forward(x, training=True)))

    out = model._forward(x, training=True)
    dy = model.loss.backward(y, out)
    for layer in reversed(model.layers):
        dy = layer.backward(dy)
    grads, params = model.buffer.grads.copy(), model.buffer.params
    for k in rng.choice(params.size, 60, replace=False):
        old = params[k]
        params[k] = old + 1e-6
        up = loss()
        params[k] = old - 1e-6
        down = loss()
        params[k] = old
        assert abs(grads[k] - (up - down) / 2e-6) < 1e-6 * max(1.0, abs(grads[k])), k


def test_frozen_batch_normalization_keeps_its_statistics(rng):
    set_random_seed(0)
    bn = BatchNormalization(trainable=False)
    model = Sequential([Dense(3, input_shape=(2,)), bn, Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    stats = [bn.params["moving_mean"].copy(), bn.params["moving_variance"].copy()]
    model.fit(rng.standard_normal((16, 2)), rng.standard_normal((16, 1)), epochs=2, verbose=0)
    np.testing.assert_array_equal(bn.params["moving_mean"], stats[0])
    np.testing.assert_array_equal(bn.params["moving_variance"], stats[1])


def test_masks_through_a_model(rng):
    """Masking -> LayerNormalization -> BatchNormalization -> GlobalAveragePooling1D: the mask goes
    through the normalizations (BatchNormalization's statistics skip masked steps) and ends at
    the pooling, which averages the unmasked steps."""
    x = rng.standard_normal((4, 5, 2))
    x[0, 3:] = 0.0
    x[2, :2] = 0.0
    mask = (x != 0).any(axis=-1)
    set_random_seed(0)
    model = Sequential(
        [
            Masking(0.0, input_shape=(5, 2)),
            LayerNormalization(),
            BatchNormalization(),
            GlobalAveragePooling1D(),
        ],
        dtype="float64",
    )
    ln, bn, gap = model.layers[1:]
    assert ln.supports_masking and bn.supports_masking and gap.supports_masking
    assert gap.compute_mask(x, mask) is None and ln.compute_mask(x, mask) is mask
    out, out_mask = model._forward_masked(x, training=True)
    assert out_mask is None
    h = ln.forward(x)
    w = mask[..., None]
    mean = (h * w).sum(axis=(0, 1)) / (w.sum() + 1e-7)
    var = (w * (h - mean) ** 2).sum(axis=(0, 1)) / (w.sum() + 1e-7)
    h = (h - mean) / np.sqrt(var + 1e-3)
    want = (h * w).sum(axis=1) / w.sum(axis=1)
    assert_close(out, want, np.float64, "y")
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, rng.standard_normal((4, 2)), epochs=2, verbose=0)  # and trains, with no warning


def test_a_layer_without_masking_drops_the_mask_with_a_warning(rng):
    model = Sequential([Masking(0.0, input_shape=(5, 2)), Conv1D(2, 2), GlobalAveragePooling1D()])
    with pytest.warns(UserWarning, match="does not support masking"):
        model.predict(rng.standard_normal((2, 5, 2)))


@pytest.mark.parametrize(
    "layer",
    [Activation("elu"), LayerNormalization(), BatchNormalization(momentum=0.5)],
    ids=lambda layer: type(layer).__name__,
)
def test_step_is_forward_on_one_time_step(rng, layer):
    x = rng.standard_normal((3, 4, 5))
    layer(x, training=True)  # builds; BatchNormalization: moving statistics away from 0 and 1
    y = layer.forward(x)
    for t in range(4):
        assert_close(layer.step(np.ascontiguousarray(x[:, t])), y[:, t], np.float64, f"step {t}")


@pytest.mark.parametrize(
    "layer",
    [
        Conv1D(2, 2),
        Conv1DTranspose(2, 2),
        MaxPooling1D(),
        AveragePooling1D(2),
        GlobalAveragePooling1D(),
        GlobalMaxPooling1D(),
        Flatten(),
        Reshape((-1,)),
        RepeatVector(2),
        LayerNormalization(axis=[1, 2]),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_layers_of_whole_inputs_refuse_to_step(rng, layer):
    x = rng.standard_normal((3, 4, 2))
    layer(x[:, 0] if isinstance(layer, RepeatVector) else x)
    with pytest.raises(ValueError, match="one"):
        layer.step(x[:, 0])


def test_standalone_call_and_weight_shapes():
    x = np.zeros((2, 7, 6), dtype=np.float32)
    conv = Conv1D(4, 3, groups=2)
    assert conv(x).shape == (2, 5, 4)
    assert [w.shape for w in conv.weights] == [(3, 3, 4), (4,)]
    bn = BatchNormalization(axis=1, center=False)
    assert bn(x).dtype == np.float32
    assert [w.shape for w in bn.weights] == [(7,), (7,), (7,)]
    ln = LayerNormalization(axis=[1, -1], scale=False)
    assert ln(x).shape == x.shape and [w.shape for w in ln.weights] == [(7, 6)]
    assert Reshape((3, -1))(x).shape == (2, 3, 14)
    assert Flatten(data_format="channels_first")(x).shape == (2, 42)


# Bad arguments and inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, kw, exc, fragment",
    [
        (RepeatVector, {"n": 0}, ValueError, "0"),
        (RepeatVector, {"n": 2.5}, TypeError, "2.5"),
        (RepeatVector, {"n": True}, TypeError, "True"),
        (Flatten, {"data_format": "nchw"}, ValueError, "'nchw'"),
        (Reshape, {"target_shape": (-1, -1)}, ValueError, "(-1, -1)"),
        (Reshape, {"target_shape": (0, 2)}, ValueError, "(0, 2)"),
        (Reshape, {"target_shape": (2.0, 3)}, TypeError, "2.0"),
        (Reshape, {"target_shape": "ab"}, TypeError, "'ab'"),
        (Reshape, {"target_shape": ()}, TypeError, "()"),
        (Activation, {"activation": "glu"}, ValueError, "'glu'"),
        (Activation, {"activation": 3}, TypeError, "3"),
        (GlobalAveragePooling1D, {"keepdims": "yes"}, TypeError, "'yes'"),
        (GlobalMaxPooling1D, {"data_format": 1}, TypeError, "1"),
        (MaxPooling1D, {"pool_size": 0}, ValueError, "0"),
        (MaxPooling1D, {"pool_size": (2, 2)}, ValueError, "(2, 2)"),
        (MaxPooling1D, {"strides": -1}, ValueError, "-1"),
        (MaxPooling1D, {"padding": "causal"}, ValueError, "'causal'"),
        (AveragePooling1D, {"pool_size": 2, "padding": None}, TypeError, "None"),
        (AveragePooling1D, {"pool_size": "2"}, TypeError, "'2'"),
        (LayerNormalization, {"axis": "last"}, TypeError, "'last'"),
        (LayerNormalization, {"axis": []}, ValueError, "[]"),
        (LayerNormalization, {"epsilon": -1}, ValueError, "-1"),
        (LayerNormalization, {"epsilon": 0}, ValueError, "0"),
        (LayerNormalization, {"center": 1}, TypeError, "1"),
        (LayerNormalization, {"gamma_initializer": "nope"}, ValueError, "'nope'"),
        (LayerNormalization, {"rms_scaling": True}, TypeError, "True"),
        (LayerNormalization, {"beta_regularizer": "l3"}, ValueError, "'l3'"),
        (BatchNormalization, {"axis": [1, 2]}, TypeError, "[1, 2]"),
        (BatchNormalization, {"momentum": 1.5}, ValueError, "1.5"),
        (BatchNormalization, {"epsilon": float("inf")}, ValueError, "inf"),
        (BatchNormalization, {"renorm": True}, TypeError, "True"),
        (BatchNormalization, {"synchronized": True}, ValueError, "True"),
        (BatchNormalization, {"moving_variance_initializer": "bad"}, ValueError, "'bad'"),
        (BatchNormalization, {"fused": True}, TypeError, "'fused'"),
        (Conv1D, {"filters": 0, "kernel_size": 2}, ValueError, "0"),
        (Conv1D, {"filters": 4, "kernel_size": 0}, ValueError, "0"),
        (Conv1D, {"filters": 4, "kernel_size": 2, "padding": "full"}, ValueError, "'full'"),
        (Conv1D, {"filters": 4, "kernel_size": 2, "strides": 2, "dilation_rate": 2}, ValueError, "strides=2"),
        (Conv1D, {"filters": 3, "kernel_size": 2, "groups": 2}, ValueError, "groups=2"),
        (Conv1D, {"filters": 4, "kernel_size": 2, "activation": "gelux"}, ValueError, "'gelux'"),
        (Conv1D, {"filters": 4, "kernel_size": 2, "lora_rank": 2}, TypeError, "'lora_rank'"),
        (
            Conv1D,
            {"filters": 4, "kernel_size": 2, "recurrent_regularizer": "l2"},
            TypeError,
            "Conv1D has no weight that recurrent_regularizer",
        ),
        (
            Conv1D,
            {"filters": 4, "kernel_size": 2, "data_format": "channels_middle"},
            ValueError,
            "'channels_middle'",
        ),
        (Conv1DTranspose, {"filters": 2, "kernel_size": 3, "padding": "causal"}, ValueError, "'causal'"),
        (Conv1DTranspose, {"filters": 2, "kernel_size": 3, "groups": 2}, TypeError, "'groups'"),
        (Conv1DTranspose, {"filters": 2, "kernel_size": 3, "output_padding": 1}, ValueError, "strides=1"),
        (
            Conv1DTranspose,
            {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": -1},
            ValueError,
            "-1",
        ),
        (
            Conv1DTranspose,
            {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 0.5},
            TypeError,
            "0.5",
        ),
        (
            Conv1DTranspose,
            {"filters": 2, "kernel_size": 3, "strides": 3, "output_padding": (1, 1)},
            ValueError,
            "(1, 1)",
        ),
        (
            Conv1DTranspose,
            {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
            ValueError,
            "strides=2",
        ),
    ],
)
def test_bad_arguments(cls, kw, exc, fragment):
    with pytest.raises(exc) as info:
        cls(**kw)
    assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "layer, shape, fragment",
    [
        (RepeatVector(2), (3, 4), "(3, 4)"),
        (Reshape((5,)), (2, 3), "(2, 3)"),
        (Reshape((4, -1)), (3, 3), "(3, 3)"),
        (GlobalAveragePooling1D(), (4,), "(4,)"),
        (GlobalMaxPooling1D(), (2, 3, 4), "(2, 3, 4)"),
        (MaxPooling1D(4), (3, 2), "(3, 2)"),
        (AveragePooling1D(2), (4,), "(4,)"),
        (Conv1D(2, 5), (3, 2), "(3, 2)"),
        (Conv1D(2, 3, dilation_rate=2), (4, 2), "(4, 2)"),
        (Conv1D(2, 2, groups=2), (5, 3), "(5, 3)"),
        (Conv1DTranspose(2, 2, padding="same", output_padding=0), (1, 3), "no output step for 1 timesteps"),
        (Conv1DTranspose(2, 3), (4,), "(4,)"),
        (LayerNormalization(axis=3), (4, 5), "axis 3"),
        (LayerNormalization(axis=[1, -2]), (4, 5), "[1, -2]"),
        (BatchNormalization(axis=0), (4, 5), "axis 0"),
        (BatchNormalization(axis=-4), (4, 5), "axis -4"),
    ],
)
def test_bad_input_shapes(layer, shape, fragment):
    with pytest.raises(ValueError) as info:
        layer.build(shape)
    assert fragment in str(info.value), str(info.value)


def test_bad_inputs_after_build(rng):
    x = rng.standard_normal((2, 5, 3))
    for layer in (Conv1D(2, 2), MaxPooling1D(), GlobalMaxPooling1D(), Flatten(), LayerNormalization()):
        layer(x)
        with pytest.raises(ValueError, match=r"\(2, 5, 4\)"):
            layer(rng.standard_normal((2, 5, 4)))
    gap, bn = GlobalAveragePooling1D(), BatchNormalization()
    gap(x)
    bn(x)
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        gap(x, mask=np.ones((2, 4), dtype=bool))
    with pytest.raises(TypeError, match="<U1"):
        gap(x, mask=np.full((2, 5), "a"))
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        bn.forward(x, training=True, mask=np.ones((2, 4), dtype=bool))
    for layer in (Conv1D(2, 2), BatchNormalization(), Activation("relu")):
        layer(x)
        with pytest.raises(RuntimeError, match="training=True"):
            layer.backward(x)


@pytest.mark.parametrize(
    "layer, out",
    [
        (Conv1D(4, 3, padding="causal"), (None, 4)),
        (Conv1D(4, 3, strides=2, padding="same", data_format="channels_first"), (4, None)),
        (Conv1DTranspose(4, 3, strides=2, padding="same"), (None, 4)),
        (Conv1DTranspose(2, 3, strides=2, output_padding=1, data_format="channels_first"), (2, None)),
        (MaxPooling1D(2, padding="same"), (None, 3)),
        (AveragePooling1D(3, strides=1), (None, 3)),
        (GlobalAveragePooling1D(), (3,)),
        (GlobalMaxPooling1D(keepdims=True), (1, 3)),
        (LayerNormalization(), (None, 3)),
        (BatchNormalization(), (None, 3)),
        (Flatten(), (None,)),
        (Reshape((-1, 3)), (None, 3)),
        (Activation("relu"), (None, 3)),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, tuple) else "",
)
def test_time_axis_of_any_size(rng, layer, out):
    """Built for (None, 3) (a functional model's Input(shape=(None, 3))): any number of steps."""
    shape = (3, None) if getattr(layer, "data_format", "") == "channels_first" else (None, 3)
    layer.build(shape)
    assert layer.output_shape(shape) == out
    specs = layer.weight_specs(layer.build_shape)
    layer.bind(ParameterBuffer([(n, s) for n, s, _ in specs], np.dtype(np.float64)), "")
    for w in layer.params.values():
        w[...] = rng.uniform(0.5, 1.5, w.shape)
    for T in (4, 7):
        x = rng.standard_normal((2, 3, T) if shape[0] == 3 else (2, T, 3))
        y = layer.forward(x, training=True)
        fixed = type(layer).from_config({**layer.get_config(), "name": None})  # the same, built for T
        fixed.build(x.shape[1:])
        fixed.bind(ParameterBuffer([(n, s) for n, s, _ in specs], np.dtype(np.float64)), "")
        for n, w in layer.params.items():
            fixed.params[n][...] = w
        assert_close(y, fixed.forward(x, training=True), np.float64, f"T={T}")
        dy = rng.standard_normal(y.shape)
        assert_close(layer.backward(dy), fixed.backward(dy), np.float64, f"dx T={T}")
    if isinstance(layer, Activation):
        return  # elementwise: any shape, as Keras's
    with pytest.raises(ValueError, match=r"\(2, 5, 4\)|\(2, 4, 5\)"):
        layer.forward(rng.standard_normal((2, 4, 5) if shape[0] == 3 else (2, 5, 4)))

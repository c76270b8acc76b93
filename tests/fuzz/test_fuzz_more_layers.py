"""Fuzz of the layers of reshaping.py, pooling.py, normalization.py, conv.py, activation.py,
regularization.py and preprocessing.py: drawn arguments
(sensible values and junk), input shapes, dtypes and masks (right and wrong). Each step either
works or raises ValueError/TypeError (nothing else: no IndexError, no numpy warning, no crash), and
what works is consistent: the output has the shape ``output_shape`` announces and the input's
dtype, is finite where the input is (but for a masked average over no step, NaN as Keras), the
gradients have the shapes of x and of the weights, the config round-trips, and for the layers that
are linear in x (or select from it) the backward is the adjoint: sum(y * dy) == sum(x * dx)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from helpers import TOL
from hypothesis import event, given
from hypothesis import strategies as st

from lstmcore import layers
from lstmcore.params import ParameterBuffer

CLASSES = (
    "RepeatVector",
    "Flatten",
    "Reshape",
    "Activation",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling1D",
    "MaxPooling1D",
    "AveragePooling1D",
    "LayerNormalization",
    "BatchNormalization",
    "Conv1D",
    "Conv1DTranspose",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "SpatialDropout1D",
    "GaussianNoise",
    "GaussianDropout",
    "ActivityRegularization",
    "PReLU",
    "Identity",
    "Permute",
    "ZeroPadding1D",
    "Cropping1D",
    "UpSampling1D",
    "Rescaling",
    "Normalization",
)
OK = (ValueError, TypeError)
# layers that take inputs of any shape (element by element, or along an axis that fits)
ANY_SHAPE = ("Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "GaussianNoise", "GaussianDropout")
ANY_SHAPE += ("ActivityRegularization", "SpatialDropout1D", "Identity", "Rescaling")
RANDOM = ("SpatialDropout1D", "GaussianNoise", "GaussianDropout")  # training draws noise

JUNK = st.sampled_from(
    [None, -2, -1, 0, 1, 2, 3, 1.5, float("nan"), True, "same", "x", "", (), (2,), (1, 2), [3, -1], {"a": 1}]
    + [np.int64(2), np.float32(0.5), b"valid", object()]
)
FORMATS = st.sampled_from([None, "channels_last", "channels_first", "Channels_First"])
ACTIVATIONS = st.sampled_from([None, *layers.DENSE_ACTIVATIONS])
# Sensible values of each argument (junk is mixed in by ``arguments``).
VALUES = {
    "n": st.integers(1, 4),
    "data_format": FORMATS,
    "target_shape": st.lists(st.integers(-2, 6), min_size=1, max_size=3).map(tuple),
    "activation": ACTIVATIONS,
    "keepdims": st.booleans(),
    "pool_size": st.integers(1, 5),
    "strides": st.one_of(st.none(), st.integers(1, 4)),
    "padding": st.one_of(  # causal: Conv1D's only; ints and pairs: ZeroPadding1D's
        st.sampled_from(["valid", "same", "causal", "SAME"]),
        st.integers(0, 3),
        st.tuples(st.integers(0, 3), st.integers(0, 3)),
    ),
    "axis": st.one_of(st.integers(-4, 4), st.lists(st.integers(-4, 4), min_size=1, max_size=3)),
    "epsilon": st.sampled_from([1e-3, 0.1, 1.0, 1e-300]),
    "momentum": st.sampled_from([0.0, 0.5, 0.99, 1.0]),
    "center": st.booleans(),
    "scale": st.booleans(),
    "filters": st.integers(1, 6),
    "kernel_size": st.integers(1, 5),
    "dilation_rate": st.integers(1, 3),
    "output_padding": st.one_of(st.none(), st.integers(0, 3), st.tuples(st.integers(0, 2))),
    "groups": st.integers(1, 3),
    "use_bias": st.booleans(),
    "max_value": st.one_of(st.none(), st.floats(0.0, 3.0)),
    "negative_slope": st.floats(0.0, 1.0),
    "threshold": st.floats(0.0, 1.0),
    "alpha": st.floats(0.1, 2.0),
    "rate": st.floats(0.0, 0.9),
    "stddev": st.floats(0.0, 1.0),
    "l1": st.floats(0.0, 1.0),
    "l2": st.floats(0.0, 1.0),
    "seed": st.one_of(st.none(), st.integers(0, 1000)),
    "dims": st.one_of(st.permutations([1, 2]), st.permutations([1, 2, 3]), st.permutations([1])),
    "cropping": st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3))),
    "size": st.integers(1, 4),
    "shared_axes": st.one_of(st.none(), st.integers(1, 3), st.lists(st.integers(1, 3), max_size=2)),
    "offset": st.one_of(st.floats(-3, 3), st.lists(st.floats(-2, 2), min_size=1, max_size=3)),
    "invert": st.booleans(),
}
# Where a layer's argument is another thing than the same name's above
VALUES_OF = {
    "Rescaling": {"scale": st.one_of(st.floats(-3, 3), st.lists(st.floats(-2, 2), min_size=1, max_size=3))},
    "Conv1DTranspose": {"padding": st.sampled_from(["valid", "same", "Same"]), "strides": st.integers(1, 4)},
}
REQUIRED = {"RepeatVector": ("n",), "Reshape": ("target_shape",), "Activation": ("activation",)}
REQUIRED.update(AveragePooling1D=("pool_size",), Conv1D=("filters", "kernel_size"))
REQUIRED.update(Conv1DTranspose=("filters", "kernel_size"))
REQUIRED.update(SpatialDropout1D=("rate",), GaussianNoise=("stddev",), GaussianDropout=("rate",))
REQUIRED.update(Permute=("dims",), Rescaling=("scale",))


@st.composite
def arguments(draw, name: str) -> dict:
    """Keyword arguments for layer ``name``: each argument left out (unless required) or a sensible
    value; in one case of four, one of them junk instead."""
    values = {**VALUES, **VALUES_OF.get(name, {})}
    params = [a for a in inspect.signature(getattr(layers, name).__init__).parameters if a in values]
    kw = {}
    for arg in params:
        if arg in REQUIRED.get(name, ()) or draw(st.integers(0, 2)):
            kw[arg] = draw(values[arg])
    if params and draw(st.integers(0, 3)) == 0:
        kw[draw(st.sampled_from(params))] = draw(JUNK)
    return kw


@st.composite
def cases(draw):
    name = draw(st.sampled_from(CLASSES))
    kw = draw(arguments(name))
    # the rank without the batch axis: mostly the one the layer takes
    ranks = {"RepeatVector": [1, 1, 1, 2], "Flatten": [1, 2, 3, 4], "Reshape": [1, 2, 3, 4]}
    ranks.update(Activation=[1, 2, 3, 4], LayerNormalization=[1, 2, 3, 4], BatchNormalization=[1, 2, 3, 4])
    ranks.update({n: [1, 2, 3] for n in ANY_SHAPE if n != "Activation"})
    rank = draw(st.sampled_from(ranks.get(name, [2, 2, 2, 2, 1, 3])))
    shape = (draw(st.integers(1, 4)), *(draw(st.integers(1, 6)) for _ in range(rank)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    mask = draw(st.sampled_from([None, None, "right", "wrong", "all_masked"]))
    return name, kw, shape, dtype, mask, draw(st.integers(0, 2**32 - 1))


def _build(layer, shape, dtype, rng):
    layer.build(shape[1:])
    specs = layer.weight_specs(layer.build_shape)
    for _, s, _ in specs:
        assert all(isinstance(d, int) and d >= 1 for d in s), s
    layer.bind(ParameterBuffer([(n, s) for n, s, _ in specs], np.dtype(dtype)), "")
    for n, w in layer.params.items():
        positive = n in ("moving_variance", "variance", "count")
        w[...] = rng.uniform(0.5, 1.5, w.shape) if positive else rng.uniform(-1, 1, w.shape)


def _mask(kind, layer, x, rng):
    """A mask over x's axes but the last: (B, T) for sequences (channels-first x is (B, C, T))."""
    if kind is None:
        return None
    shape = x.shape[:-1]
    if getattr(layer, "data_format", "") == "channels_first" and x.ndim == 3:
        shape = (x.shape[0], x.shape[2])
    if kind == "wrong":
        shape = (*shape[:-1], shape[-1] + 1)
    mask = rng.random(shape) < 0.7
    if kind == "all_masked":
        mask[0] = False
    return mask


def _adjoint(layer) -> bool:
    """Whether the layer's output is linear in x, or picks entries of x, for its drawn arguments."""
    name = type(layer).__name__
    if name in ("Conv1D", "Conv1DTranspose"):
        return layer.activation in ("linear", "relu") and not layer.use_bias
    if name == "Activation":
        return layer.activation in ("linear", "relu")
    if name == "ReLU":  # piecewise linear through 0: x or a slope times x
        return layer.threshold == 0 and layer.max_value is None
    if name == "Rescaling":  # linear without an offset
        return not layer.offset.any()
    return name not in (
        "LayerNormalization",
        "BatchNormalization",
        "ELU",
        "Softmax",
        "GaussianNoise",
        "Normalization",
    )


def _check_output(name, layer, y, x, mask, call, out_shape) -> None:
    assert y.shape == (x.shape[0], *out_shape) and y.dtype == x.dtype, (y.shape, out_shape, y.dtype)
    finite = np.isfinite(y)
    if name == "GlobalAveragePooling1D" and call:  # NaN (0/0) on rows with every step masked, as Keras
        rows = mask.any(axis=1)
        assert (finite.reshape(len(y), -1).all(axis=1) == rows).all() and np.isnan(y[~rows]).all()
    else:
        assert finite.all(), "non-finite output of a finite input"


@given(case=cases())
def test_layers_work_or_refuse(case):
    """Inference, then training forward and backward, of a drawn layer on a drawn input."""
    name, kw, shape, dtype, mask_kind, seed = case
    event(f"class {name}")
    rng = np.random.default_rng(seed)
    cls = getattr(layers, name)
    try:
        layer = cls(**kw)
    except OK:
        event("arguments refused")
        return
    config = layer.get_config()
    assert cls.from_config(config).get_config() == config
    try:
        _build(layer, shape, dtype, rng)
    except OK:
        event("input shape refused")
        return
    out_shape = layer.output_shape(layer.build_shape)
    x = rng.standard_normal(shape).astype(dtype)
    mask = _mask(mask_kind, layer, x, rng)
    takes_mask = "mask" in inspect.signature(layer.forward).parameters
    call = {"mask": mask} if (mask is not None and takes_mask) else {}
    try:
        y = layer.forward(x, training=False, **call)
    except OK:
        # Softmax takes Keras's masks, aligned on the last axes: a (B, T) mask of (B, T, C) inputs
        # fails there, as in Keras
        assert call and (mask_kind == "wrong" or name == "Softmax"), "refused a right input"
        assert name != "BatchNormalization"
        event("wrong mask refused")
        return
    event(f"ran {name}")
    _check_output(name, layer, y, x, mask, call, out_shape)
    passes_mask = layer.supports_masking and name != "GlobalAveragePooling1D"
    assert layer.compute_mask(x, mask) is (mask if passes_mask else None)
    with pytest.raises(RuntimeError):  # no training forward: nothing kept for a backward
        layer.backward(np.ones_like(y))
    try:
        y_train = layer.forward(x, training=True, **call)
    except OK:  # BatchNormalization reads its mask in training only
        assert mask_kind == "wrong" and name == "BatchNormalization", "refused a right input"
        return
    _check_output(name, layer, y_train, x, mask, call, out_shape)
    if name not in ("BatchNormalization", *RANDOM):  # the others do the same in training
        np.testing.assert_array_equal(y_train, y)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dy)
    assert dx.shape == x.shape and dx.dtype == np.dtype(dtype)
    assert np.isfinite(dx).all()
    for n, g in layer.grads.items():
        assert g.shape == layer.params[n].shape and np.isfinite(g).all(), n
    if _adjoint(layer):
        y_lin = y_train if name in RANDOM else y  # the noise the backward uses
        lhs = float((np.where(np.isfinite(y_lin), y_lin, 0).astype(np.float64) * dy).sum())
        rhs = float((x.astype(np.float64) * dx).sum())
        scale = 1 + np.abs(x).sum() * np.abs(dx).max() + abs(lhs)
        assert abs(lhs - rhs) <= 50 * TOL[np.dtype(dtype)]["rtol"] * scale, (lhs, rhs)
    # another input shape: a ValueError naming it (Activation, elementwise, takes any)
    other = rng.standard_normal((shape[0], *(s + 1 for s in shape[1:]))).astype(dtype)
    try:
        layer.forward(other)
    except ValueError as exc:
        assert str(other.shape) in str(exc)
    else:  # Normalization(axis=None): one mean and variance for inputs of any shape
        assert name in ANY_SHAPE or (name == "Normalization" and not layer.axis)


@given(
    name=st.sampled_from(CLASSES),
    x=st.one_of(
        st.just(np.zeros((2, 3), dtype=np.int32)),
        st.just(np.ones((2, 3, 4), dtype=bool)),
        st.just(np.zeros((2, 0, 3))),
        st.just(np.zeros((0, 3, 3))),
        st.just(np.array(["a", "b"])),
        st.just([[1.0, 2.0], [3.0, 4.0]]),
        st.just(np.float64(1.0)),
        st.just(np.zeros((2, 3, 3), dtype=np.float16)),
    ),
)
def test_junk_inputs_are_refused_or_work(name, x):
    """A standalone call on junk: ValueError/TypeError, or an output of the announced shape."""
    kw = {"RepeatVector": {"n": 2}, "Reshape": {"target_shape": (-1,)}, "Activation": {"activation": "tanh"}}
    kw.update(AveragePooling1D={"pool_size": 1}, Conv1D={"filters": 2, "kernel_size": 1})
    kw.update(Conv1DTranspose={"filters": 2, "kernel_size": 2, "strides": 2})
    kw.update(SpatialDropout1D={"rate": 0.5}, GaussianNoise={"stddev": 0.1}, GaussianDropout={"rate": 0.5})
    kw.update(Permute={"dims": (2, 1)}, Rescaling={"scale": 2.0})
    layer = getattr(layers, name)(**kw.get(name, {}))
    try:
        y = layer(x)
    except OK:
        return
    a = np.asarray(x)
    assert y.shape == (a.shape[0], *layer.output_shape(layer.build_shape))


def _central_differences(layer, x, dy, pairs, rng) -> None:
    """Each (array, gradient) of pairs against central differences of sum(forward(x) * dy) along a
    random direction of the array (float64; the array moved in place and back)."""
    for a, grad in pairs:
        u = rng.standard_normal(a.shape)
        a += 1e-6 * u
        up = float((layer.forward(x) * dy).sum())
        a -= 2e-6 * u
        down = float((layer.forward(x) * dy).sum())
        a += 1e-6 * u
        numeric = (up - down) / 2e-6
        assert abs(numeric - float((grad * u).sum())) <= 1e-6 * (1 + abs(numeric))


@given(
    T=st.integers(1, 7),
    I=st.integers(1, 4),
    F=st.integers(1, 4),
    k=st.integers(1, 6),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same"]),
    op=st.one_of(st.none(), st.integers(0, 3)),
    channels_first=st.booleans(),
    plan=st.sampled_from([None, "phases", "scatter"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv1d_transpose_is_the_scatter_of_each_step(
    T, I, F, k, s, d, padding, op, channels_first, plan, seed
):
    """Conv1DTranspose with any valid arguments against its definition one input step and tap at
    a time (full[t*s + j*d] += kernel[j] @ x[t], Keras's window of it), its backward against
    central differences along a random direction of x and of the kernel (float64); arguments
    Keras refuses (strides with dilation, output_padding >= strides) raise ValueError. ``plan``
    forces the forward's plan (None: the one the sizes pick)."""
    if s > 1:
        d = 1 if d > 1 and seed % 2 else d  # mostly valid; the rest must be refused
    try:
        layer = layers.Conv1DTranspose(
            F, k, strides=s, padding=padding, output_padding=op, dilation_rate=d,
            data_format="channels_first" if channels_first else None, activation="tanh",
        )  # fmt: skip
    except ValueError:
        assert (s > 1 and d > 1) or (op is not None and op >= s)
        return
    span = d * (k - 1) + 1
    if padding == "valid":  # Keras's output length and the padding its JAX backend crops
        L = (T - 1) * s + (max(span, s) if op is None else span + op)
        pl = span - 1
    else:
        L = T * s if op is None else (T - 1) * s + span % 2 + op
        pl = min(((s + span - 2 if op is None else span + span % 2 - 2 + op) + 1) // 2, span - 1)
    shape = (I, T) if channels_first else (T, I)
    try:
        layer.build(shape)
    except ValueError:
        assert L < 1
        return
    assert layer.output_shape(shape) == ((F, L) if channels_first else (L, F))
    rng = np.random.default_rng(seed)
    _build(layer, (2, *shape), np.float64, rng)
    layer.plan = plan
    kernel, bias = layer.params["kernel"], layer.params["bias"]
    x = rng.standard_normal((2, *shape))
    xl = x.transpose(0, 2, 1) if channels_first else x
    z = np.zeros((2, L, F))
    for t in range(T):
        for j in range(k):
            p = t * s + j * d - (span - 1 - pl)
            if 0 <= p < L:
                z[:, p] += xl[:, t] @ kernel[j].T
    want = np.tanh(z + bias)
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y, want.transpose(0, 2, 1) if channels_first else want, rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    dkernel = layer.grads["kernel"].copy()
    _central_differences(layer, x, dy, ((x, dx), (kernel, dkernel)), rng)


@given(
    T=st.integers(1, 9),
    I=st.sampled_from([1, 2, 3, 4, 8, 9]),
    F=st.sampled_from([1, 2, 3, 4, 8, 9]),
    k=st.integers(1, 6),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
    groups=st.sampled_from([1, 1, 2, 3]),
    padding=st.sampled_from(["valid", "same", "causal"]),
    channels_first=st.booleans(),
    plan=st.sampled_from([None, "windows", "im2col"]),
    dx_plan=st.sampled_from([None, "phases", "scatter"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv1d_is_the_sum_of_its_taps(
    T, I, F, k, s, d, groups, padding, channels_first, plan, dx_plan, dtype, seed
):
    """Conv1D with any valid arguments against its definition one output step and tap at a time
    (y[t] = sum over j of xp[t*s + j*d] @ kernel[j], per group), in each forward plan and input
    gradient plan (None: the ones the sizes pick; a plan the arguments cannot take raises
    ValueError); its backward against central differences along a random direction of x and of
    the kernel (float64), and float32 against float64."""
    if s > 1 and d > 1:
        d = 1  # Keras refuses them together (the constructor's check has its own test)
    if I % groups or F % groups:
        groups = 1
    layer = layers.Conv1D(
        F, k, strides=s, padding=padding, dilation_rate=d, groups=groups,
        data_format="channels_first" if channels_first else None, activation="tanh",
    )  # fmt: skip
    span = d * (k - 1) + 1
    left = {"valid": 0, "causal": span - 1, "same": max(0, (-(-T // s) - 1) * s + span - T) // 2}[padding]
    T_out = -(-T // s) if padding == "same" else (T + left - span) // s + 1
    shape = (I, T) if channels_first else (T, I)
    if T_out < 1:
        with pytest.raises(ValueError, match="no output step"):
            layer.build(shape)
        return
    rng = np.random.default_rng(seed)
    _build(layer, (2, *shape), np.float64, rng)
    layer.plan, layer.dx_plan = plan, dx_plan
    kernel, bias = layer.params["kernel"], layer.params["bias"]
    x = rng.standard_normal((2, *shape))
    xl = x.transpose(0, 2, 1) if channels_first else x
    z = np.zeros((2, T_out, F))
    Ig, Fg = I // groups, F // groups
    for t in range(T_out):
        for j in range(k):
            p = t * s + j * d - left
            for g in range(groups) if 0 <= p < T else ():
                cols = slice(g * Fg, (g + 1) * Fg)
                z[:, t, cols] += xl[:, p, g * Ig : (g + 1) * Ig] @ kernel[j, :, cols]
    want = np.tanh(z + bias)
    want = want.transpose(0, 2, 1) if channels_first else want
    if plan == "windows" and groups > 1:
        with pytest.raises(ValueError, match="Conv1D.plan must be"):
            layer.forward(x)
        return
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    if dx_plan == "phases" and groups > 1:
        with pytest.raises(ValueError, match="dx_plan must be"):
            layer.backward(dy)
        return
    dx = layer.backward(dy)
    dkernel = layer.grads["kernel"].copy()
    _central_differences(layer, x, dy, ((x, dx), (kernel, dkernel)), rng)
    if dtype == np.float32:  # the same plans in float32, against float64's results
        layer32 = layers.Conv1D.from_config(layer.get_config())
        _build(layer32, (2, *shape), np.float32, rng)
        layer32.params["kernel"][...], layer32.params["bias"][...] = kernel, bias
        layer32.plan, layer32.dx_plan = plan, dx_plan
        y32 = layer32.forward(x.astype(np.float32), training=True)
        np.testing.assert_allclose(y32, y, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer32.backward(dy.astype(np.float32)), dx, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(layer32.grads["kernel"], dkernel, rtol=1e-4, atol=1e-4)


_BOUND = st.one_of(st.none(), st.integers(-7, 7))
_ITEM = st.one_of(
    st.integers(-6, 6),
    st.builds(slice, _BOUND, _BOUND, st.one_of(st.none(), st.integers(-3, 3))),
    st.just(None),
    st.just(Ellipsis),
    JUNK,
)


@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    items=st.lists(_ITEM, min_size=0, max_size=4),
    batch_first=st.booleans(),
    free=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_get_item_is_numpy_indexing(shape, items, batch_first, free, seed):
    """x[key] of a symbolic tensor with a drawn key: where lstmcore takes it, the model's output is
    NumPy's x[key] (the shape announced where the axis is known) and the backward puts dy back
    where the key took it; otherwise ValueError or TypeError, at the call or at run time."""
    from lstmcore import Model

    key = tuple(([slice(None)] if batch_first else []) + items)
    x = np.random.default_rng(seed).standard_normal((2, *shape))
    inp = layers.Input((None, *shape[1:]) if free else tuple(shape))
    try:
        out = inp[key]
    except OK:
        event("key refused")
        return
    model = Model(inp, out, dtype="float64")
    try:
        y = model.predict(x, verbose=0)
    except OK:
        event("refused at run time")
        assert free  # a key refused for the known shape is refused at the call
        return
    event("ran")
    np.testing.assert_array_equal(y, x[key])
    assert all(a in (None, b) for a, b in zip(out.shape[1:], y.shape[1:], strict=True))
    layer = out.node.layer
    layer.forward(x, training=True, **out.node.kwargs)
    dy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dx = layer.backward(dy)
    want = np.zeros_like(x)
    want[key] = dy
    np.testing.assert_array_equal(dx, want)


@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    name=st.sampled_from(
        ["sum", "mean", "max", "min", "expand_dims", "squeeze", "transpose", "softmax", "exp", "tanh"]
        + ["log", "sqrt", "square", "abs", "sigmoid", "relu"]
    ),
    axis=st.one_of(st.none(), st.integers(-4, 4), st.lists(st.integers(-4, 4), max_size=3), JUNK),
    keepdims=st.one_of(st.booleans(), JUNK),
    seed=st.integers(0, 2**32 - 1),
)
def test_ops_are_numpy(shape, name, axis, keepdims, seed):
    """lstmcore.ops on a symbolic input with drawn axes: NumPy's values of the announced shape and
    a backward that is the adjoint for the linear ones; otherwise ValueError or TypeError."""
    from lstmcore import Model, ops

    kwargs = {"axis": axis} if name not in ("transpose",) else {"axes": axis}
    if name in ("sum", "mean", "max", "min"):
        kwargs["keepdims"] = keepdims
    elif name not in ("expand_dims", "squeeze", "transpose", "softmax"):
        kwargs = {} if keepdims is True else kwargs  # elementwise: no arguments, or junk refused
    inp = layers.Input(tuple(shape))
    try:
        out = getattr(ops, name)(inp, **kwargs)
    except OK:
        event("refused")
        return
    event(f"ran {name}")
    x = np.random.default_rng(seed).standard_normal((2, *shape))
    if name in ("log", "sqrt"):
        x = np.abs(x) + 0.1  # in their domains
    y = Model(inp, out, dtype="float64").predict(x, verbose=0)
    np.testing.assert_array_equal(y, getattr(ops, name)(x, **kwargs))  # eager: NumPy's
    assert out.shape == (None, *y.shape[1:])
    layer = out.node.layer
    layer.forward(x, training=True)
    dy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dx = layer.backward(dy)
    assert dx.shape == x.shape and np.isfinite(dx).all()
    if name in ("sum", "mean", "expand_dims", "squeeze", "transpose"):  # linear: the adjoint
        assert np.isclose((y * dy).sum(), (x * dx).sum())

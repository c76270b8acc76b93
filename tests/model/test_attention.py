"""Attention, AdditiveAttention, MultiHeadAttention (layers/attention.py) and Dot
(layers/merging.py, the product of attention built by hand) against Keras 3: the golden file of
make_attention_golden.py (always) and a live Keras where one is installed, finite differences for
every gradient, masks and the call arguments (use_causal_mask, return_attention_scores) in
functional models that train, save and load (lstmcore's files, Keras's .keras both ways, ONNX),
dropout, and bad arguments."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import make_attention_golden as golden
import make_layer_golden
import numpy as np
import pytest
from helpers import assert_close, check_grad

from lstmcore import Model, layers, load_model
from lstmcore.layers import LSTM, AdditiveAttention, Attention, Dense, GlobalAveragePooling1D, Input, Masking
from lstmcore.params import ParameterBuffer

DATA = np.load(Path(__file__).resolve().parent / "data" / "keras_attention.npz")
SPECS = json.loads(DATA["cases"].item().decode())
CASES = list(golden.CASES)


def bound(layer, shapes, dtype, weights=None):
    """``layer`` built for inputs of ``shapes`` (batch included), with ``weights`` by name or its
    initial values."""
    layer.build([tuple(s[1:]) for s in shapes])
    specs = layer.weight_specs(layer.build_shape)
    layer.bind(ParameterBuffer([(n, s) for n, s, _ in specs], np.dtype(dtype)), "")
    rng = np.random.default_rng(1)
    for n, s, init in specs:
        layer.params[n][...] = (
            weights[n] if weights is not None else layer._initial_value(n, s, init, rng, dtype)
        )
    return layer


def _masks(c: dict, n: int):
    """A case's masks as the layers take them: a list with None for an input without, or None."""
    masks = [c.get(f"mask/{k}") for k in range(n)]
    return None if all(m is None for m in masks) else masks


def check_case(name: str, dtype: str, c: dict) -> None:
    spec = SPECS[name]
    weights = {k[2:]: v for k, v in c.items() if k.startswith("w/")}
    layer = bound(getattr(layers, spec["class"])(**spec["kwargs"]), spec["shapes"], dtype, weights)
    assert [n for n, _, _ in layer.weight_specs(layer.build_shape)] == list(weights)
    xs = [c[f"x/{k}"] for k in range(len(spec["shapes"]))]
    mask = _masks(c, len(xs))
    out = layer.forward(xs, training=True, mask=mask, **spec["call"])
    scores = spec["call"].get("return_attention_scores")
    y = out[0] if scores else out
    assert y.dtype == np.dtype(dtype)
    assert_close(y, c["y"], dtype, f"{name} y")
    if scores:
        assert_close(out[1], c["scores"], dtype, f"{name} scores")
    dxs = layer.backward([c["dy"], c["ds"]] if scores else c["dy"])
    assert len(dxs) == len(xs)
    for k, dx in enumerate(dxs):
        assert_close(dx, c[f"dx/{k}"], dtype, f"{name} dx/{k}", scale=10)
    for n in weights:
        assert_close(layer.grads[n], c[f"d/{n}"], dtype, f"{name} d/{n}", scale=10)


def test_golden_file_covers_every_case():
    assert int(DATA["format_version"]) == golden.FORMAT_VERSION
    assert list(SPECS) == CASES
    assert {s["class"] for s in SPECS.values()} == {
        "Attention",
        "AdditiveAttention",
        "MultiHeadAttention",
        "Dot",
    }


@pytest.mark.parametrize("dtype", golden.DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_matches_keras_golden(name, dtype):
    check_case(name, dtype, golden.unpack(DATA, name, dtype))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("dtype", golden.DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_matches_keras_live(keras, name, dtype):
    with make_layer_golden.float64_kept() if dtype == "float64" else contextlib.nullcontext():
        c = golden.keras_case(keras, name, dtype)
    check_case(name, dtype, c)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("cls", ["Attention", "AdditiveAttention"])
def test_arguments_and_config_are_keras(keras, cls):
    theirs = getattr(keras.layers, cls)()
    mine = getattr(layers, cls)()
    for key, value in mine.get_config().items():
        if key not in ("name", "input_shape"):
            assert theirs.get_config()[key] == value, key
    again = getattr(layers, cls).from_config(theirs.get_config())
    assert again.get_config() == {**mine.get_config(), "name": theirs.name, "dtype": "float32"}


@pytest.mark.parametrize("name", CASES)
def test_gradients_by_finite_differences(name):
    spec = SPECS[name]
    c = golden.unpack(DATA, name, "float64")
    layer = bound(getattr(layers, spec["class"])(**spec["kwargs"]), spec["shapes"], np.float64)
    for w in layer.params.values():
        w[...] = np.random.default_rng(3).uniform(0.5, 1.5, w.shape)
    xs = [c[f"x/{k}"].copy() for k in range(len(spec["shapes"]))]
    mask = _masks(c, len(xs))
    scores = spec["call"].get("return_attention_scores")
    dy, ds = c["dy"].copy(), c.get("ds")
    causal = spec["call"].get("use_causal_mask")
    if causal and mask is not None and mask[1] is not None and spec["class"] != "MultiHeadAttention":
        # a query step whose every key is masked (causal and value masks) softmaxes scores
        # lowered by 1e9, rounding noise to differences: its outputs are left out of the loss
        # (MultiHeadAttention gives such a step no weights at all)
        Tq, Tv = xs[0].shape[1], xs[1].shape[1]
        keep = mask[1][:, None, :] & np.tril(np.ones((Tq, Tv), bool))[None]
        none = ~keep.any(axis=-1)
        dy[none] = 0
        if ds is not None:
            ds = ds.copy()
            ds[none] = 0

    def loss():
        out = layer.forward(xs, mask=mask, **spec["call"])
        return float((out[0] * dy).sum() + (out[1] * ds).sum()) if scores else float((out * dy).sum())

    layer.forward(xs, training=True, mask=mask, **spec["call"])
    dxs = layer.backward([dy, ds] if scores else dy)
    grads = {n: g.copy() for n, g in layer.grads.items()}
    for k, x in enumerate(xs):
        check_grad(dxs[k], loss, x, f"dx/{k}")
    for n, w in layer.params.items():
        check_grad(grads[n], loss, w, n)


def test_masked_value_steps_get_no_weight_and_masked_queries_output_zero(rng):
    q, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    q_mask = np.array([[1, 0, 1], [1, 1, 1]], bool)
    v_mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], bool)
    out, w = Attention()([q, v], mask=[q_mask, v_mask], return_attention_scores=True)
    assert np.all(w[~np.broadcast_to(v_mask[:, None, :], w.shape)] < 1e-300)
    assert np.allclose(w.sum(axis=-1), 1)
    assert np.all(out[0, 1] == 0) and np.all(out[1] != 0)
    _, causal = Attention()([q, v], use_causal_mask=True, return_attention_scores=True)
    assert np.all(np.triu(np.ones((3, 5)), k=1)[None].astype(bool) <= (causal < 1e-300))


def test_dropout_in_training_only(rng):
    q, v = rng.standard_normal((4, 6, 3)), rng.standard_normal((4, 7, 3))
    layer = bound(Attention(dropout=0.5, seed=3), [q.shape, v.shape], np.float64)
    _, w = layer.forward([q, v], return_attention_scores=True)
    _, wd = layer.forward([q, v], training=True, return_attention_scores=True)
    dropped = wd == 0
    assert 0.3 < dropped.mean() < 0.7
    assert np.allclose(wd[~dropped], 2 * w[~dropped])
    dq, dv = layer.backward([np.ones((4, 6, 3)), None])
    assert dq.shape == q.shape and dv.shape == v.shape


# Models ---------------------------------------------------------------------------------------------


def _model(cls, dtype="float32", **call):
    inp = Input((6, 4))
    seq = LSTM(5, return_sequences=True)(Masking(0.0)(inp))
    out = cls()([seq, seq], **call)
    outs = []
    if call.get("return_attention_scores"):
        out, scores = out
        outs = [scores]
    y = Dense(1)(GlobalAveragePooling1D()(out))
    return Model(inp, [y, *outs] if outs else y, dtype=dtype)


def _x(rng):
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    x[0, :2] = 0
    x[1, -1] = 0
    return x


CALLS = [{}, {"use_causal_mask": True}, {"use_causal_mask": True, "return_attention_scores": True}]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: "-".join(c) or "plain")
@pytest.mark.parametrize("cls", [Attention, AdditiveAttention])
def test_model_trains_saves_and_loads(rng, tmp_path, cls, call):
    x = _x(rng)
    model = _model(cls, **call)
    model.compile("adam", "mse")
    ys = [np.ones((3, 1))] + ([np.zeros((3, 6, 6))] if call.get("return_attention_scores") else [])
    model.fit(x, ys if len(ys) > 1 else ys[0], epochs=2, verbose=0)
    p = model.predict(x, verbose=0)
    model.save(tmp_path / "m.lstmcore")
    again = load_model(tmp_path / "m.lstmcore").predict(x, verbose=0)
    for a, b in zip(
        again if isinstance(again, list) else [again], p if isinstance(p, list) else [p], strict=True
    ):
        assert np.array_equal(a, b)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("call", CALLS, ids=lambda c: "-".join(c) or "plain")
@pytest.mark.parametrize("cls", [Attention, AdditiveAttention])
def test_keras_files_both_ways(keras, rng, tmp_path, cls, call):
    pytest.importorskip("h5py")
    x = _x(rng)
    model = _model(cls, **call)
    p = model.predict(x, verbose=0)
    ps = p if isinstance(p, list) else [p]
    model.save(tmp_path / "m.keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    kp = theirs.predict(x, verbose=0)
    for a, b in zip(kp if isinstance(kp, (list, tuple)) else [kp], ps, strict=True):
        assert_close(np.asarray(a), b, np.float32, "Keras on lstmcore's file")
    theirs.save(tmp_path / "k.keras")
    mine = load_model(tmp_path / "k.keras", compile=False).predict(x, verbose=0)
    for a, b in zip(mine if isinstance(mine, list) else [mine], ps, strict=True):
        assert_close(a, b, np.float32, "lstmcore on Keras's file")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("call", CALLS, ids=lambda c: "-".join(c) or "plain")
@pytest.mark.parametrize("cls", [Attention, AdditiveAttention])
def test_onnx_export(rng, tmp_path, cls, call, dtype):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    x = _x(rng).astype(dtype)
    model = _model(cls, dtype, **call)
    p = model.predict(x, verbose=0)
    model.export(tmp_path / "m.onnx", format="onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(None, {session.get_inputs()[0].name: x})
    for a, b in zip(got, p if isinstance(p, list) else [p], strict=True):
        assert_close(a, b, dtype, "ONNX Runtime")


# Bad arguments ----------------------------------------------------------------------------------------


def test_bad_arguments_and_inputs(rng):
    q, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    with pytest.raises(ValueError, match="score_mode must be 'dot' or 'concat'"):
        Attention(score_mode="general")
    with pytest.raises(ValueError, match="dropout must be a float in"):
        AdditiveAttention(dropout=1.0)
    with pytest.raises(ValueError, match=r"takes a list of inputs, \[query, value\]"):
        Attention()(q)
    with pytest.raises(ValueError, match="got 4 inputs"):
        Attention()([q, v, v, v])
    with pytest.raises(ValueError, match="the query and key need the same features"):
        Attention()([q, rng.standard_normal((2, 5, 3))])
    with pytest.raises(ValueError, match="the query and key need the same features"):
        Attention()([q, v, rng.standard_normal((2, 4, 4))])
    with pytest.raises(ValueError, match="sequences \\(batch, steps, features\\)"):
        Attention()([q[:, 0], v[:, 0]])
    with pytest.raises(ValueError, match="mask of input 1 must be a bool array of shape \\(2, 5\\)"):
        Attention()([q, v], mask=[None, np.ones((2, 4), bool)])
    with pytest.raises(ValueError, match="mask is a list"):
        Attention()([q, v], mask=np.ones((2, 3), bool))
    with pytest.raises(TypeError, match="unexpected call argument 'causal'"):
        Attention()([q, v], causal=True)
    with pytest.raises(TypeError, match="unexpected call argument 'use_causal_mask'"):
        Dense(2)(q, use_causal_mask=True)
    layer = Attention()
    layer([q, v])
    with pytest.raises(RuntimeError, match="needs a forward call with training=True"):
        layer.backward(np.ones((2, 3, 4)))
    inp = Input((None, 4))
    with pytest.raises(ValueError, match="its weight 'scale' needs the query's feature size"):
        AdditiveAttention()([Input((3, None)), inp])


# MultiHeadAttention in models ------------------------------------------------------------------------


def test_multi_head_attention_config_is_keras(keras):
    kw = {"num_heads": 3, "key_dim": 4, "value_dim": 2, "output_shape": 5, "dropout": 0.1, "use_bias": False}
    theirs = keras.layers.MultiHeadAttention(**kw)
    mine = layers.MultiHeadAttention(**kw)
    for key, value in mine.get_config().items():
        if key not in ("name", "input_shape", "kernel_initializer", "bias_initializer", "output_shape"):
            assert theirs.get_config()[key] == value, key
    assert list(theirs.get_config()["output_shape"]) == mine.get_config()["output_shape"]
    again = layers.MultiHeadAttention.from_config(theirs.get_config())
    assert again.get_config() == {**mine.get_config(), "name": theirs.name, "dtype": "float32"}
    theirs.build((None, 4, 6), (None, 5, 3))
    mine([np.zeros((1, 4, 6)), np.zeros((1, 5, 3))])
    assert [w.shape for w in mine.weights] == [tuple(w.shape) for w in theirs.weights]


def _transformer(dtype="float32", masked=False, **call):
    """keras.io's time-series transformer block, as written there (x + inputs included)."""
    inputs = Input((6, 4))
    x0 = Masking(0.0)(inputs) if masked else inputs
    x = layers.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.1)(x0, x0, **call)
    outs = []
    if call.get("return_attention_scores"):
        x, scores = x
        outs = [scores]
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Dropout(0.1)(x))
    res = x + x0
    x = layers.Conv1D(filters=5, kernel_size=1, activation="relu")(res)
    x = layers.Conv1D(filters=4, kernel_size=1)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x) + res
    y = Dense(1)(GlobalAveragePooling1D(data_format="channels_first")(x))
    return Model(inputs, [y, *outs] if outs else y, dtype=dtype)


MHA_KINDS = {
    "plain": {},
    "masked": {"masked": True},
    "causal_scores": {"use_causal_mask": True, "return_attention_scores": True},
}


def _mha_x(rng, dtype="float32"):
    x = rng.standard_normal((3, 6, 4)).astype(dtype)
    x[1, -2:] = 0  # padding: steps with no key left under Masking's mask, in a padded query
    return x


@pytest.mark.parametrize("kind", list(MHA_KINDS))
def test_transformer_block_trains_saves_and_loads(rng, tmp_path, kind):
    x = _mha_x(rng)
    model = _transformer(**MHA_KINDS[kind])
    model.compile("adam", "mse")
    scores = "scores" in kind
    ys = [np.ones((3, 1)), np.zeros((3, 2, 6, 6))] if scores else np.ones((3, 1))
    first = np.atleast_1d(model.evaluate(x, ys, verbose=0))[0]
    model.fit(x, ys, epochs=20, verbose=0)
    assert np.atleast_1d(model.evaluate(x, ys, verbose=0))[0] < first
    p = model.predict(x, verbose=0)
    model.save(tmp_path / "m.lstmcore")
    again = load_model(tmp_path / "m.lstmcore").predict(x, verbose=0)
    for a, b in zip(again if scores else [again], p if scores else [p], strict=True):
        assert np.array_equal(a, b)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kind", ["plain", "masked"])
def test_transformer_block_keras_files_both_ways(keras, rng, tmp_path, kind):
    """Keras's fused path differs at a padded query step only in what follows it (the layer's
    output there), so the files are compared where the padded rows are not read: inputs with no
    padded step in the masked model's file check."""
    pytest.importorskip("h5py")
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    model = _transformer(**MHA_KINDS[kind])
    p = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    assert_close(np.asarray(theirs.predict(x, verbose=0)), p, np.float32, "Keras on lstmcore's file")
    theirs.save(tmp_path / "k.keras")
    mine = load_model(tmp_path / "k.keras", compile=False)
    assert_close(mine.predict(x, verbose=0), p, np.float32, "lstmcore on Keras's file")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", list(MHA_KINDS))
def test_transformer_block_onnx_export(rng, tmp_path, kind, dtype):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    x = _mha_x(rng, dtype)
    model = _transformer(dtype, **MHA_KINDS[kind])
    p = model.predict(x, verbose=0)
    model.export(tmp_path / "m.onnx", format="onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(None, {session.get_inputs()[0].name: x})
    for a, b in zip(got, p if isinstance(p, list) else [p], strict=True):
        assert_close(a, b, dtype, "ONNX Runtime")
    back = load_model(tmp_path / "m.onnx").predict(x, verbose=0)
    for a, b in zip(
        back if isinstance(back, list) else [back], p if isinstance(p, list) else [p], strict=True
    ):
        assert_close(a, b, dtype, "lstmcore's ONNX loader")


def test_multi_head_attention_bad_arguments(rng):
    q, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    for kw, match in [
        ({"num_heads": 0, "key_dim": 2}, "num_heads must be a positive int"),
        ({"num_heads": 2, "key_dim": 2, "attention_axes": (1, 2)}, "attends over the time axis"),
        ({"num_heads": 2, "key_dim": 2, "use_gate": True}, "no gated heads"),
        ({"num_heads": 2, "key_dim": 2, "sliding_window": 3}, "no sliding_window"),
        ({"num_heads": 2, "key_dim": 2, "output_shape": (2, 3)}, "output_shape must be one size"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            layers.MultiHeadAttention(**kw)
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=2)
    with pytest.raises(TypeError, match="needs a query and a value"):
        mha(q)
    with pytest.raises(ValueError, match="attention_mask must have shape \\(2, 3, 5\\)"):
        mha(q, v, attention_mask=np.ones((2, 3, 4), bool))
    with pytest.raises(ValueError, match="key and value need the same steps"):
        layers.MultiHeadAttention(num_heads=2, key_dim=2)(q, v, key=rng.standard_normal((2, 4, 4)))
    inp = Input((3, 4))
    with pytest.raises(TypeError, match="taken on arrays only"):
        layers.MultiHeadAttention(num_heads=2, key_dim=2)(inp, inp, attention_mask=np.ones((1, 3, 3)))
    mha.forward([q, v], training=True)
    with pytest.raises(ValueError, match="the output's gradient must have shape \\(2, 3, 4\\)"):
        mha.backward(np.ones((2, 3, 1)))
    out = mha(q, v, attention_mask=np.tril(np.ones((2, 3, 5), bool)), return_attention_scores=True)
    assert out[1].shape == (2, 2, 3, 5) and np.all(out[1][..., 4] == 0)


def test_multi_head_attention_regularizers_apply_to_every_projection(rng):
    from lstmcore import regularizers

    q = rng.standard_normal((2, 3, 4))
    mha = layers.MultiHeadAttention(
        num_heads=2, key_dim=3, kernel_regularizer="l2", bias_constraint="non_neg"
    )
    mha(q, q)
    kernels = [n for n in mha.params if n.endswith("/kernel")]
    assert len(kernels) == 4
    assert mha.penalty() == pytest.approx(sum(regularizers.L2()(mha.params[n]) for n in kernels))
    for n in mha.params:
        if n.endswith("/bias"):
            mha.params[n][...] = -1
    mha.constrain()
    assert all((mha.params[n] == 0).all() for n in mha.params if n.endswith("/bias"))


# Dot ----------------------------------------------------------------------------------------------------

DOT_CASES = [  # (shape of x1, shape of x2, axes), batch left out
    ((4,), (4,), 1),
    ((3, 4), (5, 4), (2, 2)),
    ((3, 4), (3, 5), (1, 1)),
    ((3, 4), (4, 5), [2, 1]),
    ((4,), (5, 4), (1, 2)),
    ((5, 4), (4,), (2, 1)),
    ((2, 3, 4), (5, 3, 2), (2, 2)),
    ((3, 4), (5, 4), -1),
    ((5, 3), (5, 2, 2), 1),
]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("s1, s2, axes", DOT_CASES)
def test_dot_shapes_and_config_are_keras(keras, s1, s2, axes, normalize):
    theirs = keras.layers.Dot(axes=axes, normalize=normalize)
    mine = layers.Dot(axes=axes, normalize=normalize)
    assert mine.output_shape([s1, s2]) == theirs.compute_output_shape([(None, *s1), (None, *s2)])[1:]
    config = json.loads(json.dumps(theirs.get_config()))  # as a .keras file holds it: tuples are lists
    assert {k: config[k] for k in ("axes", "normalize")} == {
        k: mine.get_config()[k] for k in ("axes", "normalize")
    }
    again = layers.Dot.from_config(config)
    assert again.axes == mine.axes and again.normalize == normalize


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("s1, s2, axes", DOT_CASES)
def test_dot_onnx_export_and_back(rng, tmp_path, s1, s2, axes, normalize, dtype):
    """ONNX Runtime and lstmcore's loader on the exported Dot give predict's outputs."""
    pytest.importorskip("onnx")
    a, b = Input(s1), Input(s2)
    model = Model([a, b], layers.Dot(axes=axes, normalize=normalize)([a, b]), dtype=dtype)
    xs = [rng.standard_normal((3, *s1)).astype(dtype), rng.standard_normal((3, *s2)).astype(dtype)]
    want = model.predict(xs, verbose=0)
    path = tmp_path / "m.onnx"
    model.export(path, format="onnx", verbose=False)
    assert_close(load_model(path).predict(xs, verbose=0), want, dtype, "lstmcore's loader")
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path))
    got = session.run(None, {i.name: x for i, x in zip(session.get_inputs(), xs, strict=True)})[0]
    assert_close(got, want, dtype, "ONNX Runtime")


def test_dot_of_zero_vectors_is_zero_when_normalized(rng):
    """Keras's normalize keeps a zero vector 0 (its scale capped at 1 / epsilon): no NaN, and a
    finite gradient."""
    x1, x2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    x1[0, 1] = 0
    layer = layers.Dot(axes=-1, normalize=True)
    y = layer.forward([x1, x2], training=True)
    assert np.isfinite(y).all() and (y[0, 1] == 0).all()
    d1, d2 = layer.backward(np.ones_like(y))
    assert np.isfinite(d1).all() and np.isfinite(d2).all()


def test_dot_bad_arguments_and_inputs(rng):
    x1, x2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    for axes, exc, fragment in [
        ((1, 2, 3), ValueError, "pair of ints"),
        ("last", TypeError, "'last'"),
        ([1.0, 2], TypeError, "[1.0, 2]"),
        (True, TypeError, "True"),
    ]:
        with pytest.raises(exc) as info:
            layers.Dot(axes=axes)
        assert fragment in str(info.value)
    with pytest.raises(TypeError, match="normalize must be a bool"):
        layers.Dot(axes=1, normalize="yes")
    with pytest.raises(ValueError, match="batch axis 0"):
        layers.Dot(axes=0)([x1, x2])
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        layers.Dot(axes=3)([x1, x2])
    with pytest.raises(ValueError, match=r"sizes on those axes differ \(3 and 5\)"):
        layers.Dot(axes=1)([x1, x2])
    with pytest.raises(ValueError, match="takes 2 inputs, got 3"):
        layers.Dot(axes=2)([x1, x2, x2])
    with pytest.raises(ValueError, match="batch sizes differ"):
        layers.Dot(axes=2)([x1, x2[:1]])
    layer = layers.Dot(axes=2)
    layer([x1, x2])
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones((2, 3, 5)))
    assert layer.compute_mask([x1, x2], [np.ones((2, 3), bool), None]) is None

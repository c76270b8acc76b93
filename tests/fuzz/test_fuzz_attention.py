"""Fuzz of the attention layers (layers/attention.py) and Dot (layers/merging.py):

1. ``test_attention_properties``: Attention (dot or concat, with or without scale),
   AdditiveAttention or MultiHeadAttention (heads, key and value widths, output size, biases) on
   drawn shapes (key given or not, value features apart from the key's),
   masks (any pattern, rows with no valid step), use_causal_mask, return_attention_scores, float32
   or float64: the outputs have the shapes ``output_shapes`` announces, the input's dtype and
   finite values; the weights are a distribution over the value steps that gives a masked step
   nothing where the row has a valid one; masked query steps output 0; the config makes a layer
   with the same outputs; in float64 the backward is the derivative of sum(out * dy) (+ scores)
   along a random direction of every input and weight (central differences).
2. ``test_junk_arguments_raise_value_or_type_errors``: junk in the arguments, the inputs, the
   masks and the call arguments: ValueError or TypeError, nothing else.
3. ``test_dot_properties``: Dot on drawn ranks, axes and normalize against np.einsum, the shapes
   announced, the config, the backward by central differences; junk axes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lstmcore import layers
from lstmcore.params import ParameterBuffer

OK = (ValueError, TypeError)
JUNK = st.sampled_from([None, -1, 0, 1.5, float("nan"), True, "x", "", (), [3], {"a": 1}, object(), b"1"])


@st.composite
def attention_cases(draw):
    cls = draw(st.sampled_from(["Attention", "AdditiveAttention", "MultiHeadAttention"]))
    if cls == "MultiHeadAttention":
        kw = {"num_heads": draw(st.integers(1, 3)), "key_dim": draw(st.integers(1, 4))}
        kw["value_dim"] = draw(st.one_of(st.none(), st.integers(1, 4)))
        kw["output_shape"] = draw(st.one_of(st.none(), st.integers(1, 4)))
        kw["use_bias"] = draw(st.booleans())
    else:
        kw = {"use_scale": draw(st.booleans())}
    if cls == "Attention":
        kw["score_mode"] = draw(st.sampled_from(["dot", "concat"]))
    B, Tq, Tv = draw(st.integers(1, 4)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    d, dv = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    key = draw(st.booleans())
    shapes = [(B, Tq, d), (B, Tv, dv if key else d)] + ([(B, Tv, d)] if key else [])
    if cls == "MultiHeadAttention":  # its query, value and key each of any width
        shapes = [(B, Tq, draw(st.integers(1, 5))), *[(B, Tv, draw(st.integers(1, 5))) for _ in shapes[1:]]]
    masks = None
    if draw(st.booleans()):
        masks = [
            np.array(draw(st.lists(st.booleans(), min_size=B * s[1], max_size=B * s[1]))).reshape(B, s[1])
            if draw(st.booleans())
            else None
            for s in shapes[: 3 if cls == "MultiHeadAttention" else 2]
        ]
    call = {k: draw(st.booleans()) for k in ("use_causal_mask", "return_attention_scores")}
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return cls, kw, shapes, masks, call, dtype, draw(st.integers(0, 2**32 - 1))


def _bound(layer, shapes, dtype, rng):
    layer.build([s[1:] for s in shapes])
    specs = layer.weight_specs(layer.build_shape)
    layer.bind(ParameterBuffer([(n, s) for n, s, _ in specs], dtype), "")
    for n, s, _ in specs:
        layer.params[n][...] = rng.uniform(0.3, 1.5, s)
    return layer


@given(case=attention_cases())
def test_attention_properties(case):
    cls, kw, shapes, masks, call, dtype, seed = case
    rng = np.random.default_rng(seed)
    layer = _bound(getattr(layers, cls)(**kw), shapes, dtype, rng)
    xs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    out = layer.forward(xs, mask=masks, **call)
    outs = list(out) if call["return_attention_scores"] else [out]
    assert [o.shape[1:] for o in outs] == [tuple(s) for s in layer.output_shapes(layer.build_shape, **call)]
    assert all(o.dtype == dtype and np.isfinite(o).all() for o in outs)
    B, Tq, Tv = shapes[0][0], shapes[0][1], shapes[1][1]
    mha = cls == "MultiHeadAttention"
    keep = np.ones((B, Tq, Tv), bool)
    for k, m in enumerate(masks or []):
        if m is not None and k > 0 and (k < len(shapes)):
            keep &= m[:, None, :]
        elif m is not None and k == 0 and mha:  # MultiHeadAttention's query mask is in its softmax
            keep &= m[:, :, None]
    if call["use_causal_mask"]:
        keep &= np.tril(np.ones((Tq, Tv), bool))[None]
    some = keep.any(axis=-1)  # (B, Tq): query steps with a key to attend to
    if call["return_attention_scores"]:
        w = outs[1] if not mha else outs[1].transpose(1, 0, 2, 3)  # (heads,) B, Tq, Tv
        np.testing.assert_allclose(w.sum(axis=-1)[..., some], 1, rtol=1e-5)
        assert np.all(w[..., some[..., None] & ~keep] < 1e-30)
        if mha:  # Keras's masked softmax: a query step with no key attends to nothing
            assert np.all(w[..., ~some, :] == 0)
    if masks is not None and masks[0] is not None and not mha:
        assert np.all(outs[0][~masks[0]] == 0)
    again = getattr(layers, cls).from_config(layer.get_config())
    again = _bound(again, shapes, dtype, rng)
    for n in layer.params:
        again.params[n][...] = layer.params[n]
    for a, b in zip(
        outs,
        [again.forward(xs, mask=masks, **call)] if len(outs) == 1 else again.forward(xs, mask=masks, **call),
        strict=True,
    ):
        assert np.array_equal(a, b)
    if dtype != np.float64:
        return
    rows = some[:, None, :, None] if mha else some[..., None]  # no row of noise (the scores: heads)
    dys = [rng.standard_normal(o.shape) * (rows if k else some[..., None]) for k, o in enumerate(outs)]

    def loss():
        o = layer.forward(xs, mask=masks, **call)
        return sum(float((a * d).sum()) for a, d in zip(list(o) if len(outs) > 1 else [o], dys, strict=True))

    layer.forward(xs, training=True, mask=masks, **call)
    dxs = layer.backward(dys if len(outs) > 1 else dys[0])
    params = list(layer.params.values())
    grads = [layer.grads[n].copy() for n in layer.params]
    directions = [rng.standard_normal(a.shape) for a in xs + params]
    analytic = sum(float((g * u).sum()) for g, u in zip(list(dxs) + grads, directions, strict=True))
    eps = 1e-6
    for a, u in zip(xs + params, directions, strict=True):
        a += eps * u
    up = loss()
    for a, u in zip(xs + params, directions, strict=True):
        a -= 2 * eps * u
    down = loss()
    numeric = (up - down) / (2 * eps)
    assert abs(analytic - numeric) <= 1e-5 * max(1.0, abs(numeric)), (analytic, numeric)


@st.composite
def junk_cases(draw):
    where = draw(st.sampled_from(["use_scale", "score_mode", "dropout", "seed", "inputs", "mask", "call"]))
    return draw(st.sampled_from(["Attention", "AdditiveAttention", "MultiHeadAttention"])), where, draw(JUNK)


@given(case=junk_cases())
def test_junk_arguments_raise_value_or_type_errors(case):
    cls, where, junk = case
    q, v = np.ones((2, 3, 4)), np.ones((2, 5, 4))
    base = {"num_heads": 2, "key_dim": 3} if cls == "MultiHeadAttention" else {}
    try:
        if where in ("use_scale", "score_mode", "dropout", "seed"):
            if where == "score_mode" and cls == "AdditiveAttention":
                where = "seed"
            if cls == "MultiHeadAttention" and where in ("use_scale", "score_mode"):
                where = {"use_scale": "key_dim", "score_mode": "value_dim"}[where]
            getattr(layers, cls)(**{**base, where: junk})([q, v])
        elif where == "inputs":
            getattr(layers, cls)(**base)([q, junk])
        elif where == "mask":
            getattr(layers, cls)(**base)([q, v], mask=[None, junk])
        else:
            getattr(layers, cls)(**base)([q, v], **{str(junk): True})
    except OK:
        return


@given(
    r1=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    r2=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    pick=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    form=st.sampled_from(["pair", "negative", "int"]),
    normalize=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    junk=st.one_of(st.none(), JUNK),
    seed=st.integers(0, 2**32 - 1),
)
def test_dot_properties(r1, r2, pick, form, normalize, dtype, junk, seed):
    """Dot on drawn ranks and axes (a pair, negative, or one int where the sizes allow): the output
    is np.einsum's batch dot of the (normalized) inputs, of the announced shape and dtype; the config
    round-trips; in float64 the backward is the derivative along a random direction of each input;
    junk axes raise ValueError or TypeError."""
    rng = np.random.default_rng(seed)
    a1, a2 = pick[0] % len(r1) + 1, pick[1] % len(r2) + 1  # with the batch axis
    r2[a2 - 1] = r1[a1 - 1]
    axes = {"pair": [a1, a2], "negative": (a1 - len(r1) - 1, a2 - len(r2) - 1), "int": a1}[form]
    if form == "int" and a1 <= len(r2) and r2[a1 - 1] == r1[a1 - 1]:
        a2 = a1  # one int names the same axis of both
    elif form == "int":
        axes = [a1, a2]
    if junk is not None:
        try:
            layers.Dot(axes=junk, normalize=normalize)([np.zeros((2, *r1)), np.zeros((2, *r2))])
        except (ValueError, TypeError):
            pass
        return
    layer = layers.Dot(axes=axes, normalize=normalize)
    b1, b2 = a1, a2
    x1 = rng.standard_normal((2, *r1)).astype(dtype)
    x2 = rng.standard_normal((2, *r2)).astype(dtype)
    y = layer.forward([x1, x2], training=True)
    assert y.dtype == dtype and y.shape == (2, *layer.output_shape([tuple(r1), tuple(r2)]))
    n1 = x1 / np.sqrt((x1.astype(np.float64) ** 2).sum(axis=b1, keepdims=True)) if normalize else x1
    n2 = x2 / np.sqrt((x2.astype(np.float64) ** 2).sum(axis=b2, keepdims=True)) if normalize else x2
    letters = "cdefghij"
    s1 = "b" + "".join("k" if i == b1 else letters[i] for i in range(1, x1.ndim))
    s2 = "b" + "".join("k" if i == b2 else letters[4 + i] for i in range(1, x2.ndim))
    out = "b" + s1[1:].replace("k", "") + s2[1:].replace("k", "")
    want = np.einsum(f"{s1},{s2}->{out}", n1.astype(np.float64), n2.astype(np.float64))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.reshape(want.shape), want, rtol=tol, atol=tol)  # (B, 1) for two (B, K)
    assert layers.Dot.from_config(layer.get_config()).get_config() == layer.get_config()
    dy = rng.standard_normal(y.shape).astype(dtype)
    d1, d2 = layer.backward(dy)
    assert d1.shape == x1.shape and d2.shape == x2.shape and d1.dtype == dtype
    if dtype == np.float64:
        for x, d in ((x1, d1), (x2, d2)):
            u = rng.standard_normal(x.shape)
            x += 1e-6 * u
            up = float((layer.forward([x1, x2]) * dy).sum())
            x -= 2e-6 * u
            down = float((layer.forward([x1, x2]) * dy).sum())
            x += 1e-6 * u
            numeric = (up - down) / 2e-6
            assert abs(numeric - float((d * u).sum())) <= 1e-6 * (1 + abs(numeric))

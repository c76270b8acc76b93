"""ONNX export (``lstmcore.io.onnx_export``, ``model.export(path, format="onnx")``): ONNX Runtime
runs the exported model with ``predict``'s outputs.

Every model here gets random weights (biases and BatchNormalization's moving statistics
included), passes ``onnx.checker.check_model(full_check=True)``, and is run by ONNX Runtime on
inputs of several batch sizes and time lengths (the axes are symbolic) against ``predict``:
float32 to rtol 1e-5 (atol 1e-5), float64 to rtol 1e-10 (atol 1e-12). The recurrent layers are
exported in both forms (``recurrent="nodes"``: ONNX's LSTM/GRU/RNN operators, float32 only since
ONNX Runtime has no float64 kernels of them; ``"scan"``: a Scan over the cell's step, both
dtypes). Masks are tried with padding at the end, at the front, holes and rows with no valid step.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import lstmcore
from lstmcore import activations
from lstmcore import layers as L
from lstmcore.io import onnx_export

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = {np.dtype(np.float32): (1e-5, 1e-5), np.dtype(np.float64): (1e-10, 1e-12)}
# (dtype, recurrent form): ONNX Runtime runs float32 in both forms, float64 as scans.
FORMS = [
    pytest.param("float32", "nodes", id="f32-nodes"),
    pytest.param("float32", "scan", id="f32-scan"),
    pytest.param("float64", "scan", id="f64-scan"),
]
DTYPES = ["float32", "float64"]
# The largest differences seen, by kind of model (read by hand: see the report of issue 14).
MAX_DIFFS: dict = {}


# Helpers ------------------------------------------------------------------------------------------


def _randomize(model, seed=0):
    """Random weights at a Glorot-like scale, positive moving variances."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for name, w in layer.params.items():
            if name.endswith("moving_variance"):
                w[...] = rng.uniform(0.5, 2.0, w.shape)
            elif name.endswith("embeddings"):
                w[...] = rng.standard_normal(w.shape)
            else:
                fan_in = w.shape[0] if w.ndim > 1 else max(w.shape[0], 1)
                w[...] = rng.standard_normal(w.shape) * min(1.0, 1.5 / np.sqrt(fan_in))
    model.set_weights(model.get_weights())  # the layers hear of the change
    return model


def _session(proto):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _predict(model, xs):
    with warnings.catch_warnings():  # a mask stopping at a layer without masking warns
        warnings.simplefilter("ignore")
        out = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    return out if isinstance(out, list) else [out]


def check(model, batches, kind, recurrent="auto", opset=None):
    """Export ``model`` and compare ONNX Runtime with predict on each list of input arrays.
    ``kind``: a name for the largest differences, or a list of them (one per output)."""
    proto = onnx_export.model_to_onnx(model, opset, recurrent=recurrent)
    onnx.checker.check_model(proto, full_check=True)
    sess = _session(proto)
    names = [i.name for i in sess.get_inputs()]
    outputs = [o.name for o in sess.get_outputs()]
    kinds = kind if isinstance(kind, list) else [kind] * len(outputs)
    rtol, atol = TOL[np.dtype(model.dtype)]
    for xs in batches:
        xs = [np.asarray(x, dtype=model.dtype) for x in (xs if isinstance(xs, list) else [xs])]
        got = sess.run(None, dict(zip(names, xs, strict=True)))
        want = _predict(model, xs)
        assert len(got) == len(want) == len(kinds)
        for name, kind_k, a, b in zip(outputs, kinds, got, want, strict=True):
            where = f"output {name!r} ({kind_k}) on inputs {[x.shape for x in xs]}"
            assert a.dtype == b.dtype and a.shape == b.shape, (
                f"{where}: {a.dtype} {a.shape} != {b.dtype} {b.shape}"
            )
            finite = np.isfinite(b)
            assert np.array_equal(a[~finite], b[~finite], equal_nan=True), f"{where}: inf/NaN differ"
            a, b = a[finite].astype(np.float64), b[finite].astype(np.float64)
            diff = np.abs(a - b)
            ok = diff <= atol + rtol * np.abs(b)
            key = (kind_k, str(np.dtype(model.dtype)), recurrent)
            old = MAX_DIFFS.get(key, (0.0, 0.0))
            rel = float(diff.max(initial=0) / max(np.abs(b).max(initial=0), 1e-30))  # to the largest value
            MAX_DIFFS[key] = (max(old[0], float(diff.max(initial=0))), max(old[1], rel))
            assert ok.all(), (
                f"{where}: {int((~ok).sum())} of {ok.size} differ; largest abs diff {diff.max():.3e}, "
                f"first at flat index {int(np.argmax(~ok))}"
            )
    return proto


def _seqs(rng, F, shapes=((3, 5), (1, 1), (4, 8))):
    return [rng.standard_normal((B, T, F)) for B, T in shapes]


def _ids(rng, shapes, vocab, padding):
    """Id sequences with 0 (the padding id) placed as ``padding`` says: "end", "front", "holes"."""
    out = []
    for B, T in shapes:
        ids = rng.integers(1, vocab, size=(B, T))
        for b in range(B):
            n = int(rng.integers(0, T + 1)) if b else T  # row 0 full, others any length (0 too)
            if padding == "end":
                ids[b, n:] = 0
            elif padding == "front":
                ids[b, : T - n] = 0
            else:
                ids[b, rng.random(T) < 0.4] = 0
        if B > 2:
            ids[-1] = 0  # a row with no valid step
        out.append(ids.astype(np.float64))
    return out


def _masked_floats(rng, shapes, F, padding, value=0.0):
    """Float sequences whose masked steps (every feature equal to ``value``) follow ``padding``."""
    out = []
    for x, ids in zip(_seqs(rng, F, shapes), _ids(rng, shapes, 5, padding), strict=True):
        x[ids == 0] = value
        out.append(x)
    return out


RECURRENT = {
    "lstm": lambda **kw: L.LSTM(4, **kw),
    "gru": lambda **kw: L.GRU(4, **kw),
    "gru_reset_before": lambda **kw: L.GRU(4, reset_after=False, **kw),
    "simple_rnn": lambda **kw: L.SimpleRNN(4, **kw),
}


# Recurrent layers ---------------------------------------------------------------------------------


def _branches(x, make, options):
    """One output per option set: ``make(**options)`` called on x (a list of options)."""
    return [make(**o)(x) for o in options]


SEQ_BACK = [{"return_sequences": rs, "go_backwards": gb} for rs in (False, True) for gb in (False, True)]


@pytest.mark.parametrize("dtype, recurrent", FORMS)
def test_recurrent_layers(dtype, recurrent, rng):
    """LSTM, GRU (reset_after True and False) and SimpleRNN, each with return_sequences and
    go_backwards on and off."""
    x = L.Input((None, 3), name="x")
    outs, kinds = [], []
    for cell, make in RECURRENT.items():
        outs += _branches(x, make, SEQ_BACK)
        kinds += [cell] * len(SEQ_BACK)
    model = _randomize(lstmcore.Model(x, outs, dtype=dtype))
    proto = check(model, _seqs(rng, 3), kinds, recurrent)
    ops = [n.op_type for n in proto.graph.node]
    if recurrent == "nodes":
        assert (ops.count("LSTM"), ops.count("GRU"), ops.count("RNN"), ops.count("Scan")) == (4, 8, 4, 0)
    else:
        assert ops.count("Scan") == 16 and not {"LSTM", "GRU", "RNN"} & set(ops)


@pytest.mark.parametrize("dtype, recurrent", FORMS)
@pytest.mark.parametrize("cell", list(RECURRENT))
def test_recurrent_activations(dtype, recurrent, cell, rng):
    """Every activation the cells have, in the candidate's place and, where it is bounded, the gates'."""
    options = []
    for activation in activations.RECURRENT_NAMES:
        if activation == "softplus" and recurrent == "nodes":
            continue  # ONNX Runtime's nodes overflow: "auto" takes a Scan (test_softplus_cells_scan)
        o = {"activation": activation, "return_sequences": True}
        if cell != "simple_rnn":
            bounded = activation in ("sigmoid", "softsign", "tanh")
            o["recurrent_activation"] = activation if bounded else "hard_sigmoid"
        options.append(o)
    x = L.Input((None, 3), name="x")
    model = _randomize(lstmcore.Model(x, _branches(x, RECURRENT[cell], options), dtype=dtype))
    kinds = [f"{cell} {o['activation']}" for o in options]
    check(model, _seqs(rng, 3, ((3, 4), (2, 6))), kinds, recurrent)


def test_softplus_cells_scan_in_auto(rng):
    """ONNX Runtime's recurrent nodes compute softplus as log(1 + exp(x)), inf past 88 in float32:
    "auto" runs such a layer as a Scan, the others as nodes."""
    model = lstmcore.Sequential(
        [L.Input((None, 3)), L.SimpleRNN(4, activation="softplus", return_sequences=True), L.LSTM(3)]
    )
    model = _randomize(model)
    model.layers[0].params["recurrent_kernel"][...] = np.eye(4)  # h grows past 88
    x = (rng.standard_normal((2, 60, 3)) + 2).astype(np.float32)
    assert model.layers[0](x).max() > 88
    proto = check(model, [x], "simple_rnn softplus large")
    assert [n.op_type for n in proto.graph.node if n.op_type in ("Scan", "LSTM", "RNN")] == ["Scan", "LSTM"]
    alone = lstmcore.Sequential([L.Input((None, 3)), model.layers[0]])
    nodes = _session(onnx_export.model_to_onnx(alone, recurrent="nodes"))
    assert not np.isfinite(nodes.run(None, {"input_layer": x})[0]).all()


@pytest.mark.parametrize("dtype, recurrent", FORMS)
def test_recurrent_without_bias_and_stacked(dtype, recurrent, rng):
    model = lstmcore.Sequential(
        [
            L.Input((None, 5)),
            L.LSTM(6, return_sequences=True, use_bias=False, dropout=0.3, recurrent_dropout=0.2),
            L.GRU(5, return_sequences=True, go_backwards=True),
            L.SimpleRNN(4, return_sequences=True),
            L.LSTM(3),
            L.Dense(2),
        ],
        dtype=dtype,
    )
    check(_randomize(model), _seqs(rng, 5), "stacked", recurrent)


@pytest.mark.parametrize("dtype, recurrent", FORMS)
def test_bidirectional(dtype, recurrent, rng):
    """Each merge mode, cell and return_sequences; with "nodes", one bidirectional node each."""
    x = L.Input((None, 3), name="x")
    outs, kinds = [], []
    for mode in ("concat", "sum", "mul", "ave"):
        for cell in ("lstm", "gru", "simple_rnn"):
            for rs in (False, True):
                outs.append(L.Bidirectional(RECURRENT[cell](return_sequences=rs), merge_mode=mode)(x))
                kinds.append(f"bidirectional {mode}")
    model = _randomize(lstmcore.Model(x, outs, dtype=dtype))
    proto = check(model, _seqs(rng, 3), kinds, recurrent)
    if recurrent == "nodes":
        nodes = [n for n in proto.graph.node if n.op_type in ("LSTM", "GRU", "RNN")]
        directions = [
            onnx.helper.get_attribute_value(a) for n in nodes for a in n.attribute if a.name == "direction"
        ]
        assert directions == [b"bidirectional"] * len(outs)


@pytest.mark.parametrize("dtype, recurrent", FORMS)
def test_bidirectional_two_nodes_and_odd_directions(dtype, recurrent, rng):
    """A backward layer of another width, a wrapped layer that reads backwards, stacked."""
    first = L.Bidirectional(
        L.LSTM(4, return_sequences=True), backward_layer=L.LSTM(3, return_sequences=True, go_backwards=True)
    )
    second = L.Bidirectional(L.GRU(3, return_sequences=True, go_backwards=True), merge_mode="sum")
    model = lstmcore.Sequential(
        [L.Input((None, 3)), first, second, L.Bidirectional(L.SimpleRNN(2))], dtype=dtype
    )
    check(_randomize(model), _seqs(rng, 3), "bidirectional stacked", recurrent)


@pytest.mark.parametrize("dtype, recurrent", FORMS)
def test_functional_bidirectional_states_and_merge_none(dtype, recurrent, rng):
    x = L.Input((None, 3), name="x")
    seq_f, seq_b = L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode=None)(x)
    out, h_f, c_f, h_b, c_b = L.Bidirectional(L.LSTM(3, return_state=True))(L.concatenate([seq_f, seq_b]))
    y = L.Bidirectional(L.LSTM(3, return_sequences=True))(seq_f, initial_state=[h_f, c_f, h_b, c_b])
    model = _randomize(lstmcore.Model(x, [out, h_b, c_f, y], dtype=dtype))
    check(model, _seqs(rng, 3), "bidirectional states", recurrent)


@pytest.mark.parametrize("dtype, recurrent", FORMS)
@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_seq2seq_return_state_and_initial_state(dtype, recurrent, cell, rng):
    make = {"lstm": L.LSTM, "gru": L.GRU, "simple_rnn": L.SimpleRNN}[cell]
    enc_in, dec_in = L.Input((None, 3), name="encoder_in"), L.Input((None, 2), name="decoder_in")
    _, *states = make(5, return_state=True)(enc_in)
    seq, *finals = make(5, return_sequences=True, return_state=True, go_backwards=True)(
        dec_in, initial_state=states
    )
    outputs = [L.TimeDistributed(L.Dense(3, activation="softmax"))(seq), finals[-1]]
    model = _randomize(lstmcore.Model([enc_in, dec_in], outputs, dtype=dtype))
    batches = [
        [rng.standard_normal((B, Te, 3)), rng.standard_normal((B, Td, 2))]
        for B, Te, Td in ((3, 5, 2), (1, 1, 6))
    ]
    proto = check(model, batches, "seq2seq", recurrent)
    assert [i.name for i in proto.graph.input] == ["encoder_in", "decoder_in"]
    dims = [[d.dim_param for d in i.type.tensor_type.shape.dim] for i in proto.graph.input]
    assert dims == [["batch", "encoder_in_time", ""], ["batch", "decoder_in_time", ""]]


@pytest.mark.parametrize("dtype, recurrent", FORMS)
def test_shared_recurrent_layer(dtype, recurrent, rng):
    a, b = L.Input((None, 3), name="a"), L.Input((None, 3), name="b")
    shared = L.LSTM(4)
    model = _randomize(lstmcore.Model([a, b], L.subtract([shared(a), shared(b)]), dtype=dtype))
    proto = check(
        model, [[rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 6, 3))]], "shared", recurrent
    )
    assert len(proto.graph.initializer) == len({i.name for i in proto.graph.initializer})


# Masks --------------------------------------------------------------------------------------------


PADDINGS = ["end", "front", "holes"]


@pytest.mark.parametrize("dtype, recurrent", FORMS)
@pytest.mark.parametrize("padding", PADDINGS)
def test_masked_recurrent(dtype, recurrent, padding, rng):
    """Embedding(mask_zero=True) into each cell, return_sequences and go_backwards on and off."""
    ids = L.Input((None,), name="ids")
    seq = L.Embedding(9, 3, mask_zero=True)(ids)
    outs, kinds = [], []
    for cell in ("lstm", "gru", "gru_reset_before", "simple_rnn"):
        outs += _branches(seq, RECURRENT[cell], SEQ_BACK)
        kinds += [f"masked {padding}"] * len(SEQ_BACK)
    model = _randomize(lstmcore.Model(ids, outs, dtype=dtype))
    check(model, _ids(rng, ((4, 6), (1, 3), (5, 1)), 9, padding), kinds, recurrent)


@pytest.mark.parametrize("dtype, recurrent", FORMS)
@pytest.mark.parametrize("padding", PADDINGS)
def test_masked_zero_output_stacked_and_pooled(dtype, recurrent, padding, rng):
    """Masking (value -1) through Dense, TimeDistributed, Dropout and BatchNormalization (the mask
    passes) into stacked layers, one with zero_output_for_mask, a Bidirectional and a masked
    average."""
    model = lstmcore.Sequential(
        [
            L.Input((None, 2)),
            L.Masking(-1.0),
            L.Dense(3, activation="tanh"),
            L.TimeDistributed(L.Dense(3)),
            L.Dropout(0.2),
            L.BatchNormalization(),
            L.LSTM(4, return_sequences=True, zero_output_for_mask=True),
            L.GRU(3, return_sequences=True, go_backwards=True),
            L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="ave"),
            L.LayerNormalization(),
            L.GlobalAveragePooling1D(),
        ],
        dtype=dtype,
    )
    batches = _masked_floats(rng, ((4, 7), (3, 2)), 2, padding, value=-1.0)
    check(_randomize(model), batches, f"masked {padding}", recurrent)


@pytest.mark.parametrize("dtype, recurrent", FORMS)
@pytest.mark.parametrize("padding", PADDINGS)
def test_masked_bidirectional_with_states(dtype, recurrent, padding, rng):
    ids = L.Input((None,), name="ids")
    seq = L.Embedding(7, 3, mask_zero=True)(ids)
    out, *states = L.Bidirectional(L.LSTM(3, return_sequences=True, return_state=True))(seq)
    again = L.Bidirectional(L.LSTM(3), merge_mode="mul")(out, initial_state=states)
    model = _randomize(lstmcore.Model(ids, [out, again, *states], dtype=dtype))
    check(model, _ids(rng, ((5, 6), (2, 3)), 7, padding), f"masked {padding}", recurrent)


@pytest.mark.parametrize("dtype, recurrent", FORMS)
def test_masked_seq2seq_initial_state(dtype, recurrent, rng):
    """A masked decoder from given states: rows with no valid step keep them."""
    src, tgt = L.Input((None,), name="source"), L.Input((None,), name="target")
    _, h = L.GRU(4, return_state=True)(L.Embedding(6, 3, mask_zero=True)(src))
    y = L.GRU(4, return_sequences=True, go_backwards=True)(
        L.Embedding(6, 3, mask_zero=True)(tgt), initial_state=h
    )
    model = _randomize(lstmcore.Model([src, tgt], L.Dense(2)(y), dtype=dtype))
    batches = [
        list(p) for p in zip(_ids(rng, ((4, 5),), 6, "holes"), _ids(rng, ((4, 3),), 6, "front"), strict=True)
    ]
    check(model, batches, "masked seq2seq", recurrent)


@pytest.mark.parametrize("dtype, recurrent", FORMS)
def test_masks_joined_by_merges(dtype, recurrent, rng):
    """Two masks joined by And in a merge; a mask stopping at GlobalMaxPooling1D (no masking)."""
    a, b = L.Input((None,), name="a"), L.Input((None,), name="b")
    ea, eb = L.Embedding(6, 3, mask_zero=True)(a), L.Embedding(6, 3, mask_zero=True)(b)
    joined = L.add([ea, eb])
    outs = [
        L.LSTM(3, return_sequences=True)(joined),
        L.GRU(3)(L.concatenate([ea, eb])),
        L.GlobalMaxPooling1D()(L.SimpleRNN(2, return_sequences=True)(ea)),
        L.GlobalAveragePooling1D()(L.Dense(2)(joined)),
    ]
    model = _randomize(lstmcore.Model([a, b], outs, dtype=dtype))
    batches = [
        list(p)
        for p in zip(
            _ids(rng, ((5, 6), (3, 2)), 6, "holes"), _ids(rng, ((5, 6), (3, 2)), 6, "end"), strict=True
        )
    ]
    check(model, batches, "masked merges", recurrent)


def test_masks_are_computed_in_the_graph():
    """The mask's lengths reach the LSTM node as sequence_lens, from a ReduceSum of the mask."""
    model = _randomize(
        lstmcore.Sequential([L.Embedding(5, 2, mask_zero=True, input_shape=(None,)), L.LSTM(3)])
    )
    proto = onnx_export.model_to_onnx(model, recurrent="nodes")
    (node,) = [n for n in proto.graph.node if n.op_type == "LSTM"]
    assert node.input[4]  # sequence_lens
    assert "ReduceSum" in [n.op_type for n in proto.graph.node]


# Other layers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_activations(dtype, rng):
    """Every Keras activation lstmcore has, after a Dense and as an Activation layer."""
    x = L.Input((None, 4), name="x")
    outs = [L.Dense(5, activation=name)(x) for name in activations.NAMES]
    outs += [L.Activation(name)(x) for name in activations.NAMES]
    model = _randomize(lstmcore.Model(x, outs, dtype=dtype))
    kinds = [f"activation {name}" for name in activations.NAMES] * 2
    check(model, [rng.standard_normal((3, 4, 4)) * 3, rng.standard_normal((2, 1, 4)) * 10], kinds)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opset", [17, 18, 20])
def test_gelu_and_reductions_across_opsets(dtype, opset, rng):
    model = lstmcore.Sequential(
        [
            L.Input((None, 3)),
            L.Activation("gelu"),
            L.Masking(0.0),
            L.Dense(4),
            L.GlobalAveragePooling1D(),
        ],
        dtype=dtype,
    )
    x = rng.standard_normal((3, 6, 3)) * 4
    x[1, 4:] = 0
    check(_randomize(model), [x, x[:1, :2]], "gelu", opset=opset)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_over_erf_ranges(dtype):
    """gelu(z) = z/2 (1 + erf(z / sqrt 2)) over erf's three ranges (float64: Cephes' approximations,
    which ONNX Runtime lacks as Erf), against lstmcore's (scipy's erf): within 1e-15 |z| in float64,
    1e-6 |z| in float32 (1 + erf cancels for negative z, in both)."""
    z = np.concatenate(
        [np.linspace(-10, 10, 2001), [1e-300, -1e-8, 0.99, 1.0, 1.01, 11.3, 11.4, 30.0, -30.0]]
    )
    z = z.astype(dtype)
    model = lstmcore.Sequential([L.Input((1,)), L.Activation("gelu")], dtype=dtype)
    got = _session(onnx_export.model_to_onnx(model)).run(None, {"input_layer": z.reshape(-1, 1)})[0][:, 0]
    want = activations.gelu(z)
    bound = (1e-15 if dtype == "float64" else 1e-6) * np.abs(z.astype(np.float64))
    assert (np.abs(got.astype(np.float64) - want) <= bound).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_dropout_time_distributed_flatten(dtype, rng):
    model = lstmcore.Sequential(
        [
            L.Embedding(10, 4, input_shape=(5,)),
            L.Dropout(0.5),
            L.TimeDistributed(L.Dense(3, activation="relu")),
            L.Flatten(),
            L.Dense(2, activation="softmax"),
        ],
        dtype=dtype,
    )
    ids = [rng.integers(0, 10, size=(B, 5)).astype(float) for B in (3, 1)]
    proto = check(_randomize(model), ids, "embedding/flatten")
    (inp,) = proto.graph.input
    dims = [d.dim_value or d.dim_param for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 5]  # the Dense after Flatten fixes the length


@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_and_noise_layers(dtype, rng):
    """ReLU (every argument), LeakyReLU, ELU, Softmax over several axes, and the training-only
    layers (identities in the graph)."""
    model = lstmcore.Sequential(
        [
            L.Input((5, 3)),
            L.LSTM(6, return_sequences=True),
            L.SpatialDropout1D(0.3),
            L.GaussianNoise(0.2),
            L.ReLU(max_value=0.4, negative_slope=0.1, threshold=0.05),
            L.LeakyReLU(0.2),
            L.GaussianDropout(0.3),
            L.ELU(alpha=0.7),
            L.ActivityRegularization(l1=0.01),
            L.Dense(4),
            L.ReLU(),
            L.Softmax(axis=[1, 2]),
        ],
        dtype=dtype,
    )
    check(_randomize(model), [rng.standard_normal((B, 5, 3)) for B in (3, 1)], "activation layers")


@pytest.mark.parametrize("dtype", DTYPES)
def test_prelu_identity_permute_padding_cropping_up_sampling(dtype, rng):
    model = lstmcore.Sequential(
        [
            L.Input((5, 3)),
            L.ZeroPadding1D((1, 2)),
            L.LSTM(4, return_sequences=True),
            L.PReLU(shared_axes=[1]),
            L.Identity(),
            L.Cropping1D((2, 1)),
            L.UpSampling1D(2),
            L.Permute((2, 1)),
            L.ZeroPadding1D(1, data_format="channels_first"),
            L.PReLU(alpha_initializer="ones"),
            L.Flatten(),
            L.Dense(2),
        ],
        dtype=dtype,
    )
    model = _randomize(model)
    prelu = next(layer for layer in model.layers if isinstance(layer, L.PReLU))
    prelu.params["alpha"][...] = rng.uniform(0.1, 0.5, prelu.params["alpha"].shape)
    check(model, [rng.standard_normal((B, 5, 3)) for B in (3, 1)], "reshaping layers")


@pytest.mark.parametrize("dtype, recurrent", FORMS)
def test_repeat_vector_autoencoder_and_time_distributed_lstm(dtype, recurrent, rng):
    model = lstmcore.Sequential(
        [
            L.Input((None, 6, 2)),
            L.TimeDistributed(L.LSTM(3)),  # an LSTM over the inner axis of each step
            L.LSTM(4),
            L.RepeatVector(3),
            L.LSTM(4, return_sequences=True),
            L.TimeDistributed(L.Dense(2)),
            L.Reshape((-1,)),
        ],
        dtype=dtype,
    )
    check(
        _randomize(model),
        [rng.standard_normal((2, T, 6, 2)) for T in (4, 1)],
        "repeat/time-distributed",
        recurrent,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_merging_layers(dtype, rng):
    a, b, c = (L.Input((None, 4), name=n) for n in "abc")
    parts = [
        L.concatenate([a, b]),
        L.Concatenate(axis=1)([a, c]),
        L.add([a, b, c]),
        L.subtract([a, b]),
        L.multiply([a, b, c]),
        L.average([a, c]),
        L.maximum([a, b, c]),
        L.minimum([b, c]),
    ]
    flat = [L.GlobalMaxPooling1D()(p) for p in parts]
    model = _randomize(lstmcore.Model([a, b, c], [L.concatenate(flat), parts[0], parts[1]], dtype=dtype))
    check(model, [[rng.standard_normal((B, T, 4)) for _ in range(3)] for B, T in ((3, 5), (1, 2))], "merges")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(dtype, data_format, keepdims, rng):
    x = L.Input((None, 3) if data_format == "channels_last" else (3, None), name="x")
    kw = {"data_format": data_format, "keepdims": keepdims}
    outs = [L.GlobalAveragePooling1D(**kw)(x), L.GlobalMaxPooling1D(**kw)(x)]
    model = lstmcore.Model(x, outs, dtype=dtype)
    shapes = ((3, 7), (1, 1)) if data_format == "channels_last" else ((3, 7), (1, 1))
    batches = [
        rng.standard_normal((B, T, 3) if data_format == "channels_last" else (B, 3, T)) for B, T in shapes
    ]
    check(model, batches, "global pooling")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling(dtype, data_format, padding, rng):
    x = L.Input((None, 3) if data_format == "channels_last" else (3, None), name="x")
    outs = []
    for pool_size, strides in ((2, None), (3, 1), (3, 2), (4, 3)):
        kw = {"strides": strides, "padding": padding, "data_format": data_format}
        outs += [L.MaxPooling1D(pool_size, **kw)(x), L.AveragePooling1D(pool_size, **kw)(x)]
    model = lstmcore.Model(x, outs, dtype=dtype)
    lengths = (4, 5, 8) if padding == "valid" else (1, 4, 7)
    batches = [
        rng.standard_normal((2, T, 3) if data_format == "channels_last" else (2, 3, T)) for T in lengths
    ]
    check(model, batches, ["max pooling", "average pooling"] * 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "options",
    [
        {"padding": "valid"},
        {"padding": "same"},
        {"padding": "causal", "dilation_rate": 2},
        {"padding": "same", "dilation_rate": 2},
        {"padding": "valid", "strides": 2},
        {"padding": "same", "strides": 3},
        {"padding": "same", "groups": 2, "activation": "relu"},
        {"padding": "causal", "data_format": "channels_first", "use_bias": False},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_conv1d(dtype, options, rng):
    first = options.get("data_format") == "channels_first"
    model = lstmcore.Sequential(
        [L.Input((4, None) if first else (None, 4)), L.Conv1D(6, 3, **options)], dtype=dtype
    )
    lengths = (5, 8) if options["padding"] == "valid" and options.get("strides", 1) == 1 else (1, 5, 8)
    lengths = tuple(T for T in lengths if T >= 5 or options["padding"] != "valid")
    batches = [rng.standard_normal((2, 4, T) if first else (2, T, 4)) for T in lengths]
    check(_randomize(model), batches, "conv1d")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "options",
    [
        {"padding": "valid"},
        {"padding": "same"},
        {"padding": "valid", "strides": 3},  # zeros between the taps and past the last
        {"padding": "valid", "strides": 2, "output_padding": 1},
        {"padding": "same", "strides": 2},
        {"padding": "same", "strides": 3, "output_padding": 2, "kernel_size": 4},  # zeros past the end
        {"padding": "same", "dilation_rate": 2, "activation": "relu"},
        {"padding": "same", "strides": 2, "data_format": "channels_first", "use_bias": False},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_conv1d_transpose(dtype, options, rng):
    first = options.get("data_format") == "channels_first"
    options = {"kernel_size": 3, **options}
    model = lstmcore.Sequential(
        [L.Input((4, None) if first else (None, 4)), L.Conv1DTranspose(5, **options)], dtype=dtype
    )
    batches = [rng.standard_normal((2, 4, T) if first else (2, T, 4)) for T in (1, 4, 7)]
    check(_randomize(model), batches, "conv1d transpose")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "options",
    [{}, {"axis": [1, 2]}, {"axis": 1, "center": False}, {"scale": False, "epsilon": 1e-5}],
    ids=["last", "time+features", "axis1-no-center", "no-scale"],
)
def test_layer_normalization(dtype, options, rng):
    shape = (6, 4) if options.get("axis") in ([1, 2], 1) else (None, 4)
    model = lstmcore.Sequential([L.Input(shape), L.LayerNormalization(**options)], dtype=dtype)
    batches = [rng.standard_normal((B, 6, 4)) * 3 + 1 for B in (3, 1)]
    check(_randomize(model), batches, "layer normalization")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 1])
def test_batch_normalization(dtype, axis, rng):
    shape = (None, 4) if axis == -1 else (5, None)
    model = lstmcore.Sequential(
        [
            L.Input(shape),
            L.BatchNormalization(axis=axis),
            L.BatchNormalization(axis=axis, center=False, scale=False),
        ],
        dtype=dtype,
    )
    batches = [rng.standard_normal((B, 5, 4)) * 2 for B in (3, 1)]
    check(_randomize(model), batches, "batch normalization")


@pytest.mark.parametrize("dtype, recurrent", FORMS)
def test_conv_lstm_classifier(dtype, recurrent, rng):
    """A CNN-LSTM with everything after the convolution."""
    model = lstmcore.Sequential(
        [
            L.Input((None, 3)),
            L.Conv1D(8, 3, padding="causal", activation="relu"),
            L.MaxPooling1D(2, padding="same"),
            L.BatchNormalization(),
            L.Bidirectional(L.LSTM(4, return_sequences=True)),
            L.LayerNormalization(),
            L.LSTM(4),
            L.Dense(3, activation="softmax"),
        ],
        dtype=dtype,
    )
    check(_randomize(model), _seqs(rng, 3, ((3, 9), (1, 1), (2, 4))), "cnn-lstm", recurrent)


# The axes, the file and the options ---------------------------------------------------------------


def test_axes_are_symbolic_and_named():
    model = _randomize(
        lstmcore.Sequential([L.LSTM(4, return_sequences=True, input_shape=(5, 3)), L.Dense(2)])
    )
    proto = onnx_export.model_to_onnx(model)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "input_layer" and out.name == "dense"
    dims = [d.dim_value or d.dim_param for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", "time", 3]  # the declared length 5 is not needed
    sess = _session(proto)
    x = np.random.default_rng(1).standard_normal((2, 9, 3)).astype(np.float32)
    longer = lstmcore.Sequential([L.LSTM(4, return_sequences=True, input_shape=(None, 3)), L.Dense(2)])
    longer.set_weights(model.get_weights())
    np.testing.assert_allclose(
        sess.run(None, {"input_layer": x})[0], longer.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    assert proto.opset_import[0].version == 17


@pytest.mark.parametrize("dtype", DTYPES)
def test_model_export_writes_a_file_onnx_runtime_runs(dtype, tmp_path, rng, capsys):
    model = _randomize(
        lstmcore.Sequential([L.Input((None, 3)), L.Bidirectional(L.GRU(4)), L.Dense(1)], dtype=dtype)
    )
    path = tmp_path / "m.onnx"
    model.export(path, format="onnx")
    assert "Saved an ONNX model" in capsys.readouterr().out
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    x = rng.standard_normal((3, 6, 3)).astype(dtype)
    got = _session(proto).run(None, {"input_layer": x})[0]
    rtol, atol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=rtol, atol=atol)
    onnx_export.export(model, str(path).encode(), opset_version=21, recurrent="scan")
    assert onnx.load(str(path)).opset_import[0].version == 21
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left


def test_float64_nodes_are_valid_onnx(rng):
    """ONNX Runtime has no float64 LSTM/GRU/RNN kernels; the nodes are still valid ONNX, and the
    onnx package's reference evaluator runs them (default activations, no mask)."""
    from onnx.reference import ReferenceEvaluator

    model = lstmcore.Sequential(
        [
            L.Input((None, 3)),
            L.LSTM(4, return_sequences=True),
            L.GRU(
                3, return_sequences=True, go_backwards=True, activation="tanh", recurrent_activation="sigmoid"
            ),
            L.Bidirectional(L.SimpleRNN(2, activation="tanh")),
        ],
        dtype="float64",
    )
    proto = onnx_export.model_to_onnx(_randomize(model), recurrent="nodes")
    onnx.checker.check_model(proto, full_check=True)
    x = rng.standard_normal((2, 5, 3))
    got = ReferenceEvaluator(proto).run(None, {"input_layer": x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-10, atol=1e-12)


def test_refusals():
    stateful = lstmcore.Sequential([L.Input((None, 3)), L.LSTM(2, stateful=True)])
    with pytest.raises(ValueError, match=r"layer 'lstm' \(LSTM\).*stateful=True"):
        onnx_export.model_to_onnx(stateful)
    with pytest.raises(ValueError, match=r"forward_lstm.*stateful=True"):
        onnx_export.model_to_onnx(
            lstmcore.Sequential([L.Input((None, 3)), L.Bidirectional(L.LSTM(2, stateful=True), name="bi")])
        )

    class Custom(L.Dense):
        pass

    with pytest.raises(
        ValueError, match=r"layer 'custom': Custom has no ONNX export; the layers exported are"
    ):
        onnx_export.model_to_onnx(lstmcore.Sequential([L.Input((3,)), Custom(2)]))
    model = lstmcore.Sequential([L.Input((None, 3)), L.LSTM(2)])
    with pytest.raises(ValueError, match=r"opset_version must be in \[17, "):
        onnx_export.model_to_onnx(model, 16)
    with pytest.raises(TypeError, match="opset_version must be an int"):
        onnx_export.model_to_onnx(model, "17")
    with pytest.raises(ValueError, match="recurrent must be one of"):
        onnx_export.model_to_onnx(model, recurrent="loop")
    with pytest.raises(ValueError, match="format='onnx'"):
        model.export("m.tf", format="tf_saved_model")

"""lstmcore.io.torch_io: torch models in (``from_torch``, ``from_torch_stack``) and out
(``to_torch``), compared with torch's own eval-mode outputs; the errors; layout's torch importers
on tensors, Parameters, whole modules and state_dicts."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import lstmcore  # noqa: E402
from lstmcore import layers as L  # noqa: E402
from lstmcore import layout  # noqa: E402
from lstmcore.io import torch_io  # noqa: E402
from lstmcore.io.torch_io import from_torch, from_torch_stack, to_torch  # noqa: E402

B, T, I, H = 3, 5, 4, 6
# float32: relative 1e-5 (plus a floor for values near 0); float64: the project's table
TOL = {np.float32: (1e-5, 1e-6), np.float64: (1e-10, 1e-12)}
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN, "rnn_relu": nn.RNN}


def close(got, want, dtype=np.float32):
    rtol, atol = TOL[np.dtype(dtype).type]
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def make(cell, seed=0, dtype=torch.float32, **kw):
    torch.manual_seed(seed)
    kw.setdefault("batch_first", True)
    if cell.startswith("rnn"):
        kw["nonlinearity"] = cell[4:]
    return CELLS[cell](I, H, **kw).to(dtype).eval()


def inputs(dtype=np.float32, seed=1, shape=(B, T, I)):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def run(module, x, batch_first=True):
    """A torch module's eval-mode output on batch-first x, as NumPy (batch-first)."""
    t = torch.from_numpy(x if batch_first else np.ascontiguousarray(x.transpose(1, 0, 2)))
    with torch.no_grad():
        out = module(t)
    out = out[0] if isinstance(out, tuple) else out
    out = out.numpy()
    return out if batch_first or out.ndim < 3 else out.transpose(1, 0, 2)


# nn.LSTM / nn.GRU / nn.RNN in every configuration, and back --------------------------------------


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_recurrent_modules(cell, num_layers, bidirectional, batch_first, bias):
    m = make(cell, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    x = inputs()
    want = run(m, x, batch_first)
    model = from_torch(m)
    D = 2 if bidirectional else 1
    assert len(model.layers) == num_layers
    assert all(isinstance(layer, L.Bidirectional) == bidirectional for layer in model.layers)
    assert model.output_shape == (None, None, D * H)
    close(model.predict(x), want)
    back = to_torch(model, batch_first=batch_first)  # the round trip: one module again
    (block,) = back
    assert type(block.rnn) is type(m)
    for name in ("num_layers", "bidirectional", "bias", "batch_first", "hidden_size", "input_size"):
        assert getattr(block.rnn, name) == getattr(m, name), name
    close(run(back, x, batch_first), want)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_float64_is_kept_and_exact(cell):
    m = make(cell, num_layers=2, bidirectional=True, dtype=torch.float64)
    x = inputs(np.float64)
    model = from_torch(m)
    assert model.dtype == np.float64
    close(model.predict(x), run(m, x), np.float64)
    back = to_torch(model)
    assert back[0].rnn.weight_ih_l0.dtype == torch.float64
    close(run(back, x), run(m, x), np.float64)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_last_step(cell, bidirectional):
    """return_sequences=False: out[:, -1] (= h_n[-1]) for one direction, Keras's
    cat(h_n[-2], h_n[-1]) for two."""
    m = make(cell, num_layers=2, bidirectional=bidirectional, batch_first=True)
    x = inputs()
    with torch.no_grad():
        out, h_n = m(torch.from_numpy(x))
    h_n = (h_n[0] if isinstance(h_n, tuple) else h_n).numpy()
    want = np.concatenate([h_n[-2], h_n[-1]], -1) if bidirectional else out[:, -1].numpy()
    model = from_torch(m, return_sequences=False)
    close(model.predict(x), want)
    block = torch_io.RecurrentBlock(m, return_sequences=False)
    close(run(block, x), want)
    close(from_torch(block).predict(x), want)
    close(run(to_torch(model), x), want)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_recurrent_block_merge_modes(merge_mode, return_sequences):
    m = make("gru", num_layers=2, bidirectional=True, batch_first=False)
    block = torch_io.RecurrentBlock(m, return_sequences=return_sequences, merge_mode=merge_mode)
    x = inputs()
    model = from_torch(block)
    assert model.layers[0].merge_mode == "concat" and model.layers[-1].merge_mode == merge_mode
    close(model.predict(x), run(block, x, batch_first=False))
    (back,) = to_torch(model)
    assert (back.merge_mode, back.return_sequences) == (merge_mode, return_sequences)
    close(run(back, x), model.predict(x))


@pytest.mark.parametrize("cell", ["lstm", "rnn_relu"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_recurrent_block_go_backwards(cell, return_sequences):
    m = make(cell, num_layers=2, batch_first=True)
    block = torch_io.RecurrentBlock(m, return_sequences=return_sequences, go_backwards=True)
    x = inputs()
    model = from_torch(block)
    assert [layer.go_backwards for layer in model.layers] == [True, False]
    close(model.predict(x), run(block, x))
    close(run(to_torch(model), x), run(block, x))


def test_dropout_between_layers():
    """torch's dropout=p drops each layer's output but the last's, in training only: lstmcore's
    Dropout(p) layers between the recurrent ones; to_torch gives dropout=p back."""
    m = make("lstm", num_layers=3, dropout=0.25, bidirectional=True)
    model = from_torch(m)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Bidirectional", "Dropout", "Bidirectional", "Dropout", "Bidirectional"]
    assert all(layer.rate == 0.25 for layer in model.layers if isinstance(layer, L.Dropout))
    x = inputs()
    close(model.predict(x), run(m, x))
    (block,) = to_torch(model)
    assert (block.rnn.num_layers, block.rnn.dropout) == (3, 0.25)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_proj_size_runs_as_a_stack(dtype, bidirectional):
    m = make("lstm", num_layers=2, proj_size=3, bidirectional=bidirectional, batch_first=True, dtype=dtype)
    npdtype = np.float64 if dtype == torch.float64 else np.float32
    x = inputs(npdtype)
    with torch.no_grad():
        out, (h_n, c_n) = m(torch.from_numpy(x))
    spec = from_torch_stack(m)
    y, h, c = lstmcore.stack_forward(x=x, **spec)
    for got, want in ((y, out), (h, h_n), (c, c_n)):
        close(got, want.numpy(), npdtype)
    with pytest.raises(
        ValueError, match=r"proj_size=3: lstmcore's LSTM layer has no projection.*from_torch_stack"
    ):
        from_torch(m)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_stack_matches_every_output(cell):
    m = make(cell, num_layers=3, bidirectional=True, batch_first=True, bias=False)
    x = inputs()
    with torch.no_grad():
        out, h_n = m(torch.from_numpy(x))
    got = lstmcore.stack_forward(x=x, **from_torch_stack(m))
    wants = (out, *h_n) if isinstance(h_n, tuple) else (out, h_n)
    assert len(got) == len(wants)
    for g, w in zip(got, wants, strict=True):
        close(g, w.numpy())


# state_dicts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("as_numpy", [False, True])
def test_state_dict_sizes_inferred(cell, as_numpy):
    m = make(cell, num_layers=2, bidirectional=True, bias=cell != "gru")
    sd = m.state_dict()
    if as_numpy:
        sd = {k: v.numpy() for k, v in sd.items()}
    hints = {"nonlinearity": cell[4:]} if cell.startswith("rnn") else {}
    x = inputs()
    model = from_torch(sd, **hints)
    close(model.predict(x), run(m, x))
    assert from_torch(sd, cell=cell.split("_")[0], **hints).count_params() == model.count_params()


def test_state_dict_hints_and_prefix():
    m = make("rnn_relu", num_layers=2)
    sd = {"encoder.rnn." + k: v for k, v in m.state_dict().items()}  # one common prefix is fine
    x = inputs()
    model = from_torch(sd, nonlinearity="relu", dropout=0.5, return_sequences=False)
    assert [type(layer).__name__ for layer in model.layers] == ["SimpleRNN", "Dropout", "SimpleRNN"]
    close(model.predict(x), run(m, x)[:, -1])


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_state_dict_with_proj_to_stack():
    m = make("lstm", num_layers=2, proj_size=2, batch_first=True)
    x = inputs()
    y, _, _ = lstmcore.stack_forward(x=x, **from_torch_stack(m.state_dict()))
    close(y, run(m, x))


def test_state_dict_errors():
    rnn = make("rnn_tanh").state_dict()
    with pytest.raises(ValueError, match="does not say its nonlinearity: pass nonlinearity='tanh' or 'relu'"):
        from_torch(rnn)
    with pytest.raises(ValueError, match=r"cell='lstm' does not fit the state_dict.*an nn.RNN"):
        from_torch(rnn, cell="lstm", nonlinearity="tanh")
    with pytest.raises(ValueError, match="nonlinearity= is nn.RNN's; this is the state_dict of an nn.GRU"):
        from_torch(make("gru").state_dict(), nonlinearity="tanh")
    mixed = {**{"lstm." + k: v for k, v in make("lstm").state_dict().items()}, "fc.weight": torch.ones(1, H)}
    with pytest.raises(ValueError, match=r"also has \['fc.weight'\].*net.lstm.state_dict\(\)"):
        from_torch(mixed)
    two = {**{"a." + k: v for k, v in make("gru").state_dict().items()}}
    two.update({"b." + k: v for k, v in make("gru").state_dict().items()})
    with pytest.raises(ValueError, match=r"keys are under \['a.', 'b.'\]"):
        from_torch(two)
    sd = make("lstm", num_layers=2).state_dict()
    del sd["weight_hh_l1"]
    with pytest.raises(ValueError, match="no weight_hh_l1"):
        from_torch(sd)
    with pytest.raises(ValueError, match="cell=, nonlinearity= and dropout= describe a state_dict"):
        from_torch(make("lstm"), cell="lstm")


# Containers: nn.Sequential, lists, Linear, activations, Dropout -----------------------------------


def test_sequential_container_runs_in_torch():
    RecurrentBlock = torch_io.RecurrentBlock
    torch.manual_seed(0)
    gru = nn.GRU(H, 5, bidirectional=True, batch_first=True)
    net = nn.Sequential(
        nn.Linear(I, 8),
        nn.Tanh(),
        RecurrentBlock(nn.LSTM(8, H, num_layers=2, batch_first=True, dropout=0.1)),
        nn.Dropout(0.3),
        nn.Sequential(RecurrentBlock(gru, return_sequences=False)),
        nn.Identity(),
        nn.Linear(10, 7),
        nn.ReLU(),
        nn.Linear(7, 3),
        nn.Softmax(dim=-1),
    ).eval()
    x = inputs()
    model = from_torch(net)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Dense", "Activation", "LSTM", "Dropout", "LSTM", "Dropout", "Bidirectional",
        "Dense", "Activation", "Dense", "Activation",
    ]  # fmt: skip
    close(model.predict(x), run(net, x))
    back = to_torch(model)
    close(run(back, x), run(net, x))
    assert [type(m).__name__ for m in back] == [
        "Linear", "Tanh", "RecurrentBlock", "Dropout", "RecurrentBlock", "Linear", "ReLU", "Linear",
        "Softmax",
    ]  # fmt: skip
    assert back[2].rnn.num_layers == 2 and back[2].rnn.dropout == 0.1


def test_bare_rnn_then_linear_is_linear_on_the_sequence():
    """nn.Sequential(nn.LSTM, nn.Linear) does not run in torch (the tuple); lstmcore reads it as
    Linear on the output sequence."""
    torch.manual_seed(0)
    lstm, fc = nn.LSTM(I, H, batch_first=True), nn.Linear(H, 2)
    x = inputs()
    with torch.no_grad():
        want = fc(lstm(torch.from_numpy(x))[0]).numpy()
    close(from_torch(nn.Sequential(lstm, fc)).predict(x), want)


class Net(nn.Module):
    """What users write: the recurrent module, a head, and out[:, -1] in the forward."""

    def __init__(self, bidirectional=False):
        super().__init__()
        self.lstm = nn.LSTM(I, H, num_layers=2, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(H * (2 if bidirectional else 1), 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def test_custom_module_refused_and_its_parts_converted():
    torch.manual_seed(0)
    net = Net().eval()
    x = inputs()
    with pytest.raises(TypeError, match=r"Net is a custom module \(children: lstm \(LSTM\), fc \(Linear\)\)"):
        from_torch(net)
    want = run(net, x)
    close(from_torch([net.lstm, net.fc], return_sequences=False).predict(x), want)
    seq = nn.Sequential(torch_io.RecurrentBlock(net.lstm, return_sequences=False), net.fc)
    close(run(seq, x), want)
    close(from_torch(seq).predict(x), want)
    with pytest.raises(TypeError, match=r"^0 \(Net\) is a custom module"):  # named by its path
        from_torch(nn.Sequential(net))


ACTIVATION_INPUTS = np.linspace(-25, 25, 2 * 3 * 8).reshape(2, 3, 8)  # every branch of each


@pytest.mark.parametrize("name", sorted(torch_io._ACTIVATIONS))
def test_activations_both_ways(name):
    cls, params = torch_io._ACTIVATIONS[name]
    x = ACTIVATION_INPUTS.astype(np.float64)
    act = getattr(nn, cls)(**params)
    model = from_torch(act, input_shape=(3, 8), dtype="float64")
    assert model.layers[0].activation == name
    close(model.predict(x), run(act, x), np.float64)
    dense = lstmcore.Sequential([L.Input((3, 8)), L.Dense(4, activation=name)], dtype="float64")
    back = to_torch(dense)
    assert type(back[1]).__name__ == cls
    close(run(back, x), dense.predict(x), np.float64)


def test_softmax_axis_and_activation_parameters():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(I, 3), nn.Softmax(dim=2))  # the last axis of (B, T, 3)
    x = inputs()
    close(from_torch(net, input_shape=(T, I)).predict(x), run(net, x))
    with pytest.raises(ValueError, match=r"dim=1; lstmcore's softmax acts on the last axis"):
        from_torch(nn.Sequential(nn.Linear(I, 3), nn.Softmax(dim=1)), input_shape=(T, I))
    with pytest.raises(ValueError, match="dim=None"):
        from_torch(nn.Softmax(), input_shape=(I,))
    with pytest.raises(
        ValueError, match=r"negative_slope=0.01; lstmcore's leaky_relu has negative_slope=0.2 only"
    ):
        from_torch(nn.LeakyReLU())
    close(from_torch(nn.LeakyReLU(0.2), input_shape=(I,)).predict(x[:, 0]), run(nn.LeakyReLU(0.2), x[:, 0]))
    with pytest.raises(ValueError, match="approximate='tanh'"):
        from_torch(nn.GELU(approximate="tanh"))
    with pytest.raises(ValueError, match="nothing here says the input's size"):
        from_torch(nn.ReLU())


def test_linear_without_bias_and_size_checks():
    torch.manual_seed(0)
    lin = nn.Linear(I, 3, bias=False)
    x = inputs()[:, 0]
    model = from_torch(lin)
    assert model.input_shape == (I,) and not model.layers[0].use_bias
    close(model.predict(x), run(lin, x))
    with pytest.raises(
        ValueError, match=r"\[1\] \(LSTM\) takes 5 features, the input or layer before gives 3"
    ):
        from_torch([nn.LSTM(I, 3), nn.LSTM(5, 2)])
    with pytest.raises(ValueError, match="returns its last step only"):
        from_torch([torch_io.RecurrentBlock(nn.LSTM(I, 3), return_sequences=False), nn.LSTM(3, 2)])
    with pytest.raises(ValueError, match="is a RecurrentBlock with return_sequences=True"):
        from_torch(torch_io.RecurrentBlock(nn.LSTM(I, 3)), return_sequences=False)


def test_unknown_modules_refused_by_name():
    with pytest.raises(TypeError, match=r"\[1\] \(Conv1d\): torch's nn.Conv1d is not among"):
        from_torch([nn.LSTM(I, 3), nn.Conv1d(3, 3, 1)])
    with pytest.raises(TypeError, match="a list of modules, or a recurrent module's state_dict; got int"):
        from_torch(3)
    with pytest.raises(TypeError, match="item 1 of the list is a ndarray"):
        from_torch([nn.ReLU(), np.ones(3)])

    class MyLSTM(nn.LSTM):
        def forward(self, x, hx=None):
            return super().forward(x.flip(1), hx)

    with pytest.raises(TypeError, match="custom module"):
        from_torch(MyLSTM(I, 3))


def test_parameters_requiring_grad_and_dtypes():
    m = make("gru", num_layers=2)
    assert all(p.requires_grad for p in m.parameters())
    x = inputs()
    close(from_torch(m).predict(x), run(m, x))  # Parameters that require grad: detached
    m64 = from_torch(m, dtype="float64")
    assert m64.dtype == np.float64
    close(m64.predict(x.astype(np.float64)), run(m, x))
    mixed = [make("lstm"), nn.Linear(H, 2).double()]
    with pytest.raises(TypeError, match=r"mix \['float32', 'float64'\]: pass dtype="):
        from_torch(mixed)
    with pytest.raises(TypeError, match="must be float32 or float64, got dtype torch.bfloat16"):
        from_torch(make("lstm").to(torch.bfloat16))


# layout's importers on tensors, whole modules and state_dicts ---------------------------------------


@pytest.mark.parametrize(
    "cell, convert",
    [("lstm", layout.from_torch), ("gru", layout.from_torch_gru), ("rnn_tanh", layout.from_torch_rnn)],
)
def test_layout_importers_take_tensors_and_point_to_torch_io(cell, convert):
    m = make(cell)
    params = list(m.parameters())  # w_ih, w_hh, b_ih, b_hh: Parameters that require grad
    got = convert(*params)
    want = convert(*(p.detach().numpy() for p in params))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    name, use = convert.__name__, "lstmcore.io.torch_io.from_torch"
    with pytest.raises(
        TypeError, match=rf"layout.{name} .* got a torch {type(m).__name__} module: use {use}"
    ):
        convert(m)
    with pytest.raises(TypeError, match=rf"layout.{name} .* got a state_dict: use {use}"):
        convert(m.state_dict())
    with pytest.raises(TypeError, match=rf"layout.{name} needs w_hh"):
        convert(params[0])
    with pytest.raises(TypeError, match="w_hh must be an array, got LSTM: for torch modules use"):
        convert(params[0], nn.LSTM(I, H))
    with pytest.raises(TypeError, match="w_ih must be float32 or float64, got dtype torch.float16"):
        convert(params[0].half(), params[1])


# Export: lstmcore models, trained, to torch ---------------------------------------------------------


def trained(model, x, y, loss="mse"):
    model.compile(optimizer="adam", loss=loss)
    model.train_on_batch(x, y)
    return model


def test_trained_model_exported():
    lstmcore.set_random_seed(0)
    x = inputs(seed=2)
    model = lstmcore.Sequential(
        [
            L.Input((T, I)),
            L.LSTM(8, return_sequences=True),
            L.Dropout(0.2),
            L.LSTM(8, return_sequences=True, use_bias=False),  # another bias: a module of its own
            L.Bidirectional(L.GRU(5, return_sequences=True), merge_mode="mul"),
            L.Bidirectional(L.GRU(5, return_sequences=True), merge_mode="ave"),
            L.SimpleRNN(6, activation="relu", go_backwards=True),
            L.Dense(4, activation="gelu"),
            L.Dropout(0.1),
            L.Dense(3),
            L.Activation("softmax"),
        ]
    )
    trained(model, x, np.eye(3)[[0, 1, 2]].astype(np.float32), loss="categorical_crossentropy")
    net = to_torch(model)
    kinds = [type(m).__name__ for m in net]
    assert kinds == [
        "RecurrentBlock", "Dropout", "RecurrentBlock", "RecurrentBlock", "RecurrentBlock", "RecurrentBlock",
        "Linear", "GELU", "Dropout", "Linear", "Softmax",
    ]  # fmt: skip
    assert not net.training
    close(run(net, x), model.predict(x))
    close(run(to_torch(model, batch_first=False), x, batch_first=False), model.predict(x))
    assert len(to_torch(model, stack=False)) == len(net)  # nothing was stacked here
    again = from_torch(net)  # and back
    close(again.predict(x), model.predict(x))


def test_export_stacks_what_torch_can_stack():
    lstmcore.set_random_seed(1)
    x = inputs(seed=3)
    model = lstmcore.Sequential(
        [
            L.Input((T, I)),
            L.Bidirectional(L.LSTM(6, return_sequences=True)),
            L.Dropout(0.3),
            L.Bidirectional(L.LSTM(6, return_sequences=True)),
            L.Dropout(0.3),
            L.Bidirectional(L.LSTM(6), merge_mode="sum"),
            L.Dense(1),
        ]
    )
    trained(model, x, np.ones((B, 1), np.float32))
    net = to_torch(model)
    assert len(net) == 2 and net[0].rnn.num_layers == 3 and net[0].rnn.dropout == 0.3
    assert net[0].merge_mode == "sum" and not net[0].return_sequences
    close(run(net, x), model.predict(x))
    apart = to_torch(model, stack=False)
    assert [type(m).__name__ for m in apart] == [
        "RecurrentBlock", "Dropout", "RecurrentBlock", "Dropout", "RecurrentBlock", "Linear",
    ]  # fmt: skip
    close(run(apart, x), model.predict(x))


def test_export_functional_chain_layer_and_frozen_weights():
    inp = L.Input((None, I))
    hidden = L.GRU(5, return_sequences=True)(inp)
    frozen = L.Dense(2, trainable=False)
    model = lstmcore.Model(inp, frozen(hidden))
    x = inputs()
    net = to_torch(model)
    close(run(net, x), model.predict(x))
    assert not any(p.requires_grad for p in net[1].parameters())
    assert all(p.requires_grad for p in net[0].parameters())
    layer = model.layers[1]
    close(run(to_torch(layer), x), layer(x))
    buf = io.BytesIO()  # the module pickles (RecurrentBlock is found in lstmcore.io.torch_io)
    torch.save(net, buf)
    buf.seek(0)
    close(run(torch.load(buf, weights_only=False), x), model.predict(x))


def test_export_refusals():
    def built(*layers):
        return lstmcore.Sequential([L.Input((T, I)), *layers])

    cases = [
        (built(L.LSTM(3, activation="relu")), "nn.LSTM computes activation='tanh' only, got 'relu'"),
        (built(L.GRU(3, recurrent_activation="hard_sigmoid")), "recurrent_activation='sigmoid' only"),
        (built(L.GRU(3, reset_after=False)), "nn.GRU computes reset_after=True only"),
        (built(L.SimpleRNN(3, activation="elu")), "nonlinearity 'tanh' or 'relu' only, got 'elu'"),
        (
            built(L.LSTM(3, dropout=0.2)),
            r"dropout=0.2 \(Keras's one mask per sequence\).*inference_only=True",
        ),
        (built(L.LSTM(3, recurrent_dropout=0.1)), "recurrent_dropout=0.1"),
        (built(L.Dropout(0.1, noise_shape=(None, 1, None))), "noise_shape=.*nn.Dropout cannot do"),
        (built(L.Dense(2, activation="exponential")), "activation 'exponential' has no torch module"),
        (built(L.Conv1D(2, 1)), "to_torch exports LSTM, GRU, SimpleRNN, Bidirectional, Dense, Dropout"),
        (
            built(L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(4, go_backwards=True))),
            "the same cell and options both ways",
        ),
    ]
    for model, match in cases:
        with pytest.raises(ValueError, match=match):
            to_torch(model)
    stateful = lstmcore.Sequential([L.Input(batch_shape=(B, T, I)), L.LSTM(3, stateful=True)])
    with pytest.raises(ValueError, match="is stateful"):
        to_torch(stateful)
    x = inputs()
    lenient = built(L.LSTM(3, dropout=0.2, recurrent_dropout=0.1), L.Dropout(0.1, noise_shape=(None, 1)))
    close(run(to_torch(lenient, inference_only=True), x), lenient.predict(x))
    with pytest.raises(ValueError, match="is not built"):
        to_torch(lstmcore.Sequential([L.LSTM(3)]))
    with pytest.raises(ValueError, match="is not built"):
        to_torch(L.Dense(3))
    with pytest.raises(TypeError, match="to_torch takes an lstmcore model, layer or list of layers, got str"):
        to_torch("model")
    a, b = L.Input((T, I)), L.Input((T, I))
    merged = lstmcore.Model([a, b], L.Dense(1)(L.Concatenate()([L.LSTM(2)(a), L.LSTM(2)(b)])))
    with pytest.raises(ValueError, match="exports a chain of layers"):
        to_torch(merged)


def test_missing_torch_is_a_clear_import_error(monkeypatch):
    """Without torch: state_dicts of arrays still convert; what needs torch says so."""
    sd = {k: v.numpy() for k, v in make("lstm").state_dict().items()}
    model = from_torch(sd)
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setattr(torch_io, "_CLASSES", {})
    with pytest.raises(ImportError, match="lstmcore.io.torch_io needs PyTorch, which is not installed"):
        to_torch(model)
    with pytest.raises(ImportError, match="needs PyTorch"):
        torch_io.RecurrentBlock  # noqa: B018
    close(from_torch(sd).predict(inputs()), model.predict(inputs()))

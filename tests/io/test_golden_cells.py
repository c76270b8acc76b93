"""The GRU, the simple RNN and the projected LSTM against the golden files of tests/io/make_golden.py.

The files hold what PyTorch (``nn.GRU``, ``nn.RNN``, ``nn.LSTM(proj_size=P)``) and Keras 3 (``GRU``
with reset_after True and False, ``SimpleRNN``) compute: inputs, weights in the framework's own
layout, outputs and autograd gradients of ``sum(y * dy) [+ sum(h_n * dh_n) + sum(c_n * dc_n)]``.
lstmcore.layout imports the weights; the forward (inference and training mode, and a stepper run
step by step) must give the stored outputs, and the backward every stored gradient, exported back
to the framework's layout with the same module's ``to_*`` converters, within the tolerance of the
case's dtype. Both the active backend (``lstmcore``) and the reference run every case.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close

import lstmcore
from lstmcore import layout, reference

DATA = Path(__file__).resolve().parent / "data"
MODULES = [pytest.param(lstmcore, id="backend"), pytest.param(reference, id="reference")]
META = ("format_version", "cases", "torch_version", "keras_version", "hard_sigmoid_grad")


def _load(name):
    with np.load(DATA / name, allow_pickle=False) as f:
        return {key: f[key] for key in f.files}


NAMES = ("torch_gru", "torch_rnn", "torch_lstm_proj", "keras_gru", "keras_rnn")
FILES = {name: _load(f"{name}.npz") for name in NAMES}


def _names(data):
    return [str(name) for name in data["cases"]]


def _case(file, name):
    prefix = f"{name}/"
    return {key[len(prefix) :]: value for key, value in FILES[file].items() if key.startswith(prefix)}


def _params(file):
    return [pytest.param(name, id=name) for name in _names(FILES[file])]


def _check_outputs(got, c, names, dtype, mode):
    for name, a in zip(names, got, strict=True):
        assert a.dtype == dtype, f"{name} ({mode}): dtype {a.dtype}, expected {dtype}"
        assert_close(a, c[name], dtype, name=f"{name} ({mode})")


def _run(forward, stepper_class, c, weights, outputs, state_names, **opts):
    """Forward in inference and training mode, and a stepper over the steps, against the stored
    outputs; returns the training cache."""
    dtype = c["x"].dtype
    args = (c["x"], *weights, *(c.get(k) for k in state_names))
    _check_outputs(forward(*args, **opts), c, outputs, dtype, "inference")
    *train, cache = forward(*args, return_cache=True, **opts)
    _check_outputs(train, c, outputs, dtype, "training")
    B, T = c["x"].shape[:2]
    stepper = stepper_class(*weights, batch_size=B, **opts)
    if all(k in c for k in state_names):
        stepper.reset(*(c[k] for k in state_names))
    ys = np.stack([stepper.step(c["x"][:, t]).copy() for t in range(T)], axis=1)  # step's buffer is reused
    assert_close(ys, c["y"], dtype, name="y (stepper)")
    return cache


def _check_grads(c, **ours):
    """Each of our gradients, exported to the framework's layout, against the case's of that name,
    in the dtype of the case."""
    dtype = c["x"].dtype
    for name, g in ours.items():
        assert g.dtype == dtype, f"{name}: dtype {g.dtype}, expected {dtype}"
        assert_close(g, c[name], dtype, name=name)


def _check_keras_grads(g, c, to_keras):
    """Every gradient against Keras's, ours exported with ``to_keras``."""
    dkernel, drecurrent_kernel, dbias = to_keras(g["dw_x"], g["dw_h"], g["db"])
    _check_grads(
        c, dx=g["dx"], dh0=g["dh0"], dkernel=dkernel, drecurrent_kernel=drecurrent_kernel, dbias=dbias
    )


# Format -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("file", sorted(FILES))
def test_format(file):
    data = FILES[file]
    assert int(data["format_version"]) == 1
    names = _names(data)
    assert names and len(set(names)) == len(names)
    for key in data:
        assert key in META or key.split("/")[0] in names, key
    assert str(data["torch_version"])
    if file.startswith("keras"):
        assert str(data["keras_version"]).startswith("3."), file


def test_cases_cover_what_they_claim():
    """float64 and float32 for each PyTorch cell; both nonlinearities; both reset_after; a P of 1."""
    dtypes = {file: {_case(file, n)["x"].dtype for n in _names(FILES[file])} for file in FILES}
    for file in ("torch_gru", "torch_rnn", "torch_lstm_proj"):
        assert dtypes[file] == {np.dtype(np.float32), np.dtype(np.float64)}, file

    def values(file, key, kind):
        return {kind(_case(file, n)[key]) for n in _names(FILES[file])}

    assert values("torch_rnn", "nonlinearity", str) == {"tanh", "relu"}
    assert values("keras_gru", "reset_after", bool) == {True, False}
    assert values("keras_rnn", "activation", str) == {"tanh", "relu"}
    assert 1 in {shape[0] for shape in values("torch_lstm_proj", "w_hr", np.shape)}


def test_keras_gru_hard_sigmoid_cases_reach_the_clipping():
    """Rebuilt from Keras's own outputs: some z and r pre-activations beyond +-3, on both sides."""
    for name in _names(FILES["keras_gru"]):
        c = _case("keras_gru", name)
        if str(c["recurrent_activation"]) != "hard_sigmoid":
            continue
        h_prev = np.concatenate([c["h0"][None], c["y"].transpose(1, 0, 2)[:-1]])
        H = c["h0"].shape[1]
        k, rk, bias = c["kernel"], c["recurrent_kernel"], c["bias"]
        x = c["x"].transpose(1, 0, 2)
        b = bias.sum(axis=0) if bias.ndim == 2 else bias  # the z and r blocks add both biases
        pre = x @ k[:, : 2 * H] + h_prev @ rk[:, : 2 * H] + b[: 2 * H]
        assert (pre > 3).any() and (pre < -3).any(), name


# PyTorch ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("name", _params("torch_gru"))
def test_torch_gru_golden(mod, name):
    c = _case("torch_gru", name)
    w_x, w_h, b = layout.from_torch_gru(c["w_ih"], c["w_hh"], c["b_ih"], c["b_hh"])
    assert b.shape == (2, w_h.shape[1])
    cache = _run(mod.gru_forward, mod.GRUStepper, c, (w_x, w_h, b), ("y", "h_n"), ("h0",), reset_after=True)
    g = mod.gru_backward(c["dy"], cache, c.get("dh_n"))
    assert sorted(g) == ["db", "dh0", "dw_h", "dw_x", "dx"]
    dw_ih, dw_hh, db_ih, db_hh = layout.to_torch_gru(g["dw_x"], g["dw_h"], g["db"])
    _check_grads(c, dx=g["dx"], dh0=g["dh0"], dw_ih=dw_ih, dw_hh=dw_hh, db_ih=db_ih, db_hh=db_hh)


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("name", _params("torch_rnn"))
def test_torch_rnn_golden(mod, name):
    c = _case("torch_rnn", name)
    opts = {"activation": str(c["nonlinearity"])}
    w_x, w_h, b = layout.from_torch_rnn(c["w_ih"], c["w_hh"], c["b_ih"], c["b_hh"])
    cache = _run(mod.rnn_forward, mod.RNNStepper, c, (w_x, w_h, b), ("y", "h_n"), ("h0",), **opts)
    g = mod.rnn_backward(c["dy"], cache, c.get("dh_n"))
    assert sorted(g) == ["db", "dh0", "dw_h", "dw_x", "dx"]
    dw_ih, dw_hh, _, _ = layout.to_torch_rnn(g["dw_x"], g["dw_h"], g["db"])
    # b = b_ih + b_hh: its gradient is that of each of the two
    _check_grads(c, dx=g["dx"], dh0=g["dh0"], dw_ih=dw_ih, dw_hh=dw_hh, db_ih=g["db"], db_hh=g["db"])


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("name", _params("torch_lstm_proj"))
def test_torch_lstm_proj_golden(mod, name):
    c = _case("torch_lstm_proj", name)
    P, H = c["w_hr"].shape
    w_x, w_h, b, proj = layout.from_torch(c["w_ih"], c["w_hh"], c["b_ih"], c["b_hh"], c["w_hr"])
    assert (w_h.shape, proj.shape) == ((P, 4 * H), (H, P))
    outputs, states = ("y", "h_n", "c_n"), ("h0", "c0")
    cache = _run(mod.lstm_forward, mod.LSTMStepper, c, (w_x, w_h, b), outputs, states, proj=proj)
    g = mod.lstm_backward(c["dy"], cache, c.get("dh_n"), c.get("dc_n"))
    assert sorted(g) == ["db", "dc0", "dh0", "dproj", "dw_h", "dw_x", "dx"]
    dw_ih, dw_hh, _, _, dw_hr = layout.to_torch(g["dw_x"], g["dw_h"], g["db"], g["dproj"])
    _check_grads(c, dx=g["dx"], dh0=g["dh0"], dc0=g["dc0"], dw_ih=dw_ih, dw_hh=dw_hh, dw_hr=dw_hr)
    _check_grads(c, db_ih=g["db"], db_hh=g["db"])  # b = b_ih + b_hh


# Keras ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("name", _params("keras_gru"))
def test_keras_gru_golden(mod, name):
    c = _case("keras_gru", name)
    reset_after = bool(c["reset_after"])
    opts = {
        "reset_after": reset_after,
        "activation": str(c["activation"]),
        "recurrent_activation": str(c["recurrent_activation"]),
    }
    w = layout.from_keras_gru(c["kernel"], c["recurrent_kernel"], c["bias"], reset_after=reset_after)
    cache = _run(mod.gru_forward, mod.GRUStepper, c, w, ("y", "h_n"), ("h0",), **opts)
    _check_keras_grads(mod.gru_backward(c["dy"], cache), c, layout.to_keras_gru)


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("name", _params("keras_rnn"))
def test_keras_rnn_golden(mod, name):
    c = _case("keras_rnn", name)
    w = layout.from_keras_rnn(c["kernel"], c["recurrent_kernel"], c["bias"])
    opts = {"activation": str(c["activation"])}
    cache = _run(mod.rnn_forward, mod.RNNStepper, c, w, ("y", "h_n"), ("h0",), **opts)
    _check_keras_grads(mod.rnn_backward(c["dy"], cache), c, layout.to_keras_rnn)

"""lstmcore against the golden files that tests/io/make_golden.py wrote from PyTorch and Keras 3.

The files hold each framework's inputs, weights (in its own layout), outputs and autograd
gradients; here NumPy reads them, lstmcore.layout (io/layout.py) converts the weights, and both the active
backend (``lstmcore``) and the reference (``lstmcore.reference``) must reproduce every output and
every gradient within the tolerance of the case's dtype. Only ``test_torch_live`` needs torch.
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


def _load(name):
    with np.load(DATA / name, allow_pickle=False) as f:
        return {key: f[key] for key in f.files}


TORCH = _load("torch_lstm.npz")
KERAS = _load("keras_lstm.npz")


def _case(data, name):
    prefix = f"{name}/"
    return {key[len(prefix) :]: value for key, value in data.items() if key.startswith(prefix)}


def _names(data):
    return [str(name) for name in data["cases"]]


def _check_forward(mod, c, w_x, w_h, b, **opts):
    """Forward in inference and training mode against the stored y, h_n, c_n; returns the cache."""
    dtype = c["x"].dtype
    args = (c["x"], w_x, w_h, b, c.get("h0"), c.get("c0"))
    infer = mod.lstm_forward(*args, **opts)
    train = mod.lstm_forward(*args, return_cache=True, **opts)
    for name, a, t in zip(("y", "h_n", "c_n"), infer, train[:3], strict=True):
        assert a.dtype == t.dtype == dtype, f"{name}: dtype {a.dtype}, {t.dtype}, expected {dtype}"
        assert_close(a, c[name], dtype, name=f"{name} (inference)")
        assert_close(t, c[name], dtype, name=f"{name} (training)")
    return train[3]


# Format -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [TORCH, KERAS], ids=["torch", "keras"])
def test_format(data):
    assert int(data["format_version"]) == 1
    names = _names(data)
    assert names and len(set(names)) == len(names)
    for key in data:
        assert key in ("format_version", "cases", "torch_version", "keras_version", "hard_sigmoid_grad") or (
            key.split("/")[0] in names
        ), key


def test_versions_recorded():
    assert str(TORCH["torch_version"])
    assert str(KERAS["keras_version"]).startswith("3.")


def test_keras_cases_cover_clipping():
    """The hard_sigmoid cases must reach its flat parts, else they would not test the clipping.

    Pre-activations are rebuilt from Keras's own stored outputs: z_t = x_t kernel + y_{t-1} rk + bias.
    """
    for name in _names(KERAS):
        c = _case(KERAS, name)
        if str(c["recurrent_activation"]) != "hard_sigmoid":
            continue
        h_prev = np.concatenate([c["h0"][None], c["y"].transpose(1, 0, 2)[:-1]])
        z = c["x"].transpose(1, 0, 2) @ c["kernel"] + h_prev @ c["recurrent_kernel"] + c["bias"]
        H = c["h0"].shape[1]
        z_ifo = np.concatenate([z[..., : 2 * H], z[..., 3 * H :]], axis=-1)
        assert (z_ifo > 3).any() and (z_ifo < -3).any(), name


# PyTorch ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("name", _names(TORCH))
def test_torch_golden(mod, name):
    c = _case(TORCH, name)
    dtype = c["x"].dtype
    w_x, w_h, b = layout.from_torch(c["w_ih"], c["w_hh"], c["b_ih"], c["b_hh"])
    cache = _check_forward(mod, c, w_x, w_h, b)
    g = mod.lstm_backward(c["dy"], cache, c.get("dh_n"), c.get("dc_n"))
    assert_close(g["dx"], c["dx"], dtype, name="dx")
    assert_close(g["dw_x"].T, c["dw_ih"], dtype, name="dw_x.T vs dw_ih")
    assert_close(g["dw_h"].T, c["dw_hh"], dtype, name="dw_h.T vs dw_hh")
    assert_close(g["db"], c["db_ih"], dtype, name="db vs db_ih")
    assert_close(g["db"], c["db_hh"], dtype, name="db vs db_hh")
    assert_close(g["dh0"], c["dh0"], dtype, name="dh0")
    assert_close(g["dc0"], c["dc0"], dtype, name="dc0")
    for key, value in g.items():
        assert value.dtype == dtype, f"{key}: dtype {value.dtype}, expected {dtype}"


# Keras ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("name", _names(KERAS))
def test_keras_golden(mod, name):
    c = _case(KERAS, name)
    dtype = c["x"].dtype
    opts = {"activation": str(c["activation"]), "recurrent_activation": str(c["recurrent_activation"])}
    w_x, w_h, b = layout.from_keras(c["kernel"], c["recurrent_kernel"], c["bias"])
    cache = _check_forward(mod, c, w_x, w_h, b, **opts)
    g = mod.lstm_backward(c["dy"], cache)
    assert_close(g["dx"], c["dx"], dtype, name="dx")
    assert_close(g["dw_x"], c["dkernel"], dtype, name="dw_x vs dkernel")
    assert_close(g["dw_h"], c["drecurrent_kernel"], dtype, name="dw_h vs drecurrent_kernel")
    assert_close(g["db"], c["dbias"], dtype, name="db vs dbias")
    assert_close(g["dh0"], c["dh0"], dtype, name="dh0")
    assert_close(g["dc0"], c["dc0"], dtype, name="dc0")


# Live -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_live(mod, dtype, rng):
    """A fresh random case against torch.nn.LSTM itself; skipped where torch is not installed."""
    torch = pytest.importorskip("torch")
    B, T, I, H = 3, 7, 5, 4
    G = 4 * H

    def u(*shape):
        return rng.uniform(-0.5, 0.5, shape).astype(dtype)

    def n(*shape):
        return rng.standard_normal(shape).astype(dtype)

    x, h0, c0, dy, dh_n, dc_n = n(B, T, I), n(B, H), n(B, H), n(B, T, H), n(B, H), n(B, H)
    w_ih, w_hh, b_ih, b_hh = u(G, I), u(G, H), u(G), u(G)

    lstm = torch.nn.LSTM(I, H, batch_first=True).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        for param, value in zip(lstm.parameters(), (w_ih, w_hh, b_ih, b_hh), strict=True):
            param.copy_(torch.from_numpy(value))
    xt = torch.from_numpy(x).requires_grad_(True)
    h0t = torch.from_numpy(h0[None]).requires_grad_(True)
    c0t = torch.from_numpy(c0[None]).requires_grad_(True)
    yt, (h_nt, c_nt) = lstm(xt, (h0t, c0t))
    loss = (yt * torch.from_numpy(dy)).sum()
    loss = loss + (h_nt[0] * torch.from_numpy(dh_n)).sum() + (c_nt[0] * torch.from_numpy(dc_n)).sum()
    loss.backward()

    def t(a):
        return a.detach().numpy()

    w_x, w_h, b = layout.from_torch(w_ih, w_hh, b_ih, b_hh)
    y, h_n, c_n, cache = mod.lstm_forward(x, w_x, w_h, b, h0, c0, return_cache=True)
    assert_close(y, t(yt), dtype, name="y")
    assert_close(h_n, t(h_nt[0]), dtype, name="h_n")
    assert_close(c_n, t(c_nt[0]), dtype, name="c_n")
    g = mod.lstm_backward(dy, cache, dh_n, dc_n)
    assert_close(g["dx"], t(xt.grad), dtype, name="dx")
    assert_close(g["dw_x"].T, t(lstm.weight_ih_l0.grad), dtype, name="dw_x.T vs dw_ih")
    assert_close(g["dw_h"].T, t(lstm.weight_hh_l0.grad), dtype, name="dw_h.T vs dw_hh")
    assert_close(g["db"], t(lstm.bias_ih_l0.grad), dtype, name="db vs db_ih")
    assert_close(g["db"], t(lstm.bias_hh_l0.grad), dtype, name="db vs db_hh")
    assert_close(g["dh0"], t(h0t.grad[0]), dtype, name="dh0")
    assert_close(g["dc0"], t(c0t.grad[0]), dtype, name="dc0")

"""Backward against central finite differences (float64, eps=1e-6, tiny shapes).

The scalar loss is sum(y * dy) + sum(h_n * dh_n) + sum(c_n * dc_n) with random dy, dh_n, dc_n,
so the analytic gradient of every input is exactly what lstm_backward returns.
"""

import numpy as np
import pytest
from helpers import ACTIVATIONS, RECURRENT_ACTIVATIONS, make_lstm

import lstmcore
from lstmcore import reference

EPS = 1e-6
BACKENDS = {"reference": reference, "compiled": lstmcore}


def _loss(mod, p, dy, dh_n, dc_n, opts):
    y, h_n, c_n = mod.lstm_forward(p["x"], p["w_x"], p["w_h"], p["b"], p["h0"], p["c0"], **opts)
    return np.sum(y * dy) + np.sum(h_n * dh_n) + np.sum(c_n * dc_n)


def _numeric_grad(mod, p, name, dy, dh_n, dc_n, opts):
    a = p[name]
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + EPS
        up = _loss(mod, p, dy, dh_n, dc_n, opts)
        a[idx] = old - EPS
        down = _loss(mod, p, dy, dh_n, dc_n, opts)
        a[idx] = old
        grad[idx] = (up - down) / (2 * EPS)
    return grad


GRAD_OF = {"x": "dx", "w_x": "dw_x", "w_h": "dw_h", "b": "db", "h0": "dh0", "c0": "dc0"}


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("recurrent_activation", RECURRENT_ACTIVATIONS)
@pytest.mark.parametrize("B, T, I, H", [(2, 3, 3, 2), (1, 4, 2, 3)])
def test_backward_matches_finite_differences(backend, activation, recurrent_activation, B, T, I, H):
    mod = BACKENDS[backend]
    rng = np.random.default_rng(1)
    p = make_lstm(rng, B, T, I, H)
    # hard_sigmoid and relu have kinks; with this fixed seed no pre-activation lies within EPS
    # of one. Were one to, the assertion would fail loudly rather than pass.
    opts = {"activation": activation, "recurrent_activation": recurrent_activation}
    dy, dh_n, dc_n = (rng.standard_normal(s) for s in ((B, T, H), (B, H), (B, H)))
    _, _, _, cache = mod.lstm_forward(
        p["x"], p["w_x"], p["w_h"], p["b"], p["h0"], p["c0"], return_cache=True, **opts
    )
    grads = mod.lstm_backward(dy, cache, dh_n, dc_n)
    for name, gname in GRAD_OF.items():
        numeric = _numeric_grad(mod, p, name, dy, dh_n, dc_n, opts)
        err = np.abs(grads[gname] - numeric).max() / max(1.0, np.abs(numeric).max())
        assert err < 1e-6, f"{gname}: relative error {err:.2e} against finite differences"


def test_finite_differences_catch_a_wrong_gradient():
    # The check above must be able to fail: a gradient off by 1e-4 is caught.
    rng = np.random.default_rng(2)
    p = make_lstm(rng, 1, 2, 2, 2)
    dy, dh_n, dc_n = rng.standard_normal((1, 2, 2)), np.zeros((1, 2)), np.zeros((1, 2))
    numeric = _numeric_grad(reference, p, "w_h", dy, dh_n, dc_n, {})
    _, _, _, cache = reference.lstm_forward(**p, return_cache=True)
    wrong = reference.lstm_backward(dy, cache)["dw_h"] + 1e-4
    assert np.abs(wrong - numeric).max() > 1e-6

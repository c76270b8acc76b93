"""Write the golden files in tests/data/ from PyTorch and Keras 3. Run by hand, never in CI.

    python3 -m venv /work/venv-golden
    /work/venv-golden/bin/pip install torch numpy keras      # keras runs on its torch backend
    /work/venv-golden/bin/python tests/make_golden.py

It needs torch and keras (Keras 3, run with KERAS_BACKEND=torch, which this script sets) and never
imports lstmcore: the files hold what the frameworks compute, and tests/test_golden.py checks
lstmcore against them with NumPy only. Inputs and weights come from fixed NumPy seeds, so a rerun
with the same framework versions writes the same numbers.

tests/data/torch_lstm.npz   ``torch.nn.LSTM(batch_first=True)``, float64 and float32
tests/data/keras_lstm.npz   ``keras.layers.LSTM`` in float64, every activation x recurrent_activation

Each file has ``format_version`` (1), ``cases`` (the case names) and the framework's version; every
other key is ``<case>/<array>``. Weights are stored in the framework's own layout. The gradients are
those of the scalar loss ``sum(y * dy) [+ sum(h_n * dh_n) + sum(c_n * dc_n)]`` (STYLE.md: the fake
loss of llm.c's tutorial), taken by torch autograd (for Keras, through the layer on the torch
backend). One correction: for recurrent_activation='hard_sigmoid' the derivative 1/6 is made exact,
because torch's float64 hardsigmoid backward uses 1/6 rounded to float32 (_HardSigmoidExactGrad).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported

import numpy as np

try:
    import keras
    import torch
except ImportError as exc:  # pragma: no cover - a by-hand script
    sys.exit(
        f"make_golden.py needs torch and keras 3 ({exc}). Install them in a separate venv:\n"
        "    python3 -m venv /work/venv-golden\n"
        "    /work/venv-golden/bin/pip install torch numpy keras\n"
        "    /work/venv-golden/bin/python tests/make_golden.py"
    )

FORMAT_VERSION = 1
DATA = Path(__file__).resolve().parent / "data"


def _check_versions():
    if int(keras.__version__.split(".")[0]) < 3:
        sys.exit(f"make_golden.py needs Keras 3, got {keras.__version__}")
    if keras.backend.backend() != "torch":
        sys.exit(f"make_golden.py needs Keras on its torch backend, got {keras.backend.backend()!r}")


def _save(path: Path, meta: dict, cases: dict):
    arrays = {"format_version": np.array(FORMAT_VERSION), "cases": np.array(list(cases)), **meta}
    for case, entries in cases.items():
        for key, value in entries.items():
            arrays[f"{case}/{key}"] = np.array(value, order="C")  # keeps 0-d strings 0-d
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({path.stat().st_size} bytes, {len(cases)} cases)")


def _np(t):
    return t.detach().cpu().numpy().copy()


# PyTorch ----------------------------------------------------------------------------------------

# name: (B, T, I, H, dtype, with h0/c0 and dh_n/dc_n)
TORCH_CASES = {
    "f64_B3T5I4H6": (3, 5, 4, 6, np.float64, True),
    "f32_B3T5I4H6": (3, 5, 4, 6, np.float32, True),
    "f64_B1T1I2H1": (1, 1, 2, 1, np.float64, True),
    "f32_B2T33I3H7_nostate": (2, 33, 3, 7, np.float32, False),
}


def torch_case(seed, B, T, I, H, dtype, state):
    """One ``nn.LSTM`` forward and backward; inputs drawn in float64, then cast to ``dtype``."""
    rng = np.random.default_rng(seed)
    G = 4 * H

    def u(*shape):  # weights small enough that the gates are not saturated
        return rng.uniform(-0.5, 0.5, shape).astype(dtype)

    def n(*shape):
        return rng.standard_normal(shape).astype(dtype)

    case = {"x": n(B, T, I), "w_ih": u(G, I), "w_hh": u(G, H), "b_ih": u(G), "b_hh": u(G), "dy": n(B, T, H)}
    if state:
        case.update(h0=n(B, H) * 0.5, c0=n(B, H) * 0.5, dh_n=n(B, H), dc_n=n(B, H))

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    lstm = torch.nn.LSTM(I, H, num_layers=1, bias=True, batch_first=True).to(tdtype)
    with torch.no_grad():
        for param, name in (
            (lstm.weight_ih_l0, "w_ih"),
            (lstm.weight_hh_l0, "w_hh"),
            (lstm.bias_ih_l0, "b_ih"),
            (lstm.bias_hh_l0, "b_hh"),
        ):
            param.copy_(torch.from_numpy(case[name]))
    x = torch.from_numpy(case["x"]).requires_grad_(True)
    # Without a state the file keeps no h0/c0 and lstmcore is called with None; torch is given
    # explicit zeros (the same numbers as hx=None, checked below) so that dh0 and dc0 exist.
    zeros = np.zeros((1, B, H), dtype=dtype)
    h0 = torch.from_numpy(case["h0"][None] if state else zeros).requires_grad_(True)
    c0 = torch.from_numpy(case["c0"][None] if state else zeros.copy()).requires_grad_(True)
    y, (h_n, c_n) = lstm(x, (h0, c0))
    if not state:
        y_none, _ = lstm(x)
        assert torch.equal(y, y_none), "hx=None and explicit zeros disagree"
    loss = (y * torch.from_numpy(case["dy"])).sum()
    if state:
        loss = loss + (h_n[0] * torch.from_numpy(case["dh_n"])).sum()
        loss = loss + (c_n[0] * torch.from_numpy(case["dc_n"])).sum()
    loss.backward()

    case.update(y=_np(y), h_n=_np(h_n[0]), c_n=_np(c_n[0]), dx=_np(x.grad), dh0=_np(h0.grad[0]))
    case.update(
        dc0=_np(c0.grad[0]),
        dw_ih=_np(lstm.weight_ih_l0.grad),
        dw_hh=_np(lstm.weight_hh_l0.grad),
        db_ih=_np(lstm.bias_ih_l0.grad),
        db_hh=_np(lstm.bias_hh_l0.grad),
    )
    for key, value in case.items():
        assert value.dtype == dtype, (key, value.dtype)
    return case


# Keras ------------------------------------------------------------------------------------------

KERAS_SHAPE = (2, 5, 3, 3)  # B, T, I, H
KERAS_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
KERAS_RECURRENT = ("sigmoid", "hard_sigmoid")
KINK_MARGIN = 1e-3  # every pre-activation stays this far from a kink of its activation


def _preactivations(case):
    """z (T, B, G) of every step, rebuilt from Keras's own outputs y and h0 (a check, no LSTM)."""
    h_prev = np.concatenate([case["h0"][None], case["y"].transpose(1, 0, 2)[:-1]])  # (T, B, H)
    x = case["x"].transpose(1, 0, 2)
    return x @ case["kernel"] + h_prev @ case["recurrent_kernel"] + case["bias"]


def _kinks_ok(z, activation, recurrent_activation):
    """Pre-activations far from kinks, and for hard_sigmoid some of them clipped."""
    H = z.shape[-1] // 4
    z_ifo = np.concatenate([z[..., : 2 * H], z[..., 3 * H :]], axis=-1)
    z_g = z[..., 2 * H : 3 * H]
    if activation == "relu" and np.abs(z_g).min() < KINK_MARGIN:
        return False
    if recurrent_activation == "hard_sigmoid":
        if np.abs(np.abs(z_ifo) - 3).min() < KINK_MARGIN:
            return False
        clipped = np.mean(np.abs(z_ifo) > 3)
        if not 0.1 <= clipped <= 0.6:
            return False
    return True


class _HardSigmoidExactGrad(torch.autograd.Function):
    """Keras's own ``hard_sigmoid`` forward with the exact derivative 1/6 on (-3, 3).

    torch 2.x's CPU ``hardsigmoid_backward`` multiplies by ``1/6`` rounded to float32
    (0.1666666716...) even for float64 tensors, a relative error of 3e-8 in every gradient that
    passes through a hard_sigmoid gate: far above the float64 tolerance (rtol 1e-10). The forward
    values stay Keras's; only that constant is made exact, and keras_case checks that the gradients
    move by no more than that rounding.
    """

    @staticmethod
    def forward(ctx, x, fn):
        ctx.save_for_backward(x)
        return fn(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        inside = (x > -3) & (x < 3)
        return grad * inside.to(grad.dtype) / 6, None

    @classmethod
    def wrap(cls, fn):
        return lambda x: cls.apply(x, fn)


def _keras_run(layer, case):
    """Forward with ``initial_state``; gradients of ``sum(y * dy)`` by torch autograd."""
    kernel, recurrent_kernel, bias = (v.value for v in layer.weights)  # torch Parameters
    for p in (kernel, recurrent_kernel, bias):
        assert p.dtype == torch.float64
        p.grad = None
    x = torch.from_numpy(case["x"]).requires_grad_(True)
    h0 = torch.from_numpy(case["h0"]).requires_grad_(True)
    c0 = torch.from_numpy(case["c0"]).requires_grad_(True)
    y, h_n, c_n = layer(x, initial_state=[h0, c0])
    assert y.dtype == torch.float64, y.dtype
    (y * torch.from_numpy(case["dy"])).sum().backward()
    out = {"y": _np(y), "h_n": _np(h_n), "c_n": _np(c_n)}
    grads = {
        "dx": _np(x.grad),
        "dh0": _np(h0.grad),
        "dc0": _np(c0.grad),
        "dkernel": _np(kernel.grad),
        "drecurrent_kernel": _np(recurrent_kernel.grad),
        "dbias": _np(bias.grad),
    }
    return out, grads


def keras_case(seed, activation, recurrent_activation):
    """One ``keras.layers.LSTM`` forward (float64) and its gradients by torch autograd."""
    B, T, I, H = KERAS_SHAPE
    G = 4 * H
    # hard_sigmoid: weights large enough that pre-activations often pass +-3 and are clipped.
    scale = 1.5 if recurrent_activation == "hard_sigmoid" else 0.5
    for attempt in range(100):
        rng = np.random.default_rng([seed, attempt])
        case = {
            "x": rng.standard_normal((B, T, I)) * (1.5 if scale > 1 else 1.0),
            "h0": rng.standard_normal((B, H)) * 0.5,
            "c0": rng.standard_normal((B, H)) * 0.5,
            "kernel": rng.uniform(-scale, scale, (I, G)),
            "recurrent_kernel": rng.uniform(-scale, scale, (H, G)),
            "bias": rng.uniform(-scale, scale, G),
            "dy": rng.standard_normal((B, T, H)),
        }
        layer = keras.layers.LSTM(
            H,
            activation=activation,
            recurrent_activation=recurrent_activation,
            return_sequences=True,
            return_state=True,
            dtype="float64",
        )
        layer.build((B, T, I))
        layer.set_weights([case["kernel"], case["recurrent_kernel"], case["bias"]])
        out, grads = _keras_run(layer, case)
        case.update(out)
        if not _kinks_ok(_preactivations(case), activation, recurrent_activation):
            continue
        if recurrent_activation == "hard_sigmoid":
            # Same forward op, exact 1/6 in the backward (see _HardSigmoidExactGrad).
            keras_hard_sigmoid = layer.cell.recurrent_activation
            layer.cell.recurrent_activation = _HardSigmoidExactGrad.wrap(keras_hard_sigmoid)
            out_exact, grads_exact = _keras_run(layer, case)
            for key in out:
                assert np.array_equal(out[key], out_exact[key]), key
            rel = max(np.abs(grads_exact[k] - grads[k]).max() / np.abs(grads[k]).max() for k in grads)
            assert rel < 1e-7, rel  # only the float32 rounding of 1/6 differs
            note = f", torch's own hard_sigmoid grads off by {rel:.1e} (relative)"
            grads = grads_exact
        else:
            note = ""
        case.update(grads)
        for key, value in case.items():
            assert value.dtype == np.float64, (key, value.dtype)
        z = _preactivations(case)
        print(
            f"  keras {activation}/{recurrent_activation}: attempt {attempt}, |z| max {np.abs(z).max():.2f}, "
            f"{np.mean(np.abs(z) > 3):.0%} beyond +-3{note}"
        )
        return case
    raise RuntimeError(f"no draw for {activation}/{recurrent_activation} kept away from kinks")


def main():
    _check_versions()
    torch.manual_seed(0)  # nothing below draws from torch's generator; set anyway
    DATA.mkdir(exist_ok=True)

    cases = {name: torch_case(1000 + k, *spec) for k, (name, spec) in enumerate(TORCH_CASES.items())}
    _save(DATA / "torch_lstm.npz", {"torch_version": np.array(torch.__version__)}, cases)

    cases = {}
    for k, act in enumerate(KERAS_ACTIVATIONS):
        for j, ract in enumerate(KERAS_RECURRENT):
            cases[f"{act}_{ract}"] = keras_case(2000 + 10 * k + j, act, ract)
            cases[f"{act}_{ract}"]["activation"] = np.array(act)
            cases[f"{act}_{ract}"]["recurrent_activation"] = np.array(ract)
    meta = {
        "keras_version": np.array(keras.__version__),
        "torch_version": np.array(torch.__version__),
        "hard_sigmoid_grad": np.array("exact 1/6; torch's float64 hardsigmoid_backward uses float32(1/6)"),
    }
    _save(DATA / "keras_lstm.npz", meta, cases)


if __name__ == "__main__":
    main()

"""Write the golden files in tests/io/data/ from PyTorch and Keras 3. Run by hand, never in CI.

    python3 -m venv /work/venv-golden
    /work/venv-golden/bin/pip install torch==2.13.0 numpy keras      # keras runs on its torch backend
    /work/venv-golden/bin/python tests/io/make_golden.py [FILE.npz ...]  # default: every file

It needs torch and keras (Keras 3, run with KERAS_BACKEND=torch, which this script sets) and never
imports lstmcore: the files hold what the frameworks compute, and tests/io/test_golden.py and
tests/io/test_golden_cells.py check lstmcore against them with NumPy only. Inputs and weights come
from fixed NumPy seeds, so a rerun with the same framework versions writes the same numbers up to
their last bits (BLAS may sum in another order: measured, 5e-16 relative in float64, 3e-7 in
float32), never the same bytes (a zip entry keeps the time it was written): name only the files to
rewrite.

tests/io/data/torch_lstm.npz        ``torch.nn.LSTM(batch_first=True)``, float64 and float32
tests/io/data/keras_lstm.npz        ``keras.layers.LSTM`` in float64, every activation x recurrent_activation
tests/io/data/torch_gru.npz         ``torch.nn.GRU(batch_first=True)``, float64 and float32
tests/io/data/torch_rnn.npz         ``torch.nn.RNN(batch_first=True)``, nonlinearity tanh and relu
tests/io/data/torch_lstm_proj.npz   ``torch.nn.LSTM(proj_size=P, batch_first=True)``
tests/io/data/keras_gru.npz         ``keras.layers.GRU`` in float64, reset_after True and False, with
                                 activation/recurrent_activation pairs (``recurrent_activation`` and
                                 ``reset_after`` stored with each case)
tests/io/data/keras_rnn.npz         ``keras.layers.SimpleRNN`` in float64, activation tanh and relu
tests/io/data/torch_sequences.npz   ``nn.LSTM/GRU/RNN`` with num_layers 1-3, bidirectional, over packed
                                 sequences of unequal lengths, float64 and float32
tests/io/data/keras_sequences.npz   Keras 3 LSTM/GRU/SimpleRNN called with a mask (front and back
                                 padding, holes), go_backwards, and Bidirectional in each merge mode

Each file has ``format_version`` (1), ``cases`` (the case names) and the framework's version; every
other key is ``<case>/<array>``. Weights are stored in the framework's own layout (PyTorch's GRU in
its gate order r, z, n; ``w_hr (P, H)`` for the projection). The gradients are those of the scalar
loss ``sum(y * dy) [+ sum(h_n * dh_n) + sum(c_n * dc_n)]`` (STYLE.md: the fake loss of llm.c's
tutorial), taken by torch autograd (for Keras, through the layer on the torch backend); each
gradient is stored as ``d<name>`` of the array it belongs to. Two corrections: for
recurrent_activation='hard_sigmoid' the derivative 1/6 is made exact, because torch's float64
hardsigmoid backward uses 1/6 rounded to float32 (_HardSigmoidExactGrad); and Keras's ops.matmul is
made to keep float64 operands float64 (_keras_float64_matmul). relu draws are redrawn
until no pre-activation is within KINK_MARGIN of the kink.
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
        "    /work/venv-golden/bin/pip install torch==2.13.0 numpy keras\n"
        "    /work/venv-golden/bin/python tests/io/make_golden.py"
    )

FORMAT_VERSION = 1
DATA = Path(__file__).resolve().parent / "data"


def _check_versions():
    if int(keras.__version__.split(".")[0]) < 3:
        sys.exit(f"make_golden.py needs Keras 3, got {keras.__version__}")
    if keras.backend.backend() != "torch":
        sys.exit(f"make_golden.py needs Keras on its torch backend, got {keras.backend.backend()!r}")


def _keras_float64_matmul():
    """Make Keras's ``ops.matmul`` of float64 tensors compute in float64.

    Keras 3 (3.15 at least) promotes dtypes as JAX does without x64: ``result_type(float64,
    float64)`` is float32, so ``ops.matmul`` rounds its float64 operands to float32 and the
    generic RNN loop (SimpleRNN, GRU(reset_after=False)) computes its products in float32: errors of
    1e-8, far above the float64 tolerance. (Keras's own LSTM and reset_after=True GRU paths on the
    torch backend call torch.matmul and stay float64.) Dropping float64 from the 64-to-32-bit table
    keeps float64 float64; checked before and after.
    """
    from keras.src.backend.common import dtypes

    a = torch.ones((2, 2), dtype=torch.float64)
    if "float64" in dtypes.BIT64_TO_BIT32_DTYPE:
        del dtypes.BIT64_TO_BIT32_DTYPE["float64"]
    if keras.ops.matmul(a, a).dtype != torch.float64:
        sys.exit("make_golden.py: could not make Keras's ops.matmul keep float64")


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


# name: (B, T, I, H, dtype, with h0 and dh_n)
TORCH_GRU_CASES = {
    "f64_B3T5I4H6": (3, 5, 4, 6, np.float64, True),
    "f32_B3T5I4H6": (3, 5, 4, 6, np.float32, True),
    "f64_B1T1I2H1": (1, 1, 2, 1, np.float64, True),
    "f32_B2T33I3H7_nostate": (2, 33, 3, 7, np.float32, False),
}
# name: (B, T, I, H, dtype, with h0 and dh_n, nonlinearity)
TORCH_RNN_CASES = {
    "tanh_f64_B3T5I4H6": (3, 5, 4, 6, np.float64, True, "tanh"),
    "tanh_f32_B3T5I4H6": (3, 5, 4, 6, np.float32, True, "tanh"),
    "tanh_f64_B1T1I2H1": (1, 1, 2, 1, np.float64, True, "tanh"),
    "relu_f64_B3T5I4H6": (3, 5, 4, 6, np.float64, True, "relu"),
    "relu_f32_B2T9I3H5_nostate": (2, 9, 3, 5, np.float32, False, "relu"),
}
# name: (B, T, I, H, P, dtype, with h0/c0 and dh_n/dc_n)
TORCH_PROJ_CASES = {
    "f64_B3T5I4H6P3": (3, 5, 4, 6, 3, np.float64, True),
    "f32_B3T5I4H6P3": (3, 5, 4, 6, 3, np.float32, True),
    "f64_B2T7I3H5P1_nostate": (2, 7, 3, 5, 1, np.float64, False),
    "f32_B1T1I2H2P1": (1, 1, 2, 2, 1, np.float32, True),
}


def _torch_relu_kinks_ok(case):
    """nn.RNN(relu): every pre-activation, rebuilt from torch's own y, away from relu's kink at 0."""
    x = case["x"].astype(np.float64).transpose(1, 0, 2)
    y = case["y"].astype(np.float64).transpose(1, 0, 2)
    h0 = case["h0"] if "h0" in case else np.zeros_like(y[0])
    h_prev = np.concatenate([h0[None].astype(np.float64), y[:-1]])
    pre = x @ case["w_ih"].T + case["b_ih"] + h_prev @ case["w_hh"].T + case["b_hh"]
    return np.abs(pre).min() >= KINK_MARGIN and 0.2 <= np.mean(pre < 0) <= 0.8


def _draws(rng, dtype):
    """u: uniform weights small enough that the gates are not saturated; n: standard normals."""

    def u(*shape):
        return rng.uniform(-0.5, 0.5, shape).astype(dtype)

    def n(*shape):
        return rng.standard_normal(shape).astype(dtype)

    return u, n


def _leaf(a):
    return torch.from_numpy(a).requires_grad_(True)


def torch_cell_case(seed, cell, B, T, I, H, dtype, state, P=None, nonlinearity="tanh"):
    """One ``nn.GRU``, ``nn.RNN`` or ``nn.LSTM(proj_size=P)`` forward and backward, as torch_case.

    The file keeps PyTorch's own layout (``w_ih``, ``w_hh``, ``b_ih``, ``b_hh``, and ``w_hr (P, H)``
    for the projection); ``h0`` is ``(B, P)`` with a projection. Gradients of
    ``sum(y * dy) [+ sum(h_n * dh_n) + sum(c_n * dc_n)]``. relu draws are redrawn until no
    pre-activation is within KINK_MARGIN of 0.
    """
    K = {"gru": 3, "rnn": 1, "lstm": 4}[cell]
    G = K * H
    R = H if P is None else P  # columns of h
    for attempt in range(100):
        u, n = _draws(np.random.default_rng([seed, attempt]), dtype)
        case = {"x": n(B, T, I), "w_ih": u(G, I), "w_hh": u(G, R), "b_ih": u(G), "b_hh": u(G)}
        if P is not None:
            case["w_hr"] = u(P, H)
        case["dy"] = n(B, T, R)
        if state:
            case.update(h0=n(B, R) * 0.5, dh_n=n(B, R))
            if cell == "lstm":
                case.update(c0=n(B, H) * 0.5, dc_n=n(B, H))

        tdtype = torch.float64 if dtype == np.float64 else torch.float32
        if cell == "gru":
            module = torch.nn.GRU(I, H, batch_first=True)
        elif cell == "rnn":
            module = torch.nn.RNN(I, H, nonlinearity=nonlinearity, batch_first=True)
        else:
            module = torch.nn.LSTM(I, H, proj_size=P, batch_first=True)
        module = module.to(tdtype)
        params = {"weight_ih_l0": "w_ih", "weight_hh_l0": "w_hh", "bias_ih_l0": "b_ih", "bias_hh_l0": "b_hh"}
        if P is not None:
            params["weight_hr_l0"] = "w_hr"
        assert sorted(name for name, _ in module.named_parameters()) == sorted(params)
        with torch.no_grad():
            for name, key in params.items():
                getattr(module, name).copy_(torch.from_numpy(case[key]))

        x = torch.from_numpy(case["x"]).requires_grad_(True)
        # Without a state the file keeps no h0/c0 and lstmcore is called with None; torch is given
        # explicit zeros (the same numbers as hx=None, checked below) so that dh0 and dc0 exist.
        h0 = _leaf(case["h0"][None] if state else np.zeros((1, B, R), dtype))
        if cell == "lstm":
            c0 = _leaf(case["c0"][None] if state else np.zeros((1, B, H), dtype))
            y, (h_n, c_n) = module(x, (h0, c0))
        else:
            y, h_n = module(x, h0)
        if not state:
            y_none, _ = module(x)
            assert torch.equal(y, y_none), "hx=None and explicit zeros disagree"
        loss = (y * torch.from_numpy(case["dy"])).sum()
        if state:
            loss = loss + (h_n[0] * torch.from_numpy(case["dh_n"])).sum()
            if cell == "lstm":
                loss = loss + (c_n[0] * torch.from_numpy(case["dc_n"])).sum()
        loss.backward()

        case.update(y=_np(y), h_n=_np(h_n[0]), dx=_np(x.grad), dh0=_np(h0.grad[0]))
        if cell == "lstm":
            case.update(c_n=_np(c_n[0]), dc0=_np(c0.grad[0]))
        for name, key in params.items():
            case[f"d{key}"] = _np(getattr(module, name).grad)
        for key, value in case.items():
            assert value.dtype == dtype, (key, value.dtype)
        if cell == "rnn" and nonlinearity == "relu" and not _torch_relu_kinks_ok(case):
            continue
        if cell == "rnn":
            case["nonlinearity"] = np.array(nonlinearity)
        print(f"  torch {cell} {nonlinearity if cell == 'rnn' else ''} {np.dtype(dtype)}: attempt {attempt}")
        return case
    raise RuntimeError(f"no draw for torch {cell} {nonlinearity} kept away from kinks")


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


def _keras_run(layer, case, states=("h0", "c0")):
    """Forward with ``initial_state``; gradients of ``sum(y * dy)`` by torch autograd."""
    kernel, recurrent_kernel, bias = (v.value for v in layer.weights)  # torch Parameters
    for p in (kernel, recurrent_kernel, bias):
        assert p.dtype == torch.float64
        p.grad = None
    x = torch.from_numpy(case["x"]).requires_grad_(True)
    initial = [torch.from_numpy(case[k]).requires_grad_(True) for k in states]
    y, *finals = layer(x, initial_state=initial)
    assert y.dtype == torch.float64, y.dtype
    (y * torch.from_numpy(case["dy"])).sum().backward()
    out = {"y": _np(y), **{k.replace("0", "_n"): _np(v) for k, v in zip(states, finals, strict=True)}}
    grads = {"dx": _np(x.grad), **{f"d{k}": _np(v.grad) for k, v in zip(states, initial, strict=True)}}
    grads.update(dkernel=_np(kernel.grad), drecurrent_kernel=_np(recurrent_kernel.grad), dbias=_np(bias.grad))
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


# name: (reset_after, activation, recurrent_activation)
KERAS_GRU_CASES = {
    "after_tanh_sigmoid": (True, "tanh", "sigmoid"),
    "after_relu_hard_sigmoid": (True, "relu", "hard_sigmoid"),
    "after_elu_sigmoid": (True, "elu", "sigmoid"),
    "after_softsign_hard_sigmoid": (True, "softsign", "hard_sigmoid"),
    "before_tanh_sigmoid": (False, "tanh", "sigmoid"),
    "before_relu_hard_sigmoid": (False, "relu", "hard_sigmoid"),
    "before_softplus_sigmoid": (False, "softplus", "sigmoid"),
    "before_linear_hard_sigmoid": (False, "linear", "hard_sigmoid"),
}
KERAS_RNN_ACTIVATIONS = ("tanh", "relu")


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _hard_sigmoid(v):  # Keras 3's: relu6(x + 3) / 6
    return np.clip(v / 6 + 0.5, 0, 1)


def _cell_preactivations(case, cell, reset_after, recurrent_activation):
    """(gate pre-activations (T, B, 2H) of z and r or None, candidate's (T, B, H)) of every step of a
    Keras GRU or SimpleRNN, rebuilt from its own outputs y and h0 (a check, no GRU)."""
    h_prev = np.concatenate([case["h0"][None], case["y"].transpose(1, 0, 2)[:-1]])  # (T, B, H)
    x = case["x"].transpose(1, 0, 2)
    k, rk, bias = case["kernel"], case["recurrent_kernel"], case["bias"]
    if cell == "rnn":
        return None, x @ k + h_prev @ rk + bias
    H = rk.shape[0]
    ract = {"sigmoid": _sigmoid, "hard_sigmoid": _hard_sigmoid}[recurrent_activation]
    if reset_after:
        zx, zh = x @ k + bias[0], h_prev @ rk + bias[1]
        pre_zr = zx[..., : 2 * H] + zh[..., : 2 * H]
        r = ract(pre_zr[..., H:])
        return pre_zr, zx[..., 2 * H :] + r * zh[..., 2 * H :]
    zx = x @ k + bias
    pre_zr = zx[..., : 2 * H] + h_prev @ rk[:, : 2 * H]
    r = ract(pre_zr[..., H:])
    return pre_zr, zx[..., 2 * H :] + (r * h_prev) @ rk[:, 2 * H :]


def _cell_kinks_ok(pre_gates, pre_n, activation, recurrent_activation):
    """Pre-activations far from kinks, and for hard_sigmoid some of the gates' clipped."""
    if activation == "relu" and (np.abs(pre_n).min() < KINK_MARGIN or not 0.2 <= np.mean(pre_n < 0) <= 0.8):
        return False
    if recurrent_activation == "hard_sigmoid":
        if np.abs(np.abs(pre_gates) - 3).min() < KINK_MARGIN:
            return False
        if not 0.1 <= np.mean(np.abs(pre_gates) > 3) <= 0.6:
            return False
    return True


def keras_cell_case(seed, cell, activation, recurrent_activation=None, reset_after=None):
    """One ``keras.layers.GRU`` or ``keras.layers.SimpleRNN`` forward (float64) and its gradients by
    torch autograd, as keras_case (hard_sigmoid's derivative made exact the same way)."""
    B, T, I, H = KERAS_SHAPE
    K = 3 if cell == "gru" else 1
    G = K * H
    scale = 1.5 if recurrent_activation == "hard_sigmoid" else 0.5
    bias_shape = (2, G) if reset_after else (G,)
    for attempt in range(100):
        rng = np.random.default_rng([seed, attempt])
        case = {
            "x": rng.standard_normal((B, T, I)) * (1.5 if scale > 1 else 1.0),
            "h0": rng.standard_normal((B, H)) * 0.5,
            "kernel": rng.uniform(-scale, scale, (I, G)),
            "recurrent_kernel": rng.uniform(-scale, scale, (H, G)),
            "bias": rng.uniform(-scale, scale, bias_shape),
            "dy": rng.standard_normal((B, T, H)),
        }
        common = {"return_sequences": True, "return_state": True, "dtype": "float64"}
        if cell == "gru":
            layer = keras.layers.GRU(
                H, activation, recurrent_activation=recurrent_activation, reset_after=reset_after, **common
            )
        else:
            layer = keras.layers.SimpleRNN(H, activation, **common)
        layer.build((B, T, I))
        layer.set_weights([case["kernel"], case["recurrent_kernel"], case["bias"]])
        out, grads = _keras_run(layer, case, states=("h0",))
        case.update(out)
        pre_gates, pre_n = _cell_preactivations(case, cell, reset_after, recurrent_activation)
        if not _cell_kinks_ok(pre_gates, pre_n, activation, recurrent_activation):
            continue
        note = ""
        if recurrent_activation == "hard_sigmoid":
            keras_hard_sigmoid = layer.cell.recurrent_activation
            layer.cell.recurrent_activation = _HardSigmoidExactGrad.wrap(keras_hard_sigmoid)
            out_exact, grads_exact = _keras_run(layer, case, states=("h0",))
            for key in out:
                assert np.array_equal(out[key], out_exact[key]), key
            rel = max(np.abs(grads_exact[k] - grads[k]).max() / np.abs(grads[k]).max() for k in grads)
            assert 0 < rel < 1e-7, rel  # the wrapper was used, and only the rounding of 1/6 differs
            note = f", torch's own hard_sigmoid grads off by {rel:.1e} (relative)"
            grads = grads_exact
        case.update(grads)
        for key, value in case.items():
            assert value.dtype == np.float64, (key, value.dtype)
        case["activation"] = np.array(activation)
        if cell == "gru":
            case["recurrent_activation"] = np.array(recurrent_activation)
            case["reset_after"] = np.array(reset_after)
        gates = "" if pre_gates is None else f", {np.mean(np.abs(pre_gates) > 3):.0%} of gates beyond +-3"
        print(
            f"  keras {cell} {activation}/{recurrent_activation} reset_after={reset_after}: "
            f"attempt {attempt}, |pre| max {np.abs(pre_n).max():.2f}{gates}{note}"
        )
        return case
    raise RuntimeError(f"no draw for {cell} {activation}/{recurrent_activation} kept away from kinks")


# Sequences: directions, stacks, lengths, masks -------------------------------------------------

# name: (cell, num_layers, bidirectional, packed, dtype, B, T, I, H)
TORCH_SEQ_CASES = {
    "lstm_bi_f64": ("lstm", 1, True, False, np.float64, 3, 5, 4, 5),
    "lstm_L2_packed_f64": ("lstm", 2, False, True, np.float64, 4, 6, 3, 4),
    "lstm_L3_bi_packed_f32": ("lstm", 3, True, True, np.float32, 4, 6, 3, 4),
    "gru_bi_packed_f64": ("gru", 1, True, True, np.float64, 5, 7, 2, 3),
    "gru_L2_bi_f32": ("gru", 2, True, False, np.float32, 3, 4, 3, 5),
    "rnn_L2_bi_packed_f64": ("rnn", 2, True, True, np.float64, 4, 5, 3, 4),
}


def torch_seq_case(seed, cell, L, bidirectional, packed, dtype, B, T, I, H):
    """``nn.LSTM/GRU/RNN(num_layers=L, bidirectional=..., batch_first=True)``, optionally over a
    packed batch of the lengths ``lengths`` (unsorted, the longest T, one of length 1), with h0
    (and c0); gradients of ``sum(y * dy) + sum(h_n * dh_n) [+ sum(c_n * dc_n)]`` with y padded
    back to T (0 past each length). Weights under PyTorch's own names (``weight_ih_l1_reverse``...)."""
    D = 2 if bidirectional else 1
    u, n = _draws(np.random.default_rng(seed), dtype)
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
    module = cls(I, H, num_layers=L, bidirectional=bidirectional, batch_first=True)
    module = module.to(torch.float64 if dtype == np.float64 else torch.float32)
    case = {"x": n(B, T, I), "h0": n(L * D, B, H) * 0.5, "dy": n(B, T, D * H), "dh_n": n(L * D, B, H)}
    if cell == "lstm":
        case.update(c0=n(L * D, B, H) * 0.5, dc_n=n(L * D, B, H))
    if packed:
        lengths = np.random.default_rng(seed + 1).integers(1, T + 1, B)
        lengths[0], lengths[1], lengths[-1] = max(1, T // 2), T, 1  # unsorted
        case["lengths"] = lengths.astype(np.int64)
    names = [name for name, _ in module.named_parameters()]
    with torch.no_grad():
        for name, param in module.named_parameters():
            case[name] = u(*param.shape)
            param.copy_(torch.from_numpy(case[name]))
    x = torch.from_numpy(case["x"]).requires_grad_(True)
    h0 = _leaf(case["h0"])
    state = (h0, _leaf(case["c0"])) if cell == "lstm" else h0
    inp = x
    if packed:
        inp = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.from_numpy(case["lengths"]), batch_first=True, enforce_sorted=False
        )
    y, final = module(inp, state)
    if packed:
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=T)
    h_n = final[0] if cell == "lstm" else final
    loss = (y * torch.from_numpy(case["dy"])).sum() + (h_n * torch.from_numpy(case["dh_n"])).sum()
    if cell == "lstm":
        loss = loss + (final[1] * torch.from_numpy(case["dc_n"])).sum()
    loss.backward()
    case.update(y=_np(y), h_n=_np(h_n), dx=_np(x.grad), dh0=_np(h0.grad))
    if cell == "lstm":
        case.update(c_n=_np(final[1]), dc0=_np(state[1].grad))
    for name, param in module.named_parameters():
        case[f"d{name}"] = _np(param.grad)
    for key, value in case.items():
        assert key == "lengths" or value.dtype == dtype, (key, value.dtype)
    case.update(cell=np.array(cell), num_layers=np.array(L), bidirectional=np.array(bidirectional))
    case["parameters"] = np.array(names)
    print(f"  torch {cell} L={L} bidirectional={bidirectional} packed={packed} {np.dtype(dtype)}")
    return case


# name: (cell, go_backwards, bidirectional merge_mode or "" for one direction)
KERAS_SEQ_CASES = {
    "lstm_mask": ("lstm", False, ""),
    "lstm_mask_go_backwards": ("lstm", True, ""),
    "gru_mask": ("gru", False, ""),
    "rnn_mask_go_backwards": ("rnn", True, ""),
    "lstm_bi_concat": ("lstm", False, "concat"),
    "lstm_bi_sum": ("lstm", False, "sum"),
    "gru_bi_mul": ("gru", False, "mul"),
    "rnn_bi_ave": ("rnn", False, "ave"),
    "lstm_bi_none": ("lstm", False, None),
}
KERAS_SEQ_SHAPE = (4, 6, 3, 3)  # B, T, I, H


def keras_seq_mask(B, T):
    """Front padding (pad_sequences' default), back padding, holes, and a row fully masked but
    its last step."""
    mask = np.ones((B, T), dtype=bool)
    mask[0, :2] = False
    mask[1, 4:] = False
    mask[2, [1, 3]] = False
    mask[3, :-1] = False
    return mask


def keras_seq_case(seed, cell, go_backwards, merge_mode):
    """A Keras 3 ``LSTM``/``GRU``/``SimpleRNN`` (float64, return_sequences and return_state) called
    with ``mask=`` (keras_seq_mask) and initial states, alone (go_backwards as given) or wrapped
    in ``Bidirectional(merge_mode=...)`` (whose layers output 0 on masked steps); gradients of
    ``sum(y * dy)`` (of each output with merge_mode None) by torch autograd. Weights under
    ``<direction>/kernel`` etc., direction ``forward`` or ``backward``."""
    B, T, I, H = KERAS_SEQ_SHAPE
    rng = np.random.default_rng(seed)
    bi = merge_mode != ""
    layer_cls = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[cell]
    layer = layer_cls(H, return_sequences=True, return_state=True, go_backwards=go_backwards, dtype="float64")
    if bi:
        layer = keras.layers.Bidirectional(layer, merge_mode=merge_mode, dtype="float64")
    layer.build((B, T, I))
    subs = (
        [("forward", layer.forward_layer), ("backward", layer.backward_layer)] if bi else [("forward", layer)]
    )
    n_states = 2 if cell == "lstm" else 1
    case = {"x": rng.standard_normal((B, T, I)), "mask": keras_seq_mask(B, T)}
    params, initial = [], []
    for direction, sub in subs:
        for v in sub.weights:
            name = v.path.split("/")[-1]
            value = rng.uniform(-0.6, 0.6, tuple(v.shape))
            v.assign(value)
            case[f"{direction}/{name}"] = value
            params.append((f"{direction}/{name}", v.value))
        for sname in ("h0", "c0")[:n_states]:
            case[f"{direction}/{sname}"] = rng.standard_normal((B, H)) * 0.5
            initial.append(torch.from_numpy(case[f"{direction}/{sname}"]).requires_grad_(True))
    x = torch.from_numpy(case["x"]).requires_grad_(True)
    outs = layer(x, initial_state=initial, mask=torch.from_numpy(case["mask"]))
    ys = list(outs[:2]) if merge_mode is None else [outs[0]]
    finals = outs[len(ys) :]
    loss = 0
    for k, y in enumerate(ys):
        case[f"y{k}"] = _np(y)
        case[f"dy{k}"] = rng.standard_normal(tuple(y.shape))
        loss = loss + (y * torch.from_numpy(case[f"dy{k}"])).sum()
    for p in (v for _, v in params):
        p.grad = None
    loss.backward()
    case["dx"] = _np(x.grad)
    for name, p in params:
        case[f"d{name}"] = _np(p.grad)
    per = n_states
    for d, (direction, _) in enumerate(subs):
        for k, sname in enumerate(("h_n", "c_n")[:per]):
            case[f"{direction}/{sname}"] = _np(finals[d * per + k])
            case[f"{direction}/d{sname.replace('_n', '0')}"] = _np(initial[d * per + k].grad)
    for key, value in case.items():
        assert key == "mask" or value.dtype == np.float64, (key, value.dtype)
    case.update(
        cell=np.array(cell),
        go_backwards=np.array(go_backwards),
        merge_mode=np.array("none" if merge_mode is None else merge_mode),
        outputs=np.array(len(ys)),
    )
    print(f"  keras {cell} go_backwards={go_backwards} merge_mode={merge_mode!r}")
    return case


def write_torch_sequences():
    cases = {
        name: torch_seq_case(5000 + 10 * k, *spec) for k, (name, spec) in enumerate(TORCH_SEQ_CASES.items())
    }
    _save(DATA / "torch_sequences.npz", {"torch_version": np.array(torch.__version__)}, cases)


def write_keras_sequences():
    cases = {name: keras_seq_case(6000 + k, *spec) for k, (name, spec) in enumerate(KERAS_SEQ_CASES.items())}
    _save(DATA / "keras_sequences.npz", _keras_meta(), cases)


def write_torch_lstm():
    cases = {name: torch_case(1000 + k, *spec) for k, (name, spec) in enumerate(TORCH_CASES.items())}
    _save(DATA / "torch_lstm.npz", {"torch_version": np.array(torch.__version__)}, cases)


def write_keras_lstm():
    cases = {}
    for k, act in enumerate(KERAS_ACTIVATIONS):
        for j, ract in enumerate(KERAS_RECURRENT):
            cases[f"{act}_{ract}"] = keras_case(2000 + 10 * k + j, act, ract)
            cases[f"{act}_{ract}"]["activation"] = np.array(act)
            cases[f"{act}_{ract}"]["recurrent_activation"] = np.array(ract)
    _save(DATA / "keras_lstm.npz", _keras_meta(), cases)


def _keras_meta():
    return {
        "keras_version": np.array(keras.__version__),
        "torch_version": np.array(torch.__version__),
        "hard_sigmoid_grad": np.array("exact 1/6; torch's float64 hardsigmoid_backward uses float32(1/6)"),
    }


def write_torch_gru():
    cases = {}
    for k, (name, spec) in enumerate(TORCH_GRU_CASES.items()):
        cases[name] = torch_cell_case(3000 + k, "gru", *spec)
    _save(DATA / "torch_gru.npz", {"torch_version": np.array(torch.__version__)}, cases)


def write_torch_rnn():
    cases = {}
    for k, (name, (B, T, I, H, dtype, state, nonlinearity)) in enumerate(TORCH_RNN_CASES.items()):
        cases[name] = torch_cell_case(3100 + k, "rnn", B, T, I, H, dtype, state, nonlinearity=nonlinearity)
    _save(DATA / "torch_rnn.npz", {"torch_version": np.array(torch.__version__)}, cases)


def write_torch_lstm_proj():
    cases = {}
    for k, (name, (B, T, I, H, P, dtype, state)) in enumerate(TORCH_PROJ_CASES.items()):
        cases[name] = torch_cell_case(3200 + k, "lstm", B, T, I, H, dtype, state, P=P)
    _save(DATA / "torch_lstm_proj.npz", {"torch_version": np.array(torch.__version__)}, cases)


def write_keras_gru():
    cases = {
        name: keras_cell_case(4000 + k, "gru", act, ract, reset_after)
        for k, (name, (reset_after, act, ract)) in enumerate(KERAS_GRU_CASES.items())
    }
    _save(DATA / "keras_gru.npz", _keras_meta(), cases)


def write_keras_rnn():
    cases = {act: keras_cell_case(4100 + k, "rnn", act) for k, act in enumerate(KERAS_RNN_ACTIVATIONS)}
    _save(DATA / "keras_rnn.npz", _keras_meta(), cases)


# file name -> its writer; ``make_golden.py NAME...`` rewrites only those (npz files carry the time
# they were written, so rewriting a file changes its bytes even where no number changes).
FILES = {
    "torch_lstm.npz": write_torch_lstm,
    "keras_lstm.npz": write_keras_lstm,
    "torch_gru.npz": write_torch_gru,
    "torch_rnn.npz": write_torch_rnn,
    "torch_lstm_proj.npz": write_torch_lstm_proj,
    "keras_gru.npz": write_keras_gru,
    "keras_rnn.npz": write_keras_rnn,
    "torch_sequences.npz": write_torch_sequences,
    "keras_sequences.npz": write_keras_sequences,
}


def main(names):
    unknown = sorted(set(names) - set(FILES))
    if unknown:
        sys.exit(f"unknown golden files {unknown}; known: {sorted(FILES)}")
    _check_versions()
    _keras_float64_matmul()
    torch.manual_seed(0)  # nothing below draws from torch's generator; set anyway
    DATA.mkdir(exist_ok=True)
    for name in names or FILES:
        FILES[name]()


if __name__ == "__main__":
    main(sys.argv[1:])

"""Directions, stacks, lengths and masks against the golden files of tests/io/make_golden.py.

``torch_sequences``: ``nn.LSTM``/``nn.GRU``/``nn.RNN`` with ``num_layers`` 1-3, ``bidirectional``,
over packed sequences of unequal lengths (``pack_padded_sequence``, unsorted), run here through
``stack_forward(..., lengths=...)``. ``keras_sequences``: Keras 3 layers called with a mask (front
and back padding, holes, a row with one valid step), ``go_backwards``, and ``Bidirectional`` in
each merge mode, run here through ``*_forward(mask=..., reverse=...)`` and ``stack_forward``.
Outputs, final states and every gradient (weights exported back to the framework's layout), on
both the active backend and the reference.
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


FILES = {name: _load(f"{name}.npz") for name in ("torch_sequences", "keras_sequences")}


def _case(file, name):
    prefix = f"{name}/"
    return {key[len(prefix) :]: value for key, value in FILES[file].items() if key.startswith(prefix)}


def _params(file):
    return [pytest.param(str(name), id=str(name)) for name in FILES[file]["cases"]]


def test_cases_cover_what_they_claim():
    torch_cases = [_case("torch_sequences", str(n)) for n in FILES["torch_sequences"]["cases"]]
    assert {str(c["cell"]) for c in torch_cases} == {"lstm", "gru", "rnn"}
    assert {int(c["num_layers"]) for c in torch_cases} == {1, 2, 3}
    assert any(bool(c["bidirectional"]) and "lengths" in c for c in torch_cases)
    assert {c["x"].dtype for c in torch_cases} == {np.dtype(np.float32), np.dtype(np.float64)}
    for c in torch_cases:
        if "lengths" in c:  # unsorted, the longest T, one of length 1
            lengths = c["lengths"]
            assert lengths.max() == c["x"].shape[1] and lengths.min() == 1
            assert not np.all(np.diff(lengths) <= 0)
    keras_cases = [_case("keras_sequences", str(n)) for n in FILES["keras_sequences"]["cases"]]
    merges = {str(c["merge_mode"]) for c in keras_cases}
    assert merges == {"", "concat", "sum", "mul", "ave", "none"}
    mask = keras_cases[0]["mask"]
    assert not mask[:, 0].all() and not mask[:, -1].all()  # front and back padding
    assert any(bool(c["go_backwards"]) for c in keras_cases)


# PyTorch ----------------------------------------------------------------------------------------


def _torch_weights(c, cell, L, D):
    out = []
    for k in range(L * D):
        sfx = f"_l{k // D}" + ("_reverse" if k % D else "")
        w = [c[f"{name}{sfx}"] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        convert = {"lstm": layout.from_torch, "gru": layout.from_torch_gru, "rnn": layout.from_torch_rnn}[
            cell
        ]
        out.append(convert(*w))
    return out


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("name", _params("torch_sequences"))
def test_torch_sequences_golden(mod, name):
    c = _case("torch_sequences", name)
    cell, L, bi = str(c["cell"]), int(c["num_layers"]), bool(c["bidirectional"])
    D = 2 if bi else 1
    dtype = c["x"].dtype
    weights = _torch_weights(c, cell, L, D)
    states = (c["h0"], c["c0"]) if cell == "lstm" else (c["h0"],)
    kw = {"bidirectional": bi, "lengths": c.get("lengths")}
    outputs = ("y", "h_n", "c_n") if cell == "lstm" else ("y", "h_n")
    infer = mod.stack_forward(cell, c["x"], weights, *states, **kw)
    *train, cache = mod.stack_forward(cell, c["x"], weights, *states, return_cache=True, **kw)
    for name_, a, b in zip(outputs, infer, train, strict=True):
        assert a.dtype == b.dtype == dtype
        assert_close(a, c[name_], dtype, name=f"{name_} (inference)")
        assert_close(b, c[name_], dtype, name=f"{name_} (training)")
    grads = mod.stack_backward(c["dy"], cache, c["dh_n"], c.get("dc_n"))
    assert_close(grads[0]["dx"], c["dx"], dtype, name="dx")
    for k, g in enumerate(grads):
        sfx = f"_l{k // D}" + ("_reverse" if k % D else "")
        assert_close(g["dh0"], c["dh0"][k], dtype, name=f"dh0[{k}]")
        if cell == "lstm":
            assert_close(g["dc0"], c["dc0"][k], dtype, name=f"dc0[{k}]")
        if cell == "gru":
            dw_ih, dw_hh, db_ih, db_hh = layout.to_torch_gru(g["dw_x"], g["dw_h"], g["db"])
        else:
            to = layout.to_torch if cell == "lstm" else layout.to_torch_rnn
            dw_ih, dw_hh = to(g["dw_x"], g["dw_h"], g["db"])[:2]
            db_ih = db_hh = g["db"]  # b = b_ih + b_hh
        for key, value in (
            ("weight_ih", dw_ih),
            ("weight_hh", dw_hh),
            ("bias_ih", db_ih),
            ("bias_hh", db_hh),
        ):
            assert_close(value, c[f"d{key}{sfx}"], dtype, name=f"d{key}{sfx}")


# Keras ------------------------------------------------------------------------------------------


def _keras_weights(c, cell, direction):
    w = [c[f"{direction}/{name}"] for name in ("kernel", "recurrent_kernel", "bias")]
    return {"lstm": layout.from_keras, "gru": layout.from_keras_gru, "rnn": layout.from_keras_rnn}[cell](*w)


def _keras_grads(c, g, cell, direction):
    to = {"lstm": layout.to_keras, "gru": layout.to_keras_gru, "rnn": layout.to_keras_rnn}[cell]
    for name, value in zip(
        ("kernel", "recurrent_kernel", "bias"), to(g["dw_x"], g["dw_h"], g["db"]), strict=True
    ):
        assert_close(value, c[f"d{direction}/{name}"], np.float64, name=f"d{direction}/{name}")
    assert_close(g["dh0"], c[f"{direction}/dh0"], np.float64, name=f"{direction}/dh0")
    if cell == "lstm":
        assert_close(g["dc0"], c[f"{direction}/dc0"], np.float64, name=f"{direction}/dc0")


@pytest.mark.parametrize("mod", MODULES)
@pytest.mark.parametrize("name", _params("keras_sequences"))
def test_keras_sequences_golden(mod, name):
    c = _case("keras_sequences", name)
    cell, merge = str(c["merge_mode"]), str(c["merge_mode"])
    cell = str(c["cell"])
    go_backwards = bool(c["go_backwards"])
    names = ("h0", "c0") if cell == "lstm" else ("h0",)
    finals = ("h_n", "c_n") if cell == "lstm" else ("h_n",)
    if merge == "":  # one layer, called with the mask; go_backwards outputs in processing order
        forward = getattr(mod, f"{cell}_forward")
        backward = getattr(mod, f"{cell}_backward")
        w = _keras_weights(c, cell, "forward")
        out = forward(
            c["x"],
            *w,
            *(c[f"forward/{k}"] for k in names),
            mask=c["mask"],
            reverse=go_backwards,
            return_cache=True,
        )
        y = out[0][:, ::-1] if go_backwards else out[0]
        assert_close(y, c["y0"], np.float64, name="y")
        for k, f in enumerate(finals):
            assert_close(out[1 + k], c[f"forward/{f}"], np.float64, name=f)
        dy = c["dy0"][:, ::-1] if go_backwards else c["dy0"]
        g = backward(np.ascontiguousarray(dy), out[-1])
        assert_close(g["dx"], c["dx"], np.float64, name="dx")
        _keras_grads(c, g, cell, "forward")
        return
    mode = None if merge == "none" else merge
    weights = [_keras_weights(c, cell, d) for d in ("forward", "backward")]
    states = [np.stack([c[f"{d}/{k}"] for d in ("forward", "backward")]) for k in names]
    y, *rest, cache = mod.stack_forward(
        cell,
        c["x"],
        weights,
        *states,
        bidirectional=True,
        merge_mode=mode,
        mask=c["mask"],
        zero_output_for_mask=True,
        return_cache=True,
    )
    ys = y if mode is None else [y]
    for k, yk in enumerate(ys):
        assert_close(yk, c[f"y{k}"], np.float64, name=f"y{k}")
    for k, f in enumerate(finals):
        for d, direction in enumerate(("forward", "backward")):
            assert_close(rest[k][d], c[f"{direction}/{f}"], np.float64, name=f"{direction}/{f}")
    dy = [c["dy0"], c["dy1"]] if mode is None else c["dy0"]
    grads = mod.stack_backward(dy, cache)
    assert_close(grads[0]["dx"], c["dx"], np.float64, name="dx")
    for d, direction in enumerate(("forward", "backward")):
        _keras_grads(c, grads[d], cell, direction)

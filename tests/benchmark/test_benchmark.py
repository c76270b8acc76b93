"""lstmcore.benchmark and ``lstmcore bench``: the bound's products, the peers' equal work for every
cell (LSTM, GRU, RNN), the interleaved timing, the targets, the outputs (table, JSON, chart), the
skips. No speed is asserted; torch and onnxruntime are used where installed, skipped otherwise."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import DTYPES, assert_close

from lstmcore import benchmark as bm
from lstmcore import cli, reference
from lstmcore.engine import _blas

TINY = {"tiny": (2, 3, 4, 5, bm.KINDS)}


@pytest.fixture(scope="module")
def problem():
    return bm.make_problem(2, 3, 4, 5)


# The GEMM-only bound ------------------------------------------------------------------------------


def _gemm_buffers(rng, dtype, K=4, T=3, B=2, I=4, H=5):
    G = K * H

    def f(*shape):
        return rng.standard_normal(shape).astype(dtype)

    return {
        "x": f(T, B, I),
        "w_x": f(I, G),
        "w_h": f(H, G),
        "z": np.empty((T, B, G), dtype),
        "h": f(T + 1, B, H),
        "dz": f(T, B, G),
        "dw_x": f(I, G),  # the products add into dw_x and dw_h
        "dw_h": f(H, G),
        "dx": np.empty((T, B, I), dtype),
    }


_GEMM_NAMES = ("x", "w_x", "w_h", "z", "h", "dz", "dw_x", "dw_h", "dx")


def _call_gemm_only(train, a):
    _blas._gemm_only(train, *(a[k] for k in _GEMM_NAMES))


def _check_inference_products(a, before, dtype):
    x, w_x, w_h, h = (before[k].astype(np.float64) for k in ("x", "w_x", "w_h", "h"))
    for t in range(x.shape[0]):
        assert_close(a["z"][t], x[t] @ w_x + h[t] @ w_h, dtype, f"z[{t}]", scale=10)
    for k in ("h", "dz", "dw_x", "dw_h"):  # inference touches nothing but z
        np.testing.assert_array_equal(a[k], before[k])


def _check_training_products(a, before, dtype):
    x, w_x, w_h, h0, dz = (before[k].astype(np.float64) for k in ("x", "w_x", "w_h", "h", "dz"))
    T, B, I = x.shape
    H, G = w_h.shape
    for t in range(T):
        assert_close(a["z"][t], x[t] @ w_x + h0[t] @ w_h, dtype, f"z[{t}]", scale=10)
        assert_close(a["h"][t + 1], dz[t] @ w_h.T, dtype, f"h[{t + 1}]", scale=10)
    np.testing.assert_array_equal(a["h"][0], before["h"][0])
    # dw_h reads h[:T] after the backward loop wrote h[1:], as the cells' backward reads h_prev.
    h_after = a["h"].astype(np.float64)
    rows = T * B
    dw_x = before["dw_x"].astype(np.float64) + x.reshape(rows, I).T @ dz.reshape(rows, G)
    dw_h = before["dw_h"].astype(np.float64) + h_after[:T].reshape(rows, H).T @ dz.reshape(rows, G)
    assert_close(a["dw_x"], dw_x, dtype, "dw_x", 10)
    assert_close(a["dw_h"], dw_h, dtype, "dw_h", 10)
    assert_close(a["dx"], dz @ w_x.T, dtype, "dx", scale=10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_only_inference_products(rng, dtype):
    a = _gemm_buffers(rng, dtype)
    before = {k: v.copy() for k, v in a.items()}
    _call_gemm_only(False, a)
    _check_inference_products(a, before, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_only_training_products(rng, dtype):
    a = _gemm_buffers(rng, dtype)
    before = {k: v.copy() for k, v in a.items()}
    _call_gemm_only(True, a)
    _check_training_products(a, before, dtype)


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("K", [3, 1])  # the GRU's 3H and the RNN's H gate columns
def test_gemm_only_takes_the_gate_width_of_w_h(rng, K, train):
    a = _gemm_buffers(rng, np.float32, K=K)
    before = {k: v.copy() for k, v in a.items()}
    _call_gemm_only(train, a)
    (_check_training_products if train else _check_inference_products)(a, before, np.float32)
    assert bm.peers._compiled_bound_takes_any_width()
    with pytest.raises(ValueError, match=r"do not fit x \(T, B, I\) and w_h \(H, G\)"):
        _call_gemm_only(train, dict(a, w_x=a["w_x"][:, 1:].copy()))


def test_a_bound_older_than_its_source_says_rebuild(monkeypatch):
    monkeypatch.setattr(bm.peers, "_compiled_bound_takes_any_width", lambda: False)  # as a 4H-only build
    bm.make_peer("bound", bm.make_problem(2, 3, 4, 5), "train").fn()  # the LSTM's 4H: fine
    with pytest.raises(RuntimeError, match=r"the gru bound needs .* 15 = 3H .* rebuild the extension"):
        bm.make_peer("bound", bm.make_problem(2, 3, 4, 5, cell="gru"), "inference")


# Peers and the equal-work check -----------------------------------------------------------------


def test_problems_of_every_cell():
    H = 5
    for cell, K in bm.CELL_GATES.items():
        p = bm.make_problem(2, 3, 4, H, cell=cell)
        assert p["cell"] == cell and p["w_x"].shape == (4, K * H) and p["w_h"].shape == (H, K * H)
        assert p["b"].shape == ((2, 3 * H) if cell == "gru" else (K * H,))
        assert ("c0" in p) == (cell == "lstm")
    # the LSTM's numbers are those of the default problem: same seed, same draws
    for k, v in bm.make_problem(2, 3, 4, 5).items():
        np.testing.assert_array_equal(v, bm.make_problem(2, 3, 4, 5, cell="lstm")[k])
    assert bm.DEFAULT_CELLS == ("lstm",) and bm.CELLS == ("lstm", "gru", "rnn")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", bm.KINDS)
@pytest.mark.parametrize("peer", ["lstmcore", "reference"])
@pytest.mark.parametrize("cell", bm.CELLS)
def test_functional_peers_do_the_reference_work(cell, peer, kind, dtype):
    problem = bm.make_problem(2, 3, 4, 5, dtype=dtype, cell=cell)
    timed = bm.make_peer(peer, problem, kind)
    assert (timed.peer, timed.kind) == (peer, kind)
    outputs = timed.outputs()
    expected = bm.expected_outputs(problem, kind)
    assert set(outputs) == set(expected)
    assert (
        set(expected)
        == {
            "inference": {"y", "h_n", "c_n"} if cell == "lstm" else {"y", "h_n"},
            "train": {"dx", "dw_x", "dw_h", "db"},
            "step": {"h"},
        }[kind]
    )
    bm.check_equal_work(peer, outputs, expected, dtype)


@pytest.mark.parametrize("cell", bm.CELLS)
@pytest.mark.parametrize("kind", bm.KINDS)
def test_the_bound_runs_every_kind(kind, cell):
    timed = bm.make_peer("bound", bm.make_problem(2, 3, 4, 5, cell=cell), kind)
    assert timed.outputs is None  # nothing to check: it is the products alone
    timed.fn()
    timed.fn()


def _steps_by_reference(problem, n):
    cell = problem["cell"]
    x, w_x, w_h, b = (problem[k].astype(np.float64) for k in ("x", "w_x", "w_h", "b"))
    h = problem["h0"].astype(np.float64)
    if cell == "lstm":
        c = problem["c0"].astype(np.float64)
        for _ in range(n):
            h, c = reference.lstm_cell_forward(x[:, 0], w_x, w_h, b, h, c)
        return h
    cell_forward = getattr(reference, f"{cell}_cell_forward")
    for _ in range(n):
        h = cell_forward(x[:, 0], w_x, w_h, b, h)
    return h


def _step_carries_the_state(peer, problem):
    step = bm.make_peer(peer, problem, "step").fn
    for _ in range(2):
        step()
    h = np.asarray(step())
    bm.check_equal_work(peer, {"h": h.reshape(problem["h0"].shape)}, {"h": _steps_by_reference(problem, 3)})


@pytest.mark.parametrize("cell", bm.CELLS)
@pytest.mark.parametrize("peer", ["lstmcore", "reference"])
def test_streaming_step_carries_the_state(peer, cell):
    _step_carries_the_state(peer, bm.make_problem(2, 3, 4, 5, cell=cell))


def test_a_wrong_output_fails_the_check(problem):
    expected = bm.expected_outputs(problem, "train")
    outputs = dict(bm.make_peer("lstmcore", problem, "train").outputs())
    bm.check_equal_work("lstmcore", outputs, expected)
    shift = 1e-2 * np.abs(outputs["dw_h"]).max()
    wrong = dict(outputs, dw_h=outputs["dw_h"] + shift)
    with pytest.raises(bm.EqualWorkError, match="lstmcore: dw_h differs from the reference") as exc:
        bm.check_equal_work("lstmcore", wrong, expected)
    largest = float(re.search(r"largest error (\S+) ", str(exc.value)).group(1))
    assert largest == pytest.approx(shift, rel=0.05)
    nan = dict(outputs, dx=np.full_like(outputs["dx"], np.nan))
    with pytest.raises(bm.EqualWorkError, match="mypeer: dx differs .* largest error inf"):
        bm.check_equal_work("mypeer", nan, expected)
    with pytest.raises(bm.EqualWorkError, match="'db' is missing"):
        bm.check_equal_work("mypeer", {k: v for k, v in outputs.items() if k != "db"}, expected)
    with pytest.raises(bm.EqualWorkError, match=r"dx has shape \(3, 2, 4\), expected \(2, 3, 4\)"):
        bm.check_equal_work("mypeer", dict(outputs, dx=outputs["dx"].transpose(1, 0, 2)), expected)


@pytest.mark.parametrize("cell", bm.CELLS)
def test_torch_peer_does_the_reference_work(cell):
    pytest.importorskip("torch")
    problem = bm.make_problem(2, 3, 4, 5, cell=cell)
    for kind in bm.peer_kinds("torch"):
        bm.check_equal_work(
            "torch", bm.make_peer("torch", problem, kind).outputs(), bm.expected_outputs(problem, kind)
        )
    _step_carries_the_state("torch", problem)


@pytest.mark.parametrize("cell", bm.CELLS)
def test_onnxruntime_peer_does_the_reference_work(cell):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    problem = bm.make_problem(2, 3, 4, 5, cell=cell)
    assert bm.peer_kinds("onnxruntime") == ("inference", "step")
    for kind in ("inference", "step"):
        timed = bm.make_peer("onnxruntime", problem, kind, threads=1)
        bm.check_equal_work("onnxruntime", timed.outputs(), bm.expected_outputs(problem, kind))
    _step_carries_the_state("onnxruntime", problem)
    with pytest.raises(ValueError, match="onnxruntime has no 'train' kind"):
        bm.make_peer("onnxruntime", problem, "train")


@pytest.mark.parametrize(
    "module, peer", [("torch", "torch"), ("onnxruntime", "onnxruntime"), ("onnx", "onnxruntime")]
)
def test_a_missing_peer_is_skipped_with_the_install_hint(monkeypatch, problem, module, peer):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    reason = bm.peer_unavailable(peer)
    # (the module named is the first one missing: with onnx and onnxruntime both missing, onnxruntime)
    assert (
        reason.startswith(f"{peer} skipped: ") and "is not installed" in reason and bm.INSTALL_HINT in reason
    )
    with pytest.raises(bm.PeerUnavailable, match=r"pip install 'lstmcore\[bench\]'"):
        bm.make_peer(peer, problem, "step")
    results = bm.run_benchmark(TINY, kinds=["step"], threads=[1], peers=["lstmcore", peer], seconds=0.01)
    assert results["skipped"] == {peer: reason}
    assert list(results["cases"][0]["peers"]) == ["lstmcore"]
    assert f"skipped peers:\n  {reason}" in bm.format_table(results)


# The sequence variants --------------------------------------------------------------------------

SEQ = (3, 4, 2, 5)  # B, T, I, H of the variants' tiny problems: lengths 1, 2, 4 (B 3 over T 4)
SEQ_SHAPE = {"seq": (*SEQ, bm.KINDS)}


def test_cell_names_and_their_variants():
    assert bm.VARIANTS == ("bi", "L2", "lengths")
    assert bm.SEQUENCE_CELLS == tuple(f"{c}-{v}" for c in bm.CELLS for v in bm.VARIANTS)
    assert bm.ALL_CELLS == bm.CELLS + bm.SEQUENCE_CELLS
    assert bm.split_cell("gru-bi") == ("gru", "bi") and bm.split_cell("rnn") == ("rnn", None)
    assert bm.cell_kinds("lstm") == bm.KINDS and bm.cell_kinds("lstm-L2") == ("inference", "train")
    runs = [name for name, spec in bm.SHAPES.items() if bm.cell_runs_on("gru-lengths", name, spec[:4])]
    assert runs == ["S1", "S2", "S3"] and bm.SEQUENCE_SHAPES == ("S1", "S2", "S3")
    assert bm.cell_runs_on("lstm-bi", "S5", (9, 9, 9, 9))  # a custom shape with a standard name
    assert bm.cell_runs_on("lstm-bi", "2x3x4x5", (2, 3, 4, 5))
    assert all(bm.cell_runs_on("lstm", name, spec[:4]) for name, spec in bm.SHAPES.items())
    with pytest.raises(ValueError, match="unknown cell 'lstm-L3'; expected one of lstm, gru, rnn or"):
        bm.split_cell("lstm-L3")


def test_the_lengths_are_spread_over_1_to_T_and_shuffled():
    lengths = bm.sequence_lengths(64, 100)
    assert lengths.dtype == np.int64 and lengths.shape == (64,)
    assert lengths.max() == 100 and lengths.min() == 1
    np.testing.assert_array_equal(np.sort(lengths), np.linspace(1, 100, 64).round())
    assert (np.diff(lengths) != 0).any() and not (np.diff(lengths) >= 0).all()  # not sorted
    np.testing.assert_array_equal(lengths, bm.sequence_lengths(64, 100))  # a fixed seed
    assert list(bm.sequence_lengths(1, 7)) == [7]  # the longest is T
    assert sorted(bm.sequence_lengths(*SEQ[:2])) == [1, 2, 4]


@pytest.mark.parametrize("cell", bm.CELLS)
def test_problems_of_the_variants(cell):
    B, T, I, H = SEQ
    G = bm.CELL_GATES[cell] * H
    b_shape = (2, G) if cell == "gru" else (G,)
    base = bm.make_problem(*SEQ, cell=cell)
    lengths = bm.make_problem(*SEQ, cell=f"{cell}-lengths")
    assert lengths["cell"] == f"{cell}-lengths"
    np.testing.assert_array_equal(lengths["lengths"], bm.sequence_lengths(B, T))
    for k, v in base.items():  # the cell's own problem, the same numbers
        if k != "cell":
            np.testing.assert_array_equal(lengths[k], v)
    for variant, inputs in (("bi", [I, I]), ("L2", [I, H])):
        p = bm.make_problem(*SEQ, cell=f"{cell}-{variant}")
        D = 2 if variant == "bi" else 1
        assert set(p) == {"cell", "x", "weights", "dy"} and p["cell"] == f"{cell}-{variant}"
        assert p["x"].shape == (B, T, I) and p["dy"].shape == (B, T, D * H)
        assert [tuple(a.shape for a in w) for w in p["weights"]] == [
            ((n, G), (H, G), b_shape) for n in inputs
        ]
        assert all(a.dtype == np.float32 for w in p["weights"] for a in w)
        assert not np.array_equal(p["weights"][0][1], p["weights"][1][1])  # each its own numbers


def _expected_keys(cell, kind):
    base, variant = bm.split_cell(cell)
    state = {"h_n", "c_n"} if base == "lstm" else {"h_n"}
    if kind == "inference":
        return {"y"} | state
    if variant in ("bi", "L2"):
        return {"dx"} | {f"{g}{k}" for g in ("dw_x", "dw_h", "db") for k in (0, 1)}
    return {"dx", "dw_x", "dw_h", "db"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", bm.SEQUENCE_KINDS)
@pytest.mark.parametrize("peer", ["lstmcore", "reference"])
@pytest.mark.parametrize("cell", bm.SEQUENCE_CELLS)
def test_functional_peers_do_the_reference_work_on_the_variants(cell, peer, kind, dtype):
    problem = bm.make_problem(*SEQ, dtype=dtype, cell=cell)
    timed = bm.make_peer(peer, problem, kind)
    assert timed.expected is None  # the case's own outputs
    outputs, expected = timed.outputs(), bm.expected_outputs(problem, kind)
    assert set(outputs) == set(expected) == _expected_keys(cell, kind)
    bm.check_timed(timed, expected, dtype)
    B, T, I, H = SEQ
    variant = bm.split_cell(cell)[1]
    if kind == "inference":
        D = 2 if variant == "bi" else 1
        assert expected["y"].shape == (B, T, D * H)
        # h_n (L*D, B, H): 2 directions of one layer, or 2 layers of one direction
        assert expected["h_n"].shape == ((B, H) if variant == "lengths" else (2, B, H))
    if variant == "lengths" and kind == "inference":
        lengths = problem["lengths"]
        for row, n in enumerate(lengths):  # zeros past each row's length, h_n at its last step
            assert not expected["y"][row, n:].any()
            np.testing.assert_array_equal(expected["h_n"][row], expected["y"][row, n - 1])
    if variant == "L2" and kind == "train":  # layer 2 reads layer 1's H outputs
        assert expected["dw_x1"].shape == problem["weights"][1][0].shape
        assert expected["dw_x1"].shape[0] == H


@pytest.mark.parametrize("cell", ["lstm-bi", "gru-L2"])
def test_the_check_tells_the_layer_directions_apart(cell):
    B, T, I, H = SEQ
    problem = bm.make_problem(B, T, I if cell == "lstm-bi" else H, H, cell=cell)  # -L2: I = H, so
    swapped = dict(problem, weights=problem["weights"][::-1])  # that the layers can trade places
    for kind in bm.SEQUENCE_KINDS:
        outputs = bm.make_peer("lstmcore", problem, kind).outputs()
        bm.check_equal_work("lstmcore", outputs, bm.expected_outputs(problem, kind))
        with pytest.raises(bm.EqualWorkError, match="lstmcore: "):
            bm.check_equal_work("lstmcore", outputs, bm.expected_outputs(swapped, kind))


@pytest.mark.parametrize("cell", bm.SEQUENCE_CELLS)
def test_torch_peer_does_the_reference_work_on_the_variants(cell):
    pytest.importorskip("torch")
    problem = bm.make_problem(*SEQ, cell=cell)
    for kind in bm.SEQUENCE_KINDS:
        timed = bm.make_peer("torch", problem, kind)
        outputs = timed.outputs()
        assert set(outputs) == _expected_keys(cell, kind)
        bm.check_timed(timed, bm.expected_outputs(problem, kind))
    with pytest.raises(ValueError, match=f"cell {cell} has no 'step' kind; it has inference, train"):
        bm.make_peer("torch", problem, "step")


@pytest.mark.parametrize("cell", bm.SEQUENCE_CELLS)
def test_onnxruntime_peer_does_the_reference_work_on_the_variants(cell):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    problem = bm.make_problem(*SEQ, cell=cell)
    timed = bm.make_peer("onnxruntime", problem, "inference", threads=1)
    assert set(timed.outputs()) == _expected_keys(cell, "inference")
    bm.check_timed(timed, bm.expected_outputs(problem, "inference"))
    with pytest.raises(ValueError, match="onnxruntime has no 'train' kind"):
        bm.make_peer("onnxruntime", problem, "train")
    with pytest.raises(ValueError, match=f"cell {cell} has no 'step' kind"):
        bm.make_peer("onnxruntime", problem, "step")


@pytest.mark.parametrize("kind", bm.SEQUENCE_KINDS)
@pytest.mark.parametrize("cell", bm.CELLS)
def test_lstmcore_full_times_the_lengths_batch_at_full_length(cell, kind):
    problem = bm.make_problem(*SEQ, cell=f"{cell}-lengths")
    timed = bm.make_peer("lstmcore-full", problem, kind)
    assert timed.peer == "lstmcore-full" and timed.expected is not None
    full = bm.problems.full_length_problem(problem)
    assert full["cell"] == cell and "lengths" not in full
    want = timed.expected()
    for k, v in bm.expected_outputs(full, kind).items():
        np.testing.assert_array_equal(want[k], v)
    bm.check_timed(timed, bm.expected_outputs(problem, "inference"))  # its own expected outputs count
    with pytest.raises(bm.EqualWorkError, match="lstmcore-full: "):  # not the lengths' outputs
        bm.check_equal_work("lstmcore-full", timed.outputs(), bm.expected_outputs(problem, kind))


def test_peers_that_do_not_apply_say_why():
    assert "lstmcore-full" in bm.PEERS and bm.peer_kinds("lstmcore-full") == ("inference", "train")
    assert issubclass(bm.PeerDoesNotApply, Exception) and not issubclass(bm.PeerDoesNotApply, ImportError)
    for cell in bm.ALL_CELLS:
        variant = bm.split_cell(cell)[1]
        assert (bm.peer_applies("lstmcore-full", cell) is None) == (variant == "lengths")
        assert (bm.peer_applies("bound", cell) is None) == (variant != "lengths")
        assert all(
            bm.peer_applies(p, cell) is None
            for p in ("lstmcore", "reference", "torch", "onnxruntime", "lstmcore-1t", "gemm-peak")
        )
    with pytest.raises(
        bm.PeerDoesNotApply, match="lstmcore-full does not apply to gru-bi: it times the -lengths"
    ):
        bm.make_peer("lstmcore-full", bm.make_problem(*SEQ, cell="gru-bi"), "inference")
    with pytest.raises(bm.PeerDoesNotApply, match="lstmcore-full does not apply to lstm: "):
        bm.make_peer("lstmcore-full", bm.make_problem(*SEQ), "train")
    with pytest.raises(bm.PeerDoesNotApply, match="bound does not apply to rnn-lengths: "):
        bm.make_peer("bound", bm.make_problem(*SEQ, cell="rnn-lengths"), "train")
    with pytest.raises(ValueError, match="peer lstmcore-full has no 'step' kind"):
        bm.make_peer("lstmcore-full", bm.make_problem(*SEQ, cell="rnn-lengths"), "step")


@pytest.mark.parametrize("kind", bm.SEQUENCE_KINDS)
@pytest.mark.parametrize("cell", ["lstm-bi", "gru-L2", "rnn-bi", "lstm-L2"])
def test_the_bound_times_the_products_of_every_layer_direction(monkeypatch, cell, kind):
    calls = []

    def gemm_only(train, x, w_x, w_h, z, h, dz, dw_x, dw_h, dx):
        calls.append((train, x.shape, w_x.shape, w_h.shape, z.shape, dx.shape))

    problem = bm.make_problem(*SEQ, cell=cell)
    timed = bm.make_peer("bound", problem, kind)
    timed.fn()  # the real products, on every layer-direction
    monkeypatch.setattr(_blas, "_gemm_only", gemm_only)
    bm.make_peer("bound", problem, kind).fn()
    B, T, I, H = SEQ
    G = bm.CELL_GATES[bm.split_cell(cell)[0]] * H
    inputs = [I, I] if cell.endswith("-bi") else [I, H]
    assert calls == [(kind == "train", (T, B, n), (n, G), (H, G), (T, B, G), (T, B, n)) for n in inputs]


def test_the_runner_leaves_out_the_peers_that_do_not_apply():
    peers = ["lstmcore", "bound", "lstmcore-full"]
    r = bm.run_benchmark(
        SEQ_SHAPE, threads=[1], peers=peers, cells=["lstm-lengths", "lstm", "gru-bi"], seconds=0.01
    )
    got = [(c["kind"], c["cell"], list(c["peers"]), sorted(c["not_applicable"])) for c in r["cases"]]
    assert got == [
        ("inference", "lstm-lengths", ["lstmcore", "lstmcore-full"], ["bound"]),
        ("inference", "lstm", ["lstmcore", "bound"], ["lstmcore-full"]),
        ("inference", "gru-bi", ["lstmcore", "bound"], ["lstmcore-full"]),
        ("train", "lstm-lengths", ["lstmcore", "lstmcore-full"], ["bound"]),
        ("train", "lstm", ["lstmcore", "bound"], ["lstmcore-full"]),
        ("train", "gru-bi", ["lstmcore", "bound"], ["lstmcore-full"]),
        ("step", "lstm", ["lstmcore", "bound"], []),  # the variants and lstmcore-full have no step
    ]
    lengths = r["cases"][0]
    assert lengths["not_applicable"]["bound"].startswith("bound does not apply to lstm-lengths")
    full = lengths["peers"]["lstmcore-full"]["median_s"]
    assert lengths["ratios"] == {
        "lstmcore/lstmcore-full": pytest.approx(lengths["peers"]["lstmcore"]["median_s"] / full)
    }
    assert r["cases"][1]["ratios"].keys() == {"bound/lstmcore", "lstmcore/bound"}
    for case in r["cases"]:
        assert case["gflop"] == pytest.approx(bm.case_flops(case["cell"], case["dims"], case["kind"]) / 1e9)
    table = bm.format_table(r)
    header = next(line for line in table.splitlines() if line.startswith("shape"))
    assert header.split()[4:9] == ["lstmcore", "bound", "lstmcore-full", "lc/bound", "lc/lc-full"]
    row = next(
        line for line in table.splitlines() if line.split()[:3] == ["seq", "inference", "lstm-lengths"]
    )
    assert row.split()[6] == "-"  # the bound's column (each time is two words: "12.3 µs")
    assert f"{lengths['ratios']['lstmcore/lstmcore-full']:.2f}" in row
    assert "-: bound does not apply to lstm-lengths; lstmcore-full does not apply to lstm, gru-bi" in table
    assert "lc/lc-full: the share of that time the lengths take" in table


def test_the_variants_run_on_s1_s2_s3_only(monkeypatch):
    timed_shapes = []
    monkeypatch.setattr(bm.runner, "make_problem", lambda *a, cell, **k: timed_shapes.append((a[:4], cell)))
    monkeypatch.setattr(bm.runner, "expected_outputs", lambda problem, kind: {})
    monkeypatch.setattr(bm.runner, "make_peer", lambda *a: bm.Timed("lstmcore", a[2], lambda: None, None))
    lines = []
    r = bm.run_benchmark(
        ["S4", "S5", "S6"], threads=[1], peers=["lstmcore"], cells=["lstm", "lstm-bi"], seconds=1e-6,
        progress=lines.append, peak=False,
    )  # fmt: skip
    assert {c["cell"] for c in r["cases"]} == {"lstm"} and {cell for _, cell in timed_shapes} == {"lstm"}
    assert "lstm-bi not measured at S5: the variants run on S1, S2, S3" in lines


@pytest.mark.parametrize("peer", ["lstmcore-full", "bound"])
def test_the_isolation_child_skips_a_peer_that_does_not_apply(capsys, peer):
    cell = "lstm-bi" if peer == "lstmcore-full" else "gru-lengths"
    spec = {"peer": peer, "cell": cell, "dims": list(SEQ), "kind": "train", "threads": 1, "dtype": "float32"}
    bm.isolation._timing_server(json.dumps(spec))
    reply = capsys.readouterr().out.splitlines()[-1]
    assert reply.startswith(bm.isolation._MARK)
    assert json.loads(reply[len(bm.isolation._MARK) :]) == {"does_not_apply": bm.peer_applies(peer, cell)}
    # the parent knows it too, and starts no process for it
    stats, left = bm.isolation._time_isolated([peer], cell, SEQ, "train", 2, np.float32, 0.01, 1, 2)
    assert stats == {} and left == {peer: bm.peer_applies(peer, cell)}


@pytest.fixture
def started_servers(monkeypatch):
    """The timing processes _time_isolated starts, as (peer, the spec's beside) in order."""
    started = []
    real = bm.isolation._Server

    def server(code, spec, what):
        started.append((spec["peer"], spec.get("beside")))
        return real(code, spec, what)

    monkeypatch.setattr(bm.isolation, "_Server", server)
    return started


def test_the_instruments_are_timed_in_lstmcores_process(capsys, monkeypatch, started_servers):
    """With several threads, lstmcore-1t and gemm-peak run in lstmcore's timing process, in its
    bursts: the reply holds all three; the parent starts no process of its own for them."""
    spec = {"peer": "lstmcore", "cell": "lstm", "dims": [2, 3, 4, 5], "kind": "inference", "threads": 2,
            "dtype": "float32", "beside": ["lstmcore-1t", "gemm-peak"]}  # fmt: skip
    burst = {"seconds": 0.01, "min_rounds": 2, "max_rounds": 10}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(burst) + "\n\n"))
    bm.isolation._timing_server(json.dumps(spec))
    replies = [line for line in capsys.readouterr().out.splitlines() if line.startswith(bm.isolation._MARK)]
    reply = json.loads(replies[-1][len(bm.isolation._MARK) :])
    assert set(reply) == {"lstmcore", "lstmcore-1t", "gemm-peak"} and reply["lstmcore-1t"]["rounds"] >= 2
    bm.set_threads(1)
    names = ["lstmcore", "lstmcore-1t", "gemm-peak", "bound"]
    stats, left = bm.isolation._time_isolated(
        names, "lstm", (2, 3, 4, 5), "inference", 2, np.float32, 0.02, 2, 10, bursts=2
    )
    assert started_servers == [("lstmcore", ["lstmcore-1t", "gemm-peak"]), ("bound", None)] and left == {}
    assert list(stats) == names and all(s["bursts"] == 2 for s in stats.values())


@pytest.mark.parametrize("cell", ["gru-lengths", "lstm"])
def test_lstmcore_full_is_timed_in_lstmcores_process(started_servers, cell):
    """With several threads, lstmcore-full (a -lengths batch at full length) runs in lstmcore's
    process, in its bursts: lc/lc-full compares two times of one moment. On a cell it does not
    apply to, lstmcore's process takes the others beside it and lstmcore-full is named in the
    peers that do not apply."""
    names = ["lstmcore", "lstmcore-full", "lstmcore-1t", "bound"]
    stats, left = bm.isolation._time_isolated(names, cell, SEQ, "train", 2, np.float32, 0.02, 2, 10, bursts=2)
    if cell == "gru-lengths":
        assert started_servers == [("lstmcore", ["lstmcore-full", "lstmcore-1t"])]
        assert list(stats) == ["lstmcore", "lstmcore-full", "lstmcore-1t"] and set(left) == {"bound"}
    else:
        assert started_servers == [("lstmcore", ["lstmcore-1t"]), ("bound", None)]
        assert list(stats) == ["lstmcore", "lstmcore-1t", "bound"]
        assert left == {"lstmcore-full": bm.peer_applies("lstmcore-full", cell)}
    assert all(s["bursts"] == 2 and s["rounds"] >= 2 for s in stats.values())


def test_isolated_peers_are_timed_in_turn_in_bursts():
    """With several threads each peer has a process of its own, all set up before any is timed;
    each then times its bursts in turn with the others', and its stats gather every burst's rounds."""
    stats, left = bm.isolation._time_isolated(
        ["lstmcore", "bound"], "lstm", (4, 3, 2, 5), "inference", 2, np.float32, 0.03, 2, 50, bursts=3
    )
    assert left == {} and set(stats) == {"lstmcore", "bound"}
    for s in stats.values():
        assert s["bursts"] == 3 and s["rounds"] == len(s["times_s"]) >= 3
        assert s["min_s"] <= s["q1_s"] <= s["median_s"] <= s["q3_s"]
        # each burst's median, in time order: the parts of a ratio's spread
        assert len(s["burst_medians_s"]) == 3
        assert all(s["min_s"] <= m <= max(s["times_s"]) for m in s["burst_medians_s"])
    lo, hi = bm.timing._spreads(stats)["bound/lstmcore"]
    ours, theirs = stats["lstmcore"]["burst_medians_s"], stats["bound"]["burst_medians_s"]
    ratios = [b / a for a, b in zip(ours, theirs, strict=True)]
    assert (lo, hi) == (pytest.approx(min(ratios)), pytest.approx(max(ratios)))


def test_the_variants_in_fresh_processes():
    """With 2 threads each peer runs in a process of its own, which rebuilds the problem by its
    cell's name and checks the peer there."""
    r = bm.run_benchmark(
        SEQ_SHAPE, kinds=["train"], threads=[2], peers=["lstmcore", "bound", "lstmcore-full"],
        cells=["gru-lengths"], seconds=0.01, peak=False,
    )  # fmt: skip
    (case,) = r["cases"]
    assert r["settings"]["isolate"] and list(case["peers"]) == ["lstmcore", "lstmcore-full"]
    assert case["not_applicable"] == {"bound": bm.peer_applies("bound", "gru-lengths")}
    assert set(case["ratios"]) == {"lstmcore/lstmcore-full"}


@pytest.mark.parametrize(
    "cell, dims, kind, madds",
    [
        ("lstm-bi", (2, 3, 4, 5), "inference", 2 * 2 * 3 * (4 + 5) * 20),
        ("gru-bi", (2, 3, 4, 5), "train", 3 * 2 * 2 * 3 * (4 + 5) * 15),
        ("lstm-L2", (2, 3, 4, 5), "inference", 2 * 3 * ((4 + 5) + (5 + 5)) * 20),
        ("rnn-L2", (2, 3, 4, 5), "train", 3 * 2 * 3 * ((4 + 5) + (5 + 5)) * 5),
        ("gru-lengths", (3, 4, 2, 5), "inference", (1 + 2 + 4) * (2 + 5) * 15),
        ("lstm-lengths", (3, 4, 2, 5), "train", 3 * (1 + 2 + 4) * (2 + 5) * 20),
        ("lstm-lengths", (64, 100, 32, 128), "inference", 3232 * (32 + 128) * 512),
        ("lstm-bi", (64, 100, 256, 512), "inference", 2 * 64 * 100 * 768 * 2048),
    ],
)
def test_the_flop_count_of_the_variants(cell, dims, kind, madds):
    assert bm.case_flops(cell, dims, kind) == 2 * madds
    if cell.endswith("-lengths"):
        assert sum(bm.sequence_lengths(*dims[:2])) == madds // (
            (3 if kind == "train" else 1) * (dims[2] + dims[3]) * bm.CELL_GATES[cell.split("-")[0]] * dims[3]
        )


# Timing -----------------------------------------------------------------------------------------


def test_rounds_are_interleaved_in_a_rotating_order(monkeypatch):
    monkeypatch.setattr(bm.timing, "_estimate", lambda fn: 1.0)  # one call per round, no warm-up calls
    log, gc_states = [], []

    def peer(name):
        def fn():
            log.append(name)
            gc_states.append(__import__("gc").isenabled())

        return fn

    stats = bm.time_interleaved({n: peer(n) for n in "abc"}, seconds=1e-9, min_rounds=7)
    rounds = [log[i : i + 3] for i in range(0, len(log), 3)]
    assert len(rounds) == 7
    assert rounds[:4] == [list("abc"), list("bca"), list("cab"), list("abc")]
    assert not any(gc_states)  # the garbage collector is off during a round
    for s in stats.values():
        assert s["rounds"] == 7 and s["calls_per_round"] == 1 and len(s["times_s"]) == 7
        assert s["min_s"] <= s["q1_s"] <= s["median_s"] <= s["q3_s"]
        assert s["iqr_s"] == pytest.approx(s["q3_s"] - s["q1_s"])


def test_fast_calls_are_timed_in_batches():
    stats = bm.time_interleaved({"fast": lambda: None}, seconds=0.01)
    assert stats["fast"]["calls_per_round"] == bm.timing._MAX_CALLS_PER_ROUND
    assert stats["fast"]["rounds"] >= 5


@pytest.fixture(scope="module")
def tiny_results():
    peers = ["lstmcore", "reference", "bound"]
    return bm.run_benchmark(TINY, threads=[1], peers=peers, cells=bm.CELLS, seconds=0.01)


def test_the_runner_returns_medians_and_ratios(tiny_results):
    r = tiny_results
    assert [(c["shape"], c["dims"], c["kind"], c["cell"], c["threads"]) for c in r["cases"]] == [
        ("tiny", [2, 3, 4, 5], kind, cell, 1) for kind in bm.KINDS for cell in bm.CELLS
    ]
    for case in r["cases"]:
        peers = case["peers"]
        assert list(peers) == ["lstmcore", "reference", "bound"]
        for s in peers.values():
            assert s["rounds"] >= 5 and len(s["times_s"]) == s["rounds"]
            assert 0 < s["min_s"] <= s["median_s"] == pytest.approx(np.median(s["times_s"]))
        ours = peers["lstmcore"]["median_s"]
        assert case["ratios"] == {
            "reference/lstmcore": pytest.approx(peers["reference"]["median_s"] / ours),
            "bound/lstmcore": pytest.approx(peers["bound"]["median_s"] / ours),
            "lstmcore/bound": pytest.approx(ours / peers["bound"]["median_s"]),
        }
        # each ratio's spread over 4 runs of consecutive rounds (one process: round i side by side)
        assert set(case["ratio_spread"]) == set(case["ratios"])
        for lo, hi in case["ratio_spread"].values():
            assert 0 < lo <= hi
    assert r["skipped"] == {} and r["memory"] is None
    assert r["targets"] == []  # a custom shape has no target
    assert r["machine"]["cpu_count"] >= 1 and r["machine"]["versions"]["lstmcore"]
    assert r["settings"]["threads"] == [1] and r["settings"]["dtype"] == "float32"
    assert r["settings"]["cells"] == list(bm.CELLS)
    assert r["gemm_peak_gflops"]["1"] > 0
    for case in r["cases"]:
        assert case["gflop"] == pytest.approx(bm.case_flops(case["cell"], case["dims"], case["kind"]) / 1e9)
        assert case["lstmcore_gflops"] == pytest.approx(case["gflop"] / case["peers"]["lstmcore"]["median_s"])
        assert case["peak_share"] == pytest.approx(case["lstmcore_gflops"] / r["gemm_peak_gflops"]["1"])


@pytest.mark.parametrize(
    "cell, dims, kind, madds",
    [
        ("lstm", (2, 3, 4, 5), "inference", 2 * 3 * (4 + 5) * 20),
        ("gru", (2, 3, 4, 5), "train", 3 * 2 * 3 * (4 + 5) * 15),
        ("rnn", (1, 1, 16, 128), "step", (16 + 128) * 128),
        ("lstm", (64, 100, 256, 512), "inference", 64 * 100 * 768 * 2048),
    ],
)
def test_the_flop_count_is_that_of_the_products(cell, dims, kind, madds):
    assert bm.case_flops(cell, dims, kind) == 2 * madds


def test_the_gemm_peak_is_measured_and_the_table_goes_without_it():
    assert 0 < bm.measure_gemm_peak(1, n=256, repeats=1)
    assert 0 < bm.measure_gemm_peak(1, np.float64, n=128, repeats=1)
    r = bm.run_benchmark(TINY, kinds=["step"], threads=[1], peers=["lstmcore"], seconds=0.01, peak=False)
    assert r["gemm_peak_gflops"] == {} and r["cases"][0]["peak_share"] is None
    assert "of peak" not in bm.format_table(r)


def test_the_peak_is_timed_beside_each_case_and_the_scaling_beside_the_threads(monkeypatch):
    """gemm-peak: the GEMM peak's product timed beside each case, lstmcore's share of the peak
    taken from it; lstmcore-1t: lstmcore on 1 thread beside a case of 2, in a process of its own,
    its ratio the scaling; neither in the ratios of the peers, the chart's or the rounds."""
    peers = ["lstmcore", "lstmcore-1t", "gemm-peak"]
    r = bm.run_benchmark(TINY, kinds=["inference"], threads=[1, 2], peers=peers, seconds=0.05)
    one, two = r["cases"]
    assert list(one["peers"]) == ["lstmcore", "gemm-peak"] and one["not_applicable"] == {}
    assert list(two["peers"]) == peers and two["not_applicable"] == {}
    for case in (one, two):
        peak = 2.0 * bm.timing.PEAK_N**3 / case["peers"]["gemm-peak"]["median_s"] / 1e9
        assert case["peak_beside"] and case["peak_gflops"] == pytest.approx(peak)
        assert case["peak_share"] == pytest.approx(case["lstmcore_gflops"] / peak)
    assert one["ratios"] == {}
    lc = two["peers"]["lstmcore"]["median_s"]
    assert two["ratios"] == {
        "lstmcore-1t/lstmcore": pytest.approx(two["peers"]["lstmcore-1t"]["median_s"] / lc)
    }
    table = bm.format_table(r)
    header = next(line for line in table.splitlines() if line.startswith("shape"))
    assert header.split()[4:] == ["lstmcore", "lstmcore-1t", "lc-1t/lc", "lc", "GFLOP/s", "peak", "GFLOP/s",
                                  "of", "peak", "rounds"]  # fmt: skip
    rows = [line.split() for line in table.splitlines() if line.startswith("tiny ")]
    fewest = [min(s["rounds"] for p, s in c["peers"].items() if p != "gemm-peak") for c in r["cases"]]
    assert [row[-1] for row in rows] == [str(n) for n in fewest]
    assert f"{two['peak_gflops']:.1f}" == rows[1][-3] and "timed beside the case's peers" in table
    # in one process too, lstmcore-1t switched to 1 thread around its calls; without the probe
    # the share is of the run's peak
    switches = []
    real = bm.set_threads
    monkeypatch.setattr(bm.peers, "set_threads", lambda n: switches.append(n) or real(n))
    r = bm.run_benchmark(TINY, kinds=["inference"], threads=[2], peers=peers[:2], seconds=0.01, isolate=False)
    (case,) = r["cases"]
    assert list(case["peers"]) == peers[:2] and not case["peak_beside"] and case["not_applicable"] == {}
    assert case["peak_gflops"] == r["gemm_peak_gflops"]["2"]
    rounds = case["peers"]["lstmcore-1t"]["rounds"]
    assert switches == [1, 2] * (rounds + 1)  # the warm-up's, then each round's
    # nothing beside a case without lstmcore
    r = bm.run_benchmark(
        TINY, kinds=["inference"], threads=[1], peers=["reference", "gemm-peak"], seconds=0.01
    )
    assert list(r["cases"][0]["peers"]) == ["reference"]
    # the probe without the run's peak: the share and its note still there
    r = bm.run_benchmark(
        TINY, kinds=["step"], threads=[1], peers=["lstmcore", "gemm-peak"], seconds=0.01, peak=False
    )
    (case,) = r["cases"]
    assert r["gemm_peak_gflops"] == {} and case["peak_beside"] and case["peak_share"] > 0
    table = bm.format_table(r)
    assert "of peak: its share of a large GEMM through the same BLAS (peak GFLOP/s), timed beside" in table
    assert "*: the run's" not in table


def test_an_instrument_runs_in_every_kth_round_only(monkeypatch):
    """time_interleaved's sparse callables: in round 0 and every k-th, k from the estimates (about
    a quarter of the time, while the others keep at least 5 rounds in the expected ones)."""
    log = []
    fns = {name: (lambda name=name: log.append(name)) for name in ("a", "b", "p")}
    est = {fns["a"]: 1e-3, fns["b"]: 1e-3, fns["p"]: 0.05}
    monkeypatch.setattr(bm.timing, "_estimate", lambda fn: est[fn])  # one call per round each
    stats = bm.time_interleaved(fns, seconds=0.2, min_rounds=5, max_rounds=45, sparse=("p",))
    # k = min(ceil(3 * 0.05 / 2e-3), (0.2 / 2e-3) // 5) = 20: rounds 0, 20 and 40
    assert stats["a"]["rounds"] == stats["b"]["rounds"] == 45 and stats["p"]["rounds"] == 3
    assert log.count("p") == 3 and log.count("a") == 45
    stats = bm.time_interleaved(fns, seconds=1e-9, min_rounds=7, max_rounds=45, sparse=("p",))
    assert stats["p"]["rounds"] == 7  # no room for fewer: every round


def test_the_scaling_goal_reads_lstmcore_1t_where_it_was_timed_beside():
    targets = {"title": "t", "ratios": [], "scaling": [{"shapes": ["S6"], "goal": 1.8}]}
    alone = _case("S6", "inference", 1, lstmcore=1.0)
    beside = _case("S6", "inference", 2, lstmcore=0.5, **{"lstmcore-1t": 0.95})
    for cases in ([alone, beside], [beside]):
        (got,) = bm.evaluate_targets(cases, targets, cpu_count=2)
        assert (got["ratio"], got["value"], got["met"]) == ("lstmcore-1t/lstmcore", pytest.approx(1.9), True)
    (got,) = bm.evaluate_targets([alone, _case("S6", "inference", 2, lstmcore=0.6)], targets, cpu_count=2)
    assert (got["ratio"], got["value"], got["met"]) == (
        "lstmcore 1 thread/2 threads",
        pytest.approx(1 / 0.6),
        False,
    )
    assert bm.evaluate_targets([_case("S6", "inference", 2, lstmcore=0.5)], targets, cpu_count=2) == []


def test_the_runner_measures_the_lstm_unless_told():
    r = bm.run_benchmark(TINY, kinds=["step"], threads=[1], peers=["lstmcore"], seconds=0.01)
    assert [c["cell"] for c in r["cases"]] == ["lstm"] and r["settings"]["cells"] == ["lstm"]
    r = bm.run_benchmark(TINY, kinds=["step"], threads=[1], peers=["lstmcore"], cells="rnn", seconds=0.01)
    assert [c["cell"] for c in r["cases"]] == ["rnn"]


def test_table_and_json(tiny_results, tmp_path):
    table = bm.format_table(tiny_results)
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("shape"))
    assert header.split() == [
        "shape",
        "kind",
        "cell",
        "threads",
        "lstmcore",
        "reference",
        "bound",
        "ref/lc",
        "lc/bound",
        "lc",
        "GFLOP/s",
        "of",
        "peak",
        "rounds",
    ]
    rows = [line for line in lines if line.startswith("tiny ")]
    peak = tiny_results["gemm_peak_gflops"]["1"]
    assert f"GEMM through the same BLAS ({peak:.1f} GFLOP/s with 1 thread)" in table
    case = tiny_results["cases"][4]
    assert f"{case['lstmcore_gflops']:.1f}" in rows[4] and f"{100 * case['peak_share']:.0f}%" in rows[4]
    assert [row.split()[1:3] for row in rows] == [[k, c] for k in bm.KINDS for c in bm.CELLS]
    assert all(("µs" in row or "ms" in row) for row in rows)
    ratio = tiny_results["cases"][4]["ratios"]["reference/lstmcore"]
    assert f"{ratio:.2f}" in rows[4]
    path = tmp_path / "bench.json"
    bm.save_json(tiny_results, path)
    assert json.loads(path.read_text()) == tiny_results


def test_the_chart(tiny_results, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    path = tmp_path / "ratios.png"
    bm.plot_ratios(tiny_results, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install"):
        bm.plot_ratios(tiny_results, tmp_path / "none.png")


# Targets ----------------------------------------------------------------------------------------


def _case(shape, kind, threads, cell="lstm", **medians):
    stats = {p: {"median_s": s, "rounds": 5} for p, s in medians.items()}
    return {"cell": cell, "shape": shape, "dims": list(bm.SHAPES[shape][:4]), "kind": kind,
            "threads": threads, "peers": stats, "ratios": bm.timing._ratios(stats)}  # fmt: skip


_RATIO = {"kind": "inference", "shape": "S2", "ratio": "onnxruntime/lstmcore", "op": ">=", "goal": 1}


def _ratios_json(*entries) -> str:
    """A targets file of these ratio goals, each the S2 inference goal above with the given keys."""
    return json.dumps({"title": "t", "ratios": [{**e, **_RATIO} for e in entries]})


def _one_ratio(**keys) -> str:
    """A targets file of one ratio goal: the S2 inference goal above with these keys in its place."""
    return json.dumps({"title": "t", "ratios": [{**_RATIO, **keys}]})


# The project's goals, as `lstmcore bench --targets bench/targets.json` reads them.
TARGETS = bm.load_targets(Path(__file__).resolve().parents[2] / "bench" / "targets.json")


def test_issue_15_targets_merge_and_read_the_share_of_the_peak():
    """bench/targets15.json loads and merges with targets.json (--targets twice): ratios and
    scaling goals of both, and "of peak" read from a case's peak_share (none: not evaluated)."""
    t15 = bm.load_targets(Path(__file__).resolve().parents[2] / "bench" / "targets15.json")
    both = bm.merge_targets([TARGETS, t15])
    assert bm.merge_targets([TARGETS]) is TARGETS
    assert len(both["ratios"]) == len(TARGETS["ratios"]) + len(t15["ratios"])
    assert {s["goal"] for s in both["scaling"]} == {1.7, 1.8}
    assert both["memory"] and both["title"].startswith(TARGETS["title"] + "; issue 15")
    cases = [
        dict(_case("S3", "train", 1, lstmcore=1.0, torch=1.15), peak_share=0.93),
        dict(_case("S3", "train", 2, lstmcore=0.6, torch=0.6), peak_share=0.8),
        _case("S6", "inference", 1, lstmcore=1.0, torch=1.0),  # no peak measured
    ]
    got = {(t["shape"], t["kind"], t["threads"], t["ratio"]): (round(t["value"], 6), t["met"])
           for t in bm.evaluate_targets(cases, t15, None, cpu_count=2)}  # fmt: skip
    assert got == {
        ("S3", "train", 1, "torch/lstmcore"): (1.15, True),
        ("S3", "train", 2, "torch/lstmcore"): (1.0, False),
        ("S3", "train", 1, "of peak"): (0.93, True),
        ("S3", "train", 2, "of peak"): (0.8, False),
        ("S6", "inference", 1, "torch/lstmcore"): (1.0, True),
        ("S3", "train", 2, "lstmcore 1 thread/2 threads"): (round(1 / 0.6, 6), False),
    }


def test_a_ratio_spread_over_the_parts_of_a_case():
    """timing._spreads: each ratio's lowest and highest over the parts of the case's time: the
    bursts' medians where the peers have them (processes in turn), else each peer's rounds cut
    in 4 runs of consecutive rounds; none for an instrument, for peers with fewer rounds or parts
    that do not line up with lstmcore's."""
    rounds = {
        "lstmcore": [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0],
        "torch": [2.0, 2.0, 2.0, 2.0, 1.5, 1.5, 3.0, 3.0],
        "bound": [0.5] * 8,
        "gemm-peak": [9.0] * 8,
    }
    stats = {p: {"median_s": float(np.median(t)), "times_s": t} for p, t in rounds.items()}
    assert bm.timing._parts(stats["torch"]) == [2.0, 2.0, 1.5, 3.0]
    got = bm.timing._spreads(stats)
    assert got == {
        "torch/lstmcore": [1.0, 3.0],  # parts 2, 1, 1.5, 3
        "bound/lstmcore": [0.25, 0.5],
        "lstmcore/bound": [2.0, 4.0],
    }
    assert set(got) <= set(bm.timing._ratios(stats))
    bursts = {"lstmcore": {"median_s": 1.0, "burst_medians_s": [1.0, 2.0]},
              "onnxruntime": {"median_s": 1.0, "burst_medians_s": [0.9, 2.2]},
              "torch": {"median_s": 1.0, "times_s": [1.0, 1.0, 1.0, 1.0]}}  # fmt: skip
    assert bm.timing._spreads(bursts) == {"onnxruntime/lstmcore": [pytest.approx(0.9), pytest.approx(1.1)]}
    few = {p: {"median_s": 1.0, "times_s": [1.0, 1.0, 1.0]} for p in ("lstmcore", "torch")}
    assert bm.timing._spreads(few) == {} and bm.timing._spreads({"torch": stats["torch"]}) == {}
    # a goal within a ratio's spread is marked so (met or not); the report says how many misses are
    case = dict(_case("S2", "inference", 1, lstmcore=1.0, onnxruntime=0.95), ratio_spread={
        "onnxruntime/lstmcore": [0.9, 1.05]})  # fmt: skip
    far = dict(_case("S3", "inference", 1, lstmcore=1.0, onnxruntime=0.8), ratio_spread={
        "onnxruntime/lstmcore": [0.7, 0.85]})  # fmt: skip
    two = dict(_case("S3", "inference", 2, lstmcore=1.0, onnxruntime=1.1, **{"lstmcore-1t": 1.5}),
               ratio_spread={"lstmcore-1t/lstmcore": [1.4, 1.9]})  # fmt: skip
    targets = bm.evaluate_targets([case, far, two], TARGETS, cpu_count=2)
    got = {(t["shape"], t["threads"], t["ratio"]): (t["met"], t["spread"], t["in_spread"]) for t in targets}
    assert got[("S2", 1, "onnxruntime/lstmcore")] == (False, [0.9, 1.05], True)
    assert got[("S3", 1, "onnxruntime/lstmcore")] == (False, [0.7, 0.85], False)
    assert got[("S3", 2, "onnxruntime/lstmcore")] == (True, None, False)  # no spread measured
    scaling = [v for k, v in got.items() if k[2] == "lstmcore-1t/lstmcore"]
    assert scaling and all(v == (False, [1.4, 1.9], True) for v in scaling)
    results = {
        "machine": {"cpu": "c", "cpu_count": 2, "backend": "compiled", "date": "d", "versions": {}},
        "settings": {"dtype": "float32"},
        "cases": [case, far, two],
        "targets": targets,
        "targets_title": "t",
        "skipped": {},
    }
    table = bm.format_table(results)
    missed = sum(not t["met"] for t in targets)
    close = sum(t["in_spread"] and not t["met"] for t in targets)
    assert f"~: the goal lies within them ({close} of the {missed} not met)" in table
    assert (
        "NOT MET ~  lstm S2 inference, 1 thread: onnxruntime/lstmcore = 0.95 (goal >= 1; parts 0.9-1.05)"
        in table
    )
    assert (
        "NOT MET    lstm S3 inference, 1 thread: onnxruntime/lstmcore = 0.8 (goal >= 1; parts 0.7-0.85)"
        in table
    )
    assert "met        lstm S3 inference, 2 threads: onnxruntime/lstmcore = 1.1 (goal >= 1)" in table


def test_targets_on_made_up_numbers():
    cases = [
        _case("S1", "inference", 1, lstmcore=1.0, onnxruntime=1.2),
        _case("S2", "inference", 1, lstmcore=1.0, onnxruntime=0.9),
        _case("S4", "step", 1, lstmcore=1.0, onnxruntime=2.0, torch=12.0),
        _case("S3", "train", 1, lstmcore=1.0, torch=1.1, bound=0.8),
        _case("S3", "train", 2, lstmcore=0.55, torch=0.6),
        _case("S6", "inference", 1, lstmcore=1.0),
        _case("S6", "inference", 2, lstmcore=0.7),
        dict(_case("S1", "train", 1, lstmcore=1.0, torch=9.0), dims=[1, 2, 3, 4]),  # not the real S1
        # the GRU and RNN (issue 11): not held to the LSTM's goals, nor the LSTM to theirs
        _case("S2", "inference", 1, "gru", lstmcore=1.0, onnxruntime=1.1),
        _case("S2", "inference", 2, "rnn", lstmcore=1.0, onnxruntime=0.8),
        _case("S4", "step", 1, "gru", lstmcore=1.0, onnxruntime=2.0, torch=5.0),
        _case("S2", "train", 1, "gru", lstmcore=1.0, torch=1.3),
        _case("S2", "train", 2, "rnn", lstmcore=1.0, torch=1.1),
        _case("S2", "train", 4, "rnn", lstmcore=1.0, torch=0.5),  # the goal names 1 and 2 threads
        _case("S3", "train", 1, "gru", lstmcore=1.0, torch=0.5, bound=0.1),
        _case("S3", "train", 2, "gru", lstmcore=0.5, torch=0.5),
        _case("S1", "train", 1, lstmcore=1.0, torch=1.0),
    ]
    memory = {
        "shape": "S3",
        "threads": 1,
        "peers": {"lstmcore": {"extra_mib": 100.0}, "torch": {"extra_mib": 250.0}},
    }
    got = {(t["cell"], t["shape"], t["kind"], t["threads"], t["ratio"]): (round(t["value"], 6), t["met"])
           for t in bm.evaluate_targets(cases, TARGETS, memory, cpu_count=2)}  # fmt: skip
    assert got == {
        ("lstm", "S1", "inference", 1, "onnxruntime/lstmcore"): (1.2, True),
        ("lstm", "S2", "inference", 1, "onnxruntime/lstmcore"): (0.9, False),
        ("lstm", "S4", "step", 1, "onnxruntime/lstmcore"): (2.0, False),
        ("lstm", "S4", "step", 1, "torch/lstmcore"): (12.0, True),
        ("lstm", "S3", "train", 1, "torch/lstmcore"): (1.1, True),
        ("lstm", "S3", "train", 2, "torch/lstmcore"): (round(0.6 / 0.55, 6), True),
        ("lstm", "S3", "train", 1, "lstmcore/bound"): (1.25, False),
        ("lstm", "S1", "train", 1, "torch/lstmcore"): (1.0, False),
        ("lstm", "S3", "train", 2, "lstmcore 1 thread/2 threads"): (round(1 / 0.55, 6), True),
        ("lstm", "S6", "inference", 2, "lstmcore 1 thread/2 threads"): (round(1 / 0.7, 6), False),
        ("lstm", "S3", "train", 1, "peak MiB lstmcore vs torch"): (100.0, True),
        ("gru", "S2", "inference", 1, "onnxruntime/lstmcore"): (1.1, True),
        ("rnn", "S2", "inference", 2, "onnxruntime/lstmcore"): (0.8, False),
        ("gru", "S4", "step", 1, "onnxruntime/lstmcore"): (2.0, True),
        ("gru", "S2", "train", 1, "torch/lstmcore"): (1.3, True),
        ("rnn", "S2", "train", 2, "torch/lstmcore"): (1.1, False),
    }
    one_core = bm.evaluate_targets(cases, TARGETS, None, cpu_count=1)
    assert not any("thread" in t["ratio"] or "MiB" in t["ratio"] for t in one_core)
    results = {
        "machine": {
            "cpu": "test cpu",
            "cpu_isa": "avx512",
            "blas_core": "Haswell",
            "cpu_count": 2,
            "backend": "compiled",
            "date": "today",
            "versions": {},
            "threadpool_info": {"kernel_isa": "avx512"},
            "env": {"OPENBLAS_CORETYPE": "Haswell"},
        },
        "settings": {"dtype": "float32"},
        "cases": cases,
        "targets": bm.evaluate_targets(cases, TARGETS, memory, cpu_count=2),
        "targets_title": TARGETS["title"],
        "memory": [dict(memory, dims=[64, 100, 256, 512], skipped={})],
        "skipped": {},
    }
    table = bm.format_table(results)
    assert "test cpu (avx512)" in table
    assert "lstmcore kernels avx512, OpenBLAS kernels Haswell (forced by OPENBLAS_CORETYPE=Haswell)" in table
    assert (
        "targets of issues 4 (LSTM), 11 (GRU, RNN) and 12 (sequences) (same thread count): 9 of 16 met"
        in table
    )
    assert "NOT MET  lstm S2 inference, 1 thread: onnxruntime/lstmcore = 0.9 (goal >= 1)" in table
    assert "met      lstm S4 step, 1 thread: torch/lstmcore = 12 (goal >= 10)" in table
    assert "NOT MET  rnn S2 train, 2 threads: torch/lstmcore = 1.1 (goal >= 1.2)" in table
    assert "peak extra memory of one lstm training step at S3 (64, 100, 256, 512):" in table
    assert "lstmcore         100.0 MiB" in table
    # a case written before the cells came (no "cell") is an LSTM's; memory may be one dict
    old = [{k: v for k, v in c.items() if k != "cell"} for c in cases if c["cell"] == "lstm"]
    assert bm.evaluate_targets(old, TARGETS, memory, cpu_count=2) == [
        t for t in bm.evaluate_targets(cases, TARGETS, [memory], cpu_count=2) if t["cell"] == "lstm"
    ]
    assert "targets of" not in bm.format_table(dict(results, targets=[], targets_title=None))
    none = bm.format_table(dict(results, targets=[], targets_title="t"))
    assert "targets of t: none of them at the cases of this run" in none


@pytest.mark.parametrize("cell, least_mib", [("lstm", 4), ("gru", 4), ("rnn", 1)])
def test_peak_memory_of_a_training_step_in_a_fresh_process(cell, least_mib):
    big = np.ones(2**24)  # 128 MiB: this process's peak must not be taken for the child's
    del big
    result = bm.measure_memory((32, 100, 64, 128), peers=["lstmcore"], cell=cell)
    assert result["shape"] == "32x100x64x128" and result["threads"] == 1 and result["cell"] == cell
    # the cache alone is over 8 MiB in float32 for the LSTM (gates (T, B, 4H), h and c (T+1, B, H)),
    # over 6 MiB for the GRU (gates (T, B, 3H), h, extra) and 1.5 MiB for the RNN (h)
    assert result["peers"]["lstmcore"]["extra_mib"] > least_mib
    assert result["peers"]["lstmcore"]["before_mib"] < 128


# Bad input --------------------------------------------------------------------------------------


def test_bad_input_is_refused(problem):
    with pytest.raises(ValueError, match="unknown shape 'S9'; expected one of S1, S2"):
        bm.resolve_shapes(["S9"])
    with pytest.raises(ValueError, match=r"must be \(B, T, I, H\)"):
        bm.resolve_shapes({"x": (2, 3, 4)})
    with pytest.raises(ValueError, match="H must be a positive integer, got 0"):
        bm.resolve_shapes({"x": (2, 3, 4, 0)})
    with pytest.raises(TypeError, match="B must be an int, got float 2.0"):
        bm.resolve_shapes({"x": (2.0, 3, 4, 5)})
    with pytest.raises(TypeError, match="list of names or a dict"):
        bm.resolve_shapes("S1")
    with pytest.raises(ValueError, match="kinds must be among inference, train, step, got"):
        bm.run_benchmark(TINY, kinds=["predict"])
    with pytest.raises(ValueError, match="unknown peer 'keras'"):
        bm.run_benchmark(TINY, peers=["keras"])
    with pytest.raises(ValueError, match="thread counts must be positive integers, got 0"):
        bm.run_benchmark(TINY, threads=[0])
    with pytest.raises(ValueError, match="kind must be one of"):
        bm.make_peer("lstmcore", problem, "predict")
    with pytest.raises(ValueError, match=r"the problem lacks \['dy', 'h0', 'c0'\]"):
        bm.make_peer("lstmcore", {k: problem[k] for k in ("x", "w_x", "w_h", "b")}, "inference")
    gru = bm.make_problem(2, 3, 4, 5, cell="gru")
    with pytest.raises(ValueError, match=r"the problem lacks \['dy', 'h0'\]"):  # no c0 to lack
        bm.make_peer("lstmcore", {k: gru[k] for k in ("cell", "x", "w_x", "w_h", "b")}, "inference")
    with pytest.raises(ValueError, match="unknown cell 'lsmt'; expected one of lstm, gru, rnn"):
        bm.make_problem(2, 3, 4, 5, cell="lsmt")
    with pytest.raises(
        ValueError, match=r"cells must be among lstm, gru, rnn or .* -lengths, got \['gru', 'elman'\]"
    ):
        bm.run_benchmark(TINY, cells=["gru", "elman"])
    with pytest.raises(ValueError, match="cells must be among"):
        bm.run_benchmark(TINY, cells=[])
    with pytest.raises(ValueError, match="unknown cell 'lstm2'"):
        bm.measure_memory((1, 2, 3, 4), peers=["lstmcore"], cell="lstm2")
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got int32"):
        bm.make_problem(2, 3, 4, 5, dtype=np.int32)
    with pytest.raises(ValueError, match="at least one callable"):
        bm.time_interleaved({})


# The command ------------------------------------------------------------------------------------


def test_lstmcore_bench_end_to_end(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstmcore",
            "bench",
            "--shape",
            "2,3,4,5",
            "--seconds",
            "0.05",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    threads = results["settings"]["threads"]
    assert threads == sorted({1, results["machine"]["cpu_count"]})
    assert [(c["kind"], c["threads"]) for c in results["cases"]] == [
        (k, n) for k in bm.KINDS for n in threads
    ]
    assert all("lstmcore" in c["peers"] and "bound" in c["peers"] for c in results["cases"])
    assert "2x3x4x5  inference" in proc.stdout and f"results written to {out}" in proc.stdout
    assert "lstmcore bench: lstm 2x3x4x5 step, 1 thread: lstmcore" in proc.stderr  # progress per case
    assert results["settings"]["cells"] == ["lstm"] and {c["cell"] for c in results["cases"]} == {"lstm"}
    for peer, why in results["skipped"].items():
        assert why in proc.stdout and why in proc.stderr and peer in bm.PEERS


def test_lstmcore_bench_picks_the_cells(capsys, tmp_path):
    out = tmp_path / "cells.json"
    args = ["bench", "--cell", "gru,rnn", "--shape", "2,3,4,5", "--kinds", "inference,step", "--threads", "1"]
    args += ["--peers", "lstmcore,bound", "--seconds", "0.02", "--json", str(out)]
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    results = json.loads(out.read_text())
    assert results["settings"]["cells"] == ["gru", "rnn"]
    assert [(c["kind"], c["cell"]) for c in results["cases"]] == [
        (k, c) for k in ("inference", "step") for c in ("gru", "rnn")
    ]
    rows = [line.split()[:4] for line in captured.out.splitlines() if line.startswith("2x3x4x5 ")]
    assert rows == [["2x3x4x5", k, c, "1"] for k in ("inference", "step") for c in ("gru", "rnn")]
    assert "lstmcore bench: gru 2x3x4x5 step, 1 thread: lstmcore" in captured.err


def test_the_cells_option():
    parse = cli.build_parser().parse_args
    assert parse(["bench"]).cells == ["lstm"]  # the default run measures the LSTM alone
    assert parse(["bench", "--cells", "all"]).cells == ["lstm", "gru", "rnn"]
    assert parse(["bench", "--cell", "rnn, gru"]).cells == ["rnn", "gru"]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--cells", "lstm,elman"],
            "among lstm,gru,rnn and their variants <cell>-bi,-L2,-lengths (e.g. lstm-bi), or all; "
            "got 'lstm,elman'",
        ),
        (["--cells", "lstm-L3"], "got 'lstm-L3'"),
        (["--shape", "2,3,4"], "expected B,T,I,H"),
        (["--shapes", "S1,S9"], "expected names among S1,S2,S3,S4,S5,S6"),
        (["--peers", "keras"], "expected names among lstmcore,reference,torch,onnxruntime,bound"),
        (["--threads", "0"], "expected positive integers"),
        (["--seconds", "0"], "must be a positive number of seconds"),
    ],
)
def test_lstmcore_bench_refuses_bad_options(capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_times_keep_three_digits_below_1000():
    assert bm.report._fmt_time(999.7e-6) == "1 ms"
    assert bm.report._fmt_time(123.4e-6) == "123 µs"
    assert bm.report._fmt_time(0.9996) == "1 s"
    assert bm.report._fmt_time(2.5) == "2.5 s"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[]", "a 'title' string"),
        ('{"title": "t", "ratios": [{"kind": "inference", "shape": "S9"}]}', r"ratios\[0\] must have"),
        ('{"title": "t", "scaling": {"shapes": ["S3"], "goal": "fast"}}', "scaling must be"),
        ('{"title": "t", "scaling": {"shapes": ["S3"], "goal": 2, "cell": "elman"}}', "scaling must be"),
        (_ratios_json({"cell": "elman"}), r"ratios\[0\] must have .* cell"),
        (_ratios_json({"cell": []}), r"ratios\[0\] must have"),
        (_ratios_json({"cell": ["gru", 3]}), r"ratios\[0\] must have"),
        (_ratios_json({"threads": [0]}), r"ratios\[0\] must have .* threads"),
        (_ratios_json({"threads": 2}), r"ratios\[0\] must have"),
        (_ratios_json({"threads": [True]}), r"ratios\[0\] must have"),
        (_ratios_json({"cell": "lstm-L3"}), r"ratios\[0\] must have .* a variant <cell>-bi, -L2, -lengths"),
        (_ratios_json({"cell": ["gru-bi", "gru-bi2"]}), r"ratios\[0\] must have"),
        (
            _one_ratio(cell="lstm-bi", shape="S5"),
            r"ratios\[0\] must have .* at S1, S2, S3",
        ),  # not measured there
        (_one_ratio(cell=["gru", "gru-lengths"], shape="S4", kind="step"), r"ratios\[0\] must have"),
        ('{"title": "t", "scaling": []}', "or a non-empty list of such dicts"),
        (
            '{"title": "t", "scaling": [{"shapes": ["S3"], "goal": 2}, {"shapes": ["S3"], "goal": "x"}]}',
            "scaling",
        ),
        ('{"title": "t", "scaling": [{"shapes": ["S5"], "goal": 2, "cell": "lstm-bi"}]}', "scaling must be"),
        ('{"title": "t", "scaling": {"shapes": ["S3"], "goal": 2, "kind": "predict"}}', "'kind': one of"),
        ('{"title": "t", "scaling": {"shapes": "S3", "goal": 2}}', "scaling must be"),
        ("{", "cannot read the targets"),
    ],
)
def test_bad_targets_file_is_a_value_error_naming_it(tmp_path, text, message):
    path = tmp_path / "t.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        bm.load_targets(path)


def test_targets_name_their_cells(tmp_path):
    """A goal without a cell is the LSTM's (the goals of issue 4); "cell" names one or several, and
    "threads" the thread counts it holds for. The project's file holds the goals of issue 11."""
    path = tmp_path / "t.json"
    path.write_text(_ratios_json({}, {"cell": ["gru", "rnn"]}, {"cell": "rnn", "threads": [2]}))
    targets = bm.load_targets(path)
    cases = [
        _case("S2", "inference", n, cell, lstmcore=1.0, onnxruntime=1.5) for cell in bm.CELLS for n in (1, 2)
    ]
    got = [(t["cell"], t["threads"], t["target"]) for t in bm.evaluate_targets(cases, targets)]
    assert got == [
        ("lstm", 1, "lstm S2 inference: onnxruntime/lstmcore >= 1"),
        ("lstm", 2, "lstm S2 inference: onnxruntime/lstmcore >= 1"),
        ("gru", 1, "gru S2 inference: onnxruntime/lstmcore >= 1"),
        ("gru", 2, "gru S2 inference: onnxruntime/lstmcore >= 1"),
        ("rnn", 1, "rnn S2 inference: onnxruntime/lstmcore >= 1"),
        ("rnn", 2, "rnn S2 inference: onnxruntime/lstmcore >= 1"),
        ("rnn", 2, "rnn S2 inference: onnxruntime/lstmcore >= 1"),
    ]
    issue_11 = [t for t in TARGETS["ratios"] if set(bm.targets._target_cells(t)) & {"gru", "rnn"}]
    assert {(t["kind"], t["shape"], t["ratio"]) for t in issue_11} == {
        *(("inference", s, "onnxruntime/lstmcore") for s in ("S1", "S2", "S3", "S5", "S6")),
        ("step", "S4", "onnxruntime/lstmcore"),
        ("train", "S2", "torch/lstmcore"),
    }
    cells_of = bm.targets._target_cells
    assert all(cells_of(t) == ("gru", "rnn") and t["goal"] == (1.2 if t["kind"] == "train" else 1.0)
               for t in issue_11)  # fmt: skip
    assert all(t.get("threads") == ([1, 2] if t["kind"] == "train" else None) for t in issue_11)


def test_the_goals_of_issue_12():
    seq = [t for t in TARGETS["ratios"] if any(c in bm.SEQUENCE_CELLS for c in bm.targets._target_cells(t))]
    got = sorted(
        (cell, t["kind"], t["shape"], t["ratio"], t["op"], t["goal"], t.get("threads"))
        for t in seq
        for cell in bm.targets._target_cells(t)
    )
    bi = [
        (cell, kind, shape, ratio, ">=", goal, None)
        for cell in ("gru-bi", "lstm-bi")
        for shape in ("S2", "S3")
        for kind, ratio, goal in (
            ("inference", "onnxruntime/lstmcore", 1.0),
            ("inference", "torch/lstmcore", 1.0),
            ("train", "torch/lstmcore", 1.2),
        )
    ]
    lengths = [
        (cell, kind, "S2", "lstmcore/lstmcore-full", "<=", 0.6, None)
        for cell in ("gru-lengths", "lstm-lengths")
        for kind in ("inference", "train")
    ]
    assert got == sorted([*bi, ("lstm-L2", "train", "S2", "torch/lstmcore", ">=", 1.2, None), *lengths])
    assert TARGETS["title"] == "issues 4 (LSTM), 11 (GRU, RNN) and 12 (sequences)"
    assert TARGETS["scaling"] == [
        {"cell": "lstm", "shapes": ["S3", "S6"], "goal": 1.7},
        {"cell": ["lstm-bi", "gru-bi"], "kind": "inference", "shapes": ["S2", "S3"], "goal": 1.7},
    ]


def test_targets_of_the_variants_on_made_up_numbers(tmp_path):
    cases = [
        _case("S2", "inference", 1, "lstm-bi", lstmcore=1.0, onnxruntime=1.1, torch=0.9),
        _case("S2", "inference", 2, "lstm-bi", lstmcore=0.5, onnxruntime=0.6, torch=0.6),
        _case("S3", "train", 1, "gru-bi", lstmcore=1.0, torch=1.3),
        _case("S3", "train", 2, "gru-bi", lstmcore=0.5, torch=0.7),  # no scaling goal for train
        _case("S2", "train", 1, "lstm-L2", lstmcore=1.0, torch=1.1),
        _case("S2", "inference", 1, "gru-lengths", lstmcore=0.55, **{"lstmcore-full": 1.0}),
        _case("S2", "train", 1, "lstm-lengths", lstmcore=0.7, **{"lstmcore-full": 1.0}),
        _case("S1", "train", 1, "lstm-lengths", lstmcore=0.7, **{"lstmcore-full": 1.0}),  # no goal at S1
        _case("S2", "inference", 1, "rnn-bi", lstmcore=1.0, onnxruntime=0.5),  # no goal for rnn-bi
    ]
    assert cases[5]["ratios"] == {"lstmcore/lstmcore-full": 0.55}
    got = {(t["cell"], t["shape"], t["kind"], t["threads"], t["ratio"]): (round(t["value"], 6), t["met"])
           for t in bm.evaluate_targets(cases, TARGETS, cpu_count=2)}  # fmt: skip
    assert got == {
        ("lstm-bi", "S2", "inference", 1, "onnxruntime/lstmcore"): (1.1, True),
        ("lstm-bi", "S2", "inference", 1, "torch/lstmcore"): (0.9, False),
        ("lstm-bi", "S2", "inference", 2, "onnxruntime/lstmcore"): (1.2, True),
        ("lstm-bi", "S2", "inference", 2, "torch/lstmcore"): (1.2, True),
        ("lstm-bi", "S2", "inference", 2, "lstmcore 1 thread/2 threads"): (2.0, True),
        ("gru-bi", "S3", "train", 1, "torch/lstmcore"): (1.3, True),
        ("gru-bi", "S3", "train", 2, "torch/lstmcore"): (1.4, True),
        ("lstm-L2", "S2", "train", 1, "torch/lstmcore"): (1.1, False),
        ("gru-lengths", "S2", "inference", 1, "lstmcore/lstmcore-full"): (0.55, True),
        ("lstm-lengths", "S2", "train", 1, "lstmcore/lstmcore-full"): (0.7, False),
    }
    # the old form of scaling, one dict, still holds; a list applies each of its goals
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"title": "t", "scaling": {"cell": "gru-bi", "shapes": ["S3"], "goal": 2.5}}))
    (one,) = bm.evaluate_targets(cases, bm.load_targets(path), cpu_count=2)
    assert (one["cell"], one["kind"], one["value"], one["met"]) == ("gru-bi", "train", 2.0, False)
    path.write_text(json.dumps({"title": "t", "scaling": [
        {"cell": "gru-bi", "shapes": ["S3"], "goal": 1.5, "kind": ["train"]},
        {"cell": ["lstm-bi"], "shapes": ["S2"], "goal": 2.5},
    ]}))  # fmt: skip
    got = [(t["cell"], t["kind"], t["met"]) for t in bm.evaluate_targets(cases, bm.load_targets(path))]
    assert got == [("gru-bi", "train", True), ("lstm-bi", "inference", False)]
    assert bm.evaluate_targets(cases, bm.load_targets(path), cpu_count=1) == []


def test_the_cells_option_takes_the_variants(capsys, tmp_path):
    parse = cli.build_parser().parse_args
    assert parse(["bench", "--cells", "lstm-bi,gru-bi,lstm-L2,lstm-lengths"]).cells == [
        "lstm-bi",
        "gru-bi",
        "lstm-L2",
        "lstm-lengths",
    ]
    assert parse(["bench", "--cells", "all"]).cells == list(bm.CELLS)  # the cells, not their variants
    out = tmp_path / "seq.json"
    args = ["bench", "--cells", "rnn-L2,gru-lengths", "--shape", "3,4,2,5", "--threads", "1"]
    args += ["--peers", "lstmcore,bound,lstmcore-full", "--seconds", "0.02", "--json", str(out)]
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    results = json.loads(out.read_text())
    assert [(c["kind"], c["cell"], list(c["peers"])) for c in results["cases"]] == [
        (k, c, ["lstmcore", "bound"] if c == "rnn-L2" else ["lstmcore", "lstmcore-full"])
        for k in ("inference", "train")
        for c in ("rnn-L2", "gru-lengths")
    ]
    rows = [line.split()[:4] for line in captured.out.splitlines() if line.startswith("3x4x2x5 ")]
    assert rows == [["3x4x2x5", k, c, "1"] for k in ("inference", "train") for c in ("rnn-L2", "gru-lengths")]
    assert "-: bound does not apply to gru-lengths; lstmcore-full does not apply to rnn-L2" in captured.out

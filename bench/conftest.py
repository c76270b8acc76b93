"""Benchmark shapes (from lstmcore.benchmark, DESIGN.md section 4), problems of every cell and of
its sequence variants, thread settings, and the one test body that bench_lstm.py, bench_cells.py
and bench_sequences.py share."""

from __future__ import annotations

import functools
import os
import sys

import numpy as np
import pytest

import lstmcore
from lstmcore import benchmark as bm

SHAPES = bm.SHAPES  # name: (B, T, I, H, kinds measured), the one table
THREADS = sorted({1, lstmcore.engine._threads.cpu_count()})


def cases(kind: str):
    return [pytest.param(name, id=name) for name, s in SHAPES.items() if kind in s[4]]


@functools.cache
def make_problem(name: str, dtype=np.float32, cell: str = "lstm"):
    """Inputs, Glorot-scale weights, an output gradient and a streaming state of shape ``name``,
    for ``cell`` (one of lstmcore.benchmark.ALL_CELLS: a cell or a variant such as ``gru-bi``)."""
    return bm.make_problem(*SHAPES[name][:4], dtype=dtype, cell=cell)


@functools.cache
def expected(name: str, kind: str, cell: str = "lstm"):
    """The reference's outputs (float64) for the equal-work check of shape ``name`` and ``cell``."""
    return bm.expected_outputs(make_problem(name, cell=cell), kind)


def peer_cases(cells, shapes=None):
    """One pytest param per cell x shape x kind x peer, with ids such as ``gru-S2-train-torch``:
    the shapes of ``shapes`` (default all) the cell runs on (a variant: S1, S2, S3), the kinds the
    shape lists, the cell has and the peer does, the peers that apply to the cell (lstmcore-full
    to the -lengths cells only, the bound to all others)."""
    return [
        pytest.param(cell, peer, shape, kind, id=f"{cell}-{shape}-{kind}-{peer}")
        for cell in cells
        for shape, spec in SHAPES.items()
        if (shapes is None or shape in shapes) and bm.cell_runs_on(cell, shape, spec[:4])
        for kind in spec[4]
        if kind in bm.cell_kinds(cell)
        for peer in bm.PEERS
        # (not lstmcore-1t and the GEMM peak's product: they mean something only beside lstmcore
        # in `lstmcore bench`; here each test sets its own thread count)
        if peer not in bm.BESIDE_LSTMCORE
        and kind in bm.peer_kinds(peer)
        and bm.peer_applies(peer, cell) is None
    ]


def time_peer(benchmark, threads, cell, peer, shape, kind):
    """Build ``peer`` on the cell's problem at ``shape``, check it against the reference (or, for
    lstmcore-full, against the reference at full length), time it. Tests of one cell, shape, kind
    and thread count share a group, so the peers sit side by side."""
    try:
        timed = bm.make_peer(peer, make_problem(shape, cell=cell), kind, threads)
    except (bm.PeerUnavailable, bm.PeerDoesNotApply) as exc:
        pytest.skip(str(exc))
    bm.check_timed(timed, expected(shape, kind, cell))
    benchmark.group = f"{cell} {shape} {kind} threads{threads}"
    benchmark.extra_info.update({"cell": cell, "peer": peer, "shape": SHAPES[shape][:4], "kind": kind})
    run(benchmark, timed.fn)


@pytest.fixture(params=THREADS, ids=[f"threads{n}" for n in THREADS])
def threads(request, benchmark):
    """Run with n threads: lstmcore's OpenMP loops, every BLAS pool and, when imported, torch's."""
    before = lstmcore.get_num_threads()
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    bm.set_threads(request.param)
    info = lstmcore.threadpool_info()
    benchmark.extra_info.update(
        {
            "threads": request.param,
            "openmp": info["openmp"],
            "blas": [(b["family"], b["num_threads"]) for b in info["blas"]],
            "torch_threads": torch.get_num_threads() if torch is not None else None,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        }
    )
    yield request.param
    lstmcore.set_num_threads(before)
    if torch is not None:
        torch.set_num_threads(torch_before)


def run(benchmark, fn):
    """Time ``fn`` after a warm-up: fewer rounds for the slow cases so the suite stays in minutes,
    and batches of calls per round for the calls under a millisecond (the streaming step)."""
    estimate = bm.timing._estimate(fn)  # warm-up: first-touch page faults, thread pools, caches
    iterations = max(1, min(1000, int(1e-3 / max(estimate, 1e-9))))
    rounds = 3 if estimate > 0.5 else (10 if estimate > 0.02 else 50 if iterations == 1 else 200)
    return benchmark.pedantic(fn, rounds=rounds, iterations=iterations, warmup_rounds=1)

"""Benchmark shapes (from lstmcore.benchmark, DESIGN.md section 4), problems, thread settings."""

from __future__ import annotations

import functools
import os
import sys

import numpy as np
import pytest

import lstmcore
from lstmcore import benchmark as bm

SHAPES = bm.SHAPES  # name: (B, T, I, H, kinds measured), the one table
THREADS = sorted({1, lstmcore._threads.cpu_count()})


def cases(kind: str):
    return [pytest.param(name, id=name) for name, s in SHAPES.items() if kind in s[4]]


@functools.cache
def make_problem(name: str, dtype=np.float32):
    """Inputs, Glorot-scale weights, an output gradient and a streaming state of shape ``name``."""
    return bm.make_problem(*SHAPES[name][:4], dtype=dtype)


@functools.cache
def expected(name: str, kind: str):
    """The reference's outputs (float64) for the equal-work check of shape ``name``."""
    return bm.expected_outputs(make_problem(name), kind)


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
    estimate = bm._estimate(fn)  # warm-up: first-touch page faults, thread pools, caches
    iterations = max(1, min(1000, int(1e-3 / max(estimate, 1e-9))))
    rounds = 3 if estimate > 0.5 else (10 if estimate > 0.02 else 50 if iterations == 1 else 200)
    return benchmark.pedantic(fn, rounds=rounds, iterations=iterations, warmup_rounds=1)

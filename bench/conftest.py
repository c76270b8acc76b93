"""Benchmark shapes (DESIGN.md section 4), thread settings and their recording."""

from __future__ import annotations

import os

import numpy as np
import pytest

import lstmcore

# name: (B, T, I, H, what is measured)
SHAPES = {
    "S1": (32, 30, 1, 50, ("inference", "train")),
    "S2": (64, 100, 32, 128, ("inference", "train")),
    "S3": (64, 100, 256, 512, ("inference", "train")),
    "S4": (1, 1, 16, 128, ("step",)),
    "S5": (1, 100, 16, 128, ("inference",)),
    "S6": (256, 50, 64, 256, ("inference",)),
}
THREADS = sorted({1, lstmcore._threads.cpu_count()})


def cases(kind: str):
    return [pytest.param(name, id=name) for name, s in SHAPES.items() if kind in s[4]]


def make_problem(name: str, dtype=np.float32):
    """Inputs, Glorot-scale weights and an output gradient of shape ``name``."""
    B, T, I, H, _ = SHAPES[name]
    rng = np.random.default_rng(0)

    def f(scale, *shape):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    return {
        "x": f(1.0, B, T, I),
        "w_x": f(I**-0.5, I, 4 * H),
        "w_h": f(H**-0.5, H, 4 * H),
        "b": f(0.1, 4 * H),
        "dy": f(1.0, B, T, H),
    }


@pytest.fixture(params=THREADS, ids=[f"threads{n}" for n in THREADS])
def threads(request, benchmark):
    """Run the benchmark with n threads for lstmcore's OpenMP loops and every BLAS pool."""
    before = lstmcore.get_num_threads()
    lstmcore.set_num_threads(request.param)
    info = lstmcore.threadpool_info()
    benchmark.extra_info.update(
        {
            "threads": request.param,
            "openmp": info["openmp"],
            "blas": [(b["family"], b["num_threads"]) for b in info["blas"]],
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        }
    )
    yield request.param
    lstmcore.set_num_threads(before)


def run(benchmark, fn, seconds_hint: float):
    """Time ``fn``: fewer rounds for the slow cases so the suite stays in minutes."""
    fn()  # warm-up: first-touch page faults, BLAS thread start
    rounds = 3 if seconds_hint > 0.5 else (10 if seconds_hint > 0.02 else 50)
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)

"""lstm_forward (inference), the training step and the streaming step, lstmcore and reference.

Run: pytest bench -o python_files="bench_*.py" [--benchmark-json out.json]
"""

import time

import pytest
from conftest import SHAPES, cases, make_problem, run

import lstmcore
from lstmcore import reference

IMPLS = {"lstmcore": lstmcore, "reference": reference}


def _estimate(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("shape", cases("inference"))
def test_inference(benchmark, threads, impl, shape):
    mod, p = IMPLS[impl], make_problem(shape)
    benchmark.group = f"{shape} inference"
    benchmark.extra_info["shape"] = SHAPES[shape][:4]

    def fn():
        return mod.lstm_forward(p["x"], p["w_x"], p["w_h"], p["b"])

    run(benchmark, fn, _estimate(fn))


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("shape", cases("train"))
def test_train_step(benchmark, threads, impl, shape):
    # forward with cache + backward from a loss on every output: all weight and input gradients
    mod, p = IMPLS[impl], make_problem(shape)
    benchmark.group = f"{shape} training step"
    benchmark.extra_info["shape"] = SHAPES[shape][:4]

    def fn():
        _, _, _, cache = mod.lstm_forward(p["x"], p["w_x"], p["w_h"], p["b"], return_cache=True)
        return mod.lstm_backward(p["dy"], cache)

    run(benchmark, fn, _estimate(fn))


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("shape", cases("step"))
def test_streaming_step(benchmark, threads, impl, shape):
    mod, p = IMPLS[impl], make_problem(shape)
    benchmark.group = f"{shape} streaming step"
    benchmark.extra_info["shape"] = SHAPES[shape][:4]
    x_t = p["x"][:, 0]
    H = p["w_h"].shape[0]
    h = c = p["x"][:, 0, :1].repeat(H, axis=1) * 0

    def fn():
        return mod.lstm_cell_forward(x_t, p["w_x"], p["w_h"], p["b"], h, c)

    fn()
    benchmark.pedantic(fn, rounds=2000, iterations=1, warmup_rounds=50)

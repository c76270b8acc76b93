"""The engine under hostile use: threads sharing objects, fork, odd dtypes, overflow, memory kept.

Each test is named after the behaviour it keeps. Anything that could crash or hang the
interpreter runs in a child process, so that the suite reports it instead of dying.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close, make_lstm, make_stack_weights

import lstmcore
from lstmcore import reference

BACKENDS = {"reference": reference, "compiled": lstmcore}
compiled_only = pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine")


def run_child(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` as a script in a fresh interpreter (a file, so that multiprocessing's spawned
    children can import its functions); a crash or a hang fails the test with what it said."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"
        script.write_text(textwrap.dedent(code))
        try:
            proc = subprocess.run(
                [sys.executable, str(script)], capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"the child hung for {timeout} s; it printed: {exc.stdout!r} {exc.stderr!r}")
    assert proc.returncode == 0, f"child exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


# Threads ---------------------------------------------------------------------------------------


@compiled_only
def test_reinitialising_a_stepper_while_another_thread_steps_it_is_refused_not_a_crash():
    out = run_child(
        """
        import threading, numpy as np, lstmcore
        rng = np.random.default_rng(0)
        I, H = 64, 512
        w = [rng.standard_normal(s).astype(np.float64) * 0.05 for s in ((I, 4 * H), (H, 4 * H), (4 * H,))]
        s = lstmcore.LSTMStepper(*w, batch_size=8)
        x = rng.standard_normal((8, I))
        stop = threading.Event()
        def stepper_loop():
            while not stop.is_set():
                try:
                    s.step(x)
                except RuntimeError:
                    pass
        t = threading.Thread(target=stepper_loop)
        t.start()
        refused = 0
        for _ in range(400):
            try:
                s.__init__(*w, batch_size=8)
            except RuntimeError as exc:
                assert "another thread" in str(exc)
                refused += 1
        stop.set()
        t.join()
        print(refused)
        """
    )
    assert int(out.stdout) > 0  # the race was met, and refused


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_stepper_stepped_from_two_threads_at_once_raises_instead_of_interleaving(rng, backend):
    mod = BACKENDS[backend]
    p = make_lstm(rng, 8, 1, 64, 256, np.float64, state=False)
    s = mod.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=8)
    x = p["x"][:, 0]
    errors, results = [], {}
    start = threading.Barrier(2)

    def run(k):
        start.wait()
        out = []
        for _ in range(300):
            try:
                out.append(s.step(x).copy())
            except RuntimeError as exc:
                errors.append(str(exc))
        results[k] = out

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors, "two threads stepped one stepper 600 times and never met"
    assert all("another thread" in e for e in errors)
    # Every step that ran was whole: the states follow one sequence of steps of the same x.
    fresh = mod.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=8)
    n = len(results[0]) + len(results[1])
    expected = [fresh.step(x).copy() for _ in range(n)]
    assert np.array_equal(s.h, expected[-1])


@compiled_only
def test_concurrent_backward_calls_leave_the_blas_pools_as_they_found_them(rng):
    from lstmcore.engine import _threads

    if not _threads._blas():
        pytest.skip("no BLAS library found to drive")
    p = make_lstm(rng, 4, 5, 3, 8, np.float64)
    _, _, _, cache = lstmcore.lstm_forward(p["x"], p["w_x"], p["w_h"], p["b"], return_cache=True)
    *_, gru_cache = lstmcore.gru_forward(
        p["x"], p["w_x"][:, :24], p["w_h"][:, :24], np.zeros((2, 24)), return_cache=True
    )
    dy = np.ones((4, 5, 8))
    before = lstmcore.get_num_threads()
    try:
        lstmcore.set_num_threads(2)  # small products: each backward holds the pools at 1 thread
        start = threading.Barrier(8)

        def run():
            start.wait()
            for _ in range(200):
                lstmcore.lstm_backward(dy, cache)
                lstmcore.gru_backward(dy, gru_cache)  # the cell engine's products, too

        threads = [threading.Thread(target=run) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [lib.get() for lib in _threads._blas()] == [2] * len(_threads._blas())
        with _threads.blas_single_threaded():
            lstmcore.set_num_threads(1)  # inside a held section: applies when it ends
            assert all(lib.get() == 1 for lib in _threads._blas())
            lstmcore.set_num_threads(2)
        assert [lib.get() for lib in _threads._blas()] == [2] * len(_threads._blas())
    finally:
        lstmcore.set_num_threads(before)


@compiled_only
def test_the_two_directions_share_one_kept_thread_and_raise_what_either_raised():
    """run_pair hands its second call to one thread kept between pairs; a pair that finds it busy
    (another Python thread's) starts its own. Either call's exception reaches the caller after
    both end, and leaves the kept thread free for the next pair. Idle, the thread ends."""
    out = run_child(
        """
        import threading, numpy as np, lstmcore
        from lstmcore.engine import _threads

        def kept():
            return [t for t in threading.enumerate() if t.name == "lstmcore-direction" and t.daemon]

        lstmcore.set_num_threads(2)
        assert _threads.run_pair(lambda: 1, lambda: 2) == (1, 2)
        for _ in range(50):
            _threads.run_pair(lambda: None, lambda: None)
        assert len(kept()) == 1, kept()

        def fail(exc):
            def call():
                raise exc
            return call

        for first, second in ((lambda: 0, fail(ValueError("second"))), (fail(KeyError("first")), lambda: 0)):
            try:
                _threads.run_pair(first, second)
            except (ValueError, KeyError):
                pass
            else:
                raise AssertionError("the exception was lost")
            assert not _threads._pair_worker.lock.locked()
        assert _threads.run_pair(lambda: 3, lambda: 4) == (3, 4) and len(kept()) == 1

        # bidirectional layers from 4 Python threads at once: the same results as alone
        rng = np.random.default_rng(0)
        B, T, I, H = 8, 12, 3, 16
        weights = [[(rng.standard_normal(s) * 0.3).astype(np.float32)
                    for s in ((I, 4 * H), (H, 4 * H), (4 * H,))] for _ in range(2)]
        x = rng.standard_normal((B, T, I)).astype(np.float32)
        dy = rng.standard_normal((B, T, 2 * H)).astype(np.float32)

        def bi():
            y, h_n, c_n, cache = lstmcore.stack_forward("lstm", x, weights, bidirectional=True,
                                                        return_cache=True)
            return y, lstmcore.stack_backward(dy, cache)

        y0, g0 = bi()
        errors = []
        start = threading.Barrier(4)

        def same(g):  # one gradient dict per direction
            return len(g) == len(g0) == 2 and all(
                a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in b) for a, b in zip(g, g0))

        def run():
            try:
                start.wait()
                for _ in range(30):
                    y, g = bi()
                    if not np.array_equal(y, y0) or not same(g):
                        errors.append("different result")
            except BaseException as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        assert len(kept()) == 1 and not _threads._pair_worker.lock.locked()

        # idle, it ends (the process single-threaded again); the next pair starts another
        import time
        _threads._pair_worker.idle_s = 0.1
        _threads.run_pair(lambda: 0, lambda: 0)  # the old one, waiting 5 s, takes this pair
        for _ in range(100):
            if not kept():
                break
            time.sleep(0.1)
        assert not kept() and _threads._pair_worker.pid is None
        assert _threads.run_pair(lambda: 5, lambda: 6) == (5, 6) and len(kept()) == 1
        print("ok")
        """,
        timeout=120,
    )
    assert out.stdout.strip() == "ok"


# Fork ----------------------------------------------------------------------------------------------


@compiled_only
@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_a_child_forked_after_a_multithreaded_call_runs_and_agrees(start_method):
    run_child(
        f"""
        import multiprocessing as mp, numpy as np, lstmcore
        from lstmcore.engine import _lstm

        def work(_):
            rng = np.random.default_rng(0)
            x = rng.standard_normal((16, 20, 32)).astype(np.float32)
            w_x = (rng.standard_normal((32, 256)) * 0.1).astype(np.float32)
            w_h = (rng.standard_normal((64, 256)) * 0.1).astype(np.float32)
            b = np.zeros(256, np.float32)
            y, *_ , cache = lstmcore.lstm_forward(x, w_x, w_h, b, return_cache=True)
            g = lstmcore.lstm_backward(np.ones_like(y), cache)
            # the cell engine: 16 rows split between the threads, forward and backward
            w_hg = (rng.standard_normal((64, 192)) * 0.1).astype(np.float32)
            yg, _, cg = lstmcore.gru_forward(x, w_x[:, :192], w_hg, np.zeros((2, 192), np.float32),
                                             return_cache=True)
            gg = lstmcore.gru_backward(np.ones_like(yg), cg)
            # one row: a units split on 2 threads forced (one thread in a forked child)
            from lstmcore.engine import _cells
            _cells._set_plan(units="on")
            yu = lstmcore.gru_forward(x[:1], w_x[:, :192], w_hg, np.zeros((2, 192), np.float32))[0]
            return (np.concatenate([y.ravel(), yg.ravel(), yu.ravel()]),
                    np.concatenate([g["dw_h"].ravel(), gg["dw_h"].ravel()]),
                    lstmcore.threadpool_info()["openmp_thread_cap"])

        if __name__ == "__main__":
            lstmcore.set_num_threads(2)
            _lstm._set_seq_par_min(0)  # every packed sequence on 2 threads, with its barrier
            _lstm._set_packed_limits(0, 1 << 30, 0)
            y, dw, cap = work(0)
            assert cap is None
            with mp.get_context("{start_method}").Pool(2) as pool:
                for y2, dw2, cap2 in pool.map(work, range(4), chunksize=1):
                    assert np.allclose(y, y2, atol=1e-5) and np.allclose(dw, dw2, rtol=1e-4, atol=1e-4)
                    assert cap2 == (1 if "{start_method}" == "fork" else None), cap2
        """,
        timeout=120,
    )


@compiled_only
def test_a_child_forked_after_bidirectional_calls_runs_its_own_direction_thread():
    """The parent's kept direction thread does not exist in a forked child: the child's first pair
    starts its own, and its bidirectional layers agree with the parent's."""
    run_child(
        """
        import os, threading, numpy as np, lstmcore

        rng = np.random.default_rng(0)
        B, T, I, H = 4, 6, 3, 8
        weights = [[(rng.standard_normal(s) * 0.3).astype(np.float64)
                    for s in ((I, 4 * H), (H, 4 * H), (4 * H,))] for _ in range(2)]
        x = rng.standard_normal((B, T, I))
        lstmcore.set_num_threads(2)
        y = lstmcore.stack_forward("lstm", x, weights, bidirectional=True)[0]
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                y2 = lstmcore.stack_forward("lstm", x, weights, bidirectional=True)[0]
                code = 0 if np.array_equal(y, y2) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        """,
        timeout=60,
    )


# Inputs that used to be misread ------------------------------------------------------------------


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_stepper_reads_byte_swapped_input_by_value_and_refuses_integer_arrays(rng, backend):
    mod = BACKENDS[backend]
    p = make_lstm(rng, 2, 3, 4, 5, np.float64, state=False)
    native = mod.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=2)
    swapped = mod.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=2)
    for t in range(3):
        x = p["x"][:, t]
        assert np.array_equal(swapped.step(x.astype(">f8")), native.step(x))
    for bad in (np.ones((2, 4), np.int64), np.ones((2, 4), bool), np.ones((2, 4), np.float32)):
        with pytest.raises(TypeError, match=r"must have dtype float64 \(the dtype of the stepper"):
            native.step(bad)
    with pytest.raises(ValueError, match="batch_size"):
        mod.LSTMStepper(p["w_x"], p["w_h"], p["b"], batch_size=2**31)
    with pytest.raises(TypeError, match="w_x must be a float32 or float64"):
        mod.LSTMStepper(p["w_x"].astype(int), p["w_h"], p["b"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_keeps_nan_on_every_kernel(rng, dtype):
    p = make_lstm(rng, 5, 4, 3, 7, dtype)
    p["x"][1, 2, 0] = np.nan
    expected = reference.lstm_forward(**p, activation="relu", check_finite=False)[0]
    assert np.isnan(expected).any()
    for path in _kernel_plans():
        with path:
            y = lstmcore.lstm_forward(**p, activation="relu", check_finite=False)[0]
        assert np.array_equal(np.isnan(y), np.isnan(expected)), path
        assert_close(np.nan_to_num(y), np.nan_to_num(expected), dtype, f"{path}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overflow_inside_the_cell_is_not_finite_on_every_kernel_where_the_reference_is_not(rng, dtype):
    # inputs that are finite, but whose products overflow the dtype
    big = 2e36 if dtype == np.float32 else 1e306
    p = make_lstm(rng, 4, 3, 4, 5, dtype)
    p["x"] *= dtype(big)
    p["w_x"] *= dtype(1000)
    with np.errstate(all="ignore"):
        expected = reference.lstm_forward(**p, activation="relu")[0]
    assert not np.isfinite(expected).all()
    for path in _kernel_plans():
        with path, np.errstate(all="ignore"):
            y = lstmcore.lstm_forward(**p, activation="relu")[0]
        # No finite value where the reference has none. NaN and inf may trade places, and a
        # kernel may mark more outputs non-finite (its sums run in another order: inf - inf)
        lost = np.isfinite(y) & ~np.isfinite(expected)
        assert not lost.any(), f"{path}: finite where the reference is not, at {np.argwhere(lost)[0]}"
        both = np.isfinite(y) & np.isfinite(expected)
        assert_close(y[both], expected[both], dtype, f"{path}")


class _Plan:
    """Force the kernels' instruction set and the inference path for a block."""

    def __init__(self, isa, packed):
        self.isa, self.packed = isa, packed

    def __enter__(self):
        from lstmcore.engine import _lstm

        self.saved = (_lstm._kernel_isa(), _lstm._packed_limits())
        _lstm._set_kernel_isa(self.isa)
        _lstm._set_packed_limits(*((0, 1 << 30, 0) if self.packed else (1 << 30, 0, 0)))

    def __exit__(self, *exc):
        from lstmcore.engine import _lstm

        _lstm._set_kernel_isa(self.saved[0])
        _lstm._set_packed_limits(*self.saved[1])

    def __repr__(self):
        return f"{self.isa}/{'packed' if self.packed else 'blas'}"


def _kernel_plans():
    if lstmcore.backend != "compiled":
        return [_NoPlan()]
    from lstmcore.engine import _lstm

    return [_Plan(isa, packed) for isa in _lstm._available_isas() for packed in (False, True)]


class _NoPlan:
    def __enter__(self):
        pass

    def __exit__(self, *exc):
        pass


# Memory kept between calls -------------------------------------------------------------------------


def test_release_workspaces_frees_what_the_backward_kept_and_the_limit_bounds_it(rng):
    p = make_lstm(rng, 8, 20, 6, 16, np.float64)
    _, _, _, cache = lstmcore.lstm_forward(**p, return_cache=True)
    dy = np.ones((8, 20, 16))
    first = lstmcore.lstm_backward(dy, cache)
    lstmcore.release_workspaces()
    assert lstmcore.release_workspaces() == 0
    lstmcore.lstm_backward(dy, cache)
    if lstmcore.backend == "compiled":
        assert lstmcore.release_workspaces() >= 20 * 8 * 64 * 8  # dz at least
        previous = lstmcore.set_workspace_limit(0)
        try:
            again = lstmcore.lstm_backward(dy, cache)
            assert lstmcore.release_workspaces() == 0  # nothing was kept
        finally:
            lstmcore.set_workspace_limit(previous)
        for key in first:
            assert np.array_equal(first[key], again[key]), key
    with pytest.raises(ValueError, match="nbytes"):
        lstmcore.set_workspace_limit(-1)
    with pytest.raises(TypeError, match="nbytes"):
        lstmcore.set_workspace_limit(1.5)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's kept memory")
def test_a_cache_keeps_its_memory_while_held_and_gives_it_back_when_dropped(rng):
    """The training forward's cache arrays come from memory the thread kept: never memory that a
    cache alive (or a view of its arrays) still holds, and again once nothing does."""
    p1 = make_lstm(rng, 8, 20, 6, 16, np.float32)
    p2 = make_lstm(rng, 8, 20, 6, 16, np.float32)
    dy = rng.standard_normal((8, 20, 16)).astype(np.float32)
    names = ("x", "gates", "h", "c")
    first = lstmcore.lstm_forward(**p1, return_cache=True)[-1]
    want = lstmcore.lstm_backward(dy, first)
    second = lstmcore.lstm_forward(**p2, return_cache=True)[-1]
    for name in names:
        assert not np.shares_memory(getattr(first, name), getattr(second, name)), name
    again = lstmcore.lstm_backward(dy, first)  # the second forward left the first cache alone
    for key in want:
        assert np.array_equal(again[key], want[key]), key
    where = {name: getattr(second, name).ctypes.data for name in names}
    del second
    third = lstmcore.lstm_forward(**p2, return_cache=True)[-1]
    for name in names:  # the memory of the dropped cache, not new memory
        assert getattr(third, name).ctypes.data == where[name], name
    view = third.gates[3]
    del third, first
    fourth = lstmcore.lstm_forward(**p1, return_cache=True)[-1]
    assert not np.shares_memory(view, fourth.gates)  # a view keeps its cache's memory
    assert lstmcore.release_workspaces() >= fourth.gates.nbytes
    fifth = lstmcore.lstm_forward(**p1, return_cache=True)[-1]
    for key, value in lstmcore.lstm_backward(dy, fifth).items():
        assert np.array_equal(value, want[key]), key


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's kept memory")
def test_the_cell_engines_caches_keep_their_memory_while_held(rng):
    """The same for the GRU's cache (the cell engine's training forward)."""
    B, T, I, H = 6, 12, 5, 16
    x1, x2 = rng.standard_normal((2, B, T, I))
    w_x, w_h = rng.standard_normal((I, 3 * H)) * 0.3, rng.standard_normal((H, 3 * H)) * 0.3
    b = rng.standard_normal((2, 3 * H)) * 0.1
    dy = rng.standard_normal((B, T, H))
    names = ("x", "gates", "h", "extra")
    first = lstmcore.gru_forward(x1, w_x, w_h, b, return_cache=True)[-1]
    want = lstmcore.gru_backward(dy, first)
    second = lstmcore.gru_forward(x2, w_x, w_h, b, return_cache=True)[-1]
    for name in names:
        assert not np.shares_memory(getattr(first, name), getattr(second, name)), name
    for key, value in lstmcore.gru_backward(dy, first).items():
        assert np.array_equal(value, want[key]), key
    where = {name: getattr(second, name).ctypes.data for name in names}
    del second
    third = lstmcore.gru_forward(x2, w_x, w_h, b, return_cache=True)[-1]
    for name in names:
        assert getattr(third, name).ctypes.data == where[name], name


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's kept memory")
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("seq", ["full", "lengths", "mask"])
def test_outputs_come_back_once_dropped_and_never_while_held(rng, cell, seq):
    """A forward's outputs come from memory the thread kept: again once the caller dropped them
    (a loop of predictions), never while they or a view of them are held, on a cache line."""
    B, T, I, H = 6, 9, 5, 8
    G = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
    fn = getattr(lstmcore, f"{cell}_forward")
    w_x, w_h = rng.standard_normal((I, G * H)) * 0.3, rng.standard_normal((H, G * H)) * 0.3
    b = rng.standard_normal((2, G * H) if cell == "gru" else (G * H,)) * 0.1
    xs = rng.standard_normal((4, B, T, I)).astype(np.float32)
    w_x, w_h, b = (a.astype(np.float32) for a in (w_x, w_h, b))
    kw = {
        "full": {},
        "lengths": {"lengths": np.array([9, 3, 1, 9, 5, 2])},
        "mask": {"mask": rng.random((B, T)) < 0.7},
    }[seq]
    want = [fn(x, w_x, w_h, b, **kw)[0].copy() for x in xs]
    lstmcore.release_workspaces()
    y0 = fn(xs[0], w_x, w_h, b, **kw)[0]
    assert y0.ctypes.data % 64 == 0
    held = y0[2]  # a view keeps y0's memory
    where = y0.ctypes.data
    del y0
    y1 = fn(xs[1], w_x, w_h, b, **kw)[0]
    y2 = fn(xs[2], w_x, w_h, b, **kw)[0]  # two held: new memory, not kept
    assert not np.shares_memory(y1, held) and not np.shares_memory(y2, held)
    assert not np.shares_memory(y1, y2)
    np.testing.assert_array_equal(held, want[0][2])
    np.testing.assert_array_equal(y1, want[1])
    del held, y2
    y3 = fn(xs[3], w_x, w_h, b, **kw)[0]
    assert y3.ctypes.data == where  # the dropped outputs' memory
    np.testing.assert_array_equal(y1, want[1])
    np.testing.assert_array_equal(y3, want[3])
    assert lstmcore.release_workspaces() >= y1.nbytes + y3.nbytes


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's kept memory")
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("lengths", [False, True])
def test_a_training_steps_outputs_and_dx_come_back_once_dropped(rng, cell, lengths):
    """The same for the training forward's outputs and the backward's dx: a training loop's next
    step writes them where the last step's were, and never into arrays still held."""
    B, T, I, H = 6, 9, 5, 8
    G = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
    forward, backward = getattr(lstmcore, f"{cell}_forward"), getattr(lstmcore, f"{cell}_backward")
    w_x, w_h = rng.standard_normal((I, G * H)) * 0.3, rng.standard_normal((H, G * H)) * 0.3
    b = rng.standard_normal((2, G * H) if cell == "gru" else (G * H,)) * 0.1
    x, dy = rng.standard_normal((B, T, I)), rng.standard_normal((B, T, H))
    kw = {"lengths": np.array([9, 3, 1, 9, 5, 2])} if lengths else {}

    def step():
        out = forward(x, w_x, w_h, b, return_cache=True, **kw)
        return out[0], backward(dy, out[-1])["dx"]

    y, dx = step()
    want_y, want_dx = y.copy(), dx.copy()
    where = (y.ctypes.data, dx.ctypes.data)
    y2, dx2 = step()  # the first step's arrays held: other memory
    assert not np.shares_memory(y, y2) and not np.shares_memory(dx, dx2)
    del y, dx, y2, dx2
    y3, dx3 = step()
    assert (y3.ctypes.data, dx3.ctypes.data) == where
    np.testing.assert_array_equal(y3, want_y)
    np.testing.assert_array_equal(dx3, want_dx)


def test_kept_memory_that_nothing_holds_gives_way_within_the_limit():
    """Within the workspace limit, what one kind of call kept and nothing holds any more (the
    outputs of inference calls) is dropped for the next kind's arrays (a training step's caches),
    which are then kept in its place; memory still held is never dropped."""
    _lstm = pytest.importorskip("lstmcore.engine._lstm")
    lstmcore.release_workspaces()
    previous = lstmcore.set_workspace_limit(1 << 20)
    try:
        y = _lstm._output_array((87_500,), np.float64)  # 700 kB of the 1 MiB, kept
        del y
        cache = _lstm._cache_array("test.room", (100_000,), np.float64)  # the outputs give way
        cache[:] = 1.0
        y = _lstm._output_array((87_500,), np.float64)  # no room: the cache is held
        y[:] = 2.0
        assert not np.shares_memory(y, cache) and (cache == 1.0).all()
        # kept: the cache's 800 kB (and the 64 bytes that put it on a line), not the outputs
        assert lstmcore.release_workspaces() == (100_000 + 8) * 8
    finally:
        lstmcore.set_workspace_limit(previous)
        lstmcore.release_workspaces()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_weights_and_workspaces_start_on_a_cache_line(dtype):
    # the packed kernels read whole 64-byte vectors of packed weights: one cache line each only
    # where the buffer starts on a line (NumPy's own arrays start 16 bytes apart)
    _lstm = pytest.importorskip("lstmcore.engine._lstm")
    for n in (1, 3, 16, 1000, 70001):
        a = _lstm._aligned_empty(n, dtype)
        assert a.shape == (n,) and a.dtype == dtype and a.flags.c_contiguous
        assert a.ctypes.data % 64 == 0, (n, a.ctypes.data % 64)
        a[:] = 1  # all of it writable
    for shape in [(5, 7), (3, 129, 2)]:
        assert _lstm._scratch(f"test.align{len(shape)}", shape, dtype).ctypes.data % 64 == 0


def test_one_model_predicts_from_many_threads_as_from_one(rng):
    from lstmcore import Sequential
    from lstmcore.layers import LSTM, Dense

    lstmcore.set_random_seed(0)
    model = Sequential([LSTM(16, input_shape=(10, 3), return_sequences=True), LSTM(8), Dense(1)])
    xs = [rng.standard_normal((33, 10, 3)).astype(np.float32) for _ in range(6)]
    expected = [model.predict(x) for x in xs]
    wrong = []
    start = threading.Barrier(len(xs))

    def run(k):
        start.wait()
        for _ in range(20):
            if not np.array_equal(model.predict(xs[k]), expected[k]):
                wrong.append(k)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong


@compiled_only
def test_units_splits_from_many_threads_as_from_one(rng):
    """Python threads each running a single sequence split between 2 OpenMP threads by units
    (each call its own team and barrier): the results of one call alone."""
    from lstmcore.engine import _cells

    x = rng.standard_normal((1, 30, 16)).astype(np.float32)
    w_x = (rng.standard_normal((16, 384)) * 0.2).astype(np.float32)
    w_h = (rng.standard_normal((128, 384)) * 0.1).astype(np.float32)
    b = (rng.standard_normal((2, 384)) * 0.1).astype(np.float32)
    before = (_cells._set_plan(units="on"), lstmcore.get_num_threads())
    lstmcore.set_num_threads(2)
    try:
        assert _cells._unit_split_shares("gru", 1, 30, 16, 128) == 2
        expected = lstmcore.gru_forward(x, w_x, w_h, b)[0]
        wrong = []
        start = threading.Barrier(4)

        def run():
            start.wait()
            for _ in range(50):
                if not np.array_equal(lstmcore.gru_forward(x, w_x, w_h, b)[0], expected):
                    wrong.append(1)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not wrong
    finally:
        _cells._set_plan(**before[0])
        lstmcore.set_num_threads(before[1])


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_sequence_whose_row_strides_overflow_a_c_int_is_refused_before_any_work(backend):
    H = 1024
    x = np.broadcast_to(np.float32(0), (1, 2**19 + 1, 1))  # T * 4H just over 2**31, no memory
    w_x, w_h, b = (
        np.zeros((1, 4 * H), np.float32),
        np.zeros((H, 4 * H), np.float32),
        np.zeros(4 * H, np.float32),
    )
    with pytest.raises(ValueError, match="TG must be below 2"):
        BACKENDS[backend].lstm_forward(x, w_x, w_h, b)


@compiled_only
def test_a_stepper_whose_init_never_ran_raises_instead_of_reading_null_buffers():
    s = lstmcore.LSTMStepper.__new__(lstmcore.LSTMStepper)
    assert "not initialised" in repr(s)
    for call in (lambda: s.step(np.zeros(3)), s.reset, lambda: s.h, lambda: s.c):
        with pytest.raises(RuntimeError, match="not initialised"):
            call()


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_bad_small_argument_is_refused_before_a_large_one_is_copied(backend):
    mod = BACKENDS[backend]
    x = np.broadcast_to(np.float32(0), (2**20, 2**10, 2))  # 8 GiB once made contiguous
    w_x, w_h, b = np.zeros((2, 8), np.float32), np.zeros((2, 8), np.float32), np.zeros(8, np.float32)
    with pytest.raises(ValueError, match=r"h0 must have shape \(1048576, 2\)"):
        mod.lstm_forward(x, w_x, w_h, b, h0=np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="c0 must have dtype float32"):
        mod.lstm_forward(x, w_x, w_h, b, c0=np.zeros((2**20, 2), np.int8))
    with pytest.raises(ValueError, match=r"b must have shape \(8\)"):
        mod.lstm_forward(x[:1, :1], np.broadcast_to(np.float32(0), (2, 8)), w_h, b[:7])


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_none_for_a_required_array_is_a_type_error_not_a_null_pointer(backend):
    mod = BACKENDS[backend]
    x, w = np.zeros((1, 1, 1)), np.zeros((1, 4))
    for call in (
        lambda: mod.lstm_forward(x, w, w, None),
        lambda: mod.lstm_forward(x, None, w, np.zeros(4), return_cache=True),
        lambda: mod.lstm_cell_forward(x[:, 0], w, None, np.zeros(4)),
        lambda: mod.LSTMStepper(w, w, None),
    ):
        with pytest.raises((TypeError, ValueError), match="must have dtype float64|must have shape"):
            call()


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's kept memory")
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("train", [False, True], ids=["inference", "train"])
def test_a_bidirectional_layers_merged_outputs_come_back_once_dropped(rng, cell, train):
    """A bidirectional layer's concatenated output comes from kept memory too (its directions
    write into their halves, or are copied there): again once dropped, never while held; the
    backward's dx, the two directions' summed in place, as before."""
    B, T, I, H = 5, 7, 4, 6
    weights = make_stack_weights(rng, cell, 1, 2, I, H, dtype=np.float32)
    xs = rng.standard_normal((3, B, T, I)).astype(np.float32)
    dy = rng.standard_normal((B, T, 2 * H)).astype(np.float32)

    def call(x):
        out = lstmcore.stack_forward(cell, x, weights, bidirectional=True, return_cache=train)
        return out[0], (lstmcore.stack_backward(dy, out[-1])[0]["dx"] if train else None)

    want = [tuple(None if a is None else a.copy() for a in call(x)) for x in xs]
    ref = [reference.stack_forward(cell, x, weights, bidirectional=True)[0] for x in xs]
    lstmcore.release_workspaces()
    y0, _ = call(xs[0])
    where = y0.ctypes.data
    y1, dx1 = call(xs[1])  # y0 held: other memory
    assert not np.shares_memory(y0, y1)
    np.testing.assert_array_equal(y0, want[0][0])
    del y0
    y2, dx2 = call(xs[2])
    assert y2.ctypes.data == where  # the dropped output's memory
    for (y, dx), (wy, wdx), r in zip([(y1, dx1), (y2, dx2)], want[1:], ref[1:], strict=True):
        np.testing.assert_array_equal(y, wy)
        np.testing.assert_allclose(y, r, rtol=1e-4, atol=1e-5)
        if train:
            np.testing.assert_array_equal(dx, wdx)

"""Thread control: set/get_num_threads, threadpool_info, the environment variables, determinism.

The compiled kernels alternate between BLAS products and OpenMP gate loops. The gate loops are
element-wise (each (row, unit) pair is written by one thread) and the bias row sum gives each
thread whole columns, so lstmcore's own thread count cannot change any result: with the BLAS
pools pinned to 1 thread, 1 and 2 OpenMP threads are compared with assert_array_equal.

BLAS threading is another matter. Checked on OpenBLAS (NumPy/SciPy wheels, 2 cores): with 2
BLAS threads, float64 results are still bit-identical, but sgemm rounds some float32 rows
differently (about 20% of y differs by ~1 ulp, from the first step on), so the end-to-end
1-vs-2-thread comparison uses assert_array_equal for float64 and the helpers.py tolerance for
float32.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import lstmcore.engine._lstm as compiled
import numpy as np
import pytest
from helpers import DTYPES, assert_close, make_lstm

import lstmcore
import lstmcore.reference  # noqa: F401 - read as lstmcore.reference below
from lstmcore.engine import _threads


@pytest.fixture
def restore_threads():
    """Put lstmcore's count and each BLAS pool's own count back as they were."""
    before = lstmcore.get_num_threads()
    blas_before = [(lib, lib.get()) for lib in _threads._blas()]
    try:
        yield before
    finally:
        lstmcore.set_num_threads(before)
        for lib, n in blas_before:
            lib.set(n)


def _counts():
    return sorted({1, 2, _threads.cpu_count()})


def test_round_trip(restore_threads):
    for n in _counts() + [1]:
        lstmcore.set_num_threads(n)
        assert lstmcore.get_num_threads() == n
        assert type(lstmcore.get_num_threads()) is int


def test_accepts_integer_like(restore_threads):
    lstmcore.set_num_threads(np.int64(2))
    assert lstmcore.get_num_threads() == 2
    assert type(lstmcore.get_num_threads()) is int


@pytest.mark.parametrize(
    "value, exc",
    [
        (0, ValueError),
        (-1, ValueError),
        (1.5, TypeError),
        (2.0, TypeError),
        ("2", TypeError),
        (True, TypeError),
        (False, TypeError),
        (None, TypeError),
        (np.float64(2), TypeError),
        (2**31, ValueError),
    ],
    ids=["0", "-1", "1.5", "2.0", "str", "True", "False", "None", "np.float64", "2**31"],
)
def test_bad_values(restore_threads, value, exc):
    lstmcore.set_num_threads(1)
    before = {"lstmcore": 1, "blas": [p["num_threads"] for p in lstmcore.threadpool_info()["blas"]]}
    with pytest.raises(exc, match="n must be"):
        lstmcore.set_num_threads(value)
    # A refused value changes nothing.
    after = {
        "lstmcore": lstmcore.get_num_threads(),
        "blas": [p["num_threads"] for p in lstmcore.threadpool_info()["blas"]],
    }
    assert after == before


def test_threadpool_info_reports_the_set_count(restore_threads):
    for n in _counts():
        lstmcore.set_num_threads(n)
        info = lstmcore.threadpool_info()
        assert info["num_threads"] == n
        assert isinstance(info["openmp"], bool)
        assert info["cpu_count"] == _threads.cpu_count() >= 1
        # SciPy's BLAS is what the kernels call: at least that pool is listed.
        assert info["blas"], "no BLAS pool found"
        for pool in info["blas"]:
            assert set(pool) == {"path", "family", "num_threads", "corename"}
            assert pool["family"] in ("openblas", "mkl_rt", "blis")
            assert pool["num_threads"] == n, pool


def test_openmp_is_compiled_in():
    """The wheel is built with OpenMP (the gate loops are parallel); say so if it is not."""
    assert lstmcore.threadpool_info()["openmp"] is True
    # and it reports what the runtime was loaded with (test_openmp_settings_... checks the choice)
    assert lstmcore.threadpool_info()["openmp_env"] == lstmcore.engine._backend._OPENMP_ENV


def _run_all(x, w_x, w_h, b, h0, c0, dy, activation):
    kw = {"activation": activation}
    y, h_n, c_n = compiled.lstm_forward(x, w_x, w_h, b, h0, c0, **kw)
    ty, th_n, tc_n, cache = compiled.lstm_forward(x, w_x, w_h, b, h0, c0, return_cache=True, **kw)
    grads = compiled.lstm_backward(dy, cache, h0, c0)
    h, c = compiled.lstm_cell_forward(x[:, 0], w_x, w_h, b, h0, c0, **kw)
    return {
        "y": y,
        "h_n": h_n,
        "c_n": c_n,
        "train_y": ty,
        "train_h_n": th_n,
        "train_c_n": tc_n,
        "cell_h": h,
        "cell_c": c,
        **grads,
    }


def _inputs(dtype, B=64, T=5, I=16, H=128):
    """B*H = 8192 >= 4096 engages OpenMP in the gate loops; T*B*G for the bias sum is large too."""
    rng = np.random.default_rng(0)
    a = make_lstm(rng, B, T, I, H, dtype)
    dy = rng.standard_normal((B, T, H)).astype(dtype)
    return a["x"], a["w_x"], a["w_h"], a["b"], a["h0"], a["c0"], dy


# The gate kernels come in instruction-set variants (vector body + scalar tail): a thread split
# moves the tails, so each variant is checked. Older builds have one variant and no switch.
ISAS = compiled._available_isas() if hasattr(compiled, "_available_isas") else (None,)


@pytest.fixture(params=ISAS)
def isa(request):
    if request.param is None:
        yield None
        return
    before = compiled._kernel_isa()
    compiled._set_kernel_isa(request.param)
    try:
        yield request.param
    finally:
        compiled._set_kernel_isa(before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize(
    "shape",
    [(64, 5, 16, 128), (65, 3, 7, 127), (26, 4, 5, 40), (8, 4, 33, 16)],
    ids=["H128", "odd", "B26", "B8"],  # B8: a row split of 6 + 2 rows, one thread's 4 + 4
)
def test_openmp_threads_do_not_change_results(restore_threads, isa, dtype, activation, shape):
    """lstmcore's own OpenMP loops: bit-identical with 1 and 2 threads (BLAS pinned to 1).
    The odd shape (B*H = 8255, H not a multiple of any vector width) moves every tail."""
    for lib in _threads._blas():
        lib.set(1)
    inputs = _inputs(dtype, *shape)
    results = {}
    for n in (1, 2):
        compiled._set_num_threads(n)
        results[n] = _run_all(*inputs, activation=activation)
    for k in results[1]:
        assert results[2][k].dtype == dtype
        np.testing.assert_array_equal(results[2][k], results[1][k], err_msg=k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B", [7, 14, 26, 65])
def test_threads_splitting_rows_of_a_batch_of_lengths_do_not_change_results(restore_threads, isa, dtype, B):
    """A row split with lengths: each thread's rows, a contiguous range sized by their lengths
    (sorted longest first). Every row runs through kernels that sum it as one thread's do, forward
    and backward: bit-identical (BLAS pinned to 1 thread). A thread's range can leave 2 rows at
    the end of a step that one thread runs in a block of 4 (the 2-row kernel sums as the blocks
    do, not alone with even and odd k apart) or 3 (run as 2 and 1, so that only an odd range's
    last row runs alone, as it does on one thread: with AVX-512 a range may start at any even
    row), and the backward cuts its products' blocks where the rows that ran the next step end,
    not where the thread's range does."""
    for lib in _threads._blas():
        lib.set(1)
    x, w_x, w_h, b, h0, c0, dy = _inputs(dtype, B, 9, 5, 40)
    lengths = np.random.default_rng(1).integers(1, 10, size=B)
    results = {}
    for n in (1, 2):
        compiled._set_num_threads(n)
        y, h_n, c_n, cache = compiled.lstm_forward(x, w_x, w_h, b, h0, c0, lengths=lengths, return_cache=True)
        results[n] = {"y": y, "h_n": h_n, "c_n": c_n, **compiled.lstm_backward(dy, cache, h0, c0)}
    for k in results[1]:
        np.testing.assert_array_equal(results[2][k], results[1][k], err_msg=k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_same_result_with_1_and_2_threads(restore_threads, dtype, activation):
    """set_num_threads(1) vs (2): OpenMP and BLAS both. See the module docstring for float32."""
    inputs = _inputs(dtype)
    results = {}
    for n in (1, 2):
        lstmcore.set_num_threads(n)
        results[n] = _run_all(*inputs, activation=activation)
    for k in results[1]:
        assert results[2][k].dtype == dtype
        if dtype == np.float64:
            np.testing.assert_array_equal(results[2][k], results[1][k], err_msg=k)
        else:  # OpenBLAS's threaded sgemm rounds differently
            assert_close(results[2][k], results[1][k], name=k)


# Environment variables, read once at import: each in a fresh interpreter ------------------------


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    # OMP_NUM_THREADS sets lstmcore's count where LSTMCORE_NUM_THREADS is unset (see
    # test_threadpoolctl.py): a value inherited from the caller's environment is dropped too
    full = {k: v for k, v in os.environ.items() if not k.startswith("LSTMCORE_") and k != "OMP_NUM_THREADS"}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120)


INFO = (
    "import json, lstmcore; print(json.dumps({'n': lstmcore.get_num_threads(), "
    "'info': lstmcore.threadpool_info(), 'backend': lstmcore.backend}))"
)


@pytest.mark.parametrize("n", ["1", "2", " 1 "])
def test_env_num_threads(n):
    p = _python(INFO, LSTMCORE_NUM_THREADS=n)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    want = int(n)
    assert out["n"] == want and out["info"]["num_threads"] == want
    assert out["info"]["blas"]
    for pool in out["info"]["blas"]:
        assert pool["num_threads"] == want, pool


def test_env_num_threads_unset_means_all_cores():
    p = _python(INFO)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["n"] == out["info"]["cpu_count"]


@pytest.mark.parametrize("value", ["abc", "1.5", "0", "-2", "two"])
def test_env_num_threads_invalid(value):
    code = (
        "try:\n"
        "    import lstmcore\n"
        "except ValueError as e:\n"
        "    print('ValueError:', e)\n"
        "else:\n"
        "    print('imported, num_threads =', lstmcore.get_num_threads())\n"
    )
    p = _python(code, LSTMCORE_NUM_THREADS=value)
    assert p.returncode == 0, p.stderr  # any other exception type fails here
    assert p.stdout.startswith("ValueError:"), p.stdout
    assert "LSTMCORE_NUM_THREADS" in p.stdout, p.stdout
    assert repr(value) in p.stdout or value in p.stdout, p.stdout


def test_env_backend_reference():
    code = (
        "import numpy as np, lstmcore, lstmcore.reference as ref\n"
        "assert lstmcore.lstm_forward is ref.lstm_forward\n"
        "assert lstmcore.lstm_backward is ref.lstm_backward\n"
        "assert lstmcore.lstm_cell_forward is ref.lstm_cell_forward\n"
        "y, h, c = lstmcore.lstm_forward(np.ones((1, 2, 3)), np.zeros((3, 8)), np.zeros((2, 8)),"
        " np.zeros(8))\n"
        "assert y.shape == (1, 2, 2)\n"
        "print(lstmcore.backend)\n"
    )
    p = _python(code, LSTMCORE_BACKEND="reference")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "reference"


@pytest.mark.parametrize(
    "value, want", [("compiled", "compiled"), ("", "compiled"), (" Reference ", "reference")]
)
def test_env_backend_spellings(value, want):
    p = _python("import lstmcore; print(lstmcore.backend)", LSTMCORE_BACKEND=value)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == want


def test_env_backend_invalid():
    code = "try:\n    import lstmcore\nexcept ValueError as e:\n    print('ValueError:', e)\n"
    p = _python(code, LSTMCORE_BACKEND="fortran")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("ValueError:"), p.stdout
    assert "LSTMCORE_BACKEND" in p.stdout and "fortran" in p.stdout, p.stdout


def test_openmp_settings_leave_the_environment_alone():
    # lstmcore sets OMP_WAIT_POLICY=PASSIVE (and GOMP_SPINCOUNT where the AVX2 or AVX-512 kernels
    # run) only while libgomp loads, and never over the user's choice; _lstm knows whether the
    # workers spin (its BLAS step loops then keep their gate maths on the calling thread).
    code = (
        "import json, os, lstmcore\n"
        "from lstmcore.engine import _backend, _checks, _lstm\n"
        "print(json.dumps([os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'),\n"
        "                  _backend._OPENMP_ENV, _checks.cpu_best_isa(), _lstm._omp_spins()]))\n"
    )
    names = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "LSTMCORE_BACKEND", "LSTMCORE_ISA")
    env = {k: v for k, v in os.environ.items() if k not in names and k != "OMP_NUM_THREADS"}

    def run(**extra):
        p = subprocess.run(
            [sys.executable, "-c", code], env={**env, **extra}, capture_output=True, text=True, timeout=120
        )
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    policy, spin, chosen, best, spins = run()
    assert (policy, spin) == (None, None)
    assert chosen == {"OMP_WAIT_POLICY": "PASSIVE", **({"GOMP_SPINCOUNT": "10000"} if best >= 1 else {})}
    assert spins == (best >= 1)
    # the generic kernels (a CPU without AVX2, or LSTMCORE_ISA=generic) run BLAS products per
    # step: no spin count
    _, _, chosen, _, spins = run(LSTMCORE_ISA="generic")
    assert chosen == {"OMP_WAIT_POLICY": "PASSIVE"} and not spins
    for name, value, spinning in (
        ("OMP_WAIT_POLICY", "ACTIVE", True),
        ("OMP_WAIT_POLICY", "passive", False),
        ("GOMP_SPINCOUNT", "5", True),
        ("GOMP_SPINCOUNT", "0", False),
    ):
        policy, spin, chosen, _, spins = run(**{name: value})
        assert {"OMP_WAIT_POLICY": policy, "GOMP_SPINCOUNT": spin}[name] == value
        assert chosen == {}
        assert spins == spinning, (name, value)


def test_openblas_thread_timeout_is_set_only_while_the_libraries_load():
    # lstmcore loads NumPy's and SciPy's OpenBLAS with OPENBLAS_THREAD_TIMEOUT=20 unless the user
    # set it, and leaves the environment as it found it. The variable is seen by the library as
    # it loads: a child started while it is set would see it too, so check it is gone after.
    code = (
        "import os, sys\n"
        "import lstmcore\n"
        "assert 'numpy' in sys.modules and 'scipy.linalg.cython_blas' in sys.modules\n"
        "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "None"
    p = _python(code, OPENBLAS_THREAD_TIMEOUT="8")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "8"


@pytest.mark.parametrize(
    "first, timeout, spins",
    [
        ("", None, False),  # lstmcore loads SciPy's OpenBLAS itself, with the short spin
        ("import numpy\n", None, False),  # NumPy's own OpenBLAS only: SciPy's is new to lstmcore
        ("import scipy.linalg\n", None, True),  # SciPy's loaded before, with OpenBLAS's default
        ("import scipy.linalg\n", "20", False),  # ... or with the user's short spin
        ("import scipy.linalg\n", "28", True),
    ],
)
def test_blas_spins_where_scipys_openblas_was_loaded_before(first, timeout, spins):
    """_env.BLAS_SPINS: SciPy's OpenBLAS was loaded before lstmcore with a spin past 2^22 cycles
    (Linux, where /proc/self/maps says what is loaded); threadpool_info reports it and the
    engine's rule follows it (_lstm._blas_spins)."""
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("lstmcore reads the loaded libraries from /proc/self/maps")
    code = first + "import json, lstmcore\nprint(json.dumps(lstmcore.threadpool_info()['blas_spins']))\n"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if timeout is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = timeout
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout.strip().splitlines()[-1])
    if lstmcore.backend != "compiled":
        assert got is None
    elif "openblas" not in " ".join(lib["path"] for lib in lstmcore.threadpool_info()["blas"]).lower():
        assert got is False  # another BLAS: nothing known of its spin
    else:
        assert got is spins


def test_spins_long_reads_openblas_thread_timeout():
    from lstmcore.engine import _env

    assert _env._spins_long(None) and _env._spins_long("28") and _env._spins_long("x")
    assert _env._spins_long("0") and _env._spins_long("-3") and not _env._spins_long("4")
    assert not _env._spins_long("20") and not _env._spins_long(" 22 ") and _env._spins_long("23")


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled backend only")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_spinning_blas_keeps_the_training_products_on_lstmcores_kernels(dtype, restore_threads):
    """With SciPy's OpenBLAS counted as spinning (_set_blas_spins), a training step's products after
    the backward loop all run on lstmcore's kernels, whatever the L2 says, and the gradients are
    the reference's; the flag back, the rule's plan again."""
    from lstmcore.engine import _lstm

    lstmcore.set_num_threads(2)
    B, T, I, H = 5, 4, 48, 192  # dw_h 192 x 768: past half of an L2 up to 1 MiB, BLAS by the rule
    x, w_x, w_h, b, h0, c0, dy = _inputs(dtype, B=B, T=T, I=I, H=H)
    item = np.dtype(dtype).itemsize
    before = _lstm._set_blas_spins(True)
    try:
        plan = _lstm._seq_plan(B, T, I, H, item, 2)
        if plan["path"] != "blas":
            assert "blas" not in plan["training"].values()
        *_, cache = lstmcore.lstm_forward(x, w_x, w_h, b, h0=h0, c0=c0, return_cache=True)
        got = lstmcore.lstm_backward(dy, cache)
    finally:
        _lstm._set_blas_spins(before)
    *_, rcache = lstmcore.reference.lstm_forward(x, w_x, w_h, b, h0=h0, c0=c0, return_cache=True)
    expected = lstmcore.reference.lstm_backward(dy, rcache)
    for k in ("dx", "dw_x", "dw_h", "db"):
        assert_close(got[k], expected[k], dtype, name=k)
    assert _lstm._blas_spins() is before
    if not before and plan["path"] != "blas" and _lstm._kernel_isa() != "avx512":
        # the rule's own plan: BLAS for a weight gradient past half the L2
        rule = _lstm._seq_plan(B, T, I, H, item, 2)
        assert (rule["training"]["dw_h"] == "blas") == (H * 4 * H * item > rule["l2"] // 2)


def test_small_backward_gives_the_blas_pools_their_threads_back(restore_threads):
    # A small backward runs its BLAS products on one thread and restores the pools after.
    lstmcore.set_num_threads(2)
    x, w_x, w_h, b, h0, c0, dy = _inputs(np.float32, B=3, T=4, I=2, H=5)
    _, _, _, cache = lstmcore.lstm_forward(x, w_x, w_h, b, h0, c0, return_cache=True)
    grads = lstmcore.lstm_backward(dy, cache)
    assert [p["num_threads"] for p in lstmcore.threadpool_info()["blas"]] == [2] * len(_threads._blas())
    expected = lstmcore.reference.lstm_backward(
        dy, lstmcore.reference.lstm_forward(x, w_x, w_h, b, h0, c0, return_cache=True)[3]
    )
    for k in expected:
        assert_close(grads[k], expected[k], name=k, scale=12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell", ["gru", "gru-v1", "rnn", "lstm-peepholes", "lstm-proj"])
@pytest.mark.parametrize(
    "B, seq",
    [(13, None), (64, None), (37, "lengths"), (40, "lengths-reverse"), (26, "mask"), (19, "dropout")],
)
def test_cell_engine_rows_split_does_not_change_results(restore_threads, isa, dtype, cell, B, seq):
    """The cell engine on several threads: each thread runs its own rows through the whole
    sequence, forward and backward, in shares that start on the packed product's row tiles, so
    each row sums as on one thread: bit-identical forward (inference and training) and backward,
    with lengths, masks (front padding and holes) and recurrent dropout. With lengths, inference
    (x read and y written in the caller's order, step by step) gives the training forward's
    bits, and 0 past each row's length."""
    for lib in _threads._blas():
        lib.set(1)
    rng = np.random.default_rng(2)
    T, I, H = 6, 7, 33
    K = {"gru": 3, "gru-v1": 3, "rnn": 1, "lstm-peepholes": 4, "lstm-proj": 4}[cell]
    P = 9 if cell == "lstm-proj" else H
    x = rng.standard_normal((B, T, I)).astype(dtype)
    w_x = (rng.standard_normal((I, K * H)) * I**-0.5).astype(dtype)
    w_h = (rng.standard_normal((P, K * H)) * P**-0.5).astype(dtype)
    kw = {}
    if seq in ("lengths", "lengths-reverse"):
        kw["lengths"] = rng.integers(1, T + 1, size=B)
        kw["reverse"] = seq == "lengths-reverse"
    elif seq == "mask":
        mask = rng.random((B, T)) < 0.7
        mask[: B // 2, :2] = False  # front padding
        kw["mask"] = mask
    elif seq == "dropout":
        kw["recurrent_mask"] = ((rng.random((B, P)) < 0.8) / 0.8).astype(dtype)
    if cell.startswith("gru"):
        v1 = cell == "gru-v1"
        b = (rng.standard_normal((3 * H) if v1 else (2, 3 * H)) * 0.1).astype(dtype)
        run = functools.partial(lstmcore.gru_forward, x, w_x, w_h, b, reset_after=not v1, **kw)
        back = lstmcore.gru_backward
    elif cell == "rnn":
        b = (rng.standard_normal(H) * 0.1).astype(dtype)
        run = functools.partial(lstmcore.rnn_forward, x, w_x, w_h, b, **kw)
        back = lstmcore.rnn_backward
    else:
        b = (rng.standard_normal(4 * H) * 0.1).astype(dtype)
        if cell == "lstm-proj":
            kw["proj"] = (rng.standard_normal((H, P)) * H**-0.5).astype(dtype)
        else:
            kw["peepholes"] = (rng.standard_normal((3, H)) * 0.1).astype(dtype)
        run = functools.partial(lstmcore.lstm_forward, x, w_x, w_h, b, **kw)
        back = lstmcore.lstm_backward
    dy = rng.standard_normal((B, T, P)).astype(dtype)
    results = {}
    for n in (1, 2):
        compiled._set_num_threads(n)
        out = run()
        train = run(return_cache=True)
        grads = back(dy, train[-1])
        results[n] = [*out, *train[:-1], *(grads[k] for k in sorted(grads))]
        if "lengths" in kw:
            for k in range(len(out)):
                np.testing.assert_array_equal(out[k], train[k], err_msg=f"output {k}")
            for r, n_r in enumerate(kw["lengths"]):
                assert not out[0][r, n_r:].any()
    for a, c in zip(results[1], results[2], strict=True):
        np.testing.assert_array_equal(a, c)


SMALL_TEAM = """
import json, numpy as np, lstmcore
import lstmcore.engine._lstm as compiled
from lstmcore.engine import _cells
rng = np.random.default_rng(3)
B, T, I, H = 19, 6, 7, 33
x = rng.standard_normal((B, T, I)).astype("{dtype}")
w_x = (rng.standard_normal((I, 3 * H)) * 0.3).astype(x.dtype)
w_h = (rng.standard_normal((H, 3 * H)) * 0.2).astype(x.dtype)
b = (rng.standard_normal(3 * H) * 0.1).astype(x.dtype)
b2 = (rng.standard_normal((2, 3 * H)) * 0.1).astype(x.dtype)
w4 = [(rng.standard_normal(s) * 0.2).astype(x.dtype) for s in ((I, 4 * H), (H, 4 * H), (4 * H,))]
dy = rng.standard_normal((B, T, H)).astype(x.dtype)
lengths = rng.integers(1, T + 1, size=B)
peep = (rng.standard_normal((3, H)) * 0.3).astype(x.dtype)
out = {{}}
for n in (1, 2):
    compiled._set_num_threads(n)
    got = []
    for fwd, bwd, ws, kw in [
        (lstmcore.gru_forward, lstmcore.gru_backward, (w_x, w_h, b), dict(reset_after=False)),
        (lstmcore.gru_forward, lstmcore.gru_backward, (w_x, w_h, b2), dict(lengths=lengths)),
        (lstmcore.lstm_forward, lstmcore.lstm_backward, w4, dict(lengths=lengths)),
    ]:
        res = fwd(x, *ws, return_cache=True, **kw)
        grads = bwd(dy, res[-1])
        got += [a.tolist() for a in res[:-1]] + [grads[k].tolist() for k in sorted(grads)]
    # one row on a units split forced: each thread a share of the units, a barrier per step
    _cells._set_plan(units="on")
    assert _cells._unit_split_shares("gru", 1, T, I, H, x.dtype) == n
    got += [a.tolist() for a in lstmcore.gru_forward(x[:1], w_x, w_h, b2)]
    got += [a.tolist() for a in lstmcore.gru_forward(x[:1], w_x, w_h, b, reset_after=False)]
    got += [a.tolist() for a in lstmcore.lstm_forward(x[:1], *w4, peepholes=peep, clip=2.0)]
    _cells._set_plan(units="auto")
    out[n] = got
print(json.dumps(out[1] == out[2]))
"""


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_split_takes_the_team_openmp_gives(dtype):
    """OMP_THREAD_LIMIT=1 gives every parallel region one thread whatever it asks for: a row
    split over 2 threads must then run every share on that one thread (the same results as one
    thread asked for), not leave the second thread's rows unrun; so must a units split its
    shares of the units (and pass its barrier alone)."""
    if not compiled._openmp_enabled():
        pytest.skip("built without OpenMP")
    p = _python(SMALL_TEAM.format(dtype=np.dtype(dtype).name), OMP_THREAD_LIMIT="1")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "true"

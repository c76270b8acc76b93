"""threadpoolctl and OMP_NUM_THREADS reach lstmcore's own threads.

The kernels pass their thread count to every OpenMP region (``num_threads(n)``), so the OpenMP
runtime's ``omp_set_num_threads`` (what threadpoolctl calls for libgomp) does not change it:
lstmcore registers its own threadpoolctl controller (user_api "openmp", internal_api
"lstmcore"), and reads OMP_NUM_THREADS at import where LSTMCORE_NUM_THREADS is unset (joblib's
workers get their share of the cores through it). The environment cases run in a fresh
interpreter, as the variables are read once, at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

import lstmcore  # noqa: E402
from lstmcore.engine import _lstm, _threads  # noqa: E402


@pytest.fixture
def two_threads():
    """lstmcore on 2 threads (1 would not show a limit), the counts put back after."""
    before = lstmcore.get_num_threads()
    blas_before = [(lib, lib.get()) for lib in _threads._blas()]
    lstmcore.set_num_threads(2)
    try:
        yield
    finally:
        lstmcore.set_num_threads(before)
        for lib, n in blas_before:
            lib.set(n)


def _ours(info=None):
    info = threadpoolctl.threadpool_info() if info is None else info
    return [pool for pool in info if pool["internal_api"] == "lstmcore"]


def _blas_counts():
    return [lib.get() for lib in _threads._blas()]


def test_threadpoolctl_lists_lstmcore(two_threads):
    pools = _ours()
    assert len(pools) == 1, pools
    pool = pools[0]
    assert pool["user_api"] == "openmp"
    assert pool["num_threads"] == 2
    assert pool["version"] == lstmcore.__version__
    assert os.path.realpath(pool["filepath"]) == os.path.realpath(_lstm.__file__)
    # registering again changes nothing
    assert _threads._register_threadpoolctl() is True
    assert len(_ours()) == 1


def test_threadpool_limits_limits_lstmcore(two_threads):
    with threadpoolctl.threadpool_limits(1):
        assert lstmcore.get_num_threads() == 1
        assert lstmcore.threadpool_info()["num_threads"] == 1
        assert _ours()[0]["num_threads"] == 1
        assert _blas_counts() == [1] * len(_blas_counts())
    assert lstmcore.get_num_threads() == 2
    assert _blas_counts() == [2] * len(_blas_counts())


def test_openmp_limit_leaves_blas_alone(two_threads):
    # lstmcore's pool is an OpenMP pool: user_api="openmp" limits it, and only it
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert lstmcore.get_num_threads() == 1
        assert _blas_counts() == [2] * len(_blas_counts())
    assert lstmcore.get_num_threads() == 2


def test_blas_limit_leaves_lstmcore_alone(two_threads):
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert lstmcore.get_num_threads() == 2
        assert _blas_counts() == [1] * len(_blas_counts())


def test_controller_select_and_decorator(two_threads):
    controller = threadpoolctl.ThreadpoolController().select(internal_api="lstmcore")
    assert len(controller.lib_controllers) == 1
    with controller.limit(limits=1):
        assert lstmcore.get_num_threads() == 1
    assert lstmcore.get_num_threads() == 2

    @threadpoolctl.threadpool_limits.wrap(limits=1)
    def inner():
        return lstmcore.get_num_threads()

    assert inner() == 1
    assert lstmcore.get_num_threads() == 2


def test_results_under_a_limit(two_threads):
    # a model runs, with the same result (float64: bit-identical, see test_threads.py)
    import numpy as np

    model = lstmcore.Sequential(
        [lstmcore.Input(shape=(5, 3)), lstmcore.LSTM(64), lstmcore.Dense(1)], dtype="float64"
    )
    x = np.random.default_rng(0).standard_normal((80, 5, 3))
    want = model.predict(x)
    with threadpoolctl.threadpool_limits(1):
        got = model.predict(x)
    np.testing.assert_array_equal(got, want)


# Environment variables, read once at import: each in a fresh interpreter ------------------------


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("LSTMCORE_") and k != "OMP_NUM_THREADS"}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120)


COUNT = "import json, lstmcore; print(json.dumps([lstmcore.get_num_threads(), lstmcore.threadpool_info()]))"


@pytest.mark.parametrize("value, want", [("1", 1), (" 3,2 ", 3)])
def test_omp_num_threads_sets_lstmcore(value, want):
    p = _python(COUNT, OMP_NUM_THREADS=value)
    assert p.returncode == 0, p.stderr
    n, info = json.loads(p.stdout)
    assert n == want and info["num_threads"] == want


def test_lstmcore_num_threads_wins_over_omp_num_threads():
    p = _python(COUNT, OMP_NUM_THREADS="1", LSTMCORE_NUM_THREADS="2")
    assert p.returncode == 0, p.stderr
    n, info = json.loads(p.stdout)
    assert n == 2
    assert all(pool["num_threads"] == 2 for pool in info["blas"])


@pytest.mark.parametrize("value", ["abc", "0"])
def test_unusable_omp_num_threads_means_all_cores(value):
    # not lstmcore's variable: a value that is not a count is ignored, as the OpenMP runtime does
    p = _python(COUNT, OMP_NUM_THREADS=value)
    assert p.returncode == 0, p.stderr
    n, info = json.loads(p.stdout)
    assert n == info["cpu_count"]


def test_threadpoolctl_is_optional():
    code = (
        "import sys\n"
        "sys.modules['threadpoolctl'] = None  # as if not installed\n"
        "import lstmcore\n"
        "from lstmcore.engine import _threads\n"
        "print(_threads._controller_class is None, lstmcore.get_num_threads() >= 1)\n"
    )
    p = _python(code)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "True"]


def test_registered_at_import_and_limits_in_a_fresh_process():
    code = (
        "import json, lstmcore, threadpoolctl\n"
        "with threadpoolctl.threadpool_limits(1):\n"
        "    inside = lstmcore.get_num_threads()\n"
        "print(json.dumps([inside, lstmcore.get_num_threads()]))\n"
    )
    p = _python(code, LSTMCORE_NUM_THREADS="2")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == [1, 2]


def test_joblib_workers_get_their_share():
    # joblib's process workers set OMP_NUM_THREADS to cores // n_jobs: lstmcore follows it
    pytest.importorskip("joblib")
    code = (
        "import json\n"
        "from joblib import Parallel, delayed\n"
        "def count():\n"
        "    import os, lstmcore\n"
        "    return os.environ.get('OMP_NUM_THREADS'), lstmcore.get_num_threads()\n"
        "print(json.dumps(Parallel(n_jobs=2)(delayed(count)() for _ in range(2))))\n"
    )
    p = _python(code)
    assert p.returncode == 0, p.stderr
    for omp, n in json.loads(p.stdout):
        assert omp is not None and n == int(omp), (omp, n)

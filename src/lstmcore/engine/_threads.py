"""One thread count for lstmcore: its OpenMP loops and the BLAS pools it calls.

The compiled kernels never run an OpenMP region and a BLAS call at the same time (gate maths and
products alternate), so both pools may use ``n`` threads without oversubscribing ``n`` cores.

The BLAS libraries are found among the shared objects loaded in this process (SciPy's and NumPy's
bundled OpenBLAS, or an MKL / BLIS from another distribution) and driven through their own
``*_set_num_threads`` entry points with ctypes, the same approach as threadpoolctl.

The count at import: ``LSTMCORE_NUM_THREADS``, else ``OMP_NUM_THREADS`` (its first level; joblib's
workers set it to their share of the cores), else the core count. The kernels pass their count to
every OpenMP region (``num_threads(n)``), so ``omp_set_num_threads`` does not reach them; where
threadpoolctl is installed, lstmcore registers a controller for its own pool (user_api "openmp",
internal_api "lstmcore"), so that ``threadpool_limits(n)`` limits it as it limits OpenMP and BLAS.
"""

from __future__ import annotations

import contextlib
import ctypes
import operator
import os
import queue
import sys
import threading
from pathlib import Path

_ENV = "LSTMCORE_NUM_THREADS"
_OMP_ENV = "OMP_NUM_THREADS"
_MAX_THREADS = 4096

# (setter, getter) symbol names per BLAS family, tried in order.
_OPENBLAS = [
    (f"{p}openblas_set_num_threads{s}", f"{p}openblas_get_num_threads{s}")
    for p in ("scipy_", "")
    for s in ("64_", "")
]
_FAMILIES = {
    "openblas": _OPENBLAS,
    "mkl_rt": [("MKL_Set_Num_Threads", "MKL_Get_Max_Threads")],
    "blis": [("bli_thread_set_num_threads", "bli_thread_get_num_threads")],
}


def cpu_count() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _loaded_libraries() -> list[str]:
    """Paths of the shared objects loaded in this process."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if ".so" in line}
        return sorted(p for p in paths if p.endswith(".so") or ".so." in p)
    except OSError:  # pragma: no cover - not Linux: look where the wheels bundle their libraries
        import numpy
        import scipy

        found = []
        for pkg in (numpy, scipy):
            root = Path(pkg.__file__).parent
            libs = root.parent / f"{root.name}.libs"
            for d in (libs, root / ".dylibs", root.parent / f"{root.name}.dylibs"):
                found += [str(p) for p in d.glob("*") if p.is_file()]
        return found


class _BlasLib:
    def __init__(self, path: str, family: str, setter, getter, corename=None):
        self.path, self.family, self._set, self._get = path, family, setter, getter
        self._corename = corename

    def set(self, n: int) -> None:
        self._set(ctypes.c_int(n))

    def get(self) -> int:
        return int(self._get())

    def corename(self) -> str | None:
        """OpenBLAS's kernel set in use ('Haswell', 'SkylakeX', ...; OPENBLAS_CORETYPE forces it)."""
        if self._corename is None:
            return None
        return self._corename().decode(errors="replace")


_blas_libs: list[_BlasLib] | None = None


def _blas() -> list[_BlasLib]:
    global _blas_libs
    if _blas_libs is None:
        import scipy.linalg.cython_blas  # noqa: F401 - make sure the BLAS we call is loaded

        libs = []
        for path in _loaded_libraries():
            name = Path(path).name.lower()
            for family, symbols in _FAMILIES.items():
                if family not in name:
                    continue
                try:
                    lib = ctypes.CDLL(path)
                except OSError:
                    continue
                for set_name, get_name in symbols:
                    if hasattr(lib, set_name) and hasattr(lib, get_name):
                        getter = getattr(lib, get_name)
                        getter.restype = ctypes.c_int
                        core_name = set_name.replace("set_num_threads", "get_corename")
                        corename = getattr(lib, core_name, None) if family == "openblas" else None
                        if corename is not None:
                            corename.restype = ctypes.c_char_p
                        libs.append(_BlasLib(path, family, getattr(lib, set_name), getter, corename))
                        break
        _blas_libs = libs
    return _blas_libs


def _compiled():
    mod = sys.modules.get("lstmcore.engine._lstm")
    if mod is None:
        try:
            from . import _lstm as mod
        except ImportError:
            return None
    return mod


_num_threads = 1

# The BLAS pools are process-wide: calls that hold them to one thread for a while (small backward
# products, see _lstm._backward) may overlap in several Python threads, so the first to enter
# saves the pools' sizes and the last to leave restores them, under one lock. set_num_threads
# during such a section changes what is restored.
_blas_lock = threading.Lock()
_blas_single_depth = 0
_blas_saved: list[int] = []


# Products of fewer multiply-adds than this run faster on one BLAS thread in a call on several
# threads: S1's LSTM training step on 2 threads took 1.0 ms with 2 BLAS threads, 0.67 ms with 1;
# the simple RNN's S1 backward 800 us against 549 (the pool's threads wake, and spin against
# the engine's own team, for products of microseconds).
SMALL_PRODUCTS = 1 << 24


def blas_for_products(nthreads: int, madds: int):
    """A context for the BLAS products of a call on ``nthreads`` threads, ``madds`` multiply-adds
    in all: the pools held to one thread (:func:`blas_single_threaded`) when they are small."""
    if nthreads > 1 and madds < SMALL_PRODUCTS:
        return blas_single_threaded()
    return _NO_CONTEXT


_NO_CONTEXT = contextlib.nullcontext()  # reusable, and reentrant


@contextlib.contextmanager
def blas_single_threaded():
    """Hold the BLAS pools to one thread inside the block (nests and overlaps across threads)."""
    global _blas_single_depth, _blas_saved
    with _blas_lock:
        if _blas_single_depth == 0:
            libs = _blas()
            _blas_saved = [lib.get() for lib in libs]
            for lib in libs:
                lib.set(1)
        _blas_single_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_single_depth -= 1
            if _blas_single_depth == 0:
                for lib, n in zip(_blas(), _blas_saved, strict=True):
                    lib.set(n)


def _check_count(n) -> int:
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    n = operator.index(n)
    if not 1 <= n <= _MAX_THREADS:
        raise ValueError(f"n must be between 1 and {_MAX_THREADS}, got {n}")
    return n


def _set_own_threads(n: int) -> None:
    """Use ``n`` threads in lstmcore's OpenMP loops only (the BLAS pools are left as they are)."""
    global _num_threads
    n = _check_count(n)
    _num_threads = n
    mod = _compiled()
    if mod is not None:
        mod._set_num_threads(n)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in lstmcore's OpenMP loops and in the BLAS libraries it calls."""
    global _blas_saved
    n = _check_count(n)
    _set_own_threads(n)
    with _blas_lock:
        if _blas_single_depth:  # held at 1 for now: restored to n
            _blas_saved = [n] * len(_blas())
        else:
            for lib in _blas():
                lib.set(n)


class _PairWorker:
    """The thread run_pair hands its second call to, kept between calls: starting and joining a
    thread for each pair cost 105 us on a 2-core AMD EPYC VM (run_pair of two empty calls 157 us;
    a bidirectional S1 inference on 2 threads takes about 0.6 ms), and a new thread's kept
    workspaces died with it. One pair uses it at a time (a pair that finds it busy, from another
    Python thread, starts a thread of its own). It ends after ``idle_s`` seconds without a pair,
    so that a process done with bidirectional layers is single-threaded again (fork); a forked
    child starts its own on first use (the parent's does not exist there)."""

    idle_s = 5.0

    def __init__(self):
        self.lock = threading.Lock()  # held by the pair using the worker, and by it as it ends
        self.pid = None  # the process whose worker is alive, or None
        self.jobs = None

    def start(self):
        """(in the pair holding lock) the job queue of a live worker of this process"""
        if self.pid != os.getpid():
            self.jobs = queue.SimpleQueue()
            worker = threading.Thread(
                target=self._serve, args=(self.jobs,), name="lstmcore-direction", daemon=True
            )
            worker.start()
            self.pid = os.getpid()
        return self.jobs

    def _serve(self, jobs):
        while True:
            try:
                job = jobs.get(timeout=self.idle_s)
            except queue.Empty:
                # end, unless a pair holds the lock: its job is on the way (jobs are put under it)
                if self.lock.acquire(blocking=False):
                    try:
                        if jobs.empty():
                            self.pid = None  # the next pair starts another (one at a time)
                            return
                    finally:
                        self.lock.release()
                continue
            _answer(*job)
            del job  # nothing of the last pair held while idle


def _answer(call, reply):
    """reply.put(("ok", call())), or ("error", the exception it raised): for the caller to raise"""
    try:
        reply.put(("ok", call()))
    except BaseException as exc:
        reply.put(("error", exc))


_pair_worker = _PairWorker()


def _after_fork_in_child():
    # the parent's lock may have been held by a pair in another thread at fork
    _pair_worker.lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def run_pair(first, second):
    """``(first(), second())``, two independent calls run at once (the two directions of a
    bidirectional layer), each on half of lstmcore's threads: ``first`` in this thread, ``second``
    in a kept worker thread (_PairWorker), the BLAS pools held to one thread meanwhile. With one
    thread, or without the compiled engine, one after the other. An exception of either is raised
    after both end."""
    mod = _compiled()
    n = _num_threads
    if n < 2 or mod is None or mod._openmp_thread_cap():
        return first(), second()
    half = n // 2

    def other():
        with mod._local_threads(n - half):
            return second()

    reply: queue.SimpleQueue = queue.SimpleQueue()
    kept = _pair_worker.lock.acquire(blocking=False)
    try:
        with blas_single_threaded():
            if kept:
                _pair_worker.start().put((other, reply))
                thread = None
            else:
                thread = threading.Thread(target=_answer, args=(other, reply), name="lstmcore-direction")
                thread.start()
            try:
                with mod._local_threads(half):
                    result = first()
            finally:
                status, value = reply.get()  # both calls end before the pools are restored
                if thread is not None:
                    thread.join()
    finally:
        if kept:
            _pair_worker.lock.release()
    if status == "error":
        raise value
    return result, value


def get_num_threads() -> int:
    """The thread count set by :func:`set_num_threads`, ``LSTMCORE_NUM_THREADS`` or the core count."""
    return _num_threads


def threadpool_info() -> dict:
    """lstmcore's thread count, whether OpenMP is compiled in (and the variables the OpenMP
    runtime was loaded with, see ``_backend``), and each BLAS pool's size."""
    mod = _compiled()
    openmp_env = None
    if mod is not None:
        from . import _backend

        openmp_env = dict(_backend._OPENMP_ENV)
    return {
        "num_threads": _num_threads,
        "openmp": bool(mod is not None and mod._openmp_enabled()),
        "openmp_env": openmp_env,
        "kernel_isa": mod._kernel_isa() if mod is not None else None,
        "openmp_thread_cap": mod._openmp_thread_cap() if mod is not None else None,
        "cpu_count": cpu_count(),
        "blas": [
            {"path": lib.path, "family": lib.family, "num_threads": lib.get(), "corename": lib.corename()}
            for lib in _blas()
        ],
        # SciPy's OpenBLAS loaded before lstmcore with its long spin (_env.BLAS_SPINS): the
        # products of training steps and layers then run on lstmcore's kernels
        "blas_spins": bool(mod._blas_spins()) if mod is not None else None,
    }


def _omp_num_threads() -> int | None:
    """The first level of ``OMP_NUM_THREADS`` ("4" or "4,2"), or None where it is unset or not a
    count (the OpenMP runtime ignores such a value too)."""
    value = os.environ.get(_OMP_ENV, "").split(",")[0].strip()
    try:
        n = int(value)
    except ValueError:
        return None
    return min(n, _MAX_THREADS) if n >= 1 else None


def _init_from_env() -> None:
    """The count at import: ``LSTMCORE_NUM_THREADS`` (lstmcore and the BLAS pools), else
    ``OMP_NUM_THREADS`` or the core count (lstmcore only: the BLAS libraries read their own
    variables, OMP_NUM_THREADS among them); then the threadpoolctl controller."""
    value = os.environ.get(_ENV, "").strip()
    if not value:
        _set_own_threads(_omp_num_threads() or min(cpu_count(), _MAX_THREADS))
    else:
        try:
            n = int(value)
            set_num_threads(n)
        except ValueError:
            raise ValueError(
                f"{_ENV} must be an integer between 1 and {_MAX_THREADS}, got {value!r}"
            ) from None
    _register_threadpoolctl()


# threadpoolctl ------------------------------------------------------------------------------------

_controller_class = None  # the registered LibController subclass, once registered


def _register_threadpoolctl() -> bool:
    """Register lstmcore's pool with threadpoolctl (3.2 or later) where it is installed; returns
    whether it is registered. Without threadpoolctl nothing happens: it is optional. (3.2 matches
    libraries by file name only, so another package's ``_lstm`` module would be listed too.)"""
    global _controller_class
    if _controller_class is not None:
        return True
    mod = _compiled()
    if mod is None:
        return False
    try:
        import threadpoolctl
    except ImportError:
        return False
    base = getattr(threadpoolctl, "LibController", None)
    if base is None or not hasattr(threadpoolctl, "register"):  # threadpoolctl < 3.2
        return False
    name = Path(mod.__file__).name

    class LstmcoreController(base):
        """lstmcore's OpenMP pool: the count every kernel passes to its parallel regions."""

        user_api = "openmp"
        internal_api = "lstmcore"
        # Matched by file name, then by a symbol that only this extension defines (Cython names
        # it after the module's full path), so another package's ``_lstm`` module is not taken.
        filename_prefixes = (name.split(".")[0] + ".",)
        check_symbols = ("__pyx_module_is_main_lstmcore__engine___lstm",)

        def get_num_threads(self):
            return _num_threads

        def set_num_threads(self, num_threads):
            _set_own_threads(num_threads)

        def get_version(self):
            return getattr(sys.modules.get("lstmcore"), "__version__", None)

    threadpoolctl.register(LstmcoreController)
    _controller_class = LstmcoreController
    return True

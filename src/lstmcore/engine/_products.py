"""The layers' matrix products (Dense, TimeDistributed's Dense, Conv1D) through the BLAS that
lstmcore loaded: SciPy's, whose idle workers spin only briefly (``_env``).

NumPy's own OpenBLAS, when NumPy was imported before lstmcore (``import numpy as np`` on a
program's first line), keeps its workers spinning for about 75 ms after each product of several
threads; the engine's OpenMP threads that run next then share their cores with it. Measured on
2 cores, 2 threads, a Keras-style fit of LSTM(128) on (64, 50, 32) batches followed by two
Dense(256) and Dense(1): 513-633 ms an epoch with the Dense products in NumPy's OpenBLAS against
252-351 with lstmcore imported first (or OPENBLAS_THREAD_TIMEOUT=20 set by the user: 350). Where
the operands do not suit BLAS (other dtypes, mixed dtypes, a stored layout BLAS cannot read,
operands that overlap the output, the NumPy reference backend) ``matmul`` is ``np.matmul``.
Where SciPy's OpenBLAS itself was loaded before lstmcore with the long spin (SciPy imported
first, ``_env.BLAS_SPINS``), a product that OpenBLAS would run on several threads goes to
lstmcore's packed kernels instead (``_own``), as the engine's own products do then.
"""

from __future__ import annotations

import numpy as np

from . import _threads

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INT_MAX = 2**31 - 1  # SciPy's BLAS counts in 32-bit ints

_blas = _lstm = None  # the compiled engine's modules, once _engine has found them


def _engine() -> bool:
    """Whether the compiled engine runs (lstmcore.backend), its modules then in _blas and _lstm:
    looked up at the first product, after lstmcore chose its backend and loaded the engine with
    its OpenMP settings (_backend: importing _lstm here, before that, would load the OpenMP runtime
    without them)."""
    global _blas, _lstm
    if _lstm is None:
        import lstmcore

        if getattr(lstmcore, "backend", None) != "compiled":
            return False
        from . import _blas, _lstm
    return True


_VECTOR_BYTES = {"avx512": 64, "avx2": 32, "generic": 16}


def vector_lanes(dtype) -> int:
    """The lanes of lstmcore's kernels' vectors on this machine in ``dtype`` (float32: 16 with
    AVX-512, 8 with AVX2, 4 with the generic kernels' 16 bytes; float64 half of each; AVX2's
    without the compiled engine)."""
    mod = _threads._compiled()
    isa = mod._kernel_isa() if mod is not None else "avx2"
    return max(1, _VECTOR_BYTES.get(isa, 32) // np.dtype(dtype).itemsize)


# OpenBLAS runs a product on several threads from M*N*K = 4 * 65536 (its GEMM_MULTITHREAD_THRESHOLD
# times SMP_THRESHOLD_MIN); below that its workers are not woken, and do not spin after it.
_THREADED_MNK = 4 * 65536


def matmul(a, b, out=None):
    """``a @ b`` for a (..., k) and b (k, n), into ``out`` (..., n) when given: np.matmul's
    results (within rounding) and errors, through SciPy's BLAS where it can."""
    a, b = np.asarray(a), np.asarray(b)
    if not _suits(a, b, out):
        return np.matmul(a, b, out=out)
    n = b.shape[1]
    if a.ndim > 2 and not a.flags.c_contiguous:
        return np.matmul(a, b, out=out)
    rows = a.reshape(-1, a.shape[-1])
    result = np.empty((*a.shape[:-1], n), dtype=a.dtype) if out is None else out
    if not (_own(rows, b, result.reshape(-1, n)) or _blas._matmul(rows, b, result.reshape(-1, n))):
        return np.matmul(a, b, out=out)
    return result


def _own(rows: np.ndarray, b: np.ndarray, out: np.ndarray) -> bool:
    """out (M, N) = rows (M, K) @ b (K, N) on lstmcore's packed kernels (whose threads sleep at
    once) where SciPy's OpenBLAS was loaded with its long spin (_lstm._blas_spins) and would run
    the product on several threads; True when done, False where BLAS is left to do it."""
    threads = _threads.get_num_threads()
    M, K = rows.shape
    N = b.shape[1]
    if not _lstm._blas_spins() or threads < 2 or M * K * N <= _THREADED_MNK:
        return False
    if b.T.flags.c_contiguous and _row_major(rows):  # rows @ w.T, w (N, K): Dense's dx
        _lstm._products_nt(rows, b.T, out, True, threads)
    elif rows.T.flags.c_contiguous and _row_major(b):  # x.T @ b: Dense's kernel gradient
        out[...] = 0
        _lstm._products_tn(rows.T, b, out, True, threads)
    elif _row_major(rows):  # rows @ b: Dense's forward (b.T packed once)
        _lstm._products_nt(rows, np.ascontiguousarray(b.T), out, True, threads)
    else:
        return False
    return True


def _row_major(a: np.ndarray) -> bool:
    """Whether 2-D ``a`` has contiguous rows, each after the one before (what the packed kernels
    read: _lstm._ld)."""
    rows, cols = a.shape
    item = a.itemsize
    return (cols <= 1 or a.strides[1] == item) and (rows <= 1 or a.strides[0] >= max(cols, 1) * item)


def matmul_groups(a, b):
    """``np.matmul(a, b)`` for a (G, N, K) and b (G, K, M): one product per group (Conv1D's
    groups), each through SciPy's BLAS where it can."""
    a, b = np.asarray(a), np.asarray(b)
    if (
        a.ndim != 3
        or b.ndim != 3
        or a.shape[0] != b.shape[0]
        or a.shape[0] == 0
        or not _suits(a[0], b[0], None)
    ):
        return np.matmul(a, b)
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=a.dtype)
    for g in range(a.shape[0]):
        if not (_own(a[g], b[g], out[g]) or _blas._matmul(a[g], b[g], out[g])):
            return np.matmul(a, b)
    return out


def matmul_batched(a, b, out=None):
    """``np.matmul(a, b)`` for a (..., m, k) and b (..., k, n) of the same leading axes (one or
    two: an attention layer's batch and heads), views of any strides: each product on one of
    lstmcore's threads on its packed kernels, no copy of transposed operands whose rows (or, for
    b, columns) are contiguous (others copied); np.matmul for other dtypes and on the reference
    backend. Small products through BLAS one by one (matmul_groups) spent more time in the calls
    than in the products: a 4-head attention on (64, 100, 8), (100 x 32) @ (32 x 100) per head,
    256 calls of about 22 us. ``out``: a view of the result's shape whose rows are contiguous
    (the heads' outputs written into (B, T, heads, width) in place), written and returned."""
    a, b = np.asarray(a), np.asarray(b)
    if out is not None:
        shape = (*a.shape[:-1], b.shape[-1])
        if not (isinstance(out, np.ndarray) and out.shape == shape and out.dtype == a.dtype):
            raise ValueError(f"out must be a {a.dtype} array of shape {shape}, got {np.shape(out)}")
        if a.ndim == 4 and b.dtype == a.dtype and a.dtype in _FLOATS and _engine():
            try:
                return _cells()._batched_matmul(*_batched_layouts(a, b), out)
            except ValueError:
                pass
        out[...] = matmul_batched(a, b)
        return out
    lead = a.shape[:-2]
    if (
        a.ndim not in (3, 4)
        or b.ndim != a.ndim
        or b.shape[:-2] != lead
        or a.shape[-1] != b.shape[-2]
        or a.dtype not in _FLOATS
        or b.dtype != a.dtype
        or not _engine()
    ):
        return np.matmul(a, b)
    a, b = _batched_layouts(a, b)
    a4, b4 = (a, b) if a.ndim == 4 else (a[None], b[None])
    out = np.empty((*a4.shape[:-1], b.shape[-1]), dtype=a.dtype)
    try:
        _cells()._batched_matmul(a4, b4, out)
    except ValueError:  # a layout the kernels do not read (strides of part elements)
        return np.matmul(a, b)
    return out if a.ndim == 4 else out[0]


def _batched_layouts(a, b):
    """a and b as _batched_matmul reads them (their rows or their columns contiguous): each as it
    is where it can, else a contiguous copy."""

    def readable(x):
        item, (m, n) = x.itemsize, x.shape[-2:]
        if x.strides[-1] == item or n == 1 or x.strides[-2] == item or m == 1:
            return x
        return np.ascontiguousarray(x)

    return readable(a), readable(b)


def _suits(a: np.ndarray, b: np.ndarray, out) -> bool:
    """Whether a @ b can go to _blas._matmul: float operands of one dtype, a (..., k) and b (k, n)
    of nonzero sizes within BLAS's ints, ``out`` None or C-contiguous (..., n) of that dtype and
    apart from both."""
    if a.ndim < 2 or b.ndim != 2 or a.dtype not in _FLOATS or b.dtype != a.dtype:
        return False
    k, n = b.shape
    rows = a.size // k if k else 0
    if a.shape[-1] != k or 0 in (rows, k, n) or max(rows, k, n) > _INT_MAX or not _engine():
        return False
    if out is None:
        return True
    return (
        isinstance(out, np.ndarray)
        and out.dtype == a.dtype
        and out.shape == (*a.shape[:-1], n)
        and out.flags.c_contiguous
        and out.flags.writeable
        and not np.may_share_memory(out, a)
        and not np.may_share_memory(out, b)
    )


# Window products: a 1-D convolution's im2col without its copies --------------------------------
#
# A convolution's output step m reads span consecutive input steps from step m*stride (dilation
# 1): in a buffer of rows of C numbers those are span*C consecutive numbers, and the windows of
# consecutive outputs overlap, stride*C numbers apart. window_rows lays a batch out so that one
# such buffer serves all its rows: each batch row in a block of R*stride steps, its windows the
# rows b*R + m of one (B*R, span*C) matrix whose rows overlap (R - rows of them past each block's
# outputs: computed and dropped). lstmcore's packed kernels read it in place (their rows any
# distance apart); BLAS cannot take rows nearer than their length. Measured on 2 cores (AVX2),
# float32, B = 128, k = 7, a Conv1D's forward and backward: 144 x 32 -> 16, strides 2: 7.4 ms by
# im2col and BLAS against 3.0; 72 x 16 -> 16: 6.6 against 2.0.


def window_rows(x, stride: int, left: int, rows: int, span: int):
    """x (B, T, C) laid out for ``rows`` windows of ``span`` steps, ``stride`` steps apart, a block
    per batch row: x's step t at the block's step t + left, zeros elsewhere, and no step past the
    last window's reach (the dropped rows' windows see zeros or the next block's steps). Returns
    (buf, R): buf 1-D, the windows row b*R + m from its number (b*R + m)*stride*C, R >= rows."""
    B, T, C = x.shape
    if min(stride, span, rows) < 1:
        raise ValueError(f"stride, span and rows must be >= 1, got {stride}, {span}, {rows}")
    R = max(rows, rows - 1 + -(-span // stride))
    block = R * stride
    buf = np.zeros(B * block * C + max(0, span - stride) * C, dtype=x.dtype)
    reach = (rows - 1) * stride + span  # the steps of a block the kept windows read
    t0, t1 = max(0, -left), min(T, reach - left)
    if t1 > t0:
        buf[: B * block * C].reshape(B, block, C)[:, left + t0 : left + t1] = x[:, t0:t1]
    return buf, R


def _windows(buf, rows: int, step: int, K: int, offset: int = 0):
    """The (rows, K) matrix of buf's windows from ``offset``: row r is buf[offset + r*step :
    offset + r*step + K]."""
    if not (isinstance(buf, np.ndarray) and buf.ndim == 1 and buf.flags.c_contiguous):
        raise ValueError("buf must be a contiguous 1-D array (window_rows)")
    if min(rows, step, K) < 1 or offset + (rows - 1) * step + K > buf.size:
        raise ValueError(
            f"{rows} windows of {K} numbers {step} apart from {offset} need "
            f"{offset + (rows - 1) * step + K} numbers, buf holds {buf.size}"
        )
    strides = (step * buf.itemsize, buf.itemsize)
    return np.lib.stride_tricks.as_strided(buf[offset:], (rows, K), strides, writeable=False)


def _window_pieces(buf, rows: int, step: int, K: int, taps: int, gap: int):
    """The windows of K numbers as ``taps`` (rows, K / taps) matrices ``gap`` apart (a dilated
    convolution's taps), one matrix where the pieces touch; ValueError if K does not split."""
    if taps < 1 or K % taps or (taps > 1 and gap < 1):
        raise ValueError(f"a window of {K} numbers cannot be {taps} taps {gap} apart")
    if taps == 1 or gap == K // taps:
        return [_windows(buf, rows, step, K)]
    return [_windows(buf, rows, step, K // taps, j * gap) for j in range(taps)]


def window_matmul(buf, rows: int, step: int, w, taps: int = 1, gap: int = 0):
    """(rows, N) = the windows of buf @ w (K, N): row r of the windows is buf[r*step : r*step +
    K], or, in ``taps`` pieces of K / taps numbers ``gap`` apart (a convolution dilated by d: its
    k taps d*C apart), those pieces one after the other."""
    w = np.asarray(w)
    if w.ndim != 2 or not isinstance(buf, np.ndarray) or w.dtype != buf.dtype or w.dtype not in _FLOATS:
        raise ValueError(f"w must be a 2-D array of buf's float dtype, got {w.dtype} {w.shape}")
    pieces = _window_pieces(buf, rows, step, w.shape[0], taps, gap)
    Kt = pieces[0].shape[1]
    engine = _engine() and rows <= _INT_MAX and w.size
    out = None
    for j, a in enumerate(pieces):
        wj = w[j * Kt : (j + 1) * Kt]
        if engine:
            out = _cells()._packed_matmul(a, wj, out=out)
        else:
            out = np.matmul(a, wj) if out is None else out + np.matmul(a, wj)
    return out


def window_matmul_tn(buf, rows: int, step: int, d, out, taps: int = 1, gap: int = 0):
    """out (K, N) = the windows of buf (as window_matmul's, ``taps`` pieces ``gap`` apart).T @ d
    (rows, N)."""
    if not (
        isinstance(d, np.ndarray)
        and isinstance(out, np.ndarray)
        and d.shape == (rows, out.shape[1])
        and d.dtype == out.dtype == buf.dtype
        and out.flags.c_contiguous
    ):
        raise ValueError(
            f"expected d ({rows}, N) and a contiguous out (K, N) of buf's dtype, got "
            f"{np.shape(d)} and {np.shape(out)}"
        )
    pieces = _window_pieces(buf, rows, step, out.shape[0], taps, gap)
    Kt = pieces[0].shape[1]
    if _engine() and out.dtype in _FLOATS and out.size:
        out[...] = 0
        d = np.ascontiguousarray(d)
        for j, a in enumerate(pieces):
            _lstm._products_tn(a, d, out[j * Kt : (j + 1) * Kt], True, _threads.get_num_threads())
    else:
        for j, a in enumerate(pieces):
            np.matmul(a.T, d, out=out[j * Kt : (j + 1) * Kt])
    return out


# The attention layers' softmax over rows -----------------------------------------------------


def softmax_rows(s):
    """The softmax over the last axis of float s: the engine's vector loop (lc_softmax_rows: one
    pass for the max, one for e and its sum, one scaling; the rows on lstmcore's threads), NumPy's
    formula on the reference backend. Float32, (64, 4, 100, 100) on 2 threads: NumPy 7.4 ms (its
    exp alone 4.6), PyTorch's softmax 2.2."""
    s = np.asarray(s)
    if s.dtype in _FLOATS and s.ndim and s.shape[-1] and _engine():
        return _cells()._softmax_rows(s)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def softmax_rows_backward(y, dy):
    """The softmax's input gradient from its output y and output gradient dy, over the last axis:
    y * (dy - sum(dy * y))."""
    y, dy = np.asarray(y), np.asarray(dy)
    same = dy.dtype == y.dtype and y.shape == dy.shape
    if same and y.dtype in _FLOATS and y.ndim and y.shape[-1] and _engine():
        return _cells()._softmax_rows_backward(y, dy)
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


# Dropout masks: a counter-based generator ------------------------------------------------------

_MIX1, _MIX2 = np.uint32(0x7FEB352D), np.uint32(0x846CA68B)


def _mix32(x):
    """Wellons's "lowbias32" mixer on uint32 arrays (lc_dropout_mask's, bit for bit)."""
    x = x ^ (x >> np.uint32(16))
    x = x * _MIX1
    x = x ^ (x >> np.uint32(15))
    x = x * _MIX2
    return x ^ (x >> np.uint32(16))


def dropout_mask(shape, rate: float, dtype, seed: int):
    """Keras's inverted dropout mask of ``shape``: 1 / (1 - rate) where kept, 0 where dropped,
    each element kept where 32 bits hashed from (seed, its flat index) reach rate * 2^32: the
    elements independent of each other, so that the compiled kernel (lc_dropout_mask) fills them
    on lstmcore's threads, vectorized, and NumPy here gives the same mask (the reference
    backend). Drawn with NumPy's generator (rng.random(shape) >= rate) a (64, 4, 100, 100) mask
    took 9-14 ms, most of a 4-head attention's forward in training."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    threshold = min(2**32 - 1, int(np.ceil(rate * 2**32)))
    scale = dtype.type(1) / dtype.type(1 - rate)
    seed = int(seed) % 2**64
    if _engine() and dtype in _FLOATS:
        return _cells()._dropout_mask(n, seed, threshold, scale, dtype).reshape(shape)
    i = np.arange(n, dtype=np.uint64)
    lo, hi = (i & np.uint64(0xFFFFFFFF)).astype(np.uint32), (i >> np.uint64(32)).astype(np.uint32)
    s0, s1 = np.uint32(seed & 0xFFFFFFFF), np.uint32(seed >> 32)
    with np.errstate(over="ignore"):
        u = _mix32(_mix32(lo + s0) ^ (s1 ^ _mix32(hi)))
    return np.where(u >= np.uint32(threshold), scale, dtype.type(0)).astype(dtype).reshape(shape)


def _cells():
    from . import _cells

    return _cells

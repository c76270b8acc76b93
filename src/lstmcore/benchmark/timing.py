"""Timing: thread settings, interleaved rounds, ratios and the machine's measured GEMM peak."""

import gc
import math
import sys
import time

import numpy as np

import lstmcore

from .problems import INSTRUMENTS, case_flops

# Timing: a peer whose call is shorter than this runs several calls per round, timed together.
_ROUND_TARGET_S = 1e-3
_MAX_CALLS_PER_ROUND = 1000

# Threads ----------------------------------------------------------------------------------------


def set_threads(n: int) -> None:
    """``n`` threads for every peer that has a global setting: lstmcore's OpenMP loops and every
    BLAS pool (``lstmcore.set_num_threads``), and torch's intra-op pool when torch is imported.
    (ONNX Runtime takes its thread count per session: one session per count.)"""
    lstmcore.set_num_threads(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def _get_threads() -> tuple:
    torch = sys.modules.get("torch")
    return lstmcore.get_num_threads(), (torch.get_num_threads() if torch is not None else None)


def _restore_threads(saved) -> None:
    lstmcore.set_num_threads(saved[0])
    torch = sys.modules.get("torch")
    if torch is not None and saved[1] is not None:
        torch.set_num_threads(saved[1])


# Timing -----------------------------------------------------------------------------------------


def _estimate(fn) -> float:
    """Warm ``fn`` up (page faults, thread pools, caches) and return a typical call's seconds."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    if first > 0.25:
        return first
    times, start = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < 0.02 and len(times) < 200):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def time_interleaved(
    fns: dict,
    seconds: float = 1.5,
    min_rounds: int = 5,
    max_rounds: int = 2000,
    round_target_s: float = _ROUND_TARGET_S,
    warmup_calls: int = 0,
    sparse=(),
    switch=None,
) -> dict:
    """Time the zero-argument callables ``fns`` ({name: fn}) in interleaved rounds.

    Each is warmed up first. A round runs every callable once, in an order that rotates from round
    to round, with the garbage collector off; a callable faster than ``round_target_s`` (1 ms)
    runs a batch of calls, timed together and divided. ``warmup_calls`` more calls, untimed, go
    before each batch: the steady state of a callable that follows another (thread pools awake,
    caches refilled; lstmcore tune uses it). Rounds go on until ``seconds`` have passed and at least
    ``min_rounds`` are done, or ``max_rounds`` are. ``sparse``: names of callables (an
    instrument, such as the GEMM peak's product) timed in round 0 and every k-th round only, k
    from the estimates so that they take about a quarter of the time while the others still get
    their rounds (at least 5 of theirs each in the expected rounds). ``switch``: {name: (enter,
    leave)}, zero-argument callables run before and after each of that callable's batches (and
    its warm-up), outside the timed part: lstmcore-1t's switch to one thread and back. Returns
    {name: stats}, seconds per call: median_s, min_s, q1_s, q3_s, iqr_s, rounds, calls_per_round,
    times_s (one per round in which it ran).
    """
    if not fns:
        raise ValueError("fns must hold at least one callable, got none")
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    if min_rounds < 1 or max_rounds < min_rounds:
        raise ValueError(f"need 1 <= min_rounds <= max_rounds, got {min_rounds} and {max_rounds}")
    names = list(fns)
    switch = switch or {}
    nothing = (_nothing, _nothing)
    calls, est = {}, {}
    for name in names:
        enter, leave = switch.get(name, nothing)
        enter()
        try:
            est[name] = _estimate(fns[name])
        finally:
            leave()
        calls[name] = max(1, min(_MAX_CALLS_PER_ROUND, math.ceil(round_target_s / max(est[name], 1e-9))))
    every = dict.fromkeys(names, 1)
    dense_s = sum(est[n] * calls[n] for n in names if n not in sparse)
    for name in (n for n in names if n in sparse and dense_s > 0):
        share = math.ceil(3 * est[name] * calls[name] / dense_s)  # a quarter of a round's time
        every[name] = max(1, min(share, int(seconds / dense_s) // 5))
    times = {name: [] for name in names}
    clock = time.perf_counter_ns
    start = time.perf_counter()
    rounds = 0
    while rounds < min_rounds or (time.perf_counter() - start < seconds and rounds < max_rounds):
        order = names[rounds % len(names) :] + names[: rounds % len(names)]
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for name in order:
                if rounds % every[name]:
                    continue
                fn, n = fns[name], calls[name]
                enter, leave = switch.get(name, nothing)
                enter()
                try:
                    for _ in range(warmup_calls):
                        fn()
                    t0 = clock()
                    for _ in range(n):
                        fn()
                    times[name].append((clock() - t0) * 1e-9 / n)
                finally:
                    leave()
        finally:
            if gc_was_enabled:
                gc.enable()
        rounds += 1
    return {name: round_stats(times[name], calls[name]) for name in names}


def _nothing() -> None:
    pass


def round_stats(times, calls_per_round: int) -> dict:
    """The statistics of one callable's rounds (seconds per call, one per round): median_s, min_s,
    q1_s, q3_s, iqr_s, rounds, calls_per_round, times_s."""
    t = np.asarray(times, dtype=float)
    q1, med, q3 = np.percentile(t, [25, 50, 75])
    return {
        "median_s": float(med),
        "min_s": float(t.min()),
        "q1_s": float(q1),
        "q3_s": float(q3),
        "iqr_s": float(q3 - q1),
        "rounds": int(t.size),
        "calls_per_round": calls_per_round,
        "times_s": [float(v) for v in t],
    }


# Peers whose ratio is lstmcore over them, not them over lstmcore: the GEMM-only bound, and lstmcore on
# the same batch at full length (lstmcore/lstmcore-full: the share of the full-length time that a
# batch of lengths takes).
_UNDER = ("bound", "lstmcore-full")


def _ratio_names(peers: dict) -> list:
    """(ratio, peer, over) for each ratio of a case: peer/lstmcore (``over``: the peer's time over
    lstmcore's) for every peer but lstmcore, lstmcore-full and the instruments, then
    lstmcore/bound and lstmcore/lstmcore-full (_UNDER); none without lstmcore."""
    if "lstmcore" not in peers:
        return []
    out = [(f"{n}/lstmcore", n, True) for n in peers if n not in ("lstmcore", "lstmcore-full", *INSTRUMENTS)]
    return out + [(f"lstmcore/{n}", n, False) for n in _UNDER if n in peers]


def _ratio(ours: float, theirs: float, over: bool) -> float:
    return theirs / ours if over else ours / theirs


def _ratios(peers: dict) -> dict:
    """peer/lstmcore for every peer (above 1: lstmcore is faster), lstmcore/bound and
    lstmcore/lstmcore-full (_ratio_names), of the medians."""
    names = _ratio_names(peers)
    ours = peers["lstmcore"]["median_s"] if names else None
    return {key: _ratio(ours, peers[n]["median_s"], over) for key, n, over in names}


# A ratio's spread: the ratio in each of this many parts of a case's time, each part's medians
# taken side by side: the bursts of the processes in turn (isolation), or a peer's rounds in one
# process cut into this many runs of consecutive rounds (round i of every peer ran in the same
# round). On a shared machine whose speed drifts, a ratio whose parts lie on both sides of its
# goal was not measured to meet or miss it.
SPREAD_PARTS = 4


def _parts(stats: dict) -> list | None:
    """A peer's medians per part of the case's time, in time order (SPREAD_PARTS): its bursts'
    (``burst_medians_s``), else its rounds' cut into SPREAD_PARTS runs; None with fewer rounds."""
    if stats.get("burst_medians_s"):
        return list(stats["burst_medians_s"])
    times = stats.get("times_s") or []
    if len(times) < SPREAD_PARTS:
        return None
    return [float(np.median(p)) for p in np.array_split(np.asarray(times, dtype=float), SPREAD_PARTS)]


def _spreads(peers: dict) -> dict:
    """[lowest, highest] of each ratio of :func:`_ratios` over the parts of the case's time
    (SPREAD_PARTS), for the peers whose parts line up with lstmcore's (as many parts)."""
    names = _ratio_names(peers)
    ours = _parts(peers["lstmcore"]) if names else None
    out = {}
    for key, n, over in names if ours is not None else ():
        theirs = _parts(peers[n])
        if theirs is not None and len(theirs) == len(ours):
            parts = [_ratio(a, b, over) for a, b in zip(ours, theirs, strict=True)]
            out[key] = [float(min(parts)), float(max(parts))]
    return out


# The side of a square product that measures the GEMM peak (DESIGN.md section 4: "a large square
# sgemm"), up front for the run and beside each case (the gemm-peak peer).
PEAK_N = 1536


def gemm_peak_call(dtype=np.float32, n: int = PEAK_N) -> tuple:
    """``(fn, flop)``: one product of two (n, n) matrices through SciPy's BLAS (the one lstmcore
    calls) into an output kept between calls (no fresh pages timed), and its operations."""
    from scipy.linalg import blas

    dtype = np.dtype(dtype)
    gemm = blas.sgemm if dtype == np.float32 else blas.dgemm
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((n, n)).astype(dtype))
    b = np.asfortranarray(rng.standard_normal((n, n)).astype(dtype))
    c = np.zeros((n, n), dtype=dtype, order="F")

    def fn():
        gemm(1.0, a, b, 0.0, c, overwrite_c=1)

    return fn, 2.0 * n**3


def measure_gemm_peak(threads: int, dtype=np.float32, n: int = PEAK_N, repeats: int = 3) -> float:
    """GFLOP/s of the best of ``repeats`` products of two (n, n) matrices
    (:func:`gemm_peak_call`) with ``threads`` threads: the machine's measured GEMM peak, once
    for the run (each case also times the same product beside lstmcore: the gemm-peak peer)."""
    fn, flop = gemm_peak_call(dtype, n)
    saved = _get_threads()
    try:
        set_threads(threads)
        fn()  # warm-up: pools started, pages touched
        best = min(_time_once(fn) for _ in range(repeats))
    finally:
        _restore_threads(saved)
    return flop / best / 1e9


def _time_once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _with_peak_share(case: dict, peak_gflops: float | None) -> dict:
    """``case`` with lstmcore's GFLOP/s and share of the GEMM peak (None without either): the
    peak timed beside it (the gemm-peak peer's median) where the case has it, else
    ``peak_gflops``, the run's; ``peak_beside`` says which."""
    gflop = case_flops(case["cell"], case["dims"], case["kind"]) / 1e9
    lc = case["peers"].get("lstmcore")
    gflops = gflop / lc["median_s"] if lc else None
    probe = case["peers"].get("gemm-peak")
    if probe is not None:
        peak_gflops = 2.0 * PEAK_N**3 / probe["median_s"] / 1e9
    share = gflops / peak_gflops if gflops is not None and peak_gflops else None
    return dict(
        case,
        gflop=gflop,
        lstmcore_gflops=gflops,
        peak_gflops=peak_gflops,
        peak_share=share,
        peak_beside=probe is not None,
    )

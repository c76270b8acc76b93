"""``lstmcore tune``: time the plain LSTM's candidate plans on this machine and keep the winners.

For each shape (B, T, I, H), dtype and thread count, every candidate plan (lstmcore.engine._tuned
names the choices: BLAS or the packed kernels, one thread or all, rows or panels split between
them, 6- or 4-row register blocks, panel prefetch on or off) and the rules' own plan run the same
inference, interleaved round by round (timing.time_interleaved), each through the engine's table
of measured plans exactly as a later call would; then, for a packed winner, the training step runs
with its products after the backward loop on the packed kernels, on BLAS and (AVX-512) with the
weight gradients in the cache-blocked kernel. A candidate is kept
only when its median beats the rules' median by more than ``margin`` (default 3%) and it was the
faster of the two in at least two rounds of three: on a noisy machine a tie keeps the rules.
Every candidate's output is checked against the rules' first.
"""

from __future__ import annotations

import numpy as np

import lstmcore

from .problems import make_problem
from .timing import _get_threads, _restore_threads, set_threads, time_interleaved

MARGIN = 0.03
# Each candidate is timed in its steady state, as a program calling one shape again and again
# runs it: one untimed call after the previous candidate's, then calls for about 10 ms. Timed
# call by call in turn, the plans that share out threads lost to those that do not (2 cores,
# S1 inference, 2 threads: 489 us alone, 664 us alternating with a 1-thread plan, 881 us with
# BLAS's workers too).
_TIMING = {"min_rounds": 3, "round_target_s": 0.01, "warmup_calls": 1}


def candidates(isa: str, threads: int) -> list[dict]:
    """The plans worth timing for these kernels and thread count (lstmcore.engine._tuned's
    choices): BLAS, and the packed kernels with each split, row block and prefetch they have."""
    plans = [{"path": "blas"}]
    six = isa == "avx512"  # only the AVX-512 kernels have 6-row blocks and prefetch panels
    row_blocks = ("auto", "4") if six else ("auto",)
    prefetch = ("never", "always") if six else ("auto",)
    teams = (("all", "auto"),) if threads == 1 else (("one", "auto"), ("all", "rows"), ("all", "panels"))
    for team, split in teams:
        for rb in row_blocks:
            for pf in prefetch:
                plans.append(
                    {"path": "packed", "threads": team, "split": split, "row_block": rb, "prefetch": pf}
                )
    return plans


def label(plan: dict | None) -> str:
    """A plan in a few words: 'rules', 'blas', 'packed all/rows rb4 pf-never +grads blas'."""
    if plan is None:
        return "rules"
    if plan["path"] == "blas":
        return "blas"
    out = f"packed {plan.get('threads', 'all')}"
    if plan.get("split", "auto") != "auto":
        out += f"/{plan['split']}"
    if plan.get("row_block", "auto") != "auto":
        out += f" rb{plan['row_block']}"
    if plan.get("prefetch", "auto") != "auto":
        out += f" pf-{plan['prefetch']}"
    if plan.get("grads", "auto") != "auto":
        out += f" +grads {plan['grads']}"
    return out


def _distinct(plans: dict, followed, training: bool) -> dict:
    """plans ({name: plan}) without those the kernels follow as an earlier one does
    (followed(plan, training), tune_shape's), the first of each kept."""
    seen, out = set(), {}
    for name, plan in plans.items():
        what = followed(plan, training)
        if what not in seen:
            seen.add(what)
            out[name] = plan
    return out


def _beats(a: dict, b: dict, margin: float) -> bool:
    """Whether the timings a (time_interleaved's stats) beat b: a median lower by more than margin,
    and a faster than b in at least 2/3 of the rounds (both ran in each round)."""
    wins = sum(x < y for x, y in zip(a["times_s"], b["times_s"], strict=True))
    return a["median_s"] < b["median_s"] * (1 - margin) and 3 * wins >= 2 * len(a["times_s"])


def _entry(shape, dtype, threads, isa, plan) -> dict:
    B, T, I, H = shape
    return {
        "isa": isa,
        "dtype": np.dtype(dtype).name,
        "threads": threads,
        "B": B,
        "T": T,
        "I": I,
        "H": H,
        "plan": plan,
    }


def tune_shape(shape, dtype="float32", threads=1, seconds=1.0, margin=MARGIN, training=True) -> dict:
    """Time the candidates of one shape, dtype and thread count. Returns {'entry': the measured
    plan to keep or None (the rules won), 'inference': {label: median_s}, 'train': {label:
    median_s} (empty when not measured), 'rules': the rules' plan (engine._lstm._seq_plan)}."""
    from ..engine import _lstm, _tuned

    if lstmcore.backend != "compiled":
        raise ValueError("lstmcore tune needs the compiled backend (LSTMCORE_BACKEND is 'reference')")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype: expected float32 or float64, got {dtype.name}")
    B, T, I, H = shape
    isa = _lstm._kernel_isa()
    p = make_problem(B, T, I, H, dtype)
    x, w_x, w_h, b, dy = p["x"], p["w_x"], p["w_h"], p["b"], p["dy"]
    tol = 1e-4 if dtype == np.float32 else 1e-10
    saved_threads, saved_rows = _get_threads(), _lstm._tuned_rows()
    set_threads(threads)
    try:
        _lstm._set_tuned([])
        rules = _lstm._seq_plan(B, T, I, H, dtype.itemsize, threads)
        expected = lstmcore.lstm_forward(x, w_x, w_h, b)[0]

        def row_of(plan):
            return [] if plan is None else [_tuned._row(_entry(shape, dtype, threads, isa, plan))]

        def followed(plan, training):
            """What the kernels do with plan installed (_seq_plan's report): two candidates that
            come to the same are one plan, timed once."""
            _lstm._set_tuned(row_of(plan))
            report = _lstm._seq_plan(B, T, I, H, dtype.itemsize, threads)
            report.pop("tuned")
            if not training:
                report.pop("training")
            return repr(sorted(report.items()))

        def forward(row):
            def run():
                _lstm._set_tuned(row)
                return lstmcore.lstm_forward(x, w_x, w_h, b)

            return run

        plans = _distinct({"rules": None, **{label(p): p for p in candidates(isa, threads)}}, followed, False)
        for name, plan in plans.items():  # every plan computes the same outputs
            got = forward(row_of(plan))()[0]
            if not np.allclose(got, expected, rtol=tol, atol=tol):
                raise RuntimeError(
                    f"plan {name!r} differs from the rules' by {np.abs(got - expected).max():.3g}"
                )
        inference = time_interleaved(
            {k: forward(row_of(p)) for k, p in plans.items()}, seconds=seconds, **_TIMING
        )
        medians = {k: v["median_s"] for k, v in inference.items()}
        best = min(medians, key=medians.get)
        name = best if _beats(inference[best], inference["rules"], margin) else "rules"
        plan = plans[name]
        train = {}
        path = rules["path"] if plan is None else plan["path"]
        if training and path == "packed":

            def step(row):
                def run():
                    _lstm._set_tuned(row)
                    cache = lstmcore.lstm_forward(x, w_x, w_h, b, return_cache=True)[-1]
                    return lstmcore.lstm_backward(dy, cache)

                return run

            base = plan or {"path": "packed"}
            options = {
                name: plan,
                **{label(dict(base, grads=g)): dict(base, grads=g) for g in ("packed", "blas", "blocked")},
            }
            options = _distinct(options, followed, True)
            stats = time_interleaved(
                {k: step(row_of(p)) for k, p in options.items()}, seconds=seconds, **_TIMING
            )
            train = {k: v["median_s"] for k, v in stats.items()}
            tbest = min(train, key=train.get)
            if tbest != name and _beats(stats[tbest], stats[name], margin):
                plan = options[tbest]
        entry = None
        if plan is not None:
            entry = _entry(shape, dtype, threads, isa, plan)
            entry["inference_s"] = medians[name]
            entry["rules_inference_s"] = medians["rules"]
            if train:
                entry["train_s"] = train[label(plan)]
                entry["rules_train_s"] = train[name]
        return {"entry": entry, "inference": medians, "train": train, "rules": rules}
    finally:
        _lstm._set_tuned(saved_rows)
        _restore_threads(saved_threads)


def tune(shapes, dtypes=("float32",), threads=(1,), seconds=1.0, margin=MARGIN, training=True, report=None):
    """tune_shape for every shape, dtype and thread count. Returns (kept, measured): the entries
    whose plan beat the rules, and every measured problem as an entry with no plan (to drop the
    plans an earlier run kept for it). report(shape, dtype, threads, result), if given, is called
    after each."""
    from ..engine import _lstm

    kept, measured = [], []
    for shape in shapes:
        for dtype in dtypes:
            for n in threads:
                result = tune_shape(shape, dtype, n, seconds, margin, training)
                if report is not None:
                    report(shape, dtype, n, result)
                if result["entry"] is not None:
                    kept.append(result["entry"])
                measured.append(_entry(shape, dtype, n, _lstm._kernel_isa(), None))
    return kept, measured

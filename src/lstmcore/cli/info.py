"""``lstmcore info``: the version, backend, threads and kernels in force, the caches the plans read,
and (``--plan B,T,I,H``) the plan the LSTM's inference follows for a shape, with why (``--cell``:
the GRU's, the simple RNN's or the LSTM with options', inference and training)."""

from __future__ import annotations


def _parse_shape(text: str, min_inputs: int = 0) -> tuple[int, int, int, int]:
    """'B,T,I,H' -> (B, T, I, H) with B, T, H >= 1 and I >= min_inputs (every command's shapes:
    the engine takes I = 0, the benchmark's problems do not); ValueError naming what was expected."""
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape[:2] + shape[3:]) < 1 or shape[2] < min_inputs:
        raise ValueError(f"expected B,T,I,H (B, T, H >= 1, I >= {min_inputs}), got {text!r}")
    return shape  # type: ignore[return-value]


def _kib(n: int) -> str:
    return f"{n / 1024:.0f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


def _plan_dtype(dtype: str):
    """--dtype of a plan as a NumPy dtype: float32 or float64, else ValueError."""
    import numpy as np

    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"--dtype: expected float32 or float64, got {dtype!r}")
    return np.dtype(dtype)


def plan_lines(
    shape: tuple[int, int, int, int], dtype: str = "float32", threads: int | None = None
) -> list[str]:
    """The plan of the LSTM's inference for shape (B, T, I, H), in words: what the engine picks on
    this machine now, and the rule behind each choice."""
    import numpy as np

    import lstmcore
    from lstmcore.engine import _machine

    if lstmcore.backend != "compiled":
        return ["plan: the NumPy reference backend runs every shape the same way (no kernels to plan)"]
    from lstmcore.engine import _lstm

    itemsize = _plan_dtype(dtype).itemsize
    B, T, I, H = shape
    plan = _lstm._seq_plan(B, T, I, H, itemsize, threads)
    n = threads or lstmcore.get_num_threads()
    l2 = _machine.caches()["l2"]
    out = [f"plan for B={B} T={T} I={I} H={H} {np.dtype(dtype).name}, {n} thread(s), kernels {plan['isa']}:"]
    out.append(_source_line(B, I, H, dtype, n))
    if plan["path"] == "blas":
        out.append(
            "  path: BLAS product per step (x @ w_x over all steps, h @ w_h per step) and the gate kernels"
        )
        if n > 1 and _lstm._omp_spins():
            out.append(
                "  gate maths: on the calling thread (OpenMP's idle workers spin a while, and a"
                " spinning worker would take the core OpenBLAS's next product needs)"
            )
        elif n > 1:
            out.append(f"  gate maths: on {n} threads where a step's rows are many enough")
        out.append(
            "  why: the packed kernels win here only with AVX-512 everywhere, with AVX2 on one thread"
            f" or while the packed weights fit the L3 ({_kib(plan['l3'])}; in training with two"
            " sequences or more), with the generic kernels for 2-8 sequences"
        )
        out.append(_training_line(plan))
        out.append(_pair_line(B, T, I, H, dtype, n))
        return out
    wb = plan["weight_bytes"]
    layout = f"panels in strips of {plan['strip']} columns" if plan["strip"] else "panels in whole rows"
    out.append(
        f"  path: packed [w_x; w_h] ({_kib(wb)}; {layout}), one pass per step, gate maths per panel;"
        f" {min(plan['row_block'], B)} batch row(s) per register block"
    )
    if plan["threads"] == 1:
        out.append("  threads: 1 (one thread asked for, or too little work per step to share)")
    elif plan["split"] == "rows":
        out.append(
            f"  threads: {plan['threads']}, each runs its own batch rows through the whole sequence"
            f" (the packed weights, {_kib(wb)}, are within 3/4 of the L2 or row_split_bytes: each"
            " thread keeps them all; or even a thread's share of the panels would not fit, and"
            " the rows need no barrier)"
        )
    else:
        out.append(
            f"  threads: {plan['threads']}, each keeps its own panels of the weights; they meet once a step"
        )
    if plan["prefetch"]:
        out.append(
            f"  prefetch: the next panel into the L2 while one runs (a thread's panels exceed half the"
            f" L2, {_kib(plan['l2'])}, from {l2[1]})"
        )
    else:
        out.append(
            f"  prefetch: none (a thread's panels fit in half the L2, {_kib(plan['l2'])}, from {l2[1]};"
            " or these kernels do not prefetch)"
        )
    out.append(_training_line(plan))
    out.append(_pair_line(B, T, I, H, dtype, n))
    out.append(_cells_line(B, T, I, H, dtype, n))
    return out


_CELL_NAMES = {"gru": "the GRU (reset_after=True)", "rnn": "the simple RNN", "lstm": "the LSTM with options"}


def cell_plan_lines(
    shape: tuple[int, int, int, int], cell: str, dtype: str = "float32", threads: int | None = None
) -> list[str]:
    """The plan of the cell engine (the GRU, the simple RNN, the LSTM with options: peepholes,
    clip, input_forget, other activations) for shape (B, T, I, H), in words: its products, how its
    threads share inference and training, where the gates live, and the rule behind each."""
    import numpy as np

    import lstmcore

    if lstmcore.backend != "compiled":
        return ["plan: the NumPy reference backend runs every shape the same way (no kernels to plan)"]
    _plan_dtype(dtype)
    from lstmcore.engine import _cells

    B, T, I, H = shape
    n = threads or lstmcore.get_num_threads()
    plan = _cells._cell_plan(cell, B, T, I, H, np.dtype(dtype), threads=n)
    madds, least = plan["step_madds"], _cells._unit_min()
    out = [
        f"plan for {_CELL_NAMES[cell]} at B={B} T={T} I={I} H={H} {np.dtype(dtype).name}, {n} thread(s),"
        f" kernels {plan['isa']}:"
    ]
    forced = "forced by LSTMCORE_RECURRENT_PRODUCT; the rule: " if plan["forced"] else "the rule: "
    if plan["products"] == "packed":
        out.append(
            "  products: x_t @ w_x and h_prev @ w_h at each step in lstmcore's packed kernels, the"
            f" weights packed once a call ({forced}wherever the kernels have vectors, AVX2 or AVX-512;"
            " LSTMCORE_RECURRENT_PRODUCT=blas forces BLAS)"
        )
    else:
        out.append(
            "  products: x @ w_x over all steps in one BLAS call, then h_prev @ w_h at each step"
            f" ({forced}BLAS on the baseline instruction set, where the machine's BLAS knows the CPU"
            " better; LSTMCORE_RECURRENT_PRODUCT=packed forces lstmcore's kernels)"
        )

    def threads_line(kind: str, how: str, k: int) -> str:
        if how == "units":
            return (
                f"units split on {k} threads: each keeps the columns of its share of the units in every"
                f" gate block and runs them through the whole sequence, the shares meeting once a step"
                f" (a batch of fewer than two register tiles of rows; a step's {plan['unit_madds']:,}"
                f" multiply-adds, from {least:,}, each share {least // 2:,} at least and a panel of"
                " columns wide)"
            )
        if how == "rows":
            return (
                f"rows split on {k} threads: each runs its own batch rows through the whole sequence,"
                " with no barrier (a batch of two register tiles of rows or more, a tile a thread at"
                " least; with lengths, the rows cut where the threads' row-steps are nearest equal)"
            )
        if how == "steps" and plan["products"] == "blas":
            return "each step's BLAS products on BLAS's threads, the gate maths on the calling thread"
        if how == "steps":
            return (
                f"each step's products on {k} threads (h_prev @ w_h: {madds:,} multiply-adds a step,"
                f" from {plan['gemm_par_min']:,} a packed product splits), the gate maths on one"
            )
        if n == 1:
            return "one thread (one thread asked for)"
        if plan["omp_spins"]:
            return (
                "the gate maths on one thread, the products on BLAS's threads (OpenMP's idle workers"
                " spin after a parallel region and would take the cores BLAS's next product needs)"
            )
        units = plan["unit_madds"]
        extra = "" if kind == "training" else f"; a units split from {least:,} a step, here {units:,}"
        return (
            f"one thread (too little work a step to share: {madds:,} multiply-adds of h_prev @ w_h,"
            f" a packed product splits from {plan['gemm_par_min']:,}{extra})"
        )

    out.append("  inference: " + threads_line("inference", plan["inference"], plan["inference_threads"]))
    if plan["inference"] == "units":
        out.append(
            "    (with a recurrent mask, a Keras mask or lengths: as in training"
            + ("; with a projection too, whose h = m @ w_hr reads every unit)" if cell == "lstm" else ")")
        )
    out.append("  training: " + threads_line("training", plan["training"], plan["training_threads"]))
    if cell == "gru":
        out.append(
            "  the GRU's gates in inference: each row's in a buffer in the L1, 256 units at a time (no"
            " (B, 3H) arrays written at every step); with reset_after=False, in arrays, and two"
            " products a step (r * h_prev before the candidate's)"
            if plan["gates"] == "l1"
            else "  the GRU's gates in inference: in (B, 3H) arrays at every step"
        )
    out.append(_training_line({"training": {name: plan[name] for name in ("dx", "dw_x", "dw_h")}}))
    out.append(_pair_line(B, T, I, H, dtype, n, {"gru": 3, "rnn": 1, "lstm": 4}[cell] * H))
    return out


def _cells_line(B: int, T: int, I: int, H: int, dtype: str, threads: int) -> str:
    """How the GRU and the simple RNN of this shape share their inference between threads: rows,
    units (_cells._cell_plan) or none."""
    from lstmcore.engine import _cells

    if threads < 2:
        return "  a GRU or simple RNN of this shape: one thread (--cell gru or rnn: their whole plan)"
    least = _cells._unit_min()
    plans = {cell: _cells._cell_plan(cell, B, T, I, H, dtype, threads=threads) for cell in ("gru", "rnn")}
    said = [
        f"{name} on {plans[cell]['inference_threads']} threads"
        for cell, name in (("gru", "the GRU"), ("rnn", "the simple RNN"))
        if plans[cell]["inference"] == "units"
    ]
    if not said:
        return (
            "  a GRU or simple RNN of this shape, inference: no units split (its batch rows split"
            " between the threads where they fill two register tiles or more; else too little work"
            f" a step to share: the GRU's {plans['gru']['unit_madds']:,} multiply-adds, from {least:,},"
            " or one step; --cell gru or rnn: their whole plan)"
        )
    return (
        f"  a GRU or simple RNN of this shape, inference: units split, {' and '.join(said)};"
        " each keeps the columns of its share of the units in every gate block, and they meet once"
        f" a step ({least // 2:,} multiply-adds a step at least per share; --cell gru or rnn: their"
        " whole plan)"
    )


def _pair_line(B: int, T: int, I: int, H: int, dtype: str, threads: int, G: int | None = None) -> str:
    """Whether a bidirectional layer of this shape runs its two directions at once (_stack.pairs);
    G: a direction's gate columns (the LSTM's 4H by default)."""
    from lstmcore.engine import _stack

    G = 4 * H if G is None else G
    if threads < 2:
        return "  a bidirectional layer: its two directions one after the other (one thread)"
    least = _stack._pair_min(dtype)
    madds = _stack.direction_madds(B, T, I, H, G, False)

    def how(training: bool) -> str:
        work = _stack.direction_madds(B, T, I, H, G, training)
        return "at once, each on half of the threads" if work >= least else "one after the other"

    return (
        f"  a bidirectional layer: inference {how(False)}, training {how(True)} (at once from"
        f" {least:,} multiply-adds per direction, {_stack._PAIR_MIN_PER_LANE:,} per lane of the"
        f" kernels' vectors; a direction here: {madds:,}, a training step three times that)"
    )


def _source_line(B: int, I: int, H: int, dtype: str, threads: int) -> str:
    from lstmcore.benchmark.tune import label
    from lstmcore.engine import _tuned

    entry = _tuned.lookup(B, I, H, dtype, threads)
    if entry is None:
        return "  source: the rules below (no measured plan for this shape: lstmcore tune measures them)"
    times = ""
    if "rules_inference_s" in entry:
        times = f"; inference {entry['inference_s'] / entry['rules_inference_s']:.2f}x the rules' time"
    return (
        f"  source: measured by lstmcore tune at B={entry['B']} ({entry.get('measured', 'date unknown')}):"
        f" {label(entry['plan'])}{times}; the lines below say what it does"
    )


def _training_line(plan: dict) -> str:
    t = plan["training"]
    where = ", ".join(f"{name} {t[name]}" for name in ("dx", "dw_x", "dw_h"))
    from lstmcore.engine import _lstm

    why = (
        "lstmcore's kernels for all three: SciPy's OpenBLAS spins after its products (blas_spins)"
        if _lstm._blas_spins() and "blas" not in (t["dx"], t["dw_x"], t["dw_h"])
        else "a weight gradient goes to BLAS where it exceeds half the L2, or with AVX-512 both go to"
        " the cache-blocked kernel"
    )
    if t["dx"] == "gemm":
        why += "; dx, narrower than the LSTM kernels' 256-byte panels, on the cell engine's packed product"
    return f"  training, after the backward loop: {where} ({why})"


def _info_command(args) -> int:
    import lstmcore
    from lstmcore.engine import _machine

    print(f"lstmcore {lstmcore.__version__}, backend {lstmcore.backend}")
    for key, value in lstmcore.threadpool_info().items():
        if key == "blas_spins" and value:
            value = (
                "True (SciPy's OpenBLAS was loaded before lstmcore: its idle workers spin about 75 ms"
                " after a product of several threads, so training steps and layers keep their"
                " products on lstmcore's kernels; import lstmcore before SciPy or scikit-learn, or"
                " set OPENBLAS_THREAD_TIMEOUT=20, to let them use it)"
            )
        print(f"  {key}: {value}")
    for key, (size, source) in _machine.caches().items():
        where = "shared" if key == "l3" else "per core"
        print(f"  {key}: {_kib(size)} {where} (from {source}; override with {_machine._ENV[key]})")
    if lstmcore.backend == "compiled":
        from lstmcore.engine import _lstm

        default, source = _machine.workspace_limit()
        print(
            f"  memory kept between calls: at most {_kib(_lstm._workspace_limit)} per thread (default"
            f" {_kib(default)}: {source}; override with {_machine._WORKSPACE_ENV} or"
            " lstmcore.set_workspace_limit)"
        )
    if getattr(args, "plan", None):
        cell = getattr(args, "cell", "lstm")
        try:
            if cell == "lstm":
                lines = plan_lines(_parse_shape(args.plan), args.dtype, args.threads)
            else:
                name = "lstm" if cell == "lstm-options" else cell
                lines = cell_plan_lines(_parse_shape(args.plan), name, args.dtype, args.threads)
        except ValueError as exc:
            print(f"lstmcore info: --plan: {exc}")
            return 2
        print("\n".join(lines))
    return 0

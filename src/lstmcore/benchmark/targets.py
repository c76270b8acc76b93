"""The goals of bench/targets.json, read and checked against a run's cases."""

import json

from .problems import ALL_CELLS, KINDS, SHAPES, cell_kinds, cell_runs_on

# Targets ----------------------------------------------------------------------------------------
# The goals live with the project, not in the installed package: bench/targets.json holds those of
# the issues that set them, read with load_targets and checked with evaluate_targets.

_OPS = (">=", "<=")
PEAK_RATIO = "of peak"  # a case's peak_share: lstmcore's GFLOP/s over the GEMM peak (timing)


def _target_cells(entry: dict) -> tuple:
    """The cells a target entry names: its ``cell`` (a name of ALL_CELLS or a list of them);
    without one, the LSTM (the targets written before the GRU and RNN came)."""
    cells = entry.get("cell", "lstm")
    return (cells,) if isinstance(cells, str) else tuple(cells)


def _valid_cells(entry: dict, shapes=(), kind=None) -> bool:
    """Whether ``entry``'s cells are names of ALL_CELLS, each measured at every one of ``shapes``
    (a variant: SEQUENCE_SHAPES) and, when given, for ``kind`` (a variant: inference, train)."""
    cells = entry.get("cell", "lstm")
    if not isinstance(cells, (str, list)):
        return False
    cells = _target_cells(entry)
    return (
        bool(cells)
        and all(isinstance(c, str) and c in ALL_CELLS for c in cells)
        and all(cell_runs_on(c, s, SHAPES[s]) for c in cells for s in shapes if s in SHAPES)
        and all(kind in cell_kinds(c) for c in cells if kind in KINDS)
    )


def _scaling_list(targets: dict) -> list:
    """The scaling goals of ``targets``: its ``scaling``, one dict or a list of them, as a list."""
    scaling = targets.get("scaling")
    if scaling is None:
        return []
    return [scaling] if isinstance(scaling, dict) else list(scaling)


def _scaling_kinds(entry: dict) -> tuple:
    """The kinds a scaling goal holds for: its ``kind`` (a name of KINDS or a list); absent, all."""
    kinds = entry.get("kind", list(KINDS))
    return (kinds,) if isinstance(kinds, str) else tuple(kinds)


def _valid_scaling(entry) -> bool:
    if not isinstance(entry, dict):
        return False
    shapes = entry.get("shapes", [None])
    kinds = entry.get("kind", list(KINDS))
    return (
        isinstance(shapes, list)
        and all(s in SHAPES for s in shapes)
        and isinstance(entry.get("goal"), (int, float))
        and not isinstance(entry.get("goal"), bool)
        and isinstance(kinds, (str, list))
        and bool(_scaling_kinds(entry))
        and all(k in KINDS for k in _scaling_kinds(entry))
        and _valid_cells(entry, shapes)
    )


def _valid_threads(entry: dict) -> bool:
    n = entry.get("threads")
    return n is None or (
        isinstance(n, list) and n != [] and all(type(k) is int and k > 0 for k in n)  # noqa: E721 (no bool)
    )


def load_targets(path) -> dict:
    """Speed goals from a JSON file; ValueError naming what is wrong. The keys:

    - ``title``: str, the issues the goals come from;
    - ``ratios``: ``[{"cell", "kind", "shape", "ratio", "op", "goal", "threads"}]``, one goal on a
      ratio of the table (``"onnxruntime/lstmcore"``, ``"lstmcore/bound"``,
      ``"lstmcore/lstmcore-full"``, ...; ``"of peak"``: lstmcore's share of the GEMM peak measured
      in the same run, the table's column). ``cell`` is a name of ALL_CELLS (a cell, or a variant
      such as ``"gru-bi"``, measured at SEQUENCE_SHAPES, inference and train) or a list of them
      (absent: ``"lstm"``); ``threads`` a list of the thread counts it holds for (absent: every
      count measured);
    - ``scaling`` (optional): ``{"shapes": [...], "goal": x, "cell": ..., "kind": ...}`` or a
      list of such dicts, lstmcore 2 threads against 1 (``cell`` as above; ``kind`` a name of
      KINDS or a list of them, absent: every kind measured);
    - ``memory`` (optional): true: the LSTM's peak memory of the training step, lstmcore <= torch.
    """
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the targets {path}: {exc}") from None
    bad = f"targets {path}"
    if not isinstance(data, dict) or not isinstance(data.get("title"), str):
        raise ValueError(f"{bad}: expected a JSON object with a 'title' string")
    for k, t in enumerate(data.get("ratios", [])):
        ok = (
            isinstance(t, dict)
            and t.get("kind") in KINDS
            and t.get("shape") in SHAPES
            and _valid_cells(t, [t["shape"]], t["kind"])
            and isinstance(t.get("ratio"), str)
            and t.get("op") in _OPS
            and isinstance(t.get("goal"), (int, float))
            and _valid_threads(t)
        )
        if not ok:
            raise ValueError(
                f"{bad}: ratios[{k}] must have kind in {KINDS}, shape in {tuple(SHAPES)}, a ratio name, "
                f"op in {_OPS}, a numeric goal and optionally cell (one of {ALL_CELLS} or a list of "
                "them; a variant <cell>-bi, -L2, -lengths at S1, S2, S3, inference or train) and "
                f"threads (a list of positive ints); got {t!r}"
            )
    scaling = data.get("scaling")
    entries = scaling if isinstance(scaling, list) else [scaling]
    if scaling is not None and not (entries and all(_valid_scaling(e) for e in entries)):
        raise ValueError(
            f"{bad}: scaling must be {{'shapes': [names of SHAPES], 'goal': number, optionally 'cell': "
            f"one of {ALL_CELLS} or a list of them, and 'kind': one of {KINDS} or a list of them}}, or a "
            f"non-empty list of such dicts; got {scaling!r}"
        )
    return data


def merge_targets(files: list) -> dict:
    """Several files' goals (each of :func:`load_targets`) as one: titles joined, ratios and
    scaling goals one after the other, memory where any asks for it."""
    if len(files) == 1:
        return files[0]
    return {
        "title": "; ".join(f["title"] for f in files),
        "ratios": [t for f in files for t in f.get("ratios", [])],
        "scaling": [s for f in files for s in _scaling_list(f)],
        "memory": any(f.get("memory") for f in files),
    }


def _is_standard(case) -> bool:
    name = case["shape"]
    return name in SHAPES and tuple(case["dims"]) == SHAPES[name][:4]


def _spread(case: dict, ratio: str):
    """The case's [lowest, highest] of ``ratio`` over the parts of its time, or None."""
    return (case.get("ratio_spread") or {}).get(ratio)


def _target(text, cell, case_shape, kind, threads, ratio, value, op, goal, spread=None) -> dict:
    """A goal marked met or not by ``value`` (the ratio of the case's medians); ``spread``: the
    ratio's [lowest, highest] over the parts of the case's time (timing._spreads) or None, and
    ``in_spread``: whether the goal lies within it (parts on both sides: neither met nor missed
    in every part)."""
    met = value >= goal if op == ">=" else value <= goal
    in_spread = spread is not None and spread[0] <= goal <= spread[1]
    return {
        "target": text,
        "cell": cell,
        "shape": case_shape,
        "kind": kind,
        "threads": threads,
        "ratio": ratio,
        "value": float(value),
        "op": op,
        "goal": float(goal),
        "met": bool(met),
        "spread": None if spread is None else [float(v) for v in spread],
        "in_spread": bool(in_spread),
    }


def _memory_list(memory) -> list:
    """``memory`` of :func:`run_benchmark` (a list, one per cell) or of :func:`measure_memory`
    (one dict) as a list; None: empty."""
    if memory is None:
        return []
    return [memory] if isinstance(memory, dict) else list(memory)


def evaluate_targets(cases: list, targets: dict, memory=None, cpu_count: int | None = None) -> list:
    """The ``targets`` (:func:`load_targets`) that ``cases`` (and ``memory``) measure, each marked
    met or not.

    Only cases at the standard shapes (name and dims of SHAPES) count, of the targets' cells (a
    case without ``cell`` is an LSTM's). The scaling targets (2 threads against 1, lstmcore; one
    dict or a list) are evaluated on the 2-thread case, from lstmcore-1t where it was timed
    beside it, else where the 1-thread case was measured too, and ``cpu_count`` (when given)
    is at least 2; the memory target when ``memory`` (a dict of :func:`measure_memory` or a list
    of them) holds lstmcore and torch for the LSTM.
    """
    out = []
    std = [c for c in cases if _is_standard(c)]
    for t in targets.get("ratios", []):
        kind, shape, ratio, op, goal = t["kind"], t["shape"], t["ratio"], t["op"], t["goal"]
        cells, threads = _target_cells(t), t.get("threads")
        for case in std:
            cell = case.get("cell", "lstm")
            values = dict(case["ratios"])
            if case.get("peak_share") is not None:
                values[PEAK_RATIO] = case["peak_share"]
            if (
                cell in cells
                and case["shape"] == shape
                and case["kind"] == kind
                and (threads is None or case["threads"] in threads)
                and ratio in values
            ):
                text = f"{cell} {shape} {kind}: {ratio} {op} {goal:g}"
                value, spread = values[ratio], _spread(case, ratio)
                out.append(_target(text, cell, shape, kind, case["threads"], ratio, value, op, goal, spread))
    by_key = {
        (c.get("cell", "lstm"), c["shape"], c["kind"], c["threads"]): c
        for c in std
        if "lstmcore" in c["peers"]
    }
    for scaling in _scaling_list(targets) if cpu_count is None or cpu_count >= 2 else []:
        shapes, goal, cells = scaling["shapes"], scaling["goal"], _target_cells(scaling)
        kinds = _scaling_kinds(scaling)
        for (cell, shape, kind, n), case in by_key.items():
            if not (cell in cells and shape in shapes and kind in kinds and n == 2):
                continue
            # lstmcore on 1 thread timed beside the case (lstmcore-1t), else the 1-thread case's
            one, spread = by_key.get((cell, shape, kind, 1)), None
            if "lstmcore-1t/lstmcore" in case["ratios"]:
                ratio, value = "lstmcore-1t/lstmcore", case["ratios"]["lstmcore-1t/lstmcore"]
                spread = _spread(case, ratio)
            elif one is not None:
                ratio = "lstmcore 1 thread/2 threads"
                value = one["peers"]["lstmcore"]["median_s"] / case["peers"]["lstmcore"]["median_s"]
            else:
                continue
            text = f"{cell} {shape} {kind}: lstmcore 2 threads against 1 >= {goal:g}"
            out.append(_target(text, cell, shape, kind, 2, ratio, value, ">=", goal, spread))
    for mem in _memory_list(memory) if targets.get("memory") else []:
        if mem.get("cell", "lstm") == "lstm" and {"lstmcore", "torch"} <= set(mem.get("peers", {})):
            ours = mem["peers"]["lstmcore"]["extra_mib"]
            theirs = mem["peers"]["torch"]["extra_mib"]
            shape = mem.get("shape", "S3")
            text = f"lstm {shape} train: peak memory lstmcore <= torch (MiB)"
            ratio = "peak MiB lstmcore vs torch"
            out.append(_target(text, "lstm", shape, "train", mem.get("threads"), ratio, ours, "<=", theirs))
    return out

"""The ``lstmcore`` command: ``lstmcore forecast`` (the main job), ``lstmcore info``, ``lstmcore bench``
and ``lstmcore tune``.

``lstmcore forecast`` trains an LSTM forecaster on a bundled real series (monthly sunspot numbers,
NOAA, public domain) or on a column of the user's CSV, and prints its test error next to the naive
baselines, honestly: when a baseline wins, it says so. The job itself is
``lstmcore.timeseries.forecast``; the subcommands are ``cli.forecast``, ``cli.info``, ``cli.bench``
and ``cli.tune``; this module has the parser and ``main``.
"""

from __future__ import annotations

import argparse
import csv
import sys

from ..timeseries.forecast import MAX_PARAMETERS, run_forecast
from .bench import _bench_command
from .forecast import _forecast_command
from .info import _info_command, _parse_shape
from .tune import _tune_command

__all__ = ["MAX_PARAMETERS", "main", "run_forecast"]


def _names(choices):
    """argparse type: a comma-separated list of names among ``choices``."""

    def parse(text: str) -> list:
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"expected names among {','.join(choices)}, got {text!r}")
        return names

    return parse


def _cells(text: str) -> list:
    """argparse type of ``lstmcore bench --cells``: names of benchmark.ALL_CELLS (the cells and
    their sequence variants ``<cell>-bi``, ``-L2``, ``-lengths``), or ``all`` (the three cells)."""
    from ..benchmark import ALL_CELLS, CELLS, VARIANTS

    if text.strip() == "all":
        return list(CELLS)
    try:
        return _names(ALL_CELLS)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected names among {','.join(CELLS)} and their variants <cell>-{',-'.join(VARIANTS)} "
            f"(e.g. lstm-bi), or all; got {text!r}"
        ) from None


def _positive_list(text: str) -> list:
    try:
        values = [int(n) for n in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return values


def _dims(text: str) -> tuple:
    try:
        return _parse_shape(text, min_inputs=1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1), got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from ..datasets import DATASETS

    parser = argparse.ArgumentParser(prog="lstmcore", description="A fast CPU engine for LSTM networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser(
        "forecast",
        help="train an LSTM forecaster and compare it with naive baselines",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument(
        "--dataset", choices=sorted(DATASETS), default="sunspots", help="bundled series (default: sunspots)"
    )
    f.add_argument("--csv", metavar="FILE", help="forecast a column of this CSV file instead")
    f.add_argument("--column", metavar="NAME", help="the CSV column to forecast")
    f.add_argument("--date-column", metavar="NAME", help="the CSV column with dates (for the plot)")
    f.add_argument("--window", type=_positive, default=24, help="past values the model sees (default 24)")
    f.add_argument("--horizon", type=_positive, default=1, help="steps to forecast (default 1)")
    f.add_argument("--epochs", type=_positive, default=40, help="maximum epochs (default 40; early stopping)")
    f.add_argument(
        "--units",
        type=_positive,
        default=32,
        help=f"LSTM units (default 32; the model may have at most {MAX_PARAMETERS:,} parameters)",
    )
    f.add_argument("--batch-size", type=_positive, default=32, help="batch size (default 32)")
    f.add_argument(
        "--test-size", type=_fraction, default=0.2, help="fraction of the series for testing (0.2)"
    )
    f.add_argument(
        "--season",
        type=_positive,
        default=None,
        help="season length for the seasonal-naive baseline (sunspots: 132 months)",
    )
    f.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    f.add_argument("--plot", metavar="OUT.png", help="draw history, fit and forecast (needs matplotlib)")
    f.add_argument("--save", metavar="FILE", help="save the trained model to FILE")
    f.add_argument("--quiet", action="store_true", help="no progress output")
    f.set_defaults(func=_forecast_command)
    i = sub.add_parser("info", help="version, backend, threads, BLAS, caches and the plan of a shape")
    i.add_argument(
        "--plan",
        metavar="B,T,I,H",
        help="show the plan a layer of this shape follows on this machine (the LSTM's inference, or"
        " --cell's), and why",
    )
    i.add_argument(
        "--cell",
        default="lstm",
        choices=("lstm", "gru", "rnn", "lstm-options"),
        help="the cell of --plan: the LSTM (default), the GRU, the simple RNN, or the LSTM with options"
        " (peepholes, clip, input_forget, other activations: the engine of the GRU and the RNN)",
    )
    i.add_argument("--dtype", default="float32", help="float32 (default) or float64, for --plan")
    i.add_argument(
        "--threads", type=_positive, default=None, help="threads for --plan (default: the current count)"
    )
    i.set_defaults(func=_info_command)
    from ..benchmark import CELLS, DEFAULT_CELLS, KINDS, PEERS, SHAPES
    from ..benchmark.programs import PROGRAMS

    bench = sub.add_parser(
        "bench",
        help="time lstmcore beside PyTorch, ONNX Runtime, the reference and the GEMM-only bound",
        description=(
            "The side-by-side benchmark of DESIGN.md section 4, for the LSTM, the GRU and the simple "
            "RNN and their sequence variants (bidirectional, two layers, lengths): every peer on the "
            "same problem and thread count, outputs checked against the "
            "reference first, rounds interleaved; prints the median times, the ratios peer/lstmcore "
            "and lstmcore/bound, and, with --targets, the goals met and not met. Peers that are not "
            "installed are skipped (pip install 'lstmcore[bench]')."
        ),
    )
    bench.add_argument(
        "--cells",
        "--cell",
        type=_cells,
        default=list(DEFAULT_CELLS),
        metavar="C,...",
        help=f"cells among {','.join(CELLS)}, or all (default: {','.join(DEFAULT_CELLS)}; each cell "
        "adds about as much time again), and their sequence variants <cell>-bi (one bidirectional "
        "layer), <cell>-L2 (two layers), <cell>-lengths (a batch of lengths 1..T), measured on S1, S2, "
        "S3 and custom shapes, inference and train",
    )
    bench.add_argument(
        "--shapes",
        type=_names(list(SHAPES)),
        metavar="S1,S2,...",
        help=f"named shapes to run (default: all of {','.join(SHAPES)}, or none when --shape is given)",
    )
    bench.add_argument(
        "--shape",
        type=_dims,
        action="append",
        metavar="B,T,I,H",
        help="a custom shape, measured for every kind (repeatable)",
    )
    bench.add_argument(
        "--kinds",
        type=_names(list(KINDS)),
        default=list(KINDS),
        metavar="K,...",
        help=f"kinds of work among {','.join(KINDS)} (default: all; each named shape runs those it lists)",
    )
    bench.add_argument(
        "--threads", type=_positive_list, metavar="N,...", help="thread counts (default: 1 and all cores)"
    )
    bench.add_argument(
        "--peers",
        type=_names(list(PEERS)),
        default=list(PEERS),
        metavar="P,...",
        help=f"peers among {','.join(PEERS)} (default: all)",
    )
    bench.add_argument(
        "--seconds", type=_seconds, default=1.5, help="time budget per case, in seconds (default 1.5)"
    )
    bench.add_argument("--json", metavar="OUT.json", help="write the results, raw times included, as JSON")
    bench.add_argument("--plot", metavar="OUT.png", help="draw the ratios peer/lstmcore (needs matplotlib)")
    bench.add_argument(
        "--targets",
        metavar="FILE.json",
        action="append",
        help=(
            "check the speed goals of FILE.json (the project's: bench/targets.json and, for the "
            "planner's issue, bench/targets15.json in its repository); repeatable"
        ),
    )
    bench.add_argument(
        "--memory",
        action="store_true",
        help="also measure the peak memory of the S3 training step, each peer in a fresh process",
    )
    bench.add_argument(
        "--same-process",
        action="store_true",
        help="with several threads, time the peers interleaved in this process too (by default each "
        "peer runs in a fresh process of its own: thread pools of different libraries in one process "
        "take cores from each other)",
    )
    bench.add_argument(
        "--programs",
        type=_names(list(PROGRAMS)),
        nargs="?",
        const=list(PROGRAMS),
        metavar="P,...",
        help=(
            "instead of the cells, time Keras programs run by lstmcore and by Keras 3 (PyTorch backend) "
            f"with only the imports changed: fit epochs and predictions, among {','.join(PROGRAMS)} "
            "(default: all; --threads and --json apply; needs keras and torch for the Keras side)"
        ),
    )
    bench.add_argument(
        "--rounds", type=_positive, default=2, help="with --programs: rounds of the two processes (default 2)"
    )
    bench.set_defaults(func=_bench_command)
    t = sub.add_parser(
        "tune",
        help="time the LSTM's plans on this machine and keep those that beat the rules",
        description=(
            "Times the plain LSTM's candidate plans (BLAS or the packed kernels, one thread or all, "
            "rows or panels split between threads, register blocks, panel prefetch; training: the "
            "products after the backward loop on the packed kernels, BLAS or the blocked kernel) "
            "against the rules' own plan, interleaved, for each shape, dtype and thread count, and "
            "keeps each plan that "
            "beats the rules by more than --margin in a per-machine file that every later run reads "
            "(LSTMCORE_TUNE_FILE, default ~/.cache/lstmcore/tuned.json; off: none). A measured plan "
            "applies to calls with the same kernels, dtype, threads, I and H and a batch within a "
            "factor 2. lstmcore info --plan shows which plan a shape follows."
        ),
    )
    t.add_argument(
        "--shapes",
        type=_names(list(SHAPES)),
        metavar="S1,S2,...",
        help="named benchmark shapes (default: the sequence shapes S1, S2, S3, S5, S6, or none with --shape)",
    )
    t.add_argument("--shape", type=_dims, action="append", metavar="B,T,I,H", help="a shape (repeatable)")
    t.add_argument(
        "--dtype",
        type=_names(["float32", "float64"]),
        default=["float32"],
        metavar="D,...",
        help="float32 (default), float64 or both",
    )
    t.add_argument(
        "--threads", type=_positive_list, metavar="N,...", help="thread counts (default: 1 and all cores)"
    )
    t.add_argument(
        "--seconds", type=_seconds, default=1.0, help="time budget per shape and kind, in seconds (default 1)"
    )
    t.add_argument(
        "--margin",
        type=_fraction,
        default=0.03,
        help="keep a plan only if its median beats the rules' by more than this fraction (default 0.03)",
    )
    t.add_argument("--no-train", action="store_true", help="time inference only")
    t.add_argument("--file", metavar="FILE.json", help="keep the plans here instead of the default file")
    t.add_argument(
        "--assume",
        metavar="isa=NAME,l2=SIZE,l1d=SIZE",
        help="tune as on a machine with these kernels (generic, avx2, avx512) and caches; the plans are "
        "kept for such a machine and read by runs with the same LSTMCORE_ISA, LSTMCORE_L2, LSTMCORE_L1D",
    )
    t.add_argument("--dry-run", action="store_true", help="measure and report, keep nothing")
    t.add_argument("--show", action="store_true", help="list this machine's measured plans and stop")
    t.add_argument("--forget", action="store_true", help="drop this machine's measured plans and stop")
    t.set_defaults(func=_tune_command)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MemoryError as exc:
        hint = "; try a smaller --units, --window or --batch-size" if args.command == "forecast" else ""
        parser.exit(2, f"lstmcore {args.command}: error: out of memory ({exc}){hint}\n")
    except (ValueError, OSError, csv.Error) as exc:  # a TypeError here would be a bug: traceback
        parser.exit(2, f"lstmcore {args.command}: error: {exc}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

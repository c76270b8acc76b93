"""``lstmcore bench``: runs ``lstmcore.benchmark`` and prints its table."""

from __future__ import annotations

import sys


def _bench_command(args) -> int:
    import importlib.util

    from .. import benchmark as bm

    if getattr(args, "programs", None):
        return _programs_command(args)
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise SystemExit(bm.plot._NEED_MATPLOTLIB)  # said before the run, not after
    targets = bm.merge_targets([bm.load_targets(path) for path in args.targets]) if args.targets else None
    shapes = {}
    if args.shapes or not args.shape:
        shapes.update(bm.resolve_shapes(args.shapes))
    for B, T, I, H in args.shape or ():
        shapes[f"{B}x{T}x{I}x{H}"] = (B, T, I, H, bm.KINDS)

    def progress(line):
        sys.stderr.write(f"lstmcore bench: {line}\n")
        sys.stderr.flush()

    try:
        results = bm.run_benchmark(
            shapes,
            kinds=args.kinds,
            threads=args.threads,
            peers=args.peers,
            cells=args.cells,
            seconds=args.seconds,
            memory=args.memory,
            isolate=not args.same_process,
            progress=progress,
            targets=targets,
        )
    except bm.EqualWorkError as exc:
        sys.stderr.write(f"lstmcore bench: the equal-work check failed, nothing was timed: {exc}\n")
        return 1
    sys.stdout.write(bm.format_table(results))
    if args.json:
        bm.save_json(results, args.json)
        sys.stdout.write(f"results written to {args.json}\n")
    if args.plot:
        bm.plot_ratios(results, args.plot)
        sys.stdout.write(f"chart written to {args.plot}\n")
    return 0


def _programs_command(args) -> int:
    """``lstmcore bench --programs``: Keras programs run by lstmcore and by Keras 3, side by side."""
    from ..benchmark import programs

    def progress(line):
        sys.stderr.write(f"lstmcore bench: {line}\n")
        sys.stderr.flush()

    results = programs.run_programs(
        args.programs, threads=args.threads, rounds=args.rounds, progress=progress
    )
    sys.stdout.write(programs.format_programs(results))
    if args.json:
        import json

        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        sys.stdout.write(f"results written to {args.json}\n")
    return 0

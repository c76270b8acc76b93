"""``lstmcore forecast``: checks the paths, runs ``lstmcore.timeseries.forecast`` and prints its
report (the job itself lives in the timeseries package)."""

from __future__ import annotations

import os
import sys

from ..timeseries.forecast import NEED_MATPLOTLIB, plot_forecast, run_forecast, verdict


def _number(v: float) -> str:
    """A metric or a forecast: 4 decimals (1e9 + 5.458 keeps its 5.458), scientific if very large or small."""
    return f"{v:.4f}" if v == 0 or 1e-3 <= abs(v) < 1e12 else f"{v:.4e}"


def _output_path(path: str, option: str) -> str:
    """``path`` if a file can be written there: not a folder, in a folder that exists."""
    if os.path.isdir(path):
        example = os.path.join(path, "out")
        raise ValueError(f"{option} {path} is a folder; expected a file name, such as {example}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{option} {path}: the folder {folder} does not exist")
    return path


def _plot_path(path: str) -> str:
    """The file the plot goes to: ``path``, with '.png' added when it has no extension (as matplotlib
    would add it); an extension matplotlib cannot write is an error."""
    if os.path.isdir(path):
        return path  # refused by _output_path
    ext = os.path.splitext(path)[1][1:].lower()
    if not ext:
        return path + ".png"
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if ext not in formats:
        known = ", ".join(sorted(formats))
        raise ValueError(f"--plot {path}: expected a file name ending in one of {known}, got .{ext}")
    return path


def _forecast_command(args) -> int:
    import importlib.util

    from .. import datasets

    # Everything a user can get wrong is said before training, not after.
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise ValueError(NEED_MATPLOTLIB)
    plot = args.plot and _output_path(_plot_path(args.plot), "--plot")
    if args.save:
        _output_path(args.save, "--save")
    if args.csv:
        if not args.column:
            raise ValueError("--csv needs --column NAME (the column to forecast)")
        dates, values = datasets.load_csv(args.csv, args.column, date_column=args.date_column)
        title = f"{args.column} ({args.csv})"
        season = args.season
    else:
        if args.column or args.date_column:
            raise ValueError("--column and --date-column go with --csv FILE")
        meta = datasets.DATASETS[args.dataset]
        dates, values = datasets.load_dataset(args.dataset)
        title = meta["description"]
        season = args.season if args.season is not None else meta.get("season")
    out = sys.stdout
    out.write(f"lstmcore forecast: {title}\n")
    out.write(
        f"  {len(values)} values; window {args.window}, horizon {args.horizon}, test part "
        f"{args.test_size:.0%}, up to {args.epochs} epochs, seed {args.seed}\n"
    )
    result = run_forecast(
        values,
        window=args.window,
        horizon=args.horizon,
        epochs=args.epochs,
        units=args.units,
        batch_size=args.batch_size,
        test_size=args.test_size,
        season=season,
        seed=args.seed,
        verbose=not args.quiet,
    )
    h = result["history"].history
    out.write(
        f"  trained {len(h['loss'])} epochs on {result['train_windows']} windows in "
        f"{result['fit_seconds']:.1f}s (best val_loss {min(h['val_loss']):.4g})\n\n"
    )
    names = {
        "lstm": "LSTM",
        "naive": "naive (last value)",
        "seasonal_naive": f"seasonal naive (season {season})",
    }
    out.write(f"  test error over {len(result['test_true'])} windows, {args.horizon} step(s) ahead:\n")
    out.write(f"  {'model':<32}{'RMSE':>12}{'MAE':>12}\n")
    for key, m in result["metrics"].items():
        out.write(f"  {names[key]:<32}{_number(m['rmse']):>12}{_number(m['mae']):>12}\n")
    out.write("\n  " + verdict(result["metrics"]) + "\n")
    steps = ", ".join(_number(v) for v in result["forecast"])
    out.write(f"  forecast for the next {args.horizon} step(s) after the last value: {steps}\n")
    if plot:
        plot_forecast(plot, dates, values, result, title)
        out.write(f"  plot written to {plot}\n")
    if args.save:
        result["model"].save(args.save)
        out.write(f"  model saved to {args.save}\n")
    return 0

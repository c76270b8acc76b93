"""The ``lstmcore`` command: ``lstmcore forecast`` (the main job), ``lstmcore info`` and ``lstmcore bench``.

``lstmcore forecast`` trains an LSTM forecaster on a bundled real series (monthly sunspot numbers,
NOAA, public domain) or on a column of the user's CSV, and prints its test error next to the naive
baselines, honestly: when a baseline wins, it says so.

Method, chosen so that the test numbers cannot leak: the series is split in time; the scaler is
fitted on the training part only; the LSTM sees windows of ``--window`` past values and predicts
the next ``--horizon``; the last 10% of the training windows are held out for early stopping; the
test windows are those whose targets all lie in the test part (their inputs may reach back into
the training part, as they would in production).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

import numpy as np

__all__ = ["MAX_PARAMETERS", "main", "run_forecast"]

# The most LSTM + Dense parameters run_forecast builds. Training holds 5 float32 copies of them
# (weights, gradients, Adam's two moments, early stopping's best weights): 20 bytes a parameter,
# 1 GB at this limit (--units 3500). --units 100000 would ask for 40 billion parameters, 800 GB.
MAX_PARAMETERS = 50_000_000


class _EpochLine:
    """One progress line per epoch (a single tqdm bar over the epochs when tqdm is installed)."""

    def __init__(self, epochs: int, stream):
        from .callbacks import Callback

        class Progress(Callback):
            def on_train_begin(inner, logs=None):
                inner.start = time.perf_counter()
                try:
                    from tqdm.auto import tqdm
                except ImportError:
                    inner.bar = None
                else:
                    inner.bar = tqdm(total=epochs, desc="training", unit="epoch", file=stream)

            def on_epoch_end(inner, epoch, logs=None):
                text = "  ".join(f"{k} {v:.4g}" for k, v in (logs or {}).items())
                if inner.bar is not None:
                    inner.bar.update(1)
                    inner.bar.set_postfix_str(text, refresh=True)
                else:
                    stream.write(
                        f"epoch {epoch + 1}/{epochs}  {text}  ({time.perf_counter() - inner.start:.1f}s)\n"
                    )
                    stream.flush()

            def on_train_end(inner, logs=None):
                if inner.bar is not None:
                    inner.bar.close()

        self.callback = Progress()


def run_forecast(
    values,
    *,
    window=24,
    horizon=1,
    epochs=40,
    units=32,
    batch_size=32,
    test_size=0.2,
    season=None,
    seed=0,
    patience=8,
    verbose=True,
    stream=None,
):
    """Train and evaluate an LSTM forecaster on ``values`` (T,); returns a dict of results.

    Keys: ``model``, ``history``, ``scaler``, ``metrics`` ({name: {'rmse', 'mae'}} for 'lstm',
    'naive' and, when ``season`` is given, 'seasonal_naive'), ``test_origins``, ``test_pred``,
    ``test_true`` (N, horizon), ``forecast`` (horizon,) beyond the end of the series, ``fit_seconds``.

    The model trains in float32 on the scaled series; predictions are scaled back and every metric
    is computed in float64 from the float64 series, so adding 1e9 to a series changes no result.
    ``ValueError`` for a series that is not finite or too short, a constant training part (nothing
    to learn: the naive forecast is exact), more than ``MAX_PARAMETERS`` parameters, or results that
    float64 cannot hold.
    """
    from . import timeseries as ts
    from .callbacks import EarlyStopping
    from .initializers import set_random_seed
    from .layers import LSTM, Dense
    from .model import Sequential

    stream = stream or sys.stdout
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"the series must be 1-D, got shape {values.shape}")
    ts._finite("the series", values)
    n_test = int(round(len(values) * test_size)) if isinstance(test_size, float) else int(test_size)
    split = len(values) - n_test  # values[:split] train, values[split:] test
    if n_test < horizon:
        raise ValueError(
            f"the test part ({n_test} of {len(values)} values) is shorter than horizon={horizon}; "
            "use a larger test size or a longer series"
        )
    if split < window + horizon + 10:
        raise ValueError(
            f"a series of {len(values)} values is too short for window={window}, horizon={horizon} and a "
            f"test part of {n_test} values"
        )
    n_params = 4 * units * (1 + units + 1) + (units + 1) * horizon  # LSTM (I = 1) and Dense
    if n_params > MAX_PARAMETERS:
        raise ValueError(
            f"units={units} and horizon={horizon} make {n_params:,} parameters; the limit is "
            f"{MAX_PARAMETERS:,} (training takes 20 bytes a parameter: {20 * n_params / 1e9:,.0f} GB here)"
        )
    if values[:split].min() == values[:split].max():
        raise ValueError(
            f"the training part (the first {split} values) is constant, every value {float(values[0])!r}: "
            "there is nothing for the LSTM to learn, and the naive forecast repeats it exactly"
        )
    set_random_seed(seed)
    scaler = ts.MinMaxScaler().fit(values[:split])
    scaled = scaler.transform(values)
    if not np.isfinite(scaled.astype(np.float32)).all():
        raise ValueError(
            "scaled by the training part's range, the test part reaches "
            f"{np.abs(scaled).max():.3g}, beyond float32 (the model's dtype): it lies far outside the "
            "training range"
        )
    X, y, origins = ts.make_windows(scaled, window, horizon, return_index=True)
    last_target = origins + horizon  # index of each window's last target
    train = last_target < split
    test = origins >= split - 1  # every target in the test part
    X_train, y_train, X_test = X[train], y[train], X[test]
    if len(X_test) == 0:
        raise ValueError(f"no test window: the test part ({n_test} values) is shorter than the horizon")

    model = Sequential([LSTM(units, input_shape=(window, 1)), Dense(horizon)])
    model.compile(optimizer="adam", loss="mse")
    callbacks = [EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)]
    if verbose:
        callbacks.append(_EpochLine(epochs, stream).callback)
    start = time.perf_counter()
    history = model.fit(
        X_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_split=0.1,
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )
    fit_seconds = time.perf_counter() - start

    test_origins = origins[test]
    # Back to the series' units in float64: float32 cannot tell 1e9 + 5 from 1e9 + 10.
    pred = _in_units(scaler, model.predict(X_test, batch_size=256), "predictions")
    true = values[test_origins[:, None] + np.arange(1, horizon + 1)]
    results = {"lstm": pred, "naive": ts.naive_forecast(values, test_origins, horizon)}
    if season:
        if test_origins.min() + 1 - season < 0:
            raise ValueError(f"season={season} needs at least {season} values before the test part")
        results["seasonal_naive"] = ts.seasonal_naive_forecast(values, test_origins, horizon, season)
    try:
        metrics = {name: {"rmse": ts.rmse(true, p), "mae": ts.mae(true, p)} for name, p in results.items()}
    except ValueError as exc:
        raise ValueError(f"the test errors do not fit in float64: {exc}") from None
    last = scaled[-window:].reshape(1, window, 1)
    forecast = _in_units(scaler, model.predict(last), "forecast").reshape(horizon)
    return {
        "model": model,
        "history": history,
        "scaler": scaler,
        "metrics": metrics,
        "test_origins": test_origins,
        "test_pred": pred,
        "test_true": true,
        "forecast": forecast,
        "fit_seconds": fit_seconds,
        "split": split,
        "window": window,
        "train_windows": int(train.sum()),
    }


def _in_units(scaler, pred, what: str) -> np.ndarray:
    """Scaled model outputs back in the series' units, in float64; a non-finite one is a ValueError."""
    pred = np.asarray(pred, dtype=np.float64)
    if not np.isfinite(pred).all():
        raise ValueError(f"the LSTM's {what} are not finite (training diverged)")
    try:
        return scaler.inverse_transform(pred)
    except ValueError as exc:
        raise ValueError(f"the LSTM's {what}, in the series' units, do not fit in float64: {exc}") from None


def _verdict(metrics: dict) -> str:
    lstm = metrics["lstm"]["rmse"]
    name, best = min(((k, v["rmse"]) for k, v in metrics.items() if k != "lstm"), key=lambda kv: kv[1])
    label = name.replace("_", " ")
    if lstm == best:
        return f"The LSTM ties with the best baseline ({label}) in test RMSE."
    if lstm < best:
        return f"The LSTM beats the best baseline ({label}) by {100 * (1 - lstm / best):.1f}% in test RMSE."
    return (
        f"The {label} baseline wins: its test RMSE is {100 * (1 - best / lstm):.1f}% lower than the "
        "LSTM's. Try a longer --window, more --epochs, or keep the baseline."
    )


def _plot(path, dates, values, result, title):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit(_NEED_MATPLOTLIB) from None
    fig, (ax_loss, ax, ax_zoom) = plt.subplots(
        3, 1, figsize=(10, 10), gridspec_kw={"height_ratios": [1, 1.6, 1.6]}
    )
    h = result["history"].history
    ax_loss.plot(np.arange(1, len(h["loss"]) + 1), h["loss"], label="training loss")
    if "val_loss" in h:
        ax_loss.plot(np.arange(1, len(h["val_loss"]) + 1), h["val_loss"], label="validation loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("MSE (scaled)")
    ax_loss.set_yscale("log")
    ax_loss.legend()
    n = len(values)
    # matplotlib's transforms overflow near 1e308: a very large series is drawn in units of 1e{k}
    pred, forecast = result["test_pred"], result["forecast"]
    peak = max(float(np.abs(a).max()) for a in (values, pred, forecast))
    k = int(np.floor(np.log10(peak))) if peak > 1e100 else 0
    values, pred, forecast = values / 10.0**k, pred / 10.0**k, forecast / 10.0**k
    # The whole series, then the end of the test part and the forecast, close up.
    zoom_from = max(0, n - max(8 * result["window"], 120))
    for axis, lo in ((ax, 0), (ax_zoom, zoom_from)):
        if k:
            axis.set_ylabel(f"values / 1e{k}")
        t = np.arange(lo, n)
        axis.plot(t, values[lo:], color="0.55", lw=0.8, label="series")
        keep = result["test_origins"] + 1 >= lo
        origins = result["test_origins"][keep]
        axis.plot(
            origins + 1,
            pred[keep, 0],
            color="C1",
            lw=1,
            label="LSTM, one step ahead (test)",
        )
        horizon = len(forecast)
        axis.plot(
            n - 1 + np.arange(0, horizon + 1),
            np.r_[values[-1], forecast],
            color="C3",
            marker="o",
            ms=3,
            label=f"forecast, next {horizon}",
        )
        if result["split"] >= lo:
            axis.axvline(result["split"], color="k", ls="--", lw=0.8)
            axis.text(result["split"], axis.get_ylim()[1], " test", va="top")
        if dates is not None:
            ticks = np.linspace(lo, n - 1, 8).astype(int)
            axis.set_xticks(ticks, [str(dates[i]) for i in ticks])
        axis.legend(loc="upper left")
    ax.set_title(title)
    ax_zoom.set_title(f"the last {n - zoom_from} values and the forecast")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


_NEED_MATPLOTLIB = "--plot needs matplotlib: pip install 'lstmcore[plot]' (or: pip install matplotlib)"


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

    from . import datasets

    # Everything a user can get wrong is said before training, not after.
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise ValueError(_NEED_MATPLOTLIB)
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
    out.write("\n  " + _verdict(result["metrics"]) + "\n")
    steps = ", ".join(_number(v) for v in result["forecast"])
    out.write(f"  forecast for the next {args.horizon} step(s) after the last value: {steps}\n")
    if plot:
        _plot(plot, dates, values, result, title)
        out.write(f"  plot written to {plot}\n")
    if args.save:
        result["model"].save(args.save)
        out.write(f"  model saved to {args.save}\n")
    return 0


def _info_command(args) -> int:
    import lstmcore

    print(f"lstmcore {lstmcore.__version__}, backend {lstmcore.backend}")
    for key, value in lstmcore.threadpool_info().items():
        print(f"  {key}: {value}")
    return 0


def _bench_command(args) -> int:
    import importlib.util

    from . import benchmark as bm

    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise SystemExit(bm._NEED_MATPLOTLIB)  # said before the run, not after
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
            seconds=args.seconds,
            memory=args.memory,
            isolate=not args.same_process,
            progress=progress,
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


def _names(choices):
    """argparse type: a comma-separated list of names among ``choices``."""

    def parse(text: str) -> list:
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"expected names among {','.join(choices)}, got {text!r}")
        return names

    return parse


def _positive_list(text: str) -> list:
    try:
        values = [int(n) for n in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return values


def _dims(text: str) -> tuple:
    values = _positive_list(text)
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"expected B,T,I,H (4 positive integers), got {text!r}")
    return tuple(values)


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
    from .datasets import DATASETS

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
    i = sub.add_parser("info", help="version, backend, threads and BLAS")
    i.set_defaults(func=_info_command)
    from .benchmark import KINDS, PEERS, SHAPES

    bench = sub.add_parser(
        "bench",
        help="time lstmcore beside PyTorch, ONNX Runtime, the reference and the GEMM-only bound",
        description=(
            "The side-by-side benchmark of DESIGN.md section 4: every peer on the same problem and "
            "thread count, outputs checked against the reference first, rounds interleaved; prints "
            "the median times, the ratios peer/lstmcore and lstmcore/bound, and the targets of issue "
            "4. Peers that are not installed are skipped (pip install 'lstmcore[bench]')."
        ),
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
    bench.set_defaults(func=_bench_command)
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

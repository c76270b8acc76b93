"""The forecasting job behind ``lstmcore forecast``: train an LSTM on a series, test it against
the naive baselines in float64, and draw the result.

Method, chosen so that the test numbers cannot leak: the series is split in time; the scaler is
fitted on the training part only; the LSTM sees windows of ``window`` past values and predicts
the next ``horizon``; the last 10% of the training windows are held out for early stopping; the
test windows are those whose targets all lie in the test part (their inputs may reach back into
the training part, as they would in production).
"""

from __future__ import annotations

import sys
import time

import numpy as np

__all__ = ["MAX_PARAMETERS", "NEED_MATPLOTLIB", "plot_forecast", "run_forecast", "verdict"]

NEED_MATPLOTLIB = "--plot needs matplotlib: pip install 'lstmcore[plot]' (or: pip install matplotlib)"

# The most LSTM + Dense parameters run_forecast builds. Training holds 5 float32 copies of them
# (weights, gradients, Adam's two moments, early stopping's best weights): 20 bytes a parameter,
# 1 GB at this limit (--units 3500). --units 100000 would ask for 40 billion parameters, 800 GB.
MAX_PARAMETERS = 50_000_000


class _EpochLine:
    """One progress line per epoch (a single tqdm bar over the epochs when tqdm is installed)."""

    def __init__(self, epochs: int, stream):
        from ..callbacks import Callback

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
    from .. import timeseries as ts
    from ..callbacks import EarlyStopping
    from ..initializers import set_random_seed
    from ..layers import LSTM, Dense
    from ..model import Sequential

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


def verdict(metrics: dict) -> str:
    """One sentence: whether the LSTM beats the best baseline of ``metrics`` in test RMSE, by how much."""
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


def plot_forecast(path, dates, values, result, title):
    """Draw the losses, the series with the test predictions and the forecast, and a close-up of
    the end, to ``path`` (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(NEED_MATPLOTLIB) from None
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

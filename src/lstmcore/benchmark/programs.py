"""Keras programs side by side: the same program written once, run by lstmcore and by Keras 3 (on
its PyTorch backend) with only the imports changed, its training epoch and its prediction timed
(``lstmcore bench --programs``).

Each program is what a tutorial or a first user writes (the seed example, stacked and
encoder-decoder forecasters, a CNN-LSTM, an IMDB-style classifier with front padding and a mask,
keras.io's convolutional anomaly autoencoder and its time-series Transformer), at the sizes of
its tutorial, on synthetic data of those shapes. Both frameworks get the same data, batch size,
loss, optimizer (Adam) and thread count; the weights differ (each framework draws its own), so
what is compared is the work of an epoch, not its numbers.

Each framework runs in a process of its own (importing both in one process would share the BLAS
and thread pools), the processes in turn for ``rounds`` rounds: in each, one fit epoch to warm
up, ``epochs`` timed epochs and ``epochs`` timed predictions; the table gives the medians over
all rounds and the ratio keras/lstmcore (above 1: lstmcore is faster).

``python -m lstmcore.benchmark.programs NAME FRAMEWORK THREADS EPOCHS`` is one process's run; it
prints one JSON line. ``LSTMCORE_PROGRAMS_SCALE`` (a fraction, default 1) shrinks every program's
sample count (tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

FRAMEWORKS = ("lstmcore", "keras")
INSTALL_HINT = "pip install keras torch (Keras 3 runs on its PyTorch backend here)"


def _samples(n: int) -> int:
    scale = float(os.environ.get("LSTMCORE_PROGRAMS_SCALE", "1"))
    return max(8, int(n * scale))


def _f32(a):
    return np.asarray(a, dtype=np.float32)


def _seed(K, L, rng):
    X = _f32(rng.standard_normal((_samples(4096), 3, 1)))
    model = K.Sequential([L.Input((3, 1)), L.LSTM(50, activation="relu"), L.Dense(1)])
    return model, X, X.sum(axis=1), 32, "mse"


def _stacked(K, L, rng):
    X = _f32(rng.standard_normal((_samples(8192), 30, 5)))
    model = K.Sequential([L.Input((30, 5)), L.LSTM(64, return_sequences=True), L.LSTM(32), L.Dense(1)])
    return model, X, X[:, -5:, :1].sum(axis=1), 64, "mse"


def _encoder_decoder(K, L, rng):
    X = _f32(rng.standard_normal((_samples(4096), 20, 1)))
    model = K.Sequential(
        [
            L.Input((20, 1)),
            L.LSTM(100, activation="relu"),
            L.RepeatVector(10),
            L.LSTM(100, activation="relu", return_sequences=True),
            L.TimeDistributed(L.Dense(1)),
        ]
    )
    return model, X, X[:, -10:], 32, "mse"


def _cnn_lstm(K, L, rng):
    X = _f32(rng.standard_normal((_samples(8192), 60, 1)))
    model = K.Sequential(
        [
            L.Input((60, 1)),
            L.Conv1D(64, 3, activation="relu"),
            L.MaxPooling1D(2),
            L.LSTM(50),
            L.Dense(1),
        ]
    )
    return model, X, X[:, -10:, 0].mean(axis=1, keepdims=True), 64, "mse"


def _imdb_bilstm(K, L, rng):
    n, T = _samples(2048), 200
    X = rng.integers(1, 20000, (n, T))
    lengths = rng.integers(20, T + 1, n)
    X[np.arange(T)[None] < (T - lengths)[:, None]] = 0  # front padding, as pad_sequences
    model = K.Sequential(
        [
            L.Input((T,)),
            L.Embedding(20000, 64, mask_zero=True),
            L.Bidirectional(L.LSTM(64)),
            L.Dense(1, activation="sigmoid"),
        ]
    )
    return model, X, _f32(rng.integers(0, 2, (n, 1))), 64, "binary_crossentropy"


def _gru_classifier(K, L, rng):
    n = _samples(4096)
    X = rng.integers(1, 5000, (n, 100))
    model = K.Sequential(
        [L.Input((100,)), L.Embedding(5000, 32), L.GRU(64), L.Dense(3, activation="softmax")]
    )
    return model, X, rng.integers(0, 3, n), 64, "sparse_categorical_crossentropy"


def _conv_autoencoder(K, L, rng):
    X = _f32(rng.standard_normal((_samples(3745), 288, 1)))
    conv = {"kernel_size": 7, "padding": "same", "strides": 2, "activation": "relu"}
    model = K.Sequential(
        [
            L.Input((288, 1)),
            L.Conv1D(32, **conv),
            L.Dropout(0.2),
            L.Conv1D(16, **conv),
            L.Conv1DTranspose(16, **conv),
            L.Dropout(0.2),
            L.Conv1DTranspose(32, **conv),
            L.Conv1DTranspose(1, 7, padding="same"),
        ]
    )
    return model, X, X, 128, "mse"


def _transformer(K, L, rng):
    n = _samples(1024)
    X = _f32(rng.standard_normal((n, 100, 8)))
    inputs = L.Input((100, 8))
    x = inputs
    for _ in range(2):  # keras.io's encoder block: attention, then a feed-forward of Conv1D(1)
        a = L.MultiHeadAttention(num_heads=4, key_dim=32, dropout=0.1)(x, x)
        x1 = L.LayerNormalization(epsilon=1e-6)(L.Add()([x, L.Dropout(0.1)(a)]))
        f = L.Conv1D(8, 1)(L.Conv1D(16, 1, activation="relu")(x1))
        x = L.LayerNormalization(epsilon=1e-6)(L.Add()([x1, f]))
    x = L.GlobalAveragePooling1D(data_format="channels_first")(x)
    outputs = L.Dense(2, activation="softmax")(L.Dense(64, activation="relu")(x))
    return K.Model(inputs, outputs), X, rng.integers(0, 2, n), 64, "sparse_categorical_crossentropy"


# name: (what it is, its builder)
PROGRAMS = {
    "seed": ("the seed example: LSTM(50, relu) on 3 steps, Dense(1)", _seed),
    "stacked": ("two stacked LSTMs (64, 32) on 30 steps of 5 features", _stacked),
    "encoder-decoder": ("LSTM(100), RepeatVector, LSTM(100), TimeDistributed(Dense)", _encoder_decoder),
    "cnn-lstm": ("Conv1D(64), MaxPooling1D, LSTM(50) on 60 steps", _cnn_lstm),
    "imdb-bilstm": ("Embedding(mask_zero) on front-padded ids, Bidirectional(LSTM(64))", _imdb_bilstm),
    "gru": ("Embedding, GRU(64), softmax over 3 classes", _gru_classifier),
    "conv-autoencoder": ("keras.io's anomaly autoencoder: Conv1D and Conv1DTranspose", _conv_autoencoder),
    "transformer": ("keras.io's time-series Transformer: 2 blocks of 4-head attention", _transformer),
}


class _Namespace:
    """``Sequential``, ``Model`` and ``Input`` of one framework, as a program reads them."""

    def __init__(self, framework: str):
        if framework == "keras":
            os.environ.setdefault("KERAS_BACKEND", "torch")
            import keras

            self.Sequential, self.Model, self.layers = keras.Sequential, keras.Model, keras.layers
            self.seed = keras.utils.set_random_seed
        else:
            import lstmcore

            self.Sequential, self.Model = lstmcore.models.Sequential, lstmcore.models.Model
            self.layers, self.seed = lstmcore.layers, lstmcore.utils.set_random_seed


def _set_threads(framework: str, threads: int) -> None:
    if framework == "keras":
        import torch

        torch.set_num_threads(threads)
    else:
        import lstmcore

        lstmcore.set_num_threads(threads)


def run_one(name: str, framework: str, threads: int, epochs: int) -> dict:
    """One process's run of program ``name`` in ``framework``: a warm-up epoch, then ``epochs``
    timed fit epochs and predictions; returns their times in seconds."""
    if name not in PROGRAMS:
        raise ValueError(f"unknown program {name!r}; the programs: {', '.join(PROGRAMS)}")
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {FRAMEWORKS}, got {framework!r}")
    ns = _Namespace(framework)
    _set_threads(framework, threads)
    ns.seed(0)
    model, X, y, batch, loss = PROGRAMS[name][1](ns, ns.layers, np.random.default_rng(0))
    model.compile(optimizer="adam", loss=loss)
    model.fit(X, y, epochs=1, batch_size=batch, verbose=0)
    fit, predict = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(X, y, epochs=1, batch_size=batch, verbose=0)
        fit.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.predict(X, batch_size=batch, verbose=0)
        predict.append(time.perf_counter() - start)
    return {"program": name, "framework": framework, "threads": threads, "fit_s": fit, "predict_s": predict}


def available(framework: str) -> str | None:
    """None where ``framework`` can run, else what to install."""
    import importlib.util

    if framework == "keras" and not all(importlib.util.find_spec(m) for m in ("keras", "torch")):
        return INSTALL_HINT
    return None


def run_programs(names=None, threads=None, rounds=2, epochs=2, frameworks=FRAMEWORKS, progress=None):
    """Each program of ``names`` (default all) in each framework of ``frameworks`` that is
    installed, the frameworks' processes in turn for ``rounds`` rounds, at each thread count of
    ``threads`` (default: all cores); returns one result dict per program and thread count:
    medians of fit epochs and predictions per framework and the ratios keras/lstmcore."""
    from ..engine._threads import cpu_count

    names = list(PROGRAMS) if names is None else list(names)
    unknown = [n for n in names if n not in PROGRAMS]
    if unknown:
        raise ValueError(f"unknown programs {unknown}; the programs: {', '.join(PROGRAMS)}")
    threads = [cpu_count()] if threads is None else list(threads)
    skipped = {f: available(f) for f in frameworks if available(f)}
    for f, hint in skipped.items():
        if progress:
            progress(f"{f} skipped: {hint}")
    runnable = [f for f in frameworks if f not in skipped]
    results = []
    for name in names:
        for n in threads:
            times = {f: {"fit_s": [], "predict_s": []} for f in runnable}
            for r in range(rounds):
                for f in runnable if r % 2 == 0 else runnable[::-1]:
                    one = _subprocess(name, f, n, epochs)
                    times[f]["fit_s"] += one["fit_s"]
                    times[f]["predict_s"] += one["predict_s"]
            row = {"program": name, "threads": n, "times": times}
            for kind in ("fit_s", "predict_s"):
                for f in runnable:
                    row[f"{f}_{kind}"] = float(np.median(times[f][kind]))
                if {"lstmcore", "keras"} <= set(runnable):
                    row[f"ratio_{kind}"] = row[f"keras_{kind}"] / row[f"lstmcore_{kind}"]
            results.append(row)
            if progress:
                progress(_progress_line(row, runnable))
    return results


def _subprocess(name: str, framework: str, threads: int, epochs: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "lstmcore.benchmark.programs", name, framework, str(threads), str(epochs)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{framework} on {name!r} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _progress_line(row: dict, frameworks) -> str:
    parts = [f"{f} fit {row[f'{f}_fit_s']:.3g} s, predict {row[f'{f}_predict_s']:.3g} s" for f in frameworks]
    return f"{row['program']}, {row['threads']} threads: " + "; ".join(parts)


def format_programs(results) -> str:
    """The table: per program and thread count, medians of an epoch's fit and of a prediction
    over the training data for each framework, and keras/lstmcore."""
    head = ["program", "threads", "lstmcore fit", "keras fit", "keras/lc"]
    head += ["lstmcore predict", "keras predict", "keras/lc"]
    keys = ["lstmcore_fit_s", "keras_fit_s", "ratio_fit_s", "lstmcore_predict_s", "keras_predict_s"]
    keys += ["ratio_predict_s"]
    rows = [head]
    for r in results:
        cells = ["-" if k not in r else f"{r[k]:.3g}" + ("" if k.startswith("ratio") else " s") for k in keys]
        rows.append([r["program"], str(r["threads"]), *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join([row[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)])
        for row in rows
    ]
    notes = [
        "",
        "Keras programs with only the imports changed: medians of one epoch's fit and of predict over the "
        "training data; keras/lc above 1: lstmcore is faster. Keras 3 on its PyTorch backend; each framework "
        "in a process of its own, the processes in turn.",
    ]
    return "\n".join(lines + notes) + "\n"


if __name__ == "__main__":
    name_, framework_, threads_, epochs_ = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(run_one(name_, framework_, threads_, epochs_)))

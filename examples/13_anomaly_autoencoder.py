"""Anomaly detection with a convolutional autoencoder (keras.io's "Timeseries anomaly detection
using an Autoencoder", on a synthetic series of its kind).

A daily-periodic signal sampled every 10 minutes (144 steps a day; keras.io's has 288, one every
5 minutes) is cut into windows of one day. Conv1D layers with strides 2 halve the steps twice,
Conv1DTranspose layers double them back, and the model learns to give back its input (mse). The
largest reconstruction error (MAE) of a training window is the threshold; in a test series with a
burst injected, the windows above it are the anomalies, and the steps they all share are reported.

Run: python examples/13_anomaly_autoencoder.py [--quick]
"""

import argparse
import os

import numpy as np

from lstmcore.callbacks import EarlyStopping
from lstmcore.layers import Conv1D, Conv1DTranspose, Dropout, Input
from lstmcore.models import Sequential
from lstmcore.optimizers import Adam
from lstmcore.utils import set_random_seed

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

TIME_STEPS = 48 if QUICK else 144
DAYS = 4 if QUICK else 10
set_random_seed(42)
rng = np.random.default_rng(42)


def series(days):
    t = np.arange(days * TIME_STEPS)
    return 20 + 10 * np.sin(2 * np.pi * t / TIME_STEPS) + rng.normal(0, 1, t.size)


train = series(DAYS)
test = series(DAYS)
burst = slice(len(test) // 2, len(test) // 2 + TIME_STEPS // 8)
test[burst] += 25  # the anomaly
mean, std = train.mean(), train.std()


def windows(values):
    z = (values - mean) / std
    return np.stack([z[i : i + TIME_STEPS] for i in range(len(z) - TIME_STEPS + 1)])[..., None]


x_train, x_test = windows(train), windows(test)
model = Sequential(
    [
        Input(shape=(x_train.shape[1], x_train.shape[2])),
        Conv1D(filters=32, kernel_size=7, padding="same", strides=2, activation="relu"),
        Dropout(rate=0.2),
        Conv1D(filters=16, kernel_size=7, padding="same", strides=2, activation="relu"),
        Conv1DTranspose(filters=16, kernel_size=7, padding="same", strides=2, activation="relu"),
        Dropout(rate=0.2),
        Conv1DTranspose(filters=32, kernel_size=7, padding="same", strides=2, activation="relu"),
        Conv1DTranspose(filters=1, kernel_size=7, padding="same"),
    ]
)
model.compile(optimizer=Adam(learning_rate=0.001), loss="mse")
history = model.fit(
    x_train,
    x_train,
    epochs=3 if QUICK else 50,
    batch_size=128,
    validation_split=0.1,
    callbacks=[EarlyStopping(monitor="val_loss", patience=5, mode="min")],
    verbose=0,
)
train_mae = np.mean(np.abs(model.predict(x_train, verbose=0) - x_train), axis=1)[:, 0]
threshold = np.max(train_mae)
test_mae = np.mean(np.abs(model.predict(x_test, verbose=0) - x_test), axis=1)[:, 0]
anomalies = np.flatnonzero(test_mae > threshold)
print(f"trained {len(history.history['loss'])} epochs, final loss {history.history['loss'][-1]:.4f}")
# a step is anomalous where every window that holds it is
steps = [
    t
    for t in range(TIME_STEPS - 1, len(test) - TIME_STEPS + 1)
    if np.all(test_mae[t - TIME_STEPS + 1 : t + 1] > threshold)
]
found = bool(steps) and burst.start <= steps[len(steps) // 2] < burst.stop
print(f"anomalous steps: {len(steps)}, inside the injected burst: {found}")
print(f"reconstruction MAE threshold: {threshold:.3f}; anomalous test windows: {len(anomalies)}", end="")
print(f" of {len(x_test)}")

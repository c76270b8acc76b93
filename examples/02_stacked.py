"""Stacked LSTMs: the first returns its whole sequence (return_sequences=True) for the second.

The series is the sum of two sines of different periods plus noise; from the last 30 values the
model predicts the next one. The first LSTM passes every step's output to the second, which returns
only its last. The test MSE is compared with repeating the last value.

Run: python examples/02_stacked.py [--quick]
"""

import argparse
import os

import numpy as np

from lstmcore.layers import LSTM, Dense, Input
from lstmcore.models import Sequential
from lstmcore.utils import set_random_seed

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

STEPS = 30
set_random_seed(42)
rng = np.random.default_rng(42)

t = np.arange(300 if QUICK else 3000)
series = np.sin(2 * np.pi * t / 25) + 0.5 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.1, t.size)
X = np.stack([series[i : i + STEPS] for i in range(series.size - STEPS)])[..., None].astype("float32")
y = series[STEPS:, None].astype("float32")
n_train = int(len(X) * 0.8)
x_train, x_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]

model = Sequential(
    [
        Input(shape=(STEPS, 1)),
        LSTM(32, return_sequences=True),  # (batch, STEPS, 32): one output per step
        LSTM(16),  # (batch, 16): the last step only
        Dense(1),
    ]
)
model.compile(optimizer="adam", loss="mse")
model.fit(x_train, y_train, epochs=2 if QUICK else 30, batch_size=32, validation_split=0.1, verbose=0)

mse = model.evaluate(x_test, y_test, verbose=0)
naive_mse = float(np.mean((x_test[:, -1] - y_test) ** 2))
print(f"stacked LSTM test MSE: {mse:.4f}  last-value MSE: {naive_mse:.4f}")

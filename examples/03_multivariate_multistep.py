"""Several input features, several steps out: a Dense(HORIZON) head forecasts the next 6 values.

A synthetic "building" series: hourly outdoor temperature and occupancy drive the heating load,
which follows them with a lag. Each sample is the last 48 hours of all three series; the target is
the load over the next 6 hours. The features are standardized with the training part's mean and
standard deviation; the test MAE per step ahead is compared with repeating the last load.

Run: python examples/03_multivariate_multistep.py [--quick]
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

WINDOW, HORIZON = 48, 6
set_random_seed(42)
rng = np.random.default_rng(42)

hours = np.arange(400 if QUICK else 3000)
temperature = 10 + 8 * np.sin(2 * np.pi * hours / 24) + np.cumsum(rng.normal(0, 0.3, hours.size))
occupancy = ((hours % 24 >= 8) & (hours % 24 < 18) & (hours // 24 % 7 < 5)).astype(float)
load = np.zeros(hours.size)
for h in range(3, hours.size):  # load reacts to the temperature 3 hours ago and to occupancy now
    load[h] = 0.7 * load[h - 1] + 0.3 * (20 - temperature[h - 3]) + 2 * occupancy[h]
load += rng.normal(0, 0.2, hours.size)
data = np.stack([temperature, occupancy, load], axis=1)  # (hours, 3 features)

n_train = int(len(data) * 0.8)
mean, std = data[:n_train].mean(axis=0), data[:n_train].std(axis=0)
scaled = ((data - mean) / std).astype("float32")
starts = np.arange(len(data) - WINDOW - HORIZON + 1)
X = np.stack([scaled[s : s + WINDOW] for s in starts])  # (samples, WINDOW, 3)
y = np.stack([scaled[s + WINDOW : s + WINDOW + HORIZON, 2] for s in starts])  # (samples, HORIZON)
train = starts + WINDOW + HORIZON <= n_train
test = starts + WINDOW >= n_train

model = Sequential([Input(shape=(WINDOW, 3)), LSTM(48), Dense(HORIZON)])
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
model.fit(X[train], y[train], epochs=2 if QUICK else 15, batch_size=32, validation_split=0.1, verbose=0)

pred = model.predict(X[test], verbose=0) * std[2] + mean[2]
truth = y[test] * std[2] + mean[2]
last = X[test][:, -1:, 2] * std[2] + mean[2]  # repeat the last observed load
lstm_mae = np.abs(pred - truth).mean(axis=0)
naive_mae = np.abs(last - truth).mean(axis=0)
print("hours ahead:    " + " ".join(f"{h:6d}" for h in range(1, HORIZON + 1)))
print("LSTM MAE:       " + " ".join(f"{v:6.3f}" for v in lstm_mae))
print("last-value MAE: " + " ".join(f"{v:6.3f}" for v in naive_mae))
print(f"mean MAE over {HORIZON} steps: LSTM {lstm_mae.mean():.3f}, last value {naive_mae.mean():.3f}")

"""Univariate forecasting: next month's sunspot number from the previous two years, with an LSTM.

The bundled monthly sunspot series (1749-2008) is split in time (the last 20% is the test part),
scaled to [0, 1] with a scaler fitted on the training part only, and cut into sliding windows. An
LSTM learns one step ahead; its test RMSE is compared with the naive forecast "next month equals
this month", the baseline every forecasting model has to beat.

Run: python examples/01_forecasting.py [--quick]
"""

import argparse
import os

from lstmcore import timeseries as ts
from lstmcore.callbacks import EarlyStopping
from lstmcore.datasets import load_dataset
from lstmcore.layers import LSTM, Dense, Input
from lstmcore.models import Sequential
from lstmcore.utils import set_random_seed

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

WINDOW = 24  # months in, one month out
set_random_seed(42)

months, values = load_dataset("sunspots")
if QUICK:
    months, values = months[-400:], values[-400:]
split = int(len(values) * 0.8)
scaler = ts.MinMaxScaler().fit(values[:split])
X, y, origins = ts.make_windows(scaler.transform(values), WINDOW, 1, return_index=True)
train = origins + 1 < split  # the target of every training window lies before the split
test = origins >= split - 1  # every test target lies after it
X, y = X.astype("float32"), y.astype("float32")  # X (samples, WINDOW, 1 feature), y (samples, 1)

model = Sequential([Input(shape=(WINDOW, 1)), LSTM(32), Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(
    X[train],
    y[train],
    epochs=2 if QUICK else 25,
    batch_size=32,
    validation_split=0.1,
    callbacks=[EarlyStopping(patience=5, restore_best_weights=True)],
    verbose=0,
)

truth = values[origins[test] + 1]
lstm_pred = scaler.inverse_transform(model.predict(X[test], verbose=0))[:, 0]
naive_pred = ts.naive_forecast(values, origins[test], 1)[:, 0]
lstm_rmse, naive_rmse = ts.rmse(truth, lstm_pred), ts.rmse(truth, naive_pred)
print(f"test months: {test.sum()} ({months[split]} to {months[-1]})")
print(f"LSTM RMSE: {lstm_rmse:.2f}  naive RMSE: {naive_rmse:.2f}  (sunspots)")

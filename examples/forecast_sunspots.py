"""Forecasting the bundled monthly sunspot numbers with the model API, step by step.

What `lstmcore forecast` does, written out: chronological split, a scaler fitted on the training
part only, sliding windows, an LSTM with early stopping, and the honest comparison with the naive
baselines. Run: python examples/forecast_sunspots.py
"""

import numpy as np

from lstmcore import Sequential, set_random_seed
from lstmcore import timeseries as ts
from lstmcore.callbacks import EarlyStopping
from lstmcore.datasets import load_dataset
from lstmcore.layers import LSTM, Dense

WINDOW, HORIZON, SEASON = 24, 1, 132  # two years in, one month out; the solar cycle is ~11 years

set_random_seed(0)
months, values = load_dataset("sunspots")
split = int(len(values) * 0.8)
scaler = ts.MinMaxScaler().fit(values[:split])
X, y, origins = ts.make_windows(scaler.transform(values), WINDOW, HORIZON, return_index=True)
train = origins + HORIZON < split
test = origins >= split - 1

model = Sequential([LSTM(32, input_shape=(WINDOW, 1)), Dense(HORIZON)])
model.compile(optimizer="adam", loss="mse")
model.fit(
    X[train],
    y[train],
    epochs=40,
    validation_split=0.1,
    verbose=2,
    callbacks=[EarlyStopping(patience=8, restore_best_weights=True)],
)

truth = values[origins[test][:, None] + np.arange(1, HORIZON + 1)]
forecasts = {
    "LSTM": scaler.inverse_transform(model.predict(X[test])),
    "naive (last value)": ts.naive_forecast(values, origins[test], HORIZON),
    "seasonal naive": ts.seasonal_naive_forecast(values, origins[test], HORIZON, SEASON),
}
print(f"test: {test.sum()} months from {months[split]} to {months[-1]}")
for name, pred in forecasts.items():
    print(f"{name:<20} RMSE {ts.rmse(truth, pred):8.3f}   MAE {ts.mae(truth, pred):8.3f}")

# Streaming: feed the last window one month at a time, as a device would.
model.reset_states()
for value in scaler.transform(values[-WINDOW:]):
    next_scaled = model.predict_step(np.array([value]))
print(f"next month ({months[-1]} + 1): {scaler.inverse_transform(next_scaled)[0]:.1f} sunspots")

"""Weather forecasting from windows of several features (keras.io's "Timeseries forecasting for
weather prediction", on a synthetic climate series of its kind).

Seven hourly-sampled features (the tutorial picks seven of Jena's fourteen) are normalized with
the training split's mean and deviation; timeseries_dataset_from_array makes windows of the last
720 observations (every 6th one: 120 steps) whose target is the temperature 72 observations after
the window. An LSTM(32) and a Dense(1) learn it; ModelCheckpoint keeps the best weights in
model_checkpoint.weights.h5 (Keras 3's weights file) and EarlyStopping ends the training. The
validation loss of the best weights and of the last value of the temperature are printed.

Run: python examples/15_weather_forecasting.py [--quick]
"""

import argparse
import os

import numpy as np

from lstmcore.callbacks import EarlyStopping, ModelCheckpoint
from lstmcore.layers import LSTM, Dense, Input
from lstmcore.models import Model
from lstmcore.optimizers import Adam
from lstmcore.utils import set_random_seed, timeseries_dataset_from_array

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

set_random_seed(42)
rng = np.random.default_rng(42)
n = 6000 if QUICK else 20000
hours = np.arange(n) / 6  # one observation every 10 minutes
daily, yearly = np.sin(2 * np.pi * hours / 24), np.sin(2 * np.pi * hours / (24 * 365))
weather = np.cumsum(rng.normal(0, 0.05, n))  # slow changes that are not periodic
temperature = 8 + 6 * daily + 10 * yearly + 3 * weather + rng.normal(0, 0.3, n)
features = np.stack(
    [
        1000 - 2 * weather + rng.normal(0, 0.5, n),  # pressure
        temperature,
        temperature - 3 + rng.normal(0, 0.5, n),  # dew point
        80 - 10 * daily + rng.normal(0, 3, n),  # relative humidity
        10 + 5 * daily + 2 * weather,  # vapour pressure
        1.2 - 0.01 * temperature,  # air density
        3 + np.abs(rng.normal(0, 1.5, n)),  # wind speed
    ],
    axis=1,
)

split_fraction = 0.715
train_split = int(split_fraction * n)
step, past, future = 6, 720, 72
learning_rate, batch_size, epochs = 0.001, 256, 2 if QUICK else 10

mean, std = features[:train_split].mean(axis=0), features[:train_split].std(axis=0)
features = (features - mean) / std
train_data, val_data = features[: train_split - 1], features[train_split:]

start = past + future
x_train, y_train = train_data, features[start : start + train_split][:, 1]
sequence_length = int(past / step)
dataset_train = timeseries_dataset_from_array(
    x_train, y_train, sequence_length=sequence_length, sampling_rate=step, batch_size=batch_size
)
x_end = len(val_data) - past - future
x_val, y_val = val_data[:x_end], features[train_split + past + future :][:, 1]
dataset_val = timeseries_dataset_from_array(
    x_val, y_val, sequence_length=sequence_length, sampling_rate=step, batch_size=batch_size
)
for batch in dataset_train.take(1):
    inputs, targets = batch
print("Input shape:", inputs.numpy().shape, "Target shape:", targets.numpy().shape)

inputs = Input(shape=(inputs.shape[1], inputs.shape[2]))
lstm_out = LSTM(32)(inputs)
outputs = Dense(1)(lstm_out)
model = Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=Adam(learning_rate=learning_rate), loss="mse")

path_checkpoint = "model_checkpoint.weights.h5"
es_callback = EarlyStopping(monitor="val_loss", min_delta=0, patience=5)
modelckpt_callback = ModelCheckpoint(
    monitor="val_loss", filepath=path_checkpoint, verbose=0, save_weights_only=True, save_best_only=True
)
history = model.fit(
    dataset_train,
    epochs=epochs,
    validation_data=dataset_val,
    callbacks=[es_callback, modelckpt_callback],
    verbose=0,
)
model.load_weights(path_checkpoint)
val_loss = model.evaluate(dataset_val, verbose=0)
last = np.concatenate([x[:, -1, 1] for x, _ in dataset_val])  # the window's last temperature
naive = float(np.mean((last - np.concatenate([y for _, y in dataset_val])) ** 2))
print(f"trained {len(history.history['loss'])} epochs")
print(f"validation MSE of the best weights: {val_loss:.4f}  last temperature: {naive:.4f}")

"""Encoder-decoder in a Sequential model: LSTM, RepeatVector, LSTM, TimeDistributed(Dense).

The encoder LSTM reads 40 steps of a noisy wave (random period, phase and amplitude) into one
vector; RepeatVector hands that vector to every one of the 10 output steps; the decoder LSTM
unrolls it and TimeDistributed(Dense(1)) maps each decoder step to a value. The test MSE over the
10 forecast steps is compared with repeating the last observed value.

Run: python examples/04_encoder_decoder.py [--quick]
"""

import argparse
import os

import numpy as np

from lstmcore.layers import LSTM, Dense, Input, RepeatVector, TimeDistributed
from lstmcore.models import Sequential
from lstmcore.utils import set_random_seed

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

N_IN, N_OUT = 40, 10
set_random_seed(42)
rng = np.random.default_rng(42)


def make_waves(n):
    t = np.arange(N_IN + N_OUT)
    period = rng.uniform(10, 30, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    amplitude = rng.uniform(0.5, 1.0, (n, 1))
    waves = amplitude * np.sin(2 * np.pi * t / period + phase)
    noisy = waves + rng.normal(0, 0.05, waves.shape)
    x = noisy[:, :N_IN, None].astype("float32")  # (n, N_IN, 1)
    y = waves[:, N_IN:, None].astype("float32")  # (n, N_OUT, 1)
    return x, y


x_train, y_train = make_waves(200 if QUICK else 2000)
x_test, y_test = make_waves(50 if QUICK else 500)

model = Sequential(
    [
        Input(shape=(N_IN, 1)),
        LSTM(48),  # encoder: (batch, 48)
        RepeatVector(N_OUT),  # (batch, N_OUT, 48)
        LSTM(48, return_sequences=True),  # decoder: (batch, N_OUT, 48)
        TimeDistributed(Dense(1)),  # (batch, N_OUT, 1)
    ]
)
model.compile(optimizer="adam", loss="mse")
model.fit(x_train, y_train, epochs=2 if QUICK else 20, batch_size=32, validation_split=0.1, verbose=0)

mse = model.evaluate(x_test, y_test, verbose=0)
naive_mse = float(np.mean((x_test[:, -1:, :] - y_test) ** 2))
print(f"encoder-decoder test MSE over {N_OUT} steps: {mse:.4f}  last-value MSE: {naive_mse:.4f}")

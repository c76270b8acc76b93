"""A stateful LSTM: the state carries over from one batch to the next, so long streams can be
fed in short chunks.

Each of 16 streams is random input x and a slow exponential average of it, y[t] = 0.9 y[t-1] +
0.1 x[t]. The streams are cut into chunks of 10 steps and laid out so that row b of every batch
continues row b of the batch before: the batch size is fixed (Input(batch_shape=...)), fit runs
with shuffle=False, and the state is reset with reset_state() between epochs, when the streams
start over. A stateless LSTM that sees only one chunk at a time cannot know the average's past,
which shows in its test MSE.

Run: python examples/09_stateful.py [--quick]
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

STREAMS, CHUNK = 16, 10  # batch size, steps per sample
EPOCHS = 2 if QUICK else 15
set_random_seed(42)
rng = np.random.default_rng(42)


def make_streams(length):
    x = rng.uniform(-1, 1, (STREAMS, length))
    y = np.zeros_like(x)
    for t in range(length):
        y[:, t] = 0.9 * (y[:, t - 1] if t else 0.0) + 0.1 * x[:, t]
    y *= 4  # unit-ish scale
    # (STREAMS, length) -> (length / CHUNK * STREAMS, CHUNK, 1): sample k * STREAMS + b is chunk k of stream b
    chunks = length // CHUNK

    def lay_out(a):
        return a.reshape(STREAMS, chunks, CHUNK).transpose(1, 0, 2).reshape(-1, CHUNK, 1).astype("float32")

    return lay_out(x), lay_out(y)


x_train, y_train = make_streams(100 if QUICK else 1000)
x_test, y_test = make_streams(50 if QUICK else 300)

lstm = LSTM(16, stateful=True, return_sequences=True)
model = Sequential([Input(batch_shape=(STREAMS, CHUNK, 1)), lstm, Dense(1)])
model.compile(optimizer="adam", loss="mse")
for _ in range(EPOCHS):
    model.fit(x_train, y_train, batch_size=STREAMS, epochs=1, shuffle=False, verbose=0)
    lstm.reset_state()  # the streams start over
stateful_mse = model.evaluate(x_test, y_test, batch_size=STREAMS, verbose=0)
lstm.reset_state()

stateless = Sequential([Input(shape=(CHUNK, 1)), LSTM(16, return_sequences=True), Dense(1)])
stateless.compile(optimizer="adam", loss="mse")
stateless.fit(x_train, y_train, batch_size=STREAMS, epochs=EPOCHS, verbose=0)
stateless_mse = stateless.evaluate(x_test, y_test, batch_size=STREAMS, verbose=0)

print(f"stateful LSTM test MSE: {stateful_mse:.4f}  ", end="")
print(f"stateless LSTM (one chunk of {CHUNK}): {stateless_mse:.4f}")

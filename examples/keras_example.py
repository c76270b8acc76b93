"""The Keras example of DESIGN.md, with only its import lines changed.

A univariate series 10, 20, ..., 90 cut into windows of three; the LSTM learns to predict the next
value. Run: python examples/keras_example.py
"""

import time

import numpy as np

from lstmcore import Sequential
from lstmcore.layers import LSTM, Dense


def split_sequence(sequence, n_steps):
    X, y = [], []
    for i in range(len(sequence) - n_steps):
        X.append(sequence[i : i + n_steps])
        y.append(sequence[i + n_steps])
    return np.array(X), np.array(y)


raw_seq = [10, 20, 30, 40, 50, 60, 70, 80, 90]
X, y = split_sequence(raw_seq, 3)
X = X.reshape((X.shape[0], X.shape[1], 1))

model = Sequential([LSTM(50, activation="relu", input_shape=(3, 1)), Dense(1)])
model.compile(optimizer="adam", loss="mse")
start = time.perf_counter()
model.fit(X, y, epochs=200, verbose=0)
seconds = time.perf_counter() - start

pred = model.predict(X)
print(f"fit: 200 epochs in {seconds:.3f}s")
print(f"max abs error on the training windows: {np.abs(pred[:, 0] - y).max():.3f}")
print(f"next value after 70, 80, 90: {model.predict(np.array([70, 80, 90]).reshape(1, 3, 1))[0, 0]:.2f}")

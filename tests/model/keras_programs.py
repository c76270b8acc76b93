"""Keras programs that lstmcore runs with only the imports changed: each builds its model from a
layers module (``keras.layers`` or ``lstmcore.layers``) with the same code. ``make_keras_models.py``
runs them in Keras 3 and stores what Keras computes; ``test_keras_programs.py`` runs them in
lstmcore and compares. Every program is float64, masked (``Masking`` or ``Embedding(mask_zero=True)``)
and ends in a loss that Keras weighs with the mask where the output keeps the time axis.

Each entry: (build(L) -> list of layers, loss, x(rng), y(rng)).
"""

from __future__ import annotations

import numpy as np

B, T, F, VOCAB = 5, 7, 3, 12


def _ids(rng):
    """Token ids with padding 0 at the front (pad_sequences' default), at the back and in a hole."""
    x = rng.integers(1, VOCAB, size=(B, T)).astype(np.float64)
    x[0, :3] = 0
    x[1, 5:] = 0
    x[2, 2] = 0
    x[3, :6] = 0  # one valid step
    return x


def _features(rng):
    x = rng.normal(size=(B, T, F))
    x[0, :3] = 0
    x[1, 5:] = 0
    x[2, 2] = 0
    x[3, 1:] = 0
    return x


PROGRAMS = {
    "embedding_bilstm_concat_tagger": (
        lambda L: [
            L.Input(shape=(T,)),
            L.Embedding(VOCAB, 5, mask_zero=True),
            L.Bidirectional(L.LSTM(4, return_sequences=True)),
            L.TimeDistributed(L.Dense(3, activation="softmax")),
        ],
        "sparse_categorical_crossentropy",
        _ids,
        lambda rng: rng.integers(0, 3, size=(B, T)).astype(np.float64),
    ),
    "embedding_lstm_classifier": (
        lambda L: [
            L.Input(shape=(T,)),
            L.Embedding(VOCAB, 5, mask_zero=True),
            L.LSTM(6),
            L.Dense(1, activation="sigmoid"),
        ],
        "binary_crossentropy",
        _ids,
        lambda rng: rng.integers(0, 2, size=(B, 1)).astype(np.float64),
    ),
    "masking_bigru_sum_mul": (
        lambda L: [
            L.Input(shape=(T, F)),
            L.Masking(0.0),
            L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="sum"),
            L.Bidirectional(L.GRU(3), merge_mode="mul"),
            L.Dense(2),
        ],
        "mse",
        _features,
        lambda rng: rng.normal(size=(B, 2)),
    ),
    "masking_backwards_rnn_lstm_sequence": (
        lambda L: [
            L.Input(shape=(T, F)),
            L.Masking(0.0),
            L.SimpleRNN(5, return_sequences=True, go_backwards=True),
            L.LSTM(4, return_sequences=True),
            L.TimeDistributed(L.Dense(2)),
        ],
        "mse",
        _features,
        lambda rng: rng.normal(size=(B, T, 2)),
    ),
    "embedding_lstm_dense_sequence": (
        lambda L: [
            L.Input(shape=(T,)),
            L.Embedding(VOCAB, 4, mask_zero=True),
            L.LSTM(5, return_sequences=True),
            L.Dense(2),
        ],
        "mae",
        _ids,
        lambda rng: rng.normal(size=(B, T, 2)),
    ),
    "masking_bilstm_ave_stack": (
        lambda L: [
            L.Input(shape=(T, F)),
            L.Masking(0.0),
            L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode="ave"),
            L.Bidirectional(L.LSTM(3)),
            L.Dense(1),
        ],
        "huber",
        _features,
        lambda rng: rng.normal(size=(B, 1)),
    ),
    "masking_rnn_stacked_cells": (
        lambda L: [
            L.Input(shape=(T, F)),
            L.Masking(0.0),
            L.RNN([L.LSTMCell(4), L.GRUCell(3)], return_sequences=True),
            L.Bidirectional(L.RNN(L.SimpleRNNCell(3))),
            L.Dense(1),
        ],
        "mse",
        _features,
        lambda rng: rng.normal(size=(B, 1)),
    ),
}

LEARNING_RATE = 0.5  # SGD, one train_on_batch step

"""Sequence to sequence with the functional API: an LSTM encoder-decoder learns to reverse digits.

Training (teacher forcing): the encoder LSTM reads the one-hot digits and returns its final states
h and c (return_state=True); the decoder LSTM starts from them (initial_state=[h, c]) and reads the
target shifted right by one, behind a start token, and a softmax Dense layer predicts each next
digit. Model([encoder_input, decoder_input], output) trains both at once.

Inference: the trained layers are reused in two new models, an encoder model (digits -> states)
and a one-step decoder model (token, states -> next digit's probabilities, new states), and a
greedy loop feeds each predicted digit back in. The exact-match rate is the share of test
sequences whose reversal comes out right in every position.

Run: python examples/12_seq2seq_functional.py [--quick]
"""

import argparse
import os

import numpy as np

from lstmcore.layers import LSTM, Dense, Input
from lstmcore.models import Model
from lstmcore.utils import set_random_seed, to_categorical

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

LENGTH, DIGITS = 5, 10
START = DIGITS  # the decoder's start token: one more input token than there are digits
LATENT = 64
set_random_seed(42)
rng = np.random.default_rng(42)


def make_data(n):
    digits = rng.integers(0, DIGITS, (n, LENGTH))
    target = digits[:, ::-1]
    decoder_tokens = np.concatenate([np.full((n, 1), START), target[:, :-1]], axis=1)  # shifted right
    encoder_x = to_categorical(digits, DIGITS + 1)  # (n, LENGTH, 11)
    decoder_x = to_categorical(decoder_tokens, DIGITS + 1)  # (n, LENGTH, 11)
    decoder_y = to_categorical(target, DIGITS)  # (n, LENGTH, 10)
    return digits, encoder_x, decoder_x, decoder_y


_, enc_train, dec_train, y_train = make_data(500 if QUICK else 4000)
test_digits, enc_test, _, _ = make_data(100 if QUICK else 500)

# Training model
encoder_inputs = Input(shape=(None, DIGITS + 1))
encoder = LSTM(LATENT, return_state=True)
_, state_h, state_c = encoder(encoder_inputs)
decoder_inputs = Input(shape=(None, DIGITS + 1))
decoder_lstm = LSTM(LATENT, return_sequences=True, return_state=True)
decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=[state_h, state_c])
decoder_dense = Dense(DIGITS, activation="softmax")
model = Model([encoder_inputs, decoder_inputs], decoder_dense(decoder_outputs))
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(
    [enc_train, dec_train],
    y_train,
    batch_size=64,
    epochs=2 if QUICK else 25,
    validation_split=0.1,
    verbose=0,
)

# Inference models, built from the trained layers
encoder_model = Model(encoder_inputs, [state_h, state_c])
state_h_input, state_c_input = Input(shape=(LATENT,)), Input(shape=(LATENT,))
step_outputs, step_h, step_c = decoder_lstm(decoder_inputs, initial_state=[state_h_input, state_c_input])
decoder_model = Model(
    [decoder_inputs, state_h_input, state_c_input], [decoder_dense(step_outputs), step_h, step_c]
)


def reverse_greedy(encoder_x):
    h, c = encoder_model.predict(encoder_x, verbose=0)
    token = to_categorical(np.full(len(encoder_x), START), DIGITS + 1)[:, None, :]  # (n, 1, 11)
    decoded = []
    for _ in range(LENGTH):
        probabilities, h, c = decoder_model.predict([token, h, c], verbose=0)
        digit = probabilities[:, -1].argmax(axis=-1)
        decoded.append(digit)
        token = to_categorical(digit, DIGITS + 1)[:, None, :]
    return np.stack(decoded, axis=1)


decoded = reverse_greedy(enc_test)
expected = test_digits[:, ::-1]
exact = np.all(decoded == expected, axis=1).mean()
print(f"{test_digits[0]} -> {decoded[0]} (expected {expected[0]})")
print(f"seq2seq exact-match rate: {exact:.3f} (digit accuracy {np.mean(decoded == expected):.3f})")

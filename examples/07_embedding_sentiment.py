"""Binary sentiment with Embedding + LSTM on a synthetic vocabulary (nothing is downloaded).

A vocabulary of 500 word ids: ids 1-20 are "positive" words, 21-40 "negative" words, the rest
neutral; 0 is the padding id. A review is 10 to 40 words, mostly neutral, with a few sentiment
words; its label is 1 when it holds more positive than negative words. Reviews are padded (in
front, Keras's default) to 40 ids with pad_sequences; an Embedding learns a 16-number vector per
word and an LSTM reads the review.

Run: python examples/07_embedding_sentiment.py [--quick]
"""

import argparse
import os

import numpy as np

from lstmcore.layers import LSTM, Dense, Embedding, Input
from lstmcore.models import Sequential
from lstmcore.utils import pad_sequences, set_random_seed

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny data and a few epochs (a smoke test)")
QUICK = parser.parse_args().quick or os.environ.get("LSTMCORE_EXAMPLE_QUICK") == "1"

VOCAB, MAXLEN = 500, 40
POSITIVE, NEGATIVE = np.arange(1, 21), np.arange(21, 41)
set_random_seed(42)
rng = np.random.default_rng(42)


def make_reviews(n):
    reviews, labels = [], []
    for _ in range(n):
        words = list(rng.integers(41, VOCAB, rng.integers(10, MAXLEN + 1)))
        n_pos, n_neg = rng.choice([(1, 0), (0, 1), (2, 1), (1, 2), (3, 1), (1, 3), (2, 0), (0, 2)])
        for word in [*rng.choice(POSITIVE, n_pos), *rng.choice(NEGATIVE, n_neg)]:
            words[rng.integers(len(words))] = word
        reviews.append(words)
        labels.append(int(np.isin(words, POSITIVE).sum() > np.isin(words, NEGATIVE).sum()))
    return pad_sequences(reviews, maxlen=MAXLEN), np.array(labels, dtype="float32")


x_train, y_train = make_reviews(300 if QUICK else 3000)
x_test, y_test = make_reviews(100 if QUICK else 500)
print(f"x_train {x_train.shape}, first review: {x_train[0][-12:]} -> label {y_train[0]:.0f}")

model = Sequential(
    [
        # lstmcore: Input(shape=(MAXLEN,), dtype="int32") raises "TypeError: x must be a float32 or
        # float64 array, got dtype int32"; Input's default dtype works in both (Embedding casts the ids)
        Input(shape=(MAXLEN,)),
        Embedding(VOCAB, 16),
        LSTM(32),
        Dense(1, activation="sigmoid"),
    ]
)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=2 if QUICK else 12, batch_size=32, validation_split=0.1, verbose=0)

loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"sentiment test accuracy: {accuracy:.3f} (majority class {max(y_test.mean(), 1 - y_test.mean()):.3f})")

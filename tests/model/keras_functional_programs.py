"""Keras functional programs that lstmcore runs with only the imports changed: each builds
(inputs, outputs) from a namespace with ``Input``, ``Model`` and ``layers`` (keras or lstmcore).
``make_keras_models.py`` stores what Keras 3 computes for them; ``test_functional.py`` compares.

Each entry: (build(K) -> (inputs, outputs), loss, loss_weights, x(rng) -> list, y(rng) -> list).
"""

from __future__ import annotations

import numpy as np

B, T_ENC, T_DEC, F_ENC, F_DEC, VOCAB = 4, 6, 5, 3, 4, 9
T_AE = 12  # the autoencoder's steps: a multiple of 4


def _seq2seq(K):
    L = K.layers
    enc_in = K.Input(shape=(None, F_ENC))
    _, h, c = L.LSTM(6, return_state=True)(enc_in)
    dec_in = K.Input(shape=(None, F_DEC))
    seq, _, _ = L.LSTM(6, return_sequences=True, return_state=True)(dec_in, initial_state=[h, c])
    out = L.Dense(F_DEC, activation="softmax")(seq)
    return [enc_in, dec_in], out


def _bidirectional_encoder(K):
    L = K.layers
    enc_in = K.Input(shape=(T_ENC, F_ENC))
    _, fh, fc, bh, bc = L.Bidirectional(L.LSTM(4, return_state=True))(enc_in)
    h = L.Concatenate()([fh, bh])
    c = L.Concatenate()([fc, bc])
    dec_in = K.Input(shape=(T_DEC, F_DEC))
    seq = L.LSTM(8, return_sequences=True)(dec_in, initial_state=[h, c])
    return [enc_in, dec_in], L.TimeDistributed(L.Dense(F_DEC, activation="softmax"))(seq)


def _shared_two_outputs(K):
    L = K.layers
    a = K.Input(shape=(T_ENC, F_ENC), name="left")
    b = K.Input(shape=(T_ENC, F_ENC), name="right")
    shared = L.GRU(5)
    ha, hb = shared(a), shared(b)
    joined = L.concatenate([ha, hb])
    diff = L.Subtract()([ha, hb])
    score = L.Dense(1, activation="sigmoid", name="score")(joined)
    value = L.Dense(2, name="value")(L.Multiply()([diff, L.Add()([ha, hb])]))
    return [a, b], [score, value]


def _masked_embedding(K):
    L = K.layers
    ids = K.Input(shape=(T_ENC,))
    emb = L.Embedding(VOCAB, 4, mask_zero=True)(ids)
    seq = L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="sum")(emb)
    seq = L.LSTM(4, return_sequences=True)(seq)
    return ids, L.Dense(2)(L.Average()([seq, seq]))


def _attention_seq2seq(K):
    L = K.layers
    ids = K.Input(shape=(T_ENC,))
    enc, h, c = L.LSTM(6, return_sequences=True, return_state=True)(
        L.Embedding(VOCAB, 4, mask_zero=True)(ids)
    )
    dec_in = K.Input(shape=(T_DEC, F_DEC))
    dec = L.LSTM(6, return_sequences=True)(dec_in, initial_state=[h, c])
    context = L.Attention(use_scale=True)([dec, enc])  # the encoder's padding masked out
    return [ids, dec_in], L.Dense(F_DEC, activation="softmax")(L.Concatenate()([dec, context]))


def _luong_attention_seq2seq(K):
    """The encoder-decoder with Luong attention written with Dot layers, as LSTM tutorials build it
    (scores Dot(axes=[2, 2]), softmax, context Dot(axes=[2, 1]), the context beside the decoder)."""
    L = K.layers
    enc_in = K.Input(shape=(T_ENC, F_ENC))
    enc, h, c = L.LSTM(6, return_sequences=True, return_state=True)(enc_in)
    dec_in = K.Input(shape=(T_DEC, F_DEC))
    dec = L.LSTM(6, return_sequences=True)(dec_in, initial_state=[h, c])
    attention = L.Activation("softmax")(L.Dot(axes=[2, 2])([dec, enc]))
    context = L.Dot(axes=[2, 1])([attention, enc])
    combined = L.Concatenate()([context, dec])
    return [enc_in, dec_in], L.TimeDistributed(L.Dense(F_DEC, activation="softmax"))(combined)


def _last_steps(K):
    """x[...] of tensors (Keras's GetItem): the last step of an LSTM's sequence, every other step
    of it, one feature of the input, the last step of a GRU read backwards, part of a step (Keras's
    torch backend takes no negative step: x[:, ::-1] is lstmcore's only)."""
    L = K.layers
    x = K.Input(shape=(T_ENC, F_ENC))
    seq = L.LSTM(5, return_sequences=True)(x)
    rev = L.GRU(3, return_sequences=True, go_backwards=True)(x)
    parts = [seq[:, -1, :], L.Flatten()(seq[:, 1::2]), x[..., 0], rev[:, -1], seq[:, 2, 1:3]]
    return x, L.Dense(2, activation="softmax")(L.Concatenate()(parts))


def _ops_pooling(K):
    """keras.ops between layers (``from keras import ops``): a sequence pooled by sum, mean and max
    over its steps, attention weights (a softmax over the steps) applied with a sum, expand_dims
    and squeeze."""
    L, ops = K.layers, K.ops
    x = K.Input(shape=(T_ENC, F_ENC))
    seq = L.LSTM(5, return_sequences=True)(x)
    weights = L.Softmax(axis=1)(L.Dense(1)(seq))  # (B, T, 1)
    context = ops.sum(L.Multiply()([seq, L.Concatenate()([weights] * 5)]), axis=1)
    pooled = [ops.mean(seq, axis=1), ops.max(seq, axis=1), ops.min(x, axis=[1, 2], keepdims=True)]
    last = ops.squeeze(ops.expand_dims(ops.sum(seq, axis=-1), -1), axis=-1)  # (B, T)
    parts = [context, *pooled[:2], L.Flatten()(pooled[2]), last]
    return x, L.Dense(2, activation="softmax")(L.Concatenate()(parts))


def _ops_elementwise(K):
    """More keras.ops between layers: a softmax over the steps of a transposed sequence, and the
    elementwise exp, log, sqrt, square, abs, tanh, sigmoid and relu."""
    L, ops = K.layers, K.ops
    x = K.Input(shape=(T_ENC, F_ENC))
    seq = L.LSTM(4, return_sequences=True)(x)  # (B, T, 4)
    over_steps = ops.transpose(ops.softmax(ops.transpose(seq, axes=(0, 2, 1)), axis=-1), axes=[0, 2, 1])
    parts = [ops.exp(seq), ops.log(ops.sigmoid(seq)), ops.square(seq)]
    parts += [ops.sqrt(ops.abs(seq)), ops.tanh(ops.relu(seq)), over_steps, ops.softmax(seq)]
    return x, L.Dense(2, activation="softmax")(L.Flatten()(L.Concatenate()(parts)))


def _causal_self_attention(K):
    L = K.layers
    x = K.Input(shape=(T_ENC, F_ENC))
    seq = L.GRU(5, return_sequences=True)(L.Masking(0.0)(x))
    att = L.AdditiveAttention()([seq, seq], use_causal_mask=True)
    return x, L.Dense(1)(L.GlobalAveragePooling1D()(L.Add()([seq, att])))


def _transformer_block(K):
    """keras.io's time-series transformer block: heads, a + b of tensors (Keras's operation)."""
    L = K.layers
    x = K.Input(shape=(T_ENC, F_ENC))
    att = L.MultiHeadAttention(num_heads=2, key_dim=3)(x, x)
    res = L.LayerNormalization(epsilon=1e-6)(att) + x
    ff = L.Conv1D(filters=F_ENC, kernel_size=1)(L.Conv1D(filters=4, kernel_size=1, activation="relu")(res))
    out = L.LayerNormalization(epsilon=1e-6)(ff) + res
    return x, L.Dense(2, activation="softmax")(L.GlobalAveragePooling1D(data_format="channels_first")(out))


def _conv_autoencoder(K):
    """keras.io's time-series anomaly detection autoencoder (Conv1D down, Conv1DTranspose up, the
    steps halved twice and doubled back), smaller and without its two Dropout layers (random in
    the training step)."""
    L = K.layers
    x = K.Input(shape=(T_AE, 1))
    h = L.Conv1D(filters=6, kernel_size=7, padding="same", strides=2, activation="relu")(x)
    h = L.Conv1D(filters=3, kernel_size=7, padding="same", strides=2, activation="relu")(h)
    h = L.Conv1DTranspose(filters=3, kernel_size=7, padding="same", strides=2, activation="relu")(h)
    h = L.Conv1DTranspose(filters=6, kernel_size=7, padding="same", strides=2, activation="relu")(h)
    return x, L.Conv1DTranspose(filters=1, kernel_size=7, padding="same")(h)


def _ids(rng):
    x = rng.integers(1, VOCAB, size=(B, T_ENC)).astype(np.float64)
    x[0, :2] = 0
    x[1, 4:] = 0
    x[2, 3] = 0
    return x


def _masked_features(rng):
    x = rng.normal(size=(B, T_ENC, F_ENC))
    x[0, :2] = 0
    x[1, 4:] = 0
    return x


def _onehot(rng, T, F):
    return np.eye(F)[rng.integers(0, F, size=(B, T))]


PROGRAMS = {
    "seq2seq_return_state_initial_state": (
        _seq2seq,
        "categorical_crossentropy",
        None,
        lambda rng: [rng.normal(size=(B, T_ENC, F_ENC)), _onehot(rng, T_DEC, F_DEC)],
        lambda rng: [_onehot(rng, T_DEC, F_DEC)],
    ),
    "bidirectional_encoder_states": (
        _bidirectional_encoder,
        "categorical_crossentropy",
        None,
        lambda rng: [rng.normal(size=(B, T_ENC, F_ENC)), _onehot(rng, T_DEC, F_DEC)],
        lambda rng: [_onehot(rng, T_DEC, F_DEC)],
    ),
    "shared_layer_two_outputs": (
        _shared_two_outputs,
        {"score": "binary_crossentropy", "value": "mse"},
        {"score": 0.7, "value": 1.3},
        lambda rng: [rng.normal(size=(B, T_ENC, F_ENC)), rng.normal(size=(B, T_ENC, F_ENC))],
        lambda rng: [rng.integers(0, 2, size=(B, 1)).astype(np.float64), rng.normal(size=(B, 2))],
    ),
    "masked_embedding_functional": (
        _masked_embedding,
        "mse",
        None,
        lambda rng: [_ids(rng)],
        lambda rng: [rng.normal(size=(B, T_ENC, 2))],
    ),
    "attention_seq2seq": (
        _attention_seq2seq,
        "categorical_crossentropy",
        None,
        lambda rng: [_ids(rng), _onehot(rng, T_DEC, F_DEC)],
        lambda rng: [_onehot(rng, T_DEC, F_DEC)],
    ),
    "causal_self_attention": (
        _causal_self_attention,
        "mse",
        None,
        lambda rng: [_masked_features(rng)],
        lambda rng: [rng.normal(size=(B, 1))],
    ),
    "transformer_block": (
        _transformer_block,
        "categorical_crossentropy",
        None,
        lambda rng: [rng.normal(size=(B, T_ENC, F_ENC))],
        lambda rng: [_onehot(rng, 1, 2)[:, 0]],
    ),
    "conv_autoencoder": (  # y: other drawn series of the same kind
        _conv_autoencoder,
        "mse",
        None,
        lambda rng: [np.sin(np.linspace(0, 3, T_AE) + rng.uniform(0, 6, (B, 1)))[..., None]],
        lambda rng: [np.sin(np.linspace(0, 3, T_AE) + rng.uniform(0, 6, (B, 1)))[..., None]],
    ),
    "luong_attention_seq2seq": (
        _luong_attention_seq2seq,
        "categorical_crossentropy",
        None,
        lambda rng: [rng.normal(size=(B, T_ENC, F_ENC)), _onehot(rng, T_DEC, F_DEC)],
        lambda rng: [_onehot(rng, T_DEC, F_DEC)],
    ),
    "get_item_last_steps": (
        _last_steps,
        "categorical_crossentropy",
        None,
        lambda rng: [rng.normal(size=(B, T_ENC, F_ENC))],
        lambda rng: [_onehot(rng, 1, 2)[:, 0]],
    ),
    "ops_pooling": (
        _ops_pooling,
        "categorical_crossentropy",
        None,
        lambda rng: [rng.normal(size=(B, T_ENC, F_ENC))],
        lambda rng: [_onehot(rng, 1, 2)[:, 0]],
    ),
    "ops_elementwise": (
        _ops_elementwise,
        "categorical_crossentropy",
        None,
        lambda rng: [rng.normal(size=(B, T_ENC, F_ENC))],
        lambda rng: [_onehot(rng, 1, 2)[:, 0]],
    ),
}

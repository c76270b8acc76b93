"""Layers with Keras's names and defaults: ``LSTM``, ``GRU``, ``SimpleRNN``, ``Dense``, ``Dropout``,
``Input``, ``Embedding``, ``Masking``, ``Bidirectional``, ``TimeDistributed`` and more.

A layer knows its weights' shapes and initializers, runs forward and backward on NumPy arrays, and
runs one streaming step (``step``). Its weights are views into the model's flat parameter buffer
(``params.py``); backward writes the gradients into the matching views of the gradient buffer.

Shapes are batch-first, as in Keras: the recurrent layers take x (B, T, I) and give (B, T, H) with
``return_sequences`` or (B, H); Dense acts on the last axis of any input.

One module per kind: ``base`` (Layer, Input, shared checks), ``rnn`` (what the recurrent layers
share), ``lstm``, ``gru``, ``simple_rnn``, ``core`` (Dense, Dropout, Identity), ``masking``
(Masking, Embedding: the layers that make masks), ``wrappers`` (Bidirectional, TimeDistributed,
RNN), ``cells`` (LSTMCell, GRUCell, SimpleRNNCell, StackedRNNCells: what RNN runs),
``reshaping`` (RepeatVector, Flatten, Reshape, Activation, Permute, ZeroPadding1D, Cropping1D,
UpSampling1D, GetItem: what ``x[...]`` of a tensor makes), ``pooling`` (GlobalAveragePooling1D,
GlobalMaxPooling1D, MaxPooling1D, AveragePooling1D), ``normalization`` (LayerNormalization,
BatchNormalization), ``conv`` (Conv1D, Conv1DTranspose), ``activation`` (ReLU, LeakyReLU, ELU,
PReLU, Softmax), ``regularization`` (SpatialDropout1D, GaussianNoise, GaussianDropout,
ActivityRegularization), ``attention`` (Attention, AdditiveAttention, MultiHeadAttention),
``merging`` (Concatenate, Add, ..., Dot), ``preprocessing`` (Normalization, Rescaling),
``operations`` (Sum, Mean, Max, Min, ExpandDims, Squeeze, Transpose, SoftmaxOp and elementwise
ones: what ``lstmcore.ops`` makes of tensors).
The engine's cells come from ``engine._backend`` (compiled, or the reference with
``LSTMCORE_BACKEND=reference``), looked up at call time through ``rnn``'s module attribute ``_ops``.
"""

from __future__ import annotations

from .activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .attention import AdditiveAttention, Attention, MultiHeadAttention
from .base import Input, Layer, _dropout_mask  # noqa: F401 - tests draw the layers' masks
from .cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .conv import Conv1D, Conv1DTranspose
from .core import DENSE_ACTIVATIONS, Dense, Dropout, Identity
from .gru import GRU
from .lstm import LSTM
from .masking import Embedding, Masking
from .merging import (
    Add,
    AddOp,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    MultiplyOp,
    Subtract,
    SubtractOp,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .normalization import BatchNormalization, LayerNormalization
from .operations import OPERATIONS
from .pooling import AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D
from .preprocessing import Normalization, Rescaling
from .regularization import ActivityRegularization, GaussianDropout, GaussianNoise, SpatialDropout1D
from .reshaping import (
    Activation,
    Cropping1D,
    Flatten,
    GetItem,
    Permute,
    RepeatVector,
    Reshape,
    UpSampling1D,
    ZeroPadding1D,
)
from .rnn import Recurrent
from .simple_rnn import SimpleRNN
from .wrappers import RNN, Bidirectional, TimeDistributed

# Keras's other names of the same layers
MaxPool1D, AvgPool1D, Convolution1D = MaxPooling1D, AveragePooling1D, Conv1D
Convolution1DTranspose = Conv1DTranspose
GlobalAvgPool1D, GlobalMaxPool1D = GlobalAveragePooling1D, GlobalMaxPooling1D

__all__ = [
    "DENSE_ACTIVATIONS",
    "Layer",
    "Input",
    "LSTM",
    "GRU",
    "SimpleRNN",
    "Dense",
    "Dropout",
    "Recurrent",
    "Embedding",
    "Masking",
    "Bidirectional",
    "TimeDistributed",
    "Add",
    "Average",
    "Concatenate",
    "Dot",
    "Maximum",
    "Minimum",
    "Multiply",
    "Subtract",
    "add",
    "average",
    "concatenate",
    "dot",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
    "Activation",
    "Flatten",
    "RepeatVector",
    "Reshape",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling1D",
    "MaxPooling1D",
    "AveragePooling1D",
    "LayerNormalization",
    "BatchNormalization",
    "Conv1D",
    "Conv1DTranspose",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "SpatialDropout1D",
    "GaussianNoise",
    "GaussianDropout",
    "ActivityRegularization",
    "PReLU",
    "Identity",
    "Permute",
    "ZeroPadding1D",
    "Cropping1D",
    "UpSampling1D",
    "MaxPool1D",
    "AvgPool1D",
    "Convolution1D",
    "Convolution1DTranspose",
    "GlobalAvgPool1D",
    "GlobalMaxPool1D",
    "RNN",
    "LSTMCell",
    "GRUCell",
    "SimpleRNNCell",
    "StackedRNNCells",
    "Attention",
    "AdditiveAttention",
    "MultiHeadAttention",
    "Normalization",
    "Rescaling",
    "get_layer_class",
]


_LAYERS = {
    cls.__name__: cls
    for cls in (
        Input,
        LSTM,
        GRU,
        SimpleRNN,
        Dense,
        Dropout,
        Embedding,
        Masking,
        Bidirectional,
        TimeDistributed,
        Add,
        Average,
        Concatenate,
        Dot,
        Maximum,
        Minimum,
        Multiply,
        Subtract,
        Activation,
        Flatten,
        RepeatVector,
        Reshape,
        GlobalAveragePooling1D,
        GlobalMaxPooling1D,
        MaxPooling1D,
        AveragePooling1D,
        LayerNormalization,
        BatchNormalization,
        Conv1D,
        Conv1DTranspose,
        ReLU,
        LeakyReLU,
        ELU,
        Softmax,
        SpatialDropout1D,
        GaussianNoise,
        GaussianDropout,
        ActivityRegularization,
        PReLU,
        Identity,
        Permute,
        ZeroPadding1D,
        Cropping1D,
        UpSampling1D,
        RNN,
        LSTMCell,
        GRUCell,
        SimpleRNNCell,
        Attention,
        AdditiveAttention,
        MultiHeadAttention,
        AddOp,
        SubtractOp,
        MultiplyOp,
        GetItem,
        Normalization,
        Rescaling,
    )
}
_LAYERS.update({cls.__name__: cls for cls in OPERATIONS})  # Keras's operations (lstmcore.ops)
_LAYERS.update(
    MaxPool1D=MaxPooling1D,
    AvgPool1D=AveragePooling1D,
    Convolution1D=Conv1D,
    Convolution1DTranspose=Conv1DTranspose,
    GlobalAvgPool1D=GlobalAveragePooling1D,
    GlobalMaxPool1D=GlobalMaxPooling1D,
)


def get_layer_class(name: str):
    """The layer class of a saved config; only lstmcore's own classes are known."""
    try:
        return _LAYERS[name]
    except KeyError:
        raise ValueError(f"unknown layer class {name!r}; known: {sorted(_LAYERS)}") from None

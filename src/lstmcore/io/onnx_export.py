"""ONNX export: ``model.export(path, format="onnx")`` writes a ``Sequential`` or a functional
``Model`` as an ONNX model that ONNX Runtime runs with ``predict``'s outputs (DESIGN.md section 7).

    model.export("m.onnx")                                  # opset 17
    onnx_export.export(model, "m.onnx", opset_version=20)   # any opset from 17 on

The graph
---------
- Inputs are named after the model's inputs (a Sequential's is ``input_layer``; a functional
  model's, its ``Input`` layers' names), of the model's dtype (float32 or float64; an Embedding's
  ids come as whole numbers in that dtype, as ``predict`` takes them). Axis 0 is the symbolic
  ``batch``; the time axis (axis 1 of an input with two or more axes, or of the ids an Embedding
  reads) is symbolic too (``time``, or ``<input>_time`` with several inputs) wherever the model
  computes the same for any length (no weight and no fixed Reshape depends on it).
- Outputs are named after the model's outputs (the output layers' names).
- Every layer maps to ONNX operators computing lstmcore's maths, in lstmcore's order of
  operations; an option with no ONNX form is a ``ValueError`` naming the layer and the option.

Recurrent layers (LSTM, GRU, SimpleRNN, Bidirectional)
------------------------------------------------------
Two forms, chosen by ``recurrent``:

- ``"nodes"``: ONNX's ``LSTM``, ``GRU`` and ``RNN`` operators, with the weights and attributes of
  ``lstmcore.io.layout`` (``to_onnx``, ``to_onnx_gru``, ``to_onnx_rnn``, ``onnx_*_attributes``:
  gate orders, activations, ``linear_before_reset``), between Transposes from batch-first to ONNX's
  time-major (T, B, I) and from ``Y (T, D, B, H)`` back. ``go_backwards`` is
  ``direction="reverse"`` (its outputs then flipped: Keras gives them in the order read); a
  ``Bidirectional`` is one ``direction="bidirectional"`` node when its two layers have the same
  options (else two nodes), merged as Keras does (concat, sum, mul, ave or both).
- ``"scan"``: an ONNX ``Scan`` over the time axis whose body is the cell's step (the input
  product for every step is one MatMul before it, as the engine does). ONNX Runtime has no
  float64 kernels of the LSTM, GRU and RNN operators, so this is the form it runs in float64.

``"auto"`` (the default) takes ``"nodes"`` in float32 and ``"scan"`` in float64, and for a layer
with the softplus activation (ONNX Runtime's recurrent kernels compute log(1 + exp(x)), which
overflows to inf where lstmcore's stable form gives x).

Masks (``Masking``, ``Embedding(mask_zero=True)``) reach the recurrent layers as Keras 3 has
them: a masked step keeps the states and outputs the last output (0 before a row's first valid
step, and at every masked step with ``zero_output_for_mask``, which ``Bidirectional`` forces).
Both forms compute this exactly for any mask, padding at the end, at the front or holes alike:

- ``"scan"``: the step keeps the states where the step's mask is False; the outputs are then
  zeroed where no valid step was read yet (a ``CumSum`` of the mask in reading order).
- ``"nodes"``: ONNX's ``sequence_lens`` only cuts rows at their end. Masked steps keep the state,
  so the states are those of the valid steps alone, in order: each row's valid steps are moved to
  its front (``ScatterElements`` to position ``cumsum(mask) - 1``, the masked steps after them),
  the node runs with ``sequence_lens = ReduceSum(mask)``, and the output of input step t is
  gathered back: the output after the last valid step read at or before t (forward: index
  ``cumsum(mask)[t]`` into the outputs behind one zero row; reverse: index ``cumsum(mask)[t] -
  mask[t]`` into them ahead of one), which is Keras's "previous output" and its leading zeros. A
  row with no valid step keeps its initial state.

Other layers
------------
Dense (MatMul, Add, then the activation), Activation, Dropout (identity), Embedding (Gather; its
mask ``ids != 0``), Masking (its mask ``any(x != mask_value)`` over the features, and ``x *
mask``), TimeDistributed (the inner layer on the (B*T, ...) reshape), RepeatVector (Expand),
Flatten and Reshape (Reshape, batch axis kept), GetItem (x[...]: Slice, Gather, Unsqueeze), the
operations of lstmcore.ops (ReduceSum, ReduceMean, ReduceMax, ReduceMin, Unsqueeze, Squeeze,
Transpose, Softmax, Exp, Log, Sqrt, Abs, Tanh, Sigmoid, Relu),
Concatenate/Add/Subtract/Multiply/Average/Maximum/Minimum (their masks joined by And), Dot
(Transpose, MatMul; normalize's formula),
GlobalAveragePooling1D (the mean over the valid steps where a mask reaches it), GlobalMaxPooling1D
(ReduceMax), MaxPooling1D (MaxPool),
AveragePooling1D (AveragePool, padding left out of the count), Conv1D (Conv; "same" is
``auto_pad="SAME_UPPER"``, TensorFlow's split, or with a dilation, which ONNX Runtime's SAME_UPPER
refuses, the same pads computed in the graph; "causal" pads the left), Conv1DTranspose
(ConvTranspose, its pads and output_padding the window Keras keeps), LayerNormalization (its
formula on any axes) and BatchNormalization (the moving statistics: ``(x - mean) * (gamma /
sqrt(var + epsilon)) + beta``).

Activations use ONNX's operators where one computes Keras's function (Relu, Sigmoid, Tanh,
Softmax, LogSoftmax, Elu, Selu, Softplus, Softsign, HardSigmoid with Keras's alpha 1/6,
LeakyRelu(0.2), Celu, Shrink for hard/soft_shrink, Gelu from opset 20, Erf's formula before) and
a composition of operators for the others (silu, mish, relu6, squareplus, sparsemax, ...).
ONNX's float attributes are float32, and ONNX Runtime has no float64 kernels of Elu, Selu,
Softplus, Softsign, HardSigmoid, Celu, Erf, Conv, ConvTranspose and AveragePool (its float64 Shrink rounds
through float32), so in float64 the graph uses compositions with float64 constants instead: erf
as Cephes' rational approximations, log1p and expm1 by Kahan's formulas, the convolution as
lstmcore's im2col (strided Slices side by side, one MatMul; the transposed one on the input
stuffed with zeros between its steps, its kernel reversed), the average pooling as a sum of
strided Slices over its count; they agree with lstmcore to float64's rounding.

Limits: an ONNX model keeps no state between runs, so ``stateful=True`` is refused; layers other
than lstmcore's own are refused by class name; a time axis some weight or fixed Reshape depends
on stays fixed (then every input keeps its declared length).
"""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np

from .. import activations as _activations
from .._config import EPSILON
from ..engine._validate import activation_spec
from ..layers import (
    ELU,
    GRU,
    LSTM,
    RNN,
    Activation,
    ActivityRegularization,
    Add,
    AdditiveAttention,
    AddOp,
    Attention,
    Average,
    AveragePooling1D,
    BatchNormalization,
    Bidirectional,
    Concatenate,
    Conv1D,
    Conv1DTranspose,
    Cropping1D,
    Dense,
    Dot,
    Dropout,
    Embedding,
    Flatten,
    GaussianDropout,
    GaussianNoise,
    GetItem,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Identity,
    LayerNormalization,
    LeakyReLU,
    Masking,
    Maximum,
    MaxPooling1D,
    Minimum,
    MultiHeadAttention,
    Multiply,
    MultiplyOp,
    Normalization,
    Permute,
    PReLU,
    ReLU,
    RepeatVector,
    Rescaling,
    Reshape,
    SimpleRNN,
    Softmax,
    SpatialDropout1D,
    Subtract,
    SubtractOp,
    TimeDistributed,
    UpSampling1D,
    ZeroPadding1D,
)
from ..layers import operations as _operations
from ..layers.merging import _Op
from ..layers.reshaping import _expanded
from ..layers.rnn import Recurrent
from . import layout

__all__ = ["export", "model_to_onnx", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17
MIN_OPSET = 17
_RECURRENT_FORMS = ("auto", "nodes", "scan")
_INT64_MIN = np.iinfo(np.int64).min
_INT64_MAX = np.iinfo(np.int64).max

# Cephes (Moshier, the rational approximations behind scipy.special.erf) for erf in float64:
# |x| <= 1: x T(x^2) / U(x^2); 1 < |x| < 8: 1 - exp(-x^2) P(|x|) / Q(|x|); else R and S.
# Highest degree first; U, Q and S have a leading 1 left out.
_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)  # fmt: skip
_ERF_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)  # fmt: skip
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)  # fmt: skip
_ERFC_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)  # fmt: skip
_ERFC_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
           6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)  # fmt: skip
_ERFC_S = (2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
           1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)  # fmt: skip

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _import_onnx():
    try:
        import onnx
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "exporting to ONNX needs the onnx package: pip install onnx (or lstmcore[onnx])"
        ) from None
    return onnx


def _refuse(layer, why: str):
    return ValueError(f"layer {layer.name!r} ({type(layer).__name__}) cannot be exported to ONNX: {why}")


# The graph being written ----------------------------------------------------------------------------


class _Graph:
    """Nodes and initializers of one ONNX graph (the model's, or a Scan's body), with helpers that
    add one operator each and return the name of its output. Value names are unique across the
    model (``names`` is shared with the bodies)."""

    def __init__(self, onnx, dtype, opset: int, names: set | None = None):
        self.onnx, self.helper = onnx, onnx.helper
        self.dtype = np.dtype(dtype)
        self.elem = self.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.opset = opset
        self.f64 = self.dtype == np.float64
        self.nodes: list = []
        self.inits: list = []
        self.names = set() if names is None else names
        self.scope = "graph"
        self._consts: dict = {}

    def fresh(self, hint: str) -> str:
        name, k = hint, 1
        while name in self.names:
            name, k = f"{hint}_{k}", k + 1
        self.names.add(name)
        return name

    def const(self, value, hint: str = "const", dtype=None) -> str:
        """An initializer holding ``value`` (the graph's dtype unless given); small ones are shared."""
        a = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        key = (a.dtype.str, a.shape, a.tobytes()) if a.size <= 64 else None
        if key is not None and key in self._consts:
            return self._consts[key]
        name = self.fresh(f"{self.scope}/{hint}")
        self.inits.append(self.onnx.numpy_helper.from_array(np.array(a, order="C"), name))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values, hint: str = "ints") -> str:
        return self.const(np.asarray(values, dtype=np.int64), hint, np.int64)

    def scalar(self, value) -> str:
        return self.const(np.asarray(value, dtype=self.dtype), "c")

    def op(self, op_type: str, inputs, n: int = 1, hint: str | None = None, **attrs):
        """One node; returns its output's name, or the list of its ``n`` outputs' names."""
        while inputs and inputs[-1] == "":  # trailing optional inputs left out
            inputs = inputs[:-1]
        outs = [self.fresh(f"{self.scope}/{hint or op_type}") for _ in range(n)]
        node_name = f"{outs[0]}#"  # unique, as the output's name
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, name=node_name, **attrs))
        return outs[0] if n == 1 else outs

    def node(self, op_type: str, inputs, outputs: list, **attrs) -> None:
        """One node with the given output names ("" for an optional output left out)."""
        while inputs and inputs[-1] == "":
            inputs = inputs[:-1]
        node_name = f"{next(o for o in outputs if o)}#"
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outputs, name=node_name, **attrs))

    # Shapes and axes.
    def shape(self, x, start=None, end=None) -> str:
        attrs = {}
        if start is not None:
            attrs["start"] = start
        if end is not None:
            attrs["end"] = end
        return self.op("Shape", [x], **attrs)

    def unsqueeze(self, x, axes) -> str:
        return self.op("Unsqueeze", [x, self.ints(axes)])

    def squeeze(self, x, axes) -> str:
        return self.op("Squeeze", [x, self.ints(axes)])

    def transpose(self, x, perm) -> str:
        return self.op("Transpose", [x], perm=list(perm))

    def reshape(self, x, shape) -> str:
        return self.op("Reshape", [x, shape if isinstance(shape, str) else self.ints(shape)])

    def concat(self, xs, axis: int) -> str:
        return xs[0] if len(xs) == 1 else self.op("Concat", list(xs), axis=axis)

    def slice(self, x, starts, ends, axes, steps=None) -> str:
        inputs = [x, self.ints(starts), self.ints(ends), self.ints(axes)]
        if steps is not None:
            inputs.append(self.ints(steps))
        return self.op("Slice", inputs)

    def reverse(self, x, axis: int = 1) -> str:
        """x with the order of ``axis`` flipped (any length)."""
        return self.slice(x, [-1], [_INT64_MIN], [axis], [-1])

    def reduce(self, op_type: str, x, axes, keepdims: bool = True) -> str:
        """ReduceSum takes its axes as an input from opset 13, the others from opset 18."""
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.op(op_type, [x], axes=list(axes), keepdims=int(keepdims))

    def cast(self, x, to) -> str:
        return self.op("Cast", [x], to=int(to))

    def zeros(self, shape) -> str:
        """Zeros of the graph's dtype and a run-time shape (a 1-D int64 value)."""
        value = self.onnx.numpy_helper.from_array(np.zeros(1, dtype=self.dtype))
        return self.op("ConstantOfShape", [shape], value=value)

    # Arithmetic.
    def add(self, a, b) -> str:
        return self.op("Add", [a, b])

    def sub(self, a, b) -> str:
        return self.op("Sub", [a, b])

    def mul(self, a, b) -> str:
        return self.op("Mul", [a, b])

    def div(self, a, b) -> str:
        return self.op("Div", [a, b])

    def where(self, cond, a, b) -> str:
        return self.op("Where", [cond, a, b])

    def clip(self, x, lo, hi) -> str:
        return self.op("Clip", [x, self.scalar(lo), self.scalar(hi)])

    def polynomial(self, x, coefs, monic: bool = False) -> str:
        """Horner's rule, highest degree first; ``monic``: a leading 1 before ``coefs``."""
        if monic:
            acc = self.add(x, self.scalar(coefs[0]))
        else:
            acc = self.scalar(coefs[0])
        for c in coefs[1:]:
            acc = self.add(self.mul(acc, x), self.scalar(c))
        return acc


# Activations -------------------------------------------------------------------------------------


def _erf(g: _Graph, x: str) -> str:
    """erf(x): the Erf operator in float32; Cephes' approximations in float64 (ONNX Runtime has
    no float64 Erf)."""
    if not g.f64:
        return g.op("Erf", [x])
    a = g.op("Abs", [x])
    z = g.mul(x, x)
    small = g.div(g.mul(x, g.polynomial(z, _ERF_T)), g.polynomial(z, _ERF_U, monic=True))
    e = g.op("Exp", [g.op("Neg", [z])])
    mid = g.div(g.mul(e, g.polynomial(a, _ERFC_P)), g.polynomial(a, _ERFC_Q, monic=True))
    far = g.div(g.mul(e, g.polynomial(a, _ERFC_R)), g.polynomial(a, _ERFC_S, monic=True))
    erfc = g.where(g.op("Less", [a, g.scalar(8.0)]), mid, far)
    one = g.scalar(1.0)
    big = g.mul(g.op("Sign", [x]), g.sub(one, erfc))
    return g.where(g.op("LessOrEqual", [a, one]), small, big)


def _log1p(g: _Graph, e: str) -> str:
    """log(1 + e) to full precision for e >= 0 (Kahan: log(u) * e / (u - 1), u = 1 + e)."""
    u = g.add(g.scalar(1.0), e)
    d = g.sub(u, g.scalar(1.0))
    return g.where(g.op("Equal", [d, g.scalar(0.0)]), e, g.div(g.mul(g.op("Log", [u]), e), d))


def _softplus(g: _Graph, z: str) -> str:
    """log(1 + exp(z)): the Softplus operator in float32; in float64 (no ONNX Runtime kernel)
    max(z, 0) + log1p(exp(-|z|)), NumPy's logaddexp(0, z)."""
    if not g.f64:
        return g.op("Softplus", [z])
    e = g.op("Exp", [g.op("Neg", [g.op("Abs", [z])])])
    return g.add(g.op("Relu", [z]), _log1p(g, e))


def _expm1_neg(g: _Graph, z: str) -> str:
    """exp(min(z, 0)) - 1, to full precision near 0 in float64 (Kahan: (u - 1) * x / log(u))."""
    x = g.op("Min", [z, g.scalar(0.0)])
    u = g.op("Exp", [x])
    um1 = g.sub(u, g.scalar(1.0))
    if not g.f64:
        return um1
    exact = g.div(g.mul(um1, x), g.op("Log", [u]))
    tiny = g.where(g.op("Equal", [u, g.scalar(0.0)]), um1, exact)  # exp underflowed: -1
    return g.where(g.op("Equal", [u, g.scalar(1.0)]), x, tiny)


def _softsign(g: _Graph, z: str) -> str:
    if not g.f64:
        return g.op("Softsign", [z])
    return g.div(z, g.add(g.scalar(1.0), g.op("Abs", [z])))


def _elu(g: _Graph, z: str, alpha: float) -> str:
    if not g.f64 and alpha == 1.0:
        return g.op("Elu", [z], alpha=1.0)
    neg = _expm1_neg(g, z) if alpha == 1.0 else g.mul(g.scalar(alpha), _expm1_neg(g, z))
    return g.where(g.op("Greater", [z, g.scalar(0.0)]), z, neg)


def _sparsemax(g: _Graph, z: str) -> str:
    # the projection onto the simplex over the last axis, as lstmcore.activations._sparsemax
    F = g.shape(z, start=-1)
    srt = g.op("TopK", [z, F], n=2, axis=-1, largest=1, sorted=1)[0]
    n = g.squeeze(F, [0])
    k = g.cast(g.op("Range", [g.const(1, dtype=np.int64), g.add(n, g.const(1, dtype=np.int64)),
                              g.const(1, dtype=np.int64)]), g.elem)  # fmt: skip
    cum = g.op("CumSum", [srt, g.const(-1, dtype=np.int64)])
    support = g.op("Greater", [g.add(g.scalar(1.0), g.mul(k, srt)), cum])
    k_z = g.reduce("ReduceSum", g.cast(support, g.onnx.TensorProto.INT64), [-1])
    top = g.op("GatherElements", [cum, g.sub(k_z, g.const(1, dtype=np.int64))], axis=-1)
    tau = g.div(g.sub(top, g.scalar(1.0)), g.cast(k_z, g.elem))
    return g.op("Relu", [g.sub(z, tau)])


def dense_activation(g: _Graph, name: str, z: str) -> str:
    """Keras's activation ``name`` (lstmcore.activations) of z."""
    name = _activations.name_of(name)
    f64 = g.f64
    c = g.scalar
    if name == "linear":
        return z
    if name in ("relu", "sigmoid", "tanh"):
        return g.op(name.capitalize(), [z])
    if name == "softsign":
        return _softsign(g, z)
    if name == "exponential":
        return g.op("Exp", [z])
    if name == "softplus":
        return _softplus(g, z)
    if name == "softmax":
        return g.op("Softmax", [z], axis=-1)
    if name == "log_softmax":
        return g.op("LogSoftmax", [z], axis=-1)
    if name == "relu6":
        return g.clip(z, 0.0, 6.0)
    if name == "hard_tanh":
        return g.clip(z, -1.0, 1.0)
    if name == "leaky_relu":
        if not f64:
            return g.op("LeakyRelu", [z], alpha=0.2)
        return g.where(g.op("Greater", [z, c(0.0)]), z, g.mul(c(0.2), z))
    if name == "elu":
        return _elu(g, z, 1.0)
    if name == "selu":
        if not f64:
            return g.op("Selu", [z], alpha=_SELU_ALPHA, gamma=_SELU_SCALE)
        neg = g.mul(c(_SELU_ALPHA), _expm1_neg(g, z))
        return g.mul(c(_SELU_SCALE), g.where(g.op("Greater", [z, c(0.0)]), z, neg))
    if name == "celu":
        if not f64:
            return g.op("Celu", [z], alpha=1.0)
        return g.add(g.op("Relu", [z]), g.op("Min", [_expm1_neg(g, z), c(0.0)]))
    if name == "hard_sigmoid":
        if not f64:
            return g.op("HardSigmoid", [z], alpha=1 / 6, beta=0.5)
        return g.clip(g.add(g.div(z, c(6.0)), c(0.5)), 0.0, 1.0)
    if name == "hard_silu":
        return g.mul(z, dense_activation(g, "hard_sigmoid", z))
    if name == "silu":
        return g.mul(z, g.op("Sigmoid", [z]))
    if name == "gelu":
        if g.opset >= 20 and not f64:
            return g.op("Gelu", [z])
        half_z = g.mul(c(0.5), z)
        return g.mul(half_z, g.add(c(1.0), _erf(g, g.div(z, c(math.sqrt(2))))))
    if name == "mish":
        return g.mul(z, g.op("Tanh", [_softplus(g, z)]))
    if name == "log_sigmoid":
        return g.op("Neg", [_softplus(g, g.op("Neg", [z]))])
    if name == "soft_shrink":
        if not f64:  # ONNX Runtime's float64 Shrink rounds through float32
            return g.op("Shrink", [z], bias=0.5, lambd=0.5)
        inner = g.where(g.op("Less", [z, c(-0.5)]), g.add(z, c(0.5)), c(0.0))
        return g.where(g.op("Greater", [z, c(0.5)]), g.sub(z, c(0.5)), inner)
    if name == "hard_shrink":
        if not f64:
            return g.op("Shrink", [z], bias=0.0, lambd=0.5)
        return g.where(g.op("Greater", [g.op("Abs", [z]), c(0.5)]), z, c(0.0))
    if name == "tanh_shrink":
        return g.sub(z, g.op("Tanh", [z]))
    if name == "sparse_sigmoid":
        return g.clip(g.div(g.add(z, c(1.0)), c(2.0)), 0.0, 1.0)
    if name == "sparse_plus":
        quad = g.div(g.op("Pow", [g.add(z, c(1.0)), c(2.0)]), c(4.0))
        inner = g.where(g.op("GreaterOrEqual", [z, c(1.0)]), z, quad)
        return g.where(g.op("LessOrEqual", [z, c(-1.0)]), c(0.0), inner)
    if name == "squareplus":
        return g.div(g.add(z, g.op("Sqrt", [g.add(g.mul(z, z), c(4.0))])), c(2.0))
    if name == "sparsemax":
        return _sparsemax(g, z)
    raise ValueError(f"activation {name!r} has no ONNX form here")  # pragma: no cover - all are above


def cell_activation(g: _Graph, value, z: str) -> str:
    """A recurrent cell's activation (the engine's spec: a name or (name, alpha[, beta])) of z, as
    ``lstmcore.reference.activations.apply``."""
    code, alpha, beta = activation_spec(value, "activation")
    c = g.scalar
    if code == 0:
        return g.op("Tanh", [z])
    if code == 1:
        return g.op("Relu", [z])
    if code == 2:
        return g.op("Sigmoid", [z])
    if code == 3:
        return z
    if code == 4:  # hard_sigmoid
        return g.clip(g.add(g.mul(c(alpha), z), c(beta)), 0.0, 1.0)
    if code == 5:  # leaky_relu
        return g.where(g.op("GreaterOrEqual", [z, c(0.0)]), z, g.mul(c(alpha), z))
    if code == 9:  # elu
        return _elu(g, z, alpha)
    if code == 10:
        return _softsign(g, z)
    if code == 11:
        return _softplus(g, z)
    raise ValueError(f"cell activation {value!r} has no ONNX form here")  # pragma: no cover


# Recurrent layers ----------------------------------------------------------------------------------


def _cell_weights(layer: Recurrent, dtype) -> tuple:
    b = layer.params["bias"] if layer.use_bias else np.zeros(layer.bias_shape(), dtype=dtype)
    return layer.params["kernel"], layer.params["recurrent_kernel"], b


def _node_weights(layer: Recurrent, dtype) -> tuple:
    """ONNX's (W (1, K*H, I), R (1, K*H, H), B (1, 2*K*H)) of one layer, through layout."""
    w_x, w_h, b = _cell_weights(layer, dtype)
    convert = {"lstm": layout.to_onnx, "gru": layout.to_onnx_gru, "rnn": layout.to_onnx_rnn}[layer.cell]
    return convert(w_x, w_h, b)


def _node_attributes(layer: Recurrent) -> dict:
    options = layer.engine_options()
    if layer.cell == "lstm":
        return layout.onnx_lstm_attributes(**options)
    if layer.cell == "gru":
        return layout.onnx_gru_attributes(**options)
    return layout.onnx_rnn_attributes(**options)


_OPS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


class _Cell:
    """One recurrent layer to run: the layer, whether it reads the steps backwards, its initial
    states (names of (B, H) values, or None), and whether its outputs at every step are needed."""

    __slots__ = ("layer", "reverse", "states", "sequences")

    def __init__(self, layer, reverse, states, sequences):
        self.layer, self.reverse, self.states, self.sequences = layer, reverse, states, sequences


class _Exporter:
    def __init__(self, onnx, model, opset: int, recurrent: str):
        self.onnx = onnx
        self.model = model
        self.g = _Graph(onnx, model.dtype, opset)
        self.form = recurrent  # the recurrent layers' form: "auto", "nodes" or "scan"
        self.BOOL = onnx.TensorProto.BOOL
        self.INT64 = onnx.TensorProto.INT64
        self._weights: dict = {}
        self._steps: dict = {}  # what _mask_steps and _compact made, by mask (and input)

    def weight(self, owner, key: str, array) -> str:
        """An initializer of a layer's weights (``owner``: the layer, or a tuple of layers whose
        weights it joins), shared by every call of the layer."""
        k = (tuple(map(id, owner)) if isinstance(owner, tuple) else id(owner), key)
        if k not in self._weights:
            self._weights[k] = self.g.const(np.asarray(array, dtype=self.g.dtype), key)
        return self._weights[k]

    # Masks in recurrent layers -------------------------------------------------------------------

    def _mask_steps(self, mask: str) -> dict:
        """What the masked forms need of a (B, T) mask: its int64 form, each row's count of valid
        steps L (B,) and the inclusive cumulative count (B, T)."""
        if mask not in self._steps:
            g = self.g
            m = g.cast(mask, self.INT64)
            self._steps[mask] = {
                "mask": mask,
                "m": m,
                "L": g.reduce("ReduceSum", m, [1], keepdims=False),
                "cum": g.op("CumSum", [m, g.const(1, dtype=np.int64)]),
            }
        return self._steps[mask]

    def _compact(self, x: str, steps: dict) -> str:
        """x (B, T, I) with each row's valid steps moved to its front, in order (the masked ones
        after them): step t goes to cum[t] - 1 when valid, to L + (masked steps before t) else."""
        key = (x, steps["mask"])
        if key in self._steps:
            return self._steps[key]
        g = self.g
        m, L, cum = steps["m"], steps["L"], steps["cum"]
        excl = g.sub(cum, m)  # valid steps before t
        T = g.squeeze(g.shape(m, start=1, end=2), [0])
        t = g.op("Range", [g.const(0, dtype=np.int64), T, g.const(1, dtype=np.int64)])
        masked_before = g.sub(t, excl)
        pos = g.where(steps["mask"], excl, g.add(g.unsqueeze(L, [1]), masked_before))
        index = g.op("Expand", [g.unsqueeze(pos, [2]), g.shape(x)])
        self._steps[key] = g.op("ScatterElements", [x, index, x], axis=1)
        return self._steps[key]

    def _uncompact(self, y: str, steps: dict, reverse: bool) -> str:
        """The outputs of the compacted rows (B, T, H) back at the input steps: the output after
        the last valid step read at or before each step, 0 where none was read yet."""
        g = self.g
        m, cum = steps["m"], steps["cum"]
        if reverse:  # reading from the end: the next valid step, or 0 past the last
            index = g.sub(cum, m)
            padded = g.op("Pad", [y, g.ints([0, 0, 0, 0, 1, 0])])
        else:  # the last valid step so far: 0 before the first (index 0: the zero row)
            index = cum
            padded = g.op("Pad", [y, g.ints([0, 1, 0, 0, 0, 0])])
        index = g.op("Expand", [g.unsqueeze(index, [2]), g.shape(y)])
        return g.op("GatherElements", [padded, index], axis=1)

    # The two forms -------------------------------------------------------------------------------

    def run_cells(self, cells: list, x: str, mask: str | None) -> list:
        """Run each cell on x (B, T, I); for each, (y, finals): y (B, T, H) the outputs at the input
        steps (input time order, Keras's values at masked steps) or None when not needed, finals
        the final states (B, H)."""
        for cell in cells:
            if cell.layer.stateful:
                raise _refuse(
                    cell.layer,
                    "stateful=True carries its states from one call to the next, and an ONNX model "
                    "keeps no state between runs; export a copy with stateful=False (what it computes "
                    "is predict after reset_states())",
                )
        steps = None if mask is None else self._mask_steps(mask)
        scans = [c for c in cells if self._scans(c.layer)]
        nodes = [c for c in cells if not self._scans(c.layer)]
        results = dict(zip(map(id, nodes), self._nodes(nodes, x, steps) if nodes else [], strict=True))
        results.update({id(c): self._scan(c, x, steps) for c in scans})
        return [results[id(c)] for c in cells]

    def _scans(self, layer) -> bool:
        """Whether ``layer`` runs as a Scan: asked for, or "auto" in float64 (ONNX Runtime has no
        float64 recurrent kernels) or with softplus (ONNX Runtime's recurrent kernels compute
        log(1 + exp(x)), inf past exp's range, where lstmcore's stays x)."""
        if self.form != "auto":
            return self.form == "scan"
        softplus = any(
            activation_spec(v, "activation")[0] == 11
            for k, v in layer.engine_options().items()
            if k.endswith("activation")
        )
        return self.g.f64 or softplus

    def _pairable(self, cells: list) -> bool:
        """Two layers one bidirectional node can run: the same cell and options, opposite ways."""
        if len(cells) != 2:
            return False
        a, b = cells[0].layer, cells[1].layer
        return (
            type(a) is type(b)
            and a.units == b.units
            and a.engine_options() == b.engine_options()
            and cells[0].reverse != cells[1].reverse
            and (cells[0].states is None) == (cells[1].states is None)
        )

    def _nodes(self, cells: list, x: str, steps) -> list:
        g = self.g
        xin = x if steps is None else self._compact(x, steps)
        xt = g.transpose(xin, [1, 0, 2])  # (T, B, I)
        lens = "" if steps is None else g.cast(steps["L"], self.onnx.TensorProto.INT32)
        groups = [cells] if self._pairable(cells) else [[c] for c in cells]
        results = {}
        for group in groups:
            group = sorted(group, key=lambda c: c.reverse)  # ONNX: forward first
            layer = group[0].layer
            D = len(group)
            direction = "bidirectional" if D == 2 else ("reverse" if group[0].reverse else "forward")
            W, R, B = (
                np.concatenate(parts, axis=0)
                for parts in zip(*(_node_weights(c.layer, g.dtype) for c in group), strict=True)
            )
            attrs = _node_attributes(layer)
            if D == 2:
                attrs = {k: list(v) * 2 if isinstance(v, list) else v for k, v in attrs.items()}
            owner = tuple(c.layer for c in group)
            Wn, Rn, Bn = (self.weight(owner, k, a) for k, a in (("W", W), ("R", R), ("B", B)))
            n_states = 2 if layer.cell == "lstm" else 1
            initial = ["", ""]
            if group[0].states is not None:
                for k in range(n_states):
                    initial[k] = g.concat([g.unsqueeze(c.states[k], [0]) for c in group], axis=0)
            sequences = any(c.sequences for c in group)
            Y = g.fresh(f"{g.scope}/Y") if sequences else ""
            Y_h = g.fresh(f"{g.scope}/Y_h")
            outs = [Y, Y_h]
            if layer.cell == "lstm":
                outs.append(g.fresh(f"{g.scope}/Y_c"))
            inputs = [xt, Wn, Rn, Bn, lens, *initial[:n_states]]
            g.node(_OPS[layer.cell], inputs, outs, hidden_size=layer.units, direction=direction, **attrs)
            Yd = g.transpose(Y, [1, 2, 0, 3]) if sequences else None  # (D, B, T, H)
            for d, c in enumerate(group):
                index = g.const(d, dtype=np.int64)
                finals = [g.op("Gather", [s, index], axis=0) for s in outs[1:]]
                y = g.op("Gather", [Yd, index], axis=0) if c.sequences else None
                if steps is not None:
                    if y is not None:
                        y = self._uncompact(y, steps, c.reverse)
                        if c.layer.zero_output_for_mask:
                            y = g.where(g.unsqueeze(steps["mask"], [2]), y, g.scalar(0.0))
                    finals = self._kept_finals(finals, c, steps)
                results[id(c)] = (y, finals)
        return [results[id(c)] for c in cells]

    def _kept_finals(self, finals: list, cell: _Cell, steps: dict) -> list:
        """A row with no valid step keeps its initial states (zeros without them)."""
        g = self.g
        some = g.unsqueeze(g.op("Greater", [steps["L"], g.const(0, dtype=np.int64)]), [1])
        initial = cell.states or [g.scalar(0.0)] * len(finals)
        return [g.where(some, f, s0) for f, s0 in zip(finals, initial, strict=True)]

    def _scan(self, cell: _Cell, x: str, steps) -> tuple:
        g = self.g
        layer = cell.layer
        H = layer.units
        w_x, w_h, b = _cell_weights(layer, g.dtype)
        lstm, gru = layer.cell == "lstm", layer.cell == "gru"
        reset_after = gru and layer.reset_after
        b_x = b[0] if reset_after else b
        zx = g.op("MatMul", [x, self.weight(layer, "kernel", w_x)])  # (B, T, G): every step at once
        if not lstm:  # the LSTM adds b after the recurrent product, as the engine
            zx = g.add(zx, self.weight(layer, "bias_x", b_x))
        n_states = 2 if lstm else 1
        states = cell.states
        if states is None:
            shape = g.concat([g.shape(x, start=0, end=1), g.ints([H])], axis=0)
            states = [g.zeros(shape)] * n_states

        body = _Graph(self.onnx, g.dtype, g.opset, names=g.names)
        body.scope = f"{g.scope}/step"
        vi = self.onnx.helper.make_tensor_value_info
        h_prev = body.fresh(f"{body.scope}/h_prev")
        c_prev = body.fresh(f"{body.scope}/c_prev") if lstm else None
        zx_t = body.fresh(f"{body.scope}/zx_t")
        m_t = body.fresh(f"{body.scope}/mask_t") if steps is not None else None
        inputs = [vi(h_prev, g.elem, None)]
        if lstm:
            inputs.append(vi(c_prev, g.elem, None))
        inputs.append(vi(zx_t, g.elem, None))
        if steps is not None:
            inputs.append(vi(m_t, self.BOOL, None))
        options = layer.engine_options()
        act, ract = options["activation"], options.get("recurrent_activation")
        W_h = body.const(w_h, "recurrent_kernel")
        if lstm:
            z = body.add(body.add(zx_t, body.op("MatMul", [h_prev, W_h])), body.const(b, "bias"))
            i, f, gg, o = body.op("Split", [z, body.ints([H] * 4)], n=4, axis=-1)
            i, f, o = (cell_activation(body, ract, v) for v in (i, f, o))
            gg = cell_activation(body, act, gg)
            c = body.add(body.mul(f, c_prev), body.mul(i, gg))
            h = body.mul(o, cell_activation(body, act, c))
            new = [h, c]
        elif gru:
            zx_z, zx_r, zx_n = body.op("Split", [zx_t, body.ints([H] * 3)], n=3, axis=-1)
            if reset_after:
                zh = body.add(body.op("MatMul", [h_prev, W_h]), body.const(b[1], "bias_h"))
                zh_z, zh_r, zh_n = body.op("Split", [zh, body.ints([H] * 3)], n=3, axis=-1)
                zz = cell_activation(body, ract, body.add(zx_z, zh_z))
                r = cell_activation(body, ract, body.add(zx_r, zh_r))
                n = cell_activation(body, act, body.add(zx_n, body.mul(r, zh_n)))
            else:
                W_zr = body.const(w_h[:, : 2 * H], "recurrent_kernel_zr")
                W_n = body.const(w_h[:, 2 * H :], "recurrent_kernel_n")
                zh_z, zh_r = body.op(
                    "Split", [body.op("MatMul", [h_prev, W_zr]), body.ints([H, H])], n=2, axis=-1
                )
                zz = cell_activation(body, ract, body.add(zx_z, zh_z))
                r = cell_activation(body, ract, body.add(zx_r, zh_r))
                n = cell_activation(body, act, body.add(zx_n, body.op("MatMul", [body.mul(r, h_prev), W_n])))
            one = body.scalar(1.0)
            h = body.add(body.mul(zz, h_prev), body.mul(body.sub(one, zz), n))
            new = [h]
        else:
            h = cell_activation(body, act, body.add(zx_t, body.op("MatMul", [h_prev, W_h])))
            new = [h]
        if steps is not None:  # a masked step keeps the states
            prev = [h_prev, c_prev] if lstm else [h_prev]
            new = [body.where(m_t, v, p) for v, p in zip(new, prev, strict=True)]
        outputs = [body.op("Identity", [v], hint="state_out") for v in new]
        if cell.sequences:
            outputs.append(body.op("Identity", [new[0]], hint="y_t"))
        body_graph = self.onnx.helper.make_graph(
            body.nodes,
            f"{g.scope}_step",
            inputs,
            [vi(name, g.elem, None) for name in outputs],
            initializer=body.inits,
        )

        direction = int(cell.reverse)
        scan_inputs = [zx]
        if steps is not None:
            scan_inputs.append(g.unsqueeze(steps["mask"], [2]))  # (B, T, 1)
        n_out = n_states + int(cell.sequences)
        outs = g.op(
            "Scan",
            [*states, *scan_inputs],
            n=n_out,
            hint="scan",
            body=body_graph,
            num_scan_inputs=len(scan_inputs),
            scan_input_axes=[1] * len(scan_inputs),
            scan_input_directions=[direction] * len(scan_inputs),
            **({"scan_output_axes": [1], "scan_output_directions": [direction]} if cell.sequences else {}),
        )
        outs = outs if isinstance(outs, list) else [outs]
        finals = outs[:n_states]
        y = outs[n_states] if cell.sequences else None
        if y is not None and steps is not None:
            if layer.zero_output_for_mask:
                keep = steps["mask"]
            else:  # outputs 0 until the first valid step read (in reading order)
                seen = g.op("CumSum", [steps["m"], g.const(1, dtype=np.int64)], reverse=direction)
                keep = g.op("Greater", [seen, g.const(0, dtype=np.int64)])
            y = g.where(g.unsqueeze(keep, [2]), y, g.scalar(0.0))
        return y, finals

    # Layers ---------------------------------------------------------------------------------------

    def convert(self, layer, xs: list, shapes: list, masks: list, states: list, many: bool, call=None):
        """The outputs (names) of ``layer`` on inputs ``xs`` (their shapes without the batch axis,
        their masks; ``call``: the layer's own call arguments), and the mask of its first output."""
        g = self.g
        self.call = dict(call or {})
        outer, g.scope = g.scope, layer.name or type(layer).__name__.lower()
        try:
            handler = _HANDLERS.get(type(layer))
            if handler is None:
                known = ", ".join(sorted(cls.__name__ for cls in _HANDLERS))
                raise ValueError(
                    f"layer {layer.name!r}: {type(layer).__name__} has no ONNX export; the layers "
                    f"exported are {known}"
                )
            if not layer.supports_masking:
                masks = [None] * len(masks)
            return handler(self, layer, xs if many else xs[0], shapes if many else shapes[0],
                           masks if many else masks[0], states)  # fmt: skip
        finally:
            g.scope = outer

    def recurrent(self, layer, x, shape, mask, states):
        g = self.g
        cell = _Cell(layer, layer.go_backwards, states or None, layer.return_sequences)
        ((y, finals),) = self.run_cells([cell], x, mask)
        if layer.return_sequences:
            out = g.reverse(y) if layer.go_backwards else y  # Keras: in the order read
        else:
            out = finals[0]
        outs = [out, *finals] if layer.return_state else [out]
        return outs, (mask if layer.return_sequences else None)

    def rnn(self, layer, x, shape, mask, states):
        """An RNN of cells: each cell's layer on the outputs of the one before (the first reads
        backwards with go_backwards, and the next ones its outputs in the order read)."""
        g = self.g
        cells = layer._cells
        given = layer._split(list(states), "initial_state") if states else [None] * len(cells)
        finals, y, m = [], x, mask
        for k, cell in enumerate(cells):
            if k == 1 and mask is not None and layer.go_backwards:
                m = g.reverse(mask)
            outer, g.scope = g.scope, f"{g.scope}/{cell.name}"
            try:
                outs, _ = self.recurrent(cell, y, None, m, given[k])
            finally:
                g.scope = outer
            y, finals = outs[0], finals + outs[1:]
        return [y, *finals], (mask if layer.return_sequences else None)

    def bidirectional(self, layer, x, shape, mask, states):
        g = self.g
        fwd, bwd = layer.forward_layer, layer.backward_layer
        n = len(fwd.state_names)
        s_f, s_b = (states[:n], states[n:]) if states else (None, None)
        seq = layer.return_sequences
        if any(isinstance(inner, RNN) and len(inner._cells) > 1 for inner in (fwd, bwd)):
            # stacks of cells: each direction on its own, its outputs in the order read
            (out_f, *fin_f), _ = self.convert(fwd, [x], [shape], [mask], s_f or [], many=False)
            (out_b, *fin_b), _ = self.convert(bwd, [x], [shape], [mask], s_b or [], many=False)
            if seq:
                out_b = g.reverse(out_b)  # as Bidirectional.forward
        else:
            fwd, bwd = (inner._cells[0] if isinstance(inner, RNN) else inner for inner in (fwd, bwd))
            cells = [_Cell(fwd, fwd.go_backwards, s_f, seq), _Cell(bwd, bwd.go_backwards, s_b, seq)]
            (y_f, fin_f), (y_b, fin_b) = self.run_cells(cells, x, mask)
            if seq:
                out_f = g.reverse(y_f) if fwd.go_backwards else y_f
                out_b = y_b if bwd.go_backwards else g.reverse(y_b)  # put back in time order
            else:
                out_f, out_b = fin_f[0], fin_b[0]
        mode = layer.merge_mode
        if mode == "concat":
            ys = [g.concat([out_f, out_b], axis=-1)]
        elif mode == "sum":
            ys = [g.add(out_f, out_b)]
        elif mode == "ave":
            ys = [g.mul(g.add(out_f, out_b), g.scalar(0.5))]
        elif mode == "mul":
            ys = [g.mul(out_f, out_b)]
        else:
            ys = [out_f, out_b]
        outs = [*ys, *fin_f, *fin_b] if layer.return_state else ys
        return outs, (mask if seq else None)

    def dense(self, layer, x, shape, mask, states):
        g = self.g
        z = g.op("MatMul", [x, self.weight(layer, "kernel", layer.params["kernel"])])
        if layer.use_bias:
            z = g.add(z, self.weight(layer, "bias", layer.params["bias"]))
        return [dense_activation(g, layer.activation, z)], mask

    def activation(self, layer, x, shape, mask, states):
        return [dense_activation(self.g, layer.activation, x)], mask

    def dropout(self, layer, x, shape, mask, states):
        return [x], mask  # identity in inference

    def relu(self, layer, x, shape, mask, states):
        """Keras's ReLU: x above the threshold (at most max_value), negative_slope * (x - t) below."""
        g = self.g
        above = x if layer.max_value is None else g.op("Min", [x, g.scalar(layer.max_value)])
        t = g.scalar(layer.threshold)
        below = g.mul(g.scalar(layer.negative_slope), g.sub(x, t))
        return [g.where(g.op("Greater", [x, t]), above, below)], mask

    def leaky_relu(self, layer, x, shape, mask, states):
        g = self.g
        zero = g.scalar(0.0)
        return [g.where(g.op("GreaterOrEqual", [x, zero]), x, g.mul(g.scalar(layer.negative_slope), x))], mask

    def elu(self, layer, x, shape, mask, states):
        return [_elu(self.g, x, layer.alpha)], mask

    def prelu(self, layer, x, shape, mask, states):
        g = self.g
        alpha = self.weight(layer, "alpha", layer.params["alpha"])  # (S...) broadcasts over the batch
        return [g.where(g.op("GreaterOrEqual", [x, g.scalar(0.0)]), x, g.mul(alpha, x))], mask

    def permute(self, layer, x, shape, mask, states):
        return [self.g.transpose(x, (0, *layer.dims))], None

    def zero_padding(self, layer, x, shape, mask, states):
        pads = [0, 0, 0, 0, 0, 0]  # (begin of each axis, then end of each)
        axis = layer._axis()
        pads[axis], pads[3 + axis] = layer.padding
        return [self.g.op("Pad", [x, self.g.ints(pads)])], None

    def cropping(self, layer, x, shape, mask, states):
        before, after = layer.cropping
        return [self.g.slice(x, [before], [-after if after else _INT64_MAX], [1])], None

    def get_item(self, layer, x, shape, mask, states):
        # x[key], one axis at a time: a slice a Slice, an int a Gather (the axis gone), None an Unsqueeze
        g = self.g
        axis = 0  # of the tensor so far
        for v in _expanded(self.call.get("key"), len(shape) + 1):
            if v is None:
                x = g.unsqueeze(x, [axis])
            elif isinstance(v, int):
                x = g.op("Gather", [x, g.const(np.asarray(v, dtype=np.int64), "index", np.int64)], axis=axis)
                continue
            elif v != slice(None) and v != slice(None, None, 1):
                step = 1 if v.step is None else v.step
                start = (0 if step > 0 else _INT64_MAX) if v.start is None else v.start
                stop = (_INT64_MAX if step > 0 else -_INT64_MAX - 1) if v.stop is None else v.stop
                x = g.slice(x, [start], [stop], [axis], [step])
            axis += 1
        return [x], None

    def reduction(self, layer, x, shape, mask, states):
        axes = list(layer._axes(len(shape) + 1))
        return [self.g.reduce(_REDUCTIONS[type(layer)], x, axes, keepdims=layer.keepdims)], None

    def expand_dims(self, layer, x, shape, mask, states):
        return [self.g.unsqueeze(x, list(layer._axes(len(shape) + 1)))], None

    def squeeze(self, layer, x, shape, mask, states):
        return [self.g.squeeze(x, list(layer._axes(len(shape) + 1, shape)))], None

    def elementwise(self, layer, x, shape, mask, states):
        if isinstance(layer, _operations.Square):
            return [self.g.mul(x, x)], None
        return [self.g.op(_ELEMENTWISE[type(layer)], [x])], None

    def softmax_op(self, layer, x, shape, mask, states):
        (axis,) = layer._axes(len(shape) + 1)
        return [self.g.op("Softmax", [x], axis=axis)], None

    def transpose_op(self, layer, x, shape, mask, states):
        return [self.g.transpose(x, layer._perm(len(shape) + 1))], None

    def up_sampling(self, layer, x, shape, mask, states):
        g = self.g
        F = shape[1]
        if F is None:
            raise ValueError(
                f"layer {layer.name!r} (UpSampling1D) needs a known number of features to export"
            )
        y = g.op("Expand", [g.unsqueeze(x, [2]), g.ints([1, 1, layer.size, 1])])
        return [g.reshape(y, [0, -1, F])], None

    def softmax(self, layer, x, shape, mask, states):
        if mask is not None:
            raise ValueError(
                f"layer {layer.name!r} (Softmax) gets a mask: its masked softmax has no ONNX form here; "
                "drop the mask before it (a layer that does not support masking)"
            )
        g = self.g
        axes = list(layer._axes(len(shape) + 1))
        e = g.op("Exp", [g.sub(x, g.reduce("ReduceMax", x, axes))])
        return [g.div(e, g.reduce("ReduceSum", e, axes))], mask

    def attention(self, layer, xs, shapes, masks, states):
        """Attention and AdditiveAttention (their forward, lstmcore.layers.attention)."""
        g = self.g
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) == 3 else v
        q_mask, v_mask = masks[0], masks[1]
        additive = isinstance(layer, AdditiveAttention)
        if not additive and layer.score_mode == "dot":
            S = g.op("MatMul", [q, g.transpose(k, [0, 2, 1])])
            if layer.use_scale:
                S = g.mul(S, self.weight(layer, "scale", layer.params["scale"]))
        else:  # tanh of query + key, summed over the features
            U = g.add(g.unsqueeze(q, [2]), g.unsqueeze(k, [1]))  # (B, Tq, Tv, d)
            if additive:
                Tn = g.op("Tanh", [U])
                if layer.use_scale:
                    Tn = g.mul(Tn, self.weight(layer, "scale", layer.params["scale"]))
                S = g.reduce("ReduceSum", Tn, [-1], keepdims=False)
            else:
                if layer.use_scale:
                    U = g.mul(U, self.weight(layer, "scale", layer.params["scale"]))
                total = g.reduce("ReduceSum", g.op("Tanh", [U]), [-1], keepdims=False)
                S = g.mul(
                    total, self.weight(layer, "concat_score_weight", layer.params["concat_score_weight"])
                )
        keep = None if v_mask is None else g.unsqueeze(v_mask, [1])  # (B, 1, Tv)
        if self.call.get("use_causal_mask"):
            sizes = g.concat([g.shape(q, start=1, end=2), g.shape(k, start=1, end=2)], axis=0)
            ones = g.op(
                "ConstantOfShape", [sizes], value=self.onnx.helper.make_tensor("one", self.INT64, [1], [1])
            )
            causal = g.cast(g.op("Trilu", [ones], upper=0), self.BOOL)  # (Tq, Tv): j <= i
            causal = g.unsqueeze(causal, [0])
            keep = causal if keep is None else g.op("And", [keep, causal])
        if keep is not None:
            S = g.where(keep, S, g.sub(S, g.scalar(1.0e9)))
        W = g.op("Softmax", [S], axis=-1)
        out = g.op("MatMul", [W, v])
        if q_mask is not None:
            out = g.where(g.unsqueeze(q_mask, [2]), out, g.scalar(0.0))
        outs = [out, W] if self.call.get("return_attention_scores") else [out]
        return outs, q_mask

    def multi_head_attention(self, layer, xs, shapes, masks, states):
        """MultiHeadAttention (its forward, lstmcore.layers.attention): heads as an axis."""
        g = self.g
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) == 3 else v
        N = layer.num_heads

        def project(x, name):  # (B, T, d) @ (d, N, w) -> (B, N, T, w)
            kernel = layer.params[f"{name}/kernel"]
            d, _, w = kernel.shape
            y = g.op("MatMul", [x, self.weight(layer, f"{name}/kernel", kernel.reshape(d, N * w))])
            if layer.use_bias:
                y = g.add(y, self.weight(layer, f"{name}/bias", layer.params[f"{name}/bias"].reshape(N * w)))
            return g.transpose(g.reshape(y, [0, 0, N, w]), [0, 2, 1, 3])

        scale = g.scalar(1.0 / np.sqrt(float(layer.key_dim)))
        Q, K, V = g.mul(project(q, "query"), scale), project(k, "key"), project(v, "value")
        S = g.op("MatMul", [Q, g.transpose(K, [0, 1, 3, 2])])  # (B, N, T, S)
        keep = None
        for m, axes in ((masks[0], [1, 3]), (masks[1], [1, 2]), (masks[2] if len(xs) == 3 else None, [1, 2])):
            if m is not None:
                m = g.unsqueeze(m, axes)
                keep = m if keep is None else g.op("And", [keep, m])
        if self.call.get("use_causal_mask"):
            sizes = g.concat([g.shape(q, start=1, end=2), g.shape(v, start=1, end=2)], axis=0)
            one = self.onnx.helper.make_tensor("one", self.INT64, [1], [1])
            causal = g.cast(g.op("Trilu", [g.op("ConstantOfShape", [sizes], value=one)], upper=0), self.BOOL)
            causal = g.unsqueeze(causal, [0, 1])
            keep = causal if keep is None else g.op("And", [keep, causal])
        if keep is not None:
            S = g.where(keep, S, g.scalar(-1.0e9))
        W = g.op("Softmax", [S], axis=-1)
        if keep is not None:
            W = g.where(keep, W, g.scalar(0.0))
        O = g.transpose(g.op("MatMul", [W, V]), [0, 2, 1, 3])  # (B, T, N, value_dim)
        kernel = layer.params["attention_output/kernel"]
        O = g.reshape(O, [0, 0, N * layer.value_dim])
        out = g.op(
            "MatMul", [O, self.weight(layer, "attention_output/kernel", kernel.reshape(-1, kernel.shape[-1]))]
        )
        if layer.use_bias:
            out = g.add(
                out, self.weight(layer, "attention_output/bias", layer.params["attention_output/bias"])
            )
        return ([out, W] if self.call.get("return_attention_scores") else [out]), masks[0]

    def rescaling(self, layer, x, shape, mask, states):
        g = self.g
        y = g.mul(x, self.weight(layer, "scale", layer.scale))
        return [g.add(y, self.weight(layer, "offset", layer.offset))], mask

    def normalization(self, layer, x, shape, mask, states):
        g = self.g
        probe = np.zeros((1, *[1 if d is None else d for d in shape]), dtype=g.dtype)
        mean, denom = layer._statistics(probe)  # the forward's, (1, ...)
        mean, denom = self.weight(layer, "mean", mean), self.weight(layer, "denominator", denom)
        y = g.add(mean, g.mul(x, denom)) if layer.invert else g.div(g.sub(x, mean), denom)
        return [y], mask

    def embedding(self, layer, x, shape, mask, states):
        g = self.g
        ids = g.cast(x, self.INT64)
        y = g.op("Gather", [self.weight(layer, "embeddings", layer.params["embeddings"]), ids], axis=0)
        out_mask = None
        if layer.mask_zero:
            out_mask = g.op("Not", [g.op("Equal", [ids, g.const(0, dtype=np.int64)])])
        return [y], out_mask

    def masking(self, layer, x, shape, mask, states):
        g = self.g
        differs = g.op("Not", [g.op("Equal", [x, g.scalar(layer.mask_value)])])
        keep = g.reduce("ReduceMax", g.cast(differs, g.elem), [-1], keepdims=True)
        y = g.mul(x, keep)
        return [y], g.cast(g.squeeze(keep, [-1]), self.BOOL)

    def time_distributed(self, layer, x, shape, mask, states):
        g = self.g
        full = g.shape(x)
        flat = g.reshape(x, g.concat([g.ints([-1]), g.shape(x, start=2)], axis=0))
        inner = layer.layer
        outs, _ = self.convert(inner, [flat], [tuple(shape[1:])], [None], [], many=False)
        y = outs[0]
        bt = g.slice(full, [0], [2], [0])
        y = g.reshape(y, g.concat([bt, g.shape(y, start=1)], axis=0))
        return [y], mask

    def repeat_vector(self, layer, x, shape, mask, states):
        g = self.g
        return [g.op("Expand", [g.unsqueeze(x, [1]), g.ints([1, layer.n, 1])])], None

    def flatten(self, layer, x, shape, mask, states):
        g = self.g
        ndim = len(shape) + 1
        axes = layer._axes(ndim)
        if axes is not None:
            x = g.transpose(x, axes)
        return [g.reshape(x, [0, -1])], None

    def reshape(self, layer, x, shape, mask, states):
        return [self.g.reshape(x, [0, *layer.target_shape])], None

    def merge(self, layer, xs, shapes, masks, states):
        g = self.g
        if isinstance(layer, Concatenate):
            y = g.concat(xs, axis=layer.axis)
        elif isinstance(layer, Subtract):
            y = g.sub(xs[0], xs[1])
        else:
            kinds = ((Average, "Add"), (Add, "Add"), (Multiply, "Mul"), (Minimum, "Min"), (Maximum, "Max"))
            op = next(o for cls, o in kinds if isinstance(layer, cls))  # Minimum is a Maximum
            y = xs[0]
            for v in xs[1:]:  # left to right, as lstmcore
                y = g.op(op, [y, v])
            if isinstance(layer, Average):
                y = g.div(y, g.scalar(len(xs)))
        given = [m for m in masks if m is not None and not isinstance(layer, _Op)]  # a + b: none
        out_mask = given[0] if given else None
        for m in given[1:]:
            out_mask = g.op("And", [out_mask, m])
        return [y], out_mask

    def dot(self, layer, xs, shapes, masks, states):
        # x1 -> (B, P, K): its axis moved last, the others flattened | x2 -> (B, K, Q) | MatMul
        g = self.g
        x1, x2 = xs
        n1, n2 = len(shapes[0]) + 1, len(shapes[1]) + 1
        a1, a2 = layer._resolved([n1, n2])
        if layer.normalize:
            x1, x2 = self._normalize(x1, a1), self._normalize(x2, a2)
        t1 = g.transpose(x1, [k for k in range(n1) if k != a1] + [a1]) if a1 != n1 - 1 else x1
        t2 = g.transpose(x2, [0, a2] + [k for k in range(1, n2) if k != a2]) if a2 != 1 else x2
        batch = g.shape(t1, start=0, end=1)
        m1 = t1 if n1 == 3 else g.reshape(t1, g.concat([batch, g.ints([-1]), g.shape(t1, start=n1 - 1)], 0))
        m2 = t2 if n2 == 3 else g.reshape(t2, g.concat([batch, g.shape(t2, start=1, end=2), g.ints([-1])], 0))
        z = g.op("MatMul", [m1, m2])  # (B, P, Q)
        # (B, *x1's other axes, *x2's other axes), or (B, 1) where both are (B, K)
        rest = [g.shape(t1, start=1, end=n1 - 1)] if n1 > 2 else []
        rest += [g.shape(t2, start=2)] if n2 > 2 else []
        out = g.concat([batch, *(rest or [g.ints([1])])], 0)
        return [g.reshape(z, out)], None

    def _normalize(self, x, axis: int) -> str:
        """Keras's ops.normalize: x * min(1 / sqrt(sum(x^2)), 1 / epsilon) along ``axis``."""
        g = self.g
        total = g.reduce("ReduceSum", g.mul(x, x), [axis], keepdims=True)
        inv = g.div(g.scalar(1.0), g.op("Sqrt", [total]))
        return g.mul(x, g.op("Min", [inv, g.scalar(1 / EPSILON)]))

    def global_average(self, layer, x, shape, mask, states):
        g = self.g
        ax = layer._steps_axis
        if mask is None:
            y = g.reduce("ReduceMean", x, [ax], keepdims=True)
        else:  # the mean over the valid steps (0/0 = NaN where a row has none, as lstmcore)
            m = g.unsqueeze(mask, [2 if ax == 1 else 1])
            total = g.reduce("ReduceSum", g.where(m, x, g.scalar(0.0)), [ax], keepdims=True)
            count = g.reduce("ReduceSum", g.cast(m, g.elem), [ax], keepdims=True)
            y = g.div(total, count)
        return [y if layer.keepdims else g.squeeze(y, [ax])], None

    def global_max(self, layer, x, shape, mask, states):
        g = self.g
        ax = layer._steps_axis
        y = g.reduce("ReduceMax", x, [ax], keepdims=True)
        return [y if layer.keepdims else g.squeeze(y, [ax])], None

    def _taps(self, x, k: int, stride: int, dilation: int) -> list:
        """The k strided Slices of a padded channels-last x (B, T, C): tap j is x[:, j*d + s*t]
        for every output step t."""
        g = self.g
        span = dilation * (k - 1) + 1
        taps = []
        for j in range(k):
            start, tail = j * dilation, span - 1 - j * dilation
            taps.append(g.slice(x, [start], [-tail if tail else _INT64_MAX], [1], [stride]))
        return taps

    def _same_pads(self, x, span: int, stride: int) -> str:
        """TensorFlow's "same" padding of x (B, T, C) as Pad's pads: ceil(T / s) outputs, the odd
        one on the right."""
        g = self.g
        T = g.shape(x, start=1, end=2)
        one, s = g.ints([1]), g.ints([stride])
        out = g.div(g.sub(g.add(T, s), one), s)  # ceil(T / s)
        total = g.op("Max", [g.ints([0]), g.sub(g.add(g.mul(g.sub(out, one), s), g.ints([span])), T)])
        left = g.div(total, g.ints([2]))
        zero = g.ints([0])
        return g.concat([zero, left, zero, zero, g.sub(total, left), zero], axis=0)

    def _pad(self, x, padding: str, span: int, stride: int, value=0.0) -> str:
        g = self.g
        if padding == "valid":
            return x
        pads = self._same_pads(x, span, stride) if padding == "same" else g.ints([0, span - 1, 0, 0, 0, 0])
        return g.op("Pad", [x, pads, g.scalar(value)])

    def pooling(self, layer, x, shape, mask, states):
        g = self.g
        first = layer.data_format == "channels_first"
        k, s = layer.pool_size, layer.strides
        if layer.mode == "max" or not g.f64:
            xc = x if first else g.transpose(x, [0, 2, 1])  # (B, C, T)
            attrs = {"kernel_shape": [k], "strides": [s]}
            if layer.padding == "same":
                attrs["auto_pad"] = "SAME_UPPER"
            if layer.mode == "max":
                y = g.op("MaxPool", [xc], **attrs)
            else:
                y = g.op("AveragePool", [xc], count_include_pad=0, **attrs)
            return [y if first else g.transpose(y, [0, 2, 1])], None
        # float64 average: the sum of the window's taps over its count of real steps
        xl = g.transpose(x, [0, 2, 1]) if first else x  # (B, T, C)
        total = self._sum(self._taps(self._pad(xl, layer.padding, k, s), k, s, 1))
        ones = g.op("ConstantOfShape", [g.concat([g.ints([1]), g.shape(xl, start=1, end=2), g.ints([1])], 0)],
                    value=self.onnx.numpy_helper.from_array(np.ones(1, dtype=g.dtype)))  # fmt: skip
        count = self._sum(self._taps(self._pad(ones, layer.padding, k, s), k, s, 1))
        y = g.div(total, count)
        return [g.transpose(y, [0, 2, 1]) if first else y], None

    def _sum(self, values: list) -> str:
        y = values[0]
        for v in values[1:]:
            y = self.g.add(y, v)
        return y

    def conv1d(self, layer, x, shape, mask, states):
        g = self.g
        first = layer.data_format == "channels_first"
        k, s, d, G, F = layer.kernel_size, layer.strides, layer.dilation_rate, layer.groups, layer.filters
        span = d * (k - 1) + 1
        kernel = np.asarray(layer.params["kernel"])  # (k, I/G, F)
        if not g.f64:
            attrs = {"kernel_shape": [k], "strides": [s], "dilations": [d], "group": G}
            if layer.padding == "same" and d > 1:  # ONNX Runtime's SAME_UPPER takes no dilation
                xc = g.transpose(
                    self._pad(g.transpose(x, [0, 2, 1]) if first else x, "same", span, s), [0, 2, 1]
                )
            else:
                if layer.padding == "same":
                    attrs["auto_pad"] = "SAME_UPPER"
                elif layer.padding == "causal":
                    attrs["pads"] = [span - 1, 0]
                xc = x if first else g.transpose(x, [0, 2, 1])  # (B, I, T)
            inputs = [xc, self.weight(layer, "kernel_oik", kernel.transpose(2, 1, 0))]
            if layer.use_bias:
                inputs.append(self.weight(layer, "bias", layer.params["bias"]))
            z = g.op("Conv", inputs, **attrs)
            z = g.transpose(z, [0, 2, 1])  # (B, T_out, F)
        else:  # float64: im2col as lstmcore, the taps side by side times the (k*I, F) kernel
            xl = g.transpose(x, [0, 2, 1]) if first else x
            cols = g.concat(self._taps(self._pad(xl, layer.padding, span, s), k, s, d), axis=-1)
            Ig, Fg = kernel.shape[1], F // G
            full = np.zeros((k, Ig * G, F), dtype=g.dtype)  # the groups' blocks on the diagonal
            for gi in range(G):
                full[:, gi * Ig : (gi + 1) * Ig, gi * Fg : (gi + 1) * Fg] = kernel[
                    :, :, gi * Fg : (gi + 1) * Fg
                ]
            z = g.op("MatMul", [cols, self.weight(layer, "kernel_cols", full.reshape(k * Ig * G, F))])
            if layer.use_bias:
                z = g.add(z, self.weight(layer, "bias", layer.params["bias"]))
        y = dense_activation(g, layer.activation, z)
        return [g.transpose(y, [0, 2, 1]) if first else y], None

    def conv1d_transpose(self, layer, x, shape, mask, states):
        g = self.g
        first = layer.data_format == "channels_first"
        k, s, d, F = layer.kernel_size, layer.strides, layer.dilation_rate, layer.filters
        span = layer._span
        left, extra = layer._window()  # the full output's steps before the window; its length's change
        kernel = np.asarray(layer.params["kernel"])  # (k, F, I)
        if not g.f64:  # ConvTranspose: the full output, pads cropped, output_padding zeros past its end
            xc = x if first else g.transpose(x, [0, 2, 1])  # (B, I, T)
            right = -extra - left  # the full output's steps cropped at the right (negative: zeros)
            inputs = [xc, self.weight(layer, "kernel_iok", kernel.transpose(2, 1, 0))]
            if layer.use_bias:
                inputs.append(self.weight(layer, "bias", layer.params["bias"]))
            z = g.op("ConvTranspose", inputs, kernel_shape=[k], strides=[s], dilations=[d],
                     pads=[left, max(right, 0)], output_padding=[max(-right, 0)])  # fmt: skip
            z = g.transpose(z, [0, 2, 1])  # (B, L, F)
        else:  # float64: the input stuffed with s - 1 zeros between steps and padded, the reversed
            # kernel's taps side by side times a (k*I, F) matrix (Keras's JAX formulation)
            xl = g.transpose(x, [0, 2, 1]) if first else x  # (B, T, I)
            I = kernel.shape[2]
            if s > 1:
                u = g.op("Pad", [g.unsqueeze(xl, [2]), g.ints([0, 0, 0, 0, 0, 0, s - 1, 0])])  # (B, T, s, I)
                u = g.slice(g.reshape(u, [0, -1, I]), [0], [-(s - 1)], [1])  # (B, (T-1)*s + 1, I)
            else:
                u = xl
            pl = span - 1 - left
            u = g.op("Pad", [u, g.ints([0, pl, 0, 0, extra + 2 * (span - 1) - pl, 0])])
            cols = g.concat(self._taps(u, k, 1, d), axis=-1)  # (B, L, k*I)
            w = kernel[::-1].transpose(0, 2, 1).reshape(k * I, F)
            z = g.op("MatMul", [cols, self.weight(layer, "kernel_cols", w)])
            if layer.use_bias:
                z = g.add(z, self.weight(layer, "bias", layer.params["bias"]))
        y = dense_activation(g, layer.activation, z)
        return [g.transpose(y, [0, 2, 1]) if first else y], None

    def _broadcast_weight(self, layer, name: str, ndim: int, axes) -> str:
        w = np.asarray(layer.params[name])
        shape = [1] * ndim
        for k, a in enumerate(axes):
            shape[a] = w.shape[k]
        return self.weight(layer, name, w.reshape(shape))

    def layer_norm(self, layer, x, shape, mask, states):
        g = self.g
        ndim = len(shape) + 1
        axes = list(layer._axes(ndim))
        mean = g.reduce("ReduceMean", x, axes, keepdims=True)
        xc = g.sub(x, mean)
        var = g.reduce("ReduceMean", g.mul(xc, xc), axes, keepdims=True)
        y = g.mul(xc, self._rsqrt(g.add(var, g.scalar(layer.epsilon))))
        if layer.scale:
            y = g.mul(y, self._broadcast_weight(layer, "gamma", ndim, axes))
        if layer.center:
            y = g.add(y, self._broadcast_weight(layer, "beta", ndim, axes))
        return [y], mask

    def _rsqrt(self, v) -> str:
        g = self.g
        tiny = g.scalar(np.finfo(g.dtype).tiny)
        return g.op("Reciprocal", [g.op("Sqrt", [g.op("Max", [v, tiny])])])

    def batch_norm(self, layer, x, shape, mask, states):
        g = self.g
        ndim = len(shape) + 1
        (a,) = layer._axes(ndim)
        dt = g.dtype.type
        var = np.asarray(layer.params["moving_variance"])
        r = 1 / np.sqrt(np.maximum(var + dt(layer.epsilon), np.finfo(g.dtype).tiny))
        rg = r * layer.params["gamma"] if layer.scale else r
        bshape = [1] * ndim
        bshape[a] = var.shape[0]
        y = g.sub(
            x, self.weight(layer, "moving_mean", np.asarray(layer.params["moving_mean"]).reshape(bshape))
        )
        y = g.mul(y, self.weight(layer, "scale", np.asarray(rg, dtype=g.dtype).reshape(bshape)))
        if layer.center:
            y = g.add(y, self._broadcast_weight(layer, "beta", ndim, (a,)))
        return [y], mask


# lstmcore.ops's operations as ONNX operators (Square is x * x)
_REDUCTIONS = {
    _operations.Sum: "ReduceSum",
    _operations.Mean: "ReduceMean",
    _operations.Max: "ReduceMax",
    _operations.Min: "ReduceMin",
}
_ELEMENTWISE = {
    _operations.Exp: "Exp",
    _operations.Log: "Log",
    _operations.Sqrt: "Sqrt",
    _operations.Absolute: "Abs",
    _operations.Tanh: "Tanh",
    _operations.Sigmoid: "Sigmoid",
    _operations.Relu: "Relu",
}

_HANDLERS = {
    LSTM: _Exporter.recurrent,
    GRU: _Exporter.recurrent,
    SimpleRNN: _Exporter.recurrent,
    Bidirectional: _Exporter.bidirectional,
    RNN: _Exporter.rnn,
    Attention: _Exporter.attention,
    AdditiveAttention: _Exporter.attention,
    MultiHeadAttention: _Exporter.multi_head_attention,
    Rescaling: _Exporter.rescaling,
    Normalization: _Exporter.normalization,
    Dense: _Exporter.dense,
    Activation: _Exporter.activation,
    Dropout: _Exporter.dropout,
    SpatialDropout1D: _Exporter.dropout,
    GaussianNoise: _Exporter.dropout,
    GaussianDropout: _Exporter.dropout,
    ActivityRegularization: _Exporter.dropout,
    ReLU: _Exporter.relu,
    LeakyReLU: _Exporter.leaky_relu,
    ELU: _Exporter.elu,
    Softmax: _Exporter.softmax,
    PReLU: _Exporter.prelu,
    Identity: _Exporter.dropout,
    Permute: _Exporter.permute,
    ZeroPadding1D: _Exporter.zero_padding,
    Cropping1D: _Exporter.cropping,
    UpSampling1D: _Exporter.up_sampling,
    Embedding: _Exporter.embedding,
    Masking: _Exporter.masking,
    TimeDistributed: _Exporter.time_distributed,
    RepeatVector: _Exporter.repeat_vector,
    Flatten: _Exporter.flatten,
    Reshape: _Exporter.reshape,
    Concatenate: _Exporter.merge,
    Dot: _Exporter.dot,
    GetItem: _Exporter.get_item,
    **{cls: _Exporter.reduction for cls in _REDUCTIONS},
    **{cls: _Exporter.elementwise for cls in (*_ELEMENTWISE, _operations.Square)},
    _operations.ExpandDims: _Exporter.expand_dims,
    _operations.Squeeze: _Exporter.squeeze,
    _operations.SoftmaxOp: _Exporter.softmax_op,
    _operations.Transpose: _Exporter.transpose_op,
    Add: _Exporter.merge,
    Subtract: _Exporter.merge,
    Multiply: _Exporter.merge,
    AddOp: _Exporter.merge,
    SubtractOp: _Exporter.merge,
    MultiplyOp: _Exporter.merge,
    Average: _Exporter.merge,
    Maximum: _Exporter.merge,
    Minimum: _Exporter.merge,
    GlobalAveragePooling1D: _Exporter.global_average,
    GlobalMaxPooling1D: _Exporter.global_max,
    MaxPooling1D: _Exporter.pooling,
    AveragePooling1D: _Exporter.pooling,
    Conv1D: _Exporter.conv1d,
    Conv1DTranspose: _Exporter.conv1d_transpose,
    LayerNormalization: _Exporter.layer_norm,
    BatchNormalization: _Exporter.batch_norm,
}


# Shapes: which axes are free -------------------------------------------------------------------


def _is_functional(model) -> bool:
    return hasattr(model, "nodes") and hasattr(model, "inputs")


def _weight_shapes(layer, shape) -> list:
    return [tuple(s) for _, s, _ in layer.weight_specs(shape)]


def _check_free(layer, shape) -> None:
    """ValueError where ``layer`` would not compute the same on inputs whose None axes take any
    size: a weight whose shape depends on them, a fixed Reshape, merged inputs of fixed and free
    sizes."""
    if _weight_shapes(layer, shape) != [tuple(w.shape) for w in layer.weights]:
        raise ValueError("a weight depends on a free axis")
    if isinstance(layer, Reshape) and None in shape and -1 not in layer.target_shape:
        raise ValueError("a Reshape to a fixed shape")
    if isinstance(shape, list):
        for axis in range(len(shape[0])):
            if isinstance(layer, Concatenate) and axis == layer._axis(len(shape[0])):
                continue
            sizes = {s[axis] for s in shape}
            if None in sizes and len(sizes) > 1:
                raise ValueError("merged inputs of fixed and free sizes")


def _propagate(model, input_shapes: list, check: bool) -> list:
    """The shapes (without the batch axis) of every model output for inputs of ``input_shapes``;
    with ``check``, ValueError where a layer would not compute the same for any size of the None
    axes. For a Sequential, one shape per layer output; for a functional model, a dict by tensor."""
    if not _is_functional(model):
        shape = tuple(input_shapes[0])
        shapes = []
        for layer in model.layers:
            if check:
                _check_free(layer, shape)
            shape = tuple(layer.output_shape(shape))
            shapes.append(shape)
        return shapes
    known = {id(t): tuple(s) for t, s in zip(model.inputs, input_shapes, strict=True)}
    for node in model.nodes:
        ins = [known[id(t)] for t in node.inputs]
        shape = ins if node.many else ins[0]
        if check:
            _check_free(node.layer, shape)
        for t, s in zip(node.outputs, node.layer.output_shapes(shape, **node.kwargs), strict=True):
            known[id(t)] = tuple(s)
    return known


def _input_specs(model) -> list[tuple[str, tuple]]:
    """(name, declared shape without the batch axis) of each model input."""
    if _is_functional(model):
        return [(t.name, tuple(t.input_shape)) for t in model.inputs]
    return [("input_layer", tuple(model.input_shape))]


def _reads_ids(model, k: int) -> bool:
    """Whether input k is read by an Embedding (its axis 1 is then the time axis)."""
    if not _is_functional(model):
        return isinstance(model.layers[0], Embedding)
    t = model.inputs[k]
    return any(isinstance(n.layer, Embedding) and any(i is t for i in n.inputs) for n in model.nodes)


def _free_shapes(model) -> list[tuple]:
    """The inputs' shapes with the time axis None wherever the model computes the same for any
    length (else as declared)."""
    specs = _input_specs(model)
    freed = []
    for k, (_, shape) in enumerate(specs):
        if len(shape) >= 2 or (len(shape) == 1 and _reads_ids(model, k)):
            shape = (None, *shape[1:])
        freed.append(shape)
    if freed != [s for _, s in specs]:
        try:
            _propagate(model, freed, check=True)
        except (ValueError, TypeError, IndexError, KeyError):
            return [s for _, s in specs]
    return freed


# The model ------------------------------------------------------------------------------------


def _opset(onnx, opset_version) -> int:
    if opset_version is None:
        return DEFAULT_OPSET
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset_version, bool) or not isinstance(opset_version, (int, np.integer)):
        raise TypeError(
            f"opset_version must be an int in [{MIN_OPSET}, {newest}] or None, got {opset_version!r}"
        )
    if not MIN_OPSET <= opset_version <= newest:
        raise ValueError(
            f"opset_version must be in [{MIN_OPSET}, {newest}] (the newest this onnx package knows), "
            f"got {opset_version}"
        )
    return int(opset_version)


def model_to_onnx(model, opset_version=None, *, recurrent: str = "auto"):
    """The ONNX ``ModelProto`` of a built ``Sequential`` or functional ``Model`` (see the module
    docstring); ``recurrent`` is "auto", "nodes" or "scan"."""
    onnx = _import_onnx()
    opset = _opset(onnx, opset_version)
    if recurrent not in _RECURRENT_FORMS:
        raise ValueError(f"recurrent must be one of {_RECURRENT_FORMS}, got {recurrent!r}")
    if not model.built:
        model.build()
    helper = onnx.helper
    ex = _Exporter(onnx, model, opset, recurrent)
    g = ex.g
    specs = _input_specs(model)
    shapes = _free_shapes(model)
    names = [name for name, _ in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"the model's inputs need distinct names to be ONNX inputs, got {names}")
    graph_inputs = []
    for name, shape in zip(names, shapes, strict=True):
        g.names.add(name)
        dims = ["batch"]
        for axis, size in enumerate(shape, start=1):
            if size is not None:
                dims.append(size)
            elif axis == 1:
                dims.append("time" if len(specs) == 1 else f"{name}_time")
            else:
                dims.append(f"{name}_dim{axis}")
        graph_inputs.append(helper.make_tensor_value_info(name, g.elem, dims))

    if _is_functional(model):
        values = {
            id(t): (name, shape, None) for t, name, shape in zip(model.inputs, names, shapes, strict=True)
        }
        known = _propagate(model, shapes, check=False)
        for node in model.nodes:
            ins = [values[id(t)] for t in node.inputs]
            sts = [values[id(t)][0] for t in node.states]
            outs, out_mask = ex.convert(
                node.layer,
                [v[0] for v in ins],
                [v[1] for v in ins],
                [v[2] for v in ins],
                sts,
                node.many,
                node.kwargs,
            )
            for k, t in enumerate(node.outputs):
                values[id(t)] = (outs[k], known[id(t)], out_mask if k == 0 else None)
        results = [(values[id(t)][0], values[id(t)][1]) for t in model.outputs]
        out_names = list(model.output_names)
    else:
        x, mask, shape = names[0], None, shapes[0]
        for layer in model.layers:
            outs, mask = ex.convert(layer, [x], [shape], [mask], [], many=False)
            shape = tuple(layer.output_shape(shape))
            x = outs[0]
        results = [(x, shape)]
        out_names = [model.layers[-1].name]

    graph_outputs = []
    for out_name, (value, shape) in zip(out_names, results, strict=True):
        if out_name in g.names:
            out_name = g.fresh(out_name)
        else:
            g.names.add(out_name)
        g.node("Identity", [value], [out_name])
        dims = [
            "batch",
            *(s if s is not None else f"{out_name}_dim{a}" for a, s in enumerate(shape, start=1)),
        ]
        graph_outputs.append(helper.make_tensor_value_info(out_name, g.elem, dims))

    graph = helper.make_graph(g.nodes, model.name, graph_inputs, graph_outputs, initializer=g.inits)
    opsets = [helper.make_opsetid("", opset)]
    from .. import __version__

    proto = helper.make_model(
        graph, opset_imports=opsets, producer_name="lstmcore", producer_version=__version__
    )
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    return proto


def export(model, filepath, opset_version=None, *, recurrent: str = "auto") -> None:
    """Write ``model`` (a built ``Sequential`` or functional ``Model``) to ``filepath`` as an ONNX
    model (opset 17 unless ``opset_version`` says another, from 17 on): dynamic batch and time
    axes, the model's dtype, ``predict``'s outputs. The file is written whole or not at all (a
    temporary file renamed over it). ``recurrent``: "nodes" (ONNX's LSTM, GRU and RNN operators),
    "scan" (a Scan over the cell's step) or "auto" (nodes in float32, scan in float64, which ONNX
    Runtime's recurrent operators lack). ValueError naming the layer and the option for what has
    no ONNX form."""
    onnx = _import_onnx()
    proto = model_to_onnx(model, opset_version, recurrent=recurrent)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    path = os.fsdecode(filepath)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".lstmcore-", suffix=".onnx.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

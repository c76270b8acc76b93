"""PyTorch models in and out: :func:`from_torch` (torch modules and state_dicts -> an lstmcore
``Sequential``), :func:`from_torch_stack` (-> the arguments of ``lstmcore.stack_forward``) and
:func:`to_torch` (an lstmcore model -> an ``nn.Sequential``). The weights go through the converters
of :mod:`lstmcore.io.layout`, the only place that knows the gate orders.

    model = from_torch(nn.LSTM(8, 32, num_layers=2, batch_first=True))      # a built Sequential
    model.predict(x)                     # == lstm(x)[0] in eval mode, x (B, T, I)
    net = to_torch(model)                # nn.Sequential, eval mode; net(x) == model.predict(x)
    spec = from_torch_stack(lstm)        # proj_size too
    y, h_n, c_n = lstmcore.stack_forward(x=x, **spec)   # == lstm(x): output, (h_n, c_n)

What converts (both directions, eval-mode outputs equal):

    torch                                   lstmcore
    nn.LSTM / nn.GRU / nn.RNN, L layers     L layers LSTM / GRU(reset_after=True) / SimpleRNN
      (tanh or relu), bias=False              (activation tanh or relu), use_bias=False;
                                              return_sequences=True between them
      bidirectional=True                    Bidirectional(..., merge_mode="concat") per layer
      dropout=p (num_layers > 1)            Dropout(p) between the layers: torch drops the outputs
                                              of every layer but the last, in training only, which
                                              is what lstmcore's Dropout layer does there
    RecurrentBlock (below)                  the same, and its reduction and merge mode
    nn.Linear                               Dense (on the last axis, as nn.Linear)
    nn.Dropout                              Dropout
    nn.ReLU, Tanh, Sigmoid, GELU, SiLU, ... Activation (the table ``_ACTIVATIONS``: torch's
                                              module with the parameters lstmcore's activation has)
    nn.Identity                             nothing
    nn.Sequential / a list of the above     the same layers, flattened, in order

Layouts. lstmcore takes batch-first inputs, x (B, T, I), whatever the torch module's
``batch_first``: that flag changes where the batch axis is, not the weights, so ``from_torch``
does not need it; give a ``batch_first=False`` module's input as ``x.transpose(0, 1)``.
:func:`to_torch` makes modules with the ``batch_first`` it is given (True by default).

The output tuple. ``nn.LSTM`` returns ``(output, (h_n, c_n))``; lstmcore's layers return one
array. ``from_torch`` reads a bare recurrent module as its ``output``, the whole sequence (B, T,
D*H), unless ``return_sequences=False`` is given for the last one: then its last step, which for
one direction is ``output[:, -1]`` (= ``h_n[-1]``) and for two is Keras's
``cat([h_n[-2], h_n[-1]], -1)`` -- the forward direction's last step and the backward
direction's last step *in its reading order* (it read x[:, 0] last), not ``output[:, -1]``. Inside
an ``nn.Sequential`` a module after a recurrent one gets that array (torch itself cannot pass the
tuple on). :class:`RecurrentBlock` is the torch module that makes this explicit, and runs in torch:
``nn.Sequential(RecurrentBlock(nn.LSTM(8, 32, batch_first=True), return_sequences=False),
nn.Linear(32, 1))``; :func:`to_torch` exports the recurrent layers as such blocks.

Custom modules (``class Net(nn.Module)`` with ``self.lstm``, ``self.fc`` and a forward of its own)
are refused: what the forward does with ``out`` cannot be read from the module. Convert the parts
in the order the forward runs them::

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(8, 32, num_layers=2, batch_first=True)
            self.fc = nn.Linear(32, 1)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[:, -1])

    model = from_torch([net.lstm, net.fc], return_sequences=False)   # fc(out[:, -1])
    model = from_torch(nn.Sequential(RecurrentBlock(net.lstm, return_sequences=False), net.fc))

(both the same; for a bidirectional ``net.lstm``, ``out[:, -1]`` is not the last step above and
has no lstmcore layer: use ``fc(cat(h_n[-2], h_n[-1]))`` in torch or keep the sequence.)

Refused by name, never dropped: ``proj_size`` in layers (lstmcore's LSTM layer has no
projection; :func:`from_torch_stack` runs it), activations with parameters lstmcore's do not have
(``nn.LeakyReLU()``'s 0.01 slope: lstmcore's leaky_relu has Keras's 0.2), ``Softmax`` over another
axis than the last, any other module; on export, what torch's modules cannot compute (recurrent
activations other than tanh/sigmoid, ``reset_after=False``, stateful layers, masks, layers other
than the ones above) and, unless ``inference_only=True``, training-only options torch has no
equivalent for (the recurrent layers' ``dropout`` and ``recurrent_dropout``: Keras's one mask per
sequence; Dropout's ``noise_shape``).

torch is imported when a function here needs it; without it they raise an ImportError that says
so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from . import layout

# RecurrentBlock is made at first access (the module __getattr__ below): it needs torch
__all__ = ["RecurrentBlock", "from_torch", "from_torch_stack", "to_torch"]  # noqa: F822

_MERGES = ("concat", "sum", "mul", "ave")
# lstmcore activation -> torch module (class name in torch.nn, the parameters it must have).
_ACTIVATIONS = {
    "relu": ("ReLU", {}),
    "relu6": ("ReLU6", {}),
    "leaky_relu": ("LeakyReLU", {"negative_slope": 0.2}),
    "elu": ("ELU", {"alpha": 1.0}),
    "selu": ("SELU", {}),
    "celu": ("CELU", {"alpha": 1.0}),
    "softplus": ("Softplus", {"beta": 1.0, "threshold": 20.0}),
    "softsign": ("Softsign", {}),
    "soft_shrink": ("Softshrink", {"lambd": 0.5}),
    "hard_shrink": ("Hardshrink", {"lambd": 0.5}),
    "silu": ("SiLU", {}),
    "gelu": ("GELU", {"approximate": "none"}),
    "tanh": ("Tanh", {}),
    "tanh_shrink": ("Tanhshrink", {}),
    "hard_tanh": ("Hardtanh", {"min_val": -1.0, "max_val": 1.0}),
    "sigmoid": ("Sigmoid", {}),
    "hard_sigmoid": ("Hardsigmoid", {}),
    "hard_silu": ("Hardswish", {}),
    "mish": ("Mish", {}),
    "log_sigmoid": ("LogSigmoid", {}),
    "softmax": ("Softmax", {"dim": -1}),
    "log_softmax": ("LogSoftmax", {"dim": -1}),
}
_BY_TORCH = {cls: ours for ours, (cls, _) in _ACTIVATIONS.items()}
_CELL_OF = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}
_GATES = {"lstm": 4, "gru": 3, "rnn": 1}
_KEY = re.compile(
    r"^(?P<prefix>.*?)(?P<name>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(?P<l>\d+)(?P<rev>_reverse)?$"
)


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError(
            "lstmcore.io.torch_io needs PyTorch, which is not installed: pip install torch "
            "(lstmcore itself runs without it)"
        ) from None
    return torch


# The torch module for lstmcore's recurrent layers -----------------------------------------------

_CLASSES: dict = {}


def _block_class():
    """``RecurrentBlock``, made at first use (it subclasses ``nn.Module``, so it needs torch)."""
    if "RecurrentBlock" in _CLASSES:
        return _CLASSES["RecurrentBlock"]
    nn = _torch().nn

    class RecurrentBlock(nn.Module):
        """An ``nn.LSTM``/``nn.GRU``/``nn.RNN`` whose forward returns one tensor, as a Keras
        recurrent layer (or a stack of them) does, so that it fits in an ``nn.Sequential``.

        ``forward(x)``: x (B, T, I) (``(T, B, I)`` when ``rnn.batch_first`` is False) ->
        ``return_sequences=True``: the output sequence (B, T, D*H) (time-major likewise), the
        directions merged by ``merge_mode`` ("concat": torch's own [fwd | bwd]; "sum", "mul",
        "ave": of the two halves); ``return_sequences=False``: the last layer's final h, (B, H),
        for two directions ``h_n[-2]`` and ``h_n[-1]`` merged (Keras's Bidirectional). With
        ``go_backwards=True`` (one direction only) the steps are read from the last to the first
        and the sequence comes out in that order, as Keras's ``go_backwards``. Initial states are
        zeros; no lengths or masks.
        """

        def __init__(self, rnn, return_sequences=True, merge_mode="concat", go_backwards=False):
            super().__init__()
            if not isinstance(rnn, (nn.LSTM, nn.GRU, nn.RNN)):
                raise TypeError(
                    f"RecurrentBlock wraps an nn.LSTM, nn.GRU or nn.RNN, got {type(rnn).__name__}"
                )
            if merge_mode not in _MERGES:
                raise ValueError(f"merge_mode must be one of {_MERGES}, got {merge_mode!r}")
            if go_backwards and rnn.bidirectional:
                raise ValueError(
                    "go_backwards=True reads one direction backwards; the module is bidirectional"
                )
            self.rnn = rnn
            self.return_sequences = bool(return_sequences)
            self.merge_mode = merge_mode
            self.go_backwards = bool(go_backwards)

        def forward(self, x):
            if self.go_backwards:
                x = x.flip(1 if self.rnn.batch_first else 0)
            y, h_n = self.rnn(x)
            if isinstance(h_n, tuple):  # the LSTM's (h_n, c_n)
                h_n = h_n[0]
            if not self.rnn.bidirectional:
                return y if self.return_sequences else h_n[-1]
            if self.return_sequences:
                if self.merge_mode == "concat":
                    return y
                y_f, y_b = y.chunk(2, dim=-1)
            else:
                y_f, y_b = h_n[-2], h_n[-1]
            if self.merge_mode == "concat":
                return _torch().cat([y_f, y_b], dim=-1)
            if self.merge_mode == "sum":
                return y_f + y_b
            if self.merge_mode == "mul":
                return y_f * y_b
            return (y_f + y_b) * 0.5

        def extra_repr(self):
            return (
                f"return_sequences={self.return_sequences}, merge_mode={self.merge_mode!r}, "
                f"go_backwards={self.go_backwards}"
            )

    RecurrentBlock.__module__ = __name__
    RecurrentBlock.__qualname__ = "RecurrentBlock"
    _CLASSES["RecurrentBlock"] = RecurrentBlock
    return RecurrentBlock


def __getattr__(name):
    # RecurrentBlock is made on first access (torch imported then), which lets pickle find it too
    if name == "RecurrentBlock":
        return _block_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# What both directions pass through --------------------------------------------------------------


@dataclass
class _Rnn:
    """A torch recurrent module (L layers x D directions) as data, in torch's layout: weights[l*D+d]
    is (w_ih, w_hh, b_ih, b_hh, w_hr), NumPy arrays, None where absent."""

    cell: str
    I: int
    H: int
    L: int
    D: int
    bias: bool
    nonlinearity: str | None
    proj: int
    dropout: float
    weights: list
    return_sequences: bool | None  # None: a bare module, from_torch's keyword decides
    merge_mode: str = "concat"
    go_backwards: bool = False
    where: str = ""
    trainable: list = field(default_factory=list)

    @property
    def width(self) -> int:
        """Features of the output: D * (P or H) for "concat", else (P or H)."""
        n = self.proj or self.H
        return n * self.D if self.merge_mode == "concat" else n


@dataclass
class _Part:
    """Any other piece: kind "linear" (weight (O, F), bias (O,) or None, torch's layout),
    "dropout" (rate) or "activation" (name, dim of a softmax)."""

    kind: str
    where: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    rate: float = 0.0
    name: str = ""
    dim: int | None = None
    trainable: bool = True


def _label(path: str, m) -> str:
    return f"{path} ({type(m).__name__})" if path else type(m).__name__


def _array(name: str, a) -> np.ndarray:
    """A weight as a float32/float64 NumPy array (tensors detached)."""
    return layout._as_float(name, a)


def _plain(m, cls) -> bool:
    """``m`` is a ``cls`` whose forward is torch's own (a subclass may compute something else)."""
    return isinstance(m, cls) and type(m).forward is cls.forward


# Import -----------------------------------------------------------------------------------------


def _read_rnn(m, where: str) -> _Rnn:
    """An nn.LSTM / nn.GRU / nn.RNN as an _Rnn (return_sequences None)."""
    cell = next((v for c, v in _CELL_OF.items() if _is(m, c)), None)
    if cell is None:
        raise TypeError(f"{where}: {type(m).__name__} overrides torch's forward; from_torch cannot read it")
    L, D, H = m.num_layers, 2 if m.bidirectional else 1, m.hidden_size
    P = getattr(m, "proj_size", 0) or 0
    weights = []
    for layer in range(L):
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            get = lambda n, sfx=sfx: _array(n + sfx, getattr(m, n + sfx))  # noqa: E731
            weights.append(
                (
                    get("weight_ih"),
                    get("weight_hh"),
                    get("bias_ih") if m.bias else None,
                    get("bias_hh") if m.bias else None,
                    get("weight_hr") if P else None,
                )
            )
    return _Rnn(
        cell=cell,
        I=m.input_size,
        H=H,
        L=L,
        D=D,
        bias=bool(m.bias),
        nonlinearity=getattr(m, "nonlinearity", None) if cell == "rnn" else None,
        proj=P,
        dropout=float(m.dropout) if L > 1 else 0.0,
        weights=weights,
        return_sequences=None,
        where=where,
    )


def _is(m, name: str) -> bool:
    return _plain(m, getattr(_torch().nn, name))


def _read_state_dict(sd: Mapping, cell, nonlinearity, dropout) -> _Rnn:
    """One recurrent module's state_dict (keys with one common prefix are fine) as an _Rnn."""
    found, prefixes, other = {}, set(), []
    for key, value in sd.items():
        m = _KEY.match(str(key))
        if m is None:
            other.append(key)
            continue
        prefixes.add(m["prefix"])
        found[(m["name"], int(m["l"]), bool(m["rev"]))] = (key, value)
    if other or len(prefixes) > 1 or not found:
        why = (
            f"it also has {other[:4]}"
            if other
            else (f"its keys are under {sorted(prefixes)}" if found else "it has no such keys")
        )
        raise ValueError(
            "from_torch reads the state_dict of one nn.LSTM, nn.GRU or nn.RNN (keys weight_ih_l<k>, "
            f"weight_hh_l<k>, bias_ih_l<k>, bias_hh_l<k>, weight_hr_l<k>, _reverse); {why}: pass that "
            "module's own state_dict (net.lstm.state_dict()) or the module itself"
        )
    L = 1 + max(k[1] for k in found)
    D = 2 if any(k[2] for k in found) else 1
    names = {k[0] for k in found}
    optional = [n for n in ("bias_ih", "bias_hh", "weight_hr") if n in names]
    weights = []
    for layer in range(L):
        for d in range(D):
            row = []
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"):
                entry = found.get((n, layer, bool(d)))
                needed = n in ("weight_ih", "weight_hh") or n in optional
                if entry is None and needed:
                    raise ValueError(
                        f"the state_dict has no {n}_l{layer}{'_reverse' if d else ''}: it needs every "
                        f"layer and direction up to layer {L - 1}"
                    )
                row.append(None if entry is None else _array(entry[0], entry[1]))
            weights.append(tuple(row))
    w_ih, w_hh, *_, w_hr = weights[0]
    if w_hh.ndim != 2 or w_ih.ndim != 2 or 0 in w_hh.shape:
        raise ValueError(f"weight_hh_l0 must be (K*H, H), got shape {w_hh.shape}")
    H = w_hr.shape[1] if w_hr is not None else w_hh.shape[1]
    K, rest = divmod(w_hh.shape[0], H)
    inferred = {4: "lstm", 3: "gru", 1: "rnn"}.get(K) if rest == 0 else None
    if inferred is None or (w_hr is not None and inferred != "lstm"):
        raise ValueError(
            f"weight_hh_l0 {w_hh.shape} is not 4, 3 or 1 gate blocks of H={H} rows (LSTM, GRU, RNN)"
        )
    if cell is not None:
        given = str(cell).lower().removeprefix("nn.")
        if given not in _GATES:
            raise ValueError(f"cell must be 'lstm', 'gru' or 'rnn', got {cell!r}")
        if given != inferred:
            raise ValueError(
                f"cell={cell!r} does not fit the state_dict: weight_hh_l0 {w_hh.shape} is {K} gate "
                f"block(s) of H={H}, an nn.{inferred.upper()}"
            )
    if inferred == "rnn":
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                "an nn.RNN's state_dict does not say its nonlinearity: pass nonlinearity='tanh' or "
                f"'relu', got {nonlinearity!r}"
            )
    elif nonlinearity is not None:
        raise ValueError(f"nonlinearity= is nn.RNN's; this is the state_dict of an nn.{inferred.upper()}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    return _Rnn(
        cell=inferred,
        I=w_ih.shape[1],
        H=H,
        L=L,
        D=D,
        bias="bias_ih" in names or "bias_hh" in names,
        nonlinearity=nonlinearity if inferred == "rnn" else None,
        proj=0 if w_hr is None else w_hr.shape[0],
        dropout=float(dropout) if L > 1 else 0.0,
        weights=weights,
        return_sequences=None,
        where="state_dict",
    )


def _read_activation(m, nn, where: str) -> _Part | None:
    ours = _BY_TORCH.get(type(m).__name__)
    if ours is None or type(m) is not getattr(nn, type(m).__name__, None):
        return None
    dim = None
    for attr, value in _ACTIVATIONS[ours][1].items():
        got = getattr(m, attr)
        if attr == "dim":
            dim = got  # checked against the input's rank when the model is made
            if got is None:
                raise ValueError(f"{where}: dim=None (torch's implicit dim) is refused; give dim=-1")
        elif got != value:
            raise ValueError(
                f"{where} has {attr}={got!r}; lstmcore's {ours} has {attr}={value!r} only (Keras's "
                "activation), so this module is refused"
            )
    return _Part("activation", where, name=ours, dim=dim)


def _read_module(m, path: str) -> list:
    nn = _torch().nn
    where = _label(path, m)
    Block = _block_class()
    if isinstance(m, Block) and type(m).forward is Block.forward:
        part = _read_rnn(m.rnn, where)
        part.return_sequences, part.merge_mode, part.go_backwards = (
            m.return_sequences,
            m.merge_mode,
            m.go_backwards,
        )
        return [part]
    if any(_plain(m, getattr(nn, c)) for c in _CELL_OF):
        return [_read_rnn(m, where)]
    if _plain(m, nn.Sequential):
        parts = []
        for name, child in m.named_children():
            parts += _read_module(child, f"{path}.{name}" if path else name)
        return parts
    if type(m) is nn.Linear:
        return [
            _Part(
                "linear",
                where,
                weight=_array("weight", m.weight),
                bias=None if m.bias is None else _array("bias", m.bias),
            )
        ]
    if type(m) is nn.Dropout:
        return [_Part("dropout", where, rate=float(m.p))]
    if type(m) is nn.Identity:
        return []
    act = _read_activation(m, nn, where)
    if act is not None:
        return [act]
    if type(m).__module__.startswith("torch."):
        raise TypeError(
            f"{where}: torch's nn.{type(m).__name__} is not among what from_torch converts (nn.LSTM, "
            "nn.GRU, nn.RNN, RecurrentBlock, nn.Linear, nn.Dropout, nn.Identity, the activations "
            f"{sorted(_BY_TORCH)}, nn.Sequential of these)"
        )
    children = ", ".join(f"{n} ({type(c).__name__})" for n, c in m.named_children()) or "none"
    raise TypeError(
        f"{where} is a custom module (children: {children}); from_torch cannot read what its forward "
        "does with them. Convert its parts in the order the forward runs them, e.g. "
        "from_torch([net.lstm, net.fc], return_sequences=False) for fc(lstm(x)[0][:, -1]) "
        "(see lstmcore.io.torch_io's docstring)"
    )


def _read(obj, cell, nonlinearity, dropout) -> list:
    """Any accepted input as a list of _Rnn and _Part."""
    if isinstance(obj, Mapping):
        return [_read_state_dict(obj, cell, nonlinearity, dropout)]
    if (cell, nonlinearity, dropout) != (None, None, 0.0):
        raise ValueError(
            "cell=, nonlinearity= and dropout= describe a state_dict; a torch module says them itself"
        )
    if isinstance(obj, (list, tuple)):
        parts = []
        for k, m in enumerate(obj):
            if layout._torch_kind(m) != "module":
                raise TypeError(
                    f"from_torch: item {k} of the list is a {type(m).__name__}, not a torch module"
                )
            parts += _read_module(m, f"[{k}]")
        return parts
    kind = layout._torch_kind(obj)
    if kind == "module":
        return _read_module(obj, "")
    raise TypeError(
        "from_torch takes a torch module (nn.LSTM, nn.GRU, nn.RNN, RecurrentBlock, nn.Linear, ..., "
        "nn.Sequential of them), a list of modules, or a recurrent module's state_dict; got "
        f"{type(obj).__name__}"
    )


def _dtype(parts, dtype) -> np.dtype:
    arrays = [a for p in parts for a in _arrays_of(p)]
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        return dtype
    found = {a.dtype for a in arrays}
    if len(found) > 1:
        raise TypeError(f"the torch weights mix {sorted(map(str, found))}: pass dtype='float32' or 'float64'")
    return found.pop() if found else np.dtype(np.float32)


def _arrays_of(p) -> list:
    if isinstance(p, _Rnn):
        return [a for row in p.weights for a in row if a is not None]
    return [a for a in (p.weight, p.bias) if a is not None]


def _recurrent_layer(p: _Rnn, layer: int):
    from ..layers import GRU, LSTM, Bidirectional, SimpleRNN

    last = layer == p.L - 1
    kw = {
        "use_bias": p.bias,
        "return_sequences": True if not last else p.return_sequences,
        "go_backwards": p.go_backwards and layer == 0,
    }
    if p.cell == "lstm":
        inner = LSTM(p.H, **kw)
    elif p.cell == "gru":
        inner = GRU(p.H, reset_after=True, **kw)
    else:
        inner = SimpleRNN(p.H, activation=p.nonlinearity, **kw)
    if p.D == 1:
        return inner
    return Bidirectional(inner, merge_mode=p.merge_mode if last else "concat")


def _recurrent_weights(p: _Rnn, layer: int, dtype) -> list:
    convert = {"lstm": layout.from_torch, "gru": layout.from_torch_gru, "rnn": layout.from_torch_rnn}[p.cell]
    out = []
    for d in range(p.D):
        w_ih, w_hh, b_ih, b_hh, _ = (
            None if a is None else a.astype(dtype, copy=False) for a in p.weights[layer * p.D + d]
        )
        w_x, w_h, b = convert(w_ih, w_hh, b_ih, b_hh)
        out += [w_x, w_h, b] if p.bias else [w_x, w_h]
    return out


def _sequential(parts: list, input_shape, dtype):
    """The built Sequential of the parts (return_sequences already decided)."""
    from ..layers import Activation, Dense, Dropout, Input
    from ..model import Sequential

    dtype = _dtype(parts, dtype)
    sized = next((p for p in parts if isinstance(p, _Rnn) or p.kind == "linear"), None)
    has_rnn = any(isinstance(p, _Rnn) for p in parts)
    if input_shape is None:
        if sized is None:
            raise ValueError("nothing here says the input's size: pass input_shape=(..., features)")
        I = sized.I if isinstance(sized, _Rnn) else sized.weight.shape[1]
        input_shape = (None, I) if has_rnn else (I,)
    input_shape = tuple(input_shape)
    ndim, features = len(input_shape) + 1, input_shape[-1]
    layers, weights = [], []
    for p in parts:
        if isinstance(p, _Rnn):
            if p.proj:
                raise ValueError(
                    f"{p.where} has proj_size={p.proj}: lstmcore's LSTM layer has no projection; run it "
                    "with lstmcore.stack_forward(x=x, **from_torch_stack(module))"
                )
            if ndim != 3:
                raise ValueError(f"{p.where} needs sequences (B, T, I); it gets inputs of rank {ndim}")
            if features != p.I:
                raise ValueError(
                    f"{p.where} takes {p.I} features, the input or layer before gives {features}"
                )
            for layer in range(p.L):
                layers.append(_recurrent_layer(p, layer))
                weights += _recurrent_weights(p, layer, dtype)
                if layer < p.L - 1 and p.dropout > 0:
                    layers.append(Dropout(p.dropout))
            features, ndim = p.width, 3 if p.return_sequences else 2
        elif p.kind == "linear":
            O, F = p.weight.shape
            if features != F:
                raise ValueError(f"{p.where} takes {F} features, the input or layer before gives {features}")
            layers.append(Dense(O, use_bias=p.bias is not None))
            weights.append(p.weight.T.astype(dtype))
            if p.bias is not None:
                weights.append(p.bias.astype(dtype))
            features = O
        elif p.kind == "dropout":
            layers.append(Dropout(p.rate))
        else:
            if p.dim is not None and p.dim not in (-1, ndim - 1):
                raise ValueError(
                    f"{p.where} has dim={p.dim}; lstmcore's {p.name} acts on the last axis (dim=-1 or "
                    f"{ndim - 1} here) only"
                )
            layers.append(Activation(p.name))
    model = Sequential([Input(input_shape), *layers], dtype=dtype.name)
    model.set_weights(weights)
    return model


def from_torch(
    obj,
    *,
    return_sequences=None,
    cell=None,
    nonlinearity=None,
    dropout=0.0,
    input_shape=None,
    dtype=None,
):
    """A torch model -> a built ``lstmcore.Sequential`` whose ``predict`` gives the torch model's
    eval-mode output (its layers: ``model.layers``). See the module docstring for the table.

    ``obj``: an ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (any num_layers, bidirectional, bias,
    batch_first, dropout; nonlinearity tanh/relu); a :class:`RecurrentBlock`; an ``nn.Linear``,
    ``nn.Dropout``, activation or ``nn.Identity``; an ``nn.Sequential`` or list of these; or the
    ``state_dict`` of one recurrent module (tensors or arrays; a common key prefix such as
    ``"lstm."`` is fine). Parameters that require grad, on any device, are detached and copied.

    return_sequences: for the last recurrent module when it is a bare nn.LSTM/GRU/RNN: True
        (None, the default) is torch's ``output``, every step; False the last step (module
        docstring: for two directions Keras's, not ``output[:, -1]``).
    cell, nonlinearity, dropout: what a state_dict cannot say. The cell ('lstm', 'gru', 'rnn') and
        the sizes (layers, directions, hidden, input, proj_size, bias) are read from the shapes;
        ``cell`` is then a check. An nn.RNN's ``nonlinearity`` ('tanh', 'relu') must be given.
        ``dropout`` (torch's between-layer dropout, training only) is 0 unless given.
    input_shape: the model's input shape without the batch axis; default ``(None, I)`` (any
        number of steps) when there is a recurrent module, else ``(I,)``.
    dtype: of the model, float32 or float64; default the weights' (one dtype; mixed is refused).

    Inputs are batch-first, x (B, T, I), whatever the module's ``batch_first``. ``proj_size``
    is refused here (lstmcore's LSTM layer has no projection): use :func:`from_torch_stack`.
    """
    parts = _read(obj, cell, nonlinearity, dropout)
    rnns = [p for p in parts if isinstance(p, _Rnn)]
    if return_sequences is not None:
        if not rnns:
            raise ValueError("return_sequences= is for a recurrent module; there is none")
        if rnns[-1].return_sequences is not None:
            raise ValueError(
                f"return_sequences= is for a bare nn.LSTM/GRU/RNN; the last recurrent module, "
                f"{rnns[-1].where}, is a RecurrentBlock with return_sequences={rnns[-1].return_sequences}"
            )
        rnns[-1].return_sequences = bool(return_sequences)
    for k, p in enumerate(rnns):
        if p.return_sequences is None:
            p.return_sequences = True
        if not p.return_sequences and k < len(rnns) - 1:
            raise ValueError(
                f"{p.where} returns its last step only, and {rnns[k + 1].where} after it needs sequences"
            )
    return _sequential(parts, input_shape, dtype)


def from_torch_stack(obj, *, cell=None, nonlinearity=None, dropout=0.0, dtype=None) -> dict:
    """An ``nn.LSTM``/``nn.GRU``/``nn.RNN`` (or its state_dict, with the hints of
    :func:`from_torch`) -> the arguments of ``lstmcore.stack_forward``, which then returns what the
    module returns: ``y, h_n, c_n = stack_forward(x=x, **spec)`` (x and y batch-first) equals
    ``output, (h_n, c_n)`` in eval mode, ``proj_size`` included.

    Returns ``{"cell", "weights" (L*D dicts w_x, w_h, b[, proj]), "bidirectional", "dropout"}``
    and the cell's options (``activation`` for the RNN, ``reset_after=True`` for the GRU); pass
    ``training=True`` to apply the dropout between layers.
    """
    if layout._torch_kind(obj) == "module" and isinstance(obj, _block_class()):
        raise TypeError("from_torch_stack takes the recurrent module itself: pass block.rnn")
    if not isinstance(obj, Mapping) and not (
        layout._torch_kind(obj) == "module" and any(_is(obj, c) for c in _CELL_OF)
    ):
        raise TypeError(
            f"from_torch_stack takes an nn.LSTM, nn.GRU or nn.RNN or its state_dict, got {type(obj).__name__}"
        )
    (p,) = _read(obj, cell, nonlinearity, dropout)
    dtype = _dtype([p], dtype)
    convert = {"lstm": layout.from_torch, "gru": layout.from_torch_gru, "rnn": layout.from_torch_rnn}[p.cell]
    weights = []
    for row in p.weights:
        w_ih, w_hh, b_ih, b_hh, w_hr = (None if a is None else a.astype(dtype, copy=False) for a in row)
        args = (w_ih, w_hh, b_ih, b_hh) + ((w_hr,) if w_hr is not None else ())
        arrays = convert(*args)
        weights.append(dict(zip(("w_x", "w_h", "b", "proj"), arrays, strict=False)))
    spec = {"cell": p.cell, "weights": weights, "bidirectional": p.D == 2, "dropout": p.dropout}
    if p.cell == "rnn":
        spec["activation"] = p.nonlinearity
    if p.cell == "gru":
        spec["reset_after"] = True
    return spec


# Export -----------------------------------------------------------------------------------------


def _model_layers(model) -> list:
    """The layers of a Sequential, of a functional Model that is a chain, a layer or a list."""
    from ..functional import Model
    from ..layers import Input, Layer
    from ..model import Sequential

    if isinstance(model, Model):
        chain = len(model.inputs) == 1 and len(model.outputs) == 1
        prev = model.inputs[0]
        for node in model.nodes if chain else ():
            if node.many or node.states or len(node.outputs) != 1 or node.inputs[0] is not prev:
                chain = False
                break
            prev = node.outputs[0]
        if (
            not chain
            or prev is not model.outputs[0]
            or len({id(n.layer) for n in model.nodes}) != len(model.nodes)
        ):
            raise ValueError(
                f"model {model.name!r}: to_torch exports a chain of layers (a Sequential, or a functional "
                "Model with one input and one output where each layer feeds the next once); this one "
                "branches, merges, shares a layer or passes states"
            )
        layers = [n.layer for n in model.nodes]
    elif isinstance(model, Sequential):
        if not model.built:
            raise ValueError(f"model {model.name!r} is not built: build it (or fit it) before to_torch")
        layers = list(model.layers)
    elif isinstance(model, Layer):
        layers = [model]
    elif isinstance(model, (list, tuple)) and all(isinstance(m, Layer) for m in model):
        layers = list(model)
    else:
        raise TypeError(
            f"to_torch takes an lstmcore model, layer or list of layers, got {type(model).__name__}"
        )
    layers = [layer for layer in layers if not isinstance(layer, Input)]
    for layer in layers:
        if not layer.built:
            raise ValueError(
                f"layer {layer.name!r} is not built (it has no weights yet): build the model first"
            )
    return layers


def _recurrent_item(layer, inference_only: bool) -> _Rnn:
    """An lstmcore LSTM/GRU/SimpleRNN or Bidirectional of one as a one-layer _Rnn."""
    from ..layers import GRU, LSTM, Bidirectional, SimpleRNN

    name = f"layer {layer.name!r} ({type(layer).__name__})"
    bidi = isinstance(layer, Bidirectional)
    inner = [layer.forward_layer, layer.backward_layer] if bidi else [layer]
    kinds = {LSTM: "lstm", GRU: "gru", SimpleRNN: "rnn"}
    if any(type(r) not in kinds for r in inner):
        raise ValueError(
            f"{name}: to_torch exports LSTM, GRU and SimpleRNN layers, got "
            f"{[type(r).__name__ for r in inner]}"
        )
    cell = kinds[type(inner[0])]
    for r in inner:
        if cell in ("lstm", "gru"):
            for arg, want in (("activation", "tanh"), ("recurrent_activation", "sigmoid")):
                if str(getattr(r, arg)).lower() != want:
                    raise ValueError(
                        f"{name}: torch's nn.{cell.upper()} computes {arg}={want!r} only, got "
                        f"{getattr(r, arg)!r}"
                    )
        elif str(r.activation).lower() not in ("tanh", "relu"):
            raise ValueError(
                f"{name}: torch's nn.RNN has nonlinearity 'tanh' or 'relu' only, got {r.activation!r}"
            )
        if cell == "gru" and not r.reset_after:
            raise ValueError(f"{name}: torch's nn.GRU computes reset_after=True only, got reset_after=False")
        if r.stateful:
            raise ValueError(f"{name} is stateful: the exported module starts every call from zero states")
        if r.return_state:
            raise ValueError(f"{name} has return_state=True: the exported module returns one tensor")
        for arg in ("dropout", "recurrent_dropout"):
            if getattr(r, arg) > 0 and not inference_only:
                raise ValueError(
                    f"{name} has {arg}={getattr(r, arg)} (Keras's one mask per sequence), which torch's "
                    "modules cannot do in training; pass inference_only=True to export it without (the "
                    "eval-mode outputs do not change)"
                )
    if bidi:
        fwd, bwd = inner
        same = ("units", "use_bias", "activation") + (("reset_after",) if cell == "gru" else ())
        if type(fwd) is not type(bwd) or any(getattr(fwd, a) != getattr(bwd, a) for a in same):
            raise ValueError(
                f"{name}: torch's bidirectional modules need the same cell and options both ways"
            )
        if fwd.go_backwards or not bwd.go_backwards:
            raise ValueError(f"{name}: the forward layer must read forwards and the backward layer backwards")
    r = inner[0]
    w = []
    for d in inner:
        b = d.params["bias"] if d.use_bias else np.zeros(d.bias_shape(), d.params["kernel"].dtype)
        convert = {"lstm": layout.to_torch, "gru": layout.to_torch_gru, "rnn": layout.to_torch_rnn}[cell]
        w_ih, w_hh, b_ih, b_hh = convert(d.params["kernel"], d.params["recurrent_kernel"], b)
        w.append((w_ih, w_hh, b_ih if d.use_bias else None, b_hh if d.use_bias else None, None))
    return _Rnn(
        cell=cell,
        I=layer.build_shape[-1],
        H=r.units,
        L=1,
        D=len(inner),
        bias=r.use_bias,
        nonlinearity=str(r.activation).lower() if cell == "rnn" else None,
        proj=0,
        dropout=0.0,
        weights=w,
        return_sequences=r.return_sequences,
        merge_mode=layer.merge_mode if bidi else "concat",
        go_backwards=r.go_backwards,
        where=name,
        trainable=[layer.trainable],
    )


def _items(layer, inference_only: bool) -> list:
    from ..layers import Activation, Bidirectional, Dense, Dropout, Recurrent

    name = f"layer {layer.name!r} ({type(layer).__name__})"
    if isinstance(layer, (Recurrent, Bidirectional)):
        return [_recurrent_item(layer, inference_only)]
    if type(layer) is Dense:
        bias = layer.params["bias"] if layer.use_bias else None
        out = [_Part("linear", name, weight=layer.params["kernel"].T, bias=bias, trainable=layer.trainable)]
        if layer.activation != "linear":
            out.append(_activation_item(layer.activation, name))
        return out
    if type(layer) is Dropout:
        if layer.noise_shape is not None and not inference_only:
            raise ValueError(
                f"{name} has noise_shape={layer.noise_shape}, which nn.Dropout cannot do; pass "
                "inference_only=True to export it without (the eval-mode outputs do not change)"
            )
        return [_Part("dropout", name, rate=layer.rate)]
    if type(layer) is Activation:
        return [] if layer.activation == "linear" else [_activation_item(layer.activation, name)]
    raise ValueError(
        f"{name}: to_torch exports LSTM, GRU, SimpleRNN, Bidirectional, Dense, Dropout and Activation "
        "layers only"
    )


def _activation_item(ours: str, where: str) -> _Part:
    if ours not in _ACTIVATIONS:
        raise ValueError(
            f"{where}: activation {ours!r} has no torch module; of lstmcore's, torch has "
            f"{sorted(_ACTIVATIONS)}"
        )
    return _Part("activation", where, name=ours)


def _stacked(items: list, k: int, stack: bool):
    """From items[k] (an _Rnn), the longest run that one torch module computes: the same cell and
    sizes, every layer but the last returning sequences (concat for two directions), no
    go_backwards after the first, and the same Dropout (or none) between each two. Returns the
    merged _Rnn and the index after it."""
    first = items[k]
    group, rate, j = [first], None, k + 1
    while stack:
        prev = group[-1]
        gap = 0.0
        n = j
        if n < len(items) and isinstance(items[n], _Part) and items[n].kind == "dropout":
            gap, n = items[n].rate, n + 1
        if n >= len(items) or not isinstance(items[n], _Rnn) or (rate is not None and gap != rate):
            break
        nxt = items[n]
        fits = (nxt.cell, nxt.H, nxt.D, nxt.bias, nxt.nonlinearity) == (
            first.cell,
            first.H,
            first.D,
            first.bias,
            first.nonlinearity,
        )
        if not fits or not prev.return_sequences or prev.merge_mode != "concat" or nxt.go_backwards:
            break
        group.append(nxt)
        rate, j = gap, n + 1
    last = group[-1]
    merged = _Rnn(
        cell=first.cell,
        I=first.I,
        H=first.H,
        L=len(group),
        D=first.D,
        bias=first.bias,
        nonlinearity=first.nonlinearity,
        proj=0,
        dropout=rate or 0.0,
        weights=[w for g in group for w in g.weights],
        return_sequences=last.return_sequences,
        merge_mode=last.merge_mode,
        go_backwards=first.go_backwards,
        where=first.where,
        trainable=[t for g in group for t in g.trainable],
    )
    return merged, j


def _copy(torch, param, array, trainable: bool) -> None:
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(array)))
    param.requires_grad_(bool(trainable))


def _torch_block(torch, p: _Rnn, batch_first: bool, dtype):
    nn = torch.nn
    kw = {
        "input_size": p.I,
        "hidden_size": p.H,
        "num_layers": p.L,
        "bias": p.bias,
        "batch_first": batch_first,
        "dropout": p.dropout,
        "bidirectional": p.D == 2,
        "dtype": dtype,
    }
    if p.cell == "rnn":
        rnn = nn.RNN(nonlinearity=p.nonlinearity, **kw)
    else:
        rnn = (nn.LSTM if p.cell == "lstm" else nn.GRU)(**kw)
    for layer in range(p.L):
        for d in range(p.D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh, b_ih, b_hh, _ = p.weights[layer * p.D + d]
            for n, a in (("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih), ("bias_hh", b_hh)):
                if a is not None:
                    _copy(torch, getattr(rnn, n + sfx), a, p.trainable[layer])
    return _block_class()(
        rnn, return_sequences=p.return_sequences, merge_mode=p.merge_mode, go_backwards=p.go_backwards
    )


def to_torch(model, *, batch_first=True, stack=True, inference_only=False):
    """An lstmcore model -> an ``nn.Sequential`` in eval mode whose forward gives ``predict``'s
    output.

    ``model``: a built ``Sequential``, a functional ``Model`` that is a chain (one input, each
    layer feeding the next), a built layer or a list of built layers, made of LSTM, GRU
    (reset_after=True), SimpleRNN (tanh, relu), Bidirectional of these (merge modes concat, sum,
    mul, ave), Dense, Dropout and Activation (activations torch has a module for).

    ``forward(x)``: x (B, T, I) float tensor of the model's dtype (``(T, B, I)`` with
    ``batch_first=False``) -> the model's output: sequences (B, T, .) while ``return_sequences``
    holds, after a recurrent layer with ``return_sequences=False`` its last step (B, H), the
    final h of each direction for Bidirectional (:class:`RecurrentBlock`). Zero initial states,
    no masks.

    stack: True makes one torch module of consecutive recurrent layers torch can stack (same
        cell, units, bias, directions; sequences between them; the same Dropout between each two,
        which becomes the module's ``dropout``); False one module per layer.
    inference_only: export layers whose training-only options torch cannot express (the
        recurrent layers' ``dropout``/``recurrent_dropout``, Dropout's ``noise_shape``), without
        them; by default they are refused by name.

    Weights are copied; a layer with ``trainable=False`` gives parameters with
    ``requires_grad=False``.
    """
    torch = _torch()
    nn = torch.nn
    items = [item for layer in _model_layers(model) for item in _items(layer, inference_only)]
    if not items:
        raise ValueError("the model has no layers to export")
    dtype = next(
        (a.dtype for it in items for a in _arrays_of(it)),
        np.dtype(np.float32),
    )
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    modules, k = [], 0
    while k < len(items):
        it = items[k]
        if isinstance(it, _Rnn):
            merged, k = _stacked(items, k, stack)
            modules.append(_torch_block(torch, merged, batch_first, tdtype))
            continue
        if it.kind == "linear":
            O, F = it.weight.shape
            lin = nn.Linear(F, O, bias=it.bias is not None, dtype=tdtype)
            _copy(torch, lin.weight, it.weight, it.trainable)
            if it.bias is not None:
                _copy(torch, lin.bias, it.bias, it.trainable)
            modules.append(lin)
        elif it.kind == "dropout":
            modules.append(nn.Dropout(it.rate))
        else:
            cls, params = _ACTIVATIONS[it.name]
            modules.append(getattr(nn, cls)(**params))
        k += 1
    return nn.Sequential(*modules).eval()

"""Read an ONNX model: ``load(path)`` (what ``lstmcore.load_model("m.onnx")`` calls) -> :class:`OnnxModel`.

The result is always an :class:`OnnxModel`, a small interpreter of the file's graph, never a
``Sequential``: exporters wrap the recurrent nodes in shape arithmetic, transposes and reshapes that
lstmcore's layers have no names for, and a graph keeps every one of them exactly. Its nodes are
sorted once at load; ``predict`` then runs

- each ``LSTM``, ``GRU`` and ``RNN`` node through the compiled engine (``lstm_forward``,
  ``gru_forward``, ``rnn_forward``, one call per direction with ``reverse``, ``lengths`` from
  ``sequence_lens`` and the initial states), its weights converted once by ``lstmcore.layout``
  (``from_onnx``, ``from_onnx_gru``, ``from_onnx_rnn``) and its attributes by
  ``onnx_lstm_options``, ``onnx_gru_options`` and ``onnx_rnn_options``;
- every other node (:data:`SUPPORTED_OPS`: the arithmetic, activations, shape and indexing operators
  that ``torch.onnx.export`` and Keras put around them, and 1-D ``Conv``, ``ConvTranspose``,
  ``MaxPool`` and ``AveragePool``) with one NumPy expression each. Nodes whose inputs are all
  constants (weights, shape arithmetic on them) are computed once, at load;
- a ``Scan`` (lstmcore's float64 export writes its recurrent layers as a Scan over the cell,
  since ONNX Runtime has no float64 recurrent kernels) by running its body, a graph of its own,
  once per step. That is a loop in Python over the steps: such a file predicts what lstmcore's
  model predicted, not at the engine's speed; load the model's ``.keras`` or ``.lstmcore`` file
  for that.

What the graph asks and lstmcore cannot do is a ``ValueError`` naming the node, the operator and,
where it is one, the attribute: an operator outside :data:`SUPPORTED_OPS` or of another domain, an
unknown attribute or value, a recurrent attribute the engine lacks (a GRU's ``clip``, say).

Reading is safe for files from anywhere (DESIGN.md section 7): the file is parsed as protobuf
data only (no code runs, nothing is written), and every tensor's declared size is checked against
the bytes the file holds before anything is allocated. External data (the dynamo exporter's
default) is read only from regular files inside the model's folder, named by relative paths, each
tensor within its file's bounds and no byte of a file read twice. Not ONNX (another format, text,
empty), truncated or corrupt, a graph with a cycle or a dangling name, external data elsewhere,
declared sizes the data does not back, or a shape computation that would allocate more than
:data:`MAX_ELEMENTS`: each is a ``ValueError`` saying what was found. The ``onnx`` package parses
the file (``pip install onnx``).
"""

from __future__ import annotations

import collections
import math
import os

import numpy as np

import lstmcore
from lstmcore.engine._products import matmul

from . import layout

# ONNX's protobuf files cannot be larger (protobuf's 2 GiB message limit).
MAX_FILE_BYTES = 2**31 - 1
# The most elements one tensor that a node makes from a shape (ConstantOfShape, Expand, Tile,
# Range, broadcasting) may have: 2**28, 1 GiB of float32. A crafted shape stops here, not in the
# allocator.
MAX_ELEMENTS = 2**28
# The default domain's opsets read: from 7 (the recurrent operators' current form) up to those the
# installed onnx package knows.
MIN_OPSET = 7

# ONNX's TensorProto data types -> NumPy; the others (strings, bfloat16, float8, int4, complex)
# are refused by name.
_DTYPES = {
    1: np.float32,
    2: np.uint8,
    3: np.int8,
    4: np.uint16,
    5: np.int16,
    6: np.int32,
    7: np.int64,
    9: np.bool_,
    10: np.float16,
    11: np.float64,
    12: np.uint32,
    13: np.uint64,
}
# The repeated field of a TensorProto that holds each type's values when raw_data is empty.
_FIELDS = {1: "float_data", 11: "double_data", 7: "int64_data", 12: "uint64_data", 13: "uint64_data"}


def _str(value) -> str:
    """A protobuf string field as str: the Python protobuf gives bytes where the file's are not
    UTF-8."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("reading ONNX models needs the onnx package: pip install onnx") from None
    return onnx


# Reading the file --------------------------------------------------------------------------------


def _looks_like(head: bytes) -> str | None:
    """What a file that is not ONNX seems to be, from its first bytes (None: no idea)."""
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (an lstmcore model file, a Keras .keras file or a PyTorch checkpoint?)"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 file (a Keras .h5 file?)"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle (never unpickled: that would run code from the file)"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy file"
    return None


def _text(head: bytes) -> str:
    """ ", and looks like a text file" when ``head`` is printable text (ONNX's text format among
    them), else ""."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    if not all(c.isprintable() or c in "\t\r\n" for c in text):
        return ""
    onnx_text = text.lstrip().startswith("<") and "ir_version" in text
    return (
        ", and looks like ONNX's text format (not read: save the model with onnx.save)"
        if onnx_text
        else ", and looks like a text file"
    )


def _parse(data: bytes, where: str):
    """``data`` as an ONNX ModelProto, its structure checked: ValueError if it is not one."""
    onnx = _require_onnx()
    from google.protobuf.message import DecodeError

    if not data:
        raise ValueError(f"{where}: the file is empty, not an ONNX model")
    looks = _looks_like(data[:64])
    if looks is not None:
        raise ValueError(f"{where}: not an ONNX model: the file looks like {looks}")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ValueError(
            f"{where}: not an ONNX model, or a truncated or corrupt one: protobuf cannot parse it "
            f"({exc}){_text(data[:256])}"
        ) from None
    if model.ir_version <= 0 or not model.HasField("graph") or not model.opset_import:
        missing = (
            "ir_version" if model.ir_version <= 0 else "graph" if not model.HasField("graph") else "opset"
        )
        raise ValueError(
            f"{where}: not an ONNX model, or a truncated or corrupt one: it has no {missing}"
            + _text(data[:256])
        )
    return model


def load(path) -> OnnxModel:
    """The ONNX model at ``path`` as an :class:`OnnxModel` (see the module's docstring).

    Raises ``FileNotFoundError`` for a missing path, ``ImportError`` without the onnx package and
    ``ValueError`` for a file lstmcore cannot read or run, saying why.
    """
    _require_onnx()
    path = os.fsdecode(path)
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise ValueError(
            f"{path}: {size} bytes, more than an ONNX protobuf file can hold ({MAX_FILE_BYTES}); "
            "models stored with external data are not read"
        )
    with open(path, "rb") as f:
        data = f.read()  # the size is checked above
    return OnnxModel(_parse(data, path), source=path, folder=os.path.dirname(os.path.abspath(path)))


# Tensors -----------------------------------------------------------------------------------------


def _dtype_name(code: int) -> str:
    onnx = _require_onnx()
    try:
        return onnx.TensorProto.DataType.Name(code)
    except ValueError:
        return f"data type {code}"


def _numpy_dtype(code: int, what: str) -> np.dtype:
    if code not in _DTYPES:
        raise ValueError(f"{what} has {_dtype_name(code)} elements, which lstmcore does not read")
    return np.dtype(_DTYPES[code])


class _Data:
    """Where a model's tensors come from: the file itself, and for external data the files beside
    it (``base``, the model's folder; None for a ModelProto given in memory). Counts the bytes read
    from each external file: crafted tensors that read one region many times are refused."""

    def __init__(self, base: str | None):
        self.base = base
        self.read = {}

    def external(self, t, what: str, nbytes: int) -> bytes:
        entries = {_str(e.key): _str(e.value) for e in t.external_data}
        unknown = sorted(set(entries) - {"location", "offset", "length", "checksum", "basepath"})
        if unknown:
            raise ValueError(f"{what}: external data keys {unknown} are not known to lstmcore")
        if self.base is None:
            raise ValueError(
                f"{what} is stored in an external file, and this model was given without a folder"
            )
        location = entries.get("location", "")
        parts = location.replace("\\", "/").split("/")
        if not location or os.path.isabs(location) or ".." in parts or ":" in location:
            raise ValueError(
                f"{what} is stored outside the file at {location!r}: lstmcore reads external data only "
                "from files in the model's folder, named by relative paths"
            )
        base = os.path.realpath(self.base)
        path = os.path.realpath(os.path.join(base, location))
        if os.path.commonpath([base, path]) != base or not os.path.isfile(path):
            raise ValueError(
                f"{what}: its external data file {location!r} is missing or outside the model's folder"
            )
        try:
            offset = int(entries.get("offset", 0))
            length = int(entries.get("length", nbytes))
        except ValueError:
            raise ValueError(
                f"{what}: external data offset and length must be integers, got {entries}"
            ) from None
        size = os.path.getsize(path)
        if length != nbytes or offset < 0 or offset + length > size:
            raise ValueError(
                f"{what} declares {nbytes} bytes at offset {offset} (length {length}) of its external data "
                f"file {location!r}, which holds {size} bytes"
            )
        self.read[path] = self.read.get(path, 0) + length
        if self.read[path] > size:
            raise ValueError(
                f"{what}: the tensors stored in {location!r} read more bytes than it holds (they overlap)"
            )
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        if len(data) != length:  # pragma: no cover - the file shrank meanwhile
            raise ValueError(f"{what}: {location!r} ended early")
        if "checksum" in entries:
            import hashlib

            if hashlib.sha1(data).hexdigest() != entries["checksum"]:
                raise ValueError(f"{what}: its external data in {location!r} does not match its checksum")
        return data


def _tensor(t, what: str, data: _Data | None = None) -> np.ndarray:
    """A TensorProto as an array, its declared size checked against the data the file holds before
    anything is allocated."""
    what = f"{what} {_str(t.name)!r}" if t.name else what
    if t.HasField("segment"):
        raise ValueError(f"{what} is a segment of a tensor, which lstmcore does not read")
    dtype = _numpy_dtype(t.data_type, what)
    dims = list(t.dims)
    if any(d < 0 for d in dims):
        raise ValueError(f"{what} declares negative dimensions {dims}")
    n = math.prod(dims)  # Python ints: no overflow
    nbytes = n * dtype.itemsize
    if t.data_location == 1:
        raw = (data or _Data(None)).external(t, what, nbytes)
    elif t.external_data:
        raise ValueError(f"{what} lists external data but is not stored externally (data_location)")
    else:
        raw = t.raw_data
    if raw:
        if len(raw) != nbytes:
            raise ValueError(
                f"{what} declares shape {dims} ({n} elements of {dtype}, {nbytes} bytes), "
                f"but the file holds {len(raw)} bytes for it"
            )
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False).reshape(dims)
    field = _FIELDS.get(t.data_type, "int32_data")
    values = getattr(t, field)
    if len(values) != n:
        raise ValueError(
            f"{what} declares shape {dims} ({n} elements of {dtype}), but the file holds {len(values)} values"
        )
    if dtype == np.float16:
        a = np.asarray(values, dtype=np.int64).astype(np.uint16).view(np.float16)
    elif dtype == np.bool_:
        a = np.asarray(values, dtype=np.int64) != 0
    else:
        a = np.asarray(values).astype(dtype)
    return a.reshape(dims)


def _check_size(shape, what: str) -> tuple:
    shape = tuple(int(d) for d in shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"{what}: negative dimensions in the shape {shape}")
    n = math.prod(shape)
    if n > MAX_ELEMENTS:
        raise ValueError(
            f"{what}: the shape {shape} has {n} elements, more than lstmcore allocates for one tensor "
            f"({MAX_ELEMENTS}, lstmcore.io.onnx_import.MAX_ELEMENTS)"
        )
    return shape


# Nodes -------------------------------------------------------------------------------------------


class _Node:
    """One node of the graph, its attributes read and checked: ``run(inputs) -> outputs``."""

    def __init__(self, proto, index: int, opset: int, data: _Data | None = None):
        self.op = _str(proto.op_type)
        self.name = _str(proto.name) or f"#{index}"
        self.inputs = [_str(name) for name in proto.input]
        self.outputs = [_str(name) for name in proto.output]
        domain = _str(proto.domain)
        self.opset = opset
        self.what = f"ONNX node {self.name!r} ({self.op})"
        self.cache = {}
        self.data = data
        if domain not in ("", "ai.onnx"):
            raise ValueError(
                f"{self.what}: operator {domain}.{self.op} is not supported by lstmcore "
                "(it runs the default ONNX domain's operators, lstmcore.io.onnx_import.SUPPORTED_OPS)"
            )
        if self.op == "Loop":
            raise ValueError(
                f"{self.what}: operator Loop (a loop written in the graph) is not run: lstmcore runs "
                "recurrences as LSTM, GRU and RNN nodes, in its engine, and Scan loops step by step"
            )
        if self.op not in _OPS:
            raise ValueError(
                f"{self.what}: operator {self.op} is not supported by lstmcore "
                "(lstmcore.io.onnx_import.SUPPORTED_OPS lists those it runs)"
            )
        self.spec = _OPS[self.op]
        self.attrs = {_str(a.name): self._attribute(a) for a in proto.attribute}
        unknown = sorted(set(self.attrs) - self.spec.attributes)
        if unknown:
            raise ValueError(
                f"{self.what}: attribute {unknown[0]!r} of {self.op} is not supported by lstmcore"
                + (f" (it reads {sorted(self.spec.attributes)})" if self.spec.attributes else "")
            )
        if self.spec.prepare is not None:
            try:
                self.spec.prepare(self)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{self.what}: {exc}") from None

    def _attribute(self, a):
        from onnx import AttributeProto, helper

        kind = a.type
        if kind == AttributeProto.GRAPH and self.op == "Scan" and _str(a.name) == "body":
            return _subgraph(a.g, self.opset, f"{self.what} body")
        if kind == AttributeProto.TENSOR:
            return _tensor(a.t, f"{self.what} attribute {_str(a.name)!r}", self.data)
        if kind in (AttributeProto.FLOAT, AttributeProto.INT, AttributeProto.FLOATS, AttributeProto.INTS):
            return helper.get_attribute_value(a)
        if kind == AttributeProto.STRING:
            return a.s.decode("utf-8", "replace")
        if kind == AttributeProto.STRINGS:
            return [s.decode("utf-8", "replace") for s in a.strings]
        kinds = (
            AttributeProto.AttributeType.Name(kind) if kind in AttributeProto.AttributeType.values() else kind
        )
        raise ValueError(
            f"{self.what}: attribute {_str(a.name)!r} of {self.op} is a {kinds}, which lstmcore does not run"
        )

    def attr(self, name, default=None):
        return self.attrs.get(name, default)

    def input(self, inputs, k):
        """Input ``k`` or None where it is missing or left empty."""
        return inputs[k] if k < len(inputs) else None

    def run(self, inputs: list) -> list:
        try:
            with np.errstate(all="ignore"):  # inf and NaN flow as in ONNX Runtime, without warnings
                out = self.spec.run(self, inputs)
        except (ValueError, TypeError, IndexError, AttributeError, ZeroDivisionError, OverflowError) as exc:
            if isinstance(exc, (AttributeError, TypeError)) and any(a is None for a in inputs):
                message = f"an input it needs is missing (inputs {self.inputs})"
            else:
                message = str(exc)
            if message.startswith(self.what):
                raise ValueError(message) from None
            raise ValueError(f"{self.what}: {message}") from None
        out = out if isinstance(out, list) else [out]
        named = [k for k, name in enumerate(self.outputs) if name]
        if named and named[-1] >= len(out):
            raise ValueError(f"{self.what}: the graph names {len(self.outputs)} outputs, it makes {len(out)}")
        return out


class _Op:
    def __init__(self, run, attributes=(), prepare=None, fold=True):
        self.run = run
        self.attributes = frozenset(attributes)
        self.prepare = prepare
        self.fold = fold  # computed once at load when its inputs are constants


_OPS: dict[str, _Op] = {}


def _op(*names, attributes=(), prepare=None, fold=True):
    def register(fn):
        for name in names:
            _OPS[name] = _Op(fn, attributes, prepare, fold)
        return fn

    return register


def _subgraph(graph, opset: int, what: str):
    """A Scan's body as an OnnxModel of its own (it may read only its own inputs, initializers
    and nodes: names of the outer graph are refused by name)."""
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return OnnxModel(model, source=what)


@_op(
    "Scan",
    attributes=(
        "body",
        "num_scan_inputs",
        "scan_input_axes",
        "scan_input_directions",
        "scan_output_axes",
        "scan_output_directions",
    ),
    fold=False,
)
def _scan(node, inputs):
    # inputs: N states, then M scan inputs sliced along their axis; the body maps (states, slices)
    # to (new states, K scan output elements), stacked along their axes (opset 9+ semantics)
    body = node.attr("body")
    m = node.attr("num_scan_inputs")
    n = len(inputs) - m
    if m is None or n < 0 or m < 1:
        raise ValueError(f"num_scan_inputs {m} does not fit {len(inputs)} inputs")
    states, scans = list(inputs[:n]), inputs[n:]
    in_axes = node.attr("scan_input_axes") or [0] * m
    in_dirs = node.attr("scan_input_directions") or [0] * m
    scans = [np.moveaxis(x, _axis(a, x.ndim), 0) for x, a in zip(scans, in_axes, strict=True)]
    steps = {x.shape[0] for x in scans}
    if len(steps) != 1:
        raise ValueError(f"its scan inputs have {sorted(steps)} steps; they must have the same")
    (T,) = steps
    names = body.inputs
    if len(names) != n + m:
        raise ValueError(f"its body takes {len(names)} inputs, the node gives {n} states and {m} scan inputs")
    k = len(body.outputs) - n
    collected: list[list] = [[] for _ in range(k)]
    for t in range(T):
        feeds = dict(zip(names[:n], states, strict=True))
        for name, x, d in zip(names[n:], scans, in_dirs, strict=True):
            feeds[name] = x[T - 1 - t if d else t]
        outs = body._run(feeds)
        states = outs[:n]
        for j in range(k):
            collected[j].append(outs[n + j])
    out_axes = node.attr("scan_output_axes") or [0] * k
    out_dirs = node.attr("scan_output_directions") or [0] * k
    stacked = []
    for parts, a, d in zip(collected, out_axes, out_dirs, strict=True):
        y = np.stack(parts[::-1] if d else parts, axis=0)
        stacked.append(np.moveaxis(y, 0, _axis(a, y.ndim)))
    return [*states, *stacked]


def _pads_1d(node, x, k: int, stride: int, dilation: int) -> tuple[int, int]:
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("NOTSET", "VALID"):
        pads = node.attr("pads") or [0, 0]
        if auto == "VALID":
            pads = [0, 0]
        if len(pads) != 2:
            raise ValueError(f"pads {pads}: lstmcore runs 1-D convolutions and pooling only")
        return int(pads[0]), int(pads[1])
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise ValueError(f"auto_pad {auto!r} is not one ONNX defines")
    T = x.shape[2]
    out = -(-T // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - T, 0)
    small, big = total // 2, total - total // 2
    return (small, big) if auto == "SAME_UPPER" else (big, small)


def _windows(x, k: int, stride: int, dilation: int, left: int, right: int, fill):
    # x (B, C, T) -> (B, C, T_out, k), the window of each output step
    xp = np.pad(x, ((0, 0), (0, 0), (left, right)), constant_values=fill) if left + right else x
    T_out = (xp.shape[2] - (k - 1) * dilation - 1) // stride + 1
    if T_out < 1:
        raise ValueError(f"a window of {k} (dilation {dilation}) does not fit {x.shape[2]} steps")
    idx = np.arange(T_out)[:, None] * stride + np.arange(k)[None, :] * dilation
    return xp[:, :, idx]


def _one(node, name: str, default: int) -> int:
    v = node.attr(name)
    if v is None:
        return default
    if len(v) != 1:
        raise ValueError(f"{name} {v}: lstmcore runs 1-D convolutions and pooling only")
    return int(v[0])


@_op("Conv", attributes=("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"))
def _conv(node, inputs):
    # x (B, C, T) | w (F, C/group, k) | b (F) -> (B, F, T_out)
    x, w, b = inputs[0], inputs[1], node.input(inputs, 2)
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(f"lstmcore runs 1-D Conv (inputs of 3 axes), got x {x.shape}, w {w.shape}")
    k = w.shape[2]
    stride, dilation = _one(node, "strides", 1), _one(node, "dilations", 1)
    group = int(node.attr("group", 1))
    left, right = _pads_1d(node, x, k, stride, dilation)
    win = _windows(x, k, stride, dilation, left, right, 0)  # (B, C, T_out, k)
    B, C, T_out, _ = win.shape
    F = w.shape[0]
    if C % group or F % group or w.shape[1] != C // group:
        raise ValueError(f"group {group} does not fit x {x.shape} and w {w.shape}")
    win = win.reshape(B, group, C // group, T_out, k)
    wg = w.reshape(group, F // group, C // group, k)
    y = np.einsum("bgctk,gfck->bgft", win, wg).reshape(B, F, T_out)
    if b is not None:
        y = y + b[None, :, None]
    return y.astype(x.dtype, copy=False)


@_op(
    "ConvTranspose",
    attributes=(
        "auto_pad",
        "dilations",
        "group",
        "kernel_shape",
        "output_padding",
        "output_shape",
        "pads",
        "strides",
    ),
)
def _conv_transpose(node, inputs):
    # x (B, C, T) | w (C, F/group, k) | b (F) | taps (B, F, k, T) -> (B, F, L)
    x, w, b = inputs[0], inputs[1], node.input(inputs, 2)
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(f"lstmcore runs 1-D ConvTranspose (inputs of 3 axes), got x {x.shape}, w {w.shape}")
    B, C, T = x.shape
    k = w.shape[2]
    stride, dilation = _one(node, "strides", 1), _one(node, "dilations", 1)
    extra = _one(node, "output_padding", 0)
    group = int(node.attr("group", 1))
    if _one(node, "kernel_shape", k) != k:
        raise ValueError(f"kernel_shape {node.attr('kernel_shape')} does not match w {w.shape}")
    if group < 1 or C % group or w.shape[0] != C:
        raise ValueError(f"group {group} does not fit x {x.shape} and w {w.shape}")
    full = stride * (T - 1) + (k - 1) * dilation + 1 + extra  # the full output, output_padding's zeros
    auto = node.attr("auto_pad", "NOTSET")
    if auto not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise ValueError(f"auto_pad {auto!r} is not one ONNX defines")
    if node.attr("output_shape") is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        # the spec's pads for a given output length (T * strides with auto_pad SAME_*)
        L = _one(node, "output_shape", 1) if node.attr("output_shape") is not None else T * stride
        total = full - L
        begin = total // 2 if auto == "SAME_UPPER" else total - total // 2
    else:
        pads = [0, 0] if auto == "VALID" else (node.attr("pads") or [0, 0])
        if len(pads) != 2:
            raise ValueError(f"pads {pads}: lstmcore runs 1-D convolutions and pooling only")
        begin, L = int(pads[0]), full - int(pads[0]) - int(pads[1])
    if L < 1:
        raise ValueError(f"ConvTranspose: no output step for x {x.shape}, w {w.shape} and its attributes")
    Fg = w.shape[1]
    taps = np.einsum(
        "bgct,gcfk->bgfkt", x.reshape(B, group, C // group, T), w.reshape(group, C // group, Fg, k)
    ).reshape(B, group * Fg, k, T)
    y = np.zeros((B, group * Fg, L), dtype=np.result_type(x, w))
    for j in range(k):  # tap j of step t lands on t*stride + j*dilation - begin
        shift = j * dilation - begin
        t0 = max(0, -(shift // stride))
        t1 = min(T, (L - 1 - shift) // stride + 1)
        if t1 > t0:
            p0 = t0 * stride + shift
            y[:, :, p0 : p0 + (t1 - t0 - 1) * stride + 1 : stride] += taps[:, :, j, t0:t1]
    if b is not None:
        y = y + b[None, :, None]
    return y.astype(x.dtype, copy=False)


@_op(
    "MaxPool",
    attributes=("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"),
)
def _max_pool(node, inputs):
    x, window = _pool_windows(node, inputs)
    return window(x, -np.inf).max(axis=-1).astype(x.dtype, copy=False)


@_op(
    "AveragePool",
    attributes=("auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"),
)
def _average_pool(node, inputs):
    x, window = _pool_windows(node, inputs)
    total = window(x, 0).sum(axis=-1)
    if int(node.attr("count_include_pad", 0)):
        return (total / _one(node, "kernel_shape", 1)).astype(x.dtype, copy=False)
    counts = window(np.ones((1, 1, x.shape[2]), x.dtype), 0).sum(axis=-1)
    return (total / counts).astype(x.dtype, copy=False)


def _pool_windows(node, inputs):
    """x and ``window(a, fill)``: a's windows (B, C, T_out, k) by the node's kernel, strides,
    dilations and padding, padded with ``fill`` (what MaxPool and AveragePool share)."""
    x = inputs[0]
    if x.ndim != 3 or int(node.attr("ceil_mode", 0)):
        raise ValueError(f"lstmcore runs 1-D {node.op} without ceil_mode, got x {x.shape}")
    k = _one(node, "kernel_shape", 1)
    stride, dilation = _one(node, "strides", 1), _one(node, "dilations", 1)
    left, right = _pads_1d(node, x, k, stride, dilation)
    return x, lambda a, fill: _windows(a, k, stride, dilation, left, right, fill)


def _axis(axis: int, ndim: int, what="axis") -> int:
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{what} {axis} is out of range for a tensor of rank {ndim}")
    return axis % ndim if ndim else 0


def _ints(a) -> list[int]:
    return [int(v) for v in np.asarray(a).reshape(-1)]


def _axes_of(node, inputs, k: int):
    """Axes given as an attribute (the older opsets) or as input ``k`` (the newer); None if neither."""
    if "axes" in node.attrs:
        return list(node.attrs["axes"])
    given = node.input(inputs, k)
    return None if given is None else _ints(given)


# Arithmetic and activations


def _same(fn):
    """An elementwise function of one tensor, keeping its dtype."""

    def run(node, inputs):
        x = inputs[0]
        return np.asarray(fn(node, x)).astype(x.dtype, copy=False)

    return run


def _binary(fn):
    def run(node, inputs):
        a, b = inputs[0], inputs[1]
        _check_size(np.broadcast_shapes(a.shape, b.shape), "broadcasting")
        return np.asarray(fn(a, b)).astype(a.dtype, copy=False)

    return run


def _compare(fn):
    def run(node, inputs):
        _check_size(np.broadcast_shapes(inputs[0].shape, inputs[1].shape), "broadcasting")
        return np.asarray(fn(inputs[0], inputs[1]))

    return run


def _int_div(a, b):
    """ONNX's integer Div truncates toward zero."""
    q = np.floor_divide(a, b)
    fix = (np.remainder(a, b) != 0) & ((a < 0) != (b < 0))
    return q + fix


def _div(a, b):
    return _int_div(a, b) if np.issubdtype(a.dtype, np.integer) else np.true_divide(a, b)


def _mod(node, inputs):
    a, b = inputs
    out = np.fmod(a, b) if node.attr("fmod", 0) else np.mod(a, b)
    return out.astype(a.dtype, copy=False)


_op("Add")(_binary(np.add))
_op("Sub")(_binary(np.subtract))
_op("Mul")(_binary(np.multiply))
_op("Div")(_binary(_div))
_op("Pow")(_binary(np.power))
_op("Mod", attributes=("fmod",))(_mod)
_op("Equal")(_compare(np.equal))
_op("Less")(_compare(np.less))
_op("Greater")(_compare(np.greater))
_op("LessOrEqual")(_compare(np.less_equal))
_op("GreaterOrEqual")(_compare(np.greater_equal))
_op("And")(_compare(np.logical_and))
_op("Or")(_compare(np.logical_or))
_op("Xor")(_compare(np.logical_xor))


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _erf(x):
    from scipy.special import erf

    return erf(x)


_SELU = (1.67326319217681884765625, 1.05070102214813232421875)

_op("Identity")(lambda node, inputs: inputs[0])
_op("Neg")(_same(lambda node, x: np.negative(x)))
_op("Abs")(_same(lambda node, x: np.abs(x)))
_op("Sign")(_same(lambda node, x: np.sign(x)))
_op("Not")(lambda node, inputs: np.logical_not(inputs[0]))
_op("Floor")(_same(lambda node, x: np.floor(x)))
_op("Ceil")(_same(lambda node, x: np.ceil(x)))
_op("Round")(_same(lambda node, x: np.round(x)))
_op("Reciprocal")(_same(lambda node, x: 1 / x))
_op("Sqrt")(_same(lambda node, x: np.sqrt(x)))
_op("Exp")(_same(lambda node, x: np.exp(x)))
_op("Log")(_same(lambda node, x: np.log(x)))
_op("Sin")(_same(lambda node, x: np.sin(x)))
_op("Cos")(_same(lambda node, x: np.cos(x)))
_op("Erf")(_same(lambda node, x: _erf(x)))
_op("Relu")(_same(lambda node, x: np.maximum(x, 0)))
_op("Sigmoid")(_same(lambda node, x: _sigmoid(x)))
_op("Tanh")(_same(lambda node, x: np.tanh(x)))
_op("Softsign")(_same(lambda node, x: x / (1 + np.abs(x))))
_op("Softplus")(_same(lambda node, x: np.logaddexp(0, x)))
_op("Mish")(_same(lambda node, x: x * np.tanh(np.logaddexp(0, x))))
_op("HardSwish")(_same(lambda node, x: x * np.clip(x / 6 + 0.5, 0, 1)))
_op("LeakyRelu", attributes=("alpha",))(
    _same(lambda node, x: np.where(x >= 0, x, x * node.attr("alpha", 0.01)))
)
_op("Elu", attributes=("alpha",))(
    _same(lambda node, x: np.where(x > 0, x, node.attr("alpha", 1.0) * np.expm1(np.minimum(x, 0))))
)
_op("Celu", attributes=("alpha",))(
    _same(
        lambda node, x: (
            np.maximum(x, 0)
            + np.minimum(0, node.attr("alpha", 1.0) * np.expm1(np.minimum(x, 0) / node.attr("alpha", 1.0)))
        )
    )
)
_op("Selu", attributes=("alpha", "gamma"))(
    _same(
        lambda node, x: (
            node.attr("gamma", _SELU[1])
            * np.where(x > 0, x, node.attr("alpha", _SELU[0]) * np.expm1(np.minimum(x, 0)))
        )
    )
)
_op("ThresholdedRelu", attributes=("alpha",))(
    _same(lambda node, x: np.where(x > node.attr("alpha", 1.0), x, 0))
)
_op("HardSigmoid", attributes=("alpha", "beta"))(
    _same(lambda node, x: np.clip(node.attr("alpha", 0.2) * x + node.attr("beta", 0.5), 0, 1))
)


def _gelu_prepare(node):
    if node.attr("approximate", "none") not in ("none", "tanh"):
        raise ValueError(
            f"attribute 'approximate' must be 'none' or 'tanh', got {node.attr('approximate')!r}"
        )


@_op("Gelu", attributes=("approximate",), prepare=_gelu_prepare)
def _gelu(node, inputs):
    x = inputs[0]
    if node.attr("approximate", "none") == "tanh":
        y = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    else:
        y = 0.5 * x * (1 + _erf(x / np.sqrt(2)))
    return y.astype(x.dtype, copy=False)


@_op("PRelu")
def _prelu(node, inputs):
    x, slope = inputs
    return np.where(x >= 0, x, x * slope).astype(x.dtype, copy=False)


@_op("Clip", attributes=("min", "max"))
def _clip(node, inputs):
    x = inputs[0]
    lo = node.attr("min") if "min" in node.attrs else node.input(inputs, 1)
    hi = node.attr("max") if "max" in node.attrs else node.input(inputs, 2)
    if lo is not None:
        x = np.maximum(x, np.asarray(lo, dtype=x.dtype))
    if hi is not None:
        x = np.minimum(x, np.asarray(hi, dtype=x.dtype))
    return x


def _variadic(fn):
    def run(node, inputs):
        present = [a for a in inputs if a is not None]
        _check_size(np.broadcast_shapes(*(a.shape for a in present)), "broadcasting")
        out = present[0]
        for a in present[1:]:
            out = fn(out, a)
        return np.asarray(out).astype(present[0].dtype, copy=False)

    return run


_op("Sum")(_variadic(np.add))
_op("Max")(_variadic(np.maximum))
_op("Min")(_variadic(np.minimum))


@_op("Mean")
def _mean(node, inputs):
    present = [a for a in inputs if a is not None]
    return (_variadic(np.add)(node, present) / len(present)).astype(present[0].dtype, copy=False)


@_op("Where")
def _where(node, inputs):
    c, a, b = inputs
    _check_size(np.broadcast_shapes(c.shape, a.shape, b.shape), "broadcasting")
    return np.where(c, a, b)


def _softmax_axes(node, x):
    """Softmax's axis (and, before opset 13, the 2-D coercion): returns (x viewed, axis, shape)."""
    axis = node.attr("axis", -1 if node.opset >= 13 else 1)
    axis = _axis(axis, x.ndim)
    if node.opset >= 13:
        return x, axis, x.shape
    return x.reshape(math.prod(x.shape[:axis]), -1), 1, x.shape


@_op("Softmax", attributes=("axis",))
def _softmax(node, inputs):
    x, axis, shape = _softmax_axes(node, inputs[0])
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return (e / np.sum(e, axis=axis, keepdims=True)).reshape(shape)


@_op("LogSoftmax", attributes=("axis",))
def _log_softmax(node, inputs):
    x, axis, shape = _softmax_axes(node, inputs[0])
    z = x - np.max(x, axis=axis, keepdims=True)
    return (z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))).reshape(shape)


# Products and normalizations


@_op("MatMul")
def _matmul(node, inputs):
    a, b = inputs
    if a.ndim >= 2 and b.ndim >= 2:
        _check_size((*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1]), "MatMul")
    return matmul(a, b)  # (SciPy's BLAS where it can: engine._products)


@_op("Gemm", attributes=("alpha", "beta", "transA", "transB"))
def _gemm(node, inputs):
    a, b = inputs[0], inputs[1]
    c = node.input(inputs, 2)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"Gemm takes 2-D A and B, got shapes {a.shape} and {b.shape}")
    a = a.T if node.attr("transA", 0) else a
    b = b.T if node.attr("transB", 0) else b
    _check_size((a.shape[0], b.shape[1]), "Gemm")
    y = matmul(a, b)
    alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
    if alpha != 1.0:
        y = y * np.asarray(alpha, dtype=y.dtype)
    if c is not None and beta != 0.0:
        y = y + (c if beta == 1.0 else c * np.asarray(beta, dtype=y.dtype))
    return y.astype(a.dtype, copy=False)


@_op("LayerNormalization", attributes=("axis", "epsilon", "stash_type"))
def _layer_norm(node, inputs):
    x, scale = inputs[0], inputs[1]
    bias = node.input(inputs, 2)
    axis = _axis(node.attr("axis", -1), x.ndim)
    axes = tuple(range(axis, x.ndim))
    mean = np.mean(x, axis=axes, keepdims=True)
    inv = 1 / np.sqrt(np.mean((x - mean) ** 2, axis=axes, keepdims=True) + node.attr("epsilon", 1e-5))
    y = (x - mean) * inv * scale
    if bias is not None:
        y = y + bias
    outs = [y.astype(x.dtype, copy=False), mean.astype(x.dtype), inv.astype(x.dtype)]
    return outs[: len(node.outputs)]


def _batch_norm_prepare(node):
    if node.attr("training_mode", 0):
        raise ValueError("attribute 'training_mode'=1 (batch statistics) is not run: lstmcore predicts")


@_op(
    "BatchNormalization",
    attributes=("epsilon", "momentum", "training_mode", "spatial"),
    prepare=_batch_norm_prepare,
)
def _batch_norm(node, inputs):
    x, scale, bias, mean, var = inputs[:5]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    inv = 1 / np.sqrt(var.reshape(shape) + node.attr("epsilon", 1e-5))
    y = (x - mean.reshape(shape)) * inv * scale.reshape(shape) + bias.reshape(shape)
    return y.astype(x.dtype, copy=False)


def _reduce(fn, axes_input_from: int):
    def run(node, inputs):
        x = inputs[0]
        axes = _axes_of(node, inputs, 1)
        keep = bool(node.attr("keepdims", 1))
        if not axes:
            if node.attr("noop_with_empty_axes", 0):
                return x
            axes = list(range(x.ndim))
        axes = tuple(sorted({_axis(a, x.ndim) for a in axes}))
        return np.asarray(fn(x, axis=axes, keepdims=keep)).astype(x.dtype, copy=False)

    return run


_REDUCE_ATTRS = ("axes", "keepdims", "noop_with_empty_axes")
_op("ReduceSum", attributes=_REDUCE_ATTRS)(_reduce(np.sum, 13))
_op("ReduceMean", attributes=_REDUCE_ATTRS)(_reduce(np.mean, 18))
_op("ReduceMax", attributes=_REDUCE_ATTRS)(_reduce(np.max, 18))
_op("ReduceMin", attributes=_REDUCE_ATTRS)(_reduce(np.min, 18))
_op("ReduceProd", attributes=_REDUCE_ATTRS)(_reduce(np.prod, 18))


def _arg(fn):
    def run(node, inputs):
        x = inputs[0]
        axis = _axis(node.attr("axis", 0), x.ndim)
        if node.attr("select_last_index", 0):
            k = x.shape[axis] - 1 - fn(np.flip(x, axis), axis=axis)
        else:
            k = fn(x, axis=axis)
        k = k.astype(np.int64)
        return np.expand_dims(k, axis) if node.attr("keepdims", 1) else k

    return run


_op("ArgMax", attributes=("axis", "keepdims", "select_last_index"))(_arg(np.argmax))
_op("ArgMin", attributes=("axis", "keepdims", "select_last_index"))(_arg(np.argmin))


# Shapes, indexing, types


@_op("Dropout", attributes=("ratio", "seed"))
def _dropout(node, inputs):
    training = node.input(inputs, 2)
    if training is not None and bool(np.asarray(training)):
        raise ValueError("training_mode=True (random dropout) is not run: lstmcore predicts")
    x = inputs[0]
    return [x, np.ones(x.shape, dtype=np.bool_)][: len(node.outputs)]


def _cast_prepare(node):
    if "to" not in node.attrs:
        raise ValueError("attribute 'to' is missing")
    _numpy_dtype(node.attrs["to"], "attribute 'to'")


@_op("Cast", attributes=("to", "saturate"), prepare=_cast_prepare)
def _cast(node, inputs):
    return inputs[0].astype(_DTYPES[node.attrs["to"]])


@_op("CastLike", attributes=("saturate",))
def _cast_like(node, inputs):
    return inputs[0].astype(inputs[1].dtype)


@_op("Shape", attributes=("start", "end"))
def _shape(node, inputs):
    shape = inputs[0].shape
    start, end = node.attr("start", 0), node.attr("end", len(shape))
    return np.array(shape[slice(start, end)], dtype=np.int64)


@_op("Size")
def _size(node, inputs):
    return np.array(inputs[0].size, dtype=np.int64)


def _constant_prepare(node):
    keys = set(node.attrs)
    if len(keys) != 1:
        raise ValueError(f"Constant needs exactly one value attribute, got {sorted(keys)}")
    (key,) = keys
    value = node.attrs[key]
    if key == "value":
        node.cache["value"] = value
    elif key == "value_float":
        node.cache["value"] = np.array(value, dtype=np.float32)
    elif key == "value_floats":
        node.cache["value"] = np.array(value, dtype=np.float32)
    elif key == "value_int":
        node.cache["value"] = np.array(value, dtype=np.int64)
    elif key == "value_ints":
        node.cache["value"] = np.array(value, dtype=np.int64)
    else:
        raise ValueError(f"attribute {key!r} of Constant is not supported by lstmcore (strings)")


@_op(
    "Constant",
    attributes=(
        "value",
        "value_float",
        "value_floats",
        "value_int",
        "value_ints",
        "value_string",
        "value_strings",
    ),
    prepare=_constant_prepare,
)
def _constant(node, inputs):
    return node.cache["value"]


@_op("ConstantOfShape", attributes=("value",))
def _constant_of_shape(node, inputs):
    shape = _check_size(_ints(inputs[0]), "ConstantOfShape")
    value = node.attr("value")
    if value is None:
        value = np.zeros(1, dtype=np.float32)
    if value.size != 1:
        raise ValueError(f"attribute 'value' must hold one element, got shape {value.shape}")
    return np.full(shape, value.reshape(-1)[0], dtype=value.dtype)


@_op("Expand")
def _expand(node, inputs):
    x, shape = inputs[0], _ints(inputs[1])
    out = _check_size(np.broadcast_shapes(x.shape, tuple(shape)), "Expand")
    return np.broadcast_to(x, out)


@_op("Tile")
def _tile(node, inputs):
    x, repeats = inputs[0], _ints(inputs[1])
    if len(repeats) != x.ndim:
        raise ValueError(f"repeats must have {x.ndim} values, got {repeats}")
    _check_size([d * r for d, r in zip(x.shape, repeats, strict=True)], "Tile")
    return np.tile(x, repeats)


@_op("Range")
def _range(node, inputs):
    start, limit, delta = (np.asarray(a).reshape(()) for a in inputs)
    if delta == 0:
        raise ValueError("delta must not be 0")
    n = max(int(math.ceil((float(limit) - float(start)) / float(delta))), 0)
    _check_size([n], "Range")
    return (start + np.arange(n, dtype=start.dtype) * delta).astype(start.dtype)


@_op("Trilu", attributes=("upper",))
def _trilu(node, inputs):
    x = inputs[0]
    if x.ndim < 2:
        raise ValueError(f"the input must have 2 dimensions or more, got shape {x.shape}")
    k = node.input(inputs, 1)
    k = 0 if k is None else int(np.asarray(k).reshape(()))
    return np.triu(x, k) if node.attr("upper", 1) else np.tril(x, k)


@_op("Reshape", attributes=("allowzero",))
def _reshape(node, inputs):
    x, shape = inputs[0], _ints(inputs[1])
    if not node.attr("allowzero", 0):
        if any(d == 0 and k >= x.ndim for k, d in enumerate(shape)):
            raise ValueError(f"shape {shape} copies (0) a dimension the input {x.shape} does not have")
        shape = [x.shape[k] if d == 0 else d for k, d in enumerate(shape)]
    return x.reshape(shape)


@_op("Flatten", attributes=("axis",))
def _flatten(node, inputs):
    x = inputs[0]
    axis = node.attr("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis <= x.ndim:
        raise ValueError(f"axis {node.attr('axis')} is out of range for a tensor of rank {x.ndim}")
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


@_op("Transpose", attributes=("perm",))
def _transpose(node, inputs):
    x = inputs[0]
    perm = node.attr("perm")
    return np.transpose(x, None if perm is None else list(perm))


@_op("Squeeze", attributes=("axes",))
def _squeeze(node, inputs):
    x = inputs[0]
    axes = _axes_of(node, inputs, 1)
    if axes is None:
        return np.squeeze(x)
    return np.squeeze(x, axis=tuple(_axis(a, x.ndim) for a in axes))


@_op("Unsqueeze", attributes=("axes",))
def _unsqueeze(node, inputs):
    x = inputs[0]
    axes = _axes_of(node, inputs, 1)
    if not axes:
        raise ValueError("axes are missing")
    ndim = x.ndim + len(axes)
    return np.expand_dims(x, tuple(sorted(_axis(a, ndim) for a in axes)))


@_op("Concat", attributes=("axis",))
def _concat(node, inputs):
    present = [a for a in inputs if a is not None]
    if "axis" not in node.attrs:
        raise ValueError("attribute 'axis' is missing")
    return np.concatenate(present, axis=_axis(node.attrs["axis"], present[0].ndim))


@_op("Split", attributes=("axis", "split", "num_outputs"))
def _split(node, inputs):
    x = inputs[0]
    axis = _axis(node.attr("axis", 0), x.ndim)
    sizes = node.attr("split")
    if sizes is None and node.input(inputs, 1) is not None:
        sizes = _ints(inputs[1])
    if sizes is None:
        n = node.attr("num_outputs", len(node.outputs))
        if n != len(node.outputs):
            raise ValueError(f"num_outputs={n} differs from the {len(node.outputs)} outputs the node names")
        chunk = -(-x.shape[axis] // n)
        sizes = [chunk] * (n - 1) + [x.shape[axis] - chunk * (n - 1)]
    if sum(sizes) != x.shape[axis] or any(s < 0 for s in sizes) or len(sizes) != len(node.outputs):
        raise ValueError(f"split {list(sizes)} does not cut axis {axis} of length {x.shape[axis]}")
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


@_op("Gather", attributes=("axis",))
def _gather(node, inputs):
    x, indices = inputs
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be integers, got {indices.dtype}")
    return np.take(x, indices, axis=_axis(node.attr("axis", 0), x.ndim))


@_op("CumSum", attributes=("exclusive", "reverse"))
def _cumsum(node, inputs):
    x = inputs[0]
    axis = _axis(int(np.asarray(inputs[1]).reshape(())), x.ndim)
    y = np.flip(x, axis) if node.attr("reverse", 0) else x
    out = np.cumsum(y, axis=axis, dtype=x.dtype)
    if node.attr("exclusive", 0):
        out = out - y
    return np.flip(out, axis) if node.attr("reverse", 0) else out


@_op("Shrink", attributes=("lambd", "bias"))
def _shrink(node, inputs):
    x = inputs[0]
    lambd, bias = node.attr("lambd", 0.5), node.attr("bias", 0.0)
    y = np.where(x < -lambd, x + bias, np.where(x > lambd, x - bias, 0))
    return y.astype(x.dtype, copy=False)


def _pad_prepare(node):
    mode = node.attr("mode", "constant")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise ValueError(f"attribute 'mode' must be constant, reflect, edge or wrap, got {mode!r}")


@_op("Pad", attributes=("mode", "pads", "value"), prepare=_pad_prepare)
def _pad(node, inputs):
    x = inputs[0]
    if "pads" in node.attrs:  # opsets before 11
        pads, value, axes = list(node.attrs["pads"]), node.attr("value", 0.0), None
    else:
        pads = _ints(inputs[1])
        value = node.input(inputs, 2)
        value = 0 if value is None else np.asarray(value).reshape(())
        axes = node.input(inputs, 3)
        axes = None if axes is None else [_axis(a, x.ndim) for a in _ints(axes)]
    axes = list(range(x.ndim)) if axes is None else axes
    if len(pads) != 2 * len(axes):
        raise ValueError(f"pads must have {2 * len(axes)} values, got {pads}")
    before, after = [0] * x.ndim, [0] * x.ndim
    for k, axis in enumerate(axes):
        before[axis], after[axis] = pads[k], pads[k + len(axes)]
    crop = tuple(
        slice(-min(b, 0), x.shape[a] + min(e, 0)) for a, (b, e) in enumerate(zip(before, after, strict=True))
    )
    x = x[crop]  # negative pads remove elements
    widths = [(max(b, 0), max(e, 0)) for b, e in zip(before, after, strict=True)]
    _check_size([d + b + e for d, (b, e) in zip(x.shape, widths, strict=True)], "Pad")
    mode = node.attr("mode", "constant")
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=np.asarray(value, dtype=x.dtype))
    return np.pad(x, widths, mode=mode)


def _index_array(indices, n: int):
    """Integer indices along an axis of length ``n``, negatives counted from the end."""
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be integers, got {indices.dtype}")
    if indices.size and (indices.min() < -n or indices.max() >= n):
        raise ValueError(f"indices must be in [{-n}, {n - 1}], got {indices.min()} to {indices.max()}")
    return np.where(indices < 0, indices + n, indices)


def _along(indices, axis: int) -> tuple:
    """The full index of ONNX's GatherElements / ScatterElements: position k of ``indices`` names
    element ``indices[k]`` along ``axis`` and k's own coordinates elsewhere (no broadcasting)."""
    grid = list(np.indices(indices.shape, sparse=True))
    grid[axis] = indices
    return tuple(grid)


def _check_along(x, indices, axis: int):
    if indices.ndim != x.ndim or any(
        i > d for k, (i, d) in enumerate(zip(indices.shape, x.shape, strict=True)) if k != axis
    ):
        raise ValueError(f"indices of shape {indices.shape} do not fit data of shape {x.shape} (axis {axis})")
    return _index_array(indices, x.shape[axis])


@_op("GatherElements", attributes=("axis",))
def _gather_elements(node, inputs):
    x, indices = inputs
    axis = _axis(node.attr("axis", 0), x.ndim)
    return x[_along(_check_along(x, indices, axis), axis)]


def _scatter_prepare(node):
    if node.attr("reduction", "none") != "none":
        raise ValueError(f"attribute 'reduction'={node.attr('reduction')!r} is not supported (only 'none')")


@_op("ScatterElements", attributes=("axis", "reduction"), prepare=_scatter_prepare)
def _scatter_elements(node, inputs):
    x, indices, updates = inputs
    axis = _axis(node.attr("axis", 0), x.ndim)
    if updates.shape != indices.shape:
        raise ValueError(f"updates must have the shape of indices {indices.shape}, got {updates.shape}")
    out = np.array(x, copy=True)
    out[_along(_check_along(x, indices, axis), axis)] = updates
    return out


@_op("TopK", attributes=("axis", "largest", "sorted"))
def _top_k(node, inputs):
    x, k = inputs[0], _ints(inputs[1])
    axis = _axis(node.attr("axis", -1), x.ndim)
    if len(k) != 1 or not 0 <= k[0] <= x.shape[axis]:
        raise ValueError(f"K must be one value in [0, {x.shape[axis]}], got {k}")
    # ties keep the lower index first, as ONNX Runtime does
    key = -x if node.attr("largest", 1) and x.dtype != np.bool_ else x
    order = np.argsort(key, axis=axis, kind="stable")
    indices = np.take(order, np.arange(k[0]), axis=axis)
    return [np.take_along_axis(x, indices, axis=axis), indices.astype(np.int64)]


@_op("Slice", attributes=("starts", "ends", "axes"))
def _slice(node, inputs):
    x = inputs[0]
    if node.opset < 10:
        starts, ends = list(node.attr("starts", [])), list(node.attr("ends", []))
        axes, steps = node.attr("axes"), None
    else:
        starts, ends = _ints(inputs[1]), _ints(inputs[2])
        axes = node.input(inputs, 3)
        steps = node.input(inputs, 4)
        axes = None if axes is None else _ints(axes)
        steps = None if steps is None else _ints(steps)
    axes = list(range(len(starts))) if axes is None else list(axes)
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ValueError(f"starts, ends, axes and steps differ in length: {starts}, {ends}, {axes}, {steps}")
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis = _axis(axis, x.ndim)
        n = x.shape[axis]
        if step == 0:
            raise ValueError("a step of Slice is 0")
        start = start + n if start < 0 else start
        end = end + n if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), n), min(max(end, 0), n)
        else:
            start, end = min(max(start, 0), n - 1), min(max(end, -1), n - 1)
        index[axis] = slice(start, None if end < 0 else end, step)
    return x[tuple(index)]


# Recurrent nodes ---------------------------------------------------------------------------------

# Each operator's inputs and outputs by position (ONNX's operator definitions).
_ROLES = {
    "LSTM": ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"),
    "GRU": ("X", "W", "R", "B", "sequence_lens", "initial_h"),
    "RNN": ("X", "W", "R", "B", "sequence_lens", "initial_h"),
}
_OPTIONS = {"LSTM": layout.onnx_lstm_options, "GRU": layout.onnx_gru_options, "RNN": layout.onnx_rnn_options}
_WEIGHT_ROLES = ("W", "R", "B", "P")


def _recurrent_prepare(node):
    """The attributes as the engine's options, per direction (layout refuses what it cannot run)."""
    attrs = dict(node.attrs)
    direction = attrs.get("direction", "forward")
    D = 2 if direction == "bidirectional" else 1
    node.cache["D"] = D
    node.cache["batch_first"] = int(attrs.get("layout", 0)) == 1
    node.cache["options"] = [_OPTIONS[node.op](attrs, d if D == 2 else None) for d in range(D)]
    hidden = attrs.get("hidden_size")
    if hidden is not None and hidden < 1:
        raise ValueError(f"attribute 'hidden_size' must be at least 1, got {hidden}")
    if len(node.inputs) > len(_ROLES[node.op]):
        raise ValueError(f"{node.op} takes at most {len(_ROLES[node.op])} inputs, got {len(node.inputs)}")
    if len(node.inputs) < 3 or not all(node.inputs[:3]):
        raise ValueError(f"{node.op} needs its inputs X, W and R")


def _recurrent_weights(node, feeds: dict, d: int) -> tuple:
    """Direction ``d``'s weights in lstmcore's layout: (w_x, w_h, b) and, for the LSTM, the
    peepholes or None (all-zero peepholes are none)."""
    W, R, B = feeds["W"], feeds["R"], feeds.get("B")
    hidden = node.attr("hidden_size")
    if hidden is not None and (R.ndim != 3 or R.shape[-1] != hidden):
        raise ValueError(f"R must have shape (D, G, {hidden}) for hidden_size={hidden}, got {R.shape}")
    if W.ndim != 3 or W.shape[0] != node.cache["D"]:
        raise ValueError(f"W must have {node.cache['D']} directions (D, G, I), got shape {W.shape}")
    if node.op == "LSTM":
        P = feeds.get("P")
        if P is not None and not np.any(P):
            P = None
        if P is None:
            return (*layout.from_onnx(W, R, B, direction=d), None)
        return layout.from_onnx(W, R, B, P, direction=d)
    if node.op == "GRU":
        lbr = int(node.cache["options"][d]["reset_after"])
        return layout.from_onnx_gru(W, R, B, direction=d, linear_before_reset=lbr)
    return layout.from_onnx_rnn(W, R, B, direction=d)


def _recurrent(node, inputs):
    feeds = {role: value for role, value in zip(_ROLES[node.op], inputs, strict=False) if value is not None}
    X = feeds["X"]
    if X.dtype not in (np.float32, np.float64):
        raise ValueError(f"X has dtype {X.dtype}; lstmcore's engine runs float32 and float64")
    if X.ndim != 3:
        raise ValueError(f"X must have rank 3, got shape {X.shape}")
    batch_first, D = node.cache["batch_first"], node.cache["D"]
    x = X if batch_first else X.transpose(1, 0, 2)  # (B, T, I)
    Bn, T = x.shape[:2]
    if Bn == 0 or T == 0:
        raise ValueError(f"X has an empty batch or time axis: shape {X.shape}")
    lengths, empty = feeds.get("sequence_lens"), None
    if lengths is not None:
        lengths = np.asarray(lengths)
        if not np.issubdtype(lengths.dtype, np.integer) or lengths.shape != (Bn,):
            raise ValueError(f"sequence_lens must be ({Bn},) integers, got {lengths.dtype} {lengths.shape}")
        if lengths.min() < 0 or lengths.max() > T:
            raise ValueError(f"sequence_lens must be in [0, {T}] (T), got {lengths.tolist()}")
        empty = lengths == 0  # ONNX Runtime: all outputs 0 for such rows
        empty = empty if empty.any() else None
        lengths = None if (lengths == T).all() else np.maximum(lengths, 1).astype(np.int64)

    def state(role, d):  # (D, B, H), or (B, D, H) with layout=1
        value = feeds.get(role)
        if value is None:
            return None
        if value.ndim != 3:
            raise ValueError(f"{role} must have rank 3, got shape {value.shape}")
        return value[:, d] if batch_first else value[d]

    ys, h_ns, c_ns = [], [], []
    for d in range(D):
        key = ("weights", d)
        weights = node.cache.get(key)
        if weights is None:
            weights = _recurrent_weights(node, feeds, d)
        options = node.cache["options"][d]
        if node.op == "LSTM":
            *w, peepholes = weights
            y, h_n, c_n = lstmcore.lstm_forward(
                x,
                *w,
                state("initial_h", d),
                state("initial_c", d),
                lengths=lengths,
                peepholes=peepholes,
                **options,
            )
            c_ns.append(c_n)
        elif node.op == "GRU":
            y, h_n = lstmcore.gru_forward(x, *weights, state("initial_h", d), lengths=lengths, **options)
        else:
            y, h_n = lstmcore.rnn_forward(x, *weights, state("initial_h", d), lengths=lengths, **options)
        ys.append(y)
        h_ns.append(h_n)
    y = np.stack(ys, axis=2)  # (B, T, D, H)
    finals = [np.stack(h_ns)] + ([np.stack(c_ns)] if c_ns else [])  # (D, B, H)
    if empty is not None:
        y[empty] = 0
        for f in finals:
            f[:, empty] = 0
    outs = [y if batch_first else y.transpose(1, 2, 0, 3)]  # Y (B, T, D, H) or (T, D, B, H)
    outs += [f.transpose(1, 0, 2) if batch_first else f for f in finals]  # (B, D, H) or (D, B, H)
    return outs[: len(node.outputs)]


_RECURRENT_ATTRS = (
    "activations",
    "activation_alpha",
    "activation_beta",
    "clip",
    "direction",
    "hidden_size",
    "layout",
    "input_forget",
    "linear_before_reset",
)
for _name in _ROLES:
    _op(_name, attributes=_RECURRENT_ATTRS, prepare=_recurrent_prepare, fold=False)(_recurrent)
del _name

SUPPORTED_OPS = tuple(sorted(_OPS))


# The model ---------------------------------------------------------------------------------------


class _Value:
    """A graph input or output: name, dtype (None: not declared) and shape (ints, names or None)."""

    def __init__(self, info):
        self.name = _str(info.name)
        t = info.type.tensor_type if info.type.HasField("tensor_type") else None
        self.dtype = None
        self.shape = None
        if t is not None:
            self.dtype = np.dtype(_DTYPES[t.elem_type]) if t.elem_type in _DTYPES else None
            if t.HasField("shape"):
                self.shape = tuple(
                    d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim
                )

    def describe(self) -> str:
        dtype = "?" if self.dtype is None else self.dtype.name
        shape = "?" if self.shape is None else "(" + ", ".join(str(d) for d in self.shape) + ")"
        return f"{self.name} {dtype} {shape}"


class OnnxModel:
    """An ONNX graph run by lstmcore: the recurrent nodes by the engine, the rest by NumPy.

    ``predict(x)`` takes the graph's inputs (an array for one, a list in :attr:`inputs` order or a
    dict by name for several) and returns its outputs (an array for one, a list for several);
    ``summary()`` prints the nodes. Made by :func:`load` (``lstmcore.load_model("m.onnx")``) or from a
    ``ModelProto`` with ``OnnxModel(proto)``; ``source`` names it in errors, ``folder`` is where its
    external data may be read (None: nowhere).
    """

    def __init__(self, proto, source: str = "<ModelProto>", folder: str | None = None):
        try:
            self._build(proto, source, folder)
        except ValueError as exc:
            message = str(exc)
            raise ValueError(message if message.startswith(source) else f"{source}: {message}") from None

    def _build(self, proto, source: str, folder: str | None) -> None:
        onnx = _require_onnx()
        self.source = source
        self.opset = self._opset(proto, onnx, source)
        graph = proto.graph
        self.name = _str(graph.name) or "onnx_model"
        self.producer = " ".join(_str(p) for p in (proto.producer_name, proto.producer_version) if p)
        if graph.sparse_initializer:
            raise ValueError(f"{source}: sparse initializers are not read by lstmcore")
        data = _Data(folder)
        constants = {}
        for t in graph.initializer:
            name = _str(t.name)
            if name in constants:
                raise ValueError(f"{source}: initializer {name!r} is given twice")
            constants[name] = _tensor(t, f"{source}: initializer", data)
        inputs = [v for v in map(_Value, graph.input) if v.name not in constants]
        names = [v.name for v in inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"the graph's inputs {names} repeat a name")
        self._inputs = inputs
        self._outputs = [_Value(v) for v in graph.output]
        if not self._outputs:
            raise ValueError(f"{source}: the graph has no outputs")
        nodes = [_Node(n, k, self.opset, data) for k, n in enumerate(graph.node)]
        self._nodes = _sorted(nodes, set(constants) | {v.name for v in inputs}, self.outputs, source)
        self._constants = constants
        self._fold()
        self._prepare_weights()
        self._last_use = self._uses()

    @staticmethod
    def _opset(proto, onnx, source: str) -> int:
        versions = {_str(o.domain): o.version for o in proto.opset_import}
        version = versions.get("", versions.get("ai.onnx"))
        if version is None:
            raise ValueError(f"{source}: the model imports no opset of the default ONNX domain")
        newest = onnx.defs.onnx_opset_version()
        if not MIN_OPSET <= version <= newest:
            raise ValueError(
                f"{source}: the model uses opset {version} of the default ONNX domain; lstmcore reads opsets "
                f"{MIN_OPSET} to {newest} (the installed onnx package's newest)"
            )
        return version

    # Names and shapes

    @property
    def inputs(self) -> list[str]:
        """The names of the graph's inputs (initializers excluded), in order."""
        return [v.name for v in self._inputs]

    @property
    def outputs(self) -> list[str]:
        """The names of the graph's outputs, in order."""
        return [v.name for v in self._outputs]

    @property
    def input_shape(self):
        """The declared shape of the single input (None for a free axis), or a list of them."""
        shapes = [
            None if v.shape is None else tuple(d if isinstance(d, int) and d > 0 else None for d in v.shape)
            for v in self._inputs
        ]
        return shapes[0] if len(shapes) == 1 else shapes

    def count_params(self) -> int:
        """The elements of the float constants the remaining nodes use (weights, biases)."""
        return sum(a.size for a in self._constants.values() if a.dtype.kind == "f")

    # Load-time passes

    def _fold(self) -> None:
        """Compute once the nodes whose inputs are all constants (shape arithmetic on weights),
        within a budget of bytes: twice the initializers' or 4 * MAX_ELEMENTS, the larger."""
        budget = max(4 * MAX_ELEMENTS, 2 * sum(a.nbytes for a in self._constants.values()))
        kept, made = [], 0
        for node in self._nodes:
            if node.spec.fold and all(not name or name in self._constants for name in node.inputs):
                outs = node.run([self._constants.get(name) if name else None for name in node.inputs])
                for name, value in zip(node.outputs, outs, strict=False):
                    if name:
                        self._constants[name] = value = np.asarray(value)
                        made += value.nbytes
                if made > budget:
                    raise ValueError(
                        f"{self.source}: the graph's constant nodes make more than {budget} bytes "
                        f"(at {node.what})"
                    )
            else:
                kept.append(node)
        self._nodes = kept
        used = {name for node in kept for name in node.inputs} | set(self.outputs)
        self._constants = {k: v for k, v in self._constants.items() if k in used}

    def _prepare_weights(self) -> None:
        """Convert once the weights of the recurrent nodes whose W, R, B and P are constants."""
        for node in self._nodes:
            if node.op not in _ROLES:
                continue
            roles = dict(zip(_ROLES[node.op], node.inputs, strict=False))
            names = [roles.get(r) for r in _WEIGHT_ROLES]
            if all(not name or name in self._constants for name in names):
                feeds = {r: self._constants[n] for r, n in zip(_WEIGHT_ROLES, names, strict=True) if n}
                for d in range(node.cache["D"]):
                    try:
                        with np.errstate(all="ignore"):  # inf in a bias sums to NaN quietly
                            node.cache[("weights", d)] = _recurrent_weights(node, feeds, d)
                    except (ValueError, TypeError) as exc:
                        raise ValueError(f"{node.what}: {exc}") from None

    def _uses(self) -> dict:
        """Each computed value's last reader (its index in the node list), to free it after."""
        last = {}
        for k, node in enumerate(self._nodes):
            for name in node.inputs:
                last[name] = k
        for name in self.outputs:
            last[name] = len(self._nodes)
        return last

    # Running

    def _feeds(self, x) -> dict:
        if isinstance(x, dict):
            unknown = sorted(set(x) - set(self.inputs))
            if unknown:
                raise ValueError(f"unknown inputs {unknown}; the model's inputs are {self.inputs}")
            missing = [n for n in self.inputs if n not in x]
            if missing:
                raise ValueError(f"missing inputs {missing}; the model's inputs are {self.inputs}")
            given = [x[n] for n in self.inputs]
        elif isinstance(x, (list, tuple)) and len(self._inputs) > 1:
            if len(x) != len(self._inputs):
                raise ValueError(f"expected {len(self._inputs)} inputs {self.inputs}, got {len(x)}")
            given = list(x)
        else:
            if len(self._inputs) != 1:
                raise ValueError(
                    f"the model has {len(self._inputs)} inputs {self.inputs}: pass a list or a dict by name"
                )
            given = [x]
        feeds = {}
        for v, a in zip(self._inputs, given, strict=True):
            a = np.asarray(a)
            if v.dtype is not None and a.dtype != v.dtype:
                if a.dtype.kind not in "biuf" or (a.dtype.kind == "f") != (v.dtype.kind == "f"):
                    raise TypeError(f"input {v.name!r} must be {v.dtype}, got {a.dtype}")
                a = a.astype(v.dtype)
            if v.shape is not None:
                fixed = [d if isinstance(d, int) and d > 0 else None for d in v.shape]
                if a.ndim != len(fixed) or any(
                    f is not None and f != s for f, s in zip(fixed, a.shape, strict=True)
                ):
                    want = "(" + ", ".join("None" if f is None else str(f) for f in fixed) + ")"
                    raise ValueError(f"input {v.name!r} must have shape {want}, got {a.shape}")
            feeds[v.name] = a
        return feeds

    def _run(self, feeds: dict) -> list:
        values = dict(self._constants)
        values.update(feeds)
        for k, node in enumerate(self._nodes):
            outs = node.run([values[name] if name else None for name in node.inputs])
            for name, value in zip(node.outputs, outs, strict=False):
                if name:
                    values[name] = value
            for name in set(node.inputs):
                if (
                    name
                    and self._last_use.get(name) == k
                    and name not in feeds
                    and name not in self._constants
                ):
                    del values[name]
        return [np.array(values[name], order="C", copy=True) for name in self.outputs]

    def predict(self, x, batch_size=None, verbose=0):
        """The graph's outputs for ``x``: an array for one input, a list (in :attr:`inputs` order)
        or a dict by name for several. Returns an array for one output, a list for several.

        ``batch_size`` None runs the whole input at once; an int runs slices of that many rows
        along the first axis of every input and joins the outputs on their first axis (for graphs
        whose inputs and outputs are all batch-first: an output that is not is refused).
        ``verbose`` is accepted for Keras's signature; nothing is printed.
        """
        feeds = self._feeds(x)
        if batch_size is None:
            outs = self._run(feeds)
        else:
            if (
                isinstance(batch_size, bool)
                or not isinstance(batch_size, (int, np.integer))
                or batch_size < 1
            ):
                raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
            ns = {a.shape[0] if a.ndim else None for a in feeds.values()}
            if len(ns) != 1 or None in ns:
                raise ValueError(
                    "batch_size needs inputs with one first axis, got shapes "
                    f"{[a.shape for a in feeds.values()]}"
                )
            (n,) = ns
            parts = []
            for start in range(0, n, batch_size):
                part = self._run({k: a[start : start + batch_size] for k, a in feeds.items()})
                rows = min(batch_size, n - start)
                for name, o in zip(self.outputs, part, strict=True):
                    if o.ndim == 0 or o.shape[0] != rows:
                        raise ValueError(
                            f"output {name!r} (shape {o.shape}) has no batch axis first: "
                            "predict with batch_size=None"
                        )
                parts.append(part)
            outs = [np.concatenate(p, axis=0) for p in zip(*parts, strict=True)]
        return outs[0] if len(outs) == 1 else outs

    def __call__(self, x):
        return self.predict(x)

    def summary(self, print_fn=None) -> None:
        """Print the inputs, the nodes left to run (the recurrent ones with their options) and the
        outputs."""
        print_fn = print_fn or print
        rows = []
        for node in self._nodes:
            params = sum(
                self._constants[n].size
                for n in node.inputs
                if n in self._constants and self._constants[n].dtype.kind == "f"
            )
            what = node.op
            if node.op in _ROLES:
                hidden, direction = node.attr("hidden_size", "?"), node.attr("direction", "forward")
                what = f"{node.op} (hidden_size={hidden}, {direction})"
            rows.append((f"{node.name} ({what})", ", ".join(o for o in node.outputs if o), f"{params:,}"))
        header = ("Node (operator)", "Outputs", "Param #")
        widths = [max([len(h)] + [len(r[k]) for r in rows]) + 2 for k, h in enumerate(header)]
        line = "".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
        producer = f", from {self.producer}" if self.producer else ""
        print_fn(f'Model: "{self.name}" (ONNX, opset {self.opset}{producer})')
        print_fn("Inputs: " + "; ".join(v.describe() for v in self._inputs))
        print_fn("_" * len(line))
        print_fn(line)
        print_fn("=" * len(line))
        for r in rows:
            print_fn("".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        print_fn("=" * len(line))
        print_fn("Outputs: " + "; ".join(v.describe() for v in self._outputs))
        print_fn(f"Total params: {self.count_params():,}")

    def __repr__(self) -> str:
        ops = sorted({node.op for node in self._nodes} & set(_ROLES))
        return f"<OnnxModel {self.name!r}: {len(self._nodes)} nodes, recurrent {ops}, inputs {self.inputs}>"


def _sorted(nodes: list, known: set, outputs: list, source: str) -> list:
    """The nodes in an order that computes every input before its use (Kahn's algorithm); a cycle,
    a name produced twice or one that nothing produces is a ValueError."""
    producer = {}
    for k, node in enumerate(nodes):
        for name in node.outputs:
            if not name:
                continue
            if name in producer or name in known:
                raise ValueError(f"{source}: value {name!r} is produced twice (by {node.what} and another)")
            producer[name] = k
    waiting = []
    readers = [[] for _ in nodes]
    for k, node in enumerate(nodes):
        needs = set()
        for name in node.inputs:
            if not name or name in known:
                continue
            if name not in producer:
                raise ValueError(
                    f"{source}: {node.what} reads {name!r}, which no node, initializer or graph "
                    "input provides"
                )
            needs.add(producer[name])
        waiting.append(len(needs))
        for p in needs:
            readers[p].append(k)
    ready = collections.deque(k for k, n in enumerate(waiting) if n == 0)
    order = []
    while ready:
        k = ready.popleft()
        order.append(k)
        for r in readers[k]:
            waiting[r] -= 1
            if waiting[r] == 0:
                ready.append(r)
    if len(order) != len(nodes):
        stuck = [nodes[k].what for k in range(len(nodes)) if waiting[k] > 0]
        raise ValueError(f"{source}: the graph has a cycle through {', '.join(stuck[:5])}")
    for name in outputs:
        if name not in producer and name not in known:
            raise ValueError(f"{source}: graph output {name!r} is produced by no node, initializer or input")
    return [nodes[k] for k in order]

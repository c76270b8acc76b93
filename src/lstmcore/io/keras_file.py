"""Keras 3's ``.keras`` file, written: ``model.save("m.keras")`` gives a file that
``keras.saving.load_model`` reads with the same predictions.

The file is a zip of three members:

    metadata.json       {"keras_version": ..., "date_saved": ...}
    config.json         the model as Keras serializes it: {"module", "class_name", "config",
                        "registered_name", "build_config", "compile_config"}; a Sequential's
                        config lists its layers, a functional model's also each layer's
                        "inbound_nodes" (the tensors it was called on, as [layer name, node
                        index, tensor index]) and its input and output layers
    model.weights.h5    HDF5: each layer's weights under layers/<key>/vars/<i>, in Keras's order;
                        <key> is the snake-case class name with a counter for repeats (dense,
                        dense_1, ...) in the order of the model's layers, not the layer's name;
                        a recurrent layer's weights are its cell's (layers/<key>/cell/vars/<i>),
                        an RNN's of StackedRNNCells under cell/cells/<cell key>/ (keyed as the
                        layers are, among the cells), Bidirectional's under forward_layer/ and
                        backward_layer/, TimeDistributed's under layer/

The layers' configs are lstmcore's, which use Keras's argument names; lstmcore-only entries are
left out, and a model with something Keras has not raises ValueError that suggests lstmcore's own
format (``.lstmcore``). HDF5 is written with h5py, an optional dependency (``pip install h5py``).
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile

import numpy as np

from ..functional import flat_outputs
from ..layers import (
    RNN,
    AddOp,
    Bidirectional,
    GetItem,
    Input,
    MultiHeadAttention,
    MultiplyOp,
    Recurrent,
    StackedRNNCells,
    SubtractOp,
    TimeDistributed,
)
from ..layers.base import keras_snake
from ..layers.cells import _Cell
from ..layers.merging import _Op
from ..layers.operations import OPERATIONS, _Operation
from . import modelfile

KERAS_VERSION = "3.15.1"  # the Keras the files were checked against (tests/io/test_keras_file.py)

# lstmcore config keys that Keras's layers do not take
_DROP = {"input_shape"}


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "writing a .keras file needs h5py (Keras's weights are HDF5): pip install h5py; or save "
            "in lstmcore's own format, model.save('m.lstmcore')"
        ) from None
    return h5py


def _keras_class(layer) -> str:
    """The class name Keras writes for a layer (an Input's InputLayer, an AddOp's Add)."""
    if isinstance(layer, Input):
        return "InputLayer"
    if isinstance(layer, _Operation):
        return layer.keras_class()
    name = type(layer).__name__
    return name.removesuffix("Op") if isinstance(layer, _Op) else name


def _serialized(layer, dtype) -> dict:
    """A layer as Keras serializes it (without inbound nodes)."""
    if isinstance(layer, Input):
        return {
            "module": "keras.layers",
            "class_name": _keras_class(layer),
            "config": {
                "batch_shape": [layer.batch_size, *layer.input_shape],
                "dtype": dtype,
                "sparse": False,
                "name": layer.name,
            },
            "registered_name": None,
        }
    if isinstance(layer, (_Op, GetItem, _Operation)):  # a + b, x[...], ops.sum(x): Keras's operations
        return {
            "module": layer.keras_module,
            "class_name": _keras_class(layer),
            "config": layer.op_config() if isinstance(layer, _Operation) else {"name": layer.name},
            "registered_name": None,
        }
    config = {k: v for k, v in layer.get_config().items() if k not in _DROP}
    config["dtype"] = dtype
    if isinstance(layer, Bidirectional):
        config["layer"] = _serialized(layer.forward_layer, dtype)
        config["backward_layer"] = _serialized(layer.backward_layer, dtype)
    elif isinstance(layer, TimeDistributed):
        config["layer"] = _serialized(layer.layer, dtype)
    elif isinstance(layer, RNN):
        cells = [_serialized(c, dtype) for c in layer._cells]
        if isinstance(layer.cell, StackedRNNCells):
            stacked = {**layer.cell.get_config(), "dtype": dtype, "cells": cells}
            config["cell"] = {"module": "keras.layers", "class_name": "StackedRNNCells", "config": stacked}
            config["cell"]["registered_name"] = None
        else:
            config["cell"] = cells[0]
    out = {
        "module": "keras.layers",
        "class_name": _keras_class(layer),
        "config": config,
        "registered_name": None,
    }
    if isinstance(layer, _Cell) and layer.build_shape is not None:  # a cell's is one step's
        out["build_config"] = {"input_shape": [None, layer.build_shape[-1]]}
    elif layer.build_shape is not None and not isinstance(layer.build_shape, list):
        out["build_config"] = {"input_shape": [None, *layer.build_shape]}
    return out


def _weight_groups(layer) -> list[tuple[str, list[np.ndarray]]]:
    """(path under the layer's key, weights) for each variable holder of a layer, Keras's layout."""
    if isinstance(layer, Recurrent):
        return [("cell", layer.weights)]
    if isinstance(layer, Bidirectional):
        return [
            (f"{side}/{p}", w)
            for side, inner in (
                ("forward_layer", layer.forward_layer),
                ("backward_layer", layer.backward_layer),
            )
            for p, w in _weight_groups(inner)
        ]
    if isinstance(layer, RNN):
        if not isinstance(layer.cell, StackedRNNCells):
            return [("cell", layer._cells[0].weights)]
        keys = _keys(type(c).__name__ for c in layer._cells)
        return [(f"cell/cells/{key}", c.weights) for key, c in zip(keys, layer._cells, strict=True)]
    if isinstance(layer, MultiHeadAttention):  # its projections are EinsumDense sublayers
        return [
            (
                f"{key}_dense",
                [
                    layer.params[n]
                    for n, _, _ in layer.weight_specs(layer.build_shape)
                    if n.startswith(f"{p}/")
                ],
            )
            for key, p in (
                ("query", "query"),
                ("key", "key"),
                ("value", "value"),
                ("output", "attention_output"),
            )
        ]
    if isinstance(layer, TimeDistributed):
        inner = _weight_groups(layer.layer)
        return [(f"layer/{p}" if p else "layer", w) for p, w in inner]
    return [("", layer.weights)]


def _keys(class_names) -> list[str]:
    """Keras's keys of objects in its weights file, in order: the snake-case class name, with a
    counter from the second of a name on (dense, dense_1, ...)."""
    used: dict[str, int] = {}
    keys = []
    for name in class_names:
        key = keras_snake(name)
        used[key] = used.get(key, -1) + 1
        keys.append(f"{key}_{used[key]}" if used[key] else key)
    return keys


def _check_exportable(model) -> None:
    from ..layers import get_layer_class

    for layer in model.layers:
        try:
            get_layer_class(type(layer).__name__)
        except ValueError:
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}) is not one of Keras's layers: a .keras "
                "file cannot hold it; save in lstmcore's own format, model.save('m.lstmcore')"
            ) from None


def _compile_config(model) -> dict | None:
    if not model.compiled:
        return None
    opt = model.optimizer.get_config()
    cls = opt.pop("class_name")
    losses = getattr(model, "_losses", [model.loss])

    def loss_entry(loss):
        cfg = loss.get_config()
        name = cfg.pop("class_name")
        return {"module": "keras.losses", "class_name": name, "config": cfg, "registered_name": None}

    loss = [loss_entry(v) for v in losses] if len(losses) > 1 else loss_entry(losses[0])
    return {
        "optimizer": {
            "module": "keras.optimizers",
            "class_name": cls,
            "config": opt,
            "registered_name": None,
        },
        "loss": loss,
        "loss_weights": getattr(model, "_loss_weights", None),
        "metrics": [m.name for m in model.metrics] or None,
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


def _write_optimizer(model, h5) -> None:
    """The optimizer's state as Keras 3 stores it (optimizer/vars/<i>: iteration, learning_rate,
    then the slots of each trainable weight in Keras's order), for the optimizers whose slots are
    Keras's one for one: SGD, Adam, AdamW (not amsgrad) and RMSprop (without momentum or
    centering). For the others, and for functional models (whose variable order Keras may not
    share), nothing is written: Keras then starts the optimizer afresh, with a warning."""
    from ..functional import Model

    opt = model.optimizer if model.compiled else None
    name = type(opt).__name__
    if (
        opt is None
        or isinstance(model, Model)
        or name not in ("SGD", "Adam", "AdamW", "RMSprop")
        or getattr(opt, "amsgrad", False)
        or (name == "RMSprop" and (opt.momentum or opt.centered))
        or (name != "SGD" and not opt._slots)
    ):
        return
    holder = h5.create_group("optimizer").create_group("vars")
    holder.attrs["name"] = name.lower()
    values = [np.array(opt.iterations, dtype=np.int64), np.array(opt.learning_rate, dtype=np.float32)]
    buffer = model.buffer
    trainable = {id(w) for w in model.trainable_weights}
    for w, sl in zip(buffer.param_views.values(), buffer.slices, strict=True):
        if id(w) in trainable:
            values += [opt._slots[slot][sl].reshape(w.shape) for slot in opt._slot_names()]
    for i, v in enumerate(values):
        holder.create_dataset(str(i), data=v)


def _functional_config(model, dtype) -> dict:
    calls: dict[int, int] = {}
    history: dict[int, list] = {}
    for t in model.inputs:
        history[id(t)] = [t.name, 0, 0]
    node_index = {}
    for node in model.nodes:
        k = calls.get(id(node.layer), 0)
        calls[id(node.layer)] = k + 1
        node_index[id(node)] = k
        for t in node.outputs:
            history[id(t)] = [node.layer.name, k, t.index]

    def tensor(t) -> dict:
        return {
            "class_name": "__keras_tensor__",
            "config": {"shape": list(t.shape), "dtype": dtype, "keras_history": history[id(t)]},
        }

    layers = []
    for layer in model.layers:
        entry = _serialized(layer, dtype)
        entry["name"] = layer.name
        nodes = []
        for node in model.nodes:
            if node.layer is layer:
                args = [[tensor(t) for t in node.inputs]] if node.many else [tensor(node.inputs[0])]
                own = dict(node.kwargs)  # the layer's own call arguments
                if isinstance(layer, MultiHeadAttention):  # Keras's call: (query, value, key=...)
                    args = [tensor(t) for t in node.inputs[:2]]
                elif isinstance(layer, _Op):  # an operation's: (a, b)
                    args = [tensor(t) for t in node.inputs]
                elif isinstance(layer, GetItem):  # Keras's: (x, key)
                    args = [tensor(node.inputs[0]), own.pop("key")]
                kwargs = {"initial_state": [tensor(t) for t in node.states]} if node.states else {}
                if node.states and isinstance(layer, RNN) and isinstance(layer.cell, StackedRNNCells):
                    flat = kwargs["initial_state"]  # Keras's stacked cells take theirs nested
                    kwargs["initial_state"] = [list(p) for p in layer._split(flat, "initial_state")]
                kwargs.update(own)
                if isinstance(layer, MultiHeadAttention) and len(node.inputs) == 3:
                    kwargs["key"] = tensor(node.inputs[2])
                nodes.append({"args": args, "kwargs": kwargs})
        entry["inbound_nodes"] = nodes
        layers.append(entry)

    def refs(tensors, single):
        out = [history[id(t)] for t in tensors]
        return out[0] if single else out

    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": model.name,
            "trainable": True,
            "layers": layers,
            "input_layers": refs(model.inputs, model._single_input),
            "output_layers": refs(model.outputs, model._single_output),
        },
        "registered_name": "Functional",
    }


def save(model, filepath) -> None:
    """Write ``model`` (Sequential or functional, built) as a Keras 3 ``.keras`` file, atomically."""
    from ..functional import Model

    if not model.built:
        raise ValueError("the model has no weights yet: build it (or fit it) before saving")
    h5py = _h5py()
    _check_exportable(model)
    dtype = model.dtype.name
    layers = _saved_layers(model)
    if isinstance(model, Model):
        config = _functional_config(model, dtype)
    else:
        first = {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "config": {
                "batch_shape": [None, *model.input_shape],
                "dtype": dtype,
                "sparse": False,
                "name": "input_layer",
            },
            "registered_name": None,
        }
        config = {
            "module": "keras",
            "class_name": "Sequential",
            "config": {
                "name": model.name,
                "trainable": True,
                "layers": [first, *(_serialized(layer, dtype) for layer in layers)],
                "build_input_shape": [None, *model.input_shape],
            },
            "registered_name": None,
            "build_config": {"input_shape": [None, *model.input_shape]},
        }
    compile_config = _compile_config(model)
    if compile_config is not None:
        config["compile_config"] = compile_config
    weights = io.BytesIO()
    _write_weights(model, h5py, weights)
    metadata = {
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    }

    def fill(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr("metadata.json", json.dumps(metadata))
            z.writestr("config.json", json.dumps(config))
            z.writestr("model.weights.h5", weights.getvalue())

    modelfile.write_atomic(filepath, fill)


def _saved_layers(model) -> list:
    """The layers Keras keys in its weights file: a Sequential's without its Input, a functional
    model's all of them (its InputLayers hold no weights but take their keys)."""
    from ..functional import Model

    return [layer for layer in model.layers if not isinstance(layer, Input) or isinstance(model, Model)]


def _write_weights(model, h5py, f) -> None:
    """Keras 3's weights file into ``f``: each layer's weights under layers/<key>/vars/<i> (see the
    module docstring), then the optimizer's state where Keras shares its layout."""
    layers = _saved_layers(model)
    with h5py.File(f, "w") as h5:
        h5.create_group("vars")
        top = h5.create_group("layers")
        for layer, key in zip(layers, _keys(map(_keras_class, layers)), strict=True):
            group = top.create_group(key)
            group.create_group("vars").attrs["name"] = layer.name
            for path, arrays in _weight_groups(layer):
                sub = group.require_group(path) if path else group
                holder = sub.require_group("vars")
                for i, w in enumerate(arrays):
                    holder.create_dataset(str(i), data=np.asarray(w))
        _write_optimizer(model, h5)


def save_weights(model, filepath) -> None:
    """Write ``model``'s weights (and optimizer state, as :func:`save`) as Keras 3's
    ``.weights.h5`` file, atomically: ``keras_model.load_weights`` reads it into the same model
    built in Keras."""
    if not model.built:
        raise ValueError("the model has no weights yet: build it (or fit it) before saving its weights")
    h5py = _h5py()
    _check_exportable(model)
    data = io.BytesIO()
    _write_weights(model, h5py, data)
    modelfile.write_atomic(filepath, lambda f: f.write(data.getvalue()))


def load_weights(model, path: str) -> None:
    """Set ``model``'s weights from Keras 3's ``.weights.h5`` file (``keras_model.save_weights``
    of the same model, or :func:`save_weights`); the optimizer's state where it fits. ValueError
    for a file whose layers or shapes do not fit the model."""
    h5py = _h5py()
    with open(path, "rb") as f:
        data = f.read()
    layers = _saved_layers(model)
    _read_weights(model, [(_keras_class(layer), layer) for layer in layers], data, h5py, path)
    if model.compiled:
        _read_optimizer(model, data, h5py)


# Reading ------------------------------------------------------------------------------------------

MAX_CONFIG_BYTES = 64 << 20  # a config.json larger than this is not a model's
_MEMBERS = {"metadata.json", "config.json", "model.weights.h5"}
# Keras operations a functional model records to make masks (Embedding's mask_zero): lstmcore
# makes its masks itself, so their nodes and the ``mask=`` arguments that read them are skipped.
_MASK_OPS = {"NotEqual", "Equal", "Any", "Cast", "ConvertToTensor"}  # the last: Attention's


def is_keras_file(path: str) -> bool:
    """Whether ``path`` is a zip holding Keras 3's members."""
    try:
        with zipfile.ZipFile(path) as z:
            return {"config.json", "model.weights.h5"} <= set(z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _layer_class(class_name: str):
    from ..layers import get_layer_class

    if class_name == "InputLayer":
        return Input
    try:
        return get_layer_class(class_name)
    except ValueError:
        raise ValueError(f"Keras layer {class_name!r} has no lstmcore equivalent") from None


# Keras's operations on tensors by the class names Keras writes: a + b (the merges without the
# masks), x[...], and lstmcore.ops's
_KERAS_OPERATIONS = {"Add": AddOp, "Subtract": SubtractOp, "Multiply": MultiplyOp, "GetItem": GetItem}
_KERAS_OPERATIONS.update({cls.keras_class(): cls for cls in OPERATIONS})


def _layer(entry: dict):
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ValueError(f"a layer entry must have a config object, got {entry!r:.100}")
    name = entry.get("class_name")
    if str(entry.get("module")).startswith("keras.src.ops."):  # an operation, not a layer of the name
        cls = _KERAS_OPERATIONS.get(name)
        if cls is None:
            raise ValueError(f"Keras operation {name!r} has no lstmcore equivalent")
    else:
        cls = _layer_class(name)
    layer = cls.from_config(entry["config"])
    build = entry.get("build_config")
    return layer, (build or {}).get("input_shape")


def _is_tensor(value) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _history_key(ref) -> tuple:
    if not isinstance(ref, list) or len(ref) != 3:
        raise ValueError(f"a tensor's keras_history must be [layer, node, tensor], got {ref!r:.80}")
    return ref[0], ref[1], ref[2]


def _functional(config: dict, dtype):
    from ..functional import Model

    entries = config.get("layers")
    if not isinstance(entries, list):
        raise ValueError("a functional config needs a list of layers")
    layers, pending = {}, []
    for entry in entries:
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        if entry.get("class_name") in _MASK_OPS:
            continue
        layer, _ = _layer(entry)
        layer.name = name
        layers[name] = layer
        pending += [(name, k, node) for k, node in enumerate(entry.get("inbound_nodes") or [])]
    made: dict[tuple, object] = {}
    for name, layer in layers.items():
        if isinstance(layer, Input):
            made[(name, 0, 0)] = layer
    calls: dict[str, int] = {}

    def tensor(t):
        if isinstance(t, list):
            return [tensor(u) for u in t]
        if not isinstance(t, dict) or t.get("class_name") != "__keras_tensor__":
            raise ValueError(f"a node argument must be a Keras tensor, got {t!r:.80}")
        key = _history_key(t["config"]["keras_history"])
        if key not in made:
            raise KeyError(key)
        return made[key]

    while pending:  # a node waits for its inputs; a layer's nodes run in their order
        progressed, waiting = False, []
        for name, k, node in pending:
            if calls.get(name, 0) != k:
                waiting.append((name, k, node))
                continue
            args, kwargs = node.get("args") or [], dict(node.get("kwargs") or {})
            try:
                if len(args) > 1 and all(_is_tensor(a) for a in args):
                    # tensors given one by one: MultiHeadAttention's (query, value, key=...), or
                    # an operation of Keras's (a + b: keras.src.ops.numpy's Add) on two
                    x = [tensor(a) for a in args] + ([tensor(kwargs.pop("key"))] if "key" in kwargs else [])
                else:
                    x = tensor(args[0])
                    if len(args) > 1:  # GetItem's key: Keras's (x, key); no other layer takes more
                        if not isinstance(layers[name], GetItem) or len(args) != 2:
                            raise ValueError(
                                f"layer {name!r} is called with {len(args)} arguments; lstmcore's "
                                f"{type(layers[name]).__name__} takes its input alone"
                            )
                        kwargs["key"] = args[1]
                state = kwargs.get("initial_state")
                state = tensor(state) if state is not None else None
            except KeyError:
                waiting.append((name, k, node))
                continue
            own = {k: v for k, v in kwargs.items() if k in layers[name].call_arguments}
            extra = set(kwargs) - {"mask", "training", "initial_state", *own}
            if extra:
                raise ValueError(
                    f"layer {name!r} is called with {sorted(extra)}, which lstmcore does not take"
                )
            call = dict(own, initial_state=state) if state is not None else own
            out = layers[name](x, **call)
            for i, t in enumerate(flat_outputs(out)):
                made[(name, k, i)] = t
            calls[name] = k + 1
            progressed = True
        if not progressed:
            raise ValueError(
                f"the graph cannot be built: nodes of {sorted({p[0] for p in waiting})} wait on "
                "tensors never made"
            )
        pending = waiting

    def refs(value):
        if isinstance(value, list) and value and isinstance(value[0], list):
            return [made[_history_key(v)] for v in value]
        return made[_history_key(value)]

    return Model(
        refs(config.get("input_layers")),
        refs(config.get("output_layers")),
        name=config.get("name"),
        dtype=dtype,
    )


def _sequential(config: dict, top: dict, dtype):
    from ..model import Sequential

    entries = config.get("layers")
    if not isinstance(entries, list) or not entries:
        raise ValueError("a Sequential config needs a non-empty list of layers")
    model = Sequential(name=config.get("name"), dtype=dtype)
    shape = None
    for entry in entries:
        layer, built = _layer(entry)
        if isinstance(layer, Input):
            shape = layer.input_shape
            continue
        if shape is None and built is not None:
            shape = tuple(built[1:])
        model._append(layer)
    shape = (
        shape
        or tuple(
            (config.get("build_input_shape") or (top.get("build_config") or {}).get("input_shape") or [None])[
                1:
            ]
        )
        or None
    )
    if not shape:
        raise ValueError("the config does not say the model's input shape")
    model.build((None, *shape), initialize=False)
    return model


def _dtype_of(config: dict):
    found = set()

    def walk(v):
        if isinstance(v, dict):
            d = v.get("dtype")
            if isinstance(d, dict):
                d = (d.get("config") or {}).get("name")
            if d in ("float32", "float64"):
                found.add(d)
            elif isinstance(d, str) and d not in ("bool", "int32", "int64"):
                raise ValueError(f"dtype {d!r}: lstmcore computes in float32 or float64 only")
            for w in v.values():
                walk(w)
        elif isinstance(v, list):
            for w in v:
                walk(w)

    walk(config)
    return "float64" if found == {"float64"} else "float32"


def load(path: str, compile=True):
    """The model of a Keras 3 ``.keras`` file: its layers from config.json (Sequential or
    functional), its weights from model.weights.h5, compiled from its compile config where
    lstmcore has the optimizer, loss and metrics. ValueError for a layer or argument lstmcore
    lacks (by name); no code in the file is run (Lambda layers are refused)."""
    h5py = _h5py()
    with zipfile.ZipFile(path) as z:
        infos = {i.filename: i for i in z.infolist()}
        if not {"config.json", "model.weights.h5"} <= set(infos):
            raise ValueError(f"{path}: not a Keras 3 file (it has no config.json and model.weights.h5)")
        if infos["config.json"].file_size > MAX_CONFIG_BYTES:
            raise ValueError(f"{path}: its config.json declares {infos['config.json'].file_size} bytes")
        weights_info = infos["model.weights.h5"]
        if weights_info.file_size > 64 * max(weights_info.compress_size, 1) + (64 << 20):
            raise ValueError(
                f"{path}: model.weights.h5 declares {weights_info.file_size} bytes, too many for its size"
            )
        top = json.loads(z.read("config.json"))
        weights_bytes = z.read("model.weights.h5")
    if not isinstance(top, dict) or top.get("class_name") not in ("Sequential", "Functional", "Model"):
        raise ValueError(
            f"{path}: lstmcore reads Sequential and functional models, got {top.get('class_name')!r:.60}"
        )
    config = top.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"{path}: the model config is not an object")
    dtype = _dtype_of(config)
    model = (
        _sequential(config, top, dtype) if top["class_name"] == "Sequential" else _functional(config, dtype)
    )
    _read_weights(model, _config_order(model, config), weights_bytes, h5py, path)
    if compile and isinstance(top.get("compile_config"), dict):
        _compile(model, top["compile_config"], path)
        if model.compiled:
            _read_optimizer(model, weights_bytes, h5py)
    return model


def _read_optimizer(model, data: bytes, h5py) -> None:
    """The optimizer's state from optimizer/vars, where it is laid out as ``_write_optimizer``
    writes it (Keras's layout for SGD, Adam, AdamW, RMSprop); otherwise the optimizer starts
    afresh, as Keras's does when its variables do not match."""
    from ..functional import Model

    opt = model.optimizer
    name = type(opt).__name__
    if (
        isinstance(model, Model)
        or name not in ("SGD", "Adam", "AdamW", "RMSprop")
        or getattr(opt, "amsgrad", False)
    ):
        return
    if name == "RMSprop" and (opt.momentum or opt.centered):
        return
    try:
        _read_slots(model, opt, data, h5py)
    except (OSError, KeyError, TypeError, ValueError, RuntimeError):  # damaged: the optimizer starts afresh
        return


def _read_slots(model, opt, data: bytes, h5py) -> None:
    """The optimizer's iteration and slots, where optimizer/vars has them in Keras's layout."""
    with h5py.File(io.BytesIO(data), "r") as h5:
        if "optimizer/vars" not in h5:
            return
        holder = h5["optimizer/vars"]
        buffer = model.buffer
        trainable = {id(w) for w in model.trainable_weights}
        slots = opt._slot_names()
        places = [
            (slot, sl, w.shape)
            for w, sl in zip(buffer.param_views.values(), buffer.slices, strict=True)
            if id(w) in trainable
            for slot in slots
        ]
        entries = [holder.get(str(i)) for i in range(2 + len(places))]
        if (
            len(holder) != len(entries)
            or any(not isinstance(e, h5py.Dataset) or e.dtype.kind not in "fiub" for e in entries)
            or entries[0].shape != ()
            or any(tuple(entries[2 + i].shape) != shape for i, (_, _, shape) in enumerate(places))
        ):
            return
        values = [np.asarray(e[()], dtype=buffer.dtype).reshape(-1) for e in entries[2:]]
        for (slot, sl, _), value in zip(places, values, strict=True):
            opt._slots[slot][sl] = value
        opt.iterations = int(entries[0][()])


def _config_order(model, config) -> list:
    """(Keras class name, lstmcore layer or None) for each layer entry of a model's config: the
    order Keras keys the weights in."""
    by_name = {layer.name: layer for layer in model.layers}
    order = []
    for entry in config["layers"]:
        if entry.get("class_name") in _MASK_OPS:
            key_class = entry["class_name"]
            order.append((key_class, None))
            continue
        name = entry.get("name") or entry["config"].get("name")
        order.append((entry["class_name"], by_name.get(name)))
    return order


def _read_weights(model, order, data: bytes, h5py, path) -> None:
    """Each layer's weights from a Keras weights file (``data``), its keys from ``order``: (Keras
    class name, layer or None) in Keras's order. Everything is read and checked before the model
    changes; a file HDF5 cannot read, or an entry that is not an array of numbers of the weight's
    shape, raises ValueError."""
    order = [(c, layer) for c, layer in order if c != "InputLayer"]  # no weights; a key of its own
    values = []
    try:
        with h5py.File(io.BytesIO(data), "r") as h5:
            for (_, layer), key in zip(order, _keys(c for c, _ in order), strict=True):
                if layer is None:
                    continue
                for sub, arrays in _weight_groups(layer):
                    group = f"layers/{key}/{sub}/vars" if sub else f"layers/{key}/vars"
                    for i, w in enumerate(arrays):
                        name = f"{group}/{i}"
                        src = h5.get(name)
                        if src is None:
                            raise ValueError(
                                f"{path}: the weights file has no {name} for layer {layer.name!r}"
                            )
                        if not isinstance(src, h5py.Dataset) or src.dtype.kind not in "fiub":
                            raise ValueError(f"{path}: {name} is not an array of numbers")
                        if tuple(src.shape) != w.shape:
                            raise ValueError(
                                f"{path}: {name} has shape {tuple(src.shape)}, layer {layer.name!r} "
                                f"expects {w.shape}"
                            )
                        values.append((w, np.asarray(src[()], dtype=w.dtype)))
    except (OSError, KeyError, TypeError, RuntimeError) as exc:  # h5py's errors on a damaged file
        raise ValueError(f"{path}: the weights file cannot be read ({type(exc).__name__}: {exc})") from None
    for w, value in values:
        w[...] = value
    model._weights_changed()


def _compile(model, cc: dict, path) -> None:
    import warnings

    from .. import losses

    try:
        loss = cc.get("loss")
        if isinstance(loss, list):
            loss = [losses.get(v) for v in loss]
        elif isinstance(loss, dict) and "class_name" not in loss:  # by output name
            loss = {k: losses.get(v) for k, v in loss.items()}
        else:
            loss = losses.get(loss)
        metrics = cc.get("metrics") or None
        kwargs = {}
        if cc.get("loss_weights") is not None and hasattr(model, "_per_output"):
            kwargs["loss_weights"] = cc["loss_weights"]
        model.compile(optimizer=cc.get("optimizer") or "rmsprop", loss=loss, metrics=metrics, **kwargs)
    except (TypeError, ValueError, KeyError) as exc:
        warnings.warn(f"{path}: the model is not compiled: its compile config has {exc}", stacklevel=3)

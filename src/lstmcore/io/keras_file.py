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
                        Bidirectional's under forward_layer/ and backward_layer/, TimeDistributed's
                        under layer/

The layers' configs are lstmcore's, which use Keras's argument names; lstmcore-only entries are
left out, and a model with something Keras has not raises ValueError that suggests lstmcore's own
format (``.lstmcore``). HDF5 is written with h5py, an optional dependency (``pip install h5py``).
"""

from __future__ import annotations

import datetime
import io
import json
import re
import zipfile

import numpy as np

from ..layers import Bidirectional, Input, Recurrent, TimeDistributed
from . import modelfile

KERAS_VERSION = "3.15.1"  # the Keras the files were checked against (tests/io/test_keras_file.py)

# lstmcore config keys that Keras's layers do not take
_DROP = {"input_shape"}


def _snake(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "writing a .keras file needs h5py (Keras's weights are HDF5): pip install h5py; or save "
            "in lstmcore's own format, model.save('m.lstmcore')"
        ) from None
    return h5py


def _serialized(layer, dtype) -> dict:
    """A layer as Keras serializes it (without inbound nodes)."""
    if isinstance(layer, Input):
        return {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "config": {
                "batch_shape": [layer.batch_size, *layer.input_shape],
                "dtype": dtype,
                "sparse": False,
                "name": layer.name,
            },
            "registered_name": None,
        }
    config = {k: v for k, v in layer.get_config().items() if k not in _DROP}
    config["dtype"] = dtype
    if isinstance(layer, Bidirectional):
        config["layer"] = _serialized(layer.forward_layer, dtype)
        config["backward_layer"] = _serialized(layer.backward_layer, dtype)
    elif isinstance(layer, TimeDistributed):
        config["layer"] = _serialized(layer.layer, dtype)
    out = {
        "module": "keras.layers",
        "class_name": type(layer).__name__,
        "config": config,
        "registered_name": None,
    }
    if layer.build_shape is not None and not isinstance(layer.build_shape, list):
        out["build_config"] = {"input_shape": [None, *layer.build_shape]}
    return out


def _weight_groups(layer) -> list[tuple[str, list[np.ndarray]]]:
    """(path under the layer's key, weights) for each variable holder of a layer, Keras's layout."""
    if isinstance(layer, Recurrent):
        return [("cell", layer.weights)]
    if isinstance(layer, Bidirectional):
        return [
            ("forward_layer/cell", layer.forward_layer.weights),
            ("backward_layer/cell", layer.backward_layer.weights),
        ]
    if isinstance(layer, TimeDistributed):
        inner = _weight_groups(layer.layer)
        return [(f"layer/{p}" if p else "layer", w) for p, w in inner]
    return [("", layer.weights)]


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
                kwargs = {"initial_state": [tensor(t) for t in node.states]} if node.states else {}
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
    layers = [layer for layer in model.layers if not isinstance(layer, Input) or isinstance(model, Model)]
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
    with h5py.File(weights, "w") as h5:
        h5.create_group("vars")
        top = h5.create_group("layers")
        used: dict[str, int] = {}
        for layer in layers:
            key = _snake(type(layer).__name__)
            if key in used:
                used[key] += 1
                key = f"{key}_{used[key]}"
            else:
                used[key] = 0
            group = top.create_group(key)
            group.create_group("vars").attrs["name"] = layer.name
            for path, arrays in _weight_groups(layer):
                sub = group.require_group(path) if path else group
                holder = sub.require_group("vars")
                for i, w in enumerate(arrays):
                    holder.create_dataset(str(i), data=np.asarray(w))
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

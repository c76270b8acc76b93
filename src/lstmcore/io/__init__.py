"""Files and formats: the lstmcore model file (``modelfile``), the weight layouts of every cell in
PyTorch, Keras and ONNX (``layout``, public as ``lstmcore.layout``), Keras 3's ``.keras`` files
(``keras_file``), ONNX (``onnx_export``, ``onnx_import``) and PyTorch modules (``torch_io``:
``from_torch``, ``to_torch``, loaded on first use so that torch is imported only then)."""

from . import layout, modelfile
from .modelfile import FORMAT_VERSION

__all__ = ["FORMAT_VERSION", "layout", "modelfile"]


def __getattr__(name):  # lstmcore.io.from_torch / to_torch without importing torch_io eagerly
    if name in ("from_torch", "to_torch", "from_torch_stack"):
        from . import torch_io

        return getattr(torch_io, name)
    raise AttributeError(f"module 'lstmcore.io' has no attribute {name!r}")

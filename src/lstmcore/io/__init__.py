"""Files and formats: the lstmcore model file (``modelfile``) and the weight layouts of every cell
in PyTorch, Keras and ONNX (``layout``, public as ``lstmcore.layout``); the exchange formats will
join them here."""

from . import layout, modelfile
from .modelfile import FORMAT_VERSION

__all__ = ["FORMAT_VERSION", "layout", "modelfile"]

"""``lstmcore.layout``, the public name of :mod:`lstmcore.io.layout`: the weight layouts (gate orders
and shapes) of every cell in lstmcore, PyTorch, Keras and ONNX, and their converters. The code lives
in the io tier; importing this name gives that very module (``lstmcore.layout is
lstmcore.io.layout``), so its every name, private ones included, is the same object."""

import sys

from .io import layout as _layout

sys.modules[__name__] = _layout

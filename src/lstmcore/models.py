"""``keras.models``'s names: ``from keras.models import Model, Sequential, load_model`` becomes
``from lstmcore.models import Model, Sequential, load_model``."""

from __future__ import annotations

from .functional import Model
from .model import Sequential, load_model

__all__ = ["Model", "Sequential", "load_model"]

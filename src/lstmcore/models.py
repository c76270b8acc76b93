"""``keras.models``'s names: ``from keras.models import Model, Sequential, load_model`` becomes
``from lstmcore.models import Model, Sequential, load_model``."""

from __future__ import annotations

from .functional import Model
from .model import Sequential, load_model, model_from_json

__all__ = ["Model", "Sequential", "load_model", "model_from_json"]

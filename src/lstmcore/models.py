"""``keras.models``'s names: ``from keras.models import Sequential, load_model`` becomes
``from lstmcore.models import Sequential, load_model``."""

from __future__ import annotations

from .model import Sequential, load_model

__all__ = ["Sequential", "load_model"]

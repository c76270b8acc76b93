"""Fixtures of the model tests: ``keras``, Keras 3 on its torch backend where it is installed (the
live comparisons skip without it)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"compared with Keras on its torch backend, got {keras.backend.backend()}")
    return keras

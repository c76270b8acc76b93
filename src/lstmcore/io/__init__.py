"""Files: the lstmcore model file (``modelfile``); the exchange formats will join it here."""

from . import modelfile
from .modelfile import FORMAT_VERSION

__all__ = ["FORMAT_VERSION", "modelfile"]

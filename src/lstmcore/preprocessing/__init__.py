"""Keras's ``keras.preprocessing`` names for sequences and series, so that a program's
``from keras.preprocessing.sequence import pad_sequences`` (Keras 2's and TensorFlow's tutorials)
or ``keras.preprocessing.timeseries_dataset_from_array(...)`` runs with its import changed to
lstmcore's. The functions are :mod:`lstmcore.utils`'s; Keras's image and text helpers have no
counterpart here."""

from ..utils import timeseries_dataset_from_array
from . import sequence

__all__ = ["sequence", "timeseries_dataset_from_array"]

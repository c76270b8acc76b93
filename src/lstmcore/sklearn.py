"""scikit-learn estimators over lstmcore models: ``LSTMRegressor`` and ``LSTMClassifier``.

They work where any scikit-learn estimator does (``Pipeline``, ``clone``, ``GridSearchCV``,
``cross_val_score``, pickle)::

    from lstmcore.sklearn import LSTMRegressor
    from lstmcore.timeseries import MinMaxScaler
    from sklearn.pipeline import make_pipeline
    reg = make_pipeline(MinMaxScaler(), LSTMRegressor(units=32, timesteps=12, epochs=50))
    reg.fit(X, y).predict(X)        # X (n, 12 * F): 12 steps of F features per row

``X`` is 3-D ``(n, T, F)``, or 2-D ``(n, T * F)`` with each row holding its steps one after the
other (``x[t0 features], x[t1 features], ...``): reshaped to ``(n, timesteps, F)``, or to
``(n, T, 1)`` (one feature per step) when ``timesteps`` is None.

The network is ``layers`` recurrent layers (``cell``: 'lstm', 'gru' or 'rnn'; ``units`` each,
``bidirectional``, ``dropout`` after each) and a Dense head: linear with the mean squared error
for regression; one sigmoid unit with binary crossentropy (two classes) or a softmax with sparse
categorical crossentropy (more) for classification. ``model``, a function returning a compiled
lstmcore model, replaces it (see ``LSTMRegressor``).

Needs scikit-learn 1.6 or later (``pip install scikit-learn``); ``import lstmcore`` does not import
this module.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import numbers
import os
import tempfile

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import (
        check_array,
        check_consistent_length,
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "lstmcore.sklearn needs scikit-learn 1.6 or later (validate_data, __sklearn_tags__); "
        f"install it with: pip install 'scikit-learn>=1.6' ({exc})"
    ) from exc

from . import callbacks as callbacks_module
from . import initializers, losses, optimizers
from .layers import GRU, LSTM, Bidirectional, Dense, Dropout, Input, SimpleRNN
from .model import Sequential, load_model

__all__ = ["LSTMClassifier", "LSTMRegressor", "expected_failed_checks"]

_CELLS = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}
_FLOAT = (np.float64, np.float32)

# The checks of sklearn.utils.estimator_checks that cannot pass for a network trained by
# minibatch gradient descent, with the reason: ``expected_failed_checks(estimator)`` gives them to
# check_estimator / parametrize_with_checks (scikit-learn 1.6 dropped the _xfail_checks tag for
# this argument). What a tag can say is said in ``__sklearn_tags__`` instead (poor_score: a tiny
# network trained for a few epochs does not reach the accuracy those checks ask of any estimator).
_EXPECTED_FAILED_CHECKS = {
    # Weight 0 is not the same as leaving a sample out: the sample still takes a place in a
    # shuffled minibatch, which changes the other batches and the loss's divisor (Keras's rule,
    # the loss is the mean over the batch's samples).
    "check_sample_weights_invariance(kind=zeros)": (
        "a sample of weight 0 still takes its place in the shuffled minibatches"
    ),
    # Weight 2 is not the same as a repeated sample, for the same reason: the minibatches differ.
    "check_sample_weight_equivalence_on_dense_data": (
        "a repeated sample changes the minibatches; weight 2 does not"
    ),
}
# In float32, a row's result may differ by about 1 ulp with its place in the batch (BLAS blocks
# the rows of a product, and the last rows of a block take other kernels), and these two checks
# compare with rtol 1e-7, below float32's resolution (1.2e-7); dtype='float64' passes them.
_FLOAT32_REASON = "float32: a row's last bit depends on its place in the batch (BLAS row blocks)"
_FLOAT32_CHECKS = {
    "check_methods_sample_order_invariance": _FLOAT32_REASON,
    "check_methods_subset_invariance": _FLOAT32_REASON,
}


def expected_failed_checks(estimator) -> dict[str, str]:
    """The estimator checks ``estimator`` may fail, with the reasons: pass as
    ``check_estimator(est, expected_failed_checks=expected_failed_checks(est))``."""
    checks = dict(_EXPECTED_FAILED_CHECKS)
    if getattr(estimator, "model", None) is not None or getattr(estimator, "dtype", None) != "float64":
        checks.update(_FLOAT32_CHECKS)  # a model of the user's may be float32
    return checks


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_fraction(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float in [0.0, 1.0), got {value!r} ({type(value).__name__})")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a float in [0.0, 1.0), got {value!r}")
    return float(value)


@contextlib.contextmanager
def _seeded(rng):
    """lstmcore's global generator (weights, dropout, shuffling) seeded from ``rng`` inside the
    block, and put back after it; nothing changes where ``rng`` is None."""
    if rng is None:
        yield
        return
    saved = initializers._global["rng"]
    initializers.set_random_seed(int(rng.randint(np.iinfo(np.int32).max)))
    try:
        yield
    finally:
        initializers._global["rng"] = saved


class _LSTMEstimator(BaseEstimator):
    """What the regressor and the classifier share: parameters, data, the model, pickling."""

    def __init__(
        self,
        units=32,
        cell="lstm",
        layers=1,
        bidirectional=False,
        dropout=0.0,
        timesteps=None,
        optimizer="adam",
        learning_rate=1e-3,
        loss=None,
        epochs=10,
        batch_size=32,
        validation_split=0.0,
        callbacks=None,
        random_state=None,
        verbose=0,
        dtype="float32",
        model=None,
    ):
        self.units = units
        self.cell = cell
        self.layers = layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.timesteps = timesteps
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype
        self.model = model

    # Parameters, checked at fit (scikit-learn's rule: the constructor only stores them) ---------

    def _check_params(self) -> None:
        if self.model is not None:
            if isinstance(self.model, Sequential):
                raise TypeError(
                    "model must be a function returning a compiled lstmcore model (each fit builds "
                    f"a new one), got the model {self.model!r}; pass e.g. model=lambda: make_model()"
                )
            if not callable(self.model):
                raise TypeError(
                    "model must be None or a function returning a compiled lstmcore model, got "
                    f"{self.model!r} ({type(self.model).__name__})"
                )
        _check_int("units", self.units, 1)
        if not isinstance(self.cell, str) or self.cell.lower() not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {self.cell!r}")
        _check_int("layers", self.layers, 1)
        if not isinstance(self.bidirectional, (bool, np.bool_)):
            raise TypeError(f"bidirectional must be a bool, got {self.bidirectional!r}")
        _check_fraction("dropout", self.dropout)
        if self.timesteps is not None:
            _check_int("timesteps", self.timesteps, 1)
        if not isinstance(self.optimizer, (str, optimizers.Optimizer)):
            raise TypeError(
                "optimizer must be a name ('adam', 'sgd', 'rmsprop', ...) or an "
                f"lstmcore.optimizers.Optimizer, got {self.optimizer!r} ({type(self.optimizer).__name__})"
            )
        lr = self.learning_rate
        if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real) or not 0 < lr < np.inf:
            raise ValueError(f"learning_rate must be a float > 0, got {lr!r}")
        if self.loss is not None and not isinstance(self.loss, (str, losses.Loss)):
            raise TypeError(
                "loss must be None, a name ('mse', 'huber', ...) or an lstmcore.losses.Loss, got "
                f"{self.loss!r} ({type(self.loss).__name__})"
            )
        _check_int("epochs", self.epochs, 0)
        _check_int("batch_size", self.batch_size, 1)
        _check_fraction("validation_split", self.validation_split)
        for k, cb in enumerate(self.callbacks or []):
            if not isinstance(cb, callbacks_module.Callback):
                raise TypeError(
                    f"callbacks[{k}] must be an lstmcore.callbacks.Callback, got {cb!r} ({type(cb).__name__})"
                )
        if isinstance(self.verbose, (bool, np.bool_)) or self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {self.verbose!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        check_random_state(self.random_state)

    # Data ----------------------------------------------------------------------------------------

    @staticmethod
    def _is_3d(X) -> bool:
        if getattr(X, "ndim", None) == 3:
            return True
        if isinstance(X, (list, tuple)):
            try:
                return np.ndim(X) == 3
            except ValueError:  # ragged: validate_data says why
                return False
        return False

    def _validate_X(self, X, reset: bool) -> np.ndarray:
        """``X`` checked and shaped (n, T, F); on ``reset``, n_features_in_ and input_shape_ set."""
        if self._is_3d(X):
            X = check_array(X, allow_nd=True, dtype=_FLOAT, input_name="X", estimator=self)
            n, T, F = X.shape
            if reset:
                if self.timesteps is not None and self.timesteps != T:
                    raise ValueError(f"X has {T} time steps (axis 1), but timesteps={self.timesteps}")
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
                self.n_features_in_, self.input_shape_ = T * F, (T, F)
            elif (T, F) != self.input_shape_:
                raise ValueError(
                    f"X has shape {X.shape}, but {type(self).__name__} was fitted on (n, T, F) = "
                    f"(n, {self.input_shape_[0]}, {self.input_shape_[1]})"
                )
            return X
        X = validate_data(self, X, reset=reset, dtype=_FLOAT)
        return self._reshape(X, reset)

    def _reshape(self, X: np.ndarray, reset: bool) -> np.ndarray:
        """2-D X (n, T * F) as (n, T, F)."""
        if reset:
            d = X.shape[1]
            T = d if self.timesteps is None else self.timesteps
            if d % T:
                raise ValueError(
                    f"X has {d} columns, which timesteps={T} does not divide: expected "
                    f"(n, timesteps * features) columns"
                )
            self.input_shape_ = (T, d // T)
        return X.reshape(X.shape[0], *self.input_shape_)

    def _validate_Xy(self, X, y, reset: bool, y_numeric: bool):
        if self._is_3d(X):
            X = self._validate_X(X, reset)
            if y is None:
                validate_data(self, y=y)  # scikit-learn's message for a missing y
            y = check_array(y, ensure_2d=False, dtype=_FLOAT if y_numeric else None, input_name="y")
            check_consistent_length(X, y)
            return X, y
        X, y = validate_data(
            self, X, y, reset=reset, dtype=_FLOAT, multi_output=y_numeric, y_numeric=y_numeric
        )
        return self._reshape(X, reset), y

    @staticmethod
    def _check_sample_weight(sample_weight, n: int):
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight)
        if w.dtype.kind not in "fiub":
            raise TypeError(f"sample_weight must be a numeric array, got dtype {w.dtype}")
        w = w.astype(np.float64)
        if w.ndim == 0:
            w = np.full(n, float(w))
        if w.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},) (one weight per sample), got {w.shape}")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("sample_weight must be finite and >= 0")
        if not w.any():
            raise ValueError("sample_weight must not be all zero (nothing would be learnt)")
        return w

    # The model -----------------------------------------------------------------------------------

    def _make_optimizer(self):
        if isinstance(self.optimizer, str):
            return optimizers.get(
                {"class_name": self.optimizer, "config": {"learning_rate": float(self.learning_rate)}}
            )
        return copy.deepcopy(self.optimizer)  # used as given: its own learning rate

    def _build(self, n_outputs: int, head: str, default_loss: str):
        """A new compiled model for inputs ``input_shape_`` and ``n_outputs`` outputs."""
        if self.model is not None:
            model = self._call_model_fn(n_outputs)
            self._check_model(model)
            return model
        T, F = self.input_shape_
        cell = _CELLS[self.cell.lower()]
        model = Sequential(dtype=self.dtype)
        model.add(Input(shape=(T, F)))
        for k in range(self.layers):
            layer = cell(self.units, return_sequences=k < self.layers - 1)
            model.add(Bidirectional(layer) if self.bidirectional else layer)
            if self.dropout > 0:
                model.add(Dropout(self.dropout))
        model.add(Dense(n_outputs, activation=head))
        loss = default_loss if self.loss is None else copy.deepcopy(self.loss)
        model.compile(optimizer=self._make_optimizer(), loss=loss)
        return model

    def _call_model_fn(self, n_outputs: int):
        """``model(...)`` with the keyword arguments it names (all where it takes ``**kwargs``):
        ``input_shape`` (T, F), ``n_outputs``, ``n_classes`` (classifier) and every estimator
        parameter but ``model``."""
        offered = {
            "input_shape": self.input_shape_,
            "n_outputs": n_outputs,
            **{k: v for k, v in self.get_params(deep=False).items() if k != "model"},
        }
        if hasattr(self, "classes_"):
            offered["n_classes"] = len(self.classes_)
        try:
            params = inspect.signature(self.model).parameters
        except (TypeError, ValueError):  # pragma: no cover - a callable without a signature
            return self.model()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return self.model(**offered)
        return self.model(**{k: v for k, v in offered.items() if k in params})

    @staticmethod
    def _check_model(model) -> None:
        if not isinstance(model, Sequential):
            raise TypeError(
                f"model() must return an lstmcore model (Sequential or Model), got {type(model).__name__}"
            )
        if not model.compiled:
            raise ValueError("model() must return a compiled model: call model.compile(optimizer, loss)")

    def _fit_model(self, X, y, sample_weight, epochs: int):
        kwargs = {}
        if sample_weight is not None:
            if "sample_weight" not in inspect.signature(self.model_.fit).parameters:
                raise TypeError(f"{type(self.model_).__name__}.fit of this lstmcore takes no sample_weight")
            kwargs["sample_weight"] = sample_weight
        history = self.model_.fit(
            X,
            y,
            batch_size=self.batch_size,
            epochs=epochs,
            verbose=self.verbose,
            callbacks=copy.deepcopy(self.callbacks),
            validation_split=self.validation_split,
            **kwargs,
        )
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(float(v) for v in values)

    def _model_input(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self._validate_X(X, reset=False)

    def _outputs(self, X) -> np.ndarray:
        """The model's outputs for ``X``, float64, (n, outputs)."""
        X = self._model_input(X)  # first: NotFittedError before fit
        out = self.model_.predict(X, batch_size=max(self.batch_size, 1024))
        return np.asarray(out, dtype=np.float64).reshape(out.shape[0], -1)

    # Pickling: through the model file (a pickled model loses the tie between its weights and
    # its parameter buffer, so training it further would change nothing) --------------------------

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: Python's own may be the live __dict__
        model = state.pop("model_", None)
        if model is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.lstmcore")
                model.save(path)
                with open(path, "rb") as f:
                    state["_model_file"] = f.read()
        return state

    def __setstate__(self, state):
        data = state.pop("_model_file", None)
        super().__setstate__(state)
        if data is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.lstmcore")
                with open(path, "wb") as f:
                    f.write(data)
                self.model_ = load_model(path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


class LSTMRegressor(RegressorMixin, _LSTMEstimator):
    """A recurrent network regressor with scikit-learn's API (``score`` is R²).

    ``fit`` builds a new model and trains it ``epochs`` epochs; ``partial_fit`` trains the current
    one (built at the first call) one more epoch. The parameters are stored as given and checked
    at ``fit`` (ValueError / TypeError naming the parameter and the value).

    Parameters
    ----------
    units : int, the hidden units of each recurrent layer
    cell : 'lstm', 'gru' or 'rnn' (Keras's SimpleRNN)
    layers : int, recurrent layers stacked (all but the last return sequences)
    bidirectional : bool, each recurrent layer in both directions (outputs joined)
    dropout : float in [0, 1), a Dropout layer after each recurrent layer
    timesteps : int or None, the steps of a 2-D X (n, timesteps * F); None: (n, T) is T steps of
        one feature. A 3-D X (n, T, F) is taken as it is.
    optimizer : a name ('adam', 'sgd', 'rmsprop', ...) built with ``learning_rate``, or an
        ``lstmcore.optimizers.Optimizer`` (a copy is used, with its own learning rate)
    learning_rate : float > 0
    loss : None (mean squared error), a loss name or an ``lstmcore.losses.Loss``
    epochs, batch_size, validation_split, verbose : as ``Sequential.fit``
    callbacks : lstmcore callbacks; each fit uses fresh copies (their records: ``history_``)
    random_state : None, int or RandomState: seeds the weights, dropout and shuffling
    dtype : 'float32' or 'float64', the weights' and the computation's
    model : None, or a function returning a compiled lstmcore model, called at each ``fit``
        with the keyword arguments it names among ``input_shape`` (T, F), ``n_outputs`` and the
        parameters above (so a grid search over ``units`` reaches it). The network parameters
        above are then unused; the training ones still apply.

    Attributes (after ``fit``): ``model_``, ``history_`` (loss per epoch, dict of lists),
    ``n_features_in_`` (columns of X in its 2-D form, T * F), ``input_shape_`` (T, F),
    ``n_outputs_``.
    """

    def _init(self, X, y):
        self._check_params()
        X, y = self._validate_Xy(X, y, reset=True, y_numeric=True)
        self._y_1d_ = y.ndim == 1
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self._rng = None if self.random_state is None else check_random_state(self.random_state)
        self.history_ = {}
        with _seeded(self._rng):
            self.model_ = self._build(self.n_outputs_, "linear", "mse")
        return X, y

    def _targets(self, y) -> np.ndarray:
        y2 = y.reshape(y.shape[0], -1)
        if y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y2.shape[1]} outputs, but the model was built for {self.n_outputs_}")
        return y2

    def fit(self, X, y, sample_weight=None):
        """Build a new model and train it for ``epochs`` epochs. Returns ``self``."""
        X, y = self._init(X, y)
        sample_weight = self._check_sample_weight(sample_weight, X.shape[0])
        with _seeded(self._rng):
            self._fit_model(X, self._targets(y), sample_weight, self.epochs)
        return self

    def partial_fit(self, X, y, sample_weight=None):
        """One more epoch on (X, y); the first call builds the model. Returns ``self``."""
        if not hasattr(self, "model_"):
            X, y = self._init(X, y)
        else:
            X, y = self._validate_Xy(X, y, reset=False, y_numeric=True)
        sample_weight = self._check_sample_weight(sample_weight, X.shape[0])
        with _seeded(self._rng):
            self._fit_model(X, self._targets(y), sample_weight, 1)
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions, float64: (n,) for a 1-D y at fit, else (n, outputs)."""
        out = self._outputs(X)
        return out.ravel() if self._y_1d_ else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True  # a few epochs of a tiny network, on any data
        return tags


class LSTMClassifier(ClassifierMixin, _LSTMEstimator):
    """A recurrent network classifier with scikit-learn's API (``score`` is the accuracy).

    Labels may be of any type (ints, strings, ...): ``classes_`` holds them sorted; two classes
    train one sigmoid unit with binary crossentropy, more a softmax with sparse categorical
    crossentropy. The parameters are ``LSTMRegressor``'s (``model`` is also offered ``n_classes``;
    its outputs must be probabilities: one unit, the probability of ``classes_[1]``, or one per
    class). ``loss='categorical_crossentropy'`` (or another non-sparse loss with one output per
    class) trains on one-hot labels.

    Attributes (after ``fit``): ``classes_``, ``n_classes_``, and ``LSTMRegressor``'s.
    """

    def _encode(self, y) -> np.ndarray:
        """Class indices of ``y`` as the model takes them: (n, 1) for one output, (n,) for a
        sparse loss, else one-hot (n, n_classes)."""
        codes = self._encoder.transform(y)
        width = self.model_.output_shape[-1]
        if width == 1:
            return codes.reshape(-1, 1).astype(np.float64)
        if isinstance(self.model_.loss, losses.SparseCategoricalCrossentropy):
            return codes.astype(np.float64)
        return np.eye(width)[codes]

    def _init(self, X, y, classes=None):
        self._check_params()
        X, y = self._validate_Xy(X, y, reset=True, y_numeric=False)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self._encoder = LabelEncoder().fit(y if classes is None else np.asarray(classes))
        self.classes_ = self._encoder.classes_
        self.n_classes_ = len(self.classes_)
        if self.n_classes_ < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y, got 1 class: {self.classes_[0]!r}"
            )
        self._rng = None if self.random_state is None else check_random_state(self.random_state)
        self.history_ = {}
        binary = self.n_classes_ == 2
        with _seeded(self._rng):
            self.model_ = self._build(
                1 if binary else self.n_classes_,
                "sigmoid" if binary else "softmax",
                "binary_crossentropy" if binary else "sparse_categorical_crossentropy",
            )
        width = self.model_.output_shape[-1]
        if width not in (1, self.n_classes_) or (width == 1 and not binary):
            raise ValueError(
                f"the model has {width} outputs; expected {self.n_classes_} (one per class)"
                + (" or 1 (the probability of classes_[1])" if binary else "")
            )
        return X, y

    def _check_labels(self, y) -> None:
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(f"y has labels not in classes_ {self.classes_.tolist()}: {unseen.tolist()}")

    def fit(self, X, y, sample_weight=None):
        """Build a new model and train it for ``epochs`` epochs. Returns ``self``."""
        X, y = self._init(X, y)
        sample_weight = self._check_sample_weight(sample_weight, X.shape[0])
        with _seeded(self._rng):
            self._fit_model(X, self._encode(y), sample_weight, self.epochs)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One more epoch on (X, y); the first call builds the model, for the labels ``classes``
        (all of them: later batches may lack some) or those of ``y``. Returns ``self``."""
        if not hasattr(self, "model_"):
            X, y = self._init(X, y, classes)
        else:
            X, y = self._validate_Xy(X, y, reset=False, y_numeric=False)
            y = column_or_1d(y, warn=True)
        self._check_labels(y)
        sample_weight = self._check_sample_weight(sample_weight, X.shape[0])
        with _seeded(self._rng):
            self._fit_model(X, self._encode(y), sample_weight, 1)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, n_classes), columns in the order of ``classes_``."""
        out = np.clip(self._outputs(X), 0.0, 1.0)
        if out.shape[1] == 1:
            return np.hstack([1.0 - out, out])
        total = out.sum(axis=1, keepdims=True)
        return out / np.where(total > 0, total, 1.0)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample, as a label of ``classes_``."""
        proba = self.predict_proba(X)  # first: NotFittedError before fit
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True  # a few epochs of a tiny network, on any data
        return tags

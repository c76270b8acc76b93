"""What the reference steppers (``LSTMStepper``, ``GRUStepper``, ``RNNStepper``) share: the lock
that refuses a second thread, the checked step input, the two h buffers that ``step`` alternates
between, ``h``, ``reset`` and ``repr``. Each cell's stepper adds its weights and its step maths.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from ..engine import _validate


class Stepper:
    """Streaming inference with the state carried, the plumbing of every cell.

    A cell's stepper calls, in its ``__init__``, :meth:`_lock` first, then checks its arguments and
    weights, then :meth:`_start`. It writes :meth:`_next_h`, the maths of one step, and
    :meth:`_repr_options`. ``step(x_t)``: x_t (B, I), (B, 1, I) or, for batch_size=1, (I,)
    -> h (B, P) ((P,) for a 1-D x_t), in a buffer the stepper owns and overwrites two steps later.
    """

    def _lock(self):
        """A new lock, held while a step or a reset runs; refused while another thread steps."""
        if getattr(self, "_busy", None) is not None and self._busy.locked():
            raise RuntimeError(
                f"{type(self).__name__}.__init__ called on a stepper that another thread is stepping: "
                "make a new stepper instead"
            )
        self._busy = threading.Lock()

    def _start(self, batch_size, input_size: int, units: int, check_finite, P=None):
        """The sizes, and h (B, P) at zeros: ``units`` is H, P the columns of h (None: H)."""
        self.input_size, self.units = input_size, units
        self.batch_size = _validate.check_stepper(batch_size, input_size, units)
        self.check_finite = bool(check_finite)
        self._hbuf = np.zeros((2, self.batch_size, units if P is None else P), dtype=self.dtype)
        self._cur = 0

    @contextlib.contextmanager
    def _entered(self, what):
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(
                f"{type(self).__name__}.{what} called while another thread is stepping the same "
                "stepper: a stepper carries one state; use one per thread"
            )
        try:
            yield
        finally:
            self._busy.release()

    def step(self, x_t):
        with self._entered("step"):
            B, I = self.batch_size, self.input_size
            a = _validate.as_step_input(x_t, self.dtype, B, I)
            x = a.reshape(B, I)
            if self.check_finite and not np.isfinite(x).all():
                raise ValueError(f"x_t must be finite, got {x[~np.isfinite(x)][0]}")
            h = self._next_h(x, self._hbuf[self._cur])
            nxt = 1 - self._cur
            self._hbuf[nxt] = h
            self._cur = nxt
            return self._hbuf[nxt, 0] if a.ndim == 1 else self._hbuf[nxt]

    def _next_h(self, x, h_prev):
        """x (B, I) | h_prev (B, P) -> h (B, P), the cell's maths of one step."""
        raise NotImplementedError

    @property
    def h(self):
        return self._hbuf[self._cur].copy()

    def _state(self, name, a, columns: int):
        """A state given to ``reset``: (B, columns), zeros when None."""
        return _validate._state(name, a, self.dtype, self.batch_size, columns, self.check_finite)

    def reset(self, h=None):
        with self._entered("reset"):
            self._hbuf[self._cur] = self._state("h", h, self._hbuf.shape[2])

    def _repr_options(self) -> str:
        """What ``repr`` shows after the sizes and the dtype, each as ", name=value"."""
        return ""

    def __repr__(self):
        return (
            f"{type(self).__name__}(batch_size={self.batch_size}, input_size={self.input_size}, "
            f"units={self.units}, dtype={self.dtype.name}{self._repr_options()})"
        )

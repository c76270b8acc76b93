"""Stacks of layers in both directions, over any cell: written once over a backend's functions
(``lstm_forward``/``gru_forward``/``rnn_forward``, their backwards and steppers), so the compiled
engine and the reference share it (``lstmcore.stack_forward``, ``lstmcore.reference.stack_forward``).

    y, h_n, c_n = stack_forward("lstm", x, weights, h0, c0, bidirectional=True)   # LSTM
    y, h_n = stack_forward("gru", x, weights, bidirectional=True, lengths=lengths)  # GRU, RNN
    y, h_n, c_n, cache = stack_forward("lstm", x, weights, return_cache=True, training=True, dropout=0.2)
    grads = stack_backward(dy, cache, dh_n=None, dc_n=None)    # a list of L*D dicts, as weights

Layers and directions follow PyTorch's order: ``weights[l * D + d]`` is layer l, direction d
(0 forward, 1 reverse), and so are the rows of h0, c0, h_n, c_n (L*D, B, .). Each entry is a
tuple (w_x, w_h, b) in Keras's shapes, or a dict with those keys and the per-layer arrays of
the LSTM options (``peepholes``, ``proj``); scalar options (activation, reset_after, clip, ...)
are keywords of the call and apply to every layer. Layer l > 0 reads layer l-1's merged output.

merge_mode (Keras's ``Bidirectional``): how each layer joins its two directions: "concat"
([fwd | bwd] on features, PyTorch's only mode), "sum", "mul", "ave", or None (the last layer's
two outputs returned as a list; a single layer only). lengths / mask / zero_output_for_mask:
as ``lstmcore.engine._sequence``, for every layer; the reverse direction starts at each row's own
last step. dropout: between layers (on the inputs of layers 1..L-1), in training only
(``training=True``), inverted as PyTorch's and Keras's, masks drawn from ``seed``.

With two or more threads (``lstmcore.set_num_threads``) the compiled engine runs a layer's two
directions at once, each on half of the threads (``_threads.run_pair``), where each direction is
large enough (``_pair_min``), else one after the other on all of them.
"""

from __future__ import annotations

import numpy as np

from . import _validate
from ._products import vector_lanes

_CELLS = ("lstm", "gru", "rnn")
_MERGES = ("concat", "sum", "mul", "ave", None)
_LAYER_ARRAYS = ("peepholes", "proj")


class StackCache:
    """What :func:`stack_backward` needs from :func:`stack_forward`: the layer caches in the
    weights' order, the outputs of each direction (for merge_mode "mul"), the dropout masks."""

    __slots__ = ("cell", "L", "D", "merge_mode", "caches", "outputs", "dropout_masks", "together")

    def __init__(self, cell, L, D, merge_mode, caches, outputs, dropout_masks, together):
        self.cell, self.L, self.D, self.merge_mode = cell, L, D, merge_mode
        self.caches, self.outputs, self.dropout_masks = caches, outputs, dropout_masks
        # per layer: whether its two directions ran at once (the backward does as the forward)
        self.together = together

    @property
    def nbytes(self) -> int:
        masks = sum(m.nbytes for m in self.dropout_masks if m is not None)
        return sum(c.nbytes for c in self.caches) + masks

    def __repr__(self):
        return (
            f"StackCache(cell={self.cell!r}, layers={self.L}, directions={self.D}, "
            f"merge_mode={self.merge_mode!r})"
        )


# A bidirectional layer's two directions run at once (each on half of the threads) from
# _pair_min() multiply-adds per direction (B*T*(I + P)*G; a training step's forward and backward
# count three times that), else in turn on all threads: below it the two calls' Python edges take
# turns on the GIL and the hand-over to the second thread costs more than half of the threads saves
# (2-core AMD EPYC, AVX2, 2 threads, S1 (32, 30, 1, 50) inference in turn against at once: LSTM
# 0.84 / 1.00 ms, GRU 1.03 / 1.17, RNN 0.56 / 0.78; training steps at once past it, GRU 3.04 /
# 3.65 ms in turn; S2 at once: inference 1-7% faster, training 5-9%). The edges cost the same time
# on any machine while the kernels' time per multiply-add shrinks with the lanes of their vectors,
# so the threshold is counted per lane: _PAIR_MIN_PER_LANE times the lanes of the kernels' vectors
# in the call's dtype (float32: 8 with AVX2, where it was measured: 2^24; 16 with AVX-512; 4
# with the generic kernels' 16-byte vectors; float64 half of each). _set_pair_min overrides it
# with a fixed count (tests force both orders).
_PAIR_MIN_PER_LANE = 1 << 21
_pair_min_fixed = None  # _set_pair_min's count, or None: the rule above


def _pair_min(dtype) -> int:
    """Multiply-adds per direction from which a bidirectional layer's directions run at once, for a
    call in ``dtype`` on this machine's kernels (the compiled engine's; AVX2's without it)."""
    if _pair_min_fixed is not None:
        return _pair_min_fixed
    return _PAIR_MIN_PER_LANE * vector_lanes(dtype if np.dtype(dtype).kind == "f" else np.float64)


def _set_pair_min(madds) -> int | None:
    """Fix the multiply-adds per direction from which a layer's directions run at once (0 pairs
    every layer, a huge count none; None: the rule of _pair_min again); returns the previous
    fixed count (None where the rule was in force)."""
    global _pair_min_fixed
    previous, _pair_min_fixed = _pair_min_fixed, None if madds is None else int(madds)
    return previous


def direction_madds(B: int, T: int, I: int, P: int, G: int, training: bool) -> int:
    """A direction's multiply-adds as the pair rule counts them: B*T*(I + P)*G, three times that
    for a training step (its forward and backward)."""
    return B * T * (I + P) * G * (3 if training else 1)


def pairs(x, w_h, training: bool) -> bool:
    """Whether a bidirectional layer over x (B, T, I) with a direction's recurrent weights w_h
    (P, G) runs its two directions at once (_pair_min in the call's dtype, x's); True where those
    shapes cannot be read (the forward's own checks report them). The stack's rule and the
    Bidirectional layer's."""
    if np.ndim(x) != 3 or np.ndim(w_h) != 2:
        return True
    B, T, I = np.shape(x)
    P, G = np.shape(w_h)
    return direction_madds(B, T, I, P, G, training) >= _pair_min(getattr(x, "dtype", np.float64))


def _together(inp, weights, layer: int, D: int, cell: str, training: bool) -> bool:
    """Whether a layer of the stack runs its directions at once (:func:`pairs`)."""
    if D != 2:
        return False
    try:
        w_h = _entry(weights[layer * D], layer * D, cell)["w_h"]
    except (ValueError, TypeError, KeyError, IndexError):
        return True
    return pairs(inp, w_h, training)


def _entry(w, k: int, cell: str) -> dict:
    """weights[k] as a dict of w_x, w_h, b and the layer's option arrays."""
    if isinstance(w, dict):
        unknown = set(w) - {"w_x", "w_h", "b", *(_LAYER_ARRAYS if cell == "lstm" else ())}
        if unknown or not {"w_x", "w_h", "b"} <= set(w):
            raise ValueError(
                f"weights[{k}] must have the keys w_x, w_h, b"
                + (" (and optionally peepholes, proj)" if cell == "lstm" else "")
                + f", got {sorted(w)}"
            )
        return dict(w)
    if isinstance(w, (tuple, list)) and len(w) == 3:
        return {"w_x": w[0], "w_h": w[1], "b": w[2]}
    raise TypeError(f"weights[{k}] must be a tuple (w_x, w_h, b) or a dict, got {type(w).__name__}")


def _states(name, a, L, D, k):
    """Layer-direction k's slice of h0 / c0 (L*D, B, .), or None."""
    if a is None:
        return None
    if np.ndim(a) != 3 or np.shape(a)[0] != L * D:
        raise ValueError(
            f"{name} must be ({L * D}, B, units) (layers x directions first), got shape {np.shape(a)}"
        )
    return a[k]


def _merge(mode, y_f, y_b, empty=np.empty):
    if mode == "concat":
        # two strided copies into one new array (empty(shape, dtype)): half the time of
        # np.concatenate on the last axis (S2, (64, 100, 128) twice: 2.0 ms against 4.3 ms on
        # an AMD EPYC)
        P = y_f.shape[-1]
        out = empty((*y_f.shape[:-1], P + y_b.shape[-1]), np.result_type(y_f, y_b))
        out[..., :P] = y_f
        out[..., P:] = y_b
        return out
    if mode == "sum":
        return y_f + y_b
    if mode == "mul":
        return y_f * y_b
    if mode == "ave":
        return (y_f + y_b) / y_f.dtype.type(2)
    return [y_f, y_b]


def _unmerge(mode, dy, ys):
    """The gradients of the two directions' outputs from that of the merged output; ys: the
    two outputs (needed by "mul" only)."""
    if mode is None:
        if not (isinstance(dy, (list, tuple)) and len(dy) == 2):
            raise ValueError("with merge_mode=None, dy must be a list of the two directions' gradients")
        return list(dy)
    dy = np.asarray(dy)
    if mode == "concat":
        P = dy.shape[-1] // 2
        return [dy[..., :P], dy[..., P:]]
    if mode == "sum":
        return [dy, dy]
    if mode == "mul":
        return [dy * ys[1], dy * ys[0]]
    half = dy / dy.dtype.type(2)  # ave
    return [half, half]


def _concat_room(cell, inp, weights, layer, D, merge_mode, forward_into, empty=np.empty):
    """(merged, halves): an empty (B, T, P0 + P1) output for a bidirectional layer whose two
    directions write straight into their halves (concat, a backend that can: forward_into, the
    cell's function that takes the array to write y into; the LSTM's inference from the kernels
    and training from its copy of the time-major states, the GRU's and the RNN's inference from
    the kernels or the plan's scatter), and those halves' views; or None. Inputs it cannot size
    are left to the forward's own checks."""
    if forward_into is None or D != 2 or merge_mode != "concat":
        return None
    if not (isinstance(inp, np.ndarray) and inp.ndim == 3 and inp.dtype in (np.float32, np.float64)):
        return None
    widths = []
    for d in range(2):
        k = layer * D + d
        w = _entry(weights[k], k, cell)
        if np.ndim(w["w_h"]) != 2:
            return None
        widths.append(np.shape(w["w_h"])[0])
    B, T = inp.shape[0], inp.shape[1]
    merged = empty((B, T, widths[0] + widths[1]), inp.dtype)
    return merged, (merged[..., : widths[0]], merged[..., widths[0] :])


def bind(backend):
    """stack_forward, stack_backward and StackStepper over ``backend`` (a module with the
    per-cell functions, and optionally ``_run_pair(f, g)``, which runs two calls at once)."""
    run_pair = getattr(backend, "_run_pair", None)
    # lstm_forward (inference and training) into a view of the caller's (a direction's half of a
    # concatenated output: no copy of the two directions into the merged array; S3 training, 1
    # thread: the layer's forward 2.2 ms over its two directions' instead of 6.5)
    lstm_into = getattr(backend, "_lstm_forward_into", None)
    # the GRU's and the RNN's the same way, inference only (S2 bidirectional GRU, 2 threads: the
    # merge's copy was 1.4 ms of 13.7)
    cell_into = getattr(backend, "_cell_forward_into", None)

    def into_for(cell):
        """The backend's forward of cell that writes y into a given array, or None."""
        if cell == "lstm":
            return lstm_into
        if cell_into is None:
            return None
        return lambda y, *args, **kwargs: cell_into(y, cell, *args, **kwargs)

    # memory for a merged output: the compiled backend's kept memory (no fresh pages at each
    # call, as its own outputs: S3's 26 MB of a bidirectional layer's), else new
    kept = getattr(backend, "_output_array", None)

    def empty(shape, dtype):
        return np.empty(shape, dtype=dtype) if kept is None else kept(shape, dtype, "stack.outputs")

    def _directions(run, D, together=True):
        """[run(0)] or [run(0), run(1)]: a layer's directions, at once where the backend can and
        ``together`` (_together) says so."""
        if D == 1:
            return [run(0)]
        if run_pair is None or not together:
            return [run(0), run(1)]
        return list(run_pair(lambda: run(0), lambda: run(1)))

    def stack_forward(
        cell,
        x,
        weights,
        h0=None,
        c0=None,
        *,
        bidirectional=False,
        merge_mode="concat",
        lengths=None,
        mask=None,
        zero_output_for_mask=False,
        dropout=0.0,
        training=False,
        seed=None,
        return_cache=False,
        check_finite=True,
        **options,
    ):
        """L layers x D directions of ``cell`` ('lstm', 'gru' or 'rnn') over x (B, T, I)
        (module docstring) -> y, h_n (L*D, B, P)[, c_n (L*D, B, H) for the LSTM][, cache]."""
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {_CELLS}, got {cell!r}")
        bidirectional = _validate.flag("bidirectional", bidirectional)
        training = _validate.flag("training", training)
        if merge_mode not in _MERGES:
            raise ValueError(f"merge_mode must be one of {_MERGES}, got {merge_mode!r}")
        D = 2 if bidirectional else 1
        if not isinstance(weights, (list, tuple)) or not weights or len(weights) % D:
            raise ValueError(
                f"weights must be a non-empty list of layers x directions ({D} per layer), "
                f"got {weights!r:.80}"
            )
        L = len(weights) // D
        if merge_mode is None and (L > 1 or D == 1):
            raise ValueError("merge_mode=None returns the two directions apart: one bidirectional layer only")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        if cell != "lstm" and c0 is not None:
            raise ValueError(f"c0 is the LSTM's cell state; the {cell.upper()} has none")
        forward = getattr(backend, f"{cell}_forward")
        forward_into = into_for(cell)
        rng = np.random.default_rng(seed) if training and dropout > 0 else None
        caches, outputs, masks, h_n, c_n, together = [], [], [], [], [], []
        inp = x
        for layer in range(L):
            drop = None
            if rng is not None and layer > 0:  # inverted dropout on the layer's input
                keep = 1.0 - dropout
                drop = (rng.random(np.shape(inp)) < keep).astype(inp.dtype) / inp.dtype.type(keep)
                inp = inp * drop
            masks.append(drop)

            merged = _concat_room(cell, inp, weights, layer, D, merge_mode, forward_into, empty)

            def run(d, layer=layer, inp=inp, merged=merged):
                k = layer * D + d
                w = _entry(weights[k], k, cell)
                kw = dict(options)
                kw.update({n: w[n] for n in _LAYER_ARRAYS if n in w})
                args = [inp, w["w_x"], w["w_h"], w["b"], _states("h0", h0, L, D, k)]
                if cell == "lstm":
                    args.append(_states("c0", c0, L, D, k))
                if merged is not None:  # y straight into its half of the merged output
                    return forward_into(
                        merged[1][d],
                        *args,
                        reverse=d == 1,
                        lengths=lengths,
                        mask=mask,
                        zero_output_for_mask=zero_output_for_mask,
                        return_cache=return_cache,
                        check_finite=check_finite,
                        **kw,
                    )
                return forward(
                    *args,
                    reverse=d == 1,
                    lengths=lengths,
                    mask=mask,
                    zero_output_for_mask=zero_output_for_mask,
                    return_cache=return_cache,
                    check_finite=check_finite,
                    **kw,
                )

            ys = []
            together.append(_together(inp, weights, layer, D, cell, return_cache))
            for out in _directions(run, D, together[-1]):
                ys.append(out[0])
                h_n.append(out[1])
                if cell == "lstm":
                    c_n.append(out[2])
                if return_cache:
                    caches.append(out[-1])
            outputs.append(ys)
            if merged is not None:
                inp = merged[0]
            else:
                inp = ys[0] if D == 1 else _merge(merge_mode, ys[0], ys[1], empty)
        result = [inp, np.stack(h_n)]
        if cell == "lstm":
            result.append(np.stack(c_n))
        if return_cache:
            keep_outputs = outputs if merge_mode == "mul" else [[None] * D for _ in range(L)]
            result.append(StackCache(cell, L, D, merge_mode, caches, keep_outputs, masks, together))
        return tuple(result)

    def stack_backward(dy, cache, dh_n=None, dc_n=None, *, check_finite=True):
        """Backward of :func:`stack_forward` (called with ``return_cache=True``).

        dy: the merged output's gradient (a list of two with merge_mode None) or None |
        dh_n (L*D, B, P), dc_n (L*D, B, H) or None -> a list of L*D dicts in the weights' order
        (dw_x, dw_h, db, dh0, [dc0, dpeepholes, dproj]); the first also has dx (B, T, I)."""
        if not isinstance(cache, StackCache):
            raise TypeError(
                f"cache must be a StackCache (stack_forward's, with return_cache=True), "
                f"got {type(cache).__name__}"
            )
        L, D, cell = cache.L, cache.D, cache.cell
        if cell != "lstm" and dc_n is not None:
            raise ValueError(f"dc_n is the LSTM's; the {cell.upper()} has no cell state")
        backward = getattr(backend, f"{cell}_backward")
        grads = [None] * (L * D)
        for layer in reversed(range(L)):
            if dy is None:
                dys = [None] * D
            elif D == 1:
                dys = [dy]
            else:
                dys = _unmerge(cache.merge_mode, dy, cache.outputs[layer])

            def run(d, layer=layer, dys=dys):
                k = layer * D + d
                args = [dys[d], cache.caches[k], _states("dh_n", dh_n, L, D, k)]
                if cell == "lstm":
                    args.append(_states("dc_n", dc_n, L, D, k))
                return backward(*args, check_finite=check_finite)

            dx = None
            for d, g in enumerate(_directions(run, D, cache.together[layer])):
                # the first direction's dx is this call's own: the second's added in place
                dx = g["dx"] if dx is None else np.add(dx, g["dx"], out=dx)
                grads[layer * D + d] = g
            for d in range(D):
                del grads[layer * D + d]["dx"]
            drop = cache.dropout_masks[layer]
            if drop is not None:
                dx = dx * drop
            dy = dx
        grads[0]["dx"] = dy
        return grads

    class StackStepper:
        """Streaming inference through a stack of one-directional layers: one ``step`` call
        steps every layer (the embedded case). ``StackStepper(cell, weights, batch_size=1,
        **options)``; ``step(x_t)`` -> the last layer's h (B, P) (or (P,) for a 1-D x_t);
        ``h`` (L, B, P), ``c`` (L, B, H) for the LSTM; ``reset(h=None, c=None)`` with states
        (L, B, .)."""

        def __init__(self, cell, weights, batch_size=1, *, check_finite=True, **options):
            if cell not in _CELLS:
                raise ValueError(f"cell must be one of {_CELLS}, got {cell!r}")
            if not isinstance(weights, (list, tuple)) or not weights:
                raise ValueError("weights must be a non-empty list, one entry per layer")
            make = getattr(backend, {"lstm": "LSTMStepper", "gru": "GRUStepper", "rnn": "RNNStepper"}[cell])
            self.cell = cell
            self._steppers = []
            for k, w in enumerate(weights):
                w = _entry(w, k, cell)
                kw = dict(options)
                kw.update({n: w[n] for n in _LAYER_ARRAYS if n in w})
                self._steppers.append(
                    make(w["w_x"], w["w_h"], w["b"], batch_size, check_finite=check_finite, **kw)
                )
            self.layers = len(self._steppers)

        def step(self, x_t):
            h = x_t
            for s in self._steppers:
                h = s.step(h)
            return h

        @property
        def h(self):
            return np.stack([s.h for s in self._steppers])

        @property
        def c(self):
            if self.cell != "lstm":
                raise AttributeError(f"the {self.cell.upper()} has no cell state")
            return np.stack([s.c for s in self._steppers])

        def reset(self, h=None, c=None):
            if c is not None and self.cell != "lstm":
                raise ValueError(f"c is the LSTM's cell state; the {self.cell.upper()} has none")
            for k, s in enumerate(self._steppers):
                hk = _states("h", h, self.layers, 1, k)
                if self.cell == "lstm":
                    s.reset(hk, _states("c", c, self.layers, 1, k))
                else:
                    s.reset(hk)

        def __repr__(self):
            first = self._steppers[0]
            return (
                f"StackStepper(cell={self.cell!r}, layers={self.layers}, batch_size={first.batch_size}, "
                f"input_size={first.input_size}, units={first.units}, dtype={first.dtype.name})"
            )

    return stack_forward, stack_backward, StackStepper

"""``Conv1D`` and ``Conv1DTranspose``: 1-D convolutions over the time axis with Keras 3's
arguments and weights.

Conv1D: kernel (k, I / groups, F), bias (F). Conv1DTranspose: kernel (k, F, I), bias (F) (Keras's
order: the filters before the inputs). x (B, T, I) with ``data_format="channels_last"`` (Keras's
default), (B, I, T) with "channels_first"; the maths works channels-last and transposes at the edges.

Conv1D's product, with one group, reads x in place (engine._products's window products): an
output step's taps are k consecutive input steps, k * I consecutive numbers of the padded input
(dilated: k pieces of I numbers, d * I apart, one product each), and lstmcore's packed kernels
take the overlapping rows of one buffer as the rows of their left operand: no im2col copy.
Otherwise (groups, or windows shorter than a vector) im2col: the k taps of every output step
gathered into one (B * T_out, k * I) array, then one matmul per group. The input gradient is the
transposed convolution of dz (below), the kernel's the windows' (or the columns') transpose
times dz.
Conv1DTranspose and Conv1D's input gradient run in the s phases of the output steps (s the
strides; the sub-pixel decomposition) where the output has a vector of channels or more: the
output steps m*s + r of phase r are a plain stride-1 convolution of x with the taps that land on
that phase, a window product per phase, written into every s-th output step. Otherwise one
matmul (B * T, I) @ (I, k * F) gives every input step's k taps, each tap added onto the output
steps it reaches (a strided slice per tap): the scatter. The backward of Conv1DTranspose is a
strided (or dilated) Conv1D of dz by window products.
Float32, AVX2, 2 threads, B = 128, k = 7, forward and backward: a Conv1D of 32 -> 16 filters over
144 steps, strides 2, 3.4 ms in windows and phases against 7.0 by im2col (12.7 before the phases);
keras.io's anomaly autoencoder (two Conv1D, three Conv1DTranspose, 3745 windows of 288 steps):
an epoch 0.92-1.05 s, Keras 3 on PyTorch 1.23-1.62 s in turn with it (before: 1.54-1.77 s against
Keras's 1.02-1.18; an hour later 1.29 s against 1.08, ``lstmcore bench --programs``). Dilated,
a causal Conv1D of 32 -> 32 filters over 100 steps, k = 3, d = 2: 5.1 ms against 7.5 by im2col
(fastest of 15 calls in turn); 64 -> 64 over 200 steps, k = 2, d = 16: 29.1 against 29.1.
"""

from __future__ import annotations

import numpy as np

from .. import activations
from ..engine._products import (
    matmul,
    matmul_groups,
    vector_lanes,
    window_matmul,
    window_matmul_tn,
    window_rows,
)
from .base import Layer, _initializer, _positive_int
from .core import _dense_activation
from .pooling import _one_int, _padding, _same_padding
from .reshaping import _check_x, _data_format, _no_step

# the arguments Conv1D and Conv1DTranspose share (each has its own signature: Keras's order)
_SHARED = (
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "data_format",
    "dilation_rate",
    "activation",
    "use_bias",
    "kernel_initializer",
    "bias_initializer",
)


def _phases(k: int, s: int, d: int, L: int, left: int):
    """The output steps of a transposed convolution (taps j*d apart, strides s, the output window
    starting ``left`` steps into the full output) in s phases: phase r holds steps m*s + r (m < M
    = ceil(L / s)), and step m of it reads input step m - q of each tap j whose shift j*d - left is
    r + q*s (q whole). Returns M and, for each phase, its taps and their q; a phase with no tap is 0."""
    M = -(-L // s)
    phases = []
    for r in range(s):
        taps = [j for j in range(k) if (j * d - left - r) % s == 0]
        phases.append((taps, [(j * d - left - r) // s for j in taps]))
    return M, phases


def _by_phases(x, kernel, s: int, d: int, L: int, left: int):
    """The window [left, left + L) of the full transposed convolution full[t*s + j*d] += x[t] @
    kernel[j].T, phase by phase: Conv1DTranspose's forward, and Conv1D's input gradient (its kernel
    read as a transposed one's, its padded input's steps the window)."""
    # x (B, T, I) | kernel (k, F, I) | a phase's windows (B*R, taps*I)
    # z (B, M, s, F), its first L steps (B, L, F)
    B, T, I = x.shape
    F = kernel.shape[1]
    M, phases = _phases(kernel.shape[0], s, d, L, left)
    z = np.zeros((B, M, s, F), dtype=x.dtype)
    for r, (taps, q_r) in enumerate(phases):
        if taps:
            # step m reads x[m - q] for the taps' q, dq apart (1, or d where s = 1): a window
            # from x's step m - q_r[-1] (engine._products.window_rows), its taps last first
            dq = q_r[1] - q_r[0] if len(q_r) > 1 else 1
            w = np.concatenate([kernel[j].T for j in taps[::-1]], axis=0)  # (taps*I, F)
            z[:, :, r] = _conv_windows(x, w, 1, dq, q_r[-1], M, len(taps))[0]
    return z.reshape(B, M * s, F)[:, :L]


def _conv_windows(x, w, s: int, d: int, left: int, rows: int, k: int):
    """A convolution of x (B, T, C) by window products (engine._products.window_rows): output
    step t = the sum over taps j of the padded input's step t*s + j*d (x's step t' at t' + left)
    @ w[j*C : (j+1)*C], w (k*C, N). Returns the outputs (B, rows, N), a view, and the windows
    (buf, R) for _conv_windows_grad."""
    B, _, C = x.shape
    buf, R = window_rows(x, s, left, rows, d * (k - 1) + 1)
    out = window_matmul(buf, B * R, s * C, w, taps=k, gap=d * C)
    return out.reshape(B, R, -1)[:, :rows], (buf, R)


def _conv_windows_grad(windows, g, C: int, s: int, d: int, k: int, grad) -> None:
    """grad (k, ...) of k*C rows, written in place: the windows' transpose @ g (B, rows, N), the
    gradient of _conv_windows's w (its dropped rows' g zero)."""
    buf, R = windows
    B, rows, N = g.shape
    padded = np.zeros((B, R, N), dtype=g.dtype)
    padded[:, :rows] = g
    out = grad.view()
    out.shape = (k * C, N)  # a view: the gradient written in place
    window_matmul_tn(buf, B * R, s * C, padded.reshape(B * R, N), out, taps=k, gap=d * C)


def _transposed_plan(groups: int, n_out: int, dtype) -> str:
    """How a transposed convolution to n_out channels runs (Conv1DTranspose's forward, Conv1D's
    input gradient): "phases" (_by_phases: window products with n_out columns, reading the input
    in place) from a vector of output channels, else "scatter" (one product, then each tap's
    outputs added on). Float32, AVX2, 2 threads, B = 128, k = 7, forward and backward: 16 -> 16
    filters over 72 steps, strides 2: 2.2 ms by phases against 4.1; 64 -> 8 over 100 steps: 7.4
    against 9.5; 32 -> 1 over 288 steps: 4.8 against 3.1; a Conv1D's backward from 1 input
    channel: 5.4 against 2.0 (its input gradient's columns one lane of eight)."""
    if groups > 1:
        return "scatter"
    return "phases" if n_out >= vector_lanes(dtype) else "scatter"


class _Conv1D(Layer):
    """What Conv1D and Conv1DTranspose share: Keras's arguments, the data format's transposes at
    the edges, the checks of the input shape, the activation and the config."""

    step = _no_step
    regularized = {"kernel": "kernel", "bias": "bias"}
    paddings: tuple[str, ...] = ("valid", "same")

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = _positive_int("filters", filters)
        self.kernel_size = _one_int("kernel_size", kernel_size)
        self.strides = _one_int("strides", strides)
        self.padding = _padding(padding, self.paddings)
        self.data_format = _data_format(data_format)
        self.dilation_rate = _one_int("dilation_rate", dilation_rate)
        self.activation = _dense_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = _initializer("bias_initializer", bias_initializer)
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError(
                f"strides > 1 cannot go with dilation_rate > 1 (as in Keras), got "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}"
            )
        self._cache = None

    @property
    def _span(self) -> int:
        """The steps one tap window covers: d * (k - 1) + 1."""
        return self.dilation_rate * (self.kernel_size - 1) + 1

    def _sizes(self, input_shape) -> tuple[int, int]:
        """(T, I) of an input_shape."""
        return (input_shape[0], input_shape[1]) if self.data_format == "channels_last" else input_shape[::-1]

    def _check_input_shape(self, input_shape) -> None:
        name = type(self).__name__
        order = "timesteps, features" if self.data_format == "channels_last" else "features, timesteps"
        if len(input_shape) != 2:
            raise ValueError(
                f"{name} expects inputs of shape (batch, {order}), i.e. an input_shape of 2 values; "
                f"got input_shape {tuple(input_shape)}"
            )
        T, I = self._sizes(input_shape)
        if I is not None:
            self._check_features(I, input_shape)
        if T is not None and self._geometry(T)[0] < 1:
            raise ValueError(
                f"{name}: kernel_size={self.kernel_size}, strides={self.strides}, "
                f"dilation_rate={self.dilation_rate} and padding={self.padding!r}{self._more_padding()} "
                f"give no output step for {T} timesteps; got input_shape {tuple(input_shape)}"
            )

    def _check_features(self, I: int, input_shape) -> None:
        pass

    def _more_padding(self) -> str:
        return ""

    def output_shape(self, input_shape):
        T = self._sizes(input_shape)[0]
        T_out = None if T is None else self._geometry(T)[0]
        return (T_out, self.filters) if self.data_format == "channels_last" else (self.filters, T_out)

    def _channels_last(self, a):
        """An input or an output gradient in the (B, T, C) order the maths works in."""
        return a.transpose(0, 2, 1) if self.data_format == "channels_first" else a

    def _caller_order(self, a):
        """An output or an input gradient back in the layer's data format."""
        return np.ascontiguousarray(a.transpose(0, 2, 1)) if self.data_format == "channels_first" else a

    def _activate(self, z):
        if self.use_bias:
            z += self.params["bias"]
        return activations.get(self.activation)[0](z)

    def _dz(self, z, y, dy):
        """The activation's backward, and the bias gradient from it."""
        dz = activations.get(self.activation)[1](z, y, dy).astype(y.dtype, copy=False)
        if self.use_bias:
            np.sum(dz, axis=(0, 1), out=self.grads["bias"])
        return dz

    def _check_training(self) -> None:
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward needs a forward call with training=True")

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=[self.kernel_size],
            strides=[self.strides],
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=[self.dilation_rate],
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
        )
        return config


class Conv1D(_Conv1D):
    """y[b, t, f] = activation(sum over taps j and inputs i of xp[b, t*s + j*d, i] * kernel[j, i, f]
    + bias[f]), xp the input padded for ``padding`` ("valid": none; "same": TensorFlow's split,
    ceil(T / strides) outputs; "causal": d*(k-1) zeros on the left). ``groups`` splits the inputs
    and the filters into that many contiguous blocks, block g of the filters seeing block g of the
    inputs."""

    paddings = ("valid", "same", "causal")
    # the input gradient's plan: None picks by sizes; "phases" or "scatter" forces one (tests)
    dx_plan: str | None = None

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**{k: v for k, v in locals().items() if k in _SHARED}, **kwargs)
        self.groups = _positive_int("groups", groups)
        if self.filters % self.groups:
            raise ValueError(
                f"filters must be a multiple of groups, got filters={self.filters}, groups={self.groups}"
            )

    def _geometry(self, T: int) -> tuple[int, int, int]:
        """(T_out, left padding, right padding) for T steps."""
        span = self._span
        if self.padding == "same":
            left, right = _same_padding(T, span, self.strides)
        elif self.padding == "causal":
            left, right = span - 1, 0
        else:
            left, right = 0, 0
        return (T + left + right - span) // self.strides + 1, left, right

    def _check_features(self, I: int, input_shape) -> None:
        if I % self.groups:
            raise ValueError(
                f"Conv1D: the input's {I} channels must be a multiple of groups={self.groups}; got "
                f"input_shape {tuple(input_shape)}"
            )

    def weight_specs(self, input_shape):
        I = self._sizes(input_shape)[1]
        I_g = None if I is None else I // self.groups
        specs = [("kernel", (self.kernel_size, I_g, self.filters), self.kernel_initializer)]
        if self.use_bias:
            specs.append(("bias", (self.filters,), self.bias_initializer))
        return specs

    # the forward's plan: None picks by the arguments; "windows" or "im2col" forces one (tests)
    plan: str | None = None

    def forward(self, x, training=False):
        _check_x(self, x)
        x = self._channels_last(x)
        T = x.shape[1]
        geometry = self._geometry(T)
        plan = self.plan or self._forward_plan(x)
        if plan not in ("windows", "im2col") or (plan == "windows" and self.groups > 1):
            raise ValueError(f"Conv1D.plan must be None, 'windows' (one group) or 'im2col', got {plan!r}")
        if plan == "windows":
            z, saved = self._windows_forward(x, geometry)
        else:
            z, saved = self._im2col_forward(x, geometry)
        y = self._activate(z)
        self._cache = (plan, saved, (T, *geometry[1:]), z, y) if training else None
        return self._caller_order(y)

    def _forward_plan(self, x) -> str:
        """ "windows" (engine._products.window_matmul: the product reads x in place; dilated, one
        product per tap) with one group and windows of a vector of numbers or more; else
        "im2col" (the taps gathered, then BLAS). Float32, AVX2, B = 128, forward and backward:
        64 -> 8 filters over 100 steps, k = 7: 6.9 ms against 21.4; 1 -> 64 over 50 steps, k = 2
        (windows of 2 numbers): 1.5 against 1.0."""
        if self.groups > 1:
            return "im2col"
        return "windows" if self.kernel_size * x.shape[2] >= vector_lanes(x.dtype) else "im2col"

    def _windows_forward(self, x, geometry):
        # x (B, T, I) | kernel (k*I, F) | z (B, T_out, F) (_conv_windows)
        k, I = self.kernel_size, x.shape[2]
        T_out, left, _ = geometry
        w = self.params["kernel"].reshape(k * I, self.filters)
        z, windows = _conv_windows(x, w, self.strides, self.dilation_rate, left, T_out, k)
        return np.ascontiguousarray(z), windows

    def _im2col_forward(self, x, geometry):
        # x (B, T, I) | xp (B, left + T + right, I) | taps: k slices of T_out steps
        # cols (G, B*T_out, k*I/G)
        # w (G, k*I/G, F/G) | z (B, T_out, F)
        B, T, I = x.shape
        k, G, F = self.kernel_size, self.groups, self.filters
        T_out, left, right = geometry
        xp = np.pad(x, ((0, 0), (left, right), (0, 0))) if left + right else x
        taps = self._tap_steps(T_out)
        N = B * T_out
        # each tap's steps a strided slice (a gather by index lists took twice as long)
        cols = np.concatenate([xp[:, t] for t in taps], axis=-1)  # (B, T_out, k*I)
        if G > 1:
            cols = cols.reshape(N, k, G, I // G).transpose(2, 0, 1, 3).reshape(G, N, k * (I // G))
        w = self._group_kernels()
        z = (
            matmul_groups(cols.reshape(G, N, -1), w).transpose(1, 0, 2).reshape(B, T_out, F)
        )  # (engine._products)
        return z, (cols.reshape(G, N, -1), w, taps)

    def _group_kernels(self):
        """The kernel (k, I/G, F) as G products' (k*I/G, F/G)."""
        k, Ig, F = self.params["kernel"].shape
        G = self.groups
        return (
            self.params["kernel"].reshape(k, Ig, G, F // G).transpose(2, 0, 1, 3).reshape(G, k * Ig, F // G)
        )

    def _tap_steps(self, T_out: int) -> list:
        """Each tap's input steps (of the padded input) for the T_out output steps: j*d + t*s."""
        s, d = self.strides, self.dilation_rate
        return [slice(j * d, j * d + (T_out - 1) * s + 1, s) for j in range(self.kernel_size)]

    def backward(self, dy):
        # dy, dz (B, T_out, F) | dkernel (k, I/G, F) | dx (B, T, I)
        self._check_training()
        plan, saved, (T, left, right), z, y = self._cache
        self._cache = None
        B, T_out, F = y.shape
        k, G = self.kernel_size, self.groups
        Ig = self.params["kernel"].shape[1]
        dz = self._dz(z, y, self._channels_last(dy))
        dz_g = dz.reshape(B * T_out, G, F // G).transpose(1, 0, 2)  # (G, N, F/G)
        if plan == "windows":  # dkernel = windowsᵀ dz
            _conv_windows_grad(saved, dz, Ig, self.strides, self.dilation_rate, k, self.grads["kernel"])
        else:  # dkernel = colsᵀ dz per group, back to (k, I/G, F)
            cols, w, _ = saved
            dw = matmul_groups(cols.transpose(0, 2, 1), dz_g)
            self.grads["kernel"][...] = dw.reshape(G, k, Ig, F // G).transpose(1, 2, 0, 3).reshape(k, Ig, F)
        # the input gradient: a transposed convolution of dz, by phases where one group
        dx_plan = self.dx_plan or _transposed_plan(G, Ig, y.dtype)
        if dx_plan not in ("phases", "scatter") or (dx_plan == "phases" and G > 1):
            raise ValueError(
                f"Conv1D.dx_plan must be None, 'phases' (one group) or 'scatter', got {dx_plan!r}"
            )
        if dx_plan == "phases":
            dx = _by_phases(dz, self.params["kernel"], self.strides, self.dilation_rate, T, left)
            return self._caller_order(dx)
        # dcols = dz wᵀ, then each tap's columns added back onto the padded input's rows
        dcols = matmul_groups(dz_g, self._group_kernels().transpose(0, 2, 1)).reshape(G, B, T_out, k, Ig)
        dcols = dcols.transpose(1, 2, 3, 0, 4).reshape(B, T_out, k, G * Ig)
        dxp = np.zeros((B, left + T + right, G * Ig), dtype=y.dtype)
        for j, t in enumerate(self._tap_steps(T_out)):  # one tap at a time: its T_out steps are distinct
            dxp[:, t] += dcols[:, :, j, :]
        return self._caller_order(np.ascontiguousarray(dxp[:, left : left + T, :]))

    def get_config(self) -> dict:
        config = super().get_config()
        config["groups"] = self.groups
        return config


class Conv1DTranspose(_Conv1D):
    """The transpose (the input gradient) of a strided, dilated Conv1D, as Keras 3 computes it on
    every backend: each input step t adds its taps onto the full output,
    full[b, t*s + j*d, f] += sum over i of x[b, t, i] * kernel[j, f, i], which has (T - 1)*s + span
    steps (span = d*(k - 1) + 1); the output is a window of it, y = activation(full[left : left + L]
    + bias), zeros where the window passes its end. Keras's window: with ``padding="valid"`` it
    starts at 0 and L = (T - 1)*s + max(span, s) (``output_padding`` p given: (T - 1)*s + span + p);
    with "same", L = T*s (p given: (T - 1)*s + span % 2 + p), the padding it crops split as
    Keras's JAX backend splits it (``_window``)."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**{k: v for k, v in locals().items() if k in _SHARED}, **kwargs)
        if output_padding is not None:
            if isinstance(output_padding, (tuple, list)):
                if len(output_padding) != 1:
                    raise ValueError(
                        f"output_padding must be None, an int or a tuple of 1 int, got {output_padding!r}"
                    )
                output_padding = output_padding[0]
            if isinstance(output_padding, (bool, np.bool_)) or not isinstance(
                output_padding, (int, np.integer)
            ):
                raise TypeError(f"output_padding must be None or an int >= 0, got {output_padding!r}")
            output_padding = int(output_padding)
            if not 0 <= output_padding < self.strides:
                raise ValueError(
                    f"output_padding must be >= 0 and less than strides={self.strides} (as in Keras), "
                    f"got {output_padding}"
                )
        self.output_padding = output_padding

    def _window(self) -> tuple[int, int]:
        """(left, extra): the full output's steps before the window and the difference between the
        window's length and the full output's (negative: steps cropped at the right; positive:
        zeros past the end). Keras pads the zero-stuffed input by (pl, pr) for a plain convolution
        (its JAX backend; the torch backend crops torch's full output to the same window): the
        window starts span - 1 - pl steps into the full output."""
        span, s, p = self._span, self.strides, self.output_padding
        if self.padding == "valid":
            pl, pr = span - 1, span - 1 + (max(span, s) - span if p is None else p)
        else:
            total = s + span - 2 if p is None else span + span % 2 - 2 + p
            pl = min(total // 2 + total % 2, span - 1)
            pr = total - pl
        return span - 1 - pl, pl + pr - 2 * (span - 1)

    def _geometry(self, T: int) -> tuple[int, int]:
        """(L, left) for T steps: the output's steps and the full output's steps before them."""
        left, extra = self._window()
        return (T - 1) * self.strides + self._span + extra, left

    def _more_padding(self) -> str:
        return "" if self.output_padding is None else f", output_padding={self.output_padding}"

    def weight_specs(self, input_shape):
        I = self._sizes(input_shape)[1]
        specs = [("kernel", (self.kernel_size, self.filters, I), self.kernel_initializer)]
        if self.use_bias:
            specs.append(("bias", (self.filters,), self.bias_initializer))
        return specs

    def _taps(self, T: int, L: int, left: int):
        """For each tap j, the input steps [t0, t1) whose tap lands in the output window and the
        output step of t0 (the tap of t reaches t*s + j*d - left; consecutive t are s apart)."""
        s, d = self.strides, self.dilation_rate
        spans = []
        for j in range(self.kernel_size):
            shift = j * d - left
            t0 = max(0, -(shift // s))  # the first t with t*s + shift >= 0
            t1 = min(T, (L - 1 - shift) // s + 1)  # past the last t with t*s + shift < L
            spans.append((t0, max(t0, t1), t0 * s + shift))
        return spans

    # The forward's plan: None picks by the arrays' sizes; "phases" or "scatter" forces one (tests).
    plan: str | None = None

    def forward(self, x, training=False):
        # x (B, T, I) | kernel (k, F, I) | y (B, L, F)
        _check_x(self, x)
        x = np.ascontiguousarray(self._channels_last(x))
        L, left = self._geometry(x.shape[1])
        plan = self.plan or _transposed_plan(1, self.filters, x.dtype)
        if plan not in ("phases", "scatter"):
            raise ValueError(f"Conv1DTranspose.plan must be None, 'phases' or 'scatter', got {plan!r}")
        if plan == "phases":
            z = _by_phases(x, self.params["kernel"], self.strides, self.dilation_rate, L, left)
        else:
            z = self._by_scatter(x, L, left)
        y = self._activate(z)
        self._cache = (x, left, z, y) if training else None
        return self._caller_order(y)

    def _by_scatter(self, x, L: int, left: int):
        # x (B, T, I) | w (I, k*F) | taps (B, T, k, F) | z (B, L, F)
        B, T, I = x.shape
        k, F, s = self.kernel_size, self.filters, self.strides
        w = np.ascontiguousarray(self.params["kernel"].transpose(2, 0, 1)).reshape(I, k * F)
        taps = matmul(x.reshape(B * T, I), w).reshape(B, T, k, F)  # (engine._products)
        z = np.zeros((B, L, F), dtype=x.dtype)
        for j, (t0, t1, p0) in enumerate(self._taps(T, L, left)):
            if t1 > t0:
                z[:, p0 : p0 + (t1 - t0 - 1) * s + 1 : s] += taps[:, t0:t1, j]
        return z

    def backward(self, dy):
        # dy, dz (B, L, F) | dkernel (k, F, I) | dx (B, T, I)
        self._check_training()
        x, left, z, y = self._cache
        self._cache = None
        B, L, F = y.shape
        T, I = x.shape[1], x.shape[2]
        k, s = self.kernel_size, self.strides
        dz = self._dz(z, y, self._channels_last(dy))
        # input step t's taps reach the full output's steps t*s + j*d: a Conv1D of dz (its step u
        # the full output's u + left) by the kernel (k*F, I), whose gradient is the windows' with x
        d = self.dilation_rate
        dx, windows = _conv_windows(dz, self.params["kernel"].reshape(k * F, I), s, d, left, T, k)
        _conv_windows_grad(windows, x, F, s, d, k, self.grads["kernel"])
        return self._caller_order(np.ascontiguousarray(dx))

    def get_config(self) -> dict:
        config = super().get_config()
        config["output_padding"] = None if self.output_padding is None else [self.output_padding]
        return config

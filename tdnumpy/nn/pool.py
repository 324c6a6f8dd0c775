"""Max and average pooling over (N, C, H, W) input, and Flatten.

Pools take a square or (kh, kw) ``kernel_size`` and a ``stride`` (default:
the kernel size), with no padding: OH = (H - kh) // stride + 1, and a window
that would overhang the edge is dropped (floor mode). Windows may overlap
(stride < kernel). Like the convolution, both work on the channels-last view
of their input and loop over the kh kw kernel offsets only, each iteration an
operation on one (N, OH, OW, C) block of strided views (see
:mod:`tdnumpy.nn.im2col`); the output is the NCHW view of a channels-last
array, so a conv -> pool -> conv stack never transposes data. Max pooling
with windows side by side (stride = kernel, the common case) records in its
forward pass where each window's maximum is, and its backward pass only
routes the gradient there.
"""

from __future__ import annotations

import math

import numpy as np

from .._docs import shared_docstring
from .._validation import check_int
from .im2col import ConvGeometry, channels_first, channels_last, output_size
from .module import Module


class _Pool2D(Module):
    _geometry = _dtype = None
    splittable = True  # each example's windows on their own

    def __init__(self, kernel_size, stride: int | None = None, name: str | None = None):
        super().__init__(name)
        owner = type(self).__name__
        if isinstance(kernel_size, (tuple, list)) and len(kernel_size) == 2:
            self.kh, self.kw = (check_int(k, "kernel_size", owner, low=1) for k in kernel_size)
        else:
            self.kh = self.kw = check_int(kernel_size, "kernel_size", owner, low=1)
        self.stride = self.kh if stride is None else check_int(stride, "stride", owner, low=1)

    def geometry(self, x) -> ConvGeometry:
        """Sizes of this pooling for input ``x``, which is validated.

        Parameters
        ----------
        x : ndarray of shape (N, C, H, W)
            The layer's float input; only its shape is used, once validated.

        Returns
        -------
        ConvGeometry
            Input, window and output sizes (no padding, dilation 1).

        Raises
        ------
        TypeError
            If ``x`` is not a float array.
        ValueError
            If ``x`` is not 4-D or is smaller than the window.
        """
        if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
            what = f"{x.dtype} array" if isinstance(x, np.ndarray) else type(x).__name__
            raise TypeError(f"{self!r} expects its input x to be a float NumPy array. Got a {what} instead.")
        if x.ndim != 4:
            raise ValueError(
                f"{self!r} expects 4-D input (batch, channels, height, width). Got shape {x.shape} instead."
            )
        n, c, h, w = x.shape
        oh = output_size(h, self.kh, self.stride, 1, 0)
        ow = output_size(w, self.kw, self.stride, 1, 0)
        if oh < 1 or ow < 1:
            raise ValueError(f"{self!r}: the {self.kh}x{self.kw} window is larger than the input of shape {x.shape}.")
        return ConvGeometry(n, c, h, w, self.kh, self.kw, self.stride, 1, (0, 0, 0, 0), oh, ow)

    def _start(self, x) -> tuple[ConvGeometry, np.ndarray]:
        """Validate x, remember its geometry and dtype; return both geometry and
        the channels-last view."""
        self._geometry, self._dtype = self.geometry(x), x.dtype
        return self._geometry, channels_last(x)

    def _check_output_grad(self, grad_out) -> None:
        g = self._geometry
        self._check_grad(grad_out, None if g is None else (g.n, g.c, g.oh, g.ow), self._dtype)

    def offsets(self):
        """Kernel offsets (k, i, j) in row-major order, k = i kw + j.

        Returns
        -------
        list of tuple of int
            ``[(0, 0, 0), (1, 0, 1), ...]``, kh kw entries.
        """
        return [(i * self.kw + j, i, j) for i in range(self.kh) for j in range(self.kw)]

    def _fold(self, xl: np.ndarray, g: ConvGeometry, ufunc) -> np.ndarray:
        """ufunc folded over the window: out[n, p, q, c] = ufunc(... ufunc(x at offset 0,
        x at offset 1) ..., x at the last offset), channels-last."""
        out = xl[g.offset(0, 0)].copy()
        for _, i, j in self.offsets()[1:]:
            ufunc(out, xl[g.offset(i, j)], out=out)
        return out

    def _scatter(self, per_offset, g: ConvGeometry, dtype) -> np.ndarray:
        """dx (NCHW view) with dx[n, c, p s + i, q s + j] += per_offset(k)[n, p, q, c]
        for every kernel offset k = (i, j)."""
        dx = np.zeros((g.n, g.h, g.w, g.c), dtype)
        for k, i, j in self.offsets():
            dx[g.offset(i, j)] += per_offset(k)
        return channels_first(dx)

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.name!r} ({self.kh}x{self.kw}, stride {self.stride})"


# The constructor's parameters, the same for both pooling layers.
_POOL = """
    Parameters
    ----------
    kernel_size : int or (int, int)
        Window (kh, kw); an int k means (k, k).
    stride : int >= 1 or None, default=None
        Stride s, the same along both axes; None means kh.
    name : str or None, default=None
        The layer's name.
    """


@shared_docstring(pool=_POOL)
class MaxPool2D(_Pool2D):
    """Max pooling, y[n, c, p, q] = max_{i, j} x[n, c, p s + i, q s + j].

    The gradient of each output goes to exactly one input: the position of the
    maximum in its window, and when several inputs tie for the maximum, the
    first of them in row-major order within the window (smallest i, then
    smallest j). Where windows overlap, an input that is the chosen maximum of
    several windows receives the sum of their gradients. A window holding a
    NaN outputs NaN, and which of its inputs receives the gradient is not
    specified.

    {{pool}}
    """

    kind = "maxpool"
    _x = _out = _first = None

    def forward(self, x, training=False):
        g, xl = self._start(x)
        if g.stride == g.kh == g.kw:
            out, self._first = _max_and_first(xl, g)
            self._x = self._out = None
        else:
            out = self._fold(xl, g, np.maximum)
            self._x, self._out, self._first = xl, out, None
        return channels_first(out)

    def backward(self, grad_out, input_grad=True):
        self._check_output_grad(grad_out)
        g, gl = self._geometry, channels_last(grad_out)
        if self._first is not None:
            return channels_first(_route_to_first(self._first, gl, g))
        xl, out = self._x, self._out
        hits = [xl[g.offset(i, j)] == out for _, i, j in self.offsets()]
        _keep_first(hits)
        return self._scatter(lambda k: gl * hits[k], g, gl.dtype)


def _max_and_first(xl: np.ndarray, g: ConvGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Maxima of adjacent windows (stride = kernel) and where each is first reached.

    The covered input is viewed as (N, OH, kh, OW, kw, C). Each row of a
    window is reduced over its columns j, then the rows over i; a candidate
    replaces the best so far only if strictly greater, so of equal values the
    first in row-major order wins, the tie rule of MaxPool2D. Recording it
    here, where the input is being read anyway, spares the backward pass a
    second reading of the input and any tie-breaking (LeNet-5's first pool on
    an MNIST batch, where 42% of the windows tie: forward and backward
    4.8 against 6.9 ms comparing the input with the maxima again).

    Parameters
    ----------
    xl : ndarray of shape (N, H, W, C)
        Channels-last input.
    g : ConvGeometry
        Sizes of the pooling, with stride = kh = kw.

    Returns
    -------
    out : ndarray of shape (N, OH, OW, C)
        The window maxima.
    first : ndarray of shape (N, OH, OW, C), unsigned integers
        The kernel offset k = i kw + j of each window's first maximum.
    """
    x6 = xl[:, : g.oh * g.kh, : g.ow * g.kw].reshape(g.n, g.oh, g.kh, g.ow, g.kw, g.c)
    offsets = np.uint8 if g.kh * g.kw <= 256 else np.uint32
    row_max = x6[:, :, :, :, 0].copy()  # (N, OH, kh, OW, C): best of each window row so far
    row_first = np.zeros(row_max.shape, offsets)
    better = np.empty(row_max.shape, bool)
    for j in range(1, g.kw):
        np.greater(x6[:, :, :, :, j], row_max, out=better)
        np.maximum(row_max, x6[:, :, :, :, j], out=row_max)
        _replace_with_later(row_first, better, j)
    out, first = row_max[:, :, 0].copy(), row_first[:, :, 0].copy()
    better = better[:, :, 0]
    for i in range(1, g.kh):
        np.greater(row_max[:, :, i], out, out=better)
        np.maximum(out, row_max[:, :, i], out=out)
        candidate = row_first[:, :, i]
        candidate += i * g.kw
        _replace_with_later(first, better, candidate)
    return out, first


def _replace_with_later(first: np.ndarray, better: np.ndarray, later) -> None:
    """In place, ``first[better] = later``, for offsets ``later`` larger than any
    in ``first``: as first = max(first, better * later), two passes without
    the masked assignment's slow element-by-element loop."""
    np.maximum(first, np.multiply(better.view(np.uint8), later, dtype=first.dtype), out=first)


def _route_to_first(first: np.ndarray, gl: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """dL/dx of adjacent windows: each window's gradient to its first maximum.

    dx is viewed as (N, OH, kh, OW kw C), each row of it kh rows of windows
    side by side; slot (q kw + j) C + c of row i belongs to kernel offset
    i kw + j, so comparing those offsets with ``first`` repeated kw times
    along the width marks the inputs that receive a gradient, and the product
    with the gradient repeated alike runs along rows of OW kw C values rather
    than C at a time.

    Parameters
    ----------
    first : ndarray of shape (N, OH, OW, C)
        Offsets from :func:`_max_and_first`.
    gl : ndarray of shape (N, OH, OW, C)
        dL/dy, channels-last.
    g : ConvGeometry
        Sizes of the pooling.

    Returns
    -------
    ndarray of shape (N, H, W, C)
        dL/dx, channels-last; rows and columns no window covers get 0.
    """
    rows, cols = g.oh * g.kh, g.ow * g.kw
    rows_of_windows = (g.n, g.oh, g.kh, cols * g.c)
    column = np.arange(cols * g.c) // g.c % g.kw
    offset_of_slot = (np.arange(g.kh)[:, None] * g.kw + column).astype(first.dtype)  # (kh, OW kw C)
    hit = np.equal(_widen(first, g.kw), offset_of_slot)
    whole = (rows, cols) == (g.h, g.w)
    dx = np.empty((g.n, g.h, g.w, g.c), gl.dtype) if whole else np.zeros((g.n, g.h, g.w, g.c), gl.dtype)
    d4 = dx.reshape(rows_of_windows) if whole else np.empty(rows_of_windows, gl.dtype)
    np.copyto(d4, hit)  # 0 and 1: a product of floats and booleans would cast element by element
    d4 *= _widen(gl, g.kw)
    if not whole:
        dx[:, :rows, :cols] = d4.reshape(g.n, rows, cols, g.c)
    return dx


def _widen(a: np.ndarray, kw: int) -> np.ndarray:
    """(N, OH, OW, C) -> (N, OH, 1, OW kw C): each window's value repeated kw
    times along the width, one row per row of windows."""
    n, oh, ow, c = a.shape
    return np.repeat(a, kw, axis=2).reshape(n, oh, 1, ow * kw * c)


def _keep_first(hits) -> None:
    """In place: where several of ``hits`` (boolean arrays, in offset order) are
    True at one position, keep only the first. This is the tie rule of MaxPool2D."""
    claimed = hits[0].copy()
    for hit in hits[1:-1]:
        np.greater(hit, claimed, out=hit)  # hit and not claimed, without a temporary
        claimed |= hit
    if len(hits) > 1:
        np.greater(hits[-1], claimed, out=hits[-1])


@shared_docstring(pool=_POOL)
class AvgPool2D(_Pool2D):
    """Average pooling, y[n, c, p, q] = (1 / (kh kw)) sum_{i, j} x[n, c, p s + i, q s + j].

    Each input in a window receives 1 / (kh kw) of the window's gradient.

    {{pool}}
    """

    kind = "avgpool"

    def forward(self, x, training=False):
        g, xl = self._start(x)
        out = self._fold(xl, g, np.add)
        out *= 1 / (g.kh * g.kw)
        return channels_first(out)

    def backward(self, grad_out, input_grad=True):
        self._check_output_grad(grad_out)
        g = self._geometry
        share = channels_last(grad_out) * (1 / (g.kh * g.kw))
        return self._scatter(lambda k: share, g, self._dtype)


class Flatten(Module):
    """(N, C, H, W) -> (N, C H W) in C order (channel-major, as PyTorch's flatten).

    Any input of 2 or more dimensions is flattened after the batch axis.

    Parameters
    ----------
    name : str or None, default=None
        The layer's name.
    """

    kind = "flatten"
    _shape = _dtype = None
    splittable = True

    def forward(self, x, training=False):
        if not isinstance(x, np.ndarray) or x.ndim < 2:
            shape = getattr(x, "shape", type(x).__name__)
            raise ValueError(
                f"{self!r} expects input of shape (batch, ...) with at least 2 dimensions. Got {shape} instead."
            )
        self._shape, self._dtype = x.shape, x.dtype
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))

    def backward(self, grad_out, input_grad=True):
        shape = None if self._shape is None else (self._shape[0], math.prod(self._shape[1:]))
        self._check_grad(grad_out, shape, self._dtype)
        return grad_out.reshape(self._shape)

"""im2col and col2im: convolution as one matrix product.

Layers take and return NCHW arrays, but the arithmetic here runs on the
channels-last view ``x.transpose(0, 2, 3, 1)`` of shape (N, H, W, C). A
convolution's output is computed as an (N OH OW, F) matrix, which *is* an
(N, OH, OW, F) channels-last array, and is handed on as its NCHW transposed
view without a copy; so in a stack of convolutions and pools the channels-last
view of every activation is contiguous, and each row of a patch is one
contiguous run of kw C values.

For a padded input xp of shape (N, Hp, Wp, C), a kernel of size (kh, kw),
stride s and dilation d there are

    OH = (Hp - d (kh - 1) - 1) // s + 1,    OW = (Wp - d (kw - 1) - 1) // s + 1

output positions. ``im2col`` lays the patches out as the rows of

    cols[(n, p, q), (i, j, c)] = xp[n, p s + i d, q s + j d, c],

a matrix of shape (N OH OW, kh kw C), so a convolution with a weight matrix W
of shape (kh kw C, F) is ``cols @ W``. ``col2im`` is the adjoint of
``im2col``: it adds every entry of a matrix shaped like ``cols`` back onto
the input position it was copied from, so <im2col(x), y> = <x, col2im(y)>.

``im2col`` is one copy out of a strided window view
(``numpy.lib.stride_tricks.sliding_window_view``), or one copy per kernel
offset when the matrix is stored column-major (see ``cols_order``). ``col2im`` loops over the
kh kw kernel offsets only, each iteration adding one (N, OH, OW, C) block
through strided views; there is no loop over pixels or examples, and no
``numpy.add.at`` (far slower). ``col2im_matmul`` computes col2im(G W^T), the
input gradient of a convolution, one kernel offset at a time, so that each
block it adds is a contiguous GEMM result.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._docs import shared_docstring


class ConvGeometry(NamedTuple):
    """Sizes of one convolution (or pooling) of an input with N examples, C channels and H x W pixels.

    Parameters
    ----------
    n, c, h, w : int
        Input shape (N, C, H, W).
    kh, kw : int
        Kernel height and width.
    stride, dilation : int
        Stride s and dilation d (d = 1 for pools).
    pad : tuple of int
        Zero padding (top, bottom, left, right).
    oh, ow : int
        Output height OH and width OW.
    """

    n: int
    c: int
    h: int
    w: int
    kh: int
    kw: int
    stride: int
    dilation: int
    pad: tuple  # (top, bottom, left, right)
    oh: int
    ow: int

    @property
    def padded_shape(self) -> tuple:
        """Channels-last shape of the padded input, (N, Hp, Wp, C)."""
        top, bottom, left, right = self.pad
        return (self.n, self.h + top + bottom, self.w + left + right, self.c)

    @property
    def cols_shape(self) -> tuple:
        """Shape of the patch matrix, (N OH OW, kh kw C)."""
        return (self.n * self.oh * self.ow, self.kh * self.kw * self.c)

    def offset(self, i: int, j: int) -> tuple:
        """Index of the (N, OH, OW, C) block of the padded input that kernel offset (i, j) touches.

        Rows p s + i d and columns q s + j d, over all output positions (p, q).

        Parameters
        ----------
        i, j : int
            Kernel offset, 0 <= i < kh, 0 <= j < kw.

        Returns
        -------
        tuple of slice
            Index into a channels-last padded (N, Hp, Wp, C) array.
        """
        s, d = self.stride, self.dilation
        return (
            slice(None),
            slice(i * d, i * d + (self.oh - 1) * s + 1, s),
            slice(j * d, j * d + (self.ow - 1) * s + 1, s),
            slice(None),
        )


# The parameters of one axis of a convolution or pooling window.
_AXIS = """
    Parameters
    ----------
    size : int
        Input length, H or W.
    kernel : int
        Kernel length, kh or kw.
    stride, dilation : int
        Stride s and dilation d.
    """


@shared_docstring(axis=_AXIS)
def output_size(size: int, kernel: int, stride: int, dilation: int, pad_total: int) -> int:
    """Number of output positions along one axis.

    floor((size + pad_total - dilation (kernel - 1) - 1) / stride) + 1.

    {{axis}}
    pad_total : int
        Padding on both sides together.

    Returns
    -------
    int
        OH or OW; <= 0 when the kernel does not fit.
    """
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


@shared_docstring(axis=_AXIS)
def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """Padding (before, after) that gives ceil(size / stride) outputs.

    An odd total puts the extra row or column after, as TensorFlow's and
    PyTorch's ``'same'`` do.

    {{axis}}

    Returns
    -------
    tuple of int
        (before, after), both >= 0.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def channels_last(x: np.ndarray) -> np.ndarray:
    """The (N, H, W, C) view of an (N, C, H, W) array (no copy).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
        NCHW array.

    Returns
    -------
    ndarray of shape (N, H, W, C)
        A transposed view of ``x``.
    """
    return x.transpose(0, 2, 3, 1)


def channels_first(x: np.ndarray) -> np.ndarray:
    """The (N, C, H, W) view of an (N, H, W, C) array (no copy).

    Parameters
    ----------
    x : ndarray of shape (N, H, W, C)
        Channels-last array.

    Returns
    -------
    ndarray of shape (N, C, H, W)
        A transposed view of ``x``.
    """
    return x.transpose(0, 3, 1, 2)


def pad_input(xl: np.ndarray, pad: tuple, out: np.ndarray) -> np.ndarray:
    """Copy the channels-last input into the interior of ``out``.

    Parameters
    ----------
    xl : ndarray of shape (N, H, W, C)
        Channels-last input.
    pad : tuple of int
        Padding (top, bottom, left, right).
    out : ndarray of shape (N, H + top + bottom, W + left + right, C)
        Destination. Its border is not written and must already be zero.

    Returns
    -------
    ndarray
        ``out``.
    """
    top, _, left, _ = pad
    _, h, w, _ = xl.shape
    out[:, top : top + h, left : left + w, :] = xl
    return out


# The parameters of the functions that read the patches out of a padded input.
_PATCHES = """
    Parameters
    ----------
    xp : ndarray of shape (N, Hp, Wp, C)
        Channels-last padded input.
    g : ConvGeometry
        Sizes of the convolution.
    """


@shared_docstring(patches=_PATCHES)
def windows(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The strided view of all patches of a channels-last padded input.

    windows[n, p, q, i, j, c] = xp[n, p s + i d, q s + j d, c].

    {{patches}}

    Returns
    -------
    ndarray of shape (N, OH, OW, kh, kw, C)
        A read-only view of ``xp`` (no copy).
    """
    span_h, span_w = g.dilation * (g.kh - 1) + 1, g.dilation * (g.kw - 1) + 1
    view = sliding_window_view(xp, (span_h, span_w), axis=(1, 2))  # (N, OH', OW', C, span_h, span_w)
    s, d = g.stride, g.dilation
    view = view[:, : (g.oh - 1) * s + 1 : s, : (g.ow - 1) * s + 1 : s, :, ::d, ::d]
    return view.transpose(0, 1, 2, 4, 5, 3)


def cols_order(g: ConvGeometry) -> Literal["C", "F"]:
    """Memory order of the patch matrix: "C" (rows contiguous) when C >= OW, else "F".

    The gather that fills the matrix copies contiguous runs of C values (one
    pixel's channels) into a row-major matrix, or runs of OW values (one row of
    one channel) into a column-major one; the longer runs copy faster. LeNet-5's
    first layer (C = 1, OW = 24) gathers about 4x faster column-major, its
    second (C = 20, OW = 8) about 6x faster row-major. The matrix and the
    products with it are the same either way.

    Parameters
    ----------
    g : ConvGeometry
        Sizes of the convolution.

    Returns
    -------
    {"C", "F"}
        The order to allocate the patch matrix in.
    """
    return "C" if g.c >= g.ow else "F"


@shared_docstring(patches=_PATCHES)
def im2col(xp: np.ndarray, g: ConvGeometry, out: np.ndarray | None = None) -> np.ndarray:
    """Patches of the channels-last padded input as rows: cols[(n, p, q), (i, j, c)].

    {{patches}}
    out : ndarray of shape (N OH OW, kh kw C) or None, default=None
        Destination, C- or F-contiguous, in the dtype of ``xp``. None
        allocates one in the order :func:`cols_order` picks.

    Returns
    -------
    ndarray of shape (N OH OW, kh kw C)
        The patch matrix (``out`` when given).
    """
    if out is None:
        out = np.empty(g.cols_shape, xp.dtype, order=cols_order(g))
    if out.flags.c_contiguous:
        np.copyto(out.reshape(g.n, g.oh, g.ow, g.kh, g.kw, g.c), windows(xp, g))
    else:
        columns = out.T.reshape(g.kh, g.kw, g.c, g.n, g.oh, g.ow)
        for i in range(g.kh):
            for j in range(g.kw):
                columns[i, j] = xp[g.offset(i, j)].transpose(3, 0, 1, 2)
    return out


def col2im(cols: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Adjoint of :func:`im2col`: every entry of ``cols`` added back where it was copied from.

    Parameters
    ----------
    cols : ndarray of shape (N OH OW, kh kw C)
        A matrix shaped like the patch matrix.
    g : ConvGeometry
        Sizes of the convolution.

    Returns
    -------
    ndarray of shape (N, Hp, Wp, C)
        A new channels-last array shaped like the padded input.
    """
    out = np.zeros(g.padded_shape, cols.dtype)
    blocks = cols.reshape(g.n, g.oh, g.ow, g.kh, g.kw, g.c)
    for i in range(g.kh):
        for j in range(g.kw):
            out[g.offset(i, j)] += blocks[:, :, :, i, j, :]
    return out


def col2im_matmul(
    grad: np.ndarray, weight: np.ndarray, g: ConvGeometry, products: np.ndarray | None = None
) -> np.ndarray:
    """col2im(grad @ weight.T) without forming the (N OH OW, kh kw C) product.

    grad is (N OH OW, F) and weight (kh kw C, F). Row block (i, j) of the
    weight, W_ij of shape (C, F), gives the block of the product for kernel
    offset (i, j) as the contiguous (N OH OW, C) matrix grad @ W_ij^T, which is
    added straight onto the input positions that offset touches. All kh kw
    products are taken first, one after the other, and added afterwards:
    alternating a small GEMM with an addition measured up to twice as slow
    per GEMM (LeNet-5's second layer: 6.3 against 3.1 ms for its 25 products).

    Parameters
    ----------
    grad : ndarray of shape (N OH OW, F)
        dL/dy as a matrix (fastest C-contiguous).
    weight : ndarray of shape (kh kw C, F)
        The weight matrix W (effective, i.e. masked, in a layer's backward).
    g : ConvGeometry
        Sizes of the convolution.
    products : ndarray of shape (kh kw, N OH OW, C) or None, default=None
        C-contiguous work array in the dtype of ``grad`` for the blocks; None
        allocates one.

    Returns
    -------
    ndarray of shape (N, Hp, Wp, C)
        dL/dxp, a new channels-last array shaped like the padded input.
    """
    if products is None:
        products = np.empty((g.kh * g.kw, grad.shape[0], g.c), grad.dtype)
    for k, block in enumerate(weight.reshape(g.kh * g.kw, g.c, -1)):
        np.matmul(grad, block.T, out=products[k])
    out = np.zeros(g.padded_shape, grad.dtype)
    blocks = products.reshape(g.kh, g.kw, g.n, g.oh, g.ow, g.c)
    for i in range(g.kh):
        for j in range(g.kw):
            out[g.offset(i, j)] += blocks[i, j]
    return out


def unpad(xp: np.ndarray, pad: tuple, h: int, w: int) -> np.ndarray:
    """The interior of a channels-last padded array.

    Parameters
    ----------
    xp : ndarray of shape (N, Hp, Wp, C)
        Channels-last padded array.
    pad : tuple of int
        Padding (top, bottom, left, right).
    h, w : int
        Unpadded height and width.

    Returns
    -------
    ndarray of shape (N, h, w, C)
        A view of ``xp``; ``xp`` itself when there is no padding.
    """
    if not any(pad):
        return xp
    top, _, left, _ = pad
    return xp[:, top : top + h, left : left + w, :]

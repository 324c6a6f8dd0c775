"""2-D convolution (cross-correlation, as in every deep-learning library) on NCHW input."""

from __future__ import annotations

import numpy as np

from .._docs import shared_docstring
from .._validation import check_float_dtype, check_generator, check_int
from .im2col import (
    ConvGeometry,
    channels_first,
    channels_last,
    col2im,
    col2im_matmul,
    cols_order,
    im2col,
    output_size,
    pad_input,
    same_padding,
    unpad,
)
from .init import get_initializer
from .module import Parameter
from .weighted import DTYPE_AND_NAME, WeightedLayer, apply_units, check_weight_size


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (check_int(value[0], name, "Conv2D", low=1), check_int(value[1], name, "Conv2D", low=1))
    v = check_int(value, name, "Conv2D", low=1)
    return (v, v)


@shared_docstring(dtype_and_name=DTYPE_AND_NAME)
class Conv2D(WeightedLayer):
    """Convolution ``y[n, f] = b[f] + sum_c (x[n, c] * k[f, c])`` on NCHW input.

    With the patch notation of :mod:`tdnumpy.nn.im2col` (xp the zero-padded input),

        y[n, f, p, q] = b[f] + sum_{i, j, c} xp[n, c, p s + i d, q s + j d] W[(i, j, c), f]

    The weight is stored as the matrix W of shape (fan_in, units) =
    (kh kw in_channels, out_channels): one column per output channel (filter),
    rows in (i, j, c) order. It is the view dense layers have, so masks and
    pruning treat both alike, and it is TensorFlow's (kh, kw, in, out) kernel
    reshaped to (-1, out), the view in which the targeted-dropout authors'
    released code ranks conv weights. ``kernel`` shows it as the (out_channels,
    in_channels, kh, kw) array of PyTorch and Caffe. Forward is
    ``im2col(x) @ W``; backward is

        dL/dW = cols^T G,   dL/db = sum of G over (n, p, q),   dL/dx = col2im(G W^T)

    with G = dL/dy laid out as a (N OH OW, out_channels) matrix; the last is
    computed block by block by ``col2im_matmul``. A weight-noise rule
    (``layer.noise``) acts as in :class:`Dense`: a training step uses
    W * keep.weight, and keep.units zeroes whole output channels (per
    mini-batch or per example).

    Parameters
    ----------
    in_channels : int >= 1
        Input channels C.
    out_channels : int >= 1
        Output channels (filters) F, the columns of W.
    kernel_size : int or (int, int)
        (kh, kw); an int k means (k, k).
    rng : numpy.random.Generator
        Draws the initial weights; the layer's weight-noise rule draws from it too.
    stride : int >= 1, default=1
        Stride s, the same along both axes.
    padding : int >= 0, (int, int), "valid" or "same", default=0
        Zeros added on each side, (ph, pw) or one int for both; ``"valid"`` is 0;
        ``"same"`` gives ceil(H / s) outputs (an odd total padding puts the
        extra row/column at the bottom/right).
    dilation : int >= 1, default=1
        Dilation d, the spacing of the kernel taps.
    bias : bool, default=True
        Whether the layer has a bias b, initialised to 0.
    init : str, default="he"
        Initialiser of W, a key of ``tdnumpy.nn.init.INITIALIZERS``.
    {{dtype_and_name}}

    Attributes
    ----------
    weight : Parameter
        W, (kh kw in_channels, out_channels), rows in (i, j, c) order.
    bias : Parameter or None
        b, (out_channels,).
    """

    kind = "conv"
    _geometry = None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        *,
        rng: np.random.Generator,
        stride: int = 1,
        padding=0,
        dilation: int = 1,
        bias: bool = True,
        init: str = "he",
        dtype=np.float32,
        name: str | None = None,
    ):
        super().__init__(name)
        owner = "Conv2D"
        self.in_channels = check_int(in_channels, "in_channels", owner, low=1)
        self.out_channels = check_int(out_channels, "out_channels", owner, low=1)
        self.kh, self.kw = _pair(kernel_size, "kernel_size")
        self.stride = check_int(stride, "stride", owner, low=1)
        self.dilation = check_int(dilation, "dilation", owner, low=1)
        self.padding = self._check_padding(padding)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"The 'bias' parameter of Conv2D must be a bool. Got {bias!r} instead.")
        dtype = check_float_dtype(dtype, "dtype", owner)
        self.rng = check_generator(rng, "rng", owner)
        fan_in = self.fan_in = self.in_channels * self.kh * self.kw  # kh kw in_channels, the rows of W
        self.units = self.out_channels  # the columns of W
        check_weight_size(
            fan_in * self.out_channels,
            f"in_channels {in_channels} x out_channels {out_channels} x kernel_size {self.kh}x{self.kw}",
            owner,
        )
        w = get_initializer(init)(rng, (fan_in, self.out_channels), fan_in, self.out_channels, dtype)
        self.weight = Parameter(w, "weight")
        self.bias = Parameter(np.zeros(self.out_channels, dtype), "bias") if bias else None
        self._buffers: dict = {}

    @staticmethod
    def _check_padding(padding):
        if isinstance(padding, str):
            if padding in ("same", "valid"):
                return padding
            raise ValueError(
                f"The 'padding' parameter of Conv2D must be an int >= 0, a pair of them, "
                f"'same' or 'valid'. Got {padding!r} instead."
            )
        if isinstance(padding, (tuple, list)) and len(padding) == 2:
            return tuple(check_int(p, "padding", "Conv2D", low=0) for p in padding)
        p = check_int(padding, "padding", "Conv2D", low=0)
        return (p, p)

    @property
    def kernel(self) -> np.ndarray:
        """The weight as an (out_channels, in_channels, kh, kw) view."""
        return self.weight.value.reshape(self.kh, self.kw, self.in_channels, self.out_channels).transpose(3, 2, 0, 1)

    def geometry(self, shape) -> ConvGeometry:
        """Sizes of this convolution for an input of ``shape``, validated.

        Parameters
        ----------
        shape : tuple of int
            Input shape (batch, in_channels, height, width).

        Returns
        -------
        ConvGeometry
            Input, kernel and output sizes, with the padding resolved to
            (top, bottom, left, right).

        Raises
        ------
        ValueError
            If ``shape`` is not 4-D with ``in_channels`` channels, or the
            kernel does not fit in the padded input.
        """
        if len(shape) != 4:
            raise ValueError(
                f"{self!r} expects 4-D input (batch, channels, height, width). Got shape {tuple(shape)} instead."
            )
        n, c, h, w = shape
        if c != self.in_channels:
            raise ValueError(
                f"{self!r} expects {self.in_channels} input channels, i.e. input of shape "
                f"(batch, {self.in_channels}, height, width). Got shape {tuple(shape)} instead."
            )
        if self.padding == "same":
            pad = same_padding(h, self.kh, self.stride, self.dilation) + same_padding(
                w, self.kw, self.stride, self.dilation
            )
        elif self.padding == "valid":
            pad = (0, 0, 0, 0)
        else:
            pad = (self.padding[0], self.padding[0], self.padding[1], self.padding[1])
        oh = output_size(h, self.kh, self.stride, self.dilation, pad[0] + pad[1])
        ow = output_size(w, self.kw, self.stride, self.dilation, pad[2] + pad[3])
        if oh < 1 or ow < 1:
            span = (self.dilation * (self.kh - 1) + 1, self.dilation * (self.kw - 1) + 1)
            raise ValueError(
                f"{self!r}: the kernel (spanning {span[0]}x{span[1]} with dilation {self.dilation}) is "
                f"larger than the padded input ({h + pad[0] + pad[1]}x{w + pad[2] + pad[3]}) "
                f"of shape {tuple(shape)}."
            )
        return ConvGeometry(n, c, h, w, self.kh, self.kw, self.stride, self.dilation, pad, oh, ow)

    def _buffer(self, key: str, shape, dtype, fill=None, order="C") -> np.ndarray:
        """A scratch array reused from step to step while its shape stays the same;
        ``fill`` is written once, when the array is (re)allocated."""
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype or not buf.flags[f"{order}_CONTIGUOUS"]:
            buf = np.empty(shape, dtype, order=order)
            if fill is not None:
                buf.fill(fill)
            self._buffers[key] = buf
        return buf

    def replica(self) -> "Conv2D":
        clone = super().replica()
        clone._buffers = {}  # scratch arrays of its own: the replicas run at the same time
        return clone

    def _patches(self, x):
        """The geometry of input ``x`` and its patch matrix (N OH OW, kh kw C)."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{self!r} expects its input x to be a NumPy array. Got {type(x).__name__}.")
        g = self.geometry(x.shape)
        if x.dtype != self.weight.dtype:
            raise TypeError(
                f"{self!r} has {self.weight.dtype} weights and expects {self.weight.dtype} input. "
                f"Got {x.dtype} instead; convert it with x.astype(np.{self.weight.dtype})."
            )
        xp = channels_last(x)
        if any(g.pad):
            # keyed by the padding too: "same" pads 7x7 and 8x8 inputs to one 9x9 shape
            # with different borders, and the border must stay zero
            xp = pad_input(xp, g.pad, self._buffer(f"xp{g.pad}", g.padded_shape, x.dtype, fill=0))
        return g, im2col(xp, g, self._buffer("cols", g.cols_shape, x.dtype, order=cols_order(g)))

    def _to_output(self, y, g):
        return channels_first(y.reshape(g.n, g.oh, g.ow, self.out_channels))

    def input_sums(self) -> np.ndarray:
        """The sum of each patch of the last forward pass's (padded) input, over
        its channels and kernel window: the sum_i x_i reaching each output
        (standout's paper form).

        Returns
        -------
        sums : ndarray of shape (N, 1, OH, OW), the input's dtype
            sum_i x_i for each output position, broadcastable to the output.
        """
        if self._geometry is None:
            raise RuntimeError(f"{self!r} has no input sums before its first forward pass.")
        g = self._geometry
        return self._cols.sum(axis=1).reshape(g.n, 1, g.oh, g.ow)

    def linear_rows(self, x):
        """The rows v the layer multiplies by W, and the map back to its output shape.

        For rules that compute their own product with W (DropConnect's Gaussian inference).

        Parameters
        ----------
        x : ndarray of shape (N, in_channels, H, W)
            Input, in the layer's dtype.

        Returns
        -------
        rows : ndarray of shape (N OH OW, kh kw in_channels)
            The patch matrix of ``x`` (a buffer the layer reuses at its next call).
        finish : callable
            Maps an (N OH OW, F) result to the layer's (N, F, OH, OW) output.

        Raises
        ------
        ValueError, TypeError
            If ``x`` has the wrong shape or dtype.
        """
        g, cols = self._patches(x)
        return cols, lambda y: self._to_output(y, g)

    def forward(self, x, training=False):
        g, cols = self._patches(x)
        self._w = w = self._step_weight(training, g.n)
        y = cols @ w
        if self.bias is not None:
            # the bias repeated along a row of OW outputs: NumPy's loops then run
            # OW F long instead of F (LeNet-5's first layer: 3x faster)
            rows = y.reshape(g.n * g.oh, g.ow * self.out_channels)
            rows += np.tile(self._step_bias(), g.ow)
        y = apply_units(self._perturb(cols, y, training), self._keep.units, g.n)
        self._geometry, self._cols = g, cols
        return self._to_output(y, g)

    def backward(self, grad_out, input_grad=True):
        g = self._geometry
        self._check_grad(grad_out, None if g is None else (g.n, self.out_channels, g.oh, g.ow), self.weight.dtype)
        grad = apply_units(channels_last(grad_out).reshape(g.n * g.oh * g.ow, self.out_channels), self._keep.units, g.n)
        self._weight_grad(grad)
        if self.bias is not None:
            # sum over rows as a product with a ones vector: a BLAS call, ~10x
            # faster than np.sum(axis=0) on a tall (N OH OW, F) matrix
            np.matmul(self._buffer("ones", (grad.shape[0],), grad.dtype, fill=1), grad, out=self.bias.grad)
        extra = self._rule_backward(grad, input_grad)
        self._mask_grads()
        if not input_grad:
            return None
        products = self._buffer("products", (g.kh * g.kw, grad.shape[0], g.c), grad.dtype)
        dxp = col2im_matmul(np.ascontiguousarray(grad), self._w, g, products)
        if extra is not None:
            dxp += col2im(extra, g)
        return channels_first(unpad(dxp, g.pad, g.h, g.w))

    def _weight_grad(self, grad: np.ndarray) -> None:
        """dL/dW = cols^T G into ``weight.grad``, with G the (N OH OW, F) gradient.

        With a row-major patch matrix, (G^T cols)^T taken into a scratch array
        and copied is faster (LeNet-5's second layer: 5.1 against 5.9 ms; with
        NumPy's OpenBLAS the same bits); a column-major one is fastest as it is."""
        cols = self._cols
        if not cols.flags.c_contiguous:
            np.matmul(cols.T, grad, out=self.weight.grad)
            return
        grad_t = self._buffer("grad_t", self.weight.grad.shape[::-1], grad.dtype)
        np.matmul(grad.T, cols, out=grad_t)
        np.copyto(self.weight.grad, grad_t.T)

    def __repr__(self) -> str:
        pad = self.padding if isinstance(self.padding, str) else self.padding
        return (
            f"Conv2D {self.name!r} ({self.in_channels} -> {self.out_channels}, {self.kh}x{self.kw}, "
            f"stride {self.stride}, padding {pad}, dilation {self.dilation})"
        )

"""The fully connected layer, in the paper's convention Y = X W + b."""

from __future__ import annotations

import numpy as np

from .._docs import shared_docstring
from .._validation import check_float_dtype, check_generator, check_int
from .init import get_initializer
from .module import Parameter
from .weighted import DTYPE_AND_NAME, WeightedLayer, apply_units, check_weight_size


@shared_docstring(dtype_and_name=DTYPE_AND_NAME)
class Dense(WeightedLayer):
    """Fully connected layer ``Y = X W + b``.

    Shapes: X is (batch, fan_in), W is (fan_in, units), b is (units,), Y is
    (batch, units). W is stored column-major (Fortran order), so that every
    column, the weights of one unit, is contiguous in memory. Column o of W holds the incoming weights of output unit o,
    which is the view in which targeted dropout ranks weights (per column) and
    units (columns by L2 norm); Gomez et al., "Learning Sparse Networks Using
    Targeted Dropout", write the layer the same way.

    Backward, for upstream gradient G = dL/dY:

        dL/dW = X^T G,    dL/db = sum_n G[n, :],    dL/dX = G W^T.

    With a weight-noise rule (``layer.noise``, see :mod:`tdnumpy.nn.noise`), a
    training step uses W * keep.weight and multiplies the outputs by
    keep.units; backward masks G by keep.units and dL/dW by keep.weight.

    Parameters
    ----------
    fan_in : int >= 1
        Number of inputs, the rows of W.
    units : int >= 1
        Number of outputs, the columns of W.
    rng : numpy.random.Generator
        Draws the initial weights; the layer's weight-noise rule draws from it too.
    init : str, default="he"
        Initialiser of W, a key of ``tdnumpy.nn.init.INITIALIZERS``.
    bias : bool, default=True
        Whether the layer has a bias b, initialised to 0.
    {{dtype_and_name}}

    Attributes
    ----------
    weight : Parameter
        W, (fan_in, units), column-major.
    bias : Parameter or None
        b, (units,).
    """

    kind = "fc"

    def __init__(
        self,
        fan_in: int,
        units: int,
        *,
        rng: np.random.Generator,
        init: str = "he",
        bias: bool = True,
        dtype=np.float32,
        name: str | None = None,
    ):
        super().__init__(name)
        owner = "Dense"
        self.fan_in = check_int(fan_in, "fan_in", owner, low=1)
        self.units = check_int(units, "units", owner, low=1)
        check_weight_size(self.fan_in * self.units, f"fan_in {fan_in} x units {units}", owner)
        dtype = check_float_dtype(dtype, "dtype", owner)
        self.rng = check_generator(rng, "rng", owner)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"The 'bias' parameter of Dense must be a bool. Got {bias!r} instead.")
        # Stored column-major: each unit's column of weights is contiguous, which is
        # how targeted dropout ranks them (the order changes matmul's speed by about 10%).
        w = np.asfortranarray(get_initializer(init)(rng, (fan_in, units), fan_in, units, dtype))
        self.weight = Parameter(w, "weight")
        self.bias = Parameter(np.zeros(units, dtype), "bias") if bias else None
        self._x: np.ndarray | None = None

    def _check_input(self, x) -> None:
        if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[1] != self.fan_in:
            shape = getattr(x, "shape", type(x).__name__)
            raise ValueError(f"{self!r} expects input of shape (batch, {self.fan_in}). Got shape {shape} instead.")
        if x.dtype != self.weight.dtype:
            raise TypeError(
                f"{self!r} has {self.weight.dtype} weights and expects {self.weight.dtype} input. "
                f"Got {x.dtype} instead; convert it with x.astype(np.{self.weight.dtype})."
            )

    def forward(self, x, training=False):
        self._check_input(x)
        self._x = x
        self._w = w = self._step_weight(training, len(x))
        y = x @ w if w.ndim == 2 else np.matmul(x[:, None, :], w)[:, 0, :]  # 3-D: a weight per example
        if self.bias is not None:
            y += self._step_bias()
        return apply_units(self._perturb(x, y, training), self._keep.units, len(x))

    def input_sums(self) -> np.ndarray:
        """sum_i x_i of the last forward pass's input rows (standout's paper form).

        Returns
        -------
        sums : ndarray of shape (batch, 1), the input's dtype
            sum_i x_i for each output position, broadcastable to the output.
        """
        if self._x is None:
            raise RuntimeError(f"{self!r} has no input sums before its first forward pass.")
        return self._x.sum(axis=1, keepdims=True)

    def linear_rows(self, x):
        """The rows v the layer multiplies by W, and the map back to its output shape.

        For rules that compute their own product with W (DropConnect's Gaussian inference).

        Parameters
        ----------
        x : ndarray of shape (batch, fan_in)
            Input, in the layer's dtype.

        Returns
        -------
        rows : ndarray of shape (batch, fan_in)
            ``x`` itself.
        finish : callable
            Maps a (batch, units) result to the layer's output: the identity.

        Raises
        ------
        ValueError, TypeError
            If ``x`` has the wrong shape or dtype.
        """
        self._check_input(x)
        return x, lambda y: y

    def backward(self, grad_out, input_grad=True):
        self._check_grad(grad_out, None if self._x is None else (len(self._x), self.units), self.weight.dtype)
        grad = apply_units(grad_out, self._keep.units, len(grad_out))
        keep = self._keep
        if self._w.ndim == 2:
            np.matmul(grad.T, self._x, out=self.weight.grad.T)  # dW^T = G^T X: a C-contiguous output for BLAS
        else:  # per example: dW = sum_n keep_n * (x_n^T g_n)
            np.einsum("ni,no,nio->io", self._x, grad, keep.weight, out=self.weight.grad)
        if self.bias is not None:
            np.sum(grad if keep.bias is None or keep.bias.ndim == 1 else grad * keep.bias, axis=0, out=self.bias.grad)
        extra = self._rule_backward(grad, input_grad)
        self._mask_grads()
        if not input_grad:
            return None
        dx = grad @ self._w.T if self._w.ndim == 2 else np.matmul(grad[:, None, :], self._w.transpose(0, 2, 1))[:, 0, :]
        if extra is not None:
            dx += extra
        return dx

    def __repr__(self) -> str:
        return f"Dense {self.name!r} ({self.fan_in} -> {self.units})"

"""Noise on activations: dropout (inverted and classic), Gaussian dropout,
spatial dropout and standout. The masks come from :mod:`tdnumpy.masks`.

Each module multiplies its input by a noise array in training and by a
constant (or nothing) at evaluation; backward multiplies the gradient by the
same noise, which is treated as a constant (for standout too, whose keep
probabilities depend on the input). A module draws from its own generator.
``freeze(noise)`` fixes the noise used by every training forward pass, for
gradient checks and tests.
"""

from __future__ import annotations

import numpy as np

from .. import masks
from ..masks.dropout import STANDOUT_FORMS
from .._validation import check_choice, check_generator, check_real
from .module import Module


class _ActivationNoise(Module):
    """Base: y = x * noise in training, y = x * eval_factor at evaluation.

    Parameters
    ----------
    p : float in [0, 1)
        Drop probability.
    rng : numpy.random.Generator
        The module's own generator, for its noise.
    name : str or None, default=None
        The layer's name.
    """

    _noise = None
    _out = (None, None)  # shape and dtype of the last forward output
    frozen = None

    def __init__(self, p: float, rng: np.random.Generator, name: str | None = None):
        super().__init__(name)
        self.p = check_real(p, "p", type(self).__name__, low=0, high=1, closed="left")
        self.rng = check_generator(rng, "rng", type(self).__name__)

    def freeze(self, noise: np.ndarray | None) -> None:
        """Use ``noise`` in every training forward pass instead of drawing.

        Parameters
        ----------
        noise : ndarray or None
            Factor broadcastable to the input, in its dtype; None draws again.
        """
        self.frozen = noise

    def eval_factor(self) -> float:
        """The factor on x at evaluation (1: the identity)."""
        return 1.0

    def draw(self, x: np.ndarray) -> np.ndarray:
        """Draw a training pass's noise for input ``x``: an array broadcastable to x, in its dtype."""
        raise NotImplementedError

    def forward(self, x, training=False):
        self._check_input(x)
        self._out = (x.shape, x.dtype)
        if training:
            self._noise = self.draw(x) if self.frozen is None else self.frozen
        else:
            factor = self.eval_factor()
            self._noise = None if factor == 1.0 else x.dtype.type(factor)
        return x if self._noise is None else x * self._noise

    def backward(self, grad_out, input_grad=True):
        self._check_grad(grad_out, *self._out)
        return grad_out if self._noise is None else grad_out * self._noise

    def _check_input(self, x) -> None:
        if not isinstance(x, np.ndarray) or x.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"{self!r} expects a float32 or float64 array. Got {getattr(x, 'dtype', type(x).__name__)}."
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.name!r} (p = {self.p})"


class Dropout(_ActivationNoise):
    """Bernoulli dropout, one mask per example (Srivastava et al. 2014).

    ``mode="inverted"`` (the default): y = x * keep / (1 - p) in training and
    y = x at evaluation. ``mode="classic"``, as in the original paper: y = x *
    keep in training and y = (1 - p) x at evaluation, the training expectation.
    Either way E[y] in training equals y at evaluation.

    Parameters
    ----------
    p : float in [0, 1)
        Drop probability of each element.
    rng : numpy.random.Generator
        The module's own generator, for its masks.
    mode : {"inverted", "classic"}, default="inverted"
        Where the 1 / (1 - p) correction goes, as above.
    name : str or None, default=None
        The layer's name.
    """

    kind = "drop"

    def __init__(self, p: float, rng: np.random.Generator, mode: str = "inverted", name: str | None = None):
        super().__init__(p, rng, name)
        self.mode = check_choice(mode, "mode", "Dropout", ("inverted", "classic"))

    def eval_factor(self) -> float:
        return 1.0 - self.p if self.mode == "classic" else 1.0

    def draw(self, x):
        keep = masks.dropout_keep(x.shape, self.p, self.rng)
        scale = 1.0 / (1.0 - self.p) if self.mode == "inverted" else 1.0
        return np.multiply(keep, x.dtype.type(scale), dtype=x.dtype)


class GaussianDropout(_ActivationNoise):
    """Gaussian dropout (Srivastava et al. 2014, section 10).

    y = x * e, e ~ N(1, p / (1 - p)) per element, in training; y = x at evaluation.

    Parameters
    ----------
    p : float in [0, 1)
        Drop probability of the Bernoulli dropout whose variance the noise matches.
    rng : numpy.random.Generator
        The module's own generator, for its noise.
    name : str or None, default=None
        The layer's name.
    """

    kind = "gdrop"

    def draw(self, x):
        return masks.gaussian_dropout_noise(x.shape, self.p, self.rng, x.dtype)


class SpatialDropout(_ActivationNoise):
    """Spatial dropout (Tompson et al. 2015): whole channels of an (N, C, H, W) input dropped.

    One mask per example and channel, kept channels scaled by 1 / (1 - p);
    the identity at evaluation.

    Parameters
    ----------
    p : float in [0, 1)
        Drop probability of each channel of each example; a dropped channel is
        zero over its whole (H, W) feature map.
    rng : numpy.random.Generator
        The module's own generator, for its masks.
    name : str or None, default=None
        The layer's name.
    """

    kind = "sdrop"

    def _check_input(self, x) -> None:
        super()._check_input(x)
        if x.ndim != 4:
            raise ValueError(f"{self!r} drops channels of 4-D (N, C, H, W) input. Got shape {x.shape} instead.")

    def draw(self, x):
        keep = masks.spatial_dropout_keep(x.shape[0], x.shape[1], self.p, self.rng)
        return np.multiply(keep, x.dtype.type(1.0 / (1.0 - self.p)), dtype=x.dtype)[:, :, None, None]


class Standout(Module):
    """An activation g with standout (Ba and Frey 2013).

    From the pre-activation a = x W + b of the weighted layer before it,
    h = m * g(a) with m ~ Bernoulli(pi) in training, and h = pi * g(a) at
    evaluation, where (:func:`~tdnumpy.masks.standout_keep_prob`)

        pi = sigmoid(alpha a + beta (sum_i x_i + 1))    form="paper" (default),
        pi = sigmoid(alpha a + beta)                     form="shifted".

    The paper's form reads sum_i x_i, the layer's inputs reaching each output,
    off ``source`` (its :meth:`input_sums` after its forward pass). It replaces
    the activation module after the weighted layer. Backward treats m (and pi)
    as constants: dL/da = dL/dh * m * g'(a).

    Parameters
    ----------
    activation : Module
        The element-wise activation g (ReLU, Tanh or Sigmoid).
    rng : numpy.random.Generator
        The module's own generator, for its masks.
    alpha : float, default=1.0
        Scale of a in the keep probability.
    beta : float, default=0.0
        The standout network's shift: per input (paper) or once (shifted).
    source : Dense or Conv2D or None, default=None
        The weighted layer whose output this module takes; needed for form="paper".
    form : {"paper", "shifted"}, default="paper"
        Which keep probability.
    name : str or None, default=None
        The layer's name.
    """

    kind = "standout"
    frozen = None

    def __init__(
        self,
        activation: Module,
        rng: np.random.Generator,
        alpha: float = 1.0,
        beta: float = 0.0,
        source: Module | None = None,
        form: str = "paper",
        name: str | None = None,
    ):
        super().__init__(name)
        if not hasattr(activation, "f"):
            raise TypeError(
                f"The 'activation' parameter of Standout must be an element-wise activation module "
                f"(ReLU, Tanh, Sigmoid). Got {type(activation).__name__} instead."
            )
        if not isinstance(form, str) or form not in STANDOUT_FORMS:
            raise ValueError(f"The 'form' parameter of Standout must be one of {STANDOUT_FORMS}. Got {form!r} instead.")
        if form == "paper" and not callable(getattr(source, "input_sums", None)):
            raise TypeError(
                f"The 'source' parameter of Standout must be the Dense or Conv2D layer before it "
                f"for form='paper' (pi needs that layer's input sums). Got {source!r} instead."
            )
        self.activation, self.source, self.form = activation, source, form
        self.alpha, self.beta = check_real(alpha, "alpha", "Standout"), check_real(beta, "beta", "Standout")
        self.rng = check_generator(rng, "rng", "Standout")
        self._factor = None

    def freeze(self, keep: np.ndarray | None) -> None:
        """Use the keep-mask ``keep`` in every training forward pass (tests).

        Parameters
        ----------
        keep : ndarray or None
            Mask m (bool or 0/1) shaped like the input; None draws again.
        """
        self.frozen = keep

    def forward(self, x, training=False):
        y = self.activation.forward(x, training)
        if self.form == "paper":
            pi = masks.standout_keep_prob(x, self.alpha, self.beta, self.source.input_sums())
        else:
            pi = masks.standout_keep_prob(x, self.alpha, self.beta, form="shifted")
        if training:
            keep = masks.standout_keep(pi, self.rng) if self.frozen is None else self.frozen
            self._factor = np.asarray(keep, dtype=x.dtype)
        else:
            self._factor = pi
        return y * self._factor

    def backward(self, grad_out, input_grad=True):
        self._check_grad(
            grad_out,
            None if self._factor is None else self._factor.shape,
            None if self._factor is None else self._factor.dtype,
        )
        return self.activation.backward(grad_out * self._factor, input_grad)

    def __repr__(self) -> str:
        return (
            f"Standout {self.name!r} ({self.activation.kind}, alpha = {self.alpha}, beta = {self.beta}, "
            f"{self.form} form)"
        )

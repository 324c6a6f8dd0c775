"""L1 and L2 penalties on the weights, the paper's non-dropout baselines.

Gomez et al. (2019) compare targeted dropout with L1 and L2 regularisation,
which also push weights towards zero before pruning. With lambda the strength
and the sums over the entries of every weight matrix W (biases are not
penalised):

    L1:  R(W) = lambda sum |w|,        dR/dw = lambda sign(w)
    L2:  R(W) = (lambda / 2) sum w^2,  dR/dw = lambda w

(sign(0) = 0: the subgradient that keeps a zero weight, and so a pruned one,
at zero). :meth:`Penalty.add_gradient` adds dR/dW to the weight gradients after
the backward pass; the training loss that ``fit`` reports is the data term
alone. ``--weight-decay`` of the optimisers is the L2 gradient applied to every
parameter, biases included; ``L2`` here leaves the biases alone.
"""

from __future__ import annotations

import numpy as np

from .._docs import shared_docstring
from .._validation import check_real
from ..nn.weighted import WeightedLayer


# The constructor's parameters, the same for every penalty.
_PENALTY = """
    Parameters
    ----------
    model : Sequential
        The model whose weighted layers' weights (not biases) are penalised, as
        found at construction.
    strength : float
        lambda >= 0.
    """


@shared_docstring(penalty=_PENALTY)
class Penalty:
    """Base class: lambda * a penalty on the weights of ``model``'s weighted layers.

    {{penalty}}
    """

    name = "penalty"

    def __init__(self, model, strength: float):
        self.strength = check_real(strength, "strength", type(self).__name__, low=0.0)
        self.weights = [layer.weight for layer in model.layers if isinstance(layer, WeightedLayer)]
        self._scratch = [np.empty_like(p.value) for p in self.weights]

    def value(self) -> float:
        """R(W), summed over the weight matrices, in float64.

        Returns
        -------
        float
            The penalty's value, lambda included.
        """
        raise NotImplementedError

    def add_gradient(self) -> None:
        """grad += dR/dW for every weight matrix (in the weights' dtype)."""
        raise NotImplementedError


@shared_docstring(penalty=_PENALTY)
class L1(Penalty):
    """R = lambda sum |w|, gradient lambda sign(w).

    {{penalty}}
    """

    name = "l1"

    def value(self) -> float:
        return self.strength * sum(float(np.abs(p.value).sum(dtype=np.float64)) for p in self.weights)

    def add_gradient(self) -> None:
        for p, tmp in zip(self.weights, self._scratch):
            np.sign(p.value, out=tmp)
            tmp *= p.dtype.type(self.strength)
            p.grad += tmp


@shared_docstring(penalty=_PENALTY)
class L2(Penalty):
    """R = (lambda / 2) sum w^2, gradient lambda w.

    {{penalty}}
    """

    name = "l2"

    def value(self) -> float:
        return 0.5 * self.strength * sum(float(np.square(p.value, dtype=np.float64).sum()) for p in self.weights)

    def add_gradient(self) -> None:
        for p, tmp in zip(self.weights, self._scratch):
            np.multiply(p.value, p.dtype.type(self.strength), out=tmp)
            p.grad += tmp

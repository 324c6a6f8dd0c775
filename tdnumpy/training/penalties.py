"""Penalties added to the loss: L1 and L2 on the weights, the paper's
non-dropout baselines, and the penalties of the learnt sparsifiers
(:class:`LearntPenalty`).

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
from .._validation import check_choice, check_real
from ..nn.module import check_model
from ..nn.sparsifying import learnt_sparsifiers
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
        check_model(model, "model", type(self).__name__)
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


class LearntPenalty:
    """lambda * the penalty of every learnt sparsifier of one method in ``model``.

    The sparsifiers (:mod:`tdnumpy.nn.sparsifying`, :mod:`tdnumpy.nn.gates`)
    each hold their own penalty: L0 gates the expected number of non-zero
    gates (Louizos et al. 2018, eq. 12), variational dropout the KL divergence
    from its log-uniform prior (Molchanov et al. 2017, eq. 14), Smallify's
    switches sum |beta| (Leclerc et al. 2018). The training loss being the mean
    over a mini-batch, the variational ELBO per example weighs the KL by 1 / N
    (N: the training images): its ``scale``.

    Parameters
    ----------
    model : Sequential
        The model, its sparsifiers found at construction.
    strength : float
        lambda >= 0.
    method : {"l0", "vd", "smallify"}
        Whose penalty.
    scale : float, default=1.0
        A further factor > 0 (1 / N for variational dropout).
    """

    def __init__(self, model, strength: float, method: str, scale: float = 1.0):
        self.strength = check_real(strength, "strength", type(self).__name__, low=0.0)
        self.scale = check_real(scale, "scale", type(self).__name__, low=0.0, closed="neither")
        check_model(model, "model", type(self).__name__)
        names = {"l0": "expected-L0", "vd": "KL / N", "smallify": "switch L1"}
        self.name = names[check_choice(method, "method", type(self).__name__, tuple(names))]
        self.items = [item for item in learnt_sparsifiers(model) if item.method == method]

    def value(self) -> float:
        """lambda * scale * the summed penalties.

        Returns
        -------
        float
            The penalty's value.
        """
        return self.strength * self.scale * sum(item.penalty_value() for item in self.items)

    def add_gradient(self) -> None:
        """Add the penalty's gradient to the sparsifiers' parameters (and, for
        variational dropout, to the weights)."""
        for item in self.items:
            item.add_penalty_gradient(self.strength * self.scale)

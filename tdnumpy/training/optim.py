"""Optimisers that update Parameters in place.

Both optimisers respect pruning masks: a parameter with a ``mask`` has the
gradient of its pruned entries zeroed before the update, and their optimiser
state zeroed whenever the mask changes (pruning during training), so (since
their value is already 0, see :class:`tdnumpy.nn.Parameter`) the pruned
entries, their weight decay and their optimiser state stay exactly 0.

The updates run in the parameters' own dtype, with per-parameter scratch
buffers allocated once, so a float32 training step allocates nothing here.
The learning rate ``lr`` is a plain attribute that a schedule may change
between steps. ``step`` may modify ``grad`` in place (it is overwritten by
the next ``backward``).
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_bool, check_real
from ..nn.module import Parameter


class Optimizer:
    """Base class of the optimisers: parameters, ``lr``, masking of pruned entries.

    Subclasses implement :meth:`step` and, if they keep per-parameter
    buffers, ``_state_of`` (so that pruning during training zeroes them) and
    :meth:`state`.

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update; must not be empty.
    lr : float
        The learning rate, > 0 here; a schedule may later set any value >= 0.
    owner : str
        The optimiser's name, for error messages.
    """

    def __init__(self, params, lr: float, owner: str):
        try:
            self.params = list(params)
        except TypeError:
            self.params = [params]  # not iterable: refused below
        if not all(isinstance(p, Parameter) for p in self.params):
            raise TypeError(
                f"The 'params' parameter of {owner} must be an iterable of tdnumpy Parameters "
                f"(model.parameters()). Got {type(params).__name__} instead."
            )
        if not self.params:
            raise ValueError(f"The 'params' parameter of {owner} is an empty list.")
        self.owner = owner
        self.lr = check_real(lr, "lr", owner, low=0.0, closed="neither")
        self._seen_masks = [None] * len(self.params)

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        # A schedule may reach exactly 0 (the end of a cosine); the optimiser
        # itself must be created with lr > 0.
        self._lr = check_real(value, "lr", self.owner, low=0.0)

    def _masked_grad(self, i: int) -> np.ndarray:
        """The gradient of parameter i with its pruned entries zeroed. When the
        parameter's mask has changed since the last step (pruned during
        training), the optimiser state of the newly pruned entries is zeroed
        too, so that momentum cannot move them again."""
        p = self.params[i]
        if p.mask is not self._seen_masks[i]:
            self._seen_masks[i] = p.mask
            if p.mask is not None:
                for buf in self._state_of(i):
                    buf *= p.mask
        if p.mask is not None:
            p.grad *= p.mask
        return p.grad

    def _state_of(self, i: int) -> list[np.ndarray]:
        """The optimiser's buffers for parameter i."""
        return []

    def step(self) -> None:
        """Update every parameter in place by one step of the rule.

        The gradients of pruned entries are zeroed first; ``grad`` may be
        modified in place.
        """
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        """The optimiser's buffers by name, for checkpoints.

        Returns
        -------
        dict of str to ndarray
            ``<buffer>/<parameter name>``: the live buffer (not a copy), in the
            parameter's shape and dtype; empty for a stateless optimiser.
        """
        return {}


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay.

    With g = dL/dw + lambda w (lambda = ``weight_decay``), momentum mu and
    learning rate eta (the convention of Sutskever et al. 2013 as written in
    PyTorch):

        v <- mu v + g
        w <- w - eta v                   (classical momentum)
        w <- w - eta (g + mu v)          (Nesterov momentum)

    With mu = 0 this is plain SGD, w <- w - eta g.

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update (``model.parameters()``).
    lr : float
        eta > 0.
    momentum : float, default 0.0
        mu, in [0, 1).
    nesterov : bool, default False
        Use Nesterov momentum (needs ``momentum`` > 0).
    weight_decay : float, default 0.0
        lambda >= 0, applied to every parameter, biases included.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr, "SGD")
        self.momentum = check_real(momentum, "momentum", "SGD", low=0.0, high=1.0, closed="left")
        self.weight_decay = check_real(weight_decay, "weight_decay", "SGD", low=0.0)
        check_bool(nesterov, "nesterov", "SGD")
        if nesterov and self.momentum == 0:
            raise ValueError("Nesterov momentum needs 'momentum' > 0. Got momentum=0.")
        self.nesterov = bool(nesterov)
        self.velocity = [np.zeros_like(p.value) for p in self.params]
        self._scratch = [np.empty_like(p.value) for p in self.params]

    def step(self) -> None:
        mu, wd, lr = self.momentum, self.weight_decay, self.lr
        for i, (p, v, tmp) in enumerate(zip(self.params, self.velocity, self._scratch)):
            g = self._masked_grad(i)
            if wd:
                np.multiply(p.value, wd, out=tmp)
                g += tmp
            if mu:
                v *= mu
                v += g
                if self.nesterov:
                    np.multiply(v, mu, out=tmp)
                    g += tmp
                else:
                    g = v
            np.multiply(g, lr, out=tmp)
            p.value -= tmp

    def _state_of(self, i):
        return [self.velocity[i]]

    def state(self):
        return {f"velocity/{p.name}": v for p, v in zip(self.params, self.velocity)}


class Adam(Optimizer):
    """Adam (Kingma and Ba 2015) with optional L2 weight decay added to the gradient.

    With g = dL/dw + lambda w and step count t = 1, 2, ...:

        m <- beta1 m + (1 - beta1) g
        v <- beta2 v + (1 - beta2) g^2
        w <- w - eta * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update (``model.parameters()``).
    lr : float, default 1e-3
        eta > 0.
    betas : tuple of (float, float), default (0.9, 0.999)
        (beta1, beta2), each in [0, 1).
    eps : float, default 1e-8
        eps > 0.
    weight_decay : float, default 0.0
        lambda >= 0, applied to every parameter, biases included.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr, "Adam")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"The 'betas' parameter of Adam must be a pair (beta1, beta2). Got {betas!r} instead.")
        self.beta1 = check_real(betas[0], "betas[0]", "Adam", low=0.0, high=1.0, closed="left")
        self.beta2 = check_real(betas[1], "betas[1]", "Adam", low=0.0, high=1.0, closed="left")
        self.eps = check_real(eps, "eps", "Adam", low=0.0, closed="neither")
        self.weight_decay = check_real(weight_decay, "weight_decay", "Adam", low=0.0)
        self.t = 0
        self.m = [np.zeros_like(p.value) for p in self.params]
        self.v = [np.zeros_like(p.value) for p in self.params]
        self._scratch = [np.empty_like(p.value) for p in self.params]

    def step(self) -> None:
        self.t += 1
        b1, b2, wd = self.beta1, self.beta2, self.weight_decay
        step_size = self.lr / (1 - b1**self.t)
        root_correction = math.sqrt(1 - b2**self.t)  # a Python float: no float64 array math
        for i, (p, m, v, tmp) in enumerate(zip(self.params, self.m, self.v, self._scratch)):
            g = self._masked_grad(i)
            if wd:
                np.multiply(p.value, wd, out=tmp)
                g += tmp
            m *= b1
            np.multiply(g, 1 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            # tmp <- sqrt(v_hat) + eps, with v_hat = v / (1 - beta2^t)
            np.sqrt(v, out=tmp)
            tmp /= root_correction
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p.value -= tmp

    def _state_of(self, i):
        return [self.m[i], self.v[i]]

    def state(self):
        out = {f"m/{p.name}": m for p, m in zip(self.params, self.m)}
        out.update({f"v/{p.name}": v for p, v in zip(self.params, self.v)})
        return out

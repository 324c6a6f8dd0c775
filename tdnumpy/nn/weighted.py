"""The weighted-layer base and the contract between a layer and its weight-noise rule.

A :class:`WeightedLayer` (``Dense``, ``Conv2D``) has a (fan_in, units) weight
and can carry one rule (``layer.noise``, a :class:`WeightNoise`; the rules
themselves are in :mod:`tdnumpy.nn.noise`). Before each training forward
pass the layer asks its rule for a :class:`Keep`: a keep-mask on the weight
matrix and/or on the units, the latter of shape (units,) for one mask per
mini-batch or (batch, units) for one per example. The layer computes with
W * keep.weight and multiplies its outputs (bias included) by keep.units,
and masks the gradients the same way in backward. At evaluation it applies
what the rule's ``inference`` returns (nothing, by default).

A rule may also learn: the sparsifying baselines (:mod:`tdnumpy.nn.sparsifying`)
own :class:`~tdnumpy.nn.module.Parameter` s, listed with the layer's, made
when the rule is attached (:meth:`WeightNoise.attach`). L0 gates are a
real-valued ``keep.weight``; their gradient comes from dL/dW_eff in
:meth:`WeightNoise.backward`. Variational dropout adds noise to the
pre-activations (:meth:`WeightNoise.perturb`) and sends the gradient of that
noise back through :meth:`WeightNoise.backward` too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..masks._select import MAX_ELEMENTS

from .module import Module, Parameter


class Keep(NamedTuple):
    """What a layer applies for one forward pass (None: nothing masked there).

    The layer computes with W_eff = W * weight * weight_scale and
    b_eff = b * bias * bias_scale and multiplies its outputs by ``units``.
    Masks are boolean (True = kept), except that a learnt rule's weight gate
    may be real-valued (L0's hard-concrete gates in [0, 1]).

    Parameters
    ----------
    weight : ndarray of bool or float, or None, default=None
        Weight keep-mask, (fan_in, units), or (batch, fan_in, units) for one
        mask per example (dense layers only); or a real gate of the weight's
        shape and dtype.
    units : ndarray of bool or None, default=None
        Output keep-mask, (units,) for the mini-batch or (batch, units) per example.
    bias : ndarray of bool or None, default=None
        Bias keep-mask, (units,) or (batch, units).
    weight_scale : float, default=1.0
        Factor on the masked weight, e.g. 1 / (1 - p).
    bias_scale : float, default=1.0
        Factor on the masked bias.
    """

    weight: np.ndarray | None = None
    units: np.ndarray | None = None
    bias: np.ndarray | None = None
    weight_scale: float = 1.0
    bias_scale: float = 1.0


class WeightNoise:
    """Base class of the weight-noise rules.

    ``sample`` returns a training step's :class:`Keep`, ``inference`` what
    the layer applies at evaluation (default: nothing); subclasses implement
    ``_sample``. A rule whose ``integrates_activation`` is True computes the
    evaluation output of its layer *and* the activation after it (``infer``),
    as DropConnect's moment-matching inference must; ``Sequential`` calls it.

    Attributes
    ----------
    step : int
        Training steps sampled so far; the step a schedule of gamma or alpha sees.
    resume_attributes : tuple of str
        The attributes besides parameters and generators that training changes,
        saved with an interrupted run (:mod:`tdnumpy.training.state`).
    splittable : bool
        Whether a split training step (:mod:`tdnumpy.training.split`) may draw
        the rule's masks once for the whole batch and hand each half its rows:
        True for the mask rules of :mod:`tdnumpy.nn.noise`; False by default,
        since a rule's ``perturb`` and ``backward`` are not called in a split
        step.
    """

    @property
    def integrates_activation(self) -> bool:
        """Whether the rule computes its layer's evaluation output and the activation after it (``infer``)."""
        return False

    perturbs_output = False
    splittable = False
    resume_attributes: tuple[str, ...] = ("step",)

    def __init__(self):
        self.step = 0

    def attach(self, layer) -> None:
        """Called when the rule is put on ``layer``: a learnt rule makes its
        parameters here, shaped and typed after the layer's weight.

        Parameters
        ----------
        layer : WeightedLayer
            The layer the rule now rides on.
        """

    def parameters(self) -> list:
        """The rule's own trainable parameters (none by default).

        Returns
        -------
        list of Parameter
            Listed after the layer's weight and bias.
        """
        return []

    def perturb(self, layer, rows: np.ndarray, y: np.ndarray) -> np.ndarray:
        """A training pass's pre-activations, for rules whose ``perturbs_output`` is True.

        Parameters
        ----------
        layer : WeightedLayer
            The layer.
        rows : ndarray of shape (rows, fan_in)
            What the layer multiplied by W (its input, or a convolution's patch matrix).
        y : ndarray of shape (rows, units)
            rows W_eff + b, which the rule may change in place.

        Returns
        -------
        ndarray of shape (rows, units)
            The pre-activations the layer passes on.
        """
        return y

    def backward(self, layer, grad: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Called in the layer's backward while ``layer.weight.grad`` holds
        dL/dW_eff, before the keep-masks are applied to it: a learnt rule
        fills its parameters' gradients here.

        Parameters
        ----------
        layer : WeightedLayer
            The layer.
        grad : ndarray of shape (rows, units)
            dL/d(pre-activations), the output gradient in the rows of ``perturb``.
        input_grad : bool, default=True
            Whether the layer's input gradient is wanted (not for the first layer).

        Returns
        -------
        ndarray of shape (rows, fan_in) or None
            A term to add to dL/d(rows) (None: nothing, or ``input_grad`` False).
        """
        return None

    def sample(self, layer, batch: int) -> Keep:
        """Draw the masks of one training step, then advance ``step``.

        Parameters
        ----------
        layer : WeightedLayer
            The layer the rule is attached to; the rule reads its weight and
            draws from its generator ``layer.rng``.
        batch : int
            Number of examples in the step's input (for per-example masks).

        Returns
        -------
        Keep
            What the layer applies in this forward pass and its backward.
        """
        keep = self._sample(layer, batch, self.step)
        self.step += 1
        return keep

    def _sample(self, layer, batch: int, step: int) -> Keep:
        """The :class:`Keep` of training step ``step`` (0 first): what subclasses implement."""
        raise NotImplementedError

    def inference(self, layer) -> Keep:
        """What the layer applies at evaluation.

        Parameters
        ----------
        layer : WeightedLayer
            The layer the rule is attached to.

        Returns
        -------
        Keep
            ``NO_KEEP`` (the plain weights) unless a rule overrides it.
        """
        return NO_KEEP


def apply_units(y: np.ndarray, units: np.ndarray | None, batch: int) -> np.ndarray:
    """y * keep.units for a (batch * positions, units) output matrix.

    A (units,) mask applies to every row, a (batch, units) mask to the rows of
    its example (positions: 1 for a dense layer, OH OW for a convolution).

    Parameters
    ----------
    y : ndarray of shape (batch * positions, units)
        Output (or output gradient) matrix, rows grouped by example.
    units : ndarray of bool of shape (units,) or (batch, units), or None
        The unit keep-mask; None leaves ``y`` alone.
    batch : int
        Number of examples.

    Returns
    -------
    ndarray of shape (batch * positions, units)
        A new masked array, or ``y`` itself when ``units`` is None.
    """
    if units is None:
        return y
    if units.ndim == 1:
        return y * units
    return (y.reshape(batch, -1, y.shape[-1]) * units[:, None, :]).reshape(y.shape)


NO_KEEP = Keep()


def check_weight_size(entries: int, what: str, owner: str) -> None:
    """Refuse a weight of more than ``MAX_ELEMENTS`` (2^31) entries: a mistake, not a layer.

    Parameters
    ----------
    entries : int
        The number of entries the weight would have.
    what : str
        The arguments that made it, as the message shows them.
    owner : str
        The layer class, for the message.

    Raises
    ------
    ValueError
        If ``entries`` exceeds ``MAX_ELEMENTS``.
    """
    if entries > MAX_ELEMENTS:
        raise ValueError(
            f"{owner}: {what} make a weight of {entries:,} entries; at most {MAX_ELEMENTS:,} (2**31) are allowed."
        )


# The last two parameters of the weighted layers' constructors (Dense, Conv2D).
DTYPE_AND_NAME = """
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        dtype of the parameters and of the input the layer takes.
    name : str or None, default=None
        The layer's name.
    """


class WeightedLayer(Module):
    """Base of the layers with a (fan_in, units) weight that can carry one weight-noise rule.

    Subclasses (``Dense``, ``Conv2D``) set the attributes below and call
    ``_step_weight``, ``_step_bias`` and ``_mask_grads`` in forward and backward.

    Parameters
    ----------
    name : str or None, default=None
        The layer's name.

    Attributes
    ----------
    weight : Parameter
        W, of shape (fan_in, units): column o holds the incoming weights of unit o.
    bias : Parameter or None
        b, of shape (units,).
    rng : numpy.random.Generator
        The layer's generator; its weight-noise rule draws from it.
    """

    weight: Parameter
    bias: Parameter | None
    rng: np.random.Generator
    fan_in: int  # the rows of W
    units: int  # the columns of W
    _keep = NO_KEEP
    _noise: WeightNoise | None = None
    _masked_weight: np.ndarray | None = None

    @property
    def noise(self) -> WeightNoise | None:
        """The layer's weight-noise rule, a :class:`WeightNoise` or None (TypeError otherwise)."""
        return self._noise

    @noise.setter
    def noise(self, rule) -> None:
        if rule is not None and not isinstance(rule, WeightNoise):
            raise TypeError(
                f"{self!r}: noise must be a tdnumpy.nn.noise.WeightNoise or None. Got {type(rule).__name__} instead."
            )
        self._noise = rule
        if rule is not None:
            rule.attach(self)
            for param in rule.parameters():
                param.name = f"{self.name}.{param.name.rsplit('.', 1)[-1]}"

    @property
    def splittable(self) -> bool:
        """True without a weight-noise rule or with one whose masks a split step can
        draw once for the whole batch (:attr:`WeightNoise.splittable`)."""
        return self._noise is None or self._noise.splittable

    def replica(self):
        clone = super().replica()
        clone._masked_weight = None  # W * keep of its own: the replicas run at the same time
        return clone

    def parameters(self) -> list:
        own = [self.weight] if self.bias is None else [self.weight, self.bias]
        return own if self._noise is None else own + self._noise.parameters()

    def _perturb(self, rows: np.ndarray, y: np.ndarray, training: bool) -> np.ndarray:
        """y, or in training the pre-activations of a rule that perturbs them."""
        if training and self._noise is not None and self._noise.perturbs_output:
            return self._noise.perturb(self, rows, y)
        return y

    def _rule_backward(self, grad: np.ndarray, input_grad: bool) -> np.ndarray | None:
        """The rule's part of backward (see :meth:`WeightNoise.backward`)."""
        return None if self._noise is None else self._noise.backward(self, grad, input_grad)

    def _step_weight(self, training: bool, batch: int) -> np.ndarray:
        """This pass's effective weight W * keep.weight * keep.weight_scale; draws
        the step's masks in training, takes the rule's inference ones otherwise."""
        if self._noise is None:
            self._keep = NO_KEEP
        else:
            self._keep = self._noise.sample(self, batch) if training else self._noise.inference(self)
        keep, w = self._keep, self.weight.value
        if keep.weight is None and keep.weight_scale == 1.0:
            return w
        if keep.weight is not None and keep.weight.ndim == 3:  # one mask per example
            out = w * keep.weight
        else:
            out = self._masked_weight
            if out is None or out.shape != w.shape or out.dtype != w.dtype or out.strides != w.strides:
                out = self._masked_weight = np.empty_like(w)  # reused across steps, in w's memory order
            if keep.weight is None:
                np.copyto(out, w)
            else:
                np.multiply(w, keep.weight, out=out)
        if keep.weight_scale != 1.0:
            out *= w.dtype.type(keep.weight_scale)
        return out

    def _step_bias(self) -> np.ndarray | None:
        """The effective bias b * keep.bias * keep.bias_scale of this pass."""
        if self.bias is None:
            return None
        b, keep = self.bias.value, self._keep
        if keep.bias is not None:
            b = b * keep.bias
        if keep.bias_scale != 1.0:
            b = b * b.dtype.type(keep.bias_scale)
        return b

    def _mask_grads(self) -> None:
        """Mask and scale the gradients of W and b exactly as the forward pass masked
        and scaled them (per-example masks are applied by the layer's backward)."""
        keep = self._keep
        _mask_grad(self.weight.grad, keep.weight, keep.weight_scale)
        if self.bias is not None:
            _mask_grad(self.bias.grad, keep.bias, keep.bias_scale)


def _mask_grad(grad: np.ndarray, mask: np.ndarray | None, scale: float) -> None:
    if mask is not None and mask.ndim == grad.ndim:
        grad *= mask
    if scale != 1.0:
        grad *= grad.dtype.type(scale)


def choose_layers(model, layers=None) -> list[str]:
    """Names of the weighted layers of ``model`` that ``layers`` picks.

    Parameters
    ----------
    model : Sequential
        The model.
    layers : iterable of str or None, default=None
        Names of weighted layers; None picks them all.

    Returns
    -------
    list of str
        The chosen names: ``layers`` in its order, or all in network order.

    Raises
    ------
    TypeError
        If ``model`` is not a model with layers, or ``layers`` is a single string.
    ValueError
        If a name is not that of a weighted layer of ``model``, or is given twice.
    """
    if not isinstance(getattr(model, "layers", None), (list, tuple)):
        raise TypeError(
            f"The 'model' parameter must be a model with layers (a Sequential). Got {type(model).__name__} instead."
        )
    if isinstance(layers, str):
        raise TypeError(
            f"The 'layers' parameter must be a list of layer names, not the string {layers!r}; write [{layers!r}]."
        )
    if layers is not None and (not isinstance(layers, (list, tuple)) or not all(isinstance(n, str) for n in layers)):
        raise TypeError(f"The 'layers' parameter must be None or a list of layer names. Got {layers!r} instead.")
    names = [layer.name for layer in model.layers if isinstance(layer, WeightedLayer)]
    chosen = names if layers is None else list(layers)
    repeated = sorted({n for n in chosen if chosen.count(n) > 1}, key=str)
    if repeated:
        raise ValueError(f"The 'layers' parameter names {', '.join(map(repr, repeated))} more than once.")
    unknown = [n for n in chosen if n not in names]
    if unknown:
        raise ValueError(
            f"No weighted layer named {', '.join(map(repr, unknown))}; "
            f"the weighted layers are {', '.join(map(repr, names))}."
        )
    return chosen


def attach(model, make, layers=None) -> list[str]:
    """Give each chosen weighted layer of ``model`` its own rule ``make()``.

    Parameters
    ----------
    model : Sequential
        The model.
    make : callable
        Called once per chosen layer, without arguments; returns a WeightNoise
        (or None, which removes the layer's rule).
    layers : iterable of str or None, default=None
        Names of weighted layers, as for :func:`choose_layers`; None: all.

    Returns
    -------
    list of str
        Names of the layers that got a rule.

    Raises
    ------
    ValueError
        If a name is not that of a weighted layer of ``model``.
    """
    chosen = choose_layers(model, layers)
    for layer in model.layers:
        if layer.name in chosen:
            layer.noise = make()
    return chosen

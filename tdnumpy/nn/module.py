"""Parameters, modules and the Sequential container.

There is no autograd. Every module pairs a ``forward(x, training)`` that
remembers what it needs with a ``backward(grad_out)`` that returns dL/dx and
*overwrites* (never accumulates into) the ``grad`` of each of its parameters.
"""

from __future__ import annotations

import copy

from typing import Any, TypeVar

import numpy as np


class Parameter:
    """A trainable array with its gradient and an optional fixed keep-mask.

    Parameters
    ----------
    value : ndarray
        The initial array, float32 or float64; stored as is, not copied.
    name : str, default=""
        The parameter's name; :class:`Sequential` makes it ``<layer>.<name>``.

    Attributes
    ----------
    value : ndarray
        The array itself, updated in place by the optimisers.
    grad : ndarray
        dL/d(value) from the latest ``backward``, same shape and dtype.
    mask : ndarray of bool or None
        A fixed keep-mask (True = kept) set by pruning. While a mask is set the
        invariant ``value[~mask] == 0`` holds: :meth:`set_mask` zeroes the
        pruned entries and the optimisers zero their gradients before every
        update, so the pruned entries and their optimiser state stay exactly 0.
    name : str
        The full name, e.g. ``"fc1.weight"``.
    """

    __slots__ = ("value", "grad", "mask", "name")

    def __init__(self, value: np.ndarray, name: str = ""):
        self.value = value
        self.grad = np.zeros_like(value)
        self.mask: np.ndarray | None = None
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``value``."""
        return self.value.shape

    @property
    def dtype(self) -> np.dtype:
        """dtype of ``value``."""
        return self.value.dtype

    @property
    def size(self) -> int:
        """Number of entries of ``value``, pruned ones included."""
        return self.value.size

    def set_mask(self, keep: np.ndarray | None) -> None:
        """Fix a keep-mask (or remove it with ``None``) and zero what it drops.

        Parameters
        ----------
        keep : ndarray of bool or None
            Keep-mask of the value's shape (True = kept), copied in the value's
            memory order; the dropped entries of ``value`` and ``grad`` are set
            to +0.0. None removes the mask and leaves the values alone.

        Raises
        ------
        ValueError
            If ``keep`` is not a boolean array of the value's shape.
        """
        if keep is None:
            self.mask = None
            return
        keep = np.asarray(keep)
        if keep.dtype != np.bool_ or keep.shape != self.value.shape:
            raise ValueError(
                f"The mask of parameter {self.name!r} must be a boolean array of shape "
                f"{self.value.shape}. Got dtype {keep.dtype} and shape {keep.shape} instead."
            )
        self.mask = np.empty_like(self.value, dtype=bool)  # the value's memory order
        self.mask[...] = keep
        np.copyto(self.value, 0, where=~self.mask)  # +0.0, where multiplying would leave -0.0
        np.copyto(self.grad, 0, where=~self.mask)

    def twin(self) -> "Parameter":
        """A parameter with this one's value array (shared, not copied) and name,
        the mask it has now, and a gradient of its own: the parameter of a
        replica layer that computes gradients on part of a batch
        (:meth:`Module.replica`). Layers never read a mask, so a twin's mask is
        not kept in step with the original's.

        Returns
        -------
        Parameter
            ``twin.value is self.value``; ``twin.grad`` is a new zero array.
        """
        twin = Parameter(self.value, self.name)
        twin.mask = self.mask
        return twin

    def __repr__(self) -> str:
        masked = "" if self.mask is None else f", {int(self.mask.sum())} kept"
        return f"Parameter({self.name!r}, shape={self.shape}, dtype={self.dtype}{masked})"


_M = TypeVar("_M", bound="Module")
_S = TypeVar("_S", bound="Sequential")


class Module:
    """Base class of every layer.

    Subclasses set ``kind`` (the prefix of automatic layer names such as
    ``fc1``) and implement ``forward`` and ``backward``; weighted layers also
    override ``parameters``. ``module(x, training)`` is ``module.forward(x, training)``.

    Parameters
    ----------
    name : str or None, default=None
        The layer's name; :class:`Sequential` names an unnamed layer ``<kind><count>``.
    """

    kind = "module"
    name: Any  # a str once a Sequential has named the module (None before): what model code indexes by

    def __init__(self, name: str | None = None):
        self.name = name

    @property
    def splittable(self) -> bool:
        """Whether a training step may run this module on parts of a batch separately.

        True only where a training forward and backward treat examples one by
        one and draw nothing at random inside the forward pass, so the parts'
        outputs are the rows of the whole batch's output and the parameter
        gradients add up over the parts (:mod:`tdnumpy.training.split`, which
        draws a weight-noise rule's masks itself, once per batch). False unless
        a subclass says otherwise: dropout draws its masks in forward.
        """
        return False

    def replica(self: _M) -> _M:
        """A copy for computing on part of a batch: same class and settings, the
        parameters' value arrays shared (:meth:`Parameter.twin`), its own
        gradients, scratch arrays and record of the last forward pass.
        Everything else is shared, a weight-noise rule included (a split step,
        :mod:`tdnumpy.training.split`, gives its replicas' layers rules of their
        own).

        Returns
        -------
        Module
            The replica; training updates the shared values through the original.
        """
        clone = copy.copy(self)
        for attribute, value in vars(self).items():
            if isinstance(value, Parameter):
                setattr(clone, attribute, value.twin())
        return clone

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Compute the output and remember what ``backward`` needs.

        Parameters
        ----------
        x : ndarray
            Input batch, examples along axis 0: (batch, fan_in) for dense
            layers, (batch, channels, height, width) for conv and pool layers.
            float32 or float64; a weighted layer takes only its own dtype.
        training : bool, default=False
            Training pass: noise (dropout, weight-noise rules) is drawn. At
            evaluation the layer applies its deterministic inference rule.

        Returns
        -------
        ndarray
            The output batch, in the dtype of ``x``.
        """
        raise NotImplementedError

    def _check_grad(self, grad_out, expected_shape, expected_dtype) -> None:
        """The checks every backward makes: forward came first (``expected_shape``
        is None before it), and grad_out has the shape and dtype of the forward output."""
        if expected_shape is None:
            raise RuntimeError(f"{self!r}: backward was called before forward.")
        if not isinstance(grad_out, np.ndarray) or grad_out.shape != tuple(expected_shape):
            shape = getattr(grad_out, "shape", type(grad_out).__name__)
            raise ValueError(
                f"{self!r}: grad_out must have the shape of the forward output, "
                f"{tuple(expected_shape)}. Got {shape} instead."
            )
        if grad_out.dtype != expected_dtype:
            raise TypeError(
                f"{self!r}: grad_out must be {expected_dtype} like the forward output. Got {grad_out.dtype} instead."
            )

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill each parameter's ``grad`` and return dL/dx.

        Differentiates the latest ``forward``, with the noise it drew held
        fixed. Each ``grad`` is overwritten, never accumulated into.

        Parameters
        ----------
        grad_out : ndarray
            dL/dy, of the shape and dtype of the latest forward output.
        input_grad : bool, default=True
            If False, a weighted layer skips dL/dx and returns None: the first
            layer of a network never needs it. Other layers ignore it.

        Returns
        -------
        ndarray or None
            dL/dx, shaped like the latest forward input; None when skipped.

        Raises
        ------
        RuntimeError
            If ``forward`` has not been called yet.
        ValueError
            If ``grad_out`` is not an array of the forward output's shape.
        TypeError
            If ``grad_out`` has another dtype than the forward output.
        """
        raise NotImplementedError

    def parameters(self) -> list[Parameter]:
        """The trainable parameters.

        Returns
        -------
        list of Parameter
            Weight then bias for a weighted layer; empty for the others.
        """
        return []

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse.

    Layers without a name are named ``<kind><count>`` (``fc1``, ``relu1``,
    ``fc2`` ...), and each parameter as ``<layer>.<parameter>`` (``fc1.weight``).
    At evaluation a weighted layer whose rule has ``integrates_activation``
    (DropConnect's Gaussian inference) is computed together with the
    element-wise activation after it, by the rule's ``infer``.

    Parameters
    ----------
    *layers : Module
        The layers, input to output; unnamed ones are named here.
    spec : str or None, default=None
        The model spec of :func:`tdnumpy.nn.models.build_model`; a checkpoint records it.
    input_shape : tuple of int or None, default=None
        Shape of one example, without the batch axis (e.g. (784,) or (1, 28, 28));
        a checkpoint records it.
    name : str or None, default=None
        The container's name.

    Attributes
    ----------
    layers : list of Module
        The layers, in order.

    Raises
    ------
    TypeError
        If a layer is not a Module.
    ValueError
        If two layers have the same name.
    """

    kind = "seq"

    def __init__(self, *layers: Module, spec: str | None = None, input_shape=None, name=None):
        super().__init__(name)
        counts: dict[str, int] = {}
        seen = set()
        for layer in layers:
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential takes Module instances. Got {type(layer).__name__}.")
            if layer.name is None:
                counts[layer.kind] = counts.get(layer.kind, 0) + 1
                layer.name = f"{layer.kind}{counts[layer.kind]}"
            if layer.name in seen:
                raise ValueError(f"Two layers of Sequential are named {layer.name!r}.")
            seen.add(layer.name)
            for param in layer.parameters():
                param.name = f"{layer.name}.{param.name.rsplit('.', 1)[-1]}"
        self.layers = list(layers)
        self.spec = spec
        if input_shape is not None and (
            not isinstance(input_shape, (tuple, list))
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in input_shape)
        ):
            raise TypeError(
                f"The 'input_shape' parameter of Sequential must be None or a tuple of positive ints. "
                f"Got {input_shape!r} instead."
            )
        self.input_shape = None if input_shape is None else tuple(input_shape)

    def forward(self, x, training=False):
        if not isinstance(training, (bool, np.bool_)):
            raise TypeError(
                f"The 'training' parameter of {self!r}.forward must be True or False. "
                f"Got {type(training).__name__} instead."
            )
        i = 0
        while i < len(self.layers):
            layer = self.layers[i]
            rule = getattr(layer, "noise", None)
            if not training and getattr(rule, "integrates_activation", False):
                # evaluation that integrates over the activation (DropConnect's
                # moment matching): the layer and the element-wise activation
                # after it, if any, are computed together
                after = self.layers[i + 1] if i + 1 < len(self.layers) else None
                activation = after if hasattr(after, "f") else None
                x = rule.infer(layer, x, activation)
                i += 1 if activation is None else 2
                continue
            x = layer.forward(x, training)
            i += 1
        return x

    def insert_after(self, name: str, module: "Module") -> None:
        """Insert ``module`` right after the layer called ``name``.

        Parameters
        ----------
        name : str
            Name of the layer to insert after.
        module : Module
            The module to insert. If unnamed, it is named ``<kind><count>``
            with the first count not taken. Its parameters are named
            ``<module name>.<parameter>``.

        Raises
        ------
        KeyError
            If no layer is called ``name``.
        ValueError
            If a layer is already called ``module.name``.
        """
        index = self.layers.index(self.layer(name)) + 1
        if module.name is None:
            count = 1 + sum(layer.kind == module.kind for layer in self.layers)
            module.name = f"{module.kind}{count}"
            while any(layer.name == module.name for layer in self.layers):
                count += 1
                module.name = f"{module.kind}{count}"
        elif any(layer.name == module.name for layer in self.layers):
            raise ValueError(f"Sequential already has a layer named {module.name!r}.")
        self.layers.insert(index, module)
        for param in module.parameters():
            param.name = f"{module.name}.{param.name.rsplit('.', 1)[-1]}"

    def replace(self, name: str, module: "Module") -> None:
        """Put ``module`` in the place of the layer called ``name``; it takes that name.

        Parameters
        ----------
        name : str
            Name of the layer to replace.
        module : Module
            The replacement; its ``name`` is overwritten (its parameters' are not).

        Raises
        ------
        KeyError
            If no layer is called ``name``.
        """
        index = self.layers.index(self.layer(name))
        module.name = name
        self.layers[index] = module

    def backward(self, grad_out, input_grad=True):
        g = grad_out
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            g = self.layers[i].backward(g, input_grad=input_grad if i == 0 else True)
        return g

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    @property
    def splittable(self) -> bool:
        return all(layer.splittable for layer in self.layers)

    def replica(self: _S) -> _S:
        clone = copy.copy(self)
        clone.layers = [layer.replica() for layer in self.layers]
        return clone

    def named_parameters(self) -> dict[str, Parameter]:
        """Parameters by their full name, in network order.

        Returns
        -------
        dict of str to Parameter
            ``{"fc1.weight": ..., "fc1.bias": ..., ...}``.
        """
        return {p.name: p for p in self.parameters()}

    def layer(self, name: str) -> Module:
        """The layer called ``name``.

        Parameters
        ----------
        name : str
            A layer's name, e.g. ``"fc1"``.

        Returns
        -------
        Module
            The layer.

        Raises
        ------
        KeyError
            If no layer is called ``name``; the message lists the names.
        """
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = ", ".join(repr(layer.name) for layer in self.layers)
        raise KeyError(f"No layer named {name!r}; the layers are {names}.")

    def n_parameters(self) -> int:
        """Number of trainable scalars.

        Returns
        -------
        int
            Total size of the parameters, pruned entries included.
        """
        return sum(p.size for p in self.parameters())

    @property
    def dtype(self) -> np.dtype:
        """dtype of the parameters (float32 for a model without any)."""
        params = self.parameters()
        return params[0].dtype if params else np.dtype(np.float32)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"


def check_model(model, name: str, owner: str) -> Sequential:
    """Return ``model`` if it is a :class:`Sequential`.

    Parameters
    ----------
    model : object
        The argument.
    name, owner : str
        The parameter's name and the function it was given to, for the message.

    Returns
    -------
    Sequential
        ``model``.

    Raises
    ------
    TypeError
        If ``model`` is not a Sequential.
    """
    if not isinstance(model, Sequential):
        raise TypeError(
            f"The {name!r} parameter of {owner} must be a tdnumpy.nn.Sequential model. "
            f"Got {type(model).__name__} instead."
        )
    return model

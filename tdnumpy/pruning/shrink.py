"""Removing dead units from a pruned network, for real: smaller matrices, not masks.

Han et al. 2015, "Learning both Weights and Connections for Efficient Neural
Networks", section 3: "neurons with zero input connections or zero output
connections may be safely pruned". For two consecutive weighted layers

    A -> (element-wise activations, pooling, Flatten, dropout modules) -> B

hidden unit j of A (column j of A's weight matrix; for a convolution, output
channel j) is *dead* when

(a) it is silent: every incoming weight W_A[:, j] is pruned, its bias is pruned
    (or the layer has none), and every module between A and B maps 0 to 0, so
    what reaches B from unit j is exactly 0. ReLU, tanh, max and average
    pooling, Flatten, the dropout modules and a standout wrapping ReLU or tanh
    map 0 to 0; **sigmoid does not** (sigmoid(0) = 1/2), so behind a sigmoid a
    silent unit still sends B a constant and is kept; or
(b) it is unheard: every weight of B that reads unit j is pruned.

An entry of a parameter is *pruned* when its keep-mask is False; in a
parameter without a mask, when it is exactly 0. Which rows of B's weight read
unit j of A:

- Dense -> Dense: row j.
- Conv2D -> Conv2D (pooling, activations between): the rows of B's weight are
  in (i, j, c) order (:mod:`tdnumpy.nn.im2col`), row r = (i kw + j) C + c, so
  input channel c is read by rows r with r mod C = c, kh kw rows in all.
- Conv2D -> ... -> Flatten -> Dense: Flatten takes (N, C, H, W) to (N, C H W)
  in C order, row r = c H W + h W + w, so channel c is read by the block of
  H W rows r with r // (H W) = c. H W is B's fan_in divided by C.

None of these modules mixes units, which is what makes rule (b) sound.
Removing unit j deletes column j of A's weight, A's bias j and the rows of B
that read it (for a convolution B, input channel j, so B.in_channels
shrinks), masks included. A removal can make more units dead (a unit whose
only unpruned inputs came from removed units, or whose only unpruned outputs
went to them), so :func:`remove_dead_units` repeats passes until no unit is
dead. Every pass removes, together, all the units found dead at its start;
each of them contributes exactly nothing, so the network's outputs are those
of the input model up to floating-point rounding (a matrix product summing
fewer zero terms may round differently).

Never removed: the network's inputs, its outputs (the last layer's units are
the classes), and the last unit of a layer: when every unit of a hidden layer
is dead (the network's output is then constant), the one of lowest index is
kept, dead as it is, since a layer of width 0 cannot be built.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .._docs import shared_docstring
from ..nn.models import NAMED, is_lenet5_spec, parse_lenet5_spec, parse_mlp_spec
from ..nn import (
    AvgPool2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GaussianDropout,
    MaxPool2D,
    Sequential,
    SpatialDropout,
    Standout,
)
from ..nn.weighted import WeightedLayer

# modules that act on each unit (or channel) alone and map 0 to 0
_UNITWISE_ZERO_TO_ZERO = (MaxPool2D, AvgPool2D, Flatten, Dropout, GaussianDropout, SpatialDropout)


@dataclass(frozen=True)
class ShrinkReport:
    """What :func:`remove_dead_units` did.

    Parameters
    ----------
    model : Sequential
        The new, smaller model (the input model is left untouched).
    removed, kept : dict of str to ndarray of int
        Per weighted layer, the indices in the *input* model of the units
        removed and kept, ascending: unit k of a new layer is unit
        ``kept[name][k]`` of the old one. The last layer removes nothing.
    parameters_before, parameters_after : int
        ``n_parameters()`` of the input and of the new model.
    passes : int
        Removal passes made until no unit was dead (0: nothing was dead).
    notes : tuple of str, default ()
        What else changed: the weight-noise rules dropped, one note per layer.
    """

    model: Sequential
    removed: dict
    kept: dict
    parameters_before: int
    parameters_after: int
    passes: int
    notes: tuple = ()

    def summary(self) -> str:
        """One line: the widths before and after and the parameter counts.

        Returns
        -------
        str
            E.g. ``fc1: 300 -> 290 units; ...; parameters 266,610 -> 256,255 (2 passes)``.
        """
        widths = "; ".join(
            f"{name}: {len(self.kept[name]) + len(gone)} -> {len(self.kept[name])} units"
            for name, gone in self.removed.items()
        )
        return (
            f"{widths}; parameters {self.parameters_before:,} -> {self.parameters_after:,} "
            f"({self.passes} pass{'es' if self.passes != 1 else ''})"
        )


@dataclass(frozen=True)
class _Junction:
    """How a weighted layer B reads the units of the weighted layer A before it.

    ``passes_zero``: every module between A and B maps 0 to 0 (rule (a) applies).
    ``positions``: the rows of B that read one unit of A (1 for Dense -> Dense,
    kh kw for Conv2D -> Conv2D, H W through a Flatten). ``interleaved``: row r
    reads unit r mod units (Conv2D -> Conv2D); otherwise unit r // positions.
    """

    passes_zero: bool
    positions: int
    interleaved: bool

    def by_unit(self, per_row) -> np.ndarray:
        """A per-row array of B regrouped as (units of A, positions)."""
        if self.interleaved:
            return per_row.reshape(self.positions, -1).T
        return per_row.reshape(-1, self.positions)

    def rows(self, per_unit: np.ndarray) -> np.ndarray:
        """A per-unit array of A spread over the rows of B that read each unit."""
        if self.interleaved:
            return np.tile(per_unit, self.positions)
        return np.repeat(per_unit, self.positions)


@dataclass
class _Arrays:
    """A weighted layer's parameters as plain arrays while units are removed.
    Removal replaces the arrays by smaller copies, never writes into them."""

    weight: np.ndarray
    weight_mask: np.ndarray | None
    bias: np.ndarray | None
    bias_mask: np.ndarray | None
    kept: np.ndarray  # indices, in the input model, of the units still here

    @classmethod
    def of(cls, layer: WeightedLayer) -> "_Arrays":
        b = layer.bias
        return cls(
            layer.weight.value,
            layer.weight.mask,
            None if b is None else b.value,
            None if b is None else b.mask,
            np.arange(layer.weight.shape[1]),
        )

    @property
    def units(self) -> int:
        return self.weight.shape[1]

    def pruned_weight(self) -> np.ndarray:
        return _pruned(self.weight, self.weight_mask)

    def pruned_bias(self) -> np.ndarray:
        """Per unit: its bias is pruned, or the layer has no bias."""
        return np.ones(self.units, bool) if self.bias is None else _pruned(self.bias, self.bias_mask)

    def keep_units(self, keep: np.ndarray) -> None:
        self.weight, self.weight_mask = self.weight[:, keep], _take(self.weight_mask, (slice(None), keep))
        if self.bias is not None:
            self.bias, self.bias_mask = self.bias[keep], _take(self.bias_mask, keep)
        self.kept = self.kept[keep]

    def keep_rows(self, keep: np.ndarray) -> None:
        self.weight, self.weight_mask = self.weight[keep], _take(self.weight_mask, keep)


def _pruned(value: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Pruned entries: mask False; without a mask, exactly 0."""
    return value == 0 if mask is None else ~mask


def _take(mask: np.ndarray | None, index):
    return None if mask is None else mask[index]


def _maps_zero_to_zero(module) -> bool:
    """Whether a module between two weighted layers sends a unit that is 0
    everywhere to 0. Every module accepted here acts on each unit (channel)
    alone; any other module is refused with a TypeError."""
    if isinstance(module, _UNITWISE_ZERO_TO_ZERO):
        return True
    if isinstance(module, Standout):  # h = m g(a) or pi g(a): 0 when g(0) = 0
        return _maps_zero_to_zero(module.activation)
    if callable(getattr(module, "f", None)):  # an element-wise activation
        return bool(np.all(module.f(np.zeros(1)) == 0))
    raise TypeError(
        f"Removing dead units needs to know how each module between two weighted layers treats "
        f"a unit; it knows element-wise activations, pooling, Flatten and the dropout modules. "
        f"Got {module!r} ({type(module).__name__})."
    )


def _junction(a: WeightedLayer, between: list, b: WeightedLayer) -> _Junction:
    """How ``b`` reads the units of ``a`` through the modules ``between`` them."""
    passes_zero = all([_maps_zero_to_zero(m) for m in between])  # a list: every module checked
    flattened = any(isinstance(m, Flatten) for m in between)
    if isinstance(a, Conv2D) and isinstance(b, Conv2D) and not flattened:
        if b.in_channels != a.out_channels:
            raise ValueError(f"{b!r} reads {b.in_channels} channels but {a!r} makes {a.out_channels}.")
        return _Junction(passes_zero, b.kh * b.kw, interleaved=True)
    if isinstance(b, Dense) and (flattened or isinstance(a, Dense)):
        positions, rest = divmod(b.fan_in, a.units)
        if rest or (isinstance(a, Dense) and positions != 1):
            raise ValueError(
                f"{b!r} has {b.fan_in} inputs, which do not split evenly over the {a.units} units of {a!r}."
            )
        return _Junction(passes_zero, positions, interleaved=False)
    raise ValueError(
        f"Removing dead units handles Dense -> Dense, Conv2D -> Conv2D and Conv2D -> Flatten "
        f"-> Dense. Got {a!r} -> {b!r}."
    )


def _chain(model) -> tuple[list[WeightedLayer], list[_Junction]]:
    """The weighted layers of ``model`` in order, and the junction before each but the first."""
    if not isinstance(model, Sequential):
        raise TypeError(f"The 'model' parameter must be a tdnumpy Sequential. Got {type(model).__name__}.")
    weighted: list[WeightedLayer] = []
    junctions: list[_Junction] = []
    between: list = []
    for module in model.layers:
        if isinstance(module, WeightedLayer):
            if not isinstance(module, (Dense, Conv2D)):
                raise TypeError(f"Removing dead units handles Dense and Conv2D layers. Got {module!r}.")
            if weighted:
                junctions.append(_junction(weighted[-1], between, module))
            weighted.append(module)
            between = []
        elif weighted:
            between.append(module)
    return weighted, junctions


def _dead_between(a: _Arrays, b: _Arrays, junction: _Junction) -> np.ndarray:
    """Per unit of ``a``: dead by rule (a) or (b); if all are, all but the first."""
    silent = junction.passes_zero & a.pruned_weight().all(axis=0) & a.pruned_bias()
    read = ~b.pruned_weight().all(axis=1)  # per row of b: some unpruned weight reads it
    unheard = ~junction.by_unit(read).any(axis=1)
    dead = silent | unheard
    if dead.all():
        dead[0] = False  # a layer of width 0 cannot be built
    return dead


def _dead(arrays: list[_Arrays], junctions: list[_Junction]) -> list[np.ndarray]:
    """One pass: the dead units of every weighted layer (never of the last)."""
    dead = [_dead_between(a, b, j) for a, b, j in zip(arrays, arrays[1:], junctions)]
    return dead + [np.zeros(arrays[-1].units, bool)] if arrays else []


def _remove(arrays: list[_Arrays], junctions: list[_Junction], dead: list[np.ndarray]) -> None:
    """Drop the dead units: their columns and biases, and the rows of the next layer that read them."""
    for k, (a, gone) in enumerate(zip(arrays, dead)):
        a.keep_units(~gone)
        if k < len(junctions):
            arrays[k + 1].keep_rows(junctions[k].rows(~gone))


def _remove_until_none_dead(arrays: list[_Arrays], junctions: list[_Junction]) -> int:
    """Remove dead units pass after pass until none is left; return the number of passes."""
    passes = 0
    while True:
        dead = _dead(arrays, junctions)
        if not any(d.any() for d in dead):
            return passes
        _remove(arrays, junctions, dead)
        passes += 1


# The parameter of dead_units and remove_dead_units.
_MODEL = """
    Parameters
    ----------
    model : Sequential
        Dense and Conv2D layers joined as the module docstring describes.
    """


@shared_docstring(model=_MODEL)
def dead_units(model) -> dict[str, np.ndarray]:
    """The units one pass of :func:`remove_dead_units` would remove. Nothing is changed.

    A unit is dead when it is silent (its incoming weights and bias pruned and
    the modules to the next weighted layer map 0 to 0: not behind a sigmoid) or
    unheard (every weight of the next layer that reads it pruned): Han et al.
    2015, section 3. See the module docstring for the rules.

    {{model}}

    Returns
    -------
    dict of str to ndarray of int
        By weighted layer name, the indices of its dead units, ascending; every
        weighted layer is listed, the last always with none.
    """
    weighted, junctions = _chain(model)
    dead = _dead([_Arrays.of(layer) for layer in weighted], junctions)
    return {layer.name: np.flatnonzero(d) for layer, d in zip(weighted, dead)}


def _changes_evaluation(rule, layer) -> bool:
    """Whether a weight-noise rule makes the layer's evaluation output differ
    from the plain X W + b (DropConnect: scaled weights or moment matching)."""
    keep = rule.inference(layer)
    return bool(
        rule.integrates_activation
        or keep.weight is not None
        or keep.units is not None
        or keep.bias is not None
        or keep.weight_scale != 1.0
        or keep.bias_scale != 1.0
    )


def _noise_notes(weighted: list[WeightedLayer]) -> list[str]:
    """A note for each weight-noise rule the shrunken layers will not carry;
    a ValueError for a rule that changes evaluation (dropping it would change the outputs)."""
    notes = []
    for layer in weighted:
        rule = layer.noise
        if rule is None:
            continue
        if _changes_evaluation(rule, layer):
            raise ValueError(
                f"{layer!r} carries a {type(rule).__name__} rule that changes its evaluation "
                f"output, and the shrunken layer cannot carry it (the rule's state is shaped for "
                f"the old layer). Detach it first (layer.noise = None) if the plain layer is "
                f"what should be shrunk."
            )
        notes.append(
            f"{layer.name}: its {type(rule).__name__} weight-noise rule was dropped (its state is "
            f"shaped for the old layer); attach a new rule to train the shrunken model."
        )
    return notes


def _spec_maker(model, weighted: list[WeightedLayer]):
    """A function from the new widths of the weighted layers to the new model's
    spec, after checking that ``model.spec`` describes ``model``: ``lenet5``
    specs give ``lenet5:<c1>-<c2>-<fc>``, ``mlp`` specs (and ``lenet300``)
    ``mlp:<sizes>:<activation>``, and a model without a spec gets none."""
    spec = model.spec
    if spec is None:
        return lambda widths: None
    needs = (
        "Removing dead units needs a model built from an 'mlp:...' (or 'lenet300') or a 'lenet5[:c1-c2-fc]' "
        "spec, or one without a spec, so that the smaller model gets a spec that rebuilds it."
    )
    if not isinstance(spec, str):
        raise ValueError(f"{needs} Got model.spec = {spec!r}.")
    units = [layer.units for layer in weighted]
    try:
        if is_lenet5_spec(spec):
            described, actual = [*parse_lenet5_spec(spec), 10], units

            def make(widths):
                return "lenet5:{}-{}-{}".format(*widths[:3])
        else:
            sizes, activation = parse_mlp_spec(NAMED.get(spec, spec))
            described, actual = sizes, [weighted[0].fan_in, *units] if weighted else []

            def make(widths):
                return f"mlp:{sizes[0]}-{'-'.join(map(str, widths))}:{activation}"
    except ValueError:
        raise ValueError(f"{needs} Got model.spec = {spec!r}.") from None
    if actual != described:
        raise ValueError(
            f"model.spec = {spec!r} does not describe the model, whose weighted layers have {units} units."
        )
    return make


def _rebuild(layer: WeightedLayer, arrays: _Arrays) -> WeightedLayer:
    """A new layer like ``layer`` holding ``arrays`` (values and masks), with a
    copy of its generator and no weight-noise rule."""
    fan_in, units = arrays.weight.shape
    scratch = np.random.default_rng(0)  # for the constructor's initial weights, overwritten at once
    kwargs = dict(rng=scratch, bias=layer.bias is not None, dtype=layer.weight.dtype, name=layer.name)
    new: WeightedLayer
    if isinstance(layer, Conv2D):
        new = Conv2D(
            fan_in // (layer.kh * layer.kw),
            units,
            (layer.kh, layer.kw),
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            **kwargs,
        )
    else:
        new = Dense(fan_in, units, **kwargs)
    _fill(new.weight, arrays.weight, arrays.weight_mask)
    if new.bias is not None and arrays.bias is not None:
        _fill(new.bias, arrays.bias, arrays.bias_mask)
    new.rng = copy.deepcopy(layer.rng)
    return new


def _fill(param, value: np.ndarray, mask: np.ndarray | None) -> None:
    param.value[...] = value  # in the memory order the constructor chose
    param.set_mask(mask)


@shared_docstring(model=_MODEL)
def remove_dead_units(model) -> ShrinkReport:
    """Remove the dead units of ``model`` until none is left, into a new, smaller model.

    Han et al. 2015, section 3; the rules are in the module docstring. The
    input model is left untouched. The new model has the same layers by
    name and kind, the surviving weights, biases and masks, a copy of each
    layer's generator and of every other module, and a spec that
    :func:`tdnumpy.nn.models.build_model` rebuilds with the new widths (so its
    checkpoints load): ``mlp:784-290-95-10:relu`` for an mlp or ``lenet300``,
    ``lenet5:18-47-480`` for a LeNet-5; the spec is unchanged when nothing
    is removed, and a model without a spec gets none. Weight-noise rules are
    dropped, with a note in the report, since their state is shaped for the
    old layers.

    {{model}}

    Returns
    -------
    ShrinkReport
        The new model (``report.model``) and what was removed.

    Raises
    ------
    TypeError
        For another layer kind, or a module between weighted layers it does not know.
    ValueError
        For an unsupported junction, a spec that does not describe the model, or a
        weight-noise rule that changes the evaluation output (DropConnect):
        dropping it would change the network's outputs.
    """
    weighted, junctions = _chain(model)
    make_spec = _spec_maker(model, weighted)
    notes = _noise_notes(weighted)
    arrays = [_Arrays.of(layer) for layer in weighted]
    passes = _remove_until_none_dead(arrays, junctions)
    new_layers = {id(layer): _rebuild(layer, a) for layer, a in zip(weighted, arrays)}
    # the memo maps each old weighted layer to its rebuilt one, so a module that
    # refers to its layer (standout's source) refers to the new one
    layers = [new_layers.get(id(module)) or copy.deepcopy(module, dict(new_layers)) for module in model.layers]
    spec = make_spec([a.units for a in arrays]) if passes else model.spec
    new = Sequential(*layers, spec=spec, input_shape=model.input_shape, name=model.name)
    return ShrinkReport(
        model=new,
        removed={layer.name: np.setdiff1d(np.arange(layer.units), a.kept) for layer, a in zip(weighted, arrays)},
        kept={layer.name: a.kept for layer, a in zip(weighted, arrays)},
        parameters_before=model.n_parameters(),
        parameters_after=new.n_parameters(),
        passes=passes,
        notes=tuple(notes),
    )

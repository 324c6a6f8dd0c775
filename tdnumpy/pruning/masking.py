"""Pruning a model, for good: the masks of :mod:`tdnumpy.masks` put into the
model's Parameters, prune-and-retrain (Han et al. 2015) and gradual pruning
during training (Zhu and Gupta 2017).

A pruned weight stays pruned. :meth:`tdnumpy.nn.Parameter.set_mask` stores the
keep-mask and zeroes what it drops; the optimisers zero the gradient and the
optimiser state of the pruned entries at every step, and checkpoints save and
restore the masks. Pruning again only ever removes more: each parameter's
mask is passed to the mask function as ``previous`` (see the pruning section
of :mod:`tdnumpy.masks`), so pruning at f then at f' >= f equals pruning at
f' once, and pruning twice at f equals pruning once.

Kinds (what ``amount`` means):

    weight   per column: the floor(f N_row) smallest |W[i, o]| of every column o
             (the targeted-dropout paper's definition; equal to targeted
             weight dropout with gamma = f, alpha = 1)
    unit     the floor(f N_col) units of smallest ||W[:, o]||_2, weights and bias
    layer    the floor(f N_row N_col) smallest |W| of each layer
    global   the floor(f sum_l N_l) smallest |W| over all chosen layers together
    std      Han et al.'s rule |W| < q std(W), per layer; ``amount`` is q >= 0

``amount`` is one number for every chosen layer or a dict {layer: amount}.
Biases are never pruned except with their unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import masks
from .._validation import check_choice, check_real
from ..nn.dropout import _ActivationNoise
from ..nn.weighted import WeightedLayer, choose_layers
from ..training.schedules import PolynomialSparsity
from ..nn.module import check_model

KINDS = ("weight", "unit", "layer", "global", "std")


def prunable_layers(model, layers=None, *, kind: str = "weight") -> list[WeightedLayer]:
    """The weighted layers to prune.

    ``layers`` (names) or, by default, all of them, except for unit pruning,
    which by default leaves the output layer alone (its units are the classes).

    Parameters
    ----------
    model : Sequential
        The model whose weighted layers are chosen.
    layers : list of str, optional
        Names of weighted layers; an unknown name is a ValueError.
    kind : {"weight", "unit", "layer", "global", "std"}, default "weight"
        The pruning kind; only ``"unit"`` changes the default choice.

    Returns
    -------
    list of WeightedLayer
        The chosen layers, in the order of ``layers`` if given, else the model's.
    """
    names = choose_layers(model, layers)
    if layers is None and kind == "unit":
        names = names[:-1]
    return [model.layer(n) for n in names]


def _amounts(amount, chosen: list[WeightedLayer], kind: str) -> dict[str, float]:
    high = None if kind == "std" else 1.0
    name = "amount (quality)" if kind == "std" else "amount (fraction)"
    if isinstance(amount, dict):
        unknown = sorted(set(amount) - {layer.name for layer in chosen})
        if unknown:
            raise ValueError(
                f"The {name} of layers {unknown} was given, but the layers pruned are "
                f"{[layer.name for layer in chosen]}."
            )
        return {n: check_real(a, f"{name} of {n}", "prune", low=0.0, high=high) for n, a in amount.items()}
    value = check_real(amount, name, "prune", low=0.0, high=high)
    return {layer.name: value for layer in chosen}


_LAYER_RULES = {"weight": masks.weight_prune_keep, "layer": masks.magnitude_prune_keep, "std": masks.std_prune_keep}


def _set(param, keep: np.ndarray) -> None:
    if param.mask is None and keep.all():
        return  # nothing pruned: no mask, so the parameter still reads as unpruned
    param.set_mask(keep)


def _prune_units(layer: WeightedLayer, fraction: float, scores: np.ndarray | None = None) -> None:
    w = layer.weight
    before = None if w.mask is None else w.mask.any(axis=0)  # a unit with no weight left was pruned
    # ranked by column norm; scores (units,) rank as a one-row matrix, whose column norms they are
    ranked = w.value if scores is None else scores[None, :]
    units = masks.unit_prune_keep(ranked, fraction, before)  # includes the units pruned before
    for param, keep in ((w, np.broadcast_to(units, w.shape)), (layer.bias, units)):
        if param is not None:  # a unit's weights and bias go; what was pruned in them stays pruned
            _set(param, keep if param.mask is None else param.mask & keep)


def prune(model, kind: str, amount, layers=None, scores=None) -> list[dict]:
    """Prune ``model`` in place.

    See the module docstring for ``kind`` and ``amount``. The new masks are
    combined with those already set, so pruning only ever removes more.
    ``scores`` replace the magnitudes in the ranking (the same rules, ties
    and ``previous`` handling), for the sparsifying baselines' own
    importance (:func:`tdnumpy.pruning.learned.importance`).

    Parameters
    ----------
    model : Sequential
        The model; the chosen parameters' masks are set in place.
    kind : {"weight", "unit", "layer", "global", "std"}
        What is ranked and what ``amount`` means.
    amount : float or dict of str to float
        The fraction to prune, in [0, 1], or for ``"std"`` the quality q >= 0:
        one value for every chosen layer, or a dict {layer name: value} that
        prunes only the layers it names (not for ``"global"``).
    layers : list of str, optional
        The weighted layers to prune (default: :func:`prunable_layers`).
    scores : dict of str to ndarray, optional
        Per chosen layer, non-negative scores ranked in place of |W| (larger
        kept first): of W's shape, or for kind ``"unit"`` of shape (units,).
        Not for kind ``"std"``, whose threshold is in units of std(W).

    Returns
    -------
    list of dict
        :func:`report` of the chosen layers, one dict per layer.

    Raises
    ------
    ValueError
        If ``kind``, a layer name or an amount is invalid.
    TypeError
        If ``amount`` is a dict and ``kind`` is ``"global"``.
    """
    kind = check_choice(kind, "kind", "prune", KINDS)
    chosen = prunable_layers(model, layers, kind=kind)
    ranked = _check_scores(scores, chosen, kind)
    if kind == "global":
        if isinstance(amount, dict):
            raise TypeError("Global pruning takes one fraction for all layers, not a dict.")
        fraction = check_real(amount, "amount (fraction)", "prune", low=0.0, high=1.0)
        weights = [layer.weight for layer in chosen]
        for w, keep in zip(
            weights,
            masks.global_prune_keep([ranked[layer.name] for layer in chosen], fraction, [w.mask for w in weights]),
        ):
            _set(w, keep)
        return report(model, [layer.name for layer in chosen])
    for name, value in _amounts(amount, chosen, kind).items():
        layer = model.layer(name)
        if kind == "unit":
            _prune_units(layer, value, None if scores is None else ranked[name])
        else:
            _set(layer.weight, _LAYER_RULES[kind](ranked[name], value, layer.weight.mask))
    return report(model, [layer.name for layer in chosen])


def _check_scores(scores, chosen: list[WeightedLayer], kind: str) -> dict[str, np.ndarray]:
    """What each chosen layer is ranked by: its weight values, or the given scores (checked)."""
    if scores is None:
        return {layer.name: layer.weight.value for layer in chosen}
    if kind == "std":
        raise ValueError("Han et al.'s std pruning thresholds |W| itself; it takes no `scores`.")
    ranked = {}
    for layer in chosen:
        if layer.name not in scores:
            raise ValueError(f"`scores` has none for layer {layer.name!r}; it has {sorted(scores)}.")
        s = np.asarray(scores[layer.name])
        shape = (layer.units,) if kind == "unit" else layer.weight.shape
        if s.shape != shape or s.dtype.kind != "f" or not np.all(np.isfinite(s)) or (s < 0).any():
            raise ValueError(
                f"The scores of layer {layer.name!r} must be finite non-negative floats of shape "
                f"{shape} for kind {kind!r}. Got {s.dtype} {s.shape}."
            )
        ranked[layer.name] = s
    return ranked


def kept_weights(layer: WeightedLayer) -> int:
    """C_i, the number of connections (weights) of a layer that are not pruned.

    Parameters
    ----------
    layer : WeightedLayer
        A Dense or Conv2D layer.

    Returns
    -------
    int
        The entries its weight mask keeps; all of them without a mask.
    """
    if not isinstance(layer, WeightedLayer):
        raise TypeError(
            f"The 'layer' parameter of kept_weights must be a Dense or Conv2D layer. "
            f"Got {type(layer).__name__} instead."
        )
    mask = layer.weight.mask
    return layer.weight.size if mask is None else int(np.count_nonzero(mask))


def report(model, layers=None) -> list[dict]:
    """Per weighted layer: weights, kept weights and sparsity (pruned fraction).

    Parameters
    ----------
    model : Sequential
        The model.
    layers : list of str, optional
        Names of the weighted layers to report (default: all).

    Returns
    -------
    list of dict
        One dict per layer: ``layer`` (str), ``weights`` (int), ``kept`` (int,
        :func:`kept_weights`) and ``sparsity`` (float, 1 - kept / weights).
    """
    rows = []
    for name in choose_layers(model, layers):
        layer = model.layer(name)
        total, kept = layer.weight.size, kept_weights(layer)
        rows.append({"layer": name, "weights": total, "kept": kept, "sparsity": 1.0 - kept / total})
    return rows


def sparsity(model, layers=None) -> float:
    """The fraction of the chosen layers' weights (biases excluded) that is pruned.

    Parameters
    ----------
    model : Sequential
        The model.
    layers : list of str, optional
        Names of the weighted layers counted (default: all).

    Returns
    -------
    float
        1 - (kept weights) / (weights), over the chosen layers together.

    Raises
    ------
    ValueError
        If ``layers`` picks no layer (an empty list, or a model without weighted layers).
    """
    rows = report(model, layers)
    if not rows:
        raise ValueError(f"sparsity needs at least one weighted layer; 'layers' picks none (got {layers!r}).")
    return 1.0 - sum(r["kept"] for r in rows) / sum(r["weights"] for r in rows)


def parameters_left(model) -> int:
    """The number of parameter entries that are not pruned, biases included.

    Parameters
    ----------
    model : Sequential
        The model.

    Returns
    -------
    int
        The entries kept by their masks, plus every entry of an unmasked parameter.
    """
    check_model(model, "model", "parameters_left")
    return sum(p.size if p.mask is None else int(np.count_nonzero(p.mask)) for p in model.parameters())


def retrain_dropout_rate(rate: float, kept: int, original: int) -> float:
    """The dropout rate for retraining a pruned layer (Han et al. 2015, equation 2).

        D_r = D_o sqrt(C_ir / C_io),

    with D_o the rate the network was trained with and C_io, C_ir the layer's
    connections before pruning and after. A pruned layer has less capacity
    and needs less regularisation; dropout acts on units, whose number goes
    as the square root of the connections (C_i = N_i N_(i-1)).

    Parameters
    ----------
    rate : float
        D_o, in [0, 1).
    kept : int
        C_ir, the connections left, 0 <= kept <= original.
    original : int
        C_io > 0, the connections before pruning.

    Returns
    -------
    float
        D_r.

    Raises
    ------
    ValueError
        If ``rate`` or the counts are out of range.
    """
    rate = check_real(rate, "rate", "retrain_dropout_rate", low=0.0, high=1.0, closed="left")
    if not (
        isinstance(original, (int, np.integer))
        and isinstance(kept, (int, np.integer))
        and 0 <= kept <= original
        and original > 0
    ):
        raise ValueError(
            f"retrain_dropout_rate needs connection counts 0 <= kept <= original, original > 0. "
            f"Got kept={kept!r}, original={original!r}."
        )
    return rate * math.sqrt(kept / original)


def adjust_dropout(model, original_rates: dict[str, float] | None = None) -> dict[str, float]:
    """Set the dropout rates for retraining after pruning.

    Each dropout-type module's rate (:class:`~tdnumpy.nn.Dropout`, Gaussian
    and spatial dropout) becomes :func:`retrain_dropout_rate` of the weighted
    layer before it, whose unpruned size is C_io. Modules before the first
    weighted layer are left alone.

    Parameters
    ----------
    model : Sequential
        The pruned model; its dropout modules' ``p`` is set in place.
    original_rates : dict of str to float, optional
        {module name: D_o}; a module not in it (or every module, by default)
        takes its current rate as D_o.

    Returns
    -------
    dict of str to float
        The rates used as D_o, by module name: pass them back in later rounds
        of iterative pruning so that each round starts from the original rate.
    """
    check_model(model, "model", "adjust_dropout")
    used = {}
    previous = None
    for module in model.layers:
        if isinstance(module, WeightedLayer):
            previous = module
        elif isinstance(module, _ActivationNoise) and previous is not None:
            d_o = module.p if original_rates is None else original_rates.get(module.name, module.p)
            used[module.name] = d_o
            module.p = retrain_dropout_rate(d_o, kept_weights(previous), previous.weight.size)
    return used


@dataclass
class GradualPruning:
    """Gradual pruning during training (Zhu and Gupta 2017).

    At each pruning step of ``schedule`` the chosen layers are pruned to
    sparsity s_t, by ``kind``. Pass it as ``before_step`` to
    :func:`tdnumpy.training.fit.fit`; called with the step number, it acts
    before the step's forward pass.

    Parameters
    ----------
    model : Sequential
        The model being trained.
    schedule : PolynomialSparsity
        s_t and the pruning steps (:class:`tdnumpy.training.schedules.PolynomialSparsity`).
    kind : {"layer", "weight", "unit", "global"}, default "layer"
        How each step prunes (see :func:`prune`); ``"layer"`` as Zhu and Gupta do.
    layers : list of str, optional
        The weighted layers to prune (default: :func:`prunable_layers`).
    """

    model: object
    schedule: PolynomialSparsity
    kind: str = "layer"
    layers: list | None = None

    def __post_init__(self):
        check_choice(self.kind, "kind", "GradualPruning", ("weight", "unit", "layer", "global"))
        if not isinstance(self.schedule, PolynomialSparsity):
            raise TypeError(
                f"The 'schedule' parameter of GradualPruning must be a PolynomialSparsity. "
                f"Got {type(self.schedule).__name__} instead."
            )
        prunable_layers(self.model, self.layers, kind=self.kind)  # unknown names fail now

    def __call__(self, step: int) -> None:
        if self.schedule.is_pruning_step(step):
            prune(self.model, self.kind, self.schedule(step), self.layers)

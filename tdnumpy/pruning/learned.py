"""What a network trained with a sparsifying baseline has learnt to drop:
its methods' importance scores, and the network folded into plain weights.

A network with L0 gates, variational dropout or Smallify's switches
(:mod:`tdnumpy.nn.sparsifying`, :mod:`tdnumpy.nn.gates`) evaluates with a
gate on each weight or unit. :func:`fold` writes that evaluation network as a
plain one: each weight times its gate, each unit's gate into its weights,
and every weight or unit its method removes at evaluation (a zero L0 gate,
log alpha above the threshold, a switch removed by the sign-variance rule)
masked like a pruned weight. The folded network computes what the gated one
computes at evaluation (up to float rounding), and its sparsity is the
method's own. Pruning and the sparse export then work on it as on any other
network; :func:`importance` gives the scores pruning can rank by instead of
magnitude (``tdnumpy prune --score method``).

Where a unit's gate goes: into the unit's own weight column and bias when it
follows the layer directly, or when only a ReLU lies between and the gate is
>= 0 (ReLU(a) g = ReLU(g a) for g >= 0); otherwise into the rows of the next
weighted layer that read the unit (which must follow the gate directly).
A unit whose gate is 0 loses its column and bias, and the next layer's rows
that read it when that layer follows the gate directly (through pooling and
Flatten they stay, dead: ``remove_dead_units`` removes them).
"""

from __future__ import annotations

import numpy as np

from ..nn.activations import ReLU
from ..nn.conv import Conv2D
from ..nn.sparsifying import learnt_sparsifiers
from ..nn.weighted import WeightedLayer
from ..nn.module import check_model


def _layer_before(model, index: int) -> tuple[WeightedLayer, list]:
    """The weighted layer before position ``index`` and the modules between them."""
    for i in range(index - 1, -1, -1):
        if isinstance(model.layers[i], WeightedLayer):
            return model.layers[i], model.layers[i + 1 : index]
    raise ValueError(f"{model.layers[index]!r} follows no weighted layer; there are no units to gate.")


def importance(model) -> dict[str, tuple[str, np.ndarray]]:
    """Each learnt sparsifier's importance scores, by the weighted layer they rank.

    Parameters
    ----------
    model : Sequential
        A network with learnt sparsifiers.

    Returns
    -------
    dict of str to (str, ndarray)
        {layer name: ("weight", scores of W's shape) or ("unit", scores of
        shape (units,))}; larger is more important (L0: P(gate != 0);
        variational dropout: 1 / (1 + alpha); Smallify: |switch|).
    """
    check_model(model, "model", "importance")
    scores = {}
    for item in learnt_sparsifiers(model):
        layer = _owner(model, item)
        scores[layer.name] = ("unit" if item in model.layers else "weight", item.importance())
    return scores


def _owner(model, item) -> WeightedLayer:
    if item in model.layers:
        return _layer_before(model, model.layers.index(item))[0]
    return next(layer for layer in model.layers if getattr(layer, "noise", None) is item)


def fold(model) -> dict[str, dict]:
    """Replace every learnt sparsifier of ``model`` by its evaluation gates, folded into the weights.

    Parameters
    ----------
    model : Sequential
        The network, changed in place: the rules are taken off, the gate
        modules removed, the weights and biases scaled and masked.

    Returns
    -------
    dict of str to dict
        {layer name: {"method", "removed", "of", "what"}}: how many weights
        (or units) of that layer the method removes at evaluation.

    Raises
    ------
    ValueError
        If a unit gate whose value cannot go into its own column is not
        followed directly by a weighted layer.
    """
    check_model(model, "model", "fold")
    report = {}
    found = learnt_sparsifiers(model)
    # the weight rules first: a variational rule's gate depends on W, which a unit gate may rescale
    for item in [item for item in found if item not in model.layers]:
        layer = _owner(model, item)
        gate = item.evaluation_gate()
        layer.weight.value *= gate
        _mask(layer.weight, gate != 0)
        layer.noise = None
        report[layer.name] = {
            "method": item.method,
            "what": "weights",
            "removed": int((gate == 0).sum()),
            "of": int(gate.size),
        }
    for item in [item for item in found if item in model.layers]:
        for name, r in _fold_units(model, item).items():
            if name in report:  # a layer with a weight rule and a unit gate after it
                r = {**r, "method": f"{report[name]['method']}+{r['method']}"}
            report[name] = r
    return report


def _fold_units(model, gate_module) -> dict[str, dict]:
    index = model.layers.index(gate_module)
    layer, between = _layer_before(model, index)
    g = gate_module.evaluation_gate()
    relu_only = all(isinstance(m, ReLU) for m in between)
    own = np.full(g.shape, not between) | (relu_only & (g >= 0))
    w, b = layer.weight, layer.bias
    w.value[:, own] *= g[own]
    if b is not None:
        b.value[own] *= g[own]
    if not own.all():
        after = model.layers[index + 1] if index + 1 < len(model.layers) else None
        if not isinstance(after, WeightedLayer):
            raise ValueError(
                f"{gate_module!r}: a gate that cannot go into {layer.name!r}'s own weights (a "
                f"negative gate after {between[0]!r}) needs a weighted layer right after it; got "
                f"{after!r}."
            )
        rows = _rows_of_units(after, g.shape[0])
        scale = np.where(own, 1, g).astype(after.weight.dtype)[rows]
        after.weight.value *= scale[:, None]
    dead = g == 0
    if dead.any():
        _mask(w, np.broadcast_to(~dead, w.shape))
        if b is not None:
            _mask(b, ~dead)
        after = model.layers[index + 1] if index + 1 < len(model.layers) else None
        if isinstance(after, WeightedLayer):
            rows = _rows_of_units(after, g.shape[0])
            _mask(after.weight, np.broadcast_to(~dead[rows][:, None], after.weight.shape))
    model.layers.remove(gate_module)
    return {layer.name: {"method": gate_module.method, "what": "units", "removed": int(dead.sum()), "of": int(g.size)}}


def _rows_of_units(layer: WeightedLayer, units: int) -> np.ndarray:
    """For each row of ``layer``'s W, the unit (input channel) of the layer before that it reads."""
    fan_in = layer.weight.shape[0]
    if isinstance(layer, Conv2D):  # patch rows are ordered (kh, kw, C): the channel varies fastest
        return np.arange(fan_in) % units
    if fan_in != units:
        raise ValueError(f"{layer!r} reads {fan_in} inputs, not the {units} gated units.")
    return np.arange(fan_in)


def _mask(param, keep: np.ndarray) -> None:
    """Add ``keep`` to the parameter's mask (what was masked stays masked)."""
    keep = np.asarray(keep, bool)
    if keep.all():
        return
    param.set_mask(keep if param.mask is None else param.mask & keep)

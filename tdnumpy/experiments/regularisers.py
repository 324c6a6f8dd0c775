"""Putting regularisers on a model by name, for all its layers or layer by layer.

Two kinds, by where the noise acts:

- *weight rules* (:mod:`tdnumpy.nn.noise`) ride on a weighted layer and mask
  its weight matrix: targeted dropout and its baselines, DropConnect, the
  paper's untargeted unit and weight dropout. Default layers: all weighted.
- *activation noise* (:mod:`tdnumpy.nn.dropout`) is a module inserted after a
  weighted layer's activation (or after the layer itself when no activation
  follows, as after LeNet-5's convolutions): dropout, classic dropout,
  Gaussian dropout, spatial dropout; standout replaces the activation.
  Default layers: all weighted layers but the last (the logits are not
  dropped); for spatial dropout, the convolutions.

The sparsifying baselines come in both kinds: L0 gates and sparse
variational dropout on every weight (``l0-weight``, ``vd-weight``) are weight
rules (:mod:`tdnumpy.nn.sparsifying`); L0 gates and variational multipliers
on units and Smallify's switches (``l0-unit``, ``vd-unit``, ``smallify``) are
modules inserted like activation noise (:mod:`tdnumpy.nn.gates`). Their
penalties' strengths are the run's ``l0_strength``, ``vd_strength`` and
``smallify_strength`` (:mod:`tdnumpy.experiments.build`).

A specification is either one name (``"dropout"``: the default layers) or
``"fc1=dropconnect,fc2=dropout"`` (those layers, each with its own).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import ParameterError
from ..masks import l0, variational
from ..nn.dropout import Dropout, GaussianDropout, SpatialDropout, Standout
from ..nn.gates import L0UnitGates, Switches, VariationalUnits
from ..nn.noise import (
    DropConnect,
    RandomTargetedUnitDropout,
    RandomTargetedWeightDropout,
    TargetedUnitDropout,
    TargetedWeightDropout,
    UnitDropout,
    WeightDropout,
    WeightedLayer,
    choose_layers,
)
from ..nn.sparsifying import L0WeightGates, VariationalWeights
from ..masks.ramps import LinearRamp, TwoPhaseRamp

TARGETED = ("td-weight", "td-unit", "td-ramp", "td-random-weight", "td-random-unit")
WEIGHT_RULES = TARGETED + ("dropconnect", "unit-dropout", "weight-dropout", "l0-weight", "vd-weight")
UNIT_GATES = ("l0-unit", "vd-unit", "smallify")
ACTIVATION_NOISE = ("dropout", "dropout-classic", "gaussian", "spatial", "standout") + UNIT_GATES
NAMES = ("none",) + WEIGHT_RULES + ACTIVATION_NOISE
SPARSIFYING = ("l0-weight", "vd-weight") + UNIT_GATES
METHOD = {"l0-weight": "l0", "l0-unit": "l0", "vd-weight": "vd", "vd-unit": "vd", "smallify": "smallify"}


@dataclass(frozen=True)
class Settings:
    """The numbers the named regularisers take (the ``train`` flags of the same names).

    Parameters
    ----------
    gamma, alpha : float
        Targeted dropout's targeting proportion and drop rate, in [0, 1].
    drop_rate : float
        The drop rate p of dropout, Gaussian and spatial dropout, DropConnect
        and untargeted unit and weight dropout, in [0, 1).
    per_example : bool
        One mask per example (td-unit, td-random-unit, DropConnect on dense layers).
    ramp : {"two-phase", "linear"}
        td-ramp: :class:`~tdnumpy.masks.ramps.TwoPhaseRamp` or :class:`~tdnumpy.masks.ramps.LinearRamp`.
    ramp_steps : int or None
        td-ramp: steps of the (first) phase; None: a quarter of the training steps.
    ramp_alpha : bool
        td-ramp: ramp alpha too.
    dropconnect_inference : {"mean", "gaussian"}
        DropConnect at evaluation.
    mc_samples : int
        Samples Z of DropConnect's Gaussian inference.
    standout_alpha, standout_beta, standout_form : float, float, {"paper", "shifted"}
        Standout's keep probability: sigmoid(alpha a + beta (sum_i x_i + 1))
        (Ba and Frey's, "paper") or sigmoid(alpha a + beta) ("shifted").
    l0_beta, l0_gamma, l0_zeta : float
        l0-weight, l0-unit: the hard-concrete temperature (> 0) and stretch (gamma < 0 < 1 < zeta).
    l0_init_drop : float
        l0-weight, l0-unit: log_alpha starts at log((1 - p) / p) for this p, in (0, 1).
    vd_threshold : float
        vd-weight, vd-unit: log alpha above which a weight or unit is zero at evaluation, in [-8, 8].
    smallify_momentum, smallify_threshold : float
        smallify: the sign-variance rule's momentum, in [0, 1), and threshold, in (0, 4).
    """

    gamma: float = 0.5
    alpha: float = 0.5
    drop_rate: float = 0.5
    per_example: bool = False
    ramp: str = "two-phase"
    ramp_steps: int | None = None
    ramp_alpha: bool = False
    dropconnect_inference: str = "mean"
    mc_samples: int = 100
    standout_alpha: float = 1.0
    standout_beta: float = 0.0
    standout_form: str = "paper"
    l0_beta: float = l0.BETA
    l0_gamma: float = l0.GAMMA
    l0_zeta: float = l0.ZETA
    l0_init_drop: float = 0.1
    vd_threshold: float = variational.THRESHOLD
    smallify_momentum: float = 0.9
    smallify_threshold: float = 0.5


def split(spec: str) -> str | dict[str, str]:
    """A specification read without a model: its one name, or {layer: name}
    for ``"LAYER=NAME,..."`` pairs (syntax and names checked, layers not yet).

    Parameters
    ----------
    spec : str
        One name of :data:`NAMES` or ``"LAYER=NAME,..."``.

    Returns
    -------
    str or dict of str to str
        The name, or the pairs in order (``"none"`` included).
    """
    spec = spec.strip()
    if "=" not in spec:
        _check_name(spec)
        return spec
    pairs = {}
    for item in spec.split(","):
        layer, sep, name = (part.strip() for part in item.partition("="))
        if not sep or not layer:
            raise ValueError(
                f"The 'reg' parameter must be a name or LAYER=NAME pairs separated by commas. Got {item!r} in {spec!r}."
            )
        _check_name(name)
        if layer in pairs:
            raise ValueError(f"The 'reg' parameter names layer {layer!r} twice.")
        pairs[layer] = name
    return pairs


def parse(spec: str, model) -> dict[str, str]:
    """The layers a specification puts regularisers on (see the module docstring).

    Parameters
    ----------
    spec : str
        One name of :data:`NAMES` (its default layers) or ``"LAYER=NAME,..."``.
    model : Sequential
        The network whose layer names the specification uses.

    Returns
    -------
    dict of str to str
        {layer name: regulariser name}; ``"none"`` layers are left out.
    """
    read = split(spec)
    if isinstance(read, dict):
        choose_layers(model, list(read))
        return {layer: name for layer, name in read.items() if name != "none"}
    if read == "none":
        return {}
    names = choose_layers(model)
    if read == "spatial":
        names = [n for n in names if model.layer(n).kind == "conv"]
    elif read in ACTIVATION_NOISE:
        names = names[:-1]
    return dict.fromkeys(names, read)


def choose(reg: str, model, layers=None) -> dict[str, str]:
    """The regulariser of each layer: :func:`parse` of ``reg``, or ``reg`` (one
    name) on the chosen ``layers``, checked against ``model`` (see :func:`check`).

    Parameters
    ----------
    reg : str
        A regulariser name or ``"LAYER=NAME,..."`` pairs (the ``--reg`` flag).
    model : Sequential
        The network the layer names refer to.
    layers : sequence of str or None
        The weighted layers that get the single name ``reg`` (``--reg-layers``);
        None for the name's default layers.

    Returns
    -------
    dict of str to str
        {layer name: regulariser name}, without the layers left unregularised.
    """
    chosen = parse(reg, model)
    if layers is not None:
        if "=" in reg:
            raise ParameterError("`reg_layers` goes with a single `reg` name, not with LAYER=NAME pairs.")
        names = choose_layers(model, list(layers))
        if not names:
            raise ParameterError("`reg_layers` names no layer; leave it out for the regulariser's default layers.")
        chosen = dict.fromkeys(names, reg.strip()) if reg.strip() != "none" else {}
    if not chosen and reg.strip() != "none" and "=" not in reg:
        raise ParameterError(
            f"`reg` {reg.strip()} applies to no layer of this model: {_defaults(reg.strip())}. "
            f"Name the layers with `reg_layers`, or choose another regulariser."
        )
    check(model, chosen)
    return chosen


def _defaults(name: str) -> str:
    """Where regulariser ``name`` goes when no layers are named, for messages."""
    if name == "spatial":
        return "spatial dropout goes on the convolutions, and it has none"
    if name in ACTIVATION_NOISE:
        return f"{name} goes after every weighted layer but the output one, and it has only that one"
    return "it has no weighted layer"


def check(model, chosen: dict[str, str]) -> None:
    """Refuse a choice :func:`apply` could not carry out: standout needs an
    activation after its layer to replace, spatial dropout a convolution.

    Parameters
    ----------
    model : Sequential
        The network.
    chosen : dict of str to str
        {layer name: regulariser name}, as :func:`parse` returns.
    """
    for layer_name, name in chosen.items():
        layer = model.layer(layer_name)
        if name == "standout" and _activation_after(model, layer) is None:
            raise ValueError(
                f"Standout replaces the activation after a layer, and no activation follows {layer.name!r}."
            )
        if name == "spatial" and layer.kind != "conv":
            raise ValueError(
                f"Spatial dropout drops channels of convolution outputs; {layer.name!r} is {type(layer).__name__}."
            )


def _activation_after(model, layer):
    """The element-wise activation module right after ``layer``, or None."""
    index = model.layers.index(layer)
    after = model.layers[index + 1] if index + 1 < len(model.layers) else None
    return after if hasattr(after, "f") else None


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"The 'reg' parameter must be one of {', '.join(map(repr, NAMES))}. Got {name!r} instead.")


def weight_rule(name: str, settings: Settings, total_steps: int):
    """A fresh weight rule by name.

    Parameters
    ----------
    name : str
        One of :data:`WEIGHT_RULES`.
    settings : Settings
        The rules' numbers.
    total_steps : int
        Training steps of the run (td-ramp's default ramp is a quarter of them).

    Returns
    -------
    WeightNoise
        The rule (see :mod:`tdnumpy.nn.noise`), to attach to one layer.
    """
    s = settings
    if name == "l0-weight":
        return L0WeightGates(s.l0_beta, s.l0_gamma, s.l0_zeta, s.l0_init_drop)
    if name == "vd-weight":
        return VariationalWeights(s.vd_threshold)
    if name == "dropconnect":
        return DropConnect(
            s.drop_rate, per_example=s.per_example, inference=s.dropconnect_inference, samples=s.mc_samples
        )
    if name == "unit-dropout":
        return UnitDropout(s.drop_rate)
    if name == "weight-dropout":
        return WeightDropout(s.drop_rate)
    gamma, alpha = s.gamma, s.alpha
    if name == "td-ramp":  # targeted weight dropout with gamma (and alpha) ramped up
        ramp = TwoPhaseRamp if s.ramp == "two-phase" else LinearRamp
        steps = s.ramp_steps or max(1, total_steps // 4)
        return TargetedWeightDropout(ramp(gamma, steps), ramp(alpha, steps) if s.ramp_alpha else alpha)
    if name == "td-weight":
        return TargetedWeightDropout(gamma, alpha)
    if name == "td-unit":
        return TargetedUnitDropout(gamma, alpha, s.per_example)
    if name == "td-random-weight":
        return RandomTargetedWeightDropout(gamma, alpha)
    return RandomTargetedUnitDropout(gamma, alpha, s.per_example)


def apply(model, chosen: dict[str, str], settings: Settings = Settings(), total_steps: int = 1) -> list[str]:
    """Put each chosen regulariser on ``model``.

    Weight rules ride on their layer; activation noise is inserted after the
    layer's activation (standout replaces it). Activation noise draws from a
    generator spawned from its layer's, so one model seed fixes every mask.

    Parameters
    ----------
    model : Sequential
        The network, changed in place.
    chosen : dict of str to str
        {layer name: regulariser name}, as :func:`parse` or :func:`choose` return.
    settings : Settings
        The regularisers' numbers.
    total_steps : int
        Training steps of the run (for td-ramp's default ramp).

    Returns
    -------
    list of str
        One line per layer saying what went where.
    """
    check(model, chosen)
    done = []
    for layer_name, name in chosen.items():
        layer = model.layer(layer_name)
        if name in WEIGHT_RULES:
            layer.noise = weight_rule(name, settings, total_steps)
        else:
            _insert_activation_noise(model, layer, name, settings)
        done.append(f"{layer_name}: {name} ({_numbers(name, settings)})")
    return done


def _numbers(name: str, s: Settings) -> str:
    if name in TARGETED:
        return f"gamma {s.gamma}, alpha {s.alpha}" + (", ramped" if name == "td-ramp" else "")
    if name == "standout":
        return f"alpha {s.standout_alpha}, beta {s.standout_beta}, {s.standout_form} form"
    if name in ("l0-weight", "l0-unit"):
        return f"beta {s.l0_beta:.4g}, stretch ({s.l0_gamma}, {s.l0_zeta})"
    if name in ("vd-weight", "vd-unit"):
        return f"zero above log alpha {s.vd_threshold}"
    if name == "smallify":
        return f"sign-variance momentum {s.smallify_momentum}, threshold {s.smallify_threshold}"
    if name == "dropconnect":
        return f"p {s.drop_rate}, {s.dropconnect_inference} inference" + (
            f" with Z = {s.mc_samples}" if s.dropconnect_inference == "gaussian" else ""
        )
    return f"p {s.drop_rate}"


def _insert_activation_noise(model, layer: WeightedLayer, name: str, s: Settings) -> None:
    rng = layer.rng.spawn(1)[0]
    activation = _activation_after(model, layer)
    if name == "standout":
        model.replace(
            activation.name,
            Standout(activation, rng, s.standout_alpha, s.standout_beta, source=layer, form=s.standout_form),
        )
        return
    units, dtype = layer.units, layer.weight.dtype
    module = {
        "dropout": lambda: Dropout(s.drop_rate, rng),
        "dropout-classic": lambda: Dropout(s.drop_rate, rng, mode="classic"),
        "gaussian": lambda: GaussianDropout(s.drop_rate, rng),
        "spatial": lambda: SpatialDropout(s.drop_rate, rng),
        "l0-unit": lambda: L0UnitGates(units, rng, dtype, s.l0_beta, s.l0_gamma, s.l0_zeta, s.l0_init_drop),
        "vd-unit": lambda: VariationalUnits(units, rng, dtype, s.vd_threshold),
        "smallify": lambda: Switches(units, rng, dtype, s.smallify_momentum, s.smallify_threshold),
    }[name]()
    model.insert_after(layer.name if activation is None else activation.name, module)

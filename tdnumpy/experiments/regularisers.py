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

A specification is either one name (``"dropout"``: the default layers) or
``"fc1=dropconnect,fc2=dropout"`` (those layers, each with its own).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..nn.dropout import Dropout, GaussianDropout, SpatialDropout, Standout
from ..nn.noise import (DropConnect, RandomTargetedUnitDropout, RandomTargetedWeightDropout, TargetedUnitDropout,
                       TargetedWeightDropout, UnitDropout, WeightDropout, WeightedLayer, choose_layers)
from ..masks.ramps import LinearRamp, TwoPhaseRamp

TARGETED = ("td-weight", "td-unit", "td-ramp", "td-random-weight", "td-random-unit")
WEIGHT_RULES = TARGETED + ("dropconnect", "unit-dropout", "weight-dropout")
ACTIVATION_NOISE = ("dropout", "dropout-classic", "gaussian", "spatial", "standout")
NAMES = ("none",) + WEIGHT_RULES + ACTIVATION_NOISE


@dataclass(frozen=True)
class Settings:
    """The numbers the named regularisers take (the ``train`` flags)."""

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


def parse(spec: str, model) -> dict[str, str]:
    """{layer name: regulariser name} for a specification (see the module docstring)."""
    spec = spec.strip()
    if "=" not in spec:
        _check_name(spec)
        if spec == "none":
            return {}
        names = choose_layers(model)
        if spec == "spatial":
            names = [n for n in names if model.layer(n).kind == "conv"]
        elif spec in ACTIVATION_NOISE:
            names = names[:-1]
        return dict.fromkeys(names, spec)
    chosen = {}
    for item in spec.split(","):
        layer, sep, name = (part.strip() for part in item.partition("="))
        if not sep or not layer:
            raise ValueError(f"The 'reg' parameter must be a name or LAYER=NAME pairs separated by commas. "
                             f"Got {item!r} in {spec!r}.")
        _check_name(name)
        choose_layers(model, [layer])
        if layer in chosen:
            raise ValueError(f"The 'reg' parameter names layer {layer!r} twice.")
        if name != "none":
            chosen[layer] = name
    return chosen


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"The 'reg' parameter must be one of {', '.join(map(repr, NAMES))}. Got {name!r} instead.")


def weight_rule(name: str, settings: Settings, total_steps: int):
    """A fresh weight rule by name."""
    s = settings
    if name == "dropconnect":
        return DropConnect(s.drop_rate, per_example=s.per_example, inference=s.dropconnect_inference,
                           samples=s.mc_samples)
    if name == "unit-dropout":
        return UnitDropout(s.drop_rate)
    if name == "weight-dropout":
        return WeightDropout(s.drop_rate)
    gamma, alpha = s.gamma, s.alpha
    if name == "td-ramp":
        ramp = TwoPhaseRamp if s.ramp == "two-phase" else LinearRamp
        steps = s.ramp_steps or max(1, total_steps // 4)
        gamma = ramp(s.gamma, steps)
        alpha = ramp(s.alpha, steps) if s.ramp_alpha else alpha
    if name in ("td-weight", "td-ramp"):  # td-ramp: targeted weight dropout with gamma ramped up
        return TargetedWeightDropout(gamma, alpha)
    if name == "td-unit":
        return TargetedUnitDropout(gamma, alpha, s.per_example)
    if name == "td-random-weight":
        return RandomTargetedWeightDropout(gamma, alpha)
    return RandomTargetedUnitDropout(gamma, alpha, s.per_example)


def apply(model, chosen: dict[str, str], settings: Settings = Settings(), total_steps: int = 1) -> list[str]:
    """Put each chosen regulariser on ``model``; returns lines saying what went where.

    Activation noise draws from a generator spawned from its layer's, so one
    model seed fixes every mask.
    """
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
        return f"alpha {s.standout_alpha}, beta {s.standout_beta}"
    if name == "dropconnect":
        return f"p {s.drop_rate}, {s.dropconnect_inference} inference" + (
            f" with Z = {s.mc_samples}" if s.dropconnect_inference == "gaussian" else "")
    return f"p {s.drop_rate}"


def _insert_activation_noise(model, layer: WeightedLayer, name: str, s: Settings) -> None:
    rng = layer.rng.spawn(1)[0]
    index = model.layers.index(layer)
    after = model.layers[index + 1] if index + 1 < len(model.layers) else None
    activation = after if hasattr(after, "f") else None
    if name == "standout":
        if activation is None:
            raise ValueError(f"Standout replaces the activation after a layer, and no activation follows "
                             f"{layer.name!r}.")
        model.replace(activation.name, Standout(activation, rng, s.standout_alpha, s.standout_beta))
        return
    if name == "spatial" and layer.kind != "conv":
        raise ValueError(f"Spatial dropout drops channels of convolution outputs; {layer.name!r} is "
                         f"{type(layer).__name__}.")
    module = {"dropout": lambda: Dropout(s.drop_rate, rng),
              "dropout-classic": lambda: Dropout(s.drop_rate, rng, mode="classic"),
              "gaussian": lambda: GaussianDropout(s.drop_rate, rng),
              "spatial": lambda: SpatialDropout(s.drop_rate, rng)}[name]()
    model.insert_after(layer.name if activation is None else activation.name, module)

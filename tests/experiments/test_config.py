"""RunConfig: one set of defaults and checks, a JSON round trip with a format
version, and errors that name the key and the value."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdnumpy._validation import ParameterError
from tdnumpy.cli._args import flag
from tdnumpy.experiments import RunConfig
from tdnumpy.experiments.regularisers import ACTIVATION_NOISE, NAMES, WEIGHT_RULES, Settings

MLP_LAYERS = {"lenet300": ["fc1", "fc2", "fc3"], "mlp:784-32-10": ["fc1", "fc2"],
              "mlp:784-20-20-10:tanh": ["fc1", "fc2", "fc3"]}
FINITE = dict(allow_nan=False, allow_infinity=False)


@st.composite
def regularisation(draw):
    """(model, reg, reg_layers) that fit together."""
    if draw(st.booleans()):
        model = draw(st.sampled_from(sorted(MLP_LAYERS)))
        layers = MLP_LAYERS[model]
        reg = draw(st.sampled_from([n for n in NAMES if n != "spatial"]))
    else:
        model, layers = "lenet5", ["conv1", "conv2", "fc1", "fc2"]
        reg = draw(st.sampled_from(("none", "spatial") + WEIGHT_RULES))
    reg_layers = None
    if reg in WEIGHT_RULES and draw(st.booleans()):
        reg_layers = tuple(draw(st.lists(st.sampled_from(layers), min_size=1, max_size=len(layers), unique=True)))
    if reg in ACTIVATION_NOISE and model != "lenet5" and draw(st.booleans()):  # per-layer pairs
        reg = ",".join(f"{name}={reg}" for name in layers[:-1])
    return model, reg, reg_layers


@st.composite
def configs(draw):
    model, reg, reg_layers = draw(regularisation())
    epochs = draw(st.integers(1, 40))
    gradual = draw(st.none() | st.floats(0.0, 1.0, exclude_max=True))
    start = draw(st.integers(0, epochs - 1))
    momentum = draw(st.floats(0.0, 1.0, exclude_max=True))
    return RunConfig(
        model=model, dataset=draw(st.sampled_from(["mnist", "fashion-mnist"])), epochs=epochs,
        batch_size=draw(st.integers(1, 4096)), optimizer=draw(st.sampled_from(["sgd", "adam"])),
        lr=draw(st.floats(1e-8, 10.0)), momentum=momentum, nesterov=momentum > 0 and draw(st.booleans()),
        weight_decay=draw(st.floats(0.0, 1.0)), lr_schedule=draw(st.sampled_from(["constant", "step", "cosine"])),
        lr_step_epochs=draw(st.integers(1, 100)), lr_decay=draw(st.floats(0.0, 1.0, exclude_min=True,
                                                                          exclude_max=True)),
        seed=draw(st.integers(0, 2**63)), validation=draw(st.integers(0, 59_999)), reg=reg, reg_layers=reg_layers,
        gamma=draw(st.floats(0.0, 1.0)), alpha=draw(st.floats(0.0, 1.0)),
        drop_rate=draw(st.floats(0.0, 1.0, exclude_max=True)), ramp=draw(st.sampled_from(["two-phase", "linear"])),
        ramp_steps=draw(st.none() | st.integers(1, 10**6)), ramp_alpha=draw(st.booleans()),
        per_example=draw(st.booleans()), dropconnect_inference=draw(st.sampled_from(["mean", "gaussian"])),
        mc_samples=draw(st.integers(1, 10**4)), standout_alpha=draw(st.floats(-1e6, 1e6, **FINITE)),
        standout_beta=draw(st.floats(-1e6, 1e6, **FINITE)), standout_form=draw(st.sampled_from(["paper", "shifted"])), l1=draw(st.floats(0.0, 1.0)), l2=draw(st.floats(0.0, 1.0)),
        gradual_sparsity=gradual, gradual_kind=draw(st.sampled_from(["layer", "weight", "unit", "global"])),
        gradual_start=start, gradual_epochs=draw(st.none() | st.integers(1, epochs - start)),
        gradual_interval=draw(st.integers(1, 1000)))


@settings(max_examples=300, deadline=None)
@given(config=configs())
def test_the_dict_round_trip_gives_the_same_config(config):
    assert RunConfig.from_dict(config.to_dict()) == config
    through_json = json.loads(json.dumps(config.to_dict()))
    assert RunConfig.from_dict(through_json) == config
    assert through_json["format"] == "tdnumpy-run-config" and through_json["version"] == 1


def test_the_defaults_are_the_regularisers_own():
    """One place for defaults: the regulariser fields default to Settings'."""
    default = RunConfig()
    for f in fields(Settings):
        assert getattr(default, f.name) == f.default, f.name
    assert default.settings() == Settings()


BAD_VALUES = [
    ("epochs", 0, ValueError), ("epochs", 2.5, TypeError), ("batch_size", -1, ValueError),
    ("lr", 0.0, ValueError), ("lr", float("nan"), ValueError), ("momentum", 1.0, ValueError),
    ("weight_decay", -1e-4, ValueError), ("lr_step_epochs", 0, ValueError), ("lr_decay", 1.0, ValueError),
    ("seed", -1, ValueError), ("validation", -5, ValueError), ("gamma", 1.5, ValueError),
    ("alpha", -0.1, ValueError), ("alpha", "0.5", TypeError), ("drop_rate", 1.0, ValueError),
    ("ramp_steps", 0, ValueError), ("mc_samples", 0, ValueError), ("mc_samples", 10**9, ValueError),
    ("standout_alpha", float("inf"), ValueError), ("standout_form", "ba-frey", ValueError),
    ("l1", -1.0, ValueError), ("l2", float("inf"), ValueError), ("gradual_sparsity", 1.0, ValueError),
    ("gradual_start", -1, ValueError), ("gradual_epochs", 0, ValueError), ("gradual_interval", 0, ValueError),
    ("optimizer", "rmsprop", ValueError), ("lr_schedule", "linear", ValueError), ("dataset", "cifar10", ValueError),
    ("ramp", "cubic", ValueError), ("dropconnect_inference", "median", ValueError),
    ("gradual_kind", "std", ValueError), ("nesterov", 1, TypeError), ("per_example", "yes", TypeError),
    ("reg_layers", "fc1", TypeError), ("model", "mlp:784", ValueError), ("model", 300, TypeError),
    ("reg", "dropot", ValueError), ("ramp_alpha", None, TypeError), ("standout_beta", float("-inf"), ValueError),
    ("train_images", 0, ValueError), ("test_images", 1.5, TypeError),
    # the sparsifying baselines (issue 16): negative strengths, a temperature at or below 0,
    # a stretch outside gamma < 0 < 1 < zeta, the sign-variance rule outside its ranges
    ("l0_strength", -1e-4, ValueError), ("vd_strength", -1.0, ValueError), ("smallify_strength", -0.1, ValueError),
    ("l0_beta", 0.0, ValueError), ("l0_beta", -0.5, ValueError), ("l0_gamma", 0.0, ValueError),
    ("l0_gamma", 0.05, ValueError), ("l0_zeta", 1.0, ValueError), ("l0_zeta", 0.9, ValueError),
    ("l0_init_drop", 0.0, ValueError),
    ("vd_threshold", 8.5, ValueError), ("smallify_threshold", 0.0, ValueError),
    ("smallify_threshold", 4.0, ValueError), ("smallify_momentum", 1.0, ValueError),
]


@pytest.mark.parametrize("name, value, error", BAD_VALUES)
def test_a_bad_value_is_refused_naming_the_field_and_the_value(name, value, error):
    with pytest.raises(error) as info:
        RunConfig(**{name: value})
    message = str(info.value)
    assert f"'{name}'" in message and repr(value) in message, message
    with pytest.raises(error):
        RunConfig.from_dict({**RunConfig().to_dict(), name: value})


def test_every_field_has_a_bad_value_in_the_table():
    assert {f.name for f in fields(RunConfig)} - {name for name, _, _ in BAD_VALUES} == set()


def test_an_unknown_key_is_refused_naming_it_and_its_value():
    with pytest.raises(ValueError, match=r"'gama' is not a RunConfig field \(with value 0.25\)"):
        RunConfig.from_dict({**RunConfig().to_dict(), "gama": 0.25})
    with pytest.raises(ValueError, match="'bacth_size' is not a RunConfig field"):
        RunConfig().replace(bacth_size=3)


@pytest.mark.parametrize("changes", [{"format": "tdnumpy-checkpoint"}, {"version": 2}])
def test_another_format_or_version_is_refused(changes):
    with pytest.raises(ValueError, match="RunConfig.from_dict reads format 'tdnumpy-run-config' version 1"):
        RunConfig.from_dict({**RunConfig().to_dict(), **changes})
    with pytest.raises(TypeError):
        RunConfig.from_dict([("model", "lenet300")])


@pytest.mark.parametrize("values, match", [
    (dict(reg="fc1=dropout", reg_layers=("fc1",)), "'reg_layers' goes with a single 'reg' name"),
    (dict(reg="td-weight", reg_layers=("fc1", "fc9")), "No weighted layer named 'fc9'"),
    (dict(reg="fc1=dropout,fc9=dropconnect"), "No weighted layer named 'fc9'"),
    (dict(model="lenet5", reg="standout", reg_layers=("conv1",)),
     r"'reg' standout with 'reg_layers' conv1 does not fit model lenet5: "
     r"Standout replaces the activation after a layer, and no activation follows 'conv1'"),
    (dict(reg="spatial", reg_layers=("fc1",)), "Spatial dropout drops channels of convolution outputs"),
    # issue 18: these trained without any regulariser
    (dict(reg="spatial"), r"'reg' spatial applies to no layer of this model: spatial dropout goes on the "
                          r"convolutions, and it has none. Name the layers with 'reg_layers'"),
    (dict(reg="dropout", reg_layers=()), r"'reg_layers' names no layer"),
    (dict(reg="dropconnect", reg_layers=("fc1", "fc1")), r"names 'fc1' more than once"),
    (dict(model="mlp:784-5"), r"'model' mlp:784-5 ends in 5 units, but mnist has 10 classes"),  # failed inside fit
    (dict(model="mlp:100-10", dataset="fashion-mnist"), r"'model' mlp:100-10 takes inputs of shape \(100,\), but "
                                                        r"fashion-mnist images are 28x28 \(784 values\)"),
    (dict(gradual_sparsity=0.5, gradual_start=10), "'gradual_start' 10 must be below 'epochs' 10"),
    (dict(gradual_sparsity=0.5, epochs=3, gradual_epochs=4), "runs past 'epochs' 3"),
    (dict(nesterov=True, momentum=0.0), "'nesterov' momentum needs 'momentum' > 0"),
])
def test_values_that_do_not_fit_together_are_refused(values, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(**values)


def test_a_parameter_error_reads_as_python_or_as_flags():
    with pytest.raises(ParameterError) as info:
        RunConfig(gradual_sparsity=0.5, gradual_start=10)
    assert str(info.value) == "'gradual_start' 10 must be below 'epochs' 10."
    assert info.value.spelled(flag) == "--gradual-start 10 must be below --epochs 10."


def test_a_config_is_frozen_and_replace_checks_again():
    config = RunConfig(reg="td-weight")
    with pytest.raises(AttributeError):
        config.gamma = 0.9
    assert config.replace(gamma=0.75).gamma == 0.75 and config.gamma == 0.5
    with pytest.raises(ValueError, match="'gamma'"):
        config.replace(gamma=2.0)
    assert RunConfig(reg_layers=["fc1"]).reg_layers == ("fc1",)  # lists become tuples (hashable, comparable)
    assert RunConfig(lr=1).lr == 1.0 and isinstance(RunConfig(lr=1).lr, float)

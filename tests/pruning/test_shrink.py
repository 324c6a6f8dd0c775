"""Removing dead units (tdnumpy.pruning.shrink): same outputs, the expected dead sets and
parameter counts, a fixed point, the input model untouched, the sigmoid and
bias exceptions, cascades, noise rules, specs and checkpoints.

The property tests compare with a reference written here with loops over
units, in the *original* index space (nothing is sliced): the rows of the next
layer that read a unit come from reshapes of the row index in the layouts the
layers document (a conv weight is the (kh, kw, C, F) kernel reshaped, Flatten
is the C-order flattening of (C, H, W)), not from tdnumpy.pruning.shrink.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdnumpy.nn import AvgPool2D, Conv2D, Dense, Dropout, Flatten, ReLU, Sequential, Sigmoid
from tdnumpy.nn.models import build_model
from tdnumpy.nn.noise import DropConnect, TargetedWeightDropout
from tdnumpy.nn.weighted import WeightedLayer
from tdnumpy.pruning.shrink import ShrinkReport, dead_units, remove_dead_units
from tdnumpy.training.checkpoint import load_checkpoint, save_checkpoint

TOL = {np.float32: 1e-6, np.float64: 1e-12}


def weighted(model) -> list:
    return [layer for layer in model.layers if isinstance(layer, WeightedLayer)]


def pruned(param) -> np.ndarray:
    return param.value == 0 if param.mask is None else ~param.mask


# --- which rows of the next layer read unit j (original indices) -----------------------------

def dense_rows(j):
    return [j]


def conv_rows(kh, kw, channels):
    """Rows of a (kh kw C, F) conv weight that read input channel j: the weight is
    the (kh, kw, C, F) kernel reshaped."""
    index = np.arange(kh * kw * channels).reshape(kh, kw, channels)
    return lambda j: sorted(index[:, :, j].ravel().tolist())


def flatten_rows(channels, h, w):
    """Rows of the dense layer after Flatten that read channel j of (C, H, W)."""
    index = np.arange(channels * h * w).reshape(channels, h, w)
    return lambda j: index[j].ravel().tolist()


def mlp_rows(model):
    return [dense_rows] * (len(weighted(model)) - 1)


def lenet5_rows(model):
    conv1, conv2, fc1, _ = weighted(model)
    return [conv_rows(conv2.kh, conv2.kw, conv1.out_channels), flatten_rows(conv2.out_channels, 4, 4), dense_rows]


# --- the reference: Han et al.'s rule with loops over units ------------------------------------

def reference_alive(model, rows_of, passes_zero):
    """Per weighted layer, the original indices of the units that survive."""
    layers = weighted(model)
    P = [pruned(layer.weight) for layer in layers]
    bias_zero = [pruned(layer.bias) for layer in layers]
    alive = [list(range(p.shape[1])) for p in P]
    while True:
        dead = [[] for _ in layers]
        for layer_i in range(len(layers) - 1):
            if layer_i == 0:
                in_rows = range(P[0].shape[0])
            else:
                in_rows = [r for i in alive[layer_i - 1] for r in rows_of[layer_i - 1](i)]
            for j in alive[layer_i]:
                silent = passes_zero[layer_i] and bias_zero[layer_i][j] and all(P[layer_i][r, j] for r in in_rows)
                unheard = all(P[layer_i + 1][r, k] for r in rows_of[layer_i](j) for k in alive[layer_i + 1])
                if silent or unheard:
                    dead[layer_i].append(j)
            if dead[layer_i] == alive[layer_i]:
                dead[layer_i] = dead[layer_i][1:]  # the lowest index stays
        if not any(dead):
            return alive
        alive = [[j for j in a if j not in d] for a, d in zip(alive, dead)]


def kept_rows(model, rows_of, alive, layer_i):
    if layer_i == 0:
        return list(range(weighted(model)[0].fan_in))
    return sorted(r for i in alive[layer_i - 1] for r in rows_of[layer_i - 1](i))


def expected_parameters(model, rows_of, alive) -> int:
    return sum(len(kept_rows(model, rows_of, alive, layer_i)) * len(a) + len(a) for layer_i, a in enumerate(alive))


# --- random pruning --------------------------------------------------------------------------

@st.composite
def prunings(draw):
    return dict(
        seed=draw(st.integers(0, 2**32 - 1)),
        density=draw(st.one_of(st.sampled_from([0.0, 0.03, 0.2, 0.6, 1.0]), st.floats(0.0, 1.0))),
        silence=draw(st.sampled_from([0.0, 0.3, 0.7])),   # units whose incoming weights are all pruned
        deafen=draw(st.sampled_from([0.0, 0.3, 0.7])),    # units whose outgoing weights are all pruned
        zero_bias=draw(st.sampled_from([0.0, 0.5, 1.0])),
        masked=draw(st.booleans()),                      # masks, or zeros without masks
        bias_masked=draw(st.booleans()),
    )


def prune(model, rows_of, p) -> None:
    rng = np.random.default_rng(p["seed"])
    layers = weighted(model)
    keeps = [rng.random(layer.weight.shape) < p["density"] for layer in layers]
    for layer_i, layer in enumerate(layers[:-1]):
        keeps[layer_i][:, rng.random(layer.units) < p["silence"]] = False
        for j in np.flatnonzero(rng.random(layer.units) < p["deafen"]):
            keeps[layer_i + 1][rows_of[layer_i](j), :] = False
    for layer, keep in zip(layers, keeps):
        layer.bias.value[:] = 0.1 * rng.standard_normal(layer.units)
        zero = rng.random(layer.units) < p["zero_bias"]
        if p["bias_masked"]:
            layer.bias.set_mask(~zero)
        else:
            layer.bias.value[zero] = 0
        if p["masked"]:
            layer.weight.set_mask(keep)
        else:
            layer.weight.value[~keep] = 0


def snapshot(model):
    return [(p.name, p.value.copy(), None if p.mask is None else p.mask.copy()) for p in model.parameters()]


def assert_same_parameters(model, snap):
    assert [p.name for p in model.parameters()] == [name for name, _, _ in snap]
    for p, (_, value, mask) in zip(model.parameters(), snap):
        np.testing.assert_array_equal(p.value, value)
        assert (p.mask is None) == (mask is None)
        if mask is not None:
            np.testing.assert_array_equal(p.mask, mask)


def check_shrink(model, rows_of, passes_zero, x):
    """Everything the property tests require of remove_dead_units."""
    dtype = model.dtype.type
    before = snapshot(model)
    out = model.forward(x)
    alive = reference_alive(model, rows_of, passes_zero)

    report = remove_dead_units(model)
    new = report.model

    assert isinstance(report, ShrinkReport) and new is not model
    # the outputs
    np.testing.assert_allclose(new.forward(x), out, rtol=TOL[dtype], atol=TOL[dtype])
    # the dead sets and the parameter count, from the reference
    for layer, a in zip(weighted(model), alive):
        np.testing.assert_array_equal(report.kept[layer.name], a)
        np.testing.assert_array_equal(report.removed[layer.name], sorted(set(range(layer.units)) - set(a)))
    assert report.parameters_before == model.n_parameters()
    assert report.parameters_after == new.n_parameters() == expected_parameters(model, rows_of, alive)
    # values and masks carried: the kept rows and columns of the old matrices
    for layer_i, (old, small, a) in enumerate(zip(weighted(model), weighted(new), alive)):
        assert small.name == old.name and type(small) is type(old)
        rows = kept_rows(model, rows_of, alive, layer_i)
        np.testing.assert_array_equal(small.weight.value, old.weight.value[np.ix_(rows, a)])
        np.testing.assert_array_equal(small.bias.value, old.bias.value[a])
        for param, old_param, index in ((small.weight, old.weight, np.ix_(rows, a)), (small.bias, old.bias, a)):
            assert (param.mask is None) == (old_param.mask is None)
            if param.mask is not None:
                np.testing.assert_array_equal(param.mask, old_param.mask[index])
    # a spec that rebuilds the new shapes
    assert [p.shape for p in build_model(new.spec).parameters()] == [p.shape for p in new.parameters()]
    # a fixed point
    assert all(len(v) == 0 for v in dead_units(new).values())
    again = remove_dead_units(new)
    assert again.passes == 0 and again.parameters_after == report.parameters_after
    # the input model untouched
    assert_same_parameters(model, before)
    np.testing.assert_array_equal(model.forward(x), out)
    return report


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@settings(max_examples=60, deadline=None)
@given(p=prunings(), dtype=st.sampled_from([np.float32, np.float64]))
def test_mlp_shrinks_to_the_reference_with_the_same_outputs(activation, p, dtype):
    model = build_model(f"mlp:12-10-8-4:{activation}", seed=p["seed"] % 1000, dtype=dtype)
    prune(model, mlp_rows(model), p)
    x = np.random.default_rng(p["seed"]).standard_normal((7, 12)).astype(dtype)
    report = check_shrink(model, mlp_rows(model), [activation != "sigmoid"] * 3, x)
    assert report.model.spec.endswith(f":{activation}") or report.passes == 0


@settings(max_examples=40, deadline=None)
@given(p=prunings(), dtype=st.sampled_from([np.float32, np.float64]))
def test_lenet5_shrinks_to_the_reference_with_the_same_outputs(p, dtype):
    model = build_model("lenet5:4-5-6", seed=p["seed"] % 1000, dtype=dtype)
    prune(model, lenet5_rows(model), p)
    x = np.random.default_rng(p["seed"]).standard_normal((3, 1, 28, 28)).astype(dtype)
    report = check_shrink(model, lenet5_rows(model), [True] * 4, x)  # no activation after convs; ReLU, pools
    assert report.model.spec.startswith("lenet5:") or report.passes == 0


# --- the index formulas, through the layers' own views ------------------------------------------

def test_conv_to_conv_reads_channel_c_through_the_kernel_view():
    model = build_model("lenet5:4-5-6", seed=3)
    conv2 = model.layer("conv2")
    conv2.kernel[:, 2] = 0  # (out, in, kh, kw): every weight reading input channel 2
    assert dead_units(model)["conv1"].tolist() == [2]
    report = remove_dead_units(model)
    assert report.removed["conv1"].tolist() == [2] and report.model.layer("conv2").in_channels == 3
    np.testing.assert_array_equal(report.model.layer("conv2").kernel, np.delete(conv2.kernel, 2, axis=1))


def test_flatten_block_of_a_channel_is_found_by_flattening_it():
    model = build_model("lenet5:4-5-6", seed=3)
    one_channel = np.zeros((1, 5, 4, 4), np.float32)
    one_channel[0, 3] = 1
    rows = Flatten().forward(one_channel)[0] != 0  # the inputs of fc1 that channel 3 of conv2 feeds
    keep = np.ones(model.layer("fc1").weight.shape, bool)
    keep[rows] = False
    model.layer("fc1").weight.set_mask(keep)
    assert dead_units(model)["conv2"].tolist() == [3]
    assert remove_dead_units(model).model.layer("fc1").fan_in == 4 * 16


# --- the exceptions of the rule -------------------------------------------------------------------

def prune_entries(model, layer_name, rows, cols):
    """Prune W[rows, cols] of one layer (numpy indices, slices included)."""
    layer = model.layer(layer_name)
    keep = np.ones(layer.weight.shape, bool)
    keep[rows, cols] = False
    layer.weight.set_mask(keep)


def silence_unit(model, layer_name, j):
    prune_entries(model, layer_name, slice(None), j)
    model.layer(layer_name).bias.value[j] = 0


def assert_same_outputs(a, b, x):
    np.testing.assert_allclose(a.forward(x), b.forward(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation, dead", [("relu", [1]), ("tanh", [1]), ("sigmoid", [])])
def test_a_silent_unit_behind_a_sigmoid_is_kept(activation, dead, rng):
    """sigmoid(0) = 1/2: the unit still sends fc2 a constant."""
    model = build_model(f"mlp:6-5-3:{activation}", seed=2, dtype=np.float64)
    model.layer("fc1").bias.value[:] = 0.3
    silence_unit(model, "fc1", 1)
    assert dead_units(model)["fc1"].tolist() == dead
    x = rng.standard_normal((4, 6))
    report = remove_dead_units(model)
    assert report.removed["fc1"].tolist() == dead
    assert_same_outputs(report.model, model, x)


def test_an_unheard_unit_behind_a_sigmoid_is_removed(rng):
    model = build_model("mlp:6-5-3:sigmoid", seed=2, dtype=np.float64)
    prune_entries(model, "fc2", 1, slice(None))
    report = remove_dead_units(model)
    assert report.removed["fc1"].tolist() == [1] and report.model.spec == "mlp:6-4-3:sigmoid"
    x = rng.standard_normal((4, 6))
    assert_same_outputs(report.model, model, x)


def test_a_silent_unit_with_a_bias_is_kept_unless_unheard(rng):
    model = build_model("mlp:6-5-3:relu", seed=2, dtype=np.float64)
    silence_unit(model, "fc1", 1)
    model.layer("fc1").bias.value[1] = 0.5  # relu(0.5) = 0.5 reaches fc2
    x = rng.standard_normal((4, 6))
    assert dead_units(model)["fc1"].tolist() == []
    report = remove_dead_units(model)
    assert report.passes == 0 and report.model.spec == "mlp:6-5-3:relu"
    np.testing.assert_array_equal(report.model.forward(x), model.forward(x))
    # the unit matters: without it the outputs change
    changed = build_model("mlp:6-5-3:relu", seed=2, dtype=np.float64)
    silence_unit(changed, "fc1", 1)
    assert not np.allclose(changed.forward(x), model.forward(x))
    # once its outgoing weights are pruned too, rule (b) removes it
    prune_entries(model, "fc2", 1, slice(None))
    report = remove_dead_units(model)
    assert report.removed["fc1"].tolist() == [1]
    assert_same_outputs(report.model, model, x)


def test_a_pruned_but_trainable_bias_of_zero_is_not_pruned(rng):
    """A masked bias counts by its mask: kept (True) at the value 0 is not pruned."""
    model = build_model("mlp:6-5-3:relu", seed=2, dtype=np.float64)
    silence_unit(model, "fc1", 1)
    model.layer("fc1").bias.set_mask(np.ones(5, bool))
    assert dead_units(model)["fc1"].tolist() == []
    model.layer("fc1").bias.set_mask(np.arange(5) != 1)
    assert dead_units(model)["fc1"].tolist() == [1]


def test_removal_cascades_forward(rng):
    """fc2 unit 2 hears only fc1 units 0 and 1, which are silent: it goes in a second pass."""
    model = build_model("mlp:6-5-4-3:relu", seed=5, dtype=np.float64)
    silence_unit(model, "fc1", [0, 1])
    prune_entries(model, "fc2", slice(2, None), 2)
    model.layer("fc2").bias.value[2] = 0
    assert {k: v.tolist() for k, v in dead_units(model).items()} == {"fc1": [0, 1], "fc2": [], "fc3": []}
    report = remove_dead_units(model)
    assert report.passes == 2
    assert report.removed["fc1"].tolist() == [0, 1] and report.removed["fc2"].tolist() == [2]
    assert report.model.spec == "mlp:6-3-3-3:relu"
    x = rng.standard_normal((4, 6))
    assert_same_outputs(report.model, model, x)


def test_removal_cascades_backward(rng):
    """fc1 unit 4 speaks only to fc2 unit 3, which nobody hears: it goes in a second pass."""
    model = build_model("mlp:6-5-4-3:relu", seed=5, dtype=np.float64)
    prune_entries(model, "fc3", 3, slice(None))
    prune_entries(model, "fc2", 4, slice(None, 3))
    assert dead_units(model)["fc1"].tolist() == [] and dead_units(model)["fc2"].tolist() == [3]
    report = remove_dead_units(model)
    assert report.passes == 2
    assert report.removed["fc1"].tolist() == [4] and report.removed["fc2"].tolist() == [3]
    x = rng.standard_normal((4, 6))
    assert_same_outputs(report.model, model, x)


def test_a_layer_keeps_its_first_unit_when_all_are_dead(rng):
    model = build_model("mlp:6-5-3:relu", seed=2, dtype=np.float64)
    silence_unit(model, "fc1", slice(None))
    assert dead_units(model)["fc1"].tolist() == [1, 2, 3, 4]
    report = remove_dead_units(model)
    assert report.kept["fc1"].tolist() == [0] and report.model.spec == "mlp:6-1-3:relu"
    assert report.parameters_after == 6 * 1 + 1 + 1 * 3 + 3
    x = rng.standard_normal((4, 6))
    assert_same_outputs(report.model, model, x)
    assert remove_dead_units(report.model).passes == 0


def test_inputs_and_outputs_are_never_removed():
    model = build_model("mlp:6-5-3:relu", seed=2)
    model.layer("fc1").weight.set_mask(np.arange(6)[:, None] != np.zeros((1, 5)))  # input 0 unused
    model.layer("fc2").weight.set_mask(np.arange(3)[None, :] != np.full((5, 1), 2))  # class 2 silent
    model.layer("fc2").bias.value[2] = 0
    report = remove_dead_units(model)
    assert report.passes == 0 and report.model.layer("fc1").fan_in == 6 and report.model.layer("fc2").units == 3


def test_dead_units_changes_nothing():
    model = build_model("lenet5:4-5-6", seed=1)
    silence_unit(model, "conv1", 0)
    before = snapshot(model)
    assert dead_units(model)["conv1"].tolist() == [0]
    assert_same_parameters(model, before)
    assert list(dead_units(model)) == ["conv1", "conv2", "fc1", "fc2"]


# --- what the new model carries -----------------------------------------------------------------

def test_weight_noise_rules_are_dropped_with_a_note():
    model = build_model("mlp:6-5-3:relu", seed=2)
    rule = TargetedWeightDropout(0.5, 0.5)
    model.layer("fc1").noise = rule
    silence_unit(model, "fc1", 1)
    report = remove_dead_units(model)
    assert report.model.layer("fc1").noise is None and model.layer("fc1").noise is rule
    assert len(report.notes) == 1 and "fc1" in report.notes[0] and "TargetedWeightDropout" in report.notes[0]


def test_a_rule_that_changes_evaluation_is_refused():
    model = build_model("mlp:6-5-3:relu", seed=2)
    model.layer("fc2").noise = DropConnect(0.5)
    before = snapshot(model)
    with pytest.raises(ValueError, match="DropConnect.*layer.noise = None"):
        remove_dead_units(model)
    assert_same_parameters(model, before)


def test_other_modules_and_generators_are_copied(rng):
    model = build_model("mlp:6-5-3:relu", seed=2, dtype=np.float64)
    model.insert_after("relu1", Dropout(0.5, np.random.default_rng(1)))
    silence_unit(model, "fc1", 3)
    report = remove_dead_units(model)
    new = report.model
    assert [layer.name for layer in new.layers] == [layer.name for layer in model.layers]
    assert new.layer("drop1") is not model.layer("drop1") and new.layer("relu1") is not model.layer("relu1")
    for name in ("fc1", "fc2", "drop1"):
        old_rng, new_rng = model.layer(name).rng, new.layer(name).rng
        assert new_rng is not old_rng and new_rng.bit_generator.state == old_rng.bit_generator.state
    assert new.input_shape == model.input_shape == (6,)
    assert new.layer("fc1").weight.value.flags.f_contiguous  # as build_model lays dense weights out
    x = rng.standard_normal((4, 6))
    assert_same_outputs(new, model, x)


def test_a_model_without_spec_shrinks_conv_to_conv_with_padding(rng):
    r = np.random.default_rng(0)
    model = Sequential(Conv2D(2, 4, 3, rng=r, padding="same", dtype=np.float64), AvgPool2D(2),
                       Conv2D(4, 3, 3, rng=r, stride=2, padding=1, dtype=np.float64), ReLU(), Flatten(),
                       Dense(3 * 2 * 2, 2, rng=r, dtype=np.float64))
    model.layer("conv1").bias.value[:] = 0.2
    silence_unit(model, "conv1", 1)
    model.layer("conv2").kernel[:, 3] = 0
    report = remove_dead_units(model)
    assert report.removed["conv1"].tolist() == [1, 3] and report.model.spec is None
    assert report.model.layer("conv2").in_channels == 2
    x = rng.standard_normal((2, 2, 8, 8))
    assert_same_outputs(report.model, model, x)


def test_a_sigmoid_after_a_conv_blocks_rule_a_only_there(rng):
    r = np.random.default_rng(0)
    model = Sequential(Conv2D(1, 3, 3, rng=r, dtype=np.float64), Sigmoid(),
                       Conv2D(3, 2, 3, rng=r, dtype=np.float64), Flatten(),
                       Dense(2 * 4 * 4, 2, rng=r, dtype=np.float64))
    silence_unit(model, "conv1", 0)
    assert dead_units(model)["conv1"].tolist() == []
    silence_unit(model, "conv2", 1)
    assert dead_units(model)["conv2"].tolist() == [1]


# --- specs -----------------------------------------------------------------------------------------

def test_lenet300_gets_an_mlp_spec_and_nothing_removed_keeps_the_spec():
    model = build_model("lenet300", seed=0)
    assert remove_dead_units(model).model.spec == "lenet300"
    silence_unit(model, "fc2", [4, 7])
    report = remove_dead_units(model)
    assert report.model.spec == "mlp:784-300-98-10:relu"
    assert report.parameters_before - report.parameters_after == 2 * (300 + 1 + 10)
    assert build_model("lenet5", seed=0).spec == "lenet5"
    assert remove_dead_units(build_model("lenet5", seed=0)).model.spec == "lenet5"


@pytest.mark.parametrize("spec, match", [("resnet", "needs a model built from"),
                                         ("mlp:12-9-8-4", "does not describe"),
                                         ("lenet5:4-5-7", "does not describe")])
def test_a_spec_that_does_not_describe_the_model_is_refused(spec, match):
    model = build_model("mlp:12-10-8-4" if spec.startswith(("mlp", "res")) else "lenet5:4-5-6")
    model.spec = spec
    with pytest.raises(ValueError, match=match):
        remove_dead_units(model)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(TypeError, match="'model' parameter"):
        dead_units("lenet300")
    r = np.random.default_rng(0)

    class Odd(ReLU):
        f = None  # not an element-wise activation any more

    model = Sequential(Dense(3, 2, rng=r), Odd(), Dense(2, 2, rng=r))
    with pytest.raises(TypeError, match="Odd"):
        remove_dead_units(model)


# --- checkpoints -----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, x_shape", [("lenet5:4-5-6", (2, 1, 28, 28)), ("mlp:12-10-8-4:tanh", (3, 12))])
def test_checkpoint_of_a_shrunken_model_round_trips(spec, x_shape, tmp_path, rng):
    model = build_model(spec, seed=4)
    rows = lenet5_rows(model) if spec.startswith("lenet5") else mlp_rows(model)
    prune(model, rows, dict(seed=9, density=0.5, silence=0.4, deafen=0.4, zero_bias=1.0, masked=True,
                            bias_masked=False))
    new = remove_dead_units(model).model
    assert new.spec != spec
    path = save_checkpoint(tmp_path / "small.npz", new, epoch=3)
    loaded, meta = load_checkpoint(path)
    assert meta["spec"] == new.spec == loaded.spec and meta["epoch"] == 3
    assert_same_parameters(loaded, snapshot(new))
    x = rng.standard_normal(x_shape).astype(np.float32)
    np.testing.assert_array_equal(loaded.forward(x), new.forward(x))

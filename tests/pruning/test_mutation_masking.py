"""Pruning a model (tdnumpy.pruning.masking): exact argument errors, pruning
on top of earlier masks when scores rank the weights, the layers a call
reports and prunes, and the edges of Han et al.'s dropout rule.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.nn import Dropout
from tdnumpy.nn.models import build_model
from tdnumpy.pruning import masking
from tdnumpy.training.schedules import PolynomialSparsity


def _model(seed=0):
    return build_model("mlp:12-10-8-4", seed=seed, dtype=np.float64)


def _message(error, call):
    with pytest.raises(error) as caught:
        call()
    return str(caught.value)


FRACTION = "a float in the range [0.0, 1.0]"
ERRORS = [
    # (kind, amount, error, the whole message)
    ("weight", {"fc1": 1.5}, ValueError, f"The 'amount (fraction) of fc1' parameter of prune must be {FRACTION}. Got 1.5 instead."),
    ("layer", {"fc2": -0.5}, ValueError, f"The 'amount (fraction) of fc2' parameter of prune must be {FRACTION}. Got -0.5 instead."),
    ("std", {"fc1": -1.0}, ValueError,
     "The 'amount (quality) of fc1' parameter of prune must be a float in the range [0.0, inf). Got -1.0 instead."),
    ("global", 1.5, ValueError, f"The 'amount (fraction)' parameter of prune must be {FRACTION}. Got 1.5 instead."),
    ("global", -0.5, ValueError, f"The 'amount (fraction)' parameter of prune must be {FRACTION}. Got -0.5 instead."),
    ("global", {"fc1": 0.5}, TypeError, "Global pruning takes one fraction for all layers, not a dict."),
]


@pytest.mark.parametrize("kind, amount, error, message", ERRORS, ids=[f"case{i}" for i in range(len(ERRORS))])
def test_a_bad_amount_gets_the_documented_message_in_full(kind, amount, error, message):
    assert _message(error, lambda: masking.prune(_model(), kind, amount)) == message


def test_per_layer_amounts_may_be_any_fraction_in_0_1_and_any_quality():
    model = _model()
    masking.prune(model, "weight", {"fc1": 0.0, "fc2": 1.0})
    masking.prune(model, "std", {"fc3": 3.5})
    assert masking.report(model, ["fc2"])[0]["kept"] == 0


def test_std_pruning_takes_no_scores():
    model = _model()
    scores = {n: np.ones_like(model.layer(n).weight.value) for n in ("fc1", "fc2", "fc3")}
    assert _message(ValueError, lambda: masking.prune(model, "std", 1.0, scores=scores)) == \
        "Han et al.'s std pruning thresholds |W| itself; it takes no `scores`."


def test_scores_must_be_finite_non_negative_floats_and_zero_is_allowed():
    model = _model()
    w = model.layer("fc1").weight
    with pytest.raises(ValueError, match="must be finite non-negative floats"):
        masking.prune(model, "weight", 0.5, layers=["fc1"], scores={"fc1": np.ones(w.shape, np.int64)})
    masking.prune(model, "weight", 0.5, layers=["fc1"], scores={"fc1": np.zeros(w.shape)})
    assert masking.report(model, ["fc1"])[0]["kept"] == 6 * 10


def test_prune_reports_exactly_the_layers_it_pruned():
    for kind in ("weight", "global"):
        rows = masking.prune(_model(), kind, 0.5, layers=["fc2"])
        assert [r["layer"] for r in rows] == ["fc2"]


def test_unit_pruning_by_score_counts_a_unit_that_is_already_dead():
    """With scores, a unit whose weights were all pruned still ranks first: f N units go in all."""
    model = _model()
    w = model.layer("fc1").weight
    dead = np.ones(w.shape, bool)
    dead[:, 9] = False
    w.set_mask(dead)
    scores = np.arange(10, dtype=float) + 1.0  # unit 9, already dead, has the largest score
    masking.prune(model, "unit", 0.2, layers=["fc1"], scores={"fc1": scores})
    np.testing.assert_array_equal(w.mask.any(axis=0), [False] + [True] * 8 + [False])


def test_unit_pruning_keeps_the_single_weights_pruned_before():
    model = _model()
    masking.prune(model, "weight", 0.5, layers=["fc1"])
    before = model.layer("fc1").weight.mask.copy()
    masking.prune(model, "unit", 0.2, layers=["fc1"])
    after = model.layer("fc1").weight.mask
    assert not (after & ~before).any()
    assert (~after.any(axis=0)).sum() == 2 and after.sum() == before[:, after.any(axis=0)].sum()


def test_global_pruning_by_new_scores_only_adds_to_what_was_pruned():
    model = _model()
    names = ("fc1", "fc2", "fc3")
    rng = np.random.default_rng(0)
    first = {n: rng.random(model.layer(n).weight.shape) for n in names}
    masking.prune(model, "global", 0.5, scores=first)
    before = {n: model.layer(n).weight.mask.copy() for n in names}
    masking.prune(model, "global", 0.5, scores={n: 1.0 - s for n, s in first.items()})  # the opposite ranking
    for n in names:
        np.testing.assert_array_equal(model.layer(n).weight.mask, before[n])


RATE = "a float in the range [0.0, 1.0)"


@pytest.mark.parametrize("rate, kept, original, message", [
    (-0.1, 1, 2, f"The 'rate' parameter of retrain_dropout_rate must be {RATE}. Got -0.1 instead."),
    (1.0, 1, 2, f"The 'rate' parameter of retrain_dropout_rate must be {RATE}. Got 1.0 instead."),
    (0.5, 0, 0, "retrain_dropout_rate needs connection counts 0 <= kept <= original, original > 0. "
                "Got kept=0, original=0."),
])
def test_retrain_dropout_rate_refuses_out_of_range_arguments_in_full(rate, kept, original, message):
    assert _message(ValueError, lambda: masking.retrain_dropout_rate(rate, kept, original)) == message


def test_retrain_dropout_rate_edges():
    assert masking.retrain_dropout_rate(0.0, 1, 4) == 0.0
    assert masking.retrain_dropout_rate(0.5, 1, 1) == 0.5
    assert masking.retrain_dropout_rate(0.5, 1, 4) == 0.25


def test_adjust_dropout_leaves_a_module_before_the_first_weighted_layer_alone():
    model = _model()
    first = model.layers[0].name
    model.insert_after("relu1", Dropout(0.5, np.random.default_rng(0), name="drop1"))
    model.layers.insert(0, Dropout(0.3, np.random.default_rng(0), name="drop0"))
    assert model.layers[1].name == first
    masking.prune(model, "layer", {"fc1": 0.75})
    assert masking.adjust_dropout(model) == {"drop1": 0.5}
    assert model.layer("drop0").p == 0.3


def test_adjust_dropout_takes_the_current_rate_of_a_module_missing_from_original_rates():
    model = _model()
    model.insert_after("relu1", Dropout(0.5, np.random.default_rng(0), name="drop1"))
    masking.prune(model, "layer", {"fc1": 0.75})
    assert masking.adjust_dropout(model, {}) == {"drop1": 0.5}
    assert model.layer("drop1").p == pytest.approx(0.25)


def _schedule():
    return PolynomialSparsity(0.5, start=0, steps=2, interval=1)


def test_gradual_pruning_refuses_bad_arguments_in_full():
    model = _model()
    assert _message(ValueError, lambda: masking.GradualPruning(model, _schedule(), kind="std")) == \
        "The 'kind' parameter of GradualPruning must be one of 'weight', 'unit', 'layer', 'global'. Got 'std' instead."
    assert _message(TypeError, lambda: masking.GradualPruning(model, 0.5)) == \
        "The 'schedule' parameter of GradualPruning must be a PolynomialSparsity. Got float instead."
    with pytest.raises(ValueError, match="No weighted layer named 'fc9'"):
        masking.GradualPruning(model, _schedule(), layers=["fc9"])


def test_gradual_unit_pruning_prunes_only_the_chosen_layers():
    model = _model()
    hook = masking.GradualPruning(model, _schedule(), kind="unit", layers=["fc2"])
    for step in range(4):
        hook(step)
    assert model.layer("fc1").weight.mask is None and model.layer("fc3").weight.mask is None
    assert (~model.layer("fc2").weight.mask.any(axis=0)).sum() == 4


def test_parameters_left_counts_kept_entries_biases_included():
    model = build_model("mlp:6-5-3", seed=0, dtype=np.float64)
    keep = np.ones((6, 5), bool)
    keep.flat[:7] = False
    model.layer("fc1").weight.set_mask(keep)
    model.layer("fc2").bias.set_mask(np.array([True, False, True]))
    assert masking.parameters_left(model) == 23 + 5 + 15 + 2

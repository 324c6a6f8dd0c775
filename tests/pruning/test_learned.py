"""What a sparsifying baseline learnt (tdnumpy.pruning.learned): the folded
network computes what the gated one computes at evaluation, what the method
removes is masked, the importance scores rank as their methods say, and
pruning takes them in place of magnitudes."""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.experiments import regularisers
from tdnumpy.nn.models import build_model
from tdnumpy.nn.sparsifying import learnt_sparsifiers
from tdnumpy.pruning import masking
from tdnumpy.pruning.learned import fold, importance


def _gated(spec: str, reg: str, rng, dtype=np.float64):
    """A model with ``reg`` on its default layers and its gates set at random,
    some of them at zero (and, for switches and variational units, negative)."""
    model = build_model(spec, dtype=dtype, seed=1)
    regularisers.apply(model, regularisers.choose(reg, model), regularisers.Settings())
    for item in learnt_sparsifiers(model):
        for p in item.parameters():
            short = p.name.rsplit(".", 1)[-1]
            if short == "log_alpha":
                p.value[...] = rng.normal(0, 3, p.shape)
            elif short == "log_sigma2":
                p.value[...] = rng.uniform(-12, 2, p.shape)
                p.value.flat[0] = 12.0  # log alpha > 3 for this one at least
            elif short in ("theta", "switch"):
                p.value[...] = rng.normal(0.5, 1, p.shape)
        if item.method == "smallify":
            item.switch.set_mask(rng.random(item.units) < 0.8)
    return model


CASES = [("mlp:20-12-8-5", name) for name in regularisers.SPARSIFYING] + [
    ("lenet5:3-4-6", name) for name in regularisers.SPARSIFYING]


@pytest.mark.parametrize("spec, reg", CASES)
def test_the_folded_network_computes_the_gated_one(spec, reg, rng):
    model = _gated(spec, reg, rng)
    shape = (7, 20) if spec.startswith("mlp") else (7, 1, 28, 28)
    x = rng.standard_normal(shape)
    before = model.forward(x)
    removed = fold(model)
    assert not learnt_sparsifiers(model) and all(getattr(m, "noise", None) is None for m in model.layers)
    np.testing.assert_allclose(model.forward(x), before, rtol=1e-10, atol=1e-12)
    assert sum(r["removed"] for r in removed.values()) > 0  # the gates set to remove something
    for p in model.parameters():
        if p.mask is not None:
            assert (p.value[~p.mask] == 0).all()


@pytest.mark.parametrize("spec", ["fc1=smallify,fc2=vd-weight", "fc1=vd-unit,fc2=vd-weight",
                                  "fc1=vd-weight,fc2=l0-unit,fc3=l0-weight"])
def test_mixed_specifications_fold_to_the_same_network(spec, rng):
    """A unit gate that goes into the rows of a layer with its own weight rule: the
    rule is folded first (variational dropout's gate depends on W)."""
    model = _gated("mlp:20-12-8-5", spec, rng)
    x = rng.standard_normal((7, 20))
    before = model.forward(x)
    fold(model)
    np.testing.assert_allclose(model.forward(x), before, rtol=1e-10, atol=1e-12)


def test_what_each_method_removes_is_counted_and_masked(rng):
    model = _gated("mlp:20-12-8-5", "l0-weight", rng)
    gates = {layer.name: layer.noise.evaluation_gate() for layer in model.layers if getattr(layer, "noise", None)}
    report = fold(model)
    for name, gate in gates.items():
        assert report[name] == {"method": "l0", "what": "weights", "removed": int((gate == 0).sum()),
                                "of": gate.size}
        assert (model.layer(name).weight.mask == (gate != 0)).all()

    model = _gated("mlp:20-12-8-5", "smallify", rng)
    switch = model.layer("switch1").switch
    dead = ~switch.mask
    report = fold(model)
    assert report["fc1"]["removed"] == dead.sum() > 0 and report["fc1"]["what"] == "units"
    fc1, fc2 = model.layer("fc1"), model.layer("fc2")
    assert (~fc1.weight.mask[:, dead]).all() and (~fc1.bias.mask[dead]).all()
    assert (~fc2.weight.mask[dead, :]).all()  # and the rows that read them


def test_importance_follows_each_method(rng):
    model = _gated("mlp:20-12-8-5", "vd-weight", rng)
    scores = importance(model)
    layer = model.layer("fc1")
    log_alpha = layer.noise.log_sigma2.value - np.log(np.square(layer.weight.value))
    kind, s = scores["fc1"]
    assert kind == "weight" and s.shape == layer.weight.shape
    assert (np.argsort(s, axis=None, kind="stable") == np.argsort(-log_alpha, axis=None, kind="stable")).all()

    model = _gated("mlp:20-12-8-5", "smallify", rng)
    kind, s = importance(model)["fc2"]
    assert kind == "unit" and np.array_equal(s, np.abs(model.layer("switch2").switch.value))


def test_pruning_by_scores_removes_the_least_important(rng):
    model = build_model("mlp:20-12-8-5", dtype=np.float64, seed=0)
    scores = {"fc1": rng.random(12), "fc2": rng.random(8)}
    masking.prune(model, "unit", 0.5, ["fc1", "fc2"], scores=scores)
    for name, s in scores.items():
        kept = model.layer(name).weight.mask.any(axis=0)
        assert (kept == (s >= np.sort(s)[len(s) // 2])).all()
    weight_scores = {"fc1": rng.random((20, 12))}
    masking.prune(model, "weight", 0.25, ["fc1"], scores=weight_scores)
    mask = model.layer("fc1").weight.mask
    kept_units = mask.any(axis=0)
    for o in np.flatnonzero(kept_units):  # per column, the 5 lowest scores go
        assert (mask[:, o] == (weight_scores["fc1"][:, o] > np.sort(weight_scores["fc1"][:, o])[4])).all()


@pytest.mark.parametrize("scores, kind, match", [
    ({"fc1": np.ones(12)}, "weight", r"shape \(20, 12\) for kind 'weight'"),
    ({"fc1": -np.ones(12)}, "unit", "non-negative"),
    ({"fc2": np.ones(8)}, "unit", "none for layer 'fc1'"),
    ({"fc1": np.ones((20, 12))}, "std", "takes no `scores`"),
])
def test_bad_scores_are_refused(scores, kind, match):
    model = build_model("mlp:20-12-8-5", seed=0)
    with pytest.raises(ValueError, match=match):
        masking.prune(model, kind, 0.5, ["fc1"], scores=scores)

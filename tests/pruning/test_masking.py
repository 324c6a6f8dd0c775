"""Pruning a model (tdnumpy.pruning.masking): exact and idempotent, steps that
compose, pruning on top of earlier masks, biases and the output layer, masks
that last through retraining, gradual pruning, and Han et al.'s dropout rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies import FRACTIONS
from tdnumpy import masks
from tdnumpy.nn import Dropout
from tdnumpy.nn.models import build_model
from tdnumpy.pruning import masking
from tdnumpy.training.fit import fit
from tdnumpy.training.optim import SGD, Adam
from tdnumpy.training.schedules import PolynomialSparsity


def _model(seed=0, spec="mlp:12-10-8-4", dtype=np.float64, ties=False):
    model = build_model(spec, seed=seed, dtype=dtype)
    if ties:  # many equal magnitudes, zeros included: the tie rule decides
        rng = np.random.default_rng(seed)
        for p in model.parameters():
            p.value[...] = rng.integers(-2, 3, p.shape) * 0.5
    return model


def _masks(model):
    return {n: None if p.mask is None else p.mask.copy() for n, p in model.named_parameters().items()}


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["weight", "unit", "layer", "global"]), f=FRACTIONS, seed=st.integers(0, 1000),
       ties=st.booleans())
def test_pruning_a_model_is_idempotent_and_exact(kind, f, seed, ties):
    model = _model(seed, ties=ties)
    masking.prune(model, kind, f)
    first = _masks(model)
    masking.prune(model, kind, f)
    for name, mask in _masks(model).items():
        np.testing.assert_array_equal(mask, first[name], err_msg=name)
    chosen = masking.prunable_layers(model, kind=kind)
    fresh = _model(seed, ties=ties)
    expected = {"weight": lambda w: masks.weight_prune_keep(w, f),
                "unit": lambda w: np.broadcast_to(masks.unit_prune_keep(w, f), w.shape),
                "layer": lambda w: masks.magnitude_prune_keep(w, f)}
    if kind == "global":
        want = masks.global_prune_keep([fresh.layer(la.name).weight.value for la in chosen], f)
    else:
        want = [expected[kind](fresh.layer(la.name).weight.value) for la in chosen]
    for layer, keep in zip(chosen, want):
        if keep.all():  # nothing pruned: no mask is attached
            assert layer.weight.mask is None, layer.name
            continue
        np.testing.assert_array_equal(layer.weight.mask, keep, err_msg=layer.name)
        assert (layer.weight.value[~keep] == 0).all()
        np.testing.assert_array_equal(layer.weight.value[keep], fresh.layer(layer.name).weight.value[keep])
    reached = masking.sparsity(model, [la.name for la in chosen])
    removed = sum(int(np.count_nonzero(~k)) for k in want)
    assert reached == pytest.approx(removed / sum(la.weight.size for la in chosen), abs=1e-15)


def _kept(mask, shape):
    """A parameter's keep-mask; no mask means nothing pruned, all kept."""
    return np.ones(shape, bool) if mask is None else mask


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from(["weight", "unit", "layer", "global", "std"]), f1=FRACTIONS, f2=FRACTIONS,
       seed=st.integers(0, 1000), ties=st.booleans())
def test_pruning_at_f1_then_f2_equals_pruning_at_f2(kind, f1, f2, seed, ties):
    """Pruning more removes a superset, and the steps compose: f1 then f2 >= f1
    is f2 at once (already pruned weights rank below every kept one, ties too).
    Han et al.'s std rule does not compose (its threshold q std(W) moves with
    the zeros the first step adds); its second step must be exactly the rule
    applied to the values and mask the first step left: keep |W| >= q2 std(W)
    (std over all entries, pruned zeros included, in float64) and what was kept."""
    f1, f2 = min(f1, f2), max(f1, f2)
    if kind == "std":
        f1, f2 = 2 * f1, 2 * f2
    stepwise, once = _model(seed, ties=ties), _model(seed, ties=ties)
    masking.prune(stepwise, kind, f1)
    after_f1 = _masks(stepwise)
    values_f1 = {n: p.value.copy() for n, p in stepwise.named_parameters().items()}
    masking.prune(stepwise, kind, f2)
    masking.prune(once, kind, f2)
    for name, p in stepwise.named_parameters().items():
        assert (_kept(p.mask, p.shape) <= _kept(after_f1[name], p.shape)).all(), name  # a superset removed
        if kind != "std":
            np.testing.assert_array_equal(p.mask, _masks(once)[name], err_msg=name)
        elif name.endswith(".weight"):
            w, before = values_f1[name], _kept(after_f1[name], p.shape)
            keep = (np.abs(w).astype(np.float64) >= f2 * np.std(w.astype(np.float64))) & before
            np.testing.assert_array_equal(keep, masks.std_prune_keep(w, f2, after_f1[name]), err_msg=name)
            np.testing.assert_array_equal(_kept(p.mask, p.shape), keep, err_msg=name)
            assert (p.mask is None) == (after_f1[name] is None and keep.all()), name  # a mask only if pruned
            np.testing.assert_array_equal(p.value, np.where(keep, w, 0), err_msg=name)
        else:  # biases: std pruning leaves them alone
            assert p.mask is None, name
            np.testing.assert_array_equal(p.value, values_f1[name], err_msg=name)


@settings(max_examples=40, deadline=None)
@given(f=FRACTIONS, seed=st.integers(0, 1000), density=st.floats(0.0, 1.0))
def test_pruning_counts_what_was_pruned_before(f, seed, density):
    """On top of any earlier mask (another kind, a checkpoint's), pruning at f per
    column removes exactly max(floor(f N_row), already removed) of each column:
    the pruned entries are ranked below kept ones, even below kept zeros."""
    model = _model(seed, ties=True)  # kept exact zeros tie with the pruned ones
    w = model.layer("fc1").weight
    prior = np.random.default_rng(seed).random(w.shape) >= density
    w.set_mask(prior)
    masking.prune(model, "weight", f, layers=["fc1"])
    k = math.floor(f * w.shape[0])
    removed = np.count_nonzero(~w.mask, axis=0)
    np.testing.assert_array_equal(removed, np.maximum(k, np.count_nonzero(~prior, axis=0)))
    assert (w.mask <= prior).all()


def test_unit_pruning_removes_bias_and_spares_the_output_layer():
    model = _model()
    masking.prune(model, "unit", 0.5)
    for name in ("fc1", "fc2"):
        layer = model.layer(name)
        units = layer.weight.mask.all(axis=0)
        assert (~layer.weight.mask.any(axis=0) == ~units).all()  # whole columns
        np.testing.assert_array_equal(layer.bias.mask, units)
        assert np.count_nonzero(~units) == layer.weight.shape[1] // 2
    assert model.layer("fc3").weight.mask is None and model.layer("fc3").bias.mask is None


def test_weight_pruning_leaves_biases_alone():
    model = _model()
    masking.prune(model, "weight", 0.9)
    assert all(model.layer(n).bias.mask is None for n in ("fc1", "fc2", "fc3"))


def test_per_layer_amounts_and_layer_choice():
    model = _model()
    rows = masking.prune(model, "layer", {"fc1": 0.5, "fc3": 0.25})
    assert [r["layer"] for r in rows] == ["fc1", "fc2", "fc3"]
    assert rows[0]["sparsity"] == 0.5 and rows[2]["sparsity"] == 0.25
    assert model.layer("fc2").weight.mask is None
    masking.prune(model, "weight", 0.5, layers=["fc2"])
    assert masking.report(model, ["fc2"])[0]["kept"] == 8 * 5


@pytest.mark.parametrize("kind, amount, layers, error, match", [
    ("weight", 1.5, None, ValueError, r"'amount \(fraction\)' parameter of prune must be a float in the range \[0.0, 1.0\]"),
    ("layer", -0.5, None, ValueError, r"'amount \(fraction\)' parameter of prune"),
    ("std", -1.0, None, ValueError, r"'amount \(quality\)' parameter of prune"),
    ("weight", 0.5, ["fc9"], ValueError, "No weighted layer named 'fc9'"),
    ("weight", {"fc9": 0.5}, None, ValueError, r"The amount \(fraction\) of layers \['fc9'\] was given"),
    ("magic", 0.5, None, ValueError, "'kind' parameter of prune"),
    ("global", {"fc1": 0.5}, None, TypeError, "Global pruning takes one fraction"),
])
def test_prune_rejects_bad_input(kind, amount, layers, error, match):
    with pytest.raises(error, match=match):
        masking.prune(_model(), kind, amount, layers)


# -------------------------------------------------------- masks that last


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
                                  lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
                                  lambda ps: Adam(ps, lr=0.01, weight_decay=1e-3)])
def test_pruned_entries_stay_zero_through_retraining(make):
    """Pruned after the optimiser has built up momentum / Adam moments: the
    pruned weights, their gradients and their optimiser state stay exactly 0
    through every later step, while the kept weights keep training."""
    rng = np.random.default_rng(0)
    model = _model(dtype=np.float32)
    x = rng.standard_normal((256, 12)).astype(np.float32)
    y = rng.integers(0, 4, 256)
    opt = make(model.parameters())
    fit(model, x, y, optimizer=opt, epochs=2, batch_size=32, rng=rng, progress=False)
    masking.prune(model, "unit", 0.3)
    masking.prune(model, "weight", 0.6)
    kept = {n: p.value.copy() for n, p in model.named_parameters().items()}
    for _ in range(5):
        fit(model, x, y, optimizer=opt, epochs=1, batch_size=32, rng=rng, progress=False)
        for name, p in model.named_parameters().items():
            if p.mask is None:
                continue
            assert (p.value[~p.mask] == 0.0).all(), name
            assert (p.grad[~p.mask] == 0.0).all(), name
            for key, buf in opt.state().items():
                if key.endswith("/" + name):
                    assert (buf[~p.mask] == 0.0).all(), key
    assert all(not np.array_equal(p.value[p.mask], kept[n][p.mask])
               for n, p in model.named_parameters().items() if p.mask is not None)


# -------------------------------------------------------- gradual pruning


@pytest.mark.parametrize("kind", ["layer", "weight", "global"])
def test_gradual_pruning_reaches_the_final_sparsity_during_training(kind):
    rng = np.random.default_rng(1)
    model = _model(dtype=np.float32)
    x = rng.standard_normal((320, 12)).astype(np.float32)
    y = rng.integers(0, 4, 320)
    schedule = PolynomialSparsity(0.8, start=5, steps=6, interval=4)
    seen = []
    hook = masking.GradualPruning(model, schedule, kind=kind)
    fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.05, momentum=0.9), epochs=4, batch_size=32,
        rng=rng, progress=False, before_step=lambda t: (hook(t), seen.append(masking.sparsity(model))))
    assert seen[8] == 0.0 and seen[9] > 0.0  # s(t0) = s_i = 0; the first cut is at t0 + dt
    assert all(a <= b for a, b in zip(seen, seen[1:]))
    n = sum(model.layer(name).weight.size for name in ("fc1", "fc2", "fc3"))
    expected = {"global": math.floor(0.8 * n) / n}.get(kind)
    if expected is None:  # per layer (or per column) floor(0.8 N)
        sizes = [(12, 10), (10, 8), (8, 4)]
        per = (lambda r, c: math.floor(0.8 * r) * c) if kind == "weight" else (lambda r, c: math.floor(0.8 * r * c))
        expected = sum(per(r, c) for r, c in sizes) / n
    assert seen[-1] == pytest.approx(expected, abs=1e-12)
    for layer in ("fc1", "fc2", "fc3"):
        p = model.layer(layer).weight
        assert (p.value[~p.mask] == 0).all()


# ---------------------------------------------- Han et al.'s dropout rule


def test_retrain_dropout_rate_formula():
    assert masking.retrain_dropout_rate(0.5, 25, 100) == pytest.approx(0.25)
    assert masking.retrain_dropout_rate(0.5, 100, 100) == 0.5
    assert masking.retrain_dropout_rate(0.5, 0, 100) == 0.0
    with pytest.raises(ValueError, match="0 <= kept <= original"):
        masking.retrain_dropout_rate(0.5, 101, 100)
    with pytest.raises(ValueError, match="'rate' parameter of retrain_dropout_rate"):
        masking.retrain_dropout_rate(1.0, 1, 100)


def test_adjust_dropout_uses_the_layer_before_and_the_original_rate():
    model = _model()
    model.insert_after("relu1", Dropout(0.5, np.random.default_rng(0), name="drop1"))
    model.insert_after("relu2", Dropout(0.4, np.random.default_rng(0), name="drop2"))
    masking.prune(model, "layer", {"fc1": 0.75, "fc2": 0.0})
    rates = masking.adjust_dropout(model)
    assert rates == {"drop1": 0.5, "drop2": 0.4}
    assert model.layer("drop1").p == pytest.approx(0.5 * math.sqrt(30 / 120))
    assert model.layer("drop2").p == pytest.approx(0.4)
    masking.prune(model, "layer", {"fc1": 0.9375, "fc2": 0.0})  # second round: from D_o, not from the last rate
    masking.adjust_dropout(model, rates)
    assert model.layer("drop1").p == pytest.approx(0.5 * math.sqrt(8 / 120))

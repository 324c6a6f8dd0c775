"""Pruning: the masks of tdnumpy.masks, pruning a model (tdnumpy.prune), masks
that last through retraining, gradual pruning, Han et al.'s dropout rule and
the L1 / L2 penalties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies import FRACTIONS, weights
from tdnumpy import masks
from tdnumpy import prune as pruning
from tdnumpy.models import build_model
from tdnumpy.nn import Dropout
from tdnumpy.optim import SGD, Adam
from tdnumpy.penalties import L1, L2
from tdnumpy.schedules import PolynomialSparsity
from tdnumpy.train import fit

ORDER = lambda w: np.abs(w).astype(np.float64)  # noqa: E731


def _some_removed_above_kept(scores: np.ndarray, keep: np.ndarray) -> bool:
    """Whether some removed score exceeds some kept one (never when either set is empty)."""
    return not keep.all() and keep.any() and scores[~keep].max() > scores[keep].min()


# ----------------------------------------------------------------- the masks


@given(w=weights(), f=FRACTIONS, seed=st.integers(0, 2**32 - 1))
def test_weight_pruning_is_targeted_dropout_with_alpha_one(w, f, seed):
    keep = masks.weight_prune_keep(w, f)
    k = math.floor(f * w.shape[0])
    assert (np.count_nonzero(~keep, axis=0) == k).all()
    for o in range(w.shape[1]):
        assert not _some_removed_above_kept(ORDER(w[:, o]), keep[:, o])
    rng = np.random.default_rng(seed)
    np.testing.assert_array_equal(keep, masks.targeted_weight_keep(w, f, 1.0, rng))


@given(w=weights(), f=FRACTIONS, seed=st.integers(0, 2**32 - 1))
def test_unit_pruning_is_targeted_unit_dropout_with_alpha_one(w, f, seed):
    keep = masks.unit_prune_keep(w, f)
    assert keep.shape == (w.shape[1],)
    assert np.count_nonzero(~keep) == math.floor(f * w.shape[1])
    assert not _some_removed_above_kept(masks.unit_norms(w), keep)
    np.testing.assert_array_equal(keep, masks.targeted_unit_keep(w, f, 1.0, np.random.default_rng(seed)))


@given(w=weights(), f=FRACTIONS)
def test_layer_pruning_removes_the_smallest_of_the_whole_matrix(w, f):
    keep = masks.magnitude_prune_keep(w, f)
    assert np.count_nonzero(~keep) == math.floor(f * w.size)
    assert not _some_removed_above_kept(ORDER(w), keep)


@given(ws=st.lists(weights(), min_size=1, max_size=4), f=FRACTIONS)
def test_global_pruning_threshold_splits_the_union(ws, f):
    keeps = masks.global_prune_keep(ws, f)
    total = sum(w.size for w in ws)
    assert sum(np.count_nonzero(~k) for k in keeps) == math.floor(f * total)
    union = np.concatenate([ORDER(w).ravel() for w in ws])
    assert not _some_removed_above_kept(union, np.concatenate([k.ravel() for k in keeps]))


@given(w=weights(), q=st.floats(0.0, 3.0))
def test_std_pruning_keeps_what_reaches_q_standard_deviations(w, q):
    keep = masks.std_prune_keep(w, q)
    threshold = q * np.std(w.astype(np.float64))
    assert (ORDER(w)[keep] >= threshold).all() and (ORDER(w)[~keep] < threshold).all()


@given(w=weights(), f1=FRACTIONS, f2=FRACTIONS)
def test_pruning_more_removes_a_superset(w, f1, f2):
    f1, f2 = min(f1, f2), max(f1, f2)
    for rule in (masks.weight_prune_keep, masks.unit_prune_keep, masks.magnitude_prune_keep,
                 lambda w, f: masks.global_prune_keep([w, w[:1]], f)[0]):
        assert (rule(w, f2) <= rule(w, f1)).all()  # kept at f2 => kept at f1


@given(w=weights(ties=True), f=FRACTIONS, seed=st.integers(0, 2**32 - 1), density=st.floats(0.0, 1.0))
def test_pruning_on_top_of_any_previous_mask(w, f, seed, density):
    """With ``previous`` (here an arbitrary mask, its dropped entries zeroed as a
    model holds them), what it dropped stays dropped and ranks lowest, even
    below kept zeros: exactly max(k, already dropped) go, per column for the
    weight rule, per matrix for the layer rule, in all for units and global."""
    rng = np.random.default_rng(seed)
    before = rng.random(w.shape) >= density
    pruned = np.where(before, w, 0).astype(w.dtype)
    k = math.floor(f * w.shape[0])
    keep = masks.weight_prune_keep(pruned, f, before)
    assert (keep <= before).all()
    np.testing.assert_array_equal((~keep).sum(axis=0), np.maximum(k, (~before).sum(axis=0)))
    for keeps, n in ((masks.magnitude_prune_keep(pruned, f, before), w.size),
                     (masks.global_prune_keep([pruned, pruned], f, [before, before]), 2 * w.size)):
        keeps = np.asarray(keeps)
        assert (keeps <= before).all()
        assert np.count_nonzero(~keeps) == max(math.floor(f * n), np.count_nonzero(~before) * n // w.size)
    units_before = rng.random(w.shape[1]) >= density
    units = masks.unit_prune_keep(w * units_before, f, units_before)
    assert (units <= units_before).all()
    assert np.count_nonzero(~units) == max(math.floor(f * w.shape[1]), np.count_nonzero(~units_before))


@pytest.mark.parametrize("call, match", [
    (lambda w: masks.weight_prune_keep(w, 1.5), r"'fraction' parameter of weight_prune_keep must be a float in the range \[0, 1\]"),
    (lambda w: masks.unit_prune_keep(w, -0.1), "'fraction' parameter of unit_prune_keep"),
    (lambda w: masks.magnitude_prune_keep(w, float("nan")), "'fraction' parameter of magnitude_prune_keep"),
    (lambda w: masks.global_prune_keep([w], 2.0), "'fraction' parameter of global_prune_keep"),
    (lambda w: masks.global_prune_keep(w, 0.5), "'weights' parameter of global_prune_keep must be a non-empty list"),
    (lambda w: masks.global_prune_keep([], 0.5), "'weights' parameter of global_prune_keep"),
    (lambda w: masks.std_prune_keep(w, -1.0), r"'quality' parameter of std_prune_keep must be a float in the range \[0.0, inf\)"),
    (lambda w: masks.std_prune_keep(w, float("inf")), "'quality' parameter of std_prune_keep"),
    (lambda w: masks.weight_prune_keep(w.astype(int), 0.5), "'w' parameter of weight_prune_keep must be a float16"),
    (lambda w: masks.magnitude_prune_keep(np.where(w > 0, np.nan, w), 0.5), "'w' parameter of magnitude_prune_keep must be finite"),
    (lambda w: masks.weight_prune_keep(w, 0.5, np.ones(3, bool)), r"'previous' parameter of weight_prune_keep must be a boolean array of shape \(5, 4\)"),
    (lambda w: masks.unit_prune_keep(w, 0.5, np.ones(5, bool)), r"'previous' parameter of unit_prune_keep must be a boolean array of shape \(4,\)"),
    (lambda w: masks.global_prune_keep([w], 0.5, []), "'previous' parameter of global_prune_keep must hold one mask"),
    (lambda w: masks.std_prune_keep(w, 1.0, w[:2] > 0.5), "'previous' parameter of std_prune_keep"),
])
def test_pruning_masks_reject_bad_input(call, match, rng):
    with pytest.raises((ValueError, TypeError), match=match):
        call(rng.standard_normal((5, 4)))


# ----------------------------------------------------------- pruning a model


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
    pruning.prune(model, kind, f)
    first = _masks(model)
    pruning.prune(model, kind, f)
    for name, mask in _masks(model).items():
        np.testing.assert_array_equal(mask, first[name], err_msg=name)
    chosen = pruning.prunable_layers(model, kind=kind)
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
    reached = pruning.sparsity(model, [la.name for la in chosen])
    removed = sum(int(np.count_nonzero(~k)) for k in want)
    assert reached == pytest.approx(removed / sum(la.weight.size for la in chosen), abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["weight", "unit", "layer", "global", "std"]), f1=FRACTIONS, f2=FRACTIONS,
       seed=st.integers(0, 1000), ties=st.booleans())
def test_pruning_at_f1_then_f2_equals_pruning_at_f2(kind, f1, f2, seed, ties):
    """Pruning more removes a superset, and the steps compose: f1 then f2 >= f1
    is f2 at once (already pruned weights rank below every kept one, ties too)."""
    f1, f2 = min(f1, f2), max(f1, f2)
    if kind == "std":
        f1, f2 = 2 * f1, 2 * f2
    stepwise, once = _model(seed, ties=ties), _model(seed, ties=ties)
    pruning.prune(stepwise, kind, f1)
    after_f1 = _masks(stepwise)
    pruning.prune(stepwise, kind, f2)
    pruning.prune(once, kind, f2)
    for name, mask in _masks(stepwise).items():
        if after_f1[name] is not None:
            assert (mask <= after_f1[name]).all(), name
        if kind != "std":  # std's threshold moves with the zeros pruning adds
            np.testing.assert_array_equal(mask, _masks(once)[name], err_msg=name)


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
    pruning.prune(model, "weight", f, layers=["fc1"])
    k = math.floor(f * w.shape[0])
    removed = np.count_nonzero(~w.mask, axis=0)
    np.testing.assert_array_equal(removed, np.maximum(k, np.count_nonzero(~prior, axis=0)))
    assert (w.mask <= prior).all()


def test_unit_pruning_removes_bias_and_spares_the_output_layer():
    model = _model()
    pruning.prune(model, "unit", 0.5)
    for name in ("fc1", "fc2"):
        layer = model.layer(name)
        units = layer.weight.mask.all(axis=0)
        assert (~layer.weight.mask.any(axis=0) == ~units).all()  # whole columns
        np.testing.assert_array_equal(layer.bias.mask, units)
        assert np.count_nonzero(~units) == layer.weight.shape[1] // 2
    assert model.layer("fc3").weight.mask is None and model.layer("fc3").bias.mask is None


def test_weight_pruning_leaves_biases_alone():
    model = _model()
    pruning.prune(model, "weight", 0.9)
    assert all(model.layer(n).bias.mask is None for n in ("fc1", "fc2", "fc3"))


def test_per_layer_amounts_and_layer_choice():
    model = _model()
    rows = pruning.prune(model, "layer", {"fc1": 0.5, "fc3": 0.25})
    assert [r["layer"] for r in rows] == ["fc1", "fc2", "fc3"]
    assert rows[0]["sparsity"] == 0.5 and rows[2]["sparsity"] == 0.25
    assert model.layer("fc2").weight.mask is None
    pruning.prune(model, "weight", 0.5, layers=["fc2"])
    assert pruning.report(model, ["fc2"])[0]["kept"] == 8 * 5


@pytest.mark.parametrize("kind, amount, layers, error, match", [
    ("weight", 1.5, None, ValueError, r"'fraction' parameter of prune must be a float in the range \[0.0, 1.0\]"),
    ("layer", -0.5, None, ValueError, "'fraction' parameter of prune"),
    ("std", -1.0, None, ValueError, "'quality' parameter of prune"),
    ("weight", 0.5, ["fc9"], ValueError, "No weighted layer named 'fc9'"),
    ("weight", {"fc9": 0.5}, None, ValueError, r"The fraction of layers \['fc9'\] was given"),
    ("magic", 0.5, None, ValueError, "'kind' parameter of prune"),
    ("global", {"fc1": 0.5}, None, TypeError, "Global pruning takes one fraction"),
])
def test_prune_rejects_bad_input(kind, amount, layers, error, match):
    with pytest.raises(error, match=match):
        pruning.prune(_model(), kind, amount, layers)


# ------------------------------------------------------- masks that last


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
    pruning.prune(model, "unit", 0.3)
    pruning.prune(model, "weight", 0.6)
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


# ----------------------------------------------------------- gradual pruning


def test_zhu_gupta_schedule():
    s = PolynomialSparsity(0.9, start=10, steps=4, interval=5, initial=0.1)
    assert s(0) == 0.0 and s(9) == 0.0
    assert s(10) == pytest.approx(0.1) and s(14) == pytest.approx(0.1)
    assert s(15) == pytest.approx(0.9 + (0.1 - 0.9) * (1 - 1 / 4) ** 3)
    assert s(30) == pytest.approx(0.9) and s(10**6) == pytest.approx(0.9)
    values = [s(t) for t in range(10, 40)]
    assert values == sorted(values)
    assert [t for t in range(60) if s.is_pruning_step(t)] == [10, 15, 20, 25, 30]
    with pytest.raises(ValueError, match=r"'initial' parameter of PolynomialSparsity"):
        PolynomialSparsity(0.5, start=0, steps=1, interval=1, initial=0.6)
    with pytest.raises(ValueError, match="'interval' parameter of PolynomialSparsity"):
        PolynomialSparsity(0.5, start=0, steps=1, interval=0)


@pytest.mark.parametrize("kind", ["layer", "weight", "global"])
def test_gradual_pruning_reaches_the_final_sparsity_during_training(kind):
    rng = np.random.default_rng(1)
    model = _model(dtype=np.float32)
    x = rng.standard_normal((320, 12)).astype(np.float32)
    y = rng.integers(0, 4, 320)
    schedule = PolynomialSparsity(0.8, start=5, steps=6, interval=4)
    seen = []
    hook = pruning.GradualPruning(model, schedule, kind=kind)
    fit(model, x, y, optimizer=SGD(model.parameters(), lr=0.05, momentum=0.9), epochs=4, batch_size=32,
        rng=rng, progress=False, before_step=lambda t: (hook(t), seen.append(pruning.sparsity(model))))
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


# -------------------------------------------- Han et al.'s dropout rule


def test_retrain_dropout_rate_formula():
    assert pruning.retrain_dropout_rate(0.5, 25, 100) == pytest.approx(0.25)
    assert pruning.retrain_dropout_rate(0.5, 100, 100) == 0.5
    assert pruning.retrain_dropout_rate(0.5, 0, 100) == 0.0
    with pytest.raises(ValueError, match="0 <= kept <= original"):
        pruning.retrain_dropout_rate(0.5, 101, 100)
    with pytest.raises(ValueError, match="'rate' parameter of retrain_dropout_rate"):
        pruning.retrain_dropout_rate(1.0, 1, 100)


def test_adjust_dropout_uses_the_layer_before_and_the_original_rate():
    model = _model()
    model.insert_after("relu1", Dropout(0.5, np.random.default_rng(0), name="drop1"))
    model.insert_after("relu2", Dropout(0.4, np.random.default_rng(0), name="drop2"))
    pruning.prune(model, "layer", {"fc1": 0.75, "fc2": 0.0})
    rates = pruning.adjust_dropout(model)
    assert rates == {"drop1": 0.5, "drop2": 0.4}
    assert model.layer("drop1").p == pytest.approx(0.5 * math.sqrt(30 / 120))
    assert model.layer("drop2").p == pytest.approx(0.4)
    pruning.prune(model, "layer", {"fc1": 0.9375, "fc2": 0.0})  # second round: from D_o, not from the last rate
    pruning.adjust_dropout(model, rates)
    assert model.layer("drop1").p == pytest.approx(0.5 * math.sqrt(8 / 120))


# ------------------------------------------------------------------ penalties


@pytest.mark.parametrize("cls", [L1, L2])
def test_penalty_gradients_match_central_differences(cls):
    model = _model()
    for p in model.parameters():  # keep weights away from 0, where |w| has a kink
        p.value += np.sign(p.value) * 0.05
    penalty = cls(model, 0.3)
    for p in model.parameters():
        p.grad[...] = 0.0
    penalty.add_gradient()
    h = 1e-6
    for layer_name in ("fc1", "fc3"):
        w = model.layer(layer_name).weight
        numeric = np.empty_like(w.value)
        for i in np.ndindex(w.shape):
            old = w.value[i]
            w.value[i] = old + h
            up = penalty.value()
            w.value[i] = old - h
            down = penalty.value()
            w.value[i] = old
            numeric[i] = (up - down) / (2 * h)
        error = np.abs(numeric - w.grad) / np.maximum(1e-8, np.abs(numeric) + np.abs(w.grad))
        assert error.max() < 1e-6, (layer_name, error.max())
    assert all((model.layer(n).bias.grad == 0).all() for n in ("fc1", "fc2", "fc3"))  # biases not penalised


def test_penalties_add_their_gradient_to_a_training_step_and_keep_pruned_weights_at_zero():
    """One SGD step with L1 (lambda1) and L2 (lambda2) moves each weight by exactly
    -lr (lambda1 sign(w) + lambda2 w) more than the same step without them;
    biases and pruned weights do not move because of them."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 12))
    y = rng.integers(0, 4, 32)
    lr, l1, l2 = 0.05, 0.03, 0.2
    after = {}
    for penalised in (False, True):
        model = _model()
        pruning.prune(model, "weight", 0.5)
        before = {n: p.value.copy() for n, p in model.named_parameters().items()}
        penalties = [L1(model, l1), L2(model, l2)] if penalised else []
        fit(model, x, y, optimizer=SGD(model.parameters(), lr=lr), epochs=1, batch_size=32,
            rng=np.random.default_rng(0), progress=False, penalties=penalties)
        after[penalised] = {n: p.value.copy() for n, p in model.named_parameters().items()}
        for p in model.parameters():
            if p.mask is not None:
                assert (p.value[~p.mask] == 0).all()
    for name, w in before.items():
        expected = after[False][name]
        if name.endswith("weight"):
            expected = expected - lr * (l1 * np.sign(w) + l2 * w)
        np.testing.assert_allclose(after[True][name], expected, rtol=0, atol=1e-14, err_msg=name)


def test_penalty_rejects_a_bad_strength():
    with pytest.raises(ValueError, match=r"'strength' parameter of L1 must be a float in the range \[0.0, inf\)"):
        L1(_model(), -1.0)

"""The benchmark's arithmetic (tdnumpy.experiments.bench): the matrix-product
operations of an epoch, counted by hand for both models, the GEMM rate, when
a run's figures are not to be quoted, that epochs timed in turns train
exactly as whole epochs, and that the ranked-once rule masks as targeted
weight dropout would with its first targets."""

from __future__ import annotations

import pytest

import numpy as np

from tdnumpy.experiments.bench import TURN_STEPS, _FixedOrder, _in_turns, _numpy_turns, _ranked_once, _with_rule, \
    epoch_flops, gemm_rate, unquotable
from tdnumpy.nn.models import build_model
from tdnumpy import masks
from tdnumpy.nn.dense import Dense
from tdnumpy.nn.noise import TargetedWeightDropout
from tdnumpy.training.fit import fit
from tdnumpy.training.optim import SGD


@pytest.mark.parametrize("spec, per_example", [
    # fc1 forward and dW only (no input gradient), then forward, dW and dx per layer
    ("lenet300", 2 * 784 * 300 * 2 + 2 * 300 * 100 * 3 + 2 * 100 * 10 * 3),
    # conv1: 24 x 24 rows of 25 inputs, 20 units; conv2: 8 x 8 rows of 500, 50 units
    ("lenet5", 2 * 576 * 25 * 20 * 2 + 2 * 64 * 500 * 50 * 3 + 2 * 800 * 500 * 3 + 2 * 500 * 10 * 3),
])
def test_epoch_flops_count_every_product(spec, per_example):
    assert epoch_flops(build_model(spec), 60000) == 60000 * per_example


def test_gemm_rate_is_a_rate():
    rate = gemm_rate(size=128, repeats=2)
    assert 0.01 < rate < 1e5  # GFLOP/s: more than a calculator, less than a supercomputer


@pytest.mark.parametrize("load, before, after, expected", [
    (0.49, 200.0, 181.0, ""),  # quiet, rate within 10%
    (0.49, 200.0, 219.0, ""),
    (0.5, 200.0, 200.0, "load average 0.50 before, 0.5 or more: a loaded machine"),
    (0.1, 200.0, 130.0, "the GEMM rate changed by -35% during the run: the machine's speed drifted"),
    (0.1, 130.0, 198.0, "the GEMM rate changed by +52% during the run: the machine's speed drifted"),
    (1.2, 200.0, 100.0, "load average 1.20 before, 0.5 or more: a loaded machine; "
                        "the GEMM rate changed by -50% during the run: the machine's speed drifted"),
])
def test_a_run_is_quotable_only_on_a_quiet_steady_machine(load, before, after, expected):
    assert unquotable(load, before, after) == expected


@pytest.mark.parametrize("args, name", [((-0.1, 1.0, 1.0), "load_before"), ((0.1, 0.0, 1.0), "rate_before"),
                                        ((0.1, 1.0, float("nan")), "rate_after"), ((0.1, 1.0, 1.0, -1), "drift")])
def test_unquotable_names_a_bad_argument(args, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter of unquotable"):
        unquotable(*args)


@pytest.mark.parametrize("batch_size", [32, 50])
def test_epochs_in_turns_train_exactly_as_whole_epochs(batch_size):
    """Three models trained in turns (a partial last turn and, at 50, a partial
    last batch) end bit for bit where whole epochs over the same order end."""
    rng = np.random.default_rng(0)
    n = 3 * TURN_STEPS * batch_size + 7 * batch_size + 20
    y = rng.integers(0, 10, n)
    x = (rng.standard_normal((n, 784)) + np.eye(10)[y] @ rng.standard_normal((10, 784))).astype(np.float32)
    order = rng.permutation(n)
    makers = {"plain": None, "targeted": lambda: TargetedWeightDropout(0.5, 0.5), "again": None}
    models = {name: _with_rule("lenet300", make) for name, make in makers.items()}
    turn_of = {name: _numpy_turns(model, x, y, order, batch_size, 0.05, 0.9) for name, model in models.items()}
    turns = _in_turns(turn_of, n, TURN_STEPS * batch_size)
    assert {name: len(t) for name, t in turns.items()} == {name: 4 for name in makers}
    for name, make in makers.items():
        whole = _with_rule("lenet300", make)
        fit(whole, x, y, optimizer=SGD(whole.parameters(), lr=0.05, momentum=0.9), epochs=1, batch_size=batch_size,
            rng=_FixedOrder(order), progress=False)
        for got, expected in zip(models[name].parameters(), whole.parameters()):
            np.testing.assert_array_equal(got.value, expected.value)


def test_turns_rotate_who_goes_first_and_cover_the_examples_once():
    calls = []
    sides = {name: (lambda start, stop, name=name: calls.append((name, start, stop)) or 1.0) for name in "abc"}
    times = _in_turns(sides, 25, 10)
    assert times == {name: [1.0, 1.0, 1.0] for name in "abc"}
    assert calls == [("a", 0, 10), ("b", 0, 10), ("c", 0, 10), ("b", 10, 20), ("c", 10, 20), ("a", 10, 20),
                     ("c", 20, 25), ("a", 20, 25), ("b", 20, 25)]


def test_ranked_once_keeps_its_first_targets_and_draws_as_targeted_dropout():
    """Step 0 masks exactly as targeted weight dropout; later steps rank nothing
    new (the first targets, though the weights moved) but draw afresh."""
    once, full = (Dense(40, 30, rng=np.random.default_rng(3)) for _ in range(2))
    once.noise, full.noise = _ranked_once(0.5, 0.5), TargetedWeightDropout(0.5, 0.5)
    first = masks.weight_targets(once.weight.value, 0.5)
    assert np.array_equal(once.noise.sample(once, 1).weight, full.noise.sample(full, 1).weight)
    replay = np.random.default_rng(7)
    once.rng = np.random.default_rng(7)
    for _ in range(2):
        once.weight.value[...] = np.random.default_rng(8).standard_normal(once.weight.shape)
        assert not np.array_equal(masks.weight_targets(once.weight.value, 0.5), first)
        expected = masks.drop_targets(first.T.copy(), 0.5, replay).T
        assert np.array_equal(once.noise.sample(once, 1).weight, expected)

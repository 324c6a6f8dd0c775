"""prune_run: accuracy versus sparsity as a library call, on synthetic data
(the command and real MNIST are tested in tests/cli/test_prune.py)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from synthetic import synthetic_dataset
from tdnumpy._validation import ParameterError
from tdnumpy.experiments import RunConfig, load_run, prune_run, train_run
from tdnumpy.pruning import masking as pruning

SIZES = [(784, 24), (24, 16), (16, 10)]


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(train=640, test=300, validation=64)


@pytest.fixture(scope="module")
def run(data):
    config = RunConfig(model="mlp:784-24-16-10", epochs=1, batch_size=64, validation=64, reg="dropout",
                       drop_rate=0.4, seed=3)
    return train_run(config, data=data, progress=False)


def _snapshot(model):
    return [(p.value.copy(), None if p.mask is None else p.mask.copy()) for p in model.parameters()]


def test_rows_prune_exactly_and_leave_the_run_untouched(run, data, tmp_path):
    before = _snapshot(run.model)
    rows = prune_run(run, "weight", [0.0, 0.5, 0.9], out=tmp_path, data=data)
    for row, f in zip(rows, (0.0, 0.5, 0.9)):
        removed = sum(math.floor(f * n) * m for n, m in SIZES)
        assert row["sparsity"] == pytest.approx(removed / sum(n * m for n, m in SIZES), abs=1e-15)
        assert row["fraction"] == f and row["dense_bytes"] == 4 * run.model.n_parameters()
        back = load_run(row["checkpoint"])
        assert back.evaluate(data=data) == {"loss": row["test_loss"], "accuracy": row["test_accuracy"]}
        assert back.pruned["kind"] == "weight" and back.pruned["amount"] == f and back.config == run.config
        assert row["parameters_left"] == pruning.parameters_left(back.model)
    assert rows[0]["test_accuracy"] == run.evaluate(data=data)["accuracy"]  # fraction 0 is the run's network
    for (v, m), p in zip(before, run.model.parameters()):
        assert v.tobytes() == p.value.tobytes() and m is None and p.mask is None
    with open(tmp_path / "prune.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["fraction"] for r in table] == ["0", "0.5", "0.9"]
    assert json.loads((tmp_path / "prune.json").read_text())["rows"] == json.loads(json.dumps(rows))


def test_without_out_nothing_is_written(run, data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = prune_run(run, "unit", [0.5], data=data)
    assert rows[0]["checkpoint"] is None and list(tmp_path.iterdir()) == []


def test_iterative_retraining_builds_on_the_previous_row(run, data, tmp_path):
    rows = prune_run(run, "layer", [0.5, 0.8], iterative=True, retrain_epochs=1, skip_output=True, out=tmp_path,
                     data=data)
    first, second = (load_run(r["checkpoint"]) for r in rows)
    for name in ("fc1", "fc2"):
        a, b = first.model.layer(name).weight, second.model.layer(name).weight
        assert (b.mask <= a.mask).all() and np.count_nonzero(~b.mask) == math.floor(0.8 * b.size)
        assert (b.value[~b.mask] == 0).all()
    assert second.model.layer("fc3").weight.mask is None
    kept = 1 - math.floor(0.8 * 784 * 24) / (784 * 24)
    assert second.pruned["dropout_rates"]["drop1"] == pytest.approx(0.4 * math.sqrt(kept), rel=1e-12)


def test_dead_units_are_removed_for_real(run, data):
    rows = prune_run(run, "unit", [0.5], remove_dead_units=True, data=data)
    masked = prune_run(run, "unit", [0.5], data=data)
    assert rows[0]["parameters"] == 784 * 12 + 12 + 12 * 8 + 8 + 8 * 10 + 10
    assert abs(rows[0]["test_accuracy"] - masked[0]["test_accuracy"]) <= 1 / 300


def _no_data(name, validation):
    raise AssertionError("the data were read before the arguments were checked")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(kind="magnitude"), ValueError, "'kind' parameter of prune_run must be one of"),
    (dict(fractions=[0.5, 1.5]), ParameterError, r"'fractions' must be in \[0, 1\] for 'kind' weight"),
    (dict(fractions=[]), ParameterError, "'fractions' needs at least one row"),
    (dict(fractions=[{"fc9": 0.5}]), ParameterError, r"'fractions' names layers \['fc9'\] that are not pruned"),
    (dict(fractions=[0.9, 0.5], iterative=True), ParameterError, "'iterative' prunes more at every row"),
    (dict(kind="global", fractions=[{"fc1": 0.5}]), ParameterError, "'kind' global takes one fraction per row"),
    (dict(layers=["fc1", "fc1"]), ParameterError, "'layers' names a layer twice: 'fc1,fc1'"),
    (dict(layers=["fc3"], skip_output=True), ParameterError, r"No layer is left to prune \('layers' and "
                                                             r"'skip_output' leave none\)"),
    (dict(layers=["fc9"]), ValueError, "No weighted layer named 'fc9'"),
    (dict(retrain_epochs=-1), ValueError, "'retrain_epochs' parameter of prune_run"),
    (dict(retrain_lr=0.0), ValueError, "'retrain_lr' parameter of prune_run"),
    (dict(dense_bits=17), ValueError, r"'dense_bits' parameter of prune_run must be an int in the range \[1, 16\]"),
    (dict(conv_bits=0), ValueError, "'conv_bits' parameter of prune_run"),
    (dict(fractions=[0.5, -0.1]), ParameterError, r"'fractions' must be in \[0, 1\] for 'kind' weight; "
                                                  r"got \{'fc1': -0.1"),
    (dict(fractions=[float("nan")]), ParameterError, "'fractions' must be in"),
    (dict(fractions=[0.5, "x"]), ParameterError, "'fractions' must be in"),
    (dict(kind="std", fractions=[-1.0]), ParameterError, r"'fractions' must be in \[0, inf\) for 'kind' std"),
    (dict(fractions=0.5), TypeError, "'fractions' parameter of prune_run must be a list of rows"),
    (dict(layers="fc1"), TypeError, "'layers' parameter of prune_run must be a list of layer names"),
])
def test_bad_arguments_fail_before_any_work(run, kwargs, error, match):
    kwargs = {"kind": "weight", "fractions": [0.5], **kwargs}
    with pytest.raises(error, match=match):
        prune_run(run, kwargs.pop("kind"), kwargs.pop("fractions"), data=_no_data, **kwargs)


def test_a_run_in_memory_is_pruned_on_its_own_data(run, data):
    """A run just trained keeps its dataset: nothing is looked up (the tests are
    offline), and the unpruned row measures what run.evaluate() does."""
    lines = []
    rows = prune_run(run, "weight", [0.0], log=lines.append)
    assert rows[0]["test_accuracy"] == run.evaluate()["accuracy"]
    assert lines[0].startswith("pruning the run in memory (mlp:784-24-16-10)")


def test_another_dataset_is_recorded_with_the_pruned_networks(run, tmp_path):
    """Retrained on another dataset, a pruned network is evaluated on that one."""
    other = synthetic_dataset("fashion-mnist", train=640, test=300, validation=64, seed=9)
    rows = prune_run(run, "layer", [0.5], retrain_epochs=1, out=tmp_path, data=other)
    back = load_run(rows[0]["checkpoint"])
    assert back.config.dataset == "fashion-mnist" and back.config == run.config.replace(dataset="fashion-mnist")
    assert back.evaluate(data=other) == {"loss": rows[0]["test_loss"], "accuracy": rows[0]["test_accuracy"]}


def test_pruning_a_retrained_network_again_keeps_and_rescales_its_rates(run, data, tmp_path):
    """A network pruned and retrained carries D_r = D_o sqrt(C_ir / C_io). Pruned
    again without retraining it keeps D_r; retrained again, the new D_r is
    computed from the rate it was trained with, D_o, not from the old D_r."""
    first = prune_run(run, "layer", [0.5], retrain_epochs=1, out=tmp_path / "a", data=data)[0]
    source = load_run(first["checkpoint"])
    d_r = source.model.layer("drop1").p
    assert d_r == pytest.approx(0.4 * math.sqrt(1 - math.floor(0.5 * 784 * 24) / (784 * 24)), rel=1e-12)
    again = prune_run(source, "layer", [0.7], out=tmp_path / "b", data=data)[0]
    kept = load_run(again["checkpoint"])
    assert kept.model.layer("drop1").p == d_r
    assert kept.evaluate(data=data) == {"loss": again["test_loss"], "accuracy": again["test_accuracy"]}
    retrained = load_run(prune_run(source, "layer", [0.7], retrain_epochs=1, out=tmp_path / "c",
                                   data=data)[0]["checkpoint"])
    removed = math.floor(0.7 * 784 * 24)
    assert retrained.model.layer("drop1").p == pytest.approx(0.4 * math.sqrt(1 - removed / (784 * 24)), rel=1e-12)

"""The sparsifying baselines as runs (issue 16), on synthetic data: trained
by name like every regulariser, saved and loaded with their parameters,
reproducible bit for bit, their penalties acting, and pruned by their own
importance (``score="method"``) as the networks they evaluate as."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic import synthetic_dataset

from tdnumpy._validation import ParameterError
from tdnumpy.experiments import RunConfig, load_run, prune_run, train_run
from tdnumpy.experiments.regularisers import METHOD, SPARSIFYING
from tdnumpy.nn.sparsifying import learnt_sparsifiers
from tdnumpy.pruning import masking
from tdnumpy.pruning.learned import fold

MODEL = "mlp:784-24-16-10"


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(train=640, test=300)


def _config(reg: str, **changes) -> RunConfig:
    return RunConfig(**{"model": MODEL, "epochs": 1, "batch_size": 64, "reg": reg, "seed": 4, **changes})


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    return {reg: train_run(_config(reg), out=folder / reg, data=data, progress=False) for reg in SPARSIFYING}


@pytest.mark.parametrize("reg", SPARSIFYING)
def test_a_run_saves_and_loads_with_its_parameters(reg, runs, data):
    run = runs[reg]
    assert learnt_sparsifiers(run.model)
    loaded = load_run(run.checkpoint)
    saved = run.model.named_parameters()
    assert list(loaded.model.named_parameters()) == list(saved)  # the gates' parameters too, by name
    for name, p in loaded.model.named_parameters().items():
        np.testing.assert_array_equal(p.value, saved[name].value)
        assert (p.mask is None) == (saved[name].mask is None)
    assert loaded.evaluate(data=data)["accuracy"] == run.metrics["test_accuracy"]
    fresh = run.fresh_model()
    x = data.test.images[:50].reshape(50, -1).astype(np.float32) / 255
    np.testing.assert_array_equal(fresh.forward(x), run.model.forward(x))


@pytest.mark.parametrize("reg", ["l0-weight", "vd-weight", "smallify"])
def test_one_seed_gives_bit_identical_runs(reg, runs, data):
    again = train_run(_config(reg), data=data, progress=False)
    for (name, p), q in zip(runs[reg].model.named_parameters().items(), again.model.parameters()):
        assert np.array_equal(p.value, q.value), name


@pytest.mark.parametrize("reg, strength", [("l0-unit", "l0_strength"), ("smallify", "smallify_strength"),
                                           ("vd-weight", "vd_strength")])
def test_the_penalty_drives_the_gates_down(reg, strength, data):
    """Five epochs with the penalty off and strong: the strong penalty's network keeps
    fewer units or weights at evaluation (its method's own removal)."""
    strong = {"l0_strength": 50.0, "smallify_strength": 0.5, "vd_strength": 10.0}[strength]
    removed = []
    for value in (0.0, strong):
        run = train_run(_config(reg, epochs=5, **{strength: value}), data=data, progress=False)
        removed.append(sum(r["removed"] for r in fold(run.model).values()))
    assert removed[1] > removed[0], removed


@pytest.mark.parametrize("reg, kind", [("l0-weight", "weight"), ("vd-weight", "weight"), ("l0-unit", "unit"),
                                       ("vd-unit", "unit"), ("smallify", "unit")])
def test_pruning_by_the_methods_own_score(reg, kind, runs, data, tmp_path):
    run = runs[reg]
    folded = run.fresh_model()
    learned = fold(folded)
    lines = []
    rows = prune_run(run, kind, [0.0, 0.5, 0.9], score="method", data=data, out=tmp_path, log=lines.append)
    assert any(f"{METHOD[reg]} removes" in line for line in lines)
    # fraction 0 is the method's own removal: the sparsity of the folded network
    what = "weights" if kind == "weight" else "units"
    assert all(r["what"] == what for r in learned.values())
    layers = ["fc1", "fc2", "fc3"] if kind == "weight" else ["fc1", "fc2"]
    assert rows[0]["sparsity"] == masking.sparsity(folded, layers)
    shapes = [folded.layer(name).weight.shape for name in layers]
    at_least = sum((int(0.9 * r) * c if kind == "weight" else r * int(0.9 * c)) for r, c in shapes)
    assert rows[2]["sparsity"] >= at_least / sum(r * c for r, c in shapes)  # floor(f N) per column or layer
    reloaded = load_run(rows[2]["checkpoint"])  # a plain network: no sparsifier, reg none
    assert reloaded.config.reg == "none" and not learnt_sparsifiers(reloaded.model)
    assert reloaded.evaluate(data=data)["accuracy"] == rows[2]["test_accuracy"]


def test_the_folded_networks_evaluate_as_the_gated_run(runs, data):
    for reg, run in runs.items():
        rows = prune_run(run, "weight" if reg.endswith("weight") else "unit", [0.0], data=data)
        assert rows[0]["test_accuracy"] == pytest.approx(run.metrics["test_accuracy"], abs=1 / 300 + 1e-12), reg


@pytest.mark.parametrize("reg, kind, layers, match", [
    ("l0-unit", "weight", ["fc1", "fc2"], "rank units, and 'kind' weight prunes weights"),
    ("smallify", "weight", None, r"layers \['fc3'\] carry no learnt sparsifier \(those of \['fc1', 'fc2'\] do\)"),
    ("vd-weight", "unit", None, "rank weights, and 'kind' unit prunes units"),
    ("l0-weight", "std", None, "does not go with 'kind' std"),
])
def test_a_score_that_does_not_fit_is_refused(reg, kind, layers, match, runs, data):
    with pytest.raises(ParameterError, match=match):
        prune_run(runs[reg], kind, [0.5], layers=layers, score="method", data=data)


def test_method_scores_need_a_sparsifier(data):
    run = train_run(_config("dropout"), data=data, progress=False)
    with pytest.raises(ParameterError, match="the run has none"):
        prune_run(run, "weight", [0.5], score="method", data=data)
    with pytest.raises(ValueError, match="'score' parameter of prune_run"):
        prune_run(run, "weight", [0.5], score="gradient", data=data)


def test_unit_methods_gate_the_hidden_layers_only(runs):
    model = runs["smallify"].model
    assert [m.name for m in model.layers if getattr(m, "method", None)] == ["switch1", "switch2"]
    assert [layer.name for layer in model.layers if getattr(getattr(layer, "noise", None), "method", None)] == []
    assert [layer.name for layer in runs["vd-weight"].model.layers
            if getattr(getattr(layer, "noise", None), "method", None)] == ["fc1", "fc2", "fc3"]

"""The pruning commands on real MNIST: tdnumpy prune, tdnumpy export-sparse,
and train's --l1 / --l2 / --gradual-sparsity; and Han et al.'s LeNet-300-100
result."""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest

from synthetic import synthetic_dataset
from tdnumpy.cli import main
from tdnumpy.data import load_dataset, to_inputs
from tdnumpy.experiments import RunConfig, train_run
from tdnumpy.pruning import masking as pruning
from tdnumpy.pruning.sparse import compressed_bytes, import_model
from tdnumpy.training.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from tdnumpy.training.fit import evaluate


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_dir):
    """A small MLP trained for one epoch (a few seconds)."""
    out = tmp_path_factory.mktemp("trained")
    assert main(["train", "--model", "mlp:784-64-32-10", "--epochs", "1", "--quiet", "--data-dir",
                 str(mnist_dir), "--out", str(out)]) == 0
    return out / "checkpoint.npz"


@pytest.fixture(scope="module")
def synthetic_checkpoint(tmp_path_factory):
    """The same network trained on synthetic images: for the tests of the
    command's arguments, which must fail before any data are read."""
    out = tmp_path_factory.mktemp("synthetic")
    train_run(RunConfig(model="mlp:784-64-32-10", epochs=1), out=out, data=synthetic_dataset(), progress=False)
    return out / "checkpoint.npz"


def _test_accuracy(model, mnist_dir) -> float:
    data = load_dataset("mnist", mnist_dir)
    return evaluate(model, to_inputs(data.test.images, model.input_shape), data.test.labels)["accuracy"]


def test_prune_table_matches_the_pruned_checkpoints(trained, mnist_dir, tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["prune", str(trained), "--kind", "weight", "--fractions", "0,0.5,0.9", "--out", str(out),
                 "--data-dir", str(mnist_dir)]) == 0
    printed = capsys.readouterr().out
    rows = json.loads((out / "prune.json").read_text())["rows"]
    with open(out / "prune.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["fraction"] for r in table] == ["0", "0.5", "0.9"] and "0.9" in printed
    for row, line, f in zip(rows, table, (0.0, 0.5, 0.9)):
        model, meta = load_checkpoint(row["checkpoint"])
        sizes = [(784, 64), (64, 32), (32, 10)]
        removed = sum(math.floor(f * n) * m for n, m in sizes)
        assert row["sparsity"] == pytest.approx(removed / sum(n * m for n, m in sizes), abs=1e-12)
        assert row["sparsity"] == pytest.approx(pruning.sparsity(model), abs=1e-12)
        assert row["parameters_left"] == pruning.parameters_left(model) == int(line["parameters_left"])
        assert row["compressed_bytes"] == compressed_bytes(model) == int(line["compressed_bytes"])
        assert row["test_accuracy"] == pytest.approx(_test_accuracy(model, mnist_dir), abs=1e-12)
        assert meta["pruned"]["amount"] == f
    original, _ = load_checkpoint(trained)
    assert rows[0]["test_accuracy"] == pytest.approx(_test_accuracy(original, mnist_dir), abs=1e-12)
    assert rows[2]["test_accuracy"] < rows[0]["test_accuracy"]


def test_iterative_prune_and_retrain_keeps_pruned_weights_at_zero(trained, mnist_dir, tmp_path):
    out = tmp_path / "p"
    assert main(["prune", str(trained), "--kind", "layer", "--fractions", "0.5,0.9", "--iterative",
                 "--retrain-epochs", "1", "--skip-output", "--out", str(out), "--data-dir", str(mnist_dir)]) == 0
    rows = json.loads((out / "prune.json").read_text())["rows"]
    first, _ = load_checkpoint(rows[0]["checkpoint"])
    second, _ = load_checkpoint(rows[1]["checkpoint"])
    saved, masks, _ = read_checkpoint(rows[1]["checkpoint"])  # the values as written, not re-masked by loading
    assert second.layer("fc3").weight.mask is None
    for name in ("fc1", "fc2"):
        a, b = first.layer(name).weight, second.layer(name).weight
        assert (b.mask <= a.mask).all()  # the second round starts from the first
        assert (saved[f"{name}.weight"][~masks[f"{name}.weight"]] == 0).all()
        assert np.count_nonzero(~b.mask) == math.floor(0.9 * b.size)
    for row in rows:  # the accuracy reported is the saved network's
        model, _ = load_checkpoint(row["checkpoint"])
        assert row["test_accuracy"] == pytest.approx(_test_accuracy(model, mnist_dir), abs=1e-12)
    one_shot = tmp_path / "one-shot"
    assert main(["prune", str(trained), "--kind", "layer", "--fractions", "0.9", "--skip-output",
                 "--out", str(one_shot), "--data-dir", str(mnist_dir)]) == 0
    unretrained = json.loads((one_shot / "prune.json").read_text())["rows"][0]["test_accuracy"]
    assert rows[1]["test_accuracy"] > unretrained + 0.01


def test_export_sparse_round_trip_and_note_for_unpruned(synthetic_checkpoint, tmp_path, capsys):
    assert main(["export-sparse", str(synthetic_checkpoint), str(tmp_path / "dense.npz")]) == 0
    assert "not pruned" in capsys.readouterr().out
    model, _ = load_checkpoint(synthetic_checkpoint)
    pruning.prune(model, "weight", 0.9)
    save_checkpoint(tmp_path / "pruned.npz", model)
    assert main(["export-sparse", str(tmp_path / "pruned.npz"), str(tmp_path / "sparse.npz")]) == 0
    printed = capsys.readouterr().out
    assert "not pruned" not in printed and "total" in printed
    back, _ = import_model(tmp_path / "sparse.npz")
    for name, p in model.named_parameters().items():
        q = back.named_parameters()[name]
        np.testing.assert_array_equal(q.value, p.value, err_msg=name)
        if p.mask is not None:
            np.testing.assert_array_equal(q.mask, p.mask, err_msg=name)


@pytest.mark.parametrize("out", ["{ckpt}", "{folder}/metrics.json", "{folder}/./checkpoint.npz"])
def test_export_sparse_refuses_to_overwrite_what_it_reads(synthetic_checkpoint, tmp_path, out, capsys):
    """Issue 18: `export-sparse X.npz X.npz` replaced the checkpoint with the sparse file and exited 0."""
    folder = tmp_path / "run"
    folder.mkdir()
    ckpt = folder / "checkpoint.npz"
    ckpt.write_bytes(synthetic_checkpoint.read_bytes())
    (folder / "metrics.json").write_text("{}")
    before = ckpt.read_bytes()
    target = out.format(ckpt=ckpt, folder=folder)
    for source in (ckpt, folder):
        assert main(["export-sparse", str(source), target]) == 1
        assert "that the export reads; writing it would replace the run" in capsys.readouterr().err
    assert ckpt.read_bytes() == before and (folder / "metrics.json").read_text() == "{}"


@pytest.mark.parametrize("argv, match", [
    (["--fractions", "0.5,1.5"], r"--fractions must be in \[0, 1\] for --kind weight"),
    (["--layers", "fc9"], "No weighted layer named 'fc9'"),
    (["--fractions", "fc9=0.5"], r"--fractions names layers \['fc9'\] that are not pruned"),
    (["--fractions", "0.9,0.5", "--iterative"], "--iterative prunes more at every row"),
    (["--kind", "global", "--fractions", "fc1=0.5"], "--kind global takes one fraction per row"),
])
def test_prune_rejects_bad_requests(argv, match, synthetic_checkpoint, tmp_path, capsys):
    assert main(["prune", str(synthetic_checkpoint), "--out", str(tmp_path / "o"), *argv]) == 1
    err = capsys.readouterr().err
    assert re.search(match, err), err


@pytest.mark.parametrize("value", ["-0.5", "abc", "nan", "", "0.5,,0.9", "fc1=0.5,fc1=0.9", "fc1=0.5;"])
def test_prune_fraction_syntax_is_a_usage_error(value, synthetic_checkpoint, capsys):
    with pytest.raises(SystemExit) as info:
        main(["prune", str(synthetic_checkpoint), "--fractions", value])
    assert info.value.code == 2 and "--fractions" in capsys.readouterr().err


def test_prune_a_checkpoint_that_does_not_match_its_model(synthetic_checkpoint, tmp_path, capsys):
    model, meta = load_checkpoint(synthetic_checkpoint)
    model.spec = "mlp:784-64-10"  # parameters of a 784-64-32-10 network recorded as another model
    save_checkpoint(tmp_path / "bad.npz", model)
    assert main(["prune", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "bad.npz" in err and "does not match" in err


def test_train_with_gradual_pruning_and_penalties(mnist_dir, tmp_path):
    out = tmp_path / "g"
    assert main(["train", "--model", "mlp:784-64-32-10", "--epochs", "2", "--quiet", "--gradual-sparsity", "0.8",
                 "--gradual-interval", "50", "--l1", "1e-5", "--l2", "1e-4", "--data-dir", str(mnist_dir),
                 "--out", str(out)]) == 0
    saved, masks, meta = read_checkpoint(out / "checkpoint.npz")
    assert meta["config"]["l1"] == 1e-5 and meta["config"]["gradual_sparsity"] == 0.8
    for layer, (n, m) in zip(("fc1", "fc2", "fc3"), [(784, 64), (64, 32), (32, 10)]):
        keep = masks[f"{layer}.weight"]
        assert np.count_nonzero(~keep) == math.floor(0.8 * n * m)
        assert (saved[f"{layer}.weight"][~keep] == 0).all()
    assert meta["metrics"]["test_accuracy"] > 0.9


def test_gradual_pruning_reaches_its_sparsity_on_the_last_step(mnist_dir, tmp_path, capsys):
    """600 steps (batch 100), pruning every 100 from step 0: the last cut must be
    at step 500, not at 600 (which never runs)."""
    out = tmp_path / "g"
    assert main(["train", "--model", "mlp:784-32-10", "--epochs", "1", "--batch-size", "100", "--quiet",
                 "--gradual-sparsity", "0.9", "--gradual-epochs", "1", "--gradual-interval", "100",
                 "--data-dir", str(mnist_dir), "--out", str(out)]) == 0
    _, masks, _ = read_checkpoint(out / "checkpoint.npz")
    assert np.count_nonzero(~masks["fc1.weight"]) == math.floor(0.9 * 784 * 32)
    assert main(["train", "--model", "mlp:784-32-10", "--epochs", "1", "--gradual-sparsity", "0.9",
                 "--gradual-epochs", "2", "--data-dir", str(mnist_dir), "--out", str(out)]) == 1
    assert "runs past --epochs 1" in capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [
    (["--l1", "-1"], r"--l1: must be in \[0.0, inf\)"),
    (["--gradual-sparsity", "1"], r"--gradual-sparsity: must be in \[0.0, 1.0\)"),
    (["--gradual-interval", "0"], "--gradual-interval: must be a positive integer"),
])
def test_bad_pruning_flags_of_train(argv, match, capsys):
    with pytest.raises(SystemExit):
        main(["train", *argv])
    assert re.search(match, capsys.readouterr().err)


def test_han_lenet300_prune_and_retrain_to_8_percent(mnist_dir, tmp_path):
    """Han et al. (2015), table 1: LeNet-300-100 pruned to about 8% of its weights
    (8% / 9% / 26% of fc1 / fc2 / fc3 kept) loses no accuracy after iterative
    pruning and retraining. Here: 10 epochs with L2 (weight decay 5e-4, as Han
    et al. train with L2), then four rounds of layer-wise magnitude pruning,
    the kept fraction of each layer shrinking geometrically to the target,
    each followed by 3 epochs of retraining; the test error must stay within
    0.2 points of the unpruned network's."""
    base = tmp_path / "base"
    assert main(["train", "--model", "lenet300", "--epochs", "10", "--weight-decay", "5e-4", "--quiet",
                 "--data-dir", str(mnist_dir), "--out", str(base)]) == 0
    target = {"fc1": 0.92, "fc2": 0.91, "fc3": 0.74}
    rows = ";".join(",".join(f"{k}={1 - (1 - v) ** (r / 4):.4f}" for k, v in target.items()) for r in range(1, 5))
    out = tmp_path / "han"
    assert main(["prune", str(base / "checkpoint.npz"), "--kind", "layer", "--fractions", rows, "--iterative",
                 "--retrain-epochs", "3", "--retrain-lr", "0.02", "--out", str(out), "--data-dir", str(mnist_dir)]) == 0
    final = json.loads((out / "prune.json").read_text())["rows"][-1]
    kept = {r["layer"]: r["kept"] / r["weights"] for r in final["layers"]}
    assert kept == pytest.approx({"fc1": 0.08, "fc2": 0.09, "fc3": 0.26}, abs=1e-3)
    assert 1 - final["sparsity"] == pytest.approx(0.0818, abs=1e-3)
    unpruned = json.loads((base / "metrics.json").read_text())["test_accuracy"]
    assert final["test_accuracy"] >= unpruned - 0.002, (final["test_accuracy"], unpruned)


def test_prune_units_and_remove_them_for_real(trained, mnist_dir, tmp_path):
    """Unit pruning leaves dead units; --remove-dead-units shrinks the layers (the
    checkpoint's spec follows) and the accuracy stays that of the masked network
    (outputs equal up to rounding, so at most one test image may flip)."""
    rows = {}
    for flag in ([], ["--remove-dead-units"]):
        out = tmp_path / ("shrunk" if flag else "masked")
        assert main(["prune", str(trained), "--kind", "unit", "--fractions", "0.5", *flag, "--out", str(out),
                     "--data-dir", str(mnist_dir)]) == 0
        rows[bool(flag)] = json.loads((out / "prune.json").read_text())["rows"][0]
    model, meta = load_checkpoint(rows[True]["checkpoint"])
    assert meta["spec"] == "mlp:784-32-16-10:relu"
    assert model.n_parameters() == 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    assert rows[True]["parameters_left"] == model.n_parameters()
    # the masked network still holds the weights that read dead units: 32 rows of fc2, 16 of fc3
    assert rows[False]["parameters_left"] - rows[True]["parameters_left"] == 32 * 16 + 16 * 10
    assert abs(rows[True]["test_accuracy"] - rows[False]["test_accuracy"]) <= 1e-4
    # compression is measured against the unpruned network, shrunk or not
    assert rows[True]["dense_bytes"] == rows[False]["dense_bytes"] == 4 * (784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10)
    assert rows[True]["compressed_bytes"] < rows[False]["compressed_bytes"]


def test_prune_output_and_layer_mistakes(synthetic_checkpoint, tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    assert main(["prune", str(synthetic_checkpoint), "--out", str(blocker)]) == 1
    assert f"--out {blocker}: File exists and is not a folder" in capsys.readouterr().err
    assert main(["prune", str(synthetic_checkpoint), "--layers", "fc1,fc1", "--out", str(tmp_path / "o")]) == 1
    assert "--layers names a layer twice" in capsys.readouterr().err
    assert main(["export-sparse", str(synthetic_checkpoint), str(tmp_path)]) == 1
    assert "must be a file name, not a folder" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained_with_dropout(tmp_path_factory, mnist_dir):
    """Classic dropout, whose evaluation scales by 1 - p: the rate is part of the model."""
    out = tmp_path_factory.mktemp("dropout")
    assert main(["train", "--model", "mlp:784-64-32-10", "--epochs", "1", "--quiet", "--reg", "dropout-classic",
                 "--drop-rate", "0.5", "--data-dir", str(mnist_dir), "--out", str(out)]) == 0
    return out / "checkpoint.npz"


def test_retraining_scales_dropout_as_han_et_al_and_evaluate_agrees(trained_with_dropout, mnist_dir, tmp_path,
                                                                    capsys):
    out = tmp_path / "p"
    assert main(["prune", str(trained_with_dropout), "--kind", "layer", "--fractions", "0.5,0.75", "--iterative",
                 "--retrain-epochs", "1", "--out", str(out), "--data-dir", str(mnist_dir)]) == 0
    rows = json.loads((out / "prune.json").read_text())["rows"]
    for row, f in zip(rows, (0.5, 0.75)):
        _, _, meta = read_checkpoint(row["checkpoint"])
        kept = 1 - math.floor(f * 784 * 64) / (784 * 64), 1 - math.floor(f * 64 * 32) / (64 * 32)
        expected = {"drop1": 0.5 * math.sqrt(kept[0]), "drop2": 0.5 * math.sqrt(kept[1])}
        assert meta["pruned"]["dropout_rates"] == pytest.approx(expected, rel=1e-12)  # D_o = 0.5 each round
        capsys.readouterr()
        assert main(["evaluate", row["checkpoint"], "--data-dir", str(mnist_dir)]) == 0
        assert f"accuracy {100 * row['test_accuracy']:.2f}%" in capsys.readouterr().out

"""The sparsifying baselines from the command line, on real MNIST: train with
--reg smallify and its flags, prune by the method's own score, export the
network its method leaves; and the flags' bad values."""

from __future__ import annotations

import json
import re

import pytest

from tdnumpy.cli import main
from tdnumpy.experiments import load_run
from tdnumpy.pruning.sparse import import_model


@pytest.fixture(scope="module")
def smallified(tmp_path_factory, mnist_dir):
    """A small MLP trained one epoch with Smallify's switches, strong enough to remove some units."""
    out = tmp_path_factory.mktemp("smallify")
    assert main(["train", "--model", "mlp:784-64-32-10", "--epochs", "1", "--quiet", "--reg", "smallify",
                 "--smallify-strength", "0.01", "--smallify-threshold", "0.3", "--data-dir", str(mnist_dir),
                 "--out", str(out)]) == 0
    return out / "checkpoint.npz"


def test_train_records_the_flags(smallified):
    config = json.loads((smallified.parent / "metrics.json").read_text())["config"]
    assert config["reg"] == "smallify" and config["smallify_strength"] == 0.01
    assert config["smallify_threshold"] == 0.3


def test_prune_by_the_methods_score_and_export_what_it_leaves(smallified, mnist_dir, tmp_path, capsys):
    model = load_run(smallified).model
    switches = [m for m in model.layers if getattr(m, "method", None) == "smallify"]
    removed = sum(int((m.switch.value == 0).sum()) for m in switches)
    assert main(["prune", str(smallified), "--kind", "unit", "--score", "method", "--fractions", "0,0.5",
                 "--data-dir", str(mnist_dir), "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    said = [int(n.replace(",", "")) for n in re.findall(r"smallify removes ([\d,]+) of", err)]
    assert sum(said) == removed
    pruned = load_run(tmp_path / "pruned-0.npz")
    assert pruned.config.reg == "none"
    assert main(["export-sparse", str(tmp_path / "pruned-0.npz"), str(tmp_path / "sparse.npz")]) == 0
    sparse_fc1 = import_model(tmp_path / "sparse.npz")[0].layer("fc1").weight.value
    removed_fc1 = int((switches[0].switch.value == 0).sum())
    assert (sparse_fc1 != 0).any(axis=0).sum() == 64 - removed_fc1  # a removed unit's column is all zeros
    # exporting the gated checkpoint itself folds it first and says so
    assert main(["export-sparse", str(smallified), str(tmp_path / "direct.npz")]) == 0
    assert "smallify removes" in capsys.readouterr().out


@pytest.mark.parametrize("flag, value", [
    ("--l0-strength", "-0.1"), ("--vd-strength", "-1"), ("--smallify-strength", "-0.001"),
    ("--l0-beta", "0"), ("--l0-gamma", "0.1"), ("--l0-zeta", "1"), ("--smallify-threshold", "4"),
    ("--smallify-momentum", "1"), ("--vd-threshold", "9"), ("--l0-init-drop", "1"),
])
def test_bad_values_of_the_flags(flag, value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--reg", "l0-weight", flag, value, "--epochs", "1"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert flag in err and value in err, err


def test_score_method_on_a_plain_run_is_refused(smallified, mnist_dir, tmp_path, capsys):
    out = tmp_path / "plain"
    assert main(["train", "--model", "mlp:784-16-10", "--epochs", "1", "--quiet", "--data-dir", str(mnist_dir),
                 "--out", str(out)]) == 0
    assert main(["prune", str(out / "checkpoint.npz"), "--score", "method", "--data-dir", str(mnist_dir)]) == 1
    assert "the run has none" in capsys.readouterr().err

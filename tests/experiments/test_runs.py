"""Runs as library objects: train_run, load_run and Run.evaluate agree, to the
last digit, with what the command line trains, records and evaluates; and
checkpoints written by release 0.1 still load through the migration."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from synthetic import synthetic_dataset
from tdnumpy._validation import ParameterError
from tdnumpy.cli import main
from tdnumpy.data import load_dataset, to_inputs
from tdnumpy.experiments import RunConfig, load_run, prune_run, train_run
from tdnumpy.experiments.regularisers import NAMES
from tdnumpy.nn.dropout import Dropout
from tdnumpy.nn.models import build_model
from tdnumpy.nn.noise import DropConnect
from tdnumpy.training.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from tdnumpy.training.fit import evaluate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "release-0.1"
# regularisers whose evaluation is not the plain network's: the model is wrong without them
CHANGE_EVALUATION = ("dropconnect", "dropout-classic", "standout")


def _bare_evaluation(checkpoint, mnist_dir) -> dict:
    """The checkpoint's network evaluated without its regularisers."""
    model, _ = load_checkpoint(checkpoint)
    test = load_dataset("mnist", mnist_dir).test
    return evaluate(model, to_inputs(test.images, model.input_shape), test.labels)


@pytest.mark.mnist
@pytest.mark.parametrize("reg", NAMES)
def test_load_run_evaluates_exactly_as_the_command_and_as_training_recorded(reg, tmp_path, mnist_dir, capsys):
    """For every --reg name: Run.evaluate() of the loaded run equals metrics.json
    to the last bit, and `tdnumpy evaluate` prints those same numbers."""
    out = tmp_path / "run"
    model = "lenet5:4-6-12" if reg == "spatial" else "mlp:784-24-16-10"
    assert main(["train", "--model", model, "--epochs", "1", "--validation", "55000", "--reg", reg,
                 "--drop-rate", "0.3", "--per-example", "--dropconnect-inference", "gaussian", "--mc-samples", "5",
                 "--standout-alpha", "0.5", "--seed", "2", "--data-dir", str(mnist_dir), "--out", str(out),
                 "--quiet"]) == 0
    recorded = json.loads((out / "metrics.json").read_text())
    for path in (out, out / "checkpoint.npz"):
        run = load_run(path)
        result = run.evaluate(data=mnist_dir)
        assert result == {"loss": recorded["test_loss"], "accuracy": recorded["test_accuracy"]}
        assert run.metrics == recorded and run.config == RunConfig.from_dict(recorded["config"])
    capsys.readouterr()
    assert main(["evaluate", str(out / "checkpoint.npz"), "--data-dir", str(mnist_dir)]) == 0
    printed = capsys.readouterr()
    assert (f"accuracy {100 * result['accuracy']:.2f}% (loss {result['loss']:.4f}, 10,000 images)"
            in printed.out)
    assert [f"as trained: {line}" for line in run.applied] == printed.err.splitlines()[:len(run.applied)]
    if reg in CHANGE_EVALUATION:
        assert _bare_evaluation(out / "checkpoint.npz", mnist_dir) != result


@pytest.mark.mnist
def test_train_run_in_python_is_the_command_bit_for_bit(tmp_path, mnist_dir):
    config = RunConfig(model="mlp:784-32-10", epochs=1, validation=50_000, reg="td-weight", gamma=0.6,
                       alpha=0.4, l1=1e-5, seed=9)
    run = train_run(config, data=mnist_dir, progress=False)
    assert run.checkpoint is None
    argv = ["train", "--model", "mlp:784-32-10", "--epochs", "1", "--validation", "50000", "--reg", "td-weight",
            "--gamma", "0.6", "--alpha", "0.4", "--l1", "1e-5", "--seed", "9", "--data-dir", str(mnist_dir),
            "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    values, _, meta = read_checkpoint(tmp_path / "checkpoint.npz")
    for name, p in run.model.named_parameters().items():
        assert p.value.tobytes() == values[name].tobytes(), name
    assert RunConfig.from_dict(meta["config"]) == config
    assert run.evaluate() == {"loss": meta["metrics"]["test_loss"], "accuracy": meta["metrics"]["test_accuracy"]}


@pytest.mark.mnist
def test_a_pruned_and_retrained_checkpoint_evaluates_as_its_row(tmp_path, mnist_dir, capsys):
    """Classic dropout scales by 1 - p at evaluation, and retraining changed p to
    Han et al.'s D_r: load_run must put back both, as `tdnumpy evaluate` does."""
    config = RunConfig(model="mlp:784-32-16-10", epochs=1, validation=50_000, reg="dropout-classic",
                       drop_rate=0.5, seed=4)
    run = train_run(config, out=tmp_path / "run", data=mnist_dir, progress=False)
    rows = prune_run(load_run(tmp_path / "run"), "layer", [0.5, 0.75], iterative=True, retrain_epochs=1,
                     out=tmp_path / "pruned", data=mnist_dir)
    for row, f in zip(rows, (0.5, 0.75)):
        pruned = load_run(row["checkpoint"])
        kept = 1 - math.floor(f * 784 * 32) / (784 * 32)
        assert pruned.model.layer("drop1").p == pytest.approx(0.5 * math.sqrt(kept), rel=1e-12)
        assert pruned.pruned["dropout_rates"]["drop1"] == pruned.model.layer("drop1").p
        result = pruned.evaluate(data=mnist_dir)
        assert result == {"loss": row["test_loss"], "accuracy": row["test_accuracy"]}
        capsys.readouterr()
        assert main(["evaluate", row["checkpoint"], "--data-dir", str(mnist_dir)]) == 0
        assert f"accuracy {100 * result['accuracy']:.2f}% (loss {result['loss']:.4f}" in capsys.readouterr().out
    assert run.model.layer("drop1").p == 0.5  # pruning copies the run's network; the run is untouched


# ------------------------------------------------------------ release 0.1


def test_a_release_0_1_checkpoint_migrates_its_command_line_config():
    run = load_run(FIXTURES / "dropconnect-gaussian.npz")
    assert run.config == RunConfig(model="mlp:784-16-10", epochs=1, validation=55_000, reg="dropconnect",
                                   dropconnect_inference="gaussian", mc_samples=8, drop_rate=0.25, seed=7)
    for name in ("fc1", "fc2"):
        rule = run.model.layer(name).noise
        assert isinstance(rule, DropConnect) and (rule.mode, rule.samples, rule.p) == ("gaussian", 8, 0.25)
    pruned = load_run(FIXTURES / "pruned-dropout-classic.npz")
    assert pruned.config.reg_layers == ("fc1",) and pruned.config.reg == "dropout-classic"
    drop = pruned.model.layer("drop1")
    assert isinstance(drop, Dropout) and drop.mode == "classic"
    assert drop.p == pruned.pruned["dropout_rates"]["drop1"] == pytest.approx(0.5 * math.sqrt(0.5))
    assert pruned.model.layer("fc1").weight.mask is not None


@pytest.mark.mnist
@pytest.mark.parametrize("name", ["dropconnect-gaussian.npz", "pruned-dropout-classic.npz"])
def test_a_release_0_1_checkpoint_evaluates_to_the_accuracy_it_recorded(name, mnist_dir, capsys):
    path = FIXTURES / name
    _, _, meta = read_checkpoint(path)
    result = load_run(path).evaluate(data=mnist_dir)
    # the accuracy exactly; the loss, a float32 mean, to float32 rounding: its last bits move
    # with NumPy's SIMD kernels (NumPy 2.4.6 gives 1.4e-8 relative off the fixture's value)
    assert result["accuracy"] == meta["metrics"]["test_accuracy"]
    assert result["loss"] == pytest.approx(meta["metrics"]["test_loss"], rel=1e-6)
    assert main(["evaluate", str(path), "--data-dir", str(mnist_dir)]) == 0
    assert f"accuracy {100 * result['accuracy']:.2f}%" in capsys.readouterr().out
    assert _bare_evaluation(path, mnist_dir) != result  # without the migration the answer would differ


def test_a_checkpoint_without_a_config_gets_the_defaults(tmp_path):
    from tdnumpy.nn.models import build_model
    from tdnumpy.training.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "plain.npz", build_model("mlp:784-8-10"), seed=3, dataset="fashion-mnist")
    run = load_run(tmp_path / "plain.npz")
    assert run.config == RunConfig(model="mlp:784-8-10", dataset="fashion-mnist", seed=3)
    assert run.applied == () and run.metrics == {}


def test_an_unusable_config_names_the_file(tmp_path):
    from tdnumpy.nn.models import build_model
    from tdnumpy.training.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "bad.npz", build_model("mlp:784-8-10"), config={"command": "train", "gamma": 5})
    with pytest.raises(CheckpointError, match=r"bad.npz: its run configuration is not usable .*'gamma'.* Got 5"):
        load_run(tmp_path / "bad.npz")


def test_keys_release_0_1_ignored_are_dropped_with_a_warning(tmp_path):
    from tdnumpy.nn.models import build_model
    from tdnumpy.training.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "extra.npz", build_model("mlp:784-8-10"),
                    config={"lr": 0.1, "experiment": "sweep-3", "quiet": True})
    with pytest.warns(UserWarning, match=r"extra.npz: the run configuration's keys \['experiment'\] are no "
                                         r"RunConfig field; ignored"):
        run = load_run(tmp_path / "extra.npz")
    assert run.config == RunConfig(lr=0.1)


def test_an_unreadable_metrics_file_leaves_the_checkpoint_s_metrics(tmp_path):
    config = RunConfig(model="mlp:784-8-10", epochs=1)
    run = train_run(config, out=tmp_path, data=synthetic_dataset(train=200, test=50), progress=False)
    recorded = json.loads((tmp_path / "metrics.json").read_text())["environment"]
    assert set(recorded) == {"numpy", "blas", "blas_threads"} and recorded["numpy"] == np.__version__
    (tmp_path / "metrics.json").write_text("{truncated")
    with pytest.warns(UserWarning, match="metrics.json: not a readable metrics file"):
        back = load_run(tmp_path)
    assert back.metrics == {"test_loss": run.metrics["test_loss"], "test_accuracy": run.metrics["test_accuracy"]}


def test_the_package_imports_without_docstrings():
    """Under python -OO docstrings are None; the shared docstring sections and the
    train flags' help (read from RunConfig's docstring) must cope."""
    import subprocess
    import sys

    code = "import tdnumpy.masks, tdnumpy.cli; tdnumpy.cli.build_parser().parse_args(['train']); print('ok')"
    out = subprocess.run([sys.executable, "-OO", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_a_gradual_interval_longer_than_the_pruning_phase_is_refused(tmp_path):
    config = RunConfig(model="mlp:784-8-10", epochs=1, batch_size=50, gradual_sparsity=0.5, gradual_interval=500)
    with pytest.raises(ParameterError, match=r"'gradual_interval' 500 is longer than the pruning phase \(4 steps\)"):
        train_run(config, out=tmp_path / "o", data=synthetic_dataset(train=200, test=50))
    assert not (tmp_path / "o" / "checkpoint.npz").exists()


# ------------------------------------------------------- without real data


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_dataset(train=640, test=300, validation=64)


def test_train_run_saves_what_load_run_reads_back(synthetic, tmp_path):
    config = RunConfig(model="mlp:784-16-10", epochs=2, batch_size=64, validation=64, reg="td-unit",
                       gradual_sparsity=0.5, gradual_interval=2, seed=1)
    lines = []
    run = train_run(config, out=tmp_path / "r", data=synthetic, progress=False, log=lines.append)
    assert run.metrics["test_accuracy"] > 0.5  # the bands are easy to learn
    assert lines[:3] == ["fc1: td-unit (gamma 0.5, alpha 0.5)", "fc2: td-unit (gamma 0.5, alpha 0.5)",
                         "gradual pruning (layer): sparsity 0 -> 0.5 over steps 0..8, every 2 steps"]
    assert len([line for line in lines if line.startswith("epoch")]) == 2
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["checkpoint.npz", "metrics.json"]
    back = load_run(tmp_path / "r")
    assert back.config == config and back.metrics == json.loads((tmp_path / "r" / "metrics.json").read_text())
    for (name, p), q in zip(run.model.named_parameters().items(), back.model.parameters()):
        assert p.value.tobytes() == q.value.tobytes(), name
        assert (p.mask is None) == (q.mask is None) and (p.mask is None or (p.mask == q.mask).all())
    expected = {"loss": run.metrics["test_loss"], "accuracy": run.metrics["test_accuracy"]}
    assert back.evaluate(data=synthetic) == run.evaluate() == expected
    assert run.evaluate("validation") == back.evaluate("validation", data=synthetic)
    assert set(back.evaluate("train", data=synthetic)) == {"loss", "accuracy"}


def test_one_seed_one_run(synthetic):
    config = RunConfig(model="mlp:784-16-10", epochs=1, batch_size=32, validation=64, reg="dropconnect",
                       drop_rate=0.25, seed=5)
    a, b = (train_run(config, data=synthetic, progress=False) for _ in range(2))
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert p.value.tobytes() == q.value.tobytes()
    c = train_run(config.replace(seed=6), data=synthetic, progress=False)
    assert not np.array_equal(a.model.parameters()[0].value, c.model.parameters()[0].value)


def test_fresh_model_is_the_checkpoint_as_loaded(synthetic, tmp_path):
    """fresh_model rebuilds the network with fresh generators and its
    regularisers, whatever training did to the run's own generators."""
    config = RunConfig(model="mlp:784-16-10", epochs=1, batch_size=64, validation=64, reg="dropout", seed=2)
    run = train_run(config, out=tmp_path, data=synthetic, progress=False)
    fresh, loaded = run.fresh_model(), load_run(tmp_path).model
    assert [type(m).__name__ for m in fresh.layers] == [type(m).__name__ for m in loaded.layers]
    x = to_inputs(synthetic.train.images[:8], fresh.input_shape)
    np.testing.assert_array_equal(fresh.forward(x, training=True), loaded.forward(x, training=True))
    fresh.parameters()[0].value[...] = 0
    assert run.model.parameters()[0].value.any()


def test_data_that_does_not_match_the_config_is_refused(synthetic):
    config = RunConfig(model="mlp:784-16-10", epochs=1, validation=64)
    with pytest.raises(ParameterError, match="'data' holds out 0 validation images but the config's "
                                             "'validation' is 64"):
        train_run(config, data=synthetic_dataset(train=200, test=50))
    with pytest.raises(ParameterError, match="'data' holds 'fashion-mnist' but the config's 'dataset' is 'mnist'"):
        train_run(config, data=synthetic_dataset("fashion-mnist", validation=64))
    with pytest.raises(TypeError, match="'data' parameter must be"):
        train_run(config, data=42)
    with pytest.raises(TypeError, match="The 'config' parameter of train_run must be a RunConfig"):
        train_run(config.to_dict())


def test_evaluate_refuses_an_unknown_or_missing_split(synthetic):
    run = train_run(RunConfig(model="mlp:784-8-10", epochs=1), data=synthetic_dataset(train=200, test=50),
                    progress=False)
    with pytest.raises(ValueError, match="'split' parameter of Run.evaluate must be one of"):
        run.evaluate("dev")
    with pytest.raises(ValueError, match="needs held-out images"):
        run.evaluate("validation")


def test_a_bad_out_fails_before_the_data_are_read(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("x")

    def no_data(name, validation):
        raise AssertionError("the data were read before the output folder was checked")

    with pytest.raises(ParameterError, match=f"'out' {blocker}: File exists and is not a folder"):
        train_run(RunConfig(model="mlp:784-8-10", epochs=1), out=blocker, data=no_data)


def test_an_output_folder_that_cannot_take_the_run_fails_before_training(tmp_path, monkeypatch):
    """Issue 18: `train` to an --out that could not be written trained every epoch,
    then failed at the checkpoint write and threw the model away."""
    blocked = tmp_path / "blocked"
    (blocked / "checkpoint.npz").mkdir(parents=True)  # the run's file name taken by a folder
    never = tmp_path / "absent-data"  # were the data looked up first, this would be the error
    with pytest.raises(ValueError, match=r"checkpoint.npz is a folder, so the checkpoint.npz of the run cannot"):
        train_run(RunConfig(model="mlp:784-8-10", epochs=1), out=blocked, data=never, progress=False)

    def refuse(*args, **kwargs):  # a read-only folder (the tests may run as root, who may write anywhere)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tdnumpy._io.tempfile.TemporaryFile", refuse)
    with pytest.raises(ValueError, match=r"'out' .*read-only: cannot write there \(Permission denied\)"):
        train_run(RunConfig(model="mlp:784-8-10", epochs=1), out=tmp_path / "read-only", data=never, progress=False)


def test_a_finished_run_is_never_silently_replaced(tmp_path):
    """Issue 18: a second run into the same folder (the default runs/<model>-seed<seed>
    ignores --reg) replaced the first without a word."""
    config = RunConfig(model="mlp:784-8-10", epochs=1)
    first = train_run(config, out=tmp_path, data=synthetic_dataset(train=200, test=50), progress=False)
    kept = (tmp_path / "checkpoint.npz").read_bytes()
    with pytest.raises(ValueError, match=r"already holds a finished run \(checkpoint.npz and metrics.json\); "
                                         r"choose another folder, or pass 'overwrite'"):
        train_run(config.replace(reg="dropout"), out=tmp_path, data=tmp_path / "absent", progress=False)
    assert (tmp_path / "checkpoint.npz").read_bytes() == kept
    again = train_run(config.replace(seed=1), out=tmp_path, data=synthetic_dataset(train=200, test=50),
                      progress=False, overwrite=True)
    assert again.config.seed == 1 and load_run(tmp_path).config.seed == 1 and first.config.seed == 0


@pytest.mark.parametrize("record, match", [
    (dict(config=[1, 2]), r"run configuration is not usable \(the 'config' record must be a JSON object of fields; "
                          r"got a list\)"),
    (dict(config="hello"), r"got a str\)"),
    (dict(pruned={"dropout_rates": {"drop1": "0.5"}}), r"its regularisers cannot be put back \(the pruning "
                                                       r"record's 'dropout_rates' must map layer names to rates"),
    (dict(pruned={"dropout_rates": {"nope": 0.5}}), r"its regularisers cannot be put back \(.*No layer named 'nope'"),
])
def test_a_hand_edited_record_gets_an_error_naming_the_file(tmp_path, record, match):
    """Issue 18: a config that was a list, or dropout rates as strings, gave AttributeError / KeyError."""
    record = {"config": RunConfig(model="mlp:784-8-10", reg="dropout").to_dict(), **record}
    path = save_checkpoint(tmp_path / "edited.npz", build_model("mlp:784-8-10", seed=0), **record)
    with pytest.raises(CheckpointError, match=match) as info:
        load_run(path)
    assert str(path) in str(info.value)

"""Resuming an interrupted run (train_run(..., resume=True), ``tdnumpy train --resume``).

The property: a run interrupted after any epoch and resumed, even more than
once, ends bit-identical to the same run never interrupted: every parameter,
mask, per-epoch loss and accuracy, and the test metrics (the wall-clock
seconds aside). Each regulariser's state is exercised: the generators of
layers, noise modules and rules, rule step counts (ramps), fixed random
targets, Smallify's moving averages and removed units, L0 and variational
parameters, Adam's step count and buffers, gradual pruning's masks, the
learning-rate schedule and the validation pass.
"""

from __future__ import annotations

import numpy as np
import pytest

from synthetic import synthetic_dataset
from tdnumpy.experiments import RunConfig, train_run
from tdnumpy.experiments.regularisers import NAMES
from tdnumpy.experiments.runs import load_run
from tdnumpy.training.checkpoint import read_training_state, save_checkpoint

BASE = RunConfig(model="mlp:784-16-12-10", epochs=3, batch_size=100, seed=3)
MLP_RULES = [name for name in NAMES if name not in ("none", "spatial")]
CONFIGS = {
    **{name: BASE.replace(reg=name) for name in MLP_RULES},
    "td-ramp alpha ramp, adam": BASE.replace(reg="td-ramp", ramp_steps=9, ramp_alpha=True, optimizer="adam", lr=0.01),
    "dropconnect per example, nesterov": BASE.replace(reg="dropconnect", per_example=True, nesterov=True),
    "gradual pruning, step schedule": BASE.replace(gradual_sparsity=0.6, gradual_start=0, gradual_interval=4,
                                                   lr_schedule="step", lr_step_epochs=1, lr_decay=0.5),
    "validation, l1": BASE.replace(reg="dropout", validation=100, l1=1e-4),
    # strong enough that the switches change sign in epoch 1 and units are removed in epoch 2
    "smallify, switches flipping": BASE.replace(reg="smallify", smallify_strength=3.0, smallify_threshold=0.6),
    "spatial on a small lenet5": RunConfig(model="lenet5:2-3-8", reg="spatial", epochs=3, batch_size=200, seed=3),
}


def data(config):
    return synthetic_dataset(validation=config.validation)


def interrupt_before(epoch: int):
    """A log callback that stops training (as Ctrl-C would) when epoch ``epoch``
    has finished but before its checkpoint is written: the folder then holds
    epoch ``epoch - 1``."""
    def log(line):
        if line.startswith(f"epoch {epoch:>3}:"):
            raise KeyboardInterrupt
    return log


def assert_same_run(resumed, full):
    a, b = full.model.named_parameters(), resumed.model.named_parameters()
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name].value, b[name].value), name
        assert (a[name].mask is None) == (b[name].mask is None) and (
            a[name].mask is None or np.array_equal(a[name].mask, b[name].mask)), name

    def without_seconds(epochs):
        return [{k: v for k, v in e.items() if k != "seconds"} for e in epochs]

    assert without_seconds(resumed.metrics["epochs"]) == without_seconds(full.metrics["epochs"])
    assert len(full.metrics["epochs"]) == full.config.epochs
    for key in ("test_loss", "test_accuracy", "config", "parameters"):
        assert resumed.metrics[key] == full.metrics[key], key


@pytest.mark.parametrize("name", list(CONFIGS))
def test_a_run_resumed_after_each_epoch_is_bit_identical_to_one_never_interrupted(name, tmp_path):
    config = CONFIGS[name]
    full = train_run(config, out=tmp_path / "full", data=data(config), progress=False)
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):  # stopped after epoch 1
        train_run(config, out=out, data=data(config), progress=False, log=interrupt_before(2))
    with pytest.raises(KeyboardInterrupt):  # resumed, stopped again after epoch 2
        train_run(config, out=out, data=data(config), progress=False, log=interrupt_before(3), resume=True)
    assert read_training_state(out / "checkpoint.npz")[1]["metrics"]["interrupted_after_epoch"] == 2
    resumed = train_run(config, out=out, data=data(config), progress=False, resume=True)
    assert_same_run(resumed, full)
    assert_same_run(load_run(out), full)  # what the folder holds, too
    assert "state" not in read_training_state(out / "checkpoint.npz")[1]  # a finished run's checkpoint has none


def test_the_resumed_run_logs_where_it_goes_on(tmp_path):
    config = BASE.replace(reg="td-weight")
    with pytest.raises(KeyboardInterrupt):
        train_run(config, out=tmp_path, data=data(config), progress=False, log=interrupt_before(3))
    lines = []
    train_run(config, out=tmp_path, data=data(config), progress=False, log=lines.append, resume=True)
    assert "resuming after epoch 2 of 3" in lines and not any(line.startswith("epoch   2:") for line in lines)


@pytest.fixture
def unfinished(tmp_path):
    """A folder holding a run of BASE interrupted after epoch 1."""
    with pytest.raises(KeyboardInterrupt):
        train_run(BASE, out=tmp_path, data=data(BASE), progress=False, log=interrupt_before(2))
    return tmp_path


@pytest.mark.parametrize("change, named", [({"lr": 0.02}, "lr (here 0.02, there 0.05)"),
                                           ({"epochs": 4}, "epochs (here 4, there 3)"),
                                           ({"reg": "dropout"}, "reg (here 'dropout', there 'none')")])
def test_resuming_with_another_config_is_refused_naming_what_differs(unfinished, change, named):
    before = (unfinished / "checkpoint.npz").read_bytes()
    with pytest.raises(ValueError, match="started with another config") as caught:
        train_run(BASE.replace(**change), out=unfinished, data=data(BASE), progress=False, resume=True)
    assert named in str(caught.value)
    assert (unfinished / "checkpoint.npz").read_bytes() == before


def test_another_config_is_refused_before_any_data_is_loaded(unfinished, tmp_path_factory):
    """The data folder holds nothing: the config's difference must be what is reported."""
    empty = tmp_path_factory.mktemp("no-data")
    with pytest.raises(ValueError, match=r"started with another config \(it differs in lr"):
        train_run(BASE.replace(lr=0.02), out=unfinished, data=empty, progress=False, resume=True)


def test_resuming_a_finished_run_or_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="holds no checkpoint.npz to resume from"):
        train_run(BASE, out=tmp_path, data=data(BASE), progress=False, resume=True)
    train_run(BASE.replace(epochs=1), out=tmp_path, data=data(BASE), progress=False)
    with pytest.raises(ValueError, match="already holds a finished run .*nothing to resume"):
        train_run(BASE.replace(epochs=1), out=tmp_path, data=data(BASE), progress=False, resume=True)


def test_resuming_a_checkpoint_without_a_training_state_is_refused(unfinished):
    from tdnumpy.nn.models import build_model
    save_checkpoint(unfinished / "checkpoint.npz", build_model(BASE.model), config=BASE.to_dict(),
                    metrics={"interrupted_after_epoch": 1, "epochs": [{}]})
    with pytest.raises(ValueError, match="holds no unfinished run"):
        train_run(BASE, out=unfinished, data=data(BASE), progress=False, resume=True)


def test_a_training_state_that_does_not_fit_is_refused(unfinished):
    """A record naming a generator the model does not have (a hand-edited or foreign file)."""
    from tdnumpy.experiments.runs import load_run as load
    arrays, meta = read_training_state(unfinished / "checkpoint.npz")
    meta["state"]["generators"]["fc9.rng"] = meta["state"]["generators"]["shuffle"]
    extra = {k: v for k, v in meta.items() if k not in ("format", "version", "spec", "dtype", "parameters", "state")}
    save_checkpoint(unfinished / "checkpoint.npz", load(unfinished).model, state=(arrays, meta["state"]), **extra)
    with pytest.raises(ValueError, match=r"does not fit this run \(it differs in \['fc9.rng'\]\)"):
        train_run(BASE, out=unfinished, data=data(BASE), progress=False, resume=True)


@pytest.mark.parametrize("kwargs", [{"out": None}, {"overwrite": True}])
def test_resume_needs_an_output_folder_and_excludes_overwrite(tmp_path, kwargs):
    kwargs = {"out": tmp_path, **kwargs}
    with pytest.raises(ValueError, match="it needs 'out', and excludes 'overwrite'"):
        train_run(BASE, data=data(BASE), progress=False, resume=True, **kwargs)


def test_the_train_command_resumes_with_the_same_flags(tmp_path, monkeypatch, capsys):
    from tdnumpy.cli import main
    flags = ["train", "--model", "mlp:784-16-10", "--epochs", "2", "--batch-size", "100", "--out", str(tmp_path)]
    import tdnumpy.cli.train as train_command
    seen = {}

    def fake(config, out, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(train_command, "train_run", fake)
    assert main(flags + ["--resume"]) == 130
    assert seen["resume"] is True
    assert main(flags) == 130
    assert seen["resume"] is False

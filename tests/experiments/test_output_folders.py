"""A run never silently replaces another run's results: a pruning table is
refused unless overwrite (which leaves no stale pruned-N.npz behind), and a
second run into a folder another one is writing is refused (a lock file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from synthetic import synthetic_dataset
from tdnumpy._io import LOCK
from tdnumpy._validation import ParameterError
from tdnumpy.cli import main
from tdnumpy.experiments import RunConfig, train_run
from tdnumpy.experiments.prune_runs import prune_run

CONFIG = RunConfig(model="mlp:784-16-10", epochs=1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_run(CONFIG, out=tmp_path_factory.mktemp("trained"), data=synthetic_dataset(), progress=False)


def _prune(run, fractions, out, **options):
    return prune_run(run, "weight", fractions, out=out, data=synthetic_dataset(), **options)


def test_a_second_pruning_table_is_refused_and_overwrite_leaves_no_stale_networks(run, tmp_path):
    out = tmp_path / "prune"
    _prune(run, [0.3, 0.6, 0.9], out)
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    assert {"pruned-0.npz", "pruned-2.npz", "prune.csv", "prune.json"} <= set(before)
    with pytest.raises(ParameterError, match=r"already holds results \(prune.csv, prune.json, pruned-0.npz"):
        _prune(run, [0.5], out)
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before  # nothing touched

    rows = _prune(run, [0.5, 0.8], out, overwrite=True)
    assert sorted(f.name for f in out.glob("pruned-*.npz")) == ["pruned-0.npz", "pruned-1.npz"]
    table = json.loads((out / "prune.json").read_text())["rows"]
    assert [r["fraction"] for r in table] == [0.5, 0.8] == [r["fraction"] for r in rows]
    assert not (out / LOCK).exists()


def test_only_a_pruned_network_left_behind_counts_as_results(run, tmp_path):
    out = tmp_path / "prune"
    out.mkdir()
    (out / "pruned-7.npz").write_bytes(b"left by an interrupted run")
    with pytest.raises(ParameterError, match="pruned-7.npz"):
        _prune(run, [0.5], out)


def test_the_prune_command_refuses_an_earlier_table_and_takes_overwrite(run, tmp_path, capsys):
    out = tmp_path / "p"
    _prune(run, [0.5], out)
    argv = ["prune", str(run.checkpoint), "--fractions", "0.2", "--out", str(out)]
    assert main(argv) == 1
    assert "already holds results" in capsys.readouterr().err
    # --overwrite gets past the check: with MNIST found ($TDNUMPY_DATA) it writes
    # the new table; without, it stops at the data look-up
    code = main([*argv, "--overwrite"])
    err = capsys.readouterr().err
    assert "already holds" not in err
    if code == 0:
        assert [r["fraction"] for r in json.loads((out / "prune.json").read_text())["rows"]] == [0.2]
    else:
        assert "Looked for mnist" in err


def _sleeper():
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_folder_another_live_process_writes_is_refused(tmp_path):
    holder = _sleeper()
    try:
        (tmp_path / LOCK).write_text(f"{holder.pid}\n")
        with pytest.raises(ParameterError, match=rf"another run \(process {holder.pid}\) is writing there"):
            train_run(CONFIG, out=tmp_path, data=synthetic_dataset(), progress=False)
        assert not (tmp_path / "checkpoint.npz").exists()
        assert (tmp_path / LOCK).read_text() == f"{holder.pid}\n"  # the holder's lock stays
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_of_a_process_that_is_gone_is_taken_over_and_released(tmp_path):
    gone = _sleeper()
    gone.kill()
    gone.wait()
    (tmp_path / LOCK).write_text(f"{gone.pid}\n")
    seen = []
    train_run(CONFIG, out=tmp_path, data=synthetic_dataset(), progress=False,
              log=lambda line: seen.append((tmp_path / LOCK).read_text()))
    assert set(seen) == {f"{os.getpid()}\n"}  # held by this process while it trained
    assert (tmp_path / "checkpoint.npz").is_file() and not (tmp_path / LOCK).exists()
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]


def test_the_same_process_cannot_write_one_folder_twice_at_once(run, tmp_path):
    """A prune whose log starts a second prune into the same folder: refused."""
    errors = []

    def nested(line):
        if not errors:
            errors.append(None)
            with pytest.raises(ParameterError, match="another run"):
                _prune(run, [0.5], tmp_path / "p", overwrite=True)
            errors[0] = "refused"

    prune_run(run, "weight", [0.5], out=tmp_path / "p", data=synthetic_dataset(), log=nested)
    assert errors == ["refused"]


def test_an_interrupted_run_keeps_its_last_finished_epoch(tmp_path):
    """Ctrl-C (KeyboardInterrupt) during epoch 2 of 3: the folder holds epoch
    1's checkpoint, exactly the weights training had then, readable by
    load_run, and no metrics.json; the lock is released."""
    import numpy as np

    from tdnumpy.experiments.runs import load_run
    after_first = {}

    def log(line):
        if line.startswith("epoch   1:"):
            after_first.update({n: p.value.copy() for n, p in model_of[0].named_parameters().items()})
        if line.startswith("epoch   2:"):
            raise KeyboardInterrupt

    model_of = []
    import tdnumpy.experiments.runs as runs
    build = runs.build_model

    def recording_build(*args, **kwargs):
        model_of.append(build(*args, **kwargs))
        return model_of[-1]

    config = CONFIG.replace(epochs=3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs, "build_model", recording_build)
        with pytest.raises(KeyboardInterrupt):
            train_run(config, out=tmp_path, data=synthetic_dataset(), progress=False, log=log)
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / LOCK).exists()
    run = load_run(tmp_path)
    assert run.metrics["interrupted_after_epoch"] == 1 and run.metrics["of_epochs"] == 3
    saved = run.model.named_parameters()
    assert after_first and all(np.array_equal(saved[n].value, v) for n, v in after_first.items())
    # the same command again replaces the interrupted run (it is not a finished one)
    train_run(config, out=tmp_path, data=synthetic_dataset(), progress=False)
    assert load_run(tmp_path).metrics["epochs"][-1]["epoch"] == 3


def test_ctrl_c_in_the_train_command_names_the_checkpoint_it_kept(tmp_path, monkeypatch, capsys):
    """The command's Ctrl-C message says which epoch the folder's checkpoint holds."""
    import tdnumpy.cli.train as train_command
    from tdnumpy.nn.models import build_model
    from tdnumpy.training.checkpoint import save_checkpoint

    def interrupted(config, out, **_):
        save_checkpoint(out / "checkpoint.npz", build_model(config.model), epoch=2)
        raise KeyboardInterrupt

    monkeypatch.setattr(train_command, "train_run", interrupted)
    assert main(["train", "--model", "mlp:784-16-10", "--epochs", "5", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert f"{tmp_path / 'checkpoint.npz'} holds the model after epoch 2 of 5" in err and "interrupted" in err

"""Sweeps on real MNIST: restartable after SIGKILL with nothing lost or
repeated, the same CSV on local processes and on a Dask cluster, finished
runs reused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tdnumpy.experiments import RunConfig, train_run
from tdnumpy.experiments.sweep_config import sweep_config
from tdnumpy.experiments.sweeps import sweep, with_evaluation

pytestmark = pytest.mark.mnist

TINY = """
name = "tiny"
[base]
model = "lenet300"
dataset = "mnist"
epochs = 1
train_images = 1500
test_images = 1000
[grid]
seed = [0, 1, 2]
[[variants]]
label = "none"
[[variants]]
label = "td"
reg = "td-weight"
[[variants]]
label = "dropconnect"
reg = "dropconnect"
mc_samples = 5
[[prune]]
kind = "weight"
fractions = [0.0, 0.5, 0.9]
[[prune]]
kind = "unit"
fractions = [0.0, 0.5]
[evaluate]
dropconnect_inference = ["mean", "gaussian"]
"""
CELLS, ROWS_PER_CELL = 9, 2 * 5


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, mnist_dir):
    """The tiny sweep's file and its CSV from one uninterrupted run with two jobs."""
    folder = tmp_path_factory.mktemp("tiny")
    path = folder / "tiny.toml"
    path.write_text(TINY)
    rows = sweep(path, folder / "reference", jobs=2, data_dir=mnist_dir)
    assert len(rows) == CELLS * ROWS_PER_CELL
    return path, (folder / "reference" / "results.csv").read_bytes()


def test_the_csv_is_tidy_and_in_config_order(tiny):
    _, reference = tiny
    lines = reference.decode().splitlines()
    assert lines[0].startswith("variant,model,dataset,reg,")
    assert "dropconnect_inference" in lines[0] and "seed" in lines[0]
    cells = list(dict.fromkeys(tuple(line.split(",")[:1]) + (line.split(",")[lines[0].split(",").index("seed")],)
                               for line in lines[1:]))
    assert cells == [(v, s) for v in ("none", "td", "dropconnect") for s in "012"]
    assert len(set(lines[1:])) == len(lines) - 1  # no duplicated row


def test_a_sweep_killed_mid_run_and_restarted_ends_with_the_same_csv(tiny, tmp_path, mnist_dir):
    path, reference = tiny
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "tdnumpy", "sweep", str(path), "--out", str(out), "--jobs", "2",
               "--data-dir", str(mnist_dir), "--quiet"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("runs/*/rows-*.json"))) < 2:
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the command and its worker processes
    process.wait()
    finished = len(list(out.glob("runs/*/rows-*.json")))
    assert 2 <= finished < CELLS, f"the kill came too late to interrupt anything ({finished} cells done)"
    done = subprocess.run(command[:-1], check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{finished} done before" in done.stderr
    assert (out / "results.csv").read_bytes() == reference
    assert not list(out.rglob(".*.tmp"))


def test_the_dask_path_gives_the_same_csv_as_two_jobs(tiny, tmp_path, mnist_dir):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is the optional [dask] extra")
    path, reference = tiny
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        sweep(path, tmp_path / "dask", dask_scheduler=cluster.scheduler_address, data_dir=mnist_dir)
    assert (tmp_path / "dask" / "results.csv").read_bytes() == reference


def test_a_finished_run_is_reused_and_a_changed_one_is_not(tmp_path, mnist_dir):
    data = {"name": "reuse", "base": {"model": "lenet300", "dataset": "mnist", "epochs": 1, "train_images": 300,
                                      "test_images": 200},
            "variants": [{"label": "a"}], "prune": [{"kind": "weight", "fractions": [0.0]}]}
    sweep(sweep_config(data), tmp_path, data_dir=mnist_dir)
    checkpoint = next(tmp_path.glob("runs/a-*/checkpoint.npz"))
    stamp = checkpoint.stat().st_mtime_ns
    data["prune"] = [{"kind": "weight", "fractions": [0.0, 0.5]}]  # new rows, same run
    rows = sweep(sweep_config(data), tmp_path, data_dir=mnist_dir)
    assert checkpoint.stat().st_mtime_ns == stamp and [r["fraction"] for r in rows] == ["0", "0.5"]
    data["base"]["lr"] = 0.02  # another run
    sweep(sweep_config(data), tmp_path, data_dir=mnist_dir)
    assert len(list(tmp_path.glob("runs/a-*/checkpoint.npz"))) == 2


def test_with_evaluation_changes_the_inference_only(mnist_dir):
    run = train_run(RunConfig(epochs=1, reg="dropconnect", train_images=300, test_images=300, mc_samples=3),
                    data=mnist_dir)
    gaussian = with_evaluation(run, {"dropconnect_inference": "gaussian"})
    assert gaussian.config.dropconnect_inference == "gaussian" and run.config.dropconnect_inference == "mean"
    for p, q in zip(gaussian.model.parameters(), run.model.parameters()):
        assert (p.value == q.value).all() and p.value is not q.value
    assert with_evaluation(run, {}) is run
    assert gaussian.evaluate(data=run.dataset())["loss"] != run.evaluate()["loss"]


def test_train_and_test_images_limit_the_data(mnist_dir):
    run = train_run(RunConfig(epochs=1, train_images=256, test_images=100), data=mnist_dir)
    data = run.dataset()
    assert len(data.train) == 256 and len(data.test) == 100
    assert Path(run.dataset().folder).exists()


def test_a_failing_run_is_named_and_the_others_are_kept(tmp_path, mnist_dir):
    from tdnumpy.experiments.sweeps import SweepError
    data = {"name": "boom", "base": {"model": "lenet300", "dataset": "mnist", "epochs": 1, "train_images": 300,
                                     "test_images": 200},
            "variants": [{"label": "fine"}, {"label": "diverges", "lr": 1e6}],
            "prune": [{"kind": "weight", "fractions": [0.0]}]}
    with pytest.raises(SweepError, match=r"1 of 2 runs failed.*diverges-.*TrainingDiverged"):
        sweep(sweep_config(data), tmp_path, data_dir=mnist_dir)
    assert [line.split(",")[0] for line in (tmp_path / "results.csv").read_text().splitlines()] == ["variant", "fine"]
    with pytest.raises(SweepError, match="1 of 2 runs failed"):  # a rerun tries the failed one again
        sweep(sweep_config(data), tmp_path, data_dir=mnist_dir)


@pytest.mark.parametrize("changes, named", [
    ({"gradual_sparsity": 0.9, "gradual_interval": 1_000_000}, "gradual_interval"),
    ({"validation": 60_000}, "validation"),
])
def test_what_needs_the_data_is_checked_before_anything_trains(tmp_path, mnist_dir, changes, named):
    from tdnumpy.experiments.sweep_config import SweepConfigError
    data = {"name": "early", "base": {"model": "lenet300", "dataset": "mnist", "epochs": 2, **changes},
            "variants": [{"label": "a"}], "prune": [{"kind": "weight", "fractions": [0.0]}]}
    with pytest.raises(SweepConfigError, match=rf"variants\['a'\].*{named}"):
        sweep(sweep_config(data), tmp_path / "out", data_dir=mnist_dir)
    assert not list((tmp_path / "out").glob("runs/*"))


def test_the_csv_is_the_same_with_one_job(tiny, tmp_path, mnist_dir):
    path, reference = tiny
    sweep(path, tmp_path, jobs=1, data_dir=mnist_dir)
    assert (tmp_path / "results.csv").read_bytes() == reference


def test_two_sweeps_never_write_one_folder_and_a_dead_ones_lock_is_taken_over(tmp_path, mnist_dir):
    from tdnumpy._validation import ParameterError
    data = {"name": "lock", "base": {"model": "lenet300", "dataset": "mnist", "epochs": 1, "train_images": 200,
                                     "test_images": 100},
            "variants": [{"label": "a"}], "prune": [{"kind": "weight", "fractions": [0.0]}]}
    lock = tmp_path / ".sweep.lock"
    lock.write_text(str(os.getpid()))  # a live process holds it
    with pytest.raises(ParameterError, match=r"another sweep \(process \d+\) is writing there"):
        sweep(sweep_config(data), tmp_path, data_dir=mnist_dir)
    assert not list(tmp_path.glob("runs/*"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)
    lock.write_text(gone.stdout.strip())  # a process that has ended
    assert len(sweep(sweep_config(data), tmp_path, data_dir=mnist_dir)) == 1
    assert not lock.exists()

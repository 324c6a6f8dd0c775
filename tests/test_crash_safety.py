"""Crash safety: a child process rewrites a checkpoint, a pruning table
(prune.csv, prune.json) and a sparse export over and over, each version i
filled with the value i; it is SIGKILLed at random moments (seeded). After
each kill every file reads back whole and valid as one complete version
(never half-written, never a mix), and the next write leaves no stray
temporary file behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tdnumpy.experiments.prune_runs import write_prune_table
from tdnumpy.nn.models import build_model
from tdnumpy.pruning.sparse import export_model, import_model
from tdnumpy.training.checkpoint import load_checkpoint, save_checkpoint

KILLS = 8
SPEC = "mlp:784-64-10"

WRITER = textwrap.dedent(f"""
    import sys
    from pathlib import Path
    from tdnumpy.experiments.prune_runs import write_prune_table
    from tdnumpy.nn.models import build_model
    from tdnumpy.pruning.sparse import export_model
    from tdnumpy.training.checkpoint import save_checkpoint
    sys.path.insert(0, {str(__file__.rsplit("/", 1)[0])!r})
    from test_crash_safety import fill, rows_of
    folder = Path(sys.argv[1])
    model = build_model({SPEC!r}, seed=0)
    i = int(sys.argv[2])
    print("ready", flush=True)
    while True:
        fill(model, i)
        save_checkpoint(folder / "checkpoint.npz", model, epoch=i)
        write_prune_table(folder, "weight", rows_of(i))
        export_model(model, folder / "sparse.npz")
        i += 1
""")


def fill(model, i: int) -> None:
    for p in model.parameters():
        p.value[...] = i


def rows_of(i: int) -> list[dict]:
    return [{"fraction": 0.5, "sparsity": 0.5, "test_accuracy": i / 1000, "test_loss": float(i),
             "parameters_left": i, "parameters": 100, "dense_bytes": 400, "compressed_bytes": 200,
             "checkpoint": None, "layers": {}}]


def _version_of_model(model) -> int:
    values = {float(v) for p in model.parameters() for v in np.unique(p.value)}
    assert len(values) == 1, f"a mix of versions: {sorted(values)[:5]}"
    return int(values.pop())


def _versions(folder) -> dict[str, int]:
    model, meta = load_checkpoint(folder / "checkpoint.npz")
    checkpoint = _version_of_model(model)
    assert meta["epoch"] == checkpoint
    table = json.loads((folder / "prune.json").read_text())
    csv_lines = (folder / "prune.csv").read_text().splitlines()
    assert len(csv_lines) == 2 and csv_lines[0].startswith("fraction,")
    return {"checkpoint": checkpoint, "prune.json": table["rows"][0]["parameters_left"],
            "prune.csv": int(csv_lines[1].split(",")[3]),
            "sparse": _version_of_model(import_model(folder / "sparse.npz")[0])}


def test_sigkill_mid_write_leaves_every_file_whole_and_no_stray_after_the_next_write(tmp_path):
    rng = np.random.default_rng(7)
    model = build_model(SPEC, seed=0)
    fill(model, 0)  # version 0 written here, so every file exists before the first kill
    save_checkpoint(tmp_path / "checkpoint.npz", model, epoch=0)
    write_prune_table(tmp_path, "weight", rows_of(0))
    export_model(model, tmp_path / "sparse.npz")
    start, strays_seen, child_versions = 1, 0, 0
    for _ in range(KILLS):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(start)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.02, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
        versions = _versions(tmp_path)
        newest = max(versions.values())
        child_versions += max(0, newest - start + 1)
        # written in the order checkpoint, csv, json, sparse: each is its version or one behind
        assert all(newest - 1 <= v <= newest for v in versions.values()), versions
        strays_seen += len([f for f in tmp_path.iterdir() if f.name.endswith(".tmp")])
        start = newest + 1

        fill(model, start)  # the next run writes each file once
        save_checkpoint(tmp_path / "checkpoint.npz", model, epoch=start)
        write_prune_table(tmp_path, "weight", rows_of(start))
        export_model(model, tmp_path / "sparse.npz")
        assert not [f.name for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
        assert set(_versions(tmp_path).values()) == {start}
        start += 1
    assert child_versions > 0  # the children were killed while writing, not before
    print(f"{child_versions} versions written by {KILLS} children, {strays_seen} temporaries left by the kills, "
          f"all removed by the next write")


@pytest.mark.parametrize("name", ["checkpoint.npz", "sparse.npz"])
def test_a_half_written_archive_is_never_read_as_valid(tmp_path, name):
    """Every truncation of a whole file (what a non-atomic write could leave) is refused."""
    model = build_model("mlp:20-8-4", seed=0)
    path = tmp_path / name
    if name == "checkpoint.npz":
        save_checkpoint(path, model)
        read, error = load_checkpoint, ValueError
    else:
        export_model(model, path)
        read, error = import_model, ValueError
    data = path.read_bytes()
    for length in range(0, len(data), 7):
        path.write_bytes(data[:length])
        with pytest.raises(error, match=str(path)):
            read(path)

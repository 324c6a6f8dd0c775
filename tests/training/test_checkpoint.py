"""Checkpoints (tdnumpy.training.checkpoint): round trip, atomic writes, and clear errors for corrupt or mismatched files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from tdnumpy.nn.models import build_model
from tdnumpy.training.checkpoint import CheckpointError, load_checkpoint, load_into, read_checkpoint, save_checkpoint


@pytest.fixture
def saved(tmp_path, rng):
    model = build_model("mlp:20-10-5", seed=1)
    for p in model.parameters():
        p.value[...] = rng.standard_normal(p.shape)
    keep = rng.random((20, 10)) < 0.3
    model.named_parameters()["fc1.weight"].set_mask(keep)
    path = save_checkpoint(tmp_path / "run" / "ck.npz", model, seed=1, epoch=7, metrics={"test_accuracy": 0.5})
    return model, path, keep


def test_round_trip_restores_values_masks_and_metadata(saved):
    model, path, keep = saved
    loaded, meta = load_checkpoint(path)
    assert meta["spec"] == "mlp:20-10-5" and meta["epoch"] == 7 and meta["seed"] == 1
    assert meta["metrics"] == {"test_accuracy": 0.5} and meta["dtype"] == "float32"
    for (name, p), q in zip(model.named_parameters().items(), loaded.parameters()):
        assert p.value.tobytes() == q.value.tobytes(), name
    restored = loaded.named_parameters()["fc1.weight"].mask
    np.testing.assert_array_equal(restored, keep)
    assert loaded.named_parameters()["fc2.weight"].mask is None


def test_write_is_atomic_and_leaves_no_temporary_files(saved):
    _, path, _ = saved
    assert [p.name for p in path.parent.iterdir()] == ["ck.npz"]


def test_failed_write_keeps_the_previous_checkpoint(saved, monkeypatch):
    model, path, _ = saved
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, epoch=8)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["ck.npz"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_file_raises_naming_it(saved, damage):
    _, path, _ = saved
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a zip" * 100, "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="not a readable checkpoint archive") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "absent.npz")


def test_pickled_objects_are_refused(tmp_path):
    """Refused from the npy header, before NumPy could unpickle anything."""
    path = tmp_path / "evil.npz"
    meta = save_checkpoint(tmp_path / "good.npz", build_model("mlp:20-16-8-4"))
    with np.load(meta) as good:
        record = good["meta.json"]
    np.savez(path, **{"meta.json": record, "param/x": np.array([object()], dtype=object)})
    with pytest.raises(CheckpointError, match=r"not a readable checkpoint archive \(entry 'param/x.npy' holds "
                                              "Python objects"):
        read_checkpoint(path)
    np.savez(path, **{"param/x": np.array([object()], dtype=object)})
    with pytest.raises(CheckpointError, match="no meta.json record"):
        read_checkpoint(path)


def test_archive_without_metadata_or_with_bad_metadata(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(CheckpointError, match="no meta.json record"):
        load_checkpoint(path)
    np.savez(path, **{"meta.json": np.frombuffer(b"{broken", np.uint8)})
    with pytest.raises(CheckpointError, match="meta.json record is corrupt"):
        load_checkpoint(path)
    meta = json.dumps({"format": "tdnumpy-checkpoint", "version": 99}).encode()
    np.savez(path, **{"meta.json": np.frombuffer(meta, np.uint8)})
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(path)


def test_mismatched_model_is_a_clear_error(saved):
    _, path, _ = saved
    with pytest.raises(CheckpointError, match=r"the checkpoint is of model 'mlp:20-10-5', not 'mlp:20-10-5:tanh'"):
        load_into(build_model("mlp:20-10-5:tanh"), path)
    with pytest.raises(CheckpointError, match=r"not 'mlp:20-11-5'"):
        load_into(build_model("mlp:20-11-5"), path)
    anonymous = build_model("mlp:20-11-5")
    anonymous.spec = None  # a hand-built network: only names and shapes can be compared
    with pytest.raises(CheckpointError, match=r"parameter 'fc1.weight' has shape \(20, 10\) in the checkpoint "
                                              r"but \(20, 11\)"):
        load_into(anonymous, path)
    deeper = build_model("mlp:20-10-5-5")
    deeper.spec = None
    with pytest.raises(CheckpointError, match=r"missing \['fc3.bias', 'fc3.weight'\]"):
        load_into(deeper, path)


def test_float32_checkpoint_loads_into_a_float64_model(saved):
    model, path, _ = saved
    wide = build_model("mlp:20-10-5", dtype=np.float64)
    load_into(wide, path)
    np.testing.assert_array_equal(wide.named_parameters()["fc2.weight"].value,
                                  model.named_parameters()["fc2.weight"].value.astype(np.float64))


def test_reserved_metadata_keys_are_refused(saved, tmp_path):
    model, _, _ = saved
    with pytest.raises(ValueError, match=r"do not pass \['spec'\]"):
        save_checkpoint(tmp_path / "x.npz", model, spec="lenet300")


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as archive:
        contents = {k: archive[k] for k in archive.files}
    contents.update(changes)
    np.savez(path, **contents)


@pytest.mark.parametrize("changes, match", [
    ({"junk": np.zeros(2)}, r"unexpected entries \['junk'\]"),
    ({"mask/fc9.weight": np.ones(3, bool)}, r"masks for parameters that are not in the checkpoint: \['fc9.weight'\]"),
    ({"param/fc1.bias": np.array(["a"] * 10)}, "'fc1.bias' is stored as <U1, not as floats"),
    ({"mask/fc2.weight": np.ones((10, 5), np.int8)}, "the mask of 'fc2.weight' must be boolean"),
    ({"meta.json": np.frombuffer(b"[1, 2]", np.uint8)}, "meta.json format 'list'"),
])
def test_tampered_archives_are_refused(saved, changes, match):
    _, path, _ = saved
    _rewrite(path, **changes)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


def test_non_finite_values_are_refused(saved):
    model, path, _ = saved
    model.named_parameters()["fc2.bias"].value[0] = np.nan
    save_checkpoint(path, model)
    with pytest.raises(CheckpointError, match="'fc2.bias' holds NaN"):
        load_checkpoint(path)


def test_archive_is_a_plain_npz(saved):
    _, path, _ = saved
    with zipfile.ZipFile(path) as z:
        names = sorted(z.namelist())
    assert names == ["mask/fc1.weight.npy", "meta.json.npy", "param/fc1.bias.npy", "param/fc1.weight.npy",
                     "param/fc2.bias.npy", "param/fc2.weight.npy"]

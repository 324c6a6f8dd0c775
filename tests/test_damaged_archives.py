"""Byte-flip fuzzing of the files tdnumpy reads back: a checkpoint and a sparse
export with one byte changed either load (the byte was in a value, or in a
part the readers do not use) or fail with the file's own error type
(CheckpointError / SparseFormatError, both ValueErrors) naming the file;
never another exception type, and never a model of another shape.

Per CI run: every byte of the zip directory, local headers, npy headers and
meta.json of each file (where a flip changes structure), plus 400 seeded
random positions in each file, each flipped to a random other value: 2,345
checkpoint loads and 2,927 sparse imports (about 7 s). Before the reader
checked headers, flips escaped as NotImplementedError (zip version) among
others. The command-line readers turn these errors into one line (tests/cli)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from tdnumpy.nn.models import build_model
from tdnumpy.pruning import masking as pruning
from tdnumpy.pruning.sparse import SparseFormatError, export_model, import_model
from tdnumpy.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

RANDOM_FLIPS = 400


def _structural_positions(data: bytes) -> list[int]:
    """Offsets of every byte that is not array payload: zip headers and
    directory, npy headers and the JSON entry."""
    with zipfile.ZipFile(_bytes_io(data)) as z:
        infos = z.infolist()
    positions = set(range(data.rfind(b"PK\x01\x02") - 100 if b"PK\x01\x02" in data else 0, len(data)))
    for info in infos:
        start = info.header_offset
        header = 30 + len(info.filename.encode()) + len(info.extra)
        payload = 128 if info.filename.endswith(".npy") else info.compress_size  # npy header, or all JSON
        positions.update(range(start, min(len(data), start + header + payload)))
    return sorted(p for p in positions if 0 <= p < len(data))


def _bytes_io(data):
    return io.BytesIO(data)


def _flips(data: bytes, seed: int):
    rng = np.random.default_rng(seed)
    positions = _structural_positions(data) + list(rng.integers(0, len(data), RANDOM_FLIPS))
    for position in positions:
        value = (data[position] + int(rng.integers(1, 256))) % 256
        yield position, data[:position] + bytes([value]) + data[position + 1:]


@pytest.fixture(scope="module")
def model():
    network = build_model("mlp:20-12-6-4", seed=0)
    pruning.prune(network, "weight", 0.6, ["fc1", "fc2", "fc3"])
    return network


def _check_flips(model, good, read, error, seed: int) -> None:
    """Every flip of ``good`` either reads back (``read(path)[0]``, a model of
    ``model``'s shapes) or raises ``error`` naming the file."""
    target = good.with_name("flipped.npz")
    outcomes = {"loaded": 0, "refused": 0}
    for position, flipped in _flips(good.read_bytes(), seed):
        target.write_bytes(flipped)
        try:
            loaded = read(target)[0]
        except error as e:
            assert str(target) in str(e), (position, e)
            outcomes["refused"] += 1
            continue
        except Exception as e:  # noqa: BLE001 (the point of the test)
            pytest.fail(f"flipping byte {position} gave {type(e).__name__}: {e}")
        assert [p.value.shape for p in loaded.parameters()] == [p.value.shape for p in model.parameters()]
        outcomes["loaded"] += 1
    assert outcomes["refused"] > 100 and sum(outcomes.values()) > 600, outcomes


def test_a_flipped_checkpoint_loads_or_says_which_file_is_damaged(model, tmp_path):
    good = save_checkpoint(tmp_path / "good.npz", model, seed=0, config={"model": "mlp:20-12-6-4"})
    _check_flips(model, good, load_checkpoint, CheckpointError, seed=1)


def test_a_flipped_sparse_export_imports_or_says_which_file_is_damaged(model, tmp_path):
    export_model(model, tmp_path / "good.npz")
    _check_flips(model, tmp_path / "good.npz", import_model, SparseFormatError, seed=2)


def _rewrite(source, target, replace: dict[str, bytes]):
    """A copy of the archive ``source`` with entries replaced or added (name -> raw bytes)."""
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(target, "w") as out:
        for info in z.infolist():
            out.writestr(info.filename, replace.pop(info.filename, z.read(info)))
        for name, data in replace.items():
            out.writestr(name, data)


def _npy_declaring(shape, payload=b"\0" * 64) -> bytes:
    f = _bytes_io(b"")
    np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return f.getvalue() + payload


@pytest.mark.parametrize("entry, match", [
    ("param/fc1.weight.npy", r"entry 'param/fc1.weight.npy' declares shape \(100000, 100000\) of float32 "
                             r"\(40,000,000,000 bytes\) but holds 192 bytes"),
    ("junk.npy", r"unexpected entries \['junk'\]"),
])
def test_a_small_file_cannot_make_the_reader_allocate_gigabytes(model, tmp_path, entry, match):
    """An npy header declaring 40 GB in a 192-byte entry, or an entry that
    should not be there, is refused before any array is read (peak traced
    memory under 1 MB)."""
    import tracemalloc
    good = save_checkpoint(tmp_path / "good.npz", model)
    bad = tmp_path / "bad.npz"
    _rewrite(good, bad, {entry: _npy_declaring((100_000, 100_000))})
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=match):
            load_checkpoint(bad)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, peak

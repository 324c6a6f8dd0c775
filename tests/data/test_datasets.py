"""Dataset look-up order, verification, validation split, and the errors for missing data."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tdnumpy.data import (FILES, DataNotFoundError, IDXError, cache_dir, load_dataset, locate, sha256_of_payload,
                          to_inputs, write_idx)
from tdnumpy.data.datasets import DATASETS, candidate_folders
from tdnumpy.data.idx import read_bytes

from conftest import OFFLINE_MIRROR

UNREACHABLE = [OFFLINE_MIRROR]


def make_fake_dataset(folder, n_train=20, n_test=8, seed=0, gz=False):
    """Write four small valid IDX files; return their payload SHA-256 pins."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    pins = {}
    for stem, array in arrays.items():
        path = write_idx(folder / (stem + (".gz" if gz else "")), array)
        pins[stem] = sha256_of_payload(path)
    return arrays, pins


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("TDNUMPY_DATA", raising=False)


def test_missing_data_folder_is_a_clear_error(tmp_path, no_env):
    with pytest.raises(DataNotFoundError, match=f"The data folder {tmp_path / 'nowhere'} .* does not exist"):
        load_dataset("mnist", tmp_path / "nowhere")


def test_missing_env_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TDNUMPY_DATA", str(tmp_path / "gone"))
    with pytest.raises(DataNotFoundError, match=r"named by \$TDNUMPY_DATA does not exist"):
        load_dataset("mnist")


def test_offline_without_files_says_where_to_put_them(tmp_path, no_env):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("mnist", empty, mirrors=UNREACHABLE)
    message = str(info.value)
    assert str(empty) in message and str(cache_dir() / "mnist") in message
    assert "train-images-idx3-ubyte" in message and "TDNUMPY_DATA" in message
    assert "The download failed" in message and "127.0.0.1:9" in message
    assert not list((cache_dir() / "mnist").glob("*")), "a failed download left files behind"
    with pytest.raises(DataNotFoundError, match="Put the four files"):
        load_dataset("mnist", empty, download=False)


def test_lookup_order_data_dir_then_env_then_cache(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "mnist").mkdir(parents=True)
    second.mkdir()
    make_fake_dataset(first / "mnist", seed=1)
    make_fake_dataset(second, seed=2, gz=True)
    (cache_dir() / "mnist").mkdir(parents=True)
    make_fake_dataset(cache_dir() / "mnist", seed=3)
    monkeypatch.setenv("TDNUMPY_DATA", str(second))
    assert locate("mnist", first, verify=False)[FILES[0]] == first / "mnist" / FILES[0]
    assert locate("mnist", verify=False)[FILES[0]] == second / f"{FILES[0]}.gz"
    monkeypatch.delenv("TDNUMPY_DATA")
    assert locate("mnist", verify=False)[FILES[0]] == cache_dir() / "mnist" / FILES[0]
    origins = [origin for origin, _ in candidate_folders("fashion-mnist", first)]
    assert origins == ["--data-dir"] * 2 + ["cache"] * 2 + ["system"]


def test_incomplete_folder_is_skipped(tmp_path, monkeypatch):
    partial, full = tmp_path / "partial", tmp_path / "full"
    partial.mkdir()
    full.mkdir()
    make_fake_dataset(partial)
    (partial / FILES[3]).unlink()
    make_fake_dataset(full)
    monkeypatch.setenv("TDNUMPY_DATA", str(full))
    assert locate("mnist", partial, download=False, verify=False)[FILES[0]] == full / FILES[0]
    monkeypatch.delenv("TDNUMPY_DATA")
    with pytest.raises(DataNotFoundError):
        locate("mnist", partial, download=False, verify=False)


def test_verification_rejects_a_non_standard_file(tmp_path, no_env):
    make_fake_dataset(tmp_path)
    with pytest.raises(DataNotFoundError, match="Files found but rejected") as info:
        load_dataset("mnist", tmp_path, download=False)
    assert f"{tmp_path / FILES[0]}: SHA-256 of the decompressed payload is" in str(info.value)
    assert "expected ba8910" in str(info.value)
    data = load_dataset("mnist", tmp_path, verify=False)
    assert len(data.train) == 20 and len(data.test) == 8


def test_folder_with_other_files_is_skipped_for_the_next(tmp_path, mnist_dir, monkeypatch):
    """Both datasets use the same file names: a --data-dir holding other files
    (here random ones) is passed over for the next folder with the real MNIST."""
    make_fake_dataset(tmp_path)
    monkeypatch.setenv("TDNUMPY_DATA", str(mnist_dir))
    notes = []
    paths = locate("mnist", tmp_path, download=False, log=notes.append)
    assert paths[FILES[0]].parent == mnist_dir
    assert notes == [f"skipping {tmp_path} (--data-dir): its files are not the standard mnist files"]


def test_a_damaged_folder_is_skipped_for_the_next(tmp_path, mnist_dir, monkeypatch):
    """Issue 18: one folder with a truncated file stopped the whole look-up although
    $TDNUMPY_DATA held good files."""
    make_fake_dataset(tmp_path)
    first = tmp_path / f"{FILES[0]}.gz"
    (tmp_path / FILES[0]).unlink(missing_ok=True)
    first.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 6)  # a gzip header and nothing after it
    monkeypatch.setenv("TDNUMPY_DATA", str(mnist_dir))
    notes = []
    paths = locate("mnist", tmp_path, download=False, log=notes.append)
    assert paths[FILES[0]].parent == mnist_dir and notes[0].startswith(f"skipping {tmp_path} (--data-dir)")


def test_rejected_files_say_what_the_command_line_and_python_accept(tmp_path, no_env):
    """Issue 18: the message told command-line users to 'pass verify=False', which is no flag."""
    make_fake_dataset(tmp_path)
    with pytest.raises(DataNotFoundError, match=r"the command line uses only the standard files; from Python, "
                                                r"load_dataset\(..., verify=False\) accepts others"):
        load_dataset("mnist", tmp_path, download=False)


def test_validation_split_takes_the_last_images(tmp_path, no_env):
    arrays, _ = make_fake_dataset(tmp_path, n_train=30)
    data = load_dataset("mnist", tmp_path, verify=False, validation=12)
    assert len(data.train) == 18 and len(data.validation) == 12
    np.testing.assert_array_equal(data.validation.images, arrays["train-images-idx3-ubyte"][18:])
    np.testing.assert_array_equal(data.train.labels, arrays["train-labels-idx1-ubyte"][:18])
    with pytest.raises(ValueError, match=r"'validation' parameter of load_dataset must be an int in the range \[0, 29\]"):
        load_dataset("mnist", tmp_path, verify=False, validation=30)


def test_mismatched_or_invalid_files_are_named(tmp_path, no_env):
    make_fake_dataset(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(19, np.uint8))
    with pytest.raises(ValueError, match="holds 20 images but .*train-labels-idx1-ubyte holds 19 labels"):
        load_dataset("mnist", tmp_path, verify=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(20, 10, np.uint8))
    with pytest.raises(ValueError, match="labels must be in 0..9, found 10"):
        load_dataset("mnist", tmp_path, verify=False)


def test_unknown_dataset():
    with pytest.raises(ValueError, match=r"The dataset \('name', 'dataset' or --dataset\) must be one of 'mnist', 'fashion-mnist'"):
        locate("cifar10")


def test_to_inputs_scales_to_unit_interval():
    images = np.array([[[0, 255], [51, 102]]], np.uint8)
    x = to_inputs(images, (4,))
    assert x.dtype == np.float32 and x.shape == (1, 4)
    np.testing.assert_allclose(x, [[0, 1, 0.2, 0.4]], rtol=1e-6)


def test_pins_match_the_shared_checksums(mnist_dir):
    """The pins in the code are the ones published beside the data."""
    sums = dict(line.split()[::-1] for line in (mnist_dir / "SHA256SUMS").read_text().splitlines() if line.strip())
    assert DATASETS["mnist"].sha256 == sums


def test_real_mnist_verifies(mnist_dir):
    for stem, path in locate("mnist", mnist_dir, download=False).items():
        assert hashlib.sha256(read_bytes(path)).hexdigest() == DATASETS["mnist"].sha256[stem]


def test_to_inputs_rejects_a_model_of_another_input_size():
    with pytest.raises(ValueError, match=r"'input_shape' parameter of to_inputs, \(100,\) \(100 values each\), does "
                                         r"not fit the 'images' of shape \(28, 28\) \(784 values each\)"):
        to_inputs(np.zeros((3, 28, 28), np.uint8), (100,))


def test_a_gzip_that_unpacks_to_hundreds_of_megabytes_is_rejected_in_bounded_memory(tmp_path, monkeypatch):
    """Four .gz files of about 250 kB that each unpack to 256 MiB of zeros (an
    IDX header declaring that much): the pin check hashes them as streams and
    rejects the folder with a peak traced memory under 16 MiB (reading a
    payload whole first took 256 MiB and more)."""
    import gzip
    import tracemalloc
    monkeypatch.delenv("TDNUMPY_DATA", raising=False)
    folder = tmp_path / "bombs"
    folder.mkdir()
    block = bytes(1 << 20)
    with gzip.open(folder / f"{FILES[0]}.gz", "wb", compresslevel=1) as f:
        f.write(b"\x00\x00\x08\x01" + (256 << 20).to_bytes(4, "big"))
        for _ in range(256):
            f.write(block)
    for stem in FILES[1:]:
        (folder / f"{stem}.gz").write_bytes((folder / f"{FILES[0]}.gz").read_bytes())
    tracemalloc.start()
    try:
        with pytest.raises(DataNotFoundError, match="SHA-256 of the decompressed payload"):
            load_dataset("mnist", folder, download=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak


def test_a_payload_that_cannot_be_opened_is_an_idx_error_naming_it(tmp_path):
    """A folder where a file should be: the streamed hash says which path, not UnboundLocalError."""
    with pytest.raises(IDXError, match=rf"{tmp_path}: cannot be read"):
        sha256_of_payload(tmp_path)

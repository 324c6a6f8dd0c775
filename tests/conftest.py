"""Shared fixtures.

Every test runs with its own empty user cache (``$XDG_CACHE_HOME`` points into
a temporary folder), so no test reads or writes ``~/.cache/tdnumpy``, and with
the public mirrors replaced by an address where nothing listens, so no test
reaches the internet by accident (the download tests pass local mirrors). Tests
that need the real MNIST files take the ``mnist_dir`` fixture, which skips
them with a reason when ``$TDNUMPY_DATA`` does not hold MNIST.

Under pytest-xdist (the README's test command runs two workers) each worker's
BLAS gets one thread unless ``$OPENBLAS_NUM_THREADS`` says otherwise: two
workers with two spinning BLAS threads each on two cores ran the training
tests up to three times slower. This must happen before NumPy is imported.
"""

from __future__ import annotations

import os
import sys

if os.environ.get("PYTEST_XDIST_WORKER") and "numpy" not in sys.modules:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import dataclasses  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tdnumpy.data import DATASETS, FILES  # noqa: E402
from tdnumpy.data.datasets import find_file  # noqa: E402

DATA_ROOT = os.environ.get("TDNUMPY_DATA")


OFFLINE_MIRROR = "http://127.0.0.1:9/"  # the discard port: connection refused at once


@pytest.fixture(autouse=True)
def _isolated_cache_and_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for name, info in DATASETS.items():
        monkeypatch.setitem(DATASETS, name, dataclasses.replace(info, mirrors=(OFFLINE_MIRROR,)))


def _mnist_folder() -> Path | None:
    if not DATA_ROOT:
        return None
    for folder in (Path(DATA_ROOT) / "mnist", Path(DATA_ROOT)):
        if all(find_file(folder, stem) for stem in FILES):
            return folder
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = _mnist_folder()
    if folder is None:
        pytest.skip("real MNIST not found: set TDNUMPY_DATA to a folder holding mnist/ "
                    "(the four IDX files, plain or .gz)")
    return folder


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from tdnumpy.data import load_dataset

    return load_dataset("mnist", mnist_dir)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)

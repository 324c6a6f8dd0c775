"""A small synthetic dataset shaped like MNIST, for tests that must run
without the real files: 28 x 28 uint8 images whose label is the brightest of
ten horizontal bands, so that a network can learn something in one epoch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tdnumpy.data import Dataset, Split


def _split(rng: np.random.Generator, n: int) -> Split:
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 64, (n, 28, 28)).astype(np.uint8)
    rows = 2 + 2 * labels.astype(np.int64)  # band k covers rows 2 + 2k, 3 + 2k
    images[np.arange(n), rows] = 255
    images[np.arange(n), rows + 1] = 255
    return Split(images, labels)


def synthetic_dataset(name: str = "mnist", *, train: int = 600, test: int = 200, validation: int = 0,
                      seed: int = 0) -> Dataset:
    """A Dataset of ``train`` training images (the last ``validation`` of them
    held out as a validation split) and ``test`` test images."""
    rng = np.random.default_rng(seed)
    full, test_split = _split(rng, train), _split(rng, test)
    keep = train - validation
    held_out = Split(full.images[keep:], full.labels[keep:]) if validation else None
    return Dataset(name, Split(full.images[:keep], full.labels[:keep]), test_split, held_out, Path("synthetic"))

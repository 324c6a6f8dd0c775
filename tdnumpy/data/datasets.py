"""MNIST and Fashion-MNIST: where the files are looked for, how they are
fetched and verified, and how they become training arrays.

Look-up order for a dataset called NAME (each folder is tried as ``DIR/NAME/``
and then as ``DIR/`` itself; a file may be stored plain or as ``.gz``):

1. ``data_dir`` (the ``--data-dir`` option), when given;
2. ``$TDNUMPY_DATA``, when set;
3. the user cache, ``$XDG_CACHE_HOME/tdnumpy`` (default ``~/.cache/tdnumpy``);
4. for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist``.

The first folder holding all four files *with the pinned SHA-256 payloads*
wins; a folder whose files do not match is skipped (both datasets use the same
file names). If none matches, the four files are downloaded into the cache
from public mirrors, tried in turn, and kept only when the SHA-256 of the
decompressed payload matches the pin below. ``verify=False`` accepts the first
folder with all four files, for your own IDX files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._validation import check_bool, check_float_dtype, check_int, check_path
from .download import DownloadError, download_verified
from .idx import IDXError, parse_idx, read_bytes, sha256_of_payload

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    sha256: dict
    mirrors: tuple
    system_dirs: tuple = ()
    image_shape: tuple = (28, 28)  # of every image
    classes: int = 10  # labels 0 .. classes - 1


DATASETS = {
    "mnist": DatasetInfo(
        name="mnist",
        sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
    ),
    "fashion-mnist": DatasetInfo(
        name="fashion-mnist",
        sha256={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
}


class DataNotFoundError(FileNotFoundError):
    """The dataset is in none of the folders looked in and could not be downloaded."""


@dataclass(frozen=True)
class Split:
    """Images (n, 28, 28) uint8 and labels (n,) uint8 of one part of a dataset."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split
    validation: Split | None
    folder: Path


def _info(name: str) -> DatasetInfo:
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(
            f"The dataset ('name', 'dataset' or --dataset) must be one of "
            f"{', '.join(map(repr, DATASETS))}. Got {name!r} instead."
        )
    return DATASETS[name]


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/tdnumpy``, or ``~/.cache/tdnumpy``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tdnumpy"


def find_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` or ``folder/stem.gz``, whichever exists (plain first)."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def candidate_folders(name: str, data_dir=None) -> list[tuple[str, Path]]:
    """The folders looked in, in order, each with where it came from."""
    info = _info(name)
    roots = []
    if data_dir is not None:
        data_dir = check_path(data_dir, "data_dir", "the data look-up")
        if not data_dir.is_dir():
            raise DataNotFoundError(f"The data folder {data_dir} (data_dir / --data-dir) does not exist.")
        roots.append(("--data-dir", data_dir))
    env = os.environ.get("TDNUMPY_DATA")
    if env:
        if not Path(env).is_dir():
            raise DataNotFoundError(f"The data folder {env} named by $TDNUMPY_DATA does not exist.")
        roots.append(("$TDNUMPY_DATA", Path(env)))
    roots.append(("cache", cache_dir()))
    folders = []
    for origin, root in roots:
        folders += [(origin, root / name), (origin, root)]
    folders += [("system", Path(d)) for d in info.system_dirs]
    return folders


def _payloads(paths: dict, info: DatasetInfo, verify: bool) -> tuple[dict, list]:
    """Read the four payloads; with ``verify``, first the list of files whose
    SHA-256 does not match the pin (hashed as a stream, so a file that
    decompresses to gigabytes is rejected without being held), and no
    payloads if it is not empty."""
    if verify:
        digests = {stem: sha256_of_payload(path) for stem, path in paths.items()}
        bad = [
            f"{paths[stem]}: SHA-256 of the decompressed payload is {digest}, expected {info.sha256[stem]}"
            for stem, digest in digests.items()
            if digest != info.sha256[stem]
        ]
        if bad:
            return {}, bad
    return {stem: read_bytes(path) for stem, path in paths.items()}, []


def _find(name: str, data_dir, *, download: bool, verify: bool, mirrors, log) -> tuple[dict, dict]:
    """(paths, payloads) of the first folder whose four files are present and
    (with ``verify``) match their pins, downloading into the cache if none does.

    A folder whose files do not match the pins is skipped with a note (it may
    hold the other dataset, whose files have the same names, or a damaged copy).
    """
    info = _info(name)
    download, verify = check_bool(download, "download", "locate"), check_bool(verify, "verify", "locate")
    folders = candidate_folders(name, data_dir)
    rejected = []
    for origin, folder in folders:
        paths = {stem: find_file(folder, stem) for stem in FILES}
        if not all(paths.values()):
            continue
        try:
            payloads, bad = _payloads(paths, info, verify)
        except (IDXError, OSError) as e:  # a damaged copy: the next folder may hold good files
            payloads, bad = {}, [str(e)]
        if not bad:
            return paths, payloads
        rejected += bad
        if log:
            log(f"skipping {folder} ({origin}): its files are not the standard {name} files")
    where = "\n  ".join(f"{folder} ({origin})" for origin, folder in folders)
    advice = (
        f"Looked for {name} in:\n  {where}\n"
        f"Put the four files {', '.join(FILES)} (plain or .gz) in one of these folders, "
        f"point --data-dir or $TDNUMPY_DATA at a folder that holds them, "
        f"or run 'tdnumpy data fetch {name}' where there is internet access."
    )
    if rejected:
        advice += (
            "\nFiles found but rejected (the command line uses only the standard files; from Python, "
            "load_dataset(..., verify=False) accepts others):\n  " + "\n  ".join(rejected)
        )
    if not download:
        raise DataNotFoundError(advice)
    target = cache_dir() / name
    paths = {}
    for stem in FILES:
        try:
            paths[stem] = download_verified(f"{stem}.gz", mirrors or info.mirrors, target, info.sha256[stem], log=log)
        except DownloadError as e:
            raise DataNotFoundError(f"{advice}\nThe download failed: {e}") from e
    return paths, _payloads(paths, info, verify=False)[0]


def locate(
    name: str = "mnist", data_dir=None, *, download: bool = True, verify: bool = True, mirrors=None, log=None
) -> dict[str, Path]:
    """Paths of the four files of dataset ``name`` (see the module docstring for
    the look-up order), downloading them into the cache if needed."""
    return _find(name, data_dir, download=download, verify=verify, mirrors=mirrors, log=log)[0]


def _check_pair(images: np.ndarray, labels: np.ndarray, paths) -> None:
    img_path, lab_path = paths
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{img_path}: expected uint8 images of shape (n, rows, cols), got {images.dtype} {images.shape}."
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(f"{lab_path}: expected uint8 labels of shape (n,), got {labels.dtype} {labels.shape}.")
    if len(images) != len(labels):
        raise ValueError(f"{img_path} holds {len(images)} images but {lab_path} holds {len(labels)} labels.")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{lab_path}: labels must be in 0..9, found {int(labels.max())}.")


def load_dataset(
    name: str = "mnist",
    data_dir=None,
    *,
    validation: int = 0,
    download: bool = True,
    verify: bool = True,
    mirrors=None,
    log=None,
) -> Dataset:
    """Load ``mnist`` or ``fashion-mnist`` as uint8 arrays.

    ``validation`` moves the *last* ``validation`` training images into a
    separate validation split (5,000 is the usual choice for MNIST).
    ``verify=False`` accepts files that do not match the pinned SHA-256 (your
    own IDX files); they are still checked as IDX files.
    """
    paths, payloads = _find(name, data_dir, download=download, verify=verify, mirrors=mirrors, log=log)
    arrays = {stem: parse_idx(payloads[stem], source=paths[stem]) for stem in FILES}
    splits = {}
    for part in ("train", "t10k"):
        img, lab = f"{part}-images-idx3-ubyte", f"{part}-labels-idx1-ubyte"
        _check_pair(arrays[img], arrays[lab], (paths[img], paths[lab]))
        splits[part] = Split(arrays[img], arrays[lab])
    train = splits["train"]
    validation = check_int(validation, "validation", "load_dataset", low=0, high=len(train) - 1)
    val = None
    if validation:
        cut = len(train) - validation
        val = Split(train.images[cut:], train.labels[cut:])
        train = Split(train.images[:cut], train.labels[:cut])
    return Dataset(name, train, splits["t10k"], val, paths[FILES[0]].parent)


def to_inputs(images: np.ndarray, input_shape, dtype=np.float32) -> np.ndarray:
    """uint8 images -> float inputs in [0, 1] of shape (n, *input_shape).

    Parameters
    ----------
    images : ndarray of uint8, shape (n, ...)
        The images.
    input_shape : tuple of int
        The model's input shape; its product is the number of pixels of an image.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        The inputs' dtype.

    Returns
    -------
    ndarray of shape (n, *input_shape)
        images / 255.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        got = f"dtype {images.dtype}" if isinstance(images, np.ndarray) else type(images).__name__
        raise TypeError(f"The 'images' parameter of to_inputs must be a uint8 NumPy array. Got {got} instead.")
    if not isinstance(input_shape, (tuple, list)) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in input_shape
    ):
        raise TypeError(
            f"The 'input_shape' parameter of to_inputs must be a tuple of positive ints. Got {input_shape!r} instead."
        )
    dtype = check_float_dtype(dtype, "dtype", "to_inputs")
    size = int(np.prod(input_shape))
    if images.ndim < 2 or int(np.prod(images.shape[1:])) != size:
        raise ValueError(
            f"The 'input_shape' parameter of to_inputs, {tuple(input_shape)} ({size} values each), does "
            f"not fit the 'images' of shape {images.shape[1:]} "
            f"({int(np.prod(images.shape[1:]))} values each)."
        )
    x = images.reshape((len(images), *input_shape))
    return np.multiply(x, 1 / 255, dtype=dtype)

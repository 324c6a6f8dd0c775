"""Data: the IDX format, MNIST and Fashion-MNIST location, download and verification."""

from .datasets import DATASETS, FILES, DataNotFoundError, Dataset, Split, cache_dir, load_dataset, locate, to_inputs
from .download import DownloadError, download_verified
from .idx import IDXError, parse_idx, read_idx, sha256_of_payload, to_idx_bytes, write_idx

__all__ = [
    "DATASETS",
    "FILES",
    "DataNotFoundError",
    "Dataset",
    "DownloadError",
    "IDXError",
    "Split",
    "cache_dir",
    "download_verified",
    "load_dataset",
    "locate",
    "parse_idx",
    "read_idx",
    "sha256_of_payload",
    "to_idx_bytes",
    "to_inputs",
    "write_idx",
]

"""Atomic file writes: a temporary file in the same folder, then a rename.

A reader never sees a half-written file, and a crash leaves at worst a stray
temporary file (named ``.<name>.*.tmp``), never a truncated target.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_open(path, mode: str = "wb"):
    """Open a temporary file next to ``path``; on success rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_json(path, obj) -> None:
    with atomic_open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")


def read_archive(path, *, fmt: str, version: int, what: str, error: type[Exception]) -> tuple[dict, dict]:
    """Read a ``.npz`` archive of ours with ``allow_pickle=False``: (arrays, meta).

    ``meta`` is the JSON record stored as the uint8 array ``meta.json``, which
    must name format ``fmt`` at ``version``. Every problem raises ``error``
    with a message that names the file and says what is wrong with it
    (``what``: "checkpoint", "sparse model").
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file.") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise error(f"{path}: not a readable {what} archive ({type(e).__name__}: {e}).") from e
    if "meta.json" not in contents:
        raise error(f"{path}: not a tdnumpy {what} (no meta.json record).")
    try:
        meta = json.loads(contents.pop("meta.json").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: the meta.json record is corrupt ({e}).") from e
    found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
    if found != fmt:
        raise error(f"{path}: not a tdnumpy {what} (meta.json format {found!r}, expected {fmt!r}).")
    if meta.get("version") != version:
        raise error(f"{path}: {what} version {meta.get('version')!r}; this tdnumpy reads version {version}.")
    return contents, meta

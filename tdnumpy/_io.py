"""Atomic file writes: a temporary file in the same folder, then a rename.

A reader never sees a half-written file, and a crash leaves at worst a stray
temporary file (named ``.<name>.<pid>.*.tmp``), never a truncated target; the
next write of the same file removes the strays of processes that are gone. The file
gets the permissions ``open()`` would give it (0666 less the umask), or keeps
those of the file it replaces: ``mkstemp`` alone makes every file 0600, so a
colleague could not read shared results.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._validation import ParameterError


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def file_mode(path) -> int:
    """The permission bits a new file written to ``path`` should get.

    Parameters
    ----------
    path : str or os.PathLike
        The file about to be (re)written.

    Returns
    -------
    int
        The mode of the existing file at ``path``, or 0o666 less the process's
        umask for a new one, as ``open(path, "w")`` would create it.
    """
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def temporary_next_to(path, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new temporary file ``.<name>.*<suffix>`` in ``path``'s folder, with the
    permissions ``path`` will have (:func:`file_mode`).

    Parameters
    ----------
    path : pathlib.Path
        The file the temporary one will be renamed to.
    suffix : str, default=".tmp"
        The temporary file's suffix.

    Returns
    -------
    fd : int
        An open file descriptor (the caller closes it).
    tmp : pathlib.Path
        The temporary file.
    """
    remove_stale_temporaries(path, suffix)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=suffix)
    try:
        os.fchmod(fd, file_mode(path))
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, Path(tmp)


def remove_stale_temporaries(path, suffix: str = ".tmp") -> list[Path]:
    """Delete the temporary files ``.<name>.<pid>.*<suffix>`` next to ``path`` whose
    writing process no longer exists (killed mid-write).

    A temporary file is named after the process writing it, so only files of
    dead processes are removed; one still being written (another process,
    another thread of this one) is left alone. Files named otherwise (those of
    older tdnumpy versions, or of a file whose name extends this one's) are
    not touched.

    Parameters
    ----------
    path : pathlib.Path
        The target file.
    suffix : str, default=".tmp"
        The temporaries' suffix.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    prefix = f".{path.name}."
    removed = []
    for tmp in path.parent.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        parts = tmp.name[len(prefix):].split(".")  # <pid>.<mkstemp's 8 characters>.<suffix>: nothing else's
        if len(parts) == 3 and parts[0].isdigit() and f".{parts[2]}" == suffix and not _alive(int(parts[0])):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


@contextmanager
def atomic_open(path, mode: str = "wb"):
    """Open a temporary file next to ``path``; on success rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temporary_next_to(path)
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
    _check_zip(path, what, error)
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


def output_folder(out, files=()) -> Path:
    """Make the output folder now and try writing in it, so that a bad one fails
    before any work (not after the last epoch, losing the model).

    Parameters
    ----------
    out : str or os.PathLike
        The folder.
    files : iterable of str
        Names of files the work will write there; none may be a folder.

    Returns
    -------
    Path
        The folder, which exists and takes new files.

    Raises
    ------
    ParameterError
        If ``out`` is a file, a file cannot be created in it, or one of
        ``files`` there is a folder.
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ParameterError(f"`out` {path}: File exists and is not a folder.")
    path.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ParameterError(f"`out` {path}: cannot write there ({e.strerror or e}).") from None
    for name in files:
        if (path / name).is_dir():
            raise ParameterError(f"`out` {path}: {path / name} is a folder, so the {name} of the run cannot be "
                                 f"written.")
    return path


ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or an empty zip


def _check_zip(path: Path, what: str, error: type[Exception]) -> None:
    """Refuse, naming ``path``, anything but a regular file that starts like a zip
    archive: a FIFO or device would block the reader, and NumPy's own message
    for a text file suggests allow_pickle, which is never the answer here."""
    if not path.exists():
        raise error(f"{path}: no such {what} file.")
    if not path.is_file():
        raise error(f"{path}: not a readable {what} archive (not a regular file).")
    with open(path, "rb") as f:
        head = f.read(4)
    if head not in ZIP_SIGNATURES:
        raise error(f"{path}: not a readable {what} archive (.npz files are zip archives, starting with "
                    f"'PK'; this one starts with {head!r}).")

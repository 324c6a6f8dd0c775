"""Atomic file writes: a temporary file in the same folder, then a rename.

A reader never sees a half-written file, and a crash leaves at worst a stray
temporary file (named ``.<name>.<pid>.*.tmp``), never a truncated target; the
next write of the same file removes the strays of processes that are gone. The file
gets the permissions ``open()`` would give it (0666 less the umask), or keeps
those of the file it replaces: ``mkstemp`` alone makes every file 0600, so a
colleague could not read shared results.
"""

from __future__ import annotations

import errno
import glob
import json
import math
import os
import tempfile
import tokenize
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._validation import ParameterError, check_path


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
        parts = tmp.name[len(prefix) :].split(".")  # <pid>.<mkstemp's 8 characters>.<suffix>: nothing else's
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
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file to write", str(path))
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


# what a damaged archive can raise from zipfile, zlib and NumPy's npy reader
_DAMAGED = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    NotImplementedError,
    RuntimeError,
    SyntaxError,
    TypeError,
    OverflowError,
    MemoryError,
    UnicodeDecodeError,
    zipfile.BadZipFile,
    zlib.error,
    tokenize.TokenError,
)


def read_archive(
    path, *, fmt: str, version: int, what: str, error: type[Exception], prefixes: tuple[str, ...] = ()
) -> tuple[dict, dict]:
    """Read a ``.npz`` archive of ours with ``allow_pickle=False``: (arrays, meta).

    ``meta`` is the JSON record stored as the uint8 array ``meta.json``, which
    must name format ``fmt`` at ``version``. Before any array is read, every
    entry must be ``meta.json`` or start with one of ``prefixes`` (when given),
    and its npy header must declare no more bytes than the entry holds, so a
    small file cannot make the reader allocate gigabytes. Every problem raises
    ``error`` with a message that names the file and says what is wrong with
    it (``what``: "checkpoint", "sparse model").
    """
    path = Path(path)
    _check_zip(path, what, error)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {
                info.filename[: -len(".npy")]: info for info in archive.infolist() if info.filename.endswith(".npy")
            }
            if "meta.json" not in infos:
                raise error(f"{path}: not a tdnumpy {what} (no meta.json record).")
            meta = _read_meta(path, _read_entry(path, archive, infos["meta.json"], what, error), error)
            found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            if found != fmt:
                raise error(f"{path}: not a tdnumpy {what} (meta.json format {found!r}, expected {fmt!r}).")
            if meta.get("version") != version:
                raise error(f"{path}: {what} version {meta.get('version')!r}; this tdnumpy reads version {version}.")
            _check_entries(path, archive.infolist(), prefixes, error)
            contents = {
                name: _read_entry(path, archive, info, what, error)
                for name, info in infos.items()
                if name != "meta.json"
            }
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file.") from None
    except _DAMAGED as e:
        if isinstance(e, error):
            raise
        raise error(f"{path}: not a readable {what} archive ({type(e).__name__}: {e}).") from e
    return contents, meta


def _read_meta(path: Path, record: np.ndarray, error: type[Exception]):
    try:
        return json.loads(record.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise error(f"{path}: the meta.json record is corrupt ({type(e).__name__}: {e}).") from e


def _read_entry(
    path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, error: type[Exception]
) -> np.ndarray:
    with archive.open(info) as f:
        _check_npy_header(path, info, f, what, error)
    with archive.open(info) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def _check_entries(path: Path, infos, prefixes: tuple[str, ...], error: type[Exception]) -> None:
    names = [info.filename for info in infos]
    unexpected = [
        n.removesuffix(".npy")
        for n in names
        if not n.endswith(".npy") or (prefixes and n != "meta.json.npy" and not n.startswith(prefixes))
    ]
    if unexpected:
        raise error(
            f"{path}: unexpected entries {unexpected[:5]} (it holds meta.json"
            f"{' and ' + ', '.join(p + '*' for p in prefixes) if prefixes else ' and arrays'})."
        )
    if len(set(names)) != len(names):
        raise error(f"{path}: an entry appears twice.")


def _check_npy_header(path: Path, info: zipfile.ZipInfo, f, what: str, error: type[Exception]) -> None:
    """Refuse an npy entry whose header declares more data than the entry holds."""
    major, minor = np.lib.format.read_magic(f)
    if (major, minor) == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif (major, minor) == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise error(f"{path}: entry {info.filename!r} has npy format version {major}.{minor}; expected 1.0 or 2.0.")
    if dtype.hasobject:
        raise error(
            f"{path}: not a readable {what} archive (entry {info.filename!r} holds Python objects, "
            f"which are never read)."
        )
    declared = math.prod(shape) * dtype.itemsize
    if declared > info.file_size:
        raise error(
            f"{path}: entry {info.filename!r} declares shape {shape} of {dtype} ({declared:,} bytes) "
            f"but holds {info.file_size:,} bytes."
        )


def output_folder(out, files=(), *, results=(), overwrite: bool = True) -> Path:
    """Make the output folder now and try writing in it, so that a bad one fails
    before any work (not after the last epoch, losing the model).

    Parameters
    ----------
    out : str or os.PathLike
        The folder.
    files : iterable of str
        Names of files the work will write there; none may be a folder.
    results : iterable of str
        Glob patterns of files that mean the folder already holds results of
        this kind of work (``"prune.csv"``, ``"pruned-*.npz"``).
    overwrite : bool, default=True
        False: refuse a folder where any of ``results`` exists.

    Returns
    -------
    Path
        The folder, which exists and takes new files.

    Raises
    ------
    ParameterError
        If ``out`` is a file, a file cannot be created in it, one of ``files``
        there is a folder, or (``overwrite`` False) it holds results.
    """
    path = check_path(out, "out", "the output folder")
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
            raise ParameterError(
                f"`out` {path}: {path / name} is a folder, so the {name} of the run cannot be written."
            )
    found = sorted(f.name for pattern in results for f in path.glob(pattern))
    if found and not overwrite:
        raise ParameterError(
            f"`out` {path} already holds results ({', '.join(found[:4])}"
            f"{', ...' if len(found) > 4 else ''}); choose another folder, or pass `overwrite` "
            f"to replace them."
        )
    return path


LOCK = ".tdnumpy.lock"


@contextmanager
def folder_lock(folder):
    """Hold ``folder`` for one run while the block runs: a second run into the
    same folder (another process, or this one) is refused instead of both
    writing and only the last keeping its files.

    The lock is a file ``.tdnumpy.lock`` holding the owner's process id, made
    with a hard link so it never exists empty; one left by a process that is
    gone (killed) is taken over. None: no folder, no lock.

    Parameters
    ----------
    folder : pathlib.Path or None
        The output folder (it exists).

    Raises
    ------
    ParameterError
        If a live process holds the folder.
    """
    if folder is None:
        yield None
        return
    lock = Path(folder) / LOCK
    fd, tmp = tempfile.mkstemp(prefix=f".{LOCK}.{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        for attempt in range(2):
            try:
                os.link(tmp, lock)
                break
            except FileExistsError:
                holder = _lock_holder(lock)
                if attempt or holder is None or _alive(holder):
                    who = f"process {holder}" if holder else "process unknown: delete the lock if none runs"
                    raise ParameterError(
                        f"`out` {folder}: another run ({who}) is writing there "
                        f"(its lock {lock}); wait for it, or choose another folder."
                    ) from None
                lock.unlink(missing_ok=True)  # its process is gone
    finally:
        Path(tmp).unlink(missing_ok=True)
    try:
        yield folder
    finally:
        if _lock_holder(lock) == os.getpid():
            lock.unlink(missing_ok=True)


def _lock_holder(lock: Path) -> int | None:
    try:
        text = lock.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


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
        raise error(
            f"{path}: not a readable {what} archive (.npz files are zip archives, starting with "
            f"'PK'; this one starts with {head!r})."
        )

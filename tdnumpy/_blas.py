"""NumPy's BLAS: how long OpenBLAS's threads spin (set before NumPy loads it), a record of
it, and OpenBLAS's matrix transpose where NumPy's copy of OpenBLAS offers it.

Between two matrix products OpenBLAS keeps its worker threads busy-waiting
for the next one, by default for 2^28 CPU cycles (about a tenth of a second),
far longer than the NumPy passes of a training step (copies, the bias, pooling,
masks) that run on the main thread in between. On the 2-core machine this
project is measured on, a spinning worker slowed those passes by up to 9x
(LeNet-5's patch matrix: 5.3 against 0.6 ms) and made whole steps bimodal:
LeNet-5 took 24 or 33-35 ms per step from one run to the next, LeNet-300-100
1.2 or 2.2 ms. With the workers asleep after 2^16 cycles (about 25
microseconds) both stayed at the fast figure in every run (24.3 and 1.3 ms).

OpenBLAS reads ``OPENBLAS_THREAD_TIMEOUT`` (n: spin for 2^n cycles, 4 <= n
<= 30) once, when the library loads, so importing tdnumpy sets it only if
NumPy is not loaded yet, and never overrides a value the user has set.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
import sys

VARIABLE = "OPENBLAS_THREAD_TIMEOUT"
TIMEOUT = "16"


def configure() -> None:
    """Set ``OPENBLAS_THREAD_TIMEOUT`` to 16 unless it is set or NumPy is loaded."""
    if "numpy" not in sys.modules:
        os.environ.setdefault(VARIABLE, TIMEOUT)


def describe() -> str:
    """One line for benchmark reports: the spin setting OpenBLAS started with.

    Returns
    -------
    str
        The value of ``OPENBLAS_THREAD_TIMEOUT`` in this process, or a note
        that it was unset (OpenBLAS's default, 2^28 cycles).
    """
    value = os.environ.get(VARIABLE)
    if value is None:
        return (
            f"{VARIABLE} unset (NumPy was loaded before tdnumpy): OpenBLAS's threads spin 2^28 cycles between products"
        )
    return f"{VARIABLE}={value}: OpenBLAS's threads spin 2^{value} cycles between products"


# Entry points that report OpenBLAS's thread count, as NumPy's bundled copy
# (scipy-openblas, 64-bit integers) and a system OpenBLAS name them.
_THREAD_COUNTERS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_", "openblas_get_num_threads")
_THREAD_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads")


@functools.cache
def _openblas_libraries() -> tuple:
    """The OpenBLAS libraries NumPy ships with (``numpy.libs``) that load, in name order."""
    import numpy as np

    folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    found = []
    for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
        try:
            found.append(ctypes.CDLL(path))
        except OSError:
            continue
    return tuple(found)


def _openblas_function(names: tuple[str, ...]):
    """The first of ``names`` that one of NumPy's OpenBLAS libraries defines, or None."""
    for library in _openblas_libraries():
        for name in names:
            function = getattr(library, name, None)
            if function is not None:
                return function
    return None


def blas_threads() -> int | None:
    """The number of threads NumPy's BLAS uses, or None if it cannot be asked.

    Looks for OpenBLAS in the libraries NumPy ships with (``numpy.libs``) and
    asks it; another BLAS (MKL, Accelerate) gives None.

    Returns
    -------
    int or None
        The thread count.
    """
    counter, _ = _thread_count_functions()
    return None if counter is None else int(counter())


@functools.cache
def _thread_count_functions() -> tuple:
    """OpenBLAS's thread-count getter and setter (each None if not found), typed once."""
    counter, setter = _openblas_function(_THREAD_COUNTERS), _openblas_function(_THREAD_SETTERS)
    if counter is not None:
        counter.restype = ctypes.c_int
    if setter is not None:
        setter.argtypes, setter.restype = [ctypes.c_int], None
    return counter, setter


def blas_threads_settable() -> bool:
    """Whether tdnumpy can set the thread count of NumPy's BLAS (NumPy's OpenBLAS).

    Returns
    -------
    bool
        True if both OpenBLAS's thread-count getter and setter were found.
    """
    return None not in _thread_count_functions()


@contextlib.contextmanager
def one_blas_thread():
    """Within the block, NumPy's OpenBLAS computes each product on the thread that asks for it.

    For code that runs products on several threads of its own (a training step
    split over two halves of a batch, :mod:`tdnumpy.training.split`): OpenBLAS's
    thread count is one number for the whole process, restored on leaving,
    so two such blocks must not run at once in two threads of one process.
    Where the count cannot be set (another BLAS), the block runs unchanged.

    Yields
    ------
    bool
        Whether the count was set to 1.
    """
    counter, setter = _thread_count_functions()
    if counter is None or setter is None:
        yield False
        return
    before = int(counter())
    setter(1)
    try:
        yield True
    finally:
        setter(before)


# OpenBLAS's out-of-place transpose (an extension of the BLAS: cblas_?omatcopy)
# in NumPy's copy, which has 64-bit integer arguments; by the letter of its dtype.
_TRANSPOSERS = {"f": ("scipy_cblas_somatcopy64_", ctypes.c_float), "d": ("scipy_cblas_domatcopy64_", ctypes.c_double)}
_ROW_MAJOR, _TRANSPOSED = 101, 112  # CblasRowMajor, CblasTrans


@functools.cache
def _transposer(letter: str):
    name, scalar = _TRANSPOSERS[letter]
    function = _openblas_function((name,))
    if function is not None:
        size, pointer = ctypes.c_int64, ctypes.c_void_p
        function.argtypes = [ctypes.c_int, ctypes.c_int, size, size, scalar, pointer, size, pointer, size]
        function.restype = None
    return function


def transpose(a, out) -> bool:
    """Write a^T into ``out`` with OpenBLAS's blocked transpose, when it can.

    NumPy copies a transposed view element by element against the memory
    order of one side; OpenBLAS's ``cblas_?omatcopy`` works in blocks that
    stay in cache (a 4096 x 4096 float32 matrix: 12 ms, against 43 to 74 ms
    for NumPy in strips of 32 rows and 128 ms in one pass, on this project's
    machine).

    Parameters
    ----------
    a : ndarray of shape (n, m)
        The matrix; used only if C-contiguous float32 or float64.
    out : ndarray of shape (m, n)
        Destination; used only if C-contiguous, of a's dtype and not
        overlapping ``a``.

    Returns
    -------
    bool
        True if a^T was written; False, with nothing written, if the arrays
        do not qualify or NumPy's BLAS has no such function (MKL, another
        OpenBLAS build).
    """
    import numpy as np

    if not (
        isinstance(a, np.ndarray)
        and isinstance(out, np.ndarray)
        and a.ndim == 2
        and a.dtype.char in _TRANSPOSERS
        and out.dtype == a.dtype
        and out.shape == a.shape[::-1]
        and a.flags.c_contiguous
        and out.flags.c_contiguous
        and out.flags.writeable
        and a.size > 0
        and not np.may_share_memory(a, out)
    ):
        return False
    function = _transposer(a.dtype.char)
    if function is None:
        return False
    rows, cols = a.shape
    function(_ROW_MAJOR, _TRANSPOSED, rows, cols, 1.0, a.ctypes.data, cols, out.ctypes.data, rows)
    return True


def blas_record() -> dict:
    """What a run's results depend on beyond its seed: NumPy, its BLAS and the thread count.

    One seed gives bit-identical runs only with the same NumPy, BLAS and BLAS
    thread count: a product split over another number of threads sums in
    another order (``OPENBLAS_NUM_THREADS=1`` changes most of LeNet-300-100's
    first-layer weights after an epoch).

    Returns
    -------
    dict
        ``numpy`` (version), ``blas`` (name and version NumPy was built with)
        and ``blas_threads`` (:func:`blas_threads`, None if unknown).
    """
    import numpy as np

    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{info.get('name', '?')} {info.get('version', '?')}"
    except (KeyError, TypeError, ValueError):
        blas = None
    return {"numpy": np.__version__, "blas": blas, "blas_threads": blas_threads()}

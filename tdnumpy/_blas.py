"""NumPy's BLAS: how long OpenBLAS's threads spin (set before NumPy loads it), and a record of it.

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

import ctypes
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


def blas_threads() -> int | None:
    """The number of threads NumPy's BLAS uses, or None if it cannot be asked.

    Looks for OpenBLAS in the libraries NumPy ships with (``numpy.libs``) and
    asks it; another BLAS (MKL, Accelerate) gives None.

    Returns
    -------
    int or None
        The thread count.
    """
    import numpy as np

    folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _THREAD_COUNTERS:
            counter = getattr(library, name, None)
            if counter is not None:
                counter.restype = ctypes.c_int
                return int(counter())
    return None


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

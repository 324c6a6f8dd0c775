"""How long OpenBLAS's worker threads spin after a product, set before NumPy loads it.

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
        return (f"{VARIABLE} unset (NumPy was loaded before tdnumpy): OpenBLAS's threads spin "
                f"2^28 cycles between products")
    return f"{VARIABLE}={value}: OpenBLAS's threads spin 2^{value} cycles between products"

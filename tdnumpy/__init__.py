"""tdnumpy: targeted dropout, its relatives and magnitude pruning in plain NumPy.

A reference implementation with hand-written forward and backward passes
(no autograd). See README.md for the tour and DESIGN.md for the layers of
the code.
"""

from . import _blas

_blas.configure()  # before anything loads NumPy: see tdnumpy/_blas.py

from . import _compat  # noqa: E402

__version__ = "0.1.0"

_compat.install()

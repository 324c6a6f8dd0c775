"""tdnumpy: targeted dropout, its relatives and magnitude pruning in plain NumPy.

A reference implementation with hand-written forward and backward passes
(no autograd). See README.md for the tour and DESIGN.md for the layers of
the code.
"""

from . import _compat

__version__ = "0.1.0"

_compat.install()

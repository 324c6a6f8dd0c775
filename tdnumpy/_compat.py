"""The module paths of release 0.1, kept working after the move into folders.

Release 0.1 had flat modules (``tdnumpy.train``, ``tdnumpy.prune`` ...).
They now live in the folder of their layer; importing an old path gives the
module at its new place (the same module object, not a copy), so
``from tdnumpy.train import fit`` and ``from tdnumpy.training.fit import fit``
are the same function. Nothing is imported until an old path is used.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {
    "tdnumpy.bench": "tdnumpy.experiments.bench",
    "tdnumpy.checkpoint": "tdnumpy.training.checkpoint",
    "tdnumpy.models": "tdnumpy.nn.models",
    "tdnumpy.optim": "tdnumpy.training.optim",
    "tdnumpy.penalties": "tdnumpy.training.penalties",
    "tdnumpy.prune": "tdnumpy.pruning.masking",
    "tdnumpy.regularisers": "tdnumpy.experiments.regularisers",
    "tdnumpy.schedules": "tdnumpy.training.schedules",
    "tdnumpy.shrink": "tdnumpy.pruning.shrink",
    "tdnumpy.sparse": "tdnumpy.pruning.sparse",
    "tdnumpy.target_tracking": "tdnumpy.masks.tracking",
    "tdnumpy.train": "tdnumpy.training.fit",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path of :data:`MOVED` and loads it as the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def __init__(self):
        self._specs = {}  # new path -> the module's own spec, which the import system replaces

    def create_module(self, spec):
        module = importlib.import_module(MOVED[spec.name])
        self._specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module):
        """The module at the new path is already executed; give it back its own spec."""
        module.__spec__ = self._specs.pop(module.__name__)


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
        sys.meta_path.append(_Alias())

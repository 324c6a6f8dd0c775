"""Every public function and class of the specification (masks), the layers
(nn), training, pruning, experiments and testing has a numpydoc docstring whose
Parameters and Returns sections match its signature.

``numpydoc.validate`` checks each object. The checks enforced are the ones
about content a reader relies on: a docstring exists (GL08), a one-line
summary (SS01), every parameter is documented with a type and a description,
in order, and nothing else is (PR01-PR04, PR07, PR10), a function that
returns something has a Returns section that says what (RT01, RT03), and the
sections are known ones in numpydoc's order (GL06, GL07). Style checks
(capitalisation, full stops, imperative mood, See Also and Examples
sections) are left out.

A method is checked where a class defines it as new API; an override of a
documented base method (``forward``, ``backward``, ``_sample`` ...) shares
the base method's contract and docstring.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import numpydoc.validate as numpydoc_validate  # in the [test] extra: a missing numpydoc fails, never skips

PACKAGES = ("tdnumpy.masks", "tdnumpy.nn", "tdnumpy.training", "tdnumpy.pruning", "tdnumpy.experiments",
            "tdnumpy.testing")
CHECKS = {"GL06", "GL07", "GL08", "SS01", "PR01", "PR02", "PR03", "PR04", "PR07", "PR10", "RT01", "RT03"}


def _modules():
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        yield package
        for info in pkgutil.iter_modules(package.__path__):
            yield importlib.import_module(f"{package_name}.{info.name}")


def _inherited(cls, name: str) -> bool:
    return any(name in vars(base) for base in cls.__mro__[1:])


def public_objects() -> list[str]:
    """Dotted names of the public functions, classes and new public methods."""
    names = set()
    for module in _modules():
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            names.add(f"{module.__name__}.{name}")
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") and inspect.isfunction(member) and not _inherited(obj, attr):
                        names.add(f"{module.__name__}.{name}.{attr}")
    return sorted(names)


def test_the_scope_is_not_empty():
    names = public_objects()
    assert "tdnumpy.masks.targeted.targeted_weight_keep" in names and len(names) > 100, len(names)


@pytest.mark.parametrize("name", public_objects())
def test_numpydoc(name):
    result = numpydoc_validate.validate(name)
    errors = [f"{code}: {message}" for code, message in result["errors"] if code in CHECKS]
    assert not errors, f"{name}:\n  " + "\n  ".join(errors)

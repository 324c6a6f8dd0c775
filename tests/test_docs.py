"""Shared docstring sections (tdnumpy._docs)."""

from __future__ import annotations

import pytest

from tdnumpy._docs import shared_docstring

SECTION = """
    Parameters
    ----------
    x : int
        A number.
"""


def test_a_section_replaces_its_line_indented_like_it():
    @shared_docstring(params=SECTION)
    def f(x):
        """Do it.

        {{params}}

        Returns
        -------
        int
            x again.
        """
        return x

    assert "        Parameters\n        ----------\n        x : int\n            A number.\n\n        Returns" in f.__doc__
    assert "{{" not in f.__doc__


def test_an_unknown_section_is_an_error_when_the_function_is_defined():
    with pytest.raises(KeyError, match="asks for section 'parms'"):
        @shared_docstring(params=SECTION)
        def g(x):
            """Do it.

            {{parms}}
            """

"""Docstring sections shared by functions that take the same parameters.

numpydoc wants every parameter documented in every docstring. Where several
functions take the same parameters with the same meaning (the initialisers,
the dropout family's masks), their sections are written once, next to the
functions, and :func:`shared_docstring` puts them into each docstring in place
of a line that holds only ``{{name}}``:

    _MASK = '''
        Parameters
        ----------
        shape : tuple of int
            The shape of the mask.
        '''

    @shared_docstring(mask=_MASK)
    def dropout_keep(shape, p, rng):
        '''Bernoulli dropout: ...

        {{mask}}
        '''

``help(dropout_keep)`` and numpydoc see the whole docstring.
"""

from __future__ import annotations

import re
import textwrap

_FIELD = re.compile(r"^([ \t]*)\{\{(\w+)\}\}[ \t]*$", re.M)


def shared_docstring(**sections: str):
    """A decorator that fills each ``{{name}}`` line of a docstring with ``sections[name]``.

    Parameters
    ----------
    **sections : str
        The shared text by name; it is dedented, then indented like the line
        it replaces.

    Returns
    -------
    callable
        The decorator; it returns the function or class it is given, its
        ``__doc__`` filled. A name with no section is an error at import.
    """

    def fill(obj):
        def replace(match):
            indent, name = match.groups()
            if name not in sections:
                raise KeyError(
                    f"{obj.__qualname__}'s docstring asks for section {name!r}; "
                    f"shared_docstring was given {sorted(sections)}."
                )
            return textwrap.indent(textwrap.dedent(sections[name]).strip("\n"), indent)

        if obj.__doc__ is not None:  # None under python -OO
            obj.__doc__ = _FIELD.sub(replace, obj.__doc__)
        return obj

    return fill

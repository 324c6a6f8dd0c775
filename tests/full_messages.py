"""Error messages checked word for word.

The mutation tests (tests/*/test_mutation_*.py) pin whole messages, so that a
mutant that changes one word of a message, or the argument it names, fails.
Each keeps a table of (call, error, message) cases and turns it into one
parametrized test with :func:`message_test`.
"""

from __future__ import annotations

import pytest

# How every check_generator message ends for an int given as the generator.
GENERATOR = "must be a numpy.random.Generator (for example numpy.random.default_rng(0)). Got int instead."


def message_test(cases, ids=None):
    """A test that each ``call()`` raises ``error`` with exactly ``message``.

    Parameters
    ----------
    cases : list of (callable, type, str)
        The calls, the exception types and the whole messages.
    ids : list of str, optional
        Test ids; ``case0``, ``case1``, ... by default.

    Returns
    -------
    function
        The parametrized test, to be bound to a ``test_*`` name in a test module.
    """

    @pytest.mark.parametrize("call, error, message", cases, ids=ids or [f"case{i}" for i in range(len(cases))])
    def test(call, error, message):
        with pytest.raises(error) as caught:
            call()
        assert str(caught.value) == message

    return test

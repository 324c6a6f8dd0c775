"""Tools for checking implementations: gradient checks (and, later, the
conformance kit for mask functions)."""

from .gradcheck import GradCheck, check_gradients, relative_error

__all__ = ["GradCheck", "check_gradients", "relative_error"]

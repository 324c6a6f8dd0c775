"""Tools for checking implementations: gradient checks, and the conformance kit
that property-tests anyone's dropout, DropConnect, targeted dropout or pruning
against this library's definitions (see docs/conformance.md)."""

from .dropout import check_dropconnect, check_dropout
from .gradcheck import GradCheck, check_gradients, relative_error
from .pruning import check_unit_pruning, check_weight_pruning
from .report import ConformanceError, PropertyResult, Report
from .targeted import check_targeted_unit_dropout, check_targeted_weight_dropout

__all__ = [
    "ConformanceError",
    "GradCheck",
    "PropertyResult",
    "Report",
    "check_dropconnect",
    "check_dropout",
    "check_gradients",
    "check_targeted_unit_dropout",
    "check_targeted_weight_dropout",
    "check_unit_pruning",
    "check_weight_pruning",
    "relative_error",
]

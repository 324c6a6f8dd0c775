"""Gradient checks by central differences, for any Module.

For a module f and a fixed random upstream gradient R (so that every output
entry matters), the scalar L(theta) = sum(f(x; theta) * R) has

    dL/dtheta_i ~ (L(theta + h e_i) - L(theta - h e_i)) / (2 h),

with truncation error O(h^2). The analytic gradient is what ``backward(R)``
returns (for x) or stores (for each parameter). Run this in float64: in
float32 the rounding error of L, about 1e-7 |L| / h, swamps the comparison.

The error reported for an array is the largest entry-wise relative error

    max_i |a_i - n_i| / max(|a_i|, |n_i|, floor),   floor = 1e-3 max_j max(|a_j|, |n_j|),

that is, the plain relative error for every entry within a factor 1000 of
the array's largest, and an error relative to 1/1000 of the largest for the
tiny entries whose central difference is mostly rounding noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_array, check_generator, check_int, check_real


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """The entry-wise relative error defined in the module docstring.

    Parameters
    ----------
    analytic, numeric : ndarray
        The two gradients, of the same shape.

    Returns
    -------
    float
        max_i |a_i - n_i| / max(|a_i|, |n_i|, floor); 0.0 when both are all zero.
    """
    for name, value in (("analytic", analytic), ("numeric", numeric)):
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise TypeError(
                f"The {name!r} parameter of relative_error must be a float NumPy array. "
                f"Got {getattr(value, 'dtype', type(value).__name__)} instead."
            )
    if analytic.shape != numeric.shape:
        raise ValueError(
            f"The 'analytic' and 'numeric' parameters of relative_error must have one shape. "
            f"Got {analytic.shape} and {numeric.shape}."
        )
    a, n = np.abs(analytic), np.abs(numeric)
    scale = max(a.max(initial=0.0), n.max(initial=0.0))
    if scale == 0:
        return 0.0
    denom = np.maximum(np.maximum(a, n), 1e-3 * scale)
    return float((np.abs(analytic - numeric) / denom).max())


@dataclass(frozen=True)
class GradCheck:
    """The result of :func:`check_gradients`.

    Parameters
    ----------
    errors : dict of str to float
        :func:`relative_error` per checked array: ``"input"`` and each parameter name.

    Attributes
    ----------
    max_error : float
        The largest of ``errors``.
    """

    errors: dict

    @property
    def max_error(self) -> float:
        return max(self.errors.values())


def _numeric(loss, array: np.ndarray, indices, h: float) -> np.ndarray:
    """Central differences at the given C-order flat indices of ``array``, which
    is perturbed in place (any memory layout)."""
    out = np.empty(len(indices))
    for k, i in enumerate(indices):
        at = np.unravel_index(i, array.shape)
        old = array[at]
        array[at] = old + h
        up = loss()
        array[at] = old - h
        down = loss()
        array[at] = old
        out[k] = (up - down) / (2 * h)
    return out


def check_gradients(
    module,
    x: np.ndarray,
    rng: np.random.Generator,
    *,
    training: bool = False,
    h: float = 1e-5,
    max_entries: int | None = None,
    check_input: bool = True,
) -> GradCheck:
    """Compare ``module``'s backward pass with central differences.

    ``x`` and the module's parameters must be float64. With ``max_entries``,
    each array is checked on that many entries drawn at random (all entries
    otherwise). ``training`` is passed to ``forward``; a module with noise must
    hold it fixed between calls for the check to make sense.

    Parameters
    ----------
    module : Module
        The module to check; its parameters are perturbed and restored in place.
    x : ndarray of float64
        The input (copied).
    rng : numpy.random.Generator
        Draws the upstream gradient R and the checked entries.
    training : bool, default False
        Passed to ``forward``.
    h : float, default 1e-5
        The step of the central differences.
    max_entries : int, optional
        Entries checked per array (default: all).
    check_input : bool, default True
        Also check the gradient with respect to ``x``.

    Returns
    -------
    GradCheck
        The relative error per checked array.

    Raises
    ------
    TypeError
        If ``x`` or a parameter is not float64.
    """
    if not all(callable(getattr(module, m, None)) for m in ("forward", "backward", "parameters")):
        raise TypeError(
            f"The 'module' parameter of check_gradients must be a tdnumpy Module. Got {type(module).__name__} instead."
        )
    check_array(x, "x", "check_gradients")
    check_generator(rng, "rng", "check_gradients")
    check_real(h, "h", "check_gradients", low=0, closed="neither")
    if max_entries is not None:
        check_int(max_entries, "max_entries", "check_gradients", low=1)
    params = {p.name or f"param{i}": p for i, p in enumerate(module.parameters())}
    for name, p in params.items():
        if p.dtype != np.float64:
            raise TypeError(f"check_gradients needs float64 parameters; {name!r} is {p.dtype}.")
    if x.dtype != np.float64:
        raise TypeError(f"check_gradients needs float64 input; x is {x.dtype}.")
    x = x.copy()
    upstream = rng.standard_normal(module.forward(x, training).shape)

    def loss() -> float:
        return float(np.sum(module.forward(x, training) * upstream))

    module.forward(x, training)
    grad_x = module.backward(upstream)
    analytic = {name: p.grad.copy() for name, p in params.items()}
    if check_input:
        analytic["input"] = grad_x
    targets = {name: p.value for name, p in params.items()}
    if check_input:
        targets["input"] = x

    errors = {}
    for name, array in targets.items():
        size = array.size
        if max_entries is None or size <= max_entries:
            indices = np.arange(size)
        else:
            indices = rng.choice(size, max_entries, replace=False)
        numeric = _numeric(loss, array, indices, h)
        errors[name] = relative_error(analytic[name].reshape(-1)[indices], numeric)
    return GradCheck(errors)

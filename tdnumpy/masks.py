"""The specification: pure functions that return keep-masks (True = kept).

Source: Gomez, Zhang, Kamalakara, Madaan, Swersky, Gal and Hinton, "Learning
Sparse Networks Using Targeted Dropout" (2019), section 3 ("Targeted
Dropout"). Symbols, as in the paper:

    W      a weight matrix of shape (N_row, N_col) = (fan_in, units); a
           convolution's kernel viewed as (kh kw in_channels, out_channels)
    gamma  the targeting proportion: the fraction of each column (weight
           variant) or of the columns (unit variant) that is targeted
    alpha  the drop rate: each target is dropped with probability alpha
    k      the number of targets, k = floor(gamma N) for N = N_row (weight
           variant, per column) or N = N_col (unit variant)

Weight variant: the targets of column o are the k entries of smallest
|W[i, o]| (the paper's argmin_k over the column). Unit variant: the targets
are the k columns of smallest L2 norm ||W[:, o]||_2. Ties are broken by lower
index first, so exactly k are targeted, always. Each target is dropped
independently with probability alpha and nothing else is ever dropped, so the
expected kept fraction is 1 - alpha k / N (about 1 - gamma alpha); kept
weights are not rescaled, as in the paper and its released code.

``k = floor(gamma N)`` is computed from the float64 product gamma * N, as
``math.floor(gamma * n)`` in Python or ``int(gamma * n)`` in most ports would:
0.3 * 10 gives 3, while 0.29 * 100 gives 28 because that product rounds to
28.999999999999996. The compatibility functions at the end of the module
reproduce the authors' released TensorFlow code instead, differences
included; each says where it departs from the definition above.

Every function validates its arguments and raises ``ValueError`` or
``TypeError`` naming the argument, its value and the accepted range.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy.special import expit

from ._validation import check_real

# ----------------------------------------------------------------- validation


def _check_weight(w, owner: str, finite: bool = True) -> np.ndarray:
    if not isinstance(w, np.ndarray):
        raise TypeError(f"The 'w' parameter of {owner} must be a NumPy array. Got {type(w).__name__} instead.")
    if w.dtype not in (np.float16, np.float32, np.float64):
        raise TypeError(f"The 'w' parameter of {owner} must be a float16, float32 or float64 array. "
                        f"Got dtype {w.dtype} instead.")
    if w.ndim != 2 or w.size == 0:
        raise ValueError(f"The 'w' parameter of {owner} must be a non-empty 2-D array (fan_in, units). "
                         f"Got shape {w.shape} instead.")
    if finite and not np.isfinite(w).all():
        _raise_not_finite(owner)
    return w


def _raise_not_finite(owner: str):
    raise ValueError(f"The 'w' parameter of {owner} must be finite. Got NaN or infinite entries.")


def _check_fraction(value, name: str, owner: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"The {name!r} parameter of {owner} must be a float in the range [0, 1]. "
                        f"Got {value!r} of type {type(value).__name__} instead.")
    if not 0.0 <= float(value) <= 1.0:  # NaN fails both comparisons
        raise ValueError(f"The {name!r} parameter of {owner} must be a float in the range [0, 1]. "
                         f"Got {value!r} instead.")
    return float(value)


def _check_rng(rng, owner: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"The 'rng' parameter of {owner} must be a numpy.random.Generator "
                        f"(for example numpy.random.default_rng(0)). Got {type(rng).__name__} instead.")
    return rng


def _check_mask(mask, name: str, shape, owner: str) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != shape:
        raise ValueError(f"The {name!r} parameter of {owner} must be a boolean array of shape {shape}. "
                         f"Got {getattr(mask, 'dtype', type(mask).__name__)} "
                         f"{getattr(mask, 'shape', '')} instead.")
    return mask


def n_targets(n: int, gamma: float) -> int:
    """k = floor(gamma n), the product taken in float64 (see the module docstring)."""
    return math.floor(float(gamma) * n)


# -------------------------------------------------------------------- targets


def bottom_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the k smallest entries of each column of ``scores``
    (a 1-D array is one column), ties broken by lower index first.

    O(n) per column: ``np.partition`` finds the k-th smallest value t of each
    column; the entries <= t are selected, and only in the rare columns where
    more than k entries are <= t (ties at t) are the surplus ones at t dropped,
    last index first. The work runs on the transposed copy, where each column
    is a contiguous row.
    """
    n = scores.shape[0]
    rows = np.ascontiguousarray(scores.reshape(n, -1).T)  # one row per column of scores
    return _bottom_k_rows(rows, k).T.reshape(scores.shape)


def _bottom_k_rows(rows: np.ndarray, k: int) -> np.ndarray:
    """:func:`bottom_k` along the rows of a C-contiguous array (its columns' view)."""
    n = rows.shape[1]
    if k <= 0:
        return np.zeros(rows.shape, bool)
    if k >= n:
        return np.ones(rows.shape, bool)
    kth = np.partition(rows, k - 1, axis=1)[:, k - 1:k]
    selected = rows <= kth
    if np.count_nonzero(selected) == k * len(rows):  # every row holds at least k; no ties at t
        return selected
    for r in np.flatnonzero(row_counts(selected) > k):
        at = np.flatnonzero(rows[r] == kth[r, 0])
        surplus = np.count_nonzero(selected[r]) - k
        selected[r, at[len(at) - surplus:]] = False
    return selected


def row_counts(mask: np.ndarray) -> np.ndarray:
    """The number of True entries in each row of a C-contiguous 2-D boolean array
    (summed as bytes, 3x faster than ``count_nonzero(axis=1)``)."""
    dtype = np.uint16 if mask.shape[1] < 2**16 else np.int64
    return np.add.reduce(mask.view(np.uint8), axis=1, dtype=dtype)


def magnitude_keys(w: np.ndarray, owner: str, out: np.ndarray | None = None) -> np.ndarray:
    """|W| transposed, one contiguous row per column of ``w``, as integer keys.

    |W| is written transposed in the pass that takes the magnitude (into
    ``out`` if given, a C-contiguous float array shaped like w.T) and ranked
    through its integer view: for non-negative IEEE floats the bit patterns
    order like the values (equal exactly when the values are), and integer
    comparisons are faster than float ones. The same view checks that ``w``
    is finite: |w| is finite exactly when its bit pattern is at most that of
    the largest finite float (NaN and inf lie above).
    """
    rows = np.empty((w.shape[1], w.shape[0]), w.dtype) if out is None else out
    np.abs(w.T, out=rows)
    keys = rows.view(f"i{rows.itemsize}")
    if keys.max() > np.array(np.finfo(w.dtype).max, w.dtype).view(keys.dtype):
        _raise_not_finite(owner)
    return keys


def _weight_target_rows(w: np.ndarray, gamma: float, owner: str) -> np.ndarray:
    """The weight targets transposed, one row per column of ``w``."""
    return _bottom_k_rows(magnitude_keys(w, owner), n_targets(w.shape[0], gamma))


def weight_targets(w: np.ndarray, gamma: float) -> np.ndarray:
    """The weight variant's target set, a boolean mask shaped like ``w``.

    For every column o, the k = floor(gamma N_row) entries of smallest |W[i, o]|
    (ties: lower row index first). Gomez et al. (2019), section 3: the weights
    of a column ranked by magnitude, the bottom gamma fraction targeted.
    """
    _check_weight(w, "weight_targets", finite=False)  # checked while ranking
    gamma = _check_fraction(gamma, "gamma", "weight_targets")
    return _weight_target_rows(w, gamma, "weight_targets").T


def unit_norms(w: np.ndarray) -> np.ndarray:
    """||W[:, o]||_2 for every column o, in float64.

    Each column is divided by its largest magnitude m before squaring and the
    result multiplied back, ||w|| = m ||w / m||, so no weight is too large or
    too small to square; a power-of-two scaling of W scales every norm exactly.
    """
    m = np.abs(w).max(axis=0).astype(np.float64)
    safe = np.where(m > 0, m, 1.0)
    scaled = w / safe
    return m * np.sqrt(np.einsum("io,io->o", scaled, scaled))


def unit_targets(w: np.ndarray, gamma: float) -> np.ndarray:
    """The unit variant's target set, one boolean per column (unit).

    The k = floor(gamma N_col) columns of smallest L2 norm ||W[:, o]||_2 (ties:
    lower column index first). Gomez et al. (2019), section 3: units ranked by
    the norm of their weight column, the bottom gamma fraction targeted.
    """
    _check_weight(w, "unit_targets")
    gamma = _check_fraction(gamma, "gamma", "unit_targets")
    return bottom_k(unit_norms(w), n_targets(w.shape[1], gamma))


def random_weight_targets(shape, gamma: float, rng: np.random.Generator) -> np.ndarray:
    """Fixed-pattern targets: u < gamma for one stored uniform draw u per weight.

    The authors' ``targeted_weight_random`` baseline: targets chosen once at
    random instead of by magnitude (each weight targeted with probability
    gamma, so about gamma N_row per column, not exactly k). Draw once and keep
    the result; pass it as ``targets`` to :func:`targeted_weight_keep`.
    """
    gamma = _check_fraction(gamma, "gamma", "random_weight_targets")
    return _check_rng(rng, "random_weight_targets").random(shape) < gamma


def random_unit_targets(units: int, gamma: float, rng: np.random.Generator) -> np.ndarray:
    """Fixed-pattern unit targets: u < gamma for one stored uniform draw per unit
    (the authors' ``targeted_unit_random`` baseline)."""
    gamma = _check_fraction(gamma, "gamma", "random_unit_targets")
    return _check_rng(rng, "random_unit_targets").random(units) < gamma


# ---------------------------------------------------------- targeted dropout


def uniform_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """n independent uniform bytes (uint8) from the generator's bit stream.

    NumPy's 64-bit bit generators (PCG64, the default, PCG64DXSM, Philox,
    SFC64) give eight bytes per raw output (``random_raw``), the cheapest
    random bits NumPy offers; any other bit generator (MT19937 fills only 32
    of its 64 raw bits) is served by ``rng.integers``.
    """
    if isinstance(rng.bit_generator, _SIXTY_FOUR_BIT):
        return rng.bit_generator.random_raw(-(-n // 8)).view(np.uint8)[:n]
    return rng.integers(0, 256, n, dtype=np.uint8)


_SIXTY_FOUR_BIT = (np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64)


def bernoulli(rng: np.random.Generator, p: float, shape) -> np.ndarray:
    """Independent events of probability P = t / 2^32, t = round(p 2^32)
    (within 1.2e-10 of p; exactly 0 and 1 at the ends), in C order of ``shape``.

    Each event is d = [u < t] for a uniform 32-bit integer u, drawn a byte at a
    time and only as far as needed. Write u = 2^24 u_hi + u_lo and
    t = 2^24 t_hi + t_lo: the top byte u_hi decides (d = [u_hi < t_hi]) unless
    it equals t_hi, and only then, with probability 1/256, are the 24 low bits
    u_lo drawn (d = [u_lo < t_lo]). So

        P(d) = t_hi / 256 + (1/256) (t_lo / 2^24) = t / 2^32,

    the same law as full 32-bit draws from about a quarter of the random bits
    (the draws dominate the cost of a mask). When t_lo = 0, as for p = 1/4 or
    3/4, no low bits are needed at all; for p = 1/2 (t = 2^31), the paper's
    usual alpha, the top bit alone decides, d = [top bit of u = 0], one random
    bit per event. p = 0 and p = 1 draw nothing.
    """
    p = _check_fraction(p, "p", "bernoulli")
    no_event = _bernoulli_complement(_check_rng(rng, "bernoulli"), p, _check_shape(shape, "bernoulli"))
    return np.logical_not(no_event, out=no_event)


def _bernoulli_complement(rng: np.random.Generator, p: float, shape) -> np.ndarray:
    """[u >= t] for the u and t of :func:`bernoulli`: the same draws, negated."""
    n = math.prod(shape)
    threshold = round(p * 2**32)
    if threshold == 0:
        return np.ones(shape, bool)
    if threshold >= 2**32:
        return np.zeros(shape, bool)
    if threshold == 2**31:  # p = 1/2: the top bit of u alone decides
        return np.unpackbits(uniform_bytes(rng, -(-n // 8)), count=n).view(bool).reshape(shape)
    t_hi, t_lo = divmod(threshold, 2**24)
    u_hi = uniform_bytes(rng, n)
    no_event = u_hi >= np.uint8(t_hi)
    if t_lo:
        tied = np.flatnonzero(u_hi == np.uint8(t_hi))
        b = uniform_bytes(rng, 3 * len(tied)).reshape(-1, 3).astype(np.uint32)
        u_lo = (b[:, 0] << 16) | (b[:, 1] << 8) | b[:, 2]
        no_event[tied] = u_lo >= t_lo
    return no_event.reshape(shape)


def drop_targets(targets: np.ndarray, alpha: float, rng: np.random.Generator, shape=None) -> np.ndarray:
    """Keep-mask that drops each target independently with probability alpha.

    keep = not (target and d), with d ~ Bernoulli(alpha) drawn per position of
    the mask in C order (:func:`bernoulli`), so P(dropped) = alpha for a
    target and 0 for anything else. ``shape`` broadcasts ``targets`` first
    (for per-example unit masks, (batch, units)). Drawing for every position,
    not only the targets, measured faster: boolean-indexed assignment costs
    more than the extra draws.
    """
    alpha = _check_fraction(alpha, "alpha", "drop_targets")
    shape = targets.shape if shape is None else shape
    no_drop = _bernoulli_complement(_check_rng(rng, "drop_targets"), alpha, shape)
    return np.less_equal(targets, no_drop, out=no_drop)  # not (target and d) = (target <= not d)


def targeted_weight_keep(w: np.ndarray, gamma: float, alpha: float, rng: np.random.Generator, *,
                         targets: np.ndarray | None = None) -> np.ndarray:
    """Targeted weight dropout: a boolean keep-mask shaped like ``w``.

    Gomez et al. (2019), section 3: with T the targets of
    :func:`weight_targets` (the k = floor(gamma N_row) smallest |W[i, o]| of
    each column o),

        keep[i, o] = not (T[i, o] and d[i, o]),   d[i, o] ~ Bernoulli(alpha),

    so E[kept fraction of a column] = 1 - alpha k / N_row. Kept weights are
    not rescaled. The draws d run column by column (C order of the transposed
    mask), the order the selection works in. ``targets`` may be given when the caller already has them
    (fixed-pattern targeting, or targets computed once per step).
    """
    _check_weight(w, "targeted_weight_keep", finite=targets is not None)  # else checked while ranking
    gamma = _check_fraction(gamma, "gamma", "targeted_weight_keep")
    alpha = _check_fraction(alpha, "alpha", "targeted_weight_keep")
    _check_rng(rng, "targeted_weight_keep")
    if targets is None:
        rows = _weight_target_rows(w, gamma, "targeted_weight_keep")
    else:
        rows = _check_mask(targets, "targets", w.shape, "targeted_weight_keep").T
    return drop_targets(rows, alpha, rng).T


def targeted_unit_keep(w: np.ndarray, gamma: float, alpha: float, rng: np.random.Generator, *,
                       batch: int | None = None, targets: np.ndarray | None = None) -> np.ndarray:
    """Targeted unit dropout: one boolean per unit (column of ``w``).

    Gomez et al. (2019), section 3: with T the k = floor(gamma N_col) columns
    of smallest L2 norm (:func:`unit_targets`),

        keep[o] = not (T[o] and d[o]),   d[o] ~ Bernoulli(alpha),

    so E[kept fraction of the units] = 1 - alpha k / N_col. A dropped unit
    contributes nothing: the layer zeroes its weight column and its bias.
    With ``batch`` = B the mask has shape (B, N_col), one independent draw per
    example (the same as masking that layer's outputs example by example).
    """
    _check_weight(w, "targeted_unit_keep")
    gamma = _check_fraction(gamma, "gamma", "targeted_unit_keep")
    alpha = _check_fraction(alpha, "alpha", "targeted_unit_keep")
    _check_rng(rng, "targeted_unit_keep")
    if targets is None:
        targets = bottom_k(unit_norms(w), n_targets(w.shape[1], gamma))
    else:
        _check_mask(targets, "targets", (w.shape[1],), "targeted_unit_keep")
    if batch is None:
        return drop_targets(targets, alpha, rng)
    if isinstance(batch, (bool, np.bool_)) or not isinstance(batch, numbers.Integral) or batch < 1:
        raise ValueError(f"The 'batch' parameter of targeted_unit_keep must be an int >= 1 or None. "
                         f"Got {batch!r} instead.")
    return drop_targets(targets, alpha, rng, shape=(int(batch), w.shape[1]))


# ------------------------------------------------- dropout and its relatives
#
# The baselines targeted dropout is compared with. p is always the drop rate:
# each element is dropped with probability p and kept with probability 1 - p.


def _check_rate(p, owner: str, name: str = "p") -> float:
    """A drop rate in [0, 1): p = 1 would divide by zero in inverted scaling."""
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"The {name!r} parameter of {owner} must be a float in the range [0, 1). "
                        f"Got {p!r} of type {type(p).__name__} instead.")
    if not 0.0 <= float(p) < 1.0:  # NaN fails both comparisons
        raise ValueError(f"The {name!r} parameter of {owner} must be a float in the range [0, 1). "
                         f"Got {p!r} instead.")
    return float(p)


def _check_shape(shape, owner: str) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if not isinstance(shape, tuple) or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, (bool, np.bool_)) and n >= 0 for n in shape):
        raise TypeError(f"The 'shape' parameter of {owner} must be a tuple of non-negative ints. "
                        f"Got {shape!r} instead.")
    return tuple(int(n) for n in shape)


def dropout_keep(shape, p: float, rng: np.random.Generator) -> np.ndarray:
    """Bernoulli dropout: a boolean keep-mask, each element kept independently
    with probability 1 - p.

    Srivastava, Hinton, Krizhevsky, Sutskever and Salakhutdinov, "Dropout: A
    Simple Way to Prevent Neural Networks from Overfitting" (JMLR 2014), eq. (1)
    (their p is the *keep* probability): r_j ~ Bernoulli(1 - p), y~ = r * y.
    keep = not d with d ~ Bernoulli(p) drawn as in :func:`bernoulli`. The
    scaling (inverted: 1 / (1 - p) in training; classic: 1 - p at evaluation)
    is the layer's business, see :class:`tdnumpy.nn.dropout.Dropout`.
    """
    p = _check_rate(p, "dropout_keep")
    return _bernoulli_complement(_check_rng(rng, "dropout_keep"), p, _check_shape(shape, "dropout_keep"))


def gaussian_dropout_noise(shape, p: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Multiplicative Gaussian noise e ~ N(1, p / (1 - p)), one per element.

    Srivastava et al. (2014), section 10: the noise with the mean and variance
    of inverted Bernoulli dropout, r / (1 - p) with r ~ Bernoulli(1 - p), whose
    variance is p / (1 - p). y~ = e * y keeps E[y~] = y; at evaluation the
    layer is the identity.
    """
    p = _check_rate(p, "gaussian_dropout_noise")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(f"The 'dtype' parameter of gaussian_dropout_noise must be float32 or float64. "
                        f"Got {dtype!r} instead.")
    shape = _check_shape(shape, "gaussian_dropout_noise")
    noise = _check_rng(rng, "gaussian_dropout_noise").standard_normal(shape, dtype=dtype)
    noise *= np.sqrt(p / (1 - p)).astype(dtype)
    noise += 1
    return noise


def spatial_dropout_keep(batch: int, channels: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Spatial dropout: a (batch, channels) keep-mask, one Bernoulli(1 - p) per
    example and channel, which the layer spreads over the whole feature map.

    Tompson, Goroshin, Jain, LeCun and Bregler, "Efficient Object Localization
    Using Convolutional Networks" (CVPR 2015), section 3.2: adjacent pixels of
    a feature map are strongly correlated, so whole channels are dropped.
    """
    p = _check_rate(p, "spatial_dropout_keep")
    return _bernoulli_complement(_check_rng(rng, "spatial_dropout_keep"), p,
                                 _check_shape((batch, channels), "spatial_dropout_keep"))


def dropconnect_keep(shape, p: float, rng: np.random.Generator) -> np.ndarray:
    """DropConnect: a keep-mask on weights (and biases), each kept with probability 1 - p.

    Wan, Zeiler, Zhang, LeCun and Fergus, "Regularization of Neural Networks
    using DropConnect" (ICML 2013), eq. (2): r = a((M * W) v), M_ij ~
    Bernoulli(1 - p), no scaling in training. ``shape`` is the weight's
    (fan_in, units), or (batch, fan_in, units) for one mask per example.
    """
    p = _check_rate(p, "dropconnect_keep")
    return _bernoulli_complement(_check_rng(rng, "dropconnect_keep"), p, _check_shape(shape, "dropconnect_keep"))


def dropconnect_moments(v: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: float):
    """Mean and variance of the DropConnect pre-activation u = v (M * W) + m * b.

    Wan et al. (2013), section 3.2: over the masks, each u_o is a sum of
    independent terms v_i M_io W_io (and m_o b_o), so with M ~ Bernoulli(1 - p)

        E[u]   = (1 - p) (v W + b),
        Var[u] = p (1 - p) ((v * v)(W * W) + b * b),

    v being the layer input rows (batch, fan_in) (for a convolution, its
    patches). Returns (mean, var), both (batch, units), in v's dtype.
    """
    p = _check_rate(p, "dropconnect_moments")
    mean = v @ w
    var = (v * v) @ (w * w)
    if b is not None:
        mean += b
        var += b * b
    mean *= v.dtype.type(1 - p)
    var *= v.dtype.type(p * (1 - p))
    return mean, var


def dropconnect_gaussian_inference(mean: np.ndarray, var: np.ndarray, activation, rng: np.random.Generator,
                                   samples: int) -> np.ndarray:
    """Wan et al.'s moment-matching inference: r = (1/Z) sum_z a(u_z),
    u_z ~ N(mean, var), the Gaussian approximation of the pre-activation over
    the masks (:func:`dropconnect_moments`), Z = ``samples``.

    Wan et al. (2013), section 4 (Algorithm 2). ``activation`` is an
    element-wise function a, or None for a linear output, where E[u] = mean
    exactly and the mean is returned without sampling.
    """
    if isinstance(samples, (bool, np.bool_)) or not isinstance(samples, numbers.Integral) or samples < 1:
        raise ValueError(f"The 'samples' parameter (Z) of dropconnect_gaussian_inference must be an int >= 1. "
                         f"Got {samples!r} instead.")
    _check_rng(rng, "dropconnect_gaussian_inference")
    if activation is None:
        return mean.copy()
    std = np.sqrt(var)
    total = np.zeros_like(mean)
    u = np.empty_like(mean)
    for _ in range(int(samples)):
        rng.standard_normal(mean.shape, dtype=mean.dtype, out=u)
        u *= std
        u += mean
        total += activation(u)
    return total / mean.dtype.type(samples)


def standout_keep_prob(a: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Standout's keep probability pi = sigmoid(alpha a + beta), a = x W + b the
    layer's own pre-activation.

    Ba and Frey, "Adaptive dropout for training deep neural networks" (NIPS
    2013), section 2: the "standout" network shares the layer's weights, so
    each unit's keep probability grows with its own input; h = m * g(a) with
    m ~ Bernoulli(pi) in training and h = pi * g(a) at evaluation.
    """
    for name, value in (("alpha", alpha), ("beta", beta)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"The {name!r} parameter of standout_keep_prob must be a finite float. "
                             f"Got {value!r} instead.")
    return expit(a * a.dtype.type(alpha) + a.dtype.type(beta))


def standout_keep(pi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """m ~ Bernoulli(pi) element by element: m = [u < pi], u ~ U[0, 1) in pi's dtype."""
    return _check_rng(rng, "standout_keep").random(pi.shape, dtype=pi.dtype) < pi


def unit_dropout_keep(units: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Unit dropout on weights, the paper's untargeted baseline: one Bernoulli(1 - p)
    per column of W; the layer uses W * keep / (1 - p).

    Gomez et al. (2019), section 2 ("unit dropout"), as the released code's
    ``untargeted_unit`` applies it: to the weight matrix only (the bias is
    untouched), with inverted scaling.
    """
    p = _check_rate(p, "unit_dropout_keep")
    return _bernoulli_complement(_check_rng(rng, "unit_dropout_keep"), p, _check_shape(units, "unit_dropout_keep"))


def weight_dropout_keep(shape, p: float, rng: np.random.Generator) -> np.ndarray:
    """Weight dropout, the paper's untargeted baseline: one Bernoulli(1 - p) per
    weight; the layer uses W * keep / (1 - p) (the released code's
    ``untargeted_weight``, ``tf.nn.dropout`` on W; the bias is untouched). The
    same mask as DropConnect's, which instead does not rescale in training."""
    p = _check_rate(p, "weight_dropout_keep")
    return _bernoulli_complement(_check_rng(rng, "weight_dropout_keep"), p, _check_shape(shape, "weight_dropout_keep"))


# -------------------------------------------------------------------- pruning
#
# Pruning removes, for good, what targeted dropout targets: at fraction f it
# keeps exactly what targeted dropout with gamma = f and alpha = 1 keeps (every
# target dropped, nothing else). Han, Pool, Tran and Dally, "Learning both
# Weights and Connections for Efficient Neural Networks" (2015), prune by
# magnitude; Gomez et al. (2019) measure targeted dropout by pruning this way.
# tdnumpy.prune applies these masks to a model and keeps them there.
#
# Pruning again only adds to what was pruned. With ``previous``, an earlier
# keep-mask, the entries it drops rank below every other entry (below kept
# zeros too, which tie with them at |w| = 0) and stay dropped: the result is
# previous AND the new keep. So pruning twice at f is pruning once, and
# pruning at f1 then at f2 >= f1 is pruning at f2.


def _ranked_below(scores: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """``scores`` (non-negative) with the entries ``previous`` drops set to -1."""
    if previous is not None:
        scores[~previous] = -1
    return scores


def _keep_also(keep: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    return keep if previous is None else keep & previous


def weight_prune_keep(w: np.ndarray, fraction: float, previous: np.ndarray | None = None) -> np.ndarray:
    """Weight pruning per column, the paper's definition: a keep-mask shaped like ``w``.

        keep[i, o] = not T[i, o],   T = weight_targets(w, f),

    removing the k = floor(f N_row) smallest |W[i, o]| of every column o (ties:
    lower row index first), so each column keeps N_row - k weights (with
    ``previous``, see above: max(k, the number it dropped) go).
    """
    _check_weight(w, "weight_prune_keep", finite=False)  # checked while ranking
    fraction = _check_fraction(fraction, "fraction", "weight_prune_keep")
    if previous is not None:
        previous = _check_mask(previous, "previous", w.shape, "weight_prune_keep")
    keys = _ranked_below(magnitude_keys(w, "weight_prune_keep"), None if previous is None else previous.T)
    return _keep_also(~_bottom_k_rows(keys, n_targets(w.shape[0], fraction)).T, previous)


def unit_prune_keep(w: np.ndarray, fraction: float, previous: np.ndarray | None = None) -> np.ndarray:
    """Unit pruning: one boolean per unit (column of ``w``), False for the
    k = floor(f N_col) columns of smallest L2 norm ||W[:, o]||_2 (ties: lower
    column index first). A pruned unit loses its weight column and its bias.
    ``previous`` is one boolean per unit, as returned.
    """
    _check_weight(w, "unit_prune_keep")
    fraction = _check_fraction(fraction, "fraction", "unit_prune_keep")
    if previous is not None:
        previous = _check_mask(previous, "previous", (w.shape[1],), "unit_prune_keep")
    norms = _ranked_below(unit_norms(w), previous)
    return _keep_also(~bottom_k(norms, n_targets(w.shape[1], fraction)), previous)


def magnitude_prune_keep(w: np.ndarray, fraction: float, previous: np.ndarray | None = None) -> np.ndarray:
    """Layer-wise unstructured pruning: remove the k = floor(f N_row N_col)
    smallest |W| of the whole matrix (ties: lower index first, in C order of
    ``w``), whatever column they are in."""
    return _union_prune_keep([w], fraction, [previous], "magnitude_prune_keep")[0]


def global_prune_keep(weights, fraction: float, previous=None) -> list[np.ndarray]:
    """Global magnitude pruning: one threshold for several matrices.

    The k = floor(f sum_l N_l) smallest magnitudes of the union of all entries
    are removed (ties: the earlier matrix first, then lower index in C order),
    so a layer loses more or less than f depending on how its magnitudes
    compare with the others'. Returns one keep-mask per matrix; ``previous``
    is a list of earlier keep-masks (None for a matrix not pruned yet).
    """
    return _union_prune_keep(weights, fraction, previous, "global_prune_keep")


def _union_prune_keep(weights, fraction: float, previous, owner: str) -> list[np.ndarray]:
    """The k = floor(f N) smallest magnitudes of the union of ``weights`` removed."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)) or not weights:
        raise TypeError(f"The 'weights' parameter of {owner} must be a non-empty list of "
                        f"weight matrices. Got {type(weights).__name__} instead.")
    for w in weights:
        _check_weight(w, owner)
    fraction = _check_fraction(fraction, "fraction", owner)
    previous = [None] * len(weights) if previous is None else list(previous)
    if len(previous) != len(weights):
        raise ValueError(f"The 'previous' parameter of {owner} must hold one mask (or None) per matrix, "
                         f"{len(weights)}. Got {len(previous)} instead.")
    previous = [None if p is None else _check_mask(p, "previous", w.shape, owner) for p, w in zip(previous, weights)]
    union = np.concatenate([_ranked_below(np.abs(w).astype(np.float64), p).reshape(-1)
                            for w, p in zip(weights, previous)])
    removed = bottom_k(union, n_targets(len(union), fraction))
    ends = np.cumsum([w.size for w in weights])[:-1]
    return [_keep_also(~part.reshape(w.shape), p) for part, w, p in zip(np.split(removed, ends), weights, previous)]


def std_prune_keep(w: np.ndarray, quality: float, previous: np.ndarray | None = None) -> np.ndarray:
    """Han et al. (2015), section 4: keep |W| >= q std(W), the threshold a
    quality parameter q times the standard deviation of the layer's weights
    (over all its entries, pruned zeros included; computed in float64)."""
    _check_weight(w, "std_prune_keep")
    quality = check_real(quality, "quality", "std_prune_keep", low=0.0)
    if previous is not None:
        previous = _check_mask(previous, "previous", w.shape, "std_prune_keep")
    magnitudes = np.abs(w).astype(np.float64)
    return _keep_also(magnitudes >= quality * np.std(w, dtype=np.float64), previous)


# ------------------------------------------ the authors' released TensorFlow code


def _tf_threshold_rows(rows: np.ndarray, idx: int) -> np.ndarray:
    """rows < sort(rows, axis=1)[:, idx], the released code's strict threshold,
    along each row of a C-contiguous array.

    Where idx >= N (gamma = 1) the TensorFlow code indexes past the end of the
    sorted column; here the threshold is then +inf, so every entry is targeted.
    """
    if idx >= rows.shape[1]:
        return np.ones(rows.shape, bool)
    return rows < np.partition(rows, idx, axis=1)[:, idx:idx + 1]


def tf_weight_targets(w: np.ndarray, gamma: float) -> np.ndarray:
    """Targets as the released ``targeted_weight_dropout`` computes them.

    idx = int(float32(gamma) * float32(N_row)) and, per column,
    target = |W| < sort(|W|)[idx]. Differences from :func:`weight_targets`:

    - the threshold is strict, so where |W| ties at the idx-th value fewer than
      k entries are targeted; a column with more than k exact zeros gets no
      targets at all (0 < 0 is false);
    - idx comes from a float32 product, which can differ from floor(gamma N)
      by one when gamma N is within float32 rounding of an integer;
    - gamma = 1 gives idx = N_row, past the end of the sorted column in the
      released code; here every entry is then targeted.

    On tie-free columns (and exact idx) the two agree.
    """
    _check_weight(w, "tf_weight_targets", finite=False)  # checked on the keys
    gamma = _check_fraction(gamma, "gamma", "tf_weight_targets")
    idx = int(np.float32(gamma) * np.float32(w.shape[0]))
    return _tf_threshold_rows(magnitude_keys(w, "tf_weight_targets"), idx).T


def tf_unit_targets(w: np.ndarray, gamma: float) -> np.ndarray:
    """Targets as the released ``targeted_unit_dropout`` computes them:
    idx = int(gamma N_col) (a Python float product), and the columns with
    ||W[:, o]||_2 < sort(norms)[idx]. Same differences as
    :func:`tf_weight_targets` (strict threshold, gamma = 1 targets all)."""
    _check_weight(w, "tf_unit_targets")
    gamma = _check_fraction(gamma, "gamma", "tf_unit_targets")
    return _tf_threshold_rows(unit_norms(w)[None, :], int(gamma * w.shape[1]))[0]


def tf_targeted_weight_keep(w: np.ndarray, gamma: float, alpha: float, rng: np.random.Generator,
                            training: bool = True) -> np.ndarray:
    """Keep-mask of the released ``targeted_weight_dropout``, shaped like ``w``.

    Training: drop = target and u < alpha, u ~ U[0, 1) drawn in float32 (as
    ``tf.random_uniform``) for every weight; column by column here (a
    convention of this library: TensorFlow draws in w's row-major order from
    its own generator, which cannot be reproduced anyway). Evaluation (``training=False``): every target is dropped, i.e. the
    released code prunes at test time; the paper's definition applies no
    dropout at evaluation and leaves pruning to an explicit step.
    """
    targets = tf_weight_targets(w, gamma).T  # one row per column of w
    alpha = _check_fraction(alpha, "alpha", "tf_targeted_weight_keep")
    if not training:
        return ~targets.T
    u = _check_rng(rng, "tf_targeted_weight_keep").random(targets.shape, dtype=np.float32)
    return ~(targets & (u < np.float32(alpha))).T


def tf_targeted_unit_keep(w: np.ndarray, gamma: float, alpha: float, rng: np.random.Generator,
                          training: bool = True) -> np.ndarray:
    """Keep-mask of the released ``targeted_unit_dropout``, shaped like ``w``.

    Differs from :func:`targeted_unit_keep` in three ways: the noise is drawn
    per *weight* inside the targeted columns (drop = target column and
    1 - alpha < u), so a targeted unit loses a random alpha fraction of its
    weights rather than all or nothing; the bias is not touched; and at
    evaluation every targeted column is zeroed. u is drawn in float32 and
    compared with float32(1 - alpha), as in the TensorFlow code.
    """
    columns = tf_unit_targets(w, gamma)
    alpha = _check_fraction(alpha, "alpha", "tf_targeted_unit_keep")
    targets = np.broadcast_to(columns, w.shape)
    if not training:
        return ~targets
    u = _check_rng(rng, "tf_targeted_unit_keep").random(w.shape, dtype=np.float32)
    return ~(targets & (np.float32(1 - alpha) < u))

"""Dropout and its relatives, the baselines targeted dropout is compared with.

Each function returns a keep-mask (True = kept) or a noise array; the
scaling (inverted or classic) is the layer's business
(:mod:`tdnumpy.nn.dropout`, :mod:`tdnumpy.nn.noise`). p is always the drop
rate: each element is dropped with probability p and kept with probability
1 - p.

Sources: Srivastava et al. (2014) for dropout and Gaussian dropout; Tompson
et al. (2015) for spatial dropout; Wan et al. (2013) for DropConnect and its
moment-matching inference; Ba and Frey (2013) for standout; Gomez et al.
(2019), section 2, for the untargeted unit and weight dropout baselines.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .._docs import shared_docstring
from .._validation import check_generator, check_int, check_real
from ._draws import bernoulli_complement
from ._select import MAX_ELEMENTS, check_floats, check_shape

# The drop rate and the generator of the Bernoulli keep-masks.
_RATE = """
    p : float
        The drop rate, in [0, 1).
    rng : numpy.random.Generator
        The source of d ~ Bernoulli(p), one draw per entry of the mask; keep = not d.
    """


@shared_docstring(rate=_RATE)
def dropout_keep(shape, p: float, rng: np.random.Generator) -> np.ndarray:
    """Bernoulli dropout: a keep-mask, each element kept independently with probability 1 - p.

    Srivastava, Hinton, Krizhevsky, Sutskever and Salakhutdinov, "Dropout: A
    Simple Way to Prevent Neural Networks from Overfitting" (JMLR 2014), eq. (1)
    (their p is the *keep* probability): r_j ~ Bernoulli(1 - p), y~ = r * y.
    keep = not d with d ~ Bernoulli(p) drawn as in :func:`bernoulli`. The
    scaling (inverted: 1 / (1 - p) in training; classic: 1 - p at evaluation)
    is the layer's business, see :class:`tdnumpy.nn.dropout.Dropout`.

    Parameters
    ----------
    shape : int or tuple of int
        The shape of the activations to mask, e.g. (batch, units): one draw
        per element.
    {{rate}}

    Returns
    -------
    keep : ndarray of bool, shape ``shape``
        True where kept.
    """
    p = check_real(p, "p", "dropout_keep", low=0, high=1, closed="left")
    return bernoulli_complement(check_generator(rng, "rng", "dropout_keep"), p, check_shape(shape, "dropout_keep"))


def gaussian_dropout_noise(shape, p: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Multiplicative Gaussian noise e ~ N(1, p / (1 - p)), one per element.

    Srivastava et al. (2014), section 10: the noise with the mean and variance
    of inverted Bernoulli dropout, r / (1 - p) with r ~ Bernoulli(1 - p), whose
    variance is p / (1 - p). y~ = e * y keeps E[y~] = y; at evaluation the
    layer is the identity.

    Parameters
    ----------
    shape : int or tuple of int
        The shape of the noise.
    p : float
        The drop rate of the Bernoulli dropout whose mean and variance the
        noise matches, in [0, 1).
    rng : numpy.random.Generator
        The source of the standard normal draws.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        The dtype of the noise.

    Returns
    -------
    e : ndarray of shape ``shape``, ``dtype``
        The noise, mean 1 and variance p / (1 - p).
    """
    p = check_real(p, "p", "gaussian_dropout_noise", low=0, high=1, closed="left")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(
            f"The 'dtype' parameter of gaussian_dropout_noise must be float32 or float64. Got {dtype!r} instead."
        )
    shape = check_shape(shape, "gaussian_dropout_noise")
    noise = check_generator(rng, "rng", "gaussian_dropout_noise").standard_normal(shape, dtype=dtype)
    noise *= np.sqrt(p / (1 - p)).astype(dtype)
    noise += 1
    return noise


@shared_docstring(rate=_RATE)
def spatial_dropout_keep(batch: int, channels: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Spatial dropout: a (batch, channels) keep-mask, one Bernoulli(1 - p) per example and channel.

    The layer spreads each entry over the whole feature map of its channel.

    Tompson, Goroshin, Jain, LeCun and Bregler, "Efficient Object Localization
    Using Convolutional Networks" (CVPR 2015), section 3.2: adjacent pixels of
    a feature map are strongly correlated, so whole channels are dropped.

    Parameters
    ----------
    batch, channels : int
        The shape of the mask, each >= 0.
    {{rate}}

    Returns
    -------
    keep : ndarray of bool, shape (batch, channels)
        True where the channel is kept.
    """
    batch = check_int(batch, "batch", "spatial_dropout_keep", low=0)
    channels = check_int(channels, "channels", "spatial_dropout_keep", low=0)
    p = check_real(p, "p", "spatial_dropout_keep", low=0, high=1, closed="left")
    if batch * channels > MAX_ELEMENTS:
        raise ValueError(
            f"The 'batch' and 'channels' parameters of spatial_dropout_keep ask for "
            f"{batch * channels:,} draws; at most {MAX_ELEMENTS:,} (2**31). Got batch {batch}, "
            f"channels {channels} instead."
        )
    shape = (batch, channels)
    return bernoulli_complement(check_generator(rng, "rng", "spatial_dropout_keep"), p, shape)


@shared_docstring(rate=_RATE)
def dropconnect_keep(shape, p: float, rng: np.random.Generator) -> np.ndarray:
    """DropConnect: a keep-mask on weights (and biases), each kept with probability 1 - p.

    Wan, Zeiler, Zhang, LeCun and Fergus, "Regularization of Neural Networks
    using DropConnect" (ICML 2013), eq. (2): r = a((M * W) v), M_ij ~
    Bernoulli(1 - p), no scaling in training. ``shape`` is the weight's
    (fan_in, units), or (batch, fan_in, units) for one mask per example.

    Parameters
    ----------
    shape : int or tuple of int
        The shape of the mask: the weight's (fan_in, units), or (batch, fan_in,
        units) for one mask per example; for a bias mask, (units,) or (batch, units).
    {{rate}}

    Returns
    -------
    keep : ndarray of bool, shape ``shape``
        M: True where the weight is kept.
    """
    p = check_real(p, "p", "dropconnect_keep", low=0, high=1, closed="left")
    rng = check_generator(rng, "rng", "dropconnect_keep")
    return bernoulli_complement(rng, p, check_shape(shape, "dropconnect_keep"))


def dropconnect_moments(v: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: float):
    """Mean and variance of the DropConnect pre-activation u = v (M * W) + m * b.

    Wan et al. (2013), section 3.2: over the masks, each u_o is a sum of
    independent terms v_i M_io W_io (and m_o b_o), so with M ~ Bernoulli(1 - p)

        E[u]   = (1 - p) (v W + b),
        Var[u] = p (1 - p) ((v * v)(W * W) + b * b),

    v being the layer input rows (batch, fan_in) (for a convolution, its
    patches).

    Parameters
    ----------
    v : ndarray of shape (batch, fan_in), float32 or float64
        The layer's input rows; not checked.
    w : ndarray of shape (fan_in, units)
        The weight matrix W; not checked.
    b : ndarray of shape (units,) or None
        The bias, masked like the weights; None for none.
    p : float
        The drop rate, in [0, 1).

    Returns
    -------
    mean, var : ndarray of shape (batch, units)
        E[u] and Var[u], in the dtype of ``v @ w`` (v's when w has it).
    """
    owner = "dropconnect_moments"
    p = check_real(p, "p", owner, low=0, high=1, closed="left")
    v = _float_array(v, "v", owner, ndim=2)
    w = _float_array(w, "w", owner, ndim=2, dtype=v.dtype)
    if b is not None:
        b = _float_array(b, "b", owner, ndim=1, dtype=v.dtype)
    if v.shape[1] != w.shape[0] or b is not None and b.shape != (w.shape[1],):
        raise ValueError(
            f"{owner} needs v of shape (batch, fan_in), w of shape (fan_in, units) and b of shape "
            f"(units,). Got {v.shape}, {w.shape} and {None if b is None else b.shape}."
        )
    mean = v @ w
    var = (v * v) @ (w * w)
    if b is not None:
        mean += b
        var += b * b
    mean *= v.dtype.type(1 - p)
    var *= v.dtype.type(p * (1 - p))
    return mean, var


MAX_SAMPLES = 100_000


def dropconnect_gaussian_inference(
    mean: np.ndarray, var: np.ndarray, activation, rng: np.random.Generator, samples: int
) -> np.ndarray:
    """Wan et al.'s moment-matching inference: r = (1/Z) sum_z a(u_z), u_z ~ N(mean, var).

    N(mean, var) is the Gaussian approximation of the pre-activation over
    the masks (:func:`dropconnect_moments`), Z = ``samples``. Wan et al.
    (2013), section 3.2 (Algorithm 2).

    Parameters
    ----------
    mean, var : ndarray of shape (batch, units), float32 or float64
        The moments of u, from :func:`dropconnect_moments`.
    activation : callable or None
        The element-wise function a, or None for a linear output, where
        E[u] = mean exactly and the mean is returned without sampling.
    rng : numpy.random.Generator
        The source of the u_z.
    samples : int
        Z, 1 to ``MAX_SAMPLES`` (100,000; each costs a pass over the batch).

    Returns
    -------
    r : ndarray of shape (batch, units), mean's dtype
        The averaged activations (a copy of ``mean`` when ``activation`` is None).
    """
    owner = "dropconnect_gaussian_inference"
    samples = check_int(samples, "samples", owner, low=1, high=MAX_SAMPLES)
    check_generator(rng, "rng", owner)
    if activation is not None and not callable(activation):
        raise TypeError(
            f"The 'activation' parameter of {owner} must be a function or None. "
            f"Got {type(activation).__name__} instead."
        )
    mean = _float_array(mean, "mean", owner)
    var = _float_array(var, "var", owner, dtype=mean.dtype)
    if var.shape != mean.shape:
        raise ValueError(
            f"The 'var' parameter of {owner} must have the shape of 'mean', {mean.shape}. Got {var.shape} instead."
        )
    if (var < 0).any():
        raise ValueError(
            f"The 'var' parameter of {owner} must be >= 0 everywhere (a variance). "
            f"Got a minimum of {float(var.min())!r} instead."
        )
    if activation is None:
        return mean.copy()
    std = np.sqrt(var)
    total = np.zeros_like(mean)
    u = np.empty_like(mean)
    for _ in range(samples):
        rng.standard_normal(mean.shape, dtype=mean.dtype, out=u)
        u *= std
        u += mean
        total += activation(u)
    return total / mean.dtype.type(samples)


STANDOUT_FORMS = ("paper", "shifted")


def standout_keep_prob(
    a: np.ndarray, alpha: float, beta: float, input_sum: np.ndarray | None = None, *, form: str = "paper"
) -> np.ndarray:
    """Standout's keep probability pi, in the paper's form or the shifted one.

    Ba and Frey, "Adaptive dropout for training deep neural networks" (NIPS
    2013), section 2: a "standout" network with weights W_s = alpha W + beta
    gives unit j of the layer a = x W + b the keep probability

        pi_j = sigmoid(sum_i (alpha w_ij + beta) x_i)    (bias as input x_0 = 1)
             = sigmoid(alpha a_j + beta (sum_i x_i + 1))    (form="paper").

    The shifted form, pi_j = sigmoid(alpha a_j + beta) (form="shifted"), adds
    beta once instead of once per input; the two agree only when beta = 0. In
    training h = m * g(a), m ~ Bernoulli(pi); at evaluation h = pi * g(a).

    Parameters
    ----------
    a : ndarray of shape (batch, units) or (batch, channels, height, width), float
        The pre-activation a.
    alpha, beta : float
        The standout network's scale and shift; any finite reals.
    input_sum : ndarray or None
        form="paper": sum_i x_i, the sum of the inputs that reach each output,
        broadcastable to ``a`` ((batch, 1) for a dense layer; (batch, 1,
        height, width), the sum over each patch, for a convolution); same dtype
        as ``a``. form="shifted": must be None.
    form : {"paper", "shifted"}, default="paper"
        Which keep probability.

    Returns
    -------
    pi : ndarray shaped like ``a``, a's dtype
        The keep probabilities, in [0, 1].
    """
    a = _float_array(a, "a", "standout_keep_prob")
    alpha = check_real(alpha, "alpha", "standout_keep_prob")
    beta = check_real(beta, "beta", "standout_keep_prob")
    if form not in STANDOUT_FORMS:
        raise ValueError(
            f"The 'form' parameter of standout_keep_prob must be one of {STANDOUT_FORMS}. Got {form!r} instead."
        )
    z = a * a.dtype.type(alpha)
    if form == "shifted":
        if input_sum is not None:
            raise ValueError(
                "The 'input_sum' parameter of standout_keep_prob must be None for form='shifted' "
                "(that form adds beta once). Got an array instead."
            )
        z += a.dtype.type(beta)
        return expit(z, out=z)
    if input_sum is None:
        raise ValueError(
            "The 'input_sum' parameter of standout_keep_prob is needed for form='paper': the sum "
            "of the inputs x_i of each output, broadcastable to 'a'. Got None instead."
        )
    input_sum = _float_array(input_sum, "input_sum", "standout_keep_prob", dtype=a.dtype)
    try:
        shift = np.broadcast_shapes(input_sum.shape, a.shape)
    except ValueError:
        shift = None
    if shift != a.shape:
        raise ValueError(
            f"The 'input_sum' parameter of standout_keep_prob must broadcast to a's shape "
            f"{a.shape}. Got shape {input_sum.shape} instead."
        )
    z += (input_sum + a.dtype.type(1)) * a.dtype.type(beta)
    return expit(z, out=z)


def standout_keep(pi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Standout's mask m ~ Bernoulli(pi), element by element.

    m = [u < pi], u ~ U[0, 1) drawn in pi's dtype.

    Parameters
    ----------
    pi : ndarray, float32 or float64
        The keep probabilities, from :func:`standout_keep_prob`.
    rng : numpy.random.Generator
        The source of u.

    Returns
    -------
    m : ndarray of bool, shaped like ``pi``
        True where kept.
    """
    pi = _float_array(pi, "pi", "standout_keep")
    if pi.dtype == np.float16:  # NumPy draws uniforms in float32 and float64 only
        raise TypeError("The 'pi' parameter of standout_keep must be float32 or float64. Got float16 instead.")
    if not ((pi >= 0) & (pi <= 1)).all():
        raise ValueError(
            f"The 'pi' parameter of standout_keep must hold probabilities in [0, 1]. "
            f"Got values from {float(pi.min())!r} to {float(pi.max())!r} instead."
        )
    return check_generator(rng, "rng", "standout_keep").random(pi.shape, dtype=pi.dtype) < pi


def _float_array(x, name: str, owner: str, *, ndim: int | None = None, dtype=None) -> np.ndarray:
    """``x`` if it is an ndarray that :func:`~tdnumpy.masks._select.check_floats`
    accepts (finite float16, float32 or float64), of ``dtype`` and ``ndim`` when
    given; a TypeError or ValueError naming it otherwise."""
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"The {name!r} parameter of {owner} must be a NumPy array of floats. Got {type(x).__name__} instead."
        )
    check_floats(x, name, owner)
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"The {name!r} parameter of {owner} must have the dtype of the first array, {dtype}. Got {x.dtype} instead."
        )
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"The {name!r} parameter of {owner} must be {ndim}-D. Got shape {x.shape} instead.")
    return x


@shared_docstring(rate=_RATE)
def unit_dropout_keep(units: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Unit dropout on weights, the paper's untargeted baseline: one Bernoulli(1 - p) per column of W.

    The layer uses W * keep / (1 - p).

    Gomez et al. (2019), section 2 ("unit dropout"), as the released code's
    ``untargeted_unit`` applies it: to the weight matrix only (the bias is
    untouched), with inverted scaling.

    Parameters
    ----------
    units : int
        The number of columns N_col.
    {{rate}}

    Returns
    -------
    keep : ndarray of bool, shape (units,)
        True where the column is kept.
    """
    p = check_real(p, "p", "unit_dropout_keep", low=0, high=1, closed="left")
    rng = check_generator(rng, "rng", "unit_dropout_keep")
    return bernoulli_complement(rng, p, check_shape(units, "unit_dropout_keep", "units"))


@shared_docstring(rate=_RATE)
def weight_dropout_keep(shape, p: float, rng: np.random.Generator) -> np.ndarray:
    """Weight dropout, the paper's untargeted baseline: one Bernoulli(1 - p) per weight.

    The layer uses W * keep / (1 - p) (the released code's
    ``untargeted_weight``, ``tf.nn.dropout`` on W; the bias is untouched). The
    same mask as DropConnect's, which instead does not rescale in training.

    Parameters
    ----------
    shape : int or tuple of int
        The weight matrix's shape, (fan_in, units).
    {{rate}}

    Returns
    -------
    keep : ndarray of bool, shape ``shape``
        True where the weight is kept.
    """
    p = check_real(p, "p", "weight_dropout_keep", low=0, high=1, closed="left")
    rng = check_generator(rng, "rng", "weight_dropout_keep")
    return bernoulli_complement(rng, p, check_shape(shape, "weight_dropout_keep"))

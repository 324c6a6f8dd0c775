"""Pictures of trained networks: what targeting does to the weights, and how
much a network depends on its small ones.

Unlike :mod:`tdnumpy.experiments.figures`, which draws a sweep's CSV, these
read the networks themselves (:class:`~tdnumpy.experiments.Run` s).
"""

from __future__ import annotations

import numpy as np

from ..masks import unit_ranks
from ..nn.weighted import choose_layers
from .figures import plt


def weight_histograms(runs: dict, bins: int = 80) -> plt.Figure:
    """Histograms of |w| per weighted layer, one line per run.

    Parameters
    ----------
    runs : dict of str to Run
        Label -> run (same model spec).
    bins : int
        Bins on a logarithmic |w| axis.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per layer; each panel's lines are labelled with the runs.
    """
    first = next(iter(runs.values())).model
    layers = choose_layers(first)
    figure, axes = plt.subplots(1, len(layers), figsize=(4.2 * len(layers), 3.6), squeeze=False)
    for ax, name in zip(axes[0], layers):
        values = {label: np.abs(run.model.layer(name).weight.value).ravel() for label, run in runs.items()}
        positive = np.concatenate([v[v > 0] for v in values.values()])
        edges = np.geomspace(np.quantile(positive, 1e-4), positive.max(), bins + 1)
        for label, v in values.items():
            counts, _ = np.histogram(v, edges)
            ax.step(edges[:-1], counts / len(v), where="post", label=label)
        ax.set_xscale("log")
        ax.set_xlabel(f"|w| of {name}")
        ax.set_ylabel("fraction of weights")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.suptitle("weight magnitudes after training", fontsize=10)
    figure.tight_layout()
    return figure


def unit_images(runs: dict, layer: str = "fc1", fraction: float = 0.5, shown: int = 8) -> plt.Figure:
    """The incoming weights of a first layer's units as 28 x 28 images: the
    ``shown`` units of largest L2 norm (kept by unit pruning at ``fraction``)
    beside the ``shown`` of smallest (pruned), one row pair per run.

    Parameters
    ----------
    runs : dict of str to Run
        Label -> run whose ``layer`` takes the 784 pixels.
    layer : str
        The dense layer drawn.
    fraction : float
        The unit-pruning fraction the caption refers to.
    shown : int
        Units drawn per group.

    Returns
    -------
    matplotlib.figure.Figure
        A grid of images, each with the same colour scale within a run.
    """
    figure, axes = plt.subplots(2 * len(runs), shown, figsize=(1.1 * shown, 2.3 * len(runs)), squeeze=False)
    for r, (label, run) in enumerate(runs.items()):
        w = run.model.layer(layer).weight.value
        order = np.argsort(unit_ranks(w), kind="stable")  # rank 0: smallest norm
        groups = {"kept": order[::-1][:shown], "pruned": order[:shown]}
        scale = np.abs(w).max()
        for g, (what, units) in enumerate(groups.items()):
            for c, unit in enumerate(units):
                ax = axes[2 * r + g][c]
                ax.imshow(w[:, unit].reshape(28, 28), cmap="RdBu_r", vmin=-scale, vmax=scale)
                ax.set_xticks([])
                ax.set_yticks([])
            axes[2 * r + g][0].set_ylabel(f"{label}\n{what}", fontsize=7)
    figure.suptitle(
        f"{layer} weights of the units of largest norm (kept) and smallest norm (pruned at "
        f"{100 * fraction:g}% unit sparsity); red positive, blue negative",
        fontsize=9,
    )
    figure.tight_layout()
    return figure


def dependence_plot(rows: list[dict]) -> plt.Figure:
    """True change in training loss on removing the bottom fraction of every
    weight column, against its first- and second-order Taylor estimates.

    Parameters
    ----------
    rows : list of dict
        :func:`tdnumpy.experiments.dependence.dependence` rows with a ``network`` key added.

    Returns
    -------
    matplotlib.figure.Figure
        One line per network and quantity (labelled "network: quantity").
    """
    figure, ax = plt.subplots(figsize=(6.4, 4.4))
    colours = plt.get_cmap("tab10")
    for i, network in enumerate(dict.fromkeys(r["network"] for r in rows)):
        mine = [r for r in rows if r["network"] == network]
        x = [100 * float(r["fraction"]) for r in mine]
        for key, style in (("true_change", "-"), ("second_order", "--"), ("first_order", ":")):
            y = [float(r[key]) for r in mine]
            ax.plot(x, y, style, marker=".", color=colours(i), label=f"{network}: {key.replace('_', ' ')}")
    ax.set_yscale("symlog", linthresh=1e-5)  # logarithmic beyond +-1e-5, linear inside: negatives show
    ax.set_xlabel("weights removed from every column (%)")
    ax.set_ylabel("change in training loss")
    ax.set_title("dependence on the small weights: true change and Taylor estimates", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    figure.tight_layout()
    return figure

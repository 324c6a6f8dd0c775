"""Figures and tables drawn from a sweep's ``results.csv``.

Each function takes the CSV's rows (:func:`read_results`) and returns a
matplotlib ``Figure`` or a Markdown table; nothing here trains or measures.
Curves are means over seeds, bands their range (lowest to highest seed), and
every curve carries its variant's label, so a reader (or a test) can count
them: ``[line.get_label() for line in ax.lines]``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display is needed or wanted
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .._io import atomic_open  # noqa: E402


def read_results(path) -> list[dict]:
    """The rows of a sweep's CSV, as dicts of text.

    Parameters
    ----------
    path : str or os.PathLike
        ``results.csv`` (or a copy of it).

    Returns
    -------
    list of dict
        One dict per row, keyed by column.
    """
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def save_figure(figure, path) -> Path:
    """Write ``figure`` as a PNG atomically, without the metadata that would
    make two drawings of the same data differ.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure (closed afterwards).
    path : str or os.PathLike
        The PNG file.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    with atomic_open(path, "wb") as f:
        figure.savefig(f, format="png", dpi=120, metadata={"Software": None})
    plt.close(figure)
    return path


def setting_columns(rows: list[dict]) -> list[str]:
    """The columns a sweep varied besides the seed: those its CSV has between
    ``reg`` and ``seed`` (RunConfig fields, then evaluation settings).

    Parameters
    ----------
    rows : list of dict
        The CSV's rows.

    Returns
    -------
    list of str
        The column names, in the CSV's order.
    """
    header = list(rows[0])
    return header[header.index("reg") + 1 : header.index("seed")]


def over_seeds(rows: list[dict], value: str = "test_accuracy") -> dict:
    """Mean, standard deviation, lowest and highest of ``value`` over seeds,
    per variant, setting, prune entry and fraction.

    Parameters
    ----------
    rows : list of dict
        The CSV's rows.
    value : str
        The column to summarise.

    Returns
    -------
    dict
        ``{(variant, setting, prune, fraction): {"mean", "std", "low", "high",
        "sparsity", "n"}}`` with ``setting`` the tuple of the row's values in
        :func:`setting_columns` (rows differing there are never pooled), std
        the sample standard deviation (0 for one seed) and ``sparsity`` the
        mean reached.
    """
    columns = setting_columns(rows)
    groups = defaultdict(list)
    for r in rows:
        groups[(r["variant"], tuple(r[k] for k in columns), r["prune"], r["fraction"])].append(r)
    summary = {}
    for key, members in groups.items():
        v = np.array([float(m[value]) for m in members])
        summary[key] = {
            "mean": float(v.mean()),
            "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "low": float(v.min()),
            "high": float(v.max()),
            "n": len(v),
            "sparsity": float(np.mean([float(m["sparsity"]) for m in members])),
        }
    return summary


def curve_label(variant: str, setting: tuple, settings_of_variant: list, columns: list) -> str:
    """A curve's label: the variant, plus the settings that vary within it.

    Parameters
    ----------
    variant : str
        The variant's label.
    setting : tuple
        The curve's values of ``columns``.
    settings_of_variant : list of tuple
        Every setting the variant has in the CSV.
    columns : list of str
        The setting columns.

    Returns
    -------
    str
        ``"td"`` or ``"td gamma=0.5"``.
    """
    varying = [i for i in range(len(columns)) if len({s[i] for s in settings_of_variant}) > 1]
    return " ".join([variant] + [f"{columns[i]}={setting[i]}" for i in varying])


def accuracy_vs_sparsity(rows: list[dict], title: str = "") -> plt.Figure:
    """Test accuracy against the sparsity pruning reached, one panel per prune
    entry (weight and unit side by side), one curve per variant: the mean over
    seeds with a band from the lowest to the highest seed. Sparsity is the
    fraction of the pruned layers' weights that are zero, whatever removed them
    (a pruned unit's column, or a sparsifying baseline's own zeros: such a
    curve starts where its method left the network).

    Parameters
    ----------
    rows : list of dict
        The CSV's rows.
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; each panel's lines are labelled with the variants.
    """
    summary = over_seeds(rows)
    columns = setting_columns(rows)
    prunes = list(dict.fromkeys(r["prune"] for r in rows))
    curves = list(dict.fromkeys((v, setting) for v, setting, _, _ in summary))
    labels = [curve_label(v, setting, [s for w, s in curves if w == v], columns) for v, setting in curves]
    figure, axes = plt.subplots(1, len(prunes), figsize=(6.2 * len(prunes), 4.8), squeeze=False)
    colours = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20")
    for ax, prune in zip(axes[0], prunes):
        for i, ((variant, setting), label) in enumerate(zip(curves, labels)):
            points = sorted(
                (s["sparsity"], s["mean"], s["low"], s["high"])
                for (v, c, p, _), s in summary.items()
                if (v, c, p) == (variant, setting, prune)
            )
            x, mean, low, high = (np.array(c) for c in zip(*points))
            colour = colours(i % colours.N)
            ax.plot(100 * x, 100 * mean, _line_style(label), marker=".", color=colour, label=label)
            ax.fill_between(100 * x, 100 * low, 100 * high, color=colour, alpha=0.2, linewidth=0)
        ax.set_xlabel("sparsity: weights removed (%)")  # a unit's weights count; so do a baseline's own zeros
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{prune} pruning, no retraining")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    seeds = sorted({r["seed"] for r in rows}, key=int)
    axes[0][0].legend(loc="lower left", fontsize=8)
    figure.suptitle(f"{title}\nmean over seeds {', '.join(seeds)}; band: lowest to highest seed", fontsize=10)
    figure.tight_layout()
    return figure


def _line_style(label: str) -> str:
    """Dashed: the random-target controls; dotted: the sparsifying baselines (L0, VD, Smallify)."""
    if "random" in label:
        return "--"
    return ":" if label.startswith(("l0-", "vd-", "smallify")) else "-"


def heat_map(rows: list[dict], fraction: str = "0.9", title: str = "", prune: str = "weight") -> plt.Figure:
    """Test accuracy at one pruning fraction over a gamma x alpha grid.

    Parameters
    ----------
    rows : list of dict
        The CSV's rows, with ``gamma`` and ``alpha`` columns.
    fraction : str
        The fraction, as the CSV writes it.
    title : str
        The figure's title.
    prune : str
        The prune entry's label.

    Returns
    -------
    matplotlib.figure.Figure
        One image, its cells annotated with the accuracy (mean over seeds).
    """
    chosen = [r for r in rows if r["fraction"] == fraction and r["prune"] == prune]
    gammas = sorted({float(r["gamma"]) for r in chosen})
    alphas = sorted({float(r["alpha"]) for r in chosen})
    grid = np.full((len(gammas), len(alphas)), np.nan)
    cells = defaultdict(list)
    for r in chosen:
        cells[(gammas.index(float(r["gamma"])), alphas.index(float(r["alpha"])))].append(float(r["test_accuracy"]))
    for (i, j), values in cells.items():
        grid[i, j] = 100 * np.mean(values)
    figure, ax = plt.subplots(figsize=(1.2 * len(alphas) + 3, 0.6 * len(gammas) + 2.5))
    image = ax.imshow(grid, origin="lower", cmap="viridis", aspect="auto", vmin=np.nanmin(grid), vmax=100)
    for (i, j), value in np.ndenumerate(grid):
        ax.text(
            j,
            i,
            f"{value:.1f}",
            ha="center",
            va="center",
            color="w" if value < np.nanmax(grid) - 5 else "k",
            fontsize=8,
        )
    ax.set_xticks(range(len(alphas)), [f"{a:g}" for a in alphas])
    ax.set_yticks(range(len(gammas)), [f"{g:g}" for g in gammas])
    ax.set_xlabel("alpha (drop rate of a target)")
    ax.set_ylabel("gamma (targeted fraction)")
    figure.colorbar(image, ax=ax, label=f"test accuracy (%) at {100 * float(fraction):g}% weight sparsity")
    ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def mean_std(values) -> str:
    """``"98.21 ± 0.05"`` (percent, two decimals; the std over seeds, none for one seed).

    Parameters
    ----------
    values : sequence of float
        Accuracies in [0, 1].

    Returns
    -------
    str
        The text.
    """
    v = 100 * np.asarray(values, dtype=float)
    return f"{v.mean():.2f}" + (f" ± {v.std(ddof=1):.2f}" if len(v) > 1 else "")


def sparsity_table(
    rows: list[dict],
    columns=(("weight", "0"), ("weight", "0.9"), ("weight", "0.99"), ("unit", "0"), ("unit", "0.5"), ("unit", "0.8")),
) -> str:
    """Test accuracy (%) per variant at chosen prune fractions, mean ± std over seeds.

    Parameters
    ----------
    rows : list of dict
        The CSV's rows.
    columns : sequence of (str, str)
        (prune label, fraction as the CSV writes it) per column.

    Returns
    -------
    str
        A Markdown table, one line per variant.
    """
    head = ["regulariser"] + [f"{p} {100 * float(f):g}%" for p, f in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    summary = over_seeds(rows)
    curves = list(dict.fromkeys((v, setting) for v, setting, _, _ in summary))
    settings = setting_columns(rows)
    for variant, setting in curves:
        cells = [curve_label(variant, setting, [s for w, s in curves if w == variant], settings)]
        for prune, fraction in columns:
            values = [
                float(r["test_accuracy"])
                for r in rows
                if r["variant"] == variant
                and r["prune"] == prune
                and r["fraction"] == fraction
                and tuple(r[k] for k in settings) == setting
            ]
            cells.append(mean_std(values) if values else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def error_table(rows: list[dict]) -> str:
    """Test error (%) per variant and setting, mean ± std over seeds, of the
    unpruned networks (fraction 0 of the first prune entry).

    Parameters
    ----------
    rows : list of dict
        The CSV's rows.

    Returns
    -------
    str
        A Markdown table: variant, the setting columns, error, and the number
        of seeds; DropConnect's Gaussian inference only where DropConnect is on.
    """
    prune, columns = rows[0]["prune"], setting_columns(rows)
    head = ["variant", *columns, "test error (%)", "seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    groups = defaultdict(list)
    for r in rows:
        if r["prune"] == prune and float(r["fraction"]) == 0:
            groups[(r["variant"], *(r[k] for k in columns))].append(r)
    for key, members in groups.items():
        if members[0].get("dropconnect_inference") == "gaussian" and "dropconnect" not in members[0]["reg"]:
            continue  # the inference setting changes DropConnect only
        errors = [1 - float(m["test_accuracy"]) for m in members]
        lines.append("| " + " | ".join([*key, mean_std(errors), str(len(members))]) + " |")
    return "\n".join(lines) + "\n"

"""The shipped experiments at their --quick size: every one runs, draws the
figures it promises with the curves it promises, and reruns to the same CSV
byte for byte; the README's Results table is the committed CSV's."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tdnumpy.experiments import figures
from tdnumpy.experiments.reproduce import CONFIGS, LENET5_COLUMNS, MLP_COLUMNS, config_path, reproduce
from tdnumpy.experiments.sweep_config import load_sweep_config

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def _fashion_folder():
    root = os.environ.get("TDNUMPY_DATA")
    return root and (Path(root) / "fashion-mnist").is_dir()


@pytest.fixture(scope="module")
def quick(tmp_path_factory, mnist_dir):
    """Every shipped configuration at --quick size (those on Fashion-MNIST if
    its files are there), two jobs, into one folder: (folder, {name: files})."""
    folder = tmp_path_factory.mktemp("quick")
    start = time.perf_counter()
    written = {name: reproduce(name, folder / "figures", quick=True, runs=folder / "runs" / name, jobs=2)
               for name in CONFIGS if "fashion" not in name or _fashion_folder()}
    print(f"\nall --quick configurations: {time.perf_counter() - start:.1f} s")
    return folder, written


def files_of(quick, name):
    if name not in quick[1]:
        pytest.skip("Fashion-MNIST not found: set TDNUMPY_DATA to a folder holding fashion-mnist/")
    return quick[1][name]


def rows_of(quick, name):
    return figures.read_results(quick[0] / "figures" / f"{name}.csv")


@pytest.mark.mnist
@pytest.mark.parametrize("name", CONFIGS)
def test_every_configuration_writes_its_csv_and_pngs(quick, name):
    files = files_of(quick, name)
    assert files[0].name == f"{name}.csv" and all(f.exists() and f.stat().st_size for f in files)
    assert all(f.read_bytes().startswith(PNG) for f in files if f.suffix == ".png")
    config = load_sweep_config(config_path(name), quick=True)
    per_cell = sum(len(p.fractions) for p in config.cells[0].prune) * len(config.cells[0].evaluate)
    assert len(rows_of(quick, name)) == sum(sum(len(p.fractions) for p in c.prune) * len(c.evaluate)
                                            for c in config.cells) >= per_cell


@pytest.mark.mnist
@pytest.mark.parametrize("name", ["td-mnist-mlp", "td-fashion-mlp", "td-mnist-lenet5"])
def test_accuracy_curves_have_one_curve_per_regulariser_in_each_panel(quick, name):
    assert {f.name for f in files_of(quick, name)} >= {f"{name}.png", f"{name}.md"}
    rows = rows_of(quick, name)
    figure = figures.accuracy_vs_sparsity(rows)
    expected = [v["label"] for v in _variants(name)]
    assert len(expected) == (14 if "mlp" in name else 9)  # the MLPs: the sparsifying baselines too
    assert [[line.get_label() for line in ax.lines] for ax in figure.axes] == [expected, expected]
    table = (quick[0] / "figures" / f"{name}.md").read_text().splitlines()
    assert [line.split(" | ")[0].lstrip("| ") for line in table[2:]] == expected


def _variants(name):
    from tdnumpy.experiments.sweep_config import tomllib  # tomli before Python 3.11
    return tomllib.loads(config_path(name).read_text())["variants"]


@pytest.mark.mnist
def test_the_mlp_experiment_draws_weights_units_and_dependence(quick):
    names = {f.name for f in quick[1]["td-mnist-mlp"]}
    assert names >= {"td-mnist-mlp-weights.png", "td-mnist-mlp-units.png", "td-mnist-mlp-dependence.csv",
                     "td-mnist-mlp-dependence.png"}
    from tdnumpy.experiments.pictures import dependence_plot
    rows = figures.read_results(quick[0] / "figures" / "td-mnist-mlp-dependence.csv")
    assert [(r["network"], float(r["fraction"])) for r in rows] == [
        (n, f) for n in ("none", "td-weight") for f in (0.1, 0.25, 0.5, 0.75, 0.9)]
    assert len(dependence_plot(rows).axes[0].lines) == 6


@pytest.mark.mnist
def test_the_heat_map_has_a_cell_per_gamma_and_alpha(quick):
    figure = figures.heat_map(rows_of(quick, "gamma-alpha"))
    assert figure.axes[0].images[0].get_array().shape == (2, 2)  # quick: gamma 0.5, 0.9 x alpha 0.5, 1.0


@pytest.mark.mnist
def test_the_han_table_has_both_networks_and_their_numbers(quick):
    table = (quick[0] / "figures" / "han-lenet.md").read_text().splitlines()
    assert [line.split(" | ")[0] for line in table[2:]] == ["| lenet300", "| lenet5"]
    assert "/ 1.64%" in table[2] and "/ 0.8%" in table[3]


@pytest.mark.mnist
def test_the_dropconnect_table_has_both_inferences_for_dropconnect_only(quick):
    lines = (quick[0] / "figures" / "dropconnect-vs-dropout.md").read_text().splitlines()
    head = [cell.strip() for cell in lines[0].strip("| ").split("|")]
    rows = [dict(zip(head, (cell.strip() for cell in line.strip("| ").split("|")))) for line in lines[2:]]
    shown = [(r["variant"], r["dropconnect_inference"]) for r in rows]
    assert ("dropconnect-all", "gaussian") in shown and ("dropconnect-all", "mean") in shown
    assert ("dropout", "mean") in shown and ("dropout", "gaussian") not in shown


@pytest.mark.mnist
def test_a_rerun_reproduces_the_csvs_byte_for_byte(quick, tmp_path):
    name = "td-mnist-mlp"
    written = reproduce(name, tmp_path / "figures", quick=True, runs=tmp_path / "runs", jobs=2)
    for path in written:
        if path.suffix in (".csv", ".md"):
            assert path.read_bytes() == (quick[0] / "figures" / path.name).read_bytes(), path.name


def test_the_readme_results_tables_are_the_committed_csvs():
    readme = (ROOT / "README.md").read_text()
    for name, columns in (("td-mnist-mlp", MLP_COLUMNS), ("td-fashion-mlp", MLP_COLUMNS),
                          ("td-mnist-lenet5", LENET5_COLUMNS)):
        rows = figures.read_results(ROOT / "figures" / f"{name}.csv")
        table = figures.sparsity_table(rows, columns)
        assert table in readme, f"README's {name} table differs from figures/{name}.csv"
        assert (ROOT / "figures" / f"{name}.md").read_text() == table


def test_the_readme_quotes_the_han_and_dropconnect_tables():
    readme = (ROOT / "README.md").read_text()
    for name in ("han-lenet", "dropconnect-vs-dropout"):
        assert (ROOT / "figures" / f"{name}.md").read_text() in readme, name


def test_every_committed_figure_comes_from_a_shipped_configuration():
    made = {f"{n}{suffix}" for n in CONFIGS for suffix in (".csv", ".png", ".md")}
    made |= {f"td-mnist-mlp-{part}" for part in ("weights.png", "units.png", "dependence.csv", "dependence.png")}
    committed = {p.name for p in (ROOT / "figures").iterdir() if p.suffix in (".png", ".csv", ".md")} - {"README.md"}
    assert committed <= made, committed - made
    assert {f"{n}.csv" for n in CONFIGS} <= committed
    for path in (ROOT / "figures").glob("*.md"):
        if path.name != "README.md":
            assert re.search(r"^\| ", path.read_text(), re.MULTILINE), path
